package dataplane

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"opencen/internal/dataplane/nsutil"
	"opencen/internal/model"
)

// TestBothEndsInitiate: when the customer's device and the cell initiate at the same moment,
// two IKE SAs come up and one goes (the driver deletes IKEv2 duplicates, charon most
// IKEv1 ones); both ends must keep the same one, and traffic must flow both ways.
func TestBothEndsInitiate(t *testing.T) {
	for _, v := range []struct {
		name, version, mode string
		// within: how soon both ends must keep the same one IKE SA. The cell deletes IKEv2
		// duplicates after a second (it looks every 2 s); charon deletes IKEv1 ones ten
		// seconds after the newer came up, and the cell what charon left at 13 s.
		within time.Duration
		rounds int // IKEv1 rounds take longer, for charon's ten seconds
	}{
		{"ikev2", "ikev2", "main", 8 * time.Second, 8},
		{"ikev1-main", "ikev1", "main", 25 * time.Second, 4},
		{"ikev1-aggressive", "ikev1", "aggressive", 25 * time.Second, 4},
	} {
		t.Run(v.name, func(t *testing.T) {
			testBothEndsInitiate(t, v.version == "ikev1", v.within, v.rounds, func(c *model.VpnConnection) { c.Ike.IkeVersion, c.Ike.IkeMode = v.version, v.mode })
		})
	}
}

func testBothEndsInitiate(t *testing.T, ikev1 bool, within time.Duration, rounds int, ike func(*model.VpnConnection)) {
	e := newEnv(t)
	// A short DPD interval, as the server's tests use: DPD must not tear down what dedup keeps.
	e.drv.Close()
	o := e.opts()
	o.DPDDelay = 2 * time.Second
	var deleted atomic.Int32 // duplicates the cell's driver deleted
	logf := o.Logf
	o.Logf = func(format string, args ...any) {
		if strings.HasPrefix(format, "%s: deleting duplicate IKE SA") {
			deleted.Add(1)
		}
		logf(format, args...)
	}
	var err error
	if e.drv, err = NewNetns(o); err != nil {
		t.Fatal(err)
	}
	w := newE2E(t, e, true, true, ike)
	e.apply(w.desired)
	e.waitState("vco-e2e", IPsecEstablished, 20*time.Second)
	w.pingBothWays(t, e)
	cell := e.drv.CharonOf(w.vco.ID)
	nft := func(args ...string) {
		if out, err := exec.CommandContext(e.ctx, "ip", append([]string{"netns", "exec", w.dc.Netns, "nft"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("nft %v: %v %s", args, err, out)
		}
	}
	// crossed: whether a round made the ends' initiations cross. On a loaded machine the
	// crossing rounds sometimes come out sequential; a few more rounds then, not a failure.
	crossed := func() bool {
		if deleted.Load() > 0 {
			return true
		}
		cellLog, err := os.ReadFile(cell.LogFile())
		return err == nil && ikev1 && strings.Contains(string(cellLog), "schedule delete of duplicate IKE_SA")
	}
	for round := 0; round < rounds || (!crossed() && round < rounds+6); round++ {
		nft("add table inet race { chain in { type filter hook input priority 0; udp dport { 500, 4500 } drop; }; }")
		if out, err := w.dc.Charon.Swanctl(e.ctx, "--terminate", "--ike", w.vco.ID, "--force"); err != nil {
			t.Fatalf("terminate: %v %s", err, out)
		}
		if round%2 == 0 {
			// The DC is unreachable for a while, so the cell's initiation retransmits; then the
			// DC comes back and initiates too: the retransmission and the DC's request cross.
			time.Sleep(time.Duration(2000+rand.IntN(4000)) * time.Millisecond)
			nft("delete", "table", "inet", "race")
			_, _ = w.dc.Charon.Swanctl(e.ctx, "--initiate", "--child", w.vco.ID, "--timeout", "10")
		} else {
			// Both ends start from nothing and initiate at once, as when a connection is
			// created while the DC comes up. (The cell's keeper would initiate by itself
			// within two seconds; this is sooner.)
			_, _ = cell.Swanctl(e.ctx, "--terminate", "--ike", w.vco.ID, "--force")
			nft("delete", "table", "inet", "race")
			done := make(chan struct{})
			go func() {
				defer close(done)
				_, _ = cell.Swanctl(e.ctx, "--initiate", "--child", w.vco.ID, "--timeout", "10")
			}()
			_, _ = w.dc.Charon.Swanctl(e.ctx, "--initiate", "--child", w.vco.ID, "--timeout", "10")
			<-done
		}
		e.waitState("vco-e2e", IPsecEstablished, 20*time.Second)
		// The SA the cell keeps must be one the DC still has: keeping the one the DC had
		// destroyed on INITIAL_CONTACT left no traffic until DPD noticed.
		dcSAs, err := w.dc.WaitSameIKE(e.ctx, cell, within)
		if err != nil {
			t.Fatalf("round %d: %v\nstate:\n%s%s", round, err, e.render(), ends(e.ctx, cell, w.dc.Charon))
		}
		if err := w.dc.Ping(e.ctx, w.vpc.Addr, 2); err != nil {
			t.Fatalf("round %d: DC -> VPC: %v\nDC SAs: %v\nstate:\n%s%s", round, err, dcSAs, e.render(), ends(e.ctx, cell, w.dc.Charon))
		}
		if err := w.vpc.Ping(e.ctx, w.dc.Host, 2); err != nil {
			t.Fatalf("round %d: VPC -> DC: %v\nDC SAs: %v\nstate:\n%s%s", round, err, dcSAs, e.render(), ends(e.ctx, cell, w.dc.Charon))
		}
		t.Logf("round %d ok (DC SAs established: %d)", round, len(dcSAs))
	}
	// Odd rounds made a crossing nearly every time while this test was written. The driver
	// deletes IKEv2 duplicates; IKEv1 ones it leaves to the cell's charon, which logs
	// scheduling their deletion, unless charon did not notice them.
	if !crossed() {
		t.Fatal("no round made the ends' initiations cross: the test exercised nothing")
	}
}

// ends shows, for a failure, each charon's SAs and the tail of its log.
func ends(ctx context.Context, charons ...nsutil.Charon) string {
	var b strings.Builder
	for _, c := range charons {
		sas, err := c.Swanctl(ctx, "--list-sas")
		fmt.Fprintf(&b, "\n%s: swanctl --list-sas (%v):\n%s", c.Dir, err, sas)
		tail, err := c.LogTail(80)
		fmt.Fprintf(&b, "%s: last lines of charon.log (%v):\n%s\n", c.Dir, err, tail)
	}
	return b.String()
}
