package contract

// Adapters for the IPsec-VPN part of the contract: the Vpc 2016-04-28 customer-gateway and
// VPN-attachment actions and the Cbn 2017-09-12 transit-router VPN attachment, grant and
// route-map actions, one per client style:
//
//   (a) vpc-20160428/v7 v7.0.0 + cbn-20170912/v2, default ACS3-HMAC-SHA256 signing
//   (b) the same SDKs with SignatureAlgorithm "v2" (HMAC-SHA1 RPC)
//   (c) tea-rpc v1.2.0 with everything in the form body, as terraform-provider-alicloud's
//       RpcPost does (route maps through alibaba-cloud-sdk-go, as terraform does)
//   (d) aliyun/alibaba-cloud-sdk-go services/vpc + services/cbn (aliyun CLI core)
//
// Results are converted into the neutral types below. Their Go field types are the types
// the vpc-20160428/v7 SDK declares (EnableBgp string, LocalAsn int64, Interval int32, ...):
// the typed SDKs decode the response into their own models first (and the neutral value is
// a JSON copy of that model); the tea-rpc adapter decodes the raw generic map with
// encoding/json straight into the neutral types, so a wrong JSON type fails there, and it
// checks the exact-case keys terraform navigates.

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	cbn "github.com/alibabacloud-go/cbn-20170912/v2/client"
	rpc "github.com/alibabacloud-go/tea-rpc/client"
	teautil "github.com/alibabacloud-go/tea-utils/service"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/alibabacloud-go/tea/tea"
	vpc "github.com/alibabacloud-go/vpc-20160428/v7/client"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	oldcbn "github.com/aliyun/alibaba-cloud-sdk-go/services/cbn"
	oldvpc "github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
)

const (
	vpcVersion = "2016-04-28"
	cbnVersion = "2017-09-12"
)

// vpnStyles are the client styles the VPN contract runs through.
var vpnStyles = []string{styleACS3, styleTeaV2, styleTeaRPC, styleSDKGo}

// ---- neutral inputs --------------------------------------------------------------------------

type CgwIn struct {
	RegionId, IpAddress, Asn, AuthKey, Name, Description, ClientToken string
	Tags                                                              []Tag
}

// IkeIn / IpsecIn / BgpIn / HCIn are the JSON-string parameters; zero fields are omitted.
type IkeIn struct {
	Psk, IkeVersion, IkeMode, IkeEncAlg, IkeAuthAlg, IkePfs, LocalId, RemoteId string
	IkeLifetime                                                                int64
}

type IpsecIn struct {
	IpsecEncAlg, IpsecAuthAlg, IpsecPfs string
	IpsecLifetime                       int64
}

type BgpIn struct {
	EnableBgp                        bool
	LocalAsn, TunnelCidr, LocalBgpIp string // LocalAsn may be asdot "123.456"
}

type HCIn struct {
	Enable          bool
	Dip, Sip        string
	Interval, Retry int
	Policy          string
}

// VcoIn is CreateVpnAttachment's and ModifyVpnAttachmentAttribute's request.
type VcoIn struct {
	RegionId, VpnConnectionId, CustomerGatewayId, Name, NetworkType string
	LocalSubnet, RemoteSubnet, ClientToken                          string
	EffectImmediately, EnableDpd, EnableNatTraversal                *bool
	Ike                                                             *IkeIn
	Ipsec                                                           *IpsecIn
	Bgp                                                             *BgpIn
	HC                                                              *HCIn
	Tags                                                            []Tag
}

type TRVpnAttIn struct {
	RegionId, TransitRouterId, CenId, VpnId, Name, Description, ClientToken string
	VpnOwnerId                                                              int64
	AutoPublishRouteEnabled                                                 *bool
	Zones                                                                   []string
	Tags                                                                    []Tag
}

type ListTRVpnAttIn struct{ RegionId, CenId, TransitRouterId, TransitRouterAttachmentId string }

type UpdTRVpnAttIn struct {
	TransitRouterAttachmentId, Name, Description string
	AutoPublishRouteEnabled                      *bool
}

type GrantIn struct {
	CenId                                         string
	CenOwnerId                                    int64
	InstanceId, InstanceType, RegionId, OrderType string
}

// ---- neutral outputs (field types as vpc-20160428/v7 / cbn-20170912/v2 declare them) ---------

type TagWrap struct{ Tag []Tag }

type Cgw struct {
	CustomerGatewayId, Name, Description, IpAddress, AuthKey, ResourceGroupId string
	Asn, CreateTime                                                           int64
	Tags                                                                      TagWrap
}

type VcoIke struct {
	IkeVersion, IkeMode, IkeEncAlg, IkeAuthAlg, IkePfs string
	IkeLifetime                                        int64
	LocalId, RemoteId, Psk                             string
}

type VcoIpsec struct {
	IpsecEncAlg, IpsecAuthAlg, IpsecPfs string
	IpsecLifetime                       int64
}

type VcoHC struct {
	Enable, Dip, Sip, Policy, Status string
	Interval, Retry                  int32
}

type VcoBgp struct {
	EnableBgp                         string
	LocalAsn, PeerAsn                 int64
	LocalBgpIp, PeerBgpIp, TunnelCidr string
	AuthKey, Status                   string
}

// Vco is a DescribeVpnConnection answer, or a DescribeVpnConnections item (tags under Tag).
type Vco struct {
	VpnConnectionId, Name, CustomerGatewayId, VpnGatewayId             string
	CreateTime                                                         int64
	LocalSubnet, RemoteSubnet, NetworkType                             string
	EffectImmediately, EnableDpd, EnableNatTraversal, EnableTunnelsBgp bool
	CrossAccountAuthorized                                             bool
	TunnelBandwidth, InternetIp, ZoneNo, Spec, ResourceGroupId         string
	RemoteCaCertificate, Status, State, AttachType, AttachInstanceId   string
	TransitRouterId, TransitRouterName                                 string
	IkeConfig                                                          VcoIke
	IpsecConfig                                                        VcoIpsec
	VcoHealthCheck                                                     VcoHC
	VpnBgpConfig                                                       VcoBgp
	Tags                                                               TagWrap // DescribeVpnConnection
	Tag                                                                TagWrap // DescribeVpnConnections items
	TunnelOptionsSpecification                                         struct{ TunnelOptions []json.RawMessage }
}

type VcoCreated struct {
	VpnConnectionId, Name, Code, Message string
	CreateTime                           int64
	Success                              bool
}

type VcoModified struct {
	VpnConnectionId, Name, Description, CustomerGatewayId, VpnGatewayId string
	CreateTime                                                          int64
	LocalSubnet, RemoteSubnet, NetworkType, Spec, Status                string
	ResourceGroupId, AttachType, AttachInstanceId                       string
	EffectImmediately, EnableDpd, EnableNatTraversal, EnableTunnelsBgp  bool
	IkeConfig                                                           VcoIke
	IpsecConfig                                                         VcoIpsec
	VcoHealthCheck                                                      VcoHC
	VpnBgpConfig                                                        VcoBgp
	TunnelOptionsSpecification                                          []json.RawMessage
}

type VcoDeleted struct {
	Code, Message string
	Success       bool
}

type VpnAtt struct {
	InstanceId, Name, Description, AttachType, TransitRouterId, TransitRouterName string
	TunnelBandwidth, Tag                                                          string
	CrossAccountAuthorized                                                        bool
	Tags                                                                          []Tag
}

type VcoBgpConfigItem struct{ TunnelId, LocalAsn, LocalBgpIp, PeerAsn, PeerBgpIp, TunnelCidr string }

type VcoConfig struct {
	Local, Remote, LocalSubnet, RemoteSubnet string
	IkeConfig                                VcoIke
	IpsecConfig                              VcoIpsec
	BgpConfigs                               struct{ BgpConfig []VcoBgpConfigItem }
	TunnelsConfig                            struct{ TunnelConfig []json.RawMessage }
}

type VcoLogs struct {
	Count, PageNumber, PageSize int32
	IsCompleted                 bool
	Data                        struct{ Logs []string }
}

type TRVpnAtt struct {
	TransitRouterAttachmentId, TransitRouterAttachmentName, TransitRouterAttachmentDescription string
	TransitRouterId, CenId, VpnId, VpnRegionId, ResourceType, ChargeType, OrderType            string
	Status, CreationTime                                                                       string
	VpnOwnerId                                                                                 int64
	AutoPublishRouteEnabled                                                                    bool
	Tags                                                                                       []Tag
	Zones                                                                                      []struct{ ZoneId string }
}

type GrantRule struct {
	CenId                                     string
	CenOwnerId                                int64
	CreateTime, OrderType, EffectiveOrderType string
}

type RouteMap struct {
	RouteMapId, CenId, CenRegionId, TransitRouterRouteTableId, TransmitDirection string
	MapResult, Description, Status                                               string
	Priority                                                                     int32
	SourceChildInstanceTypes                                                     struct{ SourceChildInstanceType []string }
	DestinationChildInstanceTypes                                                struct{ DestinationChildInstanceType []string }
}

