// Package inproc benchmarks the server's HTTP handler in-process (no sockets, no client),
// next to the bare signature-checking handler, so the per-request CPU the server adds can be
// profiled:
//
//	go test ./bench/inproc -run '^$' -bench . -benchmem -cpuprofile /tmp/inproc.prof
//	go tool pprof -top -cum -focus 'rpc.\(\*Server\).ServeHTTP' bench/inproc/inproc.test /tmp/inproc.prof
package inproc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"opencen/bench/internal/benchkit"
	"opencen/internal/api/admin"
	"opencen/internal/config"
	"opencen/internal/rpc"
	"opencen/internal/server"
)

type fixture struct {
	handler     http.Handler
	bare        http.Handler
	keyID, sec  string
	otherKey    string
	otherSecret string
}

var (
	tmpDir      string
	stopFixture = func() {}
)

func TestMain(m *testing.M) {
	code := m.Run()
	stopFixture()
	if tmpDir != "" {
		_ = os.RemoveAll(tmpDir)
	}
	os.Exit(code)
}

var (
	fixOnce sync.Once
	fix     *fixture
	fixErr  error
)

// otherCens is the size of a second account's dataset, which the benchmark account never
// sees but which a list call may still have to read.
const otherCens = 1000

func setup(b *testing.B) *fixture {
	b.Helper()
	fixOnce.Do(func() { fix, fixErr = newFixture() })
	if fixErr != nil {
		b.Fatal(fixErr)
	}
	return fix
}

func newFixture() (*fixture, error) {
	dir, err := os.MkdirTemp("", "opencen-inproc-")
	if err != nil {
		return nil, err
	}
	tmpDir = dir // removed by TestMain; benchmarks share the fixture until then
	adminID, adminSecret := "LTAI"+randHex(10), randHex(15)
	in, err := server.Open(context.Background(), server.Options{
		DataDir: dir, Config: config.Default(), TransitionDelay: 5 * time.Millisecond,
		AdminKeyID: adminID, AdminSecret: adminSecret,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = in.Lifecycle.Run(ctx) }()
	ts := httptest.NewServer(in.Handler)
	stopFixture = func() { ts.Close(); cancel(); <-done; _ = in.Close() }
	adm := &rpc.Client{Endpoint: ts.URL, AccessKeyID: adminID, AccessKeySecret: adminSecret}
	mk := func(name string) (string, string, error) {
		var a struct{ AccountId, AccessKeyId, AccessKeySecret string }
		if err := adm.Call(ctx, admin.Version, "CreateAccount", map[string]string{"Name": name}, &a); err != nil {
			return "", "", err
		}
		// Measure the server, not the per-key throttle (the bucket is still checked).
		for _, q := range []string{"api-requests-per-second", "api-request-burst"} {
			if err := adm.Call(ctx, admin.Version, "SetQuota", map[string]string{"AccountId": a.AccountId, "QuotaName": q, "Value": "100000"}, nil); err != nil {
				return "", "", err
			}
		}
		return a.AccessKeyId, a.AccessKeySecret, nil
	}
	f := &fixture{handler: in.Handler}
	if f.keyID, f.sec, err = mk("bench"); err != nil {
		return nil, err
	}
	if f.otherKey, f.otherSecret, err = mk("other"); err != nil {
		return nil, err
	}
	user := &rpc.Client{Endpoint: ts.URL, AccessKeyID: f.keyID, AccessKeySecret: f.sec}
	if _, err := benchkit.Seed(ctx, user, "inproc", 20, true); err != nil {
		return nil, err
	}
	f.bare = benchkit.NewBare(map[string]string{f.keyID: f.sec})
	return f, nil
}

// seedOther gives the second account otherCens CENs (once).
var otherOnce sync.Once

func seedOther(b *testing.B, f *fixture) {
	b.Helper()
	var err error
	otherOnce.Do(func() {
		ts := httptest.NewServer(f.handler)
		defer ts.Close()
		c := &rpc.Client{Endpoint: ts.URL, AccessKeyID: f.otherKey, AccessKeySecret: f.otherSecret}
		var wg sync.WaitGroup
		errs := make(chan error, otherCens)
		sem := make(chan struct{}, 32)
		for i := range otherCens {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				errs <- c.Call(context.Background(), benchkit.CbnVersion, "CreateCen", map[string]string{
					"Name": fmt.Sprintf("other-%04d", i), "ClientToken": fmt.Sprintf("other-%d", i)}, nil)
			}()
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			if e != nil && err == nil {
				err = e
			}
		}
	})
	if err != nil {
		b.Fatal(err)
	}
}

// signed builds a freshly signed (new nonce) form POST, as rpc.Client sends it.
func signed(keyID, secret, action string, params map[string]string) *http.Request {
	p := map[string]string{"Action": action, "Version": benchkit.CbnVersion}
	for k, v := range params {
		p[k] = v
	}
	s := rpc.SignRequestV1(http.MethodPost, p, keyID, secret, time.Now(), randHex(16))
	form := url.Values{}
	for k, v := range s {
		form.Set(k, v)
	}
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

func run(b *testing.B, h http.Handler, keyID, secret, action string, params map[string]string) {
	b.ReportAllocs()
	var size int64
	var once sync.Once
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, signed(keyID, secret, action, params))
			if w.Code != http.StatusOK {
				b.Fatalf("HTTP %d: %s", w.Code, w.Body.String())
			}
			once.Do(func() { size = int64(w.Body.Len()) })
		}
	})
	b.ReportMetric(float64(size), "resp-bytes")
}

var page50 = map[string]string{"PageSize": "50"}

func BenchmarkBare(b *testing.B) {
	f := setup(b)
	run(b, f.bare, f.keyID, f.sec, "ListTransitRouters", page50)
}

func BenchmarkListTransitRouters(b *testing.B) {
	f := setup(b)
	run(b, f.handler, f.keyID, f.sec, "ListTransitRouters", page50)
}

func BenchmarkDescribeCens(b *testing.B) {
	f := setup(b)
	run(b, f.handler, f.keyID, f.sec, "DescribeCens", page50)
}

// BenchmarkDescribeCensPage10 is the SDK default page (10 of the 20 CENs).
func BenchmarkDescribeCensPage10(b *testing.B) {
	f := setup(b)
	run(b, f.handler, f.keyID, f.sec, "DescribeCens", nil)
}

// BenchmarkDescribeCensOtherAccountLarge is DescribeCens for the same 20 CENs while another
// account owns otherCens more: the answer is identical, so any slowdown is work spent on
// other tenants' data.
func BenchmarkDescribeCensOtherAccountLarge(b *testing.B) {
	f := setup(b)
	seedOther(b, f)
	run(b, f.handler, f.keyID, f.sec, "DescribeCens", page50)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
