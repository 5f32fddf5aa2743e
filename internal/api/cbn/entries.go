package cbn

import (
	"context"
	"net/netip"
	"slices"
	"sort"
	"strconv"

	"opencen/internal/api"
	"opencen/internal/apierr"
	"opencen/internal/model"
	"opencen/internal/routing"
	"opencen/internal/rpc"
)

// entryStatuses are the values TransitRouterRouteEntryStatus filters by.
var entryStatuses = []string{"All", "Active", "Rejected", "Prohibited", "Standby", "Candidate", "Creating", "Deleting"}

// routeFilter is one RouteFilter.N condition.
type routeFilter struct {
	key    string
	values []netip.Prefix
}

func (f routeFilter) match(p netip.Prefix, all []netip.Prefix) bool {
	for _, v := range f.values {
		switch f.key {
		case "PrefixExactMatchCidrs":
			if p == v {
				return true
			}
		case "SubnetOfMatchCidrs":
			if v.Bits() <= p.Bits() && v.Contains(p.Addr()) {
				return true
			}
		case "SupernetOfMatchCidrs":
			if p.Bits() <= v.Bits() && p.Contains(v.Addr()) {
				return true
			}
		case "LongestPrefixMatchCidrs":
			// The longest of the table's prefixes that contains v.
			best := netip.Prefix{}
			for _, q := range all {
				if q.Bits() <= v.Bits() && q.Contains(v.Addr()) && (!best.IsValid() || q.Bits() > best.Bits()) {
					best = q
				}
			}
			if best == p {
				return true
			}
		}
	}
	return false
}

func (h handlers) listEntries(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	tableID := p["TransitRouterRouteTableId"]
	if tableID == "" {
		return nil, apierr.Missing("TransitRouterRouteTableId")
	}
	tp, err := api.TokenParams(p, "MaxResults", 20, 100)
	if err != nil {
		return nil, err
	}
	status := p["TransitRouterRouteEntryStatus"]
	if status == "" {
		status = "Active"
	}
	if !slices.Contains(entryStatuses, status) {
		return nil, apierr.Invalid("TransitRouterRouteEntryStatus", "TransitRouterRouteEntryStatus must be one of %v; got %q.", entryStatuses, status)
	}
	var filters []routeFilter
	routeFilters, err := p.Objects("RouteFilter")
	if err != nil {
		return nil, err
	}
	var ids, names []string
	if err := api.ReadLists(p, api.ListParam{Name: "TransitRouterRouteEntryIds", Dst: &ids}, api.ListParam{Name: "TransitRouterRouteEntryNames", Dst: &names}); err != nil {
		return nil, err
	}
	for i, o := range routeFilters {
		f := routeFilter{key: o.Get("Key")}
		if !slices.Contains([]string{"PrefixExactMatchCidrs", "LongestPrefixMatchCidrs", "SubnetOfMatchCidrs", "SupernetOfMatchCidrs"}, f.key) {
			return nil, apierr.Invalid(api.Indexed("RouteFilter", i+1, "Key"), "RouteFilter key %q must be PrefixExactMatchCidrs, LongestPrefixMatchCidrs, SubnetOfMatchCidrs or SupernetOfMatchCidrs.", f.key)
		}
		values, err := o.List("Value")
		if err != nil {
			return nil, err
		}
		for j, v := range values {
			pv, err := netip.ParsePrefix(v)
			if err != nil {
				return nil, apierr.Invalid(api.Indexed("RouteFilter", i+1, api.Indexed("Value", j+1, "")), "RouteFilter value %q is not a CIDR block.", v)
			}
			f.values = append(f.values, pv.Masked())
		}
		filters = append(filters, f)
	}
	var out []rpc.Object
	err = h.svc.TableRoutes(ctx, api.Caller(r), tableID, func(entries []routing.Entry, rt *model.RouteTable) error {
		statics, err := h.svc.StaticEntries(ctx, rt.ID)
		if err != nil {
			return err
		}
		resources, err := h.svc.AttachmentResources(ctx, rt.TransitRouterID)
		if err != nil {
			return err
		}
		out = filterEntries(p, entryItems(entries, statics, resources), status, ids, names, filters)
		return nil
	})
	if err != nil {
		return nil, err
	}
	page, next := api.TokenPageOf(out, tp)
	if page == nil {
		page = []rpc.Object{}
	}
	return rpc.Object{"TotalCount": len(out), "MaxResults": tp.Max, "NextToken": next, "TransitRouterRouteEntries": page}, nil
}

// filterEntries applies ListTransitRouterRouteEntries' filters.
func filterEntries(p rpc.Params, items []entryItem, status string, ids, names []string, filters []routeFilter) []rpc.Object {
	var kept []entryItem
	for _, it := range items {
		o := it.obj
		if (status == "All" || o["TransitRouterRouteEntryStatus"] == status) &&
			(len(ids) == 0 || slices.Contains(ids, str(o["TransitRouterRouteEntryId"]))) &&
			(len(names) == 0 || slices.Contains(names, str(o["TransitRouterRouteEntryName"]))) &&
			matches(p, "TransitRouterRouteEntryDestinationCidrBlock", o) && matches(p, "TransitRouterRouteEntryType", o) &&
			matches(p, "TransitRouterRouteEntryNextHopType", o) && matches(p, "TransitRouterRouteEntryNextHopId", o) &&
			matches(p, "TransitRouterRouteEntryNextHopResourceId", o) && matches(p, "TransitRouterRouteEntryNextHopResourceType", o) &&
			matches(p, "TransitRouterRouteEntryOriginResourceId", o) && matches(p, "TransitRouterRouteEntryOriginResourceType", o) {
			kept = append(kept, it)
		}
	}
	// Route filters apply to what the other filters kept (longest prefix match among them).
	var prefixes []netip.Prefix
	for _, it := range kept {
		prefixes = append(prefixes, it.prefix)
	}
	var out []rpc.Object
	for _, it := range kept {
		keep := true
		for _, f := range filters {
			keep = keep && f.match(it.prefix, prefixes)
		}
		if keep {
			out = append(out, it.obj)
		}
	}
	return out
}

