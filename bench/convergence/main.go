// Command convergence benchmarks OpenCEN's dynamic routing end to end on real namespaces:
// how fast the routes a transit router forwards with (its Linux table in the router
// namespace) follow what happens at the data centers.
//
//  1. Health check: a data center starts dropping the health check's echo requests
//     (nft in the DC) -> the connection's routes leave the router's kernel table
//     (revoke_route). Interval 1 s x retry 2 and 3 s x 3. Target <= Interval x Retry + 1 s.
//  2. BGP withdraw: the DC's BIRD stops announcing a prefix (birdc configure with the
//     prefix removed) -> the route leaves the kernel table. Target p99 < 1 s.
//  3. Tunnel down under ECMP: two connections announce one prefix over BGP; one DC's
//     charon is SIGKILLed -> the multipath route has one next hop. Target < 1 s after the
//     gateway sees the event (here: the BGP session going down); the total from the kill
//     is reported too.
//  4. Scale: 10 connections each announce 100 prefixes from BIRD -> all 1000 routes in
//     ListTransitRouterRouteEntries and in the kernel table, and the gateway's RSS.
//     Target < 2 s from the last announcement.
//
// Each measurement has its own world, built like contract/e2e: a lab (internal/lab: WAN
// bridge, VPC host, data centers with stock strongSwan and BIRD) plus an in-process server
// (internal/server.Open) with its gateway and netns driver; the BGP speakers are the
// opencen binary built from ./cmd/opencen.
//
//	go run ./bench/convergence [-hc-reps 5] [-hc3-reps 3] [-withdraw-reps 20] [-ecmp-reps 5] [-scale-conns 10] [-scale-prefixes 100] [-scale-rounds 3]
//	go run ./bench/convergence -cleanup RID    # remove what a killed run left behind
//
// It needs root, strongSwan, nftables and BIRD 2. Every namespace, link, process and
// directory it creates carries the run's ID (printed at the start) and is removed on every
// exit path, Ctrl-C included; it stops only processes it started (by PID, or as the
// processes of its own namespaces).
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"opencen/bench/internal/benchkit"
	"opencen/internal/dataplane/nsutil"
	"opencen/internal/lab"
)

type options struct {
	hcReps, hc3Reps int
	withdrawReps    int
	ecmpReps        int
	scaleConns      int
	scalePrefixes   int
	scaleRounds     int
	only            map[string]bool
	transition      time.Duration
	dpdDelay        time.Duration
	bin             string
	logs            string
	verbose         bool
}

func (o options) want(s string) bool { return len(o.only) == 0 || o.only[s] }

// names are everything a run creates, derived from its ID.
type names struct {
	rid  string
	base string // run directory
}

// Scenario letters: each scenario has its own world with these names.
const scenarios = "hwes"

func namesFor(rid string) names {
	return names{rid: rid, base: filepath.Join(os.TempDir(), "opencen-convbench-"+rid)}
}

// labPrefix and gwPrefix are the lab's and the gateway driver's name prefixes of the
// world of scenario s (6 characters each, the limit of both).
func (n names) labPrefix(s byte) string { return "c" + n.rid + string(s) }
func (n names) gwPrefix(s byte) string  { return "g" + n.rid + string(s) }
func (n names) worldDir(s byte) string  { return filepath.Join(n.base, string(s)) }

