package service

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"opencen/internal/model"
	"opencen/internal/routing"
	"opencen/internal/store"
)

// TestRouterGroups: routers joined by an Attached inter-region connection share one set of
// engines, computed once whichever of them asks; when the connection goes, each router is
// on its own again and the group's engines are dropped.
func TestRouterGroups(t *testing.T) {
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "opencen.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := New(Options{Store: st})
	ctx := t.Context()
	put := func(kind, id string, v any) {
		t.Helper()
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		k := resKey(kind, id)
		if _, err := st.Txn(ctx, nil, append([]store.Op{store.Put(k, raw)}, revisionPuts([]string{k}, nil)...)); err != nil {
			t.Fatal(err)
		}
	}
	hz := &model.TransitRouter{Meta: model.Meta{ID: "tr-hz", Owner: "acct", Region: "cn-hangzhou", Status: model.StatusActive}}
	sh := &model.TransitRouter{Meta: model.Meta{ID: "tr-sh", Owner: "acct", Region: "cn-shanghai", Status: model.StatusActive}}
	put(model.KindTR, hz.ID, hz)
	put(model.KindTR, sh.ID, sh)
	peer := model.PeerAttachment{Meta: model.Meta{ID: "tr-attach-p", Owner: "acct", Region: "cn-hangzhou", Status: model.AttachmentAttached},
		TransitRouterID: hz.ID, PeerTransitRouterID: sh.ID, PeerRegion: "cn-shanghai"}
	put(model.KindPeerAttachment, peer.ID, peer)

	// Routing observations of one router only: the routers' revisions differ, so a
	// comparison that depended on which member asks would recompute every time.
	if _, err := st.Txn(ctx, nil, revisionPuts(nil, []string{hz.ID})); err != nil {
		t.Fatal(err)
	}

	use := func(tr *model.TransitRouter) {
		t.Helper()
		if err := s.withRoutes(ctx, tr, func(routing.View) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	group := func(key string) *trEngine {
		v, ok := s.engines.Load(key)
		if !ok {
			return nil
		}
		te, _ := v.(*trEngine)
		return te
	}
	use(hz)
	use(sh)
	use(hz)
	te := group("tr-hz+tr-sh")
	if te == nil || te.computed != 1 || len(te.routers) != 2 {
		t.Fatalf("group engines = %+v; want computed once for both routers", te)
	}
	if group("tr-hz") != nil || group("tr-sh") != nil {
		t.Error("routers of a group also have engines of their own")
	}

	peer.Status = model.AttachmentDetaching
	put(model.KindPeerAttachment, peer.ID, peer)
	use(hz)
	use(sh)
	if group("tr-hz+tr-sh") != nil {
		t.Error("the group's engines outlived the connection")
	}
	if a, b := group("tr-hz"), group("tr-sh"); a == nil || b == nil || a.computed != 1 || b.computed != 1 {
		t.Errorf("routers on their own: %+v %+v", a, b)
	}
}
