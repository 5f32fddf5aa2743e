package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/apiutil"
	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
	"github.com/osrg/gobgp/v3/pkg/server"
	"google.golang.org/protobuf/types/known/anypb"
)

// SpeakerOptions configures RunSpeakerWith.
type SpeakerOptions struct {
	// SocketPath is the unix socket the speaker serves (required).
	SocketPath string
	// ListenPort is the BGP port the speaker listens on (on 0.0.0.0 of its namespace):
	// 0 = 179; -1 = do not listen, only connect actively.
	ListenPort int32
	// MaxLearned is how many prefixes per neighbor are accepted (0 = DefaultMaxLearned).
	MaxLearned int
	// ResyncInterval is how often every neighbor's state is re-read from GoBGP besides
	// the event-driven updates (0 = 5s).
	ResyncInterval time.Duration
	// Logger receives the speaker's and GoBGP's logs (nil = text to stderr, level info).
	Logger *slog.Logger
}

// RunSpeaker runs a BGP speaker serving socketPath until ctx ends, with the default
// options (listens on port 179 of the current network namespace). Run it inside the
// transit router's namespace (StartSpeaker does).
func RunSpeaker(ctx context.Context, socketPath string) error {
	return RunSpeakerWith(ctx, SpeakerOptions{SocketPath: socketPath})
}

// RunSpeakerWith runs a BGP speaker until ctx ends. GoBGP starts with the first
// configuration; at the end the sessions are closed (Cease) and the socket removed.
func RunSpeakerWith(ctx context.Context, opts SpeakerOptions) error {
	if opts.SocketPath == "" {
		return errors.New("bgp speaker: no socket path")
	}
	disableMPTCP()
	ln, err := listenUnix(opts.SocketPath)
	if err != nil {
		return err
	}
	s := newSpeaker(opts)
	s.run(ctx, ln)
	_ = os.Remove(opts.SocketPath)
	s.log.Info("bgp speaker: stopped")
	return nil
}

func newSpeaker(opts SpeakerOptions) *speaker {
	if opts.MaxLearned <= 0 {
		opts.MaxLearned = DefaultMaxLearned
	}
	if opts.ResyncInterval <= 0 {
		opts.ResyncInterval = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return &speaker{
		opts: opts, log: opts.Logger,
		nbrs:  map[string]*neighbor{},
		dirty: map[netip.Addr]bool{}, kick: make(chan struct{}, 1),
		watchers: map[*watcher]bool{},
	}
}

// run serves ln until ctx ends, then closes the sessions.
func (s *speaker) run(ctx context.Context, ln net.Listener) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.resyncLoop(ctx) }()
	go func() { defer wg.Done(); s.acceptLoop(ctx, ln) }()
	s.log.Info("bgp speaker: serving", "socket", s.opts.SocketPath, "pid", os.Getpid(), "listenPort", s.opts.ListenPort, "maxLearned", s.opts.MaxLearned)
	<-ctx.Done()
	ln.Close()
	s.mu.Lock()
	s.stopServer()
	s.mu.Unlock()
	s.closeWatchers()
	wg.Wait()
}

// disableMPTCP makes this process's TCP listeners plain TCP again. Since Go 1.24 listeners
// use MPTCP where the kernel has it, and MPTCP sockets refuse TCP_MD5SIG (ENOPROTOOPT):
// GoBGP could not put the MD5 keys on its listener, so a peer's connection without
// signature would be accepted. The net package reads GODEBUG at each listen.
func disableMPTCP() {
	if v := os.Getenv("GODEBUG"); !strings.Contains(v, "multipathtcp=0") {
		os.Setenv("GODEBUG", godebugNoMPTCP(v))
	}
}

