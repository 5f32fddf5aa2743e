package console

import (
	"context"
	"sync"
	"time"

	"opencen/internal/connect"
)

// A job is the part of "Create Connection" that runs after OK: waiting for the attachment
// to be Attached, then the advanced options. The browser follows it on the attachment's
// page. Jobs live in memory: after a restart the page shows the attachment as it is (its
// association and propagation are visible there and can be set by hand).
type job struct {
	Steps    []jobStep
	Err      string
	Done     bool
	finished time.Time
}

// jobKeep is how long a finished job's progress stays on the attachment's page.
const jobKeep = time.Hour

type jobStep struct {
	Name  string
	State string // "pending", "running", "done", "failed"
}

type jobs struct {
	mu   sync.Mutex
	byID map[string]*job // by attachment ID
}

func newJobs() *jobs { return &jobs{byID: map[string]*job{}} }

// start runs connect.Finish for an attachment in the background.
func (js *jobs) start(ctx context.Context, cl connect.Caller, trID, attID string, adv connect.Advanced) {
	j := &job{Steps: []jobStep{{"Attach", "pending"}}}
	if adv.Associate {
		j.Steps = append(j.Steps, jobStep{"Associate", "pending"})
	}
	if adv.Propagate {
		j.Steps = append(j.Steps, jobStep{"Propagate", "pending"})
	}
	js.mu.Lock()
	for id, old := range js.byID {
		if old.Done && time.Since(old.finished) > jobKeep {
			delete(js.byID, id)
		}
	}
	js.byID[attID] = j
	js.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		err := connect.Finish(ctx, cl, "ListTransitRouterVpnAttachments", trID, attID, adv, func(name string, done bool) {
			js.mu.Lock()
			defer js.mu.Unlock()
			for i := range j.Steps {
				if j.Steps[i].Name == name {
					j.Steps[i].State = map[bool]string{true: "done", false: "running"}[done]
				}
			}
		})
		js.mu.Lock()
		defer js.mu.Unlock()
		j.Done, j.finished = true, time.Now()
		if err != nil {
			j.Err = err.Error()
			for i := range j.Steps {
				if j.Steps[i].State == "running" {
					j.Steps[i].State = "failed"
				}
			}
		}
	}()
}

// get returns a copy of an attachment's job, if one ran since the server started.
func (js *jobs) get(attID string) (job, bool) {
	js.mu.Lock()
	defer js.mu.Unlock()
	j, ok := js.byID[attID]
	if !ok {
		return job{}, false
	}
	cp := *j
	cp.Steps = append([]jobStep(nil), j.Steps...)
	return cp, true
}
