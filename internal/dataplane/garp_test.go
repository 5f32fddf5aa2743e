package dataplane

import (
	"strings"
	"testing"
	"time"
)

// TestGratuitousARPOnMove: a cell whose gateway IP is newly plugged into the WAN announces
// it, so neighbours that knew the address at another MAC (the node that ran it before a
// failover) send to the new cell at once instead of after their entry goes stale. Neither
// end negotiates here (the DC does not initiate, the connection waits for it), so nothing
// but the announcement can move the DC's entry.
func TestGratuitousARPOnMove(t *testing.T) {
	e := newEnv(t)
	w := newE2E(t, e, false, false)
	const stale = "02:00:5e:00:00:01" // where the gateway IP was before the move
	gatewayIP := w.vco.InternetIP
	if _, err := runIP(e, w.dc.Netns, "neigh", "replace", gatewayIP, "lladdr", stale, "dev", "wan0", "nud", "stale"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // the kernel ignores updates within locktime (1 s) of the last
	e.apply(w.desired)
	deadline := time.Now().Add(5 * time.Second)
	var entry string
	for time.Now().Before(deadline) {
		out, err := runIP(e, w.dc.Netns, "neigh", "show", gatewayIP, "dev", "wan0")
		if err != nil {
			t.Fatal(err)
		}
		entry = strings.TrimSpace(string(out))
		if entry != "" && !strings.Contains(entry, stale) {
			t.Logf("the DC's entry after the cell came up: %s", entry)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the DC still has the gateway IP at the old MAC %q: no announcement reached it", entry)
}
