package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"opencen/internal/dataplane/nsutil"
)

// BIRD support: a data center speaks BGP to the cloud over its route-based tunnel with
// BIRD 2 (Debian package bird2), as a customer gateway would.
//
// The DC side of a route-based tunnel: kernel-libipsec's TUN device ipsec0 carries the
// DC's tunnel inside address (the customer's end of the BGP /30, e.g. 169.254.11.2/30), so
// the cloud's end (169.254.11.1) is on-link through the tunnel and single-hop eBGP works
// (the cloud's cell makes itself TTL-transparent). BIRD exports the routes it learns over
// BGP into Linux table BIRDKernelTable with the DC host address as preferred source, and a
// rule (priority BIRDKernelTable) looks that table up before charon's table 220: the DC
// routes the cloud's prefixes into the tunnel, from its host address.

// BIRDKernelTable is the Linux table (and the priority of the rule looking it up) that a
// DC's BIRD exports its BGP routes into.
const BIRDKernelTable = 210

// BIRDNeighbor is one BGP session of a lab BIRD.
type BIRDNeighbor struct {
	// Address is the peer: the cloud's LocalBgpIp.
	Address netip.Addr
	// LocalAddress is this side's tunnel address (the other host of the /30).
	LocalAddress netip.Addr
	PeerAS       uint32
	// Password is the TCP MD5 key; empty = none.
	Password string
}

// BIRDConfig is a lab BIRD's configuration.
type BIRDConfig struct {
	ASN       uint32
	RouterID  netip.Addr
	Neighbors []BIRDNeighbor
	// Announce are announced to every neighbor (as static unreachable routes, next hop
	// self).
	Announce []netip.Prefix
	// KernelTable, when not 0, receives the BGP routes (with KernelSrc as preferred source
	// when valid), and a rule with that priority looks it up.
	KernelTable int
	KernelSrc   netip.Addr
}

// BIRD is a BIRD 2 instance in network namespace Netns; its files (bird.conf, bird.ctl,
// bird.pid, bird.log, bird.out) live in Dir.
type BIRD struct {
	Netns string
	Dir   string
}

// Paths of the BIRD installation (Debian package bird2).
const (
	BIRDPath  = "/usr/sbin/bird"
	BIRDCPath = "/usr/sbin/birdc"
)

// BIRDMissing says what is missing to run BIRD ("" = nothing).
func BIRDMissing() string {
	for _, p := range []string{BIRDPath, BIRDCPath} {
		if _, err := os.Stat(p); err != nil {
			return p + " (apt-get install -y bird2; keep the system bird service stopped)"
		}
	}
	return ""
}

func (b BIRD) ConfFile() string { return filepath.Join(b.Dir, "bird.conf") }
func (b BIRD) Socket() string   { return filepath.Join(b.Dir, "bird.ctl") }
func (b BIRD) PIDFile() string  { return filepath.Join(b.Dir, "bird.pid") }
func (b BIRD) LogFile() string  { return filepath.Join(b.Dir, "bird.log") }

// PID is the pid of the running instance (0 if none): the pid file names a live bird in
// Netns.
func (b BIRD) PID() int {
	pid := nsutil.ReadPIDFile(b.PIDFile())
	if pid == 0 || !nsutil.Alive(pid) || nsutil.Comm(pid) != "bird" || !nsutil.InNamedNetns(pid, b.Netns) {
		return 0
	}
	return pid
}

