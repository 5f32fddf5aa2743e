package gateway

import (
	"cmp"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"opencen/internal/bgp"
	"opencen/internal/config"
	"opencen/internal/dataplane"
	"opencen/internal/model"
	"opencen/internal/probe"
	"opencen/internal/service"
	"opencen/internal/tunnel"
)

// Layout says how store objects land on this gateway.
type Layout struct {
	// WANBits is the prefix length of the WAN the connections' gateway IPs live on.
	WANBits int
	// Bindings are this gateway's static VPC bindings (a node's config file): they win
	// over the admin's (GatewayView.VPCBindings).
	Bindings map[string]config.VPCBinding
	// VPCNetns returns the network namespace of a VPC that has no binding (the lab's
	// older way: a namespace per VPC by name); VPCs with neither are not linked.
	VPCNetns func(vpcID string) (string, bool)
	// RouterNetns and AttachmentLink name what the driver makes (for BGP speakers and
	// health checks, which run in the router's namespace).
	RouterNetns    func(trID string) string
	AttachmentLink func(attachmentID string) string
	// Node and Placed: a gateway node runs only what the read model places on Node (its
	// routers, and tunnels placed on it on their own); otherwise everything runs here.
	Node   string
	Placed bool
	// Underlay is this node's end of links to other gateway nodes; nil: it has none, and
	// what would need one is left unlinked (and said so).
	Underlay *Underlay
}

// Underlay is where a gateway node's VXLAN links to other nodes leave: the interface (in
// namespace Netns, "" = the gateway's own), and the address and UDP port other nodes
// send to (registered with the node).
type Underlay struct {
	Netns, Interface string
	Addr             netip.Addr
	Port             uint16
}

// here says whether what is placed on node runs on this gateway.
func (l Layout) here(node string) bool { return !l.Placed || node == l.Node }

// linkTo is a link from this node to node other for the link key (a tunnel's or a peer
// connection's ID), or why there can be none.
func (l Layout) linkTo(view *service.GatewayView, vnis map[string]uint32, key, other string) (*dataplane.Segment, error) {
	u := l.Underlay
	if other == "" {
		return nil, fmt.Errorf("the other end is not placed on any gateway node yet")
	}
	if u == nil {
		return nil, fmt.Errorf("this gateway node has no underlay (--underlay-interface, --underlay-address) to link it to gateway node %s", other)
	}
	to, ok := view.Underlays[other]
	if !ok {
		return nil, fmt.Errorf("gateway node %s has registered no underlay to link it by", other)
	}
	if to.Port() != u.Port {
		return nil, fmt.Errorf("gateway node %s takes VXLAN on port %d and this node on %d: give them one --underlay-port", other, to.Port(), u.Port)
	}
	vni, ok := vnis[key]
	if !ok {
		return nil, fmt.Errorf("no VNI for %s", key) // cannot happen: nodeLinkVNIs saw it
	}
	return dataplane.NodeLink(u.Netns, u.Interface, vni, u.Addr, to.Addr(), u.Port), nil
}

// nodeOf is the node that runs a router's or a tunnel's placement key ("" = none).
func nodeOf(view *service.GatewayView, key string) string { return view.Placement[key] }

// tunnelNode is where a unit of a connection runs: a tunnel placed on its own node there,
// otherwise (a single-tunnel connection, a tunnel not placed) with its router.
func tunnelNode(view *service.GatewayView, tr string, v service.GatewayVPN) string {
	if v.Tunnel != nil {
		if n := nodeOf(view, v.Conn.ID); n != "" {
			return n
		}
	}
	return nodeOf(view, tr)
}

// nodeLinkPool is the range of VNIs links between gateway nodes take: the top 2^20 of
// the 24-bit space, so that an operator's VPC segments (VNIs below 15728640) on the same
// underlay never meet them.
const nodeLinkPool, nodeLinkSlots = config.NodeLinkVNIs, 1<<24 - config.NodeLinkVNIs

