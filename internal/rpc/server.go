package rpc

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"opencen/internal/apierr"
)

// Identity is the account a request was authenticated as.
type Identity struct {
	AccountID string
	Admin     bool
	// Rate throttles the access key the request was signed with.
	Rate Rate
}

// Request is one authenticated API call as a handler sees it.
type Request struct {
	ID       string
	Action   string
	Product  *Product
	Params   Params
	Identity Identity
	// nonce is the shared claim of a read's nonce still in flight (see admit): its answer
	// is held until the claim succeeds.
	nonce *heldNonce
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
	// Cacheable names read actions whose answer depends only on the caller, the
	// parameters and the store's contents (not on the clock).
	Cacheable map[string]bool
	// Observes names the cacheable actions whose answer also shows what a data plane
	// observed (negotiation status, learned routes ...): their answers follow a revision
	// that such reports move too; the others are not invalidated by them.
	Observes map[string]bool
}

// KeyLookup returns the identity and secret of an AccessKeyId, or an *apierr.Error.
type KeyLookup func(ctx context.Context, accessKeyID string) (Identity, string, error)

// KeyPeek returns what a KeyLookup last answered for an AccessKeyId, without confirming it
// is still current; ok=false when it knows nothing.
type KeyPeek func(accessKeyID string) (id Identity, secret string, ok bool)

// Server speaks Alibaba's RPC protocol on one port for every product, dispatching on
// (Version, Action) after authenticating the request.
type Server struct {
	products        map[string]*Product
	lookup          KeyLookup
	nonces          *NonceCache
	shared          *sharedNonces // nil: this server alone spends nonces
	peek            KeyPeek       // with shared: lets a nonce's claim start before its key is confirmed
	now             func() time.Time
	log             *slog.Logger
	answers         *answerCache
	observedAnswers *answerCache // for Product.Observes actions
	throttle        *throttle
	// fullWarned is when (unix seconds) a full replay cache was last logged.
	fullWarned atomic.Int64
	// observe, when set, is told of every answered request (see Observe).
	observe func(product, action, code string, d time.Duration)
}

// Observe has fn told of every request answered: its product and action ("" when the
// request named none this server serves: the label set stays bounded whatever clients
// send), the answer's code ("Success" or the error's Code) and how long it took. For
// metrics; fn must not block.
func (s *Server) Observe(fn func(product, action, code string, d time.Duration)) { s.observe = fn }

// SkewWindow is how far a request's timestamp may be from the server's clock.
const SkewWindow = 15 * time.Minute

// MaxBodyBytes bounds one request body; RPC parameters are small.
const MaxBodyBytes = 4 << 20

// NewServer makes a Server for products.
func NewServer(lookup KeyLookup, log *slog.Logger, products ...*Product) *Server {
	s := &Server{products: map[string]*Product{}, lookup: lookup, nonces: NewNonceCache(SkewWindow, DefaultMaxNonces), now: time.Now, log: log, throttle: newThrottle()}
	for _, p := range products {
		s.products[p.Version] = p
	}
	return s
}

// CacheAnswers enables the answer cache of cacheable actions, holding at most maxBytes of
// answers (0 disables it). spec reports a revision every change of desired state
// advances; observed one that also advances when a data plane reports what it sees (for
// the Observes actions). Each half of the budget holds one kind.
func (s *Server) CacheAnswers(spec, observed func(context.Context) (int64, error), maxBytes int) {
	s.answers, s.observedAnswers = nil, nil
	if maxBytes > 0 {
		s.answers = newAnswerCache(spec, maxBytes/2)
		s.observedAnswers = newAnswerCache(observed, maxBytes/2)
	}
}

// DefaultMaxNonces caps the replay cache: about 4.4k signed requests per second sustained
// over the 15-minute window, some 260 MB when full.
const DefaultMaxNonces = 4_000_000

// LimitNonces caps the replay cache at max live nonces (0: no cap); call it before
// PersistNonces.
func (s *Server) LimitNonces(max int) { s.nonces = NewNonceCache(SkewWindow, max) }

