package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"opencen/bench/internal/benchkit"
	"opencen/internal/dataplane/nsutil"
	"opencen/internal/lab"
)

type report struct {
	opts    options
	facts   []string
	started time.Time

	loadBefore, loadAfter string
	failure               error

	hc       []hcResult
	withdraw []wdRun
	ecmp     []ecmpRun
	scale    *scaleResult

	noopApply map[string][]time.Duration
	incidents map[string]incidents
	warnings  []string
}

// incidents of a world: the driver's deletions of duplicate IKE SAs and BGP sessions
// going down (-1: no BGP).
type incidents struct{ dedups, bgpDowns int }

func ms(d time.Duration) string {
	if d < 10*time.Second {
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

// stats: min, median, max and the nearest-rank p99.
type stats struct {
	n                  int
	min, p50, max, p99 time.Duration
}

func statsOf(ds []time.Duration) stats {
	if len(ds) == 0 {
		return stats{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := func(p float64) time.Duration { return s[max(0, int(math.Ceil(p*float64(len(s))))-1)] }
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stats{n: len(s), min: s[0], p50: med, max: s[len(s)-1], p99: rank(0.99)}
}

func pick[T any](xs []T, f func(T) time.Duration) []time.Duration {
	var out []time.Duration
	for _, x := range xs {
		out = append(out, f(x))
	}
	return out
}

func verdict(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**missed**"
}

func (r *report) print(out io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	o := r.opts
	p("")
	p("## Convergence benchmark (`go run ./bench/convergence -hc-reps %d -hc3-reps %d -withdraw-reps %d -ecmp-reps %d -scale-conns %d -scale-prefixes %d -scale-rounds %d`)",
		o.hcReps, o.hc3Reps, o.withdrawReps, o.ecmpReps, o.scaleConns, o.scalePrefixes, o.scaleRounds)
	p("")
	for _, f := range r.facts {
		p("- %s", f)
	}
	p("- Load average before / after: %s / %s", r.loadBefore, r.loadAfter)
	dpd := "10 s (default)"
	if o.dpdDelay > 0 {
		dpd = o.dpdDelay.String()
	}
	p("- Gateway sync interval 1 s (`gateway.New`); server transition delay %s; cells' DPD delay %s; the run took %s",
		o.transition, dpd, time.Since(r.started).Round(time.Second))
	if r.failure != nil {
		p("")
		p("**The run failed:** %v", r.failure)
	}
	p("")
	p("| measurement | runs | min | median | max | target | |")
	p("|---|---:|---:|---:|---:|---|---|")
	row := func(what string, ds []time.Duration, target string, ok *bool) {
		s := statsOf(ds)
		if s.n == 0 {
			return
		}
		v := ""
		if ok != nil {
			v = verdict(*ok)
		}
		p("| %s | %d | %s | %s | %s | %s | %s |", what, s.n, ms(s.min), ms(s.p50), ms(s.max), target, v)
	}
	for _, h := range r.hc {
		limit := time.Duration(h.interval*h.retry)*time.Second + time.Second
		tot := pick(h.runs, func(x hcRun) time.Duration { return x.total })
		ok := statsOf(tot).max <= limit
		row(fmt.Sprintf("health check %d s × %d: DC drops the echo requests → the connection's route leaves the router's kernel table", h.interval, h.retry),
			tot, fmt.Sprintf("≤ %s (every run)", ms(limit)), &ok)
		row("  of which: drop → the prober's failure verdict", pick(h.runs, func(x hcRun) time.Duration { return x.detect }), "", nil)
		row("  of which: verdict → route gone from the kernel", pick(h.runs, func(x hcRun) time.Duration { return x.toKernel }), "", nil)
		row("  of which: verdict → DescribeVpnConnection shows the check failed (polled every 20 ms)", pick(h.runs, func(x hcRun) time.Duration { return x.status - x.detect }), "", nil)
		row("  drop → DescribeVpnConnection shows the check failed (polled every 20 ms)", pick(h.runs, func(x hcRun) time.Duration { return x.status }), "", nil)
		row("  drop → ListTransitRouterRouteEntries without the route (polled every 50 ms)", pick(h.runs, func(x hcRun) time.Duration { return x.api }), "", nil)
	}
	if len(r.withdraw) > 0 {
		k := pick(r.withdraw, func(x wdRun) time.Duration { return x.kernel })
		s := statsOf(k)
		ok := s.p99 < time.Second
		p("| BGP withdraw: BIRD `configure` without the prefix → route gone from the kernel table | %d | %s | %s (p50) | %s (p99 %s) | p99 < 1 s | %s |",
			s.n, ms(s.min), ms(s.p50), ms(s.max), ms(s.p99), verdict(ok))
		row("  configure → the speaker reports the prefix gone", pick(r.withdraw, func(x wdRun) time.Duration { return x.bgp }), "", nil)
		row("  configure → ListTransitRouterRouteEntries without it (polled every 50 ms)", pick(r.withdraw, func(x wdRun) time.Duration { return x.api }), "", nil)
		row("  speaker → kernel", pick(r.withdraw, func(x wdRun) time.Duration { return x.kernel - x.bgp }), "", nil)
		row("  (for comparison) announcement: configure → route in the kernel", pick(r.withdraw, func(x wdRun) time.Duration { return x.announce }), "", nil)
	}
	if len(r.ecmp) > 0 {
		ev := pick(r.ecmp, func(x ecmpRun) time.Duration { s, _ := x.seen(); return x.kernel - s })
		ok := statsOf(ev).max < time.Second
		row("ECMP, one DC's charon SIGKILLed: the gateway sees the event → the multipath route has one next hop", ev, "< 1 s (every run)", &ok)
		row("  kill → the event is seen (BGP hold timer; see below)", pick(r.ecmp, func(x ecmpRun) time.Duration { s, _ := x.seen(); return s }), "", nil)
		row("  kill → one next hop in the kernel (total)", pick(r.ecmp, func(x ecmpRun) time.Duration { return x.kernel }), "", nil)
		row("  kill → one Active entry in ListTransitRouterRouteEntries", pick(r.ecmp, func(x ecmpRun) time.Duration { return x.api }), "", nil)
	}
	if s := r.scale; s != nil && len(s.rounds) > 0 {
		n := s.conns * s.prefixes
		api := pick(s.rounds, func(x scaleRound) time.Duration { return x.api })
		kern := pick(s.rounds, func(x scaleRound) time.Duration { return x.kernel })
		okA, okK := statsOf(api).max < 2*time.Second, statsOf(kern).max < 2*time.Second
		row(fmt.Sprintf("scale: %d connections × %d prefixes from BIRD, last announcement → all %d in ListTransitRouterRouteEntries (polled every 100 ms)", s.conns, s.prefixes, n),
			api, "< 2 s (every round)", &okA)
		row(fmt.Sprintf("scale: last announcement → all %d in the kernel table", n), kern, "< 2 s (every round)", &okK)
		row(fmt.Sprintf("  last announcement → the speaker has learned all %d", n), pick(s.rounds, func(x scaleRound) time.Duration { return x.bgp }), "", nil)
		row(fmt.Sprintf("  (for comparison) withdrawing all %d: last configure → gone from the kernel", n), pick(s.rounds, func(x scaleRound) time.Duration { return x.wdK }), "", nil)
		p("| scale: gateway (bench process: API server + gateway + bench client) VmRSS before → with %d routes (peak during the rounds) | | | %.1f → %.1f MiB (%.1f) | | | |", n,
			float64(s.rssBefore)/1024, float64(s.rssAfter)/1024, float64(s.hwm)/1024)
	}
	p("")
	p("Details:")
	for _, h := range r.hc {
		var each []string
		for _, x := range h.runs {
			each = append(each, fmt.Sprintf("%s (drop %s after a probe; verdict %s + %s)", ms(x.total), ms(x.phase), ms(x.detect), ms(x.toKernel)))
		}
		p("- Health check %d s × %d, per run: %s. The check was restarted at a random phase of the gateway tick before each run (see below); the nft command that starts the drop took %s (median), its start is the clock's zero.",
			h.interval, h.retry, strings.Join(each, ", "), ms(statsOf(pick(h.runs, func(x hcRun) time.Duration { return x.nftCmd })).p50))
	}
	if len(r.withdraw) > 0 {
		var each []string
		for _, x := range r.withdraw {
			each = append(each, ms(x.kernel))
		}
		p("- BGP withdraw per run (kernel): %s. `configure` answered after %s (median).", strings.Join(each, ", "),
			ms(statsOf(pick(r.withdraw, func(x wdRun) time.Duration { return x.configure })).p50))
	}
	for i, x := range r.ecmp {
		s, what := x.seen()
		ev := "no cell event before the route changed"
		if x.firstEvent > 0 {
			ev = fmt.Sprintf("first cell event %q after %s", x.eventKind, ms(x.firstEvent))
		}
		p("- ECMP run %d (victim %s): BGP session down after %s, %s; seen: %s at %s; one next hop after %s (%s after the event); API after %s.",
			i+1, x.victim, ms(x.bgpDown), ev, what, ms(s), ms(x.kernel), ms(x.kernel-s), ms(x.api))
	}
	if s := r.scale; s != nil && len(s.rounds) > 0 {
		var each []string
		for i, x := range s.rounds {
			each = append(each, fmt.Sprintf("round %d: speaker %s, API %s, kernel %s (withdrawal: speaker %s, API %s, kernel %s)",
				i+1, ms(x.bgp), ms(x.api), ms(x.kernel), ms(x.wdBGP), ms(x.wdAPI), ms(x.wdK)))
		}
		p("- Scale, from the last `configure` answered (the %d configures took %s): %s.", s.conns, ms(s.rounds[0].span), strings.Join(each, "; "))
		p("- Scale: %s. BGP speaker VmRSS with %d routes: %.1f MiB.", s.verified, s.conns*s.prefixes, float64(s.speakerRSS)/1024)
		var aw []string
		for _, d := range s.applyWith {
			aw = append(aw, ms(d))
		}
		p("- Scale: the driver's `Apply` of the unchanged state with %d cells and %d routes: %s.", s.conns, s.conns*s.prefixes, strings.Join(aw, ", "))
	}
	for _, k := range []string{"hc", "withdraw", "ecmp", "scale"} {
		if ds := r.noopApply[k]; len(ds) > 0 {
			var each []string
			for _, d := range ds {
				each = append(each, ms(d))
			}
			p("- The longest gateway pass with nothing changed in the %s world (over 2 s, before measuring): %s.", k, strings.Join(each, ", "))
		}
	}
	for _, k := range []string{"hc", "withdraw", "ecmp", "scale"} {
		inc, ok := r.incidents[k]
		if !ok {
			continue
		}
		bgpNote := ""
		if inc.bgpDowns >= 0 {
			bgpNote = fmt.Sprintf("; BGP sessions that went down: %d", inc.bgpDowns)
			if k == "ecmp" {
				bgpNote += fmt.Sprintf(" (%d of them killed by the bench)", len(r.ecmp))
			}
		}
		p("- %s world: the driver deleted %d duplicate IKE SAs (both ends initiated at once)%s.", k, inc.dedups, bgpNote)
	}
	exactAll := true
	for _, x := range r.withdraw {
		exactAll = exactAll && x.exact
	}
	for _, x := range r.ecmp {
		exactAll = exactAll && x.exact
	}
	for _, h := range r.hc {
		for _, x := range h.runs {
			exactAll = exactAll && x.exact
		}
	}
	if r.scale != nil {
		for _, x := range r.scale.rounds {
			exactAll = exactAll && x.exact
		}
	}
	if exactAll {
		p("- Kernel times are the arrival of the route change on `ip monitor route` in the router namespace (no polling).")
	} else {
		p("- Kernel times are the arrival of the route change on `ip monitor route` where it was seen, else the time of the `ip route show` that saw it.")
	}
	if len(r.warnings) == 0 {
		p("- The server and gateway logged no warnings.")
	} else {
		p("- Server/gateway warnings:")
		for _, w := range r.warnings {
			p("  - %s", w)
		}
	}
}

func machineFacts() []string {
	f := benchkit.MachineFacts()
	swan := firstLine(exec.Command(nsutil.CharonPath, "--version").Output())
	if v := firstLine(exec.Command("dpkg-query", "-W", "-f", "${Version}", "strongswan-charon").Output()); v != "unknown" && v != "" {
		swan += " (Debian " + v + ")"
	}
	bird := firstLine(exec.Command(lab.BIRDPath, "--version").CombinedOutput())
	ipv := firstLine(exec.Command("ip", "-V").Output())
	return append(f, "strongSwan: "+swan+" (kernel-libipsec); "+bird+"; "+ipv)
}

func firstLine(b []byte, err error) string {
	if err != nil && len(b) == 0 {
		return "unknown"
	}
	l, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return l
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
