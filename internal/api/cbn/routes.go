package cbn

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"opencen/internal/api"
	"opencen/internal/apierr"
	"opencen/internal/model"
	"opencen/internal/rpc"
	"opencen/internal/service"
)

// routeActions are the route-table, association, propagation, static-entry, routing-policy
// and VPC-attachment actions.
func (h handlers) routeActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"CreateTransitRouterRouteTable":                   h.createTable,
		"ListTransitRouterRouteTables":                    h.listTables,
		"UpdateTransitRouterRouteTable":                   h.updateTable,
		"DeleteTransitRouterRouteTable":                   h.deleteTable,
		"AssociateTransitRouterAttachmentWithRouteTable":  h.link((*service.Service).AssociateTransitRouterAttachmentWithRouteTable),
		"DissociateTransitRouterAttachmentFromRouteTable": h.link((*service.Service).DissociateTransitRouterAttachmentFromRouteTable),
		"ReplaceTransitRouterRouteTableAssociation":       h.link((*service.Service).ReplaceTransitRouterRouteTableAssociation),
		"EnableTransitRouterRouteTablePropagation":        h.link((*service.Service).EnableTransitRouterRouteTablePropagation),
		"DisableTransitRouterRouteTablePropagation":       h.link((*service.Service).DisableTransitRouterRouteTablePropagation),
		"ListTransitRouterRouteTableAssociations":         h.listLinks(model.KindAssociation, "TransitRouterAssociations", 50),
		"ListTransitRouterRouteTablePropagations":         h.listLinks(model.KindPropagation, "TransitRouterPropagations", 50),
		"CreateTransitRouterRouteEntry":                   h.createEntry,
		"DeleteTransitRouterRouteEntry":                   h.deleteEntry,
		"ListTransitRouterRouteEntries":                   h.listEntries,
		"CreateCenRouteMap":                               h.createRouteMap,
		"ModifyCenRouteMap":                               h.modifyRouteMap,
		"DeleteCenRouteMap":                               h.deleteRouteMap,
		"CreateTransitRouterVpcAttachment":                h.createVpcAttachment,
		"ListTransitRouterVpcAttachments":                 h.listVpcAttachments,
		"UpdateTransitRouterVpcAttachmentAttribute":       h.updateVpcAttachment,
		"UpdateTransitRouterVpcAttachmentZones":           h.updateVpcAttachmentZones,
		"DeleteTransitRouterVpcAttachment":                h.deleteVpcAttachment,
		"UpdateTransitRouterRouteEntry":                   h.updateEntry,
	}
}

func (h handlers) createTable(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	dry, err := api.DryRun(p)
	if err != nil {
		return nil, err
	}
	tags, _, err := api.Tags(p)
	if err != nil {
		return nil, err
	}
	id, err := h.svc.CreateTransitRouterRouteTable(ctx, api.Caller(r), service.CreateRouteTableInput{
		TransitRouterID: p["TransitRouterId"], Name: p["TransitRouterRouteTableName"], Description: p["TransitRouterRouteTableDescription"],
		MultiRegionECMP: p["RouteTableOptions.MultiRegionECMP"], Tags: tags, ClientToken: p["ClientToken"], DryRun: dry,
	})
	if err != nil {
		return nil, err
	}
	return rpc.Object{"TransitRouterRouteTableId": id}, nil
}

func (h handlers) listTables(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	tp, err := api.TokenParams(p, "MaxResults", 20, 100)
	if err != nil {
		return nil, err
	}
	var ids, names []string
	if err := api.ReadLists(p, api.ListParam{Name: "TransitRouterRouteTableIds", Dst: &ids}, api.ListParam{Name: "TransitRouterRouteTableNames", Dst: &names}); err != nil {
		return nil, err
	}
	if err := api.MaxItems("TransitRouterRouteTableIds", ids, 20); err != nil {
		return nil, err
	}
	if err := api.MaxItems("TransitRouterRouteTableNames", names, 20); err != nil {
		return nil, err
	}
	tags, _, err := api.Tags(p)
	if err != nil {
		return nil, err
	}
	all, err := h.svc.ListTransitRouterRouteTables(ctx, api.Caller(r), service.TableFilter{
		TransitRouterID: p["TransitRouterId"], Type: p["TransitRouterRouteTableType"], Status: p["TransitRouterRouteTableStatus"],
		MultiRegionECMP: p["RouteTableOptions.MultiRegionECMP"], IDs: ids, Names: names, Tags: tags,
	})
	if err != nil {
		return nil, err
	}
	page, next := api.TokenPageOf(all, tp)
	items := []rpc.Object{}
	for _, rt := range page {
		items = append(items, rpc.Object{
			"TransitRouterRouteTableId": rt.ID, "TransitRouterRouteTableName": rt.Name, "TransitRouterRouteTableDescription": rt.Description,
			"TransitRouterRouteTableType": rt.Type, "TransitRouterRouteTableStatus": rt.Status, "TransitRouterId": rt.TransitRouterID,
			"RegionId": rt.Region, "CreateTime": model.CBNTime(rt.Created), "RouteTableOptions": rpc.Object{"MultiRegionECMP": rt.MultiRegionECMP},
			"Tags": api.TagList(rt.Tags),
		})
	}
	return rpc.Object{"TotalCount": len(all), "MaxResults": tp.Max, "NextToken": next, "TransitRouterRouteTables": items}, nil
}

