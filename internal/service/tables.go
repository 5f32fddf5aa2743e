package service

import (
	"context"
	"encoding/json"
	"net/netip"
	"slices"

	"opencen/internal/apierr"
	"opencen/internal/model"
)

func tableNotFound(id string) *apierr.Error {
	return apierr.New("InvalidTransitRouterRouteTableId.NotFound", "The route table %s does not exist.", id)
}

// AttachmentRef is what routing needs to know of any attachment (VPN or VPC).
type AttachmentRef struct {
	ID, Kind, Type, ResourceID, TransitRouterID, Status, Owner string
}

// attachmentRef reads a VPN or VPC attachment of the caller.
func (s *Service) attachmentRef(t *txn, c Caller, id string) (AttachmentRef, error) {
	if id == "" {
		return AttachmentRef{}, apierr.Missing("TransitRouterAttachmentId")
	}
	var vpn model.VpnAttachment
	if ok, err := t.get(resKey(model.KindVpnAttachment, id), &vpn); err != nil {
		return AttachmentRef{}, err
	} else if ok && vpn.Owner == c.AccountID {
		return AttachmentRef{ID: id, Kind: model.KindVpnAttachment, Type: "VPN", ResourceID: vpn.VpnID, TransitRouterID: vpn.TransitRouterID, Status: vpn.Status, Owner: vpn.Owner}, nil
	}
	var vpc model.VpcAttachment
	if ok, err := t.get(resKey(model.KindVpcAttachment, id), &vpc); err != nil {
		return AttachmentRef{}, err
	} else if ok && vpc.Owner == c.AccountID {
		return AttachmentRef{ID: id, Kind: model.KindVpcAttachment, Type: "VPC", ResourceID: vpc.VpcID, TransitRouterID: vpc.TransitRouterID, Status: vpc.Status, Owner: vpc.Owner}, nil
	}
	return AttachmentRef{}, attachmentNotFound(id)
}

func (s *Service) ownedTable(t *txn, c Caller, id string) (*model.RouteTable, error) {
	if id == "" {
		return nil, apierr.Missing("TransitRouterRouteTableId")
	}
	return getOwned[model.RouteTable](t, c, model.KindRouteTable, id, tableNotFound(id))
}

// CreateRouteTableInput is CreateTransitRouterRouteTable's request.
type CreateRouteTableInput struct {
	TransitRouterID, Name, Description, MultiRegionECMP string
	Tags                                                []model.Tag
	ClientToken                                         string
	DryRun                                              bool
}

// CreateTransitRouterRouteTable adds a custom route table.
func (s *Service) CreateTransitRouterRouteTable(ctx context.Context, c Caller, in CreateRouteTableInput) (string, error) {
	if in.TransitRouterID == "" {
		return "", apierr.Missing("TransitRouterId")
	}
	if err := model.CBNName.Check("TransitRouterRouteTableName", in.Name); err != nil {
		return "", err
	}
	if err := model.CBNDescription.Check("TransitRouterRouteTableDescription", in.Description); err != nil {
		return "", err
	}
	if in.MultiRegionECMP == "" {
		in.MultiRegionECMP = "disable"
	}
	if in.MultiRegionECMP != "disable" && in.MultiRegionECMP != "enable" {
		return "", apierr.Invalid("RouteTableOptions.MultiRegionECMP", "RouteTableOptions.MultiRegionECMP must be enable or disable; got %q.", in.MultiRegionECMP)
	}
	if err := model.CheckTags("Tag", in.Tags); err != nil {
		return "", err
	}
	return idempotent(ctx, s, c, "CreateTransitRouterRouteTable", in.ClientToken, func(t *txn) (string, error) {
		tr, _, err := s.activeTR(t, c, in.TransitRouterID, "")
		if err != nil {
			return "", err
		}
		if in.DryRun {
			return "", errDryRun
		}
		rt := model.RouteTable{Meta: s.newMeta(c, model.KindRouteTable, tr.Region, model.StatusCreating, in.Tags),
			TransitRouterID: tr.ID, Name: in.Name, Description: in.Description, Type: "Custom", MultiRegionECMP: in.MultiRegionECMP}
		tr.CustomTables++
		if err := t.put(resKey(model.KindTR, tr.ID), tr); err != nil {
			return "", err
		}
		if tr.Attachments > 0 {
			if n, err := s.countVpnAttachments(t, tr.ID); err != nil {
				return "", err
			} else if n > 0 {
				if err := s.addSystemRouteMap(t, tr, rt.ID); err != nil {
					return "", err
				}
			}
		}
		return rt.ID, t.create(resKey(model.KindRouteTable, rt.ID), rt)
	})
}

