package gateway

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"opencen/internal/dataplane"
	"opencen/internal/model"
	"opencen/internal/service"
)

func TestTunnelHops(t *testing.T) {
	u := func(id string, master, ecmp, up bool) tunnelUnit {
		return tunnelUnit{id: id, master: master, ecmp: ecmp, up: up}
	}
	cases := []struct {
		name  string
		units []tunnelUnit
		want  []string
	}{
		{"master up", []tunnelUnit{u("t1", true, false, true), u("t2", false, false, true)}, []string{"t1"}},
		{"master listed second", []tunnelUnit{u("t2", false, false, true), u("t1", true, false, true)}, []string{"t1"}},
		{"master down", []tunnelUnit{u("t1", true, false, false), u("t2", false, false, true)}, []string{"t2"}},
		{"both down: the master", []tunnelUnit{u("t2", false, false, false), u("t1", true, false, false)}, []string{"t1"}},
		{"ecmp both up", []tunnelUnit{u("t1", true, true, true), u("t2", false, true, true)}, []string{"t1", "t2"}},
		{"ecmp master down", []tunnelUnit{u("t1", true, true, false), u("t2", false, true, true)}, []string{"t2"}},
		{"ecmp slave down", []tunnelUnit{u("t1", true, true, true), u("t2", false, true, false)}, []string{"t1"}},
		{"only the slave built", []tunnelUnit{u("t2", false, false, false)}, []string{"t2"}},
		{"none", nil, nil},
	}
	for _, tc := range cases {
		if got := tunnelHops(tc.units); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// addDual adds a dual-tunnel connection: its two tunnels, one attachment.
func (w *world) addDual(id string, ecmp bool) (master, slave string) {
	att := &model.VpnAttachment{Meta: model.Meta{ID: "tr-attach-" + id}, TransitRouterID: "tr-1", VpnID: "vco-" + id}
	var ids []string
	for i, role := range []string{model.RoleMaster, model.RoleSlave} {
		addrCounter++
		tid := model.TunnelID("vco-"+id, i+1)
		ids = append(ids, tid)
		v := service.GatewayVPN{Attachment: att,
			Conn: model.VpnConnection{Meta: model.Meta{ID: tid}, InternetIP: fmt.Sprintf("198.18.100.%d", addrCounter),
				LocalSubnet: model.AllIPv4, RemoteSubnet: model.AllIPv4, Ike: model.PageIke(), Ipsec: model.PageIpsec(),
				Bgp: model.DefaultBgp(), HealthCheck: model.DefaultHealthCheck(), EnableNatTraversal: true},
			Gateway: model.CustomerGateway{Meta: model.Meta{ID: "cgw-" + id}, IPAddress: fmt.Sprintf("198.18.1.%d", addrCounter)},
			Tunnel:  &service.GatewayTunnel{Connection: "vco-" + id, Role: role, ECMP: ecmp},
		}
		v.Conn.Ike.Psk = "secret-" + tid
		w.vpns = append(w.vpns, v)
	}
	return ids[0], ids[1]
}

// hops is where the router sends a prefix now.
func (e *env) hops(prefix string) []string {
	e.drv.mu.Lock()
	defer e.drv.mu.Unlock()
	for _, t := range e.drv.routers["tr-1"].Tables {
		for _, r := range t.Routes {
			if r.Dst.String() == prefix {
				return r.NextHops
			}
		}
	}
	return nil
}

// setDown marks a tunnel's cell down or up in the driver and tells the gateway, as the
// driver's watch does.
func (e *env) setDown(cell string, down bool) {
	e.drv.mu.Lock()
	e.drv.down[cell] = down
	e.drv.mu.Unlock()
	state := dataplane.IPsecEstablished
	if down {
		state = dataplane.IKENotEstablished
	}
	e.g.OnState(dataplane.CellStatus{ID: cell, Running: true, State: state})
	e.settle()
}

// TestDualTunnelFailover: a dual-tunnel connection's routes go over the master while its
// tunnel is up, over the slave while only the slave's is, and back; each tunnel is a cell
// with a link of its own, both associated with the attachment's table.
func TestDualTunnelFailover(t *testing.T) {
	e := newEnv(t)
	w := newWorld()
	master, slave := w.addDual("x7", false)
	e.store.set(w.view())
	e.settle()
	if len(e.drv.cells) != 2 || e.drv.cells[master].AttachmentID != master || e.drv.cells[slave].AttachmentID != slave ||
		!e.drv.cells[master].FastDPD || !e.drv.cells[slave].FastDPD {
		t.Fatalf("cells: %v", e.drv.cells)
	}
	r := e.drv.routers["tr-1"]
	if r.Associations[master] != "vtb-1" || r.Associations[slave] != "vtb-1" {
		t.Fatalf("associations: %v", r.Associations)
	}
	prefix := w.view().Routers[0].Forwarding["vtb-1"][0].Prefix.String()
	// The fake driver's first Status says both are up.
	if got := e.hops(prefix); !slices.Equal(got, []string{master}) {
		t.Fatalf("both up: %v, want the master %s", got, master)
	}
	e.setDown(master, true)
	if got := e.hops(prefix); !slices.Equal(got, []string{slave}) {
		t.Fatalf("master down: %v, want the slave %s", got, slave)
	}
	e.setDown(master, false)
	if got := e.hops(prefix); !slices.Equal(got, []string{master}) {
		t.Fatalf("master back: %v, want the master", got)
	}
	// Both down: the routes stay (over the master), nothing else is sent anywhere.
	e.setDown(master, true)
	e.setDown(slave, true)
	if got := e.hops(prefix); !slices.Equal(got, []string{master}) {
		t.Fatalf("both down: %v, want the master", got)
	}
	// The tunnels report under their own IDs.
	if len(e.store.reports[master]) == 0 || len(e.store.reports[slave]) == 0 {
		t.Fatalf("reports: %v", e.store.reports)
	}
}

func TestDualTunnelECMP(t *testing.T) {
	e := newEnv(t)
	w := newWorld()
	master, slave := w.addDual("x8", true)
	e.store.set(w.view())
	e.settle()
	prefix := w.view().Routers[0].Forwarding["vtb-1"][0].Prefix.String()
	if got := e.hops(prefix); !slices.Equal(got, []string{master, slave}) {
		t.Fatalf("both up: %v", got)
	}
	e.setDown(slave, true)
	if got := e.hops(prefix); !slices.Equal(got, []string{master}) {
		t.Fatalf("slave down: %v", got)
	}
	e.setDown(slave, false)
	if got := e.hops(prefix); !slices.Equal(got, []string{master, slave}) {
		t.Fatalf("slave back: %v", got)
	}
}

// TestDualTunnelAcrossNodes: the slave tunnel placed on node b (its zone's), the router and
// the master on node a. Node a runs the router with the master's cell and a VXLAN link to
// the slave's cell; node b runs the slave's cell alone, linked back, with the same VNI and
// link address. Node a follows the slave's state from what b reports to the store: when
// its own master dies traffic goes over the slave on b, and back.
func TestDualTunnelAcrossNodes(t *testing.T) {
	a, b := newEnv(t), newEnv(t)
	b.store = a.store
	b.g.Store = a.store
	w := newWorld()
	master, slave := w.addDual("x9", false)
	view := w.view()
	view.Placement = map[string]string{"tr-1": "a", master: "a", slave: "b"}
	view.Underlays = map[string]netip.AddrPort{"a": netip.MustParseAddrPort("10.0.0.1:4789"), "b": netip.MustParseAddrPort("10.0.0.2:4789")}
	for name, e := range map[string]*env{"a": a, "b": b} {
		e.g.Node, e.g.Placed = name, true
		u := view.Underlays[name]
		e.g.Layout.Underlay = &Underlay{Interface: "eth1", Addr: u.Addr(), Port: u.Port()}
	}
	a.store.set(view)
	b.settle()
	a.settle()
	if len(a.drv.cells) != 1 || a.drv.cells[master].IPsec.ID != master || len(b.drv.cells) != 1 || len(b.drv.routers) != 0 {
		t.Fatalf("node a: cells %v; node b: cells %v routers %v", a.drv.cells, b.drv.cells, b.drv.routers)
	}
	hosted := b.drv.cells[slave]
	var toSlave dataplane.Cell
	for _, c := range a.drv.routers["tr-1"].Cells {
		if c.ID() == slave {
			toSlave = c
		}
	}
	if hosted.Remote == nil || toSlave.Remote == nil || hosted.Remote.VXLAN.VNI != toSlave.Remote.VXLAN.VNI ||
		hosted.Remote.VXLAN.Remotes[0] != netip.MustParseAddr("10.0.0.1") || toSlave.Remote.VXLAN.Remotes[0] != netip.MustParseAddr("10.0.0.2") ||
		hosted.LinkAddr != toSlave.LinkAddr || !hosted.FastDPD {
		t.Fatalf("the link between the nodes: the slave's cell on b %+v, the router's end on a %+v", hosted, toSlave)
	}
	prefix := view.Routers[0].Forwarding["vtb-1"][0].Prefix.String()
	if got := a.hops(prefix); !slices.Equal(got, []string{master}) {
		t.Fatalf("both up: %v, want the master", got)
	}
	a.setDown(master, true)
	if got := a.hops(prefix); !slices.Equal(got, []string{slave}) {
		t.Fatalf("master down: %v, want the slave on node b", got)
	}
	b.setDown(slave, true) // b reports it; a reads it
	a.settle()
	if got := a.hops(prefix); !slices.Equal(got, []string{master}) {
		t.Fatalf("both down: %v, want the master", got)
	}
	b.setDown(slave, false)
	a.settle()
	if got := a.hops(prefix); !slices.Equal(got, []string{slave}) {
		t.Fatalf("the slave back on node b: %v, want the slave", got)
	}
	a.setDown(master, false)
	if got := a.hops(prefix); !slices.Equal(got, []string{master}) {
		t.Fatalf("master back: %v, want the master", got)
	}
}
