// Package vpnconf renders an IPsec-VPN connection's configuration for the customer's device,
// from the connection's tunnel.Spec.
package vpnconf

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"opencen/internal/model"
	"opencen/internal/tunnel"
)

// dpdDelay is the dead peer detection interval rendered when DPD is enabled.
const dpdDelay = "10s"

// secretValue renders a pre-shared key in strongSwan's hex form.
func secretValue(psk string) string { return "0x" + hex.EncodeToString([]byte(psk)) }

func lifetime(d time.Duration) string {
	if d <= 0 {
		return "0"
	}
	return fmt.Sprintf("%ds", int64(d/time.Second))
}

func joinPrefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

// oneLine makes free text safe for a '#' comment line.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
}

// writer writes indented lines.
type writer struct {
	b      strings.Builder
	indent int
}

func (w *writer) line(format string, args ...any) {
	if format == "" {
		w.b.WriteByte('\n')
		return
	}
	w.b.WriteString(strings.Repeat("  ", w.indent))
	fmt.Fprintf(&w.b, format, args...)
	w.b.WriteByte('\n')
}

func (w *writer) open(name string) { w.line("%s {", name); w.indent++ }
func (w *writer) close()           { w.indent--; w.line("}") }

func (w *writer) comment(lines ...string) {
	for _, l := range lines {
		if l == "" {
			w.line("#")
		} else {
			w.line("# %s", l)
		}
	}
}

type child struct {
	tunnel.Child
	comment         []string
	routeBasedHints bool
}

// unit is one tunnel as a file renders it.
type unit struct {
	spec tunnel.Spec
	// role is the tunnel's role in its dual-tunnel connection (model.RoleMaster or
	// RoleSlave); "" for a single-tunnel connection, or a tunnel whose role is not given.
	role string
	// dual: the file holds both tunnels of the connection, each with its own XFRM
	// interface (iface, ifID) so that this device's routing can prefer the master.
	dual  bool
	iface string
	ifID  int
}

// The XFRM interface the hints of a file with one tunnel suggest.
const (
	soleIface = "ipsec-vpn"
	soleIfID  = 42
)

// ErrSameIdentities is reported (wrapped) for a dual-tunnel connection whose two tunnels
// have the same pair of IKE identities: one charon picks a pre-shared key, and applies
// `unique`, by the identities alone, so it cannot keep the two tunnels apart. Each tunnel
// then needs its own charon (StrongswanTunnel).
var ErrSameIdentities = errors.New("both tunnels have the same IKE identities, so one strongSwan instance cannot tell them apart")

// Strongswan renders a complete swanctl.conf (strongSwan 5.9.x) for the customer gateway
// of one tunnel: a single-tunnel connection, or one tunnel of a dual-tunnel connection
// (Spec.IPsec.ID is then the tunnel's ID; StrongswanTunnel also says its role). The output
// is deterministic: the same spec gives the same bytes. A spec that is not whole (see
// tunnel.Parsed.Err) must not be rendered; the caller reports its problems instead.
func Strongswan(spec tunnel.Spec) (string, error) {
	return renderOne(unit{spec: spec, iface: soleIface, ifID: soleIfID})
}

// StrongswanTunnel renders one tunnel of a dual-tunnel connection alone, for a device (or
// a strongSwan instance) that carries only this tunnel, as Strongswan does, and says what
// its role (model.RoleMaster or model.RoleSlave) asks of the data center's routing.
func StrongswanTunnel(spec tunnel.Spec, role string) (string, error) {
	if role != model.RoleMaster && role != model.RoleSlave {
		return "", fmt.Errorf("tunnel %s: role %q is neither %s nor %s", spec.IPsec.ID, role, model.RoleMaster, model.RoleSlave)
	}
	if _, _, ok := model.TunnelOf(spec.IPsec.ID); !ok {
		return "", fmt.Errorf("%q is not a tunnel ID", spec.IPsec.ID)
	}
	return renderOne(unit{spec: spec, role: role, iface: soleIface, ifID: soleIfID})
}

