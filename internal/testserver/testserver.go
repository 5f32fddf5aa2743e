// Package testserver builds the opencen binary and runs it as a child process for tests.
//
// It only uses the standard library so that any test module (the main module's own tests
// or the separate contract module) can import it. Every process it starts is stopped by
// PID when the test ends; it never touches processes it did not start.
package testserver

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// EnvBin names an environment variable that, when set, points at a prebuilt opencen binary
// and makes Build skip `go build`.
const EnvBin = "OPENCEN_TEST_BIN"

// Options configures Start.
type Options struct {
	// DataDir is the server's data directory; empty means a fresh t.TempDir().
	DataDir string
	// TransitionDelay is passed as --transition-delay; zero means 100ms.
	TransitionDelay time.Duration
	// Args are extra arguments appended after the standard `server` flags.
	Args []string
	// Env are extra KEY=VALUE environment entries for the server process.
	Env []string
	// AdminKeyID / AdminSecret override the randomly generated admin key.
	AdminKeyID, AdminSecret string
	// StartTimeout bounds the wait for /healthz; zero means 30s.
	StartTimeout time.Duration
}

// Account is what `opencen admin account create` (and `admin key create`) print.
type Account struct {
	AccountID       string `json:"AccountId"`
	AccessKeyID     string `json:"AccessKeyId"`
	AccessKeySecret string `json:"AccessKeySecret"`
}

// Server is a running (or stopped) opencen server process.
type Server struct {
	Endpoint    string // "127.0.0.1:PORT"
	URL         string // "http://127.0.0.1:PORT"
	AdminKeyID  string
	AdminSecret string
	DataDir     string
	Bin         string

	opts    Options
	logPath string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has been waited for
	logF *os.File
	runs int
}

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
)

// Build compiles ./cmd/opencen once per test process and returns the binary path.
func Build(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		if p := os.Getenv(EnvBin); p != "" {
			buildBin, buildErr = filepath.Abs(p)
			return
		}
		root, err := ModuleRoot()
		if err != nil {
			buildErr = err
			return
		}
		removeStaleBuilds()
		dir := filepath.Join(os.TempDir(), fmt.Sprintf("opencen-testbin-%d", os.Getpid()))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			buildErr = err
			return
		}
		bin := filepath.Join(dir, "opencen")
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/opencen")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/opencen in %s: %v\n%s", root, err, out)
			return
		}
		buildBin = bin
	})
	if buildErr != nil {
		t.Fatalf("testserver: %v", buildErr)
	}
	return buildBin
}

// removeStaleBuilds deletes the build directories of test processes that have exited:
// a test process cannot remove its own binary at exit without a TestMain in every
// package, so the next one cleans up.
func removeStaleBuilds() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "opencen-testbin-*"))
	for _, d := range dirs {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), "opencen-testbin-"))
		if err == nil && pid != os.Getpid() && syscall.Kill(pid, 0) == syscall.ESRCH {
			os.RemoveAll(d)
		}
	}
}

// ModuleRoot walks up from the working directory to the directory whose go.mod declares
// `module opencen`.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && modulePath(data) == "opencen" {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod with `module opencen` above the working directory")
		}
		dir = parent
	}
}

func modulePath(gomod []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "module"); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// Start builds the binary (once), starts a server on a free port and waits until /healthz
// answers 200. The server is stopped when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin := Build(t)
	if opts.TransitionDelay == 0 {
		opts.TransitionDelay = 100 * time.Millisecond
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 30 * time.Second
	}
	s := &Server{Bin: bin, opts: opts, AdminKeyID: opts.AdminKeyID, AdminSecret: opts.AdminSecret}
	if s.AdminKeyID == "" {
		s.AdminKeyID = "LTAI" + randString(20)
	}
	if s.AdminSecret == "" {
		s.AdminSecret = randString(30)
	}
	s.DataDir = opts.DataDir
	if s.DataDir == "" {
		s.DataDir = filepath.Join(t.TempDir(), "data")
	}
	logDir := t.TempDir()
	s.logPath = filepath.Join(logDir, "server.log")

	// Registered after TempDir so it runs before the temp dirs are removed.
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			s.dumpLog(t)
		}
	})

	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("testserver: free port: %v", err)
		}
		s.Endpoint = fmt.Sprintf("127.0.0.1:%d", port)
		s.URL = "http://" + s.Endpoint
		lastErr = s.start()
		if lastErr == nil {
			return s
		}
		// Only a lost port race is worth another try.
		if !strings.Contains(s.logTail(), "address already in use") {
			break
		}
	}
	t.Fatalf("testserver: start: %v", lastErr) // the cleanup above shows the server log
	return nil
}

