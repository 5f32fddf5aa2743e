package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"opencen/bench/internal/benchkit"
	"opencen/internal/bgp"
	"opencen/internal/dataplane/nsutil"
	"opencen/internal/probe"
)

// jitter sleeps a random time in [base, base+spread): measurements start at a random
// phase of the gateway's 1 s tick (and of the probes), not right after the Apply that
// installed the previous state.
func jitter(ctx context.Context, base, spread time.Duration) error {
	return benchkit.SleepCtx(ctx, base+time.Duration(rand.Int64N(int64(spread))))
}

func nft(ctx context.Context, ns string, args ...string) error {
	_, err := cmdRun(ctx, "ip", append([]string{"netns", "exec", ns, "nft"}, args...)...)
	return err
}

func has(p netip.Prefix) func(map[netip.Prefix]int) bool {
	return func(rs map[netip.Prefix]int) bool { _, ok := rs[p]; return ok }
}

func lacks(p netip.Prefix) func(map[netip.Prefix]int) bool {
	return func(rs map[netip.Prefix]int) bool { _, ok := rs[p]; return !ok }
}

// ---------------------------------------------------------------- 1. health check

type hcRun struct {
	total    time.Duration // drop starts -> route gone from the kernel table
	detect   time.Duration // drop starts -> the prober's failure verdict
	toKernel time.Duration // verdict -> kernel
	api      time.Duration // drop starts -> ListTransitRouterRouteEntries without the route
	status   time.Duration // drop starts -> DescribeVpnConnection says the check failed
	nftCmd   time.Duration // the nft command that starts the drop
	phase    time.Duration // the last probe sent before the drop -> the drop
	exact    bool
}

type hcResult struct {
	interval, retry int
	runs            []hcRun
}

