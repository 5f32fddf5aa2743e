package dataplane

import (
	"context"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"opencen/internal/dataplane/nsutil"
	"opencen/internal/lab"
)

// segmentRouter is a router with three VPCs: v1 on an operator's bridge, v2 on a VXLAN
// segment over the underlay eth1, v3 in its own namespace (the lab's way).
func segmentRouter(prefix, host string, vxlan VXLAN) *Desired {
	return &Desired{Routers: []Router{{
		ID: "tr-seg",
		VPCs: []VPCLink{
			{AttachmentID: "tr-attach-v1", Segment: &Segment{Netns: host, Bridge: "br-vpc1"}, RouterAddr: pfx("10.1.0.253/24")},
			{AttachmentID: "tr-attach-v2", Segment: &Segment{Netns: host, VXLAN: &vxlan}, RouterAddr: pfx("10.2.0.253/24")},
			vpcLink("tr-attach-v3", prefix+"vpc-v3", "169.254.100.9/30", "169.254.100.10/30"),
		},
		Tables: []Table{{ID: "vtb-a", Number: 100, Routes: []Route{
			{Dst: pfx("10.1.0.0/16"), NextHops: []string{"tr-attach-v1"}},
			{Dst: pfx("10.2.0.0/16"), NextHops: []string{"tr-attach-v2"}},
			{Dst: pfx("10.3.0.0/16"), NextHops: []string{"tr-attach-v3"}},
		}}},
		Associations: map[string]string{"tr-attach-v1": "vtb-a", "tr-attach-v2": "vtb-a", "tr-attach-v3": "vtb-a"},
	}}}
}

const segmentState = "segments"

