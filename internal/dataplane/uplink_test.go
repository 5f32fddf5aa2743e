package dataplane

import (
	"context"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"opencen/internal/dataplane/nsutil"
	"opencen/internal/lab"
)

// The routed uplink (uplink.go): state s2 with its cells reaching the WAN through a host
// interface "eth0" of the namespace "<prefix>host" instead of a bridge. The fake and the
// real system render the same testdata/states/routed-s2.txt, and what the operator put in
// that namespace (a proxy-ARP entry, a route) survives every change and the cleanup.

const routedState = "routed-s2"

// operatorProxy and operatorRoute are the operator's own configuration of the host.
var (
	operatorProxy = netip.MustParseAddr("198.18.7.7")
	operatorRoute = netip.MustParsePrefix("10.250.0.0/16")
)

func TestRoutedUplinkFake(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f := newFakeOS()
	host := fakePrefix + "host"
	for _, ns := range []string{host, fakePrefix + "vpc-v1", fakePrefix + "vpc-v2", fakePrefix + "vpc-v3"} {
		if err := f.AddNamespace(ctx, ns, nil); err != nil {
			t.Fatal(err)
		}
	}
	eth0 := &fakeLink{ipLink: ipLink{Name: "eth0", MTU: 1500, LinkType: "ether", Flags: []string{"UP"}}, addrs: []netip.Prefix{netip.MustParsePrefix("198.18.0.100/15")}}
	f.ns[host].links["eth0"] = eth0
	f.ns[host].sysctls["ipv4/ip_forward"] = "1"
	if err := f.Change(ctx, host, []netOp{
		{kind: opRouteReplace, table: "main", route: unicastRoute(operatorRoute, []ipNextHop{{Gateway: "198.18.0.1", Dev: "eth0"}})},
	}); err != nil {
		t.Fatal(err)
	}
	f.ns[host].proxies = append(f.ns[host].proxies, ipProxy{Dst: operatorProxy.String(), Dev: "eth0"})
	d, err := newNetns(NetnsOptions{Prefix: fakePrefix, RunDir: t.TempDir(), WANNetns: host, WANInterface: "eth0", RetryInterval: time.Hour}, f, f)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	states := stateFixtures(fakePrefix)
	if err := d.Apply(ctx, states["s2"]); err != nil {
		t.Fatal(err)
	}
	fakeRendersAs(t, d, routedState)
	if !slices.Contains(f.announced, host+"/eth0 198.18.1.1") {
		t.Errorf("the new gateway IP was not announced on the host's interface: %v", f.announced)
	}
	// Everything goes; the operator's entries stay.
	for _, step := range []func() error{
		func() error { return d.Apply(ctx, states["s3"]) },
		func() error { return d.Apply(ctx, nil) },
		func() error { return d.Cleanup(ctx) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
		checkOperatorsFake(t, f, host)
	}
	if ps := f.ns[host].proxies; len(ps) != 1 {
		t.Errorf("proxy-ARP entries left after the cleanup: %v", ps)
	}
}

func checkOperatorsFake(t *testing.T, f *fakeOS, host string) {
	t.Helper()
	if !slices.ContainsFunc(f.ns[host].proxies, func(p ipProxy) bool { return p.Dst == operatorProxy.String() && p.Dev == "eth0" }) {
		t.Errorf("the operator's proxy-ARP entry is gone: %v", f.ns[host].proxies)
	}
	if !slices.ContainsFunc(f.ns[host].routes["main"], func(r ipRoute) bool { return r.prefix() == operatorRoute }) {
		t.Errorf("the operator's route is gone: %v", f.ns[host].routes["main"])
	}
}

// TestRoutedUplinkStates is TestRoutedUplinkFake on the real system: a host namespace with
// eth0 on the lab's WAN, an operator's proxy-ARP entry, route, bridge and nft table; the
// same rendering; a data center reaches the routed gateway IP (ARP answered by the host);
// and the operator's configuration survives the changes and the cleanup.
func TestRoutedUplinkStates(t *testing.T) {
	e := newEnv(t)
	for _, v := range []struct{ name, cidr string }{{"v1", "10.1.0.0/16"}, {"v2", "10.2.0.0/16"}, {"v3", "10.3.0.0/16"}} {
		if _, err := e.lab.AddVPCHost(e.ctx, v.name, pfx(v.cidr)); err != nil {
			t.Fatal(err)
		}
	}
	host := e.prefix + "host"
	if err := nsutil.AddNetns(e.ctx, host, nsutil.Sysctl{Key: "ipv4/ip_forward", Value: "1"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nsutil.DelNetns(context.Background(), host) })
	if _, err := nsutil.IP(e.ctx, "link", "add", "eth0", "netns", host, "type", "veth", "peer", "name", e.prefix+"hup", "netns", e.lab.WANNetns); err != nil {
		t.Fatal(err)
	}
	operator := []string{
		"link set " + e.prefix + "hup master " + lab.Bridge + " up",
	}
	if err := nsutil.IPBatch(e.ctx, e.lab.WANNetns, operator); err != nil {
		t.Fatal(err)
	}
	if err := nsutil.IPBatch(e.ctx, host, []string{
		"addr add 198.18.0.100/15 dev eth0",
		"link set eth0 up",
		"route add " + operatorRoute.String() + " via 198.18.0.1 dev eth0",
		"neigh add proxy " + operatorProxy.String() + " dev eth0",
		"link add brop type bridge",
		"rule add priority 300 from 198.18.0.100 lookup 77",
		"route add 198.51.100.0/24 via 198.18.0.1 dev eth0 table 77",
	}); err != nil {
		t.Fatal(err)
	}
	if err := nsutil.NFT(e.ctx, host, "table inet operator { chain in { type filter hook input priority 0; policy accept; tcp dport 22 accept; }; }"); err != nil {
		t.Fatal(err)
	}
	e.drv.Close()
	o := e.opts()
	o.WANNetns, o.WANBridge, o.WANInterface = host, "", "eth0"
	d, err := NewNetns(o)
	if err != nil {
		t.Fatal(err)
	}
	e.drv = d
	states := stateFixtures(e.prefix)
	e.apply(states["s2"])
	got := e.render()
	if want := wantState(t, routedState); got != want {
		t.Errorf("the real system differs from testdata/states/%s.txt (the fake OS's rendering):\n%s", routedState, diff(want, got))
	}
	// A host of the WAN reaches the gateway IP: the host answers ARP for it and routes it
	// into the cell, whose filter accepts IKE only: so ask with IKE's port (an answer or a
	// refusal both mean the packet arrived; nothing answers means it did not).
	dc, err := e.lab.AddDC(e.ctx, "probe", pfx("198.18.0.77/15"), pfx("192.168.77.0/24"), "")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := nsutil.Exec(e.ctx, dc.Netns, "ping", "-c", "1", "-W", "1", "198.18.0.100"); err != nil {
		t.Fatalf("the DC does not reach the host itself: %v %s", err, out)
	}
	mac := neighMAC(t, e.ctx, dc.Netns, "198.18.1.1")
	hostMAC := linkMAC(t, e.ctx, host, "eth0")
	if mac != hostMAC {
		t.Errorf("the DC resolved the gateway IP to %q, want the host's eth0 %q (proxy ARP)", mac, hostMAC)
	}
	// A gateway restart: a new driver on the same prefix takes the data plane over.
	e.drv.Close()
	if e.drv, err = NewNetns(o); err != nil {
		t.Fatal(err)
	}
	e.apply(states["s2"])
	checkOperatorsReal(t, e.ctx, host)
	for _, s := range []string{"s3", "empty"} {
		e.apply(states[s])
		checkOperatorsReal(t, e.ctx, host)
	}
	if err := e.drv.Cleanup(e.ctx); err != nil {
		t.Fatal(err)
	}
	checkOperatorsReal(t, e.ctx, host)
	if out, _ := nsutil.IPn(e.ctx, host, "neigh", "show", "proxy"); strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
		t.Errorf("proxy-ARP entries left after the cleanup:\n%s", out)
	}
}