// listenUnix listens on path; a leftover socket nobody answers on is replaced, a live
// one is an error (another speaker serves it).
func listenUnix(path string) (net.Listener, error) {
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("bgp speaker: %s is served by another process", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(dirOf(path), 0o700); err != nil {
		return nil, err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	return ln, nil
}

func dirOf(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '/' {
			if i == 0 {
				return "/"
			}
			return path[:i]
		}
	}
	return "."
}

type speaker struct {
	opts SpeakerOptions
	log  *slog.Logger

	// mu serializes everything that touches GoBGP and guards the fields below.
	mu          sync.Mutex
	srv         *server.BgpServer
	watchCancel context.CancelFunc
	global      Config // RouterID and ASN the running GoBGP has
	configured  bool
	nbrs        map[string]*neighbor
	nextIdx     uint32

	dmu   sync.Mutex
	dirty map[netip.Addr]bool // neighbors GoBGP reported something about
	all   bool                // refresh every neighbor
	kick  chan struct{}

	wmu      sync.Mutex
	watchers map[*watcher]bool
}

// neighbor is one configured neighbor: its configuration, its GoBGP objects (a VRF with
// its own RD/RT holding the advertised paths, and the peer enslaved to it) and the last
// state computed from GoBGP.
type neighbor struct {
	conf       Neighbor
	idx        uint32 // VRF number: RD/RT 64512:idx
	vrf        bool   // the VRF exists in GoBGP
	peer       bool   // the peer exists in GoBGP
	advertised []netip.Prefix
	advDropped int
	accepted   map[netip.Prefix]Route
	st         NeighborState
}

func (n *neighbor) vrfName() string { return fmt.Sprintf("nbr%d", n.idx) }

var ipv4UC = &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}

// ---------------------------------------------------------------- GoBGP server

func (s *speaker) startServer(c Config) error {
	srv := server.NewBgpServer(server.LoggerOption(&gobgpLogger{l: s.log.With("component", "gobgp"), level: gobgplog.InfoLevel}))
	go srv.Serve()
	ctx := context.Background()
	if err := srv.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn: c.ASN, RouterId: c.RouterID.String(), ListenPort: s.opts.ListenPort, ListenAddresses: []string{"0.0.0.0"},
	}}); err != nil {
		srv.Stop()
		return fmt.Errorf("start GoBGP: %w", err)
	}
	wctx, cancel := context.WithCancel(ctx)
	err := srv.WatchEvent(wctx, &api.WatchEventRequest{
		Peer:  &api.WatchEventRequest_Peer{},
		Table: &api.WatchEventRequest_Table{Filters: []*api.WatchEventRequest_Table_Filter{{Type: api.WatchEventRequest_Table_Filter_ADJIN}}},
	}, s.onEvent)
	if err != nil {
		cancel()
		srv.Stop()
		return fmt.Errorf("watch GoBGP: %w", err)
	}
	s.srv, s.watchCancel, s.global = srv, cancel, Config{RouterID: c.RouterID, ASN: c.ASN}
	for _, n := range s.nbrs {
		n.vrf, n.peer = false, false
	}
	s.log.Info("bgp speaker: GoBGP started", "routerId", c.RouterID, "asn", c.ASN)
	return nil
}

// stopServer closes every session (Cease) and drops the GoBGP server. Caller holds mu.
func (s *speaker) stopServer() {
	if s.srv == nil {
		return
	}
	s.watchCancel()
	s.srv.Stop()
	s.srv = nil
	for _, n := range s.nbrs {
		n.vrf, n.peer = false, false
	}
}

// onEvent runs on GoBGP's watch goroutine: it only notes which neighbors to re-read.
func (s *speaker) onEvent(r *api.WatchEventResponse) {
	var addrs []string
	if p := r.GetPeer(); p != nil {
		addrs = append(addrs, p.GetPeer().GetState().GetNeighborAddress())
	}
	if t := r.GetTable(); t != nil {
		for _, p := range t.GetPaths() {
			addrs = append(addrs, p.GetNeighborIp())
		}
	}
	s.dmu.Lock()
	for _, a := range addrs {
		if ip, err := netip.ParseAddr(a); err == nil {
			s.dirty[ip] = true
		}
	}
	s.dmu.Unlock()
	s.poke()
}

