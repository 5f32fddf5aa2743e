package server

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"opencen/internal/rpc"
	"opencen/internal/store"
)

// availableVpc creates a VPC (with a vSwitch when vsw is a CIDR) and waits for both.
func availableVpc(t *testing.T, c *rpc.Client, cidr, vswCidr string, extra map[string]string) (vpcOut map[string]any, vsw string) {
	t.Helper()
	p := map[string]string{"RegionId": "cn-hangzhou", "CidrBlock": cidr}
	for k, v := range extra {
		p[k] = v
	}
	vpcOut = vpcCall(t, c, "CreateVpc", p)
	id := vpcOut["VpcId"].(string)
	waitFor(t, "VPC Available", func() bool {
		return vpcCall(t, c, "DescribeVpcAttribute", map[string]string{"RegionId": "cn-hangzhou", "VpcId": id})["Status"] == "Available"
	})
	if vswCidr == "" {
		return vpcOut, ""
	}
	vsw = vpcCall(t, c, "CreateVSwitch", map[string]string{"RegionId": "cn-hangzhou", "VpcId": id, "ZoneId": "cn-hangzhou-h", "CidrBlock": vswCidr,
		"Tag.1.Key": "tier", "Tag.1.Value": "web"})["VSwitchId"].(string)
	waitFor(t, "vSwitch Available", func() bool {
		return vpcCall(t, c, "DescribeVSwitchAttributes", map[string]string{"RegionId": "cn-hangzhou", "VSwitchId": vsw})["Status"] == "Available"
	})
	return vpcOut, vsw
}

// TestVpcRouterAndAttributes: a VPC gets a vRouter and a System route table at creation,
// stored, and every read shows the same IDs; a record stored before that gets stable
// derived ones.
func TestVpcRouterAndAttributes(t *testing.T) {
	e := newEnv(t)
	c := e.account("alice")
	created, vsw := availableVpc(t, c, "10.10.0.0/16", "10.10.1.0/24", map[string]string{"VpcName": "v1", "Tag.1.Key": "env", "Tag.1.Value": "prod"})
	id, router, table := created["VpcId"].(string), created["VRouterId"].(string), created["RouteTableId"].(string)
	if !strings.HasPrefix(router, "vrt-") || !strings.HasPrefix(table, "vtb-") {
		t.Fatalf("CreateVpc: VRouterId %q RouteTableId %q", router, table)
	}
	attr := vpcCall(t, c, "DescribeVpcAttribute", map[string]string{"RegionId": "cn-hangzhou", "VpcId": id})
	if attr["VRouterId"] != router || attr["VpcName"] != "v1" || path(attr, "VSwitchIds", "VSwitchId").([]any)[0] != vsw ||
		path(attr, "Tags", "Tag").([]any)[0].(map[string]any)["Key"] != "env" {
		t.Fatalf("DescribeVpcAttribute: %v", attr)
	}
	rts := path(vpcCall(t, c, "DescribeRouteTableList", map[string]string{"RegionId": "cn-hangzhou", "VpcId": id}), "RouterTableList", "RouterTableListType").([]any)
	if len(rts) != 1 || rts[0].(map[string]any)["RouteTableId"] != table || rts[0].(map[string]any)["RouterId"] != router ||
		rts[0].(map[string]any)["RouteTableType"] != "System" {
		t.Fatalf("DescribeRouteTableList: %v", rts)
	}
	sw := vpcCall(t, c, "DescribeVSwitchAttributes", map[string]string{"RegionId": "cn-hangzhou", "VSwitchId": vsw})
	if path(sw, "RouteTable", "RouteTableId") != table || sw["AvailableIpAddressCount"].(float64) != 252 {
		t.Fatalf("DescribeVSwitchAttributes: %v", sw)
	}
	list := path(vpcCall(t, c, "DescribeVSwitches", map[string]string{"RegionId": "cn-hangzhou", "VpcId": id, "Tag.1.Key": "tier"}), "VSwitches", "VSwitch").([]any)
	if len(list) != 1 || path(list[0].(map[string]any), "RouteTable", "RouteTableId") != table {
		t.Fatalf("DescribeVSwitches by tag: %v", list)
	}

	// A record from before the IDs were stored: derived from the VPC's own ID, stable.
	key := "/r/vpc/" + id
	kv, ok, err := e.inst.Store.Get(context.Background(), key)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	var rec map[string]any
	if err := json.Unmarshal(kv.Value, &rec); err != nil {
		t.Fatal(err)
	}
	delete(rec, "vRouterId")
	delete(rec, "routeTableId")
	raw, _ := json.Marshal(rec)
	if res, err := e.inst.Store.Txn(context.Background(), []store.Cmp{{Key: key, ModRevision: kv.ModRevision}}, []store.Op{store.Put(key, raw)}); err != nil || !res.Succeeded {
		t.Fatal(res, err)
	}
	vpcCall(t, c, "ModifyVpcAttribute", map[string]string{"RegionId": "cn-hangzhou", "VpcId": id, "Description": "moves the spec revision"})
	suffix := strings.TrimPrefix(id, "vpc-")
	for range 2 {
		attr = vpcCall(t, c, "DescribeVpcAttribute", map[string]string{"RegionId": "cn-hangzhou", "VpcId": id})
		if attr["VRouterId"] != "vrt-"+suffix || path(vpcCall(t, c, "DescribeVSwitchAttributes", map[string]string{"RegionId": "cn-hangzhou", "VSwitchId": vsw}), "RouteTable", "RouteTableId") != "vtb-"+suffix {
			t.Fatalf("legacy record: %v", attr)
		}
	}
}

