package routing

import (
	"cmp"
	"hash/maphash"
	"iter"
	"net/netip"
	"slices"
	"strings"

	"github.com/gaissmai/bart"
)

// attState is a committed attachment. It is immutable: a change replaces it, so entries can
// point at the version they were computed from.
type attState struct {
	a    Attachment // Routes sorted by prefix, masked, one per prefix
	self []string   // []string{a.ID}: the next hops of a single-hop route, shared
}

func newAttState(a Attachment) *attState {
	a.Routes = normalizeRoutes(a.Routes)
	return &attState{a: a, self: []string{a.ID}}
}

func (a *attState) offers() bool { return a != nil && !a.a.Withdrawn }

// normalizeRoutes returns the routes sorted by prefix with one route per prefix. It returns
// rs itself when it is already in that form (the common case: no copy).
func normalizeRoutes(rs []OfferedRoute) []OfferedRoute {
	ok := true
	for i := range rs {
		p := rs[i].Prefix
		if !p.IsValid() || p.Masked() != p || (i > 0 && rs[i-1].Prefix.Compare(p) >= 0) {
			ok = false
			break
		}
	}
	if ok {
		return rs
	}
	out := make([]OfferedRoute, 0, len(rs))
	for _, r := range rs {
		if r.Prefix.IsValid() {
			r.Prefix = r.Prefix.Masked()
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b OfferedRoute) int {
		return cmp.Or(a.Prefix.Compare(b.Prefix), cmp.Compare(a.Kind, b.Kind),
			cmp.Compare(len(a.AsPath), len(b.AsPath)), slices.Compare(a.AsPath, b.AsPath),
			slices.Compare(a.Communities, b.Communities))
	})
	return slices.CompactFunc(out, func(a, b OfferedRoute) bool { return a.Prefix == b.Prefix })
}

func attEqual(x, y *attState) bool {
	if x == nil || y == nil {
		return x == y
	}
	a, b := &x.a, &y.a
	return a.ID == b.ID && a.Type == b.Type && a.ResourceID == b.ResourceID && a.Region == b.Region &&
		a.Withdrawn == b.Withdrawn && a.AutoPublish == b.AutoPublish &&
		slices.EqualFunc(a.Routes, b.Routes, offeredEqual)
}

// sameAsReceiver reports whether x and y receive the same advertisements (everything but
// their routes is equal).
func sameAsReceiver(x, y *attState) bool {
	if x == nil || y == nil {
		return x == y
	}
	a, b := &x.a, &y.a
	return a.Type == b.Type && a.ResourceID == b.ResourceID && a.Region == b.Region &&
		a.Withdrawn == b.Withdrawn && a.AutoPublish == b.AutoPublish
}

// entry is the internal form of an Entry (the prefix is held by its prefixEntries).
type entry struct {
	att    *attState     // propagated: the origin; static: the next hop (nil if missing or BlackHole)
	route  *OfferedRoute // propagated: the offered route
	static *StaticEntry  // static entries
	mod    *pathMod      // attributes after RegionIn actions; nil when unchanged
	pref   int32
	status Status
}

type pathMod struct {
	asPath []uint32
	comms  []string
}

func (e *entry) asPath() []uint32 {
	if e.mod != nil {
		return e.mod.asPath
	}
	if e.route != nil {
		return e.route.AsPath
	}
	return nil
}

func (e *entry) comms() []string {
	if e.mod != nil {
		return e.mod.comms
	}
	if e.route != nil {
		return e.route.Communities
	}
	return nil
}

// pathLen is what route selection compares after the preference: the AS path's length
// plus the regions the route crossed, as if each transit router it went through had
// prepended an AS, so the direct inter-region connection wins over a detour through a
// third region.
func (e *entry) pathLen() int {
	n := len(e.asPath())
	if e.route != nil {
		n += len(e.route.Origin.Regions)
	}
	return n
}

func (e *entry) kind() RouteType {
	switch {
	case e.static == nil:
		return e.route.Kind
	case e.static.BlackHole:
		return RouteBlackHole
	}
	return RouteStatic
}

