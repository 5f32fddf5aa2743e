package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"opencen/internal/rpc"
	"opencen/internal/service"
)

// TestCloudMonitorTraffic: DescribeMetricList and DescribeMetricLast answer a connection's
// traffic rates per minute from the stored counters, in the namespace and metric names
// of the cloud's VPN connections; another account's connection is not found; bad
// parameters are refused with the parameter's name.
func TestCloudMonitorTraffic(t *testing.T) {
	e := newEnv(t)
	c := e.account("alice")
	s := newVpnSetup(t, c)
	vco := vpcCall(t, c, "CreateVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "CustomerGatewayId": s.cgw,
		"LocalSubnet": "0.0.0.0/0", "RemoteSubnet": "0.0.0.0/0"})["VpnConnectionId"].(string)
	att := call(t, c, "CreateTransitRouterVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "TransitRouterId": s.tr, "VpnId": vco,
		"Zone.1.ZoneId": "cn-hangzhou-i"})["TransitRouterAttachmentId"].(string)
	waitFor(t, "Attached", func() bool { return attachmentStatus(t, c, att) == "Attached" })

	ctx := context.Background()
	minute := time.Now().UTC().Truncate(time.Minute).Add(-5 * time.Minute)
	// Two readings in one minute, one three minutes later: 6000 bytes in the first minute
	// from the data center, 1200 toward it; 600 more in the later minute.
	for _, r := range []struct {
		at      time.Time
		in, out uint64
	}{{minute.Add(5 * time.Second), 1000, 200}, {minute.Add(50 * time.Second), 6000, 1200}, {minute.Add(3*time.Minute + time.Second), 6600, 1200}} {
		err := e.inst.Service.ReportCounters(ctx, []service.CounterReading{{Attachment: att, Node: "local", Epoch: "e1", At: r.at,
			Raw: service.Traffic{InBytes: r.in, InPackets: r.in / 100, OutBytes: r.out, OutPackets: r.out / 100}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	cms := func(cl *rpc.Client, action string, p map[string]string) (map[string]any, error) {
		var out map[string]any
		err := cl.Call(ctx, "2019-01-01", action, p, &out)
		return out, err
	}
	params := map[string]string{"Namespace": "acs_vpn", "MetricName": "net_rx.rate", "Period": "60",
		"Dimensions": fmt.Sprintf(`{"instanceId":%q}`, vco), "StartTime": fmt.Sprint(minute.Add(-time.Minute).UnixMilli()),
		"EndTime": fmt.Sprint(minute.Add(5 * time.Minute).UnixMilli())}
	out, err := cms(c, "DescribeMetricList", params)
	if err != nil {
		t.Fatal(err)
	}
	var points []struct {
		Timestamp  int64   `json:"timestamp"`
		InstanceID string  `json:"instanceId"`
		Average    float64 `json:"Average"`
	}
	if out["Code"] != "200" || out["Period"] != "60" {
		t.Fatalf("DescribeMetricList: %v", out)
	}
	if err := json.Unmarshal([]byte(out["Datapoints"].(string)), &points); err != nil {
		t.Fatalf("Datapoints %v: %v", out["Datapoints"], err)
	}
	want := map[int64]float64{minute.UnixMilli(): 6000 * 8 / 60.0, minute.Add(3 * time.Minute).UnixMilli(): 600 * 8 / 60.0}
	if len(points) != 6 {
		t.Fatalf("%d datapoints, want one per minute of six: %+v", len(points), points)
	}
	for _, p := range points {
		if p.InstanceID != vco || p.Average != want[p.Timestamp] {
			t.Errorf("datapoint at %s: %+v; want %v bits/s", time.UnixMilli(p.Timestamp).UTC(), p, want[p.Timestamp])
		}
	}
	params["MetricName"] = "net_tx.Pkgs"
	out, err = cms(c, "DescribeMetricList", params)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(out["Datapoints"].(string)), &points); err != nil || points[1].Average != 12/60.0 {
		t.Errorf("net_tx.Pkgs: %v %+v", err, points)
	}

	bob := e.account("bob")
	if _, err := cms(bob, "DescribeMetricList", params); err == nil || !strings.Contains(err.Error(), "NotFound") {
		t.Errorf("bob reading alice's connection: %v; want not found", err)
	}
	for name, bad := range map[string]map[string]string{
		"InvalidNamespace":  {"Namespace": "acs_ecs_dashboard"},
		"InvalidMetricName": {"MetricName": "cpu"},
		"InvalidPeriod":     {"Period": "7"},
		"InvalidDimensions": {"Dimensions": "vco-1"},
		"InvalidStartTime":  {"StartTime": "yesterday"},
	} {
		p := map[string]string{}
		for k, v := range params {
			p[k] = v
		}
		for k, v := range bad {
			p[k] = v
		}
		if _, err := cms(c, "DescribeMetricList", p); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%v: %v; want %s", bad, err, name)
		}
	}
	last, err := cms(c, "DescribeMetricLast", map[string]string{"Namespace": "acs_vpn", "MetricName": "net_rx.rate", "Dimensions": fmt.Sprintf(`[{"instanceId":%q}]`, vco)})
	if err != nil || last["Code"] != "200" {
		t.Fatalf("DescribeMetricLast: %v %v", last, err)
	}
	if err := json.Unmarshal([]byte(last["Datapoints"].(string)), &points); err != nil || len(points) != 1 {
		t.Errorf("DescribeMetricLast datapoints: %v %+v; want the last minute's", err, points)
	}
}
