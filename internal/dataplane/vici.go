package dataplane

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/strongswan/govici/vici"

	"opencen/internal/tunnel"
)

// charonConn is what a cell's charon is given: the cloud side of the tunnel, in charon's
// terms. It is the one place a Cell becomes charon configuration; the load-conn message,
// the driver's record of what is loaded and its summary all derive from it.
type charonConn struct {
	Name        string
	Version     int
	Aggressive  bool
	Local       string // the gateway IP
	Remote      string // the customer gateway
	LocalID     string // as swanctl takes identities ("@fqdn" or an address)
	RemoteID    string
	IKEProposal string
	ESPProposal string
	IKELifetime time.Duration
	ESPLifetime time.Duration
	PSK         string
	DPD         bool
	// FastDPD (Cell.FastDPD): omitted when false, so that the digest of every other
	// connection is the one earlier drivers recorded (a new digest reloads and
	// renegotiates).
	FastDPD  bool `json:",omitempty"`
	Children []tunnel.Child
	// StartNow is not charon's (start_action is always none: the driver initiates), but
	// it is part of what Render summarizes.
	StartNow bool
}

func charonConnOf(c Cell) charonConn {
	s := c.IPsec
	return charonConn{
		Name: s.ID, Version: s.IKE.Version, Aggressive: s.IKE.Aggressive,
		Local: s.Cloud.String(), Remote: s.Customer.String(),
		LocalID: s.CloudID.Swanctl(), RemoteID: s.CustomerID.Swanctl(),
		IKEProposal: s.IKEProposal(), ESPProposal: s.ESPProposal(),
		IKELifetime: s.IKE.Lifetime, ESPLifetime: s.ESP.Lifetime,
		PSK: s.PSK, DPD: s.DPD, FastDPD: c.FastDPD, Children: s.Children(), StartNow: s.StartNow,
	}
}

// digest identifies the configuration charon has loaded (salted, so the record on disk
// does not give the PSK away). StartNow is left out: it changes what the driver does,
// not charon, so changing it renegotiates nothing.
func (c charonConn) digest(salt string) string {
	c.StartNow = false
	b, err := json.Marshal(c)
	if err != nil { // a struct of strings, numbers and prefixes: cannot fail
		b = []byte(fmt.Sprint(c))
	}
	h := sha256.New()
	h.Write([]byte(salt))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// summary is the non-secret part, for Render.
func (c charonConn) summary() string {
	mode := ""
	if c.Aggressive {
		mode = " aggressive"
	}
	start := "on-traffic"
	if c.StartNow {
		start = "now"
	}
	fast := ""
	if c.FastDPD {
		fast = " fast-dpd"
	}
	return fmt.Sprintf("IKEv%d%s ike=%s (%s) esp=%s (%s) ids=%s/%s dpd=%v start=%s%s",
		c.Version, mode, c.IKEProposal, lifetime(c.IKELifetime), c.ESPProposal, lifetime(c.ESPLifetime),
		c.LocalID, c.RemoteID, c.DPD, start, fast)
}

// VICI conversations with a cell's charon. Commands use a short-lived session each.
//
// govici v0.8.0's CallStreaming is not used: it waits for the streamed events and the final
// response with one select over two channels, so when charon sends the last events and
// the response back to back, the response can win and the stream ends early, losing
// events (list-conns then randomly reports no connection). Instead, collect subscribes to
// the event, makes a plain Call and drains the subscription: govici's reader dispatches
// packets in order, so every event has been queued before the response is returned.
// (CallStreaming would also report the final result only as an error.)

func viciDial(ctx context.Context, socket string) (*vici.Session, error) {
	return vici.NewSession(vici.WithSocketPath(socket), vici.WithDialContext(func(_ context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: 2 * time.Second}
		return d.DialContext(ctx, network, addr)
	}))
}

// viciSession is an ikeSession over VICI.
type viciSession struct{ s *vici.Session }

func (v viciSession) Close() error { return v.s.Close() }

// message builds a VICI message from key/value pairs (values: string, []string or
// *vici.Message).
func message(kv ...any) (*vici.Message, error) {
	m := vici.NewMessage()
	for i := 0; i+1 < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, fmt.Errorf("vici message: key %v is not a string", kv[i])
		}
		if err := m.Set(k, kv[i+1]); err != nil {
			return nil, fmt.Errorf("vici message: %s: %w", k, err)
		}
	}
	return m, nil
}

func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

