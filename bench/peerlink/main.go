// Command peerlink measures throughput through an inter-region connection (issue 17),
// built the way a user builds it: an in-process server with its gateway and netns driver,
// driven only through the signed API. One CEN, a transit router in cn-hangzhou with two
// VPCs (hosts A and C, in the lab), one in cn-shanghai with a VPC (host B), an
// inter-region connection between the two routers associated with and propagating into
// both System tables, and a data center (stock strongSwan in the lab) attached to the
// hangzhou router over IPsec-VPN with the product's defaults. iperf3 TCP runs from the data
// center to B across the connection with its bandwidth at -rate (default 50 Mbit/s) and
// unlimited (UpdateTransitRouterPeerAttachmentAttribute, DataTransfer without a cap), and to
// A (the intra-region path); and VPC to VPC, A to B unlimited and A to C, where the link's
// own cost shows. Rounds rotate the order.
//
//	go run ./bench/peerlink [-rate 50] [-t 5s] [-rounds 3]
//
// It needs root and iperf3. Everything it makes carries the run's ID and is removed on
// every exit path; iperf3 servers are stopped by PID.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"opencen/bench/internal/benchkit"
	"opencen/internal/api/cbn"
	"opencen/internal/api/vpc"
	"opencen/internal/config"
	"opencen/internal/dataplane"
	"opencen/internal/dataplane/nsutil"
	"opencen/internal/lab"
	"opencen/internal/rpc"
	"opencen/internal/server"
)

type options struct {
	rateMbps int
	dur      time.Duration
	rounds   int
}

func main() {
	var o options
	flag.IntVar(&o.rateMbps, "rate", 50, "the connection's bandwidth in Mbit/s for the limited runs")
	flag.DurationVar(&o.dur, "t", 5*time.Second, "iperf3 duration per run")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds (each runs every path once, the order rotating)")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "peerlink: needs root (network namespaces)")
		os.Exit(2)
	}
	if _, err := exec.LookPath("iperf3"); err != nil {
		fmt.Fprintln(os.Stderr, "peerlink: needs iperf3 (apt-get install -y iperf3)")
		os.Exit(2)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := benchkit.OnSignal(cancel, "namespaces and iperf3 servers")
	defer stop()
	var cl benchkit.Cleanups
	err := run(ctx, o, &cl)
	cl.Run()
	if err != nil {
		fmt.Fprintln(os.Stderr, "peerlink:", err)
		os.Exit(1)
	}
}

func rid() string {
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:3]
}

