package probe

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"opencen/internal/dataplane/nsutil"
)

// nextID hands out ICMP identifiers: every runner of the process gets its own.
var nextID atomic.Uint32

func init() {
	var b [2]byte
	_, _ = rand.Read(b[:])
	nextID.Store(uint32(b[0])<<8 | uint32(b[1]))
}

func newICMPID() uint16 {
	for {
		if id := uint16(nextID.Add(1)); id != 0 {
			return id
		}
	}
}

// runner probes one check until stopped.
type runner struct {
	p       *Prober
	check   Check
	icmpID  uint16
	nonce   [8]byte
	timeout time.Duration

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex // guards the fields below
	conn    net.PacketConn
	connIno uint64 // inode of the namespace conn was opened in
	m       machine
	since   time.Time
	detail  string
	sent    uint64
	replies uint64
}

func startRunner(p *Prober, c Check, m machine) *runner {
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{
		p: p, check: c, icmpID: newICMPID(),
		timeout: min(c.Interval, p.opts.Timeout),
		ctx:     ctx, cancel: cancel, done: make(chan struct{}),
		m: m, since: time.Now(), detail: "starting",
	}
	_, _ = rand.Read(r.nonce[:])
	go r.run()
	return r
}

// stop ends the runner (wait on done): the socket is closed so a pending read returns.
func (r *runner) stop() {
	r.cancel()
	r.mu.Lock()
	if r.conn != nil {
		r.conn.Close()
		r.conn = nil
	}
	r.mu.Unlock()
}

func (r *runner) machineState() machine {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m
}

func (r *runner) state() State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return State{
		Check: r.check, Healthy: r.m.healthy, Reported: r.m.reported, Since: r.since,
		Detail: r.detail, Sent: r.sent, Replies: r.replies, Losses: r.m.losses,
	}
}

func (r *runner) run() {
	defer close(r.done)
	defer r.stop()
	var b [2]byte
	_, _ = rand.Read(b[:])
	seq := uint16(b[0])<<8 | uint16(b[1])
	buf := make([]byte, 1500)
	for {
		start := time.Now()
		seq++
		ok, detail := r.probe(seq, buf)
		if r.ctx.Err() != nil {
			return
		}
		r.record(ok, detail)
		t := time.NewTimer(time.Until(start.Add(r.check.Interval)))
		select {
		case <-r.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// record feeds one outcome to the state machine and emits a verdict if there is one.
func (r *runner) record(ok bool, detail string) {
	now := time.Now()
	r.mu.Lock()
	r.detail = detail
	emit := r.m.observe(ok)
	if emit {
		r.since = now
	}
	res := Result{ID: r.check.ID, Healthy: r.m.healthy, At: now, Detail: detail}
	if emit && !ok {
		res.Detail = fmt.Sprintf("%d consecutive probes lost; last: %s", r.m.losses, detail)
	}
	r.mu.Unlock()
	if emit {
		r.p.emit(res)
	}
}

// probe sends one echo request and waits for its reply; it reports the outcome.
func (r *runner) probe(seq uint16, buf []byte) (bool, string) {
	c := r.check
	conn, err := r.socket()
	if err != nil {
		return false, err.Error()
	}
	msg := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: int(r.icmpID), Seq: int(seq), Data: r.nonce[:]}}
	b, err := msg.Marshal(nil)
	if err != nil {
		return false, err.Error()
	}
	sent := time.Now()
	deadline := sent.Add(r.timeout)
	if _, err := conn.WriteTo(b, &net.IPAddr{IP: c.Destination.AsSlice()}); err != nil {
		return false, fmt.Sprintf("send to %s: %v", c.Destination, unwrapSyscall(err))
	}
	r.mu.Lock()
	r.sent++
	r.mu.Unlock()
	for {
		if err := conn.SetReadDeadline(deadline); err != nil {
			return false, err.Error()
		}
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			if r.ctx.Err() != nil {
				return false, "stopped"
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return false, fmt.Sprintf("no reply from %s within %v", c.Destination, r.timeout)
			}
			r.dropSocket(conn)
			r.p.logf("probe %s: receive: %v", c.ID, err)
			return false, fmt.Sprintf("receive: %v", err)
		}
		src, _ := netip.AddrFromSlice(addrIP(from))
		ok, detail, match := r.match(buf[:n], src.Unmap(), seq)
		if !match {
			continue
		}
		if ok {
			r.mu.Lock()
			r.replies++
			r.mu.Unlock()
			detail = fmt.Sprintf("reply from %s in %v", c.Destination, time.Since(sent).Round(10*time.Microsecond))
		}
		return ok, detail
	}
}

