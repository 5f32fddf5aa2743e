// Package connect runs the console's "Create Connection" procedure (create or select an
// IPsec-VPN connection, attach it, then the three advanced options) over any API caller.
//
// The CLI (`opencen tr connect-vpn`, `tr attach-vpc`) and the web console both use it, so
// the procedure and its parameter mapping exist once.
package connect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"opencen/internal/api/cbn"
	"opencen/internal/api/vpc"
	"opencen/internal/model"
)

// Caller invokes one API action as some account; *rpc.Client and the console's in-process
// invoker both satisfy it. out, when non-nil, receives the JSON answer.
type Caller interface {
	Call(ctx context.Context, version, action string, params map[string]string, out any) error
}

// Routing modes of the form.
const (
	DestinationRouting = "destination"
	FlowProtection     = "flow"
)

// VPN is the "Create Resource" part of the form: the IPsec-VPN connection to create. Empty
// strings are not sent, so the API's defaults (the product page's) apply.
type VPN struct {
	Region, Name, NetworkType, CustomerGatewayID string
	// RoutingMode is DestinationRouting (0.0.0.0/0 selectors) or FlowProtection, which
	// protects LocalCidrs <-> PeerCidrs (comma-separated).
	RoutingMode, LocalCidrs, PeerCidrs  string
	ApplyImmediately, Dpd, NatTraversal bool

	Psk, IkeVersion, IkeMode, IkeEncAlg, IkeAuthAlg, IkePfs, IkeLifetime, LocalID, RemoteID string
	IpsecEncAlg, IpsecAuthAlg, IpsecPfs, IpsecLifetime                                      string

	Bgp                               bool
	TunnelCidr, LocalBgpIP, LocalAsn  string
	HealthCheck, SwitchRoute          bool
	HcDip, HcSip, HcInterval, HcRetry string

	Tags []model.Tag
}

// Params are CreateVpnAttachment's (and ModifyVpnAttachmentAttribute's) parameters. The
// errors it returns name a form field (apierr-free: they are about the form's shape, not
// the API's rules, which the API itself checks).
func (v VPN) Params() (map[string]string, error) {
	p := map[string]string{"RegionId": v.Region, "CustomerGatewayId": v.CustomerGatewayID}
	setIf(p, "Name", v.Name)
	setIf(p, "NetworkType", v.NetworkType)
	switch v.RoutingMode {
	case DestinationRouting, "":
		if v.LocalCidrs != "" || v.PeerCidrs != "" {
			return nil, &FieldError{Field: "LocalSubnet", Message: "Local and peer CIDR blocks apply to Flow Protection only; choose Flow Protection or clear them."}
		}
		p["LocalSubnet"], p["RemoteSubnet"] = "0.0.0.0/0", "0.0.0.0/0"
	case FlowProtection:
		if strings.TrimSpace(v.LocalCidrs) == "" {
			return nil, &FieldError{Field: "LocalSubnet", Message: "Flow Protection needs the local (cloud-side) CIDR blocks, comma-separated."}
		}
		if strings.TrimSpace(v.PeerCidrs) == "" {
			return nil, &FieldError{Field: "RemoteSubnet", Message: "Flow Protection needs the peer (data-center) CIDR blocks, comma-separated."}
		}
		p["LocalSubnet"], p["RemoteSubnet"] = v.LocalCidrs, v.PeerCidrs
	default:
		return nil, &FieldError{Field: "RoutingMode", Message: fmt.Sprintf("Routing mode must be %s or %s, not %q.", DestinationRouting, FlowProtection, v.RoutingMode)}
	}
	p["EffectImmediately"] = fmt.Sprint(v.ApplyImmediately)
	p["EnableDpd"], p["EnableNatTraversal"] = fmt.Sprint(v.Dpd), fmt.Sprint(v.NatTraversal)

	ike := map[string]any{}
	for key, val := range map[string]string{"Psk": v.Psk, "IkeVersion": v.IkeVersion, "IkeMode": v.IkeMode, "IkeEncAlg": v.IkeEncAlg,
		"IkeAuthAlg": v.IkeAuthAlg, "IkePfs": v.IkePfs, "LocalId": v.LocalID, "RemoteId": v.RemoteID} {
		setAny(ike, key, val)
	}
	if err := setInt(ike, "IkeConfig", "IkeLifetime", v.IkeLifetime); err != nil {
		return nil, err
	}
	ipsec := map[string]any{}
	for key, val := range map[string]string{"IpsecEncAlg": v.IpsecEncAlg, "IpsecAuthAlg": v.IpsecAuthAlg, "IpsecPfs": v.IpsecPfs} {
		setAny(ipsec, key, val)
	}
	if err := setInt(ipsec, "IpsecConfig", "IpsecLifetime", v.IpsecLifetime); err != nil {
		return nil, err
	}
	bgp := map[string]any{}
	if v.Bgp {
		bgp["EnableBgp"], bgp["TunnelCidr"], bgp["LocalBgpIp"] = true, v.TunnelCidr, v.LocalBgpIP
		setAny(bgp, "LocalAsn", v.LocalAsn)
	}
	hc := map[string]any{}
	if v.HealthCheck {
		hc["enable"], hc["dip"], hc["sip"] = true, v.HcDip, v.HcSip
		if err := setInt(hc, "HealthCheckConfig", "interval", v.HcInterval); err != nil {
			return nil, err
		}
		if err := setInt(hc, "HealthCheckConfig", "retry", v.HcRetry); err != nil {
			return nil, err
		}
		hc["Policy"] = map[bool]string{true: "revoke_route", false: "reserve_route"}[v.SwitchRoute]
	}
	for name, m := range map[string]map[string]any{"IkeConfig": ike, "IpsecConfig": ipsec, "BgpConfig": bgp, "HealthCheckConfig": hc} {
		if len(m) > 0 {
			raw, _ := json.Marshal(m)
			p[name] = string(raw)
		}
	}
	SetTags(p, "Tags", v.Tags)
	return p, nil
}

