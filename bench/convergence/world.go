package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"opencen/bench/internal/benchkit"
	"opencen/internal/config"
	"opencen/internal/connect"
	"opencen/internal/dataplane"
	"opencen/internal/gateway"
	"opencen/internal/lab"
	"opencen/internal/rpc"
	"opencen/internal/server"
)

const (
	cbnV   = "2017-09-12"
	vpcV   = "2016-04-28"
	adminV = "2026-11-01"
	region = "cn-hangzhou"
)

// world is one scenario's OpenCEN, built like contract/e2e: a lab (WAN bridge, VPC host, DCs)
// and an in-process server with its gateway (netns driver, BGP speakers from the opencen
// binary) plugged into the lab's WAN; every change goes through the signed API over
// loopback HTTP.
type world struct {
	n      names
	o      options
	letter byte
	bin    string

	lab     *lab.Lab
	in      *server.Instance
	drv     *dataplane.Netns
	srv     *httptest.Server
	c       *rpc.Client
	rec     *recorder
	logFile *os.File

	stopLife, stopGW func()

	tr, system string
	vpcCIDR    netip.Prefix
	vpcHost    *lab.VPCHost
	rns        string // the router's namespace
	table      int    // the system route table's Linux table number
	mon        *routeMon
	bgpw       *bgpWatch

	applyTimes []time.Duration

	cleanOnce sync.Once
	cleanErr  error
}

func (w *world) dir() string       { return w.n.worldDir(w.letter) }
func (w *world) gwRunDir() string  { return filepath.Join(w.dir(), "dp") }
func (w *world) labRunDir() string { return filepath.Join(w.dir(), "lab") }
func (w *world) labPrefix() string { return w.n.labPrefix(w.letter) }
func (w *world) gwPrefix() string  { return w.n.gwPrefix(w.letter) }

// vpcCIDRs per scenario (each world is separate; distinct anyway).
var vpcCIDRs = map[byte]string{'h': "10.91.0.0/16", 'w': "10.92.0.0/16", 'e': "10.93.0.0/16", 's': "10.94.0.0/16"}

