package service

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"opencen/internal/apierr"
	"opencen/internal/model"
	"opencen/internal/store"
)

// Metering. Data planes read their attachments' counters (raw readings that start again
// from zero whenever a new epoch begins: a router namespace made anew, here or on another
// node) and report them every few seconds; the store keeps, per attachment, the
// cumulative totals with the last raw reading of each epoch it has seen, so a reading is
// counted exactly once whatever resets happened in between (counterRecord.apply). Each
// delta also goes to the hourly usage record of every instance it is billed to (the
// attachment's account for the transit router items, the connection's account for the
// connection's), and the metering pass marks each hour an instance existed. Usage keys
// live under /usage/ and move only /rev/usage: ten-second counter reports invalidate no
// cache of desired or observed state.
const (
	usagePrefix   = "/usage/"
	counterPrefix = usagePrefix + "ctr/"
	hourPrefix    = usagePrefix + "h/"
	usageRevKey   = "/rev/usage"

	// maxEpochs bounds the epochs an attachment's record remembers. An epoch is forgotten
	// only after 16 newer ones (router namespaces rebuilt or moved 16 times since), by
	// which time no data plane still reads it.
	maxEpochs = 16
	// readingsPerTxn keeps a report's transactions within store.MaxTxnOps: a reading
	// reads and writes at most three keys (its counter record, two hourly records).
	readingsPerTxn = (store.MaxTxnOps - 2) / 3
	// marksPerTxn likewise for the hourly marks (one key each).
	marksPerTxn = store.MaxTxnOps - 2
	// minutesKept is how many minutes of traffic a counter record keeps for charts.
	minutesKept = 60
	// counterRetention: the record of an attachment that is gone is dropped this long
	// after its last reading (a late last reading still finds it until then).
	counterRetention = 7 * 24 * time.Hour
)

// usageKey reports whether a key holds metering state (see revisions.go).
func usageKey(k string) bool { return strings.HasPrefix(k, usagePrefix) }

// Traffic is a packet and byte count in both directions: In entered the cloud (the
// transit router) from the attachment, Out left toward it.
type Traffic struct {
	InBytes    uint64 `json:"inBytes,omitempty"`
	InPackets  uint64 `json:"inPackets,omitempty"`
	OutBytes   uint64 `json:"outBytes,omitempty"`
	OutPackets uint64 `json:"outPackets,omitempty"`
}

func (a Traffic) plus(b Traffic) Traffic {
	return Traffic{a.InBytes + b.InBytes, a.InPackets + b.InPackets, a.OutBytes + b.OutBytes, a.OutPackets + b.OutPackets}
}

// minus is a - b, or ok false when some count of a is below b's (a reset).
func (a Traffic) minus(b Traffic) (Traffic, bool) {
	if a.InBytes < b.InBytes || a.InPackets < b.InPackets || a.OutBytes < b.OutBytes || a.OutPackets < b.OutPackets {
		return Traffic{}, false
	}
	return Traffic{a.InBytes - b.InBytes, a.InPackets - b.InPackets, a.OutBytes - b.OutBytes, a.OutPackets - b.OutPackets}, true
}

func (a Traffic) zero() bool { return a == Traffic{} }

// CounterReading is one reading of an attachment's counters by a data plane.
type CounterReading struct {
	Attachment string
	// Node is the gateway node that read it; Epoch names the counters' life (readings of
	// one epoch only grow).
	Node, Epoch string
	Raw         Traffic
	At          time.Time
}

type epochReading struct {
	Epoch string    `json:"epoch"`
	Node  string    `json:"node,omitempty"`
	Raw   Traffic   `json:"raw"`
	Seen  time.Time `json:"seen"`
}

// MinuteTraffic is the traffic of one minute.
type MinuteTraffic struct {
	Minute time.Time `json:"minute"`
	Traffic
}

