package dataplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/strongswan/govici/vici"
	"golang.org/x/sys/unix"

	"opencen/internal/dataplane/nsutil"
)

const maxEvents = 200

// cellRuntime is the driver's live view of one cell: a VICI event monitor (updown, rekey
// and log events), the keeper that initiates (now, or on the first packet from the
// router), and the duplicate-SA cleanup.
type cellRuntime struct {
	d      *Netns
	id     string
	ns     string
	socket string
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu          sync.Mutex
	cell        Cell
	routerID    string
	events      []Event
	childFailed bool
	keeping     bool

	initMu  sync.Mutex
	dedupMu sync.Mutex
	wake    chan struct{}
}

func newCellRuntime(d *Netns, c Cell, routerID string) *cellRuntime {
	ctx, cancel := context.WithCancel(context.Background())
	rt := &cellRuntime{
		d: d, id: c.ID, ns: d.CellNetns(c.ID), socket: d.CharonOf(c.ID).Socket(),
		ctx: ctx, cancel: cancel, cell: c, routerID: routerID,
		wake: make(chan struct{}, 1),
	}
	rt.wg.Add(1)
	go rt.monitor()
	return rt
}

func (rt *cellRuntime) stop() {
	rt.cancel()
	rt.wg.Wait()
}

func (rt *cellRuntime) emit(kind, message string) {
	rt.emitAt(time.Now(), kind, message)
}

func (rt *cellRuntime) emitAt(t time.Time, kind, message string) {
	ev := Event{Time: t, Cell: rt.id, Kind: kind, Message: message}
	rt.mu.Lock()
	// one failure often logs several matching lines, and a failing connection is retried:
	// keep one event per second per kind
	coalesce := kind == EventProposalMismatch || kind == EventAuthFailed || kind == EventDPDTimeout || kind == EventInitiateFailed
	if n := len(rt.events); n > 0 && coalesce {
		last := rt.events[n-1]
		if last.Kind == kind && t.Sub(last.Time) < time.Second {
			rt.mu.Unlock()
			return
		}
	}
	rt.events = append(rt.events, ev)
	if len(rt.events) > maxEvents {
		rt.events = slices.Delete(rt.events, 0, len(rt.events)-maxEvents)
	}
	rt.mu.Unlock()
	rt.d.logf("%s %s: %s", rt.id, kind, message)
	if rt.d.opts.OnEvent != nil {
		rt.d.opts.OnEvent(ev)
	}
}

func (rt *cellRuntime) poke() {
	select {
	case rt.wake <- struct{}{}:
	default:
	}
}

// configure records the applied configuration and wakes the keeper, which initiates
// (StartNow) or waits for traffic (on demand).
func (rt *cellRuntime) configure(c Cell, routerID string) {
	rt.mu.Lock()
	rt.cell, rt.routerID = c, routerID
	start := !rt.keeping
	rt.keeping = true
	rt.mu.Unlock()
	if start {
		rt.wg.Add(1)
		go rt.keep()
	}
	rt.poke()
}

func (rt *cellRuntime) config() (Cell, string) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.cell, rt.routerID
}

// ---------------------------------------------------------------- events

