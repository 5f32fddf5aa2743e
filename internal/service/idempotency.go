package service

import (
	"context"
	"encoding/json"
	"time"
	"unicode"

	"opencen/internal/apierr"
	"opencen/internal/store"
)

// tokenRecord remembers the result of a request made with a ClientToken.
type tokenRecord struct {
	Result  json.RawMessage `json:"result"`
	Created time.Time       `json:"created"`
}

// TokenTTL is how long a ClientToken is remembered (at least the 24 hours clients rely on).
const TokenTTL = 48 * time.Hour

func tokenKey(account, action, token string) string {
	return tokenPrefix + account + "/" + action + "/" + token
}

// CheckClientToken validates a ClientToken: at most 64 printable ASCII characters.
func CheckClientToken(token string) error {
	if len(token) > 64 {
		return apierr.Invalid("ClientToken", "ClientToken must be at most 64 ASCII characters; got %d.", len(token))
	}
	for _, r := range token {
		if r > unicode.MaxASCII || !unicode.IsPrint(r) {
			return apierr.Invalid("ClientToken", "ClientToken must contain printable ASCII characters only.")
		}
	}
	return nil
}

// idempotent runs a create-style operation whose result is remembered under the
// caller's ClientToken in the same transaction as its writes, so a retry with the same
// token (also after a crash or restart) returns the first result instead of repeating it.
func idempotent[R any](ctx context.Context, s *Service, c Caller, action, token string, fn func(t *txn) (R, error)) (R, error) {
	var out R
	if err := CheckClientToken(token); err != nil {
		return out, err
	}
	err := s.update(ctx, func(t *txn) error {
		if token != "" {
			var rec tokenRecord
			found, err := t.get(tokenKey(c.AccountID, action, token), &rec)
			if err != nil {
				return err
			}
			if found && s.now().Sub(rec.Created) < TokenTTL {
				return json.Unmarshal(rec.Result, &out)
			}
		}
		r, err := fn(t)
		if err != nil {
			return err
		}
		out = r
		if token != "" {
			raw, err := json.Marshal(r)
			if err != nil {
				return err
			}
			return t.put(tokenKey(c.AccountID, action, token), tokenRecord{Result: raw, Created: s.now().UTC()})
		}
		return nil
	})
	return out, err
}

// GC forgets what has expired: ClientTokens older than TokenTTL and the console
// sign-outs of sessions that have expired anyway. It returns how many records went.
func (s *Service) GC(ctx context.Context) (int, error) {
	tokens, err := s.gcExpired(ctx, tokenPrefix, func(raw []byte) bool {
		var rec tokenRecord
		return json.Unmarshal(raw, &rec) == nil && s.now().Sub(rec.Created) < TokenTTL
	})
	if err != nil {
		return tokens, err
	}
	signOuts, err := s.gcExpired(ctx, signOutPrefix, func(raw []byte) bool {
		var rec signOutRecord
		return json.Unmarshal(raw, &rec) == nil && s.now().Before(rec.Until)
	})
	return tokens + signOuts, err
}

// gcExpired deletes the records under prefix that live says are over (or that do not
// decode), each only while it is still the value listed. No cache depends on these
// records, so they go without the revision keys.
func (s *Service) gcExpired(ctx context.Context, prefix string, live func(raw []byte) bool) (int, error) {
	kvs, _, err := s.st.List(ctx, prefix)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, kv := range kvs {
		if live(kv.Value) {
			continue
		}
		res, err := s.st.Txn(ctx, []store.Cmp{{Key: kv.Key, ModRevision: kv.ModRevision}}, []store.Op{store.Delete(kv.Key)})
		if err != nil {
			return n, err
		}
		if res.Succeeded {
			n++
		}
	}
	return n, nil
}
