package bgp

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Client talks to a speaker over its unix socket. Requests are serialized over one
// connection, which is re-dialed after an error; Watch uses a connection of its own. Safe
// for concurrent use.
type Client struct {
	path string

	mu   sync.Mutex
	conn net.Conn
	rd   *bufio.Reader
}

// DefaultTimeout bounds a request whose context has no deadline.
const DefaultTimeout = time.Minute

// Dial connects to the speaker at socketPath and checks that it answers.
func Dial(socketPath string) (*Client, error) {
	c := &Client{path: socketPath}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Hello(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Close closes the request connection (watches end with their contexts).
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return nil
	}
	err := c.conn.Close()
	c.conn, c.rd = nil, nil
	return err
}

func dialCtx(ctx context.Context, path string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("bgp speaker at %s: %w", path, err)
	}
	return conn, nil
}

// call sends one request and reads its answer.
func (c *Client) call(ctx context.Context, req request) (response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		conn, err := dialCtx(ctx, c.path)
		if err != nil {
			return response{}, err
		}
		c.conn, c.rd = conn, bufio.NewReaderSize(conn, 64<<10)
	}
	conn := c.conn
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(DefaultTimeout)
	}
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	resp, err := func() (response, error) {
		b, err := json.Marshal(req)
		if err != nil {
			return response{}, err
		}
		if _, err := conn.Write(append(b, '\n')); err != nil {
			return response{}, err
		}
		line, err := c.rd.ReadBytes('\n')
		if err != nil {
			return response{}, err
		}
		var resp response
		if err := json.Unmarshal(line, &resp); err != nil {
			return response{}, fmt.Errorf("bad answer: %w", err)
		}
		return resp, nil
	}()
	if err != nil {
		// the connection's state is unknown: start afresh next time
		conn.Close()
		c.conn, c.rd = nil, nil
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return response{}, fmt.Errorf("bgp speaker %s %s: %w", c.path, req.Op, err)
	}
	if !resp.OK {
		return resp, fmt.Errorf("bgp speaker %s: %s", req.Op, resp.Error)
	}
	return resp, nil
}

// Hello identifies the speaker (pid, namespace, whether it was configured).
func (c *Client) Hello(ctx context.Context) (Hello, error) {
	resp, err := c.call(ctx, request{Op: "hello"})
	if err != nil {
		return Hello{}, err
	}
	if resp.Hello == nil {
		return Hello{}, errors.New("bgp speaker hello: empty answer")
	}
	return *resp.Hello, nil
}

// Configure replaces the speaker's configuration: neighbors not in cfg are removed,
// changed ones re-created (their sessions restart), unchanged ones left alone.
func (c *Client) Configure(ctx context.Context, cfg Config) error {
	_, err := c.call(ctx, request{Op: "configure", Config: &cfg})
	return err
}

// Advertise replaces what is advertised: neighbor ID -> prefixes (next hop self). A
// configured neighbor missing from m advertises nothing; an unknown ID is an error (and
// nothing changes). At most MaxAdvertised prefixes per neighbor are advertised (the first
// ones in address order); the result counts what was cut.
func (c *Client) Advertise(ctx context.Context, m map[string][]netip.Prefix) (AdvertiseResult, error) {
	if m == nil {
		m = map[string][]netip.Prefix{}
	}
	resp, err := c.call(ctx, request{Op: "advertise", Advertise: m})
	var res AdvertiseResult
	if resp.Advertise != nil {
		res = *resp.Advertise
	}
	return res, err
}

// State returns every neighbor's current state, sorted by ID.
func (c *Client) State(ctx context.Context) ([]NeighborState, error) {
	resp, err := c.call(ctx, request{Op: "state"})
	if err != nil {
		return nil, err
	}
	return resp.State, nil
}

// Watch streams updates: first the state of every configured neighbor, then each
// neighbor's complete state whenever it changes (session up/down, learned routes), and
// Removed updates for neighbors configured away. The channel is closed when ctx ends or
// the speaker goes away (then check the speaker, configure again if it restarted, and
// watch again).
func (c *Client) Watch(ctx context.Context) (<-chan Update, error) {
	conn, err := dialCtx(ctx, c.path)
	if err != nil {
		return nil, err
	}
	b, _ := json.Marshal(request{Op: "watch"})
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	rd := bufio.NewReaderSize(conn, 64<<10)
	var resp response
	_, err = conn.Write(append(b, '\n'))
	if err == nil {
		var line []byte
		if line, err = rd.ReadBytes('\n'); err == nil {
			err = json.Unmarshal(line, &resp)
		}
	}
	if err == nil && !resp.OK {
		err = errors.New(resp.Error)
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("bgp speaker %s watch: %w", c.path, err)
	}
	_ = conn.SetDeadline(time.Time{})
	ch := make(chan Update, 64)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	go func() {
		defer close(ch)
		defer stop()
		defer conn.Close()
		for {
			line, err := rd.ReadBytes('\n')
			if err != nil {
				return
			}
			var r response
			if json.Unmarshal(line, &r) != nil || r.Update == nil {
				continue
			}
			select {
			case ch <- *r.Update:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, nil
}
