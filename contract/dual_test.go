package contract

// Dual-tunnel IPsec-VPN connections (issue 15) through the stock SDKs: the typed
// vpc-20160428/v7 and cbn-20170912/v2 clients where their request models have the fields,
// darabonba-openapi's generic CallApi where they do not (TunnelOptionsSpecification.N.Role,
// which the Terraform provider sends and the request models lack), and the aliyun CLI's
// core (alibaba-cloud-sdk-go's CommonRequest) for the CLI's JSON-string form of the array.
// Every answer is read back through the SDK's own response models and decoded strictly
// into them as well; the tunnels of DescribeVpnConnection(s) and DownloadVpnConnectionConfig
// exactly (a field the model lacks fails too). The response models type a tunnel
// differently per action (DescribeVpnConnection: EnableDpd, IkeLifetime, LocalAsn ... are
// strings; ModifyVpnAttachmentAttribute: booleans and integers), so each is read with its
// own model.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	cbn "github.com/alibabacloud-go/cbn-20170912/v2/client"
	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	"github.com/alibabacloud-go/tea/dara"
	vpc "github.com/alibabacloud-go/vpc-20160428/v7/client"
)

// ---- helpers ----------------------------------------------------------------------------------

type (
	tunnelOpt      = vpc.CreateVpnAttachmentRequestTunnelOptionsSpecification
	tunnelIke      = vpc.CreateVpnAttachmentRequestTunnelOptionsSpecificationTunnelIkeConfig
	tunnelIpsec    = vpc.CreateVpnAttachmentRequestTunnelOptionsSpecificationTunnelIpsecConfig
	tunnelBgp      = vpc.CreateVpnAttachmentRequestTunnelOptionsSpecificationTunnelBgpConfig
	modTunnelOpt   = vpc.ModifyVpnAttachmentAttributeRequestTunnelOptionsSpecification
	descTunnel     = vpc.DescribeVpnConnectionResponseBodyTunnelOptionsSpecificationTunnelOptions
	descTunnels    = vpc.DescribeVpnConnectionResponseBodyTunnelOptionsSpecification
	listTunnels    = vpc.DescribeVpnConnectionsResponseBodyVpnConnectionsVpnConnectionTunnelOptionsSpecification
	modRespTunnel  = vpc.ModifyVpnAttachmentAttributeResponseBodyTunnelOptionsSpecification
	downloadConfig = vpc.DownloadVpnConnectionConfigResponseBodyVpnConnectionConfig
)

// strictPart decodes the JSON value at path of raw strictly into T: a JSON type other than
// T's, or (exact) a field T lacks, fails the test.
func strictPart[T any](t testing.TB, what string, raw []byte, exact bool, path ...string) T {
	t.Helper()
	var whole any
	if err := json.Unmarshal(raw, &whole); err != nil {
		t.Fatalf("%s: the answer is not JSON: %v\n%s", what, err, raw)
	}
	for _, k := range path {
		switch v := whole.(type) {
		case map[string]any:
			whole = v[k]
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i >= len(v) {
				t.Fatalf("%s: no element %s of %s", what, k, strings.Join(path, "."))
			}
			whole = v[i]
		default:
			whole = nil
		}
	}
	part, err := json.Marshal(whole)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	dec := json.NewDecoder(bytes.NewReader(part))
	if exact {
		dec.DisallowUnknownFields()
	}
	var out T
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("%s: %s does not fit the SDK model %T: %v\n%s", what, strings.Join(path, "."), out, err, part)
	}
	return out
}

// callVpcGeneric is darabonba-openapi's CallApi on the typed Vpc client, for what the
// request models lack: query and body are flattened as the typed client flattens its own
// (openapiutil.Query: lists as .N, objects as .Field), the body sent as a form.
func callVpcGeneric(s *typedSDK, action string, query, body map[string]any) (map[string]any, error) {
	p := &openapiutil.Params{Action: dara.String(action), Version: dara.String(vpcVersion), Protocol: dara.String("HTTP"),
		Pathname: dara.String("/"), Method: dara.String("POST"), AuthType: dara.String("AK"), Style: dara.String("RPC"),
		ReqBodyType: dara.String("formData"), BodyType: dara.String("json")}
	req := &openapiutil.OpenApiRequest{Query: openapiutil.Query(query),
		Body: openapiutil.ParseToMap(dara.ToMap(map[string]any{}, openapiutil.Query(body)))}
	resp, err := s.v.CallApi(p, req, rtOpts())
	if err != nil {
		return nil, err
	}
	out, _ := resp["body"].(map[string]any)
	return out, nil
}

// describeDual is DescribeVpnConnection through the typed client, its tunnels decoded
// exactly into the SDK's tunnel model.
func describeDual(t testing.TB, s *typedSDK, id string) *vpc.DescribeVpnConnectionResponseBody {
	t.Helper()
	resp, err := s.v.DescribeVpnConnectionWithOptions(&vpc.DescribeVpnConnectionRequest{RegionId: sp(regionHZ), VpnConnectionId: sp(id)}, rtOpts())
	b := sdkOK[vpc.DescribeVpnConnectionResponseBody](t, s, "DescribeVpnConnection "+id, false, resp, err)
	strictPart[descTunnels](t, "DescribeVpnConnection "+id, s.rec.Last(), true, "TunnelOptionsSpecification")
	return b
}

// tunnelsOf returns the connection's tunnels by TunnelIndex (1 and 2); any other shape fails.
func tunnelsOf(t testing.TB, what string, b *vpc.DescribeVpnConnectionResponseBody) (t1, t2 *descTunnel) {
	t.Helper()
	if b.TunnelOptionsSpecification == nil || len(b.TunnelOptionsSpecification.TunnelOptions) != 2 {
		t.Fatalf("%s: TunnelOptionsSpecification = %s, want TunnelOptions with two tunnels", what, dara.Prettify(b.TunnelOptionsSpecification))
	}
	for _, tu := range b.TunnelOptionsSpecification.TunnelOptions {
		switch dara.Int32Value(tu.TunnelIndex) {
		case 1:
			t1 = tu
		case 2:
			t2 = tu
		}
	}
	if t1 == nil || t2 == nil {
		t.Fatalf("%s: tunnels %s, want TunnelIndex 1 and 2", what, dara.Prettify(b.TunnelOptionsSpecification.TunnelOptions))
	}
	return t1, t2
}

// tunView is a tunnel flattened to strings, to compare whole tunnels in one message.
type tunView struct {
	Index                                                                    int32
	Role, Cgw, Dpd, Nat, State, Status, RemoteCa                             string
	IkeVersion, IkeMode, IkeEncAlg, IkeAuthAlg, IkePfs, IkeLifetime, LocalId string
	RemoteId, Psk                                                            string
	IpsecEncAlg, IpsecAuthAlg, IpsecPfs, IpsecLifetime                       string
	LocalAsn, LocalBgpIp, TunnelCidr, PeerAsn, PeerBgpIp                     string
	volatileId, volatileIp, volatileZone, volatileBgpStatus                  string
}

func viewOf(tu *descTunnel) tunView {
	v := tunView{Index: dara.Int32Value(tu.TunnelIndex), Role: sv(tu.Role), Cgw: sv(tu.CustomerGatewayId), Dpd: sv(tu.EnableDpd),
		Nat: sv(tu.EnableNatTraversal), State: sv(tu.State), Status: sv(tu.Status), RemoteCa: sv(tu.RemoteCaCertificate),
		volatileId: sv(tu.TunnelId), volatileIp: sv(tu.InternetIp), volatileZone: sv(tu.ZoneNo)}
	if k := tu.TunnelIkeConfig; k != nil {
		v.IkeVersion, v.IkeMode, v.IkeEncAlg, v.IkeAuthAlg, v.IkePfs = sv(k.IkeVersion), sv(k.IkeMode), sv(k.IkeEncAlg), sv(k.IkeAuthAlg), sv(k.IkePfs)
		v.IkeLifetime, v.LocalId, v.RemoteId, v.Psk = sv(k.IkeLifetime), sv(k.LocalId), sv(k.RemoteId), sv(k.Psk)
	}
	if p := tu.TunnelIpsecConfig; p != nil {
		v.IpsecEncAlg, v.IpsecAuthAlg, v.IpsecPfs, v.IpsecLifetime = sv(p.IpsecEncAlg), sv(p.IpsecAuthAlg), sv(p.IpsecPfs), sv(p.IpsecLifetime)
	}
	if b := tu.TunnelBgpConfig; b != nil {
		v.LocalAsn, v.LocalBgpIp, v.TunnelCidr, v.PeerAsn, v.PeerBgpIp = sv(b.LocalAsn), sv(b.LocalBgpIp), sv(b.TunnelCidr), sv(b.PeerAsn), sv(b.PeerBgpIp)
		v.volatileBgpStatus = sv(b.BgpStatus)
	}
	return v
}

