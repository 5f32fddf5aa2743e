package console

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"opencen/internal/model"
)

// dig follows keys through generic JSON (maps); nil when a key is missing.
func dig(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// str renders a JSON scalar as text ("" for nil).
func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	}
	return fmt.Sprint(v)
}

// choices are the product page's values for the selects (model is their one source).
var choices = map[string][]string{
	"IkeVersion": model.IkeVersions, "IkeMode": model.IkeModes, "EncAlg": model.EncAlgs,
	"AuthAlg": model.AuthAlgs, "IkePfs": model.IkeDHGroups, "IpsecPfs": model.PfsGroups,
	"Direction": {"RegionIn", "RegionOut"}, "MapResult": {"Permit", "Deny"}, "MatchMode": {"Include", "Complete"},
	"CommunityOp": {"Additive", "Replace"}, "Role": model.Roles,
}

var funcs = template.FuncMap{
	"str": func(v any, path ...string) string { return str(dig(v, path...)) },
	"items": func(v any, path ...string) []any {
		items, _ := dig(v, path...).([]any)
		return items
	},
	"choices": func(name string) []string { return choices[name] },
	// field is the current value of a form field.
	"field": func(f url.Values, name string) string { return f.Get(name) },
	"checked": func(f url.Values, name, value string) template.HTMLAttr {
		if slices.Contains(f[name], value) {
			return "checked"
		}
		return ""
	},
	"selected": func(f url.Values, name, value string) template.HTMLAttr {
		if f.Get(name) == value {
			return "selected"
		}
		return ""
	},
	// tagRows numbers the rows of the tag fields.
	"tagRows": func() []int {
		out := make([]int, tagRows)
		for i := range out {
			out[i] = i + 1
		}
		return out
	},
	// tunnelNums numbers a dual-tunnel connection's tunnels; tf names a tunnel's field;
	// defaultRole is a tunnel's role unless chosen otherwise.
	"tunnelNums":  func() []int { return []int{1, 2} },
	"tf":          tunnelField,
	"defaultRole": func(n int) string { return model.DefaultTunnel(n).Role },
	"tagKey":      tagKey,
	"tagValue":    tagValue,
	"statusClass": statusClass,
	// args builds the argument map of the field templates from key/value pairs.
	"args": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			if k, ok := kv[i].(string); ok {
				m[k] = kv[i+1]
			}
		}
		return m
	},
	// fid is a field's element ID (dots are awkward in CSS selectors).
	"fid": func(name string) string { return "f-" + strings.NewReplacer(".", "-").Replace(name) },
	// qs builds a query string (typed as a URL so it is not escaped again).
	"qs": func(kv ...string) template.URL {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] != "" {
				v.Set(kv[i], kv[i+1])
			}
		}
		return template.URL(v.Encode())
	},
}

// statusClass picks the badge colour of a status word.
func statusClass(s string) string {
	switch s {
	case "Active", "Attached", "Available", "attached", "ipsec_sa_established", "success", "done":
		return "ok"
	case "Creating", "Attaching", "Associating", "Enabling", "Modifying", "Updating", "running", "pending",
		"init", "attaching", "detaching", "updating", "ike_sa_established", "Deleting", "Detaching", "Dissociating", "Disabling":
		return "busy"
	case "":
		return "none"
	}
	return "bad"
}

// tagRows is how many tag rows the forms offer.
const tagRows = 5

func tagKey(i int) string   { return "Tags." + strconv.Itoa(i) + ".Key" }
func tagValue(i int) string { return "Tags." + strconv.Itoa(i) + ".Value" }
