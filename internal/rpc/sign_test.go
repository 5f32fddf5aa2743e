package rpc

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"opencen/internal/apierr"
)

func TestPercentEncode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"AZaz09-_.~", "AZaz09-_.~"},
		{"*", "%2A"},
		{"~", "~"},
		{" ", "%20"},
		{"+", "%2B"},
		{"a b+c*d~e/f=g&h:i", "a%20b%2Bc%2Ad~e%2Ff%3Dg%26h%3Ai"},
		{"!'()", "%21%27%28%29"},
		{"%", "%25"},
		{"中", "%E4%B8%AD"},
		{"é", "%C3%A9"},
		{"\x00\xff", "%00%FF"},
		{"2016-02-23T12:46:24Z", "2016-02-23T12%3A46%3A24Z"},
	}
	for _, tc := range tests {
		if got := PercentEncode(tc.in); got != tc.want {
			t.Errorf("PercentEncode(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSignV1Vectors(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		params  map[string]string
		secret  string
		wantSTS string
		wantSig string
	}{
		{
			// Alibaba's published worked example (ECS DescribeRegions, secret "testsecret").
			name:   "Alibaba documentation example",
			method: "GET",
			params: map[string]string{
				"AccessKeyId": "testid", "Action": "DescribeRegions", "Format": "XML",
				"SignatureMethod": "HMAC-SHA1", "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
				"SignatureVersion": "1.0", "Timestamp": "2016-02-23T12:46:24Z", "Version": "2014-05-26",
				"Signature": "ignored-when-signing",
			},
			secret: "testsecret",
			wantSTS: "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML" +
				"%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf" +
				"%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26",
			wantSig: "OLeaidS1JvxuMvnyHOwuJ+uX5qY=",
		},
		{
			// alibaba-cloud-sdk-go's own unit-test vector (rpc_signature_composer_test.go): a
			// CommonRequest with empty Action/Version and SignatureType, so empty values are signed.
			name:   "alibaba-cloud-sdk-go test vector",
			method: "GET",
			params: map[string]string{
				"Version": "", "Action": "", "Format": "JSON", "Timestamp": "mock date",
				"SignatureMethod": "HMAC-SHA1", "SignatureType": "", "SignatureVersion": "1.0",
				"SignatureNonce": "MOCK_UUID", "AccessKeyId": "accessKeyId", "RegionId": "regionId",
			},
			secret:  "accessKeySecret",
			wantSig: "7loPmFjvDnzOVnQeQNj85S6nFGY=",
		},
		{
			// Derived by hand: canonical "A=a%20b&B=%2A~&C=&D=%E4%B8%AD", then every % , = and &
			// encoded again. Signature cross-checked with Python hmac and `openssl dgst -sha1 -hmac 's&'`.
			name:    "hand-derived: space, star, tilde, empty, UTF-8",
			method:  "POST",
			params:  map[string]string{"D": "中", "C": "", "B": "*~", "A": "a b"},
			secret:  "s",
			wantSTS: "POST&%2F&A%3Da%2520b%26B%3D%252A~%26C%3D%26D%3D%25E4%25B8%25AD",
			wantSig: "epRRyMwcQXJUuy7kODzW6V4GiQE=",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sts := StringToSignV1(tc.method, tc.params)
			if tc.wantSTS != "" && sts != tc.wantSTS {
				t.Fatalf("StringToSign:\n got %s\nwant %s", sts, tc.wantSTS)
			}
			if got := SignV1(tc.secret, sts); got != tc.wantSig {
				t.Fatalf("signature = %s, want %s", got, tc.wantSig)
			}
		})
	}
}