// compare compares the fields a test determines; the volatile ones are checked apart.
func (v tunView) compare(t testing.TB, what string, want tunView) {
	t.Helper()
	g, w := v, want
	g.volatileId, g.volatileIp, g.volatileZone, g.volatileBgpStatus = "", "", "", ""
	w.volatileId, w.volatileIp, w.volatileZone, w.volatileBgpStatus = "", "", "", ""
	if fmt.Sprintf("%+v", g) != fmt.Sprintf("%+v", w) {
		t.Errorf("%s =\n  %+v\nwant\n  %+v", what, g, w)
	}
	if !strings.HasPrefix(v.volatileId, "tun-") {
		t.Errorf("%s TunnelId = %q, want tun-…", what, v.volatileId)
	}
	if st := v.volatileBgpStatus; st != "" && st != "success" && st != "false" && st != "failed" {
		t.Errorf("%s TunnelBgpConfig.BgpStatus = %q, want empty, success or false/failed (the SDK's values)", what, st)
	}
}

var pskRE = regexp.MustCompile(`^[A-Za-z0-9]{16}$`)

// createDual creates a connection through the typed client and returns its ID.
func createDual(t testing.TB, s *typedSDK, req *vpc.CreateVpnAttachmentRequest) string {
	t.Helper()
	resp, err := s.v.CreateVpnAttachmentWithOptions(req, rtOpts())
	b := sdkOK[vpc.CreateVpnAttachmentResponseBody](t, s, "CreateVpnAttachment (dual tunnel)", false, resp, err)
	id := sv(b.VpnConnectionId)
	if !strings.HasPrefix(id, "vco-") || !dara.BoolValue(b.Success) || sv(b.Code) != "200" {
		t.Fatalf("CreateVpnAttachment (dual tunnel) answer %s", dara.Prettify(b))
	}
	return id
}

func createCgw(t testing.TB, s *typedSDK, ip, asn string) string {
	t.Helper()
	resp, err := s.v.CreateCustomerGatewayWithOptions(&vpc.CreateCustomerGatewayRequest{RegionId: sp(regionHZ), IpAddress: sp(ip), Asn: sp(asn)}, rtOpts())
	return sv(must[*vpc.CreateCustomerGatewayResponse](t, "CreateCustomerGateway "+ip)(resp, err).Body.CustomerGatewayId)
}

// waitDualState polls DescribeVpnConnection until the connection's State is want; every
// tunnel's State meanwhile must be one of the SDK's (active, updating, deleting).
func waitDualState(t testing.TB, s *typedSDK, id, want string) *vpc.DescribeVpnConnectionResponseBody {
	t.Helper()
	var b *vpc.DescribeVpnConnectionResponseBody
	waitFor(t, "connection "+id+" "+want, func() (bool, string, error) {
		b = describeDual(t, s, id)
		tunnelsOf(t, "connection "+id, b)
		for _, tu := range b.TunnelOptionsSpecification.TunnelOptions {
			if st := sv(tu.State); st != "active" && st != "updating" && st != "deleting" {
				t.Errorf("tunnel %s State = %q, want active, updating or deleting", sv(tu.TunnelId), st)
			}
		}
		return sv(b.State) == want, sv(b.State), nil
	})
	return b
}

// snapshot is a DescribeVpnConnection answer without its RequestId, to show that a refused
// request changed nothing.
func snapshot(t testing.TB, s *typedSDK, id string) string {
	t.Helper()
	describeDual(t, s, id)
	var m map[string]any
	if err := json.Unmarshal(s.rec.Last(), &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "RequestId")
	b, _ := json.Marshal(m)
	return string(b)
}

func vcoCount(t testing.TB, s *typedSDK) int32 {
	t.Helper()
	resp, err := s.v.DescribeVpnConnectionsWithOptions(&vpc.DescribeVpnConnectionsRequest{RegionId: sp(regionHZ), PageSize: dara.Int32(50)}, rtOpts())
	return dara.Int32Value(must[*vpc.DescribeVpnConnectionsResponse](t, "DescribeVpnConnections")(resp, err).Body.TotalCount)
}

// ==== create, describe, modify, attach, config, logs, detach through the typed clients =====

