package vpc

import (
	"context"
	"strconv"
	"strings"

	"opencen/internal/api"
	"opencen/internal/apierr"
	"opencen/internal/model"
	"opencen/internal/rpc"
	"opencen/internal/service"
)

func vcoRouteInput(r *rpc.Request) (service.VcoRouteInput, error) {
	p := r.Params
	in := service.VcoRouteInput{RegionID: p["RegionId"], VpnConnectionID: p["VpnConnectionId"], RouteDest: p["RouteDest"], NextHop: p["NextHop"],
		OverlayMode: p["OverlayMode"], Description: p["Description"], ClientToken: p["ClientToken"]}
	var err error
	if in.Weight, _, err = p.Int("Weight", -1<<31, 1<<31); err != nil {
		return in, err
	}
	in.DryRun, err = api.DryRun(p)
	return in, err
}

func (h handlers) createVcoRoute(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	in, err := vcoRouteInput(r)
	if err != nil {
		return nil, err
	}
	return rpc.Object{}, h.svc.CreateVcoRouteEntry(ctx, api.Caller(r), in)
}

func (h handlers) deleteVcoRoute(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	in, err := vcoRouteInput(r)
	if err != nil {
		return nil, err
	}
	return rpc.Object{}, h.svc.DeleteVcoRouteEntry(ctx, api.Caller(r), in)
}

// describeVcoRoutes: custom = VPN-side static routes; bgp = routes advertised to the
// customer by route synchronization (Source CLOUD) and learned from it (Source VPN_BGP).
func (h handlers) describeVcoRoutes(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	pg, err := api.PageParams(p, 10, 50)
	if err != nil {
		return nil, err
	}
	kind := p["RouteEntryType"]
	if kind == "" {
		kind = "custom"
	}
	var items []rpc.Object
	switch kind {
	case "custom":
		routes, err := h.svc.VcoRoutes(ctx, api.Caller(r), p["RegionId"], p["VpnConnectionId"])
		if err != nil {
			return nil, err
		}
		for _, rt := range routes {
			items = append(items, rpc.Object{"VpnConnectionId": rt.VpnConnectionID, "RouteDest": rt.RouteDest, "NextHop": rt.NextHop,
				"Weight": rt.Weight, "State": "published", "Source": "CUSTOM", "RouteEntryType": "custom", "AsPath": "", "Community": "",
				"NextHopTunnelIdList": []string{}, "CreateTime": model.VPCTime(rt.Created)})
		}
	case "bgp":
		adv, learned, err := h.svc.VpnAdvertised(ctx, api.Caller(r), p["RegionId"], p["VpnConnectionId"])
		if err != nil {
			return nil, err
		}
		for _, e := range adv {
			items = append(items, rpc.Object{"VpnConnectionId": p["VpnConnectionId"], "RouteDest": e.Prefix.String(), "NextHop": p["VpnConnectionId"],
				"Weight": 0, "State": "published", "Source": "CLOUD", "RouteEntryType": "bgp", "AsPath": asPath(e.Path.AsPath),
				"Community": strings.Join(e.Path.Communities, " "), "NextHopTunnelIdList": []string{}})
		}
		for _, l := range learned {
			items = append(items, rpc.Object{"VpnConnectionId": p["VpnConnectionId"], "RouteDest": l.Prefix, "NextHop": p["VpnConnectionId"],
				"Weight": 0, "State": "Active", "Source": "VPN_BGP", "RouteEntryType": "bgp", "AsPath": asPath(l.AsPath),
				"Community": strings.Join(l.Communities, " "), "NextHopTunnelIdList": []string{}})
		}
	default:
		return nil, apierr.Invalid("RouteEntryType", "RouteEntryType must be custom or bgp; got %q.", kind)
	}
	page := api.PageOf(items, pg)
	if page == nil {
		page = []rpc.Object{}
	}
	return rpc.Object{"PageNumber": pg.Number, "PageSize": pg.Size, "TotalCount": len(items), "VcoRouteEntries": page,
		"VpnRouteCounts": []rpc.Object{{"RouteEntryType": kind, "RouteCount": len(items), "Source": ""}}}, nil
}

func asPath(p []uint32) string {
	parts := make([]string, len(p))
	for i, a := range p {
		parts[i] = strconv.FormatUint(uint64(a), 10)
	}
	return strings.Join(parts, " ")
}

func (h handlers) modifyVcoRouteWeight(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	in := service.VcoRouteWeightInput{RegionID: p["RegionId"], VpnConnectionID: p["VpnConnectionId"], RouteDest: p["RouteDest"],
		NextHop: p["NextHop"], OverlayMode: p["OverlayMode"]}
	for _, w := range []struct {
		name string
		dst  **int64
	}{{"Weight", &in.Weight}, {"NewWeight", &in.NewWeight}} {
		v, set, err := p.Int(w.name, 0, 100)
		if err != nil {
			return nil, err
		}
		if set {
			*w.dst = &v
		}
	}
	if err := service.CheckClientToken(p["ClientToken"]); err != nil {
		return nil, err
	}
	return rpc.Object{}, h.svc.ModifyVcoRouteEntryWeight(ctx, api.Caller(r), in)
}
