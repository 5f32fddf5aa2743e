package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"opencen/internal/rpc"
)

// A session is a cookie "<AccessKeyId>.<expiry unix>.<nonce>.<mac>", the MAC keyed by the
// access key's own secret (the nonce makes every sign-in's cookie its own, so signing out
// ends that one only). The server keeps only the sessions ended by Sign out (signedOut): a
// restart keeps people signed in, and disabling or deleting the key ends its sessions at
// the next request, because every request looks the key up again.
const (
	cookieName = "opencen_console"
	sessionTTL = 12 * time.Hour
)

// session is a verified sign-in.
type session struct {
	id     rpc.Identity
	keyID  string
	cookie string // the cookie's value: the CSRF token is derived from it
	secret string
}

// errNoSession means the request carries no valid session; the console sends it to sign-in.
var errNoSession = errors.New("not signed in")

func mac(secret string, parts ...string) string {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(strings.Join(parts, "\x00")))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// newSessionCookie signs keyID in until now+sessionTTL.
func newSessionCookie(keyID, secret string, now time.Time) string {
	exp := strconv.FormatInt(now.Add(sessionTTL).Unix(), 10)
	var n [12]byte
	_, _ = rand.Read(n[:])
	nonce := base64.RawURLEncoding.EncodeToString(n[:])
	return keyID + "." + exp + "." + nonce + "." + mac(secret, "opencen-console-session", keyID, exp, nonce)
}

// verifySession checks a cookie value: its MAC against the key's current secret (the key
// must still exist and be active: lookup fails otherwise) and its expiry.
func verifySession(ctx context.Context, lookup rpc.KeyLookup, value string, now time.Time) (*session, error) {
	parts := strings.Split(value, ".")
	if len(parts) != 4 || parts[0] == "" || parts[2] == "" {
		return nil, errNoSession
	}
	keyID, exp, nonce, sig := parts[0], parts[1], parts[2], parts[3]
	unix, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || now.Unix() > unix {
		return nil, errNoSession
	}
	id, secret, err := lookup(ctx, keyID)
	if err != nil {
		return nil, errNoSession
	}
	if !hmac.Equal([]byte(sig), []byte(mac(secret, "opencen-console-session", keyID, exp, nonce))) {
		return nil, errNoSession
	}
	return &session{id: id, keyID: keyID, cookie: value, secret: secret}, nil
}

// csrfToken is bound to the session: a form posted from another origin cannot know it.
func (s *session) csrfToken() string { return mac(s.secret, "opencen-console-csrf", s.cookie) }

func (s *session) checkCSRF(token string) bool {
	return token != "" && hmac.Equal([]byte(token), []byte(s.csrfToken()))
}

// sameOrigin rejects cross-site form posts (including the sign-in form, which has no
// session yet): browsers send Origin on POST; when it is absent Referer is checked.
func sameOrigin(r *http.Request) bool {
	src := r.Header.Get("Origin")
	if src == "" {
		src = r.Header.Get("Referer")
	}
	if src == "" || src == "null" {
		return src == "" // a non-browser client that sends neither
	}
	rest, ok := strings.CutPrefix(src, "http://")
	if !ok {
		rest, ok = strings.CutPrefix(src, "https://")
	}
	host, _, _ := strings.Cut(rest, "/")
	return ok && host == r.Host
}

// SignOuts keeps the sessions ended by Sign out, named by signOutKey, until they would
// have expired anyway: service.SignOut and SignedOut, in the store, so a sign-out made on
// one server is honoured by every server sharing the store, and survives restarts.
type SignOuts interface {
	SignOut(ctx context.Context, session string, until time.Time) error
	SignedOut(ctx context.Context, session string) (bool, error)
}

// signOutKey names a session by a hash of its cookie, never the cookie itself.
func signOutKey(cookie string) string {
	h := sha256.Sum256([]byte(cookie))
	return hex.EncodeToString(h[:])
}

// importSignOuts moves the sign-outs that servers before the cluster work kept in a file
// of their own (lines "<hash> <unix expiry>") into SignOuts, then removes the file. Lines
// torn by a crash and sign-outs that have expired are dropped.
func importSignOuts(ctx context.Context, path string, to SignOuts, now time.Time) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for line := range strings.Lines(string(data)) {
		key, exp, ok := strings.Cut(strings.TrimSpace(line), " ")
		sec, err := strconv.ParseInt(exp, 10, 64)
		if !ok || err != nil || len(key) != 64 {
			continue
		}
		if t := time.Unix(sec, 0); t.After(now) {
			if err := to.SignOut(ctx, key, t); err != nil {
				return err
			}
		}
	}
	return os.Remove(path)
}

// Failed sign-ins per client address: after signinFailures within signinWindow, sign-in
// from that address is refused until the oldest of them is signinWindow old. Secrets are
// long and random, so this is not what keeps them safe; it keeps a script from trying
// thousands a second, and keeps the log of failures readable.
const (
	signinFailures = 10
	signinWindow   = 5 * time.Minute
)

// signinLimit holds the recent failed sign-ins per client address (in memory: a restart
// forgets them). Behind a proxy every client has the proxy's address and shares one limit.
type signinLimit struct {
	mu       sync.Mutex
	failures map[string][]time.Time // address -> times of its failures within the window, oldest first
}

// wait is how long addr must wait before it may try again; 0 if it may now.
func (l *signinLimit) wait(addr string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.recent(addr, now)
	if len(f) < signinFailures {
		return 0
	}
	return f[len(f)-signinFailures].Add(signinWindow).Sub(now)
}

func (l *signinLimit) fail(addr string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failures == nil {
		l.failures = map[string][]time.Time{}
	}
	for a := range l.failures { // forget addresses whose failures are all old
		l.recent(a, now)
	}
	l.failures[addr] = append(l.recent(addr, now), now)
}

// recent drops addr's failures older than the window and returns the rest. Caller holds mu.
func (l *signinLimit) recent(addr string, now time.Time) []time.Time {
	f := l.failures[addr]
	i := 0
	for i < len(f) && now.Sub(f[i]) >= signinWindow {
		i++
	}
	if f = f[i:]; len(f) == 0 {
		delete(l.failures, addr)
		return nil
	}
	l.failures[addr] = f
	return f
}

// flashMAC signs a success message carried in a redirect, so that a link cannot put its own
// text in the console's success banner.
func (s *session) flashMAC(msg string) string {
	return mac(s.secret, "opencen-console-flash", s.cookie, msg)
}

func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: value, Path: "/console", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.secure || r.TLS != nil})
}
