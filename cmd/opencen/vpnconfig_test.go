package main

import (
	"strings"
	"testing"
	"time"

	"opencen/internal/testserver"
)

// TestVpnConfigDualTunnel: `opencen vpn config` renders both tunnels of a dual-tunnel
// connection (the master first, whichever index it has), one tunnel alone with --tunnel,
// and refuses what cannot be rendered with a message saying what to do.
func TestVpnConfigDualTunnel(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{TransitionDelay: 50 * time.Millisecond})
	alice := srv.CreateAccount(t, "alice")
	call := apiAs(t, srv, alice)
	_, tr := activeCenTR(t, call)
	cgw1 := call("2016-04-28", "CreateCustomerGateway", map[string]string{"RegionId": "cn-hangzhou", "IpAddress": "198.18.0.2", "Asn": "65010"})["CustomerGatewayId"].(string)
	cgw2 := call("2016-04-28", "CreateCustomerGateway", map[string]string{"RegionId": "cn-hangzhou", "IpAddress": "198.18.0.3", "Asn": "65010"})["CustomerGatewayId"].(string)
	const ts = "TunnelOptionsSpecification."
	vco := call("2016-04-28", "CreateVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "Name": "dual",
		"LocalSubnet": "0.0.0.0/0", "RemoteSubnet": "0.0.0.0/0", "EnableTunnelsBgp": "true",
		ts + "1.CustomerGatewayId": cgw1, ts + "1.Role": "slave", ts + "1.TunnelIkeConfig.Psk": "key-one",
		ts + "1.TunnelBgpConfig.TunnelCidr": "169.254.10.0/30", ts + "1.TunnelBgpConfig.LocalBgpIp": "169.254.10.1", ts + "1.TunnelIkeConfig.IkeEncAlg": "aes256",
		ts + "2.CustomerGatewayId": cgw2, ts + "2.Role": "master", ts + "2.TunnelIkeConfig.Psk": "key-two",
		ts + "2.TunnelBgpConfig.TunnelCidr": "169.254.20.0/30", ts + "2.TunnelBgpConfig.LocalBgpIp": "169.254.20.1", ts + "2.EnableDpd": "false",
	})["VpnConnectionId"].(string)

	// Not attached: no gateway IPs to render.
	if _, err := cli(t, srv, alice, "vpn", "config", vco); err == nil || !strings.Contains(err.Error(), "IncorrectStatus.VpnConnection") {
		t.Fatalf("vpn config before attaching: %v", err)
	}

	att := call("2017-09-12", "CreateTransitRouterVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "TransitRouterId": tr, "VpnId": vco})["TransitRouterAttachmentId"].(string)
	waitUntil(t, func() bool {
		l := call("2017-09-12", "ListTransitRouterVpnAttachments", map[string]string{"TransitRouterAttachmentId": att})["TransitRouterAttachments"].([]any)
		return len(l) == 1 && l[0].(map[string]any)["Status"] == "Attached"
	})
	v := call("2016-04-28", "DescribeVpnConnection", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": vco})
	opts, _ := v["TunnelOptionsSpecification"].(map[string]any)["TunnelOptions"].([]any)
	if len(opts) != 2 {
		t.Fatalf("tunnels: %v", v["TunnelOptionsSpecification"])
	}
	type tun struct{ id, ip, cgwIP string }
	byRole := map[string]tun{}
	for _, o := range opts {
		m := o.(map[string]any)
		ip := map[string]string{cgw1: "198.18.0.2", cgw2: "198.18.0.3"}[m["CustomerGatewayId"].(string)]
		byRole[m["Role"].(string)] = tun{m["TunnelId"].(string), m["InternetIp"].(string), ip}
	}
	master, slave := byRole["master"], byRole["slave"]
	if master.cgwIP != "198.18.0.3" || slave.cgwIP != "198.18.0.2" || master.ip == "" || slave.ip == "" || master.ip == slave.ip {
		t.Fatalf("tunnels as described: %+v", byRole)
	}

	// Both tunnels, the master (tunnel 2) first.
	conf := mustCLI(t, srv, alice, "vpn", "config", vco)
	mi, si := strings.Index(conf, "\n  "+master.id+" {\n"), strings.Index(conf, "\n  "+slave.id+" {\n")
	if mi < 0 || si < 0 || mi > si {
		t.Fatalf("the file lacks a tunnel, or the slave comes first (%d, %d):\n%s", mi, si, conf)
	}
	for _, want := range []string{"dual-tunnel IPsec-VPN connection " + vco, "(master): customer gateway " + master.cgwIP + " <-> VPN gateway " + master.ip,
		"(slave): customer gateway " + slave.cgwIP + " <-> VPN gateway " + slave.ip, "remote_addrs = " + master.ip, "remote_addrs = " + slave.ip,
		"ike-" + master.id, "ike-" + slave.id, "169.254.10.2/30", "169.254.20.2/30", "--tunnel " + master.id, "kernel-libipsec"} {
		if !strings.Contains(conf, want) {
			t.Errorf("vpn config lacks %q:\n%s", want, conf)
		}
	}
	// Each tunnel's own settings: the slave (tunnel 1) has aes256, the master no DPD.
	if m, s := conf[mi:si], conf[si:]; !strings.Contains(m, "dpd_delay = 0s") || !strings.Contains(m, "aes128-sha1") || !strings.Contains(s, "proposals = aes256-sha1") || !strings.Contains(s, "dpd_delay = 10s") {
		t.Errorf("the tunnels' own settings are mixed up:\n%s", conf)
	}

	// One tunnel alone.
	alone := mustCLI(t, srv, alice, "vpn", "config", vco, "--tunnel", slave.id)
	for _, want := range []string{"tunnel " + slave.id + " of IPsec-VPN connection " + vco, "This tunnel is the slave", "remote_addrs = " + slave.ip, "--tunnel " + master.id} {
		if !strings.Contains(alone, want) {
			t.Errorf("vpn config --tunnel lacks %q:\n%s", want, alone)
		}
	}
	if strings.Contains(alone, "remote_addrs = "+master.ip) || strings.Contains(alone, "ike-"+master.id) {
		t.Errorf("vpn config --tunnel %s has the master too:\n%s", slave.id, alone)
	}

	// Its status names each tunnel.
	st := mustCLI(t, srv, alice, "vpn", "status", vco)
	for _, want := range []string{vco + " dual (dual-tunnel", "state:        attached", master.id + " (master): ike_sa_not_established (active), gateway IP " + master.ip,
		slave.id + " (slave): ike_sa_not_established (active), gateway IP " + slave.ip, "BGP:", "169.254.20.0/30", "log (last 10 minutes):"} {
		if !strings.Contains(st, want) {
			t.Errorf("vpn status lacks %q:\n%s", want, st)
		}
	}

	// What cannot be rendered.
	single := call("2016-04-28", "CreateVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "CustomerGatewayId": cgw1})["VpnConnectionId"].(string)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{vco, "--tunnel", "tun-nope1"}, "InvalidTunnelId.NotFound"},
		{[]string{vco, "--tunnel", slave.id, "--format", "json"}, "--tunnel applies to --format strongswan"},
		{[]string{single, "--tunnel", slave.id}, "single tunnel; leave TunnelId out"},
	} {
		if _, err := cli(t, srv, alice, append([]string{"vpn", "config"}, c.args...)...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("vpn config %v: %v; want %q", c.args, err, c.want)
		}
	}
}
