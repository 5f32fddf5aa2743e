package dataplane

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/strongswan/govici/vici"

	"opencen/internal/dataplane/nsutil"
)

// fakeOS is the operating system in memory, for the driver's state tests without root:
// namespaces with links, addresses, rules, routes, sysctls and an nft ruleset, and charons
// with their loaded connections. It behaves as the kernel does where the driver depends
// on it: a veth's two ends go together, a namespace takes its links (and their veth
// peers) with it, an address on an up link brings its connected route, routes through a
// link that goes away go with it, a charon brings its TUN device ipsec0. Everything the
// driver renders comes from here, so the same Render text is expected from the fake and
// from the real system (TestApplyStates checks a hand-written rendering on both).
type fakeOS struct {
	mu      sync.Mutex
	ns      map[string]*fakeNS // "" = the driver's own namespace
	charons map[string]*fakeCharon
	nextPID int
	// changes counts calls that change something (AddNamespace of an existing one and a
	// Change with no ops do not count).
	changes int
	// announced lists the gratuitous ARPs sent ("ns/link addr").
	announced []string
	// fail, when set, is consulted before every change ("Change ns", "AddVeth ns",
	// "StartCharon ns", ...); an error makes the call fail without changing anything.
	fail func(what string) error
}

type fakeNS struct {
	links   map[string]*fakeLink
	sysctls map[string]string
	rules   []ipRule
	routes  map[string][]ipRoute // by table; connected routes are derived
	nft     string
	meter   *meter // the meter table (nil: none)
	proxies []ipProxy
}

type fakeLink struct {
	ipLink
	rate   uint64 // tbf rate in kbit/s, 0: none
	addrs  []netip.Prefix
	peerNS string // veth: where the other end is
	peer   string
}

type fakeCharon struct {
	ns    string
	pid   int
	conf  string // its strongswan.conf
	conns map[string]charonConn
	// dpd is each connection's dpd_delay and dpd_timeout as charon's list-conns reports
	// them, from the load-conn message the driver built
	dpd         map[string][2]string
	sas         map[string][]saInfo
	initiations int
}

func newFakeOS() *fakeOS {
	f := &fakeOS{ns: map[string]*fakeNS{}, charons: map[string]*fakeCharon{}, nextPID: 1000}
	f.ns[""] = newFakeNS()
	return f
}

func newFakeNS() *fakeNS {
	n := &fakeNS{links: map[string]*fakeLink{}, sysctls: map[string]string{}, routes: map[string][]ipRoute{}}
	lo := &fakeLink{ipLink: ipLink{Name: "lo", MTU: 65536, LinkType: "loopback", Flags: []string{"LOOPBACK"}}}
	n.links["lo"] = lo
	return n
}

var _ netOS = (*fakeOS)(nil)
var _ procOS = (*fakeOS)(nil)

func (f *fakeOS) check(what string) error {
	if f.fail != nil {
		return f.fail(what)
	}
	return nil
}

func (f *fakeOS) get(ns string) (*fakeNS, error) {
	n, ok := f.ns[ns]
	if !ok {
		return nil, fmt.Errorf("netns %q: No such file or directory", ns)
	}
	return n, nil
}

