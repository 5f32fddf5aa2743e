// Package vpc serves the Vpc 2016-04-28 actions OpenCEN implements: customer gateways and IPsec-VPN connections for transit routers.
package vpc

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"opencen/internal/api"
	"opencen/internal/apierr"
	"opencen/internal/model"
	"opencen/internal/rpc"
	"opencen/internal/service"
	"opencen/internal/tunnel"
	"opencen/internal/vpnconf"
)

// Version is the Vpc API version served.
const Version = "2016-04-28"

type handlers struct{ svc *service.Service }

// Product returns the Vpc product with its actions.
func Product(svc *service.Service) *rpc.Product {
	h := handlers{svc}
	p := &rpc.Product{Name: "Vpc", Version: Version, Host: "vpc.aliyuncs.com", Actions: map[string]rpc.Handler{
		"CreateCustomerGateway":            h.createCGW,
		"DescribeCustomerGateways":         h.describeCGWs,
		"DescribeCustomerGateway":          h.describeCGW,
		"ModifyCustomerGatewayAttribute":   h.modifyCGW,
		"DeleteCustomerGateway":            h.deleteCGW,
		"CreateVpnAttachment":              h.createVco,
		"ModifyVpnAttachmentAttribute":     h.modifyVco,
		"DescribeVpnConnection":            h.describeVco,
		"DescribeVpnConnections":           h.describeVcos,
		"DescribeVpnAttachments":           h.describeAttachments,
		"DeleteVpnAttachment":              h.deleteVco,
		"DownloadVpnConnectionConfig":      h.download,
		"DescribeVpnConnectionLogs":        h.logs,
		"MoveVpnResourceGroup":             h.move,
		"DescribeVpnGatewayAvailableZones": h.availableZones,
		"DiagnoseVpnConnections":           h.diagnose,
	}}
	for name, a := range h.networkActions() {
		p.Actions[name] = a
	}
	p.Actions["TagResources"], p.Actions["UnTagResources"], p.Actions["ListTagResources"] = api.TagActions(svc, "Vpc")
	p.Actions["MoveResourceGroup"] = api.MoveResourceGroup(svc, "Vpc")
	// DescribeVpnConnectionLogs is not cacheable: MinutePeriod is relative to the clock.
	p.Cacheable = map[string]bool{"DescribeCustomerGateways": true, "DescribeCustomerGateway": true, "DescribeVpnConnection": true,
		"DescribeVpnConnections": true, "DescribeVpnAttachments": true, "DownloadVpnConnectionConfig": true, "ListTagResources": true,
		"DescribeVpcs": true, "DescribeVSwitches": true, "DescribeVcoRouteEntries": true, "DescribeVpcAttribute": true, "DescribeRouteTableList": true,
		"DescribeVSwitchAttributes": true}
	// Negotiation, BGP and health status, learned routes.
	p.Observes = map[string]bool{"DescribeVpnConnection": true, "DescribeVpnConnections": true, "DescribeVpnAttachments": true,
		"DescribeVcoRouteEntries": true}
	return p
}

// tagWrapper renders tags as VPC APIs do: {"Tag":[{Key,Value}]}.
func tagWrapper(tags []model.Tag) rpc.Object { return rpc.Object{"Tag": api.TagList(tags)} }

func cgwObject(g service.CustomerGatewayView) rpc.Object {
	return rpc.Object{
		"CustomerGatewayId": g.ID, "Name": g.Name, "Description": g.Description, "IpAddress": g.IPAddress,
		"Asn": g.Asn, "AuthKey": g.AuthKey, "CreateTime": model.VPCTime(g.Created),
		"ResourceGroupId": service.DefaultResourceGroup(g.Owner), "Tags": tagWrapper(g.Tags),
	}
}

func (h handlers) createCGW(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	tags, tagParam, err := api.Tags(p)
	if err != nil {
		return nil, err
	}
	dry, err := api.DryRun(p)
	if err != nil {
		return nil, err
	}
	g, err := h.svc.CreateCustomerGateway(ctx, api.Caller(r), service.CreateCustomerGatewayInput{
		RegionID: p["RegionId"], IPAddress: p["IpAddress"], Asn: p["Asn"], AuthKey: p["AuthKey"], Name: p["Name"],
		Description: p["Description"], ResourceGroupID: p["ResourceGroupId"], Tags: tags, TagParam: tagParam,
		ClientToken: p["ClientToken"], DryRun: dry,
	})
	if err != nil {
		return nil, err
	}
	return rpc.Object{"CustomerGatewayId": g.ID, "IpAddress": g.IPAddress, "Name": g.Name, "Description": g.Description, "CreateTime": model.VPCTime(g.Created)}, nil
}

