package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"opencen/bench/internal/benchkit"
	"opencen/internal/dataplane/nsutil"
	"opencen/internal/lab"
)

// The baseline is the sandbox recipe (shared/lab/sandbox-dataplane rb-add-conn.sh,
// scale-route.sh) driven from Go, without OpenCEN's server, gateway or driver: per cell a
// namespace, a WAN veth into the bridge, a veth to the router (/30, MTU 1400 on the router
// end, proxy ARP), charon (kernel-libipsec) in its own mount namespace, the two policy
// rules and tables, the nft TTL fix, swanctl --load-all, and a route for the DC's subnet
// in the router. The data centers and the VPC host come from the lab package, exactly as
// on the OpenCEN side; their swanctl.conf mirrors what OpenCEN renders.

// Addresses shared by both sides.
var vpcCIDR = netip.MustParsePrefix("10.10.0.0/16")

func dcWAN(k int) netip.Prefix    { return netip.MustParsePrefix(fmt.Sprintf("198.18.1.%d/15", k)) }
func dcSubnet(k int) netip.Prefix { return netip.MustParsePrefix(fmt.Sprintf("192.168.%d.0/24", k)) }

// baseline cell k: WAN address and router link /30 (router .1, peer .2)
func cellWAN(k int) netip.Addr { return netip.MustParseAddr(fmt.Sprintf("198.18.100.%d", k)) }
func cellLink(k int) (router, peer netip.Addr) {
	a := netip.MustParseAddr("169.254.64.0").As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]) + uint32(4*k)
	mk := func(x uint32) netip.Addr {
		return netip.AddrFrom4([4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)})
	}
	return mk(v + 1), mk(v + 2)
}

const ttlNFT = `table ip cxttl {
  chain pre {
    type filter hook prerouting priority -300; policy accept;
    iifname { "r", "ipsec0" } ip ttl 1 ip ttl set 2
  }
}
`

type baseline struct {
	n     names
	conns int

	lab    *lab.Lab
	router string
	vpc    *lab.VPCHost
	nftF   string

	mu    sync.Mutex
	cells []nsutil.Charon
	dcs   []*lab.DC
}

func (b *baseline) cellNS(k int) string { return fmt.Sprintf("%sc%d", b.n.bOwn, k) }
func (b *baseline) cellDir(k int) string {
	return filepath.Join(b.n.base, "bcells", fmt.Sprintf("c%d", k))
}
func (b *baseline) routerLink(k int) string { return fmt.Sprintf("%sx%d", b.n.bVethRt, k) }
func (b *baseline) wanLink(k int) string    { return fmt.Sprintf("%sw%d", b.n.bVethRt, k) }

// setupWorld builds what exists before the first connection (not timed): the WAN, the
// router namespace and the VPC host linked to it.
func (b *baseline) setupWorld(ctx context.Context) error {
	l, err := lab.New(ctx, b.n.bLab, filepath.Join(b.n.base, "blab"))
	if err != nil {
		return err
	}
	b.lab = l
	b.router = b.n.bOwn + "r"
	if err := nsutil.AddNetns(ctx, b.router, fwd()...); err != nil {
		return err
	}
	if b.vpc, err = l.AddVPCHost(ctx, "vpc", vpcCIDR); err != nil {
		return err
	}
	rl := b.n.bVethRt + "vr"
	for _, args := range [][]string{
		{"link", "add", rl, "netns", b.router, "type", "veth", "peer", "name", "rtr", "netns", b.vpc.Netns},
		{"-n", b.router, "addr", "add", "169.254.1.1/30", "dev", rl},
		{"-n", b.router, "link", "set", rl, "up"},
		{"-n", b.vpc.Netns, "addr", "add", "169.254.1.2/30", "dev", "rtr"},
		{"-n", b.vpc.Netns, "link", "set", "rtr", "up"},
		{"-n", b.vpc.Netns, "route", "replace", "default", "via", "169.254.1.1", "dev", "rtr"}, // the lab host has its own default (its bridge)
		{"-n", b.router, "route", "add", vpcCIDR.String(), "via", "169.254.1.2", "dev", rl},
	} {
		if err := ip(ctx, args...); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Join(b.n.base, "bcells"), 0o700); err != nil {
		return err
	}
	b.nftF = filepath.Join(b.n.base, "bcells", "cx-ttl.nft")
	return os.WriteFile(b.nftF, []byte(ttlNFT), 0o600)
}

