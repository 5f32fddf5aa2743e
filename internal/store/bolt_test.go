package store_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"opencen/internal/store"
	"opencen/internal/store/storetest"
)

func openBolt(t testing.TB, path string, opts ...store.BoltOption) *store.Bolt {
	t.Helper()
	s, err := store.OpenBolt(path, opts...)
	if err != nil {
		t.Fatalf("OpenBolt: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func tempDB(t testing.TB) string { return filepath.Join(t.TempDir(), "store.db") }

func mustPut(t testing.TB, s store.Store, key, value string) int64 {
	t.Helper()
	res, err := s.Txn(context.Background(), nil, []store.Op{store.Put(key, []byte(value))})
	if err != nil || !res.Succeeded {
		t.Fatalf("put %q: %+v, %v", key, res, err)
	}
	return res.Revision
}

func TestBoltConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openBolt(t, tempDB(t)) })
}

func TestBoltEmptyStartsAtZero(t *testing.T) {
	s := openBolt(t, tempDB(t))
	rev, err := s.Revision(context.Background())
	if err != nil || rev != 0 {
		t.Fatalf("Revision() = %d, %v; want 0", rev, err)
	}
	if r := mustPut(t, s, "a", "1"); r != 1 {
		t.Fatalf("first put revision = %d, want 1", r)
	}
}

