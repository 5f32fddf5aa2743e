package dataplane

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"opencen/internal/addrs"
	"opencen/internal/dataplane/nsutil"
)

// NetnsOptions configures the netns driver.
type NetnsOptions struct {
	// Prefix starts the name of every namespace, link and run directory the driver creates,
	// so that Cleanup finds leftovers of a crashed driver by the prefix alone. 1 to 6
	// characters of a-z, 0-9 and '-' (link names have at most 15 characters). Default "oc-".
	// End it with '-' (e.g. "oc-", "t1a2b-"), so that no driver's names start with
	// another driver's prefix.
	Prefix string
	// RunDir holds one directory per cell: charon's /run (pid file, VICI socket, log,
	// strongswan.conf) and the driver's record of the loaded configuration.
	// Default /run/opencen/dataplane.
	RunDir string
	// WANNetns is where the cells' WAN links end ("" = the driver's own namespace): the
	// namespace of WANBridge, or of the host interfaces of a routed uplink (uplink.go).
	WANNetns string
	// WANBridge: each cell's WAN link is plugged into this bridge (the lab's WAN).
	WANBridge string
	// WANInterface: instead of a bridge, the host routes each gateway IP to its cell and
	// answers ARP for it on this interface; PrivateInterface, when set, does so for
	// private-network connections. One of WANBridge and WANInterface is required.
	WANInterface, PrivateInterface string
	// WANGateway, when valid, becomes the cells' default route over the WAN link.
	WANGateway netip.Addr
	// DPDDelay is the dead peer detection interval of cells with DPD on. Default 10s.
	DPDDelay time.Duration
	// RetryInterval is how often a StartNow cell without IKE SA is initiated again.
	// Default 5s.
	RetryInterval time.Duration
	// OnEvent, when set, receives every connection event (from driver goroutines; it must
	// not block).
	OnEvent func(Event)
	// OnState, when set, receives a cell's status whenever its negotiation state changes
	// (from driver goroutines; it must not block).
	OnState func(CellStatus)
	// NoMeter turns metering off: router namespaces get no counters (meter.go) and
	// Counters reads nothing.
	NoMeter bool
	// Logf, when set, receives diagnostics.
	Logf func(format string, args ...any)
}

// Netns is the driver for kernels without ESP/XFRM: a namespace per transit router,
// a namespace with its own charon (kernel-libipsec) per IPsec-VPN connection.
//
// Layout (P = the prefix):
//
//	router netns  P r-<tr id>   one Linux table per route table, rule "iif <link> lookup <table>"
//	                            per association and "iif <link> unreachable" per attachment,
//	                            link P a<hash(attachment)> per attachment (alias = attachment ID),
//	                            health-check sources as /32s on lo
//	cell netns    P c-<vco id>  P wan (WAN address), P rtr (veth to the router, MTU 1400,
//	                            proxy ARP), ipsec0 (charon's TUN), rules iif ipsec0 -> table 101
//	                            (to the router) and iif P rtr -> table 102 (into ipsec0),
//	                            nft table opencen_cell (TTL 1 -> 2 for single-hop eBGP)
//	WAN netns     P w<hash(cell)>  the WAN end of a cell's WAN link, in the bridge
//	VPC netns     P v<hash(router/attachment)>  the VPC end of a VPC link
//	run dir       RunDir/P c-<vco id>/  charon.pid, charon.vici, charon.log, cell.json
//
// Routers and cells are separate objects (UpdateRouter, UpdateCell, DeleteRouter,
// DeleteCell, Prune): the gateway applies, retries and removes each on its own. A cell
// builds the veth to its router, so its router's namespace must exist; a router routes
// through its cells' links, and reports ErrWaiting while some are still missing.
type Netns struct {
	opts NetnsOptions
	net  netOS
	proc procOS

	// mu: routers, Prune and Cleanup change the system alone (Lock); cells, each in its
	// own namespace with links of its own names, are changed side by side (RLock).
	mu    sync.RWMutex
	rmu   sync.Mutex // guards cells
	cells map[string]*cellRuntime
	// mmu guards final: the last readings of counters that were removed (meter.go).
	mmu   sync.Mutex
	final []Meter
}

// ErrWaiting is wrapped by an update that did what it could but depends on an object that
// is not there yet (a router whose cells' links are missing, a cell whose router namespace
// is missing): retry soon, it is not a failure.
var ErrWaiting = errors.New("waiting for another object")

// NewNetns returns a netns driver on the real system. It does not touch the system until
// an update, Prune or Cleanup.
func NewNetns(opts NetnsOptions) (*Netns, error) { return newNetns(opts, hostOS{}, hostOS{}) }

func newNetns(opts NetnsOptions, n netOS, p procOS) (*Netns, error) {
	if opts.Prefix == "" {
		opts.Prefix = "oc-"
	}
	if len(opts.Prefix) > 6 || strings.Trim(opts.Prefix, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		return nil, fmt.Errorf("prefix %q: want 1 to 6 characters of a-z, 0-9, '-'", opts.Prefix)
	}
	if opts.RunDir == "" {
		opts.RunDir = "/run/opencen/dataplane"
	}
	switch {
	case opts.WANBridge == "" && opts.WANInterface == "":
		return nil, errors.New("the cells need an uplink: a WAN bridge or a WAN interface")
	case opts.WANBridge != "" && opts.WANInterface != "":
		return nil, errors.New("the cells' uplink is a WAN bridge or a WAN interface, not both")
	case opts.PrivateInterface != "" && opts.WANInterface == "":
		return nil, errors.New("a private interface goes with a WAN interface (a routed uplink)")
	}
	if opts.RetryInterval <= 0 {
		opts.RetryInterval = 5 * time.Second
	}
	if opts.DPDDelay <= 0 {
		opts.DPDDelay = 10 * time.Second
	}
	return &Netns{opts: opts, net: n, proc: p, cells: map[string]*cellRuntime{}}, nil
}

// Prefix is the driver's name prefix.
func (d *Netns) Prefix() string { return d.opts.Prefix }

// RunDir is the directory the driver keeps its per-cell state in.
func (d *Netns) RunDir() string { return d.opts.RunDir }

func (d *Netns) logf(format string, args ...any) {
	if d.opts.Logf != nil {
		d.opts.Logf(format, args...)
	}
}

