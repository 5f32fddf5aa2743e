package controller

import (
	"fmt"
	"testing"
	"time"

	"opencen/internal/service"
)

func TestDecide(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	alive, dead := now.Add(5*time.Second), now.Add(-time.Second)
	node := func(name, zone string, lease time.Time, capacity int) service.GatewayNode {
		region := "cn-hangzhou"
		if zone == "cn-shanghai-e" {
			region = "cn-shanghai"
		}
		return service.GatewayNode{Node: name, Zone: zone, Region: region, LeaseExpires: lease, Alive: lease.After(now), Capacity: capacity}
	}
	router := func(id, region string, zones ...string) service.PlacedRouter {
		r := service.PlacedRouter{ID: id, Region: region, Zones: zones}
		for i := range zones {
			r.Connections = append(r.Connections, fmt.Sprintf("vco-%s-%d", id, i))
		}
		return r
	}
	for _, c := range []struct {
		name string
		in   service.PlacementInput
		want string
	}{
		{"first placement: the zone of most connections", service.PlacementInput{
			Routers: []service.PlacedRouter{router("tr-1", "cn-hangzhou", "cn-hangzhou-i", "cn-hangzhou-i", "cn-hangzhou-h")},
			Nodes:   []service.GatewayNode{node("a", "cn-hangzhou-h", alive, 0), node("b", "cn-hangzhou-i", alive, 0)},
		}, "[tr-1:  -> b (first placement)]"},
		{"stays on its live node", service.PlacementInput{
			Routers: []service.PlacedRouter{router("tr-1", "cn-hangzhou", "cn-hangzhou-i")},
			Nodes:   []service.GatewayNode{node("a", "cn-hangzhou-h", alive, 0), node("b", "cn-hangzhou-i", alive, 0)},
			Current: map[string]service.Placement{"tr-1": {Node: "a"}},
		}, "[]"},
		{"moves off a dead node", service.PlacementInput{
			Routers: []service.PlacedRouter{router("tr-1", "cn-hangzhou", "cn-hangzhou-h")},
			Nodes:   []service.GatewayNode{node("a", "cn-hangzhou-h", dead, 0), node("b", "cn-hangzhou-i", alive, 0)},
			Current: map[string]service.Placement{"tr-1": {Node: "a"}},
		}, "[tr-1: a -> b (gateway node a's lease expired at 2026-12-07T11:59:59Z)]"},
		{"only nodes of its region", service.PlacementInput{
			Routers: []service.PlacedRouter{router("tr-1", "cn-shanghai")},
			Nodes:   []service.GatewayNode{node("a", "cn-hangzhou-h", alive, 0)},
		}, "[]"},
		{"spread by load, then by name", service.PlacementInput{
			Routers: []service.PlacedRouter{router("tr-1", "cn-hangzhou", "", ""), router("tr-2", "cn-hangzhou", ""), router("tr-3", "cn-hangzhou", "")},
			Nodes:   []service.GatewayNode{node("b", "cn-hangzhou-h", alive, 0), node("a", "cn-hangzhou-h", alive, 0)},
		}, "[tr-1:  -> a (first placement) tr-2:  -> b (first placement) tr-3:  -> b (first placement)]"},
		{"within capacity first", service.PlacementInput{
			Routers: []service.PlacedRouter{router("tr-1", "cn-hangzhou", "cn-hangzhou-h", "cn-hangzhou-h")},
			Nodes:   []service.GatewayNode{node("a", "cn-hangzhou-h", alive, 1), node("b", "cn-hangzhou-i", alive, 0)},
		}, "[tr-1:  -> b (first placement)]"},
		{"a gone router's placement goes", service.PlacementInput{
			Nodes:   []service.GatewayNode{node("a", "cn-hangzhou-h", alive, 0)},
			Current: map[string]service.Placement{"tr-9": {Node: "a"}},
		}, "[tr-9: a ->  (the transit router is gone)]"},
		{"no live node: left as it is", service.PlacementInput{
			Routers: []service.PlacedRouter{router("tr-1", "cn-hangzhou", "cn-hangzhou-h")},
			Nodes:   []service.GatewayNode{node("a", "cn-hangzhou-h", dead, 0)},
			Current: map[string]service.Placement{"tr-1": {Node: "a"}},
		}, "[]"},
	} {
		var got []string
		for _, m := range Decide(c.in, now) {
			got = append(got, fmt.Sprintf("%s: %s -> %s (%s)", m.Router, m.From, m.To, m.Reason))
		}
		if s := fmt.Sprint(got); s != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, s, c.want)
		}
	}
}

