package rpc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"opencen/internal/apierr"
)

// ParseJSONParam decodes a parameter whose value is itself a JSON document (IkeConfig,
// BgpConfig, HealthCheckConfig, TransitRouterCidrList, ...) into dst, a pointer to a struct or
// to a slice of structs. Clients disagree on the shape, so decoding is lenient:
//   - keys match the json tag name, else the Go field name, case-insensitively
//     (terraform sends "enable" on create and "Enable" on update);
//   - scalars may be quoted or native ("45104" or 45104, "true" or true), and a number or
//     boolean given for a string field becomes its text;
//   - null leaves a field unset, and so does an empty string for anything but a plain
//     (non-pointer) string field: older Terraform providers send whole blocks of ""
//     for fields they mean to leave alone; unknown keys are ignored.
//
// An empty raw value is a no-op. Errors are apierr errors naming the offending field.
func ParseJSONParam(param, raw string, dst any) error {
	if strings.TrimSpace(raw) == "" {
		return nil
	}
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("rpc.ParseJSONParam: dst must be a non-nil pointer, got %T", dst)
	}
	doc, err := decodeJSONDoc(raw)
	if err != nil {
		return apierr.Invalid(param, "The parameter %s is not valid JSON: %v.", param, err)
	}
	return jpAssign(rv.Elem(), doc, param)
}

// decodeJSONDoc parses one JSON value, keeping numbers as text so large integers and the
// caller's exact digits survive, and rejecting trailing data.
func decodeJSONDoc(raw string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return doc, nil
}

// jpAssign stores the decoded JSON value v into dst. path is the dotted location used in errors:
// the request parameter, then field names and 1-based array positions.
func jpAssign(dst reflect.Value, v any, path string) error {
	if v == nil {
		return nil // null: leave unset
	}
	if s, ok := v.(string); ok && s == "" && (jpBaseKind(dst.Type()) != reflect.String || dst.Kind() == reflect.Pointer) {
		return nil // "" for a non-string or optional field: clients send it for "not set"
	}
	switch dst.Kind() {
	case reflect.Pointer:
		elem := reflect.New(dst.Type().Elem())
		if err := jpAssign(elem.Elem(), v, path); err != nil {
			return err
		}
		dst.Set(elem)
		return nil

	case reflect.String:
		switch x := v.(type) {
		case string:
			dst.SetString(x)
		case json.Number:
			dst.SetString(x.String())
		case bool:
			dst.SetString(strconv.FormatBool(x))
		default:
			return jpTypeError(path, "a string", v)
		}
		return nil

	case reflect.Bool:
		switch x := v.(type) {
		case bool:
			dst.SetBool(x)
			return nil
		case string:
			if strings.EqualFold(x, "true") {
				dst.SetBool(true)
				return nil
			}
			if strings.EqualFold(x, "false") {
				dst.SetBool(false)
				return nil
			}
		}
		return jpTypeError(path, "a boolean (true or false)", v)

	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		bits := dst.Type().Bits()
		text, ok := jpScalarText(v)
		if ok {
			if n, err := strconv.ParseInt(text, 10, bits); err == nil {
				dst.SetInt(n)
				return nil
			}
		}
		lo, hi := -int64(1)<<(bits-1), int64(math.MaxInt64>>(64-bits))
		return jpTypeError(path, fmt.Sprintf("an integer from %d to %d", lo, hi), v)

	case reflect.Float32, reflect.Float64:
		text, ok := jpScalarText(v)
		if ok {
			if f, err := strconv.ParseFloat(text, dst.Type().Bits()); err == nil {
				dst.SetFloat(f)
				return nil
			}
		}
		return jpTypeError(path, "a number", v)

	case reflect.Struct:
		obj, ok := jpUnwrap(v).(map[string]any)
		if !ok {
			return jpTypeError(path, "a JSON object", v)
		}
		for _, f := range jpFieldsOf(dst.Type()) {
			val, found := jpLookup(obj, f)
			if !found {
				continue
			}
			if err := jpAssign(dst.Field(f.index), val, path+"."+f.name); err != nil {
				return err
			}
		}
		return nil

	case reflect.Slice:
		arr, ok := jpUnwrap(v).([]any)
		if !ok {
			return jpTypeError(path, "a JSON array", v)
		}
		out := reflect.MakeSlice(dst.Type(), len(arr), len(arr))
		for i, el := range arr {
			if err := jpAssign(out.Index(i), el, path+"."+strconv.Itoa(i+1)); err != nil {
				return err
			}
		}
		dst.Set(out)
		return nil
	}
	return fmt.Errorf("rpc.ParseJSONParam: unsupported field kind %s at %s", dst.Type(), path)
}

// jpUnwrap accepts an object or array that was itself sent as a JSON string (double-encoded),
// which some hand-written clients do.
func jpUnwrap(v any) any {
	s, ok := v.(string)
	if !ok {
		return v
	}
	t := strings.TrimSpace(s)
	if t == "" || (t[0] != '{' && t[0] != '[') {
		return v
	}
	if doc, err := decodeJSONDoc(t); err == nil {
		return doc
	}
	return v
}

func jpBaseKind(t reflect.Type) reflect.Kind {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind()
}

func jpScalarText(v any) (string, bool) {
	switch x := v.(type) {
	case json.Number:
		return x.String(), true
	case string:
		return strings.TrimSpace(x), true
	}
	return "", false
}

// jpTypeError names the full path (HealthCheckConfig.Enable) so the user sees both the
// request parameter and the field inside its JSON value.
func jpTypeError(path, want string, got any) error {
	return apierr.Invalid(path, "The value of %s must be %s, got %s.", path, want, jpDescribe(got))
}

func jpDescribe(v any) string {
	switch x := v.(type) {
	case map[string]any:
		return "a JSON object"
	case []any:
		return "a JSON array"
	case bool:
		return "the boolean " + strconv.FormatBool(x)
	case json.Number:
		return "the number " + jpClip(x.String())
	case string:
		return strconv.Quote(jpClip(x))
	}
	return fmt.Sprintf("%v", v)
}

func jpClip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

type jpField struct {
	index  int
	name   string // json tag name if any, else the Go field name
	goName string
}

var jpFieldCache sync.Map // reflect.Type -> []jpField

func jpFieldsOf(t reflect.Type) []jpField {
	if c, ok := jpFieldCache.Load(t); ok {
		if fields, ok := c.([]jpField); ok {
			return fields
		}
	}
	var fields []jpField
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name := sf.Name
		if tag, ok := sf.Tag.Lookup("json"); ok {
			tagName, _, _ := strings.Cut(tag, ",")
			if tagName == "-" {
				continue
			}
			if tagName != "" {
				name = tagName
			}
		}
		fields = append(fields, jpField{index: i, name: name, goName: sf.Name})
	}
	jpFieldCache.Store(t, fields)
	return fields
}

// jpLookup finds the value for a field: an exact key first, then a case-insensitive match.
// Among several case variants the smallest key wins, so the result never depends on map order.
func jpLookup(obj map[string]any, f jpField) (any, bool) {
	if v, ok := obj[f.name]; ok {
		return v, true
	}
	if v, ok := obj[f.goName]; ok {
		return v, true
	}
	var keys []string
	for k := range obj {
		if strings.EqualFold(k, f.name) || strings.EqualFold(k, f.goName) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, false
	}
	sort.Strings(keys)
	return obj[keys[0]], true
}
