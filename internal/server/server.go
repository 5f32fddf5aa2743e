// Package server assembles the opencen server: store, service, controllers, the HTTP API and the console.
package server

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"opencen/internal/api/admin"
	"opencen/internal/api/bss"
	"opencen/internal/api/cbn"
	"opencen/internal/api/cms"
	"opencen/internal/api/vpc"
	"opencen/internal/cluster"
	"opencen/internal/config"
	"opencen/internal/console"
	"opencen/internal/controller"
	"opencen/internal/dataplane"
	"opencen/internal/dataplane/nsutil"
	"opencen/internal/gateway"
	"opencen/internal/metrics"
	"opencen/internal/rpc"
	"opencen/internal/secret"
	"opencen/internal/service"
	"opencen/internal/store"
)

// Options configure a server.
type Options struct {
	Listen string
	// MetricsListen, when set, is where the Prometheus endpoint /metrics is served (its own
	// listener: scrapers need no API key, and the API's port need not be reachable from
	// them). Off when empty.
	MetricsListen string
	// DataDir holds the bbolt store (with Store.Kind "bolt") and this process's own files:
	// admin-credentials, by default secret.key, and with bbolt the nonce journal.
	DataDir string
	// Store chooses where state is kept; the zero value is bolt in DataDir.
	Store           StoreOptions
	Config          config.Config
	TransitionDelay time.Duration
	// SecretKeyFile holds the 32-byte key sealing secrets at rest; default <data>/secret.key.
	SecretKeyFile string
	// AdminKeyID / AdminSecret seed the admin account on an empty store.
	AdminKeyID, AdminSecret string
	Gateway                 GatewayOptions
	// SecureCookie marks the console's session cookie Secure on every response, not only
	// on requests that came over TLS: for a server behind a TLS-terminating proxy.
	SecureCookie bool
	// Limits bound connections, requests, bodies and caches; zero fields take the defaults.
	Limits Limits
	// LeaderTTL is how long the servers sharing an etcd wait for a silent leader before
	// electing another to run the controllers (cluster.DefaultTTL when zero).
	LeaderTTL time.Duration
	Log       *slog.Logger
}

// StoreOptions choose the store.
type StoreOptions struct {
	// Kind is "bolt" (the default: the embedded file <data>/opencen.db) or "etcd" (a
	// cluster several servers can share).
	Kind string
	// Etcd configures the etcd client (Kind "etcd" only).
	Etcd store.EtcdConfig
}

// Store kinds.
const (
	StoreBolt = "bolt"
	StoreEtcd = "etcd"
)

func openStore(o Options) (store.Store, error) {
	e := o.Store.Etcd
	switch o.Store.Kind {
	case "", StoreBolt:
		if len(e.Endpoints) > 0 || e.Prefix != "" || e.CACert != "" || e.Cert != "" || e.Key != "" {
			return nil, errors.New("the --etcd-* options need --store etcd")
		}
		return store.OpenBolt(filepath.Join(o.DataDir, "opencen.db"))
	case StoreEtcd:
		if len(e.Endpoints) == 0 {
			return nil, errors.New("--store etcd needs --etcd-endpoints (the etcd members' client URLs)")
		}
		e.Log = o.Log
		return store.OpenEtcd(e)
	}
	return nil, fmt.Errorf("unknown --store %q: use bolt or etcd", o.Store.Kind)
}

// storeRetry is how long Open waits between attempts to reach a store that is down.
const storeRetry = 2 * time.Second

// untilReachable runs fn until it does not fail for want of the store (etcd down at
// start): each such failure is logged and retried, so a server started before its etcd
// comes up by itself.
func untilReachable(ctx context.Context, log *slog.Logger, fn func() error) error {
	for {
		err := fn()
		if !errors.Is(err, store.ErrUnavailable) {
			return err
		}
		log.Error("store unreachable; retrying", "in", storeRetry, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (gave up: %w)", err, ctx.Err())
		case <-time.After(storeRetry):
		}
	}
}

