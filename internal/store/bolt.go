package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// ErrClosed is returned by every Bolt method called after Close.
var ErrClosed = errors.New("store: closed")

// On-disk layout (bbolt file):
//
//	bucket "meta", key "rev": the global store revision, 8 bytes big-endian.
//	bucket "kv", key = the store key bytes, value = 24-byte header followed by the raw value:
//	    [0:8]   CreateRevision, uint64 big-endian
//	    [8:16]  ModRevision,    uint64 big-endian
//	    [16:24] Version,        uint64 big-endian
//	    [24:]   value
//
// Deleted keys are removed outright; no tombstones are kept because history before Open is
// not served (Watch from an older revision gets ErrCompacted).
var (
	metaBucket = []byte("meta")
	kvBucket   = []byte("kv")
	revKey     = []byte("rev")
)

const headerLen = 24

const (
	defaultHistoryLimit = 100_000
	// How long concurrent Txns wait to share one fsynced commit: bbolt's own 10ms makes
	// serial CAS loops slow; much shorter delays split contending writers into many small
	// batches that each pay an fsync (a 32-way CAS loop measured 10x slower at 100µs).
	defaultMaxBatchDelay = time.Millisecond
	defaultMaxBatchSize  = 1000
	// One attempt at the file lock: a second process on the same file is refused at once
	// (bbolt gives up once the timeout has passed, checking only after a failed attempt).
	defaultLockTimeout = time.Nanosecond
)

// ErrLocked is returned by OpenBolt when another process holds the file.
var ErrLocked = errors.New("store: in use by another process")

// BoltOption tunes OpenBolt.
type BoltOption func(*boltConfig)

type boltConfig struct {
	historyLimit  int
	maxBatchDelay time.Duration
	maxBatchSize  int
	lockTimeout   time.Duration
}

// WithHistoryLimit bounds how many events are kept in memory for Watch replay
// (default 100000). Older revisions then give ErrCompacted.
func WithHistoryLimit(n int) BoltOption {
	return func(c *boltConfig) {
		if n >= 0 {
			c.historyLimit = n
		}
	}
}

// WithLockTimeout bounds how long OpenBolt waits for the file lock held by another
// process (default: no wait).
func WithLockTimeout(d time.Duration) BoltOption {
	return func(c *boltConfig) { c.lockTimeout = d }
}

// Bolt is the embedded Store on a single bbolt file.
type Bolt struct {
	db  *bolt.DB
	hub *hub

	// closeMu is held shared by every operation and exclusively by Close, so Close waits
	// for in-flight work and nothing touches the db afterwards.
	closeMu sync.RWMutex
	closed  bool
}

var _ Store = (*Bolt)(nil)

// OpenBolt opens (creating if needed) the bbolt file at path.
func OpenBolt(path string, opts ...BoltOption) (*Bolt, error) {
	cfg := boltConfig{
		historyLimit:  defaultHistoryLimit,
		maxBatchDelay: defaultMaxBatchDelay,
		maxBatchSize:  defaultMaxBatchSize,
		lockTimeout:   defaultLockTimeout,
	}
	for _, o := range opts {
		o(&cfg)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: cfg.lockTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		holder := "unknown PID"
		if pid, rerr := os.ReadFile(pidPath(path)); rerr == nil {
			holder = "PID " + strings.TrimSpace(string(pid))
		}
		return nil, fmt.Errorf("%w: %s is held by %s (see %s); stop that process or use another data directory", ErrLocked, path, holder, pidPath(path))
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// Holding the lock, say who holds it: a refused second process names this one.
	if err := os.WriteFile(pidPath(path), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	db.MaxBatchDelay = cfg.maxBatchDelay
	db.MaxBatchSize = cfg.maxBatchSize

	var rev int64
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(metaBucket)
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(kvBucket); err != nil {
			return err
		}
		rev, err = readRev(meta)
		return err
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: init %s: %w", path, err)
	}
	return &Bolt{db: db, hub: newHub(rev, cfg.historyLimit)}, nil
}

func readRev(meta *bolt.Bucket) (int64, error) {
	v := meta.Get(revKey)
	if v == nil {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("store: corrupt revision record (%d bytes)", len(v))
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

func putRev(meta *bolt.Bucket, rev int64) error {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(rev))
	return meta.Put(revKey, b[:])
}

// decodeKV copies out of bbolt's mmap, which is only valid inside the transaction.
func decodeKV(key, raw []byte) (KV, error) {
	if len(raw) < headerLen {
		return KV{}, fmt.Errorf("store: corrupt record for key %q (%d bytes)", key, len(raw))
	}
	kv := KV{
		Key:            string(key),
		CreateRevision: int64(binary.BigEndian.Uint64(raw[0:8])),
		ModRevision:    int64(binary.BigEndian.Uint64(raw[8:16])),
		Version:        int64(binary.BigEndian.Uint64(raw[16:24])),
	}
	if len(raw) > headerLen {
		kv.Value = append([]byte(nil), raw[headerLen:]...)
	}
	return kv, nil
}

func encodeKV(create, mod, version int64, value []byte) []byte {
	buf := make([]byte, headerLen+len(value))
	binary.BigEndian.PutUint64(buf[0:8], uint64(create))
	binary.BigEndian.PutUint64(buf[8:16], uint64(mod))
	binary.BigEndian.PutUint64(buf[16:24], uint64(version))
	copy(buf[headerLen:], value)
	return buf
}

// begin guards an operation against a concurrent or completed Close.
func (s *Bolt) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return ErrClosed
	}
	return nil
}

