package main

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"opencen/internal/api/admin"
	"opencen/internal/api/vpc"
	"opencen/internal/dataplane/nsutil"
	"opencen/internal/lab"
	"opencen/internal/rpc"
)

// labState remembers what `opencen lab` built, so separate invocations compose.
type labState struct {
	Prefix string             `json:"prefix"`
	DCs    map[string]dcState `json:"dcs"`
}

type dcState struct {
	WAN    netip.Prefix `json:"wan"`
	Subnet netip.Prefix `json:"subnet"`
	// ASN, when set, makes the data center speak BGP (BIRD) announcing its subnet.
	ASN uint32 `json:"asn,omitempty"`
}

type labFlags struct {
	prefix, runDir string
	cf             clientFlags
}

func (f *labFlags) statePath() string { return filepath.Join(f.runDir, "lab.json") }

func (f *labFlags) load() (labState, error) {
	st := labState{Prefix: f.prefix, DCs: map[string]dcState{}}
	raw, err := os.ReadFile(f.statePath())
	if os.IsNotExist(err) {
		return st, fmt.Errorf("no lab here: run `opencen lab up` first")
	} else if err != nil {
		return st, err
	}
	return st, json.Unmarshal(raw, &st)
}

func (f *labFlags) save(st labState) error {
	raw, _ := json.MarshalIndent(st, "", "  ")
	return os.WriteFile(f.statePath(), raw, 0o600)
}

// open reattaches to the lab's WAN (lab.New is idempotent).
func (f *labFlags) open(cmd *cobra.Command) (*lab.Lab, labState, error) {
	if missing := lab.Missing(); len(missing) > 0 {
		return nil, labState{}, fmt.Errorf("the lab needs: %s", strings.Join(missing, "; "))
	}
	st, err := f.load()
	if err != nil {
		return nil, st, err
	}
	l, err := lab.New(cmd.Context(), st.Prefix, f.runDir)
	return l, st, err
}

// dc rebuilds a data center's handle from the lab state (the same names AddDC uses).
func (f *labFlags) dc(st labState, name string) (*lab.DC, error) {
	s, ok := st.DCs[name]
	if !ok {
		return nil, fmt.Errorf("no data center %q in the lab", name)
	}
	ns := st.Prefix + "dc-" + name
	host := s.Subnet.Addr().Next()
	return &lab.DC{Name: name, Netns: ns, WANAddr: s.WAN, Subnet: s.Subnet, Host: host,
		Charon: nsutil.Charon{Netns: ns, Dir: filepath.Join(f.runDir, ns)}}, nil
}

