package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"opencen/internal/api/admin"
	"opencen/internal/api/cbn"
	"opencen/internal/api/vpc"
	"opencen/internal/config"
	"opencen/internal/connect"
	"opencen/internal/controller"
	"opencen/internal/lab"
	"opencen/internal/rpc"
	"opencen/internal/server"
)

// demoCmd runs the product page's flow on one machine: server with embedded store and
// gateway, a VPC host, a stock-strongSwan data center, the connection between them.
func demoCmd() *cobra.Command {
	var listen, metricsListen, data string
	var once bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole product-page flow on this machine (root): a data center reaches a VPC through a transit router",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if missing := lab.Missing(); len(missing) > 0 {
				return fmt.Errorf("the demo needs: %s", strings.Join(missing, "; "))
			}
			return runDemo(cmd, listen, metricsListen, data, once)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "API (and console) address")
	cmd.Flags().StringVar(&metricsListen, "metrics-listen", "127.0.0.1:9464", "Prometheus metrics address (/metrics; empty turns it off)")
	cmd.Flags().StringVar(&data, "data", "./opencen-demo-data", "data directory of the demo's store (emptied first)")
	cmd.Flags().BoolVar(&once, "once", false, "exit after the check, cleaning up")
	return cmd
}

func runDemo(cmd *cobra.Command, listen, metricsListen, data string, once bool) error {
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	out := cmd.OutOrStdout()
	say := func(format string, args ...any) { fmt.Fprintf(out, "==> "+format+"\n", args...) }
	const labPrefix, gwPrefix = "ocd-", "ocg-"
	runDir := "/run/opencen/demo"
	// Leftovers of an earlier demo that was killed.
	_ = lab.Cleanup(ctx, labPrefix, filepath.Join(runDir, "lab"))
	if err := os.RemoveAll(data); err != nil {
		return err
	}
	l, err := lab.New(ctx, labPrefix, filepath.Join(runDir, "lab"))
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	key, secret := "LTAIdemo"+fmt.Sprint(time.Now().Unix()), fmt.Sprintf("demo-%d", time.Now().UnixNano())
	gwOpts := server.GatewayOptions{Mode: "on", WANNetns: l.WANNetns, WANBridge: lab.Bridge, WANBits: 15, Prefix: gwPrefix,
		RunDir: filepath.Join(runDir, "dataplane")}
	in, err := server.Open(ctx, server.Options{DataDir: data, Config: config.Default(), TransitionDelay: time.Second,
		AdminKeyID: key, AdminSecret: secret, Log: log, Gateway: gwOpts, MetricsListen: metricsListen})
	if err != nil {
		_ = l.Down(context.Background())
		return err
	}
	var loops sync.WaitGroup
	defer func() {
		cancel() // stop the loops before the store closes
		loops.Wait()
		bg := context.Background()
		if once {
			say("cleaning up")
			if d, ok := in.Gateway.Driver.(interface{ Cleanup(context.Context) error }); ok {
				_ = d.Cleanup(bg)
			}
			_ = l.Down(bg)
		}
		in.Close()
	}()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: in.Handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	if in.Metrics != nil {
		mln, err := net.Listen("tcp", metricsListen)
		if err != nil {
			return fmt.Errorf("--metrics-listen: %w", err)
		}
		defer in.Metrics.Server(mln).Close()
		say("Prometheus metrics on http://%s/metrics", mln.Addr())
	}
	loops.Add(3)
	go func() { defer loops.Done(); _ = in.Lifecycle.Run(ctx) }()
	go func() {
		defer loops.Done()
		_ = (&controller.Metering{Meter: in.Service, Log: log}).Run(ctx)
	}()
	go func() { defer loops.Done(); _ = in.Gateway.Run(ctx) }()
	say("OpenCEN is serving on http://%s (admin key %s / %s)", ln.Addr(), key, secret)

	d := &demo{ctx: ctx, say: say, c: &rpc.Client{Endpoint: "http://" + ln.Addr().String(), AccessKeyID: key, AccessKeySecret: secret}}
	if err := d.run(l, cmd); err != nil {
		return err
	}
	if once {
		return nil
	}
	say("console: http://%s/console (sign in with AccessKey ID %s and secret %s); the connection's tunnel, BGP and health status show live there", ln.Addr(), key, secret)
	say("running; the lab stays up for the console and the CLI. Ctrl-C stops the server (the data plane keeps running; run the demo again or `opencen lab down` to remove it)")
	<-ctx.Done()
	return nil
}

