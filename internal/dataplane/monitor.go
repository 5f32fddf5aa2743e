package dataplane

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"opencen/internal/dataplane/nsutil"
	"opencen/internal/tunnel"
)

const maxEvents = 200

// cellRuntime is the driver's live view of one cell: the event monitor (tailing the
// charon log), the keeper that initiates (now, or on the first packet from the
// router), and the duplicate-SA cleanup.
type cellRuntime struct {
	d      *Netns
	id     string
	ns     string
	ch     nsutil.Charon
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu          sync.Mutex
	cell        Cell
	routerID    string
	events      []Event
	childFailed bool
	keeping     bool
	// seen is the state as the last look at charon found it (see look).
	seen CellStatus
	// proposals are the last "received proposals" / "configured proposals" by IKE SA
	proposals map[string]string
	// rekey bookkeeping, to not report the old SAs' deletion as the tunnel going down
	rekeyedIKE     map[string]bool // old IKE SAs of rekeyings, by unique id
	lastChildRekey time.Time

	wake chan struct{}
	// lastInitiation is when keep last started an initiation of a connection without IKE
	// SA (keep's goroutine only).
	lastInitiation time.Time
	// initMu is held by the one initiation running (see initiating), and guards the
	// backoff: when missing child SAs were last initiated, and how long to wait before the
	// next try (RetryInterval, doubled after each failure up to maxChildBackoff, back to
	// RetryInterval once none are missing).
	initMu         sync.Mutex
	lastChildInit  time.Time
	childInitAfter time.Duration
}

// ikev1DuplicateWait is how long (seconds) IKEv1 duplicates are left to charon, which
// deletes the older ten seconds after the newer is established, if it noticed them.
const ikev1DuplicateWait = 13

// maxChildBackoff bounds the wait between initiations of child SAs a peer keeps refusing.
const maxChildBackoff = 2 * time.Minute

