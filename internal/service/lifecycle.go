package service

import (
	"context"
	"encoding/json"
	"time"

	"opencen/internal/model"
)

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
		next = time.Time{}
		raw, ok, err := t.getRaw(key)
		if err != nil || !ok {
			return err
		}
		var m model.Meta
		if err := json.Unmarshal(raw, &m); err != nil {
			return err
		}
		if !transitional(kind, m.Status) {
			return nil
		}
		if due := m.Changed.Add(s.delay); s.now().Before(due) {
			next = due
			return nil
		}
		return s.complete(t, kind, key, raw, m)
	})
	return next, err
}

// transitional reports whether the lifecycle controller completes this status. A
// connection's attaching/detaching are completed with its attachment, not on their own.
func transitional(kind, status string) bool {
	switch kind {
	case model.KindVpnAttachment:
		return status == model.AttachmentAttaching || status == model.AttachmentDetaching
	case model.KindVpnConnection:
		return status == model.VcoUpdating
	}
	switch status {
	case model.StatusCreating, model.StatusDeleting, model.StatusModifying:
		return true
	}
	return false
}

// complete finishes one transition, with the kind's side effects.
func (s *Service) complete(t *txn, kind, key string, raw []byte, m model.Meta) error {
	switch kind {
	case model.KindVpnAttachment:
		var a model.VpnAttachment
		if err := json.Unmarshal(raw, &a); err != nil {
			return err
		}
		if a.Status == model.AttachmentDetaching {
			t.del(key)
			return s.finishDetach(t, &a)
		}
		if err := s.finishAttach(t, &a); err != nil {
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
	if m.Status == model.StatusDeleting {
		t.del(key)
		switch kind {
		case model.KindTR:
			return s.finishTRDelete(t, raw)
		case model.KindRouteTable:
			var rt model.RouteTable
			if err := json.Unmarshal(raw, &rt); err != nil || rt.Type != "Custom" {
				return err
			}
			return adjustTR(t, rt.TransitRouterID, func(tr *model.TransitRouter) { tr.CustomTables-- })
		}
		return nil
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		return err
	}
	status, _ := json.Marshal(model.StatusActive)
	changed, _ := json.Marshal(s.now().UTC())
	doc["status"], doc["changed"] = status, changed
	return t.put(key, doc)
}

// finishTRDelete removes what belongs to a deleted transit router and releases its CEN.
func (s *Service) finishTRDelete(t *txn, raw []byte) error {
	var tr model.TransitRouter
	if err := json.Unmarshal(raw, &tr); err != nil {
		return err
	}
	cidrs, err := listTxn[model.TransitRouterCidr](t, model.KindTRCidr)
	if err != nil {
		return err
	}
	for _, c := range cidrs {
		if c.TransitRouterID == tr.ID {
			t.del(resKey(model.KindTRCidr, c.ID))
		}
	}
	tables, err := listTxn[model.RouteTable](t, model.KindRouteTable)
	if err != nil {
		return err
	}
	for _, rt := range tables {
		if rt.TransitRouterID == tr.ID {
			t.del(resKey(model.KindRouteTable, rt.ID))
		}
	}
	maps, err := listTxn[model.RouteMap](t, model.KindRouteMap)
	if err != nil {
		return err
	}
	for _, m := range maps {
		if m.TransitRouterID == tr.ID {
			t.del(resKey(model.KindRouteMap, m.ID))
		}
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
		var m model.Meta
		kind, _, _ := ResourceKey(kv.Key)
		if json.Unmarshal(kv.Value, &m) == nil && transitional(kind, m.Status) {
			keys = append(keys, kv.Key)
		}
	}
	return keys, rev, nil
}
