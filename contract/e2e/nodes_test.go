package e2e

import (
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"opencen/internal/lab"
)

// startLinkedNode starts a gateway node whose underlay is a host of its own on the lab's
// network (a machine's interface, with a cluster on one machine): its links to other
// nodes leave from there.
func (c *cluster) startLinkedNode(name, zone, addr string) *gatewayNode {
	c.t.Helper()
	h, err := c.lab.AddHost(c.ctx, name, netip.PrefixFrom(netip.MustParseAddr(addr), 15))
	if err != nil {
		c.t.Fatal(err)
	}
	return c.startNode(name, zone, "--underlay-netns", h.Netns, "--underlay-interface", lab.HostInterface, "--underlay-address", addr)
}

// runsConn names the node that runs a connection, or a tunnel of one ("vco/tun").
func (c *cluster) runsConn(entry string) string {
	for _, n := range c.nodesNow() {
		if slices.Contains(n.Connections, entry) {
			return n.Node
		}
	}
	return ""
}

// TestNodesLinked: gateway nodes in two zones of cn-hangzhou and one in cn-shanghai, each
// with an underlay of its own, and links between them.
//   - A dual-tunnel connection's tunnels run on the two hangzhou nodes, each in its zone,
//     its transit router on one of them: the data center reaches the VPC over the master;
//     when the master's path dies, over the slave on the other node (across the link
//     between the nodes); and over the master again when it is back.
//   - A transit router in cn-shanghai runs on the shanghai node; an inter-region
//     connection joins it to the hangzhou router across the nodes: the data center
//     reaches the shanghai VPC host and back.
//   - The slave's node is lost: the slave runs with its router and takes over when the
//     master's path dies; the node comes back and the slave returns to it. The router's
//     node is lost: router and both tunnels run on the other hangzhou node, and the data
//     center reaches both regions again.
func TestNodesLinked(t *testing.T) {
	c := newCluster(t)
	c.startLinkedNode("gwa", "cn-hangzhou-h", "198.19.254.1")
	c.startLinkedNode("gwb", "cn-hangzhou-i", "198.19.254.2")
	c.startLinkedNode("gwc", "cn-shanghai-e", "198.19.254.3")
	for _, n := range c.nodesNow() {
		if n.Underlay == "" {
			t.Fatalf("node %s registered no underlay: %+v", n.Node, n)
		}
	}
	hz := c.router("10.70.0.0/16")
	d := c.connectDual(hz, "nl", [2]string{"198.18.0.70", "198.18.0.71"}, "192.168.70.0/24", nil)
	c.waitFor("a node to run "+hz.tr, 20*time.Second, func() bool { return c.runs(hz.tr) != "" })
	home := c.runs(hz.tr)
	var where [2]string
	// (A tunnel not placed yet is listed with its router.)
	c.waitFor("the tunnels placed on two nodes", 20*time.Second, func() bool {
		for i, tun := range d.tunnels {
			where[i] = c.runsConn(d.vco + "/" + tun)
		}
		return where[0] != "" && where[1] != "" && where[0] != where[1]
	})
	if where[0] != home && where[1] != home {
		t.Fatalf("tunnels on %v and the router on %s: want one of them with the router", where, home)
	}
	for i, tun := range d.tunnels {
		want := fmt.Sprintf("tunnel %s now runs on gateway node %s", tun, where[i])
		if where[i] != home && !strings.Contains(c.tunnelLogs(d.vco, tun), want) {
			t.Errorf("the log of %s lacks %q:\n%s", tun, want, c.tunnelLogs(d.vco, tun))
		}
	}
	c.waitTunnels(d)
	master, slave := d.dcs[0], d.dcs[1]
	c.pingBothWays(master, hz.vpcHost)
	took, err := c.failMaster(hz, d, hz.vpcHost.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("failover to the slave on gateway node %s (master on %s): %v", where[1], where[0], took.Round(10*time.Millisecond))
	if err := slave.Ping(c.ctx, hz.vpcHost.Addr, 3); err != nil {
		t.Fatalf("data center -> VPC over the slave: %v", err)
	}
	t.Logf("back on the master %v after its path recovered", c.restoreMaster(hz, d).Round(100*time.Millisecond))

	// Across regions, across nodes.
	sh := c.regionRouter(hz, "cn-shanghai", "cn-shanghai-e", "10.80.0.0/16")
	c.waitFor("a node to run "+sh.tr, 20*time.Second, func() bool { return c.runs(sh.tr) == "gwc" })
	if err := master.RouteToTunnel(c.ctx, sh.vpcHost.CIDR); err != nil {
		t.Fatal(err)
	}
	peer := c.cbn("CreateTransitRouterPeerAttachment", map[string]string{"RegionId": "cn-hangzhou", "TransitRouterId": hz.tr,
		"PeerTransitRouterId": sh.tr, "PeerTransitRouterRegionId": "cn-shanghai", "BandwidthType": "DataTransfer",
		"RouteTableAssociationEnabled": "true", "RouteTablePropagationEnabled": "true"})["TransitRouterAttachmentId"].(string)
	c.waitFor("peer attached", 10*time.Second, func() bool {
		return first(c.cbn("ListTransitRouterPeerAttachments", map[string]string{"TransitRouterAttachmentId": peer}), "TransitRouterAttachments")["Status"] == "Attached"
	})
	c.pingBothWays(master, sh.vpcHost)
	if err := sh.vpcHost.Ping(c.ctx, hz.vpcHost.Addr, 3); err != nil {
		t.Fatalf("VPC in shanghai -> VPC in hangzhou: %v", err)
	}

	// The slave's node is lost (its process and charons killed, its namespaces gone, as a
	// machine loss leaves it): with no other node in its zone the slave runs with its
	// router, as a local cell; the master carries traffic meanwhile, and the slave takes
	// over again when the master's path dies.
	lost := c.nodes[where[1]]
	c.stopNode(lost, syscall.SIGKILL)
	if out, err := exec.CommandContext(c.ctx, c.bin, "gateway", "cleanup", "--dataplane-prefix", lost.prefix, "--dataplane-run-dir", lost.runDir).CombinedOutput(); err != nil {
		t.Fatalf("remove the lost node's data plane: %v\n%s", err, out)
	}
	if err := master.Ping(c.ctx, hz.vpcHost.Addr, 3); err != nil {
		t.Fatalf("data center -> VPC over the master, the slave's node lost: %v", err)
	}
	c.waitFor("the slave placed with its router", 40*time.Second, func() bool { return c.runsConn(d.vco+"/"+d.tunnels[1]) == home })
	if want := fmt.Sprintf("tunnel %s moved from gateway node %s to %s", d.tunnels[1], where[1], home); !strings.Contains(c.tunnelLogs(d.vco, d.tunnels[1]), want) {
		t.Errorf("the slave's log lacks %q", want)
	}
	c.waitTunnels(d)
	if _, err := c.failMaster(hz, d, hz.vpcHost.Addr); err != nil {
		t.Fatalf("the slave on its router's node: %v", err)
	}
	c.restoreMaster(hz, d)

	// The slave's node comes back (a new process on the same machine): once it has been
	// alive a while, the slave returns to its zone.
	c.startNode(lost.name, lost.zone, lost.extra...)
	c.waitFor("the slave back on its zone's node", 90*time.Second, func() bool { return c.runsConn(d.vco+"/"+d.tunnels[1]) == where[1] })
	c.waitTunnels(d)
	// The router's node is lost, and the master with it: the router and the master move to
	// the slave's node, where the slave's cell becomes its router's own (its VXLAN link
	// replaced by a veth pair); traffic comes back with no API call, to both regions.
	gone := c.nodes[home]
	died := time.Now()
	c.stopNode(gone, syscall.SIGKILL)
	if out, err := exec.CommandContext(c.ctx, c.bin, "gateway", "cleanup", "--dataplane-prefix", gone.prefix, "--dataplane-run-dir", gone.runDir).CombinedOutput(); err != nil {
		t.Fatalf("remove the lost node's data plane: %v\n%s", err, out)
	}
	other := where[0]
	if other == home {
		other = where[1]
	}
	c.waitFor("router and tunnels on "+other, 60*time.Second, func() bool {
		return c.runs(hz.tr) == other && c.runsConn(d.vco+"/"+d.tunnels[0]) == other && c.runsConn(d.vco+"/"+d.tunnels[1]) == other
	})
	c.waitTunnels(d)
	c.pingBothWays(master, hz.vpcHost)
	t.Logf("router's node %s lost: traffic back through %s after %v", home, other, time.Since(died).Round(100*time.Millisecond))
	c.pingBothWays(master, sh.vpcHost)
}

// tunnelLogs is a tunnel's DescribeVpnConnectionLogs.
func (w *world) tunnelLogs(vco, tun string) string {
	logs := w.vpc("DescribeVpnConnectionLogs", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": vco, "TunnelId": tun, "MinutePeriod": "10", "PageSize": "50"})
	return strings.Join(toStrings(logs["Data"].(map[string]any)["Logs"]), "\n")
}
