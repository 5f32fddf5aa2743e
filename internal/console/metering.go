package console

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"opencen/internal/api/bss"
	"opencen/internal/api/cms"
)

// Traffic charts and the Billing page. Both read the API the console signs in to, as any
// tenant tool would: CloudMonitor's DescribeMetricList for a connection's traffic, and
// BssOpenApi's QueryInstanceBill for the month's bill. Charts are SVG drawn here, so they
// show without JavaScript.

// chartRanges are the chart's spans: the period of their points, and how many.
var chartRanges = map[string]struct {
	label  string
	period time.Duration
	span   time.Duration
}{
	"hour": {"Last hour", time.Minute, time.Hour},
	"day":  {"Last day", time.Hour, 24 * time.Hour},
	"week": {"Last week", time.Hour, 7 * 24 * time.Hour},
}

// chart is what the template draws: the plot's size, the two series as SVG polyline
// points, the scale and the totals (also in words, for those who cannot see the plot).
type chart struct {
	Range, Label    string
	Ranges          []chartLink
	W, H            int
	In, Out         string
	Max             string
	From, To        string
	InTotal, OutTot string
	Empty           bool
}

type chartLink struct {
	Key, Label string
	Current    bool
}

// plot dimensions (SVG user units; the SVG scales to its box).
const chartW, chartH = 600, 160

// trafficChart reads a connection's rates for the range r ("hour", "day", "week") and
// lays them out.
func (c *Console) trafficChart(q *req, region, vco, r string) (*chart, error) {
	spec, ok := chartRanges[r]
	if !ok {
		r, spec = "hour", chartRanges["hour"]
	}
	end := time.Now().UTC().Truncate(spec.period).Add(spec.period)
	start := end.Add(-spec.span)
	series := map[string][]float64{}
	for _, metric := range []string{"net_rx.rate", "net_tx.rate"} {
		out, err := q.cl.get(q.ctx, cms.Version, "DescribeMetricList", map[string]string{"Namespace": cms.Namespace, "MetricName": metric,
			"Dimensions": fmt.Sprintf(`{"instanceId":%q}`, vco), "Period": strconv.Itoa(int(spec.period.Seconds())),
			"StartTime": strconv.FormatInt(start.UnixMilli(), 10), "EndTime": strconv.FormatInt(end.UnixMilli(), 10), "Length": "1440"})
		if err != nil {
			return nil, err
		}
		var points []struct {
			Timestamp int64   `json:"timestamp"`
			Average   float64 `json:"Average"`
		}
		if err := json.Unmarshal([]byte(str(out["Datapoints"])), &points); err != nil {
			return nil, fmt.Errorf("datapoints of %s: %w", metric, err)
		}
		n := int(spec.span / spec.period)
		vals := make([]float64, n)
		for _, p := range points {
			if i := int(time.UnixMilli(p.Timestamp).Sub(start) / spec.period); i >= 0 && i < n {
				vals[i] = p.Average
			}
		}
		series[metric] = vals
	}
	ch := &chart{Range: r, Label: spec.label, W: chartW, H: chartH,
		From: start.Format("2006-01-02 15:04"), To: end.Format("2006-01-02 15:04") + " UTC"}
	for _, k := range []string{"hour", "day", "week"} {
		ch.Ranges = append(ch.Ranges, chartLink{Key: k, Label: chartRanges[k].label, Current: k == r})
	}
	top := 0.0
	var inBits, outBits float64
	for i := range series["net_rx.rate"] {
		top = max(top, series["net_rx.rate"][i], series["net_tx.rate"][i])
		inBits += series["net_rx.rate"][i] * spec.period.Seconds()
		outBits += series["net_tx.rate"][i] * spec.period.Seconds()
	}
	ch.Empty = top == 0
	if top == 0 {
		top = 1
	}
	line := func(vals []float64) string {
		var b strings.Builder
		for i, v := range vals {
			x := float64(i) * float64(chartW) / float64(max(len(vals)-1, 1))
			y := float64(chartH) - v/top*float64(chartH-10)
			fmt.Fprintf(&b, "%.1f,%.1f ", x, y)
		}
		return strings.TrimSpace(b.String())
	}
	ch.In, ch.Out = line(series["net_rx.rate"]), line(series["net_tx.rate"])
	ch.Max = humanRate(top)
	ch.InTotal, ch.OutTot = humanBytes(inBits/8), humanBytes(outBits/8)
	return ch, nil
}

