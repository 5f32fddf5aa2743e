package vpnconf

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"opencen/internal/model"
	"opencen/internal/tunnel"
)

// dualView is a dual-tunnel connection as its customer sees it: each tunnel a customerView
// (ConnectionID = the tunnel's ID, Remote = the tunnel's gateway IP) with its role; the
// subnets, name and health check are the first tunnel's (they are the connection's).
type dualView struct {
	VcoID   string
	Tunnels [2]customerView // TunnelIndex 1 and 2
	Roles   [2]string
}

// baseDual has two tunnels in two zones on two customer gateways, with the page's values
// and different keys; tunnel 1 is the master.
func baseDual(id string) dualView {
	vco := "vco-" + id
	d := dualView{VcoID: vco, Roles: [2]string{model.RoleMaster, model.RoleSlave}}
	for i := range d.Tunnels {
		v := baseView(id)
		v.ConnectionID = model.TunnelID(vco, i+1)
		v.Local = fmt.Sprintf("198.18.0.%d", 2+i)
		v.Remote = fmt.Sprintf("198.18.1.%d", 10+i)
		v.Ike.LocalId, v.Ike.RemoteId = v.Local, v.Remote
		v.Ike.Psk = fmt.Sprintf("Tunnel-%d-key_%s", i+1, id)
		d.Tunnels[i] = v
	}
	return d
}

// records are the stored connection and customer gateways the product keeps for d: the
// tunnels' settings come from each tunnel's single-connection records.
func (d dualView) records() (*model.VpnConnection, map[string]*model.CustomerGateway) {
	cgws := map[string]*model.CustomerGateway{}
	var vco *model.VpnConnection
	for i, tv := range d.Tunnels {
		c, cgw := tv.records()
		cgw.ID = fmt.Sprintf("cgw-%s-%d", strings.TrimPrefix(d.VcoID, "vco-"), i+1)
		cgws[cgw.ID] = cgw
		t := model.VpnTunnel{ID: tv.ConnectionID, Index: i + 1, Role: d.Roles[i], CustomerGatewayID: cgw.ID,
			EnableDpd: c.EnableDpd, EnableNatTraversal: c.EnableNatTraversal, Ike: c.Ike, Ipsec: c.Ipsec, Bgp: c.Bgp,
			InternetIP: c.InternetIP, ZoneNo: fmt.Sprintf("cn-hangzhou-%c", 'h'+i)}
		if vco == nil {
			// The connection's own tunnel fields are unused once it has tunnels.
			vco = c
			vco.ID = d.VcoID
			vco.CustomerGatewayID, vco.InternetIP = "", ""
			vco.EnableTunnelsBgp = tv.Bgp != nil
		}
		vco.Tunnels = append(vco.Tunnels, t)
	}
	return vco, cgws
}

// specs parses d's records as the service does: each unit (tunnel) of the connection with
// its customer gateway, in tunnel order.
func (d dualView) specs(t *testing.T) []tunnel.Spec {
	t.Helper()
	vco, cgws := d.records()
	units := vco.Units()
	if len(units) != 2 {
		t.Fatalf("%s has %d units", d.VcoID, len(units))
	}
	var out []tunnel.Spec
	for i, u := range units {
		p := tunnel.Parse(&u, cgws[u.CustomerGatewayID], d.Tunnels[i].Ike.Psk, "")
		if err := p.Err(); err != nil && !errors.Is(err, tunnel.ErrNotAttached) {
			t.Fatalf("tunnel %s of %s does not parse: %v", u.ID, d.VcoID, err)
		}
		if p.Spec.IPsec.ID != d.Tunnels[i].ConnectionID {
			t.Fatalf("unit %d is %s, want %s", i, p.Spec.IPsec.ID, d.Tunnels[i].ConnectionID)
		}
		out = append(out, p.Spec)
	}
	return out
}

