// Package cms serves the part of CloudMonitor (Cms 2019-01-01) tenants call for their
// IPsec-VPN connections' traffic: DescribeMetricList and DescribeMetricLast in namespace
// acs_vpn, dimension instanceId (the connection's ID), from the stored counters
// (service.ConnectionTraffic). See docs/api.md for where the metric names come from.
package cms

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"opencen/internal/api"
	"opencen/internal/apierr"
	"opencen/internal/rpc"
	"opencen/internal/service"
)

// Version of CloudMonitor served.
const Version = "2019-01-01"

// Namespace is the VPN gateway's CloudMonitor namespace.
const Namespace = "acs_vpn"

// Metrics served: rates over the period, in = from the data center into the cloud
// (received by the cloud's side of the tunnel), out = toward the data center.
var metrics = map[string]func(t service.Traffic, seconds float64) float64{
	"net_rx.rate": func(t service.Traffic, s float64) float64 { return float64(t.InBytes) * 8 / s },  // bits/s
	"net_tx.rate": func(t service.Traffic, s float64) float64 { return float64(t.OutBytes) * 8 / s }, // bits/s
	"net_rx.Pkgs": func(t service.Traffic, s float64) float64 { return float64(t.InPackets) / s },    // packets/s
	"net_tx.Pkgs": func(t service.Traffic, s float64) float64 { return float64(t.OutPackets) / s },   // packets/s
}

// MetricNames lists the metrics served, for errors and docs.
func MetricNames() []string {
	return []string{"net_rx.rate", "net_tx.rate", "net_rx.Pkgs", "net_tx.Pkgs"}
}

// Product returns the CloudMonitor product.
func Product(svc *service.Service) *rpc.Product {
	h := handlers{svc: svc, now: time.Now}
	return &rpc.Product{Name: "Cms", Version: Version, Host: "metrics.aliyuncs.com", Actions: map[string]rpc.Handler{
		"DescribeMetricList": h.list,
		"DescribeMetricLast": h.last,
	}}
}

type handlers struct {
	svc *service.Service
	now func() time.Time
}

// query is a parsed metric request.
type query struct {
	metric     string
	instances  []string
	period     time.Duration
	start, end time.Time
}

// periods the data is kept in: minutes for the last hour, hours beyond.
var periods = map[string]time.Duration{"60": time.Minute, "300": 5 * time.Minute, "900": 15 * time.Minute, "3600": time.Hour}

func (h handlers) parse(p rpc.Params, defaultSpan time.Duration) (query, error) {
	var q query
	if ns := p["Namespace"]; ns == "" {
		return q, apierr.Missing("Namespace")
	} else if ns != Namespace {
		return q, apierr.Invalid("Namespace", "Namespace %q is not served here; IPsec-VPN connection metrics are in %s.", ns, Namespace)
	}
	q.metric = p["MetricName"]
	if q.metric == "" {
		return q, apierr.Missing("MetricName")
	}
	if _, ok := metrics[q.metric]; !ok {
		return q, apierr.Invalid("MetricName", "MetricName %q is not served; use one of %s.", q.metric, strings.Join(MetricNames(), ", "))
	}
	var err error
	if q.instances, err = dimensions(p["Dimensions"]); err != nil {
		return q, err
	}
	q.period = time.Minute
	if s := p["Period"]; s != "" {
		d, ok := periods[s]
		if !ok {
			return q, apierr.Invalid("Period", "Period must be 60, 300, 900 or 3600 (seconds), got %q.", s)
		}
		q.period = d
	}
	now := h.now().UTC()
	q.end = now
	if s := p["EndTime"]; s != "" {
		if q.end, err = parseTime("EndTime", s); err != nil {
			return q, err
		}
	}
	q.start = q.end.Add(-max(defaultSpan, q.period))
	if s := p["StartTime"]; s != "" {
		if q.start, err = parseTime("StartTime", s); err != nil {
			return q, err
		}
	}
	if !q.start.Before(q.end) {
		return q, apierr.Invalid("StartTime", "StartTime must be before EndTime.")
	}
	if q.end.Sub(q.start) > 31*24*time.Hour {
		return q, apierr.Invalid("StartTime", "Ask for at most 31 days at a time.")
	}
	return q, nil
}

