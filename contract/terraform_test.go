package contract

// Replays of what terraform-provider-alicloud v1.285.0 sends for the documentation
// examples of alicloud_cen_transit_router_vpc_attachment (with alicloud_vpc,
// alicloud_vswitch, alicloud_cen_instance, alicloud_cen_transit_router and the data source
// alicloud_cen_transit_router_available_resources), alicloud_cen_transit_router_vpn_attachment
// and alicloud_vpn_gateway_vpn_attachment: apply, in-place updates, import (a Read from
// the ID alone) and destroy, with the provider's client (tea-rpc RpcPost, everything in
// the form body unless the provider puts it in the query), its polls and waits, and its
// reading of answers (generic maps; the keys and JSON types its Read sets, the type
// assertions it makes without checking). The provider itself is too heavy to build here,
// so each resource's calls are written down from its resource and service files
// (alicloud/resource_alicloud_*.go, service_alicloud_{vpc_v2,cen_v2,cbn,vpn_gateway_v2}.go);
// every call must be served with the shape the provider reads.

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"opencen/internal/testserver"
)

// tfProvider speaks as the provider does, logging the actions it called.
type tfProvider struct {
	t     *testing.T
	c     *tfVpn
	calls []string
}

func newTFProvider(t *testing.T, srv *testserver.Server, acct testserver.Account) *tfProvider {
	t.Helper()
	c, ok := vpnClient(t, styleTeaRPC, srv.Endpoint, acct).(*tfVpn)
	if !ok {
		t.Fatal("the tea-rpc client is not terraform's")
	}
	return &tfProvider{t: t, c: c}
}

var tfVersions = map[string]string{"Vpc": vpcVersion, "Cbn": cbnVersion}

// try is client.RpcPost: query and body, and the provider's formatError rule.
func (p *tfProvider) try(product, action string, query, body map[string]any) (map[string]any, error) {
	p.calls = append(p.calls, product+"/"+action)
	if len(query) == 0 {
		query = nil
	}
	return p.c.call(tfVersions[product], action, query, body)
}

// post is a call that must succeed.
func (p *tfProvider) post(product, action string, query, body map[string]any) map[string]any {
	p.t.Helper()
	resp, err := p.try(product, action, query, body)
	if err != nil {
		p.t.Fatalf("%s/%s %v %v: %v", product, action, query, body, describeErr(err))
	}
	return resp
}

// token is buildClientToken: "TF-<action>-<time>-<uuid>", at most 64 characters.
func token(action string) string {
	tok := fmt.Sprintf("TF-%s-%d-%s", action, time.Now().Unix(), uniq("u"))
	return tok[:min(64, len(tok))]
}

// notFound is the provider's NotFoundError: HTTP 404, or "NotFound" in the message.
func notFound(err error) bool {
	e, ok := asAPIError(err)
	return ok && (e.Status == 404 || strings.Contains(e.Message, "NotFound") || strings.Contains(e.Code, "NotFound"))
}

// waitState is BuildStateConf(...).WaitForState(): refresh until the state is target;
// "" as target waits for the resource to be gone (refresh reports gone).
func (p *tfProvider) waitState(what, target string, refresh func() (state string, gone bool)) {
	p.t.Helper()
	deadline := time.Now().Add(pollTimeout)
	for {
		state, gone := refresh()
		if gone {
			state = ""
		}
		if state == target {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("waiting for %s to be %q: still %q", what, target, state)
		}
		time.Sleep(pollEvery)
	}
}

// reads checks the fields a Read sets, with the JSON types its schema takes: "s" string,
// "b" bool, "n" number, "l" list, "o" object, "m" list of objects; a path goes through
// objects (Tags.Tag).
func (p *tfProvider) reads(what string, obj map[string]any, spec string) {
	p.t.Helper()
	for _, f := range strings.Fields(spec) {
		name, kind, _ := strings.Cut(f, ":")
		var v any = obj
		for _, k := range strings.Split(name, ".") {
			m, _ := v.(map[string]any)
			v = m[k]
		}
		ok := false
		switch kind {
		case "s":
			_, ok = v.(string)
		case "b":
			_, ok = v.(bool)
		case "n":
			_, ok = v.(float64)
		case "l":
			_, ok = v.([]any)
		case "o":
			_, ok = v.(map[string]any)
		case "m":
			var l []any
			if l, ok = v.([]any); ok {
				for _, el := range l {
					_, isObj := el.(map[string]any)
					ok = ok && isObj
				}
			}
		}
		if !ok {
			p.t.Errorf("%s: the provider reads %s as %s, the answer has %T %v", what, name, kind, v, v)
		}
	}
}

