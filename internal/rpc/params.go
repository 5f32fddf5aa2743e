// Package rpc implements Alibaba Cloud's RPC protocol: parameter decoding, signatures and the signed client.
package rpc

import (
	"encoding/json"
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

// Array parameters. A list (Name.1, Name.2 ...) or a list of structs (Name.1.Field ...)
// arrives in one of two forms, and every reader of one takes both: flattened, as the SDKs
// and Terraform send it, or as one parameter holding a JSON array, as the aliyun CLI sends
// an array parameter (--TunnelOptionsSpecification '[{...},{...}]') and the new SDKs send
// their "shrink" parameters. Nothing is dropped silently: a value that is not a JSON array,
// an element of the wrong shape, or both forms at once is an Invalid{Name} error.

// List returns the repeat list Name.1, Name.2, ... ordered by index (gaps are skipped, keys
// whose suffix is not a plain positive decimal index are ignored, a struct element
// Name.N.Field is refused), or the elements of the JSON array Name holds.
func (p Params) List(name string) ([]string, error) { return p.list(name, name) }

// list reads the list stored under key, naming it display in errors.
func (p Params) list(key, display string) ([]string, error) {
	arr, isJSON, err := p.jsonArray(key, display)
	if err != nil {
		return nil, err
	}
	if !isJSON {
		if k, ok := p.structuredElement(key); ok {
			return nil, apierr.Invalid(display, "%s is a list of values, not of structs; %s cannot be given.", display, display+k[len(key):])
		}
		items := p.listIndexed(key)
		if len(items) == 0 {
			return nil, nil
		}
		out := make([]string, len(items))
		for i, it := range items {
			out[i] = it.value
		}
		return out, nil
	}
	out := make([]string, 0, len(arr))
	for i, el := range arr {
		s, ok := jsonScalar(el)
		if !ok {
			return nil, apierr.Invalid(display, "%s.%d must be a string or a number, got %s.", display, i+1, jpDescribe(el))
		}
		out = append(out, s)
	}
	return out, nil
}

// jsonArray decodes the value of key itself when one is given: it must be a JSON array,
// and the flattened form must not be given as well. An empty value and JSON null are "not
// given": alibaba-cloud-sdk-go sends null for an array parameter left unset.
func (p Params) jsonArray(key, display string) ([]any, bool, error) {
	raw, ok := p[key]
	if !ok || strings.TrimSpace(raw) == "" {
		return nil, false, nil
	}
	doc, err := decodeJSONDoc(raw)
	if err == nil && doc == nil {
		return nil, false, nil
	}
	if p.hasFlattened(key) {
		return nil, false, apierr.Invalid(display, "Give %s either flattened (%s.1, %s.2, ...) or as one JSON array, not both.", display, display, display)
	}
	arr, isArray := doc.([]any)
	if err != nil || !isArray {
		return nil, false, apierr.Invalid(display, "%s must be given flattened (%s.1, %s.2, ...) or as a JSON array such as [\"a\",\"b\"] or [{\"Key\":\"k\"}]; got %q.", display, display, display, raw)
	}
	return arr, true, nil
}

// structuredElement finds a key Name.N.Field: a struct where a list of values is read.
func (p Params) structuredElement(key string) (string, bool) {
	prefix := key + "."
	for k := range p {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		if num, _, ok := strings.Cut(rest, "."); ok {
			if _, ok := parseListIndex(num); ok {
				return k, true
			}
		}
	}
	return "", false
}

// hasFlattened reports whether any key Name.<something> is given.
func (p Params) hasFlattened(key string) bool {
	prefix := key + "."
	for k := range p {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// jsonScalar renders a JSON scalar as the text a flattened parameter would carry.
func jsonScalar(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
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

// Item is one element of a list of structs. Name names it in errors ("Tag.2"); Fields
// holds its fields by relative name, flattened whichever form the request used: "Key",
// "TunnelIkeConfig.Psk", "Value.1".
type Item struct {
	Name   string
	Fields Params
}

// Get returns a field ("" when absent).
func (it Item) Get(field string) string { return it.Fields[field] }

// Bool reads a boolean field as Params.Bool does, naming it in full in errors.
func (it Item) Bool(field string) (v, set bool, err error) {
	s, ok := it.Fields[field]
	return parseBool(it.Name+"."+field, s, ok)
}

// List reads a list field (Value.1, Value.2 ... or a JSON array).
func (it Item) List(field string) ([]string, error) {
	return it.Fields.list(field, it.Name+"."+field)
}

// Objects returns the list of structs Name.N.Field... ordered by N, or the objects of the
// JSON array Name holds, each flattened the same way (nested objects as Field.Sub, nested
// arrays as Field.1).
func (p Params) Objects(name string) ([]Item, error) {
	arr, isJSON, err := p.jsonArray(name, name)
	if err != nil {
		return nil, err
	}
	if !isJSON {
		idx := p.objectsIndexed(name)
		if len(idx) == 0 {
			return nil, nil
		}
		out := make([]Item, len(idx))
		for i, o := range idx {
			out[i] = Item{Name: name + "." + strconv.Itoa(o.n), Fields: o.obj}
		}
		return out, nil
	}
	out := make([]Item, 0, len(arr))
	for i, el := range arr {
		it := Item{Name: name + "." + strconv.Itoa(i+1), Fields: Params{}}
		obj, ok := el.(map[string]any)
		if !ok {
			return nil, apierr.Invalid(name, "%s must be a JSON object, got %s.", it.Name, jpDescribe(el))
		}
		if err := flattenJSON(name, it.Name, "", obj, it.Fields); err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, nil
}

// flattenJSON writes v into out under prefix as the flattened form would carry it. param
// is the request parameter (for the error code), at names the value in messages.
func flattenJSON(param, at, prefix string, v any, out Params) error {
	join := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	switch x := v.(type) {
	case nil:
		return nil // null: not given
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys) // the first error does not depend on map order
		for _, k := range keys {
			if k == "" || strings.Contains(k, ".") {
				return apierr.Invalid(param, "%s has a field named %q; field names are non-empty and have no dots.", at, k)
			}
			if err := flattenJSON(param, at+"."+k, join(k), x[k], out); err != nil {
				return err
			}
		}
		return nil
	case []any:
		for i, el := range x {
			n := strconv.Itoa(i + 1)
			if err := flattenJSON(param, at+"."+n, join(n), el, out); err != nil {
				return err
			}
		}
		return nil
	}
	s, ok := jsonScalar(v)
	if !ok {
		return apierr.Invalid(param, "%s has a value of an unexpected kind: %s.", at, jpDescribe(v))
	}
	out[prefix] = s
	return nil
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
	return parseBool(name, s, ok)
}

func parseBool(name, s string, present bool) (v bool, set bool, err error) {
	if !present || s == "" {
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
