package routing

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func sysRoute(p string) OfferedRoute { return OfferedRoute{Prefix: pfx(p), Kind: RouteSystem} }
func custRoute(p string) OfferedRoute {
	return OfferedRoute{Prefix: pfx(p), Kind: RouteCustom}
}
func bgpRoute(p string, as ...uint32) OfferedRoute {
	return OfferedRoute{Prefix: pfx(p), Kind: RouteBGP, AsPath: as}
}
func withComms(r OfferedRoute, cs ...string) OfferedRoute { r.Communities = cs; return r }

func vpcAtt(id string, cidrs ...string) Attachment {
	a := Attachment{ID: id, Type: TypeVPC, ResourceID: "vpc-" + id}
	for _, c := range cidrs {
		a.Routes = append(a.Routes, sysRoute(c))
	}
	return a
}

func vpnAtt(id string, routes ...OfferedRoute) Attachment {
	return Attachment{ID: id, Type: TypeVPN, ResourceID: "vco-" + id, AutoPublish: true, Routes: routes}
}

// systemPolicy is the policy added to every table when a VPN connection is attached.
func systemPolicy(table string) RouteMap {
	types := []AttachmentType{TypeVPN, TypeVBR, TypeCCN}
	return RouteMap{ID: "cenrmap-sys-" + table, Direction: RegionOut, Priority: 5000, TableID: table, Result: Deny,
		SourceChildInstanceTypes: types, DestinationChildInstanceTypes: types}
}

// base: one table; a VPC and two data centers over VPN, all associated with and propagating
// into it, with the system policy.
func base() Input {
	return Input{
		Region: "cn-hangzhou",
		Tables: []Table{{ID: "vtb-1"}},
		Attachments: []Attachment{
			vpcAtt("a", "10.0.0.0/16"),
			vpnAtt("dc1", bgpRoute("192.168.1.0/24", 65001)),
			vpnAtt("dc2", bgpRoute("192.168.2.0/24", 65002)),
		},
		Associations: map[string]string{"a": "vtb-1", "dc1": "vtb-1", "dc2": "vtb-1"},
		Propagations: map[string][]string{"a": {"vtb-1"}, "dc1": {"vtb-1"}, "dc2": {"vtb-1"}},
		RouteMaps:    []RouteMap{systemPolicy("vtb-1")},
	}
}

func modify(in Input, f func(*Input)) Input {
	f(&in)
	return in
}

func setAtt(in *Input, a Attachment) {
	for i := range in.Attachments {
		if in.Attachments[i].ID == a.ID {
			in.Attachments[i] = a
			return
		}
	}
	in.Attachments = append(in.Attachments, a)
}

func findAtt(in *Input, id string) *Attachment {
	for i := range in.Attachments {
		if in.Attachments[i].ID == id {
			return &in.Attachments[i]
		}
	}
	return nil
}

// summary renders the entries of a prefix: "Active:dc1 Standby:dc3 Candidate:static(rte-1)>a".
func summary(v View, table, prefix string) string {
	var parts []string
	for _, e := range v.Entries(table, pfx(prefix)) {
		hop := e.NextHop
		if e.BlackHole {
			hop = "blackhole"
		}
		if e.Type == EntryStatic {
			hop = "static>" + hop
		}
		parts = append(parts, e.Status.String()+":"+hop)
	}
	return strings.Join(parts, " ")
}

func advertisedPrefixes(v View, att string) string {
	var parts []string
	for _, e := range v.Advertised(att) {
		parts = append(parts, e.Prefix.String())
	}
	return strings.Join(parts, " ")
}

