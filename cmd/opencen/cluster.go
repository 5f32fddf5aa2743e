package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"opencen/internal/api/admin"
)

// clusterStatus is the answer of DescribeCluster. Gateway nodes are kept as the nodes
// wrote them, so --json shows every field they have.
type clusterStatus struct {
	Servers []struct {
		Id, Address, Version, Started string
		Leader                        bool
	}
	Gateways []json.RawMessage
}

// gatewayRecord is what the table shows of a gateway node's record; LeaseExpires is shown
// as written (a time, or a number).
type gatewayRecord struct {
	Node, Zone, Address string
	LeaseExpires        json.RawMessage
}

func clusterCmd(cf *clientFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "cluster", Short: "The API servers sharing the store and the gateway nodes"}
	var asJSON bool
	status := &cobra.Command{
		Use:   "status",
		Short: "Show the API servers (which one leads, running the controllers) and the gateway nodes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := cf.client()
			if err != nil {
				return err
			}
			var out clusterStatus
			if err := cl.Call(cmd.Context(), admin.Version, "DescribeCluster", nil, &out); err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, out)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "API SERVER\tADDRESS\tVERSION\tSTARTED\tLEADER")
			for _, s := range out.Servers {
				leader := ""
				if s.Leader {
					leader = "yes"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", s.Id, s.Address, s.Version, s.Started, leader)
			}
			fmt.Fprintln(w)
			fmt.Fprintln(w, "GATEWAY NODE\tZONE\tADDRESS\tLEASE EXPIRES")
			for _, raw := range out.Gateways {
				var g gatewayRecord
				if err := json.Unmarshal(raw, &g); err != nil {
					return fmt.Errorf("gateway node record %s: %w", raw, err)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", g.Node, g.Zone, g.Address, strings.Trim(string(g.LeaseExpires), `"`))
			}
			if len(out.Gateways) == 0 {
				fmt.Fprintln(w, "(none)")
			}
			return w.Flush()
		},
	}
	status.Flags().BoolVar(&asJSON, "json", false, `print {"Servers": [...], "Gateways": [...]}`)
	cmd.AddCommand(status)
	return cmd
}
