package dataplane

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strongswan/govici/vici"

	"opencen/internal/dataplane/nsutil"
	"opencen/internal/tunnel"
)

// Pure tests: no root, no namespaces.

func TestValidate(t *testing.T) {
	ok := &Desired{Routers: []Router{{
		ID:           "tr-1",
		VPCs:         []VPCLink{vpcLink("tr-attach-v", "vpc", "169.254.0.1/30", "169.254.0.2/30")},
		Cells:        []Cell{idleCell("vco-1", "tr-attach-x", "198.18.1.1/15", "169.254.10.1/30")},
		Tables:       []Table{{ID: "vtb-1", Number: 100, Routes: []Route{{Dst: pfx("10.0.0.0/8"), NextHops: []string{"tr-attach-v", "tr-attach-x"}}}}},
		Associations: map[string]string{"tr-attach-v": "vtb-1"},
	}}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid state: %v", err)
	}
	for _, c := range []struct {
		name   string
		mutate func(*Router)
		want   string
	}{
		{"unknown next hop", func(r *Router) { r.Tables[0].Routes[0].NextHops = []string{"tr-attach-nope"} }, "next hop tr-attach-nope is not an attachment"},
		{"charon's table", func(r *Router) { r.Tables[0].Number = 220 }, "number 220 is reserved"},
		{"duplicate number", func(r *Router) { r.Tables = append(r.Tables, Table{ID: "vtb-2", Number: 100}) }, "share number 100"},
		{"unknown table", func(r *Router) { r.Associations["tr-attach-x"] = "vtb-9" }, "unknown table vtb-9"},
		{"blackhole with hops", func(r *Router) { r.Tables[0].Routes[0].Blackhole = true }, "needs next hops or Blackhole"},
		{"bad link", func(r *Router) { r.Cells[0].LinkAddr = pfx("169.254.10.0/30") }, "host address of a /30"},
		{"not masked", func(r *Router) { r.Tables[0].Routes[0].Dst = pfx("10.1.2.3/8") }, "is not an IPv4 network"},
		{"one-sided TS", func(r *Router) { r.Cells[0].IPsec.CustomerSubnets = nil }, "both traffic selectors"},
	} {
		d := cloneDesired(ok)
		c.mutate(&d.Routers[0])
		if err := d.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
}

func cloneDesired(d *Desired) *Desired {
	b, _ := json.Marshal(d)
	var out Desired
	_ = json.Unmarshal(b, &out)
	return &out
}

func TestCellLoadMessage(t *testing.T) {
	c := idleCell("vco-1", "tr-attach-1", "198.18.0.11/15", "169.254.20.1/30")
	c.IPsec.IKE.Version, c.IPsec.IKE.Aggressive = 1, true
	c.IPsec.ESP.PFS = tunnel.DHNone
	c.IPsec.CloudID, c.IPsec.CustomerID = identity("cloud.example.com"), identity("@dc.example.net")
	c.IPsec.CloudSubnets, c.IPsec.CustomerSubnets = []netip.Prefix{pfx("10.1.0.0/16"), pfx("10.2.0.0/16")}, []netip.Prefix{pfx("192.168.1.0/24")}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.PeerLinkAddr() != addr("169.254.20.2") {
		t.Errorf("peer link address %v", c.PeerLinkAddr())
	}
	conn := charonConnOf(c)
	if conn.LocalID != "@cloud.example.com" || conn.RemoteID != "@dc.example.net" || conn.ESPProposal != "aes128-sha1" || !conn.Aggressive {
		t.Errorf("charon connection %+v", conn)
	}
	if got := tsHostAddrs(c); len(got) != 2 || got[0] != pfx("10.1.255.254/32") {
		t.Errorf("local selector addresses %v", got)
	}
	m, err := conn.loadMessage(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	vc, ok := m.Get("vco-1").(*vici.Message)
	if !ok {
		t.Fatal("no connection in load-conn message")
	}
	children, ok := vc.Get("children").(*vici.Message)
	if !ok || !slices.Equal(children.Keys(), []string{"vco-1-1", "vco-1-2"}) || vc.Get("aggressive") != "yes" || vc.Get("dpd_delay") != "10s" {
		t.Errorf("load-conn message %v", m)
	}
	// The digest follows charon's configuration, not the driver's StartNow.
	d1 := conn.digest("s")
	c.IPsec.StartNow = !c.IPsec.StartNow
	if charonConnOf(c).digest("s") != d1 {
		t.Error("StartNow changed the digest")
	}
	c.IPsec.CloudID = identity("other.example.com")
	if charonConnOf(c).digest("s") == d1 {
		t.Error("a new identity did not change the digest")
	}
}

func TestRouteOps(t *testing.T) {
	var have []ipRoute
	_ = json.Unmarshal([]byte(`[
		{"dst":"default","gateway":"169.254.1.2","dev":"a1","table":"100","flags":["onlink","linkdown"]},
		{"type":"blackhole","dst":"10.0.0.0/8","table":"100","flags":[]},
		{"dst":"10.1.0.0/16","table":"100","flags":[],"nexthops":[{"gateway":"169.254.2.2","dev":"a2","weight":1,"flags":["onlink"]},{"gateway":"169.254.1.2","dev":"a1","weight":1,"flags":["onlink"]}]},
		{"dst":"10.2.0.1","gateway":"169.254.1.2","dev":"a1","table":"100","flags":["onlink"]}]`), &have)
	hop := func(gw, dev string) ipNextHop { return ipNextHop{Gateway: gw, Dev: dev, Flags: []string{"onlink"}} }
	want := []wantRoute{
		unicastRoute(pfx("0.0.0.0/0"), []ipNextHop{hop("169.254.1.2", "a1")}),                             // same
		unicastRoute(pfx("10.1.0.0/16"), []ipNextHop{hop("169.254.1.2", "a1"), hop("169.254.2.2", "a2")}), // same, other order
		blackholeRoute(pfx("10.2.0.1/32")),                                                                // changed
		unicastRoute(pfx("10.3.0.0/16"), []ipNextHop{hop("169.254.1.2", "a1"), hop("169.254.2.2", "a2")}), // new ECMP
	}
	got := batchLines(routeOps("100", have, want))
	wantCmds := []string{
		"route del blackhole 10.0.0.0/8 table 100",
		"route replace blackhole 10.2.0.1/32 table 100",
		"route replace 10.3.0.0/16 table 100 nexthop via 169.254.1.2 dev a1 onlink nexthop via 169.254.2.2 dev a2 onlink",
	}
	if !slices.Equal(got, wantCmds) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantCmds, "\n"))
	}
}

