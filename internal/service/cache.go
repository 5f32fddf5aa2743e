package service

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"opencen/internal/model"
	"opencen/internal/store"
)

// decoded keeps the desired state (everything under /r/) as of one spec revision: listed
// in one call, so every kind read from it is at the same revision, and decoded lazily per
// kind, reusing what was decoded before for records whose ModRevision did not change.
// Values handed out are shared between callers: read paths must not modify them (writes
// go through transactions, which decode their own copies). A record that does not decode
// is left out of lists (and logged once), so that one damaged record does not take down
// every list of its kind.
type decoded struct {
	mu   sync.Mutex
	snap *specSnapshot
	// prev keeps the last decoded item of every key, for reuse across snapshots.
	prev map[string]cachedItem
	// bad remembers records already logged as undecodable (key@revision).
	bad map[string]bool
}

type specSnapshot struct {
	revision int64                 // spec revision (ModRevision of /rev/spec) it reflects
	raw      map[string][]store.KV // by kind, in key order
	mu       sync.Mutex
	kinds    map[string][]cachedItem
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
	items, err := s.cache.list(ctx, s, kind, func(raw []byte) (any, error) {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		return PT(&v), nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]PT, 0, len(items))
	for _, it := range items {
		if v, ok := it.v.(PT); ok {
			out = append(out, v)
		}
	}
	return out, nil
}

// getKind reads one resource of a kind by ID (nil if there is none), outside a
// transaction.
func getKind[T any, PT interface {
	*T
	model.Resource
}](ctx context.Context, s *Service, kind, id string) (PT, error) {
	kv, ok, err := s.st.Get(ctx, resKey(kind, id))
	if err != nil || !ok {
		return nil, err
	}
	var v T
	if err := json.Unmarshal(kv.Value, &v); err != nil {
		return nil, fmt.Errorf("%s %s: the stored record does not decode: %w", kind, id, err)
	}
	return PT(&v), nil
}

// snapshot returns the desired state at the current spec revision, listing it again
// only when the revision moved.
func (d *decoded) snapshot(ctx context.Context, s *Service) (*specSnapshot, error) {
	rev, err := s.SpecRevision(ctx)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	snap := d.snap
	d.mu.Unlock()
	if snap != nil && snap.revision == rev {
		return snap, nil
	}
	kvs, _, err := s.st.List(ctx, resPrefix)
	if err != nil {
		return nil, err
	}
	snap = &specSnapshot{revision: rev, raw: map[string][]store.KV{}, kinds: map[string][]cachedItem{}}
	for _, kv := range kvs {
		kind, _, ok := ResourceKey(kv.Key)
		if ok {
			snap.raw[kind] = append(snap.raw[kind], kv)
		}
	}
	d.mu.Lock()
	if d.snap == nil || d.snap.revision < rev {
		d.snap = snap
	}
	d.mu.Unlock()
	s.evictEngines(snap)
	return snap, nil
}

func (d *decoded) list(ctx context.Context, s *Service, kind string, decode func([]byte) (any, error)) ([]cachedItem, error) {
	snap, err := d.snapshot(ctx, s)
	if err != nil {
		return nil, err
	}
	snap.mu.Lock()
	defer snap.mu.Unlock()
	if items, ok := snap.kinds[kind]; ok {
		return items, nil
	}
	items := make([]cachedItem, 0, len(snap.raw[kind]))
	for _, kv := range snap.raw[kind] {
		d.mu.Lock()
		it, ok := d.prev[kv.Key]
		d.mu.Unlock()
		if ok && it.mod == kv.ModRevision {
			items = append(items, it)
			continue
		}
		v, err := decode(kv.Value)
		if err != nil {
			d.undecodable(s, kv, err)
			continue
		}
		it = cachedItem{key: kv.Key, mod: kv.ModRevision, v: v}
		d.mu.Lock()
		d.prev[kv.Key] = it
		d.mu.Unlock()
		items = append(items, it)
	}
	snap.kinds[kind] = items
	return items, nil
}

func (d *decoded) undecodable(s *Service, kv store.KV, err error) {
	mark := fmt.Sprintf("%s@%d", kv.Key, kv.ModRevision)
	d.mu.Lock()
	seen := d.bad[mark]
	d.bad[mark] = true
	d.mu.Unlock()
	if !seen {
		s.log.Error("a stored record does not decode; it is left out until it is repaired", "key", kv.Key, "err", err)
	}
}

// hasResource reports whether the snapshot holds a resource.
func (snap *specSnapshot) hasResource(kind, id string) bool {
	key := resKey(kind, id)
	for _, kv := range snap.raw[kind] {
		if kv.Key == key {
			return true
		}
	}
	return false
}

// evictEngines drops the routing engines of groups one of whose transit routers is gone
// (a group whose connections changed is keyed anew and its old key goes with a router,
// or stays as a few idle engines until then).
func (s *Service) evictEngines(snap *specSnapshot) {
	s.engines.Range(func(k, _ any) bool {
		key, _ := k.(string)
		for _, id := range strings.Split(key, "+") {
			if !snap.hasResource(model.KindTR, id) {
				s.engines.Delete(k)
				break
			}
		}
		return true
	})
}