// master and slave are the positions of the master and the slave.
func (d dualView) master() int {
	return map[bool]int{true: 0, false: 1}[d.Roles[0] == model.RoleMaster]
}
func (d dualView) slave() int { return 1 - d.master() }

// render renders d into one file, master first.
func (d dualView) render(t *testing.T) (string, error) {
	t.Helper()
	specs := d.specs(t)
	return StrongswanDual(specs[d.master()], specs[d.slave()])
}

type dualCase struct {
	name string
	edit func(*dualView)
}

// dualCases: the tunnels differ in everything a tunnel has of its own (customer gateway,
// gateway IP, IKE and IPsec settings, DPD, NAT traversal, BGP), and tunnel 2 is the
// master in one case.
var dualCases = []dualCase{
	{"dual-default", func(d *dualView) {}},
	{"dual-flow-mixed", func(d *dualView) {
		for i := range d.Tunnels {
			d.Tunnels[i].LocalSubnet, d.Tunnels[i].RemoteSubnet = "192.168.10.0/24,192.168.11.0/24", "10.10.0.0/16,10.20.0.0/16"
		}
		t1, t2 := &d.Tunnels[0], &d.Tunnels[1]
		// one customer gateway for both tunnels
		t2.Local, t2.Ike.LocalId = t1.Local, t1.Local
		t1.Ike.IkeEncAlg, t1.Ike.IkeAuthAlg, t1.Ike.IkePfs, t1.Ike.IkeLifetime = "aes256", "sha256", "group14", 28800
		t1.Ipsec = model.IpsecConfig{IpsecEncAlg: "aes192", IpsecAuthAlg: "sha512", IpsecPfs: "disabled", IpsecLifetime: 3600}
		t2.Ike.IkeVersion, t2.Ike.IkeMode, t2.Ike.LocalId, t2.Ike.RemoteId = "ikev1", "aggressive", "dc.example.net", "@cloud2.example.com"
		t2.Ike.Psk = symbolPSK
		t2.EnableDpd, t2.EnableNatTraversal = false, false
	}},
	{"dual-bgp-hc-tunnel2-master", func(d *dualView) {
		d.Roles = [2]string{model.RoleSlave, model.RoleMaster}
		d.Tunnels[0].Bgp = &customerBgp{LocalAsn: 65010, LocalBgpIp: "169.254.10.2", PeerAsn: 45104, PeerBgpIp: "169.254.10.1", TunnelCidr: "169.254.10.0/30"}
		d.Tunnels[1].Bgp = &customerBgp{LocalAsn: 65010, LocalBgpIp: "169.254.20.2", PeerAsn: 45104, PeerBgpIp: "169.254.20.1", TunnelCidr: "169.254.20.0/30"}
		for i := range d.Tunnels {
			d.Tunnels[i].HealthCheckSource = "10.10.0.9"
		}
	}},
}

func (c dualCase) view() dualView {
	d := baseDual(c.name)
	c.edit(&d)
	return d
}

func TestStrongswanDualGolden(t *testing.T) {
	for _, c := range dualCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.view().render(t)
			if err != nil {
				t.Fatal(err)
			}
			if again, _ := c.view().render(t); again != got {
				t.Fatal("output is not deterministic")
			}
			golden(t, c.name, got)
		})
	}
}

// golden compares got with testdata/NAME.golden (-update rewrites it).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/vpnconf -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test ./internal/vpnconf -update rewrites it):\n%s", path, lineDiff(string(want), got))
	}
}

