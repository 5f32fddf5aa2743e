package service

import (
	"context"

	"opencen/internal/apierr"
	"opencen/internal/model"
)

func cgwNotFound(id string) *apierr.Error {
	return apierr.New("InvalidCustomerGatewayInstanceId.NotFound", "The customer gateway %s does not exist.", id)
}

// CreateCustomerGatewayInput is CreateCustomerGateway's request.
type CreateCustomerGatewayInput struct {
	RegionID, IPAddress, Asn, AuthKey, Name, Description, ResourceGroupID string
	Tags                                                                  []model.Tag
	TagParam                                                              string
	ClientToken                                                           string
	DryRun                                                                bool
}

// CreateCustomerGateway registers the customer's VPN device.
func (s *Service) CreateCustomerGateway(ctx context.Context, c Caller, in CreateCustomerGatewayInput) (*model.CustomerGateway, error) {
	if _, err := s.region("RegionId", in.RegionID); err != nil {
		return nil, err
	}
	if in.IPAddress == "" {
		return nil, apierr.Missing("IpAddress")
	}
	ip, err := model.CheckGatewayIP("IpAddress", in.IPAddress)
	if err != nil {
		return nil, err
	}
	var asn int64
	if in.Asn != "" {
		if asn, err = model.CheckCustomerASN("Asn", in.Asn); err != nil {
			return nil, err
		}
	}
	if in.AuthKey != "" {
		if err := model.CheckAuthKey("AuthKey", in.AuthKey); err != nil {
			return nil, err
		}
	}
	if err := model.VPCName.Check("Name", in.Name); err != nil {
		return nil, err
	}
	if err := model.VPCDescription.Check("Description", in.Description); err != nil {
		return nil, err
	}
	if err := s.checkResourceGroup(c, in.ResourceGroupID); err != nil {
		return nil, err
	}
	if err := model.CheckTags(in.TagParam, in.Tags); err != nil {
		return nil, err
	}
	if in.DryRun {
		return nil, errDryRun
	}
	return idempotent(ctx, s, c, "CreateCustomerGateway", in.ClientToken, func(t *txn) (*model.CustomerGateway, error) {
		g := &model.CustomerGateway{Meta: s.newMeta(c, model.KindCustomerGateway, in.RegionID, "", in.Tags),
			Name: in.Name, Description: in.Description, IPAddress: ip.String(), Asn: asn}
		if in.AuthKey != "" {
			g.AuthKeySealed = s.box.Seal(in.AuthKey)
		}
		return g, t.create(resKey(model.KindCustomerGateway, g.ID), g)
	})
}

// CustomerGatewayView is a gateway with its AuthKey opened for its owner.
type CustomerGatewayView struct {
	*model.CustomerGateway
	AuthKey string
}

func (s *Service) cgwView(g *model.CustomerGateway) (CustomerGatewayView, error) {
	v := CustomerGatewayView{CustomerGateway: g}
	if g.AuthKeySealed != "" {
		k, err := s.box.Open(g.AuthKeySealed)
		if err != nil {
			return v, err
		}
		v.AuthKey = k
	}
	return v, nil
}