func (s *speaker) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *speaker) markAll() {
	s.dmu.Lock()
	s.all = true
	s.dmu.Unlock()
	s.poke()
}

// resyncLoop re-reads neighbors GoBGP reported about (coalescing bursts) and, every
// ResyncInterval, all of them.
func (s *speaker) resyncLoop(ctx context.Context) {
	t := time.NewTicker(s.opts.ResyncInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.markAll()
		case <-s.kick:
			// let a burst of UPDATEs settle
			select {
			case <-ctx.Done():
				return
			case <-time.After(30 * time.Millisecond):
			}
			s.dmu.Lock()
			dirty, all := s.dirty, s.all
			s.dirty, s.all = map[netip.Addr]bool{}, false
			s.dmu.Unlock()
			s.mu.Lock()
			for _, id := range slices.Sorted(mapKeys(s.nbrs)) {
				n := s.nbrs[id]
				if all || dirty[n.conf.Address] {
					s.refresh(ctx, n)
				}
			}
			s.mu.Unlock()
		}
	}
}

// ---------------------------------------------------------------- configure

func (s *speaker) configure(ctx context.Context, c Config) error {
	c, err := c.normalize()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil && (s.global.RouterID != c.RouterID || s.global.ASN != c.ASN) {
		s.log.Info("bgp speaker: router ID or AS changed, restarting GoBGP", "routerId", c.RouterID, "asn", c.ASN)
		s.stopServer()
	}
	if s.srv == nil {
		if err := s.startServer(c); err != nil {
			return err
		}
	}
	var errs []error
	want := map[string]Neighbor{}
	for _, nb := range c.Neighbors {
		want[nb.ID] = nb
	}
	for _, id := range slices.Sorted(mapKeys(s.nbrs)) {
		n := s.nbrs[id]
		if _, ok := want[id]; ok {
			continue
		}
		if err := s.removeNeighbor(ctx, n); err != nil {
			errs = append(errs, err)
			continue
		}
		delete(s.nbrs, id)
		s.notify(id)
		s.log.Info("bgp speaker: neighbor removed", "id", id, "address", n.conf.Address)
	}
	// changed sessions (address, AS numbers, password, timers) first, so that addresses
	// they release are free for the additions: the peer is re-created, its VRF (and what
	// is advertised) stays
	for _, nb := range c.Neighbors {
		n := s.nbrs[nb.ID]
		if n == nil || n.conf == nb {
			continue
		}
		if n.peer {
			if err := s.srv.DeletePeer(ctx, &api.DeletePeerRequest{Address: n.conf.Address.String()}); err != nil {
				errs = append(errs, fmt.Errorf("neighbor %s: delete peer: %w", nb.ID, err))
				continue
			}
			n.peer = false
		}
		n.accepted = map[netip.Prefix]Route{}
		n.conf = nb
	}
	for _, nb := range c.Neighbors {
		n := s.nbrs[nb.ID]
		if n == nil {
			s.nextIdx++
			n = &neighbor{conf: nb, idx: s.nextIdx, accepted: map[netip.Prefix]Route{}}
			s.nbrs[nb.ID] = n
		}
		if n.conf != nb { // its old peer could not be deleted
			continue
		}
		if err := s.ensureNeighbor(ctx, n); err != nil {
			errs = append(errs, err)
		}
	}
	s.configured = true
	s.markAll()
	return errors.Join(errs...)
}

