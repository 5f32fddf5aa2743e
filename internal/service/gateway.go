package service

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"opencen/internal/config"
	"slices"
	"strings"
	"sync"
	"time"

	"opencen/internal/model"
	"opencen/internal/routing"
)

// ---------------------------------------------------------------- the read model

// GatewayView is everything a data-plane gateway applies: every transit router with its
// tables, associations and computed forwarding, and its attachments, at one spec
// revision. It is read with the gateway's privilege (all accounts).
type GatewayView struct {
	// SpecRevision and RoutingRevision are the revisions it reflects (see revisions.go).
	SpecRevision, RoutingRevision int64
	Routers                       []GatewayRouter
	// Placement maps a transit router to the gateway node that runs it (gateway nodes
	// run only their own; the server's in-process gateway runs all).
	Placement map[string]string
	// VPCBindings are the admin's VPC bindings (BindVpc), by VPC ID.
	VPCBindings map[string]config.VPCBinding
	// Underlays are the registered gateway nodes' underlays (their VXLAN endpoints), by
	// node: links between objects that run on two nodes go between these. Read with the
	// placements: a node's underlay is there before anything that needs it is placed
	// on the node.
	Underlays map[string]netip.AddrPort
}

// GatewayRouter is one transit router as the data plane sees it.
type GatewayRouter struct {
	TR           *model.TransitRouter
	Tables       []*model.RouteTable
	Associations map[string]string          // attachment -> table
	Forwarding   map[string][]routing.Route // table -> active routes (ECMP next hops merged)
	VPNs         []GatewayVPN
	VPCs         []*model.VpcAttachment
	// Peers are the router's inter-region connections (either end).
	Peers []*model.PeerAttachment
}

// GatewayVPN is one attached IPsec-VPN connection with what its tunnel needs.
type GatewayVPN struct {
	Attachment *model.VpnAttachment
	Conn       model.VpnConnection // Ike.Psk opened
	Gateway    model.CustomerGateway
	// BgpAuthKey is the customer gateway's MD5 key, opened.
	BgpAuthKey string
	// Advertised is what route synchronization announces to the customer over BGP (empty
	// without AutoPublishRouteEnabled or BGP).
	Advertised []netip.Prefix
	// Err says why the connection's records cannot be used (a key that does not open, a
	// missing customer gateway): the gateway reports it as the connection's error and
	// goes on with the others.
	Err error
	// Tunnel is set when Conn is one tunnel of a dual-tunnel connection: Conn.ID is the
	// tunnel's ID, and the tunnel has a link of its own (named by that ID) where a
	// single-tunnel connection's link is named by the attachment.
	Tunnel *GatewayTunnel
}

// GatewayTunnel is what the data plane needs to choose between a connection's tunnels.
type GatewayTunnel struct {
	// Connection is the dual-tunnel connection's ID.
	Connection string
	// Role is master or slave: without ECMP, traffic goes over the master while it is up.
	Role string
	// ECMP (EnableTunnelsBgp): traffic goes over every tunnel that is up.
	ECMP bool
}

// readModel caches the last GatewayView by the revisions it reflects.
type readModel struct {
	mu   sync.Mutex
	view *GatewayView
}

// DataPlane returns the gateway's read model: the same pointer as the last call when
// neither desired state nor any routing input changed since, so that a gateway can tell
// "nothing changed" with two reads of the store.
func (s *Service) DataPlane(ctx context.Context) (*GatewayView, error) {
	revs, err := s.revisions(ctx, specRevKey, routingRevKey)
	if err != nil {
		return nil, err
	}
	s.dp.mu.Lock()
	defer s.dp.mu.Unlock()
	if v := s.dp.view; v != nil && v.SpecRevision == revs[0] && v.RoutingRevision == revs[1] {
		return v, nil
	}
	v, err := s.gatewayView(ctx)
	if err != nil {
		return nil, err
	}
	v.SpecRevision, v.RoutingRevision = revs[0], revs[1]
	s.dp.view = &v
	return s.dp.view, nil
}

