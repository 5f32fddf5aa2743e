package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"time"

	"opencen/internal/dataplane"
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

	events chan dataplane.Event
}

// New makes a gateway; wire OnEvent into the driver's options.
func New(svc *service.Service, layout Layout, log *slog.Logger) *Gateway {
	return &Gateway{Service: svc, Layout: layout, Interval: time.Second, Log: log, events: make(chan dataplane.Event, 4096)}
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
		if err := g.Driver.Apply(ctx, want); err != nil {
			return fmt.Errorf("apply: %w", err)
		}
		*applied = want
		g.Log.Debug("gateway: applied", "routers", len(want.Routers))
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
