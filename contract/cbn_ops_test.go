package contract

// The Cbn actions and fields of issue 15 through the typed cbn-20170912/v2 client, answers
// decoded strictly too (sdk_strict_test.go).

import (
	"strconv"
	"testing"

	cbn "github.com/alibabacloud-go/cbn-20170912/v2/client"
	"github.com/alibabacloud-go/tea/dara"
	vpc "github.com/alibabacloud-go/vpc-20160428/v7/client"
)

func TestCbnOpsSDK(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	acct := srv.CreateAccount(t, "cbnops")
	owner, err := strconv.ParseInt(acct.AccountID, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	s := newTypedSDK(t, srv.Endpoint, acct)
	cb := client(t, styleACS3, srv.Endpoint, acct)

	// Zones for transit routers.
	zresp, err := s.c.ListTransitRouterAvailableResourceWithOptions(&cbn.ListTransitRouterAvailableResourceRequest{RegionId: sp(regionHZ)}, rtOpts())
	zones := sdkOK[cbn.ListTransitRouterAvailableResourceResponseBody](t, s, "ListTransitRouterAvailableResource", true, zresp, err)
	for _, list := range [][]*string{zones.AvailableZones, zones.MasterZones, zones.SlaveZones} {
		if len(list) != 2 || sv(list[0]) != "cn-hangzhou-h" || sv(list[1]) != "cn-hangzhou-i" {
			t.Fatalf("ListTransitRouterAvailableResource: %+v", zones)
		}
	}
	if dara.BoolValue(zones.SupportMulticast) {
		t.Fatalf("SupportMulticast: %+v", zones)
	}
	zresp, err = s.c.ListTransitRouterAvailableResourceWithOptions(&cbn.ListTransitRouterAvailableResourceRequest{RegionId: sp(regionHZ), SupportMulticast: dara.Bool(true)}, rtOpts())
	if z := sdkOK[cbn.ListTransitRouterAvailableResourceResponseBody](t, s, "ListTransitRouterAvailableResource", true, zresp, err); len(z.MasterZones) != 0 {
		t.Fatalf("multicast zones: %+v", z)
	}

	cen := createActiveCen(t, cb, uniq("cbnops"))
	tr := createActiveTR(t, cb, cen, regionHZ)
	vresp, err := s.v.CreateVpcWithOptions(&vpc.CreateVpcRequest{RegionId: sp(regionHZ), CidrBlock: sp("10.40.0.0/16")}, rtOpts())
	vpcID := sv(sdkOK[vpc.CreateVpcResponseBody](t, s, "CreateVpc", true, vresp, err).VpcId)
	vpcAttr := func() *vpc.DescribeVpcAttributeResponseBody {
		resp, err := s.v.DescribeVpcAttributeWithOptions(&vpc.DescribeVpcAttributeRequest{RegionId: sp(regionHZ), VpcId: sp(vpcID)}, rtOpts())
		return sdkOK[vpc.DescribeVpcAttributeResponseBody](t, s, "DescribeVpcAttribute", true, resp, err)
	}
	waitFor(t, "VPC Available", func() (bool, string, error) { st := sv(vpcAttr().Status); return st == "Available", st, nil })
	var vsws []string
	for i, zone := range []string{"cn-hangzhou-h", "cn-hangzhou-i"} {
		resp, err := s.v.CreateVSwitchWithOptions(&vpc.CreateVSwitchRequest{RegionId: sp(regionHZ), VpcId: sp(vpcID), ZoneId: sp(zone),
			CidrBlock: sp("10.40." + strconv.Itoa(i+1) + ".0/24")}, rtOpts())
		id := sv(must[*vpc.CreateVSwitchResponse](t, "CreateVSwitch")(resp, err).Body.VSwitchId)
		waitFor(t, "vSwitch Available", func() (bool, string, error) {
			resp, err := s.v.DescribeVSwitchAttributesWithOptions(&vpc.DescribeVSwitchAttributesRequest{RegionId: sp(regionHZ), VSwitchId: sp(id)}, rtOpts())
			if err != nil {
				return false, "", err
			}
			st := sv(resp.Body.Status)
			return st == "Available", st, nil
		})
		vsws = append(vsws, id)
	}

	// A VPC attachment publishing routes, with an option asking for nothing.
	aresp, err := s.c.CreateTransitRouterVpcAttachmentWithOptions(&cbn.CreateTransitRouterVpcAttachmentRequest{RegionId: sp(regionHZ), TransitRouterId: sp(tr),
		VpcId: sp(vpcID), AutoPublishRouteEnabled: dara.Bool(true), ChargeType: sp("POSTPAY"),
		TransitRouterVPCAttachmentOptions: map[string]*string{"ipv6Support": sp("disable")},
		ZoneMappings:                      []*cbn.CreateTransitRouterVpcAttachmentRequestZoneMappings{{VSwitchId: sp(vsws[0]), ZoneId: sp("cn-hangzhou-h")}},
		Tag:                               []*cbn.CreateTransitRouterVpcAttachmentRequestTag{{Key: sp("env"), Value: sp("test")}}}, rtOpts())
	att := sv(sdkOK[cbn.CreateTransitRouterVpcAttachmentResponseBody](t, s, "CreateTransitRouterVpcAttachment", true, aresp, err).TransitRouterAttachmentId)
	item := func() *cbn.ListTransitRouterVpcAttachmentsResponseBodyTransitRouterAttachments {
		resp, err := s.c.ListTransitRouterVpcAttachmentsWithOptions(&cbn.ListTransitRouterVpcAttachmentsRequest{TransitRouterAttachmentId: sp(att)}, rtOpts())
		b := sdkOK[cbn.ListTransitRouterVpcAttachmentsResponseBody](t, s, "ListTransitRouterVpcAttachments", false, resp, err)
		if len(b.TransitRouterAttachments) != 1 {
			t.Fatalf("ListTransitRouterVpcAttachments: %+v", b)
		}
		return b.TransitRouterAttachments[0]
	}
	waitFor(t, "VPC attached", func() (bool, string, error) { st := sv(item().Status); return st == "Attached", st, nil })
	if a := item(); !dara.BoolValue(a.AutoPublishRouteEnabled) || sv(a.OrderType) != "PayByCenOwner" || sv(a.ChargeType) != "POSTPAY" || len(a.Tags) != 1 ||
		len(a.ZoneMappings) != 1 || sv(a.ZoneMappings[0].VSwitchId) != vsws[0] {
		t.Fatalf("created VPC attachment: %+v", a)
	}
	if a := vpcAttr(); len(a.AssociatedCens.AssociatedCen) != 1 || sv(a.AssociatedCens.AssociatedCen[0].CenId) != cen ||
		dara.Int64Value(a.AssociatedCens.AssociatedCen[0].CenOwnerId) != owner {
		t.Fatalf("DescribeVpcAttribute of an attached VPC: %+v", a.AssociatedCens)
	}

	uresp, err := s.c.UpdateTransitRouterVpcAttachmentAttributeWithOptions(&cbn.UpdateTransitRouterVpcAttachmentAttributeRequest{TransitRouterAttachmentId: sp(att),
		TransitRouterAttachmentName: sp("vpc-att"), TransitRouterAttachmentDescription: sp("desc"), AutoPublishRouteEnabled: dara.Bool(false),
		OrderType: sp("PayByResourceOwner")}, rtOpts())
	sdkOK[cbn.UpdateTransitRouterVpcAttachmentAttributeResponseBody](t, s, "UpdateTransitRouterVpcAttachmentAttribute", true, uresp, err)
	if a := item(); sv(a.TransitRouterAttachmentName) != "vpc-att" || sv(a.TransitRouterAttachmentDescription) != "desc" || dara.BoolValue(a.AutoPublishRouteEnabled) ||
		sv(a.OrderType) != "PayByResourceOwner" {
		t.Fatalf("after UpdateTransitRouterVpcAttachmentAttribute: %+v", a)
	}
	_, err = s.c.UpdateTransitRouterVpcAttachmentAttributeWithOptions(&cbn.UpdateTransitRouterVpcAttachmentAttributeRequest{TransitRouterAttachmentId: sp(att),
		TransitRouterVPCAttachmentOptions: map[string]*string{"ipv6Support": sp("enable")}}, rtOpts())
	expectAPIError(t, "UpdateTransitRouterVpcAttachmentAttribute ipv6Support=enable", err, 400, "InvalidTransitRouterVPCAttachmentOptions")

	zuresp, err := s.c.UpdateTransitRouterVpcAttachmentZonesWithOptions(&cbn.UpdateTransitRouterVpcAttachmentZonesRequest{TransitRouterAttachmentId: sp(att),
		AddZoneMappings: []*cbn.UpdateTransitRouterVpcAttachmentZonesRequestAddZoneMappings{{VSwitchId: sp(vsws[1]), ZoneId: sp("cn-hangzhou-i")}}}, rtOpts())
	sdkOK[cbn.UpdateTransitRouterVpcAttachmentZonesResponseBody](t, s, "UpdateTransitRouterVpcAttachmentZones", true, zuresp, err)
	zuresp, err = s.c.UpdateTransitRouterVpcAttachmentZonesWithOptions(&cbn.UpdateTransitRouterVpcAttachmentZonesRequest{TransitRouterAttachmentId: sp(att),
		RemoveZoneMappings: []*cbn.UpdateTransitRouterVpcAttachmentZonesRequestRemoveZoneMappings{{VSwitchId: sp(vsws[0]), ZoneId: sp("cn-hangzhou-h")}}}, rtOpts())
	sdkOK[cbn.UpdateTransitRouterVpcAttachmentZonesResponseBody](t, s, "UpdateTransitRouterVpcAttachmentZones", true, zuresp, err)
	if a := item(); len(a.ZoneMappings) != 1 || sv(a.ZoneMappings[0].VSwitchId) != vsws[1] || sv(a.ZoneMappings[0].ZoneId) != "cn-hangzhou-i" {
		t.Fatalf("after UpdateTransitRouterVpcAttachmentZones: %+v", a.ZoneMappings)
	}
	_, err = s.c.UpdateTransitRouterVpcAttachmentZonesWithOptions(&cbn.UpdateTransitRouterVpcAttachmentZonesRequest{TransitRouterAttachmentId: sp(att),
		RemoveZoneMappings: []*cbn.UpdateTransitRouterVpcAttachmentZonesRequestRemoveZoneMappings{{VSwitchId: sp(vsws[1])}}}, rtOpts())
	expectAPIError(t, "UpdateTransitRouterVpcAttachmentZones removing the last zone", err, 400, "InvalidRemoveZoneMappings")

	// Tags of the VPC attachment, by the SDK's spelling of the type.
	tresp, err := s.c.TagResourcesWithOptions(&cbn.TagResourcesRequest{RegionId: sp(regionHZ), ResourceType: sp("TransitRouterVpcAttachment"), ResourceId: sps([]string{att}),
		Tag: []*cbn.TagResourcesRequestTag{{Key: sp("team"), Value: sp("net")}}}, rtOpts())
	sdkOK[cbn.TagResourcesResponseBody](t, s, "TagResources", true, tresp, err)
	lresp, err := s.c.ListTagResourcesWithOptions(&cbn.ListTagResourcesRequest{RegionId: sp(regionHZ), ResourceType: sp("TransitRouterVpcAttachment"),
		ResourceId: sps([]string{att})}, rtOpts())
	if tags := sdkOK[cbn.ListTagResourcesResponseBody](t, s, "ListTagResources", true, lresp, err).TagResources.TagResource; len(tags) != 2 ||
		sv(tags[0].ResourceType) != "TransitRouterVpcAttachment" {
		t.Fatalf("ListTagResources TransitRouterVpcAttachment: %+v", tags)
	}

	// A CIDR block of the transit router.
	cresp, err := s.c.CreateTransitRouterCidrWithOptions(&cbn.CreateTransitRouterCidrRequest{RegionId: sp(regionHZ), TransitRouterId: sp(tr), Cidr: sp("192.168.10.0/24")}, rtOpts())
	cidrID := sv(must[*cbn.CreateTransitRouterCidrResponse](t, "CreateTransitRouterCidr")(cresp, err).Body.TransitRouterCidrId)
	mresp, err := s.c.ModifyTransitRouterCidrWithOptions(&cbn.ModifyTransitRouterCidrRequest{RegionId: sp(regionHZ), TransitRouterId: sp(tr), TransitRouterCidrId: sp(cidrID),
		Cidr: sp("192.168.11.0/24"), Name: sp("gw"), Description: sp("addresses"), PublishCidrRoute: dara.Bool(false)}, rtOpts())
	sdkOK[cbn.ModifyTransitRouterCidrResponseBody](t, s, "ModifyTransitRouterCidr", true, mresp, err)
	lcresp, err := s.c.ListTransitRouterCidrWithOptions(&cbn.ListTransitRouterCidrRequest{RegionId: sp(regionHZ), TransitRouterId: sp(tr)}, rtOpts())
	if c := sdkOK[cbn.ListTransitRouterCidrResponseBody](t, s, "ListTransitRouterCidr", false, lcresp, err).CidrLists; len(c) != 1 || sv(c[0].Cidr) != "192.168.11.0/24" ||
		sv(c[0].Name) != "gw" || sv(c[0].Description) != "addresses" || dara.BoolValue(c[0].PublishCidrRoute) {
		t.Fatalf("after ModifyTransitRouterCidr: %+v", c)
	}
	_, err = s.c.ModifyTransitRouterCidrWithOptions(&cbn.ModifyTransitRouterCidrRequest{RegionId: sp(regionHZ), TransitRouterId: sp(tr), TransitRouterCidrId: sp(cidrID),
		Cidr: sp("100.64.0.0/24")}, rtOpts())
	expectAPIError(t, "ModifyTransitRouterCidr reserved range", err, 400, "InvalidCidr")

	// A static entry renamed.
	ltresp, err := s.c.ListTransitRouterRouteTablesWithOptions(&cbn.ListTransitRouterRouteTablesRequest{TransitRouterId: sp(tr)}, rtOpts())
	table := sv(must[*cbn.ListTransitRouterRouteTablesResponse](t, "ListTransitRouterRouteTables")(ltresp, err).Body.TransitRouterRouteTables[0].TransitRouterRouteTableId)
	eresp, err := s.c.CreateTransitRouterRouteEntryWithOptions(&cbn.CreateTransitRouterRouteEntryRequest{TransitRouterRouteTableId: sp(table),
		TransitRouterRouteEntryDestinationCidrBlock: sp("10.99.0.0/16"), TransitRouterRouteEntryNextHopType: sp("BlackHole")}, rtOpts())
	rte := sv(must[*cbn.CreateTransitRouterRouteEntryResponse](t, "CreateTransitRouterRouteEntry")(eresp, err).Body.TransitRouterRouteEntryId)
	entry := func() *cbn.ListTransitRouterRouteEntriesResponseBodyTransitRouterRouteEntries {
		resp, err := s.c.ListTransitRouterRouteEntriesWithOptions(&cbn.ListTransitRouterRouteEntriesRequest{TransitRouterRouteTableId: sp(table),
			TransitRouterRouteEntryIds: sps([]string{rte}), TransitRouterRouteEntryStatus: sp("All")}, rtOpts())
		list := must[*cbn.ListTransitRouterRouteEntriesResponse](t, "ListTransitRouterRouteEntries")(resp, err).Body.TransitRouterRouteEntries
		if len(list) != 1 {
			t.Fatalf("entry %s: %+v", rte, list)
		}
		return list[0]
	}
	waitFor(t, "entry Active", func() (bool, string, error) {
		st := sv(entry().TransitRouterRouteEntryStatus)
		return st == "Active", st, nil
	})
	ueresp, err := s.c.UpdateTransitRouterRouteEntryWithOptions(&cbn.UpdateTransitRouterRouteEntryRequest{TransitRouterRouteEntryId: sp(rte),
		TransitRouterRouteEntryName: sp("sink"), TransitRouterRouteEntryDescription: sp("drops")}, rtOpts())
	sdkOK[cbn.UpdateTransitRouterRouteEntryResponseBody](t, s, "UpdateTransitRouterRouteEntry", true, ueresp, err)
	if e := entry(); sv(e.TransitRouterRouteEntryName) != "sink" || sv(e.TransitRouterRouteEntryDescription) != "drops" {
		t.Fatalf("after UpdateTransitRouterRouteEntry: %+v", e)
	}
	_, err = s.c.UpdateTransitRouterRouteEntryWithOptions(&cbn.UpdateTransitRouterRouteEntryRequest{TransitRouterRouteEntryId: sp("rte-gone"), TransitRouterRouteEntryName: sp("x")}, rtOpts())
	expectAPIError(t, "UpdateTransitRouterRouteEntry unknown", err, 404, "InvalidTransitRouterRouteEntryId.NotFound")

	// The CEN into the account's only resource group.
	gresp, err := s.c.MoveResourceGroupWithOptions(&cbn.MoveResourceGroupRequest{ResourceId: sp(cen), ResourceType: sp("CEN"),
		NewResourceGroupId: sp("rg-default-" + acct.AccountID)}, rtOpts())
	sdkOK[cbn.MoveResourceGroupResponseBody](t, s, "MoveResourceGroup", true, gresp, err)
	_, err = s.c.MoveResourceGroupWithOptions(&cbn.MoveResourceGroupRequest{ResourceId: sp(cen), ResourceType: sp("bandwidthpackage"),
		NewResourceGroupId: sp("rg-default-" + acct.AccountID)}, rtOpts())
	expectAPIError(t, "MoveResourceGroup bandwidthpackage", err, 400, "InvalidResourceType")

	// Who pays for a granted connection.
	cgwResp, err := s.v.CreateCustomerGatewayWithOptions(&vpc.CreateCustomerGatewayRequest{RegionId: sp(regionHZ), IpAddress: sp("198.18.5.1")}, rtOpts())
	cgw := sv(must[*vpc.CreateCustomerGatewayResponse](t, "CreateCustomerGateway")(cgwResp, err).Body.CustomerGatewayId)
	vcoResp, err := s.v.CreateVpnAttachmentWithOptions(&vpc.CreateVpnAttachmentRequest{RegionId: sp(regionHZ), CustomerGatewayId: sp(cgw),
		LocalSubnet: sp("0.0.0.0/0"), RemoteSubnet: sp("0.0.0.0/0")}, rtOpts())
	vco := sv(must[*vpc.CreateVpnAttachmentResponse](t, "CreateVpnAttachment")(vcoResp, err).Body.VpnConnectionId)
	grResp, err := s.c.GrantInstanceToTransitRouterWithOptions(&cbn.GrantInstanceToTransitRouterRequest{CenId: sp(cen), CenOwnerId: dara.Int64(owner),
		InstanceId: sp(vco), InstanceType: sp("VPN"), RegionId: sp(regionHZ)}, rtOpts())
	must[*cbn.GrantInstanceToTransitRouterResponse](t, "GrantInstanceToTransitRouter")(grResp, err)
	mgResp, err := s.c.ModifyGrantInstanceToTransitRouterWithOptions(&cbn.ModifyGrantInstanceToTransitRouterRequest{CenId: sp(cen), InstanceId: sp(vco),
		OrderType: sp("PayByResourceOwner")}, rtOpts())
	sdkOK[cbn.ModifyGrantInstanceToTransitRouterResponseBody](t, s, "ModifyGrantInstanceToTransitRouter", true, mgResp, err)
	rulesResp, err := s.c.DescribeGrantRulesToResourceWithOptions(&cbn.DescribeGrantRulesToResourceRequest{ProductType: sp("VPN"), ResourceId: sp(vco), RegionId: sp(regionHZ)}, rtOpts())
	if rules := must[*cbn.DescribeGrantRulesToResourceResponse](t, "DescribeGrantRulesToResource")(rulesResp, err).Body.GrantRules; len(rules) != 1 ||
		sv(rules[0].OrderType) != "PayByResourceOwner" {
		t.Fatalf("after ModifyGrantInstanceToTransitRouter: %+v", rules)
	}
	_, err = s.c.ModifyGrantInstanceToTransitRouterWithOptions(&cbn.ModifyGrantInstanceToTransitRouterRequest{CenId: sp("cen-other"), InstanceId: sp(vco),
		OrderType: sp("PayByCenOwner")}, rtOpts())
	expectAPIError(t, "ModifyGrantInstanceToTransitRouter ungranted", err, 404, "InvalidGrantRule.NotFound")
}
