// Package hardening attacks the real opencen binary the way a stranger or a tenant could
// (over loopback) and checks that it is not pinned: stalled, dribbling and unread requests
// and idle connections are cut off by their deadlines while other clients keep being
// served, megabytes of ignored parameters leave no memory behind, a second process cannot
// open the data directory, and a locked-out admin can recover offline.
//
// Each test sets the deadline it attacks to 1 s (the others keep their defaults of 30 s and
// more) so the tests are short; every wait has a bound ten times that, so a server without
// the deadline fails instead of hanging.
package hardening

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"opencen/internal/rpc"
	"opencen/internal/testserver"
)

const (
	cbn      = "2017-09-12"
	deadline = time.Second      // the server's --read-timeout, --write-timeout or --idle-timeout in a test
	bound    = 10 * time.Second // how long a test waits for what the deadline must cause
)

// start runs the server with the given deadline flags (e.g. "--read-timeout") set to
// deadline, the others at their defaults, and makes a tenant.
func start(t *testing.T, deadlineFlags ...string) (*testserver.Server, *rpc.Client) {
	t.Helper()
	var args []string
	for _, f := range deadlineFlags {
		args = append(args, f, deadline.String())
	}
	srv := testserver.Start(t, testserver.Options{Args: args})
	acct := srv.CreateAccount(t, "tenant")
	return srv, &rpc.Client{Endpoint: srv.URL, AccessKeyID: acct.AccessKeyID, AccessKeySecret: acct.AccessKeySecret}
}

// keepServing makes signed API calls until stopped; stop fails the test unless some
// completed and none failed: an attack on some connections must not stall the others.
func keepServing(t *testing.T, c *rpc.Client) (stop func()) {
	t.Helper()
	done := make(chan struct{})
	result := make(chan error, 1)
	go func() {
		n := 0
		for {
			select {
			case <-done:
				if n == 0 {
					result <- errors.New("no normal request completed during the attack")
				}
				close(result)
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), bound)
			err := c.Call(ctx, cbn, "DescribeCens", nil, nil)
			cancel()
			if err != nil {
				<-done
				result <- fmt.Errorf("a normal request during the attack failed: %w", err)
				close(result)
				return
			}
			n++
			time.Sleep(50 * time.Millisecond)
		}
	}()
	var once sync.Once
	finish := func() error {
		once.Do(func() { close(done) })
		return <-result
	}
	t.Cleanup(func() { _ = finish() }) // a test that failed early still stops the caller
	return func() {
		t.Helper()
		if err := finish(); err != nil {
			t.Fatal(err)
		}
	}
}

func dial(t *testing.T, srv *testserver.Server) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", srv.Endpoint, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// sendOnEach opens n connections and writes data on each.
func sendOnEach(t *testing.T, srv *testserver.Server, n int, data string) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i] = dial(t, srv)
		if _, err := io.WriteString(conns[i], data); err != nil {
			t.Fatal(err)
		}
	}
	return conns
}

// waitClosed reads (and discards) until the server closes the connection, or bound
// passes; it returns the bytes read and whether the connection was closed.
func waitClosed(c net.Conn, bound time.Duration) (int64, bool) {
	_ = c.SetReadDeadline(time.Now().Add(bound))
	n, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return n, false
	}
	return n, true // EOF (io.Copy returns nil) or a reset
}

// TestStalledBodyClosed: connections that declare a 4 MiB body, send a few bytes and stop
// are closed by the read deadline.
func TestStalledBodyClosed(t *testing.T) {
	srv, c := start(t, "--read-timeout")
	stop := keepServing(t, c)
	conns := sendOnEach(t, srv, 16, fmt.Sprintf("POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\nAction=Desc", srv.Endpoint, 4<<20-4))
	for i, conn := range conns {
		if _, closed := waitClosed(conn, bound); !closed {
			t.Fatalf("connection %d with a stalled body still open after %v (read deadline %v)", i, bound, deadline)
		}
	}
	stop()
}

// TestDribblingBodyClosed: a body arriving a byte at a time is cut off by the read deadline
// for the whole request, not only between bytes.
func TestDribblingBodyClosed(t *testing.T) {
	srv, c := start(t, "--read-timeout")
	stop := keepServing(t, c)
	conn := dial(t, srv)
	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n", srv.Endpoint)
	quit := make(chan struct{})
	defer close(quit)
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
				if _, err := conn.Write([]byte("a")); err != nil {
					return
				}
			}
		}
	}()
	if _, closed := waitClosed(conn, bound); !closed {
		t.Fatalf("a body dribbling at 10 bytes/s still open after %v (read deadline %v)", bound, deadline)
	}
	stop()
}

// TestSlowReaderClosed: a client that sends requests but does not read the answers fills
// the socket buffers; the server gives up when the write deadline passes instead of
// holding the connection and the answers.
func TestSlowReaderClosed(t *testing.T) {
	srv, c := start(t, "--write-timeout")
	stop := keepServing(t, c)
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return errors.Join(err, serr)
	}}
	conn, err := d.Dial("tcp", srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Pipelined requests for a 7 KB asset: 2000 answers are far more than the socket
	// buffers hold (4 MB at most on the server's side here).
	const requests = 2000
	asset, err := os.ReadFile("../../internal/console/assets/console.css")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		req := fmt.Sprintf("GET /console/static/console.css HTTP/1.1\r\nHost: %s\r\n\r\n", srv.Endpoint)
		_, _ = io.WriteString(conn, strings.Repeat(req, requests))
	}()
	time.Sleep(3 * deadline) // not reading
	n, closed := waitClosed(conn, bound)
	if !closed {
		t.Fatalf("a client not reading its answers still connected after %v (write deadline %v)", 3*deadline+bound, deadline)
	}
	t.Logf("the server wrote %d bytes of the %d answers before it gave up", n, requests)
	if all := int64(requests * len(asset)); n >= all {
		t.Fatalf("the server delivered all %d answers (%d bytes): the socket buffers never filled, the test proves nothing", requests, n)
	}
	stop()
}

