// Package testenv holds what tests share about the machine they run on.
package testenv

import (
	"os"
	"strings"
	"testing"

	"opencen/internal/dataplane/nsutil"
)

// RequireDataplane fails a test that needs root, namespaces and strongSwan when the machine
// lacks them, naming what is missing; with OPENCEN_SKIP_DATAPLANE=1 it skips instead.
func RequireDataplane(t testing.TB) {
	t.Helper()
	missing := nsutil.Missing()
	if len(missing) == 0 {
		return
	}
	msg := "this test needs: " + strings.Join(missing, "; ")
	if os.Getenv("OPENCEN_SKIP_DATAPLANE") == "1" {
		t.Skip(msg + " (skipped: OPENCEN_SKIP_DATAPLANE=1)")
	}
	t.Fatal(msg + " (set OPENCEN_SKIP_DATAPLANE=1 to skip)")
}
