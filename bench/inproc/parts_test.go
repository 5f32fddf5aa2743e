package inproc

// Micro-benchmarks of the two costs that dominate a list call in the CPU profile, with the
// shapes the server uses today and the alternative suggested in docs/benchmarks.md:
//
//	go test ./bench/inproc -run '^$' -bench Parts -benchmem

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"

	"opencen/internal/api"
	"opencen/internal/model"
	"opencen/internal/rpc"
)

func sampleTRs(n int) []*model.TransitRouter {
	now := time.Now().UTC()
	out := make([]*model.TransitRouter, n)
	for i := range out {
		out[i] = &model.TransitRouter{
			Meta: model.Meta{ID: fmt.Sprintf("tr-%020d", i), Owner: "1234567890123456", Region: "cn-hangzhou",
				Status: model.StatusActive, Changed: now, Created: now},
			CenID: fmt.Sprintf("cen-%020d", i/2), Name: fmt.Sprintf("inproc-tr-%03d-cn-hangzhou", i), Type: "Enterprise",
			SystemTableID: fmt.Sprintf("vtb-%020d", i),
		}
	}
	return out
}

// BenchmarkPartsDecode40TRs is what listKind does per ListTransitRouters call for 40 TRs:
// json.Unmarshal of every stored value.
func BenchmarkPartsDecode40TRs(b *testing.B) {
	raws := make([][]byte, 0, 40)
	for _, tr := range sampleTRs(40) {
		raw, _ := json.Marshal(tr)
		raws = append(raws, raw)
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, raw := range raws {
			var tr model.TransitRouter
			if err := json.Unmarshal(raw, &tr); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkPartsEncode40TRsMap encodes the ListTransitRouters answer as the handler builds
// it today: nested rpc.Object (map[string]any), which encoding/json walks by reflection
// and whose keys it sorts on every call.
func BenchmarkPartsEncode40TRsMap(b *testing.B) {
	trs := sampleTRs(40)
	b.ReportAllocs()
	for b.Loop() {
		items := []rpc.Object{}
		for _, tr := range trs {
			items = append(items, rpc.Object{
				"TransitRouterId": tr.ID, "TransitRouterName": tr.Name, "TransitRouterDescription": tr.Description,
				"CenId": tr.CenID, "RegionId": tr.Region, "AliUid": int64(1234567890123456), "CreationTime": model.CBNTime(tr.Created),
				"Status": tr.Status, "Type": tr.Type, "SupportMulticast": tr.SupportMulticast,
				"Tags": api.TagList(tr.Tags), "TransitRouterCidrList": []rpc.Object{},
			})
		}
		body := rpc.Object{"PageNumber": 1, "PageSize": 50, "TotalCount": len(trs), "TransitRouters": items, "RequestId": "00000000-0000-0000-0000-000000000000"}
		enc := json.NewEncoder(io.Discard)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(body); err != nil {
			b.Fatal(err)
		}
	}
}

type trItem struct {
	TransitRouterId          string
	TransitRouterName        string
	TransitRouterDescription string
	CenId                    string
	RegionId                 string
	AliUid                   int64
	CreationTime             string
	Status                   string
	Type                     string
	SupportMulticast         bool
	Tags                     []rpc.Object
	TransitRouterCidrList    []rpc.Object
}

type trPage struct {
	PageNumber, PageSize, TotalCount int
	TransitRouters                   []trItem
	RequestId                        string
}

// BenchmarkPartsEncode40TRsStruct is the same answer (same bytes up to key order) from
// typed structs.
func BenchmarkPartsEncode40TRsStruct(b *testing.B) {
	trs := sampleTRs(40)
	b.ReportAllocs()
	for b.Loop() {
		items := make([]trItem, 0, len(trs))
		for _, tr := range trs {
			items = append(items, trItem{
				TransitRouterId: tr.ID, TransitRouterName: tr.Name, TransitRouterDescription: tr.Description,
				CenId: tr.CenID, RegionId: tr.Region, AliUid: 1234567890123456, CreationTime: model.CBNTime(tr.Created),
				Status: tr.Status, Type: tr.Type, SupportMulticast: tr.SupportMulticast,
				Tags: []rpc.Object{}, TransitRouterCidrList: []rpc.Object{},
			})
		}
		enc := json.NewEncoder(io.Discard)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(trPage{1, 50, len(trs), items, "00000000-0000-0000-0000-000000000000"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPartsNonceCacheMemory reports the live heap per remembered nonce: the server keeps
// every nonce for 2*rpc.SkewWindow (30 minutes), so its memory is request rate x 30 min x this.
func BenchmarkPartsNonceCacheMemory(b *testing.B) {
	const n = 200_000
	keyID := "LTAI" + randHex(10)
	nonces := make([]string, n)
	for i := range nonces {
		nonces[i] = randHex(16) // what rpc.Client sends
	}
	var perEntry float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		c := rpc.NewNonceCache(rpc.SkewWindow, 0)
		now := time.Now()
		for _, nonce := range nonces {
			_ = c.Use(keyID, nonce, now, now)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perEntry = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(c)
	}
	b.ReportMetric(perEntry, "heap-bytes/nonce")
}
