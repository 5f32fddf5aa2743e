package cbn

import (
	"context"
	"strings"

	"opencen/internal/api"
	"opencen/internal/apierr"
	"opencen/internal/model"
	"opencen/internal/rpc"
	"opencen/internal/service"
)

// peerActions are the inter-region connection and bandwidth package actions.
func (h handlers) peerActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"CreateTransitRouterPeerAttachment":          h.createPeer,
		"ListTransitRouterPeerAttachments":           h.listPeers,
		"UpdateTransitRouterPeerAttachmentAttribute": h.updatePeer,
		"DeleteTransitRouterPeerAttachment":          h.deletePeer,
		"CreateCenBandwidthPackage":                  h.createBwp,
		"DescribeCenBandwidthPackages":               h.describeBwps,
		"ModifyCenBandwidthPackageAttribute":         h.modifyBwp,
		"ModifyCenBandwidthPackageSpec":              h.modifyBwpSpec,
		"DeleteCenBandwidthPackage":                  h.deleteBwp,
		"AssociateCenBandwidthPackage":               h.associateBwp,
		"UnassociateCenBandwidthPackage":             h.unassociateBwp,
	}
}

// optInt reads an optional integer parameter.
func optInt(p rpc.Params, name string, min, max int64) (*int, error) {
	v, set, err := p.Int(name, min, max)
	if err != nil || !set {
		return nil, err
	}
	n := int(v)
	return &n, nil
}

func (h handlers) createPeer(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	dry, err := api.DryRun(p)
	if err != nil {
		return nil, err
	}
	auto, err := api.Bool(p, "AutoPublishRouteEnabled")
	if err != nil {
		return nil, err
	}
	bw, err := optInt(p, "Bandwidth", 0, service.MaxBandwidthMbps)
	if err != nil {
		return nil, err
	}
	links, err := api.SystemLinks(p)
	if err != nil {
		return nil, err
	}
	in := service.CreatePeerAttachmentInput{RegionID: p["RegionId"], TransitRouterID: p["TransitRouterId"], CenID: p["CenId"],
		PeerTransitRouterID: p["PeerTransitRouterId"], PeerRegionID: p["PeerTransitRouterRegionId"], Name: p["TransitRouterAttachmentName"],
		Description: p["TransitRouterAttachmentDescription"], AutoPublishRouteEnabled: auto, BandwidthType: p["BandwidthType"],
		CenBandwidthPackageID: p["CenBandwidthPackageId"], DefaultLinkType: p["DefaultLinkType"], ResourceType: p["ResourceType"],
		SystemLinks: links, ClientToken: p["ClientToken"], DryRun: dry}
	if bw != nil {
		in.Bandwidth = *bw
	}
	if in.Tags, _, err = api.Tags(p); err != nil {
		return nil, err
	}
	id, err := h.svc.CreateTransitRouterPeerAttachment(ctx, api.Caller(r), in)
	if err != nil {
		return nil, err
	}
	return rpc.Object{"TransitRouterAttachmentId": id}, nil
}

func (h handlers) listPeers(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	tp, err := api.TokenParams(p, "MaxResults", 20, 100)
	if err != nil {
		return nil, err
	}
	tags, _, err := api.Tags(p)
	if err != nil {
		return nil, err
	}
	all, err := h.svc.ListTransitRouterPeerAttachments(ctx, api.Caller(r), service.PeerAttachmentFilter{
		Region: p["RegionId"], CenID: p["CenId"], TransitRouterID: p["TransitRouterId"], ID: p["TransitRouterAttachmentId"], Tags: tags,
	})
	if err != nil {
		return nil, err
	}
	page, next := api.TokenPageOf(all, tp)
	items := []rpc.Object{}
	for _, a := range page {
		items = append(items, rpc.Object{
			"TransitRouterAttachmentId": a.ID, "TransitRouterAttachmentName": a.Name, "TransitRouterAttachmentDescription": a.Description,
			"TransitRouterId": a.Local, "RegionId": a.LocalRegion, "PeerTransitRouterId": a.Peer, "PeerTransitRouterRegionId": a.PeerRegion,
			"PeerTransitRouterOwnerId": api.AliUID(a.Owner), "CenId": a.CenID, "ResourceType": "TR", "Status": a.Status,
			"AutoPublishRouteEnabled": a.AutoPublishRouteEnabled, "Bandwidth": a.Bandwidth, "BandwidthType": a.BandwidthType,
			"CenBandwidthPackageId": a.CenBandwidthPackageID, "DefaultLinkType": a.DefaultLinkType, "GeographicSpanId": h.span(a.PeerAttachment),
			"CreationTime": model.CBNTime(a.Created), "Tags": api.TagList(a.Tags),
		})
	}
	return rpc.Object{"TotalCount": len(all), "MaxResults": tp.Max, "NextToken": next, "TransitRouterAttachments": items}, nil
}

