package vpc

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"opencen/internal/apierr"
	"opencen/internal/model"
	"opencen/internal/rpc"
	"opencen/internal/service"
)

// Dual-tunnel connections on the wire: TunnelOptionsSpecification.N.* in, and the
// tunnels as DescribeVpnConnection(s) and ModifyVpnAttachmentAttribute's response models
// type them out.

// tunnelFields are the fields an element of TunnelOptionsSpecification may carry: anything
// else is refused, never dropped.
var tunnelFields = []string{
	"TunnelId", "TunnelIndex", "Role", "CustomerGatewayId", "EnableDpd", "EnableNatTraversal",
	"TunnelIkeConfig.Psk", "TunnelIkeConfig.IkeVersion", "TunnelIkeConfig.IkeMode", "TunnelIkeConfig.IkeEncAlg",
	"TunnelIkeConfig.IkeAuthAlg", "TunnelIkeConfig.IkePfs", "TunnelIkeConfig.IkeLifetime",
	"TunnelIkeConfig.LocalId", "TunnelIkeConfig.RemoteId",
	"TunnelIpsecConfig.IpsecEncAlg", "TunnelIpsecConfig.IpsecAuthAlg", "TunnelIpsecConfig.IpsecPfs", "TunnelIpsecConfig.IpsecLifetime",
	"TunnelBgpConfig.LocalAsn", "TunnelBgpConfig.LocalBgpIp", "TunnelBgpConfig.TunnelCidr",
}

