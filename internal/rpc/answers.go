package rpc

import (
	"context"
	"sort"
	"strings"
	"sync"
)

// answerCache keeps the encoded answers of read actions per (account, action, parameters)
// together with the store revision they were computed at. Every write bumps the
// revision, so an answer is reused only while nothing at all has changed; polling
// clients (Terraform waits, consoles) then cost little more than the signature check.
type answerCache struct {
	revision func(context.Context) (int64, error)
	mu       sync.Mutex
	entries  map[string]answer
	order    []string // insertion order, for eviction
	max      int
}

type answer struct {
	revision int64
	body     []byte // the JSON object without RequestId
}

// unsignedParams are protocol parameters that do not change an answer.
var unsignedParams = map[string]bool{
	"Signature": true, "SignatureNonce": true, "SignatureMethod": true, "SignatureVersion": true,
	"SignatureType": true, "Timestamp": true, "AccessKeyId": true, "Format": true, "Action": true,
	"Version": true, "SecurityToken": true,
}

func answerKey(req *Request) string {
	keys := make([]string, 0, len(req.Params))
	for k := range req.Params {
		if !unsignedParams[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(req.Product.Version + "\x00" + req.Action + "\x00" + req.Identity.AccountID)
	for _, k := range keys {
		b.WriteString("\x00" + k + "=" + req.Params[k])
	}
	return b.String()
}

// get returns a cached answer valid at revision rev.
func (c *answerCache) get(key string, rev int64) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.entries[key]
	if !ok || a.revision != rev {
		return nil, false
	}
	return a.body, true
}

func (c *answerCache) put(key string, rev int64, body []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; !ok {
		for len(c.order) >= c.max {
			delete(c.entries, c.order[0])
			c.order = c.order[1:]
		}
		c.order = append(c.order, key)
	}
	c.entries[key] = answer{revision: rev, body: body}
}
