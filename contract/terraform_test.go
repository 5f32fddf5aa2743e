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
// every call must be served with the shape the provider reads. Both documentation examples
// of the VPN attachment are dual-tunnel (tunnel_options_specification): the provider sends
// the blocks as TunnelOptionsSpecification.N.* in the order of its set's hash (not by
// TunnelIndex), every scalar of a block even when unset (EnableDpd=false, Role="",
// TunnelIndex as written), integers of a given nested block even when unset (0), and on
// update every block again, named by TunnelIndex, never by TunnelId.

import (
	"fmt"
	"hash/crc32"
	"maps"
	"slices"
	"sort"
	"strconv"
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
// objects (Tags.Tag); a leading "?" allows the field to be absent or null (the Read checks
// for nil before it asserts the type).
func (p *tfProvider) reads(what string, obj map[string]any, spec string) {
	p.t.Helper()
	for _, f := range strings.Fields(spec) {
		optional := strings.HasPrefix(f, "?")
		name, kind, _ := strings.Cut(strings.TrimPrefix(f, "?"), ":")
		var v any = obj
		for _, k := range strings.Split(name, ".") {
			m, _ := v.(map[string]any)
			v = m[k]
		}
		if optional && v == nil {
			continue
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

// customerGateway creates one as the resource does (Name, Description and Asn only when set)
// and returns its Read (DescribeCustomerGateway: CustomerGatewayId in the query).
func (p *tfProvider) customerGateway(name, ip, asn, description string) map[string]any {
	p.t.Helper()
	body := map[string]any{"RegionId": regionHZ, "ClientToken": token("CreateCustomerGateway"), "IpAddress": ip}
	setIf(body, "Description", description)
	setIf(body, "Asn", asn)
	setIf(body, "Name", name)
	id := fmt.Sprint(p.post("Vpc", "CreateCustomerGateway", nil, body)["CustomerGatewayId"])
	o := p.post("Vpc", "DescribeCustomerGateway", map[string]any{"CustomerGatewayId": id}, map[string]any{"RegionId": regionHZ})
	p.reads("alicloud_vpn_customer_gateway", o, "CustomerGatewayId:s Asn:n CreateTime:n Name:s Description:s IpAddress:s ResourceGroupId:s Tags.Tag:l")
	if o["CustomerGatewayId"] != id {
		p.t.Fatalf("DescribeCustomerGateway(%s) = %v", id, o)
	}
	return o
}

func (p *tfProvider) deleteCustomerGateway(id string) {
	p.t.Helper()
	if _, err := p.try("Vpc", "DeleteCustomerGateway", nil, map[string]any{"CustomerGatewayId": id, "RegionId": regionHZ,
		"ClientToken": token("DeleteCustomerGateway")}); err != nil {
		p.t.Fatalf("DeleteCustomerGateway: %v", describeErr(err))
	}
}

// ---- alicloud_cen_transit_router_cidr (ID tr:cidr) ---------------------------------------------

func (p *tfProvider) readTRCidr(tr, cidr string) (map[string]any, bool) {
	p.t.Helper()
	return p.first("ListTransitRouterCidr", p.post("Cbn", "ListTransitRouterCidr", nil, map[string]any{"TransitRouterCidrId": cidr, "TransitRouterId": tr,
		"RegionId": regionHZ, "ClientToken": token("ListTransitRouterCidr")}), "CidrLists")
}

// ---- alicloud_vpn_gateway_vpn_attachment (ID = VpnConnectionId) ---------------------------------

// postRetry is a call the provider retries while the answer's Code is one of retried (or a
// throttling or 5xx error, NeedRetry), within the resource's timeout.
func (p *tfProvider) postRetry(product, action string, query, body map[string]any, retried ...string) map[string]any {
	p.t.Helper()
	deadline := time.Now().Add(pollTimeout)
	for {
		resp, err := p.try(product, action, query, body)
		if err == nil {
			return resp
		}
		e, ok := asAPIError(err)
		if ok && (slices.Contains(retried, e.Code) || strings.HasPrefix(e.Code, "Throttling") || e.Status >= 500) && time.Now().Before(deadline) {
			time.Sleep(pollEvery)
			continue
		}
		p.t.Fatalf("%s/%s %v %v: %v", product, action, query, body, describeErr(err))
	}
}

// readVpnConnection is the resource's Read (DescribeVpnGatewayVpnAttachment: DescribeVpnConnection
// with everything in the body). It sets the top-level fields as they come, asserts each of
// VpnBgpConfig, VcoHealthCheck, IkeConfig and IpsecConfig to be an object when present and
// runs formatBool on VpnBgpConfig.EnableBgp and VcoHealthCheck.Enable (a panic on anything
// but a boolean or "true"/"false"/""); the tunnels are readTunnels'.
func (p *tfProvider) readVpnConnection(id string) map[string]any {
	p.t.Helper()
	o := p.post("Vpc", "DescribeVpnConnection", nil, map[string]any{"VpnConnectionId": id, "RegionId": regionHZ})
	p.reads("alicloud_vpn_gateway_vpn_attachment", o, "CreateTime:n CustomerGatewayId:s EffectImmediately:b EnableDpd:b EnableNatTraversal:b "+
		"EnableTunnelsBgp:b LocalSubnet:s NetworkType:s RemoteSubnet:s ResourceGroupId:s State:s Name:s Tags.Tag:l "+
		"?VpnBgpConfig:o ?VcoHealthCheck:o ?IkeConfig:o ?IpsecConfig:o ?TunnelOptionsSpecification:o")
	if m, _ := o["VpnBgpConfig"].(map[string]any); len(m) > 0 {
		p.formatBool("VpnBgpConfig.EnableBgp", m["EnableBgp"])
	}
	if m, _ := o["VcoHealthCheck"].(map[string]any); len(m) > 0 {
		p.formatBool("VcoHealthCheck.Enable", m["Enable"])
	}
	return o
}

// formatBool is the provider's formatBool: a boolean, or a string strconv.ParseBool takes
// ("" is false); anything else panics the provider.
func (p *tfProvider) formatBool(what string, v any) bool {
	p.t.Helper()
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		if x == "" {
			return false
		}
		b, err := strconv.ParseBool(x)
		if err != nil {
			p.t.Errorf("%s = %q: the provider's formatBool panics on it", what, x)
		}
		return b
	}
	p.t.Errorf("%s is %T %v: the provider's formatBool panics on it", what, v, v)
	return false
}

// formatInt is the provider's formatInt: a number, or a string strconv.Atoi takes ("" is
// 0); anything else panics the provider.
func (p *tfProvider) formatInt(what string, v any) int {
	p.t.Helper()
	switch x := v.(type) {
	case nil:
		return 0
	case float64:
		return int(x)
	case string:
		if x == "" {
			return 0
		}
		n, err := strconv.Atoi(x)
		if err != nil {
			p.t.Errorf("%s = %q: the provider's formatInt panics on it", what, x)
		}
		return n
	}
	p.t.Errorf("%s is %T %v: the provider's formatInt panics on it", what, v, v)
	return 0
}

// tfTunnel is one tunnel_options_specification block: as configured (the schema's zero
// values where the configuration is silent) or, read back, as the state holds it. Ike,
// Ipsec and Bgp use the request's field names; nil is an absent block.
type tfTunnel struct {
	Index           int
	Cgw, Role       string
	Dpd, Nat        bool
	Ike, Ipsec, Bgp map[string]any
	// Computed, read back only.
	ID, InternetIp, ZoneNo, State, Status, PeerAsn, PeerBgpIp, BgpStatus string
}

// tfSetOrder is the order schema.Set.List() gives the blocks in, which is the order of
// TunnelOptionsSpecification.N on the wire: by vpnTunnelOptionsSpecificationHash (crc32 of
// "<tunnel_index>-<customer_gateway_id>") as a decimal string, sorted as strings. It
// depends on the customer gateway's ID, so tunnel 2 comes first about half the time.
func tfSetOrder(ts []tfTunnel) []tfTunnel {
	code := func(t tfTunnel) string {
		return strconv.Itoa(int(crc32.ChecksumIEEE([]byte(fmt.Sprintf("%d-%s", t.Index, t.Cgw)))))
	}
	out := slices.Clone(ts)
	sort.SliceStable(out, func(i, j int) bool { return code(out[i]) < code(out[j]) })
	return out
}

func (t tfTunnel) blocks() map[string]map[string]any {
	return map[string]map[string]any{"TunnelIkeConfig": t.Ike, "TunnelIpsecConfig": t.Ipsec, "TunnelBgpConfig": t.Bgp}
}

// tfIntFields are the integer fields of each block: d.Get gives 0 for them when unset.
var tfIntFields = map[string]string{"TunnelIkeConfig": "IkeLifetime", "TunnelIpsecConfig": "IpsecLifetime", "TunnelBgpConfig": "LocalAsn"}

// createElement is the element resourceAliCloudVpnGatewayVpnAttachmentCreate builds: the
// five scalars always (false, "" and 0 when unset: Role "" arrives as an empty
// TunnelOptionsSpecification.N.Role), the three blocks always (an empty map flattens to
// nothing), and in a given block its integer field even when unset (0) and the non-empty
// strings.
func (t tfTunnel) createElement() map[string]any {
	el := map[string]any{"CustomerGatewayId": t.Cgw, "EnableDpd": t.Dpd, "EnableNatTraversal": t.Nat, "Role": t.Role, "TunnelIndex": t.Index}
	for name, blk := range t.blocks() {
		m := map[string]any{}
		if blk != nil {
			m[tfIntFields[name]] = 0
			for k, v := range blk {
				if v != "" {
					m[k] = v
				}
			}
		}
		el[name] = m
	}
	return el
}

// updateElement is the element its Update builds from d.Get (configuration merged with
// state): the scalars always, a block when the state holds one, in it every field but
// empty strings. TunnelId is never sent: the provider names tunnels by TunnelIndex.
func (t tfTunnel) updateElement() map[string]any {
	el := map[string]any{"CustomerGatewayId": t.Cgw, "EnableDpd": t.Dpd, "EnableNatTraversal": t.Nat, "Role": t.Role, "TunnelIndex": t.Index}
	for name, blk := range t.blocks() {
		if len(blk) == 0 {
			continue
		}
		m := map[string]any{}
		for k, v := range blk {
			if v != "" {
				m[k] = v
			}
		}
		el[name] = m
	}
	return el
}

func tfElements(ts []tfTunnel, create bool) []any {
	var out []any
	for _, t := range tfSetOrder(ts) {
		if create {
			out = append(out, t.createElement())
		} else {
			out = append(out, t.updateElement())
		}
	}
	return out
}

// readTunnels is the tunnel part of the Read: jsonpath $.TunnelOptionsSpecification.TunnelOptions,
// then unchecked assertions (a list of objects; TunnelBgpConfig, TunnelIkeConfig and
// TunnelIpsecConfig objects when present), formatBool on EnableDpd and EnableNatTraversal,
// formatInt on LocalAsn, IkeLifetime and IpsecLifetime; a block is set when its object has
// keys.
func (p *tfProvider) readTunnels(o map[string]any) []tfTunnel {
	p.t.Helper()
	raw := dig(o, "TunnelOptionsSpecification", "TunnelOptions")
	if raw == nil {
		return nil
	}
	list, ok := raw.([]any)
	if !ok {
		p.t.Fatalf("TunnelOptionsSpecification.TunnelOptions is %T: the provider asserts a list (and panics)", raw)
	}
	str := func(what string, v any) string {
		if v == nil {
			return ""
		}
		s, ok := v.(string)
		if !ok {
			p.t.Errorf("%s is %T %v; the provider sets it as a string", what, v, v)
		}
		return s
	}
	block := func(what string, v any, ints string, keys ...string) map[string]any {
		if v == nil {
			return nil
		}
		m, ok := v.(map[string]any)
		if !ok {
			p.t.Fatalf("%s is %T: the provider asserts an object (and panics)", what, v)
		}
		if len(m) == 0 {
			return nil
		}
		out := map[string]any{ints: p.formatInt(what+"."+ints, m[ints])}
		for _, k := range keys {
			out[k] = str(what+"."+k, m[k])
		}
		return out
	}
	var out []tfTunnel
	for i, it := range list {
		m, ok := it.(map[string]any)
		if !ok {
			p.t.Fatalf("TunnelOptions[%d] is %T: the provider asserts an object (and panics)", i, it)
		}
		w := fmt.Sprintf("TunnelOptions[%d]", i)
		idx, ok := m["TunnelIndex"].(float64)
		if !ok {
			p.t.Errorf("%s.TunnelIndex is %T %v; tunnel_index is an integer", w, m["TunnelIndex"], m["TunnelIndex"])
		}
		t := tfTunnel{Index: int(idx), Cgw: str(w+".CustomerGatewayId", m["CustomerGatewayId"]), Role: str(w+".Role", m["Role"]),
			Dpd: p.formatBool(w+".EnableDpd", m["EnableDpd"]), Nat: p.formatBool(w+".EnableNatTraversal", m["EnableNatTraversal"]),
			ID: str(w+".TunnelId", m["TunnelId"]), InternetIp: str(w+".InternetIp", m["InternetIp"]), ZoneNo: str(w+".ZoneNo", m["ZoneNo"]),
			State: str(w+".State", m["State"]), Status: str(w+".Status", m["Status"]),
			Ike: block(w+".TunnelIkeConfig", m["TunnelIkeConfig"], "IkeLifetime", "IkeAuthAlg", "IkeEncAlg", "IkeMode", "IkePfs", "IkeVersion",
				"LocalId", "Psk", "RemoteId"),
			Ipsec: block(w+".TunnelIpsecConfig", m["TunnelIpsecConfig"], "IpsecLifetime", "IpsecAuthAlg", "IpsecEncAlg", "IpsecPfs"),
			Bgp:   block(w+".TunnelBgpConfig", m["TunnelBgpConfig"], "LocalAsn", "LocalBgpIp", "TunnelCidr")}
		if b, _ := m["TunnelBgpConfig"].(map[string]any); len(b) > 0 {
			t.PeerAsn, t.PeerBgpIp, t.BgpStatus = str(w+".PeerAsn", b["PeerAsn"]), str(w+".PeerBgpIp", b["PeerBgpIp"]), str(w+".BgpStatus", b["BgpStatus"])
		}
		out = append(out, t)
	}
	return out
}

// sameTunnels asserts that the state holds every configured value, so the next plan shows
// no change: each block is found by its set identity (tunnel_index, customer_gateway_id),
// and every field the configuration sets reads back equal.
func (p *tfProvider) sameTunnels(what string, config, state []tfTunnel) {
	p.t.Helper()
	if len(state) != len(config) {
		p.t.Fatalf("%s: %d tunnels read back, %d configured: %+v", what, len(state), len(config), state)
	}
	for _, c := range config {
		i := slices.IndexFunc(state, func(s tfTunnel) bool { return s.Index == c.Index && s.Cgw == c.Cgw })
		if i < 0 {
			p.t.Errorf("%s: no tunnel %d of %s read back (Terraform would plan to replace the block): %+v", what, c.Index, c.Cgw, state)
			continue
		}
		s := state[i]
		if (c.Role != "" && s.Role != c.Role) || s.Dpd != c.Dpd || s.Nat != c.Nat {
			p.t.Errorf("%s: tunnel %d role/enable_dpd/enable_nat_traversal read back %q/%v/%v, configured %q/%v/%v", what, c.Index, s.Role, s.Dpd, s.Nat, c.Role, c.Dpd, c.Nat)
		}
		for name, blk := range c.blocks() {
			got := s.blocks()[name]
			for k, v := range blk {
				if fmt.Sprint(got[k]) != fmt.Sprint(v) {
					p.t.Errorf("%s: tunnel %d %s.%s read back %v, configured %v", what, c.Index, name, k, got[k], v)
				}
			}
		}
	}
}

// vpnAttachment is the resource's Create: CreateVpnAttachment (retrying Appliance.Configuring,
// VpnGateway.Configuring, VpnTask.CONFLICT, TaskConflict and throttling), then its Update on
// a new resource (no call: tags unset), then its Read. top holds what the configuration
// sets at the top level; the provider adds RegionId and ClientToken.
func (p *tfProvider) vpnAttachment(top map[string]any, tunnels []tfTunnel) (string, map[string]any) {
	p.t.Helper()
	body := map[string]any{"RegionId": regionHZ, "ClientToken": token("CreateVpnAttachment"), "TunnelOptionsSpecification": tfElements(tunnels, true)}
	for k, v := range top {
		body[k] = v
	}
	resp := p.postRetry("Vpc", "CreateVpnAttachment", nil, body, "Appliance.Configuring", "VpnGateway.Configuring", "VpnTask.CONFLICT", "TaskConflict")
	id := fmt.Sprint(resp["VpnConnectionId"])
	o := p.readVpnConnection(id)
	p.sameTunnels("alicloud_vpn_gateway_vpn_attachment after create", tunnels, p.readTunnels(o))
	p.dualTopLevel(o)
	return id, o
}

// dualTopLevel checks what the Read of a dual-tunnel connection sets at the top level:
// customer_gateway_id is Optional and not Computed, so anything but "" there differs from
// a configuration that (dual-tunnel) leaves it out, and every plan would then send
// ModifyVpnAttachmentAttribute with CustomerGatewayId "".
func (p *tfProvider) dualTopLevel(o map[string]any) {
	p.t.Helper()
	if o["CustomerGatewayId"] != "" {
		p.t.Errorf("DescribeVpnConnection of a dual-tunnel connection: CustomerGatewayId %v; want \"\" (customer_gateway_id is not Computed: a value is a permanent diff)", o["CustomerGatewayId"])
	}
}

// modifyVpnAttachment is the resource's Update with changes: ModifyVpnAttachmentAttribute
// with VpnConnectionId, RegionId, ClientToken, LocalSubnet and RemoteSubnet always, the
// changed top-level fields, and (tunnels != nil: a block changed) every block of d.Get in
// set order; VpnConnection.Configuring, Appliance.Configuring, VpnTask.CONFLICT and
// VpnGateway.Configuring are retried. MoveVpnResourceGroup and tags have nothing to do.
// Then the Read.
func (p *tfProvider) modifyVpnAttachment(id, local, remote string, changed map[string]any, tunnels []tfTunnel) map[string]any {
	p.t.Helper()
	body := map[string]any{"VpnConnectionId": id, "RegionId": regionHZ, "ClientToken": token("ModifyVpnAttachmentAttribute"), "LocalSubnet": local, "RemoteSubnet": remote}
	for k, v := range changed {
		body[k] = v
	}
	if tunnels != nil {
		body["TunnelOptionsSpecification"] = tfElements(tunnels, false)
	}
	p.postRetry("Vpc", "ModifyVpnAttachmentAttribute", nil, body, "VpnConnection.Configuring", "Appliance.Configuring", "VpnTask.CONFLICT", "VpnGateway.Configuring")
	o := p.readVpnConnection(id)
	if tunnels != nil {
		p.sameTunnels("alicloud_vpn_gateway_vpn_attachment after update", tunnels, p.readTunnels(o))
	}
	return o
}

// deleteVpnAttachment is the resource's Delete (NeedRetry retried, NotFound is done).
func (p *tfProvider) deleteVpnAttachment(id string) {
	p.t.Helper()
	for {
		_, err := p.try("Vpc", "DeleteVpnAttachment", nil, map[string]any{"VpnConnectionId": id, "RegionId": regionHZ, "ClientToken": token("DeleteVpnAttachment")})
		if e, ok := asAPIError(err); ok && e.Status >= 500 {
			time.Sleep(pollEvery)
			continue
		}
		if err != nil && !notFound(err) {
			p.t.Fatalf("DeleteVpnAttachment: %v", describeErr(err))
		}
		break
	}
	// The next refresh reads it gone.
	if _, err := p.try("Vpc", "DescribeVpnConnection", nil, map[string]any{"VpnConnectionId": id, "RegionId": regionHZ}); !notFound(err) {
		p.t.Errorf("DescribeVpnConnection after DeleteVpnAttachment: %v; the provider reads only InvalidVpnConnectionInstanceId.NotFound as gone", describeErr(err))
	}
}

func cloneTunnels(ts []tfTunnel) []tfTunnel {
	out := slices.Clone(ts)
	for i := range out {
		out[i].Ike, out[i].Ipsec, out[i].Bgp = maps.Clone(out[i].Ike), maps.Clone(out[i].Ipsec), maps.Clone(out[i].Bgp)
	}
	return out
}

func tunnelIndex(ts []tfTunnel, index int) *tfTunnel {
	for i := range ts {
		if ts[i].Index == index {
			return &ts[i]
		}
	}
	return nil
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
// alicloud_cen_transit_router_vpn_attachment as written: its alicloud_vpn_gateway_vpn_attachment
// is a dual-tunnel connection (roles given), attached with no zone (the documentation: "Left
// blank if associated IPSec connection is in dual-tunnel mode"); then in-place changes
// (the tunnels' roles swapped while attached, the attachment's publishing, name and tags,
// the CIDR block, the transit router), import and destroy.
func TestTerraformVpnAttachmentExamples(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	p := newTFProvider(t, srv, srv.CreateAccount(t, "tf-vpn"))
	const name = "tf_example"

	cen := p.cenInstance(name, "")
	tr := p.transitRouter(cen, name, name)
	cgw := fmt.Sprint(p.customerGateway(name, "42.104.22.210", "45014", name)["CustomerGatewayId"])

	// alicloud_vpn_gateway_vpn_attachment.example.
	tunnel := func(index int, role string) tfTunnel {
		n := fmt.Sprint(index)
		return tfTunnel{Index: index, Cgw: cgw, Role: role, Dpd: true, Nat: true,
			Ike: map[string]any{"IkeAuthAlg": "md5", "IkeEncAlg": "des", "IkeVersion": "ikev2", "IkeMode": "main", "IkeLifetime": 86400,
				"Psk": "tf-examplevpn" + n, "IkePfs": "group1", "RemoteId": "examplebob" + n, "LocalId": "examplealice" + n},
			Ipsec: map[string]any{"IpsecPfs": "group5", "IpsecEncAlg": "des", "IpsecAuthAlg": "md5", "IpsecLifetime": 86400}}
	}
	config := []tfTunnel{tunnel(1, "master"), tunnel(2, "slave")}
	vco, _ := p.vpnAttachment(map[string]any{"NetworkType": "public", "LocalSubnet": "0.0.0.0/0", "RemoteSubnet": "0.0.0.0/0",
		"EffectImmediately": false, "Name": name}, config)

	// alicloud_cen_transit_router_cidr.example.
	cidr := fmt.Sprint(p.post("Cbn", "CreateTransitRouterCidr", nil, map[string]any{"TransitRouterId": tr, "RegionId": regionHZ, "ClientToken": token("CreateTransitRouterCidr"),
		"Description": name, "PublishCidrRoute": true, "Cidr": "192.168.0.0/16", "Name": name})["TransitRouterCidrId"])
	if c, ok := p.readTRCidr(tr, cidr); !ok {
		t.Fatalf("alicloud_cen_transit_router_cidr %s: gone", cidr)
	} else {
		p.reads("alicloud_cen_transit_router_cidr", c, "Cidr:s Description:s PublishCidrRoute:b Name:s TransitRouterCidrId:s TransitRouterId:s")
	}

	// alicloud_cen_transit_router_vpn_attachment.example: no zone block, so no Zone.N.
	att := fmt.Sprint(p.postRetry("Cbn", "CreateTransitRouterVpnAttachment", nil, map[string]any{"RegionId": regionHZ, "ClientToken": token("CreateTransitRouterVpnAttachment"),
		"CenId": cen, "TransitRouterAttachmentName": name, "VpnId": vco, "TransitRouterId": tr, "AutoPublishRouteEnabled": false,
		"TransitRouterAttachmentDescription": name}, "OperationFailed.AllocateCidrFailed", "IncorrectStatus.Status", "Operation.Blocking")["TransitRouterAttachmentId"])
	p.waitState("VPN attachment "+att, "Attached", p.trVpnAttachmentState(att))
	o := p.readTRVpnAttachment(att)
	if o["AutoPublishRouteEnabled"] != false || o["VpnId"] != vco {
		t.Fatalf("alicloud_cen_transit_router_vpn_attachment after apply: %v", o)
	}
	// zone is Optional and ForceNew but not Computed: zones read back for a zone-less
	// attachment would differ from the configuration and replace the attachment on every plan.
	if z, _ := o["Zones"].([]any); len(z) != 0 {
		t.Errorf("alicloud_cen_transit_router_vpn_attachment without zone reads back Zones %v: the next plan would replace it; want []", z)
	}

	// Refreshed after the attachment: each tunnel has its own address and zone.
	v := p.readVpnConnection(vco)
	state := p.readTunnels(v)
	p.sameTunnels("alicloud_vpn_gateway_vpn_attachment attached", config, state)
	t1, t2 := tunnelIndex(state, 1), tunnelIndex(state, 2)
	if v["State"] != "attached" || t1 == nil || t2 == nil || !inPrefix(t1.InternetIp, pubPool) || !inPrefix(t2.InternetIp, pubPool) || t1.InternetIp == t2.InternetIp ||
		t1.ZoneNo != "cn-hangzhou-h" || t2.ZoneNo != "cn-hangzhou-i" {
		t.Fatalf("attached dual-tunnel connection: State %v, tunnels %+v; want attached, two addresses of %s in cn-hangzhou-h and cn-hangzhou-i", v["State"], state, pubPool)
	}

	// In-place changes. The roles swapped: both blocks from the state, in set order.
	swapped := cloneTunnels(state)
	tunnelIndex(swapped, 1).Role, tunnelIndex(swapped, 2).Role = "slave", "master"
	p.modifyVpnAttachment(vco, "0.0.0.0/0", "0.0.0.0/0", nil, swapped)
	// The attachment's changes follow at once (Terraform does not wait for the connection);
	// the provider retries IncorrectStatus.Status and Operation.Blocking.
	p.postRetry("Cbn", "UpdateTransitRouterVpnAttachmentAttribute", nil, map[string]any{"TransitRouterAttachmentId": att, "ClientToken": token("UpdateTransitRouterVpnAttachmentAttribute"),
		"AutoPublishRouteEnabled": true, "TransitRouterAttachmentName": name + "2"}, "IncorrectStatus.Status", "Operation.Blocking")
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
	p.waitState("connection "+vco, "attached", func() (string, bool) { return fmt.Sprint(p.readVpnConnection(vco)["State"]), false })

	// Import: each resource from its ID alone; the swapped roles and the same addresses.
	p.readTRVpnAttachment(att)
	imported := p.readTunnels(p.readVpnConnection(vco))
	p.sameTunnels("imported alicloud_vpn_gateway_vpn_attachment", swapped, imported)
	for _, tu := range imported {
		if was := tunnelIndex(state, tu.Index); was == nil || tu.InternetIp != was.InternetIp || tu.ZoneNo != was.ZoneNo || tu.State != "active" {
			t.Errorf("tunnel %d after the roles changed: %+v; want its address and zone kept, State active", tu.Index, tu)
		}
	}
	p.readTRCidr(tr, cidr)

	// Destroy.
	if _, err := p.try("Cbn", "DeleteTransitRouterVpnAttachment", nil, map[string]any{"TransitRouterAttachmentId": att,
		"ClientToken": token("DeleteTransitRouterVpnAttachment")}); err != nil && !notFound(err) {
		t.Fatalf("DeleteTransitRouterVpnAttachment: %v", describeErr(err))
	}
	p.waitState("VPN attachment "+att+" deleted", "", p.trVpnAttachmentState(att))
	p.post("Cbn", "DeleteTransitRouterCidr", nil, map[string]any{"TransitRouterCidrId": cidr, "TransitRouterId": tr, "RegionId": regionHZ,
		"ClientToken": token("DeleteTransitRouterCidr")})
	p.deleteVpnAttachment(vco)
	p.deleteCustomerGateway(cgw)
	p.deleteTR(tr)
	p.deleteCen(cen)
	p.summary()
}

// TestTerraformVpnGatewayVpnAttachmentExamples replays the two documentation examples of
// alicloud_vpn_gateway_vpn_attachment: "Basic Usage" (two tunnels, roles left to the
// server, one customer gateway) with an in-place change of one tunnel, import and destroy;
// and "Dual Tunnel Mode Usage" (EnableTunnelsBgp, a BGP block per tunnel, a resource group),
// plus that example with local_asn left out, which the provider sends as LocalAsn=0.
func TestTerraformVpnGatewayVpnAttachmentExamples(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	p := newTFProvider(t, srv, srv.CreateAccount(t, "tf-vpn-gw"))

	// Basic Usage.
	const name = "tf-example"
	cgw := fmt.Sprint(p.customerGateway(name, "42.104.22.210", "45014", name)["CustomerGatewayId"])
	basicTunnel := func(index int) tfTunnel {
		return tfTunnel{Index: index, Cgw: cgw, Dpd: true, Nat: true,
			Ike: map[string]any{"IkeVersion": "ikev2", "IkeMode": "main", "IkeAuthAlg": "sha256", "IkeEncAlg": "aes", "IkePfs": "group2", "IkeLifetime": 86400,
				"Psk": fmt.Sprintf("tf-example-psk%d", index), "LocalId": "42.104.22.210", "RemoteId": "42.104.22.210"},
			Ipsec: map[string]any{"IpsecAuthAlg": "sha256", "IpsecEncAlg": "aes", "IpsecPfs": "group2", "IpsecLifetime": 86400}}
	}
	basic := []tfTunnel{basicTunnel(1), basicTunnel(2)}
	id, o := p.vpnAttachment(map[string]any{"Name": name, "NetworkType": "public", "LocalSubnet": "0.0.0.0/0", "RemoteSubnet": "0.0.0.0/0",
		"EffectImmediately": false}, basic)
	state := p.readTunnels(o)
	if r1, r2 := tunnelIndex(state, 1), tunnelIndex(state, 2); r1 == nil || r2 == nil || r1.Role != "master" || r2.Role != "slave" || o["Name"] != name ||
		o["EnableTunnelsBgp"] != false || o["State"] != "init" {
		t.Fatalf("Basic Usage after apply (role unset: sent as \"\"): Name %v EnableTunnelsBgp %v State %v tunnels %+v; want tunnel 1 master, tunnel 2 slave",
			o["Name"], o["EnableTunnelsBgp"], o["State"], state)
	}
	for _, tu := range state {
		if !strings.HasPrefix(tu.ID, "tun-") || tu.State != "active" || tu.Status != "ike_sa_not_established" {
			t.Errorf("tunnel %d: TunnelId %q State %q Status %q; want tun-…, active, ike_sa_not_established", tu.Index, tu.ID, tu.State, tu.Status)
		}
	}

	// In-place: vpn_attachment_name and tunnel 1's psk and ike_enc_alg. The provider sends
	// both blocks from d.Get (state merged with the configuration), by TunnelIndex.
	next := cloneTunnels(state)
	tunnelIndex(next, 1).Ike["Psk"], tunnelIndex(next, 1).Ike["IkeEncAlg"] = "tf-example-psk1b", "aes256"
	o = p.modifyVpnAttachment(id, "0.0.0.0/0", "0.0.0.0/0", map[string]any{"Name": name + "-2"}, next)
	if o["Name"] != name+"-2" {
		t.Errorf("vpn_attachment_name after update: %v", o["Name"])
	}
	if after := tunnelIndex(p.readTunnels(o), 2); after == nil || after.Ike["Psk"] != "tf-example-psk2" || after.ID != tunnelIndex(state, 2).ID {
		t.Errorf("tunnel 2 after changing tunnel 1: %+v; want it unchanged", after)
	}
	// Import.
	p.sameTunnels("imported Basic Usage", next, p.readTunnels(p.readVpnConnection(id)))
	p.deleteVpnAttachment(id)
	p.deleteCustomerGateway(cgw)

	// Dual Tunnel Mode Usage. data.alicloud_resource_manager_resource_groups is
	// ResourceManager's ListResourceGroups, which OpenCEN does not serve: ids.0 is the
	// account's only resource group, taken here from the customer gateway's Read.
	g1 := p.customerGateway("", "2.2.2.2", "1219001", "")
	cgw1, rg := fmt.Sprint(g1["CustomerGatewayId"]), fmt.Sprint(g1["ResourceGroupId"])
	cgw2 := fmt.Sprint(p.customerGateway("example_amp", "43.43.3.22", "44331", "")["CustomerGatewayId"])
	bgpTunnels := []tfTunnel{
		{Index: 1, Cgw: cgw1, Dpd: true, Nat: true,
			Ipsec: map[string]any{"IpsecLifetime": 86200, "IpsecPfs": "group5", "IpsecAuthAlg": "md5", "IpsecEncAlg": "aes"},
			Bgp:   map[string]any{"LocalAsn": 1219001, "LocalBgpIp": "169.254.10.1", "TunnelCidr": "169.254.10.0/30"},
			Ike: map[string]any{"IkeMode": "main", "IkeVersion": "ikev1", "Psk": "12345678", "RemoteId": "2.2.2.2", "IkeAuthAlg": "md5", "IkeEncAlg": "aes",
				"IkeLifetime": 86100, "IkePfs": "group2", "LocalId": "1.1.1.1"}},
		{Index: 2, Cgw: cgw1, Dpd: true, Nat: true,
			Ipsec: map[string]any{"IpsecEncAlg": "aes", "IpsecLifetime": 86400, "IpsecPfs": "group5", "IpsecAuthAlg": "sha256"},
			Bgp:   map[string]any{"LocalAsn": 1219001, "LocalBgpIp": "169.254.20.1", "TunnelCidr": "169.254.20.0/30"},
			Ike: map[string]any{"LocalId": "4.4.4.4", "RemoteId": "5.5.5.5", "IkeLifetime": 86400, "IkeMode": "main", "IkePfs": "group5", "IkeVersion": "ikev2",
				"IkeAuthAlg": "md5", "IkeEncAlg": "aes", "Psk": "32333442"}},
	}
	top := map[string]any{"LocalSubnet": "0.0.0.0/0", "EnableTunnelsBgp": true, "Name": "tfaccvpngateway25800", "RemoteSubnet": "0.0.0.0/0",
		"NetworkType": "public", "ResourceGroupId": rg}
	bgpID, o := p.vpnAttachment(top, bgpTunnels)
	if o["EnableTunnelsBgp"] != true || o["ResourceGroupId"] != rg {
		t.Errorf("Dual Tunnel Mode Usage: EnableTunnelsBgp %v ResourceGroupId %v; want true, %s", o["EnableTunnelsBgp"], o["ResourceGroupId"], rg)
	}
	for _, tu := range p.readTunnels(o) {
		peer := fmt.Sprintf("169.254.%d0.2", tu.Index)
		if tu.PeerAsn != "1219001" || tu.PeerBgpIp != peer || (tu.Role != "master" && tu.Role != "slave") {
			t.Errorf("Dual Tunnel Mode Usage tunnel %d: role %q peer_asn %q peer_bgp_ip %q; want master/slave, 1219001 (the customer gateway's), %s", tu.Index, tu.Role, tu.PeerAsn, tu.PeerBgpIp, peer)
		}
	}

	// The same without local_asn: the provider sends TunnelBgpConfig.LocalAsn=0 (d.Get's
	// zero value), which must mean "not given" (the default 45104), as TunnelIndex 0 does.
	noAsn := cloneTunnels(bgpTunnels)
	for i := range noAsn {
		delete(noAsn[i].Bgp, "LocalAsn")
		noAsn[i].Bgp["TunnelCidr"], noAsn[i].Bgp["LocalBgpIp"] = fmt.Sprintf("169.254.%d1.0/30", i+1), fmt.Sprintf("169.254.%d1.1", i+1)
	}
	body := map[string]any{"RegionId": regionHZ, "ClientToken": token("CreateVpnAttachment"), "TunnelOptionsSpecification": tfElements(noAsn, true)}
	for k, v := range top {
		body[k] = v
	}
	body["Name"] = "no-local-asn"
	if resp, err := p.try("Vpc", "CreateVpnAttachment", nil, body); err != nil {
		t.Errorf("CreateVpnAttachment as the provider sends it for tunnel_bgp_config without local_asn (TunnelBgpConfig.LocalAsn=0): %v", describeErr(err))
	} else {
		noAsnID := fmt.Sprint(resp["VpnConnectionId"])
		for _, tu := range p.readTunnels(p.readVpnConnection(noAsnID)) {
			if tu.Bgp["LocalAsn"] != 45104 {
				t.Errorf("tunnel %d created with LocalAsn=0 (local_asn unset): local_asn read back %v, want 45104 (the default)", tu.Index, tu.Bgp["LocalAsn"])
			}
		}
		p.deleteVpnAttachment(noAsnID)
	}

	// Import and destroy.
	p.sameTunnels("imported Dual Tunnel Mode Usage", bgpTunnels, p.readTunnels(p.readVpnConnection(bgpID)))
	p.deleteVpnAttachment(bgpID)
	p.deleteCustomerGateway(cgw1)
	p.deleteCustomerGateway(cgw2)
	p.summary()
}
