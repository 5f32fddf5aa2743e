package model

import "slices"

// Billable items of the product page ("Billing rules for Internet/private VPN
// connections"), as bills and the price sheet name them. A transit router attachment
// (VPN or VPC) is billed for the connection to the transit router (per hour) and for the
// data it forwards into the router (per GB); an attached IPsec-VPN connection for itself
// (per hour) and for the data it sends toward the data center (per GB): "data transfer"
// for Internet connections, "outbound data transfer" (through the VBR) for private ones.
const (
	ItemTRConnection     = "TransitRouterConnection"
	ItemTRDataForwarding = "TransitRouterDataForwarding"
	ItemVPNConnection    = "IPsecVPNConnection"
	ItemDataTransfer     = "DataTransfer"
	ItemOutboundTransfer = "OutboundDataTransfer"
	// ItemInterRegionTransfer is what an inter-region connection billed by data transfer
	// (BandwidthType DataTransfer) carries between its regions, both ways, per GB (one
	// with a bandwidth package is paid for by the package).
	ItemInterRegionTransfer = "InterRegionDataTransfer"
)

// BillingItems lists every item code, in the order bills show them.
var BillingItems = []string{ItemTRConnection, ItemTRDataForwarding, ItemVPNConnection, ItemDataTransfer, ItemOutboundTransfer, ItemInterRegionTransfer}

// ItemNames name the items as bills show them.
var ItemNames = map[string]string{
	ItemTRConnection:        "Transit router connection",
	ItemTRDataForwarding:    "Transit router data forwarding",
	ItemVPNConnection:       "IPsec-VPN connection",
	ItemDataTransfer:        "Data transfer",
	ItemOutboundTransfer:    "Outbound data transfer",
	ItemInterRegionTransfer: "Inter-region data transfer",
}

// KnownBillingItem reports whether code is one of BillingItems.
func KnownBillingItem(code string) bool { return slices.Contains(BillingItems, code) }

// Units of the billable items.
const (
	UnitHour = "Hour"
	UnitGB   = "GB"
)

// BytesPerGB is the GB data items are billed in (2^30 bytes).
const BytesPerGB = 1 << 30

// Instance types usage is recorded for.
const (
	InstanceVpnAttachment  = "TransitRouterVpnAttachment"
	InstanceVpcAttachment  = "TransitRouterVpcAttachment"
	InstanceVpnConnection  = "VpnConnection"
	InstancePeerAttachment = "TransitRouterPeerAttachment"
)

// Product codes of the bills: the transit router items are CEN's, the connection's the
// VPN gateway's (as the cloud's bills file them).
const (
	ProductCbn = "cbn"
	ProductVpn = "vpn"
)

// ItemUnit is the unit an item is billed in.
func ItemUnit(code string) string {
	if code == ItemTRConnection || code == ItemVPNConnection {
		return UnitHour
	}
	return UnitGB
}

// ItemProduct is the product code an item is billed under.
func ItemProduct(code string) string {
	if code == ItemTRConnection || code == ItemTRDataForwarding || code == ItemInterRegionTransfer {
		return ProductCbn
	}
	return ProductVpn
}

// TransferItem is the data-transfer item of a connection of networkType ("public" or
// "private").
func TransferItem(networkType string) string {
	if networkType == "private" {
		return ItemOutboundTransfer
	}
	return ItemDataTransfer
}