func TestSignRequestV1RoundTrip(t *testing.T) {
	now := time.Date(2026, 8, 1, 12, 30, 5, 123, time.FixedZone("x", 3600))
	in := map[string]string{
		"Action": "CreateVpnAttachment", "Version": "2016-04-28", "RegionId": "cn-hangzhou",
		"IkeConfig": `{"Psk":"a b*c~"}`, "Tag.1.Key": "k", "Empty": "", "Signature": "stale",
	}
	out := SignRequestV1("POST", in, "AKID", "SECRET", now, "nonce-1")

	want := map[string]string{
		"Format": "JSON", "AccessKeyId": "AKID", "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0",
		"SignatureNonce": "nonce-1", "Timestamp": "2026-08-01T11:30:05Z", "Empty": "",
	}
	for k, v := range want {
		if out[k] != v {
			t.Errorf("%s = %q, want %q", k, out[k], v)
		}
	}
	if in["Signature"] != "stale" || in["Format"] != "" {
		t.Error("SignRequestV1 modified its input")
	}
	if got := SignV1("SECRET", StringToSignV1("POST", out)); got != out["Signature"] {
		t.Fatalf("recomputed %s, signed %s", got, out["Signature"])
	}
	if got := SignV1("WRONG", StringToSignV1("POST", out)); got == out["Signature"] {
		t.Fatal("wrong secret verified")
	}
	if got := SignV1("SECRET", StringToSignV1("GET", out)); got == out["Signature"] {
		t.Fatal("method is not covered by the signature")
	}
	out["RegionId"] = "cn-beijing"
	if got := SignV1("SECRET", StringToSignV1("POST", out)); got == out["Signature"] {
		t.Fatal("mutated parameter verified")
	}
}

// acs3Headers is the header set the darabonba SDK signs for Alibaba's published v3 example.
func acs3Headers() map[string]string {
	return map[string]string{
		"host":                  "ecs.cn-shanghai.aliyuncs.com",
		"x-acs-action":          "RunInstances",
		"x-acs-content-sha256":  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"x-acs-date":            "2023-10-26T10:22:32Z",
		"x-acs-signature-nonce": "3156853299f313e23d1673dc12e1703d",
		"x-acs-version":         "2014-05-26",
		"Accept":                "application/json", // not signed
		"User-Agent":            "AlibabaCloud",     // not signed
	}
}

func TestACS3PublishedExample(t *testing.T) {
	query := map[string]string{"ImageId": "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd", "RegionId": "cn-shanghai"}
	cr := CanonicalRequestACS3("POST", "/", query, acs3Headers(), nil, HashPayload(nil))
	wantCR := "POST\n/\nImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai\n" +
		"host:ecs.cn-shanghai.aliyuncs.com\nx-acs-action:RunInstances\n" +
		"x-acs-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n" +
		"x-acs-date:2023-10-26T10:22:32Z\nx-acs-signature-nonce:3156853299f313e23d1673dc12e1703d\n" +
		"x-acs-version:2014-05-26\n\n" +
		"host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version\n" +
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	if cr != wantCR {
		t.Fatalf("canonical request:\n%q\nwant\n%q", cr, wantCR)
	}
	sts := StringToSignACS3(cr)
	if want := "ACS3-HMAC-SHA256\n7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"; sts != want {
		t.Fatalf("string to sign %q", sts)
	}
	if sig := SignACS3("YourAccessKeySecret", sts); sig != "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0" {
		t.Fatalf("signature %s", sig)
	}

	// The server side: same result when the signed header list comes from the Authorization
	// header and header names arrive in canonical MIME case.
	server := map[string]string{}
	for k, v := range acs3Headers() {
		server[strings.ToUpper(k[:1])+k[1:]] = "  " + v + " "
	}
	_, signed, _, err := ParseAuthorizationACS3("ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0")
	if err != nil {
		t.Fatal(err)
	}
	if got := CanonicalRequestACS3("POST", "/", query, server, signed, HashPayload([]byte{})); got != wantCR {
		t.Fatalf("server-side canonical request differs:\n%q", got)
	}
}

