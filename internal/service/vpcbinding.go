package service

import (
	"context"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"opencen/internal/apierr"
	"opencen/internal/config"
	"opencen/internal/model"
)

// vpcBindingPrefix holds the admin's VPC bindings (config.VPCBinding), by VPC ID: what
// network segment each VPC's attachment links its transit router to. A gateway node's
// static bindings (its config file) win on that node.
const vpcBindingPrefix = "/vpcbinding/"

// BindVpc binds a VPC to a network segment (admin only), replacing an earlier binding. A
// bridge or VXLAN binding without a GatewayIP gets the VPC CIDR's third-highest address
// (config.DefaultGatewayIP); a VXLAN one without a port, 4789. What the binding names (a
// namespace, a bridge, an interface) is checked by the gateway that uses it: a missing one
// shows as the VPC link's error in `opencen gateway status`.
func (s *Service) BindVpc(ctx context.Context, c Caller, b config.VPCBinding) (config.VPCBinding, error) {
	if err := requireAdmin(c); err != nil {
		return b, err
	}
	if b.VpcID == "" {
		return b, apierr.Missing("VpcId")
	}
	var out config.VPCBinding
	err := s.update(ctx, func(t *txn) error {
		// Read in the transaction: a DeleteVpc committing meanwhile (which removes the
		// VPC's binding) makes this one retry and find the VPC deleting.
		var vpc model.VPC
		ok, err := t.get(resKey(model.KindVPC, b.VpcID), &vpc)
		if err != nil {
			return err
		}
		if !ok {
			return vpcNotFound(apierr.Clip(b.VpcID))
		}
		if vpc.Status == model.StatusDeleting {
			return apierr.New("IncorrectVpcStatus", "The VPC %s is being deleted; it cannot be bound.", vpc.ID)
		}
		nb := b
		if nb.Kind() == config.BindVXLAN && nb.Port == 0 {
			nb.Port = config.DefaultVXLANPort
		}
		if nb.Kind() != config.BindNetns && nb.GatewayIP == "" {
			cidr, err := netip.ParsePrefix(vpc.CidrBlock)
			if err != nil {
				return apierr.Invalid("GatewayIp", "The VPC %s has no usable CIDR block (%q): give GatewayIp.", nb.VpcID, vpc.CidrBlock)
			}
			gw, err := config.DefaultGatewayIP(cidr)
			if err != nil {
				return apierr.Invalid("GatewayIp", "%s.", err)
			}
			nb.GatewayIP = gw.String()
		}
		if err := nb.Validate(); err != nil {
			return apierr.New("InvalidParameter", "The binding of %s is not valid: %s.", nb.VpcID, strings.ReplaceAll(err.Error(), "\n", "; "))
		}
		out = nb
		return t.put(vpcBindingPrefix+nb.VpcID, nb)
	})
	return out, err
}

// UnbindVpc removes a VPC's binding (admin only): its attachment's link goes from the
// gateway; the segment itself is the operator's and stays.
func (s *Service) UnbindVpc(ctx context.Context, c Caller, vpcID string) error {
	if err := requireAdmin(c); err != nil {
		return err
	}
	if vpcID == "" {
		return apierr.Missing("VpcId")
	}
	return s.update(ctx, func(t *txn) error {
		var b config.VPCBinding
		ok, err := t.get(vpcBindingPrefix+vpcID, &b)
		if err != nil {
			return err
		}
		if !ok {
			return apierr.New("InvalidVpcBinding.NotFound", "The VPC %s is not bound to a network segment.", apierr.Clip(vpcID))
		}
		t.del(vpcBindingPrefix + vpcID)
		return nil
	})
}

// VpcBindings lists the bindings (admin only), by VPC ID; vpcID "" lists all.
func (s *Service) VpcBindings(ctx context.Context, c Caller, vpcID string) ([]config.VPCBinding, error) {
	if err := requireAdmin(c); err != nil {
		return nil, err
	}
	all, err := s.vpcBindings(ctx)
	if err != nil {
		return nil, err
	}
	var out []config.VPCBinding
	for _, id := range slices.Sorted(maps.Keys(all)) {
		if vpcID == "" || id == vpcID {
			out = append(out, all[id])
		}
	}
	return out, nil
}

func (s *Service) vpcBindings(ctx context.Context) (map[string]config.VPCBinding, error) {
	kvs, _, err := s.st.List(ctx, vpcBindingPrefix)
	if err != nil {
		return nil, err
	}
	out := map[string]config.VPCBinding{}
	for _, kv := range kvs {
		var b config.VPCBinding
		if err := decodeJSON(kv.Value, &b); err != nil {
			s.log.Warn("a VPC binding does not decode; ignored", "key", kv.Key, "err", err)
			continue
		}
		out[b.VpcID] = b
	}
	return out, nil
}