func newCellRuntime(d *Netns, c Cell, routerID string) *cellRuntime {
	ctx, cancel := context.WithCancel(context.Background())
	rt := &cellRuntime{
		d: d, id: c.ID(), ns: d.CellNetns(c.ID()), ch: d.CharonOf(c.ID()),
		ctx: ctx, cancel: cancel, cell: c, routerID: routerID,
		wake: make(chan struct{}, 1),
		seen: CellStatus{ID: c.ID(), RouterID: routerID, State: IKENotEstablished},
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

// record keeps an event for Status without passing it on (history).
func (rt *cellRuntime) record(ev Event) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.events = append(rt.events, ev)
	if len(rt.events) > maxEvents {
		rt.events = slices.Delete(rt.events, 0, len(rt.events)-maxEvents)
	}
}

func (rt *cellRuntime) emitAt(t time.Time, kind, message string) {
	ev := Event{Time: t, Cell: rt.id, Kind: kind, Message: message}
	rt.mu.Lock()
	// one failure often logs several matching lines, and a failing connection is retried:
	// keep one event per second per kind
	coalesce := kind == EventProposalMismatch || kind == EventPeerRefused || kind == EventAuthFailed || kind == EventDPDTimeout || kind == EventInitiateFailed
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
	pid := rt.d.proc.CharonPID(rt.ch) // cheap: the status shows the charon at once
	rt.mu.Lock()
	rt.cell, rt.routerID = c, routerID
	rt.seen.RouterID, rt.seen.PID, rt.seen.Running = routerID, pid, pid != 0
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

// Events come from the cell's charon log (filelog with ike_name, level 1), tailed by the
// driver. The log survives driver restarts, so a re-adopting driver rebuilds the recent
// history from it. (govici v0.8.0's event subscription can deadlock: Subscribe holds the
// event lock while it waits for the confirmation, and the reader goroutine needs that
// lock to dispatch an event arriving meanwhile.)

// logLine is "<time> <thread>[<group>] <name|id> <message>" (the <name|id> part only in
// the context of an IKE SA, <id> alone before its configuration is known).
var logLine = regexp.MustCompile(`^(\S+) \d+\[(\w+)\] (?:<(?:([^|>]*)\|)?(\d+)> )?(.*)$`)

// Messages of interest, with the SA number they name.
var (
	reIKEUp     = regexp.MustCompile(`^IKE_SA (\S+)\[(\d+)\] established between (.*)$`)
	reIKERekey  = regexp.MustCompile(`^IKE_SA (\S+)\[(\d+)\] rekeyed between (.*)$`)
	reIKEDown   = regexp.MustCompile(`^deleting IKE_SA (\S+)\[(\d+)\] between (.*)$`)
	reChildUp   = regexp.MustCompile(`^(inbound |outbound )?CHILD_SA (\S+)\{(\d+)\} established with SPIs \S+ \S+ and TS (.*)$`)
	reChildDown = regexp.MustCompile(`^closing CHILD_SA (\S+)\{(\d+)\} with SPIs \S+ \S+ and TS (.*)$`)
)

const historyBytes = 64 << 10

// monitor tails charon.log: what is already in it (at most the last historyBytes) is
// history, kept for Status but not passed to OnEvent; then new lines as they are written.
func (rt *cellRuntime) monitor() {
	defer rt.wg.Done()
	path := rt.d.CharonOf(rt.id).LogFile()
	var f *os.File
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	var off int64
	var rest []byte // an incomplete last line
	history, skipFirst := true, false
	buf := make([]byte, 32<<10)
	for rt.ctx.Err() == nil {
		if f == nil {
			var err error
			if f, err = os.Open(path); err != nil {
				f = nil
				history = false // charon not started yet: all its lines are new
				rt.sleep(100 * time.Millisecond)
				continue
			}
			off, rest, skipFirst = 0, nil, false
			if st, err := f.Stat(); err == nil && history && st.Size() > historyBytes {
				off, skipFirst = st.Size()-historyBytes, true // starts mid-line
			}
		}
		if st, err := f.Stat(); err != nil || st.Size() < off {
			f.Close() // truncated: start over
			f, history = nil, false
			continue
		}
		n, err := f.ReadAt(buf, off)
		off += int64(n)
		data := append(rest, buf[:n]...)
		for {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				break
			}
			line := string(data[:i])
			data = data[i+1:]
			if skipFirst {
				skipFirst = false
				continue
			}
			rt.handleLog(line, history)
		}
		rest = append([]byte(nil), data...)
		if n == 0 || err != nil {
			history = false
			rt.sleep(100 * time.Millisecond)
		}
	}
}

func (rt *cellRuntime) sleep(d time.Duration) {
	select {
	case <-rt.ctx.Done():
	case <-time.After(d):
	}
}

// handleLog turns one charon log line into events and state.
func (rt *cellRuntime) handleLog(line string, history bool) {
	m := logLine.FindStringSubmatch(line)
	if m == nil {
		return
	}
	t := time.Now()
	if history {
		if lt, err := time.ParseInLocation("2006-01-02T15:04:05", m[1], time.Local); err == nil {
			t = lt
		}
	}
	ctxID, text := m[4], m[5]
	emit := func(kind, msg string) {
		if history {
			rt.record(Event{Time: t, Cell: rt.id, Kind: kind, Message: msg})
		} else {
			rt.emitAt(t, kind, msg)
		}
	}
	rt.mu.Lock()
	lastChildRekey := rt.lastChildRekey
	rt.mu.Unlock()
	switch {
	case reIKEUp.MatchString(text):
		rt.setChildFailed(false)
		emit(EventIKEUp, text)
		rt.poke()
	case reIKERekey.MatchString(text):
		rt.mu.Lock()
		if rt.rekeyedIKE == nil || len(rt.rekeyedIKE) > 100 {
			rt.rekeyedIKE = map[string]bool{}
		}
		rt.rekeyedIKE[ctxID] = true // the old SA, deleted next
		rt.mu.Unlock()
		emit(EventIKERekey, text)
		rt.poke()
	case reIKEDown.MatchString(text):
		sm := reIKEDown.FindStringSubmatch(text)
		rt.mu.Lock()
		old := rt.rekeyedIKE[sm[2]]
		delete(rt.rekeyedIKE, sm[2])
		rt.mu.Unlock()
		if old {
			return // the old IKE SA of a rekeying
		}
		rt.setChildFailed(false)
		emit(EventIKEDown, text)
		rt.poke()
	case reChildUp.MatchString(text):
		sm := reChildUp.FindStringSubmatch(text)
		switch sm[1] {
		case "":
			rt.setChildFailed(false)
			emit(EventChildUp, text)
			rt.poke()
		case "outbound ":
			rt.mu.Lock()
			rt.lastChildRekey = t
			rt.mu.Unlock()
			emit(EventChildRekey, strings.TrimPrefix(text, "outbound "))
		}
	case reChildDown.MatchString(text):
		if t.Sub(lastChildRekey) < 5*time.Second {
			return // the old child SA of a rekeying
		}
		emit(EventChildDown, text)
		rt.poke()
	case strings.HasPrefix(text, "received proposals: ") || strings.HasPrefix(text, "configured proposals: "):
		// What a failed negotiation offered and accepted, for the mismatch that follows.
		which, props, _ := strings.Cut(text, " proposals: ")
		rt.mu.Lock()
		if rt.proposals == nil || len(rt.proposals) > 64 {
			rt.proposals = map[string]string{}
		}
		rt.proposals[ctxKey(m)+which] = props
		rt.mu.Unlock()
	default:
		kind := classifyLog(text)
		if kind == "" {
			return
		}
		if strings.Contains(text, "failed to establish CHILD_SA") || strings.Contains(text, "no CHILD_SA built") {
			rt.setChildFailed(true)
		}
		if strings.Contains(text, "failed to establish CHILD_SA") {
			return // follows the reason, which is reported
		}
		if name := m[3]; name != "" {
			text = name + ": " + text
		}
		switch kind {
		case EventPeerRefused:
			text = "the peer refused (no matching configuration or proposal on its side): " + text
		case EventProposalMismatch:
			rt.mu.Lock()
			got, have := rt.proposals[ctxKey(m)+"received"], rt.proposals[ctxKey(m)+"configured"]
			rt.mu.Unlock()
			if got != "" && have != "" {
				text += " (the peer proposed " + got + "; this side accepts " + have + ")"
			}
		}
		emit(kind, text)
		rt.poke() // a failure changes the state: look now, do not report a stale one
	}
}

// ctxKey names the IKE SA a log line is about (its unique id), "" outside one.
func ctxKey(m []string) string { return m[4] }

func (rt *cellRuntime) setChildFailed(v bool) {
	rt.mu.Lock()
	rt.childFailed = v
	rt.mu.Unlock()
}

// classifyLog maps charon log messages (level 1) to failure event kinds.
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
	case has("received NO_PROPOSAL_CHOSEN"):
		// The peer says no: it may have no configuration for us yet, or other proposals;
		// from here the two cannot be told apart.
		return EventPeerRefused
	case has("NO_PROPOSAL_CHOSEN", "no acceptable proposal found", "no matching proposal found", "no proposal found",
		"received proposals unacceptable"):
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
	err := rt.d.withIKE(ctx, rt.ch, func(s ikeSession) error {
		var err error
		out, err = s.SAs(ctx, rt.id)
		return err
	})
	return out, err
}

