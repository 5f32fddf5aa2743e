package dataplane

import (
	"slices"
	"strings"
	"testing"
	"time"

	"opencen/internal/dataplane/nsutil"
	"opencen/internal/lab"
	"opencen/internal/model"
	"opencen/internal/tunnel"
	"opencen/internal/vpnconf"
)

// e2eWorld: a data center (stock strongSwan configured from vpnconf's rendering of the
// connection), a VPC host, and the desired state of a router with one cell and the VPC.
type e2eWorld struct {
	vco     *model.VpnConnection
	cgw     *model.CustomerGateway
	dc      *lab.DC
	vpc     *lab.VPCHost
	desired *Desired
}

const e2ePSK = "Opencen-e2e-psk#1"

// newE2E builds the world; effectImmediately is the connection's EffectImmediately, and
// dcInitiates says whether the DC starts the negotiation itself (vpnconf renders
// start_action = start).
func newE2E(t *testing.T, e *env, effectImmediately, dcInitiates bool, mutate ...func(*model.VpnConnection)) *e2eWorld {
	t.Helper()
	cgw := &model.CustomerGateway{Meta: model.Meta{ID: "cgw-e2e"}, IPAddress: "198.18.0.3"}
	vco := &model.VpnConnection{
		Meta:              model.Meta{ID: "vco-e2e"},
		CustomerGatewayID: cgw.ID,
		LocalSubnet:       model.AllIPv4, RemoteSubnet: model.AllIPv4, // product default: destination routing
		EffectImmediately: effectImmediately,
		EnableDpd:         true, EnableNatTraversal: true,
		Ike: model.PageIke(), Ipsec: model.PageIpsec(),
		InternetIP: "198.18.0.11", AttachmentID: "tr-attach-vpn1", TransitRouterID: "tr-e2e",
	}
	vco.Ike.Psk = "(sealed)"
	for _, m := range mutate {
		m(vco)
	}
	spec, err := tunnel.FromConnection(vco, cgw, e2ePSK, "")
	if err != nil {
		t.Fatal(err)
	}
	conf, err := vpnconf.Strongswan(spec)
	if err != nil {
		t.Fatal(err)
	}
	if !dcInitiates {
		conf = strings.ReplaceAll(conf, "start_action = start", "start_action = none")
	}
	dc, err := e.lab.AddDC(e.ctx, "dc1", pfx("198.18.0.3/15"), pfx("192.168.10.0/24"), conf)
	if err != nil {
		t.Fatal(err)
	}
	if err := dc.RouteToTunnel(e.ctx, pfx("10.10.0.0/16")); err != nil {
		t.Fatal(err)
	}
	vpc, err := e.lab.AddVPCHost(e.ctx, "vpc1", pfx("10.10.0.0/16"))
	if err != nil {
		t.Fatal(err)
	}
	cell := NewCell(spec, vco.AttachmentID, 15, pfx("169.254.10.1/30"))
	if len(mutate) == 0 && (cell.IPsec.IKEProposal() != "aes128-sha1-modp1024" || cell.IPsec.ESPProposal() != "aes128-sha1-modp1024" || !cell.IPsec.RouteBased()) {
		t.Fatalf("product defaults: got %+v", cell.IPsec)
	}
	d := &Desired{Routers: []Router{{
		ID:    "tr-e2e",
		VPCs:  []VPCLink{vpcLink("tr-attach-vpc1", vpc.Netns, "169.254.200.1/30", "169.254.200.2/30")},
		Cells: []Cell{cell},
		Tables: []Table{{ID: "vtb-e2e", Number: 100, Routes: []Route{
			{Dst: dc.Subnet, NextHops: []string{"tr-attach-vpn1"}},
			{Dst: vpc.CIDR, NextHops: []string{"tr-attach-vpc1"}},
		}}},
		Associations: map[string]string{"tr-attach-vpn1": "vtb-e2e", "tr-attach-vpc1": "vtb-e2e"},
	}}}
	return &e2eWorld{vco: vco, cgw: cgw, dc: dc, vpc: vpc, desired: d}
}

func (w *e2eWorld) pingBothWays(t *testing.T, e *env) {
	t.Helper()
	if err := w.vpc.Ping(e.ctx, w.dc.Host, 3); err != nil {
		t.Errorf("VPC -> DC: %v", err)
	}
	if err := w.dc.Ping(e.ctx, w.vpc.Addr, 3); err != nil {
		t.Errorf("DC -> VPC: %v", err)
	}
}

// lastEvent is the index of the last event of kind (-1 if none).
func lastEvent(evs []Event, kind string) int {
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Kind == kind {
			return i
		}
	}
	return -1
}

