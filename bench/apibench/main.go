// Command apibench measures OpenCEN's signed API over loopback: reads against a bare
// net/http handler that does only the v1 signature check (so the gap is what the server
// adds on top of HTTP + signing: store reads, JSON, routing, key lookup ...), and creates
// against a raw etcd Txn loop, on each store (bbolt and etcd).
//
//	go run ./bench/apibench [-duration 5s] [-clients 1,16,64] [-stores bolt,etcd] [-bin PATH] [-compare-bin PATH]
//
// It builds ./cmd/opencen (unless -bin is given) and starts one server per store on free
// loopback ports with temporary data dirs (for etcd: an etcd v3.7 embedded in this process,
// or -etcd-bin, e.g. Debian's /usr/bin/etcd), creates an account on each, seeds 20 CENs
// with a transit router in cn-hangzhou and cn-shanghai each, waits until everything is
// Active, then for each concurrency level:
//   - reads: the bare handler, ListTransitRouters and DescribeCens on each server;
//   - creates: CreateCen on each server, and from this process straight to the same etcd a
//     create-style Txn (put if the key does not exist) and a linearizable Get;
//
// each for -duration, and prints Markdown tables. The server processes it started are
// stopped by PID at the end.
//
// -compare-bin runs one more server on the same etcd from another build (say, of an earlier
// commit), measured in the same interleaved slices as the others: on a machine whose load
// moves, the one reliable way to compare two builds.
//
// -inprocess runs the real servers inside the bench process instead (same code, via
// internal/server), which together with -cpuprofile gives one profile of client, bare
// handler and server for `go tool pprof`.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"opencen/bench/internal/benchkit"
	"opencen/internal/api/admin"
	"opencen/internal/config"
	"opencen/internal/rpc"
	"opencen/internal/server"
	"opencen/internal/store"
	"opencen/internal/store/etcdtest"
)

const cbnVersion = benchkit.CbnVersion

type options struct {
	duration   time.Duration
	warmup     time.Duration
	rounds     int
	clients    []int
	stores     []string
	etcdBin    string
	bin        string
	compareBin string
	cens       int
	delay      time.Duration
	inprocess  bool
	cpuprofile string
	keep       bool
	serverArgs []string
}

func main() {
	var o options
	var clients, stores string
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "measuring time per target and concurrency level")
	flag.DurationVar(&o.warmup, "warmup", 200*time.Millisecond, "unmeasured warm-up before each measured slice")
	flag.IntVar(&o.rounds, "rounds", 3, "split -duration into this many slices, the targets taking turns")
	flag.StringVar(&clients, "clients", "1,16,64", "comma-separated concurrency levels")
	flag.StringVar(&stores, "stores", "bolt,etcd", "comma-separated stores to run a server on: bolt, etcd")
	flag.StringVar(&o.etcdBin, "etcd-bin", "", "run this etcd binary (e.g. /usr/bin/etcd) instead of etcd v3.7 embedded in the bench")
	flag.StringVar(&o.bin, "bin", "", "prebuilt opencen binary (default: go build ./cmd/opencen)")
	flag.StringVar(&o.compareBin, "compare-bin", "", "also run a server on etcd from this opencen binary (another build), measured alongside")
	flag.IntVar(&o.cens, "cens", 20, "CENs to seed (each gets a transit router in cn-hangzhou and cn-shanghai)")
	flag.DurationVar(&o.delay, "transition-delay", 20*time.Millisecond, "server --transition-delay")
	flag.BoolVar(&o.inprocess, "inprocess", false, "run the real servers inside this process (for -cpuprofile)")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of this process's measured runs to FILE")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary data dir")
	var serverArgs string
	flag.StringVar(&serverArgs, "server-args", "", "extra space-separated flags for the server process, e.g. \"--answer-cache-bytes -1\"")
	flag.Parse()
	o.serverArgs = strings.Fields(serverArgs)
	for _, f := range strings.Split(clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fatalf("bad -clients entry %q", f)
		}
		o.clients = append(o.clients, n)
	}
	for _, f := range strings.Split(stores, ",") {
		f = strings.TrimSpace(f)
		if f != server.StoreBolt && f != server.StoreEtcd {
			fatalf("bad -stores entry %q: use bolt and/or etcd", f)
		}
		o.stores = append(o.stores, f)
	}
	if o.rounds < 1 {
		o.rounds = 1
	}
	if o.compareBin != "" && o.inprocess {
		fatalf("-compare-bin runs a second binary: it needs separate processes, not -inprocess")
	}
	if err := run(o); err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "apibench: "+format+"\n", args...)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "apibench: "+format+"\n", args...)
}

