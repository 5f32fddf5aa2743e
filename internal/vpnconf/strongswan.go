// Package vpnconf renders an IPsec-VPN connection's configuration for the customer's device.
package vpnconf

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"opencen/internal/model"
)

// ErrNotAttached is returned (wrapped) by Strongswan for a connection that has no cloud
// gateway IP yet: the IP is assigned when the connection is attached to a transit router.
var ErrNotAttached = errors.New("the connection has no gateway IP until it is attached to a transit router")

// strongSwan proposal keywords for the product's algorithm names.
var (
	encKeywords  = map[string]string{"aes": "aes128", "aes192": "aes192", "aes256": "aes256", "des": "des", "3des": "3des"}
	authKeywords = map[string]string{"md5": "md5", "sha1": "sha1", "sha256": "sha256", "sha384": "sha384", "sha512": "sha512"}
	dhKeywords   = map[string]string{"group1": "modp768", "group2": "modp1024", "group5": "modp1536", "group14": "modp2048"}
)

// dpdDelay is the dead peer detection interval rendered when DPD is enabled.
const dpdDelay = "10s"

// IKEProposal is the strongSwan IKE proposal for phase 1, e.g. "aes128-sha1-modp1024".
func IKEProposal(ike model.IkeConfig) (string, error) {
	return proposal("IkeConfig", ike.IkeEncAlg, ike.IkeAuthAlg, ike.IkePfs, false)
}

// ESPProposal is the strongSwan ESP proposal for phase 2, e.g. "aes128-sha1-modp1024", or
// "aes128-sha1" when PFS is disabled (no DH group: rekeying reuses the IKE keys).
func ESPProposal(ipsec model.IpsecConfig) (string, error) {
	return proposal("IpsecConfig", ipsec.IpsecEncAlg, ipsec.IpsecAuthAlg, ipsec.IpsecPfs, true)
}

func proposal(what, enc, auth, dh string, pfsMayBeOff bool) (string, error) {
	e, ok := encKeywords[enc]
	if !ok {
		return "", fmt.Errorf("%s: unsupported encryption algorithm %q", what, enc)
	}
	a, ok := authKeywords[auth]
	if !ok {
		return "", fmt.Errorf("%s: unsupported authentication algorithm %q", what, auth)
	}
	if pfsMayBeOff && dh == "disabled" {
		return e + "-" + a, nil
	}
	g, ok := dhKeywords[dh]
	if !ok {
		return "", fmt.Errorf("%s: unsupported DH group %q", what, dh)
	}
	return e + "-" + a + "-" + g, nil
}

// swanctlID renders an IKE identity so strongSwan gives it the intended type: an IP
// address as is (ID_IPV4_ADDR/ID_IPV6_ADDR), anything else as "@name". strongSwan reads
// a leading '@' as "FQDN, no type guessing" and strips it, so "@dc.example.net" is the
// FQDN dc.example.net on the wire. An identity already written as "@name" keeps one '@'
// ("@@" would make it a user FQDN / email identity).
func swanctlID(id string) (string, error) {
	if err := model.CheckIdentity("id", id); err != nil || id == "" {
		return "", fmt.Errorf("IKE identity %q is neither an IP address nor an FQDN", id)
	}
	if a, err := netip.ParseAddr(id); err == nil {
		if a.Zone() != "" {
			return "", fmt.Errorf("IKE identity %q: an IP address identity cannot have a zone", id)
		}
		return a.String(), nil
	}
	return "@" + strings.TrimPrefix(id, "@"), nil
}

// secretValue renders a pre-shared key in strongSwan's hex form.
func secretValue(psk string) string { return "0x" + hex.EncodeToString([]byte(psk)) }

func lifetime(seconds int64) string {
	if seconds <= 0 {
		return "0"
	}
	return fmt.Sprintf("%ds", seconds)
}

func addr(what, v string) (netip.Addr, error) {
	a, err := netip.ParseAddr(v)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%s %q is not an IP address", what, v)
	}
	return a, nil
}

