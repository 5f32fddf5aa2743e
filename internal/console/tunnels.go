package console

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"opencen/internal/connect"
	"opencen/internal/model"
)

// Dual-tunnel connections in the VPN console's create and edit forms. The form names each
// tunnel's fields as the API's parameters (TunnelOptionsSpecification.N.TunnelIkeConfig.Psk,
// ...), so the API's message about a field lands next to it, and sends them to the same
// actions the single-tunnel form uses (CreateVpnAttachment, ModifyVpnAttachmentAttribute).
//
// connect.VPN, the form's one mapping onto parameters, has no tunnels yet: the form's
// shared fields still go through it, and this file replaces its single-tunnel parameters
// with the tunnels.

// The form's tunnel modes (field TunnelMode).
const (
	singleTunnel = "single"
	dualTunnel   = "dual"
)

// tunnelField is the form field (and API parameter) of tunnel n's key.
func tunnelField(n int, key string) string {
	return model.TunnelsParam + "." + strconv.Itoa(n) + "." + key
}

// The fields of a tunnel: values sent as typed, switches (checkboxes) sent as true/false,
// and the BGP fields, sent while EnableTunnelsBgp is on.
var (
	tunnelValues = []string{"CustomerGatewayId", "Role",
		"TunnelIkeConfig.Psk", "TunnelIkeConfig.IkeVersion", "TunnelIkeConfig.IkeMode", "TunnelIkeConfig.IkeEncAlg",
		"TunnelIkeConfig.IkeAuthAlg", "TunnelIkeConfig.IkePfs", "TunnelIkeConfig.IkeLifetime", "TunnelIkeConfig.LocalId", "TunnelIkeConfig.RemoteId",
		"TunnelIpsecConfig.IpsecEncAlg", "TunnelIpsecConfig.IpsecAuthAlg", "TunnelIpsecConfig.IpsecPfs", "TunnelIpsecConfig.IpsecLifetime"}
	tunnelSwitches = []string{"EnableDpd", "EnableNatTraversal"}
	tunnelBgp      = []string{"TunnelBgpConfig.TunnelCidr", "TunnelBgpConfig.LocalBgpIp", "TunnelBgpConfig.LocalAsn"}
)

// singleOnly are the parameters of a single tunnel, which the API refuses for a dual-tunnel
// connection rather than drop them (and the connection's own DPD and NAT traversal, which
// a dual-tunnel connection sets per tunnel).
var singleOnly = []string{"CustomerGatewayId", "IkeConfig", "IpsecConfig", "BgpConfig", "EnableDpd", "EnableNatTraversal"}

// tunnelDefaults adds the tunnels' initial values to a form: the values the product page
// preselects for a tunnel (model.DefaultTunnel: IKEv2, SHA1, ...; tunnel 1 the master), sent
// explicitly like the single tunnel's. The form is a single-tunnel connection's until its
// TunnelMode is set to dual.
func tunnelDefaults(f url.Values) {
	f.Set("TunnelMode", singleTunnel)
	for n := 1; n <= 2; n++ {
		t := model.DefaultTunnel(n)
		set := func(key, v string) { f.Set(tunnelField(n, key), v) }
		set("Role", t.Role)
		set("TunnelIkeConfig.IkeVersion", t.Ike.IkeVersion)
		set("TunnelIkeConfig.IkeMode", t.Ike.IkeMode)
		set("TunnelIkeConfig.IkeEncAlg", t.Ike.IkeEncAlg)
		set("TunnelIkeConfig.IkeAuthAlg", t.Ike.IkeAuthAlg)
		set("TunnelIkeConfig.IkePfs", t.Ike.IkePfs)
		set("TunnelIkeConfig.IkeLifetime", strconv.FormatInt(t.Ike.IkeLifetime, 10))
		set("TunnelIpsecConfig.IpsecEncAlg", t.Ipsec.IpsecEncAlg)
		set("TunnelIpsecConfig.IpsecAuthAlg", t.Ipsec.IpsecAuthAlg)
		set("TunnelIpsecConfig.IpsecPfs", t.Ipsec.IpsecPfs)
		set("TunnelIpsecConfig.IpsecLifetime", strconv.FormatInt(t.Ipsec.IpsecLifetime, 10))
		set("TunnelBgpConfig.LocalAsn", strconv.FormatInt(t.Bgp.LocalAsn, 10))
		if t.EnableDpd {
			set("EnableDpd", "on")
		}
		if t.EnableNatTraversal {
			set("EnableNatTraversal", "on")
		}
	}
}

