package rpc

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"opencen/internal/apierr"
)

// Identity is the account a request was authenticated as.
type Identity struct {
	AccountID string
	Admin     bool
}

// Request is one authenticated API call as a handler sees it.
type Request struct {
	ID       string
	Action   string
	Product  *Product
	Params   Params
	Identity Identity
}

// Object is a JSON response body; the server adds RequestId.
type Object = map[string]any

// Handler serves one action.
type Handler func(ctx context.Context, req *Request) (Object, error)

// Product is one API product at one version (e.g. Cbn 2017-09-12).
type Product struct {
	Name    string // product code, e.g. "Cbn"
	Version string
	Host    string // HostId in error bodies, e.g. "cbn.aliyuncs.com"
	Actions map[string]Handler
}

// KeyLookup returns the identity and secret of an AccessKeyId, or an *apierr.Error.
type KeyLookup func(ctx context.Context, accessKeyID string) (Identity, string, error)

// Server speaks Alibaba's RPC protocol on one port for every product, dispatching on
// (Version, Action) after authenticating the request.
type Server struct {
	products map[string]*Product
	lookup   KeyLookup
	nonces   *NonceCache
	now      func() time.Time
	log      *slog.Logger
}

// SkewWindow is how far a request's timestamp may be from the server's clock.
const SkewWindow = 15 * time.Minute

// maxBodyBytes bounds request bodies; RPC parameters are small.
const maxBodyBytes = 4 << 20

// NewServer makes a Server for products.
func NewServer(lookup KeyLookup, log *slog.Logger, products ...*Product) *Server {
	s := &Server{products: map[string]*Product{}, lookup: lookup, nonces: NewNonceCache(2 * SkewWindow), now: time.Now, log: log}
	for _, p := range products {
		s.products[p.Version] = p
	}
	return s
}

// PersistNonces keeps used nonces in a journal file so replays are refused across restarts.
func (s *Server) PersistNonces(path string) error { return s.nonces.Persist(path, s.now()) }

// Close releases the nonce journal.
func (s *Server) Close() error { return s.nonces.Close() }

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	req := &Request{ID: newRequestID()}
	body, err := s.serve(r, req)
	status := http.StatusOK
	if err != nil {
		e := apierr.From(err)
		status = e.HTTPStatus()
		if status >= 500 {
			s.log.Error("rpc: request failed", "request_id", req.ID, "action", req.Action, "err", err)
		}
		host := "opencen"
		if req.Product != nil {
			host = req.Product.Host
		}
		product := ""
		if req.Product != nil {
			product = req.Product.Name
		}
		body = Object{"Code": e.Code, "Message": e.Message, "HostId": host,
			"Recommend": "https://api.aliyun.com/troubleshoot?q=" + e.Code + "&product=" + product + "&requestId=" + req.ID}
	}
	body["RequestId"] = req.ID
	out, err := appendJSON(make([]byte, 0, 1024), body)
	if err != nil {
		s.log.Error("rpc: encode response", "request_id", req.ID, "action", req.Action, "err", err)
		status = http.StatusInternalServerError
		out, _ = appendJSON(nil, Object{"RequestId": req.ID, "Code": "InternalError", "HostId": "opencen", "Message": "The response could not be encoded."})
	}
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.Header().Set("x-acs-request-id", req.ID)
	w.WriteHeader(status)
	_, _ = w.Write(append(out, '\n'))
	s.log.Debug("rpc", "request_id", req.ID, "action", req.Action, "account", req.Identity.AccountID, "status", status, "duration", time.Since(start))
}

func (s *Server) serve(r *http.Request, req *Request) (Object, error) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		return nil, apierr.New("UnsupportedHTTPMethod", "HTTP method %s is not supported; use POST or GET.", r.Method)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return nil, apierr.New("InvalidParameter", "The request body could not be read: %v.", err)
	}
	if len(body) > maxBodyBytes {
		return nil, apierr.New("InvalidParameter", "The request body is larger than %d bytes.", maxBodyBytes)
	}
	params, err := Decode(r, body)
	if err != nil {
		return nil, err
	}
	req.Params = params
	version := firstNonEmpty(params["Version"], r.Header.Get("x-acs-version"))
	req.Action = firstNonEmpty(params["Action"], r.Header.Get("x-acs-action"))
	if version == "" {
		return nil, apierr.Missing("Version")
	}
	p, ok := s.products[version]
	if !ok {
		return nil, apierr.New("InvalidVersion", "API version %q is not served here; OpenCEN serves Cbn 2017-09-12 and Vpc 2016-04-28.", version)
	}
	req.Product = p
	if req.Action == "" {
		return nil, apierr.Missing("Action")
	}
	h, ok := p.Actions[req.Action]
	if !ok {
		return nil, apierr.New("InvalidAction.NotFound", "The action %s of %s %s is not served here; check its spelling.", req.Action, p.Name, p.Version)
	}
	if f := params["Format"]; f != "" && !strings.EqualFold(f, "json") {
		return nil, apierr.Invalid("Format", "Format %q is not supported; OpenCEN answers JSON only (Format=JSON).", f)
	}
	id, err := s.authenticate(r, params, body)
	if err != nil {
		return nil, err
	}
	req.Identity = id
	return h(r.Context(), req)
}

