package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"opencen/internal/dataplane/nsutil"
	"opencen/internal/testserver"
)

// TestGatewayNodeRefusesToStart: `opencen gateway` exits at once, naming what to fix,
// when a flag is missing or wrong, when root or strongSwan's tools are missing, and when
// the cluster's key file is not there; it never waits for etcd first.
func TestGatewayNodeRefusesToStart(t *testing.T) {
	bin := testserver.Build(t)
	key := filepath.Join(t.TempDir(), "secret.key")
	if err := os.WriteFile(key, make([]byte, 32), 0o600); err != nil {
		t.Fatal(err)
	}
	full := []string{"--etcd-endpoints", "http://127.0.0.1:1", "--secret-key-file", key, "--node", "n1", "--zone", "cn-hangzhou-h", "--wan-bridge", "br0"}
	without := func(flag string) []string {
		var out []string
		for i := 0; i < len(full); i += 2 {
			if full[i] != flag {
				out = append(out, full[i], full[i+1])
			}
		}
		return out
	}
	with := func(flag, value string) []string {
		out := without(flag)
		return append(out, flag, value)
	}
	nodeFile := func(body string) string {
		p := filepath.Join(t.TempDir(), "node.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name string
		args []string
		env  []string // replaces PATH
		uid  uint32   // run as this user (0: as is)
		want []string
	}{
		{"no wan bridge", without("--wan-bridge"), nil, 0, []string{"--wan-interface", "--wan-bridge"}},
		{"node config: not a setting", append(full, "--node-config", nodeFile("zonee: cn-hangzhou-h\n")), nil, 0, []string{`"zonee" is not a setting`}},
		{"node config sets a flag", append(without("--zone"), "--node-config", nodeFile("zone: mars-1a\n")), nil, 0, []string{`--zone "mars-1a"`}},
		{"the command line wins", append(without("--wan-bridge"), "--node-config", nodeFile("zone: mars-1a\n")), nil, 0, []string{"--wan-interface"}},
		{"node config: a bad binding", append(full, "--node-config", nodeFile("vpc-bindings:\n  - vpc-id: vpc-a\n    bridge: br0\n")), nil, 0, []string{"vpc-bindings[0] (vpc-a)", "gateway-ip"}},
		{"no etcd", without("--etcd-endpoints"), nil, 0, []string{"--etcd-endpoints"}},
		{"no key", without("--secret-key-file"), nil, 0, []string{"--secret-key-file"}},
		{"unknown zone", with("--zone", "mars-1a"), nil, 0, []string{`--zone "mars-1a"`, "cn-hangzhou-h"}},
		{"no tools", full, []string{"PATH=/nonexistent"}, 0, []string{"a gateway node needs", "swanctl", "ip (apt-get install -y iproute2)"}},
		{"not root", full, nil, 65534, []string{"a gateway node needs root"}},
		{"key file missing", with("--secret-key-file", key+".missing"), nil, 0, []string{"--secret-key-file", "no such file"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.uid != 0 && os.Geteuid() != 0 {
				t.Skip("running as another user needs root; this process is not root, and the root check is what the case tests")
			}
			if c.name == "key file missing" && len(nsutil.Missing()) > 0 {
				t.Skip("the key file is checked after root and strongSwan, which are missing here: " + strings.Join(nsutil.Missing(), "; "))
			}
			cmd := exec.Command(bin, append([]string{"gateway"}, c.args...)...)
			cmd.Env = append(os.Environ(), c.env...)
			if c.uid != 0 {
				cmd.Path = copyForAnyone(t, bin) // the build's directory is root's alone
				cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: c.uid, Gid: c.uid}}
			}
			start := time.Now()
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("opencen gateway %v started:\n%s", c.args, out)
			}
			for _, w := range c.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("opencen gateway %v: %q lacks %q", c.args, out, w)
				}
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %s to refuse: it must not wait for etcd first", d)
			}
		})
	}
}

// copyForAnyone copies an executable where every user may run it.
func copyForAnyone(t *testing.T, bin string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "opencen-anyone-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "opencen")
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}
