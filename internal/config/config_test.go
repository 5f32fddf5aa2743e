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