func (h handlers) describeCGWs(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	pg, tags, err := api.PageAndTags(p)
	if err != nil {
		return nil, err
	}
	all, err := h.svc.DescribeCustomerGateways(ctx, api.Caller(r), p["RegionId"], p["CustomerGatewayId"], tags)
	if err != nil {
		return nil, err
	}
	items := []rpc.Object{}
	for _, g := range api.PageOf(all, pg) {
		items = append(items, cgwObject(g))
	}
	return rpc.Object{"PageNumber": pg.Number, "PageSize": pg.Size, "TotalCount": len(all), "CustomerGateways": rpc.Object{"CustomerGateway": items}}, nil
}

func (h handlers) describeCGW(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	g, err := h.svc.DescribeCustomerGateway(ctx, api.Caller(r), r.Params["RegionId"], r.Params["CustomerGatewayId"])
	if err != nil {
		return nil, err
	}
	return cgwObject(g), nil
}

func (h handlers) modifyCGW(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	g, err := h.svc.ModifyCustomerGatewayAttribute(ctx, api.Caller(r), service.ModifyCustomerGatewayInput{
		RegionID: p["RegionId"], ID: p["CustomerGatewayId"], Name: api.Opt(p, "Name"), Description: api.Opt(p, "Description"), AuthKey: api.Opt(p, "AuthKey"),
	})
	if err != nil {
		return nil, err
	}
	return rpc.Object{"CustomerGatewayId": g.ID, "IpAddress": g.IPAddress, "Name": g.Name, "Description": g.Description, "CreateTime": model.VPCTime(g.Created)}, nil
}

func (h handlers) deleteCGW(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	return rpc.Object{}, h.svc.DeleteCustomerGateway(ctx, api.Caller(r), r.Params["RegionId"], r.Params["CustomerGatewayId"])
}

// vpnInput decodes the connection parameters shared by create and modify.
func vpnInput(r *rpc.Request) (service.VpnInput, error) {
	p := r.Params
	in := service.VpnInput{
		RegionID: p["RegionId"], ID: p["VpnConnectionId"],
		Name: api.Opt(p, "Name"), CustomerGatewayID: api.Opt(p, "CustomerGatewayId"), NetworkType: api.Opt(p, "NetworkType"),
		LocalSubnet: api.Opt(p, "LocalSubnet"), RemoteSubnet: api.Opt(p, "RemoteSubnet"),
		TunnelBandwidth: api.Opt(p, "TunnelBandwidth"), ResourceGroupID: api.Opt(p, "ResourceGroupId"),
		ClientToken: p["ClientToken"],
	}
	var err error
	if in.Tags, in.TagParam, err = api.Tags(p); err != nil {
		return in, err
	}
	for _, b := range []struct {
		name string
		dst  **bool
	}{{"EffectImmediately", &in.EffectImmediately}, {"AutoConfigRoute", &in.AutoConfigRoute}, {"EnableDpd", &in.EnableDpd}, {"EnableNatTraversal", &in.EnableNatTraversal}} {
		if *b.dst, err = api.Bool(p, b.name); err != nil {
			return in, err
		}
	}
	if in.DryRun, err = api.DryRun(p); err != nil {
		return in, err
	}
	for _, j := range []struct {
		name string
		dst  any
	}{{"IkeConfig", &in.Ike}, {"IpsecConfig", &in.Ipsec}, {"BgpConfig", &in.Bgp}, {"HealthCheckConfig", &in.HealthCheck}} {
		if err := rpc.ParseJSONParam(j.name, p[j.name], j.dst); err != nil {
			return in, err
		}
	}
	if in.Tunnels, err = tunnelInputs(p); err != nil {
		return in, err
	}
	if in.EnableTunnelsBgp, err = api.Bool(p, "EnableTunnelsBgp"); err != nil {
		return in, err
	}
	// What only a single-tunnel connection takes; a dual-tunnel one refuses it (an empty
	// value or an empty JSON object is "not given").
	for _, name := range []string{"CustomerGatewayId", "IkeConfig", "IpsecConfig", "BgpConfig"} {
		if v := strings.TrimSpace(p[name]); v != "" && v != "{}" {
			in.SingleTunnel = append(in.SingleTunnel, name)
		}
	}
	return in, nil
}

