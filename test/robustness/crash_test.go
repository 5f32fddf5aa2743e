// Package robustness kills opencen servers (SIGKILL) in the middle of work and checks
// that what they acknowledged survived, that ClientToken retries neither lose nor
// duplicate resources, and that pending lifecycle transitions complete after a restart, or
// on the newly elected leader of several servers sharing an etcd.
package robustness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"opencen/internal/apierr"
	"opencen/internal/rpc"
	"opencen/internal/testserver"
)

const cbn = "2017-09-12"

// newClient returns a client for acct on srv whose connections are bounded by maxConns
// (every goroutine shares one transport).
func newClient(srv *testserver.Server, acct testserver.Account, maxConns int) *rpc.Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxConnsPerHost:     maxConns,
		MaxIdleConnsPerHost: maxConns,
		IdleConnTimeout:     30 * time.Second,
	}
	return &rpc.Client{
		Endpoint: srv.URL, AccessKeyID: acct.AccessKeyID, AccessKeySecret: acct.AccessKeySecret,
		HTTP: &http.Client{Transport: tr, Timeout: 20 * time.Second},
	}
}

type cenInfo struct{ ID, Status, Name string }

// listCens pages through every CEN of the caller with DescribeCens (PageSize 50).
func listCens(t *testing.T, ctx context.Context, c *rpc.Client) map[string]cenInfo {
	t.Helper()
	out := map[string]cenInfo{}
	total := -1
	for page := 1; page <= 1000; page++ {
		var resp struct {
			TotalCount int
			PageNumber int
			Cens       struct {
				Cen []struct{ CenId, Status, Name string }
			}
		}
		if err := c.Call(ctx, cbn, "DescribeCens", map[string]string{"PageSize": "50", "PageNumber": strconv.Itoa(page)}, &resp); err != nil {
			t.Fatalf("DescribeCens page %d: %v", page, err)
		}
		if total >= 0 && resp.TotalCount != total {
			t.Fatalf("DescribeCens: TotalCount changed from %d to %d while paging", total, resp.TotalCount)
		}
		total = resp.TotalCount
		for _, cen := range resp.Cens.Cen {
			if _, dup := out[cen.CenId]; dup {
				t.Fatalf("DescribeCens: CEN %s listed twice while paging", cen.CenId)
			}
			out[cen.CenId] = cenInfo{cen.CenId, cen.Status, cen.Name}
		}
		if len(resp.Cens.Cen) == 0 || page*50 >= total {
			break
		}
	}
	if len(out) != total {
		t.Fatalf("DescribeCens: paged through %d CENs but TotalCount is %d", len(out), total)
	}
	return out
}

type outcome struct {
	token string
	acked bool   // a success answer arrived
	id    string // CenId of the success answer
	err   error
}

func createCen(ctx context.Context, c *rpc.Client, name, token string) (string, error) {
	var resp struct{ CenId string }
	if err := c.Call(ctx, cbn, "CreateCen", map[string]string{"Name": name, "ClientToken": token}, &resp); err != nil {
		return "", err
	}
	if resp.CenId == "" {
		return "", errors.New("CreateCen answered without a CenId")
	}
	return resp.CenId, nil
}

func TestCrashDuringConcurrentCreates(t *testing.T) {
	const (
		calls     = 500
		killAfter = calls / 2
		maxConns  = 64
	)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	start := time.Now()

	srv := testserver.Start(t, testserver.Options{TransitionDelay: 100 * time.Millisecond})
	acct := srv.CreateAccount(t, "crash")
	client := newClient(srv, acct, maxConns)

	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	outcomes := make([]outcome, calls)
	for i := range outcomes {
		outcomes[i].token = fmt.Sprintf("crash-%s-%03d", run, i)
	}

	// Fire every call at once; a watcher SIGKILLs the server once half are acknowledged.
	var (
		answered atomic.Int64 // success answers
		wg       sync.WaitGroup
		gate     = make(chan struct{})
	)
	for i := range outcomes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			o := &outcomes[i]
			id, err := createCen(ctx, client, fmt.Sprintf("crash-%03d", i), o.token)
			if err == nil {
				o.acked, o.id = true, id
				answered.Add(1)
			} else {
				o.err = err
			}
		}()
	}
	allDone := make(chan struct{})
	go func() { wg.Wait(); close(allDone) }()

	close(gate)
	var ackedAtKill int64 = -1
	killed := false
	tick := time.NewTicker(200 * time.Microsecond)
