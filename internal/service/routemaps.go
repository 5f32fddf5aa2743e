package service

import (
	"context"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"opencen/internal/apierr"
	"opencen/internal/model"
)

// RouteMapInput is CreateCenRouteMap's and ModifyCenRouteMap's request.
type RouteMapInput struct {
	CenID, RegionID, ID, TableID, Direction, MapResult, Description string
	Priority, NextPriority                                          int64
	Match                                                           model.RouteMapMatch
	Action                                                          model.RouteMapAction
	ClientToken                                                     string
	DryRun                                                          bool
}

var childTypes = []string{"VPC", "VBR", "CCN", "VPN", "ECR"}

func checkList(param string, items []string, max int, each func(string) bool, allowed string) error {
	if len(items) > max {
		return apierr.Invalid(param, "%s may list at most %d values; got %d.", param, max, len(items))
	}
	for _, it := range items {
		if !each(it) {
			return apierr.Invalid(param, "%s: %q is not allowed; use %s.", param, it, allowed)
		}
	}
	return nil
}

func anyString(string) bool { return true }

func validCommunity(s string) bool {
	a, b, ok := strings.Cut(s, ":")
	x, err1 := strconv.Atoi(a)
	y, err2 := strconv.Atoi(b)
	return ok && err1 == nil && err2 == nil && x >= 1 && x <= 65535 && y >= 1 && y <= 65535
}

func validCIDR(s string) bool { _, err := netip.ParsePrefix(s); return err == nil }

func oneOfOrEmpty(param, v string, allowed ...string) error {
	if v == "" || slices.Contains(allowed, v) {
		return nil
	}
	return apierr.Invalid(param, "%s must be one of %s; got %q.", param, apierr.Text(strings.Join(allowed, ", ")), v)
}

// check validates a routing policy's own fields (not the CEN, table or priority clash).
func (in *RouteMapInput) check() error {
	if in.Direction != "RegionIn" && in.Direction != "RegionOut" {
		if in.Direction == "" {
			return apierr.Missing("TransmitDirection")
		}
		return apierr.Invalid("TransmitDirection", "TransmitDirection must be RegionIn or RegionOut; got %q.", in.Direction)
	}
	if in.Priority < 1 || in.Priority > 100 {
		return apierr.Invalid("Priority", "Priority must be 1 to 100 (smaller is evaluated first); got %d.", in.Priority)
	}
	if in.MapResult != "Permit" && in.MapResult != "Deny" {
		if in.MapResult == "" {
			return apierr.Missing("MapResult")
		}
		return apierr.Invalid("MapResult", "MapResult must be Permit or Deny; got %q.", in.MapResult)
	}
	if in.NextPriority != 0 {
		if in.MapResult != "Permit" {
			return apierr.Invalid("NextPriority", "NextPriority can only be set on a Permit policy.")
		}
		if in.NextPriority <= in.Priority || in.NextPriority > 100 {
			return apierr.Invalid("NextPriority", "NextPriority must be larger than Priority (%d) and at most 100; got %d.", in.Priority, in.NextPriority)
		}
	}
	if err := model.CBNDescription.Check("Description", in.Description); err != nil {
		return err
	}
	m, a := &in.Match, &in.Action
	childOK := func(s string) bool { return slices.Contains(childTypes, s) }
	for _, l := range []struct {
		param string
		items []string
		max   int
		each  func(string) bool
		what  string
	}{
		{"SourceInstanceIds", m.SourceInstanceIDs, 64, anyString, ""},
		{"DestinationInstanceIds", m.DestinationInstanceIDs, 64, anyString, ""},
		{"SourceRegionIds", m.SourceRegionIDs, 64, anyString, ""},
		{"DestinationRegionIds", m.DestinationRegionIDs, 64, anyString, ""},
		{"SourceRouteTableIds", m.SourceRouteTableIDs, 64, anyString, ""},
		{"DestinationRouteTableIds", m.DestinationRouteTableIDs, 64, anyString, ""},
		{"SourceChildInstanceTypes", m.SourceChildInstanceTypes, 64, childOK, strings.Join(childTypes, ", ")},
		{"DestinationChildInstanceTypes", m.DestinationChildInstanceTypes, 64, childOK, strings.Join(childTypes, ", ")},
		{"RouteTypes", m.RouteTypes, 64, func(s string) bool { return s == "System" || s == "Custom" || s == "BGP" }, "System, Custom, BGP"},
		{"DestinationCidrBlocks", m.DestinationCidrBlocks, 64, validCIDR, "CIDR blocks such as 10.0.0.0/16"},
		{"MatchCommunitySet", m.MatchCommunitySet, 64, validCommunity, "n:m with n and m from 1 to 65535"},
		{"OperateCommunitySet", a.OperateCommunitySet, 32, validCommunity, "n:m with n and m from 1 to 65535"},
	} {
		if err := checkList(l.param, l.items, l.max, l.each, l.what); err != nil {
			return err
		}
	}
	if len(m.MatchAsns) > 64 {
		return apierr.Invalid("MatchAsns", "MatchAsns may list at most 64 ASNs; got %d.", len(m.MatchAsns))
	}
	if len(a.PrependAsPath) > 32 {
		return apierr.Invalid("PrependAsPath", "PrependAsPath may list at most 32 ASNs; got %d.", len(a.PrependAsPath))
	}
	for _, asns := range []struct {
		param string
		v     []int64
	}{{"MatchAsns", m.MatchAsns}, {"PrependAsPath", a.PrependAsPath}} {
		for _, n := range asns.v {
			if n < 1 || n > 4294967295 {
				return apierr.Invalid(asns.param, "%s values must be 1 to 4294967295; got %d.", asns.param, n)
			}
		}
	}
	for _, e := range []error{
		oneOfOrEmpty("CidrMatchMode", m.CidrMatchMode, "Include", "Complete"),
		oneOfOrEmpty("AsPathMatchMode", m.AsPathMatchMode, "Include", "Complete"),
		oneOfOrEmpty("CommunityMatchMode", m.CommunityMatchMode, "Include", "Complete"),
		oneOfOrEmpty("CommunityOperateMode", a.CommunityOperateMode, "Additive", "Replace"),
		oneOfOrEmpty("MatchAddressType", m.MatchAddressType, "IPv4", "IPv6"),
	} {
		if e != nil {
			return e
		}
	}
	if a.Preference != 0 && (a.Preference < 1 || a.Preference > 100) {
		return apierr.Invalid("Preference", "Preference must be 1 to 100 (default route preference is 50); got %d.", a.Preference)
	}
	if in.MapResult == "Deny" && (a.Preference != 0 || len(a.PrependAsPath) > 0 || len(a.OperateCommunitySet) > 0) {
		return apierr.Invalid("MapResult", "Actions (Preference, PrependAsPath, OperateCommunitySet) apply to Permit policies only.")
	}
	if len(a.OperateCommunitySet) > 0 && a.CommunityOperateMode == "" {
		return apierr.Missing("CommunityOperateMode")
	}
	return nil
}

