// Command dataplane benchmarks OpenCEN's sandbox data plane (the netns driver: one
// namespace + charon with kernel-libipsec per IPsec-VPN connection) against strongSwan
// alone, in one run on this machine:
//
//  1. Setup time: N IPsec-VPN connections created through the API of an in-process server
//     with its gateway (one transit router, one VPC host, each connection with its own lab
//     data center configured from OpenCEN's rendered swanctl.conf, EffectImmediately=true),
//     from the first API call until all N report ipsec_sa_established — next to a baseline
//     that builds N route-based cells by hand the way the sandbox recipe rb-add-conn.sh
//     does (cell namespace, veths, rules, nft, charon, swanctl --load-all) plus the same
//     lab data centers, until all N child SAs are established.
//
//  2. Throughput: iperf3 TCP from a data-center host to the VPC host through one OpenCEN
//     connection and through one hand-built cell (both aes128-sha1), in alternating rounds.
//
//  3. Memory per connection: VmRSS of each connection's charon (pids from the driver's
//     Status) and the growth of this process's RSS (it runs the server and its gateway).
//
//     go run ./bench/dataplane [-conns 20] [-iperf 5s] [-rounds 3]
//     go run ./bench/dataplane -cleanup RID     # remove what a killed run left behind
//
// It needs root, strongSwan (see internal/dataplane/nsutil.Packages) and iperf3. Every
// namespace, link, process and directory it creates carries the run's ID (printed at the
// start) and is removed on every exit path, Ctrl-C included.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"opencen/bench/internal/benchkit"
	"opencen/internal/dataplane/nsutil"
	"opencen/internal/lab"
)

type options struct {
	store       string
	conns       int
	stallRuns   int
	noBaseline  bool
	stallWindow time.Duration
	iperf       time.Duration
	rounds      int
	transition  time.Duration
	verbose     bool
	cpuprofile  string
	noMeter     bool
}

// names are everything a run creates, derived from its ID.
type names struct {
	rid     string
	base    string // run directory
	bLab    string // baseline lab prefix (WAN, DCs, VPC host)
	bOwn    string // baseline hand-built router and cells: <bOwn>r, <bOwn>c<k>
	oLab    string // OpenCEN lab prefix
	gw      string // OpenCEN gateway (driver) prefix
	bVethRt string // baseline: link names in the root/WAN/router namespaces start with this
}

func namesFor(rid string) names {
	return names{
		rid:     rid,
		base:    filepath.Join(os.TempDir(), "opencen-dpbench-"+rid),
		bLab:    "b" + rid,
		bOwn:    "b" + rid + "-",
		oLab:    "o" + rid,
		gw:      "g" + rid + "-",
		bVethRt: "b" + rid,
	}
}

func main() {
	var o options
	var cleanupRID string
	flag.StringVar(&o.store, "store", "bolt", "bolt: the server runs the gateway; etcd: the server on an embedded etcd and the connections on a gateway node (in this process too)")
	flag.IntVar(&o.conns, "conns", 20, "IPsec-VPN connections (and baseline cells) to set up, 1 to 200")
	flag.BoolVar(&o.noBaseline, "no-baseline", false, "skip strongSwan alone (the recipe): no ratios, no throughput; for scale runs")
	flag.IntVar(&o.stallRuns, "stall-runs", 0, "after the benchmark, build this many more OpenCEN worlds of -conns connections, one after the other, and count the connections that stall while reported established")
	flag.DurationVar(&o.stallWindow, "stall-window", 25*time.Second, "how long to ping through every connection after they all came up, looking for stalls")
	flag.DurationVar(&o.iperf, "iperf", 5*time.Second, "iperf3 duration per throughput run (0 = skip the throughput part)")
	flag.IntVar(&o.rounds, "rounds", 3, "throughput rounds; each round runs the raw cell and the OpenCEN connection once, order alternating")
	flag.DurationVar(&o.transition, "transition-delay", 100*time.Millisecond, "the server's simulated transition delay (Creating/Attaching ... -> Active), as in contract/e2e")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of this process (server + gateway) during the idle window after the setup to FILE")
	flag.BoolVar(&o.noMeter, "no-meter", false, "run OpenCEN's connections without the traffic meter (compare the throughput ratio with a run with it)")
	flag.BoolVar(&o.verbose, "v", false, "log the server and gateway to stderr (Info)")
	flag.StringVar(&cleanupRID, "cleanup", "", "remove the namespaces, processes and files of the run with this ID, then exit")
	flag.Parse()
	if cleanupRID != "" {
		if err := cleanupRun(namesFor(cleanupRID)); err != nil {
			fmt.Fprintln(os.Stderr, "cleanup:", err)
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "cleaned up run", cleanupRID)
		return
	}
	if o.conns < 1 || o.conns > 200 {
		fmt.Fprintln(os.Stderr, "-conns must be 1 to 200")
		os.Exit(2)
	}
	if o.rounds < 1 {
		o.rounds = 1
	}
	os.Exit(run(o))
}

