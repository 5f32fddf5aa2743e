package contract

// BssOpenApi 2017-12-14 QueryInstanceBill and DescribeInstanceBill through the stock
// generic client (darabonba-openapi's CallApi, as there is no typed BssOpenApi SDK in this
// module), each answer decoded strictly into the SDK's response model (the field names and
// types of bssopenapi-20171214's QueryInstanceBillResponseBody and
// DescribeInstanceBillResponseBody): a server with a price sheet, a scripted month of usage
// imported by the admin, and one real hour of attachments metered by the server itself.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	"github.com/alibabacloud-go/tea/dara"

	"opencen/internal/testserver"
)

// bssItem is an item of QueryInstanceBill's Data.Items.Item and, with the fields after
// the blank line, of DescribeInstanceBill's Data.Items (the SDK models' names and types).
type bssItem struct {
	AdjustAmount              float64
	BillingDate               string
	BillingItem               string
	BillingType               string
	CashAmount                float64
	CommodityCode             string
	CostUnit                  string
	Currency                  string
	DeductedByCashCoupons     float64
	DeductedByCoupons         float64
	DeductedByPrepaidCard     float64
	DeductedByResourcePackage string
	InstanceConfig            string
	InstanceID                string
	InstanceSpec              string
	InternetIP                string
	IntranetIP                string
	InvoiceDiscount           float64
	Item                      string
	ListPrice                 string
	ListPriceUnit             string
	NickName                  string
	OutstandingAmount         float64
	OwnerID                   string
	PaymentAmount             float64
	PipCode                   string
	PretaxAmount              float64
	PretaxGrossAmount         float64
	ProductCode               string
	ProductDetail             string
	ProductName               string
	ProductType               string
	Region                    string
	ResourceGroup             string
	ServicePeriod             string
	ServicePeriodUnit         string
	SubscriptionType          string
	Tag                       string
	Usage                     string
	UsageUnit                 string
	Zone                      string

	BillAccountID   string `json:",omitempty"`
	BillAccountName string `json:",omitempty"`
	BillingItemCode string `json:",omitempty"`
	BizType         string `json:",omitempty"`
	ItemName        string `json:",omitempty"`
}

type queryInstanceBillBody struct {
	Code, Message, RequestId string
	Success                  bool
	Data                     struct {
		AccountID, AccountName, BillingCycle string
		Items                                struct{ Item []bssItem }
		PageNum, PageSize, TotalCount        int32
	}
}

type describeInstanceBillBody struct {
	Code, Message, RequestId string
	Success                  bool
	Data                     struct {
		AccountID, AccountName, BillingCycle string
		Items                                []bssItem
		MaxResults, TotalCount               int32
		NextToken                            string
	}
}

// callGeneric calls (version, action) through darabonba-openapi's CallApi and decodes the
// body strictly into out (a field the model lacks fails the test).
func callGeneric(t testing.TB, endpoint string, acct testserver.Account, version, action string, params map[string]string, out any) error {
	t.Helper()
	return callGenericIn(t, endpoint, acct, version, action, params, false, out)
}

// callGenericIn is callGeneric with the parameters in the form body when inBody (for
// parameters too long for a URL).
func callGenericIn(t testing.TB, endpoint string, acct testserver.Account, version, action string, params map[string]string, inBody bool, out any) error {
	t.Helper()
	c, err := openapi.NewClient(daraConfig(styleACS3, endpoint, acct.AccessKeyID, acct.AccessKeySecret))
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	q := map[string]*string{}
	for k, v := range params {
		q[k] = dara.String(v)
	}
	p := &openapiutil.Params{Action: dara.String(action), Version: dara.String(version), Protocol: dara.String("HTTPS"),
		Pathname: dara.String("/"), Method: dara.String("POST"), AuthType: dara.String("AK"), Style: dara.String("RPC"),
		ReqBodyType: dara.String("formData"), BodyType: dara.String("json")}
	req := &openapiutil.OpenApiRequest{Query: q}
	if inBody {
		body := map[string]any{}
		for k, v := range params {
			body[k] = v
		}
		req = &openapiutil.OpenApiRequest{Body: body}
	}
	resp, err := c.CallApi(p, req, &dara.RuntimeOptions{})
	if err != nil {
		return err
	}
	raw, err := json.Marshal(resp["body"])
	if err != nil {
		t.Fatalf("%s: re-encode body: %v", action, err)
	}
	if out == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		t.Fatalf("%s: the answer does not decode into the SDK's model: %v\n%s", action, err, raw)
	}
	return nil
}