func labCmd() *cobra.Command {
	f := &labFlags{}
	cmd := &cobra.Command{Use: "lab", Short: "Simulated data centers and VPC hosts in network namespaces (root)"}
	cmd.PersistentFlags().StringVar(&f.prefix, "prefix", "ocl-", "prefix of the lab's namespaces (1 to 6 characters)")
	cmd.PersistentFlags().StringVar(&f.runDir, "run-dir", "/run/opencen/lab", "the lab's state and charon directories")
	f.cf.register(cmd)

	up := &cobra.Command{
		Use:   "up",
		Short: "Create the WAN (198.18.0.0/15) and print the server flags that plug the gateway into it",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := os.MkdirAll(f.runDir, 0o700); err != nil {
				return err
			}
			if _, err := os.Stat(f.statePath()); os.IsNotExist(err) {
				if err := f.save(labState{Prefix: f.prefix, DCs: map[string]dcState{}}); err != nil {
					return err
				}
			}
			l, _, err := f.open(cmd)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "lab up. Run the server with:\n  opencen server --wan-netns %s --wan-bridge %s\nand bind each VPC to its host (opencen lab vpc add prints how).\n", l.WANNetns, lab.Bridge)
			return nil
		},
	}
	var wan, subnet string
	var bgpASN uint32
	dcAdd := &cobra.Command{
		Use:   "add NAME",
		Short: "Add a data center running stock strongSwan, with a host inside its subnet",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, st, err := f.open(cmd)
			if err != nil {
				return err
			}
			w, err := netip.ParseAddr(wan)
			if err != nil {
				return fmt.Errorf("--wan: %w", err)
			}
			sn, err := netip.ParsePrefix(subnet)
			if err != nil {
				return fmt.Errorf("--subnet: %w", err)
			}
			dc, err := l.AddDC(cmd.Context(), args[0], netip.PrefixFrom(w, lab.WAN.Bits()), sn, "")
			if err != nil {
				return err
			}
			if bgpASN != 0 {
				if missing := lab.BIRDMissing(); missing != "" {
					return fmt.Errorf("--bgp-asn needs BIRD: %s", missing)
				}
			}
			st.DCs[args[0]] = dcState{WAN: dc.WANAddr, Subnet: dc.Subnet, ASN: bgpASN}
			if err := f.save(st); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "data center %s: namespace %s, WAN %s, host %s\n", dc.Name, dc.Netns, dc.WANAddr.Addr(), dc.Host)
			return nil
		},
	}
	dcAdd.Flags().StringVar(&wan, "wan", "", "the data center's public address (inside 198.18.0.0/15); use it as the customer gateway's IpAddress")
	dcAdd.Flags().StringVar(&subnet, "subnet", "", "the data center's network, e.g. 192.168.10.0/24")
	dcAdd.Flags().Uint32Var(&bgpASN, "bgp-asn", 0, "speak BGP (BIRD) with this ASN, announcing the subnet; `lab dc configure` sets up the session")
	_ = dcAdd.MarkFlagRequired("wan")
	_ = dcAdd.MarkFlagRequired("subnet")

	var vco, region, tunnelID string
	var routes []string
	dcConfigure := &cobra.Command{
		Use:   "configure NAME",
		Short: "Load the swanctl.conf OpenCEN renders for a connection into the data center's strongSwan",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, st, err := f.open(cmd)
			if err != nil {
				return err
			}
			dc, err := f.dc(st, args[0])
			if err != nil {
				return err
			}
			cl, err := f.cf.client()
			if err != nil {
				return err
			}
			var v struct {
				VcoHealthCheck             struct{ Enable, Sip string }
				TunnelOptionsSpecification struct{ TunnelOptions []struct{ TunnelId string } }
			}
			if err := cl.Call(cmd.Context(), vpc.Version, "DescribeVpnConnection", map[string]string{"RegionId": region, "VpnConnectionId": vco}, &v); err != nil {
				return err
			}
			// A lab data center runs one charon on kernel-libipsec, which carries at most one
			// 0.0.0.0/0 tunnel: a dual-tunnel connection takes one data center per tunnel.
			if tunnels := v.TunnelOptionsSpecification.TunnelOptions; len(tunnels) > 0 && tunnelID == "" {
				var ids []string
				for _, t := range tunnels {
					ids = append(ids, t.TunnelId)
				}
				return fmt.Errorf("%s is a dual-tunnel connection, and a lab data center's one strongSwan carries one tunnel: configure one data center per tunnel with --tunnel (%s)", vco, strings.Join(ids, ", "))
			}
			params := map[string]string{"RegionId": region, "VpnConnectionId": vco, "ConfigFormat": "strongswan"}
			if tunnelID != "" {
				params["TunnelId"] = tunnelID
			}
			var conf struct{ Config string }
			if err := cl.Call(cmd.Context(), admin.Version, "RenderVpnConnectionConfig", params, &conf); err != nil {
				return err
			}
			if err := dc.LoadConfig(cmd.Context(), conf.Config); err != nil {
				return err
			}
			var prefixes []netip.Prefix
			for _, r := range routes {
				p, err := netip.ParsePrefix(r)
				if err != nil {
					return fmt.Errorf("--route %q: %w", r, err)
				}
				prefixes = append(prefixes, p)
			}
			// The product page's health-check note: the data center routes the probe source
			// back through the tunnel.
			if v.VcoHealthCheck.Enable == "true" {
				sip, err := netip.ParseAddr(v.VcoHealthCheck.Sip)
				if err != nil {
					return fmt.Errorf("the connection's health-check source %q: %w", v.VcoHealthCheck.Sip, err)
				}
				prefixes = append(prefixes, netip.PrefixFrom(sip, 32))
			}
			if len(prefixes) > 0 {
				if err := dc.RouteToTunnel(cmd.Context(), prefixes...); err != nil {
					return err
				}
			}
			if asn := st.DCs[args[0]].ASN; asn != 0 {
				if err := configureBIRD(cmd, cl, dc, asn, region, vco, tunnelID); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "data center %s configured for %s\n", dc.Name, vco)
			return nil
		},
	}
	dcConfigure.Flags().StringVar(&vco, "vpn", "", "the IPsec-VPN connection (vco-...)")
	dcConfigure.Flags().StringVar(&region, "region", "cn-hangzhou", "its region")
	dcConfigure.Flags().StringVar(&tunnelID, "tunnel", "", "the tunnel (tun-...) of a dual-tunnel connection this data center carries")
	dcConfigure.Flags().StringSliceVar(&routes, "route", nil, "cloud-side prefix to route into a destination-routing tunnel (repeatable)")
	_ = dcConfigure.MarkFlagRequired("vpn")
	dc := &cobra.Command{Use: "dc", Short: "Simulated customer data centers"}
	dc.AddCommand(dcAdd, dcConfigure)

	var cidr string
	vpcAdd := &cobra.Command{
		Use:   "add VPC_ID",
		Short: "Add a host for a VPC; the gateway links it to the transit router the VPC is attached to",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, _, err := f.open(cmd)
			if err != nil {
				return err
			}
			p, err := netip.ParsePrefix(cidr)
			if err != nil {
				return fmt.Errorf("--cidr: %w", err)
			}
			h, err := l.AddVPCHost(cmd.Context(), args[0], p)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "VPC host for %s: namespace %s, address %s on bridge %s, default via %s\nBind the VPC to it: opencen admin vpc bind %s --netns %s --bridge %s --gateway-ip %s\n",
				args[0], h.Netns, h.Addr, lab.VPCBridge, h.Gateway.Addr(), args[0], h.Netns, lab.VPCBridge, h.Gateway)
			return nil
		},
	}
	vpcAdd.Flags().StringVar(&cidr, "cidr", "", "the VPC's CIDR block")
	_ = vpcAdd.MarkFlagRequired("cidr")
	vpcCmd := &cobra.Command{Use: "vpc", Short: "Simulated VPC hosts"}
	vpcCmd.AddCommand(vpcAdd)

	down := &cobra.Command{
		Use:   "down",
		Short: "Stop the lab's strongSwan instances and remove its namespaces and files",
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := f.load()
			prefix := f.prefix
			if err == nil {
				prefix = st.Prefix
			}
			if err := lab.Cleanup(cmd.Context(), prefix, f.runDir); err != nil {
				return err
			}
			return os.RemoveAll(f.runDir)
		},
	}
	cmd.AddCommand(up, dc, vpcCmd, down)
	return cmd
}

