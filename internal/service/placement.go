package service

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"opencen/internal/apierr"
	"opencen/internal/model"
	"opencen/internal/store"
)

// Gateway nodes and placement. A gateway node (`opencen gateway`) keeps two records:
// /cluster/gateways/<node>, what it is (zone, address, capacity), rewritten every third of
// its lease for the LeaseExpires operators see and kept after the node dies, so a dead
// node is listed as such; and /cluster/alive/<node>, written under an etcd lease the node
// keeps alive: etcd deletes it when the node stops renewing, by etcd's clock, not the
// node's. A node is alive while that key exists. The placement controller (in the
// controllers' leader) puts each active transit router, with its connections, on one live
// node of its region (/placement/<tr>), and moves it when its node dies. Records under
// /cluster/ are liveness: their writes move no revision key, so renewing them invalidates
// nothing; placements are desired state (/rev/spec), which the nodes' read models follow.

const (
	placementPrefix    = "/placement/"
	gatewayAlivePrefix = "/cluster/alive/"
)

// GatewayNode is a gateway node's registration.
type GatewayNode struct {
	Node    string `json:"Node"`
	Zone    string `json:"Zone"`
	Region  string `json:"Region"`
	Address string `json:"Address,omitempty"`
	// Capacity is how many connections the node takes (0: no limit).
	Capacity int `json:"Capacity,omitempty"`
	// Underlay is where the node's links to other nodes end (its VXLAN VTEP: address and
	// UDP port), "" when it has none: then nothing is placed on it that needs a link to
	// another node, and its routers' inter-region connections to other nodes have no link.
	Underlay     string    `json:"Underlay,omitempty"`
	Started      time.Time `json:"Started"`
	LeaseExpires time.Time `json:"LeaseExpires"`
	// Alive: the node's lease runs (its key under /cluster/alive/ exists). Set when read.
	Alive bool `json:"-"`
}

// UnderlayAddr is the node's underlay as an address and port (ok false: none, or not
// one).
func (n GatewayNode) UnderlayAddr() (netip.AddrPort, bool) {
	a, err := netip.ParseAddrPort(n.Underlay)
	return a, err == nil && a.Addr().Is4()
}

// Placement says which gateway node runs a transit router, or a tunnel of a dual-tunnel
// connection (keyed by the tunnel's ID) when gateway nodes run in several zones.
type Placement struct {
	Node  string    `json:"node"`
	Since time.Time `json:"since"`
}

// RegisterGatewayNode writes (or renews) a node's registration, valid for ttl. It refuses
// a zone the catalog does not know, and a name another live node holds from another zone.
func (s *Service) RegisterGatewayNode(ctx context.Context, n GatewayNode, ttl time.Duration) (GatewayNode, error) {
	if !model.SafeID(n.Node) {
		return n, fmt.Errorf("gateway node name %q: want 1 to 64 letters, digits, '-', '_' or '.'", n.Node)
	}
	if _, ok := n.UnderlayAddr(); n.Underlay != "" && !ok {
		return n, fmt.Errorf("underlay %q: want an IPv4 address and a port, e.g. 10.0.0.1:4789", n.Underlay)
	}
	region, ok := s.cfg.RegionOfZone(n.Zone)
	if !ok {
		return n, fmt.Errorf("zone %q is not in the catalog (regions and zones come from the server's --config)", n.Zone)
	}
	n.Region = region.ID
	key := GatewaysPrefix + n.Node
	kv, ok, err := s.st.Get(ctx, key)
	if err != nil {
		return n, err
	}
	now := s.now().UTC()
	var old GatewayNode
	had := ok && json.Unmarshal(kv.Value, &old) == nil
	if had && old.Zone != n.Zone {
		alive, err := s.gatewayAlive(ctx, n.Node)
		if err != nil {
			return n, err
		}
		if alive {
			return n, fmt.Errorf("gateway node %s is registered in zone %s and alive: give this node another name (or wait for the old one's lease to run out)", n.Node, old.Zone)
		}
	}
	if had && now.Before(old.LeaseExpires) {
		n.Started = old.Started
	}
	if n.Started.IsZero() {
		n.Started = now
	}
	n.LeaseExpires = now.Add(ttl)
	raw, err := json.Marshal(n)
	if err != nil {
		return n, err
	}
	// A plain put: a registration is this node's alone, and moves no revision key, except
	// when its underlay changed: the other nodes' read models (cached by revision) must
	// then link to the new address.
	ops := []store.Op{store.Put(key, raw)}
	if !had || old.Underlay != n.Underlay {
		ops = append(ops, store.Put(specRevKey, []byte{'1'}))
	}
	if _, err := s.st.Txn(ctx, nil, ops); err != nil {
		return n, err
	}
	return n, nil
}

