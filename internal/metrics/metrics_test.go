package metrics

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"opencen/internal/dataplane"
	"opencen/internal/model"
	"opencen/internal/service"
	"opencen/internal/store"
)

// world200 is a store with n attached IPsec-VPN connections on one transit router, each
// with an observed state, learned routes and metered traffic.
func world200(tb testing.TB, n int) *service.Service {
	tb.Helper()
	st, err := store.OpenBolt(filepath.Join(tb.TempDir(), "opencen.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	svc := service.New(service.Options{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx := tb.Context()
	put := func(key string, v any) {
		raw, err := json.Marshal(v)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := st.Txn(ctx, nil, []store.Op{store.Put(key, raw)}); err != nil {
			tb.Fatal(err)
		}
	}
	// Resources are written as the service stores them (/r/<kind>/<id>), observations as the
	// gateway reports them.
	put("/r/"+model.KindTR+"/tr-1", model.TransitRouter{Meta: model.Meta{ID: "tr-1", Owner: "100", Region: "cn-hangzhou", Status: "Active"}})
	var readings []service.CounterReading
	for i := range n {
		vco, att := fmt.Sprintf("vco-%04d", i), fmt.Sprintf("tr-attach-%04d", i)
		put("/r/"+model.KindVpnConnection+"/"+vco, model.VpnConnection{Meta: model.Meta{ID: vco, Owner: "100", Region: "cn-hangzhou", Status: model.VcoAttached},
			NetworkType: "public", Bgp: model.BgpConfig{EnableBgp: true}, HealthCheck: model.HealthCheck{Enable: true}})
		put("/r/"+model.KindVpnAttachment+"/"+att, model.VpnAttachment{Meta: model.Meta{ID: att, Owner: "100", Status: model.AttachmentAttached},
			TransitRouterID: "tr-1", VpnID: vco})
		learned := []service.LearnedRoute{{Prefix: "10.1.0.0/16"}, {Prefix: "10.2.0.0/16"}}
		if err := svc.ReportConnection(ctx, vco, service.Report{Observed: service.Observed{Negotiation: dataplane.IPsecEstablished,
			BGP: model.StatusSuccess, Health: model.StatusSuccess}, Learned: &learned}); err != nil {
			tb.Fatal(err)
		}
		readings = append(readings, service.CounterReading{Attachment: att, Epoch: "e1", At: time.Now(),
			Raw: service.Traffic{InBytes: uint64(1000 * (i + 1)), InPackets: uint64(i + 1), OutBytes: 500, OutPackets: 1}})
	}
	if err := svc.ReportCounters(ctx, readings); err != nil {
		tb.Fatal(err)
	}
	return svc
}

// TestScrapeStore: a scrape shows every connection's metrics from the store.
func TestScrapeStore(t *testing.T) {
	m := New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	m.Watch(world200(t, 3))
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`opencen_vpn_connection_up{account_id="100",connection_id="vco-0002",tunnel_id=""} 1`,
		`opencen_vpn_connection_bytes_total{account_id="100",connection_id="vco-0002",direction="in",tunnel_id=""} 3000`,
		`opencen_bgp_received_prefixes{account_id="100",connection_id="vco-0000",tunnel_id=""} 2`,
		`opencen_transit_router_attachment_bytes_total{account_id="100",attachment_id="tr-attach-0001",direction="out",transit_router_id="tr-1"} 500`,
		`opencen_metrics_store_read_errors_total 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the scrape lacks %s", want)
		}
	}
}

// TestScrapeDualTunnel: a dual-tunnel connection has a series per tunnel (tunnel_id), each
// with its tunnel's state and traffic; its attachment has both tunnels' traffic.
func TestScrapeDualTunnel(t *testing.T) {
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "opencen.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := service.New(service.Options{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx := t.Context()
	t1, t2 := model.TunnelID("vco-d", 1), model.TunnelID("vco-d", 2)
	for key, v := range map[string]any{
		"/r/" + model.KindTR + "/tr-1": model.TransitRouter{Meta: model.Meta{ID: "tr-1", Owner: "100", Region: "cn-hangzhou", Status: "Active"}},
		"/r/" + model.KindVpnConnection + "/vco-d": model.VpnConnection{Meta: model.Meta{ID: "vco-d", Owner: "100", Region: "cn-hangzhou", Status: model.VcoAttached},
			NetworkType: "public", AttachmentID: "tr-attach-d", Tunnels: []model.VpnTunnel{{ID: t1, Index: 1, Role: model.RoleMaster}, {ID: t2, Index: 2, Role: model.RoleSlave}}},
		"/r/" + model.KindVpnAttachment + "/tr-attach-d": model.VpnAttachment{Meta: model.Meta{ID: "tr-attach-d", Owner: "100", Status: model.AttachmentAttached},
			TransitRouterID: "tr-1", VpnID: "vco-d"},
	} {
		raw, _ := json.Marshal(v)
		if _, err := st.Txn(ctx, nil, []store.Op{store.Put(key, raw)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.ReportConnection(ctx, t1, service.Report{Observed: service.Observed{Negotiation: dataplane.IPsecEstablished}}); err != nil {
		t.Fatal(err)
	}
	if err := svc.ReportCounters(ctx, []service.CounterReading{
		{Attachment: t1, Epoch: "e1", At: time.Now(), Raw: service.Traffic{InBytes: 7000, OutBytes: 100}},
		{Attachment: t2, Epoch: "e1", At: time.Now(), Raw: service.Traffic{InBytes: 300, OutBytes: 20}},
	}); err != nil {
		t.Fatal(err)
	}
	m := New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	m.Watch(svc)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`opencen_vpn_connection_up{account_id="100",connection_id="vco-d",tunnel_id="` + t1 + `"} 1`,
		`opencen_vpn_connection_up{account_id="100",connection_id="vco-d",tunnel_id="` + t2 + `"} 0`,
		`opencen_vpn_connection_bytes_total{account_id="100",connection_id="vco-d",direction="in",tunnel_id="` + t1 + `"} 7000`,
		`opencen_vpn_connection_bytes_total{account_id="100",connection_id="vco-d",direction="in",tunnel_id="` + t2 + `"} 300`,
		`opencen_transit_router_attachment_bytes_total{account_id="100",attachment_id="tr-attach-d",direction="in",transit_router_id="tr-1"} 7300`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the scrape lacks %s", want)
		}
	}
	if strings.Contains(body, `connection_id="vco-d",tunnel_id=""`) {
		t.Error("a dual-tunnel connection has a series without a tunnel")
	}
}

// BenchmarkScrape200: one /metrics scrape with 200 connections (target: under 100 ms).
func BenchmarkScrape200(b *testing.B) {
	m := New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	m.Watch(world200(b, 200))
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), "vco-0199") {
			b.Fatalf("scrape: %d", rec.Code)
		}
	}
}
