package service

import (
	"strings"
	"testing"
	"time"

	"opencen/internal/model"
)

func TestDiagnose(t *testing.T) {
	t0 := time.Date(2026, 8, 1, 10, 0, 0, 0, time.UTC)
	at := func(s int, msg string) LogLine {
		return LogLine{Time: t0.Add(time.Duration(s) * time.Second), Message: msg}
	}
	mismatch := "proposal_mismatch: vco-1: no acceptable proposal found (the peer proposed IKE:AES_CBC_256/HMAC_SHA2_512_256/MODP_2048; this side accepts IKE:AES_CBC_128/HMAC_SHA1_96/MODP_1024)"
	attached := func(status string, edit ...func(*model.VpnConnection)) *model.VpnConnection {
		v := &model.VpnConnection{Meta: model.Meta{ID: "vco-1", Status: model.VcoAttached}, EffectImmediately: true, NegotiationStatus: status}
		for _, e := range edit {
			e(v)
		}
		return v
	}
	tests := []struct {
		name             string
		v                *model.VpnConnection
		events           []LogLine
		severity, code   string
		at               time.Time
		local, remote    string
		reasonMentions   string
		sourceLogMention string
	}{
		{name: "not attached", v: &model.VpnConnection{Meta: model.Meta{ID: "vco-1", Status: model.VcoInit}},
			severity: "Warn", code: "VpnConnectionNotAttached", reasonMentions: "CreateTransitRouterVpnAttachment"},
		{name: "updating", v: attached("", func(v *model.VpnConnection) { v.Status = model.VcoUpdating }), severity: "Warn", code: "VpnConnectionConfiguring"},
		{name: "up", v: attached("ipsec_sa_established"), events: []LogLine{at(1, "ike_established: x"), at(2, "ipsec_established: y")}, severity: "Normal"},
		{name: "failure before it came up is history", v: attached("ipsec_sa_established"),
			events: []LogLine{at(1, "authentication_failed: x"), at(5, "ipsec_established: y")}, severity: "Normal"},
		{name: "peer silent in phase 1", v: attached("ike_sa_not_established"), events: []LogLine{at(1, "initiating: a"), at(30, "dpd_timeout: giving up after 5 retransmits")},
			severity: "Critical", code: "Phase1NegotiationTimeout", at: t0.Add(30 * time.Second), sourceLogMention: "dpd_timeout: giving up"},
		{name: "peer gone after it was up", v: attached("ipsec_sa_not_established"),
			events: []LogLine{at(1, "ipsec_established: y"), at(40, "dpd_timeout: DPD check timed out")}, severity: "Critical", code: "PeerNotResponding"},
		{name: "proposal mismatch phase 1", v: attached("ike_sa_not_established"), events: []LogLine{at(3, mismatch)}, severity: "Critical", code: "Phase1ProposalMismatch",
			remote: "IKE:AES_CBC_256/HMAC_SHA2_512_256/MODP_2048", local: "IKE:AES_CBC_128/HMAC_SHA1_96/MODP_1024"},
		{name: "proposal mismatch phase 2", v: attached("ike_sa_established"), events: []LogLine{at(1, "ike_established: x"), at(3, "proposal_mismatch: no acceptable proposal found")},
			severity: "Critical", code: "Phase2ProposalMismatch"},
		{name: "peer refused", v: attached("ike_sa_not_established"), events: []LogLine{at(3, "peer_refused: the peer refused")}, severity: "Critical", code: "Phase1PeerRefused"},
		{name: "authentication", v: attached("ike_sa_not_established"), events: []LogLine{at(3, "authentication_failed: MAC mismatched")}, severity: "Critical",
			code: "AuthenticationFailed", reasonMentions: "pre-shared key"},
		{name: "failed since, yet up again", v: attached("ipsec_sa_established"),
			events: []LogLine{at(1, "ipsec_established: y"), at(9, "peer_refused: rekey refused")}, severity: "Warn", code: "Phase1PeerRefused"},
		{name: "health check fails", v: attached("ipsec_sa_established", func(v *model.VpnConnection) {
			v.HealthCheck = model.HealthCheck{Enable: true, Dip: "192.168.1.1"}
			v.HealthCheckStatus = "failed"
		}), severity: "Warn", code: "HealthCheckFailed", reasonMentions: "192.168.1.1"},
		{name: "waiting for traffic", v: attached("ike_sa_not_established", func(v *model.VpnConnection) { v.EffectImmediately = false }),
			events: []LogLine{at(1, "config_loaded: x")}, severity: "Warn", code: "NegotiationNotStarted"},
		{name: "nothing yet", v: attached("ike_sa_not_established"), severity: "Warn", code: "NegotiationNotEstablished"},
		{name: "other log lines do not count", v: attached("ike_sa_not_established"), events: []LogLine{at(1, "health_check failed: x"), at(2, "configuration modified")},
			severity: "Warn", code: "NegotiationNotEstablished"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := diagnose(tc.v, tc.events)
			if d.VpnConnectionID != "vco-1" || d.Severity != tc.severity || d.Code != tc.code || (!tc.at.IsZero() && !d.At.Equal(tc.at)) ||
				d.LocalParam != tc.local || d.RemoteParam != tc.remote {
				t.Fatalf("diagnose = %+v; want severity %s code %q at %v local %q remote %q", d, tc.severity, tc.code, tc.at, tc.local, tc.remote)
			}
			if (d.Code == "") != (d.Reason == "") || !strings.Contains(d.Reason, tc.reasonMentions) || !strings.Contains(d.SourceLog, tc.sourceLogMention) {
				t.Fatalf("reason %q / source log %q", d.Reason, d.SourceLog)
			}
			if d.SourceLog != "" && !strings.HasPrefix(d.SourceLog, d.At.Format("2006-01-02 15:04:05")) || d.Severity == "Critical" && d.SourceLog == "" {
				t.Fatalf("a failure without its log line: %+v", d)
			}
		})
	}
}