func (w *world) setup(ctx context.Context) error {
	if err := os.MkdirAll(w.dir(), 0o700); err != nil {
		return err
	}
	w.vpcCIDR = netip.MustParsePrefix(vpcCIDRs[w.letter])
	l, err := lab.New(ctx, w.labPrefix(), w.labRunDir())
	if err != nil {
		return err
	}
	w.lab = l
	if w.logFile, err = os.OpenFile(filepath.Join(w.dir(), "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return err
	}
	w.rec = newRecorder(w.logFile, w.o.verbose)
	log := slog.New(w.rec)
	gw := server.GatewayOptions{Mode: "on", WANNetns: l.WANNetns, WANBridge: lab.Bridge, WANBits: 15, Prefix: w.gwPrefix(),
		RunDir: w.gwRunDir(), VPCNetnsPrefix: w.labPrefix() + "vpc-", DPDDelay: w.o.dpdDelay, SpeakerBinary: w.bin}
	in, err := server.Open(ctx, server.Options{DataDir: filepath.Join(w.dir(), "data"), Config: config.Default(), TransitionDelay: w.o.transition,
		AdminKeyID: "AKADMIN", AdminSecret: "admin-secret-" + w.n.rid, Log: log, Gateway: gw})
	if err != nil {
		return err
	}
	w.in = in
	drv, ok := in.Gateway.Driver.(*dataplane.Netns)
	if !ok {
		return errors.New("the gateway's driver is not the netns driver")
	}
	w.drv = drv
	w.srv = httptest.NewServer(in.Handler)
	lctx, lcancel := context.WithCancel(context.Background())
	ldone := make(chan struct{})
	go func() { defer close(ldone); _ = in.Lifecycle.Run(lctx) }()
	w.stopLife = func() { lcancel(); <-ldone }
	gctx, gcancel := context.WithCancel(context.Background())
	gdone := make(chan struct{})
	go func() { defer close(gdone); _ = in.Gateway.Run(gctx) }()
	w.stopGW = func() { gcancel(); <-gdone }

	hc := &http.Client{Timeout: 30 * time.Second}
	admin := &rpc.Client{Endpoint: w.srv.URL, AccessKeyID: "AKADMIN", AccessKeySecret: "admin-secret-" + w.n.rid, HTTP: hc}
	var acct struct{ AccountId, AccessKeyId, AccessKeySecret string }
	if err := admin.Call(ctx, adminV, "CreateAccount", map[string]string{"Name": "convbench"}, &acct); err != nil {
		return err
	}
	w.c = &rpc.Client{Endpoint: w.srv.URL, AccessKeyID: acct.AccessKeyId, AccessKeySecret: acct.AccessKeySecret, HTTP: hc}
	r, err := benchkit.NewRouter(ctx, w.c, w.lab, drv, w.vpcCIDR)
	if err != nil {
		return err
	}
	w.tr, w.system, w.vpcHost = r.TR, r.System, r.VPCHost
	w.rns = drv.RouterNetns(w.tr)
	want, err := appliedRouter(ctx, in.Gateway, w.tr)
	if err != nil {
		return err
	}
	for _, r := range []dataplane.Router{want} {
		for _, t := range r.Tables {
			if t.ID == w.system {
				w.table = t.Number
			}
		}
	}
	if w.table == 0 {
		return errors.New("no Linux table for the system route table")
	}
	w.mon, err = startRouteMon(ctx, w.rns, w.table)
	return err
}

// cleanup stops the route monitor, the BGP watch, the gateway and the server, then removes
// the data plane (by the driver's prefix: speakers and charons in its namespaces too) and
// the lab (by its prefix: BIRDs and DC charons too) and the world's directory. It also
// works from the names alone (-cleanup) and runs once.
func (w *world) cleanup(ctx context.Context) error {
	w.cleanOnce.Do(func() {
		var errs []error
		if w.mon != nil {
			w.mon.stop()
		}
		if w.bgpw != nil {
			w.bgpw.stop()
		}
		if w.srv != nil {
			w.srv.Close()
		}
		if w.stopGW != nil {
			w.stopGW()
		}
		if w.stopLife != nil {
			w.stopLife()
		}
		wanNS := w.labPrefix() + "wan"
		drv, err := dataplane.NewNetns(dataplane.NetnsOptions{Prefix: w.gwPrefix(), RunDir: w.gwRunDir(), WANNetns: wanNS, WANBridge: lab.Bridge})
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
		if w.logFile != nil {
			w.logFile.Close()
		}
		errs = append(errs, lab.Cleanup(ctx, w.labPrefix(), w.labRunDir()))
		errs = append(errs, os.RemoveAll(w.dir()))
		w.cleanErr = errors.Join(errs...)
	})
	return w.cleanErr
}

// copyLogs copies the world's *.log and *.out files (server, speaker, charons, BIRDs)
// into dst, keeping their relative paths.
func (w *world) copyLogs(dst string) error {
	return filepath.WalkDir(w.dir(), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if !strings.HasSuffix(path, ".log") && !strings.HasSuffix(path, ".out") && !strings.HasSuffix(path, ".conf") {
			return nil
		}
		rel, err := filepath.Rel(w.dir(), path)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, rel)), 0o700); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
}

// noopApply records the longest idle gateway pass over 2 s (nothing changed): what the
// gateway repeats while nothing happens.
func (w *world) noopApply(ctx context.Context) {
	if d, err := benchkit.IdlePass(ctx, w.in.Gateway, 2*time.Second); err == nil {
		w.applyTimes = append(w.applyTimes, d)
	}
}

// appliedRouter waits (up to 30 s) until the gateway has applied transit router tr, and
// returns it as applied.
func appliedRouter(ctx context.Context, gw *gateway.Gateway, tr string) (dataplane.Router, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		if r, ok := gw.AppliedRouter(tr); ok {
			return r, nil
		}
		if time.Now().After(deadline) {
			return dataplane.Router{}, fmt.Errorf("transit router %s was not applied within 30s", tr)
		}
		if err := benchkit.SleepCtx(ctx, 100*time.Millisecond); err != nil {
			return dataplane.Router{}, err
		}
	}
}

// warnings are the distinct WARN/ERROR messages the server and gateway logged.
func (w *world) warnings() []string {
	if w.rec == nil {
		return nil
	}
	return w.rec.warningList(string(w.letter))
}

// ---------------------------------------------------------------- API helpers

