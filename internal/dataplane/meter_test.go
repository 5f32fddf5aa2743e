package dataplane

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"opencen/internal/lab"
)

// A real `nft -j list table ip opencen_meter` (nftables 1.0.6), after one link was added.
const meterJSON = `{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}},
{"table": {"family": "ip", "name": "opencen_meter", "handle": 1}},
{"counter": {"family": "ip", "name": "epoch_0123456789abcdef", "table": "opencen_meter", "handle": 3, "packets": 0, "bytes": 0}},
{"counter": {"family": "ip", "name": "i_tr-attach-x1", "table": "opencen_meter", "handle": 11, "packets": 6, "bytes": 504}},
{"counter": {"family": "ip", "name": "o_tr-attach-x1", "table": "opencen_meter", "handle": 12, "packets": 5, "bytes": 420}},
{"map": {"family": "ip", "name": "in_links", "table": "opencen_meter", "type": "ifname", "handle": 5, "map": "counter", "elem": [["oc-aabcdefgh", "i_tr-attach-x1"]]}},
{"map": {"family": "ip", "name": "out_links", "table": "opencen_meter", "type": "ifname", "handle": 6, "map": "counter", "elem": [["oc-aabcdefgh", "o_tr-attach-x1"]]}},
{"chain": {"family": "ip", "table": "opencen_meter", "name": "through", "handle": 1, "type": "filter", "hook": "forward", "prio": 300, "policy": "accept"}},
{"rule": {"family": "ip", "table": "opencen_meter", "chain": "through", "handle": 7, "expr": [{"counter": {"map": {"key": {"meta": {"key": "iifname"}}, "data": "@in_links"}}}]}}]}`

func TestParseMeter(t *testing.T) {
	for _, tc := range []struct {
		name     string
		json     string
		ok       bool
		err      bool
		epoch    string
		att      string
		cin, out Counter
		link     string
	}{
		{name: "real", json: meterJSON, ok: true, epoch: "0123456789abcdef", att: "tr-attach-x1",
			cin: Counter{Packets: 6, Bytes: 504}, out: Counter{Packets: 5, Bytes: 420}, link: "oc-aabcdefgh"},
		{name: "no epoch", json: strings.Replace(meterJSON, "epoch_0123456789abcdef", "other", 1), ok: false, att: "tr-attach-x1",
			cin: Counter{Packets: 6, Bytes: 504}, out: Counter{Packets: 5, Bytes: 420}, link: "oc-aabcdefgh"},
		// A table of the older layout (prerouting and postrouting chains) is replaced.
		{name: "older layout", json: strings.ReplaceAll(meterJSON, `"through"`, `"pre"`), ok: false, att: "tr-attach-x1",
			cin: Counter{Packets: 6, Bytes: 504}, out: Counter{Packets: 5, Bytes: 420}, link: "oc-aabcdefgh"},
		{name: "two epochs", json: strings.Replace(meterJSON, `"name": "i_tr-attach-x1"`, `"name": "epoch_ffff"`, 1), ok: false},
		{name: "other table", json: strings.ReplaceAll(meterJSON, `"table": "opencen_meter"`, `"table": "x"`), ok: false},
		{name: "not json", json: "table ip opencen_meter {", err: true},
		{name: "empty", json: `{"nftables": []}`, ok: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, ok, err := parseMeter([]byte(tc.json))
			if (err != nil) != tc.err || ok != tc.ok {
				t.Fatalf("ok %v err %v, want ok %v err %v", ok, err, tc.ok, tc.err)
			}
			if tc.att == "" {
				return
			}
			if ok && m.Epoch != tc.epoch {
				t.Errorf("epoch %q, want %q", m.Epoch, tc.epoch)
			}
			if got := m.Atts[tc.att]; got.In != tc.cin || got.Out != tc.out {
				t.Errorf("counters %+v, want in %+v out %+v", got, tc.cin, tc.out)
			}
			if m.Links[tc.link] != tc.att {
				t.Errorf("links %v, want %s -> %s", m.Links, tc.link, tc.att)
			}
		})
	}
}

