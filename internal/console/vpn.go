package console

import (
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"opencen/internal/api/admin"
	"opencen/internal/api/cbn"
	"opencen/internal/api/vpc"
	"opencen/internal/apierr"
	"opencen/internal/connect"
	"opencen/internal/model"
)

// Customer gateways: list and create.
func (c *Console) cgwsPage(q *req) {
	c.renderCGWs(q, c.newPage(q, "Customer Gateways", "cgws"), http.StatusOK)
}

func (c *Console) renderCGWs(q *req, p *page, status int) {
	cgws, err := pageAll(q.ctx, q.cl, vpc.Version, "DescribeCustomerGateways", map[string]string{"RegionId": p.Region}, "CustomerGateways", "CustomerGateway")
	if err != nil {
		_, p.Error = fieldErrors(err, nil)
	}
	p.D["CGWs"] = cgws
	c.render(q.w, q.r, "cgws", status, p)
}

func (c *Console) createCGW(q *req) {
	f := q.r.PostForm
	params := map[string]string{"RegionId": f.Get("RegionId"), "IpAddress": strings.TrimSpace(f.Get("IpAddress")), "Name": f.Get("Name"), "Description": f.Get("Description")}
	for _, k := range []string{"Asn", "AuthKey"} {
		if v := strings.TrimSpace(f.Get(k)); v != "" {
			params[k] = v
		}
	}
	out, err := q.cl.get(q.ctx, vpc.Version, "CreateCustomerGateway", params)
	if err != nil {
		q.r.URL.RawQuery = url.Values{"region": {f.Get("RegionId")}}.Encode()
		p := c.retry(q, "cgws", err)
		p.Title = "Customer Gateways"
		c.renderCGWs(q, p, http.StatusBadRequest)
		return
	}
	done(q, "/console/vpn/cgws?"+url.Values{"region": {f.Get("RegionId")}}.Encode(), "Created customer gateway "+str(out["CustomerGatewayId"])+".")
}

// IPsec-VPN connections of a region.
func (c *Console) vcosPage(q *req) {
	p := c.newPage(q, "IPsec-VPN Connections", "vcos")
	vcos, err := pageAll(q.ctx, q.cl, vpc.Version, "DescribeVpnConnections", map[string]string{"RegionId": p.Region}, "VpnConnections", "VpnConnection")
	if err != nil {
		_, p.Error = fieldErrors(err, nil)
	}
	p.D["Vcos"] = vcos
	c.render(q.w, q.r, "vcos", http.StatusOK, p)
}

// The VPN console's "Create IPsec-VPN Connection" (Associate Resource: Do Not Associate).
func (c *Console) newVcoPage(q *req) {
	p := c.newPage(q, "Create IPsec-VPN Connection", "vcos")
	p.Form = connectionDefaults(p.Region)
	c.fillVpnChoices(q, p, p.Region)
	c.render(q.w, q.r, "vcoform", http.StatusOK, p)
}

func (c *Console) createVco(q *req) {
	f := q.r.PostForm
	v := vpnFromForm(f)
	params, err := v.Params()
	var out map[string]any
	if err == nil {
		out, err = q.cl.get(q.ctx, vpc.Version, "CreateVpnAttachment", params)
	}
	if err != nil {
		q.r.URL.RawQuery = url.Values{"region": {f.Get("RegionId")}}.Encode()
		p := c.retry(q, "vcos", err)
		p.Title = "Create IPsec-VPN Connection"
		c.fillVpnChoices(q, p, p.Region)
		c.render(q.w, q.r, "vcoform", http.StatusBadRequest, p)
		return
	}
	id := str(out["VpnConnectionId"])
	done(q, "/console/vpn/connections/"+id+"?"+url.Values{"region": {v.Region}}.Encode(), "Created IPsec-VPN connection "+id+".")
}

// vco reads one connection of the caller's.
func (c *Console) vco(q *req, region, id string) (map[string]any, error) {
	return q.cl.get(q.ctx, vpc.Version, "DescribeVpnConnection", map[string]string{"RegionId": region, "VpnConnectionId": id})
}

// Connection detail: live tunnel, BGP and health-check status, logs, downloads, grants.
func (c *Console) vcoPage(q *req) {
	c.renderVco(q, c.newPage(q, "", "vcos"), http.StatusOK)
}

