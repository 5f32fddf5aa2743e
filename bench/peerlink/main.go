// Command peerlink measures throughput through an inter-region connection's link (issue
// 17): two transit routers of the netns driver joined by a peer link (veth between their
// namespaces, tc tbf at each end), a VPC host on each, and a second VPC host on the first
// router for the intra-region path. iperf3 TCP runs from host A (router 1) to host B
// (router 2, across the link) with the link limited (-rate, default 50 Mbit/s) and
// unlimited, and to host C (router 1, intra-region), in rounds that alternate the order.
//
//	go run ./bench/peerlink [-rate 50] [-t 5s] [-rounds 3]
//
// It needs root and iperf3. Everything it makes carries the run's ID and is removed on
// every exit path; iperf3 servers are stopped by PID.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"opencen/bench/internal/benchkit"
	"opencen/internal/dataplane"
	"opencen/internal/dataplane/nsutil"
	"opencen/internal/lab"
)

type options struct {
	rateMbps int
	dur      time.Duration
	rounds   int
}

func main() {
	var o options
	flag.IntVar(&o.rateMbps, "rate", 50, "the connection's bandwidth in Mbit/s for the limited runs")
	flag.DurationVar(&o.dur, "t", 5*time.Second, "iperf3 duration per run")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds (each runs every path once, the order rotating)")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "peerlink: needs root (network namespaces)")
		os.Exit(2)
	}
	if _, err := exec.LookPath("iperf3"); err != nil {
		fmt.Fprintln(os.Stderr, "peerlink: needs iperf3 (apt-get install -y iperf3)")
		os.Exit(2)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := benchkit.OnSignal(cancel, "namespaces and iperf3 servers")
	defer stop()
	var cl benchkit.Cleanups
	err := run(ctx, o, &cl)
	cl.Run()
	if err != nil {
		fmt.Fprintln(os.Stderr, "peerlink:", err)
		os.Exit(1)
	}
}

func rid() string {
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:3]
}

type host struct {
	*lab.VPCHost
	link, vpcEnd netip.Prefix
}

func run(ctx context.Context, o options, cl *benchkit.Cleanups) error {
	id := rid()
	benchkit.Logf("run %s", id)
	dir, err := os.MkdirTemp("", "peerlink-"+id)
	if err != nil {
		return err
	}
	cl.Add("run dir", func(context.Context) error { return os.RemoveAll(dir) })
	l, err := lab.New(ctx, "p"+id, dir+"/lab")
	if err != nil {
		return err
	}
	cl.Add("lab", func(ctx context.Context) error { return l.Down(ctx) })
	drv, err := dataplane.NewNetns(dataplane.NetnsOptions{Prefix: "q" + id + "-", RunDir: dir + "/dp", WANNetns: l.WANNetns, WANBridge: lab.Bridge})
	if err != nil {
		return err
	}
	cl.Add("data plane", func(ctx context.Context) error { defer drv.Close(); return drv.Cleanup(ctx) })
	hosts := map[string]*host{}
	for i, name := range []string{"a", "b", "c"} {
		h, err := l.AddVPCHost(ctx, name, netip.MustParsePrefix(fmt.Sprintf("10.%d.0.0/16", i+1)))
		if err != nil {
			return err
		}
		base := netip.MustParseAddr(fmt.Sprintf("169.254.200.%d", 4*i+1))
		hosts[name] = &host{VPCHost: h, link: netip.PrefixFrom(base, 30), vpcEnd: netip.PrefixFrom(base.Next(), 30)}
	}
	desired := func(rateKbit uint64) *dataplane.Desired {
		vpc := func(att, name string) dataplane.VPCLink {
			h := hosts[name]
			return dataplane.VPCLink{AttachmentID: att, Netns: h.Netns, RouterAddr: h.link, VPCAddr: h.vpcEnd}
		}
		route := func(dst, hop string) dataplane.Route {
			return dataplane.Route{Dst: netip.MustParsePrefix(dst), NextHops: []string{hop}}
		}
		return &dataplane.Desired{Routers: []dataplane.Router{
			{ID: "tr-hz", VPCs: []dataplane.VPCLink{vpc("att-a", "a"), vpc("att-c", "c")},
				Peers: []dataplane.PeerLink{{AttachmentID: "att-peer", PeerRouter: "tr-sh", Addr: netip.MustParsePrefix("169.254.64.1/30"), RateKbit: rateKbit}},
				Tables: []dataplane.Table{{ID: "vtb-hz", Number: 100, Routes: []dataplane.Route{
					route("10.1.0.0/16", "att-a"), route("10.3.0.0/16", "att-c"), route("10.2.0.0/16", "att-peer")}}},
				Associations: map[string]string{"att-a": "vtb-hz", "att-c": "vtb-hz", "att-peer": "vtb-hz"}},
			{ID: "tr-sh", VPCs: []dataplane.VPCLink{vpc("att-b", "b")},
				Peers: []dataplane.PeerLink{{AttachmentID: "att-peer", PeerRouter: "tr-hz", Addr: netip.MustParsePrefix("169.254.64.2/30"), RateKbit: rateKbit}},
				Tables: []dataplane.Table{{ID: "vtb-sh", Number: 100, Routes: []dataplane.Route{
					route("10.2.0.0/16", "att-b"), route("10.1.0.0/16", "att-peer")}}},
				Associations: map[string]string{"att-b": "vtb-sh", "att-peer": "vtb-sh"}},
		}}
	}
	for _, name := range []string{"b", "c"} {
		if err := startServer(ctx, cl, hosts[name].VPCHost); err != nil {
			return err
		}
	}
	type path struct {
		name string
		rate uint64
		dst  string
	}
	limit := uint64(o.rateMbps) * 1000
	paths := []path{
		{fmt.Sprintf("peer link, %d Mbit/s", o.rateMbps), limit, "b"},
		{"peer link, unlimited", 0, "b"},
		{"intra-region (same router)", 0, "c"},
	}
	results := map[string][]float64{}
	for round := range o.rounds {
		for k := range paths {
			p := paths[(k+round)%len(paths)]
			if err := drv.Apply(ctx, desired(p.rate)); err != nil {
				return fmt.Errorf("apply: %w", err)
			}
			mbps, err := client(ctx, hosts["a"].VPCHost, hosts[p.dst].VPCHost, o.dur)
			if err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
			benchkit.Logf("round %d: %s: %.1f Mbit/s", round+1, p.name, mbps)
			results[p.name] = append(results[p.name], mbps)
		}
	}
	fmt.Printf("iperf3 TCP, one stream, %s per run, %d rounds, host A (tr-hz) -> host B (tr-sh) / host C (tr-hz)\n", o.dur, o.rounds)
	for _, f := range benchkit.MachineFacts() {
		fmt.Println(f)
	}
	fmt.Printf("%-30s %10s %10s %10s\n", "path", "median", "min", "max")
	med := map[string]float64{}
	for _, p := range paths {
		rs := slices.Sorted(slices.Values(results[p.name]))
		med[p.name] = rs[len(rs)/2]
		fmt.Printf("%-30s %10.1f %10.1f %10.1f\n", p.name, rs[len(rs)/2], rs[0], rs[len(rs)-1])
	}
	limited, unlimited, intra := med[paths[0].name], med[paths[1].name], med[paths[2].name]
	fmt.Printf("limited / bandwidth: %.3f (target 0.9 to 1.1)\n", limited/float64(o.rateMbps))
	fmt.Printf("unlimited peer link / intra-region: %.3f (target >= 0.9)\n", unlimited/intra)
	return nil
}

