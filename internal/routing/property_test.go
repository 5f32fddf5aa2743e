package routing

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

const propertyRuns = 200

var prefixPool = []string{
	"0.0.0.0/0", "10.0.0.0/8", "10.0.0.0/16", "10.1.0.0/16", "10.0.0.0/24", "10.0.1.0/24",
	"10.1.2.0/24", "10.0.0.128/25", "172.16.0.0/12", "172.16.5.0/24", "192.168.0.0/16",
	"192.168.1.0/24", "192.168.2.0/24", "192.168.1.7/32", "2001:db8::/32", "2001:db8:1::/48",
	"::/0", "100.64.0.0/10",
}

type gen struct {
	r      *rand.Rand
	tables []string // candidate table IDs (some never created)
	atts   []string // candidate attachment IDs (some never created)
}

func newGen(seed uint64) *gen {
	g := &gen{r: rand.New(rand.NewPCG(seed, seed*7+1))}
	for i := range 5 {
		g.tables = append(g.tables, fmt.Sprintf("vtb-%d", i))
	}
	for i := range 12 {
		g.atts = append(g.atts, fmt.Sprintf("att-%02d", i))
	}
	return g
}

func (g *gen) pick(l []string) string { return l[g.r.IntN(len(l))] }
func (g *gen) chance(p float64) bool  { return g.r.Float64() < p }

func (g *gen) subset(l []string, p float64) []string {
	var out []string
	for _, x := range l {
		if g.chance(p) {
			out = append(out, x)
		}
	}
	return out
}

func (g *gen) prefix() netip.Prefix {
	p := pfx(g.pick(prefixPool))
	if g.chance(0.05) && p.Addr().Is4() && p.Bits() < 32 {
		// An unmasked prefix: the engine masks it.
		a := p.Addr().As4()
		a[3] |= 1
		p = netip.PrefixFrom(netip.AddrFrom4(a), p.Bits())
	}
	return p
}

func (g *gen) asPath() []uint32 {
	var p []uint32
	for range g.r.IntN(4) {
		p = append(p, 65001+uint32(g.r.IntN(3)))
	}
	return p
}

func (g *gen) comms() []string { return g.subset([]string{"1:1", "1:2", "2:1"}, 0.3) }

func (g *gen) attType() AttachmentType {
	if g.chance(0.5) {
		return TypeVPN
	}
	return AttachmentType(1 + g.r.IntN(5))
}

func (g *gen) attachment(id string) Attachment {
	a := Attachment{ID: id, Type: g.attType(), ResourceID: "res-" + id, Withdrawn: g.chance(0.15), AutoPublish: g.chance(0.6)}
	a.Region = []string{"", "", "cn-hangzhou", "cn-shanghai"}[g.r.IntN(4)]
	for range g.r.IntN(7) {
		a.Routes = append(a.Routes, OfferedRoute{Prefix: g.prefix(), Kind: RouteType(g.r.IntN(3)), AsPath: g.asPath(), Communities: g.comms()})
	}
	return a
}

func (g *gen) static(id string) StaticEntry {
	s := StaticEntry{ID: id, TableID: g.pick(g.tables), Prefix: g.prefix()}
	switch {
	case g.chance(0.2):
		s.BlackHole = true
	case g.chance(0.1):
		s.NextHop = "att-missing"
	default:
		s.NextHop = g.pick(g.atts)
	}
	return s
}

func (g *gen) types() []AttachmentType {
	var out []AttachmentType
	for t := TypeVPC; t <= TypeVPN; t++ {
		if g.chance(0.4) {
			out = append(out, t)
		}
	}
	return out
}

