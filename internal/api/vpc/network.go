package vpc

import (
	"context"
	"net/netip"

	"opencen/internal/api"
	"opencen/internal/apierr"
	"opencen/internal/model"
	"opencen/internal/rpc"
	"opencen/internal/service"
)

// networkActions are the parts of the VPC product needed to attach a VPC.
func (h handlers) networkActions() map[string]rpc.Handler {
	return map[string]rpc.Handler{
		"CreateVpc":                 h.createVpc,
		"DescribeVpcs":              h.describeVpcs,
		"DescribeVpcAttribute":      h.describeVpcAttribute,
		"ModifyVpcAttribute":        h.modifyVpcAttribute,
		"DescribeRouteTableList":    h.describeRouteTableList,
		"DeleteVpc":                 h.deleteVpc,
		"CreateVSwitch":             h.createVSwitch,
		"DescribeVSwitches":         h.describeVSwitches,
		"DescribeVSwitchAttributes": h.describeVSwitchAttributes,
		"ModifyVSwitchAttribute":    h.modifyVSwitchAttribute,
		"DeleteVSwitch":             h.deleteVSwitch,
		// VPN-side routes of IPsec-VPN connections.
		"CreateVcoRouteEntry":       h.createVcoRoute,
		"DeleteVcoRouteEntry":       h.deleteVcoRoute,
		"DescribeVcoRouteEntries":   h.describeVcoRoutes,
		"ModifyVcoRouteEntryWeight": h.modifyVcoRouteWeight,
	}
}

// isoTime is the VPC product's CreationTime format.
const isoTime = "2006-01-02T15:04:05Z"

// Parameters of the VPC product that ask for what OpenCEN does not offer (IPv6, DNS
// hostnames, IPAM, user CIDRs): refused when given, never ignored.
var (
	createVpcUnsupported = []string{"EnableIpv6", "Ipv6CidrBlock", "Ipv6CidrMask", "Ipv6Isp", "Ipv6IpamPoolId", "Ipv4IpamPoolId",
		"Ipv4CidrMask", "UserCidr", "EnableDnsHostname"}
	modifyVpcUnsupported     = []string{"EnableIPv6", "Ipv6CidrBlock", "Ipv6Isp", "EnableDnsHostname"}
	createVSwitchUnsupported = []string{"Ipv6CidrBlock", "VpcIpv6CidrBlock"}
	modifyVSwitchUnsupported = []string{"EnableIPv6", "Ipv6CidrBlock", "VpcIpv6CidrBlock"}
)

func (h handlers) createVpc(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	if err := api.Unsupported(p, createVpcUnsupported...); err != nil {
		return nil, err
	}
	dry, err := api.DryRun(p)
	if err != nil {
		return nil, err
	}
	tags, _, err := api.Tags(p)
	if err != nil {
		return nil, err
	}
	v, err := h.svc.CreateVpc(ctx, api.Caller(r), service.CreateVpcInput{RegionID: p["RegionId"], CidrBlock: p["CidrBlock"], Name: p["VpcName"],
		Description: p["Description"], ResourceGroupID: p["ResourceGroupId"], Tags: tags, ClientToken: p["ClientToken"], DryRun: dry})
	if err != nil {
		return nil, err
	}
	router, table := v.Router()
	return rpc.Object{"VpcId": v.ID, "VRouterId": router, "RouteTableId": table, "ResourceGroupId": service.DefaultResourceGroup(v.Owner)}, nil
}

// vpcCommon are the fields DescribeVpcs items and DescribeVpcAttribute share.
func vpcCommon(v *model.VPC, vswitches []string) rpc.Object {
	router, _ := v.Router()
	if vswitches == nil {
		vswitches = []string{}
	}
	return rpc.Object{"VpcId": v.ID, "VpcName": v.Name, "Description": v.Description, "CidrBlock": v.CidrBlock, "RegionId": v.Region,
		"Status": v.Status, "CreationTime": v.Created.UTC().Format(isoTime), "IsDefault": false, "VRouterId": router,
		"ResourceGroupId": service.DefaultResourceGroup(v.Owner), "VSwitchIds": rpc.Object{"VSwitchId": vswitches},
		"DhcpOptionsSetId": "", "DhcpOptionsSetStatus": "", "DnsHostnameStatus": "DISABLED", "EnabledIpv6": false, "Ipv6CidrBlock": "",
		"Ipv6CidrBlocks": rpc.Object{"Ipv6CidrBlock": []rpc.Object{}}, "SecondaryCidrBlocks": rpc.Object{"SecondaryCidrBlock": []string{}},
		"UserCidrs": rpc.Object{"UserCidr": []string{}}, "Tags": tagWrapper(v.Tags)}
}

