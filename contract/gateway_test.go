package contract

// Gateway-level checks shared by every action: credentials, routing on (Version, Action),
// Format.

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	cbn "github.com/alibabacloud-go/cbn-20170912/v2/client"
	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	rpc "github.com/alibabacloud-go/tea-rpc/client"
	teautil "github.com/alibabacloud-go/tea-utils/service"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/alibabacloud-go/tea/tea"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"

	"opencen/internal/testserver"
)

// rawCall performs (version, action) with params through a client style's generic entry
// point (darabonba CallApi, tea-rpc DoRequest, alibaba-cloud-sdk-go CommonRequest).
// extraQuery is added to the query string (tea-rpc lets it override Format).
func rawCall(t testing.TB, style, endpoint string, acct testserver.Account, version, action string, params map[string]string, extraQuery map[string]string) error {
	t.Helper()
	switch style {
	case styleACS3, styleTeaV2:
		cfg := &openapiutil.Config{AccessKeyId: dara.String(acct.AccessKeyID), AccessKeySecret: dara.String(acct.AccessKeySecret),
			RegionId: dara.String(regionHZ), Endpoint: dara.String(endpoint), Protocol: dara.String("HTTP"), HttpClient: &ownHTTPClient{}}
		if style == styleTeaV2 {
			cfg.SignatureAlgorithm = dara.String("v2")
		}
		c, err := cbn.NewClient(cfg)
		if err != nil {
			t.Fatalf("client: %v", err)
		}
		q := map[string]*string{}
		for k, v := range params {
			q[k] = dara.String(v)
		}
		for k, v := range extraQuery {
			q[k] = dara.String(v)
		}
		p := &openapiutil.Params{Action: dara.String(action), Version: dara.String(version), Protocol: dara.String("HTTPS"),
			Pathname: dara.String("/"), Method: dara.String("POST"), AuthType: dara.String("AK"), Style: dara.String("RPC"),
			ReqBodyType: dara.String("formData"), BodyType: dara.String("json")}
		_, err = c.CallApi(p, &openapiutil.OpenApiRequest{Query: q}, &dara.RuntimeOptions{})
		return err
	case styleTeaRPC:
		c, err := rpc.NewClient(&rpc.Config{AccessKeyId: tea.String(acct.AccessKeyID), AccessKeySecret: tea.String(acct.AccessKeySecret),
			RegionId: tea.String(regionHZ), Endpoint: tea.String(endpoint), Protocol: tea.String("HTTP")})
		if err != nil {
			t.Fatalf("client: %v", err)
		}
		body := map[string]interface{}{}
		for k, v := range params {
			body[k] = v
		}
		var query map[string]interface{}
		if len(extraQuery) > 0 {
			query = map[string]interface{}{}
			for k, v := range extraQuery {
				query[k] = v
			}
		}
		if len(body) == 0 {
			body = nil
		}
		_, err = c.DoRequest(tea.String(action), nil, tea.String("POST"), tea.String(version), tea.String("AK"), query, body, &teautil.RuntimeOptions{})
		return err
	case styleSDKGo:
		c := client(t, styleSDKGo, endpoint, acct).(*sdkGoClient).c
		req := requests.NewCommonRequest()
		req.Method = "POST"
		req.Scheme = "http"
		req.Domain = endpoint
		req.Version = version
		req.ApiName = action
		req.Product = "Cbn"
		for k, v := range params {
			req.QueryParams[k] = v
		}
		for k, v := range extraQuery {
			if k == "Format" {
				req.AcceptFormat = v
				continue
			}
			req.QueryParams[k] = v
		}
		_, err := c.ProcessCommonRequest(req)
		return err
	}
	t.Fatalf("unknown style %s", style)
	return nil
}