func lifetime(d time.Duration) string {
	if d <= 0 {
		return "0"
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

// loadMessage is the cloud side's load-conn message: PSK, route-based or flow protection,
// start_action none (the driver initiates, or waits for traffic: kernel-libipsec has no
// trap), unique = replace, keyingtries 0 (keep trying once started). DPD every dpdDelay,
// or with FastDPD every fastDPDDelay, and for IKEv1 (whose DPD is not retransmitted) a
// dpd_timeout of fastDPDTimeout (fastdpd.go).
func (c charonConn) loadMessage(dpdDelay time.Duration) (*vici.Message, error) {
	dpd, dpdTimeout := "0s", ""
	switch {
	case c.DPD && c.FastDPD:
		dpd = lifetime(fastDPDDelay)
		if c.Version == 1 {
			dpdTimeout = lifetime(fastDPDTimeout)
		}
	case c.DPD:
		dpd = lifetime(dpdDelay)
	}
	children := vici.NewMessage()
	for _, ch := range c.Children {
		m, err := message(
			"mode", "tunnel",
			"local_ts", prefixStrings(ch.Cloud),
			"remote_ts", prefixStrings(ch.Customer),
			"esp_proposals", []string{c.ESPProposal},
			"rekey_time", lifetime(c.ESPLifetime),
			"start_action", "none",
			"dpd_action", "restart",
			"close_action", "none",
		)
		if err != nil {
			return nil, err
		}
		if err := children.Set(ch.Name, m); err != nil {
			return nil, err
		}
	}
	local, err := message("auth", "psk", "id", c.LocalID)
	if err != nil {
		return nil, err
	}
	remote, err := message("auth", "psk", "id", c.RemoteID)
	if err != nil {
		return nil, err
	}
	kv := []any{
		"version", strconv.Itoa(c.Version),
		"local_addrs", []string{c.Local},
		"remote_addrs", []string{c.Remote},
		"proposals", []string{c.IKEProposal},
		"encap", "yes",
		"mobike", "no",
		"dpd_delay", dpd,
		"rekey_time", lifetime(c.IKELifetime),
		"keyingtries", "0",
		"unique", "replace",
		"local", local,
		"remote", remote,
		"children", children,
	}
	if c.Aggressive {
		kv = append(kv, "aggressive", "yes")
	}
	if dpdTimeout != "" {
		kv = append(kv, "dpd_timeout", dpdTimeout)
	}
	conn, err := message(kv...)
	if err != nil {
		return nil, err
	}
	return message(c.Name, conn)
}

func (v viciSession) LoadConn(ctx context.Context, c Cell, dpdDelay time.Duration) error {
	conn := charonConnOf(c)
	shared, err := message("id", "psk-"+conn.Name, "type", "IKE", "data", conn.PSK, "owners", []string{conn.RemoteID})
	if err != nil {
		return err
	}
	if _, err := v.s.Call(ctx, "load-shared", shared); err != nil {
		return fmt.Errorf("load-shared: %w", err)
	}
	m, err := conn.loadMessage(dpdDelay)
	if err != nil {
		return err
	}
	if _, err := v.s.Call(ctx, "load-conn", m); err != nil {
		return fmt.Errorf("load-conn: %w", err)
	}
	return nil
}

// collect runs a command that streams events and returns the events.
func (v viciSession) collect(ctx context.Context, cmd, event string, in *vici.Message) ([]*vici.Message, error) {
	ch := make(chan vici.Event, 4096)
	v.s.NotifyEvents(ch)
	defer v.s.StopEvents(ch)
	if err := v.s.Subscribe(event); err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", event, err)
	}
	if _, err := v.s.Call(ctx, cmd, in); err != nil {
		return nil, fmt.Errorf("%s: %w", cmd, err)
	}
	var out []*vici.Message
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return out, nil
			}
			if ev.Name == event {
				out = append(out, ev.Message)
			}
		default:
			return out, nil
		}
	}
}

func (v viciSession) Conns(ctx context.Context) (map[string]loadedConn, error) {
	out := map[string]loadedConn{}
	ms, err := v.collect(ctx, "list-conns", "list-conn", nil)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		for _, k := range m.Keys() {
			c, ok := m.Get(k).(*vici.Message)
			if !ok {
				continue
			}
			lc := loadedConn{Version: str(c, "version"), LocalAddrs: strs(c, "local_addrs"), RemoteAddrs: strs(c, "remote_addrs"),
				DPDDelay: str(c, "dpd_delay"), DPDTimeout: str(c, "dpd_timeout")}
			if children, ok := c.Get("children").(*vici.Message); ok {
				for _, cn := range children.Keys() {
					ch, ok := children.Get(cn).(*vici.Message)
					if !ok {
						continue
					}
					lc.Children = append(lc.Children, loadedChild{Name: cn, LocalTS: strs(ch, "local-ts"), RemoteTS: strs(ch, "remote-ts")})
				}
			}
			out[k] = lc
		}
	}
	return out, nil
}

// saInfo is one IKE SA from list-sas.
type saInfo struct {
	Name      string
	ID        int    // unique id
	Age       int    // seconds since established
	State     string // CONNECTING, ESTABLISHED, ...
	Version   int    // IKE version: 1 or 2
	Initiator bool   // this end initiated it
	Desc      string
	Children  []childInfo
}

type childInfo struct {
	Name, State, Desc string
}

func str(m *vici.Message, k string) string {
	if v, ok := m.Get(k).(string); ok {
		return v
	}
	return ""
}

func strs(m *vici.Message, k string) []string {
	switch v := m.Get(k).(type) {
	case []string:
		return v
	case string:
		return []string{v}
	}
	return nil
}