// FieldError is a problem with the form's shape, named by the API parameter it feeds.
type FieldError struct{ Field, Message string }

func (e *FieldError) Error() string { return e.Message }

func setIf(p map[string]string, key, val string) {
	if val != "" {
		p[key] = val
	}
}

func setAny(m map[string]any, key, val string) {
	if val != "" {
		m[key] = val
	}
}

// setInt sends a number as a JSON number: the API's structures declare these as integers.
func setInt(m map[string]any, parent, key, val string) error {
	if val == "" {
		return nil
	}
	var n int64
	if _, err := fmt.Sscan(val, &n); err != nil || fmt.Sprint(n) != strings.TrimSpace(val) {
		return &FieldError{Field: parent + "." + key, Message: fmt.Sprintf("%s.%s must be a whole number; got %q.", parent, key, val)}
	}
	m[key] = n
	return nil
}

// SetTags adds tags as param.N.Key / param.N.Value.
func SetTags(p map[string]string, param string, tags []model.Tag) {
	for i, t := range tags {
		p[fmt.Sprintf("%s.%d.Key", param, i+1)], p[fmt.Sprintf("%s.%d.Value", param, i+1)] = t.Key, t.Value
	}
}

// Attachment is the form's "attach" part.
type Attachment struct {
	Region, TransitRouterID string
	// VpnID selects an existing connection (Select Resource); VpnOwnerID is the account
	// owning it when that is a different account (which must have granted it).
	VpnID, VpnOwnerID, Name, Zone string
	Tags                          []model.Tag
	// RouteSync is "Automatically Advertise Routes to VPN" (AutoPublishRouteEnabled); nil
	// leaves the API's default.
	RouteSync *bool
}

// Params are CreateTransitRouterVpnAttachment's parameters.
func (a Attachment) Params() map[string]string {
	p := map[string]string{"RegionId": a.Region, "TransitRouterId": a.TransitRouterID, "VpnId": a.VpnID, "TransitRouterAttachmentName": a.Name}
	setIf(p, "VpnOwnerId", a.VpnOwnerID)
	setIf(p, "Zone.1.ZoneId", a.Zone)
	if a.RouteSync != nil {
		p["AutoPublishRouteEnabled"] = fmt.Sprint(*a.RouteSync)
	}
	SetTags(p, "Tag", a.Tags)
	return p
}

// Advanced are the other two advanced options, both on in the console by default.
type Advanced struct{ Associate, Propagate bool }

// Created is what Attach made.
type Created struct {
	VpnConnectionID, AttachmentID string
	// VpnCreated says the connection was created here (Create Resource).
	VpnCreated bool
}

// Attach creates the connection when vpn is non-nil (Create Resource), then attaches it.
// When the attachment is refused, a connection created here is deleted again, so bad
// input leaves nothing behind.
func Attach(ctx context.Context, cl Caller, vpn *VPN, att Attachment) (Created, error) {
	var c Created
	if vpn != nil {
		params, err := vpn.Params()
		if err != nil {
			return c, err
		}
		var out struct{ VpnConnectionId string }
		if err := cl.Call(ctx, vpc.Version, "CreateVpnAttachment", params, &out); err != nil {
			return c, err
		}
		c.VpnConnectionID, c.VpnCreated = out.VpnConnectionId, true
		att.VpnID = out.VpnConnectionId
	} else {
		c.VpnConnectionID = att.VpnID
	}
	var out struct{ TransitRouterAttachmentId string }
	if err := cl.Call(ctx, cbn.Version, "CreateTransitRouterVpnAttachment", att.Params(), &out); err != nil {
		if c.VpnCreated {
			undo := cl.Call(context.WithoutCancel(ctx), vpc.Version, "DeleteVpnAttachment", map[string]string{"RegionId": att.Region, "VpnConnectionId": c.VpnConnectionID}, nil)
			if undo != nil {
				err = errors.Join(err, fmt.Errorf("the IPsec-VPN connection %s created for it could not be deleted again: %w", c.VpnConnectionID, undo))
			}
		}
		return Created{}, err
	}
	c.AttachmentID = out.TransitRouterAttachmentId
	return c, nil
}

