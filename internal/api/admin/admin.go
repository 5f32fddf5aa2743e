// Package admin serves OpenCEN's own product: account, key and quota administration, and conveniences the Alibaba products lack.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"opencen/internal/api"
	"opencen/internal/apierr"
	"opencen/internal/config"
	"opencen/internal/model"
	"opencen/internal/rpc"
	"opencen/internal/service"
	"opencen/internal/tunnel"
	"opencen/internal/vpnconf"
)

// Version of the admin product. It has no Alibaba counterpart; the opencen CLI calls it.
const Version = "2026-11-01"

type handlers struct{ svc *service.Service }

// Product returns the admin product.
func Product(svc *service.Service) *rpc.Product {
	h := handlers{svc}
	return &rpc.Product{Name: "OpenCen", Version: Version, Host: "opencen", Actions: map[string]rpc.Handler{
		"CreateAccount":         h.createAccount,
		"DescribeAccount":       h.describeAccount,
		"CreateAccessKey":       h.createKey,
		"UpdateAccessKeyStatus": h.updateKey,
		"DeleteAccessKey":       h.deleteKey,
		"SetQuota":              h.setQuota,
		// Admin only: hourly usage records imported as they are (service.PutUsage).
		"ImportUsage": h.importUsage,
		// Any account, for its own connections.
		"RenderVpnConnectionConfig": h.renderVpnConfig,
		"ExplainRoute":              h.explainRoute,
		// Any account sees its own connections' and transit routers' objects, the admin all.
		"DescribeGatewayStatus": h.gatewayStatus,
		// Admin only: the gateway nodes of a cluster on etcd.
		"DescribeGatewayNodes": h.gatewayNodes,
		"DeleteGatewayNode":    h.deleteGatewayNode,
		// Admin only: the API servers sharing the store and the gateway nodes.
		"DescribeCluster": h.describeCluster,
		// Admin only: the network segments VPCs are bound to.
		"BindVpc":             h.bindVpc,
		"UnbindVpc":           h.unbindVpc,
		"DescribeVpcBindings": h.vpcBindings,
	}}
}

func credentials(c service.Credentials) rpc.Object {
	return rpc.Object{"AccountId": c.AccountID, "AccessKeyId": c.AccessKeyID, "AccessKeySecret": c.AccessKeySecret}
}

func (h handlers) createAccount(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	c, err := h.svc.CreateAccount(ctx, api.Caller(r), r.Params["Name"])
	if err != nil {
		return nil, err
	}
	return credentials(c), nil
}

func (h handlers) createKey(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	c, err := h.svc.CreateAccessKey(ctx, api.Caller(r), r.Params["AccountId"])
	if err != nil {
		return nil, err
	}
	return credentials(c), nil
}

func (h handlers) updateKey(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	return rpc.Object{}, h.svc.SetAccessKeyStatus(ctx, api.Caller(r), r.Params["UserAccessKeyId"], r.Params["Status"])
}

func (h handlers) deleteKey(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	return rpc.Object{}, h.svc.DeleteAccessKey(ctx, api.Caller(r), r.Params["UserAccessKeyId"])
}

