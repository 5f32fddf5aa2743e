package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"opencen/internal/store"
	"opencen/internal/store/etcdtest"
	"opencen/internal/store/storetest"
)

func openEtcd(t testing.TB, endpoint, prefix string) *store.Etcd {
	t.Helper()
	s, err := store.OpenEtcd(store.EtcdConfig{Endpoints: []string{endpoint}, Prefix: prefix, Timeout: 3 * time.Second})
	if err != nil {
		t.Fatalf("OpenEtcd: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// noise keeps writing under a prefix of its own until the test ends, so the suite runs
// against revisions that other writers of the same etcd advance.
func noise(t *testing.T, endpoint string) {
	s := openEtcd(t, endpoint, "/noise/")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var writes atomic.Int64
	go func() {
		defer close(done)
		for i := 0; ctx.Err() == nil; i++ {
			if _, err := s.Txn(ctx, nil, []store.Op{store.Put(fmt.Sprintf("n/%d", i%16), []byte("x"))}); err == nil {
				writes.Add(1)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		if writes.Load() == 0 {
			t.Errorf("the noise writer never wrote")
		}
	})
}

// conformance runs both suites on one etcd, each case under a prefix of its own.
func conformance(t *testing.T, srv *etcdtest.Server) {
	noise(t, srv.Endpoint)
	var n atomic.Int64
	fresh := func() string { return fmt.Sprintf("/conformance/%d/", n.Add(1)) }
	t.Run("Store", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store { return openEtcd(t, srv.Endpoint, fresh()) })
	})
	t.Run("Shared", func(t *testing.T) {
		storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
			p := fresh()
			return openEtcd(t, srv.Endpoint, p), openEtcd(t, srv.Endpoint, p)
		}, func(ctx context.Context, rev int64) error {
			return openEtcd(t, srv.Endpoint, "/compactor/").Compact(ctx, rev)
		})
	})
}

// TestEtcdConformance runs the store suites against etcd v3.7 embedded in the test.
func TestEtcdConformance(t *testing.T) {
	conformance(t, etcdtest.Embedded(t))
}

// TestEtcd34Conformance runs them against Debian's etcd-server, the oldest etcd supported.
func TestEtcd34Conformance(t *testing.T) {
	srv := etcdtest.Debian(t)
	v, err := srv.Version(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v, "3.4.") {
		t.Fatalf("%s is etcd %s, want 3.4.x", etcdtest.DebianBin, v)
	}
	conformance(t, srv)
}

// TestEtcdPrefix: deployments under different prefixes share an etcd without seeing each
// other's keys, and keys reach etcd under the prefix.
func TestEtcdPrefix(t *testing.T) {
	srv := etcdtest.Embedded(t)
	ctx := t.Context()
	a, b := openEtcd(t, srv.Endpoint, "/one/"), openEtcd(t, srv.Endpoint, "/two/")
	raw := openEtcd(t, srv.Endpoint, "/")
	ch, err := b.Watch(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, a, "k", "from-a")
	rb := mustPut(t, b, "k", "from-b")
	for _, c := range []struct {
		s    store.Store
		key  string
		want string
	}{{a, "k", "from-a"}, {b, "k", "from-b"}, {raw, "one/k", "from-a"}, {raw, "two/k", "from-b"}} {
		kv, ok, err := c.s.Get(ctx, c.key)
		if err != nil || !ok || string(kv.Value) != c.want || kv.Key != c.key {
			t.Fatalf("Get(%q) = %+v, %v, %v; want %q", c.key, kv, ok, err, c.want)
		}
	}
	kvs, _, err := a.List(ctx, "")
	if err != nil || len(kvs) != 1 || kvs[0].Key != "k" {
		t.Fatalf("List under /one/ = %+v, %v; want only k", kvs, err)
	}
	select {
	case ev := <-ch:
		if ev.KV.Key != "k" || string(ev.KV.Value) != "from-b" || ev.KV.ModRevision != rb {
			t.Fatalf("watch under /two/ saw %+v first, want its own write at %d", ev, rb)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no watch event")
	}
}

// TestEtcdOutage: with etcd down every call fails with ErrUnavailable within the timeout
// (never hangs); when etcd is back on the same ports and data the same client works
// again, a watch opened before the outage carries on, and nothing written is lost.
func TestEtcdOutage(t *testing.T) {
	srv := etcdtest.Embedded(t)
	s := openEtcd(t, srv.Endpoint, "/outage/")
	ctx := t.Context()
	r1 := mustPut(t, s, "k", "before")
	ch, err := s.Watch(ctx, "", r1)
	if err != nil {
		t.Fatal(err)
	}

	srv.Stop()                                  // takes etcd's request timeout (7 s) with the watch stream open
	const bound = 3*time.Second + 2*time.Second // the client's timeout, plus slack
	calls := map[string]func() error{
		"Get":      func() error { _, _, err := s.Get(ctx, "k"); return err },
		"List":     func() error { _, _, err := s.List(ctx, ""); return err },
		"Revision": func() error { _, err := s.Revision(ctx); return err },
		"Txn":      func() error { _, err := s.Txn(ctx, nil, []store.Op{store.Put("k", []byte("during"))}); return err },
		"Watch":    func() error { _, err := s.Watch(ctx, "", r1); return err },
	}
	var wg sync.WaitGroup
	for name, call := range calls {
		wg.Go(func() {
			start := time.Now()
			err := call()
			if took := time.Since(start); took > bound {
				t.Errorf("%s with etcd down took %v, want < %v", name, took, bound)
			}
			if !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("%s with etcd down: err = %v, want ErrUnavailable", name, err)
			}
		})
	}
	wg.Wait()

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	// The Txn during the outage may or may not have been applied (its outcome is unknown
	// to the caller, as with any timeout); what was acknowledged is there.
	deadline := time.Now().Add(20 * time.Second)
	var r2 int64
	for {
		res, err := s.Txn(ctx, nil, []store.Op{store.Put("k", []byte("after"))})
		if err == nil {
			r2 = res.Revision
			break
		}
		if !errors.Is(err, store.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("Txn after etcd is back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("serving again %v after etcd was back", time.Since(back))
	if kv, ok, err := s.Get(ctx, "k"); err != nil || !ok || string(kv.Value) != "after" {
		t.Fatalf("Get after restart = %+v, %v, %v", kv, ok, err)
	}
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatal("watch opened before the outage closed; want it resumed")
			}
			if ev.KV.ModRevision == r2 {
				t.Logf("watch resumed %v after etcd was back", time.Since(back))
				if string(ev.KV.Value) != "after" {
					t.Fatalf("watch event at %d = %q, want after", r2, ev.KV.Value)
				}
				return
			}
		case <-time.After(10 * time.Second):
			t.Fatal("watch opened before the outage saw nothing after it")
		}
	}
}