func (w *world) call(ctx context.Context, version, action string, p map[string]string) (map[string]any, error) {
	return benchkit.Call(ctx, w.c, version, action, p)
}

// conn is one IPsec-VPN connection with its data center.
type conn struct {
	name     string
	vco, att string
	dc       *lab.DC
	conf     string // the DC's swanctl.conf as rendered by OpenCEN
	// BGP
	asn         uint32
	local, peer netip.Addr // the cloud's and the DC's tunnel addresses
	announced   []netip.Prefix
	hDst        netip.Addr // the health check's destination
}

type connSpec struct {
	name   string
	wan    string // the DC's WAN address (198.18.0.x)
	subnet string // the DC's subnet
	params map[string]string
	// BGP, when tunnel is set: the /30 of the tunnel, the DC's ASN
	tunnel string
	asn    uint32
}

// connect creates an IPsec-VPN connection as contract/e2e does: customer gateway, VPN
// attachment with the spec's parameters, transit-router attachment, association and
// propagation, the DC's subnet as a VPN-side route unless BGP is on, then the DC from
// OpenCEN's rendered strongSwan configuration (and, with BGP, its BIRD announcing
// nothing yet).
func (w *world) connect(ctx context.Context, s connSpec) (*conn, error) {
	const poll = 50 * time.Millisecond
	asn := s.asn
	if asn == 0 {
		asn = 65010
	}
	c := &conn{name: s.name, asn: asn}
	p := map[string]string{"RegionId": region, "EffectImmediately": "true"}
	for k, v := range s.params {
		p[k] = v
	}
	if s.tunnel != "" {
		t := netip.MustParsePrefix(s.tunnel)
		c.local, c.peer = t.Addr().Next(), t.Addr().Next().Next()
		p["BgpConfig"] = fmt.Sprintf(`{"EnableBgp":true,"TunnelCidr":%q,"LocalBgpIp":%q}`, s.tunnel, c.local)
	}
	out, err := w.call(ctx, vpcV, "CreateCustomerGateway", map[string]string{"RegionId": region, "IpAddress": s.wan, "Asn": fmt.Sprint(asn)})
	if err != nil {
		return nil, err
	}
	p["CustomerGatewayId"] = benchkit.Str(out, "CustomerGatewayId")
	// The product page's negotiation (IKEv2, SHA1), as the figures were always measured.
	if err := connect.PageValues(p); err != nil {
		return nil, err
	}
	if out, err = w.call(ctx, vpcV, "CreateVpnAttachment", p); err != nil {
		return nil, err
	}
	c.vco = benchkit.Str(out, "VpnConnectionId")
	if out, err = w.call(ctx, cbnV, "CreateTransitRouterVpnAttachment", map[string]string{"RegionId": region, "TransitRouterId": w.tr, "VpnId": c.vco}); err != nil {
		return nil, err
	}
	c.att = benchkit.Str(out, "TransitRouterAttachmentId")
	if err := benchkit.WaitFor(ctx, "VPN attached", 30*time.Second, poll, func() (bool, error) {
		return benchkit.Status(ctx, w.c, cbnV, "ListTransitRouterVpnAttachments", map[string]string{"TransitRouterAttachmentId": c.att}, "Attached", "TransitRouterAttachments")
	}); err != nil {
		return nil, err
	}
	if err := benchkit.Link(ctx, w.c, c.att, w.system, poll); err != nil {
		return nil, err
	}
	if s.tunnel == "" {
		if _, err := w.call(ctx, vpcV, "CreateVcoRouteEntry", map[string]string{"RegionId": region, "VpnConnectionId": c.vco,
			"RouteDest": s.subnet, "NextHop": c.vco, "Weight": "0"}); err != nil {
			return nil, err
		}
	}
	var conf struct{ Config string }
	if err := w.c.Call(ctx, adminV, "RenderVpnConnectionConfig", map[string]string{"RegionId": region, "VpnConnectionId": c.vco, "ConfigFormat": "strongswan"}, &conf); err != nil {
		return nil, fmt.Errorf("RenderVpnConnectionConfig: %w", err)
	}
	c.conf = conf.Config
	dc, err := w.lab.AddDC(ctx, s.name, netip.PrefixFrom(netip.MustParseAddr(s.wan), 15), netip.MustParsePrefix(s.subnet), conf.Config)
	c.dc = dc
	if err != nil {
		return c, err
	}
	if s.tunnel == "" {
		return c, dc.RouteToTunnel(ctx, w.vpcCIDR)
	}
	return c, w.birdStart(ctx, c, nil)
}

