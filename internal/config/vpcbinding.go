package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"opencen/internal/addrs"
)

// VPCBinding ties a VPC to a real network segment: what its transit router attachment
// links the router to. It is stored by the admin action BindVpc and can be given statically
// in a gateway node's config file (which wins on that node). Exactly one of Netns (alone),
// Bridge or VNI says the kind.
type VPCBinding struct {
	VpcID string `json:"VpcId" yaml:"vpc-id" toml:"vpc-id"`
	// Bridge: an existing Linux bridge (in Netns; "" = the gateway's own namespace). The
	// router gets a veth whose far end is a port of the bridge.
	Bridge string `json:"Bridge,omitempty" yaml:"bridge" toml:"bridge"`
	// VNI: a VXLAN segment. The kernel's vxlan device is made on Underlay (an interface in
	// Netns, "" = the gateway's own namespace) and moved into the router's namespace;
	// frames go to every one of Remotes (static flooding list, head-end replication) or
	// to the multicast Group. Port is the UDP port (default 4789, IANA's).
	VNI      uint32   `json:"VxlanVni,omitempty" yaml:"vxlan-vni" toml:"vxlan-vni"`
	Underlay string   `json:"Underlay,omitempty" yaml:"underlay" toml:"underlay"`
	Remotes  []string `json:"Remotes,omitempty" yaml:"remotes" toml:"remotes"`
	Group    string   `json:"Group,omitempty" yaml:"group" toml:"group"`
	Port     uint16   `json:"Port,omitempty" yaml:"port" toml:"port"`
	// Netns: for a namespace binding, the VPC's own namespace (its hosts live there and
	// get a /30 link and routes toward the router); for a bridge or VXLAN, the namespace
	// of the bridge or underlay interface.
	Netns string `json:"Netns,omitempty" yaml:"netns" toml:"netns"`
	// GatewayIP is the router's address on a bridge or VXLAN segment, with the segment's
	// prefix length (e.g. 10.1.0.253/24): the VPC's hosts route the cloud's prefixes to it.
	GatewayIP string `json:"GatewayIp,omitempty" yaml:"gateway-ip" toml:"gateway-ip"`
}

// Binding kinds.
const (
	BindNetns  = "netns"
	BindBridge = "bridge"
	BindVXLAN  = "vxlan"
)

// DefaultVXLANPort is the UDP port of VXLAN (RFC 7348).
const DefaultVXLANPort = 4789

// MaxVXLANRemotes bounds a segment's static flooding list.
const MaxVXLANRemotes = 64

// Kind says what the binding ties the VPC to.
func (b VPCBinding) Kind() string {
	switch {
	case b.VNI != 0:
		return BindVXLAN
	case b.Bridge != "":
		return BindBridge
	}
	return BindNetns
}

