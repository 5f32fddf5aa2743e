package config

import (
	"errors"
	"fmt"
	"iter"
	"net/netip"
	"strings"

	"go.yaml.in/yaml/v3"

	"opencen/internal/addrs"
)

// Pool is a set of IPv4 addresses connections take their gateway IP from, as the cloud
// allocates EIPs: entries are CIDR blocks ("198.18.100.0/24": every host but the network
// address, the first host, kept for the WAN's router, and the broadcast address; a /31 or
// /32 gives all its addresses), single addresses ("203.0.113.7") and ranges
// ("203.0.113.10-203.0.113.20"). In a file it is one string or a list of them.
type Pool []string

// UnmarshalYAML accepts a string or a list of strings.
func (p *Pool) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*p = Pool{n.Value}
		return nil
	case yaml.SequenceNode:
		var list []string
		if err := n.Decode(&list); err != nil {
			return err
		}
		*p = list
		return nil
	}
	return fmt.Errorf("line %d: an address pool is a string or a list of strings", n.Line)
}

// UnmarshalTOML accepts a string or an array of strings.
func (p *Pool) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case string:
		*p = Pool{v}
		return nil
	case []any:
		out := make(Pool, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return errors.New("an address pool is a string or an array of strings")
			}
			out = append(out, s)
		}
		*p = out
		return nil
	}
	return errors.New("an address pool is a string or an array of strings")
}

// poolRange is one entry: the addresses from first to last, inclusive.
type poolRange struct{ first, last netip.Addr }

func parsePoolEntry(s string) (poolRange, error) {
	s = strings.TrimSpace(s)
	if a, b, ok := strings.Cut(s, "-"); ok {
		first, err1 := netip.ParseAddr(strings.TrimSpace(a))
		last, err2 := netip.ParseAddr(strings.TrimSpace(b))
		if err1 != nil || err2 != nil || !first.Is4() || !last.Is4() || last.Less(first) {
			return poolRange{}, fmt.Errorf("%q: want a range FIRST-LAST of IPv4 addresses, FIRST not after LAST", s)
		}
		return poolRange{first, last}, nil
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || !p.Addr().Is4() {
			return poolRange{}, fmt.Errorf("%q: want an IPv4 CIDR block", s)
		}
		if p.Masked() != p {
			return poolRange{}, fmt.Errorf("%q: the block starts at %s", s, p.Masked().Addr())
		}
		first, last := p.Addr(), addrs.LastHost(p)
		if p.Bits() <= 30 {
			// The network address, the first host (the WAN router's) and the broadcast
			// address are never handed out.
			first = first.Next().Next()
		}
		return poolRange{first, last}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return poolRange{}, fmt.Errorf("%q: want an IPv4 address, a CIDR block or a range FIRST-LAST", s)
	}
	return poolRange{a, a}, nil
}

// Validate checks every entry.
func (p Pool) Validate() error {
	var errs []error
	for _, e := range p {
		if _, err := parsePoolEntry(e); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Addrs yields the pool's addresses in the order of its entries (entries that do not parse
// give none; Validate reports them).
func (p Pool) Addrs() iter.Seq[netip.Addr] {
	return func(yield func(netip.Addr) bool) {
		for _, e := range p {
			r, err := parsePoolEntry(e)
			if err != nil {
				continue
			}
			for a := r.first; a.IsValid() && !r.last.Less(a); a = a.Next() {
				if !yield(a) {
					return
				}
				if a == r.last {
					break
				}
			}
		}
	}
}

// Contains reports whether a is one of the pool's addresses.
func (p Pool) Contains(a netip.Addr) bool {
	for _, e := range p {
		if r, err := parsePoolEntry(e); err == nil && !a.Less(r.first) && !r.last.Less(a) {
			return true
		}
	}
	return false
}

// String is the pool as the config file writes it.
func (p Pool) String() string { return strings.Join(p, ", ") }
