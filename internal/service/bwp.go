package service

import (
	"context"
	"slices"
	"strings"
	"time"

	"opencen/internal/apierr"
	"opencen/internal/config"
	"opencen/internal/model"
)

// CEN bandwidth packages (bandwidth plans): bandwidth between two geographic areas, bound
// to one CEN, from which its inter-region connections (peer attachments with
// BandwidthType BandwidthPackage) take their Bandwidth. The sum of what the connections
// take never exceeds the package's bandwidth.

func bwpNotFound(id string) *apierr.Error {
	return apierr.New("InvalidCenBandwidthPackageId.NotFound", "The CEN bandwidth package %s does not exist.", id)
}

// MaxBandwidthMbps bounds a bandwidth package and an inter-region connection (Mbit/s).
const MaxBandwidthMbps = 100_000

// CreateBandwidthPackageInput is CreateCenBandwidthPackage's request.
type CreateBandwidthPackageInput struct {
	Bandwidth                int
	BandwidthSet             bool
	GeographyA, GeographyB   string
	Name, Description        string
	ChargeType, PricingCycle string
	Period                   int
	Tags                     []model.Tag
	ClientToken              string
}

// geography resolves a GeographicRegion*Id (case-insensitive, as Terraform sends "China"
// and reads back "china").
func geography(param, v string) (string, error) {
	if v == "" {
		return "", apierr.Missing(param)
	}
	g := strings.ToLower(v)
	if !slices.Contains(config.Geographies, g) {
		return "", apierr.Invalid(param, "%s must be one of %s; got %q.", param, strings.Join(config.Geographies, ", "), v)
	}
	return g, nil
}

func checkBandwidth(param string, n int) error {
	if n < 1 || n > MaxBandwidthMbps {
		return apierr.Invalid(param, "%s must be 1 to %d (Mbit/s); got %d.", param, MaxBandwidthMbps, n)
	}
	return nil
}

// CreateCenBandwidthPackage buys a bandwidth package: Idle until bound to a CEN.
func (s *Service) CreateCenBandwidthPackage(ctx context.Context, c Caller, in CreateBandwidthPackageInput) (string, error) {
	if !in.BandwidthSet {
		return "", apierr.Missing("Bandwidth")
	}
	if err := checkBandwidth("Bandwidth", in.Bandwidth); err != nil {
		return "", err
	}
	a, err := geography("GeographicRegionAId", in.GeographyA)
	if err != nil {
		return "", err
	}
	b, err := geography("GeographicRegionBId", in.GeographyB)
	if err != nil {
		return "", err
	}
	if a > b {
		a, b = b, a
	}
	if err := model.CBNName.Check("Name", in.Name); err != nil {
		return "", err
	}
	if err := model.CBNDescription.Check("Description", in.Description); err != nil {
		return "", err
	}
	if err := model.CheckTags("Tag", in.Tags); err != nil {
		return "", err
	}
	months := 0
	switch in.ChargeType {
	case "", "POSTPAY":
		in.ChargeType = "POSTPAY"
	case "PREPAY":
		if in.Period < 1 {
			return "", apierr.Invalid("Period", "A prepaid (PREPAY) bandwidth package needs a Period of at least 1; got %d.", in.Period)
		}
		switch in.PricingCycle {
		case "", "Month":
			months = in.Period
		case "Year":
			months = 12 * in.Period
		default:
			return "", apierr.Invalid("PricingCycle", "PricingCycle must be Month or Year; got %q.", in.PricingCycle)
		}
	default:
		return "", apierr.Invalid("BandwidthPackageChargeType", "BandwidthPackageChargeType must be POSTPAY or PREPAY; got %q.", in.ChargeType)
	}
	return idempotent(ctx, s, c, "CreateCenBandwidthPackage", in.ClientToken, func(t *txn) (string, error) {
		p := model.BandwidthPackage{Meta: s.newMeta(c, model.KindBandwidthPackage, "", model.BwpIdle, in.Tags), Name: in.Name,
			Description: in.Description, Bandwidth: in.Bandwidth, GeographyA: a, GeographyB: b, ChargeType: in.ChargeType, PeriodMonths: months}
		return p.ID, t.create(resKey(model.KindBandwidthPackage, p.ID), p)
	})
}

// BandwidthPackageView is a package with what its connections take from it.
type BandwidthPackageView struct {
	*model.BandwidthPackage
	Allocated int
	// Expires is a prepaid package's end (zero for POSTPAY).
	Expires time.Time
}

// BandwidthPackageFilter is DescribeCenBandwidthPackages' Filter.N (Key: CenBandwidthPackageId,
// Name, CenId, Status; values ORed; filters ANDed unless IsOrKey).
type BandwidthPackageFilter struct {
	Filters map[string][]string
	IsOrKey bool
	Tags    []model.Tag
}

