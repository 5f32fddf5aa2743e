package service

import (
	"context"
	"strconv"

	"opencen/internal/apierr"
	"opencen/internal/model"
)

// Inter-region connections (transit router peer attachments). One attachment joins the
// transit routers of one CEN in two regions; both routers see it under the same ID, each
// associates it with one of its own route tables (whose routes it advertises to the other
// region) and propagates it into its own tables (where it learns the other region's
// routes). Its bandwidth comes from a bandwidth package bound to the CEN, or is
// pay-by-data-transfer with an optional cap; without either it carries the cloud's 1
// Kbit/s testing bandwidth.

func peerTRNotFound(id string) *apierr.Error {
	return apierr.New("InvalidPeerTransitRouterId.NotFound", "The peer transit router %s does not exist.", id)
}

// CreatePeerAttachmentInput is CreateTransitRouterPeerAttachment's request.
type CreatePeerAttachmentInput struct {
	RegionID, TransitRouterID, CenID     string
	PeerTransitRouterID, PeerRegionID    string
	Name, Description                    string
	AutoPublishRouteEnabled              *bool
	Bandwidth                            int
	BandwidthType, CenBandwidthPackageID string
	DefaultLinkType, ResourceType        string
	SystemLinks                          model.SystemLinks
	Tags                                 []model.Tag
	ClientToken                          string
	DryRun                               bool
}

// peerBandwidth is the bandwidth part of a create or update, checked on its own.
type peerBandwidth struct {
	Bandwidth               int
	Type, Package, LinkType string
}

// normalize fills defaults and checks what needs no store: the type (BandwidthPackage
// unless told otherwise), the line type (Gold; Platinum only pay-by-data-transfer) and
// that a package's bandwidth names its package.
func (b *peerBandwidth) normalize() error {
	if b.Bandwidth < 0 || b.Bandwidth > MaxBandwidthMbps {
		return apierr.Invalid("Bandwidth", "Bandwidth must be 0 to %d (Mbit/s); got %d.", MaxBandwidthMbps, b.Bandwidth)
	}
	if b.Type == "" {
		b.Type = model.BandwidthFromPackage
	}
	switch b.Type {
	case model.BandwidthFromPackage:
		if b.Bandwidth > 0 && b.Package == "" {
			return apierr.New("MissingCenBandwidthPackageId", "Bandwidth %d Mbit/s from a bandwidth package needs CenBandwidthPackageId; or set BandwidthType DataTransfer (pay-by-data-transfer, Bandwidth is then the cap).", b.Bandwidth)
		}
	case model.BandwidthDataTransfer:
		if b.Package != "" {
			return apierr.Invalid("CenBandwidthPackageId", "A pay-by-data-transfer (DataTransfer) inter-region connection takes no bandwidth package; leave CenBandwidthPackageId empty or set BandwidthType BandwidthPackage.")
		}
	default:
		return apierr.Invalid("BandwidthType", "BandwidthType must be BandwidthPackage or DataTransfer; got %q.", b.Type)
	}
	if b.LinkType == "" {
		b.LinkType = model.LinkGold
	}
	switch b.LinkType {
	case model.LinkGold:
	case model.LinkPlatinum:
		if b.Type != model.BandwidthDataTransfer {
			return apierr.Invalid("DefaultLinkType", "DefaultLinkType Platinum is offered for pay-by-data-transfer (BandwidthType DataTransfer) connections only; use Gold.")
		}
	default:
		return apierr.Invalid("DefaultLinkType", "DefaultLinkType must be Gold or Platinum; got %q.", b.LinkType)
	}
	return nil
}

// allocate checks, inside a transaction, that the package can give the bandwidth to the
// attachment self (of cen, between two regions): bound to the CEN, serving both regions'
// areas, with enough left. It rewrites the package, so concurrent allocations serialize.
func (s *Service) allocate(t *txn, c Caller, b peerBandwidth, cenID, regionA, regionB, self string) error {
	if b.Package == "" {
		return nil
	}
	p, err := s.ownedBwp(t, c, b.Package)
	if err != nil {
		return err
	}
	if p.CenID != cenID {
		return apierr.New("InvalidOperation.BwpNotAssociated", "The bandwidth package %s is not bound to CEN %s; bind it with AssociateCenBandwidthPackage first.", p.ID, cenID)
	}
	ra, _ := s.cfg.Region(regionA)
	rb, _ := s.cfg.Region(regionB)
	if !p.Covers(ra.Area(), rb.Area()) {
		return apierr.New("OperationFailed.GeographicSpanMismatch", "The bandwidth package %s serves %s to %s; the connection joins %s (%s) and %s (%s). Use a package between those areas.",
			p.ID, p.GeographyA, p.GeographyB, regionA, ra.Area(), regionB, rb.Area())
	}
	used, err := allocatedFrom(t, p.ID, self)
	if err != nil {
		return err
	}
	if used+b.Bandwidth > p.Bandwidth {
		return apierr.New("OperationFailed.InsufficientBandwidth", "The bandwidth package %s has %d Mbit/s, of which inter-region connections take %d; %d Mbit/s more do not fit. Lower Bandwidth or raise the package's (ModifyCenBandwidthPackageSpec).",
			p.ID, p.Bandwidth, used, b.Bandwidth)
	}
	return t.put(resKey(model.KindBandwidthPackage, p.ID), p)
}

