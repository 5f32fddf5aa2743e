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

// CreateVpcInput is CreateVpc's request.
type CreateVpcInput struct {
	RegionID, CidrBlock, Name, Description, ResourceGroupID, ClientToken string
	Tags                                                                 []model.Tag
	DryRun                                                               bool
}

// CreateVpc creates a VPC (Pending, then Available) with its vRouter and System route table.
func (s *Service) CreateVpc(ctx context.Context, c Caller, in CreateVpcInput) (*model.VPC, error) {
	if _, err := s.region("RegionId", in.RegionID); err != nil {
		return nil, err
	}
	if in.CidrBlock == "" {
		in.CidrBlock = "172.16.0.0/12"
	}
	p, err := parseVpcCidr("CidrBlock", in.CidrBlock)
	if err != nil {
		return nil, err
	}
	if err := checkNetworkText("VpcName", in.Name, in.Description); err != nil {
		return nil, err
	}
	if err := s.checkResourceGroup(c, in.ResourceGroupID); err != nil {
		return nil, err
	}
	if err := model.CheckTags("Tag", in.Tags); err != nil {
		return nil, err
	}
	if in.DryRun {
		return nil, errDryRun
	}
	return idempotent(ctx, s, c, "CreateVpc", in.ClientToken, func(t *txn) (*model.VPC, error) {
		v := model.VPC{Meta: s.newMeta(c, model.KindVPC, in.RegionID, model.StatusPending, in.Tags), CidrBlock: p.String(), Name: in.Name, Description: in.Description}
		v.VRouterID, v.RouteTableID = model.NewVPCRouter()
		return &v, t.create(resKey(model.KindVPC, v.ID), v)
	})
}

// checkNetworkText checks a VPC's or vSwitch's name (nameParam) and Description.
func checkNetworkText(nameParam, name, description string) error {
	if err := model.NetworkName.Check(nameParam, name); err != nil {
		return err
	}
	return model.NetworkDescription.Check("Description", description)
}

// VpcFilter selects VPCs (DescribeVpcs).
type VpcFilter struct {
	Region, ID, Name string
	Tags             []model.Tag
}

// DescribeVpcs lists the caller's VPCs in a region.
func (s *Service) DescribeVpcs(ctx context.Context, c Caller, f VpcFilter) ([]*model.VPC, error) {
	if _, err := s.region("RegionId", f.Region); err != nil {
		return nil, err
	}
	if err := model.CheckTags("Tag", f.Tags); err != nil {
		return nil, err
	}
	all, err := listKind[model.VPC](ctx, s, model.KindVPC)
	if err != nil {
		return nil, err
	}
	sortByCreated(all)
	out := all[:0]
	for _, v := range all {
		if v.Owner == c.AccountID && v.Region == f.Region && (f.ID == "" || v.ID == f.ID) && (f.Name == "" || v.Name == f.Name) && model.MatchTags(v.Tags, f.Tags) {
			out = append(out, v)
		}
	}
	return out, nil
}

// VpcView is a VPC with what DescribeVpcAttribute shows of its surroundings.
type VpcView struct {
	*model.VPC
	VSwitchIDs []string
	// Attachment is the transit-router attachment of the VPC, nil when it has none.
	Attachment *model.VpcAttachment
}

