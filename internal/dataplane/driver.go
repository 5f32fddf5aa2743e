package dataplane

import (
	"context"
	"time"
)

// Driver applies desired states to the operating system.
//
// Apply is idempotent and converges from any state: it creates what is missing, updates
// what changed and deletes what is not desired (nil = tear everything down). Cleanup
// removes everything the driver (or an earlier, crashed instance with the same
// configuration) created. Status reports the IPsec-VPN connections.
type Driver interface {
	Apply(ctx context.Context, d *Desired) error
	Cleanup(ctx context.Context) error
	Status(ctx context.Context) (Status, error)
}

// Negotiation states of a connection (the API's VpnConnection Status values).
const (
	IKENotEstablished   = "ike_sa_not_established"
	IKEEstablished      = "ike_sa_established"
	IPsecNotEstablished = "ipsec_sa_not_established"
	IPsecEstablished    = "ipsec_sa_established"
)

// Status is the state of all cells the driver manages.
type Status struct {
	Cells []CellStatus // sorted by ID
}

// Cell returns the status of one cell.
func (s Status) Cell(id string) (CellStatus, bool) {
	for _, c := range s.Cells {
		if c.ID == id {
			return c, true
		}
	}
	return CellStatus{}, false
}

// CellStatus is one IPsec-VPN connection's negotiation state.
type CellStatus struct {
	ID       string
	RouterID string
	// Running: the cell's charon is alive.
	Running bool
	PID     int
	// State is one of IKENotEstablished, IKEEstablished (IKE SA up, child SA being
	// negotiated), IPsecNotEstablished (IKE SA up, child SA failed) and IPsecEstablished.
	State string
	// IKE describes the IKE SA ("" if none), e.g.
	// "ESTABLISHED IKEv2 AES_CBC-128/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1024".
	IKE string
	// Children describes the installed child SAs, e.g. "INSTALLED ESP AES_CBC-128/HMAC_SHA1_96 0.0.0.0/0 === 0.0.0.0/0".
	Children []string
	// Events are the most recent events, oldest first.
	Events []Event
}

// Event kinds.
const (
	EventIKEUp            = "ike_established"
	EventIKEDown          = "ike_deleted"
	EventChildUp          = "ipsec_established"
	EventChildDown        = "ipsec_deleted"
	EventIKERekey         = "ike_rekeyed"
	EventChildRekey       = "ipsec_rekeyed"
	EventProposalMismatch = "proposal_mismatch" // this side found no acceptable proposal in the peer's
	EventPeerRefused      = "peer_refused"      // the peer answered NO_PROPOSAL_CHOSEN: no matching configuration or proposal there
	EventAuthFailed       = "authentication_failed"
	EventDPDTimeout       = "dpd_timeout" // peer did not answer: DPD or retransmissions gave up
	EventInitiate         = "initiating"
	EventInitiateFailed   = "initiate_failed"
	EventTriggered        = "traffic_triggered" // on-demand start: first packet from the router side
	EventCharonStarted    = "charon_started"
	EventConfigLoaded     = "config_loaded"
)

// Event is something that happened to a connection: parsed from the cell's charon log
// (established, deleted, rekeyed, negotiation failures, DPD) or done by the driver
// (charon started, configuration loaded, initiations, on-demand trigger).
type Event struct {
	Time    time.Time
	Cell    string
	Kind    string
	Message string
}