// ensureNeighbor creates what is missing in GoBGP: the VRF with the advertised paths,
// then the peer.
func (s *speaker) ensureNeighbor(ctx context.Context, n *neighbor) error {
	if !n.vrf {
		rd, _ := anypb.New(&api.RouteDistinguisherTwoOctetASN{Admin: 64512, Assigned: n.idx})
		rt, _ := anypb.New(&api.TwoOctetAsSpecificExtended{IsTransitive: true, SubType: 0x02, Asn: 64512, LocalAdmin: n.idx})
		if err := s.srv.AddVrf(ctx, &api.AddVrfRequest{Vrf: &api.Vrf{
			Name: n.vrfName(), Id: n.idx, Rd: rd, ImportRt: []*anypb.Any{rt}, ExportRt: []*anypb.Any{rt},
		}}); err != nil {
			return fmt.Errorf("neighbor %s: add VRF: %w", n.conf.ID, err)
		}
		n.vrf = true
		for _, p := range n.advertised {
			if err := s.addPath(ctx, n, p); err != nil {
				return err
			}
		}
	}
	if !n.peer {
		c := n.conf
		hold := uint64(c.HoldTime)
		peer := &api.Peer{
			Conf: &api.PeerConf{
				NeighborAddress: c.Address.String(), PeerAsn: c.PeerAS, LocalAsn: c.LocalAS,
				AuthPassword: c.AuthPassword, Description: c.ID, Vrf: n.vrfName(),
			},
			Transport: &api.Transport{LocalAddress: c.LocalAddress.String(), PassiveMode: c.Passive},
			Timers: &api.Timers{Config: &api.TimersConfig{
				HoldTime: hold, KeepaliveInterval: max(1, hold/3), ConnectRetry: 5, IdleHoldTimeAfterReset: 5,
			}},
			AfiSafis: []*api.AfiSafi{{
				Config:       &api.AfiSafiConfig{Family: ipv4UC, Enabled: true},
				PrefixLimits: &api.PrefixLimit{Family: ipv4UC, MaxPrefixes: uint32(HardLimitFactor * s.opts.MaxLearned)},
			}},
		}
		if err := s.srv.AddPeer(ctx, &api.AddPeerRequest{Peer: peer}); err != nil {
			return fmt.Errorf("neighbor %s: add peer: %w", c.ID, err)
		}
		n.peer = true
		s.log.Info("bgp speaker: neighbor configured", "id", c.ID, "address", c.Address, "localAddress", c.LocalAddress,
			"localAs", c.LocalAS, "peerAs", c.PeerAS, "md5", c.AuthPassword != "", "holdTime", c.HoldTime)
	}
	return nil
}

func (s *speaker) removeNeighbor(ctx context.Context, n *neighbor) error {
	if n.peer && s.srv != nil {
		if err := s.srv.DeletePeer(ctx, &api.DeletePeerRequest{Address: n.conf.Address.String()}); err != nil {
			return fmt.Errorf("neighbor %s: delete peer: %w", n.conf.ID, err)
		}
		n.peer = false
	}
	if n.vrf && s.srv != nil {
		if err := s.srv.DeleteVrf(ctx, &api.DeleteVrfRequest{Name: n.vrfName()}); err != nil {
			return fmt.Errorf("neighbor %s: delete VRF: %w", n.conf.ID, err)
		}
		n.vrf = false
	}
	return nil
}

// ---------------------------------------------------------------- advertise

func localPath(p netip.Prefix) *api.Path {
	nlri, _ := anypb.New(&api.IPAddressPrefix{Prefix: p.Addr().String(), PrefixLen: uint32(p.Bits())})
	origin, _ := anypb.New(&api.OriginAttribute{Origin: 0}) // IGP
	nh, _ := anypb.New(&api.NextHopAttribute{NextHop: "0.0.0.0"})
	return &api.Path{Family: ipv4UC, Nlri: nlri, Pattrs: []*anypb.Any{origin, nh}}
}

func (s *speaker) addPath(ctx context.Context, n *neighbor, p netip.Prefix) error {
	if _, err := s.srv.AddPath(ctx, &api.AddPathRequest{TableType: api.TableType_VRF, VrfId: n.vrfName(), Path: localPath(p)}); err != nil {
		return fmt.Errorf("neighbor %s: advertise %v: %w", n.conf.ID, p, err)
	}
	return nil
}