func fwd() []nsutil.Sysctl {
	return []nsutil.Sysctl{{Key: "ipv4/ip_forward", Value: "1"}, {Key: "ipv4/conf/all/rp_filter", Value: "0"}, {Key: "ipv4/conf/default/rp_filter", Value: "0"}}
}

// setupResult is the timing of one side's setup.
type setupResult struct {
	start       time.Time
	allUp       time.Duration         // until all N established (for OpenCEN: as the API reports)
	charonUp    map[int]time.Duration // per connection: first CHILD_SA established in the cloud-side charon log
	apiUp       map[int]time.Duration // OpenCEN: first ipsec_sa_established in DescribeVpnConnections
	apiDone     time.Duration         // OpenCEN: all creating API calls and DCs done
	linkDone    time.Duration         // OpenCEN: association, propagation, VPN route entries done
	charonAllUp time.Duration         // until the last cloud-side charon logged its CHILD_SA
}

// bringUp builds the N cells and DCs one after the other, as rb-add-conn.sh does, and
// waits until every cell's charon has established its child SA. Timed.
func (b *baseline) bringUp(ctx context.Context) (setupResult, error) {
	res := setupResult{start: time.Now()}
	logs := make([]string, b.conns+1)
	for k := 1; k <= b.conns; k++ {
		logs[k] = filepath.Join(b.cellDir(k), "charon.log")
	}
	w := newLogWatch()
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	go w.run(wctx, res.start, func() map[int]string {
		m := map[int]string{}
		for k := 1; k <= b.conns; k++ {
			m[k] = logs[k]
		}
		return m
	})
	for k := 1; k <= b.conns; k++ {
		if err := b.addCell(ctx, k); err != nil {
			return res, fmt.Errorf("cell %d: %w", k, err)
		}
	}
	deadline := time.Now().Add(60*time.Second + 3*time.Second*time.Duration(b.conns))
	for w.count() < b.conns {
		if time.Now().After(deadline) {
			return res, fmt.Errorf("only %d of %d child SAs established before the timeout", w.count(), b.conns)
		}
		if err := benchkit.SleepCtx(ctx, 20*time.Millisecond); err != nil {
			return res, err
		}
	}
	res.charonUp = w.snapshot()
	res.allUp = slicesMax(res.charonUp)
	res.charonAllUp = res.allUp
	stop()
	// cross-check with charon itself
	for k := 1; k <= b.conns; k++ {
		out, err := b.swanctl(ctx, k, "--list-sas")
		if err != nil || !strings.Contains(out, "INSTALLED") {
			return res, fmt.Errorf("cell %d: no INSTALLED child SA in swanctl --list-sas: %v\n%s", k, err, out)
		}
	}
	return res, nil
}

func slicesMax(m map[int]time.Duration) time.Duration {
	var x time.Duration
	for _, d := range m {
		x = max(x, d)
	}
	return x
}

