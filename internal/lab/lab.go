// Package lab builds a simulated world around OpenCEN's data plane in network namespaces:
// a WAN (a bridge, 198.18.0.0/15 addressing), customer data centers with their own stock
// strongSwan, and VPC hosts. It is used by the data-plane tests, the demo and `opencen lab`.
//
// Every namespace, link and run directory carries the lab's prefix, so Cleanup can remove
// the leftovers of a crashed lab by the prefix alone:
//
//	<prefix>wan          the WAN: bridge br0
//	<prefix>dc-<name>    a data center: wan0 (its public address), the host address of its
//	                     subnet on lo, charon (kernel-libipsec) in its own mount namespace
//	<prefix>host-<name>  a simulated machine's network stack: wan0 on the WAN (a gateway
//	                     node's underlay when a cluster runs on one machine)
//	<prefix>vpc-<name>   a VPC host: a bridge br-vpc (the VPC's network segment, as an
//	                     operator's) holding the first host address of the VPC CIDR, with
//	                     a default route via the VPC's gateway address; the VPC is bound
//	                     to the bridge (VPCHost.Binding, the admin's BindVpc) and the data
//	                     plane plugs its transit router in
package lab

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"opencen/internal/config"
	"opencen/internal/dataplane/nsutil"
)

// WAN is the lab's "Internet" range.
var WAN = netip.MustParsePrefix("198.18.0.0/15")

// Bridge is the WAN bridge's name inside the WAN namespace.
const Bridge = "br0"

// Missing lists what this machine lacks to build the lab (root, strongSwan, iproute2,
// nftables), empty when everything is there.
func Missing() []string { return nsutil.Missing() }

// Lab is one simulated world.
type Lab struct {
	Prefix string
	// WANNetns is the namespace with the WAN bridge (Bridge).
	WANNetns string
	// RunDir holds the data centers' charon directories.
	RunDir string

	mu   sync.Mutex
	dcs  []*DC
	vpcs []*VPCHost
}

// New creates the WAN namespace and bridge. prefix: 1 to 6 characters of a-z, 0-9 and '-';
// runDir "" = /run/opencen/lab.
func New(ctx context.Context, prefix, runDir string) (*Lab, error) {
	if prefix == "" || len(prefix) > 6 || strings.Trim(prefix, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		return nil, fmt.Errorf("lab prefix %q: want 1 to 6 characters of a-z, 0-9, '-'", prefix)
	}
	if runDir == "" {
		runDir = "/run/opencen/lab"
	}
	l := &Lab{Prefix: prefix, WANNetns: prefix + "wan", RunDir: runDir}
	if err := nsutil.AddNetns(ctx, l.WANNetns); err != nil {
		return nil, err
	}
	if _, err := nsutil.IPn(ctx, l.WANNetns, "link", "show", Bridge); err != nil {
		if _, err := nsutil.IPn(ctx, l.WANNetns, "link", "add", Bridge, "type", "bridge"); err != nil {
			return nil, err
		}
	}
	if _, err := nsutil.IPn(ctx, l.WANNetns, "link", "set", Bridge, "up"); err != nil {
		return nil, err
	}
	return l, nil
}

func hash8(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:8]
}

func forwarding() []nsutil.Sysctl {
	return []nsutil.Sysctl{
		{Key: "ipv4/ip_forward", Value: "1"},
		{Key: "ipv4/conf/all/rp_filter", Value: "0"},
		{Key: "ipv4/conf/default/rp_filter", Value: "0"},
	}
}

// firstHost is the first host address of p (p's address itself for /31 and /32).
func firstHost(p netip.Prefix) netip.Addr {
	p = p.Masked()
	if p.Bits() >= 31 {
		return p.Addr()
	}
	return p.Addr().Next()
}

// DC is a simulated customer data center.
type DC struct {
	Name  string
	Netns string
	// WANAddr is the customer gateway's public address (on wan0).
	WANAddr netip.Prefix
	// Subnet is the data center's network; Host, its first host address, is on lo.
	Subnet netip.Prefix
	Host   netip.Addr
	Charon nsutil.Charon
}