func (s *speaker) deletePath(ctx context.Context, n *neighbor, p netip.Prefix) error {
	if err := s.srv.DeletePath(ctx, &api.DeletePathRequest{TableType: api.TableType_VRF, VrfId: n.vrfName(), Family: ipv4UC, Path: localPath(p)}); err != nil {
		return fmt.Errorf("neighbor %s: withdraw %v: %w", n.conf.ID, p, err)
	}
	return nil
}

func (s *speaker) advertise(ctx context.Context, m map[string][]netip.Prefix) (AdvertiseResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	res := AdvertiseResult{}
	want := map[string][]netip.Prefix{}
	var errs []string
	for id, ps := range m {
		if s.nbrs[id] == nil {
			errs = append(errs, fmt.Sprintf("unknown neighbor %q", id))
			continue
		}
		set, cut, err := prefixSet(ps, MaxAdvertised)
		if err != nil {
			errs = append(errs, fmt.Sprintf("neighbor %s: %v", id, err))
			continue
		}
		want[id] = set
		if cut > 0 {
			if res.Dropped == nil {
				res.Dropped = map[string]int{}
			}
			res.Dropped[id] = cut
		}
	}
	if len(errs) > 0 {
		slices.Sort(errs)
		return AdvertiseResult{}, errors.New("advertise: " + strings.Join(errs, "; "))
	}
	var failed []error
	for _, id := range slices.Sorted(mapKeys(s.nbrs)) {
		n := s.nbrs[id]
		set := want[id]
		n.advDropped = res.Dropped[id]
		if slices.Equal(set, n.advertised) {
			continue
		}
		if !n.vrf { // GoBGP lacks the neighbor (a failed configure): remembered for later
			n.advertised = set
			continue
		}
		keep := make([]netip.Prefix, 0, len(set))
		for _, p := range n.advertised {
			if _, found := slices.BinarySearchFunc(set, p, comparePrefix); found {
				keep = append(keep, p)
				continue
			}
			if err := s.deletePath(ctx, n, p); err != nil {
				failed = append(failed, err)
				keep = append(keep, p)
			}
		}
		for _, p := range set {
			if _, found := slices.BinarySearchFunc(n.advertised, p, comparePrefix); found {
				continue
			}
			if err := s.addPath(ctx, n, p); err != nil {
				failed = append(failed, err)
				continue
			}
			keep = append(keep, p)
		}
		slices.SortFunc(keep, comparePrefix)
		n.advertised = keep
		s.log.Info("bgp speaker: advertised set changed", "id", id, "prefixes", len(keep), "dropped", n.advDropped)
	}
	for _, n := range s.nbrs {
		s.setState(n, s.computeState(n, n.st))
	}
	return res, errors.Join(failed...)
}

// ---------------------------------------------------------------- state

var sessionStates = map[api.PeerState_SessionState]string{
	api.PeerState_UNKNOWN: StateUnknown, api.PeerState_IDLE: StateIdle, api.PeerState_CONNECT: StateConnect,
	api.PeerState_ACTIVE: StateActive, api.PeerState_OPENSENT: StateOpenSent, api.PeerState_OPENCONFIRM: StateOpenConfirm,
	api.PeerState_ESTABLISHED: StateEstablished,
}

