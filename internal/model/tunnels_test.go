package model

import (
	"opencen/internal/apierr"
	"strings"
	"testing"
)

func TestTunnelIDRoundTrip(t *testing.T) {
	for _, vco := range []string{"vco-abc123", "vco-x", NewID(KindVpnConnection)} {
		for _, i := range []int{1, 2} {
			id := TunnelID(vco, i)
			got, n, ok := TunnelOf(id)
			if !ok || got != vco || n != i || !strings.HasPrefix(id, "tun-") || !SafeID(id) {
				t.Errorf("TunnelID(%q, %d) = %q, read back as %q %d %v", vco, i, id, got, n, ok)
			}
		}
	}
	for _, id := range []string{"", "tun-", "tun-a", "tun-abc3", "vco-abc1", "tun-abc0"} {
		if _, _, ok := TunnelOf(id); ok {
			t.Errorf("TunnelOf(%q) is a tunnel", id)
		}
	}
}

func FuzzTunnelOf(f *testing.F) {
	f.Add("tun-abc1")
	f.Add("tun-2")
	f.Fuzz(func(t *testing.T, id string) {
		vco, n, ok := TunnelOf(id)
		if ok && TunnelID(vco, n) != id {
			t.Fatalf("TunnelOf(%q) = %q %d, which names %q", id, vco, n, TunnelID(vco, n))
		}
	})
}

