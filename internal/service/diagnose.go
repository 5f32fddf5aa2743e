package service

import (
	"context"
	"slices"
	"strings"
	"time"

	"opencen/internal/apierr"
	"opencen/internal/dataplane"
	"opencen/internal/model"
)

// Diagnosis is what DiagnoseVpnConnections finds for one connection, from what can be
// known for real: the connection's state, the negotiation status its data plane reports,
// and the events in its log (the peer's answers, refusals, proposal mismatches, DPD).
type Diagnosis struct {
	VpnConnectionID string
	// TunnelID is the tunnel diagnosed, of a dual-tunnel connection.
	TunnelID string
	// Severity is Normal, Warn or Critical.
	Severity string
	// Code and Reason say what is wrong ("" for a healthy connection).
	Code, Reason string
	// At is when the reported failure happened (zero when none); SourceLog its log line.
	At        time.Time
	SourceLog string
	// LocalParam / RemoteParam are this side's and the peer's proposals when they did not match.
	LocalParam, RemoteParam string
}

// Diagnosis severities.
const (
	SeverityNormal   = "Normal"
	SeverityWarn     = "Warn"
	SeverityCritical = "Critical"
)

// DiagnoseVpnConnections diagnoses connections of the caller in a region, by ID, and the
// tunnels of dual-tunnel connections, by TunnelIds (a dual-tunnel connection named by ID
// gets a diagnosis per tunnel).
func (s *Service) DiagnoseVpnConnections(ctx context.Context, c Caller, region string, ids, tunnelIDs []string) ([]Diagnosis, error) {
	if _, err := s.region("RegionId", region); err != nil {
		return nil, err
	}
	if len(ids) == 0 && len(tunnelIDs) == 0 {
		return nil, apierr.Missing("VpnConnectionIds.1")
	}
	whole := map[string]bool{}
	for _, id := range ids {
		whole[id] = true
	}
	tunnels := map[string][]string{} // connection -> tunnels asked for by TunnelIds
	for _, tid := range tunnelIDs {
		vco, _, ok := model.TunnelOf(tid)
		if !ok {
			return nil, apierr.New("InvalidTunnelId.NotFound", "The tunnel %s does not exist; DescribeVpnConnection lists a dual-tunnel connection's tunnels.", tid)
		}
		if !whole[vco] && len(tunnels[vco]) == 0 {
			ids = append(ids, vco)
		}
		tunnels[vco] = append(tunnels[vco], tid)
	}
	out := make([]Diagnosis, 0, len(ids))
	for _, id := range ids {
		v, err := s.DescribeVpnConnection(ctx, c, region, id)
		if err != nil {
			return nil, err
		}
		if !v.Dual() {
			if len(tunnels[id]) > 0 {
				return nil, tunnelNotFound(tunnels[id][0], id)
			}
			events, err := s.connectionEvents(ctx, id)
			if err != nil {
				return nil, err
			}
			out = append(out, diagnose(v.VpnConnection, events))
			continue
		}
		for _, tid := range tunnels[id] {
			if _, ok := v.Tunnel(tid); !ok {
				return nil, tunnelNotFound(tid, id)
			}
		}
		for _, t := range v.Tunnels {
			if !whole[id] && !slices.Contains(tunnels[id], t.ID) {
				continue
			}
			events, err := s.connectionEvents(ctx, t.ID)
			if err != nil {
				return nil, err
			}
			u := v.TunnelConn(t.VpnTunnel)
			d := diagnose(&u, events)
			d.VpnConnectionID, d.TunnelID = v.ID, t.ID
			out = append(out, d)
		}
	}
	return out, nil
}

// Event kinds of the connection log, as the data plane writes them ("<kind>: <message>").
var (
	upEvents     = []string{dataplane.EventIKEUp, dataplane.EventChildUp, dataplane.EventIKERekey, dataplane.EventChildRekey}
	failedEvents = []string{dataplane.EventProposalMismatch, dataplane.EventPeerRefused, dataplane.EventAuthFailed,
		dataplane.EventDPDTimeout, dataplane.EventInitiateFailed}
)

func eventKind(l LogLine) string {
	kind, _, _ := strings.Cut(l.Message, ": ")
	return kind
}

