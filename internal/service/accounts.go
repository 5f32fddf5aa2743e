package service

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"time"

	"opencen/internal/apierr"
	"opencen/internal/store"
)

// Account is a tenant. IDs are 16-digit numbers, as Alibaba's.
type Account struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Admin   bool      `json:"admin"`
	Created time.Time `json:"created"`
	// Quotas override the configured defaults for this account.
	Quotas map[string]int `json:"quotas,omitempty"`
	// ServiceLinkedRoles records roles created on the account's behalf (e.g. AliyunServiceRoleForVpn).
	ServiceLinkedRoles []string `json:"serviceLinkedRoles,omitempty"`
}

// AccessKey is an account's key pair; the secret is sealed at rest.
type AccessKey struct {
	ID        string    `json:"id"`
	AccountID string    `json:"accountId"`
	Sealed    string    `json:"sealed"`
	Status    string    `json:"status"` // Active | Inactive
	Created   time.Time `json:"created"`
}

// Key statuses.
const (
	KeyActive   = "Active"
	KeyInactive = "Inactive"
)

// Credentials is a new key pair as handed to its owner, once.
type Credentials struct {
	AccountID       string `json:"AccountId"`
	AccessKeyID     string `json:"AccessKeyId"`
	AccessKeySecret string `json:"AccessKeySecret"`
}

func accountKey(id string) string { return accountPrefix + id }
func akKey(id string) string      { return keyPrefix + id }

// newAccessKey is an active key with its secret sealed.
func (s *Service) newAccessKey(id, accountID, secret string) AccessKey {
	return AccessKey{ID: id, AccountID: accountID, Sealed: s.box.Seal(secret), Status: KeyActive, Created: s.now().UTC()}
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randomFrom(alphabet string, n int) string {
	b := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err) // crypto/rand never fails on Linux
		}
		b[i] = alphabet[v.Int64()]
	}
	return string(b)
}

// newAccountID starts with 1, as Alibaba's do, which keeps IDs below 2^53: clients that
// decode JSON numbers as float64 (Terraform's) read them exactly.
func newAccountID() string { return "1" + randomFrom("0123456789", 15) }
func newKeyID() string     { return "LTAI" + randomFrom(alnum, 20) }
func newSecret() string    { return randomFrom(alnum, 30) }

// NewAccessKey generates an access key ID and secret, as CreateAccount hands out.
func NewAccessKey() (id, secret string) { return newKeyID(), newSecret() }

// bootstrapMarker records which admin key the store was bootstrapped with.
type bootstrapMarker struct {
	AccountID   string `json:"accountId"`
	AccessKeyID string `json:"accessKeyId"`
}

// Bootstrap creates the admin account, with access key keyID/secret, on a store without
// accounts. created reports whether the store's admin was created with keyID (by this
// call or an earlier one): with a freshly generated key, true means this server made the
// admin and must hand the key over, even when a first attempt's outcome was unknown (etcd
// timed out) and a repeat found it applied. Servers starting at once on one store (etcd)
// race through a marker key created in the same transaction as the account, so exactly
// one creates it.
func (s *Service) Bootstrap(ctx context.Context, keyID, secret string) (creds Credentials, created bool, err error) {
	if keyID == "" || secret == "" {
		return Credentials{}, false, errors.New("bootstrap: the admin access key ID and secret must be given")
	}
	var marker bootstrapMarker
	err = s.update(ctx, func(t *txn) error {
		created = false
		done, err := t.get(bootstrapKey, &marker)
		switch {
		case err != nil:
			return err
		case !done:
			created, err = s.bootstrap(t, &marker, keyID, secret)
			return err
		case marker.AccessKeyID != keyID:
			return nil
		}
		// Same key ID: the same admin only if the secret is the same too.
		var ak AccessKey
		ok, err := t.get(akKey(keyID), &ak)
		if err != nil || !ok {
			return err
		}
		got, err := s.box.Open(ak.Sealed)
		created = err == nil && got == secret
		return nil
	})
	if err != nil || !created {
		return Credentials{}, false, err
	}
	return Credentials{AccountID: marker.AccountID, AccessKeyID: keyID, AccessKeySecret: secret}, true, nil
}