func (e *entry) nextHop() string {
	if e.static != nil {
		if e.static.BlackHole {
			return ""
		}
		return e.static.NextHop
	}
	return e.att.a.ID
}

func (e *entry) staticID() string {
	if e.static != nil {
		return e.static.ID
	}
	return ""
}

func (e *entry) staticValid() bool {
	return e.static.BlackHole || e.att.offers()
}

func (e *entry) export(p netip.Prefix) Entry {
	x := Entry{Prefix: p, Type: EntryPropagated, Status: e.status, NextHop: e.nextHop(), StaticID: e.staticID(),
		Path: PathAttributes{AsPath: e.asPath(), Communities: e.comms(), OriginRouteType: e.kind(), Preference: int(e.pref)}}
	if e.static != nil {
		x.Type = EntryStatic
		x.BlackHole = e.static.BlackHole
	}
	if e.att != nil {
		x.Path.OriginInstanceID = e.att.a.ResourceID
		x.Path.OriginInstanceType = e.att.a.Type
	}
	if e.route != nil && e.route.Origin.Set() {
		// Learned from another region: the origin is the instance there, not the
		// connection it came over (that is the next hop).
		o := &e.route.Origin
		x.Path.OriginInstanceID, x.Path.OriginInstanceType, x.Path.Regions = o.InstanceID, o.Type, o.Regions
	}
	return x
}

// origin is the route's origin for policies (nil for a static entry or a local route).
func (e *entry) origin() *Origin {
	if e.route == nil || !e.route.Origin.Set() {
		return nil
	}
	return &e.route.Origin
}

// typeRank orders attachment types for non-ECMP ties: VPC, VBR, CCN, TR, VPN, unknown.
func typeRank(a *attState) int {
	if t := typeOf(a); t != 0 {
		return int(t)
	}
	return 100
}

// cmpRank orders entries of one prefix for display: by status, statics first, then by how
// good the route is, then by next hop and static ID.
func cmpRank(a, b *entry) int {
	if c := cmp.Compare(a.status, b.status); c != 0 {
		return c
	}
	if (a.static == nil) != (b.static == nil) {
		if a.static != nil {
			return -1
		}
		return 1
	}
	return cmp.Or(cmp.Compare(a.pref, b.pref), cmp.Compare(a.pathLen(), b.pathLen()),
		cmp.Compare(typeRank(a.att), typeRank(b.att)), strings.Compare(a.nextHop(), b.nextHop()),
		strings.Compare(a.staticID(), b.staticID()))
}

// prefixEntries are the entries of one prefix in one table, ordered by cmpRank, with the
// forwarding decision. Installed ones are never modified: a recompute installs a new one.
type prefixEntries struct {
	prefix    netip.Prefix
	entries   []entry
	hops      []string // next hops of the Active entries
	nActive   int32
	blackhole bool
}

// slot is a prefix of a table: its entries and, for Lookup, the forwarding decision in 24
// bytes, so that a lookup touches little memory: next-hop lists are shared (an attachment's
// own, or an ECMP group interned per table). bits recovers the matched prefix. The trie holds
// the slot's index (bart is fastest with a plain integer payload).
type slot struct {
	pe        *prefixEntries
	hops      *[]string // the Active next hops: an attachment's own list or an interned ECMP group
	bits      uint8
	active    bool
	blackhole bool
}

func (pe *prefixEntries) active() []entry {
	if pe == nil {
		return nil
	}
	return pe.entries[:pe.nActive]
}

// hasHop reports whether an Active entry has next hop id (split horizon).
func (pe *prefixEntries) hasHop(id string) bool {
	return pe != nil && slices.Contains(pe.hops, id)
}

func (pe *prefixEntries) hopsOrNil() []string {
	if pe == nil {
		return nil
	}
	return pe.hops
}

func (pe *prefixEntries) route() Route {
	return Route{Prefix: pe.prefix, NextHops: pe.hops, BlackHole: pe.blackhole}
}

