package service

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"opencen/internal/apierr"
	"opencen/internal/model"
	"opencen/internal/tunnel"
)

func tunnelNotFound(tunnelID, vco string) *apierr.Error {
	return apierr.New("InvalidTunnelId.NotFound", "The tunnel %s is not a tunnel of the IPsec-VPN connection %s; DescribeVpnConnection lists its tunnels.", tunnelID, vco)
}

func vcoNotFound(id string) *apierr.Error {
	return apierr.New("InvalidVpnConnectionInstanceId.NotFound", "The IPsec-VPN connection %s does not exist.", id)
}

// VpnInput is what CreateVpnAttachment and ModifyVpnAttachmentAttribute take; nil = not given.
type VpnInput struct {
	RegionID, ID                         string
	Name, CustomerGatewayID, NetworkType *string
	LocalSubnet, RemoteSubnet            *string
	EffectImmediately, AutoConfigRoute   *bool
	EnableDpd, EnableNatTraversal        *bool
	TunnelBandwidth, ResourceGroupID     *string
	Ike                                  model.IkeInput
	Ipsec                                model.IpsecInput
	Bgp                                  model.BgpInput
	HealthCheck                          model.HealthCheckInput
	// Tunnels (TunnelOptionsSpecification) make or change a dual-tunnel connection, and
	// EnableTunnelsBgp runs BGP over both of its tunnels.
	Tunnels          []model.TunnelInput
	EnableTunnelsBgp *bool
	// SingleTunnel names the single-tunnel parameters the request gave (IkeConfig,
	// CustomerGatewayId, ...): a dual-tunnel connection refuses them rather than drop them.
	SingleTunnel []string
	Tags         []model.Tag
	TagParam     string
	ClientToken  string
	DryRun       bool
}

// VpnConnectionView is a connection as its owner reads it: PSK opened, peer fields resolved.
type VpnConnectionView struct {
	*model.VpnConnection
	Psk               string
	PeerAsn           int64
	TransitRouterName string
	// RemoteID is the effective customer identity (RemoteId, else the gateway's IP).
	RemoteID string
	// BgpAuthKey is the customer gateway's BGP MD5 key, opened.
	BgpAuthKey string
	// Tunnels are a dual-tunnel connection's tunnels as its owner reads them.
	Tunnels []TunnelView
}

// TunnelView is one tunnel of a dual-tunnel connection as its owner reads it: Ike.Psk
// opened, the observed status filled in, the peer's fields resolved.
type TunnelView struct {
	model.VpnTunnel
	PeerAsn  int64
	RemoteID string
	// BgpAuthKey is the tunnel's customer gateway's BGP MD5 key, opened.
	BgpAuthKey string
}

