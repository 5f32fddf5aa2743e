package service

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"opencen/internal/model"
)

// transitions maps a kind's transitional statuses to the status they complete to; ""
// means the resource is deleted. Kinds not listed use the CBN defaults.
var transitions = map[string]map[string]string{
	model.KindVpnAttachment:  {model.AttachmentAttaching: model.AttachmentAttached, model.AttachmentDetaching: ""},
	model.KindVpcAttachment:  {model.AttachmentAttaching: model.AttachmentAttached, model.AttachmentDetaching: ""},
	model.KindPeerAttachment: {model.AttachmentAttaching: model.AttachmentAttached, model.AttachmentDetaching: ""},
	// Bandwidth packages change status (Idle, InUse) at once.
	model.KindBandwidthPackage: {},
	// A connection's attaching/detaching complete with its attachment, not on their own.
	model.KindVpnConnection: {model.VcoUpdating: "next"},
	model.KindAssociation:   {model.StatusAssociating: model.StatusActive, model.StatusDissociating: ""},
	model.KindPropagation:   {model.StatusEnabling: model.StatusActive, model.StatusDisabling: ""},
	model.KindVPC:           {model.StatusPending: model.StatusAvailable, model.StatusDeleting: ""},
	model.KindVSwitch:       {model.StatusPending: model.StatusAvailable, model.StatusDeleting: ""},
}

var defaultTransitions = map[string]string{
	model.StatusCreating: model.StatusActive, model.StatusModifying: model.StatusActive, model.StatusDeleting: "",
}

// nextStatus reports what a transitional status completes to.
func nextStatus(kind, status string) (string, bool) {
	t, ok := transitions[kind]
	if !ok {
		t = defaultTransitions
	}
	next, ok := t[status]
	return next, ok
}

// Due says when the transition of the resource stored at key, with value raw, falls due;
// pending is false when its status is not transitional. The lifecycle controller
// schedules from watch events with it instead of reading the resource again; Advance
// still checks the time when it runs.
func (s *Service) Due(key string, raw []byte) (at time.Time, pending bool) {
	kind, _, ok := ResourceKey(key)
	if !ok {
		return time.Time{}, false
	}
	var m model.Meta
	if json.Unmarshal(raw, &m) != nil {
		return time.Time{}, false
	}
	if _, ok := nextStatus(kind, m.Status); !ok {
		return time.Time{}, false
	}
	return m.Changed.Add(s.delay), true
}

// Advance completes the transitional status of the resource stored at key if its delay
// has passed. It returns when to look again (zero when nothing is pending). Idempotent:
// the lifecycle controller may call it any number of times, also after a restart.
func (s *Service) Advance(ctx context.Context, key string) (time.Time, error) {
	kind, _, ok := ResourceKey(key)
	if !ok {
		return time.Time{}, nil
	}
	var next time.Time
	err := s.update(ctx, func(t *txn) error {
		var err error
		next, _, err = s.step(t, kind, key, true)
		return err
	})
	return next, err
}

// step is one resource's transition inside t, if its delay has passed: it returns when to
// look again (zero when nothing is pending). A due deletion is done only with del;
// without, it is left for the caller (deferred).
func (s *Service) step(t *txn, kind, key string, del bool) (next time.Time, deferred bool, err error) {
	raw, ok, err := t.getRaw(key)
	if err != nil || !ok {
		return time.Time{}, false, err
	}
	var m model.Meta
	if err := json.Unmarshal(raw, &m); err != nil {
		return time.Time{}, false, err
	}
	to, ok := nextStatus(kind, m.Status)
	if !ok {
		return time.Time{}, false, nil
	}
	if due := m.Changed.Add(s.delay); s.now().Before(due) {
		return due, false, nil
	}
	if to == "" {
		if !del {
			return time.Time{}, true, nil
		}
		t.del(key)
		return time.Time{}, false, s.deleted(t, kind, raw)
	}
	return time.Time{}, false, s.completed(t, kind, key, raw, to)
}

// plainKind: a kind whose completed transitions (other than deletion) change the status and
// nothing else (completed's default), so that many may share one transaction.
func plainKind(kind string) bool {
	switch kind {
	case model.KindVpnAttachment, model.KindVpcAttachment, model.KindPeerAttachment, model.KindVpnConnection:
		return false
	}
	return true
}