// TestStrongswanDualProperties: both tunnels are whole connections of their own in one
// file (each checked as a single tunnel's would be), the master first, with an XFRM
// interface each, the way to prefer the master, and the kernel-libipsec limit.
func TestStrongswanDualProperties(t *testing.T) {
	for _, dc := range dualCases {
		t.Run(dc.name, func(t *testing.T) {
			d := dc.view()
			out, err := d.render(t)
			if err != nil {
				t.Fatal(err)
			}
			c := parseSwanctl(t, out)
			m, s := d.Tunnels[d.master()], d.Tunnels[d.slave()]
			var conns []string
			for _, sec := range c.sections {
				if rest, ok := strings.CutPrefix(sec, "connections."); ok && !strings.Contains(rest, ".") {
					conns = append(conns, rest)
				}
			}
			if want := []string{m.ConnectionID, s.ConnectionID}; !reflect.DeepEqual(conns, want) {
				t.Errorf("connections %v, want %v (the master first)", conns, want)
			}
			for _, v := range d.Tunnels {
				checkConnection(t, c, v)
				checkSecret(t, c, out, v)
			}

			lines := strings.Split(out, "\n")
			if !strings.Contains(lines[0], "OpenCEN") || !strings.Contains(lines[0], "dual-tunnel") || !strings.Contains(lines[0], d.VcoID) {
				t.Errorf("header %q does not name OpenCEN and the dual-tunnel connection %s", lines[0], d.VcoID)
			}
			for i, v := range d.Tunnels {
				iface, ifID := fmt.Sprintf("ipsec-vpn%d", i+1), fmt.Sprint(41+i)
				metric := map[string]string{model.RoleMaster: "100", model.RoleSlave: "200"}[d.Roles[i]]
				for _, want := range []string{
					fmt.Sprintf("#   %s (%s): customer gateway %s <-> VPN gateway %s, XFRM interface %s", v.ConnectionID, d.Roles[i], v.Local, v.Remote, iface),
					fmt.Sprintf("#   ip link add %s type xfrm dev <uplink> if_id %s   (%s)", iface, ifID, d.Roles[i]),
					"dev " + iface + " metric " + metric,
					"opencen vpn config " + d.VcoID + " --tunnel " + v.ConnectionID,
				} {
					if !strings.Contains(out, want) {
						t.Errorf("the file lacks %q", want)
					}
				}
				// every child of the tunnel carries its interface (commented out)
				block := section(out, v.ConnectionID)
				if n, want := strings.Count(block, "# if_id_in = "+ifID), len(wantChildren(v)); n != want {
					t.Errorf("%s: %d children with if_id %s, want %d", v.ConnectionID, n, ifID, want)
				}
				if strings.Contains(block, "if_id_in = "+fmt.Sprint(42-i)) {
					t.Errorf("%s uses the other tunnel's if_id", v.ConnectionID)
				}
				if b := v.Bgp; b != nil {
					for _, want := range []string{b.LocalBgpIp, b.PeerBgpIp, b.TunnelCidr, fmt.Sprint(b.LocalAsn), fmt.Sprint(b.PeerAsn),
						"ip addr add " + b.LocalBgpIp + "/30 dev " + iface} {
						if !strings.Contains(out, want) {
							t.Errorf("BGP hint of %s lacks %q", v.ConnectionID, want)
						}
					}
				}
			}
			for _, want := range []string{"through the master tunnel", "prefer", "kernel-libipsec", "at most one 0.0.0.0/0 child", "one charon per tunnel"} {
				if !strings.Contains(out, want) {
					t.Errorf("the file lacks %q", want)
				}
			}
			if m.Bgp == nil && strings.Contains(out, "one session per tunnel") {
				t.Error("BGP hint without BGP")
			}
			if hc := m.HealthCheckSource; hc != "" {
				for _, want := range []string{"ip route add " + hc + "/32 dev ipsec-vpn1", "ip route add " + hc + "/32 dev ipsec-vpn2"} {
					if !strings.Contains(out, want) {
						t.Errorf("health-check step lacks %q", want)
					}
				}
			} else if strings.Contains(out, "Health check") {
				t.Error("health-check hint without a health check")
			}
			if m.LocalSubnet != model.AllIPv4 {
				for _, p := range strings.Split(m.RemoteSubnet, ",") {
					if !strings.Contains(out, "ip route add "+p+" dev ") {
						t.Errorf("no route hint for the cloud subnet %s", p)
					}
				}
			}
		})
	}
}