// DeregisterGatewayNode removes a node's registration: a node that stops cleanly, so its
// routers move now rather than when its lease would have expired.
func (s *Service) DeregisterGatewayNode(ctx context.Context, node string) error {
	_, err := s.st.Txn(ctx, nil, []store.Op{store.Delete(GatewaysPrefix + node)})
	return err
}

// MarkGatewayNodeAlive writes the node's liveness key under its session's lease: while the
// session lives, the node is alive.
func (s *Service) MarkGatewayNodeAlive(ctx context.Context, sess store.Session, node string) error {
	raw, err := json.Marshal(struct{ Node string }{node})
	if err != nil {
		return err
	}
	return sess.Put(ctx, gatewayAlivePrefix+node, raw)
}

// liveNodes are the nodes whose leases run.
func (s *Service) liveNodes(ctx context.Context) (map[string]bool, error) {
	alive, _, err := s.st.List(ctx, gatewayAlivePrefix)
	if err != nil {
		return nil, err
	}
	live := map[string]bool{}
	for _, kv := range alive {
		live[strings.TrimPrefix(kv.Key, gatewayAlivePrefix)] = true
	}
	return live, nil
}

func (s *Service) gatewayAlive(ctx context.Context, node string) (bool, error) {
	_, ok, err := s.st.Get(ctx, gatewayAlivePrefix+node)
	return ok, err
}

// GatewayNodes lists the registered gateway nodes, sorted by name, each with whether it is
// alive.
func (s *Service) GatewayNodes(ctx context.Context) ([]GatewayNode, error) {
	out, err := s.registrations(ctx)
	if err != nil {
		return nil, err
	}
	live, err := s.liveNodes(ctx)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Alive = live[out[i].Node]
	}
	return out, nil
}

// registrations are the gateway nodes' records, sorted by name (Alive not set).
func (s *Service) registrations(ctx context.Context) ([]GatewayNode, error) {
	kvs, _, err := s.st.List(ctx, GatewaysPrefix)
	if err != nil {
		return nil, err
	}
	var out []GatewayNode
	for _, kv := range kvs {
		var n GatewayNode
		if err := json.Unmarshal(kv.Value, &n); err != nil {
			s.log.Warn("a gateway node's registration does not decode", "key", kv.Key, "err", err)
			continue
		}
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b GatewayNode) int { return strings.Compare(a.Node, b.Node) })
	return out, nil
}

// Placements returns every transit router's placement.
func (s *Service) Placements(ctx context.Context) (map[string]Placement, error) {
	kvs, _, err := s.st.List(ctx, placementPrefix)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Placement, len(kvs))
	for _, kv := range kvs {
		var p Placement
		if json.Unmarshal(kv.Value, &p) == nil {
			out[strings.TrimPrefix(kv.Key, placementPrefix)] = p
		}
	}
	return out, nil
}

// PlacementInput is what the placement controller decides from.
type PlacementInput struct {
	Routers []PlacedRouter
	Nodes   []GatewayNode
	Current map[string]Placement
}

// PlacedRouter is a transit router and the zones of its connections.
type PlacedRouter struct {
	ID, Region  string
	Connections []string // vco IDs
	Zones       []string // the connections' zones, one per connection
	// Tunnels are the tunnels of its dual-tunnel connections, each placed on a node of
	// its own zone when there is one.
	Tunnels []PlacedTunnel
}

// PlacedTunnel is one tunnel of a dual-tunnel connection and the zone of its gateway IP.
type PlacedTunnel struct {
	ID, Connection, Zone string
}

