package service

import (
	"context"
	"slices"

	"opencen/internal/apierr"
	"opencen/internal/model"
)

func cenNotFound(id string) *apierr.Error {
	return apierr.New("InvalidCenId.NotFound", "The CEN instance %s does not exist.", id)
}

// CreateCenInput is CreateCen's request.
type CreateCenInput struct {
	Name, Description, ProtectionLevel string
	Tags                               []model.Tag
	ClientToken                        string
	DryRun                             bool
}

// CreateCen creates a CEN instance (status Creating, then Active).
func (s *Service) CreateCen(ctx context.Context, c Caller, in CreateCenInput) (string, error) {
	if err := model.CBNName.Check("Name", in.Name); err != nil {
		return "", err
	}
	if err := model.CBNDescription.Check("Description", in.Description); err != nil {
		return "", err
	}
	if in.ProtectionLevel == "" {
		in.ProtectionLevel = "REDUCED"
	}
	if in.ProtectionLevel != "REDUCED" {
		return "", apierr.Invalid("ProtectionLevel", "ProtectionLevel must be REDUCED; got %q.", in.ProtectionLevel)
	}
	if err := model.CheckTags("Tag", in.Tags); err != nil {
		return "", err
	}
	if in.DryRun {
		return "", errDryRun
	}
	return idempotent(ctx, s, c, "CreateCen", in.ClientToken, func(t *txn) (string, error) {
		cen := model.CEN{Meta: s.newMeta(c, model.KindCEN, "", model.StatusCreating, in.Tags), Name: in.Name, Description: in.Description, ProtectionLevel: in.ProtectionLevel}
		return cen.ID, t.create(resKey(model.KindCEN, cen.ID), cen)
	})
}

// CenFilter selects CENs: IDs and Names are each ORed, the groups ANDed.
type CenFilter struct {
	IDs, Names []string
	Tags       []model.Tag
}

// DescribeCens lists the caller's CENs, oldest first.
func (s *Service) DescribeCens(ctx context.Context, c Caller, f CenFilter) ([]*model.CEN, error) {
	all, err := listKind[model.CEN](ctx, s, model.KindCEN)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, cen := range all {
		if cen.Owner != c.AccountID ||
			(len(f.IDs) > 0 && !slices.Contains(f.IDs, cen.ID)) ||
			(len(f.Names) > 0 && !slices.Contains(f.Names, cen.Name)) ||
			!model.MatchTags(cen.Tags, f.Tags) {
			continue
		}
		out = append(out, cen)
	}
	sortByCreated(out)
	return out, nil
}

// ModifyCenInput is ModifyCenAttribute's request; nil fields are left unchanged.
type ModifyCenInput struct {
	CenID                              string
	Name, Description, ProtectionLevel *string
}

// ModifyCenAttribute changes a CEN's name, description or protection level.
func (s *Service) ModifyCenAttribute(ctx context.Context, c Caller, in ModifyCenInput) error {
	if in.CenID == "" {
		return apierr.Missing("CenId")
	}
	if err := model.CBNName.CheckOpt("Name", in.Name); err != nil {
		return err
	}
	if err := model.CBNDescription.CheckOpt("Description", in.Description); err != nil {
		return err
	}
	if in.ProtectionLevel != nil && *in.ProtectionLevel != "REDUCED" {
		return apierr.Invalid("ProtectionLevel", "ProtectionLevel must be REDUCED; got %q.", *in.ProtectionLevel)
	}
	return s.update(ctx, func(t *txn) error {
		cen, err := getOwned[model.CEN](t, c, model.KindCEN, in.CenID, cenNotFound(in.CenID))
		if err != nil {
			return err
		}
		if cen.Status != model.StatusActive {
			return blocking("CEN instance", cen.ID, cen.Status)
		}
		if in.Name != nil {
			cen.Name = *in.Name
		}
		if in.Description != nil {
			cen.Description = *in.Description
		}
		if in.ProtectionLevel != nil {
			cen.ProtectionLevel = *in.ProtectionLevel
		}
		return t.put(resKey(model.KindCEN, cen.ID), cen)
	})
}

// DeleteCen starts deleting a CEN; refused while it still has transit routers.
func (s *Service) DeleteCen(ctx context.Context, c Caller, cenID string) error {
	if cenID == "" {
		return apierr.Missing("CenId")
	}
	return s.update(ctx, func(t *txn) error {
		cen, err := getOwned[model.CEN](t, c, model.KindCEN, cenID, cenNotFound(cenID))
		if err != nil {
			return err
		}
		if cen.Status != model.StatusActive {
			return blocking("CEN instance", cen.ID, cen.Status)
		}
		if cen.Routers > 0 {
			return apierr.New("InvalidOperation.AttachedChildInstanceExist", "The CEN instance %s still has %d transit router(s); delete them first.", cen.ID, cen.Routers)
		}
		s.setStatus(&cen.Meta, model.StatusDeleting)
		return t.put(resKey(model.KindCEN, cen.ID), cen)
	})
}
