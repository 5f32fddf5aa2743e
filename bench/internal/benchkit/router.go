package benchkit

import (
	"context"
	"errors"
	"net/netip"
	"os/exec"
	"time"

	"opencen/internal/api/cbn"
	"opencen/internal/api/vpc"
	"opencen/internal/connect"
	"opencen/internal/dataplane"
	"opencen/internal/lab"
	"opencen/internal/rpc"
)

// Region is where the benchmarks build.
const Region = "cn-hangzhou"

// Router is a transit router built through the API as contract/e2e builds one: a CEN, the
// router and a VPC, whose host lives in the lab, attached, associated with and propagating
// into the router's System table.
type Router struct {
	TR, System string
	VPCHost    *lab.VPCHost
}

// NewRouter builds a Router and waits until the gateway has linked the VPC host, so that
// no measurement starts before the router exists. It is not timed.
func NewRouter(ctx context.Context, c *rpc.Client, l *lab.Lab, drv *dataplane.Netns, vpcCIDR netip.Prefix) (Router, error) {
	const poll = 50 * time.Millisecond
	var r Router
	out, err := Call(ctx, c, cbn.Version, "CreateCen", nil)
	if err != nil {
		return r, err
	}
	cen := Str(out, "CenId")
	if err := WaitFor(ctx, "CEN", 30*time.Second, poll, func() (bool, error) {
		return Status(ctx, c, cbn.Version, "DescribeCens", map[string]string{"Filter.1.Key": "CenId", "Filter.1.Value.1": cen}, "Active", "Cens", "Cen")
	}); err != nil {
		return r, err
	}
	if out, err = Call(ctx, c, cbn.Version, "CreateTransitRouter", map[string]string{"CenId": cen, "RegionId": Region}); err != nil {
		return r, err
	}
	r.TR = Str(out, "TransitRouterId")
	if err := WaitFor(ctx, "TR", 30*time.Second, poll, func() (bool, error) {
		return Status(ctx, c, cbn.Version, "ListTransitRouters", map[string]string{"TransitRouterId": r.TR}, "Active", "TransitRouters")
	}); err != nil {
		return r, err
	}
	if out, err = Call(ctx, c, cbn.Version, "ListTransitRouterRouteTables", map[string]string{"TransitRouterId": r.TR}); err != nil {
		return r, err
	}
	t, err := First(out, "TransitRouterRouteTables")
	if err != nil {
		return r, err
	}
	r.System = Str(t, "TransitRouterRouteTableId")
	if out, err = Call(ctx, c, vpc.Version, "CreateVpc", map[string]string{"RegionId": Region, "CidrBlock": vpcCIDR.String()}); err != nil {
		return r, err
	}
	vpcID := Str(out, "VpcId")
	if err := WaitFor(ctx, "VPC", 30*time.Second, poll, func() (bool, error) {
		return Status(ctx, c, vpc.Version, "DescribeVpcs", map[string]string{"RegionId": Region, "VpcId": vpcID}, "Available", "Vpcs", "Vpc")
	}); err != nil {
		return r, err
	}
	if out, err = Call(ctx, c, vpc.Version, "CreateVSwitch", map[string]string{"RegionId": Region, "VpcId": vpcID, "ZoneId": "cn-hangzhou-h", "CidrBlock": vpcCIDR.String()}); err != nil {
		return r, err
	}
	sw := Str(out, "VSwitchId")
	if err := WaitFor(ctx, "vSwitch", 30*time.Second, poll, func() (bool, error) {
		return Status(ctx, c, vpc.Version, "DescribeVSwitches", map[string]string{"RegionId": Region, "VSwitchId": sw}, "Available", "VSwitches", "VSwitch")
	}); err != nil {
		return r, err
	}
	if r.VPCHost, err = l.AddVPCHost(ctx, vpcID, vpcCIDR); err != nil {
		return r, err
	}
	if out, err = Call(ctx, c, cbn.Version, "CreateTransitRouterVpcAttachment", map[string]string{"RegionId": Region, "TransitRouterId": r.TR, "VpcId": vpcID,
		"ZoneMappings.1.VSwitchId": sw, "ZoneMappings.1.ZoneId": "cn-hangzhou-h"}); err != nil {
		return r, err
	}
	att := Str(out, "TransitRouterAttachmentId")
	if err := WaitFor(ctx, "VPC attached", 30*time.Second, poll, func() (bool, error) {
		return Status(ctx, c, cbn.Version, "ListTransitRouterVpcAttachments", map[string]string{"TransitRouterAttachmentId": att}, "Attached", "TransitRouterAttachments")
	}); err != nil {
		return r, err
	}
	if err := Link(ctx, c, att, r.System, poll); err != nil {
		return r, err
	}
	if drv == nil {
		return r, errors.New("the gateway's driver is not the netns driver")
	}
	return r, WaitFor(ctx, "the gateway to link the VPC host", 30*time.Second, poll, func() (bool, error) {
		return exec.CommandContext(ctx, "ip", "-n", drv.RouterNetns(r.TR), "link", "show", drv.AttachmentLink(att)).Run() == nil, nil
	})
}

// Status reports whether the first item of a list action's answer (under keys) has Status
// want; an item not listed yet is not an error.
func Status(ctx context.Context, c *rpc.Client, version, action string, p map[string]string, want string, keys ...string) (bool, error) {
	out, err := Call(ctx, c, version, action, p)
	if err != nil {
		return false, err
	}
	it, err := First(out, keys...)
	if err != nil {
		return false, nil
	}
	return it["Status"] == want, nil
}

// Link associates att with table and propagates it into table, waiting for both to be
// Active (polling every poll: in the measurements, the waiting is part of what is timed).
func Link(ctx context.Context, c *rpc.Client, att, table string, poll time.Duration) error {
	for _, action := range []string{"AssociateTransitRouterAttachmentWithRouteTable", "EnableTransitRouterRouteTablePropagation"} {
		if err := connect.Link(ctx, c, action, att, table, poll); err != nil {
			return err
		}
	}
	return nil
}