func (h handlers) createVco(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	in, err := vpnInput(r)
	if err != nil {
		return nil, err
	}
	v, err := h.svc.CreateVpnAttachment(ctx, api.Caller(r), in)
	if err != nil {
		return nil, err
	}
	return rpc.Object{"VpnConnectionId": v.ID, "Name": v.Name, "CreateTime": model.VPCTime(v.Created), "Code": "200", "Success": true, "Message": "successful"}, nil
}

func (h handlers) modifyVco(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	in, err := vpnInput(r)
	if err != nil {
		return nil, err
	}
	v, err := h.svc.ModifyVpnAttachmentAttribute(ctx, api.Caller(r), in)
	if err != nil {
		return nil, err
	}
	o := vcoObject(v)
	o["TunnelOptionsSpecification"] = tunnelObjects(v, modifyShape)
	o["Description"] = ""
	o["VpnGatewayId"] = "vpn-not-exist"
	return o, nil
}

func boolText(b bool) string { return strconv.FormatBool(b) }

// vcoObject renders a connection with the fields DescribeVpnConnection declares.
func vcoObject(v service.VpnConnectionView) rpc.Object {
	spec := map[string]string{"Standard": "1000M", "Large": "3000M"}[v.TunnelBandwidth]
	bgp := rpc.Object{"EnableBgp": boolText(v.Bgp.EnableBgp), "LocalAsn": v.Bgp.LocalAsn, "Status": v.BgpStatus, "TunnelCidr": v.Bgp.TunnelCidr,
		"LocalBgpIp": v.Bgp.LocalBgpIp, "PeerBgpIp": v.Bgp.PeerBgpIP(), "PeerAsn": v.PeerAsn, "AuthKey": v.BgpAuthKey}
	hc := rpc.Object{"Enable": boolText(v.HealthCheck.Enable), "Dip": v.HealthCheck.Dip, "Sip": v.HealthCheck.Sip,
		"Interval": v.HealthCheck.Interval, "Retry": v.HealthCheck.Retry, "Policy": v.HealthCheck.Policy, "Status": v.HealthCheckStatus}
	return rpc.Object{
		"VpnConnectionId": v.ID, "Name": v.Name, "CustomerGatewayId": v.CustomerGatewayID, "VpnGatewayId": "",
		"CreateTime": model.VPCTime(v.Created), "LocalSubnet": v.LocalSubnet, "RemoteSubnet": v.RemoteSubnet,
		"NetworkType": v.NetworkType, "EffectImmediately": v.EffectImmediately, "EnableDpd": v.EnableDpd,
		"EnableNatTraversal": v.EnableNatTraversal, "EnableTunnelsBgp": v.EnableTunnelsBgp, "TunnelBandwidth": v.TunnelBandwidth,
		"InternetIp": v.InternetIP, "ZoneNo": v.ZoneNo, "Spec": spec, "ResourceGroupId": v.ResourceGroupID,
		"RemoteCaCertificate": "", "Status": v.NegotiationStatus, "State": v.Status, "AttachType": v.AttachType,
		"AttachInstanceId": v.CenID, "TransitRouterId": v.TransitRouterID, "TransitRouterName": v.TransitRouterName,
		"CrossAccountAuthorized": v.CrossAccount,
		"IkeConfig": rpc.Object{"IkeVersion": v.Ike.IkeVersion, "IkeMode": v.Ike.IkeMode, "IkeEncAlg": v.Ike.IkeEncAlg,
			"IkeAuthAlg": v.Ike.IkeAuthAlg, "IkePfs": v.Ike.IkePfs, "IkeLifetime": v.Ike.IkeLifetime,
			"LocalId": v.EffectiveLocalID(), "RemoteId": v.RemoteID, "Psk": v.Psk},
		"IpsecConfig": rpc.Object{"IpsecEncAlg": v.Ipsec.IpsecEncAlg, "IpsecAuthAlg": v.Ipsec.IpsecAuthAlg,
			"IpsecPfs": v.Ipsec.IpsecPfs, "IpsecLifetime": v.Ipsec.IpsecLifetime},
		"VcoHealthCheck": hc,
		"VpnBgpConfig":   bgp,
		"StatusDetail":   statusDetail(v),
	}
}

