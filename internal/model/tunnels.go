package model

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"opencen/internal/apierr"
)

// Dual-tunnel IPsec-VPN connections (issue 15): two tunnels, each with its own gateway IP
// in its own zone, customer gateway and IKE/IPsec/BGP settings; one is the master, the
// other the slave. A connection with Tunnels is dual-tunnel; its own CustomerGatewayID,
// Ike, Ipsec and Bgp are unused then.

// Tunnel roles, states and negotiation statuses as the SDK's DescribeVpnConnection models
// them.
const (
	RoleMaster = "master"
	RoleSlave  = "slave"

	TunnelActive   = "active"
	TunnelUpdating = "updating"
	TunnelDeleting = "deleting"

	IkeEstablished      = "ike_sa_established"
	IPsecNotEstablished = "ipsec_sa_not_established"
	IPsecEstablished    = "ipsec_sa_established"
)

// tunnelIDPrefix starts every tunnel ID.
const tunnelIDPrefix = "tun-"

// VpnTunnel is one tunnel of a dual-tunnel connection.
type VpnTunnel struct {
	ID                 string      `json:"id"`
	Index              int         `json:"index"` // TunnelIndex: 1 or 2
	Role               string      `json:"role"`  // master | slave
	CustomerGatewayID  string      `json:"customerGatewayId"`
	EnableDpd          bool        `json:"enableDpd"`
	EnableNatTraversal bool        `json:"enableNatTraversal"`
	Ike                IkeConfig   `json:"ike"` // Ike.Psk is sealed at rest
	Ipsec              IpsecConfig `json:"ipsec"`
	// Bgp.EnableBgp is the connection's EnableTunnelsBgp.
	Bgp BgpConfig `json:"bgp"`
	// Filled on attach: the tunnel's gateway IP, in its own zone.
	InternetIP string `json:"internetIp,omitempty"`
	ZoneNo     string `json:"zoneNo,omitempty"`
	// What a data plane observes, filled in for readers and never stored.
	NegotiationStatus string `json:"-"`
	BgpStatus         string `json:"-"`
}

// TunnelID names tunnel index (1 or 2) of connection vco: the connection's ID with "tun-"
// for "vco-" and the index appended, so a data plane's report on a tunnel finds its
// connection without another lookup (TunnelOf).
func TunnelID(vco string, index int) string {
	return tunnelIDPrefix + strings.TrimPrefix(vco, idPrefix[KindVpnConnection]) + strconv.Itoa(index)
}

// TunnelOf reads a tunnel ID back into its connection's ID and its index.
func TunnelOf(id string) (vco string, index int, ok bool) {
	rest, ok := strings.CutPrefix(id, tunnelIDPrefix)
	if !ok || len(rest) < 2 {
		return "", 0, false
	}
	n := rest[len(rest)-1]
	if n != '1' && n != '2' {
		return "", 0, false
	}
	return idPrefix[KindVpnConnection] + rest[:len(rest)-1], int(n - '0'), true
}

// Dual reports whether the connection is dual-tunnel.
func (v *VpnConnection) Dual() bool { return len(v.Tunnels) > 0 }

// Tunnel finds a tunnel of the connection by ID.
func (v *VpnConnection) Tunnel(id string) (*VpnTunnel, bool) {
	for i := range v.Tunnels {
		if v.Tunnels[i].ID == id {
			return &v.Tunnels[i], true
		}
	}
	return nil, false
}

// CustomerGatewayIDs are the customer gateways the connection uses, one per tunnel (the
// two tunnels may share one).
func (v *VpnConnection) CustomerGatewayIDs() []string {
	if !v.Dual() {
		return []string{v.CustomerGatewayID}
	}
	out := make([]string, len(v.Tunnels))
	for i, t := range v.Tunnels {
		out[i] = t.CustomerGatewayID
	}
	return out
}

// Units are what carries the connection: itself, or each of its tunnels seen as a
// single-tunnel connection (TunnelConn). The data plane, the customer-side renderers and
// the parser (tunnel.Parse) read units, so a tunnel has the one parser a connection has.
func (v *VpnConnection) Units() []VpnConnection {
	if !v.Dual() {
		return []VpnConnection{*v}
	}
	out := make([]VpnConnection, len(v.Tunnels))
	for i, t := range v.Tunnels {
		out[i] = v.TunnelConn(t)
	}
	return out
}

