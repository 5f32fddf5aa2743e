package probe

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

// Pure tests: no root, no namespaces.

// TestMachine feeds outcome sequences ('s' success, 'f' loss) and expects the verdicts
// ('H' healthy reported, 'U' unhealthy reported, '.' nothing).
func TestMachine(t *testing.T) {
	for _, tc := range []struct {
		name  string
		retry int
		in    string
		want  string
	}{
		{"first success is reported", 3, "sss", "H.."},
		{"healthy until retry losses from the start", 3, "fffff", "..U.."},
		{"first success after losses", 3, "ffs", "..H"},
		{"retry losses then one success", 3, "sfffffs", "H..U..H"},
		{"losses below retry are absorbed", 3, "sffsffsff", "H........"},
		{"a success resets the count", 3, "sffsfff", "H.....U"},
		{"retry 1", 1, "fsfsf", "UHUHU"},
		{"retry 2 flapping", 2, "sfsfffss", "H...U.H."},
		{"retry below 1 is 1", 0, "sf", "HU"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMachine(tc.retry)
			if !m.healthy || m.reported {
				t.Fatalf("initial state %+v: want healthy, nothing reported", m)
			}
			var got strings.Builder
			for _, c := range tc.in {
				switch {
				case !m.observe(c == 's'):
					got.WriteByte('.')
				case m.healthy:
					got.WriteByte('H')
				default:
					got.WriteByte('U')
				}
			}
			if got.String() != tc.want {
				t.Errorf("retry %d, outcomes %s: verdicts %s, want %s", tc.retry, tc.in, got.String(), tc.want)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	src, dst := netip.MustParseAddr("169.254.1.1"), netip.MustParseAddr("169.254.2.2")
	c, err := Check{ID: "vco-1", Source: src, Destination: dst}.normalize()
	if err != nil || c.Interval != DefaultInterval || c.Retry != DefaultRetry {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
	c, err = Check{ID: "vco-1", Source: netip.MustParseAddr("::ffff:169.254.1.1"), Destination: dst, Interval: time.Second, Retry: 5}.normalize()
	if err != nil || c.Source != src || c.Interval != time.Second || c.Retry != 5 {
		t.Fatalf("mapped source, explicit timing: %+v, %v", c, err)
	}
	for _, bad := range []Check{
		{Source: src, Destination: dst},
		{ID: "x", Destination: dst},
		{ID: "x", Source: src, Destination: netip.MustParseAddr("fd00::1")},
		{ID: "x", Source: src, Destination: dst, Interval: time.Millisecond},
		{ID: "x", Source: src, Destination: dst, Retry: -1},
		{ID: "x", Source: src, Destination: dst, Link: "a-name-longer-than-15"},
	} {
		if _, err := bad.normalize(); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

// TestSetInvalid: invalid and duplicate checks are reported and not run; the valid ones
// are. (The valid check here probes nothing reachable; only the bookkeeping is tested.)
func TestSetInvalid(t *testing.T) {
	p := New(Options{})
	defer p.Close()
	ok := Check{ID: "vco-ok", Netns: "pb-no-such-namespace", Source: netip.MustParseAddr("169.254.1.1"),
		Destination: netip.MustParseAddr("169.254.2.2"), Interval: time.Hour}
	err := p.Set([]Check{ok, {ID: "vco-bad"}, ok})
	if err == nil || !strings.Contains(err.Error(), "vco-bad") || !strings.Contains(err.Error(), "duplicate") {
		t.Fatalf("Set error %v: want the invalid and the duplicate check named", err)
	}
	st := p.Status()
	if len(st) != 1 || st[0].Check.ID != "vco-ok" || st[0].Check.Retry != DefaultRetry {
		t.Fatalf("status %+v: want only vco-ok, normalized", st)
	}
	p.Close()
	p.Close()
	if err := p.Set(nil); err == nil {
		t.Error("Set after Close: no error")
	}
}
