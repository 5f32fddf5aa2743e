package dataplane

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"opencen/internal/dataplane/nsutil"
	"opencen/internal/model"
)

// fastDPDRounds is how many times TestFastDPDFailover cuts and restores the path per IKE
// version: the detection time depends on where in the one-second DPD cycle the path dies.
const fastDPDRounds = 3

// TestFastDPDFailover: a FastDPD cell against a lab data center (stock strongSwan). The
// DC drops all IKE and NAT-T traffic (UDP 500 and 4500, which also carries ESP here): the
// cell declares the peer dead (IKEv2: its retransmissions give up after two retransmits,
// the fast setting; IKEv1: the DPD check times out) and reports its IKE SA down; once the
// path works again, the connection comes back by itself. The waits are generous bounds;
// the measured times are logged, as the figures for docs/dataplane.md (the default cell
// takes ~25 s, see TestNegotiationFailures).
func TestFastDPDFailover(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate []func(*model.VpnConnection)
		// what the cell's DPD timeout event says, and its connection as Render shows it
		// (dpd_delay, and for IKEv1 dpd_timeout, as the real charon reports them)
		dead, conn string
	}{
		{"IKEv2", nil, "giving up after 2 retransmits", "conn vco-e2e: IKEv2 198.18.0.11 -> 198.18.0.3 dpd 1s;"},
		{"IKEv1", []func(*model.VpnConnection){func(v *model.VpnConnection) { v.Ike.IkeVersion = "ikev1" }},
			"DPD check timed out", "conn vco-e2e: IKEv1 198.18.0.11 -> 198.18.0.3 dpd 1s timeout 3s;"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			w := newE2E(t, e, true, false, tc.mutate...) // the cloud initiates, the DC only responds
			w.desired.Routers[0].Cells[0].FastDPD = true
			e.apply(w.desired)
			e.waitState("vco-e2e", IPsecEstablished, 30*time.Second)
			got := e.render()
			for _, l := range []string{"  charon: running (" + fastRetransmitSummary + ")\n", " fast-dpd\n", "    " + tc.conn} {
				if !strings.Contains(got, l) {
					t.Errorf("missing %q in\n%s", l, got)
				}
			}
			var down, back []time.Duration
			for round := range fastDPDRounds {
				e.clearEvents("vco-e2e")
				// anywhere in the DPD cycle
				time.Sleep(time.Duration(rand.IntN(1000)) * time.Millisecond)
				blockIKE(t, e, w.dc.Netns, true)
				t0 := time.Now()
				cs := e.waitDown("vco-e2e", 30*time.Second)
				down = append(down, time.Since(t0))
				ev := e.waitEvent("vco-e2e", EventDPDTimeout, 10*time.Second)
				if !strings.Contains(ev.Message, tc.dead) {
					t.Errorf("round %d: the DPD timeout says %q, want %q", round+1, ev.Message, tc.dead)
				}
				if cs.State != IKENotEstablished {
					t.Errorf("round %d: state %s after the path died", round+1, cs.State)
				}
				blockIKE(t, e, w.dc.Netns, false)
				t1 := time.Now()
				e.waitState("vco-e2e", IPsecEstablished, 30*time.Second)
				back = append(back, time.Since(t1))
				t.Logf("round %d: IKE SA reported down %v after the path died (%s); ipsec_sa_established %v after it came back",
					round+1, down[round].Round(10*time.Millisecond), ev.Message, back[round].Round(10*time.Millisecond))
			}
			w.pingBothWays(t, e)
			t.Logf("FastDPD %s, %d rounds: path loss -> IKE SA reported down: %s (median %v); path back -> ipsec_sa_established: %s (median %v)",
				tc.name, fastDPDRounds, durations(down), median(down), durations(back), median(back))

			// FastDPD off: charon read its retransmission settings at start, so the driver
			// replaces it; the cell is then an ordinary one, and the tunnel comes back.
			pid := e.status("vco-e2e").PID
			w.desired.Routers[0].Cells[0].FastDPD = false
			e.apply(w.desired)
			cs := e.waitState("vco-e2e", IPsecEstablished, 30*time.Second)
			if cs.PID == pid || nsutil.Alive(pid) {
				t.Errorf("FastDPD off: charon %d still runs (now %d)", pid, cs.PID)
			}
			got = e.render()
			if !strings.Contains(got, "  charon: running\n") || strings.Contains(got, "fast") || strings.Contains(got, " dpd ") {
				t.Errorf("FastDPD off: the cell still has fast settings:\n%s", got)
			}
			w.pingBothWays(t, e)
		})
	}
}

// waitDown waits until cell id reports no IKE SA (polling the driver's status often, so
// that the time it took is measured closely) and returns its status.
func (e *env) waitDown(id string, timeout time.Duration) CellStatus {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	var last CellStatus
	for time.Now().Before(deadline) {
		if st, err := e.drv.Status(e.ctx); err == nil {
			if cs, ok := st.Cell(id); ok {
				last = cs
				if cs.State == IKENotEstablished {
					return cs
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("cell %s: IKE SA still reported within %v of the path's loss; last status %+v", id, timeout, last)
	return last
}

func durations(ds []time.Duration) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = d.Round(100 * time.Millisecond).String()
	}
	return strings.Join(s, " ")
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2].Round(100 * time.Millisecond)
}
