package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"testing"
	"time"

	"opencen/internal/apierr"
	"opencen/internal/config"
	"opencen/internal/rpc"
)

// env is one in-process server on a temporary data directory.
type env struct {
	t     *testing.T
	dir   string
	addr  string
	inst  *Instance
	http  *httptest.Server
	admin *rpc.Client
	stop  context.CancelFunc
	cfg   config.Config // the catalog (config.Default() unless a test sets another before start)
	// metricsURL is the /metrics endpoint's URL when withMetrics started one.
	metricsURL  string
	withMetrics bool
}

const testDelay = 50 * time.Millisecond

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, config.Default())
}

// newEnvWith is newEnv with another catalog.
func newEnvWith(t *testing.T, cfg config.Config) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), cfg: cfg}
	e.start()
	t.Cleanup(e.close)
	return e
}

func (e *env) start() {
	e.t.Helper()
	o := Options{
		DataDir: e.dir, Config: e.cfg, TransitionDelay: testDelay,
		AdminKeyID: "AKADMIN", AdminSecret: "admin-secret",
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if e.withMetrics {
		o.MetricsListen = "127.0.0.1:0"
	}
	inst, err := Open(context.Background(), o)
	if err != nil {
		e.t.Fatal(err)
	}
	var metricsServer interface{ Close() error }
	if inst.Metrics != nil {
		mln, err := net.Listen("tcp", o.MetricsListen)
		if err != nil {
			e.t.Fatal(err)
		}
		metricsServer = inst.Metrics.Server(mln)
		e.metricsURL = "http://" + mln.Addr().String() + "/metrics"
	}
	// Restarts keep the address, so existing clients reach the new instance.
	addr := "127.0.0.1:0"
	if e.addr != "" {
		addr = e.addr
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = inst.RunControllers(ctx, e.addr) }()
	srv := httptest.NewUnstartedServer(inst.Handler)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	e.inst, e.http = inst, srv
	e.stop = func() {
		cancel()
		<-done
		if metricsServer != nil {
			metricsServer.Close()
		}
	}
	e.admin = &rpc.Client{Endpoint: e.http.URL, AccessKeyID: "AKADMIN", AccessKeySecret: "admin-secret"}
}

func (e *env) close() {
	if e.http == nil {
		return
	}
	e.http.Close()
	e.stop()
	e.inst.Close()
	e.http = nil
}

// restart closes and reopens the server on the same data directory.
func (e *env) restart() {
	e.close()
	e.start()
}

// account creates a tenant and returns its client.
func (e *env) account(name string) *rpc.Client {
	e.t.Helper()
	var out struct{ AccountId, AccessKeyId, AccessKeySecret string }
	if err := e.admin.Call(context.Background(), "2026-11-01", "CreateAccount", map[string]string{"Name": name}, &out); err != nil {
		e.t.Fatal(err)
	}
	return &rpc.Client{Endpoint: e.http.URL, AccessKeyID: out.AccessKeyId, AccessKeySecret: out.AccessKeySecret}
}

func call(t *testing.T, c *rpc.Client, action string, params map[string]string) map[string]any {
	t.Helper()
	var out map[string]any
	if err := c.Call(context.Background(), "2017-09-12", action, params, &out); err != nil {
		t.Fatalf("%s %v: %v", action, params, err)
	}
	return out
}

// cbnErr calls and returns the API error (fails the test on success).
func cbnErr(t *testing.T, c *rpc.Client, action string, params map[string]string) *apierr.Error {
	t.Helper()
	err := c.Call(context.Background(), "2017-09-12", action, params, nil)
	var e *apierr.Error
	if !errors.As(err, &e) {
		t.Fatalf("%s %v: want an API error, got %v", action, params, err)
	}
	return e
}

// waitFor polls until cond holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func cenStatus(t *testing.T, c *rpc.Client, id string) string {
	out := call(t, c, "DescribeCens", map[string]string{"Filter.1.Key": "CenId", "Filter.1.Value.1": id})
	list := out["Cens"].(map[string]any)["Cen"].([]any)
	if len(list) == 0 {
		return ""
	}
	return list[0].(map[string]any)["Status"].(string)
}

func trStatus(t *testing.T, c *rpc.Client, id string) string {
	out := call(t, c, "ListTransitRouters", map[string]string{"TransitRouterId": id})
	list := out["TransitRouters"].([]any)
	if len(list) == 0 {
		return ""
	}
	return list[0].(map[string]any)["Status"].(string)
}

// activeCen creates a CEN and waits until it is Active.
func activeCen(t *testing.T, c *rpc.Client) string {
	id := call(t, c, "CreateCen", map[string]string{"Name": "n"})["CenId"].(string)
	waitFor(t, "CEN Active", func() bool { return cenStatus(t, c, id) == "Active" })
	return id
}

// activeTR creates a TR in cn-hangzhou and waits until it is Active.
func activeTR(t *testing.T, c *rpc.Client, cen string) string {
	id := call(t, c, "CreateTransitRouter", map[string]string{"CenId": cen, "RegionId": "cn-hangzhou"})["TransitRouterId"].(string)
	waitFor(t, "TR Active", func() bool { return trStatus(t, c, id) == "Active" })
	return id
}