func (f *fakeOS) Namespaces(context.Context) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for name := range f.ns {
		if name != "" {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (f *fakeOS) AddNamespace(_ context.Context, name string, sysctls []nsutil.Sysctl) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.ns[name]
	if !ok {
		if err := f.check("AddNamespace " + name); err != nil {
			return err
		}
		n = newFakeNS()
		f.ns[name] = n
		f.changes++
	}
	lo := n.links["lo"]
	if !lo.up() || !slices.Contains(lo.addrs, loopback) {
		lo.Flags = []string{"LOOPBACK", "UP"}
		if !slices.Contains(lo.addrs, loopback) {
			lo.addrs = append(lo.addrs, loopback)
		}
		f.changes++
	}
	for _, s := range sysctls {
		if n.sysctls[s.Key] != s.Value {
			n.sysctls[s.Key] = s.Value
			f.changes++
		}
	}
	return nil
}

func (f *fakeOS) DeleteNamespace(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.ns[name]
	if !ok {
		return nil
	}
	if err := f.check("DeleteNamespace " + name); err != nil {
		return err
	}
	for lname := range n.links {
		f.deleteLink(name, lname)
	}
	delete(f.ns, name)
	for dir, c := range f.charons {
		if c.ns == name {
			delete(f.charons, dir) // its processes die with the namespace's last user
		}
	}
	f.changes++
	return nil
}

// deleteLink removes a link, its veth peer, and routes through either.
func (f *fakeOS) deleteLink(ns, name string) {
	n := f.ns[ns]
	l, ok := n.links[name]
	if !ok {
		return
	}
	delete(n.links, name)
	n.dropRoutesVia(name)
	if l.peer != "" {
		if pn, ok := f.ns[l.peerNS]; ok {
			delete(pn.links, l.peer)
			pn.dropRoutesVia(l.peer)
		}
	}
}

func (n *fakeNS) dropRoutesVia(dev string) {
	n.proxies = slices.DeleteFunc(n.proxies, func(p ipProxy) bool { return p.Dev == dev })
	for t, rs := range n.routes {
		n.routes[t] = slices.DeleteFunc(rs, func(r ipRoute) bool {
			return r.Dev == dev || slices.ContainsFunc(r.NextHops, func(h ipNextHop) bool { return h.Dev == dev })
		})
	}
}

func (f *fakeOS) Links(_ context.Context, ns string) (map[string]ipLink, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.get(ns)
	if err != nil {
		return nil, err
	}
	out := map[string]ipLink{}
	for name, l := range n.links {
		il := l.ipLink
		il.Flags = slices.Clone(l.Flags)
		il.AddrInfo = nil
		for _, a := range l.addrs {
			il.AddrInfo = append(il.AddrInfo, struct {
				Family    string `json:"family"`
				Local     string `json:"local"`
				PrefixLen int    `json:"prefixlen"`
			}{"inet", a.Addr().String(), a.Bits()})
		}
		out[name] = il
	}
	return out, nil
}

var fakeDefaultRules = []ipRule{{Priority: 0, Src: "all", Table: "local"}, {Priority: 32766, Src: "all", Table: "main"}, {Priority: 32767, Src: "all", Table: "default"}}

func (f *fakeOS) Rules(_ context.Context, ns string) ([]ipRule, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.get(ns)
	if err != nil {
		return nil, err
	}
	out := append(slices.Clone(fakeDefaultRules), n.rules...)
	slices.SortStableFunc(out, func(a, b ipRule) int { return a.Priority - b.Priority })
	return out, nil
}

func (f *fakeOS) Routes(_ context.Context, ns string) (map[string][]ipRoute, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.get(ns)
	if err != nil {
		return nil, err
	}
	out := map[string][]ipRoute{}
	for t, rs := range n.routes {
		if len(rs) > 0 {
			out[t] = slices.Clone(rs)
		}
	}
	// Connected routes of up links (the local table is not listed).
	for _, name := range slices.Sorted(maps.Keys(n.links)) {
		l := n.links[name]
		if !l.up() || name == "lo" {
			continue
		}
		for _, a := range l.addrs {
			if a.Bits() < 32 {
				out["main"] = append(out["main"], ipRoute{Dst: a.Masked().String(), Dev: name, Protocol: "kernel", Scope: "link", PrefSrc: a.Addr().String()})
			}
		}
	}
	return out, nil
}

func (f *fakeOS) AddVeth(_ context.Context, nsA, a, nsB, b string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	na, err := f.get(nsA)
	if err != nil {
		return err
	}
	nb, err := f.get(nsB)
	if err != nil {
		return err
	}
	if _, ok := na.links[a]; ok {
		return fmt.Errorf("link %s exists in %q: File exists", a, nsA)
	}
	if _, ok := nb.links[b]; ok {
		return fmt.Errorf("link %s exists in %q: File exists", b, nsB)
	}
	if err := f.check("AddVeth " + nsA); err != nil {
		return err
	}
	mk := func(name, peerNS, peer string) *fakeLink {
		l := &fakeLink{ipLink: ipLink{Name: name, MTU: 1500, LinkType: "ether", Flags: []string{"BROADCAST", "MULTICAST"}}, peerNS: peerNS, peer: peer}
		l.Info.Kind = "veth"
		return l
	}
	na.links[a] = mk(a, nsB, b)
	nb.links[b] = mk(b, nsA, a)
	f.changes++
	return nil
}

func (f *fakeOS) AddVXLAN(_ context.Context, ns, name string, x VXLAN, into, as string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.get(ns)
	if err != nil {
		return err
	}
	dst, err := f.get(into)
	if err != nil {
		return err
	}
	under, ok := n.links[x.Underlay]
	if !ok {
		return fmt.Errorf("Cannot find device %q", x.Underlay)
	}
	if _, ok := dst.links[as]; ok {
		return fmt.Errorf("link %s exists in %q: File exists", as, into)
	}
	if _, ok := n.links[name]; ok { // made in ns first, as the kernel does
		return fmt.Errorf("link %s exists in %q: File exists", name, ns)
	}
	if err := f.check("AddVXLAN " + ns); err != nil {
		return err
	}
	// As the kernel: the MTU leaves room for the 50 bytes VXLAN adds on the underlay.
	l := &fakeLink{ipLink: ipLink{Name: as, MTU: under.MTU - 50, LinkType: "ether", Flags: []string{"BROADCAST", "MULTICAST"}, Address: x.MAC}}
	l.Info.Kind = "vxlan"
	dst.links[as] = l
	f.changes++
	return nil
}

func (f *fakeOS) DeleteLink(_ context.Context, ns, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.get(ns)
	if err != nil {
		return err
	}
	if _, ok := n.links[name]; !ok {
		return nil
	}
	if err := f.check("DeleteLink " + ns); err != nil {
		return err
	}
	f.deleteLink(ns, name)
	f.changes++
	return nil
}

// Change applies ops like `ip -force -batch`: each op on its own, failures reported.
func (f *fakeOS) Change(_ context.Context, ns string, ops []netOp) error {
	if len(ops) == 0 {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.get(ns)
	if err != nil {
		return err
	}
	if err := f.check("Change " + ns); err != nil {
		return err
	}
	f.changes++
	var errs []error
	for _, o := range ops {
		if err := n.apply(o); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", o.batchLine(), err))
		}
	}
	return errors.Join(errs...)
}

func (n *fakeNS) link(name string) (*fakeLink, error) {
	l, ok := n.links[name]
	if !ok {
		return nil, fmt.Errorf("Cannot find device %q", name)
	}
	return l, nil
}

func (n *fakeNS) apply(o netOp) error {
	switch o.kind {
	case opLinkSet:
		l, err := n.link(o.link)
		if err != nil {
			return err
		}
		if o.master != "" {
			if _, err := n.link(o.master); err != nil {
				return err
			}
			l.Master = o.master
		}
		if o.mtu != 0 {
			l.MTU = o.mtu
		}
		if o.alias != "" {
			l.Alias = o.alias
		}
		if o.up && !l.up() {
			l.Flags = append(l.Flags, "UP")
		}
	case opAddrAdd:
		l, err := n.link(o.link)
		if err != nil {
			return err
		}
		if slices.Contains(l.addrs, o.addr) {
			return errors.New("RTNETLINK answers: File exists")
		}
		l.addrs = append(l.addrs, o.addr)
		slices.SortFunc(l.addrs, comparePrefix)
	case opAddrDel:
		l, err := n.link(o.link)
		if err != nil {
			return err
		}
		i := slices.Index(l.addrs, o.addr)
		if i < 0 {
			return errors.New("RTNETLINK answers: Cannot assign requested address")
		}
		l.addrs = slices.Delete(l.addrs, i, i+1)
	case opRuleAdd:
		if slices.ContainsFunc(n.rules, func(r ipRule) bool { return r.spec() == o.rule.spec() }) {
			return errors.New("RTNETLINK answers: File exists")
		}
		n.rules = append(n.rules, o.rule)
	case opRuleDel:
		i := slices.IndexFunc(n.rules, func(r ipRule) bool { return r.spec() == o.rule.spec() })
		if i < 0 {
			return errors.New("RTNETLINK answers: No such file or directory")
		}
		n.rules = slices.Delete(n.rules, i, i+1)
	case opRouteReplace:
		r := ipRoute{Dst: o.route.dst.String()}
		if o.route.typ != "" {
			r.Type = o.route.typ
		}
		if o.table != "main" {
			r.Table = o.table
		}
		hops := o.route.hops
		for _, h := range hops {
			if _, err := n.link(h.Dev); err != nil {
				return err
			}
		}
		if len(hops) == 1 {
			r.Gateway, r.Dev, r.Flags = hops[0].Gateway, hops[0].Dev, slices.Clone(hops[0].Flags)
			if r.Gateway == "" {
				r.Scope = "link" // the kernel's scope for a route to a device
			}
		} else if len(hops) > 1 {
			r.NextHops = slices.Clone(hops)
		}
		rs := slices.DeleteFunc(n.routes[o.table], func(x ipRoute) bool { return x.prefix() == o.route.dst })
		n.routes[o.table] = append(rs, r)
	case opRouteDel:
		rs := n.routes[o.table]
		i := slices.IndexFunc(rs, func(x ipRoute) bool { return x.prefix() == o.route.dst })
		if i < 0 {
			return errors.New("RTNETLINK answers: No such process")
		}
		n.routes[o.table] = slices.Delete(rs, i, i+1)
	case opProxyReplace:
		if _, err := n.link(o.link); err != nil {
			return err
		}
		p := ipProxy{Dst: o.addr.Addr().String(), Dev: o.link, Protocol: fmt.Sprint(proxyProtocol)}
		n.proxies = append(slices.DeleteFunc(n.proxies, func(x ipProxy) bool { return x.Dst == p.Dst && x.Dev == p.Dev }), p)
	case opProxyDel:
		i := slices.IndexFunc(n.proxies, func(x ipProxy) bool { return x.Dst == o.addr.Addr().String() && x.Dev == o.link })
		if i < 0 {
			return errors.New("RTNETLINK answers: No such file or directory")
		}
		n.proxies = slices.Delete(n.proxies, i, i+1)
	default:
		return fmt.Errorf("unknown op %d", o.kind)
	}
	return nil
}

func (f *fakeOS) Proxies(_ context.Context, ns string) ([]ipProxy, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.get(ns)
	if err != nil {
		return nil, err
	}
	return slices.Clone(n.proxies), nil
}

func (f *fakeOS) Sysctl(_ context.Context, ns, key string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.get(ns)
	if err != nil {
		return "", err
	}
	if v, ok := n.sysctls[key]; ok {
		return v, nil
	}
	if dev, ok := strings.CutPrefix(key, "ipv4/conf/"); ok {
		if name, _, _ := strings.Cut(dev, "/"); name != "all" && name != "default" && n.links[name] == nil {
			return "", fmt.Errorf("sysctl %s: no such file", key)
		}
	}
	return "0", nil
}

func (f *fakeOS) SetSysctls(_ context.Context, ns string, sysctls []nsutil.Sysctl) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.get(ns)
	if err != nil {
		return err
	}
	for _, s := range sysctls {
		if n.sysctls[s.Key] != s.Value {
			if err := f.check("SetSysctls " + ns); err != nil {
				return err
			}
			n.sysctls[s.Key] = s.Value
			f.changes++
		}
	}
	return nil
}