// CounterRecord is an attachment's cumulative traffic (/usage/ctr/<attachment>).
type CounterRecord struct {
	Attachment string `json:"attachment"`
	// InstanceType is model.InstanceVpnAttachment, model.InstanceVpcAttachment or
	// model.InstancePeerAttachment.
	InstanceType string `json:"instanceType"`
	// BandwidthType is an inter-region connection's (only DataTransfer is billed per GB).
	BandwidthType string `json:"bandwidthType,omitempty"`
	Router        string `json:"router"`
	Region        string `json:"region"`
	Owner         string `json:"owner"`
	// The connection of a VPN attachment: its ID, account and network type.
	Vco         string `json:"vco,omitempty"`
	VcoOwner    string `json:"vcoOwner,omitempty"`
	NetworkType string `json:"networkType,omitempty"`
	// Total counts everything since the attachment was first seen.
	Total Traffic `json:"total"`
	// Tunnels is the part of Total each tunnel of a dual-tunnel connection carried.
	Tunnels map[string]Traffic `json:"tunnels,omitempty"`
	// Epochs holds the last raw reading of each epoch seen, most recent first.
	Epochs []epochReading `json:"epochs"`
	// Minutes is the traffic of the last minutes (those with traffic), oldest first.
	Minutes []MinuteTraffic `json:"minutes,omitempty"`
	Updated time.Time       `json:"updated"`
}

// apply counts a reading: the growth since the last raw reading of its epoch, or, for an
// epoch not seen before, all of it (a new epoch starts from zero). A raw reading below the
// last of its epoch can only come from counters deleted and made again within it: it
// counts from zero too. It returns what it added.
func (r *CounterRecord) apply(c CounterReading) Traffic {
	i := slices.IndexFunc(r.Epochs, func(e epochReading) bool { return e.Epoch == c.Epoch })
	delta := c.Raw
	if i >= 0 {
		if d, ok := c.Raw.minus(r.Epochs[i].Raw); ok {
			delta = d
		}
		r.Epochs = slices.Delete(r.Epochs, i, i+1)
	}
	r.Epochs = slices.Insert(r.Epochs, 0, epochReading{Epoch: c.Epoch, Node: c.Node, Raw: c.Raw, Seen: c.At.UTC()})
	if len(r.Epochs) > maxEpochs {
		r.Epochs = r.Epochs[:maxEpochs]
	}
	r.Total = r.Total.plus(delta)
	if c.At.After(r.Updated) {
		r.Updated = c.At.UTC()
	}
	if !delta.zero() {
		r.addMinute(c.At, delta)
	}
	return delta
}

func (r *CounterRecord) addMinute(at time.Time, d Traffic) {
	m := at.UTC().Truncate(time.Minute)
	i, found := slices.BinarySearchFunc(r.Minutes, m, func(x MinuteTraffic, t time.Time) int { return x.Minute.Compare(t) })
	if found {
		r.Minutes[i].Traffic = r.Minutes[i].Traffic.plus(d)
	} else {
		r.Minutes = slices.Insert(r.Minutes, i, MinuteTraffic{Minute: m, Traffic: d})
	}
	newest := r.Minutes[len(r.Minutes)-1].Minute
	r.Minutes = slices.DeleteFunc(r.Minutes, func(x MinuteTraffic) bool { return !x.Minute.After(newest.Add(-minutesKept * time.Minute)) })
}

func counterKey(att string) string { return counterPrefix + att }

// UsageRecord is the usage of one instance in one hour, billed to one account
// (/usage/h/<yyyymm>/<account>/<ddhh>/<instance>).
type UsageRecord struct {
	Hour     time.Time `json:"hour"`
	Account  string    `json:"account"`
	Instance string    `json:"instance"`
	// InstanceType is one of model's Instance* types.
	InstanceType string `json:"instanceType"`
	Region       string `json:"region"`
	NetworkType  string `json:"networkType,omitempty"`
	// Hours is 1 when the instance existed (attached) in the hour.
	Hours int `json:"hours"`
	Traffic
}

// UsageItem is one billable item of a usage record.
type UsageItem struct {
	Code     string
	Unit     string
	Quantity float64
}

