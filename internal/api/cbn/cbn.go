// Package cbn serves the Cbn 2017-09-12 actions: decode parameters, call the service, encode Alibaba's shapes.
package cbn

import (
	"context"

	"opencen/internal/api"
	"opencen/internal/apierr"
	"opencen/internal/model"
	"opencen/internal/rpc"
	"opencen/internal/service"
)

// Version is the Cbn API version served.
const Version = "2017-09-12"

type handlers struct{ svc *service.Service }

// Product returns the Cbn product with its actions.
func Product(svc *service.Service) *rpc.Product {
	h := handlers{svc}
	p := &rpc.Product{Name: "Cbn", Version: Version, Host: "cbn.aliyuncs.com", Actions: map[string]rpc.Handler{
		"CreateCen":               h.createCen,
		"DescribeCens":            h.describeCens,
		"ModifyCenAttribute":      h.modifyCen,
		"DeleteCen":               h.deleteCen,
		"CreateTransitRouter":     h.createTR,
		"ListTransitRouters":      h.listTRs,
		"UpdateTransitRouter":     h.updateTR,
		"DeleteTransitRouter":     h.deleteTR,
		"CreateTransitRouterCidr": h.createCidr,
		"ListTransitRouterCidr":   h.listCidr,
		"DeleteTransitRouterCidr": h.deleteCidr,
		"ModifyTransitRouterCidr": h.modifyCidr,
		// Terraform's alicloud_cen_transit_router_available_resources.
		"ListTransitRouterAvailableResource": h.availableResource,
	}}
	for _, set := range []map[string]rpc.Handler{h.vpnActions(), h.routeActions()} {
		for name, a := range set {
			p.Actions[name] = a
		}
	}
	p.Actions["TagResources"], p.Actions["UntagResources"], p.Actions["ListTagResources"] = api.TagActions(svc, "Cbn")
	p.Actions["MoveResourceGroup"] = api.MoveResourceGroup(svc, "Cbn")
	p.Cacheable = map[string]bool{"DescribeCens": true, "ListTransitRouters": true, "ListTransitRouterCidr": true, "ListTagResources": true,
		"ListTransitRouterVpnAttachments": true, "DescribeGrantRulesToResource": true, "DescribeCenRouteMaps": true, "ListTransitRouterCidrAllocation": true,
		"ListTransitRouterRouteTables": true, "ListTransitRouterRouteTableAssociations": true, "ListTransitRouterRouteTablePropagations": true,
		"ListTransitRouterRouteEntries": true, "ListTransitRouterVpcAttachments": true, "ListTransitRouterAvailableResource": true}
	// Learned routes and health verdicts change the computed route tables.
	p.Observes = map[string]bool{"ListTransitRouterRouteEntries": true}
	return p
}

func (h handlers) createCen(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	tags, _, err := api.Tags(p)
	if err != nil {
		return nil, err
	}
	dry, err := api.DryRun(p)
	if err != nil {
		return nil, err
	}
	id, err := h.svc.CreateCen(ctx, api.Caller(r), service.CreateCenInput{
		Name: p["Name"], Description: p["Description"], ProtectionLevel: p["ProtectionLevel"],
		Tags: tags, ClientToken: p["ClientToken"], DryRun: dry,
	})
	if err != nil {
		return nil, err
	}
	return rpc.Object{"CenId": id}, nil
}

func (h handlers) describeCens(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	pg, err := api.PageParams(p, 10, 50)
	if err != nil {
		return nil, err
	}
	var f service.CenFilter
	filters, err := p.Objects("Filter")
	if err != nil {
		return nil, err
	}
	if len(filters) > 5 {
		return nil, apierr.Invalid("Filter", "At most 5 filters may be given; got %d.", len(filters))
	}
	for i, o := range filters {
		values, err := o.List("Value")
		if err != nil {
			return nil, err
		}
		if err := api.MaxItems(api.Indexed("Filter", i+1, "Value"), values, 5); err != nil {
			return nil, err
		}
		switch o.Get("Key") {
		case "CenId":
			f.IDs = append(f.IDs, values...)
		case "Name":
			f.Names = append(f.Names, values...)
		default:
			return nil, apierr.Invalid(api.Indexed("Filter", i+1, "Key"), "Filter key %q is not supported; use CenId or Name.", o.Get("Key"))
		}
	}
	if f.Tags, _, err = api.Tags(p); err != nil {
		return nil, err
	}
	cens, err := h.svc.DescribeCens(ctx, api.Caller(r), f)
	if err != nil {
		return nil, err
	}
	items := []rpc.Object{}
	for _, c := range api.PageOf(cens, pg) {
		items = append(items, rpc.Object{
			"CenId": c.ID, "Name": c.Name, "Description": c.Description, "Status": c.Status,
			"CreationTime": model.CBNTime(c.Created), "ProtectionLevel": c.ProtectionLevel, "Ipv6Level": "DISABLED",
			"ResourceGroupId":        service.DefaultResourceGroup(c.Owner),
			"CenBandwidthPackageIds": rpc.Object{"CenBandwidthPackageId": []string{}},
			"Tags":                   rpc.Object{"Tag": api.TagList(c.Tags)},
		})
	}
	return rpc.Object{"PageNumber": pg.Number, "PageSize": pg.Size, "TotalCount": len(cens), "Cens": rpc.Object{"Cen": items}}, nil
}

