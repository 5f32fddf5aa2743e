package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"opencen/internal/api/admin"
	"opencen/internal/api/cbn"
	"opencen/internal/api/vpc"
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
	var format, region string
	config := &cobra.Command{
		Use:   "config VCO_ID",
		Short: "Print the customer-side configuration of a connection (strongswan: a complete swanctl.conf; json: the API's structure)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := cf.client()
			if err != nil {
				return err
			}
			params := map[string]string{"RegionId": region, "VpnConnectionId": args[0]}
			switch format {
			case "strongswan":
				params["ConfigFormat"] = format
				var out struct{ Config string }
				if err := cl.Call(cmd.Context(), admin.Version, "RenderVpnConnectionConfig", params, &out); err != nil {
					return err
				}
				_, err := fmt.Fprint(cmd.OutOrStdout(), out.Config)
				return err
			case "json":
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
	cmd.AddCommand(config)
	return cmd
}

// connectVpnFlags maps the console's "Create Connection" form onto flags. Only flags the
// user sets are sent, so the server's defaults (the product page's) apply otherwise.
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
	connect := &cobra.Command{
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
	fl := connect.Flags()
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
	fl.StringVar(&f.ikeVersion, "ike-version", "", "ikev1 or ikev2 (default ikev2)")
	fl.StringVar(&f.ikeMode, "ike-mode", "", "main (default) or aggressive")
	fl.StringVar(&f.ikeEnc, "ike-enc", "", "aes (default), aes192, aes256, des, 3des")
	fl.StringVar(&f.ikeAuth, "ike-auth", "", "sha1 (default), md5, sha256, sha384, sha512")
	fl.StringVar(&f.ikeDH, "ike-dh", "", "group1, group2 (default), group5, group14")
	fl.IntVar(&f.ikeLifetime, "ike-lifetime", 0, "IKE SA lifetime in seconds, 0-86400 (default 86400)")
	fl.StringVar(&f.localID, "local-id", "", "cloud-side IKE identity (IP or FQDN; default the gateway IP)")
	fl.StringVar(&f.remoteID, "remote-id", "", "data-center IKE identity (IP or FQDN; default the customer gateway IP)")
	fl.StringVar(&f.ipsecEnc, "ipsec-enc", "", "aes (default), aes192, aes256, des, 3des")
	fl.StringVar(&f.ipsecAuth, "ipsec-auth", "", "sha1 (default), md5, sha256, sha384, sha512")
	fl.StringVar(&f.ipsecDH, "ipsec-dh", "", "disabled, group1, group2 (default), group5, group14")
	fl.IntVar(&f.ipsecLifetime, "ipsec-lifetime", 0, "IPsec SA lifetime in seconds, 0-86400 (default 86400)")
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
	fl.DurationVar(&f.wait, "wait", 5*time.Minute, "how long to wait for Attached")
	f.advanced.register(connect)
	cmd.AddCommand(connect)
	cmd.AddCommand(routesCmds(&cf)...)
	return cmd
}

func connectVpn(cmd *cobra.Command, cl *rpc.Client, trID string, f *connectVpnFlags) error {
	ctx := cmd.Context()
	changed := cmd.Flags().Changed
	if f.createResource == (f.vpnID != "") {
		return fmt.Errorf("give exactly one of --create-resource and --vpn-id")
	}
	vpnID := f.vpnID
	if f.createResource {
		params, err := vpnParams(cmd.Flags(), f)
		if err != nil {
			return err
		}
		var out struct{ VpnConnectionId string }
		if err := cl.Call(ctx, vpc.Version, "CreateVpnAttachment", params, &out); err != nil {
			return fmt.Errorf("create the IPsec-VPN connection: %w", err)
		}
		vpnID = out.VpnConnectionId
		fmt.Fprintf(cmd.ErrOrStderr(), "created IPsec-VPN connection %s\n", vpnID)
	}
	att := map[string]string{"RegionId": f.region, "TransitRouterId": trID, "VpnId": vpnID, "TransitRouterAttachmentName": f.name}
	if f.vpnOwnerID != "" {
		att["VpnOwnerId"] = f.vpnOwnerID
	}
	if f.zone != "" {
		att["Zone.1.ZoneId"] = f.zone
	}
	if changed("no-route-sync") {
		att["AutoPublishRouteEnabled"] = fmt.Sprint(!f.noRouteSync)
	}
	if err := addTags(att, "Tag", f.tags); err != nil {
		return err
	}
	var created struct{ TransitRouterAttachmentId string }
	if err := cl.Call(ctx, cbn.Version, "CreateTransitRouterVpnAttachment", att, &created); err != nil {
		return fmt.Errorf("attach %s to %s: %w", vpnID, trID, err)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "attaching as %s ...\n", created.TransitRouterAttachmentId)
	item, err := waitAttached(ctx, cl, created.TransitRouterAttachmentId, f.wait)
	if err != nil {
		return err
	}
	if err := f.advanced.apply(ctx, cl, trID, created.TransitRouterAttachmentId); err != nil {
		return err
	}
	result := map[string]any{"TransitRouterAttachmentId": created.TransitRouterAttachmentId, "VpnConnectionId": vpnID,
		"TransitRouterId": trID, "Status": item["Status"], "AutoPublishRouteEnabled": item["AutoPublishRouteEnabled"],
		"Associated": !f.advanced.noAssociate, "Propagating": !f.advanced.noPropagate}
	if f.vpnOwnerID == "" {
		var v map[string]any
		if err := cl.Call(ctx, vpc.Version, "DescribeVpnConnection", map[string]string{"RegionId": f.region, "VpnConnectionId": vpnID}, &v); err != nil {
			return err
		}
		result["InternetIp"], result["State"], result["NegotiationStatus"] = v["InternetIp"], v["State"], v["Status"]
	}
	return printJSON(cmd, result)
}

// vpnParams builds CreateVpnAttachment's parameters from the flags that were set.
func vpnParams(fs *pflag.FlagSet, f *connectVpnFlags) (map[string]string, error) {
	changed := fs.Changed
	p := map[string]string{"RegionId": f.region, "CustomerGatewayId": f.cgw}
	if f.cgw == "" {
		return nil, fmt.Errorf("--create-resource needs --customer-gateway-id")
	}
	for flag, param := range map[string]string{"network-type": "NetworkType", "name": "Name"} {
		if changed(flag) {
			p[param] = fs.Lookup(flag).Value.String()
		}
	}
	switch f.routing {
	case "destination":
		if f.localCidrs != "" || f.peerCidrs != "" {
			return nil, fmt.Errorf("--local-cidrs and --peer-cidrs need --routing-mode flow")
		}
		p["LocalSubnet"], p["RemoteSubnet"] = "0.0.0.0/0", "0.0.0.0/0"
	case "flow":
		if f.localCidrs == "" || f.peerCidrs == "" {
			return nil, fmt.Errorf("--routing-mode flow needs --local-cidrs and --peer-cidrs")
		}
		p["LocalSubnet"], p["RemoteSubnet"] = f.localCidrs, f.peerCidrs
	default:
		return nil, fmt.Errorf("--routing-mode must be destination or flow, not %q", f.routing)
	}
	p["EffectImmediately"] = fmt.Sprint(f.applyNow)
	p["EnableDpd"], p["EnableNatTraversal"] = fmt.Sprint(f.dpd), fmt.Sprint(f.natT)
	ike := map[string]any{}
	for flag, key := range map[string]string{"psk": "Psk", "ike-version": "IkeVersion", "ike-mode": "IkeMode", "ike-enc": "IkeEncAlg",
		"ike-auth": "IkeAuthAlg", "ike-dh": "IkePfs", "local-id": "LocalId", "remote-id": "RemoteId"} {
		if changed(flag) {
			ike[key] = fs.Lookup(flag).Value.String()
		}
	}
	if changed("ike-lifetime") {
		ike["IkeLifetime"] = f.ikeLifetime
	}
	ipsec := map[string]any{}
	for flag, key := range map[string]string{"ipsec-enc": "IpsecEncAlg", "ipsec-auth": "IpsecAuthAlg", "ipsec-dh": "IpsecPfs"} {
		if changed(flag) {
			ipsec[key] = fs.Lookup(flag).Value.String()
		}
	}
	if changed("ipsec-lifetime") {
		ipsec["IpsecLifetime"] = f.ipsecLifetime
	}
	bgp := map[string]any{}
	if f.bgp {
		bgp["EnableBgp"] = true
		bgp["TunnelCidr"], bgp["LocalBgpIp"] = f.tunnelCidr, f.localBgpIP
		if f.localAsn != "" {
			bgp["LocalAsn"] = f.localAsn
		}
	}
	hc := map[string]any{}
	if f.healthCheck {
		hc["enable"], hc["dip"], hc["sip"] = true, f.hcDip, f.hcSip
		if changed("hc-interval") {
			hc["interval"] = f.hcInterval
		}
		if changed("hc-retry") {
			hc["retry"] = f.hcRetry
		}
		hc["Policy"] = map[bool]string{true: "revoke_route", false: "reserve_route"}[f.switchRoute]
	}
	for name, m := range map[string]map[string]any{"IkeConfig": ike, "IpsecConfig": ipsec, "BgpConfig": bgp, "HealthCheckConfig": hc} {
		if len(m) > 0 {
			raw, _ := json.Marshal(m)
			p[name] = string(raw)
		}
	}
	return p, addTags(p, "Tags", f.tags)
}

func addTags(p map[string]string, param string, tags []string) error {
	for i, t := range tags {
		k, v, _ := strings.Cut(t, "=")
		if k == "" {
			return fmt.Errorf("--tag %q: use KEY=VALUE", t)
		}
		p[fmt.Sprintf("%s.%d.Key", param, i+1)], p[fmt.Sprintf("%s.%d.Value", param, i+1)] = k, v
	}
	return nil
}

// waitAttached polls the attachment until it is Attached.
func waitAttached(ctx context.Context, cl *rpc.Client, id string, timeout time.Duration) (map[string]any, error) {
	deadline := time.Now().Add(timeout)
	for {
		var out struct{ TransitRouterAttachments []map[string]any }
		if err := cl.Call(ctx, cbn.Version, "ListTransitRouterVpnAttachments", map[string]string{"TransitRouterAttachmentId": id}, &out); err != nil {
			return nil, err
		}
		if len(out.TransitRouterAttachments) == 1 && out.TransitRouterAttachments[0]["Status"] == "Attached" {
			return out.TransitRouterAttachments[0], nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("attachment %s is not Attached after %s", id, timeout)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
