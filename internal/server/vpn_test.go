package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"opencen/internal/config"
	"strings"
	"testing"

	"opencen/internal/rpc"
)

func vpcCall(t *testing.T, c *rpc.Client, action string, params map[string]string) map[string]any {
	t.Helper()
	var out map[string]any
	if err := c.Call(context.Background(), "2016-04-28", action, params, &out); err != nil {
		t.Fatalf("%s %v: %v", action, params, err)
	}
	return out
}

func vpcErr(t *testing.T, c *rpc.Client, action string, params map[string]string) (code string, status int, msg string) {
	t.Helper()
	err := c.Call(context.Background(), "2016-04-28", action, params, nil)
	if err == nil {
		t.Fatalf("%s %v: want an error, got success", action, params)
	}
	e := apiErr(t, err)
	return e.Code, e.Status, e.Message
}

func path(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		v = v.(map[string]any)[k]
	}
	return v
}

// vpnSetup is a TR with a CIDR block, and a customer gateway with an ASN.
type vpnSetup struct{ cen, tr, cgw string }

func newVpnSetup(t *testing.T, c *rpc.Client) vpnSetup {
	cen := activeCen(t, c)
	tr := activeTR(t, c, cen)
	call(t, c, "CreateTransitRouterCidr", map[string]string{"TransitRouterId": tr, "RegionId": "cn-hangzhou", "Cidr": "192.168.200.0/24"})
	cgw := vpcCall(t, c, "CreateCustomerGateway", map[string]string{"RegionId": "cn-hangzhou", "IpAddress": "198.18.0.2", "Asn": "65010", "AuthKey": "md5key", "Name": "dc1"})["CustomerGatewayId"].(string)
	return vpnSetup{cen, tr, cgw}
}