// refresh re-reads a neighbor's session and Adj-RIB-In from GoBGP. Caller holds mu.
func (s *speaker) refresh(ctx context.Context, n *neighbor) {
	obs := NeighborState{State: StateIdle}
	if s.srv == nil || !n.peer {
		s.setState(n, s.computeState(n, obs))
		return
	}
	addr := n.conf.Address.String()
	err := s.srv.ListPeer(ctx, &api.ListPeerRequest{Address: addr}, func(p *api.Peer) {
		st := p.GetState()
		if st.GetNeighborAddress() != addr {
			return
		}
		obs.State = sessionStates[st.GetSessionState()]
		if obs.State == "" {
			obs.State = StateUnknown
		}
		obs.Flaps = st.GetFlops()
		if obs.State == StateEstablished {
			obs.Established = true
			obs.PeerRouterID = st.GetRouterId()
			if up := p.GetTimers().GetState().GetUptime(); up != nil {
				obs.Since = up.AsTime().UTC()
			}
		}
	})
	if err != nil {
		s.log.Warn("bgp speaker: list peer", "id", n.conf.ID, "err", err)
		return
	}
	present := map[netip.Prefix]Route{}
	if obs.Established {
		err := s.srv.ListPath(ctx, &api.ListPathRequest{TableType: api.TableType_ADJ_IN, Name: addr, Family: ipv4UC}, func(d *api.Destination) {
			for _, p := range d.GetPaths() {
				if p.GetIsWithdraw() {
					continue
				}
				r, ok := routeOf(p)
				if !ok || slices.Contains(r.ASPath, n.conf.LocalAS) { // an AS loop: GoBGP rejects it
					continue
				}
				present[r.Prefix] = r
			}
		})
		if err != nil {
			s.log.Warn("bgp speaker: list Adj-RIB-In", "id", n.conf.ID, "err", err)
			return
		}
	}
	acc, ignored := accept(n.accepted, present, s.opts.MaxLearned)
	if len(ignored) > 0 && len(ignored) != n.st.Ignored {
		s.log.Warn("bgp speaker: learned-route limit reached, prefixes ignored", "id", n.conf.ID, "limit", s.opts.MaxLearned, "ignored", len(ignored))
	}
	n.accepted = acc
	obs.Ignored = len(ignored)
	if len(ignored) > 20 {
		ignored = ignored[:20]
	}
	obs.IgnoredPrefixes = ignored
	s.setState(n, s.computeState(n, obs))
}

// accept applies the learned-route limit. First come, first served: prefixes accepted
// before stay accepted while announced; free slots go to the others in prefix order; the
// rest is ignored (returned sorted).
func accept(prev, present map[netip.Prefix]Route, limit int) (map[netip.Prefix]Route, []netip.Prefix) {
	acc := map[netip.Prefix]Route{}
	for p := range prev {
		if r, ok := present[p]; ok && len(acc) < limit {
			acc[p] = r
		}
	}
	var ignored []netip.Prefix
	for _, p := range slices.SortedFunc(mapKeys(present), comparePrefix) {
		if _, ok := acc[p]; ok {
			continue
		}
		if len(acc) < limit {
			acc[p] = present[p]
		} else {
			ignored = append(ignored, p)
		}
	}
	return acc, ignored
}

// computeState combines the observed part (session, counters) with the configuration.
func (s *speaker) computeState(n *neighbor, obs NeighborState) NeighborState {
	c := n.conf
	st := obs
	st.ID, st.Address, st.LocalAddress, st.LocalAS, st.PeerAS = c.ID, c.Address, c.LocalAddress, c.LocalAS, c.PeerAS
	st.Learned = make([]Route, 0, len(n.accepted))
	for _, p := range slices.SortedFunc(mapKeys(n.accepted), comparePrefix) {
		st.Learned = append(st.Learned, n.accepted[p])
	}
	st.Advertised = slices.Clone(n.advertised)
	if st.Advertised == nil {
		st.Advertised = []netip.Prefix{}
	}
	st.AdvertiseDropped = n.advDropped
	return st
}

func (s *speaker) setState(n *neighbor, st NeighborState) {
	if reflect.DeepEqual(n.st, st) {
		return
	}
	if n.st.Established != st.Established || n.st.State != st.State {
		s.log.Info("bgp speaker: session", "id", n.conf.ID, "address", n.conf.Address, "state", st.State)
	}
	n.st = st
	s.notify(n.conf.ID)
}