func (g *gen) routeMap(id string) RouteMap {
	m := RouteMap{ID: id, Direction: Direction(1 + g.r.IntN(2)), Priority: 1 + g.r.IntN(10), TableID: g.pick(g.tables),
		Result: MapResult(1 + g.r.IntN(2))}
	if g.chance(0.1) {
		m.Priority = 5000
	}
	c := func() bool { return g.chance(0.2) }
	ids := func() []string {
		var out []string
		for _, a := range g.subset(g.atts, 0.2) {
			if g.chance(0.5) {
				a = "res-" + a
			}
			out = append(out, a)
		}
		return out
	}
	if c() {
		m.SourceInstanceIDs, m.SourceInstanceIDsReverse = ids(), g.chance(0.3)
	}
	if c() {
		m.DestinationInstanceIDs, m.DestinationInstanceIDsReverse = ids(), g.chance(0.3)
	}
	if c() {
		m.SourceRegionIDs = g.subset([]string{"cn-hangzhou", "cn-shanghai"}, 0.6)
	}
	if c() {
		m.DestinationRegionIDs = g.subset([]string{"cn-hangzhou", "cn-shanghai"}, 0.6)
	}
	if c() {
		m.SourceRouteTableIDs = g.subset(g.tables, 0.4)
	}
	if c() {
		m.DestinationRouteTableIDs = g.subset(g.tables, 0.4)
	}
	if c() {
		m.SourceChildInstanceTypes = g.types()
	}
	if c() {
		m.DestinationChildInstanceTypes = g.types()
	}
	if c() {
		for k := RouteSystem; k <= RouteBGP; k++ {
			if g.chance(0.5) {
				m.RouteTypes = append(m.RouteTypes, k)
			}
		}
	}
	if c() {
		for range 1 + g.r.IntN(2) {
			m.DestinationCIDRs = append(m.DestinationCIDRs, pfx(g.pick(prefixPool)))
		}
		m.CidrMatchMode = MatchMode(g.r.IntN(2))
	}
	if c() {
		m.MatchASNs = g.asPath()
		m.AsPathMatchMode = MatchMode(g.r.IntN(2))
	}
	if c() {
		m.MatchCommunities = g.comms()
		m.CommunityMatchMode = MatchMode(g.r.IntN(2))
	}
	if c() {
		m.MatchAddressType = AddressType(g.r.IntN(3))
	}
	if m.Result == Permit {
		if g.chance(0.4) {
			m.Preference = 1 + g.r.IntN(100)
		}
		if g.chance(0.3) {
			m.PrependASPath = g.asPath()
		}
		if g.chance(0.3) {
			m.OperateCommunities = g.comms()
			m.CommunityOperateMode = CommunityOperateMode(g.r.IntN(2))
		}
		if g.chance(0.3) {
			m.NextPriority = m.Priority + g.r.IntN(6)
		}
	}
	return m
}

func (g *gen) routeMaps() []RouteMap {
	var out []RouteMap
	for i := range g.r.IntN(7) {
		out = append(out, g.routeMap(fmt.Sprintf("cenrmap-%d", i)))
	}
	return out
}

func (g *gen) input() Input {
	in := Input{Region: "cn-hangzhou", Associations: map[string]string{}, Propagations: map[string][]string{},
		EcmpLimit: []int{0, 1, 2, 2, 3}[g.r.IntN(5)]}
	for _, t := range g.tables[:1+g.r.IntN(4)] {
		in.Tables = append(in.Tables, Table{ID: t})
	}
	for _, id := range g.atts[:1+g.r.IntN(10)] {
		in.Attachments = append(in.Attachments, g.attachment(id))
		if g.chance(0.7) {
			in.Associations[id] = g.pick(g.tables)
		}
		if ps := g.subset(g.tables, 0.5); len(ps) > 0 {
			in.Propagations[id] = ps
		}
	}
	for i := range g.r.IntN(5) {
		in.Statics = append(in.Statics, g.static(fmt.Sprintf("rte-%d", i)))
	}
	in.RouteMaps = g.routeMaps()
	return in
}

// dump renders everything a view says about the attachments and tables of in.
func dump(v View, ids []string) string {
	var b strings.Builder
	for _, t := range v.TableIDs() {
		fmt.Fprintf(&b, "table %s\n", t)
		for _, e := range v.Table(t) {
			fmt.Fprintf(&b, "  %s %s %s\n", e.Status, e.Type, describeEntry(e))
		}
	}
	for _, id := range ids {
		for _, e := range v.Advertised(id) {
			fmt.Fprintf(&b, "adv %s: %s\n", id, describeEntry(e))
		}
	}
	return b.String()
}

func allIDs(g *gen) []string { return append(slices.Clone(g.atts), "att-missing") }

func shuffled[T any](r *rand.Rand, l []T) []T {
	l = slices.Clone(l)
	r.Shuffle(len(l), func(i, j int) { l[i], l[j] = l[j], l[i] })
	return l
}

