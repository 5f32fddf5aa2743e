package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"opencen/internal/dataplane/nsutil"
	"opencen/internal/testenv"
)

// Two data centers on the lab WAN, each with its own charon, build a route-based tunnel
// to each other (one swanctl.conf per side, as the customer would write them) and ping
// across; Down removes everything.
func TestLabTwoDCs(t *testing.T) {
	testenv.RequireDataplane(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	prefix := "l" + hex.EncodeToString(b) + "-"
	runDir, err := os.MkdirTemp("", "oclab")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(runDir)
	l, err := New(ctx, prefix, runDir)
	if err != nil {
		t.Fatal(err)
	}
	down := false
	t.Cleanup(func() {
		if !down {
			_ = l.Down(context.Background())
		}
	})
	conf := func(local, remote, start string) string {
		return `connections {
  t {
    version = 2
    local_addrs = ` + local + `
    remote_addrs = ` + remote + `
    proposals = aes128-sha1-modp1024
    local { auth = psk
            id = ` + local + ` }
    remote { auth = psk
             id = ` + remote + ` }
    children {
      t {
        local_ts = 0.0.0.0/0
        remote_ts = 0.0.0.0/0
        esp_proposals = aes128-sha1-modp1024
        start_action = ` + start + `
      }
    }
  }
}
secrets {
  ike-t { id-1 = ` + remote + `
          secret = "lab-secret" }
}
`
	}
	a, err := l.AddDC(ctx, "a", netip.MustParsePrefix("198.18.5.1/15"), netip.MustParsePrefix("192.168.50.0/24"), conf("198.18.5.1", "198.18.5.2", "none"))
	if err != nil {
		t.Fatal(err)
	}
	bdc, err := l.AddDC(ctx, "b", netip.MustParsePrefix("198.18.5.2/15"), netip.MustParsePrefix("192.168.60.0/24"), conf("198.18.5.2", "198.18.5.1", "start"))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.RouteToTunnel(ctx, bdc.Subnet); err != nil {
		t.Fatal(err)
	}
	if err := bdc.RouteToTunnel(ctx, a.Subnet); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for a.Ping(ctx, bdc.Host, 1) != nil {
		if time.Now().After(deadline) {
			out, _ := a.Charon.Swanctl(ctx, "--list-sas")
			t.Fatalf("no ping %s -> %s through the tunnel; SAs:\n%s", a.Host, bdc.Host, out)
		}
	}
	if err := bdc.Ping(ctx, a.Host, 2); err != nil {
		t.Error(err)
	}
	if out, err := a.Charon.Swanctl(ctx, "--list-sas"); err != nil || !strings.Contains(out, "INSTALLED") {
		t.Errorf("list-sas: %v\n%s", err, out)
	}
	v, err := l.AddVPCHost(ctx, "v", netip.MustParsePrefix("10.7.0.0/16"))
	if err != nil {
		t.Fatal(err)
	}
	if v.Addr != netip.MustParseAddr("10.7.0.1") || v.Netns != prefix+"vpc-v" {
		t.Errorf("VPC host %+v", v)
	}
	pids := []int{a.Charon.PID(), bdc.Charon.PID()}
	if err := l.Down(ctx); err != nil {
		t.Fatal(err)
	}
	down = true
	if nss, _ := nsutil.ListNetns(prefix); len(nss) > 0 {
		t.Errorf("namespaces left: %v", nss)
	}
	for _, pid := range pids {
		if pid == 0 || nsutil.Alive(pid) {
			t.Errorf("charon %d: not stopped (0 = never ran)", pid)
		}
	}
	if ents, _ := filepath.Glob(filepath.Join(runDir, prefix+"*")); len(ents) > 0 {
		t.Errorf("run dirs left: %v", ents)
	}
}
