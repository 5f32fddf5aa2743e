package robustness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"opencen/internal/apierr"
	"opencen/internal/rpc"
	"opencen/internal/secret"
	"opencen/internal/store/etcdtest"
	"opencen/internal/testserver"
)

const vpc = "2016-04-28"

// The tests below run several server processes on one etcd (embedded in the test, on
// loopback): killing one loses no acknowledged write, ClientToken retries on the survivor
// return the first result, and the controllers' pending transitions complete on the newly
// elected leader.

// startCluster starts n servers on one etcd prefix, with one secret key file and one admin
// key, each with --leader-ttl ttl and --transition-delay delay.
func startCluster(t *testing.T, n int, ttl, delay time.Duration) []*testserver.Server {
	t.Helper()
	etcd := etcdtest.Embedded(t)
	keyFile := filepath.Join(t.TempDir(), "secret.key")
	if _, err := secret.LoadOrCreateKey(keyFile); err != nil {
		t.Fatal(err)
	}
	args := []string{"--store", "etcd", "--etcd-endpoints", etcd.Endpoint, "--etcd-prefix", "/cluster-test/",
		"--secret-key-file", keyFile, "--leader-ttl", ttl.String(), "--gateway", "off"}
	var servers []*testserver.Server
	for range n {
		o := testserver.Options{TransitionDelay: delay, Args: args}
		if len(servers) > 0 {
			o.AdminKeyID, o.AdminSecret = servers[0].AdminKeyID, servers[0].AdminSecret
		}
		servers = append(servers, testserver.Start(t, o))
	}
	return servers
}

type clusterStatus struct {
	Servers []struct {
		Id, Address string
		Leader      bool
	}
}

// status runs `opencen admin cluster status --json` against srv.
func status(t *testing.T, srv *testserver.Server) clusterStatus {
	t.Helper()
	var st clusterStatus
	if err := json.Unmarshal(srv.Admin(t, "cluster", "status", "--json"), &st); err != nil {
		t.Fatalf("cluster status --json: %v", err)
	}
	return st
}

