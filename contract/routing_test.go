package contract

// Routing scenarios through the stock clients (ports of internal/server/routing_test.go):
// associations and propagations, the system RegionOut policy between IPsec-VPN connections
// and a custom Permit overriding it, static over propagated, blackholes, ECMP and the ECMP
// quota, a RegionIn Deny by prefix, AS-path prepending and preference deciding between two
// connections, and the advertised set following a changed association. Each scenario runs
// with the typed SDKs signing ACS3 and SignatureAlgorithm "v2" (routing_helpers_test.go).

import (
	"fmt"
	"slices"
	"testing"

	cbn "github.com/alibabacloud-go/cbn-20170912/v2/client"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	oldcbn "github.com/aliyun/alibaba-cloud-sdk-go/services/cbn"
)

const (
	vpcRoute16 = "10.0.0.0/16 vpc Propagated Active"
	vpcRoute24 = "10.0.1.0/24 vpc Propagated Active"
	pathVPC    = "OriginInstanceType=VPC OriginRouteType=System Preference=50 AsPaths=[]"
	pathVPN    = "OriginInstanceType=VPN OriginRouteType=Custom Preference=50 AsPaths=[]"
)

func TestRoutingAssociationPropagationAndSystemPolicy(t *testing.T) {
	runRouting(t, func(t *testing.T, l *routingLab) {
		l.vpn("dc1", "192.168.10.0/24")
		l.vpn("dc2", "192.168.20.0/24")

		// Attached but neither associated nor propagating: the table has only the VPC, and
		// nothing is advertised to the connections.
		l.waitRoutes("attached only", l.system, vpcRoute16, vpcRoute24)
		l.wantPath("VPC CIDR", l.system, "10.0.0.0/16", l.vpcAtt, "Active", pathVPC)
		l.wantPath("vSwitch CIDR", l.system, "10.0.1.0/24", l.vpcAtt, "Active", pathVPC)
		l.waitAdvertised("not associated", "dc1")

		for _, dc := range []string{"dc1", "dc2"} {
			l.associate(l.vpnAtt[dc], l.system)
			l.propagate(l.vpnAtt[dc], l.system)
		}
		l.waitRoutes("associated and propagating", l.system, vpcRoute16, vpcRoute24,
			"192.168.10.0/24 dc1 Propagated Active", "192.168.20.0/24 dc2 Propagated Active")
		l.wantPath("dc1 peer CIDR", l.system, "192.168.10.0/24", l.vpnAtt["dc1"], "Active", pathVPN)
		l.wantPath("dc2 peer CIDR", l.system, "192.168.20.0/24", l.vpnAtt["dc2"], "Active", pathVPN)

		// The system policy (RegionOut, priority 5000, Deny VPN -> VPN) keeps the data
		// centers apart; both learn the VPC.
		maps, err := l.describeRouteMaps("", l.system)
		mustOK(t, "DescribeCenRouteMaps(System table)", err)
		if len(maps) != 1 {
			t.Fatalf("DescribeCenRouteMaps(System table) = %+v, want the system policy only", maps)
		}
		sys := maps[0]
		if sys.Priority != 5000 || sys.TransmitDirection != "RegionOut" || sys.MapResult != "Deny" || sys.Status != "Active" ||
			sys.TransitRouterRouteTableId != l.system || sys.CenId != l.cen || sys.CenRegionId != regionHZ ||
			!slices.Contains(sys.SourceChildInstanceTypes.SourceChildInstanceType, "VPN") ||
			!slices.Contains(sys.DestinationChildInstanceTypes.DestinationChildInstanceType, "VPN") {
			t.Errorf("system policy = %+v, want Active RegionOut Deny at priority 5000 on %s, VPN -> VPN", sys, l.system)
		}
		del := oldcbn.CreateDeleteCenRouteMapRequest()
		l.oldPrep(del.RpcRequest)
		del.CenId, del.CenRegionId, del.RouteMapId = l.cen, regionHZ, sys.RouteMapId
		if _, err := l.old.DeleteCenRouteMap(del); err == nil {
			t.Errorf("DeleteCenRouteMap(system policy %s) succeeded, want an error", sys.RouteMapId)
		} else if e, ok := asAPIError(err); !ok || e.Code != "Forbidden.SystemRouteMap" {
			t.Errorf("DeleteCenRouteMap(system policy): %v, want Code Forbidden.SystemRouteMap", describeErr(err))
		}
		l.waitAdvertised("system policy", "dc1", "10.0.0.0/16", "10.0.1.0/24")
		l.waitAdvertised("system policy", "dc2", "10.0.0.0/16", "10.0.1.0/24")

		// A custom Permit at priority 10 (VPN -> VPN) joins them.
		permit := l.routeMap(func(r *oldcbn.CreateCenRouteMapRequest) {
			r.TransmitDirection, r.Priority, r.MapResult = "RegionOut", requests.NewInteger(10), "Permit"
			r.SourceChildInstanceTypes, r.DestinationChildInstanceTypes = strList("VPN"), strList("VPN")
		})
		got, err := l.describeRouteMaps(permit, "")
		mustOK(t, "DescribeCenRouteMaps(RouteMapId)", err)
		if len(got) != 1 || got[0].Priority != 10 || got[0].MapResult != "Permit" || got[0].TransmitDirection != "RegionOut" ||
			got[0].TransitRouterRouteTableId != l.system || fmt.Sprint(got[0].SourceChildInstanceTypes.SourceChildInstanceType) != "[VPN]" ||
			fmt.Sprint(got[0].DestinationChildInstanceTypes.DestinationChildInstanceType) != "[VPN]" {
			t.Errorf("DescribeCenRouteMaps(%s) = %+v, want the Permit at priority 10 on the System table, VPN -> VPN", permit, got)
		}
		l.waitAdvertised("custom Permit", "dc1", "10.0.0.0/16", "10.0.1.0/24", "192.168.20.0/24")
		l.waitAdvertised("custom Permit", "dc2", "10.0.0.0/16", "10.0.1.0/24", "192.168.10.0/24")
		l.deleteRouteMap(permit)
		l.waitAdvertised("custom Permit deleted", "dc1", "10.0.0.0/16", "10.0.1.0/24")
		l.waitAdvertised("custom Permit deleted", "dc2", "10.0.0.0/16", "10.0.1.0/24")

		// Route synchronization off: nothing advertised to dc1.
		mustOK(t, "UpdateTransitRouterVpnAttachmentAttribute", l.vc.UpdateTransitRouterVpnAttachmentAttribute(UpdTRVpnAttIn{
			TransitRouterAttachmentId: l.vpnAtt["dc1"], AutoPublishRouteEnabled: boolp(false)}))
		waitAttached(t, l.vc, l.vpnAtt["dc1"])
		l.waitAdvertised("AutoPublishRouteEnabled false", "dc1")

		// Changing dc2's associated table: the advertised set follows the new table.
		custom := l.createTable("dc-only")
		ms, err := l.describeRouteMaps("", custom)
		mustOK(t, "DescribeCenRouteMaps(custom table)", err)
		if len(ms) != 1 || ms[0].Priority != 5000 || ms[0].MapResult != "Deny" || ms[0].TransmitDirection != "RegionOut" {
			t.Errorf("custom table policies = %+v, want the system policy (the TR has VPN attachments)", ms)
		}
		l.createEntry(entryIn{table: custom, dest: "172.16.0.0/12", hopType: "Attachment", hopID: l.vpcAtt})
		l.waitRoutes("custom table", custom, "172.16.0.0/12 vpc Static Active")
		l.replaceAssociation(l.vpnAtt["dc2"], custom)
		if a := l.associations(l.system, l.vpnAtt["dc2"]); len(a) != 0 {
			t.Errorf("System table still lists dc2's association after the replacement: %q", a)
		}
		l.waitAdvertised("association replaced", "dc2", "172.16.0.0/12")
		l.waitAdvertised("association replaced", "dc1") // still off
	})
}