// Items are the record's billable items: hours and forwarded GB for an attachment,
// hours and GB sent toward the data center for a connection.
func (u UsageRecord) Items() []UsageItem {
	gb := func(b uint64) float64 { return float64(b) / model.BytesPerGB }
	switch u.InstanceType {
	case model.InstancePeerAttachment:
		// Each end counts what its router sends over the link (Out): together, everything
		// the connection carried between the regions, each byte once.
		return []UsageItem{{model.ItemInterRegionTransfer, model.UnitGB, gb(u.OutBytes)}}
	case model.InstanceVpnConnection:
		return []UsageItem{{model.ItemVPNConnection, model.UnitHour, float64(u.Hours)},
			{model.TransferItem(u.NetworkType), model.UnitGB, gb(u.OutBytes)}}
	default:
		return []UsageItem{{model.ItemTRConnection, model.UnitHour, float64(u.Hours)},
			{model.ItemTRDataForwarding, model.UnitGB, gb(u.InBytes)}}
	}
}

func hourKey(account string, hour time.Time, instance string) string {
	h := hour.UTC()
	return fmt.Sprintf("%s%s/%s/%s/%s", hourPrefix, h.Format("200601"), account, h.Format("0215"), instance)
}

// monthPrefix lists a month's records: all accounts', or one account's.
func monthPrefix(month time.Time, account string) string {
	p := hourPrefix + month.UTC().Format("200601") + "/"
	if account != "" {
		p += account + "/"
	}
	return p
}

// billedTo is one usage record a reading's traffic is added to.
type billedTo struct {
	account, instance, instanceType, networkType string
}

func (r *CounterRecord) billedTo() []billedTo {
	if r.InstanceType == model.InstancePeerAttachment && r.BandwidthType != model.BandwidthDataTransfer {
		return nil // a bandwidth package pays for what the link carries
	}
	out := []billedTo{{r.Owner, r.Attachment, r.InstanceType, ""}}
	if r.Vco != "" && r.VcoOwner != "" {
		out = append(out, billedTo{r.VcoOwner, r.Vco, model.InstanceVpnConnection, r.NetworkType})
	}
	return out
}

// addUsage adds to (or creates) an hourly record.
func addUsage(t *txn, b billedTo, region string, hour time.Time, d Traffic, hours int) error {
	key := hourKey(b.account, hour, b.instance)
	var u UsageRecord
	ok, err := t.get(key, &u)
	if err != nil {
		u, ok = UsageRecord{}, false // a damaged record is replaced
	}
	if !ok {
		u = UsageRecord{Hour: hour.UTC(), Account: b.account, Instance: b.instance, InstanceType: b.instanceType, Region: region, NetworkType: b.networkType}
	}
	before := u
	u.Traffic = u.Traffic.plus(d)
	u.Hours = max(u.Hours, hours)
	if ok && u == before {
		return nil
	}
	return t.put(key, u)
}

// meteredInstances are the instances the store knows, for naming a reading's accounts.
type meteredInstances struct {
	vpn  map[string]*model.VpnAttachment
	vpc  map[string]*model.VpcAttachment
	vcos map[string]*model.VpnConnection
	trs  map[string]*model.TransitRouter
	peer map[string]*model.PeerAttachment
}

func (s *Service) meteredInstances(ctx context.Context) (meteredInstances, error) {
	var m meteredInstances
	var err error
	if m.vpn, err = byID[model.VpnAttachment](ctx, s, model.KindVpnAttachment); err != nil {
		return m, err
	}
	if m.vpc, err = byID[model.VpcAttachment](ctx, s, model.KindVpcAttachment); err != nil {
		return m, err
	}
	if m.vcos, err = byID[model.VpnConnection](ctx, s, model.KindVpnConnection); err != nil {
		return m, err
	}
	if m.peer, err = byID[model.PeerAttachment](ctx, s, model.KindPeerAttachment); err != nil {
		return m, err
	}
	m.trs, err = byID[model.TransitRouter](ctx, s, model.KindTR)
	return m, err
}

