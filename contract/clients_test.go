package contract

// One small adapter per stock client style. Each adapter speaks to the server exactly the
// way the real client does (its own signing, parameter placement and response decoding) and
// converts results into the neutral types below, so the same flow runs against all of them.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	cbn "github.com/alibabacloud-go/cbn-20170912/v2/client"
	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	rpc "github.com/alibabacloud-go/tea-rpc/client"
	teautil "github.com/alibabacloud-go/tea-utils/service"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/alibabacloud-go/tea/tea"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	oldcbn "github.com/aliyun/alibaba-cloud-sdk-go/services/cbn"
)

// ---- neutral types -------------------------------------------------------------------

type Tag struct{ Key, Value string }

type Page struct{ PageNumber, PageSize, TotalCount int }

type Cen struct {
	CenId, Name, Description, CreationTime, Status, ProtectionLevel string
	Tags                                                            []Tag
}

type TR struct {
	TransitRouterId, TransitRouterName, TransitRouterDescription string
	CenId, RegionId, CreationTime, Status, Type                  string
	AliUid                                                       int64
	SupportMulticast                                             bool
	Tags                                                         []Tag
}

type Cidr struct {
	TransitRouterCidrId, TransitRouterId, Cidr, Name, Description, Family string
	PublishCidrRoute                                                      bool
}

type TagResource struct{ ResourceId, ResourceType, TagKey, TagValue string }

type Filter struct {
	Key    string
	Values []string
}

type CreateCenIn struct {
	Name, Description, ClientToken string
	Tags                           []Tag
}

type DescribeCensIn struct {
	Filters              []Filter
	Tags                 []Tag
	PageNumber, PageSize int
}

type ModifyCenIn struct{ CenId, Name, Description string }

type CreateTRIn struct {
	CenId, RegionId, Name, Description, ClientToken string
	Tags                                            []Tag
	DryRun                                          bool
}

type ListTRsIn struct {
	CenId, RegionId, TransitRouterId string
	PageNumber, PageSize             int
}

type UpdateTRIn struct{ TransitRouterId, RegionId, Name, Description string }

type CreateCidrIn struct {
	TransitRouterId, RegionId, Cidr, Name, Description string
	PublishCidrRoute                                   *bool
}

type TagIn struct {
	ResourceType, RegionId string
	ResourceIds            []string
	Tags                   []Tag
}

type UntagIn struct {
	ResourceType, RegionId string
	ResourceIds, TagKeys   []string
	All                    bool
}

type ListTagIn struct {
	ResourceType, RegionId string
	ResourceIds            []string
}

// cbnAPI is the part of Cbn 2017-09-12 this issue covers.
type cbnAPI interface {
	Style() string
	CreateCen(CreateCenIn) (string, error)
	DescribeCens(DescribeCensIn) ([]Cen, Page, error)
	ModifyCenAttribute(ModifyCenIn) error
	DeleteCen(cenID string) error
	CreateTransitRouter(CreateTRIn) (string, error)
	ListTransitRouters(ListTRsIn) ([]TR, Page, error)
	UpdateTransitRouter(UpdateTRIn) error
	DeleteTransitRouter(trID string) error
	CreateTransitRouterCidr(CreateCidrIn) (string, error)
	ListTransitRouterCidr(trID, regionID string) ([]Cidr, error)
	DeleteTransitRouterCidr(trID, regionID, cidrID string) error
	TagResources(TagIn) error
	UntagResources(UntagIn) error
	ListTagResources(ListTagIn) ([]TagResource, error)
}

const (
	styleACS3   = "darabonba-acs3"    // cbn-20170912/v2 default: ACS3-HMAC-SHA256, params in query
	styleTeaV2  = "darabonba-v2"      // same SDK, SignatureAlgorithm "v2": HMAC-SHA1 RPC
	styleSDKGo  = "alibaba-sdk-go"    // aliyun/alibaba-cloud-sdk-go services/cbn (aliyun CLI core)
	styleTeaRPC = "tea-rpc-terraform" // tea-rpc v1.2.0, everything in the form body (terraform RpcPost)
)

var allStyles = []string{styleACS3, styleTeaV2, styleSDKGo, styleTeaRPC}

// newClient returns a client of the given style talking to endpoint ("127.0.0.1:PORT").
func newClient(style, endpoint, ak, sk string) (cbnAPI, error) {
	switch style {
	case styleACS3, styleTeaV2:
		c, err := cbn.NewClient(daraConfig(style, endpoint, ak, sk))
		if err != nil {
			return nil, err
		}
		return &teaClient{style: style, c: c}, nil
	case styleSDKGo:
		c, err := oldcbn.NewClientWithOptions(regionHZ, sdkGoConfig(), credentials.NewAccessKeyCredential(ak, sk))
		if err != nil {
			return nil, err
		}
		c.Domain = endpoint
		return &sdkGoClient{c: c, endpoint: endpoint}, nil
	case styleTeaRPC:
		c, err := rpc.NewClient(teaRPCConfig(endpoint, ak, sk))
		if err != nil {
			return nil, err
		}
		return &teaRPCClient{c: c}, nil
	}
	return nil, fmt.Errorf("unknown client style %q", style)
}

