package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"reflect"
	"time"

	"opencen/internal/dataplane"
	"opencen/internal/probe"
	"opencen/internal/service"
)

// Gateway is the level-triggered loop between the store and a data-plane driver: every
// interval (and whenever nudged) it reads the desired state, applies it when it changed,
// and reports each connection's negotiation status and events to the store.
type Gateway struct {
	Service  *service.Service
	Driver   dataplane.Driver
	Layout   Layout
	Interval time.Duration
	Log      *slog.Logger
	// Prober runs the connections' health checks (nil: none).
	Prober *probe.Prober
	// BGP says how to run BGP speakers (empty Binary: no BGP).
	BGP BGP

	speakers map[string]*speaker // transit router -> its speaker

	events chan dataplane.Event
	// nudge wakes the loop before its tick: a health verdict or a BGP update changed what
	// the tables should hold, and waiting for the tick would add up to a second.
	nudge chan struct{}
}

// namer is what the gateway needs of a driver to aim health checks at a connection.
type namer interface {
	RouterNetns(trID string) string
	AttachmentLink(attachmentID string) string
}

// New makes a gateway; wire OnEvent into the driver's options.
func New(svc *service.Service, layout Layout, log *slog.Logger) *Gateway {
	g := &Gateway{Service: svc, Layout: layout, Interval: time.Second, Log: log, events: make(chan dataplane.Event, 4096),
		speakers: map[string]*speaker{}, nudge: make(chan struct{}, 1)}
	g.Prober = probe.New(probe.Options{OnResult: g.onHealth, Logf: func(format string, args ...any) {
		log.Debug(fmt.Sprintf(format, args...), "component", "probe")
	}})
	return g
}

// onHealth reports a health-check verdict; with revoke_route the service withdraws the
// connection's routes while it is failed.
func (g *Gateway) onHealth(r probe.Result) {
	status, word := "failed", "failed"
	if r.Healthy {
		status, word = "success", "ok"
	}
	err := g.Service.ReportDynamic(context.Background(), r.ID, "", nil, status,
		[]service.LogLine{{Time: r.At, Message: "health_check " + word + ": " + r.Detail}})
	if err != nil {
		g.Log.Warn("gateway: health report", "vco", r.ID, "err", err)
	}
	g.poke()
}

// poke asks the loop for a sync now (a pending request is enough).
func (g *Gateway) poke() {
	select {
	case g.nudge <- struct{}{}:
	default:
	}
}

// healthChecks aims a probe through each connection with its health check on; the
// source address is added to the router namespace (the customer routes it back through
// the tunnel, as the product page asks).
func (g *Gateway) healthChecks(ctx context.Context, view service.GatewayView, ensure bool) error {
	n, ok := g.Driver.(namer)
	if !ok || g.Prober == nil {
		return nil
	}
	var checks []probe.Check
	for _, r := range view.Routers {
		ns := n.RouterNetns(r.TR.ID)
		for _, v := range r.VPNs {
			hc := v.Conn.HealthCheck
			if !hc.Enable {
				continue
			}
			src, dst := netip.MustParseAddr(hc.Sip), netip.MustParseAddr(hc.Dip)
			if ensure {
				if _, err := probe.EnsureSource(ctx, ns, src); err != nil {
					g.Log.Warn("gateway: health-check source", "vco", v.Conn.ID, "err", err)
				}
			}
			checks = append(checks, probe.Check{ID: v.Conn.ID, Netns: ns, Link: n.AttachmentLink(v.Attachment.ID), Source: src, Destination: dst,
				Interval: time.Duration(hc.Interval) * time.Second, Retry: int(hc.Retry)})
		}
	}
	return g.Prober.Set(checks)
}

// OnEvent receives the driver's events; it never blocks (events beyond the buffer are
// dropped and counted in the log).
func (g *Gateway) OnEvent(e dataplane.Event) {
	select {
	case g.events <- e:
	default:
		g.Log.Warn("gateway: event buffer full, event dropped", "vco", e.Cell, "kind", e.Kind)
	}
}

// reapplyEvery bounds how long drift can last.
const reapplyEvery = 30 * time.Second

