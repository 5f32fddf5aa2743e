package service

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strings"

	"opencen/internal/dataplane"
	"opencen/internal/model"
)

// ConnectionMetrics is what the metrics endpoint shows of an IPsec-VPN connection.
type ConnectionMetrics struct {
	ID, Account string
	// Tunnel is the tunnel of a dual-tunnel connection these are of ("" for a
	// single-tunnel connection): such a connection has a ConnectionMetrics per tunnel.
	Tunnel string
	// Up: the IPsec SA is established (the data plane's last report).
	Up bool
	// BGP and HealthCheck are false when the connection has none configured.
	BGP, HealthCheck bool
	BGPUp, HealthUp  bool
	// ReceivedPrefixes counts the routes learned over BGP.
	ReceivedPrefixes int
	// Traffic is the connection's metered traffic (In from the data center).
	Traffic Traffic
}

// AttachmentMetrics is what the metrics endpoint shows of a transit router attachment.
type AttachmentMetrics struct {
	ID, Router, Account string
	Traffic             Traffic
}

// Metrics reads what the metrics endpoint shows, from the store: any server of a cluster
// answers the same, whichever node runs the data plane. Three listings (connections,
// observed state, learned routes) and the counter records, whatever the number of
// connections.
func (s *Service) Metrics(ctx context.Context) ([]ConnectionMetrics, []AttachmentMetrics, error) {
	vcos, err := listKind[model.VpnConnection](ctx, s, model.KindVpnConnection)
	if err != nil {
		return nil, nil, err
	}
	obs, err := s.observed(ctx)
	if err != nil {
		return nil, nil, err
	}
	learned, _, err := s.st.List(ctx, obsPrefix+"learned/")
	if err != nil {
		return nil, nil, err
	}
	prefixes := map[string]int{}
	for _, kv := range learned {
		var routes []LearnedRoute
		if json.Unmarshal(kv.Value, &routes) == nil {
			prefixes[strings.TrimPrefix(kv.Key, obsPrefix+"learned/")] = len(routes)
		}
	}
	recs, err := s.Counters(ctx, Caller{Admin: true})
	if err != nil {
		return nil, nil, err
	}
	// Traffic by connection, and by tunnel (the tunnels' own counters).
	traffic := map[string]Traffic{}
	atts := make([]AttachmentMetrics, 0, len(recs))
	for _, r := range recs {
		atts = append(atts, AttachmentMetrics{ID: r.Attachment, Router: r.Router, Account: r.Owner, Traffic: r.Total})
		if r.Vco != "" {
			traffic[r.Vco] = traffic[r.Vco].plus(r.Total)
		}
		for tun, tr := range r.Tunnels {
			traffic[tun] = traffic[tun].plus(tr)
		}
	}
	conns := make([]ConnectionMetrics, 0, len(vcos))
	for _, v := range vcos {
		for _, u := range v.Units() {
			o, tunnel := obs[u.ID], ""
			if v.Dual() {
				tunnel = u.ID
			}
			conns = append(conns, ConnectionMetrics{ID: v.ID, Tunnel: tunnel, Account: v.Owner, Up: o.Negotiation == dataplane.IPsecEstablished,
				BGP: u.Bgp.EnableBgp, BGPUp: o.BGP == model.StatusSuccess, HealthCheck: u.HealthCheck.Enable, HealthUp: o.Health == model.StatusSuccess,
				ReceivedPrefixes: prefixes[u.ID], Traffic: traffic[u.ID]})
		}
	}
	slices.SortFunc(conns, func(a, b ConnectionMetrics) int {
		return cmp.Or(strings.Compare(a.ID, b.ID), strings.Compare(a.Tunnel, b.Tunnel))
	})
	return conns, atts, nil
}
