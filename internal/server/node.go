package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"opencen/internal/config"
	"opencen/internal/dataplane"
	"opencen/internal/dataplane/nsutil"
	"opencen/internal/gateway"
	"opencen/internal/secret"
	"opencen/internal/service"
	"opencen/internal/store"
)

// NodeOptions configure a gateway node (`opencen gateway`): a process that runs, on its
// machine, the data plane of the transit routers the cluster places on it.
type NodeOptions struct {
	// Etcd is the cluster's store; a gateway node has no store of its own.
	Etcd store.EtcdConfig
	// SecretKeyFile is the cluster's key: the node opens the sealed pre-shared keys. It
	// must exist (a new key would open nothing).
	SecretKeyFile string
	// Config is the catalog (regions and zones), the same file the servers read.
	Config config.Config
	// Node names the node (unique in the cluster); Zone is where it runs; Address is how
	// operators reach it (shown only); Capacity is how many connections it takes (0: no
	// limit).
	Node, Zone, Address string
	Capacity            int
	// LeaseTTL: a node etcd has not heard from for this long is dead (its etcd lease
	// expires), and its transit routers move (default 10 s). The node takes its own data
	// plane down when its lease ends or it could not write to etcd for the whole TTL.
	LeaseTTL time.Duration
	// Gateway configures the data plane as the server's --gateway does (Mode is ignored).
	Gateway GatewayOptions
	// Underlay is where links to other gateway nodes leave (a tunnel placed on a node of
	// its zone apart from its transit router, an inter-region connection between routers
	// on two nodes): VXLAN over Interface (in namespace Netns, "" = the node's own) from
	// and to Address, UDP port Port (default 4789, the same on every node). Without it
	// nothing is placed here that needs such a link.
	Underlay UnderlayOptions
	// KeepDataPlane leaves the data plane running when the node stops (for an upgrade in
	// place: a restarted node takes it over); by default stopping removes it and the
	// registration, so the node's routers move at once.
	KeepDataPlane bool
	Log           *slog.Logger
}

// UnderlayOptions are a node's --underlay-* flags.
type UnderlayOptions struct {
	Netns, Interface, Address string
	Port                      int
}

// open checks the underlay: the interface exists, the address is an IPv4 address, the
// port a port. Zero options: no underlay (nil).
func (u UnderlayOptions) open(ctx context.Context) (*gateway.Underlay, error) {
	if u.Interface == "" && u.Address == "" && u.Netns == "" {
		return nil, nil
	}
	port := cmp.Or(u.Port, config.DefaultVXLANPort)
	a, err := netip.ParseAddr(u.Address)
	switch {
	case u.Interface == "" || u.Address == "":
		return nil, errors.New("a node's underlay needs --underlay-interface (the interface links to other nodes leave by) and --underlay-address (this node's address on it)")
	case err != nil || !a.Is4():
		return nil, fmt.Errorf("--underlay-address %q: want this node's IPv4 address on the underlay", u.Address)
	case port < 1 || port > 65535:
		return nil, fmt.Errorf("--underlay-port %d: want 1 to 65535", port)
	}
	if _, err := nsutil.IPn(ctx, u.Netns, "link", "show", u.Interface); err != nil {
		return nil, fmt.Errorf("--underlay-interface %s: %w", u.Interface, err)
	}
	return &gateway.Underlay{Netns: u.Netns, Interface: u.Interface, Addr: a, Port: uint16(port)}, nil
}

// DefaultLeaseTTL is a gateway node's default lease.
const DefaultLeaseTTL = 10 * time.Second

// Node is an opened gateway node: registered, its data plane built but not yet running.
type Node struct {
	// Gateway is the node's gateway loop; Driver its data plane.
	Gateway *gateway.Gateway
	Driver  *dataplane.Netns
	Service *service.Service

	o   NodeOptions
	st  store.Store
	reg *registration
}

// RunNode runs a gateway node until ctx ends. Without root, strongSwan or a WAN it fails
// at once, naming what is missing.
func RunNode(ctx context.Context, o NodeOptions) error {
	n, err := OpenNode(ctx, o)
	if err != nil {
		return err
	}
	return n.Run(ctx)
}