// CreateTransitRouterPeerAttachment connects two transit routers of one CEN in different
// regions: Attaching, then Attached.
func (s *Service) CreateTransitRouterPeerAttachment(ctx context.Context, c Caller, in CreatePeerAttachmentInput) (string, error) {
	if in.PeerTransitRouterID == "" {
		return "", apierr.Missing("PeerTransitRouterId")
	}
	if _, err := s.region("RegionId", in.RegionID); err != nil {
		return "", err
	}
	if in.TransitRouterID == "" && in.CenID == "" {
		return "", apierr.Missing("TransitRouterId")
	}
	if in.PeerRegionID != "" {
		if _, err := s.region("PeerTransitRouterRegionId", in.PeerRegionID); err != nil {
			return "", err
		}
	}
	if in.ResourceType != "" && in.ResourceType != "TR" {
		return "", apierr.Invalid("ResourceType", "ResourceType must be TR (a transit router); got %q.", in.ResourceType)
	}
	if err := model.CBNName.Check("TransitRouterAttachmentName", in.Name); err != nil {
		return "", err
	}
	if err := model.CBNDescription.Check("TransitRouterAttachmentDescription", in.Description); err != nil {
		return "", err
	}
	if err := model.CheckTags("Tag", in.Tags); err != nil {
		return "", err
	}
	bw := peerBandwidth{Bandwidth: in.Bandwidth, Type: in.BandwidthType, Package: in.CenBandwidthPackageID, LinkType: in.DefaultLinkType}
	if err := bw.normalize(); err != nil {
		return "", err
	}
	return idempotent(ctx, s, c, "CreateTransitRouterPeerAttachment", in.ClientToken, func(t *txn) (string, error) {
		tr, err := s.findTR(t, c, in.TransitRouterID, in.CenID, in.RegionID)
		if err != nil {
			return "", err
		}
		peer, err := getOwned[model.TransitRouter](t, c, model.KindTR, in.PeerTransitRouterID, peerTRNotFound(in.PeerTransitRouterID))
		if err != nil {
			return "", err
		}
		if in.PeerRegionID != "" && peer.Region != in.PeerRegionID {
			return "", apierr.New("InvalidPeerTransitRouterId.NotFound", "The peer transit router %s is not in %s (PeerTransitRouterRegionId); it is in %s.", peer.ID, in.PeerRegionID, peer.Region)
		}
		if peer.Status != model.StatusActive {
			return "", apierr.New("IncorrectStatus.TransitRouterInstance", "The peer transit router %s is %s; retry when it is Active.", peer.ID, peer.Status)
		}
		if peer.Region == tr.Region {
			return "", apierr.New("OperationUnsupported.SameRegion", "The transit routers %s and %s are both in %s; an inter-region connection joins transit routers of two regions (attach networks of one region to its one transit router).", tr.ID, peer.ID, tr.Region)
		}
		if peer.CenID != tr.CenID {
			return "", apierr.New("OperationFailed.DifferentCen", "The transit router %s belongs to CEN %s, the peer %s to CEN %s; an inter-region connection joins transit routers of one CEN.", tr.ID, tr.CenID, peer.ID, peer.CenID)
		}
		peers, err := listTxn[model.PeerAttachment](t, model.KindPeerAttachment)
		if err != nil {
			return "", err
		}
		for _, o := range peers {
			if o.Connects(tr.ID) && o.Connects(peer.ID) {
				return "", apierr.New("OperationFailed.PeerAttachmentExists", "The transit routers %s and %s are already connected by inter-region connection %s (%s); two transit routers have at most one.", tr.ID, peer.ID, o.ID, o.Status)
			}
		}
		a := model.PeerAttachment{Meta: s.newMeta(c, model.KindPeerAttachment, tr.Region, model.AttachmentAttaching, in.Tags),
			TransitRouterID: tr.ID, CenID: tr.CenID, PeerTransitRouterID: peer.ID, PeerRegion: peer.Region, Name: in.Name, Description: in.Description,
			Bandwidth: bw.Bandwidth, BandwidthType: bw.Type, CenBandwidthPackageID: bw.Package, DefaultLinkType: bw.LinkType, SystemLinks: in.SystemLinks}
		if in.AutoPublishRouteEnabled != nil {
			a.AutoPublishRouteEnabled = *in.AutoPublishRouteEnabled
		}
		if err := s.allocate(t, c, bw, tr.CenID, tr.Region, peer.Region, a.ID); err != nil {
			return "", err
		}
		if in.DryRun {
			return "", errDryRun
		}
		// Both routers count it (DeleteTransitRouter refuses while it exists); rewriting
		// both serializes concurrent creations between the same two.
		tr.Attachments++
		peer.Attachments++
		if err := t.put(resKey(model.KindTR, tr.ID), tr); err != nil {
			return "", err
		}
		if err := t.put(resKey(model.KindTR, peer.ID), peer); err != nil {
			return "", err
		}
		return a.ID, t.create(resKey(model.KindPeerAttachment, a.ID), a)
	})
}

