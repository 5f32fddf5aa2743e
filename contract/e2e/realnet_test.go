package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"opencen/internal/config"
	"opencen/internal/dataplane/nsutil"
	"opencen/internal/lab"
	"opencen/internal/server"
)

// twoHosts is OpenCEN on real-shaped networks. Two simulated hosts, configured here as an
// operator would (not by the lab): host A has eth0 on the Internet (the lab's WAN) with its
// own address and runs the gateway with a routed uplink: the connections' gateway IPs come
// from a pool of public addresses host A answers for on eth0. Hosts A and B share an
// underlay (eth1 on a switch); host B has a server (10.30.0.10) in a VXLAN segment, VNI 100.
// The transit router has two VPCs: 10.20.0.0/16, the lab's VPC host on its bridge, and
// 10.30.0.0/16, bound to the VXLAN segment. A stock strongSwan data center on the Internet
// (192.168.60.0/24) is connected and routes both VPCs into its tunnel.
type twoHosts struct {
	*world
	hostA, hostB string
	r            router
	c            connection
	gatewayIP    string
	server       netip.Addr
}

const twoHostsPool = "198.18.7.0/28"

func newTwoHosts(t testing.TB) *twoHosts {
	p := "x" + randomSuffix()
	h := &twoHosts{hostA: p + "a", hostB: p + "b", server: netip.MustParseAddr("10.30.0.10")}
	underlay := p + "ul"
	h.world = newWorldWith(t, func(w *world, cfg *config.Config, o *server.GatewayOptions) {
		ctx := w.ctx
		for _, ns := range []string{h.hostA, h.hostB, underlay} {
			if err := nsutil.AddNetns(ctx, ns); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = nsutil.DelNetns(context.Background(), ns) })
		}
		for _, c := range [][]string{
			{"link", "add", "eth0", "netns", h.hostA, "type", "veth", "peer", "name", p + "up", "netns", w.lab.WANNetns},
			{"link", "add", "eth1", "netns", h.hostA, "mtu", "9000", "type", "veth", "peer", "name", "porta", "netns", underlay, "mtu", "9000"},
			{"link", "add", "eth1", "netns", h.hostB, "mtu", "9000", "type", "veth", "peer", "name", "portb", "netns", underlay, "mtu", "9000"},
		} {
			if _, err := nsutil.IP(ctx, c...); err != nil {
				t.Fatal(err)
			}
		}
		for ns, cmds := range map[string][]string{
			w.lab.WANNetns: {"link set " + p + "up master " + lab.Bridge + " up"},
			underlay:       {"link add sw0 type bridge", "link set sw0 mtu 9000 up", "link set porta master sw0 up", "link set portb master sw0 up"},
			h.hostA: {"addr add 198.18.0.100/15 dev eth0", "link set eth0 up",
				"addr add 10.99.0.1/24 dev eth1", "link set eth1 up"},
			h.hostB: {"addr add 10.99.0.2/24 dev eth1", "link set eth1 up",
				"link add vx100 type vxlan id 100 dev eth1 dstport 4789 remote 10.99.0.1",
				"addr add 10.30.0.10/16 dev vx100", "link set vx100 up",
				"route add default via 10.30.255.253 dev vx100"},
		} {
			if err := nsutil.IPBatch(ctx, ns, cmds); err != nil {
				t.Fatal(err)
			}
		}
		if err := nsutil.SetSysctls(h.hostA, nsutil.Sysctl{Key: "ipv4/ip_forward", Value: "1"}); err != nil {
			t.Fatal(err)
		}
		cfg.Regions[0].PublicPool = config.Pool{twoHostsPool}
		o.WANNetns, o.WANBridge, o.WANInterface = h.hostA, "", "eth0"
	})
	w := h.world
	h.r = w.router("10.20.0.0/16")
	vxVPC, _ := w.attachVPC(h.r, "10.30.0.0/16", false)
	if err := w.admin.Call(w.ctx, "2026-11-01", "BindVpc", map[string]string{"VpcId": vxVPC, "VxlanVni": "100", "Underlay": "eth1",
		"Netns": h.hostA, "Remotes.1": "10.99.0.2"}, nil); err != nil {
		t.Fatal(err)
	}
	h.c = w.connect(h.r, "dc1", "198.18.0.60", "192.168.60.0/24", nil)
	if err := h.c.dc.RouteToTunnel(w.ctx, netip.MustParsePrefix("10.30.0.0/16")); err != nil {
		t.Fatal(err)
	}
	h.gatewayIP = w.vpc("DescribeVpnConnection", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": h.c.vco})["InternetIp"].(string)
	w.waitEstablished(h.c.vco)
	w.waitAgreed(h.c)
	return h
}

