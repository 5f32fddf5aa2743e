package console

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"opencen/internal/apierr"
	"opencen/internal/connect"
	"opencen/internal/rpc"
)

const (
	testKeyID  = "LTAItestkey0000000000"
	testSecret = "s3cret-of-the-test-key"
)

var testIdentity = rpc.Identity{AccountID: "1234567890123456"}

// fakeLookup serves the given keys (ID -> secret); any other key is unknown, the way
// the service answers for a deleted key.
func fakeLookup(keys map[string]string) rpc.KeyLookup {
	return func(_ context.Context, id string) (rpc.Identity, string, error) {
		secret, ok := keys[id]
		if !ok {
			return rpc.Identity{}, "", apierr.New("InvalidAccessKeyId.NotFound", "Specified access key is not found: %s.", id)
		}
		return testIdentity, secret, nil
	}
}

// inactiveLookup is the service's answer for a disabled key.
func inactiveLookup(_ context.Context, id string) (rpc.Identity, string, error) {
	return rpc.Identity{}, "", apierr.New("InvalidAccessKeyId.Inactive", "Specified access key %s is disabled.", id)
}

// tamper replaces the last character of s with another one.
func tamper(s string) string {
	last := s[len(s)-1]
	repl := byte('A')
	if last == 'A' {
		repl = 'B'
	}
	return s[:len(s)-1] + string(repl)
}

func TestVerifySession(t *testing.T) {
	issued := time.Unix(1_700_000_000, 0)
	good := newSessionCookie(testKeyID, testSecret, issued)
	keyID, exp, nonce, sig := splitCookie(t, good)
	active := fakeLookup(map[string]string{testKeyID: testSecret})

	tests := []struct {
		name   string
		value  string
		lookup rpc.KeyLookup
		now    time.Time
		ok     bool
	}{
		{"fresh", good, active, issued, true},
		{"an hour later", good, active, issued.Add(time.Hour), true},
		{"last second of validity", good, active, issued.Add(sessionTTL), true},
		{"expired", good, active, issued.Add(sessionTTL + time.Second), false},
		{"long expired", good, active, issued.Add(30 * 24 * time.Hour), false},
		{"MAC altered", tamper(good), active, issued, false},
		{"MAC missing", keyID + "." + exp + "." + nonce + ".", active, issued, false},
		{"nonce missing", keyID + "." + exp + ".." + sig, active, issued, false},
		{"nonce changed", keyID + "." + exp + ".AAAAAAAAAAAAAAAA." + sig, active, issued, false},
		{"MAC truncated", keyID + "." + exp + "." + nonce + "." + sig[:len(sig)-2], active, issued, false},
		{"expiry extended", keyID + "." + fmt.Sprint(issued.Add(48*time.Hour).Unix()) + "." + sig, active, issued, false},
		{"expiry with sign", keyID + ".+" + exp + "." + nonce + "." + sig, active, issued, false},
		{"other key ID, same MAC", "LTAIotherkey000000000." + exp + "." + sig,
			fakeLookup(map[string]string{testKeyID: testSecret, "LTAIotherkey000000000": "another-secret"}), issued, false},
		{"key deleted", good, fakeLookup(nil), issued, false},
		{"key disabled", good, inactiveLookup, issued, false},
		{"secret changed", good, fakeLookup(map[string]string{testKeyID: "rotated-secret"}), issued, false},
		{"empty", "", active, issued, false},
		{"one part", "a", active, issued, false},
		{"two parts", "a.b", active, issued, false},
		{"expiry not a number", "a.notanumber.c", active, issued, false},
		{"no key ID", "." + exp + "." + nonce + "." + sig, active, issued, false},
		{"empty parts", "..", active, issued, false},
		{"extra part", good + ".x", active, issued, false},
		{"MAC of the right key over the wrong secret", keyID + "." + exp + "." + nonce + "." + mac("wrong", "opencen-console-session", keyID, exp, nonce), active, issued, false},
		{"CSRF token instead of the session MAC", keyID + "." + exp + "." + nonce + "." + mac(testSecret, "opencen-console-csrf", keyID, exp, nonce), active, issued, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := verifySession(context.Background(), tt.lookup, tt.value, tt.now)
			if !tt.ok {
				if !errors.Is(err, errNoSession) || s != nil {
					t.Fatalf("verifySession(%q) = %+v, %v; want nil, errNoSession", tt.value, s, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("verifySession(%q): %v", tt.value, err)
			}
			if s.keyID != testKeyID || s.id != testIdentity || s.cookie != tt.value || s.secret != testSecret {
				t.Fatalf("session = %+v; want key %s, identity %+v, the cookie itself", s, testKeyID, testIdentity)
			}
		})
	}
}

func TestNewSessionCookieShape(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	keyID, exp, nonce, sig := splitCookie(t, newSessionCookie(testKeyID, testSecret, now))
	if keyID != testKeyID {
		t.Errorf("key ID part = %q; want %q", keyID, testKeyID)
	}
	if want := fmt.Sprint(now.Add(sessionTTL).Unix()); exp != want {
		t.Errorf("expiry part = %q; want %q", exp, want)
	}
	// A cookie value must need no quoting: base64url without padding.
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`).MatchString(sig) {
		t.Errorf("MAC part %q is not 32 bytes of unpadded base64url", sig)
	}
	if a, b := newSessionCookie(testKeyID, testSecret, now), newSessionCookie(testKeyID, testSecret, now); a == b {
		t.Error("two sign-ins in the same second got the same cookie")
	}
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{16}$`).MatchString(nonce) {
		t.Errorf("nonce part %q is not 12 bytes of unpadded base64url", nonce)
	}
}