// nodeLinkVNIs gives a VNI to every link between two gateway nodes in the read model (a
// peer connection whose routers run on two nodes, a tunnel placed apart from its
// router), the same on every node: computed from the whole read model, by ID, stable
// while no two IDs collide.
func nodeLinkVNIs(view *service.GatewayView) map[string]uint32 {
	var ids []string
	seen := map[string]bool{}
	for _, gr := range view.Routers {
		rn := nodeOf(view, gr.TR.ID)
		for _, v := range gr.VPNs {
			if n := tunnelNode(view, gr.TR.ID, v); n != rn && n != "" && rn != "" {
				ids = append(ids, v.Conn.ID)
			}
		}
		for _, a := range gr.Peers {
			r := a.Routers()
			n0, n1 := nodeOf(view, r[0]), nodeOf(view, r[1])
			if n0 != n1 && n0 != "" && n1 != "" && !seen[a.ID] {
				seen[a.ID] = true
				ids = append(ids, a.ID)
			}
		}
	}
	slices.Sort(ids)
	out := make(map[string]uint32, len(ids))
	taken := map[uint32]bool{}
	for _, id := range ids {
		h := fnv.New32a()
		h.Write([]byte(id))
		for i := uint32(0); i < nodeLinkSlots; i++ {
			vni := nodeLinkPool + (h.Sum32()+i)%nodeLinkSlots
			if !taken[vni] {
				taken[vni] = true
				out[id] = vni
				break
			}
		}
	}
	return out
}

// vpcLink is the one mapping of a VPC binding to the driver's link: a namespace gets a /30
// from the pool, a bridge or a VXLAN segment the binding's gateway address.
func vpcLink(attachmentID string, b config.VPCBinding, links *linkAllocator) (dataplane.VPCLink, error) {
	v := dataplane.VPCLink{AttachmentID: attachmentID}
	if b.Kind() == config.BindNetns {
		p := links.next(attachmentID)
		first := p.Addr().Next()
		v.Netns, v.RouterAddr, v.VPCAddr = b.Netns, netip.PrefixFrom(first, 30), netip.PrefixFrom(first.Next(), 30)
		return v, nil
	}
	gw, ok := b.Gateway()
	if !ok {
		return v, fmt.Errorf("binding: gateway-ip %q is not an address with a prefix length", b.GatewayIP)
	}
	v.RouterAddr, v.Segment = gw, &dataplane.Segment{Netns: b.Netns, Bridge: b.Bridge}
	if b.Kind() == config.BindVXLAN {
		x := &dataplane.VXLAN{VNI: b.VNI, Underlay: b.Underlay, Remotes: b.RemoteAddrs(), Port: cmp.Or(b.Port, config.DefaultVXLANPort)}
		if b.Group != "" {
			g, err := netip.ParseAddr(b.Group)
			if err != nil {
				return v, fmt.Errorf("binding: group %q: %w", b.Group, err)
			}
			x.Group = g
		}
		v.Segment.VXLAN = x
	}
	return v, nil
}

// linkPool is where router<->cell and router<->VPC /30s come from when a connection has
// no BGP tunnel CIDR (169.254.0.0/16, as tunnel inside addresses must be).
var linkPool = netip.PrefixFrom(netip.AddrFrom4([4]byte{169, 254, 128, 0}), 17)

// cellObject is a cell with the router it belongs to.
type cellObject struct {
	Router string
	Cell   dataplane.Cell
}

// neighborObject is one connection's BGP session on its router's speaker, with what route
// synchronization announces to it.
type neighborObject struct {
	Router     string
	Netns      string
	Neighbor   bgp.Neighbor
	Advertised []netip.Prefix
}

// checkObject is one connection's health check.
type checkObject struct {
	Router      string
	Check       probe.Check
	RevokeRoute bool
	// Attachment is the connection's attachment (for the withdrawal log).
	Attachment string
}