// backend is one opencen server on one store, with the account the bench calls it as.
type backend struct {
	store string
	name  string // in the tables: the store, and for -compare-bin the binary
	srv   target
	user  *rpc.Client
	keyID string
	sec   string
}

// job is one measured target: do makes one call.
type job struct {
	name string
	do   func(ctx context.Context) error
}

func rpcJob(name string, c *rpc.Client, action string, params map[string]string) job {
	return job{name, func(ctx context.Context) error { return c.Call(ctx, cbnVersion, action, params, nil) }}
}

func run(o options) (err error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	tmp, err := os.MkdirTemp("", "opencen-apibench-")
	if err != nil {
		return err
	}
	defer func() {
		if o.keep {
			logf("kept %s", tmp)
			return
		}
		_ = os.RemoveAll(tmp)
	}()

	var etcd *etcdtest.Server
	if slices.Contains(o.stores, server.StoreEtcd) || o.compareBin != "" {
		dir := filepath.Join(tmp, "etcd")
		if o.etcdBin != "" {
			etcd, err = etcdtest.StartBinary(o.etcdBin, dir)
		} else {
			etcd, err = etcdtest.StartEmbedded(dir)
		}
		if err != nil {
			return err
		}
		defer etcd.Stop()
		v, _ := etcd.Version(ctx)
		logf("etcd %s on %s", v, etcd.Endpoint)
	}

	bin := o.bin
	if !o.inprocess && bin == "" {
		if bin, err = build(tmp); err != nil {
			return err
		}
	}
	maxClients := slices.Max(o.clients)
	hc := &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        4 * maxClients * (len(o.stores) + 2),
		MaxIdleConnsPerHost: 2 * maxClients,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}, Timeout: 30 * time.Second}

	type serverSpec struct{ store, name, bin, prefix string }
	var specs []serverSpec
	for _, st := range o.stores {
		specs = append(specs, serverSpec{st, storeName(st), bin, "/apibench/"})
	}
	if o.compareBin != "" {
		specs = append(specs, serverSpec{server.StoreEtcd, "etcd, " + filepath.Base(o.compareBin), o.compareBin, "/apibench-compare/"})
	}
	var backends []*backend
	for i, sv := range specs {
		st := sv.name
		adminID, adminSecret := "LTAI"+randHex(10), randHex(15)
		so := server.StoreOptions{Kind: sv.store}
		if sv.store == server.StoreEtcd {
			so.Etcd = store.EtcdConfig{Endpoints: []string{etcd.Endpoint}, Prefix: sv.prefix}
		}
		var srv target
		dir := filepath.Join(tmp, fmt.Sprint(sv.store, i))
		if o.inprocess {
			srv, err = startInProcess(ctx, dir, adminID, adminSecret, o.delay, so)
		} else {
			srv, err = startProcess(sv.bin, dir, adminID, adminSecret, o.delay, so, o.serverArgs)
		}
		if err != nil {
			return fmt.Errorf("server on %s: %w", st, err)
		}
		defer srv.stop()
		adm := &rpc.Client{Endpoint: srv.url, AccessKeyID: adminID, AccessKeySecret: adminSecret, HTTP: hc}
		var acct struct{ AccountId, AccessKeyId, AccessKeySecret string }
		if err := adm.Call(ctx, admin.Version, "CreateAccount", map[string]string{"Name": "apibench"}, &acct); err != nil {
			return fmt.Errorf("create account on %s: %w", st, err)
		}
		// The bench measures what the server can do, not the per-key throttle (default 1000
		// requests/s): the account's limits are raised as an admin would, the bucket is
		// still checked on every request.
		for _, q := range []string{"api-requests-per-second", "api-request-burst"} {
			if err := adm.Call(ctx, admin.Version, "SetQuota", map[string]string{"AccountId": acct.AccountId, "QuotaName": q, "Value": "100000"}, nil); err != nil {
				return fmt.Errorf("raise %s on %s: %w", q, st, err)
			}
		}
		b := &backend{store: sv.store, name: sv.name, srv: srv, keyID: acct.AccessKeyId, sec: acct.AccessKeySecret,
			user: &rpc.Client{Endpoint: srv.url, AccessKeyID: acct.AccessKeyId, AccessKeySecret: acct.AccessKeySecret, HTTP: hc}}
		t0 := time.Now()
		if _, err := benchkit.Seed(ctx, b.user, "apibench", o.cens, true); err != nil {
			return fmt.Errorf("seed on %s: %w", st, err)
		}
		logf("%s: seeded %d CENs and %d transit routers (all Active) in %v", st, o.cens, 2*o.cens, time.Since(t0).Round(time.Millisecond))
		backends = append(backends, b)
	}

	keys := map[string]string{}
	for _, b := range backends {
		keys[b.keyID] = b.sec
	}
	bare, err := startBare(keys)
	if err != nil {
		return err
	}
	defer bare.stop()
	bareClient := &rpc.Client{Endpoint: bare.url, AccessKeyID: backends[0].keyID, AccessKeySecret: backends[0].sec, HTTP: hc}
	// Check the bare handler accepts what the client signs, and rejects a bad signature.
	if err := bareClient.Call(ctx, cbnVersion, "ListTransitRouters", nil, nil); err != nil {
		return fmt.Errorf("bare handler rejected a signed request: %w", err)
	}
	bad := *bareClient
	bad.AccessKeySecret = "wrong"
	if err := bad.Call(ctx, cbnVersion, "ListTransitRouters", nil, nil); err == nil {
		return errors.New("bare handler accepted a wrong signature")
	}

	listTRs := map[string]string{"PageSize": "50"}
	descCens := map[string]string{"PageSize": "50"}
	reads := []job{rpcJob("bare signature check", bareClient, "ListTransitRouters", listTRs)}
	sizes := []string{}
	if n, err := bodySize(ctx, hc, bareClient, "ListTransitRouters", listTRs); err == nil {
		sizes = append(sizes, fmt.Sprintf("bare signature check %d B", n))
	}
	for _, b := range backends {
		for _, a := range []struct {
			action string
			params map[string]string
		}{{"ListTransitRouters", listTRs}, {"DescribeCens", descCens}} {
			name := fmt.Sprintf("opencen %s (%s)", a.action, b.name)
			n, err := bodySize(ctx, hc, b.user, a.action, a.params)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			sizes = append(sizes, fmt.Sprintf("%s %d B", name, n))
			reads = append(reads, rpcJob(name, b.user, a.action, a.params))
		}
	}

	creates := []job{}
	if etcd != nil {
		raw, err := newRawEtcd(etcd.Endpoint)
		if err != nil {
			return err
		}
		defer raw.close()
		creates = append(creates, job{rawCreate, raw.create}, job{rawRead, raw.read})
	}
	for _, b := range backends {
		creates = append(creates, rpcJob(fmt.Sprintf("opencen CreateCen (%s)", b.name), b.user, "CreateCen", map[string]string{"Name": "apibench-create"}))
	}

	loadBefore := loadAvg()
	rssBefore := map[string]string{}
	for _, b := range backends {
		rssBefore[b.name] = rss(b.srv.pid)
	}
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}

	readRows, err := measureAll(ctx, o, reads)
	if err != nil {
		return err
	}
	createRows, err := measureAll(ctx, o, creates)
	if err != nil {
		return err
	}

	mode := "separate processes"
	if o.inprocess {
		mode = "in the bench process"
	}
	fmt.Println()
	fmt.Println("### Machine")
	fmt.Println()
	for _, l := range machineFacts() {
		fmt.Println("- " + l)
	}
	fmt.Printf("- Response bodies: %s\n", strings.Join(sizes, ", "))
	for _, b := range backends {
		fmt.Printf("- Server on %s, RSS before / after the measurements: %s / %s (the nonce cache keeps each nonce until its timestamp is %v old)\n", b.name, rssBefore[b.name], rss(b.srv.pid), rpc.SkewWindow)
	}
	if etcd != nil {
		v, _ := etcd.Version(ctx)
		where := "embedded in the bench process"
		if o.etcdBin != "" {
			where = o.etcdBin + ", a separate process"
		}
		fmt.Printf("- etcd %s, one member on loopback, %s, data in the run's temporary directory (fsync on)\n", v, where)
	}
	fmt.Printf("- Load average before / after: %s / %s\n", loadBefore, loadAvg())
	fmt.Printf("- Run: %v measured per target and level, in %d slices taking turns, each after %v warm-up; servers %s, %s; dataset %d CENs, %d transit routers per server (PageSize=50: every item in one page)\n",
		o.duration, o.rounds, o.warmup, mode, strings.Join(append([]string{"--transition-delay", o.delay.String()}, o.serverArgs...), " "), o.cens, 2*o.cens)

	fmt.Println()
	fmt.Println("#### Reads")
	printRows(readRows, "real/bare", func(r row) string {
		if strings.HasPrefix(r.target, "bare") {
			return "—"
		}
		return fmt.Sprintf("%.2fx", r.r.rps/rpsOf(readRows, "bare signature check", r.clients))
	})
	fmt.Println()
	fmt.Println("#### Creates (and raw etcd reads)")
	printRows(createRows, "vs raw etcd Txn", func(r row) string {
		raw := rpsOf(createRows, rawCreate, r.clients)
		if raw == 0 || !strings.Contains(r.target, "CreateCen") {
			return "—"
		}
		return fmt.Sprintf("%.2fx", r.r.rps/raw)
	})

	fmt.Println()
	fmt.Println("#### Summary: creates/s and reads/s")
	fmt.Println()
	fmt.Println("| target | clients | creates/s | reads/s |")
	fmt.Println("|---|---:|---:|---:|")
	all := append(slices.Clone(readRows), createRows...)
	for _, c := range o.clients {
		if etcd != nil {
			fmt.Printf("| raw etcd (Txn put-if-absent / linearizable Get) | %d | %.0f | %.0f |\n", c, rpsOf(all, rawCreate, c), rpsOf(all, rawRead, c))
		}
		for _, b := range backends {
			n := b.name
			fmt.Printf("| API on %s (CreateCen / ListTransitRouters) | %d | %.0f | %.0f |\n", n, c,
				rpsOf(all, "opencen CreateCen ("+n+")", c), rpsOf(all, "opencen ListTransitRouters ("+n+")", c))
		}
		fmt.Printf("| bare signed handler | %d | — | %.0f |\n", c, rpsOf(all, "bare signature check", c))
	}
	fmt.Println()
	hi := slices.Max(o.clients)
	bareHi := rpsOf(all, "bare signature check", hi)
	for _, b := range backends {
		n := b.name
		for _, a := range []string{"ListTransitRouters", "DescribeCens"} {
			name := "opencen " + a + " (" + n + ")"
			ratio := rpsOf(all, name, hi) / bareHi
			fmt.Printf("- %s at %d clients: %.0f req/s = %.2fx bare (%.0f req/s; target >= 0.5x: %s)\n", name, hi, rpsOf(all, name, hi), ratio, bareHi, verdict(ratio >= 0.5))
		}
	}
	if o.compareBin != "" && slices.Contains(o.stores, server.StoreEtcd) {
		other := "etcd, " + filepath.Base(o.compareBin)
		for _, a := range []string{"ListTransitRouters", "DescribeCens", "CreateCen"} {
			this, that := rpsOf(all, "opencen "+a+" (etcd)", hi), rpsOf(all, "opencen "+a+" ("+other+")", hi)
			fmt.Printf("- %s on etcd at %d clients, this build / %s: %.0f / %.0f = %.2fx\n", a, hi, filepath.Base(o.compareBin), this, that, this/that)
		}
	}
	if etcd != nil {
		rawHi := rpsOf(all, rawCreate, hi)
		for _, b := range backends {
			if b.store != server.StoreEtcd {
				continue
			}
			name := "opencen CreateCen (" + b.name + ")"
			ratio := rpsOf(all, name, hi) / rawHi
			fmt.Printf("- %s at %d clients: %.0f creates/s = %.2fx the raw etcd Txn loop (%.0f/s; target >= 0.5x: %s)\n", name, hi, rpsOf(all, name, hi), ratio, rawHi, verdict(ratio >= 0.5))
		}
	}
	return nil
}