// PersistNonces keeps used nonces in a journal file so replays are refused across restarts.
func (s *Server) PersistNonces(path string) error { return s.nonces.Persist(path, s.now()) }

// ShareNonces spends every nonce in st as well, which the other servers of a cluster
// share, so a request is accepted by one server of the cluster at most once; the local
// cache stays in front of it. A cluster's servers have no journal: st keeps the nonces.
//
// peek, when not nil, lets a request whose signature verifies with the key peek knows
// start its claim while lookup confirms the key, instead of after: the claim's round trip
// then overlaps the confirmation's. The request still runs only if lookup confirms the
// key (a key disabled meanwhile is refused; its claim only spends the nonce).
func (s *Server) ShareNonces(st NonceStore, peek KeyPeek) {
	s.shared, s.peek = newSharedNonces(st), peek
}

// Close releases the nonce journal and ends claims of shared nonces in flight.
func (s *Server) Close() error {
	if s.shared != nil {
		s.shared.close()
	}
	return s.nonces.Close()
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	req := &Request{ID: newRequestID()}
	out, status, code := s.answer(r, req)
	writeAnswer(w, req.ID, out, status)
	d := time.Since(start)
	s.log.Debug("rpc", "request_id", req.ID, "action", req.Action, "account", req.Identity.AccountID, "status", status, "duration", d)
	if s.observe != nil {
		product, action := "", ""
		if p := req.Product; p != nil {
			product = p.Name
			if _, known := p.Actions[req.Action]; known {
				action = req.Action
			}
		}
		s.observe(product, action, code, d)
	}
}

// writeAnswer sends obj, an encoded JSON object, with "RequestId" as its first member. The
// parts are written as they are, so a cached answer is not copied per request.
func writeAnswer(w http.ResponseWriter, requestID string, obj []byte, status int) {
	head := make([]byte, 0, 64)
	head = append(head, `{"RequestId":`...)
	head = appendString(head, requestID)
	if len(obj) > 2 {
		head = append(head, ',')
	}
	rest := obj[1:]
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=utf-8")
	h.Set("x-acs-request-id", requestID)
	h.Set("Content-Length", strconv.Itoa(len(head)+len(rest)+1))
	w.WriteHeader(status)
	for _, part := range [][]byte{head, rest, newline} {
		if _, err := w.Write(part); err != nil {
			return // the client is gone; nothing to tell it
		}
	}
}

var newline = []byte{'\n'}

// WriteError answers err in the API's error envelope, for requests refused before they
// reach a Server (the HTTP limits in front of it).
func WriteError(w http.ResponseWriter, err error) {
	req := &Request{ID: newRequestID()}
	e := apierr.From(err)
	out, encErr := appendJSON(make([]byte, 0, 512), errorObject(e, req))
	if encErr != nil {
		out = []byte(`{}`)
	}
	writeAnswer(w, req.ID, out, e.HTTPStatus())
}

// errorObject is Alibaba's error body for e.
func errorObject(e *apierr.Error, req *Request) Object {
	host, product := "opencen", ""
	if req.Product != nil {
		host, product = req.Product.Host, req.Product.Name
	}
	return Object{"Code": e.Code, "Message": e.Message, "HostId": host,
		"Recommend": "https://api.aliyun.com/troubleshoot?q=" + e.Code + "&product=" + product + "&requestId=" + req.ID}
}

// answer runs the request and encodes its answer (or its error), without the RequestId;
// code is "Success" or the error's Code.
func (s *Server) answer(r *http.Request, req *Request) (_ []byte, _ int, code string) {
	body, cached, err := s.serve(r, req)
	status, code := http.StatusOK, "Success"
	if err != nil {
		e := apierr.From(err)
		status, code = e.HTTPStatus(), e.Code
		switch {
		case status >= 500 && r.Context().Err() != nil:
			// The client went away (or the server is stopping): nothing failed that it waits for.
			s.log.Debug("rpc: request abandoned by its client", "request_id", req.ID, "action", req.Action, "err", err)
		case status >= 500:
			s.log.Error("rpc: request failed", "request_id", req.ID, "action", req.Action, "err", err)
		}
		body = errorObject(e, req)
	}
	if cached == nil {
		var encErr error
		if cached, encErr = appendJSON(make([]byte, 0, 1024), body); encErr != nil {
			s.log.Error("rpc: encode response", "request_id", req.ID, "action", req.Action, "err", encErr)
			status, code = http.StatusInternalServerError, "InternalError"
			cached, _ = appendJSON(nil, Object{"Code": "InternalError", "HostId": "opencen", "Message": "The response could not be encoded."})
		}
	}
	return cached, status, code
}

