// Package gateway applies the store's transit routers and IPsec-VPN connections to a
// data-plane driver, object by object, and reports what it sees back.
//
// A pass reads the read model (service.DataPlane; the same pointer while nothing
// changed), builds the objects of the data plane from it (build: routers, cells, BGP
// neighbors, health checks; a connection that does not build fails only its own objects),
// hands them to one reconciler per kind (internal/reconcile: each object is applied,
// retried with backoff and removed on its own, with a status), and reports statuses,
// negotiation states and events to the store. Nothing is applied when nothing changed:
// the cost of a pass grows with what changed, not with what exists.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"opencen/internal/dataplane"
	"opencen/internal/model"
	"opencen/internal/probe"
	"opencen/internal/reconcile"
	"opencen/internal/service"
)

// Driver is what the gateway needs of a data-plane driver (dataplane.Netns).
type Driver interface {
	UpdateRouter(ctx context.Context, r dataplane.Router) error
	DeleteRouter(ctx context.Context, id string) error
	UpdateCell(ctx context.Context, routerID string, c dataplane.Cell) error
	DeleteCell(ctx context.Context, id string) error
	Prune(ctx context.Context, routers, cells []string) error
	Status(ctx context.Context) (dataplane.Status, error)
}

// Store is the part of the service the gateway reads and writes.
type Store interface {
	DataPlane(ctx context.Context) (*service.GatewayView, error)
	ReportConnection(ctx context.Context, vco string, r service.Report) error
	ReportObjects(ctx context.Context, node string, changed, gone []service.ObjectStatus) error
}

// Prober runs the health checks (probe.Prober).
type Prober interface {
	Set(checks []probe.Check) error
	Close()
}

// Object kinds, as statuses name them.
const (
	KindRouter = "router"
	KindCell   = "cell"
	KindBGP    = "bgp"
	KindHealth = "health-check"
)

// Defaults.
const (
	defaultInterval   = time.Second
	defaultRefresh    = 10 * time.Minute
	defaultPruneEvery = time.Minute
	cellWorkers       = 4
)

// Gateway is the loop between the store and a data-plane driver.
type Gateway struct {
	Store  Store
	Driver Driver
	Layout Layout
	// Node names this gateway in object statuses ("local" for the server's own).
	Node string
	// Interval bounds the time between passes; changes in the store, events, health
	// verdicts and BGP updates wake the loop at once (default 1 s).
	Interval time.Duration
	// Refresh is how often an applied object is applied again to repair drift nobody
	// reported (default 10 min: drift that is reported, a charon that dies, is repaired at
	// once; at 200 cells this is one cell every 3 s); PruneEvery how often what nobody
	// wants is looked for and removed (default 1 min).
	Refresh, PruneEvery time.Duration
	// Changes, when set, signals changes of the read model (so that a pass runs at once).
	Changes <-chan struct{}
	Log     *slog.Logger
	// Prober runs the connections' health checks (nil: none).
	Prober Prober
	// Speakers runs the BGP speakers (nil: no BGP).
	Speakers Speakers
	// Placed: this gateway is a gateway node and runs only the transit routers placed on
	// it (GatewayView.Placement); otherwise (the server's in-process gateway) it runs all.
	Placed bool
	// Fenced, when set and true, means this node lost its lease (it cannot reach the store
	// to renew it, so its routers may be running elsewhere already): it takes its data
	// plane down rather than answer for gateway IPs another node now holds.
	Fenced func() bool
	// MeterEvery is how often the routers' traffic counters are read and reported
	// (DefaultMeterEvery when zero; meter.go). Metering runs when the driver is a Meterer
	// and the store a UsageStore.
	MeterEvery time.Duration

	routers *reconcile.Reconciler[dataplane.Router]
	cells   *reconcile.Reconciler[cellObject]
	bgp     *reconcile.Reconciler[neighborObject]
	checks  *reconcile.Reconciler[checkObject]
	bgpOps  *bgpOps
	chkOps  *checkOps

	view      *service.GatewayView // the read model last built from
	fenced    bool                 // the view was taken while fenced
	built     objects
	lastPrune time.Time

	events chan dataplane.Event
	// nudge wakes the loop before its tick.
	nudge chan struct{}

	mu sync.Mutex // guards what callbacks leave for the loop
	// repair lists cells whose charon the driver found dead.
	repair map[string]bool
	// withdrawals are health verdicts waiting for the data plane to apply them (see
	// reportWithdrawals): connection -> failed.
	withdrawals map[string]bool
	// verdicts are the health checks' last verdicts (healthy).
	verdicts map[string]bool
	// everUp lists the cells that reported ipsec_sa_established at least once.
	everUp map[string]bool
	// tunnelIPsec and tunnelBGP are the last seen states of dual-tunnel connections'
	// tunnels (their cells' IPsec SA, their BGP sessions), from which build chooses the
	// tunnel that carries traffic; builtSignals is the key of what the last build used.
	tunnelIPsec, tunnelBGP map[string]bool
	// remoteState is the last negotiation state read of each tunnel whose cell runs on
	// another node (followRemote; used from the loop only).
	remoteState  map[string]string
	builtSignals string
	// speakerGone are speakers whose watch ended.
	speakerGone []*speakerState

	// passes are the durations of recent passes (see Passes).
	passes []PassTime
	// meterRouters are the routers applied by the last pass, for the metering loop.
	meterRouters []string
	meter        meterState // the metering loop's own

	// What was last written, so that only changes are written.
	reportedState  map[string]string
	reportedObject map[string]service.ObjectStatus
	loggedProblem  map[string]string
	natNoted       map[string]bool
	// unlinkedNoted are the inter-region connections whose missing link was logged.
	unlinkedNoted map[string]bool
}

