package contract

// Contract tests for Cbn 2017-09-12 CEN / transit router / TR CIDR / tag APIs, run through
// four stock client styles. Each top-level test starts its own server.
//
// Run: cd contract && go test ./... -count=1
// (set OPENCEN_TEST_BIN=/path/to/opencen to skip building the binary).

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"opencen/internal/testserver"
)

const (
	regionHZ = "cn-hangzhou"
	regionSH = "cn-shanghai"
)

// resourceTypes returns the ResourceType spellings a client style uses: terraform sends
// "cen" for CEN instances (and "TransitRouter"), the SDK docs use "Cen".
func resourceTypes(style string) (cen, tr string) {
	if style == styleTeaRPC {
		return "cen", "TransitRouter"
	}
	if style == styleSDKGo {
		return "Cen", "transitrouter" // exercise case-insensitivity
	}
	return "Cen", "TransitRouter"
}

func accountUID(t testing.TB, a testserver.Account) int64 {
	t.Helper()
	if len(a.AccountID) != 16 {
		t.Errorf("AccountId %q: want 16 digits", a.AccountID)
	}
	uid, err := strconv.ParseInt(a.AccountID, 10, 64)
	if err != nil {
		t.Fatalf("AccountId %q is not numeric: %v", a.AccountID, err)
	}
	if uid > 1<<53 {
		// terraform (tea-rpc) decodes responses into float64, so odd AliUids above 2^53 come
		// out wrong there (TestAccountIDRange asserts the range).
		t.Logf("note: AccountId %d > 2^53; terraform would read AliUid as %.0f", uid, float64(uid))
	}
	return uid
}

// describeCen returns the CEN with the given ID via DescribeCens Filter CenId (nil if absent).
func describeCen(t testing.TB, c cbnAPI, id string) (*Cen, Page) {
	t.Helper()
	cens, page, err := c.DescribeCens(DescribeCensIn{Filters: []Filter{{Key: "CenId", Values: []string{id}}}})
	if err != nil {
		t.Fatalf("DescribeCens(CenId=%s): %v", id, describeErr(err))
	}
	for i := range cens {
		if cens[i].CenId != id {
			t.Errorf("DescribeCens(CenId=%s) returned another CEN %q", id, cens[i].CenId)
		}
	}
	if len(cens) > 1 {
		t.Errorf("DescribeCens(CenId=%s) returned %d CENs", id, len(cens))
	}
	if len(cens) == 0 {
		return nil, page
	}
	return &cens[0], page
}

func getTR(t testing.TB, c cbnAPI, id string) (*TR, Page) {
	t.Helper()
	trs, page, err := c.ListTransitRouters(ListTRsIn{TransitRouterId: id})
	if err != nil {
		t.Fatalf("ListTransitRouters(TransitRouterId=%s): %v", id, describeErr(err))
	}
	for i := range trs {
		if trs[i].TransitRouterId != id {
			t.Errorf("ListTransitRouters(TransitRouterId=%s) returned another TR %q", id, trs[i].TransitRouterId)
		}
	}
	if len(trs) == 0 {
		return nil, page
	}
	return &trs[0], page
}

func waitCenStatus(t testing.TB, c cbnAPI, id, want string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("CEN %s %s", id, want), func() (bool, string, error) {
		cen, _ := describeCen(t, c, id)
		if cen == nil {
			return false, "<absent>", nil
		}
		return cen.Status == want, cen.Status, nil
	})
}

func waitCenGone(t testing.TB, c cbnAPI, id string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("CEN %s gone", id), func() (bool, string, error) {
		cen, _ := describeCen(t, c, id)
		if cen == nil {
			return true, "", nil
		}
		if cen.Status != "Deleting" && cen.Status != "Active" {
			t.Errorf("CEN %s status while deleting = %q, want Deleting", id, cen.Status)
		}
		return false, cen.Status, nil
	})
}

func waitTRStatus(t testing.TB, c cbnAPI, id, want string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("TR %s %s", id, want), func() (bool, string, error) {
		tr, _ := getTR(t, c, id)
		if tr == nil {
			return false, "<absent>", nil
		}
		return tr.Status == want, tr.Status, nil
	})
}

func waitTRGone(t testing.TB, c cbnAPI, id string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("TR %s gone", id), func() (bool, string, error) {
		tr, _ := getTR(t, c, id)
		if tr == nil {
			return true, "", nil
		}
		if tr.Status != "Deleting" && tr.Status != "Active" {
			t.Errorf("TR %s status while deleting = %q, want Deleting", id, tr.Status)
		}
		return false, tr.Status, nil
	})
}

// createActiveCen creates a CEN and waits until it is Active.
func createActiveCen(t testing.TB, c cbnAPI, name string) string {
	t.Helper()
	id := must[string](t, "CreateCen")(c.CreateCen(CreateCenIn{Name: name, Description: "fixture"}))
	waitCenStatus(t, c, id, "Active")
	return id
}

func createActiveTR(t testing.TB, c cbnAPI, cenID, region string) string {
	t.Helper()
	id := must[string](t, "CreateTransitRouter")(c.CreateTransitRouter(CreateTRIn{CenId: cenID, RegionId: region, Name: "fixture-tr"}))
	waitTRStatus(t, c, id, "Active")
	return id
}

func listTags(t testing.TB, c cbnAPI, rtype, region, id string) []Tag {
	t.Helper()
	trs, err := c.ListTagResources(ListTagIn{ResourceType: rtype, RegionId: region, ResourceIds: []string{id}})
	if err != nil {
		t.Fatalf("ListTagResources(%s %s): %v", rtype, id, describeErr(err))
	}
	var out []Tag
	for _, r := range trs {
		if r.ResourceId != id {
			t.Errorf("ListTagResources(%s %s): item for another resource %q", rtype, id, r.ResourceId)
		}
		if r.ResourceType == "" {
			t.Errorf("ListTagResources(%s %s): item has empty ResourceType", rtype, id)
		}
		out = append(out, Tag{r.TagKey, r.TagValue})
	}
	return out
}

