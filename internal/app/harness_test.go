package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/multitab/multitab/internal/app"
	"github.com/multitab/multitab/internal/changeset"
	"github.com/multitab/multitab/internal/room"
	"github.com/multitab/multitab/internal/testsvc"
	"github.com/multitab/multitab/internal/wsclient"
)

// cluster is several nodes on one Redis and one store.
type cluster struct {
	t     testing.TB
	svc   *testsvc.Services
	nodes []*app.App
	alive []bool
	mu    sync.Mutex
	rooms *room.Store
}

func newCluster(t testing.TB, n int, roles app.Roles, env ...string) *cluster {
	t.Helper()
	c := &cluster{t: t, svc: testsvc.Start(t)}
	c.svc.Env = c.svc.Env.With(env...)
	for i := 0; i < n; i++ {
		c.nodes = append(c.nodes, testsvc.Node(t, c.svc.Env.With("NODE_ID", fmt.Sprintf("node%d", i)), roles))
		c.alive = append(c.alive, true)
	}
	c.rooms = room.NewStore(testsvc.Manager(t, c.svc.Redis).KV(), 1000)
	return c
}

func (c *cluster) url(i int) string { return "http://" + c.nodes[i].Addr() }

// randomLive picks a live node.
func (c *cluster) randomLive() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if i := rand.IntN(len(c.nodes)); c.alive[i] {
			return i
		}
	}
}

func (c *cluster) kill(i int) {
	c.mu.Lock()
	c.alive[i] = false
	c.mu.Unlock()
	c.nodes[i].Kill()
}

func createShard(t testing.TB, base, body string) (id, editToken, viewToken string) {
	t.Helper()
	resp, err := http.Post(base+"/api/shards", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ ID, EditToken, ViewToken string }
	if resp.StatusCode != 201 || json.NewDecoder(resp.Body).Decode(&out) != nil {
		t.Fatalf("create shard: HTTP %d", resp.StatusCode)
	}
	return out.ID, out.EditToken, out.ViewToken
}

type apiShard struct {
	Files []struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		Text    string `json:"text"`
		Version int64  `json:"version"`
	} `json:"files"`
	LastSyncAt *time.Time `json:"lastSyncAt"`
	Live       bool       `json:"live"`
}

func getShard(t testing.TB, base, id string) apiShard {
	t.Helper()
	resp, err := http.Get(base + "/api/shards/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out apiShard
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&out) != nil {
		t.Fatalf("get shard: HTTP %d", resp.StatusCode)
	}
	return out
}

// typist is a simulated person with a stable identity across reconnects:
// the same collab client id per file, the same local state.
type typist struct {
	name  string
	shard string
	c     *wsclient.Client
	node  int
	files map[string]*wsclient.File
}

func (ty *typist) connect(ctx context.Context, t testing.TB, cl *cluster, node int, fileIDs []string) error {
	c, err := wsclient.Dial(ctx, "ws://"+cl.nodes[node].Addr()+"/ws", nil)
	if err != nil {
		return err
	}
	if _, err := c.Join(ctx, ty.shard, ty.name, "#123456", ""); err != nil {
		c.Close()
		return err
	}
	for _, f := range ty.files {
		c.Adopt(f)
	}
	ty.c, ty.node = c, node
	for _, fid := range fileIDs {
		f, err := c.Open(ctx, fid, ty.name+"-"+fid)
		if err != nil {
			return err
		}
		if ty.files[fid] != nil {
			if err := c.Pull(ctx, fid); err != nil {
				return err
			}
		}
		ty.files[fid] = f
	}
	// Push again whenever a push is answered.
	go func() {
		for {
			select {
			case m := <-c.Events:
				if m.Type == "ack" || m.Type == "stale" {
					_, _ = c.Push(m.File)
				}
			case <-c.Closed():
				return
			}
		}
	}()
	for fid := range ty.files {
		_, _ = c.Push(fid)
	}
	return nil
}

