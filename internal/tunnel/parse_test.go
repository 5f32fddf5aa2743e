package tunnel

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"opencen/internal/model"
)

// stored is a healthy attached connection as the service stores it (PSK opened).
func stored() (*model.VpnConnection, *model.CustomerGateway, string) {
	v := &model.VpnConnection{
		Meta: model.Meta{ID: "vco-abc"}, Name: "dc1", InternetIP: "198.18.100.1",
		LocalSubnet: model.AllIPv4, RemoteSubnet: model.AllIPv4,
		Ike: model.PageIke(), Ipsec: model.PageIpsec(), Bgp: model.DefaultBgp(), HealthCheck: model.DefaultHealthCheck(),
		EnableDpd: true, EnableNatTraversal: true, EffectImmediately: true,
	}
	cgw := &model.CustomerGateway{Meta: model.Meta{ID: "cgw-1"}, IPAddress: "198.18.0.2", Asn: 65010}
	return v, cgw, "Secret-1"
}

func TestParseHealthy(t *testing.T) {
	v, cgw, psk := stored()
	v.Bgp = model.BgpConfig{EnableBgp: true, LocalAsn: 45104, TunnelCidr: "169.254.11.0/30", LocalBgpIp: "169.254.11.1"}
	v.HealthCheck = model.HealthCheck{Enable: true, Sip: "10.10.0.9", Dip: "192.168.10.9", Interval: 2, Retry: 4, Policy: "reserve_route"}
	s, err := FromConnection(v, cgw, psk, "md5-key")
	if err != nil {
		t.Fatal(err)
	}
	want := Spec{
		Name: "dc1",
		IPsec: IPsec{
			ID: "vco-abc", Cloud: netip.MustParseAddr("198.18.100.1"), Customer: netip.MustParseAddr("198.18.0.2"),
			CloudID: Identity{addr: netip.MustParseAddr("198.18.100.1")}, CustomerID: Identity{addr: netip.MustParseAddr("198.18.0.2")},
			PSK: "Secret-1",
			IKE: IKE{Version: 2, Enc: "aes", Auth: "sha1", DH: "group2", Lifetime: 86400 * time.Second},
			ESP: ESP{Enc: "aes", Auth: "sha1", PFS: "group2", Lifetime: 86400 * time.Second},
			DPD: true, NATTraversal: true, StartNow: true,
			CloudSubnets: []netip.Prefix{allIPv4}, CustomerSubnets: []netip.Prefix{allIPv4},
		},
		BGP: &BGP{TunnelCIDR: netip.MustParsePrefix("169.254.11.0/30"), CloudIP: netip.MustParseAddr("169.254.11.1"),
			CustomerIP: netip.MustParseAddr("169.254.11.2"), CloudASN: 45104, CustomerASN: 65010, AuthKey: "md5-key"},
		HealthCheck: &HealthCheck{Source: netip.MustParseAddr("10.10.0.9"), Destination: netip.MustParseAddr("192.168.10.9"),
			Interval: 2 * time.Second, Retry: 4},
	}
	if !equalSpec(s, want) {
		t.Errorf("got  %+v\nwant %+v", s, want)
	}
	if got := s.IPsec.IKEProposal(); got != "aes128-sha1-modp1024" {
		t.Errorf("IKE proposal %q", got)
	}
	if !s.IPsec.RouteBased() || len(s.IPsec.Children()) != 1 || s.IPsec.Children()[0].Name != "vco-abc" {
		t.Errorf("route-based children %+v", s.IPsec.Children())
	}
}