// ---------------------------------------------------------------- names

func hash8(s string) string {
	sum := sha256.Sum256([]byte(s))
	return strings.ToLower(base32.StdEncoding.EncodeToString(sum[:]))[:8]
}

// short drops the kind prefix of an ID ("tr-", "vco-") for namespace names.
func short(id, kind string) string {
	s := strings.TrimPrefix(id, kind)
	if s == "" || s == id {
		s = id
	}
	if len(s) > 40 {
		s = s[:32] + "-" + hash8(id)
	}
	return s
}

// RouterNetns is the namespace of transit router id.
func (d *Netns) RouterNetns(id string) string { return d.opts.Prefix + "r-" + short(id, "tr-") }

// CellNetns is the namespace of connection id.
func (d *Netns) CellNetns(id string) string { return d.opts.Prefix + "c-" + short(id, "vco-") }

// AttachmentLink is the router-side link of an attachment (in the router namespace).
func (d *Netns) AttachmentLink(attachmentID string) string {
	return d.opts.Prefix + "a" + hash8(attachmentID)
}

func (d *Netns) vpcLink(routerID, attachmentID string) string {
	return d.opts.Prefix + "v" + hash8(routerID+"/"+attachmentID)
}

func (d *Netns) wanPeer(cellID string) string { return d.opts.Prefix + "w" + hash8(cellID) }
func (d *Netns) cellWAN() string              { return d.opts.Prefix + "wan" }
func (d *Netns) cellRtr() string              { return d.opts.Prefix + "rtr" }
func (d *Netns) nftTable() string             { return "opencen_cell" }
func (d *Netns) cellDir(id string) string     { return filepath.Join(d.opts.RunDir, d.CellNetns(id)) }
func (d *Netns) routerPrefix() string         { return d.opts.Prefix + "r-" }
func (d *Netns) cellPrefix() string           { return d.opts.Prefix + "c-" }

// CharonOf is the charon instance of connection id (for tests and diagnostics).
func (d *Netns) CharonOf(id string) nsutil.Charon {
	return nsutil.Charon{Netns: d.CellNetns(id), Dir: d.cellDir(id)}
}

// Tables inside a cell namespace.
const (
	cellTableToRouter = 101 // iif ipsec0: decrypted traffic goes to the router
	cellTableToTunnel = 102 // iif <router link>: everything from the router enters ipsec0
	cellMTU           = 1400
	rulePrioAssoc     = 1000
	rulePrioDrop      = 2000
)

var loopback = netip.PrefixFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 8)

// ---------------------------------------------------------------- Apply

// Apply converges the system to d (nil = nothing) in one call: what is not desired goes
// (Prune), then every router, cell, and the routers again (their routes need the cells'
// links). It works through every object even when one fails and returns the failures
// joined. The gateway does the same object by object (UpdateRouter, UpdateCell ...).
func (d *Netns) Apply(ctx context.Context, des *Desired) error {
	if des == nil {
		des = &Desired{}
	}
	if err := des.Validate(); err != nil {
		return fmt.Errorf("invalid desired state: %w", err)
	}
	var routers, cells []string
	for _, r := range des.Routers {
		routers = append(routers, r.ID)
		for _, c := range r.Cells {
			if c.Remote == nil {
				cells = append(cells, c.ID())
			}
		}
	}
	for _, h := range des.Hosted {
		cells = append(cells, h.Cell.ID())
	}
	if err := d.Prune(ctx, routers, cells); err != nil {
		return err
	}
	var errs []error
	waiting := map[string]bool{}
	for _, r := range des.Routers {
		if err := d.UpdateRouter(ctx, r); errors.Is(err, ErrWaiting) {
			waiting[r.ID] = true
		} else if err != nil {
			errs = append(errs, err)
		}
	}
	for _, r := range des.Routers {
		for _, c := range r.Cells {
			if c.Remote == nil {
				errs = append(errs, d.UpdateCell(ctx, r.ID, c))
			}
		}
	}
	for _, h := range des.Hosted {
		errs = append(errs, d.UpdateCell(ctx, h.Router, h.Cell))
	}
	for _, r := range des.Routers {
		if waiting[r.ID] {
			errs = append(errs, d.UpdateRouter(ctx, r))
		}
	}
	return errors.Join(errs...)
}