// StrongswanDual renders both tunnels of a dual-tunnel connection into one swanctl.conf:
// two connections named by their tunnel IDs, each with its own addresses, proposals, DPD
// and pre-shared key, the master first, with how this device prefers the master (an XFRM
// interface per tunnel) and when it needs one strongSwan instance per tunnel instead.
// Both tunnels must be attached (tunnel.ErrNotAttached otherwise) and have different IKE
// identities (ErrSameIdentities otherwise).
func StrongswanDual(master, slave tunnel.Spec) (string, error) {
	vco, mi, ok := model.TunnelOf(master.IPsec.ID)
	vco2, si, ok2 := model.TunnelOf(slave.IPsec.ID)
	if !ok || !ok2 || vco != vco2 || mi == si {
		return "", fmt.Errorf("%s and %s are not the two tunnels of one connection", master.IPsec.ID, slave.IPsec.ID)
	}
	for _, t := range []tunnel.Spec{master, slave} {
		if !t.IPsec.Cloud.IsValid() {
			return "", fmt.Errorf("%s: %w", what(t.IPsec.ID), tunnel.ErrNotAttached)
		}
	}
	if master.IPsec.CustomerID == slave.IPsec.CustomerID && master.IPsec.CloudID == slave.IPsec.CloudID {
		return "", fmt.Errorf("IPsec-VPN connection %s: %w (local %s, remote %s); give the tunnels different identities, or render each tunnel alone for a strongSwan instance of its own",
			vco, ErrSameIdentities, master.IPsec.CustomerID, master.IPsec.CloudID)
	}
	m := unit{spec: master, role: model.RoleMaster, dual: true, iface: fmt.Sprintf("ipsec-vpn%d", mi), ifID: 40 + mi}
	s := unit{spec: slave, role: model.RoleSlave, dual: true, iface: fmt.Sprintf("ipsec-vpn%d", si), ifID: 40 + si}
	w := &writer{}
	dualHeader(w, vco, m, s)
	w.open("connections")
	writeConnection(w, m)
	writeConnection(w, s)
	w.close()
	w.line("")
	w.open("secrets")
	writeSecret(w, m, true)
	writeSecret(w, s, false)
	w.close()
	return w.b.String(), nil
}

// what names a tunnel for people: the connection, or a tunnel of it.
func what(id string) string {
	if vco, _, ok := model.TunnelOf(id); ok {
		return "tunnel " + id + " of IPsec-VPN connection " + vco
	}
	return "IPsec-VPN connection " + id
}

// renderOne renders a file with one tunnel.
func renderOne(u unit) (string, error) {
	s := u.spec.IPsec
	id := s.ID
	if !s.Cloud.IsValid() {
		return "", fmt.Errorf("%s: %w", what(id), tunnel.ErrNotAttached)
	}
	local, remote := s.Customer, s.Cloud
	routeBased := s.RouteBased()

	w := &writer{}
	// Header: no date, so the same connection always renders the same file.
	w.comment("strongSwan swanctl.conf generated by OpenCEN for " + what(id) + ".")
	if u.spec.Name != "" {
		w.comment("Connection name: " + oneLine(u.spec.Name))
	}
	if vco, index, ok := model.TunnelOf(id); ok {
		other := model.TunnelID(vco, 3-index)
		w.comment("One of the two tunnels of a dual-tunnel connection, for a device (or a strongSwan",
			"instance) that carries this tunnel only. The other tunnel, "+other+", needs its own:",
			"  opencen vpn config "+vco+" --tunnel "+other)
		switch u.role {
		case model.RoleMaster:
			w.comment("This tunnel is the master: the cloud sends toward the data center through it while",
				"it is up, and through the slave when it is not. Route the cloud's prefixes in the",
				"data center through this device first, and through the slave's while this tunnel is down.")
		case model.RoleSlave:
			w.comment("This tunnel is the slave: the cloud sends toward the data center through it only",
				"while the master is down. Route the cloud's prefixes in the data center through the",
				"master's device first, and through this one while the master's tunnel is down.")
		}
	}
	w.comment(
		"Customer gateway (this device) "+local.String()+" <-> VPN gateway "+remote.String()+".",
		"For strongSwan 5.9.x: save as /etc/swanctl/conf.d/"+id+".conf and run `swanctl --load-all`.",
	)
	if h := u.spec.HealthCheck; h != nil {
		hc := h.Source.String()
		w.comment("",
			"Health check: the cloud probes this connection from "+oneLine(hc)+".",
			"Required step: add a route to "+oneLine(hc)+"/32 through this tunnel on this device,",
			"otherwise the probe replies do not come back and the health check fails.",
		)
		if routeBased {
			w.comment("  e.g. ip route add " + oneLine(hc) + "/32 dev " + u.iface + "  (the XFRM interface below)")
		} else if !covered(s.CloudSubnets, h.Source) {
			w.comment("  "+oneLine(hc)+" is outside the cloud-side subnets of this connection: the replies",
				"  only enter the tunnel if a traffic selector (remote_ts) covers it.")
		}
	}
	if b := u.spec.BGP; b != nil {
		w.comment("",
			"BGP over the tunnel: configure your BGP daemon with",
			"  local ASN    "+fmt.Sprint(b.CustomerASN),
			"  local IP     "+b.CustomerIP.String()+" (on the tunnel interface, inside "+b.TunnelCIDR.String()+")",
			"  peer ASN     "+fmt.Sprint(b.CloudASN),
			"  peer IP      "+b.CloudIP.String(),
			"  tunnel CIDR  "+b.TunnelCIDR.String(),
		)
		if !routeBased {
			w.comment("  The BGP session runs between the two tunnel addresses: with flow protection,",
				"  the traffic selectors must cover them (destination routing is the usual choice).")
		}
	}
	w.line("")

	w.open("connections")
	writeConnection(w, u)
	w.close() // connections
	w.line("")

	w.open("secrets")
	writeSecret(w, u, true)
	w.close()
	return w.b.String(), nil
}

