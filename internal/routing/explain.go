package routing

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Explanation says why a prefix of a route table has the entries it has and, for an
// attachment, whether and how the prefix is advertised to it. It powers `opencen tr explain`.
type Explanation struct {
	TableID     string
	Prefix      netip.Prefix
	TableExists bool
	// Candidates are the entries of the prefix in the table, in table order, each with the
	// reason for its status and, for propagated routes, the RegionIn evaluation.
	Candidates []Candidate
	// Forwarding is the longest-prefix Active route covering the whole prefix (the prefix
	// itself or a supernet), nil if there is none.
	Forwarding *Route `json:",omitempty"`
	// Notes about the attachment as a source of the prefix (does it offer it, does it
	// propagate into the table) and about the choice of table.
	Notes []string `json:",omitempty"`
	// Advertisement explains the prefix toward the attachment (set when one is given).
	Advertisement *AdvertisementExplanation `json:",omitempty"`
	// Across follows the prefix over an inter-region connection when Forwarding goes
	// through one (filled in by whoever knows the routers at the other ends).
	Across []Crossing `json:",omitempty"`
}

// Crossing is a prefix followed over an inter-region connection: the transit router at
// the other end explains it in the table the connection is associated with there
// (traffic from the connection is looked up in it).
type Crossing struct {
	AttachmentID    string
	TransitRouterID string
	Region          string
	Explanation     *Explanation `json:",omitempty"` // nil: Reason says why not followed
	Reason          string       `json:",omitempty"`
}

// Candidate is one entry of an explained prefix.
type Candidate struct {
	Entry    Entry
	Reason   string
	Offered  *PathAttributes `json:",omitempty"` // propagated: the attributes as offered, before RegionIn actions
	RegionIn []PolicyStep    `json:",omitempty"` // propagated: the RegionIn route maps of the table, evaluated
}

// AdvertisementExplanation explains whether a prefix is advertised to an attachment: what the
// attachment learns for it through route synchronization, from the table it is associated
// with, after that table's RegionOut route maps.
type AdvertisementExplanation struct {
	AttachmentID string
	TableID      string // the table the attachment is associated with
	Advertised   bool
	Reason       string
	Route        *Entry           `json:",omitempty"` // the advertised route, after RegionOut actions
	RegionOut    []RegionOutTrace `json:",omitempty"`
}

// RegionOutTrace is the RegionOut evaluation of one Active entry toward the attachment.
type RegionOutTrace struct {
	NextHop string
	Steps   []PolicyStep
}

func (s *state) explain(tableID string, p netip.Prefix, attID string) Explanation {
	p = p.Masked()
	var notes []string
	if tableID == "" && attID != "" {
		tableID = s.assoc[attID]
		if tableID == "" {
			notes = append(notes, fmt.Sprintf("attachment %s is not associated with a route table", attID))
		} else {
			notes = append(notes, fmt.Sprintf("table %s: the one attachment %s is associated with (traffic from it is looked up there)", tableID, attID))
		}
	}
	x := Explanation{TableID: tableID, Prefix: p, Notes: notes}
	t := s.tables[tableID]
	x.TableExists = t != nil
	if t != nil && p.IsValid() {
		if pe := t.get(p); pe != nil {
			for i := range pe.entries {
				x.Candidates = append(x.Candidates, s.explainEntry(tableID, pe, i))
			}
		}
		if q := t.covering(p); q != nil {
			r := q.route()
			x.Forwarding = &r
		}
	}
	if attID != "" {
		x.Notes = append(x.Notes, s.sourceNotes(tableID, p, attID)...)
		adv := s.explainAdvert(p, attID)
		x.Advertisement = &adv
	}
	return x
}

