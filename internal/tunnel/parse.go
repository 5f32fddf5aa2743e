package tunnel

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"opencen/internal/addrs"
	"opencen/internal/apierr"
	"opencen/internal/model"
)

// Parsed is a connection read into a Spec, with the problems of each part apart: the
// tunnel itself, its BGP session and its health check. A caller that can run the parts
// on their own (the gateway) runs whatever parsed; one that needs the whole (a renderer)
// uses Err.
type Parsed struct {
	Spec Spec
	// Tunnel, BGP and HealthCheck are nil or the part's Problems (Tunnel may also wrap
	// ErrNotAttached). Spec.BGP and Spec.HealthCheck are nil when their part failed.
	Tunnel, BGP, HealthCheck error
}

// Err is every problem of the connection, nil when it parsed whole.
func (p Parsed) Err() error { return errors.Join(p.Tunnel, p.BGP, p.HealthCheck) }

// Problems lists the problems of every part (ErrNotAttached is not one).
func (p Parsed) Problems() Problems {
	var out Problems
	for _, err := range []error{p.Tunnel, p.BGP, p.HealthCheck} {
		var ps Problems
		if errors.As(err, &ps) {
			out = append(out, ps...)
		}
	}
	return out
}

// FromConnection parses a connection whole (see Parse).
func FromConnection(v *model.VpnConnection, cgw *model.CustomerGateway, psk, authKey string) (Spec, error) {
	p := Parse(v, cgw, psk, authKey)
	return p.Spec, p.Err()
}

// Parse reads a stored connection and its customer gateway; psk and authKey are the
// opened pre-shared key and BGP MD5 key. The cloud side's address is the connection's
// InternetIp: a connection not attached yet reports ErrNotAttached (wrapped) with the
// rest of the Spec filled in, so that its customer-side configuration can still be shown.
func Parse(v *model.VpnConnection, cgw *model.CustomerGateway, psk, authKey string) Parsed {
	var p Parsed
	p.Spec.Name = v.Name
	p.Spec.IPsec, p.Tunnel = parseIPsec(v, cgw, psk)
	if v.Bgp.EnableBgp {
		bgp, err := parseBGP(v, cgw, authKey)
		if err != nil {
			p.BGP = err
		} else {
			p.Spec.BGP = &bgp
		}
	}
	if v.HealthCheck.Enable {
		hc, err := parseHealthCheck(v.HealthCheck)
		if err != nil {
			p.HealthCheck = err
		} else {
			p.Spec.HealthCheck = &hc
		}
	}
	return p
}

// problems collects Problems; add keeps an API error's message (which says what to set)
// and anything else with the field's name.
type problems struct{ ps Problems }

func (c *problems) add(field string, err error) {
	if err == nil {
		return
	}
	msg := err.Error()
	var ae *apierr.Error
	if errors.As(err, &ae) {
		msg = ae.Message
	}
	c.ps = append(c.ps, Problem{Field: field, Problem: msg})
}

func (c *problems) addf(field, format string, args ...any) {
	c.ps = append(c.ps, Problem{Field: field, Problem: fmt.Sprintf(format, args...)})
}

