package contract

// The VPC product's VPC, vSwitch and route-table actions Terraform's alicloud_vpc and
// alicloud_vswitch call, through the typed vpc-20160428/v7 client; every answer is also
// decoded strictly into the SDK's model (sdk_strict_test.go).

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alibabacloud-go/tea/dara"
	vpc "github.com/alibabacloud-go/vpc-20160428/v7/client"
)

// vpcCreationTimeOK checks the VPC product's CreationTime (UTC, seconds).
func vpcCreationTimeOK(t testing.TB, what string, p *string) {
	t.Helper()
	ts, err := time.Parse("2006-01-02T15:04:05Z", sv(p))
	if err != nil || time.Since(ts) > 5*time.Minute || time.Since(ts) < -2*time.Minute {
		t.Errorf("%s CreationTime %q: %v", what, sv(p), err)
	}
}

func TestVpcNetworkSDK(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	acct := srv.CreateAccount(t, "network")
	owner, err := strconv.ParseInt(acct.AccountID, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	s := newTypedSDK(t, srv.Endpoint, acct)
	rg := "rg-default-" + acct.AccountID

	// CreateVpc gives a vRouter and a System route table.
	resp, err := s.v.CreateVpcWithOptions(&vpc.CreateVpcRequest{RegionId: sp(regionHZ), CidrBlock: sp("192.168.0.0/16"), VpcName: sp("net"),
		Description: sp("the VPC"), ResourceGroupId: sp(rg), Tag: []*vpc.CreateVpcRequestTag{{Key: sp("env"), Value: sp("test")}}}, rtOpts())
	created := sdkOK[vpc.CreateVpcResponseBody](t, s, "CreateVpc", true, resp, err)
	vpcID, router, table := sv(created.VpcId), sv(created.VRouterId), sv(created.RouteTableId)
	if !strings.HasPrefix(vpcID, "vpc-") || !strings.HasPrefix(router, "vrt-") || !strings.HasPrefix(table, "vtb-") || sv(created.ResourceGroupId) != rg || sv(created.RequestId) == "" {
		t.Fatalf("CreateVpc: %+v", created)
	}
	attr := func() *vpc.DescribeVpcAttributeResponseBody {
		resp, err := s.v.DescribeVpcAttributeWithOptions(&vpc.DescribeVpcAttributeRequest{RegionId: sp(regionHZ), VpcId: sp(vpcID)}, rtOpts())
		return sdkOK[vpc.DescribeVpcAttributeResponseBody](t, s, "DescribeVpcAttribute", true, resp, err)
	}
	waitFor(t, "VPC Available", func() (bool, string, error) { st := sv(attr().Status); return st == "Available", st, nil })
	a := attr()
	if sv(a.VpcId) != vpcID || sv(a.VRouterId) != router || sv(a.CidrBlock) != "192.168.0.0/16" || sv(a.VpcName) != "net" || sv(a.Description) != "the VPC" ||
		sv(a.RegionId) != regionHZ || dara.BoolValue(a.IsDefault) || dara.Int64Value(a.OwnerId) != owner || sv(a.ResourceGroupId) != rg ||
		dara.BoolValue(a.ClassicLinkEnabled) || dara.BoolValue(a.EnabledIpv6) || sv(a.DnsHostnameStatus) != "DISABLED" ||
		a.Tags == nil || len(a.Tags.Tag) != 1 || sv(a.Tags.Tag[0].Key) != "env" || a.VSwitchIds == nil || len(a.VSwitchIds.VSwitchId) != 0 ||
		a.AssociatedCens == nil || len(a.AssociatedCens.AssociatedCen) != 0 || a.CloudResources == nil || len(a.CloudResources.CloudResourceSetType) != 2 {
		t.Fatalf("DescribeVpcAttribute: %+v", a)
	}
	vpcCreationTimeOK(t, "DescribeVpcAttribute", a.CreationTime)

	// Two vSwitches in two zones.
	var vsws []string
	for i, zone := range []string{"cn-hangzhou-h", "cn-hangzhou-i"} {
		resp, err := s.v.CreateVSwitchWithOptions(&vpc.CreateVSwitchRequest{RegionId: sp(regionHZ), VpcId: sp(vpcID), ZoneId: sp(zone),
			CidrBlock: sp("192.168." + strconv.Itoa(i+1) + ".0/24"), VSwitchName: sp("sw" + strconv.Itoa(i)), Description: sp("d"),
			Tag: []*vpc.CreateVSwitchRequestTag{{Key: sp("tier"), Value: sp(zone)}}}, rtOpts())
		vsws = append(vsws, sv(sdkOK[vpc.CreateVSwitchResponseBody](t, s, "CreateVSwitch", true, resp, err).VSwitchId))
	}
	swAttr := func(id string) *vpc.DescribeVSwitchAttributesResponseBody {
		resp, err := s.v.DescribeVSwitchAttributesWithOptions(&vpc.DescribeVSwitchAttributesRequest{RegionId: sp(regionHZ), VSwitchId: sp(id)}, rtOpts())
		return sdkOK[vpc.DescribeVSwitchAttributesResponseBody](t, s, "DescribeVSwitchAttributes", true, resp, err)
	}
	for _, id := range vsws {
		waitFor(t, "vSwitch Available", func() (bool, string, error) { st := sv(swAttr(id).Status); return st == "Available", st, nil })
	}
	sw := swAttr(vsws[0])
	if sv(sw.VSwitchId) != vsws[0] || sv(sw.VpcId) != vpcID || sv(sw.ZoneId) != "cn-hangzhou-h" || sv(sw.CidrBlock) != "192.168.1.0/24" ||
		sv(sw.VSwitchName) != "sw0" || dara.Int64Value(sw.AvailableIpAddressCount) != 252 || dara.Int64Value(sw.OwnerId) != owner ||
		sw.RouteTable == nil || sv(sw.RouteTable.RouteTableId) != table || sv(sw.RouteTable.RouteTableType) != "System" ||
		sw.Tags == nil || len(sw.Tags.Tag) != 1 || sv(sw.Tags.Tag[0].Value) != "cn-hangzhou-h" || sv(sw.ResourceGroupId) != rg {
		t.Fatalf("DescribeVSwitchAttributes: %+v", sw)
	}
	vpcCreationTimeOK(t, "DescribeVSwitchAttributes", sw.CreationTime)

	// DescribeVSwitches items carry RouteTable (the provider's alicloud_vswitches reads it).
	lresp, err := s.v.DescribeVSwitchesWithOptions(&vpc.DescribeVSwitchesRequest{RegionId: sp(regionHZ), VpcId: sp(vpcID),
		Tag: []*vpc.DescribeVSwitchesRequestTag{{Key: sp("tier"), Value: sp("cn-hangzhou-i")}}}, rtOpts())
	list := sdkOK[vpc.DescribeVSwitchesResponseBody](t, s, "DescribeVSwitches", false, lresp, err)
	if dara.Int32Value(list.TotalCount) != 1 || sv(list.VSwitches.VSwitch[0].VSwitchId) != vsws[1] || list.VSwitches.VSwitch[0].RouteTable == nil ||
		sv(list.VSwitches.VSwitch[0].RouteTable.RouteTableId) != table {
		t.Fatalf("DescribeVSwitches by tag: %+v", list)
	}
	byTable, err := s.v.DescribeVSwitchesWithOptions(&vpc.DescribeVSwitchesRequest{RegionId: sp(regionHZ), RouteTableId: sp(table)}, rtOpts())
	if b := sdkOK[vpc.DescribeVSwitchesResponseBody](t, s, "DescribeVSwitches", false, byTable, err); dara.Int32Value(b.TotalCount) != 2 {
		t.Fatalf("DescribeVSwitches by route table: %+v", b)
	}

	// The System route table.
	rresp, err := s.v.DescribeRouteTableListWithOptions(&vpc.DescribeRouteTableListRequest{RegionId: sp(regionHZ), VpcId: sp(vpcID)}, rtOpts())
	rts := sdkOK[vpc.DescribeRouteTableListResponseBody](t, s, "DescribeRouteTableList", true, rresp, err)
	if dara.Int32Value(rts.TotalCount) != 1 || rts.RouterTableList == nil || len(rts.RouterTableList.RouterTableListType) != 1 {
		t.Fatalf("DescribeRouteTableList: %+v", rts)
	}
	rt := rts.RouterTableList.RouterTableListType[0]
	if sv(rt.RouteTableId) != table || sv(rt.RouterId) != router || sv(rt.VpcId) != vpcID || sv(rt.RouteTableType) != "System" || sv(rt.RouterType) != "VRouter" ||
		rt.VSwitchIds == nil || len(rt.VSwitchIds.VSwitchId) != 2 || !dara.BoolValue(rt.RoutePropagationEnable) || dara.Int64Value(rt.OwnerId) != owner {
		t.Fatalf("DescribeRouteTableList item: %+v", rt)
	}
	for _, req := range []*vpc.DescribeRouteTableListRequest{{RegionId: sp(regionHZ), RouteTableType: sp("Custom")}, {RegionId: sp(regionHZ), RouterId: sp("vrt-other")}} {
		resp, err := s.v.DescribeRouteTableListWithOptions(req, rtOpts())
		if b := sdkOK[vpc.DescribeRouteTableListResponseBody](t, s, "DescribeRouteTableList", true, resp, err); dara.Int32Value(b.TotalCount) != 0 {
			t.Errorf("DescribeRouteTableList %+v: %+v", req, b)
		}
	}

	// DescribeVpcs shows the same vRouter and table.
	vresp, err := s.v.DescribeVpcsWithOptions(&vpc.DescribeVpcsRequest{RegionId: sp(regionHZ), VpcId: sp(vpcID)}, rtOpts())
	vpcs := sdkOK[vpc.DescribeVpcsResponseBody](t, s, "DescribeVpcs", false, vresp, err)
	if v := vpcs.Vpcs.Vpc[0]; sv(v.VRouterId) != router || v.RouterTableIds == nil || len(v.RouterTableIds.RouterTableIds) != 1 || sv(v.RouterTableIds.RouterTableIds[0]) != table ||
		len(v.VSwitchIds.VSwitchId) != 2 {
		t.Fatalf("DescribeVpcs: %+v", v)
	}

	// Modify both.
	mresp, err := s.v.ModifyVpcAttributeWithOptions(&vpc.ModifyVpcAttributeRequest{RegionId: sp(regionHZ), VpcId: sp(vpcID), VpcName: sp("renamed"),
		Description: sp("new"), CidrBlock: sp("192.168.0.0/20"), EnableIPv6: dara.Bool(false)}, rtOpts())
	sdkOK[vpc.ModifyVpcAttributeResponseBody](t, s, "ModifyVpcAttribute", true, mresp, err)
	if a := attr(); sv(a.VpcName) != "renamed" || sv(a.Description) != "new" || sv(a.CidrBlock) != "192.168.0.0/20" || len(a.VSwitchIds.VSwitchId) != 2 {
		t.Fatalf("after ModifyVpcAttribute: %+v", a)
	}
	msresp, err := s.v.ModifyVSwitchAttributeWithOptions(&vpc.ModifyVSwitchAttributeRequest{RegionId: sp(regionHZ), VSwitchId: sp(vsws[0]), VSwitchName: sp("web"),
		Description: sp("front")}, rtOpts())
	sdkOK[vpc.ModifyVSwitchAttributeResponseBody](t, s, "ModifyVSwitchAttribute", true, msresp, err)
	if sw := swAttr(vsws[0]); sv(sw.VSwitchName) != "web" || sv(sw.Description) != "front" {
		t.Fatalf("after ModifyVSwitchAttribute: %+v", sw)
	}

	// Tags of VPC and VSWITCH through the VPC product's tag actions.
	tresp, err := s.v.TagResourcesWithOptions(&vpc.TagResourcesRequest{RegionId: sp(regionHZ), ResourceType: sp("VPC"), ResourceId: sps([]string{vpcID}),
		Tag: []*vpc.TagResourcesRequestTag{{Key: sp("team"), Value: sp("net")}}}, rtOpts())
	sdkOK[vpc.TagResourcesResponseBody](t, s, "TagResources", true, tresp, err)
	tresp, err = s.v.TagResourcesWithOptions(&vpc.TagResourcesRequest{RegionId: sp(regionHZ), ResourceType: sp("VSWITCH"), ResourceId: sps(vsws),
		Tag: []*vpc.TagResourcesRequestTag{{Key: sp("team"), Value: sp("net")}}}, rtOpts())
	sdkOK[vpc.TagResourcesResponseBody](t, s, "TagResources", true, tresp, err)
	uresp, err := s.v.UnTagResourcesWithOptions(&vpc.UnTagResourcesRequest{RegionId: sp(regionHZ), ResourceType: sp("VPC"), ResourceId: sps([]string{vpcID}),
		TagKey: sps([]string{"env"})}, rtOpts())
	sdkOK[vpc.UnTagResourcesResponseBody](t, s, "UnTagResources", true, uresp, err)
	for _, tc := range []struct {
		rtype string
		ids   []string
		want  int
	}{{"VPC", []string{vpcID}, 1}, {"VSWITCH", vsws, 4}} {
		var got []string
		next := ""
		for page := 0; page < 10; page++ {
			resp, err := s.v.ListTagResourcesWithOptions(&vpc.ListTagResourcesRequest{RegionId: sp(regionHZ), ResourceType: sp(tc.rtype), ResourceId: sps(tc.ids),
				MaxResults: dara.Int32(1), NextToken: sp(next)}, rtOpts())
			b := sdkOK[vpc.ListTagResourcesResponseBody](t, s, "ListTagResources", true, resp, err)
			for _, r := range b.TagResources.TagResource {
				if sv(r.ResourceType) != tc.rtype {
					t.Errorf("ListTagResources %s: item %+v", tc.rtype, r)
				}
				got = append(got, sv(r.ResourceId)+" "+sv(r.TagKey)+"="+sv(r.TagValue))
			}
			if next = sv(b.NextToken); next == "" {
				break
			}
		}
		if len(got) != tc.want {
			t.Errorf("ListTagResources %s: %v, want %d tags", tc.rtype, got, tc.want)
		}
	}

	// The account's only resource group.
	gresp, err := s.v.MoveResourceGroupWithOptions(&vpc.MoveResourceGroupRequest{RegionId: sp(regionHZ), ResourceId: sp(vpcID), ResourceType: sp("Vpc"),
		NewResourceGroupId: sp(rg)}, rtOpts())
	sdkOK[vpc.MoveResourceGroupResponseBody](t, s, "MoveResourceGroup", true, gresp, err)

	// Errors, Alibaba-style.
	_, err = s.v.DescribeVpcAttributeWithOptions(&vpc.DescribeVpcAttributeRequest{RegionId: sp(regionHZ), VpcId: sp("vpc-gone")}, rtOpts())
	expectAPIError(t, "DescribeVpcAttribute unknown", err, 404, "InvalidVpcId.NotFound")
	_, err = s.v.DescribeVSwitchAttributesWithOptions(&vpc.DescribeVSwitchAttributesRequest{RegionId: sp(regionHZ), VSwitchId: sp("vsw-gone")}, rtOpts())
	expectAPIError(t, "DescribeVSwitchAttributes unknown", err, 404, "InvalidVSwitchId.NotFound")
	_, err = s.v.ModifyVpcAttributeWithOptions(&vpc.ModifyVpcAttributeRequest{RegionId: sp(regionHZ), VpcId: sp(vpcID), EnableIPv6: dara.Bool(true)}, rtOpts())
	expectAPIError(t, "ModifyVpcAttribute EnableIPv6", err, 400, "InvalidEnableIPv6")
	_, err = s.v.ModifyVpcAttributeWithOptions(&vpc.ModifyVpcAttributeRequest{RegionId: sp(regionHZ), VpcId: sp(vpcID), CidrBlock: sp("192.168.2.0/24")}, rtOpts())
	if e := expectAPIError(t, "ModifyVpcAttribute shrink", err, 400, "InvalidCidrBlock"); e != nil && !strings.Contains(e.Message, vsws[0]) {
		t.Errorf("ModifyVpcAttribute shrink: the message does not name the vSwitch outside: %s", e.Message)
	}
	_, err = s.v.MoveResourceGroupWithOptions(&vpc.MoveResourceGroupRequest{RegionId: sp(regionHZ), ResourceId: sp(vpcID), ResourceType: sp("Vpc"),
		NewResourceGroupId: sp("rg-elsewhere")}, rtOpts())
	expectAPIError(t, "MoveResourceGroup elsewhere", err, 400, "InvalidNewResourceGroupId")
}
