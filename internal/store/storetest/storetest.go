// Package storetest is a conformance suite that every store.Store implementation must pass.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"opencen/internal/store"
)

// waitTimeout bounds every wait for a watch event, so a broken store fails instead of hanging.
const waitTimeout = 5 * time.Second

// Run runs the suite. open must return a fresh, empty store for each call; Run closes it
// when the subtest ends (so Close must tolerate being called again by open's own cleanup).
//
// Revisions are only compared, never counted: a store's revisions may start anywhere and
// skip values (an etcd shared with other writers), so the suite passes with a writer
// under another prefix of the same etcd running throughout.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"GetPutDelete", testGetPutDelete},
		{"RevisionBookkeeping", testRevisionBookkeeping},
		{"CASCreate", testCASCreate},
		{"CASUpdate", testCASUpdate},
		{"FailedTxnChangesNothing", testFailedTxnChangesNothing},
		{"MultiOpTxn", testMultiOpTxn},
		{"TxnWithoutOps", testTxnWithoutOps},
		{"PrefixGuard", testPrefixGuard},
		{"TxnSizeLimit", testTxnSizeLimit},
		{"List", testList},
		{"WatchFromRevision", testWatchFromRevision},
		{"WatchFromListRevision", testWatchFromListRevision},
		{"WatchPrefix", testWatchPrefix},
		{"WatchDelete", testWatchDelete},
		{"WatchCancel", testWatchCancel},
		{"WatchSlowReader", testWatchSlowReader},
		{"CanceledContext", testCanceledContext},
		{"ConcurrentCASCounter", testConcurrentCASCounter},
		{"ConcurrentTxns", testConcurrentTxns},
		{"ConcurrentReadsSeeAckedWrites", testConcurrentReadsSeeAckedWrites},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func txn(t *testing.T, s store.Store, cmps []store.Cmp, ops ...store.Op) store.TxnResult {
	t.Helper()
	res, err := s.Txn(ctxFor(t), cmps, ops)
	if err != nil {
		t.Fatalf("Txn(%v, %v): %v", cmps, ops, err)
	}
	return res
}

// put writes unconditionally and returns the revision it got.
func put(t *testing.T, s store.Store, key, value string) int64 {
	t.Helper()
	res := txn(t, s, nil, store.Put(key, []byte(value)))
	if !res.Succeeded {
		t.Fatalf("unconditional put %q did not succeed", key)
	}
	return res.Revision
}

func del(t *testing.T, s store.Store, key string) int64 {
	t.Helper()
	res := txn(t, s, nil, store.Delete(key))
	if !res.Succeeded {
		t.Fatalf("unconditional delete %q did not succeed", key)
	}
	return res.Revision
}

func get(t *testing.T, s store.Store, key string) (store.KV, bool) {
	t.Helper()
	kv, ok, err := s.Get(ctxFor(t), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return kv, ok
}

func revision(t *testing.T, s store.Store) int64 {
	t.Helper()
	rev, err := s.Revision(ctxFor(t))
	if err != nil {
		t.Fatalf("Revision: %v", err)
	}
	return rev
}

// fmtKV renders a KV so that nil and empty values compare equal.
func fmtKV(kv store.KV) string {
	return fmt.Sprintf("%s=%q create=%d mod=%d ver=%d", kv.Key, kv.Value, kv.CreateRevision, kv.ModRevision, kv.Version)
}

func fmtEvent(ev store.Event) string {
	typ := "PUT"
	if ev.Type == store.EventDelete {
		typ = "DELETE"
	} else if ev.Type != store.EventPut {
		typ = fmt.Sprintf("type(%d)", ev.Type)
	}
	return fmt.Sprintf("%s %s=%q mod=%d", typ, ev.KV.Key, ev.KV.Value, ev.KV.ModRevision)
}

func wantKV(t *testing.T, s store.Store, want store.KV) {
	t.Helper()
	got, ok := get(t, s, want.Key)
	if !ok {
		t.Fatalf("Get(%q): missing, want %s", want.Key, fmtKV(want))
	}
	if fmtKV(got) != fmtKV(want) {
		t.Fatalf("Get(%q) = %s, want %s", want.Key, fmtKV(got), fmtKV(want))
	}
}

func wantAbsent(t *testing.T, s store.Store, key string) {
	t.Helper()
	if kv, ok := get(t, s, key); ok {
		t.Fatalf("Get(%q) = %s, want absent", key, fmtKV(kv))
	}
}

func watch(t *testing.T, s store.Store, prefix string, from int64) <-chan store.Event {
	t.Helper()
	ch, err := s.Watch(ctxFor(t), prefix, from)
	if err != nil {
		t.Fatalf("Watch(%q, %d): %v", prefix, from, err)
	}
	return ch
}

// recv reads exactly n events.
func recv(t *testing.T, ch <-chan store.Event, n int) []store.Event {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	evs := make([]store.Event, 0, n)
	for len(evs) < n {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("watch channel closed after %d of %d events", len(evs), n)
			}
			evs = append(evs, ev)
		case <-timer.C:
			t.Fatalf("timed out after %d of %d events", len(evs), n)
		}
	}
	return evs
}