func TestScenarios(t *testing.T) {
	type check func(t *testing.T, v View)
	tests := []struct {
		name    string
		in      Input
		entries map[string]string // "table prefix" -> summary
		adv     map[string]string // attachment -> advertised prefixes
		check   check
	}{
		{
			name: "association and propagation",
			in: modify(base(), func(in *Input) {
				in.Tables = append(in.Tables, Table{ID: "vtb-2"})
				in.Associations["a"] = "vtb-2" // a's traffic and advertisements use vtb-2
				in.Propagations["dc1"] = []string{"vtb-1", "vtb-2"}
				in.RouteMaps = nil
			}),
			entries: map[string]string{
				"vtb-1 10.0.0.0/16":     "Active:a",
				"vtb-2 10.0.0.0/16":     "",
				"vtb-1 192.168.1.0/24":  "Active:dc1",
				"vtb-2 192.168.1.0/24":  "Active:dc1",
				"vtb-2 192.168.2.0/24":  "",
				"vtb-1 192.168.2.0/24":  "Active:dc2",
				"vtb-3 192.168.2.0/24":  "",
				"vtb-1 192.168.99.0/24": "",
			},
			adv: map[string]string{
				"a":   "192.168.1.0/24",
				"dc1": "10.0.0.0/16 192.168.2.0/24",
				"dc2": "10.0.0.0/16 192.168.1.0/24",
			},
			check: func(t *testing.T, v View) {
				if r, ok := v.Lookup("vtb-2", netip.MustParseAddr("10.0.1.1")); ok {
					t.Errorf("vtb-2 has no route to 10.0.1.1, got %+v", r)
				}
				r, ok := v.Lookup("vtb-1", netip.MustParseAddr("10.0.1.1"))
				if !ok || r.Prefix != pfx("10.0.0.0/16") || !slices.Equal(r.NextHops, []string{"a"}) {
					t.Errorf("lookup 10.0.1.1 in vtb-1 = %+v %v", r, ok)
				}
			},
		},
		{
			name: "static beats propagated",
			in: modify(base(), func(in *Input) {
				in.Statics = []StaticEntry{{ID: "rte-1", TableID: "vtb-1", Prefix: pfx("10.0.0.0/16"), NextHop: "dc1"}}
			}),
			entries: map[string]string{"vtb-1 10.0.0.0/16": "Active:static>dc1 Candidate:a"},
			check: func(t *testing.T, v View) {
				e := v.Entries("vtb-1", pfx("10.0.0.0/16"))[0]
				if e.Type != EntryStatic || e.StaticID != "rte-1" || e.Path.OriginRouteType != RouteStatic ||
					e.Path.OriginInstanceID != "vco-dc1" || e.Path.OriginInstanceType != TypeVPN {
					t.Errorf("static entry = %+v", e)
				}
				r, _ := v.Lookup("vtb-1", netip.MustParseAddr("10.0.0.1"))
				if !slices.Equal(r.NextHops, []string{"dc1"}) {
					t.Errorf("lookup = %+v", r)
				}
			},
		},
		{
			name: "blackhole",
			in: modify(base(), func(in *Input) {
				in.Statics = []StaticEntry{{ID: "rte-bh", TableID: "vtb-1", Prefix: pfx("10.0.0.0/8"), BlackHole: true}}
			}),
			entries: map[string]string{"vtb-1 10.0.0.0/8": "Active:static>blackhole", "vtb-1 10.0.0.0/16": "Active:a"},
			// BlackHole entries are not advertised.
			adv: map[string]string{"dc1": "10.0.0.0/16", "a": "192.168.1.0/24 192.168.2.0/24"},
			check: func(t *testing.T, v View) {
				r, ok := v.Lookup("vtb-1", netip.MustParseAddr("10.9.9.9"))
				if !ok || !r.BlackHole || len(r.NextHops) != 0 || r.Prefix != pfx("10.0.0.0/8") {
					t.Errorf("lookup = %+v %v", r, ok)
				}
				e := v.Entries("vtb-1", pfx("10.0.0.0/8"))[0]
				if !e.BlackHole || e.Path.OriginRouteType != RouteBlackHole || e.NextHop != "" {
					t.Errorf("entry = %+v", e)
				}
				r, _ = v.Lookup("vtb-1", netip.MustParseAddr("10.0.9.9"))
				if r.Prefix != pfx("10.0.0.0/16") {
					t.Errorf("longest prefix wins over the blackhole: %+v", r)
				}
			},
		},
		{
			name: "ECMP over three VPN attachments with a limit of 2",
			in: modify(base(), func(in *Input) {
				in.EcmpLimit = 2
				for _, id := range []string{"dc3", "dc2", "dc1"} {
					a := vpnAtt(id)
					if f := findAtt(in, id); f != nil {
						a = *f
					}
					a.Routes = append(slices.Clone(a.Routes), bgpRoute("172.16.0.0/12", 64512))
					setAtt(in, a)
				}
				in.Propagations["dc3"] = []string{"vtb-1"}
			}),
			entries: map[string]string{"vtb-1 172.16.0.0/12": "Active:dc1 Active:dc2 Standby:dc3"},
			adv: map[string]string{
				// Split horizon: dc1 and dc2 are next hops; the system policy keeps it from dc3.
				"a": "172.16.0.0/12 192.168.1.0/24 192.168.2.0/24",
			},
			check: func(t *testing.T, v View) {
				r, _ := v.Lookup("vtb-1", netip.MustParseAddr("172.16.1.1"))
				if !slices.Equal(r.NextHops, []string{"dc1", "dc2"}) {
					t.Errorf("ECMP next hops = %v", r.NextHops)
				}
			},
		},
		{
			name: "system policy 5000 separates data centers; the VPC learns both",
			in:   base(),
			adv: map[string]string{
				"a":   "192.168.1.0/24 192.168.2.0/24",
				"dc1": "10.0.0.0/16",
				"dc2": "10.0.0.0/16",
			},
			check: func(t *testing.T, v View) {
				x := v.Explain("vtb-1", pfx("192.168.2.0/24"), "dc1")
				if x.Advertisement == nil || x.Advertisement.Advertised || !strings.Contains(x.Advertisement.Reason, "cenrmap-sys-vtb-1") {
					t.Errorf("explain: %s", x)
				}
			},
		},
		{
			name: "custom permit at priority 10 joins the data centers",
			in: modify(base(), func(in *Input) {
				in.RouteMaps = append(in.RouteMaps, RouteMap{ID: "cenrmap-join", Direction: RegionOut, Priority: 10,
					TableID: "vtb-1", Result: Permit,
					SourceChildInstanceTypes: []AttachmentType{TypeVPN}, DestinationChildInstanceTypes: []AttachmentType{TypeVPN}})
			}),
			adv: map[string]string{
				"a":   "192.168.1.0/24 192.168.2.0/24",
				"dc1": "10.0.0.0/16 192.168.2.0/24",
				"dc2": "10.0.0.0/16 192.168.1.0/24",
			},
		},
		{
			name: "RegionIn deny by prefix, Include",
			in: modify(base(), func(in *Input) {
				in.RouteMaps = append(in.RouteMaps, RouteMap{ID: "cenrmap-in", Direction: RegionIn, Priority: 1,
					TableID: "vtb-1", Result: Deny, DestinationCIDRs: []netip.Prefix{pfx("192.168.0.0/16")}})
			}),
			entries: map[string]string{
				"vtb-1 192.168.1.0/24": "Rejected:dc1",
				"vtb-1 192.168.2.0/24": "Rejected:dc2",
				"vtb-1 10.0.0.0/16":    "Active:a",
			},
			adv: map[string]string{"a": ""},
			check: func(t *testing.T, v View) {
				if _, ok := v.Lookup("vtb-1", netip.MustParseAddr("192.168.1.1")); ok {
					t.Error("a rejected route must not be installed")
				}
			},
		},
		{
			name: "RegionIn deny by prefix, Complete",
			in: modify(base(), func(in *Input) {
				in.RouteMaps = append(in.RouteMaps,
					RouteMap{ID: "cenrmap-in1", Direction: RegionIn, Priority: 1, TableID: "vtb-1", Result: Deny,
						DestinationCIDRs: []netip.Prefix{pfx("192.168.0.0/16")}, CidrMatchMode: MatchComplete},
					RouteMap{ID: "cenrmap-in2", Direction: RegionIn, Priority: 2, TableID: "vtb-1", Result: Deny,
						DestinationCIDRs: []netip.Prefix{pfx("192.168.1.0/24")}, CidrMatchMode: MatchComplete})
			}),
			entries: map[string]string{"vtb-1 192.168.1.0/24": "Rejected:dc1", "vtb-1 192.168.2.0/24": "Active:dc2"},
			check: func(t *testing.T, v View) {
				x := v.Explain("vtb-1", pfx("192.168.2.0/24"), "")
				st := x.Candidates[0].RegionIn
				if len(st) != 2 || st[0].Outcome != "not matched" || !strings.Contains(st[0].Failed, "DestinationCidrBlocks (Complete)") {
					t.Errorf("explain: %s", x)
				}
			},
		},
		{
			name: "AS-path prepend changes the choice",
			in: modify(base(), func(in *Input) {
				setAtt(in, vpnAtt("dc1", bgpRoute("172.16.0.0/12", 65001)))
				setAtt(in, vpnAtt("dc2", bgpRoute("172.16.0.0/12", 65002)))
				in.RouteMaps = append(in.RouteMaps, RouteMap{ID: "cenrmap-prepend", Direction: RegionIn, Priority: 5,
					TableID: "vtb-1", Result: Permit, SourceInstanceIDs: []string{"vco-dc1"}, PrependASPath: []uint32{65001, 65001}})
			}),
			entries: map[string]string{"vtb-1 172.16.0.0/12": "Active:dc2 Candidate:dc1"},
			check: func(t *testing.T, v View) {
				es := v.Entries("vtb-1", pfx("172.16.0.0/12"))
				if !slices.Equal(es[1].Path.AsPath, []uint32{65001, 65001, 65001}) {
					t.Errorf("prepended path = %v", es[1].Path.AsPath)
				}
				x := v.Explain("vtb-1", pfx("172.16.0.0/12"), "")
				if !strings.Contains(x.Candidates[1].Reason, "AS path length 3 is longer than 1") {
					t.Errorf("explain: %s", x)
				}
			},
		},
		{
			name: "without prepend the two data centers are ECMP",
			in: modify(base(), func(in *Input) {
				setAtt(in, vpnAtt("dc1", bgpRoute("172.16.0.0/12", 65001)))
				setAtt(in, vpnAtt("dc2", bgpRoute("172.16.0.0/12", 65002)))
			}),
			entries: map[string]string{"vtb-1 172.16.0.0/12": "Active:dc1 Active:dc2"},
		},
		{
			name: "preference beats AS path length",
			in: modify(base(), func(in *Input) {
				setAtt(in, vpnAtt("dc1", bgpRoute("172.16.0.0/12", 65001)))
				setAtt(in, vpnAtt("dc2", bgpRoute("172.16.0.0/12", 65002, 65003, 65004)))
				in.RouteMaps = append(in.RouteMaps, RouteMap{ID: "cenrmap-pref", Direction: RegionIn, Priority: 5,
					TableID: "vtb-1", Result: Permit, SourceInstanceIDs: []string{"dc2"}, Preference: 20})
			}),
			entries: map[string]string{"vtb-1 172.16.0.0/12": "Active:dc2 Candidate:dc1"},
			check: func(t *testing.T, v View) {
				es := v.Entries("vtb-1", pfx("172.16.0.0/12"))
				if es[0].Path.Preference != 20 || es[1].Path.Preference != 50 {
					t.Errorf("preferences = %d %d", es[0].Path.Preference, es[1].Path.Preference)
				}
			},
		},
		{
			name: "VPC beats VPN on a tie; no ECMP with a non-VPN route",
			in: modify(base(), func(in *Input) {
				setAtt(in, vpnAtt("dc1", custRoute("10.0.0.0/16")))
				setAtt(in, vpnAtt("dc2", custRoute("10.0.0.0/16")))
			}),
			entries: map[string]string{"vtb-1 10.0.0.0/16": "Active:a Candidate:dc1 Candidate:dc2"},
		},
		{
			name: "NextPriority chain: permit, skip, permit",
			in: modify(base(), func(in *Input) {
				in.RouteMaps = append(in.RouteMaps,
					RouteMap{ID: "m10", Direction: RegionIn, Priority: 10, TableID: "vtb-1", Result: Permit,
						Preference: 30, NextPriority: 30, RouteTypes: []RouteType{RouteBGP}},
					RouteMap{ID: "m20", Direction: RegionIn, Priority: 20, TableID: "vtb-1", Result: Deny},
					RouteMap{ID: "m30", Direction: RegionIn, Priority: 30, TableID: "vtb-1", Result: Permit,
						PrependASPath: []uint32{45104}, MatchASNs: []uint32{65001}})
			}),
			// dc1: m10 then m30; dc2: m10 then m30 does not match; a (System): m10 does not match, m20 denies.
			entries: map[string]string{
				"vtb-1 192.168.1.0/24": "Active:dc1",
				"vtb-1 192.168.2.0/24": "Active:dc2",
				"vtb-1 10.0.0.0/16":    "Rejected:a",
			},
			check: func(t *testing.T, v View) {
				e := v.Entries("vtb-1", pfx("192.168.1.0/24"))[0]
				if e.Path.Preference != 30 || !slices.Equal(e.Path.AsPath, []uint32{45104, 65001}) {
					t.Errorf("dc1 path = %+v", e.Path)
				}
				e = v.Entries("vtb-1", pfx("192.168.2.0/24"))[0]
				if e.Path.Preference != 30 || !slices.Equal(e.Path.AsPath, []uint32{65002}) {
					t.Errorf("dc2 path = %+v", e.Path)
				}
				x := v.Explain("vtb-1", pfx("192.168.1.0/24"), "")
				want := []string{"matched: permit, continue at priority 30", "skipped", "matched: permit"}
				var got []string
				for _, s := range x.Candidates[0].RegionIn {
					got = append(got, s.Outcome)
				}
				if !slices.Equal(got, want) {
					t.Errorf("steps = %q\n%s", got, x)
				}
			},
		},
		{
			name: "NextPriority chain into a deny",
			in: modify(base(), func(in *Input) {
				in.RouteMaps = append(in.RouteMaps,
					RouteMap{ID: "m10", Direction: RegionIn, Priority: 10, TableID: "vtb-1", Result: Permit,
						Preference: 30, NextPriority: 20},
					RouteMap{ID: "m20", Direction: RegionIn, Priority: 20, TableID: "vtb-1", Result: Deny,
						SourceChildInstanceTypes: []AttachmentType{TypeVPC}})
			}),
			entries: map[string]string{"vtb-1 10.0.0.0/16": "Rejected:a", "vtb-1 192.168.1.0/24": "Active:dc1"},
		},
		{
			name: "community match, additive and replace",
			in: modify(base(), func(in *Input) {
				setAtt(in, vpnAtt("dc1", withComms(bgpRoute("192.168.1.0/24", 65001), "65001:100")))
				setAtt(in, vpnAtt("dc2", withComms(bgpRoute("192.168.2.0/24", 65002), "65002:100", "65002:200")))
				in.RouteMaps = append(in.RouteMaps,
					RouteMap{ID: "m1", Direction: RegionIn, Priority: 1, TableID: "vtb-1", Result: Permit,
						MatchCommunities: []string{"65001:100"}, OperateCommunities: []string{"45104:1"}},
					RouteMap{ID: "m2", Direction: RegionIn, Priority: 2, TableID: "vtb-1", Result: Permit,
						MatchCommunities: []string{"65002:200"}, CommunityMatchMode: MatchComplete, // not the same set
						OperateCommunities: []string{"45104:9"}, CommunityOperateMode: CommunityReplace},
					RouteMap{ID: "m3", Direction: RegionIn, Priority: 3, TableID: "vtb-1", Result: Permit,
						MatchCommunities: []string{"65002:200", "65002:100"}, CommunityMatchMode: MatchComplete,
						OperateCommunities: []string{"45104:2"}, CommunityOperateMode: CommunityReplace})
			}),
			check: func(t *testing.T, v View) {
				e := v.Entries("vtb-1", pfx("192.168.1.0/24"))[0]
				if !slices.Equal(e.Path.Communities, []string{"65001:100", "45104:1"}) {
					t.Errorf("additive: %v", e.Path.Communities)
				}
				e = v.Entries("vtb-1", pfx("192.168.2.0/24"))[0]
				if !slices.Equal(e.Path.Communities, []string{"45104:2"}) {
					t.Errorf("replace: %v", e.Path.Communities)
				}
			},
		},
		{
			name: "reverse instance match",
			in: modify(base(), func(in *Input) {
				in.RouteMaps = append(in.RouteMaps, RouteMap{ID: "m1", Direction: RegionIn, Priority: 1, TableID: "vtb-1",
					Result: Deny, SourceInstanceIDs: []string{"vco-dc1"}, SourceInstanceIDsReverse: true})
			}),
			entries: map[string]string{
				"vtb-1 192.168.1.0/24": "Active:dc1",
				"vtb-1 192.168.2.0/24": "Rejected:dc2",
				"vtb-1 10.0.0.0/16":    "Rejected:a",
			},
		},
		{
			name: "RegionOut destination instance, reverse",
			in: modify(base(), func(in *Input) {
				in.RouteMaps = append(in.RouteMaps, RouteMap{ID: "m1", Direction: RegionOut, Priority: 1, TableID: "vtb-1",
					Result: Deny, DestinationInstanceIDs: []string{"dc1"}, DestinationInstanceIDsReverse: true,
					DestinationCIDRs: []netip.Prefix{pfx("10.0.0.0/8")}})
			}),
			adv: map[string]string{"dc1": "10.0.0.0/16", "dc2": ""},
		},
		{
			name: "RegionOut actions shape what is advertised",
			in: modify(base(), func(in *Input) {
				in.RouteMaps = append(in.RouteMaps, RouteMap{ID: "m1", Direction: RegionOut, Priority: 1, TableID: "vtb-1",
					Result: Permit, DestinationInstanceIDs: []string{"dc1"}, PrependASPath: []uint32{45104, 45104},
					OperateCommunities: []string{"45104:7"}, NextPriority: 5000})
			}),
			// NextPriority 5000 lets the system policy still deny dc2's route to dc1.
			adv: map[string]string{"dc1": "10.0.0.0/16", "a": "192.168.1.0/24 192.168.2.0/24"},
			check: func(t *testing.T, v View) {
				e := v.Advertised("dc1")[0]
				if !slices.Equal(e.Path.AsPath, []uint32{45104, 45104}) || !slices.Equal(e.Path.Communities, []string{"45104:7"}) {
					t.Errorf("advertised = %+v", e.Path)
				}
				if e := v.Entries("vtb-1", pfx("10.0.0.0/16"))[0]; len(e.Path.AsPath) != 0 {
					t.Errorf("the table entry must not change: %+v", e.Path)
				}
			},
		},
		{
			name: "withdrawn attachment disappears everywhere",
			in: modify(base(), func(in *Input) {
				findAtt(in, "dc1").Withdrawn = true
				in.Tables = append(in.Tables, Table{ID: "vtb-2"})
				in.Propagations["dc1"] = []string{"vtb-1", "vtb-2"}
				in.Statics = []StaticEntry{{ID: "rte-1", TableID: "vtb-1", Prefix: pfx("172.16.0.0/12"), NextHop: "dc1"}}
			}),
			entries: map[string]string{
				"vtb-1 192.168.1.0/24": "",
				"vtb-2 192.168.1.0/24": "",
				"vtb-1 172.16.0.0/12":  "Prohibited:static>dc1",
			},
			adv: map[string]string{"a": "192.168.2.0/24", "dc1": "", "dc2": "10.0.0.0/16"},
		},
		{
			name: "prohibited static: missing next hop",
			in: modify(base(), func(in *Input) {
				in.Statics = []StaticEntry{
					{ID: "rte-1", TableID: "vtb-1", Prefix: pfx("10.0.0.0/16"), NextHop: "tr-attach-gone"},
					{ID: "rte-2", TableID: "vtb-1", Prefix: pfx("10.0.0.0/16"), NextHop: "dc2"},
					{ID: "rte-3", TableID: "vtb-1", Prefix: pfx("10.0.0.0/16"), NextHop: "dc1"},
				}
			}),
			entries: map[string]string{"vtb-1 10.0.0.0/16": "Active:static>dc2 Candidate:static>dc1 Candidate:a Prohibited:static>tr-attach-gone"},
			check: func(t *testing.T, v View) {
				x := v.Explain("vtb-1", pfx("10.0.0.0/16"), "a")
				last := x.Candidates[len(x.Candidates)-1]
				if !strings.Contains(last.Reason, "does not exist") {
					t.Errorf("explain: %s", x)
				}
				// Split horizon is about next hops: the static via dc2 overrides the VPC's own
				// CIDR, and the VPC learns it.
				if !x.Advertisement.Advertised || x.Advertisement.Route.NextHop != "dc2" {
					t.Errorf("explain: %s", x)
				}
			},
		},
		{
			name: "no association or no AutoPublish: nothing advertised",
			in: modify(base(), func(in *Input) {
				delete(in.Associations, "dc1")
				findAtt(in, "dc2").AutoPublish = false
			}),
			adv: map[string]string{"dc1": "", "dc2": "", "a": "192.168.1.0/24 192.168.2.0/24"},
		},
		{
			name: "RegionIn destination table and region, address type",
			in: modify(base(), func(in *Input) {
				setAtt(in, vpnAtt("dc1", bgpRoute("192.168.1.0/24", 65001), bgpRoute("2001:db8::/32", 65001)))
				in.RouteMaps = append(in.RouteMaps,
					RouteMap{ID: "m1", Direction: RegionIn, Priority: 1, TableID: "vtb-1", Result: Deny,
						DestinationRouteTableIDs: []string{"vtb-1"}, DestinationRegionIDs: []string{"cn-hangzhou"},
						MatchAddressType: IPv6},
					RouteMap{ID: "m2", Direction: RegionIn, Priority: 2, TableID: "vtb-1", Result: Deny,
						DestinationRouteTableIDs: []string{"vtb-other"}})
			}),
			entries: map[string]string{"vtb-1 2001:db8::/32": "Rejected:dc1", "vtb-1 192.168.1.0/24": "Active:dc1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Compute(tc.in)
			e := NewEngine()
			e.Replace(tc.in)
			e.Flush()
			for name, v := range map[string]View{"Compute": r, "Engine": e} {
				for key, want := range tc.entries {
					table, prefix, _ := strings.Cut(key, " ")
					if got := summary(v, table, prefix); got != want {
						t.Errorf("%s: %s %s = %q, want %q", name, table, prefix, got, want)
					}
				}
				for att, want := range tc.adv {
					if got := advertisedPrefixes(v, att); got != want {
						t.Errorf("%s: advertised to %s = %q, want %q", name, att, got, want)
					}
				}
				if tc.check != nil {
					tc.check(t, v)
				}
			}
			if t.Failed() {
				for _, id := range r.TableIDs() {
					for _, e := range r.Table(id) {
						t.Logf("%s %s", id, describeEntry(e)+" "+e.Status.String())
					}
				}
			}
		})
	}
}

