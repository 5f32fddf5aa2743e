package rpc

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"sort"
	"strings"
	"time"

	"opencen/internal/apierr"
)

// ---------------------------------------------------------------------------------------------
// Signature v1 (HMAC-SHA1): aliyun CLI, terraform, alibaba-cloud-sdk-go, tea-rpc.

// PercentEncode is the RFC 3986 encoding both signature versions use: only A-Z a-z 0-9 - _ . ~
// stay literal, every other UTF-8 byte becomes %XX with upper-case hex (space is %20, never +).
func PercentEncode(s string) string {
	n := escapedLen(s, 3)
	if n == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(n)
	writeEscaped(&b, s, "%")
	return b.String()
}

// escapedLen is len(s) once each reserved byte is replaced by perByte bytes.
func escapedLen(s string, perByte int) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		if !isUnreserved(s[i]) {
			n += perByte - 1
		}
	}
	return n
}

// writeEscaped writes s with each reserved byte as prefix+XX: prefix "%" is PercentEncode,
// "%25" is PercentEncode applied twice (the hex digits are unreserved, only "%" changes).
func writeEscaped(b *strings.Builder, s, prefix string) {
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteString(prefix)
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0xF])
	}
}

func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// StringToSignV1 builds METHOD&%2F&encode(k1=v1&k2=v2...) over every parameter except
// Signature, empty values included. Pairs are ordered by raw key in byte order, which is what
// every SDK does (they sort with url.Values.Encode); for the key characters SDKs ever send
// (letters, digits, '.', '-', '_') this is the same as ordering by encoded key. The result is
// built in one allocation: a request may carry megabytes of parameters.
func StringToSignV1(method string, params map[string]string) string {
	keys := make([]string, 0, len(params))
	n := len(method) + len("&%2F&")
	for k, v := range params {
		if k != "Signature" {
			keys = append(keys, k)
			n += escapedLen(k, 5) + len("%3D") + escapedLen(v, 5) + len("%26")
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	b.Grow(n)
	b.WriteString(method)
	b.WriteString("&%2F&")
	for i, k := range keys {
		if i > 0 {
			b.WriteString("%26") // "&", encoded by the outer pass
		}
		writeEscaped(&b, k, "%25")
		b.WriteString("%3D") // "="
		writeEscaped(&b, params[k], "%25")
	}
	return b.String()
}

// SignV1 is base64(HMAC-SHA1(secret + "&", stringToSign)); the "&" is the empty
// token-secret half of the key that Alibaba kept from OAuth-style signing.
func SignV1(secret, stringToSign string) string {
	m := hmac.New(sha1.New, []byte(secret+"&"))
	m.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// TimestampFormat is the UTC ISO 8601 form clients send in Timestamp and x-acs-date.
const TimestampFormat = "2006-01-02T15:04:05Z"

// SignRequestV1 returns a copy of params with the common v1 parameters added and signed, ready
// to send as query or form parameters.
func SignRequestV1(method string, params map[string]string, accessKeyID, secret string, now time.Time, nonce string) map[string]string {
	out := make(map[string]string, len(params)+7)
	for k, v := range params {
		out[k] = v
	}
	delete(out, "Signature")
	out["Format"] = "JSON"
	out["AccessKeyId"] = accessKeyID
	out["SignatureMethod"] = "HMAC-SHA1"
	out["SignatureVersion"] = "1.0"
	out["SignatureNonce"] = nonce
	out["Timestamp"] = now.UTC().Format(TimestampFormat)
	out["Signature"] = SignV1(secret, StringToSignV1(method, out))
	return out
}

// ---------------------------------------------------------------------------------------------
// Signature v3 (ACS3-HMAC-SHA256): default of the alibabacloud-go Tea/darabonba SDKs.

// ACS3Algorithm is the only v3 algorithm OpenCEN verifies.
const ACS3Algorithm = "ACS3-HMAC-SHA256"

// CanonicalRequestACS3 builds the v3 canonical request
//
//	METHOD \n path \n canonical-query \n canonical-headers \n signed-headers \n payload-hash
//
// The query is canonicalized exactly as the darabonba SDK does it, quirks included: keys sorted
// in byte order and not encoded, values url.QueryEscape'd, empty value as "key=", then over the
// whole string "+"->"%20", "*"->"%2A", "%7E"->"~".
//
// Header names are matched case-insensitively and lower-cased, values trimmed; several
// values for one name are sorted and joined with ",". signedHeaders lists the headers to
// include (the server passes the list from the Authorization header); nil selects what the SDK
// signs: host, content-type and every x-acs-* header present. Names are sorted and
// de-duplicated; a listed header that is absent is signed with an empty value.
func CanonicalRequestACS3(method, path string, query map[string]string, headers map[string]string, signedHeaders []string, payloadHash string) string {
	if path == "" {
		path = "/"
	}
	path = acs3Replace(path)

	values := map[string][]string{}
	for k, v := range headers {
		lk := strings.ToLower(k)
		values[lk] = append(values[lk], strings.TrimSpace(v))
	}
	var names []string
	if signedHeaders == nil {
		for lk := range values {
			if lk == "host" || lk == "content-type" || strings.HasPrefix(lk, "x-acs-") {
				names = append(names, lk)
			}
		}
	} else {
		seen := map[string]bool{}
		for _, h := range signedHeaders {
			lk := strings.ToLower(strings.TrimSpace(h))
			if !seen[lk] {
				seen[lk] = true
				names = append(names, lk)
			}
		}
	}
	sort.Strings(names)

	var b strings.Builder
	b.WriteString(method)
	b.WriteByte('\n')
	b.WriteString(path)
	b.WriteByte('\n')
	b.WriteString(canonicalQueryACS3(query))
	b.WriteByte('\n')
	for _, n := range names {
		vs := values[n]
		sort.Strings(vs)
		b.WriteString(n)
		b.WriteByte(':')
		b.WriteString(strings.Join(vs, ","))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(names, ";"))
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

func canonicalQueryACS3(query map[string]string) string {
	keys := make([]string, 0, len(query))
	for k := range query {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteByte('&')
		b.WriteString(k)
		b.WriteByte('=')
		if v := query[k]; v != "" {
			b.WriteString(url.QueryEscape(v))
		}
	}
	return strings.TrimLeft(acs3Replace(b.String()), "&")
}

var acs3Replacer = strings.NewReplacer("+", "%20", "*", "%2A", "%7E", "~")

// acs3Replace applies the SDK's three fix-ups. The SDK runs three sequential
// strings.Replace calls; a single-pass Replacer gives the same result because no replacement's
// output can form another pattern ("%20" and "%2A" contain no "%7E", "+" or "*").
func acs3Replace(s string) string { return acs3Replacer.Replace(s) }

// StringToSignACS3 is "ACS3-HMAC-SHA256\n" + hex(sha256(canonicalRequest)).
func StringToSignACS3(canonicalRequest string) string {
	sum := sha256.Sum256([]byte(canonicalRequest))
	return ACS3Algorithm + "\n" + hex.EncodeToString(sum[:])
}

// SignACS3 is hex(HMAC-SHA256(secret, stringToSign)); unlike v1 there is no "&" suffix.
func SignACS3(secret, sts string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(sts))
	return hex.EncodeToString(m.Sum(nil))
}

// HashPayload is hex(sha256(body)), sent by v3 clients as x-acs-content-sha256.
func HashPayload(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// ParseAuthorizationACS3 splits
//
//	ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=<h1;h2>,Signature=<hex>
//
// Whitespace around items is tolerated and item names are case-insensitive. A different
// ACS3 algorithm is InvalidSignatureMethod; anything else malformed is IncompleteSignature.
// Signed header names are returned lower-cased, in the order sent.
func ParseAuthorizationACS3(h string) (accessKeyID string, signedHeaders []string, signature string, err error) {
	h = strings.TrimSpace(h)
	alg, rest, ok := strings.Cut(h, " ")
	if !ok || alg != ACS3Algorithm {
		if strings.HasPrefix(alg, "ACS3-") && ok {
			return "", nil, "", apierr.New("InvalidSignatureMethod",
				"The signature algorithm %q is not supported; use %s.", alg, ACS3Algorithm)
		}
		return "", nil, "", incompleteACS3("it must start with %q followed by a space", ACS3Algorithm)
	}
	var haveCred, haveHeaders, haveSig bool
	for _, item := range strings.Split(rest, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			return "", nil, "", incompleteACS3("item %q is not name=value", item)
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "credential":
			if haveCred || value == "" {
				return "", nil, "", incompleteACS3("Credential must appear once and be non-empty")
			}
			haveCred, accessKeyID = true, value
		case "signedheaders":
			if haveHeaders || value == "" {
				return "", nil, "", incompleteACS3("SignedHeaders must appear once and be non-empty")
			}
			haveHeaders = true
			for _, sh := range strings.Split(value, ";") {
				sh = strings.ToLower(strings.TrimSpace(sh))
				if sh == "" {
					return "", nil, "", incompleteACS3("SignedHeaders %q contains an empty header name", value)
				}
				signedHeaders = append(signedHeaders, sh)
			}
		case "signature":
			if haveSig || !isHex64(value) {
				return "", nil, "", incompleteACS3("Signature must appear once and be 64 hexadecimal characters")
			}
			haveSig, signature = true, value
		default:
			return "", nil, "", incompleteACS3("unknown item %q", name)
		}
	}
	if !haveCred || !haveHeaders || !haveSig {
		return "", nil, "", incompleteACS3("Credential, SignedHeaders and Signature are all required")
	}
	return accessKeyID, signedHeaders, signature, nil
}

func incompleteACS3(format string, args ...any) error {
	e := apierr.New("IncompleteSignature", format, args...)
	e.Message = "The Authorization header is malformed: " + e.Message +
		" (expected: " + ACS3Algorithm + " Credential=<AccessKeyId>,SignedHeaders=<h1;h2;...>,Signature=<hex>)."
	return e
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// ---------------------------------------------------------------------------------------------
// Timestamps and replay protection.

// ParseTimestamp reads Timestamp / x-acs-date. The documented form is yyyy-MM-ddTHH:mm:ssZ;
// fractional seconds and numeric offsets (RFC 3339) are accepted too. The result is UTC.
func ParseTimestamp(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, apierr.New("InvalidTimeStamp.Format",
			"Specified time stamp %q is not in the expected format yyyy-MM-ddTHH:mm:ssZ (UTC, ISO 8601), e.g. 2024-01-02T15:04:05Z.",
			s)
	}
	return t.UTC(), nil
}

// CheckSkew rejects a request time more than window away from the server clock, in either
// direction, which bounds how long a captured request stays replayable.
func CheckSkew(t, now time.Time, window time.Duration) error {
	d := now.Sub(t)
	if d < 0 {
		d = -d
	}
	if d > window {
		return apierr.New("InvalidTimeStamp.Expired",
			"Specified time stamp or date value is expired: %s differs from the server time %s by more than the allowed %s.",
			t.UTC().Format(TimestampFormat), now.UTC().Format(TimestampFormat), window)
	}
	return nil
}
