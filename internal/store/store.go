// Package store is a versioned key-value store with etcd semantics that the rest of OpenCEN persists through.
package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrCompacted is returned by Watch when the requested revision is older than the history kept.
// The caller re-lists and watches from the list's revision, as with etcd.
var ErrCompacted = errors.New("store: required revision has been compacted")

// ErrUnavailable wraps every failure to reach the store's backend (etcd down, no leader,
// a call that ran out of time): the operation may succeed when retried later. The API
// answers it with 503 ServiceUnavailable (internal/apierr).
var ErrUnavailable = errors.New("store: unavailable")

// KV is one key with its value and etcd-style revision bookkeeping.
type KV struct {
	Key            string
	Value          []byte
	CreateRevision int64 // revision of the write that created the key
	ModRevision    int64 // revision of the last write to the key
	Version        int64 // number of writes since creation (1 after create)
}

// Cmp is a transaction guard: the key's ModRevision must equal ModRevision.
// ModRevision 0 means "the key must not exist".
//
// With Prefix, Key is a prefix and the guard holds when no key under it was written after
// ModRevision: none was changed or created since a List at that revision. A key deleted
// since is not noticed (etcd compares only keys that exist). One such guard stands for a
// whole listing, where a guard per key could exceed what one etcd transaction takes
// (--max-txn-ops, 128 by default).
type Cmp struct {
	Key         string
	ModRevision int64
	Prefix      bool
}

// MaxTxnOps is how many guards, and how many writes, one transaction may carry on every
// store: etcd refuses more than its --max-txn-ops (128 by default) of either, and bbolt
// refuses them too, so that what works on one machine works on etcd.
const MaxTxnOps = 128

// ErrTxnTooLarge is returned for a transaction over MaxTxnOps guards or writes.
var ErrTxnTooLarge = errors.New("store: transaction too large")

func checkTxnSize(cmps []Cmp, ops []Op) error {
	if len(cmps) > MaxTxnOps || len(ops) > MaxTxnOps {
		return fmt.Errorf("%w: %d guards and %d writes, over the %d of each etcd takes (--max-txn-ops)", ErrTxnTooLarge, len(cmps), len(ops), MaxTxnOps)
	}
	return nil
}

// OpType says what an Op does.
type OpType int

const (
	OpPut OpType = iota + 1
	OpDelete
)

// Op is one write inside a transaction.
type Op struct {
	Type  OpType
	Key   string
	Value []byte // OpPut only
}

// Put and Delete build Ops.
func Put(key string, value []byte) Op { return Op{Type: OpPut, Key: key, Value: value} }
func Delete(key string) Op            { return Op{Type: OpDelete, Key: key} }

// TxnResult reports whether the guards held and, if so, the revision the writes got.
type TxnResult struct {
	Succeeded bool
	Revision  int64 // store revision after the transaction (unchanged if it did not succeed)
}

// EventType says what happened to a key.
type EventType int

const (
	EventPut EventType = iota + 1
	EventDelete
)

// Event is one change seen by a watcher. For deletes, KV holds the key, the deleting
// revision as ModRevision and the last value before deletion.
type Event struct {
	Type EventType
	KV   KV
}

// Store is what callers depend on; the embedded bbolt implementation and the etcd one
// both satisfy it.
//
// Revisions only ever grow, every successful writing Txn gets one revision for all its
// ops, and a key's ModRevision is the revision of the Txn that last wrote it. Callers must
// not assume more: revisions need not start at 1 nor be dense (an etcd shared with other
// deployments advances them for writes under other prefixes, and etcd does not advance
// them for a Txn whose deletes find nothing), so compare revisions, never count them.
type Store interface {
	// Get returns the key, or ok=false when absent.
	Get(ctx context.Context, key string) (kv KV, ok bool, err error)
	// List returns every key with the prefix in key order and the store revision it reflects.
	List(ctx context.Context, prefix string) (kvs []KV, revision int64, err error)
	// Txn applies ops atomically if every Cmp holds. A transaction whose ops are all
	// applied is durable (fsynced) before Txn returns. One txn = one revision.
	Txn(ctx context.Context, cmps []Cmp, ops []Op) (TxnResult, error)
	// Watch streams events for keys with the prefix whose revision is > fromRevision,
	// in revision order, until ctx ends (then the channel is closed).
	Watch(ctx context.Context, prefix string, fromRevision int64) (<-chan Event, error)
	// Revision is the current store revision.
	Revision(ctx context.Context) (int64, error)
	Close() error
}

// WithRevisionMemo returns a context for one API request. A store whose Revision costs a
// round trip (etcd) reads it once per such context and answers later calls in it from
// that read, or from the revision of a Txn made in it since, whichever is newer. The
// request still sees every write acknowledged before it began: the first read started
// after that, and the request is served as of that read or later.
func WithRevisionMemo(ctx context.Context) context.Context {
	return context.WithValue(ctx, memoKey{}, &memo{})
}

type memoKey struct{}

type memo struct {
	mu  sync.Mutex
	rev int64
}

func revisionMemo(ctx context.Context) *memo {
	m, _ := ctx.Value(memoKey{}).(*memo)
	return m
}

// get returns the remembered revision, 0 when none (or without a memo).
func (m *memo) get() int64 {
	if m == nil {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rev
}

// observe remembers rev if it is newer.
func (m *memo) observe(rev int64) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.rev = max(m.rev, rev)
	m.mu.Unlock()
}