// Changing the associated table withdraws the old table's routes and advertises the new one's.
func TestAssociationChangeChangesAdvertised(t *testing.T) {
	in := modify(base(), func(in *Input) {
		in.Tables = append(in.Tables, Table{ID: "vtb-2"})
		setAtt(in, vpcAtt("b", "10.1.0.0/16"))
		in.Propagations["b"] = []string{"vtb-2"}
		in.Associations["b"] = "vtb-2"
	})
	e := NewEngine()
	e.Replace(in)
	e.Flush()
	if got := advertisedPrefixes(e, "dc1"); got != "10.0.0.0/16" {
		t.Fatalf("before: %q", got)
	}
	e.SetAssociation("dc1", "vtb-2")
	d := e.Flush()
	if got := advertisedPrefixes(e, "dc1"); got != "10.1.0.0/16" {
		t.Errorf("after: %q", got)
	}
	if !slices.Equal(d.Advertised, []string{"dc1"}) || len(d.Tables) != 0 {
		t.Errorf("diff = %+v", d)
	}
	// Traffic from dc1 is now looked up in vtb-2, which has no route to dc2.
	x := e.Explain("", pfx("192.168.2.0/24"), "dc1")
	if x.TableID != "vtb-2" || x.Forwarding != nil {
		t.Errorf("explain: %s", x)
	}
}

