package dataplane

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Desired is the complete desired state of one driver. The zero value (or nil) means
// "nothing": Apply then removes everything the driver created.
type Desired struct {
	Routers []Router
}

// Router is one transit router instance.
type Router struct {
	// ID is the transit router's ID (tr-...).
	ID string
	// Tables are the router's route tables.
	Tables []Table
	// Associations maps an attachment ID to the ID of the table in which traffic entering
	// from that attachment is looked up. Traffic from an attachment without association
	// is dropped (ICMP unreachable).
	Associations map[string]string
	// VPCs are the router's VPC attachments.
	VPCs []VPCLink
	// Cells are the router's IPsec-VPN attachments, one cell per connection.
	Cells []Cell
}

// Table is one route table of a transit router, realised as a Linux routing table in the
// router's namespace.
type Table struct {
	// ID is the route table's ID (vtb-...).
	ID string
	// Number is the Linux routing table number: 1 to 2^31-1, except 220 (strongSwan's)
	// and 253 to 255 (default, main, local). Allocated by the control plane, unique within
	// the router.
	Number int
	// Routes are the table's active entries; at most one per destination.
	Routes []Route
}

// Route is one entry of a route table.
type Route struct {
	Dst netip.Prefix
	// NextHops are attachment IDs of this router; more than one makes an ECMP
	// (multipath) route. Empty with Blackhole set.
	NextHops []string
	// Blackhole drops matching traffic silently.
	Blackhole bool
}

// VPCLink connects the router namespace to an existing VPC namespace (made by the lab or
// the operator) with a veth pair.
type VPCLink struct {
	// AttachmentID is the VPC attachment's ID (tr-attach-...).
	AttachmentID string
	// Netns is the VPC's network namespace; it must exist.
	Netns string
	// RouterAddr is the router end's address with the link's prefix length,
	// e.g. 169.254.200.1/30.
	RouterAddr netip.Prefix
	// VPCAddr is the VPC end's address in the same prefix, e.g. 169.254.200.2/30.
	VPCAddr netip.Prefix
	// ToRouter are the destinations the VPC namespace routes to the router over the link
	// (the VPC route table's entries pointing at the transit router). Empty = 0.0.0.0/0.
	ToRouter []netip.Prefix
}

// Cell is one IPsec-VPN connection: its own namespace with its own charon, a WAN address
// and a link to the router.
type Cell struct {
	// ID is the connection's ID (vco-...); it is also the name of the charon connection.
	ID string
	// AttachmentID is the router's attachment for this connection: routes name it as next
	// hop, associations as source.
	AttachmentID string
	// WANAddr is the connection's gateway IP (InternetIp) with the WAN's prefix length.
	WANAddr netip.Prefix
	// PeerAddr is the customer gateway's IP.
	PeerAddr netip.Addr
	// LinkAddr is the router's address on the router<->cell link, with a /30 or /31 prefix:
	// the BGP tunnel CIDR with the cloud's LocalBgpIp when BGP is configured, otherwise a
	// /30 allocated by the control plane from 169.254.0.0/16. The other host of the prefix
	// is the peer's inside address (PeerLinkAddr): routes through the cell point at it.
	LinkAddr netip.Prefix
	// IPsec is the cloud side's charon configuration.
	IPsec IPsec
}

// IPsec is the cloud side's IKE/ESP configuration of a cell.
type IPsec struct {
	// IKEVersion is 1 or 2.
	IKEVersion int
	// Aggressive selects IKEv1 Aggressive Mode (as initiator; as responder both modes are
	// accepted).
	Aggressive bool
	// IKEProposal and ESPProposal are strongSwan proposals (vpnconf.IKEProposal and
	// vpnconf.ESPProposal of the model's algorithms), e.g. "aes128-sha1-modp1024".
	IKEProposal string
	ESPProposal string
	// IKELifetime and ESPLifetime are when the SAs are renewed; 0 = never.
	IKELifetime time.Duration
	ESPLifetime time.Duration
	// PSK is the pre-shared key in clear.
	PSK string
	// LocalID and RemoteID are the IKE identities (IP address or FQDN); empty = the WAN
	// address resp. the peer address.
	LocalID  string
	RemoteID string
	// DPD enables dead peer detection (and restarting the SA when the peer is dead).
	DPD bool
	// LocalTS and RemoteTS are the traffic selectors (flow protection). Both empty means
	// 0.0.0.0/0 on both sides: destination routing, routes decide what enters the tunnel.
	// With IKEv1 and several subnets there is one child SA per (local, remote) pair.
	LocalTS  []netip.Prefix
	RemoteTS []netip.Prefix
	// StartNow initiates the negotiation right away (EffectImmediately); otherwise the
	// cell waits for the first packet from the router side and initiates then. The
	// customer's initiation is always accepted.
	StartNow bool
}

