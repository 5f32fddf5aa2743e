package service

import (
	"context"
	"net/netip"

	"opencen/internal/apierr"
	"opencen/internal/model"
)

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// VcoRouteInput is CreateVcoRouteEntry's and DeleteVcoRouteEntry's request.
type VcoRouteInput struct {
	RegionID, VpnConnectionID, RouteDest, NextHop, OverlayMode, Description, ClientToken string
	Weight                                                                               int64
	DryRun                                                                               bool
}

// CreateVcoRouteEntry adds a VPN-side static route: the connection offers RouteDest to the
// transit router tables it propagates into. The connection goes updating -> attached.
func (s *Service) CreateVcoRouteEntry(ctx context.Context, c Caller, in VcoRouteInput) error {
	if in.RouteDest == "" {
		return apierr.Missing("RouteDest")
	}
	p, err := netip.ParsePrefix(in.RouteDest)
	if err != nil || !p.Addr().Is4() || p.Masked() != p {
		return apierr.Invalid("RouteDest", "RouteDest must be an IPv4 CIDR block without host bits; got %q.", in.RouteDest)
	}
	if p.Bits() == 0 || p.Overlaps(cgnat) {
		return apierr.Invalid("RouteDest", "RouteDest must not be 0.0.0.0/0 or overlap 100.64.0.0/10; got %s.", p)
	}
	if in.Weight != 0 && in.Weight != 100 {
		return apierr.Invalid("Weight", "Weight must be 0 or 100; got %d.", in.Weight)
	}
	if in.OverlayMode != "" && in.OverlayMode != "Ipsec" {
		return apierr.Invalid("OverlayMode", "OverlayMode must be Ipsec; got %q.", in.OverlayMode)
	}
	if err := model.VPCDescription.Check("Description", in.Description); err != nil {
		return err
	}
	_, err = idempotent(ctx, s, c, "CreateVcoRouteEntry", in.ClientToken, func(t *txn) (string, error) {
		v, routes, err := s.vcoRoutesTxn(t, c, in.RegionID, in.VpnConnectionID)
		if err != nil {
			return "", err
		}
		if in.NextHop != v.ID {
			return "", apierr.Invalid("NextHop", "NextHop must be the IPsec-VPN connection itself (%s); got %q.", v.ID, in.NextHop)
		}
		for _, r := range routes {
			if r.RouteDest == p.String() {
				return "", apierr.New("VpnRouteEntry.AlreadyExists", "The IPsec-VPN connection %s already has a route to %s.", v.ID, p)
			}
		}
		if in.DryRun {
			return "", errDryRun
		}
		if err := s.routesChanged(t, v); err != nil {
			return "", err
		}
		r := model.VcoRoute{Meta: s.newMeta(c, model.KindVcoRoute, v.Region, "", nil), VpnConnectionID: v.ID, RouteDest: p.String(),
			NextHop: v.ID, Weight: int(in.Weight), OverlayMode: "Ipsec", Description: in.Description}
		return r.ID, t.create(resKey(model.KindVcoRoute, r.ID), r)
	})
	return err
}

// DeleteVcoRouteEntry removes a VPN-side static route.
func (s *Service) DeleteVcoRouteEntry(ctx context.Context, c Caller, in VcoRouteInput) error {
	if in.RouteDest == "" {
		return apierr.Missing("RouteDest")
	}
	return s.update(ctx, func(t *txn) error {
		v, routes, err := s.vcoRoutesTxn(t, c, in.RegionID, in.VpnConnectionID)
		if err != nil {
			return err
		}
		for _, r := range routes {
			if r.RouteDest == in.RouteDest && (in.NextHop == "" || in.NextHop == r.NextHop) {
				if in.DryRun {
					return errDryRun
				}
				t.del(resKey(model.KindVcoRoute, r.ID))
				return s.routesChanged(t, v)
			}
		}
		return apierr.New("InvalidVpnRouteEntry.NotFound", "The IPsec-VPN connection %s has no route to %s.", v.ID, in.RouteDest)
	})
}

