package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"opencen/bench/internal/benchkit"
	"opencen/internal/config"
	"opencen/internal/connect"
	"opencen/internal/controller"
	"opencen/internal/dataplane"
	"opencen/internal/gateway"
	"opencen/internal/lab"
	"opencen/internal/rpc"
	"opencen/internal/server"
	"opencen/internal/store"
	"opencen/internal/store/etcdtest"
)

const (
	cbnV   = "2017-09-12"
	vpcV   = "2016-04-28"
	adminV = "2026-11-01"
	region = "cn-hangzhou"
)

func numGoroutine() int { return runtime.NumGoroutine() }

// world is the OpenCEN side, built like contract/e2e: a lab (WAN bridge, VPC host, DCs) and
// an in-process server with its gateway (netns driver) plugged into the lab's WAN; every
// change goes through the signed API over loopback HTTP.
type world struct {
	n names
	o options

	lab *lab.Lab
	in  *server.Instance
	// gw and drv are the gateway that runs the connections: the server's own, or with
	// -store etcd the gateway node's.
	gw      *gateway.Gateway
	drv     *dataplane.Netns
	etcd    *etcdtest.Server
	srv     *httptest.Server
	c       *rpc.Client
	logPath string
	logFile *os.File

	stopLife func()
	stopGW   func()

	tr, system string
	vpcHost    *lab.VPCHost

	mu    sync.Mutex
	conns []*conn // index k-1

	cleaned bool
}

type conn struct {
	k        int
	vco, att string
	dc       *lab.DC
}

func (w *world) gwRunDir() string  { return filepath.Join(w.n.base, "dp") }
func (w *world) labRunDir() string { return filepath.Join(w.n.base, "olab") }