// RemoteAddrs are the parsed Remotes (Validate has checked them).
func (b VPCBinding) RemoteAddrs() []netip.Addr {
	var out []netip.Addr
	for _, r := range b.Remotes {
		if a, err := netip.ParseAddr(strings.TrimSpace(r)); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// Gateway is the parsed GatewayIP (Validate has checked it).
func (b VPCBinding) Gateway() (netip.Prefix, bool) {
	p, err := netip.ParsePrefix(b.GatewayIP)
	return p, err == nil
}

// Validate checks the binding on its own; what it names (a namespace, a bridge, an
// interface) is checked where it is used, on the gateway node that has it. The errors name
// the field to fix.
func (b VPCBinding) Validate() error {
	var errs []error
	if b.VpcID == "" {
		errs = append(errs, errors.New("vpc-id: missing"))
	}
	kinds := 0
	for _, set := range []bool{b.VNI != 0, b.Bridge != ""} {
		if set {
			kinds++
		}
	}
	if kinds > 1 {
		errs = append(errs, errors.New("give one of bridge or vxlan-vni, not both"))
	}
	if kinds == 0 && b.Netns == "" {
		errs = append(errs, errors.New("give one of netns, bridge or vxlan-vni: what the VPC is bound to"))
	}
	for _, name := range []struct {
		key, v string
		max    int
	}{{"netns", b.Netns, 64}, {"bridge", b.Bridge, 15}, {"underlay", b.Underlay, 15}} {
		if name.v != "" && !ifName(name.v, name.max) {
			errs = append(errs, fmt.Errorf("%s %q: want 1 to %d letters, digits, '-', '_' or '.'", name.key, name.v, name.max))
		}
	}
	switch b.Kind() {
	case BindVXLAN:
		if b.VNI >= NodeLinkVNIs {
			errs = append(errs, fmt.Errorf("vxlan-vni %d: want 1 to %d (VNIs from %d up are the links between gateway nodes)", b.VNI, NodeLinkVNIs-1, NodeLinkVNIs))
		}
		if b.Underlay == "" {
			errs = append(errs, errors.New("underlay: missing (the interface VXLAN packets leave by)"))
		}
		if (len(b.Remotes) == 0) == (b.Group == "") {
			errs = append(errs, errors.New("give remotes (the other VTEPs' addresses) or group (a multicast address), one of them"))
		}
		if len(b.Remotes) > MaxVXLANRemotes {
			errs = append(errs, fmt.Errorf("remotes: %d, at most %d (head-end replication sends each flooded frame to every one; use a group beyond that)", len(b.Remotes), MaxVXLANRemotes))
		}
		for _, r := range b.Remotes {
			if a, err := netip.ParseAddr(strings.TrimSpace(r)); err != nil || !a.Is4() || a.IsUnspecified() || a.IsLoopback() || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
				errs = append(errs, fmt.Errorf("remotes: %q is not the IPv4 unicast address of a VTEP", r))
			}
		}
		if b.Group != "" {
			if a, err := netip.ParseAddr(b.Group); err != nil || !a.Is4() || !a.IsMulticast() {
				errs = append(errs, fmt.Errorf("group %q: want an IPv4 multicast address (224.0.0.0/4)", b.Group))
			}
		}
	default:
		if len(b.Remotes) > 0 || b.Group != "" || b.Underlay != "" || b.Port != 0 {
			errs = append(errs, errors.New("remotes, group, underlay and port are for vxlan-vni bindings"))
		}
	}
	if b.Kind() == BindNetns {
		if b.GatewayIP != "" {
			errs = append(errs, errors.New("gateway-ip is for bridge and vxlan bindings (a namespace gets a /30 link)"))
		}
	} else if p, err := netip.ParsePrefix(b.GatewayIP); err != nil || !p.Addr().Is4() || p.Bits() > 30 || p.Addr() == p.Masked().Addr() || p.Addr() == addrs.Last(p) {
		errs = append(errs, fmt.Errorf("gateway-ip %q: want the router's IPv4 address on the segment (not its network or broadcast address) with its prefix length, e.g. 10.1.0.253/24", b.GatewayIP))
	}
	return errors.Join(errs...)
}

// ifName: a name Linux takes for an interface (at most 15 bytes) or a namespace, safe to
// pass to ip(8).
func ifName(s string, max int) bool {
	if len(s) == 0 || len(s) > max || s == "." || s == ".." {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// DefaultGatewayIP is the router's address on a segment bound to a VPC of CIDR cidr when
// the operator gives none: the third address from the top (.253 in a /24), clear of the
// broadcast address and of the .254 many networks give their own router.
func DefaultGatewayIP(cidr netip.Prefix) (netip.Prefix, error) {
	if !cidr.Addr().Is4() || cidr.Bits() > 29 {
		return netip.Prefix{}, fmt.Errorf("VPC CIDR %s: too small for a default gateway-ip; give one", cidr)
	}
	return netip.PrefixFrom(addrs.LastHost(cidr).Prev(), cidr.Bits()), nil
}

// NodeLinkVNIs is the first VNI of the links between gateway nodes (the top 2^20 of the
// 24-bit space): a VPC segment takes one below it, so the two never meet on an underlay
// they share.
const NodeLinkVNIs = 0xF00000