func (f *fakeOS) Announce(_ context.Context, ns, link string, addr netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.announced = append(f.announced, ns+"/"+link+" "+addr.String())
	return nil
}

func (f *fakeOS) Rate(_ context.Context, ns, link string) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.get(ns)
	if err != nil {
		return 0, err
	}
	l, ok := n.links[link]
	if !ok {
		return 0, fmt.Errorf("Cannot find device %q", link)
	}
	return l.rate, nil
}

func (f *fakeOS) SetRate(_ context.Context, ns, link string, kbit uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.get(ns)
	if err != nil {
		return err
	}
	l, ok := n.links[link]
	if !ok {
		return fmt.Errorf("Cannot find device %q", link)
	}
	if err := f.check("SetRate " + ns); err != nil {
		return err
	}
	if l.rate != kbit {
		l.rate = kbit
		f.changes++
	}
	return nil
}

func (f *fakeOS) SetNFT(_ context.Context, ns, ruleset string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.get(ns)
	if err != nil {
		return err
	}
	if err := f.check("SetNFT " + ns); err != nil {
		return err
	}
	n.nft = strings.TrimSpace(ruleset)
	f.changes++
	return nil
}

func (f *fakeOS) NFT(_ context.Context, ns string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.get(ns)
	if err != nil {
		return "", err
	}
	return n.nft, nil
}