// Prune removes what the driver finds on the system (or in its run directory) that is
// neither one of routers nor one of cells: cell namespaces with their charons, router
// namespaces, and WAN links of cells that are gone. Objects that failed to build stay
// listed by the caller, so that Prune does not remove what still runs for them.
func (d *Netns) Prune(ctx context.Context, routers, cells []string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	wantRouter, wantCell, wantPeer := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, id := range routers {
		wantRouter[d.RouterNetns(id)] = true
	}
	for _, id := range cells {
		wantCell[d.CellNetns(id)] = true
		wantPeer[d.wanPeer(id)] = true
	}
	d.rmu.Lock()
	for id, rt := range d.cells {
		if !wantCell[d.CellNetns(id)] {
			rt.stop()
			delete(d.cells, id)
		}
	}
	d.rmu.Unlock()
	existing, err := d.net.Namespaces(ctx)
	if err != nil {
		return err
	}
	unwanted := map[string]bool{}
	for _, ns := range existing {
		if strings.HasPrefix(ns, d.cellPrefix()) && !wantCell[ns] {
			unwanted[ns] = true
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(d.opts.RunDir, d.cellPrefix()+"*"))
	for _, dir := range dirs {
		if !wantCell[filepath.Base(dir)] {
			unwanted[filepath.Base(dir)] = true
		}
	}
	var errs []error
	for _, ns := range slices.Sorted(mapKeys(unwanted)) {
		errs = append(errs, d.removeCell(ctx, ns))
	}
	for _, ns := range existing {
		if strings.HasPrefix(ns, d.routerPrefix()) && !wantRouter[ns] {
			d.keepFinal(ctx, ns, "", nil)
			errs = append(errs, d.net.DeleteNamespace(ctx, ns))
			d.logf("removed router %s", ns)
		}
	}
	if wl, err := d.net.Links(ctx, d.opts.WANNetns); err == nil {
		for name := range wl {
			if strings.HasPrefix(name, d.opts.Prefix+"w") && !wantPeer[name] {
				errs = append(errs, d.net.DeleteLink(ctx, d.opts.WANNetns, name))
			}
		}
	} else {
		errs = append(errs, fmt.Errorf("WAN namespace %q: %w", d.opts.WANNetns, err))
	}
	errs = append(errs, d.pruneProxies(ctx))
	return errors.Join(errs...)
}

// removeCell stops a cell's charon (and anything else in its namespace), deletes the
// namespace (and with it both veth pairs) and the run directory.
func (d *Netns) removeCell(ctx context.Context, ns string) error {
	dir := filepath.Join(d.opts.RunDir, ns)
	errs := []error{d.proc.StopCells(ctx, []string{dir}, []string{ns})}
	errs = append(errs, d.net.DeleteNamespace(ctx, ns))
	errs = append(errs, os.RemoveAll(dir))
	d.logf("removed cell %s", ns)
	return errors.Join(errs...)
}

func routerSysctls() []nsutil.Sysctl {
	return []nsutil.Sysctl{
		{Key: "ipv4/ip_forward", Value: "1"},
		{Key: "ipv4/conf/all/rp_filter", Value: "0"},
		{Key: "ipv4/conf/default/rp_filter", Value: "0"},
	}
}

// ---------------------------------------------------------------- routers

// attachment is where a next hop leads: the router-side link and the gateway address.
type attachment struct {
	link string
	gw   netip.Addr
}

// UpdateRouter converges one router: its namespace, VPC links, health-check sources on
// lo, rules and routes. Links of the router's cells are made by UpdateCell: while some
// are missing, their rules and routes are left out and the error wraps ErrWaiting.
func (d *Netns) UpdateRouter(ctx context.Context, r Router) error {
	if err := r.Validate(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	rns := d.RouterNetns(r.ID)
	if err := d.net.AddNamespace(ctx, rns, routerSysctls()); err != nil {
		return err
	}
	var errs []error
	atts := map[string]attachment{}
	for _, v := range r.VPCs {
		a := attachment{link: d.AttachmentLink(v.AttachmentID), gw: v.VPCAddr.Addr()}
		if v.Segment != nil {
			a.gw = netip.Addr{} // the VPC's hosts are on the link itself
		}
		atts[v.AttachmentID] = a
		if err := d.updateVPC(ctx, r, v); err != nil {
			errs = append(errs, fmt.Errorf("VPC link %s: %w", v.AttachmentID, err))
		}
	}
	// failed are links to other nodes this update could not make: errors, not something to
	// wait for (the router's own job, not another object's).
	failed := map[string]bool{}
	for _, c := range r.Cells {
		atts[c.AttachmentID] = attachment{link: d.AttachmentLink(c.AttachmentID), gw: c.PeerLinkAddr()}
		if c.Remote != nil {
			if err := d.remoteCellLink(ctx, rns, c); err != nil {
				errs = append(errs, fmt.Errorf("link to cell %s on another node: %w", c.ID(), err))
				failed[c.AttachmentID] = true
			}
		}
	}
	var waiting []error
	for _, p := range r.Peers {
		atts[p.AttachmentID] = attachment{link: d.AttachmentLink(p.AttachmentID), gw: p.PeerAddr()}
		if err := d.updatePeer(ctx, r, p); errors.Is(err, ErrWaiting) {
			waiting = append(waiting, err)
		} else if err != nil {
			errs = append(errs, fmt.Errorf("inter-region link %s: %w", p.AttachmentID, err))
			failed[p.AttachmentID] = p.Remote != nil
		}
	}
	rl, err := d.net.Links(ctx, rns)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	wantLinks := map[string]bool{}
	for _, a := range atts {
		wantLinks[a.link] = true
	}
	for name := range rl {
		if strings.HasPrefix(name, d.opts.Prefix) && !wantLinks[name] {
			errs = append(errs, d.net.DeleteLink(ctx, rns, name))
		}
	}
	// Health-check sources: the router's lo holds exactly 127.0.0.1/8 and the sources.
	lo := []netip.Prefix{loopback}
	for _, a := range r.Sources {
		lo = append(lo, netip.PrefixFrom(a, 32))
	}
	slices.SortFunc(lo, comparePrefix)
	ops := addrOps(rl["lo"], "lo", slices.Compact(lo))
	// Rules: traffic entering from an attachment is looked up in its associated table, and
	// dropped if the table has no route (or there is no association).
	tableNumber := map[string]int{}
	for _, t := range r.Tables {
		tableNumber[t.ID] = t.Number
	}
	var missing []string
	var wantRules []ipRule
	for _, id := range slices.Sorted(mapKeys(atts)) {
		l := atts[id].link
		if _, ok := rl[l]; !ok {
			if !failed[id] {
				missing = append(missing, id)
			}
			continue
		}
		if t, ok := r.Associations[id]; ok {
			wantRules = append(wantRules, ipRule{Priority: rulePrioAssoc, Iif: l, Table: fmt.Sprint(tableNumber[t])})
		}
		wantRules = append(wantRules, ipRule{Priority: rulePrioDrop, Iif: l, Action: "unreachable"})
	}
	have, err := d.net.Rules(ctx, rns)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	ops = append(ops, ruleOps(have, wantRules)...)
	// Routes: one Linux table per route table, nothing else in other tables.
	haveRoutes, err := d.net.Routes(ctx, rns)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	wantTables := map[string]bool{"main": true}
	for _, t := range r.Tables {
		name := fmt.Sprint(t.Number)
		wantTables[name] = true
		var want []wantRoute
		for _, rt := range t.Routes {
			if rt.Blackhole {
				want = append(want, blackholeRoute(rt.Dst))
				continue
			}
			var hops []ipNextHop
			for _, nh := range rt.NextHops {
				a := atts[nh]
				if _, ok := rl[a.link]; !ok {
					continue // its cell has not made the link yet (see missing)
				}
				hop := ipNextHop{Dev: a.link}
				if a.gw.IsValid() {
					hop.Gateway, hop.Flags = a.gw.String(), []string{"onlink"}
				}
				hops = append(hops, hop)
			}
			if len(hops) > 0 {
				want = append(want, unicastRoute(rt.Dst, hops))
			}
		}
		ops = append(ops, routeOps(name, haveRoutes[name], want)...)
	}
	for name, rs := range haveRoutes {
		if !wantTables[name] {
			ops = append(ops, routeOps(name, rs, nil)...)
		}
	}
	if err := d.net.Change(ctx, rns, ops); err != nil {
		errs = append(errs, err)
	}
	if err := d.updateMeter(ctx, r); err != nil {
		errs = append(errs, err)
	}
	if len(missing) > 0 {
		errs = append(errs, fmt.Errorf("router %s: the links of %s are not there yet: %w", r.ID, strings.Join(missing, ", "), ErrWaiting))
	}
	return errors.Join(append(errs, waiting...)...)
}

// remoteCellLink is the router's end of the link to a cell that runs on another node: a
// VXLAN device named after the attachment, with the router's link address (UpdateCell
// does the same for a local cell over a veth pair).
func (d *Netns) remoteCellLink(ctx context.Context, rns string, c Cell) error {
	att := d.AttachmentLink(c.AttachmentID)
	rl, err := d.net.Links(ctx, rns)
	if err != nil {
		return err
	}
	alias, dev, err := d.vxlanDevice(ctx, rns, att, att, c.AttachmentID, rl, c.Remote)
	if err != nil {
		return err
	}
	ops := linkOp(dev, att, cellMTU, alias, "")
	ops = append(ops, addrOps(dev, att, []netip.Prefix{c.LinkAddr})...)
	return d.net.Change(ctx, rns, ops)
}

// updatePeer makes an inter-region link's veth pair (both ends named after the attachment,
// one in each router namespace) if the other router's namespace exists, and sets this
// end's alias, address and rate limit; the other end is its router's. Without the other
// namespace it waits (ErrWaiting): that router's update makes the pair.
func (d *Netns) updatePeer(ctx context.Context, r Router, p PeerLink) error {
	rns, pns := d.RouterNetns(r.ID), d.RouterNetns(p.PeerRouter)
	link := d.AttachmentLink(p.AttachmentID)
	rl, err := d.net.Links(ctx, rns)
	if err != nil {
		return err
	}
	alias := p.AttachmentID
	if p.Remote != nil {
		// The other router runs on another node, which makes its own end.
		a, dev, err := d.vxlanDevice(ctx, rns, link, link, p.AttachmentID, rl, p.Remote)
		if err != nil {
			return err
		}
		return d.peerEnd(ctx, rns, link, dev, a, p)
	}
	if l, ok := rl[link]; ok && l.Info.Kind != "veth" { // a link to another node before
		if err := d.net.DeleteLink(ctx, rns, link); err != nil {
			return err
		}
		delete(rl, link)
	}
	pl, err := d.net.Links(ctx, pns)
	if err != nil {
		nss, lerr := d.net.Namespaces(ctx)
		if lerr == nil && !slices.Contains(nss, pns) {
			return fmt.Errorf("router %s: the namespace of %s, the other end of %s, is not there yet: %w", r.ID, p.PeerRouter, p.AttachmentID, ErrWaiting)
		}
		return err
	}
	if created, err := d.vethPair(ctx, rns, link, rl, pns, link, pl); err != nil {
		return err
	} else if created {
		if rl, err = d.net.Links(ctx, rns); err != nil {
			return err
		}
	}
	return d.peerEnd(ctx, rns, link, rl[link], alias, p)
}

// peerEnd sets one end of an inter-region link: alias, address and rate limit, and on a
// link between nodes the MTU both ends share.
func (d *Netns) peerEnd(ctx context.Context, rns, link string, l ipLink, alias string, p PeerLink) error {
	mtu := 0
	if p.Remote != nil {
		mtu = nodeLinkMTU
	}
	ops := linkOp(l, link, mtu, alias, "")
	ops = append(ops, addrOps(l, link, []netip.Prefix{p.Addr})...)
	if err := d.net.Change(ctx, rns, ops); err != nil {
		return err
	}
	have, err := d.net.Rate(ctx, rns, link)
	if err != nil {
		return err
	}
	if have != p.RateKbit {
		return d.net.SetRate(ctx, rns, link, p.RateKbit)
	}
	return nil
}

// DeleteRouter removes a router's namespace (with its VPC links and what is left of its
// cells' links).
func (d *Netns) DeleteRouter(ctx context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.keepFinal(ctx, d.RouterNetns(id), id, nil)
	err := d.net.DeleteNamespace(ctx, d.RouterNetns(id))
	d.logf("removed router %s", d.RouterNetns(id))
	return err
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

// linkOp is "link set" for what differs from the wanted MTU/alias/master/up; ok is false
// when nothing does.
func linkOp(l ipLink, name string, mtu int, alias, master string) []netOp {
	op := netOp{kind: opLinkSet, link: name}
	if mtu != 0 && l.MTU != mtu {
		op.mtu = mtu
	}
	if alias != "" && l.Alias != alias {
		op.alias = alias
	}
	if master != "" && l.Master != master {
		op.master = master
	}
	op.up = !l.up()
	if op.mtu == 0 && op.alias == "" && op.master == "" && !op.up {
		return nil
	}
	return []netOp{op}
}

// vethPair makes sure a veth pair a (in nsA) <-> b (in nsB) exists: if only one end
// exists (the other side was recreated or moved), that end is deleted first.
func (d *Netns) vethPair(ctx context.Context, nsA, a string, la map[string]ipLink, nsB, b string, lb map[string]ipLink) (created bool, err error) {
	_, haveA := la[a]
	_, haveB := lb[b]
	if haveA && haveB {
		return false, nil
	}
	if haveA {
		if err := d.net.DeleteLink(ctx, nsA, a); err != nil {
			return false, err
		}
	}
	if haveB {
		if err := d.net.DeleteLink(ctx, nsB, b); err != nil {
			return false, err
		}
	}
	err = d.net.AddVeth(ctx, nsA, a, nsB, b)
	return err == nil, err
}

func (d *Netns) updateVPC(ctx context.Context, r Router, v VPCLink) error {
	if v.Segment != nil {
		return d.updateSegment(ctx, r, v)
	}
	rns := d.RouterNetns(r.ID)
	rlink, vlink := d.AttachmentLink(v.AttachmentID), d.vpcLink(r.ID, v.AttachmentID)
	rl, err := d.net.Links(ctx, rns)
	if err != nil {
		return err
	}
	vl, err := d.net.Links(ctx, v.Netns)
	if err != nil {
		return fmt.Errorf("VPC namespace %s: %w", v.Netns, err)
	}
	if l, ok := vl[vlink]; ok && l.Master != "" { // a bridge port before: start from a new pair
		if err := d.net.DeleteLink(ctx, v.Netns, vlink); err != nil {
			return err
		}
		delete(vl, vlink)
		delete(rl, rlink)
	}
	if created, err := d.vethPair(ctx, rns, rlink, rl, v.Netns, vlink, vl); err != nil {
		return err
	} else if created {
		if rl, err = d.net.Links(ctx, rns); err != nil {
			return err
		}
		if vl, err = d.net.Links(ctx, v.Netns); err != nil {
			return err
		}
	}
	rops := linkOp(rl[rlink], rlink, 0, v.AttachmentID, "")
	rops = append(rops, addrOps(rl[rlink], rlink, []netip.Prefix{v.RouterAddr})...)
	vops := linkOp(vl[vlink], vlink, 0, r.ID+"/"+v.AttachmentID, "")
	vops = append(vops, addrOps(vl[vlink], vlink, []netip.Prefix{v.VPCAddr})...)
	if err := d.net.Change(ctx, rns, rops); err != nil {
		return err
	}
	if err := d.net.Change(ctx, v.Netns, vops); err != nil {
		return err
	}
	// The VPC's routes toward the router.
	to := v.ToRouter
	if len(to) == 0 {
		to = []netip.Prefix{allIPv4}
	}
	var want []wantRoute
	for _, p := range to {
		want = append(want, unicastRoute(p.Masked(), []ipNextHop{{Gateway: v.RouterAddr.Addr().String(), Dev: vlink}}))
	}
	have, err := d.net.Routes(ctx, v.Netns)
	if err != nil {
		return err
	}
	var mine []ipRoute
	for _, rt := range have["main"] {
		if rt.Dev == vlink && rt.Protocol != "kernel" {
			mine = append(mine, rt)
		}
	}
	return d.net.Change(ctx, v.Netns, routeOps("main", mine, want))
}

// updateSegment links a router to a segment the operator owns: a veth whose far end is a
// port of the bridge, or a vxlan device made on the underlay and moved into the router's
// namespace. Only that link is ever added or removed; the router holds the VPC's gateway
// address on it.
func (d *Netns) updateSegment(ctx context.Context, r Router, v VPCLink) error {
	rns, g := d.RouterNetns(r.ID), v.Segment
	rlink := d.AttachmentLink(v.AttachmentID)
	rl, err := d.net.Links(ctx, rns)
	if err != nil {
		return err
	}
	reload := func() error {
		rl, err = d.net.Links(ctx, rns)
		return err
	}
	alias := v.AttachmentID
	switch {
	case g.Bridge != "":
		sl, err := d.net.Links(ctx, g.Netns)
		if err != nil {
			return fmt.Errorf("%s: %w", g.where(), err)
		}
		if br, ok := sl[g.Bridge]; !ok || br.Info.Kind != "bridge" {
			return fmt.Errorf("bridge %s is not in %s: create it, or bind the VPC to another segment", g.Bridge, g.where())
		}
		if l, ok := rl[rlink]; ok && l.Info.Kind != "veth" { // bound to a VXLAN before
			if err := d.net.DeleteLink(ctx, rns, rlink); err != nil {
				return err
			}
			delete(rl, rlink)
		}
		port := d.vpcLink(r.ID, v.AttachmentID)
		if p, ok := sl[port]; ok && p.Master != g.Bridge {
			// The pair was a namespace link's (its far end has the /30 and the routes),
			// or another bridge's: start from a new pair.
			if err := d.net.DeleteLink(ctx, g.Netns, port); err != nil {
				return err
			}
			delete(sl, port)
			delete(rl, rlink)
		}
		created, err := d.vethPair(ctx, rns, rlink, rl, g.Netns, port, sl)
		if err != nil {
			return err
		}
		if created {
			if sl, err = d.net.Links(ctx, g.Netns); err != nil {
				return err
			}
			if err := reload(); err != nil {
				return err
			}
		}
		if err := d.net.Change(ctx, g.Netns, linkOp(sl[port], port, 0, r.ID+"/"+v.AttachmentID, g.Bridge)); err != nil {
			return fmt.Errorf("bridge port: %w", err)
		}
	case g.VXLAN != nil:
		a, dev, err := d.vxlanDevice(ctx, rns, rlink, rlink, v.AttachmentID, rl, g)
		if err != nil {
			return fmt.Errorf("%w: bind the VPC with the interface VXLAN packets leave by", err)
		}
		alias, rl[rlink] = a, dev
	}
	ops := linkOp(rl[rlink], rlink, 0, alias, "")
	addr := addrOps(rl[rlink], rlink, []netip.Prefix{v.RouterAddr})
	if err := d.net.Change(ctx, rns, append(ops, addr...)); err != nil {
		return err
	}
	if len(addr) > 0 {
		// The gateway address is on a new link (a rebuilt router, a move from another
		// node): the segment's hosts still hold the old link's MAC for it until their ARP
		// entries age out. Tell them now.
		if err := d.net.Announce(ctx, rns, rlink, v.RouterAddr.Addr()); err != nil {
			d.logf("announce %s on %s: %v", v.RouterAddr.Addr(), rlink, err)
		}
	}
	return nil
}

// vxlanDevice makes sure link name in namespace ns is the VXLAN device of segment g: a
// device of another segment (or another kind of link) is replaced. A new device is made
// on the underlay as tmp (a name no other object made side by side uses), moved into ns
// and renamed. It returns the alias the device is to carry (id and the segment's tag:
// a changed segment is seen by it) and the device as it is now.
func (d *Netns) vxlanDevice(ctx context.Context, ns, name, tmp, id string, have map[string]ipLink, g *Segment) (alias string, dev ipLink, err error) {
	alias, made, err := d.ensureVXLAN(ctx, ns, name, tmp, id, have, g)
	if err != nil || !made {
		return alias, have[name], err
	}
	now, err := d.net.Links(ctx, ns)
	return alias, now[name], err
}

func (d *Netns) ensureVXLAN(ctx context.Context, ns, name, tmp, id string, have map[string]ipLink, g *Segment) (alias string, made bool, err error) {
	sl, err := d.net.Links(ctx, g.Netns)
	if err != nil {
		return "", false, fmt.Errorf("%s: %w", g.where(), err)
	}
	if _, ok := sl[g.VXLAN.Underlay]; !ok {
		return "", false, fmt.Errorf("underlay interface %s is not in %s", g.VXLAN.Underlay, g.where())
	}
	alias = id + " " + g.VXLAN.tag(g.Netns)
	if l, ok := have[name]; ok && (l.Info.Kind != "vxlan" || l.Alias != alias) { // another segment before
		if err := d.net.DeleteLink(ctx, ns, name); err != nil {
			return "", false, err
		}
		delete(have, name)
	}
	if l, ok := sl[tmp]; ok && l.Info.Kind == "vxlan" {
		// Made on the underlay but never moved (a crash between the two): it would block
		// every new one.
		if err := d.net.DeleteLink(ctx, g.Netns, tmp); err != nil {
			return "", false, err
		}
	}
	if _, ok := have[tmp]; ok && tmp != name {
		// Moved but never renamed (a crash between the two): the same.
		if err := d.net.DeleteLink(ctx, ns, tmp); err != nil {
			return "", false, err
		}
		delete(have, tmp)
	}
	if _, ok := have[name]; ok {
		return alias, false, nil
	}
	if err := d.net.AddVXLAN(ctx, g.Netns, tmp, *g.VXLAN, ns, name); err != nil {
		return "", false, fmt.Errorf("VXLAN %d on %s: %w", g.VXLAN.VNI, g.VXLAN.Underlay, err)
	}
	return alias, true, nil
}

// ---------------------------------------------------------------- cells

// cellRecord is what the driver remembers of a cell's loaded configuration (cell.json in
// the cell's run dir): a salted digest, so the PSK is not stored.
type cellRecord struct {
	ID         string `json:"id"`
	RouterID   string `json:"routerId"`
	Attachment string `json:"attachmentId"`
	Salt       string `json:"salt"`
	Digest     string `json:"digest"`
	// Summary is the non-secret part of the configuration, for Render.
	Summary string `json:"summary"`
}

func readRecord(dir string) (cellRecord, bool) {
	var rec cellRecord
	b, err := os.ReadFile(filepath.Join(dir, "cell.json"))
	if err != nil || json.Unmarshal(b, &rec) != nil || rec.Salt == "" {
		return cellRecord{}, false
	}
	return rec, true
}

func writeRecord(dir string, rec cellRecord) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "cell.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, "cell.json"))
}

// charonRule is the rule charon installs for its routing table 220.
func charonRule(r ipRule) bool { return r.Priority == 220 && r.Table == "220" }

// tsHostAddrs: with flow protection, kernel-libipsec needs a local address inside each
// local traffic selector (it installs routes with such a source); the driver puts the
// last host address of each local subnet on the cell's lo.
func tsHostAddrs(c Cell) []netip.Prefix {
	if c.IPsec.RouteBased() {
		return nil
	}
	var out []netip.Prefix
	for _, p := range c.IPsec.CloudSubnets {
		if p.Bits() > 0 {
			out = append(out, netip.PrefixFrom(addrs.LastHost(p), 32))
		}
	}
	slices.SortFunc(out, comparePrefix)
	return slices.Compact(out)
}

// UpdateCell converges one cell of router routerID: its namespace, WAN link, link to the
// router (whose namespace must exist: otherwise the error wraps ErrWaiting), routing and
// nft inside the cell, its charon (started, or a running one adopted) and the loaded
// connection (reloaded, and renegotiated, when its configuration changed).
func (d *Netns) UpdateCell(ctx context.Context, routerID string, c Cell) error {
	if err := c.Validate(); err != nil {
		return err
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	rns, cns := d.RouterNetns(routerID), d.CellNetns(c.ID())
	wan, rtr, att := d.cellWAN(), d.cellRtr(), d.AttachmentLink(c.AttachmentID)
	var rl map[string]ipLink
	if c.Remote == nil {
		var err error
		if rl, err = d.net.Links(ctx, rns); err != nil {
			return fmt.Errorf("cell %s: router %s's namespace: %w (%w)", c.ID(), routerID, err, ErrWaiting)
		}
	}
	wanLinks, err := d.checkUplink(ctx, c)
	if err != nil {
		return err
	}
	if err := d.net.AddNamespace(ctx, cns, routerSysctls()); err != nil {
		return err
	}
	cl, err := d.net.Links(ctx, cns)
	if err != nil {
		return err
	}
	// WAN link: cell end "P wan", other end "P w<hash>" on the uplink (uplink.go).
	created, err := d.plugWAN(ctx, cns, cl, wanLinks, c)
	if err != nil {
		return err
	}
	// Router link: router end "P a<hash>" (the attachment), cell end "P rtr": a veth
	// pair, or with the router on another node a VXLAN device at each end.
	rtrAlias := ""
	if c.Remote != nil {
		// (A veth from when its router ran here is replaced, as any other link would be.)
		a, dev, err := d.vxlanDevice(ctx, cns, rtr, d.opts.Prefix+"x"+hash8(c.ID()), "rtr", cl, c.Remote)
		if err != nil {
			return fmt.Errorf("link to router %s on another node: %w", routerID, err)
		}
		rtrAlias, cl[rtr] = a, dev
	} else {
		if l, ok := cl[rtr]; ok && l.Info.Kind != "veth" { // its router ran on another node before
			if err := d.net.DeleteLink(ctx, cns, rtr); err != nil {
				return fmt.Errorf("router link: %w", err)
			}
			delete(cl, rtr)
		}
		created2, err := d.vethPair(ctx, rns, att, rl, cns, rtr, cl)
		if err != nil {
			return fmt.Errorf("router link: %w", err)
		}
		created = created || created2
	}
	if created {
		if cl, err = d.net.Links(ctx, cns); err != nil {
			return err
		}
		if c.Remote == nil {
			if rl, err = d.net.Links(ctx, rns); err != nil {
				return err
			}
		}
	}
	if c.Remote == nil {
		rops := linkOp(rl[att], att, cellMTU, c.AttachmentID, "")
		rops = append(rops, addrOps(rl[att], att, []netip.Prefix{c.LinkAddr})...)
		if err := d.net.Change(ctx, rns, rops); err != nil {
			return fmt.Errorf("router link: %w", err)
		}
	}
	cops := linkOp(cl[wan], wan, 0, "", "")
	wanOps := addrOps(cl[wan], wan, []netip.Prefix{d.wanAddr(c)})
	announce := slices.ContainsFunc(wanOps, func(o netOp) bool { return o.kind == opAddrAdd })
	cops = append(cops, wanOps...)
	cops = append(cops, linkOp(cl[rtr], rtr, cellMTU, rtrAlias, "")...)
	cops = append(cops, addrOps(cl["lo"], "lo", append([]netip.Prefix{loopback}, tsHostAddrs(c)...))...)
	if err := d.net.Change(ctx, cns, cops); err != nil {
		return fmt.Errorf("cell links: %w", err)
	}
	if err := d.net.SetSysctls(ctx, cns, []nsutil.Sysctl{{Key: "ipv4/conf/" + rtr + "/proxy_arp", Value: "1"}}); err != nil {
		return err
	}
	if err := d.routeUplink(ctx, c); err != nil {
		return err
	}
	if announce {
		// The gateway IP is new on this link (a new cell, or one rebuilt here after it ran
		// elsewhere): tell the WAN, so nothing keeps sending to a MAC that is gone.
		if err := d.announce(ctx, cns, c); err != nil {
			d.logf("%s: gratuitous ARP: %v", c.ID(), err)
		}
	}

	// charon: adopt the running one, or start one (its runtime first, so that the event
	// monitor sees the new charon's log from the start).
	ch := d.CharonOf(c.ID())
	if err := os.MkdirAll(ch.Dir, 0o700); err != nil {
		return err
	}
	started := false
	rt := d.runtime(c, routerID)
	how := "started"
	if d.proc.CharonPID(ch) != 0 {
		// charon reads its retransmission settings (FastDPD's) when it starts: one running
		// with the other settings is replaced, not kept with a wrong one. Only those are
		// compared: a charon started by an older driver with another strongswan.conf
		// otherwise keeps running (and its tunnel up). An unreadable conf counts as the
		// default settings.
		have, err := d.proc.CharonConf(ch)
		if fast := err == nil && fastRetransmitIn(have); fast != c.FastDPD {
			d.logf("%s: charon runs with FastDPD %v, want %v: restarting it", c.ID(), fast, c.FastDPD)
			if err := d.proc.StopCells(ctx, []string{ch.Dir}, nil); err != nil {
				return fmt.Errorf("stop charon for new retransmission settings: %w", err)
			}
			how = fmt.Sprintf("restarted (FastDPD %v, read only at start)", c.FastDPD)
		}
	}
	if d.proc.CharonPID(ch) == 0 {
		if err := d.proc.StartCharon(ctx, ch, charonConf(c)); err != nil {
			return err
		}
		started = true
		rt.emit(EventCharonStarted, fmt.Sprintf("charon %s in %s", how, cns))
	}

	// Routing inside the cell (ipsec0 exists once charon runs).
	have, err := d.net.Rules(ctx, cns)
	if err != nil {
		return err
	}
	have = slices.DeleteFunc(have, charonRule) // charon's own, left alone
	ops := ruleOps(have, []ipRule{
		{Priority: 100, Iif: "ipsec0", Table: fmt.Sprint(cellTableToRouter)},
		{Priority: 101, Iif: rtr, Table: fmt.Sprint(cellTableToTunnel)},
	})
	hr, err := d.net.Routes(ctx, cns)
	if err != nil {
		return err
	}
	ops = append(ops, routeOps(fmt.Sprint(cellTableToRouter), hr[fmt.Sprint(cellTableToRouter)],
		[]wantRoute{unicastRoute(allIPv4, []ipNextHop{{Gateway: c.LinkAddr.Addr().String(), Dev: rtr, Flags: []string{"onlink"}}})})...)
	ops = append(ops, routeOps(fmt.Sprint(cellTableToTunnel), hr[fmt.Sprint(cellTableToTunnel)],
		[]wantRoute{unicastRoute(allIPv4, []ipNextHop{{Dev: "ipsec0"}})})...)
	var mainMine []ipRoute
	for _, rt := range hr["main"] {
		if rt.Protocol != "kernel" {
			mainMine = append(mainMine, rt)
		}
	}
	ops = append(ops, routeOps("main", mainMine, d.cellDefaultRoute())...)
	if err := d.net.Change(ctx, cns, ops); err != nil {
		return fmt.Errorf("cell routing: %w", err)
	}
	// Single-hop eBGP across the cell: TTL 1 from either side becomes 2, so the cell's
	// forwarding leaves TTL 1 for the real next hop. The cell's whole ruleset is ours:
	// replaced atomically.
	ruleset := cellRuleset(d.nftTable(), rtr, wan)
	if have, err := d.net.NFT(ctx, cns); err != nil || have != strings.TrimSpace(ruleset) {
		if err := d.net.SetNFT(ctx, cns, ruleset); err != nil {
			return fmt.Errorf("nft: %w", err)
		}
	}

	// The connection.
	dir := d.cellDir(c.ID())
	rec, ok := readRecord(dir)
	if !ok {
		rec = cellRecord{Salt: randomHex(16)}
	}
	conn := charonConnOf(c)
	digest := conn.digest(rec.Salt)
	changed := ok && rec.Digest != digest
	load := started || !ok || changed
	err = d.withIKE(ctx, ch, func(s ikeSession) error {
		conns, err := s.Conns(ctx)
		if err != nil {
			return err
		}
		if _, ok := conns[c.ID()]; !ok {
			load = true
		}
		for name := range conns {
			if name != c.ID() {
				_ = s.Terminate(ctx, name)
				if err := s.UnloadConn(ctx, name); err != nil {
					return err
				}
			}
		}
		if !load {
			return nil
		}
		if err := s.LoadConn(ctx, c, d.opts.DPDDelay); err != nil {
			return err
		}
		// Reported before the renegotiation it causes, so the log reads in order.
		what := "loaded"
		if changed {
			what = "reloaded (configuration changed, renegotiating)"
		}
		rt.emit(EventConfigLoaded, fmt.Sprintf("connection %s %s: IKEv%d %s, ESP %s", c.ID(), what, conn.Version, conn.IKEProposal, conn.ESPProposal))
		if changed {
			// new proposals, keys or selectors: renegotiate now
			return s.Terminate(ctx, c.ID())
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("charon: %w", err)
	}
	rec.ID, rec.RouterID, rec.Attachment, rec.Digest, rec.Summary = c.ID(), routerID, c.AttachmentID, digest, conn.summary()
	if err := writeRecord(dir, rec); err != nil {
		return err
	}

	rt.configure(c, routerID)
	return nil
}

// cellRuleset is the nftables ruleset of a cell, written as `nft list ruleset` prints it
// (set elements sorted), so that what is read back compares equal.
func cellRuleset(table, rtr, wan string) string {
	ifs := []string{rtr, "ipsec0"}
	slices.Sort(ifs)
	return fmt.Sprintf(`table ip %s {
	chain pre {
		type filter hook prerouting priority raw; policy accept;
		iifname { "%s", "%s" } ip ttl 1 ip ttl set 2
	}
	chain from_wan {
		type filter hook input priority filter; policy accept;
		iifname "%s" udp dport { 500, 4500 } accept
		iifname "%s" meta l4proto esp accept
		iifname "%s" icmp type { destination-unreachable, time-exceeded } accept
		iifname "%s" drop
	}
	chain through_wan {
		type filter hook forward priority filter; policy accept;
		iifname "%s" drop
	}
}
`, table, ifs[0], ifs[1], wan, wan, wan, wan, wan)
}

// DeleteCell stops a cell's charon and removes its namespace and run directory.
func (d *Netns) DeleteCell(ctx context.Context, id string) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	d.rmu.Lock()
	if rt, ok := d.cells[id]; ok {
		rt.stop()
		delete(d.cells, id)
	}
	d.rmu.Unlock()
	return d.removeCell(ctx, d.CellNetns(id))
}

// withIKE runs fn with a control session to ch's charon.
func (d *Netns) withIKE(ctx context.Context, ch nsutil.Charon, fn func(ikeSession) error) error {
	s, err := d.proc.IKE(ctx, ch)
	if err != nil {
		return err
	}
	defer s.Close()
	return fn(s)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// runtime returns the cell's runtime (event monitor, on-demand watcher), creating it.
func (d *Netns) runtime(c Cell, routerID string) *cellRuntime {
	d.rmu.Lock()
	defer d.rmu.Unlock()
	rt, ok := d.cells[c.ID()]
	if !ok {
		rt = newCellRuntime(d, c, routerID)
		d.cells[c.ID()] = rt
	}
	return rt
}

// ---------------------------------------------------------------- Cleanup

// Cleanup removes everything with the driver's prefix: charons (by pid file and by
// namespace), router and cell namespaces (and with them all veth pairs), WAN-side links
// and run directories. It works from the prefix alone, so a new driver can clean up after
// a crashed one.
func (d *Netns) Cleanup(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.rmu.Lock()
	for id, rt := range d.cells {
		rt.stop()
		delete(d.cells, id)
	}
	d.rmu.Unlock()
	nss, err := d.net.Namespaces(ctx)
	if err != nil {
		return err
	}
	var mine []string
	for _, ns := range nss {
		if strings.HasPrefix(ns, d.routerPrefix()) || strings.HasPrefix(ns, d.cellPrefix()) {
			mine = append(mine, ns)
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(d.opts.RunDir, d.cellPrefix()+"*"))
	errs := []error{d.proc.StopCells(ctx, dirs, mine)}
	for _, ns := range mine {
		errs = append(errs, d.net.DeleteNamespace(ctx, ns))
	}
	// The other ends of the namespaces' veths (WAN side, VPC side) go away asynchronously
	// after the namespaces; wait for them, deleting what remains.
	for _, ns := range slices.Compact([]string{d.opts.WANNetns, ""}) {
		if ns != "" && !slices.Contains(nss, ns) {
			continue
		}
		for i := 0; ; i++ {
			ls, err := d.net.Links(ctx, ns)
			if err != nil {
				errs = append(errs, err)
				break
			}
			var left []string
			for name := range ls {
				if strings.HasPrefix(name, d.opts.Prefix+"w") || strings.HasPrefix(name, d.opts.Prefix+"a") || strings.HasPrefix(name, d.opts.Prefix+"v") {
					left = append(left, name)
				}
			}
			if len(left) == 0 {
				break
			}
			if i == 40 {
				slices.Sort(left)
				for _, name := range left {
					errs = append(errs, d.net.DeleteLink(ctx, ns, name))
				}
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for _, dir := range dirs {
		errs = append(errs, os.RemoveAll(dir))
	}
	// With the links gone, so are the host routes to the gateway IPs: their proxy-ARP
	// entries go too.
	errs = append(errs, d.pruneProxies(ctx))
	return errors.Join(errs...)
}

// ---------------------------------------------------------------- Status

// Status reports every cell the driver manages (applied or re-adopted by this instance),
// as their runtimes last saw them (they look at charon on every event and every few
// seconds; see cellRuntime.keep).
func (d *Netns) Status(context.Context) (Status, error) {
	d.rmu.Lock()
	rts := make([]*cellRuntime, 0, len(d.cells))
	for _, rt := range d.cells {
		rts = append(rts, rt)
	}
	d.rmu.Unlock()
	var st Status
	for _, rt := range rts {
		st.Cells = append(st.Cells, rt.status())
	}
	slices.SortFunc(st.Cells, func(a, b CellStatus) int { return cmp.Compare(a.ID, b.ID) })
	return st, nil
}

// Close stops the driver's goroutines (event monitors, on-demand watchers) without
// touching the system: a new driver re-adopts the cells.
func (d *Netns) Close() {
	d.rmu.Lock()
	defer d.rmu.Unlock()
	for id, rt := range d.cells {
		rt.stop()
		delete(d.cells, id)
	}
}