// first is the provider's jsonpath "$.X[*]" and "[0].(map[string]interface{})".
func (p *tfProvider) first(what string, resp map[string]any, path ...string) (map[string]any, bool) {
	p.t.Helper()
	var v any = resp
	for _, k := range path {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	l, ok := v.([]any)
	if !ok {
		p.t.Fatalf("%s: %s is %T, the provider asserts a list", what, strings.Join(path, "."), v)
	}
	if len(l) == 0 {
		return nil, false
	}
	m, ok := l[0].(map[string]any)
	if !ok {
		p.t.Fatalf("%s: %s[0] is %T, the provider asserts an object", what, strings.Join(path, "."), l[0])
	}
	return m, true
}

func (p *tfProvider) summary() {
	seen := map[string]int{}
	for _, c := range p.calls {
		seen[c]++
	}
	var names []string
	for c, n := range seen {
		names = append(names, fmt.Sprintf("%s×%d", c, n))
	}
	sort.Strings(names)
	p.t.Logf("%d calls, all served: %s", len(p.calls), strings.Join(names, " "))
}

// ---- alicloud_cen_instance (resource_alicloud_cen_instance.go, DescribeCenCenInstance) -------

func (p *tfProvider) readCen(id string) (map[string]any, bool) {
	p.t.Helper()
	resp := p.post("Cbn", "DescribeCens", nil, map[string]any{"Filter": []any{map[string]any{"Key": "CenId", "Value": []any{id}}}})
	return p.first("DescribeCens", resp, "Cens", "Cen")
}

func (p *tfProvider) cenInstance(name, protectionLevel string) string {
	p.t.Helper()
	body := map[string]any{"ClientToken": token("CreateCen"), "Name": name}
	if protectionLevel != "" {
		body["ProtectionLevel"] = protectionLevel
	}
	id, _ := p.post("Cbn", "CreateCen", nil, body)["CenId"].(string)
	p.waitState("CEN "+id, "Active", func() (string, bool) { o, ok := p.readCen(id); return fmt.Sprint(o["Status"]), !ok })
	// Update after create: nothing changed, no tags. Read:
	o, ok := p.readCen(id)
	if !ok {
		p.t.Fatalf("CEN %s gone after create", id)
	}
	p.reads("alicloud_cen_instance", o, "Name:s CreationTime:s Description:s ProtectionLevel:s ResourceGroupId:s Status:s Tags.Tag:l")
	return id
}

func (p *tfProvider) deleteCen(id string) {
	p.t.Helper()
	if _, err := p.try("Cbn", "DeleteCen", nil, map[string]any{"CenId": id}); err != nil && !notFound(err) {
		p.t.Fatalf("DeleteCen: %v", describeErr(err))
	}
	p.waitState("CEN "+id+" deleted", "", func() (string, bool) { o, ok := p.readCen(id); return fmt.Sprint(o["Status"]), !ok })
}

// ---- alicloud_cen_transit_router (ID cen:tr) --------------------------------------------------

func (p *tfProvider) readTR(tr string) (map[string]any, bool) {
	p.t.Helper()
	return p.first("ListTransitRouters", p.post("Cbn", "ListTransitRouters", nil, map[string]any{"TransitRouterId": tr, "RegionId": regionHZ}), "TransitRouters")
}

func (p *tfProvider) transitRouter(cen, name, description string) string {
	p.t.Helper()
	body := map[string]any{"RegionId": regionHZ, "ClientToken": token("CreateTransitRouter"), "CenId": cen, "TransitRouterName": name}
	if description != "" {
		body["TransitRouterDescription"] = description
	}
	tr, _ := p.post("Cbn", "CreateTransitRouter", nil, body)["TransitRouterId"].(string)
	p.waitState("TR "+tr, "Active", func() (string, bool) { o, ok := p.readTR(tr); return fmt.Sprint(o["Status"]), !ok })
	o, _ := p.readTR(tr)
	p.reads("alicloud_cen_transit_router", o, "CenId:s CreationTime:s RegionId:s Status:s SupportMulticast:b TransitRouterDescription:s TransitRouterName:s Type:s TransitRouterId:s Tags:l")
	return tr
}

func (p *tfProvider) deleteTR(tr string) {
	p.t.Helper()
	if _, err := p.try("Cbn", "DeleteTransitRouter", nil, map[string]any{"TransitRouterId": tr, "ClientToken": token("DeleteTransitRouter")}); err != nil && !notFound(err) {
		p.t.Fatalf("DeleteTransitRouter: %v", describeErr(err))
	}
	p.waitState("TR "+tr+" deleted", "", func() (string, bool) { o, ok := p.readTR(tr); return fmt.Sprint(o["Status"]), !ok })
}

// ---- alicloud_vpc (resource_alicloud_vpc.go; DescribeVpcVpc, DescribeVpcDescribeRouteTableList) --

// describeVpc is DescribeVpcVpc: an empty VpcId is "not found" too.
func (p *tfProvider) describeVpc(id string) (map[string]any, bool) {
	p.t.Helper()
	resp, err := p.try("Vpc", "DescribeVpcAttribute", nil, map[string]any{"VpcId": id, "RegionId": regionHZ})
	if err != nil {
		if notFound(err) {
			return nil, false
		}
		p.t.Fatalf("DescribeVpcAttribute: %v", describeErr(err))
	}
	return resp, fmt.Sprint(resp["VpcId"]) != ""
}

// systemTable is DescribeVpcDescribeRouteTableList: the item of type System of the VPC.
func (p *tfProvider) systemTable(id string) map[string]any {
	p.t.Helper()
	resp := p.post("Vpc", "DescribeRouteTableList", nil, map[string]any{"VpcId": id, "RegionId": regionHZ})
	items, ok := dig(resp, "RouterTableList", "RouterTableListType").([]any)
	if !ok || len(items) == 0 {
		p.t.Fatalf("DescribeRouteTableList: no route table for %s in %v (the provider reads a missing one as the VPC gone)", id, resp)
	}
	for _, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			p.t.Fatalf("DescribeRouteTableList item %T", it)
		}
		if m["RouteTableType"] == "System" && m["VpcId"] == id {
			return m
		}
	}
	p.t.Fatalf("DescribeRouteTableList: no System table of %s: %v", id, items)
	return nil
}

