package model

import "strings"

// Issue 4 kinds.
const (
	KindAssociation   = "assoc"
	KindPropagation   = "prop"
	KindRouteEntry    = "rte"
	KindVPC           = "vpc"
	KindVSwitch       = "vsw"
	KindVpcAttachment = "tr-attach-vpc"
	KindVcoRoute      = "vcoroute"
)

func init() {
	idPrefix[KindRouteEntry] = "rte-"
	idPrefix[KindVPC] = "vpc-"
	idPrefix[KindVSwitch] = "vsw-"
	idPrefix[KindVpcAttachment] = "tr-attach-"
	idPrefix[KindVcoRoute] = "vcor-"
	idPrefix[KindVRouter] = "vrt-"
}

// Association and propagation statuses.
const (
	StatusAssociating  = "Associating"
	StatusDissociating = "Dissociating"
	StatusEnabling     = "Enabling"
	StatusDisabling    = "Disabling"
	StatusAvailable    = "Available" // VPC / vSwitch
	StatusPending      = "Pending"
)

// Association says which route table traffic entering from an attachment is looked up in.
// Its ID is the attachment ID: an attachment associates with at most one table.
type Association struct {
	Meta
	AttachmentID    string `json:"attachmentId"`
	TableID         string `json:"tableId"`
	TransitRouterID string `json:"transitRouterId"`
}

// Propagation says a table learns an attachment's routes. ID: attachment:table.
type Propagation struct {
	Meta
	AttachmentID    string `json:"attachmentId"`
	TableID         string `json:"tableId"`
	TransitRouterID string `json:"transitRouterId"`
}

// RouteEntry is a static entry of a transit-router route table.
type RouteEntry struct {
	Meta
	TableID         string `json:"tableId"`
	TransitRouterID string `json:"transitRouterId"`
	Destination     string `json:"destination"`
	NextHopType     string `json:"nextHopType"` // Attachment | BlackHole
	NextHopID       string `json:"nextHopId,omitempty"`
	Name            string `json:"name,omitempty"`
	Description     string `json:"description,omitempty"`
}

// VPC is a virtual private cloud: enough of the VPC product to attach one.
type VPC struct {
	Meta
	CidrBlock   string `json:"cidrBlock"`
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	VSwitches   int    `json:"vswitches"`
	Attached    string `json:"attached,omitempty"` // transit-router attachment ID
	// VRouterID and RouteTableID name the VPC's vRouter and its System route table
	// (every vSwitch uses it), given at creation.
	VRouterID    string `json:"vRouterId,omitempty"`
	RouteTableID string `json:"routeTableId,omitempty"`
}

// KindVRouter prefixes vRouter IDs; a vRouter is not stored on its own.
const KindVRouter = "vrt"

// NewVPCRouter gives a new VPC its vRouter and System route table IDs.
func NewVPCRouter() (vrouter, table string) { return NewID(KindVRouter), NewID(KindRouteTable) }

// Router returns the VPC's vRouter and System route table IDs. A VPC stored before they
// were given at creation gets IDs derived from its own, the same on every read.
func (v *VPC) Router() (vrouter, table string) {
	if v.VRouterID != "" && v.RouteTableID != "" {
		return v.VRouterID, v.RouteTableID
	}
	suffix := strings.TrimPrefix(v.ID, idPrefix[KindVPC])
	return idPrefix[KindVRouter] + suffix, idPrefix[KindRouteTable] + suffix
}

// VSwitch is a zone's subnet of a VPC.
type VSwitch struct {
	Meta
	VpcID       string `json:"vpcId"`
	ZoneID      string `json:"zoneId"`
	CidrBlock   string `json:"cidrBlock"`
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
}

// ZoneMapping is one zone of a VPC attachment.
type ZoneMapping struct {
	ZoneID    string `json:"zoneId"`
	VSwitchID string `json:"vSwitchId"`
}

// VpcAttachment attaches a VPC to a transit router.
type VpcAttachment struct {
	Meta
	TransitRouterID string        `json:"transitRouterId"`
	CenID           string        `json:"cenId"`
	VpcID           string        `json:"vpcId"`
	VpcOwner        string        `json:"vpcOwner"`
	Name            string        `json:"name,omitempty"`
	Description     string        `json:"description,omitempty"`
	ZoneMappings    []ZoneMapping `json:"zoneMappings"`
	// AutoPublishRouteEnabled is stored and shown: OpenCEN does not model the VPC's own
	// route tables, which it would add the transit router's routes to.
	AutoPublishRouteEnabled bool `json:"autoPublishRouteEnabled,omitempty"`
	// OrderType is who pays ("" in records older than it: PayByCenOwner).
	OrderType string `json:"orderType,omitempty"`
	SystemLinks
}

// Payer is the attachment's OrderType.
func (a *VpcAttachment) Payer() string {
	if a.OrderType == "" {
		return OrderPayByCenOwner
	}
	return a.OrderType
}

// Who pays for an attachment (OrderType).
const (
	OrderPayByCenOwner      = "PayByCenOwner"
	OrderPayByResourceOwner = "PayByResourceOwner"
)

// VcoRoute is a VPN-side static route of an IPsec-VPN connection (CreateVcoRouteEntry).
type VcoRoute struct {
	Meta
	VpnConnectionID string `json:"vpnConnectionId"`
	RouteDest       string `json:"routeDest"`
	NextHop         string `json:"nextHop"`
	Weight          int    `json:"weight"`
	OverlayMode     string `json:"overlayMode"`
	Description     string `json:"description,omitempty"`
}

// RouteMapMatch holds a routing policy's match conditions (empty = any).
type RouteMapMatch struct {
	SourceInstanceIDs                  []string `json:"sourceInstanceIds,omitempty"`
	SourceInstanceIDsReverseMatch      bool     `json:"sourceInstanceIdsReverseMatch,omitempty"`
	DestinationInstanceIDs             []string `json:"destinationInstanceIds,omitempty"`
	DestinationInstanceIDsReverseMatch bool     `json:"destinationInstanceIdsReverseMatch,omitempty"`
	SourceRegionIDs                    []string `json:"sourceRegionIds,omitempty"`
	DestinationRegionIDs               []string `json:"destinationRegionIds,omitempty"`
	SourceRouteTableIDs                []string `json:"sourceRouteTableIds,omitempty"`
	DestinationRouteTableIDs           []string `json:"destinationRouteTableIds,omitempty"`
	SourceChildInstanceTypes           []string `json:"sourceChildInstanceTypes,omitempty"`
	DestinationChildInstanceTypes      []string `json:"destinationChildInstanceTypes,omitempty"`
	RouteTypes                         []string `json:"routeTypes,omitempty"`
	DestinationCidrBlocks              []string `json:"destinationCidrBlocks,omitempty"`
	CidrMatchMode                      string   `json:"cidrMatchMode,omitempty"`
	MatchAsns                          []int64  `json:"matchAsns,omitempty"`
	AsPathMatchMode                    string   `json:"asPathMatchMode,omitempty"`
	MatchCommunitySet                  []string `json:"matchCommunitySet,omitempty"`
	CommunityMatchMode                 string   `json:"communityMatchMode,omitempty"`
	MatchAddressType                   string   `json:"matchAddressType,omitempty"`
}

// RouteMapAction holds what a Permit policy changes.
type RouteMapAction struct {
	Preference           int      `json:"preference,omitempty"`
	PrependAsPath        []int64  `json:"prependAsPath,omitempty"`
	OperateCommunitySet  []string `json:"operateCommunitySet,omitempty"`
	CommunityOperateMode string   `json:"communityOperateMode,omitempty"`
}
