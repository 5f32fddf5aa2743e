package rpc

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
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
	s.CacheAnswers(func(context.Context) (int64, error) { return rev.Load(), nil }, 2)
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
