package console

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"opencen/internal/api/cbn"
	"opencen/internal/apierr"
)

// Instances page: the CEN list and "Create CEN Instance".
func (c *Console) censPage(q *req) {
	p := c.newPage(q, "Instances", "cens")
	c.fillCens(q, p)
	c.render(q.w, q.r, "cens", http.StatusOK, p)
}

func (c *Console) fillCens(q *req, p *page) {
	cens, err := pageAll(q.ctx, q.cl, cbn.Version, "DescribeCens", nil, "Cens", "Cen")
	if err != nil {
		_, p.Error = fieldErrors(err, nil)
	}
	byField(cens, "CenId")
	p.D["Cens"] = cens
}

func (c *Console) createCen(q *req) {
	f := q.r.PostForm
	out, err := q.cl.get(q.ctx, cbn.Version, "CreateCen", map[string]string{"Name": f.Get("Name"), "Description": f.Get("Description")})
	if err != nil {
		p := c.retry(q, "cens", err)
		p.Title = "Instances"
		c.fillCens(q, p)
		c.render(q.w, q.r, "cens", http.StatusBadRequest, p)
		return
	}
	id := str(out["CenId"])
	done(q, "/console/cens/"+id, "Created CEN instance "+id+".")
}

// cen reads one CEN, or reports it as not found (also when it is another account's).
func (c *Console) cen(q *req, id string) (map[string]any, error) {
	cens, err := pageAll(q.ctx, q.cl, cbn.Version, "DescribeCens", map[string]string{"Filter.1.Key": "CenId", "Filter.1.Value.1": id}, "Cens", "Cen")
	if err != nil {
		return nil, err
	}
	if len(cens) == 0 {
		return nil, apierr.New("InvalidCenId.NotFound", "The CEN instance %s does not exist in your account.", id)
	}
	m, _ := cens[0].(map[string]any)
	return m, nil
}

// CEN page: Basic Settings with the Transit Router tab (default) or the Route Maps tab.
func (c *Console) cenPage(q *req) {
	c.renderCen(q, c.newPage(q, "", "cens"), http.StatusOK)
}

func (c *Console) renderCen(q *req, p *page, status int) {
	id := q.r.PathValue("cen")
	cen, err := c.cen(q, id)
	if err != nil {
		c.apiError(q, p, err)
		return
	}
	p.Title = "CEN " + id
	p.D["Cen"] = cen
	tab := q.r.URL.Query().Get("tab")
	if tab != "routemaps" {
		tab = "trs"
	}
	p.D["Tab"] = tab
	trs, err := pageAll(q.ctx, q.cl, cbn.Version, "ListTransitRouters", map[string]string{"CenId": id}, "TransitRouters")
	if err != nil {
		_, p.Error = fieldErrors(err, nil)
	}
	byField(trs, "RegionId")
	p.D["TRs"] = trs
	if tab == "routemaps" {
		maps, err := pageAll(q.ctx, q.cl, cbn.Version, "DescribeCenRouteMaps", map[string]string{"CenId": id}, "RouteMaps", "RouteMap")
		if err != nil {
			_, p.Error = fieldErrors(err, nil)
		}
		p.D["RouteMaps"] = maps
		var tables []any
		for _, tr := range trs {
			ts, err := listAll(q.ctx, q.cl, cbn.Version, "ListTransitRouterRouteTables", "TransitRouterRouteTables", map[string]string{"TransitRouterId": str(dig(tr, "TransitRouterId"))})
			if err != nil {
				_, p.Error = fieldErrors(err, nil)
			}
			tables = append(tables, ts...)
		}
		p.D["Tables"] = tables
		if len(p.Form) == 0 {
			p.Form.Set("TransmitDirection", "RegionIn")
			p.Form.Set("MapResult", "Permit")
			p.Form.Set("CidrMatchMode", "Include")
			p.Form.Set("AsPathMatchMode", "Include")
			p.Form.Set("CommunityMatchMode", "Include")
		}
	}
	c.render(q.w, q.r, "cen", status, p)
}