// feed applies in to e as individual mutations in random order, flushing at random points.
func feed(r *rand.Rand, e *Engine, in Input) {
	var ops []func()
	ops = append(ops, func() { e.SetRegion(in.Region) }, func() { e.SetEcmpLimit(in.EcmpLimit) },
		func() { e.SetRouteMaps(shuffled(r, in.RouteMaps)) })
	for _, t := range in.Tables {
		ops = append(ops, func() { e.SetTable(t) })
	}
	for _, a := range in.Attachments {
		ops = append(ops, func() { e.SetAttachment(a) })
	}
	for id, t := range in.Associations {
		ops = append(ops, func() { e.SetAssociation(id, t) })
	}
	for id, ts := range in.Propagations {
		ops = append(ops, func() { e.SetPropagations(id, shuffled(r, ts)) })
	}
	for _, s := range in.Statics {
		ops = append(ops, func() { e.SetStatic(s) })
	}
	for _, op := range shuffled(r, ops) {
		op()
		if r.IntN(4) == 0 {
			e.Flush()
		}
	}
	e.Flush()
}

func shuffleInput(r *rand.Rand, in Input) Input {
	out := in
	out.Tables = shuffled(r, in.Tables)
	out.Attachments = shuffled(r, in.Attachments)
	out.Statics = shuffled(r, in.Statics)
	out.RouteMaps = shuffled(r, in.RouteMaps)
	out.Propagations = map[string][]string{}
	for id, ts := range in.Propagations {
		out.Propagations[id] = shuffled(r, ts)
	}
	for i := range out.Attachments {
		out.Attachments[i].Routes = shuffled(r, out.Attachments[i].Routes)
	}
	return out
}

// Compute and the Engine fed the same inputs in any order agree.
func TestPropertyOrderIndependence(t *testing.T) {
	for seed := range uint64(propertyRuns) {
		g := newGen(seed)
		in := g.input()
		want := dump(Compute(in), allIDs(g))
		if got := dump(Compute(shuffleInput(g.r, in)), allIDs(g)); got != want {
			t.Fatalf("seed %d: Compute depends on input order:\n%s", seed, lineDiff(want, got))
		}
		e := NewEngine()
		feed(g.r, e, shuffleInput(g.r, in))
		if got := dump(e, allIDs(g)); got != want {
			t.Fatalf("seed %d: engine differs from Compute:\n%s", seed, lineDiff(want, got))
		}
		checkInvariants(t, seed, e, in)
	}
}

// model is the test's own record of the state, mutated alongside the engine.
type model struct{ in Input }

func (m *model) setAtt(a Attachment) {
	m.in.Attachments = slices.DeleteFunc(slices.Clone(m.in.Attachments), func(x Attachment) bool { return x.ID == a.ID })
	m.in.Attachments = append(m.in.Attachments, a)
}

func (m *model) att(id string) *Attachment {
	for i := range m.in.Attachments {
		if m.in.Attachments[i].ID == id {
			return &m.in.Attachments[i]
		}
	}
	return nil
}

