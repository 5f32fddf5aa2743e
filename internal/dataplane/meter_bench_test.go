package dataplane

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"opencen/internal/dataplane/nsutil"
	"opencen/internal/testenv"
)

// BenchmarkMeterOverhead measures what the meter costs forwarding: TCP (iperf3, 3 s)
// from a client namespace through a router namespace to a server namespace, over veths,
// alternately with the router's meter table (two attachment links counted, as in a
// transit router) and without it, in rounds. It reports both rates and the overhead in
// percent. veth forwarding is far faster than a tunnel (kernel-libipsec tops out well
// below it), so the per-packet cost of the meter shows here if anywhere.
func BenchmarkMeterOverhead(b *testing.B) {
	testenv.RequireDataplane(b)
	if _, err := exec.LookPath("iperf3"); err != nil {
		b.Fatal("iperf3 is missing (apt-get install iperf3)")
	}
	ctx := context.Background()
	sfx := make([]byte, 3)
	_, _ = rand.Read(sfx)
	p := "obm" + hex.EncodeToString(sfx)
	cl, rt, sv := p+"c", p+"r", p+"s"
	b.Cleanup(func() {
		for _, ns := range []string{cl, rt, sv} {
			_ = nsutil.DelNetns(context.Background(), ns)
		}
	})
	must := func(_ []byte, err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	for _, ns := range []string{cl, sv} {
		if err := nsutil.AddNetns(ctx, ns); err != nil {
			b.Fatal(err)
		}
	}
	if err := nsutil.AddNetns(ctx, rt, nsutil.Sysctl{Key: "ipv4/ip_forward", Value: "1"}); err != nil {
		b.Fatal(err)
	}
	// client c0 10.99.1.2 <-> r0 10.99.1.1 (router) r1 10.99.2.1 <-> s0 10.99.2.2 server
	must(nsutil.IPn(ctx, cl, "link", "add", "c0", "type", "veth", "peer", "name", "r0", "netns", rt))
	must(nsutil.IPn(ctx, sv, "link", "add", "s0", "type", "veth", "peer", "name", "r1", "netns", rt))
	for _, c := range [][]string{
		{cl, "addr", "add", "10.99.1.2/24", "dev", "c0"}, {cl, "link", "set", "c0", "up"}, {cl, "route", "add", "default", "via", "10.99.1.1"},
		{sv, "addr", "add", "10.99.2.2/24", "dev", "s0"}, {sv, "link", "set", "s0", "up"}, {sv, "route", "add", "default", "via", "10.99.2.1"},
		{rt, "addr", "add", "10.99.1.1/24", "dev", "r0"}, {rt, "link", "set", "r0", "up"},
		{rt, "addr", "add", "10.99.2.1/24", "dev", "r1"}, {rt, "link", "set", "r1", "up"},
	} {
		must(nsutil.IPn(ctx, c[0], c[1:]...))
	}
	srv := exec.Command("ip", "netns", "exec", sv, "iperf3", "-s", "-B", "10.99.2.2")
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	time.Sleep(300 * time.Millisecond)

	rate := func() float64 { return iperfRate(b, ctx, cl, "-c", "10.99.2.2", "-t", "3") }
	meterOn := func(on bool) {
		b.Helper()
		if on {
			if err := hostSetMeter(ctx, rt, map[string]string{"r0": "tr-attach-c", "r1": "tr-attach-s"}); err != nil {
				b.Fatal(err)
			}
			return
		}
		if err := nsutil.NFT(ctx, rt, fmt.Sprintf("add table ip %[1]s\ndelete table ip %[1]s\n", meterTable)); err != nil {
			b.Fatal(err)
		}
	}
	var on, off float64
	var rounds int
	for b.Loop() {
		// Alternate the order so that drift in the machine's load favours neither.
		order := []bool{true, false}
		if rounds%2 == 1 {
			order = []bool{false, true}
		}
		for _, m := range order {
			meterOn(m)
			if m {
				on += rate()
			} else {
				off += rate()
			}
		}
		rounds++
	}
	m, _, err := hostMeter(ctx, rt)
	if err == nil && m.Atts["tr-attach-c"].In.Bytes == 0 {
		b.Fatalf("the meter counted nothing: %+v", m)
	}
	b.ReportMetric(on/float64(rounds)/1e9, "on-Gbit/s")
	b.ReportMetric(off/float64(rounds)/1e9, "off-Gbit/s")
	b.ReportMetric((off-on)/off*100, "overhead-%")
	b.Logf("%d rounds: meter on %s Gbit/s, off %s Gbit/s", rounds, strconv.FormatFloat(on/float64(rounds)/1e9, 'f', 2, 64), strconv.FormatFloat(off/float64(rounds)/1e9, 'f', 2, 64))
}