func healthCheck(ctx context.Context, w *world, r *report) error {
	type spec struct{ interval, retry, reps int }
	specs := []spec{{1, 2, w.o.hcReps}}
	if w.o.hc3Reps > 0 {
		specs = append(specs, spec{3, 3, w.o.hc3Reps})
	}
	var conns []*conn
	for i, s := range specs {
		dip, sip := fmt.Sprintf("192.168.%d.1", 91+i), fmt.Sprintf("10.91.255.%d", 250+i)
		c, err := w.connect(ctx, connSpec{name: fmt.Sprintf("hc%dx%d", s.interval, s.retry), wan: fmt.Sprintf("198.18.0.%d", 11+i),
			subnet: fmt.Sprintf("192.168.%d.0/24", 91+i), params: map[string]string{"HealthCheckConfig": fmt.Sprintf(
				`{"enable":true,"dip":%q,"sip":%q,"interval":%d,"retry":%d,"Policy":"revoke_route"}`, dip, sip, s.interval, s.retry)}})
		if err != nil {
			return fmt.Errorf("connection %d: %w", i+1, err)
		}
		c.hDst = netip.MustParseAddr(dip)
		conns = append(conns, c)
	}
	for _, c := range conns {
		if err := w.waitEstablished(ctx, c, 60*time.Second); err != nil {
			return err
		}
	}
	if err := w.stable(ctx, conns, false); err != nil {
		return err
	}
	ready := func(c *conn) error {
		if err := benchkit.WaitFor(ctx, c.name+" health check success", 60*time.Second, 50*time.Millisecond, func() (bool, error) {
			s, err := w.hcStatus(ctx, c)
			return s == "success", err
		}); err != nil {
			return err
		}
		_, _, err := w.waitKernel(ctx, 30*time.Second, func(string) bool { return false }, has(c.dc.Subnet))
		return err
	}
	for _, c := range conns {
		if err := ready(c); err != nil {
			return err
		}
	}
	w.noopApply(ctx)
	w.noopApply(ctx)
	for i, s := range specs {
		c := conns[i]
		res := hcResult{interval: s.interval, retry: s.retry}
		benchkit.Logf("health check %d s x %d: %d failures", s.interval, s.retry, s.reps)
		if err := nft(ctx, c.dc.Netns, "add", "table", "inet", "convhc"); err != nil {
			return err
		}
		if err := nft(ctx, c.dc.Netns, "add", "chain", "inet", "convhc", "in", "{ type filter hook input priority 0 ; }"); err != nil {
			return err
		}
		for rep := range s.reps {
			if err := ready(c); err != nil {
				return err
			}
			// The probes run every Interval from when the check (re)started, which the
			// gateway does inside a sync tick; with Interval = 1 s = the tick, the verdict
			// then always lands at the same point of the tick. Restart the check at a
			// random phase of the tick so that the runs sample it.
			if err := jitter(ctx, 0, time.Second); err != nil {
				return err
			}
			if err := restartCheck(w, c.vco); err != nil {
				return err
			}
			sends := trackProbes(ctx, w, c.vco)
			if err := jitter(ctx, 300*time.Millisecond, time.Duration(s.interval)*time.Second); err != nil {
				return err
			}
			if err := ready(c); err != nil {
				sends.stop()
				return err
			}
			api := w.watchAPI(ctx, 50*time.Millisecond, time.Duration(s.interval*s.retry)*time.Second+30*time.Second, func(ctx context.Context) (bool, error) {
				n, err := w.entries(ctx, map[string]string{"TransitRouterRouteEntryNextHopId": c.att})
				return n == 0, err
			})
			failed := w.watchAPI(ctx, 20*time.Millisecond, time.Duration(s.interval*s.retry)*time.Second+30*time.Second, func(ctx context.Context) (bool, error) {
				s, err := w.hcStatus(ctx, c)
				return s == "failed", err
			})
			t0 := time.Now()
			if err := nft(ctx, c.dc.Netns, "add", "rule", "inet", "convhc", "in", "ip", "daddr", c.hDst.String(), "icmp", "type", "echo-request", "drop"); err != nil {
				return err
			}
			run := hcRun{nftCmd: time.Since(t0)}
			tk, exact, err := w.waitKernel(ctx, time.Duration(s.interval*s.retry)*time.Second+30*time.Second, mentions(c.dc.Subnet, true), lacks(c.dc.Subnet))
			if err != nil {
				return fmt.Errorf("health check %s: route not withdrawn: %w", c.name, err)
			}
			ta, err := api.wait()
			if err != nil {
				return fmt.Errorf("health check %s: %w", c.name, err)
			}
			tf, err := failed.wait()
			if err != nil {
				return fmt.Errorf("health check %s: status: %w", c.name, err)
			}
			run.total, run.exact, run.api, run.status = tk.Sub(t0), exact, ta.Sub(t0), tf.Sub(t0)
			for _, st := range sends.stop() {
				if st.Before(t0) {
					run.phase = t0.Sub(st)
				}
			}
			for _, st := range w.checkStates() {
				if st.Check.ID == c.vco && !st.Healthy {
					run.detect = st.Since.Sub(t0)
					run.toKernel = tk.Sub(st.Since)
				}
			}
			res.runs = append(res.runs, run)
			benchkit.Logf("  %d/%d: drop %s after a probe; route gone after %s (verdict after %s, then %s to the kernel; API status failed %s, route gone from the API %s)", rep+1, s.reps, ms(run.phase),
				ms(run.total), ms(run.detect), ms(run.toKernel), ms(run.status), ms(run.api))
			if err := nft(ctx, c.dc.Netns, "flush", "chain", "inet", "convhc", "in"); err != nil {
				return err
			}
		}
		if err := nft(ctx, c.dc.Netns, "delete", "table", "inet", "convhc"); err != nil {
			return err
		}
		r.hc = append(r.hc, res)
	}
	return nil
}

// probeTracker notes when the prober sends a check's probes (its Sent counter, polled
// every 5 ms).
type probeTracker struct {
	cancel context.CancelFunc
	done   chan struct{}
	sends  []time.Time
}

func trackProbes(ctx context.Context, w *world, vco string) *probeTracker {
	ctx, cancel := context.WithCancel(ctx)
	t := &probeTracker{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(t.done)
		var last uint64
		seen := false
		for ctx.Err() == nil {
			for _, st := range w.checkStates() {
				if st.Check.ID == vco {
					if seen && st.Sent > last {
						t.sends = append(t.sends, time.Now())
					}
					last, seen = st.Sent, true
				}
			}
			_ = benchkit.SleepCtx(ctx, 5*time.Millisecond)
		}
	}()
	return t
}

func (t *probeTracker) stop() []time.Time {
	t.cancel()
	<-t.done
	return t.sends
}