func (s *state) explainEntry(t string, pe *prefixEntries, i int) Candidate {
	e := &pe.entries[i]
	c := Candidate{Entry: e.export(pe.prefix)}
	var bestStatic, best *entry
	for j := range pe.active() {
		if pe.entries[j].static != nil {
			bestStatic = &pe.entries[j]
		} else if best == nil {
			best = &pe.entries[j]
		}
	}
	if e.static != nil {
		switch {
		case e.status == StatusProhibited && e.att == nil:
			c.Reason = fmt.Sprintf("static entry: next hop attachment %s does not exist", e.static.NextHop)
		case e.status == StatusProhibited:
			c.Reason = fmt.Sprintf("static entry: next hop attachment %s is withdrawn (health check or tunnel down)", e.static.NextHop)
		case e.status == StatusActive && e.static.BlackHole:
			c.Reason = "static BlackHole entry: static entries take precedence over propagated routes; traffic is dropped"
		case e.status == StatusActive:
			c.Reason = "static entry: static entries take precedence over propagated routes"
		default:
			c.Reason = fmt.Sprintf("static entry %s (first by ID) is installed for the same destination", bestStatic.static.ID)
		}
		return c
	}
	r := e.route
	c.Offered = &PathAttributes{AsPath: r.AsPath, Communities: r.Communities, OriginInstanceID: e.att.a.ResourceID,
		OriginInstanceType: e.att.a.Type, OriginRouteType: r.Kind, Preference: DefaultPreference}
	if o := e.origin(); o != nil {
		c.Offered.OriginInstanceID, c.Offered.OriginInstanceType, c.Offered.Regions = o.InstanceID, o.Type, o.Regions
	}
	sub := subject{table: t, trRegion: s.region, src: e.att, org: e.origin(), kind: r.Kind, prefix: pe.prefix, asPath: r.AsPath, comms: r.Communities}
	o, steps := s.in[t].trace(inAllConds, RegionIn, &sub)
	c.RegionIn = steps
	al := e.pathLen()
	switch {
	case e.status == StatusRejected && o.denier != nil:
		c.Reason = fmt.Sprintf("denied by RegionIn route map %s (priority %d)", o.denier.ID, o.denier.Priority)
	case e.status == StatusRejected:
		c.Reason = "denied by a RegionIn route map"
	case bestStatic != nil:
		c.Reason = fmt.Sprintf("static entry %s takes precedence over propagated routes", bestStatic.static.ID)
	case e.status == StatusActive && pe.nActive > 1:
		c.Reason = fmt.Sprintf("ECMP member %d of %d: VPN attachments with equal preference (%d) and AS path length (%d), ordered by attachment ID",
			i+1, pe.nActive, e.pref, al)
	case e.status == StatusActive:
		c.Reason = fmt.Sprintf("best route: preference %d, %s %d", e.pref, pathLenName(e), al)
		if ties := countTies(pe, e); ties > 1 {
			c.Reason += fmt.Sprintf("; %d routes tie and not all are VPN attachments (no ECMP): first by attachment type (VPC, VBR, CCN, TR, VPN), then attachment ID", ties)
		}
	case e.status == StatusStandby:
		c.Reason = fmt.Sprintf("ECMP group member beyond the ECMP limit (%d Active, ordered by attachment ID)", pe.nActive)
	case best == nil:
		c.Reason = "not selected"
	case e.pref != best.pref:
		c.Reason = fmt.Sprintf("preference %d is worse than %d of the Active route via %s (smaller wins)", e.pref, best.pref, best.att.a.ID)
	case al != best.pathLen():
		c.Reason = fmt.Sprintf("%s %d is longer than %d of the Active route via %s", pathLenName(e, best), al, best.pathLen(), best.att.a.ID)
	case best.att.a.Type != TypeVPN || e.att.a.Type != TypeVPN:
		c.Reason = fmt.Sprintf("ties with the Active route via %s, but ECMP needs all best routes to be VPN attachments; the first by attachment type (VPC, VBR, CCN, TR, VPN), then attachment ID wins", best.att.a.ID)
	default:
		c.Reason = fmt.Sprintf("ties with the Active route via %s; the best routes include non-VPN attachments, so no ECMP: the first by attachment type (VPC, VBR, CCN, TR, VPN), then attachment ID wins", best.att.a.ID)
	}
	return c
}