// wantEvents reads len(want) events and compares their rendering.
func wantEvents(t *testing.T, ch <-chan store.Event, want ...string) {
	t.Helper()
	evs := recv(t, ch, len(want))
	for i, ev := range evs {
		if got := fmtEvent(ev); got != want[i] {
			t.Fatalf("event %d = %s, want %s", i, got, want[i])
		}
	}
}

func wantNoEvent(t *testing.T, ch <-chan store.Event) {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if ok {
			t.Fatalf("unexpected event %s", fmtEvent(ev))
		}
		t.Fatalf("watch channel closed unexpectedly")
	case <-time.After(50 * time.Millisecond):
	}
}

func putEv(key, value string, rev int64) string {
	return fmtEvent(store.Event{Type: store.EventPut, KV: store.KV{Key: key, Value: []byte(value), ModRevision: rev}})
}

func delEv(key, lastValue string, rev int64) string {
	return fmtEvent(store.Event{Type: store.EventDelete, KV: store.KV{Key: key, Value: []byte(lastValue), ModRevision: rev}})
}

func testGetPutDelete(t *testing.T, s store.Store) {
	wantAbsent(t, s, "a")
	put(t, s, "a", "1")
	if kv, _ := get(t, s, "a"); string(kv.Value) != "1" || kv.Key != "a" {
		t.Fatalf("Get(a) = %s, want value 1", fmtKV(kv))
	}
	put(t, s, "a", "2")
	if kv, _ := get(t, s, "a"); string(kv.Value) != "2" {
		t.Fatalf("Get(a) = %s, want value 2", fmtKV(kv))
	}
	put(t, s, "b", "")
	if kv, ok := get(t, s, "b"); !ok || len(kv.Value) != 0 {
		t.Fatalf("Get(b) = %s, %v; want present with empty value", fmtKV(kv), ok)
	}
	del(t, s, "a")
	wantAbsent(t, s, "a")
	if _, ok := get(t, s, "b"); !ok {
		t.Fatalf("deleting a removed b")
	}
}

// wantAfter fails unless each revision is greater than the one before it.
func wantAfter(t *testing.T, what string, revs ...int64) {
	t.Helper()
	for i := 1; i < len(revs); i++ {
		if revs[i] <= revs[i-1] {
			t.Fatalf("%s: revisions %v do not increase", what, revs)
		}
	}
}

// wantAtLeast fails when the revision a read reports is older than a write already acknowledged.
func wantAtLeast(t *testing.T, what string, got, acked int64) {
	t.Helper()
	if got < acked {
		t.Fatalf("%s = %d, older than the acknowledged write at %d", what, got, acked)
	}
}

func testRevisionBookkeeping(t *testing.T, s store.Store) {
	r0 := revision(t, s)
	r1 := put(t, s, "k", "v1")
	wantAfter(t, "Revision() then first put", r0, r1)
	wantAtLeast(t, "Revision() after put", revision(t, s), r1)
	wantKV(t, s, store.KV{Key: "k", Value: []byte("v1"), CreateRevision: r1, ModRevision: r1, Version: 1})

	r2 := put(t, s, "other", "x")
	r3 := put(t, s, "k", "v2")
	wantAfter(t, "three puts", r1, r2, r3)
	wantKV(t, s, store.KV{Key: "k", Value: []byte("v2"), CreateRevision: r1, ModRevision: r3, Version: 2})
	wantKV(t, s, store.KV{Key: "other", Value: []byte("x"), CreateRevision: r2, ModRevision: r2, Version: 1})

	r4 := del(t, s, "k")
	// Re-creating starts a new life: fresh CreateRevision and Version 1.
	r5 := put(t, s, "k", "v3")
	wantAfter(t, "put, delete, put", r3, r4, r5)
	wantKV(t, s, store.KV{Key: "k", Value: []byte("v3"), CreateRevision: r5, ModRevision: r5, Version: 1})
}