// DescribeVpcAttribute reads one VPC of the caller.
func (s *Service) DescribeVpcAttribute(ctx context.Context, c Caller, region, id string, dryRun bool) (VpcView, error) {
	if _, err := s.region("RegionId", region); err != nil {
		return VpcView{}, err
	}
	if id == "" {
		return VpcView{}, apierr.Missing("VpcId")
	}
	var view VpcView
	err := s.update(ctx, func(t *txn) error {
		v, err := getOwned[model.VPC](t, c, model.KindVPC, id, vpcNotFound(id))
		if err != nil || v.Region != region {
			return firstErr(err, vpcNotFound(id))
		}
		view = VpcView{VPC: v}
		sws, err := listTxn[model.VSwitch](t, model.KindVSwitch)
		if err != nil {
			return err
		}
		sortByCreated(sws)
		for _, sw := range sws {
			if sw.VpcID == v.ID {
				view.VSwitchIDs = append(view.VSwitchIDs, sw.ID)
			}
		}
		if v.Attached != "" {
			var a model.VpcAttachment
			if ok, err := t.get(resKey(model.KindVpcAttachment, v.Attached), &a); err != nil {
				return err
			} else if ok {
				view.Attachment = &a
			}
		}
		if dryRun {
			return errDryRun
		}
		return nil
	})
	return view, err
}

// ModifyVpcInput is ModifyVpcAttribute's request; nil fields stay.
type ModifyVpcInput struct {
	RegionID, ID                 string
	Name, Description, CidrBlock *string
}

// ModifyVpcAttribute renames a VPC, describes it, or changes its CIDR block to one that
// still holds every vSwitch.
func (s *Service) ModifyVpcAttribute(ctx context.Context, c Caller, in ModifyVpcInput) error {
	if _, err := s.region("RegionId", in.RegionID); err != nil {
		return err
	}
	if in.ID == "" {
		return apierr.Missing("VpcId")
	}
	if err := model.NetworkName.CheckOpt("VpcName", in.Name); err != nil {
		return err
	}
	if err := model.NetworkDescription.CheckOpt("Description", in.Description); err != nil {
		return err
	}
	var cidr netip.Prefix
	if in.CidrBlock != nil {
		var err error
		if cidr, err = parseVpcCidr("CidrBlock", *in.CidrBlock); err != nil {
			return err
		}
	}
	return s.update(ctx, func(t *txn) error {
		v, err := getOwned[model.VPC](t, c, model.KindVPC, in.ID, vpcNotFound(in.ID))
		if err != nil || v.Region != in.RegionID {
			return firstErr(err, vpcNotFound(in.ID))
		}
		if v.Status != model.StatusAvailable {
			return apierr.New("IncorrectVpcStatus", "The VPC %s is %s; retry when it is Available.", v.ID, v.Status)
		}
		if in.CidrBlock != nil {
			sws, err := listTxn[model.VSwitch](t, model.KindVSwitch)
			if err != nil {
				return err
			}
			for _, sw := range sws {
				swp, err := netip.ParsePrefix(sw.CidrBlock)
				if sw.VpcID == v.ID && (err != nil || swp.Bits() < cidr.Bits() || !cidr.Contains(swp.Addr())) {
					return apierr.Invalid("CidrBlock", "The CIDR block %s does not hold vSwitch %s (%s); a VPC's block must contain all its vSwitches.", cidr, sw.ID, sw.CidrBlock)
				}
			}
			v.CidrBlock = cidr.String()
		}
		if in.Name != nil {
			v.Name = *in.Name
		}
		if in.Description != nil {
			v.Description = *in.Description
		}
		return t.put(resKey(model.KindVPC, v.ID), v)
	})
}

// RouteTableFilter selects route tables (DescribeRouteTableList).
type RouteTableFilter struct {
	Region, VpcID, RouteTableID, RouterID, Type, Name, RouterType string
	Tags                                                          []model.Tag
}

// VpcRouteTable is a VPC's System route table, the only kind OpenCEN has.
type VpcRouteTable struct {
	*model.VPC
	ID, RouterID string
	VSwitchIDs   []string
}