// status is the cell's state as last seen, with its recent events.
func (rt *cellRuntime) status() CellStatus {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	cs := rt.seen
	cs.Events = slices.Clone(rt.events)
	return cs
}

// look records what charon reports now (sas, or err when it could not be asked) and
// tells OnState when the negotiation state or charon's liveness changed.
func (rt *cellRuntime) look(sas []saInfo, err error) {
	c, routerID := rt.config()
	cs := CellStatus{ID: rt.id, RouterID: routerID, State: IKENotEstablished}
	cs.PID = rt.d.proc.CharonPID(rt.ch)
	cs.Running = cs.PID != 0
	rt.mu.Lock()
	childFailed := rt.childFailed
	rt.mu.Unlock()
	if cs.Running && err == nil {
		cs.State = saState(sas, c.IPsec.Children(), childFailed)
		for _, sa := range sas {
			if cs.IKE == "" || sa.State == "ESTABLISHED" {
				cs.IKE = sa.Desc
			}
			for _, c := range sa.Children {
				cs.Children = append(cs.Children, c.Desc)
			}
		}
	}
	rt.mu.Lock()
	changed := cs.State != rt.seen.State || cs.Running != rt.seen.Running
	rt.seen = cs
	rt.mu.Unlock()
	if changed && rt.d.opts.OnState != nil {
		rt.d.opts.OnState(rt.status())
	}
}

