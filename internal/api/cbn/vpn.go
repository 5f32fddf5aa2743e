package cbn

import (
	"context"
	"strconv"

	"opencen/internal/api"
	"opencen/internal/apierr"
	"opencen/internal/model"
	"opencen/internal/rpc"
	"opencen/internal/service"
)

// vpnActions are the transit-router VPN attachment, grant and routing-policy actions.
func (h handlers) vpnActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"CreateTransitRouterVpnAttachment":          h.createVpnAttachment,
		"ListTransitRouterVpnAttachments":           h.listVpnAttachments,
		"UpdateTransitRouterVpnAttachmentAttribute": h.updateVpnAttachment,
		"DeleteTransitRouterVpnAttachment":          h.deleteVpnAttachment,
		"GrantInstanceToTransitRouter":              h.grant,
		"RevokeInstanceFromTransitRouter":           h.revoke,
		"DescribeGrantRulesToResource":              h.grantRules,
		"DescribeCenRouteMaps":                      h.describeRouteMaps,
		"ListTransitRouterCidrAllocation":           h.listCidrAllocation,
		"ModifyGrantInstanceToTransitRouter":        h.modifyGrant,
	}
}

func (h handlers) createVpnAttachment(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	dry, err := api.DryRun(p)
	if err != nil {
		return nil, err
	}
	auto, err := api.Bool(p, "AutoPublishRouteEnabled")
	if err != nil {
		return nil, err
	}
	links, err := api.SystemLinks(p)
	if err != nil {
		return nil, err
	}
	zoneItems, err := p.Objects("Zone")
	if err != nil {
		return nil, err
	}
	var zones []string
	for _, z := range zoneItems {
		zones = append(zones, z.Get("ZoneId"))
	}
	tags, _, err := api.Tags(p)
	if err != nil {
		return nil, err
	}
	id, err := h.svc.CreateTransitRouterVpnAttachment(ctx, api.Caller(r), service.CreateTRVpnAttachmentInput{
		RegionID: p["RegionId"], TransitRouterID: p["TransitRouterId"], CenID: p["CenId"], VpnID: p["VpnId"], VpnOwnerID: p["VpnOwnerId"],
		AutoPublishRouteEnabled: auto, SystemLinks: links, ChargeType: p["ChargeType"], Name: p["TransitRouterAttachmentName"],
		Description: p["TransitRouterAttachmentDescription"], Zones: zones, Tags: tags, ClientToken: p["ClientToken"], DryRun: dry,
	})
	if err != nil {
		return nil, err
	}
	return rpc.Object{"TransitRouterAttachmentId": id}, nil
}

func (h handlers) listVpnAttachments(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	tp, err := api.TokenParams(p, "MaxResults", 20, 100)
	if err != nil {
		return nil, err
	}
	tags, _, err := api.Tags(p)
	if err != nil {
		return nil, err
	}
	all, err := h.svc.ListTransitRouterVpnAttachments(ctx, api.Caller(r), service.VpnAttachmentFilter{
		Region: p["RegionId"], CenID: p["CenId"], TransitRouterID: p["TransitRouterId"], ID: p["TransitRouterAttachmentId"], Tags: tags,
	})
	if err != nil {
		return nil, err
	}
	page, next := api.TokenPageOf(all, tp)
	items := []rpc.Object{}
	for _, a := range page {
		zones := []rpc.Object{}
		for _, z := range a.Zones {
			zones = append(zones, rpc.Object{"ZoneId": z})
		}
		items = append(items, rpc.Object{
			"TransitRouterAttachmentId": a.ID, "TransitRouterAttachmentName": a.Name, "TransitRouterAttachmentDescription": a.Description,
			"TransitRouterId": a.TransitRouterID, "CenId": a.CenID, "VpnId": a.VpnID, "VpnOwnerId": api.AliUID(a.VpnOwner), "VpnRegionId": a.Region,
			"ResourceType": "VPN", "ChargeType": a.ChargeType, "OrderType": a.OrderType, "AutoPublishRouteEnabled": a.AutoPublishRouteEnabled,
			"Status": a.Status, "CreationTime": model.CBNTime(a.Created), "Tags": api.TagList(a.Tags), "Zones": zones,
		})
	}
	return rpc.Object{"TotalCount": len(all), "MaxResults": tp.Max, "NextToken": next, "TransitRouterAttachments": items}, nil
}

