package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"opencen/internal/apierr"
	"opencen/internal/config"
	"opencen/internal/rpc"
	"opencen/internal/secret"
	"opencen/internal/store"
	"opencen/internal/store/etcdtest"
)

// etcdServer is one in-process server on etcd, serving HTTP, a member of its cluster
// (running the lifecycle controller when elected).
type etcdServer struct {
	inst *Instance
	url  string
	dir  string
}

func etcdOptions(etcd *etcdtest.Server, prefix, dir string) Options {
	return Options{
		DataDir: dir, Config: config.Default(), TransitionDelay: testDelay,
		Store: StoreOptions{Kind: StoreEtcd, Etcd: store.EtcdConfig{Endpoints: []string{etcd.Endpoint}, Prefix: prefix}},
		Log:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// serveEtcd opens a server with o and serves it until the test ends.
func serveEtcd(t *testing.T, ctx context.Context, o Options) *etcdServer {
	t.Helper()
	inst, err := Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(inst.Handler)
	lctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = inst.RunControllers(lctx, hs.Listener.Addr().String()) }()
	t.Cleanup(func() {
		hs.Close()
		cancel()
		<-done
		_ = inst.Close()
	})
	return &etcdServer{inst: inst, url: hs.URL, dir: o.DataDir}
}

// TestEtcdOutage: with etcd down the API answers 503 ServiceUnavailable within 10 s and the
// server keeps running; when etcd is back on the same ports and data the server serves
// again by itself, and a transition that fell due during the outage completes (the
// lifecycle controller survived it).
func TestEtcdOutage(t *testing.T) {
	etcd := etcdtest.Embedded(t)
	o := etcdOptions(etcd, "/outage/", t.TempDir())
	o.AdminKeyID, o.AdminSecret = "AKADMIN", "admin-secret"
	o.TransitionDelay = 2 * time.Second
	s := serveEtcd(t, t.Context(), o)
	admin := &rpc.Client{Endpoint: s.url, AccessKeyID: "AKADMIN", AccessKeySecret: "admin-secret"}
	var acct struct{ AccountId, AccessKeyId, AccessKeySecret string }
	if err := admin.Call(t.Context(), "2026-11-01", "CreateAccount", map[string]string{"Name": "u"}, &acct); err != nil {
		t.Fatal(err)
	}
	user := &rpc.Client{Endpoint: s.url, AccessKeyID: acct.AccessKeyId, AccessKeySecret: acct.AccessKeySecret}
	before := call(t, user, "CreateCen", map[string]string{"Name": "before"})["CenId"].(string)
	if got := cenStatus(t, user, before); got != "Creating" {
		t.Fatalf("CEN status = %s, want Creating for the transition-delay", got)
	}

	etcd.Stop() // the CEN's transition falls due while etcd is down
	var wg sync.WaitGroup
	for action, params := range map[string]map[string]string{
		"DescribeCens":       nil,
		"CreateCen":          {"Name": "during"},
		"ListTransitRouters": nil,
	} {
		wg.Go(func() {
			start := time.Now()
			err := user.Call(t.Context(), "2017-09-12", action, params, nil)
			took := time.Since(start)
			var e *apierr.Error
			if !errors.As(err, &e) || e.Code != "ServiceUnavailable" || e.HTTPStatus() != http.StatusServiceUnavailable || took > 10*time.Second {
				t.Errorf("%s with etcd down = %v after %v, want ServiceUnavailable (503) within 10s", action, err, took)
				return
			}
			if strings.Contains(e.Message, "etcd") || strings.Contains(e.Message, "127.0.0.1") {
				t.Errorf("503 message leaks internals: %q", e.Message)
			}
		})
	}
	wg.Wait()
	resp, err := http.Get(s.url + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz during the outage: %v", err)
	}
	resp.Body.Close()

	if err := etcd.Restart(); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	waitUntil(t, 30*time.Second, "the API serves again", func() bool {
		return user.Call(t.Context(), "2017-09-12", "DescribeCens", nil, nil) == nil
	})
	t.Logf("API serving %v after etcd was back", time.Since(back))
	waitUntil(t, 30*time.Second, "the CEN created before the outage is Active", func() bool { return cenStatus(t, user, before) == "Active" })
	after := call(t, user, "CreateCen", map[string]string{"Name": "after"})["CenId"].(string)
	waitUntil(t, 30*time.Second, "a CEN created after the outage is Active", func() bool { return cenStatus(t, user, after) == "Active" })
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestEtcdBootstrapRace: servers starting at once on an empty etcd make exactly one admin
// account, whose key (handed over by the one that made it) works on every server.
func TestEtcdBootstrapRace(t *testing.T) {
	etcd := etcdtest.Embedded(t)
	keyFile := filepath.Join(t.TempDir(), "secret.key")
	if _, err := secret.LoadOrCreateKey(keyFile); err != nil { // the cluster's key, given to each
		t.Fatal(err)
	}
	const n = 3
	servers := make([]*etcdServer, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range servers {
		o := etcdOptions(etcd, "/race/", t.TempDir())
		o.SecretKeyFile = keyFile
		wg.Go(func() {
			<-start
			servers[i] = serveEtcd(t, t.Context(), o)
		})
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		return
	}
	var creds []string
	for _, s := range servers {
		if b, err := os.ReadFile(filepath.Join(s.dir, "admin-credentials")); err == nil {
			creds = append(creds, string(b))
		}
	}
	if len(creds) != 1 {
		t.Fatalf("%d servers wrote admin-credentials, want exactly 1", len(creds))
	}
	var c struct{ AccountId, AccessKeyId, AccessKeySecret string }
	if err := json.Unmarshal([]byte(creds[0]), &c); err != nil {
		t.Fatal(err)
	}
	accounts, _, err := servers[0].inst.Store.List(t.Context(), "/accounts/")
	if err != nil || len(accounts) != 1 {
		t.Fatalf("%d accounts (%v), want the one admin", len(accounts), err)
	}
	for _, s := range servers {
		admin := &rpc.Client{Endpoint: s.url, AccessKeyID: c.AccessKeyId, AccessKeySecret: c.AccessKeySecret}
		var out struct {
			Admin bool
		}
		if err := admin.Call(t.Context(), "2026-11-01", "DescribeAccount", map[string]string{"AccountId": c.AccountId}, &out); err != nil || !out.Admin {
			t.Fatalf("admin key on %s: %+v, %v", s.url, out, err)
		}
	}
}

// TestEtcdWrongSecretKey: a server whose secret key is not the one the store's secrets are
// sealed with refuses to start, saying which option to fix.
func TestEtcdWrongSecretKey(t *testing.T) {
	etcd := etcdtest.Embedded(t)
	serveEtcd(t, t.Context(), etcdOptions(etcd, "/keys/", t.TempDir()))
	_, err := Open(t.Context(), etcdOptions(etcd, "/keys/", t.TempDir())) // generates its own key
	if err == nil || !strings.Contains(err.Error(), "--secret-key-file") {
		t.Fatalf("Open with another secret key: err = %v, want one naming --secret-key-file", err)
	}
	// Another deployment (prefix) on the same etcd has its own key.
	serveEtcd(t, t.Context(), etcdOptions(etcd, "/other/", t.TempDir()))
}

// TestEtcdDownAtStart: a server started while etcd is down waits for it, retrying, and
// starts when etcd comes up; with its context ended first it gives up with the reason.
func TestEtcdDownAtStart(t *testing.T) {
	etcd := etcdtest.Embedded(t)
	etcd.Stop()
	o := etcdOptions(etcd, "/late/", t.TempDir())

	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	if _, err := Open(ctx, o); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Open with etcd down until the context ended: err = %v, want the context's end", err)
	}

	opened := make(chan *Instance, 1)
	go func() {
		inst, err := Open(t.Context(), o)
		if err != nil {
			t.Errorf("Open: %v", err)
		}
		opened <- inst
	}()
	select {
	case <-opened:
		t.Fatal("Open returned while etcd was down")
	case <-time.After(3 * time.Second):
	}
	if err := etcd.Restart(); err != nil {
		t.Fatal(err)
	}
	select {
	case inst := <-opened:
		if inst != nil {
			inst.Close()
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Open did not return after etcd came up")
	}
	if _, err := os.Stat(filepath.Join(o.DataDir, "admin-credentials")); err != nil {
		t.Fatalf("admin-credentials: %v", err)
	}
}

func TestStoreOptionErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		s    StoreOptions
		want string
	}{
		{"unknown", StoreOptions{Kind: "zk"}, "use bolt or etcd"},
		{"etcd without endpoints", StoreOptions{Kind: StoreEtcd}, "--etcd-endpoints"},
		{"etcd options with bolt", StoreOptions{Etcd: store.EtcdConfig{Endpoints: []string{"http://127.0.0.1:2379"}}}, "--store etcd"},
		{"TLS on plain HTTP", StoreOptions{Kind: StoreEtcd, Etcd: store.EtcdConfig{Endpoints: []string{"http://127.0.0.1:2379"}, CACert: "ca.pem"}}, "https://"},
	} {
		_, err := Open(t.Context(), Options{DataDir: t.TempDir(), Config: config.Default(), Store: c.s})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one containing %q", c.name, err, c.want)
		}
	}
	for _, ttl := range []time.Duration{-time.Second, 500 * time.Millisecond} {
		_, err := Open(t.Context(), Options{DataDir: t.TempDir(), Config: config.Default(), LeaderTTL: ttl})
		if err == nil || !strings.Contains(err.Error(), "--leader-ttl") {
			t.Errorf("LeaderTTL %v: err = %v, want one naming --leader-ttl", ttl, err)
		}
	}
}