func (h handlers) describeVpcs(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	pg, tags, err := api.PageAndTags(p)
	if err != nil {
		return nil, err
	}
	isDefault, err := api.Bool(p, "IsDefault")
	if err != nil {
		return nil, err
	}
	all, err := h.svc.DescribeVpcs(ctx, api.Caller(r), service.VpcFilter{Region: p["RegionId"], ID: p["VpcId"], Name: p["VpcName"], Tags: tags})
	if err != nil {
		return nil, err
	}
	if isDefault != nil && *isDefault {
		all = nil // OpenCEN makes no default VPCs
	}
	sws, err := h.svc.DescribeVSwitches(ctx, api.Caller(r), service.VSwitchFilter{Region: p["RegionId"]})
	if err != nil {
		return nil, err
	}
	items := []rpc.Object{}
	for _, v := range api.PageOf(all, pg) {
		var ids []string
		for _, sw := range sws {
			if sw.VpcID == v.ID {
				ids = append(ids, sw.ID)
			}
		}
		o := vpcCommon(v, ids)
		_, table := v.Router()
		o["OwnerId"] = api.AliUID(v.Owner)
		o["CenStatus"] = ""
		o["RouterTableIds"] = rpc.Object{"RouterTableIds": []string{table}}
		o["NatGatewayIds"] = rpc.Object{"NatGatewayIds": []string{}}
		items = append(items, o)
	}
	return rpc.Object{"PageNumber": pg.Number, "PageSize": pg.Size, "TotalCount": len(all), "Vpcs": rpc.Object{"Vpc": items}}, nil
}

// describeVpcAttribute serves DescribeVpcAttribute, which Terraform's alicloud_vpc reads.
func (h handlers) describeVpcAttribute(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	dry, err := api.DryRun(p)
	if err != nil {
		return nil, err
	}
	isDefault, err := api.Bool(p, "IsDefault")
	if err != nil {
		return nil, err
	}
	if isDefault != nil && *isDefault {
		return nil, apierr.New("InvalidVpcId.NotFound", "The VPC %s is not a default VPC; OpenCEN makes none.", p["VpcId"])
	}
	v, err := h.svc.DescribeVpcAttribute(ctx, api.Caller(r), p["RegionId"], p["VpcId"], dry)
	if err != nil {
		return nil, err
	}
	o := vpcCommon(v.VPC, v.VSwitchIDs)
	o["OwnerId"] = api.AliUID(v.Owner)
	o["ClassicLinkEnabled"] = false
	o["SupportIpv4Gateway"] = false
	o["Ipv4GatewayId"] = ""
	cens := []rpc.Object{}
	if a := v.Attachment; a != nil {
		cens = append(cens, rpc.Object{"CenId": a.CenID, "CenOwnerId": api.AliUID(a.Owner), "CenStatus": a.Status})
	}
	o["AssociatedCens"] = rpc.Object{"AssociatedCen": cens}
	o["AssociatedPropagationSources"] = rpc.Object{"AssociatedPropagationSources": []rpc.Object{}}
	o["CloudResources"] = rpc.Object{"CloudResourceSetType": []rpc.Object{
		{"ResourceType": "VSwitch", "ResourceCount": len(v.VSwitchIDs)}, {"ResourceType": "RouteTable", "ResourceCount": 1}}}
	return o, nil
}

func (h handlers) modifyVpcAttribute(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	if err := api.Unsupported(p, modifyVpcUnsupported...); err != nil {
		return nil, err
	}
	return rpc.Object{}, h.svc.ModifyVpcAttribute(ctx, api.Caller(r), service.ModifyVpcInput{RegionID: p["RegionId"], ID: p["VpcId"],
		Name: api.Opt(p, "VpcName"), Description: api.Opt(p, "Description"), CidrBlock: api.Opt(p, "CidrBlock")})
}

// describeRouteTableList lists the VPCs' System route tables (Terraform's alicloud_vpc
// reads its RouteTableId and RouterId there).
func (h handlers) describeRouteTableList(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	pg, tags, err := api.PageAndTags(p)
	if err != nil {
		return nil, err
	}
	if rg := p["ResourceGroupId"]; rg != "" && rg != service.DefaultResourceGroup(r.Identity.AccountID) {
		return nil, apierr.Invalid("ResourceGroupId", "ResourceGroupId %q does not exist; OpenCEN has one resource group per account: %s.", rg, service.DefaultResourceGroup(r.Identity.AccountID))
	}
	all, err := h.svc.DescribeRouteTableList(ctx, api.Caller(r), service.RouteTableFilter{Region: p["RegionId"], VpcID: p["VpcId"],
		RouteTableID: p["RouteTableId"], RouterID: p["RouterId"], Type: p["RouteTableType"], Name: p["RouteTableName"], RouterType: p["RouterType"], Tags: tags})
	if err != nil {
		return nil, err
	}
	items := []rpc.Object{}
	for _, rt := range api.PageOf(all, pg) {
		sws := rt.VSwitchIDs
		if sws == nil {
			sws = []string{}
		}
		items = append(items, rpc.Object{"RouteTableId": rt.ID, "RouteTableName": "", "RouteTableType": "System", "Description": "",
			"RouterId": rt.RouterID, "RouterType": "VRouter", "VpcId": rt.VPC.ID, "AssociateType": "VSwitch", "RoutePropagationEnable": true,
			"CreationTime": rt.VPC.Created.UTC().Format(isoTime), "OwnerId": api.AliUID(rt.VPC.Owner), "Status": rt.VPC.Status,
			"ResourceGroupId": service.DefaultResourceGroup(rt.VPC.Owner), "VSwitchIds": rpc.Object{"VSwitchId": sws},
			"GatewayIds": rpc.Object{"GatewayIds": []string{}}, "Tags": tagWrapper(nil)})
	}
	return rpc.Object{"PageNumber": pg.Number, "PageSize": pg.Size, "TotalCount": len(all), "RouterTableList": rpc.Object{"RouterTableListType": items}}, nil
}

