package routing

import (
	"maps"
	"net/netip"
	"slices"
)

// View answers questions about computed route tables. *Result and *Engine implement it.
type View interface {
	// TableIDs lists the route tables, sorted.
	TableIDs() []string
	// Table lists the entries of a route table sorted by prefix, then status (Active,
	// Standby, Candidate, Rejected, Prohibited), then rank.
	Table(id string) []Entry
	// Entries lists the entries of one prefix of a route table, in the same order.
	Entries(tableID string, prefix netip.Prefix) []Entry
	// Lookup returns the longest-prefix match among the prefixes of a table that have an
	// Active entry.
	Lookup(tableID string, addr netip.Addr) (Route, bool)
	// Advertised lists what the transit router advertises to an attachment (route
	// synchronization to a VPN with AutoPublish, and what a VPC learns), sorted by prefix.
	Advertised(attachmentID string) []Entry
	// Explain explains the entries of a prefix in a table and, when attachmentID is set, how
	// the prefix is advertised to that attachment.
	Explain(tableID string, prefix netip.Prefix, attachmentID string) Explanation
}

var (
	_ View = (*Result)(nil)
	_ View = (*Engine)(nil)
)

// Result is the outcome of Compute. It is immutable and safe for concurrent use.
type Result struct {
	s *state
}

// Compute computes the route tables of in from scratch. The result does not depend on the
// order of the slices of in. Compute takes ownership of the slices of in like
// Engine.SetAttachment does.
func Compute(in Input) *Result {
	e := NewEngine()
	e.Replace(in)
	e.flush(false)
	return &Result{s: &e.s}
}

// TableIDs implements View.
func (r *Result) TableIDs() []string { return r.s.tableIDs() }

// Table implements View.
func (r *Result) Table(id string) []Entry { return r.s.table(id) }

// Entries implements View.
func (r *Result) Entries(tableID string, p netip.Prefix) []Entry { return r.s.entries(tableID, p) }

// Lookup implements View.
func (r *Result) Lookup(tableID string, addr netip.Addr) (Route, bool) {
	return r.s.lookup(tableID, addr)
}

// Advertised implements View.
func (r *Result) Advertised(attachmentID string) []Entry { return r.s.advertised(attachmentID) }

// Explain implements View.
func (r *Result) Explain(tableID string, p netip.Prefix, attachmentID string) Explanation {
	return r.s.explain(tableID, p, attachmentID)
}

// TableIDs implements View.
func (e *Engine) TableIDs() []string { return e.s.tableIDs() }

// Table implements View.
func (e *Engine) Table(id string) []Entry { return e.s.table(id) }

// Entries implements View.
func (e *Engine) Entries(tableID string, p netip.Prefix) []Entry { return e.s.entries(tableID, p) }

// Lookup implements View.
func (e *Engine) Lookup(tableID string, addr netip.Addr) (Route, bool) {
	return e.s.lookup(tableID, addr)
}

// Advertised implements View.
func (e *Engine) Advertised(attachmentID string) []Entry { return e.s.advertised(attachmentID) }

// Explain implements View.
func (e *Engine) Explain(tableID string, p netip.Prefix, attachmentID string) Explanation {
	return e.s.explain(tableID, p, attachmentID)
}

func (s *state) tableIDs() []string { return slices.Sorted(maps.Keys(s.tables)) }

func (s *state) table(id string) []Entry {
	t := s.tables[id]
	if t == nil {
		return nil
	}
	var out []Entry
	for pe := range t.all() {
		for i := range pe.entries {
			out = append(out, pe.entries[i].export(pe.prefix))
		}
	}
	return out
}

func (s *state) entries(tableID string, p netip.Prefix) []Entry {
	t := s.tables[tableID]
	if t == nil || !p.IsValid() {
		return nil
	}
	pe := t.get(p)
	if pe == nil {
		return nil
	}
	out := make([]Entry, len(pe.entries))
	for i := range pe.entries {
		out[i] = pe.entries[i].export(pe.prefix)
	}
	return out
}

