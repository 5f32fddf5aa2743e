package vpc

import (
	"context"

	"opencen/internal/api"
	"opencen/internal/rpc"
	"opencen/internal/service"
)

// networkActions are the parts of the VPC product needed to attach a VPC.
func (h handlers) networkActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"CreateVpc":         h.createVpc,
		"DescribeVpcs":      h.describeVpcs,
		"DeleteVpc":         h.deleteVpc,
		"CreateVSwitch":     h.createVSwitch,
		"DescribeVSwitches": h.describeVSwitches,
		"DeleteVSwitch":     h.deleteVSwitch,
		// VPN-side routes of IPsec-VPN connections.
		"CreateVcoRouteEntry":     h.createVcoRoute,
		"DeleteVcoRouteEntry":     h.deleteVcoRoute,
		"DescribeVcoRouteEntries": h.describeVcoRoutes,
	}
}

// isoTime is the VPC product's CreationTime format.
const isoTime = "2006-01-02T15:04:05Z"

func (h handlers) createVpc(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	dry, err := api.DryRun(p)
	if err != nil {
		return nil, err
	}
	id, err := h.svc.CreateVpc(ctx, api.Caller(r), p["RegionId"], p["CidrBlock"], p["VpcName"], p["Description"], p["ClientToken"], dry)
	if err != nil {
		return nil, err
	}
	return rpc.Object{"VpcId": id, "VRouterId": "", "RouteTableId": "", "ResourceGroupId": service.DefaultResourceGroup(r.Identity.AccountID)}, nil
}

func (h handlers) describeVpcs(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	pg, err := api.PageParams(p, 10, 50)
	if err != nil {
		return nil, err
	}
	all, err := h.svc.DescribeVpcs(ctx, api.Caller(r), p["RegionId"], p["VpcId"], p["VpcName"])
	if err != nil {
		return nil, err
	}
	sws, err := h.svc.DescribeVSwitches(ctx, api.Caller(r), p["RegionId"], "", "", "")
	if err != nil {
		return nil, err
	}
	items := []rpc.Object{}
	for _, v := range api.PageOf(all, pg) {
		ids := []string{}
		for _, sw := range sws {
			if sw.VpcID == v.ID {
				ids = append(ids, sw.ID)
			}
		}
		items = append(items, rpc.Object{"VpcId": v.ID, "VpcName": v.Name, "Description": v.Description, "CidrBlock": v.CidrBlock,
			"RegionId": v.Region, "Status": v.Status, "CreationTime": v.Created.UTC().Format(isoTime), "IsDefault": false,
			"OwnerId": api.AliUID(v.Owner), "ResourceGroupId": service.DefaultResourceGroup(v.Owner), "VSwitchIds": rpc.Object{"VSwitchId": ids},
			"Tags": tagWrapper(v.Tags)})
	}
	return rpc.Object{"PageNumber": pg.Number, "PageSize": pg.Size, "TotalCount": len(all), "Vpcs": rpc.Object{"Vpc": items}}, nil
}

func (h handlers) deleteVpc(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	return rpc.Object{}, h.svc.DeleteVpc(ctx, api.Caller(r), r.Params["RegionId"], r.Params["VpcId"])
}

func (h handlers) createVSwitch(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	id, err := h.svc.CreateVSwitch(ctx, api.Caller(r), p["RegionId"], p["VpcId"], p["ZoneId"], p["CidrBlock"], p["VSwitchName"], p["Description"], p["ClientToken"])
	if err != nil {
		return nil, err
	}
	return rpc.Object{"VSwitchId": id}, nil
}

func (h handlers) describeVSwitches(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	pg, err := api.PageParams(p, 10, 50)
	if err != nil {
		return nil, err
	}
	all, err := h.svc.DescribeVSwitches(ctx, api.Caller(r), p["RegionId"], p["VpcId"], p["VSwitchId"], p["ZoneId"])
	if err != nil {
		return nil, err
	}
	items := []rpc.Object{}
	for _, sw := range api.PageOf(all, pg) {
		items = append(items, rpc.Object{"VSwitchId": sw.ID, "VSwitchName": sw.Name, "Description": sw.Description, "VpcId": sw.VpcID,
			"ZoneId": sw.ZoneID, "CidrBlock": sw.CidrBlock, "Status": sw.Status, "CreationTime": sw.Created.UTC().Format(isoTime),
			"IsDefault": false, "OwnerId": api.AliUID(sw.Owner), "ResourceGroupId": service.DefaultResourceGroup(sw.Owner), "Tags": tagWrapper(sw.Tags)})
	}
	return rpc.Object{"PageNumber": pg.Number, "PageSize": pg.Size, "TotalCount": len(all), "VSwitches": rpc.Object{"VSwitch": items}}, nil
}

func (h handlers) deleteVSwitch(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	return rpc.Object{}, h.svc.DeleteVSwitch(ctx, api.Caller(r), r.Params["RegionId"], r.Params["VSwitchId"])
}