// dimensions reads Dimensions: a JSON object {"instanceId":"vco-..."} or an array of them.
func dimensions(s string) ([]string, error) {
	if s == "" {
		return nil, apierr.Missing("Dimensions")
	}
	var list []map[string]string
	if strings.HasPrefix(strings.TrimSpace(s), "{") {
		var one map[string]string
		if err := json.Unmarshal([]byte(s), &one); err != nil {
			return nil, apierr.Invalid("Dimensions", "Dimensions must be JSON such as {\"instanceId\":\"vco-...\"} or a list of them: %s", err)
		}
		list = []map[string]string{one}
	} else if err := json.Unmarshal([]byte(s), &list); err != nil {
		return nil, apierr.Invalid("Dimensions", "Dimensions must be JSON such as {\"instanceId\":\"vco-...\"} or a list of them: %s", err)
	}
	var out []string
	for _, d := range list {
		id := d["instanceId"]
		if id == "" {
			return nil, apierr.Invalid("Dimensions", "Each dimension needs an instanceId (an IPsec-VPN connection ID).")
		}
		out = append(out, id)
	}
	if len(out) == 0 {
		return nil, apierr.Missing("Dimensions")
	}
	return out, nil
}

// parseTime reads a time as CloudMonitor takes it: Unix milliseconds, or
// "YYYY-MM-DD hh:mm:ss" (UTC here), or RFC 3339.
func parseTime(name, s string) (time.Time, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, apierr.Invalid(name, "%s must be Unix milliseconds or YYYY-MM-DD hh:mm:ss (UTC), got %q.", name, s)
}

// datapoints computes the datapoints of q for the caller: one per period and instance,
// oldest first, Average, Maximum and Minimum all the period's mean rate (the counters
// are kept per minute, not per sample).
func (h handlers) datapoints(ctx context.Context, r *rpc.Request, q query) ([]rpc.Object, error) {
	rate := metrics[q.metric]
	var out []rpc.Object
	for _, id := range q.instances {
		points, err := h.svc.ConnectionTraffic(ctx, api.Caller(r), id, q.start, q.end, q.period)
		if err != nil {
			return nil, err
		}
		for _, pt := range points {
			v := rate(pt.Traffic, q.period.Seconds())
			out = append(out, rpc.Object{"timestamp": pt.Start.UnixMilli(), "userId": r.Identity.AccountID, "instanceId": id,
				"Average": v, "Maximum": v, "Minimum": v})
		}
	}
	return out, nil
}

func answer(q query, points []rpc.Object, next string) (rpc.Object, error) {
	raw, err := json.Marshal(points)
	if err != nil {
		return nil, err
	}
	return rpc.Object{"Code": "200", "Success": true, "Message": "", "Period": strconv.Itoa(int(q.period.Seconds())),
		"Datapoints": string(raw), "NextToken": next}, nil
}

func (h handlers) list(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	q, err := h.parse(r.Params, time.Hour)
	if err != nil {
		return nil, err
	}
	tp, err := api.TokenParams(r.Params, "Length", 1000, 1440)
	if err != nil {
		return nil, err
	}
	points, err := h.datapoints(ctx, r, q)
	if err != nil {
		return nil, err
	}
	page, next := api.TokenPageOf(points, tp)
	return answer(q, page, next)
}

// last answers the latest complete period of each instance.
func (h handlers) last(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	q, err := h.parse(r.Params, 0)
	if err != nil {
		return nil, err
	}
	// The latest complete period before the end.
	end := q.end.Truncate(q.period)
	q.start, q.end = end.Add(-q.period), end
	points, err := h.datapoints(ctx, r, q)
	if err != nil {
		return nil, err
	}
	return answer(q, points, "")
}