func (h handlers) updateTable(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	dry, err := api.DryRun(p)
	if err != nil {
		return nil, err
	}
	return rpc.Object{}, h.svc.UpdateTransitRouterRouteTable(ctx, api.Caller(r), service.UpdateRouteTableInput{
		ID: p["TransitRouterRouteTableId"], Name: api.Opt(p, "TransitRouterRouteTableName"), Description: api.Opt(p, "TransitRouterRouteTableDescription"),
		MultiRegionECMP: api.Opt(p, "RouteTableOptions.MultiRegionECMP"), DryRun: dry,
	})
}

func (h handlers) deleteTable(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	dry, err := api.DryRun(r.Params)
	if err != nil {
		return nil, err
	}
	return rpc.Object{}, h.svc.DeleteTransitRouterRouteTable(ctx, api.Caller(r), r.Params["TransitRouterRouteTableId"], dry)
}

// link serves the association and propagation mutations, which share their parameters.
func (h handlers) link(op func(*service.Service, context.Context, service.Caller, service.AssociationInput) error) rpc.Handler {
	return func(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
		p := r.Params
		dry, err := api.DryRun(p)
		if err != nil {
			return nil, err
		}
		return rpc.Object{}, op(h.svc, ctx, api.Caller(r), service.AssociationInput{AttachmentID: p["TransitRouterAttachmentId"], TableID: p["TransitRouterRouteTableId"], DryRun: dry})
	}
}

func (h handlers) listLinks(kind, listName string, def int) rpc.Handler {
	return func(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
		p := r.Params
		tp, err := api.TokenParams(p, "MaxResults", def, 100)
		if err != nil {
			return nil, err
		}
		if kind == model.KindPropagation && p["TransitRouterRouteTableId"] == "" {
			return nil, apierr.Missing("TransitRouterRouteTableId")
		}
		all, err := h.svc.ListLinks(ctx, api.Caller(r), kind, service.LinkFilter{
			TableID: p["TransitRouterRouteTableId"], AttachmentID: p["TransitRouterAttachmentId"], ResourceID: p["TransitRouterAttachmentResourceId"],
			ResourceType: p["TransitRouterAttachmentResourceType"], Status: p["Status"],
		})
		if err != nil {
			return nil, err
		}
		page, next := api.TokenPageOf(all, tp)
		items := []rpc.Object{}
		for _, l := range page {
			items = append(items, rpc.Object{"TransitRouterAttachmentId": l.AttachmentID, "TransitRouterRouteTableId": l.TableID,
				"ResourceId": l.ResourceID, "ResourceType": l.ResourceType, "Status": l.Status})
		}
		return rpc.Object{"TotalCount": len(all), "MaxResults": tp.Max, "NextToken": next, listName: items}, nil
	}
}

func (h handlers) createEntry(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	dry, err := api.DryRun(p)
	if err != nil {
		return nil, err
	}
	id, err := h.svc.CreateTransitRouterRouteEntry(ctx, api.Caller(r), service.CreateRouteEntryInput{
		TableID: p["TransitRouterRouteTableId"], Destination: p["TransitRouterRouteEntryDestinationCidrBlock"],
		NextHopType: p["TransitRouterRouteEntryNextHopType"], NextHopID: p["TransitRouterRouteEntryNextHopId"],
		Name: p["TransitRouterRouteEntryName"], Description: p["TransitRouterRouteEntryDescription"], ClientToken: p["ClientToken"], DryRun: dry,
	})
	if err != nil {
		return nil, err
	}
	return rpc.Object{"TransitRouterRouteEntryId": id}, nil
}

