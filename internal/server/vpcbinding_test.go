package server

import (
	"context"
	"errors"
	"strings"
	"testing"

	"opencen/internal/apierr"
	"opencen/internal/config"
)

// TestVpcBindings: the admin binds VPCs to segments through the API; defaults are filled
// in; bad bindings are refused with a code and a message naming what to fix, and change
// nothing; the gateway's view carries the binding; unbinding removes it.
func TestVpcBindings(t *testing.T) {
	e := newEnv(t)
	c := e.account("alice")
	vpc := vpcCall(t, c, "CreateVpc", map[string]string{"RegionId": "cn-hangzhou", "CidrBlock": "10.1.0.0/16"})["VpcId"].(string)
	adminCall := func(action string, p map[string]string) (map[string]any, *apierr.Error) {
		t.Helper()
		var out map[string]any
		err := e.admin.Call(context.Background(), "2026-11-01", action, p, &out)
		var ae *apierr.Error
		if err != nil && !errors.As(err, &ae) {
			t.Fatalf("%s: %v", action, err)
		}
		return out, ae
	}
	got, ae := adminCall("BindVpc", map[string]string{"VpcId": vpc, "Bridge": "br-vpc1"})
	if ae != nil || got["Kind"] != "bridge" || got["GatewayIp"] != "10.1.255.253/16" {
		t.Fatalf("BindVpc bridge = %v, %v; want kind bridge with the default gateway 10.1.255.253/16", got, ae)
	}
	for _, c := range []struct {
		name   string
		params map[string]string
		code   string
		msg    string
	}{
		{"no VPC", map[string]string{"Bridge": "br0"}, "MissingVpcId", "VpcId"},
		{"unknown VPC", map[string]string{"VpcId": "vpc-nope", "Bridge": "br0"}, "InvalidVpcId.NotFound", "vpc-nope"},
		{"two kinds", map[string]string{"VpcId": vpc, "Bridge": "br0", "VxlanVni": "100", "Underlay": "eth1", "Remotes.1": "10.0.0.2"}, "InvalidParameter", "not both"},
		{"vni out of range", map[string]string{"VpcId": vpc, "VxlanVni": "16777216", "Underlay": "eth1"}, "InvalidVxlanVni", "VxlanVni"},
		{"bad remote", map[string]string{"VpcId": vpc, "VxlanVni": "100", "Underlay": "eth1", "Remotes.1": "10.0.0"}, "InvalidParameter", `"10.0.0" is not the IPv4 unicast address`},
		{"bad gateway", map[string]string{"VpcId": vpc, "Bridge": "br0", "GatewayIp": "10.1.0.0/24"}, "InvalidParameter", "gateway-ip"},
	} {
		if _, ae := adminCall("BindVpc", c.params); ae == nil || ae.Code != c.code || ae.HTTPStatus() != 400 && ae.HTTPStatus() != 404 || !strings.Contains(ae.Message, c.msg) {
			t.Errorf("%s: BindVpc = %v; want %s naming %q", c.name, ae, c.code, c.msg)
		}
	}
	var notAdmin *apierr.Error
	if err := c.Call(context.Background(), "2026-11-01", "BindVpc", map[string]string{"VpcId": vpc, "Netns": "x"}, nil); !errors.As(err, &notAdmin) || notAdmin.Code != "Forbidden.NotAdmin" {
		t.Errorf("a tenant binds a VPC: %v; want Forbidden.NotAdmin", err)
	}
	view, err := e.inst.Service.GatewayView(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if b := view.VPCBindings[vpc]; b.Bridge != "br-vpc1" || b.GatewayIP != "10.1.255.253/16" {
		t.Fatalf("after refused rebinds the gateway sees %+v; want the first binding unchanged", b)
	}
	// Rebinding to a VXLAN segment, remotes in both list forms.
	got, ae = adminCall("BindVpc", map[string]string{"VpcId": vpc, "VxlanVni": "100", "Underlay": "eth1", "Remotes": `["10.0.0.2","10.0.0.3"]`, "GatewayIp": "10.1.0.253/24"})
	if ae != nil || got["Kind"] != "vxlan" || got["Port"] != float64(config.DefaultVXLANPort) {
		t.Fatalf("BindVpc vxlan = %v, %v", got, ae)
	}
	list, ae := adminCall("DescribeVpcBindings", nil)
	bs, _ := list["Bindings"].([]any)
	if ae != nil || len(bs) != 1 || !strings.Contains(strings.Join(anyStrings(bs[0].(map[string]any)["Remotes"]), ","), "10.0.0.2,10.0.0.3") {
		t.Fatalf("DescribeVpcBindings = %v, %v; want the VXLAN binding with both remotes", list, ae)
	}
	if _, ae := adminCall("UnbindVpc", map[string]string{"VpcId": vpc}); ae != nil {
		t.Fatal(ae)
	}
	if _, ae := adminCall("UnbindVpc", map[string]string{"VpcId": vpc}); ae == nil || ae.Code != "InvalidVpcBinding.NotFound" {
		t.Errorf("unbind twice: %v; want InvalidVpcBinding.NotFound", ae)
	}
	if view, err := e.inst.Service.GatewayView(context.Background()); err != nil || len(view.VPCBindings) != 0 {
		t.Errorf("after unbind the gateway sees %v (%v); want no binding", view.VPCBindings, err)
	}
	// Deleting the VPC removes its binding with it.
	if _, ae := adminCall("BindVpc", map[string]string{"VpcId": vpc, "Netns": "vpc1"}); ae != nil {
		t.Fatal(ae)
	}
	waitFor(t, "VPC Available", func() bool {
		v := vpcCall(t, c, "DescribeVpcs", map[string]string{"RegionId": "cn-hangzhou", "VpcId": vpc})
		vs, _ := v["Vpcs"].(map[string]any)["Vpc"].([]any)
		return len(vs) == 1 && vs[0].(map[string]any)["Status"] == "Available"
	})
	vpcCall(t, c, "DeleteVpc", map[string]string{"RegionId": "cn-hangzhou", "VpcId": vpc})
	if list, ae := adminCall("DescribeVpcBindings", nil); ae != nil || len(list["Bindings"].([]any)) != 0 {
		t.Errorf("after DeleteVpc: bindings %v (%v); want none", list, ae)
	}
}

func anyStrings(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, e := range l {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}
