package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"opencen/internal/apierr"
	"opencen/internal/rpc"
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

// TestLastAdminKeyCannotBeDisabled: disabling, like deleting, the admin account's last
// active key is refused (the admin would be locked out for good); with a second key it is
// allowed, and then that key is the last one. RecoverAdmin, on the stopped server's data
// directory, hands out a new key.
func TestLastAdminKeyCannotBeDisabled(t *testing.T) {
	e := newEnv(t)
	lastKey := func(action string, params map[string]string) {
		t.Helper()
		err := e.admin.Call(context.Background(), adminVersion, action, params, nil)
		if ae := apiErr(t, err); ae.Code != "OperationDenied.LastAdminKey" || ae.Status != 400 {
			t.Fatalf("%s %v: %v", action, params, err)
		}
	}
	lastKey("UpdateAccessKeyStatus", map[string]string{"UserAccessKeyId": "AKADMIN", "Status": "Inactive"})
	call(t, e.admin, "DescribeCens", nil) // still the admin

	var who struct{ AccountId string }
	if err := e.admin.Call(context.Background(), adminVersion, "DescribeAccount", nil, &who); err != nil {
		t.Fatal(err)
	}
	var second struct{ AccessKeyId, AccessKeySecret string }
	if err := e.admin.Call(context.Background(), adminVersion, "CreateAccessKey", map[string]string{"AccountId": who.AccountId}, &second); err != nil {
		t.Fatal(err)
	}
	adminCall(t, e, "UpdateAccessKeyStatus", map[string]string{"UserAccessKeyId": "AKADMIN", "Status": "Inactive"})
	e.admin.AccessKeyID, e.admin.AccessKeySecret = second.AccessKeyId, second.AccessKeySecret
	lastKey("UpdateAccessKeyStatus", map[string]string{"UserAccessKeyId": second.AccessKeyId, "Status": "Inactive"})
	lastKey("DeleteAccessKey", map[string]string{"UserAccessKeyId": second.AccessKeyId})
	// Disabling an already inactive key, or a tenant's only key, is fine.
	adminCall(t, e, "UpdateAccessKeyStatus", map[string]string{"UserAccessKeyId": "AKADMIN", "Status": "Inactive"})
	tenant := e.account("tenant")
	adminCall(t, e, "UpdateAccessKeyStatus", map[string]string{"UserAccessKeyId": tenant.AccessKeyID, "Status": "Inactive"})

	// Locked out all the same (the key leaked, say): recover offline.
	if _, err := RecoverAdmin(context.Background(), e.dir, ""); err == nil {
		t.Fatal("RecoverAdmin ran beside the running server")
	}
	e.close()
	creds, err := RecoverAdmin(context.Background(), e.dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if creds.AccountID != who.AccountId || creds.AccessKeyID == "" || creds.AccessKeySecret == "" {
		t.Fatalf("recovered credentials %+v for admin account %s", creds, who.AccountId)
	}
	e.start()
	e.admin.AccessKeyID, e.admin.AccessKeySecret = creds.AccessKeyID, creds.AccessKeySecret
	adminCall(t, e, "CreateAccount", map[string]string{"Name": "after-recovery"})
}

// TestCrossAccountAttachNoOracle: attaching "another account's" connection before any grant
// answers alike whether the ID is unknown, belongs to that account in the transit router's
// region, belongs to it in another region, or belongs to someone else: same status, code
// and message (but for the ID the caller sent). Once the owner grants it, the real reason
// (here: the other region) may be told.
func TestCrossAccountAttachNoOracle(t *testing.T) {
	e := newEnv(t)
	alice, bob, carol := e.account("alice"), e.account("bob"), e.account("carol")
	s := newVpnSetup(t, alice) // CEN and transit router in cn-hangzhou
	accountID := func(c *rpc.Client) string {
		var who struct{ AccountId string }
		if err := c.Call(context.Background(), adminVersion, "DescribeAccount", nil, &who); err != nil {
			t.Fatal(err)
		}
		return who.AccountId
	}
	aliceID, bobID := accountID(alice), accountID(bob)
	connection := func(owner *rpc.Client, region string) string {
		cgw := vpcCall(t, owner, "CreateCustomerGateway", map[string]string{"RegionId": region, "IpAddress": "198.18.0.9"})["CustomerGatewayId"].(string)
		return vpcCall(t, owner, "CreateVpnAttachment", map[string]string{"RegionId": region, "CustomerGatewayId": cgw,
			"LocalSubnet": "10.0.0.0/16", "RemoteSubnet": "192.168.10.0/24"})["VpnConnectionId"].(string)
	}
	sameRegion, otherRegion, carols := connection(bob, "cn-hangzhou"), connection(bob, "cn-shanghai"), connection(carol, "cn-hangzhou")
	attach := func(vco string) *apierr.Error {
		return cbnErr(t, alice, "CreateTransitRouterVpnAttachment", map[string]string{
			"RegionId": "cn-hangzhou", "TransitRouterId": s.tr, "VpnId": vco, "VpnOwnerId": bobID})
	}
	shape := func(e *apierr.Error, vco string) string {
		return fmt.Sprintf("%d %s %s", e.Status, e.Code, strings.ReplaceAll(e.Message, vco, "<VpnId>"))
	}
	unknown := "vco-0000000000000000000000"
	want := shape(attach(unknown), unknown)
	if !strings.HasPrefix(want, "403 Forbidden.InstanceNotGranted ") {
		t.Fatalf("unknown connection: %s", want)
	}
	for name, vco := range map[string]string{"bob's, same region": sameRegion, "bob's, other region": otherRegion, "carol's, said to be bob's": carols} {
		if got := shape(attach(vco), vco); got != want {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
	call(t, bob, "GrantInstanceToTransitRouter", map[string]string{"RegionId": "cn-shanghai", "CenId": s.cen, "CenOwnerId": aliceID, "InstanceId": otherRegion, "InstanceType": "VPN"})
	if e := attach(otherRegion); e.Code != "InvalidVpnId" || !strings.Contains(e.Message, "cn-shanghai") {
		t.Fatalf("granted connection in another region: %v", e)
	}
}