// restartCheck restarts one health check of the gateway's prober now (same check, new
// probe schedule): it stops it and starts it again with the checks the gateway set. The
// gateway's next Set passes the same checks and leaves it running.
func restartCheck(w *world, vco string) error {
	var all, others []probe.Check
	for _, st := range w.checkStates() {
		all = append(all, st.Check)
		if st.Check.ID != vco {
			others = append(others, st.Check)
		}
	}
	if len(all) == len(others) {
		return fmt.Errorf("no health check of %s runs", vco)
	}
	if err := w.in.Gateway.Prober.Set(others); err != nil {
		return err
	}
	return w.in.Gateway.Prober.Set(all)
}

// ---------------------------------------------------------------- 2. BGP withdraw

type wdRun struct {
	prefix    netip.Prefix
	configure time.Duration // birdc configure answered
	bgp       time.Duration // the speaker reports the prefix gone
	api       time.Duration
	kernel    time.Duration
	exact     bool
	announce  time.Duration // the announcement before: configure -> kernel
}

func bgpWithdraw(ctx context.Context, w *world, r *report) error {
	c, err := w.connect(ctx, connSpec{name: "bw", wan: "198.18.0.21", subnet: "192.168.93.0/24", tunnel: "169.254.51.0/30", asn: 65010})
	if err != nil {
		return err
	}
	if err := w.birdStart(ctx, c, []netip.Prefix{c.dc.Subnet}); err != nil {
		return err
	}
	if err := w.waitEstablished(ctx, c, 60*time.Second); err != nil {
		return err
	}
	if err := w.startBGPWatch(ctx); err != nil {
		return err
	}
	if err := w.stable(ctx, []*conn{c}, true); err != nil {
		return err
	}
	if _, _, err := w.waitKernel(ctx, 90*time.Second, func(string) bool { return false }, has(c.dc.Subnet)); err != nil {
		return fmt.Errorf("the DC's subnet never reached the kernel table: %w", err)
	}
	w.noopApply(ctx)
	w.noopApply(ctx)
	ctl, err := dialBird(ctx, c)
	if err != nil {
		return err
	}
	defer ctl.close()
	benchkit.Logf("BGP withdraw: %d withdrawals", w.o.withdrawReps)
	for i := range w.o.withdrawReps {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 20, byte(i), 0}), 24)
		var run wdRun
		run.prefix = p
		// announce p (also at a random phase of the tick), wait until the kernel and the API have it
		if err := jitter(ctx, 100*time.Millisecond, time.Second); err != nil {
			return err
		}
		if err := birdWrite(c, []netip.Prefix{c.dc.Subnet, p}); err != nil {
			return err
		}
		ta0 := time.Now()
		if err := ctl.configure(); err != nil {
			return err
		}
		tk, _, err := w.waitKernel(ctx, 30*time.Second, mentions(p, false), has(p))
		if err != nil {
			return fmt.Errorf("announce %v: %w", p, err)
		}
		run.announce = tk.Sub(ta0)
		filter := map[string]string{"RouteFilter.1.Key": "PrefixExactMatchCidrs", "RouteFilter.1.Value.1": p.String()}
		if err := benchkit.WaitFor(ctx, "the API to show "+p.String(), 10*time.Second, 20*time.Millisecond, func() (bool, error) {
			n, err := w.entries(ctx, filter)
			return n == 1, err
		}); err != nil {
			return err
		}
		if err := jitter(ctx, 300*time.Millisecond, time.Second); err != nil {
			return err
		}
		// withdraw it
		if err := birdWrite(c, []netip.Prefix{c.dc.Subnet}); err != nil {
			return err
		}
		gone := w.bgpw.expect(func(m map[string]bgp.NeighborState) bool { n, ok := m[c.vco]; return ok && !learnedHas(n, p) })
		api := w.watchAPI(ctx, 50*time.Millisecond, 30*time.Second, func(ctx context.Context) (bool, error) {
			n, err := w.entries(ctx, filter)
			return n == 0, err
		})
		t0 := time.Now()
		if err := ctl.configure(); err != nil {
			return err
		}
		run.configure = time.Since(t0)
		tk, exact, err := w.waitKernel(ctx, 30*time.Second, mentions(p, true), lacks(p))
		if err != nil {
			return fmt.Errorf("withdraw %v: %w", p, err)
		}
		tb, err := w.bgpw.wait(ctx, gone, 10*time.Second)
		if err != nil {
			return fmt.Errorf("withdraw %v: %w", p, err)
		}
		ta, err := api.wait()
		if err != nil {
			return fmt.Errorf("withdraw %v: %w", p, err)
		}
		run.kernel, run.exact, run.bgp, run.api = tk.Sub(t0), exact, tb.Sub(t0), ta.Sub(t0)
		r.withdraw = append(r.withdraw, run)
		benchkit.Logf("  %d/%d %v: speaker %s, API %s, kernel %s (announce took %s)", i+1, w.o.withdrawReps, p, ms(run.bgp), ms(run.api), ms(run.kernel), ms(run.announce))
	}
	return nil
}