// routeOf converts a GoBGP path.
func routeOf(p *api.Path) (Route, bool) {
	nlri, err := apiutil.GetNativeNlri(p)
	if err != nil {
		return Route{}, false
	}
	pfx, err := netip.ParsePrefix(nlri.String())
	if err != nil || !pfx.Addr().Is4() {
		return Route{}, false
	}
	r := Route{Prefix: pfx.Masked(), ASPath: []uint32{}}
	attrs, err := apiutil.GetNativePathAttributes(p)
	if err != nil {
		return Route{}, false
	}
	for _, a := range attrs {
		switch a := a.(type) {
		case *bgp.PathAttributeNextHop:
			r.NextHop, _ = netip.AddrFromSlice(a.Value.To4())
		case *bgp.PathAttributeAsPath:
			for _, seg := range a.Value {
				r.ASPath = append(r.ASPath, seg.GetAS()...)
			}
		case *bgp.PathAttributeCommunities:
			for _, v := range a.Value {
				r.Communities = append(r.Communities, fmt.Sprintf("%d:%d", v>>16, v&0xffff))
			}
		case *bgp.PathAttributeMultiExitDisc:
			r.MED = a.Value
		}
	}
	return r, true
}

// snapshot returns a neighbor's state (false if it is not configured).
func (s *speaker) snapshot(id string) (NeighborState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.nbrs[id]
	if !ok {
		return NeighborState{}, false
	}
	return n.st, true
}

func (s *speaker) states(ctx context.Context) []NeighborState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]NeighborState, 0, len(s.nbrs))
	for _, id := range slices.Sorted(mapKeys(s.nbrs)) {
		n := s.nbrs[id]
		s.refresh(ctx, n)
		out = append(out, n.st)
	}
	return out
}

func (s *speaker) hello() Hello {
	s.mu.Lock()
	defer s.mu.Unlock()
	ns, _ := os.Readlink("/proc/self/ns/net")
	return Hello{PID: os.Getpid(), Version: Version, Netns: ns, Configured: s.configured, MaxLearned: s.opts.MaxLearned}
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// ---------------------------------------------------------------- GoBGP logging

// gobgpLogger routes GoBGP's logs to slog.
type gobgpLogger struct {
	l     *slog.Logger
	mu    sync.Mutex
	level gobgplog.LogLevel
}

func (g *gobgpLogger) log(level gobgplog.LogLevel, sl slog.Level, msg string, fields gobgplog.Fields) {
	if level > g.GetLevel() {
		return
	}
	args := make([]any, 0, 2*len(fields))
	for _, k := range slices.Sorted(mapKeys(fields)) {
		args = append(args, k, fields[k])
	}
	g.l.Log(context.Background(), sl, msg, args...)
}

func (g *gobgpLogger) Panic(msg string, fields gobgplog.Fields) {
	g.log(gobgplog.PanicLevel, slog.LevelError, msg, fields)
	panic(msg)
}

func (g *gobgpLogger) Fatal(msg string, fields gobgplog.Fields) {
	g.log(gobgplog.FatalLevel, slog.LevelError, msg, fields)
	os.Exit(1)
}

func (g *gobgpLogger) Error(msg string, fields gobgplog.Fields) {
	g.log(gobgplog.ErrorLevel, slog.LevelError, msg, fields)
}

func (g *gobgpLogger) Warn(msg string, fields gobgplog.Fields) {
	g.log(gobgplog.WarnLevel, slog.LevelWarn, msg, fields)
}

func (g *gobgpLogger) Info(msg string, fields gobgplog.Fields) {
	g.log(gobgplog.InfoLevel, slog.LevelInfo, msg, fields)
}

func (g *gobgpLogger) Debug(msg string, fields gobgplog.Fields) {
	g.log(gobgplog.DebugLevel, slog.LevelDebug, msg, fields)
}

func (g *gobgpLogger) SetLevel(level gobgplog.LogLevel) {
	g.mu.Lock()
	g.level = level
	g.mu.Unlock()
}

func (g *gobgpLogger) GetLevel() gobgplog.LogLevel {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.level
}
