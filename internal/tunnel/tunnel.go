// Package tunnel turns a stored IPsec-VPN connection into the one typed description of its
// tunnel that everything downstream uses: the gateway that builds the cloud side, the
// data-plane driver that configures charon, the renderers of the customer side (`opencen
// vpn config`, DownloadVpnConnectionConfig) and the tests.
//
// Parsing never panics and never trusts the stored record: every field is checked again,
// because a record can be older than today's validation, restored from a backup, or edited
// by hand. Each problem is reported with the API field it came from and what to set it to,
// so that a connection the gateway cannot build says why in its log.
package tunnel

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// ErrNotAttached is reported (wrapped) for a connection without a cloud gateway IP: the IP
// is assigned when the connection is attached to a transit router.
var ErrNotAttached = errors.New("the connection has no gateway IP until it is attached to a transit router")

// Spec is one IPsec-VPN tunnel: the IPsec settings both ends must agree on, and the BGP
// session and health check that run over it. BGP and HealthCheck are nil when off.
type Spec struct {
	// Name is the connection's name (for comments in rendered configurations).
	Name        string
	IPsec       IPsec
	BGP         *BGP
	HealthCheck *HealthCheck
}

// IPsec is what charon needs at either end: addresses, identities, the key, both phases'
// algorithms and the traffic selectors.
type IPsec struct {
	// ID names the tunnel: the connection's ID (vco-...), also the charon connection's
	// name and the prefix of its child SAs' names.
	ID string
	// Cloud is the cloud gateway's address (InternetIp); invalid while not attached.
	// Customer is the customer gateway's address.
	Cloud, Customer netip.Addr
	// CloudID and CustomerID are the IKE identities.
	CloudID, CustomerID Identity
	// PSK is the pre-shared key in clear.
	PSK string
	IKE IKE
	ESP ESP
	// DPD enables dead peer detection.
	DPD bool
	// NATTraversal: always encapsulate ESP in UDP 4500.
	NATTraversal bool
	// StartNow is EffectImmediately: the cloud side initiates at once instead of waiting
	// for traffic.
	StartNow bool
	// CloudSubnets and CustomerSubnets are the traffic selectors (LocalSubnet and
	// RemoteSubnet of the connection). Both exactly 0.0.0.0/0 is destination routing.
	CloudSubnets, CustomerSubnets []netip.Prefix
}

// IKE is phase 1.
type IKE struct {
	// Version is 1 or 2.
	Version int
	// Aggressive is IKEv1 Aggressive Mode. IKEv2 has no modes: the product's IkeMode is
	// ignored for it, as the cloud does.
	Aggressive bool
	Enc        Enc
	Auth       Auth
	DH         DH
	// Lifetime is when the SA is renewed; 0 = never.
	Lifetime time.Duration
}

// ESP is phase 2. PFS is DHNone when perfect forward secrecy is disabled.
type ESP struct {
	Enc      Enc
	Auth     Auth
	PFS      DH
	Lifetime time.Duration
}

// BGP is the session over the tunnel. CloudIP and CustomerIP are the two hosts of
// TunnelCIDR (a /30).
type BGP struct {
	TunnelCIDR  netip.Prefix
	CloudIP     netip.Addr
	CustomerIP  netip.Addr
	CloudASN    uint32
	CustomerASN uint32
	// AuthKey is the TCP MD5 key (the customer gateway's AuthKey), in clear; "" = none.
	AuthKey string
}

// HealthCheck probes Destination (in the data center) from Source (a cloud-side address
// the data center routes back through the tunnel).
type HealthCheck struct {
	Source, Destination netip.Addr
	Interval            time.Duration
	Retry               int
	// RevokeRoute withdraws the connection's routes while the check fails
	// (revoke_route); otherwise only the status changes (reserve_route).
	RevokeRoute bool
}

// Child is one child SA: its name and the traffic selectors of both ends.
type Child struct {
	Name            string
	Cloud, Customer []netip.Prefix
}

// allIPv4 is the destination-routing selector.
var allIPv4 = netip.PrefixFrom(netip.IPv4Unspecified(), 0)

// RouteBased reports destination routing: both selectors are exactly 0.0.0.0/0.
func (s IPsec) RouteBased() bool {
	return len(s.CloudSubnets) == 1 && len(s.CustomerSubnets) == 1 &&
		s.CloudSubnets[0] == allIPv4 && s.CustomerSubnets[0] == allIPv4
}