// PeerAttachmentFilter selects inter-region connections; an attachment matches a transit
// router or a region at either end.
type PeerAttachmentFilter struct {
	Region, CenID, TransitRouterID, ID string
	Tags                               []model.Tag
}

// PeerAttachmentView is an inter-region connection as one of its routers sees it: Local is
// that router (and its region), Peer the other.
type PeerAttachmentView struct {
	*model.PeerAttachment
	Local, LocalRegion, Peer, PeerRegion string
}

// PeerView shows a from router tr's side.
func PeerView(a *model.PeerAttachment, tr string) PeerAttachmentView {
	v := PeerAttachmentView{PeerAttachment: a, Local: a.TransitRouterID, LocalRegion: a.Region, Peer: a.PeerTransitRouterID, PeerRegion: a.PeerRegion}
	if tr == a.PeerTransitRouterID {
		v.Local, v.LocalRegion, v.Peer, v.PeerRegion = v.Peer, v.PeerRegion, v.Local, v.LocalRegion
	}
	return v
}

// ListTransitRouterPeerAttachments lists the caller's inter-region connections, each seen
// from the router the filter names (TransitRouterId, else the end in RegionId, else the
// router it was created on).
func (s *Service) ListTransitRouterPeerAttachments(ctx context.Context, c Caller, f PeerAttachmentFilter) ([]PeerAttachmentView, error) {
	all, err := listKind[model.PeerAttachment](ctx, s, model.KindPeerAttachment)
	if err != nil {
		return nil, err
	}
	sortByCreated(all)
	var out []PeerAttachmentView
	for _, a := range all {
		if a.Owner != c.AccountID || (f.CenID != "" && a.CenID != f.CenID) || (f.ID != "" && a.ID != f.ID) ||
			(f.TransitRouterID != "" && !a.Connects(f.TransitRouterID)) || (f.Region != "" && a.Region != f.Region && a.PeerRegion != f.Region) ||
			!model.MatchTags(a.Tags, f.Tags) {
			continue
		}
		side := a.TransitRouterID
		switch {
		case f.TransitRouterID != "":
			side = f.TransitRouterID
		case f.Region == a.PeerRegion:
			side = a.PeerTransitRouterID
		}
		out = append(out, PeerView(a, side))
	}
	return out, nil
}

// UpdatePeerAttachmentInput is UpdateTransitRouterPeerAttachmentAttribute's request.
type UpdatePeerAttachmentInput struct {
	ID                                   string
	Name, Description                    *string
	AutoPublishRouteEnabled              *bool
	Bandwidth                            *int
	BandwidthType, CenBandwidthPackageID *string
	DefaultLinkType                      *string
	DryRun                               bool
}

func (s *Service) ownedPeer(t *txn, c Caller, id string) (*model.PeerAttachment, error) {
	if id == "" {
		return nil, apierr.Missing("TransitRouterAttachmentId")
	}
	return getOwned[model.PeerAttachment](t, c, model.KindPeerAttachment, id, attachmentNotFound(id))
}