// GatewayOptions configure the in-process data-plane gateway.
type GatewayOptions struct {
	// Mode is "auto" (on when running as root with strongSwan installed and a WAN
	// configured), "on" or "off".
	Mode string
	// WANNetns and WANBridge are where connections' WAN links are plugged in; or, with
	// WANInterface instead of WANBridge, the host routes each gateway IP to its
	// connection and answers ARP for it on that interface (PrivateInterface: the same for
	// private-network connections). See docs/deploy.md.
	WANNetns, WANBridge            string
	WANInterface, PrivateInterface string
	// Bindings are static VPC bindings (a gateway node's config file); they win over the
	// admin's BindVpc on this gateway.
	Bindings []config.VPCBinding
	// WANBits is the WAN's prefix length (gateway IPs are addresses of it).
	WANBits int
	// Prefix names everything the driver creates (namespaces, links); RunDir holds the
	// connections' charon directories.
	Prefix, RunDir string
	// VPCNetnsPrefix: the namespace of VPC X is VPCNetnsPrefix+X when it exists (the lab's
	// VPC hosts).
	VPCNetnsPrefix string
	// DPDDelay is the dead-peer-detection interval of connections with DPD on (default 10s).
	DPDDelay time.Duration
	// SpeakerBinary runs BGP speakers (`<binary> bgp-speaker`); default this executable.
	SpeakerBinary string
	// NoMeter turns the traffic meter off (no counters, no usage): for benchmarks that
	// measure what metering costs.
	NoMeter bool

	store string // the server's store kind
}

// gatewayOff says why the data plane cannot run here, or "" when it can.
func (g GatewayOptions) gatewayOff() string {
	if g.Mode == "off" {
		return "disabled (--gateway=off)"
	}
	if missing := nsutil.Missing(); len(missing) > 0 {
		return "missing " + strings.Join(missing, "; ")
	}
	if g.WANBridge == "" && g.WANInterface == "" {
		return "no WAN configured (--wan-interface, or --wan-bridge with --wan-netns)"
	}
	if g.store == StoreEtcd {
		// The in-process gateway runs every transit router; next to gateway nodes it would
		// answer for gateway IPs they hold.
		return "the store is etcd: the data plane runs on gateway nodes (`opencen gateway`)"
	}
	return ""
}

// Instance is an assembled server: its HTTP handler and the lifecycle controller.
type Instance struct {
	api       *rpc.Server
	console   *console.Console
	stopBG    context.CancelFunc
	leaderTTL time.Duration
	// Gateway is the data-plane loop, nil when the data plane is off.
	Gateway *gateway.Gateway
	// Metrics is the Prometheus registry (nil unless Options.MetricsListen).
	Metrics   *metrics.Metrics
	Handler   http.Handler
	Service   *service.Service
	Store     store.Store
	Lifecycle *controller.Lifecycle
}

