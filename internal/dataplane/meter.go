package dataplane

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"opencen/internal/dataplane/nsutil"
)

// Metering: every router namespace holds an nftables table (meterTable) with one pair of
// named counters per attachment link: "i_<link>" counts the IP packets (and their bytes,
// headers included: the inner packets of a tunnel, never ESP) that enter the router from
// the link, "o_<link>" those that leave the router into it. Two maps from link name to
// counter and one rule per hook keep the cost per packet one hash lookup, whatever the
// number of attachments.
//
// Why nft counters in the router namespace rather than charon's SA counters or the cell
// link's own statistics: charon's counters start again at every CHILD_SA rekey (hourly by
// default) and die with charon; a link's statistics die with the veth pair when the cell
// is rebuilt (a charon restart that lost its namespace, a crash, a move), taking the
// traffic since the last reading with them. The router's table matches links by name, so
// a rebuilt cell's new link is counted by the same counter, and it lives as long as the
// router namespace. When that goes (the router rebuilt or moved to another node), the new
// table starts a new epoch: a random name carried by a counter "epoch_<hex>" that counts
// nothing, so whoever keeps the totals can tell "the counter was reset" from "traffic".

// meterTable is the nftables table (family ip) holding a router's counters.
const meterTable = "opencen_meter"

// meterChain is the table's one chain: on the forward hook, so that a forwarded packet is
// looked up twice (its way in, its way out) in one chain, and what the router itself
// sends or receives (BGP with a data center, health-check probes) is not the attachments'
// traffic. (The first layout counted in prerouting and postrouting: two chains per packet,
// and the router's own traffic too.) A table without this chain, of the older layout, is
// replaced, starting a new epoch.
const meterChain = "through"