// leaderOf waits until exactly one server is listed as leading and returns its address.
func leaderOf(t *testing.T, srv *testserver.Server, servers int, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st := status(t, srv)
		var leaders []string
		for _, s := range st.Servers {
			if s.Leader {
				leaders = append(leaders, s.Address)
			}
		}
		if len(leaders) == 1 && len(st.Servers) == servers {
			return leaders[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v the cluster status lists %+v; want %d servers, one leading", within, st.Servers, servers)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestKillServerDuringConcurrentCreates: 64 clients create CENs with ClientTokens, half
// through each of two servers; one server is SIGKILLed midway. Every acknowledged CEN
// exists, retrying every token on the surviving server returns the acknowledged ID (and
// one CEN per token, however often retried), and the CENs still become Active (the
// controllers continue on the survivor, elected if the dead one led).
func TestKillServerDuringConcurrentCreates(t *testing.T) {
	const (
		calls     = 400
		killAfter = calls / 3
		clients   = 64
	)
	ttl := 2 * time.Second
	servers := startCluster(t, 2, ttl, 100*time.Millisecond)
	victim, survivor := servers[0], servers[1]
	acct := victim.CreateAccount(t, "kill")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl := []*rpc.Client{newClient(victim, acct, clients/2), newClient(survivor, acct, clients/2)}

	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	type outcome struct {
		token string
		id    string
		err   error
	}
	outcomes := make([]outcome, calls)
	var (
		acked atomic.Int64
		wg    sync.WaitGroup
		sem   = make(chan struct{}, clients)
	)
	for i := range outcomes {
		outcomes[i].token = fmt.Sprintf("kill-%s-%03d", run, i)
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			o := &outcomes[i]
			o.id, o.err = createCen(ctx, cl[i%2], fmt.Sprint("kill-", i), o.token)
			if o.err == nil {
				acked.Add(1)
			}
		})
	}
	for acked.Load() < killAfter {
		if ctx.Err() != nil {
			t.Fatalf("only %d creates acknowledged: %v", acked.Load(), ctx.Err())
		}
		time.Sleep(time.Millisecond)
	}
	atKill := acked.Load()
	victim.Kill()
	killedAt := time.Now()
	wg.Wait()

	ackedIDs := map[string]string{}
	failed := 0
	for i, o := range outcomes {
		if o.err == nil {
			if prev, dup := ackedIDs[o.id]; dup {
				t.Errorf("CEN %s acknowledged to tokens %s and %s", o.id, prev, o.token)
			}
			ackedIDs[o.id] = o.token
			continue
		}
		failed++
		var ae *apierr.Error
		if errors.As(o.err, &ae) || i%2 == 1 {
			// The survivor must answer every call, and the victim only fails by vanishing.
			t.Errorf("call %d (server %d): %v; want success, or a lost connection to the killed server", i, i%2+1, o.err)
		}
	}
	t.Logf("%d creates over 2 servers by %d clients; SIGKILL of server 1 at %d acknowledged; %d acknowledged, %d lost with the server",
		calls, clients, atKill, len(ackedIDs), failed)
	if failed == 0 {
		t.Logf("note: the kill came after every call to server 1 was answered; the retry checks still run")
	}

	c := newClient(survivor, acct, 16)
	before := listCens(t, ctx, c)
	for id, tok := range ackedIDs {
		if _, ok := before[id]; !ok {
			t.Errorf("acknowledged CEN %s (token %s) is missing", id, tok)
		}
	}
	// Every token again, twice, on the survivor: one CEN per token, the acknowledged ones' own.
	var first []string
	for round := range 2 {
		ids := make([]string, calls)
		var wg sync.WaitGroup
		for i := range outcomes {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				id, err := createCen(ctx, c, fmt.Sprint("kill-", i), outcomes[i].token)
				if err != nil {
					t.Errorf("retry %d of token %s on the survivor: %v", round+1, outcomes[i].token, err)
				}
				ids[i] = id
			})
		}
		wg.Wait()
		for i, o := range outcomes {
			if o.err == nil && ids[i] != o.id {
				t.Errorf("token %s: acknowledged %s, retry %d on the survivor answered %s", o.token, o.id, round+1, ids[i])
			}
			if first != nil && ids[i] != first[i] {
				t.Errorf("token %s: first retry answered %s, second %s", o.token, first[i], ids[i])
			}
		}
		first = ids
	}
	after := listCens(t, ctx, c)
	if len(after) != calls {
		t.Errorf("%d CENs for %d tokens; want exactly one per token", len(after), calls)
	}
	// Transitions continue on the survivor, leader now whatever it was before.
	deadline := killedAt.Add(ttl + 20*time.Second)
	for {
		creating := 0
		for _, cen := range listCens(t, ctx, c) {
			if cen.Status != "Active" {
				creating++
			}
		}
		if creating == 0 {
			t.Logf("every CEN Active %v after the kill", time.Since(killedAt).Round(10*time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d CENs still not Active %v after the kill", creating, time.Since(killedAt))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestLeaderFailover: with transitions taking a few seconds, SIGKILL the controllers'
// leader while VPN attachments are Attaching and CENs Creating: the other server is
// elected within the leader TTL and they complete, within the TTL plus the transition
// delay of the kill. The dead server leaves the cluster status.
func TestLeaderFailover(t *testing.T) {
	const (
		ttl   = 3 * time.Second
		delay = 3 * time.Second
		// slack covers the election's round trips and this test's polling.
		slack = 3 * time.Second
	)
	servers := startCluster(t, 2, ttl, delay)
	acct := servers[0].CreateAccount(t, "failover")
	leader := leaderOf(t, servers[0], 2, 15*time.Second)
	var dead, alive *testserver.Server
	for _, s := range servers {
		if s.Endpoint == leader {
			dead = s
		} else {
			alive = s
		}
	}
	if dead == nil || alive == nil {
		t.Fatalf("the leader %s is not one of the servers started", leader)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := newClient(alive, acct, 8)
	call := func(version, action string, params map[string]string) map[string]any {
		t.Helper()
		var out map[string]any
		if err := c.Call(ctx, version, action, params, &out); err != nil {
			t.Fatalf("%s: %v", action, err)
		}
		return out
	}
	wait := func(what string, within time.Duration, done func() bool) {
		t.Helper()
		deadline := time.Now().Add(within)
		for !done() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %v", what, within)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// itemStatus is the Status of the one item a Cbn list action answers in list for param=id.
	itemStatus := func(action, param, id, list string) string {
		l, _ := call(cbn, action, map[string]string{param: id})[list].([]any)
		if len(l) == 0 {
			return ""
		}
		m, _ := l[0].(map[string]any)
		s, _ := m["Status"].(string)
		return s
	}
	trStatus := func(id string) string {
		return itemStatus("ListTransitRouters", "TransitRouterId", id, "TransitRouters")
	}
	attStatus := func(id string) string {
		return itemStatus("ListTransitRouterVpnAttachments", "TransitRouterAttachmentId", id, "TransitRouterAttachments")
	}

	cen, _ := call(cbn, "CreateCen", map[string]string{"Name": "failover"})["CenId"].(string)
	wait("the CEN Active", 2*delay+slack, func() bool { return listCens(t, ctx, c)[cen].Status == "Active" })
	tr, _ := call(cbn, "CreateTransitRouter", map[string]string{"CenId": cen, "RegionId": "cn-hangzhou"})["TransitRouterId"].(string)
	wait("the transit router Active", 2*delay+slack, func() bool { return trStatus(tr) == "Active" })
	cgw, _ := call(vpc, "CreateCustomerGateway", map[string]string{"RegionId": "cn-hangzhou", "IpAddress": "198.18.0.2"})["CustomerGatewayId"].(string)

	var atts, pendingCens []string
	for i := range 3 {
		vco, _ := call(vpc, "CreateVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "CustomerGatewayId": cgw,
			"LocalSubnet": fmt.Sprintf("10.%d.0.0/16", i), "RemoteSubnet": fmt.Sprintf("192.168.%d.0/24", i)})["VpnConnectionId"].(string)
		att, _ := call(cbn, "CreateTransitRouterVpnAttachment", map[string]string{"RegionId": "cn-hangzhou", "TransitRouterId": tr,
			"VpnId": vco, "Zone.1.ZoneId": "cn-hangzhou-i"})["TransitRouterAttachmentId"].(string)
		atts = append(atts, att)
		id, _ := call(cbn, "CreateCen", map[string]string{"Name": fmt.Sprint("pending-", i)})["CenId"].(string)
		pendingCens = append(pendingCens, id)
	}
	for _, att := range atts {
		if st := attStatus(att); st != "Attaching" {
			t.Fatalf("attachment %s is %s before the kill; want Attaching (the test needs pending transitions)", att, st)
		}
	}
	dead.Kill()
	killedAt := time.Now()
	t.Logf("SIGKILL of the leader %s with %d attachments Attaching and %d CENs Creating", dead.Endpoint, len(atts), len(pendingCens))

	wait("every attachment Attached and CEN Active on the new leader", ttl+delay+slack, func() bool {
		all := listCens(t, ctx, c)
		for _, id := range pendingCens {
			if all[id].Status != "Active" {
				return false
			}
		}
		for _, att := range atts {
			if attStatus(att) != "Attached" {
				return false
			}
		}
		return true
	})
	t.Logf("every pending transition done %v after the kill (leader TTL %v + transition delay %v = %v)",
		time.Since(killedAt).Round(10*time.Millisecond), ttl, delay, ttl+delay)
	if got := leaderOf(t, alive, 1, ttl+slack); got != alive.Endpoint {
		t.Fatalf("the cluster status names %s the leader; want the survivor %s", got, alive.Endpoint)
	}
	out := string(alive.Admin(t, "cluster", "status"))
	if !strings.Contains(out, alive.Endpoint) || strings.Contains(out, dead.Endpoint) || !strings.Contains(out, "yes") {
		t.Fatalf("cluster status table after the failover:\n%s\nwant the survivor leading and the dead server gone", out)
	}
}