func (p *tfProvider) readVpc(id string) map[string]any {
	p.t.Helper()
	o, ok := p.describeVpc(id)
	if !ok {
		p.t.Fatalf("alicloud_vpc %s: gone", id)
	}
	p.reads("alicloud_vpc", o, "CidrBlock:s ClassicLinkEnabled:b CreationTime:s Description:s DnsHostnameStatus:s EnabledIpv6:b Ipv6CidrBlock:s "+
		"RegionId:s IsDefault:b ResourceGroupId:s VRouterId:s Status:s VpcName:s Ipv6CidrBlocks.Ipv6CidrBlock:l SecondaryCidrBlocks.SecondaryCidrBlock:l "+
		"Tags.Tag:l UserCidrs.UserCidr:l")
	rt := p.systemTable(id)
	p.reads("alicloud_vpc route table", rt, "ResourceGroupId:s RouteTableId:s RouterId:s Description:s RouteTableName:s RoutePropagationEnable:b")
	if rt["RouterId"] != o["VRouterId"] {
		p.t.Errorf("alicloud_vpc %s: router_id %v from DescribeVpcAttribute, %v from DescribeRouteTableList", id, o["VRouterId"], rt["RouterId"])
	}
	return o
}

func (p *tfProvider) vpcState(id string) func() (string, bool) {
	return func() (string, bool) { o, ok := p.describeVpc(id); return fmt.Sprint(o["Status"]), !ok }
}

func (p *tfProvider) vpc(name, cidr string) string {
	p.t.Helper()
	resp := p.post("Vpc", "CreateVpc", nil, map[string]any{"RegionId": regionHZ, "ClientToken": token("CreateVpc"), "CidrBlock": cidr, "VpcName": name})
	id := fmt.Sprint(resp["VpcId"])
	p.waitState("VPC "+id, "Available", p.vpcState(id))
	// Update after create: ModifyVpcAttribute and MoveResourceGroup have nothing to do; the
	// System table is read unconditionally (ModifyRouteTableAttributes: nothing to do).
	p.systemTable(id)
	p.readVpc(id)
	return id
}

// setTags is SetResourceTags: UnTagResources / UntagResources of removed keys, then
// TagResources of added ones.
func (p *tfProvider) setTags(product, resourceType, id string, removed []string, added map[string]string) {
	p.t.Helper()
	untag := map[string]string{"Vpc": "UnTagResources", "Cbn": "UntagResources"}[product]
	if len(removed) > 0 {
		body := map[string]any{"ResourceId.1": id, "RegionId": regionHZ, "ResourceType": resourceType}
		for i, k := range removed {
			body[fmt.Sprintf("TagKey.%d", i+1)] = k
		}
		p.post(product, untag, nil, body)
	}
	if len(added) > 0 {
		body := map[string]any{"ResourceId.1": id, "RegionId": regionHZ, "ResourceType": resourceType}
		i := 1
		for k, v := range added {
			body[fmt.Sprintf("Tag.%d.Key", i)], body[fmt.Sprintf("Tag.%d.Value", i)] = k, v
			i++
		}
		p.post(product, "TagResources", nil, body)
	}
}

func (p *tfProvider) deleteVpc(id string) {
	p.t.Helper()
	for {
		_, err := p.try("Vpc", "DeleteVpc", nil, map[string]any{"VpcId": id, "RegionId": regionHZ, "ClientToken": token("DeleteVpc")})
		if e, ok := asAPIError(err); ok && (e.Code == "DependencyViolation.VSwitch" || e.Code == "IncorrectVpcStatus") {
			time.Sleep(pollEvery) // retried by the provider
			continue
		}
		if err != nil && !notFound(err) {
			p.t.Fatalf("DeleteVpc: %v", describeErr(err))
		}
		break
	}
	p.waitState("VPC "+id+" deleted", "", p.vpcState(id))
}

// ---- alicloud_vswitch (resource_alicloud_vswitch.go; DescribeVpcVswitch) ---------------------

