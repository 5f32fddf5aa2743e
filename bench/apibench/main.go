// Command apibench measures OpenCEN's signed read API over loopback against a bare net/http
// handler that does only the v1 signature check, so the gap between the two is what the
// server adds on top of HTTP + signing (store reads, JSON, routing, key lookup ...).
//
//	go run ./bench/apibench [-duration 5s] [-clients 1,16,64] [-bin PATH]
//
// It builds ./cmd/opencen (unless -bin is given), starts it on a free loopback port with a
// temporary data dir, creates an account, seeds 20 CENs with a transit router in cn-hangzhou
// and cn-shanghai each, waits until everything is Active, then for each concurrency level
// runs the bare handler, ListTransitRouters and DescribeCens for -duration each and prints
// a Markdown table. The server process it started is stopped by PID at the end.
//
// -inprocess runs the real server inside the bench process instead (same code, via
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

	"opencen/bench/internal/benchkit"
	"opencen/internal/api/admin"
	"opencen/internal/config"
	"opencen/internal/rpc"
	"opencen/internal/server"
)

const cbnVersion = benchkit.CbnVersion

type options struct {
	duration   time.Duration
	warmup     time.Duration
	rounds     int
	clients    []int
	bin        string
	cens       int
	delay      time.Duration
	inprocess  bool
	cpuprofile string
	keep       bool
	serverArgs []string
}

