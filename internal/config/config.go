// Package config loads the server's catalog: regions, zones and quota defaults.
package config

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"

	"go.yaml.in/yaml/v3"
	"opencen/internal/model"
)

// Region is one configured region.
type Region struct {
	ID    string   `yaml:"id" toml:"id"`
	Name  string   `yaml:"name" toml:"name"`
	Zones []string `yaml:"zones" toml:"zones"`
	// NoVPNAttachment marks a region whose transit routers cannot take IPsec-VPN attachments.
	NoVPNAttachment bool `yaml:"noVpnAttachment" toml:"noVpnAttachment"`
	// PublicPool holds the addresses public IPsec gateway IPs are allocated from.
	PublicPool Pool `yaml:"publicPool" toml:"publicPool"`
	// ZonePools, by zone, replace PublicPool for connections in that zone (addresses that
	// reach the zone's gateway nodes).
	ZonePools map[string]Pool `yaml:"zonePools" toml:"zonePools"`
	// Geography is the area a CEN bandwidth package names (GeographicRegionAId/BId):
	// china, asia-pacific, europe, north-america, middle-east or australia. A bandwidth
	// package serves the inter-region connections between its two areas. Empty: derived
	// from the region ID as Alibaba names regions (see Area).
	Geography string `yaml:"geography" toml:"geography"`
}

// Geographies are the areas a bandwidth package may connect, in Alibaba's spelling.
var Geographies = []string{"china", "asia-pacific", "europe", "north-america", "middle-east", "australia"}

// areaByPrefix derives an area from Alibaba's region ID prefixes.
var areaByPrefix = []struct{ prefix, area string }{
	{"cn-hongkong", "asia-pacific"}, {"cn-", "china"}, {"ap-southeast-2", "australia"}, {"ap-", "asia-pacific"},
	{"eu-", "europe"}, {"us-", "north-america"}, {"me-", "middle-east"},
}

// Area is the region's geography: the configured one, else derived from its ID
// (cn-* china, ap-* asia-pacific, eu-* europe, us-* north-america, me-* middle-east),
// else the region ID itself (a package must then name it).
func (r Region) Area() string {
	if r.Geography != "" {
		return r.Geography
	}
	for _, a := range areaByPrefix {
		if strings.HasPrefix(r.ID, a.prefix) {
			return a.area
		}
	}
	return r.ID
}

// PoolOf is the pool a public connection in zone takes its gateway IP from.
func (r Region) PoolOf(zone string) Pool {
	if p, ok := r.ZonePools[zone]; ok {
		return p
	}
	return r.PublicPool
}

// Config is the server catalog.
type Config struct {
	Regions []Region `yaml:"regions" toml:"regions"`
	// Quotas are per-account defaults by quota name; the admin may override per account.
	Quotas map[string]int `yaml:"quotas" toml:"quotas"`
	// Pricing is the price sheet bills are computed with.
	Pricing Pricing `yaml:"pricing" toml:"pricing"`
}

// Pricing is the price sheet: a unit price per region and billable item (model's item
// codes: per hour for connections, per GB for data), in one currency. An item without a
// price costs nothing.
type Pricing struct {
	// Currency is the bills' currency (ISO 4217, default CNY).
	Currency string `yaml:"currency" toml:"currency"`
	// Regions maps a region ID to its items' unit prices.
	Regions map[string]map[string]float64 `yaml:"regions" toml:"regions"`
}

// DefaultCurrency is the bills' currency when the price sheet names none.
const DefaultCurrency = "CNY"

// CurrencyCode is the price sheet's currency.
func (p Pricing) CurrencyCode() string {
	if p.Currency == "" {
		return DefaultCurrency
	}
	return p.Currency
}

// Price is the unit price of item in region (0 when the sheet has none).
func (p Pricing) Price(region, item string) float64 { return p.Regions[region][item] }

// Default is the catalog used without --config.
func Default() Config {
	return Config{
		Regions: []Region{
			{ID: "cn-hangzhou", Name: "China (Hangzhou)", Zones: []string{"cn-hangzhou-h", "cn-hangzhou-i"}, PublicPool: Pool{"198.18.100.0/24"}},
			{ID: "cn-shanghai", Name: "China (Shanghai)", Zones: []string{"cn-shanghai-e", "cn-shanghai-f"}, PublicPool: Pool{"198.18.101.0/24"}},
		},
	}
}