// Step reports the procedure's progress: a step's name and whether it finished.
type Step func(name string, done bool)

// Finish waits until the attachment is Attached (listing it with listAction, e.g.
// "ListTransitRouterVpnAttachments"), then associates it with and propagates it into the
// transit router's System route table as adv says, waiting for each link to be Active.
func Finish(ctx context.Context, cl Caller, listAction, trID, attID string, adv Advanced, step Step) error {
	if step == nil {
		step = func(string, bool) {}
	}
	step("Attach", false)
	if err := Poll(ctx, 5*time.Minute, func() (bool, error) {
		var l struct{ TransitRouterAttachments []map[string]any }
		err := cl.Call(ctx, cbn.Version, listAction, map[string]string{"TransitRouterAttachmentId": attID}, &l)
		return err == nil && len(l.TransitRouterAttachments) == 1 && l.TransitRouterAttachments[0]["Status"] == "Attached", err
	}); err != nil {
		return fmt.Errorf("waiting for %s to be Attached: %w", attID, err)
	}
	step("Attach", true)
	if !adv.Associate && !adv.Propagate {
		return nil
	}
	table, err := SystemTable(ctx, cl, trID)
	if err != nil {
		return err
	}
	if adv.Associate {
		step("Associate", false)
		if err := link(ctx, cl, "AssociateTransitRouterAttachmentWithRouteTable", "ListTransitRouterRouteTableAssociations", "TransitRouterAssociations", attID, table); err != nil {
			return err
		}
		step("Associate", true)
	}
	if adv.Propagate {
		step("Propagate", false)
		if err := link(ctx, cl, "EnableTransitRouterRouteTablePropagation", "ListTransitRouterRouteTablePropagations", "TransitRouterPropagations", attID, table); err != nil {
			return err
		}
		step("Propagate", true)
	}
	return nil
}

// SystemTable returns the ID of the transit router's default (System) route table.
func SystemTable(ctx context.Context, cl Caller, trID string) (string, error) {
	var out struct{ TransitRouterRouteTables []map[string]any }
	if err := cl.Call(ctx, cbn.Version, "ListTransitRouterRouteTables", map[string]string{"TransitRouterId": trID, "TransitRouterRouteTableType": "System"}, &out); err != nil {
		return "", err
	}
	if len(out.TransitRouterRouteTables) == 0 {
		return "", fmt.Errorf("transit router %s has no System route table", trID)
	}
	id, _ := out.TransitRouterRouteTables[0]["TransitRouterRouteTableId"].(string)
	return id, nil
}

// Associate makes table the attachment's associated route table (the console's "Modify
// Associated Route Table"), replacing any current association, and waits until it is Active.
func Associate(ctx context.Context, cl Caller, attID, table string) error {
	var cur struct{ TransitRouterAssociations []map[string]any }
	if err := cl.Call(ctx, cbn.Version, "ListTransitRouterRouteTableAssociations", map[string]string{"TransitRouterAttachmentId": attID}, &cur); err != nil {
		return err
	}
	action := "AssociateTransitRouterAttachmentWithRouteTable"
	if len(cur.TransitRouterAssociations) > 0 {
		if cur.TransitRouterAssociations[0]["TransitRouterRouteTableId"] == table {
			return nil
		}
		action = "ReplaceTransitRouterRouteTableAssociation"
	}
	return link(ctx, cl, action, "ListTransitRouterRouteTableAssociations", "TransitRouterAssociations", attID, table)
}

// link runs an association/propagation action and waits until the link is Active.
func link(ctx context.Context, cl Caller, action, list, listKey, attID, table string) error {
	if err := cl.Call(ctx, cbn.Version, action, map[string]string{"TransitRouterAttachmentId": attID, "TransitRouterRouteTableId": table}, nil); err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	return Poll(ctx, 2*time.Minute, func() (bool, error) {
		var out map[string]any
		err := cl.Call(ctx, cbn.Version, list, map[string]string{"TransitRouterRouteTableId": table, "TransitRouterAttachmentId": attID}, &out)
		items, _ := out[listKey].([]any)
		if err != nil || len(items) != 1 {
			return false, err
		}
		item, _ := items[0].(map[string]any)
		return item["Status"] == "Active", nil
	})
}

// Poll calls done every 200 ms until it reports true or an error, ctx ends or timeout passes.
func Poll(ctx context.Context, timeout time.Duration, done func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := done()
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
