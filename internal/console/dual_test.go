package console_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"opencen/internal/api/cbn"
	"opencen/internal/api/vpc"
)

// formValues is what a browser submits of the form whose action is action in page body,
// untouched: text inputs' values, checked checkboxes and radios, selects' selected (else
// first) options; hidden sections count (hiding a field does not keep it from being sent).
func formValues(t *testing.T, body, action string) url.Values {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	attr := func(n *html.Node, key string) (string, bool) {
		for _, a := range n.Attr {
			if a.Key == key {
				return a.Val, true
			}
		}
		return "", false
	}
	var form *html.Node
	var find func(*html.Node)
	find = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "form" {
			if a, _ := attr(n, "action"); a == action && form == nil {
				form = n
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			find(c)
		}
	}
	find(doc)
	if form == nil {
		t.Fatalf("no form with action %s", action)
	}
	v := url.Values{}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			name, named := attr(n, "name")
			_, disabled := attr(n, "disabled")
			switch {
			case !named || disabled:
			case n.Data == "input":
				typ, _ := attr(n, "type")
				val, _ := attr(n, "value")
				_, checked := attr(n, "checked")
				switch typ {
				case "checkbox", "radio":
					if checked {
						v.Add(name, val)
					}
				case "submit", "button":
				default:
					v.Add(name, val)
				}
			case n.Data == "select":
				var first, chosen *html.Node
				var opts func(*html.Node)
				opts = func(o *html.Node) {
					if o.Type == html.ElementNode && o.Data == "option" {
						if first == nil {
							first = o
						}
						if _, sel := attr(o, "selected"); sel && chosen == nil {
							chosen = o
						}
					}
					for c := o.FirstChild; c != nil; c = c.NextSibling {
						opts(c)
					}
				}
				opts(n)
				if chosen == nil {
					chosen = first
				}
				if chosen != nil {
					val, _ := attr(chosen, "value")
					v.Add(name, val)
				}
			case n.Data == "textarea":
				if n.FirstChild != nil {
					v.Add(name, n.FirstChild.Data)
				} else {
					v.Add(name, "")
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(form)
	return v
}

const ts = "TunnelOptionsSpecification."

// tunnelsOf reads the tunnels of a DescribeVpnConnection answer by TunnelIndex.
func tunnelsOf(t *testing.T, v map[string]any) map[int]map[string]any {
	t.Helper()
	out := map[int]map[string]any{}
	items, _ := v["TunnelOptionsSpecification"].(map[string]any)["TunnelOptions"].([]any)
	for _, it := range items {
		m := it.(map[string]any)
		out[int(m["TunnelIndex"].(float64))] = m
	}
	if len(out) != 2 {
		t.Fatalf("tunnels: %v", v["TunnelOptionsSpecification"])
	}
	return out
}

func get(v map[string]any, path ...string) string {
	var cur any = v
	for _, k := range path {
		m, _ := cur.(map[string]any)
		cur = m[k]
	}
	s, _ := cur.(string)
	return s
}

// TestDualTunnelConnection walks the VPN console's create form in dual-tunnel mode, the
// connection page (both tunnels, their logs, the downloads) and the edit form, checking
// through the API that what the form said landed, and that refused input changes nothing.
func TestDualTunnelConnection(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount(t, "alice")
	cgw1 := a.call(t, vpc.Version, "CreateCustomerGateway", map[string]string{"RegionId": region, "IpAddress": "198.18.0.2", "Asn": "65010"})["CustomerGatewayId"].(string)
	cgw2 := a.call(t, vpc.Version, "CreateCustomerGateway", map[string]string{"RegionId": region, "IpAddress": "198.18.0.3", "Asn": "65010"})["CustomerGatewayId"].(string)
	b := e.browser(t)
	b.signIn(a)

	// The form starts single-tunnel, with the way to a dual-tunnel one; each mode's page
	// holds its own fields only.
	resp, body := b.get("/console/vpn/connections/new?region=" + region)
	wantStatus(t, "GET new connection", resp, body, http.StatusOK)
	single := formValues(t, body, "/console/vpn/connections/new")
	if single.Get("TunnelMode") != "single" || single.Get("IkeConfig.IkeVersion") != "ikev2" || single.Has(ts+"1.Role") {
		t.Errorf("the single-tunnel form: %v", single)
	}
	if !strings.Contains(body, `href="/console/vpn/connections/new?region=`+region+`&amp;tunnels=dual"`) {
		t.Error("the form offers no dual tunnel")
	}
	newPage := "/console/vpn/connections/new?region=" + region + "&tunnels=dual"
	resp, body = b.get(newPage)
	wantStatus(t, "GET new dual-tunnel connection", resp, body, http.StatusOK)
	form := formValues(t, body, "/console/vpn/connections/new")
	if form.Has("IkeConfig.Psk") || form.Has("CustomerGatewayId") {
		t.Errorf("the dual-tunnel form has the single tunnel's fields: %v", form)
	}
	// The page's preselected values for each tunnel: IKEv2, SHA1, tunnel 1 the master.
	for k, want := range map[string]string{"TunnelMode": "dual",
		ts + "1.Role": "master", ts + "2.Role": "slave", ts + "1.TunnelIkeConfig.IkeVersion": "ikev2", ts + "2.TunnelIkeConfig.IkeVersion": "ikev2",
		ts + "1.TunnelIkeConfig.IkeAuthAlg": "sha1", ts + "2.TunnelIpsecConfig.IpsecAuthAlg": "sha1", ts + "1.TunnelIkeConfig.IkeEncAlg": "aes",
		ts + "2.TunnelIkeConfig.IkePfs": "group2", ts + "1.TunnelIkeConfig.IkeLifetime": "86400", ts + "2.TunnelIpsecConfig.IpsecLifetime": "86400",
		ts + "1.EnableDpd": "on", ts + "2.EnableNatTraversal": "on", ts + "1.TunnelBgpConfig.LocalAsn": "45104", "EnableTunnelsBgp": ""} {
		if got := form.Get(k); got != want {
			t.Errorf("new form: %s = %q, want %q", k, got, want)
		}
	}

	form.Set("Name", "dual-dc")
	form.Set("EnableTunnelsBgp", "on")
	form.Set(ts+"1.CustomerGatewayId", cgw1)
	form.Set(ts+"2.CustomerGatewayId", cgw2)
	form.Set(ts+"1.TunnelIkeConfig.Psk", "tunnel-one-key")
	form.Set(ts+"2.TunnelIkeConfig.Psk", "tunnel two key") // refused: no spaces
	form.Set(ts+"2.TunnelIkeConfig.IkeEncAlg", "aes256")
	form.Set(ts+"2.TunnelIpsecConfig.IpsecPfs", "group14")
	form.Del(ts + "2.EnableDpd")
	form.Set(ts+"1.TunnelBgpConfig.TunnelCidr", "169.254.10.0/30")
	form.Set(ts+"1.TunnelBgpConfig.LocalBgpIp", "169.254.10.1")
	form.Set(ts+"2.TunnelBgpConfig.TunnelCidr", "169.254.20.0/30")
	form.Set(ts+"2.TunnelBgpConfig.LocalBgpIp", "169.254.20.1")
	form.Set("csrf", b.csrf(newPage))

	before := a.vpnConnectionCount(t)
	resp, body = b.post("/console/vpn/connections/new", form, "same")
	wantStatus(t, "POST a bad tunnel key", resp, body, http.StatusBadRequest)
	field := regexp.MustCompile(`<input id="f-TunnelOptionsSpecification-2-TunnelIkeConfig-Psk"[^>]*>`).FindString(body)
	if !strings.Contains(field, `aria-invalid="true"`) || !strings.Contains(field, `value="tunnel two key"`) {
		t.Errorf("tunnel 2's key is not marked invalid (or lost its value): %s", field)
	}
	if !strings.Contains(body, `id="f-TunnelOptionsSpecification-2-TunnelIkeConfig-Psk-err"`) {
		t.Error("no message next to tunnel 2's key")
	}
	if !strings.Contains(body, `name="TunnelMode" value="dual"`) || strings.Contains(body, `name="IkeConfig.Psk"`) {
		t.Error("the form forgot it was dual-tunnel")
	}
	form.Set(ts+"2.TunnelIkeConfig.Psk", "tunnel-two-key")
	form.Set(ts+"2.TunnelBgpConfig.TunnelCidr", "169.254.10.0/30")
	form.Set(ts+"2.TunnelBgpConfig.LocalBgpIp", "169.254.10.1")
	resp, body = b.post("/console/vpn/connections/new", form, "same")
	wantStatus(t, "POST equal BGP CIDRs", resp, body, http.StatusBadRequest)
	if !strings.Contains(body, "different TunnelBgpConfig.TunnelCidr") {
		t.Errorf("no message about the tunnels' BGP CIDRs:\n%s", body)
	}
	if after := a.vpnConnectionCount(t); after != before {
		t.Fatalf("VPN connections: %v before, %v after refused forms", before, after)
	}

	form.Set(ts+"2.TunnelBgpConfig.TunnelCidr", "169.254.20.0/30")
	form.Set(ts+"2.TunnelBgpConfig.LocalBgpIp", "169.254.20.1")
	resp, body = b.post("/console/vpn/connections/new", form, "same")
	wantStatus(t, "POST dual connection", resp, body, http.StatusSeeOther)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	vco := strings.TrimPrefix(loc.Path, "/console/vpn/connections/")
	if !strings.HasPrefix(vco, "vco-") {
		t.Fatalf("redirect to %s", loc)
	}
	v := a.call(t, vpc.Version, "DescribeVpnConnection", map[string]string{"RegionId": region, "VpnConnectionId": vco})
	if v["EnableTunnelsBgp"] != true || v["Name"] != "dual-dc" {
		t.Errorf("connection: EnableTunnelsBgp %v, Name %v", v["EnableTunnelsBgp"], v["Name"])
	}
	tun := tunnelsOf(t, v)
	for n, want := range map[int]map[string]string{
		1: {"Role": "master", "CustomerGatewayId": cgw1, "EnableDpd": "true", "EnableNatTraversal": "true", "Psk": "tunnel-one-key",
			"IkeVersion": "ikev2", "IkeEncAlg": "aes", "IkeAuthAlg": "sha1", "IpsecPfs": "group2", "TunnelCidr": "169.254.10.0/30", "LocalBgpIp": "169.254.10.1"},
		2: {"Role": "slave", "CustomerGatewayId": cgw2, "EnableDpd": "false", "EnableNatTraversal": "true", "Psk": "tunnel-two-key",
			"IkeVersion": "ikev2", "IkeEncAlg": "aes256", "IkeAuthAlg": "sha1", "IpsecPfs": "group14", "TunnelCidr": "169.254.20.0/30", "LocalBgpIp": "169.254.20.1"},
	} {
		got := map[string]string{"Role": get(tun[n], "Role"), "CustomerGatewayId": get(tun[n], "CustomerGatewayId"),
			"EnableDpd": get(tun[n], "EnableDpd"), "EnableNatTraversal": get(tun[n], "EnableNatTraversal"),
			"Psk": get(tun[n], "TunnelIkeConfig", "Psk"), "IkeVersion": get(tun[n], "TunnelIkeConfig", "IkeVersion"),
			"IkeEncAlg": get(tun[n], "TunnelIkeConfig", "IkeEncAlg"), "IkeAuthAlg": get(tun[n], "TunnelIkeConfig", "IkeAuthAlg"),
			"IpsecPfs": get(tun[n], "TunnelIpsecConfig", "IpsecPfs"), "TunnelCidr": get(tun[n], "TunnelBgpConfig", "TunnelCidr"),
			"LocalBgpIp": get(tun[n], "TunnelBgpConfig", "LocalBgpIp")}
		for k, w := range want {
			if got[k] != w {
				t.Errorf("tunnel %d %s = %q, want %q", n, k, got[k], w)
			}
		}
	}

	// The connection page, not attached yet: both tunnels, their logs, no downloads.
	page := "/console/vpn/connections/" + vco + "?region=" + region
	resp, body = b.get(page)
	wantStatus(t, "connection page", resp, body, http.StatusOK)
	for _, n := range []int{1, 2} {
		id := get(tun[n], "TunnelId")
		for _, want := range []string{`id="tunnel-` + id + `"`, "Logs of the " + get(tun[n], "Role") + " tunnel " + id} {
			if !strings.Contains(body, want) {
				t.Errorf("connection page lacks %q", want)
			}
		}
	}
	if strings.Contains(body, "/config?") {
		t.Error("downloads offered before the tunnels have gateway IPs")
	}

	// Attached: each tunnel's gateway IP and zone, and the downloads.
	cen := a.createCen(t, "c")
	tr := a.activeTR(t, cen)
	att := a.call(t, cbn.Version, "CreateTransitRouterVpnAttachment", map[string]string{"RegionId": region, "TransitRouterId": tr, "VpnId": vco})["TransitRouterAttachmentId"].(string)
	waitActive(t, "attachment "+att, func() []any {
		l, _ := a.call(t, cbn.Version, "ListTransitRouterVpnAttachments", map[string]string{"TransitRouterAttachmentId": att})["TransitRouterAttachments"].([]any)
		if len(l) == 1 && l[0].(map[string]any)["Status"] == "Attached" {
			l[0].(map[string]any)["Status"] = "Active"
		}
		return l
	})
	tun = tunnelsOf(t, a.call(t, vpc.Version, "DescribeVpnConnection", map[string]string{"RegionId": region, "VpnConnectionId": vco}))
	resp, body = b.get(page)
	wantStatus(t, "connection page", resp, body, http.StatusOK)
	for _, n := range []int{1, 2} {
		id, ip, zone := get(tun[n], "TunnelId"), get(tun[n], "InternetIp"), get(tun[n], "ZoneNo")
		row := regexp.MustCompile(`(?s)<tr id="tunnel-` + id + `">.*?</tr>`).FindString(body)
		for _, want := range []string{ip, zone, get(tun[n], "Role"), get(tun[n], "State"), get(tun[n], "Status"), get(tun[n], "TunnelBgpConfig", "TunnelCidr")} {
			if want == "" || !strings.Contains(row, want) {
				t.Errorf("tunnel %s's row lacks %q: %s", id, want, row)
			}
		}
		resp, conf := b.get("/console/vpn/connections/" + vco + "/config?" + url.Values{"region": {region}, "format": {"strongswan"}, "tunnel": {id}}.Encode())
		wantStatus(t, "download tunnel "+id, resp, conf, http.StatusOK)
		if !strings.Contains(conf, "remote_addrs = "+ip) || !strings.Contains(conf, "This tunnel is the "+get(tun[n], "Role")) ||
			!strings.Contains(resp.Header.Get("Content-Disposition"), id+"-swanctl.conf") {
			t.Errorf("download of tunnel %s:\n%s", id, conf)
		}
	}
	resp, conf := b.get("/console/vpn/connections/" + vco + "/config?" + url.Values{"region": {region}, "format": {"strongswan"}}.Encode())
	wantStatus(t, "download both tunnels", resp, conf, http.StatusOK)
	if !strings.Contains(conf, "remote_addrs = "+get(tun[1], "InternetIp")) || !strings.Contains(conf, "remote_addrs = "+get(tun[2], "InternetIp")) {
		t.Errorf("the strongSwan download lacks a tunnel:\n%s", conf)
	}

	// Edit: the form shows the tunnels; a change is sent for its tunnel only.
	editPage := "/console/vpn/connections/" + vco + "/edit?region=" + region
	resp, body = b.get(editPage)
	wantStatus(t, "edit page", resp, body, http.StatusOK)
	edit := formValues(t, body, "/console/vpn/connections/"+vco+"/edit")
	for k, want := range map[string]string{"TunnelMode": "dual", "EnableTunnelsBgp": "on", ts + "1.CustomerGatewayId": cgw1, ts + "2.CustomerGatewayId": cgw2,
		ts + "2.TunnelIkeConfig.Psk": "tunnel-two-key", ts + "2.TunnelIkeConfig.IkeEncAlg": "aes256", ts + "2.EnableDpd": "", ts + "1.EnableDpd": "on",
		ts + "1.Role": "master", ts + "2.TunnelBgpConfig.TunnelCidr": "169.254.20.0/30"} {
		if got := edit.Get(k); got != want {
			t.Errorf("edit form: %s = %q, want %q", k, got, want)
		}
	}
	edit.Set("csrf", b.csrf(editPage))
	resp, body = b.post("/console/vpn/connections/"+vco+"/edit", edit, "same")
	wantStatus(t, "save unchanged", resp, body, http.StatusSeeOther)
	if !strings.Contains(resp.Header.Get("Location"), "Nothing+to+save") {
		t.Errorf("saving an unchanged form: %s", resp.Header.Get("Location"))
	}
	edit.Set(ts+"1.TunnelIkeConfig.LocalId", "")
	resp, body = b.post("/console/vpn/connections/"+vco+"/edit", edit, "same")
	wantStatus(t, "clear a tunnel's LocalId", resp, body, http.StatusBadRequest)
	if !strings.Contains(body, `id="f-TunnelOptionsSpecification-1-TunnelIkeConfig-LocalId-err"`) {
		t.Errorf("no message next to tunnel 1's LocalId:\n%s", body)
	}
	edit.Set(ts+"1.TunnelIkeConfig.LocalId", get(tun[1], "TunnelIkeConfig", "LocalId"))
	edit.Set(ts+"1.Role", "slave")
	edit.Set(ts+"2.Role", "master")
	edit.Set(ts+"2.TunnelIpsecConfig.IpsecEncAlg", "aes192")
	edit.Set(ts+"1.EnableNatTraversal", "")
	resp, body = b.post("/console/vpn/connections/"+vco+"/edit", edit, "same")
	wantStatus(t, "save the tunnels", resp, body, http.StatusSeeOther)
	after := tunnelsOf(t, a.call(t, vpc.Version, "DescribeVpnConnection", map[string]string{"RegionId": region, "VpnConnectionId": vco}))
	for _, c := range []struct {
		n          int
		path       []string
		want, what string
	}{
		{1, []string{"Role"}, "slave", "role"}, {2, []string{"Role"}, "master", "role"},
		{2, []string{"TunnelIpsecConfig", "IpsecEncAlg"}, "aes192", "changed"}, {1, []string{"EnableNatTraversal"}, "false", "changed"},
		{1, []string{"TunnelIpsecConfig", "IpsecEncAlg"}, "aes", "untouched"}, {2, []string{"TunnelIkeConfig", "IkeEncAlg"}, "aes256", "untouched"},
		{1, []string{"TunnelIkeConfig", "Psk"}, "tunnel-one-key", "untouched"}, {2, []string{"TunnelIkeConfig", "Psk"}, "tunnel-two-key", "untouched"},
		{1, []string{"TunnelId"}, get(tun[1], "TunnelId"), "kept"}, {2, []string{"InternetIp"}, get(tun[2], "InternetIp"), "kept"},
	} {
		if got := get(after[c.n], c.path...); got != c.want {
			t.Errorf("after the edit, tunnel %d %v = %q, want %q (%s)", c.n, c.path, got, c.want, c.what)
		}
	}
}
