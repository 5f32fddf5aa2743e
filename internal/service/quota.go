package service

import (
	"context"
	"slices"
	"sort"
	"strings"

	"opencen/internal/apierr"
)

// Quota names and their defaults (the product page's table, and the API's request rate).
const (
	QuotaVpnAttachmentsPerTR = "vpn-attachments-per-tr"
	QuotaEcmpVpnConnections  = "ecmp-vpn-connections"
	// QuotaAPIRequestsPerSecond and QuotaAPIRequestBurst throttle each access key of the
	// account (a token bucket): far above what the stock tools send, low enough that one
	// key cannot take the whole server.
	QuotaAPIRequestsPerSecond = "api-requests-per-second"
	QuotaAPIRequestBurst      = "api-request-burst"
)

var quotaDefaults = map[string]int{
	QuotaVpnAttachmentsPerTR:  50,
	QuotaEcmpVpnConnections:   16,
	QuotaAPIRequestsPerSecond: 1000,
	QuotaAPIRequestBurst:      2000,
}

// quotaFloor: a request rate of zero would lock the account out for good, the admin's own
// included.
var quotaFloor = map[string]int{QuotaAPIRequestsPerSecond: 1, QuotaAPIRequestBurst: 1}

// quota is an account's limit: its override, else the configured default, else built in.
func (s *Service) quota(t *txn, accountID, name string) (int, error) {
	var a Account
	if _, err := t.get(accountKey(accountID), &a); err != nil {
		return 0, err
	}
	return s.accountQuota(a, name), nil
}

func (s *Service) accountQuota(a Account, name string) int {
	if v, ok := a.Quotas[name]; ok {
		return v
	}
	if v, ok := s.cfg.Quotas[name]; ok {
		return max(v, quotaFloor[name])
	}
	return quotaDefaults[name]
}

// quotaExceeded names the quota and how to raise it.
func quotaExceeded(name string, limit int, what string) *apierr.Error {
	return apierr.New("QuotaExceeded."+quotaCode(name), "%s: the quota %s is %d. Ask the administrator to raise it: opencen admin quota set --account-id <account> --name %s --value <n>.", what, name, limit, name)
}

func quotaCode(name string) string {
	var b strings.Builder
	for _, part := range strings.Split(name, "-") {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// SetQuota overrides a quota for one account (admin only).
func (s *Service) SetQuota(ctx context.Context, c Caller, accountID, name string, value int64) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	if accountID == "" {
		return apierr.Missing("AccountId")
	}
	if _, ok := quotaDefaults[name]; !ok {
		names := make([]string, 0, len(quotaDefaults))
		for n := range quotaDefaults {
			names = append(names, n)
		}
		sort.Strings(names)
		return apierr.Invalid("QuotaName", "QuotaName %q is unknown; use one of: %s.", name, apierr.Text(strings.Join(names, ", ")))
	}
	if floor := quotaFloor[name]; value < int64(floor) || value > 100000 {
		return apierr.Invalid("Value", "Value of %s must be %d to 100000; got %d.", name, floor, value)
	}
	return s.update(ctx, func(t *txn) error {
		var a Account
		ok, err := t.get(accountKey(accountID), &a)
		if err != nil {
			return err
		}
		if !ok {
			return apierr.New("InvalidAccountId.NotFound", "Account %s does not exist.", accountID)
		}
		if a.Quotas == nil {
			a.Quotas = map[string]int{}
		}
		a.Quotas[name] = int(value)
		return t.put(accountKey(accountID), a)
	})
}

// Quotas reports an account's effective quotas.
func (s *Service) Quotas(ctx context.Context, accountID string) (map[string]int, error) {
	var a Account
	kv, ok, err := s.st.Get(ctx, accountKey(accountID))
	if err != nil {
		return nil, err
	}
	if ok {
		if err := decodeJSON(kv.Value, &a); err != nil {
			return nil, err
		}
	}
	out := make(map[string]int, len(quotaDefaults))
	for name := range quotaDefaults {
		out[name] = s.accountQuota(a, name)
	}
	return out, nil
}

// addServiceLinkedRole records a role on the account once.
func addServiceLinkedRole(t *txn, accountID, role string) error {
	var a Account
	ok, err := t.get(accountKey(accountID), &a)
	if err != nil || !ok || slices.Contains(a.ServiceLinkedRoles, role) {
		return err
	}
	a.ServiceLinkedRoles = append(a.ServiceLinkedRoles, role)
	return t.put(accountKey(accountID), a)
}