func run(ctx context.Context, o options, cl *benchkit.Cleanups) error {
	id := rid()
	benchkit.Logf("run %s", id)
	dir, err := os.MkdirTemp("", "peerlink-"+id)
	if err != nil {
		return err
	}
	cl.Add("run dir", func(context.Context) error { return os.RemoveAll(dir) })
	labPrefix := "p" + id
	l, err := lab.New(ctx, labPrefix, dir+"/lab")
	if err != nil {
		return err
	}
	cl.Add("lab", func(ctx context.Context) error { return l.Down(ctx) })
	logFile, err := os.Create(dir + "/server.log")
	if err != nil {
		return err
	}
	defer logFile.Close()
	log := slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelInfo}))
	secret := "admin-secret-" + id
	in, err := server.Open(ctx, server.Options{DataDir: dir + "/data", Config: config.Default(), TransitionDelay: 100 * time.Millisecond,
		AdminKeyID: "AKADMIN", AdminSecret: secret, Log: log,
		Gateway: server.GatewayOptions{Mode: "on", WANNetns: l.WANNetns, WANBridge: lab.Bridge, WANBits: 15, Prefix: "q" + id + "-",
			RunDir: dir + "/dp", VPCNetnsPrefix: labPrefix + "vpc-"}})
	if err != nil {
		return err
	}
	cl.Add("server", func(context.Context) error { in.Close(); return nil })
	drv, ok := in.Gateway.Driver.(*dataplane.Netns)
	if !ok {
		return errors.New("the server's gateway is not the netns driver")
	}
	cl.Add("data plane", func(ctx context.Context) error { return drv.Cleanup(ctx) })
	srv := httptest.NewServer(in.Handler)
	cl.Add("HTTP server", func(context.Context) error { srv.Close(); return nil })
	bg, stopBG := context.WithCancel(context.Background())
	lifeDone, gwDone := make(chan struct{}), make(chan struct{})
	go func() { defer close(lifeDone); _ = in.Lifecycle.Run(bg) }()
	in.Gateway.Changes = in.Service.WatchDataPlane(bg)
	go func() { defer close(gwDone); _ = in.Gateway.Run(bg) }()
	cl.Add("lifecycle and gateway", func(context.Context) error { stopBG(); <-lifeDone; <-gwDone; return nil })

	admin := &rpc.Client{Endpoint: srv.URL, AccessKeyID: "AKADMIN", AccessKeySecret: secret}
	var acct struct{ AccessKeyId, AccessKeySecret string }
	if err := admin.Call(ctx, "2026-11-01", "CreateAccount", map[string]string{"Name": "peerlink"}, &acct); err != nil {
		return err
	}
	c := &rpc.Client{Endpoint: srv.URL, AccessKeyID: acct.AccessKeyId, AccessKeySecret: acct.AccessKeySecret}
	call := func(version, action string, p map[string]string) (map[string]any, error) {
		return benchkit.Call(ctx, c, version, action, p)
	}

	// Hangzhou: a CEN, its router and VPC A, as every bench builds them.
	hz, err := benchkit.NewRouter(ctx, c, l, drv, netip.MustParsePrefix("10.1.0.0/16"))
	if err != nil {
		return err
	}
	out, err := call(cbn.Version, "DescribeCens", nil)
	if err != nil {
		return err
	}
	cen, err := benchkit.First(out, "Cens", "Cen")
	if err != nil {
		return err
	}
	cenID := benchkit.Str(cen, "CenId")
	hostC, err := addVPC(ctx, c, l, drv, hz.TR, "cn-hangzhou", "cn-hangzhou-h", "10.3.0.0/16")
	if err != nil {
		return err
	}
	// Shanghai: a router of the same CEN and VPC B.
	if out, err = call(cbn.Version, "CreateTransitRouter", map[string]string{"CenId": cenID, "RegionId": "cn-shanghai"}); err != nil {
		return err
	}
	sh := benchkit.Str(out, "TransitRouterId")
	if err := benchkit.WaitFor(ctx, "TR in cn-shanghai", 30*time.Second, poll, func() (bool, error) {
		return benchkit.Status(ctx, c, cbn.Version, "ListTransitRouters", map[string]string{"TransitRouterId": sh}, "Active", "TransitRouters")
	}); err != nil {
		return err
	}
	hostB, err := addVPC(ctx, c, l, drv, sh, "cn-shanghai", "cn-shanghai-e", "10.2.0.0/16")
	if err != nil {
		return err
	}
	// The connection, with the System tables on both sides.
	if out, err = call(cbn.Version, "CreateTransitRouterPeerAttachment", map[string]string{"RegionId": "cn-hangzhou", "TransitRouterId": hz.TR,
		"PeerTransitRouterId": sh, "BandwidthType": "DataTransfer", "Bandwidth": "0",
		"RouteTableAssociationEnabled": "true", "RouteTablePropagationEnabled": "true"}); err != nil {
		return err
	}
	peer := benchkit.Str(out, "TransitRouterAttachmentId")
	if err := benchkit.WaitFor(ctx, "the connection Attached", 30*time.Second, poll, func() (bool, error) {
		return benchkit.Status(ctx, c, cbn.Version, "ListTransitRouterPeerAttachments", map[string]string{"TransitRouterAttachmentId": peer}, "Attached", "TransitRouterAttachments")
	}); err != nil {
		return err
	}
	hostA := hz.VPCHost
	dc, err := addDC(ctx, c, l, hz.TR, hz.System, hostA.CIDR, hostB.CIDR)
	if err != nil {
		return err
	}
	for _, h := range []*lab.VPCHost{hostA, hostB, hostC} {
		if err := startServer(ctx, cl, h); err != nil {
			return err
		}
	}
	// setRate sets the connection's bandwidth through the API and waits until the gateway
	// has put it on both ends of the link and A reaches B.
	setRate := func(mbps int) error {
		if _, err := call(cbn.Version, "UpdateTransitRouterPeerAttachmentAttribute", map[string]string{"TransitRouterAttachmentId": peer,
			"Bandwidth": strconv.Itoa(mbps)}); err != nil {
			return err
		}
		return benchkit.WaitFor(ctx, "the link at the connection's bandwidth", 30*time.Second, poll, func() (bool, error) {
			text, err := drv.Render(ctx)
			if err != nil {
				return false, err
			}
			n := 0
			for line := range strings.Lines(text) {
				if strings.HasPrefix(line, "  link "+peer+" veth ") && (mbps == 0) != strings.Contains(line, " rate ") &&
					(mbps == 0 || strings.Contains(line, fmt.Sprintf(" rate %dkbit", mbps*1000))) {
					n++
				}
			}
			return n == 2 && lab.Ping(ctx, hostA.Netns, hostA.Addr, hostB.Addr, 1) == nil, nil
		})
	}
	type path struct {
		name     string
		mbps     int
		src, dst endpoint
	}
	a, b, cc, d := endpoint{hostA.Netns, hostA.Addr}, endpoint{hostB.Netns, hostB.Addr}, endpoint{hostC.Netns, hostC.Addr}, endpoint{dc.Netns, dc.Host}
	paths := []path{
		{fmt.Sprintf("DC -> B across, %d Mbit/s", o.rateMbps), o.rateMbps, d, b},
		{"DC -> B across, unlimited", 0, d, b},
		{"DC -> A intra-region", -1, d, a},
		{"VPC A -> B across, unlimited", 0, a, b},
		{"VPC A -> C intra-region", -1, a, cc},
	}
	results := map[string][]float64{}
	for round := range o.rounds {
		for k := range paths {
			p := paths[(k+round)%len(paths)]
			if p.mbps >= 0 {
				if err := setRate(p.mbps); err != nil {
					return fmt.Errorf("%s: %w", p.name, err)
				}
			}
			mbps, err := client(ctx, p.src, p.dst, o.dur)
			if err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
			benchkit.Logf("round %d: %s: %.1f Mbit/s", round+1, p.name, mbps)
			results[p.name] = append(results[p.name], mbps)
		}
	}
	fmt.Printf("iperf3 TCP, one stream, %s per run, %d rounds; DC and VPC hosts A, C in cn-hangzhou, VPC host B in cn-shanghai\n", o.dur, o.rounds)
	for _, f := range benchkit.MachineFacts() {
		fmt.Println(f)
	}
	fmt.Printf("%-32s %10s %10s %10s\n", "path (Mbit/s)", "median", "min", "max")
	med := map[string]float64{}
	for _, p := range paths {
		rs := slices.Sorted(slices.Values(results[p.name]))
		med[p.name] = rs[len(rs)/2]
		fmt.Printf("%-32s %10.1f %10.1f %10.1f\n", p.name, rs[len(rs)/2], rs[0], rs[len(rs)-1])
	}
	m := func(i int) float64 { return med[paths[i].name] }
	fmt.Printf("DC across at %d Mbit/s / bandwidth: %.3f (target 0.9 to 1.1)\n", o.rateMbps, m(0)/float64(o.rateMbps))
	fmt.Printf("DC across unlimited / DC intra-region: %.3f (target >= 0.9)\n", m(1)/m(2))
	fmt.Printf("VPC across unlimited / VPC intra-region: %.3f (the link's own cost)\n", m(3)/m(4))
	return nil
}