// Restart stops the server (if running) and starts it again on the same port and data dir.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		t.Fatalf("testserver: restart: %v", err) // Start's cleanup shows the server log
	}
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("already running")
	}
	if err := os.MkdirAll(filepath.Dir(s.DataDir), 0o755); err != nil {
		return err
	}
	logF, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	s.runs++
	fmt.Fprintf(logF, "==== testserver: start #%d on %s (%s) ====\n", s.runs, s.Endpoint, time.Now().Format(time.RFC3339Nano))
	args := []string{"server",
		"--listen", s.Endpoint,
		"--data", s.DataDir,
		"--transition-delay", s.opts.TransitionDelay.String(),
	}
	args = append(args, s.opts.Args...)
	cmd := exec.Command(s.Bin, args...)
	cmd.Env = append(os.Environ(),
		"OPENCEN_ACCESS_KEY_ID="+s.AdminKeyID,
		"OPENCEN_ACCESS_KEY_SECRET="+s.AdminSecret,
	)
	cmd.Env = append(cmd.Env, s.opts.Env...)
	cmd.Stdout = logF
	cmd.Stderr = logF
	if err := cmd.Start(); err != nil {
		logF.Close()
		return err
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.cmd, s.done, s.logF = cmd, done, logF

	deadline := time.Now().Add(s.opts.StartTimeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-done:
			state := cmd.ProcessState
			s.cmd, s.done = nil, nil
			logF.Close()
			return fmt.Errorf("server exited before becoming healthy: %v", state)
		default:
		}
		resp, err := client.Get(s.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			s.mu.Unlock()
			s.Kill()
			s.mu.Lock()
			return fmt.Errorf("GET %s/healthz not 200 within %v (last error: %v)", s.URL, s.opts.StartTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop sends SIGTERM to the server process and waits for it (SIGKILL after 15s).
func (s *Server) Stop() { s.stop(syscall.SIGTERM, 15*time.Second) }

// Kill sends SIGKILL to the server process and waits for it.
func (s *Server) Kill() { s.stop(syscall.SIGKILL, 15*time.Second) }

func (s *Server) stop(sig syscall.Signal, grace time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	cmd, done := s.cmd, s.done
	_ = cmd.Process.Signal(sig) // by PID: only the process this package started
	select {
	case <-done:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-done
	}
	if s.logF != nil {
		fmt.Fprintf(s.logF, "==== testserver: stopped (%v): %v ====\n", sig, cmd.ProcessState)
		s.logF.Close()
		s.logF = nil
	}
	s.cmd, s.done = nil, nil
}

// Running reports whether the server process is alive.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// PID is the server process's ID, 0 when it is not running.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// LogPath is the file holding the server's stdout and stderr.
func (s *Server) LogPath() string { return s.logPath }

// Log returns the server's output so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

func (s *Server) logTail() string {
	l := s.Log()
	if len(l) > 4000 {
		l = l[len(l)-4000:]
	}
	return l
}

func (s *Server) dumpLog(t testing.TB) {
	t.Helper()
	l := s.Log()
	const max = 64 << 10
	if len(l) > max {
		l = "...(truncated)...\n" + l[len(l)-max:]
	}
	t.Logf("opencen server output (%s):\n%s", s.logPath, l)
}

// Admin runs `opencen admin ARGS...` against this server with the admin key and returns
// stdout. It fails the test when the command fails.
func (s *Server) Admin(t testing.TB, args ...string) []byte {
	t.Helper()
	out, err := s.AdminE(args...)
	if err != nil {
		t.Fatalf("testserver: %v", err)
	}
	return out
}

// AdminE is Admin that returns the error instead of failing the test.
func (s *Server) AdminE(args ...string) ([]byte, error) {
	full := append([]string{"admin"}, args...)
	full = append(full, "--endpoint", s.URL, "--access-key-id", s.AdminKeyID, "--access-key-secret", s.AdminSecret)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.Bin, full...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("opencen %s: %v\nstdout: %s\nstderr: %s", strings.Join(redact(full), " "), err, stdout.String(), stderr.String())
	}
	return stdout.Bytes(), nil
}

// CreateAccount runs `opencen admin account create --name NAME` and returns the new account.
func (s *Server) CreateAccount(t testing.TB, name string) Account {
	t.Helper()
	out := s.Admin(t, "account", "create", "--name", name)
	a, err := parseAccount(out)
	if err != nil {
		t.Fatalf("testserver: admin account create output: %v\n%s", err, out)
	}
	if a.AccountID == "" || a.AccessKeyID == "" || a.AccessKeySecret == "" {
		t.Fatalf("testserver: admin account create printed an incomplete account: %s", out)
	}
	return a
}

// CreateKey runs `opencen admin key create --account-id ID` and returns the new key (its
// AccountID is filled from the argument when the output omits it).
func (s *Server) CreateKey(t testing.TB, accountID string) Account {
	t.Helper()
	out := s.Admin(t, "key", "create", "--account-id", accountID)
	a, err := parseAccount(out)
	if err != nil {
		t.Fatalf("testserver: admin key create output: %v\n%s", err, out)
	}
	if a.AccountID == "" {
		a.AccountID = accountID
	}
	if a.AccessKeyID == "" || a.AccessKeySecret == "" {
		t.Fatalf("testserver: admin key create printed an incomplete key: %s", out)
	}
	return a
}

// DisableKey runs `opencen admin key disable --id ID`.
func (s *Server) DisableKey(t testing.TB, accessKeyID string) {
	t.Helper()
	s.Admin(t, "key", "disable", "--id", accessKeyID)
}

// DeleteKey runs `opencen admin key delete --id ID`.
func (s *Server) DeleteKey(t testing.TB, accessKeyID string) {
	t.Helper()
	s.Admin(t, "key", "delete", "--id", accessKeyID)
}

func parseAccount(out []byte) (Account, error) {
	var a Account
	trimmed := bytes.TrimSpace(out)
	if err := json.Unmarshal(trimmed, &a); err == nil {
		return a, nil
	}
	// Tolerate log lines around the JSON object.
	if i := bytes.IndexByte(trimmed, '{'); i >= 0 {
		dec := json.NewDecoder(bytes.NewReader(trimmed[i:]))
		if err := dec.Decode(&a); err == nil {
			return a, nil
		}
	}
	return a, errors.New("no JSON object in output")
}

func redact(args []string) []string {
	out := append([]string(nil), args...)
	for i := 0; i+1 < len(out); i++ {
		if out[i] == "--access-key-secret" {
			out[i+1] = "***"
		}
	}
	return out
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randString(n int) string {
	b := make([]byte, n)
	for i := range b {
		v, err := rand.Int(rand.Reader, big.NewInt(int64(len(alnum))))
		if err != nil {
			panic(err)
		}
		b[i] = alnum[v.Int64()]
	}
	return string(b)
}
