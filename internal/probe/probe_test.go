package probe

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"opencen/internal/dataplane/nsutil"
)

// TestHealthyBlockUnblock: first verdict healthy; B drops the probes -> unhealthy after
// about Interval x Retry; B answers again -> healthy after one reply.
func TestHealthyBlockUnblock(t *testing.T) {
	t.Parallel()
	pr := newPair(t, 1)
	p, rec := newProber(t)
	const interval, retry = 200 * time.Millisecond, 3
	if err := p.Set([]Check{pr.check("vco-1", 1, interval, retry)}); err != nil {
		t.Fatal(err)
	}
	res := rec.expect(t, 0, "vco-1", true, 2*time.Second)
	t.Logf("first verdict: %+v", res)
	if !strings.Contains(res.Detail, "reply from "+dstB(1).String()) {
		t.Errorf("detail %q: want the reply named", res.Detail)
	}

	time.Sleep(500 * time.Millisecond) // healthy for a while: no more results
	if got := rec.since(1, ""); len(got) != 0 {
		t.Fatalf("results while healthy: %+v", got)
	}
	m := rec.mark()
	pr.block(dstB(1))
	blocked := time.Now()
	res = rec.expect(t, m, "vco-1", false, 5*time.Second)
	lat := res.At.Sub(blocked)
	t.Logf("unhealthy after %v (interval %v x retry %d = %v): %s", lat.Round(time.Millisecond), interval, retry, interval*retry, res.Detail)
	if lat < 500*time.Millisecond || lat > 2*time.Second {
		t.Errorf("detection took %v, want 0.5 s to 2 s", lat)
	}
	if !strings.Contains(res.Detail, "3 consecutive probes lost") {
		t.Errorf("detail %q: want the losses counted", res.Detail)
	}

	m = rec.mark()
	pr.unblock(dstB(1))
	unblocked := time.Now()
	res = rec.expect(t, m, "vco-1", true, 3*time.Second)
	rl := res.At.Sub(unblocked)
	t.Logf("healthy again after %v: %s", rl.Round(time.Millisecond), res.Detail)
	if rl > interval+300*time.Millisecond {
		t.Errorf("recovery took %v, want at most one interval (%v) and a round trip", rl, interval)
	}
	if all := rec.since(0, "vco-1"); len(all) != 3 {
		t.Errorf("results %+v: want exactly healthy, unhealthy, healthy", all)
	}
	st, _ := stateOf(p, "vco-1")
	if !st.Healthy || !st.Reported || st.Replies == 0 || st.Sent < st.Replies+3 || st.Losses != 0 {
		t.Errorf("status %+v", st)
	}
}

