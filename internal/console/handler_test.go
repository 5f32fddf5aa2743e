package console_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"opencen/internal/api/admin"
	"opencen/internal/api/cbn"
	"opencen/internal/api/vpc"
	"opencen/internal/config"
	"opencen/internal/rpc"
	"opencen/internal/server"
)

const (
	adminKeyID  = "LTAIadmin0000000000000"
	adminSecret = "adminsecret"
	region      = "cn-hangzhou"
)

// env is a real server (API and console) on a loopback port.
type env struct {
	ctx   context.Context
	url   string
	admin *rpc.Client
	// stop shuts the server down (also at the test's end); a second call does nothing.
	stop func()
}

func newEnv(t *testing.T, opts ...func(*server.Options)) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	o := server.Options{DataDir: t.TempDir(), Config: config.Default(), TransitionDelay: 50 * time.Millisecond,
		AdminKeyID: adminKeyID, AdminSecret: adminSecret, Gateway: server.GatewayOptions{Mode: "off"},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, f := range opts {
		f(&o)
	}
	in, err := server.Open(ctx, o)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ts := httptest.NewServer(in.Handler)
	done := make(chan struct{})
	go func() { defer close(done); _ = in.RunControllers(ctx, ts.Listener.Addr().String()) }()
	stop := sync.OnceFunc(func() {
		ts.Close()
		cancel()
		<-done
		if err := in.Close(); err != nil {
			t.Error(err)
		}
	})
	t.Cleanup(stop)
	return &env{ctx: ctx, url: ts.URL, admin: &rpc.Client{Endpoint: ts.URL, AccessKeyID: adminKeyID, AccessKeySecret: adminSecret}, stop: stop}
}

// account is a tenant with an access key, and its API client.
type account struct {
	ID, KeyID, Secret string
	api               *rpc.Client
}

func (e *env) newAccount(t *testing.T, name string) account {
	t.Helper()
	var a struct{ AccountId, AccessKeyId, AccessKeySecret string }
	if err := e.admin.Call(e.ctx, admin.Version, "CreateAccount", map[string]string{"Name": name}, &a); err != nil {
		t.Fatalf("CreateAccount %s: %v", name, err)
	}
	return account{ID: a.AccountId, KeyID: a.AccessKeyId, Secret: a.AccessKeySecret,
		api: &rpc.Client{Endpoint: e.url, AccessKeyID: a.AccessKeyId, AccessKeySecret: a.AccessKeySecret}}
}

// call runs an API action as the account and returns its answer as generic JSON.
func (a account) call(t *testing.T, version, action string, params map[string]string) map[string]any {
	t.Helper()
	var out map[string]any
	if err := a.api.Call(context.Background(), version, action, params, &out); err != nil {
		t.Fatalf("%s %v: %v", action, params, err)
	}
	return out
}

// createCen creates a CEN through the API and waits until it is Active.
func (a account) createCen(t *testing.T, name string) string {
	t.Helper()
	cen := a.call(t, cbn.Version, "CreateCen", map[string]string{"Name": name})["CenId"].(string)
	waitActive(t, "CEN "+cen, func() []any {
		out := a.call(t, cbn.Version, "DescribeCens", map[string]string{"Filter.1.Key": "CenId", "Filter.1.Value.1": cen})
		list, _ := out["Cens"].(map[string]any)["Cen"].([]any)
		return list
	})
	return cen
}

// waitActive polls list until it returns one item whose Status is Active.
func waitActive(t *testing.T, what string, list func() []any) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		items := list()
		if len(items) == 1 && items[0].(map[string]any)["Status"] == "Active" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is not Active after 10s: %v", what, items)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cens lists the account's CENs through the API.
func (a account) cens(t *testing.T) []map[string]any {
	t.Helper()
	out := a.call(t, cbn.Version, "DescribeCens", map[string]string{"PageSize": "50"})
	var cens []map[string]any
	list, _ := out["Cens"].(map[string]any)["Cen"].([]any)
	for _, c := range list {
		cens = append(cens, c.(map[string]any))
	}
	return cens
}