// daraConfig configures a darabonba client (styleACS3 or styleTeaV2) of any product.
func daraConfig(style, endpoint, ak, sk string) *openapiutil.Config {
	cfg := &openapiutil.Config{
		AccessKeyId:     dara.String(ak),
		AccessKeySecret: dara.String(sk),
		RegionId:        dara.String(regionHZ),
		Endpoint:        dara.String(endpoint),
		Protocol:        dara.String("HTTP"),
		ReadTimeout:     dara.Int(20000),
		ConnectTimeout:  dara.Int(5000),
		HttpClient:      &ownHTTPClient{},
	}
	if style == styleTeaV2 {
		cfg.SignatureAlgorithm = dara.String("v2")
	}
	return cfg
}

// sdkGoConfig configures an alibaba-cloud-sdk-go client (styleSDKGo) of any product.
func sdkGoConfig() *sdk.Config { return sdk.NewConfig().WithScheme("HTTP").WithTimeout(0) }

// teaRPCConfig configures a tea-rpc client as Terraform's provider does (styleTeaRPC).
func teaRPCConfig(endpoint, ak, sk string) *rpc.Config {
	return &rpc.Config{
		AccessKeyId:     tea.String(ak),
		AccessKeySecret: tea.String(sk),
		RegionId:        tea.String(regionHZ),
		Endpoint:        tea.String(endpoint),
		Protocol:        tea.String("HTTP"),
		ReadTimeout:     tea.Int(20000),
		ConnectTimeout:  tea.Int(5000),
		UserAgent:       tea.String("Terraform/1.9.0 HashiCorp-terraform-exec/0.21.0 Terraform-Provider/1.289.0"),
	}
}

// ownHTTPClient gives each darabonba client its own http.Client. By default dara shares a
// pooled client per host and rewrites its Timeout on every request without holding the lock
// during Do (a data race inside tea/dara that `go test -race` reports when two clients run
// in parallel). The transport is still the one dara builds for the request.
type ownHTTPClient struct{}