// objects is everything a gateway applies, built from one read model, by kind and key.
// A connection that does not build has an error in the kind that failed (its cell, BGP
// neighbor or health check); the others of the connection build on their own.
type objects struct {
	routers    map[string]dataplane.Router
	cells      map[string]cellObject
	neighbors  map[string]neighborObject
	checks     map[string]checkObject
	routerErrs map[string]error
	cellErrs   map[string]error
	bgpErrs    map[string]error
	checkErrs  map[string]error
	// routerOf maps a connection to its transit router (for its log lines).
	routerOf map[string]string
	// unlinked are links to other gateway nodes that cannot be made (no underlay, ports
	// that differ), by peer attachment or tunnel: said once in the gateway's log.
	unlinked map[string]string
	// remote are the tunnels of routers here whose cells run on other gateway nodes, by
	// tunnel, with that node: their IPsec state comes from the store (what that node
	// reported), not from this gateway's driver.
	remote map[string]string
}

// held are the objects applied before whose connection no longer builds: they keep their
// place on their router (links, routes, health-check sources) until it builds again.
type held struct {
	cells  map[string]cellObject
	checks map[string]checkObject
}

// Signals are what the gateway has seen of the tunnels of dual-tunnel connections, by
// tunnel (cell) ID: whether its IPsec SA is up, its BGP session established, its health
// check passing (absent: not seen yet). build chooses the tunnels routes go over from
// them (tunnelHops).
type Signals struct {
	IPsec, BGP, Health map[string]bool
}

// key renders the signals of tunnels, for noticing a change.
func (s Signals) key() string {
	var b strings.Builder
	for _, m := range []map[string]bool{s.IPsec, s.BGP, s.Health} {
		for _, id := range slices.Sorted(maps.Keys(m)) {
			fmt.Fprintf(&b, "%s=%t,", id, m[id])
		}
		b.WriteByte(';')
	}
	return b.String()
}

// tunnelUnit is one tunnel of a dual-tunnel attachment as routing chooses among them.
type tunnelUnit struct {
	id     string
	master bool
	ecmp   bool
	up     bool
}

// tunnelHops are the tunnels a dual-tunnel attachment's routes go over: with ECMP
// (EnableTunnelsBgp) every tunnel that is up; otherwise the master while it is up, else
// the slave while it is up. With none up, the master (or whichever tunnel exists): the
// routes keep resolving, and nothing can be sent either way.
func tunnelHops(units []tunnelUnit) []string {
	slices.SortFunc(units, func(a, b tunnelUnit) int {
		if a.master != b.master {
			if a.master {
				return -1
			}
			return 1
		}
		return strings.Compare(a.id, b.id)
	})
	var hops []string
	for _, u := range units {
		if u.up {
			hops = append(hops, u.id)
			if !u.ecmp {
				break
			}
		}
	}
	if len(hops) == 0 && len(units) > 0 {
		hops = []string{units[0].id}
	}
	slices.Sort(hops)
	return hops
}