func (a account) vpnConnectionCount(t *testing.T) float64 {
	t.Helper()
	return a.call(t, vpc.Version, "DescribeVpnConnections", map[string]string{"RegionId": region})["TotalCount"].(float64)
}

// activeTR creates a transit router in region and waits until it is Active.
func (a account) activeTR(t *testing.T, cen string) string {
	t.Helper()
	tr := a.call(t, cbn.Version, "CreateTransitRouter", map[string]string{"CenId": cen, "RegionId": region})["TransitRouterId"].(string)
	waitActive(t, "transit router "+tr, func() []any {
		trs, _ := a.call(t, cbn.Version, "ListTransitRouters", map[string]string{"TransitRouterId": tr})["TransitRouters"].([]any)
		return trs
	})
	return tr
}

// browser is an HTTP client with a cookie jar that does not follow redirects.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func (e *env) browser(t *testing.T) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, base: e.url, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func (b *browser) do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp, string(body)
}

func (b *browser) get(path string) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.base+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// post submits a form, with an Origin header unless origin is "" ("same" means this server).
func (b *browser) post(path string, form url.Values, origin string) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin == "same" {
		origin = b.base
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	return b.do(req)
}

func (b *browser) signIn(a account) {
	b.t.Helper()
	resp, body := b.post("/console/signin", url.Values{"AccessKeyId": {a.KeyID}, "AccessKeySecret": {a.Secret}}, "same")
	if resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("sign-in: %s\n%s", resp.Status, body)
	}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the CSRF token of a page's forms.
func (b *browser) csrf(path string) string {
	b.t.Helper()
	resp, body := b.get(path)
	m := csrfRE.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		b.t.Fatalf("GET %s: %s, no CSRF token\n%s", path, resp.Status, body)
	}
	return m[1]
}

func wantStatus(t *testing.T, what string, resp *http.Response, body string, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s: %s; want %d\n%s", what, resp.Status, status, body)
	}
}

func wantRedirect(t *testing.T, what string, resp *http.Response, body, location string) {
	t.Helper()
	wantStatus(t, what, resp, body, http.StatusSeeOther)
	if got := resp.Header.Get("Location"); got != location {
		t.Fatalf("%s: Location %q; want %q", what, got, location)
	}
}

func TestSignedOutRedirectsToSignIn(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	for _, path := range []string{"/console/cens", "/console/cens/cen-x?tab=routemaps", "/console/vpn/cgws"} {
		resp, body := b.get(path)
		wantRedirect(t, "GET "+path, resp, body, "/console/signin?next="+url.QueryEscape(path))
	}
	// A POST without a session is refused outright.
	resp, body := b.post("/console/cens", url.Values{"Name": {"x"}}, "same")
	wantStatus(t, "POST without a session", resp, body, http.StatusUnauthorized)
}