func (s *Bolt) end() { s.closeMu.RUnlock() }

// Get implements Store.
func (s *Bolt) Get(ctx context.Context, key string) (KV, bool, error) {
	if err := s.begin(ctx); err != nil {
		return KV{}, false, err
	}
	defer s.end()
	var (
		kv KV
		ok bool
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(kvBucket).Get([]byte(key))
		if raw == nil {
			return nil
		}
		var err error
		kv, err = decodeKV([]byte(key), raw)
		ok = err == nil
		return err
	})
	if err != nil {
		return KV{}, false, err
	}
	return kv, ok, nil
}

// List implements Store. Data and revision come from one read transaction, so watching
// from the returned revision misses nothing and repeats nothing.
func (s *Bolt) List(ctx context.Context, prefix string) ([]KV, int64, error) {
	if err := s.begin(ctx); err != nil {
		return nil, 0, err
	}
	defer s.end()
	var (
		kvs []KV
		rev int64
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		if rev, err = readRev(tx.Bucket(metaBucket)); err != nil {
			return err
		}
		p := []byte(prefix)
		c := tx.Bucket(kvBucket).Cursor()
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			kv, err := decodeKV(k, v)
			if err != nil {
				return err
			}
			kvs = append(kvs, kv)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return kvs, rev, nil
}

// Revision implements Store.
func (s *Bolt) Revision(ctx context.Context) (int64, error) {
	if err := s.begin(ctx); err != nil {
		return 0, err
	}
	defer s.end()
	var rev int64
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		rev, err = readRev(tx.Bucket(metaBucket))
		return err
	})
	return rev, err
}

func validateOps(ops []Op) error {
	seen := make(map[string]struct{}, len(ops))
	for _, op := range ops {
		if op.Key == "" {
			return errors.New("store: empty key")
		}
		if len(op.Key) > bolt.MaxKeySize {
			return fmt.Errorf("store: key too large (%d bytes)", len(op.Key))
		}
		switch op.Type {
		case OpPut:
			if int64(len(op.Value)) > bolt.MaxValueSize-headerLen {
				return fmt.Errorf("store: value too large for key %q", op.Key)
			}
		case OpDelete:
		default:
			return fmt.Errorf("store: unknown op type %d for key %q", op.Type, op.Key)
		}
		// As in etcd: with one revision per txn, two writes to a key would be ambiguous.
		if _, dup := seen[op.Key]; dup {
			return fmt.Errorf("store: duplicate key %q in txn", op.Key)
		}
		seen[op.Key] = struct{}{}
	}
	return nil
}

// cmpsHold evaluates the guards against the state seen by tx.
func cmpsHold(b *bolt.Bucket, cmps []Cmp) (bool, error) {
	for _, c := range cmps {
		if c.Prefix {
			ok, err := prefixHolds(b, c)
			if !ok || err != nil {
				return false, err
			}
			continue
		}
		raw := b.Get([]byte(c.Key))
		if raw == nil {
			if c.ModRevision != 0 {
				return false, nil
			}
			continue
		}
		if len(raw) < headerLen {
			return false, fmt.Errorf("store: corrupt record for key %q", c.Key)
		}
		if int64(binary.BigEndian.Uint64(raw[8:16])) != c.ModRevision {
			return false, nil
		}
	}
	return true, nil
}