func TestBoltReopen(t *testing.T) {
	ctx := context.Background()
	path := tempDB(t)
	s := openBolt(t, path)
	mustPut(t, s, "a", "1")
	mustPut(t, s, "a", "2")
	rev := mustPut(t, s, "b", "x")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = openBolt(t, path)
	if got, err := s.Revision(ctx); err != nil || got != rev {
		t.Fatalf("Revision after reopen = %d, %v; want %d", got, err, rev)
	}
	kv, ok, err := s.Get(ctx, "a")
	if err != nil || !ok || string(kv.Value) != "2" || kv.CreateRevision != 1 || kv.ModRevision != 2 || kv.Version != 2 {
		t.Fatalf("Get(a) after reopen = %+v, %v, %v", kv, ok, err)
	}
	// History starts empty at the reopened revision.
	if _, err := s.Watch(ctx, "", rev-1); !errors.Is(err, store.ErrCompacted) {
		t.Fatalf("Watch from before reopen: err = %v, want ErrCompacted", err)
	}
	ch, err := s.Watch(ctx, "", rev)
	if err != nil {
		t.Fatalf("Watch from current revision: %v", err)
	}
	r := mustPut(t, s, "c", "y")
	if r != rev+1 {
		t.Fatalf("put after reopen revision = %d, want %d", r, rev+1)
	}
	select {
	case ev := <-ch:
		if ev.KV.Key != "c" || ev.KV.ModRevision != r {
			t.Fatalf("event = %+v, want c at %d", ev, r)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no event after reopen")
	}
}

func TestBoltHistoryLimit(t *testing.T) {
	ctx := context.Background()
	s := openBolt(t, tempDB(t), store.WithHistoryLimit(5))
	for i := range 10 {
		mustPut(t, s, "k"+strconv.Itoa(i), "v")
	}
	// Revisions 6..10 are kept; 5 is the newest one no longer needed.
	if _, err := s.Watch(ctx, "", 4); !errors.Is(err, store.ErrCompacted) {
		t.Fatalf("Watch(4): err = %v, want ErrCompacted", err)
	}
	if _, err := s.Watch(ctx, "", 0); !errors.Is(err, store.ErrCompacted) {
		t.Fatalf("Watch(0): err = %v, want ErrCompacted", err)
	}
	ch, err := s.Watch(ctx, "", 5)
	if err != nil {
		t.Fatalf("Watch(5): %v", err)
	}
	for want := int64(6); want <= 10; want++ {
		select {
		case ev := <-ch:
			if ev.KV.ModRevision != want {
				t.Fatalf("event revision %d, want %d", ev.KV.ModRevision, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("missing event %d", want)
		}
	}

	// Trimming drops whole revisions: a 2-op txn is kept or dropped as a unit.
	s2 := openBolt(t, tempDB(t), store.WithHistoryLimit(3))
	pair := func(a, b string) int64 {
		res, err := s2.Txn(ctx, nil, []store.Op{store.Put(a, nil), store.Put(b, nil)})
		if err != nil || !res.Succeeded {
			t.Fatalf("txn: %+v, %v", res, err)
		}
		return res.Revision
	}
	r1 := pair("a", "b")
	r2 := pair("c", "d") // 4 events > 3: revision r1 goes
	if _, err := s2.Watch(ctx, "", r1-1); !errors.Is(err, store.ErrCompacted) {
		t.Fatalf("Watch(%d): err = %v, want ErrCompacted", r1-1, err)
	}
	ch2, err := s2.Watch(ctx, "", r1)
	if err != nil {
		t.Fatalf("Watch(%d): %v", r1, err)
	}
	for range 2 {
		select {
		case ev := <-ch2:
			if ev.KV.ModRevision != r2 {
				t.Fatalf("event revision %d, want %d", ev.KV.ModRevision, r2)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("missing event")
		}
	}
}

func TestBoltDeleteMissingKey(t *testing.T) {
	ctx := context.Background()
	s := openBolt(t, tempDB(t))
	r := mustPut(t, s, "a", "1")
	ch, err := s.Watch(ctx, "", r)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Txn(ctx, nil, []store.Op{store.Delete("missing")})
	if err != nil || !res.Succeeded || res.Revision != r+1 {
		t.Fatalf("delete of missing key = %+v, %v; want success at %d", res, err, r+1)
	}
	// The event-less revision must not stall publication of later ones.
	r3 := mustPut(t, s, "b", "2")
	select {
	case ev := <-ch:
		if ev.KV.Key != "b" || ev.KV.ModRevision != r3 {
			t.Fatalf("event = %+v, want b at %d", ev, r3)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no event after event-less revision")
	}
}

func TestBoltTxnValidation(t *testing.T) {
	ctx := context.Background()
	s := openBolt(t, tempDB(t))
	r := mustPut(t, s, "a", "1")
	for name, ops := range map[string][]store.Op{
		"empty key":     {store.Put("", []byte("x"))},
		"duplicate key": {store.Put("b", nil), store.Delete("b")},
		"bad type":      {{Type: 99, Key: "b"}},
	} {
		if _, err := s.Txn(ctx, nil, ops); err == nil {
			t.Errorf("%s: Txn succeeded, want error", name)
		}
	}
	if got, _ := s.Revision(ctx); got != r {
		t.Fatalf("Revision() = %d after rejected txns, want %d", got, r)
	}
}

func TestBoltClose(t *testing.T) {
	ctx := context.Background()
	path := tempDB(t)
	s := openBolt(t, path)
	ch, err := s.Watch(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	select {
	case _, ok := <-ch:
		if ok {
			t.Fatalf("event after Close")
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("watch channel not closed by Close")
	}
	if _, _, err := s.Get(ctx, "a"); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Get after Close: %v", err)
	}
	if _, err := s.Txn(ctx, nil, []store.Op{store.Put("a", nil)}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Txn after Close: %v", err)
	}
	if _, err := s.Watch(ctx, "", 0); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Watch after Close: %v", err)
	}
}

func TestBoltLockedByOther(t *testing.T) {
	path := tempDB(t)
	openBolt(t, path)
	start := time.Now()
	if s, err := store.OpenBolt(path, store.WithLockTimeout(100*time.Millisecond)); err == nil {
		_ = s.Close()
		t.Fatalf("second OpenBolt on a locked file succeeded")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("lock timeout took %v", d)
	}
}

// TestBoltLockRefusedAtOnceNamingTheHolder: by default a second open of a held file fails
// on its first attempt (no 10 s wait), and the error names the holder's PID, which the
// holder writes next to the file and removes on Close.
func TestBoltLockRefusedAtOnceNamingTheHolder(t *testing.T) {
	path := tempDB(t)
	first := openBolt(t, path)
	pid, err := os.ReadFile(path + ".pid")
	if err != nil || strings.TrimSpace(string(pid)) != strconv.Itoa(os.Getpid()) {
		t.Fatalf("PID file: %q, %v", pid, err)
	}
	done := make(chan error, 1)
	go func() {
		s, err := store.OpenBolt(path)
		if err == nil {
			_ = s.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, store.ErrLocked) || !strings.Contains(err.Error(), "PID "+strconv.Itoa(os.Getpid())) {
			t.Fatalf("second open: %v", err)
		}
	case <-time.After(5 * time.Second): // the old default waited 10 s
		t.Fatal("second open still waiting for the lock after 5 s")
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".pid"); !os.IsNotExist(err) {
		t.Fatalf("PID file after Close: %v", err)
	}
	again, err := store.OpenBolt(path)
	if err != nil {
		t.Fatalf("open after the holder closed: %v", err)
	}
	_ = again.Close()
}

const crashChildEnv = "OPENCEN_STORE_CRASH_CHILD_DB"

// TestBoltCrashChild is the child half of TestBoltCrash: it writes until killed and
// acknowledges each key on stdout only after its Txn returned.
func TestBoltCrashChild(t *testing.T) {
	path := os.Getenv(crashChildEnv)
	if path == "" {
		t.Skip("only run as TestBoltCrash's child process")
	}
	s, err := store.OpenBolt(path)
	if err != nil {
		fmt.Println("open failed:", err)
		os.Exit(2)
	}
	var (
		outMu sync.Mutex
		wg    sync.WaitGroup
	)
	deadline := time.Now().Add(10 * time.Second) // in case the parent never kills us
	for g := range 8 {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				key := fmt.Sprintf("crash/%d/%d", g, i)
				res, err := s.Txn(context.Background(), nil, []store.Op{store.Put(key, []byte(key))})
				if err != nil || !res.Succeeded {
					fmt.Println("txn failed:", err)
					os.Exit(2)
				}
				outMu.Lock()
				// os.Stdout is unbuffered: one write per line, visible to the parent at once.
				fmt.Fprintf(os.Stdout, "ack %s %d;\n", key, res.Revision)
				outMu.Unlock()
			}
		})
	}
	wg.Wait()
	_ = s.Close()
}

func TestBoltCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	path := tempDB(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestBoltCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]int64{}
	killed := false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		var key string
		var rev int64
		if _, err := fmt.Sscanf(line, "ack %s %d;", &key, &rev); err != nil || !strings.HasSuffix(line, ";") {
			if !killed {
				t.Logf("child: %s", line)
			}
			continue
		}
		acked[key] = rev
		if !killed && len(acked) >= 300 {
			// Kill mid-stream: writers are busy committing right now.
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	_ = cmd.Wait()
	if !killed {
		t.Fatalf("child exited before being killed, after %d acks", len(acked))
	}

	s := openBolt(t, path)
	ctx := context.Background()
	for key, rev := range acked {
		kv, ok, err := s.Get(ctx, key)
		if err != nil || !ok {
			t.Fatalf("acknowledged key %s (revision %d) missing after crash: %v", key, rev, err)
		}
		if kv.ModRevision != rev || string(kv.Value) != key {
			t.Fatalf("acknowledged key %s = %+v, want revision %d", key, kv, rev)
		}
	}
	kvs, rev, err := s.List(ctx, "crash/")
	if err != nil {
		t.Fatal(err)
	}
	// Nothing half-written: exactly one key per committed revision.
	if int64(len(kvs)) != rev {
		t.Fatalf("%d keys but revision %d after crash", len(kvs), rev)
	}
	t.Logf("%d acknowledged, %d committed before SIGKILL", len(acked), len(kvs))
}

func BenchmarkBoltTxnParallel(b *testing.B) {
	s := openBolt(b, tempDB(b))
	ctx := context.Background()
	value := []byte("benchmark value of modest size, like a small JSON object")
	var worker atomic.Int64
	b.SetParallelism(16) // many writers per CPU, as under server load, so batching matters
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		prefix := "bench/" + strconv.FormatInt(worker.Add(1), 10) + "/"
		for i := 0; pb.Next(); i++ {
			if _, err := s.Txn(ctx, nil, []store.Op{store.Put(prefix+strconv.Itoa(i), value)}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkBoltGet(b *testing.B) {
	s := openBolt(b, tempDB(b))
	ctx := context.Background()
	const n = 1000
	ops := make([]store.Op, 0, n)
	for i := range n {
		ops = append(ops, store.Put("get/"+strconv.Itoa(i), []byte("value")))
	}
	if _, err := s.Txn(ctx, nil, ops); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		if _, ok, err := s.Get(ctx, "get/"+strconv.Itoa(i%n)); err != nil || !ok {
			b.Fatalf("Get: %v %v", ok, err)
		}
		i++
	}
}
