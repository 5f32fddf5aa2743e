package dataplane

import (
	"math/rand/v2"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"opencen/internal/tunnel"
)

// A cell whose peer does not exist: charon runs and the connection is loaded, nothing
// is negotiated (on-demand, and no traffic).
func idleCell(id, att, wan, link string) Cell {
	w, peer := pfx(wan), addr("198.18.9.9")
	return Cell{
		AttachmentID: att, WANAddr: w, LinkAddr: pfx(link),
		IPsec: tunnel.IPsec{ID: id, Cloud: w.Addr(), Customer: peer,
			CloudID: identity(w.Addr().String()), CustomerID: identity(peer.String()), PSK: "secret-1",
			IKE: tunnel.IKE{Version: 2, Enc: "aes", Auth: "sha1", DH: "group2", Lifetime: 86400 * time.Second},
			ESP: tunnel.ESP{Enc: "aes", Auth: "sha1", PFS: "group2", Lifetime: 86400 * time.Second}, DPD: true,
			CloudSubnets: []netip.Prefix{allIPv4}, CustomerSubnets: []netip.Prefix{allIPv4}},
	}
}

func identity(s string) tunnel.Identity {
	id, err := tunnel.ParseIdentity(s)
	if err != nil {
		panic(err) // test fixtures only
	}
	return id
}

func vpcLink(att, ns, r, v string) VPCLink {
	return VPCLink{AttachmentID: att, Netns: ns, RouterAddr: pfx(r), VPCAddr: pfx(v)}
}