// authenticate checks a v1 (HMAC-SHA1) or ACS3-HMAC-SHA256 signature. The timestamp is
// checked before the key and the signature, and the nonce is spent only by a request
// whose signature verified, so unauthenticated requests cannot burn nonces.
func (s *Server) authenticate(r *http.Request, params Params, body []byte) (Identity, error) {
	if auth := r.Header.Get("Authorization"); strings.HasPrefix(auth, "ACS3-") {
		return s.authenticateACS3(r, auth, body)
	}
	if params["Signature"] == "" {
		return Identity{}, apierr.New("IncompleteSignature", "The request is not signed: give Signature (HMAC-SHA1) or an ACS3-HMAC-SHA256 Authorization header.")
	}
	for _, name := range []string{"AccessKeyId", "SignatureMethod", "SignatureNonce", "Timestamp"} {
		if params[name] == "" {
			return Identity{}, apierr.Missing(name)
		}
	}
	if m := params["SignatureMethod"]; m != "HMAC-SHA1" {
		return Identity{}, apierr.New("InvalidSignatureMethod", "SignatureMethod %q is not supported; use HMAC-SHA1.", m)
	}
	if v := params["SignatureVersion"]; v != "" && v != "1.0" {
		return Identity{}, apierr.Invalid("SignatureVersion", "SignatureVersion %q is not supported; use 1.0.", v)
	}
	if err := s.checkTime(params["Timestamp"]); err != nil {
		return Identity{}, err
	}
	akid := params["AccessKeyId"]
	id, secret, err := s.lookup(r.Context(), akid)
	if err != nil {
		return Identity{}, err
	}
	sts := StringToSignV1(r.Method, params)
	if !hmac.Equal([]byte(SignV1(secret, sts)), []byte(params["Signature"])) {
		return Identity{}, apierr.New("SignatureDoesNotMatch", "Specified signature is not matched with our calculation. server string to sign is:%s", sts)
	}
	return id, s.spendNonce(akid, params["SignatureNonce"])
}

func (s *Server) authenticateACS3(r *http.Request, auth string, body []byte) (Identity, error) {
	akid, signed, sig, err := ParseAuthorizationACS3(auth)
	if err != nil {
		return Identity{}, err
	}
	nonce := r.Header.Get("x-acs-signature-nonce")
	if nonce == "" {
		return Identity{}, apierr.Missing("x-acs-signature-nonce")
	}
	date := r.Header.Get("x-acs-date")
	if date == "" {
		return Identity{}, apierr.Missing("x-acs-date")
	}
	if err := s.checkTime(date); err != nil {
		return Identity{}, err
	}
	payload := HashPayload(body)
	if h := r.Header.Get("x-acs-content-sha256"); h != "" && !strings.EqualFold(h, payload) {
		return Identity{}, apierr.New("SignatureDoesNotMatch", "The x-acs-content-sha256 header does not match the SHA-256 of the request body.")
	}
	id, secret, err := s.lookup(r.Context(), akid)
	if err != nil {
		return Identity{}, err
	}
	headers := make(map[string]string, len(signed))
	for _, name := range signed {
		if name == "host" {
			headers[name] = r.Host
		} else {
			headers[name] = r.Header.Get(name)
		}
	}
	query := map[string]string{}
	for k, v := range r.URL.Query() {
		query[k] = v[0]
	}
	sts := StringToSignACS3(CanonicalRequestACS3(r.Method, r.URL.Path, query, headers, signed, payload))
	if !hmac.Equal([]byte(SignACS3(secret, sts)), []byte(strings.ToLower(sig))) {
		return Identity{}, apierr.New("SignatureDoesNotMatch", "Specified signature is not matched with our calculation. server string to sign is:%s", sts)
	}
	return id, s.spendNonce(akid, nonce)
}

func (s *Server) checkTime(ts string) error {
	t, err := ParseTimestamp(ts)
	if err != nil {
		return err
	}
	return CheckSkew(t, s.now(), SkewWindow)
}

func (s *Server) spendNonce(akid, nonce string) error {
	if !s.nonces.Use(akid, nonce, s.now()) {
		return apierr.New("SignatureNonceUsed", "Specified signature nonce was used already; send each request with a new SignatureNonce.")
	}
	return nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// newRequestID makes an upper-case UUID-shaped ID, as Alibaba's.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := strings.ToUpper(hex.EncodeToString(b[:]))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