func TestDualTunnelSDK(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	acct := srv.CreateAccount(t, "dual-sdk")
	s := newTypedSDK(t, srv.Endpoint, acct)
	const ipA, ipB = "198.18.6.1", "198.18.6.2"
	cgwA, cgwB := createCgw(t, s, ipA, "65010"), createCgw(t, s, ipB, "65020")

	// Every field of TunnelOptionsSpecification the request model has; tunnel 2 given first
	// (a client's order need not be the tunnels' order), BGP on both tunnels, a health check
	// for the connection (it applies to both tunnels).
	full := createDual(t, s, &vpc.CreateVpnAttachmentRequest{RegionId: sp(regionHZ), Name: sp("dual-full"), NetworkType: sp("public"),
		LocalSubnet: sp(localSub), RemoteSubnet: sp(remSub), EffectImmediately: dara.Bool(true), EnableTunnelsBgp: dara.Bool(true),
		HealthCheckConfig: sp(`{"enable":"true","dip":"192.168.10.1","sip":"10.0.0.1","interval":"5","retry":"4","Policy":"reserve_route"}`),
		TunnelOptionsSpecification: []*tunnelOpt{
			{TunnelIndex: dara.Int32(2), CustomerGatewayId: sp(cgwB), EnableDpd: dara.Bool(false), EnableNatTraversal: dara.Bool(false),
				TunnelIkeConfig: &tunnelIke{Psk: sp("Key-two_2"), IkeVersion: sp("ikev1"), IkeMode: sp("aggressive"), IkeEncAlg: sp("aes256"),
					IkeAuthAlg: sp("sha512"), IkePfs: sp("group14"), IkeLifetime: dara.Int64(28800), LocalId: sp("cloud2.example.com"), RemoteId: sp("dc2.example.com")},
				TunnelIpsecConfig: &tunnelIpsec{IpsecEncAlg: sp("3des"), IpsecAuthAlg: sp("sha256"), IpsecPfs: sp("disabled"), IpsecLifetime: dara.Int64(3600)},
				TunnelBgpConfig:   &tunnelBgp{LocalAsn: dara.Int64(65102), TunnelCidr: sp("169.254.22.0/30"), LocalBgpIp: sp("169.254.22.1")}},
			{TunnelIndex: dara.Int32(1), CustomerGatewayId: sp(cgwA), EnableDpd: dara.Bool(true), EnableNatTraversal: dara.Bool(true),
				TunnelIkeConfig: &tunnelIke{Psk: sp(psk), IkeVersion: sp("ikev2"), IkeMode: sp("main"), IkeEncAlg: sp("aes192"), IkeAuthAlg: sp("md5"),
					IkePfs: sp("group5"), IkeLifetime: dara.Int64(86400)},
				TunnelIpsecConfig: &tunnelIpsec{IpsecEncAlg: sp("aes"), IpsecAuthAlg: sp("md5"), IpsecPfs: sp("group1"), IpsecLifetime: dara.Int64(43200)},
				TunnelBgpConfig:   &tunnelBgp{LocalAsn: dara.Int64(65101), TunnelCidr: sp("169.254.21.0/30"), LocalBgpIp: sp("169.254.21.2")}},
		}})
	want1 := tunView{Index: 1, Role: "master", Cgw: cgwA, Dpd: "true", Nat: "true", State: "active", Status: "ike_sa_not_established",
		IkeVersion: "ikev2", IkeMode: "main", IkeEncAlg: "aes192", IkeAuthAlg: "md5", IkePfs: "group5", IkeLifetime: "86400", RemoteId: ipA, Psk: psk,
		IpsecEncAlg: "aes", IpsecAuthAlg: "md5", IpsecPfs: "group1", IpsecLifetime: "43200",
		LocalAsn: "65101", LocalBgpIp: "169.254.21.2", TunnelCidr: "169.254.21.0/30", PeerAsn: "65010", PeerBgpIp: "169.254.21.1"}
	want2 := tunView{Index: 2, Role: "slave", Cgw: cgwB, Dpd: "false", Nat: "false", State: "active", Status: "ike_sa_not_established",
		IkeVersion: "ikev1", IkeMode: "aggressive", IkeEncAlg: "aes256", IkeAuthAlg: "sha512", IkePfs: "group14", IkeLifetime: "28800",
		LocalId: "cloud2.example.com", RemoteId: "dc2.example.com", Psk: "Key-two_2",
		IpsecEncAlg: "3des", IpsecAuthAlg: "sha256", IpsecPfs: "disabled", IpsecLifetime: "3600",
		LocalAsn: "65102", LocalBgpIp: "169.254.22.1", TunnelCidr: "169.254.22.0/30", PeerAsn: "65020", PeerBgpIp: "169.254.22.2"}

	d := describeDual(t, s, full)
	if sv(d.Name) != "dual-full" || sv(d.LocalSubnet) != localSub || sv(d.RemoteSubnet) != remSub || sv(d.NetworkType) != "public" ||
		!dara.BoolValue(d.EffectImmediately) || !dara.BoolValue(d.EnableTunnelsBgp) || sv(d.State) != "init" || sv(d.AttachType) != "NO_ASSOCIATED" ||
		sv(d.CustomerGatewayId) != "" {
		t.Errorf("DescribeVpnConnection (dual): Name %q LocalSubnet %q RemoteSubnet %q NetworkType %q EffectImmediately %v EnableTunnelsBgp %v State %q AttachType %q CustomerGatewayId %q;\n"+
			"want dual-full, %s, %s, public, true, true, init, NO_ASSOCIATED and no connection-level customer gateway (each tunnel has its own)",
			sv(d.Name), sv(d.LocalSubnet), sv(d.RemoteSubnet), sv(d.NetworkType), dara.BoolValue(d.EffectImmediately), dara.BoolValue(d.EnableTunnelsBgp),
			sv(d.State), sv(d.AttachType), sv(d.CustomerGatewayId), localSub, remSub)
	}
	if hc := d.VcoHealthCheck; hc == nil || sv(hc.Enable) != "true" || sv(hc.Dip) != "192.168.10.1" || sv(hc.Sip) != "10.0.0.1" ||
		dara.Int32Value(hc.Interval) != 5 || dara.Int32Value(hc.Retry) != 4 || sv(hc.Policy) != "reserve_route" {
		t.Errorf("DescribeVpnConnection (dual) VcoHealthCheck = %s, want the health check given", dara.Prettify(hc))
	}
	t1, t2 := tunnelsOf(t, "DescribeVpnConnection (dual)", d)
	viewOf(t1).compare(t, "tunnel 1", want1)
	viewOf(t2).compare(t, "tunnel 2", want2)
	tid1, tid2 := sv(t1.TunnelId), sv(t2.TunnelId)
	if tid1 == tid2 {
		t.Fatalf("both tunnels have TunnelId %s", tid1)
	}

	// The defaults of each tunnel: what the CreateVpnAttachment request model documents for
	// TunnelOptionsSpecification (IKEv2, main, aes, sha1, group2, 86400; IPsec aes, sha1,
	// group2, 86400; DPD and NAT traversal on; LocalAsn 45104), tunnel 1 the master.
	// TunnelIndex 0 is "not set" (Terraform sends its zero value): the tunnels are taken in order.
	defaults := createDual(t, s, &vpc.CreateVpnAttachmentRequest{RegionId: sp(regionHZ), LocalSubnet: sp("0.0.0.0/0"), RemoteSubnet: sp("0.0.0.0/0"),
		TunnelOptionsSpecification: []*tunnelOpt{{CustomerGatewayId: sp(cgwA), TunnelIndex: dara.Int32(0)}, {CustomerGatewayId: sp(cgwA), TunnelIndex: dara.Int32(0)}}})
	dd := describeDual(t, s, defaults)
	if dara.BoolValue(dd.EnableTunnelsBgp) {
		t.Errorf("EnableTunnelsBgp defaults to true, the model documents false")
	}
	d1, d2 := tunnelsOf(t, "DescribeVpnConnection (defaults)", dd)
	for i, tu := range []*descTunnel{d1, d2} {
		v := viewOf(tu)
		if !pskRE.MatchString(v.Psk) {
			t.Errorf("tunnel %d generated Psk %q, want 16 letters and digits", i+1, v.Psk)
		}
		want := tunView{Index: int32(i + 1), Role: []string{"master", "slave"}[i], Cgw: cgwA, Dpd: "true", Nat: "true", State: "active",
			Status: "ike_sa_not_established", IkeVersion: "ikev2", IkeMode: "main", IkeEncAlg: "aes", IkeAuthAlg: "sha1", IkePfs: "group2",
			IkeLifetime: "86400", RemoteId: ipA, Psk: v.Psk, IpsecEncAlg: "aes", IpsecAuthAlg: "sha1", IpsecPfs: "group2", IpsecLifetime: "86400",
			LocalAsn: "45104"}
		// Without BGP there is no session: PeerAsn/PeerBgpIp are not compared.
		v.PeerAsn, v.PeerBgpIp = "", ""
		v.compare(t, fmt.Sprintf("tunnel %d with defaults", i+1), want)
	}
	if sv(d1.TunnelIkeConfig.Psk) == sv(d2.TunnelIkeConfig.Psk) {
		t.Errorf("both tunnels got the generated Psk %q", sv(d1.TunnelIkeConfig.Psk))
	}

	// The list has the same tunnels; a tunnel's customer gateway finds its connection.
	lresp, err := s.v.DescribeVpnConnectionsWithOptions(&vpc.DescribeVpnConnectionsRequest{RegionId: sp(regionHZ), VpnConnectionId: sp(full)}, rtOpts())
	list := sdkOK[vpc.DescribeVpnConnectionsResponseBody](t, s, "DescribeVpnConnections", false, lresp, err)
	strictPart[listTunnels](t, "DescribeVpnConnections", s.rec.Last(), true, "VpnConnections", "VpnConnection", "0", "TunnelOptionsSpecification")
	if list.VpnConnections == nil || len(list.VpnConnections.VpnConnection) != 1 {
		t.Fatalf("DescribeVpnConnections(VpnConnectionId) = %s", dara.Prettify(list))
	}
	item := list.VpnConnections.VpnConnection[0]
	if got, want := dara.Prettify(item.TunnelOptionsSpecification), dara.Prettify(d.TunnelOptionsSpecification); got != want || !dara.BoolValue(item.EnableTunnelsBgp) {
		t.Errorf("DescribeVpnConnections item tunnels (EnableTunnelsBgp %v) =\n%s\nDescribeVpnConnection's =\n%s", dara.BoolValue(item.EnableTunnelsBgp), got, want)
	}
	bresp, err := s.v.DescribeVpnConnectionsWithOptions(&vpc.DescribeVpnConnectionsRequest{RegionId: sp(regionHZ), CustomerGatewayId: sp(cgwB)}, rtOpts())
	byCgw := must[*vpc.DescribeVpnConnectionsResponse](t, "DescribeVpnConnections(CustomerGatewayId)")(bresp, err).Body
	if byCgw.VpnConnections == nil || len(byCgw.VpnConnections.VpnConnection) != 1 || sv(byCgw.VpnConnections.VpnConnection[0].VpnConnectionId) != full {
		t.Errorf("DescribeVpnConnections(CustomerGatewayId=%s, tunnel 2's gateway) = %s, want just %s", cgwB, dara.Prettify(byCgw.VpnConnections), full)
	}

	// Modify one tunnel by TunnelId (typed): only what is given changes; the answer is the
	// model's flat TunnelOptionsSpecification array with both tunnels.
	mresp, err := s.v.ModifyVpnAttachmentAttributeWithOptions(&vpc.ModifyVpnAttachmentAttributeRequest{RegionId: sp(regionHZ), VpnConnectionId: sp(full),
		Name: sp("dual-full-2"), TunnelOptionsSpecification: []*modTunnelOpt{{TunnelId: sp(tid2),
			TunnelIkeConfig:   &vpc.ModifyVpnAttachmentAttributeRequestTunnelOptionsSpecificationTunnelIkeConfig{IkeEncAlg: sp("aes"), Psk: sp("Key-two_3")},
			TunnelIpsecConfig: &vpc.ModifyVpnAttachmentAttributeRequestTunnelOptionsSpecificationTunnelIpsecConfig{IpsecLifetime: dara.Int32(7200)}}}}, rtOpts())
	m := sdkOK[vpc.ModifyVpnAttachmentAttributeResponseBody](t, s, "ModifyVpnAttachmentAttribute (tunnel 2 by TunnelId)", false, mresp, err)
	want2.IkeEncAlg, want2.Psk, want2.IpsecLifetime = "aes", "Key-two_3", "7200"
	if len(m.TunnelOptionsSpecification) != 2 || sv(m.Name) != "dual-full-2" || !dara.BoolValue(m.EnableTunnelsBgp) {
		t.Fatalf("ModifyVpnAttachmentAttribute answer: Name %q EnableTunnelsBgp %v TunnelOptionsSpecification %s; want dual-full-2, true, both tunnels",
			sv(m.Name), dara.BoolValue(m.EnableTunnelsBgp), dara.Prettify(m.TunnelOptionsSpecification))
	}
	for _, mt := range m.TunnelOptionsSpecification {
		got, want := modView(mt), map[int32]tunView{1: want1, 2: want2}[dara.Int32Value(mt.TunnelIndex)]
		want.State, want.Status, want.RemoteCa = got.State, "", ""
		if want.State != "active" && want.State != "updating" {
			t.Errorf("ModifyVpnAttachmentAttribute tunnel %d State %q, want active or updating", want.Index, want.State)
		}
		got.compare(t, fmt.Sprintf("ModifyVpnAttachmentAttribute answer, tunnel %d", want.Index), want)
	}
	d = describeDual(t, s, full)
	t1, t2 = tunnelsOf(t, "DescribeVpnConnection after modify", d)
	viewOf(t1).compare(t, "tunnel 1 after modifying tunnel 2", want1)
	viewOf(t2).compare(t, "tunnel 2 after modifying it", want2)
	if sv(t1.TunnelId) != tid1 || sv(t2.TunnelId) != tid2 {
		t.Errorf("TunnelIds changed on modify: %s %s, were %s %s", sv(t1.TunnelId), sv(t2.TunnelId), tid1, tid2)
	}

	// Roles (not in the request model): the generic CallApi swaps master and slave.
	_, err = callVpcGeneric(s, "ModifyVpnAttachmentAttribute", map[string]any{"RegionId": regionHZ, "VpnConnectionId": full},
		map[string]any{"TunnelOptionsSpecification": []any{map[string]any{"TunnelId": tid1, "Role": "slave"}, map[string]any{"TunnelId": tid2, "Role": "master"}}})
	mustOK(t, "ModifyVpnAttachmentAttribute (swap roles)", err)
	t1, t2 = tunnelsOf(t, "DescribeVpnConnection after swapping roles", describeDual(t, s, full))
	if sv(t1.Role) != "slave" || sv(t2.Role) != "master" {
		t.Errorf("after swapping roles: tunnel 1 %q, tunnel 2 %q; want slave, master", sv(t1.Role), sv(t2.Role))
	}
	want1.Role, want2.Role = "slave", "master"

	// BGP switched on later (tunnels named by TunnelIndex, as Terraform names them).
	_, err = callVpcGeneric(s, "ModifyVpnAttachmentAttribute", map[string]any{"RegionId": regionHZ, "VpnConnectionId": defaults, "EnableTunnelsBgp": true},
		map[string]any{"TunnelOptionsSpecification": []any{
			map[string]any{"TunnelIndex": 2, "TunnelBgpConfig": map[string]any{"TunnelCidr": "169.254.24.0/30", "LocalBgpIp": "169.254.24.1"}},
			map[string]any{"TunnelIndex": 1, "TunnelBgpConfig": map[string]any{"TunnelCidr": "169.254.23.0/30", "LocalBgpIp": "169.254.23.1"}}}})
	mustOK(t, "ModifyVpnAttachmentAttribute (EnableTunnelsBgp)", err)
	dd = describeDual(t, s, defaults)
	d1, d2 = tunnelsOf(t, "DescribeVpnConnection after EnableTunnelsBgp", dd)
	for i, tu := range []*descTunnel{d1, d2} {
		b := tu.TunnelBgpConfig
		cidr := fmt.Sprintf("169.254.%d.0/30", 23+i)
		if !dara.BoolValue(dd.EnableTunnelsBgp) || b == nil || sv(b.LocalAsn) != "45104" || sv(b.TunnelCidr) != cidr || sv(b.PeerAsn) != "65010" ||
			sv(b.LocalBgpIp) != fmt.Sprintf("169.254.%d.1", 23+i) || sv(b.PeerBgpIp) != fmt.Sprintf("169.254.%d.2", 23+i) {
			t.Errorf("tunnel %d after EnableTunnelsBgp (EnableTunnelsBgp %v): TunnelBgpConfig %s; want LocalAsn 45104, %s, PeerAsn 65010",
				i+1, dara.BoolValue(dd.EnableTunnelsBgp), dara.Prettify(b), cidr)
		}
	}

	// Attached without a zone: each tunnel gets its own gateway address in its own zone.
	cb := client(t, styleACS3, srv.Endpoint, acct)
	cen := createActiveCen(t, cb, uniq("dual"))
	tr := createActiveTR(t, cb, cen, regionHZ)
	aresp, err := s.c.CreateTransitRouterVpnAttachmentWithOptions(&cbn.CreateTransitRouterVpnAttachmentRequest{RegionId: sp(regionHZ), TransitRouterId: sp(tr),
		VpnId: sp(full)}, rtOpts())
	att := sv(must[*cbn.CreateTransitRouterVpnAttachmentResponse](t, "CreateTransitRouterVpnAttachment (no Zone)")(aresp, err).Body.TransitRouterAttachmentId)
	waitFor(t, "dual-tunnel attachment Attached", func() (bool, string, error) {
		resp, err := s.c.ListTransitRouterVpnAttachmentsWithOptions(&cbn.ListTransitRouterVpnAttachmentsRequest{TransitRouterAttachmentId: sp(att)}, rtOpts())
		if err != nil || len(resp.Body.TransitRouterAttachments) != 1 {
			return false, "<absent>", err
		}
		st := sv(resp.Body.TransitRouterAttachments[0].Status)
		return st == "Attached", st, nil
	})
	d = waitDualState(t, s, full, "attached")
	if sv(d.AttachType) != "CEN" || sv(d.TransitRouterId) != tr || sv(d.AttachInstanceId) != cen {
		t.Errorf("attached dual-tunnel connection: AttachType %q TransitRouterId %q AttachInstanceId %q; want CEN, %s, %s",
			sv(d.AttachType), sv(d.TransitRouterId), sv(d.AttachInstanceId), tr, cen)
	}
	t1, t2 = tunnelsOf(t, "DescribeVpnConnection after attach", d)
	ip1, ip2 := sv(t1.InternetIp), sv(t2.InternetIp)
	if !inPrefix(ip1, pubPool) || !inPrefix(ip2, pubPool) || ip1 == ip2 {
		t.Errorf("tunnel gateway addresses %q and %q; want two different addresses of %s", ip1, ip2, pubPool)
	}
	if z1, z2 := sv(t1.ZoneNo), sv(t2.ZoneNo); z1 != "cn-hangzhou-h" || z2 != "cn-hangzhou-i" {
		t.Errorf("tunnel zones %q and %q; want cn-hangzhou-h (the region's first zone) and cn-hangzhou-i (its second)", z1, z2)
	}
	// A tunnel without LocalId is identified by its own gateway address (the model's default).
	want1.LocalId = ip1
	viewOf(t1).compare(t, "tunnel 1 attached", want1)
	viewOf(t2).compare(t, "tunnel 2 attached", want2)

	vresp, err := s.v.DescribeVpnAttachmentsWithOptions(&vpc.DescribeVpnAttachmentsRequest{RegionId: sp(regionHZ), VpnConnectionId: sp(full)}, rtOpts())
	va := sdkOK[vpc.DescribeVpnAttachmentsResponseBody](t, s, "DescribeVpnAttachments", false, vresp, err)
	if len(va.VpnAttachments) != 1 || sv(va.VpnAttachments[0].InstanceId) != full || sv(va.VpnAttachments[0].AttachType) != "CEN" ||
		sv(va.VpnAttachments[0].TransitRouterId) != tr {
		t.Errorf("DescribeVpnAttachments(%s) = %s", full, dara.Prettify(va.VpnAttachments))
	}

	// DownloadVpnConnectionConfig: one TunnelConfig and one BgpConfig per tunnel, the
	// customer's side of each (local and remote swapped), exactly as the SDK models them.
	cresp, err := s.v.DownloadVpnConnectionConfigWithOptions(&vpc.DownloadVpnConnectionConfigRequest{RegionId: sp(regionHZ), VpnConnectionId: sp(full)}, rtOpts())
	cfg := sdkOK[vpc.DownloadVpnConnectionConfigResponseBody](t, s, "DownloadVpnConnectionConfig (dual)", true, cresp, err).VpnConnectionConfig
	checkDualConfig(t, cfg, []*descTunnel{t1, t2}, map[string]string{cgwA: ipA, cgwB: ipB})

	// Each tunnel's log: a tunnel's own events (its negotiation, written by the data plane,
	// which does not run here; the e2e tests read them), never the connection's (the attach)
	// nor the other tunnel's. Without TunnelId the connection's log has the attach.
	logs := func(tunnel string) (*vpc.DescribeVpnConnectionLogsResponseBody, error) {
		resp, err := s.v.DescribeVpnConnectionLogsWithOptions(&vpc.DescribeVpnConnectionLogsRequest{RegionId: sp(regionHZ), VpnConnectionId: sp(full),
			TunnelId: sp(tunnel), MinutePeriod: dara.Int32(10), PageSize: dara.Int32(50)}, rtOpts())
		if err != nil {
			return nil, err
		}
		return sdkOK[vpc.DescribeVpnConnectionLogsResponseBody](t, s, "DescribeVpnConnectionLogs "+tunnel, false, resp, err), nil
	}
	linesOf := func(l *vpc.DescribeVpnConnectionLogsResponseBody) []string {
		if l == nil || l.Data == nil {
			return nil
		}
		return dara.StringSliceValue(l.Data.Logs)
	}
	all, err := logs("")
	mustOK(t, "DescribeVpnConnectionLogs", err)
	var attachLines []string
	for _, line := range linesOf(all) {
		if strings.Contains(line, tr) {
			attachLines = append(attachLines, line)
		}
	}
	if len(attachLines) == 0 {
		t.Errorf("DescribeVpnConnectionLogs (the connection's) has no line about the attach to %s: %q", tr, linesOf(all))
	}
	for _, c := range []struct{ id, otherID, otherIP string }{{tid1, tid2, ip2}, {tid2, tid1, ip1}} {
		l, err := logs(c.id)
		if err != nil {
			t.Errorf("DescribeVpnConnectionLogs(TunnelId %s): %v", c.id, describeErr(err))
			continue
		}
		lines := linesOf(l)
		if dara.Int32Value(l.PageNumber) != 1 || int(dara.Int32Value(l.Count)) != len(lines) {
			t.Errorf("DescribeVpnConnectionLogs(TunnelId %s) = %s; want page 1 and Count the lines", c.id, dara.Prettify(l))
		}
		for _, line := range lines {
			if slices.Contains(attachLines, line) || strings.Contains(line, c.otherID) || strings.Contains(line, c.otherIP) {
				t.Errorf("DescribeVpnConnectionLogs(TunnelId %s) has a line of the connection or of the other tunnel (%s): %q", c.id, c.otherID, line)
			}
		}
	}
	_, err = logs("tun-doesnotexist1")
	expectAPIError(t, "DescribeVpnConnectionLogs with an unknown TunnelId", err, http.StatusNotFound, "InvalidTunnelId.NotFound")
	_, err = logs(sv(d1.TunnelId)) // a tunnel of another connection
	expectAPIError(t, "DescribeVpnConnectionLogs with another connection's TunnelId", err, http.StatusNotFound, "InvalidTunnelId.NotFound")

	// A change to an attached connection: updating, then attached; the tunnels follow.
	mresp, err = s.v.ModifyVpnAttachmentAttributeWithOptions(&vpc.ModifyVpnAttachmentAttributeRequest{RegionId: sp(regionHZ), VpnConnectionId: sp(full),
		TunnelOptionsSpecification: []*modTunnelOpt{{TunnelIndex: dara.Int32(1),
			TunnelIpsecConfig: &vpc.ModifyVpnAttachmentAttributeRequestTunnelOptionsSpecificationTunnelIpsecConfig{IpsecPfs: sp("group14")}}}}, rtOpts())
	must[*vpc.ModifyVpnAttachmentAttributeResponse](t, "ModifyVpnAttachmentAttribute (attached)")(mresp, err)
	d = waitDualState(t, s, full, "attached")
	want1.IpsecPfs = "group14"
	t1, t2 = tunnelsOf(t, "DescribeVpnConnection after an attached change", d)
	viewOf(t1).compare(t, "tunnel 1 after an attached change", want1)
	viewOf(t2).compare(t, "tunnel 2 after an attached change", want2)
	if sv(t1.InternetIp) != ip1 || sv(t2.InternetIp) != ip2 {
		t.Errorf("gateway addresses moved on modify: %s %s, were %s %s", sv(t1.InternetIp), sv(t2.InternetIp), ip1, ip2)
	}

	// Detach and delete: the tunnels give their addresses back.
	dresp, err := s.c.DeleteTransitRouterVpnAttachmentWithOptions(&cbn.DeleteTransitRouterVpnAttachmentRequest{TransitRouterAttachmentId: sp(att)}, rtOpts())
	must[*cbn.DeleteTransitRouterVpnAttachmentResponse](t, "DeleteTransitRouterVpnAttachment")(dresp, err)
	d = waitDualState(t, s, full, "init")
	for _, tu := range d.TunnelOptionsSpecification.TunnelOptions {
		if sv(tu.InternetIp) != "" || sv(tu.ZoneNo) != "" || sv(tu.State) != "active" {
			t.Errorf("detached tunnel %d: InternetIp %q ZoneNo %q State %q; want no address, no zone, active", dara.Int32Value(tu.TunnelIndex),
				sv(tu.InternetIp), sv(tu.ZoneNo), sv(tu.State))
		}
	}
	for _, id := range []string{full, defaults} {
		xresp, err := s.v.DeleteVpnAttachmentWithOptions(&vpc.DeleteVpnAttachmentRequest{RegionId: sp(regionHZ), VpnConnectionId: sp(id)}, rtOpts())
		must[*vpc.DeleteVpnAttachmentResponse](t, "DeleteVpnAttachment "+id)(xresp, err)
		_, err = s.v.DescribeVpnConnectionWithOptions(&vpc.DescribeVpnConnectionRequest{RegionId: sp(regionHZ), VpnConnectionId: sp(id)}, rtOpts())
		expectAPIError(t, "DescribeVpnConnection after delete", err, http.StatusNotFound, "InvalidVpnConnectionInstanceId.NotFound")
	}
	for _, g := range []string{cgwA, cgwB} {
		gresp, err := s.v.DeleteCustomerGatewayWithOptions(&vpc.DeleteCustomerGatewayRequest{RegionId: sp(regionHZ), CustomerGatewayId: sp(g)}, rtOpts())
		must[*vpc.DeleteCustomerGatewayResponse](t, "DeleteCustomerGateway "+g+" (no longer used)")(gresp, err)
	}
}

