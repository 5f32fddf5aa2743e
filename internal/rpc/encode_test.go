package rpc

import (
	"bytes"
	"encoding/json"
	"testing"
)

// The fast encoder must produce what encoding/json (without HTML escaping) produces.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	cases := []any{
		Object{"b": 1, "a": "x", "c": []Object{{"k": true, "n": nil}}, "d": []string{}, "e": int64(-5), "f": int32(7)},
		Object{"s": "quote\" back\\ nl\n tab\t ctl\x01 <html>&amp; é 世界 \u2028 \xff bad"},
		Object{"list": []any{"a", 1, false, Object{}}, "ints": []int64{1, 2}, "q": map[string]int{"z": 1, "y": 2}},
		Object{"other": struct{ A int }{3}, "f": 1.5},
		[]Object{},
	}
	for _, v := range cases {
		got, err := appendJSON(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		if string(got) != string(bytes.TrimSuffix(want.Bytes(), []byte("\n"))) {
			t.Errorf("mismatch:\n got %s\nwant %s", got, want.Bytes())
		}
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("plain")
	f.Add("\x00\"\\\u2028\xff<>&é")
	f.Fuzz(func(t *testing.T, s string) {
		got := appendString(nil, s)
		want, _ := json.Marshal(s)
		var a, b string
		if err := json.Unmarshal(got, &a); err != nil {
			t.Fatalf("invalid JSON %q: %v", got, err)
		}
		json.Unmarshal(want, &b)
		if a != b {
			t.Fatalf("decodes to %q, encoding/json gives %q", a, b)
		}
	})
}
