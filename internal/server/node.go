package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	// LeaseTTL: a node that has not renewed its registration for this long is dead, and
	// its transit routers move (default 10 s). The node renews every third of it, and takes
	// its own data plane down when it could not renew for the whole TTL.
	LeaseTTL time.Duration
	// Gateway configures the data plane as the server's --gateway does (Mode is ignored).
	Gateway GatewayOptions
	// KeepDataPlane leaves the data plane running when the node stops (for an upgrade in
	// place: a restarted node takes it over); by default stopping removes it and the
	// registration, so the node's routers move at once.
	KeepDataPlane bool
	Log           *slog.Logger
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
	case o.Gateway.WANBridge == "":
		return nil, errors.New("a gateway node needs --wan-bridge (and --wan-netns when the bridge is in a namespace): where gateway IPs are plugged in")
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
	n.reg = &registration{svc: n.Service, node: service.GatewayNode{Node: o.Node, Zone: o.Zone, Address: o.Address, Capacity: o.Capacity}, ttl: o.LeaseTTL, log: o.Log}
	if err := untilReachable(ctx, o.Log, func() error { return n.reg.renew(ctx) }); err != nil {
		st.Close()
		return nil, fmt.Errorf("register gateway node %s: %w", o.Node, err)
	}
	if n.Gateway, n.Driver, err = NewGateway(n.Service, o.Gateway, o.Log); err != nil {
		st.Close()
		return nil, err
	}
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
	if derr := n.Service.DeregisterGatewayNode(stop, o.Node); derr != nil {
		o.Log.Warn("gateway node: remove the registration (it expires with its lease)", "err", derr)
	}
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// registration keeps a node's record renewed and knows whether the node is fenced: it
// could not renew for a whole TTL, so the cluster may have moved its routers already.
type registration struct {
	svc  *service.Service
	node service.GatewayNode
	ttl  time.Duration
	log  *slog.Logger
	// renewed is when the last successful renewal started (unix nanoseconds): a renewal
	// counts from before it was sent, never after.
	renewed atomic.Int64
	failing bool
}

func (r *registration) renew(ctx context.Context) error {
	started := time.Now()
	rctx, cancel := context.WithTimeout(ctx, r.ttl/3)
	defer cancel()
	n, err := r.svc.RegisterGatewayNode(rctx, r.node, r.ttl)
	if err != nil {
		return err
	}
	r.node.Started = n.Started
	r.renewed.Store(started.UnixNano())
	return nil
}

func (r *registration) run(ctx context.Context) {
	t := time.NewTicker(r.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
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

// fenced reports whether the last renewal is older than the lease: the placement
// controller may have given this node's routers to another node.
func (r *registration) fenced() bool {
	return time.Since(time.Unix(0, r.renewed.Load())) >= r.ttl
}
