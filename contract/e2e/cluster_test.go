package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	cbnsdk "github.com/alibabacloud-go/cbn-20170912/v2/client"
	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	"github.com/alibabacloud-go/tea/dara"

	"opencen/internal/dataplane"
	"opencen/internal/dataplane/nsutil"
	"opencen/internal/lab"
	"opencen/internal/rpc"
	"opencen/internal/store/etcdtest"
	"opencen/internal/testenv"
	"opencen/internal/testserver"
)

// cluster is the lab grown to several machines on one: a real etcd, two API servers and
// gateway nodes, each a process of its own; every node has its own namespace prefix and
// run directory, all plugged into the lab's one WAN.
type cluster struct {
	*world
	etcd    *etcdtest.Server
	servers []*testserver.Server
	admin   *rpc.Client
	bin     string
	// args are what every server and node shares: etcd, prefix and secret key.
	args   []string
	labPfx string
	nodes  map[string]*gatewayNode
}

// gatewayNode is one `opencen gateway` process.
type gatewayNode struct {
	name, zone     string
	extra          []string // flags beyond the cluster's
	prefix, runDir string
	logPath        string
	cmd            *exec.Cmd
	done           chan struct{}
}

func newCluster(t *testing.T) *cluster {
	testenv.RequireDataplane(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	dir := t.TempDir()
	c := &cluster{bin: testserver.Build(t), labPfx: "l" + randomSuffix(), nodes: map[string]*gatewayNode{}}
	c.etcd = etcdtest.Embedded(t)
	keyFile := filepath.Join(dir, "secret.key")
	c.args = []string{"--etcd-endpoints", c.etcd.Endpoint, "--etcd-prefix", "/failover/", "--secret-key-file", keyFile}
	serverArgs := append([]string{"--store", "etcd"}, c.args...)
	one := testserver.Start(t, testserver.Options{Args: serverArgs})
	two := testserver.Start(t, testserver.Options{Args: serverArgs, AdminKeyID: one.AdminKeyID, AdminSecret: one.AdminSecret})
	c.servers = []*testserver.Server{one, two}

	l, err := lab.New(ctx, c.labPfx, dir+"/lab")
	if err != nil {
		t.Fatal(err)
	}
	c.world = &world{t: t, ctx: ctx, lab: l, dir: dir}
	c.world.charonOf = c.charonOf
	t.Cleanup(func() {
		// Nodes first (each removes its data plane), then what a killed node left, then the lab.
		bg := context.Background()
		for _, n := range c.nodes {
			c.stopNode(n, syscall.SIGTERM)
			if out, err := exec.CommandContext(bg, c.bin, "gateway", "cleanup", "--dataplane-prefix", n.prefix, "--dataplane-run-dir", n.runDir).CombinedOutput(); err != nil {
				t.Errorf("gateway cleanup %s: %v\n%s", n.name, err, out)
			}
		}
		if err := l.Down(bg); err != nil {
			t.Errorf("lab down: %v", err)
		}
	})
	t.Cleanup(func() { // runs first: the logs are still there
		if t.Failed() {
			for _, n := range c.nodes {
				b, _ := os.ReadFile(n.logPath)
				logTail(t, "gateway node "+n.name, strings.Split(strings.TrimSpace(string(b)), "\n"), 80)
			}
			charons, _ := filepath.Glob(filepath.Join(dir, "*", "*", "charon.log"))
			for _, f := range charons {
				b, _ := os.ReadFile(f)
				logTail(t, strings.TrimPrefix(f, dir+"/"), strings.Split(strings.TrimSpace(string(b)), "\n"), 40)
			}
		}
	})

	c.admin = &rpc.Client{Endpoint: one.URL, AccessKeyID: one.AdminKeyID, AccessKeySecret: one.AdminSecret}
	c.world.admin = c.admin
	var acct struct{ AccessKeyId, AccessKeySecret string }
	if err := c.admin.Call(ctx, "2026-11-01", "CreateAccount", map[string]string{"Name": "cluster"}, &acct); err != nil {
		t.Fatal(err)
	}
	c.c = &rpc.Client{Endpoint: one.URL, AccessKeyID: acct.AccessKeyId, AccessKeySecret: acct.AccessKeySecret}
	// The stock SDK talks to server two: what server one's clients and the nodes did must
	// show there too.
	c.sdk, err = cbnsdk.NewClient(&openapiutil.Config{AccessKeyId: dara.String(acct.AccessKeyId), AccessKeySecret: dara.String(acct.AccessKeySecret),
		RegionId: dara.String("cn-hangzhou"), Endpoint: dara.String(two.Endpoint), Protocol: dara.String("HTTP")})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// startNode runs `opencen gateway` as its own process, with extra flags.
func (c *cluster) startNode(name, zone string, extra ...string) *gatewayNode {
	c.t.Helper()
	n := &gatewayNode{name: name, zone: zone, extra: extra, prefix: "g" + randomSuffix(), runDir: filepath.Join(c.dir, "node-"+name), logPath: filepath.Join(c.dir, "node-"+name+".log")}
	logF, err := os.Create(n.logPath)
	if err != nil {
		c.t.Fatal(err)
	}
	defer logF.Close()
	args := append([]string{"gateway", "--node", name, "--zone", zone, "--address", "node-" + name + ".lab",
		"--wan-netns", c.lab.WANNetns, "--wan-bridge", lab.Bridge, "--wan-bits", "15",
		"--dataplane-prefix", n.prefix, "--dataplane-run-dir", n.runDir, "--log-level", "debug"}, c.args...)
	args = append(args, extra...)
	n.cmd = exec.Command(c.bin, args...)
	n.cmd.Stdout, n.cmd.Stderr = logF, logF
	if err := n.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	n.done = make(chan struct{})
	go func() { _ = n.cmd.Wait(); close(n.done) }()
	c.nodes[name] = n
	c.waitFor("gateway node "+name+" registered", 30*time.Second, func() bool {
		select {
		case <-n.done:
			b, _ := os.ReadFile(n.logPath)
			c.t.Fatalf("gateway node %s exited: %v\n%s", name, n.cmd.ProcessState, b)
		default:
		}
		node, ok := c.node(name)
		return ok && node.Alive
	})
	return n
}

// stopNode signals the node's process (it alone, by PID) and waits for it, killing it
// after 30 s.
func (c *cluster) stopNode(n *gatewayNode, sig syscall.Signal) {
	select {
	case <-n.done:
		return
	default:
	}
	_ = n.cmd.Process.Signal(sig)
	select {
	case <-n.done:
	case <-time.After(30 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.done
	}
}

// nodeView is one node of DescribeGatewayNodes.
type nodeView struct {
	Node, Zone, Address, LeaseExpires, Underlay string
	Alive                                       bool
	TransitRouters, Connections                 []string
}

func (c *cluster) nodesNow() []nodeView {
	c.t.Helper()
	nodes, err := c.describeNodes(c.ctx)
	if err != nil {
		c.t.Fatal(err)
	}
	return nodes
}

func (c *cluster) describeNodes(ctx context.Context) ([]nodeView, error) {
	var out struct{ Nodes []nodeView }
	err := c.admin.Call(ctx, "2026-11-01", "DescribeGatewayNodes", nil, &out)
	return out.Nodes, err
}

// watchMove returns a channel that receives when tr is first placed on another node than
// from (polling every 100 ms), or is closed when ctx ends first.
func (c *cluster) watchMove(ctx context.Context, tr, from string) <-chan time.Time {
	moved := make(chan time.Time, 1)
	go func() {
		defer close(moved)
		for ctx.Err() == nil {
			nodes, err := c.describeNodes(ctx)
			for _, n := range nodes {
				if err == nil && n.Node != from && slices.Contains(n.TransitRouters, tr) {
					moved <- time.Now()
					return
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return moved
}

func (c *cluster) node(name string) (nodeView, bool) {
	for _, n := range c.nodesNow() {
		if n.Node == name {
			return n, true
		}
	}
	return nodeView{}, false
}

// charonOf is the charon of a connection's or a tunnel's cell on the node that runs it
// (admin gateway list: "vco-..." or "vco-.../tun-..."); a charon nobody runs when none does.
func (c *cluster) charonOf(id string) nsutil.Charon {
	for _, n := range c.nodesNow() {
		for _, conn := range n.Connections {
			if conn != id && !strings.HasSuffix(conn, "/"+id) {
				continue
			}
			gn := c.nodes[n.Node]
			drv, err := dataplane.NewNetns(dataplane.NetnsOptions{Prefix: gn.prefix, RunDir: gn.runDir, WANBridge: "unused"})
			if err != nil {
				c.t.Fatal(err)
			}
			return drv.CharonOf(id)
		}
	}
	return nsutil.Charon{Netns: "none", Dir: c.dir + "/no-such-cell"}
}

// runs names the node that runs tr ("" for none).
func (c *cluster) runs(tr string) string {
	for _, n := range c.nodesNow() {
		if slices.Contains(n.TransitRouters, tr) {
			return n.Node
		}
	}
	return ""
}

// pinger pings dst from a namespace continuously (every 100 ms) and records the times
// replies came back.
type pinger struct {
	cmd     *exec.Cmd
	replies chan time.Time
}

func startPinger(t testing.TB, ns, src, dst string) *pinger {
	cmd := exec.Command("ip", "netns", "exec", ns, "ping", "-n", "-D", "-i", "0.1", "-W", "1", "-I", src, dst)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &pinger{cmd: cmd, replies: make(chan time.Time, 100000)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			// [1765123456.123456] 64 bytes from 10.0.0.1: icmp_seq=1 ttl=63 time=0.5 ms
			line := sc.Text()
			if !strings.Contains(line, "bytes from") || !strings.HasPrefix(line, "[") {
				continue
			}
			stamp, _, _ := strings.Cut(strings.TrimPrefix(line, "["), "]")
			sec, err := strconv.ParseFloat(stamp, 64)
			if err != nil {
				continue
			}
			p.replies <- time.Unix(0, int64(sec*1e9))
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return p
}

// firstAfter waits for the first reply later than t0.
func (p *pinger) firstAfter(t0 time.Time, within time.Duration) (time.Time, error) {
	deadline := time.After(within)
	for {
		select {
		case at := <-p.replies:
			if at.After(t0) {
				return at, nil
			}
		case <-deadline:
			return time.Time{}, fmt.Errorf("no reply within %s", within)
		}
	}
}

// outage is what a failover cost, from the node's death: until its transit router was
// placed on another node (the lease's expiry plus the placement controller's look), and
// until the first reply through the new node (that, plus the rebuild and the
// negotiation).
type outage struct {
	node, moved, back time.Duration
	from, to          string
}

// failover is one gateway failover: a data center pings a VPC host through a connection
// on one node; that node is lost (kill -9 of the node and its charons, its namespaces gone,
// as a machine loss would leave it); traffic must come back through the other node with
// no API call.
func (c *cluster) failover(r router, conn connection) outage {
	t := c.t
	t.Helper()
	from := c.runs(r.tr)
	if from == "" {
		t.Fatalf("no node runs %s: %+v", r.tr, c.nodesNow())
	}
	lost := c.nodes[from]
	p := startPinger(t, conn.dc.Netns, conn.dc.Host.String(), r.vpcHost.Addr.String())
	if _, err := p.firstAfter(time.Now(), 10*time.Second); err != nil {
		t.Fatalf("before the failover: DC -> VPC: %v", err)
	}

	ctx, stop := context.WithCancel(c.ctx)
	defer stop()
	died := time.Now()
	moved := c.watchMove(ctx, r.tr, from)
	c.stopNode(lost, syscall.SIGKILL)
	if out, err := exec.CommandContext(c.ctx, c.bin, "gateway", "cleanup", "--dataplane-prefix", lost.prefix, "--dataplane-run-dir", lost.runDir).CombinedOutput(); err != nil {
		t.Fatalf("remove the lost node's data plane: %v\n%s", err, out)
	}
	if left, _ := nsutil.ListNetns(lost.prefix); len(left) > 0 {
		t.Fatalf("the lost node's namespaces are still there: %v", left)
	}
	// Drain the replies that came before the death.
	back, err := p.firstAfter(died, 90*time.Second)
	if err != nil {
		t.Fatalf("after losing node %s: DC -> VPC: %v; nodes: %+v", from, err, c.nodesNow())
	}
	movedAt, ok := <-moved
	if !ok {
		t.Fatal("traffic is back, but the placement never moved")
	}
	to := c.runs(r.tr)
	if to == "" || to == from {
		t.Fatalf("traffic is back but %s runs on %q (was on %s)", r.tr, to, from)
	}
	if n, ok := c.node(from); !ok || n.Alive || len(n.TransitRouters) > 0 {
		t.Errorf("the lost node: %+v, want it listed dead and running nothing", n)
	}
	if err := r.vpcHost.Ping(c.ctx, conn.dc.Host, 3); err != nil {
		t.Errorf("VPC -> DC after the failover: %v", err)
	}
	want := fmt.Sprintf("moved from gateway node %s to %s", from, to)
	if logs := c.logs(conn.vco); !strings.Contains(logs, want) {
		t.Errorf("DescribeVpnConnectionLogs lacks %q:\n%s", want, logs)
	}
	return outage{from: from, to: to, moved: movedAt.Sub(died), back: back.Sub(died)}
}

// TestGatewayFailover: two gateway nodes in two zones of a region; the node running a
// connection is lost; traffic resumes through the other with no API call, and the move
// is visible in `admin gateway list` and the connection's logs. The lost node then comes
// back, the other is lost, and traffic moves back: a returning node takes work again.
// OPENCEN_FAILOVER_ROUNDS (default 2) sets how many losses (bench/failover runs more).
func TestGatewayFailover(t *testing.T) {
	rounds := 2
	if v := os.Getenv("OPENCEN_FAILOVER_ROUNDS"); v != "" {
		var err error
		if rounds, err = strconv.Atoi(v); err != nil || rounds < 1 {
			t.Fatalf("OPENCEN_FAILOVER_ROUNDS=%q: want a positive number", v)
		}
	}
	c := newCluster(t)
	zones := map[string]string{"gwa": "cn-hangzhou-h", "gwb": "cn-hangzhou-i"}
	for _, name := range []string{"gwa", "gwb"} {
		c.startNode(name, zones[name])
	}
	r := c.router("10.60.0.0/16")
	conn := c.connect(r, "dc1", "198.18.0.60", "192.168.60.0/24", nil)
	c.waitEstablished(conn.vco)
	c.waitFor("a node to run "+r.tr, 20*time.Second, func() bool { return c.runs(r.tr) != "" })
	n, _ := c.node(c.runs(r.tr))
	if !slices.Contains(n.Connections, conn.vco) {
		t.Fatalf("node %s runs %s but lists connections %v, want %s", n.Node, r.tr, n.Connections, conn.vco)
	}
	c.pingBothWays(conn.dc, r.vpcHost)
	for round := range rounds {
		o := c.failover(r, conn)
		// Parsed by bench/failover.
		t.Logf("failover %d: %s -> %s: placement moved after %s, traffic back after %s", round+1, o.from, o.to,
			o.moved.Round(10*time.Millisecond), o.back.Round(10*time.Millisecond))
		if round+1 < rounds {
			c.startNode(o.from, zones[o.from]) // the lost machine comes back
		}
	}
}
