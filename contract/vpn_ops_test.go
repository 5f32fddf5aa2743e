package contract

// IPsec-VPN actions of issue 15 through the typed vpc-20160428/v7 client (answers decoded
// strictly too), the API's documented defaults, and the aliyun CLI's way of sending array
// parameters (one JSON string) through alibaba-cloud-sdk-go's CommonRequest, the CLI's core.

import (
	"encoding/json"
	"strings"
	"testing"

	cbn "github.com/alibabacloud-go/cbn-20170912/v2/client"
	"github.com/alibabacloud-go/tea/dara"
	vpc "github.com/alibabacloud-go/vpc-20160428/v7/client"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"

	"opencen/internal/testserver"
)

func TestVpnOpsSDK(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	acct := srv.CreateAccount(t, "vpnops")
	s := newTypedSDK(t, srv.Endpoint, acct)

	zresp, err := s.v.DescribeVpnGatewayAvailableZonesWithOptions(&vpc.DescribeVpnGatewayAvailableZonesRequest{RegionId: sp(regionHZ), Spec: sp("1000M"),
		AcceptLanguage: sp("en-US")}, rtOpts())
	zones := sdkOK[vpc.DescribeVpnGatewayAvailableZonesResponseBody](t, s, "DescribeVpnGatewayAvailableZones", true, zresp, err)
	if sv(zones.RegionId) != regionHZ || len(zones.AvailableZoneIdList) != 2 || sv(zones.AvailableZoneIdList[0].ZoneId) != "cn-hangzhou-h" ||
		sv(zones.AvailableZoneIdList[1].ZoneName) != "cn-hangzhou-i" {
		t.Fatalf("DescribeVpnGatewayAvailableZones: %+v", zones)
	}
	_, err = s.v.DescribeVpnGatewayAvailableZonesWithOptions(&vpc.DescribeVpnGatewayAvailableZonesRequest{RegionId: sp(regionHZ), Spec: sp("2G")}, rtOpts())
	expectAPIError(t, "DescribeVpnGatewayAvailableZones bad Spec", err, 400, "InvalidSpec")

	cgwResp, err := s.v.CreateCustomerGatewayWithOptions(&vpc.CreateCustomerGatewayRequest{RegionId: sp(regionHZ), IpAddress: sp("198.18.3.1"), Asn: sp("65010")}, rtOpts())
	cgw := sv(must[*vpc.CreateCustomerGatewayResponse](t, "CreateCustomerGateway")(cgwResp, err).Body.CustomerGatewayId)

	// A connection that leaves IKE and IPsec out gets the SDK model's documented defaults.
	vresp, err := s.v.CreateVpnAttachmentWithOptions(&vpc.CreateVpnAttachmentRequest{RegionId: sp(regionHZ), CustomerGatewayId: sp(cgw),
		LocalSubnet: sp("0.0.0.0/0"), RemoteSubnet: sp("0.0.0.0/0")}, rtOpts())
	vco := sv(must[*vpc.CreateVpnAttachmentResponse](t, "CreateVpnAttachment")(vresp, err).Body.VpnConnectionId)
	dresp, err := s.v.DescribeVpnConnectionWithOptions(&vpc.DescribeVpnConnectionRequest{RegionId: sp(regionHZ), VpnConnectionId: sp(vco)}, rtOpts())
	d := sdkOK[vpc.DescribeVpnConnectionResponseBody](t, s, "DescribeVpnConnection", false, dresp, err)
	ike, ipsec := d.IkeConfig, d.IpsecConfig
	if sv(ike.IkeVersion) != "ikev1" || sv(ike.IkeMode) != "main" || sv(ike.IkeEncAlg) != "aes" || sv(ike.IkeAuthAlg) != "md5" || sv(ike.IkePfs) != "group2" ||
		dara.Int64Value(ike.IkeLifetime) != 86400 || len(sv(ike.Psk)) != 16 || sv(ike.RemoteId) != "198.18.3.1" ||
		sv(ipsec.IpsecEncAlg) != "aes" || sv(ipsec.IpsecAuthAlg) != "md5" || sv(ipsec.IpsecPfs) != "group2" || dara.Int64Value(ipsec.IpsecLifetime) != 86400 ||
		!dara.BoolValue(d.EnableDpd) || !dara.BoolValue(d.EnableNatTraversal) || dara.BoolValue(d.EffectImmediately) || sv(d.NetworkType) != "public" {
		t.Fatalf("documented defaults: IkeConfig %+v IpsecConfig %+v connection %+v", ike, ipsec, d)
	}

	// DownloadVpnConnectionConfig's BgpConfig items exactly as the SDK models them.
	bresp, err := s.v.CreateVpnAttachmentWithOptions(&vpc.CreateVpnAttachmentRequest{RegionId: sp(regionHZ), CustomerGatewayId: sp(cgw),
		LocalSubnet: sp("0.0.0.0/0"), RemoteSubnet: sp("0.0.0.0/0"),
		BgpConfig: sp(`{"EnableBgp":"true","LocalAsn":"45104","TunnelCidr":"169.254.30.0/30","LocalBgpIp":"169.254.30.1"}`)}, rtOpts())
	bgpVco := sv(must[*vpc.CreateVpnAttachmentResponse](t, "CreateVpnAttachment (BGP)")(bresp, err).Body.VpnConnectionId)
	cfgResp, err := s.v.DownloadVpnConnectionConfigWithOptions(&vpc.DownloadVpnConnectionConfigRequest{RegionId: sp(regionHZ), VpnConnectionId: sp(bgpVco)}, rtOpts())
	cfg := sdkOK[vpc.DownloadVpnConnectionConfigResponseBody](t, s, "DownloadVpnConnectionConfig", true, cfgResp, err).VpnConnectionConfig
	if cfg == nil || cfg.BgpConfigs == nil || len(cfg.BgpConfigs.BgpConfig) != 1 {
		t.Fatalf("DownloadVpnConnectionConfig: %+v", cfg)
	}
	if b := cfg.BgpConfigs.BgpConfig[0]; sv(b.LocalAsn) != "65010" || sv(b.PeerAsn) != "45104" || sv(b.LocalBgpIp) != "169.254.30.2" ||
		sv(b.PeerBgpIp) != "169.254.30.1" || sv(b.TunnelCidr) != "169.254.30.0/30" || b.TunnelId == nil || sv(b.TunnelId) != "" {
		t.Fatalf("DownloadVpnConnectionConfig BgpConfig (the customer's side): %+v", b)
	}

	diagnose := func() *vpc.DiagnoseVpnConnectionsResponseBodyVpnConnections {
		resp, err := s.v.DiagnoseVpnConnectionsWithOptions(&vpc.DiagnoseVpnConnectionsRequest{RegionId: sp(regionHZ), VpnConnectionIds: sps([]string{vco})}, rtOpts())
		b := sdkOK[vpc.DiagnoseVpnConnectionsResponseBody](t, s, "DiagnoseVpnConnections", true, resp, err)
		if dara.Int32Value(b.TotalCount) != 1 || dara.Int32Value(b.PageNumber) != 1 || dara.Int32Value(b.PageSize) != 10 || len(b.VpnConnections) != 1 {
			t.Fatalf("DiagnoseVpnConnections: %+v", b)
		}
		return b.VpnConnections[0]
	}
	if dg := diagnose(); sv(dg.VpnConnectionId) != vco || sv(dg.Severity) != "Warn" || sv(dg.FailedReasonCode) != "VpnConnectionNotAttached" ||
		sv(dg.FailedReason) == "" || dara.Int64Value(dg.FailedTime) != 0 || sv(dg.TunnelId) != "" {
		t.Fatalf("diagnosis of an unattached connection: %+v", dg)
	}
	_, err = s.v.DiagnoseVpnConnectionsWithOptions(&vpc.DiagnoseVpnConnectionsRequest{RegionId: sp(regionHZ), TunnelIds: sps([]string{"tun-1"})}, rtOpts())
	// A tunnel ID that names no tunnel (this connection is single-tunnel).
	expectAPIError(t, "DiagnoseVpnConnections TunnelIds", err, 404, "InvalidTunnelId.NotFound")

	// Attached, without a data plane: nothing negotiates and nothing failed.
	cb := client(t, styleACS3, srv.Endpoint, acct)
	cen := createActiveCen(t, cb, uniq("vpnops"))
	tr := createActiveTR(t, cb, cen, regionHZ)
	aresp, err := s.c.CreateTransitRouterVpnAttachmentWithOptions(&cbn.CreateTransitRouterVpnAttachmentRequest{RegionId: sp(regionHZ), TransitRouterId: sp(tr),
		VpnId: sp(vco)}, rtOpts())
	att := sv(must[*cbn.CreateTransitRouterVpnAttachmentResponse](t, "CreateTransitRouterVpnAttachment")(aresp, err).Body.TransitRouterAttachmentId)
	waitFor(t, "VPN attached", func() (bool, string, error) {
		resp, err := s.c.ListTransitRouterVpnAttachmentsWithOptions(&cbn.ListTransitRouterVpnAttachmentsRequest{TransitRouterAttachmentId: sp(att)}, rtOpts())
		if err != nil || len(resp.Body.TransitRouterAttachments) != 1 {
			return false, "<absent>", err
		}
		st := sv(resp.Body.TransitRouterAttachments[0].Status)
		return st == "Attached", st, nil
	})
	if dg := diagnose(); sv(dg.Severity) != "Warn" || sv(dg.FailedReasonCode) != "NegotiationNotStarted" {
		t.Fatalf("diagnosis of an attached connection waiting for traffic: %+v", dg)
	}

	// VPN-side route weight.
	cresp, err := s.v.CreateVcoRouteEntryWithOptions(&vpc.CreateVcoRouteEntryRequest{RegionId: sp(regionHZ), VpnConnectionId: sp(vco), RouteDest: sp("192.168.50.0/24"),
		NextHop: sp(vco), Weight: dara.Int32(100), OverlayMode: sp("Ipsec")}, rtOpts())
	must[*vpc.CreateVcoRouteEntryResponse](t, "CreateVcoRouteEntry")(cresp, err)
	attachedAgain := func() {
		waitFor(t, "connection attached again", func() (bool, string, error) {
			resp, err := s.v.DescribeVpnConnectionWithOptions(&vpc.DescribeVpnConnectionRequest{RegionId: sp(regionHZ), VpnConnectionId: sp(vco)}, rtOpts())
			if err != nil {
				return false, "", err
			}
			st := sv(resp.Body.State)
			return st == "attached", st, nil
		})
	}
	attachedAgain()
	wresp, err := s.v.ModifyVcoRouteEntryWeightWithOptions(&vpc.ModifyVcoRouteEntryWeightRequest{RegionId: sp(regionHZ), VpnConnectionId: sp(vco),
		RouteDest: sp("192.168.50.0/24"), NextHop: sp(vco), Weight: dara.Int32(100), NewWeight: dara.Int32(0), OverlayMode: sp("Ipsec")}, rtOpts())
	sdkOK[vpc.ModifyVcoRouteEntryWeightResponseBody](t, s, "ModifyVcoRouteEntryWeight", true, wresp, err)
	rresp, err := s.v.DescribeVcoRouteEntriesWithOptions(&vpc.DescribeVcoRouteEntriesRequest{RegionId: sp(regionHZ), VpnConnectionId: sp(vco)}, rtOpts())
	routes := must[*vpc.DescribeVcoRouteEntriesResponse](t, "DescribeVcoRouteEntries")(rresp, err).Body.VcoRouteEntries
	if len(routes) != 1 || dara.Int32Value(routes[0].Weight) != 0 {
		t.Fatalf("after ModifyVcoRouteEntryWeight: %+v", routes)
	}
	attachedAgain() // the change updated the connection
	_, err = s.v.ModifyVcoRouteEntryWeightWithOptions(&vpc.ModifyVcoRouteEntryWeightRequest{RegionId: sp(regionHZ), VpnConnectionId: sp(vco),
		RouteDest: sp("192.168.50.0/24"), NextHop: sp(vco), Weight: dara.Int32(100), NewWeight: dara.Int32(0)}, rtOpts())
	expectAPIError(t, "ModifyVcoRouteEntryWeight with a stale weight", err, 404, "InvalidVpnRouteEntry.NotFound")
}

