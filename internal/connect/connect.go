// Package connect runs the console's "Create Connection" procedure (create or select an
// IPsec-VPN connection, attach it, then the three advanced options) over any API caller.
//
// The CLI (`opencen tr connect-vpn`, `tr attach-vpc`) and the web console both use it, so
// the procedure and its parameter mapping exist once.
package connect

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
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
// strings are not sent, so the API's documented defaults apply to them; the console and
// `opencen tr connect-vpn` fill in the product page's values (model.PageIke, PageIpsec).
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

// Params are CreateVpnAttachment's parameters: what is set (the API's documented defaults
// apply to the rest), and the tags. The errors it returns are about the form's shape, each naming its
// field; the API checks its own rules.
func (v VPN) Params() (map[string]string, error) {
	fields, err := v.fields()
	if err != nil {
		return nil, err
	}
	var set []field
	for _, f := range fields {
		if f.value != "" {
			set = append(set, f)
		}
	}
	p := assemble(set)
	p["RegionId"], p["CustomerGatewayId"] = v.Region, v.CustomerGatewayID
	SetTags(p, "Tags", v.Tags)
	return p, nil
}

// Modify returns ModifyVpnAttachmentAttribute's parameters for turning old into v: only
// what differs, so a value shown in the form (the effective LocalId, say) is not stored
// just because the form was saved; a field cleared in the form is sent empty, which
// restores its default. ok is false when nothing differs.
func (v VPN) Modify(old VPN) (p map[string]string, ok bool, err error) {
	now, err := v.fields()
	if err != nil {
		return nil, false, err
	}
	before, err := old.fields()
	if err != nil {
		before = nil // the old connection cannot be worse than "everything changed"
	}
	was := map[string]string{}
	for _, f := range before {
		was[f.object+"."+f.key] = f.value
	}
	var changed []field
	for _, f := range now {
		if prev, seen := was[f.object+"."+f.key]; !seen || prev != f.value {
			changed = append(changed, f)
		}
	}
	if len(changed) == 0 && v.CustomerGatewayID == old.CustomerGatewayID {
		return nil, false, nil
	}
	p = assemble(changed)
	p["RegionId"] = v.Region
	if v.CustomerGatewayID != old.CustomerGatewayID {
		p["CustomerGatewayId"] = v.CustomerGatewayID
	}
	return p, true, nil
}

// field is one value of the form as the API takes it: a top-level parameter (object "")
// or a key of one of the JSON-valued parameters (IkeConfig, ...).
type field struct {
	object, key, value string
	number             bool // sent as a JSON number
}

// fields lists every value of the form, set or not.
func (v VPN) fields() ([]field, error) {
	local, remote := model.AllIPv4, model.AllIPv4
	switch v.RoutingMode {
	case DestinationRouting, "":
		if v.LocalCidrs != "" || v.PeerCidrs != "" {
			return nil, &FieldError{Field: "LocalSubnet", Message: "Local and peer CIDR blocks apply to Flow Protection only; choose Flow Protection or clear them."}
		}
	case FlowProtection:
		if strings.TrimSpace(v.LocalCidrs) == "" {
			return nil, &FieldError{Field: "LocalSubnet", Message: "Flow Protection needs the local (cloud-side) CIDR blocks, comma-separated."}
		}
		if strings.TrimSpace(v.PeerCidrs) == "" {
			return nil, &FieldError{Field: "RemoteSubnet", Message: "Flow Protection needs the peer (data-center) CIDR blocks, comma-separated."}
		}
		local, remote = v.LocalCidrs, v.PeerCidrs
	default:
		return nil, &FieldError{Field: "RoutingMode", Message: fmt.Sprintf("Routing mode must be %s or %s, not %q.", DestinationRouting, FlowProtection, v.RoutingMode)}
	}
	fs := []field{{key: "Name", value: v.Name}, {key: "NetworkType", value: v.NetworkType},
		{key: "LocalSubnet", value: local}, {key: "RemoteSubnet", value: remote},
		{key: "EffectImmediately", value: strconv.FormatBool(v.ApplyImmediately)},
		{key: "EnableDpd", value: strconv.FormatBool(v.Dpd)}, {key: "EnableNatTraversal", value: strconv.FormatBool(v.NatTraversal)},
		{object: "IkeConfig", key: "Psk", value: v.Psk}, {object: "IkeConfig", key: "IkeVersion", value: v.IkeVersion},
		{object: "IkeConfig", key: "IkeMode", value: v.IkeMode}, {object: "IkeConfig", key: "IkeEncAlg", value: v.IkeEncAlg},
		{object: "IkeConfig", key: "IkeAuthAlg", value: v.IkeAuthAlg}, {object: "IkeConfig", key: "IkePfs", value: v.IkePfs},
		{object: "IkeConfig", key: "IkeLifetime", value: v.IkeLifetime, number: true},
		{object: "IkeConfig", key: "LocalId", value: v.LocalID}, {object: "IkeConfig", key: "RemoteId", value: v.RemoteID},
		{object: "IpsecConfig", key: "IpsecEncAlg", value: v.IpsecEncAlg}, {object: "IpsecConfig", key: "IpsecAuthAlg", value: v.IpsecAuthAlg},
		{object: "IpsecConfig", key: "IpsecPfs", value: v.IpsecPfs}, {object: "IpsecConfig", key: "IpsecLifetime", value: v.IpsecLifetime, number: true},
		// Off is said explicitly: the API merges a modification over what is stored.
		{object: "BgpConfig", key: "EnableBgp", value: strconv.FormatBool(v.Bgp)},
		{object: "HealthCheckConfig", key: "enable", value: strconv.FormatBool(v.HealthCheck)},
	}
	if v.Bgp {
		fs = append(fs, field{object: "BgpConfig", key: "TunnelCidr", value: v.TunnelCidr},
			field{object: "BgpConfig", key: "LocalBgpIp", value: v.LocalBgpIP}, field{object: "BgpConfig", key: "LocalAsn", value: v.LocalAsn})
	}
	if v.HealthCheck {
		policy := "revoke_route"
		if !v.SwitchRoute {
			policy = "reserve_route"
		}
		fs = append(fs, field{object: "HealthCheckConfig", key: "dip", value: v.HcDip}, field{object: "HealthCheckConfig", key: "sip", value: v.HcSip},
			field{object: "HealthCheckConfig", key: "interval", value: v.HcInterval, number: true},
			field{object: "HealthCheckConfig", key: "retry", value: v.HcRetry, number: true},
			field{object: "HealthCheckConfig", key: "Policy", value: policy})
	}
	for _, f := range fs {
		if f.number && f.value != "" {
			if _, err := strconv.ParseInt(f.value, 10, 64); err != nil {
				return nil, &FieldError{Field: f.object + "." + f.key, Message: fmt.Sprintf("%s.%s must be a whole number; got %q.", f.object, f.key, f.value)}
			}
		}
	}
	return fs, nil
}