// statusDetail explains what the negotiation status cannot: OpenCEN's data plane
// (kernel-libipsec) always encapsulates ESP in UDP, whatever EnableNatTraversal says.
func statusDetail(v service.VpnConnectionView) string {
	if !v.EnableNatTraversal {
		return "NAT traversal is off in the configuration, but this data plane (strongSwan kernel-libipsec) always encapsulates ESP in UDP 4500."
	}
	return ""
}

func (h handlers) describeVco(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	v, err := h.svc.DescribeVpnConnection(ctx, api.Caller(r), r.Params["RegionId"], r.Params["VpnConnectionId"])
	if err != nil {
		return nil, err
	}
	o := vcoObject(v)
	o["Tags"] = tagWrapper(v.Tags)
	o["TunnelOptionsSpecification"] = rpc.Object{"TunnelOptions": tunnelObjects(v, describeShape)}
	return o, nil
}

func (h handlers) describeVcos(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	pg, tags, err := api.PageAndTags(p)
	if err != nil {
		return nil, err
	}
	all, err := h.svc.DescribeVpnConnections(ctx, api.Caller(r), service.VcoFilter{Region: p["RegionId"], ID: p["VpnConnectionId"], CustomerGatewayID: p["CustomerGatewayId"], Tags: tags})
	if err != nil {
		return nil, err
	}
	if gw := p["VpnGatewayId"]; gw != "" {
		all = nil // no connection here belongs to a VPN gateway
	}
	items := []rpc.Object{}
	for _, v := range api.PageOf(all, pg) {
		o := vcoObject(v)
		o["Tag"] = tagWrapper(v.Tags)
		o["TunnelOptionsSpecification"] = rpc.Object{"TunnelOptions": tunnelObjects(v, describeShape)}
		items = append(items, o)
	}
	return rpc.Object{"PageNumber": pg.Number, "PageSize": pg.Size, "TotalCount": len(all), "VpnConnections": rpc.Object{"VpnConnection": items}}, nil
}

func (h handlers) describeAttachments(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	pg, err := api.PageParams(p, 10, 50)
	if err != nil {
		return nil, err
	}
	if at := p["AttachType"]; at != "" && at != model.AttachCEN {
		return nil, apierr.Invalid("AttachType", "AttachType must be CEN; got %q.", at)
	}
	all, err := h.svc.DescribeVpnConnections(ctx, api.Caller(r), service.VcoFilter{Region: p["RegionId"], ID: p["VpnConnectionId"], AttachedOnly: true})
	if err != nil {
		return nil, err
	}
	items := []rpc.Object{}
	for _, v := range api.PageOf(all, pg) {
		sys, _ := json.Marshal(map[string]string{"BGPSupport": boolText(true)})
		items = append(items, rpc.Object{"InstanceId": v.ID, "Name": v.Name, "Description": "", "AttachType": v.AttachType,
			"TransitRouterId": v.TransitRouterID, "TransitRouterName": v.TransitRouterName, "CrossAccountAuthorized": v.CrossAccount,
			"TunnelBandwidth": v.TunnelBandwidth, "Tag": string(sys), "Tags": api.TagList(v.Tags)})
	}
	return rpc.Object{"PageNumber": pg.Number, "PageSize": pg.Size, "TotalCount": len(all), "VpnAttachments": items}, nil
}

func (h handlers) deleteVco(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	if err := h.svc.DeleteVpnAttachment(ctx, api.Caller(r), r.Params["RegionId"], r.Params["VpnConnectionId"]); err != nil {
		return nil, err
	}
	return rpc.Object{"Code": "200", "Success": true, "Message": "successful"}, nil
}

func (h handlers) download(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	// A connection not attached yet is downloaded without the cloud's address, as before
	// the cloud assigns it.
	specs, err := h.svc.CustomerConfigs(ctx, api.Caller(r), r.Params["RegionId"], r.Params["VpnConnectionId"])
	if err != nil && !errors.Is(err, tunnel.ErrNotAttached) {
		return nil, err
	}
	return rpc.Object{"VpnConnectionConfig": vpnconf.AlibabaConfig(specs...)}, nil
}