func str(v any) string { s, _ := v.(string); return s }

// matches applies an exact-match filter parameter to the item field of the same name.
func matches(p rpc.Params, name string, o rpc.Object) bool {
	v, ok := p.Get(name)
	return !ok || v == "" || str(o[name]) == v
}

type entryItem struct {
	prefix netip.Prefix
	obj    rpc.Object
}

// entryItems renders computed entries, plus static entries the engine does not see yet
// (Creating, Deleting), as ListTransitRouterRouteEntries shows them.
func entryItems(entries []routing.Entry, statics map[string]*model.RouteEntry, resources map[string][2]string) []entryItem {
	var items []entryItem
	seen := map[string]bool{}
	for _, e := range entries {
		o := rpc.Object{
			"TransitRouterRouteEntryDestinationCidrBlock": e.Prefix.String(), "TransitRouterRouteEntryType": e.Type.String(),
			"TransitRouterRouteEntryStatus": e.Status.String(), "OperationalMode": e.Type == routing.EntryStatic, "Tag": "", "PrefixListId": "",
		}
		if e.BlackHole {
			o["TransitRouterRouteEntryNextHopType"] = "BlackHole"
		} else {
			o["TransitRouterRouteEntryNextHopType"] = "Attachment"
			o["TransitRouterRouteEntryNextHopId"] = e.NextHop
			o["TransitRouterRouteEntryNextHopResourceId"], o["TransitRouterRouteEntryNextHopResourceType"] = resources[e.NextHop][0], resources[e.NextHop][1]
		}
		origin := e.Path.OriginInstanceID
		o["TransitRouterRouteEntryOriginResourceId"], o["TransitRouterRouteEntryOriginResourceType"] = origin, e.Path.OriginInstanceType.String()
		asPaths := []string{} // strings, as the SDK models declare
		for _, a := range e.Path.AsPath {
			asPaths = append(asPaths, strconv.FormatUint(uint64(a), 10))
		}
		communities := append([]string{}, e.Path.Communities...) // rendered after the engine moves on
		o["PathAttributes"] = rpc.Object{"AsPaths": asPaths, "Communities": communities, "OriginInstanceId": origin,
			"OriginInstanceType": e.Path.OriginInstanceType.String(), "OriginRouteType": e.Path.OriginRouteType.String(), "Preference": e.Path.Preference}
		if st, ok := statics[e.StaticID]; ok && e.Type == routing.EntryStatic {
			seen[st.ID] = true
			addStatic(o, st)
		}
		items = append(items, entryItem{e.Prefix, o})
	}
	var pending []*model.RouteEntry
	for _, st := range statics {
		if !seen[st.ID] {
			pending = append(pending, st)
		}
	}
	sort.Slice(pending, func(i, j int) bool { return pending[i].ID < pending[j].ID })
	for _, st := range pending {
		p, err := netip.ParsePrefix(st.Destination)
		if err != nil {
			continue // a damaged record: the routing engine leaves it out too
		}
		o := rpc.Object{"TransitRouterRouteEntryDestinationCidrBlock": st.Destination, "TransitRouterRouteEntryType": "Static",
			"TransitRouterRouteEntryStatus": st.Status, "TransitRouterRouteEntryNextHopType": st.NextHopType, "OperationalMode": true, "Tag": "", "PrefixListId": "",
			"PathAttributes": rpc.Object{"AsPaths": []string{}, "Communities": []string{}, "OriginRouteType": pendingOrigin(st), "Preference": 0}}
		if st.NextHopType == "Attachment" {
			o["TransitRouterRouteEntryNextHopId"] = st.NextHopID
			o["TransitRouterRouteEntryNextHopResourceId"], o["TransitRouterRouteEntryNextHopResourceType"] = resources[st.NextHopID][0], resources[st.NextHopID][1]
		}
		addStatic(o, st)
		items = append(items, entryItem{p, o})
	}
	return items
}

// pendingOrigin is the origin route type of a static entry the engine has not seen yet,
// as it will show once Active.
func pendingOrigin(st *model.RouteEntry) string {
	if st.NextHopType == "BlackHole" {
		return routing.RouteBlackHole.String()
	}
	return routing.RouteStatic.String()
}

func addStatic(o rpc.Object, st *model.RouteEntry) {
	o["TransitRouterRouteEntryId"], o["TransitRouterRouteEntryName"] = st.ID, st.Name
	o["TransitRouterRouteEntryDescription"], o["CreateTime"] = st.Description, model.CBNTime(st.Created)
	if st.Status != model.StatusActive {
		o["TransitRouterRouteEntryStatus"] = st.Status
	}
}
