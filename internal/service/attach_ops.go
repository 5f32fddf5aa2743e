package service

import (
	"context"
	"strconv"

	"opencen/internal/apierr"
	"opencen/internal/model"
)

// VpnAttachmentFilter selects attachments; invalid combinations simply match nothing.
type VpnAttachmentFilter struct {
	Region, CenID, TransitRouterID, ID string
	Tags                               []model.Tag
}

// ListTransitRouterVpnAttachments lists the caller's VPN attachments.
func (s *Service) ListTransitRouterVpnAttachments(ctx context.Context, c Caller, f VpnAttachmentFilter) ([]*model.VpnAttachment, error) {
	all, err := listKind[model.VpnAttachment](ctx, s, model.KindVpnAttachment)
	if err != nil {
		return nil, err
	}
	sortByCreated(all)
	out := all[:0]
	for _, a := range all {
		if a.Owner != c.AccountID || (f.Region != "" && a.Region != f.Region) || (f.CenID != "" && a.CenID != f.CenID) ||
			(f.TransitRouterID != "" && a.TransitRouterID != f.TransitRouterID) || (f.ID != "" && a.ID != f.ID) || !model.MatchTags(a.Tags, f.Tags) {
			continue
		}
		out = append(out, a)
	}
	return out, nil
}

// UpdateAttachmentInput is UpdateTransitRouterVpnAttachmentAttribute's and
// UpdateTransitRouterVpcAttachmentAttribute's request; nil fields stay.
type UpdateAttachmentInput struct {
	ID                      string
	Name, Description       *string
	AutoPublishRouteEnabled *bool
	OrderType               *string
	DryRun                  bool
}

func (in UpdateAttachmentInput) check() error {
	if err := model.CBNName.CheckOpt("TransitRouterAttachmentName", in.Name); err != nil {
		return err
	}
	if err := model.CBNDescription.CheckOpt("TransitRouterAttachmentDescription", in.Description); err != nil {
		return err
	}
	return checkOrderType(in.OrderType)
}

func checkOrderType(v *string) error {
	if v != nil && *v != model.OrderPayByCenOwner && *v != model.OrderPayByResourceOwner {
		return apierr.Invalid("OrderType", "OrderType must be PayByCenOwner or PayByResourceOwner; got %q.", *v)
	}
	return nil
}

