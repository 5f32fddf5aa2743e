package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeOps records calls and fails on demand.
type fakeOps struct {
	calls []string
	fail  map[string]error // key -> error for its next calls
	state map[string]string
}

func newFakeOps() *fakeOps { return &fakeOps{fail: map[string]error{}, state: map[string]string{}} }

func (f *fakeOps) Update(_ context.Context, key, obj string) error {
	f.calls = append(f.calls, "update "+key+"="+obj)
	if err := f.fail[key]; err != nil {
		return err
	}
	f.state[key] = obj
	return nil
}

func (f *fakeOps) Delete(_ context.Context, key, obj string) error {
	f.calls = append(f.calls, "delete "+key+"="+obj)
	if err := f.fail[key]; err != nil {
		return err
	}
	delete(f.state, key)
	return nil
}

func (f *fakeOps) take() []string {
	c := f.calls
	f.calls = nil
	return c
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) add(d time.Duration)     { c.t = c.t.Add(d) }
func newClock() *clock                   { return &clock{t: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)} }
func kinds(r *Reconciler[string]) string { return fmt.Sprint(statusKinds(r.Status())) }

func statusKinds(st map[string]Status) map[string]Kind {
	out := map[string]Kind{}
	for k, s := range st {
		out[k] = s.Kind
	}
	return out
}

var errWait = errors.New("waiting")

func setup() (*Reconciler[string], *fakeOps, *clock) {
	ops, c := newFakeOps(), newClock()
	r := New[string](ops, Options{Now: c.now, MinBackoff: time.Second, MaxBackoff: 8 * time.Second,
		Waiting: func(err error) bool { return errors.Is(err, errWait) }, WaitRetry: 100 * time.Millisecond})
	return r, ops, c
}

func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	r, ops, c := setup()
	r.Set(map[string]string{"a": "1", "b": "1"}, nil)
	if got := kinds(r); got != "map[a:pending b:pending]" {
		t.Fatalf("after Set: %s", got)
	}
	if next, n := r.Step(ctx); next != -1 || n != 2 {
		t.Errorf("next after everything is done: %v (%d succeeded), want -1 (2)", next, n)
	}
	if got := ops.take(); !slices.Equal(got, []string{"update a=1", "update b=1"}) {
		t.Errorf("calls %q", got)
	}
	if got := kinds(r); got != "map[a:done b:done]" {
		t.Errorf("after Step: %s", got)
	}
	// Unchanged: nothing to do. Changed: one update. Gone: one delete of what was applied.
	r.Set(map[string]string{"a": "1", "b": "1"}, nil)
	r.Step(ctx)
	if got := ops.take(); len(got) != 0 {
		t.Errorf("unchanged objects applied again: %q", got)
	}
	c.add(time.Second)
	r.Set(map[string]string{"a": "2"}, nil)
	if st := r.Status(); st["b"].Message != "being removed" || st["a"].Kind != Pending || !st["a"].Since.Equal(c.now()) {
		t.Errorf("statuses %+v", st)
	}
	r.Step(ctx)
	if got := ops.take(); !slices.Equal(got, []string{"delete b=1", "update a=2"}) {
		t.Errorf("calls %q (deletions go first)", got)
	}
	if got := kinds(r); got != "map[a:done]" {
		t.Errorf("after removal: %s", got)
	}
	if got := fmt.Sprint(ops.state); got != "map[a:2]" {
		t.Errorf("system %s", got)
	}
}

