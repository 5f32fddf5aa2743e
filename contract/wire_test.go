package contract

// Guards the test harness itself: each client style really puts its data where the real
// client does (so a passing flow means the server handles that placement).

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
)

func TestClientWireShapes(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	alice := srv.CreateAccount(t, "alice")
	for _, style := range allStyles {
		t.Run(style, func(t *testing.T) {
			t.Parallel()
			px := newProxy(t, srv.Endpoint)
			c := client(t, style, px.Endpoint(), alice)
			name := uniq("wire-" + style)
			if _, err := c.CreateCen(CreateCenIn{Name: name, Description: "wire", Tags: []Tag{{"k", "v"}}}); err != nil {
				t.Fatalf("CreateCen: %v", describeErr(err))
			}
			req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(px.Last())))
			if err != nil {
				t.Fatalf("parse recorded request: %v", err)
			}
			body, _ := io.ReadAll(req.Body)
			form, _ := url.ParseQuery(string(body))
			q := req.URL.Query()
			keys := func(v url.Values) string {
				var ks []string
				for k := range v {
					ks = append(ks, k)
				}
				sort.Strings(ks)
				return strings.Join(ks, ",")
			}
			t.Logf("%s %s\nquery keys: %s\nform keys: %s", req.Method, req.URL.Path, keys(q), keys(form))
			if req.Method != http.MethodPost {
				t.Errorf("method %s, want POST", req.Method)
			}
			switch style {
			case styleACS3:
				if q.Get("Action") != "" || q.Get("Signature") != "" {
					t.Errorf("ACS3 request has v1 query params: %s", keys(q))
				}
				if !strings.HasPrefix(req.Header.Get("Authorization"), "ACS3-HMAC-SHA256 ") || req.Header.Get("x-acs-action") != "CreateCen" {
					t.Errorf("ACS3 request headers: Authorization=%q x-acs-action=%q", req.Header.Get("Authorization"), req.Header.Get("x-acs-action"))
				}
				if q.Get("Name") != name || q.Get("Tag.1.Key") != "k" {
					t.Errorf("ACS3 business params not in the query: %s", keys(q))
				}
			case styleTeaV2, styleSDKGo:
				if q.Get("Action") != "CreateCen" || q.Get("SignatureMethod") != "HMAC-SHA1" || q.Get("Signature") == "" {
					t.Errorf("v1 query lacks Action/SignatureMethod/Signature: %s", keys(q))
				}
				if q.Get("Name") != name || q.Get("Tag.1.Value") != "v" {
					t.Errorf("business params not in the query: %s", keys(q))
				}
				if style == styleSDKGo && (!q.Has("SignatureType") || q.Get("RegionId") != regionHZ) {
					t.Errorf("alibaba-cloud-sdk-go adds an empty SignatureType and RegionId; query: %s", keys(q))
				}
			case styleTeaRPC:
				allowed := map[string]bool{"Action": true, "Format": true, "Timestamp": true, "Version": true, "SignatureNonce": true,
					"SignatureMethod": true, "SignatureVersion": true, "AccessKeyId": true, "Signature": true}
				for k := range q {
					if !allowed[k] {
						t.Errorf("tea-rpc (terraform) query carries business param %q", k)
					}
				}
				if form.Get("Name") != name || form.Get("Tag.1.Key") != "k" || form.Get("Description") != "wire" {
					t.Errorf("tea-rpc business params not in the form body: %s", keys(form))
				}
				if !strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
					t.Errorf("tea-rpc Content-Type %q", req.Header.Get("Content-Type"))
				}
			}
		})
	}
}
