// Package console_test drives the web console in Debian's chromium (playwright-core, see
// run.mjs) against a real `opencen server`, and checks through the API that every value a
// scenario typed landed.
package console_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"opencen/internal/rpc"
	"opencen/internal/testenv"
	"opencen/internal/testserver"
)

const (
	cbnV = "2017-09-12"
	vpcV = "2016-04-28"
)

// world is a server, its accounts and where the screenshots go.
type world struct {
	url        string
	serverLog  func() string
	alice, bob testserver.Account
	artifacts  string
	dir        string
}

// newWorld prepares the browser side; the caller starts a server and sets url, serverLog
// and the accounts.
func newWorld(t *testing.T) *world {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	testenv.RequireBrowser(t, dir)
	w := &world{dir: dir, artifacts: os.Getenv("OPENCEN_ARTIFACTS")}
	if w.artifacts == "" {
		w.artifacts = filepath.Join(dir, "artifacts")
	}
	return w
}

type user struct {
	ID     string `json:"id"`
	Key    string `json:"key"`
	Secret string `json:"secret"`
}

func (w *world) users() map[string]user {
	u := func(a testserver.Account) user { return user{a.AccountID, a.AccessKeyID, a.AccessKeySecret} }
	return map[string]user{"alice": u(w.alice), "bob": u(w.bob)}
}