// stateFixtures: desired states over three VPC hosts. Transitions between them exercise
// creating, changing and deleting routers, tables, rules, routes (single, ECMP,
// blackhole), VPC links and cells (including moving a cell between routers and changing
// its IKE settings).
func stateFixtures(prefix string) map[string]*Desired {
	ns := func(name string) string { return prefix + "vpc-" + name }
	s1 := &Desired{Routers: []Router{{
		ID: "tr-s1",
		VPCs: []VPCLink{
			vpcLink("tr-attach-v1", ns("v1"), "169.254.100.1/30", "169.254.100.2/30"),
			vpcLink("tr-attach-v2", ns("v2"), "169.254.100.5/30", "169.254.100.6/30"),
		},
		Tables: []Table{{ID: "vtb-a", Number: 100, Routes: []Route{
			{Dst: pfx("10.1.0.0/16"), NextHops: []string{"tr-attach-v1"}},
			{Dst: pfx("10.2.0.0/16"), NextHops: []string{"tr-attach-v2"}},
			{Dst: pfx("10.0.0.0/8"), Blackhole: true},
		}}},
		Associations: map[string]string{"tr-attach-v1": "vtb-a", "tr-attach-v2": "vtb-a"},
	}}}
	s2 := &Desired{Routers: []Router{{
		ID: "tr-s1",
		VPCs: []VPCLink{
			vpcLink("tr-attach-v1", ns("v1"), "169.254.100.1/30", "169.254.100.2/30"),
			vpcLink("tr-attach-v2", ns("v2"), "169.254.100.5/30", "169.254.100.6/30"),
			vpcLink("tr-attach-v3", ns("v3"), "169.254.100.9/30", "169.254.100.10/30"),
		},
		Cells:   []Cell{idleCell("vco-c1", "tr-attach-x1", "198.18.1.1/15", "169.254.10.1/30")},
		Sources: []netip.Addr{addr("10.1.0.99")},
		Tables: []Table{
			{ID: "vtb-a", Number: 100, Routes: []Route{
				{Dst: pfx("10.1.0.0/16"), NextHops: []string{"tr-attach-v1"}},
				{Dst: pfx("10.9.0.0/16"), NextHops: []string{"tr-attach-v3", "tr-attach-v2"}},
				{Dst: pfx("192.168.0.0/16"), NextHops: []string{"tr-attach-x1"}},
			}},
			{ID: "vtb-b", Number: 200, Routes: []Route{
				{Dst: pfx("0.0.0.0/0"), NextHops: []string{"tr-attach-v1", "tr-attach-x1"}},
				{Dst: pfx("10.66.0.0/16"), Blackhole: true},
			}},
		},
		Associations: map[string]string{"tr-attach-v1": "vtb-b", "tr-attach-v2": "vtb-a", "tr-attach-x1": "vtb-a"},
	}}}
	// s3: a second router takes v3 and the cell (with other IKE settings); tr-s1's table
	// 100 is renumbered 150; an inter-region link joins the two routers, 50 Mbit/s from
	// tr-s1, 1 kbit/s (the testing bandwidth) from tr-s2.
	c := idleCell("vco-c1", "tr-attach-x1", "198.18.1.1/15", "169.254.10.1/30")
	c.IPsec.ESP = tunnel.ESP{Enc: "aes256", Auth: "sha256", PFS: "group14", Lifetime: 86400 * time.Second}
	c.IPsec.IKE.Version = 1
	c.IPsec.CloudSubnets = []netip.Prefix{pfx("10.3.0.0/16")}
	c.IPsec.CustomerSubnets = []netip.Prefix{pfx("192.168.1.0/24"), pfx("192.168.2.0/24")}
	s3 := &Desired{Routers: []Router{
		{
			ID: "tr-s1",
			VPCs: []VPCLink{
				vpcLink("tr-attach-v1", ns("v1"), "169.254.100.1/30", "169.254.100.2/30"),
				vpcLink("tr-attach-v2", ns("v2"), "169.254.100.5/30", "169.254.100.6/30"),
			},
			Peers: []PeerLink{{AttachmentID: "tr-attach-p1", PeerRouter: "tr-s2", Addr: pfx("169.254.102.1/30"), RateKbit: 50000}},
			Tables: []Table{{ID: "vtb-a", Number: 150, Routes: []Route{
				{Dst: pfx("10.1.0.0/16"), NextHops: []string{"tr-attach-v1"}},
				{Dst: pfx("10.2.0.0/16"), NextHops: []string{"tr-attach-v2"}},
				{Dst: pfx("10.3.0.0/16"), NextHops: []string{"tr-attach-p1"}},
			}}},
			Associations: map[string]string{"tr-attach-v1": "vtb-a", "tr-attach-p1": "vtb-a"},
		},
		{
			ID: "tr-s2",
			VPCs: []VPCLink{{AttachmentID: "tr-attach-v3", Netns: ns("v3"), RouterAddr: pfx("169.254.101.1/30"),
				VPCAddr: pfx("169.254.101.2/30"), ToRouter: []netip.Prefix{pfx("192.168.0.0/16"), pfx("10.0.0.0/8")}}},
			Cells: []Cell{c},
			Peers: []PeerLink{{AttachmentID: "tr-attach-p1", PeerRouter: "tr-s1", Addr: pfx("169.254.102.2/30"), RateKbit: 1}},
			Tables: []Table{{ID: "vtb-z", Number: 100, Routes: []Route{
				{Dst: pfx("192.168.0.0/16"), NextHops: []string{"tr-attach-x1"}},
				{Dst: pfx("10.3.0.0/16"), NextHops: []string{"tr-attach-v3"}},
				{Dst: pfx("10.1.0.0/16"), NextHops: []string{"tr-attach-p1"}},
			}}},
			Associations: map[string]string{"tr-attach-v3": "vtb-z", "tr-attach-x1": "vtb-z", "tr-attach-p1": "vtb-z"},
		},
	}}
	return map[string]*Desired{"empty": nil, "s1": s1, "s2": s2, "s3": s3}
}