func testCASCreate(t *testing.T, s store.Store) {
	res := txn(t, s, []store.Cmp{{Key: "c", ModRevision: 0}}, store.Put("c", []byte("first")))
	if !res.Succeeded {
		t.Fatalf("create-if-absent on absent key failed")
	}
	rev := res.Revision
	res = txn(t, s, []store.Cmp{{Key: "c", ModRevision: 0}}, store.Put("c", []byte("second")))
	if res.Succeeded {
		t.Fatalf("create-if-absent on existing key succeeded")
	}
	wantAtLeast(t, "failed txn's revision", res.Revision, rev)
	wantKV(t, s, store.KV{Key: "c", Value: []byte("first"), CreateRevision: rev, ModRevision: rev, Version: 1})
}

func testCASUpdate(t *testing.T, s store.Store) {
	r1 := put(t, s, "k", "1")
	r2 := put(t, s, "k", "2")

	stale := txn(t, s, []store.Cmp{{Key: "k", ModRevision: r1}}, store.Put("k", []byte("stale")))
	if stale.Succeeded {
		t.Fatalf("CAS with stale ModRevision %d succeeded", r1)
	}
	wantAtLeast(t, "failed CAS's revision", stale.Revision, r2)
	ok := txn(t, s, []store.Cmp{{Key: "k", ModRevision: r2}}, store.Put("k", []byte("3")))
	if !ok.Succeeded {
		t.Fatalf("CAS with current ModRevision %d failed", r2)
	}
	wantAfter(t, "CAS after put", r2, ok.Revision)
	wantKV(t, s, store.KV{Key: "k", Value: []byte("3"), CreateRevision: r1, ModRevision: ok.Revision, Version: 3})

	// A guard on a different key than the one written.
	rg := put(t, s, "guard", "g")
	if res := txn(t, s, []store.Cmp{{Key: "guard", ModRevision: rg}}, store.Put("k", []byte("4"))); !res.Succeeded {
		t.Fatalf("CAS guarded by another key failed")
	}
	if res := txn(t, s, []store.Cmp{{Key: "absent", ModRevision: 5}}, store.Put("k", []byte("5"))); res.Succeeded {
		t.Fatalf("CAS expecting a ModRevision on an absent key succeeded")
	}
	// A deleted key does not match its old ModRevision.
	rd := del(t, s, "guard")
	if res := txn(t, s, []store.Cmp{{Key: "guard", ModRevision: rg}}, store.Put("guard", []byte("again"))); res.Succeeded {
		t.Fatalf("CAS with the ModRevision of a deleted key succeeded")
	}
	res := txn(t, s, []store.Cmp{{Key: "guard", ModRevision: 0}}, store.Put("guard", []byte("again")))
	if !res.Succeeded {
		t.Fatalf("create-if-absent after delete failed")
	}
	wantAfter(t, "delete, create", rd, res.Revision)
}

func testFailedTxnChangesNothing(t *testing.T, s store.Store) {
	ra := put(t, s, "a", "1")
	rb := put(t, s, "b", "1")
	ch := watch(t, s, "", rb)

	res := txn(t, s,
		[]store.Cmp{{Key: "a", ModRevision: ra}, {Key: "b", ModRevision: ra}}, // second guard fails
		store.Put("a", []byte("2")), store.Delete("b"), store.Put("c", []byte("new")))
	if res.Succeeded {
		t.Fatalf("txn with a failing guard succeeded")
	}
	wantAtLeast(t, "failed txn's revision", res.Revision, rb)
	wantKV(t, s, store.KV{Key: "a", Value: []byte("1"), CreateRevision: ra, ModRevision: ra, Version: 1})
	wantKV(t, s, store.KV{Key: "b", Value: []byte("1"), CreateRevision: rb, ModRevision: rb, Version: 1})
	wantAbsent(t, s, "c")

	// The failed txn produced no event: the next one seen is the next write.
	rz := put(t, s, "z", "after")
	wantEvents(t, ch, putEv("z", "after", rz))
}