func equalSpec(a, b Spec) bool {
	eqBGP := (a.BGP == nil) == (b.BGP == nil) && (a.BGP == nil || *a.BGP == *b.BGP)
	eqHC := (a.HealthCheck == nil) == (b.HealthCheck == nil) && (a.HealthCheck == nil || *a.HealthCheck == *b.HealthCheck)
	x, y := a.IPsec, b.IPsec
	return a.Name == b.Name && eqBGP && eqHC && slices.Equal(x.CloudSubnets, y.CloudSubnets) && slices.Equal(x.CustomerSubnets, y.CustomerSubnets) &&
		x.ID == y.ID && x.Cloud == y.Cloud && x.Customer == y.Customer && x.CloudID == y.CloudID && x.CustomerID == y.CustomerID &&
		x.PSK == y.PSK && x.IKE == y.IKE && x.ESP == y.ESP && x.DPD == y.DPD && x.NATTraversal == y.NATTraversal && x.StartNow == y.StartNow
}

func TestParseModesAndSelectors(t *testing.T) {
	v, cgw, psk := stored()
	v.Ike.IkeMode = "aggressive" // IKEv2: ignored, as the cloud does
	s, err := FromConnection(v, cgw, psk, "")
	if err != nil || s.IPsec.IKE.Aggressive {
		t.Fatalf("IKEv2 + aggressive: %v, aggressive=%v; want it to parse as IKEv2 without a mode", err, s.IPsec.IKE.Aggressive)
	}
	v.Ike.IkeVersion = "ikev1"
	v.LocalSubnet, v.RemoteSubnet = "10.1.0.0/16,10.2.0.0/16", "192.168.1.0/24,192.168.2.0/24"
	v.Ipsec.IpsecPfs = "disabled"
	v.Ike.LocalId, v.Ike.RemoteId = "@cloud.example.com", "dc.example.net"
	s, err = FromConnection(v, cgw, psk, "")
	if err != nil {
		t.Fatal(err)
	}
	if !s.IPsec.IKE.Aggressive || s.IPsec.ESPProposal() != "aes128-sha1" {
		t.Errorf("IKEv1 aggressive, PFS off: %+v, ESP %q", s.IPsec.IKE, s.IPsec.ESPProposal())
	}
	if s.IPsec.CloudID.Swanctl() != "@cloud.example.com" || s.IPsec.CustomerID.Swanctl() != "@dc.example.net" || s.IPsec.CloudID.String() != "cloud.example.com" {
		t.Errorf("identities %q %q", s.IPsec.CloudID.Swanctl(), s.IPsec.CustomerID.Swanctl())
	}
	var names []string
	for _, c := range s.IPsec.Children() {
		names = append(names, c.Name+" "+c.Cloud[0].String()+" "+c.Customer[0].String())
	}
	want := []string{"vco-abc-1 10.1.0.0/16 192.168.1.0/24", "vco-abc-2 10.1.0.0/16 192.168.2.0/24",
		"vco-abc-3 10.2.0.0/16 192.168.1.0/24", "vco-abc-4 10.2.0.0/16 192.168.2.0/24"}
	if !slices.Equal(names, want) {
		t.Errorf("IKEv1 children %q, want %q", names, want)
	}
}

