package dataplane

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"opencen/internal/dataplane/nsutil"
)

// Uplinks: how a cell's gateway IP reaches the Internet (or, for private connections, the
// private network). Every cell has a WAN link, a veth whose cell end ("P wan") holds the
// gateway IP and whose other end ("P w<hash>") is in WANNetns. Two ways to go on from there:
//
//   - bridged (WANBridge): the other end is plugged into a bridge, so each gateway IP is a
//     host of the WAN's subnet with a MAC of its own. The lab's WAN is such a bridge.
//   - routed (WANInterface): the other end stays a plain link of the host, which routes the
//     gateway IP (a /32 through that link) and answers ARP for it on its Internet interface
//     (a proxy-ARP entry tagged proxyProtocol), so the upstream router sends it to the host
//     as it would to an address of the host. This is what a real host allows: a cloud VM
//     or a provider port accepts one MAC (no bridge of foreign MACs, and this kernel has
//     no macvlan), and pool addresses routed to the host need no ARP at all. It needs IPv4
//     forwarding on in WANNetns, which the operator enables (it is the host's setting,
//     not ours to change). Private connections use PrivateInterface, when set.
//
// Cells accept nothing on their WAN link but IKE (UDP 500 and 4500, which carries
// ESP-in-UDP), ESP and the ICMP errors path MTU needs: see cellRuleset.

// routed reports whether cells reach the WAN through the host's routing.
func (d *Netns) routed() bool { return d.opts.WANInterface != "" }

// uplinkOf is the host interface a routed cell's gateway IP is answered on.
func (d *Netns) uplinkOf(c Cell) string {
	if c.Private && d.opts.PrivateInterface != "" {
		return d.opts.PrivateInterface
	}
	return d.opts.WANInterface
}

// wanAddr is the cell's address on its WAN link: the gateway IP in the WAN's subnet when
// bridged, a /32 when routed (the host routes it).
func (d *Netns) wanAddr(c Cell) netip.Prefix {
	if d.routed() {
		return netip.PrefixFrom(c.WANAddr.Addr(), 32)
	}
	return c.WANAddr
}

// checkUplink: what the cell's WAN link goes to exists, so a cell fails with a message
// that says what to fix rather than half built.
func (d *Netns) checkUplink(ctx context.Context, c Cell) (map[string]ipLink, error) {
	ls, err := d.net.Links(ctx, d.opts.WANNetns)
	if err != nil {
		return nil, fmt.Errorf("WAN namespace %q: %w", d.opts.WANNetns, err)
	}
	if !d.routed() {
		if _, ok := ls[d.opts.WANBridge]; !ok {
			return nil, fmt.Errorf("WAN bridge %s not found in namespace %q", d.opts.WANBridge, d.opts.WANNetns)
		}
		return ls, nil
	}
	up := d.uplinkOf(c)
	if _, ok := ls[up]; !ok {
		return nil, fmt.Errorf("uplink interface %s not found in namespace %q (--wan-interface, --private-interface)", up, d.opts.WANNetns)
	}
	if v, err := d.net.Sysctl(ctx, d.opts.WANNetns, "ipv4/ip_forward"); err != nil || strings.TrimSpace(v) != "1" {
		return nil, fmt.Errorf("IPv4 forwarding is off in namespace %q: a routed WAN needs it (sysctl -w net.ipv4.ip_forward=1)", d.opts.WANNetns)
	}
	return ls, nil
}

// plugWAN makes the cell's WAN link and sets up the uplink's end of it; created reports a
// new veth. The cell end's address and routes are UpdateCell's.
func (d *Netns) plugWAN(ctx context.Context, cns string, cl, hl map[string]ipLink, c Cell) (created bool, err error) {
	wan, peer := d.cellWAN(), d.wanPeer(c.ID())
	if created, err = d.vethPair(ctx, cns, wan, cl, d.opts.WANNetns, peer, hl); err != nil {
		return false, fmt.Errorf("WAN link: %w", err)
	}
	if created {
		if hl, err = d.net.Links(ctx, d.opts.WANNetns); err != nil {
			return false, err
		}
	}
	master := d.opts.WANBridge
	if d.routed() {
		master = ""
	}
	if err := d.net.Change(ctx, d.opts.WANNetns, linkOp(hl[peer], peer, 0, c.ID(), master)); err != nil {
		return false, fmt.Errorf("WAN link: %w", err)
	}
	return created, nil
}