// prefixHolds: no key under c.Key was written after c.ModRevision.
func prefixHolds(b *bolt.Bucket, c Cmp) (bool, error) {
	cur := b.Cursor()
	prefix := []byte(c.Key)
	for k, raw := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, raw = cur.Next() {
		if len(raw) < headerLen {
			return false, fmt.Errorf("store: corrupt record for key %q", k)
		}
		if int64(binary.BigEndian.Uint64(raw[8:16])) > c.ModRevision {
			return false, nil
		}
	}
	return true, nil
}

// Txn implements Store. Concurrent calls share one fsynced bbolt commit via db.Batch;
// each still gets its own revision because the batch runs its functions one after the
// other in a single write transaction, each reading the counter the previous one wrote.
func (s *Bolt) Txn(ctx context.Context, cmps []Cmp, ops []Op) (TxnResult, error) {
	if err := s.begin(ctx); err != nil {
		return TxnResult{}, err
	}
	defer s.end()
	if err := validateOps(ops); err != nil {
		return TxnResult{}, err
	}
	if err := checkTxnSize(cmps, ops); err != nil {
		return TxnResult{}, err
	}

	if len(ops) == 0 || len(cmps) > 0 {
		// A txn that writes nothing is a read: answer it from a snapshot, without waiting for
		// a batch and an fsync. That includes guards that already fail — linearizing the
		// failure at this read is valid — which keeps losing CAS retries off the write path.
		var res TxnResult
		err := s.db.View(func(tx *bolt.Tx) error {
			rev, err := readRev(tx.Bucket(metaBucket))
			if err != nil {
				return err
			}
			ok, err := cmpsHold(tx.Bucket(kvBucket), cmps)
			res = TxnResult{Succeeded: ok, Revision: rev}
			return err
		})
		if err != nil || !res.Succeeded || len(ops) == 0 {
			return res, err
		}
		// The guards held at the snapshot; they are checked again inside the write.
	}

	var (
		res    TxnResult
		events []Event
	)
	err := s.db.Batch(func(tx *bolt.Tx) error {
		// Batch may run this more than once (rolled-back attempts): start clean each time.
		res, events = TxnResult{}, nil
		meta, b := tx.Bucket(metaBucket), tx.Bucket(kvBucket)
		rev, err := readRev(meta)
		if err != nil {
			return err
		}
		ok, err := cmpsHold(b, cmps)
		if err != nil {
			return err
		}
		if !ok {
			// A failed guard is a normal outcome, not a Batch error: returning an error
			// would only make bbolt re-run this call solo.
			res = TxnResult{Succeeded: false, Revision: rev}
			return nil
		}
		rev++
		evs := make([]Event, 0, len(ops))
		for _, op := range ops {
			key := []byte(op.Key)
			old := b.Get(key)
			switch op.Type {
			case OpPut:
				create, version := rev, int64(1)
				if old != nil {
					if len(old) < headerLen {
						return fmt.Errorf("store: corrupt record for key %q", op.Key)
					}
					create = int64(binary.BigEndian.Uint64(old[0:8]))
					version = int64(binary.BigEndian.Uint64(old[16:24])) + 1
				}
				buf := encodeKV(create, rev, version, op.Value)
				if err := b.Put(key, buf); err != nil {
					return err
				}
				var val []byte
				if len(op.Value) > 0 {
					// Shares buf, which bbolt only reads: one allocation per put.
					val = buf[headerLen:]
				}
				evs = append(evs, Event{Type: EventPut, KV: KV{
					Key: op.Key, Value: val, CreateRevision: create, ModRevision: rev, Version: version,
				}})
			case OpDelete:
				if old == nil {
					continue // nothing to delete, nothing to report
				}
				last, err := decodeKV(key, old)
				if err != nil {
					return err
				}
				if err := b.Delete(key); err != nil {
					return err
				}
				evs = append(evs, Event{Type: EventDelete, KV: KV{
					Key: op.Key, Value: last.Value, ModRevision: rev,
				}})
			}
		}
		if err := putRev(meta, rev); err != nil {
			return err
		}
		res, events = TxnResult{Succeeded: true, Revision: rev}, evs
		return nil
	})
	if err != nil {
		return TxnResult{}, err
	}
	if res.Succeeded {
		// Committed and fsynced: only now may watchers see it.
		s.hub.commit(res.Revision, events)
	}
	return res, nil
}

// Watch implements Store. A negative fromRevision is rejected. Event values are shared
// between watchers and must be treated as read-only.
func (s *Bolt) Watch(ctx context.Context, prefix string, fromRevision int64) (<-chan Event, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.end()
	if fromRevision < 0 {
		return nil, fmt.Errorf("store: negative watch revision %d", fromRevision)
	}
	return s.hub.watch(ctx, prefix, fromRevision)
}

