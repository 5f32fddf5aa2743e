package routing

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// cond is one match condition of a route map.
type cond uint8

const (
	condSourceInstance cond = iota
	condDestinationInstance
	condSourceRegion
	condDestinationRegion
	condSourceTable
	condDestinationTable
	condSourceType
	condDestinationType
	condRouteType
	condCIDR
	condASN
	condCommunity
	condAddressType
	numConds
)

var condNames = [numConds]string{
	"SourceInstanceIds", "DestinationInstanceIds", "SourceRegionIds", "DestinationRegionIds",
	"SourceRouteTableIds", "DestinationRouteTableIds", "SourceChildInstanceTypes",
	"DestinationChildInstanceTypes", "RouteTypes", "DestinationCidrBlocks", "MatchAsns",
	"MatchCommunitySet", "MatchAddressType",
}

// Condition groups: which conditions apply in which direction, split by what they depend on so
// that the engine tests the attachment- and table-level ones once per attachment.
var (
	// RegionIn: source = the propagating attachment, destination = the table.
	inAllConds = []cond{condSourceInstance, condSourceRegion, condDestinationRegion,
		condDestinationTable, condSourceType, condRouteType, condCIDR, condASN, condCommunity, condAddressType}
	inAttConds = []cond{condSourceInstance, condSourceRegion, condDestinationRegion,
		condDestinationTable, condSourceType}
	inTableConds = []cond{condDestinationRegion, condDestinationTable}
	// RegionOut: source = the route's origin attachment and the bound table, destination = the
	// receiving attachment.
	outAllConds = []cond{condSourceInstance, condDestinationInstance, condSourceRegion,
		condDestinationRegion, condSourceTable, condSourceType, condDestinationType, condRouteType,
		condCIDR, condASN, condCommunity, condAddressType}
	outDstConds = []cond{condDestinationInstance, condDestinationRegion, condSourceTable,
		condDestinationType}
	// Evaluated per route.
	inRouteConds  = []cond{condRouteType, condCIDR, condASN, condCommunity, condAddressType}
	outRouteConds = []cond{condSourceInstance, condSourceRegion, condSourceType, condRouteType,
		condCIDR, condASN, condCommunity, condAddressType}
)

// policy is a validated route map, normalized for matching.
type policy struct {
	RouteMap
	comms   []string // MatchCommunities, sorted and unique (for Complete)
	opComms []string // OperateCommunities, unique in given order
}

// policySet holds the route maps bound to one table in one direction, by ascending priority.
type policySet []*policy

// compilePolicies groups the valid route maps by table and direction. Maps with an unknown
// direction or result, or without a table, bind to nothing.
func compilePolicies(maps []RouteMap) (in, out map[string]policySet) {
	in, out = map[string]policySet{}, map[string]policySet{}
	for i := range maps {
		m := maps[i]
		if m.TableID == "" || (m.Result != Permit && m.Result != Deny) {
			continue
		}
		p := &policy{RouteMap: m}
		p.comms = slices.Compact(slices.Sorted(slices.Values(m.MatchCommunities)))
		for _, c := range m.OperateCommunities {
			if !slices.Contains(p.opComms, c) {
				p.opComms = append(p.opComms, c)
			}
		}
		switch m.Direction {
		case RegionIn:
			in[m.TableID] = append(in[m.TableID], p)
		case RegionOut:
			out[m.TableID] = append(out[m.TableID], p)
		}
	}
	for _, set := range []map[string]policySet{in, out} {
		for _, ps := range set {
			slices.SortFunc(ps, func(a, b *policy) int {
				return cmp.Or(cmp.Compare(a.Priority, b.Priority), strings.Compare(a.ID, b.ID))
			})
		}
	}
	return in, out
}

// equalPolicySets reports whether two sets hold the same route maps in the same order.
func equalPolicySets(a, b policySet) bool {
	return slices.EqualFunc(a, b, func(x, y *policy) bool { return routeMapEqual(&x.RouteMap, &y.RouteMap) })
}