// TunnelConn is tunnel t of the connection as a single-tunnel connection with the
// tunnel's ID: the connection's subnets, health check and binding with the tunnel's own
// customer gateway, settings and gateway IP.
func (v *VpnConnection) TunnelConn(t VpnTunnel) VpnConnection {
	c := *v
	c.Tunnels, c.EnableTunnelsBgp = nil, false
	c.ID = t.ID
	c.CustomerGatewayID = t.CustomerGatewayID
	c.EnableDpd, c.EnableNatTraversal = t.EnableDpd, t.EnableNatTraversal
	c.Ike, c.Ipsec, c.Bgp = t.Ike, t.Ipsec, t.Bgp
	c.InternetIP, c.ZoneNo = t.InternetIP, t.ZoneNo
	c.NegotiationStatus, c.BgpStatus = t.NegotiationStatus, t.BgpStatus
	return c
}

// TunnelState is a tunnel's State: deleting while its connection detaches, updating while
// it is modified, otherwise active.
func (v *VpnConnection) TunnelState() string {
	switch v.Status {
	case VcoDetaching:
		return TunnelDeleting
	case VcoUpdating, VcoAttaching:
		return TunnelUpdating
	}
	return TunnelActive
}

// DefaultTunnel is a tunnel's settings for fields a request omits, as the vpc-20160428
// CreateVpnAttachment request model documents them for TunnelOptionsSpecification: IKEv2,
// main mode, aes, sha1, group2, 86400 s; DPD and NAT traversal on; the local ASN 45104.
// Tunnel 1 is the master unless the request says otherwise.
func DefaultTunnel(index int) VpnTunnel {
	role := RoleSlave
	if index == 1 {
		role = RoleMaster
	}
	return VpnTunnel{Index: index, Role: role, EnableDpd: true, EnableNatTraversal: true,
		Ike: PageIke(), Ipsec: PageIpsec(), Bgp: DefaultBgp()}
}

// Roles a tunnel may have.
var Roles = []string{RoleMaster, RoleSlave}

// TunnelInput is one element of TunnelOptionsSpecification as sent; nil fields are not
// given. Bgp.EnableBgp is ignored: EnableTunnelsBgp switches BGP for both tunnels.
type TunnelInput struct {
	// Name is the element's name in errors ("TunnelOptionsSpecification.1").
	Name                          string
	TunnelID                      string
	Index                         *int64
	Role                          *string
	CustomerGatewayID             *string
	EnableDpd, EnableNatTraversal *bool
	Ike                           IkeInput
	Ipsec                         IpsecInput
	Bgp                           BgpInput
}

// TunnelsParam is the request parameter of the tunnels.
const TunnelsParam = "TunnelOptionsSpecification"

