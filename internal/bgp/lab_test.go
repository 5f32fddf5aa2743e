package bgp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"opencen/internal/dataplane"
	"opencen/internal/dataplane/nsutil"
	"opencen/internal/lab"
	"opencen/internal/model"
	"opencen/internal/testenv"
	"opencen/internal/tunnel"
	"opencen/internal/vpnconf"
)

// The lab test: a transit router namespace with a cell (the data-plane driver), a data
// center with stock strongSwan (configured from vpnconf's rendering of the connection)
// and BIRD (AS 65010), and a VPC host that also runs BIRD (a second neighbor with another
// local AS). The speaker runs inside the router namespace as a separate process (the test
// binary re-executed as `bgp-speaker`). Needs root, strongSwan and BIRD 2; without them it
// fails naming what is missing, or skips with OPENCEN_SKIP_DATAPLANE=1.

func requireLab(t *testing.T) {
	t.Helper()
	testenv.RequireDataplane(t)
	if m := lab.BIRDMissing(); m != "" {
		if os.Getenv("OPENCEN_SKIP_DATAPLANE") == "1" {
			t.Skip("this test needs " + m + " (skipped: OPENCEN_SKIP_DATAPLANE=1)")
		}
		t.Fatal("this test needs " + m + " (set OPENCEN_SKIP_DATAPLANE=1 to skip)")
	}
}

// states keeps the latest state per neighbor from a watch, and every update seen.
type states struct {
	mu      sync.Mutex
	latest  map[string]NeighborState
	updates []Update
}

func watchAll(t *testing.T, ctx context.Context, c *Client) *states {
	t.Helper()
	ch, err := c.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := &states{latest: map[string]NeighborState{}}
	go func() {
		for u := range ch {
			s.mu.Lock()
			s.updates = append(s.updates, u)
			if u.Removed {
				delete(s.latest, u.Neighbor.ID)
			} else {
				s.latest[u.Neighbor.ID] = u.Neighbor
			}
			s.mu.Unlock()
		}
	}()
	return s
}

// wait waits until cond holds for the watched state of neighbor id.
func (s *states) wait(t *testing.T, id, what string, timeout time.Duration, cond func(NeighborState) bool) NeighborState {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s.mu.Lock()
		st, ok := s.latest[id]
		s.mu.Unlock()
		if ok && cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not %s within %v; last state %+v", id, what, timeout, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func learned(st NeighborState, p netip.Prefix) (Route, bool) {
	for _, r := range st.Learned {
		if r.Prefix == p {
			return r, true
		}
	}
	return Route{}, false
}

