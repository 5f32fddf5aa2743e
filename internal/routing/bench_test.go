package routing

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/gaissmai/bart"
)

// The benchmark transit router: 1,000 attachments with 100 prefixes each (100,000 routes),
// 8 route tables, 50 route maps.
//
//   - 100 VPCs (System routes, /24s under 10.0.0.0/8), VPC i associated with and propagating
//     into table i%8.
//   - 900 VPN connections (BGP routes), in pairs: both connections of a pair reach the same
//     data center, offer the same 100 prefixes with the same AS path length (an ECMP group)
//     and are associated with and propagate into the same table. Every 10th route carries the
//     community 65000:1, every 7th pair has an AS path of length 2.
//   - Route maps: per table the system RegionOut Deny (5000), a RegionIn Deny by CIDR, a
//     RegionIn Permit on a community that sets a preference and continues (NextPriority), a
//     RegionIn prepend for some connections, a RegionOut Permit joining one data center to the
//     others and a RegionOut Deny by CIDR (48), plus two RegionIn AS-path maps.
const (
	benchAtts     = 1000
	benchVPCs     = 100
	benchPrefixes = 100
	benchTables   = 8
)

func benchPrefix(base uint32, k int) netip.Prefix {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], base+uint32(k)<<8)
	return netip.PrefixFrom(netip.AddrFrom4(b), 24)
}

func benchAttID(i int) string { return fmt.Sprintf("tr-attach-%04d", i) }

func benchTable(i int) string {
	if i >= benchVPCs {
		i = (i - benchVPCs) / 2
	}
	return fmt.Sprintf("vtb-%d", i%benchTables)
}

// benchRoutes are the routes of attachment i; variant shifts them to other prefixes.
func benchRoutes(i, variant int) []OfferedRoute {
	rs := make([]OfferedRoute, benchPrefixes)
	if i < benchVPCs {
		for m := range rs {
			rs[m] = OfferedRoute{Prefix: benchPrefix(0x0A000000, (i+variant*benchAtts)*benchPrefixes+m), Kind: RouteSystem}
		}
		return rs
	}
	pair := (i - benchVPCs) / 2
	path := []uint32{65000 + uint32(pair%1000)}
	if pair%7 == 0 {
		path = append(path, 64512)
	}
	comm := []string{"65000:1"}
	for m := range rs {
		rs[m] = OfferedRoute{Prefix: benchPrefix(0x0B000000, (pair+variant*benchAtts)*benchPrefixes+m), Kind: RouteBGP, AsPath: path}
		if m%10 == 0 {
			rs[m].Communities = comm
		}
	}
	return rs
}

