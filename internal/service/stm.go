package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"opencen/internal/store"
)

// txn is a software transaction over the store, after etcd's STM: reads record the
// ModRevision they saw, writes are buffered, and commit succeeds only if nothing read
// changed meanwhile. Operations that must see a consistent set of children (e.g. "no
// transit routers left") read and rewrite the parent, which serializes them.
type txn struct {
	ctx    context.Context
	st     store.Store
	reads  map[string]int64
	writes map[string][]byte // nil value = delete
	// got are the keys read one by one (get, create): they keep their own guard. listed
	// maps each prefix listed to the earliest store revision it was listed at: when a
	// transaction has read more keys than etcd takes guards, one guard per listed prefix
	// stands for the keys that only a listing read (see guards).
	got    map[string]bool
	listed map[string]int64
	// routing lists transit routers whose routing input this transaction's observations
	// change (learned routes, a health verdict): see revisions.go.
	routing []string
}

// errConflict makes update retry the whole function.
var errConflict = errors.New("service: transaction conflict")

const maxAttempts = 64

// update runs fn in a transaction, retrying on conflicts, and commits its writes
// durably. It returns fn's error untouched (nothing is written then).
func (s *Service) update(ctx context.Context, fn func(t *txn) error) error {
	for range maxAttempts {
		t := &txn{ctx: ctx, st: s.st, reads: map[string]int64{}, writes: map[string][]byte{}, got: map[string]bool{}, listed: map[string]int64{}}
		if err := fn(t); err != nil {
			return err
		}
		if len(t.writes) == 0 {
			return nil
		}
		start := time.Now()
		ok, err := t.commit()
		if s.onCommit != nil {
			s.onCommit(time.Since(start))
		}
		if err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		if ok {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return fmt.Errorf("commit: %w after %d attempts", errConflict, maxAttempts)
}

// guards are the transaction's compares: one per key read, or, when that is more than a
// store transaction takes (store.MaxTxnOps; a transit router with a hundred connections
// lists more), one per listed prefix for the keys only a listing read. A prefix guard
// fails when a key under it was changed or created since the listing, not when one was
// deleted: a listing is used to count, to find conflicts and to refuse, where a child
// deleted meanwhile only makes the answer more cautious than needed; keys the
// transaction writes or read one by one keep their own guard.
func (t *txn) guards() []store.Cmp {
	cmps := make([]store.Cmp, 0, len(t.reads))
	for k, rev := range t.reads {
		cmps = append(cmps, store.Cmp{Key: k, ModRevision: rev})
	}
	if len(cmps) <= store.MaxTxnOps || len(t.listed) == 0 {
		return cmps
	}
	cmps = cmps[:0]
	for k, rev := range t.reads {
		_, written := t.writes[k]
		if !written && !t.got[k] && t.underListed(k) {
			continue
		}
		cmps = append(cmps, store.Cmp{Key: k, ModRevision: rev})
	}
	for prefix, rev := range t.listed {
		cmps = append(cmps, store.Cmp{Key: prefix, ModRevision: rev, Prefix: true})
	}
	return cmps
}

func (t *txn) underListed(key string) bool {
	for prefix := range t.listed {
		if strings.HasPrefix(key, prefix) {
			return true
		}
	}
	return false
}

func (t *txn) commit() (bool, error) {
	cmps := t.guards()
	keys := make([]string, 0, len(t.writes))
	for k := range t.writes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ops := make([]store.Op, 0, len(keys)+2)
	for _, k := range keys {
		if v := t.writes[k]; v == nil {
			ops = append(ops, store.Delete(k))
		} else {
			ops = append(ops, store.Put(k, v))
		}
	}
	ops = append(ops, revisionPuts(keys, t.routing)...)
	res, err := t.st.Txn(t.ctx, cmps, ops)
	return res.Succeeded, err
}

// getRaw reads a key, seeing this transaction's own writes.
func (t *txn) getRaw(key string) ([]byte, bool, error) {
	if v, ok := t.writes[key]; ok {
		return v, v != nil, nil
	}
	kv, ok, err := t.st.Get(t.ctx, key)
	if err != nil {
		return nil, false, err
	}
	if _, seen := t.reads[key]; !seen {
		t.reads[key] = kv.ModRevision // 0 when absent: "must still not exist"
	}
	t.got[key] = true
	return kv.Value, ok, nil
}

// get decodes a JSON value; ok=false when absent.
func (t *txn) get(key string, v any) (bool, error) {
	raw, ok, err := t.getRaw(key)
	if err != nil || !ok {
		return false, err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, fmt.Errorf("decode %s: %w", key, err)
	}
	return true, nil
}

// list reads every value under prefix (not this transaction's own writes) and guards
// each key read. A key added under prefix concurrently is not detected: callers that
// need that protect the set through a parent object.
func (t *txn) list(prefix string) ([]store.KV, error) {
	kvs, rev, err := t.st.List(t.ctx, prefix)
	if err != nil {
		return nil, err
	}
	if old, ok := t.listed[prefix]; !ok || rev < old {
		t.listed[prefix] = rev
	}
	for _, kv := range kvs {
		if _, seen := t.reads[kv.Key]; !seen {
			t.reads[kv.Key] = kv.ModRevision
		}
	}
	return kvs, nil
}

func (t *txn) put(key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	t.writes[key] = raw
	return nil
}

func (t *txn) del(key string) { t.writes[key] = nil }

// create writes a new key, guarding that it does not exist yet.
func (t *txn) create(key string, v any) error {
	if _, seen := t.reads[key]; !seen {
		t.reads[key] = 0
	}
	t.got[key] = true
	return t.put(key, v)
}
