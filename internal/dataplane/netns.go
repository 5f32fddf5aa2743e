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

	"github.com/strongswan/govici/vici"

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
	// WANNetns and WANBridge say where the cells' WAN links are plugged in: a bridge in a
	// namespace ("" = the driver's own namespace). WANBridge is required.
	WANNetns  string
	WANBridge string
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
//	                            link P a<hash(attachment)> per attachment (alias = attachment ID)
//	cell netns    P c-<vco id>  P wan (WAN address), P rtr (veth to the router, MTU 1400,
//	                            proxy ARP), ipsec0 (charon's TUN), rules iif ipsec0 -> table 101
//	                            (to the router) and iif P rtr -> table 102 (into ipsec0),
//	                            nft table opencen_cell (TTL 1 -> 2 for single-hop eBGP)
//	WAN netns     P w<hash(cell)>  the WAN end of a cell's WAN link, in the bridge
//	VPC netns     P v<hash(router/attachment)>  the VPC end of a VPC link
//	run dir       RunDir/P c-<vco id>/  charon.pid, charon.vici, charon.log, cell.json
type Netns struct {
	opts NetnsOptions

	mu    sync.Mutex // serializes Apply and Cleanup
	rmu   sync.Mutex // guards cells
	cells map[string]*cellRuntime
}

var _ Driver = (*Netns)(nil)