func newRID() (string, error) {
	for range 20 {
		b := make([]byte, 2)
		_, _ = rand.Read(b)
		rid := hex.EncodeToString(b)
		n := namesFor(rid)
		if _, err := os.Stat(n.base); err == nil {
			continue
		}
		taken := false
		for _, p := range []string{n.bLab, n.oLab, "g" + rid} {
			if nss, _ := nsutil.ListNetns(p); len(nss) > 0 {
				taken = true
			}
			if out, _ := exec.Command("ip", "-o", "link", "show").Output(); strings.Contains(string(out), ": "+p) {
				taken = true
			}
		}
		if !taken {
			return rid, nil
		}
	}
	return "", errors.New("no free run ID")
}

func run(o options) (code int) {
	if missing := lab.Missing(); len(missing) > 0 {
		fmt.Fprintln(os.Stderr, "this benchmark needs: "+strings.Join(missing, "; "))
		return 2
	}
	if o.iperf > 0 {
		if _, err := exec.LookPath("iperf3"); err != nil {
			fmt.Fprintln(os.Stderr, "iperf3 is missing (apt-get install -y iperf3), or run with -iperf 0")
			return 2
		}
	}
	rid, err := newRID()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	n := namesFor(rid)
	if err := os.MkdirAll(n.base, 0o700); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	benchkit.Logf("run %s: conns=%d iperf=%s rounds=%d transition-delay=%s; run dir %s", rid, o.conns, o.iperf, o.rounds, o.transition, n.base)
	benchkit.Logf("if this process is killed, remove its leftovers with: go run ./bench/dataplane -cleanup %s", rid)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var cl benchkit.Cleanups
	// the whole run directory goes last
	cl.Add("run dir", func(context.Context) error { return os.RemoveAll(n.base) })

	stopSignals := benchkit.OnSignal(cancel, "namespaces, charons, iperf3")
	defer func() {
		if r := recover(); r != nil {
			benchkit.Logf("panic: %v\n%s", r, debug.Stack())
			code = 3
		}
		benchkit.Logf("cleaning up run %s", rid)
		cl.Run()
		if left := leftovers(n); len(left) > 0 {
			benchkit.Logf("LEFT OVER after cleanup: %s (try: go run ./bench/dataplane -cleanup %s)", strings.Join(left, ", "), rid)
			if code == 0 {
				code = 1
			}
		} else {
			benchkit.Logf("cleanup complete: no namespace, link, process or file of run %s is left", rid)
		}
		stopSignals()
	}()

	r := &report{opts: o, facts: machineFacts(), loadBefore: loadAvg(), started: time.Now()}
	if err := benchmark(ctx, o, n, &cl, r); err != nil {
		if ctx.Err() != nil {
			benchkit.Logf("interrupted: %v", err)
			return 130
		}
		benchkit.Logf("FAILED: %v", err)
		r.failure = err
		r.loadAfter = loadAvg()
		r.print(os.Stdout)
		return 1
	}
	r.loadAfter = loadAvg()
	r.print(os.Stdout)
	return 0
}

