package model

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"opencen/internal/apierr"
)

func sp(s string) *string { return &s }
func ip64(n int64) *int64 { return &n }
func bp(b bool) *bool     { return &b }

// vpnErr checks err against a wanted code ("" = no error) and that the message contains
// each of mentions (the allowed values, the offending value, ...).
func vpnErr(t *testing.T, what string, err error, wantCode string, mentions ...string) {
	t.Helper()
	if wantCode == "" {
		if err != nil {
			t.Errorf("%s: unexpected error %v", what, err)
		}
		return
	}
	var e *apierr.Error
	if !errors.As(err, &e) {
		t.Errorf("%s: err = %v, want %s", what, err, wantCode)
		return
	}
	if e.Code != wantCode {
		t.Errorf("%s: code %s, want %s (%s)", what, e.Code, wantCode, e.Message)
	}
	for _, m := range mentions {
		if !strings.Contains(e.Message, m) {
			t.Errorf("%s: message %q does not mention %q", what, e.Message, m)
		}
	}
	if e.HTTPStatus() != 400 {
		t.Errorf("%s: status %d, want 400", what, e.HTTPStatus())
	}
}

func TestIkeInputApply(t *testing.T) {
	base := DefaultIke()
	base.Psk = "base-key"
	for _, tc := range []struct {
		name     string
		in       IkeInput
		code     string
		mentions []string
		check    func(IkeConfig) bool
	}{
		{"nothing given keeps base", IkeInput{}, "", nil, func(c IkeConfig) bool { return c == base }},
		{"all fields merge", IkeInput{Psk: sp("k"), IkeVersion: sp("ikev1"), IkeMode: sp("aggressive"), IkeEncAlg: sp("3des"),
			IkeAuthAlg: sp("md5"), IkePfs: sp("group14"), IkeLifetime: ip64(0), LocalId: sp("cloud.example.com"), RemoteId: sp("@dc.example.net")}, "", nil,
			func(c IkeConfig) bool {
				return c == IkeConfig{Psk: "k", IkeVersion: "ikev1", IkeMode: "aggressive", IkeEncAlg: "3des", IkeAuthAlg: "md5",
					IkePfs: "group14", IkeLifetime: 0, LocalId: "cloud.example.com", RemoteId: "@dc.example.net"}
			}},
		{"each enc", IkeInput{IkeEncAlg: sp("aes192")}, "", nil, nil},
		{"lifetime max", IkeInput{IkeLifetime: ip64(86400)}, "", nil, nil},
		{"version", IkeInput{IkeVersion: sp("ikev3")}, "InvalidIkeConfigIkeVersion", []string{"ikev1, ikev2", `"ikev3"`}, nil},
		{"mode", IkeInput{IkeMode: sp("quick")}, "InvalidIkeConfigIkeMode", []string{"main, aggressive"}, nil},
		{"enc", IkeInput{IkeEncAlg: sp("aes128")}, "InvalidIkeConfigIkeEncAlg", []string{"aes, aes192, aes256, des, 3des", `"aes128"`}, nil},
		{"enc case", IkeInput{IkeEncAlg: sp("AES")}, "InvalidIkeConfigIkeEncAlg", nil, nil},
		{"auth", IkeInput{IkeAuthAlg: sp("sha224")}, "InvalidIkeConfigIkeAuthAlg", []string{"sha1, md5, sha256, sha384, sha512"}, nil},
		{"pfs disabled is IPsec only", IkeInput{IkePfs: sp("disabled")}, "InvalidIkeConfigIkePfs", []string{"group1, group2, group5, group14"}, nil},
		{"pfs", IkeInput{IkePfs: sp("group24")}, "InvalidIkeConfigIkePfs", nil, nil},
		{"lifetime negative", IkeInput{IkeLifetime: ip64(-1)}, "InvalidIkeConfigIkeLifetime", []string{"0 to 86400"}, nil},
		{"lifetime too long", IkeInput{IkeLifetime: ip64(86401)}, "InvalidIkeConfigIkeLifetime", []string{"0 to 86400", "86401"}, nil},
		{"psk empty", IkeInput{Psk: sp("")}, "InvalidIkeConfigPsk", []string{"1 to 100"}, nil},
		{"psk space", IkeInput{Psk: sp("a b")}, "InvalidIkeConfigPsk", []string{pskSymbols}, nil},
		{"local id", IkeInput{LocalId: sp("bad id")}, "InvalidIkeConfigLocalId", []string{"IP address or FQDN"}, nil},
		{"remote id", IkeInput{RemoteId: sp("a..b")}, "InvalidIkeConfigRemoteId", []string{"FQDN"}, nil},
	} {
		got, err := tc.in.Apply(base)
		vpnErr(t, tc.name, err, tc.code, tc.mentions...)
		if tc.check != nil && !tc.check(got) {
			t.Errorf("%s: got %+v", tc.name, got)
		}
	}
	// An unchanged stored key is not re-validated (it may predate the rules).
	old := base
	old.Psk = ""
	if _, err := (IkeInput{IkeMode: sp("aggressive")}).Apply(old); err != nil {
		t.Errorf("PSK not given but checked: %v", err)
	}
	for _, v := range EncAlgs {
		if _, err := (IkeInput{IkeEncAlg: sp(v)}).Apply(base); err != nil {
			t.Errorf("enc %s: %v", v, err)
		}
	}
	for _, v := range AuthAlgs {
		if _, err := (IkeInput{IkeAuthAlg: sp(v)}).Apply(base); err != nil {
			t.Errorf("auth %s: %v", v, err)
		}
	}
	for _, v := range IkeDHGroups {
		if _, err := (IkeInput{IkePfs: sp(v)}).Apply(base); err != nil {
			t.Errorf("pfs %s: %v", v, err)
		}
	}
}