// modView is a ModifyVpnAttachmentAttribute answer's tunnel (booleans and integers) in the
// terms of tunView.
func modView(tu *modRespTunnel) tunView {
	str := func(b *bool) string {
		if b == nil {
			return ""
		}
		return strconv.FormatBool(*b)
	}
	num := func(n *int64) string {
		if n == nil {
			return ""
		}
		return strconv.FormatInt(*n, 10)
	}
	v := tunView{Index: dara.Int32Value(tu.TunnelIndex), Role: sv(tu.Role), Cgw: sv(tu.CustomerGatewayId), Dpd: str(tu.EnableDpd),
		Nat: str(tu.EnableNatTraversal), State: sv(tu.State), volatileId: sv(tu.TunnelId), volatileIp: sv(tu.InternetIp)}
	if k := tu.TunnelIkeConfig; k != nil {
		v.IkeVersion, v.IkeMode, v.IkeEncAlg, v.IkeAuthAlg, v.IkePfs = sv(k.IkeVersion), sv(k.IkeMode), sv(k.IkeEncAlg), sv(k.IkeAuthAlg), sv(k.IkePfs)
		v.IkeLifetime, v.LocalId, v.RemoteId, v.Psk = num(k.IkeLifetime), sv(k.LocalId), sv(k.RemoteId), sv(k.Psk)
	}
	if p := tu.TunnelIpsecConfig; p != nil {
		v.IpsecEncAlg, v.IpsecAuthAlg, v.IpsecPfs, v.IpsecLifetime = sv(p.IpsecEncAlg), sv(p.IpsecAuthAlg), sv(p.IpsecPfs), num(p.IpsecLifetime)
	}
	if b := tu.TunnelBgpConfig; b != nil {
		v.LocalAsn, v.LocalBgpIp, v.TunnelCidr, v.PeerAsn, v.PeerBgpIp = num(b.LocalAsn), sv(b.LocalBgpIp), sv(b.TunnelCidr), num(b.PeerAsn), sv(b.PeerBgpIp)
	}
	return v
}