func (w *world) setup(ctx context.Context) error {
	l, err := lab.New(ctx, w.n.oLab, w.labRunDir())
	if err != nil {
		return err
	}
	w.lab = l
	w.logPath = filepath.Join(w.n.base, "server.log")
	if w.logFile, err = os.OpenFile(w.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return err
	}
	var out = w.logFile
	handler := slog.Handler(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if w.o.verbose {
		handler = slog.NewTextHandler(teeWriter{out, os.Stderr}, &slog.HandlerOptions{Level: slog.LevelInfo})
	}
	log := slog.New(handler)
	gw := server.GatewayOptions{Mode: "on", WANNetns: l.WANNetns, WANBridge: lab.Bridge, WANBits: 15, Prefix: w.n.gw,
		RunDir: w.gwRunDir(), VPCNetnsPrefix: w.n.oLab + "vpc-", DPDDelay: 10 * time.Second, NoMeter: w.o.noMeter}
	so := server.Options{DataDir: filepath.Join(w.n.base, "data"), Config: config.Default(), TransitionDelay: w.o.transition,
		AdminKeyID: "AKADMIN", AdminSecret: "admin-secret-" + w.n.rid, Log: log, Gateway: gw}
	var node *server.Node
	if w.o.store == server.StoreEtcd {
		// A cluster in one process: the server on a real etcd (gateway off) and a gateway
		// node registered in it, which the placement controller gives the transit router.
		if w.etcd, err = etcdtest.StartEmbedded(filepath.Join(w.n.base, "etcd")); err != nil {
			return err
		}
		so.Store = server.StoreOptions{Kind: server.StoreEtcd, Etcd: store.EtcdConfig{Endpoints: []string{w.etcd.Endpoint}}}
		so.SecretKeyFile = filepath.Join(w.n.base, "secret.key")
		so.Gateway.Mode = "auto"
	}
	in, err := server.Open(ctx, so)
	if err != nil {
		return err
	}
	w.in = in
	w.gw = in.Gateway
	if w.o.store == server.StoreEtcd {
		if node, err = server.OpenNode(ctx, server.NodeOptions{Etcd: so.Store.Etcd, SecretKeyFile: so.SecretKeyFile, Config: so.Config,
			Node: "bench-" + w.n.rid, Zone: "cn-hangzhou-h", Gateway: gw, Log: log}); err != nil {
			return err
		}
		w.gw, w.drv = node.Gateway, node.Driver
	} else if w.drv, _ = in.Gateway.Driver.(*dataplane.Netns); w.drv == nil {
		return errors.New("the server's gateway is not the netns driver")
	}
	w.srv = httptest.NewServer(in.Handler)
	lctx, lcancel := context.WithCancel(context.Background())
	ldone := make(chan struct{})
	go func() {
		defer close(ldone)
		go func() { _ = (&controller.Placement{Store: in.Service, Log: log}).Run(lctx) }()
		_ = in.Lifecycle.Run(lctx)
	}()
	w.stopLife = func() { lcancel(); <-ldone }
	gctx, gcancel := context.WithCancel(context.Background())
	gdone := make(chan struct{})
	if node != nil {
		go func() { defer close(gdone); _ = node.Run(gctx) }()
	} else {
		in.Gateway.Changes = in.Service.WatchDataPlane(gctx)
		go func() { defer close(gdone); _ = in.Gateway.Run(gctx) }()
	}
	w.stopGW = func() { gcancel(); <-gdone }

	hc := &http.Client{Timeout: 30 * time.Second}
	admin := &rpc.Client{Endpoint: w.srv.URL, AccessKeyID: "AKADMIN", AccessKeySecret: "admin-secret-" + w.n.rid, HTTP: hc}
	var acct struct{ AccountId, AccessKeyId, AccessKeySecret string }
	if err := admin.Call(ctx, adminV, "CreateAccount", map[string]string{"Name": "dpbench"}, &acct); err != nil {
		return err
	}
	if w.o.conns > 50 {
		if err := admin.Call(ctx, adminV, "SetQuota", map[string]string{"AccountId": acct.AccountId, "QuotaName": "vpn-attachments-per-tr",
			"Value": fmt.Sprint(w.o.conns)}, nil); err != nil {
			return err
		}
	}
	w.c = &rpc.Client{Endpoint: w.srv.URL, AccessKeyID: acct.AccessKeyId, AccessKeySecret: acct.AccessKeySecret, HTTP: hc}
	r, err := benchkit.NewRouter(ctx, w.c, w.lab, w.drv, vpcCIDR)
	w.tr, w.system, w.vpcHost = r.TR, r.System, r.VPCHost
	return err
}

type teeWriter struct{ a, b *os.File }

func (t teeWriter) Write(p []byte) (int, error) {
	_, _ = t.b.Write(p)
	return t.a.Write(p)
}

func (w *world) call(ctx context.Context, version, action string, p map[string]string) (map[string]any, error) {
	return benchkit.Call(ctx, w.c, version, action, p)
}

// connectAll is the timed part: N connections through the API, each with its DC, until
// all N report ipsec_sa_established.
//
// Per connection, in order: CreateCustomerGateway, CreateVpnAttachment
// (EffectImmediately=true, product defaults), CreateTransitRouterVpnAttachment,
// RenderVpnConnectionConfig (strongswan), then the lab DC is created from that config.
// The gateway IP is allocated when the connection is attached, so the DC can be built at
// once; waiting for Attached, associating and propagating the attachment, the VPN-side
// route entry for the DC's subnet and the DC's route into its tunnel happen in a second
// goroutine meanwhile, the way a script would pipeline them.
func (w *world) connectAll(ctx context.Context) (setupResult, error) {
	res := setupResult{start: time.Now(), apiUp: map[int]time.Duration{}}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	drv := w.drv

	// watchers: charon logs, and the API's status
	lw := newLogWatch()
	go lw.run(ctx, res.start, func() map[int]string {
		m := map[int]string{}
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, c := range w.conns {
			m[c.k] = drv.CharonOf(c.vco).LogFile()
		}
		return m
	})
	var apiMu sync.Mutex
	apiErr := make(chan error, 1)
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			st, err := w.describeAll(ctx)
			if err != nil && ctx.Err() == nil {
				select {
				case apiErr <- err:
				default:
				}
				return
			}
			now := time.Since(res.start)
			w.mu.Lock()
			byID := map[string]int{}
			for _, c := range w.conns {
				byID[c.vco] = c.k
			}
			w.mu.Unlock()
			apiMu.Lock()
			for id, s := range st {
				if k, ok := byID[id]; ok && s == dataplane.IPsecEstablished {
					if _, seen := res.apiUp[k]; !seen {
						res.apiUp[k] = now
					}
				}
			}
			apiMu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()

	// the linker
	linkQ := make(chan *conn, w.o.conns)
	linkErr := make(chan error, 1)
	linkDone := make(chan time.Duration, 1)
	go func() {
		for c := range linkQ {
			if err := w.finish(ctx, c); err != nil {
				linkErr <- fmt.Errorf("connection %d (%s): %w", c.k, c.vco, err)
				return
			}
		}
		linkDone <- time.Since(res.start)
	}()

	for k := 1; k <= w.o.conns; k++ {
		c, err := w.create(ctx, k)
		if c != nil {
			w.mu.Lock()
			w.conns = append(w.conns, c)
			w.mu.Unlock()
		}
		if err != nil {
			close(linkQ)
			return res, fmt.Errorf("connection %d: %w", k, err)
		}
		linkQ <- c
		select {
		case err := <-linkErr:
			close(linkQ)
			return res, err
		default:
		}
	}
	close(linkQ)
	res.apiDone = time.Since(res.start)

	deadline := time.Now().Add(60*time.Second + 3*time.Second*time.Duration(w.o.conns))
	linked := false
	for {
		apiMu.Lock()
		n := len(res.apiUp)
		apiMu.Unlock()
		if n == w.o.conns && linked {
			break
		}
		select {
		case err := <-linkErr:
			return res, err
		case d := <-linkDone:
			res.linkDone, linked = d, true
		case err := <-apiErr:
			return res, err
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("timed out: %d of %d connections report ipsec_sa_established, linking done: %v; server log:\n%s",
				n, w.o.conns, linked, tailFile(w.logPath, 20))
		}
	}
	apiMu.Lock()
	res.allUp = slicesMax(res.apiUp)
	apiMu.Unlock()
	// the charon logs were seen before the API reported
	if err := benchkit.WaitFor(ctx, "charon logs", 5*time.Second, 20*time.Millisecond, func() (bool, error) { return lw.count() == w.o.conns, nil }); err != nil {
		return res, err
	}
	res.charonUp = lw.snapshot()
	res.charonAllUp = slicesMax(res.charonUp)
	return res, nil
}

// create runs the creating API calls of connection k and builds its DC.
func (w *world) create(ctx context.Context, k int) (*conn, error) {
	out, err := w.call(ctx, vpcV, "CreateCustomerGateway", map[string]string{"RegionId": region, "IpAddress": dcWAN(k).Addr().String(), "Asn": "65010"})
	if err != nil {
		return nil, err
	}
	cgw := benchkit.Str(out, "CustomerGatewayId")
	p := map[string]string{"RegionId": region, "CustomerGatewayId": cgw, "EffectImmediately": "true", "Name": fmt.Sprintf("bench-%d", k)}
	// The product page's negotiation (IKEv2, SHA1), as the figures were always measured.
	if err := connect.PageValues(p); err != nil {
		return nil, err
	}
	if out, err = w.call(ctx, vpcV, "CreateVpnAttachment", p); err != nil {
		return nil, err
	}
	c := &conn{k: k, vco: benchkit.Str(out, "VpnConnectionId")}
	if out, err = w.call(ctx, cbnV, "CreateTransitRouterVpnAttachment", map[string]string{"RegionId": region, "TransitRouterId": w.tr, "VpnId": c.vco}); err != nil {
		return c, err
	}
	c.att = benchkit.Str(out, "TransitRouterAttachmentId")
	var conf struct{ Config string }
	if err := w.c.Call(ctx, adminV, "RenderVpnConnectionConfig", map[string]string{"RegionId": region, "VpnConnectionId": c.vco, "ConfigFormat": "strongswan"}, &conf); err != nil {
		return c, fmt.Errorf("RenderVpnConnectionConfig: %w", err)
	}
	dc, err := w.lab.AddDC(ctx, fmt.Sprintf("o%d", k), dcWAN(k), dcSubnet(k), conf.Config)
	c.dc = dc
	return c, err
}

// finish waits until connection c is attached, associates and propagates it, adds the
// DC's subnet as its destination route and routes the VPC into the DC's tunnel.
func (w *world) finish(ctx context.Context, c *conn) error {
	const poll = 20 * time.Millisecond
	if err := benchkit.WaitFor(ctx, "VPN attached", 30*time.Second, poll, func() (bool, error) {
		return benchkit.Status(ctx, w.c, cbnV, "ListTransitRouterVpnAttachments", map[string]string{"TransitRouterAttachmentId": c.att}, "Attached", "TransitRouterAttachments")
	}); err != nil {
		return err
	}
	if err := benchkit.Link(ctx, w.c, c.att, w.system, poll); err != nil {
		return err
	}
	if _, err := w.call(ctx, vpcV, "CreateVcoRouteEntry", map[string]string{"RegionId": region, "VpnConnectionId": c.vco,
		"RouteDest": dcSubnet(c.k).String(), "NextHop": c.vco, "Weight": "0"}); err != nil {
		return err
	}
	return c.dc.RouteToTunnel(ctx, vpcCIDR)
}

// describeAll returns every connection's Status (negotiation state).
func (w *world) describeAll(ctx context.Context) (map[string]string, error) {
	st := map[string]string{}
	for page := 1; ; page++ {
		var out struct {
			TotalCount     int
			VpnConnections struct {
				VpnConnection []struct{ VpnConnectionId, Status string }
			}
		}
		if err := w.c.Call(ctx, vpcV, "DescribeVpnConnections", map[string]string{"RegionId": region, "PageSize": "50", "PageNumber": fmt.Sprint(page)}, &out); err != nil {
			return nil, err
		}
		for _, v := range out.VpnConnections.VpnConnection {
			st[v.VpnConnectionId] = v.Status
		}
		if len(out.VpnConnections.VpnConnection) == 0 || page*50 >= out.TotalCount {
			return st, nil
		}
	}
}

// idleWindow is how long the idle gateway passes are watched.
const idleWindow = 5 * time.Second

// noopApply is the longest gateway pass over idleWindow with nothing changed (no change in
// the store, no object due: passes that repair or prune do work and are left out).
func (w *world) noopApply(ctx context.Context) (time.Duration, error) {
	return benchkit.IdlePass(ctx, w.gw, idleWindow)
}

// charonPIDs are the connections' charons as the driver reports them.
func (w *world) charonPIDs(ctx context.Context) ([]int, error) {
	st, err := w.drv.Status(ctx)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, c := range st.Cells {
		if c.PID != 0 {
			pids = append(pids, c.PID)
		}
	}
	return pids, nil
}

// path is DC 1 -> OpenCEN connection 1 -> transit router -> VPC host.
func (w *world) path(ctx context.Context) (*iperfPath, error) {
	w.mu.Lock()
	if len(w.conns) == 0 || w.conns[0].dc == nil {
		w.mu.Unlock()
		return nil, errors.New("no connection")
	}
	c := w.conns[0]
	w.mu.Unlock()
	drv := w.drv
	p := &iperfPath{name: "OpenCEN connection", dc: c.dc, vpc: w.vpcHost, charon: drv.CharonOf(c.vco)}
	return p, p.waitPing(ctx)
}

// warnings are the distinct WARN/ERROR messages the server and gateway logged.
func (w *world) warnings() []string {
	f, err := os.Open(w.logPath)
	if err != nil {
		return nil
	}
	defer f.Close()
	count := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if !strings.Contains(l, "level=WARN") && !strings.Contains(l, "level=ERROR") {
			continue
		}
		// drop the time, keep the message and attributes
		if i := strings.Index(l, "level="); i >= 0 {
			l = l[i:]
		}
		if len(l) > 300 {
			l = l[:300] + "..."
		}
		count[l]++
	}
	var out []string
	for l, n := range count {
		out = append(out, fmt.Sprintf("%dx %s", n, l))
	}
	sort.Strings(out)
	return out
}

