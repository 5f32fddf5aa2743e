package service

import (
	"context"
	"encoding/json"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"opencen/internal/apierr"
	"opencen/internal/config"
	"opencen/internal/model"
)

func attachmentNotFound(id string) *apierr.Error {
	return apierr.New("InvalidTransitRouterAttachmentId.NotFound", "The transit router attachment %s does not exist.", id)
}

// CreateVpnAttachmentInput is CreateTransitRouterVpnAttachment's request.
type CreateTRVpnAttachmentInput struct {
	RegionID, TransitRouterID, CenID, VpnID string
	VpnOwnerID                              string // "" = the caller
	AutoPublishRouteEnabled                 *bool
	SystemLinks                             model.SystemLinks
	ChargeType, Name, Description           string
	Zones                                   []string
	Tags                                    []model.Tag
	ClientToken                             string
	DryRun                                  bool
}

// ServiceRoleVpn is the service-linked role recorded on first VPN attachment.
const ServiceRoleVpn = "AliyunServiceRoleForVpn"

// CreateTransitRouterVpnAttachment attaches an IPsec-VPN connection (possibly another
// account's, after its grant) to a transit router: Attaching, then Attached.
func (s *Service) CreateTransitRouterVpnAttachment(ctx context.Context, c Caller, in CreateTRVpnAttachmentInput) (string, error) {
	if in.VpnID == "" {
		return "", apierr.Missing("VpnId")
	}
	region, err := s.region("RegionId", in.RegionID)
	if err != nil {
		return "", err
	}
	if in.TransitRouterID == "" && in.CenID == "" {
		return "", apierr.Missing("TransitRouterId")
	}
	if err := model.CBNName.Check("TransitRouterAttachmentName", in.Name); err != nil {
		return "", err
	}
	if err := model.CBNDescription.Check("TransitRouterAttachmentDescription", in.Description); err != nil {
		return "", err
	}
	if in.ChargeType != "" && in.ChargeType != "POSTPAY" {
		return "", apierr.Invalid("ChargeType", "ChargeType must be POSTPAY; got %q.", in.ChargeType)
	}
	for i, z := range in.Zones {
		if !slices.Contains(region.Zones, z) {
			return "", apierr.Invalid("Zone.ZoneId", "Zone.%d.ZoneId %q is not a zone of %s; use one of %v.", i+1, z, region.ID, region.Zones)
		}
	}
	if err := model.CheckTags("Tag", in.Tags); err != nil {
		return "", err
	}
	if region.NoVPNAttachment {
		return "", apierr.New("InstanceStatus.NotSupport", "Region %s does not support attaching IPsec-VPN connections to transit routers; use a region that does.", region.ID)
	}
	vpnOwner := c.AccountID
	if in.VpnOwnerID != "" {
		if _, err := strconv.ParseUint(in.VpnOwnerID, 10, 64); err != nil || len(in.VpnOwnerID) != 16 {
			return "", apierr.Invalid("VpnOwnerId", "VpnOwnerId must be a 16-digit account ID; got %q.", in.VpnOwnerID)
		}
		vpnOwner = in.VpnOwnerID
	}
	autoPublish := true
	if in.AutoPublishRouteEnabled != nil {
		autoPublish = *in.AutoPublishRouteEnabled
	}
	return idempotent(ctx, s, c, "CreateTransitRouterVpnAttachment", in.ClientToken, func(t *txn) (string, error) {
		tr, err := s.findTR(t, c, in.TransitRouterID, in.CenID, in.RegionID)
		if err != nil {
			return "", err
		}
		// Another account's connection: nothing about it is said (whether it exists, where)
		// before its owner has granted it to this CEN. The grant is keyed by what the caller
		// supplied, so an unknown ID, someone else's and one in another region all get the
		// same Forbidden.InstanceNotGranted.
		if vpnOwner != c.AccountID {
			if err := s.requireGrant(t, in.VpnID, tr.CenID, c.AccountID, vpnOwner); err != nil {
				return "", err
			}
		}
		vco, err := getOwned[model.VpnConnection](t, Caller{AccountID: vpnOwner}, model.KindVpnConnection, in.VpnID, vcoNotFound(in.VpnID))
		if err != nil {
			return "", err
		}
		if vco.Region != tr.Region {
			return "", apierr.Invalid("VpnId", "The IPsec-VPN connection %s is in %s, the transit router in %s; they must be in the same region.", vco.ID, vco.Region, tr.Region)
		}
		if vco.Status != model.VcoInit || vco.TransitRouterID != "" {
			if vco.TransitRouterID != "" {
				return "", apierr.New("OperationFailed.VpnConnectionAttached", "The IPsec-VPN connection %s is already attached to transit router %s; an IPsec-VPN connection attaches to at most one transit router.", vco.ID, vco.TransitRouterID)
			}
			return "", configuring(vco)
		}
		limit, err := s.quota(t, c.AccountID, QuotaVpnAttachmentsPerTR)
		if err != nil {
			return "", err
		}
		n, err := s.countVpnAttachments(t, tr.ID)
		if err != nil {
			return "", err
		}
		if n >= limit {
			return "", quotaExceeded(QuotaVpnAttachmentsPerTR, limit, "The transit router "+tr.ID+" already has "+strconv.Itoa(n)+" IPsec-VPN attachments")
		}
		if err := s.checkTunnelCidrsUnique(t, tr.ID, vco); err != nil {
			return "", err
		}
		att := model.VpnAttachment{Meta: s.newMeta(c, model.KindVpnAttachment, tr.Region, model.AttachmentAttaching, in.Tags),
			TransitRouterID: tr.ID, CenID: tr.CenID, VpnID: vco.ID, VpnOwner: vpnOwner, Name: in.Name, Description: in.Description,
			AutoPublishRouteEnabled: autoPublish, ChargeType: "POSTPAY", OrderType: "PayByCenOwner", Zones: in.Zones, SystemLinks: in.SystemLinks}
		// The attachment keeps the zones the request named (none: Terraform's zone is
		// optional and not read back); the gateway IPs take the region's first zones then,
		// the tunnels of a dual-tunnel connection one each (ZoneNo says which).
		zones := att.Zones
		if len(zones) == 0 {
			zones = []string{region.Zones[0]}
			if vco.Dual() && len(region.Zones) > 1 {
				zones = append(zones, region.Zones[1])
			}
		}
		ips, err := s.allocateGatewayIPs(t, vco, tr, att.ID, zones)
		if err != nil {
			return "", err
		}
		if in.DryRun {
			return "", errDryRun
		}
		ip := strings.Join(ips, ", ")
		vco.AttachType = model.AttachCEN
		vco.CenID, vco.TransitRouterID, vco.AttachmentID = tr.CenID, tr.ID, att.ID
		vco.CrossAccount = vpnOwner != c.AccountID
		s.setStatus(&vco.Meta, model.VcoAttaching)
		tr.Attachments++
		if err := s.ensureSystemRouteMaps(t, tr); err != nil {
			return "", err
		}
		if err := addServiceLinkedRole(t, c.AccountID, ServiceRoleVpn); err != nil {
			return "", err
		}
		if err := s.appendLog(t, vco.ID, "attaching to transit router "+tr.ID+" as "+att.ID+", gateway IP "+ip); err != nil {
			return "", err
		}
		if err := t.put(resKey(model.KindTR, tr.ID), tr); err != nil {
			return "", err
		}
		if err := t.put(resKey(model.KindVpnConnection, vco.ID), vco); err != nil {
			return "", err
		}
		return att.ID, t.create(resKey(model.KindVpnAttachment, att.ID), att)
	})
}

