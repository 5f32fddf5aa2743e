package dataplane

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"opencen/internal/dataplane/nsutil"
	"opencen/internal/lab"
	"opencen/internal/testenv"
)

// Data-plane tests build real namespaces, veths and charons. They need root, strongSwan
// (charon with kernel-libipsec, swanctl), iproute2 and nftables; without them they fail
// naming what is missing, or skip with OPENCEN_SKIP_DATAPLANE=1. Every test uses its own
// random prefix and removes everything it created, also when it fails.

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(crashHelper())
	}
	os.Exit(m.Run())
}

// randomPrefix is "t" + 4 hex digits + "-".
func randomPrefix() string {
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	return "t" + hex.EncodeToString(b) + "-"
}

type env struct {
	t      *testing.T
	ctx    context.Context
	prefix string
	runDir string
	lab    *lab.Lab
	drv    *Netns
	events chan Event
}

func (e *env) opts() NetnsOptions {
	return NetnsOptions{
		Prefix: e.prefix, RunDir: filepath.Join(e.runDir, "dp"),
		WANNetns: e.lab.WANNetns, WANBridge: lab.Bridge,
		OnEvent: func(ev Event) {
			select {
			case e.events <- ev:
			default:
			}
		},
		Logf: func(format string, args ...any) { e.t.Logf("driver: "+format, args...) },
	}
}

// newEnv builds a lab (WAN bridge) and a driver with a fresh prefix, and registers the
// removal of everything with that prefix, then checks that nothing is left.
func newEnv(t *testing.T) *env {
	t.Helper()
	testenv.RequireDataplane(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	runDir, err := os.MkdirTemp("", "ocdp")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, prefix: randomPrefix(), runDir: runDir, events: make(chan Event, 1000)}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if e.drv != nil {
			e.drv.Close()
		}
		d, err := NewNetns(e.opts0())
		if err == nil {
			if err := d.Cleanup(cctx); err != nil {
				t.Errorf("driver cleanup: %v", err)
			}
		}
		if err := lab.Cleanup(cctx, e.prefix, filepath.Join(runDir, "lab")); err != nil {
			t.Errorf("lab cleanup: %v", err)
		}
		if left := leftovers(e.prefix, runDir); left != "" {
			t.Errorf("left behind: %s", left)
		}
		os.RemoveAll(runDir)
	})
	l, err := lab.New(ctx, e.prefix, filepath.Join(runDir, "lab"))
	if err != nil {
		t.Fatal(err)
	}
	e.lab = l
	if e.drv, err = NewNetns(e.opts()); err != nil {
		t.Fatal(err)
	}
	return e
}

// opts0 works before the lab exists (cleanup after a failed setup).
func (e *env) opts0() NetnsOptions {
	return NetnsOptions{Prefix: e.prefix, RunDir: filepath.Join(e.runDir, "dp"), WANNetns: e.prefix + "wan", WANBridge: lab.Bridge}
}

// leftovers describes anything carrying prefix: namespaces, links in the host namespace,
// mounts, live charons with a pid file under runDir.
func leftovers(prefix, runDir string) string {
	var left []string
	nss, _ := nsutil.ListNetns(prefix)
	for _, ns := range nss {
		left = append(left, "netns "+ns)
	}
	if out, err := nsutil.IP(context.Background(), "-o", "link", "show"); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], prefix) {
				left = append(left, "link "+strings.TrimSuffix(f[1], ":"))
			}
		}
	}
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "/"+prefix) {
				left = append(left, "mount "+line)
			}
		}
	}
	pidFiles, _ := filepath.Glob(filepath.Join(runDir, "*", prefix+"*", "charon.pid"))
	for _, f := range pidFiles {
		if pid := nsutil.ReadPIDFile(f); nsutil.Alive(pid) && nsutil.Comm(pid) == "charon" {
			left = append(left, fmt.Sprintf("charon pid %d (%s)", pid, f))
		}
	}
	return strings.Join(left, ", ")
}

