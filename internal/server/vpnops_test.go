package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"opencen/internal/service"
)

// TestDiagnoseVpnConnections: the diagnosis follows what the data plane reports (status
// and logs) through the API; the reports are injected as a gateway would send them.
func TestDiagnoseVpnConnections(t *testing.T) {
	e := newEnv(t)
	c := e.account("alice")
	s := newVpnSetup(t, c)
	create := func() string {
		return vpcCall(t, c, "CreateVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "CustomerGatewayId": s.cgw, "EffectImmediately": "true"})["VpnConnectionId"].(string)
	}
	idle, failing := create(), create()
	att := call(t, c, "CreateTransitRouterVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "TransitRouterId": s.tr, "VpnId": failing})["TransitRouterAttachmentId"].(string)
	waitFor(t, "Attached", func() bool { return attachmentStatus(t, c, att) == "Attached" })
	diag := func(ids ...string) []map[string]any {
		p := map[string]string{"RegionId": "cn-hangzhou"}
		for i, id := range ids {
			p["VpnConnectionIds."+string(rune('1'+i))] = id
		}
		var out []map[string]any
		for _, it := range vpcCall(t, c, "DiagnoseVpnConnections", p)["VpnConnections"].([]any) {
			out = append(out, it.(map[string]any))
		}
		return out
	}
	got := diag(idle, failing)
	if len(got) != 2 || got[0]["FailedReasonCode"] != "VpnConnectionNotAttached" || got[1]["FailedReasonCode"] != "NegotiationNotEstablished" ||
		got[1]["Severity"] != "Warn" || got[1]["FailedTime"] != float64(0) {
		t.Fatalf("before any report: %v", got)
	}
	at := time.Now().Add(-time.Minute).Truncate(time.Second)
	report := func(negotiation, msg string, at time.Time) {
		t.Helper()
		if err := e.inst.Service.ReportConnection(context.Background(), failing, service.Report{Observed: service.Observed{Negotiation: negotiation},
			Logs: []service.LogLine{{Time: at, Message: msg}}}); err != nil {
			t.Fatal(err)
		}
	}
	report("ike_sa_not_established", "proposal_mismatch: no acceptable proposal found (the peer proposed IKE:3DES_CBC/HMAC_MD5_96/MODP_768; this side accepts IKE:AES_CBC_128/HMAC_MD5_96/MODP_1024)", at)
	d := diag(failing)[0]
	if d["Severity"] != "Critical" || d["FailedReasonCode"] != "Phase1ProposalMismatch" || d["MismatchRemoteParam"] != "IKE:3DES_CBC/HMAC_MD5_96/MODP_768" ||
		d["MismatchLocalParam"] != "IKE:AES_CBC_128/HMAC_MD5_96/MODP_1024" || d["FailedTime"] != float64(at.UnixMilli()) ||
		!strings.Contains(d["SourceLog"].(string), "proposal_mismatch") || d["TunnelId"] != "" {
		t.Fatalf("after a mismatch: %v", d)
	}
	report("ipsec_sa_established", "ipsec_established: CHILD_SA established", at.Add(30*time.Second))
	if d := diag(failing)[0]; d["Severity"] != "Normal" || d["FailedReasonCode"] != "" {
		t.Fatalf("once up: %v", d)
	}
	for _, tc := range []struct {
		params map[string]string
		code   string
		status int
	}{
		{map[string]string{}, "MissingVpnConnectionIds", 400},
		{map[string]string{"TunnelIds.1": "tun-1"}, "InvalidTunnelId.NotFound", 404},
		// A tunnel ID of a single-tunnel connection: it has no tunnels.
		{map[string]string{"TunnelIds.1": "tun-" + strings.TrimPrefix(idle, "vco-") + "1"}, "InvalidTunnelId.NotFound", 404},
		{map[string]string{"VpnConnectionIds.1": "vco-nope"}, "InvalidVpnConnectionInstanceId.NotFound", 404},
		{map[string]string{"VpnConnectionIds": "vco-1"}, "InvalidVpnConnectionIds", 400},
		{map[string]string{"VpnConnectionIds.1": idle, "PageSize": "51"}, "InvalidPageSize", 400},
	} {
		tc.params["RegionId"] = "cn-hangzhou"
		if code, status, _ := vpcErr(t, c, "DiagnoseVpnConnections", tc.params); code != tc.code || status != tc.status {
			t.Errorf("DiagnoseVpnConnections %v: %s (%d), want %s (%d)", tc.params, code, status, tc.code, tc.status)
		}
	}
	// The aliyun CLI's JSON form of the list.
	if got := vpcCall(t, c, "DiagnoseVpnConnections", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionIds": `["` + idle + `"]`})["VpnConnections"].([]any); len(got) != 1 {
		t.Fatalf("JSON VpnConnectionIds: %v", got)
	}
}

func TestVcoRouteWeightAndZones(t *testing.T) {
	e := newEnv(t)
	c := e.account("alice")
	s := newVpnSetup(t, c)
	vco := vpcCall(t, c, "CreateVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "CustomerGatewayId": s.cgw})["VpnConnectionId"].(string)
	route := map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": vco, "RouteDest": "192.168.10.0/24", "NextHop": vco}
	vpcCall(t, c, "CreateVcoRouteEntry", with(route, "Weight", "100", "OverlayMode", "Ipsec"))
	for _, tc := range []struct {
		params map[string]string
		code   string
	}{
		{with(route, "Weight", "0", "NewWeight", "100"), "InvalidVpnRouteEntry.NotFound"},
		{with(route, "Weight", "100", "NewWeight", "50"), "InvalidNewWeight"},
		{with(route, "Weight", "100"), "MissingNewWeight"},
		{with(route, "NewWeight", "0"), "MissingWeight"},
		{with(route, "Weight", "100", "NewWeight", "0", "OverlayMode", "Gre"), "InvalidOverlayMode"},
	} {
		if code, _, _ := vpcErr(t, c, "ModifyVcoRouteEntryWeight", tc.params); code != tc.code {
			t.Errorf("ModifyVcoRouteEntryWeight %v: %s, want %s", tc.params, code, tc.code)
		}
	}
	vpcCall(t, c, "ModifyVcoRouteEntryWeight", with(route, "Weight", "100", "NewWeight", "0"))
	routes := vpcCall(t, c, "DescribeVcoRouteEntries", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": vco})["VcoRouteEntries"].([]any)
	if len(routes) != 1 || routes[0].(map[string]any)["Weight"] != float64(0) {
		t.Fatalf("after ModifyVcoRouteEntryWeight: %v", routes)
	}

	zones := vpcCall(t, c, "DescribeVpnGatewayAvailableZones", map[string]string{"RegionId": "cn-hangzhou", "Spec": "1000M"})
	list := zones["AvailableZoneIdList"].([]any)
	if zones["RegionId"] != "cn-hangzhou" || len(list) != 2 || list[0].(map[string]any)["ZoneId"] != "cn-hangzhou-h" || list[1].(map[string]any)["ZoneName"] != "cn-hangzhou-i" {
		t.Fatalf("DescribeVpnGatewayAvailableZones: %v", zones)
	}
	for _, tc := range []struct {
		params map[string]string
		code   string
	}{
		{map[string]string{"RegionId": "cn-hangzhou", "Spec": "3G"}, "InvalidSpec"},
		{map[string]string{"RegionId": "cn-hangzhou", "AcceptLanguage": "fr-FR"}, "InvalidAcceptLanguage"},
		{map[string]string{"RegionId": "mars-1"}, "InvalidRegionId"},
		{map[string]string{}, "MissingRegionId"},
	} {
		if code, _, _ := vpcErr(t, c, "DescribeVpnGatewayAvailableZones", tc.params); code != tc.code {
			t.Errorf("DescribeVpnGatewayAvailableZones %v: %s, want %s", tc.params, code, tc.code)
		}
	}
}