// describeVswitch is DescribeVpcVswitch: VSwitchId in the query, RegionId in the body.
func (p *tfProvider) describeVswitch(id string) (map[string]any, bool) {
	p.t.Helper()
	resp, err := p.try("Vpc", "DescribeVSwitchAttributes", map[string]any{"VSwitchId": id}, map[string]any{"RegionId": regionHZ})
	if err != nil {
		if notFound(err) {
			return nil, false
		}
		p.t.Fatalf("DescribeVSwitchAttributes: %v", describeErr(err))
	}
	return resp, resp["VSwitchId"] != ""
}

func (p *tfProvider) vswitchState(id string) func() (string, bool) {
	return func() (string, bool) { o, ok := p.describeVswitch(id); return fmt.Sprint(o["Status"]), !ok }
}

func (p *tfProvider) readVswitch(id string) map[string]any {
	p.t.Helper()
	o, ok := p.describeVswitch(id)
	if !ok {
		p.t.Fatalf("alicloud_vswitch %s: gone", id)
	}
	p.reads("alicloud_vswitch", o, "CidrBlock:s CreationTime:s Description:s Ipv6CidrBlock:s IsDefault:b Status:s VSwitchName:s VpcId:s ZoneId:s Tags.Tag:l")
	return o
}

func (p *tfProvider) vswitch(vpcID, name, cidr, zone string) string {
	p.t.Helper()
	resp := p.post("Vpc", "CreateVSwitch", nil, map[string]any{"RegionId": regionHZ, "ClientToken": token("CreateVSwitch"), "CidrBlock": cidr,
		"VpcId": vpcID, "VSwitchName": name, "ZoneId": zone})
	id := fmt.Sprint(resp["VSwitchId"])
	p.waitState("vSwitch "+id, "Available", p.vswitchState(id))
	p.readVswitch(id) // Update after create: nothing to do
	return id
}

func (p *tfProvider) deleteVswitch(id string) {
	p.t.Helper()
	if _, err := p.try("Vpc", "DeleteVSwitch", nil, map[string]any{"VSwitchId": id, "RegionId": regionHZ}); err != nil {
		if e, ok := asAPIError(err); !ok || (e.Code != "InvalidVSwitchId.NotFound" && e.Code != "InvalidVswitchID.NotFound") {
			p.t.Fatalf("DeleteVSwitch: %v", describeErr(err))
		}
	}
	p.waitState("vSwitch "+id+" deleted", "", p.vswitchState(id))
}

// ---- alicloud_cen_transit_router_vpc_attachment (ID cen:attachment) --------------------------

func (p *tfProvider) describeVpcAttachment(cen, att string) (map[string]any, bool) {
	p.t.Helper()
	return p.first("ListTransitRouterVpcAttachments", p.post("Cbn", "ListTransitRouterVpcAttachments", nil,
		map[string]any{"CenId": cen, "TransitRouterAttachmentId": att, "RegionId": regionHZ}), "TransitRouterAttachments")
}

func (p *tfProvider) vpcAttachmentState(cen, att string) func() (string, bool) {
	return func() (string, bool) { o, ok := p.describeVpcAttachment(cen, att); return fmt.Sprint(o["Status"]), !ok }
}

func (p *tfProvider) readVpcAttachment(cen, att string) map[string]any {
	p.t.Helper()
	o, ok := p.describeVpcAttachment(cen, att)
	if !ok {
		p.t.Fatalf("alicloud_cen_transit_router_vpc_attachment %s: gone", att)
	}
	p.reads("alicloud_cen_transit_router_vpc_attachment", o, "AutoPublishRouteEnabled:b CreationTime:s OrderType:s ChargeType:s VpcRegionId:s Status:s "+
		"TransitRouterAttachmentDescription:s TransitRouterId:s TransitRouterAttachmentName:s VpcId:s VpcOwnerId:n TransitRouterAttachmentId:s "+
		"ResourceType:s CenId:s Tags:m ZoneMappings:m")
	if v, present := o["TransitRouterVPCAttachmentOptions"]; present {
		if _, ok := v.(map[string]any); !ok {
			p.t.Errorf("TransitRouterVPCAttachmentOptions is %T, the provider sets it as a map", v)
		}
	}
	return o
}

// ---- alicloud_vpn_customer_gateway -------------------------------------------------------------

func (p *tfProvider) customerGateway(name, ip, asn, description string) string {
	p.t.Helper()
	id := fmt.Sprint(p.post("Vpc", "CreateCustomerGateway", nil, map[string]any{"RegionId": regionHZ, "ClientToken": token("CreateCustomerGateway"),
		"IpAddress": ip, "Description": description, "Asn": asn, "Name": name})["CustomerGatewayId"])
	o := p.post("Vpc", "DescribeCustomerGateway", map[string]any{"CustomerGatewayId": id}, map[string]any{"RegionId": regionHZ})
	p.reads("alicloud_vpn_customer_gateway", o, "Asn:n CreateTime:n Name:s Description:s IpAddress:s Tags.Tag:l")
	return id
}

// ---- alicloud_cen_transit_router_cidr (ID tr:cidr) ---------------------------------------------