// TestDecideTunnels: the tunnels of a dual-tunnel connection go to nodes of their own
// zones, with their router when it is there, and stay put while their node lives.
func TestDecideTunnels(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	alive, dead := now.Add(5*time.Second), now.Add(-time.Second)
	node := func(name, zone string, lease time.Time, underlay string) service.GatewayNode {
		return service.GatewayNode{Node: name, Zone: zone, Region: "cn-hangzhou", LeaseExpires: lease, Alive: lease.After(now), Underlay: underlay}
	}
	dual := service.PlacedRouter{ID: "tr-1", Region: "cn-hangzhou", Connections: []string{"vco-1"}, Zones: []string{"cn-hangzhou-h", "cn-hangzhou-i"},
		Tunnels: []service.PlacedTunnel{{ID: "tun-abc1", Connection: "vco-1", Zone: "cn-hangzhou-h"}, {ID: "tun-abc2", Connection: "vco-1", Zone: "cn-hangzhou-i"}}}
	h, i := node("a", "cn-hangzhou-h", alive, "10.0.0.1:4789"), node("b", "cn-hangzhou-i", alive, "10.0.0.2:4789")
	for _, c := range []struct {
		name string
		in   service.PlacementInput
		want string
	}{
		{"two zones, two nodes: one tunnel on each", service.PlacementInput{
			Routers: []service.PlacedRouter{dual}, Nodes: []service.GatewayNode{h, i},
		}, "[tr-1:  -> a (first placement) tr-1/tun-abc1:  -> a (zone cn-hangzhou-h, with transit router tr-1) " +
			"tr-1/tun-abc2:  -> b (the node of zone cn-hangzhou-i; transit router tr-1 runs on a)]"},
		{"placed: nothing moves", service.PlacementInput{
			Routers: []service.PlacedRouter{dual}, Nodes: []service.GatewayNode{h, i},
			Current: map[string]service.Placement{"tr-1": {Node: "a"}, "tun-abc1": {Node: "a"}, "tun-abc2": {Node: "b"}},
		}, "[]"},
		{"the slave's node dies: it runs with its router", service.PlacementInput{
			Routers: []service.PlacedRouter{dual}, Nodes: []service.GatewayNode{h, node("b", "cn-hangzhou-i", dead, "10.0.0.2:4789")},
			Current: map[string]service.Placement{"tr-1": {Node: "a"}, "tun-abc1": {Node: "a"}, "tun-abc2": {Node: "b"}},
		}, "[tr-1/tun-abc2: b -> a (no gateway node of zone cn-hangzhou-i can take it: it runs with transit router tr-1)]"},
		{"the router's node dies: router and its tunnel move to the other zone's node", service.PlacementInput{
			Routers: []service.PlacedRouter{dual}, Nodes: []service.GatewayNode{node("a", "cn-hangzhou-h", dead, "10.0.0.1:4789"), i},
			Current: map[string]service.Placement{"tr-1": {Node: "a"}, "tun-abc1": {Node: "a"}, "tun-abc2": {Node: "b"}},
		}, "[tr-1: a -> b (gateway node a's lease expired at 2026-12-07T11:59:59Z) " +
			"tr-1/tun-abc1: a -> b (no gateway node of zone cn-hangzhou-h can take it: it runs with transit router tr-1)]"},
		{"a node without an underlay cannot be linked: both tunnels with the router", service.PlacementInput{
			Routers: []service.PlacedRouter{dual}, Nodes: []service.GatewayNode{h, node("b", "cn-hangzhou-i", alive, "")},
			Current: map[string]service.Placement{"tr-1": {Node: "a"}},
		}, "[tr-1/tun-abc1:  -> a (zone cn-hangzhou-h, with transit router tr-1) " +
			"tr-1/tun-abc2:  -> a (no gateway node of zone cn-hangzhou-i can take it: it runs with transit router tr-1)]"},
		{"back to its zone's node only once that has been alive a while", service.PlacementInput{
			Routers: []service.PlacedRouter{dual}, Nodes: []service.GatewayNode{h, withStart(i, now.Add(-10*time.Second))},
			Current: map[string]service.Placement{"tr-1": {Node: "a"}, "tun-abc1": {Node: "a"}, "tun-abc2": {Node: "a"}},
		}, "[]"},
		{"back to its zone's node", service.PlacementInput{
			Routers: []service.PlacedRouter{dual}, Nodes: []service.GatewayNode{h, withStart(i, now.Add(-time.Minute))},
			Current: map[string]service.Placement{"tr-1": {Node: "a"}, "tun-abc1": {Node: "a"}, "tun-abc2": {Node: "a"}},
		}, "[tr-1/tun-abc2: a -> b (the node of zone cn-hangzhou-i; transit router tr-1 runs on a)]"},
		{"nodes on two VXLAN ports cannot be linked", service.PlacementInput{
			Routers: []service.PlacedRouter{dual}, Nodes: []service.GatewayNode{h, node("b", "cn-hangzhou-i", alive, "10.0.0.2:4790")},
			Current: map[string]service.Placement{"tr-1": {Node: "a"}, "tun-abc1": {Node: "a"}},
		}, "[tr-1/tun-abc2:  -> a (no gateway node of zone cn-hangzhou-i can take it: it runs with transit router tr-1)]"},
		{"a full node takes no tunnel", service.PlacementInput{
			Routers: []service.PlacedRouter{dual, {ID: "tr-2", Region: "cn-hangzhou", Connections: []string{"vco-2"}, Zones: []string{"cn-hangzhou-i"}}},
			Nodes:   []service.GatewayNode{h, withCapacity(i, 1)},
			Current: map[string]service.Placement{"tr-1": {Node: "a"}, "tr-2": {Node: "b"}, "tun-abc1": {Node: "a"}},
		}, "[tr-1/tun-abc2:  -> a (no gateway node of zone cn-hangzhou-i can take it: it runs with transit router tr-1)]"},
		{"a router goes to a node it can be linked from", service.PlacementInput{
			Routers: []service.PlacedRouter{{ID: "tr-1", Region: "cn-hangzhou"}},
			Nodes:   []service.GatewayNode{node("a", "cn-hangzhou-h", alive, ""), node("b", "cn-hangzhou-h", alive, "10.0.0.2:4789")},
		}, "[tr-1:  -> b (first placement)]"},
		{"a gone tunnel's placement goes", service.PlacementInput{
			Routers: []service.PlacedRouter{{ID: "tr-1", Region: "cn-hangzhou"}}, Nodes: []service.GatewayNode{h},
			Current: map[string]service.Placement{"tr-1": {Node: "a"}, "tun-vcoxx1": {Node: "a"}},
		}, "[/tun-vcoxx1: a ->  (the tunnel is gone)]"},
	} {
		var got []string
		for _, m := range Decide(c.in, now) {
			key := m.Router
			if m.Tunnel != "" {
				key += "/" + m.Tunnel
			}
			got = append(got, fmt.Sprintf("%s: %s -> %s (%s)", key, m.From, m.To, m.Reason))
		}
		if s := fmt.Sprint(got); s != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, s, c.want)
		}
	}
}

func withStart(n service.GatewayNode, at time.Time) service.GatewayNode { n.Started = at; return n }

func withCapacity(n service.GatewayNode, c int) service.GatewayNode { n.Capacity = c; return n }