// ==== the main flow ======================================================================

func TestCBNFlow(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	alice := srv.CreateAccount(t, "alice")
	for _, style := range allStyles {
		t.Run(style, func(t *testing.T) {
			t.Parallel()
			runFlow(t, client(t, style, srv.Endpoint, alice), alice)
		})
	}
}

func runFlow(t *testing.T, c cbnAPI, acct testserver.Account) {
	style := c.Style()
	uid := accountUID(t, acct)
	cenType, trType := resourceTypes(style)

	// ---- CEN -------------------------------------------------------------------------------
	cenName := uniq("flow-" + style)
	// Characters that stress the v1/ACS3 percent-encoding rules (space, *, ~, +, &, =, /, UTF-8).
	cenDesc := "contract flow CEN for " + style + ": a+b=c&d e*f~g/h%i 中文"
	cenTag := Tag{"env", "contract-" + style}
	cenID := must[string](t, "CreateCen")(c.CreateCen(CreateCenIn{Name: cenName, Description: cenDesc, Tags: []Tag{cenTag}}))
	if !strings.HasPrefix(cenID, "cen-") {
		t.Fatalf("CreateCen CenId = %q, want prefix cen-", cenID)
	}
	if cen, _ := describeCen(t, c, cenID); cen == nil {
		t.Fatalf("CEN %s not listed right after CreateCen", cenID)
	} else if cen.Status != "Creating" && cen.Status != "Active" {
		t.Errorf("CEN status right after CreateCen = %q, want Creating (or Active)", cen.Status)
	}
	waitCenStatus(t, c, cenID, "Active")

	cen, page := describeCen(t, c, cenID)
	if cen == nil {
		t.Fatalf("CEN %s vanished", cenID)
	}
	if cen.Name != cenName || cen.Description != cenDesc {
		t.Errorf("CEN Name/Description = %q/%q, want %q/%q", cen.Name, cen.Description, cenName, cenDesc)
	}
	if cen.ProtectionLevel != "REDUCED" {
		t.Errorf("CEN ProtectionLevel = %q, want REDUCED (the default)", cen.ProtectionLevel)
	}
	checkCreationTime(t, "CEN", cen.CreationTime)
	if !tagsEqual(cen.Tags, cenTag) {
		t.Errorf("CEN Tags = %v, want [%v]", cen.Tags, cenTag)
	}
	if page.TotalCount != 1 || page.PageNumber != 1 || page.PageSize != 10 {
		t.Errorf("DescribeCens(CenId) page = %+v, want TotalCount 1, PageNumber 1, PageSize 10 (default)", page)
	}
	// Other filters find it too.
	if cens, _, err := c.DescribeCens(DescribeCensIn{Filters: []Filter{{Key: "Name", Values: []string{cenName}}}}); err != nil {
		t.Errorf("DescribeCens(Name): %v", describeErr(err))
	} else if len(cens) != 1 || cens[0].CenId != cenID {
		t.Errorf("DescribeCens(Filter Name=%s) = %v, want just %s", cenName, cens, cenID)
	}
	if cens, _, err := c.DescribeCens(DescribeCensIn{Tags: []Tag{cenTag}}); err != nil {
		t.Errorf("DescribeCens(Tag): %v", describeErr(err))
	} else if len(cens) != 1 || cens[0].CenId != cenID {
		t.Errorf("DescribeCens(Tag %v) = %v, want just %s", cenTag, cens, cenID)
	}
	if cens, _, err := c.DescribeCens(DescribeCensIn{Filters: []Filter{{Key: "CenId", Values: []string{"cen-doesnotexist00000"}}}}); err != nil {
		t.Errorf("DescribeCens(unknown CenId): %v", describeErr(err))
	} else if len(cens) != 0 {
		t.Errorf("DescribeCens(unknown CenId) = %v, want empty", cens)
	}

	// ---- transit router --------------------------------------------------------------------
	trName := uniq("tr-flow-" + style)
	trDesc := "contract flow TR for " + style + " (x*y~z 'q' \"r\" é)"
	trTag := Tag{"team", "net-" + style}
	trID := must[string](t, "CreateTransitRouter")(c.CreateTransitRouter(CreateTRIn{CenId: cenID, RegionId: regionHZ,
		Name: trName, Description: trDesc, Tags: []Tag{trTag}}))
	if !strings.HasPrefix(trID, "tr-") {
		t.Fatalf("CreateTransitRouter TransitRouterId = %q, want prefix tr-", trID)
	}
	if tr, _ := getTR(t, c, trID); tr == nil {
		t.Fatalf("TR %s not listed right after CreateTransitRouter", trID)
	} else if tr.Status != "Creating" && tr.Status != "Active" {
		t.Errorf("TR status right after CreateTransitRouter = %q, want Creating (or Active)", tr.Status)
	}
	waitTRStatus(t, c, trID, "Active")
	tr, trPage := getTR(t, c, trID)
	if tr == nil {
		t.Fatalf("TR %s vanished", trID)
	}
	type trCore struct {
		TransitRouterId, TransitRouterName, TransitRouterDescription, CenId, RegionId, Status, Type string
		AliUid                                                                                      int64
		SupportMulticast                                                                            bool
	}
	gotCore := trCore{tr.TransitRouterId, tr.TransitRouterName, tr.TransitRouterDescription, tr.CenId, tr.RegionId, tr.Status, tr.Type, tr.AliUid, tr.SupportMulticast}
	wantCore := trCore{trID, trName, trDesc, cenID, regionHZ, "Active", "Enterprise", uid, false}
	if gotCore != wantCore {
		t.Errorf("ListTransitRouters item =\n  %+v\nwant\n  %+v", gotCore, wantCore)
	}
	checkCreationTime(t, "TR", tr.CreationTime)
	if !tagsEqual(tr.Tags, trTag) {
		t.Errorf("TR Tags = %v, want [%v]", tr.Tags, trTag)
	}
	if trPage.TotalCount != 1 || trPage.PageNumber != 1 || trPage.PageSize != 10 {
		t.Errorf("ListTransitRouters(TransitRouterId) page = %+v, want TotalCount 1, PageNumber 1, PageSize 10", trPage)
	}
	if trs, p, err := c.ListTransitRouters(ListTRsIn{CenId: cenID, RegionId: regionHZ}); err != nil {
		t.Errorf("ListTransitRouters(CenId, RegionId): %v", describeErr(err))
	} else if len(trs) != 1 || trs[0].TransitRouterId != trID || p.TotalCount != 1 {
		t.Errorf("ListTransitRouters(CenId=%s, RegionId=%s) = %v (TotalCount %d), want just %s", cenID, regionHZ, trs, p.TotalCount, trID)
	}
	if trs, _, err := c.ListTransitRouters(ListTRsIn{CenId: cenID, RegionId: regionSH}); err != nil {
		t.Errorf("ListTransitRouters(CenId, other region): %v", describeErr(err))
	} else if len(trs) != 0 {
		t.Errorf("ListTransitRouters(CenId, RegionId=%s) = %v, want empty", regionSH, trs)
	}

	// One TR per CEN per region.
	_, err := c.CreateTransitRouter(CreateTRIn{CenId: cenID, RegionId: regionHZ, Name: "second"})
	expectAPIError(t, "second CreateTransitRouter in the same region", err, http.StatusBadRequest, "")

	// A CEN with a TR cannot be deleted.
	err = c.DeleteCen(cenID)
	expectAPIError(t, "DeleteCen while a TR exists", err, http.StatusBadRequest, "")
	if cen, _ := describeCen(t, c, cenID); cen == nil || cen.Status != "Active" {
		t.Fatalf("CEN after refused DeleteCen = %+v, want still Active", cen)
	}

	// ---- tags --------------------------------------------------------------------------------
	extra := Tag{"k2", "v2"}
	mustOK(t, "TagResources(CEN)", c.TagResources(TagIn{ResourceType: cenType, ResourceIds: []string{cenID}, Tags: []Tag{extra}}))
	if tags := listTags(t, c, cenType, "", cenID); !tagsEqual(tags, cenTag, extra) {
		t.Errorf("ListTagResources(CEN) after TagResources = %v, want [%v %v]", tags, cenTag, extra)
	}
	if cen, _ := describeCen(t, c, cenID); cen == nil || !tagsEqual(cen.Tags, cenTag, extra) {
		t.Errorf("DescribeCens Tags after TagResources = %+v, want [%v %v]", cen, cenTag, extra)
	}
	mustOK(t, "UntagResources(CEN)", c.UntagResources(UntagIn{ResourceType: cenType, ResourceIds: []string{cenID}, TagKeys: []string{extra.Key}}))
	if tags := listTags(t, c, cenType, "", cenID); !tagsEqual(tags, cenTag) {
		t.Errorf("ListTagResources(CEN) after UntagResources = %v, want [%v]", tags, cenTag)
	}

	trExtra := Tag{"k3", "v3"}
	mustOK(t, "TagResources(TR)", c.TagResources(TagIn{ResourceType: trType, RegionId: regionHZ, ResourceIds: []string{trID}, Tags: []Tag{trExtra}}))
	if tags := listTags(t, c, trType, regionHZ, trID); !tagsEqual(tags, trTag, trExtra) {
		t.Errorf("ListTagResources(TR) after TagResources = %v, want [%v %v]", tags, trTag, trExtra)
	}
	if tr, _ := getTR(t, c, trID); tr == nil || !tagsEqual(tr.Tags, trTag, trExtra) {
		t.Errorf("ListTransitRouters Tags after TagResources = %+v, want [%v %v]", tr, trTag, trExtra)
	}
	mustOK(t, "UntagResources(TR)", c.UntagResources(UntagIn{ResourceType: trType, RegionId: regionHZ, ResourceIds: []string{trID}, TagKeys: []string{trExtra.Key}}))
	if tags := listTags(t, c, trType, regionHZ, trID); !tagsEqual(tags, trTag) {
		t.Errorf("ListTagResources(TR) after UntagResources = %v, want [%v]", tags, trTag)
	}
	if tr, _ := getTR(t, c, trID); tr == nil || !tagsEqual(tr.Tags, trTag) {
		t.Errorf("ListTransitRouters Tags after UntagResources = %+v, want [%v]", tr, trTag)
	}

	// ---- updates -----------------------------------------------------------------------------
	newTRName, newTRDesc := trName+"-renamed", "updated TR description"
	mustOK(t, "UpdateTransitRouter", c.UpdateTransitRouter(UpdateTRIn{TransitRouterId: trID, RegionId: regionHZ, Name: newTRName, Description: newTRDesc}))
	waitTRStatus(t, c, trID, "Active")
	if tr, _ := getTR(t, c, trID); tr == nil || tr.TransitRouterName != newTRName || tr.TransitRouterDescription != newTRDesc {
		t.Errorf("TR after UpdateTransitRouter = %+v, want name %q description %q", tr, newTRName, newTRDesc)
	}
	newCenName, newCenDesc := cenName+"-renamed", "updated CEN description"
	mustOK(t, "ModifyCenAttribute", c.ModifyCenAttribute(ModifyCenIn{CenId: cenID, Name: newCenName, Description: newCenDesc}))
	waitCenStatus(t, c, cenID, "Active")
	if cen, _ := describeCen(t, c, cenID); cen == nil || cen.Name != newCenName || cen.Description != newCenDesc {
		t.Errorf("CEN after ModifyCenAttribute = %+v, want name %q description %q", cen, newCenName, newCenDesc)
	}

	// ---- TR CIDR -----------------------------------------------------------------------------
	pub := true
	cidrID := must[string](t, "CreateTransitRouterCidr")(c.CreateTransitRouterCidr(CreateCidrIn{TransitRouterId: trID, RegionId: regionHZ,
		Cidr: "192.168.10.0/24", Name: "cidr-" + style, Description: "tr cidr " + style, PublishCidrRoute: &pub}))
	if !strings.HasPrefix(cidrID, "cidr-") {
		t.Errorf("CreateTransitRouterCidr TransitRouterCidrId = %q, want prefix cidr-", cidrID)
	}
	cidrs := must[[]Cidr](t, "ListTransitRouterCidr")(c.ListTransitRouterCidr(trID, regionHZ))
	if len(cidrs) != 1 {
		t.Errorf("ListTransitRouterCidr = %+v, want one CIDR", cidrs)
	} else {
		gotC := cidrs[0]
		wantC := Cidr{TransitRouterCidrId: cidrID, TransitRouterId: trID, Cidr: "192.168.10.0/24", Name: "cidr-" + style,
			Description: "tr cidr " + style, Family: gotC.Family, PublishCidrRoute: true}
		if gotC != wantC {
			t.Errorf("ListTransitRouterCidr item =\n  %+v\nwant\n  %+v", gotC, wantC)
		}
		if gotC.Family != "" && gotC.Family != "IPv4" {
			t.Errorf("ListTransitRouterCidr Family = %q, want IPv4", gotC.Family)
		}
	}
	mustOK(t, "DeleteTransitRouterCidr", c.DeleteTransitRouterCidr(trID, regionHZ, cidrID))
	waitFor(t, "TR CIDR gone", func() (bool, string, error) {
		cidrs, err := c.ListTransitRouterCidr(trID, regionHZ)
		return len(cidrs) == 0, fmt.Sprintf("%d CIDRs", len(cidrs)), err
	})

	// UntagResources All=true removes every tag.
	mustOK(t, "UntagResources(TR, All)", c.UntagResources(UntagIn{ResourceType: trType, RegionId: regionHZ, ResourceIds: []string{trID}, All: true}))
	if tags := listTags(t, c, trType, regionHZ, trID); len(tags) != 0 {
		t.Errorf("ListTagResources(TR) after UntagResources All=true = %v, want none", tags)
	}

	// ---- delete ------------------------------------------------------------------------------
	mustOK(t, "DeleteTransitRouter", c.DeleteTransitRouter(trID))
	waitTRGone(t, c, trID)
	if trs, p, err := c.ListTransitRouters(ListTRsIn{CenId: cenID}); err != nil {
		t.Errorf("ListTransitRouters(CenId) after delete: %v", describeErr(err))
	} else if len(trs) != 0 || p.TotalCount != 0 {
		t.Errorf("ListTransitRouters(CenId) after delete = %v (TotalCount %d), want empty", trs, p.TotalCount)
	}
	mustOK(t, "DeleteCen", c.DeleteCen(cenID))
	waitCenGone(t, c, cenID)
	if _, p := describeCen(t, c, cenID); p.TotalCount != 0 {
		t.Errorf("DescribeCens(CenId) TotalCount after delete = %d, want 0", p.TotalCount)
	}
	// Gone means gone: acting on it is NotFound.
	err = c.ModifyCenAttribute(ModifyCenIn{CenId: cenID, Name: "zombie"})
	expectAPIError(t, "ModifyCenAttribute on a deleted CEN", err, http.StatusNotFound, "InvalidCenId.NotFound")
}

