package dataplane

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"opencen/internal/dataplane/nsutil"
)

// Render describes, as deterministic text, everything the driver created: its router and
// cell namespaces (links with kind, MTU, state and addresses; sysctls; rules; routes per
// table; nft rules; charon and its loaded connections) and its links in other namespaces
// (WAN bridge, VPCs). Names are shown without the prefix, router-side links by their
// attachment ID. Left out because they change on their own: MAC addresses, ifindexes,
// PIDs, SAs, and charon's table 220 with its rule (installed while an SA is up).
func (d *Netns) Render(ctx context.Context) (string, error) {
	var b strings.Builder
	nss, err := d.net.Namespaces(ctx)
	if err != nil {
		return "", err
	}
	var mine, foreign []string
	for _, ns := range nss {
		if strings.HasPrefix(ns, d.routerPrefix()) || strings.HasPrefix(ns, d.cellPrefix()) {
			mine = append(mine, ns)
		} else {
			foreign = append(foreign, ns)
		}
	}
	for _, ns := range mine {
		if err := d.renderNetns(ctx, &b, ns); err != nil {
			return "", err
		}
	}
	nsNames := append([]string{""}, foreign...)
	for _, ns := range nsNames {
		ls, err := d.net.Links(ctx, ns)
		if err != nil {
			continue // namespace of someone else, going away
		}
		var names []string
		for name := range ls {
			if strings.HasPrefix(name, d.opts.Prefix+"w") || strings.HasPrefix(name, d.opts.Prefix+"v") || strings.HasPrefix(name, d.opts.Prefix+"a") {
				names = append(names, name)
			}
		}
		if len(names) == 0 {
			continue
		}
		display := strings.TrimPrefix(ns, d.opts.Prefix)
		if ns == "" {
			display = "(host)"
		}
		fmt.Fprintf(&b, "netns %s (other)\n", display)
		dev := d.devNamer(ls)
		slices.SortFunc(names, func(a, b string) int { return strings.Compare(dev(a), dev(b)) })
		for _, name := range names {
			b.WriteString("  " + d.renderLink(ls[name], dev) + "\n")
		}
		rs, err := d.net.Routes(ctx, ns)
		if err == nil {
			var lines []string
			for _, r := range rs["main"] {
				if slices.Contains(names, r.Dev) {
					lines = append(lines, "    "+r.spec(dev))
				}
			}
			if len(lines) > 0 {
				slices.Sort(lines)
				b.WriteString("  table main (via these links):\n" + strings.Join(lines, "\n") + "\n")
			}
			// A routed uplink's proxy-ARP entries for the gateway IPs routed here.
			ps, err := d.net.Proxies(ctx, ns)
			if err == nil {
				var lines []string
				for _, p := range ps {
					a, err := netip.ParseAddr(p.Dst)
					if err == nil && p.ours() && slices.ContainsFunc(rs["main"], func(r ipRoute) bool {
						return slices.Contains(names, r.Dev) && r.prefix() == netip.PrefixFrom(a, 32)
					}) {
						lines = append(lines, fmt.Sprintf("  proxy-arp %s dev %s", p.Dst, p.Dev))
					}
				}
				slices.Sort(lines)
				for _, l := range lines {
					b.WriteString(l + "\n")
				}
			}
		}
	}
	return b.String(), nil
}

// devNamer shows a link by its alias (attachment ID, cell ID) if it has one, else by its
// name without the prefix.
func (d *Netns) devNamer(ls map[string]ipLink) func(string) string {
	return func(name string) string {
		if l, ok := ls[name]; ok && l.Alias != "" && strings.HasPrefix(name, d.opts.Prefix) {
			id, _, _ := strings.Cut(l.Alias, " ") // a VXLAN's alias goes on with its spec
			return id
		}
		return strings.TrimPrefix(name, d.opts.Prefix)
	}
}

func (d *Netns) renderLink(l ipLink, dev func(string) string) string {
	kind := l.Info.Kind
	if kind == "" {
		kind = l.LinkType
	}
	state := "down"
	if l.up() {
		state = "up"
	}
	s := fmt.Sprintf("link %s %s mtu %d %s", dev(l.Name), kind, l.MTU, state)
	if _, spec, ok := strings.Cut(l.Alias, " "); ok && kind == "vxlan" {
		s += " (" + spec + ")"
	}
	if l.Master != "" {
		s += " master " + dev(l.Master)
	}
	for _, a := range l.addrs() {
		s += " " + a.String()
	}
	return s
}