const poll = 50 * time.Millisecond

// addDC attaches a data center over IPsec-VPN to tr with the product's defaults
// (destination routing: the DC's subnet as a VPN route entry), associated with and
// propagating into table, builds it in the lab from the configuration OpenCEN renders,
// routes the VPCs' CIDRs into its tunnel and waits until the tunnel carries traffic.
func addDC(ctx context.Context, c *rpc.Client, l *lab.Lab, tr, table string, vpcs ...netip.Prefix) (*lab.DC, error) {
	const wan, subnet = "198.18.0.2", "192.168.10.0/24"
	out, err := benchkit.Call(ctx, c, vpc.Version, "CreateCustomerGateway", map[string]string{"RegionId": "cn-hangzhou", "IpAddress": wan, "Asn": "65010"})
	if err != nil {
		return nil, err
	}
	if out, err = benchkit.Call(ctx, c, vpc.Version, "CreateVpnAttachment", map[string]string{"RegionId": "cn-hangzhou",
		"CustomerGatewayId": benchkit.Str(out, "CustomerGatewayId"), "LocalSubnet": "0.0.0.0/0", "RemoteSubnet": "0.0.0.0/0", "EffectImmediately": "true",
		"IkeConfig": `{"IkeVersion":"ikev2","IkeAuthAlg":"sha1"}`, "IpsecConfig": `{"IpsecAuthAlg":"sha1"}`}); err != nil {
		return nil, err
	}
	vco := benchkit.Str(out, "VpnConnectionId")
	if out, err = benchkit.Call(ctx, c, cbn.Version, "CreateTransitRouterVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "TransitRouterId": tr, "VpnId": vco}); err != nil {
		return nil, err
	}
	att := benchkit.Str(out, "TransitRouterAttachmentId")
	if err := benchkit.WaitFor(ctx, "VPN attached", 30*time.Second, poll, func() (bool, error) {
		return benchkit.Status(ctx, c, cbn.Version, "ListTransitRouterVpnAttachments", map[string]string{"TransitRouterAttachmentId": att}, "Attached", "TransitRouterAttachments")
	}); err != nil {
		return nil, err
	}
	if err := benchkit.Link(ctx, c, att, table, poll); err != nil {
		return nil, err
	}
	if _, err := benchkit.Call(ctx, c, vpc.Version, "CreateVcoRouteEntry", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": vco,
		"RouteDest": subnet, "NextHop": vco, "Weight": "0"}); err != nil {
		return nil, err
	}
	var conf struct{ Config string }
	if err := c.Call(ctx, "2026-11-01", "RenderVpnConnectionConfig", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": vco, "ConfigFormat": "strongswan"}, &conf); err != nil {
		return nil, err
	}
	dc, err := l.AddDC(ctx, "dc1", netip.PrefixFrom(netip.MustParseAddr(wan), 15), netip.MustParsePrefix(subnet), conf.Config)
	if err != nil {
		return nil, err
	}
	if err := dc.RouteToTunnel(ctx, vpcs...); err != nil {
		return nil, err
	}
	return dc, benchkit.WaitFor(ctx, "the data center's tunnel", 60*time.Second, 200*time.Millisecond, func() (bool, error) {
		return dc.Ping(ctx, netip.PrefixFrom(vpcs[0].Addr().Next(), 32).Addr(), 1) == nil, nil
	})
}