// serve authenticates and runs the request; a cacheable action may answer with the
// encoded body of an earlier identical request at the same store revision.
func (s *Server) serve(r *http.Request, req *Request) (Object, []byte, error) {
	if err := s.prepare(r, req); err != nil {
		return nil, nil, err
	}
	body, enc, err := s.run(r, req)
	if req.nonce != nil {
		if nerr := s.settle(r.Context(), req.nonce); nerr != nil {
			return nil, nil, nerr // nothing of a replayed read's answer leaves the server
		}
	}
	return body, enc, err
}

// run answers an authenticated request.
func (s *Server) run(r *http.Request, req *Request) (Object, []byte, error) {
	h := req.Product.Actions[req.Action]
	cache := s.answers
	if req.Product.Observes[req.Action] {
		cache = s.observedAnswers
	}
	if cache == nil || !req.Product.Cacheable[req.Action] {
		body, err := h(r.Context(), req)
		return body, nil, err
	}
	key := cache.keyOf(req)
	rev, err := cache.revision(r.Context())
	if err != nil {
		return nil, nil, err
	}
	if body, ok := cache.get(key, rev); ok {
		return nil, body, nil
	}
	body, err := h(r.Context(), req)
	if err != nil {
		return nil, nil, err
	}
	enc, err := appendJSON(make([]byte, 0, 1024), body)
	if err != nil {
		return nil, nil, err
	}
	// The revision read before the handler ran: if a write landed meanwhile, the entry
	// is simply stale at once and recomputed by the next call.
	cache.put(key, rev, enc)
	return nil, enc, nil
}

// Invoke runs action of API version as id, bypassing the wire protocol: for callers that
// authenticated the account themselves (the web console's session). Authorization is the
// handlers' own, exactly as for signed requests.
func (s *Server) Invoke(ctx context.Context, id Identity, version, action string, params Params) (Object, error) {
	p, ok := s.products[version]
	if !ok {
		return nil, apierr.New("InvalidVersion", "API version %q is not served here.", version)
	}
	h, ok := p.Actions[action]
	if !ok {
		return nil, apierr.New("InvalidAction.NotFound", "The action %s of %s %s is not served here.", action, p.Name, version)
	}
	return h(ctx, &Request{ID: newRequestID(), Action: action, Product: p, Params: params, Identity: id})
}

// Lookup returns the identity and secret of an access key, as signature checks see them.
func (s *Server) Lookup(ctx context.Context, accessKeyID string) (Identity, string, error) {
	return s.lookup(ctx, accessKeyID)
}

// prepare decodes, dispatches and authenticates.
func (s *Server) prepare(r *http.Request, req *Request) error {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		return apierr.New("UnsupportedHTTPMethod", "HTTP method %s is not supported; use POST or GET.", r.Method)
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	params, err := Decode(r, body)
	if err != nil {
		return err
	}
	req.Params = params
	version := firstNonEmpty(params["Version"], r.Header.Get("x-acs-version"))
	req.Action = firstNonEmpty(params["Action"], r.Header.Get("x-acs-action"))
	if version == "" {
		return apierr.Missing("Version")
	}
	p, ok := s.products[version]
	if !ok {
		return apierr.New("InvalidVersion", "API version %q is not served here; OpenCEN serves Cbn 2017-09-12 and Vpc 2016-04-28.", version)
	}
	req.Product = p
	if req.Action == "" {
		return apierr.Missing("Action")
	}
	if _, ok := p.Actions[req.Action]; !ok {
		return apierr.New("InvalidAction.NotFound", "The action %s of %s %s is not served here; check its spelling.", req.Action, p.Name, p.Version)
	}
	if f := params["Format"]; f != "" && !strings.EqualFold(f, "json") {
		return apierr.Invalid("Format", "Format %q is not supported; OpenCEN answers JSON only (Format=JSON).", f)
	}
	// A cacheable action only reads (its answer may be reused), so its nonce need not be on
	// disk before it is answered; see NonceCache.UseForRead.
	id, nonce, err := s.authenticate(r, params, body, p.Cacheable[req.Action])
	if err != nil {
		return err
	}
	req.Identity, req.nonce = id, nonce
	return nil
}