// New makes a gateway; wire OnEvent and OnState into the driver's options, then set
// Driver.
func New(store Store, layout Layout, log *slog.Logger) *Gateway {
	g := &Gateway{Store: store, Layout: layout, Node: "local", Interval: defaultInterval, Log: log,
		events: make(chan dataplane.Event, 4096), nudge: make(chan struct{}, 1),
		repair: map[string]bool{}, withdrawals: map[string]bool{}, verdicts: map[string]bool{}, everUp: map[string]bool{},
		tunnelIPsec: map[string]bool{}, tunnelBGP: map[string]bool{}, remoteState: map[string]string{},
		reportedState: map[string]string{}, reportedObject: map[string]service.ObjectStatus{},
		loggedProblem: map[string]string{}, natNoted: map[string]bool{}, unlinkedNoted: map[string]bool{}}
	g.Prober = probe.New(probe.Options{OnResult: g.onHealth, Logf: func(format string, args ...any) {
		log.Debug(fmt.Sprintf(format, args...), "component", "probe")
	}})
	return g
}

// poke asks the loop for a pass now (a pending request is enough).
func (g *Gateway) poke() {
	select {
	case g.nudge <- struct{}{}:
	default:
	}
}

// OnEvent receives the driver's events; it never blocks (events beyond the buffer are
// dropped and counted in the log).
func (g *Gateway) OnEvent(e dataplane.Event) {
	select {
	case g.events <- e:
		g.poke()
	default:
		g.Log.Warn("gateway: event buffer full, event dropped", "vco", e.Cell, "kind", e.Kind)
	}
}

// OnState receives a cell's status when its negotiation state or its charon's liveness
// changes; a dead charon makes the cell due for repair.
func (g *Gateway) OnState(cs dataplane.CellStatus) {
	g.mu.Lock()
	if !cs.Running {
		g.repair[cs.ID] = true
	}
	g.mu.Unlock()
	g.tunnelSignal(g.tunnelIPsec, cs.ID, cs.Running && cs.State == dataplane.IPsecEstablished)
	g.poke()
}

// tunnelSignal records a state of a dual-tunnel connection's tunnel (other IDs are not
// recorded: their routes do not depend on it).
func (g *Gateway) tunnelSignal(m map[string]bool, id string, up bool) {
	if _, _, ok := model.TunnelOf(id); !ok {
		return
	}
	g.mu.Lock()
	m[id] = up
	g.mu.Unlock()
}