func routeMapNotFound(id string) *apierr.Error {
	return apierr.New("InvalidRouteMapId.NotFound", "The routing policy %s does not exist.", id)
}

// tableForPolicy finds the table a policy binds to: the given one, or the system table
// of the CEN's transit router in the region.
func (s *Service) tableForPolicy(t *txn, c Caller, cen *model.CEN, region, tableID string) (*model.TransitRouter, *model.RouteTable, error) {
	tr, err := s.findTR(t, c, "", cen.ID, region)
	if err != nil {
		return nil, nil, err
	}
	if tableID == "" {
		tableID = tr.SystemTableID
	}
	rt, err := s.ownedTable(t, c, tableID)
	if err != nil {
		return nil, nil, err
	}
	if rt.TransitRouterID != tr.ID {
		return nil, nil, apierr.Invalid("TransitRouterRouteTableId", "The route table %s does not belong to the CEN's transit router %s in %s.", rt.ID, tr.ID, region)
	}
	return tr, rt, nil
}

// checkPriority keeps priorities unique per (table, direction).
func checkPriority(t *txn, self string, tableID, direction string, priority int) error {
	maps, err := listTxn[model.RouteMap](t, model.KindRouteMap)
	if err != nil {
		return err
	}
	for _, m := range maps {
		if m.ID != self && m.RouteTableID == tableID && m.TransmitDirection == direction && m.Priority == priority {
			return apierr.New("InvalidPriority.Duplicate", "Routing policy %s already has priority %d for %s on route table %s; priorities are unique per table and direction.", m.ID, priority, direction, tableID)
		}
	}
	return nil
}