func TestSignIn(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount(t, "alice")

	refused := []struct {
		name          string
		keyID, secret string
		origin        string
		status        int
	}{
		{"wrong secret", a.KeyID, "not-the-secret", "same", http.StatusUnauthorized},
		{"empty secret", a.KeyID, "", "same", http.StatusUnauthorized},
		{"unknown key", "LTAInosuchkey00000000", a.Secret, "same", http.StatusUnauthorized},
		{"empty key", "", "", "same", http.StatusUnauthorized},
		{"right key from another site", a.KeyID, a.Secret, "http://evil.example", http.StatusForbidden},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			b := e.browser(t)
			resp, body := b.post("/console/signin", url.Values{"AccessKeyId": {tt.keyID}, "AccessKeySecret": {tt.secret}}, tt.origin)
			wantStatus(t, "sign-in", resp, body, tt.status)
			if len(resp.Cookies()) != 0 {
				t.Fatalf("refused sign-in set cookies %v", resp.Cookies())
			}
			resp, body = b.get("/console/cens")
			wantStatus(t, "GET after a refused sign-in", resp, body, http.StatusSeeOther)
		})
	}

	t.Run("right secret", func(t *testing.T) {
		b := e.browser(t)
		resp, body := b.post("/console/signin", url.Values{"AccessKeyId": {a.KeyID}, "AccessKeySecret": {a.Secret}}, "same")
		wantRedirect(t, "sign-in", resp, body, "/console/cens")
		cookies := resp.Cookies()
		if len(cookies) != 1 {
			t.Fatalf("cookies = %v; want one", cookies)
		}
		c := cookies[0]
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/console" || c.MaxAge <= 0 || c.Secure {
			t.Fatalf("cookie %q: HttpOnly %v, SameSite %v, Path %q, MaxAge %d, Secure %v; want HttpOnly, Strict, /console, positive, not Secure over plain HTTP",
				resp.Header.Get("Set-Cookie"), c.HttpOnly, c.SameSite, c.Path, c.MaxAge, c.Secure)
		}
		if strings.Contains(c.Value, a.Secret) {
			t.Fatal("the cookie contains the secret")
		}
		resp, body = b.get("/console/cens")
		wantStatus(t, "GET signed in", resp, body, http.StatusOK)
		if !strings.Contains(body, `id="account-id">`+a.ID+`<`) {
			t.Fatalf("the page does not show account %s", a.ID)
		}
	})

	t.Run("next", func(t *testing.T) {
		for next, want := range map[string]string{
			"/console/vpn/cgws?region=cn-shanghai": "/console/vpn/cgws?region=cn-shanghai",
			"":                                     "/console/cens",
			"//evil.example/console/":              "/console/cens",
			"https://evil.example/console/":        "/console/cens",
			"/elsewhere":                           "/console/cens",
			"/console/../\\evil.example":           "/console/cens",
			"/console/\\evil.example":              "/console/cens",
			"/console/./cens":                      "/console/cens",
			"/console/cens?partial=trs&x=1":        "/console/cens?x=1",
		} {
			b := e.browser(t)
			resp, body := b.post("/console/signin", url.Values{"AccessKeyId": {a.KeyID}, "AccessKeySecret": {a.Secret}, "next": {next}}, "same")
			wantRedirect(t, "sign-in with next="+next, resp, body, want)
		}
	})

	t.Run("sign out", func(t *testing.T) {
		b := e.browser(t)
		b.signIn(a)
		csrf := b.csrf("/console/cens")
		resp, body := b.post("/console/signout", url.Values{"csrf": {csrf}}, "same")
		wantRedirect(t, "sign-out", resp, body, "/console/signin")
		resp, body = b.get("/console/cens")
		wantStatus(t, "GET after sign-out", resp, body, http.StatusSeeOther)
	})

	t.Run("a copied cookie dies with sign out", func(t *testing.T) {
		b := e.browser(t)
		b.signIn(a)
		u, _ := url.Parse(e.url + "/console/")
		copied := b.c.Jar.Cookies(u)
		csrf := b.csrf("/console/cens")
		b.post("/console/signout", url.Values{"csrf": {csrf}}, "same")
		thief := e.browser(t)
		thief.c.Jar.SetCookies(u, copied)
		resp, body := thief.get("/console/cens")
		wantStatus(t, "GET with a signed-out cookie", resp, body, http.StatusSeeOther)
		resp, body = thief.get("/console/cens?partial=x")
		wantStatus(t, "live update with a signed-out cookie", resp, body, http.StatusUnauthorized)
	})

	t.Run("flash messages are the console's own", func(t *testing.T) {
		b := e.browser(t)
		b.signIn(a)
		resp, body := b.get("/console/cens?flash=Your+key+leaked")
		wantStatus(t, "forged flash", resp, body, http.StatusOK)
		if strings.Contains(body, "Your key leaked") {
			t.Fatal("a link put its own text in the success banner")
		}
	})
}

