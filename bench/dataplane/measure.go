package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"opencen/bench/internal/benchkit"
	"opencen/internal/dataplane/nsutil"
	"opencen/internal/lab"
)

// ---------------------------------------------------------------- charon log watch

// logWatch notes, per connection, when the cloud-side charon first logged an established
// CHILD_SA ("CHILD_SA <name>{<n>} established with SPIs ..."; charon flushes every line).
// Reading a few small files every 20 ms costs next to nothing, unlike asking 20 charons
// over VICI.
type logWatch struct {
	mu   sync.Mutex
	up   map[int]time.Duration
	seen map[int]int64 // bytes already scanned
}

func newLogWatch() *logWatch { return &logWatch{up: map[int]time.Duration{}, seen: map[int]int64{}} }

func (w *logWatch) run(ctx context.Context, start time.Time, files func() map[int]string) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		for k, path := range files() {
			w.mu.Lock()
			_, done := w.up[k]
			off := w.seen[k]
			w.mu.Unlock()
			if done || path == "" {
				continue
			}
			b, err := os.ReadFile(path)
			if err != nil || int64(len(b)) <= off {
				continue
			}
			chunk := b[off:]
			if i := bytes.LastIndexByte(chunk, '\n'); i >= 0 {
				chunk = chunk[:i+1]
			} else {
				continue
			}
			found := false
			for _, line := range strings.Split(string(chunk), "\n") {
				if strings.Contains(line, "CHILD_SA ") && strings.Contains(line, "} established with SPIs") &&
					!strings.Contains(line, "inbound CHILD_SA") && !strings.Contains(line, "outbound CHILD_SA") {
					found = true
					break
				}
			}
			w.mu.Lock()
			w.seen[k] = off + int64(len(chunk))
			if found {
				w.up[k] = time.Since(start)
			}
			w.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (w *logWatch) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.up)
}

func (w *logWatch) snapshot() map[int]time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := make(map[int]time.Duration, len(w.up))
	for k, v := range w.up {
		m[k] = v
	}
	return m
}

// ---------------------------------------------------------------- memory

type procMem struct {
	rss, pss, anon int64 // kB
	threads        int
}

// procMemory reads VmRSS, RssAnon and Threads from /proc/<pid>/status and Pss from
// smaps_rollup (zero when unreadable).
func procMemory(pid int) procMem {
	st := benchkit.ProcFields(pid, "status")
	return procMem{rss: st["VmRSS"], anon: st["RssAnon"], threads: int(st["Threads"]), pss: benchkit.ProcFields(pid, "smaps_rollup")["Pss"]}
}

// memSummary is the average over a set of charons.
type memSummary struct {
	n              int
	rss, pss, anon float64 // kB, averages
	minRSS, maxRSS int64
	threads        float64
}

func charonMemory(pids []int) memSummary {
	var s memSummary
	for _, pid := range pids {
		m := procMemory(pid)
		if m.rss == 0 {
			continue
		}
		if s.n == 0 || m.rss < s.minRSS {
			s.minRSS = m.rss
		}
		s.maxRSS = max(s.maxRSS, m.rss)
		s.n++
		s.rss += float64(m.rss)
		s.pss += float64(m.pss)
		s.anon += float64(m.anon)
		s.threads += float64(m.threads)
	}
	if s.n > 0 {
		s.rss /= float64(s.n)
		s.pss /= float64(s.n)
		s.anon /= float64(s.n)
		s.threads /= float64(s.n)
	}
	return s
}

// selfSample is this process's memory (it runs the server and the gateway).
type selfSample struct {
	procMem
	goroutines int
}

func selfMemory() selfSample {
	return selfSample{procMem: procMemory(os.Getpid()), goroutines: numGoroutine()}
}

// ---------------------------------------------------------------- iperf3

// iperfPath is a DC host -> VPC host path through one tunnel.
type iperfPath struct {
	name   string
	dc     *lab.DC
	vpc    *lab.VPCHost
	charon nsutil.Charon // the cloud-side charon of the tunnel
	server *exec.Cmd
}

func (p *iperfPath) charonPID() int { return p.charon.PID() }

// esp is the cloud-side charon's installed child SA ("TUNNEL-in-UDP, ESP:AES_CBC-128/HMAC_SHA1_96").
func (p *iperfPath) esp(ctx context.Context) string {
	out, err := cmdRun(ctx, []string{"STRONGSWAN_CONF=" + p.charon.ConfFile()}, "swanctl", "--list-sas", "--uri", "unix://"+p.charon.Socket())
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	for _, l := range strings.Split(out, "\n") {
		if i := strings.Index(l, "INSTALLED, "); i >= 0 {
			return strings.TrimSpace(l[i+len("INSTALLED, "):])
		}
	}
	return "no INSTALLED child SA"
}

