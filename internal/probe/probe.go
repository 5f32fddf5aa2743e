// Package probe runs the ICMP health checks of IPsec-VPN connections.
//
// A check pings Destination (an address in the data center) from Source (an address of
// the transit router that the data center routes back through the tunnel) every Interval,
// from inside the router's network namespace. Retry consecutive losses make the check
// unhealthy; one reply makes it healthy again. The Prober reports verdicts, not probes:
// the first one of each check, then transitions only.
//
// Each check has its own raw ICMP socket, created in the check's namespace on a thread
// locked to it (a socket keeps its namespace for life), bound to Source and optionally to
// a link, with its own ICMP identifier: checks sharing a namespace, a source or a
// destination never see each other's replies.
package probe

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// Defaults of the product page.
const (
	DefaultInterval = 3 * time.Second
	DefaultRetry    = 3
	// DefaultTimeout caps how long a probe waits for its reply (never longer than the
	// interval): a failure is detected at most Interval x Retry + min(Interval, Timeout)
	// after it starts, so within the target Interval x Retry + 1 s with room for
	// scheduling jitter. A reply later than that counts as a loss.
	DefaultTimeout = 800 * time.Millisecond
	// MinInterval is the shortest accepted interval.
	MinInterval = 10 * time.Millisecond
)

// Check is one connection's health check.
type Check struct {
	// ID is the IPsec-VPN connection's ID (vco-...).
	ID string
	// Netns is the network namespace probes are sent from: the transit router's
	// ("" = the prober's own namespace).
	Netns string
	// Link, when set, is the link probes leave through (SO_BINDTODEVICE), e.g. the
	// connection's attachment link in the router namespace: the probe then takes this
	// connection whatever the router's tables say (with no route via the link, the
	// destination is treated as on-link). "" = routed normally.
	Link string
	// Source must be a local address in Netns (the transit router holds its checks'
	// sources on its lo: dataplane.Router.Sources); Destination is the
	// data center's address. IPv4 only.
	Source, Destination netip.Addr
	// Interval between probes (0 = DefaultInterval); Retry consecutive losses make the
	// check unhealthy (0 = DefaultRetry).
	Interval time.Duration
	Retry    int
}

