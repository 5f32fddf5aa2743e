package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
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