func splitCookie(t *testing.T, v string) (keyID, exp, nonce, sig string) {
	t.Helper()
	parts := strings.Split(v, ".")
	if len(parts) != 4 {
		t.Fatalf("cookie %q has %d parts; want 4", v, len(parts))
	}
	return parts[0], parts[1], parts[2], parts[3]
}

func TestCSRF(t *testing.T) {
	lookup := fakeLookup(map[string]string{testKeyID: testSecret, "LTAIotherkey000000000": "another-secret"})
	now := time.Unix(1_700_000_000, 0)
	signIn := func(keyID, secret string, at time.Time) *session {
		t.Helper()
		s, err := verifySession(context.Background(), lookup, newSessionCookie(keyID, secret, at), now)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	mine := signIn(testKeyID, testSecret, now)
	// Same key, signed in a second later (another browser): another cookie.
	sameKeyOtherCookie := signIn(testKeyID, testSecret, now.Add(time.Second))
	otherKey := signIn("LTAIotherkey000000000", "another-secret", now)
	token := mine.csrfToken()

	if token == "" || token != mine.csrfToken() {
		t.Fatalf("csrfToken is empty or unstable: %q", token)
	}
	if _, _, _, sig := splitCookie(t, mine.cookie); token == sig {
		t.Fatal("the CSRF token equals the session cookie's MAC (it would leak the cookie into the page)")
	}
	tests := []struct {
		name  string
		s     *session
		token string
		ok    bool
	}{
		{"own token", mine, token, true},
		{"empty token", mine, "", false},
		{"altered token", mine, tamper(token), false},
		{"truncated token", mine, token[:len(token)-1], false},
		{"token of the same key's other session", sameKeyOtherCookie, token, false},
		{"token of another key's session", otherKey, token, false},
		{"other session's token", mine, otherKey.csrfToken(), false},
		{"the cookie itself", mine, mine.cookie, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.checkCSRF(tt.token); got != tt.ok {
				t.Fatalf("checkCSRF(%q) = %v; want %v", tt.token, got, tt.ok)
			}
		})
	}
	// An empty secret must not make an empty token valid either.
	blank := &session{cookie: "x.1.y"}
	if blank.checkCSRF("") {
		t.Fatal("checkCSRF accepted an empty token")
	}
}

// signOutMap records sign-outs for the import test.
type signOutMap map[string]time.Time

func (m signOutMap) SignOut(_ context.Context, session string, until time.Time) error {
	m[session] = until
	return nil
}

func (m signOutMap) SignedOut(_ context.Context, session string) (bool, error) {
	_, ok := m[session]
	return ok, nil
}

// TestImportSignOuts: the sign-outs an older server kept in its file move to the store,
// except those expired and a line torn by a crash; the file is gone after.
func TestImportSignOuts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "console-signouts")
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	live, expired := signOutKey("AK.1.n1.mac1"), signOutKey("AK.2.n2.mac2")
	file := fmt.Sprintf("%s %d\n%s %d\n0123", live, t0.Add(time.Hour).Unix(), expired, t0.Add(-time.Minute).Unix())
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	got := signOutMap{}
	if err := importSignOuts(t.Context(), path, got, t0); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !got[live].Equal(t0.Add(time.Hour)) {
		t.Fatalf("imported %v; want only %s until %v", got, live, t0.Add(time.Hour))
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the file after the import: %v; want it removed", err)
	}
	if err := importSignOuts(t.Context(), path, got, t0); err != nil {
		t.Fatalf("import without a file: %v", err)
	}
}

