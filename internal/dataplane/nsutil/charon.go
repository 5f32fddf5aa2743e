package nsutil

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// Paths of the strongSwan installation (Debian packages strongswan-charon,
// strongswan-swanctl, libcharon-extra-plugins, libstrongswan-standard-plugins).
const (
	CharonPath  = "/usr/lib/ipsec/charon"
	PluginDir   = "/usr/lib/ipsec/plugins"
	SwanctlPath = "/usr/sbin/swanctl"
)

// Packages is the apt-get command installing what charon instances need.
const Packages = "apt-get install -y strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-standard-plugins iproute2 nftables"

// Missing lists what this machine lacks to run namespaces and charon instances (root,
// binaries, plugins), as human-readable items; empty means everything is there.
func Missing() []string {
	var m []string
	if os.Geteuid() != 0 {
		m = append(m, "root (network and mount namespaces, veth, TUN)")
	}
	if _, err := os.Stat(CharonPath); err != nil {
		m = append(m, "charon binary "+CharonPath+" ("+Packages+")")
	}
	if _, err := exec.LookPath("swanctl"); err != nil {
		m = append(m, "swanctl (apt-get install -y strongswan-swanctl)")
	}
	for plugin, pkg := range map[string]string{
		"kernel-libipsec": "libcharon-extra-plugins", "vici": "strongswan-swanctl",
		"openssl": "libstrongswan-standard-plugins", "gmp": "libstrongswan",
	} {
		if _, err := os.Stat(filepath.Join(PluginDir, "libstrongswan-"+plugin+".so")); err != nil {
			m = append(m, "strongSwan plugin "+plugin+" (apt-get install -y "+pkg+")")
		}
	}
	for tool, pkg := range map[string]string{"ip": "iproute2", "nft": "nftables", "unshare": "util-linux", "mount": "mount", "ping": "iputils-ping"} {
		if _, err := exec.LookPath(tool); err != nil {
			m = append(m, tool+" (apt-get install -y "+pkg+")")
		}
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		m = append(m, "/dev/net/tun (TUN device for kernel-libipsec)")
	}
	return m
}

// StrongswanConf is a strongswan.conf for a private charon with kernel-libipsec (userspace
// ESP through the TUN device ipsec0, for kernels without ESP/XFRM). Inside the charon's
// mount namespace, /run is the instance directory: pid file, VICI socket and log live there.
// extra goes into the charon section after the settings above, so it can override them
// (strongSwan keeps the last value of a key), e.g. the retransmission settings.
func StrongswanConf(extra string) string {
	return `# private charon instance (kernel-libipsec); /run is this instance's directory
charon {
  # kernel-libipsec must come before kernel-netlink: it provides the IPsec backend,
  # kernel-netlink still handles addresses and routes.
  load = random nonce aesni aes sha1 sha2 md5 hmac gmp openssl gcm kdf pem pkcs1 pkcs8 x509 pubkey revocation constraints kernel-libipsec kernel-netlink socket-default vici
  # libipsec, netlink, socket and vici park ~8 long-running jobs on worker threads:
  # with fewer than ~12 threads the VICI socket never answers.
  threads = 16
  install_routes = no
  # accept IKEv1 Aggressive Mode with PSK (the product offers it)
  i_dont_care_about_security_and_use_aggressive_mode_psk = yes
  # detect a dead peer in ~15 s instead of ~165 s
  retransmit_tries = 3
  retransmit_timeout = 2.0
  retransmit_base = 1.4
` + extra + `  plugins {
    vici {
      socket = unix:///run/charon.vici
    }
    kernel-libipsec {
      allow_peer_ts = no
    }
  }
  filelog {
    log {
      path = /run/charon.log
      time_format = %Y-%m-%dT%H:%M:%S
      ike_name = yes
      append = yes
      default = 1
      flush_line = yes
    }
  }
  syslog {
    daemon {
      default = -1
    }
  }
}
swanctl {
  load = random nonce aes sha1 sha2 md5 hmac gmp openssl pem pkcs1 pkcs8 x509 pubkey revocation constraints
}
`
}

// Charon is a private charon instance: it runs in network namespace Netns, in its own
// mount namespace where Dir (a host directory) is bind-mounted on /run, because charon
// hard-codes /run/charon.pid. Dir holds strongswan.conf, charon.pid, charon.vici,
// charon.log and charon.out (stdout/stderr).
type Charon struct {
	Netns string
	Dir   string
}

// Socket is the host path of the VICI socket.
func (c Charon) Socket() string { return filepath.Join(c.Dir, "charon.vici") }

// PIDFile is the host path of charon's pid file.
func (c Charon) PIDFile() string { return filepath.Join(c.Dir, "charon.pid") }

// LogFile is the host path of charon's log.
func (c Charon) LogFile() string { return filepath.Join(c.Dir, "charon.log") }

// LogTail returns the last n lines of the instance's charon.log, for a failure report.
func (c Charon) LogTail(n int) (string, error) {
	b, err := os.ReadFile(c.LogFile())
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n"), err
}