// A withdrawn attachment (health check) leaves every table and advertised set, and comes back.
func TestWithdrawAndRestore(t *testing.T) {
	in := modify(base(), func(in *Input) {
		in.Tables = append(in.Tables, Table{ID: "vtb-2"})
		in.Propagations["dc1"] = []string{"vtb-1", "vtb-2"}
		in.Associations["b"] = "vtb-2"
		setAtt(in, vpcAtt("b", "10.1.0.0/16"))
	})
	e := NewEngine()
	e.Replace(in)
	e.Flush()
	a := *findAtt(&in, "dc1")
	a.Withdrawn = true
	e.SetAttachment(a)
	d := e.Flush()
	for _, id := range e.TableIDs() {
		for _, x := range e.Table(id) {
			if x.NextHop == "dc1" {
				t.Errorf("%s still has %+v", id, x)
			}
		}
	}
	for _, id := range []string{"a", "b", "dc2"} {
		for _, x := range e.Advertised(id) {
			if x.Prefix == pfx("192.168.1.0/24") {
				t.Errorf("still advertised to %s", id)
			}
		}
	}
	if len(d.Tables["vtb-1"].Removed) != 1 || len(d.Tables["vtb-2"].Removed) != 1 || !slices.Equal(d.Advertised, []string{"a", "b", "dc1"}) {
		t.Errorf("diff = %+v", d)
	}
	a.Withdrawn = false
	e.SetAttachment(a)
	d = e.Flush()
	if got := summary(e, "vtb-2", "192.168.1.0/24"); got != "Active:dc1" {
		t.Errorf("restored: %q", got)
	}
	if len(d.Tables["vtb-1"].Added) != 1 || !slices.Equal(d.Advertised, []string{"a", "b", "dc1"}) {
		t.Errorf("diff = %+v", d)
	}
}

