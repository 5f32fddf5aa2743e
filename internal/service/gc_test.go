package service

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"opencen/internal/store"
)

// TestGC: GC forgets ClientTokens past TokenTTL and sign-outs of sessions past their
// expiry, and keeps the others; a sign-out is honoured until its expiry, GC or not.
func TestGC(t *testing.T) {
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "opencen.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	s := New(Options{Store: st, Now: func() time.Time { return now }})
	ctx := t.Context()

	for name, created := range map[string]time.Time{"old": now.Add(-TokenTTL - time.Minute), "fresh": now.Add(-time.Hour)} {
		raw, _ := json.Marshal(tokenRecord{Result: json.RawMessage(`{}`), Created: created})
		if _, err := st.Txn(ctx, nil, []store.Op{store.Put(tokenKey("acct", "CreateCen", name), raw)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SignOut(ctx, "ends-soon", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.SignOut(ctx, "ends-later", now.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Hour)
	if out, err := s.SignedOut(ctx, "ends-soon"); err != nil || out {
		t.Fatalf("a sign-out past its session's expiry: %v, %v; want not signed out (the cookie has expired anyway)", out, err)
	}
	if out, err := s.SignedOut(ctx, "ends-later"); err != nil || !out {
		t.Fatalf("a live sign-out: %v, %v; want signed out", out, err)
	}
	n, err := s.GC(ctx)
	if err != nil || n != 2 {
		t.Fatalf("GC = %d, %v; want the old token and the expired sign-out", n, err)
	}
	for key, want := range map[string]bool{
		tokenKey("acct", "CreateCen", "old"): false, tokenKey("acct", "CreateCen", "fresh"): true,
		signOutPrefix + "ends-soon": false, signOutPrefix + "ends-later": true,
	} {
		if _, ok, err := st.Get(ctx, key); err != nil || ok != want {
			t.Errorf("%s after GC: present %v, %v; want %v", key, ok, err, want)
		}
	}
}
