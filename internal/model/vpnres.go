package model

// CustomerGateway is the customer's VPN device.
type CustomerGateway struct {
	Meta
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	IPAddress   string `json:"ipAddress"`
	Asn         int64  `json:"asn,omitempty"` // 0 = none (no BGP)
	// AuthKeySealed is the BGP MD5 key, sealed at rest.
	AuthKeySealed string `json:"authKeySealed,omitempty"`
	// Connections counts IPsec-VPN connections using the gateway; deletion waits for 0.
	Connections int `json:"connections"`
}

// VpnConnection is an IPsec-VPN connection that attaches to a transit router.
// Meta.Status holds the lifecycle State (init, attaching, attached, ...).
type VpnConnection struct {
	Meta
	Name               string      `json:"name,omitempty"`
	CustomerGatewayID  string      `json:"customerGatewayId"`
	NetworkType        string      `json:"networkType"`
	LocalSubnet        string      `json:"localSubnet"`
	RemoteSubnet       string      `json:"remoteSubnet"`
	EffectImmediately  bool        `json:"effectImmediately"`
	AutoConfigRoute    bool        `json:"autoConfigRoute"`
	EnableDpd          bool        `json:"enableDpd"`
	EnableNatTraversal bool        `json:"enableNatTraversal"`
	TunnelBandwidth    string      `json:"tunnelBandwidth"`
	ResourceGroupID    string      `json:"resourceGroupId,omitempty"`
	Ike                IkeConfig   `json:"ike"` // Ike.Psk is sealed
	Ipsec              IpsecConfig `json:"ipsec"`
	Bgp                BgpConfig   `json:"bgp"`
	HealthCheck        HealthCheck `json:"healthCheck"`
	// Tunnels are a dual-tunnel connection's two tunnels (none: single-tunnel), and
	// EnableTunnelsBgp runs BGP over both.
	Tunnels          []VpnTunnel `json:"tunnels,omitempty"`
	EnableTunnelsBgp bool        `json:"enableTunnelsBgp,omitempty"`
	// What a data plane observes: kept apart from the desired state (the service's
	// observed keys) and filled in for readers, never stored with the connection.
	NegotiationStatus string `json:"-"`
	BgpStatus         string `json:"-"`
	HealthCheckStatus string `json:"-"`
	// Binding, filled on attach.
	AttachType      string `json:"attachType"`
	CenID           string `json:"cenId,omitempty"`
	TransitRouterID string `json:"transitRouterId,omitempty"`
	AttachmentID    string `json:"attachmentId,omitempty"`
	InternetIP      string `json:"internetIp,omitempty"`
	ZoneNo          string `json:"zoneNo,omitempty"`
	// CrossAccount is set when the transit router belongs to another account.
	CrossAccount bool `json:"crossAccount,omitempty"`
	// Next holds the state to return to after an "updating" transition.
	Next string `json:"next,omitempty"`
}

// FlowProtection reports whether the connection protects specific subnets.
func (v *VpnConnection) FlowProtection() bool {
	return v.LocalSubnet != AllIPv4 || v.RemoteSubnet != AllIPv4
}

// VpnAttachment is the transit-router side of an attached IPsec-VPN connection.
// It is owned by the transit router's owner; VpnOwner owns the connection.
type VpnAttachment struct {
	Meta
	TransitRouterID         string   `json:"transitRouterId"`
	CenID                   string   `json:"cenId"`
	VpnID                   string   `json:"vpnId"`
	VpnOwner                string   `json:"vpnOwner"`
	Name                    string   `json:"name,omitempty"`
	Description             string   `json:"description,omitempty"`
	AutoPublishRouteEnabled bool     `json:"autoPublishRouteEnabled"`
	ChargeType              string   `json:"chargeType"`
	OrderType               string   `json:"orderType"`
	Zones                   []string `json:"zones,omitempty"`
	SystemLinks
}

// SystemLinks are what an attachment's creation asked for once it is Attached
// (RouteTableAssociationEnabled, RouteTablePropagationEnabled): an association with the
// transit router's System route table, and propagation into it.
type SystemLinks struct {
	AssociateSystem bool `json:"associateSystem,omitempty"`
	PropagateSystem bool `json:"propagateSystem,omitempty"`
}

// Grant lets a CEN owner attach another account's instance.
type Grant struct {
	Meta                // Owner = the instance owner who granted
	CenID        string `json:"cenId"`
	CenOwner     string `json:"cenOwner"`
	InstanceID   string `json:"instanceId"`
	InstanceType string `json:"instanceType"`
	OrderType    string `json:"orderType"`
}

// RouteMap is a routing policy of a CEN, bound to one transit-router route table.
type RouteMap struct {
	Meta
	CenID             string `json:"cenId"`
	TransitRouterID   string `json:"transitRouterId"`
	RouteTableID      string `json:"routeTableId"`
	TransmitDirection string `json:"transmitDirection"`
	Priority          int    `json:"priority"`
	MapResult         string `json:"mapResult"`
	NextPriority      int    `json:"nextPriority,omitempty"`
	Description       string `json:"description,omitempty"`
	// System policies are created by OpenCEN and can be neither modified nor deleted.
	System bool `json:"system"`
	RouteMapMatch
	RouteMapAction
}