// mutate applies one random change to both the engine and the model.
func mutate(g *gen, e *Engine, m *model) string {
	in := &m.in
	switch g.r.IntN(14) {
	case 0, 1: // a new or replaced attachment
		a := g.attachment(g.pick(g.atts))
		m.setAtt(a)
		e.SetAttachment(a)
		return "set attachment " + a.ID
	case 2: // one attachment's routes change
		id := g.pick(g.atts)
		if old := m.att(id); old != nil {
			a := *old
			a.Routes = g.attachment(id).Routes
			m.setAtt(a)
			e.SetAttachment(a)
			return "routes of " + id
		}
		return "nothing"
	case 3: // withdraw or restore
		id := g.pick(g.atts)
		if old := m.att(id); old != nil {
			a := *old
			a.Withdrawn = !a.Withdrawn
			m.setAtt(a)
			e.SetAttachment(a)
			return "toggle withdrawn " + id
		}
		return "nothing"
	case 4:
		id := g.pick(g.atts)
		in.Attachments = slices.DeleteFunc(slices.Clone(in.Attachments), func(x Attachment) bool { return x.ID == id })
		e.RemoveAttachment(id)
		return "remove attachment " + id
	case 5:
		id, t := g.pick(g.atts), g.pick(append(slices.Clone(g.tables), ""))
		in.Associations = maps.Clone(in.Associations)
		if t == "" {
			delete(in.Associations, id)
		} else {
			in.Associations[id] = t
		}
		e.SetAssociation(id, t)
		return "associate " + id + " " + t
	case 6:
		id, ts := g.pick(g.atts), g.subset(g.tables, 0.4)
		in.Propagations = maps.Clone(in.Propagations)
		if len(ts) == 0 {
			delete(in.Propagations, id)
		} else {
			in.Propagations[id] = ts
		}
		e.SetPropagations(id, ts)
		return fmt.Sprintf("propagate %s %v", id, ts)
	case 7:
		s := g.static(fmt.Sprintf("rte-%d", g.r.IntN(6)))
		in.Statics = append(slices.DeleteFunc(slices.Clone(in.Statics), func(x StaticEntry) bool { return x.ID == s.ID }), s)
		e.SetStatic(s)
		return "set static " + s.ID
	case 8:
		id := fmt.Sprintf("rte-%d", g.r.IntN(6))
		in.Statics = slices.DeleteFunc(slices.Clone(in.Statics), func(x StaticEntry) bool { return x.ID == id })
		e.RemoveStatic(id)
		return "remove static " + id
	case 9:
		id := g.pick(g.tables)
		if !slices.Contains(in.Tables, Table{ID: id}) {
			in.Tables = append(slices.Clone(in.Tables), Table{ID: id})
		}
		e.SetTable(Table{ID: id})
		return "set table " + id
	case 10:
		id := g.pick(g.tables)
		in.Tables = slices.DeleteFunc(slices.Clone(in.Tables), func(x Table) bool { return x.ID == id })
		e.RemoveTable(id)
		return "remove table " + id
	case 11: // one route map changes
		maps := slices.Clone(in.RouteMaps)
		if len(maps) > 0 && g.chance(0.7) {
			i := g.r.IntN(len(maps))
			maps[i] = g.routeMap(maps[i].ID)
		} else {
			maps = g.routeMaps()
		}
		in.RouteMaps = maps
		e.SetRouteMaps(maps)
		return "route maps"
	case 12:
		in.EcmpLimit = g.r.IntN(4)
		e.SetEcmpLimit(in.EcmpLimit)
		return fmt.Sprint("ecmp ", in.EcmpLimit)
	default:
		in.Region = g.pick([]string{"cn-hangzhou", "cn-shanghai"})
		e.SetRegion(in.Region)
		return "region " + in.Region
	}
}

// Random mutation sequences, flushed after each, always equal a full Compute of the final
// state, and each Flush reports exactly what changed.
func TestPropertyIncremental(t *testing.T) {
	for seed := range uint64(propertyRuns) {
		g := newGen(seed + 1000)
		m := &model{in: g.input()}
		e := NewEngine()
		e.Replace(m.in)
		e.Flush()
		var log []string
		for step := range 25 {
			before := snapshotOf(e, allIDs(g))
			n := 1 + g.r.IntN(3) // sometimes several changes per Flush
			for range n {
				log = append(log, mutate(g, e, m))
			}
			d := e.Flush()
			want := dump(Compute(m.in), allIDs(g))
			if got := dump(e, allIDs(g)); got != want {
				t.Fatalf("seed %d step %d after %q: engine differs from Compute:\n%s", seed, step, log, lineDiff(want, got))
			}
			checkDiff(t, fmt.Sprintf("seed %d step %d after %q", seed, step, log), before, snapshotOf(e, allIDs(g)), d)
			checkInvariants(t, seed, e, m.in)
			if got := dump(Compute(e.Input()), allIDs(g)); got != want {
				t.Fatalf("seed %d: Compute(e.Input()) differs:\n%s", seed, lineDiff(want, got))
			}
		}
	}
}

