package e2e

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"opencen/internal/config"
	"opencen/internal/dataplane/nsutil"
	"opencen/internal/lab"
	"opencen/internal/server"
)

// TestTwoHostsVXLAN: OpenCEN on real-shaped networks. Two simulated hosts, configured here
// as an operator would (not by the lab): host A has eth0 on the Internet (the lab's WAN)
// with its own address, and runs the gateway with a routed uplink: the connections'
// gateway IPs come from a pool of public addresses that host A answers for on eth0. Host
// A and host B share an underlay (eth1 on a switch); host B has a server in a VXLAN
// segment (VNI 100), and the VPC is bound to that segment. A stock strongSwan data center
// on the Internet reaches the server on host B through the transit router on host A, and
// back.
func TestTwoHostsVXLAN(t *testing.T) {
	p := "x" + randomSuffix()
	hostA, hostB, underlay := p+"a", p+"b", p+"ul"
	w := newWorldWith(t, func(w *world, cfg *config.Config, o *server.GatewayOptions) {
		ctx := w.ctx
		for _, ns := range []string{hostA, hostB, underlay} {
			if err := nsutil.AddNetns(ctx, ns); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = nsutil.DelNetns(context.Background(), ns) })
		}
		for _, c := range [][]string{
			{"link", "add", "eth0", "netns", hostA, "type", "veth", "peer", "name", p + "up", "netns", w.lab.WANNetns},
			{"link", "add", "eth1", "netns", hostA, "type", "veth", "peer", "name", "porta", "netns", underlay},
			{"link", "add", "eth1", "netns", hostB, "type", "veth", "peer", "name", "portb", "netns", underlay},
		} {
			if _, err := nsutil.IP(ctx, c...); err != nil {
				t.Fatal(err)
			}
		}
		for ns, cmds := range map[string][]string{
			w.lab.WANNetns: {"link set " + p + "up master " + lab.Bridge + " up"},
			underlay:       {"link add sw0 type bridge", "link set sw0 up", "link set porta master sw0 up", "link set portb master sw0 up"},
			hostA: {"addr add 198.18.0.100/15 dev eth0", "link set eth0 up",
				"addr add 10.99.0.1/24 dev eth1", "link set eth1 up"},
			hostB: {"addr add 10.99.0.2/24 dev eth1", "link set eth1 up",
				"link add vx100 type vxlan id 100 dev eth1 dstport 4789 remote 10.99.0.1",
				"addr add 10.20.0.10/16 dev vx100", "link set vx100 up",
				"route add default via 10.20.255.253 dev vx100"},
		} {
			if err := nsutil.IPBatch(ctx, ns, cmds); err != nil {
				t.Fatal(err)
			}
		}
		if err := nsutil.SetSysctls(hostA, nsutil.Sysctl{Key: "ipv4/ip_forward", Value: "1"}); err != nil {
			t.Fatal(err)
		}
		cfg.Regions[0].PublicPool = config.Pool{"198.18.7.0/28"}
		o.WANNetns, o.WANBridge, o.WANInterface = hostA, "", "eth0"
	})
	r := w.router("10.20.0.0/16")
	// Bound at first to the lab's bridge (router does it); rebound to host B's segment.
	if err := w.admin.Call(w.ctx, "2026-11-01", "BindVpc", map[string]string{"VpcId": r.vpc, "VxlanVni": "100", "Underlay": "eth1",
		"Netns": hostA, "Remotes.1": "10.99.0.2"}, nil); err != nil {
		t.Fatal(err)
	}
	c := w.connect(r, "dc1", "198.18.0.60", "192.168.60.0/24", nil)
	ip := w.vpc("DescribeVpnConnection", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": c.vco})["InternetIp"].(string)
	if a, err := netip.ParseAddr(ip); err != nil || !netip.MustParsePrefix("198.18.7.0/28").Contains(a) {
		t.Fatalf("gateway IP %q: want an address of the pool 198.18.7.0/28", ip)
	}
	w.waitEstablished(c.vco)
	w.waitAgreed(c)
	server := netip.MustParseAddr("10.20.0.10")
	var err error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		if err = c.dc.Ping(w.ctx, server, 1); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("DC host -> server on host B: %v", err)
	}
	if err := c.dc.Ping(w.ctx, server, 3); err != nil {
		t.Fatalf("DC host -> server on host B: %v", err)
	}
	if err := lab.Ping(w.ctx, hostB, server, c.dc.Host, 3); err != nil {
		t.Fatalf("server on host B -> DC host: %v", err)
	}
	// Host A answers for the gateway IP on its Internet interface; the VXLAN device is in
	// the transit router, its socket on host A's underlay.
	if out, err := nsutil.IPn(w.ctx, hostA, "neigh", "show", "proxy"); err != nil || !strings.Contains(string(out), ip+" dev eth0") {
		t.Errorf("host A's proxy-ARP entries (%v):\n%s\nwant %s on eth0", err, out, ip)
	}
	if out, err := nsutil.Exec(w.ctx, hostA, "ss", "-uln"); err != nil || !strings.Contains(string(out), ":4789") {
		t.Errorf("no VXLAN socket on host A (%v):\n%s", err, out)
	}
}