// routeUplink, for a routed uplink: the host routes the gateway IP to the cell's link,
// answers ARP for it on the uplink interface, and answers the cell's ARP on the link
// (proxy ARP there, so that the cell's default route needs no address on the host end).
func (d *Netns) routeUplink(ctx context.Context, c Cell) error {
	if !d.routed() {
		return nil
	}
	ns, peer, up, gw := d.opts.WANNetns, d.wanPeer(c.ID()), d.uplinkOf(c), c.WANAddr.Addr()
	if err := d.net.SetSysctls(ctx, ns, []nsutil.Sysctl{{Key: "ipv4/conf/" + peer + "/proxy_arp", Value: "1"}}); err != nil {
		return err
	}
	rs, err := d.net.Routes(ctx, ns)
	if err != nil {
		return err
	}
	var mine []ipRoute
	for _, r := range rs["main"] {
		if r.Dev == peer && r.Protocol != "kernel" {
			mine = append(mine, r)
		}
	}
	ops := routeOps("main", mine, []wantRoute{unicastRoute(netip.PrefixFrom(gw, 32), []ipNextHop{{Dev: peer}})})
	ps, err := d.net.Proxies(ctx, ns)
	if err != nil {
		return err
	}
	have := false
	for _, p := range ps {
		switch {
		case p.Dst == gw.String() && p.Dev == up:
			have = p.ours() || have
		case p.Dst == gw.String() && p.ours():
			// The connection moved to the other uplink (public <-> private).
			ops = append(ops, netOp{kind: opProxyDel, link: p.Dev, addr: netip.PrefixFrom(gw, 32)})
		}
	}
	if !have {
		ops = append(ops, netOp{kind: opProxyReplace, link: up, addr: netip.PrefixFrom(gw, 32)})
	}
	if err := d.net.Change(ctx, ns, ops); err != nil {
		return fmt.Errorf("uplink routing: %w", err)
	}
	return nil
}

// announce tells the WAN that the cell's gateway IP is here now (a gratuitous ARP): from
// the cell's own link when bridged, from the host's uplink interface when routed (the
// host answers for it).
func (d *Netns) announce(ctx context.Context, cns string, c Cell) error {
	if d.routed() {
		return d.net.Announce(ctx, d.opts.WANNetns, d.uplinkOf(c), c.WANAddr.Addr())
	}
	return d.net.Announce(ctx, cns, d.cellWAN(), c.WANAddr.Addr())
}

// cellDefaultRoute is the cell's route to the WAN: through the host when routed (the host
// end answers ARP for every address), through WANGateway when one is set, none otherwise
// (the lab's peers are on the WAN's subnet).
func (d *Netns) cellDefaultRoute() []wantRoute {
	switch {
	case d.routed():
		return []wantRoute{unicastRoute(allIPv4, []ipNextHop{{Dev: d.cellWAN()}})}
	case d.opts.WANGateway.IsValid():
		return []wantRoute{unicastRoute(allIPv4, []ipNextHop{{Gateway: d.opts.WANGateway.String(), Dev: d.cellWAN()}})}
	}
	return nil
}

// pruneProxies removes the proxy-ARP entries OpenCEN added (proxyProtocol) whose gateway
// IP the host no longer routes anywhere: their cell's link, and with it the /32 route,
// is gone. The operator's entries are never touched, nor those of a cell another driver
// on the host still routes.
func (d *Netns) pruneProxies(ctx context.Context) error {
	if !d.routed() {
		return nil
	}
	ns := d.opts.WANNetns
	ps, err := d.net.Proxies(ctx, ns)
	if err != nil {
		return err
	}
	rs, err := d.net.Routes(ctx, ns)
	if err != nil {
		return err
	}
	routed := map[netip.Prefix]bool{}
	for _, r := range rs["main"] {
		routed[r.prefix()] = true
	}
	var ops []netOp
	for _, p := range ps {
		a, err := netip.ParseAddr(p.Dst)
		if err != nil || !p.ours() || routed[netip.PrefixFrom(a, 32)] {
			continue
		}
		ops = append(ops, netOp{kind: opProxyDel, link: p.Dev, addr: netip.PrefixFrom(a, 32)})
	}
	if err := d.net.Change(ctx, ns, ops); err != nil {
		return fmt.Errorf("remove proxy-ARP entries of gone cells: %w", err)
	}
	return nil
}