// cleanup stops the gateway and the server, then removes the data plane (by the driver's
// prefix) and the lab (by its prefix). It also works from the names alone.
func (w *world) cleanup(ctx context.Context) error {
	if w.cleaned {
		return nil
	}
	w.cleaned = true
	var errs []error
	if w.srv != nil {
		w.srv.Close()
	}
	if w.stopGW != nil {
		w.stopGW()
	}
	if w.stopLife != nil {
		w.stopLife()
	}
	// a driver with the same prefix removes what the gateway's driver (or a killed run) built
	wanNS := w.n.oLab + "wan"
	drv, err := dataplane.NewNetns(dataplane.NetnsOptions{Prefix: w.n.gw, RunDir: w.gwRunDir(), WANNetns: wanNS, WANBridge: lab.Bridge})
	if err != nil {
		errs = append(errs, err)
	} else {
		if w.drv != nil {
			w.drv.Close() // stop its monitors first
		}
		errs = append(errs, drv.Cleanup(ctx))
	}
	if w.in != nil {
		errs = append(errs, w.in.Close())
	}
	if w.etcd != nil {
		w.etcd.Stop()
	}
	if w.logFile != nil {
		w.logFile.Close()
	}
	errs = append(errs, lab.Cleanup(ctx, w.n.oLab, w.labRunDir()))
	return errors.Join(errs...)
}