func routeMapEqual(a, b *RouteMap) bool {
	return a.ID == b.ID && a.Direction == b.Direction && a.Priority == b.Priority &&
		a.TableID == b.TableID && a.Result == b.Result && a.NextPriority == b.NextPriority &&
		slices.Equal(a.SourceInstanceIDs, b.SourceInstanceIDs) &&
		a.SourceInstanceIDsReverse == b.SourceInstanceIDsReverse &&
		slices.Equal(a.DestinationInstanceIDs, b.DestinationInstanceIDs) &&
		a.DestinationInstanceIDsReverse == b.DestinationInstanceIDsReverse &&
		slices.Equal(a.SourceRegionIDs, b.SourceRegionIDs) &&
		slices.Equal(a.DestinationRegionIDs, b.DestinationRegionIDs) &&
		slices.Equal(a.SourceRouteTableIDs, b.SourceRouteTableIDs) &&
		slices.Equal(a.DestinationRouteTableIDs, b.DestinationRouteTableIDs) &&
		slices.Equal(a.SourceChildInstanceTypes, b.SourceChildInstanceTypes) &&
		slices.Equal(a.DestinationChildInstanceTypes, b.DestinationChildInstanceTypes) &&
		slices.Equal(a.RouteTypes, b.RouteTypes) &&
		slices.Equal(a.DestinationCIDRs, b.DestinationCIDRs) && a.CidrMatchMode == b.CidrMatchMode &&
		slices.Equal(a.MatchASNs, b.MatchASNs) && a.AsPathMatchMode == b.AsPathMatchMode &&
		slices.Equal(a.MatchCommunities, b.MatchCommunities) && a.CommunityMatchMode == b.CommunityMatchMode &&
		a.MatchAddressType == b.MatchAddressType && a.Preference == b.Preference &&
		slices.Equal(a.PrependASPath, b.PrependASPath) &&
		slices.Equal(a.OperateCommunities, b.OperateCommunities) &&
		a.CommunityOperateMode == b.CommunityOperateMode
}

// subject is what a route map is matched against.
type subject struct {
	table    string    // the bound table
	trRegion string    // the transit router's region
	src      *attState // the attachment the route came from (nil: none)
	org      *Origin   // where a route from another region started (nil: at src)
	dst      *attState // RegionOut: the receiving attachment
	kind     RouteType
	prefix   netip.Prefix
	asPath   []uint32
	comms    []string
}

// sourceRegion is the region the route started in.
func (s *subject) sourceRegion() string {
	if s.org != nil && s.org.Region() != "" {
		return s.org.Region()
	}
	return regionOf(s.src, s.trRegion)
}

func regionOf(a *attState, trRegion string) string {
	if a == nil {
		return ""
	}
	if a.a.Region != "" {
		return a.a.Region
	}
	return trRegion
}

func instanceMatch(ids []string, reverse bool, a *attState) bool {
	in := a != nil && (slices.Contains(ids, a.a.ID) || (a.a.ResourceID != "" && slices.Contains(ids, a.a.ResourceID)))
	return in != reverse
}

func typeOf(a *attState) AttachmentType {
	if a == nil {
		return 0
	}
	return a.a.Type
}

// empty reports whether condition c is unset in p (an unset condition matches everything).
func (p *policy) empty(c cond) bool {
	switch c {
	case condSourceInstance:
		return len(p.SourceInstanceIDs) == 0
	case condDestinationInstance:
		return len(p.DestinationInstanceIDs) == 0
	case condSourceRegion:
		return len(p.SourceRegionIDs) == 0
	case condDestinationRegion:
		return len(p.DestinationRegionIDs) == 0
	case condSourceTable:
		return len(p.SourceRouteTableIDs) == 0
	case condDestinationTable:
		return len(p.DestinationRouteTableIDs) == 0
	case condSourceType:
		return len(p.SourceChildInstanceTypes) == 0
	case condDestinationType:
		return len(p.DestinationChildInstanceTypes) == 0
	case condRouteType:
		return len(p.RouteTypes) == 0
	case condCIDR:
		return len(p.DestinationCIDRs) == 0
	case condASN:
		return len(p.MatchASNs) == 0
	case condCommunity:
		return len(p.MatchCommunities) == 0
	case condAddressType:
		return p.MatchAddressType == AnyAddress
	}
	return true
}

