package gateway

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"opencen/internal/dataplane"
	"opencen/internal/service"
)

// meterDriver is a fake driver whose routers' counters the test sets.
type meterDriver struct {
	*fakeDriver
	mu     sync.Mutex
	asked  []string
	counts []dataplane.Meter
}

func (d *meterDriver) Counters(_ context.Context, routers []string) ([]dataplane.Meter, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.asked = slices.Clone(routers)
	return slices.Clone(d.counts), nil
}

// usageStore is a fake store that takes counter reports (or fails them).
type usageStore struct {
	*fakeStore
	fail    bool
	reports [][]service.CounterReading
}

func (s *usageStore) ReportCounters(_ context.Context, r []service.CounterReading) error {
	if s.fail {
		return errors.New("store unreachable")
	}
	s.reports = append(s.reports, slices.Clone(r))
	return nil
}

// TestMeterReports: the gateway reads the counters of the routers it applied and reports
// them with its node name; a failed report is sent again with the next one, where a newer
// reading of the same counters replaces the older (an older one after a newer would look
// like a reset), and another epoch's reading stays beside it.
func TestMeterReports(t *testing.T) {
	e := newEnv(t)
	drv := &meterDriver{fakeDriver: e.drv}
	st := &usageStore{fakeStore: e.store}
	e.g.Driver, e.g.Store, e.g.Node = drv, st, "node-a"
	w := newWorld()
	w.add("x1", nil)
	e.store.set(w.view())
	e.settle()

	meter := func(epoch string, in, out uint64) dataplane.Meter {
		return dataplane.Meter{Router: "tr-1", Attachment: "tr-attach-x1", Epoch: epoch,
			LinkCounters: dataplane.LinkCounters{In: dataplane.Counter{Packets: 1, Bytes: in}, Out: dataplane.Counter{Packets: 1, Bytes: out}}}
	}
	drv.counts = []dataplane.Meter{meter("e1", 100, 50)}
	if n := e.g.Meter(e.ctx); n != 1 {
		t.Fatalf("first meter reported %d readings; want 1", n)
	}
	if !slices.Equal(drv.asked, []string{"tr-1"}) {
		t.Errorf("counters read for routers %q; want the applied tr-1", drv.asked)
	}
	if r := st.reports[0][0]; r.Node != "node-a" || r.Epoch != "e1" || r.Raw.InBytes != 100 || r.Raw.OutBytes != 50 || r.At.IsZero() {
		t.Errorf("reading %+v", r)
	}
	st.fail = true
	drv.counts = []dataplane.Meter{meter("e1", 200, 60)}
	if n := e.g.Meter(e.ctx); n != 0 {
		t.Fatalf("a failed report counted %d readings", n)
	}
	// The router was rebuilt meanwhile: e1's last reading (taken before it went) and e2.
	drv.counts = []dataplane.Meter{meter("e1", 300, 70), meter("e2", 5, 1)}
	st.fail = false
	if n := e.g.Meter(e.ctx); n != 2 {
		t.Fatalf("after a failed report: %d readings; want e1's newest and e2's", n)
	}
	got := st.reports[1]
	if got[0].Epoch == "e2" {
		got[0], got[1] = got[1], got[0]
	}
	if got[0].Epoch != "e1" || got[0].Raw.InBytes != 300 || got[1].Epoch != "e2" || got[1].Raw.InBytes != 5 {
		t.Errorf("report after a failed one: %+v", got)
	}
	drv.counts = nil
	if n := e.g.Meter(e.ctx); n != 0 {
		t.Errorf("nothing pending and nothing read: %d readings reported", n)
	}
}