// bootstrap writes the marker, the admin account and its key in t, unless accounts exist
// (stores bootstrapped before the marker existed have accounts but no marker).
func (s *Service) bootstrap(t *txn, marker *bootstrapMarker, keyID, secret string) (bool, error) {
	if kvs, err := t.list(accountPrefix); err != nil || len(kvs) > 0 {
		return false, err
	}
	acct := Account{ID: newAccountID(), Name: "admin", Admin: true, Created: s.now().UTC()}
	*marker = bootstrapMarker{AccountID: acct.ID, AccessKeyID: keyID}
	if err := t.create(bootstrapKey, *marker); err != nil {
		return false, err
	}
	if err := t.create(accountKey(acct.ID), acct); err != nil {
		return false, err
	}
	return true, t.create(akKey(keyID), s.newAccessKey(keyID, acct.ID, secret))
}

// secretCheck is sealed with the secret key by the first server on a store; the others
// must open it with theirs.
const secretCheck = "opencen secret key check"

// CheckSecretKey makes sure this server seals with the key the store's secrets were sealed
// with: on a store shared by several servers (etcd) each must be given the same key file,
// and a server with another key would only fail later, opening PSKs and access keys.
func (s *Service) CheckSecretKey(ctx context.Context) error {
	return s.update(ctx, func(t *txn) error {
		var sealed string
		ok, err := t.get(secretCheckKey, &sealed)
		if err != nil {
			return err
		}
		if !ok {
			return t.create(secretCheckKey, s.box.Seal(secretCheck))
		}
		if got, err := s.box.Open(sealed); err != nil || got != secretCheck {
			return errors.New("the secret key is not the one this store's secrets are sealed with: give every server of the cluster the same --secret-key-file (copy the first server's)")
		}
		return nil
	})
}

// Key is what a signature check needs to know about an access key.
type Key struct {
	Caller Caller
	Secret string
	// RequestsPerSecond and Burst throttle the key: its account's api-requests-per-second
	// and api-request-burst quotas.
	RequestsPerSecond, Burst int
}

// keyEntry is a looked-up key, valid while neither the key nor its account (its quotas
// included) has changed.
type keyEntry struct {
	keyMod, accountMod int64 // their ModRevisions when looked up
	key                Key
}

// LookupKey returns what signature checks need about an AccessKeyId. Every request needs
// it, so the answer is reused while the key and its account are unchanged (which covers
// disabling or deleting either, and changing the account's quotas), confirmed by one
// guarded read of both: on etcd one round trip, shared by concurrent requests, whatever
// else is written.
func (s *Service) LookupKey(ctx context.Context, keyID string) (Key, error) {
	if v, ok := s.keys.Load(keyID); ok {
		e, ok := v.(keyEntry)
		if !ok {
			return Key{}, fmt.Errorf("key cache: unexpected %T", v)
		}
		res, err := s.st.Txn(ctx, []store.Cmp{{Key: akKey(keyID), ModRevision: e.keyMod}, {Key: accountKey(e.key.Caller.AccountID), ModRevision: e.accountMod}}, nil)
		if err != nil {
			return Key{}, err
		}
		if res.Succeeded {
			return e.key, nil
		}
	}
	e, err := s.lookupKey(ctx, keyID)
	if err != nil {
		return Key{}, err
	}
	s.keys.Store(keyID, e)
	return e.key, nil
}

// PeekKey returns what LookupKey last found about keyID, without confirming it is still
// current (ok=false when nothing is cached). A caller that acts on it must still call
// LookupKey before it trusts the key: it only lets work that needs the secret (checking a
// signature) start before the confirmation arrives.
func (s *Service) PeekKey(keyID string) (Key, bool) {
	v, ok := s.keys.Load(keyID)
	if !ok {
		return Key{}, false
	}
	e, ok := v.(keyEntry)
	return e.key, ok
}