func (ownHTTPClient) Call(req *http.Request, tr *http.Transport) (*http.Response, error) {
	return (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Do(req)
}

func sp(s string) *string {
	if s == "" {
		return nil
	}
	return dara.String(s)
}

func i32p(n int) *int32 {
	if n == 0 {
		return nil
	}
	v := int32(n)
	return &v
}

func sps(ss []string) []*string {
	if ss == nil {
		return nil
	}
	out := make([]*string, len(ss))
	for i, s := range ss {
		out[i] = dara.String(s)
	}
	return out
}

func sv(p *string) string { return dara.StringValue(p) }

// ---- (a)/(b) cbn-20170912/v2 on darabonba-openapi ------------------------------------------

type teaClient struct {
	style string
	c     *cbn.Client
}

func (a *teaClient) Style() string { return a.style }

func (a *teaClient) rt() *dara.RuntimeOptions { return &dara.RuntimeOptions{} }

func (a *teaClient) CreateCen(in CreateCenIn) (string, error) {
	req := &cbn.CreateCenRequest{Name: sp(in.Name), Description: sp(in.Description), ClientToken: sp(in.ClientToken)}
	for _, t := range in.Tags {
		req.Tag = append(req.Tag, &cbn.CreateCenRequestTag{Key: dara.String(t.Key), Value: dara.String(t.Value)})
	}
	resp, err := a.c.CreateCenWithOptions(req, a.rt())
	if err != nil {
		return "", err
	}
	return sv(resp.Body.CenId), nil
}

func (a *teaClient) DescribeCens(in DescribeCensIn) ([]Cen, Page, error) {
	req := &cbn.DescribeCensRequest{PageNumber: i32p(in.PageNumber), PageSize: i32p(in.PageSize)}
	for _, f := range in.Filters {
		req.Filter = append(req.Filter, &cbn.DescribeCensRequestFilter{Key: dara.String(f.Key), Value: sps(f.Values)})
	}
	for _, t := range in.Tags {
		req.Tag = append(req.Tag, &cbn.DescribeCensRequestTag{Key: dara.String(t.Key), Value: dara.String(t.Value)})
	}
	resp, err := a.c.DescribeCensWithOptions(req, a.rt())
	if err != nil {
		return nil, Page{}, err
	}
	b := resp.Body
	page := Page{int(dara.Int32Value(b.PageNumber)), int(dara.Int32Value(b.PageSize)), int(dara.Int32Value(b.TotalCount))}
	var out []Cen
	if b.Cens != nil {
		for _, c := range b.Cens.Cen {
			x := Cen{CenId: sv(c.CenId), Name: sv(c.Name), Description: sv(c.Description), CreationTime: sv(c.CreationTime),
				Status: sv(c.Status), ProtectionLevel: sv(c.ProtectionLevel)}
			if c.Tags != nil {
				for _, t := range c.Tags.Tag {
					x.Tags = append(x.Tags, Tag{sv(t.Key), sv(t.Value)})
				}
			}
			out = append(out, x)
		}
	}
	return out, page, nil
}

func (a *teaClient) ModifyCenAttribute(in ModifyCenIn) error {
	_, err := a.c.ModifyCenAttributeWithOptions(&cbn.ModifyCenAttributeRequest{CenId: sp(in.CenId), Name: sp(in.Name), Description: sp(in.Description)}, a.rt())
	return err
}

func (a *teaClient) DeleteCen(id string) error {
	_, err := a.c.DeleteCenWithOptions(&cbn.DeleteCenRequest{CenId: sp(id)}, a.rt())
	return err
}

func (a *teaClient) CreateTransitRouter(in CreateTRIn) (string, error) {
	req := &cbn.CreateTransitRouterRequest{CenId: sp(in.CenId), RegionId: sp(in.RegionId), TransitRouterName: sp(in.Name),
		TransitRouterDescription: sp(in.Description), ClientToken: sp(in.ClientToken)}
	if in.DryRun {
		req.DryRun = dara.Bool(true)
	}
	for _, t := range in.Tags {
		req.Tag = append(req.Tag, &cbn.CreateTransitRouterRequestTag{Key: dara.String(t.Key), Value: dara.String(t.Value)})
	}
	resp, err := a.c.CreateTransitRouterWithOptions(req, a.rt())
	if err != nil {
		return "", err
	}
	return sv(resp.Body.TransitRouterId), nil
}

func (a *teaClient) ListTransitRouters(in ListTRsIn) ([]TR, Page, error) {
	req := &cbn.ListTransitRoutersRequest{CenId: sp(in.CenId), RegionId: sp(in.RegionId), TransitRouterId: sp(in.TransitRouterId),
		PageNumber: i32p(in.PageNumber), PageSize: i32p(in.PageSize)}
	resp, err := a.c.ListTransitRoutersWithOptions(req, a.rt())
	if err != nil {
		return nil, Page{}, err
	}
	b := resp.Body
	page := Page{int(dara.Int32Value(b.PageNumber)), int(dara.Int32Value(b.PageSize)), int(dara.Int32Value(b.TotalCount))}
	var out []TR
	for _, r := range b.TransitRouters {
		x := TR{TransitRouterId: sv(r.TransitRouterId), TransitRouterName: sv(r.TransitRouterName),
			TransitRouterDescription: sv(r.TransitRouterDescription), CenId: sv(r.CenId), RegionId: sv(r.RegionId),
			CreationTime: sv(r.CreationTime), Status: sv(r.Status), Type: sv(r.Type), AliUid: dara.Int64Value(r.AliUid),
			SupportMulticast: dara.BoolValue(r.SupportMulticast)}
		for _, t := range r.Tags {
			x.Tags = append(x.Tags, Tag{sv(t.Key), sv(t.Value)})
		}
		out = append(out, x)
	}
	return out, page, nil
}

func (a *teaClient) UpdateTransitRouter(in UpdateTRIn) error {
	_, err := a.c.UpdateTransitRouterWithOptions(&cbn.UpdateTransitRouterRequest{TransitRouterId: sp(in.TransitRouterId),
		RegionId: sp(in.RegionId), TransitRouterName: sp(in.Name), TransitRouterDescription: sp(in.Description)}, a.rt())
	return err
}

func (a *teaClient) DeleteTransitRouter(id string) error {
	_, err := a.c.DeleteTransitRouterWithOptions(&cbn.DeleteTransitRouterRequest{TransitRouterId: sp(id)}, a.rt())
	return err
}

func (a *teaClient) CreateTransitRouterCidr(in CreateCidrIn) (string, error) {
	resp, err := a.c.CreateTransitRouterCidrWithOptions(&cbn.CreateTransitRouterCidrRequest{TransitRouterId: sp(in.TransitRouterId),
		RegionId: sp(in.RegionId), Cidr: sp(in.Cidr), Name: sp(in.Name), Description: sp(in.Description),
		PublishCidrRoute: in.PublishCidrRoute}, a.rt())
	if err != nil {
		return "", err
	}
	return sv(resp.Body.TransitRouterCidrId), nil
}

func (a *teaClient) ListTransitRouterCidr(trID, regionID string) ([]Cidr, error) {
	resp, err := a.c.ListTransitRouterCidrWithOptions(&cbn.ListTransitRouterCidrRequest{TransitRouterId: sp(trID), RegionId: sp(regionID)}, a.rt())
	if err != nil {
		return nil, err
	}
	var out []Cidr
	for _, c := range resp.Body.CidrLists {
		out = append(out, Cidr{TransitRouterCidrId: sv(c.TransitRouterCidrId), TransitRouterId: sv(c.TransitRouterId),
			Cidr: sv(c.Cidr), Name: sv(c.Name), Description: sv(c.Description), Family: sv(c.Family),
			PublishCidrRoute: dara.BoolValue(c.PublishCidrRoute)})
	}
	return out, nil
}

func (a *teaClient) DeleteTransitRouterCidr(trID, regionID, cidrID string) error {
	_, err := a.c.DeleteTransitRouterCidrWithOptions(&cbn.DeleteTransitRouterCidrRequest{TransitRouterId: sp(trID),
		RegionId: sp(regionID), TransitRouterCidrId: sp(cidrID)}, a.rt())
	return err
}

func (a *teaClient) TagResources(in TagIn) error {
	req := &cbn.TagResourcesRequest{ResourceType: sp(in.ResourceType), RegionId: sp(in.RegionId), ResourceId: sps(in.ResourceIds)}
	for _, t := range in.Tags {
		req.Tag = append(req.Tag, &cbn.TagResourcesRequestTag{Key: dara.String(t.Key), Value: dara.String(t.Value)})
	}
	_, err := a.c.TagResourcesWithOptions(req, a.rt())
	return err
}

func (a *teaClient) UntagResources(in UntagIn) error {
	req := &cbn.UntagResourcesRequest{ResourceType: sp(in.ResourceType), RegionId: sp(in.RegionId), ResourceId: sps(in.ResourceIds), TagKey: sps(in.TagKeys)}
	if in.All {
		req.All = dara.Bool(true)
	}
	_, err := a.c.UntagResourcesWithOptions(req, a.rt())
	return err
}

func (a *teaClient) ListTagResources(in ListTagIn) ([]TagResource, error) {
	resp, err := a.c.ListTagResourcesWithOptions(&cbn.ListTagResourcesRequest{ResourceType: sp(in.ResourceType),
		RegionId: sp(in.RegionId), ResourceId: sps(in.ResourceIds)}, a.rt())
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

// ---- (c) aliyun/alibaba-cloud-sdk-go services/cbn ------------------------------------------

type sdkGoClient struct {
	c        *oldcbn.Client
	endpoint string
}

func (a *sdkGoClient) Style() string { return styleSDKGo }

// prep points a request at the server. RegionId is left to the SDK (it adds the client's
// region, cn-hangzhou, when a request does not set one) unless a call sets it.
func (a *sdkGoClient) prep(r *requests.RpcRequest, region string) {
	r.Scheme = "http"
	r.Domain = a.endpoint
	if region != "" {
		r.RegionId = region
	}
}

func intParam(n int) requests.Integer {
	if n == 0 {
		return ""
	}
	return requests.NewInteger(n)
}

func (a *sdkGoClient) CreateCen(in CreateCenIn) (string, error) {
	req := oldcbn.CreateCreateCenRequest()
	a.prep(req.RpcRequest, "")
	req.Name, req.Description, req.ClientToken = in.Name, in.Description, in.ClientToken
	if len(in.Tags) > 0 {
		tags := make([]oldcbn.CreateCenTag, 0, len(in.Tags))
		for _, t := range in.Tags {
			tags = append(tags, oldcbn.CreateCenTag{Key: t.Key, Value: t.Value})
		}
		req.Tag = &tags
	}
	resp, err := a.c.CreateCen(req)
	if err != nil {
		return "", err
	}
	return resp.CenId, nil
}

func (a *sdkGoClient) DescribeCens(in DescribeCensIn) ([]Cen, Page, error) {
	req := oldcbn.CreateDescribeCensRequest()
	a.prep(req.RpcRequest, "")
	req.PageNumber, req.PageSize = intParam(in.PageNumber), intParam(in.PageSize)
	if len(in.Filters) > 0 {
		fs := make([]oldcbn.DescribeCensFilter, 0, len(in.Filters))
		for _, f := range in.Filters {
			vals := append([]string(nil), f.Values...)
			fs = append(fs, oldcbn.DescribeCensFilter{Key: f.Key, Value: &vals})
		}
		req.Filter = &fs
	}
	if len(in.Tags) > 0 {
		ts := make([]oldcbn.DescribeCensTag, 0, len(in.Tags))
		for _, t := range in.Tags {
			ts = append(ts, oldcbn.DescribeCensTag{Key: t.Key, Value: t.Value})
		}
		req.Tag = &ts
	}
	resp, err := a.c.DescribeCens(req)
	if err != nil {
		return nil, Page{}, err
	}
	page := Page{resp.PageNumber, resp.PageSize, resp.TotalCount}
	var out []Cen
	for _, c := range resp.Cens.Cen {
		x := Cen{CenId: c.CenId, Name: c.Name, Description: c.Description, CreationTime: c.CreationTime, Status: c.Status, ProtectionLevel: c.ProtectionLevel}
		for _, t := range c.Tags.Tag {
			x.Tags = append(x.Tags, Tag{t.Key, t.Value})
		}
		out = append(out, x)
	}
	return out, page, nil
}

func (a *sdkGoClient) ModifyCenAttribute(in ModifyCenIn) error {
	req := oldcbn.CreateModifyCenAttributeRequest()
	a.prep(req.RpcRequest, "")
	req.CenId, req.Name, req.Description = in.CenId, in.Name, in.Description
	_, err := a.c.ModifyCenAttribute(req)
	return err
}

func (a *sdkGoClient) DeleteCen(id string) error {
	req := oldcbn.CreateDeleteCenRequest()
	a.prep(req.RpcRequest, "")
	req.CenId = id
	_, err := a.c.DeleteCen(req)
	return err
}

func (a *sdkGoClient) CreateTransitRouter(in CreateTRIn) (string, error) {
	req := oldcbn.CreateCreateTransitRouterRequest()
	a.prep(req.RpcRequest, in.RegionId)
	req.CenId, req.TransitRouterName, req.TransitRouterDescription, req.ClientToken = in.CenId, in.Name, in.Description, in.ClientToken
	if in.DryRun {
		req.DryRun = requests.NewBoolean(true)
	}
	if len(in.Tags) > 0 {
		ts := make([]oldcbn.CreateTransitRouterTag, 0, len(in.Tags))
		for _, t := range in.Tags {
			ts = append(ts, oldcbn.CreateTransitRouterTag{Key: t.Key, Value: t.Value})
		}
		req.Tag = &ts
	}
	resp, err := a.c.CreateTransitRouter(req)
	if err != nil {
		return "", err
	}
	return resp.TransitRouterId, nil
}

func (a *sdkGoClient) ListTransitRouters(in ListTRsIn) ([]TR, Page, error) {
	req := oldcbn.CreateListTransitRoutersRequest()
	a.prep(req.RpcRequest, in.RegionId)
	req.CenId, req.TransitRouterId = in.CenId, in.TransitRouterId
	req.PageNumber, req.PageSize = intParam(in.PageNumber), intParam(in.PageSize)
	resp, err := a.c.ListTransitRouters(req)
	if err != nil {
		return nil, Page{}, err
	}
	page := Page{resp.PageNumber, resp.PageSize, resp.TotalCount}
	var out []TR
	for _, r := range resp.TransitRouters {
		x := TR{TransitRouterId: r.TransitRouterId, TransitRouterName: r.TransitRouterName, TransitRouterDescription: r.TransitRouterDescription,
			CenId: r.CenId, RegionId: r.RegionId, CreationTime: r.CreationTime, Status: r.Status, Type: r.Type, AliUid: r.AliUid,
			SupportMulticast: r.SupportMulticast}
		for _, t := range r.Tags {
			x.Tags = append(x.Tags, Tag{t.Key, t.Value})
		}
		out = append(out, x)
	}
	return out, page, nil
}

func (a *sdkGoClient) UpdateTransitRouter(in UpdateTRIn) error {
	req := oldcbn.CreateUpdateTransitRouterRequest()
	a.prep(req.RpcRequest, in.RegionId)
	req.TransitRouterId, req.TransitRouterName, req.TransitRouterDescription = in.TransitRouterId, in.Name, in.Description
	_, err := a.c.UpdateTransitRouter(req)
	return err
}

func (a *sdkGoClient) DeleteTransitRouter(id string) error {
	req := oldcbn.CreateDeleteTransitRouterRequest()
	a.prep(req.RpcRequest, "")
	req.TransitRouterId = id
	_, err := a.c.DeleteTransitRouter(req)
	return err
}

func (a *sdkGoClient) CreateTransitRouterCidr(in CreateCidrIn) (string, error) {
	req := oldcbn.CreateCreateTransitRouterCidrRequest()
	a.prep(req.RpcRequest, in.RegionId)
	req.TransitRouterId, req.Cidr, req.Name, req.Description = in.TransitRouterId, in.Cidr, in.Name, in.Description
	if in.PublishCidrRoute != nil {
		req.PublishCidrRoute = requests.NewBoolean(*in.PublishCidrRoute)
	}
	resp, err := a.c.CreateTransitRouterCidr(req)
	if err != nil {
		return "", err
	}
	return resp.TransitRouterCidrId, nil
}

func (a *sdkGoClient) ListTransitRouterCidr(trID, regionID string) ([]Cidr, error) {
	req := oldcbn.CreateListTransitRouterCidrRequest()
	a.prep(req.RpcRequest, regionID)
	req.TransitRouterId = trID
	resp, err := a.c.ListTransitRouterCidr(req)
	if err != nil {
		return nil, err
	}
	var out []Cidr
	for _, c := range resp.CidrLists {
		out = append(out, Cidr{TransitRouterCidrId: c.TransitRouterCidrId, TransitRouterId: c.TransitRouterId, Cidr: c.Cidr,
			Name: c.Name, Description: c.Description, Family: c.Family, PublishCidrRoute: c.PublishCidrRoute})
	}
	return out, nil
}

func (a *sdkGoClient) DeleteTransitRouterCidr(trID, regionID, cidrID string) error {
	req := oldcbn.CreateDeleteTransitRouterCidrRequest()
	a.prep(req.RpcRequest, regionID)
	req.TransitRouterId, req.TransitRouterCidrId = trID, cidrID
	_, err := a.c.DeleteTransitRouterCidr(req)
	return err
}

func (a *sdkGoClient) TagResources(in TagIn) error {
	req := oldcbn.CreateTagResourcesRequest()
	a.prep(req.RpcRequest, in.RegionId)
	req.ResourceType = in.ResourceType
	ids := append([]string(nil), in.ResourceIds...)
	req.ResourceId = &ids
	ts := make([]oldcbn.TagResourcesTag, 0, len(in.Tags))
	for _, t := range in.Tags {
		ts = append(ts, oldcbn.TagResourcesTag{Key: t.Key, Value: t.Value})
	}
	req.Tag = &ts
	_, err := a.c.TagResources(req)
	return err
}

func (a *sdkGoClient) UntagResources(in UntagIn) error {
	req := oldcbn.CreateUntagResourcesRequest()
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
	_, err := a.c.UntagResources(req)
	return err
}

func (a *sdkGoClient) ListTagResources(in ListTagIn) ([]TagResource, error) {
	req := oldcbn.CreateListTagResourcesRequest()
	a.prep(req.RpcRequest, in.RegionId)
	req.ResourceType = in.ResourceType
	if len(in.ResourceIds) > 0 {
		ids := append([]string(nil), in.ResourceIds...)
		req.ResourceId = &ids
	}
	resp, err := a.c.ListTagResources(req)
	if err != nil {
		return nil, err
	}
	var out []TagResource
	for _, r := range resp.TagResources.TagResource {
		out = append(out, TagResource{r.ResourceId, r.ResourceType, r.TagKey, r.TagValue})
	}
	return out, nil
}

// ---- (d) tea-rpc v1.2.0 the way terraform-provider-alicloud's RpcPost uses it --------------
//
// Everything goes into the form body; the query holds only what tea-rpc adds (Action,
// Version, Format, Timestamp, SignatureNonce, SignatureMethod, SignatureVersion,
// AccessKeyId, Signature). Responses are the generic map terraform navigates; they are
// decoded here with encoding/json into the declared types, so a wrong JSON shape or type
// (e.g. a string where a number or an object is declared) fails loudly.

type teaRPCClient struct{ c *rpc.Client }

func (a *teaRPCClient) Style() string { return styleTeaRPC }

func (a *teaRPCClient) call(action string, body map[string]interface{}) (map[string]interface{}, error) {
	rt := &teautil.RuntimeOptions{}
	rt.SetAutoretry(true) // as terraform does; tea only retries transport errors
	resp, err := a.c.DoRequest(tea.String(action), nil, tea.String("POST"), tea.String("2017-09-12"), tea.String("AK"), nil, body, rt)
	if err != nil {
		return nil, err
	}
	if id, _ := resp["RequestId"].(string); id == "" {
		return nil, fmt.Errorf("%s: success body lacks a string RequestId: %v", action, resp)
	}
	// terraform's formatError turns a 2xx body with another Code or Success=false into an error.
	if code, ok := resp["Code"]; ok {
		return nil, fmt.Errorf("%s: success body carries Code %v (terraform treats that as an error)", action, code)
	}
	if succ, ok := resp["Success"]; ok && succ != true {
		return nil, fmt.Errorf("%s: success body carries Success=%v", action, succ)
	}
	return resp, nil
}

func addTags(body map[string]interface{}, prefix string, tags []Tag) {
	for i, t := range tags {
		body[fmt.Sprintf("%s.%d.Key", prefix, i+1)] = t.Key
		body[fmt.Sprintf("%s.%d.Value", prefix, i+1)] = t.Value
	}
}

func addList(body map[string]interface{}, prefix string, vals []string) {
	for i, v := range vals {
		body[fmt.Sprintf("%s.%d", prefix, i+1)] = v
	}
}

func setIf(body map[string]interface{}, key, val string) {
	if val != "" {
		body[key] = val
	}
}

func setInt(body map[string]interface{}, key string, n int) {
	if n != 0 {
		body[key] = strconv.Itoa(n)
	}
}

// decodeStrict re-encodes the generic response map and decodes it with encoding/json into
// v, so the declared JSON types are enforced.
func decodeStrict(action string, m map[string]interface{}, v interface{}) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: response does not match the declared shape/types: %v\nbody: %s", action, err, b)
	}
	return nil
}