func benchInput() Input {
	in := Input{Region: "cn-hangzhou", Associations: map[string]string{}, Propagations: map[string][]string{}}
	for t := range benchTables {
		in.Tables = append(in.Tables, Table{ID: fmt.Sprintf("vtb-%d", t)})
	}
	for i := range benchAtts {
		id := benchAttID(i)
		a := Attachment{ID: id, Routes: benchRoutes(i, 0)}
		if i < benchVPCs {
			a.Type, a.ResourceID = TypeVPC, fmt.Sprintf("vpc-%04d", i)
		} else {
			a.Type, a.ResourceID, a.AutoPublish = TypeVPN, fmt.Sprintf("vco-%04d", i), true
		}
		in.Attachments = append(in.Attachments, a)
		in.Associations[id] = benchTable(i)
		in.Propagations[id] = []string{benchTable(i)}
	}
	for t := range benchTables {
		tb := fmt.Sprintf("vtb-%d", t)
		rm := func(suffix string, dir Direction, prio int, res MapResult) RouteMap {
			return RouteMap{ID: fmt.Sprintf("cenrmap-%d-%s", t, suffix), Direction: dir, Priority: prio, TableID: tb, Result: res}
		}
		sys := systemPolicy(tb)
		denyIn := rm("deny-in", RegionIn, 5, Deny)
		denyIn.DestinationCIDRs = []netip.Prefix{benchPrefix(0x0B000000, t*benchPrefixes)} // one /24 per table
		denyIn.CidrMatchMode = MatchComplete
		comm := rm("comm", RegionIn, 10, Permit)
		comm.MatchCommunities, comm.Preference, comm.NextPriority = []string{"65000:1"}, 40, 20
		comm.OperateCommunities = []string{"45104:1"}
		prepend := rm("prepend", RegionIn, 20, Permit)
		prepend.SourceInstanceIDs = []string{fmt.Sprintf("vco-%04d", benchVPCs+16*t), fmt.Sprintf("vco-%04d", benchVPCs+16*t+1)}
		prepend.PrependASPath = []uint32{45104, 45104}
		join := rm("join", RegionOut, 10, Permit)
		join.SourceChildInstanceTypes = []AttachmentType{TypeVPN}
		join.DestinationInstanceIDs = []string{benchAttID(benchVPCs + 16*t)}
		denyOut := rm("deny-out", RegionOut, 20, Deny)
		denyOut.DestinationCIDRs = []netip.Prefix{pfx("10.0.0.0/16")}
		in.RouteMaps = append(in.RouteMaps, sys, denyIn, comm, prepend, join, denyOut)
	}
	for k := range 2 {
		m := RouteMap{ID: fmt.Sprintf("cenrmap-asn-%d", k), Direction: RegionIn, Priority: 30, TableID: fmt.Sprintf("vtb-%d", k),
			Result: Deny, MatchASNs: []uint32{65000 + 7, 64512}, AsPathMatchMode: MatchComplete}
		in.RouteMaps = append(in.RouteMaps, m)
	}
	return in
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func countEntries(v View) int {
	n := 0
	for _, t := range v.TableIDs() {
		n += len(v.Table(t))
	}
	return n
}

// BenchmarkCompute: a full recompute of the benchmark TR. B/route is the heap retained by the
// Result per offered route (the input, owned by the caller, is not counted: the Result shares
// its route slices).
func BenchmarkCompute(b *testing.B) {
	in := benchInput()
	before := heapInUse()
	r := Compute(in)
	retained := heapInUse() - before
	entries := countEntries(r)
	runtime.KeepAlive(r)
	r = nil
	routes := benchAtts * benchPrefixes
	b.ResetTimer()
	for b.Loop() {
		Compute(in)
	}
	b.ReportMetric(float64(retained)/float64(routes), "B/route")
	b.ReportMetric(float64(entries), "entries")
}

// BenchmarkEngineLoad: an Engine's first Flush of the benchmark TR, with its Diff (every entry
// Added). B/route is the heap the Engine retains afterwards per offered route.
func BenchmarkEngineLoad(b *testing.B) {
	in := benchInput()
	before := heapInUse()
	e := NewEngine()
	e.Replace(in)
	e.Flush()
	retained := heapInUse() - before
	runtime.KeepAlive(e)
	b.ResetTimer()
	for b.Loop() {
		e := NewEngine()
		e.Replace(in)
		e.Flush()
	}
	b.ReportMetric(float64(retained)/float64(benchAtts*benchPrefixes), "B/route")
}

// BenchmarkInputSize reports the size of the benchmark input itself per route (what the
// caller holds and the engine shares), for reference.
func BenchmarkInputSize(b *testing.B) {
	before := heapInUse()
	in := benchInput()
	size := heapInUse() - before
	runtime.KeepAlive(in)
	for b.Loop() {
	}
	b.ReportMetric(float64(size)/float64(benchAtts*benchPrefixes), "B/route")
}

// BenchmarkFlushOneAttachment: one attachment's 100 prefixes are replaced by 100 others, then
// Flush (200 prefixes recomputed, diffs of the table and of the 125 advertised sets of its
// table's attachments).
func BenchmarkFlushOneAttachment(b *testing.B) {
	for _, c := range []struct {
		name string
		att  int
	}{{"VPN", benchVPCs + 42}, {"VPC", 17}} {
		b.Run(c.name, func(b *testing.B) {
			in := benchInput()
			e := NewEngine()
			e.Replace(in)
			e.Flush()
			a := in.Attachments[c.att]
			variants := [2][]OfferedRoute{benchRoutes(c.att, 0), benchRoutes(c.att, 1)}
			i := 0
			var changed, adv int
			for b.Loop() {
				i++
				a.Routes = variants[i%2]
				e.SetAttachment(a)
				d := e.Flush()
				td := d.Tables[benchTable(c.att)]
				changed += len(td.Added) + len(td.Removed) + len(td.Changed)
				adv += len(d.Advertised)
			}
			b.ReportMetric(float64(changed)/float64(i), "entries-changed/op")
			b.ReportMetric(float64(adv)/float64(i), "adv-changed/op")
		})
	}
}

// BenchmarkAdvertised: the full advertised set of one VPN connection (route synchronization)
// and of one VPC, from a table of ~12,500 entries.
func BenchmarkAdvertised(b *testing.B) {
	r := Compute(benchInput())
	for _, c := range []struct {
		name string
		att  int
	}{{"VPN", benchVPCs + 42}, {"VPC", 17}} {
		b.Run(c.name, func(b *testing.B) {
			n := 0
			for b.Loop() {
				n = len(r.Advertised(benchAttID(c.att)))
			}
			b.ReportMetric(float64(n), "routes")
		})
	}
}

// BenchmarkLookup compares Lookup in a computed table with a raw bart.Table lookup on the
// same prefixes, for the same addresses (mostly hits, some misses). The engine indexes its
// tables with bart.Fast (bart's lookup-optimized variant), so a raw bart.Fast is measured too.
func BenchmarkLookup(b *testing.B) {
	in := benchInput()
	r := Compute(in)
	const table = "vtb-3"
	var raw bart.Table[int]
	var rawFast bart.Fast[int32]
	var prefixes []netip.Prefix
	for _, e := range r.Table(table) {
		if e.Status == StatusActive {
			raw.Insert(e.Prefix, 1)
			rawFast.Insert(e.Prefix, 1)
			prefixes = append(prefixes, e.Prefix)
		}
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	addrs := make([]netip.Addr, 4096)
	for i := range addrs {
		p := prefixes[rnd.IntN(len(prefixes))]
		a := p.Addr().As4()
		a[3] = byte(rnd.IntN(256))
		if i%8 == 0 {
			a[0] = 192 // a miss
		}
		addrs[i] = netip.AddrFrom4(a)
	}
	b.Run("Result", func(b *testing.B) {
		i, hits := 0, 0
		for b.Loop() {
			if _, ok := r.Lookup(table, addrs[i&4095]); ok {
				hits++
			}
			i++
		}
		sink = hits
	})
	b.Run("RawBart", func(b *testing.B) {
		i, hits := 0, 0
		for b.Loop() {
			if _, ok := raw.Lookup(addrs[i&4095]); ok {
				hits++
			}
			i++
		}
		sink = hits
	})
	b.Run("RawBartFast", func(b *testing.B) {
		i, hits := 0, 0
		for b.Loop() {
			if _, ok := rawFast.Lookup(addrs[i&4095]); ok {
				hits++
			}
			i++
		}
		sink = hits
	})
	// Interleaved batches of all three, timed separately, so that noise from other processes
	// on the machine hits them alike; reports the ratios.
	b.Run("Ratio", func(b *testing.B) {
		var tr, tb, tf time.Duration
		var n, hits int
		for b.Loop() {
			base := n & 4095
			t0 := time.Now()
			for k := range 256 {
				if _, ok := r.Lookup(table, addrs[(base+k)&4095]); ok {
					hits++
				}
			}
			t1 := time.Now()
			for k := range 256 {
				if _, ok := raw.Lookup(addrs[(base+k)&4095]); ok {
					hits++
				}
			}
			t2 := time.Now()
			for k := range 256 {
				if _, ok := rawFast.Lookup(addrs[(base+k)&4095]); ok {
					hits++
				}
			}
			t3 := time.Now()
			tr, tb, tf = tr+t1.Sub(t0), tb+t2.Sub(t1), tf+t3.Sub(t2)
			n += 256
		}
		sink = hits
		b.ReportMetric(float64(tr.Nanoseconds())/float64(n), "ns/lookup")
		b.ReportMetric(float64(tb.Nanoseconds())/float64(n), "ns/raw-table")
		b.ReportMetric(float64(tf.Nanoseconds())/float64(n), "ns/raw-fast")
		b.ReportMetric(float64(tr)/float64(tb), "x-table")
		b.ReportMetric(float64(tr)/float64(tf), "x-fast")
	})
}

var sink int