// benchmark runs the three measurements; everything it creates is registered in cl.
func benchmark(ctx context.Context, o options, n names, cl *benchkit.Cleanups, r *report) error {
	// Warm the page cache for charon and the tools, so that neither side pays for the
	// first start.
	_, _ = exec.CommandContext(ctx, nsutil.CharonPath, "--version").CombinedOutput()
	_, _ = exec.CommandContext(ctx, "swanctl", "--help").CombinedOutput()

	// 1a. Baseline: strongSwan alone.
	b := &baseline{n: n, conns: o.conns}
	cl.Add("baseline", b.cleanup)
	if o.noBaseline {
		o.iperf = 0 // the throughput compares with the recipe's cell
	} else {
		benchkit.Logf("baseline: building the world (WAN, router namespace, VPC host)")
		if err := b.setupWorld(ctx); err != nil {
			return fmt.Errorf("baseline world: %w", err)
		}
		benchkit.Logf("baseline: bringing up %d route-based cells with strongSwan alone", o.conns)
		res, err := b.bringUp(ctx)
		if err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		r.base = res
		benchkit.Logf("baseline: %d/%d child SAs established after %s", len(res.charonUp), o.conns, res.allUp.Round(time.Millisecond))
		r.baseMem = charonMemory(b.pids())
	}

	// 1b. OpenCEN.
	w := &world{n: n, o: o}
	cl.Add("OpenCEN world", w.cleanup)
	benchkit.Logf("OpenCEN: starting the server with its gateway, transit router and VPC host")
	if err := w.setup(ctx); err != nil {
		return fmt.Errorf("OpenCEN world: %w", err)
	}
	settleGo()
	r.gwBefore = selfMemory()
	benchkit.Logf("OpenCEN: creating %d IPsec-VPN connections through the API", o.conns)
	ores, err := w.connectAll(ctx)
	if err != nil {
		r.gwWarnings = w.warnings()
		return fmt.Errorf("OpenCEN: %w", err)
	}
	r.ocen = ores
	benchkit.Logf("OpenCEN: %d/%d report ipsec_sa_established after %s", len(ores.apiUp), o.conns, ores.allUp.Round(time.Millisecond))
	// Let the gateway apply the last routes; then time the driver's Apply of the state
	// that is already applied (it queues behind a gateway Apply still running, so after
	// it the gateway has nothing left to apply); then watch a few steady-state rounds,
	// noting the CPU used, and measure memory.
	if err := benchkit.SleepCtx(ctx, 2*time.Second); err != nil {
		return err
	}
	for range 2 {
		d, err := w.noopApply(ctx)
		if err != nil {
			return fmt.Errorf("OpenCEN: re-apply: %w", err)
		}
		r.noopApply = append(r.noopApply, d)
	}
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	benchkit.Logf("OpenCEN: pinging through every connection for %s, looking for stalls", o.stallWindow)
	sr, err := w.stallCheck(ctx, o.stallWindow)
	if err != nil {
		return fmt.Errorf("OpenCEN: stall check: %w", err)
	}
	r.stalls = append(r.stalls, sr)
	benchkit.Logf("OpenCEN: modifying one connection of %d", o.conns)
	if r.modify, err = w.modifyOne(ctx); err != nil {
		return fmt.Errorf("OpenCEN: modify one connection: %w", err)
	}
	d, err := w.noopApply(ctx)
	if err != nil {
		return fmt.Errorf("OpenCEN: idle passes: %w", err)
	}
	r.noopApply = append(r.noopApply, d)
	cpu0, t0 := selfCPU(), time.Now()
	if err := benchkit.SleepCtx(ctx, 5*time.Second); err != nil {
		return err
	}
	if o.cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	cpu1 := selfCPU()
	r.gwIdleCPU = (cpu1.self - cpu0.self).Seconds() / time.Since(t0).Seconds()
	r.gwIdleChildCPU = (cpu1.children - cpu0.children).Seconds() / time.Since(t0).Seconds()
	r.gwAfter = selfMemory()
	settleGo()
	r.gwAfterGC = selfMemory()
	pids, err := w.charonPIDs(ctx)
	if err != nil {
		return fmt.Errorf("OpenCEN: charon pids: %w", err)
	}
	if len(pids) != o.conns {
		return fmt.Errorf("OpenCEN: the driver reports %d running charons, want %d", len(pids), o.conns)
	}
	r.ocenMem = charonMemory(pids)

	// 2. Throughput, alternating between the raw cell and the OpenCEN connection.
	if o.iperf > 0 {
		rawPath, err := b.path(ctx)
		if err != nil {
			return fmt.Errorf("raw recipe path: %w", err)
		}
		ocPath, err := w.path(ctx)
		if err != nil {
			return fmt.Errorf("OpenCEN path: %w", err)
		}
		r.rawESP, r.ocenESP = rawPath.esp(ctx), ocPath.esp(ctx)
		for _, p := range []*iperfPath{rawPath, ocPath} {
			if err := p.startServer(ctx, cl); err != nil {
				return err
			}
		}
		for round := 1; round <= o.rounds; round++ {
			order := []*iperfPath{rawPath, ocPath}
			if round%2 == 0 {
				order = []*iperfPath{ocPath, rawPath}
			}
			for _, p := range order {
				benchkit.Logf("throughput round %d: %s (%s)", round, p.name, o.iperf)
				res, err := p.client(ctx, o.iperf)
				if err != nil {
					return fmt.Errorf("iperf3 %s: %w", p.name, err)
				}
				benchkit.Logf("  %s: %.0f Mbit/s (%d retransmits)", p.name, res.mbps, res.retransmits)
				if p == rawPath {
					r.rawTput = append(r.rawTput, res)
				} else {
					r.ocenTput = append(r.ocenTput, res)
				}
			}
		}
		if pid := ocPath.charonPID(); pid != 0 {
			m := procMemory(pid)
			r.ocenLoadedRSS = m.rss
		}
	}
	r.gwWarnings = w.warnings()
	if o.stallRuns > 0 {
		// The worlds above go first: the stall runs reuse their names.
		cctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		err := errors.Join(w.cleanup(cctx), b.cleanup(cctx))
		cancel()
		if err != nil {
			return fmt.Errorf("cleanup before the stall runs: %w", err)
		}
		runs, err := stallRuns(ctx, o, n, o.stallRuns, o.stallWindow)
		r.stalls = append(r.stalls, runs...)
		if err != nil {
			return err
		}
	}
	return nil
}

