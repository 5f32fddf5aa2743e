package server

import (
	"context"
	"strings"
	"testing"

	"opencen/internal/rpc"
)

// with copies base and sets the key-value pairs kv on the copy.
func with(base map[string]string, kv ...string) map[string]string {
	p := map[string]string{}
	for k, v := range base {
		p[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		p[kv[i]] = kv[i+1]
	}
	return p
}

// refused runs a Cbn call that must fail with code (and a message holding msg) and
// checks that it changed nothing.
func refused(t *testing.T, e *env, c *rpc.Client, action string, params map[string]string, code, msg string) {
	t.Helper()
	before, _ := e.inst.Store.Revision(context.Background())
	if ae := cbnErr(t, c, action, params); ae.Code != code || !strings.Contains(ae.Message, msg) {
		t.Errorf("%s %v: %s %q, want %s with %q", action, params, ae.Code, ae.Message, code, msg)
	}
	if after, _ := e.inst.Store.Revision(context.Background()); after != before {
		t.Errorf("%s %v: a refused request changed the store", action, params)
	}
}

func vpcAttachment(t *testing.T, c *rpc.Client, id string) map[string]any {
	t.Helper()
	list := call(t, c, "ListTransitRouterVpcAttachments", map[string]string{"TransitRouterAttachmentId": id})["TransitRouterAttachments"].([]any)
	if len(list) != 1 {
		t.Fatalf("attachment %s: %v", id, list)
	}
	return list[0].(map[string]any)
}

func TestVpcAttachmentUpdates(t *testing.T) {
	e := newEnv(t)
	c := e.account("alice")
	cen := activeCen(t, c)
	tr := activeTR(t, c, cen)
	created, swH := availableVpc(t, c, "10.30.0.0/16", "10.30.1.0/24", nil)
	vpc := created["VpcId"].(string)
	newSwitch := func(zone, cidr string) string {
		id := vpcCall(t, c, "CreateVSwitch", map[string]string{"RegionId": "cn-hangzhou", "VpcId": vpc, "ZoneId": zone, "CidrBlock": cidr})["VSwitchId"].(string)
		waitFor(t, "vSwitch Available", func() bool {
			return vpcCall(t, c, "DescribeVSwitchAttributes", map[string]string{"RegionId": "cn-hangzhou", "VSwitchId": id})["Status"] == "Available"
		})
		return id
	}
	swI, swH2 := newSwitch("cn-hangzhou-i", "10.30.2.0/24"), newSwitch("cn-hangzhou-h", "10.30.3.0/24")
	other, swOther := availableVpc(t, c, "10.31.0.0/16", "10.31.1.0/24", nil)

	base := map[string]string{"RegionId": "cn-hangzhou", "TransitRouterId": tr, "VpcId": vpc, "ZoneMappings.1.VSwitchId": swH}
	refused(t, e, c, "CreateTransitRouterVpcAttachment", with(base, "ZoneMappings.2.VSwitchId", swH2), "InvalidZoneMappingsZoneId", "one vSwitch per zone")
	refused(t, e, c, "CreateTransitRouterVpcAttachment", with(base, "TransitRouterVPCAttachmentOptions", `{"ipv6Support":"enable"}`), "InvalidTransitRouterVPCAttachmentOptions", "does not offer")
	refused(t, e, c, "CreateTransitRouterVpcAttachment", with(base, "Options", `{"ApplianceModeSupport":"enable"}`), "InvalidOptions", "does not offer")
	refused(t, e, c, "CreateTransitRouterVpcAttachment", with(base, "ChargeType", "PREPAY"), "InvalidChargeType", "POSTPAY")
	refused(t, e, c, "CreateTransitRouterVpcAttachment", with(base, "VpcOwnerId", "123"), "InvalidVpcOwnerId", "another account")
	att := call(t, c, "CreateTransitRouterVpcAttachment", with(base, "AutoPublishRouteEnabled", "true", "ZoneMappings.1.ZoneId", "cn-hangzhou-h",
		"TransitRouterVPCAttachmentOptions", `{"ipv6Support":"disable"}`, "ChargeType", "POSTPAY", "Tag.1.Key", "k", "Tag.1.Value", "v"))["TransitRouterAttachmentId"].(string)
	refused(t, e, c, "UpdateTransitRouterVpcAttachmentAttribute", map[string]string{"TransitRouterAttachmentId": att, "TransitRouterAttachmentName": "x"}, "IncorrectStatus.Status", "Attached")
	waitFor(t, "Attached", func() bool { return vpcAttachment(t, c, att)["Status"] == "Attached" })
	if a := vpcAttachment(t, c, att); a["AutoPublishRouteEnabled"] != true || a["OrderType"] != "PayByCenOwner" {
		t.Fatalf("created: %v", a)
	}

	call(t, c, "UpdateTransitRouterVpcAttachmentAttribute", map[string]string{"TransitRouterAttachmentId": att, "TransitRouterAttachmentName": "renamed",
		"TransitRouterAttachmentDescription": "desc", "AutoPublishRouteEnabled": "false", "OrderType": "PayByResourceOwner"})
	if a := vpcAttachment(t, c, att); a["TransitRouterAttachmentName"] != "renamed" || a["TransitRouterAttachmentDescription"] != "desc" ||
		a["AutoPublishRouteEnabled"] != false || a["OrderType"] != "PayByResourceOwner" {
		t.Fatalf("after UpdateTransitRouterVpcAttachmentAttribute: %v", a)
	}
	refused(t, e, c, "UpdateTransitRouterVpcAttachmentAttribute", map[string]string{"TransitRouterAttachmentId": att, "OrderType": "PayByNobody"}, "InvalidOrderType", "PayByCenOwner")
	refused(t, e, c, "UpdateTransitRouterVpcAttachmentAttribute", map[string]string{"TransitRouterAttachmentId": "tr-attach-nope", "TransitRouterAttachmentName": "x"}, "InvalidTransitRouterAttachmentId.NotFound", "tr-attach-nope")

	// Zones: add i, swap h for h2, then the errors.
	call(t, c, "UpdateTransitRouterVpcAttachmentZones", map[string]string{"TransitRouterAttachmentId": att, "AddZoneMappings.1.VSwitchId": swI, "AddZoneMappings.1.ZoneId": "cn-hangzhou-i"})
	call(t, c, "UpdateTransitRouterVpcAttachmentZones", map[string]string{"TransitRouterAttachmentId": att,
		"RemoveZoneMappings": `[{"VSwitchId":"` + swH + `","ZoneId":"cn-hangzhou-h"}]`, "AddZoneMappings": `[{"VSwitchId":"` + swH2 + `"}]`})
	zones := map[string]string{}
	for _, z := range vpcAttachment(t, c, att)["ZoneMappings"].([]any) {
		zones[z.(map[string]any)["ZoneId"].(string)] = z.(map[string]any)["VSwitchId"].(string)
	}
	if len(zones) != 2 || zones["cn-hangzhou-i"] != swI || zones["cn-hangzhou-h"] != swH2 {
		t.Fatalf("zones after updates: %v", zones)
	}
	updBase := map[string]string{"TransitRouterAttachmentId": att}
	refused(t, e, c, "UpdateTransitRouterVpcAttachmentZones", with(updBase), "MissingAddZoneMappingsVSwitchId", "AddZoneMappings.1.VSwitchId")
	refused(t, e, c, "UpdateTransitRouterVpcAttachmentZones", with(updBase, "AddZoneMappings.1.VSwitchId", swH), "InvalidAddZoneMappingsZoneId", "one vSwitch per zone")
	refused(t, e, c, "UpdateTransitRouterVpcAttachmentZones", with(updBase, "AddZoneMappings.1.VSwitchId", swOther), "InvalidAddZoneMappingsVSwitchId", "VPC "+other["VpcId"].(string))
	refused(t, e, c, "UpdateTransitRouterVpcAttachmentZones", with(updBase, "RemoveZoneMappings.1.VSwitchId", swH), "InvalidRemoveZoneMappingsVSwitchId", "not a zone")
	refused(t, e, c, "UpdateTransitRouterVpcAttachmentZones", with(updBase, "RemoveZoneMappings.1.VSwitchId", swI, "RemoveZoneMappings.2.VSwitchId", swH2), "InvalidRemoveZoneMappings", "at least one")
	refused(t, e, c, "UpdateTransitRouterVpcAttachmentZones", with(updBase, "AddZoneMappings.1.VSwitchId", "vsw-nope"), "InvalidVSwitchId.NotFound", "vsw-nope")

	// Tags, as the provider spells the type and as the SDK does.
	call(t, c, "TagResources", map[string]string{"ResourceType": "TRANSITROUTERVPCATTACHMENT", "ResourceId.1": att, "Tag.1.Key": "team", "Tag.1.Value": "net"})
	call(t, c, "UntagResources", map[string]string{"ResourceType": "TransitRouterVpcAttachment", "ResourceId.1": att, "TagKey.1": "k"})
	if got := call(t, c, "ListTransitRouterVpcAttachments", map[string]string{"TransitRouterId": tr, "Tag.1.Key": "team", "Tag.1.Value": "net"})["TransitRouterAttachments"].([]any); len(got) != 1 ||
		len(got[0].(map[string]any)["Tags"].([]any)) != 1 {
		t.Fatalf("by tag: %v", got)
	}
	if got := call(t, c, "ListTransitRouterVpcAttachments", map[string]string{"TransitRouterId": tr, "Tag.1.Key": "k"})["TransitRouterAttachments"].([]any); len(got) != 0 {
		t.Fatalf("by removed tag: %v", got)
	}
	refused(t, e, c, "TagResources", map[string]string{"ResourceType": "TransitRouterVpnAttachment", "ResourceId.1": att, "Tag.1.Key": "x"}, "InvalidResourceId.NotFound", att)
}

func TestCbnModifications(t *testing.T) {
	e := newEnv(t)
	c := e.account("alice")
	bob := e.account("bob")
	s := newVpnSetup(t, c)
	cidrs := call(t, c, "ListTransitRouterCidr", map[string]string{"TransitRouterId": s.tr, "RegionId": "cn-hangzhou"})["CidrLists"].([]any)
	cidrID := cidrs[0].(map[string]any)["TransitRouterCidrId"].(string)
	modBase := map[string]string{"TransitRouterId": s.tr, "RegionId": "cn-hangzhou", "TransitRouterCidrId": cidrID}
	call(t, c, "ModifyTransitRouterCidr", with(modBase, "Cidr", "192.168.201.0/24", "Name", "gw", "Description", "d", "PublishCidrRoute", "false"))
	got := call(t, c, "ListTransitRouterCidr", map[string]string{"TransitRouterId": s.tr, "RegionId": "cn-hangzhou"})["CidrLists"].([]any)[0].(map[string]any)
	if got["Cidr"] != "192.168.201.0/24" || got["Name"] != "gw" || got["Description"] != "d" || got["PublishCidrRoute"] != false {
		t.Fatalf("after ModifyTransitRouterCidr: %v", got)
	}
	call(t, c, "CreateTransitRouterCidr", map[string]string{"TransitRouterId": s.tr, "RegionId": "cn-hangzhou", "Cidr": "192.168.210.0/24"})
	refused(t, e, c, "ModifyTransitRouterCidr", with(modBase, "Cidr", "192.168.210.0/25"), "InvalidCidr", "/16 to /24")
	refused(t, e, c, "ModifyTransitRouterCidr", with(modBase, "Cidr", "192.168.210.0/24"), "InvalidCidr.Overlapped", "192.168.210.0/24")
	refused(t, e, c, "ModifyTransitRouterCidr", with(modBase, "TransitRouterCidrId", "cidr-nope", "Name", "x"), "InvalidTransitRouterCidrId.NotFound", "cidr-nope")
	refused(t, e, c, "ModifyTransitRouterCidr", with(modBase, "Name", "http://x"), "InvalidName", "http://")
	refused(t, e, c, "ModifyTransitRouterCidr", with(modBase, "Cidr", "192.168.202.0/24", "DryRun", "true"), "DryRunOperation", "DryRun")
	// A private connection takes its address from the block: then it cannot change or go.
	vco := vpcCall(t, c, "CreateVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "CustomerGatewayId": s.cgw, "NetworkType": "private"})["VpnConnectionId"].(string)
	att := call(t, c, "CreateTransitRouterVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "TransitRouterId": s.tr, "VpnId": vco})["TransitRouterAttachmentId"].(string)
	waitFor(t, "Attached", func() bool { return attachmentStatus(t, c, att) == "Attached" })
	refused(t, e, c, "ModifyTransitRouterCidr", with(modBase, "Cidr", "192.168.202.0/24"), "OperationFailed.CidrBlockAllocated", "192.168.201.0/24")
	refused(t, e, c, "DeleteTransitRouterCidr", with(modBase), "OperationFailed.CidrBlockAllocated", "detach")
	call(t, c, "ModifyTransitRouterCidr", with(modBase, "Cidr", "192.168.201.0/24", "Name", "kept")) // the same block: no change of it

	// A static route entry.
	table := call(t, c, "ListTransitRouterRouteTables", map[string]string{"TransitRouterId": s.tr})["TransitRouterRouteTables"].([]any)[0].(map[string]any)["TransitRouterRouteTableId"].(string)
	waitFor(t, "table Active", func() bool {
		return call(t, c, "ListTransitRouterRouteTables", map[string]string{"TransitRouterId": s.tr})["TransitRouterRouteTables"].([]any)[0].(map[string]any)["TransitRouterRouteTableStatus"] == "Active"
	})
	rte := call(t, c, "CreateTransitRouterRouteEntry", map[string]string{"TransitRouterRouteTableId": table, "TransitRouterRouteEntryDestinationCidrBlock": "10.99.0.0/16",
		"TransitRouterRouteEntryNextHopType": "BlackHole"})["TransitRouterRouteEntryId"].(string)
	refused(t, e, c, "UpdateTransitRouterRouteEntry", map[string]string{"TransitRouterRouteEntryId": rte, "TransitRouterRouteEntryName": "x"}, "IncorrectStatus.Status", "Active")
	entry := func() map[string]any {
		list := call(t, c, "ListTransitRouterRouteEntries", map[string]string{"TransitRouterRouteTableId": table, "TransitRouterRouteEntryIds.1": rte, "TransitRouterRouteEntryStatus": "All"})["TransitRouterRouteEntries"].([]any)
		return list[0].(map[string]any)
	}
	waitFor(t, "entry Active", func() bool { return entry()["TransitRouterRouteEntryStatus"] == "Active" })
	call(t, c, "UpdateTransitRouterRouteEntry", map[string]string{"TransitRouterRouteEntryId": rte, "TransitRouterRouteEntryName": "drop", "TransitRouterRouteEntryDescription": "sink"})
	if got := entry(); got["TransitRouterRouteEntryName"] != "drop" || got["TransitRouterRouteEntryDescription"] != "sink" {
		t.Fatalf("after UpdateTransitRouterRouteEntry: %v", got)
	}
	refused(t, e, bob, "UpdateTransitRouterRouteEntry", map[string]string{"TransitRouterRouteEntryId": rte, "TransitRouterRouteEntryName": "x"}, "InvalidTransitRouterRouteEntryId.NotFound", rte)
	refused(t, e, c, "UpdateTransitRouterRouteEntry", map[string]string{"TransitRouterRouteEntryName": "x"}, "MissingTransitRouterRouteEntryId", "TransitRouterRouteEntryId")
	refused(t, e, c, "UpdateTransitRouterRouteEntry", map[string]string{"TransitRouterRouteEntryId": rte, "TransitRouterRouteEntryName": strings.Repeat("n", 129)}, "InvalidTransitRouterRouteEntryName", "1 to 128")

	// Resource group of a CEN, and a grant's payer.
	rgVpc := vpcCall(t, c, "CreateVpc", map[string]string{"RegionId": "cn-hangzhou"})
	rg := rgVpc["ResourceGroupId"].(string)
	// Its Pending -> Available transition must not land during a refused call below.
	waitFor(t, "VPC Available", func() bool {
		v := vpcCall(t, c, "DescribeVpcs", map[string]string{"RegionId": "cn-hangzhou", "VpcId": rgVpc["VpcId"].(string)})
		vs, _ := v["Vpcs"].(map[string]any)["Vpc"].([]any)
		return len(vs) == 1 && vs[0].(map[string]any)["Status"] == "Available"
	})
	call(t, c, "MoveResourceGroup", map[string]string{"ResourceId": s.cen, "ResourceType": "cen", "NewResourceGroupId": rg})
	refused(t, e, c, "MoveResourceGroup", map[string]string{"ResourceId": s.cen, "ResourceType": "bandwidthpackage", "NewResourceGroupId": rg}, "InvalidResourceType", "CEN")
	refused(t, e, c, "MoveResourceGroup", map[string]string{"ResourceId": "cen-nope", "ResourceType": "CEN", "NewResourceGroupId": rg}, "InvalidResourceId.NotFound", "cen-nope")

	var bobAcct struct{ AccountId string }
	if err := bob.Call(context.Background(), "2026-11-01", "DescribeAccount", nil, &bobAcct); err != nil {
		t.Fatal(err)
	}
	granted := vpcCall(t, c, "CreateVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "CustomerGatewayId": s.cgw})["VpnConnectionId"].(string)
	call(t, c, "GrantInstanceToTransitRouter", map[string]string{"CenId": "cen-of-bob", "CenOwnerId": bobAcct.AccountId, "InstanceId": granted, "InstanceType": "VPN", "RegionId": "cn-hangzhou"})
	call(t, c, "ModifyGrantInstanceToTransitRouter", map[string]string{"CenId": "cen-of-bob", "InstanceId": granted, "OrderType": "PayByResourceOwner"})
	rules := call(t, c, "DescribeGrantRulesToResource", map[string]string{"ProductType": "VPN", "ResourceId": granted, "RegionId": "cn-hangzhou"})["GrantRules"].([]any)
	if len(rules) != 1 || rules[0].(map[string]any)["OrderType"] != "PayByResourceOwner" {
		t.Fatalf("after ModifyGrantInstanceToTransitRouter: %v", rules)
	}
	refused(t, e, c, "ModifyGrantInstanceToTransitRouter", map[string]string{"CenId": "cen-other", "InstanceId": granted, "OrderType": "PayByCenOwner"}, "InvalidGrantRule.NotFound", "cen-other")
	refused(t, e, c, "ModifyGrantInstanceToTransitRouter", map[string]string{"CenId": "cen-of-bob", "InstanceId": granted, "OrderType": "Free"}, "InvalidOrderType", "PayByCenOwner")
	refused(t, e, c, "ModifyGrantInstanceToTransitRouter", map[string]string{"CenId": "cen-of-bob", "InstanceId": granted}, "MissingOrderType", "OrderType")

	// Zones a transit router can use.
	res := call(t, c, "ListTransitRouterAvailableResource", map[string]string{"RegionId": "cn-shanghai"})
	for _, k := range []string{"AvailableZones", "MasterZones", "SlaveZones"} {
		if z := res[k].([]any); len(z) != 2 || z[0] != "cn-shanghai-e" || z[1] != "cn-shanghai-f" {
			t.Fatalf("%s: %v", k, res)
		}
	}
	if res["SupportMulticast"] != false {
		t.Fatalf("SupportMulticast: %v", res)
	}
	if res := call(t, c, "ListTransitRouterAvailableResource", map[string]string{"RegionId": "cn-shanghai", "SupportMulticast": "true"}); len(res["MasterZones"].([]any)) != 0 {
		t.Fatalf("multicast zones: %v", res)
	}
	refused(t, e, c, "ListTransitRouterAvailableResource", map[string]string{}, "MissingRegionId", "RegionId")
	refused(t, e, c, "ListTransitRouterAvailableResource", map[string]string{"RegionId": "mars-1"}, "InvalidRegionId", "cn-hangzhou")
}
