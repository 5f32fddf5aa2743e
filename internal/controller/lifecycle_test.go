package controller

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"opencen/internal/store"
	"opencen/internal/store/etcdtest"
)

// advancer treats every key under /r/ as pending; its first listing is followed by a write
// and a compaction past the listing's revision, as when etcd compacts while a controller
// resumes after an outage.
type advancer struct {
	st      *store.Etcd
	t       *testing.T
	mu      sync.Mutex
	lists   int
	advance []string
}

func (a *advancer) Pending(ctx context.Context) ([]string, int64, error) {
	kvs, rev, err := a.st.List(ctx, "/r/")
	if err != nil {
		return nil, 0, err
	}
	a.mu.Lock()
	a.lists++
	first := a.lists == 1
	a.mu.Unlock()
	if first {
		res, err := a.st.Txn(ctx, nil, []store.Op{store.Put("/r/late", []byte("x"))})
		if err != nil {
			return nil, 0, err
		}
		if err := a.st.Compact(ctx, res.Revision); err != nil {
			a.t.Errorf("compact: %v", err)
		}
	}
	var keys []string
	for _, kv := range kvs {
		keys = append(keys, kv.Key)
	}
	return keys, rev, nil
}

func (a *advancer) Advance(_ context.Context, key string) (time.Time, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.advance = append(a.advance, key)
	return time.Time{}, nil
}

func (a *advancer) GC(context.Context) (int, error) { return 0, nil }

func (a *advancer) Due(string, []byte) (time.Time, bool) { return time.Time{}, true }

// TestLifecycleRelistsAfterCompaction: a watch from a compacted revision fails with
// ErrCompacted; the controller lists again and misses nothing written meanwhile (without
// waiting for its periodic resync).
func TestLifecycleRelistsAfterCompaction(t *testing.T) {
	srv := etcdtest.Embedded(t)
	st, err := store.OpenEtcd(store.EtcdConfig{Endpoints: []string{srv.Endpoint}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Txn(t.Context(), nil, []store.Op{store.Put("/r/early", []byte("x"))}); err != nil {
		t.Fatal(err)
	}
	a := &advancer{st: st, t: t}
	l := &Lifecycle{Store: st, Advancer: a, Prefix: "/r/", Resync: time.Hour, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); _ = l.Run(ctx) }()
	defer func() { cancel(); <-done }()

	deadline := time.Now().Add(10 * time.Second)
	for {
		a.mu.Lock()
		got, lists := slices.Clone(a.advance), a.lists
		a.mu.Unlock()
		if slices.Contains(got, "/r/late") {
			if lists < 2 {
				t.Fatalf("advanced /r/late after %d listing(s), want a second one after ErrCompacted", lists)
			}
			if !slices.Contains(got, "/r/early") {
				t.Fatalf("advanced %v, want /r/early too", got)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after ErrCompacted the controller never advanced /r/late (advanced %v, %d listings)", got, lists)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// watchCounter is a store that counts the watches still open (their context not ended).
type watchCounter struct {
	store.Store
	open atomic.Int64
}

func (w *watchCounter) Watch(ctx context.Context, prefix string, from int64) (<-chan store.Event, error) {
	ch, err := w.Store.Watch(ctx, prefix, from)
	if err == nil {
		w.open.Add(1)
		context.AfterFunc(ctx, func() { w.open.Add(-1) })
	}
	return ch, err
}

type noPending struct{ st store.Store }

func (n noPending) Pending(ctx context.Context) ([]string, int64, error) {
	rev, err := n.st.Revision(ctx)
	return nil, rev, err
}
func (noPending) Advance(context.Context, string) (time.Time, error) { return time.Time{}, nil }
func (noPending) GC(context.Context) (int, error)                    { return 0, nil }
func (noPending) Due(string, []byte) (time.Time, bool)               { return time.Time{}, false }

// TestLifecycleResyncClosesWatch: each resync replaces the watch; the old one is ended, not
// left open (holding a watcher and its queue) for the life of the server.
func TestLifecycleResyncClosesWatch(t *testing.T) {
	bolt, err := store.OpenBolt(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer bolt.Close()
	st := &watchCounter{Store: bolt}
	l := &Lifecycle{Store: st, Advancer: noPending{st}, Prefix: "/r/", Resync: 20 * time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); _ = l.Run(ctx) }()
	time.Sleep(300 * time.Millisecond) // about 15 resyncs
	// One open, and at most one more whose end is still being counted (AfterFunc runs
	// asynchronously) — not one per resync.
	if n := st.open.Load(); n > 2 {
		t.Errorf("%d watches open after about 15 resyncs, want 1", n)
	}
	cancel()
	<-done
}
