// Package benchkit holds what the OpenCEN benchmarks share: the bare signature-checking
// handler they compare the server with, and the dataset they seed.
package benchkit

import (
	"context"
	"crypto/hmac"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"opencen/internal/rpc"
)

// CbnVersion is the Cbn API version.
const CbnVersion = "2017-09-12"

// Bare is the floor the server is measured against: a net/http handler that does what every
// signed request costs — read the body, rpc.Decode, the timestamp check, StringToSignV1 +
// SignV1 with the key's secret (from a map), the NonceCache — and answers a tiny JSON.
type Bare struct {
	Keys   map[string]string // AccessKeyId -> secret
	Nonces *rpc.NonceCache
}

// NewBare makes a Bare handler for the given keys.
func NewBare(keys map[string]string) *Bare {
	return &Bare{Keys: keys, Nonces: rpc.NewNonceCache(rpc.SkewWindow, 0)}
}

// BareBody is the whole answer of a verified request.
const BareBody = `{"RequestId":"00000000-0000-0000-0000-000000000000","Ok":true}` + "\n"

func (h *Bare) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, code string) {
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"Code":%q,"Message":"bare handler","RequestId":"bare"}`+"\n", code)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		fail(http.StatusBadRequest, "InvalidParameter")
		return
	}
	p, err := rpc.Decode(r, body)
	if err != nil {
		fail(http.StatusBadRequest, "InvalidParameter")
		return
	}
	ts, err := rpc.ParseTimestamp(p["Timestamp"])
	if err != nil || rpc.CheckSkew(ts, time.Now(), rpc.SkewWindow) != nil {
		fail(http.StatusForbidden, "InvalidTimeStamp.Expired")
		return
	}
	secret, ok := h.Keys[p["AccessKeyId"]]
	if !ok || p["SignatureMethod"] != "HMAC-SHA1" || p["SignatureNonce"] == "" {
		fail(http.StatusForbidden, "InvalidAccessKeyId.NotFound")
		return
	}
	if !hmac.Equal([]byte(rpc.SignV1(secret, rpc.StringToSignV1(r.Method, p))), []byte(p["Signature"])) {
		fail(http.StatusForbidden, "SignatureDoesNotMatch")
		return
	}
	if h.Nonces.Use(p["AccessKeyId"], p["SignatureNonce"], ts, time.Now()) != nil {
		fail(http.StatusForbidden, "SignatureNonceUsed")
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	_, _ = io.WriteString(w, BareBody)
}

// Regions are where Seed puts each CEN's transit routers.
var Regions = []string{"cn-hangzhou", "cn-shanghai"}

// Seed creates n CENs with a transit router in each of Regions and waits until all are
// Active. Tokens make it safe to run twice.
func Seed(ctx context.Context, c *rpc.Client, prefix string, n int, withTRs bool) ([]string, error) {
	ids := make([]string, 0, n)
	for i := range n {
		var out struct{ CenId string }
		err := c.Call(ctx, CbnVersion, "CreateCen", map[string]string{
			"Name": fmt.Sprintf("%s-cen-%03d", prefix, i), "Description": "benchmark dataset",
			"ClientToken": fmt.Sprintf("%s-cen-%d", prefix, i),
		}, &out)
		if err != nil {
			return nil, fmt.Errorf("CreateCen: %w", err)
		}
		ids = append(ids, out.CenId)
	}
	if err := WaitCens(ctx, c, n); err != nil {
		return nil, err
	}
	if !withTRs {
		return ids, nil
	}
	for i, id := range ids {
		for _, region := range Regions {
			var out struct{ TransitRouterId string }
			err := c.Call(ctx, CbnVersion, "CreateTransitRouter", map[string]string{
				"CenId": id, "RegionId": region, "TransitRouterName": fmt.Sprintf("%s-tr-%03d-%s", prefix, i, region),
				"ClientToken": "tr-" + id + "-" + region,
			}, &out)
			if err != nil {
				return nil, fmt.Errorf("CreateTransitRouter %s %s: %w", id, region, err)
			}
		}
	}
	return ids, WaitTRs(ctx, c, len(Regions)*n)
}

// WaitCens waits until the caller has exactly want CENs, all Active.
func WaitCens(ctx context.Context, c *rpc.Client, want int) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		active, total := 0, 0
		for page := 1; ; page++ {
			var out struct {
				TotalCount int
				Cens       struct {
					Cen []struct{ CenId, Status string }
				}
			}
			if err := c.Call(ctx, CbnVersion, "DescribeCens", map[string]string{"PageSize": "50", "PageNumber": strconv.Itoa(page)}, &out); err != nil {
				return err
			}
			total = out.TotalCount
			for _, cen := range out.Cens.Cen {
				if cen.Status == "Active" {
					active++
				}
			}
			if page*50 >= out.TotalCount || len(out.Cens.Cen) == 0 {
				break
			}
		}
		if total == want && active == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("CENs: %d of %d Active (want %d) after 60s", active, total, want)
		}
		if err := SleepCtx(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
}

// WaitTRs waits until the caller has exactly want transit routers, all Active (want <= 50).
func WaitTRs(ctx context.Context, c *rpc.Client, want int) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		var out struct {
			TotalCount     int
			TransitRouters []struct{ TransitRouterId, Status string }
		}
		if err := c.Call(ctx, CbnVersion, "ListTransitRouters", map[string]string{"PageSize": "50"}, &out); err != nil {
			return err
		}
		active := 0
		for _, tr := range out.TransitRouters {
			if tr.Status == "Active" {
				active++
			}
		}
		if out.TotalCount == want && active == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("transit routers: %d of %d Active (want %d) after 60s", active, out.TotalCount, want)
		}
		if err := SleepCtx(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
}

// MachineFacts describes the machine a benchmark ran on, one "Key: value" per line.
func MachineFacts() []string {
	cpuModel := "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpuModel = strings.TrimSpace(v)
				break
			}
		}
	}
	nproc := strconv.Itoa(runtime.NumCPU())
	if out, err := exec.Command("nproc").Output(); err == nil {
		nproc = strings.TrimSpace(string(out))
	}
	kernel := ""
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	goVersion := runtime.Version()
	if out, err := exec.Command("go", "version").Output(); err == nil {
		goVersion = strings.TrimSpace(string(out))
	}
	mem := "unknown"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemTotal:" {
				if kb, err := strconv.Atoi(f[1]); err == nil {
					mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
				}
			}
		}
	}
	return []string{
		"Date: " + time.Now().UTC().Format(time.RFC3339),
		"nproc: " + nproc + " (GOMAXPROCS " + strconv.Itoa(runtime.GOMAXPROCS(0)) + "), memory " + mem,
		"CPU: " + cpuModel,
		"Kernel: Linux " + kernel + " " + runtime.GOARCH,
		"Go: " + goVersion + " (bench built with " + runtime.Version() + ")",
	}
}