// section is the text of connection id's block (up to the next connection or secrets).
func section(out, id string) string {
	_, rest, ok := strings.Cut(out, "\n  "+id+" {\n")
	if !ok {
		return ""
	}
	end := strings.Index(rest, "\n  }\n")
	if end < 0 {
		return rest
	}
	return rest[:end]
}

// TestStrongswanTunnelAlone: one tunnel of a dual-tunnel connection renders as a
// single-tunnel file (the same connection and secret) whose header names the connection,
// the other tunnel and what its role asks of the data center.
func TestStrongswanTunnelAlone(t *testing.T) {
	d := dualCases[2].view() // tunnel 2 is the master
	specs := d.specs(t)
	for i, spec := range specs {
		role := d.Roles[i]
		out, err := StrongswanTunnel(spec, role)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := Strongswan(spec)
		if err != nil {
			t.Fatal(err)
		}
		// The same configuration as without the role: only comments differ.
		if got, want := parseSwanctl(t, out), parseSwanctl(t, plain); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: the role changes settings:\n%v\n%v", spec.IPsec.ID, got, want)
		}
		c := parseSwanctl(t, out)
		v := d.Tunnels[i]
		checkConnection(t, c, v)
		checkSecret(t, c, out, v)
		other := d.Tunnels[1-i].ConnectionID
		for _, want := range []string{"tunnel " + v.ConnectionID + " of IPsec-VPN connection " + d.VcoID,
			"opencen vpn config " + d.VcoID + " --tunnel " + other, "This tunnel is the " + role} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: the file lacks %q", v.ConnectionID, want)
			}
		}
		if strings.Contains(out, "libipsec") || strings.Contains(out, "ipsec-vpn1") || strings.Contains(out, "ipsec-vpn2") {
			t.Errorf("%s: a one-tunnel file has the dual file's hints", v.ConnectionID)
		}
	}
	if _, err := StrongswanTunnel(specs[0], "primary"); err == nil {
		t.Error("an unknown role was accepted")
	}
	single := specOf(t, baseView("single"))
	if _, err := StrongswanTunnel(single, model.RoleMaster); err == nil {
		t.Error("a single-tunnel connection was rendered as a tunnel")
	}
}

func TestStrongswanDualErrors(t *testing.T) {
	t.Run("not attached", func(t *testing.T) {
		d := baseDual("na")
		d.Tunnels[1].Remote = ""
		d.Tunnels[1].Ike.RemoteId = ""
		out, err := d.render(t)
		if !errors.Is(err, tunnel.ErrNotAttached) || !strings.Contains(err.Error(), d.Tunnels[1].ConnectionID) || out != "" {
			t.Errorf("err = %v, out %q; want ErrNotAttached naming %s", err, out, d.Tunnels[1].ConnectionID)
		}
	})
	t.Run("same identities", func(t *testing.T) {
		d := baseDual("same")
		for i := range d.Tunnels {
			d.Tunnels[i].Ike.LocalId, d.Tunnels[i].Ike.RemoteId = "dc.example.net", "cloud.example.com"
		}
		out, err := d.render(t)
		if !errors.Is(err, ErrSameIdentities) || !strings.Contains(err.Error(), d.VcoID) || out != "" {
			t.Errorf("err = %v, out %q; want ErrSameIdentities naming %s", err, out, d.VcoID)
		}
		// Each tunnel alone still renders: one strongSwan instance per tunnel.
		for i, spec := range d.specs(t) {
			if _, err := StrongswanTunnel(spec, d.Roles[i]); err != nil {
				t.Errorf("%s alone: %v", spec.IPsec.ID, err)
			}
		}
	})
	t.Run("not one connection", func(t *testing.T) {
		a, b := baseDual("a").specs(t), baseDual("b").specs(t)
		for _, pair := range [][2]tunnel.Spec{{a[0], b[1]}, {a[0], a[0]}, {specOf(t, baseView("x")), a[1]}} {
			if out, err := StrongswanDual(pair[0], pair[1]); err == nil || out != "" {
				t.Errorf("%s + %s rendered: %v", pair[0].IPsec.ID, pair[1].IPsec.ID, err)
			}
		}
	})
}