const (
	rawCreate = "raw etcd Txn put-if-absent"
	rawRead   = "raw etcd linearizable Get"
)

func storeName(kind string) string {
	if kind == server.StoreBolt {
		return "bbolt"
	}
	return kind
}

type row struct {
	target  string
	clients int
	r       result
}

// measureAll runs every job at every concurrency level. The jobs take turns in o.rounds
// short slices, so a burst of load from something else on the machine hits all of them
// alike instead of skewing one.
func measureAll(ctx context.Context, o options, jobs []job) ([]row, error) {
	var rows []row
	for _, c := range o.clients {
		acc := make([]sample, len(jobs))
		for range o.rounds {
			for i, j := range jobs {
				acc[i].add(measure(ctx, j, c, o.warmup, o.duration/time.Duration(o.rounds)))
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
		}
		for i, j := range jobs {
			r := acc[i].result()
			logf("%-40s clients=%-3d %8.0f req/s  p50=%-9s p99=%-9s errors=%d", j.name, c, r.rps, fmtDur(r.p50), fmtDur(r.p99), r.errors)
			rows = append(rows, row{j.name, c, r})
		}
	}
	return rows, nil
}

func rpsOf(rows []row, target string, clients int) float64 {
	for _, r := range rows {
		if r.target == target && r.clients == clients {
			return r.r.rps
		}
	}
	return 0
}

func printRows(rows []row, ratioName string, ratio func(row) string) {
	fmt.Println()
	fmt.Printf("| target | clients | req/s | p50 | p99 | errors | %s |\n", ratioName)
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		fmt.Printf("| %s | %d | %.0f | %s | %s | %d | %s |\n", r.target, r.clients, r.r.rps, fmtDur(r.r.p50), fmtDur(r.r.p99), r.r.errors, ratio(r))
	}
}