func TestIpsecInputApply(t *testing.T) {
	base := DefaultIpsec()
	for _, tc := range []struct {
		name     string
		in       IpsecInput
		code     string
		mentions []string
		want     *IpsecConfig
	}{
		{"nothing given keeps base", IpsecInput{}, "", nil, &base},
		{"merge", IpsecInput{IpsecEncAlg: sp("des"), IpsecAuthAlg: sp("sha512"), IpsecPfs: sp("disabled"), IpsecLifetime: ip64(0)}, "", nil,
			&IpsecConfig{IpsecEncAlg: "des", IpsecAuthAlg: "sha512", IpsecPfs: "disabled", IpsecLifetime: 0}},
		{"enc", IpsecInput{IpsecEncAlg: sp("aes-gcm")}, "InvalidIpsecConfigIpsecEncAlg", []string{"aes, aes192, aes256, des, 3des"}, nil},
		{"auth", IpsecInput{IpsecAuthAlg: sp("")}, "InvalidIpsecConfigIpsecAuthAlg", []string{"sha1, md5, sha256, sha384, sha512"}, nil},
		{"pfs", IpsecInput{IpsecPfs: sp("group19")}, "InvalidIpsecConfigIpsecPfs", []string{"disabled, group1, group2, group5, group14"}, nil},
		{"lifetime", IpsecInput{IpsecLifetime: ip64(90000)}, "InvalidIpsecConfigIpsecLifetime", []string{"0 to 86400"}, nil},
		{"lifetime negative", IpsecInput{IpsecLifetime: ip64(-5)}, "InvalidIpsecConfigIpsecLifetime", nil, nil},
	} {
		got, err := tc.in.Apply(base)
		vpnErr(t, tc.name, err, tc.code, tc.mentions...)
		if tc.want != nil && got != *tc.want {
			t.Errorf("%s: got %+v want %+v", tc.name, got, *tc.want)
		}
	}
	for _, v := range PfsGroups {
		if _, err := (IpsecInput{IpsecPfs: sp(v)}).Apply(base); err != nil {
			t.Errorf("pfs %s: %v", v, err)
		}
	}
}

