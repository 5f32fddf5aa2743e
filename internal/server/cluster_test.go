package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"opencen/internal/api/admin"
	"opencen/internal/rpc"
	"opencen/internal/secret"
	"opencen/internal/store"
	"opencen/internal/store/etcdtest"
)

// twoServers starts two servers on one etcd prefix with the same secret key and admin, and
// returns them with the admin's and a tenant's clients of each.
func twoServers(t *testing.T, prefix string) (servers [2]*etcdServer, admins, users [2]*rpc.Client) {
	t.Helper()
	etcd := etcdtest.Embedded(t)
	keyFile := filepath.Join(t.TempDir(), "secret.key")
	if _, err := secret.LoadOrCreateKey(keyFile); err != nil {
		t.Fatal(err)
	}
	for i := range servers {
		o := etcdOptions(etcd, prefix, t.TempDir())
		o.SecretKeyFile, o.AdminKeyID, o.AdminSecret = keyFile, "AKADMIN", "admin-secret"
		o.LeaderTTL = 2 * time.Second
		servers[i] = serveEtcd(t, t.Context(), o)
		admins[i] = &rpc.Client{Endpoint: servers[i].url, AccessKeyID: "AKADMIN", AccessKeySecret: "admin-secret"}
	}
	var acct struct{ AccountId, AccessKeyId, AccessKeySecret string }
	if err := admins[0].Call(t.Context(), admin.Version, "CreateAccount", map[string]string{"Name": "u"}, &acct); err != nil {
		t.Fatal(err)
	}
	for i, s := range servers {
		users[i] = &rpc.Client{Endpoint: s.url, AccessKeyID: acct.AccessKeyId, AccessKeySecret: acct.AccessKeySecret}
	}
	return servers, admins, users
}

type clusterAnswer struct {
	Servers []struct {
		Id, Address, Version, Started string
		Leader                        bool
	}
	Gateways []map[string]any
}

// TestClusterStatus: DescribeCluster, from any server, lists both API servers with where
// they listen, exactly one of them leading, and the gateway nodes' records as written;
// it is the admin's alone.
func TestClusterStatus(t *testing.T) {
	servers, admins, users := twoServers(t, "/status/")
	node := `{"Node":"gw-1","Zone":"cn-hangzhou-h","Address":"198.18.0.10","LeaseExpires":"2026-12-07T12:00:10Z","Capacity":200}`
	if _, err := servers[0].inst.Store.Txn(t.Context(), nil, []store.Op{store.Put("/cluster/gateways/gw-1", []byte(node))}); err != nil {
		t.Fatal(err)
	}
	for i, a := range admins {
		var out clusterAnswer
		waitUntil(t, 10*time.Second, "both servers are listed, one leading", func() bool {
			out = clusterAnswer{}
			if err := a.Call(t.Context(), admin.Version, "DescribeCluster", nil, &out); err != nil {
				t.Fatal(err)
			}
			leaders := 0
			for _, s := range out.Servers {
				if s.Leader {
					leaders++
				}
			}
			return len(out.Servers) == 2 && leaders == 1
		})
		addrs := map[string]bool{}
		for _, s := range out.Servers {
			addrs["http://"+s.Address] = true
			if s.Id == "" || s.Version == "" {
				t.Errorf("server %+v lacks its ID or version", s)
			}
			if _, err := time.Parse(time.RFC3339, s.Started); err != nil {
				t.Errorf("server %s: Started %q: %v", s.Id, s.Started, err)
			}
		}
		for _, s := range servers {
			if !addrs[s.url] {
				t.Errorf("asked server %d: %s is not listed (%v)", i+1, s.url, addrs)
			}
		}
		if len(out.Gateways) != 1 || out.Gateways[0]["Node"] != "gw-1" || out.Gateways[0]["Zone"] != "cn-hangzhou-h" || out.Gateways[0]["Capacity"] != float64(200) {
			t.Errorf("gateways %v; want gw-1's record as written", out.Gateways)
		}
	}
	if e := apiErr(t, users[0].Call(t.Context(), admin.Version, "DescribeCluster", nil, nil)); e.Code != "Forbidden.NotAdmin" {
		t.Fatalf("DescribeCluster as a tenant: %s, want Forbidden.NotAdmin", e.Code)
	}
}

