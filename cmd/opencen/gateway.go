package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"opencen/internal/dataplane"
)

// gatewayCmd holds data-plane maintenance. The gateway itself runs inside `opencen
// server` (--gateway): with the embedded store one process owns the data directory.
func gatewayCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "gateway", Short: "Data-plane maintenance (the gateway runs inside `opencen server --gateway`)"}
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