// reconnect drops the socket and joins again through a random live node,
// keeping local state and unsent edits.
func (ty *typist) reconnect(ctx context.Context, t testing.TB, cl *cluster, fileIDs []string) {
	ty.c.Close()
	<-ty.c.Closed()
	for attempt := 0; ; attempt++ {
		err := ty.connect(ctx, t, cl, cl.randomLive(), fileIDs)
		if err == nil {
			return
		}
		if attempt > 20 || ctx.Err() != nil {
			t.Errorf("%s: reconnect: %v", ty.name, err)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var pieces = []string{"a", "xyz", " ", "\n", "é", "e\u0301", "漢字", "😀", "👩‍💻", "ö", "{}", "\t"}

// randomChange inserts, deletes or replaces at a random place, never
// splitting a surrogate pair.
func randomChange(doc []uint16) *changeset.ChangeSet {
	n := len(doc)
	at := func(p int) int {
		if p > 0 && p < n && doc[p] >= 0xdc00 && doc[p] <= 0xdfff {
			p--
		}
		return p
	}
	from := at(rand.IntN(n + 1))
	to := from
	if rand.IntN(3) > 0 || n > 400 {
		to = at(min(n, from+rand.IntN(5)))
	}
	if to < from {
		to = from
	}
	ins := ""
	if rand.IntN(4) > 0 || from == to {
		for k := 1 + rand.IntN(3); k > 0; k-- {
			ins += pieces[rand.IntN(len(pieces))]
		}
	}
	lines := strings.Split(ins, "\n")
	del := []any{to - from}
	if ins != "" {
		for _, l := range lines {
			del = append(del, l)
		}
	}
	spec, _ := json.Marshal([]any{from, del, n - to})
	cs, err := changeset.Parse(spec)
	if err != nil {
		panic(err)
	}
	return cs
}

// settle pushes until every typist has nothing unsent and all hold the same
// text per file, or fails at the deadline.
func settle(t testing.TB, typists []*typist, fileIDs []string, deadline time.Duration) {
	t.Helper()
	end := time.Now().Add(deadline)
	for {
		same, pending := true, 0
		for _, fid := range fileIDs {
			var first *string
			for _, ty := range typists {
				_, _ = ty.c.Push(fid)
				ty.c.State(fid, func(f *wsclient.File) {
					txt := f.Text()
					pending += len(f.Unconfirmed)
					if first == nil {
						first = &txt
					} else if *first != txt {
						same = false
					}
				})
			}
		}
		if same && pending == 0 {
			return
		}
		if time.Now().After(end) {
			for _, fid := range fileIDs {
				for _, ty := range typists {
					ty.c.State(fid, func(f *wsclient.File) {
						t.Logf("%s %s: version %d, len %d, unsent %d, created %d, confirmed %d", fid, ty.name, f.Version, len(f.Doc), len(f.Unconfirmed), f.Created, f.Confirmed)
					})
				}
			}
			t.Fatalf("no convergence after %v: same=%v, unsent=%d", deadline, same, pending)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkExactlyOnce verifies, per file, that every typist, the server's text
// and the version agree, that the log replayed from the start gives that
// text, and that it holds each typist's updates exactly once.
func checkExactlyOnce(t testing.TB, cl *cluster, shardID string, initial map[string]string, typists []*typist, fileIDs []string) {
	t.Helper()
	ctx := context.Background()
	server := getShard(t, cl.url(cl.randomLive()), shardID)
	for _, fid := range fileIDs {
		var text string
		var version int64 = -1
		for _, f := range server.Files {
			if f.ID == fid {
				text, version = f.Text, f.Version
			}
		}
		if version < 0 {
			t.Fatalf("file %s missing on the server", fid)
		}
		created := map[string]int{}
		for _, ty := range typists {
			ty.c.State(fid, func(f *wsclient.File) {
				if got := f.Text(); got != text {
					t.Errorf("%s holds %q for %s, server %q", ty.name, got, fid, text)
				}
				if f.Version != version {
					t.Errorf("%s at version %d of %s, server %d", ty.name, f.Version, fid, version)
				}
				if f.Resets != 0 {
					t.Errorf("%s had its local edits reset %d times", ty.name, f.Resets)
				}
				created[f.ClientID] = f.Created
			})
		}
		entries, current, err := cl.rooms.ReadLog(ctx, shardID, fid, 0, -1)
		if err != nil {
			t.Fatalf("read log of %s: %v", fid, err)
		}
		if current != version || int64(len(entries)) != version {
			t.Fatalf("log of %s: %d entries, version %d, server %d", fid, len(entries), current, version)
		}
		inLog := map[string]int{}
		raw := make([]string, len(entries))
		for i, e := range entries {
			var u struct {
				ClientID string `json:"clientID"`
			}
			_ = json.Unmarshal(e, &u)
			inLog[u.ClientID]++
			raw[i] = string(e)
		}
		for cid, n := range created {
			if inLog[cid] != n {
				t.Errorf("file %s: %s made %d updates, the log holds %d", fid, cid, n, inLog[cid])
			}
		}
		replayed, err := room.Materialize(initial[fid], raw)
		if err != nil || replayed != text {
			t.Errorf("file %s: replaying the log gives %q (%v), server holds %q", fid, replayed, err, text)
		}
	}
}
