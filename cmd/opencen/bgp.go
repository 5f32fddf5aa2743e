package main

import (
	"os"

	"github.com/spf13/cobra"

	"opencen/internal/bgp"
)

// bgpSpeakerCmd is the process the gateway starts inside a transit router's namespace.
func bgpSpeakerCmd() *cobra.Command {
	return &cobra.Command{
		Use:                bgp.Subcommand,
		Short:              "Run a transit router's BGP speaker (started by the gateway inside the router's namespace)",
		Hidden:             true,
		DisableFlagParsing: true,
		Run:                func(_ *cobra.Command, args []string) { os.Exit(bgp.Main(args)) },
	}
}