func hasEvent(evs []Event, kind string) bool {
	return slices.ContainsFunc(evs, func(ev Event) bool { return ev.Kind == kind })
}

func TestEndToEnd(t *testing.T) {
	e := newEnv(t)
	w := newE2E(t, e, true, true)
	start := time.Now()
	e.apply(w.desired)
	cs := e.waitState("vco-e2e", IPsecEstablished, 20*time.Second)
	t.Logf("ipsec_sa_established %v after Apply; IKE %s; children %v", time.Since(start).Round(time.Millisecond), cs.IKE, cs.Children)
	if !strings.Contains(cs.IKE, "AES_CBC-128/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1024") {
		t.Errorf("IKE SA %q: want the product default aes128-sha1-modp1024", cs.IKE)
	}
	w.pingBothWays(t, e)
	cs = e.waitState("vco-e2e", IPsecEstablished, 5*time.Second)
	for _, kind := range []string{EventCharonStarted, EventConfigLoaded, EventIKEUp, EventChildUp} {
		if !hasEvent(cs.Events, kind) {
			t.Errorf("no %s event in %v", kind, cs.Events)
		}
	}
	for _, ev := range cs.Events {
		t.Logf("event %s %s %s", ev.Time.Format("15:04:05.000"), ev.Kind, ev.Message)
	}
	// Rekeys initiated by the customer are reported.
	for _, what := range []string{"--child", "--ike"} {
		if out, err := w.dc.Charon.Swanctl(e.ctx, "--rekey", what, w.vco.ID); err != nil {
			t.Fatalf("swanctl --rekey %s: %v\n%s", what, err, out)
		}
	}
	e.waitEvent("vco-e2e", EventChildRekey, 10*time.Second)
	e.waitEvent("vco-e2e", EventIKERekey, 10*time.Second)
	w.pingBothWays(t, e)

	// A restarted driver (new instance, same options) re-adopts the cell: same charon,
	// SA untouched.
	pid := cs.PID
	e.drv.Close()
	d2, err := NewNetns(e.opts())
	if err != nil {
		t.Fatal(err)
	}
	e.drv = d2
	e.apply(w.desired)
	cs = e.waitState("vco-e2e", IPsecEstablished, 5*time.Second)
	if cs.PID != pid {
		t.Errorf("restarted driver replaced charon %d by %d", pid, cs.PID)
	}
	if hasEvent(cs.Events, EventConfigLoaded) || hasEvent(cs.Events, EventCharonStarted) {
		t.Errorf("restarted driver reloaded the connection: %v", cs.Events)
	}

	// Changed ESP settings: reload and renegotiate (the DC's proposal still matches).
	changed := *w.desired
	changed.Routers = slices.Clone(w.desired.Routers)
	changed.Routers[0].Cells = slices.Clone(w.desired.Routers[0].Cells)
	changed.Routers[0].Cells[0].IPsec.ESP.Lifetime = 3600 * time.Second
	e.apply(&changed)
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, _ := e.drv.Status(e.ctx)
		cs, _ = st.Cell("vco-e2e")
		loaded := lastEvent(cs.Events, EventConfigLoaded)
		if loaded >= 0 && lastEvent(cs.Events, EventIKEDown) > loaded && lastEvent(cs.Events, EventChildUp) > lastEvent(cs.Events, EventIKEDown) &&
			cs.State == IPsecEstablished {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no renegotiation after the ESP change: %+v", cs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if cs.PID != pid {
		t.Errorf("a configuration change restarted charon")
	}
	w.pingBothWays(t, e)

	// Remove the cell (and the routes through it): nothing of it is left.
	without := &Desired{Routers: []Router{w.desired.Routers[0]}}
	without.Routers[0].Cells = nil
	without.Routers[0].Tables = []Table{{ID: "vtb-e2e", Number: 100, Routes: []Route{{Dst: w.vpc.CIDR, NextHops: []string{"tr-attach-vpc1"}}}}}
	without.Routers[0].Associations = map[string]string{"tr-attach-vpc1": "vtb-e2e"}
	e.apply(without)
	if nsutil.Alive(pid) {
		t.Errorf("charon %d still runs after its cell was removed", pid)
	}
	got := e.render()
	for _, s := range []string{"c-e2e", "tr-attach-vpn1", "vco-e2e", "169.254.10."} {
		if strings.Contains(got, s) {
			t.Errorf("after removing the cell, %q is still there:\n%s", s, got)
		}
	}
	if st, _ := e.drv.Status(e.ctx); len(st.Cells) != 0 {
		t.Errorf("status still reports cells: %+v", st)
	}
	if err := w.vpc.Ping(e.ctx, w.dc.Host, 1); err == nil {
		t.Errorf("VPC still reaches the DC without the cell")
	}
}