// checkDualConfig checks DownloadVpnConnectionConfig of an attached dual-tunnel connection
// against its tunnels as DescribeVpnConnection showed them: per tunnel, Local is the
// customer gateway's address and Remote the tunnel's, IKE identities swapped, the same PSK
// and proposals; per BGP tunnel, the customer's ASN and address as local.
func checkDualConfig(t *testing.T, cfg *downloadConfig, tunnels []*descTunnel, cgwIPs map[string]string) {
	t.Helper()
	if cfg == nil || cfg.TunnelsConfig == nil || len(cfg.TunnelsConfig.TunnelConfig) != 2 || cfg.BgpConfigs == nil || len(cfg.BgpConfigs.BgpConfig) != 2 {
		t.Errorf("DownloadVpnConnectionConfig (dual) = %s; want TunnelsConfig.TunnelConfig and BgpConfigs.BgpConfig with two items each", dara.Prettify(cfg))
		return
	}
	if sv(cfg.LocalSubnet) != remSub || sv(cfg.RemoteSubnet) != localSub {
		t.Errorf("DownloadVpnConnectionConfig LocalSubnet/RemoteSubnet = %q/%q, want %q/%q (the customer's view)", sv(cfg.LocalSubnet), sv(cfg.RemoteSubnet), remSub, localSub)
	}
	for _, tu := range tunnels {
		id := sv(tu.TunnelId)
		var tc *vpc.DownloadVpnConnectionConfigResponseBodyVpnConnectionConfigTunnelsConfigTunnelConfig
		for _, c := range cfg.TunnelsConfig.TunnelConfig {
			if sv(c.TunnelId) == id {
				tc = c
			}
		}
		if tc == nil || tc.IkeConfig == nil || tc.IpsecConfig == nil {
			t.Errorf("DownloadVpnConnectionConfig has no full TunnelConfig for %s: %s", id, dara.Prettify(cfg.TunnelsConfig))
			continue
		}
		k, p := tu.TunnelIkeConfig, tu.TunnelIpsecConfig
		got := fmt.Sprintf("Local %s Remote %s IKE %s/%s/%s/%s/%s/%d LocalId %s RemoteId %s Psk %s IPsec %s/%s/%s/%d", sv(tc.Local), sv(tc.Remote),
			sv(tc.IkeConfig.IkeVersion), sv(tc.IkeConfig.IkeMode), sv(tc.IkeConfig.IkeEncAlg), sv(tc.IkeConfig.IkeAuthAlg), sv(tc.IkeConfig.IkePfs),
			dara.Int64Value(tc.IkeConfig.IkeLifetime), sv(tc.IkeConfig.LocalId), sv(tc.IkeConfig.RemoteId), sv(tc.IkeConfig.Psk),
			sv(tc.IpsecConfig.IpsecEncAlg), sv(tc.IpsecConfig.IpsecAuthAlg), sv(tc.IpsecConfig.IpsecPfs), dara.Int64Value(tc.IpsecConfig.IpsecLifetime))
		want := fmt.Sprintf("Local %s Remote %s IKE %s/%s/%s/%s/%s/%s LocalId %s RemoteId %s Psk %s IPsec %s/%s/%s/%s", cgwIPs[sv(tu.CustomerGatewayId)],
			sv(tu.InternetIp), sv(k.IkeVersion), sv(k.IkeMode), sv(k.IkeEncAlg), sv(k.IkeAuthAlg), sv(k.IkePfs), sv(k.IkeLifetime), sv(k.RemoteId),
			sv(k.LocalId), sv(k.Psk), sv(p.IpsecEncAlg), sv(p.IpsecAuthAlg), sv(p.IpsecPfs), sv(p.IpsecLifetime))
		if got != want {
			t.Errorf("DownloadVpnConnectionConfig TunnelConfig %s =\n  %s\nwant\n  %s", id, got, want)
		}
		var bc *vpc.DownloadVpnConnectionConfigResponseBodyVpnConnectionConfigBgpConfigsBgpConfig
		for _, c := range cfg.BgpConfigs.BgpConfig {
			if sv(c.TunnelId) == id {
				bc = c
			}
		}
		b := tu.TunnelBgpConfig
		if bc == nil || b == nil {
			t.Errorf("DownloadVpnConnectionConfig has no BgpConfig for tunnel %s: %s", id, dara.Prettify(cfg.BgpConfigs))
			continue
		}
		got = fmt.Sprintf("LocalAsn %s PeerAsn %s LocalBgpIp %s PeerBgpIp %s TunnelCidr %s", sv(bc.LocalAsn), sv(bc.PeerAsn), sv(bc.LocalBgpIp), sv(bc.PeerBgpIp), sv(bc.TunnelCidr))
		want = fmt.Sprintf("LocalAsn %s PeerAsn %s LocalBgpIp %s PeerBgpIp %s TunnelCidr %s", sv(b.PeerAsn), sv(b.LocalAsn), sv(b.PeerBgpIp), sv(b.LocalBgpIp), sv(b.TunnelCidr))
		if got != want {
			t.Errorf("DownloadVpnConnectionConfig BgpConfig %s = %s, want %s (the customer's side)", id, got, want)
		}
	}
}

