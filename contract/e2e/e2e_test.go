// Package e2e runs OpenCEN end to end on real namespaces: the API configures transit
// routers and IPsec-VPN connections, the gateway runs them with strongSwan, and stock
// strongSwan data centers built by the lab reach VPC hosts through them.
package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	cbnsdk "github.com/alibabacloud-go/cbn-20170912/v2/client"
	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	"github.com/alibabacloud-go/tea/dara"

	"opencen/internal/config"
	"opencen/internal/connect"
	"opencen/internal/dataplane"
	"opencen/internal/dataplane/nsutil"
	"opencen/internal/lab"
	"opencen/internal/rpc"
	"opencen/internal/server"
	"opencen/internal/testenv"
	"opencen/internal/testserver"
)

func randomSuffix() string {
	b := make([]byte, 2)
	rand.Read(b)
	return hex.EncodeToString(b)[:3]
}

// world is a lab plus a server with its gateway, all torn down at the end.
type world struct {
	t   testing.TB
	ctx context.Context
	lab *lab.Lab
	// c is OpenCEN's own client, for its own product (RenderVpnConnectionConfig); sdk is
	// the stock Alibaba Tea client every Cbn and Vpc action goes through.
	c        *rpc.Client
	sdk      *cbnsdk.Client
	in       *server.Instance
	gwPrefix string
	gwOpts   server.GatewayOptions
	gwStop   func()
	// confEdit, when set, changes the rendered swanctl.conf before a DC loads it (a
	// customer who configures something else than OpenCEN handed out).
	confEdit func(string) string
	log      *slog.Logger
	// cgwASN is the ASN of the customer gateways connect creates.
	cgwASN string
	// dir holds the lab, the data plane's files and server.log.
	dir string
	// admin binds the lab's VPC hosts to their VPCs, as an operator binds real segments.
	admin *rpc.Client
	// charonOf is the charon of a connection's (or tunnel's) cell, wherever it runs.
	charonOf func(id string) nsutil.Charon
}

func newWorld(t *testing.T) *world { return newWorldWith(t, nil) }

// newWorldWith is newWorld with prepare run after the lab is up and before the server
// starts: it may build more of the world and change the catalog and gateway options.
func newWorldWith(t testing.TB, prepare func(w *world, cfg *config.Config, o *server.GatewayOptions)) *world {
	testenv.RequireDataplane(t)
	ctx, cancel := context.WithCancel(context.Background())
	labPrefix, gwPrefix := "l"+randomSuffix(), "g"+randomSuffix()
	dir := t.TempDir()
	l, err := lab.New(ctx, labPrefix, dir+"/lab")
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, ctx: ctx, lab: l, gwPrefix: gwPrefix, dir: dir}
	// The server's log, data-plane diagnostics included, goes to a file whose tail a failed
	// test prints, with the charons' logs (see dumpLogs); -v also shows it as it happens.
	logFile, err := os.Create(dir + "/server.log")
	if err != nil {
		t.Fatal(err)
	}
	var logTo io.Writer = logFile
	if testing.Verbose() {
		logTo = io.MultiWriter(logFile, os.Stderr)
	}
	log := slog.New(slog.NewTextHandler(logTo, &slog.HandlerOptions{Level: slog.LevelDebug}))
	w.gwOpts = server.GatewayOptions{Mode: "on", WANNetns: l.WANNetns, WANBridge: lab.Bridge, WANBits: 15, Prefix: gwPrefix,
		RunDir: dir + "/dp", DPDDelay: 2 * time.Second, SpeakerBinary: testserver.Build(t)}
	w.log = log
	cfg := config.Default()
	t.Cleanup(func() { // a setup that failed before the server: the lab goes all the same
		if w.in == nil {
			_ = l.Down(context.Background())
		}
	})
	if prepare != nil {
		prepare(w, &cfg, &w.gwOpts)
	}
	in, err := server.Open(ctx, server.Options{DataDir: dir + "/data", Config: cfg, TransitionDelay: 100 * time.Millisecond,
		AdminKeyID: "AKADMIN", AdminSecret: "admin-secret", Log: log, Gateway: w.gwOpts})
	if err != nil {
		l.Down(context.Background())
		t.Fatal(err)
	}
	w.in = in
	w.charonOf = in.Gateway.Driver.(*dataplane.Netns).CharonOf
	srv := httptest.NewServer(in.Handler)
	done := make(chan struct{}, 1)
	go func() { _ = in.Lifecycle.Run(ctx); done <- struct{}{} }()
	w.startGateway()
	t.Cleanup(func() {
		srv.Close()
		w.gwStop()
		cancel()
		<-done
		bg := context.Background()
		if d, ok := in.Gateway.Driver.(interface{ Cleanup(context.Context) error }); ok {
			if err := d.Cleanup(bg); err != nil {
				t.Errorf("data-plane cleanup: %v", err)
			}
		}
		if err := l.Down(bg); err != nil {
			t.Errorf("lab down: %v", err)
		}
		in.Close()
	})
	admin := &rpc.Client{Endpoint: srv.URL, AccessKeyID: "AKADMIN", AccessKeySecret: "admin-secret"}
	w.admin = admin
	var acct struct{ AccessKeyId, AccessKeySecret string }
	if err := admin.Call(ctx, "2026-11-01", "CreateAccount", map[string]string{"Name": "e2e"}, &acct); err != nil {
		t.Fatal(err)
	}
	w.c = &rpc.Client{Endpoint: srv.URL, AccessKeyID: acct.AccessKeyId, AccessKeySecret: acct.AccessKeySecret}
	sdk, err := cbnsdk.NewClient(&openapiutil.Config{AccessKeyId: dara.String(acct.AccessKeyId), AccessKeySecret: dara.String(acct.AccessKeySecret),
		RegionId: dara.String("cn-hangzhou"), Endpoint: dara.String(strings.TrimPrefix(srv.URL, "http://")), Protocol: dara.String("HTTP")})
	if err != nil {
		t.Fatal(err)
	}
	w.sdk = sdk
	t.Cleanup(func() { // first of the cleanups: the logs are still there
		if t.Failed() {
			dumpLogs(t, dir)
		}
	})
	return w
}