// applyVpn validates in over base (defaults on create, the stored connection on modify).
func applyVpn(in VpnInput, base model.VpnConnection, creating bool) (model.VpnConnection, error) {
	v := base
	str := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	boolean := func(dst *bool, src *bool) {
		if src != nil {
			*dst = *src
		}
	}
	dual := base.Dual() || (creating && (len(in.Tunnels) > 0 || in.EnableTunnelsBgp != nil))
	switch {
	case dual && len(in.SingleTunnel) > 0:
		return v, apierr.Invalid(in.SingleTunnel[0], "%s configures a single-tunnel connection; this one is dual-tunnel: set each tunnel in TunnelOptionsSpecification.N (CustomerGatewayId, TunnelIkeConfig, TunnelIpsecConfig, TunnelBgpConfig, EnableDpd, EnableNatTraversal) and BGP with EnableTunnelsBgp.", in.SingleTunnel[0])
	case !dual && (len(in.Tunnels) > 0 || in.EnableTunnelsBgp != nil):
		return v, apierr.Invalid(model.TunnelsParam, "The IPsec-VPN connection %s is single-tunnel and cannot become dual-tunnel; create a dual-tunnel connection with TunnelOptionsSpecification instead.", base.ID)
	}
	str(&v.Name, in.Name)
	str(&v.CustomerGatewayID, in.CustomerGatewayID)
	if in.NetworkType != nil && *in.NetworkType != "" {
		if !creating && *in.NetworkType != base.NetworkType {
			return v, apierr.Invalid("NetworkType", "NetworkType cannot be changed after creation (it is %s).", base.NetworkType)
		}
		v.NetworkType = *in.NetworkType
	}
	boolean(&v.EffectImmediately, in.EffectImmediately)
	boolean(&v.AutoConfigRoute, in.AutoConfigRoute)
	boolean(&v.EnableDpd, in.EnableDpd)
	boolean(&v.EnableNatTraversal, in.EnableNatTraversal)
	if in.TunnelBandwidth != nil && *in.TunnelBandwidth != "" {
		v.TunnelBandwidth = *in.TunnelBandwidth
	}
	if err := model.VPCName.Check("Name", v.Name); err != nil {
		return v, err
	}
	if v.CustomerGatewayID == "" && !dual {
		return v, apierr.Missing("CustomerGatewayId")
	}
	if v.NetworkType != "public" && v.NetworkType != "private" {
		return v, apierr.Invalid("NetworkType", "NetworkType must be public or private; got %q.", v.NetworkType)
	}
	if v.TunnelBandwidth != "Standard" && v.TunnelBandwidth != "Large" {
		return v, apierr.Invalid("TunnelBandwidth", "TunnelBandwidth must be Standard or Large; got %q.", v.TunnelBandwidth)
	}
	for _, sn := range []struct {
		param string
		src   *string
		dst   *string
	}{{"LocalSubnet", in.LocalSubnet, &v.LocalSubnet}, {"RemoteSubnet", in.RemoteSubnet, &v.RemoteSubnet}} {
		if sn.src == nil {
			continue
		}
		ps, err := model.ParseSubnets(sn.param, *sn.src)
		if err != nil {
			return v, err
		}
		*sn.dst = model.JoinSubnets(ps)
	}
	var err error
	if v.Ike, err = in.Ike.Apply(base.Ike); err != nil {
		return v, err
	}
	if v.Ipsec, err = in.Ipsec.Apply(base.Ipsec); err != nil {
		return v, err
	}
	if v.Bgp, err = in.Bgp.Apply(base.Bgp); err != nil {
		return v, err
	}
	if v.HealthCheck, err = in.HealthCheck.Apply(base.HealthCheck); err != nil {
		return v, err
	}
	if dual {
		if v.Tunnels, v.EnableTunnelsBgp, err = model.ApplyTunnels(in.Tunnels, in.EnableTunnelsBgp, base.Tunnels, base.EnableTunnelsBgp); err != nil {
			return v, err
		}
	}
	return v, nil
}

// reportIDs are the IDs under which a connection's data plane reports (observed state,
// learned routes, logs): the connection's, and each tunnel's.
func reportIDs(v *model.VpnConnection) []string {
	ids := []string{v.ID}
	for _, t := range v.Tunnels {
		ids = append(ids, t.ID)
	}
	return ids
}

// sealTunnels seals the tunnels' pre-shared keys (v's are open) and names new tunnels.
func (s *Service) sealTunnels(v *model.VpnConnection) {
	for i := range v.Tunnels {
		t := &v.Tunnels[i]
		if t.ID == "" {
			t.ID = model.TunnelID(v.ID, t.Index)
		}
		t.Ike.Psk = s.box.Seal(t.Ike.Psk)
	}
}

// openTunnels opens the tunnels' pre-shared keys of a copy of v's tunnels.
func (s *Service) openTunnels(v *model.VpnConnection) error {
	v.Tunnels = slices.Clone(v.Tunnels)
	for i := range v.Tunnels {
		psk, err := s.box.Open(v.Tunnels[i].Ike.Psk)
		if err != nil {
			return fmt.Errorf("the stored pre-shared key of tunnel %s does not open: %w", v.Tunnels[i].ID, err)
		}
		v.Tunnels[i].Ike.Psk = psk
	}
	return nil
}

// connectionGateways reads the customer gateways a connection uses (one per tunnel),
// checking that BGP has an ASN to talk to.
func (s *Service) connectionGateways(t *txn, c Caller, region string, v model.VpnConnection) ([]*model.CustomerGateway, error) {
	var out []*model.CustomerGateway
	for i, id := range v.CustomerGatewayIDs() {
		cgw, err := s.ownedCGW(t, c, region, id)
		if err != nil {
			return nil, err
		}
		if v.Dual() && v.EnableTunnelsBgp && cgw.Asn == 0 {
			return nil, apierr.Invalid("EnableTunnelsBgp", "BGP needs the customer gateway %s of tunnel %d to have an ASN; use a customer gateway with Asn, or set EnableTunnelsBgp to false.", cgw.ID, v.Tunnels[i].Index)
		}
		if err := checkBgpPeer(v, cgw); err != nil {
			return nil, err
		}
		out = append(out, cgw)
	}
	return out, nil
}