// ==== refusals: each is a clear error and changes nothing ======================================

func TestDualTunnelRefusals(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	acct := srv.CreateAccount(t, "dual-refusals")
	s := newTypedSDK(t, srv.Endpoint, acct)
	cgw, cgw2 := createCgw(t, s, "198.18.7.1", "65010"), createCgw(t, s, "198.18.7.2", "65011")
	noAsn := createCgw(t, s, "198.18.7.3", "")

	tunnel := func(index int, gw string, extra map[string]any) map[string]any {
		m := map[string]any{"TunnelIndex": index, "CustomerGatewayId": gw}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	bgp := func(cidr, ip string) map[string]any {
		return map[string]any{"TunnelBgpConfig": map[string]any{"TunnelCidr": cidr, "LocalBgpIp": ip}}
	}
	create := func(top map[string]any, tunnels ...map[string]any) (string, error) {
		query := map[string]any{"RegionId": regionHZ, "LocalSubnet": "0.0.0.0/0", "RemoteSubnet": "0.0.0.0/0"}
		for k, v := range top {
			query[k] = v
		}
		list := make([]any, len(tunnels))
		for i, tu := range tunnels {
			list[i] = tu
		}
		out, err := callVpcGeneric(s, "CreateVpnAttachment", query, map[string]any{"TunnelOptionsSpecification": list})
		id, _ := out["VpnConnectionId"].(string)
		return id, err
	}
	withBgp := map[string]any{"EnableTunnelsBgp": true}
	good1, good2 := tunnel(1, cgw, bgp("169.254.31.0/30", "169.254.31.1")), tunnel(2, cgw2, bgp("169.254.32.0/30", "169.254.32.1"))
	vco, err := create(withBgp, good1, good2)
	mustOK(t, "CreateVpnAttachment (BGP)", err)
	plain, err := create(nil, tunnel(1, cgw, nil), tunnel(2, cgw, nil))
	mustOK(t, "CreateVpnAttachment", err)
	_, other := tunnelsOf(t, "the other connection", describeDual(t, s, plain))
	t1, t2 := tunnelsOf(t, "the connection", describeDual(t, s, vco))
	tid1 := sv(t1.TunnelId)
	if sv(t1.Role) != "master" || sv(t2.Role) != "slave" {
		t.Fatalf("roles %q/%q, want master/slave", sv(t1.Role), sv(t2.Role))
	}

	ike := func(k, v string) map[string]any { return map[string]any{"TunnelIkeConfig": map[string]any{k: v}} }
	for _, c := range []struct {
		what    string
		top     map[string]any
		tunnels []map[string]any
		status  int
		codes   []string
	}{
		{"one tunnel", nil, []map[string]any{tunnel(1, cgw, nil)}, 400, []string{"InvalidTunnelOptionsSpecification"}},
		{"three tunnels", nil, []map[string]any{tunnel(1, cgw, nil), tunnel(2, cgw, nil), tunnel(0, cgw, nil)}, 400, []string{"InvalidTunnelOptionsSpecification"}},
		{"equal BGP CIDRs", withBgp, []map[string]any{good1, tunnel(2, cgw2, bgp("169.254.31.0/30", "169.254.31.2"))}, 400,
			[]string{"InvalidTunnelOptionsSpecificationTunnelBgpConfigTunnelCidr"}},
		{"BGP without tunnel 2's CIDR", withBgp, []map[string]any{good1, tunnel(2, cgw2, nil)}, 400,
			[]string{"MissingTunnelOptionsSpecificationTunnelBgpConfigTunnelCidr"}},
		{"a reserved BGP CIDR", withBgp, []map[string]any{good1, tunnel(2, cgw2, bgp("169.254.1.0/30", "169.254.1.1"))}, 400,
			[]string{"InvalidTunnelOptionsSpecificationTunnelBgpConfigTunnelCidr"}},
		{"LocalAsn out of range", withBgp, []map[string]any{good1, tunnel(2, cgw2, map[string]any{"TunnelBgpConfig": map[string]any{
			"TunnelCidr": "169.254.32.0/30", "LocalBgpIp": "169.254.32.1", "LocalAsn": int64(4294967296)}})}, 400,
			[]string{"InvalidTunnelOptionsSpecificationTunnelBgpConfigLocalAsn"}},
		{"BGP with a customer gateway without ASN", withBgp, []map[string]any{good1, tunnel(2, noAsn, bgp("169.254.32.0/30", "169.254.32.1"))}, 400,
			[]string{"InvalidTunnelOptionsSpecificationCustomerGatewayId", "InvalidEnableTunnelsBgp"}},
		{"Role primary", nil, []map[string]any{tunnel(1, cgw, map[string]any{"Role": "primary"}), tunnel(2, cgw, nil)}, 400,
			[]string{"InvalidTunnelOptionsSpecificationRole"}},
		{"two masters", nil, []map[string]any{tunnel(1, cgw, nil), tunnel(2, cgw, map[string]any{"Role": "master"})}, 400,
			[]string{"InvalidTunnelOptionsSpecificationRole"}},
		{"TunnelIndex 3", nil, []map[string]any{tunnel(1, cgw, nil), tunnel(3, cgw, nil)}, 400, []string{"InvalidTunnelOptionsSpecificationTunnelIndex"}},
		{"TunnelIndex 1 twice", nil, []map[string]any{tunnel(1, cgw, nil), tunnel(1, cgw, nil)}, 400, []string{"InvalidTunnelOptionsSpecificationTunnelIndex"}},
		{"TunnelId on create", nil, []map[string]any{tunnel(1, cgw, map[string]any{"TunnelId": tid1}), tunnel(2, cgw, nil)}, 400,
			[]string{"InvalidTunnelOptionsSpecificationTunnelId"}},
		{"IkeVersion ikev3", nil, []map[string]any{tunnel(1, cgw, nil), tunnel(2, cgw, ike("IkeVersion", "ikev3"))}, 400,
			[]string{"InvalidTunnelOptionsSpecificationTunnelIkeConfigIkeVersion"}},
		{"a PSK with a space", nil, []map[string]any{tunnel(1, cgw, ike("Psk", "has space")), tunnel(2, cgw, nil)}, 400,
			[]string{"InvalidTunnelOptionsSpecificationTunnelIkeConfigPsk"}},
		{"IpsecPfs group99", nil, []map[string]any{tunnel(1, cgw, map[string]any{"TunnelIpsecConfig": map[string]any{"IpsecPfs": "group99"}}), tunnel(2, cgw, nil)},
			400, []string{"InvalidTunnelOptionsSpecificationTunnelIpsecConfigIpsecPfs"}},
		{"no customer gateway in tunnel 2", nil, []map[string]any{tunnel(1, cgw, nil), {"TunnelIndex": 2}}, 400,
			[]string{"MissingTunnelOptionsSpecificationCustomerGatewayId"}},
		{"an unknown customer gateway", nil, []map[string]any{tunnel(1, cgw, nil), tunnel(2, "cgw-doesnotexist00000000", nil)}, 404,
			[]string{"InvalidCustomerGatewayInstanceId.NotFound"}},
		{"a field a tunnel does not have", nil, []map[string]any{tunnel(1, cgw, map[string]any{"Weight": "100"}), tunnel(2, cgw, nil)}, 400,
			[]string{"InvalidTunnelOptionsSpecification"}},
		{"a connection-level IkeConfig", map[string]any{"IkeConfig": `{"IkeVersion":"ikev2"}`}, []map[string]any{tunnel(1, cgw, nil), tunnel(2, cgw, nil)}, 400,
			[]string{"InvalidIkeConfig"}},
		{"a connection-level BgpConfig", map[string]any{"BgpConfig": `{"EnableBgp":"true","TunnelCidr":"169.254.33.0/30","LocalBgpIp":"169.254.33.1"}`},
			[]map[string]any{tunnel(1, cgw, nil), tunnel(2, cgw, nil)}, 400, []string{"InvalidBgpConfig"}},
		{"a connection-level CustomerGatewayId", map[string]any{"CustomerGatewayId": cgw}, []map[string]any{tunnel(1, cgw, nil), tunnel(2, cgw, nil)}, 400,
			[]string{"InvalidCustomerGatewayId"}},
	} {
		_, err := create(c.top, c.tunnels...)
		e := expectAPIError(t, "CreateVpnAttachment with "+c.what, err, c.status, "")
		if e != nil && !slices.Contains(c.codes, e.Code) {
			t.Errorf("CreateVpnAttachment with %s: Code %s, want %s (%s)", c.what, e.Code, strings.Join(c.codes, " or "), e.Message)
		}
	}
	if n := vcoCount(t, s); n != 2 {
		t.Errorf("refused creates changed the connections: %d, want 2", n)
	}

	before := snapshot(t, s, vco)
	modify := func(query map[string]any, tunnels ...map[string]any) error {
		q := map[string]any{"RegionId": regionHZ, "VpnConnectionId": vco}
		for k, v := range query {
			q[k] = v
		}
		list := make([]any, len(tunnels))
		for i, tu := range tunnels {
			list[i] = tu
		}
		_, err := callVpcGeneric(s, "ModifyVpnAttachmentAttribute", q, map[string]any{"TunnelOptionsSpecification": list})
		return err
	}
	byID := func(id string, extra map[string]any) map[string]any {
		m := map[string]any{"TunnelId": id}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	for _, c := range []struct {
		what    string
		query   map[string]any
		tunnels []map[string]any
		status  int
		code    string
	}{
		{"an unknown TunnelId", nil, []map[string]any{byID("tun-doesnotexist1", ike("IkeEncAlg", "aes256"))}, 404, "InvalidTunnelId.NotFound"},
		{"another connection's TunnelId", nil, []map[string]any{byID(sv(other.TunnelId), ike("IkeEncAlg", "aes256"))}, 404, "InvalidTunnelId.NotFound"},
		{"three tunnels", nil, []map[string]any{byID(tid1, nil), byID(sv(t2.TunnelId), nil), {"TunnelIndex": 1}}, 400, "InvalidTunnelOptionsSpecification"},
		{"two masters", nil, []map[string]any{byID(sv(t2.TunnelId), map[string]any{"Role": "master", "TunnelIkeConfig": map[string]any{"IkeEncAlg": "aes256"}})}, 400,
			"InvalidTunnelOptionsSpecificationRole"},
		{"Role backup", nil, []map[string]any{byID(tid1, map[string]any{"Role": "backup"})}, 400, "InvalidTunnelOptionsSpecificationRole"},
		{"tunnel 2's CIDR made tunnel 1's", nil, []map[string]any{{"TunnelIndex": 2, "TunnelBgpConfig": map[string]any{"TunnelCidr": "169.254.31.0/30",
			"LocalBgpIp": "169.254.31.2"}, "TunnelIkeConfig": map[string]any{"IkeEncAlg": "aes256"}}}, 400, "InvalidTunnelOptionsSpecificationTunnelBgpConfigTunnelCidr"},
		{"TunnelIndex 3", nil, []map[string]any{{"TunnelIndex": 3, "TunnelIkeConfig": map[string]any{"IkeEncAlg": "aes256"}}}, 400,
			"InvalidTunnelOptionsSpecificationTunnelIndex"},
		{"IkeAuthAlg sha3", map[string]any{"Name": "renamed"}, []map[string]any{byID(tid1, ike("IkeAuthAlg", "sha3"))}, 400,
			"InvalidTunnelOptionsSpecificationTunnelIkeConfigIkeAuthAlg"},
	} {
		err := modify(c.query, c.tunnels...)
		expectAPIError(t, "ModifyVpnAttachmentAttribute with "+c.what, err, c.status, c.code)
		if after := snapshot(t, s, vco); after != before {
			t.Errorf("the refused ModifyVpnAttachmentAttribute with %s changed the connection:\nbefore %s\nafter  %s", c.what, before, after)
			before = after
		}
	}
	// Switching BGP on needs both CIDRs.
	plainBefore := snapshot(t, s, plain)
	_, err = callVpcGeneric(s, "ModifyVpnAttachmentAttribute", map[string]any{"RegionId": regionHZ, "VpnConnectionId": plain, "EnableTunnelsBgp": true},
		map[string]any{"TunnelOptionsSpecification": []any{map[string]any{"TunnelIndex": 1, "TunnelBgpConfig": map[string]any{"TunnelCidr": "169.254.34.0/30",
			"LocalBgpIp": "169.254.34.1"}}}})
	expectAPIError(t, "EnableTunnelsBgp with one tunnel's CIDR", err, 400, "MissingTunnelOptionsSpecificationTunnelBgpConfigTunnelCidr")
	if after := snapshot(t, s, plain); after != plainBefore {
		t.Errorf("the refused EnableTunnelsBgp changed the connection:\nbefore %s\nafter  %s", plainBefore, after)
	}
	// A customer gateway a tunnel uses stays.
	_, err = s.v.DeleteCustomerGatewayWithOptions(&vpc.DeleteCustomerGatewayRequest{RegionId: sp(regionHZ), CustomerGatewayId: sp(cgw2)}, rtOpts())
	expectAPIError(t, "DeleteCustomerGateway used by tunnel 2 only", err, 400, "DependencyViolation.VpnConnection")
}

// ==== the aliyun CLI's form: one JSON string ===================================================

func TestDualTunnelCLIForm(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	acct := srv.CreateAccount(t, "dual-cli")
	s := newTypedSDK(t, srv.Endpoint, acct)
	cgw := createCgw(t, s, "198.18.8.1", "65030")
	count := func() int32 { return vcoCount(t, s) }

	// As `aliyun vpc CreateVpnAttachment --TunnelOptionsSpecification '[...]'` sends it: the
	// array as one JSON form field (native JSON values), the rest in the query.
	first := `{"CustomerGatewayId":"` + cgw + `","TunnelIndex":1,"Role":"slave","EnableDpd":false,"EnableNatTraversal":true,` +
		`"TunnelIkeConfig":{"Psk":"cli-k1","IkeVersion":"ikev1","IkeLifetime":3600,"LocalId":"a.example","RemoteId":"b.example"},` +
		`"TunnelIpsecConfig":{"IpsecPfs":"group5","IpsecLifetime":1800},"TunnelBgpConfig":{"LocalAsn":65200,"TunnelCidr":"169.254.41.0/30","LocalBgpIp":"169.254.41.1"}}`
	second := `{"CustomerGatewayId":"` + cgw + `","TunnelIndex":2,"Role":"master","TunnelBgpConfig":{"TunnelCidr":"169.254.42.0/30","LocalBgpIp":"169.254.42.1"}}`
	tunnels := "[" + first + "," + second + "]"
	query := map[string]string{"RegionId": regionHZ, "LocalSubnet": "0.0.0.0/0", "RemoteSubnet": "0.0.0.0/0", "EnableTunnelsBgp": "true", "Name": "cli-dual"}
	out, err := commonVpc(t, srv, acct, "CreateVpnAttachment", query, map[string]string{"TunnelOptionsSpecification": tunnels})
	if err != nil {
		t.Fatalf("CreateVpnAttachment with the CLI's JSON TunnelOptionsSpecification: %v", describeErr(err))
	}
	vco, _ := out["VpnConnectionId"].(string)
	d := describeDual(t, s, vco)
	t1, t2 := tunnelsOf(t, "the CLI's connection", d)
	v1, v2 := viewOf(t1), viewOf(t2)
	v1.compare(t, "tunnel 1 from the CLI", tunView{Index: 1, Role: "slave", Cgw: cgw, Dpd: "false", Nat: "true", State: "active",
		Status: "ike_sa_not_established", IkeVersion: "ikev1", IkeMode: "main", IkeEncAlg: "aes", IkeAuthAlg: "sha1", IkePfs: "group2", IkeLifetime: "3600",
		LocalId: "a.example", RemoteId: "b.example", Psk: "cli-k1", IpsecEncAlg: "aes", IpsecAuthAlg: "sha1", IpsecPfs: "group5", IpsecLifetime: "1800",
		LocalAsn: "65200", LocalBgpIp: "169.254.41.1", TunnelCidr: "169.254.41.0/30", PeerAsn: "65030", PeerBgpIp: "169.254.41.2"})
	if v2.Role != "master" || v2.TunnelCidr != "169.254.42.0/30" || v2.LocalAsn != "45104" || !pskRE.MatchString(v2.Psk) || !dara.BoolValue(d.EnableTunnelsBgp) {
		t.Errorf("tunnel 2 from the CLI: %+v (EnableTunnelsBgp %v); want master, 169.254.42.0/30, LocalAsn 45104, a generated PSK", v2, dara.BoolValue(d.EnableTunnelsBgp))
	}

	// A change in the same form, by TunnelId; the PSK takes both quotes (the SDK model lists
	// ", the CLI's metadata ').
	mod := `[{"TunnelId":"` + sv(t2.TunnelId) + `","TunnelIkeConfig":{"Psk":"it's\"q"}}]`
	if _, err := commonVpc(t, srv, acct, "ModifyVpnAttachmentAttribute", map[string]string{"RegionId": regionHZ, "VpnConnectionId": vco},
		map[string]string{"TunnelOptionsSpecification": mod}); err != nil {
		t.Fatalf("ModifyVpnAttachmentAttribute with the CLI's JSON TunnelOptionsSpecification: %v", describeErr(err))
	}
	n1, n2 := tunnelsOf(t, "after the CLI's change", describeDual(t, s, vco))
	if got := sv(n2.TunnelIkeConfig.Psk); got != `it's"q` {
		t.Errorf("tunnel 2 Psk = %q, want %q", got, `it's"q`)
	}
	viewOf(n1).compare(t, "tunnel 1 after changing tunnel 2", v1)

	before := snapshot(t, s, vco)
	_, err = commonVpc(t, srv, acct, "CreateVpnAttachment", query, map[string]string{"TunnelOptionsSpecification": "[{"})
	expectAPIError(t, "CreateVpnAttachment with bad JSON", err, 400, "InvalidTunnelOptionsSpecification")
	both := map[string]string{"TunnelOptionsSpecification": tunnels, "TunnelOptionsSpecification.1.CustomerGatewayId": cgw,
		"TunnelOptionsSpecification.2.CustomerGatewayId": cgw}
	_, err = commonVpc(t, srv, acct, "CreateVpnAttachment", query, both)
	expectAPIError(t, "CreateVpnAttachment with both forms at once", err, 400, "InvalidTunnelOptionsSpecification")
	_, err = commonVpc(t, srv, acct, "CreateVpnAttachment", query, map[string]string{"TunnelOptionsSpecification": "[" + first + "]"})
	expectAPIError(t, "CreateVpnAttachment with one tunnel (JSON)", err, 400, "InvalidTunnelOptionsSpecification")
	_, err = commonVpc(t, srv, acct, "ModifyVpnAttachmentAttribute", map[string]string{"RegionId": regionHZ, "VpnConnectionId": vco},
		map[string]string{"TunnelOptionsSpecification": `[{"TunnelId":"tun-doesnotexist1","Role":"master"}]`})
	expectAPIError(t, "ModifyVpnAttachmentAttribute with an unknown TunnelId (JSON)", err, 404, "InvalidTunnelId.NotFound")
	if n := count(); n != 1 {
		t.Errorf("refused requests left %d connections, want 1", n)
	}
	if after := snapshot(t, s, vco); after != before {
		t.Errorf("refused requests changed the connection:\nbefore %s\nafter  %s", before, after)
	}
}
