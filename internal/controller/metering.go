package controller

import (
	"context"
	"log/slog"
	"time"
)

// HourMeter marks the current hour in the usage of every attached instance
// (service.MeterHours): attachment-hours and connection-hours are billed per hour an
// instance existed, not per byte, so something must note each hour even without traffic.
type HourMeter interface {
	MeterHours(ctx context.Context, now time.Time) error
}

// Metering runs MeterHours every Every (default a minute: an instance attached at 10:59
// still gets hour 10), on the leader only; the service skips what it marked already.
type Metering struct {
	Meter HourMeter
	Every time.Duration
	Log   *slog.Logger
}

// Run works until ctx ends.
func (m *Metering) Run(ctx context.Context) error {
	every := m.Every
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := m.Meter.MeterHours(ctx, time.Now()); err != nil && ctx.Err() == nil {
			m.Log.Warn("metering: mark this hour's usage; trying again", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