func needString(action string, m map[string]interface{}, key string) (string, error) {
	v, ok := m[key].(string)
	if !ok {
		return "", fmt.Errorf("%s: response field %q is %T (%v), want a JSON string", action, key, m[key], m[key])
	}
	return v, nil
}

func (a *teaRPCClient) CreateCen(in CreateCenIn) (string, error) {
	body := map[string]interface{}{}
	setIf(body, "Name", in.Name)
	setIf(body, "Description", in.Description)
	setIf(body, "ClientToken", in.ClientToken)
	addTags(body, "Tag", in.Tags)
	resp, err := a.call("CreateCen", body)
	if err != nil {
		return "", err
	}
	return needString("CreateCen", resp, "CenId")
}

type rpcTagKV struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

func (a *teaRPCClient) DescribeCens(in DescribeCensIn) ([]Cen, Page, error) {
	body := map[string]interface{}{}
	for i, f := range in.Filters {
		body[fmt.Sprintf("Filter.%d.Key", i+1)] = f.Key
		addList(body, fmt.Sprintf("Filter.%d.Value", i+1), f.Values)
	}
	addTags(body, "Tag", in.Tags)
	setInt(body, "PageNumber", in.PageNumber)
	setInt(body, "PageSize", in.PageSize)
	resp, err := a.call("DescribeCens", body)
	if err != nil {
		return nil, Page{}, err
	}
	var r struct {
		RequestId  string `json:"RequestId"`
		PageNumber int    `json:"PageNumber"`
		PageSize   int    `json:"PageSize"`
		TotalCount int    `json:"TotalCount"`
		Cens       struct {
			Cen []struct {
				CenId, Name, Description, CreationTime, Status, ProtectionLevel string
				Tags                                                            struct {
					Tag []rpcTagKV `json:"Tag"`
				} `json:"Tags"`
				CenBandwidthPackageIds struct {
					CenBandwidthPackageId []string `json:"CenBandwidthPackageId"`
				} `json:"CenBandwidthPackageIds"`
			} `json:"Cen"`
		} `json:"Cens"`
	}
	if err := decodeStrict("DescribeCens", resp, &r); err != nil {
		return nil, Page{}, err
	}
	err = checkKeys("DescribeCens", resp, "RequestId", "PageNumber", "PageSize", "TotalCount", "Cens{}")
	if err == nil {
		err = checkKeys("DescribeCens.Cens", dig(resp, "Cens"), "Cen[]")
	}
	if err != nil {
		return nil, Page{}, err
	}
	if err := checkEach("DescribeCens.Cens.Cen", dig(resp, "Cens", "Cen"), "CenId", "Name", "Description", "Status", "CreationTime", "ProtectionLevel"); err != nil {
		return nil, Page{}, err
	}
	var out []Cen
	for _, c := range r.Cens.Cen {
		x := Cen{CenId: c.CenId, Name: c.Name, Description: c.Description, CreationTime: c.CreationTime, Status: c.Status, ProtectionLevel: c.ProtectionLevel}
		for _, t := range c.Tags.Tag {
			x.Tags = append(x.Tags, Tag(t))
		}
		out = append(out, x)
	}
	return out, Page{r.PageNumber, r.PageSize, r.TotalCount}, nil
}

