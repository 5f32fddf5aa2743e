package console

import (
	"errors"
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
	"opencen/internal/service"
)

// tr reads one transit router the caller can see.
func (c *Console) tr(q *req, id string) (map[string]any, error) {
	trs, err := pageAll(q.ctx, q.cl, cbn.Version, "ListTransitRouters", map[string]string{"TransitRouterId": id}, "TransitRouters")
	if err != nil {
		return nil, err
	}
	if len(trs) == 0 {
		return nil, apierr.New("InvalidTransitRouterId.NotFound", "The transit router %s does not exist in your account.", id)
	}
	m, _ := trs[0].(map[string]any)
	return m, nil
}

// trView is what the transit router page and its topology show.
type trView struct {
	Attachments []map[string]any // VPN and VPC attachments, each with "Kind", "Table" and "Tunnel"
	Tables      []any
	Links       []topoLink
}

func (c *Console) loadTR(q *req, trID string) (trView, error) {
	var v trView
	for _, l := range []struct{ kind, action string }{{"VPN", "ListTransitRouterVpnAttachments"}, {"VPC", "ListTransitRouterVpcAttachments"}} {
		atts, err := listAll(q.ctx, q.cl, cbn.Version, l.action, "TransitRouterAttachments", map[string]string{"TransitRouterId": trID})
		if err != nil {
			return v, err
		}
		for _, a := range atts {
			m, _ := a.(map[string]any)
			m["Kind"] = l.kind
			v.Attachments = append(v.Attachments, m)
		}
	}
	tables, err := listAll(q.ctx, q.cl, cbn.Version, "ListTransitRouterRouteTables", "TransitRouterRouteTables", map[string]string{"TransitRouterId": trID})
	if err != nil {
		return v, err
	}
	byField(tables, "TransitRouterRouteTableType")
	v.Tables = tables
	for _, t := range tables {
		tid := str(dig(t, "TransitRouterRouteTableId"))
		for _, kind := range []struct {
			action, key string
			propagation bool
		}{{"ListTransitRouterRouteTableAssociations", "TransitRouterAssociations", false}, {"ListTransitRouterRouteTablePropagations", "TransitRouterPropagations", true}} {
			links, err := listAll(q.ctx, q.cl, cbn.Version, kind.action, kind.key, map[string]string{"TransitRouterRouteTableId": tid})
			if err != nil {
				return v, err
			}
			for _, l := range links {
				v.Links = append(v.Links, topoLink{Attachment: str(dig(l, "TransitRouterAttachmentId")), Table: tid,
					Propagation: kind.propagation, Status: str(dig(l, "Status"))})
			}
		}
	}
	for _, a := range v.Attachments {
		for _, l := range v.Links {
			if !l.Propagation && l.Attachment == str(a["TransitRouterAttachmentId"]) {
				a["Table"] = l.Table
			}
		}
		if a["Kind"] == "VPN" && str(a["VpnOwnerId"]) == q.s.id.AccountID {
			// The tunnel's state is the connection owner's to see.
			if vco, err := q.cl.get(q.ctx, vpc.Version, "DescribeVpnConnection", map[string]string{"RegionId": str(a["VpnRegionId"]), "VpnConnectionId": str(a["VpnId"])}); err == nil {
				a["Tunnel"] = vco["Status"]
			}
		}
	}
	return v, nil
}

// Transit router page: Intra-region Connections, Route Tables and the topology.
func (c *Console) trPage(q *req) {
	c.renderTR(q, c.newPage(q, "", "cens"), http.StatusOK)
}

func (c *Console) renderTR(q *req, p *page, status int) {
	id := q.r.PathValue("tr")
	tr, err := c.tr(q, id)
	if err != nil {
		c.apiError(q, p, err)
		return
	}
	p.Title = "Transit router " + id
	p.D["TR"] = tr
	v, err := c.loadTR(q, id)
	if err != nil {
		_, p.Error = fieldErrors(err, nil)
	}
	p.D["Attachments"], p.D["Tables"] = v.Attachments, v.Tables
	p.D["Topology"] = topology(tr, v)
	tab := q.r.URL.Query().Get("tab")
	if tab != "tables" {
		tab = "connections"
	}
	p.D["Tab"] = tab
	c.render(q.w, q.r, "tr", status, p)
}

