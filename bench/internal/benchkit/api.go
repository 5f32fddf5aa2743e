package benchkit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"opencen/internal/connect"
	"opencen/internal/rpc"
)

// Call performs a signed action and decodes its answer.
func Call(ctx context.Context, c *rpc.Client, version, action string, p map[string]string) (map[string]any, error) {
	var out map[string]any
	if err := c.Call(ctx, version, action, p, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", action, err)
	}
	return out, nil
}

// WaitFor polls cond every interval until it holds, fails, or timeout passes.
func WaitFor(ctx context.Context, what string, timeout, interval time.Duration, cond func() (bool, error)) error {
	if err := connect.Poll(ctx, timeout, interval, cond); err != nil {
		return fmt.Errorf("waiting for %s: %w", what, err)
	}
	return nil
}

// First returns the first object of the list found at keys in an answer.
func First(v any, keys ...string) (map[string]any, error) {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("answer has no %s", k)
		}
		v = m[k]
	}
	l, ok := v.([]any)
	if !ok || len(l) == 0 {
		return nil, fmt.Errorf("empty list %v", keys)
	}
	m, ok := l[0].(map[string]any)
	if !ok {
		return nil, errors.New("list item is not an object")
	}
	return m, nil
}

// Str reads a string field of an answer object ("" when absent).
func Str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// SleepCtx waits d or until ctx ends.
func SleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
