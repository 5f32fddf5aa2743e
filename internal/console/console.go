// Package console serves the web console: server-rendered pages that walk the product page's
// console procedures, calling the same API handlers, as the signed-in account, that signed
// requests reach.
package console

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"opencen/internal/apierr"
	"opencen/internal/config"
	"opencen/internal/connect"
	"opencen/internal/rpc"
)

//go:embed assets
var assets embed.FS

// Invoker runs an API action as an account: *rpc.Server.
type Invoker interface {
	Invoke(ctx context.Context, id rpc.Identity, version, action string, params rpc.Params) (rpc.Object, error)
	Lookup(ctx context.Context, accessKeyID string) (rpc.Identity, string, error)
}

// Console is the /console handler.
type Console struct {
	api     Invoker
	regions []config.Region
	log     *slog.Logger
	pages   map[string]*template.Template
	// partials are, per page, the blocks that refresh themselves (?partial=NAME).
	partials map[string]map[string]bool
	mux      *http.ServeMux
	jobs     *jobs
	out      SignOuts
	limit    signinLimit
	// secure marks the session cookie Secure on every response (see New).
	secure bool
	now    func() time.Time
	// ctx bounds background work (the steps after an attachment is created).
	ctx context.Context
}

// Options configure the console.
type Options struct {
	// SecureCookie marks the session cookie Secure on every response; without it, only on
	// requests that came over TLS (behind a TLS-terminating proxy every request the server
	// sees is plain HTTP).
	SecureCookie bool
	// SignOuts keeps the sessions ended by Sign out (required).
	SignOuts SignOuts
	// ImportSignOuts names the file where servers before the cluster work kept sign-outs;
	// when it exists, New moves them into SignOuts and removes it.
	ImportSignOuts string
}

// New builds the console. ctx bounds the background steps it starts.
func New(ctx context.Context, api Invoker, regions []config.Region, log *slog.Logger, o Options) (*Console, error) {
	c := &Console{api: api, regions: regions, log: log, mux: http.NewServeMux(), jobs: newJobs(time.Now), now: time.Now, ctx: ctx, secure: o.SecureCookie}
	if err := c.parseTemplates(); err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	if o.SignOuts == nil {
		return nil, errors.New("console: no store for sign-outs")
	}
	c.out = o.SignOuts
	if o.ImportSignOuts != "" {
		if err := importSignOuts(ctx, o.ImportSignOuts, c.out, c.now()); err != nil {
			return nil, fmt.Errorf("import sign-outs from %s: %w", o.ImportSignOuts, err)
		}
	}
	c.routes()
	return c, nil
}

// Close returns when the background steps have ended (after the ctx given to New is
// done).
func (c *Console) Close() error {
	c.jobs.wg.Wait()
	return nil
}

func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	c.mux.ServeHTTP(w, r)
}

func (c *Console) parseTemplates() error {
	for _, name := range []string{"console.css", "console.js"} {
		c.mux.HandleFunc("GET /console/static/"+name, func(w http.ResponseWriter, r *http.Request) {
			http.ServeFileFS(w, r, assets, "assets/"+name)
		})
	}
	pages, err := fs.Glob(assets, "assets/page-*.html")
	if err != nil {
		return err
	}
	c.pages, c.partials = map[string]*template.Template{}, map[string]map[string]bool{}
	for _, p := range pages {
		name := strings.TrimSuffix(strings.TrimPrefix(p, "assets/page-"), ".html")
		t, err := template.New(name).Funcs(funcs).ParseFS(assets, "assets/layout.html", "assets/form.html", p)
		if err != nil {
			return err
		}
		c.pages[name] = t
		src, err := fs.ReadFile(assets, p)
		if err != nil {
			return err
		}
		c.partials[name] = map[string]bool{}
		for _, m := range refreshing.FindAllStringSubmatch(string(src), -1) {
			if t.Lookup(m[1]) == nil {
				return fmt.Errorf("%s: section %q refreshes but has no block of that name", p, m[1])
			}
			c.partials[name][m[1]] = true
		}
	}
	return nil
}

// refreshing finds the live sections of a page: <section id="NAME" data-refresh=...>, whose
// content is the block NAME.
var refreshing = regexp.MustCompile(`id="([a-z]+)" data-refresh=`)