// addVPC creates a VPC with one vSwitch in region, its host in the lab, and attaches it to
// tr, associated with and propagating into the System table (the creation flags), waiting
// until the gateway has linked the host.
func addVPC(ctx context.Context, c *rpc.Client, l *lab.Lab, drv *dataplane.Netns, tr, region, zone, cidr string) (*lab.VPCHost, error) {
	out, err := benchkit.Call(ctx, c, vpc.Version, "CreateVpc", map[string]string{"RegionId": region, "CidrBlock": cidr})
	if err != nil {
		return nil, err
	}
	vpcID := benchkit.Str(out, "VpcId")
	if err := benchkit.WaitFor(ctx, "VPC", 30*time.Second, poll, func() (bool, error) {
		return benchkit.Status(ctx, c, vpc.Version, "DescribeVpcs", map[string]string{"RegionId": region, "VpcId": vpcID}, "Available", "Vpcs", "Vpc")
	}); err != nil {
		return nil, err
	}
	if out, err = benchkit.Call(ctx, c, vpc.Version, "CreateVSwitch", map[string]string{"RegionId": region, "VpcId": vpcID, "ZoneId": zone, "CidrBlock": cidr}); err != nil {
		return nil, err
	}
	sw := benchkit.Str(out, "VSwitchId")
	if err := benchkit.WaitFor(ctx, "vSwitch", 30*time.Second, poll, func() (bool, error) {
		return benchkit.Status(ctx, c, vpc.Version, "DescribeVSwitches", map[string]string{"RegionId": region, "VSwitchId": sw}, "Available", "VSwitches", "VSwitch")
	}); err != nil {
		return nil, err
	}
	host, err := l.AddVPCHost(ctx, vpcID, netip.MustParsePrefix(cidr))
	if err != nil {
		return nil, err
	}
	if out, err = benchkit.Call(ctx, c, cbn.Version, "CreateTransitRouterVpcAttachment", map[string]string{"RegionId": region, "TransitRouterId": tr, "VpcId": vpcID,
		"ZoneMappings.1.VSwitchId": sw, "ZoneMappings.1.ZoneId": zone, "RouteTableAssociationEnabled": "true", "RouteTablePropagationEnabled": "true"}); err != nil {
		return nil, err
	}
	att := benchkit.Str(out, "TransitRouterAttachmentId")
	return host, benchkit.WaitFor(ctx, "the gateway to link the VPC host", 30*time.Second, poll, func() (bool, error) {
		return exec.CommandContext(ctx, "ip", "-n", drv.RouterNetns(tr), "link", "show", drv.AttachmentLink(att)).Run() == nil, nil
	})
}