func FuzzParseMeter(f *testing.F) {
	f.Add([]byte(meterJSON))
	f.Add([]byte(`{"nftables":[{"map":{"name":"in_links","table":"opencen_meter","elem":[["a"],["b","i_"],1]}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, ok, err := parseMeter(b)
		if err != nil {
			return
		}
		if ok && m.Epoch == "" {
			t.Fatal("ok without an epoch")
		}
		for link, att := range m.Links {
			if att == "" {
				t.Fatalf("link %q maps to no attachment", link)
			}
		}
	})
}

func TestMeterScript(t *testing.T) {
	have := meter{Epoch: "e1", Atts: map[string]LinkCounters{"tr-attach-a": {}, "tr-attach-b": {}},
		Links: map[string]string{"oc-aa": "tr-attach-a", "oc-ab": "tr-attach-b"}}
	for _, tc := range []struct {
		name    string
		have    meter
		ok      bool
		want    map[string]string
		has     []string
		hasNot  []string
		isEmpty bool
	}{
		{name: "new table", ok: false, want: map[string]string{"oc-aa": "tr-attach-a"},
			has: []string{"add table ip opencen_meter\ndelete table ip opencen_meter\n", "counter epoch_", "counter name iifname map @in_links",
				"add counter ip opencen_meter i_tr-attach-a\n", `add element ip opencen_meter in_links { "oc-aa" : "i_tr-attach-a" }`,
				`add element ip opencen_meter out_links { "oc-aa" : "o_tr-attach-a" }`}},
		{name: "unchanged", have: have, ok: true, want: map[string]string{"oc-aa": "tr-attach-a", "oc-ab": "tr-attach-b"}, isEmpty: true},
		{name: "one goes, one comes", have: have, ok: true, want: map[string]string{"oc-aa": "tr-attach-a", "oc-ac": "tr-attach-c"},
			has: []string{`delete element ip opencen_meter in_links { "oc-ab" }`, "delete counter ip opencen_meter i_tr-attach-b\n",
				"add counter ip opencen_meter o_tr-attach-c\n", `add element ip opencen_meter in_links { "oc-ac" : "i_tr-attach-c" }`},
			hasNot: []string{"tr-attach-a", "delete table", "epoch_"}},
		{name: "an attachment on another link keeps its counters", have: have, ok: true,
			want:   map[string]string{"oc-aa": "tr-attach-a", "oc-az": "tr-attach-b"},
			has:    []string{`delete element ip opencen_meter in_links { "oc-ab" }`, `add element ip opencen_meter in_links { "oc-az" : "i_tr-attach-b" }`},
			hasNot: []string{"counter ip opencen_meter i_tr-attach-b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := meterScript(tc.have, tc.ok, tc.want)
			if tc.isEmpty != (s == "") {
				t.Fatalf("script:\n%s", s)
			}
			for _, h := range tc.has {
				if !strings.Contains(s, h) {
					t.Errorf("script lacks %q:\n%s", h, s)
				}
			}
			for _, h := range tc.hasNot {
				if strings.Contains(s, h) {
					t.Errorf("script has %q:\n%s", h, s)
				}
			}
		})
	}
}

// TestMeterFake: a cell rebuilt behind the driver's back (its namespace gone, so its link
// is new) is counted on by the same counters in the same epoch; an attachment the router
// no longer has, and a router that is deleted, leave their last reading.
func TestMeterFake(t *testing.T) {
	e := newFakeEnv(t)
	s2 := stateFixtures(fakePrefix)["s2"]
	e.apply(s2)
	rns := e.drv.RouterNetns("tr-s1")
	cellLink := e.drv.AttachmentLink("tr-attach-x1")
	e.os.traffic(rns, cellLink, Counter{Packets: 10, Bytes: 1000}, Counter{Packets: 4, Bytes: 400})
	e.os.traffic(rns, e.drv.AttachmentLink("tr-attach-v1"), Counter{Packets: 1, Bytes: 84}, Counter{})
	first := mustCounters(t, e, "tr-s1")
	x1 := first["tr-attach-x1"]
	if x1.In != (Counter{Packets: 10, Bytes: 1000}) || x1.Out != (Counter{Packets: 4, Bytes: 400}) || x1.Epoch == "" || x1.Router != "tr-s1" {
		t.Fatalf("x1 after traffic: %+v", x1)
	}
	if v1 := first["tr-attach-v1"]; v1.In.Bytes != 84 || v1.Epoch != x1.Epoch {
		t.Fatalf("v1: %+v", v1)
	}
	// The cell rebuilt: its namespace (and so its veth) deleted, then applied again.
	if err := e.os.DeleteNamespace(e.ctx, e.drv.CellNetns("vco-c1")); err != nil {
		t.Fatal(err)
	}
	e.os.traffic(rns, cellLink, Counter{Packets: 99, Bytes: 9900}, Counter{}) // no link: nothing passes
	if err := e.drv.UpdateCell(e.ctx, "tr-s1", s2.Routers[0].Cells[0]); err != nil {
		t.Fatal(err)
	}
	e.os.traffic(rns, cellLink, Counter{Packets: 1, Bytes: 100}, Counter{Packets: 1, Bytes: 100})
	again := mustCounters(t, e, "tr-s1")["tr-attach-x1"]
	if again.Epoch != x1.Epoch || again.In != (Counter{Packets: 11, Bytes: 1100}) || again.Out != (Counter{Packets: 5, Bytes: 500}) {
		t.Fatalf("after the cell was rebuilt: %+v (before %+v)", again, x1)
	}
	// The cell detached: the router stops counting it, its last reading is handed out once.
	s1 := stateFixtures(fakePrefix)["s1"]
	e.apply(s1)
	got, err := e.drv.Counters(e.ctx, []string{"tr-s1"})
	if err != nil {
		t.Fatal(err)
	}
	finals := 0
	for _, m := range got {
		if m.Attachment == "tr-attach-x1" {
			finals++
			if m.In.Bytes != 1100 || m.Epoch != x1.Epoch {
				t.Errorf("last reading of the detached cell: %+v", m)
			}
		}
	}
	if finals != 1 {
		t.Errorf("%d last readings of the detached cell, want 1: %+v", finals, got)
	}
	if again := mustCounters(t, e, "tr-s1"); len(again) != 2 {
		t.Errorf("after the detach: %+v, want v1 and v2 only", again)
	}
	// The router deleted: its attachments' last readings, then nothing.
	e.apply(nil)
	got, err = e.drv.Counters(e.ctx, nil)
	if err != nil || len(got) != 2 || got[0].Attachment != "tr-attach-v1" || got[0].In.Bytes != 84 {
		t.Fatalf("after the router went: %+v, %v", got, err)
	}
	if got, _ := e.drv.Counters(e.ctx, nil); len(got) != 0 {
		t.Errorf("last readings handed out twice: %+v", got)
	}
	// A new router namespace is a new epoch.
	e.apply(s1)
	if m := mustCounters(t, e, "tr-s1")["tr-attach-v1"]; m.Epoch == x1.Epoch || m.In.Bytes != 0 {
		t.Errorf("the rebuilt router's counters: %+v (old epoch %s)", m, x1.Epoch)
	}
}

func TestMeterOffFake(t *testing.T) {
	e := newFakeEnv(t)
	e.drv.opts.NoMeter = true
	e.apply(stateFixtures(fakePrefix)["s2"])
	if _, _, err := e.os.Meter(e.ctx, e.drv.RouterNetns("tr-s1")); !errors.Is(err, errNoMeter) {
		t.Errorf("metering off, yet the router has a meter (%v)", err)
	}
	if got, err := e.drv.Counters(e.ctx, []string{"tr-s1"}); err != nil || got != nil {
		t.Errorf("metering off: %+v, %v", got, err)
	}
}

func mustCounters(t *testing.T, e *fakeEnv, routers ...string) map[string]Meter {
	t.Helper()
	got, err := e.drv.Counters(e.ctx, routers)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]Meter{}
	for _, m := range got {
		out[m.Attachment] = m
	}
	return out
}

// TestMeterKernel: the same on the real kernel, with a VPC link whose veth is deleted and
// made again: real nftables counts the IP bytes of real pings through the router in both
// directions, and keeps counting the new link; what the router itself answers is not
// counted (it is not an attachment's traffic).
func TestMeterKernel(t *testing.T) {
	e := newEnv(t)
	host, err := e.lab.AddVPCHost(e.ctx, "v1", pfx("10.1.0.0/16"))
	if err != nil {
		t.Fatal(err)
	}
	host2, err := e.lab.AddVPCHost(e.ctx, "v2", pfx("10.2.0.0/16"))
	if err != nil {
		t.Fatal(err)
	}
	d := &Desired{Routers: []Router{{ID: "tr-m1",
		VPCs: []VPCLink{vpcLink("tr-attach-v1", e.prefix+"vpc-v1", "169.254.100.1/30", "169.254.100.2/30"),
			vpcLink("tr-attach-v2", e.prefix+"vpc-v2", "169.254.101.1/30", "169.254.101.2/30")},
		Tables: []Table{{ID: "vtb-m", Number: 100, Routes: []Route{
			{Dst: pfx("10.1.0.0/16"), NextHops: []string{"tr-attach-v1"}},
			{Dst: pfx("10.2.0.0/16"), NextHops: []string{"tr-attach-v2"}},
		}}},
		Associations: map[string]string{"tr-attach-v1": "vtb-m", "tr-attach-v2": "vtb-m"}}}}
	e.apply(d)
	read := func() Meter {
		t.Helper()
		got, err := e.drv.Counters(e.ctx, []string{"tr-m1"})
		if err != nil || len(got) != 2 {
			t.Fatalf("counters: %+v, %v", got, err)
		}
		for _, m := range got {
			if m.Attachment == "tr-attach-v1" {
				return m
			}
		}
		t.Fatalf("counters: %+v", got)
		return Meter{}
	}
	// The router answers pings to its own address: not counted.
	if err := lab.Ping(e.ctx, host.Netns, addr("169.254.100.2"), addr("169.254.100.1"), 3); err != nil {
		t.Fatal(err)
	}
	if m := read(); m.In.Packets != 0 || m.Out.Packets != 0 {
		t.Fatalf("the router's own traffic was counted: %+v", m)
	}
	// 3 echo requests in and 3 replies out, 84 bytes each (IP header included), forwarded
	// between the two VPCs.
	pingRouter := func() {
		t.Helper()
		if err := lab.Ping(e.ctx, host.Netns, host.Addr, host2.Addr, 3); err != nil {
			t.Fatal(err)
		}
	}
	pingRouter()
	m1 := read()
	if m1.In.Packets < 3 || m1.In.Bytes < 3*84 || m1.Out.Packets < 3 || m1.Epoch == "" {
		t.Fatalf("after 3 pings: %+v", m1)
	}
	if _, err := runIP(e, e.drv.RouterNetns("tr-m1"), "link", "del", e.drv.AttachmentLink("tr-attach-v1")); err != nil {
		t.Fatal(err)
	}
	e.apply(d) // the link is made again
	waitCtx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	defer cancel()
	for waitCtx.Err() == nil && lab.Ping(waitCtx, host.Netns, host.Addr, host2.Addr, 1) != nil {
	}
	pingRouter()
	m2 := read()
	if m2.Epoch != m1.Epoch || m2.In.Bytes < m1.In.Bytes+3*84 || m2.Out.Bytes < m1.Out.Bytes+3*84 {
		t.Fatalf("after the link was made again: %+v (before %+v)", m2, m1)
	}
	if err := e.drv.DeleteRouter(e.ctx, "tr-m1"); err != nil {
		t.Fatal(err)
	}
	got, err := e.drv.Counters(e.ctx, nil)
	i := slices.IndexFunc(got, func(m Meter) bool { return m.Attachment == "tr-attach-v1" })
	if err != nil || len(got) != 2 || i < 0 || got[i].In.Bytes < m2.In.Bytes || got[i].Epoch != m1.Epoch {
		t.Fatalf("last reading of the deleted router: %+v, %v", got, err)
	}
}

// TestMeterPeerLinkFake: an inter-region link is counted at both ends, each by its own
// router (what one sends is what the other receives).
func TestMeterPeerLinkFake(t *testing.T) {
	e := newFakeEnv(t)
	e.apply(stateFixtures(fakePrefix)["s3"])
	link := e.drv.AttachmentLink("tr-attach-p1")
	e.os.traffic(e.drv.RouterNetns("tr-s1"), link, Counter{Packets: 2, Bytes: 200}, Counter{Packets: 3, Bytes: 300})
	e.os.traffic(e.drv.RouterNetns("tr-s2"), link, Counter{Packets: 3, Bytes: 300}, Counter{Packets: 2, Bytes: 200})
	s1, s2 := mustCounters(t, e, "tr-s1")["tr-attach-p1"], mustCounters(t, e, "tr-s2")["tr-attach-p1"]
	if s1.Out != s2.In || s1.In != s2.Out || s1.Out.Bytes != 300 || s1.Router != "tr-s1" || s2.Router != "tr-s2" || s1.Epoch == s2.Epoch {
		t.Errorf("the link's two ends: %+v / %+v", s1, s2)
	}
}