// readBody reads at most MaxBodyBytes. A declared length is refused before anything is read
// and sizes the buffer exactly, so a body costs its own size once (io.ReadAll's doubling
// would hold up to twice that).
func readBody(r *http.Request) ([]byte, error) {
	tooLarge := func() error {
		return apierr.New("InvalidParameter", "The request body is larger than %d bytes.", MaxBodyBytes)
	}
	if r.ContentLength > MaxBodyBytes {
		return nil, tooLarge()
	}
	var body []byte
	var err error
	if r.ContentLength >= 0 {
		body = make([]byte, r.ContentLength)
		_, err = io.ReadFull(r.Body, body)
	} else {
		body, err = io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	}
	if err != nil {
		return nil, apierr.New("InvalidParameter", "The request body could not be read: %v.", err)
	}
	if len(body) > MaxBodyBytes {
		return nil, tooLarge()
	}
	return body, nil
}

// authenticate checks a v1 (HMAC-SHA1) or ACS3-HMAC-SHA256 signature. The timestamp is
// checked before the key and the signature, and the nonce is spent only by a request
// whose signature verified, so unauthenticated requests cannot burn nonces.
func (s *Server) authenticate(r *http.Request, params Params, body []byte, read bool) (Identity, *heldNonce, error) {
	if firstNonEmpty(params["SecurityToken"], r.Header.Get("x-acs-security-token")) != "" {
		// OpenCEN issues no STS tokens, so any token is made up; ignoring it would accept
		// a request its sender believes is bound to a temporary credential.
		return Identity{}, nil, apierr.New("InvalidSecurityToken.Malformed", "Specified SecurityToken is malformed: OpenCEN issues no STS tokens. Sign with an access key pair alone (aliyun --mode AK), without SecurityToken or x-acs-security-token.")
	}
	if auth := r.Header.Get("Authorization"); strings.HasPrefix(auth, "ACS3-") {
		return s.authenticateACS3(r, auth, body, read)
	}
	if params["Signature"] == "" {
		return Identity{}, nil, apierr.New("IncompleteSignature", "The request is not signed: give Signature (HMAC-SHA1) or an ACS3-HMAC-SHA256 Authorization header.")
	}
	for _, name := range []string{"AccessKeyId", "SignatureMethod", "SignatureNonce", "Timestamp"} {
		if params[name] == "" {
			return Identity{}, nil, apierr.Missing(name)
		}
	}
	if m := params["SignatureMethod"]; m != "HMAC-SHA1" {
		return Identity{}, nil, apierr.New("InvalidSignatureMethod", "SignatureMethod %q is not supported; use HMAC-SHA1.", m)
	}
	if v := params["SignatureVersion"]; v != "" && v != "1.0" {
		return Identity{}, nil, apierr.Invalid("SignatureVersion", "SignatureVersion %q is not supported; use 1.0.", v)
	}
	signedAt, err := s.checkTime(params["Timestamp"])
	if err != nil {
		return Identity{}, nil, err
	}
	sts := StringToSignV1(r.Method, params)
	return s.verified(r.Context(), params["AccessKeyId"], params["SignatureNonce"], signedAt, read, func(secret string) error {
		if !hmac.Equal([]byte(SignV1(secret, sts)), []byte(params["Signature"])) {
			return signatureMismatch(sts)
		}
		return nil
	})
}