// DescribeRouteTableList lists the System route tables of the caller's VPCs.
func (s *Service) DescribeRouteTableList(ctx context.Context, c Caller, f RouteTableFilter) ([]VpcRouteTable, error) {
	if err := oneOfOrEmpty("RouteTableType", f.Type, "System", "Custom"); err != nil {
		return nil, err
	}
	if err := oneOfOrEmpty("RouterType", f.RouterType, "VRouter", "VBR"); err != nil {
		return nil, err
	}
	vpcs, err := s.DescribeVpcs(ctx, c, VpcFilter{Region: f.Region, ID: f.VpcID})
	if err != nil {
		return nil, err
	}
	if err := model.CheckTags("Tag", f.Tags); err != nil {
		return nil, err
	}
	sws, err := listKind[model.VSwitch](ctx, s, model.KindVSwitch)
	if err != nil {
		return nil, err
	}
	sortByCreated(sws)
	var out []VpcRouteTable
	for _, v := range vpcs {
		router, table := v.Router()
		// A System table has no name or tags of its own; Custom and VBR tables do not exist here.
		if (f.RouteTableID != "" && f.RouteTableID != table) || (f.RouterID != "" && f.RouterID != router) || f.Type == "Custom" ||
			f.RouterType == "VBR" || f.Name != "" || len(f.Tags) > 0 {
			continue
		}
		rt := VpcRouteTable{VPC: v, ID: table, RouterID: router}
		for _, sw := range sws {
			if sw.VpcID == v.ID {
				rt.VSwitchIDs = append(rt.VSwitchIDs, sw.ID)
			}
		}
		out = append(out, rt)
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
		t.del(vpcBindingPrefix + v.ID) // the binding was this VPC's; the segment stays
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

// CreateVSwitchInput is CreateVSwitch's request.
type CreateVSwitchInput struct {
	RegionID, VpcID, ZoneID, CidrBlock, Name, Description, ClientToken string
	Tags                                                               []model.Tag
}

// CreateVSwitch creates a zone subnet inside a VPC's CIDR, not overlapping its siblings.
func (s *Service) CreateVSwitch(ctx context.Context, c Caller, in CreateVSwitchInput) (string, error) {
	r, err := s.region("RegionId", in.RegionID)
	if err != nil {
		return "", err
	}
	region, vpcID, zone := in.RegionID, in.VpcID, in.ZoneID
	if vpcID == "" {
		return "", apierr.Missing("VpcId")
	}
	if zone == "" {
		return "", apierr.Missing("ZoneId")
	}
	if !slices.Contains(r.Zones, zone) {
		return "", apierr.Invalid("ZoneId", "ZoneId %q is not a zone of %s; use one of %v.", zone, region, r.Zones)
	}
	if in.CidrBlock == "" {
		return "", apierr.Missing("CidrBlock")
	}
	p, err := parseVpcCidr("CidrBlock", in.CidrBlock)
	if err != nil {
		return "", err
	}
	if err := checkNetworkText("VSwitchName", in.Name, in.Description); err != nil {
		return "", err
	}
	if err := model.CheckTags("Tag", in.Tags); err != nil {
		return "", err
	}
	return idempotent(ctx, s, c, "CreateVSwitch", in.ClientToken, func(t *txn) (string, error) {
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
		sw := model.VSwitch{Meta: s.newMeta(c, model.KindVSwitch, region, model.StatusPending, in.Tags), VpcID: v.ID, ZoneID: zone, CidrBlock: p.String(), Name: in.Name, Description: in.Description}
		return sw.ID, t.create(resKey(model.KindVSwitch, sw.ID), sw)
	})
}

// VSwitchFilter selects vSwitches (DescribeVSwitches).
type VSwitchFilter struct {
	Region, VpcID, ID, Zone, Name, RouteTableID string
	Tags                                        []model.Tag
}

// VSwitchView is a vSwitch with its VPC's System route table (every vSwitch uses it).
type VSwitchView struct {
	*model.VSwitch
	RouteTableID string
}

// DescribeVSwitches lists the caller's vSwitches.
func (s *Service) DescribeVSwitches(ctx context.Context, c Caller, f VSwitchFilter) ([]VSwitchView, error) {
	if _, err := s.region("RegionId", f.Region); err != nil {
		return nil, err
	}
	if err := model.CheckTags("Tag", f.Tags); err != nil {
		return nil, err
	}
	all, err := listKind[model.VSwitch](ctx, s, model.KindVSwitch)
	if err != nil {
		return nil, err
	}
	vpcs, err := listKind[model.VPC](ctx, s, model.KindVPC)
	if err != nil {
		return nil, err
	}
	tables := map[string]string{}
	for _, v := range vpcs {
		_, tables[v.ID] = v.Router()
	}
	sortByCreated(all)
	var out []VSwitchView
	for _, sw := range all {
		if sw.Owner == c.AccountID && sw.Region == f.Region && (f.VpcID == "" || sw.VpcID == f.VpcID) && (f.ID == "" || sw.ID == f.ID) &&
			(f.Zone == "" || sw.ZoneID == f.Zone) && (f.Name == "" || sw.Name == f.Name) &&
			(f.RouteTableID == "" || tables[sw.VpcID] == f.RouteTableID) && model.MatchTags(sw.Tags, f.Tags) {
			out = append(out, VSwitchView{VSwitch: sw, RouteTableID: tables[sw.VpcID]})
		}
	}
	return out, nil
}

// DescribeVSwitchAttributes reads one vSwitch of the caller.
func (s *Service) DescribeVSwitchAttributes(ctx context.Context, c Caller, region, id string, dryRun bool) (VSwitchView, error) {
	if id == "" {
		return VSwitchView{}, apierr.Missing("VSwitchId")
	}
	all, err := s.DescribeVSwitches(ctx, c, VSwitchFilter{Region: region, ID: id})
	if err != nil {
		return VSwitchView{}, err
	}
	if len(all) == 0 {
		return VSwitchView{}, vswitchNotFound(id)
	}
	if dryRun {
		return VSwitchView{}, errDryRun
	}
	return all[0], nil
}

// ModifyVSwitchAttribute renames or describes a vSwitch; nil fields stay.
func (s *Service) ModifyVSwitchAttribute(ctx context.Context, c Caller, region, id string, name, description *string) error {
	if _, err := s.region("RegionId", region); err != nil {
		return err
	}
	if id == "" {
		return apierr.Missing("VSwitchId")
	}
	if err := model.NetworkName.CheckOpt("VSwitchName", name); err != nil {
		return err
	}
	if err := model.NetworkDescription.CheckOpt("Description", description); err != nil {
		return err
	}
	return s.update(ctx, func(t *txn) error {
		sw, err := getOwned[model.VSwitch](t, c, model.KindVSwitch, id, vswitchNotFound(id))
		if err != nil || sw.Region != region {
			return firstErr(err, vswitchNotFound(id))
		}
		if sw.Status != model.StatusAvailable {
			return apierr.New("IncorrectVSwitchStatus", "The vSwitch %s is %s; retry when it is Available.", sw.ID, sw.Status)
		}
		if name != nil {
			sw.Name = *name
		}
		if description != nil {
			sw.Description = *description
		}
		return t.put(resKey(model.KindVSwitch, sw.ID), sw)
	})
}

func vswitchNotFound(id string) *apierr.Error {
	return apierr.New("InvalidVSwitchId.NotFound", "The vSwitch %s does not exist.", id)
}

// DeleteVSwitch deletes a vSwitch no VPC attachment uses.
func (s *Service) DeleteVSwitch(ctx context.Context, c Caller, region, id string) error {
	if id == "" {
		return apierr.Missing("VSwitchId")
	}
	return s.update(ctx, func(t *txn) error {
		sw, err := getOwned[model.VSwitch](t, c, model.KindVSwitch, id, vswitchNotFound(id))
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
	AutoPublishRouteEnabled                                    bool
	SystemLinks                                                model.SystemLinks
	Tags                                                       []model.Tag
	ClientToken                                                string
	DryRun                                                     bool
}

// checkZoneMappings checks vSwitches to be mapped into an attachment of vpc (param names
// the list in errors) and fills in their zones: each must be the caller's, in the VPC,
// Available, in the zone given (if any), and no zone may appear twice among keep and them.
func checkZoneMappings(t *txn, c Caller, vpc *model.VPC, param string, zones, keep []model.ZoneMapping) error {
	used := map[string]string{}
	for _, z := range keep {
		used[z.ZoneID] = z.VSwitchID
	}
	for i, z := range zones {
		if z.VSwitchID == "" {
			return apierr.Missing(fmt.Sprintf("%s.%d.VSwitchId", param, i+1))
		}
		sw, err := getOwned[model.VSwitch](t, c, model.KindVSwitch, z.VSwitchID, vswitchNotFound(z.VSwitchID))
		if err != nil {
			return err
		}
		if sw.VpcID != vpc.ID || (z.ZoneID != "" && sw.ZoneID != z.ZoneID) {
			return apierr.Invalid(param+".VSwitchId", "%s.%d: vSwitch %s is in VPC %s zone %s, not VPC %s zone %s.", param, i+1, sw.ID, sw.VpcID, sw.ZoneID, vpc.ID, z.ZoneID)
		}
		if sw.Status != model.StatusAvailable {
			return apierr.New("IncorrectVSwitchStatus", "The vSwitch %s is %s; retry when it is Available.", sw.ID, sw.Status)
		}
		if other, ok := used[sw.ZoneID]; ok {
			return apierr.Invalid(param+".ZoneId", "%s.%d: zone %s already has vSwitch %s in this attachment; an attachment takes one vSwitch per zone.", param, i+1, sw.ZoneID, other)
		}
		used[sw.ZoneID] = sw.ID
		zones[i].ZoneID = sw.ZoneID
	}
	return nil
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
		if err := checkZoneMappings(t, c, vpc, "ZoneMappings", in.Zones, nil); err != nil {
			return "", err
		}
		if in.DryRun {
			return "", errDryRun
		}
		a := model.VpcAttachment{Meta: s.newMeta(c, model.KindVpcAttachment, tr.Region, model.AttachmentAttaching, in.Tags),
			TransitRouterID: tr.ID, CenID: tr.CenID, VpcID: vpc.ID, VpcOwner: c.AccountID, Name: in.Name, Description: in.Description, ZoneMappings: in.Zones,
			AutoPublishRouteEnabled: in.AutoPublishRouteEnabled, OrderType: model.OrderPayByCenOwner, SystemLinks: in.SystemLinks}
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

// VpcAttachmentFilter selects VPC attachments; invalid combinations simply match nothing.
type VpcAttachmentFilter struct {
	Region, CenID, TransitRouterID, ID, VpcID, Status, OrderType string
	Tags                                                         []model.Tag
}

// ListTransitRouterVpcAttachments lists the caller's VPC attachments.
func (s *Service) ListTransitRouterVpcAttachments(ctx context.Context, c Caller, f VpcAttachmentFilter) ([]*model.VpcAttachment, error) {
	if err := model.CheckTags("Tag", f.Tags); err != nil {
		return nil, err
	}
	all, err := listKind[model.VpcAttachment](ctx, s, model.KindVpcAttachment)
	if err != nil {
		return nil, err
	}
	sortByCreated(all)
	out := all[:0]
	for _, a := range all {
		if a.Owner == c.AccountID && (f.Region == "" || a.Region == f.Region) && (f.CenID == "" || a.CenID == f.CenID) &&
			(f.TransitRouterID == "" || a.TransitRouterID == f.TransitRouterID) && (f.ID == "" || a.ID == f.ID) && (f.VpcID == "" || a.VpcID == f.VpcID) &&
			(f.Status == "" || a.Status == f.Status) && (f.OrderType == "" || a.Payer() == f.OrderType) && model.MatchTags(a.Tags, f.Tags) {
			out = append(out, a)
		}
	}
	return out, nil
}

// UpdateTransitRouterVpcAttachmentAttribute changes a VPC attachment's name,
// description, route publishing or payer.
func (s *Service) UpdateTransitRouterVpcAttachmentAttribute(ctx context.Context, c Caller, in UpdateAttachmentInput) error {
	if err := in.check(); err != nil {
		return err
	}
	return s.update(ctx, func(t *txn) error {
		a, err := s.ownedVpcAttachment(t, c, in.ID)
		if err != nil {
			return err
		}
		orderType := a.Payer()
		if err := in.apply(a.ID, a.Status, &a.Name, &a.Description, &a.AutoPublishRouteEnabled, &orderType); err != nil {
			return err
		}
		a.OrderType = orderType
		return t.put(resKey(model.KindVpcAttachment, a.ID), a)
	})
}

func (s *Service) ownedVpcAttachment(t *txn, c Caller, id string) (*model.VpcAttachment, error) {
	if id == "" {
		return nil, apierr.Missing("TransitRouterAttachmentId")
	}
	return getOwned[model.VpcAttachment](t, c, model.KindVpcAttachment, id, attachmentNotFound(id))
}

// UpdateVpcAttachmentZonesInput is UpdateTransitRouterVpcAttachmentZones' request.
type UpdateVpcAttachmentZonesInput struct {
	ID          string
	Add, Remove []model.ZoneMapping
	DryRun      bool
}

// UpdateTransitRouterVpcAttachmentZones adds and removes zones (vSwitches) of an Attached
// VPC attachment; at least one zone stays. Routing follows at once (the attachment offers
// its vSwitches' blocks).
func (s *Service) UpdateTransitRouterVpcAttachmentZones(ctx context.Context, c Caller, in UpdateVpcAttachmentZonesInput) error {
	if len(in.Add) == 0 && len(in.Remove) == 0 {
		return apierr.Missing("AddZoneMappings.1.VSwitchId")
	}
	return s.update(ctx, func(t *txn) error {
		a, err := s.ownedVpcAttachment(t, c, in.ID)
		if err != nil {
			return err
		}
		if a.Status != model.AttachmentAttached {
			return apierr.New("IncorrectStatus.Status", "The attachment %s is %s; retry when it is Attached.", a.ID, a.Status)
		}
		var keep []model.ZoneMapping
		for _, z := range a.ZoneMappings {
			removed := false
			for _, r := range in.Remove {
				removed = removed || (r.VSwitchID == z.VSwitchID && (r.ZoneID == "" || r.ZoneID == z.ZoneID))
			}
			if !removed {
				keep = append(keep, z)
			}
		}
		for i, r := range in.Remove {
			found := false
			for _, z := range a.ZoneMappings {
				found = found || (r.VSwitchID == z.VSwitchID && (r.ZoneID == "" || r.ZoneID == z.ZoneID))
			}
			if !found {
				return apierr.Invalid("RemoveZoneMappings.VSwitchId", "RemoveZoneMappings.%d: vSwitch %s (zone %s) is not a zone of attachment %s.", i+1, r.VSwitchID, r.ZoneID, a.ID)
			}
		}
		vpc, err := getOwned[model.VPC](t, c, model.KindVPC, a.VpcID, vpcNotFound(a.VpcID))
		if err != nil {
			return err
		}
		if err := checkZoneMappings(t, c, vpc, "AddZoneMappings", in.Add, keep); err != nil {
			return err
		}
		keep = append(keep, in.Add...)
		if len(keep) == 0 {
			return apierr.Invalid("RemoveZoneMappings", "Removing every zone of attachment %s would leave it none; keep at least one, or delete the attachment.", a.ID)
		}
		if in.DryRun {
			return errDryRun
		}
		a.ZoneMappings = keep
		return t.put(resKey(model.KindVpcAttachment, a.ID), a)
	})
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
