package routing

import (
	"slices"
)

// Across regions. The transit routers of one CEN in different regions are joined by
// inter-region connections (peer attachments, Type TR). Each router keeps its own tables;
// a connection is an attachment of both: on each router it is associated with one table,
// whose routes the router advertises to the other region (after that table's RegionOut
// policies, split horizon aside), and it propagates into tables, which learn what the
// other router advertises to it (through their RegionIn policies). A route that crosses
// carries its origin: the instance it started at, its type and the regions it went
// through, so that policies at the region boundary match the origin (SourceInstanceIds,
// SourceRegionIds, SourceChildInstanceTypes), the system policy keeps data centers of two
// regions apart as it does within one, and no router takes back a route that was in its
// own region (no loops in a ring of regions).

// Carry turns what a router in region from advertises to an inter-region connection into
// what the connection offers the router at its other end, in region to. Routes that were
// in region to already are left out.
func Carry(advertised []Entry, from, to string) []OfferedRoute {
	out := make([]OfferedRoute, 0, len(advertised))
	for _, e := range advertised {
		if e.BlackHole {
			continue
		}
		regions := e.Path.Regions
		if slices.Contains(regions, to) || from == to {
			continue
		}
		kind := e.Path.OriginRouteType
		if kind == RouteStatic {
			kind = RouteCustom // a static entry is a manually added route over there
		}
		// Cloned: the receiving engine owns what it is offered, and these belong to the
		// advertising engine's tables.
		r := OfferedRoute{Prefix: e.Prefix, Kind: kind, AsPath: slices.Clone(e.Path.AsPath), Communities: slices.Clone(e.Path.Communities),
			Origin: Origin{InstanceID: e.Path.OriginInstanceID, Type: e.Path.OriginInstanceType, Regions: append(slices.Clip(regions), from)}}
		out = append(out, r)
	}
	return out
}

// Router is one transit router of a CEN in a cross-region computation.
type Router struct {
	ID, Region string
	Engine     *Engine
}

// PeerLink is an inter-region connection between routers A and B: an attachment (Type
// TR) with the same ID in both routers' inputs.
type PeerLink struct {
	AttachmentID string
	A, B         string
}

// Converge fills in what every inter-region connection offers, from what the router at
// its other end advertises to it, and recomputes until nothing changes. The routers'
// engines must hold their input (Replace and Flush) with the connections' attachments;
// their Routes are replaced. It stops after maxRounds (a ring of regions with policies
// that keep changing their choices need not settle, as with BGP) and reports the rounds
// run and whether it settled.
func Converge(routers map[string]*Router, links []PeerLink, maxRounds int) (int, bool) {
	type end struct {
		at, from *Router
		att      string
	}
	var ends []end
	for _, l := range links {
		a, b := routers[l.A], routers[l.B]
		if a == nil || b == nil {
			continue
		}
		ends = append(ends, end{at: b, from: a, att: l.AttachmentID}, end{at: a, from: b, att: l.AttachmentID})
	}
	for round := 1; round <= maxRounds; round++ {
		// Everything is read before anything changes: each round is one step of every
		// router at once, whatever the order of the links.
		type change struct {
			e      end
			routes []OfferedRoute
		}
		var changes []change
		for _, e := range ends {
			cur := e.at.Engine.s.atts[e.att]
			if cur == nil {
				continue
			}
			routes := normalizeRoutes(Carry(e.from.Engine.Advertised(e.att), e.from.Region, e.at.Region))
			if !slices.EqualFunc(routes, cur.a.Routes, offeredEqual) {
				changes = append(changes, change{e, routes})
			}
		}
		if len(changes) == 0 {
			return round, true
		}
		touched := map[*Router]bool{}
		for _, c := range changes {
			a := c.e.at.Engine.s.atts[c.e.att].a
			a.Routes = c.routes
			c.e.at.Engine.SetAttachment(a)
			touched[c.e.at] = true
		}
		for r := range touched {
			r.Engine.Flush()
		}
	}
	return maxRounds, false
}

func offeredEqual(r, s OfferedRoute) bool {
	return r.Prefix == s.Prefix && r.Kind == s.Kind && slices.Equal(r.AsPath, s.AsPath) &&
		slices.Equal(r.Communities, s.Communities) && r.Origin.equal(s.Origin)
}