func (c *Console) createTable(q *req) {
	f := q.r.PostForm
	id := q.r.PathValue("tr")
	out, err := q.cl.get(q.ctx, cbn.Version, "CreateTransitRouterRouteTable", map[string]string{"TransitRouterId": id,
		"TransitRouterRouteTableName": f.Get("TransitRouterRouteTableName"), "TransitRouterRouteTableDescription": f.Get("TransitRouterRouteTableDescription")})
	if err != nil {
		p := c.retry(q, "cens", err)
		q.r.URL.RawQuery = "tab=tables"
		c.renderTR(q, p, http.StatusBadRequest)
		return
	}
	done(q, "/console/trs/"+id+"?tab=tables", "Creating route table "+str(out["TransitRouterRouteTableId"])+".")
}

// connectionDefaults are the form's initial values: the product page's preselected values
// (sent explicitly, so the API's documented defaults never apply to a console
// connection), and the three advanced options checked.
func connectionDefaults(region string) url.Values {
	ike, ipsec, hc := model.PageIke(), model.PageIpsec(), model.DefaultHealthCheck()
	return url.Values{
		"RegionId": {region}, "ResourceOwner": {"current"}, "Resource": {"create"}, "NetworkType": {"public"},
		"RoutingMode": {connect.DestinationRouting}, "EffectImmediately": {"false"},
		"IkeConfig.IkeVersion": {ike.IkeVersion}, "IkeConfig.IkeMode": {ike.IkeMode}, "IkeConfig.IkeEncAlg": {ike.IkeEncAlg},
		"IkeConfig.IkeAuthAlg": {ike.IkeAuthAlg}, "IkeConfig.IkePfs": {ike.IkePfs}, "IkeConfig.IkeLifetime": {strconv.FormatInt(ike.IkeLifetime, 10)},
		"IpsecConfig.IpsecEncAlg": {ipsec.IpsecEncAlg}, "IpsecConfig.IpsecAuthAlg": {ipsec.IpsecAuthAlg}, "IpsecConfig.IpsecPfs": {ipsec.IpsecPfs},
		"IpsecConfig.IpsecLifetime": {strconv.FormatInt(ipsec.IpsecLifetime, 10)},
		"EnableDpd":                 {"on"}, "EnableNatTraversal": {"on"},
		"BgpConfig.LocalAsn":         {strconv.Itoa(model.DefaultLocalASN)},
		"HealthCheckConfig.Interval": {strconv.FormatInt(hc.Interval, 10)}, "HealthCheckConfig.Retry": {strconv.FormatInt(hc.Retry, 10)},
		"SwitchRoute":             {"on"},
		"AutoPublishRouteEnabled": {"on"}, "AutoAssociate": {"on"}, "AutoPropagate": {"on"},
	}
}

// vpnFromForm reads the "Create Resource" fields (also the VPN console's create and edit).
func vpnFromForm(f url.Values) connect.VPN {
	on := func(k string) bool { return f.Get(k) == "on" }
	v := connect.VPN{Region: f.Get("RegionId"), Name: f.Get("Name"), NetworkType: f.Get("NetworkType"), CustomerGatewayID: f.Get("CustomerGatewayId"),
		RoutingMode: f.Get("RoutingMode"), ApplyImmediately: f.Get("EffectImmediately") == "true", Dpd: on("EnableDpd"), NatTraversal: on("EnableNatTraversal"),
		Psk: f.Get("IkeConfig.Psk"), IkeVersion: f.Get("IkeConfig.IkeVersion"), IkeMode: f.Get("IkeConfig.IkeMode"), IkeEncAlg: f.Get("IkeConfig.IkeEncAlg"),
		IkeAuthAlg: f.Get("IkeConfig.IkeAuthAlg"), IkePfs: f.Get("IkeConfig.IkePfs"), IkeLifetime: strings.TrimSpace(f.Get("IkeConfig.IkeLifetime")),
		LocalID: strings.TrimSpace(f.Get("IkeConfig.LocalId")), RemoteID: strings.TrimSpace(f.Get("IkeConfig.RemoteId")),
		IpsecEncAlg: f.Get("IpsecConfig.IpsecEncAlg"), IpsecAuthAlg: f.Get("IpsecConfig.IpsecAuthAlg"), IpsecPfs: f.Get("IpsecConfig.IpsecPfs"),
		IpsecLifetime: strings.TrimSpace(f.Get("IpsecConfig.IpsecLifetime")),
		Bgp:           on("BgpConfig.EnableBgp"), TunnelCidr: strings.TrimSpace(f.Get("BgpConfig.TunnelCidr")), LocalBgpIP: strings.TrimSpace(f.Get("BgpConfig.LocalBgpIp")),
		LocalAsn:    strings.TrimSpace(f.Get("BgpConfig.LocalAsn")),
		HealthCheck: on("HealthCheckConfig.Enable"), HcDip: strings.TrimSpace(f.Get("HealthCheckConfig.Dip")), HcSip: strings.TrimSpace(f.Get("HealthCheckConfig.Sip")),
		HcInterval: strings.TrimSpace(f.Get("HealthCheckConfig.Interval")), HcRetry: strings.TrimSpace(f.Get("HealthCheckConfig.Retry")), SwitchRoute: on("SwitchRoute"),
		Tags: formTags(f),
	}
	if v.RoutingMode == connect.FlowProtection {
		v.LocalCidrs, v.PeerCidrs = strings.TrimSpace(f.Get("LocalSubnet")), strings.TrimSpace(f.Get("RemoteSubnet"))
	}
	return v
}

