package bgp

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Wire format of the socket protocol (see the package documentation).
type request struct {
	Op        string                    `json:"op"`
	Config    *Config                   `json:"config,omitempty"`
	Advertise map[string][]netip.Prefix `json:"advertise,omitempty"`
}

type response struct {
	OK        bool             `json:"ok"`
	Error     string           `json:"error,omitempty"`
	Hello     *Hello           `json:"hello,omitempty"`
	State     []NeighborState  `json:"state,omitempty"`
	Advertise *AdvertiseResult `json:"advertise,omitempty"`
	Update    *Update          `json:"update,omitempty"`
}

// maxLine bounds one request line (1000 prefixes × hundreds of neighbors fit).
const maxLine = 64 << 20

// opTimeout bounds one request's work inside the speaker.
const opTimeout = time.Minute

func (s *speaker) acceptLoop(ctx context.Context, ln net.Listener) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("bgp speaker: accept", "err", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveConn(ctx, conn)
		}()
	}
}

func (s *speaker) serveConn(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	enc := json.NewEncoder(conn)
	for sc.Scan() {
		var req request
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			_ = enc.Encode(response{Error: "bad request: " + err.Error()})
			continue
		}
		if req.Op == "watch" {
			if enc.Encode(response{OK: true}) == nil {
				s.serveWatch(ctx, conn, enc)
			}
			return
		}
		if err := enc.Encode(s.handle(ctx, req)); err != nil {
			return
		}
	}
}

func (s *speaker) handle(ctx context.Context, req request) response {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	fail := func(err error) response { return response{Error: err.Error()} }
	switch req.Op {
	case "hello":
		h := s.hello()
		return response{OK: true, Hello: &h}
	case "configure":
		if req.Config == nil {
			return fail(errors.New("configure: no config"))
		}
		if err := s.configure(ctx, *req.Config); err != nil {
			return fail(err)
		}
		return response{OK: true}
	case "advertise":
		res, err := s.advertise(ctx, req.Advertise)
		if err != nil {
			return response{Error: err.Error(), Advertise: &res}
		}
		return response{OK: true, Advertise: &res}
	case "state":
		return response{OK: true, State: s.states(ctx)}
	}
	return fail(errors.New("unknown op " + `"` + req.Op + `"`))
}

// ---------------------------------------------------------------- watchers

// watcher is one watch connection: the IDs of neighbors whose state it has not been sent
// since they changed.
type watcher struct {
	mu      sync.Mutex
	pending map[string]bool
	kick    chan struct{}
	done    chan struct{}
}

func (w *watcher) add(id string) {
	w.mu.Lock()
	w.pending[id] = true
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// notify marks neighbor id changed for every watcher. Never blocks.
func (s *speaker) notify(id string) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	for w := range s.watchers {
		w.add(id)
	}
}

func (s *speaker) closeWatchers() {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	for w := range s.watchers {
		delete(s.watchers, w)
		close(w.done)
	}
}

func (s *speaker) serveWatch(ctx context.Context, conn net.Conn, enc *json.Encoder) {
	w := &watcher{pending: map[string]bool{}, kick: make(chan struct{}, 1), done: make(chan struct{})}
	s.wmu.Lock()
	s.watchers[w] = true
	s.wmu.Unlock()
	defer func() {
		s.wmu.Lock()
		if s.watchers[w] {
			delete(s.watchers, w)
			close(w.done)
		}
		s.wmu.Unlock()
	}()
	// the snapshot: every configured neighbor
	s.mu.Lock()
	for id := range s.nbrs {
		w.add(id)
	}
	s.mu.Unlock()
	// the client sends nothing more: EOF (or anything) ends the watch
	gone := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, conn)
		close(gone)
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-gone:
			return
		case <-w.done:
			return
		case <-w.kick:
		}
		w.mu.Lock()
		ids := slices.Sorted(mapKeys(w.pending))
		w.pending = map[string]bool{}
		w.mu.Unlock()
		for _, id := range ids {
			u := Update{Neighbor: NeighborState{ID: id}, Removed: true}
			if st, ok := s.snapshot(id); ok {
				u = Update{Neighbor: st}
			}
			_ = conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
			if err := enc.Encode(response{OK: true, Update: &u}); err != nil {
				return
			}
		}
	}
}