// ==== error cases =========================================================================

func TestCBNErrors(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	alice := srv.CreateAccount(t, "alice")
	bob := srv.CreateAccount(t, "bob")
	if alice.AccountID == bob.AccountID {
		t.Fatalf("two accounts share AccountId %s", alice.AccountID)
	}
	for _, style := range allStyles {
		t.Run(style, func(t *testing.T) {
			t.Parallel()
			runErrors(t, srv, style, alice, bob)
		})
	}
}

func runErrors(t *testing.T, srv *testserver.Server, style string, alice, bob testserver.Account) {
	c := client(t, style, srv.Endpoint, alice)
	cenID := createActiveCen(t, c, uniq("err-"+style))
	trID := createActiveTR(t, c, cenID, regionHZ)
	cenType, trType := resourceTypes(style)

	t.Run("WrongSecret", func(t *testing.T) {
		bad := client(t, style, srv.Endpoint, testserver.Account{AccessKeyID: alice.AccessKeyID, AccessKeySecret: alice.AccessKeySecret + "x"})
		_, _, err := bad.DescribeCens(DescribeCensIn{})
		e := expectAPIError(t, "DescribeCens with a wrong secret", err, http.StatusForbidden, "SignatureDoesNotMatch")
		if e != nil && !strings.Contains(e.Message, "server string to sign is:") {
			t.Errorf("SignatureDoesNotMatch Message = %q, want it to contain %q", e.Message, "server string to sign is:")
		}
		if e != nil && style == styleSDKGo && e.Recommend != "InvalidAccessKeySecret: Please check you AccessKeySecret" {
			// alibaba-cloud-sdk-go compares the text after "server string to sign is:" with its
			// own StringToSign; equal means the server computed the same string.
			t.Errorf("alibaba-cloud-sdk-go Recommend = %q: the server's string to sign differs from the SDK's", e.Recommend)
		}
		_, err = bad.CreateCen(CreateCenIn{Name: "must-not-exist"})
		expectAPIError(t, "CreateCen with a wrong secret", err, http.StatusForbidden, "SignatureDoesNotMatch")
	})

	t.Run("ReplayedNonce", func(t *testing.T) {
		px := newProxy(t, srv.Endpoint)
		pc := client(t, style, px.Endpoint(), alice)
		if _, _, err := pc.DescribeCens(DescribeCensIn{}); err != nil {
			t.Fatalf("DescribeCens through the proxy: %v", describeErr(err))
		}
		px.Next(modeReplayLast)
		_, _, err := pc.DescribeCens(DescribeCensIn{})
		expectAPIError(t, "replayed DescribeCens (same nonce)", err, http.StatusForbidden, "SignatureNonceUsed")

		// A replayed write must not act twice.
		name := uniq("replay-" + style)
		id := must[string](t, "CreateCen through the proxy")(pc.CreateCen(CreateCenIn{Name: name}))
		resp, body, err := px.Resend(px.Last())
		if err != nil {
			t.Fatalf("raw resend: %v", err)
		}
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), `"SignatureNonceUsed"`) {
			t.Errorf("byte-for-byte replay of CreateCen: HTTP %d %s; want 403 SignatureNonceUsed", resp.StatusCode, body)
		}
		cens := must[[]Cen](t, "DescribeCens(Name)")(func() ([]Cen, error) {
			cs, _, err := c.DescribeCens(DescribeCensIn{Filters: []Filter{{Key: "Name", Values: []string{name}}}})
			return cs, err
		}())
		if len(cens) != 1 || cens[0].CenId != id {
			t.Errorf("after a replayed CreateCen, CENs named %s = %v, want just %s", name, cens, id)
		}
	})

	t.Run("ExpiredTimestamp", func(t *testing.T) {
		px := newProxy(t, srv.Endpoint)
		pc := client(t, style, px.Endpoint(), alice)
		px.Next(modeExpire)
		_, _, err := pc.DescribeCens(DescribeCensIn{})
		expectAPIError(t, "DescribeCens with a timestamp 20 minutes old", err, http.StatusForbidden, "InvalidTimeStamp.Expired")
		px.Next(modeBadTimestamp)
		_, _, err = pc.DescribeCens(DescribeCensIn{})
		expectAPIError(t, "DescribeCens with a malformed timestamp", err, http.StatusForbidden, "InvalidTimeStamp.Format")
		// And the proxy itself is transparent.
		if _, _, err := pc.DescribeCens(DescribeCensIn{}); err != nil {
			t.Errorf("untampered DescribeCens through the proxy: %v", describeErr(err))
		}
	})

	t.Run("MissingParameter", func(t *testing.T) {
		_, err := c.CreateTransitRouter(CreateTRIn{RegionId: regionSH, Name: "no-cen"})
		expectAPIError(t, "CreateTransitRouter without CenId", err, http.StatusBadRequest, "MissingCenId")
		_, err = c.CreateTransitRouter(CreateTRIn{RegionId: regionSH, Name: "no-cen", DryRun: true})
		expectAPIError(t, "CreateTransitRouter DryRun without CenId", err, http.StatusBadRequest, "MissingCenId")
		err = c.DeleteCen("")
		expectAPIError(t, "DeleteCen without CenId", err, http.StatusBadRequest, "MissingCenId")
	})

	t.Run("InvalidValue", func(t *testing.T) {
		_, err := c.CreateCen(CreateCenIn{Name: "http://x"})
		expectAPIError(t, `CreateCen Name "http://x"`, err, http.StatusBadRequest, "InvalidName")
		_, _, err = c.ListTransitRouters(ListTRsIn{CenId: cenID, PageSize: 500})
		expectAPIError(t, "ListTransitRouters PageSize 500", err, http.StatusBadRequest, "InvalidPageSize")
		if cens, _, err := c.DescribeCens(DescribeCensIn{Filters: []Filter{{Key: "Name", Values: []string{"http://x"}}}}); err == nil && len(cens) != 0 {
			t.Errorf("a CEN named http://x exists: %v", cens)
		}
		_, err = c.CreateCen(CreateCenIn{Name: strings.Repeat("n", 129)})
		expectAPIError(t, "CreateCen Name of 129 characters", err, http.StatusBadRequest, "InvalidName")
		_, err = c.CreateCen(CreateCenIn{Name: "ok", Description: strings.Repeat("d", 257)})
		expectAPIError(t, "CreateCen Description of 257 characters", err, http.StatusBadRequest, "InvalidDescription")
		_, err = c.CreateCen(CreateCenIn{Name: "ok", Description: "https://x"})
		expectAPIError(t, `CreateCen Description "https://x"`, err, http.StatusBadRequest, "InvalidDescription")
		_, err = c.CreateCen(CreateCenIn{Name: "ok", Tags: []Tag{{"acs:reserved", "v"}}})
		if e := expectAPIError(t, `CreateCen Tag key "acs:reserved"`, err, http.StatusBadRequest, ""); e != nil && !strings.HasPrefix(e.Code, "Invalid") {
			t.Errorf(`CreateCen Tag key "acs:reserved": Code %q, want Invalid*`, e.Code)
		}
		_, err = c.CreateTransitRouter(CreateTRIn{CenId: cenID, RegionId: "mars-north-1", Name: "x"})
		expectAPIError(t, "CreateTransitRouter unknown RegionId", err, http.StatusBadRequest, "")
		for _, bad := range []string{"10.0.0.0/8", "10.0.0.0/25", "100.64.0.0/16", "not-a-cidr"} {
			_, err = c.CreateTransitRouterCidr(CreateCidrIn{TransitRouterId: trID, RegionId: regionHZ, Cidr: bad})
			expectAPIError(t, "CreateTransitRouterCidr Cidr "+bad, err, http.StatusBadRequest, "")
		}
		if cidrs, err := c.ListTransitRouterCidr(trID, regionHZ); err != nil || len(cidrs) != 0 {
			t.Errorf("CIDRs after only invalid creates: %v %v", cidrs, err)
		}
	})

	t.Run("UnknownID", func(t *testing.T) {
		const noCen, noTR = "cen-doesnotexist00000", "tr-doesnotexist000000"
		err := c.ModifyCenAttribute(ModifyCenIn{CenId: noCen, Name: "x"})
		expectAPIError(t, "ModifyCenAttribute unknown CenId", err, http.StatusNotFound, "InvalidCenId.NotFound")
		err = c.DeleteCen(noCen)
		expectAPIError(t, "DeleteCen unknown CenId", err, http.StatusNotFound, "InvalidCenId.NotFound")
		_, err = c.CreateTransitRouter(CreateTRIn{CenId: noCen, RegionId: regionSH})
		expectAPIError(t, "CreateTransitRouter unknown CenId", err, http.StatusNotFound, "InvalidCenId.NotFound")
		err = c.UpdateTransitRouter(UpdateTRIn{TransitRouterId: noTR, RegionId: regionHZ, Name: "x"})
		expectAPIError(t, "UpdateTransitRouter unknown TransitRouterId", err, http.StatusNotFound, "InvalidTransitRouterId.NotFound")
		err = c.DeleteTransitRouter(noTR)
		expectAPIError(t, "DeleteTransitRouter unknown TransitRouterId", err, http.StatusNotFound, "InvalidTransitRouterId.NotFound")
		_, err = c.CreateTransitRouterCidr(CreateCidrIn{TransitRouterId: noTR, RegionId: regionHZ, Cidr: "192.168.20.0/24"})
		expectAPIError(t, "CreateTransitRouterCidr unknown TransitRouterId", err, http.StatusNotFound, "InvalidTransitRouterId.NotFound")
		if trs, _, err := c.ListTransitRouters(ListTRsIn{TransitRouterId: noTR}); err != nil {
			t.Errorf("ListTransitRouters(unknown TransitRouterId): %v", describeErr(err))
		} else if len(trs) != 0 {
			t.Errorf("ListTransitRouters(unknown TransitRouterId) = %v, want empty", trs)
		}
	})

	t.Run("OtherAccount", func(t *testing.T) {
		bc := client(t, style, srv.Endpoint, bob)
		const noCen, noTR = "cen-doesnotexist00000", "tr-doesnotexist000000"

		// Reads: absent.
		if cen, p := describeCen(t, bc, cenID); cen != nil || p.TotalCount != 0 {
			t.Errorf("bob's DescribeCens(CenId=alice's) = %+v (TotalCount %d), want empty", cen, p.TotalCount)
		}
		if cens, _, err := bc.DescribeCens(DescribeCensIn{PageSize: 50}); err != nil {
			t.Errorf("bob's DescribeCens: %v", describeErr(err))
		} else {
			for _, x := range cens {
				if x.CenId == cenID {
					t.Errorf("bob's DescribeCens lists alice's CEN %s", cenID)
				}
			}
		}
		if trs, _, err := bc.ListTransitRouters(ListTRsIn{PageSize: 50}); err != nil {
			t.Errorf("bob's ListTransitRouters: %v", describeErr(err))
		} else {
			for _, x := range trs {
				if x.TransitRouterId == trID || x.CenId == cenID {
					t.Errorf("bob's unfiltered ListTransitRouters lists alice's TR %+v", x)
				}
			}
		}
		if tr, _ := getTR(t, bc, trID); tr != nil {
			t.Errorf("bob's ListTransitRouters(TransitRouterId=alice's) = %+v, want empty", tr)
		}
		sameAsUnknown(t, "ListTransitRouters(CenId)",
			func() error { trs, _, err := bc.ListTransitRouters(ListTRsIn{CenId: cenID}); return nonEmpty(trs, err) },
			func() error { trs, _, err := bc.ListTransitRouters(ListTRsIn{CenId: noCen}); return nonEmpty(trs, err) })
		sameAsUnknown(t, "ListTagResources(CEN)",
			func() error {
				r, err := bc.ListTagResources(ListTagIn{ResourceType: cenType, ResourceIds: []string{cenID}})
				return nonEmpty(r, err)
			},
			func() error {
				r, err := bc.ListTagResources(ListTagIn{ResourceType: cenType, ResourceIds: []string{noCen}})
				return nonEmpty(r, err)
			})
		sameAsUnknown(t, "ListTransitRouterCidr",
			func() error { r, err := bc.ListTransitRouterCidr(trID, regionHZ); return nonEmpty(r, err) },
			func() error { r, err := bc.ListTransitRouterCidr(noTR, regionHZ); return nonEmpty(r, err) })

		// Writes: exactly like an unknown ID (404 for the ones the contract names).
		err := bc.ModifyCenAttribute(ModifyCenIn{CenId: cenID, Name: "stolen"})
		expectAPIError(t, "bob's ModifyCenAttribute(alice's CEN)", err, http.StatusNotFound, "InvalidCenId.NotFound")
		_, err = bc.CreateTransitRouter(CreateTRIn{CenId: cenID, RegionId: regionSH, Name: "stolen"})
		expectAPIError(t, "bob's CreateTransitRouter(alice's CEN)", err, http.StatusNotFound, "InvalidCenId.NotFound")
		err = bc.UpdateTransitRouter(UpdateTRIn{TransitRouterId: trID, RegionId: regionHZ, Name: "stolen"})
		expectAPIError(t, "bob's UpdateTransitRouter(alice's TR)", err, http.StatusNotFound, "InvalidTransitRouterId.NotFound")
		sameAsUnknown(t, "TagResources(CEN)",
			func() error {
				return bc.TagResources(TagIn{ResourceType: cenType, ResourceIds: []string{cenID}, Tags: []Tag{{"stolen", "yes"}}})
			},
			func() error {
				return bc.TagResources(TagIn{ResourceType: cenType, ResourceIds: []string{noCen}, Tags: []Tag{{"stolen", "yes"}}})
			})
		sameAsUnknown(t, "UntagResources(TR)",
			func() error {
				return bc.UntagResources(UntagIn{ResourceType: trType, RegionId: regionHZ, ResourceIds: []string{trID}, All: true})
			},
			func() error {
				return bc.UntagResources(UntagIn{ResourceType: trType, RegionId: regionHZ, ResourceIds: []string{noTR}, All: true})
			})
		sameAsUnknown(t, "CreateTransitRouterCidr",
			func() error {
				_, err := bc.CreateTransitRouterCidr(CreateCidrIn{TransitRouterId: trID, RegionId: regionHZ, Cidr: "192.168.30.0/24"})
				return err
			},
			func() error {
				_, err := bc.CreateTransitRouterCidr(CreateCidrIn{TransitRouterId: noTR, RegionId: regionHZ, Cidr: "192.168.30.0/24"})
				return err
			})
		err = bc.DeleteTransitRouter(trID)
		expectAPIError(t, "bob's DeleteTransitRouter(alice's TR)", err, http.StatusNotFound, "InvalidTransitRouterId.NotFound")
		err = bc.DeleteCen(cenID)
		expectAPIError(t, "bob's DeleteCen(alice's CEN)", err, http.StatusNotFound, "InvalidCenId.NotFound")

		// Alice's resources are untouched.
		cen, _ := describeCen(t, c, cenID)
		if cen == nil || cen.Status != "Active" || cen.Name == "stolen" || len(cen.Tags) != 0 {
			t.Errorf("alice's CEN after bob's attempts = %+v, want Active, unchanged, untagged", cen)
		}
		tr, _ := getTR(t, c, trID)
		if tr == nil || tr.Status != "Active" || tr.TransitRouterName == "stolen" {
			t.Errorf("alice's TR after bob's attempts = %+v, want Active and unchanged", tr)
		}
		if trs, _, err := c.ListTransitRouters(ListTRsIn{CenId: cenID, RegionId: regionSH}); err != nil || len(trs) != 0 {
			t.Errorf("alice's CEN has TRs in %s after bob's CreateTransitRouter: %v %v", regionSH, trs, err)
		}
	})

	t.Run("DryRun", func(t *testing.T) {
		_, err := c.CreateTransitRouter(CreateTRIn{CenId: cenID, RegionId: regionSH, Name: "dry", DryRun: true})
		expectAPIError(t, "CreateTransitRouter DryRun=true", err, http.StatusBadRequest, "DryRunOperation")
		trs, _, err := c.ListTransitRouters(ListTRsIn{CenId: cenID})
		if err != nil {
			t.Fatalf("ListTransitRouters: %v", describeErr(err))
		}
		if len(trs) != 1 || trs[0].TransitRouterId != trID {
			t.Errorf("TRs of the CEN after a DryRun create = %v, want just %s", trs, trID)
		}
		// Invalid input with DryRun gets the normal error.
		_, err = c.CreateTransitRouter(CreateTRIn{CenId: "cen-doesnotexist00000", RegionId: regionSH, DryRun: true})
		expectAPIError(t, "CreateTransitRouter DryRun=true unknown CenId", err, http.StatusNotFound, "InvalidCenId.NotFound")
	})

	// Clean up so the server ends empty for this style.
	mustOK(t, "DeleteTransitRouter", c.DeleteTransitRouter(trID))
	waitTRGone(t, c, trID)
	mustOK(t, "DeleteCen", c.DeleteCen(cenID))
	waitCenGone(t, c, cenID)
}

