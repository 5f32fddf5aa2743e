package routing

import (
	"maps"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// state is the committed input and the computed tables.
type state struct {
	region       string
	ecmpRaw      int // as configured
	ecmp         int // effective
	tables       map[string]*tableState
	atts         map[string]*attState
	assoc        map[string]string
	props        map[string][]string // sorted, unique
	statics      map[string]*StaticEntry
	staticsAt    map[string]map[netip.Prefix][]*StaticEntry // table -> prefix -> by ID
	staticsByHop map[string]map[string]*StaticEntry         // next-hop attachment -> ID -> static
	maps         []RouteMap                                 // by ID
	in, out      map[string]policySet                       // table -> policies by priority

	// last is the table of the last Lookup: repeated lookups in one table skip the map.
	last atomic.Pointer[tableState]
}

func newState() state {
	return state{
		ecmp:         DefaultEcmpLimit,
		tables:       map[string]*tableState{},
		atts:         map[string]*attState{},
		assoc:        map[string]string{},
		props:        map[string][]string{},
		statics:      map[string]*StaticEntry{},
		staticsAt:    map[string]map[netip.Prefix][]*StaticEntry{},
		staticsByHop: map[string]map[string]*StaticEntry{},
		in:           map[string]policySet{},
		out:          map[string]policySet{},
	}
}

// pending holds the changes staged by the mutators until Flush.
type pending struct {
	region  *string
	ecmp    *int
	tables  map[string]bool         // true: exists
	atts    map[string]*Attachment  // nil: removed
	assoc   map[string]string       // "": dissociated
	props   map[string][]string     // nil: none
	statics map[string]*StaticEntry // nil: removed
	maps    []RouteMap
	mapsSet bool
}

func (p *pending) empty() bool {
	return p.region == nil && p.ecmp == nil && len(p.tables) == 0 && len(p.atts) == 0 &&
		len(p.assoc) == 0 && len(p.props) == 0 && len(p.statics) == 0 && !p.mapsSet
}

// Engine holds one transit router's routing state and recomputes it incrementally.
//
// Mutators stage changes; Flush applies them, recomputes only the (table, prefix) pairs they
// touch and reports what changed. Accessors answer from the state as of the last Flush. An
// Engine is not safe for concurrent use.
//
// Associations, propagations and static entries are facts of their own: they may name tables
// and attachments that do not exist (yet) and take effect when both ends exist. Removing a
// table or an attachment does not remove them.
type Engine struct {
	s state
	p pending

	// stats is what the last Flush recomputed (for tests).
	stats flushStats
}

type flushStats struct {
	rebuilt    []string // tables rebuilt from scratch
	recomputed int      // prefixes recomputed in the other tables
}

// NewEngine returns an empty engine.
func NewEngine() *Engine { return &Engine{s: newState()} }

func (e *Engine) stage() *pending {
	p := &e.p
	if p.tables == nil {
		p.tables = map[string]bool{}
		p.atts = map[string]*Attachment{}
		p.assoc = map[string]string{}
		p.props = map[string][]string{}
		p.statics = map[string]*StaticEntry{}
	}
	return p
}

// SetRegion sets the transit router's region (the destination region of RegionIn policies and
// the region of attachments with none).
func (e *Engine) SetRegion(region string) { e.stage().region = &region }

// SetEcmpLimit sets the maximum number of Active members of an ECMP group (<= 0: the default).
func (e *Engine) SetEcmpLimit(n int) { e.stage().ecmp = &n }

// SetTable creates a route table (or leaves an existing one).
func (e *Engine) SetTable(t Table) { e.stage().tables[t.ID] = true }

// RemoveTable removes a route table.
func (e *Engine) RemoveTable(id string) { e.stage().tables[id] = false }

// SetAttachment creates or replaces an attachment. The engine takes ownership of a.Routes.
func (e *Engine) SetAttachment(a Attachment) { e.stage().atts[a.ID] = &a }

// RemoveAttachment removes an attachment.
func (e *Engine) RemoveAttachment(id string) { e.stage().atts[id] = nil }

// SetAssociation associates an attachment with a table; tableID "" dissociates it.
func (e *Engine) SetAssociation(attachmentID, tableID string) {
	e.stage().assoc[attachmentID] = tableID
}

// SetPropagations sets the tables an attachment propagates its routes into (nil: none).
func (e *Engine) SetPropagations(attachmentID string, tableIDs []string) {
	e.stage().props[attachmentID] = normalizeIDs(tableIDs)
}

// SetStatic creates or replaces a static entry.
func (e *Engine) SetStatic(s StaticEntry) {
	s.Prefix = s.Prefix.Masked()
	if s.BlackHole {
		s.NextHop = ""
	}
	e.stage().statics[s.ID] = &s
}

// RemoveStatic removes a static entry.
func (e *Engine) RemoveStatic(id string) { e.stage().statics[id] = nil }

// SetRouteMaps replaces all route maps.
func (e *Engine) SetRouteMaps(maps []RouteMap) {
	p := e.stage()
	p.maps, p.mapsSet = slices.Clone(maps), true
}

// Replace stages the difference between the current state and in: after Flush the engine
// holds exactly in (for level-triggered reconcilers).
func (e *Engine) Replace(in Input) {
	e.p = pending{}
	p := e.stage()
	s := &e.s
	e.SetRegion(in.Region)
	e.SetEcmpLimit(in.EcmpLimit)
	for id := range s.tables {
		p.tables[id] = false
	}
	for _, t := range in.Tables {
		p.tables[t.ID] = true
	}
	for id := range s.atts {
		p.atts[id] = nil
	}
	for _, a := range in.Attachments {
		e.SetAttachment(a)
	}
	for id := range s.assoc {
		p.assoc[id] = ""
	}
	maps.Copy(p.assoc, in.Associations)
	for id := range s.props {
		p.props[id] = nil
	}
	for id, ts := range in.Propagations {
		e.SetPropagations(id, ts)
	}
	for id := range s.statics {
		p.statics[id] = nil
	}
	for _, st := range in.Statics {
		e.SetStatic(st)
	}
	e.SetRouteMaps(in.RouteMaps)
}

func normalizeIDs(ids []string) []string {
	if len(ids) == 0 {
		return nil
	}
	out := slices.Clone(ids)
	slices.Sort(out)
	out = slices.Compact(out)
	if out[0] == "" {
		out = out[1:]
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func effectiveEcmp(n int) int {
	if n <= 0 {
		return DefaultEcmpLimit
	}
	return n
}

// Input returns the committed state (as of the last Flush) as an Input.
func (e *Engine) Input() Input {
	s := &e.s
	in := Input{Region: s.region, EcmpLimit: s.ecmpRaw, Associations: maps.Clone(s.assoc),
		Propagations: map[string][]string{}, RouteMaps: slices.Clone(s.maps)}
	for _, id := range slices.Sorted(maps.Keys(s.tables)) {
		in.Tables = append(in.Tables, Table{ID: id})
	}
	for _, id := range slices.Sorted(maps.Keys(s.atts)) {
		in.Attachments = append(in.Attachments, s.atts[id].a)
	}
	for id, ts := range s.props {
		in.Propagations[id] = slices.Clone(ts)
	}
	for _, id := range slices.Sorted(maps.Keys(s.statics)) {
		in.Statics = append(in.Statics, *s.statics[id])
	}
	return in
}

// work is the bookkeeping of one Flush.
type work struct {
	all     bool                                // every table is rebuilt
	rebuild map[string]bool                     // tables rebuilt from scratch
	dirty   map[string][]netip.Prefix           // table -> prefixes to recompute
	adds    map[string]map[netip.Prefix][]entry // table -> prefix -> new entries of changed attachments
	changed map[string]bool                     // attachments whose entries are re-evaluated
	ctx     map[string]bool                     // attachments whose advertisement context changed
	oldAdv  map[string][]Entry                  // their advertisements before
	old     map[string]*tableState              // rebuilt, created or removed tables: the old state
	pairs   map[string][]pePair                 // table -> changed prefixes
	newAtts map[string]*attState                // attachments that change (nil: removed)
	newProp map[string][]string                 // their propagations
	statics map[string]*StaticEntry             // statics that change (nil: removed)
	tables  map[string]bool                     // tables created (true) or removed (false)
	in, out map[string]policySet                // the new policies, when the maps changed
	region  string                              // the new region
	ecmpRaw int                                 // the new ECMP limit, as configured
}

type pePair struct {
	old, new *prefixEntries
}

func (w *work) touch(t string, p netip.Prefix) {
	if w.all || w.rebuild[t] {
		return
	}
	w.dirty[t] = append(w.dirty[t], p)
}

func (w *work) touchRoutes(t string, a *attState) {
	if w.all || w.rebuild[t] {
		return
	}
	for i := range a.a.Routes {
		w.dirty[t] = append(w.dirty[t], a.a.Routes[i].Prefix)
	}
}

// Flush applies the staged changes, recomputes what they touch and returns what changed.
func (e *Engine) Flush() Diff { return e.flush(true) }

func (e *Engine) flush(wantDiff bool) Diff {
	p := e.p
	e.p = pending{}
	if p.empty() {
		return Diff{}
	}
	s := &e.s
	w := s.plan(&p)
	if wantDiff {
		w.oldAdv = map[string][]Entry{}
		for id := range w.ctx {
			w.oldAdv[id] = s.advertised(id)
		}
	}
	s.apply(&p, w)
	e.stats = s.recompute(w)
	var d Diff
	if wantDiff {
		for id, old := range w.old {
			w.pairs[id] = mergeTables(old, s.tables[id])
		}
		d = s.diff(w)
	}
	// Release what the replaced entries point at (they may live on in a slab).
	for t, pairs := range w.pairs {
		if _, ok := w.old[t]; ok {
			continue
		}
		for _, pp := range pairs {
			if pp.old != nil {
				clear(pp.old.entries)
				*pp.old = prefixEntries{}
			}
		}
	}
	return d
}

// plan works out, against the committed state, what the staged changes p touch: the tables
// to rebuild, the (table, prefix) pairs to recompute, the attachments whose entries must be
// evaluated again and those whose advertisement context changes.
func (s *state) plan(p *pending) *work {
	w := &work{rebuild: map[string]bool{}, dirty: map[string][]netip.Prefix{},
		adds: map[string]map[netip.Prefix][]entry{}, changed: map[string]bool{}, ctx: map[string]bool{},
		old: map[string]*tableState{}, pairs: map[string][]pePair{}, newAtts: map[string]*attState{},
		newProp: map[string][]string{}, statics: map[string]*StaticEntry{}, tables: map[string]bool{},
		region: s.region, ecmpRaw: s.ecmpRaw}
	newAssoc := func(id string) string {
		if t, ok := p.assoc[id]; ok {
			return t
		}
		return s.assoc[id]
	}
	ctxAll := false
	if p.region != nil && *p.region != s.region {
		w.region = *p.region
		w.all, ctxAll = true, true
	}
	if p.ecmp != nil {
		w.ecmpRaw = *p.ecmp
		if effectiveEcmp(w.ecmpRaw) != s.ecmp {
			w.all = true
		}
	}
	for id, exists := range p.tables {
		if exists != (s.tables[id] != nil) {
			w.tables[id] = exists
			if exists {
				w.rebuild[id] = true
			}
		}
	}
	outChanged := map[string]bool{}
	if p.mapsSet {
		w.in, w.out = compilePolicies(p.maps)
		for id := range joinKeys(s.in, w.in) {
			if !equalPolicySets(s.in[id], w.in[id]) {
				w.rebuild[id] = true
			}
		}
		for id := range joinKeys(s.out, w.out) {
			if !equalPolicySets(s.out[id], w.out[id]) {
				outChanged[id] = true
			}
		}
	}
	for id := range joinKeys(p.atts, p.props) {
		oldA := s.atts[id]
		newA := oldA
		if a, ok := p.atts[id]; ok {
			newA = nil
			if a != nil {
				newA = newAttState(*a)
				if attEqual(oldA, newA) {
					newA = oldA
				}
			}
		}
		oldP := s.props[id]
		newP := oldP
		if ts, ok := p.props[id]; ok {
			newP = ts
		}
		attChanged, propsChanged := oldA != newA, !slices.Equal(oldP, newP)
		if !attChanged && !propsChanged {
			continue
		}
		w.changed[id] = true
		w.newAtts[id], w.newProp[id] = newA, newP
		if oldA.offers() {
			for _, t := range oldP {
				if s.tables[t] != nil {
					w.touchRoutes(t, oldA)
				}
			}
		}
		if newA.offers() {
			for _, t := range newP {
				w.touchRoutes(t, newA)
			}
		}
		if attChanged {
			for _, st := range s.staticsByHop[id] {
				w.touch(st.TableID, st.Prefix)
			}
			if !sameAsReceiver(oldA, newA) {
				w.ctx[id] = true
			}
		}
	}
	for id, st := range p.statics {
		old := s.statics[id]
		if old == st || (old != nil && st != nil && *old == *st) {
			continue
		}
		w.statics[id] = st
		if old != nil {
			w.touch(old.TableID, old.Prefix)
		}
		if st != nil {
			w.touch(st.TableID, st.Prefix)
		}
	}
	for id, t := range p.assoc {
		if s.assoc[id] != t {
			w.ctx[id] = true
		}
	}
	if ctxAll || len(outChanged) > 0 || len(w.tables) > 0 {
		for id := range joinKeys(s.atts, w.newAtts) {
			o, n := s.assoc[id], newAssoc(id)
			_, oc := w.tables[o]
			_, nc := w.tables[n]
			if ctxAll || outChanged[o] || outChanged[n] || oc || nc {
				w.ctx[id] = true
			}
		}
	}
	return w
}

// apply commits the staged changes.
func (s *state) apply(p *pending, w *work) {
	s.last.Store(nil)
	s.region = w.region
	s.ecmpRaw, s.ecmp = w.ecmpRaw, effectiveEcmp(w.ecmpRaw)
	for id, exists := range w.tables {
		if exists {
			s.tables[id] = &tableState{id: id}
			w.old[id] = nil
		} else {
			w.old[id] = s.tables[id]
			delete(s.tables, id)
		}
	}
	if p.mapsSet {
		s.maps = slices.Clone(p.maps)
		slices.SortStableFunc(s.maps, func(a, b RouteMap) int { return strings.Compare(a.ID, b.ID) })
		s.in, s.out = w.in, w.out
	}
	for id, a := range w.newAtts {
		if a == nil {
			delete(s.atts, id)
		} else {
			s.atts[id] = a
		}
	}
	for id, ts := range w.newProp {
		if len(ts) == 0 {
			delete(s.props, id)
		} else {
			s.props[id] = ts
		}
	}
	for id, t := range p.assoc {
		if t == "" {
			delete(s.assoc, id)
		} else {
			s.assoc[id] = t
		}
	}
	for id, st := range w.statics {
		s.removeStatic(id)
		if st != nil {
			s.addStatic(st)
		}
	}

}

// recompute rebuilds the tables to rebuild and recomputes the dirty prefixes of the others,
// recording the changed prefixes in w.pairs.
func (s *state) recompute(w *work) flushStats {
	var rebuild []string
	if w.all {
		for id := range s.tables {
			rebuild = append(rebuild, id)
			if _, ok := w.old[id]; !ok {
				w.old[id] = s.tables[id]
			}
		}
	} else {
		for id := range w.rebuild {
			if s.tables[id] != nil {
				rebuild = append(rebuild, id)
				if _, ok := w.old[id]; !ok {
					w.old[id] = s.tables[id]
				}
			}
		}
	}
	slices.Sort(rebuild)
	rebuilt := map[string]bool{}
	for _, id := range rebuild {
		rebuilt[id] = true
	}
	stats := flushStats{rebuilt: rebuild}
	s.rebuildTables(rebuild)
	for id := range w.changed {
		a := s.atts[id]
		if !a.offers() {
			continue
		}
		for _, t := range s.props[id] {
			if s.tables[t] == nil || rebuilt[t] {
				continue
			}
			ps := s.inFor(t, a)
			m := w.adds[t]
			if m == nil {
				m = map[netip.Prefix][]entry{}
				w.adds[t] = m
			}
			for i := range a.a.Routes {
				r := &a.a.Routes[i]
				m[r.Prefix] = append(m[r.Prefix], s.evalIn(a, r, t, ps))
			}
		}
	}
	for t, ps := range w.dirty {
		ts := s.tables[t]
		if ts == nil || rebuilt[t] {
			continue
		}
		slices.SortFunc(ps, netip.Prefix.Compare)
		ps = slices.Compact(ps)
		stats.recomputed += len(ps)
		pairs := make([]pePair, 0, len(ps))
		for _, pfx := range ps {
			old := ts.get(pfx)
			pe := s.recomputePrefix(t, pfx, old, w.changed, w.adds[t][pfx])
			switch {
			case pe != nil:
				ts.put(pe, false)
			case old != nil:
				ts.del(pfx)
			default:
				continue
			}
			pairs = append(pairs, pePair{old, pe})
		}
		w.pairs[t] = pairs
	}

	return stats
}

func joinKeys[K comparable, V1, V2 any](a map[K]V1, b map[K]V2) map[K]struct{} {
	out := make(map[K]struct{}, len(a)+len(b))
	for k := range a {
		out[k] = struct{}{}
	}
	for k := range b {
		out[k] = struct{}{}
	}
	return out
}

func (s *state) addStatic(st *StaticEntry) {
	s.statics[st.ID] = st
	m := s.staticsAt[st.TableID]
	if m == nil {
		m = map[netip.Prefix][]*StaticEntry{}
		s.staticsAt[st.TableID] = m
	}
	l := append(m[st.Prefix], st)
	slices.SortFunc(l, func(a, b *StaticEntry) int { return strings.Compare(a.ID, b.ID) })
	m[st.Prefix] = l
	if !st.BlackHole {
		h := s.staticsByHop[st.NextHop]
		if h == nil {
			h = map[string]*StaticEntry{}
			s.staticsByHop[st.NextHop] = h
		}
		h[st.ID] = st
	}
}

func (s *state) removeStatic(id string) {
	st := s.statics[id]
	if st == nil {
		return
	}
	delete(s.statics, id)
	m := s.staticsAt[st.TableID]
	l := slices.DeleteFunc(m[st.Prefix], func(x *StaticEntry) bool { return x.ID == id })
	if len(l) == 0 {
		delete(m, st.Prefix)
		if len(m) == 0 {
			delete(s.staticsAt, st.TableID)
		}
	} else {
		m[st.Prefix] = l
	}
	if h := s.staticsByHop[st.NextHop]; h != nil {
		delete(h, id)
		if len(h) == 0 {
			delete(s.staticsByHop, st.NextHop)
		}
	}
}

// rebuildTables rebuilds the given tables, in parallel.
func (s *state) rebuildTables(ids []string) {
	if len(ids) == 0 {
		return
	}
	props := map[string][]*attState{}
	for id, ts := range s.props {
		a := s.atts[id]
		if !a.offers() {
			continue
		}
		for _, t := range ts {
			props[t] = append(props[t], a)
		}
	}
	for _, l := range props {
		slices.SortFunc(l, func(a, b *attState) int { return strings.Compare(a.a.ID, b.a.ID) })
	}
	out := make([]*tableState, len(ids))
	workers := min(runtime.GOMAXPROCS(0), len(ids))
	if workers <= 1 {
		for i, id := range ids {
			out[i] = s.rebuildTable(id, props[id])
		}
	} else {
		var wg sync.WaitGroup
		next := make(chan int, len(ids))
		for i := range ids {
			next <- i
		}
		close(next)
		for range workers {
			wg.Go(func() {
				for i := range next {
					out[i] = s.rebuildTable(ids[i], props[ids[i]])
				}
			})
		}
		wg.Wait()
	}
	for i, id := range ids {
		s.tables[id] = out[i]
	}
}

// mergeTables pairs the prefixes of two versions of a table (either may be nil).
func mergeTables(a, b *tableState) []pePair {
	var la, lb []*prefixEntries
	if a != nil {
		for pe := range a.all() {
			la = append(la, pe)
		}
	}
	if b != nil {
		for pe := range b.all() {
			lb = append(lb, pe)
		}
	}
	out := make([]pePair, 0, max(len(la), len(lb)))
	i, j := 0, 0
	for i < len(la) || j < len(lb) {
		switch {
		case j == len(lb) || (i < len(la) && la[i].prefix.Compare(lb[j].prefix) < 0):
			out = append(out, pePair{old: la[i]})
			i++
		case i == len(la) || lb[j].prefix.Compare(la[i].prefix) < 0:
			out = append(out, pePair{new: lb[j]})
			j++
		default:
			out = append(out, pePair{la[i], lb[j]})
			i, j = i+1, j+1
		}
	}
	return out
}

// diff reports the table changes of w.pairs and the attachments whose advertisements changed.
func (s *state) diff(w *work) Diff {
	d := Diff{Tables: map[string]TableDiff{}}
	for t, pairs := range w.pairs {
		var td TableDiff
		for _, pp := range pairs {
			diffEntries(pp.old, pp.new, &td)
		}
		if len(td.Added)+len(td.Removed)+len(td.Changed) > 0 {
			d.Tables[t] = td
		}
	}
	if len(d.Tables) == 0 {
		d.Tables = nil
	}
	marked := map[string]bool{}
	for id := range w.ctx {
		if !s.sameAdvertised(id, w.oldAdv[id]) {
			marked[id] = true
		}
	}
	// Receivers whose context is unchanged: only the changed prefixes of their table matter.
	// Receivers that see the same RegionOut policies form a class and share one evaluation
	// per prefix; when a class's result is the same before and after, only split horizon can
	// tell its receivers apart, so only those that are next hops of the prefix are checked.
	type recv struct {
		id     string
		marked bool
	}
	type class struct {
		ps    policySet
		recvs []*recv
		open  int // receivers not marked yet
	}
	type tableRecvs struct {
		classes []*class
		byID    map[string]*recv
		open    int
	}
	tables := map[string]*tableRecvs{}
	for id, t := range s.assoc {
		if w.ctx[id] || len(w.pairs[t]) == 0 {
			continue
		}
		a, _ := s.publishing(id)
		if a == nil {
			continue
		}
		tr := tables[t]
		if tr == nil {
			tr = &tableRecvs{byID: map[string]*recv{}}
			tables[t] = tr
		}
		ps := s.outFor(t, a)
		var c *class
		for _, x := range tr.classes {
			if slices.Equal(x.ps, ps) {
				c = x
				break
			}
		}
		if c == nil {
			c = &class{ps: ps}
			tr.classes = append(tr.classes, c)
		}
		r := &recv{id: id}
		c.recvs = append(c.recvs, r)
		c.open++
		tr.open++
		tr.byID[id] = r
	}
	mark := func(tr *tableRecvs, c *class, r *recv) {
		r.marked = true
		c.open--
		tr.open--
		marked[r.id] = true
	}
	for t, tr := range tables {
		for _, pp := range w.pairs[t] {
			if tr.open == 0 {
				break
			}
			if !activeChanged(pp.old, pp.new) {
				continue
			}
			for _, c := range tr.classes {
				if c.open == 0 {
					continue
				}
				ro, okO := s.advertise(pp.old, t, c.ps)
				rn, okN := s.advertise(pp.new, t, c.ps)
				check := func(r *recv) {
					vo := okO && !pp.old.hasHop(r.id)
					vn := okN && !pp.new.hasHop(r.id)
					if vo != vn || (vo && !entryEqual(ro, rn)) {
						mark(tr, c, r)
					}
				}
				if okO == okN && (!okO || entryEqual(ro, rn)) {
					for _, hops := range [2][]string{pp.old.hopsOrNil(), pp.new.hopsOrNil()} {
						for _, h := range hops {
							if r := tr.byID[h]; r != nil && !r.marked && slices.Contains(c.recvs, r) {
								check(r)
							}
						}
					}
					continue
				}
				for _, r := range c.recvs {
					if !r.marked {
						check(r)
					}
				}
			}
		}
	}
	d.Advertised = slices.Sorted(maps.Keys(marked))
	return d
}

// activeChanged reports whether the Active entries of two versions of a prefix may differ.
func activeChanged(a, b *prefixEntries) bool {
	x, y := a.active(), b.active()
	if len(x) != len(y) {
		return true
	}
	for i := range x {
		p, q := &x[i], &y[i]
		if p.att != q.att || p.route != q.route || p.static != q.static || p.pref != q.pref ||
			!slices.Equal(p.asPath(), q.asPath()) || !slices.Equal(p.comms(), q.comms()) {
			return true
		}
	}
	return false
}

// sameKey reports whether two entries of a prefix are the same entry (maybe changed).
func sameKey(a, b *Entry) bool {
	return a.Type == b.Type && a.NextHop == b.NextHop && a.StaticID == b.StaticID
}

// diffEntries adds the differences between two versions of a prefix to td.
func diffEntries(old, new *prefixEntries, td *TableDiff) {
	var xs, ys []Entry
	if old != nil {
		for i := range old.entries {
			xs = append(xs, old.entries[i].export(old.prefix))
		}
	}
	if new != nil {
		for i := range new.entries {
			ys = append(ys, new.entries[i].export(new.prefix))
		}
	}
	for i := range ys {
		j := slices.IndexFunc(xs, func(x Entry) bool { return sameKey(&x, &ys[i]) })
		switch {
		case j < 0:
			td.Added = append(td.Added, ys[i])
		case !entryEqual(xs[j], ys[i]):
			td.Changed = append(td.Changed, ys[i])
		}
	}
	for i := range xs {
		if !slices.ContainsFunc(ys, func(y Entry) bool { return sameKey(&y, &xs[i]) }) {
			td.Removed = append(td.Removed, xs[i])
		}
	}
}

func entryEqual(a, b Entry) bool {
	return a.Prefix == b.Prefix && a.Type == b.Type && a.Status == b.Status && a.NextHop == b.NextHop &&
		a.BlackHole == b.BlackHole && a.StaticID == b.StaticID && pathEqual(a.Path, b.Path)
}

func pathEqual(a, b PathAttributes) bool {
	return slices.Equal(a.AsPath, b.AsPath) && slices.Equal(a.Communities, b.Communities) &&
		a.OriginInstanceID == b.OriginInstanceID && a.OriginInstanceType == b.OriginInstanceType &&
		a.OriginRouteType == b.OriginRouteType && a.Preference == b.Preference && slices.Equal(a.Regions, b.Regions)
}
