package store_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"opencen/internal/store"
)

func BenchmarkTmpDelay(b *testing.B) {
	for _, d := range []time.Duration{100 * time.Microsecond, 200 * time.Microsecond, 500 * time.Microsecond, time.Millisecond} {
		for _, par := range []int{1, 16, 64} {
			b.Run(d.String()+"/p"+strconv.Itoa(par), func(b *testing.B) {
				s := openBolt(b, tempDB(b), store.WithMaxBatchDelay(d))
				ctx := context.Background()
				var worker atomic.Int64
				b.SetParallelism(par)
				b.RunParallel(func(pb *testing.PB) {
					prefix := strconv.FormatInt(worker.Add(1), 10) + "/"
					for i := 0; pb.Next(); i++ {
						s.Txn(ctx, nil, []store.Op{store.Put(prefix+strconv.Itoa(i), []byte("v"))})
					}
				})
			})
		}
	}
}

func TestTmpCAS(t *testing.T) {
	for _, d := range []time.Duration{100 * time.Microsecond, 200 * time.Microsecond, 500 * time.Microsecond, time.Millisecond, 100 * time.Microsecond, 200 * time.Microsecond, 500 * time.Microsecond, time.Millisecond} {
		s := openBolt(t, tempDB(t), store.WithMaxBatchDelay(d))
		start := time.Now()
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				for done := 0; done < 50; {
					kv, _, _ := s.Get(context.Background(), "c")
					res, _ := s.Txn(context.Background(), []store.Cmp{{Key: "c", ModRevision: kv.ModRevision}}, []store.Op{store.Put("c", nil)})
					if res.Succeeded {
						done++
					}
				}
			})
		}
		wg.Wait()
		t.Logf("delay %v: %v", d, time.Since(start))
	}
}