// commonVpc is the aliyun CLI's request path: alibaba-cloud-sdk-go's CommonRequest,
// parameters of metadata position Body in the form, the others in the query.
func commonVpc(t *testing.T, srv *testserver.Server, acct testserver.Account, action string, query, form map[string]string) (map[string]any, error) {
	t.Helper()
	c, err := sdk.NewClientWithOptions(regionHZ, sdkGoConfig(), credentials.NewAccessKeyCredential(acct.AccessKeyID, acct.AccessKeySecret))
	if err != nil {
		t.Fatal(err)
	}
	req := requests.NewCommonRequest()
	req.Method, req.Scheme, req.Domain, req.Version, req.ApiName, req.Product = "POST", "http", srv.Endpoint, vpcVersion, action, "Vpc"
	for k, v := range query {
		req.QueryParams[k] = v
	}
	for k, v := range form {
		req.FormParams[k] = v
	}
	resp, err := c.ProcessCommonRequest(req)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(resp.GetHttpContentBytes(), &out); err != nil {
		t.Fatalf("%s: %v", action, err)
	}
	return out, nil
}

// TestArrayParametersCLIForm: the aliyun CLI sends an array parameter as one JSON string
// (--Tags '[{...}]', --ResourceId '["vco-1"]'). OpenCEN reads it as the flattened form
// (TestDualTunnelCLIForm does so for TunnelOptionsSpecification); a JSON string that is no
// array is refused and changes nothing. The PSK takes ' and ".
func TestArrayParametersCLIForm(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	acct := srv.CreateAccount(t, "cli")
	out, err := commonVpc(t, srv, acct, "CreateCustomerGateway", map[string]string{"RegionId": regionHZ, "IpAddress": "198.18.4.1"}, nil)
	if err != nil {
		t.Fatal(describeErr(err))
	}
	cgw, _ := out["CustomerGatewayId"].(string)
	count := func() float64 {
		out, err := commonVpc(t, srv, acct, "DescribeVpnConnections", map[string]string{"RegionId": regionHZ}, nil)
		if err != nil {
			t.Fatal(describeErr(err))
		}
		n, _ := out["TotalCount"].(float64)
		return n
	}
	query := map[string]string{"RegionId": regionHZ, "LocalSubnet": "0.0.0.0/0", "RemoteSubnet": "0.0.0.0/0"}
	_, err = commonVpc(t, srv, acct, "CreateVpnAttachment", query, map[string]string{"TunnelOptionsSpecification": "[{"})
	expectAPIError(t, "CreateVpnAttachment with bad JSON", err, 400, "InvalidTunnelOptionsSpecification")
	_, err = commonVpc(t, srv, acct, "CreateVpnAttachment", query, map[string]string{"TunnelOptionsSpecification": `{"TunnelIndex":1}`})
	expectAPIError(t, "CreateVpnAttachment with a JSON object for an array", err, 400, "InvalidTunnelOptionsSpecification")
	if n := count(); n != 0 {
		t.Fatalf("refused requests created %v connections", n)
	}

	// The CLI's JSON forms of a list of structs (Tags) and of values (ResourceId), and a
	// PSK with both quotes.
	psk := `it's "q"`
	q := map[string]string{"RegionId": regionHZ, "CustomerGatewayId": cgw, "LocalSubnet": "0.0.0.0/0", "RemoteSubnet": "0.0.0.0/0",
		"IkeConfig": jsonParam(map[string]any{"Psk": strings.ReplaceAll(psk, " ", "")}), "Tags": `[{"Key":"env","Value":"cli"}]`}
	out, err = commonVpc(t, srv, acct, "CreateVpnAttachment", q, nil)
	if err != nil {
		t.Fatal(describeErr(err))
	}
	vco, _ := out["VpnConnectionId"].(string)
	if _, err := commonVpc(t, srv, acct, "TagResources", map[string]string{"RegionId": regionHZ, "ResourceType": "VPNCONNECTION", "ResourceId": `["` + vco + `"]`,
		"Tag": `[{"Key":"team","Value":"net"}]`}, nil); err != nil {
		t.Fatal(describeErr(err))
	}
	out, err = commonVpc(t, srv, acct, "DescribeVpnConnection", map[string]string{"RegionId": regionHZ, "VpnConnectionId": vco}, nil)
	if err != nil {
		t.Fatal(describeErr(err))
	}
	if got := dig(out, "IkeConfig", "Psk"); got != strings.ReplaceAll(psk, " ", "") {
		t.Errorf("Psk = %v", got)
	}
	if tags, _ := dig(out, "Tags", "Tag").([]any); len(tags) != 2 {
		t.Errorf("tags from the JSON forms: %v", tags)
	}
}