func TestGatewayErrors(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	alice := srv.CreateAccount(t, "alice")

	// A second key of alice's, to be disabled; and one to be deleted.
	toDisable := srv.CreateKey(t, alice.AccountID)
	toDelete := srv.CreateKey(t, alice.AccountID)
	for _, k := range []testserver.Account{toDisable, toDelete} {
		if _, _, err := client(t, styleACS3, srv.Endpoint, k).DescribeCens(DescribeCensIn{}); err != nil {
			t.Fatalf("fresh key %s does not work: %v", k.AccessKeyID, describeErr(err))
		}
	}
	srv.DisableKey(t, toDisable.AccessKeyID)
	srv.DeleteKey(t, toDelete.AccessKeyID)

	for _, style := range allStyles {
		t.Run(style, func(t *testing.T) {
			t.Parallel()
			unknown := testserver.Account{AccessKeyID: "LTAInosuchkey0000000000", AccessKeySecret: "whatever"}
			_, _, err := client(t, style, srv.Endpoint, unknown).DescribeCens(DescribeCensIn{})
			expectAPIError(t, "unknown AccessKeyId", err, http.StatusNotFound, "InvalidAccessKeyId.NotFound")

			_, _, err = client(t, style, srv.Endpoint, toDisable).DescribeCens(DescribeCensIn{})
			expectAPIError(t, "disabled AccessKeyId", err, http.StatusForbidden, "InvalidAccessKeyId.Inactive")

			_, _, err = client(t, style, srv.Endpoint, toDelete).DescribeCens(DescribeCensIn{})
			expectAPIError(t, "deleted AccessKeyId", err, http.StatusNotFound, "InvalidAccessKeyId.NotFound")

			err = rawCall(t, style, srv.Endpoint, alice, "2017-09-12", "NoSuchAction", nil, nil)
			expectAPIError(t, "unknown Action", err, http.StatusNotFound, "InvalidAction.NotFound")

			err = rawCall(t, style, srv.Endpoint, alice, "2099-01-01", "DescribeCens", nil, nil)
			expectAPIError(t, "unknown Version", err, http.StatusBadRequest, "InvalidVersion")

			// The generic entry point itself works...
			err = rawCall(t, style, srv.Endpoint, alice, "2017-09-12", "DescribeCens", nil, nil)
			if err != nil {
				t.Errorf("generic-call DescribeCens: %v", describeErr(err))
			}
			// ...and dispatch is on (Version, Action): DescribeCens is no Vpc 2016-04-28 action.
			err = rawCall(t, style, srv.Endpoint, alice, "2016-04-28", "DescribeCens", nil, nil)
			expectAPIError(t, "Vpc 2016-04-28 DescribeCens", err, http.StatusNotFound, "InvalidAction.NotFound")

			if style != styleACS3 { // ACS3 has no Format parameter
				err = rawCall(t, style, srv.Endpoint, alice, "2017-09-12", "DescribeCens", nil, map[string]string{"Format": "XML"})
				e := expectAPIError(t, "Format=XML", err, http.StatusBadRequest, "")
				if e != nil && !strings.HasPrefix(e.Code, "Invalid") {
					t.Errorf("Format=XML: Code %q, want an Invalid* code (e.g. InvalidParameter.Format)", e.Code)
				}
			}
		})
	}
}

// TestAccountIDRange: AccountIds are 16 digits and, like Alibaba UIDs (1xxxxxxxxxxxxxxx),
// at most 2^53, because terraform's tea-rpc decodes JSON numbers into float64 and would
// corrupt AliUid / VpnOwnerId / CenOwnerId values above that.
func TestAccountIDRange(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	seen := map[string]bool{}
	for i := 0; i < 30; i++ {
		a := srv.CreateAccount(t, fmt.Sprintf("acct-%d", i))
		if seen[a.AccountID] {
			t.Errorf("AccountId %s issued twice", a.AccountID)
		}
		seen[a.AccountID] = true
		if len(a.AccountID) != 16 || strings.Trim(a.AccountID, "0123456789") != "" || a.AccountID[0] == '0' {
			t.Errorf("AccountId %q: want 16 digits without a leading zero", a.AccountID)
			continue
		}
		if uid, _ := strconv.ParseInt(a.AccountID, 10, 64); uid > 1<<53 {
			t.Errorf("AccountId %d > 2^53 (%d): such IDs do not survive terraform's float64 decoding in general (this one becomes %.0f)", uid, int64(1)<<53, float64(uid))
		}
	}
}

// TestGETMethod: RPC actions also accept GET with everything in the query (aliyun CLI
// --method GET, terraform RpcGet).
func TestGETMethod(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	alice := srv.CreateAccount(t, "alice")
	cenID := createActiveCen(t, client(t, styleACS3, srv.Endpoint, alice), uniq("get"))

	t.Run(styleSDKGo, func(t *testing.T) {
		c := client(t, styleSDKGo, srv.Endpoint, alice).(*sdkGoClient).c
		req := requests.NewCommonRequest()
		req.Method = "GET"
		req.Scheme = "http"
		req.Domain = srv.Endpoint
		req.Version = "2017-09-12"
		req.ApiName = "DescribeCens"
		req.Product = "Cbn"
		req.QueryParams["Filter.1.Key"] = "CenId"
		req.QueryParams["Filter.1.Value.1"] = cenID
		resp, err := c.ProcessCommonRequest(req)
		if err != nil {
			t.Fatalf("GET DescribeCens: %v", describeErr(err))
		}
		if !strings.Contains(resp.GetHttpContentString(), cenID) {
			t.Errorf("GET DescribeCens body lacks %s: %s", cenID, resp.GetHttpContentString())
		}
	})
	t.Run(styleTeaRPC, func(t *testing.T) {
		c, err := rpc.NewClient(&rpc.Config{AccessKeyId: tea.String(alice.AccessKeyID), AccessKeySecret: tea.String(alice.AccessKeySecret),
			RegionId: tea.String(regionHZ), Endpoint: tea.String(srv.Endpoint), Protocol: tea.String("HTTP")})
		if err != nil {
			t.Fatal(err)
		}
		query := map[string]interface{}{"Filter.1.Key": "CenId", "Filter.1.Value.1": cenID}
		resp, err := c.DoRequest(tea.String("DescribeCens"), nil, tea.String("GET"), tea.String("2017-09-12"), tea.String("AK"), query, nil, &teautil.RuntimeOptions{})
		if err != nil {
			t.Fatalf("GET DescribeCens: %v", describeErr(err))
		}
		if n := dig(resp, "TotalCount"); fmt.Sprint(n) != "1" {
			t.Errorf("GET DescribeCens TotalCount = %v, want 1", n)
		}
	})
}