// SAs lists the IKE SAs of connection name. Not with noblock: an IKE SA that is busy
// (e.g. negotiating a child SA) would be left out, and "no SA" would trigger a second
// initiation.
func (v viciSession) SAs(ctx context.Context, name string) ([]saInfo, error) {
	in, err := message("ike", name)
	if err != nil {
		return nil, err
	}
	ms, err := v.collect(ctx, "list-sas", "list-sa", in)
	if err != nil {
		return nil, err
	}
	var out []saInfo
	for _, m := range ms {
		for _, k := range m.Keys() {
			sa, ok := m.Get(k).(*vici.Message)
			if !ok {
				continue
			}
			info := saInfo{Name: k, State: str(sa, "state"), Initiator: str(sa, "initiator") == "yes"}
			info.ID, _ = strconv.Atoi(str(sa, "uniqueid"))
			info.Version, _ = strconv.Atoi(str(sa, "version"))
			info.Age, _ = strconv.Atoi(str(sa, "established"))
			info.Desc = fmt.Sprintf("%s IKEv%s %s", info.State, str(sa, "version"), algorithms(sa, "encr-alg", "integ-alg", "prf-alg", "dh-group"))
			if ch, ok := sa.Get("child-sas").(*vici.Message); ok {
				for _, ck := range ch.Keys() {
					c, ok := ch.Get(ck).(*vici.Message)
					if !ok {
						continue
					}
					info.Children = append(info.Children, childInfo{
						Name:  str(c, "name"),
						State: str(c, "state"),
						Desc: fmt.Sprintf("%s %s %s %s === %s", str(c, "state"), str(c, "protocol"), algorithms(c, "encr-alg", "integ-alg", "dh-group"),
							strings.Join(strs(c, "local-ts"), ","), strings.Join(strs(c, "remote-ts"), ",")),
					})
				}
			}
			out = append(out, info)
		}
	}
	return out, nil
}

// algorithms renders an SA's algorithms as "AES_CBC-128/HMAC_SHA1_96/...".
func algorithms(m *vici.Message, keys ...string) string {
	var alg []string
	for _, a := range keys {
		if v := str(m, a); v != "" {
			if a == "encr-alg" && str(m, "encr-keysize") != "" {
				v += "-" + str(m, "encr-keysize")
			}
			alg = append(alg, v)
		}
	}
	return strings.Join(alg, "/")
}

// Initiate starts child (and its IKE SA if needed) and waits up to timeout for it.
// Without a control-log subscription charon sends just the final result.
func (v viciSession) Initiate(ctx context.Context, child string, timeout time.Duration) error {
	in, err := message("child", child, "timeout", strconv.FormatInt(timeout.Milliseconds(), 10), "loglevel", "0")
	if err != nil {
		return err
	}
	_, err = v.s.Call(ctx, "initiate", in)
	return err
}

// Terminate deletes the IKE SAs of connection name (with their children), without
// waiting for the peer's answer.
func (v viciSession) Terminate(ctx context.Context, name string) error {
	in, err := message("ike", name, "force", "yes", "timeout", "-1")
	if err != nil {
		return err
	}
	_, err = v.s.Call(ctx, "terminate", in)
	if err != nil && strings.Contains(err.Error(), "no matching SAs") {
		return nil
	}
	return err
}

// TerminateIKE deletes one IKE SA. force: the DELETE goes out at once and the SA is gone
// without waiting for an answer; without it the DELETE queues behind a pending exchange,
// such as DPD retransmitting into an SA the peer has already destroyed.
func (v viciSession) TerminateIKE(ctx context.Context, id int) error {
	in, err := message("ike-id", strconv.Itoa(id), "force", "yes", "timeout", "-1")
	if err != nil {
		return err
	}
	_, err = v.s.Call(ctx, "terminate", in)
	return err
}

// UnloadConn removes a connection (missing ones are fine).
func (v viciSession) UnloadConn(ctx context.Context, name string) error {
	in, err := message("name", name)
	if err != nil {
		return err
	}
	_, err = v.s.Call(ctx, "unload-conn", in)
	if err != nil && strings.Contains(err.Error(), "not found") {
		return nil
	}
	return err
}

// saState computes the API's negotiation status from the SAs and the configured child
// SAs: ipsec_sa_established only when every configured child is installed on this side;
// childFailed says that the last child negotiation after the IKE SA came up failed.
func saState(sas []saInfo, children []tunnel.Child, childFailed bool) string {
	ike := false
	installed := map[string]bool{}
	for _, sa := range sas {
		if sa.State != "ESTABLISHED" {
			continue
		}
		ike = true
		for _, c := range sa.Children {
			if slices.Contains([]string{"INSTALLED", "REKEYING", "REKEYED"}, c.State) {
				installed[c.Name] = true
			}
		}
	}
	all := len(children) > 0
	for _, c := range children {
		all = all && installed[c.Name]
	}
	switch {
	case !ike:
		return IKENotEstablished
	case all:
		return IPsecEstablished
	case childFailed:
		return IPsecNotEstablished
	}
	return IKEEstablished
}