func (c *Console) renderVco(q *req, p *page, status int) {
	id := q.r.PathValue("id")
	v, err := c.vco(q, p.Region, id)
	if err != nil {
		c.apiError(q, p, err)
		return
	}
	p.Title = "IPsec-VPN connection " + id
	p.D["Vco"] = v
	logs, err := q.cl.get(q.ctx, vpc.Version, "DescribeVpnConnectionLogs", map[string]string{"RegionId": p.Region, "VpnConnectionId": id, "MinutePeriod": "10", "PageSize": "50"})
	if err == nil {
		p.D["Logs"] = dig(logs, "Data", "Logs")
	}
	// The data plane's objects of the connection (tunnel, BGP session, health check).
	if objs, err := q.cl.get(q.ctx, admin.Version, "DescribeGatewayStatus", map[string]string{"VpnConnectionId": id}); err == nil {
		p.D["DataPlane"] = objs["Objects"]
	}
	grants, err := listAll(q.ctx, q.cl, cbn.Version, "DescribeGrantRulesToResource", "GrantRules", map[string]string{"ProductType": "VPN", "ResourceId": id, "RegionId": p.Region})
	if err != nil {
		_, p.Error = fieldErrors(err, nil)
	}
	p.D["Grants"] = grants
	if ch, err := c.trafficChart(q, p.Region, id, q.r.URL.Query().Get("range")); err == nil {
		p.D["Chart"] = ch
	} else {
		_, p.D["ChartError"] = fieldErrors(err, nil)
	}
	c.render(q.w, q.r, "vco", status, p)
}

// vcoForm turns a DescribeVpnConnection answer back into the form's fields.
func vcoForm(v map[string]any, region string) url.Values {
	f := connectionDefaults(region)
	set := func(field string, path ...string) { f.Set(field, str(dig(v, path...))) }
	set("Name", "Name")
	set("CustomerGatewayId", "CustomerGatewayId")
	set("NetworkType", "NetworkType")
	if str(v["LocalSubnet"]) != model.AllIPv4 || str(v["RemoteSubnet"]) != model.AllIPv4 {
		f.Set("RoutingMode", connect.FlowProtection)
		set("LocalSubnet", "LocalSubnet")
		set("RemoteSubnet", "RemoteSubnet")
	}
	f.Set("EffectImmediately", str(v["EffectImmediately"]))
	onOff := func(field string, on bool) {
		if on {
			f.Set(field, "on")
		} else {
			f.Del(field)
		}
	}
	onOff("EnableDpd", str(v["EnableDpd"]) == "true")
	onOff("EnableNatTraversal", str(v["EnableNatTraversal"]) == "true")
	for _, k := range []string{"Psk", "IkeVersion", "IkeMode", "IkeEncAlg", "IkeAuthAlg", "IkePfs", "IkeLifetime", "LocalId", "RemoteId"} {
		set("IkeConfig."+k, "IkeConfig", k)
	}
	for _, k := range []string{"IpsecEncAlg", "IpsecAuthAlg", "IpsecPfs", "IpsecLifetime"} {
		set("IpsecConfig."+k, "IpsecConfig", k)
	}
	onOff("BgpConfig.EnableBgp", str(dig(v, "VpnBgpConfig", "EnableBgp")) == "true")
	for _, k := range []string{"TunnelCidr", "LocalBgpIp", "LocalAsn"} {
		set("BgpConfig."+k, "VpnBgpConfig", k)
	}
	onOff("HealthCheckConfig.Enable", str(dig(v, "VcoHealthCheck", "Enable")) == "true")
	for _, k := range []string{"Dip", "Sip", "Interval", "Retry"} {
		set("HealthCheckConfig."+k, "VcoHealthCheck", k)
	}
	onOff("SwitchRoute", str(dig(v, "VcoHealthCheck", "Policy")) != "reserve_route")
	return f
}

func (c *Console) editVcoPage(q *req) {
	p := c.newPage(q, "", "vcos")
	id := q.r.PathValue("id")
	v, err := c.vco(q, p.Region, id)
	if err != nil {
		c.apiError(q, p, err)
		return
	}
	p.Title = "Edit IPsec-VPN connection " + id
	p.D["EditID"] = id
	p.Form = vcoForm(v, p.Region)
	c.fillVpnChoices(q, p, p.Region)
	c.render(q.w, q.r, "vcoform", http.StatusOK, p)
}

