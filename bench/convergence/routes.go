package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"opencen/bench/internal/benchkit"
	"opencen/internal/bgp"
	"opencen/internal/lab"
)

// ---------------------------------------------------------------- kernel routes

// routeMon runs `ip -o monitor route` in the router namespace and keeps the lines about
// the watched table with the time each arrived: the time a route changed, to within the
// monitor's read latency, without polling.
type routeMon struct {
	table string
	cmd   *exec.Cmd
	done  chan struct{}
	wake  chan struct{}

	mu    sync.Mutex
	lines []monLine
}

type monLine struct {
	at   time.Time
	text string
}

func startRouteMon(ctx context.Context, ns string, table int) (*routeMon, error) {
	m := &routeMon{table: strconv.Itoa(table), done: make(chan struct{}), wake: make(chan struct{}, 1)}
	m.cmd = exec.Command("ip", "-o", "-n", ns, "monitor", "route")
	out, err := m.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := m.cmd.Start(); err != nil {
		return nil, fmt.Errorf("ip monitor route in %s: %w", ns, err)
	}
	go func() {
		defer close(m.done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		want := " table " + m.table + " "
		for sc.Scan() {
			t := time.Now()
			l := sc.Text()
			if !strings.Contains(l+" ", want) {
				continue
			}
			m.mu.Lock()
			m.lines = append(m.lines, monLine{t, l})
			m.mu.Unlock()
			select {
			case m.wake <- struct{}{}:
			default:
			}
		}
		_ = m.cmd.Wait()
	}()
	// let it subscribe before anything is measured
	return m, benchkit.SleepCtx(ctx, 300*time.Millisecond)
}

func (m *routeMon) stop() {
	if m.cmd.Process != nil {
		_ = m.cmd.Process.Kill() // our own child, by its handle
	}
	select {
	case <-m.done:
	case <-time.After(5 * time.Second):
	}
}

func (m *routeMon) seq() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.lines)
}

// lastMatching is the arrival time of the last line in lines[from:to] that f accepts.
func (m *routeMon) lastMatching(from, to int, f func(string) bool) (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := min(to, len(m.lines)) - 1; i >= from; i-- {
		if f(m.lines[i].text) {
			return m.lines[i].at, true
		}
	}
	return time.Time{}, false
}

// kernelRoutes reads the system table in the router namespace: prefix -> next hops.
func (w *world) kernelRoutes(ctx context.Context) (map[netip.Prefix]int, error) {
	out, err := cmdRun(ctx, "ip", "-o", "-n", w.rns, "route", "show", "table", strconv.Itoa(w.table))
	if err != nil {
		return nil, err
	}
	rs := map[netip.Prefix]int{}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		dst := f[0]
		if (dst == "blackhole" || dst == "unreachable" || dst == "prohibit" || dst == "unicast") && len(f) > 1 {
			dst = f[1]
		}
		if dst == "default" {
			dst = "0.0.0.0/0"
		}
		if !strings.Contains(dst, "/") {
			dst += "/32"
		}
		p, err := netip.ParsePrefix(dst)
		if err != nil {
			continue
		}
		hops := strings.Count(l, "nexthop ")
		if hops == 0 {
			hops = 1
		}
		rs[p] = hops
	}
	return rs, nil
}

