package service

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"opencen/internal/model"
	"opencen/internal/routing"
)

// LearnedRoute is a route learned from the customer over BGP.
type LearnedRoute struct {
	Prefix      string   `json:"prefix"`
	AsPath      []uint32 `json:"asPath,omitempty"`
	Communities []string `json:"communities,omitempty"`
}

// routingInput builds the routing engine's input for one transit router from the store.
// Only settled objects count: Active associations, propagations, entries and policies,
// Attached attachments.
func (s *Service) routingInput(ctx context.Context, tr *model.TransitRouter) (routing.Input, error) {
	in := routing.Input{Region: tr.Region, Associations: map[string]string{}, Propagations: map[string][]string{}}
	var err error
	if in.EcmpLimit, err = s.quotaOf(ctx, tr.Owner, QuotaEcmpVpnConnections); err != nil {
		return in, err
	}
	tables, err := listKind[model.RouteTable](ctx, s, model.KindRouteTable)
	if err != nil {
		return in, err
	}
	for _, rt := range tables {
		if rt.TransitRouterID == tr.ID && rt.Status != model.StatusCreating {
			in.Tables = append(in.Tables, routing.Table{ID: rt.ID})
		}
	}
	vpnAtts, err := listKind[model.VpnAttachment](ctx, s, model.KindVpnAttachment)
	if err != nil {
		return in, err
	}
	for _, a := range vpnAtts {
		if a.TransitRouterID != tr.ID || a.Status != model.AttachmentAttached {
			continue
		}
		att, err := s.vpnRoutingAttachment(ctx, a)
		if err != nil {
			return in, err
		}
		in.Attachments = append(in.Attachments, att)
	}
	vpcAtts, err := listKind[model.VpcAttachment](ctx, s, model.KindVpcAttachment)
	if err != nil {
		return in, err
	}
	for _, a := range vpcAtts {
		if a.TransitRouterID != tr.ID || a.Status != model.AttachmentAttached {
			continue
		}
		att, err := s.vpcRoutingAttachment(ctx, a)
		if err != nil {
			return in, err
		}
		in.Attachments = append(in.Attachments, att)
	}
	peers, err := listKind[model.PeerAttachment](ctx, s, model.KindPeerAttachment)
	if err != nil {
		return in, err
	}
	for _, a := range peers {
		if !a.Connects(tr.ID) || a.Status != model.AttachmentAttached {
			continue
		}
		// Its routes are what the router at the other end advertises to it (routing.Converge).
		other, region := a.Other(tr.ID)
		in.Attachments = append(in.Attachments, routing.Attachment{ID: a.ID, Type: routing.TypeTR, ResourceID: other,
			Region: region, AutoPublish: a.AutoPublishRouteEnabled})
	}
	assocs, err := listKind[model.Association](ctx, s, model.KindAssociation)
	if err != nil {
		return in, err
	}
	for _, a := range assocs {
		if a.TransitRouterID == tr.ID && a.Status == model.StatusActive {
			in.Associations[a.AttachmentID] = a.TableID
		}
	}
	props, err := listKind[model.Propagation](ctx, s, model.KindPropagation)
	if err != nil {
		return in, err
	}
	for _, p := range props {
		if p.TransitRouterID == tr.ID && p.Status == model.StatusActive {
			in.Propagations[p.AttachmentID] = append(in.Propagations[p.AttachmentID], p.TableID)
		}
	}
	entries, err := listKind[model.RouteEntry](ctx, s, model.KindRouteEntry)
	if err != nil {
		return in, err
	}
	for _, e := range entries {
		if e.TransitRouterID != tr.ID || e.Status != model.StatusActive {
			continue
		}
		p, ok := s.storedPrefix(e.ID, "DestinationCidrBlock", e.Destination)
		if !ok {
			continue
		}
		in.Statics = append(in.Statics, routing.StaticEntry{ID: e.ID, TableID: e.TableID, Prefix: p,
			NextHop: e.NextHopID, BlackHole: e.NextHopType == "BlackHole"})
	}
	maps, err := listKind[model.RouteMap](ctx, s, model.KindRouteMap)
	if err != nil {
		return in, err
	}
	for _, m := range maps {
		if m.TransitRouterID == tr.ID && m.Status == model.StatusActive {
			rm, err := routingMap(m)
			if err != nil {
				// A damaged policy is left out (and logged) rather than failing the router.
				s.log.Warn("a stored routing policy does not convert; it is left out of routing", "policy", m.ID, "err", err)
				continue
			}
			in.RouteMaps = append(in.RouteMaps, rm)
		}
	}
	return in, nil
}

