package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"opencen/internal/apierr"
)

// testServer verifies v1 signatures the way the real server must, with this package's
// pieces, and answers per handler.
func testServer(t *testing.T, secret string, handle func(p Params) (int, any)) *httptest.Server {
	t.Helper()
	nonces := NewNonceCache(SkewWindow, 0)
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p, err := Decode(r, body)
		status, resp := 0, any(nil)
		switch {
		case err != nil:
			status, resp = 400, map[string]string{"Code": apierr.From(err).Code, "Message": err.Error()}
		case r.Method != http.MethodPost || r.URL.Path != "/":
			status, resp = 400, map[string]string{"Code": "BadPath"}
		case SignV1(secret, StringToSignV1(r.Method, p)) != p["Signature"]:
			status, resp = 400, map[string]string{"RequestId": "R1", "HostId": "h", "Code": "SignatureDoesNotMatch",
				"Message":   "Specified signature is not matched with our calculation. server string to sign is:" + StringToSignV1(r.Method, p),
				"Recommend": "https://api.aliyun.com/troubleshoot?q=SignatureDoesNotMatch"}
		case nonces.Use(p["AccessKeyId"], p["SignatureNonce"], time.Now(), time.Now()) != nil:
			status, resp = 400, map[string]string{"Code": "SignatureNonceUsed"}
		default:
			ts, err := ParseTimestamp(p["Timestamp"])
			if err == nil {
				err = CheckSkew(ts, time.Now(), 15*time.Minute)
			}
			if err != nil {
				status, resp = 400, map[string]string{"Code": apierr.From(err).Code}
				break
			}
			status, resp = handle(p)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if s, ok := resp.(string); ok {
			io.WriteString(w, s)
			return
		}
		json.NewEncoder(w).Encode(resp)
	}))
}

func TestClientCall(t *testing.T) {
	srv := testServer(t, "SECRET", func(p Params) (int, any) {
		switch p["Action"] {
		case "CreateCen":
			if p["Version"] != "2017-09-12" || p["Name"] != "a b+c*~中" || p["Format"] != "JSON" {
				return 400, map[string]string{"Code": "Bad", "Message": "params " + p["Name"]}
			}
			return 200, map[string]any{"RequestId": "R2", "CenId": "cen-1"}
		case "DescribeCens":
			return 404, map[string]string{"RequestId": "R3", "HostId": "cbn.aliyuncs.com",
				"Code": "InvalidCenId.NotFound", "Message": "The CEN does not exist.", "Recommend": "x"}
		case "Throttled":
			return 503, `<html>busy</html>`
		case "LowerCase":
			return 400, map[string]string{"code": "Forbidden.RAM", "message": "denied"}
		}
		return 400, map[string]string{"Code": "InvalidAction.NotFound"}
	})
	defer srv.Close()
	c := &Client{Endpoint: srv.URL + "/", AccessKeyID: "AK", AccessKeySecret: "SECRET"}
	ctx := context.Background()

	var out struct{ RequestId, CenId string }
	if err := c.Call(ctx, "2017-09-12", "CreateCen", map[string]string{"Name": "a b+c*~中", "Empty": ""}, &out); err != nil {
		t.Fatal(err)
	}
	if out.CenId != "cen-1" || out.RequestId != "R2" {
		t.Fatalf("out = %+v", out)
	}
	if err := c.Call(ctx, "2017-09-12", "CreateCen", map[string]string{"Name": "a b+c*~中"}, nil); err != nil {
		t.Fatalf("nil out: %v", err)
	}

	errTests := []struct {
		name, action, code string
		status             int
		msg                string
	}{
		{"error envelope", "DescribeCens", "InvalidCenId.NotFound", 404, "The CEN does not exist."},
		{"non-JSON error body", "Throttled", "UnknownError", 503, "HTTP 503: <html>busy</html>"},
		{"lower-case keys", "LowerCase", "Forbidden.RAM", 400, "denied"},
	}
	for _, tc := range errTests {
		t.Run(tc.name, func(t *testing.T) {
			err := c.Call(ctx, "2017-09-12", tc.action, nil, &out)
			var ae *apierr.Error
			if !errors.As(err, &ae) || ae.Code != tc.code || ae.Status != tc.status || ae.HTTPStatus() != tc.status || ae.Message != tc.msg {
				t.Fatalf("err = %#v", err)
			}
		})
	}

	wrong := &Client{Endpoint: strings.TrimPrefix(srv.URL, "http://"), AccessKeyID: "AK", AccessKeySecret: "WRONG"}
	err := wrong.Call(ctx, "2017-09-12", "CreateCen", nil, nil)
	var ae *apierr.Error
	if !errors.As(err, &ae) || ae.Code != "SignatureDoesNotMatch" || !strings.Contains(ae.Message, "string to sign is:POST&%2F&") {
		t.Fatalf("wrong secret: %v", err)
	}
}

func TestClientTransportError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c := &Client{Endpoint: url, AccessKeyID: "AK", AccessKeySecret: "S", HTTP: &http.Client{Timeout: time.Second}}
	err := c.Call(context.Background(), "v", "A", nil, nil)
	var ae *apierr.Error
	if err == nil || errors.As(err, &ae) {
		t.Fatalf("want a transport error, got %v", err)
	}
}