func testMultiOpTxn(t *testing.T, s store.Store) {
	put(t, s, "m/c", "old-c")
	rb := put(t, s, "m/b", "old-b")
	ch := watch(t, s, "m/", rb)

	res := txn(t, s, []store.Cmp{{Key: "m/b", ModRevision: rb}},
		store.Put("m/a", []byte("A")), store.Put("m/b", []byte("B")), store.Delete("m/c"))
	if !res.Succeeded {
		t.Fatalf("multi-op txn failed")
	}
	rev := res.Revision
	wantAfter(t, "put, multi-op txn", rb, rev)
	wantAtLeast(t, "Revision() after the txn", revision(t, s), rev)
	wantKV(t, s, store.KV{Key: "m/a", Value: []byte("A"), CreateRevision: rev, ModRevision: rev, Version: 1})
	if kv, _ := get(t, s, "m/b"); kv.ModRevision != rev || kv.Version != 2 || string(kv.Value) != "B" {
		t.Fatalf("m/b = %s, want value B at %d version 2", fmtKV(kv), rev)
	}
	wantAbsent(t, s, "m/c")

	// All three events carry the txn's single revision; their order within it is not specified.
	evs := recv(t, ch, 3)
	var got []string
	for _, ev := range evs {
		if ev.KV.ModRevision != rev {
			t.Fatalf("event %s has revision %d, want %d", fmtEvent(ev), ev.KV.ModRevision, rev)
		}
		got = append(got, fmtEvent(ev))
	}
	slices.Sort(got)
	want := []string{delEv("m/c", "old-c", rev), putEv("m/a", "A", rev), putEv("m/b", "B", rev)}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("events = %q, want %q", got, want)
	}
	wantNoEvent(t, ch)
}

func testTxnWithoutOps(t *testing.T, s store.Store) {
	r := put(t, s, "k", "v")
	ch := watch(t, s, "", r)
	res := txn(t, s, []store.Cmp{{Key: "k", ModRevision: r}})
	if !res.Succeeded {
		t.Fatalf("read-only txn with holding guard failed")
	}
	wantAtLeast(t, "read-only txn's revision", res.Revision, r)
	res = txn(t, s, []store.Cmp{{Key: "k", ModRevision: 0}})
	if res.Succeeded {
		t.Fatalf("read-only txn with failing guard succeeded")
	}
	wantAtLeast(t, "read-only txn's revision", res.Revision, r)
	// Neither wrote anything: the next event is the next write's.
	r2 := put(t, s, "k2", "w")
	wantEvents(t, ch, putEv("k2", "w", r2))
	wantKV(t, s, store.KV{Key: "k", Value: []byte("v"), CreateRevision: r, ModRevision: r, Version: 1})
}

// testPrefixGuard: a prefix guard holds while no key under the prefix was written after
// its revision, fails when one was changed or created, and does not see deletions.
func testPrefixGuard(t *testing.T, s store.Store) {
	put(t, s, "p/a", "1")
	put(t, s, "p/b", "1")
	put(t, s, "q/a", "1") // outside the prefix
	kvs, rev, err := s.List(ctxFor(t), "p/")
	if err != nil || len(kvs) != 2 {
		t.Fatalf("List(p/) = %d keys, %v", len(kvs), err)
	}
	guard := []store.Cmp{{Key: "p/", ModRevision: rev, Prefix: true}}
	if res := txn(t, s, guard, store.Put("out", []byte("1"))); !res.Succeeded {
		t.Fatal("a prefix guard failed with nothing under the prefix written")
	}
	put(t, s, "q/a", "2")
	if res := txn(t, s, guard, store.Put("out", []byte("2"))); !res.Succeeded {
		t.Fatal("a write outside the prefix failed the prefix guard")
	}
	put(t, s, "p/b", "2")
	if res := txn(t, s, guard, store.Put("out", []byte("3"))); res.Succeeded {
		t.Fatal("a prefix guard held though a key under it changed")
	}
	_, rev, _ = s.List(ctxFor(t), "p/")
	guard = []store.Cmp{{Key: "p/", ModRevision: rev, Prefix: true}}
	put(t, s, "p/c", "1")
	if res := txn(t, s, guard, store.Put("out", []byte("4"))); res.Succeeded {
		t.Fatal("a prefix guard held though a key was created under it")
	}
	_, rev, _ = s.List(ctxFor(t), "p/")
	guard = []store.Cmp{{Key: "p/", ModRevision: rev, Prefix: true}}
	del(t, s, "p/a")
	if res := txn(t, s, guard, store.Put("out", []byte("5"))); !res.Succeeded {
		t.Fatal("a deletion failed the prefix guard; etcd does not see deletions, so no store may")
	}
	empty := []store.Cmp{{Key: "none/", ModRevision: rev, Prefix: true}}
	if res := txn(t, s, empty, store.Put("out", []byte("6"))); !res.Succeeded {
		t.Fatal("a prefix guard over no key failed")
	}
}

