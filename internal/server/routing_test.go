package server

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"opencen/internal/rpc"
	"opencen/internal/service"
	"opencen/internal/store"
)

// routingLab is a transit router with a VPC and VPN connections attached, for scenarios.
type routingLab struct {
	t        *testing.T
	e        *env
	c        *rpc.Client
	cen, tr  string
	system   string
	vpcAtt   string
	vpnAtt   map[string]string // name -> attachment
	vco      map[string]string // name -> connection
	cgwCount int
	// hops names other next hops in routes (inter-region connections, other VPCs).
	hops map[string]string
}

func newRoutingLab(t *testing.T) *routingLab {
	e := newEnv(t)
	c := e.account("alice")
	l := &routingLab{t: t, e: e, c: c, vpnAtt: map[string]string{}, vco: map[string]string{}, hops: map[string]string{}}
	l.cen = activeCen(t, c)
	l.tr = activeTR(t, c, l.cen)
	tables := call(t, c, "ListTransitRouterRouteTables", map[string]string{"TransitRouterId": l.tr})["TransitRouterRouteTables"].([]any)
	l.system = tables[0].(map[string]any)["TransitRouterRouteTableId"].(string)
	waitFor(t, "system table Active", func() bool {
		return call(t, c, "ListTransitRouterRouteTables", map[string]string{"TransitRouterId": l.tr})["TransitRouterRouteTables"].([]any)[0].(map[string]any)["TransitRouterRouteTableStatus"] == "Active"
	})
	vpc := vpcCall(t, c, "CreateVpc", map[string]string{"RegionId": "cn-hangzhou", "CidrBlock": "10.0.0.0/16"})["VpcId"].(string)
	waitFor(t, "VPC Available", func() bool {
		return path(vpcCall(t, c, "DescribeVpcs", map[string]string{"RegionId": "cn-hangzhou", "VpcId": vpc}), "Vpcs", "Vpc").([]any)[0].(map[string]any)["Status"] == "Available"
	})
	sw := vpcCall(t, c, "CreateVSwitch", map[string]string{"RegionId": "cn-hangzhou", "VpcId": vpc, "ZoneId": "cn-hangzhou-h", "CidrBlock": "10.0.1.0/24"})["VSwitchId"].(string)
	waitFor(t, "vSwitch Available", func() bool {
		return path(vpcCall(t, c, "DescribeVSwitches", map[string]string{"RegionId": "cn-hangzhou", "VSwitchId": sw}), "VSwitches", "VSwitch").([]any)[0].(map[string]any)["Status"] == "Available"
	})
	l.vpcAtt = call(t, c, "CreateTransitRouterVpcAttachment", map[string]string{"RegionId": "cn-hangzhou", "TransitRouterId": l.tr, "VpcId": vpc,
		"ZoneMappings.1.VSwitchId": sw, "ZoneMappings.1.ZoneId": "cn-hangzhou-h"})["TransitRouterAttachmentId"].(string)
	waitFor(t, "VPC attached", func() bool {
		return call(t, c, "ListTransitRouterVpcAttachments", map[string]string{"TransitRouterAttachmentId": l.vpcAtt})["TransitRouterAttachments"].([]any)[0].(map[string]any)["Status"] == "Attached"
	})
	l.link("Associate", l.vpcAtt, l.system)
	l.link("Propagate", l.vpcAtt, l.system)
	return l
}