func (h handlers) deleteEntry(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	dry, err := api.DryRun(p)
	if err != nil {
		return nil, err
	}
	return rpc.Object{}, h.svc.DeleteTransitRouterRouteEntry(ctx, api.Caller(r), service.DeleteRouteEntryInput{
		ID: p["TransitRouterRouteEntryId"], TableID: p["TransitRouterRouteTableId"], Destination: p["TransitRouterRouteEntryDestinationCidrBlock"],
		NextHopType: p["TransitRouterRouteEntryNextHopType"], NextHopID: p["TransitRouterRouteEntryNextHopId"], DryRun: dry,
	})
}

// routeMapInput decodes CreateCenRouteMap / ModifyCenRouteMap parameters.
func routeMapInput(p rpc.Params) (service.RouteMapInput, error) {
	in := service.RouteMapInput{CenID: p["CenId"], RegionID: p["CenRegionId"], ID: p["RouteMapId"], TableID: p["TransitRouterRouteTableId"],
		Direction: p["TransmitDirection"], MapResult: p["MapResult"], Description: p["Description"], ClientToken: p["ClientToken"]}
	var err error
	if in.Priority, _, err = p.Int("Priority", -1<<31, 1<<31); err != nil {
		return in, err
	}
	if in.NextPriority, _, err = p.Int("NextPriority", 0, 1<<31); err != nil {
		return in, err
	}
	pref, _, err := p.Int("Preference", 0, 1<<31)
	if err != nil {
		return in, err
	}
	in.Action.Preference = int(pref)
	if in.DryRun, err = api.DryRun(p); err != nil {
		return in, err
	}
	m := &in.Match
	if err := api.ReadLists(p,
		api.ListParam{Name: "SourceInstanceIds", Dst: &m.SourceInstanceIDs}, api.ListParam{Name: "DestinationInstanceIds", Dst: &m.DestinationInstanceIDs},
		api.ListParam{Name: "SourceRegionIds", Dst: &m.SourceRegionIDs}, api.ListParam{Name: "DestinationRegionIds", Dst: &m.DestinationRegionIDs},
		api.ListParam{Name: "SourceRouteTableIds", Dst: &m.SourceRouteTableIDs}, api.ListParam{Name: "DestinationRouteTableIds", Dst: &m.DestinationRouteTableIDs},
		api.ListParam{Name: "SourceChildInstanceTypes", Dst: &m.SourceChildInstanceTypes},
		api.ListParam{Name: "DestinationChildInstanceTypes", Dst: &m.DestinationChildInstanceTypes},
		api.ListParam{Name: "RouteTypes", Dst: &m.RouteTypes}, api.ListParam{Name: "DestinationCidrBlocks", Dst: &m.DestinationCidrBlocks},
		api.ListParam{Name: "MatchCommunitySet", Dst: &m.MatchCommunitySet}, api.ListParam{Name: "OperateCommunitySet", Dst: &in.Action.OperateCommunitySet},
	); err != nil {
		return in, err
	}
	m.CidrMatchMode, m.AsPathMatchMode, m.CommunityMatchMode, m.MatchAddressType = p["CidrMatchMode"], p["AsPathMatchMode"], p["CommunityMatchMode"], p["MatchAddressType"]
	if v, _, err := p.Bool("SourceInstanceIdsReverseMatch"); err != nil {
		return in, err
	} else {
		m.SourceInstanceIDsReverseMatch = v
	}
	if v, _, err := p.Bool("DestinationInstanceIdsReverseMatch"); err != nil {
		return in, err
	} else {
		m.DestinationInstanceIDsReverseMatch = v
	}
	if m.MatchAsns, err = int64List(p, "MatchAsns"); err != nil {
		return in, err
	}
	if in.Action.PrependAsPath, err = int64List(p, "PrependAsPath"); err != nil {
		return in, err
	}
	in.Action.CommunityOperateMode = p["CommunityOperateMode"]
	return in, nil
}

func int64List(p rpc.Params, name string) ([]int64, error) {
	values, err := p.List(name)
	if err != nil {
		return nil, err
	}
	var out []int64
	for i, v := range values {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, apierr.Invalid(api.Indexed(name, i+1, ""), "%s.%d must be a number; got %q.", name, i+1, v)
		}
		out = append(out, n)
	}
	return out, nil
}