// settleGo collects garbage and returns freed memory to the OS, so that RSS samples
// compare live data.
func settleGo() {
	runtime.GC()
	debug.FreeOSMemory()
	time.Sleep(200 * time.Millisecond)
}

// ---------------------------------------------------------------- cleanup of a whole run

// cleanupRun removes everything of a run by its names alone (for -cleanup after a kill).
// It tries a few times: a killed run's last commands may still be finishing.
func cleanupRun(n names) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var errs []error
	for try := 1; try <= 3; try++ {
		b := &baseline{n: n}
		w := &world{n: n}
		t0 := time.Now()
		errs = []error{w.cleanup(ctx), b.cleanup(ctx), os.RemoveAll(n.base)}
		left := leftovers(n)
		benchkit.Logf("cleanup pass %d took %s: %d things left", try, time.Since(t0).Round(time.Millisecond), len(left))
		if len(left) == 0 {
			return errors.Join(errs...)
		}
		errs = append(errs, fmt.Errorf("still left: %s", strings.Join(left, ", ")))
		if err := benchkit.SleepCtx(ctx, time.Second); err != nil {
			break
		}
	}
	return errors.Join(errs...)
}

// Exact name patterns of what a run creates, so that neither the cleanup nor the
// leftover check touches another user's namespaces or links that merely share a prefix.
func (n names) nsPattern() *regexp.Regexp {
	r := regexp.QuoteMeta(n.rid)
	return regexp.MustCompile(`^(b` + r + `-(r|c[0-9]+)|[bo]` + r + `(wan|dc-.+|vpc-.+)|g` + r + `-(r|c)-.+)$`)
}

func (n names) linkPattern() *regexp.Regexp {
	r := regexp.QuoteMeta(n.rid)
	// baseline veths (w<k> WAN, x<k> router, vr VPC), lab DC WAN ends, gateway links
	return regexp.MustCompile(`^(b` + r + `([wx][0-9]+|vr)|[bo]` + r + `d[0-9a-f]{8}|g` + r + `-.+)$`)
}

// runNetns lists the run's namespaces.
func runNetns(n names) []string {
	all, _ := nsutil.ListNetns("")
	var out []string
	re := n.nsPattern()
	for _, ns := range all {
		if re.MatchString(ns) {
			out = append(out, ns)
		}
	}
	return out
}

// leftovers lists what of run n still exists: namespaces, links in the root namespace,
// processes in its namespaces, the run directory.
func leftovers(n names) []string {
	var out []string
	nss := runNetns(n)
	for _, ns := range nss {
		out = append(out, "netns "+ns)
	}
	for pid := range nsutil.ProcessesInNetns(nss) {
		out = append(out, fmt.Sprintf("process %d (%s)", pid, nsutil.Comm(pid)))
	}
	if links, err := rootLinks(n); err == nil {
		for _, l := range links {
			out = append(out, "link "+l)
		}
	}
	if _, err := os.Stat(n.base); err == nil {
		out = append(out, "dir "+n.base)
	}
	return out
}

// rootLinks lists the run's links in the root namespace.
func rootLinks(n names) ([]string, error) {
	out, err := exec.Command("ip", "-o", "link", "show").Output()
	if err != nil {
		return nil, err
	}
	re := n.linkPattern()
	var ls []string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		if re.MatchString(name) {
			ls = append(ls, name)
		}
	}
	return ls, nil
}

// ---------------------------------------------------------------- machine facts

func machineFacts() []string {
	swan := firstLine(exec.Command(nsutil.CharonPath, "--version").Output())
	if v := firstLine(exec.Command("dpkg-query", "-W", "-f", "${Version}", "strongswan-charon").Output()); v != "unknown" && v != "" {
		swan += " (Debian " + v + ")"
	}
	iperf := firstLine(exec.Command("iperf3", "--version").Output())
	return append(benchkit.MachineFacts(), "strongSwan: "+swan+" (kernel-libipsec); iperf3: "+iperf)
}

func firstLine(b []byte, err error) string {
	if err != nil {
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

// ---------------------------------------------------------------- small helpers

// cmdRun runs a command with a 30 s limit and returns its combined output.
func cmdRun(ctx context.Context, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, name, args...)
	if env != nil {
		c.Env = append(os.Environ(), env...)
	}
	out, err := c.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// ip runs `ip args...`.
func ip(ctx context.Context, args ...string) error {
	_, err := cmdRun(ctx, nil, "ip", args...)
	return err
}

func sortedDurations(m map[int]time.Duration) []time.Duration {
	out := make([]time.Duration, 0, len(m))
	for _, d := range m {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}

func tailFile(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