// AddDC creates a data center: namespace, WAN link with wanAddr (a prefix inside WAN, e.g.
// 198.18.0.3/15), the first host address of subnet on lo, and a charon (kernel-libipsec)
// loaded with swanctlConf (e.g. what vpnconf.Strongswan renders) via swanctl --load-all.
func (l *Lab) AddDC(ctx context.Context, name string, wanAddr, subnet netip.Prefix, swanctlConf string) (*DC, error) {
	if !WAN.Contains(wanAddr.Addr()) {
		return nil, fmt.Errorf("DC %s: WAN address %v is outside %v", name, wanAddr, WAN)
	}
	ns := l.Prefix + "dc-" + name
	dc := &DC{Name: name, Netns: ns, WANAddr: wanAddr, Subnet: subnet.Masked(), Host: firstHost(subnet),
		Charon: nsutil.Charon{Netns: ns, Dir: filepath.Join(l.RunDir, ns)}}
	l.mu.Lock()
	l.dcs = append(l.dcs, dc)
	l.mu.Unlock()
	if err := nsutil.AddNetns(ctx, ns, forwarding()...); err != nil {
		return nil, err
	}
	peer := l.Prefix + "d" + hash8(name)
	if _, err := nsutil.IP(ctx, "link", "add", "wan0", "netns", ns, "type", "veth", "peer", "name", peer, "netns", l.WANNetns); err != nil {
		return nil, err
	}
	if err := nsutil.IPBatch(ctx, l.WANNetns, []string{"link set " + peer + " master " + Bridge + " up"}); err != nil {
		return nil, err
	}
	if err := nsutil.IPBatch(ctx, ns, []string{
		"addr add " + wanAddr.String() + " dev wan0",
		"link set wan0 up",
		"addr add " + netip.PrefixFrom(dc.Host, 32).String() + " dev lo",
	}); err != nil {
		return nil, err
	}
	if _, err := dc.Charon.Start(ctx, nsutil.StrongswanConf("")); err != nil {
		return nil, err
	}
	if err := dc.LoadConfig(ctx, swanctlConf); err != nil {
		return nil, err
	}
	return dc, nil
}

// LoadConfig replaces the data center's swanctl.conf and loads it (swanctl --load-all:
// connections and secrets not in the file are unloaded).
func (dc *DC) LoadConfig(ctx context.Context, swanctlConf string) error {
	sw := filepath.Join(dc.Charon.Dir, "swanctl")
	for _, d := range []string{"", "conf.d", "x509", "x509ca", "x509ocsp", "x509aa", "x509ac", "x509crl", "pubkey", "private", "rsa", "ecdsa", "bliss", "pkcs8", "pkcs12"} {
		if err := os.MkdirAll(filepath.Join(sw, d), 0o700); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(sw, "swanctl.conf"), []byte(swanctlConf), 0o600); err != nil {
		return err
	}
	out, err := dc.Charon.Swanctl(ctx, "--load-all")
	if err != nil {
		return fmt.Errorf("DC %s: swanctl --load-all: %w\n%s", dc.Name, err, out)
	}
	return nil
}

