package rpc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"opencen/internal/apierr"
)

// Client is a small v1-signed RPC client for OpenCEN's own CLI, tests and benchmarks. It
// speaks the same wire format as the aliyun CLI: POST /, everything in a form body.
type Client struct {
	Endpoint        string // base URL, e.g. "http://127.0.0.1:8080"; "host:port" means http
	AccessKeyID     string
	AccessKeySecret string
	HTTP            *http.Client // nil means http.DefaultClient
}

// maxResponseBytes caps how much of a response is read, so a confused server cannot exhaust
// the client's memory.
const maxResponseBytes = 64 << 20

// Call invokes action of API version with params. A 2xx JSON body is decoded into out (if
// non-nil). Any other status returns the server's error as an *apierr.Error whose Status is
// the HTTP status.
func (c *Client) Call(ctx context.Context, version, action string, params map[string]string, out any) error {
	p := make(map[string]string, len(params)+2)
	for k, v := range params {
		p[k] = v
	}
	p["Action"] = action
	p["Version"] = version
	signed := SignRequestV1(http.MethodPost, p, c.AccessKeyID, c.AccessKeySecret, time.Now(), newNonce())

	form := url.Values{}
	for k, v := range signed {
		form.Set(k, v)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL()+"/", strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("rpc: building %s request: %w", action, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("x-acs-action", action)
	req.Header.Set("x-acs-version", version)

	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("rpc: %s: %w", action, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("rpc: %s: reading response: %w", action, err)
	}

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return decodeErrorEnvelope(resp.StatusCode, body)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("rpc: %s: decoding response: %w", action, err)
	}
	return nil
}

func (c *Client) baseURL() string {
	ep := strings.TrimRight(c.Endpoint, "/")
	if !strings.Contains(ep, "://") {
		ep = "http://" + ep
	}
	return ep
}

// errorEnvelope is Alibaba's error body. encoding/json matches keys case-insensitively, so
// "code"/"message" variants decode too.
type errorEnvelope struct {
	RequestId string
	HostId    string
	Code      string
	Message   string
	Recommend string
}

func decodeErrorEnvelope(status int, body []byte) *apierr.Error {
	var env errorEnvelope
	if err := json.Unmarshal(body, &env); err != nil || env.Code == "" {
		// Not an API error body (a proxy page, say): still return a non-empty Code, because
		// callers match on it.
		msg := strings.TrimSpace(string(body))
		if len(msg) > 512 {
			msg = msg[:512] + "..."
		}
		if env.Message != "" {
			msg = env.Message
		}
		return &apierr.Error{Code: "UnknownError", Message: fmt.Sprintf("HTTP %d: %s", status, msg), Status: status}
	}
	return &apierr.Error{Code: env.Code, Message: env.Message, Status: status}
}

// newNonce returns 32 random hex digits, the shape the SDKs send.
func newNonce() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand panics rather than return short reads)
	return hex.EncodeToString(b[:])
}
