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
		`opencen_vpn_connection_up{account_id="100",connection_id="vco-0002"} 1`,
		`opencen_vpn_connection_bytes_total{account_id="100",connection_id="vco-0002",direction="in"} 3000`,
		`opencen_bgp_received_prefixes{account_id="100",connection_id="vco-0000"} 2`,
		`opencen_transit_router_attachment_bytes_total{account_id="100",attachment_id="tr-attach-0001",direction="out",transit_router_id="tr-1"} 500`,
		`opencen_metrics_store_read_errors_total 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the scrape lacks %s", want)
		}
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
