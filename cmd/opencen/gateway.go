package main

import (
	"cmp"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"opencen/internal/api/admin"
	"opencen/internal/config"
	"opencen/internal/dataplane"
	"opencen/internal/server"
	"opencen/internal/store"
)

// dataPlaneFlags are the data plane's flags, the same on `opencen server` and `opencen
// gateway`.
func dataPlaneFlags(f *pflag.FlagSet, g *server.GatewayOptions) {
	f.StringVar(&g.WANNetns, "wan-netns", "", "namespace holding the WAN bridge the connections' gateway IPs are plugged into")
	f.StringVar(&g.WANBridge, "wan-bridge", "", "WAN bridge name (opencen lab uses br0 in <prefix>wan)")
	f.StringVar(&g.WANInterface, "wan-interface", "", "instead of --wan-bridge: the host interface (in --wan-netns, default the host's) gateway IPs are routed and answered for on")
	f.StringVar(&g.PrivateInterface, "private-interface", "", "with --wan-interface: the interface private-network connections' gateway IPs are answered for on")
	f.IntVar(&g.WANBits, "wan-bits", 15, "prefix length of the WAN")
	f.StringVar(&g.Prefix, "dataplane-prefix", "oc-", "prefix of every namespace and link the data plane creates")
	f.StringVar(&g.RunDir, "dataplane-run-dir", "/run/opencen/dataplane", "where connections' charon instances keep their files")
	f.StringVar(&g.VPCNetnsPrefix, "vpc-netns-prefix", "", "VPC X is linked to its transit router in namespace <prefix>X when that exists (the lab's VPC hosts)")
}