func (h handlers) createRouteMap(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	in, err := routeMapInput(r.Params)
	if err != nil {
		return nil, err
	}
	if _, ok := r.Params.Get("Priority"); !ok {
		return nil, apierr.Missing("Priority")
	}
	id, err := h.svc.CreateCenRouteMap(ctx, api.Caller(r), in)
	if err != nil {
		return nil, err
	}
	return rpc.Object{"RouteMapId": id}, nil
}

func (h handlers) modifyRouteMap(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	in, err := routeMapInput(r.Params)
	if err != nil {
		return nil, err
	}
	return rpc.Object{}, h.svc.ModifyCenRouteMap(ctx, api.Caller(r), in)
}

func (h handlers) deleteRouteMap(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	return rpc.Object{}, h.svc.DeleteCenRouteMap(ctx, api.Caller(r), p["CenId"], p["CenRegionId"], p["RouteMapId"])
}

func (h handlers) createVpcAttachment(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	dry, err := api.DryRun(p)
	if err != nil {
		return nil, err
	}
	links, err := api.SystemLinks(p)
	if err != nil {
		return nil, err
	}
	auto, _, err := p.Bool("AutoPublishRouteEnabled")
	if err != nil {
		return nil, err
	}
	if err := checkVpcAttachmentOptions(p); err != nil {
		return nil, err
	}
	if ct := p["ChargeType"]; ct != "" && ct != "POSTPAY" {
		return nil, apierr.Invalid("ChargeType", "ChargeType must be POSTPAY (pay-as-you-go); got %q.", ct)
	}
	if rt := p["ResourceType"]; rt != "" && rt != "VPC" {
		return nil, apierr.Invalid("ResourceType", "ResourceType must be VPC; got %q.", rt)
	}
	if owner := p["VpcOwnerId"]; owner != "" && owner != r.Identity.AccountID {
		return nil, apierr.Invalid("VpcOwnerId", "Attaching another account's VPC is not offered; leave VpcOwnerId out or give your own account ID (%s).", r.Identity.AccountID)
	}
	zones, err := zoneMappings(p, "ZoneMappings")
	if err != nil {
		return nil, err
	}
	tags, _, err := api.Tags(p)
	if err != nil {
		return nil, err
	}
	id, err := h.svc.CreateTransitRouterVpcAttachment(ctx, api.Caller(r), service.CreateVpcAttachmentInput{
		RegionID: p["RegionId"], TransitRouterID: p["TransitRouterId"], CenID: p["CenId"], VpcID: p["VpcId"],
		Name: p["TransitRouterAttachmentName"], Description: p["TransitRouterAttachmentDescription"], Zones: zones, SystemLinks: links, AutoPublishRouteEnabled: auto,
		Tags: tags, ClientToken: p["ClientToken"], DryRun: dry,
	})
	if err != nil {
		return nil, err
	}
	return rpc.Object{"TransitRouterAttachmentId": id}, nil
}

func (h handlers) listVpcAttachments(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	tp, err := api.TokenParams(p, "MaxResults", 20, 100)
	if err != nil {
		return nil, err
	}
	tags, _, err := api.Tags(p)
	if err != nil {
		return nil, err
	}
	all, err := h.svc.ListTransitRouterVpcAttachments(ctx, api.Caller(r), service.VpcAttachmentFilter{Region: p["RegionId"], CenID: p["CenId"],
		TransitRouterID: p["TransitRouterId"], ID: p["TransitRouterAttachmentId"], VpcID: p["VpcId"], Status: p["Status"], OrderType: p["OrderType"], Tags: tags})
	if err != nil {
		return nil, err
	}
	page, next := api.TokenPageOf(all, tp)
	items := []rpc.Object{}
	for _, a := range page {
		zones := []rpc.Object{}
		for _, z := range a.ZoneMappings {
			zones = append(zones, rpc.Object{"ZoneId": z.ZoneID, "VSwitchId": z.VSwitchID})
		}
		items = append(items, rpc.Object{"TransitRouterAttachmentId": a.ID, "TransitRouterAttachmentName": a.Name, "TransitRouterAttachmentDescription": a.Description,
			"TransitRouterId": a.TransitRouterID, "CenId": a.CenID, "VpcId": a.VpcID, "VpcOwnerId": api.AliUID(a.VpcOwner), "VpcRegionId": a.Region,
			"ResourceType": "VPC", "ChargeType": "POSTPAY", "Status": a.Status, "CreationTime": model.CBNTime(a.Created), "ZoneMappings": zones,
			"AutoPublishRouteEnabled": a.AutoPublishRouteEnabled, "OrderType": a.Payer(), "Tags": api.TagList(a.Tags)})
	}
	return rpc.Object{"TotalCount": len(all), "MaxResults": tp.Max, "NextToken": next, "TransitRouterAttachments": items}, nil
}

