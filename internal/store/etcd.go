package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"google.golang.org/grpc/connectivity"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/namespace"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// How the Store maps onto etcd (any server from 3.4 to 3.7 speaks the same v3 API):
//
//   - A store key K is the etcd key Prefix+K; keys handed back never carry the prefix.
//   - The store revision is etcd's cluster-wide revision, so it also moves for writes of
//     other deployments under other prefixes: revisions are ordered, not dense.
//   - KV.CreateRevision, ModRevision and Version are etcd's own fields of the key.
//   - Txn is one etcd Txn: each Cmp is "mod_revision(K) == N" (etcd compares an absent key
//     as mod_revision 0, which gives "must not exist" for N = 0), the ops are its Then
//     branch, and the result's Revision is the response header's revision.
//   - Get, List and Revision are linearizable reads, so a read started after a write was
//     acknowledged (by any server of the cluster) sees it. List is one range read, so its
//     keys and the header revision come from one snapshot.
//   - Watch is an etcd watch from fromRevision+1 with previous values (for deletes);
//     etcd's "required revision has been compacted" becomes ErrCompacted.
//   - Every call runs under a timeout; a call etcd does not answer in time, or answers
//     with "unavailable" (no connection, no leader, overloaded), fails with ErrUnavailable.

// DefaultEtcdPrefix is where a deployment keeps its keys when no prefix is given.
const DefaultEtcdPrefix = "/opencen/"

const defaultEtcdTimeout = 5 * time.Second

// EtcdConfig configures OpenEtcd.
type EtcdConfig struct {
	// Endpoints are the client URLs of the etcd members (http://host:2379, or https://
	// with TLS).
	Endpoints []string
	// Prefix is prepended to every key, so several deployments can share one etcd; default
	// DefaultEtcdPrefix.
	Prefix string
	// CACert verifies the members' certificates; Cert and Key authenticate this client.
	// Giving any of them turns TLS on.
	CACert, Cert, Key string
	// Timeout bounds every call (default 5s).
	Timeout time.Duration
	Log     *slog.Logger
}

// Etcd is the Store on an etcd cluster.
type Etcd struct {
	cli     *clientv3.Client
	kv      clientv3.KV      // keys under the prefix
	watcher clientv3.Watcher // keys under the prefix
	prefix  string
	timeout time.Duration
	log     *slog.Logger
	revs    sharedReads[int64]
	gets    sharedReads[getResult]
	checks  sharedReads[TxnResult]
	// expiring holds the leases of CreateExpiring's keys.
	expiring expiringLeases

	// life ends at Close: it bounds the shared reads and every watch.
	life   context.Context
	stop   context.CancelFunc
	closed atomic.Bool
	// unreachableUntil (unix nanoseconds): etcd just failed a call for being out of reach,
	// so calls until then get the short timeout: a request that makes several calls
	// answers 503 in about one timeout rather than one per call.
	unreachableUntil atomic.Int64
	mu               sync.Mutex // orders starting a watch against Close waiting for them
	watches          sync.WaitGroup
}

var _ Store = (*Etcd)(nil)

// OpenEtcd makes a client of the etcd cluster. It does not wait for etcd: a cluster that
// is down shows as ErrUnavailable from the calls, which work as soon as it is back.
func OpenEtcd(c EtcdConfig) (*Etcd, error) {
	if len(c.Endpoints) == 0 {
		return nil, errors.New("store: no etcd endpoints given")
	}
	if c.Prefix == "" {
		c.Prefix = DefaultEtcdPrefix
	}
	if c.Timeout <= 0 {
		c.Timeout = defaultEtcdTimeout
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	cfg := clientv3.Config{
		Endpoints:   c.Endpoints,
		DialTimeout: c.Timeout,
		// Notice a dead connection without waiting for the kernel's TCP timeouts.
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: c.Timeout,
		// The client's own zap logging is off: failures reach callers as errors, and the
		// server logs those through slog.
		Logger: zap.NewNop(),
		// gRPC's default reconnect backoff grows to 2 minutes: etcd back after a long
		// outage would go unnoticed that long. Retry at least every 2 s.
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
			MinConnectTimeout: c.Timeout,
		})},
	}
	if c.CACert != "" || c.Cert != "" || c.Key != "" {
		if (c.Cert == "") != (c.Key == "") {
			return nil, errors.New("store: etcd client TLS needs both a certificate and its key")
		}
		for _, ep := range c.Endpoints {
			if strings.HasPrefix(ep, "http://") {
				return nil, fmt.Errorf("store: etcd endpoint %s is plain HTTP but TLS files are given; use https://", ep)
			}
		}
		tlsCfg, err := transport.TLSInfo{CertFile: c.Cert, KeyFile: c.Key, TrustedCAFile: c.CACert}.ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("store: etcd client TLS: %w", err)
		}
		cfg.TLS = tlsCfg
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("store: etcd client for %s: %w", strings.Join(c.Endpoints, ","), err)
	}
	life, stop := context.WithCancel(context.Background())
	s := &Etcd{
		cli:     cli,
		kv:      namespace.NewKV(cli.KV, c.Prefix),
		watcher: namespace.NewWatcher(cli.Watcher, c.Prefix),
		prefix:  c.Prefix,
		timeout: c.Timeout,
		log:     c.Log,
		life:    life,
		stop:    stop,
	}
	return s, nil
}

