package rpc

import (
	"fmt"
	"testing"
	"time"
)

func TestThrottleTokenBucket(t *testing.T) {
	th := newThrottle()
	t0 := time.Unix(1000, 0)
	r := Rate{PerSecond: 2, Burst: 3}
	allowed := func(key string, at time.Duration, n int) int {
		ok := 0
		for range n {
			if th.allow(key, r, t0.Add(at)) {
				ok++
			}
		}
		return ok
	}
	if got := allowed("A", 0, 10); got != 3 {
		t.Fatalf("a burst allowed %d of 10, want the burst of 3", got)
	}
	if got := allowed("B", 0, 10); got != 3 {
		t.Fatalf("another key shares A's bucket: %d allowed", got)
	}
	if got := allowed("A", 500*time.Millisecond, 10); got != 1 {
		t.Fatalf("half a second at 2/s refilled %d, want 1", got)
	}
	if got := allowed("A", time.Hour, 10); got != 3 {
		t.Fatalf("a long pause refilled %d, want the burst of 3", got)
	}
	if got := allowed("A", time.Hour, 1); got != 0 {
		t.Fatal("an empty bucket allowed a request")
	}
	if !th.allow("A", Rate{}, t0.Add(time.Hour)) {
		t.Fatal("a zero rate (unthrottled) was refused")
	}
}

// TestThrottleForgetsFullBuckets: buckets of keys that went quiet are dropped once the map
// grows, while a key that is still short of tokens keeps its state.
func TestThrottleForgetsFullBuckets(t *testing.T) {
	th := newThrottle()
	t0 := time.Unix(1000, 0)
	r := Rate{PerSecond: 1, Burst: 2}
	th.allow("busy", r, t0)
	th.allow("busy", r, t0)
	for i := range 1023 { // with "busy", the map is at the size that prunes
		th.allow(fmt.Sprint("k", i), r, t0)
	}
	th.allow("new", r, t0.Add(1500*time.Millisecond)) // prunes: the others have refilled
	if _, ok := th.buckets["k1"]; ok || len(th.buckets) > 3 {
		t.Fatalf("%d buckets after pruning", len(th.buckets))
	}
	if b, ok := th.buckets["busy"]; !ok || b.tokens >= 2 {
		t.Fatal("a key still short of tokens lost its bucket")
	}
}