func (a *teaRPCClient) ModifyCenAttribute(in ModifyCenIn) error {
	body := map[string]interface{}{}
	setIf(body, "CenId", in.CenId)
	setIf(body, "Name", in.Name)
	setIf(body, "Description", in.Description)
	_, err := a.call("ModifyCenAttribute", body)
	return err
}

func (a *teaRPCClient) DeleteCen(id string) error {
	body := map[string]interface{}{}
	setIf(body, "CenId", id)
	_, err := a.call("DeleteCen", body)
	return err
}

func (a *teaRPCClient) CreateTransitRouter(in CreateTRIn) (string, error) {
	body := map[string]interface{}{}
	setIf(body, "CenId", in.CenId)
	setIf(body, "RegionId", in.RegionId)
	setIf(body, "TransitRouterName", in.Name)
	setIf(body, "TransitRouterDescription", in.Description)
	setIf(body, "ClientToken", in.ClientToken)
	body["SupportMulticast"] = false // terraform always sends its default
	if in.DryRun {
		body["DryRun"] = true
	}
	addTags(body, "Tag", in.Tags)
	resp, err := a.call("CreateTransitRouter", body)
	if err != nil {
		return "", err
	}
	return needString("CreateTransitRouter", resp, "TransitRouterId")
}

func (a *teaRPCClient) ListTransitRouters(in ListTRsIn) ([]TR, Page, error) {
	body := map[string]interface{}{}
	setIf(body, "CenId", in.CenId)
	setIf(body, "RegionId", in.RegionId)
	setIf(body, "TransitRouterId", in.TransitRouterId)
	setInt(body, "PageNumber", in.PageNumber)
	setInt(body, "PageSize", in.PageSize)
	resp, err := a.call("ListTransitRouters", body)
	if err != nil {
		return nil, Page{}, err
	}
	var r struct {
		PageNumber     int `json:"PageNumber"`
		PageSize       int `json:"PageSize"`
		TotalCount     int `json:"TotalCount"`
		TransitRouters []struct {
			TransitRouterId, TransitRouterName, TransitRouterDescription string
			CenId, RegionId, CreationTime, Status, Type                  string
			AliUid                                                       int64
			SupportMulticast                                             bool
			Tags                                                         []rpcTagKV
		} `json:"TransitRouters"`
	}
	if err := decodeStrict("ListTransitRouters", resp, &r); err != nil {
		return nil, Page{}, err
	}
	if err := checkKeys("ListTransitRouters", resp, "RequestId", "PageNumber", "PageSize", "TotalCount", "TransitRouters[]"); err != nil {
		return nil, Page{}, err
	}
	if err := checkEach("ListTransitRouters.TransitRouters", dig(resp, "TransitRouters"), "TransitRouterId", "TransitRouterName",
		"TransitRouterDescription", "CenId", "RegionId", "AliUid", "CreationTime", "Status", "Type", "SupportMulticast"); err != nil {
		return nil, Page{}, err
	}
	var out []TR
	for _, x := range r.TransitRouters {
		t := TR{TransitRouterId: x.TransitRouterId, TransitRouterName: x.TransitRouterName, TransitRouterDescription: x.TransitRouterDescription,
			CenId: x.CenId, RegionId: x.RegionId, CreationTime: x.CreationTime, Status: x.Status, Type: x.Type, AliUid: x.AliUid,
			SupportMulticast: x.SupportMulticast}
		for _, tg := range x.Tags {
			t.Tags = append(t.Tags, Tag(tg))
		}
		out = append(out, t)
	}
	return out, Page{r.PageNumber, r.PageSize, r.TotalCount}, nil
}

