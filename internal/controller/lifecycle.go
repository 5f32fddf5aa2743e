// Package controller runs the reconcilers that move resources through their lifecycles.
package controller

import (
	"container/heap"
	"context"
	"errors"
	"log/slog"
	"time"

	"opencen/internal/store"
)

// Advancer completes due transitions; Pending lists what is transitional now; Due says
// from a key's new value when its transition falls due (pending=false: none); GC (hourly)
// forgets expired records.
type Advancer interface {
	Advance(ctx context.Context, key string) (next time.Time, err error)
	Due(key string, value []byte) (at time.Time, pending bool)
	Pending(ctx context.Context) (keys []string, revision int64, err error)
	GC(ctx context.Context) (int, error)
}

// Lifecycle is level-triggered: it watches resource keys, schedules each transitional
// one for its due time, and resyncs from a full listing periodically and after a
// restart, so nothing pending is lost across crashes.
type Lifecycle struct {
	Store    store.Store
	Advancer Advancer
	Prefix   string
	Resync   time.Duration
	Log      *slog.Logger
}

// Run works until ctx ends.
func (l *Lifecycle) Run(ctx context.Context) error {
	if l.Resync == 0 {
		l.Resync = 10 * time.Second
	}
	q := &queue{}
	resync := time.NewTicker(l.Resync)
	defer resync.Stop()
	gc := time.NewTicker(time.Hour)
	defer gc.Stop()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()

	for ctx.Err() == nil {
		keys, rev, err := l.Advancer.Pending(ctx)
		if err != nil {
			l.Log.Error("lifecycle: list pending", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		for _, k := range keys {
			q.schedule(k, time.Time{})
		}
		// Each watch ends with its round: a resync must not leave the old one open behind it.
		wctx, cancel := context.WithCancel(ctx)
		events, err := l.Store.Watch(wctx, l.Prefix, rev)
		if err != nil {
			cancel()
			l.Log.Error("lifecycle: watch", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		err = l.loop(ctx, q, events, resync.C, gc.C, timer)
		cancel()
		if err != nil && ctx.Err() == nil && !errors.Is(err, errResync) {
			l.Log.Warn("lifecycle: restarting watch", "err", err)
		}
	}
	return ctx.Err()
}

var errResync = errors.New("resync")

func (l *Lifecycle) loop(ctx context.Context, q *queue, events <-chan store.Event, resync, gc <-chan time.Time, timer *time.Timer) error {
	for {
		l.runDue(ctx, q)
		if d, ok := q.nextIn(time.Now()); ok {
			timer.Reset(d)
		} else {
			timer.Reset(time.Hour)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-events:
			if !ok {
				return errors.New("watch closed")
			}
			// Scheduled at its due time from the event's value: no store read until then.
			if at, ok := l.Advancer.Due(ev.KV.Key, ev.KV.Value); ok && ev.Type == store.EventPut {
				q.schedule(ev.KV.Key, at)
			}
		case <-timer.C:
		case <-resync:
			return errResync
		case <-gc:
			if n, err := l.Advancer.GC(ctx); err != nil {
				l.Log.Warn("lifecycle: gc", "err", err)
			} else if n > 0 {
				l.Log.Info("lifecycle: forgot expired client tokens and console sign-outs", "count", n)
			}
		}
	}
}

// BatchAdvancer is an Advancer that can complete many due transitions at once (one store
// transaction for many, where it can): a burst of creates then costs the store about one
// write per resource instead of two.
type BatchAdvancer interface {
	AdvanceMany(ctx context.Context, keys []string) (next map[string]time.Time, failed map[string]error)
}

// runDue advances every key whose time has come; keys not yet due are rescheduled.
func (l *Lifecycle) runDue(ctx context.Context, q *queue) {
	now := time.Now()
	var due []string
	for q.Len() > 0 && !(*q)[0].at.After(now) {
		due = append(due, heap.Pop(q).(item).key)
	}
	if len(due) == 0 {
		return
	}
	if b, ok := l.Advancer.(BatchAdvancer); ok {
		next, failed := b.AdvanceMany(ctx, due)
		for key, err := range failed {
			l.Log.Warn("lifecycle: advance", "key", key, "err", err)
			q.schedule(key, now.Add(time.Second))
		}
		for key, at := range next {
			q.schedule(key, at)
		}
		return
	}
	for _, key := range due {
		next, err := l.Advancer.Advance(ctx, key)
		switch {
		case err != nil:
			l.Log.Warn("lifecycle: advance", "key", key, "err", err)
			q.schedule(key, now.Add(time.Second))
		case !next.IsZero():
			q.schedule(key, next)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

type item struct {
	key string
	at  time.Time
}

// queue is a min-heap of keys by due time, one entry per key (schedule keeps the
// earlier time). Linear key search is fine at the sizes one server handles.
type queue []item

func (q queue) Len() int           { return len(q) }
func (q queue) Less(i, j int) bool { return q[i].at.Before(q[j].at) }
func (q queue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)        { *q = append(*q, x.(item)) }
func (q *queue) Pop() any          { old := *q; it := old[len(old)-1]; *q = old[:len(old)-1]; return it }

func (q *queue) schedule(key string, at time.Time) {
	for i, it := range *q {
		if it.key == key {
			if at.Before(it.at) {
				(*q)[i].at = at
				heap.Fix(q, i)
			}
			return
		}
	}
	heap.Push(q, item{key, at})
}

func (q *queue) nextIn(now time.Time) (time.Duration, bool) {
	if q.Len() == 0 {
		return 0, false
	}
	return max((*q)[0].at.Sub(now), 0), true
}