// vpnAPI is the VPN part of Vpc 2016-04-28 and Cbn 2017-09-12 (tags of Cbn resources go
// through cbnAPI).
type vpnAPI interface {
	Style() string
	// Vpc
	CreateCustomerGateway(CgwIn) (Cgw, error)
	DescribeCustomerGateway(region, id string) (Cgw, error)
	DescribeCustomerGateways(region, id string) ([]Cgw, Page, error)
	DeleteCustomerGateway(region, id string) error
	CreateVpnAttachment(VcoIn) (VcoCreated, error)
	ModifyVpnAttachmentAttribute(VcoIn) (VcoModified, error)
	DescribeVpnConnection(region, id string) (Vco, error)
	DescribeVpnConnections(region, id string) ([]Vco, Page, error)
	DescribeVpnAttachments(region, id string) ([]VpnAtt, Page, error)
	DeleteVpnAttachment(region, id string) (VcoDeleted, error)
	DownloadVpnConnectionConfig(region, id string) (VcoConfig, error)
	DescribeVpnConnectionLogs(region, id string, minutes int) (VcoLogs, error)
	VpcTagResources(TagIn) error
	VpcUnTagResources(UntagIn) error
	VpcListTagResources(ListTagIn) ([]TagResource, error)
	// Cbn
	CreateTransitRouterVpnAttachment(TRVpnAttIn) (string, error)
	ListTransitRouterVpnAttachments(ListTRVpnAttIn) ([]TRVpnAtt, error)
	UpdateTransitRouterVpnAttachmentAttribute(UpdTRVpnAttIn) error
	DeleteTransitRouterVpnAttachment(id string) error
	GrantInstanceToTransitRouter(GrantIn) error
	RevokeInstanceFromTransitRouter(GrantIn) error
	DescribeGrantRulesToResource(productType, resourceID, region string) ([]GrantRule, error)
	DescribeCenRouteMaps(cenID, region string) ([]RouteMap, error)
}

func newVpnClient(style, endpoint, ak, sk string) (vpnAPI, error) {
	switch style {
	case styleACS3, styleTeaV2:
		v, err := vpc.NewClient(daraConfig(style, endpoint, ak, sk))
		if err != nil {
			return nil, err
		}
		c, err := cbn.NewClient(daraConfig(style, endpoint, ak, sk))
		if err != nil {
			return nil, err
		}
		return &daraVpn{style: style, v: v, c: c}, nil
	case styleTeaRPC:
		c, err := rpc.NewClient(teaRPCConfig(endpoint, ak, sk))
		if err != nil {
			return nil, err
		}
		old, err := oldcbn.NewClientWithOptions(regionHZ, sdkGoConfig(), credentials.NewAccessKeyCredential(ak, sk))
		if err != nil {
			return nil, err
		}
		return &tfVpn{c: c, old: old, endpoint: endpoint}, nil
	case styleSDKGo:
		v, err := oldvpc.NewClientWithOptions(regionHZ, sdkGoConfig(), credentials.NewAccessKeyCredential(ak, sk))
		if err != nil {
			return nil, err
		}
		c, err := oldcbn.NewClientWithOptions(regionHZ, sdkGoConfig(), credentials.NewAccessKeyCredential(ak, sk))
		if err != nil {
			return nil, err
		}
		return &oldVpn{v: v, c: c, endpoint: endpoint}, nil
	}
	return nil, fmt.Errorf("unknown client style %q", style)
}

// viaJSON copies an SDK model into a neutral value through its JSON form (the SDK models'
// json tags are the wire names).
func viaJSON(what string, src, dst any) error {
	b, err := json.Marshal(src)
	if err != nil {
		return fmt.Errorf("%s: marshal SDK model: %v", what, err)
	}
	if err := json.Unmarshal(b, dst); err != nil {
		return fmt.Errorf("%s: SDK model does not fit the neutral type: %v\n%s", what, err, b)
	}
	return nil
}

// ---- JSON-string parameters ------------------------------------------------------------------
//
// SDK callers (styles a, b, d) follow Alibaba's documented examples: string values
// ({"EnableBgp":"true","LocalAsn":"45104"}), health-check keys in lower case with "Policy".
// Terraform marshals native values: {"EnableBgp":true,"LocalAsn":45104}, "IkeLifetime":86400,
// health-check keys enable,dip,sip,interval,retry,Policy on create and Enable,Dip,Sip,
// Interval,Retry,Policy on update. Empty fields are omitted.

