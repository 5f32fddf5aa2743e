package rpc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestNonceCache(t *testing.T) {
	c := NewNonceCache(time.Minute, 0)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	steps := []struct {
		ak, nonce   string
		signed, now time.Duration // offsets from t0
		want        error
	}{
		{"AK1", "n1", 0, 0, nil},
		{"AK1", "n1", 0, time.Second, ErrNonceUsed},                               // replay
		{"AK2", "n1", 0, time.Second, nil},                                        // other key, same nonce
		{"AK1", "n2", 0, 2 * time.Second, nil},                                    //
		{"AK1", "n1", 0, time.Minute, ErrNonceUsed},                               // at the window's edge the clock still accepts it
		{"AK1", "n1", 2 * time.Second, time.Minute + time.Second, nil},            // past it the clock refuses the old request: forgotten
		{"AK1", "n1", 2 * time.Second, time.Minute + 2*time.Second, ErrNonceUsed}, // the new use is remembered for its own timestamp
		{"AK1", "f", time.Minute, 0, nil},                                         // signed a minute ahead of the server clock
		{"AK1", "f", time.Minute, 2 * time.Minute, ErrNonceUsed},                  // remembered until its own timestamp + window
		{"AK1", "", 0, 0, nil},
		{"AK1\x00", "x", 0, 0, nil}, // the key encoding cannot make two pairs collide
		{"AK1", "\x00\x00x", 0, 0, nil},
		{"AK1", "\x00x", 0, 0, nil},
	}
	for i, s := range steps {
		if got := c.Use(s.ak, s.nonce, t0.Add(s.signed), t0.Add(s.now)); got != s.want {
			t.Errorf("step %d Use(%q,%q,+%v,+%v) = %v, want %v", i, s.ak, s.nonce, s.signed, s.now, got, s.want)
		}
	}
}

func TestNonceCacheExpiryBoundsMemory(t *testing.T) {
	c := NewNonceCache(10*time.Second, 0)
	t0 := time.Unix(0, 0)
	// 100k unique nonces over 100 s: at most ~11 s worth may be remembered at any time.
	for i := 0; i < 100_000; i++ {
		now := t0.Add(time.Duration(i) * time.Millisecond)
		if err := c.Use("AK", fmt.Sprint(i), now, now); err != nil {
			t.Fatalf("fresh nonce %d: %v", i, err)
		}
	}
	// Each shard expires lazily on its own traffic, so allow some slack above 11 000.
	if n := c.size(); n > 13_000 {
		t.Fatalf("cache holds %d entries, want about 11000", n)
	}
	for i := range c.shards {
		if s := &c.shards[i]; len(s.order)-s.head > 2*len(s.expires)+2048 {
			t.Fatalf("shard %d queue %d vs map %d", i, len(s.order)-s.head, len(s.expires))
		}
	}
}

// TestNonceCacheCap: beyond the cap new nonces are refused, not remembered, until enough
// of the old ones expire; a replay is still told apart from a full cache.
func TestNonceCacheCap(t *testing.T) {
	const max = 64 * 100
	c := NewNonceCache(time.Minute, max)
	t0 := time.Unix(1000, 0)
	accepted, full := 0, 0
	for i := range 3 * max {
		switch err := c.Use("AK", fmt.Sprint(i), t0, t0); {
		case err == nil:
			accepted++
		case errors.Is(err, ErrNonceCacheFull):
			full++
		default:
			t.Fatalf("nonce %d: %v", i, err)
		}
	}
	if accepted > max || accepted < max*9/10 || c.size() != accepted {
		t.Fatalf("accepted %d of %d with a cap of %d (holding %d)", accepted, 3*max, max, c.size())
	}
	if full == 0 {
		t.Fatal("nothing was refused beyond the cap")
	}
	if err := c.Use("AK", "0", t0, t0); !errors.Is(err, ErrNonceUsed) {
		t.Fatalf("replay with a full cache: %v", err)
	}
	// After the window every shard frees its entries as it is used again.
	later := t0.Add(time.Minute + 2*time.Second)
	for i := range max / 2 {
		if err := c.Use("AK", fmt.Sprint("later-", i), later, later); err != nil {
			t.Fatalf("after the window, nonce %d: %v", i, err)
		}
	}
}

func TestNonceCacheConcurrent(t *testing.T) {
	c := NewNonceCache(time.Hour, 0)
	now := time.Now()
	const workers, perWorker, distinct = 64, 2000, 5000
	var accepted atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				// Workers overlap on the same nonces: each must be accepted exactly once overall.
				if c.Use("AK", fmt.Sprint((w*perWorker+i)%distinct), now, now) == nil {
					accepted.Add(1)
				}
			}
		}(w)
	}
	wg.Wait()
	if got := accepted.Load(); got != distinct {
		t.Fatalf("accepted %d, want %d", got, distinct)
	}
}