// NewNetns returns a netns driver. It does not touch the system until Apply or Cleanup.
func NewNetns(opts NetnsOptions) (*Netns, error) {
	if opts.Prefix == "" {
		opts.Prefix = "oc-"
	}
	if len(opts.Prefix) > 6 || strings.Trim(opts.Prefix, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		return nil, fmt.Errorf("prefix %q: want 1 to 6 characters of a-z, 0-9, '-'", opts.Prefix)
	}
	if opts.RunDir == "" {
		opts.RunDir = "/run/opencen/dataplane"
	}
	if opts.WANBridge == "" {
		return nil, errors.New("WANBridge is required")
	}
	if opts.RetryInterval <= 0 {
		opts.RetryInterval = 5 * time.Second
	}
	if opts.DPDDelay <= 0 {
		opts.DPDDelay = 10 * time.Second
	}
	return &Netns{opts: opts, cells: map[string]*cellRuntime{}}, nil
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

// ---------------------------------------------------------------- Apply

// Apply converges the system to d (nil = nothing). It works through every router and
// cell even when one fails, and returns all failures joined.
func (d *Netns) Apply(ctx context.Context, des *Desired) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if des == nil {
		des = &Desired{}
	}
	if err := des.Validate(); err != nil {
		return fmt.Errorf("invalid desired state: %w", err)
	}
	wantRouters := map[string]bool{}
	wantCells := map[string]bool{}
	wantCellIDs := map[string]bool{}
	for _, r := range des.Routers {
		if wantRouters[d.RouterNetns(r.ID)] {
			return fmt.Errorf("invalid desired state: two routers map to namespace %s", d.RouterNetns(r.ID))
		}
		wantRouters[d.RouterNetns(r.ID)] = true
		for _, c := range r.Cells {
			if wantCells[d.CellNetns(c.ID)] {
				return fmt.Errorf("invalid desired state: two cells map to namespace %s", d.CellNetns(c.ID))
			}
			wantCells[d.CellNetns(c.ID)] = true
			wantCellIDs[c.ID] = true
		}
	}
	var errs []error

	// 1. Cells that are not desired: stop charon, delete the namespace and run dir.
	d.rmu.Lock()
	for id, rt := range d.cells {
		if !wantCellIDs[id] {
			rt.stop()
			delete(d.cells, id)
		}
	}
	d.rmu.Unlock()
	existing, err := nsutil.ListNetns(d.opts.Prefix)
	if err != nil {
		return err
	}
	unwanted := map[string]bool{}
	for _, ns := range existing {
		if strings.HasPrefix(ns, d.opts.Prefix+"c-") && !wantCells[ns] {
			unwanted[ns] = true
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(d.opts.RunDir, d.opts.Prefix+"c-*"))
	for _, dir := range dirs {
		if !wantCells[filepath.Base(dir)] {
			unwanted[filepath.Base(dir)] = true
		}
	}
	for _, ns := range slices.Sorted(mapKeys(unwanted)) {
		errs = append(errs, d.removeCell(ctx, ns))
	}
	// 2. Routers that are not desired.
	for _, ns := range existing {
		if strings.HasPrefix(ns, d.opts.Prefix+"r-") && !wantRouters[ns] {
			errs = append(errs, deleteNetns(ctx, ns))
		}
	}
	// 3. Desired routers with their VPC links and cells.
	wanLinks, err := links(ctx, d.opts.WANNetns)
	if err != nil {
		return fmt.Errorf("WAN namespace %q: %w", d.opts.WANNetns, err)
	}
	if _, ok := wanLinks[d.opts.WANBridge]; !ok {
		return fmt.Errorf("WAN bridge %s not found in namespace %q", d.opts.WANBridge, d.opts.WANNetns)
	}
	for _, r := range des.Routers {
		if err := d.applyRouter(ctx, r, wanLinks); err != nil {
			errs = append(errs, fmt.Errorf("router %s: %w", r.ID, err))
		}
	}
	// 4. WAN-side links of cells that no longer exist.
	wanPeers := map[string]bool{}
	for _, r := range des.Routers {
		for _, c := range r.Cells {
			wanPeers[d.wanPeer(c.ID)] = true
		}
	}
	if wanLinks, err = links(ctx, d.opts.WANNetns); err == nil {
		var stale []string
		for name := range wanLinks {
			if strings.HasPrefix(name, d.opts.Prefix+"w") && !wanPeers[name] {
				stale = append(stale, name)
			}
		}
		errs = append(errs, delLinks(ctx, d.opts.WANNetns, stale))
	}
	return errors.Join(errs...)
}

// removeCell stops a cell's charon (and anything else in its namespace), deletes the
// namespace (and with it both veth pairs) and the run directory.
func (d *Netns) removeCell(ctx context.Context, ns string) error {
	dir := filepath.Join(d.opts.RunDir, ns)
	ch := nsutil.Charon{Netns: ns, Dir: dir}
	var errs []error
	if pid := ch.PIDFromFile(); pid != 0 {
		errs = append(errs, nsutil.Kill(pid, 3*time.Second))
	}
	for pid := range nsutil.ProcessesInNetns([]string{ns}) {
		errs = append(errs, nsutil.Kill(pid, 3*time.Second))
	}
	errs = append(errs, deleteNetns(ctx, ns))
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

// attachment is where a next hop leads: the router-side link and the gateway address.
type attachment struct {
	link string
	gw   netip.Addr
}

func (d *Netns) applyRouter(ctx context.Context, r Router, wanLinks map[string]ipLink) error {
	rns := d.RouterNetns(r.ID)
	if err := nsutil.AddNetns(ctx, rns, routerSysctls()...); err != nil {
		return err
	}
	var errs []error
	atts := map[string]attachment{}
	for _, v := range r.VPCs {
		atts[v.AttachmentID] = attachment{link: d.AttachmentLink(v.AttachmentID), gw: v.VPCAddr.Addr()}
		if err := d.applyVPC(ctx, r, v); err != nil {
			errs = append(errs, fmt.Errorf("VPC link %s: %w", v.AttachmentID, err))
		}
	}
	for _, c := range r.Cells {
		atts[c.AttachmentID] = attachment{link: d.AttachmentLink(c.AttachmentID), gw: c.PeerLinkAddr()}
		if err := d.applyCell(ctx, r, c, wanLinks); err != nil {
			errs = append(errs, fmt.Errorf("cell %s: %w", c.ID, err))
		}
	}
	rl, err := links(ctx, rns)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	var cmds []string
	wantLinks := map[string]bool{}
	for _, a := range atts {
		wantLinks[a.link] = true
	}
	var stale []string
	for name := range rl {
		if strings.HasPrefix(name, d.opts.Prefix) && !wantLinks[name] {
			stale = append(stale, name)
		}
	}
	if err := delLinks(ctx, rns, stale); err != nil {
		errs = append(errs, err)
	}
	// Rules: traffic entering from an attachment is looked up in its associated table, and
	// dropped if the table has no route (or there is no association).
	tableNumber := map[string]int{}
	for _, t := range r.Tables {
		tableNumber[t.ID] = t.Number
	}
	var wantRules []string
	for _, id := range slices.Sorted(mapKeys(atts)) {
		l := atts[id].link
		if _, ok := rl[l]; !ok {
			continue // its creation failed above
		}
		if t, ok := r.Associations[id]; ok {
			wantRules = append(wantRules, ipRule{Priority: rulePrioAssoc, Iif: l, Table: fmt.Sprint(tableNumber[t])}.spec())
		}
		wantRules = append(wantRules, ipRule{Priority: rulePrioDrop, Iif: l, Action: "unreachable"}.spec())
	}
	have, err := rules(ctx, rns)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	cmds = append(cmds, ruleCmds(have, wantRules)...)
	// Routes: one Linux table per route table, nothing else in other tables.
	haveRoutes, err := routes(ctx, rns)
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
			ok := true
			for _, nh := range rt.NextHops {
				a := atts[nh]
				if _, exists := rl[a.link]; !exists {
					ok = false
				}
				hops = append(hops, ipNextHop{Gateway: a.gw.String(), Dev: a.link, Flags: []string{"onlink"}})
			}
			if !ok {
				errs = append(errs, fmt.Errorf("table %s: route %v: a next hop's link is missing", t.ID, rt.Dst))
				continue
			}
			want = append(want, unicastRoute(rt.Dst, hops))
		}
		cmds = append(cmds, routeCmds(name, haveRoutes[name], want)...)
	}
	for name, rs := range haveRoutes {
		if !wantTables[name] {
			cmds = append(cmds, routeCmds(name, rs, nil)...)
		}
	}
	if err := nsutil.IPBatch(ctx, rns, cmds); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
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

// deleteNetns deletes a namespace after its veths: deleting a veth removes both ends at
// once, while the ends in other namespaces of a deleted namespace's veths linger for a
// moment (namespace teardown is asynchronous).
func deleteNetns(ctx context.Context, ns string) error {
	if !nsutil.NetnsExists(ns) {
		return nil
	}
	ls, err := links(ctx, ns)
	if err != nil {
		return err
	}
	var veths []string
	for name, l := range ls {
		if l.Info.Kind == "veth" {
			veths = append(veths, name)
		}
	}
	return errors.Join(delLinks(ctx, ns, veths), nsutil.DelNetns(ctx, ns))
}

// delLinks deletes links in ns; links that are already gone (a veth whose other end's
// namespace was just deleted disappears asynchronously) are fine.
func delLinks(ctx context.Context, ns string, names []string) error {
	var errs []error
	slices.Sort(names)
	for _, name := range names {
		if _, err := nsutil.IPn(ctx, ns, "link", "del", name); err != nil && !nsutil.IsNotExist(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// linkCmd returns "link set ..." for what differs from the wanted MTU/alias/master/up.
func linkCmd(l ipLink, name string, mtu int, alias, master string) []string {
	args := ""
	if mtu != 0 && l.MTU != mtu {
		args += fmt.Sprintf(" mtu %d", mtu)
	}
	if alias != "" && l.Alias != alias {
		args += " alias " + alias
	}
	if master != "" && l.Master != master {
		args += " master " + master
	}
	if !l.up() {
		args += " up"
	}
	if args == "" {
		return nil
	}
	return []string{"link set " + name + args}
}

// vethPair makes sure a veth pair a (in nsA) <-> b (in nsB) exists: if only one end
// exists (the other side was recreated or moved), that end is deleted first.
func vethPair(ctx context.Context, nsA, a string, la map[string]ipLink, nsB, b string, lb map[string]ipLink) (created bool, err error) {
	_, haveA := la[a]
	_, haveB := lb[b]
	if haveA && haveB {
		return false, nil
	}
	if haveA {
		if _, err := nsutil.IPn(ctx, nsA, "link", "del", a); err != nil && !nsutil.IsNotExist(err) {
			return false, err
		}
	}
	if haveB {
		if _, err := nsutil.IPn(ctx, nsB, "link", "del", b); err != nil && !nsutil.IsNotExist(err) {
			return false, err
		}
	}
	args := []string{"link", "add", a, "netns", nsA, "type", "veth", "peer", "name", b}
	if nsB != "" {
		args = append(args, "netns", nsB)
	}
	_, err = nsutil.IP(ctx, args...)
	return err == nil, err
}

func (d *Netns) applyVPC(ctx context.Context, r Router, v VPCLink) error {
	rns := d.RouterNetns(r.ID)
	if !nsutil.NetnsExists(v.Netns) {
		return fmt.Errorf("VPC namespace %s does not exist", v.Netns)
	}
	rlink, vlink := d.AttachmentLink(v.AttachmentID), d.vpcLink(r.ID, v.AttachmentID)
	rl, err := links(ctx, rns)
	if err != nil {
		return err
	}
	vl, err := links(ctx, v.Netns)
	if err != nil {
		return err
	}
	if created, err := vethPair(ctx, rns, rlink, rl, v.Netns, vlink, vl); err != nil {
		return err
	} else if created {
		if rl, err = links(ctx, rns); err != nil {
			return err
		}
		if vl, err = links(ctx, v.Netns); err != nil {
			return err
		}
	}
	rcmds := linkCmd(rl[rlink], rlink, 0, v.AttachmentID, "")
	rcmds = append(rcmds, addrCmds(rl[rlink], rlink, []netip.Prefix{v.RouterAddr})...)
	vcmds := linkCmd(vl[vlink], vlink, 0, r.ID+"/"+v.AttachmentID, "")
	vcmds = append(vcmds, addrCmds(vl[vlink], vlink, []netip.Prefix{v.VPCAddr})...)
	if err := nsutil.IPBatch(ctx, rns, rcmds); err != nil {
		return err
	}
	if err := nsutil.IPBatch(ctx, v.Netns, vcmds); err != nil {
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
	have, err := routes(ctx, v.Netns)
	if err != nil {
		return err
	}
	var mine []ipRoute
	for _, rt := range have["main"] {
		if rt.Dev == vlink && rt.Protocol != "kernel" {
			mine = append(mine, rt)
		}
	}
	return nsutil.IPBatch(ctx, v.Netns, routeCmds("main", mine, want))
}

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

func (c Cell) summary() string {
	s := c.IPsec
	mode := ""
	if s.Aggressive {
		mode = " aggressive"
	}
	start := "on-traffic"
	if s.StartNow {
		start = "now"
	}
	return fmt.Sprintf("IKEv%d%s ike=%s (%s) esp=%s (%s) ids=%s/%s dpd=%v start=%s",
		s.IKEVersion, mode, s.IKEProposal, lifetime(s.IKELifetime), s.ESPProposal, lifetime(s.ESPLifetime),
		c.localID(), c.remoteID(), s.DPD, start)
}

func configDigest(salt string, c Cell) string {
	b, _ := json.Marshal(struct {
		ID    string
		WAN   netip.Prefix
		Peer  netip.Addr
		IPsec IPsec
	}{c.ID, c.WANAddr, c.PeerAddr, c.IPsec})
	h := sha256.New()
	h.Write([]byte(salt))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
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
	b, _ := json.MarshalIndent(rec, "", "  ")
	tmp := filepath.Join(dir, "cell.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, "cell.json"))
}

// charonRule is the rule charon installs for its routing table 220.
func charonRule(r ipRule) bool { return r.Priority == 220 && r.Table == "220" }

func cellSysctls() []nsutil.Sysctl { return routerSysctls() }

// tsHostAddrs: with flow protection, kernel-libipsec needs a local address inside each
// local traffic selector (it installs routes with such a source); the driver puts the
// last host address of each local subnet on the cell's lo.
func tsHostAddrs(c Cell) []netip.Prefix {
	var out []netip.Prefix
	if c.routeBased() {
		return nil
	}
	for _, p := range c.IPsec.LocalTS {
		if p.Bits() == 0 {
			continue
		}
		p = p.Masked()
		last := p.Addr()
		// the last address of the prefix, minus one (not the broadcast) when possible
		b := last.As4()
		host := 32 - p.Bits()
		v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		v |= (1 << host) - 1
		if host >= 2 {
			v--
		}
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), 32))
	}
	slices.SortFunc(out, comparePrefix)
	return slices.Compact(out)
}

func (d *Netns) applyCell(ctx context.Context, r Router, c Cell, wanLinks map[string]ipLink) error {
	rns, cns := d.RouterNetns(r.ID), d.CellNetns(c.ID)
	wan, rtr, att, peer := d.cellWAN(), d.cellRtr(), d.AttachmentLink(c.AttachmentID), d.wanPeer(c.ID)
	if err := nsutil.AddNetns(ctx, cns, cellSysctls()...); err != nil {
		return err
	}
	cl, err := links(ctx, cns)
	if err != nil {
		return err
	}
	rl, err := links(ctx, rns)
	if err != nil {
		return err
	}
	// WAN link: cell end "P wan", WAN end "P w<hash>" in the bridge.
	created, err := vethPair(ctx, cns, wan, cl, d.opts.WANNetns, peer, wanLinks)
	if err != nil {
		return fmt.Errorf("WAN link: %w", err)
	}
	if created {
		if wanLinks, err = links(ctx, d.opts.WANNetns); err != nil {
			return err
		}
	}
	if err := nsutil.IPBatch(ctx, d.opts.WANNetns, linkCmd(wanLinks[peer], peer, 0, c.ID, d.opts.WANBridge)); err != nil {
		return fmt.Errorf("WAN link: %w", err)
	}
	// Router link: router end "P a<hash>" (the attachment), cell end "P rtr".
	created2, err := vethPair(ctx, rns, att, rl, cns, rtr, cl)
	if err != nil {
		return fmt.Errorf("router link: %w", err)
	}
	if created || created2 {
		if cl, err = links(ctx, cns); err != nil {
			return err
		}
		if rl, err = links(ctx, rns); err != nil {
			return err
		}
	}
	rcmds := linkCmd(rl[att], att, cellMTU, c.AttachmentID, "")
	rcmds = append(rcmds, addrCmds(rl[att], att, []netip.Prefix{c.LinkAddr})...)
	if err := nsutil.IPBatch(ctx, rns, rcmds); err != nil {
		return fmt.Errorf("router link: %w", err)
	}
	ccmds := linkCmd(cl[wan], wan, 0, "", "")
	ccmds = append(ccmds, addrCmds(cl[wan], wan, []netip.Prefix{c.WANAddr})...)
	ccmds = append(ccmds, linkCmd(cl[rtr], rtr, cellMTU, "", "")...)
	ccmds = append(ccmds, addrCmds(cl["lo"], "lo", append([]netip.Prefix{netip.MustParsePrefix("127.0.0.1/8")}, tsHostAddrs(c)...))...)
	if err := nsutil.IPBatch(ctx, cns, ccmds); err != nil {
		return fmt.Errorf("cell links: %w", err)
	}
	if err := nsutil.SetSysctls(cns, nsutil.Sysctl{Key: "ipv4/conf/" + rtr + "/proxy_arp", Value: "1"}); err != nil {
		return err
	}

	// charon: adopt the running one, or start one (its runtime first, so that the event
	// monitor sees the new charon's log from the start).
	ch := d.CharonOf(c.ID)
	started := false
	rt := d.runtime(c, r.ID)
	if ch.PID() == 0 {
		if _, err := ch.Start(ctx, nsutil.StrongswanConf("")); err != nil {
			return err
		}
		started = true
	}

	// Routing inside the cell (ipsec0 exists once charon runs).
	have, err := rules(ctx, cns)
	if err != nil {
		return err
	}
	have = slices.DeleteFunc(have, charonRule) // charon's own, left alone
	cmds := ruleCmds(have, []string{
		ipRule{Priority: 100, Iif: "ipsec0", Table: fmt.Sprint(cellTableToRouter)}.spec(),
		ipRule{Priority: 101, Iif: rtr, Table: fmt.Sprint(cellTableToTunnel)}.spec(),
	})
	hr, err := routes(ctx, cns)
	if err != nil {
		return err
	}
	cmds = append(cmds, routeCmds(fmt.Sprint(cellTableToRouter), hr[fmt.Sprint(cellTableToRouter)],
		[]wantRoute{unicastRoute(allIPv4, []ipNextHop{{Gateway: c.LinkAddr.Addr().String(), Dev: rtr, Flags: []string{"onlink"}}})})...)
	cmds = append(cmds, routeCmds(fmt.Sprint(cellTableToTunnel), hr[fmt.Sprint(cellTableToTunnel)],
		[]wantRoute{unicastRoute(allIPv4, []ipNextHop{{Dev: "ipsec0"}})})...)
	var mainMine []ipRoute
	for _, rt := range hr["main"] {
		if rt.Protocol != "kernel" {
			mainMine = append(mainMine, rt)
		}
	}
	var mainWant []wantRoute
	if d.opts.WANGateway.IsValid() {
		mainWant = append(mainWant, unicastRoute(allIPv4, []ipNextHop{{Gateway: d.opts.WANGateway.String(), Dev: wan}}))
	}
	cmds = append(cmds, routeCmds("main", mainMine, mainWant)...)
	if err := nsutil.IPBatch(ctx, cns, cmds); err != nil {
		return fmt.Errorf("cell routing: %w", err)
	}
	// Single-hop eBGP across the cell: TTL 1 from either side becomes 2, so the cell's
	// forwarding leaves TTL 1 for the real next hop. The cell's whole ruleset is ours:
	// replaced atomically.
	t := d.nftTable()
	script := fmt.Sprintf(`flush ruleset
table ip %[1]s {
	chain pre {
		type filter hook prerouting priority raw; policy accept;
		iifname { "%[2]s", "ipsec0" } ip ttl 1 ip ttl set 2
	}
}
`, t, rtr)
	if err := nsutil.NFT(ctx, cns, script); err != nil {
		return fmt.Errorf("nft: %w", err)
	}

	// The connection.
	dir := d.cellDir(c.ID)
	rec, ok := readRecord(dir)
	if !ok {
		rec = cellRecord{Salt: randomHex(16)}
	}
	digest := configDigest(rec.Salt, c)
	changed := ok && rec.Digest != digest
	load := started || !ok || changed
	err = withSession(ctx, ch.Socket(), func(s *vici.Session) error {
		conns, err := listConns(ctx, s)
		if err != nil {
			return err
		}
		if _, ok := conns[c.ID]; !ok {
			load = true
		}
		for name := range conns {
			if name != c.ID {
				_ = terminate(ctx, s, name)
				if err := unloadConn(ctx, s, name); err != nil {
					return err
				}
			}
		}
		if !load {
			return nil
		}
		if err := loadConn(ctx, s, c, d.opts.DPDDelay); err != nil {
			return err
		}
		if changed {
			// new proposals, keys or selectors: renegotiate now
			return terminate(ctx, s, c.ID)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("charon: %w", err)
	}
	rec.ID, rec.RouterID, rec.Attachment, rec.Digest, rec.Summary = c.ID, r.ID, c.AttachmentID, digest, c.summary()
	if err := writeRecord(dir, rec); err != nil {
		return err
	}

	if started {
		rt.emit(EventCharonStarted, fmt.Sprintf("charon started in %s", cns))
	}
	if load {
		what := "loaded"
		if changed {
			what = "reloaded (configuration changed, renegotiating)"
		}
		rt.emit(EventConfigLoaded, fmt.Sprintf("connection %s %s: IKEv%d %s, ESP %s", c.ID, what, c.IPsec.IKEVersion, c.IPsec.IKEProposal, c.IPsec.ESPProposal))
	}
	rt.configure(c, r.ID)
	return nil
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
	rt, ok := d.cells[c.ID]
	if !ok {
		rt = newCellRuntime(d, c, routerID)
		d.cells[c.ID] = rt
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
	var errs []error
	nss, err := nsutil.ListNetns(d.opts.Prefix)
	if err != nil {
		return err
	}
	var mine []string
	for _, ns := range nss {
		if strings.HasPrefix(ns, d.opts.Prefix+"r-") || strings.HasPrefix(ns, d.opts.Prefix+"c-") {
			mine = append(mine, ns)
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(d.opts.RunDir, d.opts.Prefix+"c-*"))
	errs = append(errs, nsutil.StopAll(dirs, mine)...)
	for _, ns := range mine {
		errs = append(errs, deleteNetns(ctx, ns))
	}
	// The other ends of the namespaces' veths (WAN side, VPC side) go away asynchronously
	// after the namespaces; wait for them, deleting what remains.
	for _, ns := range slices.Compact([]string{d.opts.WANNetns, ""}) {
		if ns != "" && !nsutil.NetnsExists(ns) {
			continue
		}
		for i := 0; ; i++ {
			ls, err := links(ctx, ns)
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
				errs = append(errs, delLinks(ctx, ns, left))
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for _, dir := range dirs {
		errs = append(errs, os.RemoveAll(dir))
	}
	return errors.Join(errs...)
}

// ---------------------------------------------------------------- Status

// Status reports every cell the driver manages (applied or re-adopted by this instance).
func (d *Netns) Status(ctx context.Context) (Status, error) {
	d.rmu.Lock()
	rts := make([]*cellRuntime, 0, len(d.cells))
	for _, rt := range d.cells {
		rts = append(rts, rt)
	}
	d.rmu.Unlock()
	var st Status
	var errs []error
	for _, rt := range rts {
		cs, err := rt.status(ctx)
		if err != nil {
			errs = append(errs, err)
		}
		st.Cells = append(st.Cells, cs)
	}
	slices.SortFunc(st.Cells, func(a, b CellStatus) int { return cmp.Compare(a.ID, b.ID) })
	return st, errors.Join(errs...)
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