// TestSignOutSurvivesRestart: a session ended by Sign out stays ended after the server
// restarts, even for a copy of its cookie; other sessions go on.
func TestSignOutSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	onDir := func(o *server.Options) { o.DataDir = dir }
	e := newEnv(t, onDir)
	a := e.newAccount(t, "alice")
	out, kept := e.browser(t), e.browser(t)
	out.signIn(a)
	kept.signIn(a)
	u, _ := url.Parse(e.url + "/console/")
	copied := out.c.Jar.Cookies(u)
	resp, body := out.post("/console/signout", url.Values{"csrf": {out.csrf("/console/cens")}}, "same")
	wantRedirect(t, "sign-out", resp, body, "/console/signin")
	e.stop()

	e = newEnv(t, onDir)
	thief := e.browser(t)
	u, _ = url.Parse(e.url + "/console/")
	thief.c.Jar.SetCookies(u, copied)
	resp, body = thief.get("/console/cens")
	wantStatus(t, "GET with a signed-out cookie after a restart", resp, body, http.StatusSeeOther)
	kept.base = e.url // the jar's cookies are per host, not per port
	resp, body = kept.get("/console/cens")
	wantStatus(t, "GET with a session that was not signed out, after a restart", resp, body, http.StatusOK)
}

// TestSecureCookie: behind a TLS-terminating proxy the server sees plain HTTP; with
// SecureCookie the session cookie is Secure anyway.
func TestSecureCookie(t *testing.T) {
	e := newEnv(t, func(o *server.Options) { o.SecureCookie = true })
	a := e.newAccount(t, "alice")
	b := e.browser(t)
	resp, body := b.post("/console/signin", url.Values{"AccessKeyId": {a.KeyID}, "AccessKeySecret": {a.Secret}}, "same")
	wantRedirect(t, "sign-in", resp, body, "/console/cens")
	if c := resp.Cookies(); len(c) != 1 || !c[0].Secure || !c[0].HttpOnly {
		t.Fatalf("sign-in cookies %q; want one Secure, HttpOnly cookie", resp.Header.Values("Set-Cookie"))
	}
}

func TestSignInLimit(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount(t, "alice")
	b := e.browser(t)
	for i := range 10 {
		resp, body := b.post("/console/signin", url.Values{"AccessKeyId": {a.KeyID}, "AccessKeySecret": {"guess"}}, "same")
		wantStatus(t, fmt.Sprintf("wrong secret #%d", i+1), resp, body, http.StatusUnauthorized)
	}
	// Now even the right secret is refused, with when to try again.
	resp, body := b.post("/console/signin", url.Values{"AccessKeyId": {a.KeyID}, "AccessKeySecret": {a.Secret}}, "same")
	wantStatus(t, "sign-in after 10 failures", resp, body, http.StatusTooManyRequests)
	if !strings.Contains(body, "Too many failed sign-ins") || resp.Header.Get("Retry-After") == "" || len(resp.Cookies()) != 0 {
		t.Fatalf("refused sign-in: Retry-After %q, cookies %v\n%s", resp.Header.Get("Retry-After"), resp.Cookies(), body)
	}
	// The API is not the console: the key still works there.
	a.call(t, cbn.Version, "DescribeCens", map[string]string{})
}