// OpenNode checks what a gateway node needs, connects to etcd and registers the node.
func OpenNode(ctx context.Context, o NodeOptions) (*Node, error) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = DefaultLeaseTTL
	}
	switch {
	case o.Gateway.WANBridge == "" && o.Gateway.WANInterface == "":
		return nil, errors.New("a gateway node needs --wan-interface (the host interface its gateway IPs are reached on), or --wan-bridge (and --wan-netns when the bridge is in a namespace)")
	case len(o.Etcd.Endpoints) == 0:
		return nil, errors.New("a gateway node needs --etcd-endpoints: the cluster's etcd")
	case o.SecretKeyFile == "":
		return nil, errors.New("a gateway node needs --secret-key-file: the cluster's key (the servers' file), to open the pre-shared keys")
	case o.Node == "":
		return nil, errors.New("a gateway node needs --node NAME")
	}
	if _, ok := o.Config.RegionOfZone(o.Zone); !ok {
		return nil, fmt.Errorf("--zone %q is not in the catalog: pass one of %s (regions and zones come from --config)", o.Zone, strings.Join(o.Config.ZoneIDs(), ", "))
	}
	if missing := nsutil.Missing(); len(missing) > 0 {
		return nil, fmt.Errorf("a gateway node needs %s", strings.Join(missing, "; "))
	}
	if _, err := os.Stat(o.SecretKeyFile); err != nil {
		return nil, fmt.Errorf("--secret-key-file: %w (copy the servers' key file here)", err)
	}
	underlay, err := o.Underlay.open(ctx)
	if err != nil {
		return nil, err
	}
	box, err := secret.LoadKey(o.SecretKeyFile)
	if err != nil {
		return nil, fmt.Errorf("--secret-key-file: %w", err)
	}
	o.Etcd.Log = o.Log
	st, err := store.OpenEtcd(o.Etcd)
	if err != nil {
		return nil, err
	}
	n := &Node{o: o, st: st}
	n.Service = service.New(service.Options{Store: st, Box: box, Config: o.Config, Logger: o.Log})
	if err := untilReachable(ctx, o.Log, func() error { return n.Service.CheckSecretKey(ctx) }); err != nil {
		st.Close()
		return nil, fmt.Errorf("secret key %s: %w", o.SecretKeyFile, err)
	}
	reg := service.GatewayNode{Node: o.Node, Zone: o.Zone, Address: o.Address, Capacity: o.Capacity}
	if underlay != nil {
		reg.Underlay = netip.AddrPortFrom(underlay.Addr, underlay.Port).String()
	}
	n.reg = &registration{svc: n.Service, leaser: st, node: reg, ttl: o.LeaseTTL, log: o.Log}
	if err := untilReachable(ctx, o.Log, func() error { return n.reg.renew(ctx) }); err != nil {
		st.Close()
		return nil, fmt.Errorf("register gateway node %s: %w", o.Node, err)
	}
	if n.Gateway, n.Driver, err = NewGateway(n.Service, o.Gateway, o.Log); err != nil {
		st.Close()
		return nil, err
	}
	n.Gateway.Layout.Underlay = underlay
	n.Gateway.Node, n.Gateway.Placed, n.Gateway.Fenced = o.Node, true, n.reg.fenced
	return n, nil
}