var bwpFilterKeys = []string{"CenBandwidthPackageId", "Name", "CenId", "Status"}

// DescribeCenBandwidthPackages lists the caller's bandwidth packages, oldest first.
func (s *Service) DescribeCenBandwidthPackages(ctx context.Context, c Caller, f BandwidthPackageFilter) ([]BandwidthPackageView, error) {
	for k := range f.Filters {
		if !slices.Contains(bwpFilterKeys, k) {
			return nil, apierr.Invalid("Filter.Key", "Filter key %q must be one of %s.", k, strings.Join(bwpFilterKeys, ", "))
		}
	}
	all, err := listKind[model.BandwidthPackage](ctx, s, model.KindBandwidthPackage)
	if err != nil {
		return nil, err
	}
	peers, err := listKind[model.PeerAttachment](ctx, s, model.KindPeerAttachment)
	if err != nil {
		return nil, err
	}
	sortByCreated(all)
	var out []BandwidthPackageView
	for _, p := range all {
		if p.Owner != c.AccountID || !model.MatchTags(p.Tags, f.Tags) || !matchBwp(p, f) {
			continue
		}
		v := BandwidthPackageView{BandwidthPackage: p}
		for _, a := range peers {
			if a.CenBandwidthPackageID == p.ID {
				v.Allocated += a.Bandwidth
			}
		}
		if p.PeriodMonths > 0 {
			v.Expires = p.Created.AddDate(0, p.PeriodMonths, 0)
		}
		out = append(out, v)
	}
	return out, nil
}

// bwpField is the value of package p a DescribeCenBandwidthPackages filter key names.
func bwpField(p *model.BandwidthPackage, key string) string {
	switch key {
	case "CenBandwidthPackageId":
		return p.ID
	case "Name":
		return p.Name
	case "CenId":
		return p.CenID
	}
	return p.Status
}

// matchBwp applies the filters: each key's values are ORed, keys are ANDed (ORed with
// IsOrKey).
func matchBwp(p *model.BandwidthPackage, f BandwidthPackageFilter) bool {
	if len(f.Filters) == 0 {
		return true
	}
	for k, vs := range f.Filters {
		hit := slices.Contains(vs, bwpField(p, k))
		if f.IsOrKey && hit {
			return true
		}
		if !f.IsOrKey && !hit {
			return false
		}
	}
	return !f.IsOrKey
}

func (s *Service) ownedBwp(t *txn, c Caller, id string) (*model.BandwidthPackage, error) {
	if id == "" {
		return nil, apierr.Missing("CenBandwidthPackageId")
	}
	return getOwned[model.BandwidthPackage](t, c, model.KindBandwidthPackage, id, bwpNotFound(id))
}

// ModifyCenBandwidthPackageAttribute renames or re-describes a package.
func (s *Service) ModifyCenBandwidthPackageAttribute(ctx context.Context, c Caller, id string, name, description *string) error {
	if name != nil {
		if err := model.CBNName.Check("Name", *name); err != nil {
			return err
		}
	}
	if description != nil {
		if err := model.CBNDescription.Check("Description", *description); err != nil {
			return err
		}
	}
	return s.update(ctx, func(t *txn) error {
		p, err := s.ownedBwp(t, c, id)
		if err != nil {
			return err
		}
		if name != nil {
			p.Name = *name
		}
		if description != nil {
			p.Description = *description
		}
		return t.put(resKey(model.KindBandwidthPackage, p.ID), p)
	})
}

// allocatedFrom sums what the peer attachments take from a package, leaving one out.
func allocatedFrom(t *txn, bwpID, except string) (int, error) {
	peers, err := listTxn[model.PeerAttachment](t, model.KindPeerAttachment)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, a := range peers {
		if a.CenBandwidthPackageID == bwpID && a.ID != except {
			n += a.Bandwidth
		}
	}
	return n, nil
}

// ModifyCenBandwidthPackageSpec changes a package's bandwidth; it cannot go below what its
// connections take.
func (s *Service) ModifyCenBandwidthPackageSpec(ctx context.Context, c Caller, id string, bandwidth int, set bool) error {
	if !set {
		return apierr.Missing("Bandwidth")
	}
	if err := checkBandwidth("Bandwidth", bandwidth); err != nil {
		return err
	}
	return s.update(ctx, func(t *txn) error {
		p, err := s.ownedBwp(t, c, id)
		if err != nil {
			return err
		}
		used, err := allocatedFrom(t, p.ID, "")
		if err != nil {
			return err
		}
		if bandwidth < used {
			return apierr.New("OperationFailed.InsufficientBandwidth", "Inter-region connections take %d Mbit/s of bandwidth package %s; lower their Bandwidth before setting the package to %d Mbit/s.", used, p.ID, bandwidth)
		}
		p.Bandwidth = bandwidth
		return t.put(resKey(model.KindBandwidthPackage, p.ID), p)
	})
}