// wantS1 is the hand-checked rendering of s1.
const wantS1 = `netns r-s1
  link tr-attach-v1 veth mtu 1500 up 169.254.100.1/30
  link tr-attach-v2 veth mtu 1500 up 169.254.100.5/30
  sysctl ip_forward=1
  rule priority 1000 iif tr-attach-v1 lookup 100
  rule priority 1000 iif tr-attach-v2 lookup 100
  rule priority 2000 iif tr-attach-v1 unreachable
  rule priority 2000 iif tr-attach-v2 unreachable
  table 100:
    10.1.0.0/16 via 169.254.100.2 dev tr-attach-v1 onlink
    10.2.0.0/16 via 169.254.100.6 dev tr-attach-v2 onlink
    blackhole 10.0.0.0/8
  table main:
    169.254.100.0/30 dev tr-attach-v1 proto kernel scope link src 169.254.100.1
    169.254.100.4/30 dev tr-attach-v2 proto kernel scope link src 169.254.100.5
netns vpc-v1 (other)
  link tr-s1/tr-attach-v1 veth mtu 1500 up 169.254.100.2/30
  table main (via these links):
    0.0.0.0/0 via 169.254.100.1 dev tr-s1/tr-attach-v1
    169.254.100.0/30 dev tr-s1/tr-attach-v1 proto kernel scope link src 169.254.100.2
netns vpc-v2 (other)
  link tr-s1/tr-attach-v2 veth mtu 1500 up 169.254.100.6/30
  table main (via these links):
    0.0.0.0/0 via 169.254.100.5 dev tr-s1/tr-attach-v2
    169.254.100.4/30 dev tr-s1/tr-attach-v2 proto kernel scope link src 169.254.100.6
`

