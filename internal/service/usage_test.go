package service

import (
	"path/filepath"
	"testing"
	"time"

	"opencen/internal/config"
	"opencen/internal/model"
	"opencen/internal/store"
)

// meterWorld is a store with one transit router of account A (cn-hangzhou) and one VPN
// attachment of A to a public IPsec-VPN connection of account B (cross-account).
func meterWorld(t *testing.T, cfg config.Config, now *time.Time) *Service {
	t.Helper()
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "opencen.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := New(Options{Store: st, Config: cfg, Now: func() time.Time { return *now }})
	err = s.update(t.Context(), func(tx *txn) error {
		for key, v := range map[string]any{
			resKey(model.KindTR, "tr-1"): &model.TransitRouter{Meta: model.Meta{ID: "tr-1", Owner: "A", Region: "cn-hangzhou", Status: "Active"}},
			resKey(model.KindVpnAttachment, "tr-attach-1"): &model.VpnAttachment{Meta: model.Meta{ID: "tr-attach-1", Owner: "A", Status: model.AttachmentAttached},
				TransitRouterID: "tr-1", VpnID: "vco-1", VpnOwner: "B"},
			resKey(model.KindVpnConnection, "vco-1"): &model.VpnConnection{Meta: model.Meta{ID: "vco-1", Owner: "B", Region: "cn-hangzhou", Status: "attached"}, NetworkType: "public"},
		} {
			if err := tx.put(key, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestReportCountersResets: raw readings are counted once across duplicates, new epochs
// (a router namespace made anew) and a late last reading of an old epoch; the attachment's
// account gets the bytes into the router, the connection's account the bytes toward the
// data center, each in the hour they were read; unknown attachments are dropped.
func TestReportCountersResets(t *testing.T) {
	now := time.Date(2026, 11, 3, 10, 30, 0, 0, time.UTC)
	s := meterWorld(t, config.Default(), &now)
	ctx := t.Context()
	at := func(min int) time.Time {
		return time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC).Add(time.Duration(min) * time.Minute)
	}
	read := func(epoch string, in, out uint64, when time.Time) CounterReading {
		return CounterReading{Attachment: "tr-attach-1", Node: "n1", Epoch: epoch, At: when,
			Raw: Traffic{InBytes: in, InPackets: in / 100, OutBytes: out, OutPackets: out / 100}}
	}
	steps := []struct {
		name    string
		r       []CounterReading
		in, out uint64
	}{
		{"first", []CounterReading{read("e1", 1000, 500, at(1))}, 1000, 500},
		{"growth", []CounterReading{read("e1", 3000, 2000, at(2))}, 3000, 2000},
		{"same again", []CounterReading{read("e1", 3000, 2000, at(3))}, 3000, 2000},
		{"new epoch", []CounterReading{read("e2", 100, 50, at(4))}, 3100, 2050},
		{"late last reading of e1", []CounterReading{read("e1", 3500, 2200, at(5))}, 3600, 2250},
		{"e2 grows next hour", []CounterReading{read("e2", 400, 250, at(65))}, 3900, 2450},
		{"unknown attachment", []CounterReading{{Attachment: "tr-attach-x", Epoch: "e1", Raw: Traffic{InBytes: 7}, At: at(66)}}, 3900, 2450},
	}
	for _, st := range steps {
		if err := s.ReportCounters(ctx, st.r); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		recs, err := s.Counters(ctx, Caller{Admin: true})
		if err != nil || len(recs) != 1 {
			t.Fatalf("%s: counters %+v, %v; want one record", st.name, recs, err)
		}
		if r := recs[0]; r.Total.InBytes != st.in || r.Total.OutBytes != st.out {
			t.Errorf("%s: total in %d out %d; want %d, %d", st.name, r.Total.InBytes, r.Total.OutBytes, st.in, st.out)
		}
	}
	// Hourly usage: hour 10 has everything up to minute 5, hour 11 the rest.
	h10, h11 := at(0), at(60)
	want := map[string]map[time.Time]Traffic{
		"A": {h10: {InBytes: 3600, InPackets: 36, OutBytes: 2250, OutPackets: 22}, h11: {InBytes: 300, InPackets: 3, OutBytes: 200, OutPackets: 2}},
		"B": {h10: {InBytes: 3600, InPackets: 36, OutBytes: 2250, OutPackets: 22}, h11: {InBytes: 300, InPackets: 3, OutBytes: 200, OutPackets: 2}},
	}
	wantInstance := map[string]string{"A": "tr-attach-1", "B": "vco-1"}
	for acct, hours := range want {
		recs, err := s.Usage(ctx, Caller{AccountID: acct}, "", h10, h11.Add(time.Hour))
		if err != nil || len(recs) != 2 {
			t.Fatalf("usage of %s: %+v, %v; want two hours", acct, recs, err)
		}
		for _, u := range recs {
			// Packet counts are per reading's integer division: compare bytes exactly.
			if u.Instance != wantInstance[acct] || u.InBytes != hours[u.Hour].InBytes || u.OutBytes != hours[u.Hour].OutBytes {
				t.Errorf("usage of %s at %s: %+v; want %s with %+v", acct, u.Hour, u, wantInstance[acct], hours[u.Hour])
			}
		}
	}
	// Another account sees no counters and no usage; B sees the counters of its connection.
	if recs, _ := s.Counters(ctx, Caller{AccountID: "C"}); len(recs) != 0 {
		t.Errorf("account C sees counters %+v", recs)
	}
	if recs, _ := s.Usage(ctx, Caller{AccountID: "C"}, "A", h10, h11.Add(time.Hour)); len(recs) != 0 {
		t.Errorf("account C asking for A's usage sees %+v", recs)
	}
	if recs, _ := s.Counters(ctx, Caller{AccountID: "B"}); len(recs) != 1 {
		t.Errorf("account B sees counters %+v; want its connection's attachment", recs)
	}
}

// TestMeterHours: every attached instance gets its hour marked once, however often the
// pass runs (also by a second service on the same store, as another server would).
func TestMeterHours(t *testing.T) {
	now := time.Date(2026, 11, 3, 10, 30, 0, 0, time.UTC)
	s := meterWorld(t, config.Default(), &now)
	ctx := t.Context()
	for range 3 {
		if err := s.MeterHours(ctx, now); err != nil {
			t.Fatal(err)
		}
	}
	other := New(Options{Store: s.st, Now: func() time.Time { return now }})
	if err := other.MeterHours(ctx, now.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.MeterHours(ctx, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for acct, inst := range map[string]string{"A": "tr-attach-1", "B": "vco-1"} {
		recs, err := s.Usage(ctx, Caller{AccountID: acct}, "", now.Add(-time.Hour), now.Add(2*time.Hour))
		if err != nil || len(recs) != 2 {
			t.Fatalf("%s: %+v, %v; want hours 10 and 11", acct, recs, err)
		}
		for _, u := range recs {
			if u.Instance != inst || u.Hours != 1 || u.Region != "cn-hangzhou" {
				t.Errorf("%s: %+v; want one hour of %s in cn-hangzhou", acct, u, inst)
			}
		}
	}
}

// TestBill: amounts are usage times the price sheet's unit prices, by month or day, by
// item or not, filtered by product and instance; each account sees only its own lines.
func TestBill(t *testing.T) {
	cfg := config.Default()
	cfg.Pricing = config.Pricing{Currency: "USD", Regions: map[string]map[string]float64{"cn-hangzhou": {
		model.ItemTRConnection: 0.05, model.ItemTRDataForwarding: 0.02, model.ItemVPNConnection: 0.1, model.ItemDataTransfer: 0.8}}}
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	s := meterWorld(t, cfg, &now)
	ctx := t.Context()
	var recs []UsageRecord
	// Every hour of the first ten days: 1 GiB into the router, 0.5 GiB toward the DC.
	for h := range 240 {
		hour := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(h) * time.Hour)
		tr := Traffic{InBytes: model.BytesPerGB, OutBytes: model.BytesPerGB / 2}
		recs = append(recs,
			UsageRecord{Hour: hour, Account: "A", Instance: "tr-attach-1", InstanceType: model.InstanceVpnAttachment, Region: "cn-hangzhou", Hours: 1, Traffic: tr},
			UsageRecord{Hour: hour, Account: "B", Instance: "vco-1", InstanceType: model.InstanceVpnConnection, Region: "cn-hangzhou", NetworkType: "public", Hours: 1, Traffic: tr})
	}
	if err := s.PutUsage(ctx, Caller{Admin: true}, recs); err != nil {
		t.Fatal(err)
	}
	cycle := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	lines, err := s.Bill(ctx, Caller{AccountID: "A"}, BillQuery{Cycle: cycle, ByItem: true})
	if err != nil {
		t.Fatal(err)
	}
	// 240 h * 0.05 = 12; 240 GB * 0.02 = 4.8.
	if len(lines) != 2 || lines[0].Item != model.ItemTRConnection || lines[0].Amount != 12 || lines[0].Usage != 240 ||
		lines[1].Item != model.ItemTRDataForwarding || lines[1].Amount != 4.8 || lines[1].Currency != "USD" {
		t.Fatalf("A's monthly bill by item: %+v", lines)
	}
	lines, _ = s.Bill(ctx, Caller{AccountID: "B"}, BillQuery{Cycle: cycle})
	// 240 h * 0.1 = 24; 120 GB * 0.8 = 96.
	if len(lines) != 1 || lines[0].Instance != "vco-1" || lines[0].Amount != 120 || lines[0].ProductCode != model.ProductVpn {
		t.Fatalf("B's monthly bill: %+v", lines)
	}
	lines, _ = s.Bill(ctx, Caller{AccountID: "B"}, BillQuery{Cycle: cycle, Daily: true, Date: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)})
	if len(lines) != 1 || lines[0].Amount != 12 || !lines[0].Date.Equal(time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("B's bill of 2 Nov: %+v", lines)
	}
	lines, _ = s.Bill(ctx, Caller{AccountID: "B"}, BillQuery{Cycle: cycle, Daily: true})
	if len(lines) != 10 {
		t.Fatalf("B's daily bill: %d lines; want 10", len(lines))
	}
	if lines, _ := s.Bill(ctx, Caller{Admin: true}, BillQuery{Cycle: cycle, ProductCode: model.ProductCbn}); len(lines) != 1 || lines[0].Account != "A" {
		t.Fatalf("admin's cbn bill: %+v", lines)
	}
	if lines, _ := s.Bill(ctx, Caller{AccountID: "C"}, BillQuery{Cycle: cycle}); len(lines) != 0 {
		t.Fatalf("account C sees %+v", lines)
	}
	if lines, _ := s.Bill(ctx, Caller{AccountID: "A"}, BillQuery{Cycle: cycle.AddDate(0, 1, 0)}); len(lines) != 0 {
		t.Fatalf("A's December: %+v", lines)
	}
}

// TestInterRegionTransfer: an inter-region connection's two ends each count what their
// router sends over the link; billed by data transfer, the connection's account gets both
// directions once as Inter-region data transfer; with a bandwidth package it is counted
// but not billed per GB.
func TestInterRegionTransfer(t *testing.T) {
	now := time.Date(2026, 11, 3, 10, 30, 0, 0, time.UTC)
	s := meterWorld(t, config.Default(), &now)
	ctx := t.Context()
	err := s.update(ctx, func(tx *txn) error {
		for _, a := range []*model.PeerAttachment{
			{Meta: model.Meta{ID: "tr-attach-dt", Owner: "A", Region: "cn-hangzhou", Status: model.AttachmentAttached}, TransitRouterID: "tr-1", BandwidthType: model.BandwidthDataTransfer},
			{Meta: model.Meta{ID: "tr-attach-bp", Owner: "A", Region: "cn-hangzhou", Status: model.AttachmentAttached}, TransitRouterID: "tr-1", BandwidthType: model.BandwidthFromPackage},
		} {
			if err := tx.put(resKey(model.KindPeerAttachment, a.ID), a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	const gib = model.BytesPerGB
	var readings []CounterReading
	for _, att := range []string{"tr-attach-dt", "tr-attach-bp"} {
		// The two ends: each sent one way (Out) what the other received (In).
		readings = append(readings,
			CounterReading{Attachment: att, Node: "n1", Epoch: "hz", At: now, Raw: Traffic{OutBytes: 3 * gib, InBytes: 1 * gib}},
			CounterReading{Attachment: att, Node: "n1", Epoch: "sh", At: now, Raw: Traffic{OutBytes: 1 * gib, InBytes: 3 * gib}})
	}
	if err := s.ReportCounters(ctx, readings); err != nil {
		t.Fatal(err)
	}
	recs, err := s.Usage(ctx, Caller{AccountID: "A"}, "", now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, u := range recs {
		switch u.Instance {
		case "tr-attach-dt":
			found = true
			items := u.Items()
			if len(items) != 1 || items[0].Code != model.ItemInterRegionTransfer || items[0].Quantity != 4 || model.ItemProduct(items[0].Code) != model.ProductCbn {
				t.Fatalf("data transfer connection: %+v", items)
			}
		case "tr-attach-bp":
			t.Fatalf("a connection paid by a bandwidth package was billed per GB: %+v", u)
		}
	}
	if !found {
		t.Fatalf("no usage for the data-transfer connection: %+v", recs)
	}
}
