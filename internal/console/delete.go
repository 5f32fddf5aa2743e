package console

import (
	"net/http"
	"net/url"

	"opencen/internal/api/cbn"
	"opencen/internal/api/vpc"
)

// Deleting: every resource page has a "Delete…" disclosure whose form posts here. The API
// decides what may go (a CEN with transit routers, a table with associations, ...) and
// its message says what to remove first.

func (c *Console) deleteCen(q *req) {
	id := q.r.PathValue("cen")
	c.remove(q, cbn.Version, "DeleteCen", map[string]string{"CenId": id}, "/console/cens/"+id, "/console/cens", "Deleting CEN instance "+id+".")
}

func (c *Console) deleteTR(q *req) {
	id := q.r.PathValue("tr")
	tr, err := c.tr(q, id)
	if err != nil {
		c.apiError(q, c.newPage(q, "Delete transit router", "cens"), err)
		return
	}
	c.remove(q, cbn.Version, "DeleteTransitRouter", map[string]string{"TransitRouterId": id}, "/console/trs/"+id, "/console/cens/"+str(tr["CenId"]), "Deleting transit router "+id+".")
}

// deleteAttachment detaches a connection; Force also removes its associations,
// propagations and the static routes through it.
func (c *Console) deleteAttachment(q *req) {
	trID, attID := q.r.PathValue("tr"), q.r.PathValue("att")
	action := "DeleteTransitRouterVpnAttachment"
	if q.r.PostForm.Get("Kind") == "VPC" {
		action = "DeleteTransitRouterVpcAttachment"
	}
	params := map[string]string{"TransitRouterAttachmentId": attID}
	if q.r.PostForm.Get("Force") == "on" {
		params["Force"] = "true"
	}
	c.remove(q, cbn.Version, action, params, "/console/trs/"+trID+"/attachments/"+attID, "/console/trs/"+trID, "Deleting connection "+attID+".")
}

func (c *Console) deleteTable(q *req) {
	id := q.r.PathValue("table")
	c.remove(q, cbn.Version, "DeleteTransitRouterRouteTable", map[string]string{"TransitRouterRouteTableId": id}, "/console/tables/"+id,
		"/console/trs/"+q.r.PostForm.Get("TransitRouterId")+"?tab=tables", "Deleting route table "+id+".")
}

func (c *Console) deleteVco(q *req) {
	id, region := q.r.PathValue("id"), q.r.PostForm.Get("RegionId")
	c.remove(q, vpc.Version, "DeleteVpnAttachment", map[string]string{"RegionId": region, "VpnConnectionId": id},
		"/console/vpn/connections/"+id+"?"+url.Values{"region": {region}}.Encode(), "/console/vpn/connections?"+url.Values{"region": {region}}.Encode(), "Deleted IPsec-VPN connection "+id+".")
}

func (c *Console) deleteCGW(q *req) {
	id, region := q.r.PathValue("id"), q.r.PostForm.Get("RegionId")
	back := "/console/vpn/cgws?" + url.Values{"region": {region}}.Encode()
	c.remove(q, vpc.Version, "DeleteCustomerGateway", map[string]string{"RegionId": region, "CustomerGatewayId": id}, back, back, "Deleted customer gateway "+id+".")
}

// remove runs a delete action; on success it goes to next, otherwise it shows the API's
// reason with a way back.
func (c *Console) remove(q *req, version, action string, params map[string]string, back, next, msg string) {
	if err := q.cl.Call(q.ctx, version, action, params, nil); err != nil {
		p := c.newPage(q, "Not deleted", "")
		_, p.Error = fieldErrors(err, nil)
		p.D["Back"] = back
		c.render(q.w, q.r, "error", http.StatusBadRequest, p)
		return
	}
	done(q, next, msg)
}