func (e *env) apply(d *Desired) {
	e.t.Helper()
	if err := e.drv.Apply(e.ctx, d); err != nil {
		e.t.Fatalf("Apply: %v", err)
	}
}

func (e *env) render() string {
	e.t.Helper()
	s, err := e.drv.Render(e.ctx)
	if err != nil {
		e.t.Fatalf("Render: %v", err)
	}
	return s
}

// waitState waits until cell id reports state.
func (e *env) waitState(id, state string, timeout time.Duration) CellStatus {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	var last CellStatus
	for time.Now().Before(deadline) {
		st, err := e.drv.Status(e.ctx)
		if cs, ok := st.Cell(id); ok {
			last = cs
			if cs.State == state {
				return cs
			}
		}
		_ = err
		time.Sleep(100 * time.Millisecond)
	}
	e.t.Fatalf("cell %s: not %s within %v; last status %+v", id, state, timeout, last)
	return last
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func addr(s string) netip.Addr  { return netip.MustParseAddr(s) }

func ping(e *env, vpc, src, dst string) error {
	return lab.Ping(e.ctx, e.prefix+"vpc-"+vpc, addr(src), addr(dst), 3)
}

func runIP(e *env, ns string, args ...string) ([]byte, error) { return nsutil.IPn(e.ctx, ns, args...) }

func runNFT(e *env, ns, script string) (string, error) {
	return "", nsutil.NFT(e.ctx, ns, script)
}

// blockIKE drops (on) or lets through again (off) the IKE and NAT-T traffic of namespace
// ns: the path of its tunnels dies while both ends keep running.
func blockIKE(t *testing.T, e *env, ns string, on bool) {
	t.Helper()
	script := "delete table inet blk\n"
	if on {
		script = `table inet blk {
	chain in {
		type filter hook input priority 0; policy accept;
		udp dport { 500, 4500 } drop
	}
	chain out {
		type filter hook output priority 0; policy accept;
		udp sport { 500, 4500 } drop
	}
}
`
	}
	if _, err := runNFT(e, ns, script); err != nil {
		t.Fatal(err)
	}
}

// iperfRate runs an iperf3 client in ns with args (-J is added) and returns the rate the
// server received, in bit/s.
func iperfRate(tb testing.TB, ctx context.Context, ns string, args ...string) float64 {
	tb.Helper()
	out, err := nsutil.Exec(ctx, ns, "iperf3", append(args, "-J")...)
	if err != nil {
		tb.Fatalf("iperf3: %v\n%s", err, out)
	}
	var res struct {
		End struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		tb.Fatalf("iperf3 -J: %v", err)
	}
	return res.End.SumReceived.BitsPerSecond
}

// twoMachines makes two namespaces standing for two machines' network stacks, joined by a
// veth pair (eth1 in each, 10.255.0.1 and .2/24): the underlays of two gateway nodes. They
// are removed when the test ends.
func twoMachines(tb testing.TB, ctx context.Context, prefix string) (hostA, hostB string, ua, ub netip.Addr) {
	tb.Helper()
	hostA, hostB = prefix+"ha", prefix+"hb"
	for _, ns := range []string{hostA, hostB} {
		if err := nsutil.AddNetns(ctx, ns); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = nsutil.DelNetns(context.Background(), ns) })
	}
	if _, err := nsutil.IP(ctx, "link", "add", "eth1", "netns", hostA, "type", "veth", "peer", "name", "eth1", "netns", hostB); err != nil {
		tb.Fatal(err)
	}
	ua, ub = addr("10.255.0.1"), addr("10.255.0.2")
	for ns, a := range map[string]netip.Addr{hostA: ua, hostB: ub} {
		if err := nsutil.IPBatch(ctx, ns, []string{"addr add " + netip.PrefixFrom(a, 24).String() + " dev eth1", "link set eth1 up"}); err != nil {
			tb.Fatal(err)
		}
	}
	return hostA, hostB, ua, ub
}
