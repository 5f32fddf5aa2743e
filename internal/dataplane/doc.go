// Package dataplane applies transit routers and IPsec-VPN connections to the operating system.
//
// The control plane computes a Desired state (pure data: routers with their route tables,
// associations, VPC links and IPsec-VPN cells) and hands the whole of it to a Driver:
//
//	Apply(ctx, desired)  idempotent; converges from any state (creates what is missing,
//	                     updates what changed, deletes what is not desired); nil = nothing.
//	Cleanup(ctx)         removes everything with the driver's prefix, also what a crashed
//	                     driver left behind.
//	Status(ctx)          per connection: negotiation state (ike_sa_not_established,
//	                     ike_sa_established, ipsec_sa_not_established, ipsec_sa_established)
//	                     and recent events (established, deleted, rekeyed, proposal mismatch,
//	                     authentication failed, DPD timeout, initiations); NetnsOptions.OnEvent
//	                     streams the same events as they happen.
//
// How the control plane drives it: a gateway agent keeps one driver per node; it calls
// Apply with the full desired state of the node whenever an input changes and periodically
// (level-triggered resync: Apply repairs drift, e.g. a route deleted by hand or a veth that
// disappeared); it writes Status into VpnConnection.NegotiationStatus and forwards events.
// A restarted agent calls Apply with the same state: running charons are re-adopted (pid
// file + /proc), nothing is renegotiated (a charon is replaced only when its retransmission
// settings are not its cell's FastDPD ones, see fastdpd.go). Route tables hold only active routes (the routing
// package decides); next hops are attachment IDs, resolved by the driver to the link
// and the peer's inside address.
//
// The "netns" driver (NewNetns) is the data plane for kernels without ESP, XFRM interfaces
// or VRF (this sandbox): one network namespace per transit router, one namespace per
// IPsec-VPN connection (a "cell") with its own charon using kernel-libipsec (userspace
// ESP over the TUN device ipsec0). Its layout is described on Netns. Known limits of
// kernel-libipsec, designed around here: no trap policies (on-demand start is a packet
// socket on the cell's router link), NAT-T always on (UDP 4500), about 300 Mbit/s per
// tunnel, one 0.0.0.0/0 child per charon (hence a charon per connection), and a local
// address needed inside each local traffic selector (the cell puts one on lo).
//
// Routing inside the router namespace: for each attachment a rule "iif <link> lookup
// <table>" (priority 1000) for its association and "iif <link> unreachable" (priority 2000),
// so traffic from an attachment never falls through to the main table. Locally originated
// traffic of the namespace (BGP sessions, health probes of a gateway agent running there)
// uses the main table, which holds only the links' connected routes.
package dataplane
