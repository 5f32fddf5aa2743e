package rpc

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"opencen/internal/apierr"
)

type healthCheck struct {
	Enable   *bool
	Dip      string
	Sip      string
	Interval *int32
	Retry    int
	Policy   string
}

type bgpConfig struct {
	EnableBgp  bool
	LocalAsn   string
	TunnelCidr string
	LocalBgpIp *string
}

type ikeConfig struct {
	Psk         string
	IkeVersion  string
	IkeLifetime int64
	LocalId     string `json:"LocalId"`
	Weight      float64
}

type cidr struct {
	Cidr             string
	PublishCidrRoute bool
	Description      string `json:"desc"`
}

type withNested struct {
	Ike     ikeConfig
	Bgp     *bgpConfig
	Cidrs   []cidr
	Tags    []string
	Ignored string `json:"-"`
	hidden  string
}

func ptr[T any](v T) *T { return &v }

func TestParseJSONParam(t *testing.T) {
	tests := []struct {
		name     string
		param    string
		raw      string
		dst      func() any
		want     any
		wantCode string
		wantMsg  string
	}{
		{
			name:  "terraform create health check: lower-case keys, native values",
			param: "HealthCheckConfig",
			raw:   `{"enable":true,"dip":"1.1.1.1","sip":"2.2.2.2","interval":3,"retry":3,"Policy":"revoke_route"}`,
			dst:   func() any { return new(healthCheck) },
			want: &healthCheck{Enable: ptr(true), Dip: "1.1.1.1", Sip: "2.2.2.2", Interval: ptr[int32](3), Retry: 3,
				Policy: "revoke_route"},
		},
		{
			name:  "terraform update health check: capitalised keys, string values",
			param: "HealthCheckConfig",
			raw:   `{"Enable":"true","Interval":"3","Retry":"5"}`,
			dst:   func() any { return new(healthCheck) },
			want:  &healthCheck{Enable: ptr(true), Interval: ptr[int32](3), Retry: 5},
		},
		{
			name:  "native BGP config: number for string field",
			param: "BgpConfig",
			raw:   `{"EnableBgp":true,"LocalAsn":45104,"TunnelCidr":"169.254.11.0/30","LocalBgpIp":"169.254.11.1"}`,
			dst:   func() any { return new(bgpConfig) },
			want:  &bgpConfig{EnableBgp: true, LocalAsn: "45104", TunnelCidr: "169.254.11.0/30", LocalBgpIp: ptr("169.254.11.1")},
		},
		{
			name:  "Alibaba doc BGP config: all strings",
			param: "BgpConfig",
			raw:   `{"EnableBgp":"TRUE","LocalAsn":"45104"}`,
			dst:   func() any { return new(bgpConfig) },
			want:  &bgpConfig{EnableBgp: true, LocalAsn: "45104"},
		},
		{
			name:  "empty string leaves *string and bool unset, sets a plain string",
			param: "BgpConfig",
			raw:   `{"EnableBgp":"","LocalBgpIp":"","TunnelCidr":""}`,
			dst:   func() any { return new(bgpConfig) },
			want:  &bgpConfig{},
		},
		{
			name:  "ike config with unknown keys, null and float",
			param: "IkeConfig",
			raw:   ` {"Psk":"x","IkeVersion":"ikev2","IkeLifetime":86400,"localid":"a@b","Unknown":{"x":[1]},"Weight":"1.5","IkeMode":null} `,
			dst:   func() any { return new(ikeConfig) },
			want:  &ikeConfig{Psk: "x", IkeVersion: "ikev2", IkeLifetime: 86400, LocalId: "a@b", Weight: 1.5},
		},
		{
			name:  "exact key wins over case variant",
			param: "IkeConfig",
			raw:   `{"psk":"lower","Psk":"exact","PSK":"upper"}`,
			dst:   func() any { return new(ikeConfig) },
			want:  &ikeConfig{Psk: "exact"},
		},
		{
			name:  "case variants resolve deterministically",
			param: "IkeConfig",
			raw:   `{"psk":"lower","PSK":"upper"}`,
			dst:   func() any { return new(ikeConfig) },
			want:  &ikeConfig{Psk: "upper"},
		},
		{
			name:  "array of structs with json tag",
			param: "TransitRouterCidrList",
			raw:   `[{"Cidr":"192.168.0.0/16","PublishCidrRoute":"true","Desc":"d"},{"cidr":"10.0.0.0/8","publishCidrRoute":false}]`,
			dst:   func() any { return new([]cidr) },
			want: &[]cidr{
				{Cidr: "192.168.0.0/16", PublishCidrRoute: true, Description: "d"},
				{Cidr: "10.0.0.0/8"},
			},
		},
		{
			name:  "nested struct, pointer, slices; ignored fields untouched",
			param: "Spec",
			raw:   `{"ike":{"Psk":"p"},"bgp":{"LocalAsn":1},"cidrs":[{"cidr":"1.0.0.0/8"}],"tags":["a",2,true],"Ignored":"x","hidden":"y"}`,
			dst:   func() any { return new(withNested) },
			want: &withNested{Ike: ikeConfig{Psk: "p"}, Bgp: &bgpConfig{LocalAsn: "1"},
				Cidrs: []cidr{{Cidr: "1.0.0.0/8"}}, Tags: []string{"a", "2", "true"}},
		},
		{
			name:  "double-encoded object",
			param: "Spec",
			raw:   `{"bgp":"{\"LocalAsn\":7}"}`,
			dst:   func() any { return new(withNested) },
			want:  &withNested{Bgp: &bgpConfig{LocalAsn: "7"}},
		},
		{
			name:  "empty raw is a no-op",
			param: "IkeConfig",
			raw:   "  ",
			dst:   func() any { return &ikeConfig{Psk: "keep"} },
			want:  &ikeConfig{Psk: "keep"},
		},
		{
			name: "malformed JSON", param: "IkeConfig", raw: `{"Psk":`,
			dst:      func() any { return new(ikeConfig) },
			wantCode: "InvalidIkeConfig", wantMsg: "is not valid JSON",
		},
		{
			name: "trailing garbage", param: "IkeConfig", raw: `{"Psk":"x"} {}`,
			dst:      func() any { return new(ikeConfig) },
			wantCode: "InvalidIkeConfig", wantMsg: "is not valid JSON",
		},
		{
			name: "object for array", param: "TransitRouterCidrList", raw: `{"Cidr":"x"}`,
			dst:      func() any { return new([]cidr) },
			wantCode: "InvalidTransitRouterCidrList", wantMsg: "must be a JSON array",
		},
		{
			name: "bad bool", param: "HealthCheckConfig", raw: `{"enable":"yes"}`,
			dst:      func() any { return new(healthCheck) },
			wantCode: "InvalidHealthCheckConfigEnable", wantMsg: "The value of HealthCheckConfig.Enable must be a boolean (true or false), got \"yes\".",
		},
		{
			name: "bad int", param: "HealthCheckConfig", raw: `{"Interval":"3s"}`,
			dst:      func() any { return new(healthCheck) },
			wantCode: "InvalidHealthCheckConfigInterval", wantMsg: "an integer from -2147483648 to 2147483647",
		},
		{
			name: "int32 overflow", param: "HealthCheckConfig", raw: `{"Interval":4294967296}`,
			dst:      func() any { return new(healthCheck) },
			wantCode: "InvalidHealthCheckConfigInterval", wantMsg: "got the number 4294967296",
		},
		{
			name: "fraction for int", param: "IkeConfig", raw: `{"IkeLifetime":1.5}`,
			dst:      func() any { return new(ikeConfig) },
			wantCode: "InvalidIkeConfigIkeLifetime", wantMsg: "integer",
		},
		{
			name: "object for string", param: "IkeConfig", raw: `{"Psk":{"a":1}}`,
			dst:      func() any { return new(ikeConfig) },
			wantCode: "InvalidIkeConfigPsk", wantMsg: "must be a string, got a JSON object",
		},
		{
			name: "error inside array names the element", param: "TransitRouterCidrList", raw: `[{"Cidr":"x"},{"PublishCidrRoute":1}]`,
			dst:      func() any { return new([]cidr) },
			wantCode: "InvalidTransitRouterCidrListPublishCidrRoute", wantMsg: "TransitRouterCidrList.2.PublishCidrRoute",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := tc.dst()
			err := ParseJSONParam(tc.param, tc.raw, dst)
			if tc.wantCode != "" {
				var ae *apierr.Error
				if !errors.As(err, &ae) || ae.Code != tc.wantCode || !strings.Contains(ae.Message, tc.wantMsg) {
					t.Fatalf("err = %v, want %s containing %q", err, tc.wantCode, tc.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(dst, tc.want) {
				t.Fatalf("got %+v, want %+v", dst, tc.want)
			}
		})
	}
}

func TestParseJSONParamBadDst(t *testing.T) {
	var notPtr ikeConfig
	if err := ParseJSONParam("X", `{}`, notPtr); err == nil {
		t.Fatal("want error for non-pointer dst")
	}
	var m map[string]string
	err := ParseJSONParam("X", `{"a":"b"}`, &m)
	var ae *apierr.Error
	if err == nil || errors.As(err, &ae) {
		t.Fatalf("unsupported dst kind should be a programming error, got %v", err)
	}
}