func (h handlers) deleteVpc(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	return rpc.Object{}, h.svc.DeleteVpc(ctx, api.Caller(r), r.Params["RegionId"], r.Params["VpcId"])
}

func (h handlers) createVSwitch(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	if err := api.Unsupported(p, createVSwitchUnsupported...); err != nil {
		return nil, err
	}
	tags, _, err := api.Tags(p)
	if err != nil {
		return nil, err
	}
	id, err := h.svc.CreateVSwitch(ctx, api.Caller(r), service.CreateVSwitchInput{RegionID: p["RegionId"], VpcID: p["VpcId"], ZoneID: p["ZoneId"],
		CidrBlock: p["CidrBlock"], Name: p["VSwitchName"], Description: p["Description"], Tags: tags, ClientToken: p["ClientToken"]})
	if err != nil {
		return nil, err
	}
	return rpc.Object{"VSwitchId": id}, nil
}

// vswitchObject renders a vSwitch as DescribeVSwitches items and DescribeVSwitchAttributes do.
func vswitchObject(sw service.VSwitchView) rpc.Object {
	return rpc.Object{"VSwitchId": sw.ID, "VSwitchName": sw.Name, "Description": sw.Description, "VpcId": sw.VpcID,
		"ZoneId": sw.ZoneID, "CidrBlock": sw.CidrBlock, "Status": sw.Status, "CreationTime": sw.Created.UTC().Format(isoTime),
		"IsDefault": false, "ResourceGroupId": service.DefaultResourceGroup(sw.Owner), "Tags": tagWrapper(sw.Tags),
		"AvailableIpAddressCount": availableAddresses(sw.CidrBlock), "EnabledIpv6": false, "Ipv6CidrBlock": "", "NetworkAclId": "", "ShareType": "",
		"RouteTable": rpc.Object{"RouteTableId": sw.RouteTableID, "RouteTableType": "System"}}
}

// availableAddresses is a vSwitch's usable addresses: the cloud keeps back the first one
// and the last three of a block.
func availableAddresses(cidr string) int64 {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() {
		return 0
	}
	return max(int64(1)<<(32-p.Bits())-4, 0)
}

func (h handlers) describeVSwitches(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	pg, tags, err := api.PageAndTags(p)
	if err != nil {
		return nil, err
	}
	isDefault, err := api.Bool(p, "IsDefault")
	if err != nil {
		return nil, err
	}
	all, err := h.svc.DescribeVSwitches(ctx, api.Caller(r), service.VSwitchFilter{Region: p["RegionId"], VpcID: p["VpcId"], ID: p["VSwitchId"],
		Zone: p["ZoneId"], Name: p["VSwitchName"], RouteTableID: p["RouteTableId"], Tags: tags})
	if err != nil {
		return nil, err
	}
	if isDefault != nil && *isDefault {
		all = nil // OpenCEN makes no default vSwitches
	}
	items := []rpc.Object{}
	for _, sw := range api.PageOf(all, pg) {
		o := vswitchObject(sw)
		o["OwnerId"] = api.AliUID(sw.Owner)
		items = append(items, o)
	}
	return rpc.Object{"PageNumber": pg.Number, "PageSize": pg.Size, "TotalCount": len(all), "VSwitches": rpc.Object{"VSwitch": items}}, nil
}

// describeVSwitchAttributes serves DescribeVSwitchAttributes, which Terraform's
// alicloud_vswitch reads.
func (h handlers) describeVSwitchAttributes(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	dry, err := api.DryRun(p)
	if err != nil {
		return nil, err
	}
	sw, err := h.svc.DescribeVSwitchAttributes(ctx, api.Caller(r), p["RegionId"], p["VSwitchId"], dry)
	if err != nil {
		return nil, err
	}
	o := vswitchObject(sw)
	o["OwnerId"] = api.AliUID(sw.Owner)
	return o, nil
}

func (h handlers) modifyVSwitchAttribute(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	if err := api.Unsupported(p, modifyVSwitchUnsupported...); err != nil {
		return nil, err
	}
	return rpc.Object{}, h.svc.ModifyVSwitchAttribute(ctx, api.Caller(r), p["RegionId"], p["VSwitchId"], api.Opt(p, "VSwitchName"), api.Opt(p, "Description"))
}

func (h handlers) deleteVSwitch(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	return rpc.Object{}, h.svc.DeleteVSwitch(ctx, api.Caller(r), r.Params["RegionId"], r.Params["VSwitchId"])
}