// Render is the bird.conf for cfg.
func (b BIRD) Render(cfg BIRDConfig) (string, error) {
	if cfg.ASN == 0 || !cfg.RouterID.Is4() {
		return "", fmt.Errorf("BIRD in %s: AS %d / router ID %v", b.Netns, cfg.ASN, cfg.RouterID)
	}
	var w strings.Builder
	fmt.Fprintf(&w, "# lab BIRD in %s (written by opencen's lab)\n", b.Netns)
	fmt.Fprintf(&w, "log %q all;\nrouter id %s;\n", b.LogFile(), cfg.RouterID)
	w.WriteString("protocol device { scan time 5; }\n")
	if cfg.KernelTable != 0 {
		fmt.Fprintf(&w, "protocol kernel {\n  kernel table %d;\n  ipv4 {\n    import none;\n", cfg.KernelTable)
		if cfg.KernelSrc.IsValid() {
			fmt.Fprintf(&w, "    export filter { if source = RTS_BGP then { krt_prefsrc = %s; accept; } reject; };\n", cfg.KernelSrc)
		} else {
			w.WriteString("    export where source = RTS_BGP;\n")
		}
		w.WriteString("  };\n}\n")
	}
	w.WriteString("protocol static announce {\n  ipv4;\n")
	for _, p := range cfg.Announce {
		if !p.Addr().Is4() {
			return "", fmt.Errorf("BIRD in %s: announce %v: not IPv4", b.Netns, p)
		}
		fmt.Fprintf(&w, "  route %s unreachable;\n", p.Masked())
	}
	w.WriteString("}\n")
	for i, n := range cfg.Neighbors {
		if !n.Address.Is4() || !n.LocalAddress.Is4() || n.PeerAS == 0 {
			return "", fmt.Errorf("BIRD in %s: neighbor %+v", b.Netns, n)
		}
		if strings.ContainsAny(n.Password, "\"\\\n\r") {
			return "", fmt.Errorf("BIRD in %s: neighbor %s: the password must not contain quotes, backslashes or newlines", b.Netns, n.Address)
		}
		fmt.Fprintf(&w, "protocol bgp peer%d {\n  local %s as %d;\n  neighbor %s as %d;\n", i+1, n.LocalAddress, cfg.ASN, n.Address, n.PeerAS)
		if n.Password != "" {
			fmt.Fprintf(&w, "  password \"%s\";\n", n.Password)
		}
		w.WriteString("  hold time 9; keepalive time 3; connect retry time 2; connect delay time 1; error wait time 1, 5;\n")
		w.WriteString("  ipv4 { import all; export where proto = \"announce\"; next hop self; };\n}\n")
	}
	return w.String(), nil
}

// Start writes bird.conf for cfg and starts BIRD in Netns (`bird -f -c bird.conf -s
// bird.ctl -P bird.pid`, in its own session), or, when it runs already, reloads the
// configuration (birdc configure). It returns once BIRD answers on its control socket.
func (b BIRD) Start(ctx context.Context, cfg BIRDConfig) error {
	if m := BIRDMissing(); m != "" {
		return errors.New("BIRD: missing " + m)
	}
	conf, err := b.Render(cfg)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(b.Dir, 0o700); err != nil {
		return err
	}
	tmp := b.ConfFile() + ".new"
	if err := os.WriteFile(tmp, []byte(conf), 0o600); err != nil {
		return err
	}
	if out, err := nsutil.Run(ctx, "", BIRDPath, "-p", "-c", tmp); err != nil {
		return fmt.Errorf("BIRD in %s: configuration rejected: %w %s", b.Netns, err, out)
	}
	if err := os.Rename(tmp, b.ConfFile()); err != nil {
		return err
	}
	if cfg.KernelTable != 0 {
		prio := fmt.Sprint(cfg.KernelTable)
		_, _ = nsutil.IPn(ctx, b.Netns, "rule", "del", "priority", prio, "lookup", prio)
		if _, err := nsutil.IPn(ctx, b.Netns, "rule", "add", "priority", prio, "lookup", prio); err != nil {
			return err
		}
	}
	if b.PID() != 0 {
		out, err := b.Birdc(ctx, "configure")
		if err != nil || !strings.Contains(out, "onfigur") {
			return fmt.Errorf("BIRD in %s: birdc configure: %v: %s", b.Netns, err, out)
		}
		return nil
	}
	for _, f := range []string{b.Socket(), b.PIDFile()} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	out, err := os.OpenFile(filepath.Join(b.Dir, "bird.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd := exec.Command("ip", "netns", "exec", b.Netns, BIRDPath, "-f", "-c", b.ConfFile(), "-s", b.Socket(), "-P", b.PIDFile())
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	pid := cmd.Process.Pid // ip netns exec execs bird
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.DialTimeout("unix", b.Socket(), time.Second); err == nil {
			c.Close()
			if nsutil.ReadPIDFile(b.PIDFile()) == pid {
				return nil
			}
		}
		select {
		case err := <-exited:
			o, _ := os.ReadFile(filepath.Join(b.Dir, "bird.out"))
			return fmt.Errorf("BIRD in %s exited (%v): %s", b.Netns, err, o)
		case <-ctx.Done():
			_ = nsutil.Kill(pid, time.Second)
			return ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = nsutil.Kill(pid, time.Second)
			return fmt.Errorf("BIRD in %s: control socket %s did not answer within 10s", b.Netns, b.Socket())
		}
	}
}

// Birdc runs `birdc -s bird.ctl args...` and returns its output.
func (b BIRD) Birdc(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, BIRDCPath, append([]string{"-s", b.Socket()}, args...)...).CombinedOutput()
	return string(out), err
}

