// Package etcdtest starts real etcd servers on loopback ports for tests and benchmarks:
// etcd v3.7 embedded in the calling process (go.etcd.io/etcd/server/v3/embed), or an etcd
// binary (Debian's etcd-server is 3.4) as a child process. It is never linked into the
// opencen binary.
package etcdtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"

	"opencen/internal/testenv"
)

const startTimeout = 30 * time.Second

// Server is one single-member etcd cluster. Stop and Restart keep its ports and data, as
// a machine's etcd that goes down and comes back.
type Server struct {
	// Endpoint is the client URL, http://127.0.0.1:PORT.
	Endpoint string
	// Dir holds the member's data (Dir/data) and its log (Dir/etcd.log).
	Dir string

	bin          string    // "" = embedded
	tls          *TLSFiles // embedded only: clients over TLS with client certificates
	client, peer url.URL
	embedded     *embed.Etcd
	cmd          *exec.Cmd
	exited       chan struct{} // closed when cmd has been waited for
}

// StartEmbedded starts etcd inside this process, keeping its files under dir.
func StartEmbedded(dir string) (*Server, error) { return start(dir, "", nil) }

// StartEmbeddedTLS starts etcd inside this process serving clients over TLS with f's
// server certificate, and only to clients with a certificate signed by f.CA.
func StartEmbeddedTLS(dir string, f TLSFiles) (*Server, error) { return start(dir, "", &f) }

// StartBinary starts the etcd binary at bin as a child process, keeping its files under dir.
func StartBinary(bin, dir string) (*Server, error) { return start(dir, bin, nil) }

func start(dir, bin string, tls *TLSFiles) (*Server, error) {
	var err error
	// Free ports are picked, then bound by etcd: another process can take one in between,
	// so a failed start is retried on new ports.
	for range 3 {
		s := &Server{Dir: dir, bin: bin, tls: tls}
		if s.client, err = freeURL(); err != nil {
			return nil, err
		}
		if tls != nil {
			s.client.Scheme = "https"
		}
		if s.peer, err = freeURL(); err != nil {
			return nil, err
		}
		s.Endpoint = s.client.String()
		if err = s.Restart(); err == nil {
			return s, nil
		}
	}
	return nil, err
}

func freeURL() (url.URL, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return url.URL{}, err
	}
	defer l.Close()
	return url.URL{Scheme: "http", Host: l.Addr().String()}, nil
}

const name = "opencen-test"

// Restart starts the server again (or for the first time) on its ports and data.
func (s *Server) Restart() error {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return err
	}
	if s.bin != "" {
		return s.startBinary()
	}
	cfg := embed.NewConfig()
	cfg.Name = name
	cfg.Dir = filepath.Join(s.Dir, "data")
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{s.client}, []url.URL{s.client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{s.peer}, []url.URL{s.peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(name)
	if s.tls != nil {
		cfg.ClientTLSInfo = transport.TLSInfo{CertFile: s.tls.ServerCert, KeyFile: s.tls.ServerKey, TrustedCAFile: s.tls.CA, ClientCertAuth: true}
	}
	cfg.LogLevel = "warn"
	cfg.LogOutputs = []string{filepath.Join(s.Dir, "etcd.log")}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("etcdtest: start embedded etcd: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
		s.embedded = e
		return nil
	case err := <-e.Err():
		e.Close()
		return fmt.Errorf("etcdtest: embedded etcd: %w", err)
	case <-time.After(startTimeout):
		e.Close()
		return fmt.Errorf("etcdtest: embedded etcd not ready within %v", startTimeout)
	}
}

func (s *Server) startBinary() error {
	cmd := exec.Command(s.bin,
		"--name", name,
		"--data-dir", filepath.Join(s.Dir, "data"),
		"--listen-client-urls", s.client.String(), "--advertise-client-urls", s.client.String(),
		"--listen-peer-urls", s.peer.String(), "--initial-advertise-peer-urls", s.peer.String(),
		"--initial-cluster", name+"="+s.peer.String(),
		"--logger", "zap", "--log-level", "warn", "--log-outputs", filepath.Join(s.Dir, "etcd.log"))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")} // no ETCD_* from the environment
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("etcdtest: start %s: %w", s.bin, err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(s.exited)

	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("etcdtest: %s exited at start: %s", s.bin, s.logTail())
		default:
		}
		if resp, err := hc.Get(s.Endpoint + "/health"); err == nil {
			healthy := resp.StatusCode == http.StatusOK
			resp.Body.Close()
			if healthy {
				return nil
			}
		}
		if time.Now().After(deadline) {
			s.Stop()
			return fmt.Errorf("etcdtest: %s not healthy within %v: %s", s.bin, startTimeout, s.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "etcd.log"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(len(lines)-10, 0):], "\n")
}

// Stop stops the server, keeping its data; it is a no-op on a stopped server. An embedded
// server waits up to its request timeout (7 s) for open watch streams; a child process
// gets SIGTERM by its PID, then SIGKILL after 10 s.
func (s *Server) Stop() {
	if s.embedded != nil {
		s.embedded.Close()
		s.embedded = nil
	}
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
		s.cmd = nil
	}
}

// Embedded starts an embedded etcd for t, stopped when t ends.
func Embedded(t testing.TB) *Server {
	t.Helper()
	return started(t, func(dir string) (*Server, error) { return StartEmbedded(dir) })
}

// DebianBin is where Debian's etcd-server package installs etcd.
const DebianBin = "/usr/bin/etcd"

// Debian starts Debian's etcd (3.4) for t, stopped when t ends. Without it the test fails
// naming the package, or skips with OPENCEN_SKIP_DATAPLANE=1 (as the data-plane tests).
func Debian(t testing.TB) *Server {
	t.Helper()
	testenv.RequireEtcd(t, DebianBin)
	return started(t, func(dir string) (*Server, error) { return StartBinary(DebianBin, dir) })
}

func started(t testing.TB, start func(dir string) (*Server, error)) *Server {
	t.Helper()
	s, err := start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Version asks the server which etcd it is (e.g. "3.4.23").
func (s *Server) Version(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoint+"/version", nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var v struct {
		Server string `json:"etcdserver"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || v.Server == "" {
		return "", fmt.Errorf("etcdtest: unexpected /version answer (%v)", err)
	}
	return v.Server, nil
}