// startServer runs iperf3 -s in the host's namespace, stopped by its PID at cleanup.
func startServer(ctx context.Context, cl *benchkit.Cleanups, h *lab.VPCHost) error {
	cmd := exec.Command("ip", "netns", "exec", h.Netns, "iperf3", "-s", "-B", h.Addr.String(), "-p", "5201")
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("iperf3 server: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	pid := cmd.Process.Pid // ip netns exec execs iperf3: this is iperf3's pid
	cl.Add("iperf3 server in "+h.Netns, func(context.Context) error {
		select {
		case <-done:
			return nil
		default:
		}
		err := nsutil.Kill(pid, 2*time.Second)
		<-done
		return err
	})
	for range 100 {
		if out, _ := exec.CommandContext(ctx, "ip", "netns", "exec", h.Netns, "ss", "-Hltn", "sport = :5201").Output(); len(strings.TrimSpace(string(out))) > 0 {
			return nil
		}
		select {
		case <-done:
			return errors.New("iperf3 server exited")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("iperf3 server in %s does not listen", h.Netns)
}

// endpoint is an address in a namespace.
type endpoint struct {
	Netns string
	Addr  netip.Addr
}

// client runs iperf3 -c from src to dst for d and returns the receiver's rate in Mbit/s.
func client(ctx context.Context, src, dst endpoint, d time.Duration) (float64, error) {
	for try := 1; ; try++ {
		ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
		out, err := exec.CommandContext(ctx, "ip", "netns", "exec", src.Netns, "iperf3", "-c", dst.Addr.String(), "-B", src.Addr.String(),
			"-p", "5201", "-t", strconv.FormatFloat(d.Seconds(), 'f', -1, 64), "-J", "--connect-timeout", "5000").Output()
		cancel()
		var r struct {
			Error string `json:"error"`
			End   struct {
				SumReceived struct {
					BitsPerSecond float64 `json:"bits_per_second"`
				} `json:"sum_received"`
			} `json:"end"`
		}
		if jerr := json.Unmarshal(out, &r); jerr != nil {
			return 0, fmt.Errorf("iperf3: %v: %s", err, out)
		}
		if strings.Contains(r.Error, "server is busy") && try < 5 {
			if err := benchkit.SleepCtx(ctx, time.Second); err != nil {
				return 0, err
			}
			continue
		}
		if r.Error != "" {
			return 0, errors.New(r.Error)
		}
		return r.End.SumReceived.BitsPerSecond / 1e6, err
	}
}