// dumpLogs prints the tails of the server's log and of every charon's (cells and data
// centers) under dir.
func dumpLogs(t testing.TB, dir string) {
	logs, _ := filepath.Glob(filepath.Join(dir, "*", "*", "charon.log"))
	for _, f := range append([]string{filepath.Join(dir, "server.log")}, logs...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Logf("%s: %v", f, err)
			continue
		}
		logTail(t, strings.TrimPrefix(f, dir+"/"), strings.Split(strings.TrimSpace(string(b)), "\n"), 60)
	}
}

func logTail(t testing.TB, name string, lines []string, n int) {
	t.Logf("last %d lines of %s:\n%s", min(len(lines), n), name, strings.Join(lines[max(0, len(lines)-n):], "\n"))
}

// connectionLogs prints what a failed check on one connection needs first (the whole
// output may be cut): the server's log lines about it and the tails of its two charons'.
func (w *world) connectionLogs(c connection, cell nsutil.Charon) {
	w.t.Helper()
	b, err := os.ReadFile(filepath.Join(w.dir, "server.log"))
	if err != nil {
		w.t.Log(err)
	}
	var about []string
	for l := range strings.Lines(string(b)) {
		if strings.Contains(l, c.vco) {
			about = append(about, strings.TrimSuffix(l, "\n"))
		}
	}
	logTail(w.t, "server.log, lines about "+c.vco, about, 80)
	for _, ch := range []nsutil.Charon{cell, c.dc.Charon} {
		tail, err := ch.LogTail(120)
		w.t.Logf("last lines of %s (%v):\n%s", ch.LogFile(), err, tail)
	}
}

// startGateway runs the instance's gateway loop until gwStop.
func (w *world) startGateway() {
	ctx, cancel := context.WithCancel(w.ctx)
	done := make(chan struct{})
	gw := w.in.Gateway
	gw.Changes = w.in.Service.WatchDataPlane(ctx)
	// Counters read every 2 s rather than 10: the metering test waits for readings.
	gw.MeterEvery = 2 * time.Second
	go func() { defer close(done); _ = gw.Run(ctx) }()
	w.gwStop = func() { cancel(); <-done }
}

// restartGateway replaces the gateway with a new one (new driver, same prefix), as a
// restarted process would: it must re-adopt what runs.
func (w *world) restartGateway() {
	w.gwStop()
	gw, _, err := server.NewGateway(w.in.Service, w.gwOpts, w.log)
	if err != nil {
		w.t.Fatal(err)
	}
	w.in.Gateway = gw
	w.startGateway()
}

// call performs a Cbn or Vpc action through the stock SDK's generic entry point (ACS3).
func (w *world) call(version, action string, p map[string]string) map[string]any {
	w.t.Helper()
	q := map[string]*string{}
	for k, v := range p {
		q[k] = dara.String(v)
	}
	params := &openapiutil.Params{Action: dara.String(action), Version: dara.String(version), Protocol: dara.String("HTTP"),
		Pathname: dara.String("/"), Method: dara.String("POST"), AuthType: dara.String("AK"), Style: dara.String("RPC"),
		ReqBodyType: dara.String("formData"), BodyType: dara.String("json")}
	resp, err := w.sdk.CallApi(params, &openapiutil.OpenApiRequest{Query: q}, &dara.RuntimeOptions{})
	if err != nil {
		w.t.Fatalf("%s %v: %v", action, p, err)
	}
	// Re-decode so numbers and nesting look the same whatever the SDK's decoder produced.
	raw, err := json.Marshal(resp["body"])
	if err != nil {
		w.t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		w.t.Fatal(err)
	}
	return out
}

func (w *world) cbn(action string, p map[string]string) map[string]any {
	return w.call("2017-09-12", action, p)
}
func (w *world) vpc(action string, p map[string]string) map[string]any {
	return w.call("2016-04-28", action, p)
}