func TestCreateCenNeedsCSRFAndOrigin(t *testing.T) {
	e := newEnv(t)
	a, other := e.newAccount(t, "alice"), e.newAccount(t, "mallory")
	b := e.browser(t)
	b.signIn(a)
	csrf := b.csrf("/console/cens")
	ob := e.browser(t)
	ob.signIn(other)
	otherCSRF := ob.csrf("/console/cens")

	refused := []struct {
		name   string
		csrf   string
		origin string
	}{
		{"no token", "", "same"},
		{"wrong token", "AAAA" + csrf[4:], "same"},
		{"another session's token", otherCSRF, "same"},
		{"foreign origin", csrf, "http://evil.example"},
		{"null origin", csrf, "null"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			form := url.Values{"Name": {"refused-" + tt.name}}
			if tt.csrf != "" {
				form.Set("csrf", tt.csrf)
			}
			resp, body := b.post("/console/cens", form, tt.origin)
			wantStatus(t, "POST /console/cens", resp, body, http.StatusForbidden)
			if cens := a.cens(t); len(cens) != 0 {
				t.Fatalf("a refused form created %v", cens)
			}
		})
	}

	resp, body := b.post("/console/cens", url.Values{"Name": {"made-in-console"}, "Description": {"d"}, "csrf": {csrf}}, "same")
	wantStatus(t, "POST /console/cens", resp, body, http.StatusSeeOther)
	cens := a.cens(t)
	if len(cens) != 1 || cens[0]["Name"] != "made-in-console" {
		t.Fatalf("CENs after the form: %v; want one named made-in-console", cens)
	}
	id := cens[0]["CenId"].(string)
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "/console/cens/"+id+"?flash=") {
		t.Fatalf("Location %q; want the new CEN's page", loc)
	}
	if got := other.cens(t); len(got) != 0 {
		t.Fatalf("the other account sees %v", got)
	}
}

func TestDisabledKeyEndsSession(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount(t, "alice")
	b := e.browser(t)
	b.signIn(a)
	csrf := b.csrf("/console/cens")

	if err := e.admin.Call(e.ctx, admin.Version, "UpdateAccessKeyStatus", map[string]string{"UserAccessKeyId": a.KeyID, "Status": "Inactive"}, nil); err != nil {
		t.Fatal(err)
	}
	resp, body := b.get("/console/cens")
	wantRedirect(t, "GET with a disabled key", resp, body, "/console/signin?next=%2Fconsole%2Fcens")
	resp, body = b.post("/console/cens", url.Values{"Name": {"after-disable"}, "csrf": {csrf}}, "same")
	wantStatus(t, "POST with a disabled key", resp, body, http.StatusUnauthorized)
	resp, body = b.post("/console/signin", url.Values{"AccessKeyId": {a.KeyID}, "AccessKeySecret": {a.Secret}}, "same")
	wantStatus(t, "sign-in with a disabled key", resp, body, http.StatusUnauthorized)
}

func TestAccountsAreIsolated(t *testing.T) {
	e := newEnv(t)
	a, bAcct := e.newAccount(t, "alice"), e.newAccount(t, "bob")
	const secretName = "alice-private-cen-name"
	cen := a.createCen(t, secretName)
	tr := a.activeTR(t, cen)

	owner := e.browser(t)
	owner.signIn(a)
	resp, body := owner.get("/console/cens/" + cen)
	wantStatus(t, "owner GET", resp, body, http.StatusOK)
	if !strings.Contains(body, secretName) {
		t.Fatal("the owner's CEN page does not show its name")
	}

	b := e.browser(t)
	b.signIn(bAcct)
	for _, path := range []string{"/console/cens/" + cen, "/console/cens/" + cen + "?tab=routemaps", "/console/trs/" + tr, "/console/trs/" + tr + "/connect"} {
		resp, body := b.get(path)
		wantStatus(t, "other account GET "+path, resp, body, http.StatusNotFound)
		if strings.Contains(body, secretName) {
			t.Fatalf("GET %s shows the other account's CEN name", path)
		}
	}
	resp, body = b.get("/console/cens")
	wantStatus(t, "other account's list", resp, body, http.StatusOK)
	if strings.Contains(body, cen) || strings.Contains(body, secretName) {
		t.Fatal("the other account's CEN list shows the CEN")
	}
	// Nor can it act on the CEN.
	resp, body = b.post("/console/cens/"+cen+"/trs", url.Values{"RegionId": {"cn-shanghai"}, "csrf": {b.csrf("/console/cens")}}, "same")
	if resp.StatusCode == http.StatusSeeOther {
		t.Fatalf("another account created a transit router in the CEN: %s", resp.Header.Get("Location"))
	}
	if trs := a.call(t, cbn.Version, "ListTransitRouters", map[string]string{"CenId": cen})["TransitRouters"].([]any); len(trs) != 1 {
		t.Fatalf("the CEN has %d transit routers; want 1", len(trs))
	}
}