func TestRoutingStaticBlackholeEcmpAndPolicies(t *testing.T) {
	runRouting(t, func(t *testing.T, l *routingLab) {
		for _, dc := range []string{"dc1", "dc2", "dc3"} {
			l.vpn(dc, "192.168.50.0/24")
			l.propagate(l.vpnAtt[dc], l.system)
		}
		// Three equal VPN routes: ECMP.
		l.waitRoutes("ECMP", l.system, vpcRoute16, vpcRoute24,
			"192.168.50.0/24 dc1 Propagated Active", "192.168.50.0/24 dc2 Propagated Active", "192.168.50.0/24 dc3 Propagated Active")
		for _, dc := range []string{"dc1", "dc2", "dc3"} {
			l.wantPath("ECMP member "+dc, l.system, "192.168.50.0/24", l.vpnAtt[dc], "Active", pathVPN)
		}

		// The ECMP quota cuts the group: the rest is Standby.
		l.srv.Admin(t, "quota", "set", "--account-id", l.acct.AccountID, "--name", "ecmp-vpn-connections", "--value", "2")
		waitFor(t, "ECMP group cut to 2", func() (bool, string, error) {
			r := l.routes(l.system)
			return countStatus(r, "192.168.50.0/24", "Active") == 2 && countStatus(r, "192.168.50.0/24", "Standby") == 1, fmt.Sprintf("%q", r), nil
		})
		standby := l.list(&cbn.ListTransitRouterRouteEntriesRequest{TransitRouterRouteTableId: sp(l.system), TransitRouterRouteEntryStatus: sp("Standby")})
		if len(standby) != 1 || sv(standby[0].TransitRouterRouteEntryType) != "Propagated" {
			t.Errorf("TransitRouterRouteEntryStatus=Standby: %d entries, want the one propagated entry beyond the quota", len(standby))
		}

		// Static beats propagated; a blackhole entry is Active with no next hop.
		static := l.createEntry(entryIn{table: l.system, dest: "192.168.50.0/24", hopType: "Attachment", hopID: l.vpnAtt["dc3"]})
		bh := l.createEntry(entryIn{table: l.system, dest: "10.99.0.0/16", hopType: "BlackHole"})
		l.waitRoutes("static over propagated, blackhole", l.system, vpcRoute16, vpcRoute24, "10.99.0.0/16 blackhole Static Active",
			"192.168.50.0/24 dc3 Static Active", "192.168.50.0/24 dc1 Propagated Candidate", "192.168.50.0/24 dc2 Propagated Candidate",
			"192.168.50.0/24 dc3 Propagated Candidate")
		byID := l.list(&cbn.ListTransitRouterRouteEntriesRequest{TransitRouterRouteTableId: sp(l.system), TransitRouterRouteEntryIds: sps([]string{bh})})
		if len(byID) != 1 {
			t.Fatalf("ListTransitRouterRouteEntries(TransitRouterRouteEntryIds=%s): %d entries, want 1", bh, len(byID))
		}
		if e := byID[0]; sv(e.TransitRouterRouteEntryId) != bh || sv(e.TransitRouterRouteEntryType) != "Static" ||
			sv(e.TransitRouterRouteEntryStatus) != "Active" || sv(e.TransitRouterRouteEntryNextHopType) != "BlackHole" ||
			sv(e.TransitRouterRouteEntryNextHopId) != "" || e.PathAttributes == nil || sv(e.PathAttributes.OriginRouteType) != "BlackHole" {
			t.Errorf("blackhole entry = %s (Id %q NextHopId %q %s), want Static Active BlackHole with no next hop", l.line(e),
				sv(e.TransitRouterRouteEntryId), sv(e.TransitRouterRouteEntryNextHopId), pathOf(e))
		}
		statics := l.list(&cbn.ListTransitRouterRouteEntriesRequest{TransitRouterRouteTableId: sp(l.system), TransitRouterRouteEntryType: sp("Static"),
			TransitRouterRouteEntryDestinationCidrBlock: sp("192.168.50.0/24")})
		if len(statics) != 1 || sv(statics[0].TransitRouterRouteEntryId) != static || sv(statics[0].TransitRouterRouteEntryNextHopId) != l.vpnAtt["dc3"] ||
			sv(statics[0].TransitRouterRouteEntryNextHopType) != "Attachment" || sv(statics[0].PathAttributes.OriginRouteType) != "static" {
			var got []string
			for _, e := range statics {
				got = append(got, l.line(e)+" "+pathOf(e))
			}
			t.Errorf("static entries of 192.168.50.0/24 = %q, want just %s via dc3 (Attachment, OriginRouteType static)", got, static)
		}

		// A RegionIn Deny by prefix rejects the VPC's /24 (Complete match) but not its /16.
		l.routeMap(func(r *oldcbn.CreateCenRouteMapRequest) {
			r.TransmitDirection, r.Priority, r.MapResult = "RegionIn", requests.NewInteger(20), "Deny"
			r.DestinationCidrBlocks, r.CidrMatchMode = strList("10.0.1.0/24"), "Complete"
		})
		l.waitRoutes("RegionIn Deny 10.0.1.0/24", l.system, vpcRoute16, "10.0.1.0/24 vpc Propagated Rejected", "10.99.0.0/16 blackhole Static Active",
			"192.168.50.0/24 dc3 Static Active", "192.168.50.0/24 dc1 Propagated Candidate", "192.168.50.0/24 dc2 Propagated Candidate",
			"192.168.50.0/24 dc3 Propagated Candidate")
		rejected := l.list(&cbn.ListTransitRouterRouteEntriesRequest{TransitRouterRouteTableId: sp(l.system), TransitRouterRouteEntryStatus: sp("Rejected")})
		if len(rejected) != 1 || sv(rejected[0].TransitRouterRouteEntryDestinationCidrBlock) != "10.0.1.0/24" {
			t.Errorf("TransitRouterRouteEntryStatus=Rejected: %d entries, want just 10.0.1.0/24", len(rejected))
		}
		// The default status filter is Active: the Rejected entry is not listed.
		for _, e := range l.list(&cbn.ListTransitRouterRouteEntriesRequest{TransitRouterRouteTableId: sp(l.system)}) {
			if sv(e.TransitRouterRouteEntryStatus) != "Active" {
				t.Errorf("ListTransitRouterRouteEntries without a status filter returned %s", l.line(e))
			}
		}
		// Longest prefix match among the Active entries.
		lpm := l.list(&cbn.ListTransitRouterRouteEntriesRequest{TransitRouterRouteTableId: sp(l.system),
			RouteFilter: []*cbn.ListTransitRouterRouteEntriesRequestRouteFilter{{Key: sp("LongestPrefixMatchCidrs"), Value: sps([]string{"10.0.1.7/32"})}}})
		if len(lpm) != 1 || sv(lpm[0].TransitRouterRouteEntryDestinationCidrBlock) != "10.0.0.0/16" {
			var got []string
			for _, e := range lpm {
				got = append(got, l.line(e))
			}
			t.Errorf("RouteFilter LongestPrefixMatchCidrs 10.0.1.7/32 = %q, want just 10.0.0.0/16 (the /24 is Rejected)", got)
		}

		// Deleting the static entry by destination and next hop brings the (cut) ECMP group back.
		_, err := l.c.DeleteTransitRouterRouteEntryWithOptions(&cbn.DeleteTransitRouterRouteEntryRequest{TransitRouterRouteTableId: sp(l.system),
			TransitRouterRouteEntryDestinationCidrBlock: sp("192.168.50.0/24"), TransitRouterRouteEntryNextHopType: sp("Attachment"),
			TransitRouterRouteEntryNextHopId: sp(l.vpnAtt["dc3"])}, rtOpts())
		mustOK(t, "DeleteTransitRouterRouteEntry(destination, next hop)", err)
		waitFor(t, "static entry "+static+" gone", func() (bool, string, error) {
			es := l.list(&cbn.ListTransitRouterRouteEntriesRequest{TransitRouterRouteTableId: sp(l.system), TransitRouterRouteEntryIds: sps([]string{static}),
				TransitRouterRouteEntryStatus: sp("All")})
			if len(es) == 0 {
				return true, "", nil
			}
			return false, sv(es[0].TransitRouterRouteEntryStatus), nil
		})
		waitFor(t, "ECMP back (2 Active, 1 Standby)", func() (bool, string, error) {
			r := l.routes(l.system)
			return countStatus(r, "192.168.50.0/24", "Active") == 2 && countStatus(r, "192.168.50.0/24", "Standby") == 1 &&
				countStatus(r, "192.168.50.0/24", "Candidate") == 0, fmt.Sprintf("%q", r), nil
		})
	})
}