// span names the areas a connection joins as the cloud does (china_china, china_europe).
func (h handlers) span(a *model.PeerAttachment) string {
	ra, _ := h.svc.Config().Region(a.Region)
	rb, _ := h.svc.Config().Region(a.PeerRegion)
	x, y := ra.Area(), rb.Area()
	if x > y {
		x, y = y, x
	}
	return strings.ReplaceAll(x, "-", "") + "_" + strings.ReplaceAll(y, "-", "")
}

func (h handlers) updatePeer(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	dry, err := api.DryRun(p)
	if err != nil {
		return nil, err
	}
	auto, err := api.Bool(p, "AutoPublishRouteEnabled")
	if err != nil {
		return nil, err
	}
	bw, err := optInt(p, "Bandwidth", 0, service.MaxBandwidthMbps)
	if err != nil {
		return nil, err
	}
	return rpc.Object{}, h.svc.UpdateTransitRouterPeerAttachmentAttribute(ctx, api.Caller(r), service.UpdatePeerAttachmentInput{
		ID: p["TransitRouterAttachmentId"], Name: api.Opt(p, "TransitRouterAttachmentName"), Description: api.Opt(p, "TransitRouterAttachmentDescription"),
		AutoPublishRouteEnabled: auto, Bandwidth: bw, BandwidthType: api.Opt(p, "BandwidthType"), CenBandwidthPackageID: api.Opt(p, "CenBandwidthPackageId"),
		DefaultLinkType: api.Opt(p, "DefaultLinkType"), DryRun: dry,
	})
}

func (h handlers) deletePeer(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	dry, err := api.DryRun(p)
	if err != nil {
		return nil, err
	}
	force, _, err := p.Bool("Force")
	if err != nil {
		return nil, err
	}
	return rpc.Object{}, h.svc.DeleteTransitRouterPeerAttachment(ctx, api.Caller(r), p["TransitRouterAttachmentId"], force, dry)
}

func (h handlers) createBwp(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	bw, set, err := p.Int("Bandwidth", 1, service.MaxBandwidthMbps)
	if err != nil {
		return nil, err
	}
	period, _, err := p.Int("Period", 1, 36)
	if err != nil {
		return nil, err
	}
	tags, _, err := api.Tags(p)
	if err != nil {
		return nil, err
	}
	id, err := h.svc.CreateCenBandwidthPackage(ctx, api.Caller(r), service.CreateBandwidthPackageInput{
		Bandwidth: int(bw), BandwidthSet: set, GeographyA: p["GeographicRegionAId"], GeographyB: p["GeographicRegionBId"],
		Name: p["Name"], Description: p["Description"], ChargeType: p["BandwidthPackageChargeType"], PricingCycle: p["PricingCycle"],
		Period: int(period), Tags: tags, ClientToken: p["ClientToken"],
	})
	if err != nil {
		return nil, err
	}
	// No order: OpenCEN bills nothing up front.
	return rpc.Object{"CenBandwidthPackageId": id, "CenBandwidthPackageOrderId": ""}, nil
}

