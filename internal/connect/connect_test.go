package connect

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"opencen/internal/apierr"
	"opencen/internal/model"
)

func TestVPNParams(t *testing.T) {
	base := VPN{Region: "cn-hangzhou", CustomerGatewayID: "cgw-1", Dpd: true, NatTraversal: true}
	tests := []struct {
		name    string
		edit    func(*VPN)
		want    map[string]string // subset of the flat parameters
		json    map[string]string // parameter -> its JSON document
		absent  []string
		errWhat string // FieldError.Field when an error is expected
	}{
		{name: "defaults send only what is set", edit: func(*VPN) {},
			want:   map[string]string{"RegionId": "cn-hangzhou", "CustomerGatewayId": "cgw-1", "LocalSubnet": "0.0.0.0/0", "RemoteSubnet": "0.0.0.0/0", "EffectImmediately": "false", "EnableDpd": "true", "EnableNatTraversal": "true"},
			json:   map[string]string{"BgpConfig": `{"EnableBgp":false}`, "HealthCheckConfig": `{"enable":false}`},
			absent: []string{"IkeConfig", "IpsecConfig", "Name", "NetworkType", "Tags.1.Key"}},
		{name: "flow protection", edit: func(v *VPN) {
			v.RoutingMode, v.LocalCidrs, v.PeerCidrs = FlowProtection, "10.0.0.0/16", "192.168.1.0/24,192.168.2.0/24"
		},
			want: map[string]string{"LocalSubnet": "10.0.0.0/16", "RemoteSubnet": "192.168.1.0/24,192.168.2.0/24"}},
		{name: "flow protection needs local", edit: func(v *VPN) { v.RoutingMode, v.PeerCidrs = FlowProtection, "192.168.1.0/24" }, errWhat: "LocalSubnet"},
		{name: "flow protection needs peer", edit: func(v *VPN) { v.RoutingMode, v.LocalCidrs = FlowProtection, "10.0.0.0/16" }, errWhat: "RemoteSubnet"},
		{name: "cidrs without flow protection", edit: func(v *VPN) { v.LocalCidrs = "10.0.0.0/16" }, errWhat: "LocalSubnet"},
		{name: "unknown routing mode", edit: func(v *VPN) { v.RoutingMode = "policy" }, errWhat: "RoutingMode"},
		{name: "ike and ipsec", edit: func(v *VPN) {
			v.Psk, v.IkeVersion, v.IkeLifetime, v.LocalID = "k#1", "ikev1", "3600", "a.example"
			v.IpsecPfs, v.IpsecLifetime = "disabled", "0"
		}, json: map[string]string{"IkeConfig": `{"IkeLifetime":3600,"IkeVersion":"ikev1","LocalId":"a.example","Psk":"k#1"}`, "IpsecConfig": `{"IpsecLifetime":0,"IpsecPfs":"disabled"}`}},
		{name: "lifetime must be a number", edit: func(v *VPN) { v.IkeLifetime = "1h" }, errWhat: "IkeConfig.IkeLifetime"},
		{name: "bgp settings only when enabled", edit: func(v *VPN) { v.TunnelCidr = "169.254.1.0/30" }, json: map[string]string{"BgpConfig": `{"EnableBgp":false}`}},
		{name: "bgp", edit: func(v *VPN) {
			v.Bgp, v.TunnelCidr, v.LocalBgpIP, v.LocalAsn = true, "169.254.11.0/30", "169.254.11.1", "1.2"
		},
			json: map[string]string{"BgpConfig": `{"EnableBgp":true,"LocalAsn":"1.2","LocalBgpIp":"169.254.11.1","TunnelCidr":"169.254.11.0/30"}`}},
		{name: "health check keeps routes when asked", edit: func(v *VPN) { v.HealthCheck, v.HcDip, v.HcSip, v.HcRetry = true, "192.168.1.1", "10.0.0.1", "4" },
			json: map[string]string{"HealthCheckConfig": `{"Policy":"reserve_route","dip":"192.168.1.1","enable":true,"retry":4,"sip":"10.0.0.1"}`}},
		{name: "health check interval must be a number", edit: func(v *VPN) { v.HealthCheck, v.HcInterval = true, "3s" }, errWhat: "HealthCheckConfig.interval"},
		{name: "tags", edit: func(v *VPN) { v.Tags = []model.Tag{{Key: "env", Value: "prod"}, {Key: "team"}} },
			want: map[string]string{"Tags.1.Key": "env", "Tags.1.Value": "prod", "Tags.2.Key": "team", "Tags.2.Value": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := base
			tt.edit(&v)
			p, err := v.Params()
			if tt.errWhat != "" {
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Field != tt.errWhat || fe.Message == "" {
					t.Fatalf("err = %v, want a FieldError on %s", err, tt.errWhat)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for k, w := range tt.want {
				if p[k] != w {
					t.Errorf("%s = %q, want %q", k, p[k], w)
				}
			}
			for k, w := range tt.json {
				var got, want any
				if err := json.Unmarshal([]byte(p[k]), &got); err != nil {
					t.Fatalf("%s is not JSON: %q", k, p[k])
				}
				_ = json.Unmarshal([]byte(w), &want)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %s, want %s", k, p[k], w)
				}
			}
			for _, k := range tt.absent {
				if _, ok := p[k]; ok {
					t.Errorf("%s sent: %q", k, p[k])
				}
			}
		})
	}
}

func TestVPNModify(t *testing.T) {
	old := VPN{Region: "cn-hangzhou", CustomerGatewayID: "cgw-1", Name: "a", RoutingMode: DestinationRouting, Dpd: true, NatTraversal: true,
		Psk: "k", IkeVersion: "ikev2", IkeLifetime: "86400", LocalID: "198.18.100.2", RemoteID: "198.18.0.2",
		Bgp: true, TunnelCidr: "169.254.11.0/30", LocalBgpIP: "169.254.11.1", LocalAsn: "65001",
		HealthCheck: true, HcDip: "192.168.1.1", HcSip: "10.0.0.1", HcInterval: "3", HcRetry: "3", SwitchRoute: true}
	tests := []struct {
		name string
		edit func(*VPN)
		want map[string]string // the whole parameter map; nil when nothing changed
	}{
		{"unchanged sends nothing", func(*VPN) {}, nil},
		{"one IKE value", func(v *VPN) { v.IkeVersion = "ikev1" }, map[string]string{"RegionId": "cn-hangzhou", "IkeConfig": `{"IkeVersion":"ikev1"}`}},
		{"cleared LocalId restores the default", func(v *VPN) { v.LocalID = "" }, map[string]string{"RegionId": "cn-hangzhou", "IkeConfig": `{"LocalId":""}`}},
		{"BGP off", func(v *VPN) { v.Bgp = false }, map[string]string{"RegionId": "cn-hangzhou", "BgpConfig": `{"EnableBgp":false}`}},
		{"health check off", func(v *VPN) { v.HealthCheck = false }, map[string]string{"RegionId": "cn-hangzhou", "HealthCheckConfig": `{"enable":false}`}},
		{"switch route", func(v *VPN) { v.SwitchRoute = false }, map[string]string{"RegionId": "cn-hangzhou", "HealthCheckConfig": `{"Policy":"reserve_route"}`}},
		{"DPD and name", func(v *VPN) { v.Dpd, v.Name = false, "b" }, map[string]string{"RegionId": "cn-hangzhou", "EnableDpd": "false", "Name": "b"}},
		{"customer gateway", func(v *VPN) { v.CustomerGatewayID = "cgw-2" }, map[string]string{"RegionId": "cn-hangzhou", "CustomerGatewayId": "cgw-2"}},
		{"to flow protection", func(v *VPN) {
			v.RoutingMode, v.LocalCidrs, v.PeerCidrs = FlowProtection, "10.0.0.0/16", "192.168.0.0/24"
		},
			map[string]string{"RegionId": "cn-hangzhou", "LocalSubnet": "10.0.0.0/16", "RemoteSubnet": "192.168.0.0/24"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := old
			tt.edit(&v)
			p, ok, err := v.Modify(old)
			if err != nil {
				t.Fatal(err)
			}
			if ok != (tt.want != nil) || (ok && !reflect.DeepEqual(p, tt.want)) {
				t.Errorf("Modify = %v, %v; want %v", p, ok, tt.want)
			}
		})
	}
	bad := old
	bad.IkeLifetime = "soon"
	if _, _, err := bad.Modify(old); err == nil {
		t.Error("a non-number lifetime was accepted")
	}
}

func TestAttachmentParams(t *testing.T) {
	off := false
	p := Attachment{Region: "cn-hangzhou", TransitRouterID: "tr-1", VpnID: "vco-1", VpnOwnerID: "1234567890123456", Name: "a", Zone: "cn-hangzhou-i",
		Tags: []model.Tag{{Key: "k", Value: "v"}}, RouteSync: &off, Advanced: Advanced{Associate: true, Propagate: true}}.Params()
	want := map[string]string{"RegionId": "cn-hangzhou", "TransitRouterId": "tr-1", "VpnId": "vco-1", "VpnOwnerId": "1234567890123456",
		"TransitRouterAttachmentName": "a", "Zone.1.ZoneId": "cn-hangzhou-i", "AutoPublishRouteEnabled": "false", "Tag.1.Key": "k", "Tag.1.Value": "v",
		"RouteTableAssociationEnabled": "true", "RouteTablePropagationEnabled": "true"}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("params %v\nwant %v", p, want)
	}
	p = Attachment{Region: "r", TransitRouterID: "tr", VpnID: "v"}.Params()
	for _, k := range []string{"VpnOwnerId", "Zone.1.ZoneId", "AutoPublishRouteEnabled", "RouteTableAssociationEnabled", "RouteTablePropagationEnabled"} {
		if _, ok := p[k]; ok {
			t.Errorf("%s sent when unset", k)
		}
	}
}