func (h handlers) describeAccount(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	a, err := h.svc.DescribeAccount(ctx, api.Caller(r), r.Params["AccountId"])
	if err != nil {
		return nil, err
	}
	keys := []rpc.Object{}
	for _, k := range a.AccessKeys {
		keys = append(keys, rpc.Object{"AccessKeyId": k.AccessKeyID, "Status": k.Status, "CreateTime": k.Created.UTC().Format("2006-01-02T15:04:05Z")})
	}
	roles := a.ServiceLinkedRoles
	if roles == nil {
		roles = []string{}
	}
	quotas, err := h.svc.Quotas(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	return rpc.Object{"AccountId": a.ID, "Name": a.Name, "Admin": a.Admin, "AccessKeys": keys, "ServiceLinkedRoles": roles, "Quotas": quotas}, nil
}

func (h handlers) setQuota(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	v, set, err := r.Params.Int("Value", 0, 100000)
	if err != nil {
		return nil, err
	}
	if !set {
		return nil, apierr.Missing("Value")
	}
	return rpc.Object{}, h.svc.SetQuota(ctx, api.Caller(r), r.Params["AccountId"], r.Params["QuotaName"], v)
}

// renderVpnConfig renders a connection's customer-side configuration for a device type:
// a single-tunnel connection's tunnel; a dual-tunnel connection's two tunnels in one file;
// or, with TunnelId, one tunnel of a dual-tunnel connection alone, for a device (or a
// strongSwan instance) that carries only it.
func (h handlers) renderVpnConfig(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	if f := p["ConfigFormat"]; f != "strongswan" {
		return nil, apierr.Invalid("ConfigFormat", "ConfigFormat must be strongswan; got %q (for Alibaba's JSON structure call Vpc DownloadVpnConnectionConfig).", f)
	}
	id, only := p["VpnConnectionId"], p["TunnelId"]
	// The roles are the stored tunnels'; the specs carry none.
	view, err := h.svc.DescribeVpnConnection(ctx, api.Caller(r), p["RegionId"], id)
	if err != nil {
		return nil, err
	}
	roles := map[string]string{}
	for _, t := range view.VpnConnection.Tunnels {
		roles[t.ID] = t.Role
	}
	if only != "" && roles[only] == "" {
		if !view.Dual() {
			return nil, apierr.Invalid("TunnelId", "The IPsec-VPN connection %s has a single tunnel; leave TunnelId out.", id)
		}
		return nil, apierr.New("InvalidTunnelId.NotFound", "The tunnel %s (TunnelId) is not a tunnel of the IPsec-VPN connection %s; DescribeVpnConnection lists its tunnels.", only, id)
	}
	specs, err := h.svc.CustomerConfigs(ctx, api.Caller(r), p["RegionId"], id)
	if errors.Is(err, tunnel.ErrNotAttached) {
		return nil, apierr.New("IncorrectStatus.VpnConnection", "The IPsec-VPN connection %s has no gateway IP until it is attached to a transit router.", id)
	}
	if err != nil {
		return nil, err
	}
	text, err := renderStrongswan(id, specs, roles, only)
	if errors.Is(err, vpnconf.ErrSameIdentities) {
		return nil, apierr.New("InvalidVpnConnection.Configuration", "The two tunnels of the IPsec-VPN connection %s have the same IKE identities, so one strongSwan instance cannot tell them apart: render each tunnel alone (TunnelId; opencen vpn config --tunnel) for an instance of its own, or give the tunnels different LocalId or RemoteId with ModifyVpnAttachmentAttribute.", id)
	}
	if err != nil {
		return nil, err
	}
	return rpc.Object{"Config": text}, nil
}

// renderStrongswan renders connection id's specs (one per tunnel, roles by tunnel ID; none
// for a single-tunnel connection), or only the tunnel only when it is set.
func renderStrongswan(id string, specs []tunnel.Spec, roles map[string]string, only string) (string, error) {
	if len(roles) == 0 && len(specs) == 1 {
		return vpnconf.Strongswan(specs[0])
	}
	var master, slave *tunnel.Spec
	for i := range specs {
		s := &specs[i]
		if s.IPsec.ID == only {
			return vpnconf.StrongswanTunnel(*s, roles[only])
		}
		switch roles[s.IPsec.ID] {
		case model.RoleMaster:
			master = s
		case model.RoleSlave:
			slave = s
		}
	}
	if master == nil || slave == nil || only != "" {
		// The model keeps one master and one slave: a record without them is damaged.
		return "", fmt.Errorf("IPsec-VPN connection %s: %d tunnel specs do not match the roles %v (tunnel %q)", id, len(specs), roles, only)
	}
	return vpnconf.StrongswanDual(*master, *slave)
}

// explainRoute says why a prefix of a transit router's table has its entries and how it is
// advertised to an attachment (opencen tr explain).
func (h handlers) explainRoute(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	if p["TransitRouterId"] == "" {
		return nil, apierr.Missing("TransitRouterId")
	}
	prefix, err := netip.ParsePrefix(p["Prefix"])
	if err != nil {
		if a, aerr := netip.ParseAddr(p["Prefix"]); aerr == nil {
			prefix = netip.PrefixFrom(a, a.BitLen())
		} else {
			return nil, apierr.Invalid("Prefix", "Prefix must be a CIDR block or an address; got %q.", p["Prefix"])
		}
	}
	x, err := h.svc.ExplainRoute(ctx, api.Caller(r), p["TransitRouterId"], p["TransitRouterRouteTableId"], prefix, p["AttachmentId"])
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(x)
	if err != nil {
		return nil, err
	}
	return rpc.Object{"Text": x.String(), "Explanation": json.RawMessage(raw)}, nil
}

// gatewayStatus lists the data plane's objects (routers, cells, BGP neighbors, health
// checks) with their status: pending, done, or error with what is wrong.
func (h handlers) gatewayStatus(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	objs, err := h.svc.GatewayObjects(ctx, api.Caller(r), r.Params["VpnConnectionId"], r.Params["TransitRouterId"])
	if err != nil {
		return nil, err
	}
	items := []rpc.Object{}
	for _, o := range objs {
		items = append(items, rpc.Object{"Node": o.Node, "Kind": o.Kind, "Id": o.ID, "TransitRouterId": o.Router,
			"State": o.State, "Message": o.Message, "Since": o.Since.UTC().Format(time.RFC3339)})
	}
	return rpc.Object{"Objects": items}, nil
}

// gatewayNodes lists the gateway nodes: zone, lease, and what each runs.
func (h handlers) gatewayNodes(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	nodes, err := h.svc.DescribeGatewayNodes(ctx, api.Caller(r))
	if err != nil {
		return nil, err
	}
	items := []rpc.Object{}
	for _, n := range nodes {
		items = append(items, rpc.Object{"Node": n.Node, "Zone": n.Zone, "RegionId": n.Region, "Address": n.Address, "Underlay": n.Underlay,
			"Capacity": n.Capacity, "Started": n.Started.UTC().Format(time.RFC3339), "LeaseExpires": n.LeaseExpires.UTC().Format(time.RFC3339),
			"Alive": n.Alive, "TransitRouters": n.TransitRouters, "Connections": n.Connections})
	}
	return rpc.Object{"Nodes": items}, nil
}

// deleteGatewayNode forgets a dead node for good.
func (h handlers) deleteGatewayNode(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	return rpc.Object{}, h.svc.ForgetGatewayNode(ctx, api.Caller(r), r.Params["Node"])
}

// describeCluster shows the API servers sharing the store (which one leads, running the
// controllers) and the gateway nodes' records as they wrote them.
func (h handlers) describeCluster(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	c, err := h.svc.Cluster(ctx, api.Caller(r))
	if err != nil {
		return nil, err
	}
	servers := make([]rpc.Object, 0, len(c.Servers))
	for _, s := range c.Servers {
		servers = append(servers, rpc.Object{"Id": s.ID, "Address": s.Address, "Version": s.Version,
			"Started": s.Started.UTC().Format(time.RFC3339), "Leader": s.Leader})
	}
	return rpc.Object{"Servers": servers, "Gateways": c.Gateways}, nil
}

// importUsage writes the hourly usage records of Records, a JSON array of
// service.UsageRecord (hour, account, instance, instanceType, region, networkType, hours,
// inBytes, outBytes ...).
func (h handlers) importUsage(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	raw := r.Params["Records"]
	if raw == "" {
		return nil, apierr.Missing("Records")
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	var records []service.UsageRecord
	if err := dec.Decode(&records); err != nil {
		return nil, apierr.Invalid("Records", "Records must be a JSON array of usage records ({\"hour\":\"2026-11-01T10:00:00Z\",\"account\":...,\"instance\":...,\"instanceType\":...,\"hours\":1,\"inBytes\":...}): %s", err)
	}
	if err := h.svc.PutUsage(ctx, api.Caller(r), records); err != nil {
		return nil, err
	}
	return rpc.Object{"Count": len(records)}, nil
}

// bindVpc binds a VPC to a network segment: Netns (a namespace, or where the bridge or
// underlay is), Bridge, or VxlanVni with Underlay and Remotes (a list) or Group; GatewayIp
// and Port have defaults.
func (h handlers) bindVpc(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	p := r.Params
	b := config.VPCBinding{VpcID: p["VpcId"], Netns: p["Netns"], Bridge: p["Bridge"], Underlay: p["Underlay"], Group: p["Group"], GatewayIP: p["GatewayIp"]}
	vni, _, err := p.Int("VxlanVni", 1, 1<<24-1)
	if err != nil {
		return nil, err
	}
	port, _, err := p.Int("Port", 1, 65535)
	if err != nil {
		return nil, err
	}
	b.VNI, b.Port = uint32(vni), uint16(port)
	if b.Remotes, err = p.List("Remotes"); err != nil {
		return nil, err
	}
	b, err = h.svc.BindVpc(ctx, api.Caller(r), b)
	if err != nil {
		return nil, err
	}
	return bindingObject(b), nil
}

func (h handlers) unbindVpc(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	return rpc.Object{}, h.svc.UnbindVpc(ctx, api.Caller(r), r.Params["VpcId"])
}

func (h handlers) vpcBindings(ctx context.Context, r *rpc.Request) (rpc.Object, error) {
	bs, err := h.svc.VpcBindings(ctx, api.Caller(r), r.Params["VpcId"])
	if err != nil {
		return nil, err
	}
	items := []rpc.Object{}
	for _, b := range bs {
		items = append(items, bindingObject(b))
	}
	return rpc.Object{"Bindings": items}, nil
}

func bindingObject(b config.VPCBinding) rpc.Object {
	remotes := b.Remotes
	if remotes == nil {
		remotes = []string{}
	}
	return rpc.Object{"VpcId": b.VpcID, "Kind": b.Kind(), "Netns": b.Netns, "Bridge": b.Bridge, "VxlanVni": b.VNI,
		"Underlay": b.Underlay, "Remotes": remotes, "Group": b.Group, "Port": b.Port, "GatewayIp": b.GatewayIP}
}
