package dataplane

import (
	"strings"
	"time"

	"opencen/internal/dataplane/nsutil"
)

// Fast dead peer detection (Cell.FastDPD), for the tunnels of a dual-tunnel connection:
// when a tunnel's path dies, its cell must report the IKE SA down within a few seconds,
// so that routes move to the other tunnel. The default cell notices after ~25 s (DPD
// every 10 s, then ~15 s of retransmissions).
//
// What governs the time differs by IKE version (strongSwan 5.9, checked in its sources):
//   - IKEv2: a DPD is an INFORMATIONAL exchange, retransmitted like every request; the
//     peer is dead when the retransmissions give up ("giving up after N retransmits").
//     dpd_timeout has no effect (swanctl.conf: "IKEv1 only").
//   - IKEv1: a DPD is an R_U_THERE notify, sent once and never retransmitted (a new one
//     goes out every dpd_delay while nothing comes in); the peer is dead when nothing came
//     in for dpd_timeout - dpd_delay after one was sent ("DPD check timed out"). Without
//     dpd_timeout that window is derived from the retransmission settings.
//
// Both happen dpd_delay after the last packet received. The fast settings:
//   - dpd_delay 1 s;
//   - IKEv2: retransmissions 0.7 s apart (base 1.0: no back-off, a fixed budget), two
//     retransmits: the peer is dead 2.1 s after the unanswered DPD, ~3 s after its last
//     packet; two lost packets in a row are tolerated;
//   - IKEv1: dpd_timeout 3 s: dead 2 s after an unanswered R_U_THERE, ~3 s after the last
//     packet; the R_U_THERE sent a second later is a second chance.
//
// So a path that dies is reported 2-4 s later (the DPD goes out 0-2 s after the last
// packet received, with charon's one-second clock; on an idle tunnel DPDs go out every
// second, and TestFastDPDFailover measures ~2.4 s), under the 5 s the dual-tunnel
// failover needs. The retransmission settings are charon-wide: they also bound the
// cell's other exchanges (its initiations, rekeyings), which then give up as quickly,
// and retry (keyingtries 0). They are read when charon starts: a running charon with
// the other settings is replaced (UpdateCell).
const (
	fastDPDDelay   = time.Second
	fastDPDTimeout = 3 * time.Second // IKEv1 only
)

// fastRetransmit is the strongswan.conf part of a FastDPD cell's charon (nsutil's
// StrongswanConf extra: placed after the defaults, it overrides them, strongSwan keeping
// the last value of a key).
const fastRetransmit = `  # FastDPD (a tunnel of a dual-tunnel connection): give up 2.1 s after the first
  # unanswered request (three sends 0.7 s apart), so a dead path shows in ~3 s
  retransmit_tries = 2
  retransmit_timeout = 0.7
  retransmit_base = 1.0
`

// fastRetransmitSummary is how Render shows a charon running with fastRetransmit.
const fastRetransmitSummary = "fast DPD: 2 retransmits 0.7 s apart"

// charonConf is the strongswan.conf of cell c's charon.
func charonConf(c Cell) string {
	if c.FastDPD {
		return nsutil.StrongswanConf(fastRetransmit)
	}
	return nsutil.StrongswanConf("")
}

// fastRetransmitIn says whether a charon's strongswan.conf has the fast retransmission
// settings.
func fastRetransmitIn(conf string) bool { return strings.Contains(conf, fastRetransmit) }
