package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"opencen/internal/api/admin"
	"opencen/internal/api/cbn"
	"opencen/internal/api/vpc"
	"opencen/internal/connect"
	"opencen/internal/model"
	"opencen/internal/rpc"
)

func printJSON(cmd *cobra.Command, v any) error {
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func vpnCmd() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{Use: "vpn", Short: "IPsec-VPN connections"}
	cf.register(cmd)
	var format, region, tunnelID string
	config := &cobra.Command{
		Use:   "config VCO_ID",
		Short: "Print the customer-side configuration of a connection (strongswan: a complete swanctl.conf; json: the API's structure)",
		Long: `Print the customer-side configuration of a connection.

strongswan: a complete swanctl.conf. For a dual-tunnel connection it holds both tunnels,
the master first; with --tunnel it holds that tunnel alone, for a device (or a strongSwan
instance) that carries only it: with kernel-libipsec one charon carries at most one
0.0.0.0/0 tunnel, so such a data center runs one charon per tunnel.
json: the API's structure (DownloadVpnConnectionConfig), both tunnels under TunnelsConfig.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := cf.client()
			if err != nil {
				return err
			}
			params := map[string]string{"RegionId": region, "VpnConnectionId": args[0]}
			switch format {
			case "strongswan":
				params["ConfigFormat"] = format
				if tunnelID != "" {
					params["TunnelId"] = tunnelID
				}
				var out struct{ Config string }
				if err := cl.Call(cmd.Context(), admin.Version, "RenderVpnConnectionConfig", params, &out); err != nil {
					return err
				}
				_, err := fmt.Fprint(cmd.OutOrStdout(), out.Config)
				return err
			case "json":
				if tunnelID != "" {
					return fmt.Errorf("--tunnel applies to --format strongswan; the json structure has both tunnels (TunnelsConfig)")
				}
				var out struct{ VpnConnectionConfig any }
				if err := cl.Call(cmd.Context(), vpc.Version, "DownloadVpnConnectionConfig", params, &out); err != nil {
					return err
				}
				return printJSON(cmd, out.VpnConnectionConfig)
			}
			return fmt.Errorf("--format must be strongswan or json, not %q", format)
		},
	}
	config.Flags().StringVar(&format, "format", "strongswan", "strongswan or json")
	config.Flags().StringVar(&region, "region", "cn-hangzhou", "region of the connection")
	config.Flags().StringVar(&tunnelID, "tunnel", "", "a dual-tunnel connection's tunnel (tun-...): render it alone")
	var minutes int
	status := &cobra.Command{
		Use:   "status VCO_ID",
		Short: "A connection's state (tunnel, BGP, health check, gateway IP) and its recent log",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := cf.client()
			if err != nil {
				return err
			}
			return vpnStatus(cmd, cl, region, args[0], minutes)
		},
	}
	status.Flags().StringVar(&region, "region", "cn-hangzhou", "region of the connection")
	status.Flags().IntVar(&minutes, "minutes", 10, "how far back the log goes (1-10, as DescribeVpnConnectionLogs takes)")
	cmd.AddCommand(config, status)
	return cmd
}

// vpnStatus prints what DescribeVpnConnection says of the tunnel (each tunnel of a
// dual-tunnel connection) and the connection's log (DescribeVpnConnectionLogs: a
// dual-tunnel connection's lines name their tunnel), newest last.
func vpnStatus(cmd *cobra.Command, cl *rpc.Client, region, vco string, minutes int) error {
	ctx := cmd.Context()
	var v struct {
		VpnConnectionId, Name, Status, State, InternetIp, RemoteCustomerGatewayIp, TransitRouterId, NetworkType string
		VpnBgpConfig                                                                                            struct{ EnableBgp, Status, TunnelCidr, LocalBgpIp, PeerBgpIp string }
		VcoHealthCheck                                                                                          struct{ Enable, Status, Dip, Sip string }
		EnableTunnelsBgp                                                                                        bool
		TunnelOptionsSpecification                                                                              struct {
			TunnelOptions []struct {
				TunnelId, Role, State, Status, InternetIp, ZoneNo, CustomerGatewayId string
				TunnelBgpConfig                                                      struct{ BgpStatus, TunnelCidr, LocalBgpIp, PeerBgpIp string }
			}
		}
	}
	p := map[string]string{"RegionId": region, "VpnConnectionId": vco}
	if err := cl.Call(ctx, vpc.Version, "DescribeVpnConnection", p, &v); err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if tunnels := v.TunnelOptionsSpecification.TunnelOptions; len(tunnels) > 0 {
		// A dual-tunnel connection: each tunnel has its own state, gateway IP and peer.
		fmt.Fprintf(out, "%s %s (dual-tunnel, %s)\n  state:        %s\n  router:       %s\n", v.VpnConnectionId, v.Name, v.NetworkType, v.State, v.TransitRouterId)
		for _, t := range tunnels {
			fmt.Fprintf(out, "  %s (%s): %s (%s), gateway IP %s (%s), customer gateway %s\n", t.TunnelId, t.Role, t.Status, t.State, t.InternetIp, t.ZoneNo, t.CustomerGatewayId)
			if b := t.TunnelBgpConfig; v.EnableTunnelsBgp {
				fmt.Fprintf(out, "    BGP:        %s (%s, cloud %s, peer %s)\n", b.BgpStatus, b.TunnelCidr, b.LocalBgpIp, b.PeerBgpIp)
			}
		}
	} else {
		fmt.Fprintf(out, "%s %s\n  tunnel:       %s (%s)\n  gateway IP:   %s (%s)\n  peer:         %s\n  router:       %s\n",
			v.VpnConnectionId, v.Name, v.Status, v.State, v.InternetIp, v.NetworkType, v.RemoteCustomerGatewayIp, v.TransitRouterId)
	}
	if v.VpnBgpConfig.EnableBgp == "true" && len(v.TunnelOptionsSpecification.TunnelOptions) == 0 {
		fmt.Fprintf(out, "  BGP:          %s (%s, cloud %s, peer %s)\n", v.VpnBgpConfig.Status, v.VpnBgpConfig.TunnelCidr, v.VpnBgpConfig.LocalBgpIp, v.VpnBgpConfig.PeerBgpIp)
	}
	if v.VcoHealthCheck.Enable == "true" {
		fmt.Fprintf(out, "  health check: %s (%s -> %s)\n", v.VcoHealthCheck.Status, v.VcoHealthCheck.Sip, v.VcoHealthCheck.Dip)
	}
	// The log comes oldest first; the newest lines say why a negotiation fails now, so
	// it is the last page that is shown.
	const page = 50
	var logs struct {
		Count int
		Data  struct{ Logs []string }
	}
	p["MinutePeriod"], p["PageSize"] = fmt.Sprint(minutes), fmt.Sprint(page)
	if err := cl.Call(ctx, vpc.Version, "DescribeVpnConnectionLogs", p, &logs); err != nil {
		return err
	}
	if logs.Count > page {
		p["PageNumber"] = fmt.Sprint((logs.Count + page - 1) / page)
		if err := cl.Call(ctx, vpc.Version, "DescribeVpnConnectionLogs", p, &logs); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "log (last %d minutes):\n", minutes)
	if n := logs.Count - len(logs.Data.Logs); n > 0 {
		fmt.Fprintf(out, "  (%d earlier lines not shown: DescribeVpnConnectionLogs has them all)\n", n)
	}
	if len(logs.Data.Logs) == 0 {
		fmt.Fprintln(out, "  (nothing)")
	}
	for _, l := range logs.Data.Logs {
		fmt.Fprintln(out, "  "+l)
	}
	return nil
}

// connectVpnFlags maps the console's "Create Connection" form onto flags. Like the form,
// the IKE and IPsec flags start at the product page's values and are always sent, so the
// API's own (documented) defaults never apply to them; other flags the user does not set
// are not sent.
type connectVpnFlags struct {
	region, vpnID, vpnOwnerID, name, zone, cgw, networkType, routing, localCidrs, peerCidrs string
	psk, ikeVersion, ikeMode, ikeEnc, ikeAuth, ikeDH, localID, remoteID                     string
	ipsecEnc, ipsecAuth, ipsecDH                                                            string
	ikeLifetime, ipsecLifetime                                                              int
	tunnelCidr, localBgpIP, localAsn, hcDip, hcSip                                          string
	hcInterval, hcRetry                                                                     int
	createResource, applyNow, dpd, natT, bgp, healthCheck, switchRoute, noRouteSync         bool
	tags                                                                                    []string
	wait                                                                                    time.Duration
	advanced                                                                                advancedOptions
}

func trCmd() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{Use: "tr", Short: "Transit routers"}
	cf.register(cmd)
	var f connectVpnFlags
	connectCmd := &cobra.Command{
		Use:   "connect-vpn TR_ID",
		Short: "Attach an IPsec-VPN connection to a transit router, creating it first with --create-resource (the console's Create Connection)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := cf.client()
			if err != nil {
				return err
			}
			return connectVpn(cmd, cl, args[0], &f)
		},
	}
	fl := connectCmd.Flags()
	fl.StringVar(&f.region, "region", "cn-hangzhou", "region of the transit router")
	fl.BoolVar(&f.createResource, "create-resource", false, "create the IPsec-VPN connection from the flags below")
	fl.StringVar(&f.vpnID, "vpn-id", "", "attach this existing IPsec-VPN connection (Select Resource)")
	fl.StringVar(&f.vpnOwnerID, "vpn-owner-id", "", "account that owns --vpn-id (Different Account; it must have granted the connection)")
	fl.StringVar(&f.name, "name", "", "attachment name")
	fl.StringSliceVar(&f.tags, "tag", nil, "tag KEY=VALUE (repeatable)")
	fl.StringVar(&f.networkType, "network-type", "", "gateway type: public (default) or private")
	fl.StringVar(&f.zone, "zone", "", "zone")
	fl.StringVar(&f.cgw, "customer-gateway-id", "", "customer gateway (with --create-resource)")
	fl.StringVar(&f.routing, "routing-mode", "destination", "destination (0.0.0.0/0 selectors) or flow (protect --local-cidrs/--peer-cidrs)")
	fl.StringVar(&f.localCidrs, "local-cidrs", "", "flow protection: cloud-side CIDR blocks, comma-separated")
	fl.StringVar(&f.peerCidrs, "peer-cidrs", "", "flow protection: data-center CIDR blocks, comma-separated")
	fl.BoolVar(&f.applyNow, "apply-immediately", false, "negotiate at once instead of when traffic arrives")
	fl.StringVar(&f.psk, "psk", "", "pre-shared key (default: 16 random characters)")
	ike, ipsec := model.PageIke(), model.PageIpsec()
	fl.StringVar(&f.ikeVersion, "ike-version", ike.IkeVersion, "ikev1 or ikev2")
	fl.StringVar(&f.ikeMode, "ike-mode", ike.IkeMode, "main or aggressive")
	fl.StringVar(&f.ikeEnc, "ike-enc", ike.IkeEncAlg, "aes, aes192, aes256, des, 3des")
	fl.StringVar(&f.ikeAuth, "ike-auth", ike.IkeAuthAlg, "sha1, md5, sha256, sha384, sha512")
	fl.StringVar(&f.ikeDH, "ike-dh", ike.IkePfs, "group1, group2, group5, group14")
	fl.IntVar(&f.ikeLifetime, "ike-lifetime", int(ike.IkeLifetime), "IKE SA lifetime in seconds, 0-86400")
	fl.StringVar(&f.localID, "local-id", "", "cloud-side IKE identity (IP or FQDN; default the gateway IP)")
	fl.StringVar(&f.remoteID, "remote-id", "", "data-center IKE identity (IP or FQDN; default the customer gateway IP)")
	fl.StringVar(&f.ipsecEnc, "ipsec-enc", ipsec.IpsecEncAlg, "aes, aes192, aes256, des, 3des")
	fl.StringVar(&f.ipsecAuth, "ipsec-auth", ipsec.IpsecAuthAlg, "sha1, md5, sha256, sha384, sha512")
	fl.StringVar(&f.ipsecDH, "ipsec-dh", ipsec.IpsecPfs, "disabled, group1, group2, group5, group14")
	fl.IntVar(&f.ipsecLifetime, "ipsec-lifetime", int(ipsec.IpsecLifetime), "IPsec SA lifetime in seconds, 0-86400")
	fl.BoolVar(&f.dpd, "dpd", true, "dead peer detection")
	fl.BoolVar(&f.natT, "nat-traversal", true, "NAT traversal")
	fl.BoolVar(&f.bgp, "bgp", false, "enable BGP over the tunnel")
	fl.StringVar(&f.tunnelCidr, "tunnel-cidr", "", "BGP tunnel /30 inside 169.254.0.0/16")
	fl.StringVar(&f.localBgpIP, "local-bgp-ip", "", "cloud-side BGP address inside --tunnel-cidr")
	fl.StringVar(&f.localAsn, "local-asn", "", "cloud-side ASN (default 45104; 123.456 form accepted)")
	fl.BoolVar(&f.healthCheck, "health-check", false, "enable health checks")
	fl.StringVar(&f.hcDip, "hc-dip", "", "health check destination IP (in the data center)")
	fl.StringVar(&f.hcSip, "hc-sip", "", "health check source IP (cloud side)")
	fl.IntVar(&f.hcInterval, "hc-interval", 0, "seconds between probes (default 3)")
	fl.IntVar(&f.hcRetry, "hc-retry", 0, "lost probes before the check fails (default 3)")
	fl.BoolVar(&f.switchRoute, "hc-switch-route", true, "withdraw the connection's routes while the check fails (revoke_route)")
	fl.BoolVar(&f.noRouteSync, "no-route-sync", false, "do not advertise the transit router's routes to the connection (AutoPublishRouteEnabled=false)")
	fl.DurationVar(&f.wait, "wait", 5*time.Minute, "how long to wait for Attached and the advanced options")
	f.advanced.register(connectCmd)
	cmd.AddCommand(connectCmd)
	cmd.AddCommand(routesCmds(&cf)...)
	return cmd
}

func connectVpn(cmd *cobra.Command, cl *rpc.Client, trID string, f *connectVpnFlags) error {
	ctx := cmd.Context()
	if f.createResource == (f.vpnID != "") {
		return fmt.Errorf("give exactly one of --create-resource and --vpn-id")
	}
	tags, err := parseTags(f.tags)
	if err != nil {
		return err
	}
	att := connect.Attachment{Region: f.region, TransitRouterID: trID, VpnID: f.vpnID, VpnOwnerID: f.vpnOwnerID, Name: f.name, Zone: f.zone, Tags: tags,
		Advanced: f.advanced.options()}
	if cmd.Flags().Changed("no-route-sync") {
		sync := !f.noRouteSync
		att.RouteSync = &sync
	}
	var vpn *connect.VPN
	if f.createResource {
		if f.cgw == "" {
			return fmt.Errorf("--create-resource needs --customer-gateway-id")
		}
		vpn = f.vpn(cmd.Flags().Changed)
		vpn.Tags = tags
	}
	created, err := connect.Attach(ctx, cl, vpn, att)
	if err != nil {
		return fmt.Errorf("attach to %s: %w", trID, err)
	}
	if created.VpnCreated {
		fmt.Fprintf(cmd.ErrOrStderr(), "created IPsec-VPN connection %s\n", created.VpnConnectionID)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "attaching as %s ...\n", created.AttachmentID)
	wait, cancel := context.WithTimeout(ctx, f.wait)
	defer cancel()
	if err := connect.Finish(wait, cl, "ListTransitRouterVpnAttachments", trID, created.AttachmentID, att.Advanced, nil); err != nil {
		return err
	}
	var l struct{ TransitRouterAttachments []map[string]any }
	if err := cl.Call(ctx, cbn.Version, "ListTransitRouterVpnAttachments", map[string]string{"TransitRouterAttachmentId": created.AttachmentID}, &l); err != nil {
		return fmt.Errorf("read back %s: %w", created.AttachmentID, err)
	}
	if len(l.TransitRouterAttachments) != 1 {
		return fmt.Errorf("read back %s: it is gone", created.AttachmentID)
	}
	item := l.TransitRouterAttachments[0]
	result := map[string]any{"TransitRouterAttachmentId": created.AttachmentID, "VpnConnectionId": created.VpnConnectionID,
		"TransitRouterId": trID, "Status": item["Status"], "AutoPublishRouteEnabled": item["AutoPublishRouteEnabled"],
		"Associated": att.Advanced.Associate, "Propagating": att.Advanced.Propagate}
	if f.vpnOwnerID == "" {
		var v map[string]any
		if err := cl.Call(ctx, vpc.Version, "DescribeVpnConnection", map[string]string{"RegionId": f.region, "VpnConnectionId": created.VpnConnectionID}, &v); err != nil {
			return err
		}
		result["InternetIp"], result["State"], result["NegotiationStatus"] = v["InternetIp"], v["State"], v["Status"]
	}
	return printJSON(cmd, result)
}

// vpn maps the flags onto the form: the IKE and IPsec values always (the page's unless
// changed), the health-check numbers only when set (their API defaults are the page's).
func (f *connectVpnFlags) vpn(changed func(string) bool) *connect.VPN {
	num := func(flag string, v int) string {
		if !changed(flag) {
			return ""
		}
		return fmt.Sprint(v)
	}
	return &connect.VPN{Region: f.region, Name: f.name, NetworkType: f.networkType, CustomerGatewayID: f.cgw,
		RoutingMode: f.routing, LocalCidrs: f.localCidrs, PeerCidrs: f.peerCidrs,
		ApplyImmediately: f.applyNow, Dpd: f.dpd, NatTraversal: f.natT,
		Psk: f.psk, IkeVersion: f.ikeVersion, IkeMode: f.ikeMode, IkeEncAlg: f.ikeEnc, IkeAuthAlg: f.ikeAuth, IkePfs: f.ikeDH,
		IkeLifetime: fmt.Sprint(f.ikeLifetime), LocalID: f.localID, RemoteID: f.remoteID,
		IpsecEncAlg: f.ipsecEnc, IpsecAuthAlg: f.ipsecAuth, IpsecPfs: f.ipsecDH, IpsecLifetime: fmt.Sprint(f.ipsecLifetime),
		Bgp: f.bgp, TunnelCidr: f.tunnelCidr, LocalBgpIP: f.localBgpIP, LocalAsn: f.localAsn,
		HealthCheck: f.healthCheck, SwitchRoute: f.switchRoute, HcDip: f.hcDip, HcSip: f.hcSip,
		HcInterval: num("hc-interval", f.hcInterval), HcRetry: num("hc-retry", f.hcRetry)}
}

func parseTags(tags []string) ([]model.Tag, error) {
	var out []model.Tag
	for _, t := range tags {
		k, v, _ := strings.Cut(t, "=")
		if k == "" {
			return nil, fmt.Errorf("--tag %q: use KEY=VALUE", t)
		}
		out = append(out, model.Tag{Key: k, Value: v})
	}
	return out, nil
}