// describeBwps spells areas as the cloud's DescribeCenBandwidthPackages does (lower case;
// Terraform maps them back).
func (h handlers) describeBwps(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	pg, err := api.PageParams(p, 10, 50)
	if err != nil {
		return nil, err
	}
	isOr, _, err := p.Bool("IsOrKey")
	if err != nil {
		return nil, err
	}
	f := service.BandwidthPackageFilter{Filters: map[string][]string{}, IsOrKey: isOr}
	filters, err := p.Objects("Filter")
	if err != nil {
		return nil, err
	}
	if len(filters) > 5 {
		return nil, apierr.Invalid("Filter", "At most 5 filters may be given; got %d.", len(filters))
	}
	for _, o := range filters {
		values, err := o.List("Value")
		if err != nil {
			return nil, err
		}
		f.Filters[o.Get("Key")] = append(f.Filters[o.Get("Key")], values...)
	}
	if f.Tags, _, err = api.Tags(p); err != nil {
		return nil, err
	}
	all, err := h.svc.DescribeCenBandwidthPackages(ctx, api.Caller(r), f)
	if err != nil {
		return nil, err
	}
	items := []rpc.Object{}
	for _, b := range api.PageOf(all, pg) {
		cens := []string{}
		if b.CenID != "" {
			cens = append(cens, b.CenID)
		}
		expires := ""
		if !b.Expires.IsZero() {
			expires = model.CBNTime(b.Expires)
		}
		items = append(items, rpc.Object{
			"CenBandwidthPackageId": b.ID, "Name": b.Name, "Description": b.Description, "Bandwidth": b.Bandwidth,
			"BandwidthPackageChargeType": b.ChargeType, "Status": b.Status, "BusinessStatus": "Normal",
			"GeographicRegionAId": b.GeographyA, "GeographicRegionBId": b.GeographyB,
			"GeographicSpanId": strings.ReplaceAll(b.GeographyA, "-", "") + "_" + strings.ReplaceAll(b.GeographyB, "-", ""),
			"IsCrossBorder":    b.GeographyA != b.GeographyB && (b.GeographyA == "china" || b.GeographyB == "china"),
			"CreationTime":     model.CBNTime(b.Created), "ExpiredTime": expires, "HasReservationData": "false",
			"ResourceGroupId": service.DefaultResourceGroup(b.Owner), "CenIds": rpc.Object{"CenId": cens},
			"OrginInterRegionBandwidthLimits": rpc.Object{"OrginInterRegionBandwidthLimit": []rpc.Object{}},
			"Tags":                            rpc.Object{"Tag": api.TagList(b.Tags)},
			// OpenCEN extension: what the inter-region connections take from it (Mbit/s).
			"AllocatedBandwidth": b.Allocated,
		})
	}
	return rpc.Object{"PageNumber": pg.Number, "PageSize": pg.Size, "TotalCount": len(all), "CenBandwidthPackages": rpc.Object{"CenBandwidthPackage": items}}, nil
}

func (h handlers) modifyBwp(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	return rpc.Object{}, h.svc.ModifyCenBandwidthPackageAttribute(ctx, api.Caller(r), p["CenBandwidthPackageId"], api.Opt(p, "Name"), api.Opt(p, "Description"))
}

func (h handlers) modifyBwpSpec(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	bw, set, err := p.Int("Bandwidth", 1, service.MaxBandwidthMbps)
	if err != nil {
		return nil, err
	}
	return rpc.Object{}, h.svc.ModifyCenBandwidthPackageSpec(ctx, api.Caller(r), p["CenBandwidthPackageId"], int(bw), set)
}

func (h handlers) deleteBwp(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	return rpc.Object{}, h.svc.DeleteCenBandwidthPackage(ctx, api.Caller(r), r.Params["CenBandwidthPackageId"])
}

func (h handlers) associateBwp(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	return rpc.Object{}, h.svc.AssociateCenBandwidthPackage(ctx, api.Caller(r), p["CenId"], p["CenBandwidthPackageId"])
}

func (h handlers) unassociateBwp(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	return rpc.Object{}, h.svc.UnassociateCenBandwidthPackage(ctx, api.Caller(r), p["CenId"], p["CenBandwidthPackageId"])
}