// waitKernel waits until cond holds for the kernel table and returns when it came to
// hold: the arrival of the last monitor line relevant accepts before the successful
// check (the change itself), or, without such a line, the check's time (exact=false).
func (w *world) waitKernel(ctx context.Context, timeout time.Duration, relevant func(string) bool, cond func(map[netip.Prefix]int) bool) (at time.Time, exact bool, err error) {
	start := w.mon.seq()
	deadline := time.Now().Add(timeout)
	for {
		rs, err := w.kernelRoutes(ctx)
		if err != nil {
			return time.Time{}, false, err
		}
		now := time.Now()
		if cond(rs) {
			if t, ok := w.mon.lastMatching(start, w.mon.seq(), relevant); ok {
				return t, true, nil
			}
			return now, false, nil
		}
		if now.After(deadline) {
			return time.Time{}, false, fmt.Errorf("kernel table %d in %s: timed out after %s", w.table, w.rns, timeout)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, false, ctx.Err()
		case <-w.mon.wake:
			_ = benchkit.SleepCtx(ctx, 3*time.Millisecond) // let a burst of changes arrive
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// mentions is a monitor-line filter: the line is about prefix p (added/replaced, or
// deleted when deleted is set).
func mentions(p netip.Prefix, deleted bool) func(string) bool {
	s := p.String()
	if p.Bits() == 32 {
		s = p.Addr().String()
	}
	return func(l string) bool {
		d := strings.HasPrefix(l, "Deleted ")
		l = strings.TrimPrefix(l, "Deleted ")
		return d == deleted && (strings.HasPrefix(l, s+" ") || strings.Contains(l, " "+s+" "))
	}
}

// ---------------------------------------------------------------- BIRD

// birdConfig is the lab BIRD's configuration of connection c announcing announce (as
// DC.StartBIRD renders it).
func birdConfig(c *conn, announce []netip.Prefix) lab.BIRDConfig {
	return lab.BIRDConfig{ASN: c.asn, RouterID: c.dc.Host, Neighbors: []lab.BIRDNeighbor{{Address: c.local, LocalAddress: c.peer, PeerAS: bgp.DefaultASN}},
		Announce: announce, KernelTable: lab.BIRDKernelTable, KernelSrc: c.dc.Host}
}

// birdStart starts the DC's BIRD (or reloads it through lab) announcing announce.
func (w *world) birdStart(ctx context.Context, c *conn, announce []netip.Prefix) error {
	c.announced = announce
	return c.dc.StartBIRD(ctx, c.asn, c.dc.Host, birdConfig(c, nil).Neighbors, announce)
}

// birdWrite writes the DC's bird.conf announcing announce without loading it (the timed
// part is only `configure`).
func birdWrite(c *conn, announce []netip.Prefix) error {
	b := c.dc.BIRD()
	conf, err := b.Render(birdConfig(c, announce))
	if err != nil {
		return err
	}
	tmp := b.ConfFile() + ".new"
	if err := os.WriteFile(tmp, []byte(conf), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, b.ConfFile()); err != nil {
		return err
	}
	c.announced = announce
	return nil
}

// birdCtl is a connection to a BIRD control socket (what birdc speaks).
type birdCtl struct {
	conn net.Conn
	rd   *bufio.Reader
}

func dialBird(ctx context.Context, c *conn) (*birdCtl, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", c.dc.BIRD().Socket())
	if err != nil {
		return nil, err
	}
	b := &birdCtl{conn: nc, rd: bufio.NewReader(nc)}
	if _, err := b.reply(); err != nil { // "0001 BIRD 2.x ready."
		nc.Close()
		return nil, fmt.Errorf("BIRD of %s: %w", c.name, err)
	}
	return b, nil
}

// reply reads one reply: "NNNN-..." continuation lines up to a final "NNNN ..." line.
func (b *birdCtl) reply() (string, error) {
	_ = b.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	var all []string
	for {
		l, err := b.rd.ReadString('\n')
		if err != nil {
			return strings.Join(all, ""), err
		}
		all = append(all, l)
		if len(l) >= 5 && l[4] == ' ' {
			if l[0] == '8' || l[0] == '9' {
				return strings.Join(all, ""), fmt.Errorf("BIRD: %s", strings.TrimSpace(strings.Join(all, "")))
			}
			return strings.Join(all, ""), nil
		}
	}
}

// configure sends `configure` and waits for the answer ("0003 Reconfigured").
func (b *birdCtl) configure() error {
	if _, err := b.conn.Write([]byte("configure\n")); err != nil {
		return err
	}
	out, err := b.reply()
	if err != nil {
		return err
	}
	if !strings.Contains(out, "onfigur") {
		return fmt.Errorf("BIRD configure: %s", strings.TrimSpace(out))
	}
	return nil
}

func (b *birdCtl) close() { b.conn.Close() }

// ---------------------------------------------------------------- BGP speaker watch

// bgpWatch follows the router's BGP speaker like the gateway does (a second watch on its
// socket: both get each update at the same time) and timestamps conditions on it.
type bgpWatch struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	state   map[string]bgp.NeighborState
	conds   []*bgpCond
	history []bgpEvent
}

// bgpEvent is one update as received: neighbor, session, number of learned routes.
type bgpEvent struct {
	at          time.Time
	id          string
	established bool
	learned     int
}

type bgpCond struct {
	f    func(map[string]bgp.NeighborState) bool
	at   time.Time
	done chan struct{}
}

func (w *world) startBGPWatch(ctx context.Context) error {
	sock := filepath.Join(w.drv.RunDir(), "bgp", w.tr+".sock")
	if err := benchkit.WaitFor(ctx, "the BGP speaker", 60*time.Second, 100*time.Millisecond, func() (bool, error) {
		_, err := os.Stat(sock)
		return err == nil, nil
	}); err != nil {
		return err
	}
	c, err := bgp.Dial(sock)
	if err != nil {
		return err
	}
	defer c.Close()
	wctx, cancel := context.WithCancel(context.Background())
	ch, err := c.Watch(wctx)
	if err != nil {
		cancel()
		return err
	}
	b := &bgpWatch{cancel: cancel, done: make(chan struct{}), state: map[string]bgp.NeighborState{}}
	go func() {
		defer close(b.done)
		for u := range ch {
			t := time.Now()
			b.mu.Lock()
			b.history = append(b.history, bgpEvent{t, u.Neighbor.ID, u.Neighbor.Established && !u.Removed, len(u.Neighbor.Learned)})
			if u.Removed {
				delete(b.state, u.Neighbor.ID)
			} else {
				b.state[u.Neighbor.ID] = u.Neighbor
			}
			b.evalLocked(t)
			b.mu.Unlock()
		}
	}()
	w.bgpw = b
	return nil
}

func (b *bgpWatch) evalLocked(t time.Time) {
	keep := b.conds[:0]
	for _, c := range b.conds {
		if c.f(b.state) {
			c.at = t
			close(c.done)
			continue
		}
		keep = append(keep, c)
	}
	b.conds = keep
}

// expect registers cond; it is checked now and on every update.
func (b *bgpWatch) expect(f func(map[string]bgp.NeighborState) bool) *bgpCond {
	c := &bgpCond{f: f, done: make(chan struct{})}
	b.mu.Lock()
	b.conds = append(b.conds, c)
	b.evalLocked(time.Now())
	b.mu.Unlock()
	return c
}

func (b *bgpWatch) drop(c *bgpCond) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, x := range b.conds {
		if x == c {
			b.conds = append(b.conds[:i], b.conds[i+1:]...)
			return
		}
	}
}

func (b *bgpWatch) wait(ctx context.Context, c *bgpCond, timeout time.Duration) (time.Time, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-c.done:
		return c.at, nil
	case <-ctx.Done():
		b.drop(c)
		return time.Time{}, ctx.Err()
	case <-t.C:
		b.drop(c)
		return time.Time{}, errors.New("BGP speaker: timed out")
	}
}

func (b *bgpWatch) snapshot() map[string]bgp.NeighborState {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string]bgp.NeighborState{}
	for k, v := range b.state {
		out[k] = v
	}
	return out
}

func (b *bgpWatch) historySince(t time.Time) []bgpEvent {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []bgpEvent
	for _, e := range b.history {
		if !e.at.Before(t) {
			out = append(out, e)
		}
	}
	return out
}

// downs counts sessions going from established to not established.
func (b *bgpWatch) downs() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	up := map[string]bool{}
	n := 0
	for _, e := range b.history {
		if up[e.id] && !e.established {
			n++
		}
		up[e.id] = e.established
	}
	return n
}

func (b *bgpWatch) stop() {
	b.cancel()
	select {
	case <-b.done:
	case <-time.After(5 * time.Second):
	}
}

func learnedHas(n bgp.NeighborState, p netip.Prefix) bool {
	for _, r := range n.Learned {
		if r.Prefix == p {
			return true
		}
	}
	return false
}
