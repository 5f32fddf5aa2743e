package dataplane

import (
	"context"
	"errors"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"opencen/internal/dataplane/nsutil"
	"opencen/internal/lab"
	"opencen/internal/testenv"
)

// twoNodes is one desired state over two gateway nodes, A and B, whose underlays are eth1
// in namespaces hostA and hostB: router tr-a runs on A with VPC v1, an inter-region link
// to tr-b and a tunnel whose cell (vco-c1) runs on B; router tr-b runs on B with VPC v2.
// Each node's desired state is its own.
func twoNodes(prefix, hostA, hostB string, ua, ub netip.Addr) (a, b *Desired) {
	ns := func(name string) string { return prefix + "vpc-" + name }
	cell := idleCell("vco-c1", "tr-attach-x1", "198.18.1.1/15", "169.254.10.1/30")
	toCell := cell.Link()
	toCell.Remote = NodeLink(hostA, "eth1", 0xF00002, ua, ub, 4789)
	cell.Remote = NodeLink(hostB, "eth1", 0xF00002, ub, ua, 4789)
	a = &Desired{Routers: []Router{{
		ID:    "tr-a",
		VPCs:  []VPCLink{vpcLink("tr-attach-v1", ns("v1"), "169.254.100.1/30", "169.254.100.2/30")},
		Cells: []Cell{toCell},
		Peers: []PeerLink{{AttachmentID: "tr-attach-p1", PeerRouter: "tr-b", Addr: pfx("169.254.64.1/30"), RateKbit: 50000,
			Remote: NodeLink(hostA, "eth1", 0xF00001, ua, ub, 4789)}},
		Tables: []Table{{ID: "vtb-a", Number: 100, Routes: []Route{
			{Dst: pfx("10.1.0.0/16"), NextHops: []string{"tr-attach-v1"}},
			{Dst: pfx("10.2.0.0/16"), NextHops: []string{"tr-attach-p1"}},
			{Dst: pfx("192.168.0.0/16"), NextHops: []string{"tr-attach-x1"}},
		}}},
		Associations: map[string]string{"tr-attach-v1": "vtb-a", "tr-attach-p1": "vtb-a", "tr-attach-x1": "vtb-a"},
	}}}
	b = &Desired{
		Routers: []Router{{
			ID:   "tr-b",
			VPCs: []VPCLink{vpcLink("tr-attach-v2", ns("v2"), "169.254.100.5/30", "169.254.100.6/30")},
			Peers: []PeerLink{{AttachmentID: "tr-attach-p1", PeerRouter: "tr-a", Addr: pfx("169.254.64.2/30"),
				Remote: NodeLink(hostB, "eth1", 0xF00001, ub, ua, 4789)}},
			Tables: []Table{{ID: "vtb-b", Number: 100, Routes: []Route{
				{Dst: pfx("10.2.0.0/16"), NextHops: []string{"tr-attach-v2"}},
				{Dst: pfx("10.1.0.0/16"), NextHops: []string{"tr-attach-p1"}},
			}}},
			Associations: map[string]string{"tr-attach-v2": "vtb-b", "tr-attach-p1": "vtb-b"},
		}},
		Hosted: []HostedCell{{Router: "tr-a", Cell: cell}},
	}
	return a, b
}