// findTR resolves TransitRouterId, or CenId + RegionId, to an Active transit router.
func (s *Service) findTR(t *txn, c Caller, trID, cenID, region string) (*model.TransitRouter, error) {
	if trID == "" {
		cen, err := getOwned[model.CEN](t, c, model.KindCEN, cenID, cenNotFound(cenID))
		if err != nil {
			return nil, err
		}
		trs, err := listTxn[model.TransitRouter](t, model.KindTR)
		if err != nil {
			return nil, err
		}
		for _, tr := range trs {
			if tr.CenID == cen.ID && tr.Region == region {
				trID = tr.ID
			}
		}
		if trID == "" {
			return nil, apierr.New("InvalidTransitRouterId.NotFound", "The CEN instance %s has no transit router in %s; create one first.", cen.ID, region)
		}
	}
	tr, _, err := s.activeTR(t, c, trID, region)
	return tr, err
}

func (s *Service) countVpnAttachments(t *txn, trID string) (int, error) {
	atts, err := listTxn[model.VpnAttachment](t, model.KindVpnAttachment)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, a := range atts {
		if a.TransitRouterID == trID {
			n++
		}
	}
	return n, nil
}

// checkTunnelCidrsUnique: BGP tunnel CIDRs are unique among a transit router's
// connections; every BGP tunnel CIDR of v (one per tunnel) is unused by the others.
func (s *Service) checkTunnelCidrsUnique(t *txn, trID string, v *model.VpnConnection) error {
	vcos, err := listTxn[model.VpnConnection](t, model.KindVpnConnection)
	if err != nil {
		return err
	}
	for _, mine := range v.Units() {
		if !mine.Bgp.EnableBgp {
			continue
		}
		for _, o := range vcos {
			if o.ID == v.ID || o.TransitRouterID != trID {
				continue
			}
			for _, u := range o.Units() {
				if u.Bgp.EnableBgp && u.Bgp.TunnelCidr == mine.Bgp.TunnelCidr {
					param := "BgpConfig.TunnelCidr"
					if v.Dual() {
						param = "TunnelBgpConfig.TunnelCidr"
					}
					return apierr.New("InvalidBgpConfigTunnelCidr.Duplicate", "%s %s is already used by IPsec-VPN connection %s on transit router %s; choose another /30.", param, mine.Bgp.TunnelCidr, o.ID, trID)
				}
			}
		}
	}
	return nil
}