// describe fills a counter record's instance facts from the store's resources (ok false:
// the attachment is unknown). Facts of an attachment that is gone stay as recorded.
func (m meteredInstances) describe(r *CounterRecord) bool {
	region := func(tr string) string {
		if t, ok := m.trs[tr]; ok {
			return t.Region
		}
		return r.Region
	}
	if a, ok := m.vpn[r.Attachment]; ok {
		r.InstanceType, r.Router, r.Owner, r.Vco = model.InstanceVpnAttachment, a.TransitRouterID, a.Owner, a.VpnID
		r.Region = region(a.TransitRouterID)
		if v, ok := m.vcos[a.VpnID]; ok {
			r.VcoOwner, r.NetworkType = v.Owner, v.NetworkType
		}
		return true
	}
	if a, ok := m.vpc[r.Attachment]; ok {
		r.InstanceType, r.Router, r.Owner = model.InstanceVpcAttachment, a.TransitRouterID, a.Owner
		r.Region = region(a.TransitRouterID)
		return true
	}
	if a, ok := m.peer[r.Attachment]; ok {
		// Counted whatever pays for it (the console's chart shows it); billed only by data
		// transfer (billedTo).
		r.InstanceType, r.Router, r.Owner = model.InstancePeerAttachment, a.TransitRouterID, a.Owner
		r.Region, r.BandwidthType = region(a.TransitRouterID), a.BandwidthType
		return true
	}
	return r.Owner != ""
}