func (s *Server) authenticateACS3(r *http.Request, auth string, body []byte, read bool) (Identity, *heldNonce, error) {
	akid, signed, sig, err := ParseAuthorizationACS3(auth)
	if err != nil {
		return Identity{}, nil, err
	}
	if err := requireSignedHeaders(r.Header, signed); err != nil {
		return Identity{}, nil, err
	}
	nonce := r.Header.Get("x-acs-signature-nonce")
	if nonce == "" {
		return Identity{}, nil, apierr.Missing("x-acs-signature-nonce")
	}
	date := r.Header.Get("x-acs-date")
	if date == "" {
		return Identity{}, nil, apierr.Missing("x-acs-date")
	}
	signedAt, err := s.checkTime(date)
	if err != nil {
		return Identity{}, nil, err
	}
	payload := HashPayload(body)
	if h := r.Header.Get("x-acs-content-sha256"); h != "" && !strings.EqualFold(h, payload) {
		return Identity{}, nil, apierr.New("SignatureDoesNotMatch", "The x-acs-content-sha256 header does not match the SHA-256 of the request body.")
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
	return s.verified(r.Context(), akid, nonce, signedAt, read, func(secret string) error {
		if !hmac.Equal([]byte(SignACS3(secret, sts)), []byte(strings.ToLower(sig))) {
			return signatureMismatch(sts)
		}
		return nil
	})
}

// verified looks the key up, checks the signature with its secret (verify) and admits the
// request. A write returns once its nonce is spent; a read may return its shared claim
// still in flight (see admit).
//
// In a cluster, a key this server has looked up before is used at once: when its secret
// verifies the signature, the nonce's claim starts while lookup confirms the key, so the
// two round trips overlap. Anything else takes the plain order: lookup, verify, claim.
func (s *Server) verified(ctx context.Context, akid, nonce string, signedAt time.Time, read bool, verify func(secret string) error) (Identity, *heldNonce, error) {
	if s.peek != nil {
		if id, secret, ok := s.peek(akid); ok && verify(secret) == nil {
			held, err := s.admit(akid, id, nonce, signedAt, read)
			if err != nil {
				return Identity{}, nil, err
			}
			confirmed, current, err := s.lookup(ctx, akid)
			if err == nil && current != secret {
				err = verify(current)
			}
			if err != nil {
				// Refused after all. Its claim is seen through, so that a nonce the store
				// did not record is forgotten here too, as on any failed claim.
				_ = s.settle(ctx, held)
				return Identity{}, nil, err
			}
			return s.hold(ctx, confirmed, held, read)
		}
	}
	id, secret, err := s.lookup(ctx, akid)
	if err != nil {
		return Identity{}, nil, err
	}
	if err := verify(secret); err != nil {
		return Identity{}, nil, err
	}
	held, err := s.admit(akid, id, nonce, signedAt, read)
	if err != nil {
		return Identity{}, nil, err
	}
	return s.hold(ctx, id, held, read)
}

// hold keeps a read's claim in flight for serve to settle; a write waits for it here.
func (s *Server) hold(ctx context.Context, id Identity, held *heldNonce, read bool) (Identity, *heldNonce, error) {
	if held == nil || read {
		return id, held, nil
	}
	return id, nil, s.settle(ctx, held)
}

// requireSignedHeaders enforces Alibaba's V3 rule that every common request header present
// is signed: host and each x-acs-* header. A signature over less would let anyone holding
// one captured request send another action, nonce or date under it.
func requireSignedHeaders(h http.Header, signed []string) error {
	covered := make(map[string]bool, len(signed))
	for _, name := range signed {
		covered[name] = true
	}
	var missing []string
	if !covered["host"] {
		missing = append(missing, "host")
	}
	for name := range h {
		if lk := strings.ToLower(name); strings.HasPrefix(lk, "x-acs-") && !covered[lk] {
			missing = append(missing, lk)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	sort.Strings(missing)
	return apierr.New("IncompleteSignature", "The request signature does not conform to Aliyun standards: SignedHeaders must list host and every x-acs-* header the request carries; not signed: %s.", strings.Join(missing, ", "))
}

// maxEchoedStringToSign bounds the string to sign a SignatureDoesNotMatch repeats. The SDKs
// compare it with their own to tell a wrong secret from an altered request, so ordinary
// requests get it in full; one carrying megabytes of parameters gets a prefix, or the error
// would amplify the request.
const maxEchoedStringToSign = 4096

func signatureMismatch(sts string) error {
	if len(sts) > maxEchoedStringToSign {
		sts = sts[:maxEchoedStringToSign] + "...(" + strconv.Itoa(len(sts)) + " bytes)"
	}
	return apierr.New("SignatureDoesNotMatch", "Specified signature is not matched with our calculation. server string to sign is:%s", apierr.Text(sts))
}

// checkTime parses a request's timestamp and checks it is within the window.
func (s *Server) checkTime(ts string) (time.Time, error) {
	t, err := ParseTimestamp(ts)
	if err != nil {
		return time.Time{}, err
	}
	return t, CheckSkew(t, s.now(), SkewWindow)
}

// admit lets a verified request run: within its key's rate, then spending its nonce (on
// disk before the request runs, unless it only reads). A throttled request changes
// nothing, not even the nonce cache; its sender retries with a new signature anyway.
//
// In a cluster the nonce is spent in the shared store too: admit starts that claim and
// returns it. A write must wait for it before it runs (hold). A read, which changes
// nothing, runs meanwhile, and its answer is held until the claim succeeds (serve's
// settle), so the claim's round trip overlaps the read's own instead of adding to it.
func (s *Server) admit(akid string, id Identity, nonce string, signed time.Time, read bool) (*heldNonce, error) {
	if !s.throttle.allow(akid, id.Rate, s.now()) {
		return nil, apierr.New("Throttling.User", "Request was denied due to user flow control: access key %s may send %d requests per second (bursts of %d). Retry later, or ask the administrator to raise the account's quota: opencen admin quota set --account-id %s --name api-requests-per-second --value <n>.",
			akid, id.Rate.PerSecond, id.Rate.Burst, id.AccountID)
	}
	use := s.nonces.Use
	if read {
		use = s.nonces.UseForRead
	}
	if err := use(akid, nonce, signed, s.now()); err != nil || s.shared == nil {
		return nil, s.nonceError(err)
	}
	return &heldNonce{akid: akid, nonce: nonce, claim: s.shared.start(keyOf(akid, nonce), s.nonces.expiry(signed))}, nil
}

// heldNonce is a nonce whose shared claim is in flight.
type heldNonce struct {
	akid, nonce string
	claim       *nonceClaim
}

// settle waits for a shared claim. When the store could not say, the local cache forgets
// the nonce: a retry of the request asks the store again.
func (s *Server) settle(ctx context.Context, h *heldNonce) error {
	err := h.claim.wait(ctx)
	if err != nil && !errors.Is(err, ErrNonceUsed) {
		s.nonces.forget(h.akid, h.nonce)
	}
	return s.nonceError(err)
}

// nonceError is the API's answer to a nonce that could not be spent.
func (s *Server) nonceError(err error) error {
	switch {
	case errors.Is(err, ErrNonceUsed):
		return apierr.New("SignatureNonceUsed", "Specified signature nonce was used already; send each request with a new SignatureNonce.")
	case errors.Is(err, ErrNonceCacheFull):
		if now, last := s.now().Unix(), s.fullWarned.Load(); now-last >= 60 && s.fullWarned.CompareAndSwap(last, now) { // at most once a minute
			s.log.Warn("rpc: replay cache full; refusing signed requests until nonces expire", "max_nonces", s.nonces.perShard*nonceShards)
		}
		return apierr.New("ServiceUnavailable", "The request has failed due to a temporary failure of the server: it holds as many recent signature nonces as it is configured to; retry in a minute.")
	}
	return err
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