// TestOneFailureBlocksNothing: a failing object gets an error status and backs off; the
// others converge in the same step.
func TestOneFailureBlocksNothing(t *testing.T) {
	ctx := context.Background()
	r, ops, c := setup()
	ops.fail["b"] = errors.New("charon exited")
	r.Set(map[string]string{"a": "1", "b": "1", "c": "1"}, nil)
	next, _ := r.Step(ctx)
	if got := kinds(r); got != "map[a:done b:error c:done]" {
		t.Fatalf("statuses %s", got)
	}
	if st := r.Status()["b"]; st.Message != "charon exited" {
		t.Errorf("b's message %q", st.Message)
	}
	// Backoff doubles: 1 s, 2 s, 4 s, then at most 8 s.
	var waits []time.Duration
	for range 5 {
		waits = append(waits, next)
		c.add(next)
		ops.take()
		next, _ = r.Step(ctx)
		if got := ops.take(); !slices.Equal(got, []string{"update b=1"}) {
			t.Fatalf("retry calls %q", got)
		}
	}
	if want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second}; !slices.Equal(waits, want) {
		t.Errorf("backoff %v, want %v", waits, want)
	}
	// Mended: it converges, and the next failure starts at the minimum again.
	delete(ops.fail, "b")
	c.add(next)
	r.Step(ctx)
	if got := kinds(r); got != "map[a:done b:done c:done]" {
		t.Errorf("after mending: %s", got)
	}
	ops.fail["b"] = errors.New("again")
	r.Set(map[string]string{"a": "1", "b": "2", "c": "1"}, nil)
	if next, _ := r.Step(ctx); next != time.Second {
		t.Errorf("first retry after a new failure in %v", next)
	}
}

func TestWaiting(t *testing.T) {
	ctx := context.Background()
	r, ops, c := setup()
	ops.fail["router"] = fmt.Errorf("links of x missing: %w", errWait)
	r.Set(map[string]string{"router": "1"}, nil)
	if next, _ := r.Step(ctx); next != 100*time.Millisecond {
		t.Errorf("waiting object due again in %v", next)
	}
	if st := r.Status()["router"]; st.Kind != Pending || !strings.Contains(st.Message, "links of x missing") {
		t.Errorf("status %+v", st)
	}
	delete(ops.fail, "router")
	c.add(100 * time.Millisecond)
	r.Step(ctx)
	if got := kinds(r); got != "map[router:done]" {
		t.Errorf("%s", got)
	}
}

// TestBuildFailure: an object that cannot be built keeps what was applied for it (no
// update, no delete), shows the error, stays in Keep, and is applied again once it builds.
func TestBuildFailure(t *testing.T) {
	ctx := context.Background()
	r, ops, _ := setup()
	r.Set(map[string]string{"a": "1", "b": "1"}, nil)
	r.Step(ctx)
	ops.take()
	r.Set(map[string]string{"a": "1"}, map[string]error{"b": errors.New("IkeConfig.IkeEncAlg: \"blowfish\" is not an encryption algorithm")})
	r.Step(ctx)
	if got := ops.take(); len(got) != 0 {
		t.Errorf("calls for an object that does not build: %q", got)
	}
	if st := r.Status()["b"]; st.Kind != Error || !strings.Contains(st.Message, "blowfish") {
		t.Errorf("status %+v", st)
	}
	if got := r.Keep(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("Keep %v", got)
	}
	if got := fmt.Sprint(r.Applied()); got != "map[a:1 b:1]" {
		t.Errorf("Applied %s", got)
	}
	r.Refresh()
	r.Step(ctx)
	if got := ops.take(); !slices.Equal(got, []string{"update a=1"}) {
		t.Errorf("a refresh touched the object that does not build: %q", got)
	}
	r.Set(map[string]string{"a": "1", "b": "2"}, nil)
	r.Step(ctx)
	if got := ops.take(); !slices.Equal(got, []string{"update b=2"}) {
		t.Errorf("calls once it builds %q", got)
	}
	// Never applied and failing: nothing to keep; gone from both: forgotten.
	r.Set(map[string]string{"a": "1", "b": "2"}, map[string]error{"n": errors.New("bad")})
	if got := r.Keep(); !slices.Equal(got, []string{"a", "b", "n"}) {
		t.Errorf("Keep %v", got)
	}
	r.Set(map[string]string{"a": "1", "b": "2"}, nil)
	if _, ok := r.Status()["n"]; ok {
		t.Error("a failed object that went away is still listed")
	}
	r.Step(ctx)
	if got := ops.take(); len(got) != 0 {
		t.Errorf("calls %q", got)
	}
}