func TestConnectBadPSK(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount(t, "alice")
	cen := a.createCen(t, "c")
	tr := a.activeTR(t, cen)
	cgw := a.call(t, vpc.Version, "CreateCustomerGateway", map[string]string{"RegionId": region, "IpAddress": "198.18.0.2"})["CustomerGatewayId"].(string)
	before := a.vpnConnectionCount(t)

	b := e.browser(t)
	b.signIn(a)
	page := "/console/trs/" + tr + "/connect"
	csrf := b.csrf(page)
	form := url.Values{"RegionId": {region}, "TransitRouterId": {tr}, "ResourceOwner": {"current"}, "Resource": {"create"},
		"CustomerGatewayId": {cgw}, "RoutingMode": {"destination"}, "EffectImmediately": {"false"}, "IkeConfig.Psk": {"bad key"}, "csrf": {csrf}}
	resp, body := b.post(page, form, "same")
	wantStatus(t, "POST connect with a bad PSK", resp, body, http.StatusBadRequest)

	input := regexp.MustCompile(`<input id="f-IkeConfig-Psk"[^>]*>`).FindString(body)
	if !strings.Contains(input, `aria-invalid="true"`) || !strings.Contains(input, `aria-describedby="f-IkeConfig-Psk-help f-IkeConfig-Psk-err"`) || !strings.Contains(input, `value="bad key"`) {
		t.Fatalf("the PSK field is not marked invalid (or lost its value): %s", input)
	}
	msg := regexp.MustCompile(`<p class="field-error" id="f-IkeConfig-Psk-err">([^<]*)</p>`).FindStringSubmatch(body)
	if msg == nil || !strings.Contains(msg[1], "IkeConfig.Psk") || !strings.Contains(msg[1], "no spaces") {
		t.Fatalf("no PSK message next to the field: %v", msg)
	}
	if got := strings.Count(body, `aria-invalid="true"`); got != 1 {
		t.Errorf("%d fields are marked invalid; want only the PSK", got)
	}
	if !strings.Contains(body, "Check the highlighted fields.") {
		t.Error("no page-level hint to the highlighted field")
	}
	// The other submitted values survive.
	if !regexp.MustCompile(`<option value="` + cgw + `" selected>`).MatchString(body) {
		t.Error("the customer gateway selection was lost")
	}
	if after := a.vpnConnectionCount(t); after != before {
		t.Fatalf("VPN connections: %v before, %v after a refused form", before, after)
	}
}

func TestPartials(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount(t, "alice")
	cen := a.createCen(t, "partial-cen")
	tr := a.activeTR(t, cen)
	b := e.browser(t)
	b.signIn(a)

	resp, body := b.get("/console/cens/" + cen + "?partial=trs")
	wantStatus(t, "partial=trs", resp, body, http.StatusOK)
	if strings.Contains(body, "<html") || strings.Contains(body, "<head") || !strings.Contains(body, `id="trs-h"`) || !strings.Contains(body, tr) {
		t.Fatalf("partial=trs is not just the transit router list:\n%s", body)
	}
	resp, body = b.get("/console/cens/" + cen + "?partial=cenfacts")
	wantStatus(t, "partial=cenfacts", resp, body, http.StatusOK)
	if strings.Contains(body, "<html") || !strings.Contains(body, "partial-cen") {
		t.Fatalf("partial=cenfacts:\n%s", body)
	}
	resp, body = b.get("/console/cens/" + cen)
	wantStatus(t, "full page", resp, body, http.StatusOK)
	if !strings.Contains(body, "<html") {
		t.Fatal("the full page has no <html>")
	}
	// Only the page's live sections are partials: not its other blocks, nor the helpers.
	for _, part := range []string{"nosuchblock", "layout", "csrf", "text", "routemaps", "status"} {
		resp, body = b.get("/console/cens/" + cen + "?partial=" + part)
		wantStatus(t, "partial="+part, resp, body, http.StatusNotFound)
	}
}
