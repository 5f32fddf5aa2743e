package console

import (
	"cmp"
	"context"
	"crypto/hmac"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"

	"opencen/internal/apierr"
	"opencen/internal/connect"
)

// req is one signed-in request.
type req struct {
	w   http.ResponseWriter
	r   *http.Request
	s   *session
	cl  caller
	ctx context.Context
}

func (c *Console) routes() {
	m := c.mux
	m.HandleFunc("GET /console/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/console/cens", http.StatusSeeOther)
	})
	m.HandleFunc("GET /console", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/console/cens", http.StatusSeeOther)
	})
	m.HandleFunc("GET /console/signin", c.signinPage)
	m.HandleFunc("POST /console/signin", c.signin)
	m.HandleFunc("POST /console/signout", c.signedIn(c.signout))

	m.HandleFunc("GET /console/cens", c.signedIn(c.censPage))
	m.HandleFunc("POST /console/cens", c.signedIn(c.createCen))
	m.HandleFunc("GET /console/cens/{cen}", c.signedIn(c.cenPage))
	m.HandleFunc("POST /console/cens/{cen}/delete", c.signedIn(c.deleteCen))
	m.HandleFunc("POST /console/cens/{cen}/trs", c.signedIn(c.createTR))
	m.HandleFunc("POST /console/cens/{cen}/routemaps", c.signedIn(c.createRouteMap))
	m.HandleFunc("POST /console/cens/{cen}/routemaps/{id}/delete", c.signedIn(c.deleteRouteMap))

	m.HandleFunc("GET /console/trs/{tr}", c.signedIn(c.trPage))
	m.HandleFunc("GET /console/trs/{tr}/connect", c.signedIn(c.connectPage))
	m.HandleFunc("POST /console/trs/{tr}/connect", c.signedIn(c.connect))
	m.HandleFunc("POST /console/trs/{tr}/delete", c.signedIn(c.deleteTR))
	m.HandleFunc("POST /console/trs/{tr}/tables", c.signedIn(c.createTable))
	m.HandleFunc("GET /console/trs/{tr}/attachments/{att}", c.signedIn(c.attachmentPage))
	m.HandleFunc("POST /console/trs/{tr}/attachments/{att}/table", c.signedIn(c.modifyTable))
	m.HandleFunc("POST /console/trs/{tr}/attachments/{att}/delete", c.signedIn(c.deleteAttachment))

	m.HandleFunc("GET /console/tables/{table}", c.signedIn(c.tablePage))
	m.HandleFunc("POST /console/tables/{table}/delete", c.signedIn(c.deleteTable))
	m.HandleFunc("POST /console/tables/{table}/entries", c.signedIn(c.createEntry))
	m.HandleFunc("POST /console/tables/{table}/entries/{id}/delete", c.signedIn(c.deleteEntry))
	m.HandleFunc("POST /console/tables/{table}/propagations", c.signedIn(c.setPropagation))

	m.HandleFunc("GET /console/vpn/cgws", c.signedIn(c.cgwsPage))
	m.HandleFunc("POST /console/vpn/cgws", c.signedIn(c.createCGW))
	m.HandleFunc("POST /console/vpn/cgws/{id}/delete", c.signedIn(c.deleteCGW))
	m.HandleFunc("GET /console/vpn/connections", c.signedIn(c.vcosPage))
	m.HandleFunc("GET /console/vpn/connections/new", c.signedIn(c.newVcoPage))
	m.HandleFunc("POST /console/vpn/connections/new", c.signedIn(c.createVco))
	m.HandleFunc("GET /console/vpn/connections/{id}", c.signedIn(c.vcoPage))
	m.HandleFunc("GET /console/vpn/connections/{id}/edit", c.signedIn(c.editVcoPage))
	m.HandleFunc("POST /console/vpn/connections/{id}/edit", c.signedIn(c.editVco))
	m.HandleFunc("GET /console/vpn/connections/{id}/config", c.signedIn(c.downloadConfig))
	m.HandleFunc("POST /console/vpn/connections/{id}/grants", c.signedIn(c.grant))
	m.HandleFunc("POST /console/vpn/connections/{id}/delete", c.signedIn(c.deleteVco))

	m.HandleFunc("GET /console/billing", c.signedIn(c.billingPage))
	m.HandleFunc("GET /console/billing.csv", c.signedIn(c.billingCSV))
}