// editVco saves what the form changed: the connection is read again and only the
// differences are sent, so values the form merely shows (the effective LocalId, say) are
// not stored as if they had been chosen.
func (c *Console) editVco(q *req) {
	f := q.r.PostForm
	id := q.r.PathValue("id")
	v := vpnFromForm(f)
	cur, err := c.vco(q, v.Region, id)
	var params map[string]string
	changed := false
	if err == nil {
		params, changed, err = v.Modify(vpnFromForm(vcoForm(cur, v.Region)))
	}
	if err == nil && changed {
		params["VpnConnectionId"] = id
		err = q.cl.Call(q.ctx, vpc.Version, "ModifyVpnAttachmentAttribute", params, nil)
	}
	back := "/console/vpn/connections/" + id + "?" + url.Values{"region": {v.Region}}.Encode()
	switch {
	case err != nil:
		q.r.URL.RawQuery = url.Values{"region": {v.Region}}.Encode()
		p := c.retry(q, "vcos", err)
		p.Title, p.D["EditID"] = "Edit IPsec-VPN connection "+id, id
		c.fillVpnChoices(q, p, p.Region)
		c.render(q.w, q.r, "vcoform", http.StatusBadRequest, p)
	case !changed:
		done(q, back, "Nothing to save: "+id+" is as the form says.")
	default:
		done(q, back, "Saved "+id+".")
	}
}

// downloadConfig is "Download configuration": the data center's strongSwan swanctl.conf, or
// the API's JSON.
func (c *Console) downloadConfig(q *req) {
	id := q.r.PathValue("id")
	region, err := c.region(q.r.URL.Query().Get("region"))
	if err != nil {
		c.apiError(q, c.newPage(q, "Download configuration", "vcos"), err)
		return
	}
	params := map[string]string{"RegionId": region, "VpnConnectionId": id}
	var body []byte
	var name, ctype string
	switch q.r.URL.Query().Get("format") {
	case "json":
		out, err := q.cl.get(q.ctx, vpc.Version, "DownloadVpnConnectionConfig", params)
		if err != nil {
			c.apiError(q, c.newPage(q, "Download configuration", "vcos"), err)
			return
		}
		if body, err = json.MarshalIndent(out["VpnConnectionConfig"], "", "  "); err != nil {
			c.apiError(q, c.newPage(q, "Download configuration", "vcos"), err)
			return
		}
		name, ctype = id+".json", "application/json"
	default:
		params["ConfigFormat"] = "strongswan"
		out, err := q.cl.get(q.ctx, admin.Version, "RenderVpnConnectionConfig", params)
		if err != nil {
			c.apiError(q, c.newPage(q, "Download configuration", "vcos"), err)
			return
		}
		body, name, ctype = []byte(str(out["Config"])), id+"-swanctl.conf", "text/plain; charset=utf-8"
	}
	q.w.Header().Set("Content-Type", ctype)
	q.w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	_, _ = q.w.Write(body)
}

// grant grants the connection to (or revokes it from) another account's CEN.
func (c *Console) grant(q *req) {
	f := q.r.PostForm
	id := q.r.PathValue("id")
	var action, verb string
	var err error
	switch f.Get("Op") {
	case "grant":
		action, verb = "GrantInstanceToTransitRouter", "Granted"
	case "revoke":
		action, verb = "RevokeInstanceFromTransitRouter", "Revoked"
	default:
		err = apierr.New("InvalidParameter", "Op must be grant or revoke.")
	}
	if err == nil {
		err = q.cl.Call(q.ctx, cbn.Version, action, map[string]string{"InstanceType": "VPN", "InstanceId": id, "RegionId": f.Get("RegionId"),
			"CenId": strings.TrimSpace(f.Get("CenId")), "CenOwnerId": strings.TrimSpace(f.Get("CenOwnerId"))}, nil)
	}
	if err != nil {
		q.r.URL.RawQuery = url.Values{"region": {f.Get("RegionId")}}.Encode()
		p := c.newPage(q, "", "vcos")
		if f.Get("Op") == "grant" {
			p = c.retry(q, "vcos", err)
		} else {
			_, p.Error = fieldErrors(err, nil) // a row's action: no form to show again
		}
		c.renderVco(q, p, http.StatusBadRequest)
		return
	}
	done(q, "/console/vpn/connections/"+id+"?"+url.Values{"region": {f.Get("RegionId")}}.Encode(), verb+" "+id+" for CEN "+f.Get("CenId")+".")
}