// PlacementInput reads the active transit routers with their connections' zones, the
// gateway nodes and the current placements.
func (s *Service) PlacementInput(ctx context.Context) (PlacementInput, error) {
	var in PlacementInput
	var err error
	if in.Nodes, err = s.GatewayNodes(ctx); err != nil {
		return in, err
	}
	if in.Current, err = s.Placements(ctx); err != nil {
		return in, err
	}
	if len(in.Nodes) == 0 && len(in.Current) == 0 {
		return in, nil // no gateway nodes (one machine): nothing to place, nothing to read
	}
	trs, err := listKind[model.TransitRouter](ctx, s, model.KindTR)
	if err != nil {
		return in, err
	}
	vcos, err := listKind[model.VpnConnection](ctx, s, model.KindVpnConnection)
	if err != nil {
		return in, err
	}
	sortByCreated(trs)
	for _, tr := range trs {
		if tr.Status != model.StatusActive {
			continue
		}
		r := PlacedRouter{ID: tr.ID, Region: tr.Region}
		for _, v := range vcos {
			if v.TransitRouterID == tr.ID {
				r.Connections = append(r.Connections, v.ID)
				for _, u := range v.Units() {
					r.Zones = append(r.Zones, u.ZoneNo)
					if v.Dual() {
						r.Tunnels = append(r.Tunnels, PlacedTunnel{ID: u.ID, Connection: v.ID, Zone: u.ZoneNo})
					}
				}
			}
		}
		in.Routers = append(in.Routers, r)
	}
	return in, nil
}

// Move is a change of placement, with why.
type Move struct {
	Router string
	// Tunnel, when set, is the tunnel of one of the router's connections that moves (on
	// its own, to a node of its zone); otherwise the router moves.
	Tunnel   string
	From, To string // "" = none
	Reason   string
}

// Key is what moves: the tunnel, or the router.
func (m Move) Key() string { return cmp.Or(m.Tunnel, m.Router) }

// ApplyPlacement writes placement changes, each with a line in the log of every
// connection of the router (a move is something its owner sees), or of the tunnel that
// moves. A change whose router's (or tunnel's) placement moved meanwhile (another
// controller, a race) is left out. Each move is its own transaction, its log lines in
// transactions of at most placementLogBatch after it: however many moves and connections,
// no transaction passes the store's limit on operations (etcd's 128 by default).
func (s *Service) ApplyPlacement(ctx context.Context, moves []Move, connections map[string][]string) error {
	now := s.now().UTC()
	var errs []error
	for _, m := range moves {
		applied := false
		err := s.update(ctx, func(t *txn) error {
			applied = false
			key := placementPrefix + m.Key()
			var cur Placement
			ok, err := t.get(key, &cur)
			if err != nil {
				return err
			}
			if ok && cur.Node != m.From || !ok && m.From != "" {
				return nil
			}
			if m.To == "" {
				t.del(key)
			} else if err := t.put(key, Placement{Node: m.To, Since: now}); err != nil {
				return err
			}
			if m.Tunnel != "" && m.From != "" {
				// What the old node saw of the tunnel is not the new cell's: until the new
				// node reports, the tunnel is not up (its router's node routes by it).
				var o Observed
				if there, err := t.get(observedKeyOf(m.Tunnel), &o); err == nil && there && o.Negotiation != "" {
					o.Negotiation = ""
					if err := t.put(observedKeyOf(m.Tunnel), o); err != nil {
						return err
					}
				}
			}
			applied = true
			return nil
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("placement of %s: %w", m.Key(), err))
			continue
		}
		if applied {
			errs = append(errs, s.logMove(ctx, m, connections[m.Router], now))
		}
	}
	return errors.Join(errs...)
}

// placementLogBatch is how many log lines one transaction of a move writes.
const placementLogBatch = 100