// TableFilter selects route tables of a transit router.
type TableFilter struct {
	TransitRouterID, Type, Status, MultiRegionECMP string
	IDs, Names                                     []string
	Tags                                           []model.Tag
}

// ListTransitRouterRouteTables lists a transit router's route tables (System first).
func (s *Service) ListTransitRouterRouteTables(ctx context.Context, c Caller, f TableFilter) ([]*model.RouteTable, error) {
	all, err := listKind[model.RouteTable](ctx, s, model.KindRouteTable)
	if err != nil {
		return nil, err
	}
	sortByCreated(all)
	out := all[:0]
	for _, rt := range all {
		if rt.Owner != c.AccountID || (f.TransitRouterID != "" && rt.TransitRouterID != f.TransitRouterID) ||
			(len(f.IDs) > 0 && !slices.Contains(f.IDs, rt.ID)) || (len(f.Names) > 0 && !slices.Contains(f.Names, rt.Name)) ||
			(f.Type != "" && rt.Type != f.Type) || (f.Status != "" && rt.Status != f.Status) ||
			(f.MultiRegionECMP != "" && rt.MultiRegionECMP != f.MultiRegionECMP) || !model.MatchTags(rt.Tags, f.Tags) {
			continue
		}
		out = append(out, rt)
	}
	return out, nil
}

// UpdateRouteTableInput is UpdateTransitRouterRouteTable's request.
type UpdateRouteTableInput struct {
	ID                                 string
	Name, Description, MultiRegionECMP *string
	DryRun                             bool
}

// UpdateTransitRouterRouteTable renames or re-describes a table.
func (s *Service) UpdateTransitRouterRouteTable(ctx context.Context, c Caller, in UpdateRouteTableInput) error {
	if err := model.CBNName.CheckOpt("TransitRouterRouteTableName", in.Name); err != nil {
		return err
	}
	if err := model.CBNDescription.CheckOpt("TransitRouterRouteTableDescription", in.Description); err != nil {
		return err
	}
	if in.MultiRegionECMP != nil && *in.MultiRegionECMP != "disable" && *in.MultiRegionECMP != "enable" {
		return apierr.Invalid("RouteTableOptions.MultiRegionECMP", "RouteTableOptions.MultiRegionECMP must be enable or disable; got %q.", *in.MultiRegionECMP)
	}
	return s.update(ctx, func(t *txn) error {
		rt, err := s.ownedTable(t, c, in.ID)
		if err != nil {
			return err
		}
		if rt.Status != model.StatusActive {
			return apierr.New("IncorrectStatus.TransitRouterRouteTable", "The route table %s is %s; retry when it is Active.", rt.ID, rt.Status)
		}
		if in.DryRun {
			return errDryRun
		}
		if in.Name != nil {
			rt.Name = *in.Name
		}
		if in.Description != nil {
			rt.Description = *in.Description
		}
		if in.MultiRegionECMP != nil {
			rt.MultiRegionECMP = *in.MultiRegionECMP
		}
		return t.put(resKey(model.KindRouteTable, rt.ID), rt)
	})
}