func TestCanonicalRequestACS3Query(t *testing.T) {
	tests := []struct {
		name  string
		query map[string]string
		want  string
	}{
		{"nil", nil, ""},
		{"empty value", map[string]string{"Empty": ""}, "Empty="},
		{
			"spaces, star, tilde, plus, UTF-8, sorted by raw key",
			map[string]string{
				"Name": "a b*c~d", "Empty": "", "Plus": "1+2", "Tilde": "~", "Slash": "a/b=c&d",
				"Zh": "中", "Filter.1.Value.1": "x y",
			},
			"Empty=&Filter.1.Value.1=x%20y&Name=a%20b%2Ac~d&Plus=1%2B2&Slash=a%2Fb%3Dc%26d&Tilde=~&Zh=%E4%B8%AD",
		},
		{
			// The SDK does not encode keys but does run its fix-ups over the whole string.
			"key quirks", map[string]string{"K*": "v", "K+": "", "K%7E": "1"},
			"K~=1&K%2A=v&K%20=", // raw-key order: '%' < '*' < '+'

		},
	}
	h := map[string]string{"host": "h"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cr := CanonicalRequestACS3("GET", "/", tc.query, h, nil, "p")
			want := "GET\n/\n" + tc.want + "\nhost:h\n\nhost\np"
			if cr != want {
				t.Fatalf("got  %q\nwant %q", cr, want)
			}
		})
	}
}

func TestCanonicalRequestACS3Headers(t *testing.T) {
	headers := map[string]string{
		"Host": "127.0.0.1:8080", "Content-Type": "application/x-www-form-urlencoded",
		"X-Acs-Date": " 2026-01-01T00:00:00Z ", "x-acs-action": "CreateCen", "Accept": "application/json",
		"X-ACS-Multi": "b", "x-acs-multi": "a",
	}
	gotDefault := CanonicalRequestACS3("POST", "", nil, headers, nil, "h")
	wantDefault := "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:127.0.0.1:8080\n" +
		"x-acs-action:CreateCen\nx-acs-date:2026-01-01T00:00:00Z\nx-acs-multi:a,b\n\n" +
		"content-type;host;x-acs-action;x-acs-date;x-acs-multi\nh"
	if gotDefault != wantDefault {
		t.Fatalf("default selection:\n%q\nwant\n%q", gotDefault, wantDefault)
	}
	// Explicit list: order and case do not matter, duplicates collapse, absent headers are empty.
	gotList := CanonicalRequestACS3("POST", "/", nil, headers, []string{"X-ACS-DATE", "host", "accept", "host", "x-acs-missing"}, "h")
	wantList := "POST\n/\n\naccept:application/json\nhost:127.0.0.1:8080\nx-acs-date:2026-01-01T00:00:00Z\nx-acs-missing:\n\n" +
		"accept;host;x-acs-date;x-acs-missing\nh"
	if gotList != wantList {
		t.Fatalf("explicit list:\n%q\nwant\n%q", gotList, wantList)
	}
}

func TestHashPayload(t *testing.T) {
	if got := HashPayload(nil); got != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Fatal(got)
	}
	if got := HashPayload([]byte("abc")); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatal(got)
	}
}