// countGateways adds delta to the connection counts of the customer gateways ids names
// (a gateway named twice, by both tunnels, counts twice: removal subtracts the same).
func (s *Service) countGateways(t *txn, c Caller, ids []string, delta int) error {
	for _, id := range ids {
		g, err := s.ownedCGW(t, c, "", id)
		if err != nil {
			continue // gone already: nothing to count
		}
		g.Connections += delta
		if err := t.put(resKey(model.KindCustomerGateway, g.ID), g); err != nil {
			return err
		}
	}
	return nil
}

// CreateVpnAttachment creates an IPsec-VPN connection for a transit router (State init).
func (s *Service) CreateVpnAttachment(ctx context.Context, c Caller, in VpnInput) (*model.VpnConnection, error) {
	if _, err := s.region("RegionId", in.RegionID); err != nil {
		return nil, err
	}
	base := model.VpnConnection{
		NetworkType: "public", LocalSubnet: model.AllIPv4, RemoteSubnet: model.AllIPv4, TunnelBandwidth: "Standard",
		AutoConfigRoute: true, EnableDpd: true, EnableNatTraversal: true,
		Ike: model.DefaultIke(), Ipsec: model.DefaultIpsec(), Bgp: model.DefaultBgp(), HealthCheck: model.DefaultHealthCheck(),
	}
	v, err := applyVpn(in, base, true)
	if err != nil {
		return nil, err
	}
	if in.ResourceGroupID != nil {
		if err := s.checkResourceGroup(c, *in.ResourceGroupID); err != nil {
			return nil, err
		}
	}
	if err := model.CheckTags(in.TagParam, in.Tags); err != nil {
		return nil, err
	}
	if v.Ike.Psk == "" && !v.Dual() {
		v.Ike.Psk = model.NewPSK()
	}
	return idempotent(ctx, s, c, "CreateVpnAttachment", in.ClientToken, func(t *txn) (*model.VpnConnection, error) {
		if _, err := s.connectionGateways(t, c, in.RegionID, v); err != nil {
			return nil, err
		}
		if v.NetworkType != "private" {
			// The gateway IP is allocated at attach; a region with no address left anywhere
			// could give it none, so refuse now rather than after the customer built it.
			if err := s.checkPoolNotExhausted(t, in.RegionID); err != nil {
				return nil, err
			}
		}
		if in.DryRun {
			return nil, errDryRun
		}
		vco := v
		vco.Meta = s.newMeta(c, model.KindVpnConnection, in.RegionID, model.VcoInit, in.Tags)
		vco.ResourceGroupID = DefaultResourceGroup(c.AccountID)
		vco.Ike.Psk = s.box.Seal(v.Ike.Psk)
		vco.Tunnels = slices.Clone(v.Tunnels)
		s.sealTunnels(&vco)
		vco.NegotiationStatus = model.IkeNotEstablished
		vco.AttachType = model.AttachNone
		if err := s.countGateways(t, c, vco.CustomerGatewayIDs(), 1); err != nil {
			return nil, err
		}
		s.log.Info("vpn connection created", "vco", vco.ID, "account", c.AccountID)
		return &vco, t.create(resKey(model.KindVpnConnection, vco.ID), vco)
	})
}

// checkBgpPeer: BGP needs the customer gateway to have an ASN.
func checkBgpPeer(v model.VpnConnection, cgw *model.CustomerGateway) error {
	if v.Bgp.EnableBgp && cgw.Asn == 0 {
		return apierr.Invalid("BgpConfig.EnableBgp", "BGP needs the customer gateway %s to have an ASN; create a customer gateway with Asn, or disable BGP.", cgw.ID)
	}
	return nil
}