// quotaOf reads a quota outside a transaction.
func (s *Service) quotaOf(ctx context.Context, account, name string) (int, error) {
	q, err := s.Quotas(ctx, account)
	return q[name], err
}

// vpnRoutingAttachment is what a VPN attachment offers: flow-protection peer CIDRs and
// VPN-side static routes (Custom), BGP-learned routes; withdrawn while its health check
// fails with revoke_route.
func (s *Service) vpnRoutingAttachment(ctx context.Context, a *model.VpnAttachment) (routing.Attachment, error) {
	att := routing.Attachment{ID: a.ID, Type: routing.TypeVPN, ResourceID: a.VpnID, AutoPublish: a.AutoPublishRouteEnabled}
	kv, ok, err := s.st.Get(ctx, resKey(model.KindVpnConnection, a.VpnID))
	if err != nil || !ok {
		return att, err
	}
	var v model.VpnConnection
	if err := json.Unmarshal(kv.Value, &v); err != nil {
		return att, err
	}
	if v.FlowProtection() && v.RemoteSubnet != model.AllIPv4 {
		for _, c := range strings.Split(v.RemoteSubnet, ",") {
			if p, ok := s.storedPrefix(v.ID, "RemoteSubnet", c); ok {
				att.Routes = append(att.Routes, routing.OfferedRoute{Prefix: p, Kind: routing.RouteCustom})
			}
		}
	}
	routes, err := listKind[model.VcoRoute](ctx, s, model.KindVcoRoute)
	if err != nil {
		return att, err
	}
	for _, r := range routes {
		if r.VpnConnectionID != v.ID {
			continue
		}
		if p, ok := s.storedPrefix(r.ID, "RouteDest", r.RouteDest); ok {
			att.Routes = append(att.Routes, routing.OfferedRoute{Prefix: p, Kind: routing.RouteCustom})
		}
	}
	learned, err := s.learnedRoutes(ctx, &v)
	if err != nil {
		return att, err
	}
	for _, r := range learned {
		p, err := netip.ParsePrefix(r.Prefix)
		if err != nil {
			continue
		}
		att.Routes = append(att.Routes, routing.OfferedRoute{Prefix: p, Kind: routing.RouteBGP, AsPath: r.AsPath, Communities: r.Communities})
	}
	health, err := s.healthStatus(ctx, &v)
	if err != nil {
		return att, err
	}
	att.Withdrawn = v.HealthCheck.Enable && v.HealthCheck.Policy == "revoke_route" && health == "failed"
	return att, nil
}