func TestParseAuthorizationACS3(t *testing.T) {
	sig := strings.Repeat("ab", 32)
	tests := []struct {
		name     string
		h        string
		ak       string
		headers  []string
		wantCode string
	}{
		{"sdk form", "ACS3-HMAC-SHA256 Credential=AK1,SignedHeaders=host;x-acs-date,Signature=" + sig, "AK1", []string{"host", "x-acs-date"}, ""},
		{"spaces and case", "  ACS3-HMAC-SHA256   credential = AK1 , signedheaders=Host; X-Acs-Date , SIGNATURE=" + strings.ToUpper(sig) + " ", "AK1", []string{"host", "x-acs-date"}, ""},
		{"any item order", "ACS3-HMAC-SHA256 Signature=" + sig + ",SignedHeaders=host,Credential=AK", "AK", []string{"host"}, ""},
		{"empty", "", "", nil, "IncompleteSignature"},
		{"v1-style", "acs AK:sig", "", nil, "IncompleteSignature"},
		{"no space", "ACS3-HMAC-SHA256Credential=AK,SignedHeaders=host,Signature=" + sig, "", nil, "IncompleteSignature"},
		{"other ACS3 algorithm", "ACS3-HMAC-SM3 Credential=AK,SignedHeaders=host,Signature=" + sig, "", nil, "InvalidSignatureMethod"},
		{"missing signature", "ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=host", "", nil, "IncompleteSignature"},
		{"missing credential", "ACS3-HMAC-SHA256 SignedHeaders=host,Signature=" + sig, "", nil, "IncompleteSignature"},
		{"empty credential", "ACS3-HMAC-SHA256 Credential=,SignedHeaders=host,Signature=" + sig, "", nil, "IncompleteSignature"},
		{"empty header name", "ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=host;;x-acs-date,Signature=" + sig, "", nil, "IncompleteSignature"},
		{"short signature", "ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=host,Signature=abc", "", nil, "IncompleteSignature"},
		{"non-hex signature", "ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=host,Signature=" + strings.Repeat("zz", 32), "", nil, "IncompleteSignature"},
		{"duplicate item", "ACS3-HMAC-SHA256 Credential=AK,Credential=AK2,SignedHeaders=host,Signature=" + sig, "", nil, "IncompleteSignature"},
		{"unknown item", "ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=host,Signature=" + sig + ",Extra=1", "", nil, "IncompleteSignature"},
		{"item without =", "ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=host,Signature=" + sig + ",", "", nil, "IncompleteSignature"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ak, headers, gotSig, err := ParseAuthorizationACS3(tc.h)
			if tc.wantCode != "" {
				var ae *apierr.Error
				if !errors.As(err, &ae) || ae.Code != tc.wantCode || ae.HTTPStatus() != 403 {
					t.Fatalf("err = %v, want %s", err, tc.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ak != tc.ak || !reflect.DeepEqual(headers, tc.headers) || !strings.EqualFold(gotSig, sig) {
				t.Fatalf("got %q %q %q", ak, headers, gotSig)
			}
		})
	}
}

func TestParseTimestamp(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2016-02-23T12:46:24Z", time.Date(2016, 2, 23, 12, 46, 24, 0, time.UTC), true},
		{"2016-02-23T12:46:24.123Z", time.Date(2016, 2, 23, 12, 46, 24, 123e6, time.UTC), true},
		{"2016-02-23T20:46:24+08:00", time.Date(2016, 2, 23, 12, 46, 24, 0, time.UTC), true},
		{"2016-02-23 12:46:24", time.Time{}, false},
		{"2016-02-23T12:46Z", time.Time{}, false},
		{"Tue, 23 Feb 2016 12:46:24 GMT", time.Time{}, false},
		{"1456231584", time.Time{}, false},
		{"", time.Time{}, false},
	}
	for _, tc := range tests {
		got, err := ParseTimestamp(tc.in)
		if !tc.ok {
			var ae *apierr.Error
			if !errors.As(err, &ae) || ae.Code != "InvalidTimeStamp.Format" || !strings.Contains(ae.Message, "yyyy-MM-ddTHH:mm:ssZ") {
				t.Errorf("ParseTimestamp(%q) err = %v", tc.in, err)
			}
			continue
		}
		if err != nil || !got.Equal(tc.want) || got.Location() != time.UTC {
			t.Errorf("ParseTimestamp(%q) = %v, %v", tc.in, got, err)
		}
	}
}

func TestCheckSkew(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	const window = 15 * time.Minute
	tests := []struct {
		offset time.Duration
		ok     bool
	}{
		{0, true},
		{window, true},
		{-window, true},
		{window + time.Second, false},
		{-window - time.Second, false},
		{-24 * time.Hour, false},
	}
	for _, tc := range tests {
		err := CheckSkew(now.Add(tc.offset), now, window)
		if tc.ok != (err == nil) {
			t.Errorf("offset %v: err = %v", tc.offset, err)
		}
		if err != nil {
			var ae *apierr.Error
			if !errors.As(err, &ae) || ae.Code != "InvalidTimeStamp.Expired" ||
				!strings.Contains(ae.Message, "15m0s") || !strings.Contains(ae.Message, "2026-01-01T12:00:00Z") {
				t.Errorf("offset %v: err = %v", tc.offset, err)
			}
		}
	}
}