// fakeAPI records calls and answers from a script.
type fakeAPI struct {
	calls  []string
	answer func(action string, params map[string]string) (any, error)
}

func (f *fakeAPI) Call(_ context.Context, _, action string, params map[string]string, out any) error {
	f.calls = append(f.calls, action)
	v, err := f.answer(action, params)
	if err != nil || out == nil {
		return err
	}
	raw, _ := json.Marshal(v)
	return json.Unmarshal(raw, out)
}

func TestAttachUndoesTheConnectionWhenAttachingFails(t *testing.T) {
	refused := apierr.Invalid("Tag.1.Key", "Tag.1.Key must not start with acs:.")
	api := &fakeAPI{answer: func(action string, p map[string]string) (any, error) {
		switch action {
		case "CreateVpnAttachment":
			return map[string]string{"VpnConnectionId": "vco-new"}, nil
		case "CreateTransitRouterVpnAttachment":
			if p["VpnId"] != "vco-new" {
				t.Errorf("attached %q", p["VpnId"])
			}
			return nil, refused
		case "DeleteVpnAttachment":
			if p["VpnConnectionId"] != "vco-new" {
				t.Errorf("deleted %q", p["VpnConnectionId"])
			}
			return map[string]string{}, nil
		}
		return nil, errors.New("unexpected " + action)
	}}
	_, err := Attach(context.Background(), api, &VPN{Region: "cn-hangzhou", CustomerGatewayID: "cgw-1"}, Attachment{Region: "cn-hangzhou", TransitRouterID: "tr-1"})
	if !errors.Is(err, refused) {
		t.Fatalf("err = %v, want the API's refusal", err)
	}
	if want := []string{"CreateVpnAttachment", "CreateTransitRouterVpnAttachment", "DeleteVpnAttachment"}; !reflect.DeepEqual(api.calls, want) {
		t.Errorf("calls %v, want %v", api.calls, want)
	}
}

