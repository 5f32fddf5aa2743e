package server

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"opencen/internal/config"
	"opencen/internal/dataplane"
	ocmodel "opencen/internal/model"
	"opencen/internal/service"
)

// scrape reads the /metrics endpoint into metric families.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// value is the value of the family's metric with all the given labels (ok false: none).
func value(fams map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetricsEndpoint: /metrics shows an attached connection's state as its data plane
// reported it, its metered traffic, its attachment's bytes, and the API's requests (by
// action and code), their durations and the store's commits.
func TestMetricsEndpoint(t *testing.T) {
	e := &env{t: t, dir: t.TempDir(), cfg: config.Default(), withMetrics: true}
	e.start()
	t.Cleanup(e.close)
	c := e.account("alice")
	s := newVpnSetup(t, c)
	vco := vpcCall(t, c, "CreateVpnAttachment", map[string]string{
		"RegionId": "cn-hangzhou", "CustomerGatewayId": s.cgw, "LocalSubnet": "0.0.0.0/0", "RemoteSubnet": "0.0.0.0/0",
		"BgpConfig":         `{"EnableBgp":true,"LocalAsn":"65001","TunnelCidr":"169.254.11.0/30","LocalBgpIp":"169.254.11.1"}`,
		"HealthCheckConfig": `{"enable":true,"dip":"192.168.10.1","sip":"10.0.0.1","interval":5,"retry":4}`,
	})["VpnConnectionId"].(string)
	att := call(t, c, "CreateTransitRouterVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "TransitRouterId": s.tr, "VpnId": vco,
		"Zone.1.ZoneId": "cn-hangzhou-i"})["TransitRouterAttachmentId"].(string)
	waitFor(t, "Attached", func() bool { return attachmentStatus(t, c, att) == "Attached" })
	vpcErr(t, c, "DescribeVpnConnection", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": "vco-nosuch"})

	ctx := context.Background()
	svc := e.inst.Service
	learned := []service.LearnedRoute{{Prefix: "10.1.0.0/16"}, {Prefix: "10.2.0.0/16"}, {Prefix: "10.3.0.0/16"}}
	if err := svc.ReportConnection(ctx, vco, service.Report{Observed: service.Observed{Negotiation: dataplane.IPsecEstablished,
		BGP: ocmodel.StatusSuccess, Health: "failed"}, Learned: &learned}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i, raw := range []service.Traffic{{InBytes: 1000, InPackets: 10, OutBytes: 4000, OutPackets: 20}, {InBytes: 70, InPackets: 1, OutBytes: 30, OutPackets: 1}} {
		epoch := []string{"e1", "e2"}[i] // the router namespace was made anew in between
		if err := svc.ReportCounters(ctx, []service.CounterReading{{Attachment: att, Node: "local", Epoch: epoch, Raw: raw, At: now}}); err != nil {
			t.Fatal(err)
		}
	}

	fams := scrape(t, e.metricsURL)
	key, err := svc.LookupKey(ctx, c.AccessKeyID)
	if err != nil {
		t.Fatal(err)
	}
	id := map[string]string{"connection_id": vco, "account_id": key.Caller.AccountID}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range id {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	for _, w := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"opencen_vpn_connection_up", id, 1},
		{"opencen_bgp_session_up", id, 1},
		{"opencen_bgp_received_prefixes", id, 3},
		{"opencen_health_check_up", id, 0},
		{"opencen_vpn_connection_bytes_total", with(map[string]string{"direction": "in"}), 1070},
		{"opencen_vpn_connection_bytes_total", with(map[string]string{"direction": "out"}), 4030},
		{"opencen_vpn_connection_packets_total", with(map[string]string{"direction": "out"}), 21},
		{"opencen_transit_router_attachment_bytes_total", map[string]string{"attachment_id": att, "transit_router_id": s.tr, "direction": "in"}, 1070},
		{"opencen_api_requests_total", map[string]string{"product": "Vpc", "action": "CreateVpnAttachment", "code": "Success"}, 1},
		{"opencen_api_request_duration_seconds", map[string]string{"product": "Vpc", "action": "CreateVpnAttachment"}, 1},
	} {
		got, ok := value(fams, w.name, w.labels)
		if !ok || got != w.want {
			t.Errorf("%s%v = %v (present %v); want %v", w.name, w.labels, got, ok, w.want)
		}
	}
	if n, _ := value(fams, "opencen_store_commit_duration_seconds", nil); n < 5 {
		t.Errorf("store commits observed: %v; want every write's", n)
	}
	var errCodes []string
	for _, m := range fams["opencen_api_requests_total"].GetMetric() {
		for _, l := range m.Label {
			if l.GetName() == "code" && l.GetValue() != "Success" {
				errCodes = append(errCodes, l.GetValue())
			}
		}
	}
	if len(errCodes) != 1 || !strings.Contains(errCodes[0], "NotFound") {
		t.Errorf("error codes counted: %q; want the DescribeVpnConnection of a missing connection's", errCodes)
	}
}