// startServer runs iperf3 -s in the host's namespace, stopped by its PID at cleanup.
func startServer(ctx context.Context, cl *benchkit.Cleanups, h *lab.VPCHost) error {
	cmd := exec.Command("ip", "netns", "exec", h.Netns, "iperf3", "-s", "-B", h.Addr.String(), "-p", "5201")
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("iperf3 server: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	pid := cmd.Process.Pid // ip netns exec execs iperf3: this is iperf3's pid
	cl.Add("iperf3 server in "+h.Netns, func(context.Context) error {
		select {
		case <-done:
			return nil
		default:
		}
		err := nsutil.Kill(pid, 2*time.Second)
		<-done
		return err
	})
	for range 100 {
		if out, _ := exec.CommandContext(ctx, "ip", "netns", "exec", h.Netns, "ss", "-Hltn", "sport = :5201").Output(); len(strings.TrimSpace(string(out))) > 0 {
			return nil
		}
		select {
		case <-done:
			return errors.New("iperf3 server exited")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("iperf3 server in %s does not listen", h.Netns)
}

// client runs iperf3 -c from src to dst for d and returns the receiver's rate in Mbit/s.
func client(ctx context.Context, src, dst *lab.VPCHost, d time.Duration) (float64, error) {
	for try := 1; ; try++ {
		ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
		out, err := exec.CommandContext(ctx, "ip", "netns", "exec", src.Netns, "iperf3", "-c", dst.Addr.String(), "-B", src.Addr.String(),
			"-p", "5201", "-t", strconv.FormatFloat(d.Seconds(), 'f', -1, 64), "-J", "--connect-timeout", "5000").Output()
		cancel()
		var r struct {
			Error string `json:"error"`
			End   struct {
				SumReceived struct {
					BitsPerSecond float64 `json:"bits_per_second"`
				} `json:"sum_received"`
			} `json:"end"`
		}
		if jerr := json.Unmarshal(out, &r); jerr != nil {
			return 0, fmt.Errorf("iperf3: %v: %s", err, out)
		}
		if strings.Contains(r.Error, "server is busy") && try < 5 {
			if err := benchkit.SleepCtx(ctx, time.Second); err != nil {
				return 0, err
			}
			continue
		}
		if r.Error != "" {
			return 0, errors.New(r.Error)
		}
		return r.End.SumReceived.BitsPerSecond / 1e6, err
	}
}
