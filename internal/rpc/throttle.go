package rpc

import (
	"sync"
	"time"
)

// Rate throttles one access key: a token bucket holding up to Burst requests, refilled
// at PerSecond. PerSecond 0 means the key is not throttled.
type Rate struct {
	PerSecond, Burst int
}

// throttle keeps one token bucket per access key. Only keys whose signature verified get a
// bucket, so the map is bounded by the keys that exist; buckets that have refilled
// completely carry no state and are dropped when the map has grown.
type throttle struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	prune   int // size at which full buckets are next dropped
}

type bucket struct {
	tokens float64
	last   time.Time
	rate   Rate // as of the last request
}

func newThrottle() *throttle { return &throttle{buckets: map[string]*bucket{}, prune: 1024} }

// allow takes a token from key's bucket, if it has one.
func (t *throttle) allow(key string, r Rate, now time.Time) bool {
	if r.PerSecond <= 0 {
		return true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	b, ok := t.buckets[key]
	if !ok {
		if len(t.buckets) >= t.prune {
			t.dropFull(now)
		}
		b = &bucket{tokens: float64(max(r.Burst, 1)), last: now}
		t.buckets[key] = b
	}
	b.refill(now, r)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (b *bucket) refill(now time.Time, r Rate) {
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(float64(max(r.Burst, 1)), b.tokens+d.Seconds()*float64(r.PerSecond))
		b.last = now
	}
	b.rate = r
}

// dropFull forgets buckets that have refilled completely: a new bucket starts full, which
// is the same.
func (t *throttle) dropFull(now time.Time) {
	for k, b := range t.buckets {
		if b.refill(now, b.rate); b.tokens >= float64(max(b.rate.Burst, 1)) {
			delete(t.buckets, k)
		}
	}
	t.prune = max(1024, 2*len(t.buckets))
}
