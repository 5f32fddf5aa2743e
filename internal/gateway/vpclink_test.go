package gateway

import (
	"fmt"
	"net/netip"
	"testing"

	"opencen/internal/config"
	"opencen/internal/model"
	"opencen/internal/service"
)

// TestVPCBindingsBuild: a VPC attachment links to the node's static binding, else the
// admin's, else the lab's namespace by name, else not at all; each kind maps to its link.
func TestVPCBindingsBuild(t *testing.T) {
	tr := &model.TransitRouter{Meta: model.Meta{ID: "tr-1", Status: model.StatusActive}}
	att := func(id, vpc string) *model.VpcAttachment {
		return &model.VpcAttachment{Meta: model.Meta{ID: id}, TransitRouterID: "tr-1", VpcID: vpc}
	}
	view := &service.GatewayView{
		Routers: []service.GatewayRouter{{TR: tr, Associations: map[string]string{},
			VPCs: []*model.VpcAttachment{att("tr-attach-a", "vpc-a"), att("tr-attach-b", "vpc-b"), att("tr-attach-c", "vpc-c"), att("tr-attach-d", "vpc-d")}}},
		VPCBindings: map[string]config.VPCBinding{
			"vpc-a": {VpcID: "vpc-a", Bridge: "br-a", GatewayIP: "10.1.0.253/24"},
			"vpc-b": {VpcID: "vpc-b", Bridge: "br-b", GatewayIP: "10.2.0.253/24"},
		},
	}
	l := Layout{WANBits: 15,
		Bindings:    map[string]config.VPCBinding{"vpc-b": {VpcID: "vpc-b", VNI: 7, Underlay: "eth1", Netns: "host", Group: "239.1.1.1", GatewayIP: "10.2.0.1/24"}},
		VPCNetns:    func(vpc string) (string, bool) { return "lab-" + vpc, vpc == "vpc-c" },
		RouterNetns: func(id string) string { return "r-" + id }, AttachmentLink: func(id string) string { return "l-" + id }}
	o := build(view, l, held{}, Signals{})
	r, ok := o.routers["tr-1"]
	if !ok {
		t.Fatalf("router not built: %v", o.routerErrs)
	}
	var got []string
	for _, v := range r.VPCs {
		s := fmt.Sprintf("%s %s", v.AttachmentID, v.RouterAddr)
		switch {
		case v.Segment == nil:
			s += " netns " + v.Netns + " " + v.VPCAddr.String()
		case v.Segment.VXLAN != nil:
			x := v.Segment.VXLAN
			s += fmt.Sprintf(" vxlan %d %s in %s group %s port %d", x.VNI, x.Underlay, v.Segment.Netns, x.Group, x.Port)
		default:
			s += " bridge " + v.Segment.Bridge
		}
		got = append(got, s)
	}
	want := []string{
		"tr-attach-a 10.1.0.253/24 bridge br-a",
		"tr-attach-b 10.2.0.1/24 vxlan 7 eth1 in host group 239.1.1.1 port 4789",
		"tr-attach-c " + r.VPCs[2].RouterAddr.String() + " netns lab-vpc-c " + r.VPCs[2].VPCAddr.String(),
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("VPC links:\n got %q\nwant %q", got, want)
	}
	if p := r.VPCs[2].RouterAddr; !netip.MustParsePrefix("169.254.0.0/16").Contains(p.Addr()) || p.Bits() != 30 {
		t.Errorf("a namespace VPC's link %v: want a /30 of 169.254.0.0/16", p)
	}
}