// ReportCounters records counter readings of a data plane (see the comment at the top).
// Readings of unknown attachments are dropped. It writes in transactions of at most
// readingsPerTxn readings, each all or nothing: a failed report is simply sent again
// with newer raw readings, which count what the failed one would have.
func (s *Service) ReportCounters(ctx context.Context, readings []CounterReading) error {
	if len(readings) == 0 {
		return nil
	}
	inst, err := s.meteredInstances(ctx)
	if err != nil {
		return err
	}
	for chunk := range slices.Chunk(readings, readingsPerTxn) {
		err := s.update(ctx, func(t *txn) error {
			for _, c := range chunk {
				if err := s.applyReading(t, inst, c); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) applyReading(t *txn, inst meteredInstances, c CounterReading) error {
	if c.Attachment == "" || c.Epoch == "" {
		return nil
	}
	// A dual-tunnel connection's tunnels have links (and counters) of their own: their
	// traffic is the attachment's, each tunnel's counters an epoch of their own.
	tunnel := ""
	if vco, _, ok := model.TunnelOf(c.Attachment); ok {
		v, known := inst.vcos[vco]
		if !known || v.AttachmentID == "" {
			return nil
		}
		tunnel = c.Attachment
		c.Attachment, c.Epoch = v.AttachmentID, c.Attachment+"/"+c.Epoch
	}
	if c.At.IsZero() {
		c.At = s.now()
	}
	key := counterKey(c.Attachment)
	var r CounterRecord
	ok, err := t.get(key, &r)
	if err != nil {
		s.log.Warn("metering: a damaged counter record is started again", "attachment", c.Attachment, "err", err)
		r, ok = CounterRecord{}, false
	}
	r.Attachment = c.Attachment
	if !inst.describe(&r) {
		s.log.Debug("metering: reading of an unknown attachment dropped", "attachment", c.Attachment)
		return nil
	}
	i := slices.IndexFunc(r.Epochs, func(e epochReading) bool { return e.Epoch == c.Epoch })
	if ok && i >= 0 && r.Epochs[i].Raw == c.Raw {
		return nil // nothing new: no write
	}
	delta := r.apply(c)
	if tunnel != "" {
		if r.Tunnels == nil {
			r.Tunnels = map[string]Traffic{}
		}
		r.Tunnels[tunnel] = r.Tunnels[tunnel].plus(delta)
	}
	if err := t.put(key, r); err != nil {
		return err
	}
	if delta.zero() {
		return nil
	}
	hour := c.At.UTC().Truncate(time.Hour)
	for _, b := range r.billedTo() {
		if err := addUsage(t, b, r.Region, hour, delta, 0); err != nil {
			return err
		}
	}
	return nil
}

// markHour marks the current hour in the usage of an attachment (and, for a VPN
// attachment, of its connection) as its attach or detach completes, in that transaction:
// the hour counts even if the metering pass (MeterHours, every minute) never saw the
// attachment attached.
func (s *Service) markHour(t *txn, instType, id, owner, tr, vco string) error {
	var router model.TransitRouter
	if _, err := t.get(resKey(model.KindTR, tr), &router); err != nil {
		return err
	}
	hour := s.now().UTC().Truncate(time.Hour)
	if err := addUsage(t, billedTo{owner, id, instType, ""}, router.Region, hour, Traffic{}, 1); err != nil {
		return err
	}
	if vco == "" {
		return nil
	}
	var v model.VpnConnection
	if ok, err := t.get(resKey(model.KindVpnConnection, vco), &v); err != nil || !ok {
		return err
	}
	return addUsage(t, billedTo{v.Owner, v.ID, model.InstanceVpnConnection, v.NetworkType}, router.Region, hour, Traffic{}, 1)
}

// usageMarks remembers the hourly marks written, so a metering pass reads only what it
// has not marked yet.
type usageMarks struct {
	mu   sync.Mutex
	hour time.Time
	done map[string]bool
}

// MeterHours marks the hour of now in the usage record of every instance that is
// attached: each VPN and VPC attachment, and each attached IPsec-VPN connection. It is
// idempotent (several servers may run it), and drops the counter records of
// attachments gone for longer than counterRetention.
func (s *Service) MeterHours(ctx context.Context, now time.Time) error {
	hour := now.UTC().Truncate(time.Hour)
	inst, err := s.meteredInstances(ctx)
	if err != nil {
		return err
	}
	type mark struct {
		b      billedTo
		region string
	}
	var marks []mark
	regionOf := func(tr string) string {
		if t, ok := inst.trs[tr]; ok {
			return t.Region
		}
		return ""
	}
	for _, a := range inst.vpn {
		if a.Status != model.AttachmentAttached {
			continue
		}
		marks = append(marks, mark{billedTo{a.Owner, a.ID, model.InstanceVpnAttachment, ""}, regionOf(a.TransitRouterID)})
		if v, ok := inst.vcos[a.VpnID]; ok {
			marks = append(marks, mark{billedTo{v.Owner, v.ID, model.InstanceVpnConnection, v.NetworkType}, regionOf(a.TransitRouterID)})
		}
	}
	for _, a := range inst.vpc {
		if a.Status == model.AttachmentAttached {
			marks = append(marks, mark{billedTo{a.Owner, a.ID, model.InstanceVpcAttachment, ""}, regionOf(a.TransitRouterID)})
		}
	}
	s.marks.mu.Lock()
	if !s.marks.hour.Equal(hour) {
		s.marks.hour, s.marks.done = hour, map[string]bool{}
	}
	marks = slices.DeleteFunc(marks, func(m mark) bool { return s.marks.done[hourKey(m.b.account, hour, m.b.instance)] })
	s.marks.mu.Unlock()
	slices.SortFunc(marks, func(a, b mark) int { return strings.Compare(a.b.instance, b.b.instance) })
	for chunk := range slices.Chunk(marks, marksPerTxn) {
		err := s.update(ctx, func(t *txn) error {
			for _, m := range chunk {
				if err := addUsage(t, m.b, m.region, hour, Traffic{}, 1); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		s.marks.mu.Lock()
		if s.marks.hour.Equal(hour) {
			for _, m := range chunk {
				s.marks.done[hourKey(m.b.account, hour, m.b.instance)] = true
			}
		}
		s.marks.mu.Unlock()
	}
	return s.dropStaleCounters(ctx, inst, now)
}

func (s *Service) dropStaleCounters(ctx context.Context, inst meteredInstances, now time.Time) error {
	kvs, _, err := s.st.List(ctx, counterPrefix)
	if err != nil {
		return err
	}
	var stale []string
	for _, kv := range kvs {
		att := strings.TrimPrefix(kv.Key, counterPrefix)
		_, vpn := inst.vpn[att]
		_, vpc := inst.vpc[att]
		var r CounterRecord
		if vpn || vpc || json.Unmarshal(kv.Value, &r) != nil || now.Sub(r.Updated) < counterRetention {
			continue
		}
		stale = append(stale, kv.Key)
	}
	for chunk := range slices.Chunk(stale, marksPerTxn) {
		err := s.update(ctx, func(t *txn) error {
			for _, k := range chunk {
				t.del(k)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Counters lists the counter records an account may see (the admin: all): those of its
// attachments and of attachments of its connections.
func (s *Service) Counters(ctx context.Context, c Caller) ([]CounterRecord, error) {
	kvs, _, err := s.st.List(ctx, counterPrefix)
	if err != nil {
		return nil, err
	}
	out := make([]CounterRecord, 0, len(kvs))
	for _, kv := range kvs {
		var r CounterRecord
		if err := json.Unmarshal(kv.Value, &r); err != nil {
			s.log.Warn("metering: counter record does not decode", "key", kv.Key, "err", err)
			continue
		}
		if c.Admin || r.Owner == c.AccountID || r.VcoOwner == c.AccountID {
			out = append(out, r)
		}
	}
	return out, nil
}

// Usage lists the hourly usage records billed to the caller's account (the admin's
// query: any account's, or account's when not empty) with hours in [from, to).
func (s *Service) Usage(ctx context.Context, c Caller, account string, from, to time.Time) ([]UsageRecord, error) {
	if !c.Admin {
		account = c.AccountID
	}
	var out []UsageRecord
	for m := time.Date(from.UTC().Year(), from.UTC().Month(), 1, 0, 0, 0, 0, time.UTC); m.Before(to); m = m.AddDate(0, 1, 0) {
		kvs, _, err := s.st.List(ctx, monthPrefix(m, account))
		if err != nil {
			return nil, err
		}
		for _, kv := range kvs {
			var u UsageRecord
			if err := json.Unmarshal(kv.Value, &u); err != nil {
				s.log.Warn("metering: usage record does not decode", "key", kv.Key, "err", err)
				continue
			}
			if !u.Hour.Before(from) && u.Hour.Before(to) {
				out = append(out, u)
			}
		}
	}
	return out, nil
}

// PutUsage writes hourly usage records as they are (replacing any of the same account,
// hour and instance): the admin imports usage (from another meter, or a test's scripted
// month). Records are checked first; nothing is written if one is wrong.
func (s *Service) PutUsage(ctx context.Context, c Caller, records []UsageRecord) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	for i, u := range records {
		where := fmt.Sprintf("Records.%d", i+1)
		switch {
		case u.Account == "" || u.Instance == "":
			return apierr.Invalid("Records", "%s needs an Account and an Instance.", where)
		case strings.Contains(u.Account, "/") || strings.Contains(u.Instance, "/"):
			return apierr.Invalid("Records", "%s: Account and Instance cannot contain \"/\".", where)
		case u.Hour.IsZero():
			return apierr.Invalid("Records", "%s needs an Hour (RFC 3339, such as 2026-11-01T10:00:00Z).", where)
		case u.Hours < 0 || u.Hours > 1:
			return apierr.Invalid("Records", "%s: Hours is 1 when the instance existed in the hour, else 0; got %d.", where, u.Hours)
		case !slices.Contains([]string{model.InstanceVpnAttachment, model.InstanceVpcAttachment, model.InstanceVpnConnection, model.InstancePeerAttachment}, u.InstanceType):
			return apierr.Invalid("Records", "%s: InstanceType must be %s, %s, %s or %s; got %q.", where,
				model.InstanceVpnAttachment, model.InstanceVpcAttachment, model.InstanceVpnConnection, model.InstancePeerAttachment, u.InstanceType)
		case u.NetworkType != "" && u.NetworkType != "public" && u.NetworkType != "private":
			return apierr.Invalid("Records", "%s: NetworkType must be public or private; got %q.", where, u.NetworkType)
		}
	}
	for chunk := range slices.Chunk(records, marksPerTxn) {
		err := s.update(ctx, func(t *txn) error {
			for _, u := range chunk {
				u.Hour = u.Hour.UTC().Truncate(time.Hour)
				if err := t.put(hourKey(u.Account, u.Hour, u.Instance), u); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