// vpn adds an attached connection offering routes (flow protection peer CIDRs).
func (l *routingLab) vpn(name, peerCidrs string) string {
	l.cgwCount++
	cgw := vpcCall(l.t, l.c, "CreateCustomerGateway", map[string]string{"RegionId": "cn-hangzhou", "IpAddress": fmt.Sprintf("198.18.0.%d", 10+l.cgwCount), "Asn": "65010"})["CustomerGatewayId"].(string)
	p := map[string]string{"RegionId": "cn-hangzhou", "CustomerGatewayId": cgw}
	if peerCidrs != "" {
		p["LocalSubnet"], p["RemoteSubnet"] = "10.0.0.0/16", peerCidrs
	}
	vco := vpcCall(l.t, l.c, "CreateVpnAttachment", p)["VpnConnectionId"].(string)
	att := call(l.t, l.c, "CreateTransitRouterVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "TransitRouterId": l.tr, "VpnId": vco})["TransitRouterAttachmentId"].(string)
	waitFor(l.t, "VPN attached", func() bool { return attachmentStatus(l.t, l.c, att) == "Attached" })
	l.vpnAtt[name], l.vco[name] = att, vco
	return att
}

// link associates or propagates and waits until Active.
func (l *routingLab) link(op, att, table string) {
	action, list, listKey := "AssociateTransitRouterAttachmentWithRouteTable", "ListTransitRouterRouteTableAssociations", "TransitRouterAssociations"
	if op == "Propagate" {
		action, list, listKey = "EnableTransitRouterRouteTablePropagation", "ListTransitRouterRouteTablePropagations", "TransitRouterPropagations"
	}
	if op == "Replace" {
		action = "ReplaceTransitRouterRouteTableAssociation"
	}
	call(l.t, l.c, action, map[string]string{"TransitRouterAttachmentId": att, "TransitRouterRouteTableId": table})
	waitFor(l.t, op+" Active", func() bool {
		items := call(l.t, l.c, list, map[string]string{"TransitRouterRouteTableId": table, "TransitRouterAttachmentId": att})[listKey].([]any)
		return len(items) == 1 && items[0].(map[string]any)["Status"] == "Active"
	})
}

// routes renders a table's entries (all statuses) as sorted "prefix next-hop status" lines.
func (l *routingLab) routes(table string) []string {
	items := call(l.t, l.c, "ListTransitRouterRouteEntries", map[string]string{"TransitRouterRouteTableId": table, "TransitRouterRouteEntryStatus": "All", "MaxResults": "100"})["TransitRouterRouteEntries"].([]any)
	names := map[string]string{l.vpcAtt: "vpc"}
	for a, n := range l.hops {
		names[a] = n
	}
	for n, a := range l.vpnAtt {
		names[a] = n
	}
	var out []string
	for _, it := range items {
		m := it.(map[string]any)
		hop := names[str(m["TransitRouterRouteEntryNextHopId"])]
		if m["TransitRouterRouteEntryNextHopType"] == "BlackHole" {
			hop = "blackhole"
		}
		out = append(out, fmt.Sprintf("%s %s %s", m["TransitRouterRouteEntryDestinationCidrBlock"], hop, m["TransitRouterRouteEntryStatus"]))
	}
	sort.Strings(out)
	return out
}

func str(v any) string { s, _ := v.(string); return s }

// advertised lists what route synchronization sends to a connection.
func (l *routingLab) advertised(name string) []string {
	items := vpcCall(l.t, l.c, "DescribeVcoRouteEntries", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": l.vco[name], "RouteEntryType": "bgp"})["VcoRouteEntries"].([]any)
	var out []string
	for _, it := range items {
		m := it.(map[string]any)
		if m["Source"] == "CLOUD" {
			out = append(out, m["RouteDest"].(string))
		}
	}
	sort.Strings(out)
	return out
}

func (l *routingLab) wantRoutes(table string, want ...string) {
	l.t.Helper()
	sort.Strings(want)
	if got := l.routes(table); !slices.Equal(got, want) {
		l.t.Fatalf("table %s:\n got %q\nwant %q", table, got, want)
	}
}

func (l *routingLab) wantAdvertised(name string, want ...string) {
	l.t.Helper()
	sort.Strings(want)
	if got := l.advertised(name); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		l.t.Fatalf("advertised to %s: got %q want %q", name, got, want)
	}
}

func (l *routingLab) routeMap(p map[string]string) string {
	p["CenId"], p["CenRegionId"] = l.cen, "cn-hangzhou"
	id := call(l.t, l.c, "CreateCenRouteMap", p)["RouteMapId"].(string)
	waitFor(l.t, "route map Active", func() bool {
		maps := path(call(l.t, l.c, "DescribeCenRouteMaps", map[string]string{"CenId": l.cen, "RouteMapId": id}), "RouteMaps", "RouteMap").([]any)
		return len(maps) == 1 && maps[0].(map[string]any)["Status"] == "Active"
	})
	return id
}

func TestRoutingAssociationPropagationAndSystemPolicy(t *testing.T) {
	l := newRoutingLab(t)
	l.vpn("dc1", "192.168.10.0/24")
	l.vpn("dc2", "192.168.20.0/24")
	// Attached but neither associated nor propagating: the table has only the VPC.
	l.wantRoutes(l.system, "10.0.0.0/16 vpc Active", "10.0.1.0/24 vpc Active")
	for _, dc := range []string{"dc1", "dc2"} {
		l.link("Associate", l.vpnAtt[dc], l.system)
		l.link("Propagate", l.vpnAtt[dc], l.system)
	}
	l.wantRoutes(l.system, "10.0.0.0/16 vpc Active", "10.0.1.0/24 vpc Active", "192.168.10.0/24 dc1 Active", "192.168.20.0/24 dc2 Active")
	// The system policy keeps the data centers apart; both learn the VPC.
	l.wantAdvertised("dc1", "10.0.0.0/16", "10.0.1.0/24")
	l.wantAdvertised("dc2", "10.0.0.0/16", "10.0.1.0/24")
	// A custom Permit at priority 10 joins them.
	permit := l.routeMap(map[string]string{"TransmitDirection": "RegionOut", "Priority": "10", "MapResult": "Permit",
		"SourceChildInstanceTypes.1": "VPN", "DestinationChildInstanceTypes.1": "VPN"})
	l.wantAdvertised("dc1", "10.0.0.0/16", "10.0.1.0/24", "192.168.20.0/24")
	l.wantAdvertised("dc2", "10.0.0.0/16", "10.0.1.0/24", "192.168.10.0/24")
	call(t, l.c, "DeleteCenRouteMap", map[string]string{"CenId": l.cen, "CenRegionId": "cn-hangzhou", "RouteMapId": permit})
	waitFor(t, "policy gone", func() bool { return len(l.advertised("dc1")) == 2 })

	// Route synchronization off: nothing advertised.
	call(t, l.c, "UpdateTransitRouterVpnAttachmentAttribute", map[string]string{"TransitRouterAttachmentId": l.vpnAtt["dc1"], "AutoPublishRouteEnabled": "false"})
	l.wantAdvertised("dc1")

	// Changing dc2's associated table: the advertised set follows the new table.
	custom := call(t, l.c, "CreateTransitRouterRouteTable", map[string]string{"TransitRouterId": l.tr, "TransitRouterRouteTableName": "dc-only"})["TransitRouterRouteTableId"].(string)
	waitFor(t, "custom table", func() bool {
		return call(t, l.c, "ListTransitRouterRouteTables", map[string]string{"TransitRouterId": l.tr, "TransitRouterRouteTableIds.1": custom})["TransitRouterRouteTables"].([]any)[0].(map[string]any)["TransitRouterRouteTableStatus"] == "Active"
	})
	// The new table got the system policy too (the TR has VPN attachments).
	if maps := path(call(t, l.c, "DescribeCenRouteMaps", map[string]string{"CenId": l.cen, "TransitRouterRouteTableId": custom}), "RouteMaps", "RouteMap").([]any); len(maps) != 1 {
		t.Fatalf("custom table policies: %v", maps)
	}
	call(t, l.c, "CreateTransitRouterRouteEntry", map[string]string{"TransitRouterRouteTableId": custom, "TransitRouterRouteEntryDestinationCidrBlock": "172.16.0.0/12",
		"TransitRouterRouteEntryNextHopType": "Attachment", "TransitRouterRouteEntryNextHopId": l.vpcAtt})
	waitFor(t, "static Active", func() bool { return len(l.routes(custom)) == 1 && strings.HasSuffix(l.routes(custom)[0], "Active") })
	l.link("Replace", l.vpnAtt["dc2"], custom)
	l.wantAdvertised("dc2", "172.16.0.0/12")
}

// TestAttachmentSystemLinks: RouteTableAssociationEnabled and RouteTablePropagationEnabled
// at creation associate and propagate the attachment with the System table once it is
// Attached, also across a restart in between; a malformed value changes nothing.
func TestAttachmentSystemLinks(t *testing.T) {
	l := newRoutingLab(t)
	cgw := vpcCall(t, l.c, "CreateCustomerGateway", map[string]string{"RegionId": "cn-hangzhou", "IpAddress": "198.18.0.30", "Asn": "65010"})["CustomerGatewayId"].(string)
	vco := vpcCall(t, l.c, "CreateVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "CustomerGatewayId": cgw,
		"LocalSubnet": "10.0.0.0/16", "RemoteSubnet": "192.168.30.0/24"})["VpnConnectionId"].(string)
	attach := map[string]string{"RegionId": "cn-hangzhou", "TransitRouterId": l.tr, "VpnId": vco,
		"RouteTableAssociationEnabled": "yes", "RouteTablePropagationEnabled": "true"}
	if e := cbnErr(t, l.c, "CreateTransitRouterVpnAttachment", attach); e.Code != "InvalidRouteTableAssociationEnabled" || !strings.Contains(e.Message, "true or false") {
		t.Fatalf("RouteTableAssociationEnabled=yes: %+v", e)
	}
	if atts := call(t, l.c, "ListTransitRouterVpnAttachments", map[string]string{"TransitRouterId": l.tr})["TransitRouterAttachments"].([]any); len(atts) != 0 {
		t.Fatalf("a refused creation left attachments: %v", atts)
	}
	attach["RouteTableAssociationEnabled"] = "true"
	att := call(t, l.c, "CreateTransitRouterVpnAttachment", attach)["TransitRouterAttachmentId"].(string)
	l.e.restart() // while Attaching: the links are part of the attachment's own record
	waitFor(t, "association and propagation Active", func() bool {
		for _, op := range []struct{ list, key string }{
			{"ListTransitRouterRouteTableAssociations", "TransitRouterAssociations"},
			{"ListTransitRouterRouteTablePropagations", "TransitRouterPropagations"},
		} {
			items := call(t, l.c, op.list, map[string]string{"TransitRouterRouteTableId": l.system, "TransitRouterAttachmentId": att})[op.key].([]any)
			if len(items) != 1 || items[0].(map[string]any)["Status"] != "Active" {
				return false
			}
		}
		return true
	})
	l.vpnAtt["dc"], l.vco["dc"] = att, vco
	l.wantRoutes(l.system, "10.0.0.0/16 vpc Active", "10.0.1.0/24 vpc Active", "192.168.30.0/24 dc Active")
	l.wantAdvertised("dc", "10.0.0.0/16", "10.0.1.0/24")
}