// finalize decides the status of every entry (except Rejected ones, decided by RegionIn
// policies) and orders them.
//
// A valid static entry beats propagated routes (the first by ID if there are several). Among
// propagated routes the smaller preference wins, then the shorter path (pathLen); when the best are
// all VPN attachments they form an ECMP group ordered by attachment ID, limit members Active
// and the rest Standby; otherwise the first by (type VPC, VBR, CCN, TR, VPN; attachment ID)
// is Active. Everything else valid is Candidate.
func finalize(pe *prefixEntries, limit int) {
	es := pe.entries
	var best *entry // installed static
	for i := range es {
		e := &es[i]
		if e.static == nil {
			if e.status != StatusRejected {
				e.status = StatusCandidate
			}
			continue
		}
		if !e.staticValid() {
			e.status = StatusProhibited
			continue
		}
		e.status = StatusCandidate
		if best == nil || e.static.ID < best.static.ID {
			best = e
		}
	}
	if best != nil {
		best.status = StatusActive
	} else {
		selectPropagated(es, limit)
	}
	if len(es) > 1 {
		slices.SortFunc(es, func(a, b entry) int { return cmpRank(&a, &b) })
	}
	n := 0
	for n < len(es) && es[n].status == StatusActive {
		n++
	}
	pe.nActive = int32(n)
	pe.hops, pe.blackhole = nil, false
	switch {
	case n == 1 && es[0].static != nil && es[0].static.BlackHole:
		pe.blackhole = true
	case n == 1:
		pe.hops = es[0].att.self
	case n > 1:
		pe.hops = make([]string, n)
		for i := range n {
			pe.hops[i] = es[i].nextHop()
		}
	}
}

func selectPropagated(es []entry, limit int) {
	var bestPref int32
	bestLen, nBest, allVPN := -1, 0, true
	for i := range es {
		e := &es[i]
		if e.static != nil || e.status == StatusRejected {
			continue
		}
		l := e.pathLen()
		if bestLen < 0 || e.pref < bestPref || (e.pref == bestPref && l < bestLen) {
			bestPref, bestLen, nBest, allVPN = e.pref, l, 0, true
		}
		if e.pref == bestPref && l == bestLen {
			nBest++
			allVPN = allVPN && e.att.a.Type == TypeVPN
		}
	}
	if nBest == 0 {
		return
	}
	isBest := func(e *entry) bool {
		return e.static == nil && e.status != StatusRejected && e.pref == bestPref && e.pathLen() == bestLen
	}
	if nBest == 1 {
		for i := range es {
			if isBest(&es[i]) {
				es[i].status = StatusActive
				return
			}
		}
	}
	group := make([]*entry, 0, nBest)
	for i := range es {
		if isBest(&es[i]) {
			group = append(group, &es[i])
		}
	}
	if allVPN {
		slices.SortFunc(group, func(a, b *entry) int { return strings.Compare(a.att.a.ID, b.att.a.ID) })
		for i, e := range group {
			if i < limit {
				e.status = StatusActive
			} else {
				e.status = StatusStandby
			}
		}
		return
	}
	slices.SortFunc(group, func(a, b *entry) int {
		return cmp.Or(cmp.Compare(typeRank(a.att), typeRank(b.att)), strings.Compare(a.att.a.ID, b.att.a.ID))
	})
	group[0].status = StatusActive
}

// tableState is one computed route table.
type tableState struct {
	id     string
	pfx    bart.Fast[int32]     // prefix -> index in slots
	slots  []slot               // every prefix with entries, Active or not
	free   []int32              // unused indexes in slots
	groups map[uint64]*[]string // interned ECMP next-hop lists, by hash
}

// get returns the entries of prefix p, nil if none.
func (t *tableState) get(p netip.Prefix) *prefixEntries {
	if i, ok := t.pfx.Get(p); ok {
		return t.slots[i].pe
	}
	return nil
}