func vcoState(t *testing.T, c *rpc.Client, id string) map[string]any {
	return vpcCall(t, c, "DescribeVpnConnection", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": id})
}

func attachmentStatus(t *testing.T, c *rpc.Client, id string) string {
	list := call(t, c, "ListTransitRouterVpnAttachments", map[string]string{"TransitRouterAttachmentId": id})["TransitRouterAttachments"].([]any)
	if len(list) == 0 {
		return ""
	}
	return list[0].(map[string]any)["Status"].(string)
}

func TestVpnAttachmentFlow(t *testing.T) {
	e := newEnv(t)
	c := e.account("alice")
	s := newVpnSetup(t, c)

	vco := vpcCall(t, c, "CreateVpnAttachment", map[string]string{
		"RegionId": "cn-hangzhou", "CustomerGatewayId": s.cgw, "Name": "to-dc1", "LocalSubnet": "0.0.0.0/0", "RemoteSubnet": "0.0.0.0/0",
		"EffectImmediately": "true", "EnableDpd": "false",
		"IkeConfig":         `{"Psk":"p@ss~word","IkeVersion":"ikev1","IkeMode":"aggressive","IkeEncAlg":"aes256","IkeAuthAlg":"sha256","IkePfs":"group14","IkeLifetime":3600,"LocalId":"cloud.example.com","RemoteId":"dc.example.net"}`,
		"IpsecConfig":       `{"IpsecEncAlg":"3des","IpsecAuthAlg":"md5","IpsecPfs":"disabled","IpsecLifetime":"1800"}`,
		"BgpConfig":         `{"EnableBgp":true,"LocalAsn":"123.456","TunnelCidr":"169.254.11.0/30","LocalBgpIp":"169.254.11.1"}`,
		"HealthCheckConfig": `{"enable":true,"dip":"192.168.10.1","sip":"10.0.0.1","interval":5,"retry":4,"Policy":"reserve_route"}`,
		"Tag.1.Key":         "env", "Tag.1.Value": "prod",
	})
	if vco["Code"] != "200" || vco["Success"] != true {
		t.Fatalf("CreateVpnAttachment envelope: %v", vco)
	}
	id := vco["VpnConnectionId"].(string)
	got := vcoState(t, c, id)
	for k, want := range map[string]any{"State": "init", "AttachType": "NO_ASSOCIATED", "Status": "ike_sa_not_established", "EffectImmediately": true,
		"EnableDpd": false, "EnableNatTraversal": true, "NetworkType": "public", "Name": "to-dc1"} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	ike := got["IkeConfig"].(map[string]any)
	if ike["IkeVersion"] != "ikev1" || ike["IkeMode"] != "aggressive" || ike["IkeEncAlg"] != "aes256" || ike["IkePfs"] != "group14" ||
		ike["IkeLifetime"] != float64(3600) || ike["Psk"] != "p@ss~word" || ike["LocalId"] != "cloud.example.com" {
		t.Errorf("IkeConfig: %v", ike)
	}
	if ipsec := got["IpsecConfig"].(map[string]any); ipsec["IpsecPfs"] != "disabled" || ipsec["IpsecLifetime"] != float64(1800) || ipsec["IpsecEncAlg"] != "3des" {
		t.Errorf("IpsecConfig: %v", ipsec)
	}
	bgp := got["VpnBgpConfig"].(map[string]any)
	if bgp["EnableBgp"] != "true" || bgp["LocalAsn"] != float64(8061384) || bgp["PeerAsn"] != float64(65010) || bgp["PeerBgpIp"] != "169.254.11.2" {
		t.Errorf("VpnBgpConfig: %v", bgp)
	}
	hc := got["VcoHealthCheck"].(map[string]any)
	if hc["Enable"] != "true" || hc["Interval"] != float64(5) || hc["Retry"] != float64(4) || hc["Policy"] != "reserve_route" || hc["Dip"] != "192.168.10.1" {
		t.Errorf("VcoHealthCheck: %v", hc)
	}
	if tags := path(got, "Tags", "Tag").([]any); len(tags) != 1 {
		t.Errorf("Tags: %v", tags)
	}

	att := call(t, c, "CreateTransitRouterVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "TransitRouterId": s.tr, "VpnId": id,
		"TransitRouterAttachmentName": "att", "Zone.1.ZoneId": "cn-hangzhou-i"})["TransitRouterAttachmentId"].(string)
	if !strings.HasPrefix(att, "tr-attach-") {
		t.Fatalf("attachment ID %q", att)
	}
	if st := vcoState(t, c, id)["State"]; st != "attaching" {
		t.Fatalf("connection while attaching: %v", st)
	}
	waitFor(t, "Attached", func() bool { return attachmentStatus(t, c, att) == "Attached" })
	got = vcoState(t, c, id)
	ip, err := netip.ParseAddr(got["InternetIp"].(string))
	if got["State"] != "attached" || got["AttachType"] != "CEN" || got["TransitRouterId"] != s.tr || got["AttachInstanceId"] != s.cen ||
		err != nil || !netip.MustParsePrefix("198.18.100.0/24").Contains(ip) || got["Status"] != "ike_sa_not_established" || got["ZoneNo"] != "cn-hangzhou-i" {
		t.Fatalf("attached connection: %v", got)
	}
	item := call(t, c, "ListTransitRouterVpnAttachments", map[string]string{"TransitRouterId": s.tr})["TransitRouterAttachments"].([]any)[0].(map[string]any)
	if item["AutoPublishRouteEnabled"] != true || item["VpnId"] != id || item["ResourceType"] != "VPN" || item["CenId"] != s.cen {
		t.Fatalf("attachment: %v", item)
	}
	// The system routing policy arrived with the first VPN attachment.
	maps := path(call(t, c, "DescribeCenRouteMaps", map[string]string{"CenId": s.cen}), "RouteMaps", "RouteMap").([]any)
	if len(maps) != 1 || maps[0].(map[string]any)["Priority"] != float64(5000) || maps[0].(map[string]any)["MapResult"] != "Deny" ||
		maps[0].(map[string]any)["TransmitDirection"] != "RegionOut" {
		t.Fatalf("route maps: %v", maps)
	}
	var acct struct{ ServiceLinkedRoles []string }
	if err := c.Call(context.Background(), "2026-11-01", "DescribeAccount", nil, &acct); err != nil || len(acct.ServiceLinkedRoles) != 1 || acct.ServiceLinkedRoles[0] != "AliyunServiceRoleForVpn" {
		t.Fatalf("service-linked role: %v %v", acct, err)
	}

	// Refusals while attached.
	if code, _, _ := vpcErr(t, c, "DeleteVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": id}); code != "IncorrectStatus.VpnConnection" {
		t.Fatalf("delete attached connection: %s", code)
	}
	if code, _, _ := vpcErr(t, c, "DeleteCustomerGateway", map[string]string{"RegionId": "cn-hangzhou", "CustomerGatewayId": s.cgw}); code != "DependencyViolation.VpnConnection" {
		t.Fatalf("delete used gateway: %s", code)
	}
	if e := cbnErr(t, c, "DeleteTransitRouter", map[string]string{"TransitRouterId": s.tr}); e.Code != "DependencyViolation.TransitRouterAttachment" {
		t.Fatalf("delete TR with attachment: %v", e)
	}

	// Modify: attached -> updating -> attached.
	mod := vpcCall(t, c, "ModifyVpnAttachmentAttribute", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": id, "Name": "renamed",
		"IkeConfig": `{"IkeEncAlg":"aes"}`, "HealthCheckConfig": `{"Enable":false}`})
	if mod["Name"] != "renamed" || path(mod, "IkeConfig", "IkeEncAlg") != "aes" || path(mod, "IkeConfig", "IkeMode") != "aggressive" {
		t.Fatalf("modify answer: %v", mod)
	}
	if st := vcoState(t, c, id)["State"]; st != "updating" {
		t.Fatalf("state after modify: %v", st)
	}
	if code, _, _ := vpcErr(t, c, "ModifyVpnAttachmentAttribute", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": id, "Name": "again"}); code != "VpnConnection.Configuring" {
		t.Fatalf("modify while updating: %s", code)
	}
	waitFor(t, "back to attached", func() bool { return vcoState(t, c, id)["State"] == "attached" })

	// Download: the customer's side, swapped.
	dl := path(vpcCall(t, c, "DownloadVpnConnectionConfig", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": id}), "VpnConnectionConfig").(map[string]any)
	if dl["Local"] != "198.18.0.2" || dl["Remote"] != ip.String() || path(dl, "IkeConfig", "LocalId") != "dc.example.net" || path(dl, "IkeConfig", "RemoteId") != "cloud.example.com" {
		t.Fatalf("download: %v", dl)
	}
	logs := vpcCall(t, c, "DescribeVpnConnectionLogs", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": id, "MinutePeriod": "10"})
	if lines := path(logs, "Data", "Logs").([]any); len(lines) < 3 || !strings.Contains(fmt.Sprint(lines), "attached to transit router") {
		t.Fatalf("logs: %v", logs)
	}

	// Detach -> init; then delete everything.
	call(t, c, "DeleteTransitRouterVpnAttachment", map[string]string{"TransitRouterAttachmentId": att})
	waitFor(t, "detached", func() bool { return attachmentStatus(t, c, att) == "" })
	got = vcoState(t, c, id)
	if got["State"] != "init" || got["AttachType"] != "NO_ASSOCIATED" || got["InternetIp"] != "" || got["TransitRouterId"] != "" {
		t.Fatalf("after detach: %v", got)
	}
	vpcCall(t, c, "DeleteVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": id})
	if code, status, _ := vpcErr(t, c, "DescribeVpnConnection", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": id}); code != "InvalidVpnConnectionInstanceId.NotFound" || status != 404 {
		t.Fatalf("deleted connection: %s %d", code, status)
	}
	vpcCall(t, c, "DeleteCustomerGateway", map[string]string{"RegionId": "cn-hangzhou", "CustomerGatewayId": s.cgw})
	call(t, c, "DeleteTransitRouter", map[string]string{"TransitRouterId": s.tr})
	waitFor(t, "TR gone", func() bool { return trStatus(t, c, s.tr) == "" })
}

func TestCrossAccountAttachment(t *testing.T) {
	e := newEnv(t)
	alice := e.account("alice") // owns the CEN
	bob := e.account("bob")     // owns the connection
	s := newVpnSetup(t, alice)
	var aliceAcct, bobAcct struct{ AccountId string }
	alice.Call(context.Background(), "2026-11-01", "DescribeAccount", nil, &aliceAcct)
	bob.Call(context.Background(), "2026-11-01", "DescribeAccount", nil, &bobAcct)
	cgw := vpcCall(t, bob, "CreateCustomerGateway", map[string]string{"RegionId": "cn-hangzhou", "IpAddress": "198.18.0.9"})["CustomerGatewayId"].(string)
	vco := vpcCall(t, bob, "CreateVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "CustomerGatewayId": cgw, "LocalSubnet": "10.0.0.0/16", "RemoteSubnet": "192.168.10.0/24,192.168.11.0/24"})["VpnConnectionId"].(string)
	attach := map[string]string{"RegionId": "cn-hangzhou", "CenId": s.cen, "VpnId": vco, "VpnOwnerId": bobAcct.AccountId}

	if e := cbnErr(t, alice, "CreateTransitRouterVpnAttachment", attach); e.Code != "Forbidden.InstanceNotGranted" || !strings.Contains(e.Message, "GrantInstanceToTransitRouter") {
		t.Fatalf("attach without grant: %v", e)
	}
	grant := map[string]string{"RegionId": "cn-hangzhou", "CenId": s.cen, "CenOwnerId": aliceAcct.AccountId, "InstanceId": vco, "InstanceType": "VPN"}
	if e := cbnErr(t, alice, "GrantInstanceToTransitRouter", grant); e.Code != "InvalidVpnConnectionInstanceId.NotFound" {
		t.Fatalf("granting someone else's connection: %v", e)
	}
	call(t, bob, "GrantInstanceToTransitRouter", grant)
	rules := call(t, bob, "DescribeGrantRulesToResource", map[string]string{"ProductType": "VPN", "ResourceId": vco, "RegionId": "cn-hangzhou"})["GrantRules"].([]any)
	if len(rules) != 1 || rules[0].(map[string]any)["CenId"] != s.cen || fmt.Sprint(int64(rules[0].(map[string]any)["CenOwnerId"].(float64))) != aliceAcct.AccountId {
		t.Fatalf("grant rules: %v", rules)
	}
	att := call(t, alice, "CreateTransitRouterVpnAttachment", attach)["TransitRouterAttachmentId"].(string)
	waitFor(t, "Attached", func() bool { return attachmentStatus(t, alice, att) == "Attached" })
	got := vcoState(t, bob, vco)
	if got["CrossAccountAuthorized"] != true || got["TransitRouterId"] != s.tr || got["State"] != "attached" {
		t.Fatalf("bob's connection: %v", got)
	}
	if e := cbnErr(t, bob, "RevokeInstanceFromTransitRouter", grant); e.Code != "IncorrectStatus.VpnConnection" {
		t.Fatalf("revoke while attached: %v", e)
	}
	// Alice cannot read or change bob's connection through the VPC API.
	if code, status, _ := vpcErr(t, alice, "DescribeVpnConnection", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": vco}); code != "InvalidVpnConnectionInstanceId.NotFound" || status != 404 {
		t.Fatalf("alice reads bob's connection: %s", code)
	}
	call(t, alice, "DeleteTransitRouterVpnAttachment", map[string]string{"TransitRouterAttachmentId": att})
	waitFor(t, "detached", func() bool { return vcoState(t, bob, vco)["State"] == "init" })
	call(t, bob, "RevokeInstanceFromTransitRouter", grant)
	if e := cbnErr(t, alice, "CreateTransitRouterVpnAttachment", attach); e.Code != "Forbidden.InstanceNotGranted" {
		t.Fatalf("attach after revoke: %v", e)
	}
}

func TestPrivateConnectionsAndQuotas(t *testing.T) {
	e := newEnv(t)
	c := e.account("alice")
	s := newVpnSetup(t, c)
	var acct struct{ AccountId string }
	c.Call(context.Background(), "2026-11-01", "DescribeAccount", nil, &acct)
	newVco := func(network, cidr string) string {
		p := map[string]string{"RegionId": "cn-hangzhou", "CustomerGatewayId": s.cgw, "NetworkType": network}
		if cidr != "" {
			p["BgpConfig"] = fmt.Sprintf(`{"EnableBgp":"true","TunnelCidr":"%s","LocalBgpIp":"%s"}`, cidr, netip.MustParsePrefix(cidr).Addr().Next())
		}
		return vpcCall(t, c, "CreateVpnAttachment", p)["VpnConnectionId"].(string)
	}
	priv := newVco("private", "169.254.20.0/30")
	att := call(t, c, "CreateTransitRouterVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "TransitRouterId": s.tr, "VpnId": priv})["TransitRouterAttachmentId"].(string)
	allocs := call(t, c, "ListTransitRouterCidrAllocation", map[string]string{"TransitRouterId": s.tr, "RegionId": "cn-hangzhou"})["TransitRouterCidrAllocations"].([]any)
	if len(allocs) != 1 || allocs[0].(map[string]any)["AllocatedCidrBlock"] != "192.168.200.2/32" || allocs[0].(map[string]any)["AttachmentId"] != att {
		t.Fatalf("allocations: %v", allocs)
	}
	// The same tunnel CIDR on the same transit router is refused.
	dup := newVco("public", "169.254.20.0/30")
	if e := cbnErr(t, c, "CreateTransitRouterVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "TransitRouterId": s.tr, "VpnId": dup}); e.Code != "InvalidBgpConfigTunnelCidr.Duplicate" {
		t.Fatalf("duplicate tunnel CIDR: %v", e)
	}
	if err := e.admin.Call(context.Background(), "2026-11-01", "SetQuota", map[string]string{"AccountId": acct.AccountId, "QuotaName": "vpn-attachments-per-tr", "Value": "1"}, nil); err != nil {
		t.Fatal(err)
	}
	other := newVco("public", "")
	ae := cbnErr(t, c, "CreateTransitRouterVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "TransitRouterId": s.tr, "VpnId": other})
	if ae.Code != "QuotaExceeded.VpnAttachmentsPerTr" || !strings.Contains(ae.Message, "opencen admin quota set") {
		t.Fatalf("quota: %v", ae)
	}
	// A private connection on a transit router without CIDR blocks cannot get an address.
	cen2 := activeCen(t, c)
	tr2 := activeTR(t, c, cen2)
	priv2 := newVco("private", "")
	if e := cbnErr(t, c, "CreateTransitRouterVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "TransitRouterId": tr2, "VpnId": priv2}); e.Code != "OperationFailed.CidrNotExist" {
		t.Fatalf("no CIDR: %v", e)
	}
	// Attaching one connection twice.
	waitFor(t, "Attached", func() bool { return attachmentStatus(t, c, att) == "Attached" })
	if e := cbnErr(t, c, "CreateTransitRouterVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "TransitRouterId": tr2, "VpnId": priv}); e.Code != "OperationFailed.VpnConnectionAttached" {
		t.Fatalf("second attach: %v", e)
	}
}

// TestVpnValidation: every rule of the product page refuses a bad value with HTTP 400, a
// code naming the parameter and a message with the allowed values, and changes nothing.
func TestVpnValidation(t *testing.T) {
	e := newEnv(t)
	c := e.account("alice")
	s := newVpnSetup(t, c)
	noAsn := vpcCall(t, c, "CreateCustomerGateway", map[string]string{"RegionId": "cn-hangzhou", "IpAddress": "198.18.0.3"})["CustomerGatewayId"].(string)
	base := func(kv ...string) map[string]string {
		p := map[string]string{"RegionId": "cn-hangzhou", "CustomerGatewayId": s.cgw}
		for i := 0; i < len(kv); i += 2 {
			p[kv[i]] = kv[i+1]
		}
		return p
	}
	// dual is a dual-tunnel create with both tunnels on s.cgw, kv set over it ("" removes).
	dual := func(kv ...string) map[string]string {
		p := map[string]string{"RegionId": "cn-hangzhou", "TunnelOptionsSpecification.1.CustomerGatewayId": s.cgw, "TunnelOptionsSpecification.2.CustomerGatewayId": s.cgw}
		for i := 0; i < len(kv); i += 2 {
			p[kv[i]] = kv[i+1]
			if kv[i+1] == "" {
				delete(p, kv[i])
			}
		}
		return p
	}
	single := vpcCall(t, c, "CreateVpnAttachment", base())["VpnConnectionId"].(string)
	cases := []struct {
		name, action string
		params       map[string]string
		code, msg    string
	}{
		{"network type", "CreateVpnAttachment", base("NetworkType", "internet"), "InvalidNetworkType", "public or private"},
		{"subnet", "CreateVpnAttachment", base("LocalSubnet", "10.0.0.0/33"), "InvalidLocalSubnet", "CIDR"},
		{"subnet host bits", "CreateVpnAttachment", base("RemoteSubnet", "10.0.0.1/24"), "InvalidRemoteSubnet", "10.0.0.0/24"},
		{"subnet mix", "CreateVpnAttachment", base("LocalSubnet", "0.0.0.0/0,10.0.0.0/8"), "InvalidLocalSubnet", "0.0.0.0/0 alone"},
		{"psk long", "CreateVpnAttachment", base("IkeConfig", `{"Psk":"`+strings.Repeat("a", 101)+`"}`), "InvalidIkeConfigPsk", "1 to 100"},
		{"psk space", "CreateVpnAttachment", base("IkeConfig", `{"Psk":"a b"}`), "InvalidIkeConfigPsk", "no spaces"},
		{"ike version", "CreateVpnAttachment", base("IkeConfig", `{"IkeVersion":"ikev3"}`), "InvalidIkeConfigIkeVersion", "ikev1, ikev2"},
		{"ike mode", "CreateVpnAttachment", base("IkeConfig", `{"IkeMode":"quick"}`), "InvalidIkeConfigIkeMode", "main, aggressive"},
		{"ike enc", "CreateVpnAttachment", base("IkeConfig", `{"IkeEncAlg":"aes512"}`), "InvalidIkeConfigIkeEncAlg", "aes, aes192, aes256, des, 3des"},
		{"ike auth", "CreateVpnAttachment", base("IkeConfig", `{"IkeAuthAlg":"sha3"}`), "InvalidIkeConfigIkeAuthAlg", "sha1, md5, sha256, sha384, sha512"},
		{"ike dh", "CreateVpnAttachment", base("IkeConfig", `{"IkePfs":"group15"}`), "InvalidIkeConfigIkePfs", "group1, group2, group5, group14"},
		{"ike dh disabled", "CreateVpnAttachment", base("IkeConfig", `{"IkePfs":"disabled"}`), "InvalidIkeConfigIkePfs", "group1"},
		{"ike lifetime", "CreateVpnAttachment", base("IkeConfig", `{"IkeLifetime":86401}`), "InvalidIkeConfigIkeLifetime", "0 to 86400"},
		{"ike lifetime negative", "CreateVpnAttachment", base("IkeConfig", `{"IkeLifetime":-1}`), "InvalidIkeConfigIkeLifetime", "0 to 86400"},
		{"local id space", "CreateVpnAttachment", base("IkeConfig", `{"LocalId":"a b"}`), "InvalidIkeConfigLocalId", "without spaces"},
		{"remote id long", "CreateVpnAttachment", base("IkeConfig", `{"RemoteId":"`+strings.Repeat("a", 101)+`"}`), "InvalidIkeConfigRemoteId", "100 characters"},
		{"ipsec enc", "CreateVpnAttachment", base("IpsecConfig", `{"IpsecEncAlg":"chacha"}`), "InvalidIpsecConfigIpsecEncAlg", "aes, aes192"},
		{"ipsec auth", "CreateVpnAttachment", base("IpsecConfig", `{"IpsecAuthAlg":"none"}`), "InvalidIpsecConfigIpsecAuthAlg", "sha1, md5"},
		{"ipsec pfs", "CreateVpnAttachment", base("IpsecConfig", `{"IpsecPfs":"group24"}`), "InvalidIpsecConfigIpsecPfs", "disabled, group1"},
		{"ipsec lifetime", "CreateVpnAttachment", base("IpsecConfig", `{"IpsecLifetime":90000}`), "InvalidIpsecConfigIpsecLifetime", "0 to 86400"},
		{"bgp cidr /29", "CreateVpnAttachment", base("BgpConfig", `{"EnableBgp":true,"TunnelCidr":"169.254.11.0/29","LocalBgpIp":"169.254.11.1"}`), "InvalidBgpConfigTunnelCidr", "/30"},
		{"bgp cidr outside", "CreateVpnAttachment", base("BgpConfig", `{"EnableBgp":true,"TunnelCidr":"10.0.0.0/30","LocalBgpIp":"10.0.0.1"}`), "InvalidBgpConfigTunnelCidr", "169.254.0.0/16"},
		{"bgp cidr reserved", "CreateVpnAttachment", base("BgpConfig", `{"EnableBgp":true,"TunnelCidr":"169.254.3.0/30","LocalBgpIp":"169.254.3.1"}`), "InvalidBgpConfigTunnelCidr", "reserved"},
		{"bgp cidr reserved 169", "CreateVpnAttachment", base("BgpConfig", `{"EnableBgp":true,"TunnelCidr":"169.254.169.252/30","LocalBgpIp":"169.254.169.253"}`), "InvalidBgpConfigTunnelCidr", "reserved"},
		{"bgp ip outside", "CreateVpnAttachment", base("BgpConfig", `{"EnableBgp":true,"TunnelCidr":"169.254.11.0/30","LocalBgpIp":"169.254.12.1"}`), "InvalidBgpConfigLocalBgpIp", "169.254.11.1 or 169.254.11.2"},
		{"bgp ip network", "CreateVpnAttachment", base("BgpConfig", `{"EnableBgp":true,"TunnelCidr":"169.254.11.0/30","LocalBgpIp":"169.254.11.0"}`), "InvalidBgpConfigLocalBgpIp", "host addresses"},
		{"bgp asn 0", "CreateVpnAttachment", base("BgpConfig", `{"EnableBgp":true,"LocalAsn":0,"TunnelCidr":"169.254.11.0/30","LocalBgpIp":"169.254.11.1"}`), "InvalidBgpConfigLocalAsn", "1 to 4294967295"},
		{"bgp asn big", "CreateVpnAttachment", base("BgpConfig", `{"EnableBgp":true,"LocalAsn":4294967296,"TunnelCidr":"169.254.11.0/30","LocalBgpIp":"169.254.11.1"}`), "InvalidBgpConfigLocalAsn", "high.low"},
		{"bgp asn dot", "CreateVpnAttachment", base("BgpConfig", `{"EnableBgp":true,"LocalAsn":"65536.1","TunnelCidr":"169.254.11.0/30","LocalBgpIp":"169.254.11.1"}`), "InvalidBgpConfigLocalAsn", "123.456"},
		{"bgp no cgw asn", "CreateVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "CustomerGatewayId": noAsn, "BgpConfig": `{"EnableBgp":true,"TunnelCidr":"169.254.11.0/30","LocalBgpIp":"169.254.11.1"}`}, "InvalidBgpConfigEnableBgp", "ASN"},
		{"bgp bool", "CreateVpnAttachment", base("BgpConfig", `{"EnableBgp":"yes"}`), "InvalidBgpConfigEnableBgp", "true or false"},
		{"hc dip", "CreateVpnAttachment", base("HealthCheckConfig", `{"enable":true,"dip":"x","sip":"10.0.0.1"}`), "InvalidHealthCheckConfigDip", "IPv4"},
		{"hc missing sip", "CreateVpnAttachment", base("HealthCheckConfig", `{"enable":true,"dip":"10.0.0.2"}`), "MissingHealthCheckConfigSip", "Sip"},
		{"hc interval", "CreateVpnAttachment", base("HealthCheckConfig", `{"enable":true,"dip":"10.0.0.2","sip":"10.0.0.1","interval":3601}`), "InvalidHealthCheckConfigInterval", "1 to 3600"},
		{"hc retry", "CreateVpnAttachment", base("HealthCheckConfig", `{"enable":true,"dip":"10.0.0.2","sip":"10.0.0.1","retry":101}`), "InvalidHealthCheckConfigRetry", "1 to 100"},
		{"hc policy", "CreateVpnAttachment", base("HealthCheckConfig", `{"enable":true,"dip":"10.0.0.2","sip":"10.0.0.1","Policy":"withdraw"}`), "InvalidHealthCheckConfigPolicy", "revoke_route, reserve_route"},
		{"json", "CreateVpnAttachment", base("IkeConfig", `{"Psk":`), "InvalidIkeConfig", "JSON"},
		{"name", "CreateVpnAttachment", base("Name", strings.Repeat("n", 101)), "InvalidName", "1 to 100"},
		{"tag", "CreateVpnAttachment", base("Tags.1.Key", "aliyun-x"), "InvalidTagsKey", "acs:"},
		// Dual-tunnel connections: both forms of the array are read, every rule refused.
		{"dual one tunnel", "CreateVpnAttachment", dual("TunnelOptionsSpecification.2.CustomerGatewayId", ""), "InvalidTunnelOptionsSpecification", "exactly two tunnels"},
		{"dual three tunnels", "CreateVpnAttachment", dual("TunnelOptionsSpecification.3.CustomerGatewayId", s.cgw), "InvalidTunnelOptionsSpecification", "got 3"},
		{"dual one tunnel as JSON", "CreateVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "TunnelOptionsSpecification": `[{"CustomerGatewayId":"` + s.cgw + `"}]`}, "InvalidTunnelOptionsSpecification", "exactly two tunnels"},
		{"dual with single-tunnel IkeConfig", "CreateVpnAttachment", dual("IkeConfig", `{"IkeVersion":"ikev2"}`), "InvalidIkeConfig", "TunnelOptionsSpecification.N"},
		{"dual with single-tunnel gateway", "CreateVpnAttachment", dual("CustomerGatewayId", s.cgw), "InvalidCustomerGatewayId", "dual-tunnel"},
		{"dual bad role", "CreateVpnAttachment", dual("TunnelOptionsSpecification.1.Role", "primary"), "InvalidTunnelOptionsSpecificationRole", "master, slave"},
		{"dual two masters", "CreateVpnAttachment", dual("TunnelOptionsSpecification.2.Role", "master"), "InvalidTunnelOptionsSpecificationRole", "both are master"},
		{"dual index 3", "CreateVpnAttachment", dual("TunnelOptionsSpecification.2.TunnelIndex", "3"), "InvalidTunnelOptionsSpecificationTunnelIndex", "0 to 2"},
		{"dual same index", "CreateVpnAttachment", dual("TunnelOptionsSpecification.1.TunnelIndex", "2"), "InvalidTunnelOptionsSpecificationTunnelIndex", "once"},
		{"dual equal bgp cidrs", "CreateVpnAttachment", dual("EnableTunnelsBgp", "true",
			"TunnelOptionsSpecification.1.TunnelBgpConfig.TunnelCidr", "169.254.11.0/30", "TunnelOptionsSpecification.1.TunnelBgpConfig.LocalBgpIp", "169.254.11.1",
			"TunnelOptionsSpecification.2.TunnelBgpConfig.TunnelCidr", "169.254.11.0/30", "TunnelOptionsSpecification.2.TunnelBgpConfig.LocalBgpIp", "169.254.11.1"),
			"InvalidTunnelOptionsSpecificationTunnelBgpConfigTunnelCidr", "different"},
		{"dual bgp without cidr", "CreateVpnAttachment", dual("EnableTunnelsBgp", "true"), "MissingTunnelOptionsSpecificationTunnelBgpConfigTunnelCidr", "TunnelOptionsSpecification.1.TunnelBgpConfig.TunnelCidr"},
		{"dual bgp gateway without ASN", "CreateVpnAttachment", dual("EnableTunnelsBgp", "true", "TunnelOptionsSpecification.2.CustomerGatewayId", noAsn,
			"TunnelOptionsSpecification.1.TunnelBgpConfig.TunnelCidr", "169.254.11.0/30", "TunnelOptionsSpecification.1.TunnelBgpConfig.LocalBgpIp", "169.254.11.1",
			"TunnelOptionsSpecification.2.TunnelBgpConfig.TunnelCidr", "169.254.12.0/30", "TunnelOptionsSpecification.2.TunnelBgpConfig.LocalBgpIp", "169.254.12.1"),
			"InvalidEnableTunnelsBgp", "ASN"},
		{"dual ike version", "CreateVpnAttachment", dual("TunnelOptionsSpecification.2.TunnelIkeConfig.IkeVersion", "ikev3"), "InvalidTunnelOptionsSpecificationTunnelIkeConfigIkeVersion", "ikev1, ikev2"},
		{"dual psk", "CreateVpnAttachment", dual("TunnelOptionsSpecification.1.TunnelIkeConfig.Psk", "a b"), "InvalidTunnelOptionsSpecificationTunnelIkeConfigPsk", "no spaces"},
		{"dual ipsec lifetime", "CreateVpnAttachment", dual("TunnelOptionsSpecification.1.TunnelIpsecConfig.IpsecLifetime", "90000"), "InvalidTunnelOptionsSpecificationTunnelIpsecConfigIpsecLifetime", "0 to 86400"},
		{"dual unknown field", "CreateVpnAttachment", dual("TunnelOptionsSpecification.1.Colour", "blue"), "InvalidTunnelOptionsSpecification", "not a field"},
		{"dual missing gateway", "CreateVpnAttachment", dual("TunnelOptionsSpecification.2.CustomerGatewayId", "", "TunnelOptionsSpecification.2.TunnelIndex", "2"), "MissingTunnelOptionsSpecificationCustomerGatewayId", "CustomerGatewayId"},
		{"dual unknown gateway", "CreateVpnAttachment", dual("TunnelOptionsSpecification.2.CustomerGatewayId", "cgw-nope"), "InvalidCustomerGatewayInstanceId.NotFound", "does not exist"},
		{"dual tunnels to a single-tunnel connection", "ModifyVpnAttachmentAttribute", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": single,
			"TunnelOptionsSpecification": `[{"TunnelIndex":1}]`}, "InvalidTunnelOptionsSpecification", "single-tunnel"},
		{"dual tunnel bad JSON", "CreateVpnAttachment", base("TunnelOptionsSpecification", `[{"TunnelIndex":1}`), "InvalidTunnelOptionsSpecification", "JSON array"},
		{"dual tunnel both forms", "CreateVpnAttachment", base("TunnelOptionsSpecification", `[{"TunnelIndex":1}]`, "TunnelOptionsSpecification.1.TunnelIndex", "1"), "InvalidTunnelOptionsSpecification", "not both"},
		{"tags as JSON", "CreateVpnAttachment", base("Tags", `[{"Key":"acs:x"}]`), "InvalidTagsKey", "acs:"},
		{"tags both spellings", "CreateVpnAttachment", base("Tags.1.Key", "a", "Tag.1.Key", "b"), "InvalidTags", "not both"},
		{"unknown cgw", "CreateVpnAttachment", base("CustomerGatewayId", "cgw-nope"), "InvalidCustomerGatewayInstanceId.NotFound", "does not exist"},
		{"missing cgw", "CreateVpnAttachment", map[string]string{"RegionId": "cn-hangzhou"}, "MissingCustomerGatewayId", "CustomerGatewayId"},
		{"missing region", "CreateVpnAttachment", map[string]string{"CustomerGatewayId": s.cgw}, "MissingRegionId", "RegionId"},
		{"dry run", "CreateVpnAttachment", base("DryRun", "true"), "DryRunOperation", "DryRun"},
		{"cgw ip", "CreateCustomerGateway", map[string]string{"RegionId": "cn-hangzhou", "IpAddress": "100.64.0.1"}, "InvalidIpAddress", "100.64.0.0/10"},
		{"cgw ip multicast", "CreateCustomerGateway", map[string]string{"RegionId": "cn-hangzhou", "IpAddress": "239.1.1.1"}, "InvalidIpAddress", "224.0.0.0/4"},
		{"cgw asn 45104", "CreateCustomerGateway", map[string]string{"RegionId": "cn-hangzhou", "IpAddress": "198.18.0.5", "Asn": "45104"}, "InvalidAsn", "45104"},
		{"cgw auth key", "CreateCustomerGateway", map[string]string{"RegionId": "cn-hangzhou", "IpAddress": "198.18.0.5", "AuthKey": "a?b"}, "InvalidAuthKey", "'?'"},
		{"cgw missing ip", "CreateCustomerGateway", map[string]string{"RegionId": "cn-hangzhou"}, "MissingIpAddress", "IpAddress"},
		{"logs period", "DescribeVpnConnectionLogs", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": "vco-x", "MinutePeriod": "11"}, "InvalidMinutePeriod", "1 to 10"},
		{"logs missing", "DescribeVpnConnectionLogs", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": "vco-x"}, "MissingMinutePeriod", "MinutePeriod"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := e.inst.Store.Revision(context.Background())
			code, status, msg := vpcErr(t, c, tc.action, tc.params)
			if code != tc.code || status != 400 && !strings.HasSuffix(code, ".NotFound") || !strings.Contains(msg, tc.msg) {
				t.Fatalf("got %s (%d) %q; want %s with %q", code, status, msg, tc.code, tc.msg)
			}
			after, _ := e.inst.Store.Revision(context.Background())
			if after != before {
				t.Fatalf("a refused request changed the store")
			}
		})
	}
	// Older Terraform providers send whole blocks of empty values: they mean "not set".
	blank := vpcCall(t, c, "CreateVpnAttachment", base("IkeConfig", `{"IkeAuthAlg":"","IkeEncAlg":"","IkeLifetime":86400,"LocalId":"","IkeMode":"","IkePfs":"","RemoteId":"","IkeVersion":"","Psk":""}`,
		"HealthCheckConfig", `{"enable":false,"dip":"","sip":"","interval":0,"retry":0,"Policy":""}`))["VpnConnectionId"].(string)
	if ike := path(vcoState(t, c, blank), "IkeConfig").(map[string]any); ike["IkeEncAlg"] != "aes" || len(ike["Psk"].(string)) != 16 {
		t.Fatalf("blank blocks: %v", ike)
	}
	// The defaults vpc-20160428's CreateVpnAttachment request model documents for a
	// single-tunnel connection (not the product page's IKEv2/SHA1, which the console sends).
	id := vpcCall(t, c, "CreateVpnAttachment", base())["VpnConnectionId"].(string)
	got := vcoState(t, c, id)
	raw, _ := json.Marshal(got)
	for _, want := range []string{`"IkeVersion":"ikev1"`, `"IkeMode":"main"`, `"IkeEncAlg":"aes"`, `"IkeAuthAlg":"md5"`, `"IkePfs":"group2"`, `"IkeLifetime":86400`,
		`"IpsecEncAlg":"aes"`, `"IpsecAuthAlg":"md5"`, `"IpsecPfs":"group2"`, `"IpsecLifetime":86400`, `"EnableDpd":true`, `"EnableNatTraversal":true`,
		`"EffectImmediately":false`, `"LocalSubnet":"0.0.0.0/0"`, `"RemoteSubnet":"0.0.0.0/0"`, `"NetworkType":"public"`, `"EnableBgp":"false"`,
		`"LocalAsn":45104`, `"Interval":3`, `"Retry":3`, `"Policy":"revoke_route"`, `"Enable":"false"`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("default %s missing in %s", want, raw)
		}
	}
	if psk := path(got, "IkeConfig", "Psk").(string); len(psk) != 16 {
		t.Errorf("generated PSK %q is not 16 characters", psk)
	}
	if rid := path(got, "IkeConfig", "RemoteId"); rid != "198.18.0.2" {
		t.Errorf("RemoteId default %v", rid)
	}
}

// TestManyAttachmentsOnOneRouter: a transit router takes more VPN attachments than one
// store transaction takes guards (store.MaxTxnOps): creating the 150th reads every
// attachment of its router, which the transaction then guards by prefix. bbolt enforces
// etcd's limit too, so this fails on one machine as it would on etcd.
func TestManyAttachmentsOnOneRouter(t *testing.T) {
	const n = 150
	e := newEnv(t)
	c := e.account("alice")
	s := newVpnSetup(t, c)
	var acct struct{ AccountId string }
	if err := c.Call(context.Background(), "2026-11-01", "DescribeAccount", nil, &acct); err != nil {
		t.Fatal(err)
	}
	if err := e.admin.Call(context.Background(), "2026-11-01", "SetQuota", map[string]string{"AccountId": acct.AccountId, "QuotaName": "vpn-attachments-per-tr", "Value": fmt.Sprint(n)}, nil); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		cgw := vpcCall(t, c, "CreateCustomerGateway", map[string]string{"RegionId": "cn-hangzhou", "IpAddress": fmt.Sprintf("198.18.%d.%d", 10+i/200, 1+i%200)})["CustomerGatewayId"].(string)
		vco := vpcCall(t, c, "CreateVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "CustomerGatewayId": cgw})["VpnConnectionId"].(string)
		call(t, c, "CreateTransitRouterVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "TransitRouterId": s.tr, "VpnId": vco})
	}
	got := call(t, c, "ListTransitRouterVpnAttachments", map[string]string{"TransitRouterId": s.tr, "MaxResults": "100"})
	total := len(got["TransitRouterAttachments"].([]any))
	for next, _ := got["NextToken"].(string); next != ""; next, _ = got["NextToken"].(string) {
		got = call(t, c, "ListTransitRouterVpnAttachments", map[string]string{"TransitRouterId": s.tr, "MaxResults": "100", "NextToken": next})
		total += len(got["TransitRouterAttachments"].([]any))
	}
	if total != n {
		t.Fatalf("the router lists %d VPN attachments, want %d", total, n)
	}
}

// TestPublicPoolExhaustion: with a pool of two addresses, two attached connections take
// them; a third connection is refused at CreateVpnAttachment, naming the pool and what to
// do; once one connection is gone its address is handed out again.
func TestPublicPoolExhaustion(t *testing.T) {
	cfg := config.Default()
	cfg.Regions[0].PublicPool = config.Pool{"198.18.100.10-198.18.100.11"}
	e := newEnvWith(t, cfg)
	c := e.account("alice")
	s := newVpnSetup(t, c)
	create := func() string {
		return vpcCall(t, c, "CreateVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "CustomerGatewayId": s.cgw})["VpnConnectionId"].(string)
	}
	attach := func(vco string) string {
		att := call(t, c, "CreateTransitRouterVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "TransitRouterId": s.tr, "VpnId": vco})["TransitRouterAttachmentId"].(string)
		waitFor(t, "Attached", func() bool { return attachmentStatus(t, c, att) == "Attached" })
		return att
	}
	ip := func(vco string) string { return vcoState(t, c, vco)["InternetIp"].(string) }
	one, two := create(), create()
	attOne := attach(one)
	attach(two)
	if got := []string{ip(one), ip(two)}; got[0] != "198.18.100.10" || got[1] != "198.18.100.11" {
		t.Fatalf("gateway IPs %v, want the pool's two addresses in order", got)
	}
	code, status, msg := vpcErr(t, c, "CreateVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "CustomerGatewayId": s.cgw})
	if code != "OperationFailed.AllocateCidrFailed" || status != 400 || !strings.Contains(msg, "no free address") || !strings.Contains(msg, "publicPool") {
		t.Fatalf("third connection: %s %d %q, want OperationFailed.AllocateCidrFailed naming the pool", code, status, msg)
	}
	// The first goes: detached, then deleted.
	call(t, c, "DeleteTransitRouterVpnAttachment", map[string]string{"TransitRouterAttachmentId": attOne})
	waitFor(t, "detached", func() bool { return attachmentStatus(t, c, attOne) == "" })
	vpcCall(t, c, "DeleteVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": one})
	three := create()
	attach(three)
	if got := ip(three); got != "198.18.100.10" {
		t.Fatalf("the new connection got %s, want the freed 198.18.100.10", got)
	}
}
