package console

import (
	"errors"
	"maps"
	"net/url"
	"testing"

	"opencen/internal/connect"
)

// shown is a dual-tunnel connection as the edit form shows it.
func shown() url.Values {
	f := url.Values{}
	tunnelDefaults(f)
	f.Set("TunnelMode", dualTunnel)
	f.Set(tunnelField(1, "CustomerGatewayId"), "cgw-a")
	f.Set(tunnelField(2, "CustomerGatewayId"), "cgw-b")
	f.Set(tunnelField(1, "TunnelIkeConfig.Psk"), " key one ")
	f.Set(tunnelField(2, "TunnelIkeConfig.Psk"), "key-two")
	f.Set(tunnelField(1, "TunnelIkeConfig.LocalId"), "198.18.100.1")
	return f
}

func TestDualChanges(t *testing.T) {
	ids := map[int]string{1: "tun-x1", 2: "tun-x2"}
	for _, c := range []struct {
		name    string
		edit    func(url.Values)
		want    map[string]string
		wantErr string // the field of a FieldError
	}{
		{"nothing", func(url.Values) {}, map[string]string{}, ""},
		{"one field of tunnel 2", func(f url.Values) { f.Set(tunnelField(2, "TunnelIpsecConfig.IpsecPfs"), "group14") },
			map[string]string{ts + "2.TunnelIpsecConfig.IpsecPfs": "group14", ts + "2.TunnelIndex": "2", ts + "2.TunnelId": "tun-x2"}, ""},
		{"roles swapped", func(f url.Values) {
			f.Set(tunnelField(1, "Role"), "slave")
			f.Set(tunnelField(2, "Role"), "master")
		}, map[string]string{ts + "1.Role": "slave", ts + "1.TunnelIndex": "1", ts + "1.TunnelId": "tun-x1",
			ts + "2.Role": "master", ts + "2.TunnelIndex": "2", ts + "2.TunnelId": "tun-x2"}, ""},
		{"a switch off", func(f url.Values) { f.Del(tunnelField(1, "EnableDpd")) },
			map[string]string{ts + "1.EnableDpd": "false", ts + "1.TunnelIndex": "1", ts + "1.TunnelId": "tun-x1"}, ""},
		{"BGP on, with the tunnels' addresses", func(f url.Values) {
			f.Set("EnableTunnelsBgp", "on")
			f.Set(tunnelField(1, "TunnelBgpConfig.TunnelCidr"), "169.254.10.0/30")
		}, map[string]string{"EnableTunnelsBgp": "true", ts + "1.TunnelBgpConfig.TunnelCidr": "169.254.10.0/30", ts + "1.TunnelIndex": "1", ts + "1.TunnelId": "tun-x1"}, ""},
		{"BGP fields ignored while BGP is off", func(f url.Values) { f.Set(tunnelField(2, "TunnelBgpConfig.TunnelCidr"), "169.254.20.0/30") },
			map[string]string{}, ""},
		{"the key is sent as typed", func(f url.Values) { f.Set(tunnelField(1, "TunnelIkeConfig.Psk"), " key two ") },
			map[string]string{ts + "1.TunnelIkeConfig.Psk": " key two ", ts + "1.TunnelIndex": "1", ts + "1.TunnelId": "tun-x1"}, ""},
		{"a cleared identity", func(f url.Values) { f.Set(tunnelField(1, "TunnelIkeConfig.LocalId"), " ") }, nil, ts + "1.TunnelIkeConfig.LocalId"},
		{"a cleared gateway", func(f url.Values) { f.Set(tunnelField(2, "CustomerGatewayId"), "") }, nil, ts + "2.CustomerGatewayId"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := shown()
			c.edit(f)
			p := map[string]string{}
			changed, err := dualChanges(p, f, shown(), ids)
			if c.wantErr != "" {
				var fe *connect.FieldError
				if !errors.As(err, &fe) || fe.Field != c.wantErr {
					t.Fatalf("err = %v, want a FieldError on %s", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(p, c.want) || changed != (len(c.want) > 0) {
				t.Errorf("changed %v, params %v; want %v", changed, p, c.want)
			}
		})
	}
}

func TestDualParams(t *testing.T) {
	// connect.VPN's parameters of the form's shared fields, single-tunnel ones included.
	p := map[string]string{"RegionId": "cn-hangzhou", "Name": "n", "LocalSubnet": "0.0.0.0/0", "CustomerGatewayId": "",
		"IkeConfig": `{"IkeVersion":"ikev2"}`, "IpsecConfig": "{}", "BgpConfig": `{"EnableBgp":false}`, "EnableDpd": "true", "EnableNatTraversal": "true",
		"HealthCheckConfig": `{"enable":false}`}
	f := shown()
	f.Set(tunnelField(2, "TunnelBgpConfig.TunnelCidr"), "169.254.20.0/30") // BGP is off: not sent
	dualParams(p, f)
	for _, k := range singleOnly {
		if _, ok := p[k]; ok {
			t.Errorf("%s sent for a dual-tunnel connection", k)
		}
	}
	for k, want := range map[string]string{"Name": "n", "HealthCheckConfig": `{"enable":false}`, "EnableTunnelsBgp": "false",
		ts + "1.TunnelIndex": "1", ts + "2.TunnelIndex": "2", ts + "1.CustomerGatewayId": "cgw-a", ts + "2.Role": "slave",
		ts + "1.TunnelIkeConfig.Psk": " key one ", ts + "2.TunnelIkeConfig.IkeVersion": "ikev2", ts + "1.TunnelIkeConfig.IkeAuthAlg": "sha1",
		ts + "2.TunnelIpsecConfig.IpsecLifetime": "86400", ts + "1.EnableDpd": "true", ts + "2.EnableNatTraversal": "true"} {
		if p[k] != want {
			t.Errorf("%s = %q, want %q", k, p[k], want)
		}
	}
	for _, k := range []string{ts + "2.TunnelBgpConfig.TunnelCidr", ts + "2.TunnelIkeConfig.LocalId", ts + "1.TunnelId"} {
		if _, ok := p[k]; ok {
			t.Errorf("%s sent: %q", k, p[k])
		}
	}
}

const ts = "TunnelOptionsSpecification."