func TestDeleteRetried(t *testing.T) {
	ctx := context.Background()
	r, ops, c := setup()
	r.Set(map[string]string{"a": "1"}, nil)
	r.Step(ctx)
	ops.fail["a"] = errors.New("busy")
	r.Set(nil, nil)
	next, _ := r.Step(ctx)
	if st := r.Status()["a"]; st.Kind != Error || next != time.Second {
		t.Errorf("failed delete: %+v, next %v", st, next)
	}
	delete(ops.fail, "a")
	c.add(next)
	r.Step(ctx)
	if len(r.Status()) != 0 || len(ops.state) != 0 {
		t.Errorf("not deleted: %v %v", r.Status(), ops.state)
	}
}

func TestRefresh(t *testing.T) {
	ctx := context.Background()
	ops, c := newFakeOps(), newClock()
	r := New[string](ops, Options{Now: c.now, Refresh: time.Minute})
	r.Set(map[string]string{"a": "1", "b": "1"}, nil)
	next, _ := r.Step(ctx)
	if next < 54*time.Second || next > 66*time.Second {
		t.Errorf("next refresh in %v, want a minute ±10%%", next)
	}
	ops.take()
	c.add(67 * time.Second)
	r.Step(ctx)
	if got := ops.take(); !slices.Equal(got, []string{"update a=1", "update b=1"}) {
		t.Errorf("periodic refresh %q", got)
	}
	r.Refresh("b")
	r.Step(ctx)
	if got := ops.take(); !slices.Equal(got, []string{"update b=1"}) {
		t.Errorf("refresh of one object %q", got)
	}
}

// TestChangeDuringUpdate: an object changed while its update runs is applied again.
func TestChangeDuringUpdate(t *testing.T) {
	ctx := context.Background()
	ops, c := newFakeOps(), newClock()
	var r *Reconciler[string]
	hook := &hookOps{fakeOps: ops, before: func() { r.Set(map[string]string{"a": "2"}, nil) }}
	r = New[string](hook, Options{Now: c.now})
	r.Set(map[string]string{"a": "1"}, nil)
	if next, _ := r.Step(ctx); next != 0 {
		t.Errorf("the changed object is not due at once: %v", next)
	}
	hook.before = nil
	r.Step(ctx)
	if got := ops.take(); !slices.Equal(got, []string{"update a=1", "update a=2"}) {
		t.Errorf("calls %q", got)
	}
	if got := kinds(r); got != "map[a:done]" || ops.state["a"] != "2" {
		t.Errorf("%s %v", got, ops.state)
	}
}

type hookOps struct {
	*fakeOps
	before func()
}

func (h *hookOps) Update(ctx context.Context, key, obj string) error {
	if h.before != nil {
		h.before()
	}
	return h.fakeOps.Update(ctx, key, obj)
}

// concurrentOps counts how many updates run at once.
type concurrentOps struct {
	mu        sync.Mutex
	now, peak int
	release   chan struct{}
}

func (o *concurrentOps) Update(ctx context.Context, _, _ string) error {
	o.mu.Lock()
	o.now++
	o.peak = max(o.peak, o.now)
	o.mu.Unlock()
	select {
	case <-o.release:
	case <-time.After(20 * time.Millisecond):
	}
	o.mu.Lock()
	o.now--
	o.mu.Unlock()
	return nil
}

func (o *concurrentOps) Delete(context.Context, string, string) error { return nil }

func TestWorkers(t *testing.T) {
	ops := &concurrentOps{release: make(chan struct{})}
	r := New[string](ops, Options{Workers: 3})
	want := map[string]string{}
	for i := range 10 {
		want[fmt.Sprint(i)] = "v"
	}
	r.Set(want, nil)
	_, n := r.Step(context.Background())
	if n != 10 || ops.peak != 3 {
		t.Errorf("%d applied, at most %d at once; want 10, 3", n, ops.peak)
	}
	for k, s := range r.Status() {
		if s.Kind != Done {
			t.Errorf("%s: %+v", k, s)
		}
	}
}