// pathLenName names what pathLen counts for these entries: the AS path alone unless a
// route crossed regions.
func pathLenName(es ...*entry) string {
	for _, e := range es {
		if o := e.origin(); o != nil && len(o.Regions) > 0 {
			return "path length (AS path plus regions crossed)"
		}
	}
	return "AS path length"
}

func countTies(pe *prefixEntries, e *entry) int {
	n := 0
	for i := range pe.entries {
		o := &pe.entries[i]
		if o.static == nil && o.status != StatusRejected && o.pref == e.pref && o.pathLen() == e.pathLen() {
			n++
		}
	}
	return n
}

// sourceNotes says how attachment id contributes prefix p to table t.
func (s *state) sourceNotes(t string, p netip.Prefix, id string) []string {
	a := s.atts[id]
	if a == nil {
		return []string{fmt.Sprintf("attachment %s does not exist", id)}
	}
	if _, ok := slices.BinarySearchFunc(a.a.Routes, p, func(r OfferedRoute, p netip.Prefix) int { return r.Prefix.Compare(p) }); !ok {
		return []string{fmt.Sprintf("attachment %s does not offer %s", id, p)}
	}
	switch {
	case a.a.Withdrawn:
		return []string{fmt.Sprintf("attachment %s offers %s but is withdrawn (health check or tunnel down): its routes are not offered", id, p)}
	case !slices.Contains(s.props[id], t):
		return []string{fmt.Sprintf("attachment %s offers %s but does not propagate into table %s", id, p, t)}
	}
	return []string{fmt.Sprintf("attachment %s offers %s and propagates into table %s", id, p, t)}
}

func (s *state) explainAdvert(p netip.Prefix, id string) AdvertisementExplanation {
	x := AdvertisementExplanation{AttachmentID: id, TableID: s.assoc[id]}
	a := s.atts[id]
	switch {
	case a == nil:
		x.Reason = "the attachment does not exist"
		return x
	case a.a.Withdrawn:
		x.Reason = "the attachment is withdrawn (health check or tunnel down): nothing is advertised to it"
		return x
	case a.a.Type != TypeVPC && a.a.Type != TypeTR && !a.a.AutoPublish:
		x.Reason = "route synchronization (AutoPublish) is off and the attachment is not a VPC or an inter-region connection: nothing is advertised to it"
		return x
	case x.TableID == "":
		x.Reason = "the attachment is not associated with a route table: nothing is advertised to it"
		return x
	case s.tables[x.TableID] == nil:
		x.Reason = fmt.Sprintf("the associated table %s does not exist", x.TableID)
		return x
	}
	pe := s.tables[x.TableID].get(p)
	switch {
	case pe == nil || pe.nActive == 0:
		x.Reason = fmt.Sprintf("table %s has no Active entry for %s", x.TableID, p)
		return x
	case pe.blackhole:
		x.Reason = "the Active entry is a BlackHole route: BlackHole routes are not advertised"
		return x
	case pe.hasHop(id):
		x.Reason = "split horizon: the route's next hops include the attachment itself"
		return x
	}
	var denier *policy
	for i := range pe.active() {
		e := &pe.entries[i]
		sub := subject{table: x.TableID, trRegion: s.region, src: e.att, org: e.origin(), dst: a, kind: e.kind(), prefix: p, asPath: e.asPath(), comms: e.comms()}
		o, steps := s.out[x.TableID].trace(outAllConds, RegionOut, &sub)
		x.RegionOut = append(x.RegionOut, RegionOutTrace{NextHop: e.nextHop(), Steps: steps})
		if o.denied {
			if denier == nil {
				denier = o.denier
			}
			continue
		}
		r := e.export(p)
		if o.pref > 0 {
			r.Path.Preference = o.pref
		}
		if o.modified {
			r.Path.AsPath, r.Path.Communities = sub.asPath, sub.comms
		}
		x.Advertised, x.Route = true, &r
		x.Reason = fmt.Sprintf("advertised from table %s via %s", x.TableID, r.NextHop)
		return x
	}
	x.Reason = fmt.Sprintf("denied by RegionOut route map %s (priority %d) of table %s", denier.ID, denier.Priority, x.TableID)
	return x
}