func TestParseASN(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64 // 0 = invalid
	}{
		{"1", 1},
		{"65010", 65010},
		{"4294967295", 4294967295},
		{"123.456", 8061384},
		{"1.0", 65536},
		{"0.1", 1},
		{"65535.65535", 4294967295},
		{"0", 0},
		{"0.0", 0},
		{"4294967296", 0},
		{"65536.0", 0},
		{"1.65536", 0},
		{"-1", 0},
		{"+1", 0},
		{"", 0},
		{" 1", 0},
		{"1.2.3", 0},
		{"1.", 0},
		{".1", 0},
		{"asn", 0},
	} {
		got, err := ParseASN("BgpConfig.LocalAsn", tc.in)
		if tc.want == 0 {
			vpnErr(t, "ParseASN "+tc.in, err, "InvalidBgpConfigLocalAsn", "1 to 4294967295", "123.456 = 8061384")
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseASN(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestBgpInputApply(t *testing.T) {
	base := DefaultBgp()
	on := func(cidr, ip string) BgpInput {
		return BgpInput{EnableBgp: bp(true), TunnelCidr: sp(cidr), LocalBgpIp: sp(ip)}
	}
	for _, tc := range []struct {
		name     string
		in       BgpInput
		code     string
		mentions []string
		want     *BgpConfig
	}{
		{"off and empty", BgpInput{}, "", nil, &base},
		{"on", on("169.254.10.0/30", "169.254.10.1"), "", nil,
			&BgpConfig{EnableBgp: true, LocalAsn: 45104, TunnelCidr: "169.254.10.0/30", LocalBgpIp: "169.254.10.1"}},
		{"second host", on("169.254.10.0/30", "169.254.10.2"), "", nil, nil},
		{"asdot asn", BgpInput{EnableBgp: bp(true), LocalAsn: sp("123.456"), TunnelCidr: sp("169.254.10.0/30"), LocalBgpIp: sp("169.254.10.1")}, "", nil,
			&BgpConfig{EnableBgp: true, LocalAsn: 8061384, TunnelCidr: "169.254.10.0/30", LocalBgpIp: "169.254.10.1"}},
		{"empty asn keeps base", BgpInput{LocalAsn: sp("")}, "", nil, &base},
		{"bad asn", BgpInput{LocalAsn: sp("4294967296")}, "InvalidBgpConfigLocalAsn", []string{"4294967295"}, nil},
		{"on without cidr", BgpInput{EnableBgp: bp(true)}, "MissingBgpConfigTunnelCidr", []string{"BgpConfig.TunnelCidr"}, nil},
		{"cidr given while off is still checked", BgpInput{TunnelCidr: sp("10.0.0.0/30")}, "InvalidBgpConfigTunnelCidr", []string{"169.254.0.0/16"}, nil},
		{"not /30", on("169.254.10.0/29", "169.254.10.1"), "InvalidBgpConfigTunnelCidr", []string{"/30", "169.254.0.0/16"}, nil},
		{"host bits", on("169.254.10.1/30", "169.254.10.1"), "InvalidBgpConfigTunnelCidr", nil, nil},
		{"outside link-local", on("10.0.0.0/30", "10.0.0.1"), "InvalidBgpConfigTunnelCidr", nil, nil},
		{"ipv6", on("fe80::/126", "fe80::1"), "InvalidBgpConfigTunnelCidr", nil, nil},
		{"garbage", on("x", "169.254.10.1"), "InvalidBgpConfigTunnelCidr", nil, nil},
		{"no local ip", BgpInput{EnableBgp: bp(true), TunnelCidr: sp("169.254.10.0/30")}, "MissingBgpConfigLocalBgpIp", nil, nil},
		{"network address", on("169.254.10.0/30", "169.254.10.0"), "InvalidBgpConfigLocalBgpIp", []string{"169.254.10.1", "169.254.10.2"}, nil},
		{"broadcast address", on("169.254.10.0/30", "169.254.10.3"), "InvalidBgpConfigLocalBgpIp", []string{"169.254.10.1 or 169.254.10.2"}, nil},
		{"outside the /30", on("169.254.10.0/30", "169.254.11.1"), "InvalidBgpConfigLocalBgpIp", nil, nil},
	} {
		got, err := tc.in.Apply(base)
		vpnErr(t, tc.name, err, tc.code, tc.mentions...)
		if tc.want != nil && got != *tc.want {
			t.Errorf("%s: got %+v want %+v", tc.name, got, *tc.want)
		}
	}
}

func TestReservedTunnelCidrs(t *testing.T) {
	reserved := []string{
		"169.254.0.0/30", "169.254.1.0/30", "169.254.2.0/30", "169.254.3.0/30",
		"169.254.4.0/30", "169.254.5.0/30", "169.254.6.0/30", "169.254.169.252/30",
	}
	for _, cidr := range reserved {
		first := strings.TrimSuffix(cidr, "0/30") + "1"
		if cidr == "169.254.169.252/30" {
			first = "169.254.169.253"
		}
		_, err := BgpInput{EnableBgp: bp(true), TunnelCidr: sp(cidr), LocalBgpIp: sp(first)}.Apply(DefaultBgp())
		vpnErr(t, "reserved "+cidr, err, "InvalidBgpConfigTunnelCidr", "reserved", cidr, "169.254.0.0/30 to 169.254.6.0/30", "169.254.169.252/30")
	}
	for _, cidr := range []string{"169.254.7.0/30", "169.254.0.4/30", "169.254.169.248/30", "169.254.255.252/30"} {
		p := strings.Split(cidr, "/")[0]
		host := p[:strings.LastIndex(p, ".")+1]
		last := p[strings.LastIndex(p, ".")+1:]
		n := map[string]string{"0": "1", "4": "5", "248": "249", "252": "253"}[last]
		if _, err := (BgpInput{EnableBgp: bp(true), TunnelCidr: sp(cidr), LocalBgpIp: sp(host + n)}).Apply(DefaultBgp()); err != nil {
			t.Errorf("%s is not reserved: %v", cidr, err)
		}
	}
}

func TestPeerBgpIP(t *testing.T) {
	for _, tc := range []struct{ cidr, local, want string }{
		{"169.254.10.0/30", "169.254.10.1", "169.254.10.2"},
		{"169.254.10.0/30", "169.254.10.2", "169.254.10.1"},
		{"169.254.10.1/30", "169.254.10.1", "169.254.10.2"}, // unmasked input still works
		{"169.254.169.248/30", "169.254.169.250", "169.254.169.249"},
		{"", "169.254.10.1", ""},
		{"169.254.10.0/30", "", ""},
		{"169.254.10.0/30", "x", ""},
	} {
		if got := (BgpConfig{TunnelCidr: tc.cidr, LocalBgpIp: tc.local}).PeerBgpIP(); got != tc.want {
			t.Errorf("PeerBgpIP(%q, %q) = %q, want %q", tc.cidr, tc.local, got, tc.want)
		}
	}
}

func TestHealthCheckInputApply(t *testing.T) {
	base := DefaultHealthCheck()
	on := func(dip, sip string) HealthCheckInput {
		return HealthCheckInput{Enable: bp(true), Dip: sp(dip), Sip: sp(sip)}
	}
	for _, tc := range []struct {
		name     string
		in       HealthCheckInput
		code     string
		mentions []string
		want     *HealthCheck
	}{
		{"defaults", HealthCheckInput{}, "", nil, &base},
		{"on", on("192.168.10.1", "10.10.0.9"), "", nil,
			&HealthCheck{Enable: true, Dip: "192.168.10.1", Sip: "10.10.0.9", Interval: 3, Retry: 3, Policy: "revoke_route"}},
		{"all fields", HealthCheckInput{Enable: bp(true), Dip: sp("192.168.10.1"), Sip: sp("10.10.0.9"), Interval: ip64(3600), Retry: ip64(100), Policy: sp("reserve_route")}, "", nil,
			&HealthCheck{Enable: true, Dip: "192.168.10.1", Sip: "10.10.0.9", Interval: 3600, Retry: 100, Policy: "reserve_route"}},
		{"interval negative", HealthCheckInput{Interval: ip64(-1)}, "InvalidHealthCheckConfigInterval", []string{"1 to 3600"}, nil},
		{"interval 0 is unset", HealthCheckInput{Interval: ip64(0)}, "", nil, nil},
		{"interval too long", HealthCheckInput{Interval: ip64(3601)}, "InvalidHealthCheckConfigInterval", nil, nil},
		{"retry negative", HealthCheckInput{Retry: ip64(-3)}, "InvalidHealthCheckConfigRetry", []string{"1 to 100"}, nil},
		{"retry 0 is unset", HealthCheckInput{Retry: ip64(0)}, "", nil, nil},
		{"retry too many", HealthCheckInput{Retry: ip64(101)}, "InvalidHealthCheckConfigRetry", nil, nil},
		{"policy", HealthCheckInput{Policy: sp("drop")}, "InvalidHealthCheckConfigPolicy", []string{"revoke_route, reserve_route"}, nil},
		{"on without dip", HealthCheckInput{Enable: bp(true), Sip: sp("10.10.0.9")}, "MissingHealthCheckConfigDip", nil, nil},
		{"on without sip", HealthCheckInput{Enable: bp(true), Dip: sp("192.168.10.1")}, "MissingHealthCheckConfigSip", nil, nil},
		{"dip not ipv4", on("fd00::1", "10.10.0.9"), "InvalidHealthCheckConfigDip", []string{"IPv4"}, nil},
		{"sip garbage", on("192.168.10.1", "x"), "InvalidHealthCheckConfigSip", []string{"IPv4"}, nil},
		{"same", on("10.10.0.9", "10.10.0.9"), "InvalidHealthCheckConfigDip", []string{"differ"}, nil},
		{"off still checks given addresses", HealthCheckInput{Enable: bp(false), Dip: sp("x")}, "InvalidHealthCheckConfigDip", []string{"IPv4"}, nil},
		{"off without addresses", HealthCheckInput{Enable: bp(false)}, "", nil, nil},
	} {
		got, err := tc.in.Apply(base)
		vpnErr(t, tc.name, err, tc.code, tc.mentions...)
		if tc.want != nil && got != *tc.want {
			t.Errorf("%s: got %+v want %+v", tc.name, got, *tc.want)
		}
	}
}

func TestParseSubnets(t *testing.T) {
	for _, tc := range []struct {
		in       string
		want     string // JoinSubnets of the result
		code     string
		mentions []string
	}{
		{"0.0.0.0/0", "0.0.0.0/0", "", nil},
		{"10.0.0.0/16", "10.0.0.0/16", "", nil},
		{"10.0.0.0/16, 10.1.0.0/16 ,192.168.1.0/24", "10.0.0.0/16,10.1.0.0/16,192.168.1.0/24", "", nil},
		{"192.168.1.1/32", "192.168.1.1/32", "", nil},
		{"", "", "MissingLocalSubnet", nil},
		{"  ", "", "MissingLocalSubnet", nil},
		{"10.0.0.0", "", "InvalidLocalSubnet", []string{"CIDR", `"10.0.0.0"`}},
		{"10.0.0.0/33", "", "InvalidLocalSubnet", nil},
		{"fd00::/8", "", "InvalidLocalSubnet", nil},
		{"10.0.0.0/8,", "", "InvalidLocalSubnet", nil},
		{"10.0.0.1/8", "", "InvalidLocalSubnet", []string{"host bits", "10.0.0.0/8"}},
		{"10.0.0.0/8,10.0.0.0/8", "", "InvalidLocalSubnet", []string{"twice"}},
		{"0.0.0.0/0,10.0.0.0/8", "", "InvalidLocalSubnet", []string{"0.0.0.0/0"}},
		{tenPlusOne(), "", "InvalidLocalSubnet", []string{"at most 10"}},
	} {
		got, err := ParseSubnets("LocalSubnet", tc.in)
		vpnErr(t, "ParseSubnets "+tc.in, err, tc.code, tc.mentions...)
		if tc.code == "" && JoinSubnets(got) != tc.want {
			t.Errorf("ParseSubnets(%q) = %s, want %s", tc.in, JoinSubnets(got), tc.want)
		}
	}
	ten := strings.Split(tenPlusOne(), ",")[:10]
	if got, err := ParseSubnets("RemoteSubnet", strings.Join(ten, ",")); err != nil || len(got) != 10 {
		t.Errorf("10 subnets: %v, %v", got, err)
	}
}

func tenPlusOne() string {
	var s []string
	for i := range 11 {
		s = append(s, fmt.Sprintf("10.%d.0.0/16", i))
	}
	return strings.Join(s, ",")
}

func TestCheckPSK(t *testing.T) {
	// The SDK model's set, plus the ' the aliyun CLI's API metadata lists instead of ".
	const symbols = "~!`@#$%^&*()_-+={}[]|;:\"',.<>/?"
	if symbols != pskSymbols {
		t.Errorf("pskSymbols = %q, want %q", pskSymbols, symbols)
	}
	ok := []string{"a", "Z", "9", strings.Repeat("k", 100), symbols, "0x" + symbols + strings.Repeat("A", 98-len(symbols))}
	for _, r := range symbols {
		ok = append(ok, "key"+string(r))
	}
	for _, v := range ok {
		if err := CheckPSK("IkeConfig.Psk", v); err != nil {
			t.Errorf("CheckPSK(%q): %v", v, err)
		}
	}
	for _, tc := range []struct {
		v        string
		mentions []string
	}{
		{"", []string{"1 to 100"}},
		{strings.Repeat("k", 101), []string{"1 to 100", "101"}},
		{"a b", []string{symbols, "no spaces"}},
		{`back\slash`, []string{symbols}},
		{"tab\t", nil},
		{"中文", nil},
		{"é", nil},
	} {
		vpnErr(t, "CheckPSK "+tc.v, CheckPSK("IkeConfig.Psk", tc.v), "InvalidIkeConfigPsk", tc.mentions...)
	}
}

func TestCheckIdentity(t *testing.T) {
	for _, v := range []string{"", "203.0.113.1", "2001:db8::1", "dc.example.net", "@dc.example.net", "gw_1-a.example", "host",
		strings.Repeat("a", 63) + ".example", strings.Repeat("a.", 49) + "bb"} {
		if err := CheckIdentity("IkeConfig.LocalId", v); err != nil {
			t.Errorf("CheckIdentity(%q): %v", v, err)
		}
	}
	for _, v := range []string{"a b", "a\tb", "a\nb", strings.Repeat("a.", 50) + "b", strings.Repeat("a", 64) + ".example",
		"a..b", ".a", "a.", "@", "@@dc.example.net", "user@dc.example.net", "a=b", "a/b", "a:b", "a}b", "#a", "d\u00e9.example"} {
		vpnErr(t, "CheckIdentity "+v, CheckIdentity("IkeConfig.RemoteId", v), "InvalidIkeConfigRemoteId", "IP address", "FQDN")
	}
}

func TestCheckGatewayIP(t *testing.T) {
	for _, v := range []string{"203.0.113.1", "8.8.8.8", "10.0.0.1", "192.168.1.1", "100.63.255.255", "100.128.0.0", "223.255.255.255"} {
		if a, err := CheckGatewayIP("IpAddress", v); err != nil || a.String() != v {
			t.Errorf("CheckGatewayIP(%q) = %v, %v", v, a, err)
		}
	}
	for _, tc := range []struct{ v, range_ string }{
		{"100.64.0.1", "100.64.0.0/10"}, {"100.127.255.255", "100.64.0.0/10"},
		{"127.0.0.1", "127.0.0.0/8"}, {"169.254.1.1", "169.254.0.0/16"},
		{"224.0.0.1", "224.0.0.0/4"}, {"239.255.255.255", "224.0.0.0/4"},
		{"255.255.255.255", "255.0.0.0/8"}, {"255.0.0.0", "255.0.0.0/8"},
	} {
		_, err := CheckGatewayIP("IpAddress", tc.v)
		vpnErr(t, "CheckGatewayIP "+tc.v, err, "InvalidIpAddress", tc.range_, "100.64.0.0/10, 127.0.0.0/8, 169.254.0.0/16, 224.0.0.0/4 and 255.0.0.0/8")
	}
	for _, v := range []string{"0.0.0.0", "2001:db8::1", "::ffff:203.0.113.1", "203.0.113", "", "gw.example.com", "203.0.113.1/32"} {
		_, err := CheckGatewayIP("IpAddress", v)
		vpnErr(t, "CheckGatewayIP "+v, err, "InvalidIpAddress")
	}
}

func TestCheckCustomerASN(t *testing.T) {
	for in, want := range map[string]int64{"65010": 65010, "1": 1, "4294967295": 4294967295, "1.10": 65546, "45105": 45105} {
		if got, err := CheckCustomerASN("Asn", in); err != nil || got != want {
			t.Errorf("CheckCustomerASN(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"45104", "0.45104"} {
		_, err := CheckCustomerASN("Asn", in)
		vpnErr(t, "CheckCustomerASN "+in, err, "InvalidAsn", "45104", "reserved")
	}
	for _, in := range []string{"0", "", "4294967296", "65536.1"} {
		_, err := CheckCustomerASN("Asn", in)
		vpnErr(t, "CheckCustomerASN "+in, err, "InvalidAsn", "1 to 4294967295")
	}
}

func TestCheckAuthKey(t *testing.T) {
	for _, v := range []string{"k", strings.Repeat("k", 64), "!\"#$%&'()*+,-./:;<=>@[\\]^_`{|}~", "Az09"} {
		if err := CheckAuthKey("AuthKey", v); err != nil {
			t.Errorf("CheckAuthKey(%q): %v", v, err)
		}
	}
	for _, tc := range []struct {
		v        string
		mentions []string
	}{
		{"", []string{"1 to 64"}},
		{strings.Repeat("k", 65), []string{"1 to 64", "65"}},
		{"a b", []string{"spaces", "'?'"}},
		{"what?", []string{"'?'"}},
		{"tab\t", nil},
		{"ключ", nil},
		{"del\x7f", nil},
	} {
		vpnErr(t, "CheckAuthKey "+tc.v, CheckAuthKey("AuthKey", tc.v), "InvalidAuthKey", tc.mentions...)
	}
}

func TestModelFixes(t *testing.T) {
	for _, id := range []string{"fe80::1%eth0", "300.1.1.1", "1.2.3"} {
		if CheckIdentity("IkeConfig.LocalId", id) == nil {
			t.Errorf("identity %q accepted", id)
		}
	}
	if got := (BgpConfig{TunnelCidr: "169.254.11.0/30", LocalBgpIp: "169.254.12.1"}).PeerBgpIP(); got != "" {
		t.Errorf("PeerBgpIP outside the /30 = %q", got)
	}
	off := false
	bad := "not-an-ip"
	if _, err := (HealthCheckInput{Enable: &off, Dip: &bad}).Apply(DefaultHealthCheck()); err == nil {
		t.Error("a disabled health check stored an invalid Dip")
	}
}