func (f *fakeOS) Meter(_ context.Context, ns string) (meter, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.get(ns)
	if err != nil {
		return meter{}, false, err
	}
	if n.meter == nil {
		return meter{}, false, errNoMeter
	}
	return meter{Epoch: n.meter.Epoch, Atts: maps.Clone(n.meter.Atts), Links: maps.Clone(n.meter.Links)}, true, nil
}

func (f *fakeOS) SetMeter(_ context.Context, ns string, want map[string]string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.get(ns)
	if err != nil {
		return err
	}
	if err := f.check("SetMeter " + ns); err != nil {
		return err
	}
	if n.meter == nil {
		n.meter = &meter{Epoch: newEpoch(), Atts: map[string]LinkCounters{}, Links: map[string]string{}}
		f.changes++
	}
	atts := map[string]bool{}
	for _, a := range want {
		atts[a] = true
		if _, ok := n.meter.Atts[a]; !ok {
			n.meter.Atts[a] = LinkCounters{}
			f.changes++
		}
	}
	for a := range n.meter.Atts {
		if !atts[a] {
			delete(n.meter.Atts, a)
			f.changes++
		}
	}
	if !maps.Equal(n.meter.Links, want) {
		n.meter.Links = maps.Clone(want)
		f.changes++
	}
	return nil
}

