package server

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/net/netutil"

	"opencen/internal/apierr"
	"opencen/internal/rpc"
)

// Limits bound what clients, signed or not, can make the server hold: how long one request
// may take to arrive and its answer to leave, connections and requests at once, request body
// bytes at once, and the caches the API keeps. Zero fields take the defaults.
type Limits struct {
	// ReadTimeout: a request's headers and body must arrive within it (a stalled or
	// dribbling body is cut off); it also bounds how long a request waits for a slot.
	ReadTimeout time.Duration
	// WriteTimeout: a response must be taken by the client within it of its first byte.
	WriteTimeout time.Duration
	// IdleTimeout: how long a keep-alive connection may sit between requests.
	IdleTimeout time.Duration
	// MaxConnections open at once; further ones wait in the listen backlog.
	MaxConnections int
	// MaxRequests served at once; further ones wait (up to ReadTimeout), then get
	// ServiceUnavailable.
	MaxRequests int
	// MaxBodyBytes of request bodies held at once over all requests (each body is also at
	// most rpc.MaxBodyBytes); a request waits for room like for a slot.
	MaxBodyBytes int64
	// MaxNonces live in the replay cache (rpc.Server.LimitNonces).
	MaxNonces int
	// AnswerCacheBytes of encoded answers the API keeps for repeated reads; negative
	// disables the cache.
	AnswerCacheBytes int
}

// DefaultLimits are generous for every stock client and tight enough that memory stays
// bounded: 256 requests × at most 4 MiB bodies, but no more than 64 MiB of bodies at once.
func DefaultLimits() Limits {
	return Limits{
		ReadTimeout:      30 * time.Second,
		WriteTimeout:     30 * time.Second,
		IdleTimeout:      120 * time.Second,
		MaxConnections:   1024,
		MaxRequests:      256,
		MaxBodyBytes:     64 << 20,
		MaxNonces:        rpc.DefaultMaxNonces,
		AnswerCacheBytes: 16 << 20,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	set := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&l.ReadTimeout, d.ReadTimeout)
	set(&l.WriteTimeout, d.WriteTimeout)
	set(&l.IdleTimeout, d.IdleTimeout)
	if l.MaxConnections <= 0 {
		l.MaxConnections = d.MaxConnections
	}
	if l.MaxRequests <= 0 {
		l.MaxRequests = d.MaxRequests
	}
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = d.MaxBodyBytes
	}
	l.MaxBodyBytes = max(l.MaxBodyBytes, rpc.MaxBodyBytes) // room for at least one largest body
	if l.MaxNonces <= 0 {
		l.MaxNonces = d.MaxNonces
	}
	if l.AnswerCacheBytes == 0 {
		l.AnswerCacheBytes = d.AnswerCacheBytes
	}
	return l
}

// maxHeaderBytes bounds a request's header block (the query string included): the SDKs
// send well under 8 KiB.
const maxHeaderBytes = 64 << 10

// httpServer serves h on ln under l: deadlines on the connection, a cap on connections, and
// the gate on requests and body bytes in flight.
func httpServer(ln net.Listener, h http.Handler, l Limits) (*http.Server, net.Listener) {
	hs := &http.Server{
		Handler:           newGate(h, l),
		ReadHeaderTimeout: min(10*time.Second, l.ReadTimeout),
		ReadTimeout:       l.ReadTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		// No WriteTimeout: it would run from the request's headers, through the body and
		// the handler; the gate sets the write deadline per response instead.
	}
	return hs, netutil.LimitListener(ln, l.MaxConnections)
}

// gate admits a request when a slot and room for its body are free, and gives its response
// WriteTimeout from the first byte written.
type gate struct {
	next  http.Handler
	l     Limits
	slots chan struct{}
	room  *budget
}

func newGate(next http.Handler, l Limits) *gate {
	return &gate{next: next, l: l, slots: make(chan struct{}, l.MaxRequests), room: newBudget(l.MaxBodyBytes)}
}

func (g *gate) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w := &deadlineWriter{ResponseWriter: rw, rc: http.NewResponseController(rw), d: g.l.WriteTimeout}
	// A handler that wrote nothing still gets an answer from net/http after it returns; it
	// must not meet the deadline an earlier response on this connection left behind.
	defer w.start()
	// Room for the body it declares, or for the largest body when it declares none; the
	// body cannot be longer than that (the server enforces a declared length).
	n := int64(rpc.MaxBodyBytes)
	if r.ContentLength >= 0 && r.ContentLength < n {
		n = r.ContentLength
	}
	// The common case takes a slot and room at once; only a request that has to wait pays
	// for a timer.
	var wait context.Context
	cancel := context.CancelFunc(func() {})
	defer func() { cancel() }()
	waitCtx := func() context.Context {
		if wait == nil {
			wait, cancel = context.WithTimeout(r.Context(), g.l.ReadTimeout)
		}
		return wait
	}
	select {
	case g.slots <- struct{}{}:
	default:
		select {
		case g.slots <- struct{}{}:
		case <-waitCtx().Done():
			rpc.WriteError(w, apierr.New("ServiceUnavailable", "The request has failed due to a temporary failure of the server: %d requests are being served; retry later.", g.l.MaxRequests))
			return
		}
	}
	defer func() { <-g.slots }()
	if n > 0 && !g.room.tryAcquire(n) {
		if err := g.room.acquire(waitCtx(), n); err != nil {
			rpc.WriteError(w, apierr.New("ServiceUnavailable", "The request has failed due to a temporary failure of the server: %d bytes of request bodies are being read; retry later.", g.l.MaxBodyBytes))
			return
		}
	}
	if n > 0 {
		defer g.room.release(n)
	}
	r.Body = http.MaxBytesReader(rw, r.Body, rpc.MaxBodyBytes)
	g.next.ServeHTTP(w, r)
}

// deadlineWriter sets the connection's write deadline when the response starts, so a client
// that does not read its answer is cut off WriteTimeout later, however long the request
// took to arrive and be served.
type deadlineWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	d       time.Duration
	started bool
}

func (w *deadlineWriter) start() {
	if !w.started {
		w.started = true
		_ = w.rc.SetWriteDeadline(time.Now().Add(w.d))
	}
}

func (w *deadlineWriter) WriteHeader(code int) {
	w.start()
	w.ResponseWriter.WriteHeader(code)
}

func (w *deadlineWriter) Write(b []byte) (int, error) {
	w.start()
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// budget is a counting semaphore of bytes.
type budget struct {
	mu      sync.Mutex
	free    int64
	waiting int
	changed chan struct{} // closed and replaced when bytes are released to waiters
}

func newBudget(n int64) *budget { return &budget{free: n, changed: make(chan struct{})} }

func (b *budget) tryAcquire(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.free < n {
		return false
	}
	b.free -= n
	return true
}

func (b *budget) acquire(ctx context.Context, n int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.free < n {
		changed := b.changed
		b.waiting++
		b.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
		}
		b.mu.Lock()
		b.waiting--
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	b.free -= n
	return nil
}

func (b *budget) release(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.free += n
	if b.waiting > 0 {
		close(b.changed)
		b.changed = make(chan struct{})
	}
}