// TestEtcdKeyDisabledOnAnotherServer: a key cached by one server (after a request) stops
// working there at the next request once another server disables it.
func TestEtcdKeyDisabledOnAnotherServer(t *testing.T) {
	etcd := etcdtest.Embedded(t)
	keyFile := filepath.Join(t.TempDir(), "secret.key")
	open := func() *etcdServer {
		o := etcdOptions(etcd, "/keys/", t.TempDir())
		o.SecretKeyFile, o.AdminKeyID, o.AdminSecret = keyFile, "AKADMIN", "admin-secret"
		return serveEtcd(t, t.Context(), o)
	}
	a, b := open(), open()
	admin := &rpc.Client{Endpoint: a.url, AccessKeyID: "AKADMIN", AccessKeySecret: "admin-secret"}
	var acct struct{ AccountId, AccessKeyId, AccessKeySecret string }
	if err := admin.Call(t.Context(), "2026-11-01", "CreateAccount", map[string]string{"Name": "u"}, &acct); err != nil {
		t.Fatal(err)
	}
	onB := &rpc.Client{Endpoint: b.url, AccessKeyID: acct.AccessKeyId, AccessKeySecret: acct.AccessKeySecret}
	for range 3 { // cached on b
		call(t, onB, "DescribeCens", nil)
	}
	if err := admin.Call(t.Context(), "2026-11-01", "UpdateAccessKeyStatus", map[string]string{"UserAccessKeyId": acct.AccessKeyId, "Status": "Inactive"}, nil); err != nil {
		t.Fatal(err)
	}
	if e := cbnErr(t, onB, "DescribeCens", nil); e.Code != "InvalidAccessKeyId.Inactive" {
		t.Fatalf("disabled key on the other server: %s, want InvalidAccessKeyId.Inactive", e.Code)
	}
	if err := admin.Call(t.Context(), "2026-11-01", "UpdateAccessKeyStatus", map[string]string{"UserAccessKeyId": acct.AccessKeyId, "Status": "Active"}, nil); err != nil {
		t.Fatal(err)
	}
	call(t, onB, "DescribeCens", nil)
}
