package routing

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// peerAtt is an inter-region connection as one of its routers sees it.
func peerAtt(id, peerTR, peerRegion string) Attachment {
	return Attachment{ID: id, Type: TypeTR, ResourceID: peerTR, Region: peerRegion}
}

// twoRegions: hangzhou has a data center (BGP) and a VPC, shanghai a VPC and a data center;
// one inter-region connection "peer" joins them, associated with and propagating into each
// router's one table; both tables have the system policy.
func twoRegions() (hz, sh Input) {
	hz = Input{
		Region: "cn-hangzhou",
		Tables: []Table{{ID: "vtb-hz"}},
		Attachments: []Attachment{
			vpnAtt("dc-hz", bgpRoute("192.168.1.0/24", 65001)),
			vpcAtt("vpc-hz", "10.1.0.0/16"),
			peerAtt("peer", "tr-sh", "cn-shanghai"),
		},
		Associations: map[string]string{"dc-hz": "vtb-hz", "vpc-hz": "vtb-hz", "peer": "vtb-hz"},
		Propagations: map[string][]string{"dc-hz": {"vtb-hz"}, "vpc-hz": {"vtb-hz"}, "peer": {"vtb-hz"}},
		RouteMaps:    []RouteMap{systemPolicy("vtb-hz")},
	}
	sh = Input{
		Region: "cn-shanghai",
		Tables: []Table{{ID: "vtb-sh"}},
		Attachments: []Attachment{
			vpcAtt("vpc-sh", "10.2.0.0/16"),
			vpnAtt("dc-sh", bgpRoute("192.168.2.0/24", 65002)),
			peerAtt("peer", "tr-hz", "cn-hangzhou"),
		},
		Associations: map[string]string{"vpc-sh": "vtb-sh", "dc-sh": "vtb-sh", "peer": "vtb-sh"},
		Propagations: map[string][]string{"vpc-sh": {"vtb-sh"}, "dc-sh": {"vtb-sh"}, "peer": {"vtb-sh"}},
		RouteMaps:    []RouteMap{systemPolicy("vtb-sh")},
	}
	return hz, sh
}

func converge(t *testing.T, ins map[string]Input, links []PeerLink) map[string]*Router {
	t.Helper()
	routers := map[string]*Router{}
	for id, in := range ins {
		e := NewEngine()
		e.Replace(in)
		e.Flush()
		routers[id] = &Router{ID: id, Region: in.Region, Engine: e}
	}
	if _, ok := Converge(routers, links, 32); !ok {
		t.Fatal("the routers did not settle")
	}
	return routers
}