// batchAdvance bounds the transitions one transaction completes: each is a guard and a
// write, and etcd takes at most 128 operations per transaction by default.
const batchAdvance = 32

// AdvanceMany is Advance for many keys at once: the plain transitions (a status change
// and nothing else) of up to batchAdvance due keys share one transaction, so a burst of
// creates costs the store one more write per batch rather than one per resource. Deletions
// and transitions with side effects go one by one through Advance, as does every key of a
// batch whose transaction failed. It returns when to look again at each key still pending
// and the keys that failed.
func (s *Service) AdvanceMany(ctx context.Context, keys []string) (map[string]time.Time, map[string]error) {
	next, failed := map[string]time.Time{}, map[string]error{}
	one := func(key string) {
		at, err := s.Advance(ctx, key)
		if err != nil {
			failed[key] = err
		} else if !at.IsZero() {
			next[key] = at
		}
	}
	var plain []string
	for _, k := range keys {
		if kind, _, ok := ResourceKey(k); ok && plainKind(kind) {
			plain = append(plain, k)
		} else {
			one(k)
		}
	}
	for len(plain) > 0 {
		n := min(len(plain), batchAdvance)
		batch := plain[:n]
		plain = plain[n:]
		var later []string // not plain after all (a deletion): one by one
		var due map[string]time.Time
		err := s.update(ctx, func(t *txn) error {
			later, due = nil, map[string]time.Time{}
			for _, key := range batch {
				kind, _, _ := ResourceKey(key)
				at, deferred, err := s.step(t, kind, key, false)
				switch {
				case err != nil:
					return fmt.Errorf("%s: %w", key, err)
				case deferred:
					later = append(later, key)
				case !at.IsZero():
					due[key] = at
				}
			}
			return nil
		})
		if err != nil {
			s.log.Debug("lifecycle: a batch of transitions failed; completing them one by one", "keys", len(batch), "err", err)
			for _, k := range batch {
				one(k)
			}
			continue
		}
		maps.Copy(next, due)
		for _, k := range later {
			one(k)
		}
	}
	return next, failed
}

// completed moves a resource to its next status, with the kind's side effects.
func (s *Service) completed(t *txn, kind, key string, raw []byte, to string) error {
	switch kind {
	case model.KindVpnAttachment:
		var a model.VpnAttachment
		if err := json.Unmarshal(raw, &a); err != nil {
			return err
		}
		if err := s.finishAttach(t, &a); err != nil {
			return err
		}
		if err := s.markHour(t, model.InstanceVpnAttachment, a.ID, a.Owner, a.TransitRouterID, a.VpnID); err != nil {
			return err
		}
		return t.put(key, a)
	case model.KindVpcAttachment:
		var a model.VpcAttachment
		if err := json.Unmarshal(raw, &a); err != nil {
			return err
		}
		s.setStatus(&a.Meta, to)
		if err := s.linkSystem(t, a.Meta, model.KindVpcAttachment, a.TransitRouterID, a.SystemLinks); err != nil {
			return err
		}
		if err := s.markHour(t, model.InstanceVpcAttachment, a.ID, a.Owner, a.TransitRouterID, ""); err != nil {
			return err
		}
		return t.put(key, a)
	case model.KindPeerAttachment:
		var a model.PeerAttachment
		if err := json.Unmarshal(raw, &a); err != nil {
			return err
		}
		if err := s.finishPeerAttach(t, &a); err != nil {
			return err
		}
		return t.put(key, a)
	case model.KindVpnConnection:
		var v model.VpnConnection
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
		s.setStatus(&v.Meta, v.Next)
		v.Next = ""
		return t.put(key, v)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		return err
	}
	status, _ := json.Marshal(to)
	changed, _ := json.Marshal(s.now().UTC())
	doc["status"], doc["changed"] = status, changed
	return t.put(key, doc)
}

