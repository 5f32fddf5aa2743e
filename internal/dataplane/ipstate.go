package dataplane

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"opencen/internal/dataplane/nsutil"
)

// What `ip -j` reports, reduced to what the driver compares and renders.

type ipLink struct {
	Name     string   `json:"ifname"`
	Flags    []string `json:"flags"`
	MTU      int      `json:"mtu"`
	Master   string   `json:"master"`
	Alias    string   `json:"ifalias"`
	LinkType string   `json:"link_type"`
	Address  string   `json:"address"` // MAC; Render leaves it out
	Info     struct {
		Kind string `json:"info_kind"`
	} `json:"linkinfo"`
	AddrInfo []struct {
		Family    string `json:"family"`
		Local     string `json:"local"`
		PrefixLen int    `json:"prefixlen"`
	} `json:"addr_info"`
}

func (l ipLink) up() bool { return slices.Contains(l.Flags, "UP") }

func (l ipLink) addrs() []netip.Prefix {
	var out []netip.Prefix
	for _, a := range l.AddrInfo {
		if a.Family != "inet" {
			continue
		}
		if ip, err := netip.ParseAddr(a.Local); err == nil {
			out = append(out, netip.PrefixFrom(ip, a.PrefixLen))
		}
	}
	slices.SortFunc(out, comparePrefix)
	return out
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// links lists a namespace's links with kind, alias and addresses, by name.
func links(ctx context.Context, ns string) (map[string]ipLink, error) {
	out, err := nsutil.IPn(ctx, ns, "-j", "-d", "link", "show")
	if err != nil {
		return nil, err
	}
	var ls []ipLink
	if err := json.Unmarshal(out, &ls); err != nil {
		return nil, fmt.Errorf("ip -j link in %s: %w", ns, err)
	}
	out, err = nsutil.IPn(ctx, ns, "-j", "addr", "show")
	if err != nil {
		return nil, err
	}
	var as []ipLink
	if err := json.Unmarshal(out, &as); err != nil {
		return nil, fmt.Errorf("ip -j addr in %s: %w", ns, err)
	}
	m := map[string]ipLink{}
	for _, l := range ls {
		m[l.Name] = l
	}
	for _, a := range as {
		if l, ok := m[a.Name]; ok {
			l.AddrInfo = a.AddrInfo
			m[a.Name] = l
		}
	}
	return m, nil
}

// addrOps makes link's IPv4 addresses exactly want.
func addrOps(l ipLink, name string, want []netip.Prefix) []netOp {
	var ops []netOp
	have := l.addrs()
	for _, p := range have {
		if !slices.Contains(want, p) {
			ops = append(ops, netOp{kind: opAddrDel, link: name, addr: p})
		}
	}
	for _, p := range want {
		if !slices.Contains(have, p) {
			ops = append(ops, netOp{kind: opAddrAdd, link: name, addr: p})
		}
	}
	return ops
}

type ipRule struct {
	Priority int    `json:"priority"`
	Src      string `json:"src"`
	Iif      string `json:"iif"`
	Table    string `json:"table"`
	Action   string `json:"action"`
}

// spec is the rule as `ip rule` arguments, canonical for comparisons.
func (r ipRule) spec() string {
	s := "priority " + strconv.Itoa(r.Priority)
	if r.Src != "" && r.Src != "all" {
		s += " from " + r.Src
	}
	if r.Iif != "" {
		s += " iif " + r.Iif
	}
	switch {
	case r.Table != "":
		s += " lookup " + r.Table
	case r.Action != "":
		s += " " + r.Action
	}
	return s
}

// defaultRule: the kernel's local/main/default rules, not managed.
func (r ipRule) isDefault() bool {
	return (r.Priority == 0 && r.Table == "local") || (r.Priority == 32766 && r.Table == "main") || (r.Priority == 32767 && r.Table == "default")
}

func rules(ctx context.Context, ns string) ([]ipRule, error) {
	out, err := nsutil.IPn(ctx, ns, "-4", "-j", "rule", "show")
	if err != nil {
		return nil, err
	}
	var rs []ipRule
	if err := json.Unmarshal(out, &rs); err != nil {
		return nil, fmt.Errorf("ip -j rule in %s: %w", ns, err)
	}
	return rs, nil
}

// ruleOps makes the non-default rules exactly want (compared by ipRule.spec).
func ruleOps(have []ipRule, want []ipRule) []netOp {
	var ops []netOp
	haveSpecs := map[string]bool{}
	wantSpecs := map[string]bool{}
	for _, r := range want {
		wantSpecs[r.spec()] = true
	}
	for _, r := range have {
		if r.isDefault() {
			continue
		}
		haveSpecs[r.spec()] = true
		if !wantSpecs[r.spec()] {
			ops = append(ops, netOp{kind: opRuleDel, rule: r})
		}
	}
	for _, r := range want {
		if !haveSpecs[r.spec()] {
			ops = append(ops, netOp{kind: opRuleAdd, rule: r})
		}
	}
	return ops
}

type ipNextHop struct {
	Gateway string   `json:"gateway"`
	Dev     string   `json:"dev"`
	Flags   []string `json:"flags"`
}

type ipRoute struct {
	Type     string      `json:"type"`
	Dst      string      `json:"dst"`
	Gateway  string      `json:"gateway"`
	Dev      string      `json:"dev"`
	Table    string      `json:"table"`
	Protocol string      `json:"protocol"`
	Scope    string      `json:"scope"`
	PrefSrc  string      `json:"prefsrc"`
	Flags    []string    `json:"flags"`
	NextHops []ipNextHop `json:"nexthops"`
}

func (r ipRoute) table() string {
	if r.Table == "" {
		return "main"
	}
	return r.Table
}

func (r ipRoute) prefix() netip.Prefix {
	if r.Dst == "default" {
		return allIPv4
	}
	if p, err := netip.ParsePrefix(r.Dst); err == nil {
		return p
	}
	if a, err := netip.ParseAddr(r.Dst); err == nil {
		return netip.PrefixFrom(a, a.BitLen())
	}
	return netip.Prefix{}
}

// spec is the route as `ip route` arguments without the table, canonical: next hops
// sorted, kernel-maintained flags (linkdown ...) left out. devName maps device names for
// rendering (nil = as is).
func (r ipRoute) spec(devName func(string) string) string {
	if devName == nil {
		devName = func(s string) string { return s }
	}
	var b strings.Builder
	if r.Type != "" && r.Type != "unicast" {
		b.WriteString(r.Type + " ")
	}
	b.WriteString(r.prefix().String())
	hop := func(gw, dev string, flags []string) string {
		s := ""
		if gw != "" {
			s += " via " + gw
		}
		if dev != "" {
			s += " dev " + devName(dev)
		}
		if slices.Contains(flags, "onlink") {
			s += " onlink"
		}
		return s
	}
	if len(r.NextHops) > 0 {
		var hs []string
		for _, h := range r.NextHops {
			hs = append(hs, "nexthop"+hop(h.Gateway, h.Dev, h.Flags))
		}
		slices.Sort(hs)
		b.WriteString(" " + strings.Join(hs, " "))
	} else {
		b.WriteString(hop(r.Gateway, r.Dev, r.Flags))
	}
	if r.Protocol != "" && r.Protocol != "boot" {
		b.WriteString(" proto " + r.Protocol)
	}
	if r.Scope != "" && r.Scope != "universe" && r.Scope != "global" {
		b.WriteString(" scope " + r.Scope)
	}
	if r.PrefSrc != "" {
		b.WriteString(" src " + r.PrefSrc)
	}
	return b.String()
}

// routes lists IPv4 routes of all tables, by table name ("main", "101", ...), without the
// local table.
func routes(ctx context.Context, ns string) (map[string][]ipRoute, error) {
	out, err := nsutil.IPn(ctx, ns, "-4", "-j", "route", "show", "table", "all")
	if err != nil {
		return nil, err
	}
	var rs []ipRoute
	if err := json.Unmarshal(out, &rs); err != nil {
		return nil, fmt.Errorf("ip -j route in %s: %w", ns, err)
	}
	m := map[string][]ipRoute{}
	for _, r := range rs {
		if r.table() == "local" {
			continue
		}
		m[r.table()] = append(m[r.table()], r)
	}
	return m, nil
}

// wantRoute is a desired route: its canonical spec and the arguments installing it.
type wantRoute struct {
	dst  netip.Prefix
	typ  string // "" or "blackhole"
	hops []ipNextHop
	spec string // as ipRoute.spec(nil)
	args string // after "route replace <dst> table N"
}

func unicastRoute(dst netip.Prefix, hops []ipNextHop) wantRoute {
	r := ipRoute{Dst: dst.String()}
	if len(hops) == 1 {
		r.Gateway, r.Dev, r.Flags = hops[0].Gateway, hops[0].Dev, hops[0].Flags
		if r.Gateway == "" {
			r.Scope = "link" // as the kernel reports a route to a device, so it compares equal
		}
	} else {
		r.NextHops = hops
	}
	spec := r.spec(nil)
	return wantRoute{dst: dst, hops: hops, spec: spec, args: strings.TrimPrefix(spec, dst.String())}
}

func blackholeRoute(dst netip.Prefix) wantRoute {
	return wantRoute{dst: dst, typ: "blackhole", spec: "blackhole " + dst.String()}
}

// routeOps makes table exactly want: replace what differs, delete what is extra.
func routeOps(table string, have []ipRoute, want []wantRoute) []netOp {
	var ops []netOp
	haveSpec := map[netip.Prefix]string{}
	for _, r := range have {
		p := r.prefix()
		if !slices.ContainsFunc(want, func(w wantRoute) bool { return w.dst == p }) {
			ops = append(ops, netOp{kind: opRouteDel, table: table, route: wantRoute{dst: p, typ: r.Type}})
			continue
		}
		haveSpec[p] = r.spec(nil)
	}
	for _, w := range want {
		if haveSpec[w.dst] != w.spec {
			ops = append(ops, netOp{kind: opRouteReplace, table: table, route: w})
		}
	}
	return ops
}

// ipProxy is a proxy-ARP entry: the namespace answers ARP for Dst on Dev.
type ipProxy struct {
	Dst      string `json:"dst"`
	Dev      string `json:"dev"`
	Protocol string `json:"protocol"`
}

// proxyProtocol tags the proxy-ARP entries OpenCEN adds (the routing protocol number
// iproute2 calls "proto"), so that they are told apart from the operator's.
const proxyProtocol = 79

// ours: the entry was added by an OpenCEN driver.
func (p ipProxy) ours() bool { return p.Protocol == strconv.Itoa(proxyProtocol) }

func proxies(ctx context.Context, ns string) ([]ipProxy, error) {
	out, err := nsutil.IPn(ctx, ns, "-4", "-j", "neigh", "show", "proxy")
	if err != nil {
		return nil, err
	}
	var ps []ipProxy
	if err := json.Unmarshal(out, &ps); err != nil {
		return nil, fmt.Errorf("ip -j neigh show proxy in %s: %w", ns, err)
	}
	return ps, nil
}