// tableFor returns table id, through a one-entry cache (safe for concurrent readers).
func (s *state) tableFor(id string) *tableState {
	if t := s.last.Load(); t != nil && t.id == id {
		return t
	}
	t := s.tables[id]
	if t != nil {
		s.last.Store(t)
	}
	return t
}

func (s *state) lookup(tableID string, addr netip.Addr) (Route, bool) {
	t := s.tableFor(tableID)
	if t == nil || !addr.IsValid() {
		return Route{}, false
	}
	i, ok := t.pfx.Lookup(addr)
	if !ok {
		return Route{}, false
	}
	sl := &t.slots[i]
	if !sl.active {
		// The most specific prefix has no Active entry: fall back to its supernets.
		if q := t.covering(sl.pe.prefix); q != nil {
			return q.route(), true
		}
		return Route{}, false
	}
	p, _ := addr.Prefix(int(sl.bits))
	r := Route{Prefix: p, BlackHole: sl.blackhole}
	if sl.hops != nil {
		r.NextHops = *sl.hops
	}
	return r, true
}

// publishing returns the attachment and its associated table when the transit router
// advertises routes to it: it exists, is not withdrawn, is a VPC or an inter-region
// connection (the other region learns the table it is associated with) or has
// AutoPublish, and is associated with an existing table.
func (s *state) publishing(id string) (*attState, *tableState) {
	a := s.atts[id]
	if !a.offers() || !(a.a.Type == TypeVPC || a.a.Type == TypeTR || a.a.AutoPublish) {
		return nil, nil
	}
	t := s.tables[s.assoc[id]]
	if t == nil {
		return nil, nil
	}
	return a, t
}

// outFor returns the RegionOut policies of table t that can match advertisements to a.
func (s *state) outFor(t string, a *attState) policySet {
	ps := s.out[t]
	if len(ps) == 0 {
		return nil
	}
	return ps.filter(outDstConds, RegionOut, &subject{table: t, trRegion: s.region, dst: a})
}

// advertise returns what prefix pe of table t advertises through the RegionOut policies ps
// (already filtered for the receiver), split horizon aside: the first Active entry the
// policies permit, with their actions applied. BlackHole routes are not advertised.
func (s *state) advertise(pe *prefixEntries, t string, ps policySet) (Entry, bool) {
	if pe == nil || pe.nActive == 0 || pe.blackhole {
		return Entry{}, false
	}
	for i := range pe.active() {
		e := &pe.entries[i]
		x := e.export(pe.prefix)
		if len(ps) == 0 {
			return x, true
		}
		sub := subject{table: t, trRegion: s.region, src: e.att, org: e.origin(), kind: e.kind(), prefix: pe.prefix, asPath: e.asPath(), comms: e.comms()}
		o := ps.evaluate(outRouteConds, RegionOut, &sub)
		if o.denied {
			continue
		}
		if o.pref > 0 {
			x.Path.Preference = o.pref
		}
		if o.modified {
			x.Path.AsPath, x.Path.Communities = sub.asPath, sub.comms
		}
		return x, true
	}
	return Entry{}, false
}

// eachAdvertised calls f with each route advertised to attachment id, in prefix order, until
// f returns false.
func (s *state) eachAdvertised(id string, f func(Entry) bool) {
	a, t := s.publishing(id)
	if a == nil {
		return
	}
	ps := s.outFor(t.id, a)
	for pe := range t.all() {
		if pe.nActive == 0 || pe.hasHop(id) {
			continue
		}
		if x, ok := s.advertise(pe, t.id, ps); ok && !f(x) {
			return
		}
	}
}

func (s *state) advertised(id string) []Entry {
	var out []Entry
	s.eachAdvertised(id, func(x Entry) bool {
		out = append(out, x)
		return true
	})
	return out
}

// sameAdvertised reports whether attachment id is advertised exactly old, stopping at the
// first difference.
func (s *state) sameAdvertised(id string, old []Entry) bool {
	i, same := 0, true
	s.eachAdvertised(id, func(x Entry) bool {
		if i >= len(old) || !entryEqual(old[i], x) {
			same = false
			return false
		}
		i++
		return true
	})
	return same && i == len(old)
}