// DescribeCustomerGateways lists the caller's gateways in a region (optionally one).
func (s *Service) DescribeCustomerGateways(ctx context.Context, c Caller, region, id string, tags []model.Tag) ([]CustomerGatewayView, error) {
	if _, err := s.region("RegionId", region); err != nil {
		return nil, err
	}
	all, err := listKind[model.CustomerGateway](ctx, s, model.KindCustomerGateway)
	if err != nil {
		return nil, err
	}
	sortByCreated(all)
	var out []CustomerGatewayView
	for _, g := range all {
		if g.Owner != c.AccountID || g.Region != region || (id != "" && g.ID != id) || !model.MatchTags(g.Tags, tags) {
			continue
		}
		v, err := s.cgwView(g)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// DescribeCustomerGateway reads one gateway.
func (s *Service) DescribeCustomerGateway(ctx context.Context, c Caller, region, id string) (CustomerGatewayView, error) {
	if id == "" {
		return CustomerGatewayView{}, apierr.Missing("CustomerGatewayId")
	}
	var g *model.CustomerGateway
	err := s.update(ctx, func(t *txn) error {
		var err error
		g, err = s.ownedCGW(t, c, region, id)
		return err
	})
	if err != nil {
		return CustomerGatewayView{}, err
	}
	return s.cgwView(g)
}

func (s *Service) ownedCGW(t *txn, c Caller, region, id string) (*model.CustomerGateway, error) {
	g, err := getOwned[model.CustomerGateway](t, c, model.KindCustomerGateway, id, cgwNotFound(id))
	if err != nil {
		return nil, err
	}
	if region != "" && g.Region != region {
		return nil, cgwNotFound(id)
	}
	return g, nil
}

// ModifyCustomerGatewayInput is ModifyCustomerGatewayAttribute's request.
type ModifyCustomerGatewayInput struct {
	RegionID, ID               string
	Name, Description, AuthKey *string
}

// ModifyCustomerGatewayAttribute changes a gateway's name, description or BGP key.
func (s *Service) ModifyCustomerGatewayAttribute(ctx context.Context, c Caller, in ModifyCustomerGatewayInput) (CustomerGatewayView, error) {
	if in.ID == "" {
		return CustomerGatewayView{}, apierr.Missing("CustomerGatewayId")
	}
	if err := model.VPCName.CheckOpt("Name", in.Name); err != nil {
		return CustomerGatewayView{}, err
	}
	if err := model.VPCDescription.CheckOpt("Description", in.Description); err != nil {
		return CustomerGatewayView{}, err
	}
	if in.AuthKey != nil && *in.AuthKey != "" {
		if err := model.CheckAuthKey("AuthKey", *in.AuthKey); err != nil {
			return CustomerGatewayView{}, err
		}
	}
	var g *model.CustomerGateway
	err := s.update(ctx, func(t *txn) error {
		var err error
		if g, err = s.ownedCGW(t, c, in.RegionID, in.ID); err != nil {
			return err
		}
		if in.Name != nil {
			g.Name = *in.Name
		}
		if in.Description != nil {
			g.Description = *in.Description
		}
		if in.AuthKey != nil {
			g.AuthKeySealed = ""
			if *in.AuthKey != "" {
				g.AuthKeySealed = s.box.Seal(*in.AuthKey)
			}
		}
		return t.put(resKey(model.KindCustomerGateway, g.ID), g)
	})
	if err != nil {
		return CustomerGatewayView{}, err
	}
	return s.cgwView(g)
}

// DeleteCustomerGateway removes a gateway no connection uses.
func (s *Service) DeleteCustomerGateway(ctx context.Context, c Caller, region, id string) error {
	if id == "" {
		return apierr.Missing("CustomerGatewayId")
	}
	return s.update(ctx, func(t *txn) error {
		g, err := s.ownedCGW(t, c, region, id)
		if err != nil {
			return err
		}
		if g.Connections > 0 {
			return apierr.New("DependencyViolation.VpnConnection", "The customer gateway %s is used by %d IPsec-VPN connection(s); delete them first.", g.ID, g.Connections)
		}
		t.del(resKey(model.KindCustomerGateway, g.ID))
		return nil
	})
}

// checkResourceGroup accepts the account's default resource group, the only one.
func (s *Service) checkResourceGroup(c Caller, rg string) error {
	if rg == "" || rg == DefaultResourceGroup(c.AccountID) {
		return nil
	}
	return apierr.Invalid("ResourceGroupId", "ResourceGroupId %q does not exist; OpenCEN has one resource group per account: %s.", rg, DefaultResourceGroup(c.AccountID))
}

// DefaultResourceGroup is an account's only resource group.
func DefaultResourceGroup(account string) string { return "rg-default-" + account }
