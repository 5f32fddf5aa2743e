// Package routing computes a transit router's route tables from its attachments, propagations, static entries and routing policies.
//
// The package is pure: no I/O, no clocks, no randomness. [Compute] recomputes everything from an
// [Input]; an [Engine] holds the same state, takes changes through mutators and recomputes only
// what they touch when [Engine.Flush] is called. Both answer the same questions through the
// [View] methods: the entries of a route table, the longest-prefix match in a table, what is
// advertised to an attachment (route synchronization), and a structured explanation of a
// decision.
//
// Model (one transit router, TR):
//
//   - An attachment (VPC, VPN, VBR, CCN or TR peer) offers routes. A VPC offers its CIDRs
//     (System routes); a VPN connection offers flow-protection peer CIDRs and VPN-side static
//     routes (Custom) and BGP-learned prefixes (BGP). A withdrawn attachment (health check
//     revoke_route, tunnel down) offers nothing.
//   - Propagation (attachment -> many tables) says where an attachment's routes are learned;
//     association (attachment -> one table) says in which table traffic entering from the
//     attachment is looked up, and which table's routes are advertised back to it.
//   - RegionIn route maps bound to a table filter and modify the routes propagated into it;
//     RegionOut route maps bound to a table filter and modify the routes of that table as they
//     are advertised to the attachments associated with it.
package routing

import (
	"fmt"
	"net/netip"
	"slices"
)

// AttachmentType is the kind of network instance behind an attachment.
type AttachmentType uint8

// Attachment types, in the order used to break ties between equally good non-ECMP routes.
const (
	TypeVPC AttachmentType = iota + 1
	TypeVBR
	TypeCCN
	TypeTR
	TypeVPN
)

// RouteType is the origin kind of a route: what an attachment offers (System, Custom, BGP)
// and, for entries, also static and BlackHole (the OriginRouteType of the API).
type RouteType uint8

// Route types. RouteSystem is the zero value.
const (
	RouteSystem    RouteType = iota // a VPC's CIDR or vSwitch CIDRs
	RouteCustom                     // VPN flow-protection peer CIDRs and VPN-side static routes
	RouteBGP                        // learned over BGP
	RouteStatic                     // a static entry of the route table with an attachment next hop
	RouteBlackHole                  // a static BlackHole entry
)

// Status is the state of a route table entry.
type Status uint8

// Entry statuses, in the order entries of one prefix are listed.
const (
	StatusActive     Status = iota + 1 // installed (several for an ECMP group)
	StatusStandby                      // an ECMP member beyond the ECMP limit
	StatusCandidate                    // valid but not the best
	StatusRejected                     // denied by a RegionIn routing policy
	StatusProhibited                   // a static entry whose next hop does not exist or is withdrawn
)

// EntryType says where an entry comes from.
type EntryType uint8

// Entry types.
const (
	EntryStatic EntryType = iota + 1
	EntryPropagated
)

// Direction is the transmit direction of a route map.
type Direction uint8

// Directions.
const (
	RegionIn  Direction = iota + 1 // routes propagated into the bound table
	RegionOut                      // routes of the bound table advertised to its associated attachments
)

// MapResult is what a matching route map does.
type MapResult uint8

// Route map results.
const (
	Permit MapResult = iota + 1
	Deny
)

// MatchMode says how a list condition matches: Include (the default) or Complete.
type MatchMode uint8

// Match modes.
const (
	MatchInclude MatchMode = iota
	MatchComplete
)

// AddressType restricts a route map to one address family; AnyAddress matches both.
type AddressType uint8

// Address types.
const (
	AnyAddress AddressType = iota
	IPv4
	IPv6
)

// CommunityOperateMode says how OperateCommunities is applied: Additive (the default) adds the
// communities, Replace replaces the route's communities with them.
type CommunityOperateMode uint8

// Community operate modes.
const (
	CommunityAdditive CommunityOperateMode = iota
	CommunityReplace
)

var (
	attachmentTypeNames = []string{"", "VPC", "VBR", "CCN", "TR", "VPN"}
	routeTypeNames      = []string{"System", "Custom", "BGP", "static", "BlackHole"}
	statusNames         = []string{"", "Active", "Standby", "Candidate", "Rejected", "Prohibited"}
	entryTypeNames      = []string{"", "Static", "Propagated"}
	directionNames      = []string{"", "RegionIn", "RegionOut"}
	mapResultNames      = []string{"", "Permit", "Deny"}
	matchModeNames      = []string{"Include", "Complete"}
	addressTypeNames    = []string{"", "IPv4", "IPv6"}
	operateModeNames    = []string{"Additive", "Replace"}
)

