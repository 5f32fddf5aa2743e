package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"opencen/internal/dataplane"
	"opencen/internal/model"
	"opencen/internal/probe"
	"opencen/internal/routing"
	"opencen/internal/service"
)

// The gateway's own tests: a fake store and a fake driver, no root. They check that
// objects are built and applied one by one, that a connection that cannot be built or
// applied fails alone with a status and a log line saying why, and that nothing is done
// when nothing changed.

type fakeStore struct {
	mu      sync.Mutex
	down    bool // the store is out of reach: reads fail
	view    *service.GatewayView
	reports map[string][]service.Report
	objects map[string]service.ObjectStatus
	// negotiation is the last negotiation state reported per cell (as the service keeps it).
	negotiation map[string]string
}

func newFakeStore() *fakeStore {
	return &fakeStore{reports: map[string][]service.Report{}, objects: map[string]service.ObjectStatus{}, negotiation: map[string]string{}}
}

func (s *fakeStore) Negotiations(_ context.Context, on map[string]string) (map[string]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for id := range on {
		out[id] = s.negotiation[id]
	}
	return out, nil
}

func (s *fakeStore) set(v service.GatewayView) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.view = &v
}

func (s *fakeStore) DataPlane(context.Context) (*service.GatewayView, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return nil, errors.New("store unreachable")
	}
	return s.view, nil
}

func (s *fakeStore) ReportConnection(_ context.Context, vco string, r service.Report) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reports[vco] = append(s.reports[vco], r)
	if r.Observed.Negotiation != "" {
		s.negotiation[vco] = r.Observed.Negotiation
	}
	return nil
}

func (s *fakeStore) ReportObjects(_ context.Context, _ string, changed, gone []service.ObjectStatus) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range changed {
		s.objects[o.Kind+"/"+o.ID] = o
	}
	for _, o := range gone {
		delete(s.objects, o.Kind+"/"+o.ID)
	}
	return nil
}

// logs is every log line reported for a connection.
func (s *fakeStore) logs(vco string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.reports[vco] {
		for _, l := range r.Logs {
			out = append(out, l.Message)
		}
	}
	return out
}

func (s *fakeStore) object(kind, id string) service.ObjectStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.objects[kind+"/"+id]
}

type fakeDriver struct {
	mu      sync.Mutex
	calls   []string
	fail    map[string]error // by cell or router ID
	routers map[string]dataplane.Router
	cells   map[string]dataplane.Cell
	down    map[string]bool // cells whose tunnel is down (Status)
}

func newFakeDriver() *fakeDriver {
	return &fakeDriver{fail: map[string]error{}, routers: map[string]dataplane.Router{}, cells: map[string]dataplane.Cell{}, down: map[string]bool{}}
}

func (d *fakeDriver) call(c string) {
	d.mu.Lock()
	d.calls = append(d.calls, c)
	d.mu.Unlock()
}

func (d *fakeDriver) take() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.calls
	d.calls = nil
	return c
}

func (d *fakeDriver) UpdateRouter(_ context.Context, r dataplane.Router) error {
	d.call("update router " + r.ID)
	if err := d.fail[r.ID]; err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range r.Cells {
		if _, ok := d.cells[c.ID()]; !ok && c.Remote == nil { // a remote cell's link is the router's own
			return fmt.Errorf("link of %s missing: %w", c.ID(), dataplane.ErrWaiting)
		}
	}
	d.routers[r.ID] = r
	return nil
}

func (d *fakeDriver) DeleteRouter(_ context.Context, id string) error {
	d.call("delete router " + id)
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.routers, id)
	return nil
}

func (d *fakeDriver) UpdateCell(_ context.Context, router string, c dataplane.Cell) error {
	d.call("update cell " + c.ID())
	if err := d.fail[c.ID()]; err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cells[c.ID()] = c
	return nil
}

func (d *fakeDriver) DeleteCell(_ context.Context, id string) error {
	d.call("delete cell " + id)
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.cells, id)
	return nil
}

func (d *fakeDriver) Prune(context.Context, []string, []string) error { return nil }

// Status: every applied cell's tunnel is up, but those marked down.
func (d *fakeDriver) Status(context.Context) (dataplane.Status, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var st dataplane.Status
	for id := range d.cells {
		state := dataplane.IPsecEstablished
		if d.down[id] {
			state = dataplane.IKENotEstablished
		}
		st.Cells = append(st.Cells, dataplane.CellStatus{ID: id, Running: true, State: state})
	}
	return st, nil
}

