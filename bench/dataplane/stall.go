package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"opencen/bench/internal/benchkit"
	"opencen/internal/dataplane"
	"opencen/internal/probe"
)

// A stall is a connection that the API reports ipsec_sa_established while it carries no
// traffic: what used to happen after a duplicate IKE SA was deleted (a cell passed nothing
// for ~20 s until DPD gave up). stallCheck pings through every connection, from its data
// center's host to the VPC host, every 500 ms for a window after they all came up (the
// data centers and the cells both initiate, so they cross and delete duplicates in that
// time), and counts the connections that lost 4 probes in a row (2 s) while the API said
// ipsec_sa_established.

const (
	stallInterval = 500 * time.Millisecond
	stallRetry    = 4
)

type stallResult struct {
	conns  int
	window time.Duration
	// stalled lists the connections that went dark while reported established, with
	// how long they stayed dark (until the window's end if they did not recover).
	stalled map[int]time.Duration
	// dark counts connections that went dark at all (reported established or not).
	dark int
}

func (w *world) stallCheck(ctx context.Context, window time.Duration) (stallResult, error) {
	res := stallResult{conns: len(w.conns), window: window, stalled: map[int]time.Duration{}}
	type verdict struct {
		healthy bool
		at      time.Time
	}
	var mu sync.Mutex
	verdicts := map[string][]verdict{}
	p := probe.New(probe.Options{OnResult: func(r probe.Result) {
		mu.Lock()
		verdicts[r.ID] = append(verdicts[r.ID], verdict{r.Healthy, r.At})
		mu.Unlock()
	}})
	defer p.Close()
	byID := map[string]*conn{}
	var checks []probe.Check
	for _, c := range w.conns {
		byID[c.vco] = c
		checks = append(checks, probe.Check{ID: c.vco, Netns: c.dc.Netns, Source: c.dc.Host, Destination: w.vpcHost.Addr,
			Interval: stallInterval, Retry: stallRetry})
	}
	if err := p.Set(checks); err != nil {
		return res, err
	}
	// The API's view, sampled every 200 ms: when each connection was not established.
	notUp := map[string][]time.Time{}
	t0 := time.Now()
	for time.Since(t0) < window {
		st, err := w.describeAll(ctx)
		if err != nil {
			return res, err
		}
		now := time.Now()
		for id, s := range st {
			if s != dataplane.IPsecEstablished {
				notUp[id] = append(notUp[id], now)
			}
		}
		if err := benchkit.SleepCtx(ctx, 200*time.Millisecond); err != nil {
			return res, err
		}
	}
	end := time.Now()
	mu.Lock()
	defer mu.Unlock()
	for id, vs := range verdicts {
		c := byID[id]
		for i, v := range vs {
			if v.healthy {
				continue
			}
			res.dark++
			until := end
			if i+1 < len(vs) {
				until = vs[i+1].at
			}
			// Reported established throughout the dark time (the probe declares a loss
			// stallRetry intervals after the first one)?
			from := v.at.Add(-stallInterval * stallRetry)
			if !slices.ContainsFunc(notUp[id], func(t time.Time) bool { return !t.Before(from) && !t.After(until) }) {
				res.stalled[c.k] = max(res.stalled[c.k], until.Sub(from))
			}
		}
	}
	return res, nil
}

// modifyResult is the time from a ModifyVpnAttachmentAttribute call of one connection among
// N until its cell had reloaded the configuration, and until its new IKE SA was up.
type modifyResult struct {
	conn               int
	reloaded, newSA    time.Duration
	untouched, touched int // other cells whose configuration was (not) reloaded
}

func (w *world) modifyOne(ctx context.Context) (modifyResult, error) {
	c := w.conns[len(w.conns)/2]
	res := modifyResult{conn: c.k}
	drv := w.drv
	before := map[string]int{}
	st, err := drv.Status(ctx)
	if err != nil {
		return res, err
	}
	for _, cs := range st.Cells {
		before[cs.ID] = countKind(cs.Events, dataplane.EventConfigLoaded)
	}
	t0 := time.Now()
	// A new IPsec SA lifetime: the cell reloads and renegotiates; the data center does not
	// care (lifetimes are not negotiated).
	if _, err := w.call(ctx, vpcV, "ModifyVpnAttachmentAttribute", map[string]string{"RegionId": region, "VpnConnectionId": c.vco,
		"IpsecConfig": `{"IpsecLifetime":3600}`}); err != nil {
		return res, err
	}
	err = benchkit.WaitFor(ctx, "the modified connection's new IKE SA", 30*time.Second, 5*time.Millisecond, func() (bool, error) {
		st, err := drv.Status(ctx)
		if err != nil {
			return false, err
		}
		cs, ok := st.Cell(c.vco)
		if !ok {
			return false, nil
		}
		loaded := -1
		for i, ev := range cs.Events {
			if ev.Kind == dataplane.EventConfigLoaded && ev.Time.After(t0) {
				loaded = i
				if res.reloaded == 0 {
					res.reloaded = ev.Time.Sub(t0)
				}
			}
		}
		for _, ev := range cs.Events[max(loaded, 0):] {
			if loaded >= 0 && ev.Kind == dataplane.EventIKEUp && ev.Time.After(t0) {
				res.newSA = ev.Time.Sub(t0)
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return res, err
	}
	st, err = drv.Status(ctx)
	if err != nil {
		return res, err
	}
	for _, cs := range st.Cells {
		if cs.ID == c.vco {
			continue
		}
		if countKind(cs.Events, dataplane.EventConfigLoaded) == before[cs.ID] {
			res.untouched++
		} else {
			res.touched++
		}
	}
	return res, nil
}

func countKind(evs []dataplane.Event, kind string) int {
	n := 0
	for _, ev := range evs {
		if ev.Kind == kind {
			n++
		}
	}
	return n
}

// stallRuns builds `runs` more OpenCEN worlds one after the other, each with conns
// connections, and checks each for stalls; every world is torn down before the next.
func stallRuns(ctx context.Context, o options, n names, runs int, window time.Duration) ([]stallResult, error) {
	var out []stallResult
	for i := 1; i <= runs; i++ {
		nr := n
		nr.base = filepath.Join(n.base, fmt.Sprintf("stall-%d", i))
		if err := os.MkdirAll(nr.base, 0o700); err != nil {
			return out, err
		}
		w := &world{n: nr, o: o}
		benchkit.Logf("stall run %d/%d: %d connections", i, runs, o.conns)
		err := func() error {
			if err := w.setup(ctx); err != nil {
				return err
			}
			if _, err := w.connectAll(ctx); err != nil {
				return err
			}
			r, err := w.stallCheck(ctx, window)
			if err != nil {
				return err
			}
			benchkit.Logf("stall run %d/%d: %d stalled while reported established, %d went dark at all", i, runs, len(r.stalled), r.dark)
			out = append(out, r)
			return nil
		}()
		cctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		cerr := w.cleanup(cctx)
		cancel()
		if err != nil {
			return out, fmt.Errorf("stall run %d: %w", i, err)
		}
		if cerr != nil {
			return out, fmt.Errorf("stall run %d: cleanup: %w", i, cerr)
		}
	}
	return out, nil
}
