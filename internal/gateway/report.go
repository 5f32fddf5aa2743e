package gateway

import (
	"context"
	"fmt"
	"time"

	"opencen/internal/dataplane"
	"opencen/internal/reconcile"
	"opencen/internal/service"
)

// report writes, each only when it changed: every object's status, every cell's
// negotiation state, the connections' events, and a log line for each connection object
// that fails (cannot be built, or cannot be applied) saying what is wrong.
func (g *Gateway) report(ctx context.Context) {
	reports := map[string]*service.Report{}
	rep := func(vco string) *service.Report {
		r, ok := reports[vco]
		if !ok {
			r = &service.Report{}
			reports[vco] = r
		}
		return r
	}
	// Events of the cells' charons.
drain:
	for {
		select {
		case e := <-g.events:
			r := rep(e.Cell)
			r.Logs = append(r.Logs, service.LogLine{Time: e.Time, Message: e.Kind + ": " + e.Message})
		default:
			break drain
		}
	}
	// Negotiation states of the cells this gateway runs (the driver's memory).
	if st, err := g.Driver.Status(ctx); err == nil {
		cells := g.cells.Status()
		for _, cs := range st.Cells {
			if _, ours := cells[cs.ID]; !ours || g.reportedState[cs.ID] == cs.State {
				continue
			}
			// A tunnel that went up or down: Pass sees the new signals and runs again at once.
			g.tunnelSignal(g.tunnelIPsec, cs.ID, cs.Running && cs.State == dataplane.IPsecEstablished)
			rep(cs.ID).Observed.Negotiation = cs.State
			g.reportedState[cs.ID] = cs.State
			if cs.State == dataplane.IPsecEstablished {
				g.mu.Lock()
				up := g.everUp[cs.ID]
				g.everUp[cs.ID] = true
				g.mu.Unlock()
				if !up {
					g.checks.RetryWaiting() // its health check starts now
					g.poke()
				}
			}
		}
	}
	for id, c := range g.built.cells {
		if !c.Cell.IPsec.NATTraversal && !g.natNoted[id] {
			g.natNoted[id] = true
			r := rep(id)
			r.Logs = append(r.Logs, service.LogLine{Time: time.Now(), Message: "nat_traversal: NAT traversal is off in the configuration, " +
				"but this gateway's kernel-libipsec data plane always encapsulates ESP in UDP 4500"})
		}
	}
	for id, msg := range g.built.unlinked {
		if !g.unlinkedNoted[id] {
			g.unlinkedNoted[id] = true
			g.Log.Warn("gateway: no link to another gateway node", "id", id, "why", msg)
		}
	}
	for id := range g.unlinkedNoted {
		if _, still := g.built.unlinked[id]; !still {
			delete(g.unlinkedNoted, id) // said again if it comes back
		}
	}
	// Object statuses; a connection object's new failure goes to the connection's log.
	seen := map[string]bool{}
	var changed, gone []service.ObjectStatus
	collect := func(kind string, st map[string]reconcile.Status, router func(string) string, logged bool) {
		for id, s := range st {
			o := service.ObjectStatus{Node: g.Node, Kind: kind, ID: id, Router: router(id), State: string(s.Kind), Message: s.Message, Since: s.Since.UTC()}
			key := kind + "/" + id
			seen[key] = true
			if prev, ok := g.reportedObject[key]; ok && prev.State == o.State && prev.Message == o.Message && prev.Router == o.Router {
				continue
			}
			g.reportedObject[key] = o
			changed = append(changed, o)
			if logged && s.Kind == reconcile.Error && g.loggedProblem[key] != s.Message {
				g.loggedProblem[key] = s.Message
				r := rep(id)
				r.Logs = append(r.Logs, service.LogLine{Time: time.Now(), Message: objectProblem(kind, g.built, id, s.Message)})
			}
			if s.Kind != reconcile.Error {
				delete(g.loggedProblem, key)
			}
		}
	}
	routerOf := func(id string) string { return g.built.routerOf[id] }
	collect(KindRouter, g.routers.Status(), func(string) string { return "" }, false)
	collect(KindCell, g.cells.Status(), routerOf, true)
	collect(KindBGP, g.bgp.Status(), routerOf, true)
	collect(KindHealth, g.checks.Status(), routerOf, true)
	for key, o := range g.reportedObject {
		if !seen[key] {
			gone = append(gone, o)
			delete(g.reportedObject, key)
			delete(g.loggedProblem, key)
		}
	}
	if err := g.Store.ReportObjects(ctx, g.Node, changed, gone); err != nil {
		g.Log.Warn("gateway: report object statuses", "err", err)
		for _, o := range changed { // write them again next time
			delete(g.reportedObject, o.Kind+"/"+o.ID)
		}
	}
	for vco, r := range reports {
		if err := g.Store.ReportConnection(ctx, vco, *r); err != nil {
			g.Log.Warn("gateway: report", "vco", vco, "err", err)
			if r.Observed.Negotiation != "" {
				delete(g.reportedState, vco) // try again next pass
			}
		}
	}
	for id := range g.reportedState {
		if _, ok := g.built.cells[id]; !ok {
			if _, failed := g.built.cellErrs[id]; !failed {
				delete(g.reportedState, id)
				g.mu.Lock()
				delete(g.everUp, id)
				g.mu.Unlock()
			}
		}
	}
	g.reportWithdrawals(ctx)
}

// objectProblem is the log line for a connection object that fails.
func objectProblem(kind string, b objects, id, msg string) string {
	what := map[string]string{KindCell: "tunnel", KindBGP: "BGP session", KindHealth: "health check"}[kind]
	var buildErr error
	switch kind {
	case KindCell:
		buildErr = b.cellErrs[id]
	case KindBGP:
		buildErr = b.bgpErrs[id]
	case KindHealth:
		buildErr = b.checkErrs[id]
	}
	if buildErr != nil {
		return problemText(what, buildErr)
	}
	return fmt.Sprintf("gateway: the %s cannot be applied: %s", what, msg)
}

// Statuses lists every object's status (for the in-process `opencen gateway status` and
// tests).
func (g *Gateway) Statuses() map[string]map[string]reconcile.Status {
	if g.routers == nil {
		return nil
	}
	return map[string]map[string]reconcile.Status{KindRouter: g.routers.Status(), KindCell: g.cells.Status(),
		KindBGP: g.bgp.Status(), KindHealth: g.checks.Status()}
}
