package model

import (
	"errors"
	"strings"
	"testing"

	"opencen/internal/apierr"
)

func code(err error) string {
	var e *apierr.Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err != nil {
		return "?" + err.Error()
	}
	return ""
}

func TestNameRules(t *testing.T) {
	for _, tc := range []struct {
		rule  NameRule
		value string
		want  string
	}{
		{CBNName, "", ""},
		{CBNName, strings.Repeat("名", 128), ""},
		{CBNName, strings.Repeat("a", 129), "InvalidName"},
		{CBNName, "HTTPS://x", "InvalidName"},
		{CBNName, "a http://x", ""},
		{CBNDescription, strings.Repeat("a", 256), ""},
		{CBNDescription, strings.Repeat("a", 257), "InvalidName"},
		{VPCName, strings.Repeat("a", 101), "InvalidName"},
	} {
		if got := code(tc.rule.Check("Name", tc.value)); got != tc.want {
			t.Errorf("%d chars %.10q: got %q want %q", len(tc.value), tc.value, got, tc.want)
		}
	}
}

func TestTagRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		tags []Tag
		want string
	}{
		{"ok", []Tag{{"k", "v"}, {"k2", ""}}, ""},
		{"empty key", []Tag{{"", "v"}}, "InvalidTagKey"},
		{"key 64", []Tag{{strings.Repeat("k", 64), ""}}, ""},
		{"key 65", []Tag{{strings.Repeat("k", 65), ""}}, "InvalidTagKey"},
		{"value 128", []Tag{{"k", strings.Repeat("v", 128)}}, ""},
		{"value 129", []Tag{{"k", strings.Repeat("v", 129)}}, "InvalidTagValue"},
		{"acs key", []Tag{{"ACS:x", ""}}, "InvalidTagKey"},
		{"aliyun value", []Tag{{"k", "aliyun-x"}}, "InvalidTagValue"},
		{"http in value", []Tag{{"k", "see http://x"}}, "InvalidTagValue"},
		{"duplicate", []Tag{{"k", "1"}, {"k", "2"}}, "InvalidTagKey"},
		{"21 tags", make21(), "InvalidTag"},
	} {
		if got := code(CheckTags("Tag", tc.tags)); got != tc.want {
			t.Errorf("%s: got %q want %q", tc.name, got, tc.want)
		}
	}
}

func make21() []Tag {
	var out []Tag
	for i := range 21 {
		out = append(out, Tag{Key: strings.Repeat("k", i+1)})
	}
	return out
}

func TestTRCidrRules(t *testing.T) {
	for _, tc := range []struct{ cidr, want string }{
		{"192.168.0.0/16", ""},
		{"10.1.2.0/24", ""},
		{"10.0.0.0/15", "InvalidCidr"},
		{"10.1.2.0/25", "InvalidCidr"},
		{"10.1.2.1/24", "InvalidCidr"},
		{"100.64.0.0/16", "InvalidCidr"},
		{"100.127.255.0/24", "InvalidCidr"},
		{"224.1.0.0/16", "InvalidCidr"},
		{"127.0.0.0/16", "InvalidCidr"},
		{"169.254.1.0/24", "InvalidCidr"},
		{"fd00::/64", "InvalidCidr"},
		{"nonsense", "InvalidCidr"},
	} {
		_, err := ParseTRCidr("Cidr", tc.cidr)
		if got := code(err); got != tc.want {
			t.Errorf("%s: got %q want %q", tc.cidr, got, tc.want)
		}
	}
}

func TestTagEditing(t *testing.T) {
	have := []Tag{{"a", "1"}, {"b", "2"}}
	got := MergeTags(have, []Tag{{"b", "3"}, {"c", ""}})
	if len(got) != 3 || got[1].Value != "3" || got[2].Key != "c" || have[1].Value != "2" {
		t.Fatalf("MergeTags: %v (input %v)", got, have)
	}
	if got := RemoveTags(have, []string{"a", "zz"}, false); len(got) != 1 || got[0].Key != "b" {
		t.Fatalf("RemoveTags: %v", got)
	}
	if RemoveTags(have, nil, true) != nil {
		t.Fatal("RemoveTags all")
	}
	if !MatchTags(have, []Tag{{"a", ""}}) || MatchTags(have, []Tag{{"a", "2"}}) || !MatchTags(have, nil) {
		t.Fatal("MatchTags")
	}
}

func TestIDsAndTimes(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewID(KindCEN)
		if len(id) != len("cen-")+18 || !strings.HasPrefix(id, "cen-") || seen[id] {
			t.Fatalf("bad or repeated ID %q", id)
		}
		seen[id] = true
	}
	if !strings.HasPrefix(NewID(KindRouteTable), "vtb-") || !strings.HasPrefix(NewID(KindTR), "tr-") {
		t.Fatal("prefixes")
	}
}