func (rt *cellRuntime) monitor() {
	defer rt.wg.Done()
	for rt.ctx.Err() == nil {
		if err := rt.monitorOnce(); err != nil && rt.ctx.Err() == nil {
			rt.d.logf("%s: event monitor: %v", rt.id, err)
		}
		select {
		case <-rt.ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (rt *cellRuntime) monitorOnce() error {
	s, err := viciDial(rt.ctx, rt.socket)
	if err != nil {
		return err
	}
	defer s.Close()
	ch := make(chan vici.Event, 1024)
	s.NotifyEvents(ch)
	if err := s.Subscribe("ike-updown", "child-updown", "ike-rekey", "child-rekey", "log"); err != nil {
		return err
	}
	for {
		select {
		case <-rt.ctx.Done():
			return nil
		case ev, ok := <-ch:
			if !ok {
				return errors.New("charon closed the VICI connection")
			}
			rt.handle(ev)
		}
	}
}

// saSection returns the first section of an event message (the IKE SA, keyed by name).
func saSection(m *vici.Message) (string, *vici.Message) {
	for _, k := range m.Keys() {
		if sa, ok := m.Get(k).(*vici.Message); ok {
			return k, sa
		}
	}
	return "", nil
}

func (rt *cellRuntime) handle(ev vici.Event) {
	m := ev.Message
	up := str(m, "up") == "yes"
	name, sa := saSection(m)
	switch ev.Name {
	case "ike-updown":
		rt.mu.Lock()
		rt.childFailed = false
		rt.mu.Unlock()
		desc := ""
		if sa != nil {
			desc = fmt.Sprintf("IKE_SA %s[%s] %s %s[%s]...%s[%s]", name, str(sa, "uniqueid"), str(sa, "state"),
				str(sa, "local-host"), str(sa, "local-id"), str(sa, "remote-host"), str(sa, "remote-id"))
		}
		if up {
			rt.emitAt(ev.Timestamp, EventIKEUp, desc)
			rt.wg.Add(1)
			go rt.dedup()
		} else {
			rt.emitAt(ev.Timestamp, EventIKEDown, desc)
		}
		rt.poke()
	case "child-updown":
		desc := ""
		if sa != nil {
			if children, ok := sa.Get("child-sas").(*vici.Message); ok {
				_, c := saSection(children)
				if c != nil {
					desc = fmt.Sprintf("CHILD_SA %s{%s} %s %s === %s", str(c, "name"), str(c, "uniqueid"), str(c, "state"),
						strings.Join(strs(c, "local-ts"), ","), strings.Join(strs(c, "remote-ts"), ","))
				}
			}
		}
		if up {
			rt.mu.Lock()
			rt.childFailed = false
			rt.mu.Unlock()
			rt.emitAt(ev.Timestamp, EventChildUp, desc)
		} else {
			rt.emitAt(ev.Timestamp, EventChildDown, desc)
		}
		rt.poke()
	case "ike-rekey":
		rt.emitAt(ev.Timestamp, EventIKERekey, "IKE_SA "+name+" rekeyed")
	case "child-rekey":
		rt.emitAt(ev.Timestamp, EventChildRekey, "CHILD_SA of "+name+" rekeyed")
	case "log":
		text := str(m, "msg")
		kind := classifyLog(text)
		if kind == "" {
			return
		}
		if kind == EventProposalMismatch && (strings.Contains(text, "CHILD_SA") || strings.Contains(text, "no acceptable proposal found")) {
			rt.mu.Lock()
			rt.childFailed = true
			rt.mu.Unlock()
		}
		if strings.Contains(text, "failed to establish CHILD_SA") {
			rt.mu.Lock()
			rt.childFailed = true
			rt.mu.Unlock()
			return
		}
		if n := str(m, "ikesa-name"); n != "" {
			text = n + ": " + text
		}
		rt.emitAt(ev.Timestamp, kind, text)
	}
}

// classifyLog maps charon log lines (level <= 1, as VICI "log" events) to event kinds.
func classifyLog(msg string) string {
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(msg, s) {
				return true
			}
		}
		return false
	}
	switch {
	case has("NO_PROPOSAL_CHOSEN", "no acceptable proposal found", "no matching proposal found", "no proposal found"):
		return EventProposalMismatch
	case has("AUTHENTICATION_FAILED", "MAC mismatched", "no shared key found", "no matching peer config found",
		"decryption failed?", "INVALID_ID_INFORMATION") ||
		(strings.Contains(msg, "authentication of") && strings.Contains(msg, "failed")):
		return EventAuthFailed
	case has("giving up after", "DPD check timed out", "peer not responding", "dead peer"):
		return EventDPDTimeout
	case has("failed to establish CHILD_SA"):
		return EventProposalMismatch // handled specially by the caller
	}
	return ""
}

// ---------------------------------------------------------------- status and initiation

func (rt *cellRuntime) sas(ctx context.Context) ([]saInfo, error) {
	var out []saInfo
	err := withSession(ctx, rt.socket, func(s *vici.Session) error {
		var err error
		out, err = listSAs(ctx, s, rt.id)
		return err
	})
	return out, err
}

func (rt *cellRuntime) status(ctx context.Context) (CellStatus, error) {
	_, routerID := rt.config()
	cs := CellStatus{ID: rt.id, RouterID: routerID, State: IKENotEstablished}
	cs.PID = rt.d.CharonOf(rt.id).PID()
	cs.Running = cs.PID != 0
	rt.mu.Lock()
	cs.Events = slices.Clone(rt.events)
	childFailed := rt.childFailed
	rt.mu.Unlock()
	if !cs.Running {
		return cs, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	sas, err := rt.sas(ctx)
	if err != nil {
		return cs, fmt.Errorf("cell %s: list-sas: %w", rt.id, err)
	}
	cs.State = saState(sas, childFailed)
	for _, sa := range sas {
		if cs.IKE == "" || sa.State == "ESTABLISHED" {
			cs.IKE = sa.Desc
		}
		for _, c := range sa.Children {
			cs.Children = append(cs.Children, c.Desc)
		}
	}
	return cs, nil
}

// dedup: when both ends initiate at the same moment, two IKE SAs (each with a 0/0 child)
// can come up despite unique = replace. One 0/0 child per kernel-libipsec charon is the
// rule, so after a short settling time all but the newest established IKE SA are deleted.
func (rt *cellRuntime) dedup() {
	defer rt.wg.Done()
	if !rt.dedupMu.TryLock() {
		return
	}
	defer rt.dedupMu.Unlock()
	select {
	case <-rt.ctx.Done():
		return
	case <-time.After(time.Second):
	}
	ctx, cancel := context.WithTimeout(rt.ctx, 10*time.Second)
	defer cancel()
	_ = withSession(ctx, rt.socket, func(s *vici.Session) error {
		sas, err := listSAs(ctx, s, rt.id)
		if err != nil {
			return err
		}
		var ids []int
		for _, sa := range sas {
			if sa.State == "ESTABLISHED" {
				ids = append(ids, sa.ID)
			}
		}
		slices.Sort(ids)
		for _, id := range ids[:max(len(ids)-1, 0)] {
			rt.d.logf("%s: deleting duplicate IKE SA #%d", rt.id, id)
			if _, err := s.Call(ctx, "terminate", msg("ike-id", fmt.Sprint(id), "timeout", "-1")); err != nil {
				rt.d.logf("%s: terminate duplicate IKE SA #%d: %v", rt.id, id, err)
			}
		}
		return nil
	})
}

// initiateIfDown initiates the connection's child SAs unless an IKE SA (established or
// being negotiated) already exists, e.g. because the customer initiated.
func (rt *cellRuntime) initiateIfDown(ctx context.Context) {
	if !rt.initMu.TryLock() {
		return // an initiation is running
	}
	defer rt.initMu.Unlock()
	c, _ := rt.config()
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	sas, err := rt.sas(qctx)
	cancel()
	if err != nil {
		rt.emit(EventInitiateFailed, "list-sas: "+err.Error())
		return
	}
	if len(sas) > 0 {
		return
	}
	rt.emit(EventInitiate, fmt.Sprintf("initiating %s to %s", c.ID, c.PeerAddr))
	for _, ch := range c.children() {
		ictx, cancel := context.WithTimeout(ctx, 20*time.Second)
		err := withSession(ictx, rt.socket, func(s *vici.Session) error {
			return initiate(ictx, s, ch.Name, 10*time.Second)
		})
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				rt.emit(EventInitiateFailed, fmt.Sprintf("initiate %s: %v", ch.Name, err))
			}
			return
		}
	}
}

