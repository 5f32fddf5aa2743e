package vpnconf

import (
	"net/netip"
	"strconv"

	"opencen/internal/model"
	"opencen/internal/tunnel"
)

// AlibabaConfig is the VpnConnectionConfig object of DownloadVpnConnectionConfig, from the
// customer's side (Local is the customer gateway), field for field as the Alibaba SDK
// models it (vpc-20160428 v7): lifetimes are numbers, ASNs are strings, and
// BgpConfigs.BgpConfig is an empty list when BGP is off (its one item's TunnelId is empty:
// a single-tunnel connection has no tunnels). A connection not attached yet has
// no cloud address: Remote (and the cloud's identity, when it defaults to it) is empty.
func AlibabaConfig(spec tunnel.Spec) map[string]any {
	s := spec.IPsec
	bgp := []map[string]any{}
	if b := spec.BGP; b != nil {
		bgp = append(bgp, map[string]any{
			"LocalAsn":   strconv.FormatUint(uint64(b.CustomerASN), 10),
			"LocalBgpIp": b.CustomerIP.String(),
			"PeerAsn":    strconv.FormatUint(uint64(b.CloudASN), 10),
			"PeerBgpIp":  b.CloudIP.String(),
			"TunnelCidr": b.TunnelCIDR.String(),
			"TunnelId":   "",
		})
	}
	mode := "main"
	if s.IKE.Aggressive {
		mode = "aggressive"
	}
	return map[string]any{
		"Local":        addrText(s.Customer),
		"Remote":       addrText(s.Cloud),
		"LocalSubnet":  model.JoinSubnets(s.CustomerSubnets),
		"RemoteSubnet": model.JoinSubnets(s.CloudSubnets),
		"IkeConfig": map[string]any{
			"Psk":         s.PSK,
			"IkeVersion":  "ikev" + strconv.Itoa(s.IKE.Version),
			"IkeMode":     mode,
			"IkeEncAlg":   string(s.IKE.Enc),
			"IkeAuthAlg":  string(s.IKE.Auth),
			"IkePfs":      string(s.IKE.DH),
			"IkeLifetime": int64(s.IKE.Lifetime.Seconds()),
			"LocalId":     s.CustomerID.String(),
			"RemoteId":    s.CloudID.String(),
		},
		"IpsecConfig": map[string]any{
			"IpsecEncAlg":   string(s.ESP.Enc),
			"IpsecAuthAlg":  string(s.ESP.Auth),
			"IpsecPfs":      string(s.ESP.PFS),
			"IpsecLifetime": int64(s.ESP.Lifetime.Seconds()),
		},
		"BgpConfigs": map[string]any{"BgpConfig": bgp},
	}
}

func addrText(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}
