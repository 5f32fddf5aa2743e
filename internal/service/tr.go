package service

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	"opencen/internal/apierr"
	"opencen/internal/model"
)

func trNotFound(id string) *apierr.Error {
	return apierr.New("InvalidTransitRouterId.NotFound", "The transit router %s does not exist.", id)
}

// CidrInput is one CIDR block in CreateTransitRouter's TransitRouterCidrList or in CreateTransitRouterCidr.
type CidrInput struct {
	Cidr             string
	Name             string
	Description      string
	PublishCidrRoute *bool
}

// CreateTransitRouterInput is CreateTransitRouter's request.
type CreateTransitRouterInput struct {
	CenID, RegionID, Name, Description string
	SupportMulticast                   bool
	Tags                               []model.Tag
	Cidrs                              []CidrInput
	ClientToken                        string
	DryRun                             bool
}

// CreateTransitRouter creates the CEN's transit router in a region, with its System route table.
func (s *Service) CreateTransitRouter(ctx context.Context, c Caller, in CreateTransitRouterInput) (string, error) {
	if in.CenID == "" {
		return "", apierr.Missing("CenId")
	}
	if _, err := s.region("RegionId", in.RegionID); err != nil {
		return "", err
	}
	if err := model.CBNName.Check("TransitRouterName", in.Name); err != nil {
		return "", err
	}
	if err := model.CBNDescription.Check("TransitRouterDescription", in.Description); err != nil {
		return "", err
	}
	if err := model.CheckTags("Tag", in.Tags); err != nil {
		return "", err
	}
	if len(in.Cidrs) > model.MaxTRCidrs {
		return "", apierr.Invalid("TransitRouterCidrList", "At most %d CIDR blocks may be given; got %d.", model.MaxTRCidrs, len(in.Cidrs))
	}
	for i, ci := range in.Cidrs {
		if err := checkCidrInput(fmt.Sprintf("TransitRouterCidrList.%d", i+1), ci); err != nil {
			return "", err
		}
	}
	return idempotent(ctx, s, c, "CreateTransitRouter", in.ClientToken, func(t *txn) (string, error) {
		cen, err := getOwned[model.CEN](t, c, model.KindCEN, in.CenID, cenNotFound(in.CenID))
		if err != nil {
			return "", err
		}
		if cen.Status != model.StatusActive {
			return "", apierr.New("IncorrectStatus.CenInstance", "The CEN instance %s is %s; create the transit router when it is Active.", cen.ID, cen.Status)
		}
		// Reading every TR and rewriting the CEN makes "one per CEN per region" atomic.
		trs, err := listTxn[model.TransitRouter](t, model.KindTR)
		if err != nil {
			return "", err
		}
		for _, tr := range trs {
			if tr.CenID == cen.ID && tr.Region == in.RegionID {
				return "", apierr.New("OperationFailed.TransitRouterExists", "The CEN instance %s already has transit router %s in %s; a CEN has one transit router per region.", cen.ID, tr.ID, in.RegionID)
			}
		}
		tr := model.TransitRouter{Meta: s.newMeta(c, model.KindTR, in.RegionID, model.StatusCreating, in.Tags),
			CenID: cen.ID, Name: in.Name, Description: in.Description, Type: "Enterprise", SupportMulticast: in.SupportMulticast}
		table := model.RouteTable{Meta: s.newMeta(c, model.KindRouteTable, in.RegionID, model.StatusCreating, nil),
			TransitRouterID: tr.ID, Type: "System", MultiRegionECMP: "disable"}
		tr.SystemTableID = table.ID
		for i, ci := range in.Cidrs {
			if _, err := s.addCidr(t, c, cen, &tr, fmt.Sprintf("TransitRouterCidrList.%d.Cidr", i+1), ci, false); err != nil {
				return "", err
			}
		}
		if in.DryRun {
			return "", errDryRun
		}
		cen.Routers++
		if err := t.put(resKey(model.KindCEN, cen.ID), cen); err != nil {
			return "", err
		}
		if err := t.create(resKey(model.KindRouteTable, table.ID), table); err != nil {
			return "", err
		}
		return tr.ID, t.create(resKey(model.KindTR, tr.ID), tr)
	})
}