func TestAcrossRegions(t *testing.T) {
	link := []PeerLink{{AttachmentID: "peer", A: "tr-hz", B: "tr-sh"}}
	tests := []struct {
		name    string
		mod     func(hz, sh *Input)
		entries map[string]string // "router table prefix" -> summary ("" = no entry)
		adv     map[string]string // "router attachment" -> advertised prefixes
		check   func(t *testing.T, rs map[string]*Router)
	}{
		{
			name: "a data center in one region and a VPC in the other learn each other over the connection",
			entries: map[string]string{
				"tr-sh vtb-sh 192.168.1.0/24": "Active:peer",
				"tr-hz vtb-hz 10.2.0.0/16":    "Active:peer",
				"tr-sh vtb-sh 10.1.0.0/16":    "Active:peer",
			},
			adv: map[string]string{
				// The VPC in shanghai learns hangzhou's data center; the data center in
				// hangzhou learns shanghai's VPC but not shanghai's data center (system policy,
				// matched on the route's origin across the boundary).
				// (Split horizon: nobody is advertised its own routes.)
				"tr-sh vpc-sh": "10.1.0.0/16 192.168.1.0/24 192.168.2.0/24",
				"tr-hz dc-hz":  "10.1.0.0/16 10.2.0.0/16",
				"tr-sh dc-sh":  "10.1.0.0/16 10.2.0.0/16",
			},
			check: func(t *testing.T, rs map[string]*Router) {
				es := rs["tr-sh"].Engine.Entries("vtb-sh", pfx("192.168.1.0/24"))
				if len(es) != 1 {
					t.Fatalf("entries %+v", es)
				}
				p := es[0].Path
				if p.OriginInstanceID != "vco-dc-hz" || p.OriginInstanceType != TypeVPN || p.OriginRouteType != RouteBGP ||
					!slices.Equal(p.Regions, []string{"cn-hangzhou"}) || p.OriginRegion() != "cn-hangzhou" ||
					!slices.Equal(p.AsPath, []uint32{65001}) {
					t.Errorf("path of the route from hangzhou = %+v", p)
				}
			},
		},
		{
			name: "RegionOut deny on hangzhou's table for one prefix toward the connection cuts exactly that prefix",
			mod: func(hz, sh *Input) {
				hz.RouteMaps = append(hz.RouteMaps, RouteMap{ID: "deny-dc", Direction: RegionOut, Priority: 10, TableID: "vtb-hz",
					Result: Deny, DestinationInstanceIDs: []string{"tr-sh"}, DestinationCIDRs: []netip.Prefix{pfx("192.168.1.0/24")}})
			},
			entries: map[string]string{
				"tr-sh vtb-sh 192.168.1.0/24": "",
				"tr-sh vtb-sh 10.1.0.0/16":    "Active:peer",
				"tr-hz vtb-hz 10.2.0.0/16":    "Active:peer",
			},
		},
		{
			name: "RegionOut by destination region",
			mod: func(hz, sh *Input) {
				hz.RouteMaps = append(hz.RouteMaps, RouteMap{ID: "deny-region", Direction: RegionOut, Priority: 10, TableID: "vtb-hz",
					Result: Deny, DestinationRegionIDs: []string{"cn-shanghai"}, DestinationCIDRs: []netip.Prefix{pfx("10.1.0.0/16")}})
			},
			entries: map[string]string{
				"tr-sh vtb-sh 10.1.0.0/16":    "",
				"tr-sh vtb-sh 192.168.1.0/24": "Active:peer",
			},
		},
		{
			name: "RegionIn on shanghai matches the origin region and instance of routes from hangzhou",
			mod: func(hz, sh *Input) {
				sh.RouteMaps = append(sh.RouteMaps,
					RouteMap{ID: "in-region", Direction: RegionIn, Priority: 10, TableID: "vtb-sh", Result: Deny,
						SourceRegionIDs: []string{"cn-hangzhou"}, DestinationCIDRs: []netip.Prefix{pfx("10.1.0.0/16")}},
					RouteMap{ID: "in-instance", Direction: RegionIn, Priority: 20, TableID: "vtb-sh", Result: Permit,
						SourceInstanceIDs: []string{"vco-dc-hz"}, Preference: 20})
			},
			entries: map[string]string{
				"tr-sh vtb-sh 10.1.0.0/16":    "Rejected:peer",
				"tr-sh vtb-sh 192.168.1.0/24": "Active:peer",
			},
			check: func(t *testing.T, rs map[string]*Router) {
				es := rs["tr-sh"].Engine.Entries("vtb-sh", pfx("192.168.1.0/24"))
				if len(es) != 1 || es[0].Path.Preference != 20 {
					t.Errorf("the RegionIn permit on the origin instance set preference 20: %+v", es)
				}
			},
		},
		{
			name: "a Permit above the system policy joins the data centers of both regions",
			mod: func(hz, sh *Input) {
				sh.RouteMaps = append(sh.RouteMaps, RouteMap{ID: "join", Direction: RegionOut, Priority: 10, TableID: "vtb-sh",
					Result: Permit, SourceInstanceIDs: []string{"vco-dc-hz"}, DestinationInstanceIDs: []string{"vco-dc-sh"}})
			},
			adv: map[string]string{"tr-sh dc-sh": "10.1.0.0/16 10.2.0.0/16 192.168.1.0/24"},
		},
		{
			name: "without association on hangzhou nothing crosses to shanghai; shanghai's routes still reach hangzhou",
			mod:  func(hz, sh *Input) { delete(hz.Associations, "peer") },
			entries: map[string]string{
				"tr-sh vtb-sh 192.168.1.0/24": "",
				"tr-hz vtb-hz 10.2.0.0/16":    "Active:peer",
			},
		},
		{
			name: "without propagation on shanghai its table learns nothing from hangzhou",
			mod:  func(hz, sh *Input) { delete(sh.Propagations, "peer") },
			entries: map[string]string{
				"tr-sh vtb-sh 192.168.1.0/24": "",
				"tr-hz vtb-hz 10.2.0.0/16":    "Active:peer",
			},
		},
		{
			name: "removing the connection withdraws the routes on both sides",
			mod: func(hz, sh *Input) {
				hz.Attachments = slices.DeleteFunc(hz.Attachments, func(a Attachment) bool { return a.ID == "peer" })
				sh.Attachments = slices.DeleteFunc(sh.Attachments, func(a Attachment) bool { return a.ID == "peer" })
			},
			entries: map[string]string{
				"tr-sh vtb-sh 192.168.1.0/24": "",
				"tr-hz vtb-hz 10.2.0.0/16":    "",
			},
		},
		{
			name: "a local route beats the same prefix from the other region (shorter path)",
			mod: func(hz, sh *Input) {
				setAtt(sh, vpnAtt("dc-sh", bgpRoute("192.168.2.0/24", 65002), bgpRoute("192.168.1.0/24", 65001)))
			},
			entries: map[string]string{"tr-sh vtb-sh 192.168.1.0/24": "Active:dc-sh Candidate:peer"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hz, sh := twoRegions()
			if tc.mod != nil {
				tc.mod(&hz, &sh)
			}
			rs := converge(t, map[string]Input{"tr-hz": hz, "tr-sh": sh}, link)
			for k, want := range tc.entries {
				f := strings.Fields(k)
				if got := summary(rs[f[0]].Engine, f[1], f[2]); got != want {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
			for k, want := range tc.adv {
				f := strings.Fields(k)
				if got := advertisedPrefixes(rs[f[0]].Engine, f[1]); got != want {
					t.Errorf("advertised to %s: %q, want %q", k, got, want)
				}
			}
			if tc.check != nil {
				tc.check(t, rs)
			}
		})
	}
}

// TestAcrossRegionsRing: three regions joined in a ring; every router learns each other
// region's VPC over the direct connection (the detour crosses one region more), and no
// route comes back to the region it started in.
func TestAcrossRegionsRing(t *testing.T) {
	regions := []string{"cn-hangzhou", "cn-shanghai", "cn-beijing"}
	ins := map[string]Input{}
	var links []PeerLink
	for i, r := range regions {
		tr, tb := "tr-"+r, "vtb-"+r
		in := Input{Region: r, Tables: []Table{{ID: tb}}, Attachments: []Attachment{vpcAtt("vpc-"+r, "10."+string(rune('1'+i))+".0.0/16")},
			Associations: map[string]string{"vpc-" + r: tb}, Propagations: map[string][]string{"vpc-" + r: {tb}}}
		ins[tr] = in
	}
	for i := range regions {
		a, b := regions[i], regions[(i+1)%len(regions)]
		id := "peer-" + a + "-" + b
		links = append(links, PeerLink{AttachmentID: id, A: "tr-" + a, B: "tr-" + b})
		for _, x := range [][2]string{{a, b}, {b, a}} {
			in := ins["tr-"+x[0]]
			in.Attachments = append(in.Attachments, peerAtt(id, "tr-"+x[1], x[1]))
			in.Associations[id] = "vtb-" + x[0]
			in.Propagations[id] = []string{"vtb-" + x[0]}
			ins["tr-"+x[0]] = in
		}
	}
	rs := converge(t, ins, links)
	// Hangzhou reaches beijing's VPC directly (peer-cn-beijing-cn-hangzhou), shanghai's
	// detour through beijing is a Candidate.
	if got := summary(rs["tr-cn-hangzhou"].Engine, "vtb-cn-hangzhou", "10.3.0.0/16"); got != "Active:peer-cn-beijing-cn-hangzhou Candidate:peer-cn-hangzhou-cn-shanghai" {
		t.Errorf("hangzhou's route to beijing's VPC: %q", got)
	}
	for _, r := range regions {
		for _, e := range rs["tr-"+r].Engine.Table("vtb-" + r) {
			if slices.Contains(e.Path.Regions, r) {
				t.Errorf("%s took back a route that was in its region: %+v", r, e)
			}
		}
	}
}

func TestCarry(t *testing.T) {
	adv := []Entry{
		{Prefix: pfx("10.0.0.0/16"), Path: PathAttributes{OriginInstanceID: "vpc-1", OriginInstanceType: TypeVPC, OriginRouteType: RouteSystem}},
		{Prefix: pfx("10.9.0.0/16"), Path: PathAttributes{OriginInstanceID: "vpc-9", OriginInstanceType: TypeVPC, OriginRouteType: RouteSystem, Regions: []string{"cn-beijing"}}},
		{Prefix: pfx("10.8.0.0/16"), Path: PathAttributes{OriginInstanceID: "vpc-8", OriginInstanceType: TypeVPC, OriginRouteType: RouteSystem, Regions: []string{"cn-shanghai"}}},
		{Prefix: pfx("10.7.0.0/16"), Type: EntryStatic, Path: PathAttributes{OriginRouteType: RouteStatic}},
		{Prefix: pfx("10.6.0.0/16"), BlackHole: true},
	}
	got := Carry(adv, "cn-hangzhou", "cn-shanghai")
	want := []OfferedRoute{
		{Prefix: pfx("10.0.0.0/16"), Kind: RouteSystem, Origin: Origin{InstanceID: "vpc-1", Type: TypeVPC, Regions: []string{"cn-hangzhou"}}},
		{Prefix: pfx("10.9.0.0/16"), Kind: RouteSystem, Origin: Origin{InstanceID: "vpc-9", Type: TypeVPC, Regions: []string{"cn-beijing", "cn-hangzhou"}}},
		// 10.8/16 was in shanghai already; the black hole is not carried.
		{Prefix: pfx("10.7.0.0/16"), Kind: RouteCustom, Origin: Origin{Regions: []string{"cn-hangzhou"}}},
	}
	if !slices.EqualFunc(got, want, offeredEqual) {
		t.Errorf("Carry = %+v\nwant %+v", got, want)
	}
	// Carrying must not write into the advertised entry's Regions.
	if !slices.Equal(adv[1].Path.Regions, []string{"cn-beijing"}) {
		t.Errorf("Carry changed its input: %v", adv[1].Path.Regions)
	}
}

// TestAcrossRegionsProperties: random connected topologies of 2 to 6 regions (a random
// spanning tree plus random extra connections), one VPC per region, every connection
// associated and propagating, no policies. Whatever the shape: the exchange settles; every
// router has every other region's VPC Active, over a connection, by a shortest path (the
// regions it crossed are as many as the fewest connections between the two regions); and
// no route carries its own router's region.
func TestAcrossRegionsProperties(t *testing.T) {
	for run := range propertyRuns {
		r := rand.New(rand.NewPCG(uint64(run), 17))
		n := 2 + r.IntN(5)
		ins := map[string]Input{}
		trs := make([]string, n)
		for i := range n {
			trs[i] = fmt.Sprintf("tr-%d", i)
			region, tb, vpc := fmt.Sprintf("region-%d", i), fmt.Sprintf("vtb-%d", i), fmt.Sprintf("vpc-%d", i)
			ins[trs[i]] = Input{Region: region, Tables: []Table{{ID: tb}}, Attachments: []Attachment{vpcAtt(vpc, fmt.Sprintf("10.%d.0.0/16", i))},
				Associations: map[string]string{vpc: tb}, Propagations: map[string][]string{vpc: {tb}}}
		}
		adj := make([][]bool, n)
		for i := range adj {
			adj[i] = make([]bool, n)
		}
		var links []PeerLink
		connect := func(a, b int) {
			if a == b || adj[a][b] {
				return
			}
			adj[a][b], adj[b][a] = true, true
			id := fmt.Sprintf("peer-%d-%d", min(a, b), max(a, b))
			links = append(links, PeerLink{AttachmentID: id, A: trs[a], B: trs[b]})
			for _, x := range [][2]int{{a, b}, {b, a}} {
				in := ins[trs[x[0]]]
				in.Attachments = append(in.Attachments, peerAtt(id, trs[x[1]], fmt.Sprintf("region-%d", x[1])))
				in.Associations[id] = in.Tables[0].ID
				in.Propagations[id] = []string{in.Tables[0].ID}
				ins[trs[x[0]]] = in
			}
		}
		for i := 1; i < n; i++ {
			connect(i, r.IntN(i))
		}
		for range r.IntN(n) {
			connect(r.IntN(n), r.IntN(n))
		}
		// Hops between regions (breadth first).
		dist := func(from int) []int {
			d := slices.Repeat([]int{-1}, n)
			d[from] = 0
			for q := []int{from}; len(q) > 0; q = q[1:] {
				for j := range n {
					if adj[q[0]][j] && d[j] < 0 {
						d[j] = d[q[0]] + 1
						q = append(q, j)
					}
				}
			}
			return d
		}
		rs := converge(t, ins, links)
		for i := range n {
			e := rs[trs[i]].Engine
			d := dist(i)
			for j := range n {
				if j == i {
					continue
				}
				var active []Entry
				for _, x := range e.Entries(fmt.Sprintf("vtb-%d", i), pfx(fmt.Sprintf("10.%d.0.0/16", j))) {
					if x.Status == StatusActive {
						active = append(active, x)
					}
				}
				if len(active) != 1 || !strings.HasPrefix(active[0].NextHop, "peer-") || len(active[0].Path.Regions) != d[j] ||
					active[0].Path.OriginRegion() != fmt.Sprintf("region-%d", j) {
					t.Fatalf("run %d (%d regions, links %v): router %d's route to region %d's VPC = %+v, want one Active over a connection crossing %d regions",
						run, n, links, i, j, active, d[j])
				}
			}
			for _, x := range e.Table(fmt.Sprintf("vtb-%d", i)) {
				if slices.Contains(x.Path.Regions, fmt.Sprintf("region-%d", i)) {
					t.Fatalf("run %d: router %d holds a route that was in its region: %+v", run, i, x)
				}
			}
		}
	}
}
