package model

// CustomerView is a connection's configuration from the customer device's point of view,
// as DownloadVpnConnectionConfig returns it: local and remote swapped.
type CustomerView struct {
	ConnectionID string
	Name         string
	// Local is the customer gateway's IP, Remote the cloud gateway's (InternetIp; empty
	// until the connection is attached).
	Local, Remote string
	// LocalSubnet is the customer side (the connection's RemoteSubnet), RemoteSubnet the
	// cloud side (the connection's LocalSubnet).
	LocalSubnet, RemoteSubnet string
	// Ike has LocalId = the customer's identity, RemoteId = the cloud's; Psk in clear.
	Ike                                              IkeConfig
	Ipsec                                            IpsecConfig
	EnableDpd, EnableNatTraversal, EffectImmediately bool
	Bgp                                              *CustomerBgp
	// HealthCheckSource is the cloud-side probe source (Sip): the customer needs a route
	// to it through the tunnel for health checks to work.
	HealthCheckSource string
}

// CustomerBgp is BGP from the customer's side.
type CustomerBgp struct {
	LocalAsn   int64  // the customer gateway's ASN
	LocalBgpIp string // the customer's tunnel address
	PeerAsn    int64  // the cloud's LocalAsn
	PeerBgpIp  string // the cloud's LocalBgpIp
	TunnelCidr string
}

// EffectiveLocalID is the cloud side's IKE identity.
func (v *VpnConnection) EffectiveLocalID() string {
	if v.Ike.LocalId != "" {
		return v.Ike.LocalId
	}
	return v.InternetIP
}

// EffectiveRemoteID is the customer side's IKE identity.
func (v *VpnConnection) EffectiveRemoteID(cgw *CustomerGateway) string {
	if v.Ike.RemoteId != "" {
		return v.Ike.RemoteId
	}
	return cgw.IPAddress
}

// CustomerView renders the connection for the customer device; psk is the opened key.
func (v *VpnConnection) CustomerView(cgw *CustomerGateway, psk string) CustomerView {
	ike := v.Ike
	ike.Psk = psk
	ike.LocalId, ike.RemoteId = v.EffectiveRemoteID(cgw), v.EffectiveLocalID()
	cv := CustomerView{
		ConnectionID: v.ID, Name: v.Name,
		Local: cgw.IPAddress, Remote: v.InternetIP,
		LocalSubnet: v.RemoteSubnet, RemoteSubnet: v.LocalSubnet,
		Ike: ike, Ipsec: v.Ipsec,
		EnableDpd: v.EnableDpd, EnableNatTraversal: v.EnableNatTraversal, EffectImmediately: v.EffectImmediately,
	}
	if v.Bgp.EnableBgp {
		cv.Bgp = &CustomerBgp{LocalAsn: cgw.Asn, LocalBgpIp: v.Bgp.PeerBgpIP(), PeerAsn: v.Bgp.LocalAsn, PeerBgpIp: v.Bgp.LocalBgpIp, TunnelCidr: v.Bgp.TunnelCidr}
	}
	if v.HealthCheck.Enable {
		cv.HealthCheckSource = v.HealthCheck.Sip
	}
	return cv
}
