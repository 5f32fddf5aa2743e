package dataplane

import (
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestBothEndsInitiate: when the customer's device and the cell initiate at the same moment,
// two IKE SAs come up and the cell deletes one; traffic must keep flowing both ways.
func TestBothEndsInitiate(t *testing.T) {
	e := newEnv(t)
	// A short DPD interval, as the server's tests use: DPD must not tear down what dedup keeps.
	e.drv.Close()
	o := e.opts()
	o.DPDDelay = 2 * time.Second
	var err error
	if e.drv, err = NewNetns(o); err != nil {
		t.Fatal(err)
	}
	w := newE2E(t, e, true, true)
	e.apply(w.desired)
	e.waitState("vco-e2e", IPsecEstablished, 20*time.Second)
	w.pingBothWays(t, e)
	for round := range 6 {
		if out, err := w.dc.Swanctl(e.ctx, "--terminate", "--ike", w.vco.ID, "--force"); err != nil {
			t.Fatalf("terminate: %v %s", err, out)
		}
		// The DC is unreachable for a while, so the cell's initiation retransmits; then the
		// DC comes back and initiates too: the retransmission and the DC's own request cross.
		nft := func(args ...string) {
			if out, err := exec.CommandContext(e.ctx, "ip", append([]string{"netns", "exec", w.dc.Netns, "nft"}, args...)...).CombinedOutput(); err != nil {
				t.Fatalf("nft %v: %v %s", args, err, out)
			}
		}
		nft("add table inet race { chain in { type filter hook input priority 0; udp dport { 500, 4500 } drop; }; }")
		time.Sleep(time.Duration(2000+rand.IntN(4000)) * time.Millisecond)
		nft("delete", "table", "inet", "race")
		_, _ = w.dc.Swanctl(e.ctx, "--initiate", "--child", w.vco.ID, "--timeout", "10")
		e.waitState("vco-e2e", IPsecEstablished, 20*time.Second)
		time.Sleep(4 * time.Second) // the duplicate, if any, is gone by now
		sas, _ := w.dc.Swanctl(e.ctx, "--list-sas")
		dup := strings.Count(sas, "ESTABLISHED") > 1
		if err := w.dc.Ping(e.ctx, w.vpc.Addr, 2); err != nil {
			t.Fatalf("round %d (duplicate seen by the DC: %v): DC -> VPC: %v\nDC SAs:\n%s\nstate:\n%s", round, dup, err, sas, e.render())
		}
		if err := w.vpc.Ping(e.ctx, w.dc.Host, 2); err != nil {
			t.Fatalf("round %d: VPC -> DC: %v\nDC SAs:\n%s\nstate:\n%s", round, err, sas, e.render())
		}
		t.Logf("round %d ok (DC SAs established: %d)", round, strings.Count(sas, "ESTABLISHED"))
	}
}