func (a *teaRPCClient) UpdateTransitRouter(in UpdateTRIn) error {
	body := map[string]interface{}{}
	setIf(body, "TransitRouterId", in.TransitRouterId)
	setIf(body, "RegionId", in.RegionId)
	setIf(body, "TransitRouterName", in.Name)
	setIf(body, "TransitRouterDescription", in.Description)
	_, err := a.call("UpdateTransitRouter", body)
	return err
}

func (a *teaRPCClient) DeleteTransitRouter(id string) error {
	body := map[string]interface{}{}
	setIf(body, "TransitRouterId", id)
	_, err := a.call("DeleteTransitRouter", body)
	return err
}

func (a *teaRPCClient) CreateTransitRouterCidr(in CreateCidrIn) (string, error) {
	body := map[string]interface{}{}
	setIf(body, "TransitRouterId", in.TransitRouterId)
	setIf(body, "RegionId", in.RegionId)
	setIf(body, "Cidr", in.Cidr)
	setIf(body, "Name", in.Name)
	setIf(body, "Description", in.Description)
	if in.PublishCidrRoute != nil {
		body["PublishCidrRoute"] = *in.PublishCidrRoute
	}
	resp, err := a.call("CreateTransitRouterCidr", body)
	if err != nil {
		return "", err
	}
	return needString("CreateTransitRouterCidr", resp, "TransitRouterCidrId")
}