// GatewayView reads the data plane's desired state now (not cached; see DataPlane).
func (s *Service) GatewayView(ctx context.Context) (GatewayView, error) { return s.gatewayView(ctx) }

func (s *Service) gatewayView(ctx context.Context) (GatewayView, error) {
	view := GatewayView{Placement: map[string]string{}}
	placements, err := s.Placements(ctx)
	if err != nil {
		return view, err
	}
	for tr, p := range placements {
		view.Placement[tr] = p.Node
	}
	nodes, err := s.registrations(ctx) // a dead node's underlay too: its links stay until its work moves
	if err != nil {
		return view, err
	}
	for _, n := range nodes {
		if a, ok := n.UnderlayAddr(); ok {
			if view.Underlays == nil {
				view.Underlays = map[string]netip.AddrPort{}
			}
			view.Underlays[n.Node] = a
		}
	}
	if view.VPCBindings, err = s.vpcBindings(ctx); err != nil {
		return view, err
	}
	trs, err := listKind[model.TransitRouter](ctx, s, model.KindTR)
	if err != nil {
		return view, err
	}
	tables, err := listKind[model.RouteTable](ctx, s, model.KindRouteTable)
	if err != nil {
		return view, err
	}
	vpnAtts, err := listKind[model.VpnAttachment](ctx, s, model.KindVpnAttachment)
	if err != nil {
		return view, err
	}
	vpcAtts, err := listKind[model.VpcAttachment](ctx, s, model.KindVpcAttachment)
	if err != nil {
		return view, err
	}
	peers, err := listKind[model.PeerAttachment](ctx, s, model.KindPeerAttachment)
	if err != nil {
		return view, err
	}
	vcos, err := byID[model.VpnConnection](ctx, s, model.KindVpnConnection)
	if err != nil {
		return view, err
	}
	cgws, err := byID[model.CustomerGateway](ctx, s, model.KindCustomerGateway)
	if err != nil {
		return view, err
	}
	sortByCreated(trs)
	for _, tr := range trs {
		if tr.Status != model.StatusActive {
			continue
		}
		gr := GatewayRouter{TR: tr, Associations: map[string]string{}, Forwarding: map[string][]routing.Route{}}
		for _, rt := range tables {
			if rt.TransitRouterID == tr.ID && rt.Status == model.StatusActive {
				gr.Tables = append(gr.Tables, rt)
			}
		}
		for _, a := range vpnAtts {
			// Attaching connections get their tunnel at once, so it can be up when Attached.
			if a.TransitRouterID != tr.ID || a.Status == model.AttachmentDetaching {
				continue
			}
			gr.VPNs = append(gr.VPNs, s.gatewayVPNs(a, vcos, cgws)...)
		}
		for _, a := range vpcAtts {
			if a.TransitRouterID == tr.ID && a.Status != model.AttachmentDetaching {
				gr.VPCs = append(gr.VPCs, a)
			}
		}
		for _, a := range peers {
			if a.Connects(tr.ID) && a.Status != model.AttachmentDetaching {
				gr.Peers = append(gr.Peers, a)
			}
		}
		err := s.withRoutes(ctx, tr, func(v routing.View) error {
			e, ok := v.(*routing.Engine)
			if !ok {
				return errors.New("routing view is not an engine")
			}
			gr.Associations = e.Input().Associations
			for _, rt := range gr.Tables {
				gr.Forwarding[rt.ID] = activeRoutes(v.Table(rt.ID))
			}
			for i := range gr.VPNs {
				g := &gr.VPNs[i]
				if !g.Conn.Bgp.EnableBgp || !g.Attachment.AutoPublishRouteEnabled {
					continue
				}
				for _, e := range v.Advertised(g.Attachment.ID) {
					g.Advertised = append(g.Advertised, e.Prefix)
				}
			}
			return nil
		})
		if err != nil {
			return view, err
		}
		view.Routers = append(view.Routers, gr)
	}
	return view, nil
}