// rawEtcd is the floor for creates: what one create-style write costs etcd itself, from
// the same machine, through the same client library as the server's store.
type rawEtcd struct {
	cli   *clientv3.Client
	next  atomic.Int64
	value string
}

func newRawEtcd(endpoint string) (*rawEtcd, error) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	// About the size of a CEN's record.
	r := &rawEtcd{cli: cli, value: strings.Repeat("x", 400)}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Put(ctx, "/apibench-raw/read", r.value); err != nil {
		cli.Close()
		return nil, err
	}
	return r, nil
}

func (r *rawEtcd) create(ctx context.Context) error {
	key := "/apibench-raw/k/" + strconv.FormatInt(r.next.Add(1), 10)
	resp, err := r.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", 0)).Then(clientv3.OpPut(key, r.value)).Commit()
	if err == nil && !resp.Succeeded {
		err = errors.New("raw create: key exists")
	}
	return err
}

func (r *rawEtcd) read(ctx context.Context) error {
	_, err := r.cli.Get(ctx, "/apibench-raw/read")
	return err
}

func (r *rawEtcd) close() { _ = r.cli.Close() }

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// ---------------------------------------------------------------------------------------------
// Load generation.

type result struct {
	rps      float64
	p50, p99 time.Duration
	errors   int
}