// Routes is `birdc show route` (the routes BIRD has: learned over BGP and announced).
func (b BIRD) Routes(ctx context.Context) (string, error) { return b.Birdc(ctx, "show", "route") }

// Stop stops the instance (by its pid file) and removes its socket.
func (b BIRD) Stop() error {
	if pid := b.PID(); pid != 0 {
		if err := nsutil.Kill(pid, 3*time.Second); err != nil {
			return err
		}
	}
	_ = os.Remove(b.Socket())
	_ = os.Remove(b.PIDFile())
	return nil
}

// BIRD is the data center's BIRD instance (files in the DC's charon directory).
func (dc *DC) BIRD() BIRD { return BIRD{Netns: dc.Netns, Dir: dc.Charon.Dir} }

// StartBIRD runs BIRD in the data center as its BGP speaker toward the cloud (or reloads
// its configuration): AS asn, the given neighbors (each LocalAddress not yet on the DC is
// put on ipsec0 with the /30 — or /31 — shared with Address), announcing announce. The
// BGP routes BIRD learns go into table BIRDKernelTable with the DC host address as
// source, looked up before charon's table 220.
func (dc *DC) StartBIRD(ctx context.Context, asn uint32, routerID netip.Addr, neighbors []BIRDNeighbor, announce []netip.Prefix) error {
	for _, n := range neighbors {
		if err := dc.AddTunnelAddress(ctx, n.LocalAddress, n.Address); err != nil {
			return err
		}
	}
	return dc.BIRD().Start(ctx, BIRDConfig{ASN: asn, RouterID: routerID, Neighbors: neighbors, Announce: announce,
		KernelTable: BIRDKernelTable, KernelSrc: dc.Host})
}

// BIRDRoutes is the data center's `birdc show route`.
func (dc *DC) BIRDRoutes(ctx context.Context) (string, error) { return dc.BIRD().Routes(ctx) }

// StopBIRD stops the data center's BIRD.
func (dc *DC) StopBIRD() error { return dc.BIRD().Stop() }

// AddTunnelAddress puts local (the DC's tunnel inside address) on ipsec0 with the /30 (or
// /31) it shares with peer, unless the DC has it already. ipsec0 exists while the DC's
// charon runs.
func (dc *DC) AddTunnelAddress(ctx context.Context, local, peer netip.Addr) error {
	var p netip.Prefix
	for _, bits := range []int{30, 31} {
		q := netip.PrefixFrom(local, bits).Masked()
		if q.Contains(peer) && local != peer && (bits == 31 || (local != q.Addr() && peer != q.Addr() && !isBroadcast30(q, local) && !isBroadcast30(q, peer))) {
			p = netip.PrefixFrom(local, bits)
			break
		}
	}
	if !p.IsValid() {
		return fmt.Errorf("DC %s: tunnel addresses %v and %v are not the two hosts of a /30 or /31", dc.Name, local, peer)
	}
	out, err := nsutil.IPn(ctx, dc.Netns, "-o", "addr", "show", "to", netip.PrefixFrom(local, 32).String())
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(out)) != "" {
		return nil
	}
	_, err = nsutil.IPn(ctx, dc.Netns, "addr", "add", p.String(), "dev", "ipsec0")
	return err
}

func isBroadcast30(q netip.Prefix, a netip.Addr) bool {
	b := q.Addr().As4()
	b[3] += 3
	return netip.AddrFrom4(b) == a
}