// TestSetChanges: interval, retry and destination changes take effect; Set with the same
// checks changes nothing; removed checks stop probing; Close stops everything.
func TestSetChanges(t *testing.T) {
	t.Parallel()
	pr := newPair(t, 2)
	p, rec := newProber(t)
	c := pr.check("vco-c", 1, 100*time.Millisecond, 3)
	if err := p.Set([]Check{c}); err != nil {
		t.Fatal(err)
	}
	rec.expect(t, 0, c.ID, true, 2*time.Second)

	// Interval 100 ms: about 15 requests in 1.5 s.
	pr.requests(dstB(1))
	time.Sleep(1500 * time.Millisecond)
	n1 := pr.requests(dstB(1))
	t.Logf("interval 100ms: %d requests in 1.5s", n1)
	if n1 < 10 || n1 > 20 {
		t.Errorf("interval 100ms: %d requests in 1.5s, want about 15", n1)
	}

	// The same checks again: nothing restarts (the counters go on).
	before, _ := stateOf(p, c.ID)
	if err := p.Set([]Check{c}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	after, _ := stateOf(p, c.ID)
	if after.Sent <= before.Sent {
		t.Errorf("Set with the same check restarted it: sent %d, then %d", before.Sent, after.Sent)
	}

	// Interval 400 ms: about 4 requests in 1.6 s; the verdict is kept (no result).
	m := rec.mark()
	c.Interval = 400 * time.Millisecond
	if err := p.Set([]Check{c}); err != nil {
		t.Fatal(err)
	}
	base := pr.requests(dstB(1))
	time.Sleep(1600 * time.Millisecond)
	n2 := pr.requests(dstB(1)) - base
	t.Logf("interval 400ms: %d requests in 1.6s", n2)
	if n2 < 2 || n2 > 6 {
		t.Errorf("interval 400ms: %d requests in 1.6s, want about 4", n2)
	}
	if got := rec.since(m, ""); len(got) != 0 {
		t.Errorf("timing change of a healthy check reported %+v", got)
	}

	// Retry 1 at 200 ms: unhealthy after one lost probe (at most interval + timeout).
	c.Interval, c.Retry = 200*time.Millisecond, 1
	if err := p.Set([]Check{c}); err != nil {
		t.Fatal(err)
	}
	m = rec.mark()
	pr.block(dstB(1))
	blocked := time.Now()
	res := rec.expect(t, m, c.ID, false, 3*time.Second)
	lat := res.At.Sub(blocked)
	t.Logf("retry 1: unhealthy after %v: %s", lat.Round(time.Millisecond), res.Detail)
	if lat > 2*c.Interval+200*time.Millisecond {
		t.Errorf("retry 1 at 200ms: detection took %v, want at most about 400ms", lat)
	}

	// New destination (answering): the check starts over and reports healthy.
	m = rec.mark()
	c.Destination = dstB(2)
	if err := p.Set([]Check{c}); err != nil {
		t.Fatal(err)
	}
	res = rec.expect(t, m, c.ID, true, 2*time.Second)
	if !strings.Contains(res.Detail, dstB(2).String()) {
		t.Errorf("after the destination change: %+v, want a reply from %s", res, dstB(2))
	}

	// A second check, then remove the first: it stops, the other goes on.
	c2 := pr.check("vco-d", 1, 100*time.Millisecond, 3)
	pr.unblock(dstB(1))
	if err := p.Set([]Check{c, c2}); err != nil {
		t.Fatal(err)
	}
	rec.expect(t, m, c2.ID, true, 2*time.Second)
	if err := p.Set([]Check{c2}); err != nil {
		t.Fatal(err)
	}
	m = rec.mark()
	if st := p.Status(); len(st) != 1 || st[0].Check.ID != c2.ID {
		t.Fatalf("status after removal: %+v", st)
	}
	r0, d0 := pr.requests(dstB(2)), pr.requests(dstB(1))
	time.Sleep(600 * time.Millisecond)
	if r1 := pr.requests(dstB(2)); r1 != r0 {
		t.Errorf("removed check still probes: %d -> %d requests", r0, r1)
	}
	if d1 := pr.requests(dstB(1)); d1 < d0+3 {
		t.Errorf("remaining check: %d -> %d requests in 600ms at 100ms", d0, d1)
	}

	// Close: no probes and no results afterwards.
	p.Close()
	m = rec.mark()
	d0 = pr.requests(dstB(1))
	time.Sleep(400 * time.Millisecond)
	if d1 := pr.requests(dstB(1)); d1 != d0 {
		t.Errorf("after Close: %d -> %d requests", d0, d1)
	}
	if got := rec.since(m, ""); len(got) != 0 {
		t.Errorf("results after Close: %+v", got)
	}
}

// TestManyChecks: 20 checks in one namespace from one source, 10 to each of two
// destinations; blocking one destination makes exactly its 10 checks unhealthy.
func TestManyChecks(t *testing.T) {
	t.Parallel()
	pr := newPair(t, 2)
	p, rec := newProber(t)
	const n = 20
	var checks []Check
	for i := range n {
		checks = append(checks, pr.check(fmt.Sprintf("vco-many-%02d", i), 1+i%2, 200*time.Millisecond, 3))
	}
	if err := p.Set(checks); err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		rec.expect(t, 0, c.ID, true, 3*time.Second)
	}
	m := rec.mark()
	pr.block(dstB(2))
	for _, c := range checks {
		if c.Destination == dstB(2) {
			rec.expect(t, m, c.ID, false, 3*time.Second)
		}
	}
	time.Sleep(1500 * time.Millisecond)
	for _, c := range checks {
		got := rec.since(0, c.ID)
		want := 1
		if c.Destination == dstB(2) {
			want = 2
		}
		if len(got) != want {
			t.Errorf("%s to %s: results %+v, want %d", c.ID, c.Destination, got, want)
		}
	}
	for _, st := range p.Status() {
		if st.Replies > st.Sent {
			t.Errorf("%s: %d replies for %d requests", st.Check.ID, st.Replies, st.Sent)
		}
		if st.Check.Destination == dstB(2) && (st.Healthy || st.Losses < 3) {
			t.Errorf("%s (blocked): %+v", st.Check.ID, st)
		}
		if st.Check.Destination == dstB(1) && (!st.Healthy || st.Losses > 1 || st.Sent-st.Replies > 2) {
			t.Errorf("%s (answering): %+v", st.Check.ID, st)
		}
	}
}