// assemble turns fields into parameters, the JSON-valued ones as JSON objects.
func assemble(fs []field) map[string]string {
	p := map[string]string{}
	objects := map[string]map[string]any{}
	for _, f := range fs {
		if f.object == "" {
			p[f.key] = f.value
			continue
		}
		if objects[f.object] == nil {
			objects[f.object] = map[string]any{}
		}
		var val any = f.value
		switch {
		case f.number && f.value != "":
			val, _ = strconv.ParseInt(f.value, 10, 64) // checked by fields
		case f.key == "EnableBgp" || f.key == "enable":
			val = f.value == "true"
		}
		objects[f.object][f.key] = val
	}
	for name, m := range objects {
		raw, _ := json.Marshal(m)
		p[name] = string(raw)
	}
	return p
}

// PageValues adds to CreateVpnAttachment parameters p every phase 1 and phase 2 value of
// the product page (model.PageIke, PageIpsec) that p's IkeConfig and IpsecConfig do not
// set (keys compared case-insensitively, as the API does): for callers that want the
// page's negotiation (IKEv2, SHA1) rather than the API's documented defaults.
func PageValues(p map[string]string) error {
	ike, ipsec := model.PageIke(), model.PageIpsec()
	for _, j := range []struct {
		param string
		page  map[string]any
	}{
		{"IkeConfig", map[string]any{"IkeVersion": ike.IkeVersion, "IkeMode": ike.IkeMode, "IkeEncAlg": ike.IkeEncAlg,
			"IkeAuthAlg": ike.IkeAuthAlg, "IkePfs": ike.IkePfs, "IkeLifetime": ike.IkeLifetime}},
		{"IpsecConfig", map[string]any{"IpsecEncAlg": ipsec.IpsecEncAlg, "IpsecAuthAlg": ipsec.IpsecAuthAlg,
			"IpsecPfs": ipsec.IpsecPfs, "IpsecLifetime": ipsec.IpsecLifetime}},
	} {
		m := map[string]any{}
		if raw := strings.TrimSpace(p[j.param]); raw != "" {
			if err := json.Unmarshal([]byte(raw), &m); err != nil {
				return fmt.Errorf("%s is not a JSON object: %w", j.param, err)
			}
		}
	next:
		for k, v := range j.page {
			for have := range m {
				if strings.EqualFold(have, k) {
					continue next
				}
			}
			m[k] = v
		}
		raw, err := json.Marshal(m)
		if err != nil {
			return err
		}
		p[j.param] = string(raw)
	}
	return nil
}

// FieldError is a problem with the form's shape, named by the API parameter it feeds.
type FieldError struct{ Field, Message string }

func (e *FieldError) Error() string { return e.Message }

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
	Advanced  Advanced
}