type fakeProber struct {
	mu     sync.Mutex
	checks []probe.Check
}

func (p *fakeProber) Set(c []probe.Check) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.checks = slices.Clone(c)
	return nil
}

func (p *fakeProber) Close() {}

// world: one transit router, connections by name.
type world struct {
	tr    *model.TransitRouter
	table *model.RouteTable
	vpns  []service.GatewayVPN
}

func newWorld() *world {
	return &world{
		tr:    &model.TransitRouter{Meta: model.Meta{ID: "tr-1", Owner: "1111", Status: model.StatusActive}},
		table: &model.RouteTable{Meta: model.Meta{ID: "vtb-1", Status: model.StatusActive}, TransitRouterID: "tr-1"},
	}
}

var addrCounter = 10

// add is a healthy connection; edit damages it.
func (w *world) add(id string, edit func(*service.GatewayVPN)) {
	addrCounter++
	v := service.GatewayVPN{
		Attachment: &model.VpnAttachment{Meta: model.Meta{ID: "tr-attach-" + id}, TransitRouterID: "tr-1", VpnID: "vco-" + id},
		Conn: model.VpnConnection{Meta: model.Meta{ID: "vco-" + id}, InternetIP: fmt.Sprintf("198.18.100.%d", addrCounter),
			LocalSubnet: model.AllIPv4, RemoteSubnet: model.AllIPv4, Ike: model.PageIke(), Ipsec: model.PageIpsec(),
			Bgp: model.DefaultBgp(), HealthCheck: model.DefaultHealthCheck(), EnableNatTraversal: true},
		Gateway: model.CustomerGateway{Meta: model.Meta{ID: "cgw-" + id}, IPAddress: fmt.Sprintf("198.18.1.%d", addrCounter), Asn: 65010},
	}
	v.Conn.Ike.Psk = "secret-" + id
	if edit != nil {
		edit(&v)
	}
	w.vpns = append(w.vpns, v)
}

func (w *world) view() service.GatewayView {
	fw := map[string][]routing.Route{}
	routed := map[string]bool{}
	for _, v := range w.vpns {
		if routed[v.Attachment.ID] { // a dual-tunnel attachment's second tunnel
			continue
		}
		routed[v.Attachment.ID] = true
		fw["vtb-1"] = append(fw["vtb-1"], routing.Route{Prefix: netip.MustParsePrefix(fmt.Sprintf("192.168.%s.0/24", strings.TrimPrefix(v.Attachment.ID, "tr-attach-x"))), NextHops: []string{v.Attachment.ID}})
	}
	assoc := map[string]string{}
	for _, v := range w.vpns {
		assoc[v.Attachment.ID] = "vtb-1"
	}
	return service.GatewayView{Routers: []service.GatewayRouter{{TR: w.tr, Tables: []*model.RouteTable{w.table}, Associations: assoc, Forwarding: fw, VPNs: slices.Clone(w.vpns)}}}
}

type env struct {
	t     *testing.T
	ctx   context.Context
	store *fakeStore
	drv   *fakeDriver
	prb   *fakeProber
	g     *Gateway
}

