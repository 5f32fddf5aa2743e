package service

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	"opencen/internal/apierr"
	"opencen/internal/model"
)

func vpcNotFound(id string) *apierr.Error {
	return apierr.New("InvalidVpcId.NotFound", "The VPC %s does not exist.", id)
}

// VPC CIDR blocks must be private ranges (as Alibaba's), /8 to /28.
var vpcRanges = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("192.168.0.0/16"),
}

func parseVpcCidr(param, v string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(v)
	if err != nil || !p.Addr().Is4() || p.Masked() != p {
		return netip.Prefix{}, apierr.Invalid(param, "%s must be an IPv4 CIDR block without host bits, such as 172.16.0.0/16; got %q.", param, v)
	}
	if p.Bits() < 8 || p.Bits() > 28 {
		return netip.Prefix{}, apierr.Invalid(param, "%s must have a mask from /8 to /28; got /%d.", param, p.Bits())
	}
	for _, r := range vpcRanges {
		if r.Contains(p.Addr()) && r.Bits() <= p.Bits() {
			return p, nil
		}
	}
	return netip.Prefix{}, apierr.Invalid(param, "%s must lie in 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16; got %s.", param, p)
}

// CreateVpc creates a VPC (Pending, then Available).
func (s *Service) CreateVpc(ctx context.Context, c Caller, region, cidr, name, description, token string, dryRun bool) (string, error) {
	if _, err := s.region("RegionId", region); err != nil {
		return "", err
	}
	if cidr == "" {
		cidr = "172.16.0.0/12"
	}
	p, err := parseVpcCidr("CidrBlock", cidr)
	if err != nil {
		return "", err
	}
	if err := model.VPCName.Check("VpcName", name); err != nil {
		return "", err
	}
	if err := model.CBNDescription.Check("Description", description); err != nil {
		return "", err
	}
	if dryRun {
		return "", errDryRun
	}
	return idempotent(ctx, s, c, "CreateVpc", token, func(t *txn) (string, error) {
		v := model.VPC{Meta: s.newMeta(c, model.KindVPC, region, model.StatusPending, nil), CidrBlock: p.String(), Name: name, Description: description}
		return v.ID, t.create(resKey(model.KindVPC, v.ID), v)
	})
}

// DescribeVpcs lists the caller's VPCs in a region.
func (s *Service) DescribeVpcs(ctx context.Context, c Caller, region, id, name string) ([]*model.VPC, error) {
	if _, err := s.region("RegionId", region); err != nil {
		return nil, err
	}
	all, err := listKind[model.VPC](ctx, s, model.KindVPC)
	if err != nil {
		return nil, err
	}
	sortByCreated(all)
	out := all[:0]
	for _, v := range all {
		if v.Owner == c.AccountID && v.Region == region && (id == "" || v.ID == id) && (name == "" || v.Name == name) {
			out = append(out, v)
		}
	}
	return out, nil
}

