package controller

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"opencen/internal/model"
	"opencen/internal/service"
)

// PlacementStore is what the placement controller reads and writes (the service).
type PlacementStore interface {
	PlacementInput(ctx context.Context) (service.PlacementInput, error)
	ApplyPlacement(ctx context.Context, moves []service.Move, connections map[string][]string) error
}

// Placement puts each active transit router, with its connections, on one live gateway
// node of its region, and moves it when its node's lease expires: the surviving node
// rebuilds the router and its cells. It decides from what is in the store only (Decide
// is pure), so two servers running it at once decide the same; on etcd it runs on the
// controllers' leader.
type Placement struct {
	Store PlacementStore
	// Every is how often it looks (default 1 s): a dead node is noticed within its lease
	// plus this.
	Every time.Duration
	Log   *slog.Logger
	Now   func() time.Time
}

// Run places until ctx ends.
func (p *Placement) Run(ctx context.Context) error {
	if p.Every <= 0 {
		p.Every = time.Second
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	t := time.NewTicker(p.Every)
	defer t.Stop()
	for {
		if err := p.Once(ctx); err != nil && ctx.Err() == nil {
			p.Log.Warn("placement", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Once decides and writes the changes.
func (p *Placement) Once(ctx context.Context) error {
	in, err := p.Store.PlacementInput(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	if p.Now != nil {
		now = p.Now()
	}
	moves := Decide(in, now)
	if len(moves) == 0 {
		return nil
	}
	conns := map[string][]string{}
	for _, r := range in.Routers {
		conns[r.ID] = r.Connections
	}
	for _, m := range moves {
		p.Log.Info("placement", "tr", m.Router, "tunnel", m.Tunnel, "from", m.From, "to", m.To, "reason", m.Reason)
	}
	return p.Store.ApplyPlacement(ctx, moves, conns)
}

// Decide places every router that has no live node of its region: on the live node of its
// region in the zone of most of its connections, then one with an underlay, then the one
// with the fewest connections placed on it (within its capacity when it has one), then by
// name. A router whose node is
// alive stays. Then the tunnels of dual-tunnel connections (placeTunnels). Placements of
// routers and tunnels that are gone are removed. No live node in a region: its routers
// keep their (dead) placement until one comes.
func Decide(in service.PlacementInput, now time.Time) []service.Move {
	load := map[string]int{}
	live := map[string]service.GatewayNode{}
	for _, n := range in.Nodes {
		if n.Alive {
			live[n.Node] = n
		}
	}
	routers := map[string]bool{}
	for _, r := range in.Routers {
		routers[r.ID] = true
		if cur, ok := in.Current[r.ID]; ok {
			if n, alive := live[cur.Node]; alive && n.Region == r.Region {
				load[cur.Node] += len(r.Connections)
			}
		}
	}
	var moves []service.Move
	home := map[string]string{} // router -> the node it runs on after these moves
	for _, r := range in.Routers {
		cur, placed := in.Current[r.ID]
		if n, alive := live[cur.Node]; placed && alive && n.Region == r.Region {
			home[r.ID] = cur.Node
			continue
		}
		var candidates []service.GatewayNode
		for _, n := range live {
			if n.Region == r.Region {
				candidates = append(candidates, n)
			}
		}
		if len(candidates) == 0 {
			continue
		}
		inZone := func(n service.GatewayNode) int {
			c := 0
			for _, z := range r.Zones {
				if z == n.Zone {
					c++
				}
			}
			return c
		}
		fits := func(n service.GatewayNode) int {
			if n.Capacity == 0 || load[n.Node]+len(r.Connections) <= n.Capacity {
				return 1
			}
			return 0
		}
		// A node with an underlay can be linked to other nodes (a tunnel in its own zone,
		// an inter-region connection to another node's router); one without keeps all of
		// the router's tunnels with it.
		linkable := func(n service.GatewayNode) int {
			if _, ok := n.UnderlayAddr(); ok {
				return 1
			}
			return 0
		}
		best := slices.MinFunc(candidates, func(a, b service.GatewayNode) int {
			return cmp.Or(cmp.Compare(fits(b), fits(a)), cmp.Compare(inZone(b), inZone(a)), cmp.Compare(linkable(b), linkable(a)),
				cmp.Compare(load[a.Node], load[b.Node]), cmp.Compare(a.Node, b.Node))
		})
		reason := "first placement"
		if placed {
			reason = fmt.Sprintf("gateway node %s is gone", cur.Node)
			for _, n := range in.Nodes {
				if n.Node == cur.Node {
					reason = fmt.Sprintf("gateway node %s's lease expired at %s", n.Node, n.LeaseExpires.UTC().Format(time.RFC3339))
				}
			}
		}
		load[best.Node] += len(r.Connections)
		home[r.ID] = best.Node
		moves = append(moves, service.Move{Router: r.ID, From: cur.Node, To: best.Node, Reason: reason})
	}
	tunnels := map[string]bool{}
	for _, r := range in.Routers {
		for _, t := range r.Tunnels {
			tunnels[t.ID] = true
		}
	}
	moves = append(moves, placeTunnels(in, live, home, load, now)...)
	for id, cur := range in.Current {
		if _, _, tunnel := model.TunnelOf(id); tunnel && !tunnels[id] {
			moves = append(moves, service.Move{Tunnel: id, From: cur.Node, To: "", Reason: "the tunnel is gone"})
		} else if !tunnel && !routers[id] {
			moves = append(moves, service.Move{Router: id, From: cur.Node, To: "", Reason: "the transit router is gone"})
		}
	}
	slices.SortFunc(moves, func(a, b service.Move) int {
		return cmp.Or(cmp.Compare(a.Router, b.Router), cmp.Compare(a.Tunnel, b.Tunnel))
	})
	return moves
}

// settleTime is how long a node must have been alive before a tunnel that runs with its
// router moves back to it: a node that restarts in a loop does not pull a working tunnel
// off its router's node (and renegotiate it) at every start.
const settleTime = 30 * time.Second

// placeTunnels puts each tunnel of a dual-tunnel connection on a live node of its
// router's region in the tunnel's own zone, so that the two tunnels (whose gateway IPs are
// in two zones) run on two machines: its router's node when that is in the zone, else
// the node of the zone with the fewest connections and tunnels (within its capacity), then
// by name. A tunnel stays on a live node of its zone. With no node in its zone that can
// take it and be linked to its router's node (both need underlays on one port), it runs
// with its router, and moves back to its zone once a node there has been alive for
// settleTime. Routers with no live node keep their tunnels where they are. load counts the
// connections of the routers placed on each node (Decide's); tunnels placed apart from
// their router are added to their node's.
func placeTunnels(in service.PlacementInput, live map[string]service.GatewayNode, home map[string]string, load map[string]int, now time.Time) []service.Move {
	for _, r := range in.Routers {
		for _, t := range r.Tunnels {
			cur, placed := in.Current[t.ID]
			if _, alive := live[cur.Node]; placed && alive && cur.Node != home[r.ID] {
				load[cur.Node]++
			}
		}
	}
	linkable := func(a, b service.GatewayNode) bool {
		ua, oka := a.UnderlayAddr()
		ub, okb := b.UnderlayAddr()
		return oka && okb && ua.Port() == ub.Port()
	}
	var moves []service.Move
	for _, r := range in.Routers {
		h, ok := home[r.ID]
		if !ok {
			continue
		}
		for _, t := range r.Tunnels {
			cur, placed := in.Current[t.ID]
			_, curAlive := live[cur.Node]
			var zone []service.GatewayNode
			for _, n := range live {
				if n.Region != r.Region || n.Zone != t.Zone {
					continue
				}
				if n.Node == h || n.Node == cur.Node && curAlive {
					zone = append(zone, n)
					continue
				}
				fits := n.Capacity == 0 || load[n.Node] < n.Capacity
				settled := !placed || !curAlive || now.Sub(n.Started) >= settleTime
				if linkable(n, live[h]) && fits && settled {
					zone = append(zone, n)
				}
			}
			want, reason := h, fmt.Sprintf("no gateway node of zone %s can take it: it runs with transit router %s", t.Zone, r.ID)
			switch {
			case placed && slices.ContainsFunc(zone, func(n service.GatewayNode) bool { return n.Node == cur.Node }):
				want = cur.Node // stays
			case slices.ContainsFunc(zone, func(n service.GatewayNode) bool { return n.Node == h }):
				reason = fmt.Sprintf("zone %s, with transit router %s", t.Zone, r.ID)
			case len(zone) > 0:
				best := slices.MinFunc(zone, func(a, b service.GatewayNode) int {
					return cmp.Or(cmp.Compare(load[a.Node], load[b.Node]), cmp.Compare(a.Node, b.Node))
				})
				want, reason = best.Node, fmt.Sprintf("the node of zone %s; transit router %s runs on %s", t.Zone, r.ID, h)
			}
			if placed && want == cur.Node {
				continue
			}
			if placed && curAlive && cur.Node != h {
				load[cur.Node]--
			}
			if want != h {
				load[want]++
			}
			moves = append(moves, service.Move{Router: r.ID, Tunnel: t.ID, From: cur.Node, To: want, Reason: reason})
		}
	}
	return moves
}