// tunnelValue is tunnel n's key in form f as the API takes it: switches as true/false, the
// pre-shared key as typed, the rest trimmed.
func tunnelValue(f url.Values, n int, key string) string {
	v := f.Get(tunnelField(n, key))
	switch {
	case key == "EnableDpd" || key == "EnableNatTraversal":
		return strconv.FormatBool(v == "on")
	case key == "TunnelIkeConfig.Psk":
		return v
	}
	return strings.TrimSpace(v)
}

// tunnelKeys are the keys of a tunnel the form sends: the BGP fields only with BGP on.
func tunnelKeys(bgp bool) []string {
	keys := append(append([]string{}, tunnelValues...), tunnelSwitches...)
	if bgp {
		keys = append(keys, tunnelBgp...)
	}
	return keys
}

// dualParams turns the shared fields' parameters p (connect.VPN's) into a dual-tunnel
// connection's CreateVpnAttachment: the single tunnel's parameters out, both tunnels of
// form f (every field set, with TunnelIndex) and EnableTunnelsBgp in.
func dualParams(p map[string]string, f url.Values) {
	for _, k := range singleOnly {
		delete(p, k)
	}
	bgp := f.Get("EnableTunnelsBgp") == "on"
	p["EnableTunnelsBgp"] = strconv.FormatBool(bgp)
	for n := 1; n <= 2; n++ {
		p[tunnelField(n, "TunnelIndex")] = strconv.Itoa(n)
		for _, k := range tunnelKeys(bgp) {
			if v := tunnelValue(f, n, k); v != "" {
				p[tunnelField(n, k)] = v
			}
		}
	}
}

// dualChanges adds to ModifyVpnAttachmentAttribute parameters p what form f changes of the
// tunnels shown in form old (the connection as it is, vcoForm): each changed field, with
// its tunnel's TunnelId (ids, by TunnelIndex), and EnableTunnelsBgp when it changes. It
// reports whether it added anything. A field the API cannot clear (it takes an empty value
// as not given) cannot be emptied in the form either.
func dualChanges(p map[string]string, f, old url.Values, ids map[int]string) (bool, error) {
	on := func(form url.Values) bool { return form.Get("EnableTunnelsBgp") == "on" }
	bgp := on(f)
	changed := false
	if bgp != on(old) {
		p["EnableTunnelsBgp"] = strconv.FormatBool(bgp)
		changed = true
	}
	for n := 1; n <= 2; n++ {
		touched := false
		for _, k := range tunnelKeys(bgp) {
			now, was := tunnelValue(f, n, k), tunnelValue(old, n, k)
			if now == was {
				continue
			}
			if now == "" {
				return false, &connect.FieldError{Field: tunnelField(n, k),
					Message: fmt.Sprintf("Tunnel %d's %s cannot be cleared; enter a value (it was %q).", n, k, was)}
			}
			p[tunnelField(n, k)] = now
			touched = true
		}
		if touched {
			p[tunnelField(n, "TunnelIndex")] = strconv.Itoa(n)
			if id := ids[n]; id != "" {
				p[tunnelField(n, "TunnelId")] = id
			}
			changed = true
		}
	}
	return changed, nil
}

// tunnelsOf are the tunnels of a DescribeVpnConnection answer (none for a single-tunnel
// connection).
func tunnelsOf(v map[string]any) []map[string]any {
	var out []map[string]any
	items, _ := dig(v, "TunnelOptionsSpecification", "TunnelOptions").([]any)
	for _, it := range items {
		if m, ok := it.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// dualForm sets form f's tunnel fields from a dual-tunnel connection's description v.
// It returns the tunnels' IDs by TunnelIndex.
func dualForm(f url.Values, v map[string]any) map[int]string {
	ids := map[int]string{}
	f.Set("TunnelMode", dualTunnel)
	if str(v["EnableTunnelsBgp"]) == "true" {
		f.Set("EnableTunnelsBgp", "on")
	} else {
		f.Del("EnableTunnelsBgp")
	}
	for _, t := range tunnelsOf(v) {
		n, err := strconv.Atoi(str(t["TunnelIndex"]))
		if err != nil || n < 1 || n > 2 {
			continue
		}
		ids[n] = str(t["TunnelId"])
		for _, k := range append(append([]string{}, tunnelValues...), tunnelBgp...) {
			obj, key, nested := strings.Cut(k, ".")
			var val any
			if nested {
				val = dig(t, obj, key)
			} else {
				val = t[k]
			}
			f.Set(tunnelField(n, k), str(val))
		}
		for _, k := range tunnelSwitches {
			if str(t[k]) == "true" {
				f.Set(tunnelField(n, k), "on")
			} else {
				f.Del(tunnelField(n, k))
			}
		}
	}
	return ids
}