// DeleteVpc deletes a VPC without vSwitches or attachment.
func (s *Service) DeleteVpc(ctx context.Context, c Caller, region, id string) error {
	if id == "" {
		return apierr.Missing("VpcId")
	}
	return s.update(ctx, func(t *txn) error {
		v, err := getOwned[model.VPC](t, c, model.KindVPC, id, vpcNotFound(id))
		if err != nil || (region != "" && v.Region != region) {
			return firstErr(err, vpcNotFound(id))
		}
		if v.Status != model.StatusAvailable {
			return apierr.New("IncorrectVpcStatus", "The VPC %s is %s; retry when it is Available.", v.ID, v.Status)
		}
		if v.VSwitches > 0 {
			return apierr.New("DependencyViolation.VSwitch", "The VPC %s still has %d vSwitch(es); delete them first.", v.ID, v.VSwitches)
		}
		if v.Attached != "" {
			return apierr.New("DependencyViolation.TransitRouterAttachment", "The VPC %s is attached to a transit router (%s); delete the attachment first.", v.ID, v.Attached)
		}
		s.setStatus(&v.Meta, model.StatusDeleting)
		return t.put(resKey(model.KindVPC, v.ID), v)
	})
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// CreateVSwitch creates a zone subnet inside a VPC's CIDR, not overlapping its siblings.
func (s *Service) CreateVSwitch(ctx context.Context, c Caller, region, vpcID, zone, cidr, name, description, token string) (string, error) {
	r, err := s.region("RegionId", region)
	if err != nil {
		return "", err
	}
	if vpcID == "" {
		return "", apierr.Missing("VpcId")
	}
	if zone == "" {
		return "", apierr.Missing("ZoneId")
	}
	if !slices.Contains(r.Zones, zone) {
		return "", apierr.Invalid("ZoneId", "ZoneId %q is not a zone of %s; use one of %v.", zone, region, r.Zones)
	}
	if cidr == "" {
		return "", apierr.Missing("CidrBlock")
	}
	p, err := parseVpcCidr("CidrBlock", cidr)
	if err != nil {
		return "", err
	}
	if err := model.VPCName.Check("VSwitchName", name); err != nil {
		return "", err
	}
	return idempotent(ctx, s, c, "CreateVSwitch", token, func(t *txn) (string, error) {
		v, err := getOwned[model.VPC](t, c, model.KindVPC, vpcID, vpcNotFound(vpcID))
		if err != nil {
			return "", err
		}
		if v.Status != model.StatusAvailable {
			return "", apierr.New("IncorrectVpcStatus", "The VPC %s is %s; retry when it is Available.", v.ID, v.Status)
		}
		vp, err := netip.ParsePrefix(v.CidrBlock)
		if err != nil {
			return "", fmt.Errorf("VPC %s: stored CIDR block %q: %w", v.ID, v.CidrBlock, err)
		}
		if !vp.Contains(p.Addr()) || p.Bits() < vp.Bits() {
			return "", apierr.Invalid("CidrBlock", "The vSwitch CIDR block %s must lie inside the VPC's %s.", p, vp)
		}
		sws, err := listTxn[model.VSwitch](t, model.KindVSwitch)
		if err != nil {
			return "", err
		}
		for _, sw := range sws {
			swp, err := netip.ParsePrefix(sw.CidrBlock)
			if sw.VpcID == v.ID && (err != nil || swp.Overlaps(p)) { // a damaged record blocks its range
				return "", apierr.New("InvalidCidrBlock.Overlapped", "The CIDR block %s overlaps vSwitch %s (%s).", p, sw.ID, sw.CidrBlock)
			}
		}
		v.VSwitches++
		if err := t.put(resKey(model.KindVPC, v.ID), v); err != nil {
			return "", err
		}
		sw := model.VSwitch{Meta: s.newMeta(c, model.KindVSwitch, region, model.StatusPending, nil), VpcID: v.ID, ZoneID: zone, CidrBlock: p.String(), Name: name, Description: description}
		return sw.ID, t.create(resKey(model.KindVSwitch, sw.ID), sw)
	})
}

// DescribeVSwitches lists the caller's vSwitches.
func (s *Service) DescribeVSwitches(ctx context.Context, c Caller, region, vpcID, id, zone string) ([]*model.VSwitch, error) {
	if _, err := s.region("RegionId", region); err != nil {
		return nil, err
	}
	all, err := listKind[model.VSwitch](ctx, s, model.KindVSwitch)
	if err != nil {
		return nil, err
	}
	sortByCreated(all)
	out := all[:0]
	for _, sw := range all {
		if sw.Owner == c.AccountID && sw.Region == region && (vpcID == "" || sw.VpcID == vpcID) && (id == "" || sw.ID == id) && (zone == "" || sw.ZoneID == zone) {
			out = append(out, sw)
		}
	}
	return out, nil
}

// DeleteVSwitch deletes a vSwitch no VPC attachment uses.
func (s *Service) DeleteVSwitch(ctx context.Context, c Caller, region, id string) error {
	if id == "" {
		return apierr.Missing("VSwitchId")
	}
	return s.update(ctx, func(t *txn) error {
		sw, err := getOwned[model.VSwitch](t, c, model.KindVSwitch, id, apierr.New("InvalidVSwitchId.NotFound", "The vSwitch %s does not exist.", id))
		if err != nil {
			return err
		}
		if sw.Status != model.StatusAvailable {
			return apierr.New("IncorrectVSwitchStatus", "The vSwitch %s is %s; retry when it is Available.", sw.ID, sw.Status)
		}
		atts, err := listTxn[model.VpcAttachment](t, model.KindVpcAttachment)
		if err != nil {
			return err
		}
		for _, a := range atts {
			for _, z := range a.ZoneMappings {
				if z.VSwitchID == sw.ID {
					return apierr.New("DependencyViolation.TransitRouterAttachment", "The vSwitch %s is used by transit-router attachment %s.", sw.ID, a.ID)
				}
			}
		}
		s.setStatus(&sw.Meta, model.StatusDeleting)
		return t.put(resKey(model.KindVSwitch, sw.ID), sw)
	})
}

// CreateVpcAttachmentInput is CreateTransitRouterVpcAttachment's request.
type CreateVpcAttachmentInput struct {
	RegionID, TransitRouterID, CenID, VpcID, Name, Description string
	Zones                                                      []model.ZoneMapping
	SystemLinks                                                model.SystemLinks
	Tags                                                       []model.Tag
	ClientToken                                                string
	DryRun                                                     bool
}

// CreateTransitRouterVpcAttachment attaches a VPC through vSwitches in its zones.
func (s *Service) CreateTransitRouterVpcAttachment(ctx context.Context, c Caller, in CreateVpcAttachmentInput) (string, error) {
	if in.VpcID == "" {
		return "", apierr.Missing("VpcId")
	}
	if _, err := s.region("RegionId", in.RegionID); err != nil {
		return "", err
	}
	if len(in.Zones) == 0 {
		return "", apierr.Missing("ZoneMappings.1.VSwitchId")
	}
	if err := model.CBNName.Check("TransitRouterAttachmentName", in.Name); err != nil {
		return "", err
	}
	if err := model.CheckTags("Tag", in.Tags); err != nil {
		return "", err
	}
	return idempotent(ctx, s, c, "CreateTransitRouterVpcAttachment", in.ClientToken, func(t *txn) (string, error) {
		tr, err := s.findTR(t, c, in.TransitRouterID, in.CenID, in.RegionID)
		if err != nil {
			return "", err
		}
		vpc, err := getOwned[model.VPC](t, c, model.KindVPC, in.VpcID, vpcNotFound(in.VpcID))
		if err != nil {
			return "", err
		}
		if vpc.Region != tr.Region {
			return "", apierr.Invalid("VpcId", "The VPC %s is in %s, the transit router in %s.", vpc.ID, vpc.Region, tr.Region)
		}
		if vpc.Attached != "" {
			return "", apierr.New("OperationFailed.VpcAttached", "The VPC %s is already attached (%s).", vpc.ID, vpc.Attached)
		}
		if vpc.Status != model.StatusAvailable {
			return "", apierr.New("IncorrectVpcStatus", "The VPC %s is %s; retry when it is Available.", vpc.ID, vpc.Status)
		}
		for i, z := range in.Zones {
			sw, err := getOwned[model.VSwitch](t, c, model.KindVSwitch, z.VSwitchID, apierr.New("InvalidVSwitchId.NotFound", "The vSwitch %s does not exist.", z.VSwitchID))
			if err != nil {
				return "", err
			}
			if sw.VpcID != vpc.ID || (z.ZoneID != "" && sw.ZoneID != z.ZoneID) {
				return "", apierr.Invalid("ZoneMappings.VSwitchId", "ZoneMappings.%d: vSwitch %s is in VPC %s zone %s, not VPC %s zone %s.", i+1, sw.ID, sw.VpcID, sw.ZoneID, vpc.ID, z.ZoneID)
			}
			in.Zones[i].ZoneID = sw.ZoneID
		}
		if in.DryRun {
			return "", errDryRun
		}
		a := model.VpcAttachment{Meta: s.newMeta(c, model.KindVpcAttachment, tr.Region, model.AttachmentAttaching, in.Tags),
			TransitRouterID: tr.ID, CenID: tr.CenID, VpcID: vpc.ID, VpcOwner: c.AccountID, Name: in.Name, Description: in.Description, ZoneMappings: in.Zones,
			SystemLinks: in.SystemLinks}
		vpc.Attached = a.ID
		tr.Attachments++
		if err := t.put(resKey(model.KindVPC, vpc.ID), vpc); err != nil {
			return "", err
		}
		if err := t.put(resKey(model.KindTR, tr.ID), tr); err != nil {
			return "", err
		}
		return a.ID, t.create(resKey(model.KindVpcAttachment, a.ID), a)
	})
}

// ListTransitRouterVpcAttachments lists the caller's VPC attachments.
func (s *Service) ListTransitRouterVpcAttachments(ctx context.Context, c Caller, region, cenID, trID, id, vpcID string) ([]*model.VpcAttachment, error) {
	all, err := listKind[model.VpcAttachment](ctx, s, model.KindVpcAttachment)
	if err != nil {
		return nil, err
	}
	sortByCreated(all)
	out := all[:0]
	for _, a := range all {
		if a.Owner == c.AccountID && (region == "" || a.Region == region) && (cenID == "" || a.CenID == cenID) &&
			(trID == "" || a.TransitRouterID == trID) && (id == "" || a.ID == id) && (vpcID == "" || a.VpcID == vpcID) {
			out = append(out, a)
		}
	}
	return out, nil
}

// DeleteTransitRouterVpcAttachment detaches a VPC (force also removes its association and propagations).
func (s *Service) DeleteTransitRouterVpcAttachment(ctx context.Context, c Caller, id string, force, dryRun bool) error {
	return s.update(ctx, func(t *txn) error {
		a, err := getOwned[model.VpcAttachment](t, c, model.KindVpcAttachment, id, attachmentNotFound(id))
		if err != nil {
			return err
		}
		if err := beginDetach(t, a.ID, a.Status, force, dryRun); err != nil {
			return err
		}
		s.setStatus(&a.Meta, model.AttachmentDetaching)
		return t.put(resKey(model.KindVpcAttachment, a.ID), a)
	})
}

// beginDetach is what deleting any attachment checks first: it must be Attached, and
// without force neither associated nor propagating (force removes those links).
func beginDetach(t *txn, attID, status string, force, dryRun bool) error {
	if status != model.AttachmentAttached {
		return apierr.New("IncorrectStatus.Status", "The attachment %s is %s; retry when it is Attached.", attID, status)
	}
	if !force {
		linked, err := attachmentLinks(t, attID)
		if err != nil {
			return err
		}
		if linked {
			return apierr.New("IncorrectStatus.AttachmentInUse", "The attachment %s is associated with or propagates to route tables; remove those first or delete with Force=true.", attID)
		}
	}
	if dryRun {
		return errDryRun
	}
	if force {
		return removeAttachmentLinks(t, attID)
	}
	return nil
}

func (s *Service) finishVpcDetach(t *txn, a *model.VpcAttachment) error {
	if err := removeAttachmentLinks(t, a.ID); err != nil {
		return err
	}
	if err := deleteWhere[model.RouteEntry](t, model.KindRouteEntry, func(e *model.RouteEntry) bool { return e.NextHopID == a.ID }); err != nil {
		return err
	}
	var vpc model.VPC
	if ok, err := t.get(resKey(model.KindVPC, a.VpcID), &vpc); err != nil {
		return err
	} else if ok {
		vpc.Attached = ""
		if err := t.put(resKey(model.KindVPC, vpc.ID), vpc); err != nil {
			return err
		}
	}
	return adjustTR(t, a.TransitRouterID, func(tr *model.TransitRouter) { tr.Attachments-- })
}
