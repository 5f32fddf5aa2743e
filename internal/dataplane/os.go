package dataplane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"opencen/internal/dataplane/nsutil"
)

// The netns driver reaches the operating system only through these interfaces: hostOS is
// the real one (iproute2, nft, setns, charon over VICI); the tests' fake keeps the same
// state in memory and renders it as text, so the driver's transitions are tested without
// root, next to the real-kernel tests that use hostOS.

// netOS is the network configuration the driver reads and changes: named namespaces, and
// inside one (ns "" = the driver's own) links with their addresses, rules, routes,
// sysctls and an nftables ruleset.
type netOS interface {
	Namespaces(ctx context.Context) ([]string, error)
	// AddNamespace creates the namespace if missing, with lo up, IPv6 off and the sysctls.
	AddNamespace(ctx context.Context, name string, sysctls []nsutil.Sysctl) error
	// DeleteNamespace deletes it with its links (a missing one is fine).
	DeleteNamespace(ctx context.Context, name string) error
	Links(ctx context.Context, ns string) (map[string]ipLink, error)
	Rules(ctx context.Context, ns string) ([]ipRule, error)
	// Routes are the IPv4 routes of every table but local, by table name.
	Routes(ctx context.Context, ns string) (map[string][]ipRoute, error)
	// AddVeth creates a veth pair: a in nsA, b in nsB.
	AddVeth(ctx context.Context, nsA, a, nsB, b string) error
	// AddVXLAN creates the vxlan device name for x on x.Underlay in ns (its UDP socket
	// lives there) and moves it into the namespace into, renamed as (when as is not
	// name), with x's flooding entries. Cells make their link under a name of their own
	// and rename it, so that cells made side by side do not meet on the underlay.
	AddVXLAN(ctx context.Context, ns, name string, x VXLAN, into, as string) error
	// DeleteLink deletes a link (and a veth's other end); a missing one is fine.
	DeleteLink(ctx context.Context, ns, name string) error
	// Change applies ops in order; a failing op does not stop the others, and the error
	// reports the failures.
	Change(ctx context.Context, ns string, ops []netOp) error
	Sysctl(ctx context.Context, ns, key string) (string, error)
	SetSysctls(ctx context.Context, ns string, sysctls []nsutil.Sysctl) error
	// Announce broadcasts that addr is on link (gratuitous ARP): after a gateway IP comes
	// up on a new link (a cell rebuilt, moved from another node), neighbours learn at once.
	Announce(ctx context.Context, ns, link string, addr netip.Addr) error
	// Proxies are the namespace's proxy-ARP entries (`ip neigh show proxy`).
	Proxies(ctx context.Context, ns string) ([]ipProxy, error)
	// SetNFT replaces the namespace's whole nftables ruleset atomically.
	SetNFT(ctx context.Context, ns, ruleset string) error
	NFT(ctx context.Context, ns string) (string, error)
	// Rate is a link's egress rate limit (a root token bucket qdisc) in kbit/s, 0 for
	// none; SetRate sets it (0 removes it).
	Rate(ctx context.Context, ns, link string) (uint64, error)
	SetRate(ctx context.Context, ns, link string, kbit uint64) error
	// Meter reads the namespace's traffic meter (see meter.go); errNoMeter when it has
	// none, ok false when the table is damaged.
	Meter(ctx context.Context, ns string) (m meter, ok bool, err error)
	// SetMeter makes the namespace's meter count exactly the attachments of want (link
	// name -> attachment ID): created with a new epoch when missing or damaged, otherwise
	// changed without resetting the counts of attachments that stay.
	SetMeter(ctx context.Context, ns string, want map[string]string) error
}