// logs serves DescribeVpnConnectionLogs: From/To (unix seconds) or the last MinutePeriod (1-10) minutes.
func (h handlers) logs(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	pg, err := api.PageParams(p, 10, 50)
	if err != nil {
		return nil, err
	}
	from, fromSet, err := p.Int("From", 0, 1<<40)
	if err != nil {
		return nil, err
	}
	to, toSet, err := p.Int("To", 0, 1<<40)
	if err != nil {
		return nil, err
	}
	minutes, minSet, err := p.Int("MinutePeriod", 1, 10)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	switch {
	case fromSet && toSet:
		if to < from {
			return nil, apierr.Invalid("To", "To (%d) must not be before From (%d).", to, from)
		}
	case minSet:
		switch {
		case fromSet:
			to = from + minutes*60
		case toSet:
			from = to - minutes*60
		default:
			from, to = now.Add(-time.Duration(minutes)*time.Minute).Unix(), now.Unix()
		}
	default:
		return nil, apierr.Missing("MinutePeriod")
	}
	lines, err := h.svc.ConnectionLogs(ctx, api.Caller(r), p["RegionId"], p["VpnConnectionId"], p["TunnelId"], time.Unix(from, 0), time.Unix(to+1, 0))
	if err != nil {
		return nil, err
	}
	page := api.PageOf(lines, pg)
	if page == nil {
		page = []string{}
	}
	return rpc.Object{"Count": len(lines), "PageNumber": pg.Number, "PageSize": pg.Size,
		"IsCompleted": pg.Number*pg.Size >= len(lines), "Data": rpc.Object{"Logs": page}}, nil
}

func (h handlers) move(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	return rpc.Object{}, h.svc.MoveResourceGroup(ctx, api.Caller(r), service.MoveInput{Action: "MoveVpnResourceGroup", Region: p["RegionId"],
		ResourceType: p["ResourceType"], IDParam: "InstanceId", ID: p["InstanceId"], Group: p["NewResourceGroupId"]})
}

// vpnSpecs are the bandwidth specifications DescribeVpnGatewayAvailableZones takes; every
// zone offers each.
var vpnSpecs = []string{"5M", "10M", "20M", "50M", "100M", "200M", "500M", "1000M"}

func (h handlers) availableZones(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	if spec := p["Spec"]; spec != "" && !slices.Contains(vpnSpecs, spec) {
		return nil, apierr.Invalid("Spec", "Spec must be one of %s; got %q.", apierr.Text(strings.Join(vpnSpecs, ", ")), spec)
	}
	if lang := p["AcceptLanguage"]; lang != "" && lang != "zh-CN" && lang != "en-US" {
		return nil, apierr.Invalid("AcceptLanguage", "AcceptLanguage must be zh-CN or en-US; got %q.", lang)
	}
	zones, err := h.svc.VpnZones(p["RegionId"])
	if err != nil {
		return nil, err
	}
	items := []rpc.Object{}
	for _, z := range zones {
		items = append(items, rpc.Object{"ZoneId": z, "ZoneName": z}) // zones have no other name here
	}
	return rpc.Object{"RegionId": p["RegionId"], "AvailableZoneIdList": items}, nil
}

// diagnose serves DiagnoseVpnConnections from the connections' state, negotiation status
// and logs (service.Diagnosis).
func (h handlers) diagnose(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	pg, err := api.PageParams(p, 10, 50)
	if err != nil {
		return nil, err
	}
	var ids, tunnels []string
	if err := api.ReadLists(p, api.ListParam{Name: "VpnConnectionIds", Dst: &ids}, api.ListParam{Name: "TunnelIds", Dst: &tunnels}); err != nil {
		return nil, err
	}
	if err := api.MaxItems("VpnConnectionIds", ids, 50); err != nil {
		return nil, err
	}
	var all []service.Diagnosis
	if p["VpnGatewayId"] == "" || len(ids) > 0 {
		if all, err = h.svc.DiagnoseVpnConnections(ctx, api.Caller(r), p["RegionId"], ids, tunnels); err != nil {
			return nil, err
		}
	}
	if p["VpnGatewayId"] != "" {
		all = nil // no connection here belongs to a VPN gateway
	}
	items := []rpc.Object{}
	for _, d := range api.PageOf(all, pg) {
		var at int64
		if !d.At.IsZero() {
			at = model.VPCTime(d.At)
		}
		items = append(items, rpc.Object{"VpnConnectionId": d.VpnConnectionID, "TunnelId": d.TunnelID, "Severity": d.Severity,
			"FailedReasonCode": d.Code, "FailedReason": d.Reason, "FailedTime": at, "SourceLog": d.SourceLog,
			"MismatchLocalParam": d.LocalParam, "MismatchRemoteParam": d.RemoteParam})
	}
	return rpc.Object{"PageNumber": pg.Number, "PageSize": pg.Size, "TotalCount": len(all), "VpnConnections": items}, nil
}