func (c Check) normalize() (Check, error) {
	var errs []string
	if c.ID == "" {
		errs = append(errs, "empty ID")
	}
	c.Source, c.Destination = c.Source.Unmap(), c.Destination.Unmap()
	if !c.Source.Is4() {
		errs = append(errs, fmt.Sprintf("source %v is not an IPv4 address", c.Source))
	}
	if !c.Destination.Is4() {
		errs = append(errs, fmt.Sprintf("destination %v is not an IPv4 address", c.Destination))
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Interval < MinInterval {
		errs = append(errs, fmt.Sprintf("interval %v is shorter than %v", c.Interval, MinInterval))
	}
	if c.Retry == 0 {
		c.Retry = DefaultRetry
	}
	if c.Retry < 0 {
		errs = append(errs, fmt.Sprintf("retry %d is negative", c.Retry))
	}
	if len(c.Link) > 15 || strings.ContainsAny(c.Link, "/ \t\n") {
		errs = append(errs, fmt.Sprintf("link %q is not a link name", c.Link))
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("check %q: %s", c.ID, strings.Join(errs, "; "))
	}
	return c, nil
}

// sameTarget reports whether two checks probe the same path (only timing differs).
func sameTarget(a, b Check) bool {
	return a.Netns == b.Netns && a.Link == b.Link && a.Source == b.Source && a.Destination == b.Destination
}

// Result is a verdict on a check.
type Result struct {
	ID      string
	Healthy bool
	// At is when the verdict was reached (the reply arrived, or the last loss was
	// declared).
	At time.Time
	// Detail says why: the reply and its round trip, or the losses and the last error.
	Detail string
}

// State is a check's current state (Status).
type State struct {
	Check Check
	// Healthy is the current verdict; before the first one (Reported false) a check
	// counts as healthy.
	Healthy  bool
	Reported bool
	// Since is when the current verdict was reached (or the check started).
	Since time.Time
	// Detail is the last probe's outcome.
	Detail string
	// Sent and Replies count echo requests sent and matching replies received since the
	// check (re)started; Losses is the current run of consecutive losses.
	Sent, Replies uint64
	Losses        int
}

// Options configure a Prober.
type Options struct {
	// OnResult receives every verdict, in order, from one goroutine of the Prober. It may
	// call Set and Status, but not Close. A slow callback delays later results but not
	// the probes.
	OnResult func(Result)
	// Timeout caps the wait for a reply (default DefaultTimeout; a probe never waits
	// longer than its check's interval).
	Timeout time.Duration
	// Logf, when set, receives diagnostics (socket errors).
	Logf func(format string, args ...any)
}

// Prober runs a set of checks.
type Prober struct {
	opts Options

	mu      sync.Mutex // serializes Set and Close; guards runners, closed
	runners map[string]*runner
	closed  bool

	q            queue
	dispatchDone chan struct{}
}

// New starts a Prober with no checks.
func New(opts Options) *Prober {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	p := &Prober{opts: opts, runners: map[string]*runner{}, dispatchDone: make(chan struct{})}
	p.q.wake = make(chan struct{}, 1)
	go p.dispatch()
	return p
}

func (p *Prober) logf(format string, args ...any) {
	if p.opts.Logf != nil {
		p.opts.Logf(format, args...)
	}
}

// Set makes checks the running set: it starts new checks, stops the ones not listed and
// restarts the changed ones; unchanged checks keep running untouched, so calling Set again
// with the same checks does nothing. A check restarted with the same path (only Interval
// or Retry changed) keeps its verdict and reports only later transitions; a check whose
// path changed starts over (healthy, first verdict reported).
//
// Invalid checks (and all but the first of a duplicated ID) are not run; the error lists
// them. Results of a stopped check may still be delivered shortly after Set returns.
func (p *Prober) Set(checks []Check) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("prober is closed")
	}
	var errs []error
	want := map[string]Check{}
	var order []string
	for _, c := range checks {
		n, err := c.normalize()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := want[n.ID]; dup {
			errs = append(errs, fmt.Errorf("check %q: duplicate ID", n.ID))
			continue
		}
		want[n.ID] = n
		order = append(order, n.ID)
	}
	var stop []*runner
	for id, r := range p.runners {
		if c, ok := want[id]; !ok || c != r.check {
			stop = append(stop, r)
		}
	}
	for _, r := range stop {
		r.stop()
	}
	carry := map[string]machine{}
	for _, r := range stop {
		<-r.done
		delete(p.runners, r.check.ID)
		if c, ok := want[r.check.ID]; ok && sameTarget(c, r.check) {
			m := r.machineState()
			m.losses = 0
			carry[r.check.ID] = m
		}
	}
	for _, id := range order {
		if _, running := p.runners[id]; running {
			continue
		}
		c := want[id]
		m, ok := carry[id]
		if ok {
			m.retry = max(c.Retry, 1)
		} else {
			m = newMachine(c.Retry)
		}
		p.runners[id] = startRunner(p, c, m)
	}
	return errors.Join(errs...)
}

// Status is the state of every running check, sorted by ID.
func (p *Prober) Status() []State {
	p.mu.Lock()
	rs := make([]*runner, 0, len(p.runners))
	for _, r := range p.runners {
		rs = append(rs, r)
	}
	p.mu.Unlock()
	out := make([]State, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.state())
	}
	slices.SortFunc(out, func(a, b State) int { return strings.Compare(a.Check.ID, b.Check.ID) })
	return out
}

// Close stops every check, delivers the results still queued and returns. It is
// idempotent. It must not be called from OnResult.
func (p *Prober) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.dispatchDone
		return
	}
	p.closed = true
	for _, r := range p.runners {
		r.stop()
	}
	for id, r := range p.runners {
		<-r.done
		delete(p.runners, id)
	}
	p.mu.Unlock()
	p.q.close()
	<-p.dispatchDone
}

func (p *Prober) emit(r Result) { p.q.push(r) }

func (p *Prober) dispatch() {
	defer close(p.dispatchDone)
	for {
		items, closed := p.q.take()
		for _, r := range items {
			if p.opts.OnResult != nil {
				p.opts.OnResult(r)
			}
		}
		if len(items) == 0 {
			if closed {
				return
			}
			<-p.q.wake
		}
	}
}

// queue is an unbounded FIFO of results: runners never block on a slow consumer.
type queue struct {
	mu     sync.Mutex
	items  []Result
	closed bool
	wake   chan struct{}
}

func (q *queue) push(r Result) {
	q.mu.Lock()
	q.items = append(q.items, r)
	q.mu.Unlock()
	q.signal()
}

func (q *queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *queue) take() ([]Result, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.items
	q.items = nil
	return items, q.closed
}

func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.signal()
}
