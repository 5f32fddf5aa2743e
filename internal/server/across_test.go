package server

import (
	"context"
	"strings"
	"testing"
)

// TestRoutingAcrossRegions: a data center attached in cn-hangzhou and a VPC attached in
// cn-shanghai learn each other over an inter-region connection associated with and
// propagating into both System tables; a RegionOut Deny on hangzhou's table toward the
// connection cuts exactly its prefix; deleting the connection withdraws the routes on
// both sides.
func TestRoutingAcrossRegions(t *testing.T) {
	l := newRoutingLab(t)
	l.vpn("dc1", "192.168.10.0/24")
	l.link("Associate", l.vpnAtt["dc1"], l.system)
	l.link("Propagate", l.vpnAtt["dc1"], l.system)

	c := l.c
	sh := call(t, c, "CreateTransitRouter", map[string]string{"CenId": l.cen, "RegionId": "cn-shanghai"})["TransitRouterId"].(string)
	waitFor(t, "TR Active", func() bool { return trStatus(t, c, sh) == "Active" })
	shSystem := call(t, c, "ListTransitRouterRouteTables", map[string]string{"TransitRouterId": sh})["TransitRouterRouteTables"].([]any)[0].(map[string]any)["TransitRouterRouteTableId"].(string)
	vpc := vpcCall(t, c, "CreateVpc", map[string]string{"RegionId": "cn-shanghai", "CidrBlock": "10.2.0.0/16"})["VpcId"].(string)
	waitFor(t, "VPC Available", func() bool {
		return path(vpcCall(t, c, "DescribeVpcs", map[string]string{"RegionId": "cn-shanghai", "VpcId": vpc}), "Vpcs", "Vpc").([]any)[0].(map[string]any)["Status"] == "Available"
	})
	sw := vpcCall(t, c, "CreateVSwitch", map[string]string{"RegionId": "cn-shanghai", "VpcId": vpc, "ZoneId": "cn-shanghai-e", "CidrBlock": "10.2.0.0/16"})["VSwitchId"].(string)
	waitFor(t, "vSwitch Available", func() bool {
		return path(vpcCall(t, c, "DescribeVSwitches", map[string]string{"RegionId": "cn-shanghai", "VSwitchId": sw}), "VSwitches", "VSwitch").([]any)[0].(map[string]any)["Status"] == "Available"
	})
	shVpc := call(t, c, "CreateTransitRouterVpcAttachment", map[string]string{"RegionId": "cn-shanghai", "TransitRouterId": sh, "VpcId": vpc,
		"ZoneMappings.1.VSwitchId": sw, "ZoneMappings.1.ZoneId": "cn-shanghai-e", "RouteTableAssociationEnabled": "true", "RouteTablePropagationEnabled": "true"})["TransitRouterAttachmentId"].(string)
	l.hops[shVpc] = "vpc-sh"

	peer := call(t, c, "CreateTransitRouterPeerAttachment", map[string]string{"RegionId": "cn-hangzhou", "TransitRouterId": l.tr,
		"PeerTransitRouterId": sh, "PeerTransitRouterRegionId": "cn-shanghai", "BandwidthType": "DataTransfer", "Bandwidth": "50",
		"RouteTableAssociationEnabled": "true", "RouteTablePropagationEnabled": "true"})["TransitRouterAttachmentId"].(string)
	l.hops[peer] = "peer"
	hz := []string{"10.0.0.0/16 vpc Active", "10.0.1.0/24 vpc Active", "192.168.10.0/24 dc1 Active"}
	waitFor(t, "routes across regions", func() bool { return len(l.routes(shSystem)) == 4 })
	l.wantRoutes(shSystem, "10.2.0.0/16 vpc-sh Active", "10.0.0.0/16 peer Active", "10.0.1.0/24 peer Active", "192.168.10.0/24 peer Active")
	l.wantRoutes(l.system, append(hz, "10.2.0.0/16 peer Active")...)
	// Route synchronization tells the data center about the other region's VPC.
	l.wantAdvertised("dc1", "10.0.0.0/16", "10.0.1.0/24", "10.2.0.0/16")

	// The route from hangzhou carries its origin: the connection in hangzhou, over there.
	items := call(t, c, "ListTransitRouterRouteEntries", map[string]string{"TransitRouterRouteTableId": shSystem,
		"TransitRouterRouteEntryDestinationCidrBlock": "192.168.10.0/24"})["TransitRouterRouteEntries"].([]any)
	if len(items) != 1 {
		t.Fatalf("entries for 192.168.10.0/24 in shanghai: %v", items)
	}
	if e := items[0].(map[string]any); e["TransitRouterRouteEntryNextHopType"] != "Attachment" || e["TransitRouterRouteEntryNextHopResourceType"] != "TR" ||
		e["TransitRouterRouteEntryNextHopResourceId"] != l.tr || e["TransitRouterRouteEntryOriginResourceId"] != l.vco["dc1"] ||
		e["TransitRouterRouteEntryOriginResourceType"] != "VPN" {
		t.Errorf("the route from hangzhou = %v", e)
	}

	// opencen tr explain follows the data center's prefix from shanghai over the
	// connection into hangzhou's table, where it ends at the VPN attachment.
	var x struct {
		Text        string
		Explanation struct {
			Forwarding struct{ NextHops []string }
			Across     []struct {
				AttachmentID, TransitRouterID, Region string
				Explanation                           struct {
					TableID    string
					Forwarding struct{ NextHops []string }
				}
			}
		}
	}
	if err := c.Call(context.Background(), "2026-11-01", "ExplainRoute", map[string]string{"TransitRouterId": sh, "Prefix": "192.168.10.0/24"}, &x); err != nil {
		t.Fatal(err)
	}
	ex := x.Explanation
	if len(ex.Across) != 1 || ex.Across[0].AttachmentID != peer || ex.Across[0].TransitRouterID != l.tr || ex.Across[0].Region != "cn-hangzhou" ||
		ex.Across[0].Explanation.TableID != l.system || len(ex.Across[0].Explanation.Forwarding.NextHops) != 1 ||
		ex.Across[0].Explanation.Forwarding.NextHops[0] != l.vpnAtt["dc1"] {
		t.Fatalf("explain across regions:\n%s\n%+v", x.Text, ex)
	}
	if !strings.Contains(x.Text, "across inter-region connection "+peer+" to "+l.tr+" (cn-hangzhou):") || !strings.Contains(x.Text, "from cn-hangzhou") {
		t.Errorf("explain text:\n%s", x.Text)
	}

	// RegionOut Deny on hangzhou's System table toward the connection, for the data
	// center's prefix only.
	deny := l.routeMap(map[string]string{"TransmitDirection": "RegionOut", "Priority": "20", "MapResult": "Deny",
		"TransitRouterRouteTableId": l.system, "DestinationInstanceIds.1": sh, "DestinationCidrBlocks.1": "192.168.10.0/24"})
	l.wantRoutes(shSystem, "10.2.0.0/16 vpc-sh Active", "10.0.0.0/16 peer Active", "10.0.1.0/24 peer Active")
	call(t, c, "DeleteCenRouteMap", map[string]string{"CenId": l.cen, "CenRegionId": "cn-hangzhou", "RouteMapId": deny})
	waitFor(t, "policy gone", func() bool { return len(l.routes(shSystem)) == 4 })

	// Deleting the connection withdraws the routes on both sides.
	call(t, c, "DeleteTransitRouterPeerAttachment", map[string]string{"TransitRouterAttachmentId": peer, "Force": "true"})
	waitFor(t, "connection gone", func() bool {
		return len(call(t, c, "ListTransitRouterPeerAttachments", map[string]string{"TransitRouterAttachmentId": peer})["TransitRouterAttachments"].([]any)) == 0
	})
	l.wantRoutes(shSystem, "10.2.0.0/16 vpc-sh Active")
	l.wantRoutes(l.system, hz...)
}
