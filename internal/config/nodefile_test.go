package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadNodeFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	yamlFile := write("node.yaml", `
zone: cn-hangzhou-h
wan-interface: eth0
etcd-endpoints: [http://10.0.0.1:2379, http://10.0.0.2:2379]
capacity: 200
keep-dataplane-on-exit: true
lease-ttl: 10s
vpc-bindings:
  - vpc-id: vpc-a
    vxlan-vni: 100
    underlay: eth1
    remotes: [10.0.0.2, 10.0.0.3]
    gateway-ip: 10.1.0.253/24
  - vpc-id: vpc-b
    bridge: br-vpc-b
    gateway-ip: 10.2.0.1/24
`)
	tomlFile := write("node.toml", `
zone = "cn-hangzhou-h"
wan-interface = "eth0"
etcd-endpoints = ["http://10.0.0.1:2379", "http://10.0.0.2:2379"]
capacity = 200
keep-dataplane-on-exit = true
lease-ttl = "10s"

[[vpc-bindings]]
vpc-id = "vpc-a"
vxlan-vni = 100
underlay = "eth1"
remotes = ["10.0.0.2", "10.0.0.3"]
gateway-ip = "10.1.0.253/24"

[[vpc-bindings]]
vpc-id = "vpc-b"
bridge = "br-vpc-b"
gateway-ip = "10.2.0.1/24"
`)
	for _, p := range []string{yamlFile, tomlFile} {
		f, err := LoadNodeFile(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		want := map[string]string{"zone": "cn-hangzhou-h", "wan-interface": "eth0", "etcd-endpoints": "http://10.0.0.1:2379,http://10.0.0.2:2379",
			"capacity": "200", "keep-dataplane-on-exit": "true", "lease-ttl": "10s"}
		for k, v := range want {
			if f.Settings[k] != v {
				t.Errorf("%s: %s = %q, want %q", p, k, f.Settings[k], v)
			}
		}
		if len(f.Settings) != len(want) {
			t.Errorf("%s: settings %v, want %v", p, f.Settings, want)
		}
		if len(f.Bindings) != 2 || f.Bindings[0].Kind() != BindVXLAN || f.Bindings[0].VNI != 100 || len(f.Bindings[0].Remotes) != 2 || f.Bindings[1].Kind() != BindBridge {
			t.Errorf("%s: bindings %+v", p, f.Bindings)
		}
	}
	for name, c := range map[string]struct{ body, want string }{
		"bad.yaml":     {"vpc-bindings:\n  - vpc-id: vpc-a\n    brige: br0\n", "brige"},
		"invalid.yaml": {"vpc-bindings:\n  - vpc-id: vpc-a\n    bridge: br0\n", "gateway-ip"},
		"twice.toml":   {"[[vpc-bindings]]\nvpc-id = \"vpc-a\"\nnetns = \"a\"\n[[vpc-bindings]]\nvpc-id = \"vpc-a\"\nnetns = \"b\"\n", "bound twice"},
		"map.yaml":     {"zone:\n  a: b\n", "zone"},
		"node.json":    {"{}", "use a .yaml"},
	} {
		if _, err := LoadNodeFile(write(name, c.body)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %q", name, err, c.want)
		}
	}
}