// ApplyTunnels merges the request's tunnels and EnableTunnelsBgp (nil = not given) over
// base, the stored tunnels (nil when creating, when both tunnels must be given), and
// validates the result: exactly two tunnels with indexes 1 and 2, one master and one
// slave, each with a customer gateway, and with BGP two different tunnel CIDRs. A tunnel
// of a modification is found by TunnelId, else by TunnelIndex, else by its position.
// New tunnels get a generated pre-shared key when none is given; IDs are the caller's.
func ApplyTunnels(in []TunnelInput, enableBgp *bool, base []VpnTunnel, baseBgp bool) ([]VpnTunnel, bool, error) {
	creating := len(base) == 0
	if (creating && len(in) != 2) || len(in) > 2 {
		return nil, false, apierr.Invalid(TunnelsParam, "A dual-tunnel connection has exactly two tunnels, TunnelOptionsSpecification.1 and TunnelOptionsSpecification.2 (TunnelIndex 1 and 2); got %d.", len(in))
	}
	bgpOn := baseBgp
	if enableBgp != nil {
		bgpOn = *enableBgp
	}
	out := slices.Clone(base)
	if creating {
		out = []VpnTunnel{DefaultTunnel(1), DefaultTunnel(2)}
	}
	given := map[int]TunnelInput{}
	for pos, t := range in {
		i, err := tunnelSlot(t, pos, out, creating)
		if err != nil {
			return nil, false, err
		}
		if _, twice := given[i]; twice {
			return nil, false, apierr.Invalid(t.Name+".TunnelIndex", "%s names tunnel %d, which another element names too; give each tunnel once, with TunnelIndex 1 and 2.", t.Name, out[i].Index)
		}
		given[i] = t
	}
	for i := range out {
		t, ok := given[i]
		cur := &out[i]
		if ok {
			if err := t.apply(cur); err != nil {
				return nil, false, err
			}
		}
		cur.Bgp.EnableBgp = bgpOn
		name := t.Name
		if !ok {
			name = fmt.Sprintf("%s.%d", TunnelsParam, cur.Index)
		}
		if cur.CustomerGatewayID == "" {
			return nil, false, apierr.Missing(name + ".CustomerGatewayId")
		}
		var err error
		// The tunnel's CIDR is checked whenever BGP is on, whether or not this request
		// touched the tunnel: EnableTunnelsBgp may have just been switched on.
		if cur.Bgp, err = (BgpInput{}).ApplyAt(name+".TunnelBgpConfig", cur.Bgp); err != nil {
			return nil, false, err
		}
		if cur.Ike.Psk == "" {
			cur.Ike.Psk = NewPSK()
		}
	}
	if out[0].Role == out[1].Role {
		return nil, false, apierr.Invalid(TunnelsParam+".Role", "One tunnel must be the master and the other the slave; both are %s.", out[0].Role)
	}
	if bgpOn && out[0].Bgp.TunnelCidr == out[1].Bgp.TunnelCidr {
		return nil, false, apierr.Invalid(TunnelsParam+".TunnelBgpConfig.TunnelCidr", "The two tunnels need different TunnelBgpConfig.TunnelCidr; both are %s.", out[0].Bgp.TunnelCidr)
	}
	return out, bgpOn, nil
}

// tunnelSlot finds which of tunnels (by position) element t at request position pos sets.
func tunnelSlot(t TunnelInput, pos int, tunnels []VpnTunnel, creating bool) (int, error) {
	if t.TunnelID != "" {
		if creating {
			return 0, apierr.Invalid(t.Name+".TunnelId", "%s.TunnelId is given only to modify a tunnel; leave it out when creating a connection.", t.Name)
		}
		for i, cur := range tunnels {
			if cur.ID == t.TunnelID {
				return i, nil
			}
		}
		return 0, apierr.New("InvalidTunnelId.NotFound", "The tunnel %s (%s.TunnelId) is not a tunnel of this connection; DescribeVpnConnection lists its tunnels.", t.TunnelID, t.Name)
	}
	index := int64(pos + 1)
	// 0 is "not set": the Terraform provider sends the schema's zero value.
	if t.Index != nil && *t.Index != 0 {
		index = *t.Index
	}
	if index != 1 && index != 2 {
		return 0, apierr.Invalid(t.Name+".TunnelIndex", "%s.TunnelIndex must be 1 or 2; got %d.", t.Name, index)
	}
	for i, cur := range tunnels {
		if int64(cur.Index) == index {
			return i, nil
		}
	}
	return 0, apierr.Invalid(t.Name+".TunnelIndex", "%s.TunnelIndex %d names no tunnel of this connection.", t.Name, index)
}

// apply merges one element over its tunnel.
func (t TunnelInput) apply(cur *VpnTunnel) error {
	if t.Role != nil && *t.Role != "" {
		if err := oneOf(t.Name+".Role", *t.Role, Roles); err != nil {
			return err
		}
		cur.Role = *t.Role
	}
	if t.CustomerGatewayID != nil && *t.CustomerGatewayID != "" {
		cur.CustomerGatewayID = *t.CustomerGatewayID
	}
	if t.EnableDpd != nil {
		cur.EnableDpd = *t.EnableDpd
	}
	if t.EnableNatTraversal != nil {
		cur.EnableNatTraversal = *t.EnableNatTraversal
	}
	var err error
	if cur.Ike, err = t.Ike.ApplyAt(t.Name+".TunnelIkeConfig", cur.Ike); err != nil {
		return err
	}
	if cur.Ipsec, err = t.Ipsec.ApplyAt(t.Name+".TunnelIpsecConfig", cur.Ipsec); err != nil {
		return err
	}
	bgp := t.Bgp
	bgp.EnableBgp = nil
	cur.Bgp, err = bgp.ApplyAt(t.Name+".TunnelBgpConfig", cur.Bgp)
	return err
}