func main() {
	var o options
	var clients string
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "measuring time per target and concurrency level")
	flag.DurationVar(&o.warmup, "warmup", 200*time.Millisecond, "unmeasured warm-up before each measured slice")
	flag.IntVar(&o.rounds, "rounds", 3, "split -duration into this many slices, the targets taking turns")
	flag.StringVar(&clients, "clients", "1,16,64", "comma-separated concurrency levels")
	flag.StringVar(&o.bin, "bin", "", "prebuilt opencen binary (default: go build ./cmd/opencen)")
	flag.IntVar(&o.cens, "cens", 20, "CENs to seed (each gets a transit router in cn-hangzhou and cn-shanghai)")
	flag.DurationVar(&o.delay, "transition-delay", 20*time.Millisecond, "server --transition-delay")
	flag.BoolVar(&o.inprocess, "inprocess", false, "run the real server inside this process (for -cpuprofile)")
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
	if o.rounds < 1 {
		o.rounds = 1
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

	adminID, adminSecret := "LTAI"+randHex(10), randHex(15)
	var srv target
	if o.inprocess {
		srv, err = startInProcess(ctx, tmp, adminID, adminSecret, o.delay)
	} else {
		bin := o.bin
		if bin == "" {
			if bin, err = build(tmp); err != nil {
				return err
			}
		}
		srv, err = startProcess(bin, tmp, adminID, adminSecret, o.delay, o.serverArgs)
	}
	if err != nil {
		return err
	}
	defer srv.stop()

	maxClients := slices.Max(o.clients)
	hc := &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        4 * maxClients,
		MaxIdleConnsPerHost: 2 * maxClients,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}, Timeout: 30 * time.Second}

	adm := &rpc.Client{Endpoint: srv.url, AccessKeyID: adminID, AccessKeySecret: adminSecret, HTTP: hc}
	var acct struct{ AccountId, AccessKeyId, AccessKeySecret string }
	if err := adm.Call(ctx, admin.Version, "CreateAccount", map[string]string{"Name": "apibench"}, &acct); err != nil {
		return fmt.Errorf("create account: %w", err)
	}
	// The bench measures what the server can do, not the per-key throttle (default 1000
	// requests/s): the account's limits are raised as an admin would, the bucket is still
	// checked on every request.
	for _, q := range []string{"api-requests-per-second", "api-request-burst"} {
		if err := adm.Call(ctx, admin.Version, "SetQuota", map[string]string{"AccountId": acct.AccountId, "QuotaName": q, "Value": "100000"}, nil); err != nil {
			return fmt.Errorf("raise %s: %w", q, err)
		}
	}
	user := &rpc.Client{Endpoint: srv.url, AccessKeyID: acct.AccessKeyId, AccessKeySecret: acct.AccessKeySecret, HTTP: hc}
	t0 := time.Now()
	if _, err := benchkit.Seed(ctx, user, "apibench", o.cens, true); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	logf("seeded %d CENs and %d transit routers (all Active) in %v", o.cens, 2*o.cens, time.Since(t0).Round(time.Millisecond))

	bare, err := startBare(acct.AccessKeyId, acct.AccessKeySecret)
	if err != nil {
		return err
	}
	defer bare.stop()
	bareClient := &rpc.Client{Endpoint: bare.url, AccessKeyID: acct.AccessKeyId, AccessKeySecret: acct.AccessKeySecret, HTTP: hc}
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
	type job struct {
		name   string
		client *rpc.Client
		action string
		params map[string]string
	}
	jobs := []job{
		{"bare signature check", bareClient, "ListTransitRouters", listTRs},
		{"opencen ListTransitRouters", user, "ListTransitRouters", listTRs},
		{"opencen DescribeCens", user, "DescribeCens", descCens},
	}
	sizes := make([]string, 0, 3)
	for _, j := range jobs {
		n, err := bodySize(ctx, hc, j.client, j.action, j.params)
		if err != nil {
			return fmt.Errorf("%s: %w", j.name, err)
		}
		sizes = append(sizes, fmt.Sprintf("%s %d B", j.name, n))
	}
	loadBefore := loadAvg()
	rssBefore := rss(srv.pid)
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

	type row struct {
		target  string
		clients int
		r       result
		ratio   float64
	}
	var rows []row
	for _, c := range o.clients {
		// The targets take turns in o.rounds short slices, so a burst of load from something
		// else on the machine hits all of them alike instead of skewing one.
		acc := make([]sample, len(jobs))
		for range o.rounds {
			for i, j := range jobs {
				acc[i].add(measure(ctx, j.client, j.action, j.params, c, o.warmup, o.duration/time.Duration(o.rounds)))
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		b := acc[0].result()
		for i, j := range jobs {
			r := acc[i].result()
			ratio := 0.0
			if b.rps > 0 {
				ratio = r.rps / b.rps
			}
			logf("%-28s clients=%-3d %8.0f req/s  p50=%-9s p99=%-9s errors=%d", j.name, c, r.rps, fmtDur(r.p50), fmtDur(r.p99), r.errors)
			rows = append(rows, row{j.name, c, r, ratio})
		}
	}

	mode := "separate process"
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
	fmt.Printf("- Server RSS before / after the measurements: %s / %s (the nonce cache keeps each nonce until its timestamp is %v old)\n", rssBefore, rss(srv.pid), rpc.SkewWindow)
	fmt.Printf("- Load average before / after: %s / %s\n", loadBefore, loadAvg())
	fmt.Printf("- Run: %v measured per target and level, in %d slices taking turns, each after %v warm-up; server %s, %s; dataset %d CENs, %d transit routers (PageSize=50: every item in one page)\n",
		o.duration, o.rounds, o.warmup, mode, strings.Join(append([]string{"--transition-delay", o.delay.String()}, o.serverArgs...), " "), o.cens, 2*o.cens)
	fmt.Println()
	fmt.Println("| target | clients | req/s | p50 | p99 | errors | real/bare |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		ratio := "—"
		if !strings.HasPrefix(r.target, "bare") {
			ratio = fmt.Sprintf("%.2fx", r.ratio)
		}
		fmt.Printf("| %s | %d | %.0f | %s | %s | %d | %s |\n", r.target, r.clients, r.r.rps, fmtDur(r.r.p50), fmtDur(r.r.p99), r.r.errors, ratio)
	}
	fmt.Println()
	// Verdict against the targets at the highest concurrency.
	hi := slices.Max(o.clients)
	var bareHi float64
	for _, r := range rows {
		if r.clients == hi && strings.HasPrefix(r.target, "bare") {
			bareHi = r.r.rps
		}
	}
	for _, r := range rows {
		if r.clients != hi || strings.HasPrefix(r.target, "bare") {
			continue
		}
		okRatio := r.ratio >= 0.5
		okP99 := r.r.p99 < 20*time.Millisecond
		fmt.Printf("- %s at %d clients: %.0f req/s = %.2fx bare (%.0f req/s; target >= 0.5x: %s), p99 %s (target < 20ms: %s)\n",
			r.target, hi, r.r.rps, r.ratio, bareHi, verdict(okRatio), fmtDur(r.r.p99), verdict(okP99))
	}
	return nil
}

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

// measure runs `clients` goroutines calling action back to back (each call signed afresh
// with a new nonce by rpc.Client) for warmup unmeasured, then for d measured. Calls that
// started before the measured window or ended after it are not counted.
func measure(ctx context.Context, c *rpc.Client, action string, params map[string]string, clients int, warmup, d time.Duration) sample {
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
				err := c.Call(ctx, cbnVersion, action, params, nil)
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
		logf("%s %s x%d: %d errors, first: %v", c.Endpoint, action, clients, out.errors, firstErr)
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

func startBare(keyID, secret string) (target, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return target{}, err
	}
	hs := &http.Server{Handler: benchkit.NewBare(map[string]string{keyID: secret}), ReadHeaderTimeout: 10 * time.Second}
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
func startProcess(bin, tmp, keyID, secret string, delay time.Duration, extra []string) (target, error) {
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
		cmd := exec.Command(bin, append([]string{"server", "--listen", addr, "--data", filepath.Join(tmp, "data"),
			"--transition-delay", delay.String(), "--log-level", "warn"}, extra...)...)
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
func startInProcess(ctx context.Context, tmp, keyID, secret string, delay time.Duration) (target, error) {
	ctx, cancel := context.WithCancel(ctx)
	addrc := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- server.Run(ctx, server.Options{
			Listen: "127.0.0.1:0", DataDir: filepath.Join(tmp, "data"), Config: config.Default(),
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
