// Package reconcile applies a set of desired objects of one kind to the system object by
// object, after cilium's statedb reconciler: each object has its own status (pending,
// done, or error with a message, and since when), is retried with backoff on its own, is
// re-applied now and then to repair drift, and is deleted when it is no longer desired.
// One object that cannot be built or applied never holds up the others.
package reconcile

import (
	"context"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Kind is where an object stands.
type Kind string

const (
	// Pending: new or changed and not applied yet, or waiting for another object.
	Pending Kind = "pending"
	// Done: applied as desired.
	Done Kind = "done"
	// Error: the last attempt failed (or the object could not be built); retried with
	// backoff.
	Error Kind = "error"
)

// Status is an object's status.
type Status struct {
	Kind Kind
	// Since is when Kind or Message last changed.
	Since time.Time
	// Message says what is wrong (Error) or what the object waits for (Pending).
	Message string
}

// Ops applies one kind of object.
type Ops[O any] interface {
	// Update makes the system hold obj. It is called again after an error, and for
	// repairs, so it must be idempotent.
	Update(ctx context.Context, key string, obj O) error
	// Delete removes what Update made for obj (the version last given to Update).
	Delete(ctx context.Context, key string, obj O) error
}

// Options tune a Reconciler. Zero values take the defaults.
type Options struct {
	// MinBackoff is the first retry delay after an error (default 1 s); each further
	// failure doubles it up to MaxBackoff (default 1 min).
	MinBackoff, MaxBackoff time.Duration
	// Waiting reports errors that mean "waiting for another object": the object stays
	// Pending and is retried after WaitRetry (default 500 ms), without backoff.
	Waiting   func(error) bool
	WaitRetry time.Duration
	// Refresh re-applies Done objects about this often (±10 %, spread so that they do not
	// all come at once), repairing drift nobody reported; 0 = never.
	Refresh time.Duration
	// Workers is how many objects a Step applies at once (default 1: one after the
	// other). Only for objects that are independent of each other.
	Workers int
	// Equal compares desired objects (default reflect.DeepEqual).
	Equal func(a, b any) bool
	// Now is the clock (default time.Now).
	Now func() time.Time
}

type entry[O any] struct {
	desired    O
	hasDesired bool // false: to be deleted
	applied    O    // what Update was last given (also when it failed: it may have done part)
	touched    bool // Update was called: something may be on the system
	status     Status
	due        time.Time // next attempt; zero = not scheduled
	failures   int
	buildErr   string // set while the object cannot be built
}

// Reconciler holds the desired objects of one kind and their statuses.
type Reconciler[O any] struct {
	ops  Ops[O]
	opts Options

	mu      sync.Mutex
	entries map[string]*entry[O]
}

// New makes a Reconciler with no objects.
func New[O any](ops Ops[O], o Options) *Reconciler[O] {
	if o.MinBackoff <= 0 {
		o.MinBackoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = time.Minute
	}
	if o.WaitRetry <= 0 {
		o.WaitRetry = 500 * time.Millisecond
	}
	if o.Waiting == nil {
		o.Waiting = func(error) bool { return false }
	}
	if o.Equal == nil {
		o.Equal = reflect.DeepEqual
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Workers < 1 {
		o.Workers = 1
	}
	return &Reconciler[O]{ops: ops, opts: o, entries: map[string]*entry[O]{}}
}

func (r *Reconciler[O]) setStatus(e *entry[O], k Kind, msg string) {
	if e.status.Kind != k || e.status.Message != msg {
		e.status = Status{Kind: k, Since: r.opts.Now(), Message: msg}
	}
}

// Set declares the desired objects. Objects that are new, or differ from what was last
// given to Update, become Pending and due now. Keys in failed are objects that exist but
// could not be built: their status is Error with that message, and whatever was applied
// for them stays as it was (neither updated nor deleted) until they build again. Every
// other object applied before is due for deletion.
func (r *Reconciler[O]) Set(desired map[string]O, failed map[string]error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.opts.Now()
	for key, obj := range desired {
		e, ok := r.entries[key]
		if !ok {
			e = &entry[O]{}
			r.entries[key] = e
		}
		e.buildErr = ""
		changed := !e.hasDesired || !r.opts.Equal(e.desired, obj)
		e.desired, e.hasDesired = obj, true
		if changed || !e.touched || (e.status.Kind == Error && e.failures == 0) {
			r.setStatus(e, Pending, "")
			e.due, e.failures = now, 0
		}
	}
	for key, err := range failed {
		if _, ok := desired[key]; ok {
			continue
		}
		e, ok := r.entries[key]
		if !ok {
			e = &entry[O]{}
			r.entries[key] = e
		}
		// Keep the last good object (if any) as the desired one: nothing changes on the
		// system for it, and Prune callers keep it.
		e.hasDesired = e.touched
		if e.touched {
			e.desired = e.applied
		}
		e.buildErr = err.Error()
		r.setStatus(e, Error, e.buildErr)
		e.due = time.Time{}
	}
	for key, e := range r.entries {
		if _, ok := desired[key]; ok {
			continue
		}
		if _, ok := failed[key]; ok {
			continue
		}
		if !e.touched {
			delete(r.entries, key)
			continue
		}
		if e.hasDesired {
			e.hasDesired = false
			e.due, e.failures = now, 0
			r.setStatus(e, Pending, "being removed")
		}
	}
}

// Refresh makes the given objects (none: every Done object) due now: the system may have
// drifted (a charon died, a route was deleted by hand).
func (r *Reconciler[O]) Refresh(keys ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.opts.Now()
	for key, e := range r.entries {
		if len(keys) > 0 && !slices.Contains(keys, key) {
			continue
		}
		if e.buildErr == "" && (e.status.Kind == Done || len(keys) > 0) {
			e.due = now
		}
	}
}

// RetryWaiting makes the objects that wait for another object due now: call it when
// other objects have just been applied.
func (r *Reconciler[O]) RetryWaiting() {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.opts.Now()
	for _, e := range r.entries {
		if e.status.Kind == Pending && e.status.Message != "" && e.hasDesired && !e.due.IsZero() {
			e.due = now
		}
	}
}

// work is one object due for an attempt.
type work[O any] struct {
	key    string
	obj    O
	delete bool
}

// Step makes one attempt at every object that is due, deletions first, then updates in
// key order (Workers at a time), and returns how long until the next object is due (-1
// when none is scheduled) and how many attempts succeeded. ctx bounds the whole step.
func (r *Reconciler[O]) Step(ctx context.Context) (next time.Duration, succeeded int) {
	r.mu.Lock()
	now := r.opts.Now()
	var dels, ups []work[O]
	for key, e := range r.entries {
		if e.due.IsZero() || e.due.After(now) {
			continue
		}
		if e.hasDesired {
			ups = append(ups, work[O]{key: key, obj: e.desired})
		} else {
			dels = append(dels, work[O]{key: key, obj: e.applied, delete: true})
		}
	}
	r.mu.Unlock()
	byKey := func(a, b work[O]) int {
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return 0
	}
	slices.SortFunc(dels, byKey)
	slices.SortFunc(ups, byKey)
	var ok atomic.Int64
	for _, batch := range [][]work[O]{dels, ups} {
		sem := make(chan struct{}, r.opts.Workers)
		var wg sync.WaitGroup
		for _, w := range batch {
			if ctx.Err() != nil {
				break
			}
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				var err error
				if w.delete {
					err = r.ops.Delete(ctx, w.key, w.obj)
				} else {
					err = r.ops.Update(ctx, w.key, w.obj)
				}
				if err == nil {
					ok.Add(1)
				}
				r.done(w, err)
			}()
		}
		wg.Wait()
	}
	return r.Next(), int(ok.Load())
}

// done records the outcome of one attempt, unless the object changed meanwhile (then the
// newer version is due already).
func (r *Reconciler[O]) done(w work[O], err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.entries[w.key]
	if !ok {
		return
	}
	now := r.opts.Now()
	if !w.delete {
		e.applied, e.touched = w.obj, true
	}
	if w.delete != !e.hasDesired || (!w.delete && !r.opts.Equal(e.desired, w.obj)) {
		return // Set changed it while the attempt ran: the new version is due
	}
	switch {
	case err == nil && w.delete:
		delete(r.entries, w.key)
	case err == nil:
		e.failures = 0
		r.setStatus(e, Done, "")
		e.due = time.Time{}
		if r.opts.Refresh > 0 {
			jitter := time.Duration((rand.Float64()*0.2 - 0.1) * float64(r.opts.Refresh))
			e.due = now.Add(r.opts.Refresh + jitter)
		}
	case r.opts.Waiting(err):
		r.setStatus(e, Pending, err.Error())
		e.due = now.Add(r.opts.WaitRetry)
	default:
		backoff := r.opts.MinBackoff << min(e.failures, 20)
		e.failures++
		r.setStatus(e, Error, err.Error())
		e.due = now.Add(min(backoff, r.opts.MaxBackoff))
	}
}

// Next is how long until the next object is due: 0 when one is due now, -1 when none is
// scheduled.
func (r *Reconciler[O]) Next() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.opts.Now()
	next := time.Duration(-1)
	for _, e := range r.entries {
		if e.due.IsZero() {
			continue
		}
		d := max(e.due.Sub(now), 0)
		if next < 0 || d < next {
			next = d
		}
	}
	return next
}

// Status reports every object's status, removed ones while their deletion is pending.
func (r *Reconciler[O]) Status() map[string]Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]Status, len(r.entries))
	for key, e := range r.entries {
		out[key] = e.status
	}
	return out
}

// Applied reports the objects last given to Update, by key, for those still desired or
// kept (failed to build).
func (r *Reconciler[O]) Applied() map[string]O {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]O{}
	for key, e := range r.entries {
		if e.touched && e.hasDesired {
			out[key] = e.applied
		}
	}
	return out
}

// Keep lists the keys whose objects should stay on the system: desired ones, and those
// that failed to build but were applied before (for a prune of what nobody knows).
func (r *Reconciler[O]) Keep() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for key, e := range r.entries {
		if e.hasDesired || e.buildErr != "" {
			out = append(out, key)
		}
	}
	slices.Sort(out)
	return out
}
