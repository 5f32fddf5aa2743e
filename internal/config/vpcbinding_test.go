package config

import (
	"net/netip"
	"strings"
	"testing"
)

func TestVPCBindingValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		b    VPCBinding
		want string // "" = valid; else a part of the error
	}{
		{"netns", VPCBinding{VpcID: "vpc-1", Netns: "vpc1"}, ""},
		{"bridge in the gateway's namespace", VPCBinding{VpcID: "vpc-1", Bridge: "br-vpc1", GatewayIP: "10.1.0.253/24"}, ""},
		{"vxlan with remotes", VPCBinding{VpcID: "vpc-1", VNI: 100, Underlay: "eth1", Remotes: []string{"10.0.0.2", " 10.0.0.3"}, GatewayIP: "10.1.0.253/24"}, ""},
		{"vxlan with a group", VPCBinding{VpcID: "vpc-1", VNI: 100, Underlay: "eth1", Group: "239.1.1.1", GatewayIP: "10.1.0.253/24"}, ""},
		{"no vpc", VPCBinding{Netns: "vpc1"}, "vpc-id: missing"},
		{"nothing bound", VPCBinding{VpcID: "vpc-1"}, "give one of netns, bridge or vxlan-vni"},
		{"two kinds", VPCBinding{VpcID: "vpc-1", Bridge: "br0", VNI: 5, Underlay: "eth1", Remotes: []string{"10.0.0.2"}, GatewayIP: "10.1.0.253/24"}, "not both"},
		{"vni too big", VPCBinding{VpcID: "vpc-1", VNI: 1 << 24, Underlay: "eth1", Remotes: []string{"10.0.0.2"}, GatewayIP: "10.1.0.253/24"}, "1 to 15728639"},
		{"vni of the links between nodes", VPCBinding{VpcID: "vpc-1", VNI: 0xF00000, Underlay: "eth1", Remotes: []string{"10.0.0.2"}, GatewayIP: "10.1.0.253/24"}, "links between gateway nodes"},
		{"no underlay", VPCBinding{VpcID: "vpc-1", VNI: 100, Remotes: []string{"10.0.0.2"}, GatewayIP: "10.1.0.253/24"}, "underlay: missing"},
		{"neither remotes nor group", VPCBinding{VpcID: "vpc-1", VNI: 100, Underlay: "eth1", GatewayIP: "10.1.0.253/24"}, "give remotes"},
		{"bad remote", VPCBinding{VpcID: "vpc-1", VNI: 100, Underlay: "eth1", Remotes: []string{"10.0.0"}, GatewayIP: "10.1.0.253/24"}, `"10.0.0" is not the IPv4 unicast address`},
		{"unspecified remote", VPCBinding{VpcID: "vpc-1", VNI: 100, Underlay: "eth1", Remotes: []string{"0.0.0.0"}, GatewayIP: "10.1.0.253/24"}, "unicast address of a VTEP"},
		{"too many remotes", VPCBinding{VpcID: "vpc-1", VNI: 100, Underlay: "eth1", Remotes: manyRemotes(65), GatewayIP: "10.1.0.253/24"}, "at most 64"},
		{"gateway ip is the broadcast address", VPCBinding{VpcID: "vpc-1", Bridge: "br0", GatewayIP: "10.1.0.255/24"}, "broadcast"},
		{"unicast group", VPCBinding{VpcID: "vpc-1", VNI: 100, Underlay: "eth1", Group: "10.0.0.1", GatewayIP: "10.1.0.253/24"}, "multicast"},
		{"bridge without a gateway ip", VPCBinding{VpcID: "vpc-1", Bridge: "br0"}, "gateway-ip"},
		{"gateway ip is the network address", VPCBinding{VpcID: "vpc-1", Bridge: "br0", GatewayIP: "10.1.0.0/24"}, "gateway-ip"},
		{"gateway ip on a netns binding", VPCBinding{VpcID: "vpc-1", Netns: "vpc1", GatewayIP: "10.1.0.253/24"}, "gateway-ip is for bridge"},
		{"remotes on a bridge", VPCBinding{VpcID: "vpc-1", Bridge: "br0", Remotes: []string{"10.0.0.2"}, GatewayIP: "10.1.0.253/24"}, "for vxlan-vni bindings"},
		{"interface name too long", VPCBinding{VpcID: "vpc-1", Bridge: "a-very-long-bridge-name", GatewayIP: "10.1.0.253/24"}, "1 to 15"},
		{"a name the shell would read", VPCBinding{VpcID: "vpc-1", Netns: "a b;rm"}, "netns"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.b.Validate()
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("Validate = %v, want valid", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("Validate = %v, want an error with %q", err, c.want)
			}
		})
	}
}

func TestDefaultGatewayIP(t *testing.T) {
	for cidr, want := range map[string]string{"10.1.0.0/24": "10.1.0.253/24", "172.16.0.0/12": "172.31.255.253/12", "192.168.7.64/26": "192.168.7.125/26"} {
		got, err := DefaultGatewayIP(netip.MustParsePrefix(cidr))
		if err != nil || got.String() != want {
			t.Errorf("DefaultGatewayIP(%s) = %v, %v; want %s", cidr, got, err, want)
		}
	}
	if _, err := DefaultGatewayIP(netip.MustParsePrefix("10.0.0.0/30")); err == nil {
		t.Error("DefaultGatewayIP(/30): want an error (too small)")
	}
}

func manyRemotes(n int) []string {
	var out []string
	for i := range n {
		out = append(out, netip.AddrFrom4([4]byte{10, 0, byte(i / 250), byte(1 + i%250)}).String())
	}
	return out
}