// TestParseProblems: every damaged field is named with what to use, and the parts fail
// apart: a broken BGP or health check leaves the tunnel itself usable.
func TestParseProblems(t *testing.T) {
	for _, c := range []struct {
		name            string
		edit            func(*model.VpnConnection, *model.CustomerGateway)
		part            string // tunnel, bgp, hc
		field, contains string
	}{
		{"unparsable gateway IP", func(v *model.VpnConnection, _ *model.CustomerGateway) { v.InternetIP = "198.18.100.300" }, "tunnel", "InternetIp", "not an IPv4 address"},
		{"customer IPv6", func(_ *model.VpnConnection, g *model.CustomerGateway) { g.IPAddress = "2001:db8::1" }, "tunnel", "CustomerGateway.IpAddress", "not an IPv4 address"},
		{"unknown encryption", func(v *model.VpnConnection, _ *model.CustomerGateway) { v.Ike.IkeEncAlg = "blowfish" }, "tunnel", "IkeConfig.IkeEncAlg", "aes, aes192, aes256, des, 3des"},
		{"unknown ESP auth", func(v *model.VpnConnection, _ *model.CustomerGateway) { v.Ipsec.IpsecAuthAlg = "sha3" }, "tunnel", "IpsecConfig.IpsecAuthAlg", "md5, sha1"},
		{"IKE without DH", func(v *model.VpnConnection, _ *model.CustomerGateway) { v.Ike.IkePfs = "disabled" }, "tunnel", "IkeConfig.IkePfs", "group1"},
		{"IKE version", func(v *model.VpnConnection, _ *model.CustomerGateway) { v.Ike.IkeVersion = "ikev3" }, "tunnel", "IkeConfig.IkeVersion", "ikev1 or ikev2"},
		{"IKEv1 mode", func(v *model.VpnConnection, _ *model.CustomerGateway) {
			v.Ike.IkeVersion, v.Ike.IkeMode = "ikev1", "fast"
		}, "tunnel", "IkeConfig.IkeMode", "main or aggressive"},
		{"lifetime", func(v *model.VpnConnection, _ *model.CustomerGateway) { v.Ipsec.IpsecLifetime = -5 }, "tunnel", "IpsecConfig.IpsecLifetime", "0 to 86400"},
		{"identity with brace", func(v *model.VpnConnection, _ *model.CustomerGateway) { v.Ike.LocalId = "a}b.example" }, "tunnel", "IkeConfig.LocalId", "FQDN"},
		{"identity with newline", func(v *model.VpnConnection, _ *model.CustomerGateway) { v.Ike.RemoteId = "a.example\nsecret = x" }, "tunnel", "IkeConfig.RemoteId", "FQDN"},
		{"subnet", func(v *model.VpnConnection, _ *model.CustomerGateway) { v.LocalSubnet = "10.0.0.0/8,x" }, "tunnel", "LocalSubnet", "IPv4 CIDR"},
		{"connection ID", func(v *model.VpnConnection, _ *model.CustomerGateway) { v.ID = "vco-1 {" }, "tunnel", "VpnConnectionId", "cannot name a tunnel"},
		{"BGP tunnel CIDR not a /30", func(v *model.VpnConnection, _ *model.CustomerGateway) {
			v.Bgp = model.BgpConfig{EnableBgp: true, LocalAsn: 45104, TunnelCidr: "169.254.11.0/29", LocalBgpIp: "169.254.11.1"}
		}, "bgp", "BgpConfig", "/30"},
		{"BGP without customer ASN", func(v *model.VpnConnection, g *model.CustomerGateway) {
			v.Bgp = model.BgpConfig{EnableBgp: true, LocalAsn: 45104, TunnelCidr: "169.254.11.0/30", LocalBgpIp: "169.254.11.1"}
			g.Asn = 0
		}, "bgp", "CustomerGateway.Asn", "no ASN"},
		{"health check source", func(v *model.VpnConnection, _ *model.CustomerGateway) {
			v.HealthCheck = model.HealthCheck{Enable: true, Sip: "10.0.0.300", Dip: "192.168.1.1", Interval: 3, Retry: 3, Policy: "revoke_route"}
		}, "hc", "HealthCheckConfig", "Sip"},
		{"health check policy", func(v *model.VpnConnection, _ *model.CustomerGateway) {
			v.HealthCheck = model.HealthCheck{Enable: true, Sip: "10.0.0.3", Dip: "192.168.1.1", Interval: 3, Retry: 3, Policy: "drop"}
		}, "hc", "HealthCheckConfig", "revoke_route"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, cgw, psk := stored()
			c.edit(v, cgw)
			p := Parse(v, cgw, psk, "")
			part := map[string]error{"tunnel": p.Tunnel, "bgp": p.BGP, "hc": p.HealthCheck}
			for name, err := range part {
				if (name == c.part) != (err != nil) {
					t.Errorf("part %s: err = %v (want one only in %s)", name, err, c.part)
				}
			}
			var ps Problems
			if !errors.As(part[c.part], &ps) || len(ps) == 0 {
				t.Fatalf("%s: no Problems: %v", c.part, part[c.part])
			}
			if ps[0].Field != c.field || !strings.Contains(ps[0].Problem, c.contains) {
				t.Errorf("problem %q, want field %s mentioning %q", ps[0].Error(), c.field, c.contains)
			}
			if c.part != "tunnel" && p.Spec.IPsec.ID == "" {
				t.Error("a broken BGP or health check must leave the tunnel's spec")
			}
			if c.part == "bgp" && p.Spec.BGP != nil || c.part == "hc" && p.Spec.HealthCheck != nil {
				t.Error("a failed part must be nil in the spec")
			}
			if got := p.Problems(); len(got) != len(ps) {
				t.Errorf("Problems() = %v", got)
			}
		})
	}
}