// apply changes an Attached attachment's fields, given by pointers into it.
func (in UpdateAttachmentInput) apply(id, status string, name, description *string, autoPublish *bool, orderType *string) error {
	if status != model.AttachmentAttached {
		return apierr.New("IncorrectStatus.Status", "The attachment %s is %s; retry when it is Attached.", id, status)
	}
	if in.DryRun {
		return errDryRun
	}
	for _, f := range []struct{ dst, src *string }{{name, in.Name}, {description, in.Description}, {orderType, in.OrderType}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	if in.AutoPublishRouteEnabled != nil {
		*autoPublish = *in.AutoPublishRouteEnabled
	}
	return nil
}

func (s *Service) ownedAttachment(t *txn, c Caller, id string) (*model.VpnAttachment, error) {
	if id == "" {
		return nil, apierr.Missing("TransitRouterAttachmentId")
	}
	return getOwned[model.VpnAttachment](t, c, model.KindVpnAttachment, id, attachmentNotFound(id))
}

// UpdateTransitRouterVpnAttachmentAttribute changes an attachment's name, description,
// route publishing or payer.
func (s *Service) UpdateTransitRouterVpnAttachmentAttribute(ctx context.Context, c Caller, in UpdateAttachmentInput) error {
	if err := in.check(); err != nil {
		return err
	}
	return s.update(ctx, func(t *txn) error {
		a, err := s.ownedAttachment(t, c, in.ID)
		if err != nil {
			return err
		}
		if err := in.apply(a.ID, a.Status, &a.Name, &a.Description, &a.AutoPublishRouteEnabled, &a.OrderType); err != nil {
			return err
		}
		return t.put(resKey(model.KindVpnAttachment, a.ID), a)
	})
}

// DeleteTransitRouterVpnAttachment detaches: Detaching, then gone; the connection
// returns to init. Without force it is refused while the attachment is associated with or
// propagates to a route table (force removes those too).
func (s *Service) DeleteTransitRouterVpnAttachment(ctx context.Context, c Caller, id string, force, dryRun bool) error {
	return s.update(ctx, func(t *txn) error {
		a, err := s.ownedAttachment(t, c, id)
		if err != nil {
			return err
		}
		if err := beginDetach(t, a.ID, a.Status, force, dryRun); err != nil {
			return err
		}
		var vco model.VpnConnection
		if ok, err := t.get(resKey(model.KindVpnConnection, a.VpnID), &vco); err != nil {
			return err
		} else if ok {
			if vco.Status == model.VcoUpdating {
				// IncorrectStatus.Status is what Terraform retries on this delete.
				return apierr.New("IncorrectStatus.Status", "The IPsec-VPN connection %s of attachment %s is updating; retry when it is attached.", vco.ID, a.ID)
			}
			s.setStatus(&vco.Meta, model.VcoDetaching)
			if err := s.appendLog(t, vco.ID, "detaching from transit router "+a.TransitRouterID); err != nil {
				return err
			}
			if err := t.put(resKey(model.KindVpnConnection, vco.ID), vco); err != nil {
				return err
			}
		}
		s.setStatus(&a.Meta, model.AttachmentDetaching)
		return t.put(resKey(model.KindVpnAttachment, a.ID), a)
	})
}

// finishAttach completes Attaching -> Attached with the connection.
func (s *Service) finishAttach(t *txn, a *model.VpnAttachment) error {
	s.setStatus(&a.Meta, model.AttachmentAttached)
	if err := s.linkSystem(t, a.Meta, model.KindVpnAttachment, a.TransitRouterID, a.SystemLinks); err != nil {
		return err
	}
	var vco model.VpnConnection
	if ok, err := t.get(resKey(model.KindVpnConnection, a.VpnID), &vco); err != nil || !ok {
		return err
	}
	s.setStatus(&vco.Meta, model.VcoAttached)
	if err := s.appendLog(t, vco.ID, "attached to transit router "+a.TransitRouterID); err != nil {
		return err
	}
	return t.put(resKey(model.KindVpnConnection, vco.ID), vco)
}

// finishDetach completes Detaching -> gone: the connection returns to init.
func (s *Service) finishDetach(t *txn, a *model.VpnAttachment) error {
	if err := removeAttachmentLinks(t, a.ID); err != nil {
		return err
	}
	if err := deleteWhere[model.RouteEntry](t, model.KindRouteEntry, func(e *model.RouteEntry) bool { return e.NextHopID == a.ID }); err != nil {
		return err
	}
	var vco model.VpnConnection
	if ok, err := t.get(resKey(model.KindVpnConnection, a.VpnID), &vco); err != nil {
		return err
	} else if ok {
		releaseGatewayIP(t, &vco)
		s.setStatus(&vco.Meta, model.VcoInit)
		vco.AttachType = model.AttachNone
		vco.CenID, vco.TransitRouterID, vco.AttachmentID, vco.InternetIP, vco.ZoneNo = "", "", "", "", ""
		for i := range vco.Tunnels {
			vco.Tunnels[i].InternetIP, vco.Tunnels[i].ZoneNo = "", ""
		}
		vco.CrossAccount = false
		forgetObserved(t, &vco) // what was seen of a tunnel that no longer exists
		if err := s.appendLog(t, vco.ID, "detached from transit router "+a.TransitRouterID); err != nil {
			return err
		}
		if err := t.put(resKey(model.KindVpnConnection, vco.ID), vco); err != nil {
			return err
		}
	}
	return adjustTR(t, a.TransitRouterID, func(tr *model.TransitRouter) { tr.Attachments-- })
}

// Cross-account grants.

func grantKey(instanceID, cenID, cenOwner string) string {
	return resKey(model.KindGrant, instanceID+":"+cenID+":"+cenOwner)
}

// GrantInput is GrantInstanceToTransitRouter's and RevokeInstanceFromTransitRouter's request.
type GrantInput struct {
	CenID, CenOwnerID, InstanceID, InstanceType, RegionID, OrderType, ClientToken string
}

func (in GrantInput) check() error {
	for _, p := range []struct{ name, v string }{{"CenId", in.CenID}, {"CenOwnerId", in.CenOwnerID}, {"InstanceId", in.InstanceID}, {"InstanceType", in.InstanceType}} {
		if p.v == "" {
			return apierr.Missing(p.name)
		}
	}
	if _, err := strconv.ParseUint(in.CenOwnerID, 10, 64); err != nil {
		return apierr.Invalid("CenOwnerId", "CenOwnerId must be an account ID (digits); got %q.", in.CenOwnerID)
	}
	if in.InstanceType != "VPN" {
		return apierr.Invalid("InstanceType", "InstanceType %q cannot be granted here; OpenCEN grants VPN (IPsec-VPN connections).", in.InstanceType)
	}
	if in.OrderType != "" {
		return checkOrderType(&in.OrderType)
	}
	return nil
}

// GrantInstanceToTransitRouter lets another account's CEN attach the caller's connection.
func (s *Service) GrantInstanceToTransitRouter(ctx context.Context, c Caller, in GrantInput) error {
	if err := in.check(); err != nil {
		return err
	}
	if in.OrderType == "" {
		in.OrderType = "PayByCenOwner"
	}
	_, err := idempotent(ctx, s, c, "GrantInstanceToTransitRouter", in.ClientToken, func(t *txn) (string, error) {
		vco, err := s.ownedVco(t, c, in.RegionID, in.InstanceID)
		if err != nil {
			return "", err
		}
		if vco.TransitRouterID != "" {
			return "", apierr.New("IncorrectStatus.VpnConnection", "The IPsec-VPN connection %s is already attached to %s; a connection must be unattached to be granted.", vco.ID, vco.TransitRouterID)
		}
		if _, err := s.accountTxn(t, in.CenOwnerID); err != nil {
			return "", apierr.Invalid("CenOwnerId", "CenOwnerId %s is not an account here.", in.CenOwnerID)
		}
		g := model.Grant{Meta: s.newMeta(c, model.KindGrant, vco.Region, "", nil), CenID: in.CenID, CenOwner: in.CenOwnerID,
			InstanceID: vco.ID, InstanceType: "VPN", OrderType: in.OrderType}
		g.ID = in.InstanceID + ":" + in.CenID + ":" + in.CenOwnerID
		return g.ID, t.put(grantKey(vco.ID, in.CenID, in.CenOwnerID), g)
	})
	return err
}

// ModifyGrantInstanceToTransitRouter changes who pays for attaching a granted connection
// (the caller's grants of InstanceId to CenId, whoever owns the CEN).
func (s *Service) ModifyGrantInstanceToTransitRouter(ctx context.Context, c Caller, cenID, instanceID, orderType string) error {
	for _, p := range []struct{ name, v string }{{"CenId", cenID}, {"InstanceId", instanceID}, {"OrderType", orderType}} {
		if p.v == "" {
			return apierr.Missing(p.name)
		}
	}
	if err := checkOrderType(&orderType); err != nil {
		return err
	}
	return s.update(ctx, func(t *txn) error {
		grants, err := listTxn[model.Grant](t, model.KindGrant)
		if err != nil {
			return err
		}
		found := false
		for _, g := range grants {
			if g.Owner != c.AccountID || g.InstanceID != instanceID || g.CenID != cenID {
				continue
			}
			found = true
			g.OrderType = orderType
			if err := t.put(grantKey(g.InstanceID, g.CenID, g.CenOwner), g); err != nil {
				return err
			}
		}
		if !found {
			return apierr.New("InvalidGrantRule.NotFound", "Instance %s is not granted to CEN %s; grant it with GrantInstanceToTransitRouter first.", instanceID, cenID)
		}
		return nil
	})
}

func (s *Service) accountTxn(t *txn, id string) (Account, error) {
	var a Account
	ok, err := t.get(accountKey(id), &a)
	if err == nil && !ok {
		err = apierr.New("InvalidAccountId.NotFound", "Account %s does not exist.", id)
	}
	return a, err
}

// requireGrant checks that vpnOwner granted the connection to cenOwner's CEN.
func (s *Service) requireGrant(t *txn, vcoID, cenID, cenOwner, vpnOwner string) error {
	var g model.Grant
	ok, err := t.get(grantKey(vcoID, cenID, cenOwner), &g)
	if err != nil {
		return err
	}
	if !ok || g.Owner != vpnOwner {
		return apierr.New("Forbidden.InstanceNotGranted", "Account %s has not granted IPsec-VPN connection %s to CEN %s of account %s; its owner must call GrantInstanceToTransitRouter first.", vpnOwner, vcoID, cenID, cenOwner)
	}
	return nil
}

// RevokeInstanceFromTransitRouter withdraws a grant; refused while the attachment exists.
func (s *Service) RevokeInstanceFromTransitRouter(ctx context.Context, c Caller, in GrantInput) error {
	if err := in.check(); err != nil {
		return err
	}
	return s.update(ctx, func(t *txn) error {
		vco, err := s.ownedVco(t, c, in.RegionID, in.InstanceID)
		if err != nil {
			return err
		}
		key := grantKey(vco.ID, in.CenID, in.CenOwnerID)
		if _, ok, err := t.getRaw(key); err != nil {
			return err
		} else if !ok {
			return apierr.New("InvalidGrantRule.NotFound", "IPsec-VPN connection %s is not granted to CEN %s of account %s.", vco.ID, in.CenID, in.CenOwnerID)
		}
		if vco.CenID == in.CenID && vco.TransitRouterID != "" {
			return apierr.New("IncorrectStatus.VpnConnection", "The IPsec-VPN connection %s is attached to transit router %s of CEN %s; the CEN owner must delete the attachment before the grant can be revoked.", vco.ID, vco.TransitRouterID, in.CenID)
		}
		t.del(key)
		return nil
	})
}

// DescribeGrantRulesToResource lists the grants of one of the caller's connections.
func (s *Service) DescribeGrantRulesToResource(ctx context.Context, c Caller, productType, resourceID, region string) ([]*model.Grant, error) {
	if productType == "" {
		return nil, apierr.Missing("ProductType")
	}
	if productType != "VPN" {
		return nil, apierr.Invalid("ProductType", "ProductType %q is not served; use VPN.", productType)
	}
	var out []*model.Grant
	err := s.update(ctx, func(t *txn) error {
		vco, err := s.ownedVco(t, c, region, resourceID)
		if err != nil {
			if resourceID == "" {
				return apierr.Missing("ResourceId")
			}
			return err
		}
		all, err := listTxn[model.Grant](t, model.KindGrant)
		if err != nil {
			return err
		}
		out = nil
		for _, g := range all {
			if g.InstanceID == vco.ID && g.Owner == c.AccountID {
				out = append(out, g)
			}
		}
		return nil
	})
	sortByCreated(out)
	return out, err
}

// System routing policies.

// ensureSystemRouteMaps gives every route table of a transit router with VPN attachments
// the system policy: RegionOut, priority 5000, Deny routes between IPsec-VPN connections,
// VBRs and CCN instances. It cannot be modified or deleted.
func (s *Service) ensureSystemRouteMaps(t *txn, tr *model.TransitRouter) error {
	tables, err := listTxn[model.RouteTable](t, model.KindRouteTable)
	if err != nil {
		return err
	}
	maps, err := listTxn[model.RouteMap](t, model.KindRouteMap)
	if err != nil {
		return err
	}
	for _, rt := range tables {
		if rt.TransitRouterID != tr.ID {
			continue
		}
		has := false
		for _, m := range maps {
			has = has || (m.System && m.RouteTableID == rt.ID)
		}
		if has {
			continue
		}
		types := []string{"VPN", "VBR", "CCN"}
		m := model.RouteMap{Meta: s.newMeta(Caller{AccountID: tr.Owner}, model.KindRouteMap, tr.Region, model.StatusActive, nil),
			CenID: tr.CenID, TransitRouterID: tr.ID, RouteTableID: rt.ID, TransmitDirection: "RegionOut", Priority: 5000, MapResult: "Deny",
			System: true, Description: "System policy: routes are not exchanged between IPsec-VPN connections, VBRs and CCN instances.",
			RouteMapMatch: model.RouteMapMatch{SourceChildInstanceTypes: types, DestinationChildInstanceTypes: types}}
		if err := t.create(resKey(model.KindRouteMap, m.ID), m); err != nil {
			return err
		}
	}
	return nil
}

// RouteMapFilter selects routing policies of a CEN.
type RouteMapFilter struct {
	CenID, RegionID, ID, RouteTableID, Direction string
}

// DescribeCenRouteMaps lists a CEN's routing policies by priority.
func (s *Service) DescribeCenRouteMaps(ctx context.Context, c Caller, f RouteMapFilter) ([]*model.RouteMap, error) {
	if f.CenID == "" {
		return nil, apierr.Missing("CenId")
	}
	if f.Direction != "" && f.Direction != "RegionIn" && f.Direction != "RegionOut" {
		return nil, apierr.Invalid("TransmitDirection", "TransmitDirection must be RegionIn or RegionOut; got %q.", f.Direction)
	}
	err := s.update(ctx, func(t *txn) error {
		_, err := getOwned[model.CEN](t, c, model.KindCEN, f.CenID, cenNotFound(f.CenID))
		return err
	})
	if err != nil {
		return nil, err
	}
	all, err := listKind[model.RouteMap](ctx, s, model.KindRouteMap)
	if err != nil {
		return nil, err
	}
	sortByCreated(all)
	out := all[:0]
	for _, m := range all {
		if m.CenID != f.CenID || (f.RegionID != "" && m.Region != f.RegionID) || (f.ID != "" && m.ID != f.ID) ||
			(f.RouteTableID != "" && m.RouteTableID != f.RouteTableID) || (f.Direction != "" && m.TransmitDirection != f.Direction) {
			continue
		}
		out = append(out, m)
	}
	return out, nil
}