// waitText polls f until its output contains (or, with absent, lacks) want.
func waitText(t *testing.T, what string, timeout time.Duration, f func() (string, error), want string, absent bool) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out, err := f()
		if err == nil && strings.Contains(out, want) != absent {
			return out
		}
		if time.Now().After(deadline) {
			neg := ""
			if absent {
				neg = "no longer "
			}
			t.Fatalf("%s: %sshowing %q within %v (err %v):\n%s", what, neg, want, timeout, err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestLabSpeakerWithBIRD(t *testing.T) {
	requireLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// a fresh prefix no namespace on this machine carries yet (other tests and benchmarks
	// may run beside this one; cleanup removes everything with the prefix)
	var prefix string
	for {
		b := make([]byte, 2)
		_, _ = rand.Read(b)
		prefix = "q" + hex.EncodeToString(b) + "-"
		if nss, err := nsutil.ListNetns(prefix); err == nil && len(nss) == 0 {
			break
		}
	}
	runDir, err := os.MkdirTemp("", "ocbgp")
	if err != nil {
		t.Fatal(err)
	}
	drvOpts := dataplane.NetnsOptions{Prefix: prefix, RunDir: filepath.Join(runDir, "dp"), WANNetns: prefix + "wan", WANBridge: lab.Bridge}
	var speakerPID int
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
		defer ccancel()
		if t.Failed() || os.Getenv("OPENCEN_BGP_TEST_LOGS") == "1" {
			for _, f := range []string{filepath.Join(runDir, "bgp", "tr-bgp.sock.log"), filepath.Join(runDir, "lab", prefix+"dc-dc1", "bird.log")} {
				if b, err := os.ReadFile(f); err == nil {
					t.Logf("%s:\n%s", f, b)
				}
			}
		}
		if speakerPID != 0 {
			if err := StopSpeaker(speakerPID); err != nil {
				t.Errorf("stop speaker: %v", err)
			}
		}
		if d, err := dataplane.NewNetns(drvOpts); err == nil {
			if err := d.Cleanup(cctx); err != nil {
				t.Errorf("driver cleanup: %v", err)
			}
		}
		if err := lab.Cleanup(cctx, prefix, filepath.Join(runDir, "lab")); err != nil {
			t.Errorf("lab cleanup: %v", err)
		}
		if nss, _ := nsutil.ListNetns(prefix); len(nss) > 0 {
			t.Errorf("namespaces left: %v", nss)
		}
		if speakerPID != 0 && nsutil.Alive(speakerPID) {
			t.Errorf("speaker %d still runs", speakerPID)
		}
		os.RemoveAll(runDir)
	})
	l, err := lab.New(ctx, prefix, filepath.Join(runDir, "lab"))
	if err != nil {
		t.Fatal(err)
	}
	drv, err := dataplane.NewNetns(drvOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer drv.Close()

	// The connection: destination routing, BGP over 169.254.11.0/30 (cloud .1, AS 45104;
	// customer .2, AS 65010).
	const psk = "bgp-lab-psk"
	cgw := &model.CustomerGateway{Meta: model.Meta{ID: "cgw-bgp"}, IPAddress: "198.18.0.23", Asn: 65010}
	vco := &model.VpnConnection{
		Meta: model.Meta{ID: "vco-bgp"}, CustomerGatewayID: cgw.ID,
		LocalSubnet: model.AllIPv4, RemoteSubnet: model.AllIPv4, EffectImmediately: true,
		EnableDpd: true, EnableNatTraversal: true, Ike: model.PageIke(), Ipsec: model.PageIpsec(),
		InternetIP: "198.18.0.21", AttachmentID: "tr-attach-vpn1", TransitRouterID: "tr-bgp",
		Bgp: model.BgpConfig{EnableBgp: true, LocalAsn: 45104, TunnelCidr: "169.254.11.0/30", LocalBgpIp: "169.254.11.1"},
	}
	spec, err := tunnel.FromConnection(vco, cgw, psk, "")
	if err != nil {
		t.Fatal(err)
	}
	swanctl, err := vpnconf.Strongswan(spec)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := l.AddDC(ctx, "dc1", pfx("198.18.0.23/15"), pfx("192.168.10.0/24"), swanctl)
	if err != nil {
		t.Fatal(err)
	}
	vpc, err := l.AddVPCHost(ctx, "vpc1", pfx("10.10.0.0/16"))
	if err != nil {
		t.Fatal(err)
	}
	cell := dataplane.NewCell(spec, vco.AttachmentID, 15, netip.Prefix{})
	if err := cell.Validate(); err != nil {
		t.Fatal(err)
	}
	if cell.LinkAddr != pfx("169.254.11.1/30") {
		t.Fatalf("cell link %v", cell.LinkAddr)
	}
	router := dataplane.Router{
		ID: "tr-bgp",
		VPCs: []dataplane.VPCLink{{AttachmentID: "tr-attach-vpc1", Netns: vpc.Netns,
			RouterAddr: pfx("169.254.200.1/30"), VPCAddr: pfx("169.254.200.2/30")}},
		Cells: []dataplane.Cell{cell},
		Tables: []dataplane.Table{{ID: "vtb-bgp", Number: 100, Routes: []dataplane.Route{
			{Dst: vpc.CIDR, NextHops: []string{"tr-attach-vpc1"}},
		}}},
		Associations: map[string]string{"tr-attach-vpn1": "vtb-bgp", "tr-attach-vpc1": "vtb-bgp"},
	}
	if err := drv.Apply(ctx, &dataplane.Desired{Routers: []dataplane.Router{router}}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	for {
		st, _ := drv.Status(ctx)
		if cs, ok := st.Cell(vco.ID); ok && cs.State == dataplane.IPsecEstablished {
			break
		}
		if time.Since(t0) > 20*time.Second {
			st, _ := drv.Status(ctx)
			t.Fatalf("tunnel not up within 20s: %+v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("tunnel up %v after Apply", time.Since(t0).Round(time.Millisecond))

	// The customer's BIRD, and a second one in the VPC host (another neighbor, another
	// local AS).
	dcNeighbor := lab.BIRDNeighbor{Address: addr("169.254.11.1"), LocalAddress: addr("169.254.11.2"), PeerAS: 45104}
	dcNets := []netip.Prefix{dc.Subnet}
	if err := dc.StartBIRD(ctx, 65010, dc.Host, []lab.BIRDNeighbor{dcNeighbor}, dcNets); err != nil {
		t.Fatal(err)
	}
	vbird := lab.BIRD{Netns: vpc.Netns, Dir: filepath.Join(runDir, "vpc-bird")}
	if err := vbird.Start(ctx, lab.BIRDConfig{ASN: 65020, RouterID: vpc.Addr, Announce: []netip.Prefix{pfx("10.77.0.0/16")},
		Neighbors: []lab.BIRDNeighbor{{Address: addr("169.254.200.1"), LocalAddress: addr("169.254.200.2"), PeerAS: 65001}}}); err != nil {
		t.Fatal(err)
	}

	// The speaker, in the router namespace.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(runDir, "bgp", "tr-bgp.sock")
	rns := drv.RouterNetns("tr-bgp")
	t1 := time.Now()
	speakerPID, err = StartSpeaker(ctx, rns, self, sock)
	if err != nil {
		t.Fatal(err)
	}
	if !nsutil.InNamedNetns(speakerPID, rns) {
		t.Fatalf("speaker %d is not in %s", speakerPID, rns)
	}
	if again, err := StartSpeaker(ctx, rns, self, sock); err != nil || again != speakerPID {
		t.Errorf("a second StartSpeaker did not adopt the running speaker: %d %v", again, err)
	}
	t.Logf("speaker pid %d in %s (started in %v)", speakerPID, rns, time.Since(t1).Round(time.Millisecond))
	c, err := Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w := watchAll(t, ctx, c)
	dcN := Neighbor{ID: vco.ID, Address: addr("169.254.11.2"), LocalAddress: addr("169.254.11.1"), LocalAS: 45104, PeerAS: 65010, HoldTime: 9}
	vpcN := Neighbor{ID: "vpc-bird", Address: addr("169.254.200.2"), LocalAddress: addr("169.254.200.1"), LocalAS: 65001, PeerAS: 65020, HoldTime: 9}
	cfg := Config{RouterID: addr("169.254.11.1"), Neighbors: []Neighbor{dcN, vpcN}}
	if err := c.Configure(ctx, cfg); err != nil {
		t.Fatal(err)
	}

	// 1. Sessions up; the DC's prefix is learned with AS path [65010].
	st := w.wait(t, vco.ID, "established with 192.168.10.0/24 learned", 30*time.Second, func(s NeighborState) bool {
		_, ok := learned(s, dc.Subnet)
		return s.Established && ok
	})
	t.Logf("DC session established %v after Configure", time.Since(t1).Round(time.Millisecond))
	if r, _ := learned(st, dc.Subnet); !slices.Equal(r.ASPath, []uint32{65010}) || r.NextHop != addr("169.254.11.2") || len(st.Learned) != 1 {
		t.Errorf("learned from the DC: %+v", st.Learned)
	}
	vst := w.wait(t, "vpc-bird", "established with 10.77.0.0/16 learned", 30*time.Second, func(s NeighborState) bool {
		_, ok := learned(s, pfx("10.77.0.0/16"))
		return s.Established && ok
	})
	if r, _ := learned(vst, pfx("10.77.0.0/16")); !slices.Equal(r.ASPath, []uint32{65020}) || vst.LocalAS != 65001 {
		t.Errorf("second neighbor: %+v", vst)
	}
	if out, _ := vbird.Birdc(ctx, "show", "protocols", "all", "peer1"); !strings.Contains(out, "Established") || !strings.Contains(out, "Neighbor AS:      65001") {
		t.Errorf("the VPC's BIRD does not see local AS 65001:\n%s", out)
	}

	// 2. Advertise per neighbor: 10.10.0.0/16 to the DC only, 10.99.0.0/16 to the VPC's
	// BIRD only.
	if _, err := c.Advertise(ctx, map[string][]netip.Prefix{vco.ID: {vpc.CIDR}, "vpc-bird": {pfx("10.99.0.0/16")}}); err != nil {
		t.Fatal(err)
	}
	out := waitText(t, "DC BIRD", 10*time.Second, func() (string, error) { return dc.BIRDRoutes(ctx) }, "10.10.0.0/16", false)
	t.Logf("DC birdc show route:\n%s", out)
	if !strings.Contains(out, "AS45104") || strings.Contains(out, "10.99.0.0/16") || strings.Contains(out, "10.77.0.0/16") {
		t.Errorf("DC BIRD routes: want 10.10.0.0/16 from AS45104 and nothing of the other neighbor:\n%s", out)
	}
	vout := waitText(t, "VPC BIRD", 10*time.Second, func() (string, error) { return vbird.Routes(ctx) }, "10.99.0.0/16", false)
	if !strings.Contains(vout, "[AS65001i]") || strings.Contains(vout, "10.10.0.0/16") || strings.Contains(vout, "192.168.10.0/24") {
		t.Errorf("VPC BIRD routes: want 10.99.0.0/16 with AS path [65001] (the neighbor's local AS only) and nothing else:\n%s", vout)
	}
	// The DC's kernel routes the cloud prefix into the tunnel, from its host address.
	kr := waitText(t, "DC kernel table", 10*time.Second, func() (string, error) {
		b, err := nsutil.IPn(ctx, dc.Netns, "route", "show", "table", fmt.Sprint(lab.BIRDKernelTable))
		return string(b), err
	}, "10.10.0.0/16 via 169.254.11.1 dev ipsec0", false)
	if !strings.Contains(kr, "src "+dc.Host.String()) {
		t.Errorf("DC kernel route without the host source: %s", kr)
	}
	// What the gateway does with a learned route: a route table entry through the
	// connection. Then traffic flows both ways.
	router.Tables[0].Routes = append(router.Tables[0].Routes, dataplane.Route{Dst: dc.Subnet, NextHops: []string{"tr-attach-vpn1"}})
	if err := drv.Apply(ctx, &dataplane.Desired{Routers: []dataplane.Router{router}}); err != nil {
		t.Fatal(err)
	}
	if err := vpc.Ping(ctx, dc.Host, 3); err != nil {
		t.Errorf("VPC -> DC over the BGP-learned route: %v", err)
	}
	if err := dc.Ping(ctx, vpc.Addr, 3); err != nil {
		t.Errorf("DC -> VPC over the BGP-advertised route: %v", err)
	}

	// 3. Withdraw from the DC (empty set) while the VPC's BIRD keeps its prefix.
	if _, err := c.Advertise(ctx, map[string][]netip.Prefix{vco.ID: {}, "vpc-bird": {pfx("10.99.0.0/16")}}); err != nil {
		t.Fatal(err)
	}
	waitText(t, "DC BIRD", 10*time.Second, func() (string, error) { return dc.BIRDRoutes(ctx) }, "10.10.0.0/16", true)
	if vout, _ := vbird.Routes(ctx); !strings.Contains(vout, "10.99.0.0/16") {
		t.Errorf("withdrawing from the DC withdrew from the VPC's BIRD too:\n%s", vout)
	}
	waitText(t, "DC kernel table", 10*time.Second, func() (string, error) {
		b, err := nsutil.IPn(ctx, dc.Netns, "route", "show", "table", fmt.Sprint(lab.BIRDKernelTable))
		return string(b), err
	}, "10.10.0.0/16", true)

	// 4. The learned-route limit: 120 prefixes announced, 100 accepted, the session stays up.
	many := []netip.Prefix{dc.Subnet}
	for i := range 119 {
		many = append(many, netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 20, byte(i), 0}), 24))
	}
	if err := dc.StartBIRD(ctx, 65010, dc.Host, []lab.BIRDNeighbor{dcNeighbor}, many); err != nil {
		t.Fatal(err)
	}
	st = w.wait(t, vco.ID, "at the learned-route limit", 15*time.Second, func(s NeighborState) bool {
		return s.Established && len(s.Learned) == DefaultMaxLearned && s.Ignored == 20
	})
	if _, ok := learned(st, dc.Subnet); !ok {
		t.Errorf("the first prefix lost its slot to later ones")
	}
	t.Logf("limit: %d learned, %d ignored (e.g. %v), session %s", len(st.Learned), st.Ignored, st.IgnoredPrefixes[:3], st.State)
	if all, err := c.State(ctx); err != nil || len(all) != 2 || len(all[0].Learned) != 100 {
		t.Errorf("State: %v %v", len(all), err)
	}

	// 5. TCP MD5: a password on our side only keeps the session down; the same password
	// on both sides brings it up.
	const md5 = "Opencen-MD5-key!"
	cfg.Neighbors[0].AuthPassword = md5
	if err := c.Configure(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	w.wait(t, vco.ID, "down after the password change", 15*time.Second, func(s NeighborState) bool { return !s.Established })
	time.Sleep(4 * time.Second)
	if st := w.get(vco.ID); st.Established {
		t.Errorf("established although only one side has an MD5 password")
	}
	// Advertised while the session is down: sent when it comes up.
	if _, err := c.Advertise(ctx, map[string][]netip.Prefix{vco.ID: {vpc.CIDR}, "vpc-bird": {pfx("10.99.0.0/16")}}); err != nil {
		t.Fatal(err)
	}
	dcNeighbor.Password = md5
	if err := dc.StartBIRD(ctx, 65010, dc.Host, []lab.BIRDNeighbor{dcNeighbor}, dcNets); err != nil {
		t.Fatal(err)
	}
	t2 := time.Now()
	st = w.wait(t, vco.ID, "established with MD5", 30*time.Second, func(s NeighborState) bool {
		_, ok := learned(s, dc.Subnet)
		return s.Established && ok && len(s.Learned) == 1 && s.Ignored == 0
	})
	t.Logf("MD5 session established %v after BIRD got the password; learned %v", time.Since(t2).Round(time.Millisecond), st.Learned)
	if out, _ := dc.BIRD().Birdc(ctx, "show", "protocols", "all", "peer1"); !strings.Contains(out, "Established") {
		t.Errorf("DC BIRD:\n%s", out)
	}
	waitText(t, "DC BIRD after the MD5 restart", 10*time.Second, func() (string, error) { return dc.BIRDRoutes(ctx) }, "10.10.0.0/16", false)

	// 6. Stopping the speaker closes the sessions (Cease) and removes its socket.
	if err := StopSpeaker(speakerPID); err != nil {
		t.Fatal(err)
	}
	waitText(t, "DC BIRD protocol", 10*time.Second, func() (string, error) { return dc.BIRD().Birdc(ctx, "show", "protocols", "peer1") }, "Established", true)
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket left after stop: %v", err)
	}
	speakerPID = 0
	w.mu.Lock()
	t.Logf("watch saw %d updates", len(w.updates))
	w.mu.Unlock()
}

func (s *states) get(id string) NeighborState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.latest[id]
}