// Load reads a YAML (.yaml/.yml) or TOML (.toml) file; an empty path gives Default.
func Load(path string) (Config, error) {
	if path == "" {
		return Default(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	var c Config
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		dec := yaml.NewDecoder(strings.NewReader(string(data)))
		dec.KnownFields(true)
		err = dec.Decode(&c)
	case ".toml":
		var md toml.MetaData
		md, err = toml.Decode(string(data), &c)
		if err == nil && len(md.Undecoded()) > 0 {
			err = fmt.Errorf("unknown keys %v", md.Undecoded())
		}
	default:
		return Config{}, fmt.Errorf("config %s: use a .yaml, .yml or .toml file", path)
	}
	if err != nil {
		return Config{}, fmt.Errorf("parse config %s: %w", path, err)
	}
	if len(c.Regions) == 0 {
		c.Regions = Default().Regions
	}
	return c, c.validate()
}

func (c Config) validate() error {
	seen := map[string]bool{}
	for _, r := range c.Regions {
		if r.ID == "" {
			return fmt.Errorf("config: a region has no id")
		}
		if seen[r.ID] {
			return fmt.Errorf("config: region %s is listed twice", r.ID)
		}
		seen[r.ID] = true
		if len(r.Zones) == 0 {
			return fmt.Errorf("config: region %s has no zones", r.ID)
		}
		if r.Geography != "" && !slices.Contains(Geographies, r.Geography) {
			return fmt.Errorf("config: region %s: geography %q must be one of %s", r.ID, r.Geography, strings.Join(Geographies, ", "))
		}
		if err := r.PublicPool.Validate(); err != nil {
			return fmt.Errorf("config: region %s: publicPool: %w", r.ID, err)
		}
		for zone, pool := range r.ZonePools {
			if !slices.Contains(r.Zones, zone) {
				return fmt.Errorf("config: region %s: zonePools names zone %s, which is not one of its zones %v", r.ID, zone, r.Zones)
			}
			if err := pool.Validate(); err != nil {
				return fmt.Errorf("config: region %s: zonePools %s: %w", r.ID, zone, err)
			}
		}
	}
	for name, v := range c.Quotas {
		if v < 0 {
			return fmt.Errorf("config: quota %s is negative", name)
		}
	}
	return c.Pricing.validate(seen)
}

func (p Pricing) validate(regions map[string]bool) error {
	if p.Currency != "" && (len(p.Currency) != 3 || strings.ToUpper(p.Currency) != p.Currency || strings.Trim(p.Currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "") {
		return fmt.Errorf("config: pricing currency %q: want a three-letter code such as CNY or USD", p.Currency)
	}
	for region, items := range p.Regions {
		if !regions[region] {
			return fmt.Errorf("config: pricing names region %s, which is not in the catalog", region)
		}
		for item, price := range items {
			if !model.KnownBillingItem(item) {
				return fmt.Errorf("config: pricing of %s: unknown item %q; items are %s", region, item, strings.Join(model.BillingItems, ", "))
			}
			if price < 0 || math.IsNaN(price) || math.IsInf(price, 0) {
				return fmt.Errorf("config: pricing of %s: the price of %s must be a number of at least 0", region, item)
			}
		}
	}
	return nil
}

// Region looks a region up by ID.
func (c Config) Region(id string) (Region, bool) {
	for _, r := range c.Regions {
		if r.ID == id {
			return r, true
		}
	}
	return Region{}, false
}

// ZoneIDs lists every zone of the catalog, region by region.
func (c Config) ZoneIDs() []string {
	var out []string
	for _, r := range c.Regions {
		out = append(out, r.Zones...)
	}
	return out
}

// RegionOfZone returns the region a zone belongs to.
func (c Config) RegionOfZone(zone string) (Region, bool) {
	for _, r := range c.Regions {
		if slices.Contains(r.Zones, zone) {
			return r, true
		}
	}
	return Region{}, false
}
