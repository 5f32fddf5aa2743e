package service

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"opencen/internal/model"
	"opencen/internal/store"
)

// decoded keeps the last decoded form of every resource listed on read paths, keyed by
// its ModRevision, so list calls decode only what changed since the last list. Values
// handed out are shared between callers: read paths must not modify them (writes go
// through transactions, which decode their own copies).
type decoded struct {
	mu    sync.Mutex
	kinds map[string]*kindSnapshot
}

type kindSnapshot struct {
	revision int64 // store revision of the listing this snapshot reflects
	items    []cachedItem
}

type cachedItem struct {
	key string
	mod int64
	v   any
}

// listKind returns every resource of a kind, decoded, in key order.
func listKind[T any, PT interface {
	*T
	model.Resource
}](ctx context.Context, s *Service, kind string) ([]PT, error) {
	items, err := s.cache.list(ctx, s.st, kind, func(raw []byte) (any, error) {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		return PT(&v), nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]PT, len(items))
	for i, it := range items {
		out[i] = it.v.(PT)
	}
	return out, nil
}

func (d *decoded) list(ctx context.Context, st store.Store, kind string, decode func([]byte) (any, error)) ([]cachedItem, error) {
	rev, err := st.Revision(ctx)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	snap := d.kinds[kind]
	d.mu.Unlock()
	if snap != nil && snap.revision == rev {
		return snap.items, nil
	}
	kvs, listRev, err := st.List(ctx, resPrefix+kind+"/")
	if err != nil {
		return nil, err
	}
	prev := map[string]cachedItem{}
	if snap != nil {
		for _, it := range snap.items {
			prev[it.key] = it
		}
	}
	items := make([]cachedItem, 0, len(kvs))
	for _, kv := range kvs {
		if it, ok := prev[kv.Key]; ok && it.mod == kv.ModRevision {
			items = append(items, it)
			continue
		}
		v, err := decode(kv.Value)
		if err != nil {
			return nil, fmt.Errorf("decode %s: %w", kv.Key, err)
		}
		items = append(items, cachedItem{key: kv.Key, mod: kv.ModRevision, v: v})
	}
	d.mu.Lock()
	if cur := d.kinds[kind]; cur == nil || cur.revision < listRev {
		d.kinds[kind] = &kindSnapshot{revision: listRev, items: items}
	}
	d.mu.Unlock()
	return items, nil
}