// configureBIRD starts (or reconfigures) the data center's BGP speaker from the
// connection's downloaded configuration: the customer's tunnel address and the cloud's.
// configureBIRD starts BIRD in the data center with the BGP session of connection vco, or
// of its tunnel tunnelID ("" for a single-tunnel connection).
func configureBIRD(cmd *cobra.Command, cl *rpc.Client, dc *lab.DC, asn uint32, region, vco, tunnelID string) error {
	var out struct {
		VpnConnectionConfig struct {
			BgpConfigs struct {
				BgpConfig []struct{ TunnelId, LocalBgpIp, PeerBgpIp, PeerAsn string }
			}
		}
	}
	if err := cl.Call(cmd.Context(), vpc.Version, "DownloadVpnConnectionConfig", map[string]string{"RegionId": region, "VpnConnectionId": vco}, &out); err != nil {
		return err
	}
	cfgs := out.VpnConnectionConfig.BgpConfigs.BgpConfig
	cfgs = slices.DeleteFunc(cfgs, func(c struct{ TunnelId, LocalBgpIp, PeerBgpIp, PeerAsn string }) bool { return c.TunnelId != tunnelID })
	if len(cfgs) == 0 {
		what := "the connection " + vco
		if tunnelID != "" {
			what = "the tunnel " + tunnelID + " of " + vco
		}
		return fmt.Errorf("%s has no BGP configuration; enable BGP on it or add the DC without --bgp-asn", what)
	}
	var peerAS uint32
	if _, err := fmt.Sscan(cfgs[0].PeerAsn, &peerAS); err != nil {
		return fmt.Errorf("peer ASN %q: %w", cfgs[0].PeerAsn, err)
	}
	peer, err := netip.ParseAddr(cfgs[0].PeerBgpIp)
	if err != nil {
		return fmt.Errorf("peer BGP address %q: %w", cfgs[0].PeerBgpIp, err)
	}
	local, err := netip.ParseAddr(cfgs[0].LocalBgpIp)
	if err != nil {
		return fmt.Errorf("local BGP address %q: %w", cfgs[0].LocalBgpIp, err)
	}
	return dc.StartBIRD(cmd.Context(), asn, dc.Host, []lab.BIRDNeighbor{{Address: peer, LocalAddress: local, PeerAS: peerAS}}, []netip.Prefix{dc.Subnet})
}