// deleted does what must follow a resource's deletion.
func (s *Service) deleted(t *txn, kind string, raw []byte) error {
	switch kind {
	case model.KindTR:
		return s.finishTRDelete(t, raw)
	case model.KindVpnAttachment:
		var a model.VpnAttachment
		if err := json.Unmarshal(raw, &a); err != nil {
			return err
		}
		// The connection is still the attachment's until finishDetach.
		if err := s.markHour(t, model.InstanceVpnAttachment, a.ID, a.Owner, a.TransitRouterID, a.VpnID); err != nil {
			return err
		}
		return s.finishDetach(t, &a)
	case model.KindVpcAttachment:
		var a model.VpcAttachment
		if err := json.Unmarshal(raw, &a); err != nil {
			return err
		}
		if err := s.markHour(t, model.InstanceVpcAttachment, a.ID, a.Owner, a.TransitRouterID, ""); err != nil {
			return err
		}
		return s.finishVpcDetach(t, &a)
	case model.KindPeerAttachment:
		var a model.PeerAttachment
		if err := json.Unmarshal(raw, &a); err != nil {
			return err
		}
		return s.finishPeerDetach(t, &a)
	case model.KindRouteTable:
		var rt model.RouteTable
		if err := json.Unmarshal(raw, &rt); err != nil || rt.Type != "Custom" {
			return err
		}
		if err := deleteWhere[model.RouteMap](t, model.KindRouteMap, func(m *model.RouteMap) bool { return m.RouteTableID == rt.ID }); err != nil {
			return err
		}
		return adjustTR(t, rt.TransitRouterID, func(tr *model.TransitRouter) { tr.CustomTables-- })
	case model.KindVSwitch:
		var v model.VSwitch
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
		var vpc model.VPC
		if ok, err := t.get(resKey(model.KindVPC, v.VpcID), &vpc); err != nil || !ok {
			return err
		}
		vpc.VSwitches--
		return t.put(resKey(model.KindVPC, vpc.ID), vpc)
	}
	return nil
}

// deleteWhere deletes every resource of a kind that matches.
func deleteWhere[T any, PT interface {
	*T
	model.Resource
}](t *txn, kind string, match func(PT) bool) error {
	all, err := listTxn[T, PT](t, kind)
	if err != nil {
		return err
	}
	for _, r := range all {
		if match(r) {
			t.del(resKey(kind, r.GetMeta().ID))
		}
	}
	return nil
}

// finishTRDelete removes what belongs to a deleted transit router and releases its CEN.
func (s *Service) finishTRDelete(t *txn, raw []byte) error {
	var tr model.TransitRouter
	if err := json.Unmarshal(raw, &tr); err != nil {
		return err
	}
	if err := deleteWhere[model.TransitRouterCidr](t, model.KindTRCidr, func(c *model.TransitRouterCidr) bool { return c.TransitRouterID == tr.ID }); err != nil {
		return err
	}
	if err := deleteWhere[model.RouteTable](t, model.KindRouteTable, func(rt *model.RouteTable) bool { return rt.TransitRouterID == tr.ID }); err != nil {
		return err
	}
	if err := deleteWhere[model.RouteMap](t, model.KindRouteMap, func(m *model.RouteMap) bool { return m.TransitRouterID == tr.ID }); err != nil {
		return err
	}
	var cen model.CEN
	if ok, err := t.get(resKey(model.KindCEN, tr.CenID), &cen); err != nil || !ok {
		return err
	}
	cen.Routers--
	return t.put(resKey(model.KindCEN, cen.ID), cen)
}

func adjustTR(t *txn, id string, f func(*model.TransitRouter)) error {
	var tr model.TransitRouter
	if ok, err := t.get(resKey(model.KindTR, id), &tr); err != nil || !ok {
		return err
	}
	f(&tr)
	return t.put(resKey(model.KindTR, tr.ID), tr)
}

// Pending lists the keys of resources in a transitional status, for the controller's resync.
func (s *Service) Pending(ctx context.Context) ([]string, int64, error) {
	kvs, rev, err := s.st.List(ctx, resPrefix)
	if err != nil {
		return nil, 0, err
	}
	var keys []string
	for _, kv := range kvs {
		if _, ok := s.Due(kv.Key, kv.Value); ok {
			keys = append(keys, kv.Key)
		}
	}
	return keys, rev, nil
}
