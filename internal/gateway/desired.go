// Package gateway applies the store's transit routers and IPsec-VPN connections to a data-plane driver and reports what it sees back.
package gateway

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"sort"
	"strings"
	"time"

	"opencen/internal/dataplane"
	"opencen/internal/service"
	"opencen/internal/vpnconf"
)

// Layout says how store objects land on this gateway.
type Layout struct {
	// WANBits is the prefix length of the WAN the connections' gateway IPs live on.
	WANBits int
	// VPCNetns returns the network namespace of a VPC (the lab's VPC hosts); VPCs without
	// one are not linked.
	VPCNetns func(vpcID string) (string, bool)
}

// linkPool is where router<->cell and router<->VPC /30s come from when a connection has
// no BGP tunnel CIDR (169.254.0.0/16, as tunnel inside addresses must be).
var linkPool = netip.MustParsePrefix("169.254.128.0/17")

// Desired maps a gateway view to the driver's desired state. Pure and deterministic.
func Desired(view service.GatewayView, l Layout) (*dataplane.Desired, error) {
	d := &dataplane.Desired{}
	for _, gr := range view.Routers {
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
		for _, v := range gr.VPNs {
			c, err := cell(v, l, links)
			if err != nil {
				return nil, err
			}
			r.Cells = append(r.Cells, c)
		}
		for _, a := range gr.VPCs {
			ns, ok := l.VPCNetns(a.VpcID)
			if !ok {
				continue
			}
			p := links.next(a.ID)
			first := p.Addr().Next()
			r.VPCs = append(r.VPCs, dataplane.VPCLink{AttachmentID: a.ID, Netns: ns,
				RouterAddr: netip.PrefixFrom(first, 30), VPCAddr: netip.PrefixFrom(first.Next(), 30)})
		}
		present := map[string]bool{}
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
		}
		// Routes through attachments this gateway does not run would not resolve.
		for i := range r.Tables {
			r.Tables[i].Routes = keepResolvable(r.Tables[i].Routes, present)
		}
		d.Routers = append(d.Routers, r)
	}
	return d, d.Validate()
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
}

func newLinkAllocator(gr service.GatewayRouter) *linkAllocator {
	a := &linkAllocator{taken: map[netip.Prefix]bool{}}
	for _, v := range gr.VPNs {
		if v.Conn.Bgp.EnableBgp {
			a.taken[netip.MustParsePrefix(v.Conn.Bgp.TunnelCidr)] = true
		}
	}
	return a
}

func (a *linkAllocator) next(owner string) netip.Prefix {
	h := fnv.New32a()
	h.Write([]byte(owner))
	slots := uint32(1) << (32 - linkPool.Bits() - 2)
	base := linkPool.Addr().As4()
	for i := uint32(0); ; i++ {
		slot := (h.Sum32() + i) % slots
		v := (uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])) + slot*4
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), 30)
		if !a.taken[p] {
			a.taken[p] = true
			return p
		}
	}
}

// cell maps one connection to the driver's cell, with the cloud side's charon settings.
func cell(v service.GatewayVPN, l Layout, links *linkAllocator) (dataplane.Cell, error) {
	c := v.Conn
	wan, err := netip.ParseAddr(c.InternetIP)
	if err != nil {
		return dataplane.Cell{}, fmt.Errorf("connection %s: gateway IP %q: %w", c.ID, c.InternetIP, err)
	}
	peer, err := netip.ParseAddr(v.Gateway.IPAddress)
	if err != nil {
		return dataplane.Cell{}, fmt.Errorf("connection %s: customer gateway IP %q: %w", c.ID, v.Gateway.IPAddress, err)
	}
	ike, err := vpnconf.IKEProposal(c.Ike)
	if err != nil {
		return dataplane.Cell{}, err
	}
	esp, err := vpnconf.ESPProposal(c.Ipsec)
	if err != nil {
		return dataplane.Cell{}, err
	}
	out := dataplane.Cell{ID: c.ID, AttachmentID: v.Attachment.ID, WANAddr: netip.PrefixFrom(wan, l.WANBits), PeerAddr: peer,
		IPsec: dataplane.IPsec{
			IKEVersion: map[string]int{"ikev1": 1, "ikev2": 2}[c.Ike.IkeVersion], Aggressive: c.Ike.IkeMode == "aggressive",
			IKEProposal: ike, ESPProposal: esp,
			IKELifetime: time.Duration(c.Ike.IkeLifetime) * time.Second, ESPLifetime: time.Duration(c.Ipsec.IpsecLifetime) * time.Second,
			PSK: c.Ike.Psk, LocalID: c.EffectiveLocalID(), RemoteID: c.EffectiveRemoteID(&v.Gateway),
			DPD: c.EnableDpd, StartNow: c.EffectImmediately,
		}}
	if c.Bgp.EnableBgp {
		p := netip.MustParsePrefix(c.Bgp.TunnelCidr)
		out.LinkAddr = netip.PrefixFrom(netip.MustParseAddr(c.Bgp.LocalBgpIp), p.Bits())
	} else {
		p := links.next(c.ID)
		out.LinkAddr = netip.PrefixFrom(p.Addr().Next(), 30)
	}
	if c.FlowProtection() {
		out.IPsec.LocalTS = subnets(c.LocalSubnet)
		out.IPsec.RemoteTS = subnets(c.RemoteSubnet)
	}
	return out, nil
}

func subnets(v string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range strings.Split(v, ",") {
		out = append(out, netip.MustParsePrefix(s))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}