func TestParseNotAttached(t *testing.T) {
	v, cgw, psk := stored()
	v.InternetIP = ""
	p := Parse(v, cgw, psk, "")
	if !errors.Is(p.Err(), ErrNotAttached) || len(p.Problems()) != 0 {
		t.Fatalf("err %v, problems %v; want only ErrNotAttached", p.Err(), p.Problems())
	}
	if p.Spec.IPsec.Cloud.IsValid() || p.Spec.IPsec.CloudID.IsValid() || p.Spec.IPsec.Customer.String() != "198.18.0.2" {
		t.Errorf("spec of an unattached connection: %+v", p.Spec.IPsec)
	}
}

// FuzzParse: any record parses without panicking; what parses whole renders proposals and
// children that name only known keywords.
func FuzzParse(f *testing.F) {
	f.Add("198.18.100.1", "198.18.0.2", "ikev2", "aggressive", "aes", "sha1", "group2", "disabled", "0.0.0.0/0", "0.0.0.0/0", "169.254.11.0/30", "169.254.11.1", "", int64(86400))
	f.Add("1.2.3.4", "x", "ikev1", "main", "3des", "md5", "group14", "group1", "10.0.0.0/8,10.1.0.0/16", "192.168.0.0/16", "169.254.11.0/29", "169.254.11.9", "@a.b", int64(-1))
	f.Fuzz(func(t *testing.T, cloud, customer, version, mode, enc, auth, dh, pfs, local, remote, cidr, bgpIP, id string, life int64) {
		v, cgw, psk := stored()
		v.InternetIP, cgw.IPAddress = cloud, customer
		v.Ike.IkeVersion, v.Ike.IkeMode, v.Ike.IkeEncAlg, v.Ike.IkeAuthAlg, v.Ike.IkePfs, v.Ike.IkeLifetime = version, mode, enc, auth, dh, life
		v.Ipsec.IpsecPfs = pfs
		v.LocalSubnet, v.RemoteSubnet = local, remote
		v.Ike.LocalId = id
		v.Bgp = model.BgpConfig{EnableBgp: true, LocalAsn: 45104, TunnelCidr: cidr, LocalBgpIp: bgpIP}
		p := Parse(v, cgw, psk, "")
		if p.Tunnel != nil {
			return
		}
		s := p.Spec.IPsec
		for _, prop := range []string{s.IKEProposal(), s.ESPProposal()} {
			if strings.Contains(prop, "--") || strings.HasSuffix(prop, "-") {
				t.Fatalf("proposal %q from a spec that parsed", prop)
			}
		}
		if len(s.Children()) == 0 || !s.Cloud.Is4() || !s.Customer.Is4() || !s.CloudID.IsValid() {
			t.Fatalf("spec that parsed is incomplete: %+v", s)
		}
		if p.Spec.BGP != nil && (!p.Spec.BGP.CustomerIP.IsValid() || p.Spec.BGP.TunnelCIDR.Bits() != 30) {
			t.Fatalf("BGP that parsed: %+v", p.Spec.BGP)
		}
	})
}
