package contract

// Inter-region connections (transit router peer attachments) and the CEN bandwidth
// packages they take bandwidth from, through the stock clients the way their users call
// them: peer attachments with the typed cbn-20170912/v2 SDK (ACS3) and terraform's
// tea-rpc RpcPost (alicloud_cen_transit_router_peer_attachment), bandwidth packages with
// alibaba-cloud-sdk-go services/cbn (alicloud_cen_bandwidth_package and
// alicloud_cen_bandwidth_package_attachment).

import (
	"fmt"
	"net/http"
	"testing"

	cbn "github.com/alibabacloud-go/cbn-20170912/v2/client"
	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	rpc "github.com/alibabacloud-go/tea-rpc/client"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	oldcbn "github.com/aliyun/alibaba-cloud-sdk-go/services/cbn"

	"opencen/internal/testserver"
)

// peerLab holds the clients of one account.
type peerLab struct {
	t        *testing.T
	endpoint string
	c        *cbn.Client    // cbn-20170912/v2, ACS3
	old      *oldcbn.Client // alibaba-cloud-sdk-go services/cbn
	tf       *teaRPCClient  // tea-rpc as terraform's RpcPost
	cb       cbnAPI
}

func newPeerLab(t *testing.T, srv *testserver.Server, acct testserver.Account) *peerLab {
	l := &peerLab{t: t, endpoint: srv.Endpoint}
	var err error
	cfg := &openapiutil.Config{AccessKeyId: dara.String(acct.AccessKeyID), AccessKeySecret: dara.String(acct.AccessKeySecret),
		RegionId: dara.String(regionHZ), Endpoint: dara.String(srv.Endpoint), Protocol: dara.String("HTTP"),
		ReadTimeout: dara.Int(20000), ConnectTimeout: dara.Int(5000), HttpClient: &ownHTTPClient{}}
	if l.c, err = cbn.NewClient(cfg); err != nil {
		t.Fatal(err)
	}
	if l.old, err = oldcbn.NewClientWithOptions(regionHZ, sdk.NewConfig().WithScheme("HTTP").WithTimeout(0),
		credentials.NewAccessKeyCredential(acct.AccessKeyID, acct.AccessKeySecret)); err != nil {
		t.Fatal(err)
	}
	rc, err := rpc.NewClient(teaRPCConfig(srv.Endpoint, acct.AccessKeyID, acct.AccessKeySecret))
	if err != nil {
		t.Fatal(err)
	}
	l.tf = &teaRPCClient{c: rc}
	l.cb = client(t, styleACS3, srv.Endpoint, acct)
	return l
}

func (l *peerLab) oldReq(r *requests.RpcRequest) {
	r.Scheme = "http"
	r.Domain = l.endpoint
}

// peer returns an inter-region connection by ID as ListTransitRouterPeerAttachments shows
// it (nil when absent), optionally seen from router tr.
func (l *peerLab) peer(id, tr string) *cbn.ListTransitRouterPeerAttachmentsResponseBodyTransitRouterAttachments {
	l.t.Helper()
	req := &cbn.ListTransitRouterPeerAttachmentsRequest{TransitRouterAttachmentId: sp(id)}
	if tr != "" {
		req.TransitRouterId = sp(tr)
	}
	resp := must[*cbn.ListTransitRouterPeerAttachmentsResponse](l.t, "ListTransitRouterPeerAttachments")(l.c.ListTransitRouterPeerAttachmentsWithOptions(req, rtOpts()))
	if n := len(resp.Body.TransitRouterAttachments); n == 0 {
		return nil
	} else if n > 1 {
		l.t.Fatalf("ListTransitRouterPeerAttachments(%s) = %d items", id, n)
	}
	return resp.Body.TransitRouterAttachments[0]
}

func (l *peerLab) waitPeer(id, want string) {
	l.t.Helper()
	waitFor(l.t, "inter-region connection "+id+" "+want, func() (bool, string, error) {
		a := l.peer(id, "")
		if a == nil {
			return want == "", "<absent>", nil
		}
		return sv(a.Status) == want, sv(a.Status), nil
	})
}