func TestAttachSelectedConnectionIsNeverDeleted(t *testing.T) {
	api := &fakeAPI{answer: func(action string, p map[string]string) (any, error) {
		if action == "CreateTransitRouterVpnAttachment" {
			return nil, apierr.New("Forbidden.InstanceNotGranted", "not granted")
		}
		return nil, errors.New("unexpected " + action)
	}}
	_, err := Attach(context.Background(), api, nil, Attachment{Region: "r", TransitRouterID: "tr-1", VpnID: "vco-theirs", VpnOwnerID: "1234567890123456"})
	if err == nil || len(api.calls) != 1 {
		t.Fatalf("err %v, calls %v", err, api.calls)
	}
}

func TestAssociateReplacesOrKeeps(t *testing.T) {
	for _, tt := range []struct {
		current string
		want    []string
	}{
		{"", []string{"ListTransitRouterRouteTableAssociations", "AssociateTransitRouterAttachmentWithRouteTable", "ListTransitRouterRouteTableAssociations"}},
		{"vtb-old", []string{"ListTransitRouterRouteTableAssociations", "ReplaceTransitRouterRouteTableAssociation", "ListTransitRouterRouteTableAssociations"}},
		{"vtb-new", []string{"ListTransitRouterRouteTableAssociations"}},
	} {
		linked := false
		api := &fakeAPI{answer: func(action string, p map[string]string) (any, error) {
			switch action {
			case "ListTransitRouterRouteTableAssociations":
				switch {
				case linked:
					return map[string]any{"TransitRouterAssociations": []any{map[string]any{"TransitRouterRouteTableId": "vtb-new", "Status": "Active"}}}, nil
				case tt.current != "":
					return map[string]any{"TransitRouterAssociations": []any{map[string]any{"TransitRouterRouteTableId": tt.current, "Status": "Active"}}}, nil
				}
				return map[string]any{"TransitRouterAssociations": []any{}}, nil
			default:
				linked = true
				return map[string]any{}, nil
			}
		}}
		if err := Associate(context.Background(), api, "tr-attach-1", "vtb-new"); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(api.calls, tt.want) {
			t.Errorf("current %q: calls %v, want %v", tt.current, api.calls, tt.want)
		}
	}
}