func (s *Service) ownedVco(t *txn, c Caller, region, id string) (*model.VpnConnection, error) {
	if id == "" {
		return nil, apierr.Missing("VpnConnectionId")
	}
	v, err := getOwned[model.VpnConnection](t, c, model.KindVpnConnection, id, vcoNotFound(id))
	if err != nil {
		return nil, err
	}
	if region != "" && v.Region != region {
		return nil, vcoNotFound(id)
	}
	return v, nil
}

// configuring is the error for a connection in a transitional state.
func configuring(v *model.VpnConnection) *apierr.Error {
	return apierr.New("VpnConnection.Configuring", "The IPsec-VPN connection %s is %s; retry when the operation in progress has finished.", v.ID, v.Status)
}

// ModifyVpnAttachmentAttribute changes a connection; an attached one goes updating -> attached.
func (s *Service) ModifyVpnAttachmentAttribute(ctx context.Context, c Caller, in VpnInput) (VpnConnectionView, error) {
	if _, err := s.region("RegionId", in.RegionID); err != nil {
		return VpnConnectionView{}, err
	}
	var out *model.VpnConnection
	var psk string
	err := s.update(ctx, func(t *txn) error {
		cur, err := s.ownedVco(t, c, in.RegionID, in.ID)
		if err != nil {
			return err
		}
		if cur.Status != model.VcoInit && cur.Status != model.VcoAttached {
			return configuring(cur)
		}
		base := *cur
		if !cur.Dual() {
			if base.Ike.Psk, err = s.box.Open(cur.Ike.Psk); err != nil {
				return err
			}
		}
		if err := s.openTunnels(&base); err != nil {
			return err
		}
		v, err := applyVpn(in, base, false)
		if err != nil {
			return err
		}
		if in.ResourceGroupID != nil {
			if err := s.checkResourceGroup(c, *in.ResourceGroupID); err != nil {
				return err
			}
		}
		if _, err := s.connectionGateways(t, c, in.RegionID, v); err != nil {
			return err
		}
		if oldIDs, newIDs := cur.CustomerGatewayIDs(), v.CustomerGatewayIDs(); !slices.Equal(oldIDs, newIDs) {
			if err := s.countGateways(t, c, oldIDs, -1); err != nil {
				return err
			}
			if err := s.countGateways(t, c, newIDs, 1); err != nil {
				return err
			}
		}
		if cur.TransitRouterID != "" {
			if err := s.checkTunnelCidrsUnique(t, cur.TransitRouterID, &v); err != nil {
				return err
			}
		}
		if in.DryRun {
			return errDryRun
		}
		psk = v.Ike.Psk
		if !v.Dual() {
			v.Ike.Psk = s.box.Seal(v.Ike.Psk)
		}
		s.sealTunnels(&v)
		if cur.Status == model.VcoAttached {
			v.Next = model.VcoAttached
			s.setStatus(&v.Meta, model.VcoUpdating)
		}
		out = &v
		if err := s.appendLog(t, v.ID, "configuration modified"); err != nil {
			return err
		}
		return t.put(resKey(model.KindVpnConnection, v.ID), v)
	})
	if err != nil {
		return VpnConnectionView{}, err
	}
	return s.vcoView(ctx, out, psk)
}