// sample accumulates the measured slices of one target at one concurrency level.
type sample struct {
	lat     []time.Duration
	elapsed time.Duration
	errors  int
}

func (s *sample) add(o sample) {
	s.lat = append(s.lat, o.lat...)
	s.elapsed += o.elapsed
	s.errors += o.errors
}

func (s *sample) result() result {
	slices.Sort(s.lat)
	r := result{errors: s.errors}
	if s.elapsed > 0 {
		r.rps = float64(len(s.lat)) / s.elapsed.Seconds()
	}
	if n := len(s.lat); n > 0 {
		r.p50 = s.lat[n*50/100]
		r.p99 = s.lat[min(n*99/100, n-1)]
	}
	return r
}

// measure runs `clients` goroutines calling j back to back (API calls are signed afresh with
// a new nonce by rpc.Client) for warmup unmeasured, then for d measured. Calls that started
// before the measured window or ended after it are not counted.
func measure(ctx context.Context, j job, clients int, warmup, d time.Duration) sample {
	var (
		measuring atomic.Bool
		stop      atomic.Bool
		wg        sync.WaitGroup
		mu        sync.Mutex
		out       sample
		firstErr  error
	)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 1024)
			nerr := 0
			var ferr error
			for !stop.Load() && ctx.Err() == nil {
				m := measuring.Load()
				t := time.Now()
				err := j.do(ctx)
				el := time.Since(t)
				if !m || stop.Load() {
					continue
				}
				if err != nil {
					nerr++
					if ferr == nil {
						ferr = err
					}
					continue
				}
				lat = append(lat, el)
			}
			mu.Lock()
			out.lat = append(out.lat, lat...)
			out.errors += nerr
			if firstErr == nil {
				firstErr = ferr
			}
			mu.Unlock()
		}()
	}
	sleepCtx(ctx, warmup)
	measuring.Store(true)
	start := time.Now()
	sleepCtx(ctx, d)
	stop.Store(true)
	out.elapsed = time.Since(start)
	wg.Wait()
	if firstErr != nil {
		logf("%s x%d: %d errors, first: %v", j.name, clients, out.errors, firstErr)
	}
	return out
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "—"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	default:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	}
}