// forgetSignals drops what was seen of tunnels that are gone (o is the new build, prev the
// one before): a tunnel attached again starts unknown (down), not with what its previous
// life last said.
func (g *Gateway) forgetSignals(prev, o objects) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, m := range []map[string]bool{g.tunnelIPsec, g.tunnelBGP} {
		maps.DeleteFunc(m, func(id string, _ bool) bool {
			_, here := o.cells[id]
			_, elsewhere := o.remote[id]
			return !here && !elsewhere
		})
	}
	maps.DeleteFunc(g.remoteState, func(id, _ string) bool { _, ok := o.remote[id]; return !ok })
	// A tunnel that left this node's routers (or came back from another node, as a cell
	// of its own) starts as not yet up: its health check waits for it again.
	maps.DeleteFunc(g.everUp, func(id string, _ bool) bool {
		_, remote := o.remote[id]
		_, here := o.cells[id]
		_, failing := o.cellErrs[id]
		_, wasRemote := prev.remote[id]
		return remote != wasRemote || !remote && !here && !failing
	})
}

// RemoteStates is what a gateway reads of the tunnels of its routers whose cells run on
// other gateway nodes: the negotiation states those nodes reported (service.Service).
type RemoteStates interface {
	// Negotiations takes tunnel ID -> the node that runs its cell.
	Negotiations(ctx context.Context, on map[string]string) (map[string]string, error)
}

// followRemote reads the negotiation state of the tunnels whose cells run on other nodes
// (what those nodes reported to the store) as their IPsec signals: traffic moves off a
// tunnel whose remote cell went down as it does off a local one, one store read later;
// off one whose node died when that node's lease runs out.
// A tunnel that comes up for the first time starts its health check, as a local one does.
func (g *Gateway) followRemote(ctx context.Context) {
	rs, ok := g.Store.(RemoteStates)
	if !ok || len(g.built.remote) == 0 {
		return
	}
	states, err := rs.Negotiations(ctx, g.built.remote)
	if err != nil {
		if ctx.Err() == nil {
			g.Log.Warn("gateway: read the state of tunnels on other nodes", "err", err)
		}
		return
	}
	for id := range g.built.remote {
		st := states[id]
		if g.remoteState[id] == st {
			continue
		}
		g.remoteState[id] = st
		up := st == dataplane.IPsecEstablished
		g.tunnelSignal(g.tunnelIPsec, id, up)
		g.mu.Lock()
		first := up && !g.everUp[id]
		if up {
			g.everUp[id] = true
		}
		g.mu.Unlock()
		if first {
			g.checks.RetryWaiting()
		}
	}
}

// signals is a copy of what build chooses tunnels by.
func (g *Gateway) signals() Signals {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := Signals{IPsec: maps.Clone(g.tunnelIPsec), BGP: maps.Clone(g.tunnelBGP), Health: map[string]bool{}}
	for id, ok := range g.verdicts {
		if _, _, tunnel := model.TunnelOf(id); tunnel {
			s.Health[id] = ok
		}
	}
	return s
}

// waiting: an object waits for another (dataplane.ErrWaiting, or the gateway's own).
var errWaiting = errors.New("waiting for another object")

func isWaiting(err error) bool {
	return errors.Is(err, dataplane.ErrWaiting) || errors.Is(err, errWaiting)
}