// DeleteTransitRouterRouteTable deletes a custom table that nothing uses.
func (s *Service) DeleteTransitRouterRouteTable(ctx context.Context, c Caller, id string, dryRun bool) error {
	return s.update(ctx, func(t *txn) error {
		rt, err := s.ownedTable(t, c, id)
		if err != nil {
			return err
		}
		if rt.Type == "System" {
			return apierr.New("OperationUnsupported.SystemRouteTable", "The route table %s is the transit router's System table; it cannot be deleted.", rt.ID)
		}
		if rt.Status != model.StatusActive {
			return apierr.New("IncorrectStatus.TransitRouterRouteTable", "The route table %s is %s; retry when it is Active.", rt.ID, rt.Status)
		}
		for _, dep := range []struct {
			kind, code, what string
			uses             func(json.RawMessage) bool
		}{
			{model.KindAssociation, "DependencyViolation.Association", "associated attachments", tableField(rt.ID)},
			{model.KindPropagation, "DependencyViolation.Propagation", "propagating attachments", tableField(rt.ID)},
			{model.KindRouteEntry, "DependencyViolation.RouteEntry", "static route entries", tableField(rt.ID)},
		} {
			kvs, err := t.list(resPrefix + dep.kind + "/")
			if err != nil {
				return err
			}
			for _, kv := range kvs {
				if dep.uses(kv.Value) {
					return apierr.New(dep.code, "The route table %s still has %s; remove them first.", rt.ID, dep.what)
				}
			}
		}
		if dryRun {
			return errDryRun
		}
		s.setStatus(&rt.Meta, model.StatusDeleting)
		return t.put(resKey(model.KindRouteTable, rt.ID), rt)
	})
}

func tableField(id string) func(json.RawMessage) bool {
	return func(raw json.RawMessage) bool {
		var v struct {
			TableID string `json:"tableId"`
		}
		return json.Unmarshal(raw, &v) == nil && v.TableID == id
	}
}

// addSystemRouteMap gives one table the system VPN policy.
func (s *Service) addSystemRouteMap(t *txn, tr *model.TransitRouter, tableID string) error {
	types := []string{"VPN", "VBR", "CCN"}
	m := model.RouteMap{Meta: s.newMeta(Caller{AccountID: tr.Owner}, model.KindRouteMap, tr.Region, model.StatusActive, nil),
		CenID: tr.CenID, TransitRouterID: tr.ID, RouteTableID: tableID, TransmitDirection: "RegionOut", Priority: 5000, MapResult: "Deny",
		System: true, Description: "System policy: routes are not exchanged between IPsec-VPN connections, VBRs and CCN instances.",
		RouteMapMatch: model.RouteMapMatch{SourceChildInstanceTypes: types, DestinationChildInstanceTypes: types}}
	return t.create(resKey(model.KindRouteMap, m.ID), m)
}

// Associations and propagations.

// AssociationInput names an attachment and a table.
type AssociationInput struct {
	AttachmentID, TableID string
	DryRun                bool
}

// sameRouter checks that an attachment and a table belong to one transit router and are usable.
func (s *Service) sameRouter(t *txn, c Caller, in AssociationInput) (AttachmentRef, *model.RouteTable, error) {
	att, err := s.attachmentRef(t, c, in.AttachmentID)
	if err != nil {
		return att, nil, err
	}
	rt, err := s.ownedTable(t, c, in.TableID)
	if err != nil {
		return att, nil, err
	}
	if att.TransitRouterID != rt.TransitRouterID {
		return att, nil, apierr.Invalid("TransitRouterRouteTableId", "The route table %s belongs to transit router %s, the attachment %s to %s; they must belong to the same one.", rt.ID, rt.TransitRouterID, att.ID, att.TransitRouterID)
	}
	if att.Status != model.AttachmentAttached {
		return att, nil, apierr.New("IncorrectStatus.Status", "The attachment %s is %s; retry when it is Attached.", att.ID, att.Status)
	}
	if rt.Status != model.StatusActive {
		return att, nil, apierr.New("IncorrectStatus.TransitRouterRouteTable", "The route table %s is %s; retry when it is Active.", rt.ID, rt.Status)
	}
	return att, rt, nil
}

// AssociateTransitRouterAttachmentWithRouteTable: an attachment associates with one table.
func (s *Service) AssociateTransitRouterAttachmentWithRouteTable(ctx context.Context, c Caller, in AssociationInput) error {
	return s.update(ctx, func(t *txn) error {
		att, rt, err := s.sameRouter(t, c, in)
		if err != nil {
			return err
		}
		var cur model.Association
		if ok, err := t.get(resKey(model.KindAssociation, att.ID), &cur); err != nil {
			return err
		} else if ok {
			return apierr.New("AssociationExist.TransitRouterTable", "The attachment %s is already associated with route table %s; use ReplaceTransitRouterRouteTableAssociation to move it.", att.ID, cur.TableID)
		}
		if in.DryRun {
			return errDryRun
		}
		return s.associate(t, c, att.ID, rt)
	})
}

