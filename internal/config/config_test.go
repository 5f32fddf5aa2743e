package config

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLoadFormats(t *testing.T) {
	dir := t.TempDir()
	yml := filepath.Join(dir, "c.yaml")
	os.WriteFile(yml, []byte("regions:\n  - id: eu-x\n    zones: [eu-x-a]\n    noVpnAttachment: true\nquotas:\n  vpn-attachments-per-tr: 7\n"), 0o600)
	tml := filepath.Join(dir, "c.toml")
	os.WriteFile(tml, []byte("[[regions]]\nid = \"eu-x\"\nzones = [\"eu-x-a\"]\nnoVpnAttachment = true\n[quotas]\nvpn-attachments-per-tr = 7\n"), 0o600)
	for _, p := range []string{yml, tml} {
		c, err := Load(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		r, ok := c.Region("eu-x")
		if !ok || !r.NoVPNAttachment || r.Zones[0] != "eu-x-a" || c.Quotas["vpn-attachments-per-tr"] != 7 {
			t.Fatalf("%s: got %+v", p, c)
		}
	}
}

func TestLoadRejects(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"unknown.yaml": "regionz: []\n",
		"nozone.yaml":  "regions:\n  - id: a\n",
		"dup.toml":     "[[regions]]\nid=\"a\"\nzones=[\"z\"]\n[[regions]]\nid=\"a\"\nzones=[\"z\"]\n",
		"x.json":       "{}",
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o600)
		if _, err := Load(p); err == nil {
			t.Errorf("%s: loaded without error", name)
		}
	}
	if c, err := Load(""); err != nil || len(c.Regions) != 2 {
		t.Fatalf("default: %v %+v", err, c)
	}
}

func TestPricing(t *testing.T) {
	dir := t.TempDir()
	yml := filepath.Join(dir, "p.yaml")
	os.WriteFile(yml, []byte("pricing:\n  currency: USD\n  regions:\n    cn-hangzhou:\n      TransitRouterConnection: 0.05\n      DataTransfer: 0.12\n"), 0o600)
	tml := filepath.Join(dir, "p.toml")
	os.WriteFile(tml, []byte("[pricing]\ncurrency = \"USD\"\n[pricing.regions.cn-hangzhou]\nTransitRouterConnection = 0.05\nDataTransfer = 0.12\n"), 0o600)
	for _, p := range []string{yml, tml} {
		c, err := Load(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if c.Pricing.CurrencyCode() != "USD" || c.Pricing.Price("cn-hangzhou", "DataTransfer") != 0.12 ||
			c.Pricing.Price("cn-hangzhou", "IPsecVPNConnection") != 0 || c.Pricing.Price("cn-shanghai", "DataTransfer") != 0 {
			t.Errorf("%s: %+v", p, c.Pricing)
		}
	}
	if d := Default(); d.Pricing.CurrencyCode() != "CNY" || d.Pricing.Price("cn-hangzhou", "DataTransfer") != 0 {
		t.Errorf("default price sheet: %+v", d.Pricing)
	}
	for name, body := range map[string]string{
		"item.yaml":     "pricing:\n  regions:\n    cn-hangzhou:\n      Bandwidth: 1\n",
		"region.yaml":   "pricing:\n  regions:\n    mars-1:\n      DataTransfer: 1\n",
		"negative.yaml": "pricing:\n  regions:\n    cn-hangzhou:\n      DataTransfer: -1\n",
		"currency.yaml": "pricing:\n  currency: dollars\n",
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o600)
		if _, err := Load(p); err == nil {
			t.Errorf("%s: loaded without error", name)
		}
	}
}