// procOS runs the cells' charons and what else lives in their namespaces.
type procOS interface {
	// StartCharon starts a charon for ch (conf is its strongswan.conf) and returns once its
	// VICI socket answers.
	StartCharon(ctx context.Context, ch nsutil.Charon, conf string) error
	// CharonPID is the pid of ch's running charon, 0 if none.
	CharonPID(ch nsutil.Charon) int
	// CharonConf is the strongswan.conf ch's charon was last started with.
	CharonConf(ch nsutil.Charon) (string, error)
	// StopCells stops, before their namespaces go, the charons of the run directories
	// dirs (by their pid files, also when the namespace is gone already) and every other
	// process in namespaces.
	StopCells(ctx context.Context, dirs, namespaces []string) error
	// IKE opens a control session with ch's charon.
	IKE(ctx context.Context, ch nsutil.Charon) (ikeSession, error)
	// WaitPacket returns when an IPv4 packet arrives on link in ns (on-demand start), or
	// with ctx's error.
	WaitPacket(ctx context.Context, ns, link string) error
}

// ikeSession is one conversation with a charon (VICI).
type ikeSession interface {
	// LoadConn loads the cell's pre-shared key and connection (replacing older versions).
	LoadConn(ctx context.Context, c Cell, dpdDelay time.Duration) error
	UnloadConn(ctx context.Context, name string) error
	Conns(ctx context.Context) (map[string]loadedConn, error)
	SAs(ctx context.Context, name string) ([]saInfo, error)
	// Initiate starts a child SA (and its IKE SA if needed), waiting up to timeout.
	Initiate(ctx context.Context, child string, timeout time.Duration) error
	// Terminate deletes the IKE SAs of connection name at once (no SA is fine).
	Terminate(ctx context.Context, name string) error
	// TerminateIKE deletes one IKE SA by its unique id at once.
	TerminateIKE(ctx context.Context, id int) error
	Close() error
}

// loadedConn is a connection as charon has it loaded.
type loadedConn struct {
	Version                 string
	LocalAddrs, RemoteAddrs []string
	// DPDDelay and DPDTimeout are in seconds, as charon reports them ("" = 0: none).
	DPDDelay, DPDTimeout string
	Children             []loadedChild
}

type loadedChild struct {
	Name              string
	LocalTS, RemoteTS []string
}

// opKind says what a netOp does.
type opKind int

const (
	opLinkSet opKind = iota + 1
	opAddrAdd
	opAddrDel
	opRuleAdd
	opRuleDel
	opRouteReplace
	opRouteDel
	opProxyReplace
	opProxyDel
)

// netOp is one change inside a namespace, as `ip -batch` takes it.
type netOp struct {
	kind opKind
	// link set
	link   string
	mtu    int
	alias  string
	master string
	up     bool
	// addresses (on link)
	addr netip.Prefix
	// rules
	rule ipRule
	// routes (route del uses route.dst and route.typ)
	table string
	route wantRoute
}

// batchLine is the op as an `ip -batch` line.
func (o netOp) batchLine() string {
	switch o.kind {
	case opLinkSet:
		s := "link set " + o.link
		if o.mtu != 0 {
			s += fmt.Sprintf(" mtu %d", o.mtu)
		}
		if o.alias != "" {
			s += ` alias "` + o.alias + `"` // ip -batch reads a quoted word as one argument
		}
		if o.master != "" {
			s += " master " + o.master
		}
		if o.up {
			s += " up"
		}
		return s
	case opAddrAdd:
		return fmt.Sprintf("addr add %s dev %s", o.addr, o.link)
	case opAddrDel:
		return fmt.Sprintf("addr del %s dev %s", o.addr, o.link)
	case opRuleAdd:
		return "rule add " + o.rule.spec()
	case opRuleDel:
		return "rule del " + o.rule.spec()
	case opRouteReplace:
		return fmt.Sprintf("route replace %s%s table %s%s", typePrefix(o.route.typ), o.route.dst, o.table, o.route.args)
	case opRouteDel:
		return fmt.Sprintf("route del %s%s table %s", typePrefix(o.route.typ), o.route.dst, o.table)
	case opProxyReplace:
		return fmt.Sprintf("neigh replace proxy %s dev %s protocol %d", o.addr.Addr(), o.link, proxyProtocol)
	case opProxyDel:
		return fmt.Sprintf("neigh del proxy %s dev %s", o.addr.Addr(), o.link)
	}
	return ""
}

func typePrefix(typ string) string {
	if typ == "" || typ == "unicast" {
		return ""
	}
	return typ + " "
}

func batchLines(ops []netOp) []string {
	lines := make([]string, len(ops))
	for i, o := range ops {
		lines[i] = o.batchLine()
	}
	return lines
}

