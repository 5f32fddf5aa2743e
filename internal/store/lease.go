package store

import (
	"context"
	"time"
)

// Leaser is implemented by stores that several processes share (etcd), not by bbolt: keys
// that the store itself deletes when a lease ends, and elections among the processes. It
// is optional; callers type-assert a Store to it and fall back to the one-process
// behaviour.
type Leaser interface {
	// CreateExpiring creates each key that does not exist yet, with an empty value, in one
	// round trip; the store deletes it some time after its Until, never before. created[i]
	// reports whether keys[i] was created by this call (false: it existed already).
	CreateExpiring(ctx context.Context, keys []ExpiringKey) (created []bool, err error)
	// Session grants a lease of ttl that this process keeps alive until ctx ends, Close,
	// or the store cannot be reached for about ttl.
	Session(ctx context.Context, ttl time.Duration) (Session, error)
}

// ExpiringKey is a key of Leaser.CreateExpiring and how long it must live at least.
type ExpiringKey struct {
	Key   string
	Until time.Time
}

// Session is a lease kept alive by this process: what it writes and the elections it wins
// last as long as the session.
type Session interface {
	// Put writes key = value, to be deleted when the session ends.
	Put(ctx context.Context, key string, value []byte) error
	// Campaign waits until this session leads the election name, or ctx ends, or the
	// session ends (then it returns an error). value describes the candidate. The
	// leadership lasts until the session ends: whoever holds it must stop acting as the
	// leader when Done is closed.
	Campaign(ctx context.Context, name string, value []byte) error
	// Done is closed when the session has ended: its lease expired (the store was out of
	// reach for its TTL), was revoked, or Close was called.
	Done() <-chan struct{}
	// Close ends the session and revokes its lease, so its keys go at once and another
	// campaigner is elected without waiting for the TTL.
	Close() error
}