// ReplaceTransitRouterRouteTableAssociation moves an attachment's association to another table.
func (s *Service) ReplaceTransitRouterRouteTableAssociation(ctx context.Context, c Caller, in AssociationInput) error {
	return s.update(ctx, func(t *txn) error {
		att, rt, err := s.sameRouter(t, c, in)
		if err != nil {
			return err
		}
		var a model.Association
		if ok, err := t.get(resKey(model.KindAssociation, att.ID), &a); err != nil {
			return err
		} else if !ok {
			return apierr.New("InvalidAssociation.NotFound", "The attachment %s is not associated with a route table; use AssociateTransitRouterAttachmentWithRouteTable.", att.ID)
		}
		if a.Status != model.StatusActive {
			return apierr.New("IncorrectStatus.Status", "The association of %s is %s; retry when it is Active.", att.ID, a.Status)
		}
		if in.DryRun {
			return errDryRun
		}
		a.TableID = rt.ID
		s.setStatus(&a.Meta, model.StatusAssociating)
		return t.put(resKey(model.KindAssociation, att.ID), a)
	})
}

// DissociateTransitRouterAttachmentFromRouteTable removes an association.
func (s *Service) DissociateTransitRouterAttachmentFromRouteTable(ctx context.Context, c Caller, in AssociationInput) error {
	return s.update(ctx, func(t *txn) error {
		att, err := s.attachmentRef(t, c, in.AttachmentID)
		if err != nil {
			return err
		}
		if _, err := s.ownedTable(t, c, in.TableID); err != nil {
			return err
		}
		var a model.Association
		if ok, err := t.get(resKey(model.KindAssociation, att.ID), &a); err != nil {
			return err
		} else if !ok || a.TableID != in.TableID {
			return apierr.New("InvalidAssociation.NotFound", "The attachment %s is not associated with route table %s.", att.ID, in.TableID)
		}
		if a.Status != model.StatusActive {
			return apierr.New("IncorrectStatus.Status", "The association of %s is %s; retry when it is Active.", att.ID, a.Status)
		}
		if in.DryRun {
			return errDryRun
		}
		s.setStatus(&a.Meta, model.StatusDissociating)
		return t.put(resKey(model.KindAssociation, att.ID), a)
	})
}

func propKey(att, table string) string { return resKey(model.KindPropagation, att+":"+table) }

// EnableTransitRouterRouteTablePropagation makes a table learn an attachment's routes.
func (s *Service) EnableTransitRouterRouteTablePropagation(ctx context.Context, c Caller, in AssociationInput) error {
	return s.update(ctx, func(t *txn) error {
		att, rt, err := s.sameRouter(t, c, in)
		if err != nil {
			return err
		}
		if _, ok, err := t.getRaw(propKey(att.ID, rt.ID)); err != nil {
			return err
		} else if ok {
			return apierr.New("PropagationExist.TransitRouterTable", "The attachment %s already propagates to route table %s.", att.ID, rt.ID)
		}
		if in.DryRun {
			return errDryRun
		}
		return s.propagate(t, c, att.ID, rt)
	})
}

// associate creates the association of attachment att with table rt (Associating).
func (s *Service) associate(t *txn, c Caller, att string, rt *model.RouteTable) error {
	a := model.Association{Meta: s.newMeta(c, model.KindAssociation, rt.Region, model.StatusAssociating, nil), AttachmentID: att, TableID: rt.ID, TransitRouterID: rt.TransitRouterID}
	a.ID = att
	return t.create(resKey(model.KindAssociation, att), a)
}