// TestTwoHostsVXLAN: the data center reaches the server on host B (VXLAN) and the lab's VPC
// host (bridge) through the transit router on host A, and both answer; the gateway IP is
// from the pool; host A answers for it on eth0; the VXLAN socket is host A's.
func TestTwoHostsVXLAN(t *testing.T) {
	h := newTwoHosts(t)
	if a, err := netip.ParseAddr(h.gatewayIP); err != nil || !netip.MustParsePrefix(twoHostsPool).Contains(a) {
		t.Fatalf("gateway IP %q: want an address of the pool %s", h.gatewayIP, twoHostsPool)
	}
	h.pingBothWaysAt(h.c.dc, h.hostB, h.server) // the server on host B (VXLAN)
	h.pingBothWays(h.c.dc, h.r.vpcHost)         // the lab's VPC host (bridge)
	if out, err := nsutil.IPn(h.ctx, h.hostA, "neigh", "show", "proxy"); err != nil || !strings.Contains(string(out), h.gatewayIP+" dev eth0") {
		t.Errorf("host A's proxy-ARP entries (%v):\n%s\nwant %s on eth0", err, out, h.gatewayIP)
	}
	if out, err := nsutil.Exec(h.ctx, h.hostA, "ss", "-uln"); err != nil || !strings.Contains(string(out), ":4789") {
		t.Errorf("no VXLAN socket on host A (%v):\n%s", err, out)
	}
}

// BenchmarkSegmentThroughput: iperf3 TCP from the data center through the tunnel to a
// server in a VXLAN-bound VPC on another host, beside the lab's path (a VPC host on a
// bridge in the gateway's machine), alternating, one 5 s run each per iteration. Reports
// both in Mbit/s and their ratio (target: VXLAN >= 0.9x the lab path). Needs iperf3.
//
//	cd contract && go test -run '^$' -bench SegmentThroughput -benchtime 3x ./e2e/
func BenchmarkSegmentThroughput(b *testing.B) {
	if _, err := exec.LookPath("iperf3"); err != nil {
		b.Fatal("iperf3 is missing: apt-get install -y iperf3")
	}
	h := newTwoHosts(b)
	for _, s := range []struct {
		ns  string
		dst netip.Addr
	}{{h.hostB, h.server}, {h.r.vpcHost.Netns, h.r.vpcHost.Addr}} {
		if err := h.reach(h.c.dc, s.dst); err != nil {
			b.Fatalf("DC host -> %s: %v", s.dst, err)
		}
		srv := exec.Command("ip", "netns", "exec", s.ns, "iperf3", "-s", "-B", s.dst.String())
		if err := srv.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	}
	time.Sleep(300 * time.Millisecond) // the servers listen
	run := func(dst netip.Addr) float64 {
		ctx, cancel := context.WithTimeout(h.ctx, 30*time.Second)
		defer cancel()
		out, err := nsutil.Exec(ctx, h.c.dc.Netns, "iperf3", "-J", "-t", "5", "-B", h.c.dc.Host.String(), "-c", dst.String())
		if err != nil {
			b.Fatalf("iperf3 to %s: %v\n%s", dst, err, out)
		}
		var r struct {
			End struct {
				SumReceived struct {
					BitsPerSecond float64 `json:"bits_per_second"`
				} `json:"sum_received"`
			} `json:"end"`
		}
		if err := json.Unmarshal(out, &r); err != nil {
			b.Fatalf("iperf3 output: %v", err)
		}
		if r.End.SumReceived.BitsPerSecond <= 0 {
			b.Fatalf("iperf3 to %s: no throughput in its report:\n%s", dst, out)
		}
		return r.End.SumReceived.BitsPerSecond / 1e6
	}
	var vx, labPath float64
	b.ResetTimer()
	for i := range b.N {
		if i%2 == 0 {
			vx += run(h.server)
			labPath += run(h.r.vpcHost.Addr)
		} else {
			labPath += run(h.r.vpcHost.Addr)
			vx += run(h.server)
		}
	}
	b.StopTimer()
	vx, labPath = vx/float64(b.N), labPath/float64(b.N)
	b.ReportMetric(vx, "Mbit/s-vxlan")
	b.ReportMetric(labPath, "Mbit/s-lab")
	b.ReportMetric(vx/labPath, "ratio")
	b.Log(fmt.Sprintf("VXLAN %.0f Mbit/s, lab path %.0f Mbit/s, ratio %.2f (target >= 0.9)", vx, labPath, vx/labPath))
}
