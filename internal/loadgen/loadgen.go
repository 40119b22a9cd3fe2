// Package loadgen simulates people typing into one shard through several
// nodes and measures how long an update takes from its push to the other
// clients (on other nodes) and to its ack.
package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/multitab/multitab/internal/changeset"
	"github.com/multitab/multitab/internal/wsclient"
)

// Options of a run.
type Options struct {
	URLs     []string // base HTTP URLs of the nodes
	Clients  int
	Duration time.Duration
	Rate     float64 // edits per second per client
}

// Result is what a run measured.
type Result struct {
	Edits       int
	CrossNode   []time.Duration // push → update at a client of another node
	Acks        []time.Duration // push → ack
	Converged   bool
	FinalLength int
}

// Main is the loadgen subcommand.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	urls := fs.String("urls", "http://127.0.0.1:8080", "comma-separated base URLs of the nodes")
	clients := fs.Int("clients", 20, "simulated typists")
	duration := fs.Duration("duration", 20*time.Second, "how long they type")
	rate := fs.Float64("rate", 5, "edits per second per typist")
	if err := fs.Parse(args); err != nil {
		return err
	}
	res, err := Run(ctx, Options{URLs: strings.Split(*urls, ","), Clients: *clients, Duration: *duration, Rate: *rate})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "edits: %d, converged: %v, final length: %d\n", res.Edits, res.Converged, res.FinalLength)
	fmt.Fprintf(stdout, "push→update on another node: %s\n", summary(res.CrossNode))
	fmt.Fprintf(stdout, "push→ack: %s\n", summary(res.Acks))
	return nil
}

func summary(ds []time.Duration) string {
	if len(ds) == 0 {
		return "no samples"
	}
	slices.Sort(ds)
	q := func(p float64) time.Duration { return ds[min(len(ds)-1, int(p*float64(len(ds))))] }
	return fmt.Sprintf("n=%d p50=%v p90=%v p99=%v max=%v", len(ds), q(.5), q(.9), q(.99), ds[len(ds)-1])
}

type typist struct {
	c        *wsclient.Client
	node     int
	file     string
	sentMu   sync.Mutex
	sentAt   map[int]time.Time // by update sequence number of this typist
	lastPush time.Time         // when the push now in flight was sent
}

// Run creates a shard, connects the typists round-robin to the nodes and
// lets them type for the duration, then waits until all converge.
func Run(ctx context.Context, o Options) (*Result, error) {
	shardID, err := createShard(ctx, o.URLs[0])
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	res := &Result{}
	typists := make([]*typist, o.Clients)
	byClientID := map[string]*typist{}
	for i := range typists {
		t := &typist{node: i % len(o.URLs), sentAt: map[int]time.Time{}}
		wsURL := "ws" + strings.TrimPrefix(o.URLs[t.node], "http") + "/ws"
		if t.c, err = wsclient.Dial(ctx, wsURL, nil); err != nil {
			return nil, err
		}
		defer t.c.Close()
		joined, err := t.c.Join(ctx, shardID, fmt.Sprintf("typist %d", i), "#3b5bdb", "")
		if err != nil {
			return nil, err
		}
		t.file = joined.Files[0].ID
		clientID := fmt.Sprintf("t%d", i)
		byClientID[clientID] = t
		if _, err := t.c.Open(ctx, t.file, clientID); err != nil {
			return nil, err
		}
		typists[i] = t
	}
	// Count, per receiver, the updates seen from each typist, so that the
	// k-th update of typist X is matched with X's send time.
	for _, t := range typists {
		seen := map[string]int{}
		recv := t
		go func() {
			for m := range recv.c.Events {
				now := time.Now()
				switch m.Type {
				case "updates":
					for _, raw := range m.Updates {
						var u struct {
							ClientID string `json:"clientID"`
						}
						_ = json.Unmarshal(raw, &u)
						k := seen[u.ClientID]
						seen[u.ClientID]++
						sender := byClientID[u.ClientID]
						if sender == nil || sender.node == recv.node {
							continue
						}
						sender.sentMu.Lock()
						at, ok := sender.sentAt[k]
						sender.sentMu.Unlock()
						if ok {
							mu.Lock()
							res.CrossNode = append(res.CrossNode, now.Sub(at))
							mu.Unlock()
						}
					}
				case "ack":
					recv.sentMu.Lock()
					at := recv.lastPush
					recv.sentMu.Unlock()
					if !at.IsZero() {
						mu.Lock()
						res.Acks = append(res.Acks, now.Sub(at))
						mu.Unlock()
					}
					recv.push()
				case "stale":
					recv.push()
				}
			}
		}()
	}
	runCtx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	var wg sync.WaitGroup
	for _, t := range typists {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(time.Duration(float64(time.Second) / o.Rate))
			defer tick.Stop()
			for {
				select {
				case <-runCtx.Done():
					return
				case <-tick.C:
				}
				t.edit()
				mu.Lock()
				res.Edits++
				mu.Unlock()
				t.push()
			}
		}()
	}
	wg.Wait()
	res.Converged, res.FinalLength = waitConverged(ctx, typists)
	return res, nil
}

func (t *typist) edit() {
	_ = t.c.Edit(t.file, func(doc []uint16) *changeset.ChangeSet {
		n := len(doc)
		pos := rand.IntN(n + 1)
		spec := []any{pos, []any{0, string(rune('a' + rand.IntN(26)))}, n - pos}
		if n > 200 && rand.IntN(3) == 0 {
			del := min(n-pos, 1+rand.IntN(3))
			spec = []any{pos, []any{del}, n - pos - del}
		}
		cs, _ := changeset.Parse(mustJSON(spec))
		return cs
	})
}

// push sends unconfirmed updates and stamps the ones sent for the first time.
func (t *typist) push() {
	var first, count int
	t.c.State(t.file, func(f *wsclient.File) { first, count = f.Confirmed, len(f.Unconfirmed) })
	sent, _ := t.c.Push(t.file)
	if !sent {
		return
	}
	now := time.Now()
	t.sentMu.Lock()
	for k := first; k < first+count; k++ {
		if _, ok := t.sentAt[k]; !ok {
			t.sentAt[k] = now
		}
	}
	t.lastPush = now
	t.sentMu.Unlock()
}

func waitConverged(ctx context.Context, ts []*typist) (bool, int) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		texts := map[string]bool{}
		pending := 0
		for _, t := range ts {
			t.push()
			t.c.State(t.file, func(f *wsclient.File) {
				texts[f.Text()] = true
				pending += len(f.Unconfirmed)
			})
		}
		if len(texts) == 1 && pending == 0 {
			for txt := range texts {
				return true, changeset.Length(txt)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false, 0
}

func createShard(ctx context.Context, base string) (string, error) {
	body := []byte(`{"title":"loadgen","template":"static","visibility":"public"}`)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/shards", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("loadgen: create shard: %w", err)
	}
	defer resp.Body.Close()
	var out struct {
		ID string `json:"id"`
	}
	if resp.StatusCode != http.StatusCreated || json.NewDecoder(resp.Body).Decode(&out) != nil {
		return "", fmt.Errorf("loadgen: create shard: HTTP %d", resp.StatusCode)
	}
	return out.ID, nil
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