// ---------------------------------------------------------------- keeping it up

// keep brings the connection up and keeps trying while it has no IKE SA:
//   - StartNow: initiate, and again every RetryInterval while there is no IKE SA (charon
//     retries by itself after timeouts, but not after e.g. AUTHENTICATION_FAILED);
//   - on demand ("wait for traffic"; kernel-libipsec has no trap policies): a packet
//     socket on the cell's router-side link waits for the first IPv4 packet from the
//     router, then the connection is initiated.
//
// The customer's initiation is accepted in both modes: the connection is always loaded.
func (rt *cellRuntime) keep() {
	defer rt.wg.Done()
	ctx := rt.ctx
	for ctx.Err() == nil {
		c, _ := rt.config()
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		sas, err := rt.sas(qctx)
		cancel()
		if err != nil || len(sas) > 0 {
			select { // up, negotiating, or charon unreachable: look again later
			case <-ctx.Done():
			case <-rt.wake:
			case <-time.After(2 * time.Second):
			}
			continue
		}
		if c.IPsec.StartNow {
			rt.initiateIfDown(ctx)
			select {
			case <-ctx.Done():
			case <-rt.wake:
			case <-time.After(rt.d.opts.RetryInterval):
			}
			continue
		}
		f, idx, err := openPacketSocket(rt.ns, rt.d.cellRtr())
		if err != nil {
			rt.d.logf("%s: on-demand watcher: %v", rt.id, err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		got := make(chan error, 1)
		go func() { got <- waitPacket(f, idx) }()
		select {
		case <-ctx.Done():
			f.Close()
			<-got
		case <-rt.wake: // SA state or configuration changed: look again
			f.Close()
			<-got
		case err := <-got:
			f.Close()
			if err != nil {
				rt.d.logf("%s: on-demand watcher: %v", rt.id, err)
				continue
			}
			rt.emit(EventTriggered, "first packet from the router: initiating")
			rt.initiateIfDown(ctx)
		}
	}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// openPacketSocket opens an AF_PACKET socket for IPv4 on link in namespace ns.
func openPacketSocket(ns, link string) (*os.File, int, error) {
	var f *os.File
	var idx int
	err := nsutil.InNetns(ns, func() error {
		ifi, err := net.InterfaceByName(link)
		if err != nil {
			return err
		}
		idx = ifi.Index
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_IP)))
		if err != nil {
			return fmt.Errorf("packet socket: %w", err)
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: idx}); err != nil {
			unix.Close(fd)
			return fmt.Errorf("bind packet socket to %s: %w", link, err)
		}
		f = os.NewFile(uintptr(fd), "packet:"+ns+"/"+link)
		return nil
	})
	return f, idx, err
}

// waitPacket returns when an incoming packet arrives on ifindex (not one the cell sends).
func waitPacket(f *os.File, ifindex int) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	buf := make([]byte, 64)
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		for {
			_, from, err := unix.Recvfrom(int(fd), buf, unix.MSG_TRUNC)
			if err == unix.EAGAIN || err == unix.EINTR {
				return false
			}
			if err != nil {
				rerr = err
				return true
			}
			ll, ok := from.(*unix.SockaddrLinklayer)
			if ok && ll.Ifindex == ifindex && ll.Pkttype != unix.PACKET_OUTGOING {
				return true
			}
		}
	})
	if err != nil {
		return err
	}
	return rerr
}
