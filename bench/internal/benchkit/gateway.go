package benchkit

import (
	"context"
	"fmt"
	"time"

	"opencen/internal/gateway"
)

// IdlePass waits d and returns the longest gateway pass in that time that found nothing to
// do (nothing changed in the store, no object due): what the gateway costs at rest.
func IdlePass(ctx context.Context, gw *gateway.Gateway, d time.Duration) (time.Duration, error) {
	t0 := time.Now()
	if err := SleepCtx(ctx, d); err != nil {
		return 0, err
	}
	var worst time.Duration
	n := 0
	for _, p := range gw.Passes() {
		if p.At.After(t0) && !p.Changed {
			worst = max(worst, p.Duration)
			n++
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("the gateway made no idle pass in %s", d)
	}
	return worst, nil
}
