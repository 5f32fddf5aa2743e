package console_test

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"opencen/internal/testserver"
)

// TestConsoleMetering: a connection's traffic chart (last hour, day, week) shows the
// traffic of its hourly usage, and the Billing page shows the month's bill, whose CSV
// download has exactly the lines BssOpenApi QueryInstanceBill answers; at 1280x800 and
// 390x844 (screenshots in the artifacts).
func TestConsoleMetering(t *testing.T) {
	w := newWorld(t)
	cfg := filepath.Join(t.TempDir(), "prices.yaml")
	if err := os.WriteFile(cfg, []byte("pricing:\n  currency: USD\n  regions:\n    cn-hangzhou:\n      IPsecVPNConnection: 0.5\n      DataTransfer: 0.8\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := testserver.Start(t, testserver.Options{TransitionDelay: 300 * time.Millisecond, Args: []string{"--gateway", "off", "--config", cfg}})
	w.url, w.serverLog = srv.URL, srv.Log
	w.alice, w.bob = srv.CreateAccount(t, "alice"), srv.CreateAccount(t, "bob")
	alice := w.api(w.alice)
	admin := w.api(testserver.Account{AccessKeyID: srv.AdminKeyID, AccessKeySecret: srv.AdminSecret})

	cgw := call(t, alice, vpcV, "CreateCustomerGateway", map[string]string{"RegionId": "cn-hangzhou", "IpAddress": "198.18.0.9"})["CustomerGatewayId"].(string)
	vco := call(t, alice, vpcV, "CreateVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "CustomerGatewayId": cgw,
		"LocalSubnet": "0.0.0.0/0", "RemoteSubnet": "0.0.0.0/0"})["VpnConnectionId"].(string)
	// The last three complete hours: 1, 2 and 3 GiB from the data center, half that toward it.
	now := time.Now().UTC()
	var records []map[string]any
	var inBytes, outBytes int64
	for h := 1; h <= 3; h++ {
		in := int64(h) << 30
		records = append(records, map[string]any{"hour": now.Truncate(time.Hour).Add(-time.Duration(h) * time.Hour).Format(time.RFC3339),
			"account": w.alice.AccountID, "instance": vco, "instanceType": "VpnConnection", "region": "cn-hangzhou",
			"networkType": "public", "hours": 1, "inBytes": in, "outBytes": in / 2})
		inBytes, outBytes = inBytes+in, outBytes+in/2
	}
	raw, _ := json.Marshal(records)
	call(t, admin, "2026-11-01", "ImportUsage", map[string]string{"Records": string(raw)})

	// The bill is of the month of the oldest imported hour (the test may run just after
	// midnight on the 1st).
	month := now.Truncate(time.Hour).Add(-3 * time.Hour).Format("2006-01")
	var out struct {
		Captions map[string]string `json:"captions"`
		Rows     int               `json:"rows"`
		Total    string            `json:"total"`
		CSV      string            `json:"csv"`
		Filename string            `json:"filename"`
	}
	w.run(t, "metering", map[string]string{"vco": vco, "month": month}, &out)

	for _, vp := range []string{"desktop", "phone"} {
		for rng, want := range map[string]string{"Last day": "in (from the data center) 6.0 GiB, out (toward the data center) 3.0 GiB",
			"Last week": "in (from the data center) 6.0 GiB, out (toward the data center) 3.0 GiB",
			"Last hour": "in (from the data center) 0.0 B, out (toward the data center) 0.0 B"} {
			if got := out.Captions[vp+" "+rng]; !strings.Contains(got, want) {
				t.Errorf("%s chart, %s: %q; want it to say %q", vp, rng, got, want)
			}
		}
	}

	// The CSV is the API's bill, line for line.
	bill := call(t, alice, "2017-12-14", "QueryInstanceBill", map[string]string{"BillingCycle": month, "IsBillingItem": "true", "PageSize": "300"})
	items, _ := bill["Data"].(map[string]any)["Items"].(map[string]any)["Item"].([]any)
	var want [][]string
	fields := []string{"InstanceID", "ProductCode", "BillingItem", "Region", "Usage", "UsageUnit", "ListPrice", "PretaxAmount", "Currency"}
	total := 0.0
	for _, it := range items {
		m := it.(map[string]any)
		row := make([]string, len(fields))
		for i, f := range fields {
			row[i] = fmt.Sprint(m[f])
		}
		want = append(want, row)
		a, _ := strconv.ParseFloat(fmt.Sprint(m["PretaxAmount"]), 64)
		total += a
	}
	got, err := csv.NewReader(strings.NewReader(out.CSV)).ReadAll()
	if err != nil || len(got) == 0 {
		t.Fatalf("CSV %q: %v", out.CSV, err)
	}
	if !slices.Equal(got[0], fields) {
		t.Errorf("CSV header %q; want %q", got[0], fields)
	}
	if len(got[1:]) != len(want) || len(want) != 2 {
		t.Fatalf("CSV lines %q; the API's %q (want the connection's two items)", got[1:], want)
	}
	for i := range want {
		if !slices.Equal(got[1+i], want[i]) {
			t.Errorf("CSV line %d: %q; the API says %q", i+1, got[1+i], want[i])
		}
	}
	// 3 h x 0.5 + 3 GiB x 0.8 = 3.90 USD.
	if total < 3.899 || total > 3.901 || out.Total != "Total: 3.90 USD" || out.Rows != 2 {
		t.Errorf("bill total %v, page %q with %d rows; want 3.90 USD in two rows", total, out.Total, out.Rows)
	}
	if out.Filename != "opencen-bill-"+month+".csv" {
		t.Errorf("download named %q", out.Filename)
	}
}
