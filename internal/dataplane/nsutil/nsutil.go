// Package nsutil holds the operating-system primitives shared by the netns data-plane driver
// and the lab: network namespaces (through iproute2), sysctls and sockets inside a namespace
// (through setns on a locked thread), processes found by namespace, and private charon
// instances.
//
// Everything here shells out to `ip` and `nft` for configuration, consistently: the commands
// are the same ones an operator would type, and their JSON output (`ip -j`) is what the
// driver reads back.
package nsutil

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// NetnsDir is where iproute2 keeps named network namespaces.
const NetnsDir = "/run/netns"

// CmdError is a failed command with its output.
type CmdError struct {
	Args   []string
	Stderr string
	Err    error
}

func (e *CmdError) Error() string {
	return fmt.Sprintf("%s: %v: %s", strings.Join(e.Args, " "), e.Err, strings.TrimSpace(e.Stderr))
}

func (e *CmdError) Unwrap() error { return e.Err }

// Run runs a command with stdin and returns its standard output.
func Run(ctx context.Context, stdin string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		return out.Bytes(), &CmdError{Args: append([]string{name}, args...), Stderr: errb.String(), Err: err}
	}
	return out.Bytes(), nil
}

// IP runs `ip args...`.
func IP(ctx context.Context, args ...string) ([]byte, error) { return Run(ctx, "", "ip", args...) }

// IPn runs `ip -n ns args...` (ns "" = the current namespace).
func IPn(ctx context.Context, ns string, args ...string) ([]byte, error) {
	if ns == "" {
		return IP(ctx, args...)
	}
	return IP(ctx, append([]string{"-n", ns}, args...)...)
}

// IPBatch runs several ip commands (without the leading "ip") in one process, in ns.
// A failing command does not stop the others (-force); the error reports the failures.
func IPBatch(ctx context.Context, ns string, cmds []string) error {
	if len(cmds) == 0 {
		return nil
	}
	args := []string{"-force", "-batch", "-"}
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	_, err := Run(ctx, strings.Join(cmds, "\n")+"\n", "ip", args...)
	return err
}