func (w *world) waitFor(what string, timeout time.Duration, cond func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			w.t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func first(v any, keys ...string) map[string]any {
	for _, k := range keys {
		v = v.(map[string]any)[k]
	}
	return v.([]any)[0].(map[string]any)
}

// router is a transit router with a VPC host attached, associated and propagating.
type router struct {
	cen, tr, system, vpc string
	vpcHost              *lab.VPCHost
}

func (w *world) router(vpcCidr string) router {
	var r router
	r.cen = w.cbn("CreateCen", nil)["CenId"].(string)
	w.waitFor("CEN", 10*time.Second, func() bool {
		return first(w.cbn("DescribeCens", map[string]string{"Filter.1.Key": "CenId", "Filter.1.Value.1": r.cen}), "Cens", "Cen")["Status"] == "Active"
	})
	r.tr = w.cbn("CreateTransitRouter", map[string]string{"CenId": r.cen, "RegionId": "cn-hangzhou"})["TransitRouterId"].(string)
	w.waitFor("TR", 10*time.Second, func() bool {
		return first(w.cbn("ListTransitRouters", map[string]string{"TransitRouterId": r.tr}), "TransitRouters")["Status"] == "Active"
	})
	r.system = first(w.cbn("ListTransitRouterRouteTables", map[string]string{"TransitRouterId": r.tr}), "TransitRouterRouteTables")["TransitRouterRouteTableId"].(string)
	r.vpc, r.vpcHost = w.attachVPC(r, vpcCidr, true)
	return r
}

// attachVPC creates a VPC with a vSwitch and attaches it to r, associated with and
// propagated to r's system table. With labHost, the VPC gets a lab VPC host, bound to its
// bridge as an operator binds a segment (opencen admin vpc bind); without, the caller
// binds it.
func (w *world) attachVPC(r router, vpcCidr string, labHost bool) (string, *lab.VPCHost) {
	vpc := w.vpc("CreateVpc", map[string]string{"RegionId": "cn-hangzhou", "CidrBlock": vpcCidr})["VpcId"].(string)
	w.waitFor("VPC", 10*time.Second, func() bool {
		return first(w.vpc("DescribeVpcs", map[string]string{"RegionId": "cn-hangzhou", "VpcId": vpc}), "Vpcs", "Vpc")["Status"] == "Available"
	})
	sw := w.vpc("CreateVSwitch", map[string]string{"RegionId": "cn-hangzhou", "VpcId": vpc, "ZoneId": "cn-hangzhou-h", "CidrBlock": vpcCidr})["VSwitchId"].(string)
	w.waitFor("vSwitch", 10*time.Second, func() bool {
		return first(w.vpc("DescribeVSwitches", map[string]string{"RegionId": "cn-hangzhou", "VSwitchId": sw}), "VSwitches", "VSwitch")["Status"] == "Available"
	})
	var host *lab.VPCHost
	if labHost {
		var err error
		if host, err = w.lab.AddVPCHost(w.ctx, vpc, netip.MustParsePrefix(vpcCidr)); err != nil {
			w.t.Fatal(err)
		}
		if err := w.admin.Call(w.ctx, "2026-11-01", "BindVpc", host.BindParams(vpc), nil); err != nil {
			w.t.Fatal(err)
		}
	}
	att := w.cbn("CreateTransitRouterVpcAttachment", map[string]string{"RegionId": "cn-hangzhou", "TransitRouterId": r.tr, "VpcId": vpc,
		"ZoneMappings.1.VSwitchId": sw, "ZoneMappings.1.ZoneId": "cn-hangzhou-h"})["TransitRouterAttachmentId"].(string)
	w.waitFor("VPC attached", 10*time.Second, func() bool {
		return first(w.cbn("ListTransitRouterVpcAttachments", map[string]string{"TransitRouterAttachmentId": att}), "TransitRouterAttachments")["Status"] == "Attached"
	})
	w.link(att, r.system)
	return vpc, host
}

// link associates an attachment with a table and propagates it there (the console's
// advanced options).
func (w *world) link(att, table string) {
	for _, op := range []struct{ action, list, key string }{
		{"AssociateTransitRouterAttachmentWithRouteTable", "ListTransitRouterRouteTableAssociations", "TransitRouterAssociations"},
		{"EnableTransitRouterRouteTablePropagation", "ListTransitRouterRouteTablePropagations", "TransitRouterPropagations"},
	} {
		w.cbn(op.action, map[string]string{"TransitRouterAttachmentId": att, "TransitRouterRouteTableId": table})
		w.waitFor(op.action, 10*time.Second, func() bool {
			items := w.cbn(op.list, map[string]string{"TransitRouterRouteTableId": table, "TransitRouterAttachmentId": att})[op.key].([]any)
			return len(items) == 1 && items[0].(map[string]any)["Status"] == "Active"
		})
	}
}

// connection creates an IPsec-VPN connection with extra parameters, attaches it,
// associates and propagates it, and gives the data center's subnet as a VPN-side route
// (destination routing) — the flow of the product page.
type connection struct {
	vco, att string
	dc       *lab.DC
	ikev1    bool
}

func (w *world) connect(r router, dcName, dcWAN, dcSubnet string, params map[string]string) connection {
	asn := w.cgwASN
	if asn == "" {
		asn = "65010"
	}
	cgw := w.vpc("CreateCustomerGateway", map[string]string{"RegionId": "cn-hangzhou", "IpAddress": dcWAN, "Asn": asn})["CustomerGatewayId"].(string)
	p := map[string]string{"RegionId": "cn-hangzhou", "CustomerGatewayId": cgw, "EffectImmediately": "true"}
	for k, v := range params {
		p[k] = v
	}
	w.pageValues(p)
	var c connection
	c.vco = w.vpc("CreateVpnAttachment", p)["VpnConnectionId"].(string)
	c.att = w.cbn("CreateTransitRouterVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "TransitRouterId": r.tr, "VpnId": c.vco})["TransitRouterAttachmentId"].(string)
	w.waitFor("VPN attached", 10*time.Second, func() bool {
		return first(w.cbn("ListTransitRouterVpnAttachments", map[string]string{"TransitRouterAttachmentId": c.att}), "TransitRouterAttachments")["Status"] == "Attached"
	})
	w.link(c.att, r.system)
	v := w.vpc("DescribeVpnConnection", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": c.vco})
	bgpOn := v["VpnBgpConfig"].(map[string]any)["EnableBgp"] == "true"
	c.ikev1 = v["IkeConfig"].(map[string]any)["IkeVersion"] == "ikev1"
	if v["LocalSubnet"] == "0.0.0.0/0" && !bgpOn {
		w.vpc("CreateVcoRouteEntry", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": c.vco, "RouteDest": dcSubnet, "NextHop": c.vco, "Weight": "0"})
	}
	// The data center is configured only from what OpenCEN hands out.
	var conf struct{ Config string }
	if err := w.c.Call(w.ctx, "2026-11-01", "RenderVpnConnectionConfig", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": c.vco, "ConfigFormat": "strongswan"}, &conf); err != nil {
		w.t.Fatal(err)
	}
	if w.confEdit != nil {
		conf.Config = w.confEdit(conf.Config)
	}
	dc, err := w.lab.AddDC(w.ctx, dcName, netip.PrefixFrom(netip.MustParseAddr(dcWAN), 15), netip.MustParsePrefix(dcSubnet), conf.Config)
	if err != nil {
		w.t.Fatal(err)
	}
	if v["LocalSubnet"] == "0.0.0.0/0" && !bgpOn {
		if err := dc.RouteToTunnel(w.ctx, r.vpcHost.CIDR); err != nil {
			w.t.Fatal(err)
		}
	}
	c.dc = dc
	return c
}

func (w *world) waitEstablished(vco string) {
	w.waitFor(vco+" ipsec_sa_established", 60*time.Second, func() bool {
		return w.vpc("DescribeVpnConnection", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": vco})["Status"] == "ipsec_sa_established"
	})
}

// waitAgreed waits until the connection's cell has one established IKE SA and the data
// center has it too. The DC initiates as well, so the two ends usually cross; the cell
// must then keep the SA the DC kept (strongSwan destroys its older SA on the cell's
// INITIAL_CONTACT without a word), or traffic stops until DPD notices.
func (w *world) waitAgreed(c connection) {
	w.t.Helper()
	cell := w.charonOf(c.vco)
	// The cell deletes IKEv2 duplicates after a second (it looks every 2 s); charon deletes
	// IKEv1 ones ten seconds after the newer came up, and the cell what charon left at 13 s.
	within := 8 * time.Second
	if c.ikev1 {
		within = 25 * time.Second
	}
	if _, err := c.dc.WaitSameIKE(w.ctx, cell, within); err != nil {
		w.connectionLogs(c, cell)
		w.t.Fatalf("%s: %v", c.vco, err)
	}
}

func TestProductDefaultsDCReachesVPC(t *testing.T) {
	w := newWorld(t)
	r := w.router("10.10.0.0/16")
	c := w.connect(r, "dc1", "198.18.0.2", "192.168.10.0/24", nil)
	w.waitEstablished(c.vco)
	w.waitAgreed(c)
	w.pingBothWays(c.dc, r.vpcHost)
	logs := w.vpc("DescribeVpnConnectionLogs", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": c.vco, "MinutePeriod": "10", "PageSize": "50"})
	if !strings.Contains(strings.ToLower(strings.Join(toStrings(logs["Data"].(map[string]any)["Logs"]), "\n")), "established") {
		t.Fatalf("connection logs lack the establishment: %v", logs)
	}
}

// pingBothWays waits (the gateway programs routes within a sync or two) until the DC host
// and the VPC host reach each other, then pings both ways.
func (w *world) pingBothWays(dc *lab.DC, host *lab.VPCHost) {
	w.t.Helper()
	w.pingBothWaysAt(dc, host.Netns, host.Addr)
}

// pingBothWaysAt is pingBothWays with any host: the address addr in namespace ns.
func (w *world) pingBothWaysAt(dc *lab.DC, ns string, addr netip.Addr) {
	w.t.Helper()
	if err := w.reach(dc, addr); err != nil {
		w.t.Fatalf("DC host -> %s: %v", addr, err)
	}
	if err := dc.Ping(w.ctx, addr, 3); err != nil {
		w.t.Fatalf("DC host -> %s: %v", addr, err)
	}
	if err := lab.Ping(w.ctx, ns, addr, dc.Host, 3); err != nil {
		w.t.Fatalf("%s -> DC host: %v", addr, err)
	}
}

// reach waits (20 s at most) until the DC host gets an answer from dst.
func (w *world) reach(dc *lab.DC, dst netip.Addr) error {
	var err error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		if err = dc.Ping(w.ctx, dst, 1); err == nil {
			return nil
		}
	}
	return err
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// TestParameterMatrix: every product-page choice that changes the negotiation reaches
// ipsec_sa_established with a stock strongSwan peer and carries traffic both ways.
func TestParameterMatrix(t *testing.T) {
	w := newWorld(t)
	r := w.router("10.20.0.0/16")
	psk100 := "Ab1~!`@#$%^&*()_-+={}[]|;:\",.<>/?" + strings.Repeat("x", 100-len("Ab1~!`@#$%^&*()_-+={}[]|;:\",.<>/?"))
	cases := []struct {
		name   string
		params map[string]string
	}{
		{"ikev1-main", map[string]string{"IkeConfig": `{"IkeVersion":"ikev1","IkeMode":"main"}`}},
		{"ikev1-aggressive-fqdn", map[string]string{"IkeConfig": `{"IkeVersion":"ikev1","IkeMode":"aggressive","LocalId":"cloud.example.com","RemoteId":"dc.example.net"}`}},
		{"3des-md5-group1", map[string]string{"IkeConfig": `{"IkeEncAlg":"3des","IkeAuthAlg":"md5","IkePfs":"group1"}`,
			"IpsecConfig": `{"IpsecEncAlg":"3des","IpsecAuthAlg":"md5","IpsecPfs":"group1"}`}},
		{"aes256-sha512-group14", map[string]string{"IkeConfig": `{"IkeEncAlg":"aes256","IkeAuthAlg":"sha512","IkePfs":"group14"}`,
			"IpsecConfig": `{"IpsecEncAlg":"aes256","IpsecAuthAlg":"sha512","IpsecPfs":"group14"}`}},
		{"pfs-disabled", map[string]string{"IpsecConfig": `{"IpsecPfs":"disabled"}`}},
		{"psk-100-symbols", map[string]string{"IkeConfig": `{"Psk":` + jsonString(psk100) + `}`}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w.t = t
			c := w.connect(r, tc.name[:min(8, len(tc.name))]+fmt.Sprint(i), fmt.Sprintf("198.18.0.%d", 20+i), fmt.Sprintf("192.168.%d.0/24", 20+i), tc.params)
			w.waitEstablished(c.vco)
			w.waitAgreed(c)
			w.pingBothWays(c.dc, r.vpcHost)
		})
	}
}

// pageValues sends the product page's IKE and IPsec values (IKEv2, SHA1) for every key of
// IkeConfig / IpsecConfig that p does not set: these tests were written against them, and
// the API's own defaults (the SDK model's IKEv1, MD5) differ.
func (w *world) pageValues(p map[string]string) {
	w.t.Helper()
	if err := connect.PageValues(p); err != nil {
		w.t.Fatal(err)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func (w *world) status(vco string) string {
	return w.vpc("DescribeVpnConnection", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": vco})["Status"].(string)
}

func (w *world) logs(vco string) string {
	out := w.vpc("DescribeVpnConnectionLogs", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": vco, "MinutePeriod": "10", "PageSize": "50"})
	return strings.Join(toStrings(out["Data"].(map[string]any)["Logs"]), "\n")
}

// TestOnDemandStart: with EffectImmediately=false and a customer that does not initiate,
// the tunnel stays down until traffic from the VPC side arrives, then comes up.
func TestOnDemandStart(t *testing.T) {
	w := newWorld(t)
	r := w.router("10.30.0.0/16")
	w.confEdit = func(c string) string { return strings.ReplaceAll(c, "start_action = start", "start_action = none") }
	c := w.connect(r, "lazy", "198.18.0.40", "192.168.40.0/24", map[string]string{"EffectImmediately": "false"})
	time.Sleep(4 * time.Second)
	if s := w.status(c.vco); s != "ike_sa_not_established" {
		t.Fatalf("without traffic the connection is %s", s)
	}
	// The first packet from the VPC side triggers the negotiation.
	_ = r.vpcHost.Ping(w.ctx, c.dc.Host, 1)
	w.waitEstablished(c.vco)
	w.pingBothWays(c.dc, r.vpcHost)
	if l := w.logs(c.vco); !strings.Contains(l, "traffic_triggered") {
		t.Fatalf("logs do not show the trigger:\n%s", l)
	}
}

// TestMismatchesStayDownAndSayWhy: a wrong PSK or proposal on the customer side never
// establishes, and the connection's logs say why.
func TestMismatchesStayDownAndSayWhy(t *testing.T) {
	w := newWorld(t)
	r := w.router("10.40.0.0/16")
	w.confEdit = func(c string) string {
		var out []string
		for _, line := range strings.Split(c, "\n") {
			if strings.Contains(line, "secret = ") {
				line = line[:strings.Index(line, "secret = ")] + "secret = 0x77726f6e67" // "wrong"
			}
			out = append(out, line)
		}
		return strings.Join(out, "\n")
	}
	psk := w.connect(r, "badpsk", "198.18.0.50", "192.168.50.0/24", nil)
	w.confEdit = func(c string) string {
		return strings.NewReplacer("proposals = aes128-sha1-modp1024", "proposals = aes256-sha512-modp2048").Replace(c)
	}
	prop := w.connect(r, "badprop", "198.18.0.51", "192.168.51.0/24", nil)
	w.waitFor("the failures in the logs", 45*time.Second, func() bool {
		return strings.Contains(w.logs(psk.vco), "authentication_failed") && strings.Contains(w.logs(prop.vco), "proposal_mismatch")
	})
	for _, vco := range []string{psk.vco, prop.vco} {
		if s := w.status(vco); s == "ipsec_sa_established" {
			t.Fatalf("%s established despite the mismatch", vco)
		}
	}
}

// TestDPDAndRecovery: when the customer's WAN goes dark the status drops within the DPD
// time, and it comes back by itself when the WAN returns.
func TestDPDAndRecovery(t *testing.T) {
	w := newWorld(t)
	r := w.router("10.50.0.0/16")
	c := w.connect(r, "dpd", "198.18.0.60", "192.168.60.0/24", nil)
	w.waitEstablished(c.vco)
	w.blockPath(c.dc, true)
	w.waitFor("the DPD to notice", 60*time.Second, func() bool { return w.status(c.vco) != "ipsec_sa_established" })
	w.blockPath(c.dc, false)
	w.waitEstablished(c.vco)
	w.pingBothWays(c.dc, r.vpcHost)
}

// TestModifyDetachAndRestart: modifying IKE settings renegotiates; a gateway restart
// re-adopts the running connection (same charon); detaching removes its cell.
func TestModifyDetachAndRestart(t *testing.T) {
	w := newWorld(t)
	r := w.router("10.60.0.0/16")
	c := w.connect(r, "mod", "198.18.0.70", "192.168.70.0/24", nil)
	w.waitEstablished(c.vco)
	before := w.cell(c.vco)

	w.vpc("ModifyVpnAttachmentAttribute", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": c.vco, "IkeConfig": `{"IkeEncAlg":"aes256"}`})
	var conf struct{ Config string }
	if err := w.c.Call(w.ctx, "2026-11-01", "RenderVpnConnectionConfig", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": c.vco, "ConfigFormat": "strongswan"}, &conf); err != nil {
		t.Fatal(err)
	}
	if err := c.dc.LoadConfig(w.ctx, conf.Config); err != nil {
		t.Fatal(err)
	}
	w.waitFor("renegotiated with AES-256", 60*time.Second, func() bool {
		st := w.cell(c.vco)
		return st.State == "ipsec_sa_established" && strings.Contains(st.IKE, "AES_CBC-256")
	})
	w.pingBothWays(c.dc, r.vpcHost)

	// A restarted gateway (new driver, same prefix) re-adopts the cell: same charon.
	pid := w.cell(c.vco).PID
	if pid == 0 || pid == before.PID && before.PID == 0 {
		t.Fatalf("no charon pid: %+v", w.cell(c.vco))
	}
	w.restartGateway()
	time.Sleep(3 * time.Second)
	if got := w.cell(c.vco); got.PID != pid || got.State != "ipsec_sa_established" {
		t.Fatalf("after a gateway restart: pid %d (was %d), %s", got.PID, pid, got.State)
	}

	// Detach: the cell and its charon go away.
	w.cbn("DeleteTransitRouterVpnAttachment", map[string]string{"TransitRouterAttachmentId": c.att, "Force": "true"})
	w.waitFor("cell removed", 30*time.Second, func() bool {
		_, ok := w.cellStatus(c.vco)
		return !ok && !netnsExists(w.gwPrefix+"c-")
	})
	if syscall.Kill(pid, 0) == nil {
		t.Fatalf("charon %d still runs after the detach", pid)
	}
}

func (w *world) cellStatus(vco string) (dataplane.CellStatus, bool) {
	st, err := w.in.Gateway.Driver.Status(w.ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	return st.Cell(vco)
}

func (w *world) cell(vco string) dataplane.CellStatus {
	c, _ := w.cellStatus(vco)
	return c
}

func netnsExists(prefix string) bool {
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, prefix) {
			return true
		}
	}
	return false
}

// TestFlowProtection: two local and two peer CIDRs, under IKEv1 (one child SA per pair)
// and IKEv2 (one child SA): all four pairs pass both ways, and the peer CIDRs are
// destination routes of the connection in the table it propagates into.
func TestFlowProtection(t *testing.T) {
	w := newWorld(t)
	r := w.router("10.70.0.0/16")
	vpcAddrs := []string{"10.70.1.1", "10.70.2.1"}
	for _, a := range vpcAddrs {
		ipAddr(t, r.vpcHost.Netns, a)
	}
	for i, version := range []string{"ikev1", "ikev2"} {
		t.Run(version, func(t *testing.T) {
			w.t = t
			base := 71 + 2*i
			peer := fmt.Sprintf("192.168.%d.0/24,192.168.%d.0/24", base, base+1)
			c := w.connect(r, "fp"+version, fmt.Sprintf("198.18.0.%d", 80+i), fmt.Sprintf("192.168.%d.0/24", base), map[string]string{
				"LocalSubnet": "10.70.1.0/24,10.70.2.0/24", "RemoteSubnet": peer, "IkeConfig": `{"IkeVersion":"` + version + `"}`})
			ipAddr(t, c.dc.Netns, fmt.Sprintf("192.168.%d.1", base+1))
			w.waitEstablished(c.vco)
			entries := w.cbn("ListTransitRouterRouteEntries", map[string]string{"TransitRouterRouteTableId": r.system, "TransitRouterRouteEntryNextHopId": c.att})["TransitRouterRouteEntries"].([]any)
			var dests []string
			for _, e := range entries {
				dests = append(dests, e.(map[string]any)["TransitRouterRouteEntryDestinationCidrBlock"].(string))
			}
			if strings.Join(dests, ",") != peer {
				t.Fatalf("routes of the connection: %v, want %s", dests, peer)
			}
			for _, dcAddr := range []string{fmt.Sprintf("192.168.%d.1", base), fmt.Sprintf("192.168.%d.1", base+1)} {
				for _, vpcAddr := range vpcAddrs {
					src, dst := netip.MustParseAddr(dcAddr), netip.MustParseAddr(vpcAddr)
					w.waitFor(dcAddr+" -> "+vpcAddr, 20*time.Second, func() bool { return lab.Ping(w.ctx, c.dc.Netns, src, dst, 1) == nil })
					if err := lab.Ping(w.ctx, r.vpcHost.Netns, dst, src, 2); err != nil {
						t.Fatalf("%s -> %s: %v", vpcAddr, dcAddr, err)
					}
				}
			}
		})
	}
}

func ipAddr(t *testing.T, ns, addr string) {
	if out, err := exec.Command("ip", "-n", ns, "addr", "add", addr+"/32", "dev", "lo").CombinedOutput(); err != nil {
		t.Fatalf("ip addr add %s in %s: %v %s", addr, ns, err, out)
	}
}

// TestHealthCheck: blocking the destination IP in the data center fails the check after
// about Interval x Retry; with revoke_route the connection's routes leave the table and
// return on recovery; with reserve_route they stay and only the status changes.
func TestHealthCheck(t *testing.T) {
	w := newWorld(t)
	r := w.router("10.90.0.0/16")
	for i, policy := range []string{"revoke_route", "reserve_route"} {
		t.Run(policy, func(t *testing.T) {
			w.t = t
			dcSubnet := fmt.Sprintf("192.168.%d.0/24", 90+i)
			dip, sip := fmt.Sprintf("192.168.%d.1", 90+i), fmt.Sprintf("10.90.255.%d", 250+i)
			c := w.connect(r, "hc"+fmt.Sprint(i), fmt.Sprintf("198.18.0.%d", 90+i), dcSubnet, map[string]string{
				"HealthCheckConfig": fmt.Sprintf(`{"enable":true,"dip":%q,"sip":%q,"interval":1,"retry":2,"Policy":%q}`, dip, sip, policy)})
			w.waitEstablished(c.vco)
			hcStatus := func() string {
				return w.vpc("DescribeVpnConnection", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": c.vco})["VcoHealthCheck"].(map[string]any)["Status"].(string)
			}
			routes := func() int {
				return len(w.cbn("ListTransitRouterRouteEntries", map[string]string{"TransitRouterRouteTableId": r.system, "TransitRouterRouteEntryNextHopId": c.att})["TransitRouterRouteEntries"].([]any))
			}
			w.waitFor("health check success", 20*time.Second, func() bool { return hcStatus() == "success" })
			if routes() != 1 {
				t.Fatalf("the connection offers %d routes, want 1", routes())
			}
			nft := func(args ...string) {
				if out, err := exec.Command("ip", append([]string{"netns", "exec", c.dc.Netns, "nft"}, args...)...).CombinedOutput(); err != nil {
					t.Fatalf("nft %v: %v %s", args, err, out)
				}
			}
			nft("add", "table", "inet", "hcblock")
			nft("add", "chain", "inet", "hcblock", "in", "{ type filter hook input priority 0 ; }")
			nft("add", "rule", "inet", "hcblock", "in", "ip", "daddr", dip, "icmp", "type", "echo-request", "drop")
			start := time.Now()
			w.waitFor("health check failed", 20*time.Second, func() bool { return hcStatus() == "failed" })
			t.Logf("%s: failed after %v (interval 1 s x retry 2)", policy, time.Since(start).Round(100*time.Millisecond))
			if want := map[string]int{"revoke_route": 0, "reserve_route": 1}[policy]; routes() != want {
				t.Fatalf("while failed the connection offers %d routes, want %d", routes(), want)
			}
			const withdrawn, restored = "withdrawn from the transit router's tables (applied)", "back in the transit router's tables (applied)"
			if policy == "revoke_route" {
				// The withdrawal is logged once the data plane has applied it: from then on
				// the VPC host has no route to the data center.
				w.waitFor("the withdrawal in the log", 10*time.Second, func() bool { return strings.Contains(w.logs(c.vco), withdrawn) })
				if err := r.vpcHost.Ping(w.ctx, c.dc.Host, 1); err == nil {
					t.Fatalf("the log says the routes are withdrawn, but the VPC host still reaches %s", c.dc.Host)
				}
			}
			nft("delete", "table", "inet", "hcblock")
			w.waitFor("health check recovered", 20*time.Second, func() bool { return hcStatus() == "success" && routes() == 1 })
			if l := w.logs(c.vco); !strings.Contains(l, "health_check failed") || !strings.Contains(l, "health_check ok") {
				t.Fatalf("logs lack the transitions:\n%s", l)
			}
			if policy == "revoke_route" {
				w.waitFor("the restoration in the log", 10*time.Second, func() bool { return strings.Contains(w.logs(c.vco), restored) })
				w.pingBothWays(c.dc, r.vpcHost)
			} else if l := w.logs(c.vco); strings.Contains(l, withdrawn) {
				t.Fatalf("reserve_route withdrew the routes:\n%s", l)
			}
		})
	}
}

// TestBGP: one data center speaking BGP (BIRD) over its tunnel. The session establishes,
// the DC's subnet enters the transit router's table and the VPC reaches it; the VPC CIDR is
// advertised to the DC (BIRD's table shows it) and withdrawn when route synchronization is
// turned off.
func TestBGP(t *testing.T) {
	w := newWorld(t)
	r := w.router("10.100.0.0/16")
	c := w.connect(r, "bgp", "198.18.0.110", "192.168.110.0/24", map[string]string{
		"BgpConfig": `{"EnableBgp":true,"TunnelCidr":"169.254.21.0/30","LocalBgpIp":"169.254.21.1"}`})
	if err := c.dc.StartBIRD(w.ctx, 65010, c.dc.Host, []lab.BIRDNeighbor{{Address: netip.MustParseAddr("169.254.21.1"),
		LocalAddress: netip.MustParseAddr("169.254.21.2"), PeerAS: 45104}}, []netip.Prefix{c.dc.Subnet}); err != nil {
		t.Fatal(err)
	}
	w.waitEstablished(c.vco)
	bgpStatus := func() string {
		return w.vpc("DescribeVpnConnection", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": c.vco})["VpnBgpConfig"].(map[string]any)["Status"].(string)
	}
	w.waitFor("BGP session", 60*time.Second, func() bool { return bgpStatus() == "success" })
	w.waitFor("the DC's subnet in the TR table", 30*time.Second, func() bool {
		for _, e := range w.cbn("ListTransitRouterRouteEntries", map[string]string{"TransitRouterRouteTableId": r.system, "TransitRouterRouteEntryNextHopId": c.att})["TransitRouterRouteEntries"].([]any) {
			m := e.(map[string]any)
			if m["TransitRouterRouteEntryDestinationCidrBlock"] == "192.168.110.0/24" && m["PathAttributes"].(map[string]any)["OriginRouteType"] == "BGP" {
				return true
			}
		}
		return false
	})
	birdHas := func(p string) bool {
		out, err := c.dc.BIRDRoutes(w.ctx)
		return err == nil && strings.Contains(out, p)
	}
	w.waitFor("the VPC CIDR advertised to the DC", 30*time.Second, func() bool { return birdHas("10.100.0.0/16") })
	w.pingBothWays(c.dc, r.vpcHost)
	learned := w.vpc("DescribeVcoRouteEntries", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": c.vco, "RouteEntryType": "bgp"})["VcoRouteEntries"].([]any)
	var sources []string
	for _, e := range learned {
		sources = append(sources, fmt.Sprint(e.(map[string]any)["Source"], " ", e.(map[string]any)["RouteDest"]))
	}
	if !slices.Contains(sources, "VPN_BGP 192.168.110.0/24") || !slices.Contains(sources, "CLOUD 10.100.0.0/16") {
		t.Fatalf("DescribeVcoRouteEntries bgp: %v", sources)
	}
	w.cbn("UpdateTransitRouterVpnAttachmentAttribute", map[string]string{"TransitRouterAttachmentId": c.att, "AutoPublishRouteEnabled": "false"})
	w.waitFor("the VPC CIDR withdrawn from the DC", 30*time.Second, func() bool { return !birdHas("10.100.0.0/16") })
}

// bgpDC connects a data center that speaks BGP (BIRD, AS asn) announcing its subnet.
func (w *world) bgpDC(r router, name, wan, subnet, tunnel string, asn uint32) connection {
	w.t.Helper()
	w.cgwASN = fmt.Sprint(asn)
	p := netip.MustParsePrefix(tunnel)
	local, peer := p.Addr().Next(), p.Addr().Next().Next()
	c := w.connect(r, name, wan, subnet, map[string]string{
		"BgpConfig": fmt.Sprintf(`{"EnableBgp":true,"TunnelCidr":%q,"LocalBgpIp":%q}`, tunnel, local)})
	if err := c.dc.StartBIRD(w.ctx, asn, c.dc.Host, []lab.BIRDNeighbor{{Address: local, LocalAddress: peer, PeerAS: 45104}}, []netip.Prefix{c.dc.Subnet}); err != nil {
		w.t.Fatal(err)
	}
	w.waitEstablished(c.vco)
	return c
}

// TestTwoDataCenters: by default the system policy keeps two data centers from learning
// each other's routes; a custom Permit at a higher priority makes them learn and reach
// each other.
func TestTwoDataCenters(t *testing.T) {
	w := newWorld(t)
	r := w.router("10.110.0.0/16")
	dc1 := w.bgpDC(r, "two1", "198.18.0.120", "192.168.120.0/24", "169.254.31.0/30", 65010)
	dc2 := w.bgpDC(r, "two2", "198.18.0.121", "192.168.121.0/24", "169.254.32.0/30", 65020)
	has := func(c connection, p string) bool {
		out, err := c.dc.BIRDRoutes(w.ctx)
		return err == nil && strings.Contains(out, p)
	}
	w.waitFor("both DCs learn the VPC", 60*time.Second, func() bool { return has(dc1, "10.110.0.0/16") && has(dc2, "10.110.0.0/16") })
	w.pingBothWays(dc1.dc, r.vpcHost)
	w.pingBothWays(dc2.dc, r.vpcHost)
	time.Sleep(3 * time.Second)
	if has(dc1, "192.168.121.0/24") || has(dc2, "192.168.120.0/24") {
		t.Fatal("the data centers learned each other's routes despite the system policy")
	}
	w.cbn("CreateCenRouteMap", map[string]string{"CenId": r.cen, "CenRegionId": "cn-hangzhou", "TransmitDirection": "RegionOut", "Priority": "10",
		"MapResult": "Permit", "SourceChildInstanceTypes.1": "VPN", "DestinationChildInstanceTypes.1": "VPN"})
	w.waitFor("the DCs learn each other", 60*time.Second, func() bool { return has(dc1, "192.168.121.0/24") && has(dc2, "192.168.120.0/24") })
	w.waitFor("dc1 reaches dc2", 20*time.Second, func() bool { return lab.Ping(w.ctx, dc1.dc.Netns, dc1.dc.Host, dc2.dc.Host, 1) == nil })
	if err := lab.Ping(w.ctx, dc2.dc.Netns, dc2.dc.Host, dc1.dc.Host, 3); err != nil {
		t.Fatalf("dc2 -> dc1: %v", err)
	}
}

// TestECMPFailover: two connections announce the same prefix; both are installed as one
// multipath route, flows use both tunnels, and when one tunnel dies traffic continues on
// the other.
func TestECMPFailover(t *testing.T) {
	w := newWorld(t)
	r := w.router("10.120.0.0/16")
	// One data center with two gateways (two namespaces announcing one subnet).
	a := w.bgpDC(r, "ecmpa", "198.18.0.130", "192.168.130.0/24", "169.254.41.0/30", 65010)
	b := w.bgpDC(r, "ecmpb", "198.18.0.131", "192.168.130.0/24", "169.254.42.0/30", 65010)
	w.waitFor("both members active", 60*time.Second, func() bool {
		n := 0
		for _, e := range w.cbn("ListTransitRouterRouteEntries", map[string]string{"TransitRouterRouteTableId": r.system,
			"TransitRouterRouteEntryDestinationCidrBlock": "192.168.130.0/24"})["TransitRouterRouteEntries"].([]any) {
			if e.(map[string]any)["TransitRouterRouteEntryStatus"] == "Active" {
				n++
			}
		}
		return n == 2
	})
	packets := func(c connection) int { return w.inPackets(c.dc) }
	beforeA, beforeB := packets(a), packets(b)
	// Many flows: pings from many source addresses of the VPC host hash onto both paths
	// (the gateway installs the multipath route within a sync of the table change).
	for i := 2; i < 34; i++ {
		ipAddr(t, r.vpcHost.Netns, fmt.Sprintf("10.120.0.%d", i))
	}
	w.waitFor("flows on both tunnels", 30*time.Second, func() bool {
		for i := 2; i < 34; i++ {
			_ = lab.Ping(w.ctx, r.vpcHost.Netns, netip.MustParseAddr(fmt.Sprintf("10.120.0.%d", i)), a.dc.Host, 1)
		}
		return packets(a) > beforeA && packets(b) > beforeB
	})
	// Kill tunnel a: after convergence every flow goes through b.
	if _, err := a.dc.Charon.Swanctl(w.ctx, "--terminate", "--ike", a.vco, "--force"); err != nil {
		t.Logf("terminate: %v", err)
	}
	if err := a.dc.StopBIRD(); err != nil {
		t.Fatal(err)
	}
	if err := a.dc.Charon.Stop(); err != nil {
		t.Fatal(err)
	}
	w.waitFor("a leaves the group", 90*time.Second, func() bool {
		n := 0
		for _, e := range w.cbn("ListTransitRouterRouteEntries", map[string]string{"TransitRouterRouteTableId": r.system,
			"TransitRouterRouteEntryDestinationCidrBlock": "192.168.130.0/24"})["TransitRouterRouteEntries"].([]any) {
			if e.(map[string]any)["TransitRouterRouteEntryStatus"] == "Active" {
				n++
			}
		}
		return n == 1
	})
	for i := 2; i < 34; i++ {
		src := netip.MustParseAddr(fmt.Sprintf("10.120.0.%d", i))
		w.waitFor("flow from "+src.String(), 20*time.Second, func() bool { return lab.Ping(w.ctx, r.vpcHost.Netns, src, b.dc.Host, 1) == nil })
	}
}
