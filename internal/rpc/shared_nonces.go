package rpc

import (
	"context"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"opencen/internal/store"
)

// NonceStore is where the servers of a cluster spend nonces: store.Leaser's
// CreateExpiring (etcd), whose keys the store deletes once they have expired.
type NonceStore interface {
	CreateExpiring(ctx context.Context, keys []store.ExpiringKey) (created []bool, err error)
}

// NoncePrefix is where spent nonces are kept in a shared store: /nonces/<hex of the
// 16-byte hash of (AccessKeyId, nonce)>, never the nonce itself.
const NoncePrefix = "/nonces/"

// Group commit of shared nonces: a request whose nonce finds no claim in flight starts
// one at once (a lone request waits one store round trip); requests arriving while
// nonceClaimers claims are in flight queue up and go together in the next one, up to
// nonceBatch per claim (what one etcd transaction takes).
const (
	nonceClaimers = 2
	nonceBatch    = 127
)

// sharedNonces spends nonces in a store every server of a cluster shares, so that a
// request replayed to another server is refused too. The local NonceCache stays in front:
// a replay to the same server is refused without a round trip, and concurrent requests
// with one nonce reach the store once.
type sharedNonces struct {
	st      NonceStore
	life    context.Context
	stop    context.CancelFunc
	mu      sync.Mutex
	queue   []*nonceClaim
	running int // claims in flight
}

type nonceClaim struct {
	key   store.ExpiringKey
	done  chan struct{}
	fresh bool
	err   error
}

func newSharedNonces(st NonceStore) *sharedNonces {
	life, stop := context.WithCancel(context.Background())
	return &sharedNonces{st: st, life: life, stop: stop}
}

// start queues the claim of key, to be kept until until, and returns at once; its wait
// says how it went.
func (n *sharedNonces) start(key nonceKey, until time.Time) *nonceClaim {
	c := &nonceClaim{key: store.ExpiringKey{Key: NoncePrefix + hex.EncodeToString(key[:]), Until: until}, done: make(chan struct{})}
	n.mu.Lock()
	n.queue = append(n.queue, c)
	start := n.running < nonceClaimers
	if start {
		n.running++
	}
	n.mu.Unlock()
	if start {
		go n.claim()
	}
	return c
}

// wait returns the claim's outcome: nil when this claim recorded the nonce, ErrNonceUsed
// when some server recorded it first. Any other error means the store could not say (it
// is unreachable): the request must not run, and a retry may ask again.
func (c *nonceClaim) wait(ctx context.Context) error {
	select {
	case <-c.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	switch {
	case c.err != nil:
		return fmt.Errorf("spend nonce: %w", c.err)
	case !c.fresh:
		return ErrNonceUsed
	}
	return nil
}

// claim sends the queued nonces to the store, a batch at a time, until none are left.
func (n *sharedNonces) claim() {
	for {
		n.mu.Lock()
		if len(n.queue) == 0 {
			n.running--
			n.queue = nil // let the drained array go
			n.mu.Unlock()
			return
		}
		batch := n.queue[:min(len(n.queue), nonceBatch)]
		n.queue = n.queue[len(batch):]
		n.mu.Unlock()
		keys := make([]store.ExpiringKey, len(batch))
		for i, c := range batch {
			keys[i] = c.key
		}
		created, err := n.st.CreateExpiring(n.life, keys)
		if err == nil && len(created) != len(batch) {
			err = fmt.Errorf("the store answered %d of %d nonces", len(created), len(batch))
		}
		for i, c := range batch {
			c.err = err
			c.fresh = err == nil && created[i]
			close(c.done)
		}
	}
}

// close ends the claims in flight (their requests fail).
func (n *sharedNonces) close() { n.stop() }
