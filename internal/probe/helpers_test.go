package probe

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"opencen/internal/dataplane/nsutil"
)

// Namespace tests need root, iproute2 and nftables (not strongSwan); without them they
// fail naming what is missing, or skip with OPENCEN_SKIP_DATAPLANE=1. Each builds its own
// pair of namespaces with a random name and deletes them, also when it fails.

func requireNetns(t *testing.T) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (network namespaces, raw ICMP sockets)")
	}
	for tool, pkg := range map[string]string{"ip": "iproute2", "nft": "nftables"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool+" (apt-get install -y "+pkg+")")
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := "this test needs: " + strings.Join(missing, "; ")
	if os.Getenv("OPENCEN_SKIP_DATAPLANE") == "1" {
		t.Skip(msg + " (skipped: OPENCEN_SKIP_DATAPLANE=1)")
	}
	t.Fatal(msg + " (set OPENCEN_SKIP_DATAPLANE=1 to skip)")
}

// Addresses (only inside the test's namespaces).
var (
	linkA = netip.MustParsePrefix("169.254.77.1/30") // A's end of the veth
	linkB = netip.MustParsePrefix("169.254.77.2/30") // B's end
	srcA  = netip.MustParseAddr("169.254.200.1")     // the probes' source, on A's lo
)

// dstB is B's i-th destination address (on B's lo), i >= 1.
func dstB(i int) netip.Addr { return netip.AddrFrom4([4]byte{169, 254, 100, byte(i)}) }

// pair is two namespaces joined by a veth: A (the "router", where the prober sends from,
// with srcA on lo and a route to B's 169.254.100.0/24) and B (the "data center", with
// destination addresses on lo, a route back to 169.254.200.0/24 and an nft set of
// destinations whose echo requests it drops).
type pair struct {
	t      *testing.T
	ctx    context.Context
	name   string
	A, B   string
	vethA  string
	nDst   int
	mu     sync.Mutex
	counts map[netip.Addr]string // destination -> nft counter name
}