func (w *world) describeVco(ctx context.Context, c *conn) (map[string]any, error) {
	return w.call(ctx, vpcV, "DescribeVpnConnection", map[string]string{"RegionId": region, "VpnConnectionId": c.vco})
}

func (w *world) waitEstablished(ctx context.Context, c *conn, timeout time.Duration) error {
	return benchkit.WaitFor(ctx, c.name+" ipsec_sa_established", timeout, 100*time.Millisecond, func() (bool, error) {
		v, err := w.describeVco(ctx, c)
		return err == nil && v["Status"] == "ipsec_sa_established", err
	})
}

func (w *world) bgpStatus(ctx context.Context, c *conn) (string, error) {
	v, err := w.describeVco(ctx, c)
	if err != nil {
		return "", err
	}
	b, _ := v["VpnBgpConfig"].(map[string]any)
	return benchkit.Str(b, "Status"), nil
}

func (w *world) hcStatus(ctx context.Context, c *conn) (string, error) {
	v, err := w.describeVco(ctx, c)
	if err != nil {
		return "", err
	}
	h, _ := v["VcoHealthCheck"].(map[string]any)
	return benchkit.Str(h, "Status"), nil
}

// stable waits until the data plane of conns is settled: every cell has exactly one child
// SA (the gateway's driver deletes the duplicates of a simultaneous initiation by both
// ends a second or two after they come up, and such a deletion can leave the tunnel dark
// until DPD gives up: see the report), and, with BGP, every session has been established
// for more than a hold time (9 s, BIRD's), so a dark tunnel would have shown.
func (w *world) stable(ctx context.Context, conns []*conn, withBGP bool) error {
	var why string
	err := benchkit.WaitFor(ctx, "a settled data plane", 180*time.Second, 200*time.Millisecond, func() (bool, error) {
		st, err := w.drv.Status(ctx)
		if err != nil {
			why = err.Error()
			return false, nil
		}
		for _, c := range conns {
			cs, ok := st.Cell(c.vco)
			if !ok || cs.State != dataplane.IPsecEstablished || len(cs.Children) != 1 {
				why = fmt.Sprintf("%s: %s with %d child SAs", c.name, cs.State, len(cs.Children))
				return false, nil
			}
		}
		if withBGP {
			snap := w.bgpw.snapshot()
			for _, c := range conns {
				n := snap[c.vco]
				if !n.Established || time.Since(n.Since) < 12*time.Second {
					why = fmt.Sprintf("%s: BGP %s since %s", c.name, n.State, n.Since.Format("15:04:05.000"))
					return false, nil
				}
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("%w (%s)", err, why)
	}
	return nil
}

// entries counts the Active entries of the system table matching the filters.
func (w *world) entries(ctx context.Context, filters map[string]string) (int, error) {
	p := map[string]string{"TransitRouterRouteTableId": w.system, "MaxResults": "1"}
	for k, v := range filters {
		p[k] = v
	}
	var out struct{ TotalCount int }
	if err := w.c.Call(ctx, cbnV, "ListTransitRouterRouteEntries", p, &out); err != nil {
		return 0, err
	}
	return out.TotalCount, nil
}

// allEntries pages through the system table's Active entries matching the filters.
func (w *world) allEntries(ctx context.Context, filters map[string]string) ([]map[string]any, error) {
	var all []map[string]any
	token := ""
	for range 1000 {
		p := map[string]string{"TransitRouterRouteTableId": w.system, "MaxResults": "100"}
		for k, v := range filters {
			p[k] = v
		}
		if token != "" {
			p["NextToken"] = token
		}
		var out struct {
			NextToken                 string
			TransitRouterRouteEntries []map[string]any
		}
		if err := w.c.Call(ctx, cbnV, "ListTransitRouterRouteEntries", p, &out); err != nil {
			return nil, err
		}
		all = append(all, out.TransitRouterRouteEntries...)
		if out.NextToken == "" {
			return all, nil
		}
		token = out.NextToken
	}
	return all, errors.New("ListTransitRouterRouteEntries: too many pages")
}

// apiWatch polls the API every interval in its own goroutine until cond holds; Wait
// returns the send time of the first call that saw it.
type apiWatch struct {
	done chan struct{}
	at   time.Time
	err  error
}

func (w *world) watchAPI(ctx context.Context, interval, timeout time.Duration, cond func(context.Context) (bool, error)) *apiWatch {
	a := &apiWatch{done: make(chan struct{})}
	go func() {
		defer close(a.done)
		deadline := time.Now().Add(timeout)
		for {
			t := time.Now()
			ok, err := cond(ctx)
			if err != nil {
				a.err = err
				return
			}
			if ok {
				a.at = t
				return
			}
			if t.After(deadline) {
				a.err = fmt.Errorf("API: timed out after %s", timeout)
				return
			}
			if err := benchkit.SleepCtx(ctx, interval); err != nil {
				a.err = err
				return
			}
		}
	}()
	return a
}

func (a *apiWatch) wait() (time.Time, error) {
	<-a.done
	return a.at, a.err
}

// ---------------------------------------------------------------- the server's log

// recorder is the server's slog handler: it writes Info and above (and the driver's
// Debug lines) to the world's log file (Info to stderr with -v) and keeps, with their
// times, the gateway's "applied" lines and the driver's cell events (both Debug).
type recorder struct {
	*recCore
	attrs []slog.Attr
}

type recCore struct {
	out     *os.File
	verbose bool

	mu       sync.Mutex
	applied  []time.Time
	events   []cellEvent
	warnings map[string]int
}

func newRecorder(out *os.File, verbose bool) *recorder {
	return &recorder{recCore: &recCore{out: out, verbose: verbose}}
}

type cellEvent struct {
	at   time.Time
	text string
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	component := ""
	var b strings.Builder
	fmt.Fprintf(&b, "time=%s level=%s msg=%q", rec.Time.Format(time.RFC3339Nano), rec.Level, rec.Message)
	attr := func(a slog.Attr) bool {
		if a.Key == "component" {
			component = a.Value.String()
		}
		fmt.Fprintf(&b, " %s=%q", a.Key, a.Value.String())
		return true
	}
	for _, a := range r.attrs {
		attr(a)
	}
	rec.Attrs(attr)
	line := b.String()
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case rec.Message == "gateway: applied":
		r.applied = append(r.applied, rec.Time)
	case component == "dataplane":
		r.events = append(r.events, cellEvent{rec.Time, rec.Message})
	}
	if rec.Level >= slog.LevelWarn {
		if r.warnings == nil {
			r.warnings = map[string]int{}
		}
		msg := line[strings.Index(line, "level="):]
		if len(msg) > 300 {
			msg = msg[:300] + "..."
		}
		r.warnings[msg]++
	}
	if rec.Level >= slog.LevelInfo || component == "dataplane" {
		fmt.Fprintln(r.out, line)
		if r.verbose && rec.Level >= slog.LevelInfo {
			fmt.Fprintln(os.Stderr, line)
		}
	}
	return nil
}

func (r *recorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &recorder{recCore: r.recCore, attrs: append(append([]slog.Attr(nil), r.attrs...), as...)}
}
func (r *recorder) WithGroup(string) slog.Handler { return r }

// appliedBetween are the gateway's Apply completions in [a, b].
func (r *recorder) appliedBetween(a, b time.Time) []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []time.Time
	for _, t := range r.applied {
		if !t.Before(a) && !t.After(b) {
			out = append(out, t)
		}
	}
	return out
}

// eventsAfter are the driver's event lines about cell vco at or after t.
func (r *recorder) eventsAfter(vco string, t time.Time) []cellEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []cellEvent
	for _, e := range r.events {
		if !e.at.Before(t) && strings.HasPrefix(e.text, vco+" ") {
			out = append(out, e)
		}
	}
	return out
}

// count is how many driver lines contain s.
func (r *recorder) count(s string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if strings.Contains(e.text, s) {
			n++
		}
	}
	return n
}

func (r *recorder) warningList(tag string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for l, n := range r.warnings {
		out = append(out, fmt.Sprintf("[%s] %dx %s", tag, n, l))
	}
	sort.Strings(out)
	return out
}

// ---------------------------------------------------------------- small helpers

// cmdRun runs a command with a 30 s limit and returns its combined output.
func cmdRun(ctx context.Context, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}