// TestLink: with no route to the destination, a probe bound to a link still goes out
// through it (on-link; B answers ARP for its address).
func TestLink(t *testing.T) {
	t.Parallel()
	pr := newPair(t, 1)
	if _, err := nsutil.IPn(pr.ctx, pr.A, "route", "del", "169.254.100.0/24"); err != nil {
		t.Fatal(err)
	}
	p, rec := newProber(t)
	routed := pr.check("vco-routed", 1, 100*time.Millisecond, 2)
	bound := routed
	bound.ID, bound.Link = "vco-bound", pr.vethA
	if err := p.Set([]Check{routed, bound}); err != nil {
		t.Fatal(err)
	}
	res := rec.expect(t, 0, bound.ID, true, 2*time.Second)
	t.Logf("bound to %s: %s", bound.Link, res.Detail)
	res = rec.expect(t, 0, routed.ID, false, 2*time.Second)
	t.Logf("routed: %s", res.Detail)
	if !strings.Contains(res.Detail, "unreachable") {
		t.Errorf("routed check without a route: detail %q, want unreachable", res.Detail)
	}
	missing := bound
	missing.ID, missing.Link = "vco-nolink", "pbnosuchlink"
	if err := p.Set([]Check{missing}); err != nil {
		t.Fatal(err)
	}
	res = rec.expect(t, 0, missing.ID, false, 2*time.Second)
	if !strings.Contains(res.Detail, "link pbnosuchlink does not exist") {
		t.Errorf("missing link: detail %q", res.Detail)
	}
}

// TestSourceAndNamespace: a source that is not local, or a namespace that does not exist,
// is a failing check (with a detail saying so) that recovers once fixed, also when the
// router namespace is deleted and created again.
func TestSourceAndNamespace(t *testing.T) {
	t.Parallel()
	pr := newPair(t, 1)
	p, rec := newProber(t)
	other := netip.MustParseAddr("169.254.200.9")
	nosrc := pr.check("vco-nosrc", 1, 100*time.Millisecond, 2)
	nosrc.Source = other
	nons := pr.check("vco-nons", 1, 100*time.Millisecond, 2)
	nons.Netns = pr.name + "-none"
	main := pr.check("vco-main", 1, 100*time.Millisecond, 2)
	if err := p.Set([]Check{nosrc, nons, main}); err != nil {
		t.Fatal(err)
	}
	rec.expect(t, 0, main.ID, true, 2*time.Second)
	res := rec.expect(t, 0, nosrc.ID, false, 2*time.Second)
	if !strings.Contains(res.Detail, "source 169.254.200.9 is not a local address in namespace "+pr.A) {
		t.Errorf("non-local source: detail %q", res.Detail)
	}
	res = rec.expect(t, 0, nons.ID, false, 2*time.Second)
	if !strings.Contains(res.Detail, "namespace "+nons.Netns) {
		t.Errorf("missing namespace: detail %q", res.Detail)
	}

	m := rec.mark()
	if added, err := EnsureSource(pr.ctx, pr.A, other); err != nil || !added {
		t.Fatalf("EnsureSource: %v, %v", added, err)
	}
	rec.expect(t, m, nosrc.ID, true, 2*time.Second)

	// Router namespace deleted: the checks fail (and do not keep it alive); recreated:
	// they recover on a new socket.
	m = rec.mark()
	if err := nsutil.DelNetns(pr.ctx, pr.A); err != nil {
		t.Fatal(err)
	}
	res = rec.expect(t, m, main.ID, false, 2*time.Second)
	t.Logf("namespace deleted: %s", res.Detail)
	// The namespace really goes (no socket keeps it alive): its veth's end in B goes too.
	for i := 0; ; i++ {
		if _, err := nsutil.IPn(pr.ctx, pr.B, "link", "show", pr.name+"b"); nsutil.IsNotExist(err) {
			break
		}
		if i == 60 {
			t.Fatal("the deleted namespace lives on (its veth is still in B): a socket keeps it")
		}
		time.Sleep(50 * time.Millisecond)
	}
	m = rec.mark()
	pr.setupA()
	res = rec.expect(t, m, main.ID, true, 2*time.Second)
	t.Logf("namespace recreated: %s", res.Detail)
}

