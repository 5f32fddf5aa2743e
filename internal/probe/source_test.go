package probe

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"

	"opencen/internal/dataplane/nsutil"
)

// EnsureSource makes addr a local address of namespace netns ("" = the current one), for
// the tests: if no link there has it, it is added as addr/32 to lo (and lo is brought up).
// added says whether it was added. (In production the transit router holds its checks'
// sources on its lo: dataplane.Router.Sources.)
func EnsureSource(ctx context.Context, netns string, addr netip.Addr) (added bool, err error) {
	addr = addr.Unmap()
	if !addr.Is4() {
		return false, fmt.Errorf("source %v: want an IPv4 address", addr)
	}
	if netns != "" && !nsutil.NetnsExists(netns) {
		return false, fmt.Errorf("namespace %s does not exist", netns)
	}
	have, err := localAddrs(ctx, netns)
	if err != nil {
		return false, err
	}
	if _, ok := have[addr]; ok {
		return false, nil
	}
	if err := nsutil.IPBatch(ctx, netns, []string{
		"link set lo up",
		fmt.Sprintf("addr add %s/32 dev lo", addr),
	}); err != nil {
		return false, fmt.Errorf("add source %s to lo in namespace %q: %w", addr, netns, err)
	}
	return true, nil
}

type ifAddr struct {
	link string
	bits int
}

// localAddrs lists the IPv4 addresses of every link in netns.
func localAddrs(ctx context.Context, netns string) (map[netip.Addr]ifAddr, error) {
	out, err := nsutil.IPn(ctx, netns, "-j", "-4", "addr", "show")
	if err != nil {
		return nil, err
	}
	var links []struct {
		IfName   string `json:"ifname"`
		AddrInfo []struct {
			Local     string `json:"local"`
			PrefixLen int    `json:"prefixlen"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		return nil, fmt.Errorf("ip addr show in namespace %q: %w", netns, err)
	}
	m := map[netip.Addr]ifAddr{}
	for _, l := range links {
		for _, a := range l.AddrInfo {
			if ip, err := netip.ParseAddr(a.Local); err == nil {
				m[ip.Unmap()] = ifAddr{link: l.IfName, bits: a.PrefixLen}
			}
		}
	}
	return m, nil
}