func (d *Netns) renderNetns(ctx context.Context, b *strings.Builder, ns string) error {
	isCell := strings.HasPrefix(ns, d.cellPrefix())
	fmt.Fprintf(b, "netns %s\n", strings.TrimPrefix(ns, d.opts.Prefix))
	ls, err := d.net.Links(ctx, ns)
	if err != nil {
		return err
	}
	dev := d.devNamer(ls)
	names := slices.Sorted(mapKeys(ls))
	slices.SortFunc(names, func(a, b string) int { return strings.Compare(dev(a), dev(b)) })
	for _, name := range names {
		l := ls[name]
		if name == "lo" && len(l.addrs()) <= 1 && l.up() {
			continue
		}
		line := d.renderLink(l, dev)
		if !isCell && (l.Info.Kind == "veth" || l.Info.Kind == "vxlan") && strings.HasPrefix(name, d.opts.Prefix+"a") {
			// An inter-region link's bandwidth.
			if kbit, err := d.net.Rate(ctx, ns, name); err == nil && kbit > 0 {
				line += fmt.Sprintf(" rate %dkbit", kbit)
			}
		}
		if isCell && name == d.cellRtr() {
			if v, err := d.net.Sysctl(ctx, ns, "ipv4/conf/"+name+"/proxy_arp"); err == nil {
				line += " proxy_arp=" + v
			}
		}
		b.WriteString("  " + line + "\n")
	}
	if v, err := d.net.Sysctl(ctx, ns, "ipv4/ip_forward"); err == nil {
		b.WriteString("  sysctl ip_forward=" + v + "\n")
	}
	rs, err := d.net.Rules(ctx, ns)
	if err != nil {
		return err
	}
	slices.SortStableFunc(rs, func(a, b ipRule) int { return a.Priority - b.Priority })
	var ruleLines []string
	for _, r := range rs {
		if r.isDefault() || (isCell && charonRule(r)) {
			continue
		}
		r.Iif = dev(r.Iif)
		ruleLines = append(ruleLines, "  rule "+r.spec()+"\n")
	}
	slices.SortStableFunc(ruleLines, func(a, b string) int {
		// by priority (numerically), then by text
		pa, pb := strings.Fields(a)[2], strings.Fields(b)[2]
		na, _ := strconv.Atoi(pa)
		nb, _ := strconv.Atoi(pb)
		if na != nb {
			return na - nb
		}
		return strings.Compare(a, b)
	})
	for _, l := range ruleLines {
		b.WriteString(l)
	}
	tables, err := d.net.Routes(ctx, ns)
	if err != nil {
		return err
	}
	names = slices.Collect(mapKeys(tables))
	slices.SortFunc(names, func(a, b string) int {
		na, ea := strconv.Atoi(a)
		nb, eb := strconv.Atoi(b)
		switch {
		case ea == nil && eb == nil:
			return na - nb
		case ea == nil:
			return -1
		case eb == nil:
			return 1
		}
		return strings.Compare(a, b)
	})
	for _, t := range names {
		if isCell && t == "220" {
			continue
		}
		var lines []string
		for _, r := range tables[t] {
			lines = append(lines, "    "+r.spec(dev))
		}
		slices.Sort(lines)
		fmt.Fprintf(b, "  table %s:\n%s\n", t, strings.Join(lines, "\n"))
	}
	// The meter's counters change with every packet: not part of the rendered state.
	if out, err := d.net.NFT(ctx, ns); err == nil && withoutTable(out, meterTable) != "" {
		out = withoutTable(out, meterTable)
		b.WriteString("  nft:\n")
		for _, line := range strings.Split(out, "\n") {
			if strings.TrimSpace(line) != "" {
				b.WriteString("    " + strings.TrimSpace(strings.NewReplacer(d.cellRtr(), "rtr", d.cellWAN(), "wan", d.nftTable(), "cell").Replace(line)) + "\n")
			}
		}
	}
	if isCell {
		d.renderCharon(ctx, b, ns)
	}
	return nil
}

func (d *Netns) renderCharon(ctx context.Context, b *strings.Builder, ns string) {
	ch := nsutil.Charon{Netns: ns, Dir: filepath.Join(d.opts.RunDir, ns)}
	if d.proc.CharonPID(ch) == 0 {
		b.WriteString("  charon: not running\n")
		return
	}
	line := "  charon: running"
	if conf, err := d.proc.CharonConf(ch); err == nil && fastRetransmitIn(conf) {
		line += " (" + fastRetransmitSummary + ")"
	}
	b.WriteString(line + "\n")
	if rec, ok := readRecord(ch.Dir); ok {
		b.WriteString("    config " + rec.Summary + "\n")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := d.withIKE(ctx, ch, func(s ikeSession) error {
		conns, err := s.Conns(ctx)
		if err != nil {
			b.WriteString("    list-conns: " + err.Error() + "\n")
			return nil
		}
		for _, name := range slices.Sorted(mapKeys(conns)) {
			c := conns[name]
			fmt.Fprintf(b, "    conn %s: %s %s -> %s", name, c.Version, strings.Join(c.LocalAddrs, ","), strings.Join(c.RemoteAddrs, ","))
			// DPD timing other than the driver's (FastDPD's), which the summary's dpd=true
			// does not tell
			if (c.DPDDelay != "" && c.DPDDelay != strconv.Itoa(int(d.opts.DPDDelay/time.Second))) || c.DPDTimeout != "" {
				fmt.Fprintf(b, " dpd %ss", c.DPDDelay)
				if c.DPDTimeout != "" {
					fmt.Fprintf(b, " timeout %ss", c.DPDTimeout)
				}
			}
			children := slices.Clone(c.Children)
			slices.SortFunc(children, func(x, y loadedChild) int { return strings.Compare(x.Name, y.Name) })
			for _, ch := range children {
				fmt.Fprintf(b, "; child %s %s === %s", ch.Name, strings.Join(ch.LocalTS, ","), strings.Join(ch.RemoteTS, ","))
			}
			b.WriteString("\n")
		}
		return nil
	})
	if err != nil {
		b.WriteString("    vici: " + err.Error() + "\n")
	}
}

// withoutTable removes table name (any family) from an `nft list ruleset` listing.
func withoutTable(listing, name string) string {
	var keep []string
	skipping := false
	for _, line := range strings.Split(listing, "\n") {
		f := strings.Fields(line)
		switch {
		case !skipping && len(f) == 4 && f[0] == "table" && f[2] == name && f[3] == "{":
			skipping = true
		case skipping:
			skipping = line != "}"
		default:
			keep = append(keep, line)
		}
	}
	return strings.TrimSpace(strings.Join(keep, "\n"))
}