// Params are CreateTransitRouterVpnAttachment's parameters.
func (a Attachment) Params() map[string]string {
	p := map[string]string{"RegionId": a.Region, "TransitRouterId": a.TransitRouterID, "VpnId": a.VpnID, "TransitRouterAttachmentName": a.Name}
	if a.VpnOwnerID != "" {
		p["VpnOwnerId"] = a.VpnOwnerID
	}
	if a.Zone != "" {
		p["Zone.1.ZoneId"] = a.Zone
	}
	if a.RouteSync != nil {
		p["AutoPublishRouteEnabled"] = fmt.Sprint(*a.RouteSync)
	}
	SetTags(p, "Tag", a.Tags)
	a.Advanced.Set(p)
	return p
}

// Advanced are the other two advanced options, both on in the console by default.
type Advanced struct{ Associate, Propagate bool }

// Set adds the options to an attachment creation's parameters: the server then associates
// the attachment with the System route table and propagates it there once it is Attached,
// as part of the attachment's own record, so a restart in between loses nothing.
func (a Advanced) Set(p map[string]string) {
	if a.Associate {
		p["RouteTableAssociationEnabled"] = "true"
	}
	if a.Propagate {
		p["RouteTablePropagationEnabled"] = "true"
	}
}

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
				return Created{}, &OrphanError{Err: err, VpnConnectionID: c.VpnConnectionID, Undo: undo}
			}
		}
		return Created{}, err
	}
	c.AttachmentID = out.TransitRouterAttachmentId
	return c, nil
}

// OrphanError is a refused attachment whose newly created connection could not be deleted
// again: the caller must tell the user it is left.
type OrphanError struct {
	Err             error // why the attachment was refused
	VpnConnectionID string
	Undo            error // why the connection could not be deleted
}

func (e *OrphanError) Error() string {
	return fmt.Sprintf("%v; the IPsec-VPN connection %s created for it could not be deleted again (%v): delete it yourself", e.Err, e.VpnConnectionID, e.Undo)
}

func (e *OrphanError) Unwrap() error { return e.Err }

// Step reports the procedure's progress: a step's name and whether it finished.
type Step func(name string, done bool)

// Finish waits until the attachment is Attached (listing it with listAction, e.g.
// "ListTransitRouterVpnAttachments"), then until its association with and propagation into
// the transit router's System route table are Active, as adv says. The server makes them:
// the attachment must have been created with adv (Advanced.Set), so Finish only watches.
func Finish(ctx context.Context, cl Caller, listAction, trID, attID string, adv Advanced, step Step) error {
	if step == nil {
		step = func(string, bool) {}
	}
	step("Attach", false)
	if err := Poll(ctx, 5*time.Minute, pollEvery, func() (bool, error) {
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
	for _, l := range []struct {
		on   bool
		step string
		list listing
	}{
		{adv.Associate, "Associate", associations},
		{adv.Propagate, "Propagate", propagations},
	} {
		if !l.on {
			continue
		}
		step(l.step, false)
		if err := waitActive(ctx, cl, l.list, attID, table, pollEvery); err != nil {
			return fmt.Errorf("%s %s with %s: %w", l.step, attID, table, err)
		}
		step(l.step, true)
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
	return Link(ctx, cl, action, attID, table, pollEvery)
}

// pollEvery is how often the procedure looks at what it waits for.
const pollEvery = 200 * time.Millisecond

// Link runs an association action (AssociateTransitRouterAttachmentWithRouteTable,
// ReplaceTransitRouterRouteTableAssociation) or EnableTransitRouterRouteTablePropagation,
// then looks every `every` until the attachment's link to table is Active.
func Link(ctx context.Context, cl Caller, action, attID, table string, every time.Duration) error {
	list := associations
	if action == "EnableTransitRouterRouteTablePropagation" {
		list = propagations
	}
	if err := cl.Call(ctx, cbn.Version, action, map[string]string{"TransitRouterAttachmentId": attID, "TransitRouterRouteTableId": table}, nil); err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	if err := waitActive(ctx, cl, list, attID, table, every); err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	return nil
}

// listing is how one kind of link between attachments and route tables is listed: the
// action, and the response's key for the items.
type listing struct{ action, key string }

var (
	associations = listing{"ListTransitRouterRouteTableAssociations", "TransitRouterAssociations"}
	propagations = listing{"ListTransitRouterRouteTablePropagations", "TransitRouterPropagations"}
)

// waitActive looks every `every` until list shows the attachment's link to table Active.
func waitActive(ctx context.Context, cl Caller, list listing, attID, table string, every time.Duration) error {
	if err := Poll(ctx, 2*time.Minute, every, func() (bool, error) {
		var out map[string]any
		err := cl.Call(ctx, cbn.Version, list.action, map[string]string{"TransitRouterRouteTableId": table, "TransitRouterAttachmentId": attID}, &out)
		items, _ := out[list.key].([]any)
		if err != nil || len(items) != 1 {
			return false, err
		}
		item, _ := items[0].(map[string]any)
		return item["Status"] == "Active", nil
	}); err != nil {
		return fmt.Errorf("waiting for Active: %w", err)
	}
	return nil
}

// Poll calls done every `every` until it reports true or an error, ctx ends or timeout
// passes.
func Poll(ctx context.Context, timeout, every time.Duration, done func() (bool, error)) error {
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
		case <-time.After(every):
		}
	}
}
