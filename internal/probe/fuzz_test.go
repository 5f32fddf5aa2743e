package probe

import (
	"net/netip"
	"testing"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

// FuzzMatch: the reply matcher takes packets from the network. It must never panic, must
// accept our genuine echo reply, and must refuse it when any part we check differs.
func FuzzMatch(f *testing.F) {
	r := &runner{check: Check{Destination: netip.MustParseAddr("10.0.0.2")}, icmpID: 0x1234, nonce: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}}
	reply := func(id, seq int, data []byte) []byte {
		b, _ := (&icmp.Message{Type: ipv4.ICMPTypeEchoReply, Body: &icmp.Echo{ID: id, Seq: seq, Data: data}}).Marshal(nil)
		return b
	}
	f.Add(reply(0x1234, 7, r.nonce[:]), uint16(7))
	f.Add([]byte{3, 1, 0, 0, 0, 0, 0, 0, 0x45, 0, 0, 28, 0, 0, 0, 0, 64, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 8, 0, 0, 0, 0x12, 0x34, 0, 7}, uint16(7))
	f.Add([]byte{}, uint16(0))
	f.Fuzz(func(t *testing.T, b []byte, seq uint16) {
		r.match(b, r.check.Destination, seq) // must not panic
		if ok, _, m := r.match(reply(0x1234, int(seq), r.nonce[:]), r.check.Destination, seq); !ok || !m {
			t.Fatal("our own echo reply was not matched")
		}
		if ok, _, _ := r.match(reply(0x1234, int(seq)+1, r.nonce[:]), r.check.Destination, seq); ok {
			t.Fatal("a reply to another sequence number was accepted")
		}
		if ok, _, _ := r.match(reply(0x1234, int(seq), []byte("forged!!")), r.check.Destination, seq); ok {
			t.Fatal("a reply with another payload was accepted")
		}
		if ok, _, _ := r.match(reply(0x1234, int(seq), r.nonce[:]), netip.MustParseAddr("10.0.0.9"), seq); ok {
			t.Fatal("a reply from another address was accepted")
		}
	})
}
