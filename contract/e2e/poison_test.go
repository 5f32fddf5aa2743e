package e2e

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	cbnsdk "github.com/alibabacloud-go/cbn-20170912/v2/client"
	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	"github.com/alibabacloud-go/tea/dara"

	"opencen/internal/rpc"
	"opencen/internal/store"
)

// TestPoisonRecordsStayApart: two accounts, each with a healthy connection on its own
// transit router, and next to them connections that must not disturb anything: one with
// IKEv2 and IkeMode aggressive (which must simply work: IKEv2 has no modes), and three
// whose stored records are damaged by hand (an address that does not parse, an algorithm
// that does not exist, a BGP tunnel CIDR that is not a /30). The healthy connections come
// up and carry traffic; each damaged one says what is wrong in DescribeVpnConnectionLogs
// and in `opencen gateway status`; the server keeps serving.
func TestPoisonRecordsStayApart(t *testing.T) {
	w := newWorld(t)
	rA := w.router("10.40.0.0/16")
	cA := w.connect(rA, "dca", "198.18.0.40", "192.168.40.0/24", nil)

	// Account B, with its own clients, router and connections.
	admin := &rpc.Client{Endpoint: w.c.Endpoint, AccessKeyID: "AKADMIN", AccessKeySecret: "admin-secret"}
	var acct struct{ AccessKeyId, AccessKeySecret string }
	if err := admin.Call(w.ctx, "2026-11-01", "CreateAccount", map[string]string{"Name": "tenant-b"}, &acct); err != nil {
		t.Fatal(err)
	}
	b := *w
	b.c = &rpc.Client{Endpoint: w.c.Endpoint, AccessKeyID: acct.AccessKeyId, AccessKeySecret: acct.AccessKeySecret}
	sdk, err := cbnsdk.NewClient(&openapiutil.Config{AccessKeyId: dara.String(acct.AccessKeyId), AccessKeySecret: dara.String(acct.AccessKeySecret),
		RegionId: dara.String("cn-hangzhou"), Endpoint: dara.String(strings.TrimPrefix(w.c.Endpoint, "http://")), Protocol: dara.String("HTTP")})
	if err != nil {
		t.Fatal(err)
	}
	b.sdk = sdk
	rB := b.router("10.41.0.0/16")
	cB := b.connect(rB, "dcb", "198.18.0.41", "192.168.41.0/24", nil)
	agg := b.connect(rB, "dcc", "198.18.0.42", "192.168.42.0/24", map[string]string{"IkeConfig": `{"IkeVersion":"ikev2","IkeMode":"aggressive"}`})

	// The damaged ones: attached without a data center, then their records edited in the
	// store, as an operator's hand (or an old version) might leave them.
	damage := map[string]struct {
		edit      func(rec map[string]any)
		kind, say string
	}{
		"unparsable address": {func(rec map[string]any) { rec["internetIp"] = "198.18.100.999" }, "cell", "InternetIp"},
		"unknown algorithm": {func(rec map[string]any) {
			rec["ike"].(map[string]any)["ikeEncAlg"] = "blowfish"
		}, "cell", "IkeConfig.IkeEncAlg"},
		"BGP tunnel CIDR not a /30": {func(rec map[string]any) {
			rec["bgp"] = map[string]any{"enableBgp": true, "localAsn": 45104, "tunnelCidr": "169.254.44.0/29", "localBgpIp": "169.254.44.1"}
		}, "bgp", "/30"},
	}
	poisoned := map[string]string{} // name -> vco
	n := 0
	for name := range damage {
		n++
		cgw := b.vpc("CreateCustomerGateway", map[string]string{"RegionId": "cn-hangzhou", "IpAddress": fmt.Sprintf("198.18.0.%d", 50+n), "Asn": "65020"})["CustomerGatewayId"].(string)
		p := map[string]string{"RegionId": "cn-hangzhou", "CustomerGatewayId": cgw, "EffectImmediately": "true"}
		b.pageValues(p)
		vco := b.vpc("CreateVpnAttachment", p)["VpnConnectionId"].(string)
		att := b.cbn("CreateTransitRouterVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "TransitRouterId": rB.tr, "VpnId": vco})["TransitRouterAttachmentId"].(string)
		b.waitFor("VPN attached", 10*time.Second, func() bool {
			return first(b.cbn("ListTransitRouterVpnAttachments", map[string]string{"TransitRouterAttachmentId": att}), "TransitRouterAttachments")["Status"] == "Attached"
		})
		poisoned[name] = vco
	}
	st := w.in.Store
	for name, vco := range poisoned {
		key := "/r/vco/" + vco
		kv, ok, err := st.Get(w.ctx, key)
		if err != nil || !ok {
			t.Fatalf("%s: record %s: %v %v", name, key, ok, err)
		}
		var rec map[string]any
		if err := json.Unmarshal(kv.Value, &rec); err != nil {
			t.Fatal(err)
		}
		damage[name].edit(rec)
		raw, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		if res, err := st.Txn(w.ctx, []store.Cmp{{Key: key, ModRevision: kv.ModRevision}}, []store.Op{store.Put(key, raw)}); err != nil || !res.Succeeded {
			t.Fatalf("%s: write the damaged record: %v %v", name, res, err)
		}
	}
	// A hand edit is seen with the next change made through the API (it moves the
	// revision the server's caches follow).
	w.cbn("CreateCen", nil)

	// The healthy ones, both accounts', and IKEv2 "aggressive": up, and carrying traffic.
	for _, c := range []struct {
		w *world
		c connection
		r router
	}{{w, cA, rA}, {&b, cB, rB}, {&b, agg, rB}} {
		c.w.waitEstablished(c.c.vco)
		c.w.waitAgreed(c.c)
		c.w.pingBothWays(c.c.dc, c.r.vpcHost)
	}

	// Each damaged one says what is wrong: in its log, and in the gateway's status (the
	// API action, and the CLI command over it).
	for name, vco := range poisoned {
		want := damage[name].say
		b.waitFor(name+" in the connection's log", 30*time.Second, func() bool { return strings.Contains(b.logs(vco), want) })
		var out struct {
			Objects []struct{ Kind, Id, State, Message string }
		}
		if err := b.c.Call(w.ctx, "2026-11-01", "DescribeGatewayStatus", map[string]string{"VpnConnectionId": vco}, &out); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, o := range out.Objects {
			if o.Kind == damage[name].kind && o.State == "error" && strings.Contains(o.Message, want) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: DescribeGatewayStatus shows no %s error naming %s: %+v", name, damage[name].kind, want, out.Objects)
		}
	}
	cli := exec.CommandContext(w.ctx, w.gwOpts.SpeakerBinary, "gateway", "status", "--endpoint", b.c.Endpoint, "--transit-router-id", rB.tr)
	cli.Env = append(cli.Environ(), "OPENCEN_ACCESS_KEY_ID="+acct.AccessKeyId, "OPENCEN_ACCESS_KEY_SECRET="+acct.AccessKeySecret)
	table, err := cli.CombinedOutput()
	if err != nil {
		t.Fatalf("opencen gateway status: %v\n%s", err, table)
	}
	for name, vco := range poisoned {
		line := ""
		for _, l := range strings.Split(string(table), "\n") {
			if strings.Contains(l, vco) && strings.Contains(l, " error ") {
				line = l
			}
		}
		if !strings.Contains(line, damage[name].say) {
			t.Errorf("opencen gateway status has no error line for %s (%s):\n%s", vco, name, table)
		}
	}
	for _, vco := range []string{cB.vco, agg.vco} {
		if !strings.Contains(string(table), vco) {
			t.Errorf("opencen gateway status lacks %s:\n%s", vco, table)
		}
	}
	if strings.Contains(string(table), cA.vco) {
		t.Errorf("account B sees account A's connection %s:\n%s", cA.vco, table)
	}
	t.Logf("opencen gateway status (account B):\n%s", table)

	// The server still serves, and the healthy tunnels still carry traffic.
	w.vpc("DescribeVpnConnection", map[string]string{"RegionId": "cn-hangzhou", "VpnConnectionId": cA.vco})
	w.pingBothWays(cA.dc, rA.vpcHost)
}