// ---------------------------------------------------------------- 3. ECMP, tunnel down

type ecmpRun struct {
	victim     string
	bgpDown    time.Duration // kill -> the speaker reports the session down
	firstEvent time.Duration // kill -> the first event the driver saw on the victim's cell (0: none before the route changed)
	eventKind  string
	kernel     time.Duration // kill -> one next hop in the kernel
	api        time.Duration // kill -> one Active entry in the API
	exact      bool
}

// seen is the kill -> "the gateway sees the event" time: the earlier of the BGP session
// going down and the first cell event.
func (e ecmpRun) seen() (time.Duration, string) {
	if e.firstEvent > 0 && e.firstEvent < e.bgpDown {
		return e.firstEvent, "cell event " + e.eventKind
	}
	return e.bgpDown, "BGP session down"
}

func ecmpTunnelDown(ctx context.Context, w *world, r *report) error {
	subnet := "192.168.94.0/24"
	p := netip.MustParsePrefix(subnet)
	a, err := w.connect(ctx, connSpec{name: "ea", wan: "198.18.0.31", subnet: subnet, tunnel: "169.254.61.0/30", asn: 65010})
	if err != nil {
		return err
	}
	b, err := w.connect(ctx, connSpec{name: "eb", wan: "198.18.0.32", subnet: subnet, tunnel: "169.254.62.0/30", asn: 65010})
	if err != nil {
		return err
	}
	for _, c := range []*conn{a, b} {
		if err := w.birdStart(ctx, c, []netip.Prefix{p}); err != nil {
			return err
		}
	}
	for _, c := range []*conn{a, b} {
		if err := w.waitEstablished(ctx, c, 60*time.Second); err != nil {
			return err
		}
	}
	if err := w.startBGPWatch(ctx); err != nil {
		return err
	}
	bothUp := func() error {
		if err := w.stable(ctx, []*conn{a, b}, true); err != nil {
			return err
		}
		if _, _, err := w.waitKernel(ctx, 120*time.Second, func(string) bool { return false }, func(rs map[netip.Prefix]int) bool { return rs[p] == 2 }); err != nil {
			return fmt.Errorf("waiting for the two-hop route: %w", err)
		}
		return benchkit.WaitFor(ctx, "two Active entries", 30*time.Second, 50*time.Millisecond, func() (bool, error) {
			n, err := w.entries(ctx, map[string]string{"TransitRouterRouteEntryDestinationCidrBlock": subnet})
			return n == 2, err
		})
	}
	if err := bothUp(); err != nil {
		return err
	}
	w.noopApply(ctx)
	w.noopApply(ctx)
	benchkit.Logf("ECMP: %d tunnel kills", w.o.ecmpReps)
	for i := range w.o.ecmpReps {
		victim := []*conn{a, b}[i%2]
		if err := jitter(ctx, 300*time.Millisecond, time.Second); err != nil {
			return err
		}
		down := w.bgpw.expect(func(m map[string]bgp.NeighborState) bool { n, ok := m[victim.vco]; return !ok || !n.Established })
		api := w.watchAPI(ctx, 50*time.Millisecond, 120*time.Second, func(ctx context.Context) (bool, error) {
			n, err := w.entries(ctx, map[string]string{"TransitRouterRouteEntryDestinationCidrBlock": subnet})
			return n == 1, err
		})
		pid := victim.dc.Charon.PID()
		if pid == 0 {
			return fmt.Errorf("DC %s: no charon running", victim.name)
		}
		tKill := time.Now()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil { // the DC's charon, started by this process's lab
			return err
		}
		benchkit.Logf("  %d/%d: SIGKILL to %s's charon (pid %d)", i+1, w.o.ecmpReps, victim.name, pid)
		tk, exact, err := w.waitKernel(ctx, 120*time.Second, mentions(p, false), func(rs map[netip.Prefix]int) bool { return rs[p] == 1 })
		if err != nil {
			return err
		}
		tb, err := w.bgpw.wait(ctx, down, 30*time.Second)
		if err != nil {
			return fmt.Errorf("BGP session of %s: %w", victim.name, err)
		}
		ta, err := api.wait()
		if err != nil {
			return err
		}
		run := ecmpRun{victim: victim.name, bgpDown: tb.Sub(tKill), kernel: tk.Sub(tKill), api: ta.Sub(tKill), exact: exact}
		for _, e := range w.rec.eventsAfter(victim.vco, tKill) {
			if e.at.Before(tk) {
				run.firstEvent = e.at.Sub(tKill)
				kind, _, _ := strings.Cut(strings.TrimPrefix(e.text, victim.vco+" "), ":")
				run.eventKind = kind
			}
			break
		}
		r.ecmp = append(r.ecmp, run)
		seen, what := run.seen()
		benchkit.Logf("  %d/%d: %s seen after %s; one next hop in the kernel after %s (%s after the event), API %s", i+1, w.o.ecmpReps,
			what, ms(seen), ms(run.kernel), ms(run.kernel-seen), ms(run.api))
		// restore the victim: its charon, tunnel address and BGP session
		if _, err := victim.dc.Charon.Start(ctx, nsutil.StrongswanConf("")); err != nil {
			return err
		}
		if err := victim.dc.LoadConfig(ctx, victim.conf); err != nil {
			return err
		}
		if err := benchkit.WaitFor(ctx, victim.name+"'s ipsec0", 10*time.Second, 20*time.Millisecond, func() (bool, error) {
			_, err := cmdRun(ctx, "ip", "-n", victim.dc.Netns, "link", "show", "ipsec0")
			return err == nil, nil
		}); err != nil {
			return err
		}
		if err := w.birdStart(ctx, victim, victim.announced); err != nil {
			return err
		}
		if err := bothUp(); err != nil {
			return fmt.Errorf("after restoring %s: %w", victim.name, err)
		}
	}
	return nil
}