// Counter is a packet and byte count.
type Counter struct {
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

// LinkCounters are the counts of one attachment link of a router: In entered the router
// from the link, Out left the router into it.
type LinkCounters struct {
	In, Out Counter
}

// meter is what a router namespace's table holds: its epoch, the counters of each
// attachment (named "i_<attachment>" and "o_<attachment>", so they are known by their
// names alone) and which link each map sends to which attachment's counters.
type meter struct {
	Epoch string
	Atts  map[string]LinkCounters // by attachment ID
	Links map[string]string       // link name -> attachment ID
}

// Meter is one reading of an attachment's counters.
type Meter struct {
	Router     string
	Attachment string
	// Epoch names the counters' life: readings of one epoch only grow (see above).
	Epoch string
	LinkCounters
}

func newEpoch() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// meterScript is the nft script that makes ns's table count exactly the attachments of
// want (link name -> attachment ID), given what it holds now (have; ok false when there
// is none or it is damaged): a new table with a new epoch, or counters and map elements
// added and removed, so that an attachment that stays keeps its counts, also when its
// link is recreated. "" when nothing is to be done.
func meterScript(have meter, ok bool, want map[string]string) string {
	var b strings.Builder
	if !ok {
		// A table that is there but has no single epoch is replaced whole: its counts
		// cannot be told apart from another epoch's.
		fmt.Fprintf(&b, "add table ip %[1]s\ndelete table ip %[1]s\n", meterTable)
		fmt.Fprintf(&b, `table ip %[1]s {
	counter epoch_%[2]s { }
	map in_links { type ifname : counter; }
	map out_links { type ifname : counter; }
	chain %[3]s {
		type filter hook forward priority 300; policy accept;
		counter name iifname map @in_links counter name oifname map @out_links
	}
}
`, meterTable, newEpoch(), meterChain)
		have = meter{}
	}
	wantAtts := map[string]bool{}
	for _, att := range want {
		wantAtts[att] = true
	}
	for _, link := range slices.Sorted(mapKeys(have.Links)) {
		if att := have.Links[link]; want[link] != att {
			fmt.Fprintf(&b, "delete element ip %[1]s in_links { \"%[2]s\" }\ndelete element ip %[1]s out_links { \"%[2]s\" }\n", meterTable, link)
		}
	}
	for _, att := range slices.Sorted(mapKeys(have.Atts)) {
		if !wantAtts[att] {
			fmt.Fprintf(&b, "delete counter ip %[1]s i_%[2]s\ndelete counter ip %[1]s o_%[2]s\n", meterTable, att)
		}
	}
	for _, att := range slices.Sorted(mapKeys(wantAtts)) {
		if _, there := have.Atts[att]; !there {
			fmt.Fprintf(&b, "add counter ip %[1]s i_%[2]s\nadd counter ip %[1]s o_%[2]s\n", meterTable, att)
		}
	}
	for _, link := range slices.Sorted(mapKeys(want)) {
		if att := want[link]; have.Links[link] != att {
			fmt.Fprintf(&b, "add element ip %[1]s in_links { \"%[2]s\" : \"i_%[3]s\" }\nadd element ip %[1]s out_links { \"%[2]s\" : \"o_%[3]s\" }\n", meterTable, link, att)
		}
	}
	return b.String()
}

// nftObject is one object of `nft -j list table`, reduced to what the meter reads.
type nftObject struct {
	Counter *struct {
		Name    string `json:"name"`
		Table   string `json:"table"`
		Packets uint64 `json:"packets"`
		Bytes   uint64 `json:"bytes"`
	} `json:"counter"`
	Map *struct {
		Name  string `json:"name"`
		Table string `json:"table"`
		Elem  []json.RawMessage
	} `json:"map"`
	Chain *struct {
		Name  string `json:"name"`
		Table string `json:"table"`
	} `json:"chain"`
}

// errNoMeter: the namespace has no meter table (nft says so).
var errNoMeter = errors.New("no meter table")

// parseMeter decodes `nft -j list table ip opencen_meter`. ok is false when the table
// has no single epoch (damaged: to be replaced).
func parseMeter(out []byte) (m meter, ok bool, err error) {
	var doc struct {
		Nftables []nftObject `json:"nftables"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return meter{}, false, fmt.Errorf("nft -j list table %s: %w", meterTable, err)
	}
	m.Atts, m.Links = map[string]LinkCounters{}, map[string]string{}
	epochs, chain := 0, false
	for _, o := range doc.Nftables {
		switch {
		case o.Chain != nil && o.Chain.Table == meterTable && o.Chain.Name == meterChain:
			chain = true
		case o.Counter != nil && o.Counter.Table == meterTable:
			c := Counter{Packets: o.Counter.Packets, Bytes: o.Counter.Bytes}
			name := o.Counter.Name
			if e, isEpoch := strings.CutPrefix(name, "epoch_"); isEpoch {
				m.Epoch = e
				epochs++
			} else if att, isIn := strings.CutPrefix(name, "i_"); isIn && att != "" {
				lc := m.Atts[att]
				lc.In = c
				m.Atts[att] = lc
			} else if att, isOut := strings.CutPrefix(name, "o_"); isOut && att != "" {
				lc := m.Atts[att]
				lc.Out = c
				m.Atts[att] = lc
			}
		case o.Map != nil && o.Map.Table == meterTable && o.Map.Name == "in_links":
			// out_links mirrors in_links (one script writes both).
			for _, raw := range o.Map.Elem {
				var kv []string
				if json.Unmarshal(raw, &kv) == nil && len(kv) == 2 {
					if att, isIn := strings.CutPrefix(kv[1], "i_"); isIn && att != "" {
						m.Links[kv[0]] = att
					}
				}
			}
		}
	}
	return m, epochs == 1 && m.Epoch != "" && chain, nil
}

// meterLinks are the links of a router's attachments: link name -> attachment ID.
func (d *Netns) meterLinks(r Router) map[string]string {
	out := map[string]string{}
	for _, v := range r.VPCs {
		out[d.AttachmentLink(v.AttachmentID)] = v.AttachmentID
	}
	for _, c := range r.Cells {
		out[d.AttachmentLink(c.AttachmentID)] = c.AttachmentID
	}
	// An inter-region link is counted at each end, by each router: what a router sends
	// into the connection is its out, what it receives its in.
	for _, p := range r.Peers {
		out[d.AttachmentLink(p.AttachmentID)] = p.AttachmentID
	}
	return out
}

// Counters reads the counters of routers' attachments (those of this driver's routers
// that run here), plus the last readings of attachments and routers removed since the
// previous call (taken just before they went, so their traffic up to then is not lost).
// A router whose namespace is missing or has no meter yet is left out; the errors of
// the others are joined.
func (d *Netns) Counters(ctx context.Context, routers []string) ([]Meter, error) {
	if d.opts.NoMeter {
		return nil, nil
	}
	d.mmu.Lock()
	out := d.final
	d.final = nil
	d.mmu.Unlock()
	var errs []error
	for _, r := range routers {
		m, err := d.readMeter(ctx, d.RouterNetns(r), r, nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("router %s: %w", r, err))
			continue
		}
		out = append(out, m...)
	}
	return out, errors.Join(errs...)
}

// readMeter reads the counters in namespace ns (of router, "" if unknown); only, when not
// nil, limits it to some attachments. No table: no readings.
func (d *Netns) readMeter(ctx context.Context, ns, router string, only map[string]bool) ([]Meter, error) {
	m, ok, err := d.net.Meter(ctx, ns)
	if errors.Is(err, errNoMeter) || (err == nil && !ok) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Meter
	for _, att := range slices.Sorted(mapKeys(m.Atts)) {
		if only != nil && !only[att] {
			continue
		}
		out = append(out, Meter{Router: router, Attachment: att, Epoch: m.Epoch, LinkCounters: m.Atts[att]})
	}
	return out, nil
}

// keepFinal reads counters in router namespace ns (of router, "" if unknown) before they
// are deleted: all of them, or only some attachments'. Counters hands them out next.
func (d *Netns) keepFinal(ctx context.Context, ns, router string, only map[string]bool) {
	if d.opts.NoMeter {
		return
	}
	m, err := d.readMeter(ctx, ns, router, only)
	if err != nil {
		d.logf("%s: last reading of its counters: %v", ns, err)
		return
	}
	d.mmu.Lock()
	d.final = append(d.final, m...)
	d.mmu.Unlock()
}

// updateMeter makes router r's table count its attachments, keeping the last readings of
// the attachments it stops counting.
func (d *Netns) updateMeter(ctx context.Context, r Router) error {
	if d.opts.NoMeter {
		return nil
	}
	rns := d.RouterNetns(r.ID)
	have, ok, err := d.net.Meter(ctx, rns)
	if err != nil && !errors.Is(err, errNoMeter) {
		return fmt.Errorf("meter: %w", err)
	}
	want := d.meterLinks(r)
	if ok {
		gone := map[string]bool{}
		wantAtts := map[string]bool{}
		for _, att := range want {
			wantAtts[att] = true
		}
		for att := range have.Atts {
			if !wantAtts[att] {
				gone[att] = true
			}
		}
		if len(gone) > 0 {
			d.keepFinal(ctx, rns, r.ID, gone)
		}
	}
	if err := d.net.SetMeter(ctx, rns, want); err != nil {
		return fmt.Errorf("meter: %w", err)
	}
	return nil
}

// hostMeter reads a namespace's meter table with nft.
func hostMeter(ctx context.Context, ns string) (meter, bool, error) {
	out, err := nsutil.Exec(ctx, ns, "nft", "-j", "list", "table", "ip", meterTable)
	if err != nil {
		if nsutil.IsNotExist(err) {
			return meter{}, false, errNoMeter
		}
		return meter{}, false, err
	}
	return parseMeter(out)
}

// hostSetMeter brings a namespace's meter table to want in one nft transaction.
func hostSetMeter(ctx context.Context, ns string, want map[string]string) error {
	have, ok, err := hostMeter(ctx, ns)
	if err != nil && !errors.Is(err, errNoMeter) {
		return err
	}
	script := meterScript(have, ok, want)
	if script == "" {
		return nil
	}
	return nsutil.NFT(ctx, ns, script)
}