// dualHeader writes the comments at the top of a dual-tunnel file: the tunnels, how this
// device prefers the master, the BGP sessions and the health check, and the
// kernel-libipsec limit (REPORT.md §5 of the data-plane lab: one 0.0.0.0/0 child per
// charon, and no if_id).
func dualHeader(w *writer, vco string, m, s unit) {
	name := m.spec.Name
	w.comment("strongSwan swanctl.conf generated by OpenCEN for the dual-tunnel IPsec-VPN connection " + vco + ".")
	if name != "" {
		w.comment("Connection name: " + oneLine(name))
	}
	w.comment("Two tunnels, each with its own VPN gateway IP, IKE SA and pre-shared key:")
	for _, u := range []unit{m, s} {
		w.comment(fmt.Sprintf("  %s (%s): customer gateway %s <-> VPN gateway %s, XFRM interface %s",
			u.spec.IPsec.ID, u.role, u.spec.IPsec.Customer, u.spec.IPsec.Cloud, u.iface))
	}
	w.comment("For strongSwan 5.9.x: save as /etc/swanctl/conf.d/" + vco + ".conf and run `swanctl --load-all`.")

	routeBased := m.spec.IPsec.RouteBased()
	prefixes := []string{"<cloud prefix>"}
	if !routeBased {
		prefixes = nil
		for _, p := range m.spec.IPsec.CloudSubnets {
			prefixes = append(prefixes, p.String())
		}
	}
	w.comment("",
		"Master and slave: the cloud sends toward the data center through the master tunnel",
		"while it is up, and through the slave while it is not. Make this device prefer the",
		"master too: give each tunnel an XFRM interface (route-based; uncomment the if_id lines",
		"of its children below) and route the cloud's prefixes through the master's first:")
	for _, u := range []unit{m, s} {
		w.comment(fmt.Sprintf("  ip link add %s type xfrm dev <uplink> if_id %d   (%s)", u.iface, u.ifID, u.role))
	}
	w.comment(fmt.Sprintf("  ip link set %s up && ip link set %s up", m.iface, s.iface))
	for _, p := range prefixes {
		w.comment(fmt.Sprintf("  ip route add %s dev %s metric 100", p, m.iface),
			fmt.Sprintf("  ip route add %s dev %s metric 200", p, s.iface))
	}
	if routeBased {
		w.comment("Without if_id, both tunnels' 0.0.0.0/0 policies are the same, capture all IPv4",
			"traffic of this device, and it cannot choose the tunnel.")
	} else {
		w.comment("Without if_id, both tunnels' policies cover the same traffic and this device",
			"cannot choose the tunnel.")
	}
	w.comment("A route into a tunnel whose SA is down still takes the traffic: withdraw the master's",
		"routes while its tunnel is down (charon runs a child's updown script when it comes up",
		"and goes down), or run BGP over both tunnels, whose sessions end with their tunnels.")

	if m.spec.BGP != nil || s.spec.BGP != nil {
		w.comment("",
			"BGP over both tunnels: one session per tunnel. Prefer the master's routes (e.g. a",
			"higher local preference on its session) or use both (ECMP).")
		for _, u := range []unit{m, s} {
			b := u.spec.BGP
			if b == nil {
				continue
			}
			w.comment(fmt.Sprintf("  %s (%s), on %s:", u.spec.IPsec.ID, u.role, u.iface),
				"    local ASN    "+fmt.Sprint(b.CustomerASN),
				"    local IP     "+b.CustomerIP.String()+" (inside "+b.TunnelCIDR.String()+")",
				"    peer ASN     "+fmt.Sprint(b.CloudASN),
				"    peer IP      "+b.CloudIP.String(),
				"    tunnel CIDR  "+b.TunnelCIDR.String(),
				fmt.Sprintf("    ip addr add %s/%d dev %s", b.CustomerIP, b.TunnelCIDR.Bits(), u.iface))
		}
		if !routeBased {
			w.comment("  Each session runs between its tunnel's two addresses: with flow protection, the",
				"  traffic selectors must cover them (destination routing is the usual choice).")
		}
	}

	if h := m.spec.HealthCheck; h != nil {
		hc := oneLine(h.Source.String())
		w.comment("",
			"Health check: the cloud probes this connection from "+hc+".",
			"Required step: route "+hc+"/32 back through the tunnels on this device, the master's",
			"first, otherwise the probe replies do not come back and the health check fails:",
			fmt.Sprintf("  ip route add %s/32 dev %s metric 100", hc, m.iface),
			fmt.Sprintf("  ip route add %s/32 dev %s metric 200", hc, s.iface))
		if !routeBased && !covered(m.spec.IPsec.CloudSubnets, h.Source) {
			w.comment("  "+hc+" is outside the cloud-side subnets of this connection: the replies",
				"  only enter a tunnel if a traffic selector (remote_ts) covers it.")
		}
	}

	w.comment("",
		"kernel-libipsec (strongSwan's userspace ESP, for kernels without XFRM ESP): one charon",
		"carries at most one 0.0.0.0/0 child (a second gets the same reqid and no exclude route",
		"for its VPN gateway, so its own packets loop into the tunnel), and libipsec ignores",
		"if_id, so it cannot choose a tunnel either. Such a device needs one charon per tunnel",
		"(e.g. one network namespace each), each loading one tunnel's file:",
		"  opencen vpn config "+vco+" --tunnel "+m.spec.IPsec.ID,
		"  opencen vpn config "+vco+" --tunnel "+s.spec.IPsec.ID)
	w.line("")
}

