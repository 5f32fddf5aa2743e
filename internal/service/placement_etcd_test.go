package service

import (
	"errors"
	"testing"
	"time"

	"opencen/internal/apierr"
	"opencen/internal/config"
	"opencen/internal/store"
	"opencen/internal/store/etcdtest"
)

// TestGatewayNodeLiveness: a gateway node is alive exactly while its etcd session lives;
// its record stays after it dies (for operators and for the move's reason) until an admin
// forgets it, which is refused while the node lives.
func TestGatewayNodeLiveness(t *testing.T) {
	etcd := etcdtest.Embedded(t)
	st, err := store.OpenEtcd(store.EtcdConfig{Endpoints: []string{etcd.Endpoint}, Prefix: "/liveness-test/"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := t.Context()
	s := New(Options{Store: st, Config: config.Default()})
	admin := Caller{Admin: true}

	if _, err := s.RegisterGatewayNode(ctx, GatewayNode{Node: "gw-a", Zone: "cn-hangzhou-h"}, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	alive := func() bool {
		t.Helper()
		nodes, err := s.GatewayNodes(ctx)
		if err != nil || len(nodes) != 1 {
			t.Fatalf("GatewayNodes: %v, %v; want gw-a", nodes, err)
		}
		return nodes[0].Alive
	}
	if alive() {
		t.Fatal("a registered node without a session is alive; want dead until it marks itself alive")
	}
	sess, err := st.Session(ctx, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.MarkGatewayNodeAlive(ctx, sess, "gw-a"); err != nil {
		t.Fatal(err)
	}
	if !alive() {
		t.Fatal("a node with a live session is dead; want alive")
	}
	var ae *apierr.Error
	if err := s.ForgetGatewayNode(ctx, admin, "gw-a"); !errors.As(err, &ae) || ae.Code != "IncorrectStatus.GatewayNode" {
		t.Fatalf("forget a live node: %v; want IncorrectStatus.GatewayNode", err)
	}
	if _, err := s.RegisterGatewayNode(ctx, GatewayNode{Node: "gw-a", Zone: "cn-hangzhou-i"}, 10*time.Second); err == nil {
		t.Fatal("a second node took the name of a live node in another zone; want refused")
	}
	if err := sess.Close(); err != nil {
		t.Fatal(err)
	}
	if alive() {
		t.Fatal("a node whose lease was revoked is alive; want dead")
	}
	if err := s.ForgetGatewayNode(ctx, admin, "gw-a"); err != nil {
		t.Fatalf("forget a dead node: %v", err)
	}
	if nodes, err := s.GatewayNodes(ctx); err != nil || len(nodes) != 0 {
		t.Fatalf("after forget: %v, %v; want none", nodes, err)
	}
	if err := s.ForgetGatewayNode(ctx, admin, "gw-a"); !errors.As(err, &ae) || ae.Code != "InvalidGatewayNode.NotFound" {
		t.Fatalf("forget twice: %v; want InvalidGatewayNode.NotFound", err)
	}
}