// Gateway IP allocation. A key per allocated address makes allocation atomic.

func allocKey(scope, ip string) string { return "/alloc/" + scope + "/" + ip }

// allocation records who holds an address.
type allocation struct {
	VpnID           string `json:"vpnId"`
	AttachmentID    string `json:"attachmentId"`
	TransitRouterID string `json:"transitRouterId"`
	CidrID          string `json:"cidrId,omitempty"`
	Cidr            string `json:"cidr,omitempty"`
}

// allocateGatewayIPs gives a connection its gateway IP, or each tunnel of a dual-tunnel
// connection its own: tunnel N in zone N of zones (the last zone when there are fewer).
func (s *Service) allocateGatewayIPs(t *txn, vco *model.VpnConnection, tr *model.TransitRouter, attID string, zones []string) ([]string, error) {
	if !vco.Dual() {
		ip, err := s.allocateGatewayIP(t, vco, tr, attID, zones[0])
		vco.InternetIP, vco.ZoneNo = ip, zones[0]
		return []string{ip}, err
	}
	var ips []string
	for i := range vco.Tunnels {
		tun := &vco.Tunnels[i]
		zone := zones[min(max(tun.Index, 1), len(zones))-1]
		ip, err := s.allocateGatewayIP(t, vco, tr, attID, zone)
		if err != nil {
			return nil, err
		}
		tun.InternetIP, tun.ZoneNo = ip, zone
		ips = append(ips, ip)
	}
	return ips, nil
}

// allocateGatewayIP gives a public connection an address of its zone's pool (or the
// region's) and a private one an address of the transit router's CIDR blocks.
func (s *Service) allocateGatewayIP(t *txn, vco *model.VpnConnection, tr *model.TransitRouter, attID, zone string) (string, error) {
	if vco.NetworkType == "private" {
		cidrs, err := listTxn[model.TransitRouterCidr](t, model.KindTRCidr)
		if err != nil {
			return "", err
		}
		sortByCreated(cidrs)
		any := false
		for _, c := range cidrs {
			if c.TransitRouterID != tr.ID {
				continue
			}
			any = true
			p, err := netip.ParsePrefix(c.Cidr)
			if err != nil {
				s.log.Error("a stored transit router CIDR block does not parse; it gives no addresses", "cidr", c.ID, "value", c.Cidr)
				continue
			}
			if ip, ok, err := freeAddress(t, "private/"+tr.ID, config.Pool{p.Masked().String()}); err != nil {
				return "", err
			} else if ok {
				return ip, t.create(allocKey("private/"+tr.ID, ip), allocation{VpnID: vco.ID, AttachmentID: attID, TransitRouterID: tr.ID, CidrID: c.ID, Cidr: c.Cidr})
			}
		}
		if !any {
			return "", apierr.New("OperationFailed.CidrNotExist", "The transit router %s has no CIDR block; a private IPsec-VPN connection takes its gateway IP from one. Add one with CreateTransitRouterCidr.", tr.ID)
		}
		return "", apierr.New("OperationFailed.AllocateCidrFailed", "The CIDR blocks of transit router %s have no free address; add a CIDR block.", tr.ID)
	}
	region, _ := s.cfg.Region(tr.Region)
	pool := region.PoolOf(zone)
	if len(pool) == 0 {
		return "", apierr.New("OperationFailed.AllocateCidrFailed", "Region %s has no public address pool for zone %s: add publicPool (or zonePools) to the region in the server config.", tr.Region, zone)
	}
	ip, ok, err := freeAddress(t, "public/"+tr.Region, pool)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", poolExhausted(tr.Region, zone, pool)
	}
	return ip, t.create(allocKey("public/"+tr.Region, ip), allocation{VpnID: vco.ID, AttachmentID: attID, TransitRouterID: tr.ID})
}