// UpdateTransitRouterPeerAttachmentAttribute changes a connection's name, description,
// route publishing, bandwidth (taken from its package at once) and line type. The data
// plane follows at once; the attachment stays Attached.
func (s *Service) UpdateTransitRouterPeerAttachmentAttribute(ctx context.Context, c Caller, in UpdatePeerAttachmentInput) error {
	if in.Name != nil {
		if err := model.CBNName.Check("TransitRouterAttachmentName", *in.Name); err != nil {
			return err
		}
	}
	if in.Description != nil {
		if err := model.CBNDescription.Check("TransitRouterAttachmentDescription", *in.Description); err != nil {
			return err
		}
	}
	return s.update(ctx, func(t *txn) error {
		a, err := s.ownedPeer(t, c, in.ID)
		if err != nil {
			return err
		}
		if a.Status != model.AttachmentAttached {
			return apierr.New("IncorrectStatus.Status", "The inter-region connection %s is %s; retry when it is Attached.", a.ID, a.Status)
		}
		bw := peerBandwidth{Bandwidth: a.Bandwidth, Type: a.BandwidthType, Package: a.CenBandwidthPackageID, LinkType: a.DefaultLinkType}
		if in.Bandwidth != nil {
			bw.Bandwidth = *in.Bandwidth
		}
		if in.BandwidthType != nil {
			bw.Type = *in.BandwidthType
			if bw.Type == model.BandwidthDataTransfer && in.CenBandwidthPackageID == nil {
				bw.Package = "" // moving to pay-by-data-transfer returns the package's bandwidth
			}
		}
		if in.CenBandwidthPackageID != nil {
			bw.Package = *in.CenBandwidthPackageID
		}
		if in.DefaultLinkType != nil {
			bw.LinkType = *in.DefaultLinkType
		}
		if err := bw.normalize(); err != nil {
			return err
		}
		if err := s.allocate(t, c, bw, a.CenID, a.Region, a.PeerRegion, a.ID); err != nil {
			return err
		}
		if in.DryRun {
			return errDryRun
		}
		a.Bandwidth, a.BandwidthType, a.CenBandwidthPackageID, a.DefaultLinkType = bw.Bandwidth, bw.Type, bw.Package, bw.LinkType
		if in.Name != nil {
			a.Name = *in.Name
		}
		if in.Description != nil {
			a.Description = *in.Description
		}
		if in.AutoPublishRouteEnabled != nil {
			a.AutoPublishRouteEnabled = *in.AutoPublishRouteEnabled
		}
		return t.put(resKey(model.KindPeerAttachment, a.ID), a)
	})
}

// DeleteTransitRouterPeerAttachment disconnects the two routers: Detaching, then gone.
// Without force it is refused while either router associates it or it propagates
// anywhere (force removes those too).
func (s *Service) DeleteTransitRouterPeerAttachment(ctx context.Context, c Caller, id string, force, dryRun bool) error {
	return s.update(ctx, func(t *txn) error {
		a, err := s.ownedPeer(t, c, id)
		if err != nil {
			return err
		}
		if err := beginDetach(t, a.ID, a.Status, force, dryRun); err != nil {
			return err
		}
		s.setStatus(&a.Meta, model.AttachmentDetaching)
		return t.put(resKey(model.KindPeerAttachment, a.ID), a)
	})
}

// finishPeerAttach completes Attaching -> Attached, associating and propagating with both
// routers' System tables as the creation asked.
func (s *Service) finishPeerAttach(t *txn, a *model.PeerAttachment) error {
	s.setStatus(&a.Meta, model.AttachmentAttached)
	for _, tr := range a.Routers() {
		if err := s.linkSystem(t, a.Meta, model.KindPeerAttachment, tr, a.SystemLinks); err != nil {
			return err
		}
	}
	return nil
}

// finishPeerDetach completes Detaching -> gone: links and static entries through it go,
// both routers count one attachment less.
func (s *Service) finishPeerDetach(t *txn, a *model.PeerAttachment) error {
	if err := removeAttachmentLinks(t, a.ID); err != nil {
		return err
	}
	if err := deleteWhere[model.RouteEntry](t, model.KindRouteEntry, func(e *model.RouteEntry) bool { return e.NextHopID == a.ID }); err != nil {
		return err
	}
	for _, tr := range a.Routers() {
		if err := adjustTR(t, tr, func(tr *model.TransitRouter) { tr.Attachments-- }); err != nil {
			return err
		}
	}
	return nil
}

// peerRateText renders a connection's enforced rate for people.
func peerRateText(a *model.PeerAttachment) string {
	switch k := a.RateKbit(); {
	case k == 0:
		return "no limit"
	case k < 1000:
		return strconv.FormatUint(k, 10) + " Kbit/s (testing bandwidth)"
	default:
		return strconv.FormatUint(k/1000, 10) + " Mbit/s"
	}
}