// build maps a read model to the objects of the data plane. It is pure and deterministic.
func build(view *service.GatewayView, l Layout, kept held, sig Signals) objects {
	o := objects{
		routers: map[string]dataplane.Router{}, cells: map[string]cellObject{},
		neighbors: map[string]neighborObject{}, checks: map[string]checkObject{},
		routerErrs: map[string]error{}, cellErrs: map[string]error{}, bgpErrs: map[string]error{}, checkErrs: map[string]error{},
		routerOf: map[string]string{}, unlinked: map[string]string{}, remote: map[string]string{},
	}
	var vnis map[string]uint32
	if l.Placed {
		vnis = nodeLinkVNIs(view)
	}
	peerLinks := allocPeerLinks(view)
	for _, gr := range view.Routers {
		routerNode := nodeOf(view, gr.TR.ID)
		routerHere := l.here(routerNode)
		if !routerHere && !slices.ContainsFunc(gr.VPNs, func(v service.GatewayVPN) bool { return l.here(tunnelNode(view, gr.TR.ID, v)) }) {
			continue // nothing of it runs here
		}
		r := dataplane.Router{ID: gr.TR.ID, Associations: map[string]string{}}
		numbers := map[int]string{}
		for _, rt := range gr.Tables {
			n := tableNumber(rt.ID)
			for numbers[n] != "" {
				n++ // a hash collision: probe
			}
			numbers[n] = rt.ID
			t := dataplane.Table{ID: rt.ID, Number: n}
			for _, route := range gr.Forwarding[rt.ID] {
				t.Routes = append(t.Routes, dataplane.Route{Dst: route.Prefix, NextHops: route.NextHops, Blackhole: route.BlackHole})
			}
			r.Tables = append(r.Tables, t)
		}
		links := newLinkAllocator(gr)
		cellLinks := newCellLinks(gr, links)
		// tunnels are the dual-tunnel attachments' tunnels that have a link, by attachment.
		tunnels := map[string][]tunnelUnit{}
		for _, v := range gr.VPNs {
			id := v.Conn.ID
			// Where the unit's cell runs: with its router, or (a tunnel placed in its own
			// zone) on another node, linked to the router by a VXLAN link.
			cellNode := tunnelNode(view, gr.TR.ID, v)
			cellHere := l.here(cellNode)
			if !routerHere && !cellHere {
				continue
			}
			o.routerOf[id] = gr.TR.ID
			// A single-tunnel connection's link is named by its attachment (routes name it
			// as next hop); a tunnel's by its own ID, chosen among by tunnelHops.
			linkID := v.Attachment.ID
			if v.Tunnel != nil {
				linkID = id
			}
			p := tunnel.Parsed{Tunnel: v.Err}
			if v.Err == nil {
				p = tunnel.Parse(&v.Conn, &v.Gateway, v.Conn.Ike.Psk, v.BgpAuthKey)
			}
			var remote *dataplane.Segment
			if routerHere != cellHere {
				other := cellNode
				if !routerHere {
					other = routerNode
				}
				var err error
				if remote, err = l.linkTo(view, vnis, id, other); err != nil {
					if cellHere {
						o.cellErrs[id] = err
					} else {
						o.unlinked[id] = fmt.Sprintf("the tunnel runs on gateway node %s and its transit router %s here, but they cannot be linked: %v", other, gr.TR.ID, err)
					}
					continue
				}
			}
			if !routerHere {
				// Only the cell runs here; its router, BGP session and health check run on
				// the router's node.
				if p.Tunnel != nil {
					o.cellErrs[id] = p.Tunnel
					continue
				}
				c := dataplane.NewCell(p.Spec, linkID, l.WANBits, cellLinks.of(p.Spec, id))
				c.FastDPD, c.Remote = true, remote
				if err := c.Validate(); err != nil {
					o.cellErrs[id] = err
					continue
				}
				o.cells[id] = cellObject{Router: gr.TR.ID, Cell: c}
				continue
			}
			if p.Tunnel != nil {
				if cellHere {
					o.cellErrs[id] = p.Tunnel
				}
				if h, ok := kept.cells[id]; ok && h.Router == gr.TR.ID {
					r.Cells = append(r.Cells, h.Cell.Link())
				}
				// The session and the check of a tunnel that does not build stay as they
				// were too.
				errTunnel := errors.New("the connection's tunnel does not build")
				if v.Conn.Bgp.EnableBgp {
					o.bgpErrs[id] = errTunnel
				}
				if v.Conn.HealthCheck.Enable {
					o.checkErrs[id] = errTunnel
					if h, ok := kept.checks[id]; ok && h.Router == gr.TR.ID {
						r.Sources = append(r.Sources, h.Check.Source)
					}
				}
				continue
			}
			c := dataplane.NewCell(p.Spec, linkID, l.WANBits, cellLinks.of(p.Spec, id))
			// A tunnel whose death must move traffic to the other tunnel at once.
			c.FastDPD, c.Remote = v.Tunnel != nil, remote
			if err := c.Validate(); err != nil {
				if cellHere {
					o.cellErrs[id] = err
				}
				continue
			}
			if cellHere {
				o.cells[id] = cellObject{Router: gr.TR.ID, Cell: c}
			} else {
				o.remote[id] = cellNode
			}
			r.Cells = append(r.Cells, c.Link())
			if t := v.Tunnel; t != nil {
				health, checked := sig.Health[id]
				up := sig.IPsec[id] && (p.Spec.BGP == nil || sig.BGP[id]) && (!checked || health || p.Spec.HealthCheck == nil)
				tunnels[v.Attachment.ID] = append(tunnels[v.Attachment.ID], tunnelUnit{id: id, master: t.Role == model.RoleMaster, ecmp: t.ECMP, up: up})
			}
			switch {
			case p.BGP != nil:
				o.bgpErrs[id] = p.BGP
			case p.Spec.BGP != nil:
				b := p.Spec.BGP
				o.neighbors[id] = neighborObject{Router: gr.TR.ID, Netns: l.RouterNetns(gr.TR.ID), Advertised: slices.Clone(v.Advertised),
					Neighbor: bgp.Neighbor{ID: id, Address: b.CustomerIP, LocalAddress: b.CloudIP, LocalAS: b.CloudASN, PeerAS: b.CustomerASN, AuthPassword: b.AuthKey}}
			}
			switch {
			case p.HealthCheck != nil:
				o.checkErrs[id] = p.HealthCheck
				if h, ok := kept.checks[id]; ok && h.Router == gr.TR.ID {
					r.Sources = append(r.Sources, h.Check.Source)
				}
			case p.Spec.HealthCheck != nil:
				h := p.Spec.HealthCheck
				o.checks[id] = checkObject{Router: gr.TR.ID, RevokeRoute: h.RevokeRoute, Attachment: v.Attachment.ID,
					Check: probe.Check{ID: id, Netns: l.RouterNetns(gr.TR.ID), Link: l.AttachmentLink(linkID),
						Source: h.Source, Destination: h.Destination, Interval: h.Interval, Retry: h.Retry}}
				r.Sources = append(r.Sources, h.Source)
			}
		}
		if !routerHere {
			continue // only cells of it run here
		}
		slices.SortFunc(r.Sources, func(a, b netip.Addr) int { return a.Compare(b) })
		r.Sources = slices.Compact(r.Sources)
		for _, a := range gr.VPCs {
			b, ok := l.Bindings[a.VpcID]
			if !ok {
				b, ok = view.VPCBindings[a.VpcID]
			}
			if !ok && l.VPCNetns != nil {
				b.Netns, ok = l.VPCNetns(a.VpcID)
			}
			if !ok {
				continue
			}
			v, err := vpcLink(a.ID, b, links)
			if err != nil {
				o.routerErrs[gr.TR.ID] = fmt.Errorf("VPC %s: %w", a.VpcID, err)
				continue
			}
			r.VPCs = append(r.VPCs, v)
		}
		for _, a := range gr.Peers {
			p, ok := peerLinks[a.ID]
			if !ok {
				continue
			}
			end := p.end(gr.TR.ID, a.RateKbit())
			if other := nodeOf(view, end.PeerRouter); !l.here(other) {
				remote, err := l.linkTo(view, vnis, a.ID, other)
				if err != nil {
					if a.Status == model.AttachmentAttached {
						o.unlinked[a.ID] = fmt.Sprintf("transit router %s runs here and %s on gateway node %s, but they cannot be linked: %v; "+
							"traffic over the connection is dropped here (routes through it are left out of %s's kernel tables)", gr.TR.ID, end.PeerRouter, other, err, gr.TR.ID)
					}
					continue
				}
				end.Remote = remote
			}
			r.Peers = append(r.Peers, end)
		}
		present := map[string]bool{}
		for _, p := range r.Peers {
			present[p.AttachmentID] = true
		}
		for _, c := range r.Cells {
			present[c.AttachmentID] = true
		}
		for _, v := range r.VPCs {
			present[v.AttachmentID] = true
		}
		for att, table := range gr.Associations {
			if present[att] {
				r.Associations[att] = table
			}
			// Traffic from either tunnel is the attachment's.
			for _, u := range tunnels[att] {
				r.Associations[u.id] = table
			}
		}
		// Routes through a dual-tunnel attachment go over the tunnels chosen now.
		if len(tunnels) > 0 {
			hops := map[string][]string{}
			for att, units := range tunnels {
				hops[att] = tunnelHops(units)
			}
			for i := range r.Tables {
				r.Tables[i].Routes = overTunnels(r.Tables[i].Routes, hops)
			}
		}
		// Routes through attachments this gateway does not run would not resolve.
		for i := range r.Tables {
			r.Tables[i].Routes = keepResolvable(r.Tables[i].Routes, present)
		}
		if err := r.Validate(); err != nil {
			o.routerErrs[r.ID] = err
			continue
		}
		if _, bad := o.routerErrs[r.ID]; bad { // a VPC binding that does not map: keep what runs
			continue
		}
		o.routers[r.ID] = r
	}
	return o
}

