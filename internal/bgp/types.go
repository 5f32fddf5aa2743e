package bgp

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"opencen/internal/model"
)

// Limits and defaults.
const (
	// DefaultMaxLearned is how many prefixes a neighbor may announce before further ones
	// are ignored.
	DefaultMaxLearned = 100
	// HardLimitFactor × MaxLearned prefixes from one neighbor make GoBGP close the session.
	HardLimitFactor = 10
	// MaxAdvertised is how many prefixes are advertised to one neighbor at most.
	MaxAdvertised = 1000
	// DefaultASN is the speaker's global AS when Config.ASN is 0 (the product's default
	// LocalAsn).
	DefaultASN = 45104
	// DefaultHoldTime is a neighbor's hold time when Neighbor.HoldTime is 0; the keepalive
	// interval is a third of it.
	DefaultHoldTime = 30
	// maxPassword is TCP_MD5SIG_MAXKEYLEN.
	maxPassword = 80
)

// Config is the speaker's complete configuration.
type Config struct {
	// RouterID is the BGP identifier (an IPv4 address unique among the speaker and its
	// peers). Changing it (or ASN) restarts every session.
	RouterID netip.Addr `json:"routerId"`
	// ASN is the speaker's global AS; every neighbor has its own LocalAS besides. 0 =
	// DefaultASN.
	ASN uint32 `json:"asn,omitempty"`
	// Neighbors are the BGP neighbors, one per IPsec-VPN connection with BGP.
	Neighbors []Neighbor `json:"neighbors"`
}

// Neighbor is one BGP neighbor.
type Neighbor struct {
	// ID names the neighbor in Advertise, State and Watch: the connection's ID (vco-...).
	ID string `json:"id"`
	// Address is the peer's address: the customer's end of the tunnel /30.
	Address netip.Addr `json:"address"`
	// LocalAddress is the speaker's address for this session: the connection's
	// LocalBgpIp (on the router<->cell link).
	LocalAddress netip.Addr `json:"localAddress"`
	// LocalAS is the AS the speaker presents to this neighbor (the connection's LocalAsn;
	// connections may differ).
	LocalAS uint32 `json:"localAs"`
	// PeerAS is the customer's AS.
	PeerAS uint32 `json:"peerAs"`
	// AuthPassword is the TCP MD5 signature key (RFC 2385); empty = none.
	AuthPassword string `json:"authPassword,omitempty"`
	// HoldTime in seconds (0 = DefaultHoldTime, otherwise at least 3); keepalives are sent
	// every HoldTime/3.
	HoldTime uint32 `json:"holdTime,omitempty"`
	// Passive: never connect, only accept the peer's connection.
	Passive bool `json:"passive,omitempty"`
}

// Route is a path learned from a neighbor.
type Route struct {
	Prefix  netip.Prefix `json:"prefix"`
	NextHop netip.Addr   `json:"nextHop"`
	// ASPath is the AS path as received, flattened (AS_SET members in order).
	ASPath []uint32 `json:"asPath"`
	// Communities are standard communities as "ASN:value".
	Communities []string `json:"communities,omitempty"`
	MED         uint32   `json:"med,omitempty"`
}

// Session states (NeighborState.State).
const (
	StateUnknown     = "unknown"
	StateIdle        = "idle"
	StateConnect     = "connect"
	StateActive      = "active"
	StateOpenSent    = "opensent"
	StateOpenConfirm = "openconfirm"
	StateEstablished = "established"
)

// NeighborState is what the speaker knows about one neighbor.
type NeighborState struct {
	ID           string     `json:"id"`
	Address      netip.Addr `json:"address"`
	LocalAddress netip.Addr `json:"localAddress"`
	LocalAS      uint32     `json:"localAs"`
	PeerAS       uint32     `json:"peerAs"`
	// State is the session's FSM state (StateIdle ... StateEstablished).
	State       string `json:"state"`
	Established bool   `json:"established"`
	// Since is when the session was established (zero when it is not).
	Since time.Time `json:"since,omitzero"`
	// PeerRouterID is the peer's BGP identifier (while established).
	PeerRouterID string `json:"peerRouterId,omitempty"`
	// Flaps counts how often the session went down.
	Flaps uint32 `json:"flaps,omitempty"`
	// Learned are the accepted routes (at most MaxLearned), sorted by prefix. Empty while
	// the session is down.
	Learned []Route `json:"learned"`
	// Ignored counts prefixes the neighbor announces beyond MaxLearned; IgnoredPrefixes
	// lists (up to 20 of) them.
	Ignored         int            `json:"ignored,omitempty"`
	IgnoredPrefixes []netip.Prefix `json:"ignoredPrefixes,omitempty"`
	// Advertised is what the control plane asked to advertise to this neighbor (after the
	// MaxAdvertised cut), sorted; AdvertiseDropped counts what was cut.
	Advertised       []netip.Prefix `json:"advertised"`
	AdvertiseDropped int            `json:"advertiseDropped,omitempty"`
}

