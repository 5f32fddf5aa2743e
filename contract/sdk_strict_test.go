package contract

// Typed SDK clients that keep each raw answer, so a test reads a result twice: through the
// SDK's own models (what a program using the SDK sees: the typed client decodes leniently),
// and strictly, straight from the wire into the same model types with encoding/json, where
// a field of another JSON type than the model declares fails, and (exact) so does a field
// the model does not have.

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"

	cbn "github.com/alibabacloud-go/cbn-20170912/v2/client"
	vpc "github.com/alibabacloud-go/vpc-20160428/v7/client"

	"opencen/internal/testserver"
)

// recHTTP is a darabonba HTTP client that keeps the last answer's body.
type recHTTP struct {
	mu   sync.Mutex
	last []byte
}

func (r *recHTTP) Call(req *http.Request, tr *http.Transport) (*http.Response, error) {
	resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.last = body
	r.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

func (r *recHTTP) Last() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte(nil), r.last...)
}

// typedSDK is one account's vpc-20160428/v7 and cbn-20170912/v2 clients (default ACS3
// signing), recording answers. One test goroutine uses it at a time.
type typedSDK struct {
	v   *vpc.Client
	c   *cbn.Client
	rec *recHTTP
}

func newTypedSDK(t *testing.T, endpoint string, acct testserver.Account) *typedSDK {
	t.Helper()
	s := &typedSDK{rec: &recHTTP{}}
	cfg := daraConfig(styleACS3, endpoint, acct.AccessKeyID, acct.AccessKeySecret)
	cfg.HttpClient = s.rec
	var err error
	if s.v, err = vpc.NewClient(cfg); err != nil {
		t.Fatalf("vpc client: %v", err)
	}
	cfg = daraConfig(styleACS3, endpoint, acct.AccessKeyID, acct.AccessKeySecret)
	cfg.HttpClient = s.rec
	if s.c, err = cbn.NewClient(cfg); err != nil {
		t.Fatalf("cbn client: %v", err)
	}
	return s
}

// strictLast decodes the last answer into B, the SDK's response body model: a JSON type
// other than the model's fails, and with exact so does a field the model lacks.
func strictLast[B any](t testing.TB, s *typedSDK, what string, exact bool) *B {
	t.Helper()
	raw := s.rec.Last()
	dec := json.NewDecoder(bytes.NewReader(raw))
	if exact {
		dec.DisallowUnknownFields()
	}
	var b B
	if err := dec.Decode(&b); err != nil {
		t.Fatalf("%s: the answer does not fit the SDK model %T: %v\n%s", what, b, err, raw)
	}
	return &b
}

// sdkOK takes a typed call's results, which must be a success, and returns its body
// decoded strictly; the typed client's own (lenient) decoding must agree with it.
func sdkOK[B any, R any](t testing.TB, s *typedSDK, what string, exact bool, resp R, err error) *B {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, describeErr(err))
	}
	b := strictLast[B](t, s, what, exact)
	rv := reflect.ValueOf(resp)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		t.Fatalf("%s: the SDK returned %T", what, resp)
	}
	typed := rv.Elem().FieldByName("Body")
	if !typed.IsValid() || !reflect.DeepEqual(typed.Interface(), b) {
		t.Fatalf("%s: the typed client read %v, the strict decoding %v", what, typed, b)
	}
	return b
}
