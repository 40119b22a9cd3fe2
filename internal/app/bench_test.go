package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/multitab/multitab/internal/app"
	"github.com/multitab/multitab/internal/shard"
)

// BenchmarkFlushThroughput measures how many dirty shards per second one
// node's flusher writes to the embedded store (rate limit lifted; the
// default FLUSH_RATE caps it at 10/s by design), with the default 3 at once.
func BenchmarkFlushThroughput(b *testing.B) {
	ctx := context.Background()
	// No worker of its own: the benchmark is the only flusher.
	cl := newCluster(b, 1, app.Roles{Web: true}, "FLUSH_RATE", "100000")
	store := cl.store(b)
	ids := make([]string, b.N)
	for i := range ids {
		sh, _, err := shard.New(shard.NewParams{Title: fmt.Sprintf("bench %d", i), Template: "react"}, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		if err := store.Create(ctx, sh); err != nil {
			b.Fatal(err)
		}
		if _, err := cl.rooms.Populate(ctx, sh); err != nil {
			b.Fatal(err)
		}
		f := sh.Files[1]
		n := len(f.Text)
		up, _ := json.Marshal(map[string]any{"clientID": "bench", "changes": []any{n, []any{0, "// edited"}}})
		if _, err := cl.rooms.Commit(ctx, sh.ID, f.ID, 0, n, n+9, []json.RawMessage{up}); err != nil {
			b.Fatal(err)
		}
		ids[i] = sh.ID
	}
	flusher := cl.nodes[0].Flusher()
	work := make(chan string)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				if err := flusher.Flush(ctx, id); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "shards/s")
}

// BenchmarkEditToMongo measures, at the default FLUSH_INTERVAL (5s), the
// time from an edit's ack to the store holding it, over 30 s of one edit
// every 100 ms. Run with -benchtime=1x.
func BenchmarkEditToMongo(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl := newCluster(b, 1, app.Roles{Web: true, Jobs: true}, "FLUSH_INTERVAL", "5s", "ROOM_IDLE_TTL", "1h")
	store := cl.store(b)
	shardID, _, _ := createShard(b, cl.url(0), `{"title":"latency","template":"static"}`)
	a := newAppender(ctx, b, cl.nodes[0].Addr(), shardID, 0)
	acked := map[int64]time.Time{}
	var mu sync.Mutex
	var lat []time.Duration
	done := make(chan struct{})
	go func() { // watch the store
		var seen int64
		for {
			select {
			case <-done:
				return
			default:
			}
			if sh, err := store.FindByID(ctx, shardID); err == nil {
				v := sh.Files[0].Version
				now := time.Now()
				mu.Lock()
				for ; seen < v; seen++ {
					if at, ok := acked[seen+1]; ok {
						lat = append(lat, now.Sub(at))
					}
				}
				mu.Unlock()
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	b.ResetTimer()
	end := time.Now().Add(30 * time.Second)
	for i := 0; time.Now().Before(end); i++ {
		a.appendText(ctx, b, fmt.Sprintf("\n%d", i))
		_, v := a.text()
		mu.Lock()
		acked[v] = time.Now()
		mu.Unlock()
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(11 * time.Second)
	close(done)
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	if len(lat) == 0 {
		b.Fatal("no samples")
	}
	b.ReportMetric(float64(len(lat)), "edits")
	b.ReportMetric(lat[len(lat)/2].Seconds()*1000, "p50-ms")
	b.ReportMetric(lat[len(lat)*99/100].Seconds()*1000, "p99-ms")
	b.ReportMetric(lat[len(lat)-1].Seconds()*1000, "max-ms")
}