// vcoView resolves what a connection's readers see.
func (s *Service) vcoView(ctx context.Context, v *model.VpnConnection, psk string) (VpnConnectionView, error) {
	v, err := s.withObserved(ctx, v)
	if err != nil {
		return VpnConnectionView{}, err
	}
	view := VpnConnectionView{VpnConnection: v, Psk: psk}
	if psk == "" && !v.Dual() {
		if view.Psk, err = s.box.Open(v.Ike.Psk); err != nil {
			// A damaged record must not hide the account's other connections.
			s.log.Error("a connection's stored pre-shared key does not open", "vco", v.ID, "err", err)
			view.Psk = ""
		}
	}
	peer := func(cgwID string, u *model.VpnConnection) (asn int64, remoteID, authKey string, err error) {
		kv, ok, err := s.st.Get(ctx, resKey(model.KindCustomerGateway, cgwID))
		if err != nil || !ok {
			return 0, "", "", err
		}
		var g model.CustomerGateway
		if err := json.Unmarshal(kv.Value, &g); err != nil {
			return 0, "", "", err
		}
		if g.AuthKeySealed != "" {
			if authKey, err = s.box.Open(g.AuthKeySealed); err != nil {
				return 0, "", "", err
			}
		}
		return g.Asn, u.EffectiveRemoteID(&g), authKey, nil
	}
	if !v.Dual() {
		if view.PeerAsn, view.RemoteID, view.BgpAuthKey, err = peer(v.CustomerGatewayID, v); err != nil {
			return view, err
		}
	}
	for _, t := range v.Tunnels {
		tv := TunnelView{VpnTunnel: t}
		if tv.Ike.Psk, err = s.box.Open(t.Ike.Psk); err != nil {
			s.log.Error("a tunnel's stored pre-shared key does not open", "vco", v.ID, "tunnel", t.ID, "err", err)
			tv.Ike.Psk = ""
		}
		u := v.TunnelConn(t)
		if tv.PeerAsn, tv.RemoteID, tv.BgpAuthKey, err = peer(t.CustomerGatewayID, &u); err != nil {
			return view, err
		}
		view.Tunnels = append(view.Tunnels, tv)
	}
	if v.TransitRouterID != "" {
		if kv, ok, err := s.st.Get(ctx, resKey(model.KindTR, v.TransitRouterID)); err != nil {
			return view, err
		} else if ok {
			var tr model.TransitRouter
			if err := json.Unmarshal(kv.Value, &tr); err != nil {
				return view, err
			}
			view.TransitRouterName = tr.Name
		}
	}
	return view, nil
}

// DescribeVpnConnection reads one connection.
func (s *Service) DescribeVpnConnection(ctx context.Context, c Caller, region, id string) (VpnConnectionView, error) {
	if _, err := s.region("RegionId", region); err != nil {
		return VpnConnectionView{}, err
	}
	var v *model.VpnConnection
	err := s.update(ctx, func(t *txn) error {
		var err error
		v, err = s.ownedVco(t, c, region, id)
		return err
	})
	if err != nil {
		return VpnConnectionView{}, err
	}
	return s.vcoView(ctx, v, "")
}

// VcoFilter selects connections.
type VcoFilter struct {
	Region, ID, CustomerGatewayID string
	AttachedOnly                  bool
	Tags                          []model.Tag
}

// DescribeVpnConnections lists the caller's connections in a region.
func (s *Service) DescribeVpnConnections(ctx context.Context, c Caller, f VcoFilter) ([]VpnConnectionView, error) {
	if _, err := s.region("RegionId", f.Region); err != nil {
		return nil, err
	}
	all, err := listKind[model.VpnConnection](ctx, s, model.KindVpnConnection)
	if err != nil {
		return nil, err
	}
	sortByCreated(all)
	var out []VpnConnectionView
	for _, v := range all {
		if v.Owner != c.AccountID || v.Region != f.Region || (f.ID != "" && v.ID != f.ID) ||
			(f.CustomerGatewayID != "" && !slices.Contains(v.CustomerGatewayIDs(), f.CustomerGatewayID)) ||
			(f.AttachedOnly && v.AttachType != model.AttachCEN) || !model.MatchTags(v.Tags, f.Tags) {
			continue
		}
		view, err := s.vcoView(ctx, v, "")
		if err != nil {
			return nil, err
		}
		out = append(out, view)
	}
	return out, nil
}

// DeleteVpnAttachment deletes a connection that is not attached.
func (s *Service) DeleteVpnAttachment(ctx context.Context, c Caller, region, id string) error {
	if _, err := s.region("RegionId", region); err != nil {
		return err
	}
	return s.update(ctx, func(t *txn) error {
		v, err := s.ownedVco(t, c, region, id)
		if err != nil {
			return err
		}
		if v.Status != model.VcoInit {
			if v.TransitRouterID != "" {
				return apierr.New("IncorrectStatus.VpnConnection", "The IPsec-VPN connection %s is attached to transit router %s; delete the transit router attachment %s first.", v.ID, v.TransitRouterID, v.AttachmentID)
			}
			return configuring(v)
		}
		if err := s.countGateways(t, c, v.CustomerGatewayIDs(), -1); err != nil {
			return err
		}
		if err := deleteWhere[model.VcoRoute](t, model.KindVcoRoute, func(r *model.VcoRoute) bool { return r.VpnConnectionID == v.ID }); err != nil {
			return err
		}
		for _, id := range reportIDs(v) {
			logs, err := t.list(logPrefix(id))
			if err != nil {
				return err
			}
			for _, kv := range logs {
				t.del(kv.Key)
			}
		}
		forgetObserved(t, v)
		t.del(resKey(model.KindVpnConnection, v.ID))
		return nil
	})
}