func TestApplyStates(t *testing.T) {
	e := newEnv(t)
	for _, v := range []struct{ name, cidr string }{{"v1", "10.1.0.0/16"}, {"v2", "10.2.0.0/16"}, {"v3", "10.3.0.0/16"}} {
		if _, err := e.lab.AddVPCHost(e.ctx, v.name, pfx(v.cidr)); err != nil {
			t.Fatal(err)
		}
	}
	states := stateFixtures(e.prefix)
	names := []string{"empty", "s1", "s2", "s3"}

	// The expected rendering of every state: applied from scratch (after Cleanup), and
	// applied twice (idempotent).
	want := map[string]string{}
	for _, n := range names {
		if err := e.drv.Cleanup(e.ctx); err != nil {
			t.Fatal(err)
		}
		e.apply(states[n])
		want[n] = e.render()
		e.apply(states[n])
		if again := e.render(); again != want[n] {
			t.Fatalf("state %s: second Apply changed the state:\n%s", n, diff(want[n], again))
		}
	}
	if os.Getenv("DP_SHOW") != "" {
		t.Logf("s2:\n%s\ns3:\n%s", want["s2"], want["s3"])
	}
	if want["empty"] != "" {
		t.Errorf("empty state renders as:\n%s", want["empty"])
	}
	if want["s1"] != wantS1 {
		t.Errorf("state s1:\n%s", diff(wantS1, want["s1"]))
	}
	// The fake OS of the state tests (TestStatesFake) renders the same texts.
	for _, n := range names {
		if w := wantState(t, n); want[n] != w {
			t.Errorf("state %s: the real system differs from testdata/states/%s.txt (the fake OS's rendering):\n%s", n, n, diff(w, want[n]))
		}
	}
	for _, check := range []struct {
		state string
		lines []string
	}{
		{"s2", []string{
			"    10.9.0.0/16 nexthop via 169.254.100.10 dev tr-attach-v3 onlink nexthop via 169.254.100.6 dev tr-attach-v2 onlink",
			"    0.0.0.0/0 nexthop via 169.254.10.2 dev tr-attach-x1 onlink nexthop via 169.254.100.2 dev tr-attach-v1 onlink",
			"    blackhole 10.66.0.0/16",
			"  rule priority 1000 iif tr-attach-v1 lookup 200",
			"  link tr-attach-x1 veth mtu 1400 up 169.254.10.1/30",
			"  link rtr veth mtu 1400 up proxy_arp=1",
			"  link wan veth mtu 1500 up 198.18.1.1/15",
			"  rule priority 100 iif ipsec0 lookup 101",
			"  rule priority 101 iif rtr lookup 102",
			"    0.0.0.0/0 via 169.254.10.1 dev rtr onlink",
			"    0.0.0.0/0 dev ipsec0 scope link",
			`    iifname { "ipsec0", "rtr" } ip ttl 1 ip ttl set 2`,
			"  charon: running",
			"    config IKEv2 ike=aes128-sha1-modp1024 (86400s) esp=aes128-sha1-modp1024 (86400s) ids=198.18.1.1/198.18.9.9 dpd=true start=on-traffic",
			"    conn vco-c1: IKEv2 198.18.1.1 -> 198.18.9.9; child vco-c1 0.0.0.0/0 === 0.0.0.0/0",
			"  link vco-c1 veth mtu 1500 up master br0",
		}},
		{"s3", []string{
			"netns r-s2",
			"  table 150:",
			"    config IKEv1 ike=aes128-sha1-modp1024 (86400s) esp=aes256-sha256-modp2048 (86400s) ids=198.18.1.1/198.18.9.9 dpd=true start=on-traffic",
			"    conn vco-c1: IKEv1 198.18.1.1 -> 198.18.9.9; child vco-c1-1 10.3.0.0/16 === 192.168.1.0/24; child vco-c1-2 10.3.0.0/16 === 192.168.2.0/24",
			"  link lo loopback mtu 65536 up 10.3.255.254/32 127.0.0.1/8",
			"    10.0.0.0/8 via 169.254.101.1 dev tr-s2/tr-attach-v3",
		}},
	} {
		for _, l := range check.lines {
			if !strings.Contains(want[check.state], l+"\n") {
				t.Errorf("state %s: missing line %q in\n%s", check.state, l, want[check.state])
			}
		}
	}
	if _, s1, _ := strings.Cut(want["s3"], "netns r-s1\n"); strings.Contains(strings.SplitN(s1, "\nnetns ", 2)[0], "table 100:") {
		t.Errorf("s3: tr-s1's old table 100 is still there:\n%s", want["s3"])
	}
	// Traffic in s3: v1 (tr-s1) <-> v3 (tr-s2) over the inter-region link, whose 1 kbit/s
	// back from tr-s2 still lets a few pings through (its bucket holds two frames).
	e.apply(states["s3"])
	if err := ping(e, "v1", "10.1.0.1", "10.3.0.1"); err != nil {
		t.Error(err)
	}

	// Traffic in s1: v1 <-> v2 through table 100.
	e.apply(states["s1"])
	if err := ping(e, "v1", "10.1.0.1", "10.2.0.1"); err != nil {
		t.Error(err)
	}

	// Random transitions: after each Apply the system must look exactly like the target
	// state applied from scratch, whatever came before.
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	cur := "s1"
	seq := []string{cur}
	for i := 0; i < 14; i++ {
		next := names[rng.IntN(len(names))]
		e.apply(states[next])
		if got := e.render(); got != want[next] {
			t.Fatalf("after %s: state %s differs from a fresh Apply:\n%s", strings.Join(append(seq, next), " -> "), next, diff(want[next], got))
		}
		seq = append(seq, next)
	}
	t.Logf("replayed %s", strings.Join(seq, " -> "))

	// Converges from damage too: delete a table's routes and a rule behind the driver's back.
	e.apply(states["s2"])
	r := e.drv.RouterNetns("tr-s1")
	if _, err := runIP(e, r, "route", "flush", "table", "200"); err != nil {
		t.Fatal(err)
	}
	if _, err := runIP(e, r, "rule", "del", "priority", "2000", "iif", e.drv.AttachmentLink("tr-attach-v1"), "unreachable"); err != nil {
		t.Fatal(err)
	}
	if _, err := runIP(e, e.drv.CellNetns("vco-c1"), "link", "del", e.drv.cellRtr()); err != nil {
		t.Fatal(err)
	}
	e.apply(states["s2"])
	if got := e.render(); got != want["s2"] {
		t.Fatalf("s2 not restored after damage:\n%s", diff(want["s2"], got))
	}
}

// diff shows the lines only in want (-) and only in got (+).
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	inW, inG := map[string]int{}, map[string]int{}
	for _, l := range w {
		inW[l]++
	}
	for _, l := range g {
		inG[l]++
	}
	var b strings.Builder
	for _, l := range w {
		if inG[l] == 0 {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range g {
		if inW[l] == 0 {
			b.WriteString("+ " + l + "\n")
		}
	}
	if b.Len() == 0 {
		return "(same lines, different order or count)\n--- want\n" + want + "--- got\n" + got
	}
	return b.String()
}
