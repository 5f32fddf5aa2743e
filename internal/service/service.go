// Package service carries out OpenCEN's operations: authorization by account, quotas,
// idempotency and state-machine guards, writing desired state to the store.
package service

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"opencen/internal/apierr"
	"opencen/internal/config"
	"opencen/internal/model"
	"opencen/internal/secret"
	"opencen/internal/store"
)

// Service is the operations layer the API handlers call.
type Service struct {
	st      store.Store
	box     *secret.Box
	cfg     config.Config
	delay   time.Duration
	now     func() time.Time
	log     *slog.Logger
	cache   decoded
	keys    sync.Map // AccessKeyId -> keyEntry
	engines sync.Map // transit router ID -> *trEngine
	dp      readModel
	obs     observedCache
	marks   usageMarks
	// onCommit is told how long each commit of update took (Options.OnCommit).
	onCommit func(time.Duration)
}

// Options configure a Service.
type Options struct {
	Store  store.Store
	Box    *secret.Box
	Config config.Config
	// TransitionDelay is how long transitional statuses (Creating, Deleting ...) last.
	TransitionDelay time.Duration
	Now             func() time.Time
	Logger          *slog.Logger
	// OnCommit, when set, is told how long each commit of the service's writes took (for
	// metrics; it must not block).
	OnCommit func(time.Duration)
}

// New makes a Service.
func New(o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Service{st: o.Store, box: o.Box, cfg: o.Config, delay: o.TransitionDelay, now: o.Now, log: o.Logger, onCommit: o.OnCommit,
		cache: decoded{prev: map[string]cachedItem{}, bad: map[string]bool{}}}
}

// Config returns the catalog the service runs with.
func (s *Service) Config() config.Config { return s.cfg }

// Caller is the authenticated account behind a request.
type Caller struct {
	AccountID string
	Admin     bool
}

// Store layout. Resources live under /r/<kind>/<id>.
const (
	resPrefix     = "/r/"
	accountPrefix = "/accounts/"
	keyPrefix     = "/keys/"
	tokenPrefix   = "/tokens/"
	// Store-wide facts, written once: who bootstrapped the admin, and a value sealed with
	// the secret key (CheckSecretKey).
	bootstrapKey   = "/meta/bootstrap"
	secretCheckKey = "/meta/secret-check"
)

func resKey(kind, id string) string { return resPrefix + kind + "/" + id }

// ResourceKey reports the kind and ID of a resource key (for the lifecycle controller).
func ResourceKey(key string) (kind, id string, ok bool) {
	rest, ok := strings.CutPrefix(key, resPrefix)
	if !ok {
		return "", "", false
	}
	kind, id, ok = strings.Cut(rest, "/")
	return kind, id, ok
}

// errDryRun is what a validated DryRun request answers.
var errDryRun = apierr.New("DryRunOperation", "Request validation has been passed with DryRun flag set.")

// getOwned reads a resource inside a transaction; another account's resource is
// reported exactly like a missing one.
func getOwned[T any, PT interface {
	*T
	model.Resource
}](t *txn, c Caller, kind, id string, notFound *apierr.Error) (PT, error) {
	var v T
	p := PT(&v)
	ok, err := t.get(resKey(kind, id), p)
	if err != nil {
		return nil, err
	}
	if !ok || p.GetMeta().Owner != c.AccountID {
		return nil, notFound
	}
	return p, nil
}

// listTxn is listKind inside a transaction.
func listTxn[T any, PT interface {
	*T
	model.Resource
}](t *txn, kind string) ([]PT, error) {
	kvs, err := t.list(resPrefix + kind + "/")
	if err != nil {
		return nil, err
	}
	out := make([]PT, 0, len(kvs))
	for _, kv := range kvs {
		var v T
		if err := json.Unmarshal(kv.Value, &v); err != nil {
			return nil, fmt.Errorf("decode %s: %w", kv.Key, err)
		}
		out = append(out, PT(&v))
	}
	return out, nil
}

// sortByCreated orders resources oldest first (ID breaks ties) so pages are stable.
func sortByCreated[PT model.Resource](items []PT) {
	sort.SliceStable(items, func(i, j int) bool {
		a, b := items[i].GetMeta(), items[j].GetMeta()
		if !a.Created.Equal(b.Created) {
			return a.Created.Before(b.Created)
		}
		return a.ID < b.ID
	})
}

// newMeta starts a resource in status Creating (or "" for resources without one).
func (s *Service) newMeta(c Caller, kind, region, status string, tags []model.Tag) model.Meta {
	now := s.now().UTC()
	return model.Meta{ID: model.NewID(kind), Owner: c.AccountID, Region: region, Status: status, Changed: now, Created: now, Tags: tags}
}

// setStatus moves a resource to a new lifecycle status now.
func (s *Service) setStatus(m *model.Meta, status string) {
	m.Status = status
	m.Changed = s.now().UTC()
}

// transitional reports the Operation.Blocking error for a resource in a transitional status.
func blocking(what, id, status string) *apierr.Error {
	return apierr.New("Operation.Blocking", "The %s %s is %s; retry when the operation in progress has finished.", what, id, strings.ToLower(status))
}

// region checks a region ID against the catalog.
func (s *Service) region(param, id string) (config.Region, error) {
	if id == "" {
		return config.Region{}, apierr.Missing(param)
	}
	r, ok := s.cfg.Region(id)
	if !ok {
		ids := make([]string, 0, len(s.cfg.Regions))
		for _, r := range s.cfg.Regions {
			ids = append(ids, r.ID)
		}
		return config.Region{}, apierr.Invalid(param, "Region %q is not offered here; use one of: %s.", id, apierr.Text(strings.Join(ids, ", ")))
	}
	return r, nil
}

// Zones lists a region's zones (every one can host a transit router's attachments and a
// connection's gateway address).
func (s *Service) Zones(param, region string) ([]string, error) {
	r, err := s.region(param, region)
	return r.Zones, err
}

// VpnZones lists the zones an IPsec-VPN connection of a region can be placed in: none
// where the region takes no IPsec-VPN attachments.
func (s *Service) VpnZones(region string) ([]string, error) {
	r, err := s.region("RegionId", region)
	if err != nil || r.NoVPNAttachment {
		return nil, err
	}
	return r.Zones, nil
}

func decodeJSON(raw []byte, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	return nil
}

// Logger is the service's logger.
func (s *Service) Logger() *slog.Logger { return s.log }