// propagate creates the propagation of attachment att into table rt (Enabling).
func (s *Service) propagate(t *txn, c Caller, att string, rt *model.RouteTable) error {
	p := model.Propagation{Meta: s.newMeta(c, model.KindPropagation, rt.Region, model.StatusEnabling, nil), AttachmentID: att, TableID: rt.ID, TransitRouterID: rt.TransitRouterID}
	p.ID = att + ":" + rt.ID
	return t.create(propKey(att, rt.ID), p)
}

// linkSystem associates an attachment that has just become Attached with its transit
// router's System route table, and propagates it there, as its creation asked. It runs in
// the transaction that completes the attachment, so no restart can leave it undone.
func (s *Service) linkSystem(t *txn, att model.Meta, trID string, l model.SystemLinks) error {
	if !l.AssociateSystem && !l.PropagateSystem {
		return nil
	}
	var tr model.TransitRouter
	if ok, err := t.get(resKey(model.KindTR, trID), &tr); err != nil || !ok {
		return err
	}
	var rt model.RouteTable
	if ok, err := t.get(resKey(model.KindRouteTable, tr.SystemTableID), &rt); err != nil || !ok {
		return err
	}
	c := Caller{AccountID: att.Owner}
	if l.AssociateSystem {
		if err := s.associate(t, c, att.ID, &rt); err != nil {
			return err
		}
	}
	if l.PropagateSystem {
		return s.propagate(t, c, att.ID, &rt)
	}
	return nil
}

// DisableTransitRouterRouteTablePropagation stops a table learning an attachment's routes.
func (s *Service) DisableTransitRouterRouteTablePropagation(ctx context.Context, c Caller, in AssociationInput) error {
	return s.update(ctx, func(t *txn) error {
		att, err := s.attachmentRef(t, c, in.AttachmentID)
		if err != nil {
			return err
		}
		if _, err := s.ownedTable(t, c, in.TableID); err != nil {
			return err
		}
		var p model.Propagation
		if ok, err := t.get(propKey(att.ID, in.TableID), &p); err != nil {
			return err
		} else if !ok {
			return apierr.New("InvalidPropagation.NotFound", "The attachment %s does not propagate to route table %s.", att.ID, in.TableID)
		}
		if p.Status != model.StatusActive {
			return apierr.New("IncorrectStatus.Status", "The propagation of %s to %s is %s; retry when it is Active.", att.ID, in.TableID, p.Status)
		}
		if in.DryRun {
			return errDryRun
		}
		s.setStatus(&p.Meta, model.StatusDisabling)
		return t.put(propKey(att.ID, in.TableID), p)
	})
}

// LinkFilter selects associations or propagations.
type LinkFilter struct {
	TableID, AttachmentID, ResourceID, ResourceType, Status string
}

// Link is an association or propagation with its attachment resolved.
type Link struct {
	AttachmentID, TableID, ResourceID, ResourceType, Status string
}

// ListLinks lists associations (kind assoc) or propagations (kind prop).
func (s *Service) ListLinks(ctx context.Context, c Caller, kind string, f LinkFilter) ([]Link, error) {
	var out []Link
	err := s.update(ctx, func(t *txn) error {
		if f.TableID != "" {
			if _, err := s.ownedTable(t, c, f.TableID); err != nil {
				return err
			}
		}
		kvs, err := t.list(resPrefix + kind + "/")
		if err != nil {
			return err
		}
		out = nil
		for _, kv := range kvs {
			var l struct {
				model.Meta
				AttachmentID string `json:"attachmentId"`
				TableID      string `json:"tableId"`
			}
			if err := json.Unmarshal(kv.Value, &l); err != nil {
				return err
			}
			if l.Owner != c.AccountID || (f.TableID != "" && l.TableID != f.TableID) || (f.AttachmentID != "" && l.AttachmentID != f.AttachmentID) ||
				(f.Status != "" && l.Status != f.Status) {
				continue
			}
			att, err := s.attachmentRef(t, c, l.AttachmentID)
			if err != nil {
				continue // the attachment is going away with it
			}
			if (f.ResourceID != "" && att.ResourceID != f.ResourceID) || (f.ResourceType != "" && att.Type != f.ResourceType) {
				continue
			}
			out = append(out, Link{AttachmentID: l.AttachmentID, TableID: l.TableID, ResourceID: att.ResourceID, ResourceType: att.Type, Status: l.Status})
		}
		return nil
	})
	return out, err
}