// overTunnels replaces next hops that are dual-tunnel attachments by their chosen tunnels.
func overTunnels(routes []dataplane.Route, hops map[string][]string) []dataplane.Route {
	out := make([]dataplane.Route, 0, len(routes))
	for _, rt := range routes {
		var nh []string
		for _, h := range rt.NextHops {
			if t, ok := hops[h]; ok {
				nh = append(nh, t...)
			} else {
				nh = append(nh, h)
			}
		}
		slices.Sort(nh)
		rt.NextHops = slices.Compact(nh)
		out = append(out, rt)
	}
	return out
}

func keepResolvable(routes []dataplane.Route, present map[string]bool) []dataplane.Route {
	var out []dataplane.Route
	for _, rt := range routes {
		var hops []string
		for _, h := range rt.NextHops {
			if present[h] {
				hops = append(hops, h)
			}
		}
		if rt.Blackhole || len(hops) > 0 {
			rt.NextHops = hops
			out = append(out, rt)
		}
	}
	return out
}

// tableNumber is a stable Linux table number for a route table: the same on every
// gateway and across restarts, clear of the reserved numbers (220 is strongSwan's,
// 253-255 the kernel's).
func tableNumber(id string) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return 1000 + int(h.Sum32()%1_000_000)
}

// linkAllocator hands out stable /30s for links that have no BGP tunnel CIDR, avoiding
// the BGP tunnel CIDRs of the router's connections.
type linkAllocator struct {
	taken map[netip.Prefix]bool
	pool  netip.Prefix // linkPool when zero
}

