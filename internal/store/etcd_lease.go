package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

var _ Leaser = (*Etcd)(nil)

// Keys of CreateExpiring share leases: one per expiringBucket of expiry times, granted
// when first needed with a TTL reaching expiringMargin past the bucket's end. So a server
// grants a lease every 10 s at most, whatever its request rate, and etcd deletes a
// bucket's keys together when its lease expires, a few seconds' worth at a time rather
// than minutes' worth in one large transaction. The margin covers clocks of the
// processes sharing the store that disagree (by less than that) about when a key may go.
const (
	expiringBucket = 10 * time.Second
	expiringMargin = time.Minute
	// maxNestedTxns keeps a transaction of nested one-operation transactions within
	// etcd's default --max-txn-ops (128), which counts the outer operations plus the
	// operations of each nested one.
	maxNestedTxns = 128 - 1
)

// expiringLeases maps a bucket's end (unix seconds) to its lease.
type expiringLeases struct {
	mu    sync.Mutex
	byEnd map[int64]clientv3.LeaseID
}

// CreateExpiring implements Leaser: one etcd transaction per 127 keys, each key in a
// nested transaction of its own ("create if absent", bound to its bucket's lease), so
// every key gets its own answer in one round trip.
func (s *Etcd) CreateExpiring(ctx context.Context, keys []ExpiringKey) ([]bool, error) {
	created := make([]bool, 0, len(keys))
	for len(keys) > 0 {
		n := min(len(keys), maxNestedTxns)
		got, err := s.createExpiring(ctx, keys[:n])
		if err != nil {
			return nil, err
		}
		created = append(created, got...)
		keys = keys[n:]
	}
	return created, nil
}

func (s *Etcd) createExpiring(ctx context.Context, keys []ExpiringKey) ([]bool, error) {
	cctx, cancel, err := s.call(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	for attempt := 0; ; attempt++ {
		ops := make([]clientv3.Op, len(keys))
		for i, k := range keys {
			lease, err := s.expiringLease(cctx, k.Until)
			if err != nil {
				return nil, s.fail(ctx, "grant lease", err)
			}
			ops[i] = clientv3.OpTxn(
				[]clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(k.Key), "=", 0)},
				[]clientv3.Op{clientv3.OpPut(k.Key, "", clientv3.WithLease(lease))}, nil)
		}
		resp, err := s.kv.Txn(cctx).Then(ops...).Commit()
		if errors.Is(err, rpctypes.ErrLeaseNotFound) && attempt == 0 {
			// A lease etcd no longer has (restored from a snapshot, or expired while this
			// process slept): forget every cached lease and grant anew, once.
			s.expiring.mu.Lock()
			s.expiring.byEnd = nil
			s.expiring.mu.Unlock()
			continue
		}
		if err != nil {
			return nil, s.fail(ctx, "create expiring keys", err)
		}
		if len(resp.Responses) != len(keys) {
			return nil, fmt.Errorf("store: etcd answered %d results for %d expiring keys", len(resp.Responses), len(keys))
		}
		created := make([]bool, len(keys))
		for i, r := range resp.Responses {
			t := r.GetResponseTxn()
			if t == nil {
				return nil, fmt.Errorf("store: etcd answered a nested transaction with %T", r.Response)
			}
			created[i] = t.Succeeded
		}
		return created, nil
	}
}

// expiringLease returns the lease of until's bucket, granting it when it is new, and
// forgets the leases of buckets that have ended.
func (s *Etcd) expiringLease(ctx context.Context, until time.Time) (clientv3.LeaseID, error) {
	end := until.Truncate(expiringBucket).Add(expiringBucket).Unix()
	s.expiring.mu.Lock()
	id, ok := s.expiring.byEnd[end]
	s.expiring.mu.Unlock()
	if ok {
		return id, nil
	}
	now := time.Now()
	ttl := time.Unix(end, 0).Sub(now) + expiringMargin
	resp, err := s.cli.Grant(ctx, int64(ttl/time.Second)+1)
	if err != nil {
		return 0, err
	}
	s.expiring.mu.Lock()
	defer s.expiring.mu.Unlock()
	if s.expiring.byEnd == nil {
		s.expiring.byEnd = map[int64]clientv3.LeaseID{}
	}
	for e := range s.expiring.byEnd {
		if e < now.Unix() {
			delete(s.expiring.byEnd, e)
		}
	}
	if other, ok := s.expiring.byEnd[end]; ok {
		return other, nil // granted concurrently; this one expires unused
	}
	s.expiring.byEnd[end] = resp.ID
	return resp.ID, nil
}

// errSessionEnded is what Campaign returns when its session ends first.
var errSessionEnded = errors.New("store: etcd session ended (its lease expired or was revoked)")

// etcdSession is a Session on etcd's concurrency package: a lease kept alive by the
// client, elections under <prefix>/cluster/elections/<name>/ (etcd's election recipe:
// the campaigner whose key was created first leads).
type etcdSession struct {
	st *Etcd
	s  *concurrency.Session
}

// Session implements Leaser. The lease ends at Close, when ctx ends (the keep-alives stop
// and the lease expires after its TTL), when the store closes, and when etcd cannot be
// reached for its TTL.
func (s *Etcd) Session(ctx context.Context, ttl time.Duration) (Session, error) {
	cctx, cancel, err := s.call(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	secs := max(int64((ttl+time.Second-1)/time.Second), 1)
	g, err := s.cli.Grant(cctx, secs)
	if err != nil {
		return nil, s.fail(ctx, "grant session lease", err)
	}
	cs, err := concurrency.NewSession(s.cli, concurrency.WithLease(g.ID), concurrency.WithTTL(int(secs)), concurrency.WithContext(s.life))
	if err != nil {
		return nil, s.fail(ctx, "keep session lease alive", err)
	}
	stop := context.AfterFunc(ctx, cs.Orphan)
	go func() { <-cs.Done(); stop() }()
	return &etcdSession{st: s, s: cs}, nil
}

func (e *etcdSession) Done() <-chan struct{} { return e.s.Done() }

func (e *etcdSession) Put(ctx context.Context, key string, value []byte) error {
	cctx, cancel, err := e.st.call(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	if _, err := e.st.kv.Put(cctx, key, string(value), clientv3.WithLease(e.s.Lease())); err != nil {
		return e.st.fail(ctx, "put "+key, err)
	}
	return nil
}

func (e *etcdSession) Campaign(ctx context.Context, name string, value []byte) error {
	if e.st.closed.Load() {
		return ErrClosed
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(e.s.Ctx(), cancel) // the session ended: stop campaigning
	defer stop()
	el := concurrency.NewElection(e.s, e.st.prefix+"/cluster/elections/"+name)
	err := el.Campaign(cctx, string(value))
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("store: etcd campaign %s: %w", name, ctx.Err())
	case e.s.Ctx().Err() != nil:
		return errSessionEnded
	}
	return e.st.fail(ctx, "campaign "+name, err)
}

// Close revokes the lease (bounded by the store's timeout; unrevoked, it expires after
// its TTL anyway).
func (e *etcdSession) Close() error {
	e.s.Orphan()
	if e.st.closed.Load() {
		return nil
	}
	ctx, cancel := context.WithTimeout(e.st.life, e.st.timeout)
	defer cancel()
	if _, err := e.st.cli.Revoke(ctx, e.s.Lease()); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		return e.st.fail(ctx, "revoke session lease", err)
	}
	return nil
}