func (p *tfProvider) readTRCidr(tr, cidr string) (map[string]any, bool) {
	p.t.Helper()
	return p.first("ListTransitRouterCidr", p.post("Cbn", "ListTransitRouterCidr", nil, map[string]any{"TransitRouterCidrId": cidr, "TransitRouterId": tr,
		"RegionId": regionHZ, "ClientToken": token("ListTransitRouterCidr")}), "CidrLists")
}

// ---- alicloud_vpn_gateway_vpn_attachment (ID = VpnConnectionId) ---------------------------------

func (p *tfProvider) readVpnConnection(id string) map[string]any {
	p.t.Helper()
	o := p.post("Vpc", "DescribeVpnConnection", nil, map[string]any{"VpnConnectionId": id, "RegionId": regionHZ})
	p.reads("alicloud_vpn_gateway_vpn_attachment", o, "CreateTime:n CustomerGatewayId:s EffectImmediately:b EnableDpd:b EnableNatTraversal:b EnableTunnelsBgp:b "+
		"LocalSubnet:s NetworkType:s RemoteSubnet:s ResourceGroupId:s State:s Name:s VpnBgpConfig:o VcoHealthCheck:o IkeConfig:o IpsecConfig:o Tags.Tag:l "+
		"TunnelOptionsSpecification.TunnelOptions:l VpnBgpConfig.EnableBgp:s VpnBgpConfig.LocalAsn:n VcoHealthCheck.Enable:s IkeConfig.IkeLifetime:n IpsecConfig.IpsecLifetime:n")
	return o
}

// ---- alicloud_cen_transit_router_vpn_attachment (ID = attachment) --------------------------------

func (p *tfProvider) describeTRVpnAttachment(att string) (map[string]any, bool) {
	p.t.Helper()
	return p.first("ListTransitRouterVpnAttachments", p.post("Cbn", "ListTransitRouterVpnAttachments", nil,
		map[string]any{"TransitRouterAttachmentId": att, "RegionId": regionHZ}), "TransitRouterAttachments")
}

func (p *tfProvider) trVpnAttachmentState(att string) func() (string, bool) {
	return func() (string, bool) { o, ok := p.describeTRVpnAttachment(att); return fmt.Sprint(o["Status"]), !ok }
}

func (p *tfProvider) readTRVpnAttachment(att string) map[string]any {
	p.t.Helper()
	o, ok := p.describeTRVpnAttachment(att)
	if !ok {
		p.t.Fatalf("alicloud_cen_transit_router_vpn_attachment %s: gone", att)
	}
	p.reads("alicloud_cen_transit_router_vpn_attachment", o, "AutoPublishRouteEnabled:b CenId:s ChargeType:s CreationTime:s OrderType:s VpnRegionId:s "+
		"Status:s TransitRouterAttachmentDescription:s TransitRouterId:s TransitRouterAttachmentName:s VpnId:s VpnOwnerId:n Tags:m Zones:m")
	return o
}

