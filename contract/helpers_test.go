package contract

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alibabacloud-go/tea/tea"
	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"

	"opencen/internal/testserver"
)

// ---- errors as the SDKs expose them -------------------------------------------------------

// apiError is what a caller can learn from an SDK error.
type apiError struct {
	Status                              int
	Code, Message, Recommend, RequestID string
}

func (e *apiError) String() string {
	return fmt.Sprintf("HTTP %d Code=%q Message=%q Recommend=%q RequestId=%q", e.Status, e.Code, e.Message, e.Recommend, e.RequestID)
}

// responseError is the dara error interface, in case an SDK returns it unwrapped.
type responseError interface {
	GetCode() *string
	GetStatusCode() *int
	GetMessage() *string
	GetData() map[string]interface{}
}

func asAPIError(err error) (*apiError, bool) {
	if err == nil {
		return nil, false
	}
	// darabonba-openapi (wrapped by dara.TeaSDKError) and tea-rpc both end up here.
	var te *tea.SDKError
	if errors.As(err, &te) {
		e := &apiError{Status: tea.IntValue(te.StatusCode), Code: tea.StringValue(te.Code), Message: tea.StringValue(te.Message)}
		if te.Data != nil {
			var m map[string]interface{}
			if json.Unmarshal([]byte(*te.Data), &m) == nil {
				e.Recommend, _ = m["Recommend"].(string)
				e.RequestID, _ = m["RequestId"].(string)
			}
		}
		return e, true
	}
	var re responseError
	if errors.As(err, &re) {
		e := &apiError{Status: tea.IntValue(re.GetStatusCode()), Code: tea.StringValue(re.GetCode()), Message: tea.StringValue(re.GetMessage())}
		if d := re.GetData(); d != nil {
			e.Recommend, _ = d["Recommend"].(string)
			e.RequestID, _ = d["RequestId"].(string)
		}
		return e, true
	}
	// aliyun/alibaba-cloud-sdk-go.
	var se *sdkerrors.ServerError
	if errors.As(err, &se) {
		return &apiError{Status: se.HttpStatus(), Code: se.ErrorCode(), Message: se.Message(), Recommend: se.Recommend(), RequestID: se.RequestId()}, true
	}
	return nil, false
}

// expectAPIError asserts that err is an API error with the given HTTP status and code
// (code "" means any non-empty code) and returns it.
func expectAPIError(t testing.TB, what string, err error, status int, code string) *apiError {
	t.Helper()
	if err == nil {
		t.Errorf("%s: succeeded, want HTTP %d %s", what, status, code)
		return nil
	}
	e, ok := asAPIError(err)
	if !ok {
		t.Errorf("%s: error is not an API error (%T): %v; want HTTP %d %s", what, err, err, status, code)
		return nil
	}
	if e.Status != status || (code != "" && e.Code != code) || e.Code == "" {
		want := code
		if want == "" {
			want = "<any non-empty code>"
		}
		t.Errorf("%s: got %s; want HTTP %d Code=%s", what, e, status, want)
	}
	if e.RequestID == "" || e.Recommend == "" {
		t.Errorf("%s: error envelope lacks RequestId or Recommend: %s", what, e)
	}
	return e
}

func must[T any](t testing.TB, what string) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, describeErr(err))
		}
		return v
	}
}

func mustOK(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, describeErr(err))
	}
}

func describeErr(err error) string {
	if e, ok := asAPIError(err); ok {
		return e.String()
	}
	return err.Error()
}

// ---- polling ------------------------------------------------------------------------------

const (
	pollEvery   = 100 * time.Millisecond
	pollTimeout = 15 * time.Second
)

// waitFor calls check every 100ms until it reports done, failing after pollTimeout.
// check returns (done, observed state for the failure message, error); an error fails at once.
func waitFor(t testing.TB, what string, check func() (bool, string, error)) {
	t.Helper()
	deadline := time.Now().Add(pollTimeout)
	last := ""
	for {
		done, state, err := check()
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, describeErr(err))
		}
		if done {
			return
		}
		last = state
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: still %q after %v", what, last, pollTimeout)
		}
		time.Sleep(pollEvery)
	}
}