// gatewayCmd runs a gateway node: the data plane of the transit routers a cluster on
// etcd places on this machine. Its subcommands show the data plane's status and clean up
// after a crash. On one machine the gateway runs inside `opencen server` (--gateway).
func gatewayCmd() *cobra.Command {
	var (
		o          server.NodeOptions
		configPath string
		nodeConfig string
		logLevel   string
	)
	cmd := &cobra.Command{
		Use:   "gateway",
		Short: "Run a gateway node of a cluster on etcd (needs root and strongSwan); status and cleanup of the data plane",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if nodeConfig != "" {
				nf, err := config.LoadNodeFile(nodeConfig)
				if err != nil {
					return err
				}
				if err := applySettings(cmd.Flags(), nf.Settings, nodeConfig); err != nil {
					return err
				}
				o.Gateway.Bindings = nf.Bindings
			}
			var err error
			if o.Log, o.Config, err = logAndCatalog(logLevel, configPath); err != nil {
				return err
			}
			if o.Node == "" {
				if o.Node, err = os.Hostname(); err != nil {
					return fmt.Errorf("--node: %w", err)
				}
			}
			return server.RunNode(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.Etcd.Endpoints, "etcd-endpoints", nil, "the cluster's etcd client URLs, comma-separated")
	f.StringVar(&o.Etcd.Prefix, "etcd-prefix", "", "key prefix in etcd: the servers' --etcd-prefix (default "+store.DefaultEtcdPrefix+")")
	f.StringVar(&o.Etcd.CACert, "etcd-cacert", "", "PEM file of the CA that signed the etcd members' certificates")
	f.StringVar(&o.Etcd.Cert, "etcd-cert", "", "PEM client certificate for etcd (with --etcd-key)")
	f.StringVar(&o.Etcd.Key, "etcd-key", "", "PEM key of --etcd-cert")
	f.StringVar(&o.SecretKeyFile, "secret-key-file", "", "the cluster's secret key (the servers' --secret-key-file), to open the pre-shared keys")
	f.StringVar(&configPath, "config", "", "the servers' catalog (YAML or TOML): regions, zones and address pools")
	f.StringVar(&nodeConfig, "node-config", "", "this node's settings (YAML or TOML): any of these flags by name, and vpc-bindings (static VPC bindings); flags given here win")
	f.StringVar(&o.Node, "node", "", "this node's name, unique in the cluster (default the host name)")
	f.StringVar(&o.Zone, "zone", "", "the zone this node runs in (a zone of the catalog, e.g. cn-hangzhou-h)")
	f.StringVar(&o.Address, "address", "", "how operators reach this node (shown by opencen admin gateway list)")
	f.IntVar(&o.Capacity, "capacity", 0, "connections this node takes at most (0: no limit)")
	f.StringVar(&o.Underlay.Interface, "underlay-interface", "", "the interface VXLAN links to other gateway nodes leave by (a tunnel placed in its own zone, an inter-region connection between nodes)")
	f.StringVar(&o.Underlay.Netns, "underlay-netns", "", "the namespace holding --underlay-interface (default the node's own)")
	f.StringVar(&o.Underlay.Address, "underlay-address", "", "this node's IPv4 address on the underlay, which other nodes send to")
	f.IntVar(&o.Underlay.Port, "underlay-port", 4789, "UDP port of the links between nodes (the same on every node)")
	f.DurationVar(&o.LeaseTTL, "lease-ttl", server.DefaultLeaseTTL, "a node silent for this long is dead and its transit routers move")
	f.BoolVar(&o.KeepDataPlane, "keep-dataplane-on-exit", false, "leave the data plane and the registration when stopping (a restart in place takes them over)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	dataPlaneFlags(f, &o.Gateway)
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

// gatewayNode is one node of DescribeGatewayNodes.
type gatewayNode struct {
	Node, Zone, Address, LeaseExpires string
	Alive                             bool
	TransitRouters, Connections       []string
}

// adminGatewayCmd lists and forgets the gateway nodes of a cluster on etcd.
func adminGatewayCmd(cf *clientFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "gateway", Short: "The gateway nodes of a cluster on etcd"}
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "Gateway nodes: zone, address, lease, and the transit routers and connections each runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := cf.client()
			if err != nil {
				return err
			}
			var out struct{ Nodes []gatewayNode }
			if err := cl.Call(cmd.Context(), admin.Version, "DescribeGatewayNodes", nil, &out); err != nil {
				return err
			}
			if asJSON {
				if out.Nodes == nil {
					out.Nodes = []gatewayNode{}
				}
				return printJSON(cmd, out.Nodes)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NODE\tZONE\tADDRESS\tALIVE\tLEASE EXPIRES\tTRANSIT ROUTERS\tCONNECTIONS")
			for _, n := range out.Nodes {
				fmt.Fprintf(w, "%s\t%s\t%s\t%t\t%s\t%s\t%d\n", n.Node, n.Zone, cmp.Or(n.Address, "-"), n.Alive, n.LeaseExpires,
					cmp.Or(strings.Join(n.TransitRouters, ","), "-"), len(n.Connections))
			}
			return w.Flush()
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print a JSON array of {Node, Zone, Address, LeaseExpires, Alive, TransitRouters, Connections}")
	var node string
	forget := &cobra.Command{
		Use:   "forget",
		Short: "Remove a dead gateway node's registration (a node taken out of service for good)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cf.call(cmd, "DeleteGatewayNode", map[string]string{"Node": node})
		},
	}
	forget.Flags().StringVar(&node, "node", "", "the node's name")
	_ = forget.MarkFlagRequired("node")
	cmd.AddCommand(list, forget)
	return cmd
}

// applySettings sets, from a config file, every flag the command line did not give.
func applySettings(fs *pflag.FlagSet, settings map[string]string, file string) error {
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		fl := fs.Lookup(k)
		if fl == nil || k == "node-config" {
			return fmt.Errorf("%s: %q is not a setting (the keys are the flags of opencen gateway --help, and vpc-bindings)", file, k)
		}
		if fl.Changed {
			continue
		}
		if err := fs.Set(k, settings[k]); err != nil {
			return fmt.Errorf("%s: %s: %w", file, k, err)
		}
	}
	return nil
}
