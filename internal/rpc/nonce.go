package rpc

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// NonceCache remembers (AccessKeyId, nonce) pairs so a signed request cannot be replayed.
// A nonce is remembered exactly as long as a request carrying its timestamp could still
// pass the clock check (the timestamp plus the skew window), and no longer: a replay after
// that is refused by the clock. Entries are 16-byte hashes with an expiry, in pointer-free
// maps the garbage collector need not scan (about 60-100 bytes per nonce), sharded so
// concurrent callers rarely contend on one lock, and capped: when the cap's worth of
// nonces is live, new requests are refused until some expire, instead of memory growing
// with the request rate. With Persist, nonces are journaled and fsynced before Use returns,
// so they survive a crash of the process or the machine.
type NonceCache struct {
	window   time.Duration
	perShard int // 0: unbounded
	shards   [nonceShards]nonceShard
	journal  *nonceJournal
}

// Errors of NonceCache.Use.
var (
	ErrNonceUsed      = errors.New("nonce already used")
	ErrNonceCacheFull = errors.New("nonce cache full")
)

const nonceShards = 64

type nonceKey [16]byte

type nonceShard struct {
	mu      sync.Mutex
	expires map[nonceKey]int64 // unix nanoseconds
	// order holds keys in insertion order so expired ones are found without scanning the map.
	order []nonceEntry
	head  int
}

type nonceEntry struct {
	key     nonceKey
	expires int64
}

// NewNonceCache makes a cache for requests whose timestamps may be up to window away from
// the server clock, holding at most max live nonces (0: no bound).
func NewNonceCache(window time.Duration, max int) *NonceCache {
	c := &NonceCache{window: window}
	if max > 0 {
		c.perShard = (max + nonceShards - 1) / nonceShards
	}
	for i := range c.shards {
		c.shards[i].expires = map[nonceKey]int64{}
	}
	return c
}

// keyOf hashes the pair; the id is length-prefixed so no (id, nonce) pair can spell
// another pair's key. A stable hash keeps journaled keys valid across restarts.
func keyOf(accessKeyID, nonce string) nonceKey {
	sum := sha256.Sum256([]byte(strconv.Itoa(len(accessKeyID)) + ":" + accessKeyID + nonce))
	return nonceKey(sum[:16])
}

// Use spends the nonce of a request signed at signed (its Timestamp or x-acs-date, already
// checked to be within the window of now). It returns ErrNonceUsed for a replay and
// ErrNonceCacheFull when the cap's worth of nonces is live.
func (c *NonceCache) Use(accessKeyID, nonce string, signed, now time.Time) error {
	key := keyOf(accessKeyID, nonce)
	// One second more than the window: timestamps have whole seconds, and a request exactly
	// at the window's edge is still accepted by the clock check.
	exp := signed.Add(c.window + time.Second).UnixNano()
	if err := c.remember(key, exp, now.UnixNano(), c.perShard); err != nil {
		return err
	}
	if c.journal != nil {
		c.journal.append(nonceEntry{key, exp})
	}
	return nil
}

// remember adds the key unless a live entry has it, or the shard already holds limit live
// entries (limit 0: no bound).
func (c *NonceCache) remember(key nonceKey, exp, now int64, limit int) error {
	s := &c.shards[binary.LittleEndian.Uint64(key[:8])%nonceShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(now)
	if old, ok := s.expires[key]; ok && now < old {
		return ErrNonceUsed
	}
	if limit > 0 && len(s.expires) >= limit {
		return ErrNonceCacheFull
	}
	s.expires[key] = exp
	s.order = append(s.order, nonceEntry{key, exp})
	return nil
}

// expire drops entries from the front of the insertion queue while they are expired.
// Timestamps of concurrent requests differ, so expiries are not quite in insertion order;
// an entry stuck behind a later one just lives a little longer.
func (s *nonceShard) expire(now int64) {
	for s.head < len(s.order) {
		e := s.order[s.head]
		if now < e.expires {
			break
		}
		// Only delete if the map still holds this entry (a re-use may have extended it).
		if exp, ok := s.expires[e.key]; ok && exp == e.expires {
			delete(s.expires, e.key)
		}
		s.head++
	}
	// Compact once the consumed prefix dominates, so the slice does not grow forever.
	if s.head > 1024 && s.head*2 >= len(s.order) {
		n := copy(s.order, s.order[s.head:])
		s.order = s.order[:n]
		s.head = 0
	}
}

// live returns every unexpired entry (for journal compaction).
func (c *NonceCache) live(now int64) []nonceEntry {
	var out []nonceEntry
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for k, exp := range s.expires {
			if now < exp {
				out = append(out, nonceEntry{k, exp})
			}
		}
		s.mu.Unlock()
	}
	return out
}