// diagnose judges one connection from its state, observed negotiation status and event
// log (oldest first). The latest failure counts unless the connection came up after it.
func diagnose(v *model.VpnConnection, events []LogLine) Diagnosis {
	d := Diagnosis{VpnConnectionID: v.ID, Severity: SeverityNormal}
	switch v.Status {
	case model.VcoInit:
		d.Severity, d.Code = SeverityWarn, "VpnConnectionNotAttached"
		d.Reason = "The connection is not attached to a transit router: it has no gateway address and does not negotiate. Attach it with CreateTransitRouterVpnAttachment."
		return d
	case model.VcoAttaching, model.VcoDetaching, model.VcoUpdating:
		d.Severity, d.Code = SeverityWarn, "VpnConnectionConfiguring"
		d.Reason = "The connection is " + v.Status + "; diagnose it again when it is attached."
		return d
	}
	var lastUp, lastFail *LogLine
	for i := range events {
		switch kind := eventKind(events[i]); {
		case slices.Contains(upEvents, kind):
			lastUp = &events[i]
		case slices.Contains(failedEvents, kind):
			lastFail = &events[i]
		}
	}
	established := v.NegotiationStatus == dataplane.IPsecEstablished
	if lastFail != nil && (lastUp == nil || lastFail.Time.After(lastUp.Time)) {
		d.Severity = SeverityCritical
		if established {
			d.Severity = SeverityWarn // it failed since, yet the SAs are up again
		}
		d.At, d.SourceLog = lastFail.Time, lastFail.String()
		phase := "Phase1"
		if v.NegotiationStatus == dataplane.IKEEstablished || v.NegotiationStatus == dataplane.IPsecNotEstablished {
			phase = "Phase2"
		}
		switch eventKind(*lastFail) {
		case dataplane.EventDPDTimeout:
			d.Code, d.Reason = "PeerNotResponding", "The peer stopped answering (DPD or IKE retransmissions gave up): check that the customer gateway is up, its address is right, and UDP 500 and 4500 reach it."
			if v.NegotiationStatus == dataplane.IKENotEstablished || v.NegotiationStatus == "" {
				d.Code = "Phase1NegotiationTimeout"
			}
		case dataplane.EventProposalMismatch:
			d.Code, d.Reason = phase+"ProposalMismatch", "The peer's proposals and this connection's do not match: set the same encryption, authentication and DH group on both sides."
			d.RemoteParam, d.LocalParam = proposals(lastFail.Message)
		case dataplane.EventPeerRefused:
			d.Code, d.Reason = phase+"PeerRefused", "The peer refused the negotiation (NO_PROPOSAL_CHOSEN): it has no configuration for this connection, or other proposals."
		case dataplane.EventAuthFailed:
			d.Code, d.Reason = "AuthenticationFailed", "Authentication failed: the pre-shared key, or the local and remote IDs, differ between the two sides."
		default:
			d.Code, d.Reason = "NegotiationFailed", "The connection could not be started; see SourceLog."
		}
		return d
	}
	switch {
	case established && v.HealthCheck.Enable && v.HealthCheckStatus == "failed":
		d.Severity, d.Code = SeverityWarn, "HealthCheckFailed"
		d.Reason = "The tunnel is up but the health check toward " + v.HealthCheck.Dip + " fails: check that it answers from inside the data center."
	case established:
	case !v.EffectImmediately:
		d.Severity, d.Code = SeverityWarn, "NegotiationNotStarted"
		d.Reason = "EffectImmediately is false: negotiation starts when traffic for the data center arrives or the peer initiates."
	default:
		d.Severity, d.Code = SeverityWarn, "NegotiationNotEstablished"
		d.Reason = "No IPsec SA and no failure logged: the negotiation has not completed yet, or no data plane runs the connection."
	}
	return d
}

// proposals reads "(the peer proposed X; this side accepts Y)" from a mismatch message.
func proposals(msg string) (remote, local string) {
	_, rest, ok := strings.Cut(msg, "(the peer proposed ")
	if !ok {
		return "", ""
	}
	remote, rest, ok = strings.Cut(rest, "; this side accepts ")
	if !ok {
		return "", ""
	}
	local, _, _ = strings.Cut(rest, ")")
	return remote, local
}
