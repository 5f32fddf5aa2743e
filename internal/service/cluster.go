package service

import (
	"context"
	"encoding/json"
	"time"

	"opencen/internal/apierr"
)

// Members of a cluster keep records under these keys while they run (on etcd under their
// lease, so a member that dies disappears with its lease): API servers under
// ServersPrefix+<id>, gateway nodes under GatewaysPrefix+<node>.
const (
	ServersPrefix  = "/cluster/servers/"
	GatewaysPrefix = "/cluster/gateways/"
)

// APIServer is an API server's record.
type APIServer struct {
	ID      string    `json:"Id"`
	Address string    `json:"Address"` // where it listens
	Version string    `json:"Version"` // of the opencen binary
	Started time.Time `json:"Started"`
	Leader  bool      `json:"Leader"` // runs the controllers
}

// ClusterStatus is what DescribeCluster shows: the API servers in ID order and the gateway
// nodes' records, in node order, as the nodes wrote them (JSON objects with at least
// Node).
type ClusterStatus struct {
	Servers  []APIServer
	Gateways []json.RawMessage
}

// Cluster reads the members' records (admin only). A record that does not decode is left
// out and logged.
func (s *Service) Cluster(ctx context.Context, c Caller) (ClusterStatus, error) {
	if !c.Admin {
		return ClusterStatus{}, apierr.New("Forbidden.NotAdmin", "Only the admin account may see the cluster's servers and gateway nodes.")
	}
	out := ClusterStatus{Servers: []APIServer{}, Gateways: []json.RawMessage{}}
	kvs, _, err := s.st.List(ctx, ServersPrefix)
	if err != nil {
		return ClusterStatus{}, err
	}
	for _, kv := range kvs {
		var a APIServer
		if err := json.Unmarshal(kv.Value, &a); err != nil || a.ID == "" {
			s.log.Warn("cluster: undecodable server record", "key", kv.Key, "err", err)
			continue
		}
		out.Servers = append(out.Servers, a)
	}
	if kvs, _, err = s.st.List(ctx, GatewaysPrefix); err != nil {
		return ClusterStatus{}, err
	}
	for _, kv := range kvs {
		var g struct{ Node string }
		if err := json.Unmarshal(kv.Value, &g); err != nil || g.Node == "" {
			s.log.Warn("cluster: undecodable gateway node record", "key", kv.Key, "err", err)
			continue
		}
		out.Gateways = append(out.Gateways, json.RawMessage(kv.Value))
	}
	return out, nil
}
