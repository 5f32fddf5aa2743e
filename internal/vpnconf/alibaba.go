package vpnconf

import (
	"net/netip"
	"strconv"

	"opencen/internal/model"
	"opencen/internal/tunnel"
)

// AlibabaConfig is the VpnConnectionConfig object of DownloadVpnConnectionConfig, from the
// customer's side (Local is the customer gateway), field for field as the Alibaba SDK
// models it (vpc-20160428 v7 DownloadVpnConnectionConfigResponseBodyVpnConnectionConfig):
// lifetimes are numbers, ASNs are strings, and BgpConfigs.BgpConfig is an empty list when
// BGP is off. A connection not attached yet has no cloud address: Remote (and the cloud's
// identity, when it defaults to it) is empty.
//
// specs are the connection's tunnels as the service parses them, in tunnel order. One spec
// is a single-tunnel connection: Local, Remote, IkeConfig and IpsecConfig at the top, and
// the one BgpConfig item's TunnelId empty (it has no tunnels). Two specs are a
// dual-tunnel connection: each tunnel is an item of TunnelsConfig.TunnelConfig (TunnelId,
// Local, Remote, IkeConfig, IpsecConfig), which the SDK documents as returned only for
// dual-tunnel connections, each tunnel with BGP an item of BgpConfigs.BgpConfig with its
// TunnelId; the top level keeps only what the tunnels share (LocalSubnet, RemoteSubnet),
// so no tunnel's settings pose as the connection's. No specs: an empty configuration.
func AlibabaConfig(specs ...tunnel.Spec) map[string]any {
	bgp := []map[string]any{}
	if len(specs) == 0 {
		return map[string]any{"BgpConfigs": map[string]any{"BgpConfig": bgp}}
	}
	first := specs[0].IPsec
	out := map[string]any{
		"LocalSubnet":  model.JoinSubnets(first.CustomerSubnets),
		"RemoteSubnet": model.JoinSubnets(first.CloudSubnets),
	}
	if len(specs) == 1 {
		if b := bgpItem(specs[0], ""); b != nil {
			bgp = append(bgp, b)
		}
		out["Local"], out["Remote"] = addrText(first.Customer), addrText(first.Cloud)
		out["IkeConfig"], out["IpsecConfig"] = ikeConfig(first), ipsecConfig(first)
		out["BgpConfigs"] = map[string]any{"BgpConfig": bgp}
		return out
	}
	tunnels := make([]map[string]any, 0, len(specs))
	for _, spec := range specs {
		s := spec.IPsec
		tunnels = append(tunnels, map[string]any{
			"TunnelId":    s.ID,
			"Local":       addrText(s.Customer),
			"Remote":      addrText(s.Cloud),
			"IkeConfig":   ikeConfig(s),
			"IpsecConfig": ipsecConfig(s),
		})
		if b := bgpItem(spec, s.ID); b != nil {
			bgp = append(bgp, b)
		}
	}
	out["TunnelsConfig"] = map[string]any{"TunnelConfig": tunnels}
	out["BgpConfigs"] = map[string]any{"BgpConfig": bgp}
	return out
}

// ikeConfig is phase 1 from the customer's side: LocalId is the customer's identity.
func ikeConfig(s tunnel.IPsec) map[string]any {
	mode := "main"
	if s.IKE.Aggressive {
		mode = "aggressive"
	}
	return map[string]any{
		"Psk":         s.PSK,
		"IkeVersion":  "ikev" + strconv.Itoa(s.IKE.Version),
		"IkeMode":     mode,
		"IkeEncAlg":   string(s.IKE.Enc),
		"IkeAuthAlg":  string(s.IKE.Auth),
		"IkePfs":      string(s.IKE.DH),
		"IkeLifetime": int64(s.IKE.Lifetime.Seconds()),
		"LocalId":     s.CustomerID.String(),
		"RemoteId":    s.CloudID.String(),
	}
}

func ipsecConfig(s tunnel.IPsec) map[string]any {
	return map[string]any{
		"IpsecEncAlg":   string(s.ESP.Enc),
		"IpsecAuthAlg":  string(s.ESP.Auth),
		"IpsecPfs":      string(s.ESP.PFS),
		"IpsecLifetime": int64(s.ESP.Lifetime.Seconds()),
	}
}

// bgpItem is a BgpConfigs.BgpConfig item from the customer's side (Local is the customer
// gateway's ASN and address), nil without BGP. The SDK's item has exactly these fields.
func bgpItem(spec tunnel.Spec, tunnelID string) map[string]any {
	b := spec.BGP
	if b == nil {
		return nil
	}
	return map[string]any{
		"LocalAsn":   strconv.FormatUint(uint64(b.CustomerASN), 10),
		"LocalBgpIp": b.CustomerIP.String(),
		"PeerAsn":    strconv.FormatUint(uint64(b.CloudASN), 10),
		"PeerBgpIp":  b.CloudIP.String(),
		"TunnelCidr": b.TunnelCIDR.String(),
		"TunnelId":   tunnelID,
	}
}

func addrText(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}