func TestExplainText(t *testing.T) {
	in := modify(base(), func(in *Input) {
		in.RouteMaps = append(in.RouteMaps, RouteMap{ID: "cenrmap-in", Direction: RegionIn, Priority: 1,
			TableID: "vtb-1", Result: Deny, SourceChildInstanceTypes: []AttachmentType{TypeVPC},
			DestinationCIDRs: []netip.Prefix{pfx("192.168.1.0/24")}})
	})
	x := Compute(in).Explain("vtb-1", pfx("192.168.1.0/24"), "dc2")
	s := x.String()
	for _, want := range []string{
		"Active     Propagated 192.168.1.0/24 via dc1 origin BGP VPN/vco-dc1 preference 50 as-path [65001]",
		"RegionIn cenrmap-in (priority 1, Deny): not matched: SourceChildInstanceTypes [VPC] does not match VPN",
		"note: attachment dc2 does not offer 192.168.1.0/24",
		"to attachment dc2 (associated table \"vtb-1\"): not advertised",
		"RegionOut via dc1 cenrmap-sys-vtb-1 (priority 5000, Deny): matched: deny",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q in\n%s", want, s)
		}
	}
}

// A change to one attachment's routes recomputes only the prefixes it offered before or after,
// in the tables it propagates into; an association change recomputes nothing.
func TestFlushTouchesOnlyWhatChanged(t *testing.T) {
	in := benchInput()
	e := NewEngine()
	e.Replace(in)
	e.Flush()
	a := in.Attachments[benchVPCs+42] // propagates into one table
	old := a.Routes
	a.Routes = append(slices.Clone(old[:50]), benchRoutes(benchVPCs+42, 1)[:30]...) // 50 kept, 50 gone, 30 new
	e.SetAttachment(a)
	d := e.Flush()
	if len(e.stats.rebuilt) != 0 || e.stats.recomputed != 130 {
		t.Errorf("recomputed %d prefixes, rebuilt %v; want 130 and none", e.stats.recomputed, e.stats.rebuilt)
	}
	if len(d.Tables) != 1 {
		t.Errorf("tables changed: %d", len(d.Tables))
	}
	e.SetAssociation(a.ID, "vtb-0")
	d = e.Flush()
	if len(e.stats.rebuilt) != 0 || e.stats.recomputed != 0 || len(d.Tables) != 0 || !slices.Equal(d.Advertised, []string{a.ID}) {
		t.Errorf("association change: recomputed %d, rebuilt %v, diff %v", e.stats.recomputed, e.stats.rebuilt, d.Advertised)
	}
	// A RegionIn policy change rebuilds its table only.
	maps := slices.Clone(in.RouteMaps)
	for i := range maps {
		if maps[i].ID == "cenrmap-5-deny-in" {
			maps[i].CidrMatchMode = MatchInclude
		}
	}
	e.SetRouteMaps(maps)
	e.Flush()
	if !slices.Equal(e.stats.rebuilt, []string{"vtb-5"}) || e.stats.recomputed != 0 {
		t.Errorf("policy change: rebuilt %v, recomputed %d", e.stats.rebuilt, e.stats.recomputed)
	}
}