// TestOnDemand: EffectImmediately=false. The DC does not initiate either; the connection
// stays down until a packet from the VPC side arrives, then comes up.
func TestOnDemand(t *testing.T) {
	e := newEnv(t)
	w := newE2E(t, e, false, false)
	e.apply(w.desired)
	time.Sleep(3 * time.Second)
	st, err := e.drv.Status(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	cs, _ := st.Cell("vco-e2e")
	if cs.State != IKENotEstablished || cs.IKE != "" || !cs.Running {
		t.Fatalf("on-demand connection is not idle before traffic: %+v", cs)
	}
	// The first packets are dropped (no SA yet); ping until the tunnel carries them.
	t0 := time.Now()
	for i := 0; ; i++ {
		if err := w.vpc.Ping(e.ctx, w.dc.Host, 1); err == nil {
			break
		}
		if time.Since(t0) > 15*time.Second {
			t.Fatalf("no reply through the on-demand tunnel within 15s")
		}
	}
	t.Logf("first reply %v after the first packet", time.Since(t0).Round(time.Millisecond))
	cs = e.waitState("vco-e2e", IPsecEstablished, 5*time.Second)
	if !hasEvent(cs.Events, EventTriggered) {
		t.Errorf("no %s event: %v", EventTriggered, cs.Events)
	}
	w.pingBothWays(t, e)

	// The customer's initiation is accepted too: drop the SA, let the DC initiate.
	if out, err := w.dc.Charon.Swanctl(e.ctx, "--terminate", "--ike", w.vco.ID); err != nil {
		t.Fatalf("swanctl --terminate: %v\n%s", err, out)
	}
	e.waitState("vco-e2e", IKENotEstablished, 10*time.Second)
	if out, err := w.dc.Charon.Swanctl(e.ctx, "--initiate", "--child", w.vco.ID); err != nil {
		t.Fatalf("DC initiate: %v\n%s", err, out)
	}
	e.waitState("vco-e2e", IPsecEstablished, 10*time.Second)
	w.pingBothWays(t, e)
}

// TestFlowProtectionIKEv1: policy-based selectors with IKEv1 Main Mode, 3DES/MD5 and two
// customer subnets: one child SA per subnet pair on both sides (vpnconf renders the
// customer's), and traffic from both customer subnets reaches the VPC.
func TestFlowProtectionIKEv1(t *testing.T) {
	e := newEnv(t)
	w := newE2E(t, e, true, false, func(v *model.VpnConnection) {
		v.LocalSubnet = "10.10.0.0/16"
		v.RemoteSubnet = "192.168.10.0/24,192.168.11.0/24"
		v.Ike.IkeVersion, v.Ike.IkeEncAlg, v.Ike.IkeAuthAlg, v.Ike.IkePfs = "ikev1", "3des", "md5", "group2"
		v.Ipsec.IpsecEncAlg, v.Ipsec.IpsecAuthAlg = "3des", "md5"
	})
	// The second customer subnet's host (libipsec also needs a local address in each
	// local selector on the DC side).
	if _, err := runIP(e, w.dc.Netns, "addr", "add", "192.168.11.1/32", "dev", "lo"); err != nil {
		t.Fatal(err)
	}
	w.desired.Routers[0].Tables[0].Routes = append(w.desired.Routers[0].Tables[0].Routes,
		Route{Dst: pfx("192.168.11.0/24"), NextHops: []string{"tr-attach-vpn1"}})
	e.apply(w.desired)
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, _ := e.drv.Status(e.ctx)
		cs, _ := st.Cell("vco-e2e")
		if cs.State == IPsecEstablished && len(cs.Children) == 2 {
			t.Logf("IKE %s; children %v", cs.IKE, cs.Children)
			if !strings.Contains(cs.IKE, "IKEv1 3DES_CBC/HMAC_MD5_96") {
				t.Errorf("IKE SA %q", cs.IKE)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not two child SAs within 20s: %+v", cs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(e.render(), "  link lo loopback mtu 65536 up 10.10.255.254/32 127.0.0.1/8\n") {
		t.Errorf("no local-selector address on the cell's lo:\n%s", e.render())
	}
	for _, src := range []string{"192.168.10.1", "192.168.11.1"} {
		if err := lab.Ping(e.ctx, w.dc.Netns, addr(src), w.vpc.Addr, 3); err != nil {
			t.Errorf("DC %s -> VPC: %v", src, err)
		}
		if err := w.vpc.Ping(e.ctx, addr(src), 3); err != nil {
			t.Errorf("VPC -> DC %s: %v", src, err)
		}
	}
}