// testTxnSizeLimit: every store refuses a transaction over store.MaxTxnOps guards or
// writes, as etcd does, and changes nothing.
func testTxnSizeLimit(t *testing.T, s store.Store) {
	var cmps []store.Cmp
	var ops []store.Op
	for i := range store.MaxTxnOps + 1 {
		cmps = append(cmps, store.Cmp{Key: fmt.Sprintf("g/%03d", i)})
		ops = append(ops, store.Put(fmt.Sprintf("w/%03d", i), []byte("x")))
	}
	for _, c := range []struct {
		name string
		cmps []store.Cmp
		ops  []store.Op
	}{
		{"guards", cmps, ops[:1]},
		{"writes", nil, ops},
		{"guards without writes", cmps, nil},
	} {
		if _, err := s.Txn(ctxFor(t), c.cmps, c.ops); !errors.Is(err, store.ErrTxnTooLarge) {
			t.Errorf("%s over the limit: %v, want ErrTxnTooLarge", c.name, err)
		}
	}
	if kvs, _, err := s.List(ctxFor(t), "w/"); err != nil || len(kvs) != 0 {
		t.Fatalf("a refused transaction wrote %d keys (%v)", len(kvs), err)
	}
	if res := txn(t, s, cmps[:store.MaxTxnOps], ops[:store.MaxTxnOps]...); !res.Succeeded {
		t.Fatal("a transaction of exactly the limit failed")
	}
}

func testList(t *testing.T, s store.Store) {
	for _, k := range []string{"p/b", "q/a", "p/a/x", "p", "p/", "p0", "p/a", "o/z", "p/\xff"} {
		put(t, s, k, "v-"+k)
	}
	del(t, s, "p/a/x")
	rev := put(t, s, "p/c", "v-p/c")

	kvs, lrev, err := s.List(ctxFor(t), "p/")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	wantAtLeast(t, "List revision", lrev, rev)
	var keys []string
	for _, kv := range kvs {
		keys = append(keys, kv.Key)
		if string(kv.Value) != "v-"+kv.Key || kv.ModRevision == 0 || kv.CreateRevision == 0 || kv.Version != 1 {
			t.Errorf("List entry %s has wrong value or bookkeeping", fmtKV(kv))
		}
	}
	if want := []string{"p/", "p/a", "p/b", "p/c", "p/\xff"}; !slices.Equal(keys, want) {
		t.Fatalf("List(p/) keys = %q, want %q", keys, want)
	}

	all, _, err := s.List(ctxFor(t), "")
	if err != nil {
		t.Fatalf("List(\"\"): %v", err)
	}
	keys = keys[:0]
	for _, kv := range all {
		keys = append(keys, kv.Key)
	}
	if want := []string{"o/z", "p", "p/", "p/a", "p/b", "p/c", "p/\xff", "p0", "q/a"}; !slices.Equal(keys, want) {
		t.Fatalf("List(\"\") keys = %q, want %q", keys, want)
	}

	none, nrev, err := s.List(ctxFor(t), "nothing/")
	if err != nil || len(none) != 0 || nrev < rev {
		t.Fatalf("List(nothing/) = %d keys, rev %d, err %v; want 0 keys at >= %d", len(none), nrev, err, rev)
	}
}

func testWatchFromRevision(t *testing.T, s store.Store) {
	var revs []int64
	for i := range 10 {
		revs = append(revs, put(t, s, fmt.Sprintf("w/%d", i%3), strconv.Itoa(i)))
	}
	ch := watch(t, s, "w/", revs[4])
	var want []string
	for i := 5; i < 10; i++ {
		want = append(want, putEv(fmt.Sprintf("w/%d", i%3), strconv.Itoa(i), revs[i]))
	}
	wantEvents(t, ch, want...)

	// Live events follow the replayed ones.
	r := put(t, s, "w/live", "L")
	wantEvents(t, ch, putEv("w/live", "L", r))
	wantNoEvent(t, ch)

	// Watching from the current revision sees only later writes.
	cur := watch(t, s, "w/", r)
	r2 := put(t, s, "w/next", "N")
	wantEvents(t, cur, putEv("w/next", "N", r2))
}

func testWatchFromListRevision(t *testing.T, s store.Store) {
	put(t, s, "l/a", "1")
	_, rev, err := s.List(ctxFor(t), "l/")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	ch := watch(t, s, "l/", rev)
	r := put(t, s, "l/b", "2")
	wantEvents(t, ch, putEv("l/b", "2", r))
	wantNoEvent(t, ch)
}

func testWatchPrefix(t *testing.T, s store.Store) {
	start := revision(t, s)
	ch := watch(t, s, "in/", start)
	r1 := put(t, s, "in/1", "a")
	put(t, s, "out/1", "b")
	put(t, s, "in", "no slash")
	put(t, s, "i", "short")
	res := txn(t, s, nil, store.Put("out/2", []byte("c")), store.Put("in/2", []byte("d")))
	r3 := del(t, s, "in/1")
	wantEvents(t, ch, putEv("in/1", "a", r1), putEv("in/2", "d", res.Revision), delEv("in/1", "a", r3))
	wantNoEvent(t, ch)
}

