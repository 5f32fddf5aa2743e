package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestCheck(t *testing.T) {
	src := `package x

import "net/netip"

func f(m map[string]any, c chan any) {
	_ = netip.MustParseAddr("1.2.3.4")
	_ = m["k"].(string)
	s, ok := m["k"].(string)
	var v, ok2 = m["k"].(int)
	switch y := m["k"].(type) {
	case string:
		_ = y
	}
	if len(s) > 0 && ok && ok2 && v > 0 {
		panic("no")
	}
}
`
	path := filepath.Join(t.TempDir(), "x.go")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	found, err := check(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range found {
		got = append(got, f.what+": "+f.expr)
	}
	want := []string{`MustParse: netip.MustParseAddr("1.2.3.4")`, `unchecked type assertion: m["k"].(string)`, `panic: panic("no")`}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("found %q, want %q", got, want)
	}
}