// TestSegmentsFake: VPCs bound to an operator's bridge and to a VXLAN segment. The router
// holds the VPC's gateway address on the link and routes the VPC's CIDR straight onto it;
// a changed VXLAN segment remakes the device; a missing bridge is an error of that VPC
// link alone; nothing of the operator's (bridge, its other ports, the underlay) is touched
// by changes, removal or cleanup.
func TestSegmentsFake(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f := newFakeOS()
	host := fakePrefix + "host"
	for _, ns := range []string{host, fakePrefix + "vpc-v3"} {
		if err := f.AddNamespace(ctx, ns, nil); err != nil {
			t.Fatal(err)
		}
	}
	operator := map[string]*fakeLink{
		"br-vpc1": {ipLink: ipLink{Name: "br-vpc1", MTU: 1500, LinkType: "ether", Flags: []string{"UP"}}},
		"eth9":    {ipLink: ipLink{Name: "eth9", MTU: 1500, LinkType: "ether", Master: "br-vpc1", Flags: []string{"UP"}}},
		"eth1":    {ipLink: ipLink{Name: "eth1", MTU: 9000, LinkType: "ether", Flags: []string{"UP"}}, addrs: []netip.Prefix{pfx("10.0.0.1/24")}},
	}
	operator["br-vpc1"].Info.Kind = "bridge"
	for name, l := range operator {
		f.ns[host].links[name] = l
	}
	d, err := newNetns(NetnsOptions{Prefix: fakePrefix, RunDir: t.TempDir(), WANNetns: host, WANBridge: "br-vpc1", RetryInterval: time.Hour}, f, f)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	checkOperator := func(when string) {
		t.Helper()
		for name, want := range operator {
			got, ok := f.ns[host].links[name]
			if !ok || got.Master != want.Master || got.MTU != want.MTU || len(got.addrs) != len(want.addrs) {
				t.Errorf("%s: the operator's %s changed or went: %+v", when, name, got)
			}
		}
	}
	vx := VXLAN{VNI: 100, Underlay: "eth1", Remotes: []netip.Addr{addr("10.0.0.2"), addr("10.0.0.3")}, Port: 4789}
	if err := d.Apply(ctx, segmentRouter(fakePrefix, host, vx)); err != nil {
		t.Fatal(err)
	}
	fakeRendersAs(t, d, segmentState)
	checkOperator("applied")
	for _, a := range []string{"tr-attach-v1 10.1.0.253", "tr-attach-v2 10.2.0.253"} {
		id, ip, _ := strings.Cut(a, " ")
		if want := fakePrefix + "r-seg/" + d.AttachmentLink(id) + " " + ip; !slices.Contains(f.announced, want) {
			t.Errorf("the gateway address of %s was not announced on its new link (%q): %v", id, want, f.announced)
		}
	}

	// Another remote list: the device is remade with it (its tag changes).
	before, _ := d.Render(ctx)
	vx.Remotes = []netip.Addr{addr("10.0.0.4")}
	if err := d.Apply(ctx, segmentRouter(fakePrefix, host, vx)); err != nil {
		t.Fatal(err)
	}
	if got, _ := d.Render(ctx); got == before || !strings.Contains(got, "tr-attach-v2 vxlan mtu 8950 up (vxlan 100 ") {
		t.Errorf("a changed remote list did not remake the VXLAN device:\n%s", got)
	}
	// A device made on the underlay and never moved (a crash in between) does not block
	// the next one.
	stray := d.AttachmentLink("tr-attach-v2")
	f.ns[host].links[stray] = &fakeLink{ipLink: ipLink{Name: stray, MTU: 8950, LinkType: "ether"}}
	f.ns[host].links[stray].Info.Kind = "vxlan"
	vx.Remotes = []netip.Addr{addr("10.0.0.5")}
	if err := d.Apply(ctx, segmentRouter(fakePrefix, host, vx)); err != nil {
		t.Fatalf("a stray device on the underlay: %v", err)
	}
	if _, ok := f.ns[host].links[stray]; ok {
		t.Error("the stray device is still on the underlay")
	}
	// A bridge that is not there: that VPC link fails, naming it; the others stay.
	broken := segmentRouter(fakePrefix, host, vx)
	broken.Routers[0].VPCs[0].Segment.Bridge = "br-gone"
	err = d.Apply(ctx, broken)
	if err == nil || !strings.Contains(err.Error(), "bridge br-gone is not in namespace "+host) {
		t.Errorf("Apply with a missing bridge = %v, want an error naming the bridge", err)
	}
	if got, _ := d.Render(ctx); !strings.Contains(got, "tr-attach-v2 vxlan") || !strings.Contains(got, "tr-attach-v3 veth") {
		t.Errorf("a missing bridge took other VPC links down:\n%s", got)
	}
	// Bound the other way round: v1 to the VXLAN, v2 to the bridge.
	swapped := segmentRouter(fakePrefix, host, vx)
	vs := swapped.Routers[0].VPCs
	vs[0].Segment, vs[1].Segment = vs[1].Segment, vs[0].Segment
	if err := d.Apply(ctx, swapped); err != nil {
		t.Fatal(err)
	}
	if got, _ := d.Render(ctx); !strings.Contains(got, "tr-attach-v1 vxlan") || !strings.Contains(got, "tr-attach-v2 veth") {
		t.Errorf("rebinding did not change the links' kinds:\n%s", got)
	}
	checkOperator("rebound")
	// v3 from its own namespace's /30 link to a bridge in that same namespace, and back:
	// nothing of the other kind is left (no /30 on the bridge port, no route through it).
	v3ns := fakePrefix + "vpc-v3"
	br := &fakeLink{ipLink: ipLink{Name: "br-v3", MTU: 1500, LinkType: "ether", Flags: []string{"UP"}}}
	br.Info.Kind = "bridge"
	f.ns[v3ns].links["br-v3"] = br
	onBridge := segmentRouter(fakePrefix, host, vx)
	onBridge.Routers[0].VPCs[2] = VPCLink{AttachmentID: "tr-attach-v3", Segment: &Segment{Netns: v3ns, Bridge: "br-v3"}, RouterAddr: pfx("10.3.0.253/16")}
	if err := d.Apply(ctx, onBridge); err != nil {
		t.Fatal(err)
	}
	port := f.ns[v3ns].links[d.vpcLink("tr-seg", "tr-attach-v3")]
	if port == nil || port.Master != "br-v3" || len(port.addrs) != 0 || len(f.ns[v3ns].routes["main"]) != 0 {
		t.Errorf("namespace link -> bridge in the same namespace: port %+v, routes %v; want a bare port of br-v3 and no routes", port, f.ns[v3ns].routes["main"])
	}
	if err := d.Apply(ctx, segmentRouter(fakePrefix, host, vx)); err != nil {
		t.Fatal(err)
	}
	port = f.ns[v3ns].links[d.vpcLink("tr-seg", "tr-attach-v3")]
	if port == nil || port.Master != "" || len(port.addrs) != 1 {
		t.Errorf("bridge -> namespace link in the same namespace: %+v; want a /30 link, no bridge", port)
	}
	for _, step := range []func() error{
		func() error { return d.Apply(ctx, nil) },
		func() error { return d.Cleanup(ctx) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
		checkOperator("removed")
		if len(f.ns[host].links) != len(operator)+1 { // + lo
			t.Errorf("links left in the operator's namespace: %v", mapsKeys(f.ns[host].links))
		}
	}
}

func mapsKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestSegmentsReal is TestSegmentsFake on the real system, with traffic: host A holds an
// operator's bridge with a server on it (v1) and the underlay to host B, which holds a
// server in a VXLAN segment (v2, the operator's own vxlan device); v3 is a lab VPC host in
// its own namespace. The servers reach each other and v3 through the transit router; the
// rendering is the fake's; the operator's configuration survives removal and cleanup.
func TestSegmentsReal(t *testing.T) {
	e := newEnv(t)
	if _, err := e.lab.AddVPCHost(e.ctx, "v3", pfx("10.3.0.0/16")); err != nil {
		t.Fatal(err)
	}
	hostA, hostB, srv1 := e.prefix+"host", e.prefix+"hostb", e.prefix+"srv1"
	for _, ns := range []string{hostA, hostB, srv1} {
		if err := nsutil.AddNetns(e.ctx, ns); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = nsutil.DelNetns(context.Background(), ns) })
	}
	for _, c := range [][]string{
		{"link", "add", "eth1", "netns", hostA, "mtu", "9000", "type", "veth", "peer", "name", "eth1", "netns", hostB, "mtu", "9000"},
		{"link", "add", "eth9", "netns", hostA, "type", "veth", "peer", "name", "eth0", "netns", srv1},
	} {
		if _, err := nsutil.IP(e.ctx, c...); err != nil {
			t.Fatal(err)
		}
	}
	for ns, cmds := range map[string][]string{
		hostA: {"link add br-vpc1 type bridge", "link set br-vpc1 up", "link set eth9 master br-vpc1 up",
			"addr add 10.0.0.1/24 dev eth1", "link set eth1 up"},
		hostB: {"addr add 10.0.0.2/24 dev eth1", "link set eth1 up",
			"link add vx100 type vxlan id 100 dev eth1 dstport 4789 remote 10.0.0.1", "addr add 10.2.0.10/24 dev vx100", "link set vx100 up",
			"route add 10.1.0.0/16 via 10.2.0.253", "route add 10.3.0.0/16 via 10.2.0.253"},
		srv1: {"addr add 10.1.0.10/24 dev eth0", "link set eth0 up", "route add default via 10.1.0.253"},
	} {
		if err := nsutil.IPBatch(e.ctx, ns, cmds); err != nil {
			t.Fatal(err)
		}
	}
	vx := VXLAN{VNI: 100, Underlay: "eth1", Remotes: []netip.Addr{addr("10.0.0.2"), addr("10.0.0.3")}, Port: 4789}
	e.apply(segmentRouter(e.prefix, hostA, vx))
	for _, p := range []struct{ ns, src, dst string }{
		{srv1, "10.1.0.10", "10.2.0.10"}, // bridge -> VXLAN
		{srv1, "10.1.0.10", "10.3.0.1"},  // bridge -> namespace
		{hostB, "10.2.0.10", "10.3.0.1"}, // VXLAN -> namespace
	} {
		if err := lab.Ping(e.ctx, p.ns, addr(p.src), addr(p.dst), 3); err != nil {
			t.Errorf("through the transit router: %v", err)
		}
	}
	// The rendering is the fake's (the VXLAN tag digests the namespace's name, which has
	// the test's prefix).
	tag := regexp.MustCompile(`\(vxlan (\d+) [a-z2-7]{8}\)`)
	if got, want := tag.ReplaceAllString(e.render(), "(vxlan $1 *)"), tag.ReplaceAllString(wantState(t, segmentState), "(vxlan $1 *)"); got != strings.ReplaceAll(want, "t0000-", e.prefix) {
		t.Errorf("the real system differs from testdata/states/%s.txt:\n%s", segmentState, diff(want, got))
	}
	e.apply(nil)
	if err := e.drv.Cleanup(e.ctx); err != nil {
		t.Fatal(err)
	}
	for ns, want := range map[string][]string{
		hostA: {"br-vpc1", "eth9@", "master br-vpc1", "eth1@"},
		hostB: {"vx100"},
	} {
		out, err := nsutil.IPn(e.ctx, ns, "-o", "link", "show")
		for _, w := range want {
			if err != nil || !strings.Contains(string(out), w) {
				t.Errorf("the operator's %q in %s is gone (%v):\n%s", w, ns, err, out)
			}
		}
		if strings.Contains(string(out), ": "+e.prefix) {
			t.Errorf("OpenCEN's links left in %s:\n%s", ns, out)
		}
	}
}