// ---------------------------------------------------------------- 4. scale

type scaleResult struct {
	conns, prefixes int
	rounds          []scaleRound // announce everything, then withdraw everything
	verified        string

	rssBefore, rssAfter, hwm int64 // kB, this process (server + gateway + bench)
	speakerRSS               int64 // kB
	applyWith                []time.Duration
}

// scaleRound is one announcement (or withdrawal) of all N x K prefixes; times from the
// last `configure` answered.
type scaleRound struct {
	span              time.Duration // first configure sent -> last answered
	bgp, api, kernel  time.Duration
	exact             bool
	wdSpan            time.Duration
	wdBGP, wdAPI, wdK time.Duration
}

func scalePrefix(k, j int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{100, byte(64 + k), byte(j), 0}), 24)
}

var scaleRange = netip.MustParsePrefix("100.64.0.0/10")

func inScaleRange(l string) bool {
	l = strings.TrimPrefix(l, "Deleted ")
	f, _, _ := strings.Cut(l, " ")
	p, err := netip.ParsePrefix(f)
	return err == nil && scaleRange.Contains(p.Addr())
}

func countScale(rs map[netip.Prefix]int) int {
	n := 0
	for p := range rs {
		if scaleRange.Contains(p.Addr()) {
			n++
		}
	}
	return n
}

