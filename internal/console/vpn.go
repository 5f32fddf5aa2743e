package console

import (
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strconv"
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

// The VPN console's "Create IPsec-VPN Connection" (Associate Resource: Do Not Associate),
// single-tunnel, or dual-tunnel with ?tunnels=dual. The form holds one mode's fields at a
// time: each tunnel's fields are labelled as the single tunnel's, inside the tunnel's group.
func (c *Console) newVcoPage(q *req) {
	p := c.newPage(q, "Create IPsec-VPN Connection", "vcos")
	p.Form = connectionDefaults(p.Region)
	tunnelDefaults(p.Form)
	if q.r.URL.Query().Get("tunnels") == dualTunnel {
		p.Form.Set("TunnelMode", dualTunnel)
	}
	c.renderVcoForm(q, p, http.StatusOK)
}

// renderVcoForm renders the VPN console's connection form, which offers dual tunnels.
func (c *Console) renderVcoForm(q *req, p *page, status int) {
	c.fillVpnChoices(q, p, p.Region)
	p.D["Dual"] = true
	c.render(q.w, q.r, "vcoform", status, p)
}

func (c *Console) createVco(q *req) {
	f := q.r.PostForm
	v := vpnFromForm(f)
	params, err := v.Params()
	if err == nil && f.Get("TunnelMode") == dualTunnel {
		dualParams(params, f)
	}
	var out map[string]any
	if err == nil {
		out, err = q.cl.get(q.ctx, vpc.Version, "CreateVpnAttachment", params)
	}
	if err != nil {
		q.r.URL.RawQuery = url.Values{"region": {f.Get("RegionId")}}.Encode()
		p := c.retry(q, "vcos", err)
		p.Title = "Create IPsec-VPN Connection"
		c.renderVcoForm(q, p, http.StatusBadRequest)
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
	tunnels := tunnelsOf(v)
	p.D["Tunnels"] = tunnels
	attached := str(v["InternetIp"]) != ""
	if len(tunnels) > 0 {
		// A dual-tunnel connection: the tunnels' logs apart, and its configuration once
		// both tunnels have their gateway IPs.
		attached = true
		var logs []tunnelLog
		for _, t := range tunnels {
			attached = attached && str(t["InternetIp"]) != ""
			l := tunnelLog{ID: str(t["TunnelId"]), Role: str(t["Role"])}
			out, err := q.cl.get(q.ctx, vpc.Version, "DescribeVpnConnectionLogs", map[string]string{"RegionId": p.Region, "VpnConnectionId": id, "TunnelId": l.ID, "MinutePeriod": "10", "PageSize": "50"})
			if err == nil {
				l.Lines, _ = dig(out, "Data", "Logs").([]any)
			}
			logs = append(logs, l)
		}
		p.D["TunnelLogs"] = logs
	} else if logs, err := q.cl.get(q.ctx, vpc.Version, "DescribeVpnConnectionLogs", map[string]string{"RegionId": p.Region, "VpnConnectionId": id, "MinutePeriod": "10", "PageSize": "50"}); err == nil {
		p.D["Logs"] = dig(logs, "Data", "Logs")
	}
	p.D["Attached"] = attached
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

// tunnelLog is one tunnel's recent log lines on the connection page.
type tunnelLog struct {
	ID, Role string
	Lines    []any
}

// vcoForm turns a DescribeVpnConnection answer back into the form's fields.
func vcoForm(v map[string]any, region string) url.Values {
	f := connectionDefaults(region)
	tunnelDefaults(f)
	if len(tunnelsOf(v)) > 0 {
		dualForm(f, v)
	}
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
	c.renderVcoForm(q, p, http.StatusOK)
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
		old := vcoForm(cur, v.Region)
		params, changed, err = v.Modify(vpnFromForm(old))
		if tunnels := tunnelsOf(cur); err == nil && len(tunnels) > 0 {
			// A dual-tunnel connection keeps its mode: the shared fields as for one tunnel,
			// without the single tunnel's, and what changed of each tunnel.
			if params == nil {
				params = map[string]string{"RegionId": v.Region}
			}
			for _, k := range singleOnly {
				delete(params, k)
			}
			changed = len(params) > 1
			ids := map[int]string{}
			for _, t := range tunnels {
				if n, err := strconv.Atoi(str(t["TunnelIndex"])); err == nil {
					ids[n] = str(t["TunnelId"])
				}
			}
			var tunnelsChanged bool
			tunnelsChanged, err = dualChanges(params, f, old, ids)
			changed = changed || tunnelsChanged
		}
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
		c.renderVcoForm(q, p, http.StatusBadRequest)
	case !changed:
		done(q, back, "Nothing to save: "+id+" is as the form says.")
	default:
		done(q, back, "Saved "+id+".")
	}
}

// downloadConfig is "Download configuration": the data center's strongSwan swanctl.conf (a
// dual-tunnel connection's both tunnels, or with ?tunnel= one of them alone), or the API's
// JSON.
func (c *Console) downloadConfig(q *req) {
	id := q.r.PathValue("id")
	query := q.r.URL.Query()
	region, err := c.region(query.Get("region"))
	if err != nil {
		c.apiError(q, c.newPage(q, "Download configuration", "vcos"), err)
		return
	}
	params := map[string]string{"RegionId": region, "VpnConnectionId": id}
	tunnel := query.Get("tunnel")
	var body []byte
	var name, ctype string
	switch query.Get("format") {
	case "json":
		if tunnel != "" {
			c.apiError(q, c.newPage(q, "Download configuration", "vcos"), apierr.Invalid("TunnelId", "The JSON configuration has both tunnels (TunnelsConfig); download it without a tunnel, or choose strongSwan for one tunnel."))
			return
		}
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
		name = id + "-swanctl.conf"
		if tunnel != "" {
			params["TunnelId"], name = tunnel, tunnel+"-swanctl.conf"
		}
		out, err := q.cl.get(q.ctx, admin.Version, "RenderVpnConnectionConfig", params)
		if err != nil {
			c.apiError(q, c.newPage(q, "Download configuration", "vcos"), err)
			return
		}
		body, ctype = []byte(str(out["Config"])), "text/plain; charset=utf-8"
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