// call bounds one etcd call by the store's timeout (and the caller's context).
func (s *Etcd) call(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if s.closed.Load() {
		return nil, nil, ErrClosed
	}
	timeout := s.timeout
	if time.Now().UnixNano() < s.unreachableUntil.Load() && !s.connected() {
		timeout = min(timeout, unreachableTimeout)
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	return cctx, cancel, nil
}

// unreachableTimeout bounds calls for a timeout after etcd was found out of reach, while
// the client is not connected: a slow but reachable etcd keeps the full timeout, so a
// long call under load does not fail and re-arm the short one.
const unreachableTimeout = time.Second

// connected reports whether the client's connection to etcd is up.
func (s *Etcd) connected() bool {
	conn := s.cli.ActiveConnection()
	return conn != nil && conn.GetState() == connectivity.Ready
}

// fail is the one place etcd's errors are translated: the caller's own cancellation stays
// what it is, compaction becomes ErrCompacted, anything that says etcd cannot answer now
// becomes ErrUnavailable; the rest (a request etcd refused) is wrapped as it is.
func (s *Etcd) fail(ctx context.Context, what string, err error) error {
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("store: etcd %s: %w", what, ctx.Err())
	case s.closed.Load():
		return ErrClosed
	case errors.Is(err, rpctypes.ErrCompacted):
		return fmt.Errorf("store: etcd %s: %w", what, ErrCompacted)
	case unavailable(err):
		s.unreachableUntil.Store(time.Now().Add(s.timeout).UnixNano())
		return fmt.Errorf("%w: etcd %s: %w", ErrUnavailable, what, err)
	}
	return fmt.Errorf("store: etcd %s: %w", what, err)
}

// unavailable says whether err means etcd could not serve the call now (with the caller
// still waiting): timed out, not connected, no leader, overloaded or out of space.
func unavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	code := codes.Unknown
	var ee rpctypes.EtcdError
	if errors.As(err, &ee) {
		code = ee.Code()
	} else if st, ok := status.FromError(err); ok {
		code = st.Code()
	}
	switch code {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.ResourceExhausted, codes.Aborted:
		return true
	}
	return false
}

func fromEtcd(kv *mvccpb.KeyValue) KV {
	return KV{Key: string(kv.Key), Value: kv.Value, CreateRevision: kv.CreateRevision, ModRevision: kv.ModRevision, Version: kv.Version}
}

// Get implements Store. Concurrent Gets of one key share etcd reads (see sharedReads).
func (s *Etcd) Get(ctx context.Context, key string) (KV, bool, error) {
	cctx, cancel, err := s.call(ctx)
	if err != nil {
		return KV{}, false, err
	}
	defer cancel()
	r, err := s.gets.do(cctx, key, func() (getResult, error) { return s.readKey(key) })
	if err != nil {
		return KV{}, false, s.fail(ctx, "get "+key, err)
	}
	r.kv.Value = bytes.Clone(r.kv.Value) // the callers sharing the read each own their value
	return r.kv, r.ok, nil
}

type getResult struct {
	kv KV
	ok bool
}

func (s *Etcd) readKey(key string) (getResult, error) {
	ctx, cancel := context.WithTimeout(s.life, s.timeout)
	defer cancel()
	resp, err := s.kv.Get(ctx, key)
	if err != nil || len(resp.Kvs) == 0 {
		return getResult{}, err
	}
	return getResult{fromEtcd(resp.Kvs[0]), true}, nil
}

