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
		"RouteTableIds.-1": "negative", "RouteTableIds.": "empty", "RouteTableIds.3.Key": "struct",
		"RouteTableIdsX.1": "other name", "Other.1": "other",
	}
	tests := []struct {
		name string
		want []string
	}{
		{"RouteTableIds", []string{"one", "two", "five", "ten"}},
		{"Other", []string{"other"}},
		{"Missing", nil},
	}
	for _, tc := range tests {
		if got := p.List(tc.name); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("List(%q) = %q, want %q", tc.name, got, tc.want)
		}
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

	filters := p.Objects("Filter")
	if len(filters) != 3 {
		t.Fatalf("Objects(Filter) = %v", filters)
	}
	checks := []struct {
		got, want any
	}{
		{filters[0]["Key"], "Name"},
		{filters[0].List("Value"), []string{"a", "b"}},
		{filters[1]["Key"], "Status"},
		{filters[1].List("Value"), []string{"Active"}},
		{filters[2], Params{"Key": "Last"}},
		{p.Objects("Tag"), []Params{{"Key": "env", "Value": "prod"}, {"Key": "team"}}},
		{p.Objects("Nope"), []Params(nil)},
		{p.Sub("RouteTableOptions"), Params{"MultiRegionECMP": "enable", "Nested.Deep": "x"}},
		{p.Sub("RouteTableOptions").Sub("Nested"), Params{"Deep": "x"}},
		{p.Sub("Nope"), Params{}},
	}
	for i, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("check %d: got %#v, want %#v", i, c.got, c.want)
		}
	}

	tunnels := p.Objects("TunnelOptionsSpecification")
	if len(tunnels) != 2 {
		t.Fatalf("tunnels = %v", tunnels)
	}
	if v, _ := tunnels[0].Sub("TunnelIkeConfig").Get("Psk"); v != "secret" {
		t.Errorf("Psk = %q", v)
	}
	if v, _ := tunnels[0].Sub("TunnelBgpConfig").Get("LocalAsn"); v != "65000" {
		t.Errorf("LocalAsn = %q", v)
	}
	if v, ok := tunnels[1].Get("TunnelIndex"); !ok || v != "2" {
		t.Errorf("TunnelIndex = %q, %v", v, ok)
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