// tunnelInputs reads TunnelOptionsSpecification, flattened or as the aliyun CLI's JSON
// string (rpc.Params.Objects takes both). An empty value is "not given", as the Terraform
// provider sends the schema's zero values for what the configuration leaves out.
func tunnelInputs(p rpc.Params) ([]model.TunnelInput, error) {
	items, err := p.Objects(model.TunnelsParam)
	if err != nil {
		return nil, err
	}
	var out []model.TunnelInput
	for _, it := range items {
		for k, v := range it.Fields {
			if !slices.Contains(tunnelFields, k) && v != "" {
				return nil, apierr.Invalid(model.TunnelsParam, "%s.%s is not a field of a tunnel; a tunnel takes %s.", it.Name, k, apierr.Text(strings.Join(tunnelFields, ", ")))
			}
		}
		opt := func(k string) *string {
			if v := it.Get(k); v != "" {
				return &v
			}
			return nil
		}
		// The Terraform provider sends a block's integers even when the configuration leaves
		// them out, as 0: 0 is "not given" for the ASN and the lifetimes (their defaults
		// apply), as for TunnelIndex.
		for _, k := range []string{"TunnelBgpConfig.LocalAsn", "TunnelIkeConfig.IkeLifetime", "TunnelIpsecConfig.IpsecLifetime"} {
			if it.Get(k) == "0" {
				delete(it.Fields, k)
			}
		}
		num := func(k string, lo, hi int64) (*int64, error) {
			v, set, err := it.Fields.Int(k, lo, hi)
			if err != nil {
				return nil, apierr.Invalid(it.Name+"."+k, "%s.%s must be an integer from %d to %d; got %q.", it.Name, k, lo, hi, it.Get(k))
			}
			if !set {
				return nil, nil
			}
			return &v, nil
		}
		flag := func(k string) (*bool, error) {
			v, set, err := it.Bool(k)
			if err != nil || !set {
				return nil, err
			}
			return &v, nil
		}
		t := model.TunnelInput{Name: it.Name, TunnelID: it.Get("TunnelId"), Role: opt("Role"), CustomerGatewayID: opt("CustomerGatewayId"),
			Ike: model.IkeInput{Psk: opt("TunnelIkeConfig.Psk"), IkeVersion: opt("TunnelIkeConfig.IkeVersion"), IkeMode: opt("TunnelIkeConfig.IkeMode"),
				IkeEncAlg: opt("TunnelIkeConfig.IkeEncAlg"), IkeAuthAlg: opt("TunnelIkeConfig.IkeAuthAlg"), IkePfs: opt("TunnelIkeConfig.IkePfs"),
				LocalId: opt("TunnelIkeConfig.LocalId"), RemoteId: opt("TunnelIkeConfig.RemoteId")},
			Ipsec: model.IpsecInput{IpsecEncAlg: opt("TunnelIpsecConfig.IpsecEncAlg"), IpsecAuthAlg: opt("TunnelIpsecConfig.IpsecAuthAlg"),
				IpsecPfs: opt("TunnelIpsecConfig.IpsecPfs")},
			Bgp: model.BgpInput{LocalAsn: opt("TunnelBgpConfig.LocalAsn"), TunnelCidr: opt("TunnelBgpConfig.TunnelCidr"), LocalBgpIp: opt("TunnelBgpConfig.LocalBgpIp")},
		}
		if t.Index, err = num("TunnelIndex", 0, 2); err != nil {
			return nil, err
		}
		if t.Ike.IkeLifetime, err = num("TunnelIkeConfig.IkeLifetime", 0, 86400); err != nil {
			return nil, err
		}
		if t.Ipsec.IpsecLifetime, err = num("TunnelIpsecConfig.IpsecLifetime", 0, 86400); err != nil {
			return nil, err
		}
		if t.EnableDpd, err = flag("EnableDpd"); err != nil {
			return nil, err
		}
		if t.EnableNatTraversal, err = flag("EnableNatTraversal"); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// tunnelShape says how a response types a tunnel: DescribeVpnConnection(s) give every
// field but TunnelIndex as a string; ModifyVpnAttachmentAttribute gives booleans and
// numbers, and no status.
type tunnelShape int

const (
	describeShape tunnelShape = iota
	modifyShape
)

// tunnelObjects renders a connection's tunnels (none for a single-tunnel connection).
func tunnelObjects(v service.VpnConnectionView, shape tunnelShape) []rpc.Object {
	out := []rpc.Object{}
	state := v.TunnelState()
	for _, t := range v.Tunnels {
		ike := rpc.Object{"IkeVersion": t.Ike.IkeVersion, "IkeMode": t.Ike.IkeMode, "IkeEncAlg": t.Ike.IkeEncAlg, "IkeAuthAlg": t.Ike.IkeAuthAlg,
			"IkePfs": t.Ike.IkePfs, "LocalId": cmp.Or(t.Ike.LocalId, t.InternetIP), "RemoteId": t.RemoteID, "Psk": t.Ike.Psk}
		ipsec := rpc.Object{"IpsecEncAlg": t.Ipsec.IpsecEncAlg, "IpsecAuthAlg": t.Ipsec.IpsecAuthAlg, "IpsecPfs": t.Ipsec.IpsecPfs}
		bgp := rpc.Object{"LocalBgpIp": t.Bgp.LocalBgpIp, "PeerBgpIp": t.Bgp.PeerBgpIP(), "TunnelCidr": t.Bgp.TunnelCidr}
		o := rpc.Object{"TunnelId": t.ID, "TunnelIndex": t.Index, "Role": t.Role, "CustomerGatewayId": t.CustomerGatewayID,
			"InternetIp": t.InternetIP, "State": state, "TunnelIkeConfig": ike, "TunnelIpsecConfig": ipsec, "TunnelBgpConfig": bgp}
		switch shape {
		case describeShape:
			o["EnableDpd"], o["EnableNatTraversal"] = boolText(t.EnableDpd), boolText(t.EnableNatTraversal)
			o["ZoneNo"], o["Status"], o["RemoteCaCertificate"] = t.ZoneNo, t.NegotiationStatus, ""
			ike["IkeLifetime"] = strconv.FormatInt(t.Ike.IkeLifetime, 10)
			ipsec["IpsecLifetime"] = strconv.FormatInt(t.Ipsec.IpsecLifetime, 10)
			bgp["LocalAsn"], bgp["BgpStatus"] = strconv.FormatInt(t.Bgp.LocalAsn, 10), t.BgpStatus
			bgp["PeerAsn"] = ""
			if t.PeerAsn != 0 {
				bgp["PeerAsn"] = strconv.FormatInt(t.PeerAsn, 10)
			}
			if !t.Bgp.EnableBgp {
				bgp["BgpStatus"] = ""
			}
		case modifyShape:
			o["EnableDpd"], o["EnableNatTraversal"] = t.EnableDpd, t.EnableNatTraversal
			ike["IkeLifetime"], ipsec["IpsecLifetime"] = t.Ike.IkeLifetime, t.Ipsec.IpsecLifetime
			bgp["LocalAsn"], bgp["PeerAsn"] = t.Bgp.LocalAsn, t.PeerAsn
		}
		out = append(out, o)
	}
	return out
}