// page is what every template gets.
type page struct {
	Title   string
	Nav     string
	Account string
	CSRF    string
	Regions []config.Region
	Region  string
	// Flash is a success message, Error a failure not tied to one field.
	Flash, Error string
	// Form holds the submitted (or default) field values; Errs the message per field.
	Form url.Values
	Errs map[string]string
	D    map[string]any
}

// render writes a page, or, with ?partial=NAME, only its block "NAME" (what the live
// updates fetch).
func (c *Console) render(w http.ResponseWriter, r *http.Request, name string, status int, p *page) {
	t := c.pages[name]
	block := "layout"
	if part := r.URL.Query().Get("partial"); part != "" {
		if !c.partials[name][part] {
			http.Error(w, "no such partial", http.StatusNotFound)
			return
		}
		block = part
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, block, p); err != nil {
		c.log.Error("console: render", "page", name, "err", err)
		http.Error(w, "The page could not be rendered.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// caller is the API as the session's account. keyID, when set, is looked up again before
// each call: background steps stop when the access key is disabled or deleted, as the
// session itself would.
type caller struct {
	c     *Console
	id    rpc.Identity
	keyID string
}

// Call runs an action and decodes its answer into out (numbers stay json.Number so account
// IDs print whole).
func (cl caller) Call(ctx context.Context, version, action string, params map[string]string, out any) error {
	if cl.keyID != "" {
		if _, _, err := cl.c.api.Lookup(ctx, cl.keyID); err != nil {
			return err
		}
	}
	obj, err := cl.c.api.Invoke(ctx, cl.id, version, action, rpc.Params(params))
	if e := apierr.From(err); err != nil && e.HTTPStatus() >= 500 {
		cl.c.log.Error("console: action failed", "action", action, "account", cl.id.AccountID, "err", err)
	} else {
		cl.c.log.Debug("console", "action", action, "account", cl.id.AccountID, "err", err)
	}
	if err != nil || out == nil {
		return err
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return dec.Decode(out)
}

// get runs a read action and returns its answer as generic JSON.
func (cl caller) get(ctx context.Context, version, action string, params map[string]string) (map[string]any, error) {
	var out map[string]any
	err := cl.Call(ctx, version, action, params, &out)
	return out, err
}

// fieldErrors splits an error into a message next to its field (when the form has a field
// for the parameter at fault) and a page-level message.
func fieldErrors(err error, fields url.Values) (map[string]string, string) {
	var fe *connect.FieldError
	if errors.As(err, &fe) {
		return map[string]string{fe.Field: fe.Message}, "Check the highlighted fields."
	}
	errs, msg := placeError(err, fields)
	var orphan *connect.OrphanError
	if errors.As(err, &orphan) {
		msg += " The IPsec-VPN connection " + orphan.VpnConnectionID + " created for it could not be deleted again; delete it on the IPsec-VPN Connections page."
	}
	return errs, msg
}

func placeError(err error, fields url.Values) (map[string]string, string) {
	e := apierr.From(err)
	if e.Code == "InternalError" {
		return nil, "The request failed on the server; its log has the details."
	}
	msg := e.Message + " (" + e.Code + ")"
	param := e.Param
	// Attachment tags arrive as Tag.N; the form names them Tags.N.
	if rest, ok := strings.CutPrefix(param, "Tag."); ok {
		param = "Tags." + rest
	}
	for _, name := range []string{param, aliases[param]} {
		if _, ok := fields[name]; ok && name != "" && !noSlot[name] {
			return map[string]string{name: msg}, "Check the highlighted fields."
		}
	}
	return nil, msg
}

// aliases name the form field of an API parameter where the form calls it otherwise: the
// Create Connection form's Attachment Name is also the new connection's Name.
var aliases = map[string]string{"Zone.ZoneId": "ZoneId", "Name": "TransitRouterAttachmentName"}

// noSlot are form fields with no place for a message (hidden inputs, radio groups whose
// values the page offers): their errors are shown at the top of the page.
var noSlot = map[string]bool{"RegionId": true, "csrf": true, "Op": true, "Kind": true, "EffectImmediately": true,
	"ResourceOwner": true, "Resource": true, "NetworkType": true, "TransitRouterRouteEntryNextHopType": true}