// signedIn checks the session (and, on POST, the CSRF token and origin) before h runs.
func (c *Console) signedIn(h func(q *req)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var s *session
		ck, err := r.Cookie(cookieName)
		if err == nil {
			s, err = verifySession(r.Context(), c.api.Lookup, ck.Value, c.now())
		}
		if err == nil {
			var out bool
			if out, err = c.out.SignedOut(r.Context(), signOutKey(ck.Value)); err != nil {
				c.log.Error("console: sign-outs cannot be read", "err", err)
				http.Error(w, "The console cannot reach its store; try again in a moment.", http.StatusServiceUnavailable)
				return
			}
			if out {
				err = errNoSession
			}
		}
		if err != nil {
			// A live update (?partial=) gets 401, and the page reloads into the sign-in.
			if r.Method == http.MethodGet && r.URL.Query().Get("partial") == "" {
				http.Redirect(w, r, "/console/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			http.Error(w, "Your session has ended; sign in again.", http.StatusUnauthorized)
			return
		}
		if r.Method == http.MethodPost {
			if err := r.ParseForm(); err != nil {
				http.Error(w, "The form could not be read.", http.StatusBadRequest)
				return
			}
			if !sameOrigin(r) || !s.checkCSRF(r.PostForm.Get("csrf")) {
				http.Error(w, "The form's security token is missing or stale; reload the page and submit again.", http.StatusForbidden)
				return
			}
		}
		h(&req{w: w, r: r, s: s, cl: caller{c: c, id: s.id}, ctx: r.Context()})
	}
}

// newPage starts a page for a signed-in request, in the region of ?region= (the first
// region when none is given).
func (c *Console) newPage(q *req, title, nav string) *page {
	p := &page{Title: title, Nav: nav, Account: q.s.id.AccountID, CSRF: q.s.csrfToken(),
		Regions: c.regions, Form: url.Values{}, D: map[string]any{}}
	query := q.r.URL.Query()
	if msg := query.Get("flash"); msg != "" && hmac.Equal([]byte(query.Get("fsig")), []byte(q.s.flashMAC(msg))) {
		p.Flash = msg
	}
	var err error
	if p.Region, err = c.region(query.Get("region")); err != nil {
		_, p.Error = fieldErrors(err, nil)
	}
	return p
}

// region checks a region ID ("" is the first region).
func (c *Console) region(id string) (string, error) {
	if id == "" && len(c.regions) > 0 {
		return c.regions[0].ID, nil
	}
	var ids []string
	for _, r := range c.regions {
		if r.ID == id {
			return id, nil
		}
		ids = append(ids, r.ID)
	}
	return c.regions[0].ID, apierr.Invalid("RegionId", "Region %q is not served here; use one of %s. Showing %s.", id, apierr.Text(strings.Join(ids, ", ")), c.regions[0].ID)
}

// retry is the page that shows a form again after err: the values as sent, the message next
// to its field.
func (c *Console) retry(q *req, nav string, err error) *page {
	p := c.newPage(q, "", nav)
	p.Form = q.r.PostForm
	p.Errs, p.Error = fieldErrors(err, q.r.PostForm)
	return p
}

// done redirects after a successful POST (post/redirect/get) with a signed message.
func done(q *req, to, flash string) {
	u, err := url.Parse(to)
	if err != nil {
		http.Error(q.w, "bad redirect", http.StatusInternalServerError)
		return
	}
	v := u.Query()
	v.Set("flash", flash)
	v.Set("fsig", q.s.flashMAC(flash))
	u.RawQuery = v.Encode()
	http.Redirect(q.w, q.r, u.String(), http.StatusSeeOther)
}

func (c *Console) signinPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, "signin", http.StatusOK, &page{Title: "Sign in", Form: url.Values{"next": {r.URL.Query().Get("next")}}})
}