func (g *Gateway) init() {
	if g.Interval <= 0 {
		g.Interval = defaultInterval
	}
	if g.Refresh <= 0 {
		g.Refresh = defaultRefresh
	}
	if g.PruneEvery <= 0 {
		g.PruneEvery = defaultPruneEvery
	}
	opts := reconcile.Options{Waiting: isWaiting, Refresh: g.Refresh}
	g.routers = reconcile.New[dataplane.Router](routerOps{g.Driver}, opts)
	// Cells are independent of each other and their updates mostly wait (ip, charon's
	// start): a few at once.
	cellOpts := opts
	cellOpts.Workers = cellWorkers
	g.cells = reconcile.New[cellObject](cellOps{g.Driver}, cellOpts)
	g.bgpOps = &bgpOps{g: g, speakers: map[string]*speakerState{}}
	g.bgp = reconcile.New[neighborObject](g.bgpOps, opts)
	g.chkOps = &checkOps{g: g, running: map[string]checkObject{}}
	g.checks = reconcile.New[checkObject](g.chkOps, opts)
}

// Run works until ctx ends. The data plane keeps running afterwards: a restarted gateway
// re-adopts it.
func (g *Gateway) Run(ctx context.Context) error {
	g.init()
	if c, ok := g.Driver.(interface{ Close() }); ok {
		defer c.Close() // stops watching; the tunnels stay up for the next gateway
	}
	if g.Prober != nil {
		defer g.Prober.Close()
	}
	defer g.bgpOps.close() // speakers keep running for the next gateway, which re-adopts them
	mctx, stopMeter := context.WithCancel(ctx)
	metered := make(chan struct{})
	go func() { defer close(metered); g.runMeter(mctx) }()
	defer func() { stopMeter(); <-metered }()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		next := g.Pass(ctx)
		if next < 0 || next > g.Interval {
			next = g.Interval
		}
		t.Reset(next)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		case <-g.nudge:
		case <-g.Changes:
		}
	}
}

// PassTime is how long one pass took, and whether it applied anything.
type PassTime struct {
	At       time.Time
	Duration time.Duration
	// Changed: the read model was new, or some object was due.
	Changed bool
}

// Passes returns the durations of the last passes (at most 1000), oldest first.
func (g *Gateway) Passes() []PassTime {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.passes)
}

// AppliedRouter is the router object last applied (for benchmarks and diagnostics).
func (g *Gateway) AppliedRouter(id string) (dataplane.Router, bool) {
	if g.routers == nil {
		return dataplane.Router{}, false
	}
	r, ok := g.routers.Applied()[id]
	return r, ok
}

