// Package model holds OpenCEN's resource types and their validation rules: pure functions, no I/O.
package model

import (
	"crypto/rand"
	"time"
)

// Lifecycle statuses shared by the CBN resources.
const (
	StatusCreating  = "Creating"
	StatusActive    = "Active"
	StatusDeleting  = "Deleting"
	StatusModifying = "Modifying"
)

// Tag is a resource tag.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Meta is what every stored resource carries.
type Meta struct {
	ID     string `json:"id"`
	Owner  string `json:"owner"` // account ID
	Region string `json:"region,omitempty"`
	Status string `json:"status,omitempty"`
	// Changed is when Status last changed; the lifecycle controller completes a
	// transitional status a configured delay after it, also after a restart.
	Changed time.Time `json:"changed"`
	Created time.Time `json:"created"`
	Tags    []Tag     `json:"tags,omitempty"`
}

// GetMeta lets generic code reach the Meta of any resource.
func (m *Meta) GetMeta() *Meta { return m }

// Resource is any stored resource.
type Resource interface{ GetMeta() *Meta }

// CEN is a Cloud Enterprise Network instance (global: no region).
type CEN struct {
	Meta
	Name            string `json:"name,omitempty"`
	Description     string `json:"description,omitempty"`
	ProtectionLevel string `json:"protectionLevel"`
	// Routers counts transit routers that still exist (including deleting ones), so
	// DeleteCen can refuse atomically: creating a TR rewrites its CEN.
	Routers int `json:"routers"`
}

// TransitRouter is one CEN's router in one region.
type TransitRouter struct {
	Meta
	CenID            string `json:"cenId"`
	Name             string `json:"name,omitempty"`
	Description      string `json:"description,omitempty"`
	Type             string `json:"type"`
	SupportMulticast bool   `json:"supportMulticast"`
	SystemTableID    string `json:"systemTableId"`
	// Attachments and CustomTables block deletion while non-zero.
	Attachments  int `json:"attachments"`
	CustomTables int `json:"customTables"`
}

// TransitRouterCidr is a CIDR block of a transit router (gateway IPs for private VPN
// connections come from these).
type TransitRouterCidr struct {
	Meta
	TransitRouterID  string `json:"transitRouterId"`
	CenID            string `json:"cenId"`
	Cidr             string `json:"cidr"`
	Name             string `json:"name,omitempty"`
	Description      string `json:"description,omitempty"`
	PublishCidrRoute bool   `json:"publishCidrRoute"`
}

// RouteTable is a transit-router route table.
type RouteTable struct {
	Meta
	TransitRouterID string `json:"transitRouterId"`
	Name            string `json:"name,omitempty"`
	Description     string `json:"description,omitempty"`
	Type            string `json:"type"` // System | Custom
	MultiRegionECMP string `json:"multiRegionEcmp"`
}

// Kinds name resource types in store keys and in ID prefixes.
const (
	KindCEN        = "cen"
	KindTR         = "tr"
	KindTRCidr     = "cidr"
	KindRouteTable = "vtb"
)

// idPrefix is Alibaba's prefix for each kind.
var idPrefix = map[string]string{
	KindCEN:        "cen-",
	KindTR:         "tr-",
	KindTRCidr:     "cidr-",
	KindRouteTable: "vtb-",
}

const idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// NewID returns an Alibaba-style ID for kind: its prefix and 18 random lower-case
// letters and digits.
func NewID(kind string) string {
	p, ok := idPrefix[kind]
	if !ok {
		p = kind + "-"
	}
	return p + randomString(18, idAlphabet)
}

func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// CBNTime formats times as the CBN APIs do (UTC, minutes).
func CBNTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04Z") }

// VPCTime formats times as the VPC APIs do (epoch milliseconds).
func VPCTime(t time.Time) int64 { return t.UnixMilli() }
