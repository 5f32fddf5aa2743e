package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"opencen/internal/store"
	"opencen/internal/store/etcdtest"
)

// rawClient talks to etcd without the store, to look at what the store wrote.
func rawClient(t *testing.T, endpoint string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

func TestEtcdCreateExpiring(t *testing.T) { leaserCases(t, etcdtest.Embedded(t)) }

// TestEtcd34CreateExpiring: the nested transactions and leases work on etcd 3.4 too.
func TestEtcd34CreateExpiring(t *testing.T) { leaserCases(t, etcdtest.Debian(t)) }

func leaserCases(t *testing.T, srv *etcdtest.Server) {
	raw := rawClient(t, srv.Endpoint)
	t.Run("CreateOnce", func(t *testing.T) {
		s := openEtcd(t, srv.Endpoint, "/exp1/")
		ctx := t.Context()
		now := time.Now()
		until := now.Add(15 * time.Minute)
		// More than one transaction's worth, so the batch is split.
		keys := make([]store.ExpiringKey, 300)
		for i := range keys {
			keys[i] = store.ExpiringKey{Key: fmt.Sprintf("/n/%03d", i), Until: until}
		}
		created, err := s.CreateExpiring(ctx, keys[:200])
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range created {
			if !c {
				t.Fatalf("key %d of a fresh batch reported as existing", i)
			}
		}
		created, err = s.CreateExpiring(ctx, keys[100:])
		if err != nil {
			t.Fatal(err)
		}
		if len(created) != 200 {
			t.Fatalf("%d answers for 200 keys", len(created))
		}
		for i, c := range created {
			if want := i >= 100; c != want { // keys 100..199 existed, 200..299 are new
				t.Fatalf("key %d: created = %v, want %v", 100+i, c, want)
			}
		}
		// Every key is bound to a lease that lasts at least until its Until, and not much longer.
		resp, err := raw.Get(ctx, "/exp1//n/", clientv3.WithPrefix())
		if err != nil || len(resp.Kvs) != 300 {
			t.Fatalf("raw listing: %d keys, %v; want 300", len(resp.Kvs), err)
		}
		for _, kv := range []int{0, 150, 299} {
			lease := clientv3.LeaseID(resp.Kvs[kv].Lease)
			ttl, err := raw.TimeToLive(ctx, lease)
			if err != nil {
				t.Fatal(err)
			}
			left := time.Duration(ttl.TTL) * time.Second
			if min := time.Until(until); left < min-time.Second || left > min+2*time.Minute {
				t.Fatalf("key %s: lease %x has %v left, want about %v (at least until its expiry)", resp.Kvs[kv].Key, lease, left, min)
			}
		}
	})
	t.Run("KeysGoWithTheirLease", func(t *testing.T) {
		s := openEtcd(t, srv.Endpoint, "/exp2/")
		ctx := t.Context()
		k := []store.ExpiringKey{{Key: "/n/a", Until: time.Now().Add(time.Minute)}}
		if _, err := s.CreateExpiring(ctx, k); err != nil {
			t.Fatal(err)
		}
		resp, err := raw.Get(ctx, "/exp2//n/a")
		if err != nil || len(resp.Kvs) != 1 {
			t.Fatalf("raw get: %v", err)
		}
		// etcd loses the lease (as after a restore from an older snapshot): the key goes
		// with it, and the store grants a new lease instead of failing.
		if _, err := raw.Revoke(ctx, clientv3.LeaseID(resp.Kvs[0].Lease)); err != nil {
			t.Fatal(err)
		}
		created, err := s.CreateExpiring(ctx, k)
		if err != nil || !created[0] {
			t.Fatalf("CreateExpiring after its lease was revoked = %v, %v; want created anew", created, err)
		}
	})
	t.Run("Session", func(t *testing.T) {
		s := openEtcd(t, srv.Endpoint, "/sess/")
		ctx := t.Context()
		a, err := s.Session(ctx, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.Session(ctx, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		if err := a.Put(ctx, "/members/a", []byte("A")); err != nil {
			t.Fatal(err)
		}
		if err := a.Campaign(ctx, "ctl", []byte("A")); err != nil {
			t.Fatalf("first campaign: %v", err)
		}
		won := make(chan error, 1)
		go func() { won <- b.Campaign(ctx, "ctl", []byte("B")) }()
		select {
		case err := <-won:
			t.Fatalf("second campaign returned (%v) while the first leads", err)
		case <-time.After(500 * time.Millisecond):
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-a.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("Done not closed after Close")
		}
		select {
		case err := <-won:
			if err != nil {
				t.Fatalf("second campaign: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the second campaigner was not elected when the leader closed its session")
		}
		if _, ok, err := s.Get(ctx, "/members/a"); err != nil || ok {
			t.Fatalf("the closed session's key: present %v, %v; want gone", ok, err)
		}
		// The leader's key holds its value, where etcd's election recipe puts it.
		resp, err := raw.Get(ctx, "/sess//cluster/elections/ctl/", clientv3.WithPrefix())
		if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "B" {
			t.Fatalf("election keys %v, %v; want B's alone", resp, err)
		}
	})
	t.Run("SessionLost", func(t *testing.T) {
		s := openEtcd(t, srv.Endpoint, "/lost/")
		ctx := t.Context()
		a, err := s.Session(ctx, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		b, err := s.Session(ctx, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Campaign(ctx, "ctl", []byte("A")); err != nil {
			t.Fatal(err)
		}
		waiting := make(chan error, 1)
		go func() { waiting <- b.Campaign(ctx, "ctl", []byte("B")) }()
		time.Sleep(200 * time.Millisecond)
		// b's lease disappears behind its back: its session ends, and so does its campaign.
		resp, err := raw.Get(ctx, "/lost//cluster/elections/ctl/", clientv3.WithPrefix())
		if err != nil || len(resp.Kvs) != 2 {
			t.Fatalf("election keys: %v, %v", resp, err)
		}
		if _, err := raw.Revoke(ctx, clientv3.LeaseID(resp.Kvs[1].Lease)); err != nil {
			t.Fatal(err)
		}
		select {
		case <-b.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("Done not closed after the session's lease was revoked")
		}
		select {
		case err := <-waiting:
			if err == nil || errors.Is(err, context.Canceled) {
				t.Fatalf("campaign of a lost session = %v, want the session's end", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("campaign did not end with its session")
		}
	})
}

// TestEtcdSessionEndsWithContext: a session whose context ends stops keeping its lease
// alive; etcd then expires it after its TTL.
func TestEtcdSessionEndsWithContext(t *testing.T) {
	srv := etcdtest.Embedded(t)
	s := openEtcd(t, srv.Endpoint, "/ctx/")
	ctx, cancel := context.WithCancel(t.Context())
	a, err := s.Session(ctx, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Put(t.Context(), "/k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-a.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed after the context ended")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, ok, err := s.Get(t.Context(), "/k")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the key of an abandoned session outlived its TTL by 8 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
}
