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

	// tr-hz on node a, tr-sh on node b: without underlays there is no link, and no
	// route through it; with them each node has its end, a VXLAN link to the other node
	// with one VNI and the two hosts of one /30.
	view := &service.GatewayView{Routers: []service.GatewayRouter{hz, sh}, Placement: map[string]string{"tr-hz": "a", "tr-sh": "b"}}
	o = build(view, Layout{Placed: true, Node: "a"}, held{}, Signals{})
	r, ok := o.routers["tr-hz"]
	if !ok || len(o.routers) != 1 {
		t.Fatalf("node a builds %v, want tr-hz alone (errors %v)", o.routers, o.routerErrs)
	}
	if len(r.Peers) != 0 || len(r.Tables[0].Routes) != 0 || r.Associations[peer.ID] != "" {
		t.Errorf("a connection to a router elsewhere: peers %+v routes %+v associations %v", r.Peers, r.Tables[0].Routes, r.Associations)
	}
	if msg := o.unlinked[peer.ID]; !strings.Contains(msg, "tr-sh on gateway node b, but they cannot be linked: this gateway node has no underlay") {
		t.Errorf("the missing link is not noted: %q", msg)
	}
	view.Underlays = map[string]netip.AddrPort{"a": netip.MustParseAddrPort("10.0.0.1:4789"), "b": netip.MustParseAddrPort("10.0.0.2:4789")}
	under := func(a string) *Underlay {
		return &Underlay{Interface: "eth1", Addr: netip.MustParseAddr(a), Port: 4789}
	}
	oa := build(view, Layout{Placed: true, Node: "a", Underlay: under("10.0.0.1")}, held{}, Signals{})
	ob := build(view, Layout{Placed: true, Node: "b", Underlay: under("10.0.0.2")}, held{}, Signals{})
	ra, rb := oa.routers["tr-hz"], ob.routers["tr-sh"]
	if len(oa.routers) != 1 || len(ob.routers) != 1 || len(ra.Peers) != 1 || len(rb.Peers) != 1 {
		t.Fatalf("node a: %+v, node b: %+v", oa.routers, ob.routers)
	}
	ea, eb := ra.Peers[0], rb.Peers[0]
	if ea.Remote == nil || eb.Remote == nil || ea.Remote.VXLAN.VNI != eb.Remote.VXLAN.VNI || ea.Remote.VXLAN.VNI < nodeLinkPool ||
		ea.Remote.VXLAN.Remotes[0] != netip.MustParseAddr("10.0.0.2") || eb.Remote.VXLAN.Remotes[0] != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("ends of the link between nodes: %+v / %+v", ea.Remote, eb.Remote)
	}
	if ea.PeerAddr() != eb.Addr.Addr() || eb.PeerAddr() != ea.Addr.Addr() {
		t.Errorf("the two nodes disagree on the link's /30: %v / %v", ea.Addr, eb.Addr)
	}
	if len(ra.Tables[0].Routes) != 1 || ra.Associations[peer.ID] != "vtb-hz" {
		t.Errorf("router tr-hz: routes %+v, associations %v", ra.Tables[0].Routes, ra.Associations)
	}
	// Nodes on different VXLAN ports cannot be linked, and say how to fix it.
	view.Underlays["b"] = netip.MustParseAddrPort("10.0.0.2:4790")
	o = build(view, Layout{Placed: true, Node: "a", Underlay: under("10.0.0.1")}, held{}, Signals{})
	if msg := o.unlinked[peer.ID]; !strings.Contains(msg, "give them one --underlay-port") {
		t.Errorf("different ports: %q", msg)
	}
}
