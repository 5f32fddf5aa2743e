// Package bgp runs a transit router's BGP speaker (GoBGP) and talks to it.
//
// Linux network namespaces are per thread and GoBGP opens its sockets from its own
// goroutines, so the speaker is a process of its own, started inside the transit router's
// namespace (StartSpeaker: `ip netns exec <router ns> <opencen> bgp-speaker --socket PATH`,
// which calls Main). The gateway, in the host namespace, talks to it through a unix socket
// (a path, so it is reachable from every network namespace) with Client.
//
// One speaker per transit router; one BGP neighbor per IPsec-VPN connection with BGP, over
// the router<->cell link that carries the connection's tunnel /30 (LocalAddress =
// LocalBgpIp on the router side, Address = the customer's end of the /30).
//
// # Routes
//
// Each neighbor has its own table (a GoBGP VRF with its own route distinguisher and route
// target), so what is advertised to one neighbor never leaks to another, and what one
// neighbor announces is never re-advertised to the others: the control plane decides what
// each neighbor gets (Advertise: neighbor ID -> prefixes, next hop self, origin IGP,
// AS path = the neighbor's LocalAS). Routes learned from a neighbor are reported per
// neighbor (State, Watch); the speaker never touches the kernel's routing tables.
//
// Limits: a neighbor's first MaxLearned (default 100) prefixes are accepted; further
// prefixes are ignored (not reported as learned; counted in NeighborState.Ignored) until
// accepted ones are withdrawn. Beyond HardLimitFactor × MaxLearned prefixes GoBGP closes
// the session (Cease, maximum number of prefixes reached) to protect the speaker's memory.
// At most MaxAdvertised prefixes are advertised to one neighbor (more are dropped and
// reported in AdvertiseResult and NeighborState.AdvertiseDropped).
//
// # Protocol
//
// JSON lines over the unix socket. Each request is one JSON object on one line; each
// answer is one line:
//
//	{"op":"hello"}                                  -> {"ok":true,"hello":{"pid":..,"version":..}}
//	{"op":"configure","config":{Config}}            -> {"ok":true}
//	{"op":"advertise","advertise":{"vco-1":["10.10.0.0/16"]}}
//	                                                -> {"ok":true,"advertise":{AdvertiseResult}}
//	{"op":"state"}                                  -> {"ok":true,"state":[NeighborState...]}
//	{"op":"watch"}                                  -> {"ok":true}, then {"update":{Update}} lines
//	failure                                         -> {"ok":false,"error":"..."}
//
// configure and advertise are declarative: the whole neighbor list, resp. the whole
// advertised state (a neighbor missing from the map advertises nothing). A watch
// connection first gets one Update per configured neighbor (a snapshot), then an Update
// whenever a neighbor's state changes (session up/down, learned routes); each Update
// carries the neighbor's complete state, so a watcher that falls behind only misses
// intermediate states, never the latest one.
package bgp
