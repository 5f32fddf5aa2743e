package vpnconf

import (
	"strconv"

	"opencen/internal/model"
)

// AlibabaConfig is the VpnConnectionConfig object of DownloadVpnConnectionConfig, field for
// field as the Alibaba SDK models it (vpc-20160428 v7): lifetimes are numbers, ASNs are
// strings, and BgpConfigs.BgpConfig is an empty list when BGP is off.
func AlibabaConfig(cv model.CustomerView) map[string]any {
	bgp := []map[string]any{}
	if b := cv.Bgp; b != nil {
		bgp = append(bgp, map[string]any{
			"LocalAsn":   strconv.FormatInt(b.LocalAsn, 10),
			"LocalBgpIp": b.LocalBgpIp,
			"PeerAsn":    strconv.FormatInt(b.PeerAsn, 10),
			"PeerBgpIp":  b.PeerBgpIp,
			"TunnelCidr": b.TunnelCidr,
			"EnableBgp":  "true",
		})
	}
	return map[string]any{
		"Local":        cv.Local,
		"Remote":       cv.Remote,
		"LocalSubnet":  cv.LocalSubnet,
		"RemoteSubnet": cv.RemoteSubnet,
		"IkeConfig": map[string]any{
			"Psk":         cv.Ike.Psk,
			"IkeVersion":  cv.Ike.IkeVersion,
			"IkeMode":     cv.Ike.IkeMode,
			"IkeEncAlg":   cv.Ike.IkeEncAlg,
			"IkeAuthAlg":  cv.Ike.IkeAuthAlg,
			"IkePfs":      cv.Ike.IkePfs,
			"IkeLifetime": cv.Ike.IkeLifetime,
			"LocalId":     cv.Ike.LocalId,
			"RemoteId":    cv.Ike.RemoteId,
		},
		"IpsecConfig": map[string]any{
			"IpsecEncAlg":   cv.Ipsec.IpsecEncAlg,
			"IpsecAuthAlg":  cv.Ipsec.IpsecAuthAlg,
			"IpsecPfs":      cv.Ipsec.IpsecPfs,
			"IpsecLifetime": cv.Ipsec.IpsecLifetime,
		},
		"BgpConfigs": map[string]any{"BgpConfig": bgp},
	}
}