// test reports whether condition c of p matches s. dir says what "destination" means.
func (p *policy) test(c cond, dir Direction, s *subject) bool {
	if p.empty(c) {
		return true
	}
	switch c {
	case condSourceInstance:
		// The attachment the route came from, or the instance it started at in another
		// region (as the cloud's example of two data centers in two regions matches the
		// other region's VBR by its ID).
		if s.org != nil && s.org.InstanceID != "" && slices.Contains(p.SourceInstanceIDs, s.org.InstanceID) {
			return !p.SourceInstanceIDsReverse
		}
		return instanceMatch(p.SourceInstanceIDs, p.SourceInstanceIDsReverse, s.src)
	case condDestinationInstance:
		return instanceMatch(p.DestinationInstanceIDs, p.DestinationInstanceIDsReverse, s.dst)
	case condSourceRegion:
		return slices.Contains(p.SourceRegionIDs, s.sourceRegion())
	case condDestinationRegion:
		r := s.trRegion
		if dir == RegionOut {
			r = regionOf(s.dst, s.trRegion)
		}
		return slices.Contains(p.DestinationRegionIDs, r)
	case condSourceTable:
		return slices.Contains(p.SourceRouteTableIDs, s.table)
	case condDestinationTable:
		return slices.Contains(p.DestinationRouteTableIDs, s.table)
	case condSourceType:
		// The origin's type (what keeps data centers apart across regions too), or TR for
		// anything that came over an inter-region connection.
		if s.org != nil && s.org.Type != 0 && slices.Contains(p.SourceChildInstanceTypes, s.org.Type) {
			return true
		}
		return slices.Contains(p.SourceChildInstanceTypes, typeOf(s.src))
	case condDestinationType:
		return slices.Contains(p.DestinationChildInstanceTypes, typeOf(s.dst))
	case condRouteType:
		k := s.kind
		if k == RouteStatic {
			k = RouteCustom // a static entry is a manually added (custom) route
		}
		return slices.Contains(p.RouteTypes, k)
	case condCIDR:
		for _, q := range p.DestinationCIDRs {
			if p.CidrMatchMode == MatchComplete {
				if q.Masked() == s.prefix {
					return true
				}
			} else if q.Bits() <= s.prefix.Bits() && q.Contains(s.prefix.Addr()) {
				return true
			}
		}
		return false
	case condASN:
		if p.AsPathMatchMode == MatchComplete {
			return slices.Equal(p.MatchASNs, s.asPath)
		}
		for _, a := range p.MatchASNs {
			if slices.Contains(s.asPath, a) {
				return true
			}
		}
		return false
	case condCommunity:
		if p.CommunityMatchMode == MatchComplete {
			return sameSet(p.comms, s.comms)
		}
		for _, c := range p.comms {
			if slices.Contains(s.comms, c) {
				return true
			}
		}
		return false
	case condAddressType:
		if p.MatchAddressType == IPv4 {
			return s.prefix.Addr().Is4()
		}
		return s.prefix.Addr().Is6()
	}
	return false
}