func newEnv(t *testing.T) *env {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	e := &env{t: t, ctx: ctx, store: newFakeStore(), drv: newFakeDriver(), prb: &fakeProber{}}
	g := New(e.store, Layout{WANBits: 15, VPCNetns: func(string) (string, bool) { return "", false },
		RouterNetns: func(id string) string { return "r-" + id }, AttachmentLink: func(id string) string { return "l-" + id }},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if p, ok := g.Prober.(*probe.Prober); ok {
		p.Close()
	}
	g.Prober, g.Driver = e.prb, e.drv
	e.g = g
	return e
}

// settle runs passes until nothing is due soon (at most 20).
func (e *env) settle() {
	for range 20 {
		if next := e.g.Pass(e.ctx); next < 0 || next > 200*time.Millisecond {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPoisonStaysApart(t *testing.T) {
	e := newEnv(t)
	w := newWorld()
	w.add("x1", nil)
	w.add("x2", func(v *service.GatewayVPN) { v.Conn.Ike.IkeMode = "aggressive" }) // IKEv2: must simply work
	w.add("x3", func(v *service.GatewayVPN) { v.Conn.Ike.IkeEncAlg = "blowfish" })
	w.add("x4", func(v *service.GatewayVPN) { v.Conn.InternetIP = "198.18.100.999" })
	w.add("x5", func(v *service.GatewayVPN) {
		v.Conn.Bgp = model.BgpConfig{EnableBgp: true, LocalAsn: 45104, TunnelCidr: "169.254.20.0/29", LocalBgpIp: "169.254.20.1"}
	})
	w.add("x6", func(v *service.GatewayVPN) {
		v.Conn.HealthCheck = model.HealthCheck{Enable: true, Sip: "10.0.0.300", Dip: "192.168.6.1", Interval: 3, Retry: 3, Policy: "revoke_route"}
	})
	w.add("x7", func(v *service.GatewayVPN) { v.Err = errors.New("the stored pre-shared key cannot be opened") })
	e.store.set(w.view())
	e.settle()

	for _, id := range []string{"vco-x1", "vco-x2", "vco-x5", "vco-x6"} {
		if st := e.store.object(KindCell, id); st.State != "done" {
			t.Errorf("cell %s: %+v, want done", id, st)
		}
	}
	if c := e.drv.cells["vco-x2"]; c.IPsec.IKE.Version != 2 || c.IPsec.IKE.Aggressive {
		t.Errorf("IKEv2 with IkeMode aggressive: %+v", c.IPsec.IKE)
	}
	for id, want := range map[string]string{"vco-x3": "IkeConfig.IkeEncAlg", "vco-x4": "InternetIp", "vco-x7": "pre-shared key"} {
		st := e.store.object(KindCell, id)
		if st.State != "error" || !strings.Contains(st.Message, want) {
			t.Errorf("cell %s: %+v, want an error naming %s", id, st, want)
		}
		if _, ok := e.drv.cells[id]; ok {
			t.Errorf("cell %s was applied", id)
		}
		logs := e.store.logs(id)
		if len(logs) != 1 || !strings.Contains(logs[0], want) || !strings.Contains(logs[0], "cannot be built") {
			t.Errorf("logs of %s: %q, want one line naming %s", id, logs, want)
		}
	}
	if st := e.store.object(KindBGP, "vco-x5"); st.State != "error" || !strings.Contains(st.Message, "/30") {
		t.Errorf("BGP of x5: %+v", st)
	}
	if st := e.store.object(KindHealth, "vco-x6"); st.State != "error" || !strings.Contains(st.Message, "Sip") {
		t.Errorf("health check of x6: %+v", st)
	}
	r, ok := e.drv.routers["tr-1"]
	if !ok || e.store.object(KindRouter, "tr-1").State != "done" {
		t.Fatalf("router not applied: %+v", e.store.object(KindRouter, "tr-1"))
	}
	var hops []string
	for _, rt := range r.Tables[0].Routes {
		hops = append(hops, rt.NextHops...)
	}
	slices.Sort(hops)
	if want := []string{"tr-attach-x1", "tr-attach-x2", "tr-attach-x5", "tr-attach-x6"}; !slices.Equal(hops, want) {
		t.Errorf("routes through %v, want %v (none through the connections that do not build)", hops, want)
	}

	// Nothing changed: a pass does nothing, and logs nothing again.
	e.drv.take()
	e.g.Pass(e.ctx)
	if calls := e.drv.take(); len(calls) != 0 {
		t.Errorf("a pass with nothing changed called the driver: %q", calls)
	}
	if logs := e.store.logs("vco-x3"); len(logs) != 1 {
		t.Errorf("the problem was logged again: %q", logs)
	}

	// Mended: it is applied, its error goes.
	w.vpns[2].Conn.Ike.IkeEncAlg = "aes256"
	e.store.set(w.view())
	e.settle()
	if st := e.store.object(KindCell, "vco-x3"); st.State != "done" {
		t.Errorf("mended cell: %+v", st)
	}
	if got := e.drv.take(); !slices.Contains(got, "update cell vco-x3") || slices.Contains(got, "update cell vco-x1") {
		t.Errorf("mending one connection applied %q", got)
	}
}

// TestApplyFailureStaysApart: the driver fails one cell; the others and the router are
// applied, the failure is logged once and retried.
func TestApplyFailureStaysApart(t *testing.T) {
	e := newEnv(t)
	w := newWorld()
	w.add("x1", nil)
	w.add("x2", nil)
	e.drv.fail["vco-x2"] = errors.New("charon in oc-c-x2 exited before its VICI socket answered")
	e.store.set(w.view())
	e.settle()
	if st := e.store.object(KindCell, "vco-x1"); st.State != "done" {
		t.Errorf("x1: %+v", st)
	}
	st := e.store.object(KindCell, "vco-x2")
	if st.State != "error" || !strings.Contains(st.Message, "exited") {
		t.Errorf("x2: %+v", st)
	}
	if logs := e.store.logs("vco-x2"); len(logs) != 1 || !strings.Contains(logs[0], "cannot be applied") {
		t.Errorf("x2's log: %q", logs)
	}
	// The router routes through x1 (its link is there) and waits for x2's.
	if rs := e.store.object(KindRouter, "tr-1"); rs.State != "pending" || !strings.Contains(rs.Message, "vco-x2") {
		t.Errorf("router: %+v", rs)
	}
	delete(e.drv.fail, "vco-x2")
	time.Sleep(1100 * time.Millisecond) // the first retry comes after MinBackoff (1 s)
	e.settle()
	if st := e.store.object(KindCell, "vco-x2"); st.State != "done" {
		t.Errorf("x2 after the retry: %+v", st)
	}
	if rs := e.store.object(KindRouter, "tr-1"); rs.State != "done" {
		t.Errorf("router after x2: %+v", rs)
	}
}

// TestHeldAndRemoved: a cell whose record is damaged after it was applied keeps running
// (no delete) and keeps its router link; a removed health check takes its source with it.
func TestHeldAndRemoved(t *testing.T) {
	e := newEnv(t)
	w := newWorld()
	w.add("x1", func(v *service.GatewayVPN) {
		v.Conn.HealthCheck = model.HealthCheck{Enable: true, Sip: "10.0.0.9", Dip: "192.168.1.9", Interval: 3, Retry: 3, Policy: "revoke_route"}
	})
	e.store.set(w.view())
	e.settle()
	if r := e.drv.routers["tr-1"]; !slices.Equal(r.Sources, []netip.Addr{netip.MustParseAddr("10.0.0.9")}) {
		t.Fatalf("router sources %v", r.Sources)
	}
	if len(e.prb.checks) != 1 {
		t.Fatalf("checks %v", e.prb.checks)
	}
	e.drv.take()

	// Damage: unknown algorithm. Nothing is torn down.
	w.vpns[0].Conn.Ipsec.IpsecAuthAlg = "sha3"
	e.store.set(w.view())
	e.settle()
	if calls := e.drv.take(); slices.ContainsFunc(calls, func(c string) bool { return strings.HasPrefix(c, "delete") }) {
		t.Errorf("a damaged record tore things down: %q", calls)
	}
	if r := e.drv.routers["tr-1"]; len(r.Cells) != 1 || len(r.Sources) != 1 {
		t.Errorf("the router lost the held cell's link or source: %+v", r)
	}
	if len(e.prb.checks) != 1 {
		t.Errorf("the held cell's check stopped: %v", e.prb.checks)
	}
	if st := e.store.object(KindCell, "vco-x1"); st.State != "error" || !strings.Contains(st.Message, "IpsecAuthAlg") {
		t.Errorf("held cell: %+v", st)
	}

	// Mended, then the check turned off: the source leaves the router's lo.
	w.vpns[0].Conn.Ipsec.IpsecAuthAlg = "sha1"
	w.vpns[0].Conn.HealthCheck.Enable = false
	e.store.set(w.view())
	e.settle()
	if r := e.drv.routers["tr-1"]; len(r.Sources) != 0 {
		t.Errorf("sources after the check went: %v", r.Sources)
	}
	if len(e.prb.checks) != 0 {
		t.Errorf("checks after the check went: %v", e.prb.checks)
	}
	if _, ok := e.store.objects[KindHealth+"/vco-x1"]; ok {
		t.Error("the removed check's status is still reported")
	}

	// The connection goes: its cell is deleted, its statuses go.
	w.vpns = nil
	e.store.set(w.view())
	e.settle()
	if _, ok := e.drv.cells["vco-x1"]; ok {
		t.Error("cell not deleted")
	}
	if _, ok := e.store.objects[KindCell+"/vco-x1"]; ok {
		t.Error("status of a deleted cell still reported")
	}
}

// TestWithdrawalLoggedWhenApplied: a failed revoke_route check is logged as withdrawn only
// once the router applied tables without routes through the connection, and as restored
// once they are back; the first (healthy) verdict logs neither.
func TestWithdrawalLoggedWhenApplied(t *testing.T) {
	e := newEnv(t)
	w := newWorld()
	w.add("x1", func(v *service.GatewayVPN) {
		v.Conn.HealthCheck = model.HealthCheck{Enable: true, Sip: "10.0.0.9", Dip: "192.168.1.9", Interval: 3, Retry: 3, Policy: "revoke_route"}
	})
	e.store.set(w.view())
	e.settle()
	const withdrawn, restored = "withdrawn from the transit router's tables", "back in the transit router's tables"
	has := func(s string) bool {
		return slices.ContainsFunc(e.store.logs("vco-x1"), func(l string) bool { return strings.Contains(l, s) })
	}
	e.g.onHealth(probe.Result{ID: "vco-x1", Healthy: true, At: time.Now(), Detail: "reply"})
	e.settle()
	if has(restored) || has(withdrawn) {
		t.Fatalf("the first healthy verdict logged a change: %q", e.store.logs("vco-x1"))
	}
	e.g.onHealth(probe.Result{ID: "vco-x1", Healthy: false, At: time.Now(), Detail: "2 losses"})
	e.settle() // the store has not withdrawn the routes yet: the router still routes through x1
	if has(withdrawn) {
		t.Fatal("withdrawal logged before the router applied it")
	}
	w.vpns[0].Attachment = &model.VpnAttachment{Meta: model.Meta{ID: "tr-attach-x1"}, TransitRouterID: "tr-1", VpnID: "vco-x1"}
	v := w.view()
	v.Routers[0].Forwarding = map[string][]routing.Route{} // what the routing engine computes once the verdict is in
	e.store.set(v)
	e.settle()
	if !has(withdrawn) {
		t.Fatalf("no withdrawal logged after the router applied it: %q", e.store.logs("vco-x1"))
	}
	e.g.onHealth(probe.Result{ID: "vco-x1", Healthy: true, At: time.Now(), Detail: "reply"})
	e.settle()
	if has(restored) {
		t.Fatal("restoration logged before the routes are back")
	}
	e.store.set(w.view())
	e.settle()
	if !has(restored) {
		t.Fatalf("no restoration logged: %q", e.store.logs("vco-x1"))
	}
}

// TestPlacedAndFenced: a gateway node runs only the routers placed on it, and takes its
// data plane down while fenced (its lease lapsed).
func TestPlacedAndFenced(t *testing.T) {
	e := newEnv(t)
	e.g.Placed, e.g.Node = true, "node-a"
	fenced := false
	e.g.Fenced = func() bool { return fenced }
	w := newWorld()
	w.add("x1", nil)
	v := w.view()
	v.Placement = map[string]string{"tr-1": "node-b"}
	e.store.set(v)
	e.settle()
	if len(e.drv.routers) != 0 || len(e.drv.cells) != 0 {
		t.Fatalf("a router placed elsewhere was applied: %v %v", e.drv.routers, e.drv.cells)
	}
	v = w.view()
	v.Placement = map[string]string{"tr-1": "node-a"}
	e.store.set(v)
	e.settle()
	if _, ok := e.drv.cells["vco-x1"]; !ok {
		t.Fatal("the router placed here was not applied")
	}
	fenced = true
	e.settle()
	if len(e.drv.routers) != 0 || len(e.drv.cells) != 0 {
		t.Fatalf("a fenced node kept its data plane: %v %v", e.drv.routers, e.drv.cells)
	}
	fenced = false
	e.settle()
	if _, ok := e.drv.cells["vco-x1"]; !ok {
		t.Fatal("the node did not take its router back once its lease ran again")
	}
	// The store goes out of reach: the node keeps serving while its lease may run, and
	// takes its data plane down once fenced, though it cannot read anything.
	e.store.mu.Lock()
	e.store.down = true
	e.store.mu.Unlock()
	e.settle()
	if _, ok := e.drv.cells["vco-x1"]; !ok {
		t.Fatal("a store that cannot be read took the data plane down before the lease lapsed")
	}
	fenced = true
	e.settle()
	if len(e.drv.routers) != 0 || len(e.drv.cells) != 0 {
		t.Fatalf("a node fenced with its store out of reach kept its data plane: %v %v", e.drv.routers, e.drv.cells)
	}
	e.store.mu.Lock()
	e.store.down = false
	e.store.mu.Unlock()
	fenced = false
	e.settle()
	if _, ok := e.drv.cells["vco-x1"]; !ok {
		t.Fatal("the node did not take its router back once the store and its lease were back")
	}
	// Moved to another node: taken down here.
	v = w.view()
	v.Placement = map[string]string{"tr-1": "node-b"}
	e.store.set(v)
	e.settle()
	if len(e.drv.cells) != 0 {
		t.Fatal("a router moved away still runs here")
	}
}
