package console

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"opencen/internal/rpc"
)

// A session is a cookie "<AccessKeyId>.<expiry unix>.<mac>", the MAC keyed by the access
// key's own secret. Nothing is kept on the server: a restart keeps people signed in, and
// disabling or deleting the key ends its sessions at the next request, because every
// request looks the key up again.
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
	return keyID + "." + exp + "." + mac(secret, "opencen-console-session", keyID, exp)
}

// verifySession checks a cookie value: its MAC against the key's current secret (the key
// must still exist and be active: lookup fails otherwise) and its expiry.
func verifySession(ctx context.Context, lookup rpc.KeyLookup, value string, now time.Time) (*session, error) {
	keyID, rest, ok := strings.Cut(value, ".")
	exp, sig, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || keyID == "" {
		return nil, errNoSession
	}
	unix, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || now.Unix() > unix {
		return nil, errNoSession
	}
	id, secret, err := lookup(ctx, keyID)
	if err != nil {
		return nil, errNoSession
	}
	if !hmac.Equal([]byte(sig), []byte(mac(secret, "opencen-console-session", keyID, exp))) {
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

func setCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: value, Path: "/console", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
}