type demo struct {
	ctx context.Context
	say func(string, ...any)
	c   *rpc.Client
	err error
}

// call runs an action and returns its answer; the first error stops the demo.
func (d *demo) call(version, action string, p map[string]string) map[string]any {
	if d.err != nil {
		return map[string]any{}
	}
	var out map[string]any
	if err := d.c.Call(d.ctx, version, action, p, &out); err != nil {
		d.err = fmt.Errorf("%s: %w", action, err)
		return map[string]any{}
	}
	return out
}

func (d *demo) wait(what string, cond func() bool) {
	for deadline := time.Now().Add(2 * time.Minute); d.err == nil && !cond(); time.Sleep(300 * time.Millisecond) {
		if time.Now().After(deadline) {
			d.err = fmt.Errorf("timed out waiting for %s", what)
		}
	}
}

func field(m map[string]any, path ...string) any {
	var v any = m
	for _, k := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			if len(x) == 0 {
				return nil
			}
			m, ok := x[0].(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		default:
			return nil
		}
	}
	return v
}

func (d *demo) run(l *lab.Lab, cmd *cobra.Command) error {
	const region = "cn-hangzhou"
	d.say("creating a CEN instance and a transit router in %s", region)
	cen, _ := d.call(cbn.Version, "CreateCen", map[string]string{"Name": "demo"})["CenId"].(string)
	d.wait("CEN Active", func() bool {
		return field(d.call(cbn.Version, "DescribeCens", map[string]string{"Filter.1.Key": "CenId", "Filter.1.Value.1": cen}), "Cens", "Cen", "Status") == "Active"
	})
	tr, _ := d.call(cbn.Version, "CreateTransitRouter", map[string]string{"CenId": cen, "RegionId": region, "TransitRouterName": "demo"})["TransitRouterId"].(string)
	d.wait("TR Active", func() bool {
		return field(d.call(cbn.Version, "ListTransitRouters", map[string]string{"TransitRouterId": tr}), "TransitRouters", "Status") == "Active"
	})
	d.say("creating VPC 10.10.0.0/16 with a host at 10.10.0.1, attached to %s", tr)
	vpcID, _ := d.call(vpc.Version, "CreateVpc", map[string]string{"RegionId": region, "CidrBlock": "10.10.0.0/16", "VpcName": "demo"})["VpcId"].(string)
	d.wait("VPC Available", func() bool {
		return field(d.call(vpc.Version, "DescribeVpcs", map[string]string{"RegionId": region, "VpcId": vpcID}), "Vpcs", "Vpc", "Status") == "Available"
	})
	vsw, _ := d.call(vpc.Version, "CreateVSwitch", map[string]string{"RegionId": region, "VpcId": vpcID, "ZoneId": "cn-hangzhou-h", "CidrBlock": "10.10.0.0/24"})["VSwitchId"].(string)
	d.wait("vSwitch Available", func() bool {
		return field(d.call(vpc.Version, "DescribeVSwitches", map[string]string{"RegionId": region, "VSwitchId": vsw}), "VSwitches", "VSwitch", "Status") == "Available"
	})
	if d.err != nil {
		return d.err
	}
	host, err := l.AddVPCHost(d.ctx, vpcID, netip.MustParsePrefix("10.10.0.0/16"))
	if err != nil {
		return err
	}
	// As an operator binds a VPC to its real segment: here the VPC host's bridge.
	d.say("binding %s to the VPC host's bridge (opencen admin vpc bind %s --netns %s --bridge %s)", vpcID, vpcID, host.Netns, lab.VPCBridge)
	d.call(admin.Version, "BindVpc", host.BindParams(vpcID))
	adv := connect.Advanced{Associate: true, Propagate: true}
	p := map[string]string{"RegionId": region, "TransitRouterId": tr, "VpcId": vpcID, "ZoneMappings.1.ZoneId": "cn-hangzhou-h", "ZoneMappings.1.VSwitchId": vsw}
	adv.Set(p)
	vpcAtt, _ := d.call(cbn.Version, "CreateTransitRouterVpcAttachment", p)["TransitRouterAttachmentId"].(string)
	if d.err != nil {
		return d.err
	}
	if err := connect.Finish(d.ctx, d.c, "ListTransitRouterVpcAttachments", tr, vpcAtt, adv, nil); err != nil {
		return err
	}
	d.say("creating customer gateway 198.18.0.2 and an IPsec-VPN connection with the product page's values")
	cgw, _ := d.call(vpc.Version, "CreateCustomerGateway", map[string]string{"RegionId": region, "IpAddress": "198.18.0.2", "Name": "dc1"})["CustomerGatewayId"].(string)
	p = map[string]string{"RegionId": region, "CustomerGatewayId": cgw, "Name": "dc1", "LocalSubnet": "0.0.0.0/0", "RemoteSubnet": "0.0.0.0/0"}
	if err := connect.PageValues(p); err != nil {
		return err
	}
	vco, _ := d.call(vpc.Version, "CreateVpnAttachment", p)["VpnConnectionId"].(string)
	p = map[string]string{"RegionId": region, "TransitRouterId": tr, "VpnId": vco, "Zone.1.ZoneId": "cn-hangzhou-h"}
	adv.Set(p)
	att, _ := d.call(cbn.Version, "CreateTransitRouterVpnAttachment", p)["TransitRouterAttachmentId"].(string)
	if d.err != nil {
		return d.err
	}
	if err := connect.Finish(d.ctx, d.c, "ListTransitRouterVpnAttachments", tr, att, adv, nil); err != nil {
		return err
	}
	d.call(vpc.Version, "CreateVcoRouteEntry", map[string]string{"RegionId": region, "VpnConnectionId": vco, "RouteDest": "192.168.10.0/24", "NextHop": vco, "Weight": "0"})
	var conf struct{ Config string }
	if d.err == nil {
		d.err = d.c.Call(d.ctx, admin.Version, "RenderVpnConnectionConfig", map[string]string{"RegionId": region, "VpnConnectionId": vco, "ConfigFormat": "strongswan"}, &conf)
	}
	if d.err != nil {
		return d.err
	}
	d.say("building data center dc1 (198.18.0.2, host 192.168.10.1) with stock strongSwan, configured from OpenCEN's download")
	dc, err := l.AddDC(d.ctx, "dc1", netip.MustParsePrefix("198.18.0.2/15"), netip.MustParsePrefix("192.168.10.0/24"), conf.Config)
	if err != nil {
		return err
	}
	if err := dc.RouteToTunnel(d.ctx, host.CIDR); err != nil {
		return err
	}
	d.say("waiting for the tunnel")
	d.wait("ipsec_sa_established", func() bool {
		return d.call(vpc.Version, "DescribeVpnConnection", map[string]string{"RegionId": region, "VpnConnectionId": vco})["Status"] == "ipsec_sa_established"
	})
	if d.err != nil {
		return d.err
	}
	var pingErr error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if pingErr = dc.Ping(d.ctx, host.Addr, 1); pingErr == nil {
			break
		}
	}
	if pingErr == nil {
		pingErr = errors.Join(dc.Ping(d.ctx, host.Addr, 3), host.Ping(d.ctx, dc.Host, 3))
	}
	v := d.call(vpc.Version, "DescribeVpnConnection", map[string]string{"RegionId": region, "VpnConnectionId": vco})
	d.say("connection %s: State %v, Status %v, gateway IP %v", vco, v["State"], v["Status"], v["InternetIp"])
	if sas, err := dc.Charon.Swanctl(d.ctx, "--list-sas"); err == nil {
		d.say("the data center's security associations:\n%s", sas)
	}
	d.say("route tables of %s:", tr)
	if err := printRoutes(cmd, d.c, tr, "", false); err != nil {
		return err
	}
	if pingErr != nil {
		return fmt.Errorf("the data center did not reach the VPC: %w", pingErr)
	}
	d.say("ping 192.168.10.1 (DC host) <-> %s (VPC host): OK both ways", host.Addr)
	return d.err
}
