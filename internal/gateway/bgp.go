package gateway

import (
	"context"
	"fmt"
	"hash/fnv"
	"net/netip"
	"path/filepath"
	"reflect"
	"time"

	"opencen/internal/bgp"
	"opencen/internal/service"
)

// speaker is one transit router's BGP speaker process and the gateway's watch on it.
type speaker struct {
	pid    int
	client *bgp.Client
	stop   context.CancelFunc
	done   chan struct{}
	// what was last sent, so unchanged state is not re-sent every sync
	config     *bgp.Config
	advertised map[string][]netip.Prefix
}

// BGP holds what the gateway needs to run speakers: the binary with the bgp-speaker
// subcommand (the opencen binary) and where the sockets live.
type BGP struct {
	Binary string
	RunDir string
}

// routerID is a stable BGP router ID per transit router.
func routerID(trID string) netip.Addr {
	h := fnv.New32a()
	h.Write([]byte(trID))
	v := h.Sum32()
	return netip.AddrFrom4([4]byte{10, byte(v >> 16), byte(v >> 8), byte(v)})
}

// syncBGP runs a speaker in every router namespace with BGP connections, configures its
// neighbors, and announces each connection's route-synchronization set; speakers of
// routers without BGP connections stop. Called after Apply, so namespaces exist.
func (g *Gateway) syncBGP(ctx context.Context, view service.GatewayView) error {
	n, ok := g.Driver.(namer)
	if !ok || g.BGP.Binary == "" {
		return nil
	}
	want := map[string]bool{}
	var errs []error
	for _, r := range view.Routers {
		cfg := bgp.Config{RouterID: routerID(r.TR.ID), ASN: bgp.DefaultASN}
		adv := map[string][]netip.Prefix{}
		for _, v := range r.VPNs {
			b := v.Conn.Bgp
			if !b.EnableBgp || v.Gateway.Asn == 0 {
				continue
			}
			cfg.Neighbors = append(cfg.Neighbors, bgp.Neighbor{ID: v.Conn.ID, Address: netip.MustParseAddr(b.PeerBgpIP()),
				LocalAddress: netip.MustParseAddr(b.LocalBgpIp), LocalAS: uint32(b.LocalAsn), PeerAS: uint32(v.Gateway.Asn), AuthPassword: v.BgpAuthKey})
			adv[v.Conn.ID] = v.Advertised
		}
		if len(cfg.Neighbors) == 0 {
			continue
		}
		want[r.TR.ID] = true
		sp, err := g.speaker(ctx, r.TR.ID, n.RouterNetns(r.TR.ID))
		if err == nil && (sp.config == nil || !reflect.DeepEqual(*sp.config, cfg)) {
			if err = sp.client.Configure(ctx, cfg); err == nil {
				sp.config, sp.advertised = &cfg, nil
			}
		}
		if err == nil && !reflect.DeepEqual(sp.advertised, adv) {
			if _, err = sp.client.Advertise(ctx, adv); err == nil {
				sp.advertised = adv
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("bgp %s: %w", r.TR.ID, err))
			g.dropSpeaker(r.TR.ID, false)
		}
	}
	for id := range g.speakers {
		if !want[id] {
			g.dropSpeaker(id, true)
		}
	}
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// speaker returns the router's running speaker, starting (or re-adopting) it.
func (g *Gateway) speaker(ctx context.Context, trID, netns string) (*speaker, error) {
	if sp, ok := g.speakers[trID]; ok {
		return sp, nil
	}
	sock := filepath.Join(g.BGP.RunDir, trID+".sock")
	pid, err := bgp.StartSpeaker(ctx, netns, g.BGP.Binary, sock)
	if err != nil {
		return nil, err
	}
	c, err := bgp.Dial(sock)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(context.Background())
	sp := &speaker{pid: pid, client: c, stop: cancel, done: make(chan struct{})}
	updates, err := c.Watch(wctx)
	if err != nil {
		cancel()
		c.Close()
		return nil, err
	}
	go g.watchBGP(sp, updates)
	g.speakers[trID] = sp
	return sp, nil
}

// watchBGP reports session state and learned routes as the speaker sees them.
func (g *Gateway) watchBGP(sp *speaker, updates <-chan bgp.Update) {
	defer close(sp.done)
	up := map[string]bool{}
	for u := range updates {
		id := u.Neighbor.ID
		status, learned := "failed", []service.LearnedRoute{}
		if u.Neighbor.Established && !u.Removed {
			status = "success"
			for _, r := range u.Neighbor.Learned {
				learned = append(learned, service.LearnedRoute{Prefix: r.Prefix.String(), AsPath: r.ASPath, Communities: r.Communities})
			}
		}
		var events []service.LogLine
		if now := status == "success"; now != up[id] {
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
		if err := g.Service.ReportDynamic(context.Background(), id, status, learned, "", events); err != nil {
			g.Log.Warn("gateway: bgp report", "vco", id, "err", err)
		}
		g.poke()
	}
}

// dropSpeaker forgets a router's speaker, stopping the process when stop is set.
func (g *Gateway) dropSpeaker(trID string, stop bool) {
	sp, ok := g.speakers[trID]
	if !ok {
		return
	}
	delete(g.speakers, trID)
	sp.stop()
	sp.client.Close()
	<-sp.done
	if stop {
		if err := bgp.StopSpeaker(sp.pid); err != nil {
			g.Log.Warn("gateway: stop bgp speaker", "tr", trID, "err", err)
		}
	}
}