// PeerLinkAddr is the peer's inside address: the other host of LinkAddr's /30 or /31.
func (c Cell) PeerLinkAddr() netip.Addr {
	p := c.LinkAddr.Masked()
	a := c.LinkAddr.Addr()
	switch c.LinkAddr.Bits() {
	case 31:
		if a == p.Addr() {
			return a.Next()
		}
		return p.Addr()
	case 30:
		first := p.Addr().Next()
		switch a {
		case first:
			return first.Next()
		case first.Next():
			return first
		}
	}
	return netip.Addr{}
}

// children is the cell's child SAs: (name, local TS, remote TS).
type childSA struct {
	Name          string
	Local, Remote []netip.Prefix
}

var allIPv4 = netip.MustParsePrefix("0.0.0.0/0")

func (c Cell) children() []childSA {
	l, r := c.IPsec.LocalTS, c.IPsec.RemoteTS
	if len(l) == 0 {
		l = []netip.Prefix{allIPv4}
	}
	if len(r) == 0 {
		r = []netip.Prefix{allIPv4}
	}
	if c.IPsec.IKEVersion == 2 || (len(l) == 1 && len(r) == 1) {
		return []childSA{{Name: c.ID, Local: l, Remote: r}}
	}
	var out []childSA
	for _, lp := range l {
		for _, rp := range r {
			out = append(out, childSA{Name: fmt.Sprintf("%s-%d", c.ID, len(out)+1), Local: []netip.Prefix{lp}, Remote: []netip.Prefix{rp}})
		}
	}
	return out
}

// routeBased reports whether both traffic selectors are 0.0.0.0/0.
func (c Cell) routeBased() bool {
	for _, ts := range [][]netip.Prefix{c.IPsec.LocalTS, c.IPsec.RemoteTS} {
		if len(ts) > 1 || (len(ts) == 1 && ts[0] != allIPv4) {
			return false
		}
	}
	return true
}