// TestTerraformVpcAttachmentExample replays the documentation example of
// alicloud_cen_transit_router_vpc_attachment: apply, in-place changes, import, destroy.
func TestTerraformVpcAttachmentExample(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	p := newTFProvider(t, srv, srv.CreateAccount(t, "tf-vpc"))
	const name = "terraform-example"

	// data.alicloud_cen_transit_router_available_resources.default; the locals take
	// resources[0].master_zones[0] and slave_zones[1].
	res := p.post("Cbn", "ListTransitRouterAvailableResource", nil, map[string]any{"RegionId": regionHZ})
	p.reads("alicloud_cen_transit_router_available_resources", res, "SupportMulticast:b MasterZones:l SlaveZones:l AvailableZones:l")
	master, _ := res["MasterZones"].([]any)
	slave, _ := res["SlaveZones"].([]any)
	if len(master) < 1 || len(slave) < 2 {
		t.Fatalf("the example indexes master_zones[0] and slave_zones[1]: %v", res)
	}
	masterZone, slaveZone := fmt.Sprint(master[0]), fmt.Sprint(slave[1])

	vpcID := p.vpc(name, "192.168.0.0/16")
	swMaster := p.vswitch(vpcID, name, "192.168.1.0/24", masterZone)
	swSlave := p.vswitch(vpcID, name, "192.168.2.0/24", slaveZone)
	cen := p.cenInstance(name, "REDUCED")
	tr := p.transitRouter(cen, name, "")

	body := map[string]any{"RegionId": regionHZ, "ClientToken": token("CreateTransitRouterVpcAttachment"), "CenId": cen, "TransitRouterId": tr, "VpcId": vpcID,
		"ZoneMappings":                []any{map[string]any{"ZoneId": masterZone, "VSwitchId": swMaster}, map[string]any{"ZoneId": slaveZone, "VSwitchId": swSlave}},
		"TransitRouterAttachmentName": name, "TransitRouterAttachmentDescription": name}
	att := fmt.Sprint(p.post("Cbn", "CreateTransitRouterVpcAttachment", nil, body)["TransitRouterAttachmentId"])
	p.waitState("VPC attachment "+att, "Attached", p.vpcAttachmentState(cen, att))
	// Update after create: nothing to do (order_type unset). Read:
	o := p.readVpcAttachment(cen, att)
	if o["AutoPublishRouteEnabled"] != false || len(o["ZoneMappings"].([]any)) != 2 || o["TransitRouterAttachmentName"] != name {
		t.Fatalf("alicloud_cen_transit_router_vpc_attachment after apply: %v", o)
	}

	// In-place changes: names and tags of every resource, the attachment's publishing and zones.
	p.post("Vpc", "ModifyVpcAttribute", nil, map[string]any{"VpcId": vpcID, "RegionId": regionHZ, "VpcName": name + "-2", "Description": "changed"})
	p.waitState("VPC "+vpcID, "Available", p.vpcState(vpcID))
	p.systemTable(vpcID)
	p.setTags("Vpc", "VPC", vpcID, nil, map[string]string{"env": "test"})
	if v := p.readVpc(vpcID); v["VpcName"] != name+"-2" || len(dig(v, "Tags", "Tag").([]any)) != 1 {
		t.Errorf("alicloud_vpc after update: %v", v)
	}
	p.post("Vpc", "ModifyVSwitchAttribute", nil, map[string]any{"VSwitchId": swMaster, "RegionId": regionHZ, "VSwitchName": name + "-2", "Description": "changed"})
	p.waitState("vSwitch "+swMaster, "Available", p.vswitchState(swMaster))
	p.setTags("Vpc", "VSWITCH", swMaster, nil, map[string]string{"tier": "web"})
	if v := p.readVswitch(swMaster); v["VSwitchName"] != name+"-2" || len(dig(v, "Tags", "Tag").([]any)) != 1 {
		t.Errorf("alicloud_vswitch after update: %v", v)
	}
	p.post("Cbn", "UpdateTransitRouterVpcAttachmentAttribute", nil, map[string]any{"TransitRouterAttachmentId": att, "ClientToken": token("UpdateTransitRouterVpcAttachmentAttribute"),
		"AutoPublishRouteEnabled": true, "TransitRouterAttachmentName": name + "-2", "TransitRouterAttachmentDescription": "changed"})
	p.waitState("VPC attachment "+att, "Attached", p.vpcAttachmentState(cen, att))
	p.post("Cbn", "UpdateTransitRouterVpcAttachmentZones", map[string]any{"TransitRouterAttachmentId": att}, map[string]any{
		"ClientToken": token("UpdateTransitRouterVpcAttachmentZones"), "RemoveZoneMappings": []any{map[string]any{"ZoneId": slaveZone, "VSwitchId": swSlave}}})
	p.waitState("VPC attachment "+att, "Attached", p.vpcAttachmentState(cen, att))
	p.setTags("Cbn", "TRANSITROUTERVPCATTACHMENT", att, nil, map[string]string{"team": "net"})
	o = p.readVpcAttachment(cen, att)
	if o["AutoPublishRouteEnabled"] != true || o["TransitRouterAttachmentName"] != name+"-2" || len(o["ZoneMappings"].([]any)) != 1 || len(o["Tags"].([]any)) != 1 {
		t.Fatalf("alicloud_cen_transit_router_vpc_attachment after update: %v", o)
	}
	p.post("Cbn", "UpdateTransitRouterVpcAttachmentZones", map[string]any{"TransitRouterAttachmentId": att}, map[string]any{
		"ClientToken": token("UpdateTransitRouterVpcAttachmentZones"), "AddZoneMappings": []any{map[string]any{"ZoneId": slaveZone, "VSwitchId": swSlave}}})
	p.waitState("VPC attachment "+att, "Attached", p.vpcAttachmentState(cen, att))
	p.setTags("Cbn", "TRANSITROUTERVPCATTACHMENT", att, []string{"team"}, nil)
	p.setTags("Vpc", "VPC", vpcID, []string{"env"}, nil)

	// terraform import: each resource is read from its ID alone.
	p.readVpc(vpcID)
	p.readVswitch(swMaster)
	p.readCen(cen)
	p.readTR(tr)
	if o := p.readVpcAttachment(cen, att); len(o["ZoneMappings"].([]any)) != 2 || len(o["Tags"].([]any)) != 0 {
		t.Fatalf("imported attachment: %v", o)
	}

	// terraform destroy, in dependency order.
	if _, err := p.try("Cbn", "DeleteTransitRouterVpcAttachment", nil, map[string]any{"TransitRouterAttachmentId": att,
		"ClientToken": token("DeleteTransitRouterVpcAttachment")}); err != nil && !notFound(err) {
		t.Fatalf("DeleteTransitRouterVpcAttachment: %v", describeErr(err))
	}
	p.waitState("VPC attachment "+att+" deleted", "", p.vpcAttachmentState(cen, att))
	p.deleteTR(tr)
	p.deleteCen(cen)
	p.deleteVswitch(swMaster)
	p.deleteVswitch(swSlave)
	p.deleteVpc(vpcID)
	// Gone for good: the next Read (refresh) of each says so the way the provider reads it.
	if _, ok := p.describeVpc(vpcID); ok {
		t.Fatalf("VPC %s still there", vpcID)
	}
	p.summary()
}

