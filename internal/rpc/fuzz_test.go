package rpc

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"opencen/internal/apierr"
)

var fixedNow = time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)

func rawRequest(query, contentType string) *http.Request {
	r := &http.Request{Method: http.MethodPost, URL: &url.URL{Path: "/", RawQuery: query}, Header: http.Header{}}
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

func FuzzDecode(f *testing.F) {
	f.Add("Action=A&Version=1&Tag.1.Key=k&Tag.1.Value=v&Tag.2.Key=x", "Filter.1.Key=a&Filter.1.Value.1=b&Filter.1.Value.2=c&Filter.10.Key=z", true, "Filter")
	f.Add("Ids.1=a&Ids.3=c&Ids.02=bad&Ids.x=bad&Ids.2=b", "", false, "Ids")
	f.Add("A=%zz", "B=1", true, "A")
	f.Add("", "Opt.X=1&Opt.Y.Z=2&Opt.=3&Opt..1=4", true, "Opt")
	f.Add("N.1.=x&N.1..=y&N..1=z&N.999999999.F=q", "N.1.F=body", true, "N")
	f.Add("a=1;b=2", "%", true, "")
	f.Fuzz(func(t *testing.T, query, body string, form bool, name string) {
		ct := ""
		if form {
			ct = "application/x-www-form-urlencoded; charset=utf-8"
		}
		p, err := Decode(rawRequest(query, ct), []byte(body))
		if err != nil {
			var ae *apierr.Error
			if !errors.As(err, &ae) || ae.Code != "InvalidParameter" || ae.Message == "" {
				t.Fatalf("error is not InvalidParameter: %v", err)
			}
			return
		}
		// Body wins over query.
		if form {
			if bv, err := url.ParseQuery(body); err == nil {
				for k, vs := range bv {
					if p[k] != vs[0] {
						t.Fatalf("body value for %q lost: %q vs %q", k, p[k], vs[0])
					}
				}
			}
		}
		// Re-encoding and decoding gives the same map.
		enc := url.Values{}
		for k, v := range p {
			enc.Set(k, v)
		}
		p2, err := Decode(rawRequest(enc.Encode(), ""), nil)
		if err != nil || !reflect.DeepEqual(p, p2) {
			t.Fatalf("re-decode: %v\n%v\n%v", err, p, p2)
		}
		if strings.TrimSpace(p[name]) != "" {
			return // the JSON-array form: FuzzArrayParams
		}
		checkListInvariants(t, p, name)
		objs, err := p.Objects(name)
		if err != nil {
			t.Fatalf("Objects(%q) of a flattened list: %v", name, err)
		}
		for _, o := range objs {
			if strings.TrimSpace(o.Fields["Value"]) == "" {
				checkListInvariants(t, o.Fields, "Value")
			}
		}
	})
}

// checkListInvariants: List/Objects/Sub only ever return values present under the expected
// keys, in strictly increasing index order, and account for every well-formed key.
func checkListInvariants(t *testing.T, p Params, name string) {
	t.Helper()
	prefix := name + "."
	var listKeys, objKeys, subKeys int
	for k := range p {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		if rest != "" {
			subKeys++
		}
		if _, ok := parseListIndex(rest); ok {
			listKeys++
		}
		if num, field, ok := strings.Cut(rest, "."); ok && field != "" {
			if _, ok := parseListIndex(num); ok {
				objKeys++
			}
		}
	}

	items := p.listIndexed(name)
	list, err := p.List(name)
	if _, structured := p.structuredElement(name); structured != (err != nil) {
		t.Fatalf("List(%q) of a flattened list: %v (structured element: %v)", name, err, structured)
	} else if structured {
		list = make([]string, len(items)) // refused: the rest still holds for the keys
	}
	if len(items) != listKeys || len(list) != listKeys {
		t.Fatalf("List(%q): %d items for %d keys", name, len(items), listKeys)
	}
	for i, it := range items {
		if i > 0 && items[i-1].n >= it.n {
			t.Fatalf("List(%q) not strictly ordered: %v", name, items)
		}
		if p[prefix+strconv.Itoa(it.n)] != it.value {
			t.Fatalf("List(%q)[%d] = %q not from key", name, it.n, it.value)
		}
	}

	objs := p.objectsIndexed(name)
	total := 0
	for i, o := range objs {
		if i > 0 && objs[i-1].n >= o.n {
			t.Fatalf("Objects(%q) not strictly ordered", name)
		}
		if len(o.obj) == 0 {
			t.Fatalf("Objects(%q) returned an empty object", name)
		}
		for field, v := range o.obj {
			if p[prefix+strconv.Itoa(o.n)+"."+field] != v {
				t.Fatalf("Objects(%q)[%d].%s = %q not from key", name, o.n, field, v)
			}
		}
		total += len(o.obj)
	}
	if got, err := p.Objects(name); total != objKeys || err != nil || len(got) != len(objs) {
		t.Fatalf("Objects(%q): %d fields for %d keys", name, total, objKeys)
	}

	sub := p.Sub(name)
	if len(sub) != subKeys {
		t.Fatalf("Sub(%q): %d keys for %d", name, len(sub), subKeys)
	}
	for k, v := range sub {
		if p[prefix+k] != v {
			t.Fatalf("Sub(%q)[%q] = %q not from key", name, k, v)
		}
	}
}

// FuzzArrayParams: an array parameter given as one JSON value is read without a panic; it
// is either refused with Invalid{Name}, or it gives exactly the items its flattened form
// gives.
func FuzzArrayParams(f *testing.F) {
	f.Add(`[{"Key":"a","Value":"b"},{"Key":"c"}]`)
	f.Add(`[{"CustomerGatewayId":"cgw-1","TunnelIkeConfig":{"Psk":"x","IkeLifetime":86400},"EnableDpd":true,"Role":null}]`)
	f.Add(`[{"Key":"CenId","Value":["a","b"]},{"Items":[{"K":1},{"K":[2,3]}]}]`)
	f.Add(`["a",1,true]`)
	f.Add(`[{"A.B":1}]`)
	f.Add(`{"a":1}`)
	f.Add(`[`)
	f.Fuzz(func(t *testing.T, raw string) {
		p := Params{"X": raw}
		items, err := p.Objects("X")
		list, lerr := p.List("X")
		for _, e := range []error{err, lerr} {
			if e == nil {
				continue
			}
			var ae *apierr.Error
			if !errors.As(e, &ae) || ae.Code != "InvalidX" || ae.HTTPStatus() != 400 {
				t.Fatalf("error is not InvalidX: %v", e)
			}
		}
		if lerr == nil && strings.TrimSpace(raw) != "" {
			flat := Params{}
			for i, v := range list {
				flat["X."+strconv.Itoa(i+1)] = v
			}
			if again, err := flat.List("X"); err != nil || len(again) != len(list) {
				t.Fatalf("List round trip: %v %v vs %v", err, again, list)
			}
		}
		if err != nil || strings.TrimSpace(raw) == "" {
			return
		}
		flat := Params{}
		for i, it := range items {
			if it.Name != "X."+strconv.Itoa(i+1) {
				t.Fatalf("item %d named %q", i, it.Name)
			}
			for k, v := range it.Fields {
				if k == "" {
					t.Fatalf("item %d has an empty field name", i)
				}
				flat[it.Name+"."+k] = v
			}
		}
		again, err := flat.Objects("X")
		if err != nil {
			t.Fatal(err)
		}
		var nonEmpty []Item
		for _, it := range items {
			if len(it.Fields) > 0 {
				nonEmpty = append(nonEmpty, it) // an empty object has no flattened form
			}
		}
		if len(again) != len(nonEmpty) {
			t.Fatalf("flattened round trip: %d items, want %d", len(again), len(nonEmpty))
		}
		for i := range again {
			if !reflect.DeepEqual(again[i].Fields, nonEmpty[i].Fields) {
				t.Fatalf("flattened round trip: %v vs %v", again[i].Fields, nonEmpty[i].Fields)
			}
		}
	})
}

func FuzzParseJSONParam(f *testing.F) {
	f.Add(`{"enable":true,"dip":"1.1.1.1","interval":3,"Policy":"revoke_route"}`)
	f.Add(`{"Enable":"true","Interval":"3","Retry":""}`)
	f.Add(`{"EnableBgp":true,"LocalAsn":45104}`)
	f.Add(`[{"Cidr":"10.0.0.0/8","PublishCidrRoute":"false","desc":"x"}]`)
	f.Add(`{"ike":{"Psk":"p","IkeLifetime":"86400","Weight":1e3},"bgp":"{\"LocalAsn\":7}","cidrs":[{}],"tags":[1,"a",false,null]}`)
	f.Add(`{"Interval":99999999999}`)
	f.Add(`{"Psk":`)
	f.Add(`"[]"`)
	f.Add(``)
	f.Fuzz(func(t *testing.T, raw string) {
		targets := []func() any{
			func() any { return new(healthCheck) },
			func() any { return new(bgpConfig) },
			func() any { return new(ikeConfig) },
			func() any { return new([]cidr) },
			func() any { return new(withNested) },
		}
		for _, mk := range targets {
			dst := mk()
			err := ParseJSONParam("P", raw, dst)
			if err != nil {
				var ae *apierr.Error
				if !errors.As(err, &ae) || !strings.HasPrefix(ae.Code, "InvalidP") || ae.Message == "" {
					t.Fatalf("%T: error is not an apierr Invalid: %v", dst, err)
				}
				continue
			}
			// Whatever was accepted survives a round trip through its canonical JSON form.
			canon, err := json.Marshal(dst)
			if err != nil {
				t.Fatalf("%T: marshal: %v", dst, err)
			}
			again := mk()
			if err := ParseJSONParam("P", string(canon), again); err != nil {
				t.Fatalf("%T: re-parse of %s: %v", dst, canon, err)
			}
			if !reflect.DeepEqual(dst, again) {
				t.Fatalf("%T: round trip differs:\n%+v\n%+v", dst, dst, again)
			}
		}
	})
}

// fuzzParams turns "k=v&k2=v2" into a map without any decoding, so keys and values can hold
// arbitrary bytes.
func fuzzParams(data string) map[string]string {
	m := map[string]string{}
	if data == "" {
		return m
	}
	for _, pair := range strings.Split(data, "&") {
		k, v, _ := strings.Cut(pair, "=")
		m[k] = v
	}
	return m
}

func FuzzVerifyV1(f *testing.F) {
	f.Add("Action=CreateCen&Version=2017-09-12&Name=a b*c~&Empty=", "secret", "nonce")
	f.Add("Tag.1.Key=中&Tag.1.Value=%2B+", "", "")
	f.Add("=&a=", "s", "n")
	f.Add("", "s", "n")
	f.Fuzz(func(t *testing.T, data, secret, nonce string) {
		params := fuzzParams(data)
		delete(params, "Signature")
		for _, method := range []string{"POST", "GET"} {
			sig := SignV1(secret, StringToSignV1(method, params))

			// Over the wire: form-encode with the signature, decode as the server does, verify.
			form := url.Values{}
			for k, v := range params {
				form.Set(k, v)
			}
			form.Set("Signature", sig)
			got, err := Decode(rawRequest("", "application/x-www-form-urlencoded"), []byte(form.Encode()))
			if err != nil {
				t.Fatalf("decode of our own encoding: %v", err)
			}
			if SignV1(secret, StringToSignV1(method, got)) != got["Signature"] {
				t.Fatalf("signature did not verify after the wire round trip: %q", data)
			}

			// Any change to a signed parameter must break verification.
			mutated := make(map[string]string, len(params)+1)
			for k, v := range params {
				mutated[k] = v
			}
			keys := make([]string, 0, len(params))
			for k := range params {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if len(keys) > 0 {
				mutated[keys[0]] += "x"
			} else {
				mutated["X"] = ""
			}
			if SignV1(secret, StringToSignV1(method, mutated)) == sig {
				t.Fatalf("mutated parameters verified: %q", data)
			}
		}

		// The client helper signs what the server recomputes.
		signed := SignRequestV1("POST", params, "AK", secret, fixedNow, nonce)
		if SignV1(secret, StringToSignV1("POST", signed)) != signed["Signature"] {
			t.Fatal("SignRequestV1 output does not verify")
		}
	})
}

func FuzzParseAuthorizationACS3(f *testing.F) {
	sig := strings.Repeat("0f", 32)
	f.Add("ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=host;x-acs-date,Signature=" + sig)
	f.Add(" ACS3-HMAC-SHA256  credential=AK , SignedHeaders = Host ; X-Acs-Date ,signature=" + strings.ToUpper(sig))
	f.Add("ACS3-HMAC-SM3 Credential=AK,SignedHeaders=host,Signature=" + sig)
	f.Add("ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=;,Signature=x")
	f.Add("ACS3-HMAC-SHA256 ,,,")
	f.Add("acs AK:sig")
	f.Fuzz(func(t *testing.T, h string) {
		ak, headers, s, err := ParseAuthorizationACS3(h)
		if err != nil {
			var ae *apierr.Error
			if !errors.As(err, &ae) || (ae.Code != "IncompleteSignature" && ae.Code != "InvalidSignatureMethod") {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if ak == "" || strings.Contains(ak, ",") || len(headers) == 0 || !isHex64(s) {
			t.Fatalf("accepted a malformed header: %q -> %q %q %q", h, ak, headers, s)
		}
		for _, hn := range headers {
			if hn == "" || strings.ContainsAny(hn, ";,") {
				t.Fatalf("bad header name %q", hn)
			}
		}
		// Re-rendering in the SDK's canonical form parses to the same values.
		again := ACS3Algorithm + " Credential=" + ak + ",SignedHeaders=" + strings.Join(headers, ";") + ",Signature=" + s
		ak2, headers2, s2, err := ParseAuthorizationACS3(again)
		if err != nil || ak2 != ak || !reflect.DeepEqual(headers2, headers) || s2 != s {
			t.Fatalf("re-parse of %q: %v %q %q %q", again, err, ak2, headers2, s2)
		}
	})
}

// FuzzACS3SignVerify signs like the SDK (default header selection), sends the header list
// through the Authorization header, and verifies like the server (headers in canonical MIME
// case, signed list taken from Authorization).
func FuzzACS3SignVerify(f *testing.F) {
	f.Add("RegionId=cn-hangzhou&Name=a b*c~&Empty=", "date=2026-01-01T00:00:00Z&nonce=abc", []byte("A=1"), "secret")
	f.Add("", "", []byte{}, "")
	f.Add("K*=v&K+=&K%7E=1", "x=  padded  ", []byte("\x00"), "s")
	f.Fuzz(func(t *testing.T, queryData, headerData string, body []byte, secret string) {
		query := fuzzParams(queryData)
		headers := map[string]string{"host": "127.0.0.1:8080", "content-type": "application/x-www-form-urlencoded", "user-agent": "unsigned"}
		for k, v := range fuzzParams(headerData) {
			if !isHeaderToken(k) {
				continue
			}
			headers["x-acs-"+strings.ToLower(k)] = v
		}
		payload := HashPayload(body)
		headers["x-acs-content-sha256"] = payload

		var names []string
		for k := range headers {
			if k == "host" || k == "content-type" || strings.HasPrefix(k, "x-acs-") {
				names = append(names, k)
			}
		}
		sort.Strings(names)
		cr := CanonicalRequestACS3("POST", "/", query, headers, nil, payload)
		sig := SignACS3(secret, StringToSignACS3(cr))
		auth := ACS3Algorithm + " Credential=AK,SignedHeaders=" + strings.Join(names, ";") + ",Signature=" + sig

		// Server side.
		ak, signed, gotSig, err := ParseAuthorizationACS3(auth)
		if err != nil || ak != "AK" || gotSig != sig {
			t.Fatalf("parse %q: %v", auth, err)
		}
		server := map[string]string{}
		for k, v := range headers {
			server[http.CanonicalHeaderKey(k)] = v
		}
		serverCR := CanonicalRequestACS3("POST", "/", query, server, signed, HashPayload(body))
		if serverCR != cr || SignACS3(secret, StringToSignACS3(serverCR)) != sig {
			t.Fatalf("server recomputation differs:\n%q\n%q", cr, serverCR)
		}

		// Tampering with a query value, the body or a signed header breaks it.
		mutated := map[string]string{"Injected": ""}
		for k, v := range query {
			mutated[k] = v
		}
		if _, had := query["Injected"]; had {
			mutated["Injected"] += "x"
		}
		if SignACS3(secret, StringToSignACS3(CanonicalRequestACS3("POST", "/", mutated, server, signed, payload))) == sig {
			t.Fatal("mutated query verified")
		}
		if SignACS3(secret, StringToSignACS3(CanonicalRequestACS3("POST", "/", query, server, signed, HashPayload(append(body, 'x'))))) == sig {
			t.Fatal("mutated body verified")
		}
		server["Host"] += "x"
		if SignACS3(secret, StringToSignACS3(CanonicalRequestACS3("POST", "/", query, server, signed, payload))) == sig {
			t.Fatal("mutated host verified")
		}
	})
}

// isHeaderToken keeps fuzzed header names to what HTTP allows, so they survive the
// Authorization header's ; and , syntax and canonical MIME casing.
func isHeaderToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
