package rpc

import (
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"
)

// appendJSON encodes a response without reflection for the types handlers build
// (objects, lists, strings, numbers, booleans); anything else falls back to
// encoding/json. Keys are sorted, as encoding/json does, so answers are stable.
// Responses are the hot path of list calls, where reflective map encoding dominated.
func appendJSON(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendString(b, x), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case Object:
		return appendObject(b, x)
	case []Object:
		return appendList(b, x)
	case []any:
		return appendList(b, x)
	case []string:
		return appendList(b, x)
	case []int64:
		return appendList(b, x)
	case map[string]int:
		o := make(Object, len(x))
		for k, n := range x {
			o[k] = n
		}
		return appendObject(b, o)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, raw...), nil
}

func appendObject(b []byte, o Object) ([]byte, error) {
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	var err error
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		if b, err = appendJSON(b, o[k]); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

func appendList[T any](b []byte, l []T) ([]byte, error) {
	b = append(b, '[')
	var err error
	for i, v := range l {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = appendJSON(b, v); err != nil {
			return b, err
		}
	}
	return append(b, ']'), nil
}

const hexDigits = "0123456789abcdef"

// appendString quotes s as JSON: control characters, quote, backslash and the JavaScript
// line separators escaped, invalid UTF-8 replaced by U+FFFD (as encoding/json does),
// HTML characters left alone.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	// Fast path: most values (IDs, names, CIDRs) need no escaping.
	plain := 0
	for plain < len(s) && s[plain] >= 0x20 && s[plain] < utf8.RuneSelf && s[plain] != '"' && s[plain] != '\\' {
		plain++
	}
	b = append(b, s[:plain]...)
	for i := plain; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
