package dataplane

import (
	"slices"
	"strings"
	"testing"
	"time"

	"opencen/internal/model"
	"opencen/internal/tunnel"
	"opencen/internal/vpnconf"
)

// waitEvent waits for an event of kind on cell id and returns it.
func (e *env) waitEvent(id, kind string, timeout time.Duration) Event {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		st, _ := e.drv.Status(e.ctx)
		if cs, ok := st.Cell(id); ok {
			if i := slices.IndexFunc(cs.Events, func(ev Event) bool { return ev.Kind == kind }); i >= 0 {
				return cs.Events[i]
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	st, _ := e.drv.Status(e.ctx)
	e.t.Fatalf("cell %s: no %s event within %v: %+v", id, kind, timeout, st)
	return Event{}
}

func (e *env) status(id string) CellStatus {
	e.t.Helper()
	st, err := e.drv.Status(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	cs, _ := st.Cell(id)
	return cs
}

// clearEvents forgets a cell's events (test helper).
func (e *env) clearEvents(id string) {
	e.drv.rmu.Lock()
	defer e.drv.rmu.Unlock()
	if rt := e.drv.cells[id]; rt != nil {
		rt.mu.Lock()
		rt.events = nil
		rt.mu.Unlock()
	}
}

// TestNegotiationFailures: a wrong PSK and mismatched IKE and ESP proposals are reported
// as events and states; a blackholed peer is detected by DPD, and the connection comes
// back by itself when the path heals.
func TestNegotiationFailures(t *testing.T) {
	e := newEnv(t)
	e.drv.opts.DPDDelay = 2 * time.Second
	e.drv.opts.RetryInterval = time.Second
	w := newE2E(t, e, true, false) // the cloud initiates, the DC only responds
	// dcConf: the DC's configuration for the connection as mutate changes it.
	dcConf := func(mutate func(*model.VpnConnection), psk string) string {
		v := *w.vco
		mutate(&v)
		spec, err := tunnel.FromConnection(&v, w.cgw, psk, "")
		if err != nil {
			t.Fatal(err)
		}
		conf, err := vpnconf.Strongswan(spec)
		if err != nil {
			t.Fatal(err)
		}
		return strings.ReplaceAll(conf, "start_action = start", "start_action = none")
	}
	load := func(conf string) {
		t.Helper()
		if err := w.dc.LoadConfig(e.ctx, conf); err != nil {
			t.Fatal(err)
		}
	}
	// IKE proposal mismatch: the DC only accepts aes256.
	load(dcConf(func(v *model.VpnConnection) { v.Ike.IkeEncAlg = "aes256" }, e2ePSK))
	e.apply(w.desired)
	ev := e.waitEvent("vco-e2e", EventPeerRefused, 10*time.Second)
	t.Logf("IKE proposal mismatch: %s %s", ev.Kind, ev.Message)
	if cs := e.status("vco-e2e"); cs.State != IKENotEstablished {
		t.Errorf("IKE proposal mismatch: state %s", cs.State)
	}

	// ESP proposal mismatch: IKE comes up, the child does not.
	load(dcConf(func(v *model.VpnConnection) { v.Ipsec.IpsecEncAlg = "aes256" }, e2ePSK))
	e.clearEvents("vco-e2e")
	e.waitState("vco-e2e", IPsecNotEstablished, 15*time.Second)
	ev = e.waitEvent("vco-e2e", EventPeerRefused, 5*time.Second)
	t.Logf("ESP proposal mismatch: %s %s", ev.Kind, ev.Message)

	// A wrong PSK on the DC (the IKE SA of the previous step is dropped, so the cloud
	// authenticates again).
	load(dcConf(func(*model.VpnConnection) {}, "another-key"))
	e.clearEvents("vco-e2e")
	if out, err := w.dc.Charon.Swanctl(e.ctx, "--terminate", "--ike", w.vco.ID); err != nil {
		t.Fatalf("terminate: %v %s", err, out)
	}
	ev = e.waitEvent("vco-e2e", EventAuthFailed, 15*time.Second)
	t.Logf("wrong PSK: %s %s", ev.Kind, ev.Message)
	if cs := e.status("vco-e2e"); cs.State != IKENotEstablished {
		t.Errorf("wrong PSK: state %s", cs.State)
	}

	// Matching configuration: up.
	load(dcConf(func(*model.VpnConnection) {}, e2ePSK))
	e.waitState("vco-e2e", IPsecEstablished, 20*time.Second)
	w.pingBothWays(t, e)

	// Blackhole the peer: DPD declares it dead, charon restarts the SA, and the
	// connection recovers once the path works again.
	e.clearEvents("vco-e2e")
	blockIKE(t, e, w.dc.Netns, true)
	t0 := time.Now()
	ev = e.waitEvent("vco-e2e", EventDPDTimeout, 40*time.Second)
	t.Logf("DPD: %s after %v: %s", ev.Kind, time.Since(t0).Round(time.Second), ev.Message)
	blockIKE(t, e, w.dc.Netns, false)
	t1 := time.Now()
	e.waitState("vco-e2e", IPsecEstablished, 30*time.Second)
	t.Logf("recovered %v after the block was lifted", time.Since(t1).Round(100*time.Millisecond))
	w.pingBothWays(t, e)
}