func TestSigninLimit(t *testing.T) {
	var l signinLimit
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for i := range signinFailures {
		if w := l.wait("198.18.0.9", t0.Add(time.Duration(i)*time.Second)); w != 0 {
			t.Fatalf("after %d failures: wait %v, want none", i, w)
		}
		l.fail("198.18.0.9", t0.Add(time.Duration(i)*time.Second))
	}
	if w := l.wait("198.18.0.9", t0.Add(10*time.Second)); w != signinWindow-10*time.Second {
		t.Fatalf("after %d failures: wait %v, want until the first is %v old", signinFailures, w, signinWindow)
	}
	if w := l.wait("198.18.0.10", t0.Add(10*time.Second)); w != 0 {
		t.Fatalf("another address waits %v", w)
	}
	// Once the first failure leaves the window one more try is allowed; failing it waits
	// for the second to leave.
	at := t0.Add(signinWindow)
	if w := l.wait("198.18.0.9", at); w != 0 {
		t.Fatalf("when the first failure is %v old: wait %v", signinWindow, w)
	}
	l.fail("198.18.0.9", at)
	if w := l.wait("198.18.0.9", at); w != time.Second {
		t.Fatalf("after failing again: wait %v, want 1s", w)
	}
	// Addresses whose failures are all old are forgotten.
	l.fail("198.18.0.11", at.Add(2*signinWindow))
	if len(l.failures) != 1 {
		t.Fatalf("remembered addresses: %v", l.failures)
	}
}

func TestSameOrigin(t *testing.T) {
	const host = "console.example:8080"
	tests := []struct {
		name            string
		origin, referer string
		ok              bool
	}{
		{"no header (non-browser client)", "", "", true},
		{"same origin http", "http://" + host, "", true},
		{"same origin https", "https://" + host, "", true},
		{"same origin with trailing slash", "http://" + host + "/", "", true},
		{"other host", "http://evil.example", "", false},
		{"same name, other port", "http://console.example", "", false},
		{"host as prefix of another", "http://" + host + ".evil.example", "", false},
		{"userinfo trick", "http://" + host + "@evil.example", "", false},
		{"null origin", "null", "", false},
		{"null origin, same-origin referer", "null", "http://" + host + "/console/cens", false},
		{"other scheme", "ftp://" + host, "", false},
		{"no scheme", host, "", false},
		{"protocol-relative", "//" + host, "", false},
		{"foreign origin wins over same-origin referer", "http://evil.example", "http://" + host + "/console/cens", false},
		{"same origin wins over foreign referer", "http://" + host, "http://evil.example/", true},
		{"same-origin referer", "", "http://" + host + "/console/cens?x=1", true},
		{"same-origin https referer", "", "https://" + host + "/console/cens", true},
		{"foreign referer", "", "http://evil.example/console/cens", false},
		{"foreign referer naming the host in its path", "", "http://evil.example/http://" + host + "/", false},
		{"null referer", "", "null", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "http://"+host+"/console/cens", nil)
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			if tt.referer != "" {
				r.Header.Set("Referer", tt.referer)
			}
			if got := sameOrigin(r); got != tt.ok {
				t.Fatalf("sameOrigin(Origin %q, Referer %q, Host %q) = %v; want %v", tt.origin, tt.referer, r.Host, got, tt.ok)
			}
		})
	}
}

