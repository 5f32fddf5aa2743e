package rpc

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"opencen/internal/apierr"
)

func newReq(method, target, contentType string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name        string
		target      string
		contentType string
		body        string
		want        Params
		wantCode    string
	}{
		{
			name:   "query only",
			target: "/?Action=ListTransitRouters&Version=2017-09-12&RegionId=cn-hangzhou",
			want:   Params{"Action": "ListTransitRouters", "Version": "2017-09-12", "RegionId": "cn-hangzhou"},
		},
		{
			name:        "query and form merged, body wins",
			target:      "/?Action=CreateCen&Version=2017-09-12&Name=fromquery",
			contentType: "application/x-www-form-urlencoded",
			body:        "Name=frombody&Description=a+b%20c&Tag.1.Key=k",
			want: Params{"Action": "CreateCen", "Version": "2017-09-12", "Name": "frombody",
				"Description": "a b c", "Tag.1.Key": "k"},
		},
		{
			name:        "form content type with charset",
			target:      "/",
			contentType: "application/x-www-form-urlencoded; charset=UTF-8",
			body:        "IkeConfig=%7B%22Psk%22%3A%22x%22%7D&Empty=",
			want:        Params{"IkeConfig": `{"Psk":"x"}`, "Empty": ""},
		},
		{
			name:        "upper-case media type",
			target:      "/",
			contentType: "Application/X-WWW-Form-Urlencoded",
			body:        "A=1",
			want:        Params{"A": "1"},
		},
		{
			name:        "JSON body is not parameters",
			target:      "/?A=1",
			contentType: "application/json",
			body:        `{"B":2}`,
			want:        Params{"A": "1"},
		},
		{
			name:   "no content type ignores body",
			target: "/?A=1",
			body:   "B=2",
			want:   Params{"A": "1"},
		},
		{
			name:   "repeated key keeps first",
			target: "/?A=1&A=2",
			want:   Params{"A": "1"},
		},
		{
			name:     "bad query escape",
			target:   "/?A=%zz",
			wantCode: "InvalidParameter",
		},
		{
			name:        "bad body escape",
			target:      "/",
			contentType: "application/x-www-form-urlencoded",
			body:        "A=%E",
			wantCode:    "InvalidParameter",
		},
		{
			name:        "semicolon separator rejected",
			target:      "/",
			contentType: "application/x-www-form-urlencoded",
			body:        "A=1;B=2",
			wantCode:    "InvalidParameter",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newReq(http.MethodPost, tc.target, tc.contentType)
			got, err := Decode(r, []byte(tc.body))
			if tc.wantCode != "" {
				var ae *apierr.Error
				if !errors.As(err, &ae) || ae.Code != tc.wantCode || ae.HTTPStatus() != 400 {
					t.Fatalf("err = %v, want apierr %s (400)", err, tc.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDecodeBadQueryRawEncoding(t *testing.T) {
	// httptest.NewRequest would reject the URL itself, so set RawQuery directly.
	r := newReq(http.MethodGet, "/", "")
	r.URL.RawQuery = "A=%"
	_, err := Decode(r, nil)
	var ae *apierr.Error
	if !errors.As(err, &ae) || ae.Code != "InvalidParameter" || !strings.Contains(ae.Message, "query string") {
		t.Fatalf("err = %v", err)
	}
}

func TestList(t *testing.T) {
	p := Params{
		"RouteTableIds.10": "ten", "RouteTableIds.2": "two", "RouteTableIds.1": "one",
		"RouteTableIds.5": "five", // gap at 3, 4
		"RouteTableIds.x": "non-numeric", "RouteTableIds.01": "leading zero", "RouteTableIds.0": "zero",
		"RouteTableIds.-1": "negative", "RouteTableIds.": "empty", "Structs.1": "a", "Structs.2.Key": "struct",
		"RouteTableIdsX.1": "other name", "Other.1": "other",
		"Json":  `["a", 2, true, "d"]`,
		"Blank": "  ", "Empty": "", "Null": "null", "NullWithFlat": " null ", "NullWithFlat.1": "x",
		"Both": `["a"]`, "Both.1": "b",
		"NotArray": `{"a":1}`, "Bad": `["a"`, "Scalar": "vpc-1", "Nested": `[["a"]]`, "NullElement": `[null]`,
	}
	tests := []struct {
		name     string
		want     []string
		wantCode string
		wantMsg  string
	}{
		{name: "RouteTableIds", want: []string{"one", "two", "five", "ten"}},
		{name: "Other", want: []string{"other"}},
		{name: "Missing"},
		{name: "Json", want: []string{"a", "2", "true", "d"}},
		{name: "Blank"},
		{name: "Empty"},
		{name: "Null"}, // alibaba-cloud-sdk-go's value for an unset array
		{name: "NullWithFlat", want: []string{"x"}},
		{name: "Both", wantCode: "InvalidBoth", wantMsg: "not both"},
		{name: "NotArray", wantCode: "InvalidNotArray", wantMsg: "JSON array"},
		{name: "Bad", wantCode: "InvalidBad", wantMsg: "Bad.1, Bad.2"},
		{name: "Scalar", wantCode: "InvalidScalar", wantMsg: `got "vpc-1"`},
		{name: "Nested", wantCode: "InvalidNested", wantMsg: "Nested.1 must be a string or a number, got a JSON array"},
		{name: "NullElement", wantCode: "InvalidNullElement", wantMsg: "NullElement.1 must be a string"},
		{name: "Structs", wantCode: "InvalidStructs", wantMsg: "Structs.2.Key cannot be given"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := p.List(tc.name)
			if tc.wantCode != "" {
				var ae *apierr.Error
				if !errors.As(err, &ae) || ae.Code != tc.wantCode || ae.HTTPStatus() != 400 || !strings.Contains(ae.Message, tc.wantMsg) {
					t.Fatalf("List(%q) err = %v, want %s with %q", tc.name, err, tc.wantCode, tc.wantMsg)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("List(%q) = %q, %v; want %q", tc.name, got, err, tc.want)
			}
		})
	}
}

func TestObjectsAndSub(t *testing.T) {
	p := Params{
		"Filter.1.Key": "Name", "Filter.1.Value.1": "a", "Filter.1.Value.2": "b",
		"Filter.2.Key": "Status", "Filter.2.Value.1": "Active",
		"Filter.10.Key": "Last",
		"Filter.x.Key":  "ignored", "Filter.3": "scalar ignored", "Filter.4.": "empty field ignored",
		"Tag.1.Key": "env", "Tag.1.Value": "prod", "Tag.2.Key": "team",
		"RouteTableOptions.MultiRegionECMP":                     "enable",
		"RouteTableOptions.Nested.Deep":                         "x",
		"TunnelOptionsSpecification.1.TunnelIkeConfig.Psk":      "secret",
		"TunnelOptionsSpecification.1.TunnelBgpConfig.LocalAsn": "65000",
		"TunnelOptionsSpecification.2.TunnelIndex":              "2",
	}

	filters, err := p.Objects("Filter")
	if err != nil || len(filters) != 3 {
		t.Fatalf("Objects(Filter) = %v, %v", filters, err)
	}
	v0, err0 := filters[0].List("Value")
	v1, err1 := filters[1].List("Value")
	tags, errTags := p.Objects("Tag")
	none, errNone := p.Objects("Nope")
	checks := []struct {
		got, want any
	}{
		{filters[0].Name, "Filter.1"},
		{filters[0].Get("Key"), "Name"},
		{v0, []string{"a", "b"}},
		{filters[1].Get("Key"), "Status"},
		{v1, []string{"Active"}},
		{filters[2], Item{Name: "Filter.10", Fields: Params{"Key": "Last"}}},
		{tags, []Item{{Name: "Tag.1", Fields: Params{"Key": "env", "Value": "prod"}}, {Name: "Tag.2", Fields: Params{"Key": "team"}}}},
		{none, []Item(nil)},
		{[]error{err0, err1, errTags, errNone}, []error{nil, nil, nil, nil}},
		{p.Sub("RouteTableOptions"), Params{"MultiRegionECMP": "enable", "Nested.Deep": "x"}},
		{p.Sub("RouteTableOptions").Sub("Nested"), Params{"Deep": "x"}},
		{p.Sub("Nope"), Params{}},
	}
	for i, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("check %d: got %#v, want %#v", i, c.got, c.want)
		}
	}

	tunnels, err := p.Objects("TunnelOptionsSpecification")
	if err != nil || len(tunnels) != 2 {
		t.Fatalf("tunnels = %v, %v", tunnels, err)
	}
	if v, _ := tunnels[0].Fields.Sub("TunnelIkeConfig").Get("Psk"); v != "secret" {
		t.Errorf("Psk = %q", v)
	}
	if v := tunnels[0].Get("TunnelBgpConfig.LocalAsn"); v != "65000" {
		t.Errorf("LocalAsn = %q", v)
	}
	if v := tunnels[1].Get("TunnelIndex"); v != "2" {
		t.Errorf("TunnelIndex = %q", v)
	}
}

// TestObjectsJSONForm: the aliyun CLI's JSON-array form gives the same items as the
// flattened form of the same request, and every malformed value is refused by name.
func TestObjectsJSONForm(t *testing.T) {
	flat := Params{
		"TunnelOptionsSpecification.1.CustomerGatewayId": "cgw-1", "TunnelOptionsSpecification.1.EnableDpd": "true",
		"TunnelOptionsSpecification.1.TunnelIndex": "1", "TunnelOptionsSpecification.1.TunnelIkeConfig.Psk": "k1",
		"TunnelOptionsSpecification.1.TunnelIkeConfig.IkeLifetime": "86400",
		"TunnelOptionsSpecification.2.CustomerGatewayId":           "cgw-2", "TunnelOptionsSpecification.2.TunnelIndex": "2",
		"TunnelOptionsSpecification.2.Values.1": "x", "TunnelOptionsSpecification.2.Values.2": "y",
		"TunnelOptionsSpecification.2.Items.1.Key": "k",
	}
	asJSON := Params{"TunnelOptionsSpecification": `[
		{"CustomerGatewayId":"cgw-1","EnableDpd":true,"TunnelIndex":1,"TunnelIkeConfig":{"Psk":"k1","IkeLifetime":86400},"Role":null},
		{"CustomerGatewayId":"cgw-2","TunnelIndex":"2","Values":["x","y"],"Items":[{"Key":"k"}]}]`}
	want, err := flat.Objects("TunnelOptionsSpecification")
	if err != nil {
		t.Fatal(err)
	}
	got, err := asJSON.Objects("TunnelOptionsSpecification")
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("JSON form = %#v, %v\nflattened form = %#v", got, err, want)
	}
	if b, set, err := got[0].Bool("EnableDpd"); !b || !set || err != nil {
		t.Errorf("EnableDpd = %v %v %v", b, set, err)
	}
	if v, err := got[1].List("Values"); err != nil || !reflect.DeepEqual(v, []string{"x", "y"}) {
		t.Errorf("Values = %v, %v", v, err)
	}
	for _, tc := range []struct {
		name     string
		p        Params
		wantCode string
		wantMsg  string
	}{
		{"both forms", Params{"Tag": `[{"Key":"a"}]`, "Tag.1.Key": "b"}, "InvalidTag", "not both"},
		{"not JSON", Params{"Tag": `[{"Key":`}, "InvalidTag", "JSON array"},
		{"object, not array", Params{"Tag": `{"Key":"a"}`}, "InvalidTag", "JSON array"},
		{"scalar element", Params{"Tag": `["a"]`}, "InvalidTag", `Tag.1 must be a JSON object, got "a"`},
		{"dotted field", Params{"Tag": `[{"Key":"a"},{"A.B":"x"}]`}, "InvalidTag", `Tag.2 has a field named "A.B"`},
		{"empty field name", Params{"Tag": `[{"":"x"}]`}, "InvalidTag", `field named ""`},
		{"bad bool in element", Params{"Tag": `[{"Key":"a","On":"maybe"}]`}, "InvalidTagOn", "Tag.1.On must be true or false"},
		{"bad nested list", Params{"Filter": `[{"Key":"CenId","Value":[{"x":1}]}]`}, "InvalidFilterValue", "Filter.1.Value.1.x cannot be given"},
		{"nested JSON list in flattened form", Params{"Filter.2.Key": "CenId", "Filter.2.Value": `"cen-1"`}, "InvalidFilterValue", "Filter.2.Value must be given flattened"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "Tag"
			if _, ok := tc.p["Filter"]; ok || tc.p["Filter.2.Key"] != "" {
				name = "Filter"
			}
			items, err := tc.p.Objects(name)
			if err == nil {
				for _, it := range items {
					if _, _, err = it.Bool("On"); err != nil {
						break
					}
					if _, err = it.List("Value"); err != nil {
						break
					}
				}
			}
			var ae *apierr.Error
			if !errors.As(err, &ae) || ae.Code != tc.wantCode || ae.HTTPStatus() != 400 || !strings.Contains(ae.Message, tc.wantMsg) {
				t.Fatalf("err = %v, want %s with %q", err, tc.wantCode, tc.wantMsg)
			}
		})
	}
}

func TestBool(t *testing.T) {
	p := Params{"T": "true", "TT": "TRUE", "F": "False", "E": "", "Bad": "yes"}
	tests := []struct {
		name     string
		v, set   bool
		wantCode string
	}{
		{"T", true, true, ""},
		{"TT", true, true, ""},
		{"F", false, true, ""},
		{"E", false, false, ""},
		{"Absent", false, false, ""},
		{"Bad", false, true, "InvalidBad"},
	}
	for _, tc := range tests {
		v, set, err := p.Bool(tc.name)
		if tc.wantCode != "" {
			var ae *apierr.Error
			if !errors.As(err, &ae) || ae.Code != tc.wantCode || !strings.Contains(ae.Message, "true or false") ||
				!strings.Contains(ae.Message, tc.name) {
				t.Errorf("Bool(%s) err = %v", tc.name, err)
			}
			continue
		}
		if err != nil || v != tc.v || set != tc.set {
			t.Errorf("Bool(%s) = %v, %v, %v", tc.name, v, set, err)
		}
	}
}

func TestInt(t *testing.T) {
	p := Params{"PageSize": "50", "Neg": "-3", "Big": "51", "Text": "ten", "Empty": "", "Huge": "99999999999999999999"}
	tests := []struct {
		name     string
		min, max int64
		v        int64
		set      bool
		wantErr  bool
	}{
		{"PageSize", 1, 50, 50, true, false},
		{"Neg", -5, 5, -3, true, false},
		{"Big", 1, 50, 0, true, true},
		{"Text", 1, 50, 0, true, true},
		{"Huge", 1, 50, 0, true, true},
		{"Empty", 1, 50, 0, false, false},
		{"Absent", 1, 50, 0, false, false},
	}
	for _, tc := range tests {
		v, set, err := p.Int(tc.name, tc.min, tc.max)
		if tc.wantErr {
			var ae *apierr.Error
			if !errors.As(err, &ae) || ae.Code != "Invalid"+tc.name || !strings.Contains(ae.Message, "from 1 to 50") {
				t.Errorf("Int(%s) err = %v", tc.name, err)
			}
			continue
		}
		if err != nil || v != tc.v || set != tc.set {
			t.Errorf("Int(%s) = %v, %v, %v", tc.name, v, set, err)
		}
	}
}