func TestVpcModifyAndRefusals(t *testing.T) {
	e := newEnv(t)
	c := e.account("alice")
	bob := e.account("bob")
	created, vsw := availableVpc(t, c, "10.20.0.0/16", "10.20.1.0/24", nil)
	id := created["VpcId"].(string)
	vpcCall(t, c, "ModifyVpcAttribute", map[string]string{"RegionId": "cn-hangzhou", "VpcId": id, "VpcName": "renamed", "Description": "d", "CidrBlock": "10.20.0.0/20"})
	attr := vpcCall(t, c, "DescribeVpcAttribute", map[string]string{"RegionId": "cn-hangzhou", "VpcId": id})
	if attr["VpcName"] != "renamed" || attr["Description"] != "d" || attr["CidrBlock"] != "10.20.0.0/20" {
		t.Fatalf("after ModifyVpcAttribute: %v", attr)
	}
	vpcCall(t, c, "ModifyVSwitchAttribute", map[string]string{"RegionId": "cn-hangzhou", "VSwitchId": vsw, "VSwitchName": "sw", "Description": "sd", "EnableIPv6": "false"})
	if sw := vpcCall(t, c, "DescribeVSwitchAttributes", map[string]string{"RegionId": "cn-hangzhou", "VSwitchId": vsw}); sw["VSwitchName"] != "sw" || sw["Description"] != "sd" {
		t.Fatalf("after ModifyVSwitchAttribute: %v", sw)
	}
	rg := attr["ResourceGroupId"].(string)
	bobRG := vpcCall(t, bob, "CreateVpc", map[string]string{"RegionId": "cn-hangzhou"})["ResourceGroupId"].(string)
	for _, tc := range []struct {
		name   string
		client *rpc.Client
		action string
		params map[string]string
		code   string
		status int
		msg    string
	}{
		{"shrink below a vSwitch", c, "ModifyVpcAttribute", map[string]string{"VpcId": id, "CidrBlock": "10.20.8.0/21"}, "InvalidCidrBlock", 400, "vSwitch " + vsw},
		{"public range", c, "ModifyVpcAttribute", map[string]string{"VpcId": id, "CidrBlock": "8.8.0.0/16"}, "InvalidCidrBlock", 400, "10.0.0.0/8"},
		{"long name", c, "ModifyVpcAttribute", map[string]string{"VpcId": id, "VpcName": strings.Repeat("n", 129)}, "InvalidVpcName", 400, "1 to 128"},
		{"ipv6", c, "ModifyVpcAttribute", map[string]string{"VpcId": id, "EnableIPv6": "true"}, "InvalidEnableIPv6", 400, "does not offer"},
		{"dns hostname", c, "CreateVpc", map[string]string{"EnableDnsHostname": "true"}, "InvalidEnableDnsHostname", 400, "does not offer"},
		{"user cidr", c, "CreateVpc", map[string]string{"UserCidr": "10.0.0.0/8"}, "InvalidUserCidr", 400, "does not offer"},
		{"vswitch ipv6", c, "ModifyVSwitchAttribute", map[string]string{"VSwitchId": vsw, "EnableIPv6": "true", "Ipv6CidrBlock": "1"}, "InvalidEnableIPv6", 400, "does not offer"},
		{"unknown VPC", c, "DescribeVpcAttribute", map[string]string{"VpcId": "vpc-nope"}, "InvalidVpcId.NotFound", 404, "vpc-nope"},
		{"another account's VPC", bob, "DescribeVpcAttribute", map[string]string{"VpcId": id}, "InvalidVpcId.NotFound", 404, id},
		{"another account's vSwitch", bob, "DescribeVSwitchAttributes", map[string]string{"VSwitchId": vsw}, "InvalidVSwitchId.NotFound", 404, vsw},
		{"modify another account's vSwitch", bob, "ModifyVSwitchAttribute", map[string]string{"VSwitchId": vsw, "VSwitchName": "x"}, "InvalidVSwitchId.NotFound", 404, vsw},
		{"missing VpcId", c, "DescribeVpcAttribute", map[string]string{}, "MissingVpcId", 400, "VpcId"},
		{"dry run", c, "DescribeVpcAttribute", map[string]string{"VpcId": id, "DryRun": "true"}, "DryRunOperation", 400, "DryRun"},
		{"route table type", c, "DescribeRouteTableList", map[string]string{"RouteTableType": "Main"}, "InvalidRouteTableType", 400, "System, Custom"},
		{"move to another group", c, "MoveResourceGroup", map[string]string{"ResourceId": id, "ResourceType": "VPC", "NewResourceGroupId": "rg-other"}, "InvalidNewResourceGroupId", 400, rg},
		{"move a vSwitch", c, "MoveResourceGroup", map[string]string{"ResourceId": vsw, "ResourceType": "VSwitch", "NewResourceGroupId": rg}, "InvalidResourceType", 400, "Vpc"},
		{"move another account's VPC", bob, "MoveResourceGroup", map[string]string{"ResourceId": id, "ResourceType": "Vpc", "NewResourceGroupId": bobRG}, "InvalidResourceId.NotFound", 404, id},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := e.inst.Store.Revision(context.Background())
			tc.params["RegionId"] = "cn-hangzhou"
			code, status, msg := vpcErr(t, tc.client, tc.action, tc.params)
			if code != tc.code || status != tc.status || !strings.Contains(msg, tc.msg) {
				t.Fatalf("got %s (%d) %q; want %s (%d) with %q", code, status, msg, tc.code, tc.status, tc.msg)
			}
			if after, _ := e.inst.Store.Revision(context.Background()); after != before {
				t.Fatalf("a refused request changed the store")
			}
		})
	}
	vpcCall(t, c, "MoveResourceGroup", map[string]string{"RegionId": "cn-hangzhou", "ResourceId": id, "ResourceType": "VPC", "NewResourceGroupId": rg})
	// Tags through the VPC product's tag actions.
	vpcCall(t, c, "TagResources", map[string]string{"RegionId": "cn-hangzhou", "ResourceType": "VPC", "ResourceId.1": id, "Tag.1.Key": "a", "Tag.1.Value": "1"})
	vpcCall(t, c, "TagResources", map[string]string{"RegionId": "cn-hangzhou", "ResourceType": "VSWITCH", "ResourceId.1": vsw, "Tag.1.Key": "b", "Tag.1.Value": "2"})
	vpcCall(t, c, "UnTagResources", map[string]string{"RegionId": "cn-hangzhou", "ResourceType": "vswitch", "ResourceId.1": vsw, "TagKey.1": "b"})
	got := path(vpcCall(t, c, "ListTagResources", map[string]string{"RegionId": "cn-hangzhou", "ResourceType": "VPC", "ResourceId.1": id, "MaxResults": "1"}), "TagResources", "TagResource").([]any)
	if len(got) != 1 || got[0].(map[string]any)["TagKey"] != "a" || got[0].(map[string]any)["ResourceType"] != "VPC" {
		t.Fatalf("ListTagResources VPC: %v", got)
	}
	// The tag given at CreateVSwitch stays.
	if left := path(vpcCall(t, c, "ListTagResources", map[string]string{"RegionId": "cn-hangzhou", "ResourceType": "VSWITCH", "ResourceId.1": vsw}), "TagResources", "TagResource").([]any); len(left) != 1 || left[0].(map[string]any)["TagKey"] != "tier" {
		t.Fatalf("vSwitch tags after UnTagResources: %v", left)
	}
}
