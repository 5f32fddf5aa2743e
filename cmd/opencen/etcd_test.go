package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"opencen/internal/store/etcdtest"
	"opencen/internal/testserver"
)

// TestServerOnEtcd: the real binary with --store etcd keeps its state in etcd: a second
// server process on the same etcd and prefix (with the same secret key file) sees what
// the first created, while the first's --data holds no bbolt file.
func TestServerOnEtcd(t *testing.T) {
	etcd := etcdtest.Embedded(t)
	keyFile := filepath.Join(t.TempDir(), "secret.key")
	args := []string{"--store", "etcd", "--etcd-endpoints", etcd.Endpoint, "--etcd-prefix", "/cli/", "--secret-key-file", keyFile}
	one := testserver.Start(t, testserver.Options{TransitionDelay: 50 * time.Millisecond, Args: args})
	alice := one.CreateAccount(t, "alice")
	cen, _ := activeCenTR(t, apiAs(t, one, alice))

	two := testserver.Start(t, testserver.Options{Args: args, AdminKeyID: one.AdminKeyID, AdminSecret: one.AdminSecret})
	out := apiAs(t, two, alice)("2017-09-12", "DescribeCens", map[string]string{"Filter.1.Key": "CenId", "Filter.1.Value.1": cen})
	if got := out["Cens"].(map[string]any)["Cen"].([]any); len(got) != 1 {
		t.Fatalf("second server sees %d CENs %s, want the first's", len(got), cen)
	}
	if _, err := os.Stat(filepath.Join(one.DataDir, "opencen.db")); err == nil {
		t.Errorf("--store etcd wrote a bbolt file in %s", one.DataDir)
	}
}

// TestServerStoreFlagErrors: wrong store flags stop the server at once with a message
// naming the flag to fix.
func TestServerStoreFlagErrors(t *testing.T) {
	bin := testserver.Build(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--store", "zk"}, "use bolt or etcd"},
		{[]string{"--store", "etcd"}, "--etcd-endpoints"},
		{[]string{"--etcd-endpoints", "http://127.0.0.1:2379"}, "--store etcd"},
	} {
		cmd := exec.Command(bin, append([]string{"server", "--listen", "127.0.0.1:0", "--data", t.TempDir()}, c.args...)...)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("opencen server %v: %v\n%s\nwant an error naming %q", c.args, err, out, c.want)
		}
	}
}