// Open assembles a server on o.DataDir: store, secrets, service, admin bootstrap and API.
func Open(ctx context.Context, o Options) (*Instance, error) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.LeaderTTL < 0 || o.LeaderTTL > 0 && o.LeaderTTL < time.Second {
		return nil, fmt.Errorf("--leader-ttl %v: give at least 1s (etcd leases count whole seconds)", o.LeaderTTL)
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	st, err := openStore(o)
	if err != nil {
		return nil, err
	}
	keyFile := secretKeyFile(o.DataDir, o.SecretKeyFile)
	box, err := secret.LoadOrCreateKey(keyFile)
	if err != nil {
		st.Close()
		return nil, err
	}
	var met *metrics.Metrics
	var onCommit func(time.Duration)
	if o.MetricsListen != "" {
		met = metrics.New(o.Log)
		onCommit = met.ObserveCommit
	}
	svc := service.New(service.Options{Store: st, Box: box, Config: o.Config, TransitionDelay: o.TransitionDelay, Logger: o.Log, OnCommit: onCommit})
	if met != nil {
		met.Watch(svc)
	}
	if o.Store.Kind == StoreEtcd {
		// Servers sharing an etcd must share the key; bbolt's is checked by its file only.
		if err := untilReachable(ctx, o.Log, func() error { return svc.CheckSecretKey(ctx) }); err != nil {
			st.Close()
			return nil, fmt.Errorf("secret key %s: %w", keyFile, err)
		}
	}
	if err := bootstrap(ctx, svc, o, o.Log); err != nil {
		st.Close()
		return nil, err
	}
	identity := func(k service.Key) rpc.Identity {
		return rpc.Identity{AccountID: k.Caller.AccountID, Admin: k.Caller.Admin, Rate: rpc.Rate{PerSecond: k.RequestsPerSecond, Burst: k.Burst}}
	}
	api := rpc.NewServer(func(ctx context.Context, id string) (rpc.Identity, string, error) {
		k, err := svc.LookupKey(ctx, id)
		return identity(k), k.Secret, err
	}, o.Log, cbn.Product(svc), vpc.Product(svc), admin.Product(svc), bss.Product(svc), cms.Product(svc))
	if met != nil {
		api.Observe(met.ObserveRequest)
	}
	limits := o.Limits.withDefaults()
	api.CacheAnswers(svc.SpecRevision, svc.AnswerRevision, limits.AnswerCacheBytes)
	api.LimitNonces(limits.MaxNonces)
	if l, ok := st.(store.Leaser); ok {
		// Servers sharing the store spend nonces there too, where etcd keeps them (a
		// journal of this server's own would add nothing).
		api.ShareNonces(l, func(id string) (rpc.Identity, string, bool) {
			k, ok := svc.PeekKey(id)
			return identity(k), k.Secret, ok
		})
	} else if err := api.PersistNonces(filepath.Join(o.DataDir, "nonces.journal")); err != nil {
		st.Close()
		return nil, err
	}
	// Background steps the console starts end when the instance closes.
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	con, err := console.New(bg, api, o.Config.Regions, o.Log, console.Options{SecureCookie: o.SecureCookie,
		SignOuts: svc, ImportSignOuts: filepath.Join(o.DataDir, "console-signouts")})
	if err != nil {
		stopBG()
		api.Close()
		st.Close()
		return nil, fmt.Errorf("console: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.Handle("/console", con)
	mux.Handle("/console/", con)
	mux.Handle("/", api)
	in := &Instance{
		api:       api,
		console:   con,
		stopBG:    stopBG,
		leaderTTL: o.LeaderTTL,
		Handler:   revisionMemo(mux),
		Metrics:   met,
		Service:   svc,
		Store:     st,
		Lifecycle: &controller.Lifecycle{Store: st, Advancer: svc, Prefix: "/r/", Log: o.Log},
	}
	o.Gateway.store = o.Store.Kind
	if why := o.Gateway.gatewayOff(); why != "" {
		if o.Gateway.Mode == "on" {
			in.Close()
			return nil, fmt.Errorf("gateway: %s", why)
		}
		o.Log.Info("data plane off: tunnels are configuration only", "reason", why)
		return in, nil
	}
	if in.Gateway, _, err = NewGateway(svc, o.Gateway, o.Log); err != nil {
		in.Close()
		return nil, err
	}
	return in, nil
}

// controllersElection is the election the API servers of a cluster hold for the
// controllers.
const controllersElection = "controllers"

// RunControllers keeps this server in its cluster until ctx ends: its record under
// /cluster/servers/<host>:<port> (addr is where it listens), and the lifecycle controller
// running while this server is the elected leader. On bbolt the one server always leads.
func (in *Instance) RunControllers(ctx context.Context, addr string) error {
	host, err := os.Hostname()
	if err != nil {
		host = "localhost"
	}
	id := host + ":" + addr
	if _, port, err := net.SplitHostPort(addr); err == nil {
		id = host + ":" + port
	}
	started, version := time.Now().UTC(), buildVersion()
	m := &cluster.Member{
		Store: in.Store, TTL: in.leaderTTL, Key: service.ServersPrefix + id, Election: controllersElection, Log: in.Service.Logger(),
		Record: func(leader bool) ([]byte, error) {
			return json.Marshal(service.APIServer{ID: id, Address: addr, Version: version, Started: started, Leader: leader})
		},
		// The leader runs the controllers: the lifecycle's transitions, the placement of
		// transit routers on gateway nodes and the hourly usage marks.
		Lead: func(ctx context.Context) {
			placed, metered := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(placed)
				_ = (&controller.Placement{Store: in.Service, Log: in.Service.Logger()}).Run(ctx)
			}()
			go func() {
				defer close(metered)
				_ = (&controller.Metering{Meter: in.Service, Log: in.Service.Logger()}).Run(ctx)
			}()
			_ = in.Lifecycle.Run(ctx)
			<-placed
			<-metered
		},
	}
	return m.Run(ctx)
}

// buildVersion names the binary: its module version and, when built from a checkout, the
// commit ("+dirty" with uncommitted changes).
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value[:min(len(s.Value), 12)]
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev != "" {
		v += " " + rev + dirty
	}
	return v
}

