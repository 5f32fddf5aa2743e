package gateway

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"opencen/internal/model"
	"opencen/internal/probe"
	"opencen/internal/reconcile"
	"opencen/internal/service"
)

// checkOps applies health checks: each runs in its router's namespace, from a source the
// router holds on its lo (dataplane.Router.Sources), through its connection's link.
type checkOps struct {
	g       *Gateway
	running map[string]checkObject // used from the gateway's loop only
}

func (o *checkOps) Update(_ context.Context, key string, c checkObject) error {
	if o.g.Prober == nil {
		return errors.New("this gateway runs no health checks")
	}
	// The source must be on the router's lo, and the link there, before probes go out:
	// otherwise they fail and the check would report a failure that is not the tunnel's.
	// And the tunnel must have come up once: a new connection's first seconds are not a
	// failure of its path (from then on, a tunnel that goes down fails the check).
	if err := o.g.ready(c.Router, key); err != nil {
		return err
	}
	o.g.mu.Lock()
	up := o.g.everUp[key]
	o.g.mu.Unlock()
	if !up {
		return fmt.Errorf("the tunnel has not come up yet: %w", errWaiting)
	}
	o.running[key] = c
	return o.set(key)
}

func (o *checkOps) Delete(_ context.Context, key string, _ checkObject) error {
	delete(o.running, key)
	o.g.mu.Lock()
	delete(o.g.withdrawals, key)
	delete(o.g.verdicts, key)
	o.g.mu.Unlock()
	return o.set("")
}

// set gives the prober every running check (it keeps unchanged ones running as they
// are); an error about key is key's.
func (o *checkOps) set(key string) error {
	checks := make([]probe.Check, 0, len(o.running))
	for _, id := range slices.Sorted(mapsKeys(o.running)) {
		checks = append(checks, o.running[id].Check)
	}
	err := o.g.Prober.Set(checks)
	if err == nil {
		return nil
	}
	var mine []string
	for _, line := range strings.Split(err.Error(), "\n") {
		if key != "" && strings.Contains(line, `"`+key+`"`) {
			mine = append(mine, line)
		}
	}
	if len(mine) > 0 {
		delete(o.running, key)
		return errors.New(strings.Join(mine, "; "))
	}
	o.g.Log.Warn("gateway: health checks", "err", err)
	return nil
}

// onHealth reports a health-check verdict at once: it is routing input (with
// revoke_route a failed connection's routes are withdrawn). That the withdrawal (or the
// restoration) is in effect is logged when the data plane has applied it
// (reportWithdrawals).
func (g *Gateway) onHealth(r probe.Result) {
	status, word := "failed", "failed"
	if r.Healthy {
		status, word = model.StatusSuccess, "ok"
	}
	err := g.Store.ReportConnection(context.Background(), r.ID, service.Report{Observed: service.Observed{Health: status},
		Logs: []service.LogLine{{Time: r.At, Message: "health_check " + word + ": " + r.Detail}}})
	if err != nil {
		g.Log.Warn("gateway: health report", "vco", r.ID, "err", err)
	}
	g.mu.Lock()
	prev, seen := g.verdicts[r.ID]
	g.verdicts[r.ID] = r.Healthy
	// Only a change of verdict changes the tables (a check starts healthy).
	if seen && prev != r.Healthy || !seen && !r.Healthy {
		g.withdrawals[r.ID] = !r.Healthy
	}
	g.mu.Unlock()
	g.poke()
}

// reportWithdrawals logs, for each connection whose revoke_route check changed its
// verdict, when its router has applied tables with no route through it (withdrawn) or
// with routes through it again (restored).
func (g *Gateway) reportWithdrawals(ctx context.Context) {
	g.mu.Lock()
	pending := make(map[string]bool, len(g.withdrawals))
	for k, v := range g.withdrawals {
		pending[k] = v
	}
	g.mu.Unlock()
	if len(pending) == 0 {
		return
	}
	applied := g.routers.Applied()
	statuses := g.routers.Status()
	for vco, failed := range pending {
		c, ok := g.chkOps.running[vco]
		if !ok || !c.RevokeRoute {
			g.doneWithdrawal(vco, failed)
			continue
		}
		r, ok := applied[c.Router]
		if !ok || statuses[c.Router].Kind != reconcile.Done {
			continue // not applied yet
		}
		routed := false
		for _, t := range r.Tables {
			for _, rt := range t.Routes {
				routed = routed || slices.Contains(rt.NextHops, c.Attachment)
			}
		}
		msg := ""
		switch {
		case failed && !routed:
			msg = "health_check: the routes through this connection are withdrawn from the transit router's tables (applied)"
		case !failed && routed:
			msg = "health_check: the routes through this connection are back in the transit router's tables (applied)"
		default:
			continue
		}
		if err := g.Store.ReportConnection(ctx, vco, service.Report{Logs: []service.LogLine{{Time: time.Now(), Message: msg}}}); err != nil {
			g.Log.Warn("gateway: health report", "vco", vco, "err", err)
			continue
		}
		g.doneWithdrawal(vco, failed)
	}
}

// doneWithdrawal forgets a pending verdict unless a newer one replaced it.
func (g *Gateway) doneWithdrawal(vco string, failed bool) {
	g.mu.Lock()
	if v, ok := g.withdrawals[vco]; ok && v == failed {
		delete(g.withdrawals, vco)
	}
	g.mu.Unlock()
}