func checkCidrInput(param string, ci CidrInput) error {
	if ci.Cidr == "" {
		return apierr.Missing(param + ".Cidr")
	}
	if _, err := model.ParseTRCidr(param+".Cidr", ci.Cidr); err != nil {
		return err
	}
	if err := model.CBNName.Check(param+".Name", ci.Name); err != nil {
		return err
	}
	return model.CBNDescription.Check(param+".Description", ci.Description)
}

// TransitRouterView is a transit router with its CIDR blocks, as ListTransitRouters shows it.
type TransitRouterView struct {
	*model.TransitRouter
	Cidrs []*model.TransitRouterCidr
}

// TRFilter selects transit routers; empty fields match everything.
type TRFilter struct {
	CenID, RegionID, ID, Name, Status, Type string
	Multicast                               []bool // FeatureFilter Multicast values, ORed
	Tags                                    []model.Tag
}

// ListTransitRouters lists the caller's transit routers, oldest first.
func (s *Service) ListTransitRouters(ctx context.Context, c Caller, f TRFilter) ([]TransitRouterView, error) {
	trs, err := listKind[model.TransitRouter](ctx, s, model.KindTR)
	if err != nil {
		return nil, err
	}
	cidrs, err := listKind[model.TransitRouterCidr](ctx, s, model.KindTRCidr)
	if err != nil {
		return nil, err
	}
	sortByCreated(trs)
	sortByCreated(cidrs)
	var out []TransitRouterView
	for _, tr := range trs {
		if tr.Owner != c.AccountID ||
			(f.CenID != "" && tr.CenID != f.CenID) ||
			(f.RegionID != "" && tr.Region != f.RegionID) ||
			(f.ID != "" && tr.ID != f.ID) ||
			(f.Name != "" && tr.Name != f.Name) ||
			(f.Status != "" && tr.Status != f.Status) ||
			(f.Type != "" && tr.Type != f.Type) ||
			(len(f.Multicast) > 0 && !slices.Contains(f.Multicast, tr.SupportMulticast)) ||
			!model.MatchTags(tr.Tags, f.Tags) {
			continue
		}
		v := TransitRouterView{TransitRouter: tr}
		for _, ci := range cidrs {
			if ci.TransitRouterID == tr.ID {
				v.Cidrs = append(v.Cidrs, ci)
			}
		}
		out = append(out, v)
	}
	return out, nil
}

// UpdateTransitRouterInput is UpdateTransitRouter's request; nil fields stay.
type UpdateTransitRouterInput struct {
	ID                string
	Name, Description *string
	DryRun            bool
}

// UpdateTransitRouter changes a transit router's name or description.
func (s *Service) UpdateTransitRouter(ctx context.Context, c Caller, in UpdateTransitRouterInput) error {
	if in.ID == "" {
		return apierr.Missing("TransitRouterId")
	}
	if err := model.CBNName.CheckOpt("TransitRouterName", in.Name); err != nil {
		return err
	}
	if err := model.CBNDescription.CheckOpt("TransitRouterDescription", in.Description); err != nil {
		return err
	}
	return s.update(ctx, func(t *txn) error {
		tr, err := getOwned[model.TransitRouter](t, c, model.KindTR, in.ID, trNotFound(in.ID))
		if err != nil {
			return err
		}
		if tr.Status != model.StatusActive {
			return blocking("transit router", tr.ID, tr.Status)
		}
		if in.DryRun {
			return errDryRun
		}
		if in.Name != nil {
			tr.Name = *in.Name
		}
		if in.Description != nil {
			tr.Description = *in.Description
		}
		return t.put(resKey(model.KindTR, tr.ID), tr)
	})
}

