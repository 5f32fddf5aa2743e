package server

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"opencen/internal/rpc"
)

func TestCenAndTransitRouterLifecycle(t *testing.T) {
	e := newEnv(t)
	c := e.account("alice")
	cen := call(t, c, "CreateCen", map[string]string{"Name": "prod", "Description": "d", "Tag.1.Key": "env", "Tag.1.Value": "prod"})["CenId"].(string)
	if !regexp.MustCompile(`^cen-[a-z0-9]{18}$`).MatchString(cen) {
		t.Fatalf("CenId %q is not Alibaba-shaped", cen)
	}
	if s := cenStatus(t, c, cen); s != "Creating" {
		t.Fatalf("new CEN status %q, want Creating", s)
	}
	waitFor(t, "CEN Active", func() bool { return cenStatus(t, c, cen) == "Active" })

	got := call(t, c, "DescribeCens", map[string]string{"Filter.1.Key": "Name", "Filter.1.Value.1": "prod"})
	item := got["Cens"].(map[string]any)["Cen"].([]any)[0].(map[string]any)
	if item["CenId"] != cen || item["Description"] != "d" || item["ProtectionLevel"] != "REDUCED" ||
		!regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\dZ$`).MatchString(item["CreationTime"].(string)) {
		t.Fatalf("DescribeCens item: %v", item)
	}
	if tags := item["Tags"].(map[string]any)["Tag"].([]any); len(tags) != 1 || tags[0].(map[string]any)["Key"] != "env" {
		t.Fatalf("tags: %v", tags)
	}

	tr := call(t, c, "CreateTransitRouter", map[string]string{"CenId": cen, "RegionId": "cn-hangzhou", "TransitRouterName": "hz",
		"TransitRouterCidrList": `[{"Cidr":"192.168.0.0/24","Name":"gw","PublishCidrRoute":false}]`})["TransitRouterId"].(string)
	waitFor(t, "TR Active", func() bool { return trStatus(t, c, tr) == "Active" })
	item = call(t, c, "ListTransitRouters", map[string]string{"CenId": cen})["TransitRouters"].([]any)[0].(map[string]any)
	cidrs := item["TransitRouterCidrList"].([]any)
	if item["TransitRouterName"] != "hz" || item["RegionId"] != "cn-hangzhou" || item["Type"] != "Enterprise" || len(cidrs) != 1 ||
		cidrs[0].(map[string]any)["PublishCidrRoute"] != false {
		t.Fatalf("ListTransitRouters item: %v", item)
	}

	if e := cbnErr(t, c, "DeleteCen", map[string]string{"CenId": cen}); e.Code != "InvalidOperation.AttachedChildInstanceExist" || e.Status != 400 {
		t.Fatalf("DeleteCen with a TR: %v (%d)", e, e.Status)
	}
	if e := cbnErr(t, c, "CreateTransitRouter", map[string]string{"CenId": cen, "RegionId": "cn-hangzhou"}); e.Code != "OperationFailed.TransitRouterExists" {
		t.Fatalf("second TR in a region: %v", e)
	}
	call(t, c, "UpdateTransitRouter", map[string]string{"TransitRouterId": tr, "TransitRouterDescription": "new"})
	call(t, c, "ModifyCenAttribute", map[string]string{"CenId": cen, "Name": "renamed"})
	item = call(t, c, "ListTransitRouters", map[string]string{"TransitRouterId": tr})["TransitRouters"].([]any)[0].(map[string]any)
	if item["TransitRouterDescription"] != "new" || item["TransitRouterName"] != "hz" {
		t.Fatalf("after update: %v", item)
	}

	call(t, c, "DeleteTransitRouter", map[string]string{"TransitRouterId": tr})
	if s := trStatus(t, c, tr); s != "Deleting" {
		t.Fatalf("deleting TR status %q", s)
	}
	if e := cbnErr(t, c, "UpdateTransitRouter", map[string]string{"TransitRouterId": tr, "TransitRouterName": "x"}); e.Code != "Operation.Blocking" {
		t.Fatalf("update while deleting: %v", e)
	}
	waitFor(t, "TR gone", func() bool { return trStatus(t, c, tr) == "" })
	call(t, c, "DeleteCen", map[string]string{"CenId": cen})
	waitFor(t, "CEN gone", func() bool { return cenStatus(t, c, cen) == "" })
	// A deleted TR frees its CIDR for the CEN's next router.
	kvs, _, _ := e.inst.Store.List(context.Background(), "/r/")
	if len(kvs) != 0 {
		t.Fatalf("resources left after deleting everything: %d", len(kvs))
	}
}

func TestErrorCases(t *testing.T) {
	e := newEnv(t)
	alice := e.account("alice")
	bob := e.account("bob")
	cen := activeCen(t, alice)
	tr := activeTR(t, alice, cen)
	call(t, alice, "CreateTransitRouterCidr", map[string]string{"TransitRouterId": tr, "RegionId": "cn-hangzhou", "Cidr": "10.0.0.0/24"})
	badKey := &rpc.Client{Endpoint: e.http.URL, AccessKeyID: alice.AccessKeyID, AccessKeySecret: "wrong"}
	unknownKey := &rpc.Client{Endpoint: e.http.URL, AccessKeyID: "LTAInope", AccessKeySecret: "x"}
	long := strings.Repeat("a", 129)

	cases := []struct {
		name   string
		c      *rpc.Client
		action string
		params map[string]string
		code   string
		status int
	}{
		{"wrong secret", badKey, "DescribeCens", nil, "SignatureDoesNotMatch", 403},
		{"unknown key", unknownKey, "DescribeCens", nil, "InvalidAccessKeyId.NotFound", 404},
		{"unknown action", alice, "DescribeNothing", nil, "InvalidAction.NotFound", 404},
		{"missing CenId", alice, "CreateTransitRouter", map[string]string{"RegionId": "cn-hangzhou"}, "MissingCenId", 400},
		{"missing RegionId", alice, "CreateTransitRouter", map[string]string{"CenId": cen}, "MissingRegionId", 400},
		{"unknown region", alice, "CreateTransitRouter", map[string]string{"CenId": cen, "RegionId": "mars-1"}, "InvalidRegionId", 400},
		{"url name", alice, "CreateCen", map[string]string{"Name": "http://x"}, "InvalidName", 400},
		{"long name", alice, "CreateCen", map[string]string{"Name": long}, "InvalidName", 400},
		{"long description", alice, "CreateCen", map[string]string{"Description": strings.Repeat("d", 257)}, "InvalidDescription", 400},
		{"protection level", alice, "CreateCen", map[string]string{"ProtectionLevel": "FULL"}, "InvalidProtectionLevel", 400},
		{"tag acs:", alice, "CreateCen", map[string]string{"Tag.1.Key": "acs:x", "Tag.1.Value": "v"}, "InvalidTagKey", 400},
		{"tag aliyun value", alice, "CreateCen", map[string]string{"Tag.1.Key": "k", "Tag.1.Value": "aliyunX"}, "InvalidTagValue", 400},
		{"tag http", alice, "CreateCen", map[string]string{"Tag.1.Key": "see https://x"}, "InvalidTagKey", 400},
		{"tag empty key", alice, "CreateCen", map[string]string{"Tag.1.Value": "v"}, "InvalidTagKey", 400},
		{"tag key 65", alice, "CreateCen", map[string]string{"Tag.1.Key": strings.Repeat("k", 65)}, "InvalidTagKey", 400},
		{"client token 65", alice, "CreateCen", map[string]string{"ClientToken": strings.Repeat("t", 65)}, "InvalidClientToken", 400},
		{"page size", alice, "ListTransitRouters", map[string]string{"PageSize": "500"}, "InvalidPageSize", 400},
		{"page number", alice, "DescribeCens", map[string]string{"PageNumber": "0"}, "InvalidPageNumber", 400},
		{"filter key", alice, "DescribeCens", map[string]string{"Filter.1.Key": "Colour", "Filter.1.Value.1": "x"}, "InvalidFilterKey", 400},
		{"dry run bool", alice, "CreateCen", map[string]string{"DryRun": "maybe"}, "InvalidDryRun", 400},
		{"unknown CEN", alice, "DeleteCen", map[string]string{"CenId": "cen-nope"}, "InvalidCenId.NotFound", 404},
		{"unknown TR", alice, "UpdateTransitRouter", map[string]string{"TransitRouterId": "tr-nope"}, "InvalidTransitRouterId.NotFound", 404},
		{"other's CEN", bob, "ModifyCenAttribute", map[string]string{"CenId": cen, "Name": "x"}, "InvalidCenId.NotFound", 404},
		{"other's TR", bob, "DeleteTransitRouter", map[string]string{"TransitRouterId": tr}, "InvalidTransitRouterId.NotFound", 404},
		{"TR on other's CEN", bob, "CreateTransitRouter", map[string]string{"CenId": cen, "RegionId": "cn-shanghai"}, "InvalidCenId.NotFound", 404},
		{"tag other's", bob, "TagResources", map[string]string{"ResourceType": "Cen", "ResourceId.1": cen, "Tag.1.Key": "k"}, "InvalidResourceId.NotFound", 404},
		{"tag type", alice, "TagResources", map[string]string{"ResourceType": "Bucket", "ResourceId.1": cen, "Tag.1.Key": "k"}, "InvalidResourceType", 400},
		{"cidr mask", alice, "CreateTransitRouterCidr", map[string]string{"TransitRouterId": tr, "RegionId": "cn-hangzhou", "Cidr": "10.1.0.0/25"}, "InvalidCidr", 400},
		{"cidr wide", alice, "CreateTransitRouterCidr", map[string]string{"TransitRouterId": tr, "RegionId": "cn-hangzhou", "Cidr": "10.0.0.0/8"}, "InvalidCidr", 400},
		{"cidr reserved", alice, "CreateTransitRouterCidr", map[string]string{"TransitRouterId": tr, "RegionId": "cn-hangzhou", "Cidr": "100.64.1.0/24"}, "InvalidCidr", 400},
		{"cidr link-local", alice, "CreateTransitRouterCidr", map[string]string{"TransitRouterId": tr, "RegionId": "cn-hangzhou", "Cidr": "169.254.10.0/24"}, "InvalidCidr", 400},
		{"cidr host bits", alice, "CreateTransitRouterCidr", map[string]string{"TransitRouterId": tr, "RegionId": "cn-hangzhou", "Cidr": "10.2.0.1/24"}, "InvalidCidr", 400},
		{"cidr overlap", alice, "CreateTransitRouterCidr", map[string]string{"TransitRouterId": tr, "RegionId": "cn-hangzhou", "Cidr": "10.0.0.0/16"}, "InvalidCidr.Overlapped", 400},
		{"bad cidr list json", alice, "CreateTransitRouter", map[string]string{"CenId": cen, "RegionId": "cn-shanghai", "TransitRouterCidrList": "[{"}, "InvalidTransitRouterCidrList", 400},
		{"dry run", alice, "CreateTransitRouter", map[string]string{"CenId": cen, "RegionId": "cn-shanghai", "DryRun": "true"}, "DryRunOperation", 400},
		{"dry run create cen", alice, "CreateCen", map[string]string{"Name": "x", "DryRun": "true"}, "DryRunOperation", 400},
		{"not admin", alice, "", nil, "Forbidden.NotAdmin", 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := e.inst.Store.Revision(context.Background())
			var err error
			if tc.action == "" {
				err = tc.c.Call(context.Background(), "2026-11-01", "CreateAccount", map[string]string{"Name": "x"}, nil)
			} else {
				err = tc.c.Call(context.Background(), "2017-09-12", tc.action, tc.params, nil)
			}
			ae, ok := err.(interface{ Error() string })
			if !ok || err == nil {
				t.Fatalf("want %s, got success", tc.code)
			}
			got := apiErr(t, err)
			if got.Code != tc.code || got.Status != tc.status {
				t.Fatalf("got %s (%d): %s; want %s (%d)", got.Code, got.Status, ae.Error(), tc.code, tc.status)
			}
			if got.Message == "" {
				t.Fatal("empty Message")
			}
			after, _ := e.inst.Store.Revision(context.Background())
			if after != before {
				t.Fatalf("a rejected request changed the store (revision %d -> %d)", before, after)
			}
		})
	}
	// Other accounts' resources do not show up in lists.
	if n := call(t, bob, "DescribeCens", nil)["TotalCount"].(float64); n != 0 {
		t.Fatalf("bob sees %v CENs", n)
	}
	if n := call(t, bob, "ListTransitRouters", map[string]string{"CenId": cen})["TotalCount"].(float64); n != 0 {
		t.Fatalf("bob sees %v TRs", n)
	}
	// Dry runs created nothing.
	if n := call(t, alice, "ListTransitRouters", map[string]string{"CenId": cen})["TotalCount"].(float64); n != 1 {
		t.Fatalf("alice has %v TRs after a dry run, want 1", n)
	}
}

func TestTagsAndPaging(t *testing.T) {
	e := newEnv(t)
	c := e.account("alice")
	var ids []string
	for i := range 12 {
		ids = append(ids, call(t, c, "CreateCen", map[string]string{"Name": fmt.Sprintf("c%02d", i)})["CenId"].(string))
	}
	p2 := call(t, c, "DescribeCens", map[string]string{"PageNumber": "2", "PageSize": "5"})
	items := p2["Cens"].(map[string]any)["Cen"].([]any)
	if p2["TotalCount"].(float64) != 12 || len(items) != 5 || items[0].(map[string]any)["CenId"] != ids[5] {
		t.Fatalf("page 2: total %v, %d items, first %v", p2["TotalCount"], len(items), items[0])
	}
	call(t, c, "TagResources", map[string]string{"ResourceType": "cen", "ResourceId.1": ids[0], "ResourceId.2": ids[1], "Tag.1.Key": "team", "Tag.1.Value": "net", "Tag.2.Key": "env"})
	call(t, c, "TagResources", map[string]string{"ResourceType": "CEN", "ResourceId.1": ids[0], "Tag.1.Key": "team", "Tag.1.Value": "ops"})
	var all []any
	next := ""
	for {
		params := map[string]string{"ResourceType": "Cen", "ResourceId.1": ids[0], "ResourceId.2": ids[1], "PageSize": "1"}
		if next != "" {
			params["NextToken"] = next
		}
		out := call(t, c, "ListTagResources", params)
		all = append(all, out["TagResources"].(map[string]any)["TagResource"].([]any)...)
		if next = out["NextToken"].(string); next == "" {
			break
		}
	}
	// Ordered by resource ID, then tag key.
	want := []string{ids[0] + " env=", ids[0] + " team=ops", ids[1] + " env=", ids[1] + " team=net"}
	if ids[1] < ids[0] {
		want = append(want[2:], want[:2]...)
	}
	var got []string
	for _, a := range all {
		m := a.(map[string]any)
		got = append(got, fmt.Sprintf("%s %s=%s", m["ResourceId"], m["TagKey"], m["TagValue"]))
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("tags:\n got %v\nwant %v", got, want)
	}
	byTag := call(t, c, "DescribeCens", map[string]string{"Tag.1.Key": "team", "Tag.1.Value": "ops"})
	if byTag["TotalCount"].(float64) != 1 {
		t.Fatalf("DescribeCens by tag: %v", byTag["TotalCount"])
	}
	call(t, c, "UntagResources", map[string]string{"ResourceType": "Cen", "ResourceId.1": ids[0], "TagKey.1": "team"})
	call(t, c, "UntagResources", map[string]string{"ResourceType": "Cen", "ResourceId.1": ids[1], "All": "true"})
	out := call(t, c, "ListTagResources", map[string]string{"ResourceType": "Cen", "ResourceId.1": ids[0], "ResourceId.2": ids[1]})
	if rest := out["TagResources"].(map[string]any)["TagResource"].([]any); len(rest) != 1 || rest[0].(map[string]any)["TagKey"] != "env" {
		t.Fatalf("after untag: %v", rest)
	}
	tags := map[string]string{"ResourceType": "Cen", "ResourceId.1": ids[2]}
	for i := range 21 {
		tags[fmt.Sprintf("Tag.%d.Key", i+1)] = fmt.Sprintf("k%d", i)
	}
	if e := cbnErr(t, c, "TagResources", tags); e.Code != "InvalidTag" {
		t.Fatalf("21 tags: %v", e)
	}
	if e := cbnErr(t, c, "ListTagResources", map[string]string{"ResourceType": "Cen", "ResourceId.1": ids[0], "NextToken": "garbage!"}); e.Code != "InvalidNextToken" {
		t.Fatalf("bad NextToken: %v", e)
	}
}

// TestArrayParametersJSONForm: every array parameter may come as one JSON array (the
// aliyun CLI's form) as well as flattened, with the same effect.
func TestArrayParametersJSONForm(t *testing.T) {
	e := newEnv(t)
	c := e.account("alice")
	a := call(t, c, "CreateCen", map[string]string{"Name": "a", "Tag": `[{"Key":"team","Value":"net"},{"Key":"env"}]`})["CenId"].(string)
	b := call(t, c, "CreateCen", map[string]string{"Name": "b"})["CenId"].(string)
	call(t, c, "TagResources", map[string]string{"ResourceType": "Cen", "ResourceId": `["` + b + `"]`, "Tag": `[{"Key":"team","Value":"ops"}]`})
	byFilter := call(t, c, "DescribeCens", map[string]string{"Filter": `[{"Key":"CenId","Value":["` + a + `","` + b + `"]}]`, "Tag": `[{"Key":"team"}]`})
	if byFilter["TotalCount"].(float64) != 2 {
		t.Fatalf("DescribeCens with JSON Filter and Tag: %v", byFilter)
	}
	out := call(t, c, "ListTagResources", map[string]string{"ResourceType": "Cen", "ResourceId": `["` + a + `","` + b + `"]`})
	var got []string
	for _, it := range out["TagResources"].(map[string]any)["TagResource"].([]any) {
		m := it.(map[string]any)
		got = append(got, fmt.Sprintf("%s %s=%s", m["ResourceId"], m["TagKey"], m["TagValue"]))
	}
	want := []string{a + " env=", a + " team=net", b + " team=ops"}
	if b < a {
		want = []string{b + " team=ops", a + " env=", a + " team=net"}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("tags:\n got %v\nwant %v", got, want)
	}
	call(t, c, "UntagResources", map[string]string{"ResourceType": "Cen", "ResourceId": `["` + a + `"]`, "TagKey": `["team","env"]`})
	if n := len(call(t, c, "ListTagResources", map[string]string{"ResourceType": "Cen", "ResourceId.1": a})["TagResources"].(map[string]any)["TagResource"].([]any)); n != 0 {
		t.Fatalf("after UntagResources with JSON TagKey: %d tags left", n)
	}
	for _, tc := range []struct {
		params map[string]string
		code   string
	}{
		{map[string]string{"ResourceType": "Cen", "ResourceId": a, "Tag.1.Key": "k"}, "InvalidResourceId"},
		{map[string]string{"ResourceType": "Cen", "ResourceId": `["` + a + `"]`, "ResourceId.1": a, "Tag.1.Key": "k"}, "InvalidResourceId"},
		{map[string]string{"ResourceType": "Cen", "ResourceId.1": a, "Tag": `{"Key":"k"}`}, "InvalidTag"},
	} {
		before, _ := e.inst.Store.Revision(context.Background())
		if e := cbnErr(t, c, "TagResources", tc.params); e.Code != tc.code {
			t.Errorf("TagResources %v: %v, want %s", tc.params, e, tc.code)
		}
		if after, _ := e.inst.Store.Revision(context.Background()); after != before {
			t.Errorf("TagResources %v: a refused request changed the store", tc.params)
		}
	}
}

func TestClientTokenSurvivesRestart(t *testing.T) {
	e := newEnv(t)
	c := e.account("alice")
	p := map[string]string{"Name": "once", "ClientToken": "tok-1"}
	first := call(t, c, "CreateCen", p)["CenId"]
	if again := call(t, c, "CreateCen", p)["CenId"]; again != first {
		t.Fatalf("same token gave %v then %v", first, again)
	}
	e.restart()
	if again := call(t, c, "CreateCen", p)["CenId"]; again != first {
		t.Fatalf("after restart the token gave %v, first %v", again, first)
	}
	other := e.account("bob")
	if theirs := call(t, other, "CreateCen", p)["CenId"]; theirs == first {
		t.Fatal("another account's token returned alice's CEN")
	}
	if n := call(t, c, "DescribeCens", nil)["TotalCount"].(float64); n != 1 {
		t.Fatalf("alice has %v CENs, want 1", n)
	}
	// A transition pending at restart still completes.
	cen := call(t, c, "CreateCen", nil)["CenId"].(string)
	e.restart()
	waitFor(t, "CEN Active after restart", func() bool { return cenStatus(t, c, cen) == "Active" })
}

func TestOneTransitRouterPerRegionUnderConcurrency(t *testing.T) {
	e := newEnv(t)
	c := e.account("alice")
	cen := activeCen(t, c)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, conflicts := 0, 0
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := c.Call(context.Background(), "2017-09-12", "CreateTransitRouter", map[string]string{"CenId": cen, "RegionId": "cn-shanghai"}, nil)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				ok++
			} else if apiErr(t, err).Code == "OperationFailed.TransitRouterExists" {
				conflicts++
			} else {
				t.Errorf("unexpected: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok != 1 || conflicts != 15 {
		t.Fatalf("%d created, %d refused; want 1 and 15", ok, conflicts)
	}
}

func TestProtocolEdges(t *testing.T) {
	e := newEnv(t)
	post := func(query string) (*http.Response, error) { return http.Post(e.http.URL+"/?"+query, "text/plain", nil) }
	for _, tc := range []struct{ query, code string }{
		{"Action=DescribeCens&Version=2099-01-01", "InvalidVersion"},
		{"Action=DescribeCens", "MissingVersion"},
		{"Action=DescribeCens&Version=2017-09-12", "IncompleteSignature"},
	} {
		resp, err := post(tc.query)
		if err != nil {
			t.Fatal(err)
		}
		got := decodeErr(t, resp)
		if got.Code != tc.code {
			t.Errorf("%s: got %s", tc.query, got.Code)
		}
	}
	req, _ := http.NewRequest(http.MethodDelete, e.http.URL+"/?Action=DescribeCens&Version=2017-09-12", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeErr(t, resp); got.Code != "UnsupportedHTTPMethod" || got.Status != 403 {
		t.Errorf("DELETE: %+v", got)
	}
}