// Run works until ctx ends. The data plane keeps running afterwards: a restarted gateway
// re-adopts it.
func (g *Gateway) Run(ctx context.Context) error {
	var applied *dataplane.Desired
	natNoted := map[string]bool{}
	t := time.NewTicker(g.Interval)
	defer t.Stop()
	if c, ok := g.Driver.(interface{ Close() }); ok {
		defer c.Close() // stops watching; the tunnels stay up for the next gateway
	}
	if g.Prober != nil {
		defer g.Prober.Close()
	}
	defer func() { // speakers keep running for the next gateway, which re-adopts them
		for id := range g.speakers {
			g.dropSpeaker(id, false)
		}
	}()
	lastApply := time.Time{}
	for {
		// Apply is level-triggered: re-applying now and then repairs drift (a killed
		// charon, a deleted route) even when the desired state did not change.
		if time.Since(lastApply) > reapplyEvery {
			applied, lastApply = nil, time.Now()
		}
		if err := g.once(ctx, &applied, natNoted); err != nil && ctx.Err() == nil {
			g.Log.Warn("gateway: sync failed; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		case <-g.nudge:
		}
	}
}

func (g *Gateway) once(ctx context.Context, applied **dataplane.Desired, natNoted map[string]bool) error {
	view, err := g.Service.GatewayView(ctx)
	if err != nil {
		return fmt.Errorf("read desired state: %w", err)
	}
	want, err := Desired(view, g.Layout)
	if err != nil {
		return fmt.Errorf("desired state: %w", err)
	}
	if *applied == nil || !reflect.DeepEqual(*applied, want) {
		// Speakers of routers about to disappear stop first: their namespace goes away.
		present := map[string]bool{}
		for _, r := range want.Routers {
			present[r.ID] = true
		}
		for id := range g.speakers {
			if !present[id] {
				g.dropSpeaker(id, true)
			}
		}
		if err := g.Driver.Apply(ctx, want); err != nil {
			return fmt.Errorf("apply: %w", err)
		}
		*applied = want
		g.Log.Debug("gateway: applied", "routers", len(want.Routers))
		// A re-created router namespace lost the sources: ensure them after each apply.
		if err := g.healthChecks(ctx, view, true); err != nil {
			g.Log.Warn("gateway: health checks", "err", err)
		}
	} else if err := g.healthChecks(ctx, view, false); err != nil {
		g.Log.Warn("gateway: health checks", "err", err)
	}
	if err := g.syncBGP(ctx, view); err != nil {
		g.Log.Warn("gateway: bgp", "err", err)
	}
	for _, r := range view.Routers {
		for _, v := range r.VPNs {
			if !v.Conn.EnableNatTraversal && !natNoted[v.Conn.ID] {
				natNoted[v.Conn.ID] = true
				g.report(ctx, v.Conn.ID, "", []service.LogLine{{Time: time.Now(), Message: "nat_traversal: NAT traversal is off in the configuration, " +
					"but this gateway's kernel-libipsec data plane always encapsulates ESP in UDP 4500"}})
			}
		}
	}
	return g.reportStatus(ctx)
}

// reportStatus writes every cell's negotiation state and the events seen since last time.
func (g *Gateway) reportStatus(ctx context.Context) error {
	st, err := g.Driver.Status(ctx)
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	lines := map[string][]service.LogLine{}
drain:
	for {
		select {
		case e := <-g.events:
			lines[e.Cell] = append(lines[e.Cell], service.LogLine{Time: e.Time, Message: e.Kind + ": " + e.Message})
		default:
			break drain
		}
	}
	for _, c := range st.Cells {
		g.report(ctx, c.ID, c.State, lines[c.ID])
		delete(lines, c.ID)
	}
	for vco, l := range lines {
		g.report(ctx, vco, "", l)
	}
	return nil
}

func (g *Gateway) report(ctx context.Context, vco, state string, lines []service.LogLine) {
	if err := g.Service.ReportNegotiation(ctx, vco, state, lines); err != nil {
		g.Log.Warn("gateway: report", "vco", vco, "err", err)
	}
}