// DeleteTransitRouter starts deleting a transit router; refused while it has
// attachments or custom route tables.
func (s *Service) DeleteTransitRouter(ctx context.Context, c Caller, id string, dryRun bool) error {
	if id == "" {
		return apierr.Missing("TransitRouterId")
	}
	return s.update(ctx, func(t *txn) error {
		tr, err := getOwned[model.TransitRouter](t, c, model.KindTR, id, trNotFound(id))
		if err != nil {
			return err
		}
		if tr.Status != model.StatusActive {
			return blocking("transit router", tr.ID, tr.Status)
		}
		if tr.Attachments > 0 {
			return apierr.New("DependencyViolation.TransitRouterAttachment", "The transit router %s still has %d attachment(s); delete them first.", tr.ID, tr.Attachments)
		}
		if tr.CustomTables > 0 {
			return apierr.New("DependencyViolation.TransitRouterRouteTable", "The transit router %s still has %d custom route table(s); delete them first.", tr.ID, tr.CustomTables)
		}
		if dryRun {
			return errDryRun
		}
		s.setStatus(&tr.Meta, model.StatusDeleting)
		return t.put(resKey(model.KindTR, tr.ID), tr)
	})
}

// addCidr validates a new CIDR block against the TR's and the CEN's blocks and writes it.
// The CEN is rewritten by the caller or here, which serializes concurrent additions.
func (s *Service) addCidr(t *txn, c Caller, cen *model.CEN, tr *model.TransitRouter, param string, ci CidrInput, dryRun bool) (string, error) {
	p, err := model.ParseTRCidr(param, ci.Cidr)
	if err != nil {
		return "", err
	}
	count, err := checkCidrOverlap(t, cen.ID, tr.ID, "", param, p)
	if err != nil {
		return "", err
	}
	for _, w := range pendingCidrs(t) {
		if w.CenID == cen.ID && w.TransitRouterID == tr.ID {
			count++
		}
		if q, err := netip.ParsePrefix(w.Cidr); err == nil && q.Overlaps(p) {
			return "", apierr.New("InvalidCidr.Overlapped", "%s %s overlaps %s given in the same request; CIDR blocks must not overlap within a CEN.", param, p, q)
		}
	}
	if count >= model.MaxTRCidrs {
		return "", apierr.New("QuotaExceeded.TransitRouterCidr", "The transit router %s already has %d CIDR blocks, the most allowed.", tr.ID, count)
	}
	if dryRun {
		return "", errDryRun
	}
	publish := true
	if ci.PublishCidrRoute != nil {
		publish = *ci.PublishCidrRoute
	}
	cidr := model.TransitRouterCidr{Meta: s.newMeta(c, model.KindTRCidr, tr.Region, "", nil),
		TransitRouterID: tr.ID, CenID: cen.ID, Cidr: p.String(), Name: ci.Name, Description: ci.Description, PublishCidrRoute: publish}
	return cidr.ID, t.create(resKey(model.KindTRCidr, cidr.ID), cidr)
}

// checkCidrOverlap checks p against the CEN's blocks other than self's, and counts those of
// transit router trID.
func checkCidrOverlap(t *txn, cenID, trID, self, param string, p netip.Prefix) (int, error) {
	existing, err := listTxn[model.TransitRouterCidr](t, model.KindTRCidr)
	if err != nil {
		return 0, err
	}
	count := 0
	for _, e := range existing {
		if e.CenID != cenID || e.ID == self {
			continue
		}
		if e.TransitRouterID == trID {
			count++
		}
		if q, err := netip.ParsePrefix(e.Cidr); err == nil && q.Overlaps(p) {
			return 0, apierr.New("InvalidCidr.Overlapped", "%s %s overlaps %s (%s of transit router %s); CIDR blocks must not overlap within a CEN.", param, p, q, e.ID, e.TransitRouterID)
		}
	}
	return count, nil
}

