package service

import (
	"context"
	"slices"
	"strings"
	"time"

	"opencen/internal/store"
)

// Revision keys. Every transaction puts some of them blindly (no guard reads them, so
// they never make transactions conflict); their ModRevision then says, with one Get,
// whether anything of a class changed since a given revision, the same on every server
// sharing the store and without a watch:
//
//   - /rev/spec: desired state changed (any API write: resources, accounts, keys ...);
//   - /rev/obs: what a data plane observed changed (negotiation, BGP and health status,
//     learned routes, connection logs);
//   - /rev/routing and /rev/routing/<tr>: an observation changed the routing input of a
//     transit router (learned routes, a health verdict that withdraws routes);
//   - /rev/usage: metering changed (counter totals, hourly usage records: usage.go). No
//     cache follows it; it exists so that the ten-second counter reports move neither
//     of the others.
//
// Caches of desired state (decoded resources, routing engines, the data plane's read
// model, signed-key lookups) follow /rev/spec, so a status write invalidates none of them;
// routing engines also follow their router's routing key, the read model the global one.
const (
	specRevKey    = "/rev/spec"
	obsRevKey     = "/rev/obs"
	routingRevKey = "/rev/routing"
	obsPrefix     = "/obs/"
)

func routingRevKeyOf(tr string) string { return routingRevKey + "/" + tr }

// observedKey reports whether a key holds observed state rather than desired state.
func observedKey(k string) bool {
	return strings.HasPrefix(k, obsPrefix) || strings.HasPrefix(k, logsPrefix)
}

// revisionPuts are the revision keys a transaction writing keys must put.
func revisionPuts(keys []string, routing []string) []store.Op {
	var ops []store.Op
	spec, obs, usage := false, false, false
	for _, k := range keys {
		switch {
		case usageKey(k):
			usage = true
		case observedKey(k):
			obs = true
		default:
			spec = true
		}
	}
	mark := []byte{'1'}
	if spec {
		ops = append(ops, store.Put(specRevKey, mark))
	}
	if obs {
		ops = append(ops, store.Put(obsRevKey, mark))
	}
	if usage {
		ops = append(ops, store.Put(usageRevKey, mark))
	}
	if len(routing) > 0 {
		ops = append(ops, store.Put(routingRevKey, mark))
		for _, tr := range slices.Compact(slices.Sorted(slices.Values(routing))) {
			ops = append(ops, store.Put(routingRevKeyOf(tr), mark))
		}
	}
	return ops
}

// revisions reads the ModRevisions of revision keys (0 for one never written), in one
// store read (a Get, or for several one listing of /rev/: on etcd one round trip).
func (s *Service) revisions(ctx context.Context, keys ...string) ([]int64, error) {
	out := make([]int64, len(keys))
	if len(keys) == 1 {
		kv, _, err := s.st.Get(ctx, keys[0])
		out[0] = kv.ModRevision
		return out, err
	}
	kvs, _, err := s.st.List(ctx, "/rev/")
	if err != nil {
		return nil, err
	}
	for i, k := range keys {
		if j, ok := slices.BinarySearchFunc(kvs, k, func(kv store.KV, k string) int { return strings.Compare(kv.Key, k) }); ok {
			out[i] = kvs[j].ModRevision
		}
	}
	return out, nil
}

// SpecRevision is the store revision of the last change to desired state.
func (s *Service) SpecRevision(ctx context.Context) (int64, error) {
	r, err := s.revisions(ctx, specRevKey)
	if err != nil {
		return 0, err
	}
	return r[0], nil
}

// AnswerRevision changes whenever anything an API answer can show changes: desired or
// observed state (the sum of two revisions that only grow changes when either does).
func (s *Service) AnswerRevision(ctx context.Context) (int64, error) {
	r, err := s.revisions(ctx, specRevKey, obsRevKey)
	if err != nil {
		return 0, err
	}
	return r[0] + r[1], nil
}

// WatchDataPlane signals (coalesced) whenever desired state or a routing input changes,
// so that a gateway applies a change at once instead of at its next tick. The channel is
// closed when ctx ends. It watches only the revision keys: cheap whatever else changes.
func (s *Service) WatchDataPlane(ctx context.Context) <-chan struct{} {
	out := make(chan struct{}, 1)
	go func() {
		defer close(out)
		for ctx.Err() == nil {
			rev, err := s.st.Revision(ctx)
			if err == nil {
				var events <-chan store.Event
				if events, err = s.st.Watch(ctx, "/rev/", rev); err == nil {
					for ev := range events {
						if k := ev.KV.Key; k == specRevKey || k == routingRevKey {
							select {
							case out <- struct{}{}:
							default:
							}
						}
					}
				}
			}
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				s.log.Warn("watch for data-plane changes; retrying", "err", err)
			}
			select { // the watch ended (store restarted, history compacted): start over
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			select {
			case out <- struct{}{}:
			default:
			}
		}
	}()
	return out
}