// Close waits for in-flight operations, closes every watch channel and the file.
// Calling it again is a no-op.
func (s *Bolt) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.hub.close()
	_ = os.Remove(pidPath(s.db.Path())) // still holding the lock, so the file is ours
	return s.db.Close()
}

// pidPath is where the process holding the store file writes its PID.
func pidPath(dbPath string) string { return dbPath + ".pid" }

// hub orders committed transactions by revision and fans their events out to watchers.
// Batch callers wake in arbitrary order after a shared commit, so commits arriving out of
// order are parked until every lower revision has been published.
type hub struct {
	mu       sync.Mutex
	next     int64             // lowest revision not yet published
	pending  map[int64][]Event // committed revisions waiting for a lower one
	history  []Event           // recent events, revision order
	limit    int
	compact  int64 // events at revisions <= compact are no longer (all) in history
	watchers map[*watcher]struct{}
	closed   bool
	done     chan struct{}
	wg       sync.WaitGroup
}

func newHub(rev int64, limit int) *hub {
	return &hub{
		next:     rev + 1,
		pending:  make(map[int64][]Event),
		limit:    limit,
		compact:  rev,
		watchers: make(map[*watcher]struct{}),
		done:     make(chan struct{}),
	}
}

func (h *hub) commit(rev int64, events []Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || rev < h.next {
		return
	}
	h.pending[rev] = events
	for {
		evs, ok := h.pending[h.next]
		if !ok {
			return
		}
		delete(h.pending, h.next)
		h.next++
		h.publish(evs)
	}
}

// publish runs with h.mu held.
func (h *hub) publish(evs []Event) {
	if len(evs) == 0 {
		return
	}
	for w := range h.watchers {
		w.offer(evs)
	}
	h.history = append(h.history, evs...)
	if len(h.history) <= h.limit {
		return
	}
	// Drop whole revisions only, so a kept revision is always complete.
	cut := len(h.history) - h.limit
	for cut < len(h.history) && h.history[cut].KV.ModRevision == h.history[cut-1].KV.ModRevision {
		cut++
	}
	h.compact = h.history[cut-1].KV.ModRevision
	clear(h.history[:cut]) // let dropped values be collected before the slice regrows
	h.history = h.history[cut:]
}

func (h *hub) watch(ctx context.Context, prefix string, from int64) (<-chan Event, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	if from < h.compact {
		return nil, ErrCompacted
	}
	w := &watcher{
		prefix: prefix,
		from:   from,
		notify: make(chan struct{}, 1),
		ch:     make(chan Event),
	}
	w.offer(h.history)
	h.watchers[w] = struct{}{}
	h.wg.Add(1)
	go h.run(ctx, w)
	return w.ch, nil
}

// run moves events from the watcher's unbounded queue to its channel, so a slow reader
// only grows its own queue and never blocks writers.
func (h *hub) run(ctx context.Context, w *watcher) {
	defer h.wg.Done()
	defer close(w.ch)
	defer func() {
		h.mu.Lock()
		delete(h.watchers, w)
		h.mu.Unlock()
	}()
	for {
		ev, ok := w.pop()
		if !ok {
			select {
			case <-w.notify:
				continue
			case <-ctx.Done():
				return
			case <-h.done:
				return
			}
		}
		select {
		case w.ch <- ev:
		case <-ctx.Done():
			return
		case <-h.done:
			return
		}
	}
}

func (h *hub) close() {
	h.mu.Lock()
	h.closed = true
	h.pending = nil
	close(h.done)
	h.mu.Unlock()
	h.wg.Wait()
}

type watcher struct {
	prefix string
	from   int64
	notify chan struct{}
	ch     chan Event

	mu    sync.Mutex
	queue []Event
}

// offer queues the events this watcher wants; it never blocks.
func (w *watcher) offer(evs []Event) {
	added := false
	w.mu.Lock()
	for _, ev := range evs {
		if ev.KV.ModRevision > w.from && strings.HasPrefix(ev.KV.Key, w.prefix) {
			w.queue = append(w.queue, ev)
			added = true
		}
	}
	w.mu.Unlock()
	if added {
		select {
		case w.notify <- struct{}{}:
		default:
		}
	}
}

func (w *watcher) pop() (Event, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.queue) == 0 {
		return Event{}, false
	}
	ev := w.queue[0]
	w.queue[0] = Event{}
	w.queue = w.queue[1:]
	if len(w.queue) == 0 {
		w.queue = nil // drop the drained backing array
	}
	return ev, true
}