// hostOS is the real operating system.
type hostOS struct{}

var _ netOS = hostOS{}
var _ procOS = hostOS{}

func (hostOS) Namespaces(context.Context) ([]string, error) { return nsutil.ListNetns("") }

func (hostOS) AddNamespace(ctx context.Context, name string, sysctls []nsutil.Sysctl) error {
	return nsutil.AddNetns(ctx, name, sysctls...)
}

func (hostOS) DeleteNamespace(ctx context.Context, name string) error {
	if !nsutil.NetnsExists(name) {
		return nil
	}
	// Veths first: deleting a veth removes both ends at once, while the ends in other
	// namespaces of a deleted namespace's veths linger for a moment (namespace teardown is
	// asynchronous).
	ls, err := hostOS{}.Links(ctx, name)
	if err != nil {
		return err
	}
	for lname, l := range ls {
		if l.Info.Kind == "veth" {
			if err := (hostOS{}).DeleteLink(ctx, name, lname); err != nil {
				return err
			}
		}
	}
	return nsutil.DelNetns(ctx, name)
}

func (hostOS) Links(ctx context.Context, ns string) (map[string]ipLink, error) { return links(ctx, ns) }
func (hostOS) Rules(ctx context.Context, ns string) ([]ipRule, error)          { return rules(ctx, ns) }
func (hostOS) Routes(ctx context.Context, ns string) (map[string][]ipRoute, error) {
	return routes(ctx, ns)
}

func (hostOS) AddVeth(ctx context.Context, nsA, a, nsB, b string) error {
	args := []string{"link", "add", a, "netns", nsA, "type", "veth", "peer", "name", b}
	if nsB != "" {
		args = append(args, "netns", nsB)
	}
	_, err := nsutil.IP(ctx, args...)
	return err
}

func (hostOS) AddVXLAN(ctx context.Context, ns, name string, x VXLAN, into, as string) error {
	args := []string{"link", "add", name}
	if x.MAC != "" {
		args = append(args, "address", x.MAC)
	}
	args = append(args, "type", "vxlan", "id", strconv.FormatUint(uint64(x.VNI), 10),
		"dev", x.Underlay, "dstport", strconv.Itoa(int(x.Port)))
	if x.Group.IsValid() {
		args = append(args, "group", x.Group.String())
	}
	if _, err := nsutil.IPn(ctx, ns, args...); err != nil {
		return err
	}
	undo := context.WithoutCancel(ctx) // a cancelled call still removes what it made
	if _, err := nsutil.IPn(ctx, ns, "link", "set", name, "netns", into); err != nil {
		_, _ = nsutil.IPn(undo, ns, "link", "del", name)
		return err
	}
	if as != name {
		if _, err := nsutil.IPn(ctx, into, "link", "set", name, "name", as); err != nil {
			_, _ = nsutil.IPn(undo, into, "link", "del", name)
			return err
		}
		name = as
	}
	// Head-end replication: broadcast and unknown unicast go to every remote; the
	// device learns the hosts behind each remote from what comes back.
	for _, r := range x.Remotes {
		if _, err := nsutil.Exec(ctx, into, "bridge", "fdb", "append", "00:00:00:00:00:00", "dev", name, "dst", r.String()); err != nil {
			_, _ = nsutil.IPn(undo, into, "link", "del", name)
			return err
		}
	}
	return nil
}

func (hostOS) DeleteLink(ctx context.Context, ns, name string) error {
	if _, err := nsutil.IPn(ctx, ns, "link", "del", name); err != nil && !nsutil.IsNotExist(err) {
		return err
	}
	return nil
}

func (hostOS) Change(ctx context.Context, ns string, ops []netOp) error {
	return nsutil.IPBatch(ctx, ns, batchLines(ops))
}

func (hostOS) Proxies(ctx context.Context, ns string) ([]ipProxy, error) { return proxies(ctx, ns) }

func (hostOS) Sysctl(_ context.Context, ns, key string) (string, error) {
	return nsutil.GetSysctl(ns, key)
}

func (hostOS) SetSysctls(_ context.Context, ns string, sysctls []nsutil.Sysctl) error {
	return nsutil.SetSysctls(ns, sysctls...)
}