func (h handlers) modifyCen(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	err := h.svc.ModifyCenAttribute(ctx, api.Caller(r), service.ModifyCenInput{
		CenID: p["CenId"], Name: api.Opt(p, "Name"), Description: api.Opt(p, "Description"), ProtectionLevel: api.Opt(p, "ProtectionLevel"),
	})
	return rpc.Object{}, err
}

func (h handlers) deleteCen(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	return rpc.Object{}, h.svc.DeleteCen(ctx, api.Caller(r), r.Params["CenId"])
}

func (h handlers) createTR(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	tags, _, err := api.Tags(p)
	if err != nil {
		return nil, err
	}
	dry, err := api.DryRun(p)
	if err != nil {
		return nil, err
	}
	multicast, _, err := p.Bool("SupportMulticast")
	if err != nil {
		return nil, err
	}
	// The new SDK sends TransitRouterCidrList as a JSON array, older clients flattened.
	list, err := p.Objects("TransitRouterCidrList")
	if err != nil {
		return nil, err
	}
	cidrs := make([]service.CidrInput, 0, len(list))
	for _, o := range list {
		c := service.CidrInput{Cidr: o.Get("Cidr"), Name: o.Get("Name"), Description: o.Get("Description")}
		if v, set, err := o.Bool("PublishCidrRoute"); err != nil {
			return nil, err
		} else if set {
			c.PublishCidrRoute = &v
		}
		cidrs = append(cidrs, c)
	}
	id, err := h.svc.CreateTransitRouter(ctx, api.Caller(r), service.CreateTransitRouterInput{
		CenID: p["CenId"], RegionID: p["RegionId"], Name: p["TransitRouterName"], Description: p["TransitRouterDescription"],
		SupportMulticast: multicast, Tags: tags, Cidrs: cidrs, ClientToken: p["ClientToken"], DryRun: dry,
	})
	if err != nil {
		return nil, err
	}
	return rpc.Object{"TransitRouterId": id}, nil
}

func (h handlers) listTRs(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	pg, err := api.PageParams(p, 10, 50)
	if err != nil {
		return nil, err
	}
	f := service.TRFilter{CenID: p["CenId"], RegionID: p["RegionId"], ID: p["TransitRouterId"], Name: p["TransitRouterName"], Status: p["Status"], Type: p["Type"]}
	if f.Type != "" && f.Type != "Enterprise" && f.Type != "Basic" {
		return nil, apierr.Invalid("Type", "Type must be Enterprise or Basic; got %q.", f.Type)
	}
	features, err := p.Objects("FeatureFilter")
	if err != nil {
		return nil, err
	}
	for i, o := range features {
		if o.Get("Key") != "Multicast" {
			return nil, apierr.Invalid(api.Indexed("FeatureFilter", i+1, "Key"), "FeatureFilter key %q is not supported; use Multicast.", o.Get("Key"))
		}
		values, err := o.List("Value")
		if err != nil {
			return nil, err
		}
		for j, v := range values {
			switch v {
			case "Enabled":
				f.Multicast = append(f.Multicast, true)
			case "Disabled":
				f.Multicast = append(f.Multicast, false)
			default:
				return nil, apierr.Invalid(api.Indexed("FeatureFilter", i+1, api.Indexed("Value", j+1, "")), "FeatureFilter value %q must be Enabled or Disabled.", v)
			}
		}
	}
	if f.Tags, _, err = api.Tags(p); err != nil {
		return nil, err
	}
	trs, err := h.svc.ListTransitRouters(ctx, api.Caller(r), f)
	if err != nil {
		return nil, err
	}
	items := []rpc.Object{}
	for _, tr := range api.PageOf(trs, pg) {
		cidrs := []rpc.Object{}
		for _, c := range tr.Cidrs {
			cidrs = append(cidrs, rpc.Object{"TransitRouterCidrId": c.ID, "Cidr": c.Cidr, "Name": c.Name, "Description": c.Description, "PublishCidrRoute": c.PublishCidrRoute})
		}
		items = append(items, rpc.Object{
			"TransitRouterId": tr.ID, "TransitRouterName": tr.Name, "TransitRouterDescription": tr.Description,
			"CenId": tr.CenID, "RegionId": tr.Region, "AliUid": api.AliUID(tr.Owner), "CreationTime": model.CBNTime(tr.Created),
			"Status": tr.Status, "Type": tr.Type, "SupportMulticast": tr.SupportMulticast,
			"Tags": api.TagList(tr.Tags), "TransitRouterCidrList": cidrs,
		})
	}
	return rpc.Object{"PageNumber": pg.Number, "PageSize": pg.Size, "TotalCount": len(trs), "TransitRouters": items}, nil
}