func (h handlers) deleteVpcAttachment(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	dry, err := api.DryRun(p)
	if err != nil {
		return nil, err
	}
	force, _, err := p.Bool("Force")
	if err != nil {
		return nil, err
	}
	return rpc.Object{}, h.svc.DeleteTransitRouterVpcAttachment(ctx, api.Caller(r), p["TransitRouterAttachmentId"], force, dry)
}

// zoneMappings reads a list of ZoneId / VSwitchId pairs (ZoneMappings, AddZoneMappings, ...).
func zoneMappings(p rpc.Params, name string) ([]model.ZoneMapping, error) {
	items, err := p.Objects(name)
	if err != nil {
		return nil, err
	}
	var zones []model.ZoneMapping
	for _, z := range items {
		zones = append(zones, model.ZoneMapping{ZoneID: z.Get("ZoneId"), VSwitchID: z.Get("VSwitchId")})
	}
	return zones, nil
}

// vpcAttachmentOptions are the features a VPC attachment's options may turn on; OpenCEN
// offers none of them, so only "disable" (or nothing) is accepted, never ignored.
var vpcAttachmentOptions = []string{"ipv6Support", "applianceModeSupport"}

// checkVpcAttachmentOptions reads TransitRouterVPCAttachmentOptions (a JSON object, or
// flattened .key) and Options ({"Ipv6Support":..,"ApplianceModeSupport":..}).
func checkVpcAttachmentOptions(p rpc.Params) error {
	for _, param := range []string{"TransitRouterVPCAttachmentOptions", "Options"} {
		opts := map[string]string{}
		if raw := strings.TrimSpace(p[param]); raw != "" {
			var m map[string]any
			if err := json.Unmarshal([]byte(raw), &m); err != nil {
				return apierr.Invalid(param, "%s must be a JSON object such as {\"ipv6Support\":\"disable\"}; got %q.", param, raw)
			}
			for k, v := range m {
				if v != nil {
					opts[k] = fmt.Sprint(v)
				}
			}
		}
		for k, v := range p.Sub(param) {
			opts[k] = v
		}
		for _, k := range slices.Sorted(maps.Keys(opts)) {
			v := opts[k]
			known := false
			for _, o := range vpcAttachmentOptions {
				known = known || strings.EqualFold(k, o)
			}
			if !known {
				return apierr.Invalid(param, "%s has an unknown option %q; the options are ipv6Support and applianceModeSupport.", param, k)
			}
			if v != "" && !strings.EqualFold(v, "disable") {
				return apierr.Invalid(param, "%s %s=%q asks for a feature OpenCEN does not offer; leave it out or set disable.", param, k, v)
			}
		}
	}
	return nil
}

func (h handlers) updateVpcAttachment(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	in, err := updateAttachmentInput(p)
	if err != nil {
		return nil, err
	}
	if err := checkVpcAttachmentOptions(p); err != nil {
		return nil, err
	}
	return rpc.Object{}, h.svc.UpdateTransitRouterVpcAttachmentAttribute(ctx, api.Caller(r), in)
}

func (h handlers) updateVpcAttachmentZones(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	dry, err := api.DryRun(p)
	if err != nil {
		return nil, err
	}
	if err := service.CheckClientToken(p["ClientToken"]); err != nil {
		return nil, err
	}
	in := service.UpdateVpcAttachmentZonesInput{ID: p["TransitRouterAttachmentId"], DryRun: dry}
	if in.Add, err = zoneMappings(p, "AddZoneMappings"); err != nil {
		return nil, err
	}
	if in.Remove, err = zoneMappings(p, "RemoveZoneMappings"); err != nil {
		return nil, err
	}
	return rpc.Object{}, h.svc.UpdateTransitRouterVpcAttachmentZones(ctx, api.Caller(r), in)
}

func (h handlers) updateEntry(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	dry, err := api.DryRun(p)
	if err != nil {
		return nil, err
	}
	return rpc.Object{}, h.svc.UpdateTransitRouterRouteEntry(ctx, api.Caller(r), service.UpdateRouteEntryInput{ID: p["TransitRouterRouteEntryId"],
		Name: api.Opt(p, "TransitRouterRouteEntryName"), Description: api.Opt(p, "TransitRouterRouteEntryDescription"), DryRun: dry})
}