// addCell is rb-add-conn.sh for cell k, followed by the lab DC k.
func (b *baseline) addCell(ctx context.Context, k int) error {
	ns, wl, rl := b.cellNS(k), b.wanLink(k), b.routerLink(k)
	cin, pin := cellLink(k)
	pub := cellWAN(k)
	wanNS := b.lab.WANNetns
	steps := [][]string{
		// mkns
		{"netns", "add", ns},
		{"-n", ns, "link", "set", "lo", "up"},
		{"netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0"},
		// wan_attach
		{"link", "add", wl, "type", "veth", "peer", "name", "wan0", "netns", ns},
		{"link", "set", wl, "netns", wanNS},
		{"-n", wanNS, "link", "set", wl, "master", lab.Bridge, "up"},
		{"-n", ns, "addr", "add", pub.String() + "/15", "dev", "wan0"},
		{"-n", ns, "link", "set", "wan0", "up"},
		// p2p cloud xN cxN r
		{"link", "add", rl, "netns", b.router, "type", "veth", "peer", "name", "r", "netns", ns},
		{"-n", b.router, "link", "set", rl, "up"},
		{"-n", ns, "link", "set", "r", "up"},
		{"-n", b.router, "addr", "add", cin.String() + "/30", "dev", rl},
		{"-n", b.router, "link", "set", rl, "mtu", "1400"},
		{"-n", b.router, "route", "add", dcSubnet(k).String(), "via", pin.String(), "dev", rl},
		{"netns", "exec", ns, "sysctl", "-qw", "net.ipv4.conf.r.proxy_arp=1"},
	}
	for _, s := range steps {
		if err := ip(ctx, s...); err != nil {
			return err
		}
	}
	ch := nsutil.Charon{Netns: ns, Dir: b.cellDir(k)}
	b.mu.Lock()
	b.cells = append(b.cells, ch)
	b.mu.Unlock()
	if _, err := ch.Start(ctx, nsutil.StrongswanConf("")); err != nil {
		return err
	}
	for _, s := range [][]string{
		{"-n", ns, "rule", "add", "iif", "ipsec0", "lookup", "101", "prio", "100"},
		{"-n", ns, "route", "add", "default", "via", cin.String(), "dev", "r", "onlink", "table", "101"},
		{"-n", ns, "rule", "add", "iif", "r", "lookup", "102", "prio", "101"},
		{"-n", ns, "route", "add", "default", "dev", "ipsec0", "table", "102"},
		{"netns", "exec", ns, "nft", "-f", b.nftF},
	} {
		if err := ip(ctx, s...); err != nil {
			return err
		}
	}
	sw := filepath.Join(b.cellDir(k), "swanctl")
	for _, d := range []string{"conf.d", "x509", "x509ca", "x509ocsp", "x509aa", "x509ac", "x509crl", "pubkey", "private", "rsa", "ecdsa", "bliss", "pkcs8", "pkcs12"} {
		if err := os.MkdirAll(filepath.Join(sw, d), 0o700); err != nil {
			return err
		}
	}
	psk := fmt.Sprintf("bench-psk-%s-%d", b.n.rid, k)
	name := fmt.Sprintf("c%d", k)
	dc := dcWAN(k).Addr()
	conf := fmt.Sprintf(`connections {
  %[1]s {
    version = 2
    local_addrs = %[2]s
    remote_addrs = %[3]s
    proposals = aes128-sha1-modp1024
    encap = yes
    dpd_delay = 10s
    unique = replace
    local { auth = psk
            id = %[2]s }
    remote { auth = psk
             id = %[3]s }
    children {
      %[1]s {
        local_ts = 0.0.0.0/0
        remote_ts = 0.0.0.0/0
        esp_proposals = aes128-sha1-modp1024
        start_action = none
        dpd_action = restart
      }
    }
  }
}
secrets {
  ike-%[1]s { id-1 = %[3]s
            secret = "%[4]s" }
}
`, name, pub, dc, psk)
	if err := os.WriteFile(filepath.Join(sw, "swanctl.conf"), []byte(conf), 0o600); err != nil {
		return err
	}
	if out, err := b.swanctl(ctx, k, "--load-all"); err != nil {
		return fmt.Errorf("swanctl --load-all: %w\n%s", err, out)
	}
	// The data center: the lab's stock strongSwan with what OpenCEN would render for it
	// (initiator, start_action = start, keyingtries 0, same proposals).
	d, err := b.lab.AddDC(ctx, fmt.Sprintf("b%d", k), dcWAN(k), dcSubnet(k), dcConf(name, dc, pub, psk))
	if d != nil {
		b.mu.Lock()
		b.dcs = append(b.dcs, d)
		b.mu.Unlock()
	}
	if err != nil {
		return err
	}
	return d.RouteToTunnel(ctx, vpcCIDR)
}