// put installs pe (replacing the entries of its prefix). fresh says the prefix is not in
// the table yet.
func (t *tableState) put(pe *prefixEntries, fresh bool) {
	sl := slot{pe: pe, bits: uint8(pe.prefix.Bits()), active: pe.nActive > 0, blackhole: pe.blackhole}
	switch {
	case pe.nActive == 1 && !pe.blackhole:
		sl.hops = &pe.entries[0].att.self
	case pe.nActive > 1:
		sl.hops = t.group(pe.hops)
		pe.hops = *sl.hops
	}
	if !fresh {
		if i, ok := t.pfx.Get(pe.prefix); ok {
			t.slots[i] = sl
			return
		}
	}
	var i int32
	if n := len(t.free); n > 0 {
		i, t.free = t.free[n-1], t.free[:n-1]
		t.slots[i] = sl
	} else {
		i = int32(len(t.slots))
		t.slots = append(t.slots, sl)
	}
	t.pfx.Insert(pe.prefix, i)
}

// group returns the interned copy of an ECMP next-hop list.
func (t *tableState) group(hops []string) *[]string {
	h := maphash.Comparable(groupSeed, hops[0])
	for _, s := range hops[1:] {
		h = h*31 + maphash.Comparable(groupSeed, s)
	}
	g := t.groups[h]
	switch {
	case g != nil && slices.Equal(*g, hops):
		return g
	case g != nil: // a hash collision: do not intern
		c := slices.Clone(hops)
		return &c
	}
	if t.groups == nil {
		t.groups = map[uint64]*[]string{}
	}
	c := slices.Clone(hops)
	t.groups[h] = &c
	return &c
}

var groupSeed = maphash.MakeSeed()

// del removes prefix p.
func (t *tableState) del(p netip.Prefix) {
	if i, ok := t.pfx.Get(p); ok {
		t.pfx.Delete(p)
		t.slots[i] = slot{}
		t.free = append(t.free, i)
	}
}

// all iterates over the prefixes in order.
func (t *tableState) all() iter.Seq[*prefixEntries] {
	return func(yield func(*prefixEntries) bool) {
		for _, i := range t.pfx.AllSorted() {
			if !yield(t.slots[i].pe) {
				return
			}
		}
	}
}

// covering returns the longest prefix with an Active entry that covers p, nil if none.
func (t *tableState) covering(p netip.Prefix) *prefixEntries {
	for _, i := range t.pfx.Supernets(p) {
		if t.slots[i].active {
			return t.slots[i].pe
		}
	}
	return nil
}

// evalIn makes the entry of route r of attachment a in table t, through the RegionIn
// policies ps (already filtered for a and t).
func (s *state) evalIn(a *attState, r *OfferedRoute, t string, ps policySet) entry {
	e := entry{att: a, route: r, pref: DefaultPreference}
	if len(ps) == 0 {
		return e
	}
	sub := subject{table: t, trRegion: s.region, src: a, kind: r.Kind, prefix: r.Prefix, asPath: r.AsPath, comms: r.Communities}
	cs := inRouteConds
	if r.Origin.Set() {
		sub.org = &r.Origin
	}
	if a.a.Type == TypeTR || r.Origin.Set() {
		cs = inAllConds // the source conditions depend on the route's origin (see inFor)
	}
	o := ps.evaluate(cs, RegionIn, &sub)
	if o.denied {
		e.status = StatusRejected
		return e
	}
	if o.pref > 0 {
		e.pref = int32(o.pref)
	}
	if o.modified {
		e.mod = &pathMod{asPath: sub.asPath, comms: sub.comms}
	}
	return e
}

// inFor returns the RegionIn policies of table t that can match routes of attachment a.
func (s *state) inFor(t string, a *attState) policySet {
	ps := s.in[t]
	if len(ps) == 0 {
		return nil
	}
	cs := inAttConds
	if a.a.Type == TypeTR {
		// Routes over an inter-region connection have origins of their own: only the
		// conditions about the table are the same for all of them.
		cs = inTableConds
	}
	return ps.filter(cs, RegionIn, &subject{table: t, trRegion: s.region, src: a})
}