// TestClusterStatusBolt: on bbolt the one server is listed, leading; no gateway nodes.
func TestClusterStatusBolt(t *testing.T) {
	e := newEnv(t)
	var out clusterAnswer
	waitUntil(t, 10*time.Second, "the server is listed", func() bool {
		out = clusterAnswer{}
		if err := e.admin.Call(t.Context(), admin.Version, "DescribeCluster", nil, &out); err != nil {
			t.Fatal(err)
		}
		return len(out.Servers) == 1
	})
	if s := out.Servers[0]; !s.Leader || s.Address != e.addr || len(out.Gateways) != 0 {
		t.Fatalf("cluster on bbolt: %+v; want this server (%s), leading, and no gateways", out, e.addr)
	}
}

// TestReplayAcrossServers: a request signed once is served by one server of the cluster
// and refused by the other with SignatureNonceUsed, sent one after the other or at once,
// for a write and for a read.
func TestReplayAcrossServers(t *testing.T) {
	servers, _, users := twoServers(t, "/replay/")
	send := func(base string, q url.Values) (int, string) {
		resp, err := http.Post(base+"/", "application/x-www-form-urlencoded", strings.NewReader(q.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct{ Code string }
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body.Code
	}
	sign := func(action, nonce string) url.Values {
		q := url.Values{}
		p := map[string]string{"Action": action, "Version": "2017-09-12", "Name": "replayed"}
		for k, v := range rpc.SignRequestV1(http.MethodPost, p, users[0].AccessKeyID, users[0].AccessKeySecret, time.Now(), nonce) {
			q.Set(k, v)
		}
		return q
	}
	for _, action := range []string{"CreateCen", "DescribeCens"} {
		q := sign(action, "seq-"+action)
		if status, code := send(servers[0].url, q); status != http.StatusOK {
			t.Fatalf("%s on server 1: %d %s", action, status, code)
		}
		if status, code := send(servers[1].url, q); status != http.StatusForbidden || code != "SignatureNonceUsed" {
			t.Fatalf("%s replayed to server 2: %d %s; want 403 SignatureNonceUsed", action, status, code)
		}
		q = sign(action, "par-"+action)
		var wg sync.WaitGroup
		codes := make([]string, 2)
		for i, s := range servers {
			wg.Go(func() { _, codes[i] = send(s.url, q) })
		}
		wg.Wait()
		if !(codes[0] == "" && codes[1] == "SignatureNonceUsed" || codes[0] == "SignatureNonceUsed" && codes[1] == "") {
			t.Fatalf("%s sent to both servers at once: codes %q; want one success and one SignatureNonceUsed", action, codes)
		}
	}
	out := call(t, users[1], "DescribeCens", map[string]string{"Filter.1.Key": "Name", "Filter.1.Value.1": "replayed"})
	if n := len(out["Cens"].(map[string]any)["Cen"].([]any)); n != 2 {
		t.Fatalf("%d CENs named replayed; want 2 (one per CreateCen signed)", n)
	}
}

// TestClientTokenAcrossServers: a create on server 1 is seen by server 2, and a retry with
// its ClientToken on server 2 returns server 1's result instead of creating another.
func TestClientTokenAcrossServers(t *testing.T) {
	_, _, users := twoServers(t, "/tokens/")
	first := call(t, users[0], "CreateCen", map[string]string{"Name": "tok", "ClientToken": "retry-me"})["CenId"].(string)
	if got := cenStatus(t, users[1], first); got == "" {
		t.Fatalf("CEN %s created on server 1 is not seen on server 2", first)
	}
	again := call(t, users[1], "CreateCen", map[string]string{"Name": "tok", "ClientToken": "retry-me"})["CenId"].(string)
	if again != first {
		t.Fatalf("retry on server 2 with the ClientToken answered %s; want server 1's %s", again, first)
	}
	out := call(t, users[0], "DescribeCens", map[string]string{"Filter.1.Key": "Name", "Filter.1.Value.1": "tok"})
	if n := len(out["Cens"].(map[string]any)["Cen"].([]any)); n != 1 {
		t.Fatalf("%d CENs named tok; want 1", n)
	}
}