watch:
	for {
		select {
		case <-allDone:
			break watch
		case <-ctx.Done():
			t.Fatalf("calls did not finish: %v", ctx.Err())
		case <-tick.C:
			if !killed && answered.Load() >= killAfter {
				ackedAtKill = answered.Load()
				srv.Kill() // SIGKILL by PID, waits for the process to exit
				killed = true
			}
		}
	}
	tick.Stop()
	if !killed {
		t.Fatalf("all %d calls finished before %d were acknowledged (acknowledged %d): the kill never happened; errors: %v",
			calls, killAfter, answered.Load(), firstErrors(outcomes, 5))
	}

	acked, failed := 0, 0
	apiErrs := map[string]int{}
	for _, o := range outcomes {
		if o.acked {
			acked++
			continue
		}
		failed++
		var ae *apierr.Error
		if errors.As(o.err, &ae) {
			apiErrs[ae.Code]++
		} else {
			apiErrs["(transport error)"]++
		}
	}
	t.Logf("fired %d concurrent CreateCen calls; SIGKILL when %d were acknowledged; finally %d acknowledged, %d unanswered/failed %v",
		calls, ackedAtKill, acked, failed, apiErrs)
	if failed == 0 {
		t.Logf("note: every call was acknowledged before the kill took effect; the retry checks below still run")
	}
	for code, n := range apiErrs {
		// An API error (not a lost connection) means the server refused a valid request.
		if code != "(transport error)" {
			t.Errorf("%d calls got API error %s before the kill; want success or a connection failure", n, code)
		}
	}

	// Acknowledged IDs must be distinct.
	ackedIDs := map[string]string{} // CenId -> token
	for _, o := range outcomes {
		if !o.acked {
			continue
		}
		if prev, dup := ackedIDs[o.id]; dup {
			t.Errorf("CenId %s was answered to two tokens: %s and %s", o.id, prev, o.token)
		}
		ackedIDs[o.id] = o.token
	}

	srv.Restart(t)
	client = newClient(srv, acct, maxConns)

	// 1. Every acknowledged CEN survived the crash.
	before := listCens(t, ctx, client)
	lost := 0
	for id, tok := range ackedIDs {
		if _, ok := before[id]; !ok {
			lost++
			if lost <= 5 {
				t.Errorf("acknowledged CEN %s (token %s) is missing after the restart", id, tok)
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged CENs are missing after the restart", lost, len(ackedIDs))
	}
	t.Logf("after restart: %d CENs exist (%d acknowledged + %d committed but unanswered)", len(before), len(ackedIDs), len(before)-len(ackedIDs))
	if len(before) > calls {
		t.Errorf("after restart %d CENs exist, more than the %d tokens sent", len(before), calls)
	}

	// 2. Retry every call with its own token, twice: acknowledged ones must get their ID back,
	// the others must create at most one CEN between the two retries.
	retry := func(round int) []string {
		ids := make([]string, calls)
		errs := make([]error, calls)
		var wg sync.WaitGroup
		sem := make(chan struct{}, 32)
		for i := range outcomes {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				ids[i], errs[i] = createCen(ctx, client, fmt.Sprintf("crash-%03d", i), outcomes[i].token)
			}()
		}
		wg.Wait()
		bad := 0
		for i, err := range errs {
			if err != nil {
				bad++
				if bad <= 5 {
					t.Errorf("retry %d of token %s: %v", round, outcomes[i].token, err)
				}
			}
		}
		if bad > 0 {
			t.Fatalf("retry %d: %d of %d calls failed", round, bad, calls)
		}
		return ids
	}
	first := retry(1)
	second := retry(2)
	changed, existedBefore, createdByRetry := 0, 0, 0
	for i, o := range outcomes {
		if o.acked && first[i] != o.id {
			t.Errorf("token %s: acknowledged %s before the crash, retry answered %s", o.token, o.id, first[i])
		}
		if second[i] != first[i] {
			changed++
			if changed <= 5 {
				t.Errorf("token %s: first retry answered %s, second retry %s", o.token, first[i], second[i])
			}
		}
		if !o.acked {
			if _, ok := before[first[i]]; ok {
				existedBefore++
			} else {
				createdByRetry++
			}
		}
	}
	t.Logf("retries: %d unacknowledged tokens found their CEN committed before the crash, %d created it on retry; %d tokens changed ID between retries",
		existedBefore, createdByRetry, changed)

	// 3. No duplicates: exactly one CEN per token, and the CENs listed are exactly those.
	byID := map[string]string{}
	for i, id := range first {
		if prev, dup := byID[id]; dup {
			t.Errorf("CenId %s is the answer for two tokens: %s and %s", id, prev, outcomes[i].token)
		}
		byID[id] = outcomes[i].token
	}
	after := listCens(t, ctx, client)
	if len(after) != len(byID) {
		t.Errorf("%d CENs exist after the retries, want %d (one per token): duplicates were created", len(after), len(byID))
	}
	for id := range after {
		if _, ok := byID[id]; !ok {
			t.Errorf("CEN %s (%s) exists but no token answers it: a duplicate or orphan", id, after[id].Name)
		}
	}
	for id := range before {
		if _, ok := after[id]; !ok {
			t.Errorf("CEN %s existed after the restart but is gone after the retries", id)
		}
	}
	t.Logf("final: %d CENs for %d distinct tokens; test took %v", len(after), len(byID), time.Since(start).Round(time.Millisecond))
}