// ---------------------------------------------------------------------------------------------
// Targets.

type target struct {
	url  string
	stop func()
	pid  int // 0 when in-process
}

// rss is the resident memory of pid (0: this process) as /proc reports it.
func rss(pid int) string {
	path := "/proc/self/status"
	if pid > 0 {
		path = fmt.Sprintf("/proc/%d/status", pid)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func startBare(keys map[string]string) (target, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return target{}, err
	}
	hs := &http.Server{Handler: benchkit.NewBare(keys), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	return target{url: "http://" + ln.Addr().String(), stop: func() { _ = hs.Close() }}, nil
}

// ---------------------------------------------------------------------------------------------
// The real server.

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the opencen module (run from /work/main or pass -bin)")
	}
	return filepath.Dir(gomod), nil
}

func build(tmp string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(tmp, "opencen")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/opencen")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/opencen: %v\n%s", err, out)
	}
	return bin, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startProcess runs the binary and returns a target whose stop sends SIGTERM to that PID
// (SIGKILL after 10s) and waits for it.
func startProcess(bin, tmp, keyID, secret string, delay time.Duration, so server.StoreOptions, extra []string) (target, error) {
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return target{}, err
	}
	logPath := filepath.Join(tmp, "server.log")
	logF, err := os.Create(logPath)
	if err != nil {
		return target{}, err
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return target{}, err
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		args := []string{"server", "--listen", addr, "--data", filepath.Join(tmp, "data"),
			"--transition-delay", delay.String(), "--log-level", "warn", "--gateway", "off"}
		if so.Kind == server.StoreEtcd {
			args = append(args, "--store", so.Kind, "--etcd-endpoints", strings.Join(so.Etcd.Endpoints, ","), "--etcd-prefix", so.Etcd.Prefix)
		}
		cmd := exec.Command(bin, append(args, extra...)...)
		cmd.Env = append(os.Environ(), "OPENCEN_ACCESS_KEY_ID="+keyID, "OPENCEN_ACCESS_KEY_SECRET="+secret)
		cmd.Stdout, cmd.Stderr = logF, logF
		if err := cmd.Start(); err != nil {
			return target{}, err
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		stop := func() {
			_ = cmd.Process.Signal(syscall.SIGTERM) // by PID: only the process we started
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
			logF.Close()
		}
		url := "http://" + addr
		if lastErr = waitHealthy(url, done); lastErr == nil {
			logf("server pid %d on %s (log %s)", cmd.Process.Pid, addr, logPath)
			return target{url: url, stop: stop, pid: cmd.Process.Pid}, nil
		}
		stop()
		logF, _ = os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND, 0o644)
		b, _ := os.ReadFile(logPath)
		if !strings.Contains(string(b), "address already in use") {
			break
		}
	}
	b, _ := os.ReadFile(logPath)
	return target{}, fmt.Errorf("server did not start: %v\n%s", lastErr, b)
}