// appendStatics appends the entries of the static entries of table t for prefix p.
func (s *state) appendStatics(es []entry, t string, p netip.Prefix) []entry {
	for _, st := range s.staticsAt[t][p] {
		e := entry{static: st}
		if !st.BlackHole {
			e.att = s.atts[st.NextHop]
		}
		es = append(es, e)
	}
	return es
}

// cursor walks one attachment's routes during a table rebuild.
type cursor struct {
	a  *attState
	i  int
	ps policySet
}

func (c *cursor) prefix() netip.Prefix { return c.a.a.Routes[c.i].Prefix }

// cursorHeap is a min-heap of cursors by current prefix.
type cursorHeap []*cursor

func (h cursorHeap) less(i, j int) bool {
	if c := h[i].prefix().Compare(h[j].prefix()); c != 0 {
		return c < 0
	}
	return h[i].a.a.ID < h[j].a.a.ID
}

func (h cursorHeap) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// rebuildTable computes table id from scratch: a merge of the sorted routes of the
// attachments propagating into it and of its static entries.
func (s *state) rebuildTable(id string, props []*attState) *tableState {
	t := &tableState{id: id}
	h := make(cursorHeap, 0, len(props))
	for _, a := range props {
		if a.offers() && len(a.a.Routes) > 0 {
			h = append(h, &cursor{a: a, ps: s.inFor(id, a)})
		}
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
	statics := make([]netip.Prefix, 0, len(s.staticsAt[id]))
	for p := range s.staticsAt[id] {
		statics = append(statics, p)
	}
	slices.SortFunc(statics, netip.Prefix.Compare)

	var (
		scratch []entry
		slab    []entry
		peSlab  []prefixEntries
	)
	for len(h) > 0 || len(statics) > 0 {
		var p netip.Prefix
		switch {
		case len(h) == 0:
			p = statics[0]
		case len(statics) == 0:
			p = h[0].prefix()
		default:
			p = h[0].prefix()
			if statics[0].Compare(p) < 0 {
				p = statics[0]
			}
		}
		scratch = scratch[:0]
		if len(statics) > 0 && statics[0] == p {
			scratch = s.appendStatics(scratch, id, p)
			statics = statics[1:]
		}
		for len(h) > 0 && h[0].prefix() == p {
			c := h[0]
			scratch = append(scratch, s.evalIn(c.a, &c.a.a.Routes[c.i], id, c.ps))
			c.i++
			if c.i == len(c.a.a.Routes) {
				h[0] = h[len(h)-1]
				h = h[:len(h)-1]
			}
			h.down(0)
		}
		// Allocate entries in slabs: far fewer, tighter allocations than one per prefix.
		if cap(slab)-len(slab) < len(scratch) {
			slab = make([]entry, 0, max(1024, len(scratch)))
		}
		start := len(slab)
		slab = append(slab, scratch...)
		if len(peSlab) == cap(peSlab) {
			peSlab = make([]prefixEntries, 0, 512)
		}
		peSlab = append(peSlab, prefixEntries{prefix: p, entries: slab[start:len(slab):len(slab)]})
		pe := &peSlab[len(peSlab)-1]
		finalize(pe, s.ecmp)
		t.put(pe, true)
	}
	return t
}

// recomputePrefix computes prefix p of table t again: the entries of attachments not in
// changed are kept (their RegionIn evaluation still holds), adds are the new entries of the
// changed attachments, static entries are taken from the committed statics.
func (s *state) recomputePrefix(t string, p netip.Prefix, old *prefixEntries, changed map[string]bool, adds []entry) *prefixEntries {
	n := len(adds) + len(s.staticsAt[t][p])
	if old != nil {
		n += len(old.entries)
	}
	es := make([]entry, 0, n)
	es = s.appendStatics(es, t, p)
	if old != nil {
		for _, e := range old.entries {
			if e.static == nil && !changed[e.att.a.ID] {
				es = append(es, e)
			}
		}
	}
	es = append(es, adds...)
	if len(es) == 0 {
		return nil
	}
	pe := &prefixEntries{prefix: p, entries: es}
	finalize(pe, s.ecmp)
	return pe
}
