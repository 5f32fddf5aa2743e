package service

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"opencen/internal/model"
	"opencen/internal/store"
)

// TestAdvanceMany: due plain transitions complete together in one store transaction; one
// not due yet is left with its due time; a deletion goes on its own and deletes.
func TestAdvanceMany(t *testing.T) {
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "opencen.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	s := New(Options{Store: st, TransitionDelay: time.Second, Now: func() time.Time { return now }})
	ctx := t.Context()
	c := Caller{AccountID: "1111111111111111"}
	var keys []string
	for range 40 { // more than one batch
		id, err := s.CreateCen(ctx, c, CreateCenInput{})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, resKey(model.KindCEN, id))
	}
	gone, err := s.CreateCen(ctx, c, CreateCenInput{})
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Second)
	if next, failed := s.AdvanceMany(ctx, []string{resKey(model.KindCEN, gone)}); len(next)+len(failed) != 0 {
		t.Fatal(next, failed)
	}
	if err := s.DeleteCen(ctx, c, gone); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Second)
	late, err := s.CreateCen(ctx, c, CreateCenInput{})
	if err != nil {
		t.Fatal(err)
	}
	keys = append(keys, resKey(model.KindCEN, late), resKey(model.KindCEN, gone))
	now = now.Add(500 * time.Millisecond) // the last CEN is not due yet; the others are

	before, _ := st.Revision(ctx)
	next, failed := s.AdvanceMany(ctx, keys)
	after, _ := st.Revision(ctx)
	if len(failed) != 0 {
		t.Fatal(failed)
	}
	if len(next) != 1 || !next[resKey(model.KindCEN, late)].Equal(now.Add(500*time.Millisecond)) {
		t.Fatalf("next: %v", next)
	}
	// 40 transitions in two batches, and the deletion on its own.
	if after-before != 3 {
		t.Fatalf("%d store transactions, want 3", after-before)
	}
	for _, k := range keys[:40] {
		var m model.Meta
		kv, ok, err := st.Get(ctx, k)
		if err != nil || !ok || json.Unmarshal(kv.Value, &m) != nil || m.Status != model.StatusActive {
			t.Fatalf("%s: %s %v %v", k, kv.Value, ok, err)
		}
	}
	if _, ok, _ := st.Get(ctx, resKey(model.KindCEN, gone)); ok {
		t.Fatal("the deleted CEN is still there")
	}
}