// learnedRoutes are the routes a connection learned over BGP: a dual-tunnel connection's
// are both tunnels' (a prefix learned over both once, as the first tunnel learned it);
// the data plane sends over whichever tunnel is up.
func (s *Service) learnedRoutes(ctx context.Context, v *model.VpnConnection) ([]LearnedRoute, error) {
	var out []LearnedRoute
	seen := map[string]bool{}
	for _, u := range v.Units() {
		kv, ok, err := s.st.Get(ctx, BGPRoutesKey(u.ID))
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		var rs []LearnedRoute
		if err := json.Unmarshal(kv.Value, &rs); err != nil {
			return nil, fmt.Errorf("learned routes of %s: %w", u.ID, err)
		}
		for _, r := range rs {
			if !seen[r.Prefix] {
				seen[r.Prefix] = true
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// vpcRoutingAttachment offers the VPC's CIDR and the CIDRs of the vSwitches it is attached
// through (System routes).
func (s *Service) vpcRoutingAttachment(ctx context.Context, a *model.VpcAttachment) (routing.Attachment, error) {
	att := routing.Attachment{ID: a.ID, Type: routing.TypeVPC, ResourceID: a.VpcID}
	kv, ok, err := s.st.Get(ctx, resKey(model.KindVPC, a.VpcID))
	if err != nil || !ok {
		return att, err
	}
	var v model.VPC
	if err := json.Unmarshal(kv.Value, &v); err != nil {
		return att, err
	}
	if p, ok := s.storedPrefix(v.ID, "CidrBlock", v.CidrBlock); ok {
		att.Routes = append(att.Routes, routing.OfferedRoute{Prefix: p, Kind: routing.RouteSystem})
	}
	for _, z := range a.ZoneMappings {
		kv, ok, err := s.st.Get(ctx, resKey(model.KindVSwitch, z.VSwitchID))
		if err != nil {
			return att, err
		}
		var sw model.VSwitch
		if ok && json.Unmarshal(kv.Value, &sw) == nil && sw.CidrBlock != v.CidrBlock {
			if p, ok := s.storedPrefix(sw.ID, "CidrBlock", sw.CidrBlock); ok {
				att.Routes = append(att.Routes, routing.OfferedRoute{Prefix: p, Kind: routing.RouteSystem})
			}
		}
	}
	return att, nil
}

// routingMap converts a stored policy for the engine.
func routingMap(m *model.RouteMap) (routing.RouteMap, error) {
	rm := routing.RouteMap{ID: m.ID, Priority: m.Priority, TableID: m.RouteTableID, NextPriority: m.NextPriority,
		SourceInstanceIDs: m.SourceInstanceIDs, SourceInstanceIDsReverse: m.SourceInstanceIDsReverseMatch,
		DestinationInstanceIDs: m.DestinationInstanceIDs, DestinationInstanceIDsReverse: m.DestinationInstanceIDsReverseMatch,
		SourceRegionIDs: m.SourceRegionIDs, DestinationRegionIDs: m.DestinationRegionIDs,
		SourceRouteTableIDs: m.SourceRouteTableIDs, DestinationRouteTableIDs: m.DestinationRouteTableIDs,
		MatchCommunities: m.MatchCommunitySet, Preference: m.Preference, OperateCommunities: m.OperateCommunitySet}
	var err error
	if rm.Direction, err = routing.ParseDirection(m.TransmitDirection); err != nil {
		return rm, err
	}
	if rm.Result, err = routing.ParseMapResult(m.MapResult); err != nil {
		return rm, err
	}
	for _, t := range m.SourceChildInstanceTypes {
		if at, err := routing.ParseAttachmentType(t); err == nil {
			rm.SourceChildInstanceTypes = append(rm.SourceChildInstanceTypes, at)
		}
	}
	for _, t := range m.DestinationChildInstanceTypes {
		if at, err := routing.ParseAttachmentType(t); err == nil {
			rm.DestinationChildInstanceTypes = append(rm.DestinationChildInstanceTypes, at)
		}
	}
	for _, t := range m.RouteTypes {
		rt, err := routing.ParseRouteType(t)
		if err != nil {
			return rm, err
		}
		rm.RouteTypes = append(rm.RouteTypes, rt)
	}
	for _, c := range m.DestinationCidrBlocks {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return rm, fmt.Errorf("routing policy %s: DestinationCidrBlocks %q: %w", m.ID, c, err)
		}
		rm.DestinationCIDRs = append(rm.DestinationCIDRs, p)
	}
	for _, n := range m.MatchAsns {
		rm.MatchASNs = append(rm.MatchASNs, uint32(n))
	}
	for _, n := range m.PrependAsPath {
		rm.PrependASPath = append(rm.PrependASPath, uint32(n))
	}
	for _, mode := range []struct {
		v   string
		dst *routing.MatchMode
	}{{m.CidrMatchMode, &rm.CidrMatchMode}, {m.AsPathMatchMode, &rm.AsPathMatchMode}, {m.CommunityMatchMode, &rm.CommunityMatchMode}} {
		if mode.v != "" {
			if *mode.dst, err = routing.ParseMatchMode(mode.v); err != nil {
				return rm, err
			}
		}
	}
	if m.MatchAddressType != "" {
		if rm.MatchAddressType, err = routing.ParseAddressType(m.MatchAddressType); err != nil {
			return rm, err
		}
	}
	if m.CommunityOperateMode != "" {
		if rm.CommunityOperateMode, err = routing.ParseCommunityOperateMode(m.CommunityOperateMode); err != nil {
			return rm, err
		}
	}
	return rm, nil
}

// trEngine keeps the routing engines of a group of transit routers between calls: one
// router, or the routers of a CEN joined by inter-region connections (whose tables depend
// on each other's). Each use converges them to the store's current state; an engine
// recomputes only the (table, prefix) pairs whose inputs changed. It is evicted when one of
// its routers goes (evictEngines).
type trEngine struct {
	mu      sync.Mutex
	routers map[string]*routing.Router
	// revs are the revisions the engines' input reflects: desired state, then each
	// router's routing observations (learned routes, health verdicts) in key order.
	revs []int64
	// computed counts the recomputations (for tests).
	computed int
}

// maxConvergeRounds bounds the exchange of routes over inter-region connections: a chain
// of n regions settles in about n rounds; policies that keep changing each other's choices
// in a ring need not settle at all (as with BGP), and then the last round's tables are used.
const maxConvergeRounds = 32

// routerGroup returns the transit routers reachable from tr over Attached inter-region
// connections (tr first, then by ID) and those connections.
func (s *Service) routerGroup(ctx context.Context, tr *model.TransitRouter) ([]*model.TransitRouter, []routing.PeerLink, error) {
	peers, err := listKind[model.PeerAttachment](ctx, s, model.KindPeerAttachment)
	if err != nil {
		return nil, nil, err
	}
	var trs map[string]*model.TransitRouter // read only when tr has a connection
	group := []*model.TransitRouter{tr}
	var links []routing.PeerLink
	in := map[string]bool{tr.ID: true}
	for i := 0; i < len(group); i++ {
		for _, a := range peers {
			if a.Status != model.AttachmentAttached || !a.Connects(group[i].ID) {
				continue
			}
			other, _ := a.Other(group[i].ID)
			if in[other] {
				continue
			}
			if trs == nil {
				if trs, err = byID[model.TransitRouter](ctx, s, model.KindTR); err != nil {
					return nil, nil, err
				}
			}
			o := trs[other]
			if o == nil {
				continue // the connection's other router is gone: nothing comes over it
			}
			in[other] = true
			group = append(group, o)
		}
	}
	for _, a := range peers {
		r := a.Routers()
		if a.Status == model.AttachmentAttached && in[r[0]] && in[r[1]] {
			links = append(links, routing.PeerLink{AttachmentID: a.ID, A: r[0], B: r[1]})
		}
	}
	slices.SortFunc(group[1:], func(a, b *model.TransitRouter) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(links, func(a, b routing.PeerLink) int { return strings.Compare(a.AttachmentID, b.AttachmentID) })
	return group, links, nil
}

// groupKey names a group's engines: its routers' IDs, sorted, joined by "+".
func groupKey(group []*model.TransitRouter) string {
	ids := make([]string, len(group))
	for i, tr := range group {
		ids[i] = tr.ID
	}
	slices.Sort(ids)
	return strings.Join(ids, "+")
}

// sharesRouter reports whether a group key names one of group's routers.
func sharesRouter(key string, group []*model.TransitRouter) bool {
	for _, id := range strings.Split(key, "+") {
		if slices.ContainsFunc(group, func(tr *model.TransitRouter) bool { return tr.ID == id }) {
			return true
		}
	}
	return false
}

// withRoutes runs fn with the transit router's computed tables, current as of the call.
// fn must not keep what it reads: the engine is updated in place.
func (s *Service) withRoutes(ctx context.Context, tr *model.TransitRouter, fn func(routing.View) error) error {
	group, links, err := s.routerGroup(ctx, tr)
	if err != nil {
		return err
	}
	key := groupKey(group)
	v, loaded := s.engines.LoadOrStore(key, &trEngine{})
	if !loaded {
		// A connection came or went: the engines of the groups its routers were in before
		// are stale.
		s.engines.Range(func(k, _ any) bool {
			if old, _ := k.(string); old != key && sharesRouter(old, group) {
				s.engines.Delete(k)
			}
			return true
		})
	}
	te, ok := v.(*trEngine)
	if !ok {
		return fmt.Errorf("routing engine of %s has the wrong type", key)
	}
	te.mu.Lock()
	defer te.mu.Unlock()
	// In the key's order, whichever member asks: te.revs must compare equal across them.
	keys := []string{specRevKey}
	for _, id := range strings.Split(key, "+") {
		keys = append(keys, routingRevKeyOf(id))
	}
	revs, err := s.revisions(ctx, keys...)
	if err != nil {
		return err
	}
	if !slices.Equal(te.revs, revs) {
		if te.routers == nil {
			te.routers = map[string]*routing.Router{}
		}
		for _, r := range group {
			in, err := s.routingInput(ctx, r)
			if err != nil {
				return err
			}
			rt := te.routers[r.ID]
			if rt == nil {
				rt = &routing.Router{ID: r.ID, Region: r.Region, Engine: routing.NewEngine()}
				te.routers[r.ID] = rt
			}
			rt.Engine.Replace(in)
			rt.Engine.Flush()
		}
		if len(links) > 0 {
			if rounds, settled := routing.Converge(te.routers, links, maxConvergeRounds); !settled {
				s.log.Warn("routes over inter-region connections did not settle; the last round's tables are used",
					"routers", key, "rounds", rounds)
			}
		}
		te.revs = revs
		te.computed++
	}
	return fn(te.routers[tr.ID].Engine)
}

// storedPrefix parses a prefix from a stored record; one that does not parse (an old or
// damaged record) is left out of routing and logged, instead of failing the router.
func (s *Service) storedPrefix(id, field, v string) (netip.Prefix, bool) {
	p, err := netip.ParsePrefix(strings.TrimSpace(v))
	if err != nil {
		s.log.Warn("a stored prefix does not parse; it is left out of routing", "resource", id, "field", field, "value", v)
		return netip.Prefix{}, false
	}
	return p.Masked(), true
}

// ownedTR reads a transit router of the caller.
func (s *Service) ownedTR(ctx context.Context, c Caller, trID string) (*model.TransitRouter, error) {
	var tr *model.TransitRouter
	err := s.update(ctx, func(t *txn) error {
		var err error
		tr, err = getOwned[model.TransitRouter](t, c, model.KindTR, trID, trNotFound(trID))
		return err
	})
	return tr, err
}

// TableRoutes runs fn with the computed entries of one of the caller's route tables.
func (s *Service) TableRoutes(ctx context.Context, c Caller, tableID string, fn func(entries []routing.Entry, rt *model.RouteTable) error) error {
	var rt *model.RouteTable
	err := s.update(ctx, func(t *txn) error {
		var err error
		rt, err = s.ownedTable(t, c, tableID)
		return err
	})
	if err != nil {
		return err
	}
	tr, err := s.ownedTR(ctx, c, rt.TransitRouterID)
	if err != nil {
		return err
	}
	return s.withRoutes(ctx, tr, func(v routing.View) error { return fn(v.Table(rt.ID), rt) })
}

// ExplainRoute explains a prefix of a table (default: the System table, or the
// attachment's associated one) and its advertisement to an attachment. When the prefix is
// forwarded over inter-region connections, it is followed to the routers at their other
// ends (each router once).
func (s *Service) ExplainRoute(ctx context.Context, c Caller, trID, tableID string, prefix netip.Prefix, attachmentID string) (routing.Explanation, error) {
	tr, err := s.ownedTR(ctx, c, trID)
	if err != nil {
		return routing.Explanation{}, err
	}
	if tableID == "" && attachmentID == "" {
		tableID = tr.SystemTableID
	}
	var x routing.Explanation
	err = s.withRoutes(ctx, tr, func(v routing.View) error {
		x = v.Explain(tableID, prefix, attachmentID)
		return nil
	})
	if err != nil {
		return x, err
	}
	return x, s.explainAcross(ctx, &x, tr, map[string]bool{tr.ID: true})
}

// explainAcross fills in x.Across for the next hops of x's forwarding route that are
// inter-region connections, and so on from there; seen are the routers explained already.
func (s *Service) explainAcross(ctx context.Context, x *routing.Explanation, tr *model.TransitRouter, seen map[string]bool) error {
	if x.Forwarding == nil {
		return nil
	}
	for _, hop := range x.Forwarding.NextHops {
		a, err := getKind[model.PeerAttachment](ctx, s, model.KindPeerAttachment, hop)
		if err != nil {
			return err
		}
		if a == nil || !a.Connects(tr.ID) {
			continue
		}
		otherID, region := a.Other(tr.ID)
		cr := routing.Crossing{AttachmentID: a.ID, TransitRouterID: otherID, Region: region}
		other, err := getKind[model.TransitRouter](ctx, s, model.KindTR, otherID)
		switch {
		case err != nil:
			return err
		case other == nil:
			cr.Reason = "the transit router at the other end is gone"
		case seen[otherID]:
			cr.Reason = "explained above"
		default:
			seen[otherID] = true
			var y routing.Explanation
			err := s.withRoutes(ctx, other, func(v routing.View) error {
				y = v.Explain("", x.Prefix, a.ID)
				return nil
			})
			if err != nil {
				return err
			}
			// What the other router advertises back over the connection is not the question.
			y.Advertisement = nil
			if err := s.explainAcross(ctx, &y, other, seen); err != nil {
				return err
			}
			cr.Explanation = &y
		}
		x.Across = append(x.Across, cr)
	}
	return nil
}

// StaticEntries returns the stored static entries of a table (for names, descriptions,
// creation times and transitional statuses the engine does not know).
func (s *Service) StaticEntries(ctx context.Context, tableID string) (map[string]*model.RouteEntry, error) {
	all, err := listKind[model.RouteEntry](ctx, s, model.KindRouteEntry)
	if err != nil {
		return nil, err
	}
	out := map[string]*model.RouteEntry{}
	for _, e := range all {
		if e.TableID == tableID {
			out[e.ID] = e
		}
	}
	return out, nil
}

// AttachmentResources maps attachment IDs of a transit router to (resource ID, type).
func (s *Service) AttachmentResources(ctx context.Context, trID string) (map[string][2]string, error) {
	out := map[string][2]string{}
	vpn, err := listKind[model.VpnAttachment](ctx, s, model.KindVpnAttachment)
	if err != nil {
		return nil, err
	}
	for _, a := range vpn {
		if a.TransitRouterID == trID {
			out[a.ID] = [2]string{a.VpnID, "VPN"}
		}
	}
	vpc, err := listKind[model.VpcAttachment](ctx, s, model.KindVpcAttachment)
	if err != nil {
		return nil, err
	}
	for _, a := range vpc {
		if a.TransitRouterID == trID {
			out[a.ID] = [2]string{a.VpcID, "VPC"}
		}
	}
	peers, err := listKind[model.PeerAttachment](ctx, s, model.KindPeerAttachment)
	if err != nil {
		return nil, err
	}
	for _, a := range peers {
		if a.Connects(trID) {
			other, _ := a.Other(trID)
			out[a.ID] = [2]string{other, "TR"}
		}
	}
	return out, nil
}

// VpnAdvertised is what route synchronization advertises to a connection (DescribeVcoRouteEntries Source CLOUD).
func (s *Service) VpnAdvertised(ctx context.Context, c Caller, region, vcoID string) ([]routing.Entry, []LearnedRoute, error) {
	v, err := s.DescribeVpnConnection(ctx, c, region, vcoID)
	if err != nil {
		return nil, nil, err
	}
	learned, err := s.learnedRoutes(ctx, v.VpnConnection)
	if err != nil || v.TransitRouterID == "" {
		return nil, learned, err
	}
	kv, ok, err := s.st.Get(ctx, resKey(model.KindTR, v.TransitRouterID))
	if err != nil || !ok {
		return nil, learned, err
	}
	var tr model.TransitRouter
	if err := json.Unmarshal(kv.Value, &tr); err != nil {
		return nil, learned, err
	}
	var adv []routing.Entry
	err = s.withRoutes(ctx, &tr, func(view routing.View) error {
		adv = slices.Clone(view.Advertised(v.AttachmentID))
		return nil
	})
	return adv, learned, err
}
