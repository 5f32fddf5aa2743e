package bgp

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/protobuf/types/known/anypb"
)

// Unit tests: a speaker inside the test process that neither listens (ListenPort -1) nor
// connects (passive neighbors), so no packet leaves; the assertions read GoBGP directly.

func startUnitSpeaker(t *testing.T) (*speaker, *Client) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "bgp.sock")
	ln, err := listenUnix(sock)
	if err != nil {
		t.Fatal(err)
	}
	s := newSpeaker(SpeakerOptions{SocketPath: sock, ListenPort: -1, ResyncInterval: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.run(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	c, err := Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return s, c
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func addr(s string) netip.Addr  { return netip.MustParseAddr(s) }

func unitConfig() Config {
	return Config{RouterID: addr("10.255.0.1"), Neighbors: []Neighbor{
		{ID: "vco-a", Address: addr("169.254.20.2"), LocalAddress: addr("169.254.20.1"), LocalAS: 45104, PeerAS: 65010, Passive: true},
		{ID: "vco-b", Address: addr("169.254.21.2"), LocalAddress: addr("169.254.21.1"), LocalAS: 64999, PeerAS: 65011, AuthPassword: "md5-key", Passive: true, HoldTime: 9},
	}}
}

// gobgpPeers reads the peers from GoBGP: address -> conf.
func gobgpPeers(t *testing.T, s *speaker) map[string]*api.Peer {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]*api.Peer{}
	if err := s.srv.ListPeer(context.Background(), &api.ListPeerRequest{}, func(p *api.Peer) { out[p.GetConf().GetNeighborAddress()] = p }); err != nil {
		t.Fatal(err)
	}
	return out
}

// listTable lists the prefixes of a GoBGP table (e.g. a neighbor's VRF).
func listTable(t *testing.T, s *speaker, typ api.TableType, name string) []string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	err := s.srv.ListPath(context.Background(), &api.ListPathRequest{TableType: typ, Name: name, Family: ipv4UC}, func(d *api.Destination) {
		pfx := d.GetPrefix() // VRF tables: "RD:prefix"
		out = append(out, pfx[strings.LastIndex(pfx, ":")+1:])
	})
	if err != nil {
		t.Fatalf("ListPath %v %s: %v", typ, name, err)
	}
	slices.Sort(out)
	return out
}

func vrfOf(t *testing.T, s *speaker, id string) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nbrs[id].vrfName()
}