// sameSet reports whether the sorted unique list a holds exactly the elements of b.
func sameSet(a, b []string) bool {
	for _, x := range b {
		if _, ok := slices.BinarySearch(a, x); !ok {
			return false
		}
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// matches reports whether all conditions cs of p match s, and the first that does not.
func (p *policy) matches(cs []cond, dir Direction, s *subject) (bool, cond) {
	for _, c := range cs {
		if !p.test(c, dir, s) {
			return false, c
		}
	}
	return true, 0
}

// filter returns the policies of ps whose conditions cs match s: the route-independent part
// of the evaluation, done once per attachment. The result keeps the priority order.
func (ps policySet) filter(cs []cond, dir Direction, s *subject) policySet {
	var out policySet
	for _, p := range ps {
		if ok, _ := p.matches(cs, dir, s); ok {
			out = append(out, p)
		}
	}
	return out
}

// outcome is the result of evaluating a route against a policy set.
type outcome struct {
	denied   bool
	denier   *policy
	pref     int      // 0 = unchanged
	asPath   []uint32 // the new path when modified
	comms    []string // the new communities when modified
	modified bool
}

// evaluate runs the policies ps (already filtered by their route-independent conditions) over
// the route in s, checking the conditions cs. The first policy whose conditions all match
// decides: Deny drops the route; Permit applies its actions and stops, or with NextPriority
// continues at the first policy with priority >= NextPriority. s.asPath and s.comms are
// updated by the actions, so later policies of a chain see them.
func (ps policySet) evaluate(cs []cond, dir Direction, s *subject) outcome {
	var o outcome
	for i := 0; i < len(ps); {
		p := ps[i]
		if ok, _ := p.matches(cs, dir, s); !ok {
			i++
			continue
		}
		if p.Result == Deny {
			return outcome{denied: true, denier: p}
		}
		p.apply(s, &o)
		if p.NextPriority <= 0 {
			break
		}
		i = ps.next(i, p.NextPriority)
	}
	return o
}

// next is the index of the first policy after i with priority >= prio.
func (ps policySet) next(i, prio int) int {
	j := i + 1
	for j < len(ps) && ps[j].Priority < prio {
		j++
	}
	return j
}

// apply performs the Permit actions of p on s, recording them in o.
func (p *policy) apply(s *subject, o *outcome) {
	if p.Preference > 0 {
		o.pref = p.Preference
	}
	if len(p.PrependASPath) > 0 {
		path := make([]uint32, 0, len(p.PrependASPath)+len(s.asPath))
		path = append(append(path, p.PrependASPath...), s.asPath...)
		s.asPath, o.asPath, o.modified = path, path, true
	}
	if len(p.opComms) > 0 {
		var comms []string
		if p.CommunityOperateMode == CommunityReplace {
			comms = slices.Clone(p.opComms)
		} else {
			comms = slices.Clone(s.comms)
			for _, c := range p.opComms {
				if !slices.Contains(comms, c) {
					comms = append(comms, c)
				}
			}
		}
		if !slices.Equal(comms, s.comms) {
			s.comms, o.comms, o.modified = comms, comms, true
		}
	}
}

// PolicyStep is one route map in an explained evaluation.
type PolicyStep struct {
	RouteMapID string
	Priority   int
	Result     MapResult
	// Outcome: "matched: deny", "matched: permit", "matched: permit, continue at priority N",
	// "not matched", or "skipped" (passed over by an earlier map's NextPriority, or after the
	// decision).
	Outcome string
	// Failed is the first condition that did not match, with the values compared.
	Failed string `json:",omitempty"`
}

// trace evaluates like evaluate but over all policies of the set and all conditions cs,
// recording every step.
func (ps policySet) trace(cs []cond, dir Direction, s *subject) (outcome, []PolicyStep) {
	var o outcome
	steps := make([]PolicyStep, 0, len(ps))
	i := 0
	decided := false
	for k, p := range ps {
		st := PolicyStep{RouteMapID: p.ID, Priority: p.Priority, Result: p.Result}
		switch {
		case decided || k < i:
			st.Outcome = "skipped"
		default:
			ok, failed := p.matches(cs, dir, s)
			if !ok {
				st.Outcome = "not matched"
				st.Failed = p.describe(failed, dir, s)
				i = k + 1
				break
			}
			if p.Result == Deny {
				st.Outcome = "matched: deny"
				o = outcome{denied: true, denier: p}
				decided = true
				break
			}
			p.apply(s, &o)
			if p.NextPriority > 0 {
				st.Outcome = fmt.Sprintf("matched: permit, continue at priority %d", p.NextPriority)
				i = ps.next(k, p.NextPriority)
			} else {
				st.Outcome = "matched: permit"
				decided = true
			}
		}
		steps = append(steps, st)
	}
	return o, steps
}

// describe explains why condition c of p does not match s.
func (p *policy) describe(c cond, dir Direction, s *subject) string {
	name := condNames[c]
	inst := func(a *attState) string {
		if a == nil {
			return "none"
		}
		if a.a.ResourceID != "" {
			return a.a.ID + " (" + a.a.ResourceID + ")"
		}
		return a.a.ID
	}
	srcInst, srcType := inst(s.src), typeOf(s.src).String()
	if s.org != nil {
		srcInst += ", from " + s.org.InstanceID + " in " + s.org.Region()
		srcType += " (origin " + s.org.Type.String() + ")"
	}
	var got string
	var want any
	switch c {
	case condSourceInstance:
		got, want = srcInst, p.SourceInstanceIDs
		if p.SourceInstanceIDsReverse {
			name += " (reverse match)"
		}
	case condDestinationInstance:
		got, want = inst(s.dst), p.DestinationInstanceIDs
		if p.DestinationInstanceIDsReverse {
			name += " (reverse match)"
		}
	case condSourceRegion:
		got, want = s.sourceRegion(), p.SourceRegionIDs
	case condDestinationRegion:
		got, want = s.trRegion, p.DestinationRegionIDs
		if dir == RegionOut {
			got = regionOf(s.dst, s.trRegion)
		}
	case condSourceTable:
		got, want = s.table, p.SourceRouteTableIDs
	case condDestinationTable:
		got, want = s.table, p.DestinationRouteTableIDs
	case condSourceType:
		got, want = srcType, p.SourceChildInstanceTypes
	case condDestinationType:
		got, want = typeOf(s.dst).String(), p.DestinationChildInstanceTypes
	case condRouteType:
		got, want = s.kind.String(), p.RouteTypes
	case condCIDR:
		got, want = s.prefix.String(), p.DestinationCIDRs
		name += " (" + p.CidrMatchMode.String() + ")"
	case condASN:
		got, want = fmt.Sprint(s.asPath), p.MatchASNs
		name += " (" + p.AsPathMatchMode.String() + ")"
	case condCommunity:
		got, want = fmt.Sprint(s.comms), p.MatchCommunities
		name += " (" + p.CommunityMatchMode.String() + ")"
	case condAddressType:
		got, want = "IPv6", p.MatchAddressType
		if s.prefix.Addr().Is4() {
			got = "IPv4"
		}
	}
	return fmt.Sprintf("%s %v does not match %s", name, want, got)
}