// pendingCidrs are CIDR blocks written earlier in this transaction.
func pendingCidrs(t *txn) []model.TransitRouterCidr {
	var out []model.TransitRouterCidr
	for k, v := range t.writes {
		if kind, _, ok := ResourceKey(k); ok && kind == model.KindTRCidr && v != nil {
			var c model.TransitRouterCidr
			if decodeJSON(v, &c) == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// CreateTransitRouterCidrInput is CreateTransitRouterCidr's request.
type CreateTransitRouterCidrInput struct {
	TransitRouterID, RegionID string
	CidrInput
	ClientToken string
	DryRun      bool
}

// CreateTransitRouterCidr adds a CIDR block to a transit router.
func (s *Service) CreateTransitRouterCidr(ctx context.Context, c Caller, in CreateTransitRouterCidrInput) (string, error) {
	if in.TransitRouterID == "" {
		return "", apierr.Missing("TransitRouterId")
	}
	if _, err := s.region("RegionId", in.RegionID); err != nil {
		return "", err
	}
	if in.Cidr == "" {
		return "", apierr.Missing("Cidr")
	}
	if _, err := model.ParseTRCidr("Cidr", in.Cidr); err != nil {
		return "", err
	}
	if err := model.CBNName.Check("Name", in.Name); err != nil {
		return "", err
	}
	if err := model.CBNDescription.Check("Description", in.Description); err != nil {
		return "", err
	}
	return idempotent(ctx, s, c, "CreateTransitRouterCidr", in.ClientToken, func(t *txn) (string, error) {
		tr, cen, err := s.activeTR(t, c, in.TransitRouterID, in.RegionID)
		if err != nil {
			return "", err
		}
		id, err := s.addCidr(t, c, cen, tr, "Cidr", in.CidrInput, in.DryRun)
		if err != nil {
			return "", err
		}
		return id, t.put(resKey(model.KindCEN, cen.ID), cen)
	})
}

// activeTR reads an Active transit router in region and its CEN.
func (s *Service) activeTR(t *txn, c Caller, trID, region string) (*model.TransitRouter, *model.CEN, error) {
	tr, err := getOwned[model.TransitRouter](t, c, model.KindTR, trID, trNotFound(trID))
	if err != nil {
		return nil, nil, err
	}
	if region != "" && tr.Region != region {
		return nil, nil, trNotFound(trID)
	}
	if tr.Status != model.StatusActive {
		return nil, nil, apierr.New("IncorrectStatus.TransitRouterInstance", "The transit router %s is %s; retry when it is Active.", tr.ID, tr.Status)
	}
	cen, err := getOwned[model.CEN](t, c, model.KindCEN, tr.CenID, cenNotFound(tr.CenID))
	if err != nil {
		return nil, nil, err
	}
	return tr, cen, nil
}

// ListTransitRouterCidr lists a transit router's CIDR blocks.
func (s *Service) ListTransitRouterCidr(ctx context.Context, c Caller, trID, region, cidrID string) ([]*model.TransitRouterCidr, error) {
	if trID == "" {
		return nil, apierr.Missing("TransitRouterId")
	}
	var out []*model.TransitRouterCidr
	err := s.update(ctx, func(t *txn) error {
		tr, err := getOwned[model.TransitRouter](t, c, model.KindTR, trID, trNotFound(trID))
		if err != nil {
			return err
		}
		if region != "" && tr.Region != region {
			return trNotFound(trID)
		}
		all, err := listTxn[model.TransitRouterCidr](t, model.KindTRCidr)
		if err != nil {
			return err
		}
		out = nil
		for _, ci := range all {
			if ci.TransitRouterID == trID && (cidrID == "" || ci.ID == cidrID) {
				out = append(out, ci)
			}
		}
		return nil
	})
	sortByCreated(out)
	return out, err
}

// ModifyTransitRouterCidrInput is ModifyTransitRouterCidr's request; nil fields stay.
type ModifyTransitRouterCidrInput struct {
	TransitRouterID, RegionID, ID string
	Cidr, Name, Description       *string
	PublishCidrRoute              *bool
	DryRun                        bool
}

// ModifyTransitRouterCidr renames, describes or re-publishes a CIDR block, or changes it
// while no gateway address has been allocated from it.
func (s *Service) ModifyTransitRouterCidr(ctx context.Context, c Caller, in ModifyTransitRouterCidrInput) error {
	if in.TransitRouterID == "" {
		return apierr.Missing("TransitRouterId")
	}
	if in.ID == "" {
		return apierr.Missing("TransitRouterCidrId")
	}
	if _, err := s.region("RegionId", in.RegionID); err != nil {
		return err
	}
	var p netip.Prefix
	if in.Cidr != nil {
		var err error
		if p, err = model.ParseTRCidr("Cidr", *in.Cidr); err != nil {
			return err
		}
	}
	if err := model.CBNName.CheckOpt("Name", in.Name); err != nil {
		return err
	}
	if err := model.CBNDescription.CheckOpt("Description", in.Description); err != nil {
		return err
	}
	return s.update(ctx, func(t *txn) error {
		tr, _, err := s.activeTR(t, c, in.TransitRouterID, in.RegionID)
		if err != nil {
			return err
		}
		ci, err := trCidr(t, tr, in.ID)
		if err != nil {
			return err
		}
		if in.Cidr != nil && p.String() != ci.Cidr {
			if _, err := checkCidrOverlap(t, ci.CenID, tr.ID, ci.ID, "Cidr", p); err != nil {
				return err
			}
			if n, err := cidrAllocations(t, tr.ID, ci.ID); err != nil {
				return err
			} else if n > 0 {
				return apierr.New("OperationFailed.CidrBlockAllocated", "%d gateway address(es) of IPsec-VPN connections are allocated from %s (%s); the block can change once they are released (detach those connections).", n, ci.ID, ci.Cidr)
			}
			ci.Cidr = p.String()
		}
		if in.DryRun {
			return errDryRun
		}
		if in.Name != nil {
			ci.Name = *in.Name
		}
		if in.Description != nil {
			ci.Description = *in.Description
		}
		if in.PublishCidrRoute != nil {
			ci.PublishCidrRoute = *in.PublishCidrRoute
		}
		return t.put(resKey(model.KindTRCidr, ci.ID), ci)
	})
}

// trCidr reads a CIDR block of a transit router.
func trCidr(t *txn, tr *model.TransitRouter, id string) (*model.TransitRouterCidr, error) {
	var ci model.TransitRouterCidr
	ok, err := t.get(resKey(model.KindTRCidr, id), &ci)
	if err != nil {
		return nil, err
	}
	if !ok || ci.TransitRouterID != tr.ID {
		return nil, apierr.New("InvalidTransitRouterCidrId.NotFound", "The CIDR block %s of transit router %s does not exist.", id, tr.ID)
	}
	return &ci, nil
}

// DeleteTransitRouterCidr removes a CIDR block no gateway address is allocated from.
func (s *Service) DeleteTransitRouterCidr(ctx context.Context, c Caller, trID, region, cidrID string, dryRun bool) error {
	if trID == "" {
		return apierr.Missing("TransitRouterId")
	}
	if cidrID == "" {
		return apierr.Missing("TransitRouterCidrId")
	}
	return s.update(ctx, func(t *txn) error {
		tr, _, err := s.activeTR(t, c, trID, region)
		if err != nil {
			return err
		}
		ci, err := trCidr(t, tr, cidrID)
		if err != nil {
			return err
		}
		if n, err := cidrAllocations(t, tr.ID, ci.ID); err != nil {
			return err
		} else if n > 0 {
			return apierr.New("OperationFailed.CidrBlockAllocated", "%d gateway address(es) of IPsec-VPN connections are allocated from %s (%s); detach those connections first.", n, ci.ID, ci.Cidr)
		}
		if dryRun {
			return errDryRun
		}
		t.del(resKey(model.KindTRCidr, cidrID))
		return nil
	})
}