// checkPoolNotExhausted refuses when no pool of the region (its own, its zones') has a
// free address.
func (s *Service) checkPoolNotExhausted(t *txn, regionID string) error {
	region, ok := s.cfg.Region(regionID)
	if !ok {
		return nil
	}
	zones := append([]string{""}, region.Zones...)
	pools := 0
	for _, z := range zones {
		pool := region.PoolOf(z)
		if len(pool) == 0 {
			continue
		}
		pools++
		if _, free, err := freeAddress(t, "public/"+regionID, pool); err != nil || free {
			return err
		}
	}
	if pools == 0 {
		return nil // no pool at all: the attachment says so
	}
	return poolExhausted(regionID, "any", region.PublicPool)
}

func poolExhausted(region, zone string, pool config.Pool) error {
	return apierr.New("OperationFailed.AllocateCidrFailed", "The public address pool of %s (zone %s: %s) has no free address: delete a connection, or add addresses to publicPool or zonePools in the server config.", region, zone, apierr.Clip(pool.String()))
}

// freeAddress finds the first address of pool not allocated in scope.
func freeAddress(t *txn, scope string, pool config.Pool) (string, bool, error) {
	taken := map[string]bool{}
	kvs, err := t.list(allocKey(scope, ""))
	if err != nil {
		return "", false, err
	}
	for _, kv := range kvs {
		taken[kv.Key[len(allocKey(scope, "")):]] = true
	}
	// Addresses allocated earlier in this transaction (the other tunnel's) are taken too.
	for k, v := range t.writes {
		if rest, ok := strings.CutPrefix(k, allocKey(scope, "")); ok && v != nil {
			taken[rest] = true
		}
	}
	for a := range pool.Addrs() {
		if !taken[a.String()] {
			return a.String(), true, nil
		}
	}
	return "", false, nil
}

// releaseGatewayIP frees a connection's addresses (a dual-tunnel one has one per tunnel).
func releaseGatewayIP(t *txn, vco *model.VpnConnection) {
	for _, u := range vco.Units() {
		if u.InternetIP == "" {
			continue
		}
		if vco.NetworkType == "private" {
			t.del(allocKey("private/"+vco.TransitRouterID, u.InternetIP))
		} else {
			t.del(allocKey("public/"+vco.Region, u.InternetIP))
		}
	}
}

// cidrAllocations counts the private gateway addresses allocated from a CIDR block.
func cidrAllocations(t *txn, trID, cidrID string) (int, error) {
	kvs, err := t.list(allocKey("private/"+trID, ""))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, kv := range kvs {
		var a allocation
		if err := json.Unmarshal(kv.Value, &a); err != nil {
			return 0, err
		}
		if a.CidrID == cidrID {
			n++
		}
	}
	return n, nil
}

// CidrAllocation is one private gateway address taken from a transit-router CIDR block.
type CidrAllocation struct {
	AllocatedCidrBlock, AttachmentID, AttachmentName, Cidr, CidrID string
}

// ListTransitRouterCidrAllocation lists the private addresses allocated from a TR's blocks.
func (s *Service) ListTransitRouterCidrAllocation(ctx context.Context, c Caller, trID, region, cidrID, attachmentID string) ([]CidrAllocation, error) {
	if trID == "" {
		return nil, apierr.Missing("TransitRouterId")
	}
	var out []CidrAllocation
	err := s.update(ctx, func(t *txn) error {
		tr, err := getOwned[model.TransitRouter](t, c, model.KindTR, trID, trNotFound(trID))
		if err != nil {
			return err
		}
		if region != "" && tr.Region != region {
			return trNotFound(trID)
		}
		kvs, err := t.list(allocKey("private/"+tr.ID, ""))
		if err != nil {
			return err
		}
		out = nil
		for _, kv := range kvs {
			var a allocation
			if err := json.Unmarshal(kv.Value, &a); err != nil {
				return err
			}
			if (cidrID != "" && a.CidrID != cidrID) || (attachmentID != "" && a.AttachmentID != attachmentID) {
				continue
			}
			var att model.VpnAttachment
			if _, err := t.get(resKey(model.KindVpnAttachment, a.AttachmentID), &att); err != nil {
				return err
			}
			out = append(out, CidrAllocation{AllocatedCidrBlock: kv.Key[len(allocKey("private/"+tr.ID, "")):] + "/32", AttachmentID: a.AttachmentID, AttachmentName: att.Name, Cidr: a.Cidr, CidrID: a.CidrID})
		}
		return nil
	})
	return out, err
}
