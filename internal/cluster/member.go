// Package cluster runs a process as a member of the processes sharing a store: its record
// is kept in the store while it lives, and work that must run once per cluster (the
// controllers) runs only on the member elected to lead. On a store of one process (bbolt)
// that process is always the leader.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"opencen/internal/store"
)

// DefaultTTL is how long a member that stopped renewing its lease (it died, or lost etcd)
// keeps its record and its leadership.
const DefaultTTL = 10 * time.Second

// retryEvery is the pause before a member tries again after its session failed.
const retryEvery = time.Second

// Member is one process of a cluster.
type Member struct {
	Store store.Store
	// TTL of the member's lease (DefaultTTL when zero): a member that dies is replaced as
	// leader, and its record disappears, within it.
	TTL time.Duration
	// Key is where the member's record is kept; Record encodes it, saying whether the
	// member leads.
	Key    string
	Record func(leader bool) ([]byte, error)
	// Election names the election Lead runs under.
	Election string
	// Lead does the leader's work until its context ends: when the member stops leading
	// (its lease was lost) or Run's context ends. Run waits for it to return before
	// campaigning again, so a member never runs two Leads at once.
	Lead func(ctx context.Context)
	Log  *slog.Logger
}

// Run keeps the member in the cluster until ctx ends. On a store without leases (bbolt)
// it writes the record and leads at once; on a shared store it campaigns, leads while
// elected, and after losing its lease (etcd out of reach for the TTL) starts over.
func (m *Member) Run(ctx context.Context) error {
	if m.TTL <= 0 {
		m.TTL = DefaultTTL
	}
	if m.Log == nil {
		m.Log = slog.Default()
	}
	l, ok := m.Store.(store.Leaser)
	if !ok {
		return m.alone(ctx)
	}
	for ctx.Err() == nil {
		err := m.term(ctx, l)
		if err != nil && ctx.Err() == nil {
			m.Log.Warn("cluster: membership ended; joining again", "in", retryEvery, "err", err)
			sleep(ctx, retryEvery)
		}
	}
	return ctx.Err()
}

// alone is Run for the only process of a store: it leads as long as it runs, and its
// record goes when it stops (a record left by a process that was killed is replaced by
// the next one's). A record that cannot be written is logged: the work runs regardless.
func (m *Member) alone(ctx context.Context) error {
	if err := m.recordAlone(ctx); err != nil {
		m.Log.Error("cluster: record this member", "err", err)
	}
	m.Lead(ctx)
	cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := m.Store.Txn(cleanup, nil, []store.Op{store.Delete(m.Key)}); err != nil && !errors.Is(err, store.ErrClosed) {
		m.Log.Warn("cluster: remove member record", "err", err)
	}
	return ctx.Err()
}

// recordAlone replaces every record under the member's folder with its own.
func (m *Member) recordAlone(ctx context.Context) error {
	kvs, _, err := m.Store.List(ctx, prefixOf(m.Key))
	if err != nil {
		return err
	}
	ops := make([]store.Op, 0, len(kvs)+1)
	for _, kv := range kvs {
		ops = append(ops, store.Delete(kv.Key))
	}
	rec, err := m.Record(true)
	if err != nil {
		return err
	}
	_, err = m.Store.Txn(ctx, nil, append(ops, store.Put(m.Key, rec)))
	return err
}

// term is one session: record, campaign, lead until the session or ctx ends. Closing
// the session at the end resigns at once, so a member that stops cleanly is replaced
// without waiting for its TTL.
func (m *Member) term(ctx context.Context, l store.Leaser) error {
	sess, err := l.Session(ctx, m.TTL)
	if err != nil {
		return fmt.Errorf("start session: %w", err)
	}
	defer func() {
		if err := sess.Close(); err != nil {
			m.Log.Warn("cluster: close session", "err", err)
		}
	}()
	if err := m.put(ctx, sess, false); err != nil {
		return err
	}
	if err := sess.Campaign(ctx, m.Election, []byte(m.Key)); err != nil {
		return fmt.Errorf("campaign: %w", err)
	}
	m.Log.Info("cluster: elected leader", "election", m.Election, "member", m.Key)
	if err := m.put(ctx, sess, true); err != nil {
		m.Log.Warn("cluster: leading, but the member record says otherwise", "err", err)
	}
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan struct{})
	go func() { defer close(done); m.Lead(lctx) }()
	select {
	case <-sess.Done():
		stop()
		<-done
		if ctx.Err() != nil {
			return ctx.Err() // stopping: the session ended with ctx
		}
		m.Log.Warn("cluster: lost the leadership (the lease expired: the store was out of reach); the leader's work stopped", "election", m.Election)
		return errors.New("session lost")
	case <-done:
		return ctx.Err()
	}
}

func (m *Member) put(ctx context.Context, sess store.Session, leader bool) error {
	rec, err := m.Record(leader)
	if err != nil {
		return err
	}
	if err := sess.Put(ctx, m.Key, rec); err != nil {
		return fmt.Errorf("record member: %w", err)
	}
	return nil
}

// prefixOf is the folder of a key: /cluster/servers/ of /cluster/servers/a.
func prefixOf(key string) string { return key[:strings.LastIndexByte(key, '/')+1] }

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
