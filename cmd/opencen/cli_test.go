package main

import (
	"context"
	"encoding/json"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"opencen/internal/dataplane"
	"opencen/internal/lab"
	"opencen/internal/rpc"
	"opencen/internal/testenv"
	"opencen/internal/testserver"
)

// cli runs the real opencen binary as the given account.
func cli(t *testing.T, srv *testserver.Server, a testserver.Account, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(srv.Bin, append(args, "--endpoint", srv.URL, "--access-key-id", a.AccessKeyID, "--access-key-secret", a.AccessKeySecret)...)
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), &cliError{string(ee.Stderr)}
	}
	return string(out), err
}

type cliError struct{ stderr string }

func (e *cliError) Error() string { return e.stderr }

func TestConnectVpnEndToEnd(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{TransitionDelay: 50 * time.Millisecond})
	alice := srv.CreateAccount(t, "alice")
	call := apiAs(t, srv, alice)
	_, tr := activeCenTR(t, call)
	cgw := call("2016-04-28", "CreateCustomerGateway", map[string]string{"RegionId": "cn-hangzhou", "IpAddress": "198.18.0.2", "Asn": "65010"})["CustomerGatewayId"].(string)

	// Create Resource, with non-default settings from flags.
	out, err := cli(t, srv, alice, "tr", "connect-vpn", tr, "--create-resource", "--customer-gateway-id", cgw, "--name", "to-dc",
		"--tag", "env=prod", "--routing-mode", "flow", "--local-cidrs", "10.0.0.0/16", "--peer-cidrs", "192.168.10.0/24,192.168.11.0/24",
		"--apply-immediately", "--psk", "s3cr3t!", "--ike-version", "ikev1", "--ike-mode", "aggressive", "--ike-enc", "aes256",
		"--ike-auth", "sha256", "--ike-dh", "group14", "--ike-lifetime", "3600", "--local-id", "cloud.example.com", "--remote-id", "dc.example.net",
		"--ipsec-enc", "3des", "--ipsec-auth", "md5", "--ipsec-dh", "disabled", "--ipsec-lifetime", "1800", "--dpd=false",
		"--bgp", "--tunnel-cidr", "169.254.11.0/30", "--local-bgp-ip", "169.254.11.1", "--local-asn", "65001",
		"--health-check", "--hc-dip", "192.168.10.1", "--hc-sip", "10.0.0.1", "--hc-interval", "5", "--hc-retry", "4", "--hc-switch-route=false",
		"--no-route-sync")
	if err != nil {
		t.Fatalf("connect-vpn: %v", err)
	}
	var res struct {
		TransitRouterAttachmentId, VpnConnectionId, Status, InternetIp, State, NegotiationStatus string
		AutoPublishRouteEnabled                                                                  bool
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if res.Status != "Attached" || res.State != "attached" || !strings.HasPrefix(res.InternetIp, "198.18.100.") || res.AutoPublishRouteEnabled ||
		res.NegotiationStatus != "ike_sa_not_established" {
		t.Fatalf("connect-vpn result: %+v", res)
	}
	v := call("2016-04-28", "DescribeVpnConnection", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": res.VpnConnectionId})
	raw, _ := json.Marshal(v)
	for _, want := range []string{`"IkeVersion":"ikev1"`, `"IkeMode":"aggressive"`, `"IkeEncAlg":"aes256"`, `"IkeAuthAlg":"sha256"`, `"IkePfs":"group14"`,
		`"IkeLifetime":3600`, `"LocalId":"cloud.example.com"`, `"RemoteId":"dc.example.net"`, `"Psk":"s3cr3t!"`, `"IpsecEncAlg":"3des"`,
		`"IpsecAuthAlg":"md5"`, `"IpsecPfs":"disabled"`, `"IpsecLifetime":1800`, `"EnableDpd":false`, `"EffectImmediately":true`,
		`"LocalSubnet":"10.0.0.0/16"`, `"RemoteSubnet":"192.168.10.0/24,192.168.11.0/24"`, `"EnableBgp":"true"`, `"LocalAsn":65001`,
		`"TunnelCidr":"169.254.11.0/30"`, `"Interval":5`, `"Retry":4`, `"Policy":"reserve_route"`, `"Name":"to-dc"`, `"Key":"env"`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("connection lacks %s: %s", want, raw)
		}
	}

	// Select Resource: attach an existing connection with the product defaults.
	other := call("2016-04-28", "CreateVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "CustomerGatewayId": cgw})["VpnConnectionId"].(string)
	out, err = cli(t, srv, alice, "tr", "connect-vpn", tr, "--vpn-id", other)
	if err != nil {
		t.Fatalf("connect-vpn --vpn-id: %v", err)
	}
	if !strings.Contains(out, `"Status": "Attached"`) || !strings.Contains(out, `"AutoPublishRouteEnabled": true`) || !strings.Contains(out, `"Associated": true`) {
		t.Fatalf("select resource: %s", out)
	}

	// The advanced options were applied: flow-protection peer CIDRs are in the System table.
	routes, err := cli(t, srv, alice, "tr", "routes", tr)
	if err != nil {
		t.Fatalf("tr routes: %v", err)
	}
	for _, want := range []string{"192.168.10.0/24", "192.168.11.0/24", res.TransitRouterAttachmentId, "VPN Custom", "Active", "PREFIX"} {
		if !strings.Contains(routes, want) {
			t.Errorf("tr routes lacks %q:\n%s", want, routes)
		}
	}
	explain, err := cli(t, srv, alice, "tr", "explain", tr, "--prefix", "192.168.10.5", "--from", res.TransitRouterAttachmentId)
	if err != nil || !strings.Contains(explain, "192.168.10.0/24") {
		t.Fatalf("tr explain: %v\n%s", err, explain)
	}
	custom := call("2017-09-12", "CreateTransitRouterRouteTable", map[string]string{"TransitRouterId": tr})["TransitRouterRouteTableId"].(string)
	waitUntil(t, func() bool {
		return call("2017-09-12", "ListTransitRouterRouteTables", map[string]string{"TransitRouterId": tr, "TransitRouterRouteTableIds.1": custom})["TransitRouterRouteTables"].([]any)[0].(map[string]any)["TransitRouterRouteTableStatus"] == "Active"
	})
	if out, err := cli(t, srv, alice, "tr", "associate", res.TransitRouterAttachmentId, "--route-table", custom); err != nil || !strings.Contains(out, custom) {
		t.Fatalf("tr associate: %v %s", err, out)
	}
	assoc := call("2017-09-12", "ListTransitRouterRouteTableAssociations", map[string]string{"TransitRouterAttachmentId": res.TransitRouterAttachmentId})["TransitRouterAssociations"].([]any)
	if len(assoc) != 1 || assoc[0].(map[string]any)["TransitRouterRouteTableId"] != custom {
		t.Fatalf("association after tr associate: %v", assoc)
	}

	// The customer's side, rendered by the CLI.
	conf, err := cli(t, srv, alice, "vpn", "config", res.VpnConnectionId)
	if err != nil {
		t.Fatalf("vpn config: %v", err)
	}
	for _, want := range []string{"remote_addrs = " + res.InternetIp, "aggressive = yes", "proposals = aes256-sha256-modp2048", "esp_proposals = 3des-md5"} {
		if !strings.Contains(conf, want) {
			t.Errorf("swanctl.conf lacks %q:\n%s", want, conf)
		}
	}
	js, err := cli(t, srv, alice, "vpn", "config", res.VpnConnectionId, "--format", "json")
	if err != nil || !strings.Contains(js, `"Remote": "`+res.InternetIp+`"`) {
		t.Fatalf("vpn config json: %v %s", err, js)
	}

	// Its state and log (no data plane here: the tunnel is configuration only).
	st, err := cli(t, srv, alice, "vpn", "status", res.VpnConnectionId)
	if err != nil || !strings.Contains(st, res.VpnConnectionId) || !strings.Contains(st, "gateway IP:   "+res.InternetIp) || !strings.Contains(st, "ike_sa_not_established") || !strings.Contains(st, "log (last 10 minutes):") {
		t.Fatalf("vpn status: %v\n%s", err, st)
	}
	if _, err := cli(t, srv, alice, "vpn", "status", "vco-nope"); err == nil || !strings.Contains(err.Error(), "NotFound") {
		t.Fatalf("vpn status of an unknown connection: %v", err)
	}

	// Bad use is refused with a clear message, and the server's errors come through.
	if _, err := cli(t, srv, alice, "tr", "connect-vpn", tr, "--vpn-id", other, "--create-resource"); err == nil || !strings.Contains(err.Error(), "exactly one of") {
		t.Fatalf("both modes: %v", err)
	}
	_, err = cli(t, srv, alice, "tr", "connect-vpn", tr, "--create-resource", "--customer-gateway-id", cgw, "--ike-enc", "rot13")
	if err == nil || !strings.Contains(err.Error(), "InvalidIkeConfigIkeEncAlg") || !strings.Contains(err.Error(), "aes192") {
		t.Fatalf("bad algorithm: %v", err)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLabCommands drives the lab and a gateway-enabled server through the binary, as a
// person at a terminal would: lab up, a VPC host, a data center configured from OpenCEN's
// download, connect-vpn, and the tunnel comes up.
func TestLabCommands(t *testing.T) {
	testenv.RequireDataplane(t)
	dir := t.TempDir()
	labArgs := []string{"--prefix", "tlc-", "--run-dir", dir + "/lab"}
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(testserver.Build(t), append(args, labArgs...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("opencen %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	t.Cleanup(func() { exec.Command(testserver.Build(t), append([]string{"lab", "down"}, labArgs...)...).Run() })
	if out := run("lab", "up"); !strings.Contains(out, "--wan-netns tlc-wan --wan-bridge br0") {
		t.Fatalf("lab up: %s", out)
	}
	srv := testserver.Start(t, testserver.Options{TransitionDelay: 50 * time.Millisecond, Args: []string{"--gateway", "on",
		"--wan-netns", "tlc-wan", "--wan-bridge", "br0", "--dataplane-prefix", "tlg-", "--dataplane-run-dir", dir + "/dp"}})
	t.Cleanup(func() {
		srv.Stop()
		drv, err := dataplane.NewNetns(dataplane.NetnsOptions{Prefix: "tlg-", RunDir: dir + "/dp", WANNetns: "tlc-wan", WANBridge: "br0"})
		if err == nil {
			_ = drv.Cleanup(context.Background())
		}
	})
	alice := srv.CreateAccount(t, "alice")
	call := apiAs(t, srv, alice)
	ctx := context.Background()
	_, tr := activeCenTR(t, call)
	vpcID := call("2016-04-28", "CreateVpc", map[string]string{"RegionId": "cn-hangzhou", "CidrBlock": "10.80.0.0/16"})["VpcId"].(string)
	waitUntil(t, func() bool {
		return call("2016-04-28", "DescribeVpcs", map[string]string{"RegionId": "cn-hangzhou", "VpcId": vpcID})["Vpcs"].(map[string]any)["Vpc"].([]any)[0].(map[string]any)["Status"] == "Available"
	})
	vsw := call("2016-04-28", "CreateVSwitch", map[string]string{"RegionId": "cn-hangzhou", "VpcId": vpcID, "ZoneId": "cn-hangzhou-h", "CidrBlock": "10.80.0.0/24"})["VSwitchId"].(string)
	waitUntil(t, func() bool {
		return call("2016-04-28", "DescribeVSwitches", map[string]string{"RegionId": "cn-hangzhou", "VSwitchId": vsw})["VSwitches"].(map[string]any)["VSwitch"].([]any)[0].(map[string]any)["Status"] == "Available"
	})
	// The VPC host is bound with the command `lab vpc add` prints, as an operator binds a segment.
	bind := "opencen admin vpc bind " + vpcID + " --netns tlc-vpc-" + vpcID + " --bridge br-vpc --gateway-ip 10.80.255.253/16"
	if out := run("lab", "vpc", "add", vpcID, "--cidr", "10.80.0.0/16"); !strings.Contains(out, bind) {
		t.Fatalf("lab vpc add does not say how to bind the VPC (%q):\n%s", bind, out)
	}
	admin := testserver.Account{AccessKeyID: srv.AdminKeyID, AccessKeySecret: srv.AdminSecret}
	if out, err := cli(t, srv, admin, strings.Fields(bind)[1:]...); err != nil || !strings.Contains(out, `"Kind": "bridge"`) {
		t.Fatalf("%s: %v\n%s", bind, err, out)
	}
	cliOut, err := cli(t, srv, alice, "tr", "attach-vpc", tr, "--vpc-id", vpcID, "--vswitch", "cn-hangzhou-h:"+vsw)
	if err != nil {
		t.Fatalf("tr attach-vpc: %v %s", err, cliOut)
	}
	run("lab", "dc", "add", "dcx", "--wan", "198.18.0.88", "--subnet", "192.168.88.0/24")
	cgw := call("2016-04-28", "CreateCustomerGateway", map[string]string{"RegionId": "cn-hangzhou", "IpAddress": "198.18.0.88"})["CustomerGatewayId"].(string)
	out, err := cli(t, srv, alice, "tr", "connect-vpn", tr, "--create-resource", "--customer-gateway-id", cgw, "--apply-immediately")
	if err != nil {
		t.Fatalf("connect-vpn: %v", err)
	}
	var res struct{ VpnConnectionId string }
	json.Unmarshal([]byte(out), &res)
	call("2016-04-28", "CreateVcoRouteEntry", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": res.VpnConnectionId, "RouteDest": "192.168.88.0/24", "NextHop": res.VpnConnectionId, "Weight": "0"})
	run("lab", "dc", "configure", "dcx", "--vpn", res.VpnConnectionId, "--route", "10.80.0.0/16",
		"--endpoint", srv.URL, "--access-key-id", alice.AccessKeyID, "--access-key-secret", alice.AccessKeySecret)
	deadline := time.Now().Add(60 * time.Second)
	for call("2016-04-28", "DescribeVpnConnection", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": res.VpnConnectionId})["Status"] != "ipsec_sa_established" {
		if time.Now().After(deadline) {
			t.Fatal("the connection did not establish")
		}
		time.Sleep(300 * time.Millisecond)
	}
	var pingErr error
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); {
		if pingErr = lab.Ping(ctx, "tlc-dc-dcx", netip.MustParseAddr("192.168.88.1"), netip.MustParseAddr("10.80.0.1"), 1); pingErr == nil {
			break
		}
	}
	if pingErr != nil {
		t.Fatalf("DC host -> VPC host: %v", pingErr)
	}
	cliOut, err = cli(t, srv, alice, "tr", "routes", tr)
	if err != nil || !strings.Contains(cliOut, "192.168.88.0/24") {
		t.Fatalf("tr routes: %v %s", err, cliOut)
	}

	// A data center speaking BGP: its subnet is learned, no VPN-side route needed.
	run("lab", "dc", "add", "dcy", "--wan", "198.18.0.89", "--subnet", "192.168.89.0/24", "--bgp-asn", "65020")
	cgw2 := call("2016-04-28", "CreateCustomerGateway", map[string]string{"RegionId": "cn-hangzhou", "IpAddress": "198.18.0.89", "Asn": "65020"})["CustomerGatewayId"].(string)
	out, err = cli(t, srv, alice, "tr", "connect-vpn", tr, "--create-resource", "--customer-gateway-id", cgw2, "--apply-immediately",
		"--bgp", "--tunnel-cidr", "169.254.51.0/30", "--local-bgp-ip", "169.254.51.1")
	if err != nil {
		t.Fatalf("connect-vpn --bgp: %v", err)
	}
	var res2 struct{ VpnConnectionId string }
	json.Unmarshal([]byte(out), &res2)
	run("lab", "dc", "configure", "dcy", "--vpn", res2.VpnConnectionId, "--endpoint", srv.URL, "--access-key-id", alice.AccessKeyID, "--access-key-secret", alice.AccessKeySecret)
	deadline = time.Now().Add(90 * time.Second)
	for !strings.Contains(mustCLI(t, srv, alice, "tr", "routes", tr), "192.168.89.0/24") {
		if time.Now().After(deadline) {
			t.Fatal("the BGP data center's subnet was not learned")
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func mustCLI(t *testing.T, srv *testserver.Server, a testserver.Account, args ...string) string {
	t.Helper()
	out, err := cli(t, srv, a, args...)
	if err != nil {
		t.Fatalf("opencen %v: %v", args, err)
	}
	return out
}

// apiCall calls an action of a product version and fails the test on error.
type apiCall func(version, action string, p map[string]string) map[string]any

func apiAs(t *testing.T, srv *testserver.Server, a testserver.Account) apiCall {
	c := &rpc.Client{Endpoint: srv.URL, AccessKeyID: a.AccessKeyID, AccessKeySecret: a.AccessKeySecret}
	return func(version, action string, p map[string]string) map[string]any {
		t.Helper()
		var out map[string]any
		if err := c.Call(context.Background(), version, action, p, &out); err != nil {
			t.Fatalf("%s: %v", action, err)
		}
		return out
	}
}

// activeCenTR creates a CEN and its transit router in cn-hangzhou, both Active.
func activeCenTR(t *testing.T, call apiCall) (cen, tr string) {
	cen = call("2017-09-12", "CreateCen", nil)["CenId"].(string)
	waitUntil(t, func() bool {
		return call("2017-09-12", "DescribeCens", map[string]string{"Filter.1.Key": "CenId", "Filter.1.Value.1": cen})["Cens"].(map[string]any)["Cen"].([]any)[0].(map[string]any)["Status"] == "Active"
	})
	tr = call("2017-09-12", "CreateTransitRouter", map[string]string{"CenId": cen, "RegionId": "cn-hangzhou"})["TransitRouterId"].(string)
	waitUntil(t, func() bool {
		return call("2017-09-12", "ListTransitRouters", map[string]string{"TransitRouterId": tr})["TransitRouters"].([]any)[0].(map[string]any)["Status"] == "Active"
	})
	return cen, tr
}