// sdkConfig is DownloadVpnConnectionConfigResponseBodyVpnConnectionConfig of the
// vpc-20160428 v7 SDK, field for field with its types (pointers: absent is nil).
type sdkConfig struct {
	Local, Remote, LocalSubnet, RemoteSubnet *string
	IkeConfig                                *sdkIke
	IpsecConfig                              *sdkIpsec
	BgpConfigs                               *struct {
		BgpConfig []struct{ LocalAsn, LocalBgpIp, PeerAsn, PeerBgpIp, TunnelCidr, TunnelId *string }
	}
	TunnelsConfig *struct {
		TunnelConfig []struct {
			TunnelId, Local, Remote *string
			IkeConfig               *sdkIke
			IpsecConfig             *sdkIpsec
		}
	}
}

type sdkIke struct {
	IkeAuthAlg, IkeEncAlg *string
	IkeLifetime           *int64
	IkeMode, IkePfs       *string
	IkeVersion, LocalId   *string
	Psk, RemoteId         *string
}

type sdkIpsec struct {
	IpsecAuthAlg, IpsecEncAlg *string
	IpsecLifetime             *int64
	IpsecPfs                  *string
}

// decodeSDK decodes a rendered configuration strictly into the SDK's model.
func decodeSDK(t *testing.T, cfg map[string]any) sdkConfig {
	t.Helper()
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out sdkConfig
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("not the SDK's shape: %v: %s", err, b)
	}
	return out
}

func deref[T any](p *T) (v T) {
	if p != nil {
		v = *p
	}
	return v
}

