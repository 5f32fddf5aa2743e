package main

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"opencen/internal/api/admin"
)

// vpcBinding is one binding of DescribeVpcBindings.
type vpcBinding struct {
	VpcId, Kind, Netns, Bridge, Underlay, Group, GatewayIp string
	VxlanVni, Port                                         int
	Remotes                                                []string
}

// segment describes where a binding leads, for the table.
func (b vpcBinding) segment() string {
	at := ""
	if b.Netns != "" && b.Kind != "netns" {
		at = " in " + b.Netns
	}
	switch b.Kind {
	case "bridge":
		return "bridge " + b.Bridge + at
	case "vxlan":
		to := "remotes " + strings.Join(b.Remotes, ",")
		if b.Group != "" {
			to = "group " + b.Group
		}
		return fmt.Sprintf("vxlan %d on %s%s, %s, port %d", b.VxlanVni, b.Underlay, at, to, b.Port)
	}
	return "netns " + b.Netns
}

// adminVpcCmd binds VPCs to real network segments.
func adminVpcCmd(cf *clientFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "vpc", Short: "Bind VPCs to network segments (a VXLAN, a Linux bridge, a namespace)"}
	var b struct {
		netns, bridge, underlay, group, gatewayIP string
		vni, port                                 int
		remotes                                   []string
	}
	bind := &cobra.Command{
		Use:   "bind VPC-ID",
		Short: "Link the VPC's transit router attachment to a segment: --vxlan-vni N --underlay IF (--remote A,B | --group G), --bridge BR, or --netns NS",
		Example: `  opencen admin vpc bind vpc-xxx --vxlan-vni 100 --underlay eth1 --remote 10.0.0.2,10.0.0.3
  opencen admin vpc bind vpc-xxx --bridge br-vpc1 --gateway-ip 10.1.0.1/24
  opencen admin vpc bind vpc-xxx --netns vpc1`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p := map[string]string{"VpcId": args[0], "Netns": b.netns, "Bridge": b.bridge, "Underlay": b.underlay,
				"Group": b.group, "GatewayIp": b.gatewayIP}
			if b.vni != 0 {
				p["VxlanVni"] = strconv.Itoa(b.vni)
			}
			if b.port != 0 {
				p["Port"] = strconv.Itoa(b.port)
			}
			for i, r := range b.remotes {
				p[fmt.Sprintf("Remotes.%d", i+1)] = r
			}
			for k, v := range p {
				if v == "" {
					delete(p, k)
				}
			}
			return cf.call(cmd, "BindVpc", p)
		},
	}
	f := bind.Flags()
	f.IntVar(&b.vni, "vxlan-vni", 0, "bind to the VXLAN segment with this VNI (1-15728639; the VNIs above are the links between gateway nodes)")
	f.StringVar(&b.underlay, "underlay", "", "with --vxlan-vni: the interface VXLAN packets leave by")
	f.StringSliceVar(&b.remotes, "remote", nil, "with --vxlan-vni: the other VTEPs' addresses (comma-separated or repeated)")
	f.StringVar(&b.group, "group", "", "with --vxlan-vni: a multicast group instead of --remote")
	f.IntVar(&b.port, "port", 0, "with --vxlan-vni: the UDP port (default 4789)")
	f.StringVar(&b.bridge, "bridge", "", "bind to this existing Linux bridge")
	f.StringVar(&b.netns, "netns", "", "alone: the VPC's own namespace; with --bridge or --vxlan-vni: the namespace holding the bridge or underlay (default: the gateway's)")
	f.StringVar(&b.gatewayIP, "gateway-ip", "", "with --bridge or --vxlan-vni: the router's address on the segment with its prefix length (default: the VPC CIDR's third-highest address)")
	unbind := &cobra.Command{
		Use:   "unbind VPC-ID",
		Short: "Remove the VPC's binding (its link goes; the segment is yours and stays)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cf.call(cmd, "UnbindVpc", map[string]string{"VpcId": args[0]})
		},
	}
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "The VPC bindings",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := cf.client()
			if err != nil {
				return err
			}
			var out struct{ Bindings []vpcBinding }
			if err := cl.Call(cmd.Context(), admin.Version, "DescribeVpcBindings", nil, &out); err != nil {
				return err
			}
			if asJSON {
				if out.Bindings == nil {
					out.Bindings = []vpcBinding{}
				}
				return printJSON(cmd, out.Bindings)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "VPC\tSEGMENT\tGATEWAY IP")
			for _, b := range out.Bindings {
				fmt.Fprintf(w, "%s\t%s\t%s\n", b.VpcId, b.segment(), cmp.Or(b.GatewayIp, "-"))
			}
			return w.Flush()
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	cmd.AddCommand(bind, unbind, list)
	return cmd
}
