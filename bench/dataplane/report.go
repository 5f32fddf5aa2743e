package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

type report struct {
	opts    options
	facts   []string
	started time.Time

	loadBefore, loadAfter string
	failure               error

	base, ocen setupResult

	baseMem, ocenMem memSummary
	ocenLoadedRSS    int64 // kB: charon of the iperf connection after the throughput runs

	gwBefore, gwAfter, gwAfterGC selfSample
	gwIdleCPU, gwIdleChildCPU    float64 // cores, with N connections up and nothing changing

	rawTput, ocenTput []iperfResult
	rawESP, ocenESP   string
	noopApply         []time.Duration
	// stalls: the main world's check first, then the stall runs'
	stalls []stallResult
	modify modifyResult

	gwWarnings []string
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
func ms(d time.Duration) string   { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
func mib(kb float64) string       { return fmt.Sprintf("%.1f MiB", kb/1024) }

func spread(m map[int]time.Duration) string {
	d := sortedDurations(m)
	if len(d) == 0 {
		return "—"
	}
	return fmt.Sprintf("first %s, median %s, last %s", secs(d[0]), secs(d[len(d)/2]), secs(d[len(d)-1]))
}

func meanTput(rs []iperfResult) (mean float64, each []string, retr int) {
	for _, r := range rs {
		mean += r.mbps
		each = append(each, fmt.Sprintf("%.0f", r.mbps))
		retr += r.retransmits
	}
	if len(rs) > 0 {
		mean /= float64(len(rs))
	}
	return mean, each, retr
}

func verdict(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**missed**"
}

func (r *report) print(out io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	n := r.opts.conns
	p("")
	p("## Data-plane benchmark (`go run ./bench/dataplane -store %s -conns %d -iperf %s -rounds %d`)", r.opts.store, n, r.opts.iperf, r.opts.rounds)
	p("")
	if r.opts.store == "etcd" {
		p("- Store etcd (embedded, loopback): the connections run on a gateway node placed by the placement controller; server and node share this process")
	}
	for _, f := range r.facts {
		p("- %s", f)
	}
	p("- Load average before / after: %s / %s", r.loadBefore, r.loadAfter)
	p("- Server transition delay %s (as in contract/e2e); gateway sync interval 1 s; run took %s", r.opts.transition, time.Since(r.started).Round(time.Second))
	if r.failure != nil {
		p("")
		p("**The run failed:** %v", r.failure)
	}
	p("")
	p("| measurement | OpenCEN | strongSwan alone (recipe) | OpenCEN / recipe | target | |")
	p("|---|---:|---:|---:|---|---|")
	if r.base.allUp > 0 && r.ocen.allUp > 0 {
		ratio := r.ocen.allUp.Seconds() / r.base.allUp.Seconds()
		p("| setup: %d connections, first API call (recipe: first command) until all %d established | %s | %s | %.2f× | ≤ 1.3× | %s |",
			n, n, secs(r.ocen.allUp), secs(r.base.allUp), ratio, verdict(ratio <= 1.3))
	}
	if len(r.rawTput) > 0 && len(r.ocenTput) > 0 {
		om, _, _ := meanTput(r.ocenTput)
		rm, _, _ := meanTput(r.rawTput)
		ratio := om / rm
		p("| throughput: iperf3 TCP DC host → VPC host, %s, aes128-sha1, mean of %d | %.0f Mbit/s | %.0f Mbit/s | %.2f× | ≥ 0.8× | %s |",
			r.opts.iperf, len(r.ocenTput), om, rm, ratio, verdict(ratio >= 0.8))
	}
	if r.ocenMem.n > 0 {
		growth := float64(r.gwAfter.rss-r.gwBefore.rss) / float64(n)
		per := r.ocenMem.rss + growth
		ratio := "—"
		if r.baseMem.n > 0 {
			ratio = fmt.Sprintf("%.2f×", r.ocenMem.rss/r.baseMem.rss)
		}
		base := "—"
		if r.baseMem.n > 0 {
			base = mib(r.baseMem.rss)
		}
		p("| memory: charon VmRSS per connection (average of %d) | %s | %s | %s | | |", r.ocenMem.n, mib(r.ocenMem.rss), base, ratio)
		p("| memory: gateway process RSS growth per connection | %s | — | | | |", mib(growth))
		p("| memory per connection, charon included | %s | %s | | ≤ 16 MB (15.3 MiB) | %s |", mib(per), base, verdict(per*1024 <= 16e6))
	}
	if len(r.noopApply) > 0 {
		worst := slices.Max(r.noopApply)
		p("| gateway pass with nothing changed, %d connections (longest over %s, %d windows) | %s | — | | < 100 ms | %s |", n, idleWindow, len(r.noopApply), ms(worst), verdict(worst < 100*time.Millisecond))
	}
	if r.modify.newSA > 0 {
		p("| one connection modified among %d: API call until its cell reloaded / its new IKE SA was up | %s / %s | — | | ≤ 1 s (reloaded) | %s |",
			n, ms(r.modify.reloaded), ms(r.modify.newSA), verdict(r.modify.reloaded <= time.Second))
	}
	if len(r.stalls) > 0 {
		total, conns := 0, 0
		for _, s := range r.stalls {
			total += len(s.stalled)
			conns += s.conns
		}
		p("| cells that stalled while reported ipsec_sa_established (%d worlds, %d connections, %s of pings each) | %d | — | | 0 | %s |",
			len(r.stalls), conns, r.stalls[0].window, total, verdict(total == 0))
	}
	p("")
	p("Details:")
	if r.base.allUp > 0 {
		p("- Recipe setup: all %d child SAs established in the cells' charon logs after %s (%s).", n, secs(r.base.allUp), spread(r.base.charonUp))
	}
	if r.ocen.allUp > 0 {
		p("- OpenCEN setup: creating API calls and DCs done after %s; attach/associate/propagate/route entries done after %s; "+
			"tunnels established in the cells' charon logs after %s (%s); reported ipsec_sa_established by the API after %s (%s).",
			secs(r.ocen.apiDone), secs(r.ocen.linkDone), secs(r.ocen.charonAllUp), spread(r.ocen.charonUp), secs(r.ocen.allUp), spread(r.ocen.apiUp))
	}
	if len(r.rawTput) > 0 {
		om, oe, or := meanTput(r.ocenTput)
		rm, re, rr := meanTput(r.rawTput)
		p("- Throughput per round (Mbit/s, rounds alternate which path runs first): OpenCEN %s (mean %.0f, %d retransmits), recipe %s (mean %.0f, %d retransmits).",
			strings.Join(oe, ", "), om, or, strings.Join(re, ", "), rm, rr)
		p("- Child SAs carrying the traffic: OpenCEN `%s`, recipe `%s`.", r.ocenESP, r.rawESP)
	}
	if r.ocenMem.n > 0 {
		m, b := r.ocenMem, r.baseMem
		p("- OpenCEN charons (%d): VmRSS avg %s (min %s, max %s), RssAnon avg %s, Pss avg %s, %.0f threads.",
			m.n, mib(m.rss), mib(float64(m.minRSS)), mib(float64(m.maxRSS)), mib(m.anon), mib(m.pss), m.threads)
		if b.n > 0 {
			p("- Recipe charons (%d): VmRSS avg %s (min %s, max %s), RssAnon avg %s, Pss avg %s, %.0f threads.",
				b.n, mib(b.rss), mib(float64(b.minRSS)), mib(float64(b.maxRSS)), mib(b.anon), mib(b.pss), b.threads)
		}
		if r.ocenLoadedRSS > 0 {
			p("- The charon carrying the iperf3 traffic had VmRSS %s after the throughput runs.", mib(float64(r.ocenLoadedRSS)))
		}
		p("- Gateway process (this process: API server, gateway, driver, and the bench client): VmRSS %s before the first connection (after GC), "+
			"%s with %d connections up, %s after GC; goroutines %d → %d, threads %d → %d.",
			mib(float64(r.gwBefore.rss)), mib(float64(r.gwAfter.rss)), n, mib(float64(r.gwAfterGC.rss)),
			r.gwBefore.goroutines, r.gwAfter.goroutines, r.gwBefore.threads, r.gwAfter.threads)
		p("- Gateway process CPU with %d connections up and nothing changing (5 s after the setup and the timed Applies below; bench client idle): %.1f%% of one core, plus %.1f%% in the commands it ran.",
			n, 100*r.gwIdleCPU, 100*r.gwIdleChildCPU)
	}
	if len(r.noopApply) > 0 {
		var ds []string
		for _, d := range r.noopApply {
			ds = append(ds, ms(d))
		}
		p("- The longest gateway pass with nothing changed, over %s, with %d connections: %s.", idleWindow, n, strings.Join(ds, ", "))
	}
	if r.modify.newSA > 0 {
		p("- Modify one connection (#%d, IpsecConfig.IpsecLifetime 3600 through ModifyVpnAttachmentAttribute): its cell reloaded %s and had its new IKE SA %s after the call; %d other cells were not touched, %d were.",
			r.modify.conn, ms(r.modify.reloaded), ms(r.modify.newSA), r.modify.untouched, r.modify.touched)
	}
	for i, s := range r.stalls {
		name := "the benchmark's world"
		if i > 0 {
			name = fmt.Sprintf("stall run %d", i)
		}
		var each []string
		for k, d := range s.stalled {
			each = append(each, fmt.Sprintf("#%d dark %s", k, secs(d)))
		}
		slices.Sort(each)
		p("- Stalls in %s (%d connections, pings every %s for %s): %d stalled while reported established%s; %d went dark at all.",
			name, s.conns, stallInterval, s.window, len(s.stalled), strings.Join(append([]string{""}, each...), ", "), s.dark)
	}
	if len(r.gwWarnings) > 0 {
		p("- Server/gateway warnings during the run:")
		for i, w := range r.gwWarnings {
			if i == 10 {
				p("  - ... %d more", len(r.gwWarnings)-10)
				break
			}
			p("  - `%s`", w)
		}
	} else if r.ocen.allUp > 0 {
		p("- The server and gateway logged no warnings.")
	}
}