func testWatchDelete(t *testing.T, s store.Store) {
	put(t, s, "d", "v1")
	r2 := put(t, s, "d", "v2")
	ch := watch(t, s, "d", r2)
	r3 := del(t, s, "d")
	evs := recv(t, ch, 1)
	ev := evs[0]
	if ev.Type != store.EventDelete || ev.KV.Key != "d" || string(ev.KV.Value) != "v2" || ev.KV.ModRevision != r3 {
		t.Fatalf("delete event = %s, want %s", fmtEvent(ev), delEv("d", "v2", r3))
	}
}

func testWatchCancel(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(ctxFor(t))
	ch, err := s.Watch(ctx, "", revision(t, s))
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	put(t, s, "x", "1") // may or may not be delivered; the channel must close either way
	cancel()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				// The store keeps working for others.
				put(t, s, "y", "2")
				return
			}
		case <-timer.C:
			t.Fatalf("watch channel not closed after cancel")
		}
	}
}

func testWatchSlowReader(t *testing.T, s store.Store) {
	start := revision(t, s)
	ch := watch(t, s, "", start)
	const n = 200
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			if _, err := s.Txn(ctxFor(t), nil, []store.Op{store.Put("s/"+strconv.Itoa(i), []byte("v"))}); err != nil {
				t.Errorf("Txn: %v", err)
				return
			}
		}
	}()
	select {
	case <-done: // writers finished although nobody read the watch channel
	case <-time.After(4 * waitTimeout):
		t.Fatalf("writers blocked by an unread watch channel")
	}
	evs := recv(t, ch, n)
	last := start
	for i, ev := range evs {
		if ev.KV.ModRevision <= last || ev.KV.Key != "s/"+strconv.Itoa(i) {
			t.Fatalf("event %d = %s, want s/%d after revision %d", i, fmtEvent(ev), i, last)
		}
		last = ev.KV.ModRevision
	}
}

func testCanceledContext(t *testing.T, s store.Store) {
	put(t, s, "k", "v")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := s.Get(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with canceled ctx: err = %v, want context.Canceled", err)
	}
	if _, _, err := s.List(ctx, ""); !errors.Is(err, context.Canceled) {
		t.Errorf("List with canceled ctx: err = %v, want context.Canceled", err)
	}
	if _, err := s.Txn(ctx, nil, []store.Op{store.Put("k2", []byte("v"))}); !errors.Is(err, context.Canceled) {
		t.Errorf("Txn with canceled ctx: err = %v, want context.Canceled", err)
	}
	if _, err := s.Revision(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Revision with canceled ctx: err = %v, want context.Canceled", err)
	}
	if ch, err := s.Watch(ctx, "", 0); err == nil {
		// Allowed to start, but then it must close promptly.
		select {
		case _, ok := <-ch:
			for ok {
				_, ok = <-ch
			}
		case <-time.After(waitTimeout):
			t.Errorf("Watch with canceled ctx neither failed nor closed")
		}
	}
	wantAbsent(t, s, "k2")
}

func testConcurrentCASCounter(t *testing.T, s store.Store) {
	casCounter(t, []store.Store{s}, 32, 20)
}

// casCounter runs read-modify-write increment loops, worker w through clients[w % n], and
// checks that no increment was lost.
func casCounter(t *testing.T, clients []store.Store, workers, perWorker int) {
	var wg sync.WaitGroup
	for w := range workers {
		s := clients[w%len(clients)]
		wg.Go(func() {
			ctx := ctxFor(t)
			for done := 0; done < perWorker; {
				kv, ok, err := s.Get(ctx, "counter")
				if err != nil {
					t.Errorf("Get: %v", err)
					return
				}
				n := 0
				if ok {
					if n, err = strconv.Atoi(string(kv.Value)); err != nil {
						t.Errorf("counter value %q: %v", kv.Value, err)
						return
					}
				}
				res, err := s.Txn(ctx, []store.Cmp{{Key: "counter", ModRevision: kv.ModRevision}},
					[]store.Op{store.Put("counter", []byte(strconv.Itoa(n+1)))})
				if err != nil {
					t.Errorf("Txn: %v", err)
					return
				}
				if res.Succeeded {
					done++
				}
			}
		})
	}
	wg.Wait()
	want := int64(workers * perWorker)
	kv, ok := get(t, clients[len(clients)-1], "counter")
	if !ok || string(kv.Value) != strconv.FormatInt(want, 10) || kv.Version != want {
		t.Fatalf("counter = %s, want value and version %d", fmtKV(kv), want)
	}
}