func TestApplyTunnels(t *testing.T) {
	sp := func(s string) *string { return &s }
	ip := func(n int64) *int64 { return &n }
	bp := func(b bool) *bool { return &b }
	two := func(mod ...func(a, b *TunnelInput)) []TunnelInput {
		a := TunnelInput{Name: "TunnelOptionsSpecification.1", CustomerGatewayID: sp("cgw-a")}
		b := TunnelInput{Name: "TunnelOptionsSpecification.2", CustomerGatewayID: sp("cgw-b")}
		for _, m := range mod {
			m(&a, &b)
		}
		return []TunnelInput{a, b}
	}
	bgp := func(a, b *TunnelInput) {
		a.Bgp = BgpInput{TunnelCidr: sp("169.254.11.0/30"), LocalBgpIp: sp("169.254.11.1")}
		b.Bgp = BgpInput{TunnelCidr: sp("169.254.12.0/30"), LocalBgpIp: sp("169.254.12.1")}
	}
	t.Run("defaults", func(t *testing.T) {
		out, on, err := ApplyTunnels(two(), nil, nil, false)
		if err != nil || on {
			t.Fatal(err, on)
		}
		for i, tun := range out {
			if tun.Index != i+1 || tun.Ike.IkeVersion != "ikev2" || tun.Ike.IkeAuthAlg != "sha1" || tun.Ipsec.IpsecAuthAlg != "sha1" ||
				tun.Ike.IkePfs != "group2" || tun.Ike.IkeLifetime != 86400 || !tun.EnableDpd || !tun.EnableNatTraversal || tun.Bgp.LocalAsn != DefaultLocalASN || len(tun.Ike.Psk) != 16 {
				t.Errorf("tunnel %d: %+v", i+1, tun)
			}
		}
		if out[0].Role != RoleMaster || out[1].Role != RoleSlave || out[0].CustomerGatewayID != "cgw-a" || out[1].CustomerGatewayID != "cgw-b" {
			t.Errorf("roles/gateways: %+v", out)
		}
	})
	t.Run("index and role given, out of order", func(t *testing.T) {
		out, _, err := ApplyTunnels(two(func(a, b *TunnelInput) {
			a.Index, b.Index = ip(2), ip(1)
			a.Role, b.Role = sp(RoleMaster), sp(RoleSlave)
		}), nil, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		if out[0].Index != 1 || out[0].CustomerGatewayID != "cgw-b" || out[0].Role != RoleSlave || out[1].Role != RoleMaster {
			t.Errorf("%+v", out)
		}
	})
	t.Run("bgp", func(t *testing.T) {
		out, on, err := ApplyTunnels(two(bgp), bp(true), nil, false)
		if err != nil || !on || !out[0].Bgp.EnableBgp || !out[1].Bgp.EnableBgp {
			t.Fatal(err, on, out)
		}
	})
	t.Run("modify by id and index", func(t *testing.T) {
		base, _, err := ApplyTunnels(two(), nil, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		base[0].ID, base[1].ID = "tun-x1", "tun-x2"
		out, _, err := ApplyTunnels([]TunnelInput{{Name: "T.1", TunnelID: "tun-x2", Ike: IkeInput{IkeVersion: sp("ikev1")}}}, nil, base, false)
		if err != nil || out[1].Ike.IkeVersion != "ikev1" || out[0].Ike.IkeVersion != "ikev2" || out[0].Ike.Psk != base[0].Ike.Psk {
			t.Fatal(err, out)
		}
		if base[1].Ike.IkeVersion != "ikev2" {
			t.Fatal("the base was modified in place")
		}
		out, _, err = ApplyTunnels([]TunnelInput{{Name: "T.1", Index: ip(1), Role: sp(RoleSlave)}, {Name: "T.2", Index: ip(2), Role: sp(RoleMaster)}}, nil, base, false)
		if err != nil || out[0].Role != RoleSlave || out[1].Role != RoleMaster {
			t.Fatal(err, out)
		}
		// BGP switched on later needs both CIDRs.
		if _, _, err := ApplyTunnels(nil, bp(true), base, false); err == nil || !strings.Contains(err.Error(), "TunnelBgpConfig.TunnelCidr") {
			t.Fatal(err)
		}
	})
	bad := []struct {
		name  string
		in    []TunnelInput
		bgp   *bool
		base  []VpnTunnel
		code  string
		words string
	}{
		{"one", two()[:1], nil, nil, "InvalidTunnelOptionsSpecification", "exactly two"},
		{"three", append(two(), TunnelInput{Name: "T.3"}), nil, nil, "InvalidTunnelOptionsSpecification", "got 3"},
		{"index 3", two(func(a, b *TunnelInput) { b.Index = ip(3) }), nil, nil, "InvalidTunnelOptionsSpecificationTunnelIndex", "1 or 2"},
		{"same index", two(func(a, b *TunnelInput) { a.Index, b.Index = ip(2), ip(2) }), nil, nil, "InvalidTunnelOptionsSpecificationTunnelIndex", "once"},
		{"bad role", two(func(a, b *TunnelInput) { a.Role = sp("primary") }), nil, nil, "InvalidTunnelOptionsSpecificationRole", "master, slave"},
		{"two slaves", two(func(a, b *TunnelInput) { a.Role = sp(RoleSlave) }), nil, nil, "InvalidTunnelOptionsSpecificationRole", "both are slave"},
		{"no gateway", two(func(a, b *TunnelInput) { b.CustomerGatewayID = nil }), nil, nil, "MissingTunnelOptionsSpecificationCustomerGatewayId", ""},
		{"bgp no cidr", two(), bp(true), nil, "MissingTunnelOptionsSpecificationTunnelBgpConfigTunnelCidr", ""},
		{"equal cidrs", two(bgp, func(a, b *TunnelInput) { b.Bgp = a.Bgp }), bp(true), nil, "InvalidTunnelOptionsSpecificationTunnelBgpConfigTunnelCidr", "different"},
		{"id on create", two(func(a, b *TunnelInput) { a.TunnelID = "tun-x1" }), nil, nil, "InvalidTunnelOptionsSpecificationTunnelId", "modify"},
		{"unknown id", []TunnelInput{{Name: "T.1", TunnelID: "tun-zz1"}}, nil, []VpnTunnel{{ID: "tun-x1", Index: 1, Role: RoleMaster, CustomerGatewayID: "g"}, {ID: "tun-x2", Index: 2, Role: RoleSlave, CustomerGatewayID: "g"}}, "InvalidTunnelId.NotFound", "tun-zz1"},
		{"ike", two(func(a, b *TunnelInput) { b.Ike.IkeEncAlg = sp("rot13") }), nil, nil, "InvalidTunnelOptionsSpecificationTunnelIkeConfigIkeEncAlg", "TunnelOptionsSpecification.2.TunnelIkeConfig.IkeEncAlg"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ApplyTunnels(tc.in, tc.bgp, tc.base, false)
			if e, ok := err.(*apierr.Error); ok && strings.HasSuffix(tc.code, ".NotFound") {
				if e.Code != tc.code || e.HTTPStatus() != 404 || !strings.Contains(e.Message, tc.words) {
					t.Fatalf("%v (%d)", e, e.HTTPStatus())
				}
				return
			}
			if tc.words == "" {
				vpnErr(t, tc.name, err, tc.code)
			} else {
				vpnErr(t, tc.name, err, tc.code, tc.words)
			}
		})
	}
}
