package e2e

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"opencen/internal/dataplane"
	"opencen/internal/model"
	"opencen/internal/service"
)

// regionRouter is a transit router in another region of r's CEN with a VPC host attached,
// associated and propagating (the creation flags Terraform sends).
func (w *world) regionRouter(r router, region, zone, vpcCidr string) router {
	o := router{cen: r.cen}
	o.tr = w.cbn("CreateTransitRouter", map[string]string{"CenId": r.cen, "RegionId": region})["TransitRouterId"].(string)
	w.waitFor("TR in "+region, 10*time.Second, func() bool {
		return first(w.cbn("ListTransitRouters", map[string]string{"TransitRouterId": o.tr}), "TransitRouters")["Status"] == "Active"
	})
	o.system = first(w.cbn("ListTransitRouterRouteTables", map[string]string{"TransitRouterId": o.tr}), "TransitRouterRouteTables")["TransitRouterRouteTableId"].(string)
	vpc := w.vpc("CreateVpc", map[string]string{"RegionId": region, "CidrBlock": vpcCidr})["VpcId"].(string)
	w.waitFor("VPC", 10*time.Second, func() bool {
		return first(w.vpc("DescribeVpcs", map[string]string{"RegionId": region, "VpcId": vpc}), "Vpcs", "Vpc")["Status"] == "Available"
	})
	sw := w.vpc("CreateVSwitch", map[string]string{"RegionId": region, "VpcId": vpc, "ZoneId": zone, "CidrBlock": vpcCidr})["VSwitchId"].(string)
	w.waitFor("vSwitch", 10*time.Second, func() bool {
		return first(w.vpc("DescribeVSwitches", map[string]string{"RegionId": region, "VSwitchId": sw}), "VSwitches", "VSwitch")["Status"] == "Available"
	})
	host, err := w.lab.AddVPCHost(w.ctx, vpc, netip.MustParsePrefix(vpcCidr))
	if err != nil {
		w.t.Fatal(err)
	}
	o.vpcHost = host
	// Bound to the host's bridge, as an operator binds a segment (opencen admin vpc bind).
	if err := w.admin.Call(w.ctx, "2026-11-01", "BindVpc", host.BindParams(vpc), nil); err != nil {
		w.t.Fatal(err)
	}
	att := w.cbn("CreateTransitRouterVpcAttachment", map[string]string{"RegionId": region, "TransitRouterId": o.tr, "VpcId": vpc,
		"ZoneMappings.1.VSwitchId": sw, "ZoneMappings.1.ZoneId": zone,
		"RouteTableAssociationEnabled": "true", "RouteTablePropagationEnabled": "true"})["TransitRouterAttachmentId"].(string)
	w.waitFor("VPC attached", 10*time.Second, func() bool {
		return first(w.cbn("ListTransitRouterVpcAttachments", map[string]string{"TransitRouterAttachmentId": att}), "TransitRouterAttachments")["Status"] == "Attached"
	})
	return o
}

// nextHops lists a table's Active destinations whose next hop is att.
func (w *world) nextHops(table, att string) []string {
	items := w.cbn("ListTransitRouterRouteEntries", map[string]string{"TransitRouterRouteTableId": table, "MaxResults": "100"})["TransitRouterRouteEntries"].([]any)
	var out []string
	for _, it := range items {
		m := it.(map[string]any)
		if m["TransitRouterRouteEntryNextHopId"] == att {
			out = append(out, m["TransitRouterRouteEntryDestinationCidrBlock"].(string))
		}
	}
	slices.Sort(out)
	return out
}

// waitRate waits until both ends of the connection's link, one in each router namespace,
// limit what they send to kbit (tc, as the driver renders it).
func (w *world) waitRate(att string, kbit int) {
	w.t.Helper()
	drv := w.in.Gateway.Driver.(*dataplane.Netns)
	want := fmt.Sprintf("rate %dkbit", kbit)
	var text string
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var err error
		if text, err = drv.Render(w.ctx); err != nil {
			w.t.Fatal(err)
		}
		n := 0
		for l := range strings.Lines(text) {
			if strings.HasPrefix(l, "  link "+att+" veth ") && strings.Contains(l, want) {
				n++
			}
		}
		if n == 2 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	w.t.Fatalf("the link of %s does not have %s at both ends:\n%s", att, want, text)
}

// pingFails checks that from can no longer reach dst (after the gateway's next sync).
func (w *world) pingFails(what string, ping func(count int) error) {
	w.t.Helper()
	w.waitFor(what+" cut", 20*time.Second, func() bool { return ping(1) != nil })
	if err := ping(3); err == nil {
		w.t.Fatalf("%s: still reachable", what)
	}
}

