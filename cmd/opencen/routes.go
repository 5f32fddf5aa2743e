package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"opencen/internal/api/admin"
	"opencen/internal/api/cbn"
	"opencen/internal/rpc"
)

// advancedOptions are the console's three advanced options, on by default.
type advancedOptions struct{ noAssociate, noPropagate bool }

func (a *advancedOptions) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&a.noAssociate, "no-associate", false, "do not associate the attachment with the transit router's default (System) route table")
	cmd.Flags().BoolVar(&a.noPropagate, "no-propagate", false, "do not propagate the attachment's routes into the default route table")
}

// apply associates with and propagates into the System table, as the console does.
func (a *advancedOptions) apply(ctx context.Context, cl *rpc.Client, trID, attID string) error {
	if a.noAssociate && a.noPropagate {
		return nil
	}
	table, err := systemTable(ctx, cl, trID)
	if err != nil {
		return err
	}
	if !a.noAssociate {
		if err := linkAndWait(ctx, cl, "AssociateTransitRouterAttachmentWithRouteTable", "ListTransitRouterRouteTableAssociations", "TransitRouterAssociations", attID, table); err != nil {
			return err
		}
	}
	if !a.noPropagate {
		return linkAndWait(ctx, cl, "EnableTransitRouterRouteTablePropagation", "ListTransitRouterRouteTablePropagations", "TransitRouterPropagations", attID, table)
	}
	return nil
}

func systemTable(ctx context.Context, cl *rpc.Client, trID string) (string, error) {
	var out struct{ TransitRouterRouteTables []map[string]any }
	if err := cl.Call(ctx, cbn.Version, "ListTransitRouterRouteTables", map[string]string{"TransitRouterId": trID, "TransitRouterRouteTableType": "System"}, &out); err != nil {
		return "", err
	}
	if len(out.TransitRouterRouteTables) == 0 {
		return "", fmt.Errorf("transit router %s has no System route table", trID)
	}
	return out.TransitRouterRouteTables[0]["TransitRouterRouteTableId"].(string), nil
}

// linkAndWait runs an association/propagation action and waits until it is Active.
func linkAndWait(ctx context.Context, cl *rpc.Client, action, list, listKey, attID, table string) error {
	if err := cl.Call(ctx, cbn.Version, action, map[string]string{"TransitRouterAttachmentId": attID, "TransitRouterRouteTableId": table}, nil); err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	return poll(ctx, 2*time.Minute, func() (bool, error) {
		var out map[string]any
		err := cl.Call(ctx, cbn.Version, list, map[string]string{"TransitRouterRouteTableId": table, "TransitRouterAttachmentId": attID}, &out)
		items, _ := out[listKey].([]any)
		return err == nil && len(items) == 1 && items[0].(map[string]any)["Status"] == "Active", err
	})
}

func poll(ctx context.Context, timeout time.Duration, done func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := done()
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
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
			var cur struct{ TransitRouterAssociations []map[string]any }
			if err := cl.Call(cmd.Context(), cbn.Version, "ListTransitRouterRouteTableAssociations", map[string]string{"TransitRouterAttachmentId": args[0]}, &cur); err != nil {
				return err
			}
			action := "AssociateTransitRouterAttachmentWithRouteTable"
			if len(cur.TransitRouterAssociations) > 0 {
				action = "ReplaceTransitRouterRouteTableAssociation"
			}
			if err := linkAndWait(cmd.Context(), cl, action, "ListTransitRouterRouteTableAssociations", "TransitRouterAssociations", args[0], rtID); err != nil {
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
			var out struct{ TransitRouterAttachmentId string }
			if err := cl.Call(cmd.Context(), cbn.Version, "CreateTransitRouterVpcAttachment", p, &out); err != nil {
				return err
			}
			att := out.TransitRouterAttachmentId
			if err := poll(cmd.Context(), 5*time.Minute, func() (bool, error) {
				var l struct{ TransitRouterAttachments []map[string]any }
				err := cl.Call(cmd.Context(), cbn.Version, "ListTransitRouterVpcAttachments", map[string]string{"TransitRouterAttachmentId": att}, &l)
				return err == nil && len(l.TransitRouterAttachments) == 1 && l.TransitRouterAttachments[0]["Status"] == "Attached", err
			}); err != nil {
				return err
			}
			if err := adv.apply(cmd.Context(), cl, args[0], att); err != nil {
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
		id := t["TransitRouterRouteTableId"].(string)
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