// Pass runs one pass and returns when the next one is due (-1: nothing scheduled). It
// must not run concurrently with Run.
func (g *Gateway) Pass(ctx context.Context) time.Duration {
	if g.routers == nil {
		g.init()
	}
	t0 := time.Now()
	changed := false
	defer func() {
		g.mu.Lock()
		g.passes = append(g.passes, PassTime{At: t0, Duration: time.Since(t0), Changed: changed})
		if len(g.passes) > 1000 {
			g.passes = slices.Delete(g.passes, 0, len(g.passes)-1000)
		}
		g.mu.Unlock()
	}()
	fenced := g.Fenced != nil && g.Fenced()
	view, err := g.Store.DataPlane(ctx)
	if err != nil && (!fenced || g.fenced) {
		if ctx.Err() == nil {
			g.Log.Warn("gateway: read desired state; retrying", "err", err)
		}
		return g.Interval
	}
	if err != nil {
		// Fenced because the store is out of reach: the data plane goes down all the same.
		view = g.view
	}
	// Built again when the read model changed, and with each prune: a build also looks at
	// the system (Layout.VPCNetns: whether a VPC's namespace exists yet).
	prune := time.Since(g.lastPrune) > g.PruneEvery
	sig := g.signals()
	if key := sig.key(); view != g.view || prune || fenced != g.fenced || key != g.builtSignals {
		changed = true
		mine := g.mine(view, fenced)
		g.view, g.fenced, g.builtSignals = view, fenced, key
		l := g.Layout
		l.Node, l.Placed = g.Node, g.Placed
		prev := g.built
		g.built = build(mine, l, held{cells: g.cells.Applied(), checks: g.checks.Applied()}, sig)
		g.forgetSignals(prev, g.built)
		g.routers.Set(g.built.routers, g.built.routerErrs)
		g.cells.Set(g.built.cells, g.built.cellErrs)
		g.bgp.Set(g.built.neighbors, g.built.bgpErrs)
		g.checks.Set(g.built.checks, g.built.checkErrs)
	}
	g.mu.Lock()
	repair := slices.Collect(maps.Keys(g.repair))
	clear(g.repair)
	gone := g.speakerGone
	g.speakerGone = nil
	g.mu.Unlock()
	g.bgpOps.speakersGone(gone)
	if len(repair) > 0 {
		g.cells.Refresh(repair...)
	}
	if prune {
		if err := g.Driver.Prune(ctx, g.routers.Keep(), g.cells.Keep()); err != nil && ctx.Err() == nil {
			g.Log.Warn("gateway: prune", "err", err)
		}
		g.lastPrune = time.Now()
	}
	changed = changed || g.routers.Next() == 0 || g.cells.Next() == 0 || g.bgp.Next() == 0 || g.checks.Next() == 0
	next, routersDone := g.routers.Step(ctx)
	cellNext, cellsDone := g.cells.Step(ctx)
	if cellsDone > 0 {
		// Cells just made their links: routers waiting for them go now.
		g.routers.RetryWaiting()
		var n int
		next, n = g.routers.Step(ctx)
		routersDone += n
	}
	next = earliest(next, cellNext)
	if routersDone+cellsDone > 0 {
		g.bgp.RetryWaiting()
		g.checks.RetryWaiting()
	}
	g.bgp.Step(ctx)
	g.checks.Step(ctx)
	if changed || routersDone > 0 {
		applied := slices.Sorted(maps.Keys(g.routers.Applied()))
		g.mu.Lock()
		g.meterRouters = applied
		g.mu.Unlock()
	}
	g.report(ctx) // may make objects due (a tunnel up for the first time starts its check)
	g.followRemote(ctx)
	for _, n := range []time.Duration{g.routers.Next(), g.cells.Next(), g.bgp.Next(), g.checks.Next()} {
		next = earliest(next, n)
	}
	if g.signals().key() != g.builtSignals {
		next = 0 // a tunnel went up or down: choose tunnels again now
	}
	return next
}

// mine is the read model this gateway builds from: nothing while fenced. (build takes
// what is placed on this node: a gateway node needs the whole read model to link its
// objects to those of other nodes.)
func (g *Gateway) mine(view *service.GatewayView, fenced bool) *service.GatewayView {
	if fenced {
		if !g.fenced {
			g.Log.Error("gateway: this node's lease lapsed (the store cannot be reached); taking its data plane down")
		}
		return &service.GatewayView{}
	}
	return view
}

func earliest(a, b time.Duration) time.Duration {
	switch {
	case a < 0:
		return b
	case b < 0:
		return a
	}
	return min(a, b)
}

type routerOps struct{ d Driver }

func (o routerOps) Update(ctx context.Context, _ string, r dataplane.Router) error {
	return o.d.UpdateRouter(ctx, r)
}
func (o routerOps) Delete(ctx context.Context, key string, _ dataplane.Router) error {
	return o.d.DeleteRouter(ctx, key)
}

type cellOps struct{ d Driver }

func (o cellOps) Update(ctx context.Context, _ string, c cellObject) error {
	return o.d.UpdateCell(ctx, c.Router, c.Cell)
}
func (o cellOps) Delete(ctx context.Context, key string, _ cellObject) error {
	return o.d.DeleteCell(ctx, key)
}

// ready reports whether a router (and, when cell is set, a connection's cell) is applied:
// BGP neighbors and health checks run in the router's namespace, over the cell's link.
func (g *Gateway) ready(router, cell string) error {
	if st := g.routers.Status()[router]; st.Kind != reconcile.Done {
		return fmt.Errorf("the transit router %s is not applied yet: %w", router, errWaiting)
	}
	if _, elsewhere := g.built.remote[cell]; cell != "" && !elsewhere {
		if st := g.cells.Status()[cell]; st.Kind != reconcile.Done {
			return fmt.Errorf("the tunnel is not applied yet: %w", errWaiting)
		}
	}
	return nil
}