func firstErrors(os []outcome, n int) []string {
	var out []string
	for _, o := range os {
		if o.err != nil && len(out) < n {
			out = append(out, o.err.Error())
		}
	}
	return out
}

func TestRestartKeepsPendingTransitions(t *testing.T) {
	const n = 10
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Transitions last 1s, so the CENs are still Creating when the server is killed.
	srv := testserver.Start(t, testserver.Options{TransitionDelay: time.Second})
	acct := srv.CreateAccount(t, "pending")
	client := newClient(srv, acct, 16)

	// One CEN is brought to Active and put into Deleting, to check that transition too.
	doomed, err := createCen(ctx, client, "doomed", "pending-doomed")
	if err != nil {
		t.Fatalf("CreateCen: %v", err)
	}
	waitStatus(t, ctx, client, map[string]string{doomed: "Active"}, 15*time.Second)

	ids := map[string]string{}
	for i := range n {
		id, err := createCen(ctx, client, fmt.Sprintf("pending-%02d", i), fmt.Sprintf("pending-%02d", i))
		if err != nil {
			t.Fatalf("CreateCen %d: %v", i, err)
		}
		ids[id] = "Active"
	}
	if err := client.Call(ctx, cbn, "DeleteCen", map[string]string{"CenId": doomed}, nil); err != nil {
		t.Fatalf("DeleteCen: %v", err)
	}
	// Make sure the test means something: everything is still transitional right before the kill.
	now := listCens(t, ctx, client)
	creating := 0
	for id := range ids {
		if now[id].Status == "Creating" {
			creating++
		}
	}
	srv.Kill()
	t.Logf("SIGKILL with %d of %d new CENs Creating and CEN %s %s", creating, n, doomed, now[doomed].Status)
	if creating == 0 {
		t.Fatalf("no CEN was Creating at the kill; the test did not exercise pending transitions")
	}

	killedAt := time.Now()
	srv.Restart(t)
	client = newClient(srv, acct, 16)
	ids[doomed] = "" // gone
	waitStatus(t, ctx, client, ids, 20*time.Second)
	t.Logf("after restart every transition completed within %v of the kill", time.Since(killedAt).Round(10*time.Millisecond))
}

// waitStatus polls until every CEN in want has its status ("" = no longer exists).
func waitStatus(t *testing.T, ctx context.Context, c *rpc.Client, want map[string]string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := listCens(t, ctx, c)
		var wrong []string
		for id, st := range want {
			if got[id].Status != st {
				wrong = append(wrong, fmt.Sprintf("%s=%q (want %q)", id, got[id].Status, st))
			}
		}
		if len(wrong) == 0 {
			return
		}
		if time.Now().After(deadline) {
			sort.Strings(wrong)
			t.Fatalf("after %v, %d CENs are not in the expected status: %v", timeout, len(wrong), wrong)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
