package gateway

import (
	"net/netip"
	"strings"
	"testing"

	"opencen/internal/model"
	"opencen/internal/routing"
	"opencen/internal/service"
)

// TestBuildPeerLinks: an inter-region connection between two routers a gateway runs is a
// link on both with the two hosts of one /30 and the connection's bandwidth; with only one
// of them here there is no link and routes through it are left out.
func TestBuildPeerLinks(t *testing.T) {
	peer := &model.PeerAttachment{Meta: model.Meta{ID: "tr-attach-p1", Status: model.AttachmentAttached, Region: "cn-hangzhou"},
		TransitRouterID: "tr-hz", PeerTransitRouterID: "tr-sh", PeerRegion: "cn-shanghai", Bandwidth: 50, BandwidthType: model.BandwidthDataTransfer}
	router := func(id, table, dst string) service.GatewayRouter {
		return service.GatewayRouter{TR: &model.TransitRouter{Meta: model.Meta{ID: id}},
			Tables:       []*model.RouteTable{{Meta: model.Meta{ID: table}}},
			Associations: map[string]string{peer.ID: table},
			Forwarding:   map[string][]routing.Route{table: {{Prefix: netip.MustParsePrefix(dst), NextHops: []string{peer.ID}}}},
			Peers:        []*model.PeerAttachment{peer}}
	}
	hz, sh := router("tr-hz", "vtb-hz", "10.2.0.0/16"), router("tr-sh", "vtb-sh", "10.1.0.0/16")
	o := build(&service.GatewayView{Routers: []service.GatewayRouter{hz, sh}}, Layout{}, held{}, Signals{})
	a, b := o.routers["tr-hz"], o.routers["tr-sh"]
	if len(a.Peers) != 1 || len(b.Peers) != 1 {
		t.Fatalf("peer links: %+v / %+v (errors %v)", a.Peers, b.Peers, o.routerErrs)
	}
	pa, pb := a.Peers[0], b.Peers[0]
	if pa.AttachmentID != peer.ID || pb.AttachmentID != peer.ID || pa.PeerRouter != "tr-sh" || pb.PeerRouter != "tr-hz" {
		t.Errorf("ends: %+v / %+v", pa, pb)
	}
	if pa.Addr.Masked() != pb.Addr.Masked() || pa.Addr.Bits() != 30 || pa.PeerAddr() != pb.Addr.Addr() || pb.PeerAddr() != pa.Addr.Addr() ||
		!peerLinkPool.Contains(pa.Addr.Addr()) {
		t.Errorf("addresses %v / %v are not the two hosts of one /30 of %v", pa.Addr, pb.Addr, peerLinkPool)
	}
	if pa.RateKbit != 50000 || pb.RateKbit != 50000 {
		t.Errorf("rates %d / %d kbit/s, want 50000", pa.RateKbit, pb.RateKbit)
	}
	if len(a.Tables[0].Routes) != 1 || a.Associations[peer.ID] != "vtb-hz" {
		t.Errorf("router tr-hz: routes %+v, associations %v", a.Tables[0].Routes, a.Associations)
	}

	// A connection without bandwidth from a package has the testing bandwidth.
	free := *peer
	free.Bandwidth, free.BandwidthType = 0, model.BandwidthFromPackage
	hz.Peers, sh.Peers = []*model.PeerAttachment{&free}, []*model.PeerAttachment{&free}
	o = build(&service.GatewayView{Routers: []service.GatewayRouter{hz, sh}}, Layout{}, held{}, Signals{})
	if got := o.routers["tr-hz"].Peers[0].RateKbit; got != model.TestingBandwidthKbit {
		t.Errorf("testing bandwidth: %d kbit/s, want %d", got, model.TestingBandwidthKbit)
	}

	// Only tr-hz here (tr-sh placed on another node): no link, no route through it.
	o = build(&service.GatewayView{Routers: []service.GatewayRouter{hz}}, Layout{}, held{}, Signals{})
	r, ok := o.routers["tr-hz"]
	if !ok {
		t.Fatalf("router not built: %v", o.routerErrs)
	}
	if len(r.Peers) != 0 || len(r.Tables[0].Routes) != 0 || r.Associations[peer.ID] != "" {
		t.Errorf("a connection to a router elsewhere: peers %+v routes %+v associations %v", r.Peers, r.Tables[0].Routes, r.Associations)
	}
	if msg := o.unlinked[peer.ID]; !strings.Contains(msg, "tr-sh on another gateway node") {
		t.Errorf("the missing link is not noted: %q", msg)
	}
}
