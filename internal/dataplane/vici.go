package dataplane

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/strongswan/govici/vici"
)

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

func withSession(ctx context.Context, socket string, fn func(*vici.Session) error) error {
	s, err := viciDial(ctx, socket)
	if err != nil {
		return fmt.Errorf("vici %s: %w", socket, err)
	}
	defer s.Close()
	return fn(s)
}

func msg(kv ...any) *vici.Message {
	m := vici.NewMessage()
	for i := 0; i+1 < len(kv); i += 2 {
		if err := m.Set(kv[i].(string), kv[i+1]); err != nil {
			panic(err) // only called with strings, []string and *vici.Message
		}
	}
	return m
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

func (c Cell) localID() string {
	if c.IPsec.LocalID != "" {
		return swanctlID(c.IPsec.LocalID)
	}
	return c.WANAddr.Addr().String()
}

func (c Cell) remoteID() string {
	if c.IPsec.RemoteID != "" {
		return swanctlID(c.IPsec.RemoteID)
	}
	return c.PeerAddr.String()
}

// connMessage is the cloud side's load-conn message: PSK, route-based or flow protection,
// start_action none (the driver initiates, or waits for traffic: kernel-libipsec has no
// trap), unique = replace, keyingtries 0 (keep trying once started).
func (c Cell) connMessage(dpdDelay time.Duration) *vici.Message {
	s := c.IPsec
	dpd := "0s"
	if s.DPD {
		dpd = lifetime(dpdDelay)
	}
	children := vici.NewMessage()
	for _, ch := range c.children() {
		_ = children.Set(ch.Name, msg(
			"mode", "tunnel",
			"local_ts", prefixStrings(ch.Local),
			"remote_ts", prefixStrings(ch.Remote),
			"esp_proposals", []string{s.ESPProposal},
			"rekey_time", lifetime(s.ESPLifetime),
			"start_action", "none",
			"dpd_action", "restart",
			"close_action", "none",
		))
	}
	conn := msg(
		"version", strconv.Itoa(s.IKEVersion),
		"local_addrs", []string{c.WANAddr.Addr().String()},
		"remote_addrs", []string{c.PeerAddr.String()},
		"proposals", []string{s.IKEProposal},
		"encap", "yes",
		"mobike", "no",
		"dpd_delay", dpd,
		"rekey_time", lifetime(s.IKELifetime),
		"keyingtries", "0",
		"unique", "replace",
		"local", msg("auth", "psk", "id", c.localID()),
		"remote", msg("auth", "psk", "id", c.remoteID()),
		"children", children,
	)
	if s.Aggressive {
		_ = conn.Set("aggressive", "yes")
	}
	return msg(c.ID, conn)
}

// loadConn loads the PSK and the connection (replacing an older version of both).
func loadConn(ctx context.Context, s *vici.Session, c Cell, dpdDelay time.Duration) error {
	shared := msg("id", "psk-"+c.ID, "type", "IKE", "data", c.IPsec.PSK, "owners", []string{c.remoteID()})
	if _, err := s.Call(ctx, "load-shared", shared); err != nil {
		return fmt.Errorf("load-shared: %w", err)
	}
	if _, err := s.Call(ctx, "load-conn", c.connMessage(dpdDelay)); err != nil {
		return fmt.Errorf("load-conn: %w", err)
	}
	return nil
}

// collect runs a command that streams events and returns the events.
func collect(ctx context.Context, s *vici.Session, cmd, event string, in *vici.Message) ([]*vici.Message, error) {
	ch := make(chan vici.Event, 4096)
	s.NotifyEvents(ch)
	defer s.StopEvents(ch)
	if err := s.Subscribe(event); err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", event, err)
	}
	if _, err := s.Call(ctx, cmd, in); err != nil {
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

// listConns returns the loaded connections by name.
func listConns(ctx context.Context, s *vici.Session) (map[string]*vici.Message, error) {
	out := map[string]*vici.Message{}
	ms, err := collect(ctx, s, "list-conns", "list-conn", nil)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		for _, k := range m.Keys() {
			if sub, ok := m.Get(k).(*vici.Message); ok {
				out[k] = sub
			}
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

// listSAs lists the IKE SAs of connection name. Not with noblock: an IKE SA that is
// busy (e.g. negotiating a child SA) would be left out, and "no SA" would trigger a
// second initiation.
func listSAs(ctx context.Context, s *vici.Session, name string) ([]saInfo, error) {
	var out []saInfo
	ms, err := collect(ctx, s, "list-sas", "list-sa", msg("ike", name))
	if err != nil {
		return nil, err
	}
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
			alg := []string{}
			for _, a := range []string{"encr-alg", "integ-alg", "prf-alg", "dh-group"} {
				if v := str(sa, a); v != "" {
					if a == "encr-alg" && str(sa, "encr-keysize") != "" {
						v += "-" + str(sa, "encr-keysize")
					}
					alg = append(alg, v)
				}
			}
			info.Desc = fmt.Sprintf("%s IKEv%s %s", info.State, str(sa, "version"), strings.Join(alg, "/"))
			if ch, ok := sa.Get("child-sas").(*vici.Message); ok {
				for _, ck := range ch.Keys() {
					c, ok := ch.Get(ck).(*vici.Message)
					if !ok {
						continue
					}
					calg := []string{}
					for _, a := range []string{"encr-alg", "integ-alg", "dh-group"} {
						if v := str(c, a); v != "" {
							if a == "encr-alg" && str(c, "encr-keysize") != "" {
								v += "-" + str(c, "encr-keysize")
							}
							calg = append(calg, v)
						}
					}
					info.Children = append(info.Children, childInfo{
						Name:  str(c, "name"),
						State: str(c, "state"),
						Desc: fmt.Sprintf("%s %s %s %s === %s", str(c, "state"), str(c, "protocol"), strings.Join(calg, "/"),
							strings.Join(strs(c, "local-ts"), ","), strings.Join(strs(c, "remote-ts"), ",")),
					})
				}
			}
			out = append(out, info)
		}
	}
	return out, nil
}

// initiate starts child (and its IKE SA if needed) and waits up to timeout for it.
// Without a control-log subscription charon sends just the final result.
func initiate(ctx context.Context, s *vici.Session, child string, timeout time.Duration) error {
	in := msg("child", child, "timeout", strconv.FormatInt(timeout.Milliseconds(), 10), "loglevel", "0")
	_, err := s.Call(ctx, "initiate", in)
	return err
}

// terminate deletes the IKE SAs of connection name (with their children), without
// waiting for the peer's answer.
func terminate(ctx context.Context, s *vici.Session, name string) error {
	_, err := s.Call(ctx, "terminate", msg("ike", name, "force", "yes", "timeout", "-1"))
	if err != nil && strings.Contains(err.Error(), "no matching SAs") {
		return nil
	}
	return err
}

// unloadConn removes a connection (missing ones are fine).
func unloadConn(ctx context.Context, s *vici.Session, name string) error {
	_, err := s.Call(ctx, "unload-conn", msg("name", name))
	if err != nil && strings.Contains(err.Error(), "not found") {
		return nil
	}
	return err
}

// saState computes the API's negotiation status from the SAs; childFailed says that the
// last child negotiation after the IKE SA came up failed.
func saState(sas []saInfo, childFailed bool) string {
	ike := false
	for _, sa := range sas {
		if sa.State != "ESTABLISHED" {
			continue
		}
		ike = true
		for _, c := range sa.Children {
			if slices.Contains([]string{"INSTALLED", "REKEYING", "REKEYED"}, c.State) {
				return IPsecEstablished
			}
		}
	}
	switch {
	case !ike:
		return IKENotEstablished
	case childFailed:
		return IPsecNotEstablished
	}
	return IKEEstablished
}