func formTags(f url.Values) []model.Tag {
	var tags []model.Tag
	for i := 1; i <= tagRows; i++ {
		k, v := f.Get(tagKey(i)), f.Get(tagValue(i))
		if k != "" || v != "" {
			tags = append(tags, model.Tag{Key: k, Value: v})
		}
	}
	return tags
}

// The "Connection with Peer Network Instance" page.
func (c *Console) connectPage(q *req) {
	p := c.newPage(q, "", "cens")
	c.renderConnect(q, p, http.StatusOK)
}

func (c *Console) renderConnect(q *req, p *page, status int) {
	id := q.r.PathValue("tr")
	tr, err := c.tr(q, id)
	if err != nil {
		c.apiError(q, p, err)
		return
	}
	region := str(tr["RegionId"])
	p.Title = "Connection with Peer Network Instance"
	p.Region = region
	p.D["TR"] = tr
	if len(p.Form) == 0 {
		p.Form = connectionDefaults(region)
		p.Form.Set("TransitRouterId", id)
	}
	trs, err := pageAll(q.ctx, q.cl, cbn.Version, "ListTransitRouters", map[string]string{"CenId": str(tr["CenId"])}, "TransitRouters")
	if err != nil {
		_, p.Error = fieldErrors(err, nil)
	}
	p.D["TRs"] = trs
	c.fillVpnChoices(q, p, region)
	vcos, err := pageAll(q.ctx, q.cl, vpc.Version, "DescribeVpnConnections", map[string]string{"RegionId": region}, "VpnConnections", "VpnConnection")
	if err != nil {
		_, p.Error = fieldErrors(err, nil)
	}
	var free []any
	for _, v := range vcos {
		if str(dig(v, "TransitRouterId")) == "" {
			free = append(free, v)
		}
	}
	p.D["FreeVcos"] = free
	if acct, err := q.cl.get(q.ctx, admin.Version, "DescribeAccount", nil); err == nil {
		roles, _ := acct["ServiceLinkedRoles"].([]any)
		p.D["RoleExists"] = false
		for _, r := range roles {
			if r == service.ServiceRoleVpn {
				p.D["RoleExists"] = true
			}
		}
	}
	p.D["Role"] = service.ServiceRoleVpn
	c.render(q.w, q.r, "connect", status, p)
}

// fillVpnChoices loads the region's zones and customer gateways for the connection forms.
func (c *Console) fillVpnChoices(q *req, p *page, region string) {
	for _, r := range c.regions {
		if r.ID == region {
			p.D["Zones"] = r.Zones
		}
	}
	cgws, err := pageAll(q.ctx, q.cl, vpc.Version, "DescribeCustomerGateways", map[string]string{"RegionId": region}, "CustomerGateways", "CustomerGateway")
	if err != nil {
		_, p.Error = fieldErrors(err, nil)
	}
	p.D["CGWs"] = cgws
}