// removeAttachmentLinks deletes an attachment's association and propagations.
func removeAttachmentLinks(t *txn, attID string) error {
	t.del(resKey(model.KindAssociation, attID))
	return deleteWhere[model.Propagation](t, model.KindPropagation, func(p *model.Propagation) bool { return p.AttachmentID == attID })
}

// attachmentLinks reports whether an attachment has an association or propagations.
func attachmentLinks(t *txn, attID string) (bool, error) {
	if _, ok, err := t.getRaw(resKey(model.KindAssociation, attID)); err != nil || ok {
		return ok, err
	}
	props, err := listTxn[model.Propagation](t, model.KindPropagation)
	if err != nil {
		return false, err
	}
	for _, p := range props {
		if p.AttachmentID == attID {
			return true, nil
		}
	}
	return false, nil
}

// Static route entries.

// CreateRouteEntryInput is CreateTransitRouterRouteEntry's request.
type CreateRouteEntryInput struct {
	TableID, Destination, NextHopType, NextHopID, Name, Description, ClientToken string
	DryRun                                                                       bool
}

// CreateTransitRouterRouteEntry adds a static entry (next hop an attachment, or blackhole).
func (s *Service) CreateTransitRouterRouteEntry(ctx context.Context, c Caller, in CreateRouteEntryInput) (string, error) {
	if in.TableID == "" {
		return "", apierr.Missing("TransitRouterRouteTableId")
	}
	if in.Destination == "" {
		return "", apierr.Missing("TransitRouterRouteEntryDestinationCidrBlock")
	}
	p, err := netip.ParsePrefix(in.Destination)
	if err != nil || p.Masked() != p {
		return "", apierr.Invalid("TransitRouterRouteEntryDestinationCidrBlock", "TransitRouterRouteEntryDestinationCidrBlock must be a CIDR block such as 10.0.0.0/16 (no host bits); got %q.", in.Destination)
	}
	switch in.NextHopType {
	case "":
		return "", apierr.Missing("TransitRouterRouteEntryNextHopType")
	case "BlackHole":
		if in.NextHopID != "" {
			return "", apierr.Invalid("TransitRouterRouteEntryNextHopId", "A BlackHole entry has no next hop; leave TransitRouterRouteEntryNextHopId empty.")
		}
	case "Attachment":
		if in.NextHopID == "" {
			return "", apierr.Missing("TransitRouterRouteEntryNextHopId")
		}
	default:
		return "", apierr.Invalid("TransitRouterRouteEntryNextHopType", "TransitRouterRouteEntryNextHopType must be Attachment or BlackHole; got %q.", in.NextHopType)
	}
	if err := model.CBNName.Check("TransitRouterRouteEntryName", in.Name); err != nil {
		return "", err
	}
	if err := model.CBNDescription.Check("TransitRouterRouteEntryDescription", in.Description); err != nil {
		return "", err
	}
	return idempotent(ctx, s, c, "CreateTransitRouterRouteEntry", in.ClientToken, func(t *txn) (string, error) {
		rt, err := s.ownedTable(t, c, in.TableID)
		if err != nil {
			return "", err
		}
		if rt.Status != model.StatusActive {
			return "", apierr.New("IncorrectStatus.TransitRouterRouteTable", "The route table %s is %s; retry when it is Active.", rt.ID, rt.Status)
		}
		if in.NextHopType == "Attachment" {
			att, err := s.attachmentRef(t, c, in.NextHopID)
			if err != nil {
				return "", err
			}
			if att.TransitRouterID != rt.TransitRouterID {
				return "", apierr.Invalid("TransitRouterRouteEntryNextHopId", "The next hop %s is attached to transit router %s, not to %s of route table %s.", att.ID, att.TransitRouterID, rt.TransitRouterID, rt.ID)
			}
		}
		entries, err := listTxn[model.RouteEntry](t, model.KindRouteEntry)
		if err != nil {
			return "", err
		}
		for _, e := range entries {
			if e.TableID == rt.ID && e.Destination == p.String() {
				return "", apierr.New("OperationFailed.CreateRouteEntryWithSameDestinationCidrBlock", "The route table %s already has static entry %s for %s.", rt.ID, e.ID, p)
			}
		}
		if in.DryRun {
			return "", errDryRun
		}
		// Rewriting the table serializes concurrent entries for one destination.
		if err := t.put(resKey(model.KindRouteTable, rt.ID), rt); err != nil {
			return "", err
		}
		e := model.RouteEntry{Meta: s.newMeta(c, model.KindRouteEntry, rt.Region, model.StatusCreating, nil), TableID: rt.ID, TransitRouterID: rt.TransitRouterID,
			Destination: p.String(), NextHopType: in.NextHopType, NextHopID: in.NextHopID, Name: in.Name, Description: in.Description}
		return e.ID, t.create(resKey(model.KindRouteEntry, e.ID), e)
	})
}

