package bgp

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"opencen/internal/dataplane/nsutil"
)

// Subcommand is the hidden opencen subcommand that runs a speaker (Main).
const Subcommand = "bgp-speaker"

// Main is the body of `opencen bgp-speaker --socket PATH [--listen-port N]
// [--max-learned N] [--debug]`: it runs a speaker in the current network namespace until
// SIGTERM or SIGINT. args are the arguments after the subcommand (a leading
// "bgp-speaker" is skipped too). It returns the exit code.
func Main(args []string) int {
	if len(args) > 0 && args[0] == Subcommand {
		args = args[1:]
	}
	fs := flag.NewFlagSet(Subcommand, flag.ContinueOnError)
	socket := fs.String("socket", "", "unix socket to serve (required)")
	port := fs.Int("listen-port", 179, "BGP port to listen on in this namespace; -1 = do not listen")
	maxLearned := fs.Int("max-learned", DefaultMaxLearned, "prefixes accepted per neighbor")
	debug := fs.Bool("debug", false, "debug logging")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *socket == "" || fs.NArg() > 0 || *port < -1 || *port > 65535 {
		fmt.Fprintln(os.Stderr, "usage: bgp-speaker --socket PATH [--listen-port N] [--max-learned N] [--debug]")
		return 2
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	err := RunSpeakerWith(ctx, SpeakerOptions{SocketPath: *socket, ListenPort: int32(*port), MaxLearned: *maxLearned, Logger: logger})
	if err != nil {
		logger.Error("bgp speaker failed", "err", err)
		return 1
	}
	return 0
}

// LogPath is where StartSpeaker sends the speaker's output: next to its socket.
func LogPath(socketPath string) string { return socketPath + ".log" }

// StartSpeaker makes sure a speaker serves socketPath inside network namespace netns and
// returns its pid. A speaker already serving the socket from netns is adopted (a restarted
// gateway finds its speakers running; Hello tells whether it must configure again);
// otherwise `ip netns exec <netns> <binary> bgp-speaker --socket <socketPath> [extra...]`
// is started in its own session (it outlives the caller), with its output appended to
// LogPath(socketPath), and StartSpeaker returns once it answers. binary is the opencen
// binary (os.Executable()).
func StartSpeaker(ctx context.Context, netns, binary, socketPath string, extra ...string) (int, error) {
	if !nsutil.NetnsExists(netns) {
		return 0, fmt.Errorf("bgp speaker: network namespace %s does not exist", netns)
	}
	if pid, err := runningSpeaker(ctx, netns, socketPath); err != nil || pid != 0 {
		return pid, err
	}
	if err := os.MkdirAll(filepath.Dir(socketPath), 0o700); err != nil {
		return 0, err
	}
	out, err := os.OpenFile(LogPath(socketPath), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return 0, err
	}
	defer out.Close()
	args := append([]string{"netns", "exec", netns, binary, Subcommand, "--socket", socketPath}, extra...)
	cmd := exec.Command("ip", args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Env = append(os.Environ(), "GODEBUG="+godebugNoMPTCP(os.Getenv("GODEBUG")))
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("bgp speaker: %w", err)
	}
	pid := cmd.Process.Pid // ip netns exec execs the binary: this is the speaker's pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		hctx, cancel := context.WithTimeout(ctx, time.Second)
		h, err := hello(hctx, socketPath)
		cancel()
		if err == nil && h.PID == pid {
			return pid, nil
		}
		select {
		case err := <-exited:
			return 0, fmt.Errorf("bgp speaker in %s exited (%v) before answering: %s", netns, err, tail(LogPath(socketPath), 10))
		case <-ctx.Done():
			_ = nsutil.Kill(pid, time.Second)
			return 0, ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = nsutil.Kill(pid, time.Second)
			return 0, fmt.Errorf("bgp speaker in %s: %s did not answer within 15s: %s", netns, socketPath, tail(LogPath(socketPath), 10))
		}
	}
}

// godebugNoMPTCP adds multipathtcp=0 to a GODEBUG value (see disableMPTCP).
func godebugNoMPTCP(v string) string {
	if strings.Contains(v, "multipathtcp=") {
		return v
	}
	if v != "" {
		v += ","
	}
	return v + "multipathtcp=0"
}

// runningSpeaker returns the pid of a live speaker serving socketPath from netns (0 if
// none answers); one serving it from elsewhere is an error.
func runningSpeaker(ctx context.Context, netns, socketPath string) (int, error) {
	if _, err := os.Stat(socketPath); err != nil {
		return 0, nil
	}
	hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	h, err := hello(hctx, socketPath)
	if err != nil {
		return 0, nil // a stale socket: the new speaker replaces it
	}
	if !nsutil.InNamedNetns(h.PID, netns) {
		return 0, fmt.Errorf("bgp speaker: %s is served by pid %d, which is not in namespace %s", socketPath, h.PID, netns)
	}
	return h.PID, nil
}

func hello(ctx context.Context, socketPath string) (Hello, error) {
	c := &Client{path: socketPath}
	defer c.Close()
	return c.Hello(ctx)
}

// StopSpeaker stops the speaker with this pid: SIGTERM (it closes its sessions with a
// Cease notification and removes its socket), SIGKILL after 5 s.
func StopSpeaker(pid int) error {
	if pid <= 0 {
		return errors.New("bgp speaker: no pid")
	}
	return nsutil.Kill(pid, 5*time.Second)
}

func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > 8192 {
		_, _ = f.Seek(st.Size()-8192, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