func waitHealthy(url string, done <-chan struct{}) error {
	c := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-done:
			return errors.New("server exited")
		default:
		}
		resp, err := c.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no healthy /healthz within 30s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startInProcess runs internal/server inside this process (same handler and store as the
// binary), so one CPU profile covers the server too.
func startInProcess(ctx context.Context, tmp, keyID, secret string, delay time.Duration, so server.StoreOptions) (target, error) {
	ctx, cancel := context.WithCancel(ctx)
	addrc := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- server.Run(ctx, server.Options{
			Listen: "127.0.0.1:0", DataDir: filepath.Join(tmp, "data"), Config: config.Default(), Store: so,
			Gateway:         server.GatewayOptions{Mode: "off"},
			TransitionDelay: delay, AdminKeyID: keyID, AdminSecret: secret,
			Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		}, func(addr string) { addrc <- addr })
	}()
	select {
	case addr := <-addrc:
		logf("in-process server on %s", addr)
		return target{url: "http://" + addr, stop: func() { cancel(); <-errc }}, nil
	case err := <-errc:
		cancel()
		return target{}, fmt.Errorf("in-process server: %w", err)
	}
}

// ---------------------------------------------------------------------------------------------
// Machine facts.

func machineFacts() []string { return benchkit.MachineFacts() }

// bodySize makes one signed call the way rpc.Client does and returns the response body size.
func bodySize(ctx context.Context, hc *http.Client, c *rpc.Client, action string, params map[string]string) (int, error) {
	p := map[string]string{"Action": action, "Version": cbnVersion}
	for k, v := range params {
		p[k] = v
	}
	signed := rpc.SignRequestV1(http.MethodPost, p, c.AccessKeyID, c.AccessKeySecret, time.Now(), randHex(16))
	form := url.Values{}
	for k, v := range signed {
		form.Set(k, v)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Endpoint+"/", strings.NewReader(form.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("HTTP %d: %s", resp.StatusCode, b)
	}
	return len(b), nil
}

// loadAvg is the 1/5/15-minute load average: other work on the machine skews results.
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

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails
	return hex.EncodeToString(b)
}