// ConfFile is the host path of the instance's strongswan.conf.
func (c Charon) ConfFile() string { return filepath.Join(c.Dir, "strongswan.conf") }

// Swanctl runs swanctl CMD [args] against the instance.
func (c Charon) Swanctl(ctx context.Context, cmd string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	x := exec.CommandContext(ctx, SwanctlPath, append(append([]string{cmd}, args...), "--uri", "unix://"+c.Socket())...)
	x.Env = append(os.Environ(), "STRONGSWAN_CONF="+c.ConfFile(), "SWANCTL_DIR="+filepath.Join(c.Dir, "swanctl"))
	out, err := x.CombinedOutput()
	return string(out), err
}

var establishedIKE = regexp.MustCompile(`ESTABLISHED, IKEv\d, ([0-9a-f]{16})_i\*? ([0-9a-f]{16})_r`)

// EstablishedIKE lists the instance's established IKE SAs as "<initiator SPI>_<responder
// SPI>", which names an SA the same way at both ends of a tunnel.
func (c Charon) EstablishedIKE(ctx context.Context) ([]string, error) {
	out, err := c.Swanctl(ctx, "--list-sas")
	if err != nil {
		return nil, fmt.Errorf("swanctl --list-sas: %w\n%s", err, out)
	}
	var spis []string
	for _, m := range establishedIKE.FindAllStringSubmatch(out, -1) {
		spis = append(spis, m[1]+"_"+m[2])
	}
	return spis, nil
}

// PID returns the pid of the running instance: the pid file names a live process called
// charon in the instance's network namespace. 0 if not running.
func (c Charon) PID() int {
	pid := ReadPIDFile(c.PIDFile())
	if pid == 0 || !Alive(pid) || Comm(pid) != "charon" || !InNamedNetns(pid, c.Netns) {
		return 0
	}
	return pid
}

// PIDFromFile is the pid of a live process called charon named by the pid file,
// without checking its namespace (for cleaning up after a crash, when the namespace may
// already be gone). 0 if none.
func (c Charon) PIDFromFile() int {
	pid := ReadPIDFile(c.PIDFile())
	if pid == 0 || !Alive(pid) || Comm(pid) != "charon" {
		return 0
	}
	return pid
}

// Start writes conf as strongswan.conf and starts charon, returning once its VICI socket
// accepts connections. The process gets its own session so it survives the caller (a
// restarted driver re-adopts it through the pid file).
func (c Charon) Start(ctx context.Context, conf string) (int, error) {
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return 0, err
	}
	for _, f := range []string{c.Socket(), c.PIDFile()} {
		// a stale socket would look like a live charon
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return 0, err
		}
	}
	if err := os.WriteFile(c.ConfFile(), []byte(conf), 0o600); err != nil {
		return 0, err
	}
	out, err := os.OpenFile(filepath.Join(c.Dir, "charon.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return 0, err
	}
	defer out.Close()
	// ip netns exec, unshare and sh all exec: the started PID is charon's.
	cmd := exec.Command("ip", "netns", "exec", c.Netns,
		"unshare", "--mount", "--propagation", "private",
		"sh", "-c", `mount --bind "$1" /run && STRONGSWAN_CONF=/run/strongswan.conf exec "$2"`, "sh", c.Dir, CharonPath)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	pid := cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }() // reap it if it exits while we run
	deadline := time.Now().Add(15 * time.Second)
	for {
		if conn, err := net.DialTimeout("unix", c.Socket(), time.Second); err == nil {
			conn.Close()
			if ReadPIDFile(c.PIDFile()) == pid {
				return pid, nil
			}
		}
		select {
		case err := <-exited:
			b, _ := os.ReadFile(filepath.Join(c.Dir, "charon.out"))
			return 0, fmt.Errorf("charon in %s exited (%v) before its VICI socket answered: %s", c.Netns, err, lastLines(string(b), 10))
		case <-ctx.Done():
			_ = Kill(pid, time.Second)
			return 0, ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = Kill(pid, time.Second)
			return 0, fmt.Errorf("charon in %s: VICI socket %s did not answer within 15s", c.Netns, c.Socket())
		}
	}
}

// Stop stops the running instance (by the pid in its pid file) and removes its socket.
func (c Charon) Stop() error {
	if pid := c.PID(); pid != 0 {
		if err := Kill(pid, 3*time.Second); err != nil {
			return err
		}
	}
	_ = os.Remove(c.Socket())
	_ = os.Remove(c.PIDFile())
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// StopAll stops, before their namespaces are deleted, every charon whose run directory is
// one of dirs (by its pid file) and every other process still running in the namespaces.
func StopAll(dirs, namespaces []string) []error {
	var errs []error
	for _, dir := range dirs {
		ch := Charon{Netns: filepath.Base(dir), Dir: dir}
		if pid := ch.PIDFromFile(); pid != 0 {
			errs = append(errs, Kill(pid, 3*time.Second))
		}
	}
	for pid := range ProcessesInNetns(namespaces) {
		errs = append(errs, Kill(pid, 3*time.Second))
	}
	return errs
}
