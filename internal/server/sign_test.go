package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"opencen/internal/apierr"
	"opencen/internal/rpc"
)

func apiErr(t *testing.T, err error) *apierr.Error {
	t.Helper()
	var e *apierr.Error
	if !errors.As(err, &e) {
		t.Fatalf("not an API error: %v", err)
	}
	return e
}

func decodeErr(t *testing.T, resp *http.Response) *apierr.Error {
	t.Helper()
	defer resp.Body.Close()
	var body struct{ RequestId, HostId, Code, Message, Recommend string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if body.RequestId == "" || body.HostId == "" || body.Recommend == "" || body.Message == "" {
		t.Errorf("incomplete error envelope: %+v", body)
	}
	return &apierr.Error{Code: body.Code, Message: body.Message, Status: resp.StatusCode}
}

// signedV1 sends a v1-signed GET with the given clock and nonce.
func signedV1(t *testing.T, e *env, now time.Time, nonce string, mutate func(url.Values)) *http.Response {
	t.Helper()
	params := rpc.SignRequestV1(http.MethodGet, map[string]string{"Action": "DescribeCens", "Version": "2017-09-12"}, "AKADMIN", "admin-secret", now, nonce)
	q := url.Values{}
	for k, v := range params {
		q.Set(k, v)
	}
	if mutate != nil {
		mutate(q)
	}
	resp, err := http.Get(e.http.URL + "/?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestV1ReplayAndClock(t *testing.T) {
	e := newEnv(t)
	now := time.Now()
	if resp := signedV1(t, e, now, "n-1", nil); resp.StatusCode != 200 {
		t.Fatalf("first request: %+v", decodeErr(t, resp))
	}
	if got := decodeErr(t, signedV1(t, e, now, "n-1", nil)); got.Code != "SignatureNonceUsed" || got.Status != 403 {
		t.Fatalf("replay: %+v", got)
	}
	if got := decodeErr(t, signedV1(t, e, now.Add(-16*time.Minute), "n-2", nil)); got.Code != "InvalidTimeStamp.Expired" {
		t.Fatalf("old timestamp: %+v", got)
	}
	if got := decodeErr(t, signedV1(t, e, now.Add(16*time.Minute), "n-3", nil)); got.Code != "InvalidTimeStamp.Expired" {
		t.Fatalf("future timestamp: %+v", got)
	}
	if resp := signedV1(t, e, now.Add(-14*time.Minute), "n-4", nil); resp.StatusCode != 200 {
		t.Fatalf("14 minutes old: %+v", decodeErr(t, resp))
	}
	got := decodeErr(t, signedV1(t, e, now, "n-5", func(q url.Values) { q.Set("Timestamp", "yesterday") }))
	if got.Code != "InvalidTimeStamp.Format" {
		t.Fatalf("bad timestamp: %+v", got)
	}
	got = decodeErr(t, signedV1(t, e, now, "n-6", func(q url.Values) { q.Set("PageSize", "2") }))
	if got.Code != "SignatureDoesNotMatch" || !strings.Contains(got.Message, "server string to sign is:GET&%2F&") {
		t.Fatalf("tampered: %+v", got)
	}
	// The tampered request did not spend its nonce: the genuine one still works.
	if resp := signedV1(t, e, now, "n-6", nil); resp.StatusCode != 200 {
		t.Fatalf("nonce of a rejected request: %+v", decodeErr(t, resp))
	}
	got = decodeErr(t, signedV1(t, e, now, "n-8", func(q url.Values) { q.Set("Format", "XML") }))
	if got.Code != "InvalidFormat" || got.Status != 400 || !strings.Contains(got.Message, "JSON") {
		t.Fatalf("XML: %+v", got)
	}
	got = decodeErr(t, signedV1(t, e, now, "n-7", func(q url.Values) { q.Set("SignatureMethod", "HMAC-MD5") }))
	if got.Code != "InvalidSignatureMethod" {
		t.Fatalf("method: %+v", got)
	}
}

func TestDisabledAndDeletedKeys(t *testing.T) {
	e := newEnv(t)
	c := e.account("alice")
	adminCall := func(action string, p map[string]string) {
		if err := e.admin.Call(t.Context(), "2026-11-01", action, p, nil); err != nil {
			t.Fatal(err)
		}
	}
	adminCall("UpdateAccessKeyStatus", map[string]string{"UserAccessKeyId": c.AccessKeyID, "Status": "Inactive"})
	if e := cbnErr(t, c, "DescribeCens", nil); e.Code != "InvalidAccessKeyId.Inactive" || e.Status != 403 {
		t.Fatalf("disabled key: %v %d", e, e.Status)
	}
	adminCall("UpdateAccessKeyStatus", map[string]string{"UserAccessKeyId": c.AccessKeyID, "Status": "Active"})
	call(t, c, "DescribeCens", nil)
	adminCall("DeleteAccessKey", map[string]string{"UserAccessKeyId": c.AccessKeyID})
	if e := cbnErr(t, c, "DescribeCens", nil); e.Code != "InvalidAccessKeyId.NotFound" || e.Status != 404 {
		t.Fatalf("deleted key: %v", e)
	}
	err := e.admin.Call(t.Context(), "2026-11-01", "DeleteAccessKey", map[string]string{"UserAccessKeyId": "AKADMIN"}, nil)
	if got := apiErr(t, err); got.Code != "OperationDenied.LastAdminKey" {
		t.Fatalf("deleting the last admin key: %v", err)
	}
}

func TestReplayRefusedAfterRestart(t *testing.T) {
	e := newEnv(t)
	now := time.Now()
	if resp := signedV1(t, e, now, "before-restart", nil); resp.StatusCode != 200 {
		t.Fatalf("first: %+v", decodeErr(t, resp))
	}
	e.restart()
	if got := decodeErr(t, signedV1(t, e, now, "before-restart", nil)); got.Code != "SignatureNonceUsed" {
		t.Fatalf("replay after restart: %+v", got)
	}
}

// acs3 sends action as an ACS3-signed POST with an empty body; signed lists the headers the
// signature covers (nil: what the SDK signs), and mutate may change the request after signing.
func acs3(t *testing.T, e *env, action string, signed []string, extra map[string]string, mutate func(*http.Request)) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.http.URL+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	headers := map[string]string{
		"host": req.URL.Host, "x-acs-action": action, "x-acs-version": "2017-09-12",
		"x-acs-date": time.Now().UTC().Format(rpc.TimestampFormat), "x-acs-signature-nonce": rpc.HashPayload([]byte(t.Name() + time.Now().String())),
		"x-acs-content-sha256": rpc.HashPayload(nil),
	}
	for k, v := range extra {
		headers[k] = v
	}
	cr := rpc.CanonicalRequestACS3(http.MethodPost, "/", nil, headers, signed, rpc.HashPayload(nil))
	names := signed
	if names == nil {
		for k := range headers {
			names = append(names, k)
		}
		slices.Sort(names)
	}
	for k, v := range headers {
		if k != "host" {
			req.Header.Set(k, v)
		}
	}
	req.Header.Set("Authorization", rpc.ACS3Algorithm+" Credential=AKADMIN,SignedHeaders="+strings.Join(names, ";")+",Signature="+rpc.SignACS3("admin-secret", rpc.StringToSignACS3(cr)))
	if mutate != nil {
		mutate(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func cenCount(t *testing.T, e *env) int {
	t.Helper()
	var out struct{ TotalCount int }
	if err := e.admin.Call(t.Context(), "2017-09-12", "DescribeCens", nil, &out); err != nil {
		t.Fatal(err)
	}
	return out.TotalCount
}

// TestACS3SignedHeadersMustCoverEveryACSHeader: a signature over host alone (or over anything
// less than host and every x-acs-* header sent) is refused, so a captured request cannot be
// re-sent with another action, nonce and date; what the SDK signs is accepted.
func TestACS3SignedHeadersMustCoverEveryACSHeader(t *testing.T) {
	e := newEnv(t)
	for name, signed := range map[string][]string{
		"host only":         {"host"},
		"without host":      {"x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce", "x-acs-version"},
		"without the nonce": {"host", "x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-version"},
	} {
		got := decodeErr(t, acs3(t, e, "CreateCen", signed, nil, nil))
		if got.Code != "IncompleteSignature" || got.Status != 403 || !strings.Contains(got.Message, "not signed: ") {
			t.Errorf("%s: %+v", name, got)
		}
	}
	// The attack: a request signed over host alone, re-sent as another action with a fresh
	// nonce and date the signature does not cover.
	got := decodeErr(t, acs3(t, e, "DescribeCens", []string{"host"}, nil, func(r *http.Request) {
		r.Header.Set("x-acs-action", "CreateCen")
		r.Header.Set("x-acs-signature-nonce", "fresh")
		r.Header.Set("x-acs-date", time.Now().UTC().Format(rpc.TimestampFormat))
	}))
	if got.Code != "IncompleteSignature" || !strings.Contains(got.Message, "x-acs-action, x-acs-content-sha256, x-acs-date, x-acs-signature-nonce, x-acs-version") {
		t.Errorf("re-sent host-only signature: %+v", got)
	}
	// An extra x-acs-* header must be signed too.
	got = decodeErr(t, acs3(t, e, "CreateCen", nil, nil, func(r *http.Request) { r.Header.Set("x-acs-extra", "1") }))
	if got.Code != "IncompleteSignature" || !strings.Contains(got.Message, "not signed: x-acs-extra.") {
		t.Errorf("unsigned extra header: %+v", got)
	}
	if n := cenCount(t, e); n != 0 {
		t.Fatalf("refused requests created %d CENs", n)
	}
	if resp := acs3(t, e, "CreateCen", nil, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("fully signed request: %+v", decodeErr(t, resp))
	}
	if n := cenCount(t, e); n != 1 {
		t.Fatalf("%d CENs after one accepted CreateCen", n)
	}
}

// TestMadeUpSecurityTokenRefused: OpenCEN issues no STS tokens, so a request carrying one
// (v1 SecurityToken, as `aliyun --mode StsToken` sends, or ACS3 x-acs-security-token) is
// refused as the cloud refuses a malformed token, even when its signature is right.
func TestMadeUpSecurityTokenRefused(t *testing.T) {
	e := newEnv(t)
	params := rpc.SignRequestV1(http.MethodPost, map[string]string{"Action": "CreateCen", "Version": "2017-09-12", "SecurityToken": "CAIS-made-up"}, "AKADMIN", "admin-secret", time.Now(), "sts-1")
	form := url.Values{}
	for k, v := range params {
		form.Set(k, v)
	}
	resp, err := http.PostForm(e.http.URL+"/", form)
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]*apierr.Error{
		"v1 SecurityToken":          decodeErr(t, resp),
		"ACS3 x-acs-security-token": decodeErr(t, acs3(t, e, "CreateCen", nil, map[string]string{"x-acs-security-token": "CAIS-made-up"}, nil)),
	} {
		if got.Code != "InvalidSecurityToken.Malformed" || got.Status != 403 || !strings.Contains(got.Message, "no STS tokens") {
			t.Errorf("%s: %+v", name, got)
		}
	}
	if n := cenCount(t, e); n != 0 {
		t.Fatalf("requests with a made-up token created %d CENs", n)
	}
}
