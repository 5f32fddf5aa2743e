package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"opencen/internal/api/admin"
	"opencen/internal/api/cbn"
	"opencen/internal/connect"
	"opencen/internal/rpc"
)

// advancedOptions are the console's three advanced options, on by default.
type advancedOptions struct{ noAssociate, noPropagate bool }

func (a *advancedOptions) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&a.noAssociate, "no-associate", false, "do not associate the attachment with the transit router's default (System) route table")
	cmd.Flags().BoolVar(&a.noPropagate, "no-propagate", false, "do not propagate the attachment's routes into the default route table")
}

func (a *advancedOptions) options() connect.Advanced {
	return connect.Advanced{Associate: !a.noAssociate, Propagate: !a.noPropagate}
}

func routesCmds(cf *clientFlags) []*cobra.Command {
	var table string
	var asJSON bool
	routes := &cobra.Command{
		Use:   "routes TR_ID",
		Short: "Print the computed route tables of a transit router",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := cf.client()
			if err != nil {
				return err
			}
			return printRoutes(cmd, cl, args[0], table, asJSON)
		},
	}
	routes.Flags().StringVar(&table, "table", "", "only this route table (vtb-...)")
	routes.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	var prefix, from string
	explain := &cobra.Command{
		Use:   "explain TR_ID",
		Short: "Explain which policies matched a prefix and why each route is or is not active",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := cf.client()
			if err != nil {
				return err
			}
			var out struct{ Text string }
			if err := cl.Call(cmd.Context(), admin.Version, "ExplainRoute", map[string]string{"TransitRouterId": args[0], "Prefix": prefix,
				"AttachmentId": from, "TransitRouterRouteTableId": table}, &out); err != nil {
				return err
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), out.Text)
			return err
		},
	}
	explain.Flags().StringVar(&prefix, "prefix", "", "prefix or address to explain")
	explain.Flags().StringVar(&from, "from", "", "attachment whose associated table is looked at, and to which advertisement is explained")
	explain.Flags().StringVar(&table, "table", "", "route table (default: the --from attachment's, else System)")
	_ = explain.MarkFlagRequired("prefix")

	var rtID string
	associate := &cobra.Command{
		Use:   "associate ATTACHMENT_ID",
		Short: "Associate an attachment with a route table (replacing its current association)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := cf.client()
			if err != nil {
				return err
			}
			if err := connect.Associate(cmd.Context(), cl, args[0], rtID); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s is associated with %s\n", args[0], rtID)
			return err
		},
	}
	associate.Flags().StringVar(&rtID, "route-table", "", "route table (vtb-...)")
	_ = associate.MarkFlagRequired("route-table")

	var vpcID, region, name string
	var vswitches []string
	var adv advancedOptions
	attachVpc := &cobra.Command{
		Use:   "attach-vpc TR_ID",
		Short: "Attach a VPC, associating it with and propagating it into the default route table unless told not to",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := cf.client()
			if err != nil {
				return err
			}
			p := map[string]string{"RegionId": region, "TransitRouterId": args[0], "VpcId": vpcID, "TransitRouterAttachmentName": name}
			for i, z := range vswitches {
				zone, vsw, ok := strings.Cut(z, ":")
				if !ok {
					return fmt.Errorf("--vswitch %q: use ZONE:VSWITCH_ID", z)
				}
				p[fmt.Sprintf("ZoneMappings.%d.ZoneId", i+1)], p[fmt.Sprintf("ZoneMappings.%d.VSwitchId", i+1)] = zone, vsw
			}
			opts := adv.options()
			opts.Set(p)
			var out struct{ TransitRouterAttachmentId string }
			if err := cl.Call(cmd.Context(), cbn.Version, "CreateTransitRouterVpcAttachment", p, &out); err != nil {
				return err
			}
			att := out.TransitRouterAttachmentId
			if err := connect.Finish(cmd.Context(), cl, "ListTransitRouterVpcAttachments", args[0], att, opts, nil); err != nil {
				return err
			}
			return printJSON(cmd, map[string]any{"TransitRouterAttachmentId": att, "VpcId": vpcID, "Status": "Attached",
				"Associated": !adv.noAssociate, "Propagating": !adv.noPropagate})
		},
	}
	attachVpc.Flags().StringVar(&vpcID, "vpc-id", "", "VPC to attach")
	attachVpc.Flags().StringVar(&region, "region", "cn-hangzhou", "region")
	attachVpc.Flags().StringVar(&name, "name", "", "attachment name")
	attachVpc.Flags().StringSliceVar(&vswitches, "vswitch", nil, "ZONE:VSWITCH_ID (repeatable)")
	_ = attachVpc.MarkFlagRequired("vpc-id")
	adv.register(attachVpc)
	return []*cobra.Command{routes, explain, associate, attachVpc}
}

// printRoutes renders route tables as aligned text (or JSON).
func printRoutes(cmd *cobra.Command, cl *rpc.Client, trID, only string, asJSON bool) error {
	ctx := cmd.Context()
	var tables struct{ TransitRouterRouteTables []map[string]any }
	if err := cl.Call(ctx, cbn.Version, "ListTransitRouterRouteTables", map[string]string{"TransitRouterId": trID, "MaxResults": "100"}, &tables); err != nil {
		return err
	}
	all := map[string]any{}
	w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	for _, t := range tables.TransitRouterRouteTables {
		id, _ := t["TransitRouterRouteTableId"].(string)
		if only != "" && id != only {
			continue
		}
		var entries []map[string]any
		next := ""
		for {
			var out struct {
				TransitRouterRouteEntries []map[string]any
				NextToken                 string
			}
			p := map[string]string{"TransitRouterRouteTableId": id, "TransitRouterRouteEntryStatus": "All", "MaxResults": "100"}
			if next != "" {
				p["NextToken"] = next
			}
			if err := cl.Call(ctx, cbn.Version, "ListTransitRouterRouteEntries", p, &out); err != nil {
				return err
			}
			entries = append(entries, out.TransitRouterRouteEntries...)
			if next = out.NextToken; next == "" {
				break
			}
		}
		all[id] = entries
		if asJSON {
			continue
		}
		title := fmt.Sprint(t["TransitRouterRouteTableType"], " table")
		if name, _ := t["TransitRouterRouteTableName"].(string); name != "" {
			title += " " + name
		}
		fmt.Fprintf(w, "%s (%s)\n", id, title)
		fmt.Fprintln(w, "  PREFIX\tNEXT HOP\tORIGIN\tTYPE\tSTATUS\tPREF\tAS PATH")
		for _, e := range entries {
			pa, _ := e["PathAttributes"].(map[string]any)
			hop := fmt.Sprint(e["TransitRouterRouteEntryNextHopId"])
			if e["TransitRouterRouteEntryNextHopType"] == "BlackHole" {
				hop = "blackhole"
			}
			origin := fmt.Sprintf("%v %v", pa["OriginInstanceType"], pa["OriginRouteType"])
			fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\t%v\t%s\n", e["TransitRouterRouteEntryDestinationCidrBlock"], hop, origin,
				e["TransitRouterRouteEntryType"], e["TransitRouterRouteEntryStatus"], pa["Preference"], strings.Trim(fmt.Sprint(pa["AsPaths"]), "[]"))
		}
		fmt.Fprintln(w)
	}
	if asJSON {
		return printJSON(cmd, all)
	}
	return w.Flush()
}