// dedup: when both ends initiate at the same moment, two IKE SAs (each with its child
// SAs) can come up; all but one are deleted (see duplicates for which, and when).
func (rt *cellRuntime) dedup(ctx context.Context, sas []saInfo) (deleted bool) {
	ids := duplicates(sas)
	if len(ids) == 0 {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := rt.d.withIKE(ctx, rt.ch, func(s ikeSession) error {
		for _, id := range ids {
			rt.d.logf("%s: deleting duplicate IKE SA #%d", rt.id, id)
			if err := s.TerminateIKE(ctx, id); err != nil {
				rt.d.logf("%s: terminate duplicate IKE SA #%d: %v", rt.id, id, err)
			}
		}
		return nil
	})
	if err != nil {
		rt.d.logf("%s: delete duplicate IKE SAs: %v", rt.id, err)
	}
	return true
}

// missingChildren lists the configured child SAs (by name) that the connection's one
// established IKE SA, two seconds old or more, lacks. An IKE SA can stay up without them:
// the peer refused the child (TS_UNACCEPTABLE while its configuration was still loading),
// or deleted it, or it went with a duplicate IKE SA. Nothing else initiates them again.
// Nothing is missing while an IKE SA is being negotiated or duplicates wait for dedup.
func missingChildren(sas []saInfo, children []tunnel.Child) []string {
	if len(sas) != 1 || sas[0].State != "ESTABLISHED" || sas[0].Age < 2 {
		return nil
	}
	var missing []string
	for _, ch := range children {
		if !slices.ContainsFunc(sas[0].Children, func(c childInfo) bool { return c.Name == ch.Name }) {
			missing = append(missing, ch.Name)
		}
	}
	return missing
}

// duplicates picks the established IKE SAs to delete, once the newest is a second old
// (IKEv1: ikev1DuplicateWait): all but one. The one kept is the first of, in order: one
// with an installed child SA; for IKEv2, one the cell initiated; the newest (created
// last).
//
// IKEv2: the cell's IKE_AUTH carries INITIAL_CONTACT. A peer that honours it, as
// strongSwan does, destroys its own older SA without telling the cell, so the SA the cell
// initiated is the one the peer still has; keeping the other would leave the cell with a
// dead SA until DPD notices. A peer that destroyed nothing has both, and the DELETE for
// either leaves one.
//
// IKEv1: charon settles duplicates by itself, at each end: the SA established later
// adopts the older one's child SAs (a second quick mode for the same child counts as its
// rekeying) and the older is deleted ten seconds later (unique = replace, which the cell
// and the configuration it hands out use). Deleting one sooner fights that: a crossing
// whose peer had moved its child into the SA the cell deleted was left without traffic.
// So the cell steps in only when IKEv1 duplicates outlive charon's own deletion: when
// both SAs were established at the same moment, neither charon saw the other as a
// duplicate, nothing was adopted, and both would stay.
func duplicates(sas []saInfo) []int {
	var est []saInfo
	newestAge := -1
	for _, sa := range sas {
		if sa.State == "ESTABLISHED" {
			est = append(est, sa)
			if newestAge < 0 || sa.Age < newestAge {
				newestAge = sa.Age
			}
		}
	}
	wait := 1
	if slices.ContainsFunc(est, func(sa saInfo) bool { return sa.Version == 1 }) {
		wait = ikev1DuplicateWait
	}
	if len(est) < 2 || newestAge < wait {
		return nil
	}
	rank := func(sa saInfo) []int {
		r := make([]int, 3)
		if slices.ContainsFunc(sa.Children, func(c childInfo) bool { return c.State == "INSTALLED" }) {
			r[0] = 1
		}
		if sa.Version == 2 && sa.Initiator {
			r[1] = 1
		}
		r[2] = sa.ID
		return r
	}
	keep := slices.MaxFunc(est, func(a, b saInfo) int { return slices.Compare(rank(a), rank(b)) })
	var ids []int
	for _, sa := range est {
		if sa.ID != keep.ID {
			ids = append(ids, sa.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

// initiating runs f, an initiation, in its own goroutine holding initMu, unless one is
// running already. An initiation can take tens of seconds (each child up to 10 s), and
// keep must go on deleting duplicates meanwhile: in a crossing the cell's own initiation
// can wait on a peer that ignores its request.
func (rt *cellRuntime) initiating(f func()) {
	if !rt.initMu.TryLock() {
		return
	}
	rt.wg.Add(1)
	go func() {
		defer rt.wg.Done()
		defer rt.initMu.Unlock()
		f()
	}()
}

// initiateIfDown initiates the connection's child SAs unless an IKE SA (established or
// being negotiated) already exists, e.g. because the customer initiated.
// Caller holds initMu.
func (rt *cellRuntime) initiateIfDown(ctx context.Context) {
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
	rt.emit(EventInitiate, fmt.Sprintf("initiating %s to %s", c.ID(), c.IPsec.Customer))
	var names []string
	for _, ch := range c.IPsec.Children() {
		names = append(names, ch.Name)
	}
	rt.initiateChildren(ctx, names)
}

// initiateChildren initiates child SAs by name, one after the other (through the existing
// IKE SA, or a new one), stopping at the first failure. Caller holds initMu.
func (rt *cellRuntime) initiateChildren(ctx context.Context, names []string) (ok bool) {
	for _, name := range names {
		ictx, cancel := context.WithTimeout(ctx, 20*time.Second)
		err := rt.d.withIKE(ictx, rt.ch, func(s ikeSession) error {
			return s.Initiate(ictx, name, 10*time.Second)
		})
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				rt.emit(EventInitiateFailed, fmt.Sprintf("initiate %s: %v", name, err))
			}
			return false
		}
	}
	return true
}

// initiateMissing initiates the missing child SAs (see missingChildren), backing off while
// the peer keeps refusing them. Caller holds initMu.
func (rt *cellRuntime) initiateMissing(ctx context.Context, missing []string) {
	if rt.childInitAfter == 0 {
		rt.childInitAfter = rt.d.opts.RetryInterval
	}
	if time.Since(rt.lastChildInit) < rt.childInitAfter {
		return
	}
	rt.lastChildInit = time.Now()
	rt.emit(EventInitiate, fmt.Sprintf("the IKE SA lacks child SAs %s: initiating them", strings.Join(missing, ", ")))
	if !rt.initiateChildren(ctx, missing) {
		rt.childInitAfter = min(2*rt.childInitAfter, maxChildBackoff)
	}
}

// resetChildBackoff: nothing is missing now (see missingChildren), so the next time child
// SAs are missing the first retry waits only RetryInterval.
func (rt *cellRuntime) resetChildBackoff() {
	if rt.initMu.TryLock() { // else an initiation runs; the next look resets it
		rt.childInitAfter = 0
		rt.initMu.Unlock()
	}
}

// ---------------------------------------------------------------- keeping it up

// Look intervals: while something is in flux (an SA negotiating, duplicates, children
// missing) keep looks every second, so that duplicates are deleted on time; a settled
// cell is looked at every settledLook, and at once on each event of its charon.
const (
	busyLook    = time.Second
	settledLook = 5 * time.Second
)

// keep brings the connection up and keeps trying while it has no IKE SA:
//   - StartNow: initiate, and again every RetryInterval while there is no IKE SA (charon
//     retries by itself after timeouts, but not after e.g. AUTHENTICATION_FAILED), or
//     while the IKE SA lacks some of the child SAs;
//   - on demand ("wait for traffic"; kernel-libipsec has no trap policies): wait for the
//     first IPv4 packet from the router on the cell's router-side link, then initiate.
//
// Every look at charon is recorded (look): that is the cell's status. The customer's
// initiation is accepted in both modes: the connection is always loaded.
func (rt *cellRuntime) keep() {
	defer rt.wg.Done()
	ctx := rt.ctx
	for ctx.Err() == nil {
		c, _ := rt.config()
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		sas, err := rt.sas(qctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		rt.look(sas, err)
		busy := false
		if err == nil {
			if rt.dedup(ctx, sas) {
				busy = true
			} else if c.IPsec.StartNow {
				if missing := missingChildren(sas, c.IPsec.Children()); len(missing) > 0 {
					busy = true
					rt.initiating(func() { rt.initiateMissing(ctx, missing) })
				} else {
					rt.resetChildBackoff()
				}
			}
			busy = busy || len(sas) > 1 || slices.ContainsFunc(sas, func(sa saInfo) bool { return sa.State != "ESTABLISHED" })
		}
		if err != nil || len(sas) > 0 {
			wait := settledLook
			if busy || err != nil {
				wait = busyLook
			}
			rt.wait(ctx, wait) // up, negotiating, or charon unreachable: look again later
			continue
		}
		if c.IPsec.StartNow {
			// At most one initiation per RetryInterval: the events a failed one causes
			// wake this loop at once, and must not start another.
			if wait := time.Until(rt.lastInitiation.Add(rt.d.opts.RetryInterval)); wait > 0 {
				rt.wait(ctx, min(wait, settledLook))
				continue
			}
			rt.lastInitiation = time.Now()
			rt.initiating(func() { rt.initiateIfDown(ctx) })
			rt.wait(ctx, min(rt.d.opts.RetryInterval, settledLook))
			continue
		}
		// On demand: wait for traffic (or a change: an event, a new configuration).
		wctx, stop := context.WithCancel(ctx)
		got := make(chan error, 1)
		go func() { got <- rt.d.proc.WaitPacket(wctx, rt.ns, rt.d.cellRtr()) }()
		select {
		case <-ctx.Done():
			stop()
			<-got
		case <-rt.wake: // SA state or configuration changed: look again
			stop()
			<-got
		case <-time.After(settledLook):
			stop()
			<-got
		case err := <-got:
			stop()
			if err != nil {
				rt.d.logf("%s: on-demand watcher: %v", rt.id, err)
				rt.wait(ctx, time.Second)
				continue
			}
			if wait := time.Until(rt.lastInitiation.Add(rt.d.opts.RetryInterval)); wait > 0 {
				rt.wait(ctx, wait) // a failed initiation is retried on traffic, at most once per RetryInterval
				continue
			}
			rt.lastInitiation = time.Now()
			rt.initiating(func() {
				rt.emit(EventTriggered, "first packet from the router: initiating")
				rt.initiateIfDown(ctx)
			})
			rt.wait(ctx, time.Second) // until the initiation shows as an IKE SA, more packets change nothing
		}
	}
}

// wait returns after d, on a wake (an event of the cell's charon, a new configuration),
// or when ctx ends.
func (rt *cellRuntime) wait(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-rt.wake:
	case <-t.C:
	}
}

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
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, int(nsutil.Htons(unix.ETH_P_IP)))
		if err != nil {
			return fmt.Errorf("packet socket: %w", err)
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: nsutil.Htons(unix.ETH_P_IP), Ifindex: idx}); err != nil {
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