// TestEtcdUnreachableAtOpen: OpenEtcd does not wait for etcd; calls say it is unavailable.
func TestEtcdUnreachableAtOpen(t *testing.T) {
	s, err := store.OpenEtcd(store.EtcdConfig{Endpoints: []string{"http://127.0.0.1:1"}, Timeout: time.Second})
	if err != nil {
		t.Fatalf("OpenEtcd: %v", err)
	}
	defer s.Close()
	if _, err := s.Revision(t.Context()); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Revision: err = %v, want ErrUnavailable", err)
	}
}

func TestEtcdClosed(t *testing.T) {
	srv := etcdtest.Embedded(t)
	s := openEtcd(t, srv.Endpoint, "/closed/")
	ch, err := s.Watch(t.Context(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-ch; ok {
		t.Fatal("watch channel still open after Close")
	}
	if _, _, err := s.Get(t.Context(), "k"); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Get after Close: %v, want ErrClosed", err)
	}
	if _, err := s.Revision(t.Context()); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Revision after Close: %v, want ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestEtcdRevisionMemo: within one request's context Revision reads etcd once and then
// answers from that read, or from the request's own newer Txn; a new request reads again.
func TestEtcdRevisionMemo(t *testing.T) {
	srv := etcdtest.Embedded(t)
	s, other := openEtcd(t, srv.Endpoint, "/memo/"), openEtcd(t, srv.Endpoint, "/memo/")
	req := store.WithRevisionMemo(t.Context())
	r1, err := s.Revision(req)
	if err != nil {
		t.Fatal(err)
	}
	r2 := mustPut(t, other, "k", "by another server")
	if got, err := s.Revision(req); err != nil || got != r1 {
		t.Fatalf("second Revision in the request = %d, %v; want the first read's %d", got, err, r1)
	}
	res, err := s.Txn(req, nil, []store.Op{store.Put("k", []byte("by this request"))})
	if err != nil || res.Revision <= r2 {
		t.Fatalf("Txn = %+v, %v", res, err)
	}
	if got, err := s.Revision(req); err != nil || got != res.Revision {
		t.Fatalf("Revision after the request's own Txn = %d, %v; want %d", got, err, res.Revision)
	}
	r3 := mustPut(t, other, "k", "later")
	if got, err := s.Revision(store.WithRevisionMemo(t.Context())); err != nil || got < r3 {
		t.Fatalf("Revision in a new request = %d, %v; want >= %d", got, err, r3)
	}
}

// TestEtcdTLS: with the CA, a client certificate and its key the store works against an
// etcd that requires client certificates; without a client certificate, or trusting
// another CA, calls fail with ErrUnavailable within the timeout rather than hang.
func TestEtcdTLS(t *testing.T) {
	files, err := etcdtest.WriteTLSFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := etcdtest.StartEmbeddedTLS(t.TempDir(), files)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	if !strings.HasPrefix(srv.Endpoint, "https://") {
		t.Fatalf("endpoint %s is not https", srv.Endpoint)
	}
	open := func(c store.EtcdConfig) *store.Etcd {
		c.Endpoints, c.Prefix, c.Timeout = []string{srv.Endpoint}, "/tls/", 2*time.Second
		s, err := store.OpenEtcd(c)
		if err != nil {
			t.Fatalf("OpenEtcd: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	good := open(store.EtcdConfig{CACert: files.CA, Cert: files.ClientCert, Key: files.ClientKey})
	rev := mustPut(t, good, "k", "over TLS")
	if kv, ok, err := good.Get(t.Context(), "k"); err != nil || !ok || kv.ModRevision != rev {
		t.Fatalf("Get over TLS = %+v, %v, %v", kv, ok, err)
	}

	other, err := etcdtest.WriteTLSFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]store.EtcdConfig{
		"no client certificate": {CACert: files.CA},
		"another CA":            {CACert: other.CA, Cert: files.ClientCert, Key: files.ClientKey},
	} {
		s := open(c)
		start := time.Now()
		if _, _, err := s.Get(t.Context(), "k"); !errors.Is(err, store.ErrUnavailable) || time.Since(start) > 5*time.Second {
			t.Errorf("%s: Get = %v after %v, want ErrUnavailable within the timeout", name, err, time.Since(start))
		}
	}
	if _, err := store.OpenEtcd(store.EtcdConfig{Endpoints: []string{srv.Endpoint}, Cert: files.ClientCert}); err == nil {
		t.Errorf("OpenEtcd with a certificate but no key succeeded")
	}
}
