// Package rpc implements Alibaba Cloud's RPC protocol: parameter decoding, signatures and the signed client.
package rpc

import (
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"opencen/internal/apierr"
)

// Params is the flat parameter map of one RPC request: query and form body merged, keys as
// sent (case-sensitive), lists and structs flattened as Name.N / Name.N.Field / Name.Field.
type Params map[string]string

// Decode merges the URL query and, for form-encoded requests, the form body (body wins,
// though no SDK sends a key in both). A key repeated within one source keeps its first value.
// The body is passed in because the caller has already read it (it is needed for signing).
func Decode(r *http.Request, body []byte) (Params, error) {
	p := Params{}
	if r.URL != nil && r.URL.RawQuery != "" {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return nil, apierr.New("InvalidParameter", "The query string is not valid URL encoding: %v.", err)
		}
		for k, vs := range q {
			p[k] = vs[0]
		}
	}
	if len(body) > 0 && isFormContent(r.Header.Get("Content-Type")) {
		f, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, apierr.New("InvalidParameter", "The form body is not valid application/x-www-form-urlencoded data: %v.", err)
		}
		for k, vs := range f {
			p[k] = vs[0]
		}
	}
	return p, nil
}

func isFormContent(ct string) bool {
	if ct == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		// Be lenient with odd parameters (e.g. a bare "; charset"): the media type alone decides.
		mt = strings.ToLower(strings.TrimSpace(strings.SplitN(ct, ";", 2)[0]))
	}
	return mt == "application/x-www-form-urlencoded"
}

// Get returns a parameter and whether it was sent at all.
func (p Params) Get(name string) (string, bool) {
	v, ok := p[name]
	return v, ok
}

// List returns the repeat list Name.1, Name.2, ... ordered by index. Gaps are skipped and
// keys whose suffix is not a plain positive decimal index are ignored.
func (p Params) List(name string) []string {
	items := p.listIndexed(name)
	if len(items) == 0 {
		return nil
	}
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.value
	}
	return out
}

type indexedValue struct {
	n     int
	value string
}

func (p Params) listIndexed(name string) []indexedValue {
	prefix := name + "."
	var items []indexedValue
	for k, v := range p {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		if n, ok := parseListIndex(rest); ok {
			items = append(items, indexedValue{n, v})
		}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].n < items[j].n })
	return items
}

// parseListIndex accepts the indexes SDKs produce: 1, 2, ... without sign or leading zeros,
// so every index has exactly one spelling and two keys can never claim the same slot.
func parseListIndex(s string) (int, bool) {
	if s == "" || len(s) > 9 || s[0] == '0' {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// Objects returns the list of structs Name.N.Field... ordered by N, each with the "Name.N."
// prefix stripped, so Filter.1.Value.2 is key "Value.2" of the first object.
func (p Params) Objects(name string) []Params {
	idx := p.objectsIndexed(name)
	if len(idx) == 0 {
		return nil
	}
	out := make([]Params, len(idx))
	for i, o := range idx {
		out[i] = o.obj
	}
	return out
}

type indexedObject struct {
	n   int
	obj Params
}

func (p Params) objectsIndexed(name string) []indexedObject {
	prefix := name + "."
	byN := map[int]Params{}
	for k, v := range p {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		num, field, ok := strings.Cut(rest, ".")
		if !ok || field == "" {
			continue
		}
		n, ok := parseListIndex(num)
		if !ok {
			continue
		}
		o := byN[n]
		if o == nil {
			o = Params{}
			byN[n] = o
		}
		o[field] = v
	}
	out := make([]indexedObject, 0, len(byN))
	for n, o := range byN {
		out = append(out, indexedObject{n, o})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].n < out[j].n })
	return out
}

// Sub returns the nested struct parameter Name.Field... with "Name." stripped. It is never nil.
func (p Params) Sub(prefix string) Params {
	pre := prefix + "."
	out := Params{}
	for k, v := range p {
		if rest, ok := strings.CutPrefix(k, pre); ok && rest != "" {
			out[rest] = v
		}
	}
	return out
}

// Bool reads a boolean parameter. An absent or empty parameter is unset, not an error:
// clients that build requests from templates send empty values for options they do not use.
func (p Params) Bool(name string) (v bool, set bool, err error) {
	s, ok := p[name]
	if !ok || s == "" {
		return false, false, nil
	}
	switch {
	case strings.EqualFold(s, "true"):
		return true, true, nil
	case strings.EqualFold(s, "false"):
		return false, true, nil
	}
	return false, true, apierr.Invalid(name, "The parameter %s must be true or false, got %q.", name, s)
}

// Int reads an integer parameter and checks it lies in [min, max]. Absent or empty is unset.
func (p Params) Int(name string, min, max int64) (v int64, set bool, err error) {
	s, ok := p[name]
	if !ok || s == "" {
		return 0, false, nil
	}
	n, perr := strconv.ParseInt(s, 10, 64)
	if perr != nil || n < min || n > max {
		return 0, true, apierr.Invalid(name, "The parameter %s must be an integer from %d to %d, got %q.", name, min, max, s)
	}
	return n, true, nil
}