func checkOperatorsReal(t *testing.T, ctx context.Context, host string) {
	t.Helper()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"neigh", "show", "proxy"}, operatorProxy.String() + " dev eth0"},
		{[]string{"route", "show", operatorRoute.String()}, "via 198.18.0.1 dev eth0"},
		{[]string{"link", "show", "brop"}, "brop"},
		{[]string{"rule", "show", "priority", "300"}, "from 198.18.0.100 lookup 77"},
		{[]string{"route", "show", "table", "77"}, "198.51.100.0/24 via 198.18.0.1 dev eth0"},
	} {
		out, err := nsutil.IPn(ctx, host, c.args...)
		if err != nil || !strings.Contains(string(out), c.want) {
			t.Errorf("the operator's %v is gone (%v):\n%s", c.args, err, out)
		}
	}
	if out, err := exec.CommandContext(ctx, "ip", "netns", "exec", host, "nft", "list", "table", "inet", "operator").CombinedOutput(); err != nil || !strings.Contains(string(out), "tcp dport 22 accept") {
		t.Errorf("the operator's nft table is gone (%v):\n%s", err, out)
	}
}

func neighMAC(t *testing.T, ctx context.Context, ns, addr string) string {
	t.Helper()
	// Resolve it: a packet to the address makes the kernel ask.
	_, _ = nsutil.Exec(ctx, ns, "ping", "-c", "1", "-W", "1", addr)
	out, err := nsutil.IPn(ctx, ns, "neigh", "show", addr)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(out))
	if i := slices.Index(f, "lladdr"); i >= 0 && i+1 < len(f) {
		return f[i+1]
	}
	t.Fatalf("%s has no neighbour entry for %s: %q", ns, addr, out)
	return ""
}

func linkMAC(t *testing.T, ctx context.Context, ns, link string) string {
	t.Helper()
	ls, err := links(ctx, ns)
	if err != nil {
		t.Fatal(err)
	}
	return ls[link].Address
}