func TestRoutingStaticBlackholeEcmpAndPolicies(t *testing.T) {
	l := newRoutingLab(t)
	for _, dc := range []string{"dc1", "dc2", "dc3"} {
		l.vpn(dc, "192.168.50.0/24")
		l.link("Propagate", l.vpnAtt[dc], l.system)
	}
	// Three equal VPN routes: ECMP.
	l.wantRoutes(l.system, "10.0.0.0/16 vpc Active", "10.0.1.0/24 vpc Active",
		"192.168.50.0/24 dc1 Active", "192.168.50.0/24 dc2 Active", "192.168.50.0/24 dc3 Active")
	// The ECMP quota cuts the group: the rest is Standby.
	var acct struct{ AccountId string }
	l.c.Call(context.Background(), "2026-11-01", "DescribeAccount", nil, &acct)
	if err := l.e.admin.Call(context.Background(), "2026-11-01", "SetQuota", map[string]string{"AccountId": acct.AccountId, "QuotaName": "ecmp-vpn-connections", "Value": "2"}, nil); err != nil {
		t.Fatal(err)
	}
	got := l.routes(l.system)
	if n := countSuffix(got, "192.168.50.0/24", "Active"); n != 2 || countSuffix(got, "192.168.50.0/24", "Standby") != 1 {
		t.Fatalf("ECMP with a quota of 2: %q", got)
	}
	// Static beats propagated; a blackhole entry is Active with no next hop.
	call(t, l.c, "CreateTransitRouterRouteEntry", map[string]string{"TransitRouterRouteTableId": l.system, "TransitRouterRouteEntryDestinationCidrBlock": "192.168.50.0/24",
		"TransitRouterRouteEntryNextHopType": "Attachment", "TransitRouterRouteEntryNextHopId": l.vpnAtt["dc3"]})
	bh := call(t, l.c, "CreateTransitRouterRouteEntry", map[string]string{"TransitRouterRouteTableId": l.system, "TransitRouterRouteEntryDestinationCidrBlock": "10.99.0.0/16",
		"TransitRouterRouteEntryNextHopType": "BlackHole"})["TransitRouterRouteEntryId"].(string)
	waitFor(t, "statics Active", func() bool {
		r := l.routes(l.system)
		return slices.Contains(r, "10.99.0.0/16 blackhole Active") && slices.Contains(r, "192.168.50.0/24 dc3 Active") && countSuffix(r, "192.168.50.0/24", "Candidate") == 3
	})
	// A RegionIn Deny by prefix rejects the VPC's /24 (Complete match) but not its /16.
	l.routeMap(map[string]string{"TransmitDirection": "RegionIn", "Priority": "20", "MapResult": "Deny",
		"DestinationCidrBlocks.1": "10.0.1.0/24", "CidrMatchMode": "Complete"})
	r := l.routes(l.system)
	if !slices.Contains(r, "10.0.1.0/24 vpc Rejected") || !slices.Contains(r, "10.0.0.0/16 vpc Active") {
		t.Fatalf("RegionIn deny: %q", r)
	}
	// Filters: by entry ID, by RouteFilter.
	byID := call(t, l.c, "ListTransitRouterRouteEntries", map[string]string{"TransitRouterRouteTableId": l.system, "TransitRouterRouteEntryIds.1": bh})["TransitRouterRouteEntries"].([]any)
	if len(byID) != 1 || byID[0].(map[string]any)["TransitRouterRouteEntryType"] != "Static" {
		t.Fatalf("by ID: %v", byID)
	}
	lpm := call(t, l.c, "ListTransitRouterRouteEntries", map[string]string{"TransitRouterRouteTableId": l.system, "RouteFilter.1.Key": "LongestPrefixMatchCidrs", "RouteFilter.1.Value.1": "10.0.1.7/32"})["TransitRouterRouteEntries"].([]any)
	if len(lpm) != 1 || lpm[0].(map[string]any)["TransitRouterRouteEntryDestinationCidrBlock"] != "10.0.0.0/16" {
		t.Fatalf("longest prefix match among Active entries: %v", lpm)
	}
	// Deleting the static entry by destination and next hop brings ECMP back.
	call(t, l.c, "DeleteTransitRouterRouteEntry", map[string]string{"TransitRouterRouteTableId": l.system, "TransitRouterRouteEntryDestinationCidrBlock": "192.168.50.0/24",
		"TransitRouterRouteEntryNextHopType": "Attachment", "TransitRouterRouteEntryNextHopId": l.vpnAtt["dc3"]})
	waitFor(t, "static gone", func() bool { return countSuffix(l.routes(l.system), "192.168.50.0/24", "Active") == 2 })
}