// TestTerraformVpnAttachmentExamples replays the documentation example of
// alicloud_cen_transit_router_vpn_attachment, whose alicloud_vpn_gateway_vpn_attachment (that
// resource's own example too) is a dual-tunnel connection: OpenCEN refuses it clearly
// (TunnelOptionsSpecification is not served yet), and the provider does not retry that
// error. The rest of the example then runs with the same connection written single-tunnel
// (tunnel 1's settings as ike_config / ipsec_config), what a user can apply today.
func TestTerraformVpnAttachmentExamples(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	p := newTFProvider(t, srv, srv.CreateAccount(t, "tf-vpn"))
	const name = "tf_example"

	cen := p.cenInstance(name, "")
	tr := p.transitRouter(cen, name, name)
	cgw := p.customerGateway(name, "42.104.22.210", "45014", name)

	// alicloud_vpn_gateway_vpn_attachment.example as written: two tunnels.
	tunnel := func(index int, role string) map[string]any {
		n := fmt.Sprint(index)
		return map[string]any{"CustomerGatewayId": cgw, "EnableDpd": true, "EnableNatTraversal": true, "Role": role, "TunnelIndex": index,
			"TunnelBgpConfig": map[string]any{},
			"TunnelIkeConfig": map[string]any{"IkeAuthAlg": "md5", "IkeEncAlg": "des", "IkeLifetime": 86400, "IkeMode": "main", "IkePfs": "group1",
				"IkeVersion": "ikev2", "LocalId": "examplealice" + n, "Psk": "tf-examplevpn" + n, "RemoteId": "examplebob" + n},
			"TunnelIpsecConfig": map[string]any{"IpsecAuthAlg": "md5", "IpsecEncAlg": "des", "IpsecLifetime": 86400, "IpsecPfs": "group5"}}
	}
	dual := map[string]any{"RegionId": regionHZ, "ClientToken": token("CreateVpnAttachment"), "NetworkType": "public", "LocalSubnet": "0.0.0.0/0",
		"RemoteSubnet": "0.0.0.0/0", "EffectImmediately": false, "Name": name, "TunnelOptionsSpecification": []any{tunnel(1, "master"), tunnel(2, "slave")}}
	_, err := p.try("Vpc", "CreateVpnAttachment", nil, dual)
	e := expectAPIError(t, "CreateVpnAttachment (dual tunnel, as the example)", err, 400, "InvalidTunnelOptionsSpecification")
	if e != nil {
		// The provider retries Appliance.Configuring, VpnGateway.Configuring, VpnTask.CONFLICT,
		// TaskConflict, throttling and 5xx: none of them, so apply stops with this message.
		for _, retried := range []string{"Appliance.Configuring", "VpnGateway.Configuring", "VpnTask.CONFLICT", "TaskConflict", "Throttling"} {
			if strings.Contains(e.Code, retried) {
				t.Errorf("the refusal %s would be retried by the provider", e.Code)
			}
		}
		if !strings.Contains(e.Message, "Dual-tunnel") {
			t.Errorf("the refusal does not say what is not supported: %s", e.Message)
		}
	}
	if out := p.post("Vpc", "DescribeVpnConnections", nil, map[string]any{"RegionId": regionHZ}); out["TotalCount"] != float64(0) {
		t.Fatalf("the refused create left a connection: %v", out)
	}

	// The same connection single-tunnel: tunnel 1's settings.
	single := map[string]any{"RegionId": regionHZ, "ClientToken": token("CreateVpnAttachment"), "NetworkType": "public", "LocalSubnet": "0.0.0.0/0",
		"RemoteSubnet": "0.0.0.0/0", "EffectImmediately": false, "Name": name, "CustomerGatewayId": cgw,
		"IkeConfig": jsonParam(map[string]any{"Psk": "tf-examplevpn1", "IkeVersion": "ikev2", "IkeMode": "main", "IkeEncAlg": "des", "IkeAuthAlg": "md5",
			"IkePfs": "group1", "IkeLifetime": 86400, "RemoteId": "examplebob1", "LocalId": "examplealice1"}),
		"IpsecConfig": jsonParam(map[string]any{"IpsecEncAlg": "des", "IpsecAuthAlg": "md5", "IpsecPfs": "group5", "IpsecLifetime": 86400})}
	vco := fmt.Sprint(p.post("Vpc", "CreateVpnAttachment", nil, single)["VpnConnectionId"])
	// Update after create: health_check_config and tags unset, nothing to do. Read:
	if v := p.readVpnConnection(vco); dig(v, "IkeConfig", "IkeEncAlg") != "des" || dig(v, "IpsecConfig", "IpsecPfs") != "group5" {
		t.Fatalf("alicloud_vpn_gateway_vpn_attachment (single tunnel): %v", v)
	}

	// alicloud_cen_transit_router_cidr.example.
	cidr := fmt.Sprint(p.post("Cbn", "CreateTransitRouterCidr", nil, map[string]any{"TransitRouterId": tr, "RegionId": regionHZ, "ClientToken": token("CreateTransitRouterCidr"),
		"Description": name, "PublishCidrRoute": true, "Cidr": "192.168.0.0/16", "Name": name})["TransitRouterCidrId"])
	if c, ok := p.readTRCidr(tr, cidr); !ok {
		t.Fatalf("alicloud_cen_transit_router_cidr %s: gone", cidr)
	} else {
		p.reads("alicloud_cen_transit_router_cidr", c, "Cidr:s Description:s PublishCidrRoute:b Name:s TransitRouterCidrId:s TransitRouterId:s")
	}

	// alicloud_cen_transit_router_vpn_attachment.example.
	att := fmt.Sprint(p.post("Cbn", "CreateTransitRouterVpnAttachment", nil, map[string]any{"RegionId": regionHZ, "ClientToken": token("CreateTransitRouterVpnAttachment"),
		"CenId": cen, "TransitRouterAttachmentName": name, "VpnId": vco, "TransitRouterId": tr, "AutoPublishRouteEnabled": false,
		"TransitRouterAttachmentDescription": name})["TransitRouterAttachmentId"])
	p.waitState("VPN attachment "+att, "Attached", p.trVpnAttachmentState(att))
	if o := p.readTRVpnAttachment(att); o["AutoPublishRouteEnabled"] != false || o["VpnId"] != vco {
		t.Fatalf("alicloud_cen_transit_router_vpn_attachment after apply: %v", o)
	}
	p.readVpnConnection(vco) // refreshed after the attachment: attached now

	// In-place changes.
	p.post("Cbn", "UpdateTransitRouterVpnAttachmentAttribute", nil, map[string]any{"TransitRouterAttachmentId": att, "ClientToken": token("UpdateTransitRouterVpnAttachmentAttribute"),
		"AutoPublishRouteEnabled": true, "TransitRouterAttachmentName": name + "2"})
	p.waitState("VPN attachment "+att, "Attached", p.trVpnAttachmentState(att))
	p.setTags("Cbn", "TRANSITROUTERVPNATTACHMENT", att, nil, map[string]string{"env": "test"})
	p.post("Cbn", "ModifyTransitRouterCidr", nil, map[string]any{"TransitRouterCidrId": cidr, "TransitRouterId": tr, "RegionId": regionHZ,
		"ClientToken": token("ModifyTransitRouterCidr"), "Description": "changed", "Cidr": "192.168.0.0/16", "Name": name + "2"})
	p.post("Cbn", "UpdateTransitRouter", nil, map[string]any{"TransitRouterId": tr, "RegionId": regionHZ, "ClientToken": token("UpdateTransitRouter"),
		"TransitRouterDescription": "changed"})
	p.waitState("TR "+tr, "Active", func() (string, bool) { o, ok := p.readTR(tr); return fmt.Sprint(o["Status"]), !ok })
	if o := p.readTRVpnAttachment(att); o["AutoPublishRouteEnabled"] != true || len(o["Tags"].([]any)) != 1 {
		t.Fatalf("alicloud_cen_transit_router_vpn_attachment after update: %v", o)
	}
	if c, _ := p.readTRCidr(tr, cidr); c["Name"] != name+"2" || c["Description"] != "changed" {
		t.Fatalf("alicloud_cen_transit_router_cidr after update: %v", c)
	}

	// Import.
	p.readTRVpnAttachment(att)
	p.readVpnConnection(vco)
	p.readTRCidr(tr, cidr)

	// Destroy.
	if _, err := p.try("Cbn", "DeleteTransitRouterVpnAttachment", nil, map[string]any{"TransitRouterAttachmentId": att,
		"ClientToken": token("DeleteTransitRouterVpnAttachment")}); err != nil && !notFound(err) {
		t.Fatalf("DeleteTransitRouterVpnAttachment: %v", describeErr(err))
	}
	p.waitState("VPN attachment "+att+" deleted", "", p.trVpnAttachmentState(att))
	p.post("Cbn", "DeleteTransitRouterCidr", nil, map[string]any{"TransitRouterCidrId": cidr, "TransitRouterId": tr, "RegionId": regionHZ,
		"ClientToken": token("DeleteTransitRouterCidr")})
	for {
		_, err := p.try("Vpc", "DeleteVpnAttachment", nil, map[string]any{"VpnConnectionId": vco, "RegionId": regionHZ, "ClientToken": token("DeleteVpnAttachment")})
		if e, ok := asAPIError(err); ok && e.Status >= 500 {
			continue // retried by the provider (NeedRetry)
		}
		if err != nil && !notFound(err) {
			t.Fatalf("DeleteVpnAttachment: %v", describeErr(err))
		}
		break
	}
	if _, err := p.try("Vpc", "DeleteCustomerGateway", nil, map[string]any{"CustomerGatewayId": cgw, "RegionId": regionHZ,
		"ClientToken": token("DeleteCustomerGateway")}); err != nil {
		t.Fatalf("DeleteCustomerGateway: %v", describeErr(err))
	}
	p.deleteTR(tr)
	p.deleteCen(cen)
	p.summary()
}