// byID lists a kind as a map by ID.
func byID[T any, PT interface {
	*T
	model.Resource
}](ctx context.Context, s *Service, kind string) (map[string]PT, error) {
	all, err := listKind[T, PT](ctx, s, kind)
	if err != nil {
		return nil, err
	}
	out := make(map[string]PT, len(all))
	for _, v := range all {
		out[v.GetMeta().ID] = v
	}
	return out, nil
}

// activeRoutes merges a table's Active entries per prefix (ECMP groups become one route).
func activeRoutes(entries []routing.Entry) []routing.Route {
	var out []routing.Route
	for _, e := range entries {
		if e.Status != routing.StatusActive {
			continue
		}
		if n := len(out); n > 0 && out[n-1].Prefix == e.Prefix {
			if !e.BlackHole {
				out[n-1].NextHops = append(out[n-1].NextHops, e.NextHop)
			}
			continue
		}
		r := routing.Route{Prefix: e.Prefix, BlackHole: e.BlackHole}
		if !e.BlackHole {
			r.NextHops = []string{e.NextHop}
		}
		out = append(out, r)
	}
	for i := range out {
		slices.Sort(out[i].NextHops)
	}
	return out
}

// gatewayVPNs is an attachment's connection as the data plane runs it: one GatewayVPN for
// a single-tunnel connection, one per tunnel (Conn = the tunnel, TunnelConn) for a
// dual-tunnel one.
func (s *Service) gatewayVPNs(a *model.VpnAttachment, vcos map[string]*model.VpnConnection, cgws map[string]*model.CustomerGateway) []GatewayVPN {
	v, ok := vcos[a.VpnID]
	if !ok {
		g := GatewayVPN{Attachment: a, Err: fmt.Errorf("the IPsec-VPN connection %s of attachment %s is missing or its record does not decode", a.VpnID, a.ID)}
		g.Conn.ID = a.VpnID
		return []GatewayVPN{g}
	}
	var out []GatewayVPN
	for _, u := range v.Units() {
		g, ok := s.gatewayVPN(a, &u, cgws)
		if !ok {
			continue
		}
		if t, isTunnel := v.Tunnel(u.ID); isTunnel {
			g.Tunnel = &GatewayTunnel{Connection: v.ID, Role: t.Role, ECMP: v.EnableTunnelsBgp}
		}
		out = append(out, g)
	}
	return out
}

// gatewayVPN resolves one unit of an attachment's connection (the connection, or one of
// its tunnels: model.VpnConnection.Units) and its customer gateway with their secrets
// opened. A unit without a gateway IP yet is left out (ok false); one whose records cannot
// be used comes with Err.
func (s *Service) gatewayVPN(a *model.VpnAttachment, v *model.VpnConnection, cgws map[string]*model.CustomerGateway) (GatewayVPN, bool) {
	g := GatewayVPN{Attachment: a}
	g.Conn = *v
	if g.Conn.InternetIP == "" {
		return g, false
	}
	var err error
	if g.Conn.Ike.Psk, err = s.box.Open(v.Ike.Psk); err != nil {
		g.Err = fmt.Errorf("the stored pre-shared key cannot be opened (%w); set it again with ModifyVpnAttachmentAttribute IkeConfig.Psk", err)
	}
	cgw, ok := cgws[v.CustomerGatewayID]
	if !ok {
		g.Err = errors.Join(g.Err, fmt.Errorf("its customer gateway %s is missing or its record does not decode", v.CustomerGatewayID))
		return g, true
	}
	g.Gateway = *cgw
	if cgw.AuthKeySealed != "" {
		if g.BgpAuthKey, err = s.box.Open(cgw.AuthKeySealed); err != nil {
			g.Err = errors.Join(g.Err, fmt.Errorf("the customer gateway's stored BGP key cannot be opened (%w)", err))
		}
	}
	return g, true
}

// ---------------------------------------------------------------- observed state

// Observed is what a data plane reports of a connection, kept apart from its desired
// state (/obs/vco/<id>): the negotiation status, the BGP session's and the health check's
// (success|failed, "" = none yet).
type Observed struct {
	Negotiation string `json:"negotiation,omitempty"`
	BGP         string `json:"bgp,omitempty"`
	Health      string `json:"health,omitempty"`
}

