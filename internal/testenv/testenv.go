// Package testenv holds what tests share about the machine they run on.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"opencen/internal/dataplane/nsutil"
)

// RequireDataplane fails a test that needs root, namespaces and strongSwan when the machine
// lacks them, naming what is missing; with OPENCEN_SKIP_DATAPLANE=1 it skips instead.
func RequireDataplane(t testing.TB) {
	t.Helper()
	require(t, nsutil.Missing(), "OPENCEN_SKIP_DATAPLANE")
}

// require fails t naming what is missing, or skips it when the variable skip is 1.
func require(t testing.TB, missing []string, skip string) {
	t.Helper()
	if len(missing) == 0 {
		return
	}
	msg := "this test needs: " + strings.Join(missing, "; ")
	if os.Getenv(skip) == "1" {
		t.Skip(msg + " (skipped: " + skip + "=1)")
	}
	t.Fatal(msg + " (set " + skip + "=1 to skip)")
}

// RequireEtcd fails a test that runs the etcd binary at bin (Debian's etcd-server, the
// oldest etcd OpenCEN supports) when it is not installed; with OPENCEN_SKIP_DATAPLANE=1
// it skips instead, as scripts/deps.sh installs it with the data-plane packages.
func RequireEtcd(t testing.TB, bin string) {
	t.Helper()
	if _, err := os.Stat(bin); err != nil {
		require(t, []string{bin + " (apt-get install etcd-server)"}, "OPENCEN_SKIP_DATAPLANE")
	}
}

// Chromium is where the browser tests expect Debian's chromium.
const Chromium = "/usr/bin/chromium"

// RequireBrowser fails a test that drives the console in a browser when node, chromium or
// the npm packages (dir/node_modules) are missing, naming what is; with
// OPENCEN_SKIP_BROWSER=1 it skips instead.
func RequireBrowser(t testing.TB, dir string) {
	t.Helper()
	var missing []string
	if _, err := exec.LookPath("node"); err != nil {
		missing = append(missing, "node (apt-get install nodejs)")
	}
	if _, err := os.Stat(Chromium); err != nil {
		missing = append(missing, Chromium+" (apt-get install chromium chromium-driver)")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core")); err != nil {
		missing = append(missing, "playwright-core (npm ci in "+dir+")")
	}
	require(t, missing, "OPENCEN_SKIP_BROWSER")
}