// Removing everything returns the empty state.
func TestPropertyRemoveEverything(t *testing.T) {
	for seed := range uint64(propertyRuns) {
		g := newGen(seed + 2000)
		in := g.input()
		e := NewEngine()
		feed(g.r, e, in)
		var ops []func()
		for _, a := range in.Attachments {
			ops = append(ops, func() { e.RemoveAttachment(a.ID) })
		}
		for _, tb := range in.Tables {
			ops = append(ops, func() { e.RemoveTable(tb.ID) })
		}
		for _, s := range in.Statics {
			ops = append(ops, func() { e.RemoveStatic(s.ID) })
		}
		for id := range in.Associations {
			ops = append(ops, func() { e.SetAssociation(id, "") })
		}
		for id := range in.Propagations {
			ops = append(ops, func() { e.SetPropagations(id, nil) })
		}
		ops = append(ops, func() { e.SetRouteMaps(nil) })
		for _, op := range shuffled(g.r, ops) {
			op()
			if g.r.IntN(3) == 0 {
				e.Flush()
			}
		}
		e.Flush()
		if got := dump(e, allIDs(g)); got != "" {
			t.Fatalf("seed %d: not empty:\n%s", seed, got)
		}
		got := e.Input()
		if len(got.Tables)+len(got.Attachments)+len(got.Statics)+len(got.RouteMaps)+len(got.Associations)+len(got.Propagations) != 0 {
			t.Fatalf("seed %d: input not empty: %+v", seed, got)
		}
		if n := len(e.s.staticsAt) + len(e.s.staticsByHop) + len(e.s.in) + len(e.s.out); n != 0 {
			t.Fatalf("seed %d: indexes not empty", seed)
		}
	}
}

// snapshot is what a view says, keyed for diffing.
type snapshot struct {
	entries map[string]map[string]Entry // table -> entry key -> entry
	adv     map[string]string           // attachment -> rendered advertisements
}

func snapshotOf(v View, ids []string) snapshot {
	s := snapshot{entries: map[string]map[string]Entry{}, adv: map[string]string{}}
	for _, t := range v.TableIDs() {
		m := map[string]Entry{}
		for _, e := range v.Table(t) {
			m[e.Prefix.String()+"|"+entryKey(&e)] = e
		}
		s.entries[t] = m
	}
	for _, id := range ids {
		var b strings.Builder
		for _, e := range v.Advertised(id) {
			b.WriteString(describeEntry(e) + "\n")
		}
		s.adv[id] = b.String()
	}
	return s
}

func checkDiff(t *testing.T, where string, before, after snapshot, d Diff) {
	t.Helper()
	for _, tb := range slices.Sorted(maps.Keys(joinKeys(before.entries, after.entries))) {
		got := maps.Clone(before.entries[tb])
		if got == nil {
			got = map[string]Entry{}
		}
		td := d.Tables[tb]
		for _, e := range td.Removed {
			k := e.Prefix.String() + "|" + entryKey(&e)
			if _, ok := got[k]; !ok {
				t.Fatalf("%s: table %s: removed %s was not there", where, tb, k)
			}
			delete(got, k)
		}
		for _, e := range append(slices.Clone(td.Added), td.Changed...) {
			got[e.Prefix.String()+"|"+entryKey(&e)] = e
		}
		if !maps.EqualFunc(got, after.entries[tb], entryEqual) && !(len(got) == 0 && len(after.entries[tb]) == 0) {
			t.Fatalf("%s: table %s: diff %+v does not turn the old table into the new one", where, tb, td)
		}
		for _, e := range td.Changed {
			k := e.Prefix.String() + "|" + entryKey(&e)
			if old, ok := before.entries[tb][k]; !ok || entryEqual(old, e) {
				t.Fatalf("%s: table %s: %s reported changed but was not", where, tb, k)
			}
		}
	}
	var changed []string
	for id, s := range after.adv {
		if before.adv[id] != s {
			changed = append(changed, id)
		}
	}
	slices.Sort(changed)
	if !slices.Equal(changed, d.Advertised) {
		t.Fatalf("%s: advertised changed for %v, diff says %v", where, changed, d.Advertised)
	}
}