func enumName(names []string, v uint8) string {
	if int(v) < len(names) {
		return names[v]
	}
	return fmt.Sprintf("%d", v)
}

func enumParse[T ~uint8](names []string, what, s string) (T, error) {
	for i, n := range names {
		if n == s {
			return T(i), nil
		}
	}
	return 0, fmt.Errorf("routing: unknown %s %q", what, s)
}

func (t AttachmentType) String() string       { return enumName(attachmentTypeNames, uint8(t)) }
func (t RouteType) String() string            { return enumName(routeTypeNames, uint8(t)) }
func (s Status) String() string               { return enumName(statusNames, uint8(s)) }
func (t EntryType) String() string            { return enumName(entryTypeNames, uint8(t)) }
func (d Direction) String() string            { return enumName(directionNames, uint8(d)) }
func (r MapResult) String() string            { return enumName(mapResultNames, uint8(r)) }
func (m MatchMode) String() string            { return enumName(matchModeNames, uint8(m)) }
func (a AddressType) String() string          { return enumName(addressTypeNames, uint8(a)) }
func (m CommunityOperateMode) String() string { return enumName(operateModeNames, uint8(m)) }

// MarshalText implements encoding.TextMarshaler (the API's spelling).
func (t AttachmentType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// MarshalText implements encoding.TextMarshaler (the API's spelling).
func (t RouteType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// MarshalText implements encoding.TextMarshaler (the API's spelling).
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalText implements encoding.TextMarshaler (the API's spelling).
func (t EntryType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// MarshalText implements encoding.TextMarshaler (the API's spelling).
func (d Direction) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// MarshalText implements encoding.TextMarshaler (the API's spelling).
func (r MapResult) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// MarshalText implements encoding.TextMarshaler (the API's spelling).
func (m MatchMode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// MarshalText implements encoding.TextMarshaler (the API's spelling).
func (a AddressType) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// MarshalText implements encoding.TextMarshaler (the API's spelling).
func (m CommunityOperateMode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// ParseAttachmentType parses "VPC", "VBR", "CCN", "TR" or "VPN".
func ParseAttachmentType(s string) (AttachmentType, error) {
	if s == "" {
		return 0, fmt.Errorf("routing: empty attachment type")
	}
	return enumParse[AttachmentType](attachmentTypeNames, "attachment type", s)
}

// ParseRouteType parses "System", "Custom", "BGP", "static" or "BlackHole".
func ParseRouteType(s string) (RouteType, error) {
	return enumParse[RouteType](routeTypeNames, "route type", s)
}

// ParseDirection parses "RegionIn" or "RegionOut".
func ParseDirection(s string) (Direction, error) {
	if s == "" {
		return 0, fmt.Errorf("routing: empty direction")
	}
	return enumParse[Direction](directionNames, "direction", s)
}

// ParseMapResult parses "Permit" or "Deny".
func ParseMapResult(s string) (MapResult, error) {
	if s == "" {
		return 0, fmt.Errorf("routing: empty map result")
	}
	return enumParse[MapResult](mapResultNames, "map result", s)
}

// ParseMatchMode parses "Include" or "Complete"; "" is Include.
func ParseMatchMode(s string) (MatchMode, error) {
	if s == "" {
		return MatchInclude, nil
	}
	return enumParse[MatchMode](matchModeNames, "match mode", s)
}

// ParseAddressType parses "IPv4" or "IPv6"; "" is AnyAddress.
func ParseAddressType(s string) (AddressType, error) {
	return enumParse[AddressType](addressTypeNames, "address type", s)
}

// ParseCommunityOperateMode parses "Additive" or "Replace"; "" is Additive.
func ParseCommunityOperateMode(s string) (CommunityOperateMode, error) {
	if s == "" {
		return CommunityAdditive, nil
	}
	return enumParse[CommunityOperateMode](operateModeNames, "community operate mode", s)
}

// Table is a route table of the transit router.
type Table struct {
	ID string // vtb-...
}

// Attachment is a network instance attached to the transit router.
type Attachment struct {
	ID         string // tr-attach-...
	Type       AttachmentType
	ResourceID string // vpc-..., vco-..., vbr-...
	Region     string // the instance's region; "" means the transit router's region
	// Routes are the routes the attachment offers. The engine takes ownership of the slice (and
	// of the AsPath and Communities slices in it): do not modify them afterwards.
	Routes []OfferedRoute
	// Withdrawn: the attachment's routes are not offered (health check with revoke_route
	// failed, tunnel down); nothing is advertised to it either.
	Withdrawn bool
	// AutoPublish: the transit router advertises its associated table's routes to the
	// attachment (AutoPublishRouteEnabled, VPN route synchronization). VPCs always learn them.
	AutoPublish bool
}

// OfferedRoute is a route an attachment offers to the tables it propagates into.
// When an attachment offers one prefix several times, one is used: the first by (Kind: System,
// Custom, BGP; shorter AS path; AS path; communities).
type OfferedRoute struct {
	Prefix      netip.Prefix
	Kind        RouteType // RouteSystem, RouteCustom or RouteBGP
	AsPath      []uint32
	Communities []string // "n:m"
	// Origin is where a route an inter-region connection (a TR attachment) offers comes
	// from: the network instance in another region that offered it first. Zero for an
	// attachment's own routes.
	Origin Origin
}

// Origin is the network instance a route learned from another region started at, and the
// regions it crossed.
type Origin struct {
	InstanceID string // vpc-..., vco-...
	Type       AttachmentType
	// Regions are the regions the route was in before this transit router's, the origin's
	// first; a transit router never takes a route that was in its own region already.
	Regions []string
}

// Set reports whether the route came from another region.
func (o Origin) Set() bool { return o.InstanceID != "" || len(o.Regions) > 0 }

// Region is the origin's region ("" when not Set).
func (o Origin) Region() string {
	if len(o.Regions) == 0 {
		return ""
	}
	return o.Regions[0]
}

func (o Origin) equal(p Origin) bool {
	return o.InstanceID == p.InstanceID && o.Type == p.Type && slices.Equal(o.Regions, p.Regions)
}

// StaticEntry is a route entry configured in a route table.
type StaticEntry struct {
	ID        string // rte-...
	TableID   string
	Prefix    netip.Prefix
	NextHop   string // attachment ID; ignored when BlackHole
	BlackHole bool
}

// RouteMap is a routing policy bound to one route table in one direction.
//
// Conditions: an empty list matches everything; a route map matches when all its conditions
// match. "Instance IDs" match an attachment's ResourceID or its ID; the ...Reverse flags invert
// a non-empty instance condition. Conditions that have no subject in the map's direction are
// not applied: for RegionIn the destination is the table (DestinationInstanceIDs,
// DestinationChildInstanceTypes and SourceRouteTableIDs do not apply); for RegionOut the
// source table is the bound table and the destination is the receiving attachment
// (DestinationRouteTableIDs does not apply).
type RouteMap struct {
	ID           string
	Direction    Direction
	Priority     int    // 1-100 for custom maps; system maps > 1000 (e.g. 5000); smaller first
	TableID      string // the route table it is bound to
	Result       MapResult
	NextPriority int // Permit only: continue at the first map with priority >= NextPriority; 0 = stop

	SourceInstanceIDs             []string
	SourceInstanceIDsReverse      bool
	DestinationInstanceIDs        []string
	DestinationInstanceIDsReverse bool
	SourceRegionIDs               []string
	DestinationRegionIDs          []string
	SourceRouteTableIDs           []string
	DestinationRouteTableIDs      []string
	SourceChildInstanceTypes      []AttachmentType
	DestinationChildInstanceTypes []AttachmentType
	RouteTypes                    []RouteType // System, Custom, BGP (static entries count as Custom)
	DestinationCIDRs              []netip.Prefix
	CidrMatchMode                 MatchMode // Include: inside one of them; Complete: equal to one
	MatchASNs                     []uint32
	AsPathMatchMode               MatchMode // Include: any listed ASN in the path; Complete: path equals the list
	MatchCommunities              []string
	CommunityMatchMode            MatchMode // Include: any listed community; Complete: the same set
	MatchAddressType              AddressType

	// Actions, Permit only.
	Preference           int      // 1-100; 0 = unchanged
	PrependASPath        []uint32 // prepended to the AS path
	OperateCommunities   []string
	CommunityOperateMode CommunityOperateMode
}

// Input is the complete state of one transit router. IDs are unique (with duplicates the
// last one wins); the order of the slices does not matter.
type Input struct {
	Region      string // the transit router's region
	Tables      []Table
	Attachments []Attachment
	// Associations maps an attachment ID to the one table it is associated with.
	Associations map[string]string
	// Propagations maps an attachment ID to the tables it propagates its routes into.
	Propagations map[string][]string
	Statics      []StaticEntry
	RouteMaps    []RouteMap
	EcmpLimit    int // maximum Active members of an ECMP group; <= 0 means DefaultEcmpLimit
}

// DefaultEcmpLimit is the ECMP quota when Input.EcmpLimit is not set.
const DefaultEcmpLimit = 16

// DefaultPreference is the preference of a route no policy changed. Smaller wins.
const DefaultPreference = 50

// PathAttributes are a route's BGP-like attributes, as ListTransitRouterRouteEntries reports them.
type PathAttributes struct {
	AsPath             []uint32       `json:"AsPaths"`
	Communities        []string       `json:"Communities"`
	OriginInstanceID   string         `json:"OriginInstanceId"`
	OriginInstanceType AttachmentType `json:"OriginInstanceType"`
	OriginRouteType    RouteType      `json:"OriginRouteType"`
	Preference         int            `json:"Preference"` // 0 for static entries: they beat every propagated route
	// Regions are the other regions a route learned over an inter-region connection went
	// through, its origin's first (empty for this region's routes).
	Regions []string `json:"Regions,omitempty"`
}

// OriginRegion is the region the route started in ("" for this transit router's).
func (p PathAttributes) OriginRegion() string {
	if len(p.Regions) == 0 {
		return ""
	}
	return p.Regions[0]
}

// Entry is one row of a route table: a static entry, or one attachment's route for a prefix.
// An ECMP group is several Active entries of one prefix. Slices in an Entry are shared with the
// engine and must not be modified.
type Entry struct {
	Prefix    netip.Prefix
	Type      EntryType
	Status    Status
	NextHop   string // attachment ID (for a Prohibited static, the missing or withdrawn one); "" for BlackHole
	BlackHole bool
	StaticID  string // the static entry's ID (Type == EntryStatic)
	Path      PathAttributes
}

// Route is the forwarding decision for a prefix: its Active entries combined.
type Route struct {
	Prefix    netip.Prefix
	NextHops  []string // the Active next-hop attachment IDs, in ECMP order; must not be modified
	BlackHole bool
}

// TableDiff lists what changed in one route table. Entries are identified by (Prefix, Type,
// NextHop, StaticID); Changed holds the new version of an entry whose status or attributes
// changed.
type TableDiff struct {
	Added, Removed, Changed []Entry
}

// Diff is what a Flush changed.
type Diff struct {
	Tables     map[string]TableDiff // only tables with changes
	Advertised []string             // attachments whose advertised routes changed, sorted
}

// Empty reports whether nothing changed.
func (d Diff) Empty() bool { return len(d.Tables) == 0 && len(d.Advertised) == 0 }

func unmarshalEnum[T ~uint8](names []string, what string, b []byte, v *T) error {
	x, err := enumParse[T](names, what, string(b))
	if err == nil {
		*v = x
	}
	return err
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (t *AttachmentType) UnmarshalText(b []byte) error {
	return unmarshalEnum(attachmentTypeNames, "attachment type", b, t)
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (t *RouteType) UnmarshalText(b []byte) error {
	return unmarshalEnum(routeTypeNames, "route type", b, t)
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Status) UnmarshalText(b []byte) error { return unmarshalEnum(statusNames, "status", b, s) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (t *EntryType) UnmarshalText(b []byte) error {
	return unmarshalEnum(entryTypeNames, "entry type", b, t)
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Direction) UnmarshalText(b []byte) error {
	return unmarshalEnum(directionNames, "direction", b, d)
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *MapResult) UnmarshalText(b []byte) error {
	return unmarshalEnum(mapResultNames, "map result", b, r)
}

// UnmarshalText implements encoding.TextUnmarshaler ("" is Include).
func (m *MatchMode) UnmarshalText(b []byte) error {
	x, err := ParseMatchMode(string(b))
	if err == nil {
		*m = x
	}
	return err
}

// UnmarshalText implements encoding.TextUnmarshaler ("" is any address).
func (a *AddressType) UnmarshalText(b []byte) error {
	return unmarshalEnum(addressTypeNames, "address type", b, a)
}

// UnmarshalText implements encoding.TextUnmarshaler ("" is Additive).
func (m *CommunityOperateMode) UnmarshalText(b []byte) error {
	x, err := ParseCommunityOperateMode(string(b))
	if err == nil {
		*m = x
	}
	return err
}