// Persist journals used nonces to path and loads the unexpired ones a previous process
// left there, so a request recorded before a restart cannot be replayed after it.
func (c *NonceCache) Persist(path string, now time.Time) error {
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("nonce journal: %w", err)
	}
	nowNs := now.UnixNano()
	for len(data) >= nonceRecord {
		var e nonceEntry
		copy(e.key[:], data[:16])
		e.expires = int64(binary.LittleEndian.Uint64(data[16:nonceRecord]))
		data = data[nonceRecord:]
		if nowNs < e.expires {
			_ = c.remember(e.key, e.expires, nowNs, 0) // what was accepted stays refused, cap or not
		}
	}
	j := &nonceJournal{path: path, cache: c, batch: make(chan struct{}), wake: make(chan struct{}, 1), stopped: make(chan struct{})}
	if err := j.rewrite(nowNs); err != nil {
		return err
	}
	c.journal = j
	go j.run()
	return nil
}

// Close stops the journal's writer, once what is queued is on disk, and closes the file.
func (c *NonceCache) Close() error {
	if c.journal == nil {
		return nil
	}
	return c.journal.close()
}

const nonceRecord = 24 // 16-byte key, 8-byte expiry

// nonceJournal makes records durable with group commit: callers queue their record and wait
// for the batch it joined; one writer goroutine writes and fsyncs each batch, and while it
// does, the next batch gathers everything queued meanwhile. Waiters of a batch are woken
// together (a closed channel), not one after another.
type nonceJournal struct {
	mu      sync.Mutex // guards pending, batch, closed
	pending []byte
	batch   chan struct{} // closed when the records in pending are on disk
	closed  bool
	wake    chan struct{} // a batch is pending (capacity 1)
	stopped chan struct{} // closed when the writer has exited

	// Owned by the writer goroutine (and by Persist before it starts).
	path    string
	f       *os.File
	written int // records appended since the last rewrite
	base    int // records the last rewrite kept
	cache   *NonceCache
	failed  bool
}

// append returns once e is on disk. A failed write or fsync is logged once and serving
// goes on: a lost journal only weakens replay protection across a restart.
func (j *nonceJournal) append(e nonceEntry) {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return
	}
	j.pending = append(j.pending, e.key[:]...)
	j.pending = binary.LittleEndian.AppendUint64(j.pending, uint64(e.expires))
	done := j.batch
	j.mu.Unlock()
	select {
	case j.wake <- struct{}{}:
	default: // the writer has been told already
	}
	<-done
}

// run is the writer: it takes the pending batch, writes and fsyncs it, and wakes its waiters.
func (j *nonceJournal) run() {
	defer close(j.stopped)
	var spare []byte
	for range j.wake {
		j.mu.Lock()
		buf, done, closed := j.pending, j.batch, j.closed
		j.pending, j.batch = spare[:0], make(chan struct{})
		j.mu.Unlock()
		if len(buf) > 0 {
			j.write(buf)
		}
		close(done)
		spare = buf
		if closed {
			return
		}
	}
}

func (j *nonceJournal) write(buf []byte) {
	_, err := j.f.Write(buf)
	if err == nil {
		err = j.f.Sync()
	}
	if err != nil && !j.failed {
		j.failed = true
		slog.Error("nonce journal write failed; replay protection will not survive a restart", "path", j.path, "err", err)
	}
	j.written += len(buf) / nonceRecord
	if j.written > 1<<16 && j.written > 2*j.base {
		_ = j.rewrite(time.Now().UnixNano())
	}
}

func (j *nonceJournal) close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	j.mu.Unlock()
	j.wake <- struct{}{} // blocks only until the writer takes its previous wake-up
	<-j.stopped
	return j.f.Close()
}

// rewrite replaces the journal with the live entries, durably: the new file is fsynced
// before it replaces the old one, and the directory after (the writer goroutine, or Persist
// before it starts). Records queued meanwhile are in the cache already, so they are in the
// new file too; appending them again later only duplicates them.
func (j *nonceJournal) rewrite(now int64) error {
	live := j.cache.live(now)
	buf := make([]byte, 0, len(live)*nonceRecord)
	for _, e := range live {
		buf = append(buf, e.key[:]...)
		buf = binary.LittleEndian.AppendUint64(buf, uint64(e.expires))
	}
	tmp := j.path + ".tmp"
	if err := writeSynced(tmp, buf); err != nil {
		return fmt.Errorf("nonce journal: %w", err)
	}
	if err := os.Rename(tmp, j.path); err != nil {
		return fmt.Errorf("nonce journal: %w", err)
	}
	if err := syncDir(filepath.Dir(j.path)); err != nil {
		return fmt.Errorf("nonce journal: %w", err)
	}
	f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("nonce journal: %w", err)
	}
	if j.f != nil {
		j.f.Close()
	}
	j.f, j.written, j.base = f, 0, len(live)
	return nil
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// size reports the number of remembered nonces (for tests).
func (c *NonceCache) size() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.expires)
		s.mu.Unlock()
	}
	return n
}
