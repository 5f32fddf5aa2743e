package main

import (
	"cmp"
	"fmt"
	"slices"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"opencen/internal/api/admin"
	"opencen/internal/dataplane"
)

// gatewayCmd holds the data plane's status and maintenance. The gateway itself runs
// inside `opencen server` (--gateway): with the embedded store one process owns the data
// directory.
func gatewayCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "gateway", Short: "Data-plane status and maintenance (the gateway runs inside `opencen server --gateway`)"}
	cmd.AddCommand(gatewayStatusCmd())
	var prefix, runDir string
	cleanup := &cobra.Command{
		Use:   "cleanup",
		Short: "Remove every namespace, link, charon and file a crashed gateway left behind (by prefix)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			drv, err := dataplane.NewNetns(dataplane.NetnsOptions{Prefix: prefix, RunDir: runDir, WANBridge: "unused"})
			if err != nil {
				return err
			}
			if err := drv.Cleanup(cmd.Context()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed the data plane with prefix %q\n", prefix)
			return nil
		},
	}
	cleanup.Flags().StringVar(&prefix, "dataplane-prefix", "oc-", "the server's --dataplane-prefix")
	cleanup.Flags().StringVar(&runDir, "dataplane-run-dir", "/run/opencen/dataplane", "the server's --dataplane-run-dir")
	cmd.AddCommand(cleanup)
	return cmd
}

// gatewayObject is one object of DescribeGatewayStatus.
type gatewayObject struct {
	Node, Kind, Id, TransitRouterId, State, Message, Since string
}

func gatewayStatusCmd() *cobra.Command {
	var cf clientFlags
	var vco, tr string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Every data-plane object (router, cell, bgp, health-check) with its status: pending, done, or error and what is wrong",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := cf.client()
			if err != nil {
				return err
			}
			var out struct{ Objects []gatewayObject }
			if err := cl.Call(cmd.Context(), admin.Version, "DescribeGatewayStatus", map[string]string{"VpnConnectionId": vco, "TransitRouterId": tr}, &out); err != nil {
				return err
			}
			slices.SortFunc(out.Objects, func(a, b gatewayObject) int {
				return cmp.Or(cmp.Compare(a.Node, b.Node), cmp.Compare(a.TransitRouterId+a.Id, b.TransitRouterId+b.Id), cmp.Compare(a.Kind, b.Kind))
			})
			if asJSON {
				if out.Objects == nil {
					out.Objects = []gatewayObject{}
				}
				return printJSON(cmd, out.Objects)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NODE\tKIND\tID\tTRANSIT ROUTER\tSTATE\tSINCE\tMESSAGE")
			for _, o := range out.Objects {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", o.Node, o.Kind, o.Id, o.TransitRouterId, o.State, o.Since, o.Message)
			}
			return w.Flush()
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&vco, "vpn-connection-id", "", "only this connection's objects")
	cmd.Flags().StringVar(&tr, "transit-router-id", "", "only this transit router's objects")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	return cmd
}