func (h handlers) updateVpnAttachment(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	in, err := updateAttachmentInput(r.Params)
	if err != nil {
		return nil, err
	}
	return rpc.Object{}, h.svc.UpdateTransitRouterVpnAttachmentAttribute(ctx, api.Caller(r), in)
}

// updateAttachmentInput reads what UpdateTransitRouter{Vpn,Vpc}AttachmentAttribute change.
func updateAttachmentInput(p rpc.Params) (service.UpdateAttachmentInput, error) {
	in := service.UpdateAttachmentInput{ID: p["TransitRouterAttachmentId"], Name: api.Opt(p, "TransitRouterAttachmentName"),
		Description: api.Opt(p, "TransitRouterAttachmentDescription"), OrderType: api.Opt(p, "OrderType")}
	var err error
	if in.DryRun, err = api.DryRun(p); err != nil {
		return in, err
	}
	if in.AutoPublishRouteEnabled, err = api.Bool(p, "AutoPublishRouteEnabled"); err != nil {
		return in, err
	}
	return in, service.CheckClientToken(p["ClientToken"])
}

func (h handlers) deleteVpnAttachment(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	dry, err := api.DryRun(p)
	if err != nil {
		return nil, err
	}
	force, _, err := p.Bool("Force")
	if err != nil {
		return nil, err
	}
	return rpc.Object{}, h.svc.DeleteTransitRouterVpnAttachment(ctx, api.Caller(r), p["TransitRouterAttachmentId"], force, dry)
}

func grantInput(p rpc.Params) service.GrantInput {
	return service.GrantInput{CenID: p["CenId"], CenOwnerID: p["CenOwnerId"], InstanceID: p["InstanceId"], InstanceType: p["InstanceType"],
		RegionID: p["RegionId"], OrderType: p["OrderType"], ClientToken: p["ClientToken"]}
}

func (h handlers) grant(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	return rpc.Object{}, h.svc.GrantInstanceToTransitRouter(ctx, api.Caller(r), grantInput(r.Params))
}

func (h handlers) revoke(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	return rpc.Object{}, h.svc.RevokeInstanceFromTransitRouter(ctx, api.Caller(r), grantInput(r.Params))
}

func (h handlers) grantRules(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	tp, err := api.TokenParams(p, "MaxResults", 20, 100)
	if err != nil {
		return nil, err
	}
	all, err := h.svc.DescribeGrantRulesToResource(ctx, api.Caller(r), p["ProductType"], p["ResourceId"], p["RegionId"])
	if err != nil {
		return nil, err
	}
	page, next := api.TokenPageOf(all, tp)
	items := []rpc.Object{}
	for _, g := range page {
		items = append(items, rpc.Object{"CenId": g.CenID, "CenOwnerId": api.AliUID(g.CenOwner), "OrderType": g.OrderType,
			"EffectiveOrderType": g.OrderType, "CreateTime": model.CBNTime(g.Created)})
	}
	return rpc.Object{"TotalCount": len(all), "MaxResults": tp.Max, "NextToken": next, "GrantRules": items}, nil
}

// wrap renders a list as the older Describe APIs do: {"<item>": [...]}.
func wrap[T any](item string, v []T) rpc.Object {
	if v == nil {
		v = []T{}
	}
	return rpc.Object{item: v}
}