// dcConf mirrors internal/vpnconf's rendering for the product defaults (ikev2-default.golden).
func dcConf(name string, local, remote netip.Addr, psk string) string {
	return fmt.Sprintf(`connections {
  %[1]s {
    version = 2
    local_addrs = %[2]s
    remote_addrs = %[3]s
    proposals = aes128-sha1-modp1024
    rekey_time = 86400s
    encap = yes
    dpd_delay = 10s
    keyingtries = 0
    unique = replace
    local {
      auth = psk
      id = %[2]s
    }
    remote {
      auth = psk
      id = %[3]s
    }
    children {
      %[1]s {
        local_ts = 0.0.0.0/0
        remote_ts = 0.0.0.0/0
        esp_proposals = aes128-sha1-modp1024
        rekey_time = 86400s
        start_action = start
        dpd_action = restart
        close_action = none
      }
    }
  }
}
secrets {
  ike-%[1]s {
    id-1 = %[2]s
    id-2 = %[3]s
    secret = "%[4]s"
  }
}
`, name, local, remote, psk)
}

func (b *baseline) swanctl(ctx context.Context, k int, cmd string) (string, error) {
	ch := nsutil.Charon{Netns: b.cellNS(k), Dir: b.cellDir(k)}
	return cmdRun(ctx, []string{"STRONGSWAN_CONF=" + ch.ConfFile(), "SWANCTL_DIR=" + filepath.Join(ch.Dir, "swanctl")},
		"swanctl", cmd, "--uri", "unix://"+ch.Socket())
}

func (b *baseline) pids() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []int
	for _, c := range b.cells {
		if pid := c.PID(); pid != 0 {
			out = append(out, pid)
		}
	}
	return out
}

// path is the raw recipe's traffic path for iperf3: DC 1 -> cell 1 -> router -> VPC host.
func (b *baseline) path(ctx context.Context) (*iperfPath, error) {
	b.mu.Lock()
	if len(b.dcs) == 0 {
		b.mu.Unlock()
		return nil, errors.New("no data center")
	}
	dc := b.dcs[0]
	b.mu.Unlock()
	p := &iperfPath{name: "raw recipe cell", dc: dc, vpc: b.vpc, charon: nsutil.Charon{Netns: b.cellNS(1), Dir: b.cellDir(1)}}
	return p, p.waitPing(ctx)
}

// cleanup removes the baseline by its names: charons and anything else in its
// namespaces (by pid), the namespaces, stray links in the root namespace, the lab.
func (b *baseline) cleanup(ctx context.Context) error {
	var errs []error
	var mine []string // only the baseline's own router and cells
	for _, ns := range runNetns(b.n) {
		if strings.HasPrefix(ns, b.n.bOwn) {
			mine = append(mine, ns)
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(b.n.base, "bcells", "c[0-9]*"))
	for _, dir := range dirs {
		ch := nsutil.Charon{Netns: b.n.bOwn + filepath.Base(dir), Dir: dir}
		if pid := ch.PIDFromFile(); pid != 0 && nsutil.InNamedNetns(pid, ch.Netns) {
			errs = append(errs, nsutil.Kill(pid, 3*time.Second))
		}
	}
	for pid := range nsutil.ProcessesInNetns(mine) {
		errs = append(errs, nsutil.Kill(pid, 3*time.Second))
	}
	for _, ns := range mine {
		errs = append(errs, nsutil.DelNetns(ctx, ns))
	}
	if links, err := rootLinks(b.n); err == nil {
		for _, l := range links {
			if strings.HasPrefix(l, b.n.bVethRt) {
				_ = ip(ctx, "link", "del", l)
			}
		}
	}
	errs = append(errs, lab.Cleanup(ctx, b.n.bLab, filepath.Join(b.n.base, "blab")))
	return errors.Join(errs...)
}
