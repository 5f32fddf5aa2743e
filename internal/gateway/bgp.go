package gateway

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"path/filepath"
	"reflect"
	"slices"
	"time"

	"opencen/internal/bgp"
	"opencen/internal/model"
	"opencen/internal/service"
)

// Speakers runs one BGP speaker per transit router.
type Speakers interface {
	// Start returns a client for the router's speaker, starting the process in netns or
	// re-adopting a running one.
	Start(ctx context.Context, trID, netns string) (Speaker, error)
	// Stop stops the router's speaker process.
	Stop(trID string, sp Speaker) error
}

// Speaker is the control connection to one speaker (bgp.Client).
type Speaker interface {
	Configure(ctx context.Context, cfg bgp.Config) error
	Advertise(ctx context.Context, m map[string][]netip.Prefix) (bgp.AdvertiseResult, error)
	Watch(ctx context.Context) (<-chan bgp.Update, error)
	Close() error
}

// ProcessSpeakers runs speakers as `opencen bgp-speaker` processes.
type ProcessSpeakers struct {
	// Binary is the opencen binary; RunDir holds the sockets.
	Binary string
	RunDir string
}

// Start implements Speakers.
func (p ProcessSpeakers) Start(ctx context.Context, trID, netns string) (Speaker, error) {
	sock := filepath.Join(p.RunDir, trID+".sock")
	if _, err := bgp.StartSpeaker(ctx, netns, p.Binary, sock); err != nil {
		return nil, err
	}
	c, err := bgp.Dial(sock)
	if err != nil {
		return nil, err
	}
	return processSpeaker{c, sock}, nil
}