// waitPing waits until the DC host reaches the VPC host and back (the gateway programs
// routes within a sync or two).
func (p *iperfPath) waitPing(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if err = p.dc.Ping(ctx, p.vpc.Addr, 1); err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if err != nil {
		return fmt.Errorf("%s: DC host %s cannot reach VPC host %s: %w", p.name, p.dc.Host, p.vpc.Addr, err)
	}
	if err := p.vpc.Ping(ctx, p.dc.Host, 2); err != nil {
		return fmt.Errorf("%s: VPC host -> DC host: %w", p.name, err)
	}
	return nil
}

// startServer runs iperf3 -s in the VPC host's namespace (stopped by its PID at cleanup).
func (p *iperfPath) startServer(ctx context.Context, cl *benchkit.Cleanups) error {
	cmd := exec.Command("ip", "netns", "exec", p.vpc.Netns, "iperf3", "-s", "-B", p.vpc.Addr.String(), "-p", "5201")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("iperf3 server: %w", err)
	}
	p.server = cmd
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	pid := cmd.Process.Pid // ip netns exec execs iperf3: this is iperf3's pid
	cl.Add("iperf3 server "+p.name, func(context.Context) error {
		select {
		case <-done:
			return nil
		default:
		}
		err := nsutil.Kill(pid, 2*time.Second)
		<-done
		return err
	})
	// wait until it listens
	for i := 0; i < 100; i++ {
		if o, _ := exec.CommandContext(ctx, "ip", "netns", "exec", p.vpc.Netns, "ss", "-Hltn", "sport = :5201").Output(); len(bytes.TrimSpace(o)) > 0 {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("iperf3 server exited: %s", out.String())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("iperf3 server in %s does not listen", p.vpc.Netns)
}

type iperfResult struct {
	mbps        float64 // received
	sentMbps    float64
	retransmits int
}

// client runs iperf3 -c from the DC host for d and returns the receiver's rate.
func (p *iperfPath) client(ctx context.Context, d time.Duration) (iperfResult, error) {
	// A server that has just finished a test takes a moment before it takes the next:
	// back to back on the same path (round n's second run, round n+1's first) the client
	// is told "busy".
	for try := 1; ; try++ {
		r, err := p.clientOnce(ctx, d)
		if err == nil || try == 5 || !strings.Contains(err.Error(), "server is busy") {
			return r, err
		}
		if err := benchkit.SleepCtx(ctx, time.Second); err != nil {
			return r, err
		}
	}
}

func (p *iperfPath) clientOnce(ctx context.Context, d time.Duration) (iperfResult, error) {
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	secs := strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", p.dc.Netns, "iperf3", "-c", p.vpc.Addr.String(), "-B", p.dc.Host.String(),
		"-p", "5201", "-t", secs, "-J", "--connect-timeout", "5000")
	out, err := cmd.Output()
	var r struct {
		Error string `json:"error"`
		End   struct {
			SumSent struct {
				BitsPerSecond float64 `json:"bits_per_second"`
				Retransmits   int     `json:"retransmits"`
			} `json:"sum_sent"`
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if jerr := json.Unmarshal(out, &r); jerr != nil {
		return iperfResult{}, fmt.Errorf("%v: %s", err, out)
	}
	if r.Error != "" {
		return iperfResult{}, fmt.Errorf("%s", r.Error)
	}
	if err != nil {
		return iperfResult{}, err
	}
	return iperfResult{mbps: r.End.SumReceived.BitsPerSecond / 1e6, sentMbps: r.End.SumSent.BitsPerSecond / 1e6, retransmits: r.End.SumSent.Retransmits}, nil
}

// cpuTimes is the CPU time (user + system) this process has used, and that of its
// children that have been waited for (the ip, nft and swanctl commands it ran).
type cpuTimes struct{ self, children time.Duration }

func selfCPU() cpuTimes {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return cpuTimes{}
	}
	// pid (comm) state ppid ...: utime, stime, cutime, cstime are fields 14 to 17,
	// i.e. 12 to 15 after the state
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return cpuTimes{}
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return cpuTimes{}
	}
	tick := func(s string) time.Duration {
		v, _ := strconv.ParseInt(s, 10, 64)
		return time.Duration(v) * time.Second / 100 // USER_HZ is 100 on Linux
	}
	return cpuTimes{self: tick(f[11]) + tick(f[12]), children: tick(f[13]) + tick(f[14])}
}