func (a *teaRPCClient) ListTransitRouterCidr(trID, regionID string) ([]Cidr, error) {
	body := map[string]interface{}{}
	setIf(body, "TransitRouterId", trID)
	setIf(body, "RegionId", regionID)
	resp, err := a.call("ListTransitRouterCidr", body)
	if err != nil {
		return nil, err
	}
	var r struct {
		CidrLists []struct {
			TransitRouterCidrId, TransitRouterId, Cidr, Name, Description, Family string
			PublishCidrRoute                                                      bool
		} `json:"CidrLists"`
	}
	if err := decodeStrict("ListTransitRouterCidr", resp, &r); err != nil {
		return nil, err
	}
	if err := checkKeys("ListTransitRouterCidr", resp, "RequestId", "CidrLists[]"); err != nil {
		return nil, err
	}
	if err := checkEach("ListTransitRouterCidr.CidrLists", dig(resp, "CidrLists"), "TransitRouterCidrId", "TransitRouterId", "Cidr",
		"Name", "Description", "PublishCidrRoute"); err != nil {
		return nil, err
	}
	var out []Cidr
	for _, c := range r.CidrLists {
		out = append(out, Cidr(c))
	}
	return out, nil
}

func (a *teaRPCClient) DeleteTransitRouterCidr(trID, regionID, cidrID string) error {
	body := map[string]interface{}{}
	setIf(body, "TransitRouterId", trID)
	setIf(body, "RegionId", regionID)
	setIf(body, "TransitRouterCidrId", cidrID)
	_, err := a.call("DeleteTransitRouterCidr", body)
	return err
}