// revisionMemo gives each request its own store.WithRevisionMemo: on etcd, the several
// revision checks of one request (key lookup, answer cache, list caches) cost one read.
func revisionMemo(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(store.WithRevisionMemo(r.Context())))
	})
}

func secretKeyFile(dataDir, flag string) string {
	if flag != "" {
		return flag
	}
	return filepath.Join(dataDir, "secret.key")
}

// RecoverAdmin adds a new active key to the admin account of the store in dataDir, for an
// operator who has lost every admin key. The server must be stopped (the store refuses a
// second process); keyFile is the --secret-key-file the server runs with ("" for the
// default), which must exist: a new one could not open the secrets already sealed.
func RecoverAdmin(ctx context.Context, dataDir, keyFile string) (service.Credentials, error) {
	keyFile = secretKeyFile(dataDir, keyFile)
	if _, err := os.Stat(keyFile); err != nil {
		return service.Credentials{}, fmt.Errorf("secret key: %w (pass the server's --secret-key-file)", err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "opencen.db")); err != nil {
		return service.Credentials{}, fmt.Errorf("no store in %s: %w", dataDir, err)
	}
	st, err := store.OpenBolt(filepath.Join(dataDir, "opencen.db"))
	if err != nil {
		return service.Credentials{}, fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	box, err := secret.LoadOrCreateKey(keyFile)
	if err != nil {
		return service.Credentials{}, err
	}
	return service.New(service.Options{Store: st, Box: box}).RecoverAdmin(ctx)
}

// NewGateway builds the netns data-plane driver and the gateway loop around it; the
// driver is returned too, for its Cleanup.
func NewGateway(svc *service.Service, o GatewayOptions, log *slog.Logger) (*gateway.Gateway, *dataplane.Netns, error) {
	if o.WANBits == 0 {
		o.WANBits = 15
	}
	bindings := map[string]config.VPCBinding{}
	for _, b := range o.Bindings {
		if err := b.Validate(); err != nil {
			return nil, nil, fmt.Errorf("VPC binding %s: %w", b.VpcID, err)
		}
		if b.Kind() == config.BindVXLAN && b.Port == 0 {
			b.Port = config.DefaultVXLANPort
		}
		bindings[b.VpcID] = b
	}
	gw := gateway.New(svc, gateway.Layout{WANBits: o.WANBits, Bindings: bindings, VPCNetns: func(vpcID string) (string, bool) {
		if o.VPCNetnsPrefix == "" {
			return "", false
		}
		ns := o.VPCNetnsPrefix + vpcID
		_, err := os.Stat(filepath.Join("/run/netns", ns))
		return ns, err == nil
	}}, log)
	drv, err := dataplane.NewNetns(dataplane.NetnsOptions{Prefix: o.Prefix, RunDir: o.RunDir, WANNetns: o.WANNetns, WANBridge: o.WANBridge,
		WANInterface: o.WANInterface, PrivateInterface: o.PrivateInterface, DPDDelay: o.DPDDelay, NoMeter: o.NoMeter,
		OnEvent: gw.OnEvent, OnState: gw.OnState,
		Logf: func(format string, args ...any) { log.Debug(fmt.Sprintf(format, args...), "component", "dataplane") }})
	if err != nil {
		return nil, nil, err
	}
	gw.Driver = drv
	gw.Layout.RouterNetns, gw.Layout.AttachmentLink = drv.RouterNetns, drv.AttachmentLink
	sp := gateway.ProcessSpeakers{Binary: o.SpeakerBinary, RunDir: filepath.Join(drv.RunDir(), "bgp")}
	if sp.Binary == "" {
		if sp.Binary, err = os.Executable(); err != nil {
			return nil, nil, err
		}
	}
	if err := os.MkdirAll(sp.RunDir, 0o700); err != nil {
		return nil, nil, err
	}
	gw.Speakers = sp
	return gw, drv, nil
}

// Close stops the console's background steps and releases the nonce journal (or the
// shared nonces' claims) and the store.
func (in *Instance) Close() error {
	in.stopBG()
	return errors.Join(in.console.Close(), in.api.Close(), in.Store.Close())
}

// Run serves until ctx ends. ready, when non-nil, receives the bound address.
func Run(ctx context.Context, o Options, ready func(addr string)) error {
	in, err := Open(ctx, o)
	if err != nil {
		return err
	}
	defer in.Close()
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	hs, ln := httpServer(ln, in.Handler, o.Limits.withDefaults())

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := in.RunControllers(ctx, ln.Addr().String()); err != nil && ctx.Err() == nil {
			in.Service.Logger().Error("controllers stopped", "err", err)
		}
	}()
	gwDone := make(chan struct{})
	go func() {
		defer close(gwDone)
		if in.Gateway != nil {
			in.Gateway.Changes = in.Service.WatchDataPlane(ctx)
			_ = in.Gateway.Run(ctx)
		}
	}()
	defer func() { cancel(); <-gwDone }()

	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(ln) }()
	if in.Metrics != nil {
		mln, err := net.Listen("tcp", o.MetricsListen)
		if err != nil {
			return fmt.Errorf("--metrics-listen: %w", err)
		}
		ms := in.Metrics.Server(mln)
		defer ms.Close()
		in.Service.Logger().Info("metrics listening", "addr", mln.Addr().String())
	}
	storeAttr := slog.String("store", StoreBolt)
	if o.Store.Kind == StoreEtcd {
		storeAttr = slog.Group("store", "kind", StoreEtcd, "endpoints", o.Store.Etcd.Endpoints, "prefix", cmp.Or(o.Store.Etcd.Prefix, store.DefaultEtcdPrefix))
	}
	in.Service.Logger().Info("opencen server listening", "addr", ln.Addr().String(), "data", o.DataDir, storeAttr)
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		cancel()
		<-done
		return err
	}
	shutdown, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	err = hs.Shutdown(shutdown)
	<-done
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// bootstrap creates the admin account on an empty store and hands its key over once:
// printed and written to <data>/admin-credentials (0600) when it was generated. The key is
// generated once, before the attempts, so a retry after an attempt whose outcome was
// unknown still recognizes the admin it made.
func bootstrap(ctx context.Context, svc *service.Service, o Options, log *slog.Logger) error {
	keyID, secret := o.AdminKeyID, o.AdminSecret
	newID, newSecret := service.NewAccessKey()
	if keyID == "" {
		keyID = newID
	}
	handOver := secret == "" // generated here: printed and filed once
	if handOver {
		secret = newSecret
	}
	var (
		creds   service.Credentials
		created bool
	)
	err := untilReachable(ctx, log, func() (err error) {
		creds, created, err = svc.Bootstrap(ctx, keyID, secret)
		return err
	})
	if err != nil {
		return fmt.Errorf("bootstrap admin: %w", err)
	}
	if !created {
		return nil // accounts existed
	}
	log.Info("admin account", "account", creds.AccountID, "access_key_id", creds.AccessKeyID)
	if !handOver {
		return nil // the operator gave the secret and has it
	}
	raw, _ := json.MarshalIndent(creds, "", "  ")
	path := filepath.Join(o.DataDir, "admin-credentials")
	if err := os.WriteFile(path, append(raw, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	fmt.Fprintf(os.Stderr, "\nAdmin access key (shown once; also in %s):\n  AccessKeyId:     %s\n  AccessKeySecret: %s\n\n", path, creds.AccessKeyID, creds.AccessKeySecret)
	return nil
}