func scale(ctx context.Context, w *world, r *report) error {
	N, K := w.o.scaleConns, w.o.scalePrefixes
	res := &scaleResult{conns: N, prefixes: K}
	r.scale = res
	var conns []*conn
	for k := range N {
		c, err := w.connect(ctx, connSpec{name: fmt.Sprintf("s%d", k), wan: fmt.Sprintf("198.18.0.%d", 40+k), subnet: fmt.Sprintf("192.168.%d.0/24", 100+k),
			tunnel: fmt.Sprintf("169.254.%d.0/30", 70+k), asn: uint32(65100 + k)})
		if err != nil {
			return fmt.Errorf("connection %d: %w", k+1, err)
		}
		conns = append(conns, c)
	}
	benchkit.Logf("scale: %d connections created", N)
	for _, c := range conns {
		if err := w.waitEstablished(ctx, c, 90*time.Second); err != nil {
			return err
		}
	}
	if err := w.startBGPWatch(ctx); err != nil {
		return err
	}
	up := w.bgpw.expect(func(m map[string]bgp.NeighborState) bool {
		for _, c := range conns {
			if !m[c.vco].Established {
				return false
			}
		}
		return true
	})
	if _, err := w.bgpw.wait(ctx, up, 120*time.Second); err != nil {
		return fmt.Errorf("waiting for %d BGP sessions: %w (%d up)", N, err, countUp(w.bgpw.snapshot()))
	}
	benchkit.Logf("scale: %d BGP sessions established; waiting until every cell has one child SA and every session has lasted a hold time", N)
	if err := w.stable(ctx, conns, true); err != nil {
		return err
	}
	w.noopApply(ctx)
	w.noopApply(ctx)
	var ctls []*birdCtl
	defer func() {
		for _, b := range ctls {
			b.close()
		}
	}()
	for _, c := range conns {
		b, err := dialBird(ctx, c)
		if err != nil {
			return err
		}
		ctls = append(ctls, b)
	}
	all := func(n int) func(map[string]bgp.NeighborState) bool {
		return func(m map[string]bgp.NeighborState) bool {
			for _, c := range conns {
				if len(m[c.vco].Learned) != n {
					return false
				}
			}
			return true
		}
	}
	filter := map[string]string{"RouteFilter.1.Key": "SubnetOfMatchCidrs", "RouteFilter.1.Value.1": scaleRange.String()}
	// step announces (K prefixes per connection) or withdraws (K = 0) everything and
	// times it from the last configure answered.
	step := func(k int) (span, tb, ta, tk time.Duration, exact bool, err error) {
		for i, c := range conns {
			var ps []netip.Prefix
			for j := range k {
				ps = append(ps, scalePrefix(i, j))
			}
			if err := birdWrite(c, ps); err != nil {
				return 0, 0, 0, 0, false, err
			}
		}
		learned := w.bgpw.expect(all(k))
		api := w.watchAPI(ctx, 100*time.Millisecond, 120*time.Second, func(ctx context.Context) (bool, error) {
			n, err := w.entries(ctx, filter)
			return n == N*k, err
		})
		relevant := func(l string) bool { return strings.HasPrefix(l, "Deleted ") == (k == 0) && inScaleRange(l) }
		tFirst := time.Now()
		for _, b := range ctls {
			if err := b.configure(); err != nil {
				return 0, 0, 0, 0, false, err
			}
		}
		tLast := time.Now()
		kt, exact, err := w.waitKernel(ctx, 120*time.Second, relevant, func(rs map[netip.Prefix]int) bool { return countScale(rs) == N*k })
		if err != nil {
			rs, _ := w.kernelRoutes(ctx)
			return 0, 0, 0, 0, false, fmt.Errorf("%w (%d of %d in the kernel)", err, countScale(rs), N*k)
		}
		bt, err := w.bgpw.wait(ctx, learned, 60*time.Second)
		if err != nil {
			return 0, 0, 0, 0, false, fmt.Errorf("speaker: %w", err)
		}
		at, err := api.wait()
		if err != nil {
			return 0, 0, 0, 0, false, err
		}
		if bt.Sub(tLast) > 2*time.Second { // show what the speaker saw
			for _, e := range w.bgpw.historySince(tFirst) {
				benchkit.Logf("scale: +%s %s established=%v learned=%d", ms(e.at.Sub(tLast)), e.id, e.established, e.learned)
			}
		}
		return tLast.Sub(tFirst), bt.Sub(tLast), at.Sub(tLast), kt.Sub(tLast), exact, nil
	}
	for round := range w.o.scaleRounds {
		if err := jitter(ctx, 300*time.Millisecond, time.Second); err != nil {
			return err
		}
		if round == 0 {
			settleGo()
			res.rssBefore = procMemory(os.Getpid()).rss
			_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // reset VmHWM
		}
		var sr scaleRound
		var err error
		benchkit.Logf("scale: round %d: announcing %d x %d prefixes", round+1, N, K)
		if sr.span, sr.bgp, sr.api, sr.kernel, sr.exact, err = step(K); err != nil {
			return err
		}
		benchkit.Logf("scale: round %d: all %d routes learned after %s, in the API after %s, in the kernel after %s (from the last configure; the configures took %s)",
			round+1, N*K, ms(sr.bgp), ms(sr.api), ms(sr.kernel), ms(sr.span))
		if round == 0 {
			m := procMemory(os.Getpid())
			res.rssAfter = m.rss
			for pid := range nsutil.ProcessesInNetns([]string{w.rns}) {
				if nsutil.Comm(pid) == "opencen" {
					res.speakerRSS = procMemory(pid).rss
				}
			}
			res.verified = verifyScale(ctx, w, conns, K)
			benchkit.Logf("scale: %s", res.verified)
			for range 2 {
				w.noopApply(ctx)
				res.applyWith = append(res.applyWith, w.applyTimes[len(w.applyTimes)-1])
			}
			w.applyTimes = w.applyTimes[:len(w.applyTimes)-2]
		}
		if err := jitter(ctx, 300*time.Millisecond, time.Second); err != nil {
			return err
		}
		if sr.wdSpan, sr.wdBGP, sr.wdAPI, sr.wdK, _, err = step(0); err != nil {
			return fmt.Errorf("withdrawing: %w", err)
		}
		benchkit.Logf("scale: round %d: all %d routes withdrawn: speaker %s, API %s, kernel %s after the last configure", round+1, N*K, ms(sr.wdBGP), ms(sr.wdAPI), ms(sr.wdK))
		res.rounds = append(res.rounds, sr)
	}
	res.hwm = procMemory(os.Getpid()).hwm
	return nil
}