// Stop implements Speakers.
func (p ProcessSpeakers) Stop(_ string, sp Speaker) error {
	ps, ok := sp.(processSpeaker)
	if !ok {
		return errors.New("not a speaker process")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h, err := ps.Hello(ctx)
	_ = ps.Close()
	if err != nil {
		return nil // it is gone already
	}
	return bgp.StopSpeaker(h.PID)
}

type processSpeaker struct {
	*bgp.Client
	sock string
}

// routerID is a stable BGP router ID per transit router.
func routerID(trID string) netip.Addr {
	h := fnv.New32a()
	h.Write([]byte(trID))
	v := h.Sum32()
	return netip.AddrFrom4([4]byte{10, byte(v >> 16), byte(v >> 8), byte(v)})
}

// speakerState is what the gateway keeps of one router's speaker.
type speakerState struct {
	router    string
	sp        Speaker
	neighbors map[string]neighborObject
	// what was last sent, so unchanged state is not sent again
	config     *bgp.Config
	advertised map[string][]netip.Prefix
	stop       context.CancelFunc
	done       chan struct{}
}

// bgpOps applies BGP neighbors: each is one neighbor on its router's speaker (started with
// the router's first neighbor, stopped with its last), with what route synchronization
// advertises to it.
type bgpOps struct {
	g        *Gateway
	speakers map[string]*speakerState // by router; used from the gateway's loop only
}

func (o *bgpOps) Update(ctx context.Context, key string, n neighborObject) error {
	if o.g.Speakers == nil {
		return errors.New("this gateway runs no BGP speakers (no speaker binary configured)")
	}
	if err := o.g.ready(n.Router, key); err != nil {
		return err
	}
	st, err := o.speaker(ctx, n.Router, n.Netns)
	if err != nil {
		return err
	}
	st.neighbors[key] = n
	return o.push(ctx, n.Router, st)
}

func (o *bgpOps) Delete(ctx context.Context, key string, n neighborObject) error {
	st, ok := o.speakers[n.Router]
	if !ok {
		return nil
	}
	delete(st.neighbors, key)
	if len(st.neighbors) == 0 {
		o.drop(n.Router, true)
		return nil
	}
	return o.push(ctx, n.Router, st)
}

// push sends the router's neighbors and advertisements when they changed.
func (o *bgpOps) push(ctx context.Context, tr string, st *speakerState) error {
	cfg := bgp.Config{RouterID: routerID(tr), ASN: bgp.DefaultASN}
	adv := map[string][]netip.Prefix{}
	for _, id := range slices.Sorted(mapsKeys(st.neighbors)) {
		cfg.Neighbors = append(cfg.Neighbors, st.neighbors[id].Neighbor)
		adv[id] = st.neighbors[id].Advertised
	}
	if st.config == nil || !reflect.DeepEqual(*st.config, cfg) {
		if err := st.sp.Configure(ctx, cfg); err != nil {
			o.drop(tr, false) // the next attempt starts over (or re-adopts the speaker)
			return fmt.Errorf("BGP speaker of %s: %w", tr, err)
		}
		st.config, st.advertised = &cfg, nil
	}
	if !reflect.DeepEqual(st.advertised, adv) {
		if _, err := st.sp.Advertise(ctx, adv); err != nil {
			o.drop(tr, false)
			return fmt.Errorf("BGP speaker of %s: advertise: %w", tr, err)
		}
		st.advertised = adv
	}
	return nil
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// speaker returns the router's speaker, starting (or re-adopting) it and watching it.
func (o *bgpOps) speaker(ctx context.Context, tr, netns string) (*speakerState, error) {
	if st, ok := o.speakers[tr]; ok {
		return st, nil
	}
	sp, err := o.g.Speakers.Start(ctx, tr, netns)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(context.Background())
	updates, err := sp.Watch(wctx)
	if err != nil {
		cancel()
		sp.Close()
		return nil, err
	}
	st := &speakerState{router: tr, sp: sp, neighbors: map[string]neighborObject{}, stop: cancel, done: make(chan struct{})}
	o.speakers[tr] = st
	go o.g.watchBGP(st, updates)
	return st, nil
}

// drop forgets a router's speaker, stopping the process when stop is set.
func (o *bgpOps) drop(tr string, stop bool) {
	st, ok := o.speakers[tr]
	if !ok {
		return
	}
	delete(o.speakers, tr)
	st.stop()
	<-st.done
	if stop {
		if err := o.g.Speakers.Stop(tr, st.sp); err != nil {
			o.g.Log.Warn("gateway: stop bgp speaker", "tr", tr, "err", err)
		}
		return
	}
	st.sp.Close()
}

// close forgets every speaker without stopping them: a restarted gateway re-adopts them.
func (o *bgpOps) close() {
	for tr := range o.speakers {
		o.drop(tr, false)
	}
}

// watchBGP reports session state and learned routes as the speaker sees them. When the
// speaker goes away (the channel closes without the gateway asking), its neighbors are
// due again, which starts a new speaker or re-adopts it.
func (g *Gateway) watchBGP(st *speakerState, updates <-chan bgp.Update) {
	defer close(st.done)
	up := map[string]bool{}
	for u := range updates {
		id := u.Neighbor.ID
		status, learned := "failed", []service.LearnedRoute{}
		if u.Neighbor.Established && !u.Removed {
			status = model.StatusSuccess
			for _, r := range u.Neighbor.Learned {
				learned = append(learned, service.LearnedRoute{Prefix: r.Prefix.String(), AsPath: r.ASPath, Communities: r.Communities})
			}
		}
		g.tunnelSignal(g.tunnelBGP, id, status == model.StatusSuccess)
		var events []service.LogLine
		if now := status == model.StatusSuccess; now != up[id] {
			up[id] = now
			msg := "bgp: session with " + u.Neighbor.Address.String() + " established"
			if !now {
				msg = "bgp: session with " + u.Neighbor.Address.String() + " down (" + u.Neighbor.State + ")"
			}
			events = append(events, service.LogLine{Time: time.Now(), Message: msg})
		}
		if u.Neighbor.Ignored > 0 && len(events) > 0 {
			events = append(events, service.LogLine{Time: time.Now(), Message: fmt.Sprintf("bgp: %d routes beyond the limit ignored", u.Neighbor.Ignored)})
		}
		if err := g.Store.ReportConnection(context.Background(), id, service.Report{Observed: service.Observed{BGP: status}, Learned: &learned, Logs: events}); err != nil {
			g.Log.Warn("gateway: bgp report", "vco", id, "err", err)
		}
		g.poke()
	}
	g.mu.Lock()
	g.speakerGone = append(g.speakerGone, st)
	g.mu.Unlock()
	g.poke()
}

// speakersGone handles speakers whose watch ended: one the gateway still uses went away
// (crashed, killed), so its neighbors are due again, which starts or re-adopts it.
func (o *bgpOps) speakersGone(gone []*speakerState) {
	for _, st := range gone {
		if o.speakers[st.router] != st {
			continue // dropped by the gateway itself
		}
		keys := slices.Collect(mapsKeys(st.neighbors))
		o.drop(st.router, false)
		o.g.Log.Warn("gateway: the BGP speaker went away; starting it again", "tr", st.router)
		o.g.bgp.Refresh(keys...)
	}
}
