package cluster

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"opencen/internal/store"
	"opencen/internal/store/etcdtest"
)

type record struct {
	Name   string
	Leader bool
}

// runner is a Member under test: it counts how many of its Leads are running.
type runner struct {
	name    string
	leading atomic.Int32
	terms   atomic.Int32
	stop    context.CancelFunc
	done    chan struct{}
}

func start(t *testing.T, st store.Store, name string, ttl time.Duration) *runner {
	r := &runner{name: name, done: make(chan struct{})}
	m := &Member{Store: st, TTL: ttl, Key: "/members/" + name, Election: "ctl",
		Log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Record: func(leader bool) ([]byte, error) { return json.Marshal(record{name, leader}) },
		Lead: func(ctx context.Context) {
			r.leading.Add(1)
			r.terms.Add(1)
			<-ctx.Done()
			r.leading.Add(-1)
		}}
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = func() { cancel(); <-r.done }
	go func() { defer close(r.done); _ = m.Run(ctx) }()
	t.Cleanup(r.stop)
	return r
}

func records(t *testing.T, st store.Store) map[string]bool {
	t.Helper()
	kvs, _, err := st.List(t.Context(), "/members/")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, kv := range kvs {
		var r record
		if err := json.Unmarshal(kv.Value, &r); err != nil {
			t.Fatal(err)
		}
		out[r.Name] = r.Leader
	}
	return out
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func openEtcd(t *testing.T, endpoint string) *store.Etcd {
	st, err := store.OpenEtcd(store.EtcdConfig{Endpoints: []string{endpoint}, Prefix: "/member-test/"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// TestMembersElectOneLeader: of the members sharing an etcd exactly one leads, each keeps
// its record saying whether it leads, and when the leader stops another takes over at
// once (a clean stop resigns) and the leader's record goes.
func TestMembersElectOneLeader(t *testing.T) {
	etcd := etcdtest.Embedded(t)
	st := openEtcd(t, etcd.Endpoint)
	rs := []*runner{start(t, openEtcd(t, etcd.Endpoint), "a", 5*time.Second), start(t, st, "b", 5*time.Second), start(t, openEtcd(t, etcd.Endpoint), "c", 5*time.Second)}
	leaders := func() (n int, who *runner) {
		for _, r := range rs {
			if r.leading.Load() > 0 {
				n++
				who = r
			}
		}
		return n, who
	}
	eventually(t, "one member leads and all three are recorded", func() bool {
		n, _ := leaders()
		return n == 1 && len(records(t, st)) == 3
	})
	_, first := leaders()
	eventually(t, "the records say who leads", func() bool {
		recs := records(t, st)
		for _, r := range rs {
			if recs[r.name] != (r == first) {
				return false
			}
		}
		return true
	})
	first.stop()
	eventually(t, "another member leads", func() bool { n, who := leaders(); return n == 1 && who != first })
	_, second := leaders()
	eventually(t, "the stopped leader's record is gone and the new leader's says so", func() bool {
		recs := records(t, st)
		_, old := recs[first.name]
		return !old && recs[second.name] && len(recs) == 2
	})
	for _, r := range rs {
		if r.leading.Load() > 1 {
			t.Fatalf("%s runs %d Leads at once", r.name, r.leading.Load())
		}
	}
}

// TestMemberLosesLease: a leader whose lease disappears (etcd expired it: the member was
// cut off longer than its TTL) stops its Lead, joins again, and leads again as the only
// member.
func TestMemberLosesLease(t *testing.T) {
	etcd := etcdtest.Embedded(t)
	st := openEtcd(t, etcd.Endpoint)
	r := start(t, st, "a", 5*time.Second)
	eventually(t, "the member leads", func() bool { return r.leading.Load() == 1 })
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{etcd.Endpoint}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	resp, err := cli.Get(t.Context(), "/member-test//members/a")
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("member record: %v, %v", resp, err)
	}
	if _, err := cli.Revoke(t.Context(), clientv3.LeaseID(resp.Kvs[0].Lease)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the member leads again in a second term", func() bool { return r.terms.Load() == 2 && r.leading.Load() == 1 })
	if !records(t, st)["a"] {
		t.Fatal("the member's record is missing or does not say it leads")
	}
}

// TestMemberAlone: on bbolt the one member leads at once; its record replaces one a
// killed process left behind, and goes when it stops.
func TestMemberAlone(t *testing.T) {
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "opencen.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stale, _ := json.Marshal(record{"killed", true})
	if _, err := st.Txn(t.Context(), nil, []store.Op{store.Put("/members/killed", stale)}); err != nil {
		t.Fatal(err)
	}
	r := start(t, st, "a", 0)
	eventually(t, "the member leads", func() bool { return r.leading.Load() == 1 })
	if recs := records(t, st); len(recs) != 1 || !recs["a"] {
		t.Fatalf("records %v; want a alone, leading", recs)
	}
	r.stop()
	if recs := records(t, st); len(recs) != 0 {
		t.Fatalf("records after the stop: %v; want none", recs)
	}
}
