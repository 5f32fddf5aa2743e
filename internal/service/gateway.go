package service

import (
	"context"
	"encoding/json"
	"net/netip"
	"slices"
	"time"

	"opencen/internal/model"
	"opencen/internal/routing"
)

// GatewayView is everything a data-plane gateway applies: every transit router with its
// tables, associations and computed forwarding, and its attachments. It is read with the
// gateway's privilege (all accounts).
type GatewayView struct {
	Routers []GatewayRouter
}

// GatewayRouter is one transit router as the data plane sees it.
type GatewayRouter struct {
	TR           *model.TransitRouter
	Tables       []*model.RouteTable
	Associations map[string]string          // attachment -> table
	Forwarding   map[string][]routing.Route // table -> active routes (ECMP next hops merged)
	VPNs         []GatewayVPN
	VPCs         []*model.VpcAttachment
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
}

// GatewayView reads the data plane's desired state.
func (s *Service) GatewayView(ctx context.Context) (GatewayView, error) {
	var view GatewayView
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
			g, err := s.gatewayVPN(ctx, a)
			if err != nil {
				return view, err
			}
			if g != nil {
				gr.VPNs = append(gr.VPNs, *g)
			}
		}
		for _, a := range vpcAtts {
			if a.TransitRouterID == tr.ID && a.Status != model.AttachmentDetaching {
				gr.VPCs = append(gr.VPCs, a)
			}
		}
		err := s.withRoutes(ctx, tr, func(v routing.View) error {
			in := v.(*routing.Engine).Input()
			gr.Associations = in.Associations
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

func (s *Service) gatewayVPN(ctx context.Context, a *model.VpnAttachment) (*GatewayVPN, error) {
	kv, ok, err := s.st.Get(ctx, resKey(model.KindVpnConnection, a.VpnID))
	if err != nil || !ok {
		return nil, err
	}
	g := GatewayVPN{Attachment: a}
	if err := json.Unmarshal(kv.Value, &g.Conn); err != nil {
		return nil, err
	}
	if g.Conn.InternetIP == "" {
		return nil, nil
	}
	if g.Conn.Ike.Psk, err = s.box.Open(g.Conn.Ike.Psk); err != nil {
		return nil, err
	}
	kv, ok, err = s.st.Get(ctx, resKey(model.KindCustomerGateway, g.Conn.CustomerGatewayID))
	if err != nil || !ok {
		return nil, err
	}
	if err := json.Unmarshal(kv.Value, &g.Gateway); err != nil {
		return nil, err
	}
	if g.Gateway.AuthKeySealed != "" {
		if g.BgpAuthKey, err = s.box.Open(g.Gateway.AuthKeySealed); err != nil {
			return nil, err
		}
	}
	return &g, nil
}

// ReportDynamic records what a data plane sees of a connection's BGP session and health
// check: BGP status (success|failed) with the learned routes (which enter the routing
// engine), and the health-check status (success|failed; with revoke_route a failure
// withdraws the connection's routes). Empty values leave a field as it is; a write
// happens only on change.
func (s *Service) ReportDynamic(ctx context.Context, vco, bgpStatus string, learned []LearnedRoute, healthStatus string, events []LogLine) error {
	raw, err := json.Marshal(learned)
	if err != nil {
		return err
	}
	return s.update(ctx, func(t *txn) error {
		var v model.VpnConnection
		ok, err := t.get(resKey(model.KindVpnConnection, vco), &v)
		if err != nil || !ok {
			return err
		}
		for _, e := range events {
			if err := appendLogAt(t, vco, e); err != nil {
				return err
			}
		}
		if learned != nil {
			old, _, err := t.getRaw(BGPRoutesKey(vco))
			if err != nil {
				return err
			}
			if string(old) != string(raw) {
				t.writes[BGPRoutesKey(vco)] = raw
			}
		}
		changed := false
		if bgpStatus != "" && v.BgpStatus != bgpStatus {
			v.BgpStatus, changed = bgpStatus, true
		}
		if healthStatus != "" && v.HealthCheckStatus != healthStatus {
			v.HealthCheckStatus, changed = healthStatus, true
		}
		if !changed {
			return nil
		}
		return t.put(resKey(model.KindVpnConnection, vco), v)
	})
}

// LogLine is one event of a connection's log.
type LogLine struct {
	Time    time.Time
	Message string
}

// ReportNegotiation records what a data plane sees of a connection: its negotiation
// status (written only when it changed) and new events for its log.
func (s *Service) ReportNegotiation(ctx context.Context, vco, status string, events []LogLine) error {
	return s.update(ctx, func(t *txn) error {
		var v model.VpnConnection
		ok, err := t.get(resKey(model.KindVpnConnection, vco), &v)
		if err != nil || !ok {
			return err
		}
		for _, e := range events {
			if err := appendLogAt(t, vco, e); err != nil {
				return err
			}
		}
		if v.NegotiationStatus == status || status == "" {
			return nil
		}
		v.NegotiationStatus = status
		return t.put(resKey(model.KindVpnConnection, vco), v)
	})
}