func (h handlers) describeRouteMaps(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	pg, err := api.PageParams(p, 10, 50)
	if err != nil {
		return nil, err
	}
	all, err := h.svc.DescribeCenRouteMaps(ctx, api.Caller(r), service.RouteMapFilter{
		CenID: p["CenId"], RegionID: p["CenRegionId"], ID: p["RouteMapId"], RouteTableID: p["TransitRouterRouteTableId"], Direction: p["TransmitDirection"],
	})
	if err != nil {
		return nil, err
	}
	items := []rpc.Object{}
	for _, m := range api.PageOf(all, pg) {
		items = append(items, rpc.Object{
			"RouteMapId": m.ID, "CenId": m.CenID, "CenRegionId": m.Region, "TransitRouterRouteTableId": m.RouteTableID,
			"TransmitDirection": m.TransmitDirection, "Priority": m.Priority, "MapResult": m.MapResult, "NextPriority": m.NextPriority,
			"Description": m.Description, "Status": m.Status, "Preference": m.Preference,
			// OpenCEN extension: system policies can be neither modified nor deleted.
			"System":                        m.System,
			"SourceInstanceIdsReverseMatch": m.SourceInstanceIDsReverseMatch, "DestinationInstanceIdsReverseMatch": m.DestinationInstanceIDsReverseMatch,
			"CidrMatchMode": m.CidrMatchMode, "AsPathMatchMode": m.AsPathMatchMode, "CommunityMatchMode": m.CommunityMatchMode,
			"CommunityOperateMode": m.CommunityOperateMode, "MatchAddressType": m.MatchAddressType,
			"SourceChildInstanceTypes":      wrap("SourceChildInstanceType", m.SourceChildInstanceTypes),
			"DestinationChildInstanceTypes": wrap("DestinationChildInstanceType", m.DestinationChildInstanceTypes),
			"SourceInstanceIds":             wrap("SourceInstanceId", m.SourceInstanceIDs),
			"DestinationInstanceIds":        wrap("DestinationInstanceId", m.DestinationInstanceIDs),
			"SourceRegionIds":               wrap("SourceRegionId", m.SourceRegionIDs),
			"DestinationRegionIds":          wrap("DestinationRegionId", m.DestinationRegionIDs),
			"SourceRouteTableIds":           wrap("SourceRouteTableId", m.SourceRouteTableIDs),
			"DestinationRouteTableIds":      wrap("DestinationRouteTableId", m.DestinationRouteTableIDs),
			"DestinationCidrBlocks":         wrap("DestinationCidrBlock", m.DestinationCidrBlocks),
			"RouteTypes":                    wrap("RouteType", m.RouteTypes),
			"MatchAsns":                     wrap("MatchAsn", asnStrings(m.MatchAsns)),
			"MatchCommunitySet":             wrap("MatchCommunity", m.MatchCommunitySet),
			"OperateCommunitySet":           wrap("OperateCommunity", m.OperateCommunitySet),
			"PrependAsPath":                 wrap("AsPath", asnStrings(m.PrependAsPath)),
		})
	}
	return rpc.Object{"PageNumber": pg.Number, "PageSize": pg.Size, "TotalCount": len(all), "RouteMaps": rpc.Object{"RouteMap": items}}, nil
}

func (h handlers) listCidrAllocation(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	tp, err := api.TokenParams(p, "MaxResults", 20, 100)
	if err != nil {
		return nil, err
	}
	if p["TransitRouterId"] == "" {
		return nil, apierr.Missing("TransitRouterId")
	}
	all, err := h.svc.ListTransitRouterCidrAllocation(ctx, api.Caller(r), p["TransitRouterId"], p["RegionId"], p["TransitRouterCidrId"], p["AttachmentId"])
	if err != nil {
		return nil, err
	}
	page, next := api.TokenPageOf(all, tp)
	items := []rpc.Object{}
	for _, a := range page {
		items = append(items, rpc.Object{"AllocatedCidrBlock": a.AllocatedCidrBlock, "AttachmentId": a.AttachmentID,
			"AttachmentName": a.AttachmentName, "Cidr": a.Cidr, "TransitRouterCidrId": a.CidrID})
	}
	return rpc.Object{"TotalCount": len(all), "MaxResults": tp.Max, "NextToken": next, "TransitRouterCidrAllocations": items}, nil
}

// asnStrings renders ASNs as the SDK models declare them (strings).
func asnStrings(asns []int64) []string {
	out := make([]string, len(asns))
	for i, a := range asns {
		out[i] = strconv.FormatInt(a, 10)
	}
	return out
}

func (h handlers) modifyGrant(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	if err := service.CheckClientToken(p["ClientToken"]); err != nil {
		return nil, err
	}
	return rpc.Object{}, h.svc.ModifyGrantInstanceToTransitRouter(ctx, api.Caller(r), p["CenId"], p["InstanceId"], p["OrderType"])
}