func (c *Console) connect(q *req) {
	f := q.r.PostForm
	fail := func(err error) {
		var orphan *connect.OrphanError
		if errors.As(err, &orphan) {
			c.log.Error("console: a refused attachment left its new connection", "vpn_connection", orphan.VpnConnectionID, "account", q.s.id.AccountID, "err", orphan.Undo)
		}
		c.renderConnect(q, c.retry(q, "cens", err), http.StatusBadRequest)
	}
	trID := f.Get("TransitRouterId")
	if trID == "" {
		trID = q.r.PathValue("tr")
	}
	att := connect.Attachment{Region: f.Get("RegionId"), TransitRouterID: trID, Name: f.Get("TransitRouterAttachmentName"),
		Zone: f.Get("ZoneId"), Tags: formTags(f)}
	sync := f.Get("AutoPublishRouteEnabled") == "on"
	att.RouteSync = &sync
	switch f.Get("ResourceOwner") {
	case "current":
	case "other":
		att.VpnOwnerID = strings.TrimSpace(f.Get("VpnOwnerId"))
		if att.VpnOwnerID == "" {
			fail(&connect.FieldError{Field: "VpnOwnerId", Message: "Enter the ID of the account that owns the IPsec-VPN connection."})
			return
		}
	default:
		fail(apierr.New("InvalidParameter", "Resource Owner ID must be Current Account or Different Account."))
		return
	}
	if r := f.Get("Resource"); r != "create" && r != "select" {
		fail(apierr.New("InvalidParameter", "Individual Resource must be Create Resource or Select Resource."))
		return
	}
	var vpn *connect.VPN
	switch {
	case f.Get("Resource") == "select" || att.VpnOwnerID != "":
		// Another account's connection can only be selected: it was created (and granted) there.
		att.VpnID = strings.TrimSpace(f.Get("VpnId"))
		if att.VpnID == "" {
			fail(&connect.FieldError{Field: "VpnId", Message: "Select (or, for a different account, enter) the IPsec-VPN connection to attach."})
			return
		}
	default:
		v := vpnFromForm(f)
		v.Name = att.Name
		vpn = &v
	}
	att.Advanced = connect.Advanced{Associate: f.Get("AutoAssociate") == "on", Propagate: f.Get("AutoPropagate") == "on"}
	created, err := connect.Attach(q.ctx, q.cl, vpn, att)
	if err != nil {
		fail(err)
		return
	}
	c.jobs.start(c.ctx, caller{c: c, id: q.s.id, keyID: q.s.keyID}, trID, created.AttachmentID, att.Advanced)
	msg := "Attaching " + created.VpnConnectionID + " as " + created.AttachmentID + "."
	if created.VpnCreated {
		msg = "Created IPsec-VPN connection " + created.VpnConnectionID + "; attaching it as " + created.AttachmentID + "."
	}
	done(q, "/console/trs/"+trID+"/attachments/"+created.AttachmentID, msg)
}

// Attachment Details panel (Intra-region Connections -> connection ID).
func (c *Console) attachmentPage(q *req) {
	c.renderAttachment(q, c.newPage(q, "", "cens"), http.StatusOK)
}

func (c *Console) renderAttachment(q *req, p *page, status int) {
	trID, attID := q.r.PathValue("tr"), q.r.PathValue("att")
	tr, err := c.tr(q, trID)
	if err != nil {
		c.apiError(q, p, err)
		return
	}
	v, err := c.loadTR(q, trID)
	if err != nil {
		c.apiError(q, p, err)
		return
	}
	var att map[string]any
	for _, a := range v.Attachments {
		if str(a["TransitRouterAttachmentId"]) == attID {
			att = a
		}
	}
	if att == nil {
		c.apiError(q, p, apierr.New("InvalidTransitRouterAttachmentId.NotFound", "The attachment %s is not a connection of %s.", attID, trID))
		return
	}
	p.Title = "Attachment " + attID
	p.D["TR"], p.D["Att"], p.D["Tables"] = tr, att, v.Tables
	var props []string
	for _, l := range v.Links {
		if l.Propagation && l.Attachment == attID {
			props = append(props, l.Table)
		}
	}
	p.D["Propagations"] = props
	if j, ok := c.jobs.get(attID); ok {
		p.D["Job"] = j
	}
	p.D["Dialog"] = q.r.URL.Query().Get("dialog") == "table"
	if len(p.Form) == 0 {
		p.Form.Set("TransitRouterRouteTableId", str(att["Table"]))
	}
	c.render(q.w, q.r, "attachment", status, p)
}

// modifyTable is the "Modify Route Table" dialog's OK.
func (c *Console) modifyTable(q *req) {
	trID, attID := q.r.PathValue("tr"), q.r.PathValue("att")
	table := q.r.PostForm.Get("TransitRouterRouteTableId")
	if err := connect.Associate(q.ctx, q.cl, attID, table); err != nil {
		p := c.retry(q, "cens", err)
		q.r.URL.RawQuery = "dialog=table"
		c.renderAttachment(q, p, http.StatusBadRequest)
		return
	}
	done(q, "/console/trs/"+trID+"/attachments/"+attID, "Associated "+attID+" with route table "+table+".")
}

// Route table page: entries, static/blackhole entry creation, associations, propagations.
func (c *Console) tablePage(q *req) {
	c.renderTable(q, c.newPage(q, "", "cens"), http.StatusOK)
}