// DeleteRouteEntryInput names an entry by ID or by (table, destination, next hop).
type DeleteRouteEntryInput struct {
	ID, TableID, Destination, NextHopType, NextHopID string
	DryRun                                           bool
}

// DeleteTransitRouterRouteEntry deletes a static entry.
func (s *Service) DeleteTransitRouterRouteEntry(ctx context.Context, c Caller, in DeleteRouteEntryInput) error {
	if in.ID == "" && (in.TableID == "" || in.Destination == "" || in.NextHopType == "") {
		return apierr.Missing("TransitRouterRouteEntryId")
	}
	return s.update(ctx, func(t *txn) error {
		var target *model.RouteEntry
		entries, err := listTxn[model.RouteEntry](t, model.KindRouteEntry)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.Owner != c.AccountID {
				continue
			}
			if (in.ID != "" && e.ID == in.ID) ||
				(in.ID == "" && e.TableID == in.TableID && e.Destination == in.Destination && e.NextHopType == in.NextHopType && e.NextHopID == in.NextHopID) {
				target = e
			}
		}
		if target == nil {
			return routeEntryNotFound(firstNonEmpty(in.ID, in.Destination))
		}
		if target.Status != model.StatusActive {
			return apierr.New("IncorrectStatus.Status", "The route entry %s is %s; retry when it is Active.", target.ID, target.Status)
		}
		if in.DryRun {
			return errDryRun
		}
		s.setStatus(&target.Meta, model.StatusDeleting)
		return t.put(resKey(model.KindRouteEntry, target.ID), target)
	})
}

// UpdateRouteEntryInput is UpdateTransitRouterRouteEntry's request; nil fields stay.
type UpdateRouteEntryInput struct {
	ID                string
	Name, Description *string
	DryRun            bool
}

// UpdateTransitRouterRouteEntry renames or describes an Active static entry.
func (s *Service) UpdateTransitRouterRouteEntry(ctx context.Context, c Caller, in UpdateRouteEntryInput) error {
	if in.ID == "" {
		return apierr.Missing("TransitRouterRouteEntryId")
	}
	if err := model.CBNName.CheckOpt("TransitRouterRouteEntryName", in.Name); err != nil {
		return err
	}
	if err := model.CBNDescription.CheckOpt("TransitRouterRouteEntryDescription", in.Description); err != nil {
		return err
	}
	return s.update(ctx, func(t *txn) error {
		e, err := getOwned[model.RouteEntry](t, c, model.KindRouteEntry, in.ID, routeEntryNotFound(in.ID))
		if err != nil {
			return err
		}
		if e.Status != model.StatusActive {
			return apierr.New("IncorrectStatus.Status", "The route entry %s is %s; retry when it is Active.", e.ID, e.Status)
		}
		if in.DryRun {
			return errDryRun
		}
		if in.Name != nil {
			e.Name = *in.Name
		}
		if in.Description != nil {
			e.Description = *in.Description
		}
		return t.put(resKey(model.KindRouteEntry, e.ID), e)
	})
}

func routeEntryNotFound(id string) *apierr.Error {
	return apierr.New("InvalidTransitRouterRouteEntryId.NotFound", "No such static route entry: %s.", id)
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
