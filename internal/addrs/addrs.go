// Package addrs holds the address arithmetic OpenCEN needs in more than one place, so that
// each rule is written once.
package addrs

import "net/netip"

// Peer is the other host of the /30 or /31 p that holds a: a tunnel's two inside
// addresses (BGP tunnel CIDRs, router<->cell links) are the two hosts of such a prefix.
// ok is false when p is not an IPv4 /30 or /31, a is not in it, or a is not a host
// address of a /30 (network or broadcast).
func Peer(p netip.Prefix, a netip.Addr) (peer netip.Addr, ok bool) {
	if !p.IsValid() || !p.Addr().Is4() || !a.Is4() || !p.Contains(a) {
		return netip.Addr{}, false
	}
	base := p.Masked().Addr()
	switch p.Bits() {
	case 31:
		if a == base {
			return base.Next(), true
		}
		return base, true
	case 30:
		first := base.Next()
		switch a {
		case first:
			return first.Next(), true
		case first.Next():
			return first, true
		}
	}
	return netip.Addr{}, false
}

// Last is the last address of an IPv4 prefix: its broadcast address when it has one (/30
// and shorter), its top address otherwise.
func Last(p netip.Prefix) netip.Addr {
	p = p.Masked()
	b := p.Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	if host := 32 - p.Bits(); host < 32 {
		v |= (1 << host) - 1
	} else {
		v = ^uint32(0)
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// LastHost is the last address of an IPv4 prefix that is usable as a host: the broadcast
// address minus one when the prefix has room for it (/30 and shorter), else the last
// address.
func LastHost(p netip.Prefix) netip.Addr {
	if p.Bits() <= 30 {
		return Last(p).Prev()
	}
	return Last(p)
}