func observedKeyOf(vco string) string { return obsPrefix + "vco/" + vco }

// Negotiations reads the negotiation states the nodes running tunnels (or connections)
// reported, given as ID -> node; "" for one with none, or whose node is not alive (its
// lease ran out: what it last said no longer holds). A gateway node follows the tunnels
// of its routers whose cells run on other nodes by it.
func (s *Service) Negotiations(ctx context.Context, on map[string]string) (map[string]string, error) {
	live, err := s.liveNodes(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(on))
	for id, node := range on {
		if !live[node] {
			out[id] = ""
			continue
		}
		kv, ok, err := s.st.Get(ctx, observedKeyOf(id))
		if err != nil {
			return nil, err
		}
		var o Observed
		if ok && json.Unmarshal(kv.Value, &o) == nil {
			out[id] = o.Negotiation
		}
	}
	return out, nil
}

// BGPRoutesKey is where a data plane records the routes a connection learned over BGP
// (a JSON list of LearnedRoute), so they enter the routing engine.
func BGPRoutesKey(vco string) string { return obsPrefix + "learned/" + vco }

// forgetObserved removes what was observed of a connection (on detach and delete).
func forgetObserved(t *txn, v *model.VpnConnection) {
	for _, id := range reportIDs(v) {
		forgetObservedOf(t, id)
	}
}

func forgetObservedOf(t *txn, vco string) {
	t.del(observedKeyOf(vco))
	t.del(BGPRoutesKey(vco))
}

// LogLine is one event of a connection's log.
type LogLine struct {
	Time    time.Time
	Message string
}

// Report is one report of a data plane on a connection: non-empty fields of Observed
// replace the stored ones, Learned (when not nil) replaces the learned routes, and Logs
// are appended to the connection's log.
type Report struct {
	Observed Observed
	Learned  *[]LearnedRoute
	Logs     []LogLine
}

// ReportConnection records what a data plane sees of a connection. It writes only what
// changed, as observed state: neither the decoded resources nor the routing engines nor
// the data plane's read model are invalidated, except the routing of the connection's
// transit router when its learned routes or health verdict change.
func (s *Service) ReportConnection(ctx context.Context, vco string, r Report) error {
	var learnedRaw []byte
	if r.Learned != nil {
		var err error
		if learnedRaw, err = json.Marshal(*r.Learned); err != nil {
			return err
		}
	}
	return s.update(ctx, func(t *txn) error {
		// A tunnel of a dual-tunnel connection reports under its own ID (its cell's).
		owner := vco
		if id, _, ok := model.TunnelOf(vco); ok {
			owner = id
		}
		var v model.VpnConnection
		ok, err := t.get(resKey(model.KindVpnConnection, owner), &v)
		if err != nil || !ok {
			return err // a connection deleted meanwhile: nothing to report on
		}
		if _, isTunnel := v.Tunnel(vco); vco != owner && !isTunnel {
			return nil // a tunnel of a connection that is no longer dual-tunnel
		}
		for _, e := range r.Logs {
			if err := appendLogAt(t, vco, e); err != nil {
				return err
			}
		}
		routingChanged := false
		if learnedRaw != nil {
			old, _, err := t.getRaw(BGPRoutesKey(vco))
			if err != nil {
				return err
			}
			if string(old) != string(learnedRaw) {
				t.writes[BGPRoutesKey(vco)] = learnedRaw
				routingChanged = true
			}
		}
		var o Observed
		if _, err := t.get(observedKeyOf(vco), &o); err != nil {
			o = Observed{} // a damaged record is replaced
		}
		before := o
		if r.Observed.Negotiation != "" {
			o.Negotiation = r.Observed.Negotiation
		}
		if r.Observed.BGP != "" {
			o.BGP = r.Observed.BGP
		}
		if r.Observed.Health != "" {
			o.Health = r.Observed.Health
		}
		if o != before {
			if err := t.put(observedKeyOf(vco), o); err != nil {
				return err
			}
			routingChanged = routingChanged || o.Health != before.Health
		}
		if routingChanged && v.TransitRouterID != "" {
			t.routing = append(t.routing, v.TransitRouterID)
		}
		return nil
	})
}