// logMove writes a move's line in the log of the tunnel that moved, or of every
// connection of the router that moved.
func (s *Service) logMove(ctx context.Context, m Move, vcos []string, now time.Time) error {
	type line struct{ vco, msg string }
	var lines []line
	switch {
	case m.Tunnel != "" && m.To != "": // a tunnel that is gone has no log to write to
		msg := fmt.Sprintf("gateway: tunnel %s now runs on gateway node %s (%s)", m.Tunnel, m.To, m.Reason)
		if m.From != "" {
			msg = fmt.Sprintf("gateway: tunnel %s moved from gateway node %s to %s (%s)", m.Tunnel, m.From, m.To, m.Reason)
		}
		lines = append(lines, line{m.Tunnel, msg})
	case m.Tunnel == "":
		msg := fmt.Sprintf("gateway: transit router %s now runs on gateway node %s", m.Router, m.To)
		if m.From != "" {
			msg = fmt.Sprintf("gateway: moved from gateway node %s to %s (%s)", m.From, m.To, m.Reason)
		}
		if m.To == "" {
			msg = fmt.Sprintf("gateway: no gateway node of its region is alive; the tunnel is down until one is (%s)", m.Reason)
		}
		for _, vco := range vcos {
			lines = append(lines, line{vco, msg})
		}
	}
	for chunk := range slices.Chunk(lines, placementLogBatch) {
		if err := s.update(ctx, func(t *txn) error {
			for _, l := range chunk {
				if err := appendLogAt(t, l.vco, LogLine{Time: now, Message: l.msg}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return fmt.Errorf("log the move of %s: %w", m.Key(), err)
		}
	}
	return nil
}

// GatewayNodeView is a node as `opencen admin gateway list` shows it.
type GatewayNodeView struct {
	GatewayNode
	TransitRouters []string
	Connections    []string
}

// DescribeGatewayNodes lists the gateway nodes with what each runs (admin only).
func (s *Service) DescribeGatewayNodes(ctx context.Context, c Caller) ([]GatewayNodeView, error) {
	if err := requireAdmin(c); err != nil {
		return nil, err
	}
	in, err := s.PlacementInput(ctx)
	if err != nil {
		return nil, err
	}
	var out []GatewayNodeView
	for _, n := range in.Nodes {
		v := GatewayNodeView{GatewayNode: n, TransitRouters: []string{}, Connections: []string{}}
		for _, r := range in.Routers {
			routerHere := in.Current[r.ID].Node == n.Node
			if routerHere {
				v.TransitRouters = append(v.TransitRouters, r.ID)
			}
			tunnels := map[string][]PlacedTunnel{}
			for _, t := range r.Tunnels {
				tunnels[t.Connection] = append(tunnels[t.Connection], t)
			}
			for _, vco := range r.Connections {
				if len(tunnels[vco]) == 0 {
					if routerHere {
						v.Connections = append(v.Connections, vco)
					}
					continue
				}
				// A tunnel runs where it is placed, or with its router.
				for _, t := range tunnels[vco] {
					p, ok := in.Current[t.ID]
					if ok && p.Node == n.Node || !ok && routerHere {
						v.Connections = append(v.Connections, vco+"/"+t.ID)
					}
				}
			}
		}
		out = append(out, v)
	}
	return out, nil
}

// ForgetGatewayNode removes a dead node's registration (admin only): a node taken out of
// service for good. A live node cannot be removed.
func (s *Service) ForgetGatewayNode(ctx context.Context, c Caller, node string) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	if node == "" {
		return apierr.Missing("Node")
	}
	key := GatewaysPrefix + node
	kv, ok, err := s.st.Get(ctx, key)
	if err != nil {
		return err
	}
	if !ok {
		return apierr.New("InvalidGatewayNode.NotFound", "The gateway node %s is not registered.", apierr.Clip(node))
	}
	alive, err := s.gatewayAlive(ctx, node)
	if err != nil {
		return err
	}
	if alive {
		return apierr.New("IncorrectStatus.GatewayNode", "The gateway node %s is alive (its lease runs); stop it first.", apierr.Clip(node))
	}
	res, err := s.st.Txn(ctx, []store.Cmp{{Key: key, ModRevision: kv.ModRevision}}, []store.Op{store.Delete(key)})
	if err != nil {
		return err
	}
	if !res.Succeeded {
		return apierr.New("IncorrectStatus.GatewayNode", "The gateway node %s renewed its registration meanwhile: it is alive; stop it first.", apierr.Clip(node))
	}
	return nil
}