func TestFieldErrors(t *testing.T) {
	const highlighted = "Check the highlighted fields."
	connectForm := url.Values{"IkeConfig.Psk": {"bad key"}, "Tags.1.Key": {"acs:x"}, "Name": {""}}
	pskErr := apierr.Invalid("IkeConfig.Psk", "IkeConfig.Psk may contain letters, digits and symbols only (no spaces).")

	tests := []struct {
		name     string
		err      error
		form     url.Values
		field    string // the field the message is placed on, "" for none
		fieldMsg string // substring of the field's message
		page     string // substring of the page-level message
	}{
		{"API error on a form field", pskErr, connectForm, "IkeConfig.Psk", "no spaces", highlighted},
		{"message carries the code", pskErr, connectForm, "IkeConfig.Psk", "(InvalidIkeConfigPsk)", highlighted},
		{"wrapped API error", fmt.Errorf("creating: %w", pskErr), connectForm, "IkeConfig.Psk", "no spaces", highlighted},
		{"joined with a cleanup failure", errors.Join(pskErr, errors.New("undo failed")), connectForm, "IkeConfig.Psk", "no spaces", highlighted},
		{"attachment tag Tag.N maps to Tags.N", apierr.Invalid("Tag.1.Key", "A tag key may not start with acs:."), connectForm, "Tags.1.Key", "acs:", highlighted},
		{"Tag.N without the form field", apierr.Invalid("Tag.2.Key", "Bad tag."), connectForm, "", "", "(InvalidTagKey)"},
		{"param the form lacks", apierr.Invalid("BgpConfig.TunnelCidr", "Bad CIDR."), connectForm, "", "", "Bad CIDR. (InvalidBgpConfigTunnelCidr)"},
		{"no param", apierr.New("IncorrectStatus.TransitRouter", "The transit router is not Active."), connectForm, "", "", "(IncorrectStatus.TransitRouter)"},
		{"no form (error page)", pskErr, nil, "", "", "(InvalidIkeConfigPsk)"},
		{"field error", &connect.FieldError{Field: "LocalSubnet", Message: "Flow Protection needs CIDRs."}, connectForm, "LocalSubnet", "Flow Protection needs CIDRs.", highlighted},
		{"wrapped field error", fmt.Errorf("form: %w", &connect.FieldError{Field: "VpnId", Message: "Select one."}), nil, "VpnId", "Select one.", highlighted},
		{"zone parameter on the Zone field", apierr.Invalid("Zone.ZoneId", "Zone.1.ZoneId is not a zone."), url.Values{"ZoneId": {"x"}}, "ZoneId", "not a zone", highlighted},
		{"connection Name on Attachment Name", apierr.Invalid("Name", "Name is too long."), url.Values{"TransitRouterAttachmentName": {"x"}}, "TransitRouterAttachmentName", "too long", highlighted},
		{"Name stays on a Name field", apierr.Invalid("Name", "Name is too long."), url.Values{"Name": {"x"}, "TransitRouterAttachmentName": {"x"}}, "Name", "too long", highlighted},
		{"plain error", errors.New("connection refused"), connectForm, "", "", "The request failed"},
		{"internals stay in the log", io.ErrUnexpectedEOF, connectForm, "", "", "its log has the details"},
		{"orphaned connection is named", &connect.OrphanError{Err: apierr.New("Forbidden.InstanceNotGranted", "Not granted."), VpnConnectionID: "vco-left", Undo: errors.New("down")},
			connectForm, "", "", "Not granted. (Forbidden.InstanceNotGranted) The IPsec-VPN connection vco-left created for it could not be deleted again"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs, page := fieldErrors(tt.err, tt.form)
			if !strings.Contains(page, tt.page) {
				t.Errorf("page message = %q; want it to contain %q", page, tt.page)
			}
			if tt.field == "" {
				if len(errs) != 0 {
					t.Errorf("field messages = %v; want none", errs)
				}
				return
			}
			if len(errs) != 1 || !strings.Contains(errs[tt.field], tt.fieldMsg) {
				t.Errorf("field messages = %v; want only %s with %q", errs, tt.field, tt.fieldMsg)
			}
		})
	}
}