// CustomerConfigs are the connection's tunnels (one, or a dual-tunnel connection's two)
// for DownloadVpnConnectionConfig and the customer-side renderers, parsed whole. A
// connection that is not attached yet comes back with tunnel.ErrNotAttached (wrapped) and
// the rest of its specs: the download shows them without the cloud's address, a renderer
// refuses them. A record that does not parse (older than today's validation, or damaged)
// is refused, saying what to change.
func (s *Service) CustomerConfigs(ctx context.Context, c Caller, region, id string) ([]tunnel.Spec, error) {
	view, err := s.DescribeVpnConnection(ctx, c, region, id)
	if err != nil {
		return nil, err
	}
	type unit struct {
		conn               model.VpnConnection
		psk, authKey, what string
	}
	var units []unit
	if !view.Dual() {
		units = append(units, unit{conn: *view.VpnConnection, psk: view.Psk, authKey: view.BgpAuthKey, what: "The IPsec-VPN connection " + id})
	}
	for _, t := range view.Tunnels {
		units = append(units, unit{conn: view.TunnelConn(t.VpnTunnel), psk: t.Ike.Psk, authKey: t.BgpAuthKey, what: "Tunnel " + t.ID + " of the IPsec-VPN connection " + id})
	}
	var specs []tunnel.Spec
	var notAttached error
	for _, u := range units {
		var g model.CustomerGateway
		kv, ok, err := s.st.Get(ctx, resKey(model.KindCustomerGateway, u.conn.CustomerGatewayID))
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, cgwNotFound(u.conn.CustomerGatewayID)
		}
		if err := json.Unmarshal(kv.Value, &g); err != nil {
			return nil, fmt.Errorf("decode customer gateway %s: %w", u.conn.CustomerGatewayID, err)
		}
		p := tunnel.Parse(&u.conn, &g, u.psk, u.authKey)
		if problems := p.Problems(); len(problems) > 0 {
			return nil, apierr.New("InvalidVpnConnection.Configuration",
				"%s cannot be rendered: %s. Correct it with ModifyVpnAttachmentAttribute.", u.what, problems.Error())
		}
		if err := p.Err(); err != nil {
			notAttached = err
		}
		specs = append(specs, p.Spec)
	}
	return specs, notAttached
}

// Resource types each resource-group move takes (matched case-insensitively): the Vpc
// product's MoveVpnResourceGroup and MoveResourceGroup, and Cbn's MoveResourceGroup.
var movable = map[string][]struct{ name, kind string }{
	"MoveVpnResourceGroup": {{"VpnAttachment", model.KindVpnConnection}, {"VpnConnection", model.KindVpnConnection}, {"CustomerGateway", model.KindCustomerGateway}},
	"Vpc":                  {{"Vpc", model.KindVPC}},
	"Cbn":                  {{"CEN", model.KindCEN}},
}

// MoveInput is a resource-group move: Action is a key of movable, IDParam names the ID's
// parameter (InstanceId or ResourceId).
type MoveInput struct {
	Action, Region, ResourceType, IDParam, ID, Group string
	DryRun                                           bool
}