func (s *Service) lookupKey(ctx context.Context, keyID string) (keyEntry, error) {
	kv, ok, err := s.st.Get(ctx, akKey(keyID))
	if err != nil {
		return keyEntry{}, err
	}
	if !ok {
		return keyEntry{}, apierr.New("InvalidAccessKeyId.NotFound", "Specified access key is not found: %s.", keyID)
	}
	var k AccessKey
	if err := decodeJSON(kv.Value, &k); err != nil {
		return keyEntry{}, err
	}
	if k.Status != KeyActive {
		return keyEntry{}, apierr.New("InvalidAccessKeyId.Inactive", "Specified access key %s is disabled; enable it or use another key.", keyID)
	}
	acct, accountMod, err := s.accountAt(ctx, k.AccountID)
	if err != nil {
		return keyEntry{}, err
	}
	secret, err := s.box.Open(k.Sealed)
	if err != nil {
		return keyEntry{}, fmt.Errorf("open key %s: %w", keyID, err)
	}
	return keyEntry{keyMod: kv.ModRevision, accountMod: accountMod, key: Key{Caller: Caller{AccountID: acct.ID, Admin: acct.Admin}, Secret: secret,
		RequestsPerSecond: s.accountQuota(acct, QuotaAPIRequestsPerSecond), Burst: s.accountQuota(acct, QuotaAPIRequestBurst)}}, nil
}

func (s *Service) account(ctx context.Context, id string) (Account, error) {
	a, _, err := s.accountAt(ctx, id)
	return a, err
}

// accountAt reads an account and the ModRevision it was read at.
func (s *Service) accountAt(ctx context.Context, id string) (Account, int64, error) {
	kv, ok, err := s.st.Get(ctx, accountKey(id))
	if err != nil {
		return Account{}, 0, err
	}
	if !ok {
		return Account{}, 0, apierr.New("InvalidAccountId.NotFound", "Account %s does not exist.", id)
	}
	var a Account
	return a, kv.ModRevision, decodeJSON(kv.Value, &a)
}

func requireAdmin(c Caller) error {
	if !c.Admin {
		return apierr.New("Forbidden.NotAdmin", "Only the admin account may manage accounts, keys and quotas.")
	}
	return nil
}

// CreateAccount makes a tenant account with one access key.
func (s *Service) CreateAccount(ctx context.Context, c Caller, name string) (Credentials, error) {
	if err := requireAdmin(c); err != nil {
		return Credentials{}, err
	}
	if name == "" {
		return Credentials{}, apierr.Missing("Name")
	}
	if len(name) > 64 {
		return Credentials{}, apierr.Invalid("Name", "Name must be 1 to 64 characters long.")
	}
	acct := Account{ID: newAccountID(), Name: name, Created: s.now().UTC()}
	creds := Credentials{AccountID: acct.ID, AccessKeyID: newKeyID(), AccessKeySecret: newSecret()}
	err := s.update(ctx, func(t *txn) error {
		if err := t.create(accountKey(acct.ID), acct); err != nil {
			return err
		}
		return t.create(akKey(creds.AccessKeyID), s.newAccessKey(creds.AccessKeyID, acct.ID, creds.AccessKeySecret))
	})
	return creds, err
}

// CreateAccessKey adds a key to an account.
func (s *Service) CreateAccessKey(ctx context.Context, c Caller, accountID string) (Credentials, error) {
	if err := requireAdmin(c); err != nil {
		return Credentials{}, err
	}
	if accountID == "" {
		return Credentials{}, apierr.Missing("AccountId")
	}
	creds := Credentials{AccountID: accountID, AccessKeyID: newKeyID(), AccessKeySecret: newSecret()}
	err := s.update(ctx, func(t *txn) error {
		var a Account
		if ok, err := t.get(accountKey(accountID), &a); err != nil {
			return err
		} else if !ok {
			return apierr.New("InvalidAccountId.NotFound", "Account %s does not exist.", accountID)
		}
		return t.create(akKey(creds.AccessKeyID), s.newAccessKey(creds.AccessKeyID, accountID, creds.AccessKeySecret))
	})
	return creds, err
}

// SetAccessKeyStatus enables or disables a key. The admin account's last active key cannot
// be disabled.
func (s *Service) SetAccessKeyStatus(ctx context.Context, c Caller, keyID, status string) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	if status != KeyActive && status != KeyInactive {
		return apierr.Invalid("Status", "Status must be Active or Inactive; got %q.", status)
	}
	return s.update(ctx, func(t *txn) error {
		k, err := getKey(t, keyID)
		if err != nil {
			return err
		}
		if status == KeyInactive {
			if err := refuseLastAdminKey(t, k); err != nil {
				return err
			}
		}
		k.Status = status
		return t.put(akKey(keyID), k)
	})
}