// traffic counts packets through link of namespace ns, as the kernel's nft would: only
// when the link exists and the meter maps it.
func (f *fakeOS) traffic(ns, link string, in, out Counter) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.ns[ns]
	if !ok || n.meter == nil || n.links[link] == nil {
		return
	}
	att, ok := n.meter.Links[link]
	if !ok {
		return
	}
	c := n.meter.Atts[att]
	c.In.Packets, c.In.Bytes = c.In.Packets+in.Packets, c.In.Bytes+in.Bytes
	c.Out.Packets, c.Out.Bytes = c.Out.Packets+out.Packets, c.Out.Bytes+out.Bytes
	n.meter.Atts[att] = c
}

// ---------------------------------------------------------------- processes

func (f *fakeOS) StartCharon(_ context.Context, ch nsutil.Charon, conf string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.get(ch.Netns)
	if err != nil {
		return err
	}
	if err := f.check("StartCharon " + ch.Netns); err != nil {
		return err
	}
	f.nextPID++
	f.charons[ch.Dir] = &fakeCharon{ns: ch.Netns, pid: f.nextPID, conf: conf, conns: map[string]charonConn{}, dpd: map[string][2]string{}, sas: map[string][]saInfo{}}
	if _, ok := n.links["ipsec0"]; !ok {
		l := &fakeLink{ipLink: ipLink{Name: "ipsec0", MTU: 1400, LinkType: "none", Flags: []string{"POINTOPOINT", "MULTICAST", "NOARP", "UP"}}}
		l.Info.Kind = "tun"
		n.links["ipsec0"] = l
	}
	f.changes++
	return nil
}

func (f *fakeOS) charon(ch nsutil.Charon) *fakeCharon {
	c, ok := f.charons[ch.Dir]
	if !ok || c.ns != ch.Netns {
		return nil
	}
	return c
}

func (f *fakeOS) CharonPID(ch nsutil.Charon) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.charon(ch); c != nil {
		return c.pid
	}
	return 0
}

func (f *fakeOS) CharonConf(ch nsutil.Charon) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.charon(ch); c != nil {
		return c.conf, nil
	}
	return "", fmt.Errorf("open %s: no such file or directory", ch.ConfFile())
}

// kill stops a charon as SIGKILL would: its TUN device goes with it.
func (f *fakeOS) kill(dir string) {
	c, ok := f.charons[dir]
	if !ok {
		return
	}
	delete(f.charons, dir)
	if n, ok := f.ns[c.ns]; ok {
		delete(n.links, "ipsec0")
		n.dropRoutesVia("ipsec0")
	}
}

func (f *fakeOS) StopCells(_ context.Context, dirs, namespaces []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, dir := range dirs {
		if _, ok := f.charons[dir]; ok {
			f.kill(dir)
			f.changes++
		}
	}
	for dir, c := range f.charons {
		if slices.Contains(namespaces, c.ns) {
			f.kill(dir)
			f.changes++
		}
	}
	return nil
}

