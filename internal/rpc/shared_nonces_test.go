package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"opencen/internal/store"
	"opencen/internal/store/etcdtest"
)

// countingNonces counts the store's claims, and fails them while down is set (as etcd
// out of reach does).
type countingNonces struct {
	st    *store.Etcd
	calls atomic.Int64
	keys  atomic.Int64
	down  atomic.Bool
}

func (c *countingNonces) CreateExpiring(ctx context.Context, keys []store.ExpiringKey) ([]bool, error) {
	if c.down.Load() {
		return nil, fmt.Errorf("%w: test: etcd is away", store.ErrUnavailable)
	}
	c.calls.Add(1)
	c.keys.Add(int64(len(keys)))
	return c.st.CreateExpiring(ctx, keys)
}

// clusterOfTwo is two API servers whose nonces are shared through one etcd, each with its
// own etcd client.
func clusterOfTwo(t *testing.T) (servers [2]*Server, stores [2]*countingNonces) {
	etcd := etcdtest.Embedded(t)
	p := &Product{Name: "T", Version: "v1", Host: "t", Cacheable: map[string]bool{"Read": true},
		Actions: map[string]Handler{
			"Read":  func(context.Context, *Request) (Object, error) { return Object{}, nil },
			"Write": func(context.Context, *Request) (Object, error) { return Object{}, nil },
		}}
	for i := range servers {
		st, err := store.OpenEtcd(store.EtcdConfig{Endpoints: []string{etcd.Endpoint}, Prefix: "/nonces-test/"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		stores[i] = &countingNonces{st: st}
		servers[i] = NewServer(func(context.Context, string) (Identity, string, error) {
			return Identity{AccountID: "acct"}, "secret", nil
		}, slog.New(slog.NewTextHandler(io.Discard, nil)), p)
		// Server 1 starts a claim before its key is confirmed, server 2 after.
		var peek KeyPeek
		if i == 0 {
			peek = func(string) (Identity, string, bool) { return Identity{AccountID: "acct"}, "secret", true }
		}
		servers[i].ShareNonces(stores[i], peek)
		t.Cleanup(func() { _ = servers[i].Close() })
	}
	return servers, stores
}

// signed is one signed request, to be sent as it is to any server.
func signed(action, nonce string) url.Values {
	q := url.Values{}
	for k, v := range SignRequestV1("POST", map[string]string{"Action": action, "Version": "v1"}, "AK", "secret", time.Now(), nonce) {
		q.Set(k, v)
	}
	return q
}

// send serves the request on s and returns the error code ("" for success).
func send(t *testing.T, s *Server, q url.Values) string {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(q.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code == http.StatusOK {
		return ""
	}
	var e struct{ Code string }
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Code == "" {
		t.Errorf("HTTP %d without an error code: %s", w.Code, w.Body)
	}
	return e.Code
}

// TestSharedNoncesAcrossServers: a request signed once is accepted by exactly one server
// of a cluster, whichever servers it is sent to and however concurrently; concurrent
// requests' nonces reach etcd together, in far fewer claims than requests.
func TestSharedNoncesAcrossServers(t *testing.T) {
	servers, stores := clusterOfTwo(t)
	for _, action := range []string{"Write", "Read"} { // reads are no exception
		q := signed(action, "once-"+action)
		codes := make([]string, 2)
		var wg sync.WaitGroup
		for i, s := range servers {
			wg.Go(func() { codes[i] = send(t, s, q) })
		}
		wg.Wait()
		if !(codes[0] == "" && codes[1] == "SignatureNonceUsed" || codes[1] == "" && codes[0] == "SignatureNonceUsed") {
			t.Fatalf("%s signed once, sent to both servers at once: codes %q; want one success and one SignatureNonceUsed", action, codes)
		}
		for i, s := range servers {
			if code := send(t, s, q); code != "SignatureNonceUsed" {
				t.Fatalf("%s replayed to server %d: %q, want SignatureNonceUsed", action, i+1, code)
			}
		}
	}

	const n = 300
	before := stores[0].calls.Load() + stores[1].calls.Load()
	var accepted, refused atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		q := signed("Write", fmt.Sprint("many-", i))
		for _, s := range servers {
			wg.Go(func() {
				switch code := send(t, s, q); code {
				case "":
					accepted.Add(1)
				case "SignatureNonceUsed":
					refused.Add(1)
				default:
					t.Errorf("request %d: %s", i, code)
				}
			})
		}
	}
	wg.Wait()
	if accepted.Load() != n || refused.Load() != n {
		t.Fatalf("%d requests each sent to both servers: %d accepted, %d refused; want %d and %d", n, accepted.Load(), refused.Load(), n, n)
	}
	claims := stores[0].calls.Load() + stores[1].calls.Load() - before
	t.Logf("%d nonces reached etcd in %d claims", 2*n, claims)
	if claims > n {
		t.Errorf("%d concurrent nonces took %d etcd claims; want them batched (at most %d)", 2*n, claims, n)
	}
}

// TestSharedNoncesStoreAway: while the shared store cannot be asked, a signed request gets
// ServiceUnavailable and does not run; the same request once the store is back is
// accepted (it was not counted as spent), and then only once.
func TestSharedNoncesStoreAway(t *testing.T) {
	servers, stores := clusterOfTwo(t)
	q := signed("Write", "during-outage")
	stores[0].down.Store(true)
	if code := send(t, servers[0], q); code != "ServiceUnavailable" {
		t.Fatalf("with the store away: %q, want ServiceUnavailable", code)
	}
	stores[0].down.Store(false)
	if code := send(t, servers[0], q); code != "" {
		t.Fatalf("the same request with the store back: %q, want success", code)
	}
	if code := send(t, servers[1], q); code != "SignatureNonceUsed" {
		t.Fatalf("then on the other server: %q, want SignatureNonceUsed", code)
	}
}

// BenchmarkSharedNonces: spending nonces in an embedded etcd from 64 goroutines (-cpu
// sets GOMAXPROCS; the goroutines are SetParallelism'd), with the nonces each claim
// carried.
func BenchmarkSharedNonces(b *testing.B) {
	etcd := etcdtest.Embedded(b)
	st, err := store.OpenEtcd(store.EtcdConfig{Endpoints: []string{etcd.Endpoint}, Prefix: "/bench/"})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	c := &countingNonces{st: st}
	n := newSharedNonces(c)
	defer n.close()
	var seq atomic.Int64
	until := time.Now().Add(SkewWindow)
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := n.start(keyOf("AK", fmt.Sprint(seq.Add(1))), until).wait(context.Background()); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(c.keys.Load())/float64(max(c.calls.Load(), 1)), "nonces/claim")
}

// TestSharedNoncesPeekedKey: a request whose key is known from an earlier lookup starts
// its claim before the key is confirmed, but runs only if the confirmation agrees: a key
// disabled meanwhile refuses it, and a peeked secret that does not verify the signature
// falls back to the plain lookup.
func TestSharedNoncesPeekedKey(t *testing.T) {
	etcd := etcdtest.Embedded(t)
	st, err := store.OpenEtcd(store.EtcdConfig{Endpoints: []string{etcd.Endpoint}, Prefix: "/peek/"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var ran atomic.Int64
	p := &Product{Name: "T", Version: "v1", Host: "t", Actions: map[string]Handler{
		"Write": func(context.Context, *Request) (Object, error) { ran.Add(1); return Object{}, nil },
	}}
	var disabled atomic.Bool
	s := NewServer(func(context.Context, string) (Identity, string, error) {
		if disabled.Load() {
			return Identity{}, "", errors.New("InvalidAccessKeyId.Inactive")
		}
		return Identity{AccountID: "acct"}, "secret", nil
	}, slog.New(slog.NewTextHandler(io.Discard, nil)), p)
	peeked := "secret"
	s.ShareNonces(&countingNonces{st: st}, func(string) (Identity, string, bool) { return Identity{AccountID: "acct"}, peeked, true })
	defer s.Close()

	if code := send(t, s, signed("Write", "ok")); code != "" || ran.Load() != 1 {
		t.Fatalf("with the peeked key confirmed: %q, ran %d; want success", code, ran.Load())
	}
	disabled.Store(true)
	if code := send(t, s, signed("Write", "disabled")); code == "" || ran.Load() != 1 {
		t.Fatalf("with the key disabled after the peek: %q, ran %d; want refused, not run", code, ran.Load())
	}
	disabled.Store(false)
	peeked = "stale"
	if code := send(t, s, signed("Write", "stale")); code != "" || ran.Load() != 2 {
		t.Fatalf("with a peeked secret that does not verify: %q, ran %d; want the plain lookup's success", code, ran.Load())
	}
}
