package server

import (
	"context"
	"strings"
	"testing"
	"time"
)

const adminVersion = "2026-11-01"

func adminCall(t *testing.T, e *env, action string, params map[string]string) {
	t.Helper()
	if err := e.admin.Call(context.Background(), adminVersion, action, params, nil); err != nil {
		t.Fatalf("%s %v: %v", action, params, err)
	}
}

// TestThrottlingPerAccessKey: a key beyond its account's rate gets Throttling.User (400)
// and nothing runs; other accounts are not affected; the admin sets the limits per account.
func TestThrottlingPerAccessKey(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.account("alice"), e.account("bob")
	var who struct{ AccountId string }
	if err := alice.Call(context.Background(), adminVersion, "DescribeAccount", nil, &who); err != nil {
		t.Fatal(err)
	}
	adminCall(t, e, "SetQuota", map[string]string{"AccountId": who.AccountId, "QuotaName": "api-requests-per-second", "Value": "1"})
	adminCall(t, e, "SetQuota", map[string]string{"AccountId": who.AccountId, "QuotaName": "api-request-burst", "Value": "3"})
	ok, throttled := 0, 0
	for i := 0; i < 10 && throttled == 0; i++ {
		err := alice.Call(context.Background(), "2017-09-12", "CreateCen", nil, nil)
		if err == nil {
			ok++
			continue
		}
		ae := apiErr(t, err)
		if ae.Code != "Throttling.User" || ae.Status != 400 || !strings.Contains(ae.Message, "api-requests-per-second") {
			t.Fatalf("call %d: %v (HTTP %d)", i+1, ae, ae.Status)
		}
		throttled++
	}
	if ok < 3 || throttled == 0 {
		t.Fatalf("%d calls ran and %d were throttled; want the burst of 3 to run, then refusals", ok, throttled)
	}
	var cens struct{ TotalCount int }
	for i := 0; ; i++ { // the throttled key itself needs a token to look
		if err := alice.Call(context.Background(), "2017-09-12", "DescribeCens", nil, &cens); err == nil {
			break
		} else if i == 50 {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if cens.TotalCount != ok {
		t.Fatalf("%d CENs exist after %d accepted and %d throttled creates", cens.TotalCount, ok, throttled)
	}
	for range 10 {
		call(t, bob, "DescribeCens", nil) // bob's key has its own bucket and the default rate
	}
	if err := e.admin.Call(context.Background(), adminVersion, "SetQuota", map[string]string{"AccountId": who.AccountId, "QuotaName": "api-requests-per-second", "Value": "0"}, nil); apiErr(t, err).Code != "InvalidValue" {
		t.Fatalf("a rate of 0 (locking the account out): %v", err)
	}
}
