package cms

import (
	"slices"
	"testing"
	"time"
)

func TestDimensions(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
		ok   bool
	}{
		{`{"instanceId":"vco-1"}`, []string{"vco-1"}, true},
		{`[{"instanceId":"vco-1"},{"instanceId":"vco-2"}]`, []string{"vco-1", "vco-2"}, true},
		{` {"instanceId":"vco-1","userId":"1"}`, []string{"vco-1"}, true},
		{``, nil, false},
		{`[]`, nil, false},
		{`vco-1`, nil, false},
		{`{"instanceId":""}`, nil, false},
		{`[{"tunnelId":"t"}]`, nil, false},
		{`{"instanceId":1}`, nil, false},
	} {
		got, err := dimensions(c.in)
		if (err == nil) != c.ok || !slices.Equal(got, c.want) {
			t.Errorf("dimensions(%q) = %q, %v; want %q (ok %v)", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestParseTime(t *testing.T) {
	want := time.Date(2026, 12, 7, 10, 30, 0, 0, time.UTC)
	for _, in := range []string{"1796639400000", "2026-12-07 10:30:00", "2026-12-07T10:30:00Z", "2026-12-07T18:30:00+08:00"} {
		if got, err := parseTime("StartTime", in); err != nil || !got.Equal(want) {
			t.Errorf("parseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"yesterday", "2026-12-07", "12/07/2026 10:30"} {
		if _, err := parseTime("StartTime", in); err == nil {
			t.Errorf("parseTime(%q) succeeded", in)
		}
	}
}

// FuzzDimensions: any Dimensions text is either refused or gives non-empty instance IDs.
func FuzzDimensions(f *testing.F) {
	for _, s := range []string{`{"instanceId":"vco-1"}`, `[{"instanceId":"a"},{"instanceId":"b"}]`, `[`, `{}`, `null`, `[null]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ids, err := dimensions(s)
		if err != nil {
			return
		}
		if len(ids) == 0 || slices.Contains(ids, "") {
			t.Fatalf("dimensions(%q) = %q without an error", s, ids)
		}
	})
}