func (f *fakeOS) IKE(_ context.Context, ch nsutil.Charon) (ikeSession, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.charon(ch) == nil {
		return nil, fmt.Errorf("vici %s: dial unix: connect: connection refused", ch.Socket())
	}
	return &fakeSession{f: f, ch: ch}, nil
}

func (f *fakeOS) WaitPacket(ctx context.Context, _, _ string) error {
	<-ctx.Done()
	return ctx.Err()
}

// fakeSession is a VICI session with a fake charon.
type fakeSession struct {
	f  *fakeOS
	ch nsutil.Charon
}

func (s *fakeSession) with(fn func(c *fakeCharon) error) error {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	c := s.f.charon(s.ch)
	if c == nil {
		return errors.New("vici: connection closed (charon is gone)")
	}
	return fn(c)
}

func (s *fakeSession) LoadConn(_ context.Context, cell Cell, dpdDelay time.Duration) error {
	conn := charonConnOf(cell)
	m, err := conn.loadMessage(dpdDelay)
	if err != nil {
		return err
	}
	lc, ok := m.Get(conn.Name).(*vici.Message)
	if !ok {
		return fmt.Errorf("load-conn message without connection %s", conn.Name)
	}
	var dpd [2]string
	for i, k := range []string{"dpd_delay", "dpd_timeout"} {
		if v := str(lc, k); v != "" {
			t, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("load-conn %s: %w", k, err)
			}
			if t > 0 { // charon reports whole seconds, and nothing for 0
				dpd[i] = strconv.Itoa(int(t / time.Second))
			}
		}
	}
	return s.with(func(c *fakeCharon) error {
		if err := s.f.check("LoadConn " + s.ch.Netns); err != nil {
			return err
		}
		c.conns[cell.ID()] = conn
		c.dpd[cell.ID()] = dpd
		s.f.changes++
		return nil
	})
}

func (s *fakeSession) UnloadConn(_ context.Context, name string) error {
	return s.with(func(c *fakeCharon) error {
		if _, ok := c.conns[name]; ok {
			delete(c.conns, name)
			delete(c.dpd, name)
			s.f.changes++
		}
		return nil
	})
}

func (s *fakeSession) Conns(context.Context) (map[string]loadedConn, error) {
	out := map[string]loadedConn{}
	err := s.with(func(c *fakeCharon) error {
		for name, conn := range c.conns {
			lc := loadedConn{Version: fmt.Sprintf("IKEv%d", conn.Version), LocalAddrs: []string{conn.Local}, RemoteAddrs: []string{conn.Remote},
				DPDDelay: c.dpd[name][0], DPDTimeout: c.dpd[name][1]}
			for _, ch := range conn.Children {
				lc.Children = append(lc.Children, loadedChild{Name: ch.Name, LocalTS: prefixStrings(ch.Cloud), RemoteTS: prefixStrings(ch.Customer)})
			}
			out[name] = lc
		}
		return nil
	})
	return out, err
}

func (s *fakeSession) SAs(_ context.Context, name string) ([]saInfo, error) {
	var out []saInfo
	err := s.with(func(c *fakeCharon) error {
		out = slices.Clone(c.sas[name])
		return nil
	})
	return out, err
}

// Initiate fails at once: there is no peer in the fake world.
func (s *fakeSession) Initiate(context.Context, string, time.Duration) error {
	return s.with(func(c *fakeCharon) error {
		c.initiations++
		return errors.New("establishing CHILD_SA failed (fake: no peer)")
	})
}

func (s *fakeSession) Terminate(_ context.Context, name string) error {
	return s.with(func(c *fakeCharon) error {
		delete(c.sas, name)
		return nil
	})
}

func (s *fakeSession) TerminateIKE(_ context.Context, id int) error {
	return s.with(func(c *fakeCharon) error {
		for name, sas := range c.sas {
			c.sas[name] = slices.DeleteFunc(sas, func(sa saInfo) bool { return sa.ID == id })
		}
		return nil
	})
}

func (s *fakeSession) Close() error { return nil }

// charonDir is the fake's key for a cell's charon.
func charonDir(d *Netns, id string) string { return filepath.Join(d.opts.RunDir, d.CellNetns(id)) }