// Validate checks the desired state for what Apply relies on: unique IDs, resolvable
// next hops and associations, valid table numbers and addresses.
func (d *Desired) Validate() error {
	if d == nil {
		return nil
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	routers := map[string]bool{}
	cells := map[string]string{}
	wans := map[netip.Addr]string{}
	for _, r := range d.Routers {
		if !safeID(r.ID) {
			bad("router ID %q: want 1-64 characters of letters, digits, '-', '_', '.'", r.ID)
		}
		if routers[r.ID] {
			bad("router %s appears twice", r.ID)
		}
		routers[r.ID] = true
		atts := map[string]bool{}
		addAtt := func(id, what string) {
			if !safeID(id) {
				bad("router %s: %s attachment ID %q: want 1-64 characters of letters, digits, '-', '_', '.'", r.ID, what, id)
			}
			if atts[id] {
				bad("router %s: attachment %s appears twice", r.ID, id)
			}
			atts[id] = true
		}
		for _, v := range r.VPCs {
			addAtt(v.AttachmentID, "VPC")
			if v.Netns == "" {
				bad("router %s: VPC link %s: no VPC namespace", r.ID, v.AttachmentID)
			}
			if !v.RouterAddr.IsValid() || !v.VPCAddr.IsValid() || !v.RouterAddr.Addr().Is4() ||
				v.RouterAddr.Masked() != v.VPCAddr.Masked() || v.RouterAddr.Addr() == v.VPCAddr.Addr() {
				bad("router %s: VPC link %s: RouterAddr %v and VPCAddr %v must be two IPv4 addresses of one prefix", r.ID, v.AttachmentID, v.RouterAddr, v.VPCAddr)
			}
		}
		for _, c := range r.Cells {
			addAtt(c.AttachmentID, "VPN")
			if err := c.validate(); err != nil {
				bad("router %s: %v", r.ID, err)
			}
			if other, ok := cells[c.ID]; ok {
				bad("cell %s appears in routers %s and %s", c.ID, other, r.ID)
			}
			cells[c.ID] = r.ID
			if other, ok := wans[c.WANAddr.Addr()]; ok && c.WANAddr.IsValid() {
				bad("cells %s and %s share the WAN address %s", other, c.ID, c.WANAddr.Addr())
			}
			wans[c.WANAddr.Addr()] = c.ID
		}
		tables := map[string]bool{}
		numbers := map[int]string{}
		for _, t := range r.Tables {
			if t.ID == "" || tables[t.ID] {
				bad("router %s: table ID %q empty or used twice", r.ID, t.ID)
			}
			tables[t.ID] = true
			if t.Number < 1 || t.Number == 220 || (t.Number >= 253 && t.Number <= 255) {
				bad("router %s: table %s: number %d is reserved or out of range", r.ID, t.ID, t.Number)
			}
			if other, ok := numbers[t.Number]; ok {
				bad("router %s: tables %s and %s share number %d", r.ID, other, t.ID, t.Number)
			}
			numbers[t.Number] = t.ID
			dsts := map[netip.Prefix]bool{}
			for _, rt := range t.Routes {
				if !rt.Dst.IsValid() || !rt.Dst.Addr().Is4() || rt.Dst.Masked() != rt.Dst {
					bad("router %s: table %s: destination %v is not an IPv4 network", r.ID, t.ID, rt.Dst)
				}
				if dsts[rt.Dst] {
					bad("router %s: table %s: two routes for %v", r.ID, t.ID, rt.Dst)
				}
				dsts[rt.Dst] = true
				if rt.Blackhole != (len(rt.NextHops) == 0) {
					bad("router %s: table %s: route %v needs next hops or Blackhole, not both", r.ID, t.ID, rt.Dst)
				}
				seen := map[string]bool{}
				for _, nh := range rt.NextHops {
					if !atts[nh] {
						bad("router %s: table %s: route %v: next hop %s is not an attachment of the router", r.ID, t.ID, rt.Dst, nh)
					}
					if seen[nh] {
						bad("router %s: table %s: route %v: next hop %s twice", r.ID, t.ID, rt.Dst, nh)
					}
					seen[nh] = true
				}
			}
		}
		for att, tbl := range r.Associations {
			if !atts[att] {
				bad("router %s: association of unknown attachment %s", r.ID, att)
			}
			if !tables[tbl] {
				bad("router %s: attachment %s associated with unknown table %s", r.ID, att, tbl)
			}
		}
	}
	slices.SortFunc(errs, func(a, b error) int { return cmp.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

func (c Cell) validate() error {
	var errs []string
	if !safeID(c.ID) {
		errs = append(errs, "ID: want 1-64 characters of letters, digits, '-', '_', '.'")
	}
	if !c.WANAddr.IsValid() || !c.WANAddr.Addr().Is4() {
		errs = append(errs, fmt.Sprintf("WAN address %v is not an IPv4 address with prefix length", c.WANAddr))
	}
	if !c.PeerAddr.IsValid() || !c.PeerAddr.Is4() {
		errs = append(errs, fmt.Sprintf("peer address %v is not an IPv4 address", c.PeerAddr))
	}
	if !c.LinkAddr.IsValid() || !c.LinkAddr.Addr().Is4() || (c.LinkAddr.Bits() != 30 && c.LinkAddr.Bits() != 31) || !c.PeerLinkAddr().IsValid() {
		errs = append(errs, fmt.Sprintf("link address %v must be a host address of a /30 or /31", c.LinkAddr))
	}
	s := c.IPsec
	if s.IKEVersion != 1 && s.IKEVersion != 2 {
		errs = append(errs, fmt.Sprintf("IKE version %d", s.IKEVersion))
	}
	if s.Aggressive && s.IKEVersion != 1 {
		errs = append(errs, "aggressive mode needs IKEv1")
	}
	if !proposalRE(s.IKEProposal) || !proposalRE(s.ESPProposal) {
		errs = append(errs, fmt.Sprintf("proposals %q / %q are not strongSwan proposals", s.IKEProposal, s.ESPProposal))
	}
	if s.PSK == "" {
		errs = append(errs, "empty pre-shared key")
	}
	for _, id := range []string{s.LocalID, s.RemoteID} {
		if strings.ContainsAny(id, " \t\r\n\"'{}#") {
			errs = append(errs, fmt.Sprintf("IKE identity %q", id))
		}
	}
	for _, ts := range [][]netip.Prefix{s.LocalTS, s.RemoteTS} {
		for _, p := range ts {
			if !p.IsValid() || !p.Addr().Is4() {
				errs = append(errs, fmt.Sprintf("traffic selector %v", p))
			}
		}
	}
	if (len(s.LocalTS) == 0) != (len(s.RemoteTS) == 0) {
		errs = append(errs, "give both traffic selectors or neither")
	}
	if s.IKELifetime < 0 || s.ESPLifetime < 0 {
		errs = append(errs, "negative lifetime")
	}
	if len(errs) > 0 {
		return fmt.Errorf("cell %s: %s", c.ID, strings.Join(errs, "; "))
	}
	return nil
}

func safeID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r == '-' || r == '_' || r == '.' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')) {
			return false
		}
	}
	return true
}

func proposalRE(p string) bool {
	if p == "" {
		return false
	}
	for _, r := range p {
		if !(r == '-' || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9')) {
			return false
		}
	}
	return true
}
