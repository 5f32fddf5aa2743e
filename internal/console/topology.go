package console

import (
	"fmt"
	"html"
	"html/template"
	"strings"
)

// topoLink is an association (the table the attachment's traffic is forwarded by) or a
// propagation (the attachment's routes learned into the table).
type topoLink struct {
	Attachment, Table, Status string
	Propagation               bool
}

// Topology geometry: attachments left, route tables right, both inside the router's frame.
const (
	topoW     = 760
	rowH      = 64
	nodeW     = 250
	nodeH     = 46
	leftX     = 24
	rightX    = topoW - 24 - nodeW
	topMargin = 56
)

// topology draws the transit router as SVG: its attachments (coloured by attachment
// status and tunnel state), its route tables, solid lines for associations and dashed
// lines for propagations.
func topology(tr map[string]any, v trView) template.HTML {
	rows := max(len(v.Attachments), len(v.Tables), 1)
	h := topMargin + rows*rowH + 40
	var b strings.Builder
	e := html.EscapeString
	trID := str(tr["TransitRouterId"])
	fmt.Fprintf(&b, `<svg class="topology" viewBox="0 0 %d %d" role="img" aria-labelledby="topo-title" xmlns="http://www.w3.org/2000/svg">`, topoW, h)
	fmt.Fprintf(&b, `<title id="topo-title">Topology of %s: %d attachments, %d route tables</title>`, e(trID), len(v.Attachments), len(v.Tables))
	fmt.Fprintf(&b, `<rect class="tr-frame" x="4" y="4" width="%d" height="%d" rx="14"/>`, topoW-8, h-8)
	fmt.Fprintf(&b, `<text class="tr-label" x="20" y="32">%s %s · %s (%s)</text>`, e(trID), e(str(tr["TransitRouterName"])), e(str(tr["RegionId"])), e(str(tr["Status"])))
	fmt.Fprintf(&b, `<text class="col-label" x="%d" y="50">Attachments</text><text class="col-label" x="%d" y="50">Route tables</text>`, leftX, rightX)

	attY, tableY := map[string]int{}, map[string]int{}
	for i, a := range v.Attachments {
		attY[str(a["TransitRouterAttachmentId"])] = topMargin + i*rowH
	}
	for i, t := range v.Tables {
		tableY[str(dig(t, "TransitRouterRouteTableId"))] = topMargin + i*rowH
	}
	for _, l := range v.Links {
		ay, ok1 := attY[l.Attachment]
		ty, ok2 := tableY[l.Table]
		if !ok1 || !ok2 {
			continue
		}
		x1, y1, x2, y2 := leftX+nodeW, ay+nodeH/2, rightX, ty+nodeH/2
		class, what := "assoc", "associated with"
		if l.Propagation {
			class, what, y1, y2 = "prop", "propagates into", y1+8, y2+8
		}
		mid := (x1 + x2) / 2
		fmt.Fprintf(&b, `<path class="link %s %s" d="M%d %d C%d %d %d %d %d %d"><title>%s %s %s (%s)</title></path>`,
			class, statusClass(l.Status), x1, y1, mid, y1, mid, y2, x2, y2, e(l.Attachment), what, e(l.Table), e(l.Status))
	}
	for _, a := range v.Attachments {
		id := str(a["TransitRouterAttachmentId"])
		state := str(a["Status"])
		label := fmt.Sprintf("%s %s", a["Kind"], str(a["VpnId"])+str(a["VpcId"]))
		if a["Kind"] == "TR" {
			// An inter-region connection: the router at the other end and its region.
			label = fmt.Sprintf("TR %s · %s", str(a["PeerTransitRouterId"]), str(a["PeerTransitRouterRegionId"]))
		}
		if t := str(a["Tunnel"]); t != "" {
			state += " · " + t
		}
		fmt.Fprintf(&b, `<g class="node att %s"><title>%s: %s</title><rect x="%d" y="%d" width="%d" height="%d" rx="8"/>`,
			statusClass(tunnelOrStatus(a)), e(id), e(state), leftX, attY[id], nodeW, nodeH)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text><text class="sub" x="%d" y="%d">%s</text></g>`,
			leftX+10, attY[id]+19, e(label), leftX+10, attY[id]+36, e(state))
	}
	for _, t := range v.Tables {
		id := str(dig(t, "TransitRouterRouteTableId"))
		kind := str(dig(t, "TransitRouterRouteTableType"))
		fmt.Fprintf(&b, `<g class="node table %s"><rect x="%d" y="%d" width="%d" height="%d" rx="8"/>`, statusClass(str(dig(t, "TransitRouterRouteTableStatus"))), rightX, tableY[id], nodeW, nodeH)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text><text class="sub" x="%d" y="%d">%s</text></g>`,
			rightX+10, tableY[id]+19, e(id), rightX+10, tableY[id]+36, e(kind+" "+str(dig(t, "TransitRouterRouteTableName"))))
	}
	fmt.Fprintf(&b, `<g class="legend" transform="translate(%d %d)"><path class="link assoc ok" d="M0 0 H30"/><text x="36" y="4">association</text><path class="link prop ok" d="M130 0 H160"/><text x="166" y="4">propagation</text></g>`, leftX, h-20)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// tunnelOrStatus colours a VPN attachment by its tunnel once attached.
func tunnelOrStatus(a map[string]any) string {
	if t := str(a["Tunnel"]); t != "" && str(a["Status"]) == "Attached" {
		return t
	}
	return str(a["Status"])
}
