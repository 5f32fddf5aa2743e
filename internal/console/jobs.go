package console

import (
	"context"
	"sync"
	"time"

	"opencen/internal/connect"
)

// A job follows the part of "Create Connection" that happens after OK: the attachment
// becoming Attached, then the association and propagation the advanced options asked for
// (the server makes them; the job only watches). The browser follows it on the attachment's
// page. Jobs live in memory: after a restart the page shows the attachment, its association
// and its propagation as they are, without the progress list.
type job struct {
	Steps    []jobStep
	Err      string
	Done     bool
	finished time.Time
}

type jobStep struct {
	Name  string
	State string // "pending", "running", "done", "failed"
}

// jobKeep is how long a finished job's progress stays on the attachment's page.
const jobKeep = time.Hour

type jobs struct {
	mu   sync.Mutex
	byID map[string]*job // by attachment ID
	now  func() time.Time
	wg   sync.WaitGroup
}

func newJobs(now func() time.Time) *jobs { return &jobs{byID: map[string]*job{}, now: now} }

// start follows an attachment with connect.Finish in the background, as cl's account.
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
		if old.Done && js.now().Sub(old.finished) > jobKeep {
			delete(js.byID, id)
		}
	}
	js.byID[attID] = j
	js.mu.Unlock()
	js.wg.Add(1)
	go func() {
		defer js.wg.Done()
		ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		err := connect.Finish(ctx, cl, "ListTransitRouterVpnAttachments", trID, attID, adv, func(name string, done bool) {
			state := "running"
			if done {
				state = "done"
			}
			js.mu.Lock()
			defer js.mu.Unlock()
			for i := range j.Steps {
				if j.Steps[i].Name == name {
					j.Steps[i].State = state
				}
			}
		})
		js.mu.Lock()
		defer js.mu.Unlock()
		j.Done, j.finished = true, js.now()
		if err != nil {
			_, j.Err = fieldErrors(err, nil)
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