// Exec runs a program inside ns (`ip netns exec`).
func Exec(ctx context.Context, ns string, name string, args ...string) ([]byte, error) {
	return Run(ctx, "", "ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

// NFT loads an nft script inside ns atomically (`nft -f -`).
func NFT(ctx context.Context, ns, script string) error {
	_, err := Run(ctx, script, "ip", "netns", "exec", ns, "nft", "-f", "-")
	return err
}

// IsNotExist reports whether an ip error says that the object does not exist.
func IsNotExist(err error) bool {
	var ce *CmdError
	if !errors.As(err, &ce) {
		return false
	}
	s := ce.Stderr
	return strings.Contains(s, "No such file or directory") || strings.Contains(s, "Cannot find device") ||
		strings.Contains(s, "does not exist") || strings.Contains(s, "No such process")
}

// ListNetns lists the named network namespaces starting with prefix, sorted.
func ListNetns(prefix string) ([]string, error) {
	ents, err := os.ReadDir(NetnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	slices.Sort(out)
	return out, nil
}

// NetnsExists reports whether the named namespace exists.
func NetnsExists(name string) bool {
	_, err := NetnsInode(name)
	return err == nil
}

// NetnsInode is the inode number identifying the named namespace (the nsfs bind mount).
func NetnsInode(name string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(NetnsDir, name), &st); err != nil {
		return 0, err
	}
	if st.Ino == 0 {
		return 0, fmt.Errorf("netns %s: no inode", name)
	}
	return st.Ino, nil
}

// Sysctl is one net.* sysctl, written as its /proc/sys path below /proc/sys/net,
// e.g. {"ipv4/ip_forward", "1"}.
type Sysctl struct{ Key, Value string }

// AddNetns creates a namespace (if missing) with lo up and the given sysctls.
// IPv6 is switched off in the namespace so links carry no link-local addresses.
func AddNetns(ctx context.Context, name string, sysctls ...Sysctl) error {
	if !NetnsExists(name) {
		if _, err := IP(ctx, "netns", "add", name); err != nil {
			return err
		}
	}
	base := []Sysctl{{"ipv6/conf/all/disable_ipv6", "1"}, {"ipv6/conf/default/disable_ipv6", "1"}}
	if err := SetSysctls(name, append(base, sysctls...)...); err != nil {
		return err
	}
	_, err := IPn(ctx, name, "link", "set", "lo", "up")
	return err
}

// DelNetns deletes a namespace; a missing one is not an error.
func DelNetns(ctx context.Context, name string) error {
	if !NetnsExists(name) {
		return nil
	}
	if _, err := IP(ctx, "netns", "del", name); err != nil && NetnsExists(name) {
		return err
	}
	return nil
}

// InNetns runs fn on an OS thread switched into the named network namespace. Sockets
// created in fn stay in that namespace; /proc/sys/net opened in fn is that namespace's.
func InNetns(name string, fn func() error) error {
	target, err := os.Open(filepath.Join(NetnsDir, name))
	if err != nil {
		return err
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		// A fresh goroutine on a locked thread: if the thread cannot be switched back,
		// it stays locked and the runtime discards it when the goroutine ends.
		runtime.LockOSThread()
		self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer self.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns %s: %w", name, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("setns back: %w", err))
			return // thread stays locked: the runtime kills it
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// SetSysctls writes net sysctls inside ns.
func SetSysctls(ns string, sysctls ...Sysctl) error {
	if len(sysctls) == 0 {
		return nil
	}
	return InNetns(ns, func() error {
		for _, s := range sysctls {
			p := filepath.Join("/proc/sys/net", s.Key)
			if err := os.WriteFile(p, []byte(s.Value), 0o644); err != nil {
				return fmt.Errorf("sysctl net/%s=%s in %s: %w", s.Key, s.Value, ns, err)
			}
		}
		return nil
	})
}

// GetSysctl reads a net sysctl inside ns.
func GetSysctl(ns, key string) (string, error) {
	var v string
	err := InNetns(ns, func() error {
		b, err := os.ReadFile(filepath.Join("/proc/sys/net", key))
		v = strings.TrimSpace(string(b))
		return err
	})
	return v, err
}

// ProcessesInNetns returns the PIDs of live processes whose network namespace is one of
// the named ones (found by inode via /proc/<pid>/ns/net), mapped to the namespace name.
func ProcessesInNetns(names []string) map[int]string {
	inodes := map[string]string{}
	for _, n := range names {
		if ino, err := NetnsInode(n); err == nil {
			inodes[fmt.Sprintf("net:[%d]", ino)] = n
		}
	}
	out := map[int]string{}
	if len(inodes) == 0 {
		return out
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
		if err != nil {
			continue
		}
		if n, ok := inodes[link]; ok && Alive(pid) {
			out[pid] = n
		}
	}
	return out
}

// Alive reports whether pid is a live (not zombie) process.
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) S ...: the state follows the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return false
	}
	st := b[i+2]
	return st != 'Z' && st != 'X'
}

// Comm is the process's command name ("" if gone).
func Comm(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// NetnsOf is the "net:[inode]" link of a process's network namespace.
func NetnsOf(pid int) string {
	l, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
	return l
}

// InNamedNetns reports whether pid lives in the named network namespace.
func InNamedNetns(pid int, ns string) bool {
	ino, err := NetnsInode(ns)
	return err == nil && NetnsOf(pid) == fmt.Sprintf("net:[%d]", ino)
}

// Kill stops pid: SIGTERM, then SIGKILL after grace. It reaps the process if it is a
// child of this process (or of a subreaper this process is), and returns once it is gone
// or a zombie someone else must reap.
func Kill(pid int, grace time.Duration) error {
	if !Alive(pid) {
		reap(pid)
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		reap(pid)
		if !Alive(pid) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for i := 0; i < 250; i++ {
		reap(pid)
		if !Alive(pid) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("process %d did not exit after SIGKILL", pid)
}

func reap(pid int) {
	var ws unix.WaitStatus
	_, _ = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
}

// ReadPIDFile reads a pid file (0 if missing or invalid).
func ReadPIDFile(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	return pid
}

// GratuitousARP announces that addr is on link in namespace ns: an ARP request for addr
// from addr (as `arping -U` sends it), broadcast twice. A gateway IP that moved to another
// machine (or namespace) is then reached at its new MAC at once, instead of when the
// neighbours' ARP caches expire.
func GratuitousARP(ns, link string, addr netip.Addr) error {
	if !addr.Is4() {
		return fmt.Errorf("gratuitous ARP: %v is not an IPv4 address", addr)
	}
	return InNetns(ns, func() error {
		ifi, err := net.InterfaceByName(link)
		if err != nil {
			return err
		}
		if len(ifi.HardwareAddr) != 6 {
			return fmt.Errorf("gratuitous ARP: %s has no Ethernet address", link)
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(Htons(unix.ETH_P_ARP)))
		if err != nil {
			return fmt.Errorf("gratuitous ARP: packet socket: %w", err)
		}
		defer unix.Close(fd)
		bcast := [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
		frame := make([]byte, 0, 42)
		frame = append(frame, bcast[:]...)
		frame = append(frame, ifi.HardwareAddr...)
		frame = append(frame, 0x08, 0x06)                // ARP
		frame = append(frame, 0, 1, 0x08, 0, 6, 4, 0, 1) // Ethernet, IPv4, sizes, request
		ip := addr.As4()
		frame = append(frame, ifi.HardwareAddr...)
		frame = append(frame, ip[:]...)
		frame = append(frame, 0, 0, 0, 0, 0, 0)
		frame = append(frame, ip[:]...)
		to := &unix.SockaddrLinklayer{Protocol: Htons(unix.ETH_P_ARP), Ifindex: ifi.Index, Halen: 6}
		copy(to.Addr[:], bcast[:])
		for range 2 {
			if err := unix.Sendto(fd, frame, 0, to); err != nil {
				return fmt.Errorf("gratuitous ARP on %s: %w", link, err)
			}
		}
		return nil
	})
}

// Htons is a 16-bit value in network byte order (for AF_PACKET protocol numbers).
func Htons(v uint16) uint16 { return v<<8 | v>>8 }