func parseIPsec(v *model.VpnConnection, cgw *model.CustomerGateway, psk string) (IPsec, error) {
	var c problems
	s := IPsec{ID: v.ID, PSK: psk, DPD: v.EnableDpd, NATTraversal: v.EnableNatTraversal, StartNow: v.EffectImmediately}
	if !model.SafeID(v.ID) {
		c.addf("VpnConnectionId", "%q cannot name a tunnel: want 1 to 64 letters, digits, '-', '_' or '.'", v.ID)
	}
	notAttached := v.InternetIP == ""
	if !notAttached {
		a, err := netip.ParseAddr(v.InternetIP)
		if err != nil || !a.Is4() {
			c.addf("InternetIp", "the stored gateway IP %q is not an IPv4 address; detach and attach the connection again to get a new one", short(v.InternetIP))
		} else {
			s.Cloud = a
		}
	}
	if a, err := netip.ParseAddr(cgw.IPAddress); err != nil || !a.Is4() {
		c.addf("CustomerGateway.IpAddress", "the customer gateway %s has the address %q, not an IPv4 address; create a customer gateway with the device's public IPv4 address and use it", cgw.ID, short(cgw.IPAddress))
	} else {
		s.Customer = a
	}

	ike := v.Ike
	switch ike.IkeVersion {
	case "ikev1":
		s.IKE.Version = 1
		switch ike.IkeMode {
		case "main":
		case "aggressive":
			s.IKE.Aggressive = true
		default:
			c.addf("IkeConfig.IkeMode", "%q is not an IKEv1 mode; use main or aggressive", short(ike.IkeMode))
		}
	case "ikev2":
		s.IKE.Version = 2 // IKEv2 has no modes: IkeMode is ignored, as the cloud does
	default:
		c.addf("IkeConfig.IkeVersion", "%q is not an IKE version; use ikev1 or ikev2", short(ike.IkeVersion))
	}
	var err error
	if s.IKE.Enc, err = parseEnc(ike.IkeEncAlg); err != nil {
		c.add("IkeConfig.IkeEncAlg", err)
	}
	if s.IKE.Auth, err = parseAuth(ike.IkeAuthAlg); err != nil {
		c.add("IkeConfig.IkeAuthAlg", err)
	}
	if s.IKE.DH, err = parseDH(ike.IkePfs, false); err != nil {
		c.add("IkeConfig.IkePfs", err)
	}
	s.IKE.Lifetime = seconds(&c, "IkeConfig.IkeLifetime", ike.IkeLifetime)
	ipsec := v.Ipsec
	if s.ESP.Enc, err = parseEnc(ipsec.IpsecEncAlg); err != nil {
		c.add("IpsecConfig.IpsecEncAlg", err)
	}
	if s.ESP.Auth, err = parseAuth(ipsec.IpsecAuthAlg); err != nil {
		c.add("IpsecConfig.IpsecAuthAlg", err)
	}
	if s.ESP.PFS, err = parseDH(ipsec.IpsecPfs, true); err != nil {
		c.add("IpsecConfig.IpsecPfs", err)
	}
	s.ESP.Lifetime = seconds(&c, "IpsecConfig.IpsecLifetime", ipsec.IpsecLifetime)
	c.add("IkeConfig.Psk", model.CheckPSK("IkeConfig.Psk", psk))

	// The identities default to the two addresses (model's EffectiveLocalID and
	// EffectiveRemoteID); only an identity that was set can be at fault.
	if s.CloudID, err = ParseIdentity(v.EffectiveLocalID()); err != nil && v.Ike.LocalId != "" {
		c.add("IkeConfig.LocalId", err)
	}
	if s.CustomerID, err = ParseIdentity(v.EffectiveRemoteID(cgw)); err != nil && v.Ike.RemoteId != "" {
		c.add("IkeConfig.RemoteId", err)
	}

	if s.CloudSubnets, err = model.ParseSubnets("LocalSubnet", v.LocalSubnet); err != nil {
		c.add("LocalSubnet", err)
	}
	if s.CustomerSubnets, err = model.ParseSubnets("RemoteSubnet", v.RemoteSubnet); err != nil {
		c.add("RemoteSubnet", err)
	}
	if err := c.ps.err(); err != nil {
		return s, err
	}
	if notAttached {
		return s, fmt.Errorf("IPsec-VPN connection %s: %w", v.ID, ErrNotAttached)
	}
	return s, nil
}

func seconds(c *problems, field string, v int64) time.Duration {
	if v < 0 || v > 86400 {
		c.addf(field, "%d is not a lifetime; use 0 to 86400 seconds", v)
		return 0
	}
	return time.Duration(v) * time.Second
}

func parseBGP(v *model.VpnConnection, cgw *model.CustomerGateway, authKey string) (BGP, error) {
	var c problems
	var b BGP
	// The API's own rules (a /30 inside 169.254.0.0/16, not reserved, LocalBgpIp one of
	// its hosts), applied to the stored values.
	if _, err := (model.BgpInput{}).Apply(v.Bgp); err != nil {
		c.add("BgpConfig", err)
		return b, c.ps.err()
	}
	b.TunnelCIDR, _ = netip.ParsePrefix(v.Bgp.TunnelCidr)
	b.CloudIP, _ = netip.ParseAddr(v.Bgp.LocalBgpIp)
	peer, ok := addrs.Peer(b.TunnelCIDR, b.CloudIP)
	if !ok {
		c.addf("BgpConfig.LocalBgpIp", "%s is not a host of %s", b.CloudIP, b.TunnelCIDR)
	}
	b.CustomerIP = peer
	if v.Bgp.LocalAsn < 1 || v.Bgp.LocalAsn > 4294967295 {
		c.addf("BgpConfig.LocalAsn", "%d is not an ASN; use 1 to 4294967295", v.Bgp.LocalAsn)
	} else {
		b.CloudASN = uint32(v.Bgp.LocalAsn)
	}
	if cgw.Asn < 1 || cgw.Asn > 4294967295 {
		c.addf("CustomerGateway.Asn", "the customer gateway %s has no ASN, which BGP needs; use a customer gateway with the device's ASN", cgw.ID)
	} else {
		b.CustomerASN = uint32(cgw.Asn)
	}
	if authKey != "" {
		c.add("CustomerGateway.AuthKey", model.CheckAuthKey("CustomerGateway.AuthKey", authKey))
		b.AuthKey = authKey
	}
	return b, c.ps.err()
}

func parseHealthCheck(h model.HealthCheck) (HealthCheck, error) {
	var c problems
	var hc HealthCheck
	// The API's own rules: addresses, interval 1-3600 s, retry 1-100, the policy.
	if _, err := (model.HealthCheckInput{}).Apply(h); err != nil {
		c.add("HealthCheckConfig", err)
		return hc, c.ps.err()
	}
	hc.Source, _ = netip.ParseAddr(h.Sip)
	hc.Destination, _ = netip.ParseAddr(h.Dip)
	hc.Interval = time.Duration(h.Interval) * time.Second
	hc.Retry = int(h.Retry)
	hc.RevokeRoute = h.Policy == "revoke_route"
	return hc, nil
}

// short quotes at most 64 bytes of a stored value in a message.
func short(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