func jsonParam(m map[string]any) string {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func putStr(m map[string]any, k, v string) {
	if v != "" {
		m[k] = v
	}
}

func ikeJSON(in *IkeIn) string {
	if in == nil {
		return ""
	}
	m := map[string]any{}
	putStr(m, "Psk", in.Psk)
	putStr(m, "IkeVersion", in.IkeVersion)
	putStr(m, "IkeMode", in.IkeMode)
	putStr(m, "IkeEncAlg", in.IkeEncAlg)
	putStr(m, "IkeAuthAlg", in.IkeAuthAlg)
	putStr(m, "IkePfs", in.IkePfs)
	putStr(m, "LocalId", in.LocalId)
	putStr(m, "RemoteId", in.RemoteId)
	if in.IkeLifetime != 0 {
		m["IkeLifetime"] = in.IkeLifetime
	}
	return jsonParam(m)
}

func ipsecJSON(in *IpsecIn) string {
	if in == nil {
		return ""
	}
	m := map[string]any{}
	putStr(m, "IpsecEncAlg", in.IpsecEncAlg)
	putStr(m, "IpsecAuthAlg", in.IpsecAuthAlg)
	putStr(m, "IpsecPfs", in.IpsecPfs)
	if in.IpsecLifetime != 0 {
		m["IpsecLifetime"] = in.IpsecLifetime
	}
	return jsonParam(m)
}

// asnNumber turns "123.456" into 8061384 (terraform's local_asn is an integer).
func asnNumber(s string) int64 {
	if hi, lo, ok := strings.Cut(s, "."); ok {
		h, _ := strconv.ParseInt(hi, 10, 64)
		l, _ := strconv.ParseInt(lo, 10, 64)
		return h*65536 + l
	}
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

func bgpJSON(in *BgpIn, native bool) string {
	if in == nil {
		return ""
	}
	m := map[string]any{}
	if native {
		m["EnableBgp"] = in.EnableBgp
		if in.LocalAsn != "" {
			m["LocalAsn"] = asnNumber(in.LocalAsn)
		}
	} else {
		m["EnableBgp"] = strconv.FormatBool(in.EnableBgp)
		putStr(m, "LocalAsn", in.LocalAsn)
	}
	putStr(m, "TunnelCidr", in.TunnelCidr)
	putStr(m, "LocalBgpIp", in.LocalBgpIp)
	return jsonParam(m)
}

// hcJSON renders HealthCheckConfig: native=false is the SDK/doc form (lower-case keys, string
// values); native=true with upper=false is terraform's create, upper=true terraform's update.
func hcJSON(in *HCIn, native, upper bool) string {
	if in == nil {
		return ""
	}
	key := func(k string) string {
		if upper {
			return strings.ToUpper(k[:1]) + k[1:]
		}
		return k
	}
	m := map[string]any{}
	if native {
		m[key("enable")] = in.Enable
		if in.Interval != 0 {
			m[key("interval")] = in.Interval
		}
		if in.Retry != 0 {
			m[key("retry")] = in.Retry
		}
	} else {
		m[key("enable")] = strconv.FormatBool(in.Enable)
		if in.Interval != 0 {
			m[key("interval")] = strconv.Itoa(in.Interval)
		}
		if in.Retry != 0 {
			m[key("retry")] = strconv.Itoa(in.Retry)
		}
	}
	putStr(m, key("dip"), in.Dip)
	putStr(m, key("sip"), in.Sip)
	putStr(m, "Policy", in.Policy)
	return jsonParam(m)
}

// ---- (a)/(b) vpc-20160428/v7 + cbn-20170912/v2 on darabonba-openapi ----------------------------

type daraVpn struct {
	style string
	v     *vpc.Client
	c     *cbn.Client
}

func (a *daraVpn) Style() string { return a.style }

func (a *daraVpn) rt() *dara.RuntimeOptions { return &dara.RuntimeOptions{} }

func bp(b *bool) *bool {
	if b == nil {
		return nil
	}
	return dara.Bool(*b)
}

func (a *daraVpn) CreateCustomerGateway(in CgwIn) (Cgw, error) {
	req := &vpc.CreateCustomerGatewayRequest{RegionId: sp(in.RegionId), IpAddress: sp(in.IpAddress), Asn: sp(in.Asn), AuthKey: sp(in.AuthKey),
		Name: sp(in.Name), Description: sp(in.Description), ClientToken: sp(in.ClientToken)}
	for _, t := range in.Tags {
		req.Tags = append(req.Tags, &vpc.CreateCustomerGatewayRequestTags{Key: dara.String(t.Key), Value: dara.String(t.Value)})
	}
	resp, err := a.v.CreateCustomerGatewayWithOptions(req, a.rt())
	if err != nil {
		return Cgw{}, err
	}
	var out Cgw
	return out, viaJSON("CreateCustomerGateway", resp.Body, &out)
}

func (a *daraVpn) DescribeCustomerGateway(region, id string) (Cgw, error) {
	resp, err := a.v.DescribeCustomerGatewayWithOptions(&vpc.DescribeCustomerGatewayRequest{RegionId: sp(region), CustomerGatewayId: sp(id)}, a.rt())
	if err != nil {
		return Cgw{}, err
	}
	var out Cgw
	return out, viaJSON("DescribeCustomerGateway", resp.Body, &out)
}

func (a *daraVpn) DescribeCustomerGateways(region, id string) ([]Cgw, Page, error) {
	resp, err := a.v.DescribeCustomerGatewaysWithOptions(&vpc.DescribeCustomerGatewaysRequest{RegionId: sp(region), CustomerGatewayId: sp(id)}, a.rt())
	if err != nil {
		return nil, Page{}, err
	}
	b := resp.Body
	page := Page{int(dara.Int32Value(b.PageNumber)), int(dara.Int32Value(b.PageSize)), int(dara.Int32Value(b.TotalCount))}
	var out []Cgw
	if b.CustomerGateways != nil {
		if err := viaJSON("DescribeCustomerGateways", b.CustomerGateways.CustomerGateway, &out); err != nil {
			return nil, page, err
		}
	}
	return out, page, nil
}

func (a *daraVpn) DeleteCustomerGateway(region, id string) error {
	_, err := a.v.DeleteCustomerGatewayWithOptions(&vpc.DeleteCustomerGatewayRequest{RegionId: sp(region), CustomerGatewayId: sp(id)}, a.rt())
	return err
}

func (a *daraVpn) CreateVpnAttachment(in VcoIn) (VcoCreated, error) {
	req := &vpc.CreateVpnAttachmentRequest{RegionId: sp(in.RegionId), CustomerGatewayId: sp(in.CustomerGatewayId), Name: sp(in.Name),
		NetworkType: sp(in.NetworkType), LocalSubnet: sp(in.LocalSubnet), RemoteSubnet: sp(in.RemoteSubnet), ClientToken: sp(in.ClientToken),
		EffectImmediately: bp(in.EffectImmediately), EnableDpd: bp(in.EnableDpd), EnableNatTraversal: bp(in.EnableNatTraversal),
		IkeConfig: sp(ikeJSON(in.Ike)), IpsecConfig: sp(ipsecJSON(in.Ipsec)), BgpConfig: sp(bgpJSON(in.Bgp, false)),
		HealthCheckConfig: sp(hcJSON(in.HC, false, false))}
	for _, t := range in.Tags {
		req.Tags = append(req.Tags, &vpc.CreateVpnAttachmentRequestTags{Key: dara.String(t.Key), Value: dara.String(t.Value)})
	}
	resp, err := a.v.CreateVpnAttachmentWithOptions(req, a.rt())
	if err != nil {
		return VcoCreated{}, err
	}
	var out VcoCreated
	return out, viaJSON("CreateVpnAttachment", resp.Body, &out)
}

func (a *daraVpn) ModifyVpnAttachmentAttribute(in VcoIn) (VcoModified, error) {
	req := &vpc.ModifyVpnAttachmentAttributeRequest{RegionId: sp(in.RegionId), VpnConnectionId: sp(in.VpnConnectionId),
		CustomerGatewayId: sp(in.CustomerGatewayId), Name: sp(in.Name), LocalSubnet: sp(in.LocalSubnet), RemoteSubnet: sp(in.RemoteSubnet),
		ClientToken: sp(in.ClientToken), EffectImmediately: bp(in.EffectImmediately), EnableDpd: bp(in.EnableDpd),
		EnableNatTraversal: bp(in.EnableNatTraversal), IkeConfig: sp(ikeJSON(in.Ike)), IpsecConfig: sp(ipsecJSON(in.Ipsec)),
		BgpConfig: sp(bgpJSON(in.Bgp, false)), HealthCheckConfig: sp(hcJSON(in.HC, false, false))}
	resp, err := a.v.ModifyVpnAttachmentAttributeWithOptions(req, a.rt())
	if err != nil {
		return VcoModified{}, err
	}
	var out VcoModified
	return out, viaJSON("ModifyVpnAttachmentAttribute", resp.Body, &out)
}

func (a *daraVpn) DescribeVpnConnection(region, id string) (Vco, error) {
	resp, err := a.v.DescribeVpnConnectionWithOptions(&vpc.DescribeVpnConnectionRequest{RegionId: sp(region), VpnConnectionId: sp(id)}, a.rt())
	if err != nil {
		return Vco{}, err
	}
	var out Vco
	return out, viaJSON("DescribeVpnConnection", resp.Body, &out)
}

func (a *daraVpn) DescribeVpnConnections(region, id string) ([]Vco, Page, error) {
	resp, err := a.v.DescribeVpnConnectionsWithOptions(&vpc.DescribeVpnConnectionsRequest{RegionId: sp(region), VpnConnectionId: sp(id)}, a.rt())
	if err != nil {
		return nil, Page{}, err
	}
	b := resp.Body
	page := Page{int(dara.Int32Value(b.PageNumber)), int(dara.Int32Value(b.PageSize)), int(dara.Int32Value(b.TotalCount))}
	var out []Vco
	if b.VpnConnections != nil {
		if err := viaJSON("DescribeVpnConnections", b.VpnConnections.VpnConnection, &out); err != nil {
			return nil, page, err
		}
	}
	return out, page, nil
}

func (a *daraVpn) DescribeVpnAttachments(region, id string) ([]VpnAtt, Page, error) {
	resp, err := a.v.DescribeVpnAttachmentsWithOptions(&vpc.DescribeVpnAttachmentsRequest{RegionId: sp(region), VpnConnectionId: sp(id)}, a.rt())
	if err != nil {
		return nil, Page{}, err
	}
	b := resp.Body
	page := Page{int(dara.Int32Value(b.PageNumber)), int(dara.Int32Value(b.PageSize)), int(dara.Int32Value(b.TotalCount))}
	var out []VpnAtt
	return out, page, viaJSON("DescribeVpnAttachments", b.VpnAttachments, &out)
}

func (a *daraVpn) DeleteVpnAttachment(region, id string) (VcoDeleted, error) {
	resp, err := a.v.DeleteVpnAttachmentWithOptions(&vpc.DeleteVpnAttachmentRequest{RegionId: sp(region), VpnConnectionId: sp(id)}, a.rt())
	if err != nil {
		return VcoDeleted{}, err
	}
	var out VcoDeleted
	return out, viaJSON("DeleteVpnAttachment", resp.Body, &out)
}

func (a *daraVpn) DownloadVpnConnectionConfig(region, id string) (VcoConfig, error) {
	resp, err := a.v.DownloadVpnConnectionConfigWithOptions(&vpc.DownloadVpnConnectionConfigRequest{RegionId: sp(region), VpnConnectionId: sp(id)}, a.rt())
	if err != nil {
		return VcoConfig{}, err
	}
	var out VcoConfig
	if resp.Body.VpnConnectionConfig == nil {
		return out, fmt.Errorf("DownloadVpnConnectionConfig: no VpnConnectionConfig in the answer")
	}
	return out, viaJSON("DownloadVpnConnectionConfig", resp.Body.VpnConnectionConfig, &out)
}

func (a *daraVpn) DescribeVpnConnectionLogs(region, id string, minutes int) (VcoLogs, error) {
	resp, err := a.v.DescribeVpnConnectionLogsWithOptions(&vpc.DescribeVpnConnectionLogsRequest{RegionId: sp(region), VpnConnectionId: sp(id),
		MinutePeriod: i32p(minutes)}, a.rt())
	if err != nil {
		return VcoLogs{}, err
	}
	var out VcoLogs
	return out, viaJSON("DescribeVpnConnectionLogs", resp.Body, &out)
}

func (a *daraVpn) VpcTagResources(in TagIn) error {
	req := &vpc.TagResourcesRequest{ResourceType: sp(in.ResourceType), RegionId: sp(in.RegionId), ResourceId: sps(in.ResourceIds)}
	for _, t := range in.Tags {
		req.Tag = append(req.Tag, &vpc.TagResourcesRequestTag{Key: dara.String(t.Key), Value: dara.String(t.Value)})
	}
	_, err := a.v.TagResourcesWithOptions(req, a.rt())
	return err
}

func (a *daraVpn) VpcUnTagResources(in UntagIn) error {
	req := &vpc.UnTagResourcesRequest{ResourceType: sp(in.ResourceType), RegionId: sp(in.RegionId), ResourceId: sps(in.ResourceIds), TagKey: sps(in.TagKeys)}
	if in.All {
		req.All = dara.Bool(true)
	}
	_, err := a.v.UnTagResourcesWithOptions(req, a.rt())
	return err
}

func (a *daraVpn) VpcListTagResources(in ListTagIn) ([]TagResource, error) {
	resp, err := a.v.ListTagResourcesWithOptions(&vpc.ListTagResourcesRequest{ResourceType: sp(in.ResourceType), RegionId: sp(in.RegionId),
		ResourceId: sps(in.ResourceIds)}, a.rt())
	if err != nil {
		return nil, err
	}
	var out []TagResource
	if resp.Body.TagResources != nil {
		for _, r := range resp.Body.TagResources.TagResource {
			out = append(out, TagResource{sv(r.ResourceId), sv(r.ResourceType), sv(r.TagKey), sv(r.TagValue)})
		}
	}
	return out, nil
}

func i64p(n int64) *int64 {
	if n == 0 {
		return nil
	}
	return dara.Int64(n)
}

func (a *daraVpn) CreateTransitRouterVpnAttachment(in TRVpnAttIn) (string, error) {
	req := &cbn.CreateTransitRouterVpnAttachmentRequest{RegionId: sp(in.RegionId), TransitRouterId: sp(in.TransitRouterId), CenId: sp(in.CenId),
		VpnId: sp(in.VpnId), VpnOwnerId: i64p(in.VpnOwnerId), TransitRouterAttachmentName: sp(in.Name),
		TransitRouterAttachmentDescription: sp(in.Description), AutoPublishRouteEnabled: bp(in.AutoPublishRouteEnabled), ClientToken: sp(in.ClientToken)}
	for _, z := range in.Zones {
		req.Zone = append(req.Zone, &cbn.CreateTransitRouterVpnAttachmentRequestZone{ZoneId: dara.String(z)})
	}
	for _, t := range in.Tags {
		req.Tag = append(req.Tag, &cbn.CreateTransitRouterVpnAttachmentRequestTag{Key: dara.String(t.Key), Value: dara.String(t.Value)})
	}
	resp, err := a.c.CreateTransitRouterVpnAttachmentWithOptions(req, a.rt())
	if err != nil {
		return "", err
	}
	return sv(resp.Body.TransitRouterAttachmentId), nil
}

func (a *daraVpn) ListTransitRouterVpnAttachments(in ListTRVpnAttIn) ([]TRVpnAtt, error) {
	resp, err := a.c.ListTransitRouterVpnAttachmentsWithOptions(&cbn.ListTransitRouterVpnAttachmentsRequest{RegionId: sp(in.RegionId),
		CenId: sp(in.CenId), TransitRouterId: sp(in.TransitRouterId), TransitRouterAttachmentId: sp(in.TransitRouterAttachmentId)}, a.rt())
	if err != nil {
		return nil, err
	}
	var out []TRVpnAtt
	return out, viaJSON("ListTransitRouterVpnAttachments", resp.Body.TransitRouterAttachments, &out)
}

func (a *daraVpn) UpdateTransitRouterVpnAttachmentAttribute(in UpdTRVpnAttIn) error {
	_, err := a.c.UpdateTransitRouterVpnAttachmentAttributeWithOptions(&cbn.UpdateTransitRouterVpnAttachmentAttributeRequest{
		TransitRouterAttachmentId: sp(in.TransitRouterAttachmentId), TransitRouterAttachmentName: sp(in.Name),
		TransitRouterAttachmentDescription: sp(in.Description), AutoPublishRouteEnabled: bp(in.AutoPublishRouteEnabled)}, a.rt())
	return err
}

func (a *daraVpn) DeleteTransitRouterVpnAttachment(id string) error {
	_, err := a.c.DeleteTransitRouterVpnAttachmentWithOptions(&cbn.DeleteTransitRouterVpnAttachmentRequest{TransitRouterAttachmentId: sp(id)}, a.rt())
	return err
}

func (a *daraVpn) GrantInstanceToTransitRouter(in GrantIn) error {
	_, err := a.c.GrantInstanceToTransitRouterWithOptions(&cbn.GrantInstanceToTransitRouterRequest{CenId: sp(in.CenId), CenOwnerId: i64p(in.CenOwnerId),
		InstanceId: sp(in.InstanceId), InstanceType: sp(in.InstanceType), RegionId: sp(in.RegionId), OrderType: sp(in.OrderType)}, a.rt())
	return err
}

func (a *daraVpn) RevokeInstanceFromTransitRouter(in GrantIn) error {
	_, err := a.c.RevokeInstanceFromTransitRouterWithOptions(&cbn.RevokeInstanceFromTransitRouterRequest{CenId: sp(in.CenId), CenOwnerId: i64p(in.CenOwnerId),
		InstanceId: sp(in.InstanceId), InstanceType: sp(in.InstanceType), RegionId: sp(in.RegionId)}, a.rt())
	return err
}

func (a *daraVpn) DescribeGrantRulesToResource(productType, resourceID, region string) ([]GrantRule, error) {
	resp, err := a.c.DescribeGrantRulesToResourceWithOptions(&cbn.DescribeGrantRulesToResourceRequest{ProductType: sp(productType),
		ResourceId: sp(resourceID), RegionId: sp(region)}, a.rt())
	if err != nil {
		return nil, err
	}
	var out []GrantRule
	return out, viaJSON("DescribeGrantRulesToResource", resp.Body.GrantRules, &out)
}

func (a *daraVpn) DescribeCenRouteMaps(cenID, region string) ([]RouteMap, error) {
	resp, err := a.c.DescribeCenRouteMapsWithOptions(&cbn.DescribeCenRouteMapsRequest{CenId: sp(cenID), CenRegionId: sp(region)}, a.rt())
	if err != nil {
		return nil, err
	}
	var out []RouteMap
	if resp.Body.RouteMaps != nil {
		if err := viaJSON("DescribeCenRouteMaps", resp.Body.RouteMaps.RouteMap, &out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ---- (c) tea-rpc v1.2.0 as terraform-provider-alicloud uses it -----------------------------------

type tfVpn struct {
	c        *rpc.Client
	old      *oldcbn.Client // terraform's WithCbnClient path (route maps)
	endpoint string
}

func (a *tfVpn) Style() string { return styleTeaRPC }

// call is terraform's RpcPost: everything in the form body, autoretry on, and its
// formatError rule applied to 2xx answers (a Code other than 200/0/success/ok, or a
// Success other than true, makes the call an error).
func (a *tfVpn) call(version, action string, query, body map[string]any) (map[string]any, error) {
	rt := &teautil.RuntimeOptions{}
	rt.SetAutoretry(true)
	resp, err := a.c.DoRequest(tea.String(action), nil, tea.String("POST"), tea.String(version), tea.String("AK"), query, body, rt)
	if err != nil {
		return nil, err
	}
	if id, _ := resp["RequestId"].(string); id == "" {
		return nil, fmt.Errorf("%s: success body lacks a string RequestId: %v", action, resp)
	}
	if code, ok := resp["Code"]; ok {
		switch strings.ToLower(fmt.Sprint(code)) {
		case "200", "0", "success", "ok":
		default:
			if resp["Success"] != true {
				return nil, fmt.Errorf("%s: success body carries Code %v (terraform treats that as an error)", action, code)
			}
		}
	}
	if succ, ok := resp["Success"]; ok && succ != true {
		return nil, fmt.Errorf("%s: success body carries Success=%v", action, succ)
	}
	return resp, nil
}

func (a *tfVpn) vpc(action string, body map[string]any) (map[string]any, error) {
	return a.call(vpcVersion, action, nil, body)
}

func (a *tfVpn) cbn(action string, body map[string]any) (map[string]any, error) {
	return a.call(cbnVersion, action, nil, body)
}

// Exact-case keys terraform (and the SDK models) navigate.
var (
	vcoKeys = []string{"VpnConnectionId", "Name", "CustomerGatewayId", "VpnGatewayId", "CreateTime", "LocalSubnet", "RemoteSubnet",
		"NetworkType", "EffectImmediately", "EnableDpd", "EnableNatTraversal", "EnableTunnelsBgp", "TunnelBandwidth", "InternetIp",
		"ZoneNo", "Spec", "ResourceGroupId", "RemoteCaCertificate", "Status", "State", "AttachType", "AttachInstanceId", "TransitRouterId",
		"TransitRouterName", "CrossAccountAuthorized", "IkeConfig{}", "IpsecConfig{}", "VcoHealthCheck{}", "VpnBgpConfig{}",
		"TunnelOptionsSpecification{}"}
	ikeKeys   = []string{"IkeVersion", "IkeMode", "IkeEncAlg", "IkeAuthAlg", "IkePfs", "IkeLifetime", "LocalId", "RemoteId", "Psk"}
	ipsecKeys = []string{"IpsecEncAlg", "IpsecAuthAlg", "IpsecPfs", "IpsecLifetime"}
	hcKeys    = []string{"Enable", "Dip", "Sip", "Interval", "Retry", "Policy", "Status"}
	bgpKeys   = []string{"EnableBgp", "LocalAsn", "Status"}
	// bgpOnKeys are required as well when EnableBgp is "true".
	bgpOnKeys = []string{"LocalBgpIp", "PeerAsn", "PeerBgpIp", "TunnelCidr"}
	cgwKeys   = []string{"CustomerGatewayId", "Name", "Description", "IpAddress", "Asn", "AuthKey", "CreateTime", "ResourceGroupId", "Tags{}"}
)

// checkVcoKeys checks a connection object; tagKey is "Tags" (DescribeVpnConnection) or
// "Tag" (DescribeVpnConnections items); modify=true for the ModifyVpnAttachmentAttribute
// answer (flat TunnelOptionsSpecification array, no tags).
func checkVcoKeys(path string, o any, tagKey string, modify bool) error {
	keys := append([]string(nil), vcoKeys...)
	if modify {
		keys = []string{"VpnConnectionId", "Name", "Description", "CustomerGatewayId", "VpnGatewayId", "CreateTime", "LocalSubnet",
			"RemoteSubnet", "NetworkType", "EffectImmediately", "EnableDpd", "EnableNatTraversal", "EnableTunnelsBgp", "Spec", "Status",
			"ResourceGroupId", "AttachType", "AttachInstanceId", "IkeConfig{}", "IpsecConfig{}", "VcoHealthCheck{}", "VpnBgpConfig{}",
			"TunnelOptionsSpecification[]"}
	} else {
		keys = append(keys, tagKey+"{}")
	}
	if err := checkKeys(path, o, keys...); err != nil {
		return err
	}
	for _, sub := range []struct {
		name string
		keys []string
	}{{"IkeConfig", ikeKeys}, {"IpsecConfig", ipsecKeys}, {"VcoHealthCheck", hcKeys}, {"VpnBgpConfig", bgpKeys}} {
		ks := sub.keys
		if modify && sub.name == "VcoHealthCheck" {
			ks = ks[:len(ks)-1] // the modify answer's VcoHealthCheck declares no Status
		}
		if sub.name == "VpnBgpConfig" && dig(o, sub.name, "EnableBgp") == "true" {
			ks = append(append([]string(nil), ks...), bgpOnKeys...)
		}
		if err := checkKeys(path+"."+sub.name, dig(o, sub.name), ks...); err != nil {
			return err
		}
	}
	if !modify {
		if err := checkKeys(path+"."+tagKey, dig(o, tagKey), "Tag[]"); err != nil {
			return err
		}
		if err := checkKeys(path+".TunnelOptionsSpecification", dig(o, "TunnelOptionsSpecification"), "TunnelOptions[]"); err != nil {
			return err
		}
	}
	return nil
}

func setBool(body map[string]any, key string, b *bool) {
	if b != nil {
		body[key] = *b
	}
}

func (a *tfVpn) CreateCustomerGateway(in CgwIn) (Cgw, error) {
	body := map[string]any{}
	setIf(body, "RegionId", in.RegionId)
	setIf(body, "IpAddress", in.IpAddress)
	setIf(body, "Asn", in.Asn)
	setIf(body, "AuthKey", in.AuthKey)
	setIf(body, "Name", in.Name)
	setIf(body, "Description", in.Description)
	setIf(body, "ClientToken", in.ClientToken)
	addTags(body, "Tags", in.Tags)
	resp, err := a.vpc("CreateCustomerGateway", body)
	if err != nil {
		return Cgw{}, err
	}
	var out Cgw
	if err := decodeStrict("CreateCustomerGateway", resp, &out); err != nil {
		return out, err
	}
	return out, checkKeys("CreateCustomerGateway", resp, "RequestId", "CustomerGatewayId", "IpAddress", "Name", "Description", "CreateTime")
}

func (a *tfVpn) DescribeCustomerGateway(region, id string) (Cgw, error) {
	// As terraform's DescribeVPNGatewayCustomerGateway: CustomerGatewayId in the query,
	// RegionId in the body.
	body := map[string]any{}
	setIf(body, "RegionId", region)
	resp, err := a.call(vpcVersion, "DescribeCustomerGateway", map[string]any{"CustomerGatewayId": id}, body)
	if err != nil {
		return Cgw{}, err
	}
	var out Cgw
	if err := decodeStrict("DescribeCustomerGateway", resp, &out); err != nil {
		return out, err
	}
	if err := checkKeys("DescribeCustomerGateway", resp, append([]string{"RequestId"}, cgwKeys...)...); err != nil {
		return out, err
	}
	return out, checkKeys("DescribeCustomerGateway.Tags", dig(resp, "Tags"), "Tag[]")
}

func (a *tfVpn) DescribeCustomerGateways(region, id string) ([]Cgw, Page, error) {
	body := map[string]any{}
	setIf(body, "RegionId", region)
	setIf(body, "CustomerGatewayId", id)
	resp, err := a.vpc("DescribeCustomerGateways", body)
	if err != nil {
		return nil, Page{}, err
	}
	var r struct {
		PageNumber, PageSize, TotalCount int32
		CustomerGateways                 struct{ CustomerGateway []Cgw }
	}
	if err := decodeStrict("DescribeCustomerGateways", resp, &r); err != nil {
		return nil, Page{}, err
	}
	page := Page{int(r.PageNumber), int(r.PageSize), int(r.TotalCount)}
	err = checkKeys("DescribeCustomerGateways", resp, "RequestId", "PageNumber", "PageSize", "TotalCount", "CustomerGateways{}")
	if err == nil {
		err = checkKeys("DescribeCustomerGateways.CustomerGateways", dig(resp, "CustomerGateways"), "CustomerGateway[]")
	}
	if err == nil {
		err = checkEach("DescribeCustomerGateways.CustomerGateways.CustomerGateway", dig(resp, "CustomerGateways", "CustomerGateway"), cgwKeys...)
	}
	return r.CustomerGateways.CustomerGateway, page, err
}

func (a *tfVpn) DeleteCustomerGateway(region, id string) error {
	body := map[string]any{"ClientToken": uniq("TF-DeleteCustomerGateway")}
	setIf(body, "RegionId", region)
	setIf(body, "CustomerGatewayId", id)
	_, err := a.vpc("DeleteCustomerGateway", body)
	return err
}

// vcoBody is what terraform's create and update send; create=true renders HealthCheckConfig
// with lower-case keys (terraform's create), false with capitalised keys (its update).
func vcoBody(in VcoIn, create bool) map[string]any {
	body := map[string]any{}
	setIf(body, "RegionId", in.RegionId)
	setIf(body, "VpnConnectionId", in.VpnConnectionId)
	setIf(body, "CustomerGatewayId", in.CustomerGatewayId)
	setIf(body, "Name", in.Name)
	setIf(body, "NetworkType", in.NetworkType)
	setIf(body, "LocalSubnet", in.LocalSubnet)
	setIf(body, "RemoteSubnet", in.RemoteSubnet)
	setIf(body, "ClientToken", in.ClientToken)
	setBool(body, "EffectImmediately", in.EffectImmediately)
	setBool(body, "EnableDpd", in.EnableDpd)
	setBool(body, "EnableNatTraversal", in.EnableNatTraversal)
	setIf(body, "IkeConfig", ikeJSON(in.Ike))
	setIf(body, "IpsecConfig", ipsecJSON(in.Ipsec))
	setIf(body, "BgpConfig", bgpJSON(in.Bgp, true))
	setIf(body, "HealthCheckConfig", hcJSON(in.HC, true, !create))
	addTags(body, "Tag", in.Tags) // terraform sends Tag.N.*, not the declared Tags.N.*
	return body
}

func (a *tfVpn) CreateVpnAttachment(in VcoIn) (VcoCreated, error) {
	if in.ClientToken == "" {
		in.ClientToken = uniq("TF-CreateVpnAttachment")
	}
	resp, err := a.vpc("CreateVpnAttachment", vcoBody(in, true))
	if err != nil {
		return VcoCreated{}, err
	}
	var out VcoCreated
	if err := decodeStrict("CreateVpnAttachment", resp, &out); err != nil {
		return out, err
	}
	return out, checkKeys("CreateVpnAttachment", resp, "RequestId", "VpnConnectionId", "Name", "CreateTime", "Code", "Success", "Message")
}

func (a *tfVpn) ModifyVpnAttachmentAttribute(in VcoIn) (VcoModified, error) {
	if in.ClientToken == "" {
		in.ClientToken = uniq("TF-ModifyVpnAttachmentAttribute")
	}
	resp, err := a.vpc("ModifyVpnAttachmentAttribute", vcoBody(in, false))
	if err != nil {
		return VcoModified{}, err
	}
	var out VcoModified
	if err := decodeStrict("ModifyVpnAttachmentAttribute", resp, &out); err != nil {
		return out, err
	}
	return out, checkVcoKeys("ModifyVpnAttachmentAttribute", resp, "", true)
}

func (a *tfVpn) DescribeVpnConnection(region, id string) (Vco, error) {
	body := map[string]any{}
	setIf(body, "RegionId", region)
	setIf(body, "VpnConnectionId", id)
	resp, err := a.vpc("DescribeVpnConnection", body)
	if err != nil {
		return Vco{}, err
	}
	var out Vco
	if err := decodeStrict("DescribeVpnConnection", resp, &out); err != nil {
		return out, err
	}
	if _, ok := resp["Tag"]; ok {
		return out, fmt.Errorf("DescribeVpnConnection: carries a \"Tag\" key; the singular API's wrapper is \"Tags\"")
	}
	return out, checkVcoKeys("DescribeVpnConnection", resp, "Tags", false)
}

func (a *tfVpn) DescribeVpnConnections(region, id string) ([]Vco, Page, error) {
	body := map[string]any{}
	setIf(body, "RegionId", region)
	setIf(body, "VpnConnectionId", id)
	resp, err := a.vpc("DescribeVpnConnections", body)
	if err != nil {
		return nil, Page{}, err
	}
	var r struct {
		PageNumber, PageSize, TotalCount int32
		VpnConnections                   struct{ VpnConnection []Vco }
	}
	if err := decodeStrict("DescribeVpnConnections", resp, &r); err != nil {
		return nil, Page{}, err
	}
	page := Page{int(r.PageNumber), int(r.PageSize), int(r.TotalCount)}
	err = checkKeys("DescribeVpnConnections", resp, "RequestId", "PageNumber", "PageSize", "TotalCount", "VpnConnections{}")
	if err == nil {
		err = checkKeys("DescribeVpnConnections.VpnConnections", dig(resp, "VpnConnections"), "VpnConnection[]")
	}
	if err == nil {
		items, _ := dig(resp, "VpnConnections", "VpnConnection").([]any)
		for i, it := range items {
			if err = checkVcoKeys(fmt.Sprintf("DescribeVpnConnections.VpnConnections.VpnConnection[%d]", i), it, "Tag", false); err != nil {
				break
			}
		}
	}
	return r.VpnConnections.VpnConnection, page, err
}

func (a *tfVpn) DescribeVpnAttachments(region, id string) ([]VpnAtt, Page, error) {
	body := map[string]any{}
	setIf(body, "RegionId", region)
	setIf(body, "VpnConnectionId", id)
	resp, err := a.vpc("DescribeVpnAttachments", body)
	if err != nil {
		return nil, Page{}, err
	}
	var r struct {
		PageNumber, PageSize, TotalCount int32
		VpnAttachments                   []VpnAtt
	}
	if err := decodeStrict("DescribeVpnAttachments", resp, &r); err != nil {
		return nil, Page{}, err
	}
	page := Page{int(r.PageNumber), int(r.PageSize), int(r.TotalCount)}
	err = checkKeys("DescribeVpnAttachments", resp, "RequestId", "PageNumber", "PageSize", "TotalCount", "VpnAttachments[]")
	if err == nil {
		err = checkEach("DescribeVpnAttachments.VpnAttachments", dig(resp, "VpnAttachments"), "InstanceId", "Name", "Description", "AttachType",
			"TransitRouterId", "TransitRouterName", "CrossAccountAuthorized", "Tag", "Tags[]")
	}
	return r.VpnAttachments, page, err
}

func (a *tfVpn) DeleteVpnAttachment(region, id string) (VcoDeleted, error) {
	body := map[string]any{"ClientToken": uniq("TF-DeleteVpnAttachment")}
	setIf(body, "RegionId", region)
	setIf(body, "VpnConnectionId", id)
	resp, err := a.vpc("DeleteVpnAttachment", body)
	if err != nil {
		return VcoDeleted{}, err
	}
	var out VcoDeleted
	if err := decodeStrict("DeleteVpnAttachment", resp, &out); err != nil {
		return out, err
	}
	return out, checkKeys("DeleteVpnAttachment", resp, "RequestId", "Code", "Success", "Message")
}

func (a *tfVpn) DownloadVpnConnectionConfig(region, id string) (VcoConfig, error) {
	body := map[string]any{}
	setIf(body, "RegionId", region)
	setIf(body, "VpnConnectionId", id)
	resp, err := a.vpc("DownloadVpnConnectionConfig", body)
	if err != nil {
		return VcoConfig{}, err
	}
	var r struct{ VpnConnectionConfig VcoConfig }
	if err := decodeStrict("DownloadVpnConnectionConfig", resp, &r); err != nil {
		return VcoConfig{}, err
	}
	cfg := dig(resp, "VpnConnectionConfig")
	err = checkKeys("DownloadVpnConnectionConfig", resp, "RequestId", "VpnConnectionConfig{}")
	if err == nil {
		err = checkKeys("DownloadVpnConnectionConfig.VpnConnectionConfig", cfg, "Local", "Remote", "LocalSubnet", "RemoteSubnet",
			"IkeConfig{}", "IpsecConfig{}", "BgpConfigs{}")
	}
	if err == nil {
		err = checkKeys("DownloadVpnConnectionConfig.VpnConnectionConfig.IkeConfig", dig(cfg, "IkeConfig"), ikeKeys...)
	}
	if err == nil {
		err = checkKeys("DownloadVpnConnectionConfig.VpnConnectionConfig.IpsecConfig", dig(cfg, "IpsecConfig"), ipsecKeys...)
	}
	if err == nil {
		err = checkKeys("DownloadVpnConnectionConfig.VpnConnectionConfig.BgpConfigs", dig(cfg, "BgpConfigs"), "BgpConfig[]")
	}
	return r.VpnConnectionConfig, err
}

func (a *tfVpn) DescribeVpnConnectionLogs(region, id string, minutes int) (VcoLogs, error) {
	body := map[string]any{}
	setIf(body, "RegionId", region)
	setIf(body, "VpnConnectionId", id)
	setInt(body, "MinutePeriod", minutes)
	resp, err := a.vpc("DescribeVpnConnectionLogs", body)
	if err != nil {
		return VcoLogs{}, err
	}
	var out VcoLogs
	if err := decodeStrict("DescribeVpnConnectionLogs", resp, &out); err != nil {
		return out, err
	}
	err = checkKeys("DescribeVpnConnectionLogs", resp, "RequestId", "Count", "PageNumber", "PageSize", "IsCompleted", "Data{}")
	if err == nil {
		err = checkKeys("DescribeVpnConnectionLogs.Data", dig(resp, "Data"), "Logs[]")
	}
	return out, err
}

func (a *tfVpn) VpcTagResources(in TagIn) error {
	body := map[string]any{}
	setIf(body, "ResourceType", in.ResourceType)
	setIf(body, "RegionId", in.RegionId)
	addList(body, "ResourceId", in.ResourceIds)
	addTags(body, "Tag", in.Tags)
	_, err := a.vpc("TagResources", body)
	return err
}

func (a *tfVpn) VpcUnTagResources(in UntagIn) error {
	body := map[string]any{}
	setIf(body, "ResourceType", in.ResourceType)
	setIf(body, "RegionId", in.RegionId)
	addList(body, "ResourceId", in.ResourceIds)
	addList(body, "TagKey", in.TagKeys)
	if in.All {
		body["All"] = true
	}
	_, err := a.vpc("UnTagResources", body)
	return err
}

func (a *tfVpn) VpcListTagResources(in ListTagIn) ([]TagResource, error) {
	body := map[string]any{}
	setIf(body, "ResourceType", in.ResourceType)
	setIf(body, "RegionId", in.RegionId)
	addList(body, "ResourceId", in.ResourceIds)
	resp, err := a.vpc("ListTagResources", body)
	if err != nil {
		return nil, err
	}
	var r struct {
		TagResources struct{ TagResource []TagResource }
	}
	if err := decodeStrict("ListTagResources", resp, &r); err != nil {
		return nil, err
	}
	err = checkKeys("ListTagResources", resp, "RequestId", "TagResources{}")
	if err == nil {
		err = checkKeys("ListTagResources.TagResources", dig(resp, "TagResources"), "TagResource[]")
	}
	if err == nil {
		err = checkEach("ListTagResources.TagResources.TagResource", dig(resp, "TagResources", "TagResource"), "ResourceId", "ResourceType", "TagKey", "TagValue")
	}
	return r.TagResources.TagResource, err
}

func (a *tfVpn) CreateTransitRouterVpnAttachment(in TRVpnAttIn) (string, error) {
	body := map[string]any{"ClientToken": in.ClientToken}
	if in.ClientToken == "" {
		body["ClientToken"] = uniq("TF-CreateTransitRouterVpnAttachment")
	}
	setIf(body, "RegionId", in.RegionId)
	setIf(body, "TransitRouterId", in.TransitRouterId)
	setIf(body, "CenId", in.CenId)
	setIf(body, "VpnId", in.VpnId)
	if in.VpnOwnerId != 0 {
		body["VpnOwnerId"] = in.VpnOwnerId
	}
	setIf(body, "TransitRouterAttachmentName", in.Name)
	setIf(body, "TransitRouterAttachmentDescription", in.Description)
	setBool(body, "AutoPublishRouteEnabled", in.AutoPublishRouteEnabled)
	body["ChargeType"] = "POSTPAY" // terraform's default
	for i, z := range in.Zones {
		body[fmt.Sprintf("Zone.%d.ZoneId", i+1)] = z
	}
	addTags(body, "Tag", in.Tags)
	resp, err := a.cbn("CreateTransitRouterVpnAttachment", body)
	if err != nil {
		return "", err
	}
	return needString("CreateTransitRouterVpnAttachment", resp, "TransitRouterAttachmentId")
}

func (a *tfVpn) ListTransitRouterVpnAttachments(in ListTRVpnAttIn) ([]TRVpnAtt, error) {
	body := map[string]any{}
	setIf(body, "RegionId", in.RegionId)
	setIf(body, "CenId", in.CenId)
	setIf(body, "TransitRouterId", in.TransitRouterId)
	setIf(body, "TransitRouterAttachmentId", in.TransitRouterAttachmentId)
	resp, err := a.cbn("ListTransitRouterVpnAttachments", body)
	if err != nil {
		return nil, err
	}
	var r struct {
		TotalCount, MaxResults   int32
		NextToken                string
		TransitRouterAttachments []TRVpnAtt
	}
	if err := decodeStrict("ListTransitRouterVpnAttachments", resp, &r); err != nil {
		return nil, err
	}
	err = checkKeys("ListTransitRouterVpnAttachments", resp, "RequestId", "TotalCount", "MaxResults", "NextToken", "TransitRouterAttachments[]")
	if err == nil {
		err = checkEach("ListTransitRouterVpnAttachments.TransitRouterAttachments", dig(resp, "TransitRouterAttachments"),
			"TransitRouterAttachmentId", "TransitRouterAttachmentName", "TransitRouterAttachmentDescription", "TransitRouterId", "CenId",
			"VpnId", "VpnOwnerId", "VpnRegionId", "ResourceType", "ChargeType", "OrderType", "AutoPublishRouteEnabled", "Status",
			"CreationTime", "Tags[]", "Zones[]")
	}
	return r.TransitRouterAttachments, err
}

func (a *tfVpn) UpdateTransitRouterVpnAttachmentAttribute(in UpdTRVpnAttIn) error {
	// No RegionId: terraform does not send one here.
	body := map[string]any{"ClientToken": uniq("TF-UpdateTransitRouterVpnAttachmentAttribute")}
	setIf(body, "TransitRouterAttachmentId", in.TransitRouterAttachmentId)
	setIf(body, "TransitRouterAttachmentName", in.Name)
	setIf(body, "TransitRouterAttachmentDescription", in.Description)
	setBool(body, "AutoPublishRouteEnabled", in.AutoPublishRouteEnabled)
	_, err := a.cbn("UpdateTransitRouterVpnAttachmentAttribute", body)
	return err
}

func (a *tfVpn) DeleteTransitRouterVpnAttachment(id string) error {
	// No RegionId: terraform does not send one here.
	body := map[string]any{"ClientToken": uniq("TF-DeleteTransitRouterVpnAttachment"), "TransitRouterAttachmentId": id}
	_, err := a.cbn("DeleteTransitRouterVpnAttachment", body)
	return err
}

func grantBody(in GrantIn) map[string]any {
	body := map[string]any{}
	setIf(body, "CenId", in.CenId)
	if in.CenOwnerId != 0 {
		body["CenOwnerId"] = in.CenOwnerId
	}
	setIf(body, "InstanceId", in.InstanceId)
	setIf(body, "InstanceType", in.InstanceType)
	setIf(body, "RegionId", in.RegionId)
	setIf(body, "OrderType", in.OrderType)
	return body
}

func (a *tfVpn) GrantInstanceToTransitRouter(in GrantIn) error {
	_, err := a.cbn("GrantInstanceToTransitRouter", grantBody(in))
	return err
}

func (a *tfVpn) RevokeInstanceFromTransitRouter(in GrantIn) error {
	_, err := a.cbn("RevokeInstanceFromTransitRouter", grantBody(in))
	return err
}

func (a *tfVpn) DescribeGrantRulesToResource(productType, resourceID, region string) ([]GrantRule, error) {
	body := map[string]any{}
	setIf(body, "ProductType", productType)
	setIf(body, "ResourceId", resourceID)
	setIf(body, "RegionId", region)
	resp, err := a.cbn("DescribeGrantRulesToResource", body)
	if err != nil {
		return nil, err
	}
	var r struct{ GrantRules []GrantRule }
	if err := decodeStrict("DescribeGrantRulesToResource", resp, &r); err != nil {
		return nil, err
	}
	err = checkKeys("DescribeGrantRulesToResource", resp, "RequestId", "TotalCount", "MaxResults", "NextToken", "GrantRules[]")
	if err == nil {
		err = checkEach("DescribeGrantRulesToResource.GrantRules", dig(resp, "GrantRules"), "CenId", "CenOwnerId", "OrderType", "EffectiveOrderType", "CreateTime")
	}
	return r.GrantRules, err
}

// DescribeCenRouteMaps goes through alibaba-cloud-sdk-go, as terraform's alicloud_cen_route_map does.
func (a *tfVpn) DescribeCenRouteMaps(cenID, region string) ([]RouteMap, error) {
	req := oldcbn.CreateDescribeCenRouteMapsRequest()
	req.Scheme, req.Domain = "http", a.endpoint
	req.CenId, req.CenRegionId = cenID, region
	resp, err := a.old.DescribeCenRouteMaps(req)
	if err != nil {
		return nil, err
	}
	var out []RouteMap
	return out, viaJSON("DescribeCenRouteMaps", resp.RouteMaps.RouteMap, &out)
}

// ---- (d) aliyun/alibaba-cloud-sdk-go services/vpc + services/cbn ----------------------------------

type oldVpn struct {
	v        *oldvpc.Client
	c        *oldcbn.Client
	endpoint string
}

func (a *oldVpn) Style() string { return styleSDKGo }

func (a *oldVpn) prep(r *requests.RpcRequest, region string) {
	r.Scheme = "http"
	r.Domain = a.endpoint
	if region != "" {
		r.RegionId = region
	}
}

func oldBool(b *bool) requests.Boolean {
	if b == nil {
		return ""
	}
	return requests.NewBoolean(*b)
}

func oldInt64(n int64) requests.Integer {
	if n == 0 {
		return ""
	}
	return requests.NewInteger64(n)
}

func (a *oldVpn) CreateCustomerGateway(in CgwIn) (Cgw, error) {
	req := oldvpc.CreateCreateCustomerGatewayRequest()
	a.prep(req.RpcRequest, in.RegionId)
	req.IpAddress, req.Asn, req.AuthKey, req.Name, req.Description, req.ClientToken = in.IpAddress, in.Asn, in.AuthKey, in.Name, in.Description, in.ClientToken
	if len(in.Tags) > 0 {
		ts := []oldvpc.CreateCustomerGatewayTags{}
		for _, t := range in.Tags {
			ts = append(ts, oldvpc.CreateCustomerGatewayTags{Key: t.Key, Value: t.Value})
		}
		req.Tags = &ts
	}
	resp, err := a.v.CreateCustomerGateway(req)
	if err != nil {
		return Cgw{}, err
	}
	var out Cgw
	return out, viaJSON("CreateCustomerGateway", resp, &out)
}

func (a *oldVpn) DescribeCustomerGateway(region, id string) (Cgw, error) {
	req := oldvpc.CreateDescribeCustomerGatewayRequest()
	a.prep(req.RpcRequest, region)
	req.CustomerGatewayId = id
	resp, err := a.v.DescribeCustomerGateway(req)
	if err != nil {
		return Cgw{}, err
	}
	var out Cgw
	return out, viaJSON("DescribeCustomerGateway", resp, &out)
}

func (a *oldVpn) DescribeCustomerGateways(region, id string) ([]Cgw, Page, error) {
	req := oldvpc.CreateDescribeCustomerGatewaysRequest()
	a.prep(req.RpcRequest, region)
	req.CustomerGatewayId = id
	resp, err := a.v.DescribeCustomerGateways(req)
	if err != nil {
		return nil, Page{}, err
	}
	var out []Cgw
	return out, Page{resp.PageNumber, resp.PageSize, resp.TotalCount}, viaJSON("DescribeCustomerGateways", resp.CustomerGateways.CustomerGateway, &out)
}

func (a *oldVpn) DeleteCustomerGateway(region, id string) error {
	req := oldvpc.CreateDeleteCustomerGatewayRequest()
	a.prep(req.RpcRequest, region)
	req.CustomerGatewayId = id
	_, err := a.v.DeleteCustomerGateway(req)
	return err
}

func (a *oldVpn) CreateVpnAttachment(in VcoIn) (VcoCreated, error) {
	req := oldvpc.CreateCreateVpnAttachmentRequest()
	a.prep(req.RpcRequest, in.RegionId)
	req.CustomerGatewayId, req.Name, req.NetworkType, req.LocalSubnet, req.RemoteSubnet, req.ClientToken =
		in.CustomerGatewayId, in.Name, in.NetworkType, in.LocalSubnet, in.RemoteSubnet, in.ClientToken
	req.EffectImmediately, req.EnableDpd, req.EnableNatTraversal = oldBool(in.EffectImmediately), oldBool(in.EnableDpd), oldBool(in.EnableNatTraversal)
	req.IkeConfig, req.IpsecConfig, req.BgpConfig, req.HealthCheckConfig = ikeJSON(in.Ike), ipsecJSON(in.Ipsec), bgpJSON(in.Bgp, false), hcJSON(in.HC, false, false)
	if len(in.Tags) > 0 {
		ts := []oldvpc.CreateVpnAttachmentTags{}
		for _, t := range in.Tags {
			ts = append(ts, oldvpc.CreateVpnAttachmentTags{Key: t.Key, Value: t.Value})
		}
		req.Tags = &ts
	}
	resp, err := a.v.CreateVpnAttachment(req)
	if err != nil {
		return VcoCreated{}, err
	}
	var out VcoCreated
	return out, viaJSON("CreateVpnAttachment", resp, &out)
}

func (a *oldVpn) ModifyVpnAttachmentAttribute(in VcoIn) (VcoModified, error) {
	req := oldvpc.CreateModifyVpnAttachmentAttributeRequest()
	a.prep(req.RpcRequest, in.RegionId)
	req.VpnConnectionId, req.CustomerGatewayId, req.Name, req.LocalSubnet, req.RemoteSubnet, req.ClientToken =
		in.VpnConnectionId, in.CustomerGatewayId, in.Name, in.LocalSubnet, in.RemoteSubnet, in.ClientToken
	req.EffectImmediately, req.EnableDpd, req.EnableNatTraversal = oldBool(in.EffectImmediately), oldBool(in.EnableDpd), oldBool(in.EnableNatTraversal)
	req.IkeConfig, req.IpsecConfig, req.BgpConfig, req.HealthCheckConfig = ikeJSON(in.Ike), ipsecJSON(in.Ipsec), bgpJSON(in.Bgp, false), hcJSON(in.HC, false, false)
	resp, err := a.v.ModifyVpnAttachmentAttribute(req)
	if err != nil {
		return VcoModified{}, err
	}
	var out VcoModified
	return out, viaJSON("ModifyVpnAttachmentAttribute", resp, &out)
}

func (a *oldVpn) DescribeVpnConnection(region, id string) (Vco, error) {
	req := oldvpc.CreateDescribeVpnConnectionRequest()
	a.prep(req.RpcRequest, region)
	req.VpnConnectionId = id
	resp, err := a.v.DescribeVpnConnection(req)
	if err != nil {
		return Vco{}, err
	}
	var out Vco
	return out, viaJSON("DescribeVpnConnection", resp, &out)
}

func (a *oldVpn) DescribeVpnConnections(region, id string) ([]Vco, Page, error) {
	req := oldvpc.CreateDescribeVpnConnectionsRequest()
	a.prep(req.RpcRequest, region)
	req.VpnConnectionId = id
	resp, err := a.v.DescribeVpnConnections(req)
	if err != nil {
		return nil, Page{}, err
	}
	var out []Vco
	return out, Page{resp.PageNumber, resp.PageSize, resp.TotalCount}, viaJSON("DescribeVpnConnections", resp.VpnConnections.VpnConnection, &out)
}

func (a *oldVpn) DescribeVpnAttachments(region, id string) ([]VpnAtt, Page, error) {
	req := oldvpc.CreateDescribeVpnAttachmentsRequest()
	a.prep(req.RpcRequest, region)
	req.VpnConnectionId = id
	resp, err := a.v.DescribeVpnAttachments(req)
	if err != nil {
		return nil, Page{}, err
	}
	var out []VpnAtt
	return out, Page{resp.PageNumber, resp.PageSize, resp.TotalCount}, viaJSON("DescribeVpnAttachments", resp.VpnAttachments, &out)
}

func (a *oldVpn) DeleteVpnAttachment(region, id string) (VcoDeleted, error) {
	req := oldvpc.CreateDeleteVpnAttachmentRequest()
	a.prep(req.RpcRequest, region)
	req.VpnConnectionId = id
	resp, err := a.v.DeleteVpnAttachment(req)
	if err != nil {
		return VcoDeleted{}, err
	}
	var out VcoDeleted
	return out, viaJSON("DeleteVpnAttachment", resp, &out)
}

// DownloadVpnConnectionConfig: alibaba-cloud-sdk-go v1.63.107's VpnConnectionConfig model
// has no BgpConfigs, so that part stays empty for this style.
func (a *oldVpn) DownloadVpnConnectionConfig(region, id string) (VcoConfig, error) {
	req := oldvpc.CreateDownloadVpnConnectionConfigRequest()
	a.prep(req.RpcRequest, region)
	req.VpnConnectionId = id
	resp, err := a.v.DownloadVpnConnectionConfig(req)
	if err != nil {
		return VcoConfig{}, err
	}
	var out VcoConfig
	return out, viaJSON("DownloadVpnConnectionConfig", resp.VpnConnectionConfig, &out)
}

func (a *oldVpn) DescribeVpnConnectionLogs(region, id string, minutes int) (VcoLogs, error) {
	req := oldvpc.CreateDescribeVpnConnectionLogsRequest()
	a.prep(req.RpcRequest, region)
	req.VpnConnectionId, req.MinutePeriod = id, intParam(minutes)
	resp, err := a.v.DescribeVpnConnectionLogs(req)
	if err != nil {
		return VcoLogs{}, err
	}
	var out VcoLogs
	return out, viaJSON("DescribeVpnConnectionLogs", resp, &out)
}

func (a *oldVpn) VpcTagResources(in TagIn) error {
	req := oldvpc.CreateTagResourcesRequest()
	a.prep(req.RpcRequest, in.RegionId)
	req.ResourceType = in.ResourceType
	ids := append([]string(nil), in.ResourceIds...)
	req.ResourceId = &ids
	ts := []oldvpc.TagResourcesTag{}
	for _, t := range in.Tags {
		ts = append(ts, oldvpc.TagResourcesTag{Key: t.Key, Value: t.Value})
	}
	req.Tag = &ts
	_, err := a.v.TagResources(req)
	return err
}

func (a *oldVpn) VpcUnTagResources(in UntagIn) error {
	req := oldvpc.CreateUnTagResourcesRequest()
	a.prep(req.RpcRequest, in.RegionId)
	req.ResourceType = in.ResourceType
	ids := append([]string(nil), in.ResourceIds...)
	req.ResourceId = &ids
	if len(in.TagKeys) > 0 {
		keys := append([]string(nil), in.TagKeys...)
		req.TagKey = &keys
	}
	if in.All {
		req.All = requests.NewBoolean(true)
	}
	_, err := a.v.UnTagResources(req)
	return err
}

func (a *oldVpn) VpcListTagResources(in ListTagIn) ([]TagResource, error) {
	req := oldvpc.CreateListTagResourcesRequest()
	a.prep(req.RpcRequest, in.RegionId)
	req.ResourceType = in.ResourceType
	ids := append([]string(nil), in.ResourceIds...)
	req.ResourceId = &ids
	resp, err := a.v.ListTagResources(req)
	if err != nil {
		return nil, err
	}
	var out []TagResource
	for _, r := range resp.TagResources.TagResource {
		out = append(out, TagResource{r.ResourceId, r.ResourceType, r.TagKey, r.TagValue})
	}
	return out, nil
}

func (a *oldVpn) CreateTransitRouterVpnAttachment(in TRVpnAttIn) (string, error) {
	req := oldcbn.CreateCreateTransitRouterVpnAttachmentRequest()
	a.prep(req.RpcRequest, in.RegionId)
	req.TransitRouterId, req.CenId, req.VpnId, req.TransitRouterAttachmentName, req.TransitRouterAttachmentDescription, req.ClientToken =
		in.TransitRouterId, in.CenId, in.VpnId, in.Name, in.Description, in.ClientToken
	req.VpnOwnerId, req.AutoPublishRouteEnabled = oldInt64(in.VpnOwnerId), oldBool(in.AutoPublishRouteEnabled)
	if len(in.Zones) > 0 {
		zs := []oldcbn.CreateTransitRouterVpnAttachmentZone{}
		for _, z := range in.Zones {
			zs = append(zs, oldcbn.CreateTransitRouterVpnAttachmentZone{ZoneId: z})
		}
		req.Zone = &zs
	}
	if len(in.Tags) > 0 {
		ts := []oldcbn.CreateTransitRouterVpnAttachmentTag{}
		for _, t := range in.Tags {
			ts = append(ts, oldcbn.CreateTransitRouterVpnAttachmentTag{Key: t.Key, Value: t.Value})
		}
		req.Tag = &ts
	}
	resp, err := a.c.CreateTransitRouterVpnAttachment(req)
	if err != nil {
		return "", err
	}
	return resp.TransitRouterAttachmentId, nil
}

func (a *oldVpn) ListTransitRouterVpnAttachments(in ListTRVpnAttIn) ([]TRVpnAtt, error) {
	req := oldcbn.CreateListTransitRouterVpnAttachmentsRequest()
	a.prep(req.RpcRequest, in.RegionId)
	req.CenId, req.TransitRouterId, req.TransitRouterAttachmentId = in.CenId, in.TransitRouterId, in.TransitRouterAttachmentId
	resp, err := a.c.ListTransitRouterVpnAttachments(req)
	if err != nil {
		return nil, err
	}
	var out []TRVpnAtt
	return out, viaJSON("ListTransitRouterVpnAttachments", resp.TransitRouterAttachments, &out)
}

func (a *oldVpn) UpdateTransitRouterVpnAttachmentAttribute(in UpdTRVpnAttIn) error {
	req := oldcbn.CreateUpdateTransitRouterVpnAttachmentAttributeRequest()
	a.prep(req.RpcRequest, "")
	req.TransitRouterAttachmentId, req.TransitRouterAttachmentName, req.TransitRouterAttachmentDescription = in.TransitRouterAttachmentId, in.Name, in.Description
	req.AutoPublishRouteEnabled = oldBool(in.AutoPublishRouteEnabled)
	_, err := a.c.UpdateTransitRouterVpnAttachmentAttribute(req)
	return err
}

func (a *oldVpn) DeleteTransitRouterVpnAttachment(id string) error {
	req := oldcbn.CreateDeleteTransitRouterVpnAttachmentRequest()
	a.prep(req.RpcRequest, "")
	req.TransitRouterAttachmentId = id
	_, err := a.c.DeleteTransitRouterVpnAttachment(req)
	return err
}

func (a *oldVpn) GrantInstanceToTransitRouter(in GrantIn) error {
	req := oldcbn.CreateGrantInstanceToTransitRouterRequest()
	a.prep(req.RpcRequest, in.RegionId)
	req.CenId, req.CenOwnerId, req.InstanceId, req.InstanceType, req.OrderType = in.CenId, oldInt64(in.CenOwnerId), in.InstanceId, in.InstanceType, in.OrderType
	_, err := a.c.GrantInstanceToTransitRouter(req)
	return err
}

func (a *oldVpn) RevokeInstanceFromTransitRouter(in GrantIn) error {
	req := oldcbn.CreateRevokeInstanceFromTransitRouterRequest()
	a.prep(req.RpcRequest, in.RegionId)
	req.CenId, req.CenOwnerId, req.InstanceId, req.InstanceType = in.CenId, oldInt64(in.CenOwnerId), in.InstanceId, in.InstanceType
	_, err := a.c.RevokeInstanceFromTransitRouter(req)
	return err
}

func (a *oldVpn) DescribeGrantRulesToResource(productType, resourceID, region string) ([]GrantRule, error) {
	req := oldcbn.CreateDescribeGrantRulesToResourceRequest()
	a.prep(req.RpcRequest, region)
	req.ProductType, req.ResourceId = productType, resourceID
	resp, err := a.c.DescribeGrantRulesToResource(req)
	if err != nil {
		return nil, err
	}
	var out []GrantRule
	return out, viaJSON("DescribeGrantRulesToResource", resp.GrantRules, &out)
}

func (a *oldVpn) DescribeCenRouteMaps(cenID, region string) ([]RouteMap, error) {
	req := oldcbn.CreateDescribeCenRouteMapsRequest()
	a.prep(req.RpcRequest, "")
	req.CenId, req.CenRegionId = cenID, region
	resp, err := a.c.DescribeCenRouteMaps(req)
	if err != nil {
		return nil, err
	}
	var out []RouteMap
	return out, viaJSON("DescribeCenRouteMaps", resp.RouteMaps.RouteMap, &out)
}
