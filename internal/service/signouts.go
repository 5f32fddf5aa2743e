package service

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"opencen/internal/store"
)

// Console sessions ended by Sign out are kept in the store, so every server sharing it
// refuses a signed-out cookie: /signouts/<name>, the name a hash of the cookie (never the
// cookie itself), until the session would have expired anyway. They are not desired
// state: written without the revision keys, so no cache is invalidated by a sign-out.
// GC forgets them once they are over.
const signOutPrefix = "/signouts/"

type signOutRecord struct {
	Until time.Time `json:"until"`
}

// SignOut records that the console session named session has ended; it stays refused
// until until.
func (s *Service) SignOut(ctx context.Context, session string, until time.Time) error {
	raw, err := json.Marshal(signOutRecord{Until: until.UTC()})
	if err != nil {
		return err
	}
	if _, err := s.st.Txn(ctx, nil, []store.Op{store.Put(signOutPrefix+session, raw)}); err != nil {
		return fmt.Errorf("record sign-out: %w", err)
	}
	return nil
}

// SignedOut reports whether the console session named session was signed out (on any
// server sharing the store).
func (s *Service) SignedOut(ctx context.Context, session string) (bool, error) {
	kv, ok, err := s.st.Get(ctx, signOutPrefix+session)
	if err != nil || !ok {
		return false, err
	}
	var rec signOutRecord
	if err := json.Unmarshal(kv.Value, &rec); err != nil {
		return true, nil // a record was written for this session: it ended
	}
	return s.now().Before(rec.Until), nil
}