// VcoRoutes lists a connection's VPN-side static routes.
func (s *Service) VcoRoutes(ctx context.Context, c Caller, region, id string) ([]*model.VcoRoute, error) {
	if _, err := s.DescribeVpnConnection(ctx, c, region, id); err != nil {
		return nil, err
	}
	all, err := listKind[model.VcoRoute](ctx, s, model.KindVcoRoute)
	if err != nil {
		return nil, err
	}
	sortByCreated(all)
	out := all[:0]
	for _, r := range all {
		if r.VpnConnectionID == id {
			out = append(out, r)
		}
	}
	return out, nil
}

// VcoRouteWeightInput is ModifyVcoRouteEntryWeight's request: the route by destination,
// next hop and current weight, and its new weight.
type VcoRouteWeightInput struct {
	RegionID, VpnConnectionID, RouteDest, NextHop, OverlayMode string
	Weight, NewWeight                                          *int64
}

// ModifyVcoRouteEntryWeight changes the weight of a VPN-side route (0 low, 100 high
// priority). The transit router's routing does not use it: each connection offers its own
// routes (the weight ranks routes of a VPN gateway, which connections attached to a
// transit router do not have). The connection goes updating -> attached.
func (s *Service) ModifyVcoRouteEntryWeight(ctx context.Context, c Caller, in VcoRouteWeightInput) error {
	for _, req := range []struct{ name, v string }{{"VpnConnectionId", in.VpnConnectionID}, {"RouteDest", in.RouteDest}, {"NextHop", in.NextHop}} {
		if req.v == "" {
			return apierr.Missing(req.name)
		}
	}
	for _, w := range []struct {
		name string
		v    *int64
	}{{"Weight", in.Weight}, {"NewWeight", in.NewWeight}} {
		if w.v == nil {
			return apierr.Missing(w.name)
		}
		if *w.v != 0 && *w.v != 100 {
			return apierr.Invalid(w.name, "%s must be 0 or 100; got %d.", w.name, *w.v)
		}
	}
	if in.OverlayMode != "" && in.OverlayMode != "Ipsec" {
		return apierr.Invalid("OverlayMode", "OverlayMode must be Ipsec; got %q.", in.OverlayMode)
	}
	return s.update(ctx, func(t *txn) error {
		v, routes, err := s.vcoRoutesTxn(t, c, in.RegionID, in.VpnConnectionID)
		if err != nil {
			return err
		}
		for _, r := range routes {
			if r.RouteDest != in.RouteDest || r.NextHop != in.NextHop || int64(r.Weight) != *in.Weight {
				continue
			}
			r.Weight = int(*in.NewWeight)
			if err := t.put(resKey(model.KindVcoRoute, r.ID), r); err != nil {
				return err
			}
			return s.routesChanged(t, v)
		}
		return apierr.New("InvalidVpnRouteEntry.NotFound", "The IPsec-VPN connection %s has no route to %s via %s with weight %d.", v.ID, in.RouteDest, in.NextHop, *in.Weight)
	})
}

// vcoRoutesTxn reads, in t, a connection whose VPN-side routes are to change (it must be
// init or attached: not in the middle of another change) and its routes.
func (s *Service) vcoRoutesTxn(t *txn, c Caller, region, id string) (*model.VpnConnection, []*model.VcoRoute, error) {
	v, err := s.ownedVco(t, c, region, id)
	if err != nil {
		return nil, nil, err
	}
	if v.Status != model.VcoAttached && v.Status != model.VcoInit {
		return nil, nil, configuring(v)
	}
	all, err := listTxn[model.VcoRoute](t, model.KindVcoRoute)
	if err != nil {
		return nil, nil, err
	}
	var routes []*model.VcoRoute
	for _, r := range all {
		if r.VpnConnectionID == v.ID {
			routes = append(routes, r)
		}
	}
	return v, routes, nil
}

// routesChanged writes a connection whose VPN-side routes changed: an attached one goes
// updating -> attached while its data plane applies them.
func (s *Service) routesChanged(t *txn, v *model.VpnConnection) error {
	if v.Status == model.VcoAttached {
		v.Next = model.VcoAttached
		s.setStatus(&v.Meta, model.VcoUpdating)
	}
	return t.put(resKey(model.KindVpnConnection, v.ID), v)
}