// nonEmpty turns a successful but non-empty list into an error, so list calls can be
// compared with sameAsUnknown.
func nonEmpty[T any](items []T, err error) error {
	if err != nil {
		return err
	}
	if len(items) > 0 {
		return fmt.Errorf("returned %d items: %+v", len(items), items)
	}
	return nil
}

// sameAsUnknown asserts that acting on another account's resource has exactly the
// outcome of acting on an ID that does not exist.
func sameAsUnknown(t testing.TB, what string, other, unknown func() error) {
	t.Helper()
	eo, eu := other(), unknown()
	so, su := outcome(eo), outcome(eu)
	if so != su {
		t.Errorf("%s on another account's resource: %s; on an unknown ID: %s; want the same", what, so, su)
	}
	if eo != nil {
		if _, ok := asAPIError(eo); !ok {
			t.Errorf("%s on another account's resource: %v", what, eo)
		}
	}
}

func outcome(err error) string {
	if err == nil {
		return "success (empty)"
	}
	if e, ok := asAPIError(err); ok {
		return fmt.Sprintf("HTTP %d %s", e.Status, e.Code)
	}
	return "error: " + err.Error()
}

// ==== idempotency and restart ==============================================================

func TestClientTokenIdempotency(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	alice := srv.CreateAccount(t, "alice")

	type made struct {
		name, token, cenID, trToken, trID string
	}
	results := map[string]*made{}
	for _, style := range allStyles {
		c := client(t, style, srv.Endpoint, alice)
		m := &made{name: uniq("idem-" + style), token: "tok-" + uniq(style), trToken: "trtok-" + uniq(style)}
		in := CreateCenIn{Name: m.name, Description: "idempotency", ClientToken: m.token}
		m.cenID = must[string](t, style+" CreateCen #1")(c.CreateCen(in))
		id2 := must[string](t, style+" CreateCen #2 (same ClientToken)")(c.CreateCen(in))
		if id2 != m.cenID {
			t.Errorf("%s: CreateCen with the same ClientToken returned %s then %s", style, m.cenID, id2)
		}
		cens, _, err := c.DescribeCens(DescribeCensIn{Filters: []Filter{{Key: "Name", Values: []string{m.name}}}})
		mustOK(t, style+" DescribeCens(Name)", err)
		if len(cens) != 1 {
			t.Errorf("%s: %d CENs named %s after two CreateCen with one ClientToken, want 1", style, len(cens), m.name)
		}
		// A different token creates a different CEN.
		other := must[string](t, style+" CreateCen (other token)")(c.CreateCen(CreateCenIn{Name: m.name + "-b", ClientToken: m.token + "-b"}))
		if other == m.cenID {
			t.Errorf("%s: CreateCen with a different ClientToken returned the same CenId %s", style, other)
		}

		waitCenStatus(t, c, m.cenID, "Active")
		trIn := CreateTRIn{CenId: m.cenID, RegionId: regionHZ, Name: "idem-tr", ClientToken: m.trToken}
		m.trID = must[string](t, style+" CreateTransitRouter #1")(c.CreateTransitRouter(trIn))
		tr2, err := c.CreateTransitRouter(trIn)
		if err != nil {
			t.Errorf("%s: CreateTransitRouter #2 with the same ClientToken: %v, want the same TransitRouterId", style, describeErr(err))
		} else if tr2 != m.trID {
			t.Errorf("%s: CreateTransitRouter with the same ClientToken returned %s then %s", style, m.trID, tr2)
		}
		results[style] = m
	}

	srv.Restart(t)

	for _, style := range allStyles {
		c := client(t, style, srv.Endpoint, alice) // keys survive a restart
		m := results[style]
		id3 := must[string](t, style+" CreateCen after restart (same ClientToken)")(c.CreateCen(CreateCenIn{Name: m.name, Description: "idempotency", ClientToken: m.token}))
		if id3 != m.cenID {
			t.Errorf("%s: after restart CreateCen with the same ClientToken returned %s, want %s", style, id3, m.cenID)
		}
		cen, _ := describeCen(t, c, m.cenID)
		if cen == nil || cen.Name != m.name {
			t.Errorf("%s: CEN %s after restart = %+v, want it with name %s", style, m.cenID, cen, m.name)
		}
		tr3, err := c.CreateTransitRouter(CreateTRIn{CenId: m.cenID, RegionId: regionHZ, Name: "idem-tr", ClientToken: m.trToken})
		if err != nil {
			t.Errorf("%s: after restart CreateTransitRouter with the same ClientToken: %v", style, describeErr(err))
		} else if tr3 != m.trID {
			t.Errorf("%s: after restart CreateTransitRouter with the same ClientToken returned %s, want %s", style, tr3, m.trID)
		}
		waitTRStatus(t, c, m.trID, "Active")
	}

	// The nonce cache survives a restart: a request recorded before it cannot be replayed
	// after it (still inside the 15-minute timestamp window).
	t.Run("ReplayAcrossRestart", func(t *testing.T) {
		px := newProxy(t, srv.Endpoint)
		pc := client(t, styleTeaV2, px.Endpoint(), alice)
		name := uniq("replay-restart")
		if _, err := pc.CreateCen(CreateCenIn{Name: name}); err != nil {
			t.Fatalf("CreateCen: %v", describeErr(err))
		}
		raw := px.Last()
		srv.Restart(t)
		resp, body, err := px.Resend(raw)
		if err != nil {
			t.Fatalf("resend: %v", err)
		}
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), `"SignatureNonceUsed"`) {
			t.Errorf("replay across a restart: HTTP %d %s; want 403 SignatureNonceUsed", resp.StatusCode, body)
		}
		cens, _, _ := pc.DescribeCens(DescribeCensIn{Filters: []Filter{{Key: "Name", Values: []string{name}}}})
		if len(cens) != 1 {
			t.Errorf("CENs named %s after replay across restart: %d, want 1", name, len(cens))
		}
	})

	// The admin key also survives: the CLI still works.
	_ = srv.CreateAccount(t, "after-restart")

	// A crash (SIGKILL) loses nothing that was acknowledged.
	c := client(t, styleACS3, srv.Endpoint, alice)
	crashID := must[string](t, "CreateCen before kill")(c.CreateCen(CreateCenIn{Name: uniq("crash"), ClientToken: "crash-" + uniq("tok")}))
	srv.Kill()
	srv.Restart(t)
	if cen, _ := describeCen(t, c, crashID); cen == nil {
		t.Errorf("CEN %s acknowledged before SIGKILL is gone after restart", crashID)
	} else {
		waitCenStatus(t, c, crashID, "Active") // a CEN caught in Creating must still settle
	}
}

