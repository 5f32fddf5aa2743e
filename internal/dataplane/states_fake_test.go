package dataplane

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"opencen/internal/lab"
)

var updateStates = flag.Bool("update-states", false, "rewrite testdata/states/*.txt from the fake OS's renderings")

// The state tests after tailscale's TestRouterStates: every desired state renders one
// expected OS state (testdata/states/<state>.txt, checked by hand, and the same files the
// real-kernel TestApplyStates expects); transitions between states in random order
// converge to it; and damage done behind the driver's back is repaired. They run on the
// fake OS: no root, no namespaces.

const fakePrefix = "t0000-"

var stateNames = []string{"empty", "s1", "s2", "s3"}

type fakeEnv struct {
	t   *testing.T
	ctx context.Context
	os  *fakeOS
	drv *Netns
}

// newFakeEnv is the world the fixtures expect: a WAN namespace with its bridge and the
// three VPC namespaces, on the fake OS.
func newFakeEnv(t *testing.T) *fakeEnv {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	f := newFakeOS()
	e := &fakeEnv{t: t, ctx: ctx, os: f}
	wan := fakePrefix + "wan"
	for _, ns := range []string{wan, fakePrefix + "vpc-v1", fakePrefix + "vpc-v2", fakePrefix + "vpc-v3"} {
		if err := f.AddNamespace(ctx, ns, nil); err != nil {
			t.Fatal(err)
		}
	}
	br := &fakeLink{ipLink: ipLink{Name: lab.Bridge, MTU: 1500, LinkType: "ether", Flags: []string{"UP"}}}
	br.Info.Kind = "bridge"
	f.ns[wan].links[lab.Bridge] = br
	d, err := newNetns(NetnsOptions{Prefix: fakePrefix, RunDir: t.TempDir(), WANNetns: wan, WANBridge: lab.Bridge,
		RetryInterval: time.Hour}, f, f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	e.drv = d
	return e
}

func (e *fakeEnv) apply(d *Desired) {
	e.t.Helper()
	if err := e.drv.Apply(e.ctx, d); err != nil {
		e.t.Fatalf("Apply: %v", err)
	}
}

func (e *fakeEnv) render() string {
	e.t.Helper()
	s, err := e.drv.Render(e.ctx)
	if err != nil {
		e.t.Fatalf("Render: %v", err)
	}
	return s
}

func statePath(name string) string { return filepath.Join("testdata", "states", name+".txt") }

// wantState is the expected rendering of a state.
func wantState(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(statePath(name))
	if err != nil {
		t.Fatalf("%v (go test ./internal/dataplane -run TestStatesFake -update-states writes it)", err)
	}
	return string(b)
}

// fakeRendersAs checks a fake OS's rendering against testdata/states/<name>.txt, or
// writes it there with -update-states.
func fakeRendersAs(t *testing.T, d *Netns, name string) {
	t.Helper()
	got, err := d.Render(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if *updateStates {
		if err := os.WriteFile(statePath(name), []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want := wantState(t, name); got != want {
		t.Fatalf("the fake OS renders differently from testdata/states/%s.txt:\n%s", name, diff(want, got))
	}
}

func TestStatesFake(t *testing.T) {
	states := stateFixtures(fakePrefix)
	// Every state from scratch renders its expected text; a second Apply changes nothing
	// on the system at all.
	for _, n := range stateNames {
		e := newFakeEnv(t)
		e.apply(states[n])
		got := e.render()
		if *updateStates {
			if err := os.MkdirAll(filepath.Dir(statePath(n)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(statePath(n), []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
		} else if want := wantState(t, n); got != want {
			t.Errorf("state %s from scratch:\n%s", n, diff(want, got))
		}
		before := e.os.changes
		e.apply(states[n])
		if e.os.changes != before {
			t.Errorf("state %s: applying it again made %d changes", n, e.os.changes-before)
		}
	}
	if wantState(t, "s1") != wantS1 {
		t.Errorf("testdata/states/s1.txt is not the hand-checked rendering of s1:\n%s", diff(wantS1, wantState(t, "s1")))
	}

	// Random transitions, 10 x the number of states, seeded and logged so that a failing
	// sequence can be replayed.
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("STATES_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	rng := rand.New(rand.NewPCG(seed, 11))
	e := newFakeEnv(t)
	seq := []string{}
	for range 10 * len(stateNames) {
		next := stateNames[rng.IntN(len(stateNames))]
		seq = append(seq, next)
		e.apply(states[next])
		if got, want := e.render(), wantState(t, next); got != want {
			t.Fatalf("seed %d: after %s: state %s differs from a fresh Apply:\n%s", seed, strings.Join(seq, " -> "), next, diff(want, got))
		}
	}
	t.Logf("seed %d: %s", seed, strings.Join(seq, " -> "))
}

// TestStatesRepairFake: damage of every kind the driver owns is repaired by applying the
// same state again, and nothing else changes.
func TestStatesRepairFake(t *testing.T) {
	states := stateFixtures(fakePrefix)
	for _, c := range []struct {
		name   string
		damage func(e *fakeEnv)
	}{
		{"routes of a table flushed", func(e *fakeEnv) { e.os.ns[e.drv.RouterNetns("tr-s1")].routes["200"] = nil }},
		{"a rule deleted", func(e *fakeEnv) {
			n := e.os.ns[e.drv.RouterNetns("tr-s1")]
			n.rules = n.rules[1:]
		}},
		{"a stray rule and route added", func(e *fakeEnv) {
			n := e.os.ns[e.drv.RouterNetns("tr-s1")]
			n.rules = append(n.rules, ipRule{Priority: 1500, Iif: "x", Table: "7"})
			n.routes["7"] = []ipRoute{{Dst: "10.99.0.0/16", Type: "blackhole", Table: "7"}}
		}},
		{"the cell's router link deleted", func(e *fakeEnv) { e.os.deleteLink(e.drv.CellNetns("vco-c1"), e.drv.cellRtr()) }},
		{"the WAN link deleted from the bridge side", func(e *fakeEnv) { e.os.deleteLink(e.drv.opts.WANNetns, e.drv.wanPeer("vco-c1")) }},
		{"a health-check source removed", func(e *fakeEnv) {
			lo := e.os.ns[e.drv.RouterNetns("tr-s1")].links["lo"]
			lo.addrs = lo.addrs[:1]
		}},
		{"charon killed", func(e *fakeEnv) { e.os.kill(charonDir(e.drv, "vco-c1")) }},
		{"the connection unloaded", func(e *fakeEnv) { delete(e.os.charons[charonDir(e.drv, "vco-c1")].conns, "vco-c1") }},
		{"the cell namespace deleted", func(e *fakeEnv) { _ = e.os.DeleteNamespace(e.ctx, e.drv.CellNetns("vco-c1")) }},
		{"the router namespace deleted", func(e *fakeEnv) { _ = e.os.DeleteNamespace(e.ctx, e.drv.RouterNetns("tr-s1")) }},
		{"proxy ARP and forwarding off", func(e *fakeEnv) {
			e.os.ns[e.drv.CellNetns("vco-c1")].sysctls["ipv4/conf/"+e.drv.cellRtr()+"/proxy_arp"] = "0"
			e.os.ns[e.drv.RouterNetns("tr-s1")].sysctls["ipv4/ip_forward"] = "0"
		}},
		{"nft flushed", func(e *fakeEnv) { e.os.ns[e.drv.CellNetns("vco-c1")].nft = "" }},
		{"a stray cell and router", func(e *fakeEnv) {
			_ = e.os.AddNamespace(e.ctx, e.drv.CellNetns("vco-stray"), nil)
			_ = e.os.AddNamespace(e.ctx, e.drv.RouterNetns("tr-stray"), nil)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newFakeEnv(t)
			e.apply(states["s2"])
			want := e.render()
			c.damage(e)
			if e.render() == want {
				t.Fatal("the damage did not show in the rendering")
			}
			e.apply(states["s2"])
			if got := e.render(); got != want {
				t.Errorf("not repaired:\n%s", diff(want, got))
			}
		})
	}
}

// TestObjectsFake: routers and cells are separate objects. A router's routes through a
// cell whose link is missing wait (ErrWaiting) and the rest is applied; a cell whose
// router namespace is missing waits; a failing cell leaves its router and the other cells
// alone; Prune keeps what it is told to keep.
func TestObjectsFake(t *testing.T) {
	e := newFakeEnv(t)
	s2 := stateFixtures(fakePrefix)["s2"]
	r := s2.Routers[0]
	c := r.Cells[0]
	if err := e.drv.UpdateCell(e.ctx, r.ID, c); !errors.Is(err, ErrWaiting) {
		t.Fatalf("cell before its router: %v, want ErrWaiting", err)
	}
	err := e.drv.UpdateRouter(e.ctx, r)
	if !errors.Is(err, ErrWaiting) || !strings.Contains(err.Error(), "tr-attach-x1") {
		t.Fatalf("router before its cell: %v, want ErrWaiting naming tr-attach-x1", err)
	}
	partial := e.render()
	if !strings.Contains(partial, "10.1.0.0/16 via 169.254.100.2 dev tr-attach-v1 onlink") || strings.Contains(partial, "tr-attach-x1") {
		t.Errorf("the router without its cell's link:\n%s", partial)
	}
	if err := e.drv.UpdateCell(e.ctx, r.ID, c); err != nil {
		t.Fatal(err)
	}
	if err := e.drv.UpdateRouter(e.ctx, r); err != nil {
		t.Fatal(err)
	}
	if got, want := e.render(), wantState(t, "s2"); got != want {
		t.Errorf("object by object:\n%s", diff(want, got))
	}

	// A second cell whose charon cannot start fails alone.
	bad := idleCell("vco-c9", "tr-attach-x9", "198.18.1.9/15", "169.254.10.9/30")
	e.os.fail = func(what string) error {
		if what == "StartCharon "+e.drv.CellNetns("vco-c9") {
			return errors.New("charon exited")
		}
		return nil
	}
	before := e.render()
	if err := e.drv.UpdateCell(e.ctx, r.ID, bad); err == nil || errors.Is(err, ErrWaiting) {
		t.Fatalf("cell whose charon cannot start: %v", err)
	}
	if err := e.drv.UpdateCell(e.ctx, r.ID, c); err != nil {
		t.Errorf("the healthy cell after another failed: %v", err)
	}
	// Prune keeps the failed cell when told to (its object exists, its update failed).
	if err := e.drv.Prune(e.ctx, []string{r.ID}, []string{"vco-c1", "vco-c9"}); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(mustNamespaces(t, e), e.drv.CellNetns("vco-c9")) {
		t.Error("Prune removed a cell it was told to keep")
	}
	if err := e.drv.Prune(e.ctx, []string{r.ID}, []string{"vco-c1"}); err != nil {
		t.Fatal(err)
	}
	if got := e.render(); got != before {
		t.Errorf("after pruning the failed cell:\n%s", diff(before, got))
	}
}

func mustNamespaces(t *testing.T, e *fakeEnv) []string {
	t.Helper()
	nss, err := e.os.Namespaces(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	return nss
}

// TestCellsSideBySideFake: cells updated at once (as the gateway does, a few at a time)
// end as they would one after the other.
func TestCellsSideBySideFake(t *testing.T) {
	mk := func() *Desired {
		r := Router{ID: "tr-p", Tables: []Table{{ID: "vtb-p", Number: 100}}, Associations: map[string]string{}}
		for i := 1; i <= 8; i++ {
			c := idleCell(fmt.Sprintf("vco-p%d", i), fmt.Sprintf("tr-attach-p%d", i), fmt.Sprintf("198.18.2.%d/15", i), fmt.Sprintf("169.254.20.%d/30", 4*i+1))
			r.Cells = append(r.Cells, c)
			r.Tables[0].Routes = append(r.Tables[0].Routes, Route{Dst: pfx(fmt.Sprintf("192.168.%d.0/24", i)), NextHops: []string{c.AttachmentID}})
			r.Associations[c.AttachmentID] = "vtb-p"
		}
		return &Desired{Routers: []Router{r}}
	}
	seq := newFakeEnv(t)
	seq.apply(mk())
	want := seq.render()

	e := newFakeEnv(t)
	d := mk()
	r := d.Routers[0]
	if err := e.drv.UpdateRouter(e.ctx, r); !errors.Is(err, ErrWaiting) {
		t.Fatalf("router first: %v", err)
	}
	errs := make(chan error, len(r.Cells))
	for _, c := range r.Cells {
		go func() { errs <- e.drv.UpdateCell(e.ctx, r.ID, c) }()
	}
	for range r.Cells {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if err := e.drv.UpdateRouter(e.ctx, r); err != nil {
		t.Fatal(err)
	}
	if got := e.render(); got != want {
		t.Errorf("side by side:\n%s", diff(want, got))
	}
}
