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