func (c *Console) createTR(q *req) {
	f := q.r.PostForm
	cen := q.r.PathValue("cen")
	out, err := q.cl.get(q.ctx, cbn.Version, "CreateTransitRouter", map[string]string{"CenId": cen, "RegionId": f.Get("RegionId"),
		"TransitRouterName": f.Get("TransitRouterName"), "TransitRouterDescription": f.Get("TransitRouterDescription")})
	if err != nil {
		c.renderCen(q, c.retry(q, "cens", err), http.StatusBadRequest)
		return
	}
	done(q, "/console/cens/"+cen, "Creating transit router "+str(out["TransitRouterId"])+".")
}

// routeMapLists are the route map's list parameters; the form takes each comma-separated.
var routeMapLists = []string{"SourceInstanceIds", "DestinationInstanceIds", "SourceRegionIds", "DestinationRegionIds",
	"SourceChildInstanceTypes", "DestinationChildInstanceTypes", "SourceRouteTableIds", "DestinationRouteTableIds",
	"RouteTypes", "DestinationCidrBlocks", "MatchAsns", "MatchCommunitySet", "PrependAsPath", "OperateCommunitySet"}

func (c *Console) createRouteMap(q *req) {
	f := q.r.PostForm
	cen := q.r.PathValue("cen")
	params := map[string]string{"CenId": cen}
	for _, k := range []string{"CenRegionId", "TransitRouterRouteTableId", "TransmitDirection", "Priority", "MapResult", "NextPriority",
		"Description", "Preference", "CidrMatchMode", "AsPathMatchMode", "CommunityMatchMode", "CommunityOperateMode"} {
		if v := strings.TrimSpace(f.Get(k)); v != "" {
			params[k] = v
		}
	}
	for _, k := range routeMapLists {
		n := 0
		for _, v := range strings.Split(f.Get(k), ",") {
			if v = strings.TrimSpace(v); v != "" {
				n++
				params[k+"."+strconv.Itoa(n)] = v
			}
		}
	}
	// Match modes only mean something with their list.
	for mode, lst := range map[string]string{"CidrMatchMode": "DestinationCidrBlocks", "AsPathMatchMode": "MatchAsns", "CommunityMatchMode": "MatchCommunitySet", "CommunityOperateMode": "OperateCommunitySet"} {
		if _, ok := params[lst+".1"]; !ok {
			delete(params, mode)
		}
	}
	out, err := q.cl.get(q.ctx, cbn.Version, "CreateCenRouteMap", params)
	if err != nil {
		p := c.retry(q, "cens", err)
		var e *apierr.Error
		if errors.As(err, &e) {
			// List errors name the element (MatchAsns.2); the form has one field per list.
			for _, k := range routeMapLists {
				if strings.HasPrefix(e.Param, k+".") {
					p.Errs, p.Error = map[string]string{k: e.Message + " (" + e.Code + ")"}, "Check the highlighted fields."
				}
			}
		}
		q.r.URL.RawQuery = "tab=routemaps"
		c.renderCen(q, p, http.StatusBadRequest)
		return
	}
	done(q, "/console/cens/"+cen+"?tab=routemaps", "Created routing policy "+str(out["RouteMapId"])+".")
}

func (c *Console) deleteRouteMap(q *req) {
	cen := q.r.PathValue("cen")
	err := q.cl.Call(q.ctx, cbn.Version, "DeleteCenRouteMap", map[string]string{"CenId": cen, "CenRegionId": q.r.PostForm.Get("CenRegionId"), "RouteMapId": q.r.PathValue("id")}, nil)
	if err != nil {
		p := c.newPage(q, "", "cens")
		_, p.Error = fieldErrors(err, nil) // a row's action: no form to show again
		q.r.URL.RawQuery = "tab=routemaps"
		c.renderCen(q, p, http.StatusBadRequest)
		return
	}
	done(q, "/console/cens/"+cen+"?tab=routemaps", "Deleted routing policy "+q.r.PathValue("id")+".")
}