func TestAlibabaConfigDual(t *testing.T) {
	d := dualCases[1].view() // flow protection, different settings per tunnel
	d.Tunnels[0].Bgp = &customerBgp{LocalAsn: 4200000001, LocalBgpIp: "169.254.10.2", PeerAsn: 45104, PeerBgpIp: "169.254.10.1", TunnelCidr: "169.254.10.0/30"}
	d.Tunnels[1].Bgp = &customerBgp{LocalAsn: 4200000001, LocalBgpIp: "169.254.20.2", PeerAsn: 45104, PeerBgpIp: "169.254.20.1", TunnelCidr: "169.254.20.0/30"}
	got := decodeSDK(t, AlibabaConfig(d.specs(t)...))

	if got.Local != nil || got.Remote != nil || got.IkeConfig != nil || got.IpsecConfig != nil {
		t.Errorf("a dual-tunnel configuration has a tunnel's settings at the top: %+v", got)
	}
	if deref(got.LocalSubnet) != "192.168.10.0/24,192.168.11.0/24" || deref(got.RemoteSubnet) != "10.10.0.0/16,10.20.0.0/16" {
		t.Errorf("subnets %q %q (the customer's side is local)", deref(got.LocalSubnet), deref(got.RemoteSubnet))
	}
	if got.TunnelsConfig == nil || len(got.TunnelsConfig.TunnelConfig) != 2 {
		t.Fatalf("TunnelsConfig: %+v", got.TunnelsConfig)
	}
	for i, tc := range got.TunnelsConfig.TunnelConfig {
		v := d.Tunnels[i]
		ike, ipsec := deref(tc.IkeConfig), deref(tc.IpsecConfig)
		wantMode := v.Ike.IkeMode
		if v.Ike.IkeVersion == "ikev2" {
			wantMode = "main" // IKEv2 has no modes
		}
		for what, pair := range map[string][2]string{
			"TunnelId": {deref(tc.TunnelId), v.ConnectionID}, "Local": {deref(tc.Local), v.Local}, "Remote": {deref(tc.Remote), v.Remote},
			"Psk": {deref(ike.Psk), v.Ike.Psk}, "IkeVersion": {deref(ike.IkeVersion), v.Ike.IkeVersion}, "IkeMode": {deref(ike.IkeMode), wantMode},
			"IkeEncAlg": {deref(ike.IkeEncAlg), v.Ike.IkeEncAlg}, "IkeAuthAlg": {deref(ike.IkeAuthAlg), v.Ike.IkeAuthAlg},
			"IkePfs": {deref(ike.IkePfs), v.Ike.IkePfs}, "LocalId": {deref(ike.LocalId), strings.TrimPrefix(v.Ike.LocalId, "@")},
			"RemoteId":    {deref(ike.RemoteId), strings.TrimPrefix(v.Ike.RemoteId, "@")},
			"IpsecEncAlg": {deref(ipsec.IpsecEncAlg), v.Ipsec.IpsecEncAlg}, "IpsecAuthAlg": {deref(ipsec.IpsecAuthAlg), v.Ipsec.IpsecAuthAlg},
			"IpsecPfs":    {deref(ipsec.IpsecPfs), v.Ipsec.IpsecPfs},
			"IkeLifetime": {fmt.Sprint(deref(ike.IkeLifetime)), fmt.Sprint(v.Ike.IkeLifetime)}, "IpsecLifetime": {fmt.Sprint(deref(ipsec.IpsecLifetime)), fmt.Sprint(v.Ipsec.IpsecLifetime)},
		} {
			if pair[0] != pair[1] {
				t.Errorf("tunnel %d %s = %q, want %q", i+1, what, pair[0], pair[1])
			}
		}
	}
	if got.BgpConfigs == nil || len(got.BgpConfigs.BgpConfig) != 2 {
		t.Fatalf("BgpConfigs: %+v", got.BgpConfigs)
	}
	for i, b := range got.BgpConfigs.BgpConfig {
		v := d.Tunnels[i]
		if deref(b.TunnelId) != v.ConnectionID || deref(b.LocalAsn) != "4200000001" || deref(b.PeerAsn) != "45104" ||
			deref(b.LocalBgpIp) != v.Bgp.LocalBgpIp || deref(b.PeerBgpIp) != v.Bgp.PeerBgpIp || deref(b.TunnelCidr) != v.Bgp.TunnelCidr {
			t.Errorf("BgpConfig %d: %+v", i+1, b)
		}
	}

	// Without BGP the list is empty; not attached, a tunnel has no Remote.
	d = baseDual("plain")
	d.Tunnels[1].Remote, d.Tunnels[1].Ike.RemoteId = "", ""
	raw := AlibabaConfig(d.specs(t)...)
	got = decodeSDK(t, raw)
	if got.BgpConfigs == nil || got.BgpConfigs.BgpConfig == nil || len(got.BgpConfigs.BgpConfig) != 0 {
		t.Errorf("no BGP must be an empty list: %+v", got.BgpConfigs)
	}
	tcs := got.TunnelsConfig.TunnelConfig
	if deref(tcs[0].Remote) != "198.18.1.10" || deref(tcs[1].Remote) != "" || deref(tcs[1].IkeConfig.RemoteId) != "" {
		t.Errorf("tunnel 2 is not attached yet: %q %q / %q", deref(tcs[0].Remote), deref(tcs[1].Remote), deref(tcs[1].IkeConfig.RemoteId))
	}

	// A single-tunnel connection has no TunnelsConfig.
	if single := decodeSDK(t, AlibabaConfig(specOf(t, baseView("one")))); single.TunnelsConfig != nil || single.IkeConfig == nil {
		t.Errorf("single-tunnel: %+v", single)
	}
}