func subnets(what, v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(v, ",") {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%s %q is not a comma-separated CIDR list", what, v)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func joinPrefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

// safeName checks that a connection ID can be a swanctl section name as is.
func safeName(id string) error {
	if id == "" {
		return errors.New("the connection has no ID")
	}
	for _, r := range id {
		if !(r == '-' || r == '_' || r == '.' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')) {
			return fmt.Errorf("connection ID %q cannot be a swanctl section name", id)
		}
	}
	return nil
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
	name            string
	local, remote   []netip.Prefix
	comment         []string
	routeBasedHints bool
}

// Strongswan renders a complete swanctl.conf (strongSwan 5.9.x) for the customer gateway
// of cv. The output is deterministic: the same view gives the same bytes.
func Strongswan(cv model.CustomerView) (string, error) {
	id := cv.ConnectionID
	if err := safeName(id); err != nil {
		return "", err
	}
	if cv.Remote == "" {
		return "", fmt.Errorf("IPsec-VPN connection %s: %w", id, ErrNotAttached)
	}
	local, err := addr("customer gateway IP", cv.Local)
	if err != nil {
		return "", err
	}
	remote, err := addr("VPN gateway IP", cv.Remote)
	if err != nil {
		return "", err
	}
	ike, ipsec := cv.Ike, cv.Ipsec
	var version string
	switch ike.IkeVersion {
	case "ikev1":
		version = "1"
	case "ikev2":
		version = "2"
	default:
		return "", fmt.Errorf("IkeConfig: unsupported IKE version %q", ike.IkeVersion)
	}
	ikeProp, err := IKEProposal(ike)
	if err != nil {
		return "", err
	}
	espProp, err := ESPProposal(ipsec)
	if err != nil {
		return "", err
	}
	localIDText, remoteIDText := ike.LocalId, ike.RemoteId
	if localIDText == "" {
		localIDText = local.String()
	}
	if remoteIDText == "" {
		remoteIDText = remote.String()
	}
	localID, err := swanctlID(localIDText)
	if err != nil {
		return "", fmt.Errorf("IkeConfig.LocalId: %w", err)
	}
	remoteID, err := swanctlID(remoteIDText)
	if err != nil {
		return "", fmt.Errorf("IkeConfig.RemoteId: %w", err)
	}
	if ike.Psk == "" {
		return "", errors.New("IkeConfig: the pre-shared key is empty")
	}
	localNets, err := subnets("LocalSubnet", cv.LocalSubnet)
	if err != nil {
		return "", err
	}
	remoteNets, err := subnets("RemoteSubnet", cv.RemoteSubnet)
	if err != nil {
		return "", err
	}
	all := netip.MustParsePrefix(model.AllIPv4)
	routeBased := len(localNets) == 1 && len(remoteNets) == 1 && localNets[0] == all && remoteNets[0] == all

	var children []child
	switch {
	case routeBased:
		children = []child{{name: id, local: localNets, remote: remoteNets, routeBasedHints: true}}
	case version == "2":
		children = []child{{name: id, local: localNets, remote: remoteNets, comment: []string{
			"Flow protection: IKEv2 negotiates all subnet pairs in one CHILD_SA.",
		}}}
	default:
		n := 0
		for _, l := range localNets {
			for _, r := range remoteNets {
				n++
				children = append(children, child{name: fmt.Sprintf("%s-%d", id, n), local: []netip.Prefix{l}, remote: []netip.Prefix{r}})
			}
		}
		if n > 1 {
			children[0].comment = []string{
				"Flow protection with IKEv1: strongSwan negotiates only the first subnet pair",
				"of a CHILD_SA, so there is one child per (local, remote) subnet pair.",
			}
		}
	}

	w := &writer{}
	// Header: no date, so the same connection always renders the same file.
	w.comment("strongSwan swanctl.conf generated by OpenCEN for IPsec-VPN connection " + id + ".")
	if cv.Name != "" {
		w.comment("Connection name: " + oneLine(cv.Name))
	}
	w.comment(
		"Customer gateway (this device) "+local.String()+" <-> VPN gateway "+remote.String()+".",
		"For strongSwan 5.9.x: save as /etc/swanctl/conf.d/"+id+".conf and run `swanctl --load-all`.",
	)
	if hc := cv.HealthCheckSource; hc != "" {
		w.comment("",
			"Health check: the cloud probes this connection from "+oneLine(hc)+".",
			"Required step: add a route to "+oneLine(hc)+"/32 through this tunnel on this device,",
			"otherwise the probe replies do not come back and the health check fails.",
		)
		if routeBased {
			w.comment("  e.g. ip route add " + oneLine(hc) + "/32 dev ipsec-vpn  (the XFRM interface below)")
		} else if a, err := netip.ParseAddr(hc); err == nil && !covered(remoteNets, a) {
			w.comment("  "+oneLine(hc)+" is outside the cloud-side subnets of this connection: the replies",
				"  only enter the tunnel if a traffic selector (remote_ts) covers it.")
		}
	}
	if b := cv.Bgp; b != nil {
		localAsn := fmt.Sprint(b.LocalAsn)
		if b.LocalAsn == 0 {
			localAsn = "(not set: give the customer gateway an ASN)"
		}
		w.comment("",
			"BGP over the tunnel: configure your BGP daemon with",
			"  local ASN    "+localAsn,
			"  local IP     "+oneLine(b.LocalBgpIp)+" (on the tunnel interface, inside "+oneLine(b.TunnelCidr)+")",
			"  peer ASN     "+fmt.Sprint(b.PeerAsn),
			"  peer IP      "+oneLine(b.PeerBgpIp),
			"  tunnel CIDR  "+oneLine(b.TunnelCidr),
		)
		if !routeBased {
			w.comment("  The BGP session runs between the two tunnel addresses: with flow protection,",
				"  the traffic selectors must cover them (destination routing is the usual choice).")
		}
	}
	w.line("")

	w.open("connections")
	w.open(id)
	w.line("version = %s", version)
	if version == "1" && ike.IkeMode == "aggressive" {
		w.comment("IKEv1 Aggressive Mode. This side initiates; to also answer an Aggressive Mode",
			"PSK request, strongSwan needs charon.i_dont_care_about_security_and_use_aggressive_mode_psk = yes",
			"in strongswan.conf.")
		w.line("aggressive = yes")
	}
	w.line("local_addrs = %s", local)
	w.line("remote_addrs = %s", remote)
	w.comment(fmt.Sprintf("IKE (phase 1): %s / %s / %s", ike.IkeEncAlg, ike.IkeAuthAlg, ike.IkePfs))
	w.line("proposals = %s", ikeProp)
	// Lifetimes: the product's lifetime is when this side renews the SA. strongSwan's
	// defaults then subtract a random 0-10% (rand_time = over_time, resp. life_time -
	// rekey_time), so both ends do not rekey at the same moment and this side never renews
	// later than the configured lifetime, and keep a hard limit 10% after rekey_time
	// (over_time, life_time) as grace for a slow rekey. Lifetime 0 = no rekeying: the
	// defaults then are 0 too (no hard expiry).
	if ike.IkeLifetime > 0 {
		renew := "rekeyed"
		if version == "1" {
			renew = "re-authenticated (IKEv1 has no IKE rekeying)"
		}
		w.comment("IKE SA lifetime: "+renew+" 90-100% into it;",
			"the hard limit is the default over_time, 10% more.")
	} else {
		w.comment("IKE SA lifetime 0: no rekeying (and no hard limit).")
	}
	w.line("rekey_time = %s", lifetime(ike.IkeLifetime))
	if cv.EnableNatTraversal {
		w.comment("NAT traversal on: always encapsulate ESP in UDP 4500.")
		w.line("encap = yes")
	} else {
		w.comment("NAT traversal off: UDP encapsulation only if a NAT is detected.")
		w.line("encap = no")
	}
	if cv.EnableDpd {
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
		w.open(c.name)
		w.comment(c.comment...)
		if c.routeBasedHints {
			w.comment(
				"Destination routing: a route-based tunnel. Both traffic selectors are 0.0.0.0/0",
				"and routing decides what enters the tunnel. On Linux, give the SAs an XFRM",
				"interface so that only what you route into it is encrypted (without if_id the",
				"0.0.0.0/0 policies capture all IPv4 traffic of this device):",
				"  ip link add ipsec-vpn type xfrm dev <uplink> if_id 42",
				"  ip link set ipsec-vpn up",
			)
			if b := cv.Bgp; b != nil {
				w.comment("  ip addr add " + oneLine(b.LocalBgpIp) + "/" + prefixBits(b.TunnelCidr) + " dev ipsec-vpn   (BGP tunnel address; peer " + oneLine(b.PeerBgpIp) + ")")
			}
			w.comment("and uncomment:")
			w.line("# if_id_in = 42")
			w.line("# if_id_out = 42")
		}
		w.line("local_ts = %s", joinPrefixes(c.local))
		w.line("remote_ts = %s", joinPrefixes(c.remote))
		pfs := ipsec.IpsecPfs
		if pfs == "disabled" {
			pfs = "PFS disabled"
		}
		if first {
			w.comment(fmt.Sprintf("IPsec (phase 2): %s / %s / %s", ipsec.IpsecEncAlg, ipsec.IpsecAuthAlg, pfs))
		}
		w.line("esp_proposals = %s", espProp)
		if first {
			if ipsec.IpsecLifetime > 0 {
				w.comment("IPsec SA lifetime: rekeyed 90-100% into it; the hard limit is the",
					"default life_time, 10% more.")
			} else {
				w.comment("IPsec SA lifetime 0: no rekeying (and no hard limit).")
			}
		}
		w.line("rekey_time = %s", lifetime(ipsec.IpsecLifetime))
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
	w.close() // connections
	w.line("")

	w.open("secrets")
	w.open("ike-" + id)
	w.line("id-1 = %s", localID)
	w.line("id-2 = %s", remoteID)
	w.comment("The pre-shared key, hex-encoded (0x...): strongSwan decodes it to the exact bytes.",
		"Written plainly it would be cut at # or }, quoted it would need \" and \\ escaped,",
		"and a key starting with 0x or 0s would be decoded instead of used as is.")
	w.line("secret = %s", secretValue(ike.Psk))
	w.close()
	w.close()
	return w.b.String(), nil
}

func covered(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func prefixBits(cidr string) string {
	if p, err := netip.ParsePrefix(cidr); err == nil {
		return fmt.Sprint(p.Bits())
	}
	return "30"
}
