package benchkit

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// Cleanups is a stack of undo steps, run last-in first-out on every exit path.
type Cleanups struct {
	mu    sync.Mutex
	steps []cleanupStep
}

type cleanupStep struct {
	what string
	fn   func(context.Context) error
}

// Add pushes an undo step; what names it in the log when it fails.
func (c *Cleanups) Add(what string, fn func(context.Context) error) {
	c.mu.Lock()
	c.steps = append(c.steps, cleanupStep{what, fn})
	c.mu.Unlock()
}

// Run runs and forgets the steps, newest first, within three minutes.
func (c *Cleanups) Run() {
	c.mu.Lock()
	steps := c.steps
	c.steps = nil
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for i := len(steps) - 1; i >= 0; i-- {
		if err := steps[i].fn(ctx); err != nil {
			Logf("cleanup: %s: %v", steps[i].what, err)
		}
	}
}

var logMu sync.Mutex

// Logf writes a timestamped progress line to stderr (the table goes to stdout).
func Logf(format string, args ...any) {
	logMu.Lock()
	defer logMu.Unlock()
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
}

// OnSignal cancels the run on the first SIGINT, SIGTERM or SIGHUP, saying what is being
// cleaned up, and only reports later ones, so a second Ctrl-C cannot cut the cleanup short.
// stop ends the watch.
func OnSignal(cancel context.CancelFunc, what string) (stop func()) {
	sigc := make(chan os.Signal, 4)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		first := true
		for {
			select {
			case s := <-sigc:
				if first {
					Logf("%v: stopping and cleaning up (%s) ...", s, what)
					first = false
					cancel()
				} else {
					Logf("%v: still cleaning up, please wait", s)
				}
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(sigc)
		close(done)
	}
}
