package service

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"opencen/internal/config"
	"opencen/internal/model"
	"opencen/internal/store"
	"opencen/internal/store/etcdtest"
)

// TestReportCountersEtcdMove: on etcd, 200 attachments' readings in one report fit its
// transactions (etcd refuses more than store.MaxTxnOps operations); a transit router that
// moved to another node (a new epoch there) while the old node sends its last readings,
// both at once, is counted exactly once per byte.
func TestReportCountersEtcdMove(t *testing.T) {
	etcd := etcdtest.Embedded(t)
	st, err := store.OpenEtcd(store.EtcdConfig{Endpoints: []string{etcd.Endpoint}, Prefix: "/meter-test/"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := t.Context()
	now := time.Date(2026, 11, 3, 10, 30, 0, 0, time.UTC)
	nodeA := New(Options{Store: st, Config: config.Default(), Now: func() time.Time { return now }})
	nodeB := New(Options{Store: st, Config: config.Default(), Now: func() time.Time { return now }})
	const n = 200
	att := func(i int) string { return fmt.Sprintf("tr-attach-%03d", i) }
	err = nodeA.update(ctx, func(tx *txn) error {
		return tx.put(resKey(model.KindTR, "tr-1"), &model.TransitRouter{Meta: model.Meta{ID: "tr-1", Owner: "A", Region: "cn-hangzhou", Status: "Active"}})
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i += 50 {
		err := nodeA.update(ctx, func(tx *txn) error {
			for j := i; j < i+50; j++ {
				a := &model.VpnAttachment{Meta: model.Meta{ID: att(j), Owner: "A", Status: model.AttachmentAttached}, TransitRouterID: "tr-1"}
				if err := tx.put(resKey(model.KindVpnAttachment, a.ID), a); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	readings := func(node, epoch string, bytes uint64) []CounterReading {
		out := make([]CounterReading, n)
		for i := range out {
			out[i] = CounterReading{Attachment: att(i), Node: node, Epoch: epoch, At: now, Raw: Traffic{InBytes: bytes, OutBytes: bytes / 2}}
		}
		return out
	}
	if err := nodeA.ReportCounters(ctx, readings("a", "e1", 1000)); err != nil {
		t.Fatalf("200 readings in one report on etcd: %v", err)
	}
	// The router moves: node B's new namespace counts from zero in e2 while node A sends
	// e1's last reading (1500), concurrently.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Go(func() { errs[0] = nodeA.ReportCounters(ctx, readings("a", "e1", 1500)) })
	wg.Go(func() { errs[1] = nodeB.ReportCounters(ctx, readings("b", "e2", 300)) })
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("concurrent reports: %v", errs)
	}
	if err := nodeB.ReportCounters(ctx, readings("b", "e2", 700)); err != nil {
		t.Fatal(err)
	}
	recs, err := nodeB.Counters(ctx, Caller{Admin: true})
	if err != nil || len(recs) != n {
		t.Fatalf("counters: %d records, %v", len(recs), err)
	}
	for _, r := range recs {
		if r.Total.InBytes != 1500+700 || r.Total.OutBytes != 750+350 {
			t.Fatalf("%s: total %+v; want 2200 in, 1100 out", r.Attachment, r.Total)
		}
	}
	usage, err := nodeA.Usage(ctx, Caller{AccountID: "A"}, "", now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil || len(usage) != n {
		t.Fatalf("usage: %d records, %v", len(usage), err)
	}
	for _, u := range usage {
		if u.InBytes != 2200 {
			t.Fatalf("usage of %s: %+v; want 2200 bytes in", u.Instance, u)
		}
	}
}
