package model

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"opencen/internal/apierr"
)

// SafeID reports whether an ID can be used as is where the data plane names things after
// it (charon connection and child names, swanctl sections, run directories, BGP neighbor
// IDs): 1 to 64 letters, digits, '-', '_' or '.'. Every ID OpenCEN makes is one.
func SafeID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r == '-' || r == '_' || r == '.' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')) {
			return false
		}
	}
	return true
}

// NameRule is a length range for names and descriptions of one product.
type NameRule struct{ Max int }

// CBN and VPC name/description rules (api-reference section 4).
var (
	CBNName        = NameRule{Max: 128}
	CBNDescription = NameRule{Max: 256}
	VPCName        = NameRule{Max: 100}
	VPCDescription = NameRule{Max: 100}
	// The VPC product's own resources (VPC, vSwitch) take longer names.
	NetworkName        = NameRule{Max: 128}
	NetworkDescription = NameRule{Max: 256}
)

// Check validates an optional name or description: empty, or 1..Max characters not
// starting with http:// or https://.
func (r NameRule) Check(param, v string) error {
	if v == "" {
		return nil
	}
	if n := utf8.RuneCountInString(v); n > r.Max {
		return apierr.Invalid(param, "%s must be 1 to %d characters long; got %d.", param, r.Max, n)
	}
	if hasURLPrefix(v) {
		return apierr.Invalid(param, "%s must not start with http:// or https://.", param)
	}
	return nil
}

// CheckOpt checks an optional new value (nil: not given).
func (r NameRule) CheckOpt(param string, v *string) error {
	if v == nil {
		return nil
	}
	return r.Check(param, *v)
}

func hasURLPrefix(v string) bool {
	l := strings.ToLower(v)
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://")
}

// MaxTags is the most tags a resource, or one request, may carry.
const MaxTags = 20

// CheckTags validates tags as given in a request (param is "Tag" or "Tags").
func CheckTags(param string, tags []Tag) error {
	if len(tags) > MaxTags {
		return apierr.Invalid(param, "At most %d tags may be given; got %d.", MaxTags, len(tags))
	}
	seen := map[string]bool{}
	for i, t := range tags {
		kp := fmt.Sprintf("%s.%d.Key", param, i+1)
		vp := fmt.Sprintf("%s.%d.Value", param, i+1)
		if t.Key == "" {
			return apierr.Invalid(kp, "%s must not be empty; a tag key is 1 to 64 characters.", kp)
		}
		if err := checkTagText(kp, t.Key, 64); err != nil {
			return err
		}
		if err := checkTagText(vp, t.Value, 128); err != nil {
			return err
		}
		if seen[t.Key] {
			return apierr.Invalid(kp, "Tag key %q is given twice.", t.Key)
		}
		seen[t.Key] = true
	}
	return nil
}

func checkTagText(param, v string, max int) error {
	if n := utf8.RuneCountInString(v); n > max {
		return apierr.Invalid(param, "%s must be at most %d characters long; got %d.", param, max, n)
	}
	l := strings.ToLower(v)
	if strings.HasPrefix(l, "acs:") || strings.HasPrefix(l, "aliyun") {
		return apierr.Invalid(param, "%s must not start with \"acs:\" or \"aliyun\".", param)
	}
	if strings.Contains(l, "http://") || strings.Contains(l, "https://") {
		return apierr.Invalid(param, "%s must not contain \"http://\" or \"https://\".", param)
	}
	return nil
}

// MergeTags returns existing tags with add applied (same key: value replaced).
func MergeTags(existing, add []Tag) []Tag {
	out := append([]Tag(nil), existing...)
	for _, a := range add {
		replaced := false
		for i := range out {
			if out[i].Key == a.Key {
				out[i].Value = a.Value
				replaced = true
			}
		}
		if !replaced {
			out = append(out, a)
		}
	}
	return out
}

// RemoveTags drops tags by key; all=true drops every tag.
func RemoveTags(existing []Tag, keys []string, all bool) []Tag {
	if all {
		return nil
	}
	drop := map[string]bool{}
	for _, k := range keys {
		drop[k] = true
	}
	var out []Tag
	for _, t := range existing {
		if !drop[t.Key] {
			out = append(out, t)
		}
	}
	return out
}

// MatchTags reports whether have contains every filter tag (an empty filter value
// matches any value of that key).
func MatchTags(have, filter []Tag) bool {
	for _, f := range filter {
		ok := false
		for _, h := range have {
			if h.Key == f.Key && (f.Value == "" || h.Value == f.Value) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// TR CIDR rules: /16 to /24, at most 5 per TR, outside the reserved ranges.
const MaxTRCidrs = 5

var trCidrForbidden = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("224.0.0.0/4"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"),
}

// ParseTRCidr validates a transit-router CIDR block.
func ParseTRCidr(param, v string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(v)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, apierr.Invalid(param, "%s must be an IPv4 CIDR block such as 192.168.10.0/24; got %q.", param, v)
	}
	if p.Masked() != p {
		return netip.Prefix{}, apierr.Invalid(param, "%s %q has host bits set; did you mean %s?", param, v, p.Masked())
	}
	if p.Bits() < 16 || p.Bits() > 24 {
		return netip.Prefix{}, apierr.Invalid(param, "%s must have a mask from /16 to /24; got /%d.", param, p.Bits())
	}
	for _, f := range trCidrForbidden {
		if f.Overlaps(p) {
			return netip.Prefix{}, apierr.Invalid(param, "%s %s overlaps the reserved range %s; 100.64.0.0/10, 224.0.0.0/4, 127.0.0.0/8 and 169.254.0.0/16 are not allowed.", param, p, f)
		}
	}
	return p, nil
}