func (l *peerLab) createPeer(req *cbn.CreateTransitRouterPeerAttachmentRequest) (string, error) {
	resp, err := l.c.CreateTransitRouterPeerAttachmentWithOptions(req, rtOpts())
	if err != nil {
		return "", err
	}
	return sv(resp.Body.TransitRouterAttachmentId), nil
}

// bwp returns a bandwidth package as terraform reads it (Filter CenBandwidthPackageId).
func (l *peerLab) bwp(id string) *oldcbn.CenBandwidthPackage {
	l.t.Helper()
	req := oldcbn.CreateDescribeCenBandwidthPackagesRequest()
	l.oldReq(req.RpcRequest)
	req.Filter = &[]oldcbn.DescribeCenBandwidthPackagesFilter{{Key: "CenBandwidthPackageId", Value: &[]string{id}}}
	resp := must[*oldcbn.DescribeCenBandwidthPackagesResponse](l.t, "DescribeCenBandwidthPackages")(l.old.DescribeCenBandwidthPackages(req))
	for i := range resp.CenBandwidthPackages.CenBandwidthPackage {
		if p := &resp.CenBandwidthPackages.CenBandwidthPackage[i]; p.CenBandwidthPackageId == id {
			return p
		}
	}
	return nil
}

func TestPeerAttachmentsAndBandwidthPackages(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	acct := srv.CreateAccount(t, "peer")
	l := newPeerLab(t, srv, acct)
	uid := accountUID(t, acct)

	cen := createActiveCen(t, l.cb, uniq("peer"))
	hz := createActiveTR(t, l.cb, cen, regionHZ)
	sh := createActiveTR(t, l.cb, cen, regionSH)
	other := createActiveCen(t, l.cb, uniq("other"))
	otherSH := createActiveTR(t, l.cb, other, regionSH)

	// ---- a bandwidth package as terraform buys and binds it ------------------------------
	create := oldcbn.CreateCreateCenBandwidthPackageRequest()
	l.oldReq(create.RpcRequest)
	create.Bandwidth = requests.NewInteger(50)
	create.GeographicRegionAId, create.GeographicRegionBId = "China", "China"
	create.BandwidthPackageChargeType, create.Name, create.Description = "POSTPAY", "plan", "fifty"
	create.AutoPay = requests.NewBoolean(true)
	bwpID := must[*oldcbn.CreateCenBandwidthPackageResponse](t, "CreateCenBandwidthPackage")(l.old.CreateCenBandwidthPackage(create)).CenBandwidthPackageId
	p := l.bwp(bwpID)
	if p == nil || p.Status != "Idle" || p.Bandwidth != 50 || p.GeographicRegionAId != "china" || p.GeographicRegionBId != "china" ||
		p.BandwidthPackageChargeType != "POSTPAY" || p.Name != "plan" || p.Description != "fifty" || len(p.CenIds.CenId) != 0 || p.GeographicSpanId != "china_china" {
		t.Fatalf("new bandwidth package = %+v, want Idle POSTPAY 50 Mbit/s china-china, bound to nothing", p)
	}
	checkCreationTime(t, "bandwidth package CreationTime", p.CreationTime)

	// Bandwidth from a package that is not bound to the CEN.
	_, err := l.createPeer(&cbn.CreateTransitRouterPeerAttachmentRequest{RegionId: sp(regionHZ), TransitRouterId: sp(hz), PeerTransitRouterId: sp(sh),
		Bandwidth: i32p(10), CenBandwidthPackageId: sp(bwpID)})
	expectAPIError(t, "peer attachment from an unbound package", err, http.StatusBadRequest, "InvalidOperation.BwpNotAssociated")

	assoc := oldcbn.CreateAssociateCenBandwidthPackageRequest()
	l.oldReq(assoc.RpcRequest)
	assoc.CenId, assoc.CenBandwidthPackageId = cen, bwpID
	must[*oldcbn.AssociateCenBandwidthPackageResponse](t, "AssociateCenBandwidthPackage")(l.old.AssociateCenBandwidthPackage(assoc))
	if p := l.bwp(bwpID); p.Status != "InUse" || len(p.CenIds.CenId) != 1 || p.CenIds.CenId[0] != cen {
		t.Fatalf("bound package = %+v, want InUse with CenIds [%s]", p, cen)
	}
	assoc.CenId = other
	_, err = l.old.AssociateCenBandwidthPackage(assoc)
	expectAPIError(t, "binding a bound package to another CEN", err, http.StatusBadRequest, "InvalidOperation.BwpAlreadyAssociated")
	if cens, _, err := l.cb.DescribeCens(DescribeCensIn{Filters: []Filter{{Key: "CenId", Values: []string{cen}}}}); err != nil || len(cens) != 1 {
		t.Fatalf("DescribeCens: %v %v", cens, err)
	}
	raw := must[map[string]interface{}](t, "DescribeCens (terraform)")(l.tf.call("DescribeCens", map[string]interface{}{"Filter.1.Key": "CenId", "Filter.1.Value.1": cen}))
	if ids := dig(raw, "Cens", "Cen"); fmt.Sprint(dig(ids.([]interface{})[0], "CenBandwidthPackageIds", "CenBandwidthPackageId")) != "["+bwpID+"]" {
		t.Errorf("DescribeCens CenBandwidthPackageIds = %v, want [%s]", dig(ids.([]interface{})[0], "CenBandwidthPackageIds"), bwpID)
	}

	// ---- errors of CreateTransitRouterPeerAttachment -------------------------------------
	base := func() *cbn.CreateTransitRouterPeerAttachmentRequest {
		return &cbn.CreateTransitRouterPeerAttachmentRequest{RegionId: sp(regionHZ), TransitRouterId: sp(hz), PeerTransitRouterId: sp(sh),
			PeerTransitRouterRegionId: sp(regionSH), Bandwidth: i32p(30), BandwidthType: sp("BandwidthPackage"), CenBandwidthPackageId: sp(bwpID)}
	}
	for _, c := range []struct {
		what   string
		edit   func(*cbn.CreateTransitRouterPeerAttachmentRequest)
		status int
		code   string
	}{
		{"the same region", func(r *cbn.CreateTransitRouterPeerAttachmentRequest) {
			r.PeerTransitRouterId, r.PeerTransitRouterRegionId = sp(hz), sp(regionHZ)
		}, 400, "OperationUnsupported.SameRegion"},
		{"two routers of different CENs", func(r *cbn.CreateTransitRouterPeerAttachmentRequest) { r.PeerTransitRouterId = sp(otherSH) }, 400, "OperationFailed.DifferentCen"},
		{"an unknown peer", func(r *cbn.CreateTransitRouterPeerAttachmentRequest) {
			r.PeerTransitRouterId = sp("tr-nosuchrouter0000000")
		}, 404, "InvalidPeerTransitRouterId.NotFound"},
		{"the peer in another region than said", func(r *cbn.CreateTransitRouterPeerAttachmentRequest) { r.PeerTransitRouterRegionId = sp(regionHZ) }, 404, "InvalidPeerTransitRouterId.NotFound"},
		{"no peer", func(r *cbn.CreateTransitRouterPeerAttachmentRequest) { r.PeerTransitRouterId = nil }, 400, "MissingPeerTransitRouterId"},
		{"bandwidth without a package", func(r *cbn.CreateTransitRouterPeerAttachmentRequest) { r.CenBandwidthPackageId = nil }, 400, "MissingCenBandwidthPackageId"},
		{"more than the package has", func(r *cbn.CreateTransitRouterPeerAttachmentRequest) { r.Bandwidth = i32p(51) }, 400, "OperationFailed.InsufficientBandwidth"},
		{"a package with DataTransfer", func(r *cbn.CreateTransitRouterPeerAttachmentRequest) { r.BandwidthType = sp("DataTransfer") }, 400, "InvalidCenBandwidthPackageId"},
		{"Platinum from a package", func(r *cbn.CreateTransitRouterPeerAttachmentRequest) { r.DefaultLinkType = sp("Platinum") }, 400, "InvalidDefaultLinkType"},
		{"an unknown bandwidth type", func(r *cbn.CreateTransitRouterPeerAttachmentRequest) { r.BandwidthType = sp("Free") }, 400, "InvalidBandwidthType"},
		{"an unknown package", func(r *cbn.CreateTransitRouterPeerAttachmentRequest) { r.CenBandwidthPackageId = sp("cenbwp-nosuch") }, 404, "InvalidCenBandwidthPackageId.NotFound"},
		{"DryRun", func(r *cbn.CreateTransitRouterPeerAttachmentRequest) { r.DryRun = dara.Bool(true) }, 400, "DryRunOperation"},
	} {
		r := base()
		c.edit(r)
		_, err := l.createPeer(r)
		e := expectAPIError(t, c.what, err, c.status, c.code)
		if e != nil && e.Message == "" {
			t.Errorf("%s: empty message", c.what)
		}
	}
	if all := must[*cbn.ListTransitRouterPeerAttachmentsResponse](t, "List")(l.c.ListTransitRouterPeerAttachmentsWithOptions(
		&cbn.ListTransitRouterPeerAttachmentsRequest{CenId: sp(cen)}, rtOpts())); len(all.Body.TransitRouterAttachments) != 0 {
		t.Fatalf("failed creations left inter-region connections: %+v", all.Body.TransitRouterAttachments)
	}

	// ---- create, idempotently ------------------------------------------------------------
	req := base()
	req.TransitRouterAttachmentName, req.TransitRouterAttachmentDescription = sp("hz-sh"), sp("across")
	req.AutoPublishRouteEnabled, req.DefaultLinkType, req.ClientToken = dara.Bool(true), sp("Gold"), sp(uniq("tok"))
	req.Tag = []*cbn.CreateTransitRouterPeerAttachmentRequestTag{{Key: sp("env"), Value: sp("test")}}
	att := must[string](t, "CreateTransitRouterPeerAttachment")(l.createPeer(req))
	if again := must[string](t, "CreateTransitRouterPeerAttachment again")(l.createPeer(req)); again != att {
		t.Fatalf("same ClientToken gave %s, then %s", att, again)
	}
	if a := l.peer(att, ""); a == nil || (sv(a.Status) != "Attaching" && sv(a.Status) != "Attached") {
		t.Fatalf("new connection = %+v, want Attaching", a)
	}
	l.waitPeer(att, "Attached")
	a := l.peer(att, "")
	want := fmt.Sprintf("%s hz-sh across %s %s %s %s %d TR %s true 30 BandwidthPackage %s Gold china_china", att, hz, regionHZ, sh, regionSH, uid, cen, bwpID)
	got := fmt.Sprintf("%s %s %s %s %s %s %s %d %s %s %v %d %s %s %s %s", sv(a.TransitRouterAttachmentId), sv(a.TransitRouterAttachmentName),
		sv(a.TransitRouterAttachmentDescription), sv(a.TransitRouterId), sv(a.RegionId), sv(a.PeerTransitRouterId), sv(a.PeerTransitRouterRegionId),
		dara.Int64Value(a.PeerTransitRouterOwnerId), sv(a.ResourceType), sv(a.CenId), dara.BoolValue(a.AutoPublishRouteEnabled), dara.Int32Value(a.Bandwidth),
		sv(a.BandwidthType), sv(a.CenBandwidthPackageId), sv(a.DefaultLinkType), sv(a.GeographicSpanId))
	if got != want {
		t.Errorf("ListTransitRouterPeerAttachments item:\n got %s\nwant %s", got, want)
	}
	if len(a.Tags) != 1 || sv(a.Tags[0].Key) != "env" || sv(a.Tags[0].Value) != "test" {
		t.Errorf("tags = %v, want env=test", a.Tags)
	}
	checkCreationTime(t, "peer attachment CreationTime", sv(a.CreationTime))
	// Seen from the peer's side (TransitRouterId, or CenId + RegionId of the peer).
	if b := l.peer(att, sh); sv(b.TransitRouterId) != sh || sv(b.RegionId) != regionSH || sv(b.PeerTransitRouterId) != hz || sv(b.PeerTransitRouterRegionId) != regionHZ {
		t.Errorf("seen from %s: TransitRouterId %s RegionId %s Peer %s %s; want the sides swapped", sh, sv(b.TransitRouterId), sv(b.RegionId), sv(b.PeerTransitRouterId), sv(b.PeerTransitRouterRegionId))
	}
	byRegion := must[*cbn.ListTransitRouterPeerAttachmentsResponse](t, "List by CEN and region")(l.c.ListTransitRouterPeerAttachmentsWithOptions(
		&cbn.ListTransitRouterPeerAttachmentsRequest{CenId: sp(cen), RegionId: sp(regionSH)}, rtOpts()))
	if len(byRegion.Body.TransitRouterAttachments) != 1 || sv(byRegion.Body.TransitRouterAttachments[0].TransitRouterId) != sh {
		t.Errorf("List CenId+RegionId %s = %+v, want the connection seen from %s", regionSH, byRegion.Body.TransitRouterAttachments, sh)
	}
	if none := must[*cbn.ListTransitRouterPeerAttachmentsResponse](t, "List other CEN")(l.c.ListTransitRouterPeerAttachmentsWithOptions(
		&cbn.ListTransitRouterPeerAttachmentsRequest{CenId: sp(other)}, rtOpts())); len(none.Body.TransitRouterAttachments) != 0 {
		t.Errorf("the other CEN lists %+v", none.Body.TransitRouterAttachments)
	}
	// Terraform reads it with RpcPost: CenId, TransitRouterAttachmentId and its provider's RegionId.
	tfRead := must[map[string]interface{}](t, "terraform read")(l.tf.call("ListTransitRouterPeerAttachments",
		map[string]interface{}{"CenId": cen, "TransitRouterAttachmentId": att, "RegionId": regionHZ}))
	if err := checkKeys("TransitRouterAttachments[0]", dig(tfRead, "TransitRouterAttachments").([]interface{})[0], "AutoPublishRouteEnabled", "Bandwidth",
		"BandwidthType", "CenBandwidthPackageId", "CenId", "CreationTime", "DefaultLinkType", "PeerTransitRouterId", "PeerTransitRouterRegionId",
		"Status", "TransitRouterAttachmentDescription", "TransitRouterId", "TransitRouterAttachmentName", "ResourceType", "Tags[]"); err != nil {
		t.Error(err)
	}
	if err := checkKeys("terraform read", tfRead, "TotalCount", "MaxResults", "NextToken", "TransitRouterAttachments[]"); err != nil {
		t.Error(err)
	}

	// Duplicates, either way round.
	_, err = l.createPeer(base())
	expectAPIError(t, "a duplicate connection", err, 400, "OperationFailed.PeerAttachmentExists")
	rev := base()
	rev.RegionId, rev.TransitRouterId, rev.PeerTransitRouterId, rev.PeerTransitRouterRegionId, rev.Bandwidth, rev.CenBandwidthPackageId = sp(regionSH), sp(sh), sp(hz), sp(regionHZ), nil, nil
	_, err = l.createPeer(rev)
	expectAPIError(t, "a duplicate connection the other way", err, 400, "OperationFailed.PeerAttachmentExists")

	// ---- bandwidth accounting ------------------------------------------------------------
	spec := oldcbn.CreateModifyCenBandwidthPackageSpecRequest()
	l.oldReq(spec.RpcRequest)
	spec.CenBandwidthPackageId, spec.Bandwidth = bwpID, requests.NewInteger(20)
	_, err = l.old.ModifyCenBandwidthPackageSpec(spec)
	expectAPIError(t, "lowering the package below what connections take", err, 400, "OperationFailed.InsufficientBandwidth")
	unassoc := oldcbn.CreateUnassociateCenBandwidthPackageRequest()
	l.oldReq(unassoc.RpcRequest)
	unassoc.CenId, unassoc.CenBandwidthPackageId = cen, bwpID
	_, err = l.old.UnassociateCenBandwidthPackage(unassoc)
	expectAPIError(t, "unbinding a package connections take from", err, 400, "InvalidOperation.CenBandwidthLimitsNotZero")
	del := oldcbn.CreateDeleteCenBandwidthPackageRequest()
	l.oldReq(del.RpcRequest)
	del.CenBandwidthPackageId = bwpID
	_, err = l.old.DeleteCenBandwidthPackage(del)
	expectAPIError(t, "deleting a bound package", err, 400, "IncorrectStatus.BandwidthPackage")

	update := func(r *cbn.UpdateTransitRouterPeerAttachmentAttributeRequest) error {
		r.TransitRouterAttachmentId = sp(att)
		_, err := l.c.UpdateTransitRouterPeerAttachmentAttributeWithOptions(r, rtOpts())
		return err
	}
	expectAPIError(t, "update beyond the package", update(&cbn.UpdateTransitRouterPeerAttachmentAttributeRequest{Bandwidth: i32p(60)}), 400, "OperationFailed.InsufficientBandwidth")
	expectAPIError(t, "update DryRun", update(&cbn.UpdateTransitRouterPeerAttachmentAttributeRequest{Bandwidth: i32p(40), DryRun: dara.Bool(true)}), 400, "DryRunOperation")
	mustOK(t, "update bandwidth and names", update(&cbn.UpdateTransitRouterPeerAttachmentAttributeRequest{Bandwidth: i32p(50),
		TransitRouterAttachmentName: sp("renamed"), TransitRouterAttachmentDescription: sp("new"), AutoPublishRouteEnabled: dara.Bool(false)}))
	if a := l.peer(att, ""); dara.Int32Value(a.Bandwidth) != 50 || sv(a.TransitRouterAttachmentName) != "renamed" || sv(a.TransitRouterAttachmentDescription) != "new" ||
		dara.BoolValue(a.AutoPublishRouteEnabled) || sv(a.Status) != "Attached" {
		t.Errorf("after update: %+v", a)
	}
	// Pay-by-data-transfer with a cap, Platinum: the package's bandwidth is free again.
	mustOK(t, "move to DataTransfer", update(&cbn.UpdateTransitRouterPeerAttachmentAttributeRequest{BandwidthType: sp("DataTransfer"), Bandwidth: i32p(80),
		DefaultLinkType: sp("Platinum")}))
	if a := l.peer(att, ""); sv(a.BandwidthType) != "DataTransfer" || sv(a.CenBandwidthPackageId) != "" || dara.Int32Value(a.Bandwidth) != 80 || sv(a.DefaultLinkType) != "Platinum" {
		t.Errorf("after moving to DataTransfer: %+v", a)
	}
	spec.Bandwidth = requests.NewInteger(20)
	must[*oldcbn.ModifyCenBandwidthPackageSpecResponse](t, "ModifyCenBandwidthPackageSpec")(l.old.ModifyCenBandwidthPackageSpec(spec))
	attr := oldcbn.CreateModifyCenBandwidthPackageAttributeRequest()
	l.oldReq(attr.RpcRequest)
	attr.CenBandwidthPackageId, attr.Name, attr.Description = bwpID, "plan2", "twenty"
	must[*oldcbn.ModifyCenBandwidthPackageAttributeResponse](t, "ModifyCenBandwidthPackageAttribute")(l.old.ModifyCenBandwidthPackageAttribute(attr))
	if p := l.bwp(bwpID); p.Bandwidth != 20 || p.Name != "plan2" || p.Description != "twenty" {
		t.Errorf("modified package = %+v", p)
	}

	// ---- tags ----------------------------------------------------------------------------
	must[*cbn.TagResourcesResponse](t, "TagResources")(l.c.TagResourcesWithOptions(&cbn.TagResourcesRequest{RegionId: sp(regionHZ),
		ResourceType: sp("TransitRouterPeerAttachment"), ResourceId: sps([]string{att}), Tag: []*cbn.TagResourcesRequestTag{{Key: sp("team"), Value: sp("net")}}}, rtOpts()))
	if tags := listTags(t, l.cb, "TransitRouterPeerAttachment", regionHZ, att); !tagsEqual(tags, Tag{"env", "test"}, Tag{"team", "net"}) {
		t.Errorf("ListTagResources = %v", tags)
	}

	// ---- the routers cannot go while it exists; deleting it needs Force while linked ------
	for _, tr := range []string{hz, sh} {
		_, err := l.c.DeleteTransitRouterWithOptions(&cbn.DeleteTransitRouterRequest{TransitRouterId: sp(tr)}, rtOpts())
		expectAPIError(t, "deleting router "+tr+" with an inter-region connection", err, 400, "DependencyViolation.TransitRouterAttachment")
	}
	tables := map[string]string{}
	for _, tr := range []string{hz, sh} {
		resp := must[*cbn.ListTransitRouterRouteTablesResponse](t, "ListTransitRouterRouteTables")(l.c.ListTransitRouterRouteTablesWithOptions(
			&cbn.ListTransitRouterRouteTablesRequest{TransitRouterId: sp(tr), TransitRouterRouteTableType: sp("System")}, rtOpts()))
		tables[tr] = sv(resp.Body.TransitRouterRouteTables[0].TransitRouterRouteTableId)
		must[*cbn.AssociateTransitRouterAttachmentWithRouteTableResponse](t, "Associate")(l.c.AssociateTransitRouterAttachmentWithRouteTableWithOptions(
			&cbn.AssociateTransitRouterAttachmentWithRouteTableRequest{TransitRouterAttachmentId: sp(att), TransitRouterRouteTableId: sp(tables[tr])}, rtOpts()))
	}
	for _, tr := range []string{hz, sh} {
		other := sh
		if tr == sh {
			other = hz
		}
		waitFor(t, "association with "+tables[tr], func() (bool, string, error) {
			resp, err := l.c.ListTransitRouterRouteTableAssociationsWithOptions(&cbn.ListTransitRouterRouteTableAssociationsRequest{TransitRouterRouteTableId: sp(tables[tr])}, rtOpts())
			if err != nil || len(resp.Body.TransitRouterAssociations) != 1 {
				return false, fmt.Sprint(resp), err
			}
			x := resp.Body.TransitRouterAssociations[0]
			if sv(x.TransitRouterAttachmentId) != att || sv(x.ResourceType) != "TR" || sv(x.ResourceId) != other {
				t.Fatalf("association in %s = %+v, want %s to TR %s", tables[tr], x, att, other)
			}
			return sv(x.Status) == "Active", sv(x.Status), nil
		})
	}
	_, err = l.c.DeleteTransitRouterPeerAttachmentWithOptions(&cbn.DeleteTransitRouterPeerAttachmentRequest{TransitRouterAttachmentId: sp(att)}, rtOpts())
	expectAPIError(t, "deleting an associated connection without Force", err, 400, "IncorrectStatus.AttachmentInUse")
	_, err = l.c.DeleteTransitRouterPeerAttachmentWithOptions(&cbn.DeleteTransitRouterPeerAttachmentRequest{TransitRouterAttachmentId: sp(att), Force: dara.Bool(true), DryRun: dara.Bool(true)}, rtOpts())
	expectAPIError(t, "delete DryRun", err, 400, "DryRunOperation")
	must[*cbn.DeleteTransitRouterPeerAttachmentResponse](t, "DeleteTransitRouterPeerAttachment")(l.c.DeleteTransitRouterPeerAttachmentWithOptions(
		&cbn.DeleteTransitRouterPeerAttachmentRequest{TransitRouterAttachmentId: sp(att), Force: dara.Bool(true)}, rtOpts()))
	l.waitPeer(att, "")
	_, err = l.c.DeleteTransitRouterPeerAttachmentWithOptions(&cbn.DeleteTransitRouterPeerAttachmentRequest{TransitRouterAttachmentId: sp(att)}, rtOpts())
	expectAPIError(t, "deleting a deleted connection", err, 404, "InvalidTransitRouterAttachmentId.NotFound")
	for _, tr := range []string{hz, sh} {
		resp := must[*cbn.ListTransitRouterRouteTableAssociationsResponse](t, "ListTransitRouterRouteTableAssociations")(l.c.ListTransitRouterRouteTableAssociationsWithOptions(
			&cbn.ListTransitRouterRouteTableAssociationsRequest{TransitRouterRouteTableId: sp(tables[tr])}, rtOpts()))
		if len(resp.Body.TransitRouterAssociations) != 0 {
			t.Errorf("associations left in %s: %+v", tables[tr], resp.Body.TransitRouterAssociations)
		}
	}

	// ---- and then everything goes: routers, the binding, the package, the CEN -------------
	must[*oldcbn.UnassociateCenBandwidthPackageResponse](t, "UnassociateCenBandwidthPackage")(l.old.UnassociateCenBandwidthPackage(unassoc))
	if p := l.bwp(bwpID); p.Status != "Idle" || len(p.CenIds.CenId) != 0 {
		t.Errorf("unbound package = %+v, want Idle", p)
	}
	must[*oldcbn.DeleteCenBandwidthPackageResponse](t, "DeleteCenBandwidthPackage")(l.old.DeleteCenBandwidthPackage(del))
	if p := l.bwp(bwpID); p != nil {
		t.Errorf("deleted package still listed: %+v", p)
	}
	_, err = l.old.DeleteCenBandwidthPackage(del)
	expectAPIError(t, "deleting a deleted package", err, 404, "InvalidCenBandwidthPackageId.NotFound")
	for _, tr := range []string{hz, sh} {
		mustOK(t, "DeleteTransitRouter "+tr, l.cb.DeleteTransitRouter(tr))
	}
}

