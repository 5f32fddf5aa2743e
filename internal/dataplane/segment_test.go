package dataplane

import (
	"context"
	"net/netip"
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

	// Another remote list: the device is remade with it.
	vx.Remotes = []netip.Addr{addr("10.0.0.4")}
	if err := d.Apply(ctx, segmentRouter(fakePrefix, host, vx)); err != nil {
		t.Fatal(err)
	}
	if got, _ := d.Render(ctx); !strings.Contains(got, "(vxlan 100 dev eth1 port 4789 remotes 10.0.0.4)") || strings.Contains(got, "10.0.0.2") {
		t.Errorf("a changed remote list did not remake the VXLAN device:\n%s", got)
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
	// The rendering is the fake's, but for the MTUs the kernel gives (the same rule).
	if got, want := e.render(), wantState(t, segmentState); got != strings.ReplaceAll(want, "t0000-", e.prefix) {
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