// TestAcrossRegions: a stock strongSwan data center attached in cn-hangzhou pings a VPC
// host attached in cn-shanghai and back, over an inter-region connection between the
// two transit routers (a veth pair with a 50 Mbit/s token bucket each way); a RegionOut
// Deny on the connection cuts exactly the data center's prefix; deleting the connection
// withdraws the routes on both sides and the regions no longer reach each other.
func TestAcrossRegions(t *testing.T) {
	w := newWorld(t)
	hz := w.router("10.10.0.0/16")
	c := w.connect(hz, "dc1", "198.18.0.2", "192.168.10.0/24", nil)
	sh := w.regionRouter(hz, "cn-shanghai", "cn-shanghai-e", "10.20.0.0/16")
	if err := c.dc.RouteToTunnel(w.ctx, sh.vpcHost.CIDR); err != nil {
		t.Fatal(err)
	}
	peer := w.cbn("CreateTransitRouterPeerAttachment", map[string]string{"RegionId": "cn-hangzhou", "TransitRouterId": hz.tr,
		"PeerTransitRouterId": sh.tr, "PeerTransitRouterRegionId": "cn-shanghai", "BandwidthType": "DataTransfer", "Bandwidth": "50",
		"RouteTableAssociationEnabled": "true", "RouteTablePropagationEnabled": "true"})["TransitRouterAttachmentId"].(string)
	w.waitFor("peer attached", 10*time.Second, func() bool {
		return first(w.cbn("ListTransitRouterPeerAttachments", map[string]string{"TransitRouterAttachmentId": peer}), "TransitRouterAttachments")["Status"] == "Attached"
	})
	w.waitFor("routes across regions", 10*time.Second, func() bool {
		return slices.Equal(w.nextHops(sh.system, peer), []string{"10.10.0.0/16", "192.168.10.0/24"}) &&
			slices.Equal(w.nextHops(hz.system, peer), []string{"10.20.0.0/16"})
	})
	// The link between the two router namespaces carries the connection's bandwidth at
	// each end, and follows an update of it.
	w.waitRate(peer, 50000)
	w.cbn("UpdateTransitRouterPeerAttachmentAttribute", map[string]string{"TransitRouterAttachmentId": peer, "Bandwidth": "20"})
	w.waitRate(peer, 20000)
	w.waitEstablished(c.vco)
	w.waitAgreed(c)
	w.pingBothWays(c.dc, sh.vpcHost)
	w.pingBothWays(c.dc, hz.vpcHost)
	if err := sh.vpcHost.Ping(w.ctx, hz.vpcHost.Addr, 3); err != nil {
		t.Fatalf("VPC in shanghai -> VPC in hangzhou: %v", err)
	}
	// What crossed the link is metered and, billed by data transfer, is the connection's
	// Inter-region data transfer.
	w.waitFor("inter-region data transfer metered", 40*time.Second, func() bool {
		recs, err := w.in.Service.Usage(w.ctx, service.Caller{Admin: true}, "", time.Now().Add(-2*time.Hour), time.Now().Add(time.Hour))
		if err != nil {
			return false
		}
		for _, u := range recs {
			if u.Instance != peer {
				continue
			}
			for _, it := range u.Items() {
				if it.Code == model.ItemInterRegionTransfer && u.OutBytes > 0 {
					return true
				}
			}
		}
		return false
	})

	// RegionOut Deny on hangzhou's System table toward the connection, for the data
	// center's prefix: shanghai loses exactly that route; the VPCs still reach each other.
	deny := w.cbn("CreateCenRouteMap", map[string]string{"CenId": hz.cen, "CenRegionId": "cn-hangzhou", "TransitRouterRouteTableId": hz.system,
		"TransmitDirection": "RegionOut", "Priority": "20", "MapResult": "Deny",
		"DestinationInstanceIds.1": sh.tr, "DestinationCidrBlocks.1": "192.168.10.0/24"})["RouteMapId"].(string)
	w.waitFor("deny applied", 10*time.Second, func() bool {
		return slices.Equal(w.nextHops(sh.system, peer), []string{"10.10.0.0/16"})
	})
	w.pingFails("data center -> VPC in shanghai", func(n int) error { return c.dc.Ping(w.ctx, sh.vpcHost.Addr, n) })
	if err := sh.vpcHost.Ping(w.ctx, hz.vpcHost.Addr, 3); err != nil {
		t.Fatalf("with the deny, VPC in shanghai -> VPC in hangzhou: %v", err)
	}
	if err := c.dc.Ping(w.ctx, hz.vpcHost.Addr, 3); err != nil {
		t.Fatalf("with the deny, data center -> VPC in hangzhou: %v", err)
	}
	w.cbn("DeleteCenRouteMap", map[string]string{"CenId": hz.cen, "CenRegionId": "cn-hangzhou", "RouteMapId": deny})
	w.waitFor("deny gone", 10*time.Second, func() bool { return len(w.nextHops(sh.system, peer)) == 2 })
	w.pingBothWays(c.dc, sh.vpcHost)

	// Deleting the connection withdraws the routes on both sides.
	w.cbn("DeleteTransitRouterPeerAttachment", map[string]string{"TransitRouterAttachmentId": peer, "Force": "true"})
	w.waitFor("peer gone", 10*time.Second, func() bool {
		return len(w.cbn("ListTransitRouterPeerAttachments", map[string]string{"TransitRouterAttachmentId": peer})["TransitRouterAttachments"].([]any)) == 0
	})
	if got := w.nextHops(sh.system, peer); len(got) != 0 {
		t.Errorf("shanghai still routes %v over the deleted connection", got)
	}
	if got := w.nextHops(hz.system, peer); len(got) != 0 {
		t.Errorf("hangzhou still routes %v over the deleted connection", got)
	}
	w.pingFails("VPC in shanghai -> VPC in hangzhou", func(n int) error { return sh.vpcHost.Ping(w.ctx, hz.vpcHost.Addr, n) })
	w.pingFails("data center -> VPC in shanghai", func(n int) error { return c.dc.Ping(w.ctx, sh.vpcHost.Addr, n) })
}
