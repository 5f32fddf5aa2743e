package dataplane

import (
	"cmp"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"opencen/internal/addrs"
	"opencen/internal/model"
	"opencen/internal/tunnel"
)

// Desired is the complete desired state of one driver. The zero value (or nil) means
// "nothing": Apply then removes everything the driver created.
type Desired struct {
	Routers []Router
	// Hosted are cells this driver runs for routers on other gateway nodes (each with
	// Cell.Remote, the link back to its router). A router's own Cells with Remote are
	// the other way round: their cells run elsewhere.
	Hosted []HostedCell
}

// HostedCell is a cell whose router runs on another gateway node.
type HostedCell struct {
	Router string
	Cell   Cell
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
	// Cells are the router's IPsec-VPN attachments, one cell per connection. UpdateRouter
	// uses each cell's AttachmentID and LinkAddr only (Cell.Link); the cells themselves
	// are UpdateCell's.
	Cells []Cell
	// Peers are the router's inter-region connections to routers this driver also runs.
	Peers []PeerLink
	// Sources are addresses the router's health checks probe from: each is put on the
	// router namespace's lo as a /32 (the data center routes it back through its tunnel).
	Sources []netip.Addr
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

// VPCLink connects the router namespace to a VPC's network: an existing namespace (made by
// the lab or the operator) over a veth pair with a /30, or, with Segment, a real network
// segment (a Linux bridge, a VXLAN segment) on which the router holds the VPC's gateway
// address.
type VPCLink struct {
	// AttachmentID is the VPC attachment's ID (tr-attach-...).
	AttachmentID string
	// Netns is the VPC's network namespace; it must exist. Unused with Segment.
	Netns string
	// Segment, when set, is the segment the router joins.
	Segment *Segment
	// RouterAddr is the router end's address with the link's prefix length,
	// e.g. 169.254.200.1/30; on a segment, the VPC's gateway address, e.g. 10.1.0.253/24.
	RouterAddr netip.Prefix
	// VPCAddr is the VPC end's address in the same prefix, e.g. 169.254.200.2/30. Unused
	// with Segment: the router reaches the VPC's hosts directly on the segment.
	VPCAddr netip.Prefix
	// ToRouter are the destinations the VPC namespace routes to the router over the link
	// (the VPC route table's entries pointing at the transit router). Empty = 0.0.0.0/0.
	ToRouter []netip.Prefix
}

// PeerLink is an inter-region connection (a peer attachment) between two routers: a veth
// pair between the two router namespaces when this driver runs both, named after the
// attachment in both (the attachment has the same ID on both routers); whichever router is
// updated first while both namespaces exist makes the pair. Between routers on two gateway
// nodes it is a VXLAN link (Remote). Each router lists it with its own end's address.
type PeerLink struct {
	// AttachmentID is the peer attachment's ID (tr-attach-...).
	AttachmentID string
	// PeerRouter is the transit router at the other end.
	PeerRouter string
	// Addr is this end's address with the link's /30 or /31 prefix; the other host of the
	// prefix is the other end's (routes through the link point at it).
	Addr netip.Prefix
	// RateKbit limits what this end sends, in kbit/s (0: no limit): the connection's
	// bandwidth, enforced in each direction by the end that sends.
	RateKbit uint64
	// Remote, when set, is a link to a router on another gateway node (NodeLink): each
	// end makes its own VXLAN device, no namespace of the other router is needed here.
	Remote *Segment
}

// PeerAddr is the other end's address.
func (p PeerLink) PeerAddr() netip.Addr {
	a, _ := addrs.Peer(p.Addr, p.Addr.Addr())
	return a
}

// Segment is a network segment the operator owns. The driver adds one link to it and
// removes exactly that link: the bridge, the underlay and everything else on them stay.
//
// A link between two gateway nodes (NodeLink) is a segment too: a VXLAN of its own VNI
// on the nodes' underlay, with the other node's underlay address as the one remote.
type Segment struct {
	// Netns holds the bridge or the underlay interface ("" = the driver's own namespace).
	Netns string
	// Bridge: an existing Linux bridge; the router's veth has its far end as a port.
	Bridge string
	// VXLAN: a VXLAN segment; its device is made on the underlay and moved into the
	// router's namespace (its UDP socket stays in Netns, on the underlay).
	VXLAN *VXLAN
}

// VXLAN is a VXLAN segment (RFC 7348) as the kernel's vxlan device takes it.
type VXLAN struct {
	VNI      uint32
	Underlay string
	// Remotes are the other VTEPs (flooded to, head-end replication); or Group, a
	// multicast group on the underlay.
	Remotes []netip.Addr
	Group   netip.Addr
	Port    uint16
	// MAC, when set, is the device's address (otherwise the kernel picks one).
	MAC string
}

// where names the namespace holding the segment's bridge or underlay, for messages.
func (g *Segment) where() string {
	if g.Netns == "" {
		return "the gateway's namespace"
	}
	return "namespace " + g.Netns
}

// NodeLink is the link to the other end of an object that runs on another gateway node
// (a router's inter-region connection to a router there, a router's tunnel whose cell runs
// there, or that cell's link back): a point-to-point VXLAN segment on the underlay
// (interface underlay in namespace netns) from this node's address local to the other
// node's, port port on both nodes. Its device's MAC address is derived from the VNI and
// local: an end rebuilt on the same node keeps it, so the other end's neighbour entry for
// it stays right (a veth pair is always rebuilt whole; the two ends of a link between
// nodes are not).
func NodeLink(netns, underlay string, vni uint32, local, other netip.Addr, port uint16) *Segment {
	sum := sha256.Sum256(fmt.Appendf(nil, "%d %s", vni, local))
	mac := net.HardwareAddr{0x02, sum[0], sum[1], sum[2], sum[3], sum[4]} // locally administered, unicast
	return &Segment{Netns: netns, VXLAN: &VXLAN{VNI: vni, Underlay: underlay, Remotes: []netip.Addr{other}, Port: port, MAC: mac.String()}}
}

// nodeLinkMTU is the MTU of an inter-region link between nodes, the same at both ends
// whatever each node's underlay: what an underlay of 1500 carries under VXLAN's 50 bytes.
// (A tunnel's link has the cells' 1400.)
const nodeLinkMTU = 1450

// validNodeLink says what is wrong with a link to another node ("" = nothing).
func validNodeLink(g *Segment) string {
	if g.Bridge != "" || g.VXLAN == nil || !g.VXLAN.valid() {
		return "a link to another gateway node is a VXLAN with a VNI (1-16777215), an underlay, a port and the other node's address"
	}
	return ""
}

// valid: what the kernel needs to make the device.
func (x *VXLAN) valid() bool {
	return x.VNI != 0 && x.VNI < 1<<24 && x.Underlay != "" && x.Port != 0 && (len(x.Remotes) == 0) == x.Group.IsValid()
}

// tag names the device's segment (its VNI and a digest of all its parameters, the
// underlay's namespace ns included): kept in the link's alias after the attachment ID, so
// a changed segment is seen, and the device remade, without a state file. A digest, not
// the parameters: a long remote list would pass the alias's 255 bytes.
func (x VXLAN) tag(ns string) string {
	s := fmt.Sprintf("netns %q dev %s port %d group %s", ns, x.Underlay, x.Port, x.Group)
	if x.MAC != "" { // (only when set: the tags of segments made before MAC existed stay)
		s += " mac " + x.MAC
	}
	s += " remotes"
	for _, r := range x.Remotes {
		s += " " + r.String()
	}
	return fmt.Sprintf("vxlan %d %s", x.VNI, hash8(s))
}

// Cell is one IPsec-VPN connection: its own namespace with its own charon, a WAN address
// and a link to the router. Its ID is IPsec.ID (the connection's ID, vco-...), also the
// name of the charon connection.
type Cell struct {
	// AttachmentID is the router's attachment for this connection: routes name it as next
	// hop, associations as source.
	AttachmentID string
	// WANAddr is the connection's gateway IP (IPsec.Cloud) with the WAN's prefix length.
	WANAddr netip.Prefix
	// LinkAddr is the router's address on the router<->cell link, with a /30 or /31 prefix:
	// the BGP tunnel CIDR with the cloud's LocalBgpIp when BGP is configured, otherwise a
	// /30 allocated by the control plane from 169.254.0.0/16. The other host of the prefix
	// is the peer's inside address (PeerLinkAddr): routes through the cell point at it.
	LinkAddr netip.Prefix
	// IPsec is the tunnel (tunnel.Parse): the cloud side is this end.
	IPsec tunnel.IPsec
	// Private: a private-network connection; a routed uplink answers for its gateway IP on
	// the private interface.
	Private bool
	// FastDPD: a tunnel of a dual-tunnel connection. With IPsec.DPD, a DPD every second
	// and the peer declared dead after about 3 s without an answer, so that the other
	// tunnel takes over quickly (fastdpd.go). The cell's charon then gives up on any
	// unanswered request after ~2 s, also without DPD; it is read when charon starts, so
	// changing FastDPD replaces the cell's charon (and renegotiates).
	FastDPD bool
	// Remote, when set: the cell and its router run on two gateway nodes, and the link
	// between them is a VXLAN link (NodeLink) instead of a veth pair. The router's node
	// makes the router's end (UpdateRouter), the cell's node the cell's (UpdateCell); the
	// cell then needs no router namespace on its node.
	Remote *Segment
}

// NewCell is the cell of an attached connection's tunnel: its gateway IP on a WAN of
// wanBits, and the router link: the BGP tunnel CIDR with the cloud's address when the
// spec has BGP, otherwise link (a /30 the control plane allocated). Validate it.
func NewCell(spec tunnel.Spec, attachmentID string, wanBits int, link netip.Prefix) Cell {
	c := Cell{AttachmentID: attachmentID, WANAddr: netip.PrefixFrom(spec.IPsec.Cloud, wanBits), LinkAddr: link, IPsec: spec.IPsec}
	if b := spec.BGP; b != nil {
		c.LinkAddr = netip.PrefixFrom(b.CloudIP, b.TunnelCIDR.Bits())
	}
	return c
}

// ID is the connection's ID.
func (c Cell) ID() string { return c.IPsec.ID }

// PeerLinkAddr is the peer's inside address: the other host of LinkAddr's /30 or /31.
func (c Cell) PeerLinkAddr() netip.Addr {
	a, _ := addrs.Peer(c.LinkAddr, c.LinkAddr.Addr())
	return a
}

// Link is what a router needs of one of its cells: the attachment and the link's address.
// UpdateRouter uses only this much of Router.Cells.
func (c Cell) Link() Cell {
	return Cell{AttachmentID: c.AttachmentID, LinkAddr: c.LinkAddr, IPsec: tunnel.IPsec{ID: c.IPsec.ID}, Remote: c.Remote}
}

var allIPv4 = netip.PrefixFrom(netip.IPv4Unspecified(), 0)

// Validate checks the desired state for what Apply relies on: unique IDs, resolvable
// next hops and associations, valid table numbers and addresses, and cells that charon can
// be given.
func (d *Desired) Validate() error {
	if d == nil {
		return nil
	}
	var errs []error
	routers := map[string]bool{}
	cells := map[string]string{}
	wans := map[netip.Addr]string{}
	addCell := func(router string, c Cell) {
		if err := c.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("router %s: %w", router, err))
		}
		if other, ok := cells[c.ID()]; ok {
			errs = append(errs, fmt.Errorf("cell %s appears in routers %s and %s", c.ID(), other, router))
		}
		cells[c.ID()] = router
		if other, ok := wans[c.WANAddr.Addr()]; ok && c.WANAddr.IsValid() {
			errs = append(errs, fmt.Errorf("cells %s and %s share the WAN address %s", other, c.ID(), c.WANAddr.Addr()))
		}
		wans[c.WANAddr.Addr()] = c.ID()
	}
	for _, r := range d.Routers {
		if routers[r.ID] {
			errs = append(errs, fmt.Errorf("router %s appears twice", r.ID))
		}
		routers[r.ID] = true
		if err := r.Validate(); err != nil {
			errs = append(errs, err)
		}
		for _, c := range r.Cells {
			if c.Remote == nil { // else its cell runs on another node: only its link is here
				addCell(r.ID, c)
			}
		}
	}
	for _, h := range d.Hosted {
		if h.Cell.Remote == nil {
			errs = append(errs, fmt.Errorf("cell %s of router %s on another node has no link to it", h.Cell.ID(), h.Router))
		}
		addCell(h.Router, h.Cell)
	}
	slices.SortFunc(errs, func(a, b error) int { return cmp.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// Validate checks one router: its ID, attachments (VPC links and cell links), tables,
// routes, associations and sources.
func (r Router) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !model.SafeID(r.ID) {
		bad("router ID %q: want 1-64 characters of letters, digits, '-', '_', '.'", r.ID)
	}
	atts := map[string]bool{}
	addAtt := func(id, what string) {
		if !model.SafeID(id) {
			bad("router %s: %s attachment ID %q: want 1-64 characters of letters, digits, '-', '_', '.'", r.ID, what, id)
		}
		if atts[id] {
			bad("router %s: attachment %s appears twice", r.ID, id)
		}
		atts[id] = true
	}
	for _, v := range r.VPCs {
		addAtt(v.AttachmentID, "VPC")
		if g := v.Segment; g != nil {
			switch {
			case (g.Bridge == "") == (g.VXLAN == nil):
				bad("router %s: VPC link %s: a segment is a bridge or a VXLAN, one of them", r.ID, v.AttachmentID)
			case g.VXLAN != nil && !g.VXLAN.valid():
				bad("router %s: VPC link %s: VXLAN needs a VNI (1-16777215), an underlay, a port, and remotes or a group", r.ID, v.AttachmentID)
			}
			if !v.RouterAddr.IsValid() || !v.RouterAddr.Addr().Is4() || v.RouterAddr.Bits() > 30 {
				bad("router %s: VPC link %s: RouterAddr %v must be an IPv4 address with the segment's prefix length", r.ID, v.AttachmentID, v.RouterAddr)
			}
			continue
		}
		if v.Netns == "" {
			bad("router %s: VPC link %s: no VPC namespace", r.ID, v.AttachmentID)
		}
		if !v.RouterAddr.IsValid() || !v.VPCAddr.IsValid() || !v.RouterAddr.Addr().Is4() ||
			v.RouterAddr.Masked() != v.VPCAddr.Masked() || v.RouterAddr.Addr() == v.VPCAddr.Addr() {
			bad("router %s: VPC link %s: RouterAddr %v and VPCAddr %v must be two IPv4 addresses of one prefix", r.ID, v.AttachmentID, v.RouterAddr, v.VPCAddr)
		}
	}
	for _, p := range r.Peers {
		addAtt(p.AttachmentID, "inter-region")
		if !model.SafeID(p.PeerRouter) || p.PeerRouter == r.ID {
			bad("router %s: inter-region link %s: peer router %q must be another router's ID", r.ID, p.AttachmentID, p.PeerRouter)
		}
		if !p.Addr.IsValid() || !p.Addr.Addr().Is4() || (p.Addr.Bits() != 30 && p.Addr.Bits() != 31) || !p.PeerAddr().IsValid() {
			bad("router %s: inter-region link %s: address %v must be a host address of a /30 or /31", r.ID, p.AttachmentID, p.Addr)
		}
		if p.Remote != nil {
			if e := validNodeLink(p.Remote); e != "" {
				bad("router %s: inter-region link %s: %s", r.ID, p.AttachmentID, e)
			}
		}
	}
	for _, c := range r.Cells {
		addAtt(c.AttachmentID, "VPN")
		if !model.SafeID(c.ID()) {
			bad("router %s: cell ID %q: want 1-64 characters of letters, digits, '-', '_', '.'", r.ID, c.ID())
		}
		if err := c.validLink(); err != "" {
			bad("router %s: cell %s: %s", r.ID, c.ID(), err)
		}
	}
	for _, a := range r.Sources {
		if !a.Is4() || a.IsUnspecified() || a.IsLoopback() {
			bad("router %s: source %v is not a usable IPv4 address", r.ID, a)
		}
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
	slices.SortFunc(errs, func(a, b error) int { return cmp.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

func (c Cell) validLink() string {
	if !c.LinkAddr.IsValid() || !c.LinkAddr.Addr().Is4() || (c.LinkAddr.Bits() != 30 && c.LinkAddr.Bits() != 31) || !c.PeerLinkAddr().IsValid() {
		return fmt.Sprintf("link address %v must be a host address of a /30 or /31", c.LinkAddr)
	}
	if c.Remote != nil {
		return validNodeLink(c.Remote)
	}
	return ""
}

// Validate checks a cell for what UpdateCell relies on: the tunnel package checked the
// connection, but a cell can be made by hand, and everything here ends up in charon's
// configuration.
func (c Cell) Validate() error {
	var errs []string
	s := c.IPsec
	if !model.SafeID(s.ID) {
		errs = append(errs, "ID: want 1-64 characters of letters, digits, '-', '_', '.'")
	}
	if !model.SafeID(c.AttachmentID) {
		errs = append(errs, fmt.Sprintf("attachment ID %q: want 1-64 characters of letters, digits, '-', '_', '.'", c.AttachmentID))
	}
	if !c.WANAddr.IsValid() || !c.WANAddr.Addr().Is4() || c.WANAddr.Addr() != s.Cloud {
		errs = append(errs, fmt.Sprintf("WAN address %v is not the gateway IP %v with a prefix length", c.WANAddr, s.Cloud))
	}
	if !s.Customer.IsValid() || !s.Customer.Is4() {
		errs = append(errs, fmt.Sprintf("peer address %v is not an IPv4 address", s.Customer))
	}
	if e := c.validLink(); e != "" {
		errs = append(errs, e)
	}
	if s.IKE.Version != 1 && s.IKE.Version != 2 {
		errs = append(errs, fmt.Sprintf("IKE version %d", s.IKE.Version))
	}
	if s.IKE.Aggressive && s.IKE.Version != 1 {
		errs = append(errs, "aggressive mode needs IKEv1")
	}
	if s.IKE.Enc.Keyword() == "" || s.IKE.Auth.Keyword() == "" || s.IKE.DH.Keyword() == "" ||
		s.ESP.Enc.Keyword() == "" || s.ESP.Auth.Keyword() == "" || (s.ESP.PFS != tunnel.DHNone && s.ESP.PFS.Keyword() == "") {
		errs = append(errs, fmt.Sprintf("algorithms %+v / %+v are not all known", s.IKE, s.ESP))
	}
	if s.PSK == "" {
		errs = append(errs, "empty pre-shared key")
	}
	if !s.CloudID.IsValid() || !s.CustomerID.IsValid() {
		errs = append(errs, "IKE identities missing")
	}
	for _, ts := range [][]netip.Prefix{s.CloudSubnets, s.CustomerSubnets} {
		for _, p := range ts {
			if !p.IsValid() || !p.Addr().Is4() {
				errs = append(errs, fmt.Sprintf("traffic selector %v", p))
			}
		}
	}
	if (len(s.CloudSubnets) == 0) != (len(s.CustomerSubnets) == 0) {
		errs = append(errs, "give both traffic selectors or neither")
	}
	if s.IKE.Lifetime < 0 || s.ESP.Lifetime < 0 {
		errs = append(errs, "negative lifetime")
	}
	if len(errs) > 0 {
		return fmt.Errorf("cell %s: %s", s.ID, strings.Join(errs, "; "))
	}
	return nil
}
