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
// maps the garbage collector need not scan (about 65 bytes per nonce), sharded so
// concurrent callers rarely contend on one lock, and capped: when the cap's worth of
// nonces is live, new requests are refused until some expire, instead of memory growing
// with the request rate. With Persist, nonces are journaled: written before Use or
// UseForRead returns (surviving a crash of the process) and fsynced before Use returns
// (surviving a crash of the machine), within nonceFlushInterval for UseForRead.
type NonceCache struct {
	window   time.Duration
	perShard int // 0: unbounded
	shards   [nonceShards]nonceShard
	journal  *nonceJournal
}

// Errors of NonceCache.Use and UseForRead.
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
// ErrNonceCacheFull when the cap's worth of nonces is live. With Persist, the nonce is on
// disk when Use returns.
func (c *NonceCache) Use(accessKeyID, nonce string, signed, now time.Time) error {
	return c.use(accessKeyID, nonce, signed, now, true)
}

// UseForRead is Use for a request that changes nothing: its nonce is written to the journal
// before UseForRead returns, so no restart or kill of the process forgets it, but fsynced
// within nonceFlushInterval rather than waited for. Only a machine crash in that interval
// can lose it, and replaying the read then changes nothing.
func (c *NonceCache) UseForRead(accessKeyID, nonce string, signed, now time.Time) error {
	return c.use(accessKeyID, nonce, signed, now, false)
}

// expiry is when a nonce of a request signed at signed may be forgotten: one second after
// the window, because timestamps have whole seconds and a request exactly at the window's
// edge is still accepted by the clock check.
func (c *NonceCache) expiry(signed time.Time) time.Time { return signed.Add(c.window + time.Second) }

func (c *NonceCache) use(accessKeyID, nonce string, signed, now time.Time, durable bool) error {
	key := keyOf(accessKeyID, nonce)
	exp := c.expiry(signed).UnixNano()
	if err := c.remember(key, exp, now.UnixNano(), c.perShard); err != nil {
		return err
	}
	if c.journal != nil {
		c.journal.append(nonceEntry{key, exp}, durable)
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

// forget drops a nonce that was remembered but not spent after all (the shared store
// could not be asked): a retry of its request is not refused here.
func (c *NonceCache) forget(accessKeyID, nonce string) {
	key := keyOf(accessKeyID, nonce)
	s := &c.shards[binary.LittleEndian.Uint64(key[:8])%nonceShards]
	s.mu.Lock()
	delete(s.expires, key)
	s.mu.Unlock()
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

// nonceFlushInterval bounds how long a written record nobody waits for stays unsynced.
const nonceFlushInterval = 100 * time.Millisecond

// nonceJournal writes each record as it comes (so no kill of the process loses it) and
// fsyncs with group commit: a caller that needs its record durable waits for the next
// fsync, which one writer goroutine starts at once for everything written so far and
// wakes that batch's waiters together (a closed channel); records nobody waits for are
// fsynced at least every nonceFlushInterval.
type nonceJournal struct {
	mu      sync.Mutex // guards everything below except wake and stopped
	f       *os.File
	batch   chan struct{} // closed when every record written before it was replaced is on disk
	dirty   bool          // written since the last fsync began
	closed  bool
	failed  bool
	written int // records appended since the last rewrite
	base    int // records the last rewrite kept
	path    string
	cache   *NonceCache

	wake    chan struct{} // someone waits for the current batch (capacity 1)
	stopped chan struct{} // closed when the writer has exited
}

// append writes e and, if durable, returns once it is on disk. A failed write or fsync is
// logged once and serving goes on: a lost journal only weakens replay protection across
// a restart.
func (j *nonceJournal) append(e nonceEntry, durable bool) {
	var rec [nonceRecord]byte
	copy(rec[:16], e.key[:])
	binary.LittleEndian.PutUint64(rec[16:], uint64(e.expires))
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return
	}
	if _, err := j.f.Write(rec[:]); err != nil {
		j.fail(err)
	}
	j.dirty = true
	j.written++
	done := j.batch
	j.mu.Unlock()
	if !durable {
		return
	}
	select {
	case j.wake <- struct{}{}:
	default: // the writer has been told already
	}
	<-done
}

// fail logs the first failure (caller holds mu).
func (j *nonceJournal) fail(err error) {
	if !j.failed {
		j.failed = true
		slog.Error("nonce journal write failed; replay protection will not survive a restart", "path", j.path, "err", err)
	}
}

// run is the writer: when woken or every nonceFlushInterval it fsyncs what was written
// and wakes the waiters, and it compacts the journal when it has grown.
func (j *nonceJournal) run() {
	defer close(j.stopped)
	tick := time.NewTicker(nonceFlushInterval)
	defer tick.Stop()
	for {
		select {
		case <-j.wake:
		case <-tick.C:
		}
		j.mu.Lock()
		f, dirty, done, closed := j.f, j.dirty, j.batch, j.closed
		if dirty {
			j.dirty, j.batch = false, make(chan struct{})
		}
		compact := j.written > 1<<16 && j.written > 2*j.base
		j.mu.Unlock()
		if dirty {
			// Only this goroutine replaces f, so it stays open while synced unlocked.
			if err := f.Sync(); err != nil {
				j.mu.Lock()
				j.fail(err)
				j.mu.Unlock()
			}
			close(done)
		}
		if compact && !closed {
			j.mu.Lock()
			if err := j.rewrite(time.Now().UnixNano()); err != nil {
				j.fail(err)
				j.base = j.written // try again when it has doubled, not every tick
			}
			j.mu.Unlock()
		}
		if closed {
			return
		}
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
// before it replaces the old one, and the directory after (the writer goroutine holding mu,
// or Persist before it starts). Every record written so far is in the cache, so in the new
// file too.
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