// match decides whether an ICMP message (without IP header) from src concerns probe seq:
// its echo reply, or an error about its echo request.
func (r *runner) match(b []byte, src netip.Addr, seq uint16) (ok bool, detail string, match bool) {
	m, err := icmp.ParseMessage(1, b)
	if err != nil {
		return false, "", false
	}
	switch body := m.Body.(type) {
	case *icmp.Echo:
		if m.Type != ipv4.ICMPTypeEchoReply || src != r.check.Destination || body.ID != int(r.icmpID) ||
			body.Seq != int(seq) || !bytes.Equal(body.Data, r.nonce[:]) {
			return false, "", false
		}
		return true, "", true
	case *icmp.DstUnreach:
		if r.quotes(body.Data, seq) {
			return false, fmt.Sprintf("destination unreachable (code %d) from %s", m.Code, src), true
		}
	case *icmp.TimeExceeded:
		if r.quotes(body.Data, seq) {
			return false, fmt.Sprintf("time exceeded from %s", src), true
		}
	}
	return false, "", false
}

// quotes reports whether the quoted datagram of an ICMP error is our echo request seq.
func (r *runner) quotes(d []byte, seq uint16) bool {
	if len(d) < 20 || d[0]>>4 != 4 {
		return false
	}
	ihl := int(d[0]&0x0f) * 4
	if ihl < 20 || len(d) < ihl+8 || d[9] != 1 {
		return false
	}
	dst, _ := netip.AddrFromSlice(d[16:20])
	e := d[ihl:]
	return dst == r.check.Destination && e[0] == byte(ipv4.ICMPTypeEcho) &&
		uint16(e[4])<<8|uint16(e[5]) == r.icmpID && uint16(e[6])<<8|uint16(e[7]) == seq
}

func addrIP(a net.Addr) net.IP {
	switch a := a.(type) {
	case *net.IPAddr:
		return a.IP
	case *net.UDPAddr:
		return a.IP
	}
	return nil
}

func unwrapSyscall(err error) error {
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err
	}
	return err
}

// socket returns the check's socket, opening it in the namespace if needed. A socket in a
// namespace that is gone or was replaced (same name, new namespace) is closed first, so a
// recreated router is probed again and a deleted one is not kept alive by the prober.
func (r *runner) socket() (net.PacketConn, error) {
	c := r.check
	var ino uint64
	if c.Netns != "" {
		var err error
		if ino, err = nsutil.NetnsInode(c.Netns); err != nil {
			r.mu.Lock()
			if r.conn != nil {
				r.conn.Close()
				r.conn = nil
			}
			r.mu.Unlock()
			return nil, fmt.Errorf("namespace %s: %v", c.Netns, unwrapPath(err))
		}
	}
	r.mu.Lock()
	if r.conn != nil && r.connIno == ino {
		conn := r.conn
		r.mu.Unlock()
		return conn, nil
	}
	if r.conn != nil {
		r.conn.Close()
		r.conn = nil
	}
	r.mu.Unlock()

	conn, err := openSocket(c)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ctx.Err() != nil {
		conn.Close()
		return nil, r.ctx.Err()
	}
	r.conn, r.connIno = conn, ino
	return conn, nil
}

func (r *runner) dropSocket(conn net.PacketConn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conn == conn {
		r.conn.Close()
		r.conn = nil
	}
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// icmpFilter passes only echo replies and the errors that can concern an echo request to
// a raw ICMP socket (ICMP_FILTER: a set bit blocks that type).
var icmpFilterBits = ^uint32(1<<0 | 1<<3 | 1<<11) // echo reply, destination unreachable, time exceeded

// openSocket opens c's raw ICMP socket ("ip4:icmp", bound to c.Source and c.Link) inside
// c.Netns. Namespaces belong to OS threads: nsutil.InNetns creates the socket on a thread
// locked to the goroutine and switched into the namespace (then switched back, or
// discarded). The socket stays in that namespace, whichever thread uses it later.
//
// It is net.ListenConfig rather than icmp.ListenPacket (the same socket) because binding
// to a link needs a socket option before use.
func openSocket(c Check) (net.PacketConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_RAW, unix.ICMP_FILTER, int(int32(icmpFilterBits)))
			if serr == nil && c.Link != "" {
				if err := unix.BindToDevice(int(fd), c.Link); err != nil {
					serr = fmt.Errorf("bind to link %s: %w", c.Link, err)
				}
			}
		})
		return errors.Join(err, serr)
	}}
	var conn net.PacketConn
	listen := func() error {
		var err error
		conn, err = lc.ListenPacket(context.Background(), "ip4:icmp", c.Source.String())
		return err
	}
	var err error
	if c.Netns == "" {
		err = listen()
	} else {
		err = nsutil.InNetns(c.Netns, listen)
	}
	if err != nil {
		where := "namespace " + c.Netns
		if c.Netns == "" {
			where = "the current namespace"
		}
		if errors.Is(err, unix.EADDRNOTAVAIL) {
			return nil, fmt.Errorf("source %s is not a local address in %s", c.Source, where)
		}
		if errors.Is(err, unix.ENODEV) {
			return nil, fmt.Errorf("link %s does not exist in %s", c.Link, where)
		}
		return nil, fmt.Errorf("open ICMP socket in %s: %w", where, err)
	}
	return conn, nil
}
