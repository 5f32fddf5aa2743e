package model

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