// observedCache keeps every connection's observed state as of one obs revision.
type observedCache struct {
	mu       sync.Mutex
	revision int64
	byVco    map[string]Observed
}

// observed returns every connection's observed state.
func (s *Service) observed(ctx context.Context) (map[string]Observed, error) {
	revs, err := s.revisions(ctx, obsRevKey)
	if err != nil {
		return nil, err
	}
	s.obs.mu.Lock()
	if s.obs.byVco != nil && s.obs.revision == revs[0] {
		m := s.obs.byVco
		s.obs.mu.Unlock()
		return m, nil
	}
	s.obs.mu.Unlock()
	kvs, _, err := s.st.List(ctx, obsPrefix+"vco/")
	if err != nil {
		return nil, err
	}
	m := make(map[string]Observed, len(kvs))
	for _, kv := range kvs {
		var o Observed
		if json.Unmarshal(kv.Value, &o) == nil {
			m[strings.TrimPrefix(kv.Key, obsPrefix+"vco/")] = o
		}
	}
	s.obs.mu.Lock()
	if s.obs.byVco == nil || s.obs.revision <= revs[0] {
		s.obs.byVco, s.obs.revision = m, revs[0]
	}
	s.obs.mu.Unlock()
	return m, nil
}

// withObserved returns a copy of v with its observed status filled in (records are
// shared: never modified in place).
func (s *Service) withObserved(ctx context.Context, v *model.VpnConnection) (*model.VpnConnection, error) {
	obs, err := s.observed(ctx)
	if err != nil {
		return nil, err
	}
	c := *v
	o := obs[v.ID]
	c.NegotiationStatus, c.BgpStatus, c.HealthCheckStatus = o.Negotiation, o.BGP, o.Health
	if c.Dual() {
		// The connection is as good as its best tunnel; each tunnel says its own.
		c.Tunnels = slices.Clone(v.Tunnels)
		var health []string
		for i := range c.Tunnels {
			t := &c.Tunnels[i]
			o := obs[t.ID]
			t.NegotiationStatus, t.BgpStatus = cmp.Or(o.Negotiation, model.IkeNotEstablished), o.BGP
			if negotiationRank(t.NegotiationStatus) > negotiationRank(c.NegotiationStatus) {
				c.NegotiationStatus = t.NegotiationStatus
			}
			// BGP: success while either session is up, else the first tunnel's status.
			if o.BGP == model.StatusSuccess || c.BgpStatus == "" {
				c.BgpStatus = o.BGP
			}
			health = append(health, o.Health)
		}
		c.HealthCheckStatus = dualHealth(health)
	}
	if c.NegotiationStatus == "" {
		c.NegotiationStatus = model.IkeNotEstablished
	}
	return &c, nil
}

// negotiationRank orders negotiation statuses from down to up.
func negotiationRank(s string) int {
	return slices.Index([]string{model.IkeNotEstablished, model.IkeEstablished, model.IPsecNotEstablished, model.IPsecEstablished}, s)
}

// dualHealth is a dual-tunnel connection's health verdict from its tunnels': failed only
// when every tunnel's check failed (while one passes, the gateway sends over that one),
// success when one passed, "" before any verdict.
func dualHealth(tunnels []string) string {
	if slices.Contains(tunnels, model.StatusSuccess) {
		return model.StatusSuccess
	}
	if len(tunnels) > 0 && !slices.ContainsFunc(tunnels, func(h string) bool { return h != "failed" }) {
		return "failed"
	}
	return ""
}