const bssVersion = "2017-12-14"

func TestBills(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prices.yaml")
	err := os.WriteFile(cfg, []byte(`pricing:
  currency: USD
  regions:
    cn-hangzhou:
      TransitRouterConnection: 0.2
      TransitRouterDataForwarding: 0.1
      IPsecVPNConnection: 0.5
      DataTransfer: 0.8
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	srv := testserver.Start(t, testserver.Options{TransitionDelay: 100 * time.Millisecond, Args: []string{"--config", cfg}})
	alice, bob := srv.CreateAccount(t, "bill-alice"), srv.CreateAccount(t, "bill-bob")
	admin := testserver.Account{AccessKeyID: srv.AdminKeyID, AccessKeySecret: srv.AdminSecret}

	// Alice's real instances: a VPC attachment, an IPsec-VPN connection and its attachment.
	lab := newRoutingLab(t, srv, alice, styleACS3)
	vpnAtt := lab.vpn("dc", "")
	vco := lab.vco["dc"]

	// A scripted October for the VPN attachment and its connection: every hour attached,
	// 1 GiB into the transit router, 0.5 GiB toward the data center.
	var records []map[string]any
	const gib = 1 << 30
	for h := range 31 * 24 {
		hour := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(h) * time.Hour).Format(time.RFC3339)
		records = append(records,
			map[string]any{"hour": hour, "account": alice.AccountID, "instance": vpnAtt, "instanceType": "TransitRouterVpnAttachment",
				"region": regionHZ, "hours": 1, "inBytes": gib, "outBytes": gib / 2},
			map[string]any{"hour": hour, "account": alice.AccountID, "instance": vco, "instanceType": "VpnConnection",
				"region": regionHZ, "networkType": "public", "hours": 1, "inBytes": gib, "outBytes": gib / 2})
	}
	raw, _ := json.Marshal(records)
	if err := callGenericIn(t, srv.Endpoint, admin, "2026-11-01", "ImportUsage", map[string]string{"Records": string(raw)}, true, nil); err != nil {
		t.Fatalf("ImportUsage: %v", describeErr(err))
	}
	err = callGenericIn(t, srv.Endpoint, alice, "2026-11-01", "ImportUsage", map[string]string{"Records": string(raw)}, true, nil)
	expectAPIError(t, "ImportUsage by a tenant", err, 403, "")

	// October, by instance: 744 h x 0.2 + 744 GB x 0.1 for the attachment; 744 h x 0.5 +
	// 372 GB x 0.8 for the connection.
	var q queryInstanceBillBody
	if err := callGeneric(t, srv.Endpoint, alice, bssVersion, "QueryInstanceBill", map[string]string{"BillingCycle": "2026-10"}, &q); err != nil {
		t.Fatalf("QueryInstanceBill: %v", describeErr(err))
	}
	want := map[string]float64{vpnAtt: 223.2, vco: 669.6}
	if !q.Success || q.Code != "Success" || q.Data.BillingCycle != "2026-10" || q.Data.AccountID != alice.AccountID || q.Data.TotalCount != 2 || len(q.Data.Items.Item) != 2 {
		t.Fatalf("QueryInstanceBill October: %+v", q)
	}
	for _, it := range q.Data.Items.Item {
		if math.Abs(it.PretaxAmount-want[it.InstanceID]) > 0.005 || it.Currency != "USD" || it.SubscriptionType != "PayAsYouGo" || it.Region != regionHZ {
			t.Errorf("October line %s: %+v; want %.2f USD", it.InstanceID, it, want[it.InstanceID])
		}
		if wantProduct := map[string]string{vpnAtt: "cbn", vco: "vpn"}[it.InstanceID]; it.ProductCode != wantProduct {
			t.Errorf("October line %s: product %s, want %s", it.InstanceID, it.ProductCode, wantProduct)
		}
	}
	// By item, a page of one at a time.
	seen := map[string]float64{}
	for page := 1; page <= 4; page++ {
		var p queryInstanceBillBody
		mustOK(t, "QueryInstanceBill by item", callGeneric(t, srv.Endpoint, alice, bssVersion, "QueryInstanceBill",
			map[string]string{"BillingCycle": "2026-10", "IsBillingItem": "true", "PageNum": strconv.Itoa(page), "PageSize": "1"}, &p))
		if p.Data.TotalCount != 4 || len(p.Data.Items.Item) != 1 || p.Data.PageNum != int32(page) {
			t.Fatalf("page %d by item: %+v", page, p.Data)
		}
		it := p.Data.Items.Item[0]
		seen[it.InstanceID+"/"+it.BillingItem] = it.PretaxAmount
		if it.BillingItem == "Data transfer" && (it.Usage != "372" || it.UsageUnit != "GB" || it.ListPrice != "0.8") {
			t.Errorf("data transfer line: %+v", it)
		}
	}
	for key, amount := range map[string]float64{vpnAtt + "/Transit router connection": 148.8, vpnAtt + "/Transit router data forwarding": 74.4,
		vco + "/IPsec-VPN connection": 372, vco + "/Data transfer": 297.6} {
		if math.Abs(seen[key]-amount) > 0.005 {
			t.Errorf("%s = %v, want %v (all lines: %v)", key, seen[key], amount, seen)
		}
	}

	// One day through DescribeInstanceBill, then the connection alone, a token page at a time.
	var d describeInstanceBillBody
	mustOK(t, "DescribeInstanceBill daily", callGeneric(t, srv.Endpoint, alice, bssVersion, "DescribeInstanceBill",
		map[string]string{"BillingCycle": "2026-10", "Granularity": "DAILY", "BillingDate": "2026-10-05"}, &d))
	wantDay := map[string]float64{vpnAtt: 24*0.2 + 24*0.1, vco: 24*0.5 + 12*0.8}
	if d.Data.TotalCount != 2 || len(d.Data.Items) != 2 {
		t.Fatalf("DescribeInstanceBill 5 Oct: %+v", d.Data)
	}
	for _, it := range d.Data.Items {
		if it.BillingDate != "2026-10-05" || math.Abs(it.PretaxAmount-wantDay[it.InstanceID]) > 0.005 || it.BillAccountID != alice.AccountID || it.BillAccountName != "bill-alice" {
			t.Errorf("5 Oct line: %+v; want %.2f", it, wantDay[it.InstanceID])
		}
	}
	var first, second describeInstanceBillBody
	mustOK(t, "DescribeInstanceBill page 1", callGeneric(t, srv.Endpoint, alice, bssVersion, "DescribeInstanceBill",
		map[string]string{"BillingCycle": "2026-10", "InstanceID": vco, "IsBillingItem": "true", "MaxResults": "1"}, &first))
	if len(first.Data.Items) != 1 || first.Data.NextToken == "" || first.Data.TotalCount != 2 {
		t.Fatalf("page 1: %+v", first.Data)
	}
	mustOK(t, "DescribeInstanceBill page 2", callGeneric(t, srv.Endpoint, alice, bssVersion, "DescribeInstanceBill",
		map[string]string{"BillingCycle": "2026-10", "InstanceID": vco, "IsBillingItem": "true", "MaxResults": "1", "NextToken": first.Data.NextToken}, &second))
	if len(second.Data.Items) != 1 || second.Data.NextToken != "" || second.Data.Items[0].BillingItemCode == first.Data.Items[0].BillingItemCode {
		t.Fatalf("page 2: %+v after %+v", second.Data, first.Data)
	}

	// The real hour: this month, each of alice's attached instances has at least the hour
	// its attach completed in (two if the test crossed an hour), priced per hour.
	cycle := time.Now().UTC().Format("2006-01")
	var now queryInstanceBillBody
	mustOK(t, "QueryInstanceBill this month", callGeneric(t, srv.Endpoint, alice, bssVersion, "QueryInstanceBill",
		map[string]string{"BillingCycle": cycle, "IsBillingItem": "true", "PageSize": "300"}, &now))
	hourly := map[string]float64{lab.vpcAtt + "/Transit router connection": 0.2, vpnAtt + "/Transit router connection": 0.2, vco + "/IPsec-VPN connection": 0.5}
	for _, it := range now.Data.Items.Item {
		price, ok := hourly[it.InstanceID+"/"+it.BillingItem]
		if !ok {
			continue
		}
		delete(hourly, it.InstanceID+"/"+it.BillingItem)
		hours, err := strconv.ParseFloat(it.Usage, 64)
		if err != nil || hours < 1 || hours > 2 || math.Abs(it.PretaxAmount-price*hours) > 0.005 || it.UsageUnit != "Hour" {
			t.Errorf("this month's %s %s: usage %q, amount %v; want 1 (or 2) hours at %v", it.InstanceID, it.BillingItem, it.Usage, it.PretaxAmount, price)
		}
	}
	if len(hourly) > 0 {
		t.Errorf("this month's bill lacks %v (lines: %+v)", hourly, now.Data.Items.Item)
	}

	// Bob sees nothing of it, and cannot ask for alice's bill; the admin sees it.
	var b queryInstanceBillBody
	mustOK(t, "bob's October", callGeneric(t, srv.Endpoint, bob, bssVersion, "QueryInstanceBill", map[string]string{"BillingCycle": "2026-10"}, &b))
	if b.Data.TotalCount != 0 || len(b.Data.Items.Item) != 0 {
		t.Errorf("bob's October: %+v", b.Data)
	}
	var bd describeInstanceBillBody
	mustOK(t, "bob's connection bill", callGeneric(t, srv.Endpoint, bob, bssVersion, "DescribeInstanceBill",
		map[string]string{"BillingCycle": "2026-10", "InstanceID": vco}, &bd))
	if bd.Data.TotalCount != 0 {
		t.Errorf("bob asking for alice's connection: %+v", bd.Data)
	}
	err = callGeneric(t, srv.Endpoint, bob, bssVersion, "QueryInstanceBill", map[string]string{"BillingCycle": "2026-10", "BillOwnerId": alice.AccountID}, nil)
	expectAPIError(t, "bob asking for alice's bill", err, 404, "InvalidBillOwnerId.NotFound")
	var a queryInstanceBillBody
	mustOK(t, "admin's October of alice", callGeneric(t, srv.Endpoint, admin, bssVersion, "QueryInstanceBill",
		map[string]string{"BillingCycle": "2026-10", "BillOwnerId": alice.AccountID}, &a))
	if a.Data.TotalCount != 2 || a.Data.AccountID != alice.AccountID {
		t.Errorf("admin's view of alice's October: %+v", a.Data)
	}

	// Bad input: clear errors.
	for _, c := range []struct {
		params map[string]string
		code   string
	}{
		{map[string]string{}, "MissingBillingCycle"},
		{map[string]string{"BillingCycle": "October"}, "InvalidBillingCycle"},
		{map[string]string{"BillingCycle": "2026-10", "Granularity": "HOURLY"}, "InvalidGranularity"},
		{map[string]string{"BillingCycle": "2026-10", "Granularity": "DAILY"}, "MissingBillingDate"},
		{map[string]string{"BillingCycle": "2026-10", "Granularity": "DAILY", "BillingDate": "2026-11-01"}, "InvalidBillingDate"},
		{map[string]string{"BillingCycle": "2026-10", "PageSize": "301"}, "InvalidPageSize"},
	} {
		err := callGeneric(t, srv.Endpoint, alice, bssVersion, "QueryInstanceBill", c.params, nil)
		expectAPIError(t, fmt.Sprintf("QueryInstanceBill %v", c.params), err, 400, c.code)
	}
}