func TestUnitNeighborsWithTheirOwnLocalAS(t *testing.T) {
	s, c := startUnitSpeaker(t)
	ctx := context.Background()
	if h, err := c.Hello(ctx); err != nil || h.Configured || h.MaxLearned != DefaultMaxLearned || h.Version != Version {
		t.Fatalf("hello before configure: %+v %v", h, err)
	}
	if err := c.Configure(ctx, unitConfig()); err != nil {
		t.Fatal(err)
	}
	peers := gobgpPeers(t, s)
	a, b := peers["169.254.20.2"], peers["169.254.21.2"]
	if a == nil || b == nil {
		t.Fatalf("GoBGP peers: %v", peers)
	}
	if a.Conf.LocalAsn != 45104 || a.Conf.PeerAsn != 65010 || b.Conf.LocalAsn != 64999 || b.Conf.PeerAsn != 65011 {
		t.Errorf("per-neighbor AS numbers in GoBGP: a %d/%d, b %d/%d", a.Conf.LocalAsn, a.Conf.PeerAsn, b.Conf.LocalAsn, b.Conf.PeerAsn)
	}
	if a.Conf.Vrf == "" || a.Conf.Vrf == b.Conf.Vrf {
		t.Errorf("neighbors must have VRFs of their own: %q, %q", a.Conf.Vrf, b.Conf.Vrf)
	}
	if b.Conf.AuthPassword != "md5-key" || a.Conf.AuthPassword != "" {
		t.Errorf("MD5 passwords: a %q, b %q", a.Conf.AuthPassword, b.Conf.AuthPassword)
	}
	if b.Timers.Config.HoldTime != 9 || b.Timers.Config.KeepaliveInterval != 3 || a.Timers.Config.HoldTime != DefaultHoldTime {
		t.Errorf("timers: a %+v, b %+v", a.Timers.Config, b.Timers.Config)
	}
	if a.Transport.LocalAddress != "169.254.20.1" || !a.Transport.PassiveMode {
		t.Errorf("transport a: %+v", a.Transport)
	}
	st, err := c.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 2 || st[0].ID != "vco-a" || st[0].LocalAS != 45104 || st[1].LocalAS != 64999 || st[0].Established || st[1].Established {
		t.Fatalf("state: %+v", st)
	}

	// Per-neighbor advertised sets: masked, deduplicated, each in its neighbor's table only.
	res, err := c.Advertise(ctx, map[string][]netip.Prefix{
		"vco-a": {pfx("10.10.0.0/16"), pfx("10.10.5.7/24"), pfx("10.10.0.0/16")},
		"vco-b": {pfx("10.20.0.0/16")},
	})
	if err != nil || len(res.Dropped) != 0 {
		t.Fatalf("advertise: %+v %v", res, err)
	}
	if got := listTable(t, s, api.TableType_VRF, vrfOf(t, s, "vco-a")); !slices.Equal(got, []string{"10.10.0.0/16", "10.10.5.0/24"}) {
		t.Errorf("vco-a table: %v", got)
	}
	if got := listTable(t, s, api.TableType_VRF, vrfOf(t, s, "vco-b")); !slices.Equal(got, []string{"10.20.0.0/16"}) {
		t.Errorf("vco-b table: %v", got)
	}
	st, _ = c.State(ctx)
	if !slices.Equal(st[0].Advertised, []netip.Prefix{pfx("10.10.0.0/16"), pfx("10.10.5.0/24")}) || !slices.Equal(st[1].Advertised, []netip.Prefix{pfx("10.20.0.0/16")}) {
		t.Errorf("advertised in state: %v / %v", st[0].Advertised, st[1].Advertised)
	}

	// An unknown neighbor: an error, nothing changes.
	if _, err := c.Advertise(ctx, map[string][]netip.Prefix{"vco-x": {pfx("10.30.0.0/16")}}); err == nil || !strings.Contains(err.Error(), "vco-x") {
		t.Errorf("advertise to an unknown neighbor: %v", err)
	}
	if got := listTable(t, s, api.TableType_VRF, vrfOf(t, s, "vco-a")); len(got) != 2 {
		t.Errorf("a failed advertise changed vco-a's table: %v", got)
	}

	// At most MaxAdvertised per neighbor; a neighbor left out advertises nothing.
	var many []netip.Prefix
	for i := range MaxAdvertised + 1 {
		many = append(many, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 100 + byte(i/256), byte(i % 256), 0}), 24))
	}
	res, err = c.Advertise(ctx, map[string][]netip.Prefix{"vco-a": many})
	if err != nil || res.Dropped["vco-a"] != 1 {
		t.Fatalf("advertise %d: %+v %v", len(many), res, err)
	}
	if got := listTable(t, s, api.TableType_VRF, vrfOf(t, s, "vco-a")); len(got) != MaxAdvertised {
		t.Errorf("vco-a table has %d prefixes, want %d", len(got), MaxAdvertised)
	}
	if got := listTable(t, s, api.TableType_VRF, vrfOf(t, s, "vco-b")); len(got) != 0 {
		t.Errorf("vco-b left out but still advertises %v", got)
	}
	st, _ = c.State(ctx)
	if len(st[0].Advertised) != MaxAdvertised || st[0].AdvertiseDropped != 1 {
		t.Errorf("state after the cut: %d advertised, %d dropped", len(st[0].Advertised), st[0].AdvertiseDropped)
	}

	// A new router ID restarts GoBGP; neighbors and advertised sets come back.
	cfg := unitConfig()
	cfg.RouterID = addr("10.255.0.2")
	if _, err := c.Advertise(ctx, map[string][]netip.Prefix{"vco-a": {pfx("10.10.0.0/16")}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Configure(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if len(gobgpPeers(t, s)) != 2 || !slices.Equal(listTable(t, s, api.TableType_VRF, vrfOf(t, s, "vco-a")), []string{"10.10.0.0/16"}) {
		t.Errorf("after the router ID change: %d peers, vco-a table %v", len(gobgpPeers(t, s)), listTable(t, s, api.TableType_VRF, vrfOf(t, s, "vco-a")))
	}
	if h, _ := c.Hello(ctx); !h.Configured {
		t.Errorf("hello after configure: %+v", h)
	}
}

func TestUnitWatchAndRemove(t *testing.T) {
	s, c := startUnitSpeaker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Configure(ctx, unitConfig()); err != nil {
		t.Fatal(err)
	}
	ch, err := c.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	next := func() Update {
		t.Helper()
		select {
		case u, ok := <-ch:
			if !ok {
				t.Fatal("watch closed")
			}
			return u
		case <-ctx.Done():
			t.Fatal("no update")
		}
		return Update{}
	}
	seen := map[string]bool{}
	for len(seen) < 2 {
		u := next()
		seen[u.Neighbor.ID] = true
	}
	// Removing vco-b: a Removed update, and its peer and VRF are gone from GoBGP.
	cfg := unitConfig()
	cfg.Neighbors = cfg.Neighbors[:1]
	if err := c.Configure(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	for {
		u := next()
		if u.Neighbor.ID == "vco-b" && u.Removed {
			break
		}
	}
	if p := gobgpPeers(t, s); len(p) != 1 || p["169.254.20.2"] == nil {
		t.Errorf("GoBGP peers after removing vco-b: %v", p)
	}
	// Advertise changes are pushed too.
	if _, err := c.Advertise(ctx, map[string][]netip.Prefix{"vco-a": {pfx("10.10.0.0/16")}}); err != nil {
		t.Fatal(err)
	}
	for {
		u := next()
		if u.Neighbor.ID == "vco-a" && slices.Equal(u.Neighbor.Advertised, []netip.Prefix{pfx("10.10.0.0/16")}) {
			break
		}
	}
	cancel()
	for range ch { // closed after ctx ends
	}
}

func TestUnitConfigValidation(t *testing.T) {
	_, c := startUnitSpeaker(t)
	ctx := context.Background()
	for name, mutate := range map[string]func(*Config){
		"router ID":       func(c *Config) { c.RouterID = netip.Addr{} },
		"same address":    func(c *Config) { c.Neighbors[1].Address = c.Neighbors[0].Address },
		"same ID":         func(c *Config) { c.Neighbors[1].ID = c.Neighbors[0].ID },
		"no local AS":     func(c *Config) { c.Neighbors[0].LocalAS = 0 },
		"long password":   func(c *Config) { c.Neighbors[0].AuthPassword = strings.Repeat("x", 81) },
		"local == peer":   func(c *Config) { c.Neighbors[0].LocalAddress = c.Neighbors[0].Address },
		"hold time 2":     func(c *Config) { c.Neighbors[0].HoldTime = 2 },
		"ID with a space": func(c *Config) { c.Neighbors[0].ID = "vco a" },
	} {
		cfg := unitConfig()
		mutate(&cfg)
		if err := c.Configure(ctx, cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if st, err := c.State(ctx); err != nil || len(st) != 0 {
		t.Errorf("rejected configurations left neighbors: %+v %v", st, err)
	}
}

func TestUnitAcceptLimit(t *testing.T) {
	present := func(n int) map[netip.Prefix]Route {
		m := map[netip.Prefix]Route{}
		for i := range n {
			p := netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 20, byte(i), 0}), 24)
			m[p] = Route{Prefix: p}
		}
		return m
	}
	acc, ign := accept(nil, present(120), 100)
	if len(acc) != 100 || len(ign) != 20 || ign[0] != pfx("172.20.100.0/24") {
		t.Fatalf("120 announced: %d accepted, %d ignored (first %v)", len(acc), len(ign), ign)
	}
	// Accepted prefixes stay accepted; a withdrawn one frees a slot for an ignored one.
	p := present(120)
	delete(p, pfx("172.20.5.0/24"))
	p[pfx("10.0.0.0/24")] = Route{Prefix: pfx("10.0.0.0/24")} // sorts first, but came late
	acc2, ign2 := accept(acc, p, 100)
	if len(acc2) != 100 || len(ign2) != 20 {
		t.Fatalf("after a change: %d accepted, %d ignored", len(acc2), len(ign2))
	}
	if _, ok := acc2[pfx("10.0.0.0/24")]; !ok {
		t.Errorf("the freed slot went elsewhere: ignored %v", ign2)
	}
	for q := range acc {
		if _, ok := acc2[q]; !ok && q != pfx("172.20.5.0/24") {
			t.Errorf("%v lost its slot", q)
		}
	}
}

func TestUnitProtocolErrors(t *testing.T) {
	s, _ := startUnitSpeaker(t)
	conn, err := net.Dial("unix", s.opts.SocketPath)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rd := bufio.NewReader(conn)
	for req, want := range map[string]string{
		"not json\n":                "bad request",
		`{"op":"dance"}` + "\n":     "unknown op",
		`{"op":"configure"}` + "\n": "no config",
		`{"op":"advertise","advertise":{"x":["10.0.0.0/8"]}}` + "\n": "unknown neighbor",
	} {
		fmt.Fprint(conn, req)
		line, err := rd.ReadString('\n')
		if err != nil || !strings.Contains(line, `"ok":false`) || !strings.Contains(line, want) {
			t.Errorf("%q: %q %v", req, line, err)
		}
	}
	// A second speaker on the same socket is refused.
	if _, err := listenUnix(s.opts.SocketPath); err == nil {
		t.Error("a second speaker took over a live socket")
	}
	if code := Main(nil); code != 2 {
		t.Errorf("Main without --socket: %d", code)
	}
}

func TestUnitRouteOf(t *testing.T) {
	nlri, _ := anypb.New(&api.IPAddressPrefix{Prefix: "192.168.10.0", PrefixLen: 24})
	origin, _ := anypb.New(&api.OriginAttribute{Origin: 0})
	nh, _ := anypb.New(&api.NextHopAttribute{NextHop: "169.254.11.2"})
	asPath, _ := anypb.New(&api.AsPathAttribute{Segments: []*api.AsSegment{{Type: 2, Numbers: []uint32{65010, 4200000001}}}})
	comms, _ := anypb.New(&api.CommunitiesAttribute{Communities: []uint32{65010<<16 | 100}})
	med, _ := anypb.New(&api.MultiExitDiscAttribute{Med: 20})
	r, ok := routeOf(&api.Path{Family: ipv4UC, Nlri: nlri, Pattrs: []*anypb.Any{origin, nh, asPath, comms, med}})
	if !ok || r.Prefix != pfx("192.168.10.0/24") || r.NextHop != addr("169.254.11.2") || !slices.Equal(r.ASPath, []uint32{65010, 4200000001}) ||
		!slices.Equal(r.Communities, []string{"65010:100"}) || r.MED != 20 {
		t.Errorf("routeOf: %+v %v", r, ok)
	}
}