// A Result is safe for concurrent use (run with -race).
func TestResultConcurrentReads(t *testing.T) {
	g := newGen(7)
	in := g.input()
	in.Tables = []Table{{ID: "vtb-0"}, {ID: "vtb-1"}, {ID: "vtb-2"}}
	r := Compute(in)
	want := dump(r, allIDs(g))
	done := make(chan string)
	for k := range 4 {
		go func() {
			rnd := newGen(uint64(k)).r
			for range 300 {
				r.Lookup(r.TableIDs()[rnd.IntN(3)], randomAddr(rnd))
			}
			done <- dump(r, allIDs(g))
		}()
	}
	for range 4 {
		if got := <-done; got != want {
			t.Fatal("concurrent reads changed the result")
		}
	}
}

func TestExplainJSON(t *testing.T) {
	x := Compute(base()).Explain("", pfx("192.168.2.0/24"), "dc1")
	b, err := json.Marshal(x)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"TableID":"vtb-1"`, `"Prefix":"192.168.2.0/24"`, `"Status":"Active"`,
		`"OriginRouteType":"BGP"`, `"Outcome":"matched: deny"`, `"Advertised":false`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("missing %s in %s", want, b)
		}
	}
	var back Explanation
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.String() != x.String() {
		t.Errorf("round trip:\n%s\nvs\n%s", back, x)
	}
}