func newLinkAllocator(gr service.GatewayRouter) *linkAllocator {
	a := &linkAllocator{taken: map[netip.Prefix]bool{}}
	for _, v := range gr.VPNs {
		if !v.Conn.Bgp.EnableBgp {
			continue
		}
		if p, err := netip.ParsePrefix(v.Conn.Bgp.TunnelCidr); err == nil {
			a.taken[p.Masked()] = true
		}
	}
	return a
}

func (a *linkAllocator) next(owner string) netip.Prefix {
	pool := a.pool
	if !pool.IsValid() {
		pool = linkPool
	}
	h := fnv.New32a()
	h.Write([]byte(owner))
	slots := uint32(1) << (32 - pool.Bits() - 2)
	base := pool.Addr().As4()
	for i := uint32(0); i < slots; i++ {
		slot := (h.Sum32() + i) % slots
		v := (uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])) + slot*4
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), 30)
		if !a.taken[p] {
			a.taken[p] = true
			return p
		}
	}
	// 8192 /30s per router: more links than that cannot be given distinct ones.
	return netip.PrefixFrom(pool.Addr(), 30)
}

// peerLinkPool is where inter-region links' /30s come from: apart from linkPool, so that
// they never meet a router's own links, and clear of its connections' BGP tunnel CIDRs.
var peerLinkPool = netip.PrefixFrom(netip.AddrFrom4([4]byte{169, 254, 64, 0}), 18)