func humanRate(bps float64) string {
	for _, u := range []string{"bit/s", "kbit/s", "Mbit/s", "Gbit/s"} {
		if bps < 1000 {
			return strconv.FormatFloat(bps, 'f', 1, 64) + " " + u
		}
		bps /= 1000
	}
	return strconv.FormatFloat(bps, 'f', 1, 64) + " Tbit/s"
}

func humanBytes(b float64) string {
	for _, u := range []string{"B", "KiB", "MiB", "GiB"} {
		if b < 1024 {
			return strconv.FormatFloat(b, 'f', 1, 64) + " " + u
		}
		b /= 1024
	}
	return strconv.FormatFloat(b, 'f', 1, 64) + " TiB"
}

// billColumns are the bill table's and the CSV's columns: header and the item's field.
var billColumns = []struct{ Header, Field string }{
	{"Instance", "InstanceID"}, {"Product", "ProductCode"}, {"Item", "BillingItem"}, {"Region", "Region"},
	{"Usage", "Usage"}, {"Unit", "UsageUnit"}, {"Unit price", "ListPrice"}, {"Amount", "PretaxAmount"}, {"Currency", "Currency"},
}

// bill reads a month's bill by billable item (all pages).
func (c *Console) bill(q *req, month string) ([]any, error) {
	var all []any
	for n := 1; ; n++ {
		out, err := q.cl.get(q.ctx, bss.Version, "QueryInstanceBill", map[string]string{"BillingCycle": month, "IsBillingItem": "true",
			"PageNum": strconv.Itoa(n), "PageSize": "300"})
		if err != nil {
			return nil, err
		}
		items, _ := dig(out, "Data", "Items", "Item").([]any)
		all = append(all, items...)
		total, _ := strconv.Atoi(str(dig(out, "Data", "TotalCount")))
		if len(items) == 0 || len(all) >= total {
			return all, nil
		}
	}
}

// month reads ?month=YYYY-MM (default this month).
func billMonth(r *http.Request) (string, bool) {
	m := r.URL.Query().Get("month")
	if m == "" {
		return time.Now().UTC().Format("2006-01"), true
	}
	_, err := time.Parse("2006-01", m)
	return m, err == nil
}

func (c *Console) billingPage(q *req) {
	p := c.newPage(q, "Billing", "billing")
	month, ok := billMonth(q.r)
	p.D["Month"], p.D["Columns"] = month, billColumns
	if !ok {
		p.Error = "Month must be given as YYYY-MM, such as 2026-11."
		c.render(q.w, q.r, "billing", http.StatusBadRequest, p)
		return
	}
	items, err := c.bill(q, month)
	if err != nil {
		_, p.Error = fieldErrors(err, nil)
	}
	rows := make([][]string, 0, len(items))
	totals := map[string]float64{}
	for _, it := range items {
		row := make([]string, len(billColumns))
		for i, col := range billColumns {
			row[i] = str(dig(it, col.Field))
		}
		amount, _ := strconv.ParseFloat(str(dig(it, "PretaxAmount")), 64)
		totals[str(dig(it, "Currency"))] += amount
		rows = append(rows, row)
	}
	var total []string
	for cur, v := range totals {
		total = append(total, strconv.FormatFloat(v, 'f', 2, 64)+" "+cur)
	}
	p.D["Rows"], p.D["Total"] = rows, strings.Join(total, ", ")
	c.render(q.w, q.r, "billing", http.StatusOK, p)
}

// billingCSV sends the month's bill as CSV: the Billing page's columns, the API's values.
func (c *Console) billingCSV(q *req) {
	month, ok := billMonth(q.r)
	if !ok {
		http.Error(q.w, "month must be YYYY-MM", http.StatusBadRequest)
		return
	}
	items, err := c.bill(q, month)
	if err != nil {
		_, msg := fieldErrors(err, nil)
		http.Error(q.w, msg, http.StatusBadGateway)
		return
	}
	q.w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	q.w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="opencen-bill-%s.csv"`, month))
	q.w.Header().Set("Cache-Control", "no-store")
	w := csv.NewWriter(q.w)
	header := make([]string, len(billColumns))
	for i, col := range billColumns {
		header[i] = col.Field
	}
	_ = w.Write(header)
	for _, it := range items {
		row := make([]string, len(billColumns))
		for i, col := range billColumns {
			row[i] = str(dig(it, col.Field))
		}
		_ = w.Write(row)
	}
	w.Flush()
}