// ---- response shape checks (generic maps, as terraform reads them) -------------------------

// dig follows object keys (exact case) in a generic JSON value.
func dig(v interface{}, keys ...string) interface{} {
	for _, k := range keys {
		m, ok := v.(map[string]interface{})
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// checkKeys asserts that obj is a JSON object holding every key (exact case). A key ending
// in "[]" must be a JSON array (not null), one ending in "{}" a JSON object.
func checkKeys(path string, obj interface{}, keys ...string) error {
	m, ok := obj.(map[string]interface{})
	if !ok {
		return fmt.Errorf("%s: is %T, want a JSON object", path, obj)
	}
	var missing []string
	for _, k := range keys {
		name, kind := k, ""
		if strings.HasSuffix(k, "[]") || strings.HasSuffix(k, "{}") {
			name, kind = k[:len(k)-2], k[len(k)-2:]
		}
		v, present := m[name]
		switch {
		case !present:
			missing = append(missing, name+" (absent)")
		case kind == "[]":
			if _, ok := v.([]interface{}); !ok {
				missing = append(missing, fmt.Sprintf("%s (is %T %v, want a JSON array)", name, v, v))
			}
		case kind == "{}":
			if _, ok := v.(map[string]interface{}); !ok {
				missing = append(missing, fmt.Sprintf("%s (is %T %v, want a JSON object)", name, v, v))
			}
		}
	}
	if len(missing) > 0 {
		b, _ := json.Marshal(obj)
		return fmt.Errorf("%s: bad or missing keys (case-sensitive): %s\nobject: %s", path, strings.Join(missing, ", "), b)
	}
	return nil
}

// checkEach applies checkKeys to every element of a JSON array.
func checkEach(path string, arr interface{}, keys ...string) error {
	items, ok := arr.([]interface{})
	if !ok {
		return fmt.Errorf("%s: is %T, want a JSON array", path, arr)
	}
	for i, it := range items {
		if err := checkKeys(fmt.Sprintf("%s[%d]", path, i), it, keys...); err != nil {
			return err
		}
	}
	return nil
}

// ---- misc -----------------------------------------------------------------------------------

var creationTimeRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}Z$`)

// checkCreationTime asserts the CBN time format YYYY-MM-DDThh:mmZ (UTC, no seconds) and
// that the time is close to now.
func checkCreationTime(t testing.TB, what, v string) {
	t.Helper()
	if !creationTimeRE.MatchString(v) {
		t.Errorf("%s CreationTime = %q, want format YYYY-MM-DDThh:mmZ (e.g. 2021-03-15T09:39Z)", what, v)
		return
	}
	ts, err := time.Parse("2006-01-02T15:04Z", v)
	if err != nil {
		t.Errorf("%s CreationTime %q: %v", what, v, err)
		return
	}
	if d := time.Since(ts); d < -2*time.Minute || d > 5*time.Minute {
		t.Errorf("%s CreationTime %q is %v away from now (UTC %s)", what, v, d, time.Now().UTC().Format(time.RFC3339))
	}
}

func tagsEqual(got []Tag, want ...Tag) bool {
	if len(got) != len(want) {
		return false
	}
	m := map[Tag]int{}
	for _, g := range got {
		m[g]++
	}
	for _, w := range want {
		if m[w] == 0 {
			return false
		}
		m[w]--
	}
	return true
}

func uniq(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()%1e12)
}

func startServer(t *testing.T) *testserver.Server {
	t.Helper()
	return testserver.Start(t, testserver.Options{TransitionDelay: 100 * time.Millisecond})
}

func client(t testing.TB, style, endpoint string, acct testserver.Account) cbnAPI {
	t.Helper()
	c, err := newClient(style, endpoint, acct.AccessKeyID, acct.AccessKeySecret)
	if err != nil {
		t.Fatalf("new %s client: %v", style, err)
	}
	return c
}

// ---- recording reverse proxy -----------------------------------------------------------------

type proxyMode int

const (
	modeForward      proxyMode = iota
	modeReplayLast             // send the previously recorded request instead of the incoming one
	modeExpire                 // rewrite Timestamp / x-acs-date to now-20min
	modeBadTimestamp           // rewrite Timestamp / x-acs-date to garbage
)

// recProxy forwards every request verbatim (raw bytes, Host header kept, so signatures
// stay valid) to the server, records the last forwarded request, and can be told to
// tamper with the next request.
type recProxy struct {
	target string // "127.0.0.1:PORT"
	srv    *httptest.Server

	mu   sync.Mutex
	last []byte // raw bytes of the last request forwarded unmodified
	mode proxyMode
	sent []byte // raw bytes of the last request actually sent to the server
}

func newProxy(t testing.TB, target string) *recProxy {
	p := &recProxy{target: target}
	p.srv = httptest.NewServer(http.HandlerFunc(p.handle))
	t.Cleanup(p.srv.Close)
	return p
}

// Endpoint is the proxy's "127.0.0.1:PORT", to configure SDK clients with.
func (p *recProxy) Endpoint() string { return strings.TrimPrefix(p.srv.URL, "http://") }

// Next sets how the next request is treated (one shot).
func (p *recProxy) Next(m proxyMode) {
	p.mu.Lock()
	p.mode = m
	p.mu.Unlock()
}

// Last returns the raw bytes of the last verbatim-forwarded request.
func (p *recProxy) Last() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]byte(nil), p.last...)
}

// Resend sends raw request bytes to the server and returns the response.
func (p *recProxy) Resend(raw []byte) (*http.Response, []byte, error) {
	conn, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := conn.Write(raw); err != nil {
		return nil, nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, body, err
}

func (p *recProxy) handle(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	mode := p.mode
	p.mode = modeForward
	last := append([]byte(nil), p.last...)
	p.mu.Unlock()

	switch mode {
	case modeExpire:
		rewriteTimestamp(r, time.Now().UTC().Add(-20*time.Minute).Format("2006-01-02T15:04:05Z"))
	case modeBadTimestamp:
		rewriteTimestamp(r, "yesterday-ish")
	}
	raw, err := httputil.DumpRequest(r, true)
	if err != nil {
		http.Error(w, "proxy: dump: "+err.Error(), http.StatusBadGateway)
		return
	}
	toSend := raw
	if mode == modeReplayLast {
		if len(last) == 0 {
			http.Error(w, "proxy: nothing recorded to replay", http.StatusBadGateway)
			return
		}
		toSend = last
	}
	p.mu.Lock()
	if mode == modeForward {
		p.last = raw
	}
	p.sent = toSend
	p.mu.Unlock()

	resp, body, err := p.Resend(toSend)
	if err != nil {
		http.Error(w, "proxy: upstream: "+err.Error(), http.StatusBadGateway)
		return
	}
	for k, vs := range resp.Header {
		if strings.EqualFold(k, "Content-Length") || strings.EqualFold(k, "Transfer-Encoding") || strings.EqualFold(k, "Connection") {
			continue
		}
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}

// rewriteTimestamp replaces the v1 `Timestamp` query parameter and the ACS3 `x-acs-date`
// header (whichever are present), leaving every other byte of the query as it was.
func rewriteTimestamp(r *http.Request, ts string) {
	if r.Header.Get("x-acs-date") != "" {
		r.Header.Set("x-acs-date", ts)
	}
	parts := strings.Split(r.URL.RawQuery, "&")
	for i, kv := range parts {
		if k, _, ok := strings.Cut(kv, "="); ok && k == "Timestamp" {
			parts[i] = "Timestamp=" + url.QueryEscape(ts)
		}
	}
	r.URL.RawQuery = strings.Join(parts, "&")
	r.RequestURI = r.URL.RequestURI()
	// Form-body Timestamp (no stock client does this, but be thorough).
	if r.Body != nil && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		b, _ := io.ReadAll(r.Body)
		bparts := strings.Split(string(b), "&")
		for i, kv := range bparts {
			if k, _, ok := strings.Cut(kv, "="); ok && k == "Timestamp" {
				bparts[i] = "Timestamp=" + url.QueryEscape(ts)
			}
		}
		nb := []byte(strings.Join(bparts, "&"))
		r.Body = io.NopCloser(bytes.NewReader(nb))
		r.ContentLength = int64(len(nb))
		r.Header.Set("Content-Length", fmt.Sprint(len(nb)))
	}
}