func TestClassifyLog(t *testing.T) {
	for msg, want := range map[string]string{
		"received NO_PROPOSAL_CHOSEN notify error":                                EventPeerRefused,
		"received proposals unacceptable":                                         EventProposalMismatch,
		"no acceptable proposal found":                                            EventProposalMismatch,
		"received AUTHENTICATION_FAILED notify error":                             EventAuthFailed,
		"tried 1 shared key for '198.18.0.11' - '198.18.0.3', but MAC mismatched": EventAuthFailed,
		"giving up after 3 retransmits":                                           EventDPDTimeout,
		"DPD check timed out, enforcing DPD action":                               EventDPDTimeout,
		"sending DPD request":                                                     "",
	} {
		if got := classifyLog(msg); got != want {
			t.Errorf("%q: %q, want %q", msg, got, want)
		}
	}
}

func TestDuplicates(t *testing.T) {
	child := []childInfo{{State: "INSTALLED"}}
	v2 := func(id, age int, initiator bool) saInfo {
		return saInfo{ID: id, Age: age, State: "ESTABLISHED", Version: 2, Initiator: initiator, Children: child}
	}
	v1 := func(id, age int, initiator bool) saInfo {
		sa := v2(id, age, initiator)
		sa.Version = 1
		return sa
	}
	noChild := func(sa saInfo) saInfo { sa.Children = []childInfo{{State: "INSTALLING"}}; return sa }
	const w1 = ikev1DuplicateWait
	for _, tc := range []struct {
		name string
		sas  []saInfo
		want []int
	}{
		{"none", nil, nil},
		{"one", []saInfo{v2(1, 30, true)}, nil},
		{"too young to judge", []saInfo{v2(1, 3, true), v2(2, 0, false)}, nil},
		// The crossing that broke the tunnel for a DPD period: the peer destroyed its own SA
		// on the cell's INITIAL_CONTACT, so the cell's responder SA (#2) is the dead one.
		{"IKEv2 keeps the SA the cell initiated", []saInfo{v2(1, 1, true), v2(2, 1, false)}, []int{2}},
		{"IKEv2 initiated even when older", []saInfo{v2(1, 9, true), v2(5, 2, false)}, []int{5}},
		{"IKEv2 both by the peer: the newest", []saInfo{v2(3, 4, false), v2(7, 1, false)}, []int{3}},
		{"IKEv2 both by the cell: the newest", []saInfo{v2(7, 1, true), v2(3, 4, true)}, []int{3}},
		{"IKEv2 three", []saInfo{v2(4, 2, false), v2(2, 2, true), v2(6, 1, false)}, []int{4, 6}},
		// charon deletes IKEv1 duplicates itself, ten seconds after the newer came up
		{"IKEv1 left to charon", []saInfo{v1(1, w1-1, true), v1(2, w1-1, false)}, nil},
		{"IKEv1 left to charon, even without a child", []saInfo{noChild(v1(1, 12, true)), v1(2, 11, false)}, nil},
		{"IKEv1 outliving charon's deletion: the newest", []saInfo{v1(1, w1+5, true), v1(2, w1, false)}, []int{1}},
		{"IKEv1 outliving it: an SA without a child goes first", []saInfo{noChild(v1(2, w1, false)), v1(1, w1+10, true)}, []int{2}},
		{"one IKEv1 SA among them: charon's wait", []saInfo{v2(1, w1-1, true), v1(2, w1-1, false)}, nil},
		{"even the one the cell initiated", []saInfo{noChild(v2(1, 2, true)), v2(2, 1, false)}, []int{1}},
		{"only established ones count", []saInfo{v2(1, 5, true), {ID: 2, State: "CONNECTING", Initiator: true}}, nil},
	} {
		if got := duplicates(tc.sas); !slices.Equal(got, tc.want) {
			t.Errorf("%s: deletes %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestMissingChildren(t *testing.T) {
	flow := []tunnel.Child{{Name: "vco-1-1"}, {Name: "vco-1-2"}}
	sa := func(state string, age int, children ...string) saInfo {
		s := saInfo{ID: 1, State: state, Age: age}
		for _, c := range children {
			s.Children = append(s.Children, childInfo{Name: c, State: "INSTALLED"})
		}
		return s
	}
	for _, tc := range []struct {
		name string
		sas  []saInfo
		want []string
	}{
		{"no IKE SA: initiateIfDown's case", nil, nil},
		{"all there", []saInfo{sa("ESTABLISHED", 30, "vco-1-1", "vco-1-2")}, nil},
		// The stuck connection: the peer refused the cell's child and deleted its own.
		{"none", []saInfo{sa("ESTABLISHED", 30)}, []string{"vco-1-1", "vco-1-2"}},
		{"one of two", []saInfo{sa("ESTABLISHED", 30, "vco-1-2")}, []string{"vco-1-1"}},
		{"too young: children may still be on their way", []saInfo{sa("ESTABLISHED", 1)}, nil},
		{"being negotiated", []saInfo{sa("CONNECTING", 0)}, nil},
		{"duplicates wait for dedup", []saInfo{sa("ESTABLISHED", 30), sa("ESTABLISHED", 30, "vco-1-1", "vco-1-2")}, nil},
	} {
		if got := missingChildren(tc.sas, flow); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestLogMismatchSaysWhat: a proposal mismatch says what the peer proposed and what this
// side accepts (from the lines charon logs before it, also before the connection is known).
func TestLogMismatchSaysWhat(t *testing.T) {
	d, err := newNetns(NetnsOptions{Prefix: "t0000-", RunDir: t.TempDir(), WANBridge: "br0"}, newFakeOS(), newFakeOS())
	if err != nil {
		t.Fatal(err)
	}
	var got []Event
	d.opts.OnEvent = func(e Event) { got = append(got, e) }
	rt := &cellRuntime{d: d, id: "vco-1"}
	for _, l := range []string{
		"2026-12-07T16:02:58 16[CFG] <419> received proposals: IKE:AES_CBC_256/HMAC_SHA2_512_256/PRF_HMAC_SHA2_512/MODP_2048",
		"2026-12-07T16:02:58 16[CFG] <419> configured proposals: IKE:AES_CBC_128/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1024",
		"2026-12-07T16:02:58 16[IKE] <419> received proposals unacceptable",
		"2026-12-07T16:02:59 10[IKE] <vco-1|420> received NO_PROPOSAL_CHOSEN notify error",
	} {
		rt.handleLog(l, false)
	}
	if len(got) != 2 || got[0].Kind != EventProposalMismatch || got[1].Kind != EventPeerRefused {
		t.Fatalf("events %+v", got)
	}
	if !strings.Contains(got[0].Message, "the peer proposed IKE:AES_CBC_256") || !strings.Contains(got[0].Message, "this side accepts IKE:AES_CBC_128") {
		t.Errorf("mismatch message %q", got[0].Message)
	}
	if !strings.Contains(got[1].Message, "no matching configuration or proposal") || strings.Contains(got[1].Message, "mismatch") {
		t.Errorf("refusal message %q", got[1].Message)
	}
}

// TestSaState: ipsec_sa_established only when every configured child SA is installed on
// this side (in any established IKE SA).
func TestSaState(t *testing.T) {
	children := []tunnel.Child{{Name: "vco-1-1"}, {Name: "vco-1-2"}}
	sa := func(state string, kids ...string) saInfo {
		s := saInfo{State: state}
		for _, k := range kids {
			s.Children = append(s.Children, childInfo{Name: k, State: "INSTALLED"})
		}
		return s
	}
	for _, c := range []struct {
		name        string
		sas         []saInfo
		childFailed bool
		want        string
	}{
		{"none", nil, false, IKENotEstablished},
		{"connecting", []saInfo{sa("CONNECTING")}, false, IKENotEstablished},
		{"IKE only", []saInfo{sa("ESTABLISHED")}, false, IKEEstablished},
		{"one child of two", []saInfo{sa("ESTABLISHED", "vco-1-1")}, false, IKEEstablished},
		{"one child of two, the other refused", []saInfo{sa("ESTABLISHED", "vco-1-2")}, true, IPsecNotEstablished},
		{"both", []saInfo{sa("ESTABLISHED", "vco-1-1", "vco-1-2")}, false, IPsecEstablished},
		{"both, over two IKE SAs", []saInfo{sa("ESTABLISHED", "vco-1-1"), sa("ESTABLISHED", "vco-1-2")}, false, IPsecEstablished},
		{"children of an IKE SA that is going", []saInfo{sa("DELETING", "vco-1-1", "vco-1-2"), sa("ESTABLISHED")}, false, IKEEstablished},
	} {
		if got := saState(c.sas, children, c.childFailed); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

// TestFastDPDLoadMessage: a FastDPD cell is loaded with a DPD every second (and for
// IKEv1, whose DPD is not retransmitted, a 3 s dpd_timeout) and its charon gets the fast
// retransmission settings; every other cell is loaded, digested and configured as before.
func TestFastDPDLoadMessage(t *testing.T) {
	for _, tc := range []struct {
		name           string
		version        int
		dpd, fast      bool
		delay, timeout string // "" = not in the message
	}{
		{"IKEv2", 2, true, false, "10s", ""},
		{"IKEv1", 1, true, false, "10s", ""},
		{"IKEv2 without DPD", 2, false, false, "0s", ""},
		{"IKEv2 fast", 2, true, true, "1s", ""},
		{"IKEv1 fast", 1, true, true, "1s", "3s"},
		// no DPD, but the charon still gives up on unanswered requests quickly
		{"IKEv1 fast without DPD", 1, false, true, "0s", ""},
	} {
		c := idleCell("vco-1", "tr-attach-1", "198.18.0.11/15", "169.254.20.1/30")
		c.IPsec.IKE.Version, c.IPsec.DPD, c.FastDPD = tc.version, tc.dpd, tc.fast
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		conn := charonConnOf(c)
		m, err := conn.loadMessage(10 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		vc, ok := m.Get("vco-1").(*vici.Message)
		if !ok {
			t.Fatalf("%s: no connection in load-conn message", tc.name)
		}
		if got := vc.Get("dpd_delay"); got != tc.delay {
			t.Errorf("%s: dpd_delay %v, want %s", tc.name, got, tc.delay)
		}
		if got := vc.Get("dpd_timeout"); (tc.timeout == "" && got != nil) || (tc.timeout != "" && got != tc.timeout) {
			t.Errorf("%s: dpd_timeout %v, want %q", tc.name, got, tc.timeout)
		}
		if got := strings.HasSuffix(conn.summary(), " fast-dpd"); got != tc.fast {
			t.Errorf("%s: summary %q", tc.name, conn.summary())
		}
		conf := charonConf(c)
		if got := fastRetransmitIn(conf); got != tc.fast {
			t.Errorf("%s: fast retransmission settings in strongswan.conf: %v", tc.name, got)
		}
		if !tc.fast && conf != nsutil.StrongswanConf("") {
			t.Errorf("%s: strongswan.conf is not the default one", tc.name)
		}
		// Without FastDPD the digest is computed from the same JSON as before the field
		// existed, so upgrading the driver does not reload (and renegotiate) every tunnel.
		b, err := json.Marshal(conn)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "FastDPD") != tc.fast {
			t.Errorf("%s: digested JSON %s", tc.name, b)
		}
		other := c
		other.FastDPD = !c.FastDPD
		if charonConnOf(other).digest("s") == conn.digest("s") {
			t.Errorf("%s: FastDPD does not change the digest", tc.name)
		}
	}
}

// TestFastRetransmitOverrides: the fast settings come after the defaults in the charon
// section of strongswan.conf, where strongSwan keeps a key's last value; and each
// retransmit_* key the defaults set is overridden.
func TestFastRetransmitOverrides(t *testing.T) {
	last := func(conf string) map[string]string {
		vals := map[string]string{}
		depth := 0
		for _, line := range strings.Split(conf, "\n") {
			f := strings.TrimSpace(line)
			switch {
			case strings.HasSuffix(f, "{"):
				depth++
			case f == "}":
				depth--
			case depth == 1 && strings.HasPrefix(f, "retransmit_"):
				k, v, _ := strings.Cut(f, "=")
				vals[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
		return vals
	}
	def, fast := last(nsutil.StrongswanConf("")), last(charonConf(Cell{FastDPD: true}))
	want := map[string]string{"retransmit_tries": "2", "retransmit_timeout": "0.7", "retransmit_base": "1.0"}
	if len(def) == 0 {
		t.Fatal("no retransmit_* settings in the default strongswan.conf")
	}
	for k := range def {
		if fast[k] != want[k] {
			t.Errorf("%s: the fast charon's last value is %q, want %q", k, fast[k], want[k])
		}
	}
	if !strings.HasPrefix(strings.TrimSpace(charonConf(Cell{FastDPD: true})), "# private charon instance") {
		t.Error("the fast strongswan.conf is not nsutil's")
	}
}