func TestTopology(t *testing.T) {
	const (
		vpnAtt  = "tr-attach-vpn1"
		evilAtt = `tr-attach-<script>alert(1)</script>`
		sysTab  = "vtb-system1"
		custTab = "vtb-custom1"
	)
	tr := map[string]any{"TransitRouterId": "tr-abc", "TransitRouterName": `main"><script>x()</script>`, "Status": "Active"}
	v := trView{
		Attachments: []map[string]any{
			{"TransitRouterAttachmentId": vpnAtt, "Kind": "VPN", "VpnId": "vco-1", "Status": "Attached", "Tunnel": "ipsec_sa_established"},
			{"TransitRouterAttachmentId": evilAtt, "Kind": "VPC", "VpcId": `vpc-<script>y()</script>`, "Status": "Attaching"},
		},
		Tables: []any{
			map[string]any{"TransitRouterRouteTableId": sysTab, "TransitRouterRouteTableType": "System", "TransitRouterRouteTableStatus": "Active"},
			map[string]any{"TransitRouterRouteTableId": custTab, "TransitRouterRouteTableType": "Custom", "TransitRouterRouteTableStatus": "Creating",
				"TransitRouterRouteTableName": "<b>bold</b>"},
		},
		Links: []topoLink{
			{Attachment: vpnAtt, Table: sysTab, Status: "Active"},
			{Attachment: evilAtt, Table: custTab, Status: "Enabling", Propagation: true},
			// Links to what is not drawn are left out.
			{Attachment: vpnAtt, Table: "vtb-gone", Status: "Active"},
			{Attachment: "tr-attach-gone", Table: sysTab, Status: "Active", Propagation: true},
		},
	}
	svg := string(topology(tr, v))

	checks := []struct {
		name    string
		pattern string
		count   int
	}{
		{"one attached, established attachment", `class="node att ok"`, 1},
		{"the attaching one is busy", `class="node att busy"`, 1},
		{"tables", `class="node table `, 2},
		{"system table ID", `>` + sysTab + `<`, 1},
		{"custom table ID", `>` + custTab + `<`, 1},
		{"one association curve", `<path class="link assoc ok" d="M\d+ \d+ C`, 1},
		{"one propagation curve", `<path class="link prop busy" d="M\d+ \d+ C`, 1},
		{"no curve to vanished nodes", `vtb-gone|tr-attach-gone`, 0},
		{"tunnel state shown", `Attached · ipsec_sa_established`, 2}, // title and sub-label
		{"title counts", `2 attachments, 2 route tables`, 1},
		{"no raw script", `<script`, 0},
		{"no raw bold", `<b>`, 0},
		{"escaped script", `&lt;script&gt;`, 4}, // attachment ID in its title and link title, VPC ID, TR name
	}
	for _, c := range checks {
		if got := len(regexp.MustCompile(c.pattern).FindAllString(svg, -1)); got != c.count {
			t.Errorf("%s: %q occurs %d times; want %d", c.name, c.pattern, got, c.count)
		}
	}
	// The SVG is well-formed XML (html.EscapeString's entities are XML's).
	dec := xml.NewDecoder(strings.NewReader(svg))
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("SVG is not well-formed: %v\n%s", err, svg)
		}
	}
	if t.Failed() {
		t.Log(svg)
	}
}

func TestTopologyEmpty(t *testing.T) {
	svg := string(topology(map[string]any{"TransitRouterId": "tr-empty"}, trView{}))
	if !strings.HasPrefix(svg, "<svg") || !strings.HasSuffix(svg, "</svg>") || strings.Contains(svg, `class="node`) {
		t.Fatalf("empty topology = %s", svg)
	}
}

// FuzzVerifySession: arbitrary cookie values never panic, and the only values accepted
// are exactly the cookies newSessionCookie produces for the key, unexpired.
func FuzzVerifySession(f *testing.F) {
	now := time.Unix(1_700_000_000, 0)
	lookup := fakeLookup(map[string]string{testKeyID: testSecret})
	good := newSessionCookie(testKeyID, testSecret, now.Add(-time.Hour))
	for _, seed := range []string{
		good, tamper(good), good + ".", "." + good, strings.Replace(good, ".", "..", 1),
		"", ".", "..", "a", "a.b", "a.b.c", "a.notanumber.c", testKeyID + ".-1.x", testKeyID + ".99999999999999999999.x",
		testKeyID + ".+1700000000.x", "\x00.\x00.\x00", strings.Repeat(".", 100),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		s, err := verifySession(context.Background(), lookup, value, now)
		if err != nil {
			if s != nil || !errors.Is(err, errNoSession) {
				t.Fatalf("verifySession(%q) = %+v, %v; want nil, errNoSession", value, s, err)
			}
			return
		}
		parts := strings.Split(value, ".")
		if len(parts) != 4 {
			t.Fatalf("accepted %q, which has %d parts", value, len(parts))
		}
		keyID, exp, nonce, sig := parts[0], parts[1], parts[2], parts[3]
		if keyID != testKeyID {
			t.Fatalf("accepted %q for unknown key %q", value, keyID)
		}
		want := mac(testSecret, "opencen-console-session", keyID, exp, nonce)
		if sig != want || value != keyID+"."+exp+"."+nonce+"."+want {
			t.Fatalf("accepted %q, which is not a cookie of the key (MAC %q)", value, want)
		}
		var unix int64
		if _, err := fmt.Sscan(exp, &unix); err != nil || now.Unix() > unix {
			t.Fatalf("accepted %q with expiry %q at %d", value, exp, now.Unix())
		}
		if s.keyID != keyID || s.cookie != value || s.secret != testSecret {
			t.Fatalf("session %+v does not match the cookie %q", s, value)
		}
	})
}