// MoveResourceGroup accepts a move of an existing resource of the caller into the
// account's only resource group, the one it is in already.
func (s *Service) MoveResourceGroup(ctx context.Context, c Caller, in MoveInput) error {
	if in.ID == "" {
		return apierr.Missing(in.IDParam)
	}
	if in.Group == "" {
		return apierr.Missing("NewResourceGroupId")
	}
	if err := s.checkResourceGroup(c, in.Group); err != nil {
		return apierr.Invalid("NewResourceGroupId", "NewResourceGroupId %q does not exist; OpenCEN has one resource group per account: %s.", in.Group, DefaultResourceGroup(c.AccountID))
	}
	if in.ResourceType == "" {
		return apierr.Missing("ResourceType")
	}
	kind := ""
	var names []string
	for _, m := range movable[in.Action] {
		names = append(names, m.name)
		if strings.EqualFold(m.name, in.ResourceType) {
			kind = m.kind
		}
	}
	if kind == "" {
		return apierr.Invalid("ResourceType", "ResourceType %q cannot be moved here; use one of: %s.", in.ResourceType, apierr.Text(strings.Join(names, ", ")))
	}
	notFound := apierr.New("InvalidResourceId.NotFound", "The %s %s does not exist.", in.ResourceType, in.ID)
	if in.IDParam == "InstanceId" {
		notFound.Code = "InvalidInstanceId.NotFound"
	}
	return s.update(ctx, func(t *txn) error {
		raw, ok, err := t.getRaw(resKey(kind, in.ID))
		if err != nil {
			return err
		}
		var m model.Meta
		// A CEN is global; anything else must be in the request's region when one is given.
		if !ok || json.Unmarshal(raw, &m) != nil || m.Owner != c.AccountID || (in.Region != "" && m.Region != "" && m.Region != in.Region) {
			return notFound
		}
		if in.DryRun {
			return errDryRun
		}
		return nil
	})
}

// Connection event log.

type logEntry struct {
	Time    time.Time `json:"time"`
	Message string    `json:"message"`
}

const logsPrefix = "/logs/"

func logPrefix(vco string) string { return logsPrefix + vco + "/" }

// appendLog records an event of a connection in the transaction.
func (s *Service) appendLog(t *txn, vco, msg string) error {
	return appendLogAt(t, vco, LogLine{Time: s.now(), Message: msg})
}

// appendLogAt records an event at its own time; the key orders the log by time.
func appendLogAt(t *txn, vco string, l LogLine) error {
	at := l.Time.UTC()
	key := fmt.Sprintf("%s%020d", logPrefix(vco), at.UnixNano())
	for {
		if _, taken := t.writes[key]; !taken {
			break
		}
		at = at.Add(time.Nanosecond) // two events of one instant keep both
		key = fmt.Sprintf("%s%020d", logPrefix(vco), at.UnixNano())
	}
	return t.put(key, logEntry{Time: at, Message: l.Message})
}

// AppendLog records an event of a connection (used by the data plane).
func (s *Service) AppendLog(ctx context.Context, vco, msg string) error {
	return s.update(ctx, func(t *txn) error { return s.appendLog(t, vco, msg) })
}

// ConnectionLogs returns a connection's events in [from, to), oldest first, as Alibaba
// formats them: "<time> <message>".
// With tunnelID, only that tunnel's events; without, a dual-tunnel connection's own and
// both tunnels' events, each tunnel's marked with its ID.
func (s *Service) ConnectionLogs(ctx context.Context, c Caller, region, id, tunnelID string, from, to time.Time) ([]string, error) {
	v, err := s.DescribeVpnConnection(ctx, c, region, id)
	if err != nil {
		return nil, err
	}
	var events []LogLine
	if tunnelID != "" {
		if _, ok := v.Tunnel(tunnelID); !ok {
			return nil, tunnelNotFound(tunnelID, id)
		}
		if events, err = s.connectionEvents(ctx, tunnelID); err != nil {
			return nil, err
		}
	} else {
		for _, uid := range reportIDs(v.VpnConnection) {
			evs, err := s.connectionEvents(ctx, uid)
			if err != nil {
				return nil, err
			}
			for _, e := range evs {
				if uid != id {
					e.Message = uid + ": " + e.Message
				}
				events = append(events, e)
			}
		}
		slices.SortStableFunc(events, func(a, b LogLine) int { return a.Time.Compare(b.Time) })
	}
	var out []string
	for _, e := range events {
		if !e.Time.Before(from) && e.Time.Before(to) {
			out = append(out, e.String())
		}
	}
	return out, nil
}

// String renders a log line as DescribeVpnConnectionLogs does.
func (l LogLine) String() string { return l.Time.Format("2006-01-02 15:04:05") + " " + l.Message }

// connectionEvents reads a connection's whole event log, oldest first.
func (s *Service) connectionEvents(ctx context.Context, id string) ([]LogLine, error) {
	kvs, _, err := s.st.List(ctx, logPrefix(id))
	if err != nil {
		return nil, err
	}
	var out []LogLine
	for _, kv := range kvs {
		var e logEntry
		if json.Unmarshal(kv.Value, &e) == nil {
			out = append(out, LogLine(e))
		}
	}
	return out, nil
}
