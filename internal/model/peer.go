package model

// Inter-region connections: transit router peer attachments and the CEN bandwidth
// packages they take bandwidth from.
const (
	KindPeerAttachment   = "tr-attach-peer"
	KindBandwidthPackage = "cenbwp"
)

func init() {
	idPrefix[KindPeerAttachment] = "tr-attach-"
	idPrefix[KindBandwidthPackage] = "cenbwp-"
}

// Bandwidth allocation of an inter-region connection (BandwidthType).
const (
	// BandwidthPackage: Bandwidth Mbit/s out of a bandwidth package bound to the CEN; with
	// no bandwidth allocated, the connection has the cloud's free testing bandwidth.
	BandwidthFromPackage = "BandwidthPackage"
	// DataTransfer: pay-by-data-transfer, Bandwidth is the cap (0: none).
	BandwidthDataTransfer = "DataTransfer"
)

// TestingBandwidthKbit is what an inter-region connection without allocated bandwidth
// carries: the cloud gives 1 Kbit/s "for connectivity tests only".
const TestingBandwidthKbit = 1

// Line types of an inter-region connection (DefaultLinkType).
const (
	LinkGold     = "Gold"
	LinkPlatinum = "Platinum"
)

// PeerAttachment connects two transit routers of one CEN in different regions. It is one
// resource seen from both routers: the local one it was created on (TransitRouterID, in
// Meta.Region) and the peer (PeerTransitRouterID in PeerRegion). Each router associates
// it with one of its own route tables and propagates it into its own tables.
type PeerAttachment struct {
	Meta
	TransitRouterID         string `json:"transitRouterId"`
	CenID                   string `json:"cenId"`
	PeerTransitRouterID     string `json:"peerTransitRouterId"`
	PeerRegion              string `json:"peerRegion"`
	Name                    string `json:"name,omitempty"`
	Description             string `json:"description,omitempty"`
	AutoPublishRouteEnabled bool   `json:"autoPublishRouteEnabled"`
	// Bandwidth is in Mbit/s: out of the package for BandwidthPackage, the cap for
	// DataTransfer.
	Bandwidth             int    `json:"bandwidth"`
	BandwidthType         string `json:"bandwidthType"`
	CenBandwidthPackageID string `json:"cenBandwidthPackageId,omitempty"`
	DefaultLinkType       string `json:"defaultLinkType"`
	SystemLinks
}

// RateKbit is the rate the data plane enforces on each direction of the link, in kbit/s
// (0: no limit).
func (p *PeerAttachment) RateKbit() uint64 {
	switch {
	case p.Bandwidth > 0:
		return uint64(p.Bandwidth) * 1000
	case p.BandwidthType == BandwidthDataTransfer:
		return 0
	}
	return TestingBandwidthKbit
}

// Routers are the two transit routers the attachment connects, local first.
func (p *PeerAttachment) Routers() [2]string {
	return [2]string{p.TransitRouterID, p.PeerTransitRouterID}
}

// Other is the router at the other end from tr, and its region.
func (p *PeerAttachment) Other(tr string) (string, string) {
	if tr == p.PeerTransitRouterID {
		return p.TransitRouterID, p.Region
	}
	return p.PeerTransitRouterID, p.PeerRegion
}

// Connects reports whether the attachment ends at router tr.
func (p *PeerAttachment) Connects(tr string) bool {
	return tr == p.TransitRouterID || tr == p.PeerTransitRouterID
}

// Bandwidth package statuses.
const (
	BwpIdle  = "Idle"  // bound to no CEN
	BwpInUse = "InUse" // bound to a CEN
)

// BandwidthPackage is a CEN bandwidth plan: Bandwidth Mbit/s between two geographic areas
// (equal for a plan within one area), shared by the inter-region connections of the one
// CEN it is bound to.
type BandwidthPackage struct {
	Meta
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	Bandwidth   int    `json:"bandwidth"`
	// GeographyA and GeographyB are areas (config.Geographies), A <= B.
	GeographyA string `json:"geographyA"`
	GeographyB string `json:"geographyB"`
	ChargeType string `json:"chargeType"` // POSTPAY | PREPAY
	// PeriodMonths is a prepaid package's term; it expires that many months after creation.
	PeriodMonths int    `json:"periodMonths,omitempty"`
	CenID        string `json:"cenId,omitempty"`
}

// Covers reports whether the package serves a connection between areas a and b.
func (b *BandwidthPackage) Covers(a, c string) bool {
	return (b.GeographyA == a && b.GeographyB == c) || (b.GeographyA == c && b.GeographyB == a)
}