func main() {
	var o options
	var cleanupRID, only string
	flag.IntVar(&o.hcReps, "hc-reps", 5, "health-check failures with interval 1 s x retry 2")
	flag.IntVar(&o.hc3Reps, "hc3-reps", 3, "health-check failures with interval 3 s x retry 3 (0 = skip)")
	flag.IntVar(&o.withdrawReps, "withdraw-reps", 20, "BGP withdrawals")
	flag.IntVar(&o.ecmpReps, "ecmp-reps", 5, "ECMP tunnel kills")
	flag.IntVar(&o.scaleConns, "scale-conns", 10, "BGP connections of the scale test (1 to 50)")
	flag.IntVar(&o.scalePrefixes, "scale-prefixes", 100, "prefixes each connection announces in the scale test (1 to 100: the speaker accepts 100 per neighbor)")
	flag.IntVar(&o.scaleRounds, "scale-rounds", 3, "scale: rounds of announcing and withdrawing everything")
	flag.StringVar(&only, "only", "", "run only these measurements, comma-separated: hc,withdraw,ecmp,scale")
	flag.DurationVar(&o.transition, "transition-delay", 100*time.Millisecond, "the server's simulated transition delay, as in contract/e2e")
	flag.DurationVar(&o.dpdDelay, "dpd-delay", 0, "DPD interval of the gateway's cells (0 = the server's default, 10 s)")
	flag.StringVar(&o.bin, "bin", "", "opencen binary for the BGP speakers (default: go build ./cmd/opencen into the run dir)")
	flag.StringVar(&o.logs, "logs", "", "copy each world's logs (server, BGP speaker, cells' and DCs' charon and BIRD logs) into this directory before removing it")
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
	if only != "" {
		o.only = map[string]bool{}
		for _, s := range strings.Split(only, ",") {
			s = strings.TrimSpace(s)
			if s != "hc" && s != "withdraw" && s != "ecmp" && s != "scale" {
				fmt.Fprintf(os.Stderr, "-only: unknown measurement %q\n", s)
				os.Exit(2)
			}
			o.only[s] = true
		}
	}
	if o.scaleConns < 1 || o.scaleConns > 50 || o.scalePrefixes < 1 || o.scalePrefixes > 100 {
		fmt.Fprintln(os.Stderr, "-scale-conns must be 1 to 50 and -scale-prefixes 1 to 100")
		os.Exit(2)
	}
	if o.hcReps < 1 || o.withdrawReps < 1 || o.ecmpReps < 1 || o.hc3Reps < 0 || o.scaleRounds < 1 {
		fmt.Fprintln(os.Stderr, "repetitions must be at least 1 (-hc3-reps may be 0)")
		os.Exit(2)
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
		if len(leftovers(n)) > 0 {
			continue
		}
		taken := false
		all, _ := nsutil.ListNetns("")
		for _, ns := range all {
			if strings.HasPrefix(ns, "c"+rid) || strings.HasPrefix(ns, "g"+rid) {
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
	if m := lab.BIRDMissing(); m != "" {
		fmt.Fprintln(os.Stderr, "this benchmark needs BIRD 2: missing "+m)
		return 2
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
	benchkit.Logf("run %s: run dir %s", rid, n.base)
	benchkit.Logf("if this process is killed, remove its leftovers with: go run ./bench/convergence -cleanup %s", rid)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var cl benchkit.Cleanups
	cl.Add("run dir", func(context.Context) error { return os.RemoveAll(n.base) })

	stopSignals := benchkit.OnSignal(cancel, "namespaces, charons, BIRDs, speakers")
	defer func() {
		if r := recover(); r != nil {
			benchkit.Logf("panic: %v\n%s", r, debug.Stack())
			code = 3
		}
		benchkit.Logf("cleaning up run %s", rid)
		cl.Run()
		if left := leftovers(n); len(left) > 0 {
			benchkit.Logf("LEFT OVER after cleanup: %s (try: go run ./bench/convergence -cleanup %s)", strings.Join(left, ", "), rid)
			if code == 0 {
				code = 1
			}
		} else {
			benchkit.Logf("cleanup complete: no namespace, link, process or file of run %s is left", rid)
		}
		stopSignals()
	}()

	r := &report{opts: o, facts: machineFacts(), loadBefore: loadAvg(), started: time.Now(), noopApply: map[string][]time.Duration{}, incidents: map[string]incidents{}}
	err = benchmark(ctx, o, n, &cl, r)
	r.loadAfter = loadAvg()
	if err != nil {
		if ctx.Err() != nil {
			benchkit.Logf("interrupted: %v", err)
			r.failure = err
			r.print(os.Stdout)
			return 130
		}
		benchkit.Logf("FAILED: %v", err)
		r.failure = err
		r.print(os.Stdout)
		return 1
	}
	r.print(os.Stdout)
	return 0
}

// benchmark builds the speaker binary and runs the selected measurements, each in its own
// world that is torn down before the next one starts.
func benchmark(ctx context.Context, o options, n names, cl *benchkit.Cleanups, r *report) error {
	bin := o.bin
	if bin == "" {
		bin = filepath.Join(n.base, "opencen")
		benchkit.Logf("building ./cmd/opencen (the BGP speaker binary)")
		t0 := time.Now()
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/opencen").CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./cmd/opencen: %v\n%s", err, out)
		}
		benchkit.Logf("built in %s", time.Since(t0).Round(time.Millisecond))
	}
	// Warm the page cache for the tools every world uses.
	_, _ = exec.CommandContext(ctx, nsutil.CharonPath, "--version").CombinedOutput()
	_, _ = exec.CommandContext(ctx, lab.BIRDPath, "--version").CombinedOutput()

	type scen struct {
		key    string
		letter byte
		fn     func(context.Context, *world, *report) error
	}
	for _, s := range []scen{
		{"hc", 'h', healthCheck},
		{"withdraw", 'w', bgpWithdraw},
		{"ecmp", 'e', ecmpTunnelDown},
		{"scale", 's', scale},
	} {
		if !o.want(s.key) {
			continue
		}
		w := &world{n: n, o: o, letter: s.letter, bin: bin}
		cl.Add("world "+s.key, w.cleanup)
		benchkit.Logf("== %s: building the world (lab %s, gateway %s)", s.key, n.labPrefix(s.letter), n.gwPrefix(s.letter))
		err := w.setup(ctx)
		if err == nil {
			err = s.fn(ctx, w, r)
		}
		r.noopApply[s.key] = w.applyTimes
		if w.rec != nil {
			inc := incidents{dedups: w.rec.count("deleting duplicate IKE SA"), bgpDowns: -1}
			if w.bgpw != nil {
				inc.bgpDowns = w.bgpw.downs()
			}
			r.incidents[s.key] = inc
		}
		r.warnings = append(r.warnings, w.warnings()...)
		if o.logs != "" {
			if err := w.copyLogs(filepath.Join(o.logs, n.rid, s.key)); err != nil {
				benchkit.Logf("copying the logs of world %s: %v", s.key, err)
			}
		}
		cctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		t0 := time.Now()
		if cerr := w.cleanup(cctx); cerr != nil {
			benchkit.Logf("cleanup of world %s: %v", s.key, cerr)
		}
		cancel()
		benchkit.Logf("== %s: world removed in %s", s.key, time.Since(t0).Round(time.Millisecond))
		if err != nil {
			return fmt.Errorf("%s: %w", s.key, err)
		}
	}
	return nil
}

// ---------------------------------------------------------------- cleanup of a whole run

// cleanupRun removes everything of a run by its names alone (for -cleanup after a kill).
func cleanupRun(n names) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var errs []error
	for try := 1; try <= 3; try++ {
		errs = nil
		for i := range len(scenarios) {
			w := &world{n: n, letter: scenarios[i]}
			errs = append(errs, w.cleanup(ctx))
		}
		errs = append(errs, os.RemoveAll(n.base))
		left := leftovers(n)
		benchkit.Logf("cleanup pass %d: %d things left", try, len(left))
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
	return regexp.MustCompile(`^(c` + r + `[` + scenarios + `](wan|dc-.+|vpc-.+)|g` + r + `[` + scenarios + `](r|c)-.+)$`)
}

func (n names) linkPattern() *regexp.Regexp {
	r := regexp.QuoteMeta(n.rid)
	// lab DC WAN ends, gateway links (WAN ends of cells, attachment and VPC links)
	return regexp.MustCompile(`^(c` + r + `[` + scenarios + `]d[0-9a-f]{8}|g` + r + `[` + scenarios + `][wav].+)$`)
}

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
	if b, err := exec.Command("ip", "-o", "link", "show").Output(); err == nil {
		re := n.linkPattern()
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) < 2 {
				continue
			}
			name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
			if re.MatchString(name) {
				out = append(out, "link "+name)
			}
		}
	}
	if _, err := os.Stat(n.base); err == nil {
		out = append(out, "dir "+n.base)
	}
	return out
}