// checkInvariants checks the structural properties of a computed state.
func checkInvariants(t *testing.T, seed uint64, v View, in Input) {
	t.Helper()
	atts := map[string]Attachment{}
	for _, a := range in.Attachments {
		atts[a.ID] = a
	}
	limit := in.EcmpLimit
	if limit <= 0 {
		limit = DefaultEcmpLimit
	}
	r := rand.New(rand.NewPCG(seed, 99))
	for _, tb := range v.TableIDs() {
		entries := v.Table(tb)
		if !slices.IsSortedFunc(entries, cmpEntries) {
			t.Fatalf("seed %d: table %s not sorted by prefix then status", seed, tb)
		}
		active := map[netip.Prefix][]Entry{}
		for _, e := range entries {
			if e.Status != StatusActive {
				continue
			}
			active[e.Prefix] = append(active[e.Prefix], e)
			if e.Type == EntryStatic {
				continue
			}
			a, ok := atts[e.NextHop]
			if !ok || a.Withdrawn || !slices.Contains(in.Propagations[e.NextHop], tb) {
				t.Fatalf("seed %d: table %s: Active entry %s via an attachment that does not propagate here", seed, tb, describeEntry(e))
			}
		}
		for p, es := range active {
			if len(es) > 1 {
				if len(es) > limit {
					t.Fatalf("seed %d: %s %s: %d Active entries over the limit %d", seed, tb, p, len(es), limit)
				}
				for _, e := range es {
					if e.Type != EntryPropagated || e.Path.OriginInstanceType != TypeVPN {
						t.Fatalf("seed %d: %s %s: ECMP with a non-VPN entry", seed, tb, p)
					}
				}
			}
		}
		// Lookup agrees with a brute-force longest-prefix scan of the Active entries.
		for range 40 {
			addr := randomAddr(r)
			var best netip.Prefix
			found := false
			for p := range active {
				if p.Contains(addr) && (!found || p.Bits() > best.Bits()) {
					best, found = p, true
				}
			}
			got, ok := v.Lookup(tb, addr)
			if ok != found || (ok && got.Prefix != best) {
				t.Fatalf("seed %d: %s lookup %s = %v %v, brute force %v %v", seed, tb, addr, got.Prefix, ok, best, found)
			}
			if ok {
				var hops []string
				for _, e := range active[best] {
					if !e.BlackHole {
						hops = append(hops, e.NextHop)
					}
				}
				if !slices.Equal(hops, got.NextHops) || got.BlackHole != active[best][0].BlackHole {
					t.Fatalf("seed %d: %s lookup %s next hops %v, entries say %v", seed, tb, addr, got.NextHops, hops)
				}
			}
		}
		// Explain agrees with the entries.
		for p := range active {
			x := v.Explain(tb, p, "")
			es := v.Entries(tb, p)
			if len(x.Candidates) != len(es) {
				t.Fatalf("seed %d: explain %s %s: %d candidates, %d entries", seed, tb, p, len(x.Candidates), len(es))
			}
			for i := range es {
				c := x.Candidates[i]
				if !entryEqual(c.Entry, es[i]) || c.Reason == "" {
					t.Fatalf("seed %d: explain %s %s: %+v vs %+v", seed, tb, p, c, es[i])
				}
				if c.Entry.Status == StatusRejected && !strings.Contains(c.Reason, "denied by RegionIn") {
					t.Fatalf("seed %d: explain %s %s: rejected without a denying map: %s", seed, tb, p, x)
				}
				if c.Entry.Status != StatusRejected && c.Entry.Type == EntryPropagated {
					for _, st := range c.RegionIn {
						if st.Outcome == "matched: deny" {
							t.Fatalf("seed %d: explain %s %s: trace denies an accepted route: %s", seed, tb, p, x)
						}
					}
				}
			}
		}
	}
	// Explain's advertisement agrees with Advertised.
	for id := range atts {
		adv := map[netip.Prefix]Entry{}
		for _, e := range v.Advertised(id) {
			adv[e.Prefix] = e
		}
		tb := in.Associations[id]
		for _, e := range v.Table(tb) {
			if e.Status != StatusActive {
				continue
			}
			x := v.Explain(tb, e.Prefix, id).Advertisement
			want, ok := adv[e.Prefix]
			if x.Advertised != ok || (ok && !entryEqual(*x.Route, want)) {
				t.Fatalf("seed %d: explain advertisement of %s to %s = %+v, Advertised has %v %+v", seed, e.Prefix, id, x, ok, want)
			}
		}
	}
}

func randomAddr(r *rand.Rand) netip.Addr {
	p := pfx(prefixPool[r.IntN(len(prefixPool))])
	b := p.Addr().AsSlice()
	// Keep the first bits of the prefix more often than not, randomize the rest.
	keep := p.Bits()
	if r.IntN(4) == 0 {
		keep = r.IntN(p.Bits() + 1)
	}
	for i := keep; i < len(b)*8; i++ {
		if r.IntN(2) == 0 {
			b[i/8] ^= 1 << (7 - i%8)
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for _, l := range w {
		if !slices.Contains(g, l) {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range g {
		if !slices.Contains(w, l) {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}

func entryKey(e *Entry) string {
	return e.Type.String() + "|" + e.NextHop + "|" + e.StaticID
}

func cmpEntries(a, b Entry) int {
	return cmp.Or(a.Prefix.Compare(b.Prefix), cmp.Compare(a.Status, b.Status))
}