// ==== pagination ============================================================================

func TestPagination(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	alice := srv.CreateAccount(t, "alice")
	c := client(t, styleACS3, srv.Endpoint, alice)
	var ids []string
	for i := 0; i < 3; i++ {
		ids = append(ids, must[string](t, "CreateCen")(c.CreateCen(CreateCenIn{Name: fmt.Sprintf("page-%d", i)})))
	}
	for _, style := range allStyles {
		t.Run(style, func(t *testing.T) {
			sc := client(t, style, srv.Endpoint, alice)
			// Filter values are OR-ed, filters AND-ed.
			cens, _, err := sc.DescribeCens(DescribeCensIn{Filters: []Filter{{Key: "CenId", Values: []string{ids[0], ids[1]}}}})
			mustOK(t, "DescribeCens(CenId in [0,1])", err)
			if len(cens) != 2 {
				t.Errorf("DescribeCens(Filter CenId=[%s %s]) = %d CENs, want 2", ids[0], ids[1], len(cens))
			}
			cens, _, err = sc.DescribeCens(DescribeCensIn{Filters: []Filter{{Key: "CenId", Values: []string{ids[0], ids[1]}}, {Key: "Name", Values: []string{"page-1"}}}})
			mustOK(t, "DescribeCens(CenId in [0,1] AND Name=page-1)", err)
			if len(cens) != 1 || cens[0].CenId != ids[1] {
				t.Errorf("DescribeCens(CenId in [0,1] AND Name=page-1) = %v, want just %s", cens, ids[1])
			}

			seen := map[string]bool{}
			for pn := 1; pn <= 3; pn++ {
				cens, p, err := sc.DescribeCens(DescribeCensIn{PageNumber: pn, PageSize: 1})
				mustOK(t, "DescribeCens page", err)
				if p.PageNumber != pn || p.PageSize != 1 || p.TotalCount != 3 {
					t.Errorf("DescribeCens page %d: echo %+v, want PageNumber %d PageSize 1 TotalCount 3", pn, p, pn)
				}
				if len(cens) != 1 {
					t.Fatalf("DescribeCens page %d: %d items, want 1", pn, len(cens))
				}
				seen[cens[0].CenId] = true
			}
			if len(seen) != 3 {
				t.Errorf("paging PageSize=1 over 3 CENs saw %v, want %v", seen, ids)
			}
			cens, p, err := sc.DescribeCens(DescribeCensIn{PageNumber: 4, PageSize: 1})
			mustOK(t, "DescribeCens past the end", err)
			if len(cens) != 0 || p.TotalCount != 3 {
				t.Errorf("DescribeCens past the end: %d items, TotalCount %d; want 0 and 3", len(cens), p.TotalCount)
			}
			_, _, err = sc.DescribeCens(DescribeCensIn{PageSize: 51})
			expectAPIError(t, "DescribeCens PageSize 51", err, http.StatusBadRequest, "InvalidPageSize")
		})
	}
}