// Run runs the node until ctx ends, then takes its data plane down and deregisters it
// (unless KeepDataPlane), and closes the store.
func (n *Node) Run(ctx context.Context) error {
	o := n.o
	defer n.st.Close()
	o.Log.Info("gateway node running", "node", o.Node, "zone", o.Zone, "lease", o.LeaseTTL, "etcd", o.Etcd.Endpoints)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	regDone := make(chan struct{})
	go func() { defer close(regDone); n.reg.run(ctx) }()
	n.Gateway.Changes = n.Service.WatchDataPlane(ctx)
	err := n.Gateway.Run(ctx)
	cancel()
	<-regDone

	// Stopping: leave the data plane and the registration for a restart in place, or take
	// both down so the routers move now rather than when the lease would have expired.
	if o.KeepDataPlane {
		o.Log.Info("gateway node stopped; its data plane keeps running (--keep-dataplane-on-exit)")
		return nil
	}
	stop, done := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer done()
	if cerr := n.Driver.Cleanup(stop); cerr != nil {
		o.Log.Error("gateway node: remove the data plane", "err", cerr)
	}
	// The counters' last readings, taken as the routers went, are reported before the
	// node leaves: nobody else has them.
	n.Gateway.Meter(stop)
	// Only now, with the gateway IPs gone from here, may another node take them.
	n.reg.close()
	if derr := n.Service.DeregisterGatewayNode(stop, o.Node); derr != nil {
		o.Log.Warn("gateway node: remove the registration (it expires with its lease)", "err", derr)
	}
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// registration keeps a node registered and knows whether it is fenced. Liveness is an etcd
// lease, not a timestamp: the node's key under the session's lease goes when etcd stops
// hearing from the node, by etcd's clock alone, so no two machines' clocks are compared.
// The record beside it (zone, address, capacity, when the lease would run out) is
// rewritten every third of the TTL for operators to read.
type registration struct {
	svc    *service.Service
	leaser store.Leaser
	node   service.GatewayNode
	ttl    time.Duration
	log    *slog.Logger
	// sess is the live session (nil between a lost session and its replacement).
	sess atomic.Pointer[sessionBox]
	// renewed is when the last successful record write started (unix nanoseconds): a
	// renewal counts from before it was sent, never after.
	renewed atomic.Int64
	failing bool
}

type sessionBox struct{ s store.Session }

// renew rewrites the record and, when the session is gone, opens a new one and marks the
// node alive under it.
func (r *registration) renew(ctx context.Context) error {
	// An ended session is forgotten first, whatever happens next: run's wait must not
	// select its closed Done again at once.
	if b := r.sess.Load(); b != nil {
		select {
		case <-b.s.Done():
			r.log.Warn("gateway node: its lease ended (etcd did not hear from it for its TTL); the cluster may have moved its transit routers; opening a new one")
			r.sess.Store(nil)
		default:
		}
	}
	started := time.Now()
	rctx, cancel := context.WithTimeout(ctx, r.ttl/3)
	defer cancel()
	n, err := r.svc.RegisterGatewayNode(rctx, r.node, r.ttl)
	if err != nil {
		return err
	}
	r.node.Started = n.Started
	r.renewed.Store(started.UnixNano())
	if r.sess.Load() != nil {
		return nil
	}
	// The session outlives ctx (the node's run, which SIGTERM ends): the lease must stay
	// alive while the stopping node removes its data plane, and ends only at close (or,
	// with --keep-dataplane-on-exit, when the process is gone).
	sess, err := r.leaser.Session(context.WithoutCancel(ctx), r.ttl)
	if err != nil {
		return fmt.Errorf("open a lease: %w", err)
	}
	if err := r.svc.MarkGatewayNodeAlive(rctx, sess, r.node.Node); err != nil {
		sess.Close()
		return fmt.Errorf("mark the node alive: %w", err)
	}
	r.sess.Store(&sessionBox{sess})
	return nil
}

func (r *registration) run(ctx context.Context) {
	t := time.NewTicker(r.ttl / 3)
	defer t.Stop()
	for {
		var ended <-chan struct{}
		if b := r.sess.Load(); b != nil {
			ended = b.s.Done()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-ended:
		}
		if err := r.renew(ctx); err != nil {
			if ctx.Err() == nil && !r.failing {
				r.log.Warn("gateway node: renew the registration; retrying", "every", r.ttl/3, "err", err)
			}
			r.failing = true
			continue
		}
		if r.failing {
			r.log.Info("gateway node: registration renewed again")
			r.failing = false
		}
	}
}

// fenced reports whether the node must not run a data plane: its lease has ended (the
// placement controller may have given its routers to another node), or it could not even
// write its record for a whole TTL. The second is a backstop, not a bound tighter than the
// first: etcd expires a lease a TTL after the last keep-alive it received, the client
// learns of it a little later, and the last successful write may be up to a third of the
// TTL older than that keep-alive.
func (r *registration) fenced() bool {
	b := r.sess.Load()
	if b == nil {
		return true
	}
	select {
	case <-b.s.Done():
		return true
	default:
	}
	return time.Since(time.Unix(0, r.renewed.Load())) >= r.ttl
}

// close revokes the lease, so the node is dead at once and its routers move now.
func (r *registration) close() {
	if b := r.sess.Swap(nil); b != nil {
		if err := b.s.Close(); err != nil {
			r.log.Warn("gateway node: revoke the lease (it expires after its TTL)", "err", err)
		}
	}
}