// refuseLastAdminKey keeps the admin account at least one active key: without one, every
// admin call is refused from then on (opencen admin recover is the way back).
func refuseLastAdminKey(t *txn, k AccessKey) error {
	if k.Status != KeyActive {
		return nil
	}
	var a Account
	if ok, err := t.get(accountKey(k.AccountID), &a); err != nil || !ok || !a.Admin {
		return err
	}
	kvs, err := t.list(keyPrefix)
	if err != nil {
		return err
	}
	active := 0
	for _, kv := range kvs {
		var o AccessKey
		if decodeJSON(kv.Value, &o) == nil && o.AccountID == k.AccountID && o.Status == KeyActive {
			active++
		}
	}
	if active <= 1 {
		return apierr.New("OperationDenied.LastAdminKey", "Key %s is the admin account's last active key; create another key first.", k.ID)
	}
	return nil
}

// RecoverAdmin gives the admin account a new active key, for an operator who has lost every
// admin key: opencen admin recover runs it with the server stopped, on the data directory.
func (s *Service) RecoverAdmin(ctx context.Context) (Credentials, error) {
	kvs, _, err := s.st.List(ctx, accountPrefix)
	if err != nil {
		return Credentials{}, err
	}
	for _, kv := range kvs {
		var a Account
		if decodeJSON(kv.Value, &a) != nil || !a.Admin {
			continue
		}
		creds := Credentials{AccountID: a.ID, AccessKeyID: newKeyID(), AccessKeySecret: newSecret()}
		return creds, s.update(ctx, func(t *txn) error {
			return t.create(akKey(creds.AccessKeyID), s.newAccessKey(creds.AccessKeyID, a.ID, creds.AccessKeySecret))
		})
	}
	return Credentials{}, errors.New("no admin account in the store (an empty data directory is bootstrapped by the first server start)")
}

// DeleteAccessKey removes a key. The admin account keeps at least one active key.
func (s *Service) DeleteAccessKey(ctx context.Context, c Caller, keyID string) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	return s.update(ctx, func(t *txn) error {
		k, err := getKey(t, keyID)
		if err != nil {
			return err
		}
		if err := refuseLastAdminKey(t, k); err != nil {
			return err
		}
		t.del(akKey(keyID))
		return nil
	})
}

func getKey(t *txn, keyID string) (AccessKey, error) {
	if keyID == "" {
		return AccessKey{}, apierr.Missing("UserAccessKeyId")
	}
	var k AccessKey
	ok, err := t.get(akKey(keyID), &k)
	if err != nil {
		return k, err
	}
	if !ok {
		return k, apierr.New("InvalidAccessKeyId.NotFound", "Specified access key is not found: %s.", keyID)
	}
	return k, nil
}

// AccountInfo is an account as the admin sees it.
type AccountInfo struct {
	Account
	AccessKeys []AccessKeyInfo `json:"AccessKeys"`
}

// AccessKeyInfo is a key without its secret.
type AccessKeyInfo struct {
	AccessKeyID string    `json:"AccessKeyId"`
	Status      string    `json:"Status"`
	Created     time.Time `json:"CreateTime"`
}

// DescribeAccount shows an account, its keys (no secrets) and its service-linked roles.
func (s *Service) DescribeAccount(ctx context.Context, c Caller, accountID string) (AccountInfo, error) {
	if accountID == "" {
		accountID = c.AccountID
	}
	if accountID != c.AccountID {
		if err := requireAdmin(c); err != nil {
			return AccountInfo{}, err
		}
	}
	a, err := s.account(ctx, accountID)
	if err != nil {
		return AccountInfo{}, err
	}
	kvs, _, err := s.st.List(ctx, keyPrefix)
	if err != nil {
		return AccountInfo{}, err
	}
	info := AccountInfo{Account: a, AccessKeys: []AccessKeyInfo{}}
	for _, kv := range kvs {
		var k AccessKey
		if decodeJSON(kv.Value, &k) == nil && k.AccountID == a.ID {
			info.AccessKeys = append(info.AccessKeys, AccessKeyInfo{AccessKeyID: k.ID, Status: k.Status, Created: k.Created})
		}
	}
	return info, nil
}