// DeleteCenBandwidthPackage deletes an Idle pay-as-you-go package.
func (s *Service) DeleteCenBandwidthPackage(ctx context.Context, c Caller, id string) error {
	return s.update(ctx, func(t *txn) error {
		p, err := s.ownedBwp(t, c, id)
		if err != nil {
			return err
		}
		if p.CenID != "" {
			return apierr.New("IncorrectStatus.BandwidthPackage", "The bandwidth package %s is bound to CEN %s; unbind it first (UnassociateCenBandwidthPackage).", p.ID, p.CenID)
		}
		if p.ChargeType == "PREPAY" && s.now().Before(p.Created.AddDate(0, p.PeriodMonths, 0)) {
			return apierr.New("Forbidden.Release", "The bandwidth package %s is prepaid until %s; it cannot be released before then.", p.ID, model.CBNTime(p.Created.AddDate(0, p.PeriodMonths, 0)))
		}
		t.del(resKey(model.KindBandwidthPackage, p.ID))
		return nil
	})
}

// AssociateCenBandwidthPackage binds a package to a CEN (the package is then InUse).
func (s *Service) AssociateCenBandwidthPackage(ctx context.Context, c Caller, cenID, bwpID string) error {
	if cenID == "" {
		return apierr.Missing("CenId")
	}
	return s.update(ctx, func(t *txn) error {
		p, err := s.ownedBwp(t, c, bwpID)
		if err != nil {
			return err
		}
		cen, err := getOwned[model.CEN](t, c, model.KindCEN, cenID, cenNotFound(cenID))
		if err != nil {
			return err
		}
		if cen.Status != model.StatusActive {
			return apierr.New("IncorrectStatus.CenInstance", "The CEN instance %s is %s; bind the bandwidth package when it is Active.", cen.ID, cen.Status)
		}
		if p.CenID != "" {
			return apierr.New("InvalidOperation.BwpAlreadyAssociated", "The bandwidth package %s is already bound to CEN %s; a bandwidth package serves one CEN.", p.ID, p.CenID)
		}
		p.CenID = cen.ID
		s.setStatus(&p.Meta, model.BwpInUse)
		// Rewriting the CEN serializes this with DeleteCen.
		if err := t.put(resKey(model.KindCEN, cen.ID), cen); err != nil {
			return err
		}
		return t.put(resKey(model.KindBandwidthPackage, p.ID), p)
	})
}

// UnassociateCenBandwidthPackage unbinds a package no inter-region connection takes
// bandwidth from.
func (s *Service) UnassociateCenBandwidthPackage(ctx context.Context, c Caller, cenID, bwpID string) error {
	if cenID == "" {
		return apierr.Missing("CenId")
	}
	return s.update(ctx, func(t *txn) error {
		p, err := s.ownedBwp(t, c, bwpID)
		if err != nil {
			return err
		}
		cen, err := getOwned[model.CEN](t, c, model.KindCEN, cenID, cenNotFound(cenID))
		if err != nil {
			return err
		}
		if p.CenID != cen.ID {
			return apierr.New("InvalidOperation.BwpNotAssociated", "The bandwidth package %s is not bound to CEN %s.", p.ID, cen.ID)
		}
		used, err := allocatedFrom(t, p.ID, "")
		if err != nil {
			return err
		}
		if used > 0 {
			// The code Terraform retries on while it deletes the connections first.
			return apierr.New("InvalidOperation.CenBandwidthLimitsNotZero", "Inter-region connections still take %d Mbit/s of bandwidth package %s; delete them or move them to another bandwidth allocation first.", used, p.ID)
		}
		p.CenID = ""
		s.setStatus(&p.Meta, model.BwpIdle)
		if err := t.put(resKey(model.KindCEN, cen.ID), cen); err != nil {
			return err
		}
		return t.put(resKey(model.KindBandwidthPackage, p.ID), p)
	})
}

// CenBandwidthPackages lists the IDs of the packages bound to a CEN.
func (s *Service) CenBandwidthPackages(ctx context.Context, cenID string) ([]string, error) {
	all, err := listKind[model.BandwidthPackage](ctx, s, model.KindBandwidthPackage)
	if err != nil {
		return nil, err
	}
	sortByCreated(all)
	var out []string
	for _, p := range all {
		if p.CenID == cenID {
			out = append(out, p.ID)
		}
	}
	return out, nil
}