// String renders the explanation for people.
func (x Explanation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "table %s, prefix %s\n", x.TableID, x.Prefix)
	for _, n := range x.Notes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	if !x.TableExists {
		b.WriteString("  the table does not exist\n")
	} else if len(x.Candidates) == 0 {
		b.WriteString("  no entries for this prefix\n")
	}
	for _, c := range x.Candidates {
		e := c.Entry
		fmt.Fprintf(&b, "  %-10s %-10s %s\n", e.Status, e.Type, describeEntry(e))
		fmt.Fprintf(&b, "             why: %s\n", c.Reason)
		if c.Offered != nil && (!slices.Equal(c.Offered.AsPath, e.Path.AsPath) || !slices.Equal(c.Offered.Communities, e.Path.Communities) || c.Offered.Preference != e.Path.Preference) && e.Status != StatusRejected {
			fmt.Fprintf(&b, "             offered: as-path %v communities %v preference %d\n", c.Offered.AsPath, c.Offered.Communities, c.Offered.Preference)
		}
		writeSteps(&b, "             ", "RegionIn", c.RegionIn)
	}
	if x.TableExists {
		if x.Forwarding != nil {
			fmt.Fprintf(&b, "  forwarding: %s\n", describeRoute(*x.Forwarding))
		} else {
			b.WriteString("  forwarding: no Active route covers this prefix\n")
		}
	}
	for _, c := range x.Across {
		fmt.Fprintf(&b, "  across inter-region connection %s to %s (%s):", c.AttachmentID, c.TransitRouterID, c.Region)
		if c.Explanation == nil {
			fmt.Fprintf(&b, " %s\n", c.Reason)
			continue
		}
		b.WriteString("\n")
		for l := range strings.Lines(c.Explanation.String()) {
			b.WriteString("    " + l)
		}
	}
	if a := x.Advertisement; a != nil {
		verdict := "not advertised"
		if a.Advertised {
			verdict = "advertised"
		}
		fmt.Fprintf(&b, "to attachment %s (associated table %q): %s\n  why: %s\n", a.AttachmentID, a.TableID, verdict, a.Reason)
		if a.Route != nil {
			fmt.Fprintf(&b, "  route: %s\n", describeEntry(*a.Route))
		}
		for _, tr := range a.RegionOut {
			writeSteps(&b, "  ", "RegionOut via "+tr.NextHop, tr.Steps)
		}
	}
	return b.String()
}

func writeSteps(b *strings.Builder, indent, label string, steps []PolicyStep) {
	for _, st := range steps {
		fmt.Fprintf(b, "%s%s %s (priority %d, %s): %s", indent, label, st.RouteMapID, st.Priority, st.Result, st.Outcome)
		if st.Failed != "" {
			fmt.Fprintf(b, ": %s", st.Failed)
		}
		b.WriteString("\n")
	}
}

func describeEntry(e Entry) string {
	hop := "via " + e.NextHop
	if e.BlackHole {
		hop = "BlackHole"
	}
	s := fmt.Sprintf("%s %s origin %s %s/%s preference %d", e.Prefix, hop, e.Path.OriginRouteType,
		e.Path.OriginInstanceType, e.Path.OriginInstanceID, e.Path.Preference)
	if len(e.Path.Regions) > 0 {
		s += " from " + strings.Join(e.Path.Regions, " -> ")
	}
	if len(e.Path.AsPath) > 0 {
		s += fmt.Sprintf(" as-path %v", e.Path.AsPath)
	}
	if len(e.Path.Communities) > 0 {
		s += fmt.Sprintf(" communities %v", e.Path.Communities)
	}
	if e.StaticID != "" {
		s += " (" + e.StaticID + ")"
	}
	return s
}

func describeRoute(r Route) string {
	if r.BlackHole {
		return r.Prefix.String() + " BlackHole"
	}
	return r.Prefix.String() + " via " + strings.Join(r.NextHops, ", ")
}