func countSuffix(lines []string, prefix, status string) int {
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, prefix+" ") && strings.HasSuffix(l, " "+status) {
			n++
		}
	}
	return n
}

// TestRoutingBGPPathSelection feeds BGP-learned routes through the data plane's input
// (the store key a gateway writes) and checks AS-path length and prepending decide.
func TestRoutingBGPPathSelection(t *testing.T) {
	l := newRoutingLab(t)
	for _, dc := range []string{"dc1", "dc2"} {
		l.vpn(dc, "")
		l.link("Propagate", l.vpnAtt[dc], l.system)
	}
	learn := func(dc string, routes []service.LearnedRoute) {
		raw, _ := json.Marshal(routes)
		if _, err := l.e.inst.Store.Txn(context.Background(), nil, []store.Op{store.Put(service.BGPRoutesKey(l.vco[dc]), raw)}); err != nil {
			t.Fatal(err)
		}
	}
	learn("dc1", []service.LearnedRoute{{Prefix: "172.20.0.0/16", AsPath: []uint32{65010}}})
	learn("dc2", []service.LearnedRoute{{Prefix: "172.20.0.0/16", AsPath: []uint32{65020, 65021}}})
	l.wantRoutes(l.system, "10.0.0.0/16 vpc Active", "10.0.1.0/24 vpc Active", "172.20.0.0/16 dc1 Active", "172.20.0.0/16 dc2 Candidate")
	// Prepending dc1's path makes dc2's shorter.
	l.routeMap(map[string]string{"TransmitDirection": "RegionIn", "Priority": "30", "MapResult": "Permit",
		"SourceInstanceIds.1": l.vco["dc1"], "PrependAsPath.1": "65010", "PrependAsPath.2": "65010"})
	l.wantRoutes(l.system, "10.0.0.0/16 vpc Active", "10.0.1.0/24 vpc Active", "172.20.0.0/16 dc1 Candidate", "172.20.0.0/16 dc2 Active")
	entries := call(t, l.c, "ListTransitRouterRouteEntries", map[string]string{"TransitRouterRouteTableId": l.system, "TransitRouterRouteEntryNextHopId": l.vpnAtt["dc1"], "TransitRouterRouteEntryStatus": "All"})["TransitRouterRouteEntries"].([]any)
	pa := entries[0].(map[string]any)["PathAttributes"].(map[string]any)
	if fmt.Sprint(pa["AsPaths"]) != "[65010 65010 65010]" || pa["OriginRouteType"] != "BGP" || pa["OriginInstanceType"] != "VPN" {
		t.Fatalf("path attributes: %v", pa)
	}
	learned := vpcCall(t, l.c, "DescribeVcoRouteEntries", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": l.vco["dc2"], "RouteEntryType": "bgp"})["VcoRouteEntries"].([]any)
	if len(learned) != 1 || learned[0].(map[string]any)["Source"] != "VPN_BGP" || learned[0].(map[string]any)["AsPath"] != "65020 65021" {
		t.Fatalf("learned routes: %v", learned)
	}
}
