package dataplane

import (
	"strings"
	"testing"
)

// fastState is a fixture state (s2, or s3 whose cell speaks IKEv1) with its cell's FastDPD
// set to fast.
func fastState(name string, fast bool) *Desired {
	d := stateFixtures(fakePrefix)[name]
	for i := range d.Routers {
		for j := range d.Routers[i].Cells {
			d.Routers[i].Cells[j].FastDPD = fast
		}
	}
	return d
}

// TestFastDPDFake: a FastDPD cell's charon runs with the fast retransmission settings and
// its connection is loaded with a DPD every second (testdata/states/fast-dpd.txt, checked
// by hand); without FastDPD the cell is exactly s2. Charon reads the retransmission
// settings only when it starts, so a change of FastDPD replaces it; nothing else does
// (applying again, toggling DPD).
func TestFastDPDFake(t *testing.T) {
	e := newFakeEnv(t)
	dir := charonDir(e.drv, "vco-c1")
	pid := func() int { return e.os.CharonPID(e.drv.CharonOf("vco-c1")) }
	conn := func() loadedConn {
		t.Helper()
		var lc loadedConn
		if err := e.drv.withIKE(e.ctx, e.drv.CharonOf("vco-c1"), func(s ikeSession) error {
			conns, err := s.Conns(e.ctx)
			lc = conns["vco-c1"]
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return lc
	}
	restarted := func() bool {
		st, err := e.drv.Status(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		cs, _ := st.Cell("vco-c1")
		for _, ev := range cs.Events {
			if ev.Kind == EventCharonStarted && strings.Contains(ev.Message, "restarted") {
				return true
			}
		}
		return false
	}

	e.apply(fastState("s2", true))
	fakeRendersAs(t, e.drv, "fast-dpd")
	got := e.render()
	for _, l := range []string{
		"  charon: running (fast DPD: 2 retransmits 0.7 s apart)",
		"    config IKEv2 ike=aes128-sha1-modp1024 (86400s) esp=aes128-sha1-modp1024 (86400s) ids=198.18.1.1/198.18.9.9 dpd=true start=on-traffic fast-dpd",
		"    conn vco-c1: IKEv2 198.18.1.1 -> 198.18.9.9 dpd 1s; child vco-c1 0.0.0.0/0 === 0.0.0.0/0",
	} {
		if !strings.Contains(got, l+"\n") {
			t.Errorf("FastDPD cell: missing line %q in\n%s", l, got)
		}
	}
	if !fastRetransmitIn(e.os.charons[dir].conf) {
		t.Errorf("FastDPD cell's charon started with\n%s", e.os.charons[dir].conf)
	}
	if lc := conn(); lc.DPDDelay != "1" || lc.DPDTimeout != "" {
		t.Errorf("FastDPD IKEv2 connection loaded with dpd_delay %q, dpd_timeout %q", lc.DPDDelay, lc.DPDTimeout)
	}
	before, fastPID := e.os.changes, pid()
	e.apply(fastState("s2", true))
	if e.os.changes != before || pid() != fastPID {
		t.Errorf("applying the FastDPD state again made %d changes (charon %d -> %d)", e.os.changes-before, fastPID, pid())
	}

	// DPD off and on again: the connection is reloaded, the charon (whose settings do not
	// depend on DPD) stays.
	noDPD := fastState("s2", true)
	noDPD.Routers[0].Cells[0].IPsec.DPD = false
	e.apply(noDPD)
	if lc := conn(); pid() != fastPID || lc.DPDDelay != "" {
		t.Errorf("FastDPD without DPD: charon %d -> %d, dpd_delay %q", fastPID, pid(), lc.DPDDelay)
	}
	e.apply(fastState("s2", true))
	if pid() != fastPID || conn().DPDDelay != "1" {
		t.Errorf("FastDPD with DPD again: charon %d -> %d, dpd_delay %q", fastPID, pid(), conn().DPDDelay)
	}

	// FastDPD off: a new charon with the default settings; the cell renders as s2.
	e.apply(fastState("s2", false))
	if pid() == fastPID || fastRetransmitIn(e.os.charons[dir].conf) || !restarted() {
		t.Errorf("FastDPD off: charon %d -> %d (restart reported: %v), fast settings: %v", fastPID, pid(), restarted(), fastRetransmitIn(e.os.charons[dir].conf))
	}
	if got, want := e.render(), wantState(t, "s2"); got != want {
		t.Errorf("without FastDPD the cell is not s2:\n%s", diff(want, got))
	}
	if lc := conn(); lc.DPDDelay != "10" || lc.DPDTimeout != "" {
		t.Errorf("default connection loaded with dpd_delay %q, dpd_timeout %q", lc.DPDDelay, lc.DPDTimeout)
	}

	// And on again, as IKEv1 (s3): a new fast charon, dpd_timeout 3 s.
	slowPID := pid()
	e.apply(fastState("s3", true))
	if pid() == slowPID || !fastRetransmitIn(e.os.charons[dir].conf) {
		t.Errorf("FastDPD on: charon %d -> %d, fast settings: %v", slowPID, pid(), fastRetransmitIn(e.os.charons[dir].conf))
	}
	if lc := conn(); lc.DPDDelay != "1" || lc.DPDTimeout != "3" {
		t.Errorf("FastDPD IKEv1 connection loaded with dpd_delay %q, dpd_timeout %q", lc.DPDDelay, lc.DPDTimeout)
	}
	if l := "    conn vco-c1: IKEv1 198.18.1.1 -> 198.18.9.9 dpd 1s timeout 3s; child vco-c1-1"; !strings.Contains(e.render(), l) {
		t.Errorf("FastDPD IKEv1 cell: missing %q in\n%s", l, e.render())
	}
	// A fresh Apply of the same state renders the same (the routes through the replaced
	// charon's TUN device are back).
	f := newFakeEnv(t)
	f.apply(fastState("s3", true))
	if got, want := e.render(), f.render(); got != want {
		t.Errorf("after the restarts, the state differs from a fresh Apply:\n%s", diff(want, got))
	}
}