// Update is pushed to watchers: a neighbor's complete state after a change.
type Update struct {
	Neighbor NeighborState `json:"neighbor"`
	// Removed: the neighbor is no longer configured (Neighbor has its ID only).
	Removed bool `json:"removed,omitempty"`
}

// AdvertiseResult reports what an Advertise did.
type AdvertiseResult struct {
	// Dropped counts, per neighbor, the prefixes beyond MaxAdvertised that are not
	// advertised (absent = none).
	Dropped map[string]int `json:"dropped,omitempty"`
}

// Hello identifies a running speaker.
type Hello struct {
	PID     int    `json:"pid"`
	Version string `json:"version"`
	// Netns is the speaker's network namespace ("net:[inode]").
	Netns string `json:"netns"`
	// Configured: a configuration was applied since the speaker started (a restarted
	// gateway that finds Configured=false must configure and advertise again).
	Configured bool `json:"configured"`
	MaxLearned int  `json:"maxLearned"`
}

// Version is the protocol version the speaker reports in Hello.
const Version = "opencen-bgp/1"

// normalize validates c and returns it with defaults filled in and neighbors sorted by ID.
func (c Config) normalize() (Config, error) {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if !c.RouterID.Is4() || c.RouterID.IsUnspecified() {
		bad("router ID %v: want a non-zero IPv4 address", c.RouterID)
	}
	if c.ASN == 0 {
		c.ASN = DefaultASN
	}
	c.Neighbors = slices.Clone(c.Neighbors)
	ids := map[string]bool{}
	addrs := map[netip.Addr]string{}
	for i := range c.Neighbors {
		n := &c.Neighbors[i]
		if !model.SafeID(n.ID) {
			bad("neighbor ID %q: want 1-64 characters of letters, digits, '-', '_', '.'", n.ID)
		}
		if ids[n.ID] {
			bad("neighbor %s appears twice", n.ID)
		}
		ids[n.ID] = true
		if !n.Address.Is4() || n.Address.IsUnspecified() {
			bad("neighbor %s: address %v: want an IPv4 address", n.ID, n.Address)
		} else if other, ok := addrs[n.Address]; ok {
			bad("neighbors %s and %s share the address %v", other, n.ID, n.Address)
		}
		addrs[n.Address] = n.ID
		if !n.LocalAddress.Is4() || n.LocalAddress.IsUnspecified() || n.LocalAddress == n.Address {
			bad("neighbor %s: local address %v: want an IPv4 address other than the peer's", n.ID, n.LocalAddress)
		}
		if n.LocalAS == 0 || n.PeerAS == 0 {
			bad("neighbor %s: local AS %d / peer AS %d: both must be set", n.ID, n.LocalAS, n.PeerAS)
		}
		if len(n.AuthPassword) > maxPassword {
			bad("neighbor %s: the MD5 password has %d bytes, at most %d are possible", n.ID, len(n.AuthPassword), maxPassword)
		}
		if n.HoldTime == 0 {
			n.HoldTime = DefaultHoldTime
		}
		if n.HoldTime < 3 || n.HoldTime > 65535 {
			bad("neighbor %s: hold time %d: want 3 to 65535 seconds", n.ID, n.HoldTime)
		}
	}
	slices.SortFunc(c.Neighbors, func(a, b Neighbor) int { return strings.Compare(a.ID, b.ID) })
	if len(errs) > 0 {
		return c, errors.New("invalid BGP configuration: " + strings.Join(errs, "; "))
	}
	return c, nil
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// prefixSet validates, masks, dedupes and sorts prefixes, keeping at most limit; it
// returns the kept prefixes and how many were cut.
func prefixSet(ps []netip.Prefix, limit int) ([]netip.Prefix, int, error) {
	out := make([]netip.Prefix, 0, len(ps))
	for _, p := range ps {
		if !p.IsValid() || !p.Addr().Is4() {
			return nil, 0, fmt.Errorf("prefix %v: want an IPv4 prefix", p)
		}
		out = append(out, p.Masked())
	}
	slices.SortFunc(out, comparePrefix)
	out = slices.Compact(out)
	cut := 0
	if len(out) > limit {
		cut = len(out) - limit
		out = out[:limit]
	}
	return out, cut, nil
}