func (hostOS) Announce(_ context.Context, ns, link string, addr netip.Addr) error {
	return nsutil.GratuitousARP(ns, link, addr)
}

func (hostOS) SetNFT(ctx context.Context, ns, ruleset string) error {
	return nsutil.NFT(ctx, ns, "flush ruleset\n"+ruleset)
}

func (hostOS) NFT(ctx context.Context, ns string) (string, error) {
	out, err := nsutil.Exec(ctx, ns, "nft", "list", "ruleset")
	return strings.TrimSpace(string(out)), err
}

// Rate reads the root qdisc of a link: a token bucket filter's rate, else no limit.
func (hostOS) Rate(ctx context.Context, ns, link string) (uint64, error) {
	out, err := nsutil.Run(ctx, "", "tc", "-n", ns, "-j", "qdisc", "show", "dev", link)
	if err != nil {
		return 0, err
	}
	var qs []struct {
		Kind    string `json:"kind"`
		Root    bool   `json:"root"`
		Options struct {
			Rate uint64 `json:"rate"` // bytes per second
		} `json:"options"`
	}
	if err := json.Unmarshal(out, &qs); err != nil {
		return 0, fmt.Errorf("tc qdisc show dev %s in %s: %w", link, ns, err)
	}
	for _, q := range qs {
		if q.Root && q.Kind == "tbf" {
			return q.Options.Rate * 8 / 1000, nil
		}
	}
	return 0, nil
}

// SetRate puts a token bucket filter at the root of a link: its rate, a bucket of 20 ms
// of traffic (at least two full frames, so that a frame always fits) and 50 ms of queue.
func (hostOS) SetRate(ctx context.Context, ns, link string, kbit uint64) error {
	if kbit == 0 {
		_, err := nsutil.Run(ctx, "", "tc", "-n", ns, "qdisc", "del", "dev", link, "root")
		if err != nil && strings.Contains(err.Error(), "Cannot delete qdisc with handle of zero") {
			return nil // no qdisc of ours there
		}
		return err
	}
	burst := max(kbit*1000/8/50, 3200)
	_, err := nsutil.Run(ctx, "", "tc", "-n", ns, "qdisc", "replace", "dev", link, "root", "tbf",
		"rate", fmt.Sprintf("%dkbit", kbit), "burst", fmt.Sprint(burst), "latency", "50ms")
	return err
}

func (hostOS) Meter(ctx context.Context, ns string) (meter, bool, error) { return hostMeter(ctx, ns) }

func (hostOS) SetMeter(ctx context.Context, ns string, want map[string]string) error {
	return hostSetMeter(ctx, ns, want)
}

func (hostOS) StartCharon(ctx context.Context, ch nsutil.Charon, conf string) error {
	_, err := ch.Start(ctx, conf)
	return err
}

func (hostOS) CharonPID(ch nsutil.Charon) int { return ch.PID() }

// CharonConf reads the instance's strongswan.conf: nsutil.Charon.Start writes it just
// before it starts charon, and nothing else does.
func (hostOS) CharonConf(ch nsutil.Charon) (string, error) {
	b, err := os.ReadFile(ch.ConfFile())
	return string(b), err
}

func (hostOS) StopCells(_ context.Context, dirs, namespaces []string) error {
	return errors.Join(nsutil.StopAll(dirs, namespaces)...)
}

func (hostOS) IKE(ctx context.Context, ch nsutil.Charon) (ikeSession, error) {
	s, err := viciDial(ctx, ch.Socket())
	if err != nil {
		return nil, fmt.Errorf("vici %s: %w", ch.Socket(), err)
	}
	return viciSession{s}, nil
}

func (hostOS) WaitPacket(ctx context.Context, ns, link string) error {
	f, idx, err := openPacketSocket(ns, link)
	if err != nil {
		return err
	}
	got := make(chan error, 1)
	go func() { got <- waitPacket(f, idx) }()
	select {
	case <-ctx.Done():
		f.Close() // wakes waitPacket
		<-got
		return ctx.Err()
	case err := <-got:
		f.Close()
		return err
	}
}
