// Command opencen is OpenCEN's one binary: the server and the operator CLI.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := &cobra.Command{
		Use:           "opencen",
		Short:         "OpenCEN: a self-hosted Cloud Enterprise Network (transit routers + IPsec-VPN)",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serverCmd(), adminCmd(), vpnCmd(), trCmd(), demoCmd(), labCmd(), gatewayCmd(), bgpSpeakerCmd())
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "opencen:", err)
		os.Exit(1)
	}
}