// FuzzVPNParams: whatever a form sends, Params either names the field at fault or returns
// parameters whose structured values are valid JSON objects.
func FuzzVPNParams(f *testing.F) {
	f.Add("flow", "10.0.0.0/16", "192.168.0.0/24", "3600", "5", "k#\"1", true)
	f.Add("", "", "", "", "", "", false)
	f.Add("destination", "x", "", "1e9", "-1", "\x00", true)
	f.Fuzz(func(t *testing.T, mode, local, peer, lifetime, interval, psk string, on bool) {
		v := VPN{Region: "r", RoutingMode: mode, LocalCidrs: local, PeerCidrs: peer, IkeLifetime: lifetime, IpsecLifetime: lifetime,
			HcInterval: interval, HcRetry: interval, Psk: psk, LocalAsn: psk, Bgp: on, HealthCheck: on}
		p, err := v.Params()
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field == "" || fe.Message == "" {
				t.Fatalf("error %v is not a FieldError naming a field", err)
			}
			return
		}
		for _, k := range []string{"IkeConfig", "IpsecConfig", "BgpConfig", "HealthCheckConfig"} {
			if raw, ok := p[k]; ok {
				var m map[string]any
				if err := json.Unmarshal([]byte(raw), &m); err != nil {
					t.Fatalf("%s = %q: %v", k, raw, err)
				}
			}
		}
		if got, ok := p["IkeConfig"]; psk != "" && (!ok || !json.Valid([]byte(got))) {
			t.Fatalf("the PSK was not sent: %v", p)
		}
	})
}

func TestPageValues(t *testing.T) {
	const page = `"IkeAuthAlg":"sha1","IkeEncAlg":"aes","IkeLifetime":86400,"IkeMode":"main","IkePfs":"group2","IkeVersion":"ikev2"`
	const pageIpsec = `{"IpsecAuthAlg":"sha1","IpsecEncAlg":"aes","IpsecLifetime":86400,"IpsecPfs":"group2"}`
	for _, tc := range []struct {
		name      string
		in        map[string]string
		ike, ipse string
		wantErr   bool
	}{
		{name: "nothing set", in: map[string]string{}, ike: "{" + page + "}", ipse: pageIpsec},
		{name: "caller's values win", in: map[string]string{"IkeConfig": `{"IkeVersion":"ikev1","Psk":"k"}`, "IpsecConfig": `{"IpsecPfs":"disabled"}`},
			ike:  `{"IkeAuthAlg":"sha1","IkeEncAlg":"aes","IkeLifetime":86400,"IkeMode":"main","IkePfs":"group2","IkeVersion":"ikev1","Psk":"k"}`,
			ipse: `{"IpsecAuthAlg":"sha1","IpsecEncAlg":"aes","IpsecLifetime":86400,"IpsecPfs":"disabled"}`},
		{name: "keys compared as the API does", in: map[string]string{"IkeConfig": `{"ikeauthalg":"md5"}`},
			ike: `{"IkeEncAlg":"aes","IkeLifetime":86400,"IkeMode":"main","IkePfs":"group2","IkeVersion":"ikev2","ikeauthalg":"md5"}`, ipse: pageIpsec},
		{name: "not JSON", in: map[string]string{"IkeConfig": `{"IkeVersion":`}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := PageValues(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatal("want an error")
				}
				return
			}
			if err != nil || tc.in["IkeConfig"] != tc.ike || tc.in["IpsecConfig"] != tc.ipse {
				t.Fatalf("got %v, %v\nwant IkeConfig %s IpsecConfig %s", tc.in, err, tc.ike, tc.ipse)
			}
		})
	}
}