func BenchmarkNonceCacheParallel(b *testing.B) {
	useParallel(b, NewNonceCache(time.Minute, 0))
}

// useParallel spends fresh nonces from about 64 concurrent callers.
func useParallel(b *testing.B, c *NonceCache) {
	var seq atomic.Int64
	b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
	b.RunParallel(func(pb *testing.PB) {
		now := time.Now()
		for pb.Next() {
			_ = c.Use("AK", fmt.Sprint(seq.Add(1)), now, now)
		}
	})
}

// BenchmarkNonceJournalParallel: 64 concurrent callers, each Use waiting for its record's
// fsync; group commit shares one fsync among the callers queued behind it.
func BenchmarkNonceJournalParallel(b *testing.B) {
	c, _, _ := journaled(b)
	useParallel(b, c)
}

// journaled is a one-minute cache journaling to a new file, closed when the test ends.
func journaled(tb testing.TB) (c *NonceCache, path string, now time.Time) {
	path, now = tb.TempDir()+"/nonces", time.Now()
	c = NewNonceCache(time.Minute, 0)
	if err := c.Persist(path, now); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c, path, now
}

func TestNonceJournalSurvivesRestart(t *testing.T) {
	c, path, now := journaled(t)
	for i := range 100 {
		if err := c.Use("AK", fmt.Sprint("n", i), now, now); err != nil {
			t.Fatalf("fresh nonce %d: %v", i, err)
		}
	}
	c.Use("AK", "short", now.Add(-59*time.Second), now) // expires two seconds after now
	// As if the process died: the next one reads the journal as it is.
	again := NewNonceCache(time.Minute, 0)
	if err := again.Persist(path, now.Add(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if err := again.Use("AK", "n42", now, now.Add(3*time.Second)); !errors.Is(err, ErrNonceUsed) {
		t.Fatalf("a nonce used before the restart, after it: %v", err)
	}
	if err := again.Use("AK", "short", now.Add(3*time.Second), now.Add(3*time.Second)); err != nil {
		t.Fatalf("an expired nonce was still remembered: %v", err)
	}
	if err := again.Use("OTHER", "n42", now, now.Add(3*time.Second)); err != nil {
		t.Fatalf("another key's nonce collided: %v", err)
	}
	// The restart compacted the journal to live entries plus what was appended since.
	fi, err := os.Stat(path)
	if err != nil || fi.Size() != int64((100+2)*nonceRecord) {
		t.Fatalf("journal size %v, %v; want %d records", fi.Size(), err, 102)
	}
	// Much later everything has expired.
	late := NewNonceCache(time.Minute, 0)
	if err := late.Persist(path, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	if late.size() != 0 || late.Use("AK", "n42", now.Add(time.Hour), now.Add(time.Hour)) != nil {
		t.Fatal("expired journal entries were loaded")
	}
}

// TestNonceJournalWrittenBeforeUseReturns: with many concurrent callers sharing writes,
// each caller's record is in the journal file by the time its Use returns, exactly once
// per accepted nonce.
func TestNonceJournalWrittenBeforeUseReturns(t *testing.T) {
	c, path, now := journaled(t)
	const workers, each = 32, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				nonce := fmt.Sprint(w, "-", i)
				if err := c.Use("AK", nonce, now, now); err != nil {
					errs <- err
					continue
				}
				data, err := os.ReadFile(path)
				key := keyOf("AK", nonce)
				if err != nil || !bytes.Contains(data, key[:]) {
					errs <- fmt.Errorf("nonce %s not in the journal when Use returned (%v)", nonce, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != workers*each*nonceRecord {
		t.Fatalf("journal holds %v bytes (%v), want %d records", fi.Size(), err, workers*each)
	}
}

// TestNonceJournalReadsWrittenAtOnce: a read's nonce does not wait for an fsync, but it is in
// the journal file (so a killed process cannot forget it) by the time UseForRead returns,
// and a restart refuses it.
func TestNonceJournalReadsWrittenAtOnce(t *testing.T) {
	c, path, now := journaled(t)
	for i := range 50 {
		nonce := fmt.Sprint("read-", i)
		if err := c.UseForRead("AK", nonce, now, now); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		key := keyOf("AK", nonce)
		if err != nil || !bytes.Contains(data, key[:]) {
			t.Fatalf("nonce %s not in the journal when UseForRead returned (%v)", nonce, err)
		}
	}
	if err := c.UseForRead("AK", "read-7", now, now); !errors.Is(err, ErrNonceUsed) {
		t.Fatalf("a read's nonce used twice: %v", err)
	}
	again := NewNonceCache(time.Minute, 0)
	if err := again.Persist(path, now); err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if err := again.Use("AK", "read-7", now, now); !errors.Is(err, ErrNonceUsed) {
		t.Fatalf("a read's nonce after a restart: %v", err)
	}
}