func (c *Console) signin(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || !sameOrigin(r) {
		http.Error(w, "The sign-in form must be posted from this console.", http.StatusForbidden)
		return
	}
	keyID, secret := strings.TrimSpace(r.PostForm.Get("AccessKeyId")), r.PostForm.Get("AccessKeySecret")
	p := &page{Title: "Sign in", Form: url.Values{"AccessKeyId": {keyID}, "next": {r.PostForm.Get("next")}}}
	addr, _, _ := net.SplitHostPort(r.RemoteAddr)
	if wait := c.limit.wait(addr, c.now()); wait > 0 {
		p.Error = fmt.Sprintf("Too many failed sign-ins from your address. Try again in %d seconds.", int(wait.Seconds())+1)
		w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
		c.render(w, r, "signin", http.StatusTooManyRequests, p)
		return
	}
	_, want, err := c.api.Lookup(r.Context(), keyID)
	if err != nil || keyID == "" || !hmac.Equal([]byte(secret), []byte(want)) {
		c.limit.fail(addr, c.now())
		c.log.Info("console sign-in refused", "access_key_id", keyID, "remote", addr)
		p.Error = "The AccessKey ID and secret do not match an active access key."
		c.render(w, r, "signin", http.StatusUnauthorized, p)
		return
	}
	c.setCookie(w, r, newSessionCookie(keyID, secret, c.now()), int(sessionTTL.Seconds()))
	http.Redirect(w, r, safeNext(r.PostForm.Get("next")), http.StatusSeeOther)
}

// safeNext is where sign-in continues: a console page of this server, never another site
// (no scheme or host, no backslashes browsers read as slashes, no dot segments).
func safeNext(next string) string {
	const home = "/console/cens"
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || strings.ContainsAny(next, "\\\r\n") ||
		!strings.HasPrefix(u.Path, "/console/") || path.Clean(u.Path) != u.Path {
		return home
	}
	v := u.Query()
	for _, k := range []string{"partial", "flash", "fsig"} {
		v.Del(k)
	}
	return (&url.URL{Path: u.Path, RawQuery: v.Encode()}).String()
}

func (c *Console) signout(q *req) {
	if err := c.out.SignOut(q.ctx, signOutKey(q.s.cookie), c.now().Add(sessionTTL)); err != nil {
		c.log.Error("console sign-out not recorded", "err", err)
		http.Error(q.w, "Signing out failed on the server; try again.", http.StatusInternalServerError)
		return
	}
	c.setCookie(q.w, q.r, "", -1)
	http.Redirect(q.w, q.r, "/console/signin", http.StatusSeeOther)
}

// apiError renders an API error (typically *.NotFound) as the page, with its status.
func (c *Console) apiError(q *req, p *page, err error) {
	_, p.Error = fieldErrors(err, nil)
	c.render(q.w, q.r, "error", apierr.From(err).HTTPStatus(), p)
}

// listAll reads every page of a MaxResults/NextToken list action.
func listAll(ctx context.Context, cl caller, version, action, key string, params map[string]string) ([]any, error) {
	var all []any
	p := map[string]string{"MaxResults": "100"}
	for k, v := range params {
		p[k] = v
	}
	for {
		out, err := cl.get(ctx, version, action, p)
		if err != nil {
			return nil, err
		}
		items, _ := out[key].([]any)
		all = append(all, items...)
		next, _ := out["NextToken"].(string)
		if next == "" {
			return all, nil
		}
		p["NextToken"] = next
	}
}

// pageAll reads every page of a PageNumber/PageSize list action; path leads to the items.
func pageAll(ctx context.Context, cl caller, version, action string, params map[string]string, path ...string) ([]any, error) {
	var all []any
	for n := 1; ; n++ {
		p := map[string]string{"PageSize": "50", "PageNumber": strconv.Itoa(n)}
		for k, v := range params {
			p[k] = v
		}
		out, err := cl.get(ctx, version, action, p)
		if err != nil {
			return nil, err
		}
		items, _ := dig(out, path...).([]any)
		all = append(all, items...)
		if len(items) < 50 {
			return all, nil
		}
	}
}

// byField sorts generic items by a string field.
func byField(items []any, field string) {
	slices.SortStableFunc(items, func(a, b any) int { return cmp.Compare(str(dig(a, field)), str(dig(b, field))) })
}

var _ connect.Caller = caller{}