// countStatus counts the lines of a prefix ending in a status.
func countStatus(lines []string, prefix, status string) int {
	n := 0
	for _, l := range lines {
		if len(l) > len(prefix) && l[:len(prefix)+1] == prefix+" " && l[len(l)-len(status)-1:] == " "+status {
			n++
		}
	}
	return n
}

// TestRoutingPathSelection: the in-process test feeds BGP-learned routes through the store
// key a data plane writes, which a stock client cannot reach. Here two connections offer the
// same prefix through VPN-side static routes (CreateVcoRouteEntry, route type Custom, empty AS
// path); RegionIn policies then decide: an AS-path prepend on dc1 makes dc2's path shorter,
// and a smaller preference on dc1 (chained into the prepend) wins over the shorter path.
func TestRoutingPathSelection(t *testing.T) {
	runRouting(t, func(t *testing.T, l *routingLab) {
		const pfx = "172.20.0.0/16"
		for _, dc := range []string{"dc1", "dc2"} {
			l.vpn(dc, "")
			l.propagate(l.vpnAtt[dc], l.system)
			l.addVcoRoute(dc, pfx)
			custom := l.vcoRoutes(dc, "custom")
			if len(custom) != 1 || sv(custom[0].RouteDest) != pfx || sv(custom[0].Source) != "CUSTOM" || sv(custom[0].NextHop) != l.vco[dc] {
				t.Errorf("DescribeVcoRouteEntries(%s, custom): %d routes, want %s via the connection (Source CUSTOM)", dc, len(custom), pfx)
			}
		}
		// Equal routes of two VPN connections: ECMP.
		l.waitRoutes("ECMP", l.system, vpcRoute16, vpcRoute24, pfx+" dc1 Propagated Active", pfx+" dc2 Propagated Active")
		l.wantPath("ECMP", l.system, pfx, l.vpnAtt["dc1"], "Active", pathVPN)
		l.wantPath("ECMP", l.system, pfx, l.vpnAtt["dc2"], "Active", pathVPN)

		// Prepending dc1's path makes dc2's shorter.
		prepend := l.routeMap(func(r *oldcbn.CreateCenRouteMapRequest) {
			r.TransmitDirection, r.Priority, r.MapResult = "RegionIn", requests.NewInteger(30), "Permit"
			r.SourceInstanceIds, r.PrependAsPath = strList(l.vco["dc1"]), intList(65010, 65010)
		})
		ms, err := l.describeRouteMaps(prepend, "")
		mustOK(t, "DescribeCenRouteMaps(prepend)", err)
		if len(ms) != 1 || fmt.Sprint(ms[0].PrependAsPath.AsPath) != "[65010 65010]" || fmt.Sprint(ms[0].SourceInstanceIds.SourceInstanceId) != "["+l.vco["dc1"]+"]" {
			t.Errorf("DescribeCenRouteMaps(%s) = %+v, want PrependAsPath [65010 65010] for %s", prepend, ms, l.vco["dc1"])
		}
		l.waitRoutes("prepend on dc1", l.system, vpcRoute16, vpcRoute24, pfx+" dc1 Propagated Candidate", pfx+" dc2 Propagated Active")
		l.wantPath("prepend on dc1", l.system, pfx, l.vpnAtt["dc1"], "Candidate",
			"OriginInstanceType=VPN OriginRouteType=Custom Preference=50 AsPaths=[65010 65010]")
		l.wantPath("prepend on dc1", l.system, pfx, l.vpnAtt["dc2"], "Active", pathVPN)

		// A smaller preference for dc1, chained into the prepend (NextPriority 30): preference
		// is compared before the AS path, so dc1 wins with its longer path.
		pref := l.routeMap(func(r *oldcbn.CreateCenRouteMapRequest) {
			r.TransmitDirection, r.Priority, r.MapResult = "RegionIn", requests.NewInteger(20), "Permit"
			r.SourceInstanceIds, r.Preference, r.NextPriority = strList(l.vco["dc1"]), requests.NewInteger(20), requests.NewInteger(30)
		})
		l.waitRoutes("preference on dc1", l.system, vpcRoute16, vpcRoute24, pfx+" dc1 Propagated Active", pfx+" dc2 Propagated Candidate")
		l.wantPath("preference on dc1", l.system, pfx, l.vpnAtt["dc1"], "Active",
			"OriginInstanceType=VPN OriginRouteType=Custom Preference=20 AsPaths=[65010 65010]")
		l.wantPath("preference on dc1", l.system, pfx, l.vpnAtt["dc2"], "Candidate", pathVPN)

		// Dropping the preference policy: the prepend decides again; dropping both: ECMP.
		l.deleteRouteMap(pref)
		l.waitRoutes("preference policy deleted", l.system, vpcRoute16, vpcRoute24, pfx+" dc1 Propagated Candidate", pfx+" dc2 Propagated Active")
		l.deleteRouteMap(prepend)
		l.waitRoutes("all policies deleted", l.system, vpcRoute16, vpcRoute24, pfx+" dc1 Propagated Active", pfx+" dc2 Propagated Active")
		l.wantPath("all policies deleted", l.system, pfx, l.vpnAtt["dc1"], "Active", pathVPN)
	})
}