// TestDetectionLatency measures the time from B starting to drop probes to the unhealthy
// verdict (and from B answering again to the healthy one), blocking at random points of
// the probe cycle, for several intervals and retry counts. Target: detection at most
// Interval x Retry + 1 s (the prober's bound is Interval x Retry + min(Interval, 800 ms)).
// With -short the product default (3 s x 3) is left out.
func TestDetectionLatency(t *testing.T) {
	pr := newPair(t, 1)
	p, rec := newProber(t)
	type row struct {
		interval time.Duration
		retry    int
		reps     int
	}
	rows := []row{
		{100 * time.Millisecond, 3, 5}, {200 * time.Millisecond, 3, 5}, {100 * time.Millisecond, 10, 3},
		{500 * time.Millisecond, 2, 3}, {time.Second, 2, 3},
	}
	if !testing.Short() {
		rows = append(rows, row{DefaultInterval, DefaultRetry, 1})
	}
	dst := dstB(1)
	t.Logf("%-9s %-5s %-6s %-22s %-8s %s", "interval", "retry", "IxR", "detect min/avg/max", "bound", "recover max")
	for i, r := range rows {
		c := pr.check(fmt.Sprintf("vco-lat-%d", i), 1, r.interval, r.retry)
		m := rec.mark()
		if err := p.Set([]Check{c}); err != nil {
			t.Fatal(err)
		}
		rec.expect(t, m, c.ID, true, r.interval+2*time.Second)
		var detect, recov []time.Duration
		for range r.reps {
			// block at a random point of the probe cycle
			time.Sleep(r.interval + time.Duration(rand.Int64N(int64(r.interval))))
			m := rec.mark()
			pr.block(dst)
			t0 := time.Now()
			res := rec.expect(t, m, c.ID, false, r.interval*time.Duration(r.retry)+3*time.Second)
			detect = append(detect, res.At.Sub(t0))
			m = rec.mark()
			pr.unblock(dst)
			t1 := time.Now()
			res = rec.expect(t, m, c.ID, true, r.interval+3*time.Second)
			recov = append(recov, res.At.Sub(t1))
		}
		ixr := r.interval * time.Duration(r.retry)
		bound := ixr + time.Second
		mn, avg, mx := stats(detect)
		_, _, rmx := stats(recov)
		t.Logf("%-9v %-5d %-6v %-22s %-8v %v", r.interval, r.retry, ixr,
			fmt.Sprintf("%v/%v/%v", ms(mn), ms(avg), ms(mx)), bound, ms(rmx))
		if mx > bound {
			t.Errorf("interval %v retry %d: detection took up to %v, want at most %v", r.interval, r.retry, mx, bound)
		}
		if lo := r.interval * time.Duration(r.retry-1); mn < lo {
			t.Errorf("interval %v retry %d: detection after %v, before %d probes could be lost", r.interval, r.retry, mn, r.retry)
		}
		if rmx > r.interval+500*time.Millisecond {
			t.Errorf("interval %v: recovery took up to %v, want at most one interval and a round trip", r.interval, rmx)
		}
	}
}

func ms(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

func stats(ds []time.Duration) (mn, avg, mx time.Duration) {
	if len(ds) == 0 {
		return
	}
	mn, mx = slices.Min(ds), slices.Max(ds)
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return mn, sum / time.Duration(len(ds)), mx
}
