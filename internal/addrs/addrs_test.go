package addrs

import (
	"net/netip"
	"testing"
)

func TestPeer(t *testing.T) {
	for _, c := range []struct {
		p, a, want string // want "" = not ok
	}{
		{"169.254.11.0/30", "169.254.11.1", "169.254.11.2"},
		{"169.254.11.0/30", "169.254.11.2", "169.254.11.1"},
		{"169.254.11.0/30", "169.254.11.0", ""}, // network address
		{"169.254.11.0/30", "169.254.11.3", ""}, // broadcast
		{"169.254.11.0/30", "169.254.12.1", ""}, // outside
		{"169.254.11.1/30", "169.254.11.1", "169.254.11.2"},
		{"10.0.0.4/31", "10.0.0.4", "10.0.0.5"},
		{"10.0.0.4/31", "10.0.0.5", "10.0.0.4"},
		{"10.0.0.0/29", "10.0.0.1", ""}, // not a point-to-point prefix
		{"2001:db8::/126", "2001:db8::1", ""},
	} {
		got, ok := Peer(netip.MustParsePrefix(c.p), netip.MustParseAddr(c.a))
		if (c.want == "") == ok || (ok && got.String() != c.want) {
			t.Errorf("Peer(%s, %s) = %v, %v; want %q", c.p, c.a, got, ok, c.want)
		}
	}
	if _, ok := Peer(netip.Prefix{}, netip.MustParseAddr("10.0.0.1")); ok {
		t.Error("invalid prefix: ok")
	}
}

func TestLastHost(t *testing.T) {
	for p, want := range map[string]string{
		"10.10.0.0/16": "10.10.255.254", "192.168.1.0/24": "192.168.1.254", "10.0.0.0/30": "10.0.0.2",
		"10.0.0.4/31": "10.0.0.5", "10.0.0.7/32": "10.0.0.7", "0.0.0.0/0": "255.255.255.254", "10.1.2.3/8": "10.255.255.254",
	} {
		if got := LastHost(netip.MustParsePrefix(p)); got.String() != want {
			t.Errorf("LastHost(%s) = %s, want %s", p, got, want)
		}
	}
}
