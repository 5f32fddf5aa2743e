// Package storetest is a conformance suite that every store.Store implementation must pass.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"opencen/internal/store"
)

// waitTimeout bounds every wait for a watch event, so a broken store fails instead of hanging.
const waitTimeout = 5 * time.Second

// Run runs the suite. open must return a fresh, empty store for each call; Run closes it
// when the subtest ends (so Close must tolerate being called again by open's own cleanup).
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

func testRevisionBookkeeping(t *testing.T, s store.Store) {
	r0 := revision(t, s)
	r1 := put(t, s, "k", "v1")
	if r1 != r0+1 {
		t.Fatalf("first put revision = %d, want %d", r1, r0+1)
	}
	if got := revision(t, s); got != r1 {
		t.Fatalf("Revision() = %d after put at %d", got, r1)
	}
	wantKV(t, s, store.KV{Key: "k", Value: []byte("v1"), CreateRevision: r1, ModRevision: r1, Version: 1})

	r2 := put(t, s, "other", "x")
	r3 := put(t, s, "k", "v2")
	if r2 != r1+1 || r3 != r2+1 {
		t.Fatalf("revisions %d, %d, %d not consecutive", r1, r2, r3)
	}
	wantKV(t, s, store.KV{Key: "k", Value: []byte("v2"), CreateRevision: r1, ModRevision: r3, Version: 2})
	wantKV(t, s, store.KV{Key: "other", Value: []byte("x"), CreateRevision: r2, ModRevision: r2, Version: 1})

	r4 := del(t, s, "k")
	if r4 != r3+1 {
		t.Fatalf("delete revision = %d, want %d", r4, r3+1)
	}
	// Re-creating starts a new life: fresh CreateRevision and Version 1.
	r5 := put(t, s, "k", "v3")
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
	if res.Revision != rev {
		t.Fatalf("failed txn reported revision %d, want unchanged %d", res.Revision, rev)
	}
	wantKV(t, s, store.KV{Key: "c", Value: []byte("first"), CreateRevision: rev, ModRevision: rev, Version: 1})
}

func testCASUpdate(t *testing.T, s store.Store) {
	r1 := put(t, s, "k", "1")
	r2 := put(t, s, "k", "2")

	stale := txn(t, s, []store.Cmp{{Key: "k", ModRevision: r1}}, store.Put("k", []byte("stale")))
	if stale.Succeeded {
		t.Fatalf("CAS with stale ModRevision %d succeeded", r1)
	}
	if stale.Revision != r2 {
		t.Fatalf("failed CAS revision = %d, want %d", stale.Revision, r2)
	}
	ok := txn(t, s, []store.Cmp{{Key: "k", ModRevision: r2}}, store.Put("k", []byte("3")))
	if !ok.Succeeded || ok.Revision != r2+1 {
		t.Fatalf("CAS with current ModRevision = %+v, want success at %d", ok, r2+1)
	}
	wantKV(t, s, store.KV{Key: "k", Value: []byte("3"), CreateRevision: r1, ModRevision: r2 + 1, Version: 3})

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
	if res := txn(t, s, []store.Cmp{{Key: "guard", ModRevision: 0}}, store.Put("guard", []byte("again"))); !res.Succeeded || res.Revision != rd+1 {
		t.Fatalf("create-if-absent after delete = %+v, want success at %d", res, rd+1)
	}
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
	if res.Revision != rb {
		t.Fatalf("failed txn revision = %d, want %d", res.Revision, rb)
	}
	if got := revision(t, s); got != rb {
		t.Fatalf("Revision() = %d after failed txn, want %d", got, rb)
	}
	wantKV(t, s, store.KV{Key: "a", Value: []byte("1"), CreateRevision: ra, ModRevision: ra, Version: 1})
	wantKV(t, s, store.KV{Key: "b", Value: []byte("1"), CreateRevision: rb, ModRevision: rb, Version: 1})
	wantAbsent(t, s, "c")

	// The failed txn produced no event: the next one seen is the next write.
	rz := put(t, s, "z", "after")
	if rz != rb+1 {
		t.Fatalf("revision after failed txn = %d, want %d", rz, rb+1)
	}
	wantEvents(t, ch, putEv("z", "after", rz))
}

func testMultiOpTxn(t *testing.T, s store.Store) {
	put(t, s, "m/c", "old-c")
	rb := put(t, s, "m/b", "old-b")
	ch := watch(t, s, "m/", rb)

	res := txn(t, s, []store.Cmp{{Key: "m/b", ModRevision: rb}},
		store.Put("m/a", []byte("A")), store.Put("m/b", []byte("B")), store.Delete("m/c"))
	if !res.Succeeded || res.Revision != rb+1 {
		t.Fatalf("multi-op txn = %+v, want success at %d", res, rb+1)
	}
	rev := res.Revision
	if got := revision(t, s); got != rev {
		t.Fatalf("Revision() = %d, want %d (one revision per txn)", got, rev)
	}
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
	if res := txn(t, s, []store.Cmp{{Key: "k", ModRevision: r}}); !res.Succeeded || res.Revision != r {
		t.Fatalf("read-only txn with holding guard = %+v, want success at %d", res, r)
	}
	if res := txn(t, s, []store.Cmp{{Key: "k", ModRevision: 0}}); res.Succeeded || res.Revision != r {
		t.Fatalf("read-only txn with failing guard = %+v, want failure at %d", res, r)
	}
	if got := revision(t, s); got != r {
		t.Fatalf("Revision() = %d after txns without ops, want %d", got, r)
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
	if lrev != rev {
		t.Fatalf("List revision = %d, want %d", lrev, rev)
	}
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
	if err != nil || len(none) != 0 || nrev != rev {
		t.Fatalf("List(nothing/) = %d keys, rev %d, err %v; want 0 keys at %d", len(none), nrev, err, rev)
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
	for i, ev := range evs {
		if want := start + int64(i) + 1; ev.KV.ModRevision != want || ev.KV.Key != "s/"+strconv.Itoa(i) {
			t.Fatalf("event %d = %s, want s/%d at %d", i, fmtEvent(ev), i, want)
		}
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
	const workers, perWorker = 32, 50
	var wg sync.WaitGroup
	for range workers {
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
	kv, ok := get(t, s, "counter")
	if !ok || string(kv.Value) != strconv.Itoa(workers*perWorker) || kv.Version != workers*perWorker {
		t.Fatalf("counter = %s, want value and version %d", fmtKV(kv), workers*perWorker)
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
	if got := revision(t, s); got != start+total {
		t.Fatalf("Revision() = %d, want %d", got, start+total)
	}
	// Events arrive in revision order, one per revision, matching what each Txn returned.
	for i, ev := range recv(t, ch, total) {
		want := start + int64(i) + 1
		if ev.KV.ModRevision != want || revs[want] != ev.KV.Key {
			t.Fatalf("event %d = %s, want %s at %d", i, fmtEvent(ev), revs[want], want)
		}
	}
}
