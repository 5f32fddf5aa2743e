// Package apierr defines the Alibaba-style API error and the one place its HTTP status is decided.
package apierr

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"opencen/internal/store"
)

// Error is an error the API answers with: an Alibaba error Code and a Message saying what to fix.
type Error struct {
	Code    string
	Message string
	// Status overrides the status derived from Code; zero means derive it.
	Status int
	// Param names the request parameter at fault (e.g. "IkeConfig.Psk", "Tags.1.Key") when
	// one is; it is not part of the wire answer, the console uses it to place the message
	// next to its field.
	Param string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// HTTPStatus is the single mapping from error codes to HTTP statuses.
func (e *Error) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	return StatusFor(e.Code)
}

// StatusFor maps a Code to its HTTP status: 404 for *.NotFound, 403 for authentication and
// permission, 5xx for server faults, 400 for everything else (validation and state).
func StatusFor(code string) int {
	switch {
	case strings.HasSuffix(code, ".NotFound"):
		return http.StatusNotFound
	case code == "InternalError":
		return http.StatusInternalServerError
	case code == "ServiceUnavailable":
		return http.StatusServiceUnavailable
	case forbidden[code] || strings.HasPrefix(code, "Forbidden") || strings.HasPrefix(code, "InvalidSecurityToken."):
		return http.StatusForbidden
	}
	return http.StatusBadRequest
}

var forbidden = map[string]bool{
	"SignatureDoesNotMatch":       true,
	"IncompleteSignature":         true,
	"InvalidAccessKeyId.Inactive": true,
	"SignatureNonceUsed":          true,
	"InvalidTimeStamp.Expired":    true,
	"InvalidTimeStamp.Format":     true,
	"InvalidSignatureMethod":      true,
	"UnsupportedHTTPMethod":       true,
	"NoPermission":                true,
}

// New makes an error with a formatted message. Text arguments (strings, byte slices,
// errors) longer than MaxEcho bytes are clipped: they are mostly the client's own input, and
// repeating megabytes of it back would turn one request into a large answer. Server-side
// text that may be longer (lists of allowed values) is passed as Text.
func New(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, clipArgs(args)...)}
}

// MaxEcho is how many bytes of one argument an error message repeats.
const MaxEcho = 128

// Text is server-side text a message may repeat in full (never clipped).
type Text string

// Clip returns s when it is at most MaxEcho bytes, else its first MaxEcho bytes (cut at a
// UTF-8 boundary) followed by "..." and s's length.
func Clip(s string) string {
	if len(s) <= MaxEcho {
		return s
	}
	cut := MaxEcho
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "...(" + strconv.Itoa(len(s)) + " bytes)"
}

func clipArgs(args []any) []any {
	var out []any
	for i, a := range args {
		var s string
		switch v := a.(type) {
		case string:
			s = v
		case []byte:
			s = string(v)
		case error:
			s = v.Error()
		default:
			continue
		}
		if len(s) <= MaxEcho {
			continue
		}
		if out == nil {
			out = append([]any(nil), args...)
		}
		out[i] = Clip(s)
	}
	if out == nil {
		return args
	}
	return out
}

// From finds the API error in err's chain; a store that cannot be reached (etcd down, no
// leader, a call that ran out of time) becomes ServiceUnavailable, to be retried; anything
// else becomes InternalError. Both carry a generic message so internals are not leaked.
func From(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, store.ErrUnavailable) {
		return &Error{Code: "ServiceUnavailable", Message: "The request has failed due to a temporary failure of the server."}
	}
	return &Error{Code: "InternalError", Message: "The request processing has failed due to some unknown error."}
}

// Common constructors, so codes are spelled once. Parameter codes follow Alibaba's
// Missing{Name} / Invalid{Name} style, with the dots of list parameters dropped
// (Tag.1.Key -> InvalidTagKey) so a code names the parameter, not the request's index.

func Missing(param string) *Error {
	e := New("Missing"+codeName(param), "The input parameter %q that is mandatory for processing this request is not supplied.", param)
	e.Param = param
	return e
}

func Invalid(param, format string, args ...any) *Error {
	return &Error{Code: "Invalid" + codeName(param), Message: fmt.Sprintf(format, clipArgs(args)...), Param: param}
}

func codeName(param string) string {
	var b strings.Builder
	for _, part := range strings.Split(param, ".") {
		if part == "" || (part[0] >= '0' && part[0] <= '9') {
			continue
		}
		b.WriteString(part)
	}
	return b.String()
}