// List implements Store.
func (s *Etcd) List(ctx context.Context, prefix string) ([]KV, int64, error) {
	cctx, cancel, err := s.call(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer cancel()
	resp, err := s.kv.Get(cctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, 0, s.fail(ctx, "list "+prefix, err)
	}
	var kvs []KV
	if len(resp.Kvs) > 0 {
		kvs = make([]KV, len(resp.Kvs))
		for i, kv := range resp.Kvs {
			kvs[i] = fromEtcd(kv)
		}
	}
	return kvs, resp.Header.Revision, nil
}

// Txn implements Store. Concurrent identical Txns without ops (guard checks, such as a
// cached access key's) share etcd reads (see sharedReads).
func (s *Etcd) Txn(ctx context.Context, cmps []Cmp, ops []Op) (TxnResult, error) {
	if err := checkTxnSize(cmps, ops); err != nil {
		return TxnResult{}, err
	}
	cctx, cancel, err := s.call(ctx)
	if err != nil {
		return TxnResult{}, err
	}
	defer cancel()
	var res TxnResult
	if len(ops) == 0 {
		res, err = s.checks.do(cctx, cmpsKey(cmps), func() (TxnResult, error) {
			lctx, cancel := context.WithTimeout(s.life, s.timeout)
			defer cancel()
			return s.txn(lctx, cmps, nil)
		})
	} else {
		res, err = s.txn(cctx, cmps, ops)
	}
	if err != nil {
		return TxnResult{}, s.fail(ctx, "txn", err)
	}
	revisionMemo(ctx).observe(res.Revision)
	return res, nil
}

func (s *Etcd) txn(ctx context.Context, cmps []Cmp, ops []Op) (TxnResult, error) {
	ifs := make([]clientv3.Cmp, len(cmps))
	for i, c := range cmps {
		if c.Prefix {
			// Every key in the range (none: the guard holds) written at or before ModRevision.
			ifs[i] = clientv3.Compare(clientv3.ModRevision(c.Key).WithPrefix(), "<", c.ModRevision+1)
			continue
		}
		ifs[i] = clientv3.Compare(clientv3.ModRevision(c.Key), "=", c.ModRevision)
	}
	thens := make([]clientv3.Op, len(ops))
	for i, op := range ops {
		switch op.Type {
		case OpPut:
			thens[i] = clientv3.OpPut(op.Key, string(op.Value))
		case OpDelete:
			thens[i] = clientv3.OpDelete(op.Key)
		default:
			return TxnResult{}, fmt.Errorf("store: unknown op type %d for key %q", op.Type, op.Key)
		}
	}
	resp, err := s.kv.Txn(ctx).If(ifs...).Then(thens...).Commit()
	if err != nil {
		return TxnResult{}, err
	}
	return TxnResult{Succeeded: resp.Succeeded, Revision: resp.Header.Revision}, nil
}

// cmpsKey names a list of guards, for sharing identical checks. Keys are length-prefixed:
// they may hold any byte, and two different lists must never share a name.
func cmpsKey(cmps []Cmp) string {
	var b strings.Builder
	for _, c := range cmps {
		b.WriteString(strconv.Itoa(len(c.Key)))
		b.WriteByte(':')
		b.WriteString(c.Key)
		b.WriteString(strconv.FormatInt(c.ModRevision, 10))
		if c.Prefix {
			b.WriteByte('*')
		}
		b.WriteByte(';')
	}
	return b.String()
}

// Revision implements Store. Concurrent calls share etcd reads (see sharedReads), and within
// a context from WithRevisionMemo only the first call reads.
func (s *Etcd) Revision(ctx context.Context) (int64, error) {
	cctx, cancel, err := s.call(ctx)
	if err != nil {
		return 0, err
	}
	defer cancel()
	memo := revisionMemo(ctx)
	if rev := memo.get(); rev > 0 {
		return rev, nil
	}
	// cctx bounds the wait: a call that joins a read behind a slow one still fails in time.
	rev, err := s.revs.do(cctx, "", s.readRevision)
	if err != nil {
		return 0, s.fail(ctx, "revision", err)
	}
	memo.observe(rev)
	return rev, nil
}

// readRevision is one linearizable read of the cluster's revision: a count of the one key
// named by the prefix itself, which the store never writes (its keys are non-empty).
func (s *Etcd) readRevision() (int64, error) {
	ctx, cancel := context.WithTimeout(s.life, s.timeout)
	defer cancel()
	resp, err := s.cli.KV.Get(ctx, s.prefix, clientv3.WithCountOnly())
	if err != nil {
		return 0, err
	}
	return resp.Header.Revision, nil
}

// sharedReads coalesces concurrent identical reads (same key) into shared etcd reads
// without weakening them: a call only joins a read that starts after the call was made,
// so it still sees every write acknowledged before that. Per key, one read is in flight
// at a time; the calls arriving meanwhile share the next one. Under load this turns the
// hot reads of every request (the revision, the caller's access key) into a few etcd
// round trips instead of one each.
type sharedReads[T any] struct {
	mu   sync.Mutex
	keys map[string]*readQueue[T]
}

type readQueue[T any] struct {
	next *sharedRead[T] // collects the calls for the read after the running one
}

type sharedRead[T any] struct {
	done chan struct{}
	v    T
	err  error
}

// do returns the result of a call of read that started after do was called. read must
// not depend on its caller: it runs for every caller sharing it, under its own timeout.
func (g *sharedReads[T]) do(ctx context.Context, key string, read func() (T, error)) (T, error) {
	g.mu.Lock()
	if g.keys == nil {
		g.keys = map[string]*readQueue[T]{}
	}
	q, running := g.keys[key]
	if !running {
		q = &readQueue[T]{}
		g.keys[key] = q
	}
	if q.next == nil {
		q.next = &sharedRead[T]{done: make(chan struct{})}
	}
	c := q.next
	if !running {
		q.next = nil
		go g.run(key, q, c, read)
	}
	g.mu.Unlock()
	select {
	case <-c.done:
		return c.v, c.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

func (g *sharedReads[T]) run(key string, q *readQueue[T], c *sharedRead[T], read func() (T, error)) {
	for c != nil {
		c.v, c.err = read()
		close(c.done)
		g.mu.Lock()
		c, q.next = q.next, nil
		if c == nil {
			delete(g.keys, key)
		}
		g.mu.Unlock()
	}
}

// Watch implements Store. The channel closes when ctx ends, at Close, when etcd cancels
// the watch (no leader) and when etcd has compacted past the events still to deliver
// (resuming after an outage): the caller then lists again and watches from the list's
// revision, as after ErrCompacted. While etcd is unreachable the channel stays open and
// the client resumes the watch where it was when etcd is back.
func (s *Etcd) Watch(ctx context.Context, prefix string, fromRevision int64) (<-chan Event, error) {
	if fromRevision < 0 {
		return nil, fmt.Errorf("store: negative watch revision %d", fromRevision)
	}
	if err := s.checkWatchable(ctx, fromRevision); err != nil {
		return nil, err
	}
	// The watch must end at Close too, and with the leader lost rather than wait on a
	// member cut off from its cluster.
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	stopAtClose := context.AfterFunc(s.life, cancel)
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		stopAtClose()
		cancel()
		return nil, ErrClosed
	}
	s.watches.Add(1)
	s.mu.Unlock()
	wch := s.watcher.Watch(wctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(fromRevision+1), clientv3.WithPrevKV())
	out := make(chan Event)
	go func() {
		defer s.watches.Done()
		defer close(out)
		defer stopAtClose()
		defer cancel()
		for resp := range wch {
			if resp.CompactRevision != 0 {
				s.log.Warn("store: etcd watch fell behind compaction; the watcher lists again", "prefix", prefix, "compacted", resp.CompactRevision)
				return
			}
			if err := resp.Err(); err != nil {
				if wctx.Err() == nil {
					s.log.Warn("store: etcd watch ended", "prefix", prefix, "err", err)
				}
				return
			}
			for _, ev := range resp.Events {
				e := Event{Type: EventPut, KV: fromEtcd(ev.Kv)}
				if ev.Type == mvccpb.DELETE {
					e = Event{Type: EventDelete, KV: KV{Key: string(ev.Kv.Key), ModRevision: ev.Kv.ModRevision}}
					if ev.PrevKv != nil {
						e.KV.Value = ev.PrevKv.Value
					}
				}
				select {
				case out <- e:
				case <-wctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

// checkWatchable answers ErrCompacted at once for a revision etcd no longer has, by
// reading at it (a watch would only say so in its stream). It is one revision stricter
// than the watch itself, which is harmless: the caller lists again.
func (s *Etcd) checkWatchable(ctx context.Context, fromRevision int64) error {
	cctx, cancel, err := s.call(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	_, err = s.cli.KV.Get(cctx, s.prefix, clientv3.WithCountOnly(), clientv3.WithRev(max(fromRevision, 1)))
	if err == nil || errors.Is(err, rpctypes.ErrFutureRev) {
		return nil // a future revision is fine: the watch waits for it
	}
	return s.fail(ctx, "watch", err)
}

// Compact discards etcd's history before rev (for the whole cluster, not only this
// prefix): watches from earlier revisions then get ErrCompacted. Operators normally let
// etcd compact itself (--auto-compaction-retention).
func (s *Etcd) Compact(ctx context.Context, rev int64) error {
	cctx, cancel, err := s.call(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	if _, err := s.cli.Compact(cctx, rev, clientv3.WithCompactPhysical()); err != nil {
		return s.fail(ctx, "compact", err)
	}
	return nil
}

// Close ends every watch (closing its channel) and the client. Calling it again is a
// no-op.
func (s *Etcd) Close() error {
	s.mu.Lock()
	already := s.closed.Swap(true)
	s.mu.Unlock()
	if already {
		return nil
	}
	s.stop()
	s.watches.Wait()
	return s.cli.Close()
}