func (a *teaRPCClient) TagResources(in TagIn) error {
	body := map[string]interface{}{}
	setIf(body, "ResourceType", in.ResourceType)
	setIf(body, "RegionId", in.RegionId)
	addList(body, "ResourceId", in.ResourceIds)
	addTags(body, "Tag", in.Tags)
	_, err := a.call("TagResources", body)
	return err
}

func (a *teaRPCClient) UntagResources(in UntagIn) error {
	body := map[string]interface{}{}
	setIf(body, "ResourceType", in.ResourceType)
	setIf(body, "RegionId", in.RegionId)
	addList(body, "ResourceId", in.ResourceIds)
	addList(body, "TagKey", in.TagKeys)
	if in.All {
		body["All"] = true
	}
	_, err := a.call("UntagResources", body)
	return err
}

func (a *teaRPCClient) ListTagResources(in ListTagIn) ([]TagResource, error) {
	body := map[string]interface{}{}
	setIf(body, "ResourceType", in.ResourceType)
	setIf(body, "RegionId", in.RegionId)
	addList(body, "ResourceId", in.ResourceIds)
	resp, err := a.call("ListTagResources", body)
	if err != nil {
		return nil, err
	}
	var r struct {
		NextToken    string `json:"NextToken"`
		TagResources struct {
			TagResource []TagResource `json:"TagResource"`
		} `json:"TagResources"`
	}
	if err := decodeStrict("ListTagResources", resp, &r); err != nil {
		return nil, err
	}
	err = checkKeys("ListTagResources", resp, "RequestId", "TagResources{}")
	if err == nil {
		err = checkKeys("ListTagResources.TagResources", dig(resp, "TagResources"), "TagResource[]")
	}
	if err != nil {
		return nil, err
	}
	if err := checkEach("ListTagResources.TagResources.TagResource", dig(resp, "TagResources", "TagResource"), "ResourceId", "ResourceType", "TagKey", "TagValue"); err != nil {
		return nil, err
	}
	return r.TagResources.TagResource, nil
}
