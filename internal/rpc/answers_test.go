package rpc

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestAnswerCacheFollowsRevision(t *testing.T) {
	var rev, calls atomic.Int64
	p := &Product{Name: "T", Version: "v1", Host: "t", Cacheable: map[string]bool{"Read": true},
		Actions: map[string]Handler{
			"Read":  func(context.Context, *Request) (Object, error) { calls.Add(1); return Object{"N": rev.Load()}, nil },
			"Write": func(context.Context, *Request) (Object, error) { calls.Add(1); rev.Add(1); return Object{}, nil },
		}}
	secrets := map[string]string{"A": "sa", "B": "sb"}
	s := NewServer(func(_ context.Context, id string) (Identity, string, error) {
		return Identity{AccountID: "acct-" + id}, secrets[id], nil
	}, slog.New(slog.NewTextHandler(io.Discard, nil)), p)
	r := func(context.Context) (int64, error) { return rev.Load(), nil }
	s.CacheAnswers(r, r, 1<<20)
	srv := httptest.NewServer(s)
	defer srv.Close()
	n := 0
	do := func(key, action string, extra map[string]string) string {
		n++
		params := map[string]string{"Action": action, "Version": "v1"}
		for k, v := range extra {
			params[k] = v
		}
		q := url.Values{}
		for k, v := range SignRequestV1("GET", params, key, secrets[key], time.Now(), "n"+string(rune('a'+n))) {
			q.Set(k, v)
		}
		resp, err := http.Get(srv.URL + "/?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	first := do("A", "Read", nil)
	second := do("A", "Read", nil)
	if calls.Load() != 1 {
		t.Fatalf("identical read at one revision ran the handler %d times", calls.Load())
	}
	if first[:50] == second[:50] {
		t.Fatalf("cached answer reused the RequestId: %s / %s", first, second)
	}
	do("B", "Read", nil) // another account: its own answer
	do("A", "Read", map[string]string{"X": "1"})
	if calls.Load() != 3 {
		t.Fatalf("different account or parameters shared an answer (%d calls)", calls.Load())
	}
	do("A", "Write", nil)
	if got := do("A", "Read", nil); calls.Load() != 5 || !strings.Contains(got, `"N":1`) {
		t.Fatalf("answer after a write: %s (%d calls)", got, calls.Load())
	}
}

// TestAnswerCacheBoundedInBytes: whatever the requests carry, the cache holds 32-byte keys
// and at most its budget of answers, only of the newest revision.
func TestAnswerCacheBoundedInBytes(t *testing.T) {
	const budget = 64 << 10
	c := newAnswerCache(nil, budget)
	p := &Product{Version: "v1"}
	huge := strings.Repeat("x", 64<<10)
	body := make([]byte, 1024)
	for i := range 1000 {
		req := &Request{Product: p, Action: "Read", Identity: Identity{AccountID: "A"},
			Params: Params{"Ignored": huge, "N": strconv.Itoa(i)}}
		c.put(c.keyOf(req), 7, body)
		if c.bytes > budget || len(c.entries) != len(c.order) {
			t.Fatalf("after %d answers: %d bytes (budget %d), %d entries, %d in order", i+1, c.bytes, budget, len(c.entries), len(c.order))
		}
	}
	if len(c.entries) != budget/len(body) {
		t.Fatalf("%d entries kept, want the budget full (%d)", len(c.entries), budget/len(body))
	}
	key := c.keyOf(&Request{Product: p, Action: "Read", Params: Params{"N": "1"}})
	c.put(key, 6, body) // older revision: useless
	if _, ok := c.get(key, 6); ok {
		t.Fatal("an answer of an older revision was stored")
	}
	c.put(key, 8, body) // newer revision: the older answers go
	if len(c.entries) != 1 || c.bytes != len(body) {
		t.Fatalf("a newer revision left %d entries (%d bytes)", len(c.entries), c.bytes)
	}
	c.put(c.keyOf(&Request{Product: p, Action: "Big"}), 8, make([]byte, budget/16+1))
	if len(c.entries) != 1 {
		t.Fatal("an answer over a sixteenth of the budget was cached")
	}
}

// TestAnswerKeyCanonical: the key ignores parameter order and protocol parameters, and
// separates fields, accounts, actions and versions.
func TestAnswerKeyCanonical(t *testing.T) {
	c := newAnswerCache(nil, 1<<20)
	p, q := &Product{Version: "v1"}, &Product{Version: "v2"}
	key := func(p *Product, action, acct string, params Params) answerKey {
		return c.keyOf(&Request{Product: p, Action: action, Identity: Identity{AccountID: acct}, Params: params})
	}
	base := key(p, "Read", "A", Params{"X": "1", "Y": "2", "SignatureNonce": "n1", "Timestamp": "t1"})
	if key(p, "Read", "A", Params{"Y": "2", "X": "1", "SignatureNonce": "n2"}) != base {
		t.Error("the same request with another nonce, timestamp or order got another key")
	}
	for name, other := range map[string]answerKey{
		"account": key(p, "Read", "B", Params{"X": "1", "Y": "2"}),
		"action":  key(p, "List", "A", Params{"X": "1", "Y": "2"}),
		"version": key(q, "Read", "A", Params{"X": "1", "Y": "2"}),
		"value":   key(p, "Read", "A", Params{"X": "1", "Y": "3"}),
		"split":   key(p, "Read", "A", Params{"X": "1Y", "": "2"}),
	} {
		if other == base {
			t.Errorf("a request differing in %s shares the key", name)
		}
	}
}

// TestErrorsEchoOnlyAPrefix: an error answer repeats at most a short prefix of what the
// client sent (a 3 MiB action name, a 3 MiB parameter under a wrong signature), so a
// request cannot be turned into an answer of its own size.
func TestErrorsEchoOnlyAPrefix(t *testing.T) {
	p := &Product{Name: "T", Version: "v1", Host: "t", Actions: map[string]Handler{
		"Read": func(context.Context, *Request) (Object, error) { return Object{}, nil }}}
	s := NewServer(func(context.Context, string) (Identity, string, error) {
		return Identity{AccountID: "A"}, "secret", nil
	},
		slog.New(slog.NewTextHandler(io.Discard, nil)), p)
	srv := httptest.NewServer(s)
	defer srv.Close()
	huge := strings.Repeat("x", 3<<20)
	post := func(params map[string]string) (int, string) {
		form := url.Values{}
		for k, v := range params {
			form.Set(k, v)
		}
		resp, err := http.PostForm(srv.URL, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status, body := post(map[string]string{"Version": "v1", "Action": huge})
	if status != 404 || !strings.Contains(body, "InvalidAction.NotFound") || len(body) > 1024 {
		t.Fatalf("unknown 3 MiB action: HTTP %d, %d bytes: %.300s", status, len(body), body)
	}
	signed := SignRequestV1("POST", map[string]string{"Version": "v1", "Action": "Read", "Big": huge}, "AK", "wrong", time.Now(), "n1")
	status, body = post(signed)
	if status != 403 || !strings.Contains(body, "server string to sign is:POST&%2F&") || len(body) > maxEchoedStringToSign+1024 {
		t.Fatalf("wrong signature over a 3 MiB parameter: HTTP %d, %d bytes: %.300s", status, len(body), body)
	}
}

// TestAnswerCacheObserved: an observation (a data plane's report) invalidates only the
// answers of the actions that show observed state.
func TestAnswerCacheObserved(t *testing.T) {
	var spec, obs, specCalls, obsCalls atomic.Int64
	p := &Product{Name: "T", Version: "v1", Host: "t", Cacheable: map[string]bool{"Spec": true, "Status": true},
		Observes: map[string]bool{"Status": true},
		Actions: map[string]Handler{
			"Spec":   func(context.Context, *Request) (Object, error) { specCalls.Add(1); return Object{}, nil },
			"Status": func(context.Context, *Request) (Object, error) { obsCalls.Add(1); return Object{}, nil },
		}}
	s := NewServer(func(_ context.Context, id string) (Identity, string, error) {
		return Identity{AccountID: "acct"}, "sa", nil
	}, slog.New(slog.NewTextHandler(io.Discard, nil)), p)
	s.CacheAnswers(func(context.Context) (int64, error) { return spec.Load(), nil },
		func(context.Context) (int64, error) { return spec.Load() + obs.Load(), nil }, 1<<20)
	srv := httptest.NewServer(s)
	defer srv.Close()
	n := 0
	do := func(action string) {
		n++
		q := url.Values{}
		for k, v := range SignRequestV1("GET", map[string]string{"Action": action, "Version": "v1"}, "A", "sa", time.Now(), "o"+strconv.Itoa(n)) {
			q.Set(k, v)
		}
		resp, err := http.Get(srv.URL + "/?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	do("Spec")
	do("Status")
	obs.Add(1) // a status report
	do("Spec")
	do("Status")
	if specCalls.Load() != 1 || obsCalls.Load() != 2 {
		t.Errorf("after an observation: spec action ran %d times (want 1), status action %d (want 2)", specCalls.Load(), obsCalls.Load())
	}
	spec.Add(1) // a change of desired state: both
	do("Spec")
	do("Status")
	if specCalls.Load() != 2 || obsCalls.Load() != 3 {
		t.Errorf("after a change: %d / %d runs, want 2 / 3", specCalls.Load(), obsCalls.Load())
	}
}
