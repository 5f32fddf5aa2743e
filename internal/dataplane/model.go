package dataplane

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"opencen/internal/model"
	"opencen/internal/vpnconf"
)

// CellFromConnection builds the cloud side of an attached IPsec-VPN connection. psk is the
// opened pre-shared key; wanBits is the prefix length of the WAN the gateway IP
// (v.InternetIP) lives on; link is the router's /30 address on the router<->cell link, used
// when the connection has no BGP tunnel CIDR (with BGP, the tunnel CIDR and LocalBgpIp
// win). The proposals come from vpnconf, so both ends use the same mapping.
func CellFromConnection(v *model.VpnConnection, cgw *model.CustomerGateway, psk string, wanBits int, link netip.Prefix) (Cell, error) {
	if v.InternetIP == "" {
		return Cell{}, fmt.Errorf("connection %s: %w", v.ID, vpnconf.ErrNotAttached)
	}
	wan, err := netip.ParseAddr(v.InternetIP)
	if err != nil {
		return Cell{}, fmt.Errorf("connection %s: InternetIp %q: %w", v.ID, v.InternetIP, err)
	}
	peer, err := netip.ParseAddr(cgw.IPAddress)
	if err != nil {
		return Cell{}, fmt.Errorf("connection %s: customer gateway IP %q: %w", v.ID, cgw.IPAddress, err)
	}
	if v.Bgp.TunnelCidr != "" && v.Bgp.LocalBgpIp != "" {
		p, err1 := netip.ParsePrefix(v.Bgp.TunnelCidr)
		a, err2 := netip.ParseAddr(v.Bgp.LocalBgpIp)
		if err1 != nil || err2 != nil {
			return Cell{}, fmt.Errorf("connection %s: BGP tunnel %q / %q is invalid", v.ID, v.Bgp.TunnelCidr, v.Bgp.LocalBgpIp)
		}
		link = netip.PrefixFrom(a, p.Bits())
	}
	ikeProp, err := vpnconf.IKEProposal(v.Ike)
	if err != nil {
		return Cell{}, err
	}
	espProp, err := vpnconf.ESPProposal(v.Ipsec)
	if err != nil {
		return Cell{}, err
	}
	version := 2
	if v.Ike.IkeVersion == "ikev1" {
		version = 1
	}
	c := Cell{
		ID:           v.ID,
		AttachmentID: v.AttachmentID,
		WANAddr:      netip.PrefixFrom(wan, wanBits),
		PeerAddr:     peer,
		LinkAddr:     link,
		IPsec: IPsec{
			IKEVersion:  version,
			Aggressive:  version == 1 && v.Ike.IkeMode == "aggressive",
			IKEProposal: ikeProp,
			ESPProposal: espProp,
			IKELifetime: time.Duration(v.Ike.IkeLifetime) * time.Second,
			ESPLifetime: time.Duration(v.Ipsec.IpsecLifetime) * time.Second,
			PSK:         psk,
			LocalID:     v.EffectiveLocalID(),
			RemoteID:    v.EffectiveRemoteID(cgw),
			DPD:         v.EnableDpd,
			StartNow:    v.EffectImmediately,
		},
	}
	if v.FlowProtection() {
		if c.IPsec.LocalTS, err = prefixList(v.LocalSubnet); err != nil {
			return Cell{}, fmt.Errorf("connection %s: LocalSubnet: %w", v.ID, err)
		}
		if c.IPsec.RemoteTS, err = prefixList(v.RemoteSubnet); err != nil {
			return Cell{}, fmt.Errorf("connection %s: RemoteSubnet: %w", v.ID, err)
		}
	}
	return c, c.validate()
}

func prefixList(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		p, err := netip.ParsePrefix(strings.TrimSpace(f))
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// swanctlID renders an IKE identity for VICI: an IP address as is, anything else as
// "@fqdn" (no type guessing), the same convention as vpnconf uses for the customer side.
func swanctlID(id string) string {
	if a, err := netip.ParseAddr(id); err == nil {
		return a.String()
	}
	return "@" + strings.TrimPrefix(id, "@")
}
