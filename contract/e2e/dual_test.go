package e2e

import (
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"opencen/internal/dataplane/nsutil"
	"opencen/internal/lab"
)

// dualConnection is a dual-tunnel connection to a data center with two customer gateways:
// dcs[0] terminates the master tunnel, dcs[1] the slave. Both hold the data center's host
// address, so a packet for it is answered by whichever gateway it reached, over the tunnel
// it came in by, as a data center with two VPN devices on one LAN answers.
type dualConnection struct {
	vco, att string
	tunnels  [2]string // master, slave
	cloudIPs [2]string
	dcs      [2]*lab.DC
}

// connectDual creates the two customer gateways (WAN addresses wans), a dual-tunnel
// connection (tunnel 1 the master), attaches it with no zone, and configures each data
// center gateway from its tunnel's configuration as OpenCEN hands it out.
func (w *world) connectDual(r router, name string, wans [2]string, subnet string, params map[string]string) dualConnection {
	w.t.Helper()
	asn := w.cgwASN
	if asn == "" {
		asn = "65010"
	}
	p := map[string]string{"RegionId": "cn-hangzhou", "EffectImmediately": "true"}
	for i, role := range []string{"master", "slave"} {
		cgw := w.vpc("CreateCustomerGateway", map[string]string{"RegionId": "cn-hangzhou", "IpAddress": wans[i], "Asn": asn})["CustomerGatewayId"].(string)
		n := fmt.Sprintf("TunnelOptionsSpecification.%d.", i+1)
		p[n+"CustomerGatewayId"], p[n+"Role"], p[n+"TunnelIndex"] = cgw, role, fmt.Sprint(i+1)
	}
	for k, v := range params {
		p[k] = v
	}
	var d dualConnection
	d.vco = w.vpc("CreateVpnAttachment", p)["VpnConnectionId"].(string)
	d.att = w.cbn("CreateTransitRouterVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "TransitRouterId": r.tr, "VpnId": d.vco})["TransitRouterAttachmentId"].(string)
	w.waitFor("VPN attached", 10*time.Second, func() bool {
		return first(w.cbn("ListTransitRouterVpnAttachments", map[string]string{"TransitRouterAttachmentId": d.att}), "TransitRouterAttachments")["Status"] == "Attached"
	})
	w.link(d.att, r.system)
	v := w.vpc("DescribeVpnConnection", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": d.vco})
	for _, raw := range v["TunnelOptionsSpecification"].(map[string]any)["TunnelOptions"].([]any) {
		t := raw.(map[string]any)
		i := int(t["TunnelIndex"].(float64)) - 1
		d.tunnels[i], d.cloudIPs[i] = t["TunnelId"].(string), t["InternetIp"].(string)
	}
	bgpOn := v["EnableTunnelsBgp"] == true
	if !bgpOn {
		w.vpc("CreateVcoRouteEntry", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": d.vco, "RouteDest": subnet, "NextHop": d.vco, "Weight": "0"})
	}
	for i := range 2 {
		var conf struct{ Config string }
		if err := w.c.Call(w.ctx, "2026-11-01", "RenderVpnConnectionConfig", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": d.vco,
			"TunnelId": d.tunnels[i], "ConfigFormat": "strongswan"}, &conf); err != nil {
			w.t.Fatal(err)
		}
		dc, err := w.lab.AddDC(w.ctx, fmt.Sprintf("%s%d", name, i+1), netip.PrefixFrom(netip.MustParseAddr(wans[i]), 15), netip.MustParsePrefix(subnet), conf.Config)
		if err != nil {
			w.t.Fatal(err)
		}
		if !bgpOn {
			if err := dc.RouteToTunnel(w.ctx, r.vpcHost.CIDR); err != nil {
				w.t.Fatal(err)
			}
		}
		d.dcs[i] = dc
	}
	return d
}

// waitTunnels waits until both tunnels are established and each data center gateway
// keeps the one IKE SA its tunnel's cell keeps (both ends initiate; see waitAgreed).
func (w *world) waitTunnels(d dualConnection) {
	w.t.Helper()
	for i, tun := range d.tunnels {
		w.waitFor(tun+" established", 60*time.Second, func() bool { return w.tunnelStatus(d.vco, tun) == "ipsec_sa_established" })
		cell := w.charonOf(tun)
		if _, err := d.dcs[i].WaitSameIKE(w.ctx, cell, 8*time.Second); err != nil {
			w.t.Fatalf("%s: %v", tun, err)
		}
	}
}

// tunnelStatus is a tunnel's Status as DescribeVpnConnection reports it.
func (w *world) tunnelStatus(vco, tunnel string) string {
	v := w.vpc("DescribeVpnConnection", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": vco})
	for _, raw := range v["TunnelOptionsSpecification"].(map[string]any)["TunnelOptions"].([]any) {
		if t := raw.(map[string]any); t["TunnelId"] == tunnel {
			s, _ := t["Status"].(string)
			return s
		}
	}
	return ""
}

// inPackets counts the ESP packets a data center's charon received.
func (w *world) inPackets(dc *lab.DC) int {
	out, _ := dc.Charon.Swanctl(w.ctx, "--list-sas")
	n := 0
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 5 && f[0] == "in" {
			var x int
			fmt.Sscan(f[4], &x)
			n += x
		}
	}
	return n
}

// blockPath drops (or lets through again) the IKE and ESP packets between a data center
// gateway and the cloud: the path of its tunnel dies while both ends keep running.
func (w *world) blockPath(dc *lab.DC, on bool) {
	w.t.Helper()
	cmds := [][]string{{"delete", "table", "inet", "e2epath"}}
	if on {
		cmds = [][]string{
			{"add", "table", "inet", "e2epath"},
			{"add", "chain", "inet", "e2epath", "in", "{ type filter hook input priority 0 ; }"},
			{"add", "chain", "inet", "e2epath", "out", "{ type filter hook output priority 0 ; }"},
			{"add", "rule", "inet", "e2epath", "in", "udp", "sport", "{ 500, 4500 }", "drop"},
			{"add", "rule", "inet", "e2epath", "out", "udp", "dport", "{ 500, 4500 }", "drop"},
		}
	}
	for _, cmd := range cmds {
		args := append([]string{"netns", "exec", dc.Netns, "nft"}, cmd...)
		if out, err := exec.CommandContext(w.ctx, "ip", args...).CombinedOutput(); err != nil {
			w.t.Fatalf("nft %v: %v %s", cmd, err, out)
		}
	}
}

// outage pings dst from src in ns every 100 ms until a reply comes (bounded by limit) and
// returns how long that took.
func (w *world) outage(ns string, src, dst netip.Addr, limit time.Duration) (time.Duration, error) {
	t0 := time.Now()
	for time.Since(t0) < limit {
		_, err := nsutil.Exec(w.ctx, ns, "ping", "-n", "-q", "-c", "1", "-W", "0.1", "-I", src.String(), dst.String())
		if err == nil {
			return time.Since(t0), nil
		}
	}
	return 0, fmt.Errorf("no reply from %s within %v", dst, limit)
}

// failMaster drops the master's path and returns how long the VPC host (from src) goes
// without an answer from the data center, then waits until the master is reported down.
func (w *world) failMaster(r router, d dualConnection, src netip.Addr) (time.Duration, error) {
	w.blockPath(d.dcs[0], true)
	took, err := w.outage(r.vpcHost.Netns, src, d.dcs[0].Host, 60*time.Second)
	if err != nil {
		return 0, fmt.Errorf("after the master's path died: %w", err)
	}
	w.waitFor("the master reported down", 30*time.Second, func() bool { return w.tunnelStatus(d.vco, d.tunnels[0]) != "ipsec_sa_established" })
	return took, nil
}

// restoreMaster lets the master's path through again and waits until the cloud sends over
// it; it returns how long that took.
func (w *world) restoreMaster(r router, d dualConnection) time.Duration {
	w.blockPath(d.dcs[0], false)
	back := time.Now()
	w.waitFor("traffic back on the master", 60*time.Second, func() bool {
		n := w.inPackets(d.dcs[0])
		_ = lab.Ping(w.ctx, r.vpcHost.Netns, r.vpcHost.Addr, d.dcs[0].Host, 1)
		return w.inPackets(d.dcs[0]) > n
	})
	return time.Since(back)
}

// BenchmarkDualTunnelFailover measures the cloud side's failover of a dual-tunnel
// connection (master and slave, no BGP): from the master's path loss to the VPC host's
// first answer from the data center over the slave. One world, b.N failovers, each
// followed by the master's return (not timed). bench/dualtunnel/run.sh prints the table.
func BenchmarkDualTunnelFailover(b *testing.B) {
	w := newWorldWith(b, nil)
	r := w.router("10.160.0.0/16")
	d := w.connectDual(r, "dbf", [2]string{"198.18.0.160", "198.18.0.161"}, "192.168.160.0/24", nil)
	w.waitTunnels(d)
	w.pingBothWays(d.dcs[0], r.vpcHost)
	var total, worst time.Duration
	best := time.Hour
	b.ResetTimer()
	for range b.N {
		took, err := w.failMaster(r, d, r.vpcHost.Addr)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		total += took
		best, worst = min(best, took), max(worst, took)
		b.Logf("outage %v", took.Round(10*time.Millisecond))
		w.restoreMaster(r, d)
		w.waitTunnels(d)
		b.StartTimer()
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/failover")
	b.ReportMetric(best.Seconds(), "s-min")
	b.ReportMetric(worst.Seconds(), "s-max")
}

// sources adds n addresses of the VPC host (flows that hash onto both tunnels of an ECMP
// route) and returns them.
func sources(t *testing.T, r router, first, n int) []netip.Addr {
	var out []netip.Addr
	for i := first; i < first+n; i++ {
		a := r.vpcHost.CIDR.Addr().As4()
		a[3] = byte(i)
		addr := netip.AddrFrom4(a)
		ipAddr(t, r.vpcHost.Netns, addr.String())
		out = append(out, addr)
	}
	return out
}

// TestDualTunnel: a data center with both tunnels of a dual-tunnel connection up reaches
// the VPC; when the master's path dies (its packets are dropped in the data center), the
// cloud sends over the slave, and over the master again once the path is back. Then the
// same with EnableTunnelsBgp and BIRD on both data center gateways (both tunnels carry
// traffic; the one whose path died leaves, and comes back). The outage is measured on the
// cloud's side: from the path's loss to the VPC host's first answer from the data center
// (its packets went out over the slave).
func TestDualTunnel(t *testing.T) {
	w := newWorld(t)
	t.Run("master and slave", func(t *testing.T) {
		r := w.router("10.140.0.0/16")
		d := w.connectDual(r, "dua", [2]string{"198.18.0.140", "198.18.0.141"}, "192.168.140.0/24", nil)
		if d.cloudIPs[0] == d.cloudIPs[1] || d.cloudIPs[0] == "" {
			t.Fatalf("the tunnels' gateway IPs: %v", d.cloudIPs)
		}
		w.waitTunnels(d)
		// A diagnosis per tunnel, both healthy.
		diag := w.vpc("DiagnoseVpnConnections", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionIds.1": d.vco})["VpnConnections"].([]any)
		if len(diag) != 2 {
			t.Fatalf("DiagnoseVpnConnections: %v", diag)
		}
		for i, raw := range diag {
			if g := raw.(map[string]any); g["TunnelId"] != d.tunnels[i] || g["Severity"] != "Normal" {
				t.Fatalf("diagnosis of tunnel %d: %v", i+1, g)
			}
		}
		master, slave := d.dcs[0], d.dcs[1]
		// (Only the master's gateway pings the VPC: the cloud answers over the master, so a
		// ping from the slave's gateway would be answered to the other one.)
		w.pingBothWays(master, r.vpcHost)
		// The cloud sends to the data center over the master.
		before := [2]int{w.inPackets(master), w.inPackets(slave)}
		if err := lab.Ping(w.ctx, r.vpcHost.Netns, r.vpcHost.Addr, master.Host, 5); err != nil {
			t.Fatal(err)
		}
		if w.inPackets(master) < before[0]+5 || w.inPackets(slave) >= before[1]+5 {
			t.Fatalf("ESP packets in: master %d -> %d, slave %d -> %d; want the 5 pings on the master only", before[0], w.inPackets(master), before[1], w.inPackets(slave))
		}
		took, err := w.failMaster(r, d, r.vpcHost.Addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("failover outage (cloud side, master path lost -> answered over the slave): %v", took.Round(10*time.Millisecond))
		if err := slave.Ping(w.ctx, r.vpcHost.Addr, 3); err != nil {
			t.Fatalf("data center -> VPC over the slave: %v", err)
		}
		t.Logf("back on the master %v after its path recovered", w.restoreMaster(r, d).Round(100*time.Millisecond))
		logs := w.vpc("DescribeVpnConnectionLogs", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": d.vco, "TunnelId": d.tunnels[0], "MinutePeriod": "10", "PageSize": "50"})
		if text := strings.Join(toStrings(logs["Data"].(map[string]any)["Logs"]), "\n"); !strings.Contains(strings.ToLower(text), "established") {
			t.Fatalf("the master's log: %s", text)
		}
	})
	t.Run("EnableTunnelsBgp", func(t *testing.T) {
		r := w.router("10.150.0.0/16")
		d := w.connectDual(r, "dub", [2]string{"198.18.0.150", "198.18.0.151"}, "192.168.150.0/24", map[string]string{"EnableTunnelsBgp": "true",
			"TunnelOptionsSpecification.1.TunnelBgpConfig.TunnelCidr": "169.254.51.0/30", "TunnelOptionsSpecification.1.TunnelBgpConfig.LocalBgpIp": "169.254.51.1",
			"TunnelOptionsSpecification.2.TunnelBgpConfig.TunnelCidr": "169.254.52.0/30", "TunnelOptionsSpecification.2.TunnelBgpConfig.LocalBgpIp": "169.254.52.1"})
		for i, dc := range d.dcs {
			cloud := netip.MustParseAddr(fmt.Sprintf("169.254.5%d.1", i+1))
			if err := dc.StartBIRD(w.ctx, 65010, dc.Host, []lab.BIRDNeighbor{{Address: cloud, LocalAddress: cloud.Next(), PeerAS: 45104}}, []netip.Prefix{dc.Subnet}); err != nil {
				t.Fatal(err)
			}
		}
		bgpUp := func() int {
			n := 0
			v := w.vpc("DescribeVpnConnection", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": d.vco})
			for _, raw := range v["TunnelOptionsSpecification"].(map[string]any)["TunnelOptions"].([]any) {
				if raw.(map[string]any)["TunnelBgpConfig"].(map[string]any)["BgpStatus"] == "success" {
					n++
				}
			}
			return n
		}
		w.waitTunnels(d)
		w.waitFor("both BGP sessions", 90*time.Second, func() bool { return bgpUp() == 2 })
		master, slave := d.dcs[0], d.dcs[1]
		w.waitFor("the VPC learned by both gateways", 30*time.Second, func() bool {
			a, _ := master.BIRDRoutes(w.ctx)
			b, _ := slave.BIRDRoutes(w.ctx)
			return strings.Contains(a, "10.150.0.0/16") && strings.Contains(b, "10.150.0.0/16")
		})
		// Only the VPC pings: with ECMP a data center gateway's ping may be answered over
		// the other tunnel, to the other gateway.
		for _, dc := range d.dcs {
			w.waitFor("the VPC host reaches the data center", 30*time.Second, func() bool {
				return lab.Ping(w.ctx, r.vpcHost.Netns, r.vpcHost.Addr, dc.Host, 1) == nil
			})
		}
		// Both tunnels carry flows (ECMP).
		srcs := sources(t, r, 2, 24)
		spread := func(want [2]bool) func() bool {
			return func() bool {
				before := [2]int{w.inPackets(master), w.inPackets(slave)}
				for _, s := range srcs {
					_ = lab.Ping(w.ctx, r.vpcHost.Netns, s, master.Host, 1)
				}
				got := [2]bool{w.inPackets(master) > before[0], w.inPackets(slave) > before[1]}
				return got == want
			}
		}
		w.waitFor("flows over both tunnels", 30*time.Second, spread([2]bool{true, true}))
		// The outage is measured on a flow the master carries.
		onMaster := netip.Addr{}
		for _, s := range srcs {
			n := w.inPackets(master)
			if lab.Ping(w.ctx, r.vpcHost.Netns, s, master.Host, 3) == nil && w.inPackets(master) >= n+3 {
				onMaster = s
				break
			}
		}
		if !onMaster.IsValid() {
			t.Fatal("no flow over the master")
		}
		w.blockPath(master, true)
		took, err := w.outage(r.vpcHost.Netns, onMaster, master.Host, 60*time.Second)
		if err != nil {
			t.Fatalf("after the master's path died: %v", err)
		}
		t.Logf("BGP failover outage (cloud side, first flow answered after the master's path was lost): %v", took.Round(10*time.Millisecond))
		w.waitFor("every flow over the slave", 60*time.Second, func() bool {
			for _, s := range srcs {
				if lab.Ping(w.ctx, r.vpcHost.Netns, s, master.Host, 1) != nil {
					return false
				}
			}
			return true
		})
		w.blockPath(master, false)
		w.waitFor("flows over both tunnels again", 90*time.Second, spread([2]bool{true, true}))
	})
}