// TestIdleKeepAliveClosed: keep-alive connections left idle are closed by the idle timeout.
func TestIdleKeepAliveClosed(t *testing.T) {
	srv, c := start(t, "--idle-timeout")
	stop := keepServing(t, c)
	conns := sendOnEach(t, srv, 50, fmt.Sprintf("GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", srv.Endpoint))
	for i, conn := range conns {
		n, closed := waitClosed(conn, bound)
		if !closed {
			t.Fatalf("idle keep-alive connection %d still open after %v (idle timeout %v)", i, bound, deadline)
		}
		if n == 0 {
			t.Fatalf("connection %d was closed without an answer to its request", i)
		}
	}
	stop()
}

func rssKB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestIgnoredParametersDoNotGrowMemory: 300 signed reads, each with a 3 MiB parameter the
// action ignores, leave the server's resident memory less than 100 MB larger (the answer
// cache once kept every such request's parameters as its key).
func TestIgnoredParametersDoNotGrowMemory(t *testing.T) {
	srv, c := start(t)
	for range 20 { // warm up: what any busy server holds anyway
		if err := c.Call(context.Background(), cbn, "DescribeCens", nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	before := rssKB(t, srv.PID())
	filler := strings.Repeat("x", 3<<20-8)
	const calls, workers = 300, 4
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < calls; i += workers {
				params := map[string]string{"Ignored": fmt.Sprintf("%08d", i) + filler} // each request its own
				if err := c.Call(context.Background(), cbn, "DescribeCens", params, nil); err != nil {
					errs <- fmt.Errorf("call %d: %w", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	after := rssKB(t, srv.PID())
	t.Logf("server RSS %d kB before, %d kB after %d calls with a 3 MiB ignored parameter", before, after, calls)
	if growth := after - before; growth >= 100_000 {
		t.Fatalf("RSS grew by %d kB (limit 100 MB)", growth)
	}
}

// TestSecondProcessOnDataDirRefused: a second server on the same data directory exits at
// once (not after a lock timeout) naming the PID of the one holding it.
func TestSecondProcessOnDataDirRefused(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, srv.Bin, "server", "--listen", "127.0.0.1:0", "--data", srv.DataDir, "--gateway", "off").CombinedOutput()
	took := time.Since(start)
	if err == nil || ctx.Err() != nil {
		t.Fatalf("second server: %v after %v\n%s", err, took, out)
	}
	if want := "PID " + strconv.Itoa(srv.PID()); !strings.Contains(string(out), want) {
		t.Fatalf("second server's error does not name the holder (%s):\n%s", want, out)
	}
	if took > bound/2 {
		t.Fatalf("second server took %v to give up", took)
	}
	if !srv.Running() {
		t.Fatal("the first server died")
	}
}

// TestAdminLockoutAndRecovery: the admin's last active key cannot be disabled; when every
// admin key is lost all the same, `opencen admin recover` on the stopped server's data
// directory prints a new one (and refuses while the server runs).
func TestAdminLockoutAndRecovery(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	_, err := srv.AdminE("key", "disable", "--id", srv.AdminKeyID)
	if err == nil || !strings.Contains(err.Error(), "OperationDenied.LastAdminKey") {
		t.Fatalf("disabling the last admin key: %v", err)
	}
	srv.CreateAccount(t, "still-admin") // the key still works

	recoverCmd := func() ([]byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), bound)
		defer cancel()
		return exec.CommandContext(ctx, srv.Bin, "admin", "recover", "--data", srv.DataDir).Output()
	}
	if out, err := recoverCmd(); err == nil {
		t.Fatalf("recover ran beside the server: %s", out)
	} else if ee, ok := err.(*exec.ExitError); !ok || !strings.Contains(string(ee.Stderr), "PID "+strconv.Itoa(srv.PID())) {
		t.Fatalf("recover beside the server: %v", err)
	}
	srv.Stop()
	out, err := recoverCmd()
	if err != nil {
		t.Fatalf("recover: %v", err)
	}
	var creds testserver.Account
	if err := json.Unmarshal(out, &creds); err != nil || creds.AccessKeyID == "" || creds.AccessKeySecret == "" {
		t.Fatalf("recover printed %q (%v)", out, err)
	}
	srv.Restart(t)
	c := &rpc.Client{Endpoint: srv.URL, AccessKeyID: creds.AccessKeyID, AccessKeySecret: creds.AccessKeySecret}
	var acct struct{ AccountId string }
	if err := c.Call(context.Background(), "2026-11-01", "CreateAccount", map[string]string{"Name": "after-recovery"}, &acct); err != nil {
		t.Fatalf("the recovered key is not an admin key: %v", err)
	}
	if acct.AccountId == "" {
		t.Fatal("CreateAccount with the recovered key returned no account")
	}
}