// CreateCenRouteMap creates a routing policy (Creating, then Active).
func (s *Service) CreateCenRouteMap(ctx context.Context, c Caller, in RouteMapInput) (string, error) {
	if in.CenID == "" {
		return "", apierr.Missing("CenId")
	}
	if in.RegionID == "" {
		return "", apierr.Missing("CenRegionId")
	}
	if _, err := s.region("CenRegionId", in.RegionID); err != nil {
		return "", err
	}
	if err := in.check(); err != nil {
		return "", err
	}
	return idempotent(ctx, s, c, "CreateCenRouteMap", in.ClientToken, func(t *txn) (string, error) {
		cen, err := getOwned[model.CEN](t, c, model.KindCEN, in.CenID, cenNotFound(in.CenID))
		if err != nil {
			return "", err
		}
		tr, rt, err := s.tableForPolicy(t, c, cen, in.RegionID, in.TableID)
		if err != nil {
			return "", err
		}
		if err := checkPriority(t, "", rt.ID, in.Direction, int(in.Priority)); err != nil {
			return "", err
		}
		if in.DryRun {
			return "", errDryRun
		}
		// Rewriting the table serializes priority checks of concurrent creates.
		if err := t.put(resKey(model.KindRouteTable, rt.ID), rt); err != nil {
			return "", err
		}
		m := model.RouteMap{Meta: s.newMeta(c, model.KindRouteMap, in.RegionID, model.StatusCreating, nil), CenID: cen.ID, TransitRouterID: tr.ID,
			RouteTableID: rt.ID, TransmitDirection: in.Direction, Priority: int(in.Priority), MapResult: in.MapResult, NextPriority: int(in.NextPriority),
			Description: in.Description, RouteMapMatch: in.Match, RouteMapAction: in.Action}
		return m.ID, t.create(resKey(model.KindRouteMap, m.ID), m)
	})
}

func (s *Service) ownedRouteMap(t *txn, c Caller, cenID, region, id string) (*model.RouteMap, error) {
	for _, p := range []struct{ name, v string }{{"CenId", cenID}, {"CenRegionId", region}, {"RouteMapId", id}} {
		if p.v == "" {
			return nil, apierr.Missing(p.name)
		}
	}
	m, err := getOwned[model.RouteMap](t, c, model.KindRouteMap, id, routeMapNotFound(id))
	if err != nil {
		return nil, err
	}
	if m.CenID != cenID || m.Region != region {
		return nil, routeMapNotFound(id)
	}
	if m.System {
		return nil, apierr.New("Forbidden.SystemRouteMap", "The routing policy %s is a system policy; it can be neither modified nor deleted. Override it with a custom policy of higher priority (smaller number).", m.ID)
	}
	if m.Status != model.StatusActive {
		return nil, apierr.New("IncorrectStatus.RouteMap", "The routing policy %s is %s; retry when it is Active.", m.ID, m.Status)
	}
	return m, nil
}

// ModifyCenRouteMap replaces a policy's conditions and actions (table and direction stay).
func (s *Service) ModifyCenRouteMap(ctx context.Context, c Caller, in RouteMapInput) error {
	return s.update(ctx, func(t *txn) error {
		m, err := s.ownedRouteMap(t, c, in.CenID, in.RegionID, in.ID)
		if err != nil {
			return err
		}
		if in.TableID != "" && in.TableID != m.RouteTableID {
			return apierr.Invalid("TransitRouterRouteTableId", "A routing policy's route table cannot be changed; create a new policy.")
		}
		if in.Direction != "" && in.Direction != m.TransmitDirection {
			return apierr.Invalid("TransmitDirection", "A routing policy's direction cannot be changed; create a new policy.")
		}
		in.Direction = m.TransmitDirection
		if err := in.check(); err != nil {
			return err
		}
		if err := checkPriority(t, m.ID, m.RouteTableID, m.TransmitDirection, int(in.Priority)); err != nil {
			return err
		}
		if in.DryRun {
			return errDryRun
		}
		m.Priority, m.MapResult, m.NextPriority, m.Description = int(in.Priority), in.MapResult, int(in.NextPriority), in.Description
		m.RouteMapMatch, m.RouteMapAction = in.Match, in.Action
		return t.put(resKey(model.KindRouteMap, m.ID), m)
	})
}

// DeleteCenRouteMap deletes a custom policy.
func (s *Service) DeleteCenRouteMap(ctx context.Context, c Caller, cenID, region, id string) error {
	return s.update(ctx, func(t *txn) error {
		m, err := s.ownedRouteMap(t, c, cenID, region, id)
		if err != nil {
			return err
		}
		s.setStatus(&m.Meta, model.StatusDeleting)
		return t.put(resKey(model.KindRouteMap, m.ID), m)
	})
}