// WaitSameIKE waits up to within until cell (the cloud end) has exactly one established
// IKE SA and the data center has that same SA, on every look for a second: after the two
// ends' initiations crossed, both kept the same one. (IKEv1 ends that kept different SAs
// delete theirs at nearly the same moment, so one look can fall between the deletions.)
// It returns the data center's SAs as last seen, and an error naming both ends' SAs when
// they did not agree in time.
func (dc *DC) WaitSameIKE(ctx context.Context, cell nsutil.Charon, within time.Duration) ([]string, error) {
	deadline := time.Now().Add(within)
	var agreed string // the SA both ends had on the looks since agreedAt
	var agreedAt time.Time
	for {
		cellSAs, err := cell.EstablishedIKE(ctx)
		if err != nil {
			return nil, fmt.Errorf("cell: %w", err)
		}
		dcSAs, err := dc.Charon.EstablishedIKE(ctx)
		if err != nil {
			return nil, fmt.Errorf("DC %s: %w", dc.Name, err)
		}
		switch {
		case len(cellSAs) != 1 || !slices.Contains(dcSAs, cellSAs[0]):
			agreed = ""
		case cellSAs[0] != agreed:
			agreed, agreedAt = cellSAs[0], time.Now()
		case time.Since(agreedAt) >= time.Second:
			return dcSAs, nil
		}
		if time.Now().After(deadline) {
			return dcSAs, fmt.Errorf("the cell's IKE SAs %v, DC %s's %v: the cell must end with one SA the DC has, for a second", cellSAs, dc.Name, dcSAs)
		}
		select {
		case <-ctx.Done():
			return dcSAs, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// RouteToTunnel routes prefixes (the cloud side: VPC CIDRs) from the data center into its
// route-based (0.0.0.0/0) tunnel.
//
// With kernel-libipsec, charon installs table 220 with "default dev ipsec0" (and a throw
// route for the peer) while the SA is up; that route has no source address, so packets
// the DC itself originates would leave with whatever address the kernel picks. So for each
// prefix the lab adds "<prefix> dev ipsec0 src <Host>" to the main table and a rule
// "to <prefix> lookup main" at priority 200, before charon's rule 220: traffic to the VPC
// enters the tunnel with the DC host address as source, and while the SA is down it is
// dropped by libipsec instead of leaking to the WAN. A DC speaking BGP would learn these
// routes instead.
func (dc *DC) RouteToTunnel(ctx context.Context, prefixes ...netip.Prefix) error {
	var cmds []string
	for _, p := range prefixes {
		p = p.Masked()
		// drop an earlier copy of the rule (a missing one is fine), so adding is idempotent
		_, _ = nsutil.IPn(ctx, dc.Netns, "rule", "del", "priority", "200", "to", p.String(), "lookup", "main")
		cmds = append(cmds,
			fmt.Sprintf("route replace %s dev ipsec0 src %s", p, dc.Host),
			fmt.Sprintf("rule add priority 200 to %s lookup main", p))
	}
	return nsutil.IPBatch(ctx, dc.Netns, cmds)
}

// Ping pings dst from the data center's host address; nil if at least one reply came back.
func (dc *DC) Ping(ctx context.Context, dst netip.Addr, count int) error {
	return Ping(ctx, dc.Netns, dc.Host, dst, count)
}

// VPCBridge is the bridge of a VPC host's namespace: the VPC's segment.
const VPCBridge = "br-vpc"

// VPCHost is a VPC's host: a namespace whose bridge VPCBridge is the VPC's segment, with
// the first host address of the VPC CIDR on it and a default route via Gateway.
type VPCHost struct {
	Name  string
	Netns string
	CIDR  netip.Prefix
	Addr  netip.Addr
	// Gateway is the transit router's address on the segment (config.DefaultGatewayIP:
	// what BindVpc gives when the operator names none).
	Gateway netip.Prefix
}

// Host is a simulated machine's own network stack on the WAN: a gateway node's underlay,
// when a cluster's nodes run on one machine (each node's links to other nodes leave from
// its host, as they would from its machine).
type Host struct {
	Name, Netns string
	// Addr is the host's address on its wan0, inside WAN.
	Addr netip.Prefix
}

// HostInterface is a host's link to the WAN.
const HostInterface = "wan0"

// AddHost creates a host: namespace <prefix>host-<name> with wan0 (addr, inside WAN) on
// the WAN bridge.
func (l *Lab) AddHost(ctx context.Context, name string, addr netip.Prefix) (*Host, error) {
	if !WAN.Contains(addr.Addr()) {
		return nil, fmt.Errorf("host %s: address %v is outside %v", name, addr, WAN)
	}
	h := &Host{Name: name, Netns: l.Prefix + "host-" + name, Addr: addr}
	if err := nsutil.AddNetns(ctx, h.Netns); err != nil {
		return nil, err
	}
	peer := l.Prefix + "h" + hash8(name)
	if _, err := nsutil.IP(ctx, "link", "add", HostInterface, "netns", h.Netns, "type", "veth", "peer", "name", peer, "netns", l.WANNetns); err != nil {
		return nil, err
	}
	if err := nsutil.IPBatch(ctx, l.WANNetns, []string{"link set " + peer + " master " + Bridge + " up"}); err != nil {
		return nil, err
	}
	if err := nsutil.IPBatch(ctx, h.Netns, []string{"addr add " + addr.String() + " dev " + HostInterface, "link set " + HostInterface + " up"}); err != nil {
		return nil, err
	}
	return h, nil
}

// AddVPCHost creates a VPC host: its namespace and bridge, configured as an operator
// would. Bind the VPC to it (Binding) for the data plane to link a transit router in; the
// data plane's older namespace link (dataplane.VPCLink{Netns: h.Netns}) works too, and
// then replaces the default route with its own.
func (l *Lab) AddVPCHost(ctx context.Context, name string, cidr netip.Prefix) (*VPCHost, error) {
	gw, err := config.DefaultGatewayIP(cidr.Masked())
	if err != nil {
		return nil, err
	}
	h := &VPCHost{Name: name, Netns: l.Prefix + "vpc-" + name, CIDR: cidr.Masked(), Addr: firstHost(cidr), Gateway: gw}
	l.mu.Lock()
	l.vpcs = append(l.vpcs, h)
	l.mu.Unlock()
	if err := nsutil.AddNetns(ctx, h.Netns, forwarding()...); err != nil {
		return nil, err
	}
	if err := nsutil.IPBatch(ctx, h.Netns, []string{
		"link add " + VPCBridge + " type bridge",
		"addr add " + netip.PrefixFrom(h.Addr, cidr.Bits()).String() + " dev " + VPCBridge,
		"link set " + VPCBridge + " up",
		"route add default via " + gw.Addr().String() + " dev " + VPCBridge,
	}); err != nil {
		return nil, err
	}
	return h, nil
}

// Binding binds VPC vpcID to the host's bridge (the admin's BindVpc, or a node's config).
func (h *VPCHost) Binding(vpcID string) config.VPCBinding {
	return config.VPCBinding{VpcID: vpcID, Netns: h.Netns, Bridge: VPCBridge, GatewayIP: h.Gateway.String()}
}

// BindParams are BindVpc's parameters for Binding(vpcID).
func (h *VPCHost) BindParams(vpcID string) map[string]string {
	return map[string]string{"VpcId": vpcID, "Netns": h.Netns, "Bridge": VPCBridge, "GatewayIp": h.Gateway.String()}
}

// Ping pings dst from the VPC host's address; nil if at least one reply came back.
func (h *VPCHost) Ping(ctx context.Context, dst netip.Addr, count int) error {
	return Ping(ctx, h.Netns, h.Addr, dst, count)
}

// Ping runs ping in ns from src to dst (count echo requests, 0.2 s apart, 1 s timeout
// each); nil if at least one reply came back.
func Ping(ctx context.Context, ns string, src, dst netip.Addr, count int) error {
	out, err := nsutil.Exec(ctx, ns, "ping", "-n", "-q", "-c", fmt.Sprint(count), "-i", "0.2", "-W", "1", "-I", src.String(), dst.String())
	if err != nil {
		return fmt.Errorf("ping %s -> %s in %s: %w\n%s", src, dst, ns, err, out)
	}
	return nil
}

// Down stops the data centers' charons and deletes every namespace and directory of the
// lab.
func (l *Lab) Down(ctx context.Context) error {
	return Cleanup(ctx, l.Prefix, l.RunDir)
}

// Cleanup removes a lab by its prefix alone (also after a crash): processes in its
// namespaces (charons, by pid file and by namespace), the namespaces, and the run dirs.
func Cleanup(ctx context.Context, prefix, runDir string) error {
	if runDir == "" {
		runDir = "/run/opencen/lab"
	}
	nss, err := nsutil.ListNetns(prefix)
	if err != nil {
		return err
	}
	var mine []string
	for _, ns := range nss {
		if ns == prefix+"wan" || strings.HasPrefix(ns, prefix+"dc-") || strings.HasPrefix(ns, prefix+"vpc-") || strings.HasPrefix(ns, prefix+"host-") {
			mine = append(mine, ns)
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(runDir, prefix+"dc-*"))
	errs := nsutil.StopAll(dirs, mine)
	for _, ns := range mine {
		errs = append(errs, nsutil.DelNetns(ctx, ns))
	}
	for _, dir := range dirs {
		errs = append(errs, os.RemoveAll(dir))
	}
	return errors.Join(errs...)
}
