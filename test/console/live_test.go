package console_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"opencen/internal/config"
	"opencen/internal/lab"
	"opencen/internal/rpc"
	"opencen/internal/server"
	"opencen/internal/testenv"
	"opencen/internal/testserver"
)

// TestConsoleLive watches a real tunnel in the browser: the connection is made in the
// console, the data center (stock strongSwan and BIRD) is configured from the console's
// "Download configuration", and the connection's page shows the tunnel, the BGP session and
// the health check come up, the health check fail while the data center drops its probes,
// and recover, all without a reload.
func TestConsoleLive(t *testing.T) {
	w := newWorld(t)
	testenv.RequireDataplane(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	suffix := make([]byte, 2)
	_, _ = rand.Read(suffix)
	labPrefix, gwPrefix := "l"+hex.EncodeToString(suffix), "g"+hex.EncodeToString(suffix)
	dir := t.TempDir()
	l, err := lab.New(ctx, labPrefix, dir+"/lab")
	if err != nil {
		t.Fatal(err)
	}
	logBuf := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logBuf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	in, err := server.Open(ctx, server.Options{DataDir: dir + "/data", Config: config.Default(), TransitionDelay: 100 * time.Millisecond,
		AdminKeyID: "AKADMINLIVE", AdminSecret: "admin-secret", Log: log,
		Gateway: server.GatewayOptions{Mode: "on", WANNetns: l.WANNetns, WANBridge: lab.Bridge, WANBits: 15, Prefix: gwPrefix,
			RunDir: dir + "/dp", DPDDelay: 2 * time.Second, SpeakerBinary: testserver.Build(t)}})
	if err != nil {
		_ = l.Down(context.Background())
		t.Fatal(err)
	}
	srv := httptest.NewServer(in.Handler)
	loops := make(chan struct{}, 2)
	go func() { _ = in.Lifecycle.Run(ctx); loops <- struct{}{} }()
	go func() { _ = in.Gateway.Run(ctx); loops <- struct{}{} }()
	t.Cleanup(func() {
		srv.Close()
		cancel()
		<-loops
		<-loops
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
	w.url, w.serverLog = srv.URL, logBuf.String
	admin := &rpc.Client{Endpoint: srv.URL, AccessKeyID: "AKADMINLIVE", AccessKeySecret: "admin-secret"}
	if err := admin.Call(ctx, "2026-11-01", "CreateAccount", map[string]string{"Name": "alice"}, &w.alice); err != nil {
		t.Fatal(err)
	}
	w.bob = w.alice
	alice := w.api(w.alice)

	// The CEN, transit router and customer gateway come from the API: the console's own
	// procedures are covered by TestConsole.
	cen := call(t, alice, cbnV, "CreateCen", map[string]string{"Name": "live"})["CenId"].(string)
	waitFor(t, "CEN Active", func() bool {
		return strings.Contains(fmt.Sprint(call(t, alice, cbnV, "DescribeCens", nil)), "Status:Active")
	})
	tr := call(t, alice, cbnV, "CreateTransitRouter", map[string]string{"CenId": cen, "RegionId": "cn-hangzhou"})["TransitRouterId"].(string)
	waitFor(t, "TR Active", func() bool {
		return fmt.Sprint(only(t, call(t, alice, cbnV, "ListTransitRouters", map[string]string{"TransitRouterId": tr}), "TransitRouters")["Status"]) == "Active"
	})
	const wan, subnet, dip, sip = "198.18.0.60", "192.168.60.0/24", "192.168.60.1", "10.60.255.250"
	cgw := call(t, alice, vpcV, "CreateCustomerGateway", map[string]string{"RegionId": "cn-hangzhou", "IpAddress": wan, "Asn": "65010", "Name": "live-dc"})["CustomerGatewayId"].(string)

	confPath := filepath.Join(dir, "downloaded-swanctl.conf")
	var made struct{ Vco, Att string }
	w.run(t, "livecreate", map[string]string{"tr": tr, "cgw": cgw, "conf": confPath, "dip": dip, "sip": sip}, &made)
	raw, err := os.ReadFile(confPath)
	if err != nil {
		t.Fatalf("the downloaded configuration: %v", err)
	}
	// The data center runs the download unchanged: it initiates too, so the two ends'
	// initiations usually cross as it appears (see dataplane's TestBothEndsInitiate).
	conf := string(raw)
	dc, err := l.AddDC(ctx, "live", netip.PrefixFrom(netip.MustParseAddr(wan), 15), netip.MustParsePrefix(subnet), conf)
	if err != nil {
		t.Fatalf("stock strongSwan with the downloaded configuration: %v", err)
	}
	if err := dc.RouteToTunnel(ctx, netip.MustParsePrefix(sip+"/32")); err != nil {
		t.Fatal(err)
	}
	if err := dc.StartBIRD(ctx, 65010, dc.Host, []lab.BIRDNeighbor{{Address: netip.MustParseAddr("169.254.21.1"),
		LocalAddress: netip.MustParseAddr("169.254.21.2"), PeerAS: 65001}}, []netip.Prefix{dc.Subnet}); err != nil {
		t.Fatal(err)
	}
	var none struct{}
	w.run(t, "livewatch", map[string]string{"vco": made.Vco, "tr": tr, "att": made.Att, "netns": dc.Netns, "dip": dip}, &none)

	v := call(t, alice, vpcV, "DescribeVpnConnection", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": made.Vco})
	expect(t, made.Vco, v, map[string]string{"Status": "ipsec_sa_established", "VpnBgpConfig.Status": "success", "VcoHealthCheck.Status": "success"})
	sys := only(t, call(t, alice, cbnV, "ListTransitRouterRouteTables", map[string]string{"TransitRouterId": tr, "TransitRouterRouteTableType": "System"}), "TransitRouterRouteTables")
	entries := fmt.Sprint(call(t, alice, cbnV, "ListTransitRouterRouteEntries", map[string]string{"TransitRouterRouteTableId": fmt.Sprint(sys["TransitRouterRouteTableId"])}))
	if !strings.Contains(entries, subnet) {
		t.Errorf("the data center's BGP route %s is not in the system table: %s", subnet, entries)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// syncBuffer is the server's log, shared with the failure report.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