// peerLink is an inter-region link's /30 and the router at its first host.
type peerLink struct {
	id     string
	prefix netip.Prefix
	first  string
	other  string
}

// end is the link as router tr sees it.
func (p peerLink) end(tr string, rateKbit uint64) dataplane.PeerLink {
	a, peer := p.prefix.Addr().Next(), p.other
	if tr == p.other {
		a, peer = a.Next(), p.first
	}
	return dataplane.PeerLink{AttachmentID: p.id, PeerRouter: peer, Addr: netip.PrefixFrom(a, 30), RateKbit: rateKbit}
}

// cellLinks are the router<->cell links of a router's units without BGP (with BGP, the
// tunnel CIDR is the link: NewCell takes it): /30s from the router's pool, given in the
// units' order whatever runs where, so that the router's node and a tunnel's node agree
// on the link between them. A unit whose BGP configuration does not parse gets one when
// it asks (link).
type cellLinks struct {
	alloc *linkAllocator
	given map[string]netip.Prefix
}

func newCellLinks(gr service.GatewayRouter, alloc *linkAllocator) *cellLinks {
	c := &cellLinks{alloc: alloc, given: map[string]netip.Prefix{}}
	for _, v := range gr.VPNs {
		if !v.Conn.Bgp.EnableBgp {
			c.link(v.Conn.ID)
		}
	}
	return c
}

func (c *cellLinks) link(id string) netip.Prefix {
	p, ok := c.given[id]
	if !ok {
		p = netip.PrefixFrom(c.alloc.next(id).Addr().Next(), 30)
		c.given[id] = p
	}
	return p
}

// of is unit id's link for spec.
func (c *cellLinks) of(spec tunnel.Spec, id string) netip.Prefix {
	if spec.BGP != nil {
		return netip.Prefix{}
	}
	return c.link(id)
}

// allocPeerLinks gives a /30 to every inter-region connection of the read model, by
// connection ID (stable while the set of connections does not collide): from the whole
// read model, so that the two routers' nodes, when they are two, agree on it.
func allocPeerLinks(view *service.GatewayView) map[string]peerLink {
	here := map[string]bool{}
	var all []*service.GatewayRouter
	taken := map[netip.Prefix]bool{}
	for i := range view.Routers {
		gr := &view.Routers[i]
		here[gr.TR.ID] = true
		all = append(all, gr)
		for _, v := range gr.VPNs {
			if p, err := netip.ParsePrefix(v.Conn.Bgp.TunnelCidr); err == nil && v.Conn.Bgp.EnableBgp {
				taken[p.Masked()] = true
			}
		}
	}
	out := map[string]peerLink{}
	var ids []string
	conns := map[string][2]string{}
	for _, gr := range all {
		for _, a := range gr.Peers {
			r := a.Routers()
			if here[r[0]] && here[r[1]] {
				if _, ok := conns[a.ID]; !ok {
					ids = append(ids, a.ID)
				}
				conns[a.ID] = r
			}
		}
	}
	slices.Sort(ids)
	alloc := &linkAllocator{taken: taken, pool: peerLinkPool}
	for _, id := range ids {
		r := conns[id]
		out[id] = peerLink{id: id, prefix: alloc.next(id), first: r[0], other: r[1]}
	}
	return out
}

// problemText renders a build error for a connection's log: what is wrong and what to do.
func problemText(what string, err error) string {
	var ps tunnel.Problems
	if errors.As(err, &ps) {
		return fmt.Sprintf("gateway: the %s cannot be built: %s; correct it with ModifyVpnAttachmentAttribute", what, ps.Error())
	}
	return fmt.Sprintf("gateway: the %s cannot be built: %v", what, err)
}
