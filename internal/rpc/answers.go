package rpc

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"sort"
	"sync"
)

// answerCache keeps the encoded answers of read actions, keyed by a digest of the
// canonical request (product version, action, account and the parameters that can change
// an answer), all computed at one store revision. Every write bumps the revision, so an
// answer is reused only while nothing at all has changed; polling clients (Terraform
// waits, consoles) then cost little more than the signature check. Memory is bounded by
// the bytes of the answers held: the keys are 32-byte digests whatever the request
// carried, and answers of older revisions are dropped as soon as a newer one is stored.
type answerCache struct {
	revision func(context.Context) (int64, error)
	mu       sync.Mutex
	rev      int64 // the revision every entry was computed at
	entries  map[answerKey][]byte
	order    []answerKey // insertion order, for eviction
	bytes    int         // sum of len(body) over entries
	max      int
}

// answerKey is the SHA-256 of the canonical request.
type answerKey [sha256.Size]byte

// unsignedParams are protocol parameters that do not change an answer.
var unsignedParams = map[string]bool{
	"Signature": true, "SignatureNonce": true, "SignatureMethod": true, "SignatureVersion": true,
	"SignatureType": true, "Timestamp": true, "AccessKeyId": true, "Format": true, "Action": true,
	"Version": true, "SecurityToken": true,
}

func newAnswerCache(revision func(context.Context) (int64, error), maxBytes int) *answerCache {
	return &answerCache{revision: revision, entries: map[answerKey][]byte{}, max: maxBytes}
}

// keyOf digests the request; every field is length-prefixed, so no two requests share a
// canonical form.
func (c *answerCache) keyOf(req *Request) answerKey {
	keys := make([]string, 0, len(req.Params))
	for k := range req.Params {
		if !unsignedParams[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	field := func(s string) {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		h.Write([]byte(s))
	}
	field(req.Product.Version)
	field(req.Action)
	field(req.Identity.AccountID)
	for _, k := range keys {
		field(k)
		field(req.Params[k])
	}
	var key answerKey
	h.Sum(key[:0])
	return key
}

// get returns a cached answer valid at revision rev.
func (c *answerCache) get(key answerKey, rev int64) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rev != c.rev {
		return nil, false
	}
	body, ok := c.entries[key]
	return body, ok
}

// put stores an answer computed at rev. Answers of an older revision than the cache's are
// useless and not kept; a newer revision empties the cache first. An answer larger than a
// sixteenth of the budget is not cached, so one answer cannot flush all others.
func (c *answerCache) put(key answerKey, rev int64, body []byte) {
	if len(body) > c.max/16 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case rev < c.rev:
		return
	case rev > c.rev:
		clear(c.entries)
		c.order, c.bytes, c.rev = c.order[:0], 0, rev
	}
	if old, ok := c.entries[key]; ok {
		c.bytes -= len(old)
	} else {
		c.order = append(c.order, key)
	}
	c.entries[key] = body
	c.bytes += len(body)
	for c.bytes > c.max && len(c.order) > 0 {
		victim := c.order[0]
		c.order = c.order[1:]
		c.bytes -= len(c.entries[victim])
		delete(c.entries, victim)
	}
}