// TestNodeLinksFake: links between two gateway nodes on the fake OS. Each node makes its
// own end of every link as a VXLAN device on its underlay (no namespace of the other node
// is needed): the inter-region link with its rate, the router's end of a tunnel whose
// cell runs on the other node, and that cell's end. A link that comes back to one node
// becomes a veth pair again, and a device stranded on the underlay by a crash is removed.
func TestNodeLinksFake(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f := newFakeOS()
	pa, pb := fakePrefix, "t0001-"
	hostA, hostB, wan := pa+"host", pb+"host", pa+"wan"
	for _, ns := range []string{hostA, hostB, wan, pa + "vpc-v1", pa + "vpc-v2"} {
		if err := f.AddNamespace(ctx, ns, nil); err != nil {
			t.Fatal(err)
		}
	}
	ua, ub := addr("10.0.0.1"), addr("10.0.0.2")
	for ns, a := range map[string]netip.Addr{hostA: ua, hostB: ub} {
		l := &fakeLink{ipLink: ipLink{Name: "eth1", MTU: 1500, LinkType: "ether", Flags: []string{"UP"}}, addrs: []netip.Prefix{netip.PrefixFrom(a, 24)}}
		f.ns[ns].links["eth1"] = l
	}
	br := &fakeLink{ipLink: ipLink{Name: lab.Bridge, MTU: 1500, LinkType: "ether", Flags: []string{"UP"}}}
	br.Info.Kind = "bridge"
	f.ns[wan].links[lab.Bridge] = br
	node := func(prefix string) *Netns {
		d, err := newNetns(NetnsOptions{Prefix: prefix, RunDir: t.TempDir(), WANNetns: wan, WANBridge: lab.Bridge, RetryInterval: time.Hour}, f, f)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(d.Close)
		return d
	}
	a, b := node(pa), node(pb)
	wantA, wantB := twoNodes(pa, hostA, hostB, ua, ub)
	// B first: neither node waits for the other.
	if err := b.Apply(ctx, wantB); err != nil {
		t.Fatalf("node B: %v", err)
	}
	if err := a.Apply(ctx, wantA); err != nil {
		t.Fatalf("node A: %v", err)
	}
	fakeRendersAs(t, a, "node-a")
	fakeRendersAs(t, b, "node-b")
	if _, ok := f.ns[pb+"r-a"]; ok {
		t.Error("node B made a namespace for tr-a, which runs on A")
	}
	if _, ok := f.ns[pa+"c-c1"]; ok {
		t.Error("node A made a cell for vco-c1, which runs on B")
	}
	for _, h := range []string{hostA, hostB} {
		if len(f.ns[h].links) != 2 { // eth1 and lo
			t.Errorf("links left on the underlay of %s: %v", h, mapsKeys(f.ns[h].links))
		}
	}

	// Another VNI: each end is remade with it (the tag in the alias changes).
	wantA.Routers[0].Peers[0].Remote.VXLAN.VNI = 0xF00009
	if err := a.Apply(ctx, wantA); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.Render(ctx); !strings.Contains(got, "tr-attach-p1 vxlan mtu 1450 up (vxlan 15728649 ") {
		t.Errorf("a changed VNI did not remake the device:\n%s", got)
	}
	// A crash between making the cell's device on the underlay and moving it: the next
	// update removes the stray and makes the link.
	mac := f.ns[pb+"c-c1"].links[pb+"rtr"].Address
	stray := pb + "x" + hash8("vco-c1")
	f.ns[hostB].links[stray] = &fakeLink{ipLink: ipLink{Name: stray, MTU: 1450, LinkType: "ether"}}
	f.ns[hostB].links[stray].Info.Kind = "vxlan"
	_ = f.DeleteLink(ctx, pb+"c-c1", pb+"rtr")
	if err := b.Apply(ctx, wantB); err != nil {
		t.Fatalf("node B after a crash: %v", err)
	}
	if _, ok := f.ns[hostB].links[stray]; ok {
		t.Error("the stray device is still on B's underlay")
	}
	fakeRendersAs(t, b, "node-b")
	// The rebuilt end has the MAC address it had: router A's neighbour entry for the
	// peer's inside address (answered by the cell) stays right.
	if got := f.ns[pb+"c-c1"].links[pb+"rtr"].Address; mac == "" || got != mac {
		t.Errorf("the cell's end came back with MAC %q, had %q", got, mac)
	}

	// An underlay that is gone: the links to the other node fail, as errors of the router
	// (not something it waits for), and the rest of it stays.
	under := f.ns[hostA].links["eth1"]
	delete(f.ns[hostA].links, "eth1")
	wantA.Routers[0].Peers[0].Remote.VXLAN.VNI = 0xF00007 // remade: on an underlay that is not there
	err := a.Apply(ctx, wantA)
	if err == nil || errors.Is(err, ErrWaiting) || !strings.Contains(err.Error(), "underlay interface eth1 is not in namespace "+hostA) {
		t.Errorf("Apply without the underlay = %v, want an error naming it, not a wait", err)
	}
	if got, _ := a.Render(ctx); !strings.Contains(got, "link tr-attach-v1 veth") {
		t.Errorf("the router's other links went with the underlay:\n%s", got)
	}
	f.ns[hostA].links["eth1"] = under

	// The cell moves to A (B is gone): on A it is a cell of the router's own, linked by a
	// veth pair; the router's VXLAN end is replaced.
	local := idleCell("vco-c1", "tr-attach-x1", "198.18.1.1/15", "169.254.10.1/30")
	wantA.Routers[0].Cells = []Cell{local}
	if err := a.Apply(ctx, wantA); err != nil {
		t.Fatal(err)
	}
	got, _ := a.Render(ctx)
	if !strings.Contains(got, "link tr-attach-x1 veth mtu 1400 up 169.254.10.1/30") || !strings.Contains(got, "link rtr veth mtu 1400 up proxy_arp=1") {
		t.Errorf("the cell back on its router's node is not linked by a veth pair:\n%s", got)
	}
	for _, d := range []*Netns{a, b} {
		if err := d.Apply(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if err := d.Cleanup(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range []string{hostA, hostB} {
		if len(f.ns[h].links) != 2 {
			t.Errorf("links left on the underlay of %s after cleanup: %v", h, mapsKeys(f.ns[h].links))
		}
	}
}

// TestNodeLinksReal: the same links on the kernel, between two "machines" (namespaces
// joined by a veth pair, their underlay): the router on A reaches the router on B over
// the inter-region link, and the cell on B is reachable from its router on A.
func TestNodeLinksReal(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	hostA, hostB, ua, ub := twoMachines(t, ctx, e.prefix)
	for _, ns := range []string{e.prefix + "vpc-v1", e.prefix + "vpc-v2"} {
		if err := nsutil.AddNetns(ctx, ns); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = nsutil.DelNetns(context.Background(), ns) })
	}
	a := e.drv
	opts := e.opts()
	opts.Prefix = "u" + e.prefix[1:] // node B: a prefix of its own
	opts.RunDir = t.TempDir()
	b, err := NewNetns(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(); _ = b.Cleanup(context.Background()) })
	wantA, wantB := twoNodes(e.prefix, hostA, hostB, ua, ub)
	if err := b.Apply(ctx, wantB); err != nil {
		t.Fatalf("node B: %v", err)
	}
	if err := a.Apply(ctx, wantA); err != nil {
		t.Fatalf("node A: %v", err)
	}
	// Router A -> router B over the inter-region link, and router A -> the cell's end of
	// the tunnel link (the cell answers ARP for the peer's inside address, proxy ARP).
	if err := lab.Ping(ctx, a.RouterNetns("tr-a"), addr("169.254.64.1"), addr("169.254.64.2"), 3); err != nil {
		t.Errorf("across the inter-region link between nodes: %v", err)
	}
	out, err := nsutil.IPn(ctx, a.RouterNetns("tr-a"), "-d", "link", "show", a.AttachmentLink("tr-attach-p1"))
	if err != nil || !strings.Contains(string(out), "vxlan id 15728641") {
		t.Errorf("the inter-region link on A is not the VXLAN device: %v\n%s", err, out)
	}
	if _, err := nsutil.IPn(ctx, b.CellNetns("vco-c1"), "link", "show", b.cellRtr()); err != nil {
		t.Errorf("the cell on B has no link to its router: %v", err)
	}
	// The echo goes on into the tunnel, which has no peer here: only the router's ARP
	// for the peer's inside address, answered by the cell on B, is checked.
	_ = lab.Ping(ctx, a.RouterNetns("tr-a"), addr("169.254.10.1"), addr("169.254.10.2"), 1)
	out, err = nsutil.IPn(ctx, a.RouterNetns("tr-a"), "neigh", "show", "169.254.10.2")
	if err != nil || !strings.Contains(string(out), "lladdr") {
		t.Errorf("the cell on B did not answer ARP for the peer's inside address over the link: %v %s", err, out)
	}
}