// run runs one browser scenario and decodes its result into out.
func (w *world) run(t *testing.T, scenario string, input, out any) {
	t.Helper()
	cfg, _ := json.Marshal(map[string]any{"url": w.url, "artifacts": w.artifacts, "chromium": testenv.Chromium, "users": w.users(), "input": input})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "run.mjs", scenario)
	cmd.Dir = w.dir
	cmd.Env = append(os.Environ(), "OPENCEN_CONSOLE_TEST="+string(cfg))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var result string
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "RESULT "); ok {
			result = rest
		}
	}
	if err != nil || result == "" {
		t.Fatalf("scenario %s: %v\nstdout:\n%s\nstderr:\n%s\nscreenshots in %s\nserver log:\n%s", scenario, err, stdout.String(), stderr.String(), w.artifacts, tail(w.serverLog(), 40))
	}
	if err := json.Unmarshal([]byte(result), out); err != nil {
		t.Fatalf("scenario %s result %q: %v", scenario, result, err)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func (w *world) api(a testserver.Account) *rpc.Client {
	return &rpc.Client{Endpoint: w.url, AccessKeyID: a.AccessKeyID, AccessKeySecret: a.AccessKeySecret}
}

func call(t *testing.T, c *rpc.Client, version, action string, params map[string]string) map[string]any {
	t.Helper()
	var raw json.RawMessage
	if err := c.Call(context.Background(), version, action, params, &raw); err != nil {
		t.Fatalf("%s %v: %v", action, params, err)
	}
	// Numbers stay as written: account IDs do not fit a float64's printing.
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out map[string]any
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// expect checks fields of an API answer: path (dot-separated) -> wanted text.
func expect(t *testing.T, what string, obj map[string]any, want map[string]string) {
	t.Helper()
	for path, w := range want {
		var v any = obj
		for _, k := range strings.Split(path, ".") {
			m, _ := v.(map[string]any)
			v = m[k]
		}
		if got := fmt.Sprint(v); got != w {
			t.Errorf("%s: %s = %q, want %q", what, path, got, w)
		}
	}
}

func tags(v any) map[string]string {
	out := map[string]string{}
	items, _ := v.([]any)
	for _, it := range items {
		m, _ := it.(map[string]any)
		out[fmt.Sprint(m["Key"])] = fmt.Sprint(m["Value"])
	}
	return out
}

func only(t *testing.T, out map[string]any, key string) map[string]any {
	t.Helper()
	items, _ := out[key].([]any)
	if len(items) != 1 {
		t.Fatalf("%s: want one item, got %v", key, out[key])
	}
	m, _ := items[0].(map[string]any)
	return m
}

func TestConsole(t *testing.T) {
	w := newWorld(t)
	srv := testserver.Start(t, testserver.Options{TransitionDelay: 300 * time.Millisecond, Args: []string{"--gateway", "off"}})
	w.url, w.serverLog = srv.URL, srv.Log
	w.alice, w.bob = srv.CreateAccount(t, "alice"), srv.CreateAccount(t, "bob")
	alice, bob := w.api(w.alice), w.api(w.bob)

	var a struct {
		Cen string `json:"cen"`
		Tr  string `json:"tr"`
		Cgw string `json:"cgw"`
		Vco string `json:"vco"`
		Att string `json:"att"`
	}
	t.Run("attach", func(t *testing.T) {
		w.run(t, "attach", nil, &a)
		v := call(t, alice, vpcV, "DescribeVpnConnection", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": a.Vco})
		expect(t, a.Vco, v, map[string]string{
			"Name": "to-dc1", "CustomerGatewayId": a.Cgw, "NetworkType": "public", "TransitRouterId": a.Tr,
			"LocalSubnet": "10.0.0.0/16", "RemoteSubnet": "192.168.10.0/24,192.168.11.0/24", "EffectImmediately": "true",
			"EnableDpd": "false", "EnableNatTraversal": "false",
			"IkeConfig.IkeVersion": "ikev1", "IkeConfig.IkeMode": "aggressive", "IkeConfig.IkeEncAlg": "aes256", "IkeConfig.IkeAuthAlg": "sha256",
			"IkeConfig.IkePfs": "group14", "IkeConfig.IkeLifetime": "3600", "IkeConfig.LocalId": "cloud.example.com",
			"IkeConfig.RemoteId": "dc.example.net", "IkeConfig.Psk": "s3cr3t-Key!",
			"IpsecConfig.IpsecEncAlg": "3des", "IpsecConfig.IpsecAuthAlg": "md5", "IpsecConfig.IpsecPfs": "disabled", "IpsecConfig.IpsecLifetime": "1800",
			"VpnBgpConfig.EnableBgp": "true", "VpnBgpConfig.TunnelCidr": "169.254.11.0/30", "VpnBgpConfig.LocalBgpIp": "169.254.11.1", "VpnBgpConfig.LocalAsn": "65001",
			"VcoHealthCheck.Enable": "true", "VcoHealthCheck.Dip": "192.168.10.1", "VcoHealthCheck.Sip": "10.0.0.1",
			"VcoHealthCheck.Interval": "5", "VcoHealthCheck.Retry": "4", "VcoHealthCheck.Policy": "reserve_route",
		})
		if got := tags(v["Tags"].(map[string]any)["Tag"]); got["env"] != "prod" || got["team"] != "netops" || len(got) != 2 {
			t.Errorf("connection tags %v", got)
		}
		att := only(t, call(t, alice, cbnV, "ListTransitRouterVpnAttachments", map[string]string{"TransitRouterAttachmentId": a.Att}), "TransitRouterAttachments")
		expect(t, a.Att, att, map[string]string{"TransitRouterAttachmentName": "to-dc1", "VpnId": a.Vco, "TransitRouterId": a.Tr,
			"Status": "Attached", "AutoPublishRouteEnabled": "false", "VpnOwnerId": w.alice.AccountID})
		if z := fmt.Sprint(att["Zones"]); z != "[map[ZoneId:cn-hangzhou-i]]" {
			t.Errorf("zones %s", z)
		}
		if got := tags(att["Tags"]); got["env"] != "prod" || got["team"] != "netops" {
			t.Errorf("attachment tags %v", got)
		}
		sys := only(t, call(t, alice, cbnV, "ListTransitRouterRouteTables", map[string]string{"TransitRouterId": a.Tr, "TransitRouterRouteTableType": "System"}), "TransitRouterRouteTables")
		for action, key := range map[string]string{"ListTransitRouterRouteTableAssociations": "TransitRouterAssociations", "ListTransitRouterRouteTablePropagations": "TransitRouterPropagations"} {
			link := only(t, call(t, alice, cbnV, action, map[string]string{"TransitRouterRouteTableId": fmt.Sprint(sys["TransitRouterRouteTableId"])}), key)
			expect(t, key, link, map[string]string{"TransitRouterAttachmentId": a.Att, "Status": "Active"})
		}
		acct := call(t, alice, "2026-11-01", "DescribeAccount", nil)
		if fmt.Sprint(acct["ServiceLinkedRoles"]) != "[AliyunServiceRoleForVpn]" {
			t.Errorf("service-linked roles %v", acct["ServiceLinkedRoles"])
		}
	})
	if t.Failed() {
		return
	}

	var m struct{ Table, StaticEntry, Blackhole string }
	t.Run("modify route table", func(t *testing.T) {
		w.run(t, "modify", a, &m)
		link := only(t, call(t, alice, cbnV, "ListTransitRouterRouteTableAssociations", map[string]string{"TransitRouterAttachmentId": a.Att}), "TransitRouterAssociations")
		expect(t, "association", link, map[string]string{"TransitRouterRouteTableId": m.Table, "Status": "Active"})
		entries := call(t, alice, cbnV, "ListTransitRouterRouteEntries", map[string]string{"TransitRouterRouteTableId": m.Table, "TransitRouterRouteEntryStatus": "All"})
		got := map[string]string{}
		for _, e := range entries["TransitRouterRouteEntries"].([]any) {
			e := e.(map[string]any)
			got[fmt.Sprint(e["TransitRouterRouteEntryDestinationCidrBlock"])] = fmt.Sprint(e["TransitRouterRouteEntryType"], " ", e["TransitRouterRouteEntryNextHopType"], " ", e["TransitRouterRouteEntryNextHopId"])
		}
		if got["192.168.20.0/24"] != "Static Attachment "+a.Att || !strings.HasPrefix(got["10.99.0.0/16"], "Static BlackHole") {
			t.Errorf("entries of %s: %v", m.Table, got)
		}
	})

	t.Run("edit", func(t *testing.T) {
		var none struct{}
		w.run(t, "edit", map[string]string{"vco": a.Vco}, &none)
		v := call(t, alice, vpcV, "DescribeVpnConnection", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": a.Vco})
		expect(t, a.Vco, v, map[string]string{"VpnBgpConfig.EnableBgp": "false", "VcoHealthCheck.Enable": "false",
			// untouched by the edit
			"IkeConfig.LocalId": "cloud.example.com", "IkeConfig.RemoteId": "dc.example.net", "IkeConfig.IkeEncAlg": "aes256",
			"IkeConfig.Psk": "s3cr3t-Key!", "LocalSubnet": "10.0.0.0/16", "IpsecConfig.IpsecLifetime": "1800", "EnableDpd": "false"})
	})

	t.Run("routing policies", func(t *testing.T) {
		var p struct{ Policy string }
		w.run(t, "policies", map[string]string{"cen": a.Cen, "table": m.Table}, &p)
		rm := only(t, call(t, alice, cbnV, "DescribeCenRouteMaps", map[string]string{"CenId": a.Cen, "RouteMapId": p.Policy})["RouteMaps"].(map[string]any), "RouteMap")
		expect(t, p.Policy, rm, map[string]string{"TransitRouterRouteTableId": m.Table, "TransmitDirection": "RegionOut", "Priority": "20",
			"MapResult": "Permit", "CidrMatchMode": "Complete", "Preference": "30", "System": "false",
			"DestinationCidrBlocks.DestinationCidrBlock": "[192.168.20.0/24 192.168.21.0/24]", "MatchAsns.MatchAsn": "[65010]", "PrependAsPath.AsPath": "[65001 65001]"})
	})

	t.Run("validation", func(t *testing.T) {
		before := call(t, alice, vpcV, "DescribeVpnConnections", map[string]string{"RegionId": "cn-hangzhou"})["TotalCount"]
		var v struct{ Messages map[string]string }
		w.run(t, "validation", map[string]string{"tr": a.Tr, "cgw": a.Cgw}, &v)
		if len(v.Messages) != 6 {
			t.Errorf("messages %v", v.Messages)
		}
		after := call(t, alice, vpcV, "DescribeVpnConnections", map[string]string{"RegionId": "cn-hangzhou"})["TotalCount"]
		if fmt.Sprint(before) != fmt.Sprint(after) {
			t.Errorf("bad input created connections: %v -> %v", before, after)
		}
		atts := call(t, alice, cbnV, "ListTransitRouterVpnAttachments", map[string]string{"TransitRouterId": a.Tr})
		if n := len(atts["TransitRouterAttachments"].([]any)); n != 1 {
			t.Errorf("bad input created attachments: %d", n)
		}
	})

	var x struct {
		Vco string `json:"vco"`
		Cgw string `json:"cgw"`
		Att string `json:"att"`
	}
	t.Run("cross account", func(t *testing.T) {
		w.run(t, "cross", map[string]string{"cen": a.Cen, "tr": a.Tr}, &x)
		att := only(t, call(t, alice, cbnV, "ListTransitRouterVpnAttachments", map[string]string{"TransitRouterAttachmentId": x.Att}), "TransitRouterAttachments")
		expect(t, x.Att, att, map[string]string{"VpnId": x.Vco, "VpnOwnerId": w.bob.AccountID, "Status": "Attached", "TransitRouterAttachmentName": "from-bob"})
		v := call(t, bob, vpcV, "DescribeVpnConnection", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": x.Vco})
		expect(t, x.Vco, v, map[string]string{"Name": "bob-vpn", "TransitRouterId": a.Tr, "IkeConfig.IkeEncAlg": "aes192", "IkeConfig.Psk": "bobs-key", "IkeConfig.IkeAuthAlg": "sha512", "EnableDpd": "false",
			"CrossAccountAuthorized": "true"})
	})

	t.Run("isolation", func(t *testing.T) {
		var none struct{}
		w.run(t, "isolation", map[string]string{"cen": a.Cen, "tr": a.Tr, "vco": a.Vco, "table": m.Table}, &none)
		cens := call(t, bob, cbnV, "DescribeCens", nil)
		if strings.Contains(fmt.Sprint(cens), a.Cen) || strings.Contains(fmt.Sprint(cens), "forged") {
			t.Errorf("bob's CENs: %v", cens)
		}
	})

	var d struct {
		Vco  string   `json:"vco"`
		Cgws []string `json:"cgws"`
	}
	t.Run("dual tunnel", func(t *testing.T) {
		w.run(t, "dual", nil, &d)
		v := call(t, alice, vpcV, "DescribeVpnConnection", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": d.Vco})
		expect(t, d.Vco, v, map[string]string{"Name": "dual-dc", "EnableTunnelsBgp": "true"})
		tunnels, _ := v["TunnelOptionsSpecification"].(map[string]any)["TunnelOptions"].([]any)
		if len(tunnels) != 2 || len(d.Cgws) != 2 {
			t.Fatalf("tunnels %v, customer gateways %v", v["TunnelOptionsSpecification"], d.Cgws)
		}
		for _, it := range tunnels {
			tun := it.(map[string]any)
			n := fmt.Sprint(tun["TunnelIndex"])
			want := map[string]map[string]string{
				// the edit swapped the roles
				"1": {"Role": "slave", "CustomerGatewayId": d.Cgws[0], "EnableDpd": "true", "EnableNatTraversal": "true",
					"TunnelIkeConfig.Psk": "tunnel-1-key", "TunnelIkeConfig.IkeVersion": "ikev2", "TunnelIkeConfig.IkeEncAlg": "aes",
					"TunnelIkeConfig.IkeAuthAlg": "sha1", "TunnelIpsecConfig.IpsecAuthAlg": "sha1", "TunnelBgpConfig.TunnelCidr": "169.254.30.0/30",
					"TunnelBgpConfig.LocalBgpIp": "169.254.30.1"},
				"2": {"Role": "master", "CustomerGatewayId": d.Cgws[1], "EnableDpd": "false", "EnableNatTraversal": "true",
					"TunnelIkeConfig.Psk": "tunnel-2-key", "TunnelIkeConfig.IkeVersion": "ikev2", "TunnelIkeConfig.IkeEncAlg": "aes256",
					"TunnelIkeConfig.IkeAuthAlg": "sha1", "TunnelIpsecConfig.IpsecAuthAlg": "sha1", "TunnelBgpConfig.TunnelCidr": "169.254.31.0/30",
					"TunnelBgpConfig.LocalBgpIp": "169.254.31.1"},
			}[n]
			if want == nil {
				t.Errorf("tunnel index %s", n)
				continue
			}
			expect(t, d.Vco+" tunnel "+n, tun, want)
		}
	})

	t.Run("layout", func(t *testing.T) {
		var none struct{}
		w.run(t, "layout", map[string]string{"cen": a.Cen, "tr": a.Tr, "att": a.Att, "table": m.Table, "vco": a.Vco, "dual": d.Vco}, &none)
	})

	t.Run("delete", func(t *testing.T) {
		var none struct{}
		w.run(t, "delete", map[string]string{"cen": a.Cen, "tr": a.Tr, "att": x.Att, "vco": x.Vco, "cgw": x.Cgw}, &none)
		if atts := call(t, alice, cbnV, "ListTransitRouterVpnAttachments", map[string]string{"TransitRouterAttachmentId": x.Att}); len(atts["TransitRouterAttachments"].([]any)) != 0 {
			t.Errorf("%s still attached: %v", x.Att, atts)
		}
		if v := call(t, bob, vpcV, "DescribeVpnConnections", map[string]string{"RegionId": "cn-hangzhou"}); fmt.Sprint(v["TotalCount"]) != "0" {
			t.Errorf("bob's connections: %v", v)
		}
		if g := call(t, bob, vpcV, "DescribeCustomerGateways", map[string]string{"RegionId": "cn-hangzhou"}); fmt.Sprint(g["TotalCount"]) != "0" {
			t.Errorf("bob's customer gateways: %v", g)
		}
		if c := call(t, alice, cbnV, "DescribeCens", nil); !strings.Contains(fmt.Sprint(c), a.Cen) {
			t.Errorf("the refused delete removed %s", a.Cen)
		}
	})
}