func (h handlers) updateTR(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	dry, err := api.DryRun(p)
	if err != nil {
		return nil, err
	}
	return rpc.Object{}, h.svc.UpdateTransitRouter(ctx, api.Caller(r), service.UpdateTransitRouterInput{
		ID: p["TransitRouterId"], Name: api.Opt(p, "TransitRouterName"), Description: api.Opt(p, "TransitRouterDescription"), DryRun: dry,
	})
}

func (h handlers) deleteTR(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	dry, err := api.DryRun(r.Params)
	if err != nil {
		return nil, err
	}
	return rpc.Object{}, h.svc.DeleteTransitRouter(ctx, api.Caller(r), r.Params["TransitRouterId"], dry)
}

// cidrFlags reads what CreateTransitRouterCidr and ModifyTransitRouterCidr share besides
// the block: DryRun and PublishCidrRoute.
func cidrFlags(p rpc.Params) (dry bool, publish *bool, err error) {
	if dry, err = api.DryRun(p); err != nil {
		return false, nil, err
	}
	publish, err = api.Bool(p, "PublishCidrRoute")
	return dry, publish, err
}

func (h handlers) createCidr(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	dry, publish, err := cidrFlags(p)
	if err != nil {
		return nil, err
	}
	id, err := h.svc.CreateTransitRouterCidr(ctx, api.Caller(r), service.CreateTransitRouterCidrInput{
		TransitRouterID: p["TransitRouterId"], RegionID: p["RegionId"],
		CidrInput:   service.CidrInput{Cidr: p["Cidr"], Name: p["Name"], Description: p["Description"], PublishCidrRoute: publish},
		ClientToken: p["ClientToken"], DryRun: dry,
	})
	if err != nil {
		return nil, err
	}
	return rpc.Object{"TransitRouterCidrId": id}, nil
}

func (h handlers) listCidr(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	cidrs, err := h.svc.ListTransitRouterCidr(ctx, api.Caller(r), p["TransitRouterId"], p["RegionId"], p["TransitRouterCidrId"])
	if err != nil {
		return nil, err
	}
	items := []rpc.Object{}
	for _, c := range cidrs {
		items = append(items, rpc.Object{"TransitRouterCidrId": c.ID, "TransitRouterId": c.TransitRouterID, "Cidr": c.Cidr, "Name": c.Name,
			"Description": c.Description, "PublishCidrRoute": c.PublishCidrRoute, "Family": "IPv4"})
	}
	return rpc.Object{"CidrLists": items}, nil
}

func (h handlers) deleteCidr(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	dry, err := api.DryRun(p)
	if err != nil {
		return nil, err
	}
	return rpc.Object{}, h.svc.DeleteTransitRouterCidr(ctx, api.Caller(r), p["TransitRouterId"], p["RegionId"], p["TransitRouterCidrId"], dry)
}

func (h handlers) modifyCidr(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	dry, publish, err := cidrFlags(p)
	if err != nil {
		return nil, err
	}
	if err := service.CheckClientToken(p["ClientToken"]); err != nil {
		return nil, err
	}
	return rpc.Object{}, h.svc.ModifyTransitRouterCidr(ctx, api.Caller(r), service.ModifyTransitRouterCidrInput{
		TransitRouterID: p["TransitRouterId"], RegionID: p["RegionId"], ID: p["TransitRouterCidrId"], Cidr: api.Opt(p, "Cidr"),
		Name: api.Opt(p, "Name"), Description: api.Opt(p, "Description"), PublishCidrRoute: publish, DryRun: dry,
	})
}

// availableResource serves ListTransitRouterAvailableResource: every zone of the region can
// take a transit router's attachments, as primary or secondary zone. Multicast is not
// offered, so asking for multicast zones finds none (the SDK's way of saying so).
func (h handlers) availableResource(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	multicast, _, err := p.Bool("SupportMulticast")
	if err != nil {
		return nil, err
	}
	zones, err := h.svc.Zones("RegionId", p["RegionId"])
	if err != nil {
		return nil, err
	}
	if multicast || zones == nil {
		zones = []string{}
	}
	return rpc.Object{"AvailableZones": zones, "MasterZones": zones, "SlaveZones": zones, "SupportMulticast": false}, nil
}