func countUp(m map[string]bgp.NeighborState) int {
	n := 0
	for _, s := range m {
		if s.Established {
			n++
		}
	}
	return n
}

// verifyScale checks that the API lists exactly the announced prefixes, each through the
// connection that announced it, and that the kernel has all of them.
func verifyScale(ctx context.Context, w *world, conns []*conn, K int) string {
	es, err := w.allEntries(ctx, map[string]string{"RouteFilter.1.Key": "SubnetOfMatchCidrs", "RouteFilter.1.Value.1": scaleRange.String()})
	if err != nil {
		return "verification failed: " + err.Error()
	}
	want := map[string]string{}
	for k, c := range conns {
		for j := range K {
			want[scalePrefix(k, j).String()] = c.att
		}
	}
	var bad []string
	seen := map[string]bool{}
	for _, e := range es {
		p := benchkit.Str(e, "TransitRouterRouteEntryDestinationCidrBlock")
		if want[p] != benchkit.Str(e, "TransitRouterRouteEntryNextHopId") || seen[p] {
			bad = append(bad, p)
		}
		seen[p] = true
	}
	rs, err := w.kernelRoutes(ctx)
	if err != nil {
		return "verification failed: " + err.Error()
	}
	missing := 0
	for p := range want {
		if _, ok := rs[netip.MustParsePrefix(p)]; !ok {
			missing++
		}
	}
	if len(es) != len(want) || len(bad) > 0 || missing > 0 {
		return fmt.Sprintf("verification FAILED: API lists %d entries (%d wrong or duplicated), the kernel misses %d of %d", len(es), len(bad), missing, len(want))
	}
	return fmt.Sprintf("verified: the API pages list exactly the %d announced prefixes, each via the attachment of the connection that announced it; the kernel table has all of them", len(want))
}

// ---------------------------------------------------------------- process facts

type procMem struct{ rss, hwm int64 } // kB

func procMemory(pid int) procMem {
	st := benchkit.ProcFields(pid, "status")
	return procMem{rss: st["VmRSS"], hwm: st["VmHWM"]}
}

// settleGo collects garbage and returns freed memory to the OS, so that RSS samples
// compare live data.
func settleGo() {
	runtime.GC()
	debug.FreeOSMemory()
	time.Sleep(200 * time.Millisecond)
}

// checkStates are the gateway's running health checks.
func (w *world) checkStates() []probe.State {
	if p, ok := w.in.Gateway.Prober.(*probe.Prober); ok {
		return p.Status()
	}
	return nil
}
