package dataplane

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"opencen/internal/dataplane/nsutil"
	"opencen/internal/lab"
	"opencen/internal/testenv"
)

// The crash test re-runs this test binary as a helper process (TestMain dispatches on
// helperEnv) that builds a lab, applies a router with two cells and a VPC link, prints
// READY and waits to be killed.
const helperEnv = "OPENCEN_DP_CRASH_HELPER"

func crashHelper() int {
	prefix, runDir := os.Getenv(helperEnv), os.Getenv(helperEnv+"_RUNDIR")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fail := func(err error) int {
		fmt.Println("ERROR", err)
		return 1
	}
	l, err := lab.New(ctx, prefix, filepath.Join(runDir, "lab"))
	if err != nil {
		return fail(err)
	}
	vpc, err := l.AddVPCHost(ctx, "v1", pfx("10.1.0.0/16"))
	if err != nil {
		return fail(err)
	}
	d, err := NewNetns(NetnsOptions{Prefix: prefix, RunDir: filepath.Join(runDir, "dp"), WANNetns: l.WANNetns, WANBridge: lab.Bridge})
	if err != nil {
		return fail(err)
	}
	if err := d.Apply(ctx, crashDesired(vpc.Netns)); err != nil {
		return fail(err)
	}
	fmt.Println("READY")
	time.Sleep(time.Hour)
	return 0
}

func crashDesired(vpcNetns string) *Desired {
	c2 := idleCell("vco-k2", "tr-attach-k2", "198.18.1.2/15", "169.254.10.5/30")
	c2.IPsec.StartNow = true
	return &Desired{Routers: []Router{{
		ID:    "tr-k",
		VPCs:  []VPCLink{vpcLink("tr-attach-v1", vpcNetns, "169.254.100.1/30", "169.254.100.2/30")},
		Cells: []Cell{idleCell("vco-k1", "tr-attach-k1", "198.18.1.1/15", "169.254.10.1/30"), c2},
		Tables: []Table{{ID: "vtb-k", Number: 100, Routes: []Route{
			{Dst: pfx("10.0.0.0/8"), NextHops: []string{"tr-attach-k1", "tr-attach-k2"}},
		}}},
		Associations: map[string]string{"tr-attach-v1": "vtb-k"},
	}}}
}

// TestCleanupAfterCrash: a process applies state and is SIGKILLed; a new driver's Cleanup
// (plus the lab's) leaves no namespace, process, veth, mount or run dir with the prefix.
func TestCleanupAfterCrash(t *testing.T) {
	testenv.RequireDataplane(t)
	// Orphaned charons of the killed helper become our children, so we can reap them.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	prefix := randomPrefix()
	runDir, err := os.MkdirTemp("", "ocdp")
	if err != nil {
		t.Fatal(err)
	}
	opts := NetnsOptions{Prefix: prefix, RunDir: filepath.Join(runDir, "dp"), WANNetns: prefix + "wan", WANBridge: lab.Bridge}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cleanup := func() error {
		d, err := NewNetns(opts)
		if err != nil {
			return err
		}
		return errorsJoin(d.Cleanup(ctx), lab.Cleanup(ctx, prefix, filepath.Join(runDir, "lab")))
	}
	t.Cleanup(func() {
		_ = cleanup()
		os.RemoveAll(runDir)
	})

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+prefix, helperEnv+"_RUNDIR="+runDir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "READY" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("helper: %q", line)
	}
	// What the helper left running.
	pidFiles, _ := filepath.Glob(filepath.Join(runDir, "dp", prefix+"c-*", "charon.pid"))
	var pids []int
	for _, f := range pidFiles {
		if pid := nsutil.ReadPIDFile(f); nsutil.Alive(pid) {
			pids = append(pids, pid)
		}
	}
	if len(pids) != 2 {
		t.Errorf("helper runs %d charons, want 2 (%v)", len(pids), pidFiles)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	before := leftovers(prefix, runDir)
	nss, _ := nsutil.ListNetns(prefix)
	if len(nss) != 5 { // wan, vpc-v1, r-k, c-k1, c-k2
		t.Errorf("after the crash: namespaces %v", nss)
	}
	for _, pid := range pids {
		if !nsutil.Alive(pid) {
			t.Errorf("charon %d died with the helper; it must outlive the driver", pid)
		}
	}
	t.Logf("left by the killed helper: %s", before)

	// A driver in this (another) process re-adopts the cells: same charons, nothing
	// reloaded.
	d, err := NewNetns(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Apply(ctx, crashDesired(prefix+"vpc-v1")); err != nil {
		t.Fatalf("re-adopting Apply: %v", err)
	}
	st, err := d.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, cs := range st.Cells {
		if !slices.Contains(pids, cs.PID) || hasEvent(cs.Events, EventCharonStarted) || hasEvent(cs.Events, EventConfigLoaded) {
			t.Errorf("re-adoption of %s: pid %d (helper's: %v), events %v", cs.ID, cs.PID, pids, cs.Events)
		}
	}
	d.Close()

	if err := cleanup(); err != nil {
		t.Fatalf("cleanup: %v", err)
	}
	if left := leftovers(prefix, runDir); left != "" {
		t.Errorf("after Cleanup: %s", left)
	}
	for _, pid := range pids {
		if nsutil.Alive(pid) {
			t.Errorf("charon %d still runs after Cleanup", pid)
		}
	}
	ents, _ := filepath.Glob(filepath.Join(runDir, "*", prefix+"*"))
	if len(ents) > 0 {
		t.Errorf("run dirs left: %v", ents)
	}
}

func errorsJoin(errs ...error) error {
	var msgs []string
	for _, err := range errs {
		if err != nil {
			msgs = append(msgs, err.Error())
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return fmt.Errorf("%s", strings.Join(msgs, "; "))
}