// BenchmarkNodeLinkThroughput: TCP (iperf3, 3 s) from one router to the other across an
// inter-region link, alternately a veth pair (both routers on one node) and a VXLAN link
// between two nodes (two drivers, their underlays two namespaces joined by a veth pair,
// standing for two machines), unlimited; then the VXLAN link limited to 50 Mbit/s. It
// reports both rates, their ratio and the limited rate.
func BenchmarkNodeLinkThroughput(b *testing.B) {
	testenv.RequireDataplane(b)
	if _, err := exec.LookPath("iperf3"); err != nil {
		b.Fatal("iperf3 is missing (apt-get install iperf3)")
	}
	ctx := context.Background()
	pa := randomPrefix()
	pb := "u" + pa[1:]
	dir := b.TempDir()
	l, err := lab.New(ctx, pa, filepath.Join(dir, "lab"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = l.Down(context.Background()) })
	hostA, hostB, ua, ub := twoMachines(b, ctx, pa)
	node := func(prefix string) *Netns {
		d, err := NewNetns(NetnsOptions{Prefix: prefix, RunDir: filepath.Join(dir, prefix), WANNetns: l.WANNetns, WANBridge: lab.Bridge})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { d.Close(); _ = d.Cleanup(context.Background()) })
		return d
	}
	a, bn := node(pa), node(pb)
	router := func(id, peer, addr string, remote *Segment, kbit uint64) Router {
		return Router{ID: id, Associations: map[string]string{},
			Peers: []PeerLink{{AttachmentID: "tr-attach-p1", PeerRouter: peer, Addr: pfx(addr), Remote: remote, RateKbit: kbit}}}
	}
	veth := func() {
		b.Helper()
		if err := bn.Apply(ctx, nil); err != nil {
			b.Fatal(err)
		}
		if err := a.Apply(ctx, &Desired{Routers: []Router{router("tr-a", "tr-b", "169.254.64.1/30", nil, 0), router("tr-b", "tr-a", "169.254.64.2/30", nil, 0)}}); err != nil {
			b.Fatal(err)
		}
	}
	vxlan := func(kbit uint64) {
		b.Helper()
		if err := a.Apply(ctx, &Desired{Routers: []Router{router("tr-a", "tr-b", "169.254.64.1/30", NodeLink(hostA, "eth1", 0xF00001, ua, ub, 4789), kbit)}}); err != nil {
			b.Fatal(err)
		}
		if err := bn.Apply(ctx, &Desired{Routers: []Router{router("tr-b", "tr-a", "169.254.64.2/30", NodeLink(hostB, "eth1", 0xF00001, ub, ua, 4789), kbit)}}); err != nil {
			b.Fatal(err)
		}
	}
	rate := func(serverNS string) float64 {
		b.Helper()
		srv := exec.Command("ip", "netns", "exec", serverNS, "iperf3", "-s", "-B", "169.254.64.2")
		if err := srv.Start(); err != nil {
			b.Fatal(err)
		}
		defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
		// The server is listening once its bound address answers a connection attempt.
		for try := 0; try < 20; try++ {
			if _, err := nsutil.Exec(ctx, a.RouterNetns("tr-a"), "iperf3", "-c", "169.254.64.2", "-n", "1K"); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		return iperfRate(b, ctx, a.RouterNetns("tr-a"), "-c", "169.254.64.2", "-B", "169.254.64.1", "-t", "3")
	}
	var onVeth, onVXLAN float64
	rounds := 0
	for b.Loop() {
		veth()
		onVeth += rate(a.RouterNetns("tr-b"))
		vxlan(0)
		onVXLAN += rate(bn.RouterNetns("tr-b"))
		rounds++
	}
	vxlan(50000)
	limited := rate(bn.RouterNetns("tr-b"))
	b.ReportMetric(onVeth/float64(rounds)/1e9, "veth-Gbit/s")
	b.ReportMetric(onVXLAN/float64(rounds)/1e9, "vxlan-Gbit/s")
	b.ReportMetric(onVXLAN/onVeth, "vxlan/veth")
	b.ReportMetric(limited/1e6, "limited-50-Mbit/s")
	b.Logf("%d rounds: veth %.2f Gbit/s, VXLAN between nodes %.2f Gbit/s (%.2fx); limited to 50 Mbit/s: %.1f Mbit/s",
		rounds, onVeth/float64(rounds)/1e9, onVXLAN/float64(rounds)/1e9, onVXLAN/onVeth, limited/1e6)
}