// Children are the tunnel's child SAs. Destination routing and IKEv2 negotiate one child
// with every selector; IKEv1 negotiates one subnet pair per child, so flow protection
// under IKEv1 has one child per (cloud, customer) pair, named <ID>-1, <ID>-2, ...
func (s IPsec) Children() []Child {
	cloud, customer := s.CloudSubnets, s.CustomerSubnets
	if len(cloud) == 0 {
		cloud = []netip.Prefix{allIPv4}
	}
	if len(customer) == 0 {
		customer = []netip.Prefix{allIPv4}
	}
	if s.IKE.Version == 2 || (len(cloud) == 1 && len(customer) == 1) {
		return []Child{{Name: s.ID, Cloud: cloud, Customer: customer}}
	}
	var out []Child
	for _, c := range cloud {
		for _, p := range customer {
			out = append(out, Child{Name: fmt.Sprintf("%s-%d", s.ID, len(out)+1), Cloud: []netip.Prefix{c}, Customer: []netip.Prefix{p}})
		}
	}
	return out
}

// IKEProposal is the strongSwan proposal for phase 1, e.g. "aes128-sha1-modp1024".
func (s IPsec) IKEProposal() string {
	return s.IKE.Enc.Keyword() + "-" + s.IKE.Auth.Keyword() + "-" + s.IKE.DH.Keyword()
}

// ESPProposal is the strongSwan proposal for phase 2, e.g. "aes128-sha1-modp1024", or
// "aes128-sha1" without PFS (no DH group: rekeying reuses the IKE SA's keys).
func (s IPsec) ESPProposal() string {
	p := s.ESP.Enc.Keyword() + "-" + s.ESP.Auth.Keyword()
	if s.ESP.PFS != DHNone {
		p += "-" + s.ESP.PFS.Keyword()
	}
	return p
}

// Identity is an IKE identity: an IP address or an FQDN.
type Identity struct {
	addr netip.Addr
	fqdn string
}

// ParseIdentity reads an identity as the product takes it: an IP address, or an FQDN
// (a leading '@', strongSwan's "no type guessing" mark, is accepted and dropped).
func ParseIdentity(v string) (Identity, error) {
	if a, err := netip.ParseAddr(v); err == nil {
		if a.Zone() != "" {
			return Identity{}, fmt.Errorf("an IP address identity cannot have a zone")
		}
		return Identity{addr: a}, nil
	}
	name := strings.TrimPrefix(v, "@")
	if name == "" || len(v) > 100 {
		return Identity{}, fmt.Errorf("want an IP address or an FQDN of at most 100 characters")
	}
	labels := strings.Split(name, ".")
	numeric := true
	for _, l := range labels {
		numeric = numeric && l != "" && strings.Trim(l, "0123456789") == ""
	}
	if numeric {
		return Identity{}, fmt.Errorf("%q is not a valid IP address", v)
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || strings.Trim(l, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
			return Identity{}, fmt.Errorf("%q is neither an IP address nor an FQDN (labels of 1 to 63 letters, digits, '-' or '_')", v)
		}
	}
	return Identity{fqdn: name}, nil
}

// IsValid reports whether the identity is set.
func (i Identity) IsValid() bool { return i.addr.IsValid() || i.fqdn != "" }

// String is the identity as the API shows it.
func (i Identity) String() string {
	if i.addr.IsValid() {
		return i.addr.String()
	}
	return i.fqdn
}

// Swanctl is the identity as strongSwan takes it: an address as is, an FQDN as "@name"
// (FQDN without type guessing; strongSwan sends it without the '@').
func (i Identity) Swanctl() string {
	if i.addr.IsValid() {
		return i.addr.String()
	}
	return "@" + i.fqdn
}

// Problem is one thing wrong with a connection's record: the API field, what is wrong,
// and what to do.
type Problem struct {
	Field   string
	Problem string
}

func (p Problem) Error() string { return p.Field + ": " + p.Problem }

// Problems is every problem found in one part of a connection.
type Problems []Problem

func (ps Problems) Error() string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.Error()
	}
	return strings.Join(s, "; ")
}

// err is ps as an error, nil when empty.
func (ps Problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return slices.Clone(ps)
}