func newPair(t *testing.T, nDst int) *pair {
	t.Helper()
	requireNetns(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	name := "pb" + hex.EncodeToString(b)
	p := &pair{t: t, ctx: ctx, name: name, A: name + "-a", B: name + "-b", vethA: name + "a", nDst: nDst,
		counts: map[netip.Addr]string{}}
	t.Cleanup(func() {
		for _, ns := range []string{p.A, p.B} {
			if err := nsutil.DelNetns(context.Background(), ns); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
		if left, _ := nsutil.ListNetns(name); len(left) > 0 {
			t.Errorf("cleanup: namespaces left: %v", left)
		}
	})
	if err := nsutil.AddNetns(ctx, p.B); err != nil {
		t.Fatal(err)
	}
	var cmds []string
	for i := 1; i <= nDst; i++ {
		cmds = append(cmds, fmt.Sprintf("addr add %s/32 dev lo", dstB(i)))
	}
	p.setupA()
	if err := nsutil.IPBatch(ctx, p.B, cmds); err != nil {
		t.Fatal(err)
	}
	if err := nsutil.NFT(ctx, p.B, `table ip pbtest {
	set blocked { type ipv4_addr; }
	chain in {
		type filter hook input priority 0; policy accept;
		icmp type echo-request ip daddr @blocked drop
	}
}
`); err != nil {
		t.Fatal(err)
	}
	return p
}

// setupA (re)creates A, the veth to B and A's addresses and route.
func (p *pair) setupA() {
	t, ctx := p.t, p.ctx
	t.Helper()
	if err := nsutil.AddNetns(ctx, p.A); err != nil {
		t.Fatal(err)
	}
	if _, err := nsutil.IP(ctx, "link", "add", p.vethA, "netns", p.A, "type", "veth", "peer", "name", p.name+"b", "netns", p.B); err != nil {
		t.Fatal(err)
	}
	if err := nsutil.IPBatch(ctx, p.A, []string{
		fmt.Sprintf("addr add %s dev %s", linkA, p.vethA),
		fmt.Sprintf("link set %s up", p.vethA),
		fmt.Sprintf("route add 169.254.100.0/24 via %s", linkB.Addr()),
	}); err != nil {
		t.Fatal(err)
	}
	if err := nsutil.IPBatch(ctx, p.B, []string{
		fmt.Sprintf("addr add %s dev %s", linkB, p.name+"b"),
		fmt.Sprintf("link set %s up", p.name+"b"),
		fmt.Sprintf("route add 169.254.200.0/24 via %s", linkA.Addr()),
	}); err != nil {
		t.Fatal(err)
	}
	if added, err := EnsureSource(ctx, p.A, srcA); err != nil || !added {
		t.Fatalf("EnsureSource(%s, %s) = %v, %v; want added", p.A, srcA, added, err)
	}
}

// check is a check from A's source to B's i-th destination.
func (p *pair) check(id string, i int, interval time.Duration, retry int) Check {
	return Check{ID: id, Netns: p.A, Source: srcA, Destination: dstB(i), Interval: interval, Retry: retry}
}

// block makes B drop echo requests to dst; unblock lets them through.
func (p *pair) block(dst netip.Addr) {
	p.t.Helper()
	if err := nsutil.NFT(p.ctx, p.B, fmt.Sprintf("add element ip pbtest blocked { %s }\n", dst)); err != nil {
		p.t.Fatal(err)
	}
}

func (p *pair) unblock(dst netip.Addr) {
	p.t.Helper()
	if err := nsutil.NFT(p.ctx, p.B, fmt.Sprintf("delete element ip pbtest blocked { %s }\n", dst)); err != nil {
		p.t.Fatal(err)
	}
}

var packetsRE = regexp.MustCompile(`packets (\d+)`)

// requests is how many echo requests to dst B has accepted since the first call for dst.
func (p *pair) requests(dst netip.Addr) int {
	p.t.Helper()
	p.mu.Lock()
	name, ok := p.counts[dst]
	if !ok {
		name = fmt.Sprintf("req%d", len(p.counts))
		p.counts[dst] = name
	}
	p.mu.Unlock()
	if !ok {
		if err := nsutil.NFT(p.ctx, p.B, fmt.Sprintf("add counter ip pbtest %s\nadd rule ip pbtest in ip daddr %s icmp type echo-request counter name %s\n", name, dst, name)); err != nil {
			p.t.Fatal(err)
		}
		return 0
	}
	out, err := nsutil.Exec(p.ctx, p.B, "nft", "list", "counter", "ip", "pbtest", name)
	if err != nil {
		p.t.Fatal(err)
	}
	m := packetsRE.FindSubmatch(out)
	if m == nil {
		p.t.Fatalf("nft counter %s: %s", name, out)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// recorder collects a Prober's results.
type recorder struct {
	mu      sync.Mutex
	results []Result
	notify  chan struct{}
}

func newRecorder() *recorder { return &recorder{notify: make(chan struct{})} }

func (r *recorder) on(res Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.results = append(r.results, res)
	close(r.notify)
	r.notify = make(chan struct{})
}

// mark is the position after the results so far.
func (r *recorder) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.results)
}

// since returns the results of id after mark (all ids if id is "").
func (r *recorder) since(mark int, id string) []Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Result
	for _, res := range r.results[mark:] {
		if id == "" || res.ID == id {
			out = append(out, res)
		}
	}
	return out
}

// wait returns the first result of id after mark, or fails after timeout.
func (r *recorder) wait(t *testing.T, mark int, id string, timeout time.Duration) Result {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		for _, res := range r.results[mark:] {
			if res.ID == id {
				r.mu.Unlock()
				return res
			}
		}
		n := r.notify
		r.mu.Unlock()
		select {
		case <-n:
		case <-deadline.C:
			t.Fatalf("%s: no result within %v", id, timeout)
		}
	}
}

// expect waits for id's next result after mark and checks its verdict.
func (r *recorder) expect(t *testing.T, mark int, id string, healthy bool, timeout time.Duration) Result {
	t.Helper()
	res := r.wait(t, mark, id, timeout)
	if res.Healthy != healthy {
		t.Fatalf("%s: result %+v, want healthy=%v", id, res, healthy)
	}
	return res
}

func newProber(t *testing.T) (*Prober, *recorder) {
	rec := newRecorder()
	p := New(Options{OnResult: rec.on, Logf: t.Logf})
	t.Cleanup(p.Close)
	return p, rec
}

func stateOf(p *Prober, id string) (State, bool) {
	for _, s := range p.Status() {
		if s.Check.ID == id {
			return s, true
		}
	}
	return State{}, false
}