func (c *Console) renderTable(q *req, p *page, status int) {
	id := q.r.PathValue("table")
	tables, err := listAll(q.ctx, q.cl, cbn.Version, "ListTransitRouterRouteTables", "TransitRouterRouteTables", map[string]string{"TransitRouterRouteTableIds.1": id})
	if err == nil && len(tables) == 0 {
		err = apierr.New("InvalidTransitRouterRouteTableId.NotFound", "The route table %s does not exist in your account.", id)
	}
	if err != nil {
		c.apiError(q, p, err)
		return
	}
	table, _ := tables[0].(map[string]any)
	p.Title = "Route table " + id
	p.D["Table"] = table
	entries, err := listAll(q.ctx, q.cl, cbn.Version, "ListTransitRouterRouteEntries", "TransitRouterRouteEntries", map[string]string{"TransitRouterRouteTableId": id, "TransitRouterRouteEntryStatus": "All"})
	if err != nil {
		_, p.Error = fieldErrors(err, nil)
	}
	p.D["Entries"] = entries
	for key, action := range map[string]string{"Associations": "ListTransitRouterRouteTableAssociations", "Propagations": "ListTransitRouterRouteTablePropagations"} {
		links, err := listAll(q.ctx, q.cl, cbn.Version, action, "TransitRouter"+key, map[string]string{"TransitRouterRouteTableId": id})
		if err != nil {
			_, p.Error = fieldErrors(err, nil)
		}
		p.D[key] = links
	}
	v, err := c.loadTR(q, str(table["TransitRouterId"]))
	if err != nil {
		_, p.Error = fieldErrors(err, nil)
	}
	p.D["Attachments"] = v.Attachments
	if len(p.Form) == 0 {
		p.Form.Set("TransitRouterRouteEntryNextHopType", "Attachment")
	}
	c.render(q.w, q.r, "table", status, p)
}

func (c *Console) createEntry(q *req) {
	f := q.r.PostForm
	id := q.r.PathValue("table")
	params := map[string]string{"TransitRouterRouteTableId": id, "TransitRouterRouteEntryDestinationCidrBlock": strings.TrimSpace(f.Get("TransitRouterRouteEntryDestinationCidrBlock")),
		"TransitRouterRouteEntryNextHopType": f.Get("TransitRouterRouteEntryNextHopType"), "TransitRouterRouteEntryName": f.Get("TransitRouterRouteEntryName")}
	if params["TransitRouterRouteEntryNextHopType"] == "Attachment" {
		params["TransitRouterRouteEntryNextHopId"] = f.Get("TransitRouterRouteEntryNextHopId")
	}
	out, err := q.cl.get(q.ctx, cbn.Version, "CreateTransitRouterRouteEntry", params)
	if err != nil {
		c.renderTable(q, c.retry(q, "cens", err), http.StatusBadRequest)
		return
	}
	done(q, "/console/tables/"+id, "Created route entry "+str(out["TransitRouterRouteEntryId"])+".")
}

func (c *Console) deleteEntry(q *req) {
	id := q.r.PathValue("table")
	if err := q.cl.Call(q.ctx, cbn.Version, "DeleteTransitRouterRouteEntry", map[string]string{"TransitRouterRouteEntryId": q.r.PathValue("id")}, nil); err != nil {
		p := c.newPage(q, "", "cens")
		_, p.Error = fieldErrors(err, nil) // a row's action: no form to show again
		c.renderTable(q, p, http.StatusBadRequest)
		return
	}
	done(q, "/console/tables/"+id, "Deleting route entry "+q.r.PathValue("id")+".")
}

// setPropagation enables (the form) or disables (a row's button) an attachment's
// propagation into the table.
func (c *Console) setPropagation(q *req) {
	f := q.r.PostForm
	id, att := q.r.PathValue("table"), f.Get("TransitRouterAttachmentId")
	var action, msg string
	switch f.Get("Op") {
	case "enable":
		action, msg = "EnableTransitRouterRouteTablePropagation", "Enabling propagation of "+att+"."
	case "disable":
		action, msg = "DisableTransitRouterRouteTablePropagation", "Disabling propagation of "+att+"."
	default:
		c.renderTable(q, c.retry(q, "cens", apierr.New("InvalidParameter", "Op must be enable or disable.")), http.StatusBadRequest)
		return
	}
	err := q.cl.Call(q.ctx, cbn.Version, action, map[string]string{"TransitRouterRouteTableId": id, "TransitRouterAttachmentId": att}, nil)
	if err != nil {
		p := c.newPage(q, "", "cens")
		if f.Get("Op") == "enable" {
			p = c.retry(q, "cens", err)
		} else {
			_, p.Error = fieldErrors(err, nil)
		}
		c.renderTable(q, p, http.StatusBadRequest)
		return
	}
	done(q, "/console/tables/"+id, msg)
}