// writeConnection writes the connection of one tunnel (inside "connections").
func writeConnection(w *writer, u unit) {
	s := u.spec.IPsec
	id := s.ID
	// The customer's side is local here.
	local, remote := s.Customer, s.Cloud
	localID, remoteID := s.CustomerID.Swanctl(), s.CloudID.Swanctl()
	version := fmt.Sprint(s.IKE.Version)
	routeBased := s.RouteBased()

	var children []child
	for _, c := range s.Children() {
		children = append(children, child{Child: c})
	}
	switch {
	case routeBased:
		children[0].routeBasedHints = true
	case s.IKE.Version == 2:
		children[0].comment = []string{"Flow protection: IKEv2 negotiates all subnet pairs in one CHILD_SA."}
	case len(children) > 1:
		children[0].comment = []string{
			"Flow protection with IKEv1: strongSwan negotiates only the first subnet pair",
			"of a CHILD_SA, so there is one child per (local, remote) subnet pair.",
		}
	}

	w.open(id)
	if u.dual {
		w.comment(fmt.Sprintf("Tunnel %s (%s).", id, u.role))
	}
	w.line("version = %s", version)
	if s.IKE.Aggressive {
		w.comment("IKEv1 Aggressive Mode. This side initiates; to also answer an Aggressive Mode",
			"PSK request, strongSwan needs charon.i_dont_care_about_security_and_use_aggressive_mode_psk = yes",
			"in strongswan.conf.")
		w.line("aggressive = yes")
	}
	w.line("local_addrs = %s", local)
	w.line("remote_addrs = %s", remote)
	w.comment(fmt.Sprintf("IKE (phase 1): %s / %s / %s", s.IKE.Enc, s.IKE.Auth, s.IKE.DH))
	w.line("proposals = %s", s.IKEProposal())
	// Lifetimes: the product's lifetime is when this side renews the SA. strongSwan's
	// defaults then subtract a random 0-10% (rand_time = over_time, resp. life_time -
	// rekey_time), so both ends do not rekey at the same moment and this side never renews
	// later than the configured lifetime, and keep a hard limit 10% after rekey_time
	// (over_time, life_time) as grace for a slow rekey. Lifetime 0 = no rekeying: the
	// defaults then are 0 too (no hard expiry).
	if s.IKE.Lifetime > 0 {
		renew := "rekeyed"
		if version == "1" {
			renew = "re-authenticated (IKEv1 has no IKE rekeying)"
		}
		w.comment("IKE SA lifetime: "+renew+" 90-100% into it;",
			"the hard limit is the default over_time, 10% more.")
	} else {
		w.comment("IKE SA lifetime 0: no rekeying (and no hard limit).")
	}
	w.line("rekey_time = %s", lifetime(s.IKE.Lifetime))
	if s.NATTraversal {
		w.comment("NAT traversal on: always encapsulate ESP in UDP 4500.")
		w.line("encap = yes")
	} else {
		w.comment("NAT traversal off: UDP encapsulation only if a NAT is detected.")
		w.line("encap = no")
	}
	if s.DPD {
		w.line("dpd_delay = %s", dpdDelay)
	} else {
		w.comment("Dead peer detection off.")
		w.line("dpd_delay = 0s")
	}
	w.comment("Keep trying until the VPN gateway answers; one IKE SA per peer.")
	w.line("keyingtries = 0")
	w.line("unique = replace")
	for _, side := range []struct{ name, id string }{{"local", localID}, {"remote", remoteID}} {
		w.open(side.name)
		w.line("auth = psk")
		if strings.HasPrefix(side.id, "@") {
			w.comment("'@': an FQDN identity (sent without the '@').")
		}
		w.line("id = %s", side.id)
		w.close()
	}
	w.open("children")
	for i, c := range children {
		first := i == 0
		w.open(c.Name)
		w.comment(c.comment...)
		switch {
		case u.dual:
			// Every child of a tunnel needs the tunnel's interface.
			if first {
				w.comment(fmt.Sprintf("The XFRM interface %s of this tunnel (see the top of this file); uncomment with it:", u.iface))
			}
			w.line("# if_id_in = %d", u.ifID)
			w.line("# if_id_out = %d", u.ifID)
		case c.routeBasedHints:
			w.comment(
				"Destination routing: a route-based tunnel. Both traffic selectors are 0.0.0.0/0",
				"and routing decides what enters the tunnel. On Linux, give the SAs an XFRM",
				"interface so that only what you route into it is encrypted (without if_id the",
				"0.0.0.0/0 policies capture all IPv4 traffic of this device):",
				fmt.Sprintf("  ip link add %s type xfrm dev <uplink> if_id %d", u.iface, u.ifID),
				"  ip link set "+u.iface+" up",
			)
			if b := u.spec.BGP; b != nil {
				w.comment(fmt.Sprintf("  ip addr add %s/%d dev %s   (BGP tunnel address; peer %s)", b.CustomerIP, b.TunnelCIDR.Bits(), u.iface, b.CloudIP))
			}
			w.comment("and uncomment:")
			w.line("# if_id_in = %d", u.ifID)
			w.line("# if_id_out = %d", u.ifID)
		}
		w.line("local_ts = %s", joinPrefixes(c.Customer))
		w.line("remote_ts = %s", joinPrefixes(c.Cloud))
		pfs := string(s.ESP.PFS)
		if s.ESP.PFS == tunnel.DHNone {
			pfs = "PFS disabled"
		}
		if first {
			w.comment(fmt.Sprintf("IPsec (phase 2): %s / %s / %s", s.ESP.Enc, s.ESP.Auth, pfs))
		}
		w.line("esp_proposals = %s", s.ESPProposal())
		if first {
			if s.ESP.Lifetime > 0 {
				w.comment("IPsec SA lifetime: rekeyed 90-100% into it; the hard limit is the",
					"default life_time, 10% more.")
			} else {
				w.comment("IPsec SA lifetime 0: no rekeying (and no hard limit).")
			}
		}
		w.line("rekey_time = %s", lifetime(s.ESP.Lifetime))
		if first {
			w.comment("Initiate from this side, not on demand: the VPN gateway may wait for traffic.",
				"restart re-creates the SA after a DPD or retransmission timeout.")
		}
		w.line("start_action = start")
		w.line("dpd_action = restart")
		w.line("close_action = none")
		w.close()
	}
	w.close() // children
	w.close() // connection
}

// writeSecret writes the pre-shared key of one tunnel (inside "secrets"); explain adds why
// it is hex-encoded.
func writeSecret(w *writer, u unit, explain bool) {
	s := u.spec.IPsec
	w.open("ike-" + s.ID)
	w.line("id-1 = %s", s.CustomerID.Swanctl())
	w.line("id-2 = %s", s.CloudID.Swanctl())
	if explain {
		w.comment("The pre-shared key, hex-encoded (0x...): strongSwan decodes it to the exact bytes.",
			"Written plainly it would be cut at # or }, quoted it would need \" and \\ escaped,",
			"and a key starting with 0x or 0s would be decoded instead of used as is.")
	}
	w.line("secret = %s", secretValue(s.PSK))
	w.close()
}

func covered(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
