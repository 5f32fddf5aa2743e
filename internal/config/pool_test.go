package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestPoolAddrs(t *testing.T) {
	for _, c := range []struct {
		pool Pool
		want []string
	}{
		// A block keeps its network address, first host and broadcast address back.
		{Pool{"198.18.100.0/29"}, []string{"198.18.100.2", "198.18.100.3", "198.18.100.4", "198.18.100.5", "198.18.100.6"}},
		{Pool{"203.0.113.8/31"}, []string{"203.0.113.8", "203.0.113.9"}},
		{Pool{"203.0.113.7/32", "203.0.113.20"}, []string{"203.0.113.7", "203.0.113.20"}},
		{Pool{"203.0.113.10 - 203.0.113.12"}, []string{"203.0.113.10", "203.0.113.11", "203.0.113.12"}},
		{Pool{"255.255.255.254-255.255.255.255"}, []string{"255.255.255.254", "255.255.255.255"}},
		{Pool{"not an address", "203.0.113.1"}, []string{"203.0.113.1"}},
		{nil, nil},
	} {
		var got []string
		for a := range c.pool.Addrs() {
			got = append(got, a.String())
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%v: %v, want %v", c.pool, got, c.want)
		}
		for _, w := range c.want {
			if !c.pool.Contains(netip.MustParseAddr(w)) {
				t.Errorf("%v does not contain %s", c.pool, w)
			}
		}
	}
	if (Pool{"198.18.100.0/29"}).Contains(netip.MustParseAddr("198.18.100.1")) {
		t.Error("a block's first host is in the pool")
	}
}

func TestPoolValidate(t *testing.T) {
	for _, bad := range []string{"198.18.100.1/24", "2001:db8::/64", "10.0.0.9-10.0.0.1", "x", "10.0.0.1-y", ""} {
		if err := (Pool{bad}).Validate(); err == nil {
			t.Errorf("%q accepted", bad)
		} else if !strings.Contains(err.Error(), bad) {
			t.Errorf("%q: error %q does not name the entry", bad, err)
		}
	}
}

func TestPoolsInFiles(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"list.yaml": "regions:\n  - id: r\n    zones: [r-a, r-b]\n    publicPool: [198.18.100.0/24, 203.0.113.9]\n    zonePools:\n      r-b: 203.0.113.10-203.0.113.11\n",
		"list.toml": "[[regions]]\nid = \"r\"\nzones = [\"r-a\", \"r-b\"]\npublicPool = [\"198.18.100.0/24\", \"203.0.113.9\"]\n[regions.zonePools]\nr-b = \"203.0.113.10-203.0.113.11\"\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		r, _ := c.Region("r")
		if !slices.Equal(r.PoolOf("r-a"), Pool{"198.18.100.0/24", "203.0.113.9"}) || !slices.Equal(r.PoolOf("r-b"), Pool{"203.0.113.10-203.0.113.11"}) {
			t.Errorf("%s: pools %v / %v", name, r.PoolOf("r-a"), r.PoolOf("r-b"))
		}
	}
	for name, body := range map[string]string{
		"badentry.yaml": "regions:\n  - id: r\n    zones: [r-a]\n    publicPool: 198.18.100.1/24\n",
		"badzone.yaml":  "regions:\n  - id: r\n    zones: [r-a]\n    zonePools:\n      r-z: 203.0.113.1\n",
		"badtype.toml":  "[[regions]]\nid = \"r\"\nzones = [\"r-a\"]\npublicPool = 7\n",
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(p); err == nil {
			t.Errorf("%s loaded", name)
		}
	}
}