func testConcurrentTxns(t *testing.T, s store.Store) {
	const workers, perWorker = 16, 25
	start := revision(t, s)
	ch := watch(t, s, "", start)
	var (
		mu   sync.Mutex
		revs = map[int64]string{}
		wg   sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			ctx := ctxFor(t)
			for i := range perWorker {
				key := fmt.Sprintf("c/%d/%d", w, i)
				res, err := s.Txn(ctx, []store.Cmp{{Key: key, ModRevision: 0}}, []store.Op{store.Put(key, []byte("v"))})
				if err != nil {
					t.Errorf("Txn: %v", err)
					return
				}
				if !res.Succeeded {
					t.Errorf("independent txn on %s failed", key)
					return
				}
				mu.Lock()
				if other, dup := revs[res.Revision]; dup {
					t.Errorf("revision %d given to both %s and %s", res.Revision, other, key)
				}
				revs[res.Revision] = key
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	const total = workers * perWorker
	if len(revs) != total {
		t.Fatalf("%d distinct revisions, want %d", len(revs), total)
	}
	order := slices.Sorted(maps.Keys(revs))
	wantAtLeast(t, "Revision() after the txns", revision(t, s), order[len(order)-1])
	// Events arrive in revision order, one per txn, matching what each Txn returned.
	for i, ev := range recv(t, ch, total) {
		if want := order[i]; ev.KV.ModRevision != want || revs[want] != ev.KV.Key {
			t.Fatalf("event %d = %s, want %s at %d", i, fmtEvent(ev), revs[want], want)
		}
	}
	wantNoEvent(t, ch)
}

// RunShared runs the cases that need one store shared by two clients, as the API servers of
// a cluster share one etcd. open returns two clients of one fresh, empty store (RunShared
// closes both); compact discards the store's history before rev.
func RunShared(t *testing.T, open func(t *testing.T) (a, b store.Store), compact func(ctx context.Context, rev int64) error) {
	tests := []struct {
		name string
		fn   func(t *testing.T, a, b store.Store)
	}{
		{"ReadsSeeOtherClientsWrites", testReadsSeeOtherClientsWrites},
		{"WatchSeesOtherClientsWrites", testWatchSeesOtherClientsWrites},
		{"CreateRace", testCreateRace},
		{"CASCounterTwoClients", testCASCounterTwoClients},
		{"Compaction", func(t *testing.T, a, b store.Store) { testCompaction(t, a, b, compact) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := open(t)
			t.Cleanup(func() {
				if err := errors.Join(a.Close(), b.Close()); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, a, b)
		})
	}
}

// testReadsSeeOtherClientsWrites: a read started after a write was acknowledged sees it,
// whichever client made it (what lets any API server answer any request).
func testReadsSeeOtherClientsWrites(t *testing.T, a, b store.Store) {
	for i := range 50 {
		w, r := a, b
		if i%2 == 1 {
			w, r = b, a
		}
		key, value := "rw/"+strconv.Itoa(i%5), strconv.Itoa(i)
		rev := put(t, w, key, value)
		kv, ok := get(t, r, key)
		if !ok || string(kv.Value) != value || kv.ModRevision != rev {
			t.Fatalf("write %d at %d, then Get through the other client = %s, %v", i, rev, fmtKV(kv), ok)
		}
		wantAtLeast(t, "other client's Revision()", revision(t, r), rev)
		kvs, lrev, err := r.List(ctxFor(t), "rw/")
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		wantAtLeast(t, "other client's List revision", lrev, rev)
		if !slices.ContainsFunc(kvs, func(kv store.KV) bool { return kv.Key == key && string(kv.Value) == value }) {
			t.Fatalf("other client's List misses %s=%s written at %d", key, value, rev)
		}
		// The other client's CAS on what it read holds.
		res := txn(t, r, []store.Cmp{{Key: key, ModRevision: rev}}, store.Put(key, []byte(value+"+")))
		if !res.Succeeded {
			t.Fatalf("CAS through the other client on ModRevision %d failed", rev)
		}
	}
}

func testWatchSeesOtherClientsWrites(t *testing.T, a, b store.Store) {
	ch := watch(t, b, "ow/", revision(t, b))
	r1 := put(t, a, "ow/1", "x")
	r2 := del(t, a, "ow/1")
	wantEvents(t, ch, putEv("ow/1", "x", r1), delEv("ow/1", "x", r2))
}

// testCreateRace: two clients create the same keys at once; exactly one wins each key and
// the key holds the winner's value.
func testCreateRace(t *testing.T, a, b store.Store) {
	const keys = 50
	type win struct {
		value string
		rev   int64
	}
	var (
		mu   sync.Mutex
		wins = map[string][]win{}
		wg   sync.WaitGroup
	)
	for ci, s := range []store.Store{a, b, a, b} {
		wg.Go(func() {
			for i := range keys {
				key, value := "race/"+strconv.Itoa(i), "client"+strconv.Itoa(ci)
				res, err := s.Txn(ctxFor(t), []store.Cmp{{Key: key, ModRevision: 0}}, []store.Op{store.Put(key, []byte(value))})
				if err != nil {
					t.Errorf("Txn: %v", err)
					return
				}
				if res.Succeeded {
					mu.Lock()
					wins[key] = append(wins[key], win{value, res.Revision})
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for i := range keys {
		key := "race/" + strconv.Itoa(i)
		w := wins[key]
		if len(w) != 1 {
			t.Fatalf("%s created %d times (%v), want once", key, len(w), w)
		}
		wantKV(t, a, store.KV{Key: key, Value: []byte(w[0].value), CreateRevision: w[0].rev, ModRevision: w[0].rev, Version: 1})
	}
}

// testCASCounterTwoClients: read-modify-write loops through two clients lose no increment.
func testCASCounterTwoClients(t *testing.T, a, b store.Store) {
	casCounter(t, []store.Store{a, b}, 8, 25)
}

// testCompaction: after the history before a revision is discarded, a watch from earlier
// fails with ErrCompacted and the caller recovers by listing and watching from the list's
// revision; reads are unaffected.
func testCompaction(t *testing.T, a, b store.Store, compact func(ctx context.Context, rev int64) error) {
	var revs []int64
	for i := range 5 {
		revs = append(revs, put(t, a, "cp/k", strconv.Itoa(i)))
	}
	if err := compact(ctxFor(t), revs[3]); err != nil {
		t.Fatalf("compact at %d: %v", revs[3], err)
	}
	for _, s := range []store.Store{a, b} {
		if _, err := s.Watch(ctxFor(t), "cp/", revs[1]); !errors.Is(err, store.ErrCompacted) {
			t.Fatalf("Watch from %d after compacting at %d: err = %v, want ErrCompacted", revs[1], revs[3], err)
		}
	}
	// Watching from the compaction revision itself still works: nothing after it is gone.
	ch := watch(t, b, "cp/", revs[3])
	wantEvents(t, ch, putEv("cp/k", "4", revs[4]))

	wantKV(t, b, store.KV{Key: "cp/k", Value: []byte("4"), CreateRevision: revs[0], ModRevision: revs[4], Version: 5})
	kvs, lrev, err := b.List(ctxFor(t), "cp/")
	if err != nil || len(kvs) != 1 {
		t.Fatalf("List after compaction = %d keys, %v", len(kvs), err)
	}
	relisted := watch(t, b, "cp/", lrev)
	r := put(t, a, "cp/k", "5")
	wantEvents(t, relisted, putEv("cp/k", "5", r))
	wantEvents(t, ch, putEv("cp/k", "5", r))
}

// testConcurrentReadsSeeAckedWrites: a read started after a write was acknowledged sees it,
// also when many readers of the same key run at once (a store may share reads between
// concurrent callers, but never hand one an answer older than its call).
func testConcurrentReadsSeeAckedWrites(t *testing.T, s store.Store) {
	var acked atomic.Int64 // the newest value whose write was acknowledged
	put(t, s, "lin", "0")
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for i := int64(1); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.Txn(ctxFor(t), nil, []store.Op{store.Put("lin", []byte(strconv.FormatInt(i, 10)))}); err != nil {
				t.Errorf("Txn: %v", err)
				return
			}
			acked.Store(i)
		}
	}()
	var readers sync.WaitGroup
	for range 16 {
		readers.Go(func() {
			for range 100 {
				want := acked.Load()
				kv, ok, err := s.Get(ctxFor(t), "lin")
				if err != nil || !ok {
					t.Errorf("Get: %v, %v", ok, err)
					return
				}
				if got, err := strconv.ParseInt(string(kv.Value), 10, 64); err != nil || got < want {
					t.Errorf("Get after write %d was acknowledged = %q", want, kv.Value)
					return
				}
				if rev := revision(t, s); rev < kv.ModRevision {
					t.Errorf("Revision() = %d after a Get saw a write at %d", rev, kv.ModRevision)
					return
				}
			}
		})
	}
	readers.Wait()
	close(stop)
	<-stopped
	if acked.Load() == 0 {
		t.Fatalf("no write was acknowledged while the readers ran")
	}
}