// TestBandwidthPackageBindingKeepsCen: DeleteCen is refused while a package is bound to it.
func TestBandwidthPackageBindingKeepsCen(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	l := newPeerLab(t, srv, srv.CreateAccount(t, "bwp"))
	cen := createActiveCen(t, l.cb, uniq("bwp"))
	create := oldcbn.CreateCreateCenBandwidthPackageRequest()
	l.oldReq(create.RpcRequest)
	create.Bandwidth, create.GeographicRegionAId, create.GeographicRegionBId = requests.NewInteger(5), "China", "Europe"
	id := must[*oldcbn.CreateCenBandwidthPackageResponse](t, "CreateCenBandwidthPackage")(l.old.CreateCenBandwidthPackage(create)).CenBandwidthPackageId
	if p := l.bwp(id); p.GeographicRegionAId != "china" || p.GeographicRegionBId != "europe" || !p.IsCrossBorder || p.GeographicSpanId != "china_europe" {
		t.Errorf("china-europe package = %+v", p)
	}
	create.GeographicRegionBId = "Mars"
	_, err := l.old.CreateCenBandwidthPackage(create)
	expectAPIError(t, "an unknown area", err, 400, "InvalidGeographicRegionBId")
	assoc := oldcbn.CreateAssociateCenBandwidthPackageRequest()
	l.oldReq(assoc.RpcRequest)
	assoc.CenId, assoc.CenBandwidthPackageId = cen, id
	must[*oldcbn.AssociateCenBandwidthPackageResponse](t, "AssociateCenBandwidthPackage")(l.old.AssociateCenBandwidthPackage(assoc))
	expectAPIError(t, "DeleteCen with a bound package", l.cb.DeleteCen(cen), 400, "DependencyViolation.BandwidthPackage")
	unassoc := oldcbn.CreateUnassociateCenBandwidthPackageRequest()
	l.oldReq(unassoc.RpcRequest)
	unassoc.CenId, unassoc.CenBandwidthPackageId = cen, id
	must[*oldcbn.UnassociateCenBandwidthPackageResponse](t, "UnassociateCenBandwidthPackage")(l.old.UnassociateCenBandwidthPackage(unassoc))
	_, err = l.old.UnassociateCenBandwidthPackage(unassoc)
	expectAPIError(t, "unbinding an unbound package", err, 400, "InvalidOperation.BwpNotAssociated")
	mustOK(t, "DeleteCen", l.cb.DeleteCen(cen))
}