// healthStatus reports a connection's health verdict for routing (a dual-tunnel one's
// from both tunnels, dualHealth).
func (s *Service) healthStatus(ctx context.Context, v *model.VpnConnection) (string, error) {
	var verdicts []string
	for _, u := range v.Units() {
		var o Observed
		kv, ok, err := s.st.Get(ctx, observedKeyOf(u.ID))
		if err != nil {
			return "", err
		}
		if ok && json.Unmarshal(kv.Value, &o) != nil {
			o = Observed{}
		}
		verdicts = append(verdicts, o.Health)
	}
	if !v.Dual() {
		return verdicts[0], nil
	}
	return dualHealth(verdicts), nil
}

// ---------------------------------------------------------------- gateway objects

// ObjectStatus is the status of one object a gateway node applies (a router, a cell, a
// BGP neighbor, a health check), as `opencen gateway status` and the console show it.
type ObjectStatus struct {
	Node string `json:"node"`
	// Kind is router, cell, bgp or health-check; ID the transit router's or connection's.
	Kind string `json:"kind"`
	ID   string `json:"id"`
	// Router is the transit router the object belongs to.
	Router string `json:"router,omitempty"`
	// State is pending, done or error; Message says what is wrong or awaited.
	State   string    `json:"state"`
	Message string    `json:"message,omitempty"`
	Since   time.Time `json:"since"`
}

func objectPrefix(node string) string { return obsPrefix + "gw/" + node + "/" }

func objectKey(o ObjectStatus) string { return objectPrefix(o.Node) + o.Kind + "/" + o.ID }

// ReportObjects writes the statuses that changed (put) and removes those of objects that
// are gone (in gone, by kind and ID) for one gateway node.
func (s *Service) ReportObjects(ctx context.Context, node string, changed []ObjectStatus, gone []ObjectStatus) error {
	if len(changed) == 0 && len(gone) == 0 {
		return nil
	}
	return s.update(ctx, func(t *txn) error {
		for _, o := range changed {
			o.Node = node
			if err := t.put(objectKey(o), o); err != nil {
				return err
			}
		}
		for _, o := range gone {
			o.Node = node
			t.del(objectKey(o))
		}
		return nil
	})
}

// GatewayObjects lists the statuses of gateway objects the caller may see: all for the
// admin; for an account, those of its connections and of its transit routers. vco and tr
// narrow the list ("" = any).
func (s *Service) GatewayObjects(ctx context.Context, c Caller, vco, tr string) ([]ObjectStatus, error) {
	kvs, _, err := s.st.List(ctx, obsPrefix+"gw/")
	if err != nil {
		return nil, err
	}
	var mine map[string]bool
	if !c.Admin {
		mine = map[string]bool{}
		vcos, err := listKind[model.VpnConnection](ctx, s, model.KindVpnConnection)
		if err != nil {
			return nil, err
		}
		for _, v := range vcos {
			if v.Owner == c.AccountID {
				mine[v.ID] = true
			}
		}
		trs, err := listKind[model.TransitRouter](ctx, s, model.KindTR)
		if err != nil {
			return nil, err
		}
		for _, tr := range trs {
			if tr.Owner == c.AccountID {
				mine[tr.ID] = true
			}
		}
	}
	// A node that died leaves its objects' statuses behind; once its routers are placed
	// elsewhere they describe nothing that runs.
	placements, err := s.Placements(ctx)
	if err != nil {
		return nil, err
	}
	var out []ObjectStatus
	for _, kv := range kvs {
		var o ObjectStatus
		if json.Unmarshal(kv.Value, &o) != nil {
			continue
		}
		if (vco != "" && o.ID != vco) || (tr != "" && o.Router != tr && o.ID != tr) {
			continue
		}
		// A tunnel placed on its own node (its cell runs apart from its router) is that
		// node's; everything else is its router's node's.
		where, ok := placements[o.ID]
		if !ok || o.Kind != "cell" { // gateway.KindCell
			where, ok = placements[cmp.Or(o.Router, o.ID)]
		}
		if ok && where.Node != o.Node {
			continue
		}
		if mine != nil && !mine[o.ID] {
			continue
		}
		out = append(out, o)
	}
	return out, nil
}
