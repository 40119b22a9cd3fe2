package app_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/multitab/multitab/internal/app"
	"github.com/multitab/multitab/internal/wsclient"
)

// TestConvergenceAcrossNodes: 3 nodes, 8 typists on random nodes, 2,000
// random concurrent edits on 3 files, a rename and a create in the middle,
// random disconnects and reconnects. Everyone and the server end equal, and
// every acknowledged update is in the log exactly once.
func TestConvergenceAcrossNodes(t *testing.T) {
	const typists, totalEdits = 8, 2000
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl := newCluster(t, 3, app.Roles{Web: true})
	shardID, _, _ := createShard(t, cl.url(0), `{"title":"converge","template":"vanilla"}`)
	start := getShard(t, cl.url(0), shardID)
	var fileIDs []string
	initial := map[string]string{}
	for _, f := range start.Files {
		fileIDs = append(fileIDs, f.ID)
		initial[f.ID] = f.Text
	}

	tys := make([]*typist, typists)
	for i := range tys {
		tys[i] = &typist{name: fmt.Sprintf("t%d", i), shard: shardID, files: map[string]*wsclient.File{}}
		if err := tys[i].connect(ctx, t, cl, cl.randomLive(), fileIDs); err != nil {
			t.Fatal(err)
		}
	}

	var made, reconnects atomic.Int64
	var midway sync.Once
	var wg sync.WaitGroup
	for _, ty := range tys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for made.Load() < totalEdits && ctx.Err() == nil {
				fid := fileIDs[rand.IntN(len(fileIDs))]
				if err := ty.c.Edit(fid, randomChange); err != nil {
					t.Errorf("%s: edit: %v", ty.name, err)
					return
				}
				_, _ = ty.c.Push(fid)
				n := made.Add(1)
				if n > totalEdits/2 {
					midway.Do(func() {
						// A rename and a create while everyone types.
						if _, err := ty.c.Request(ctx, map[string]any{"type": "file.rename", "file": fileIDs[1], "name": "src/app.js"}); err != nil {
							t.Errorf("rename: %v", err)
						}
						if _, err := ty.c.Request(ctx, map[string]any{"type": "file.create", "name": "src/new.js", "text": "// new ✨\n"}); err != nil {
							t.Errorf("create: %v", err)
						}
					})
				}
				if rand.IntN(150) == 0 {
					reconnects.Add(1)
					ty.reconnect(ctx, t, cl, fileIDs)
				}
				if rand.IntN(4) == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	settle(t, tys, fileIDs, time.Minute)
	checkExactlyOnce(t, cl, shardID, initial, tys, fileIDs)

	final := getShard(t, cl.url(1), shardID)
	names := map[string]string{}
	for _, f := range final.Files {
		names[f.Name] = f.ID
	}
	if names["src/app.js"] != fileIDs[1] || names["src/new.js"] == "" || len(final.Files) != 4 {
		t.Fatalf("files after rename and create: %v", names)
	}
	t.Logf("%d edits, %d reconnects; versions: %v", made.Load(), reconnects.Load(), versions(final))
	for _, ty := range tys {
		ty.c.Close()
	}
}

func versions(s apiShard) map[string]int64 {
	out := map[string]int64{}
	for _, f := range s.Files {
		out[f.Name] = f.Version
	}
	return out
}

// TestNodeKilled: typists work through one node, which dies abruptly; they
// reconnect to the others and converge with nothing lost or duplicated, and
// the dead node's members leave the room within the heartbeat TTL.
func TestNodeKilled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl := newCluster(t, 3, app.Roles{Web: true})
	shardID, _, _ := createShard(t, cl.url(0), `{"title":"kill","template":"static"}`)
	start := getShard(t, cl.url(0), shardID)
	fileIDs := []string{start.Files[0].ID}
	initial := map[string]string{fileIDs[0]: start.Files[0].Text}

	tys := make([]*typist, 6)
	for i := range tys {
		tys[i] = &typist{name: fmt.Sprintf("k%d", i), shard: shardID, files: map[string]*wsclient.File{}}
		node := 0 // half on the node that dies
		if i%2 == 1 {
			node = 1 + i%2
		}
		if err := tys[i].connect(ctx, t, cl, node, fileIDs); err != nil {
			t.Fatal(err)
		}
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, ty := range tys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-ty.c.Closed():
					if ty.node == 0 {
						ty.reconnect(ctx, t, cl, fileIDs)
						continue
					}
				default:
				}
				_ = ty.c.Edit(fileIDs[0], randomChange)
				_, _ = ty.c.Push(fileIDs[0])
				time.Sleep(time.Millisecond)
			}
		}()
	}
	// Kill node 0 mid-stream, once typing is well under way.
	waitVersion(ctx, t, cl, shardID, fileIDs[0], 100)
	killedAt := time.Now()
	cl.kill(0)

	// The dead node's members are reaped within the TTL (2 s) plus one beat.
	ttl := 2 * time.Second
	for {
		info, err := cl.rooms.ReadRoom(ctx, shardID)
		if err != nil {
			t.Fatal(err)
		}
		left := 0
		for _, m := range info.Members {
			if m.Node == "node0" {
				left++
			}
		}
		if left == 0 {
			t.Logf("dead node's members gone after %v", time.Since(killedAt).Round(10*time.Millisecond))
			break
		}
		if time.Since(killedAt) > ttl+ttl/3+500*time.Millisecond {
			t.Fatalf("%d members of the dead node still listed %v after it died", left, time.Since(killedAt))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Typing goes on through the survivors before everyone stops.
	before, _ := cl.rooms.Versions(ctx, shardID, fileIDs)
	waitVersion(ctx, t, cl, shardID, fileIDs[0], before[0]+100)
	close(stop)
	wg.Wait()
	for _, ty := range tys {
		if ty.node == 0 {
			t.Fatalf("%s still on the dead node", ty.name)
		}
	}
	settle(t, tys, fileIDs, time.Minute)
	checkExactlyOnce(t, cl, shardID, initial, tys, fileIDs)
	info, _ := cl.rooms.ReadRoom(ctx, shardID)
	if len(info.Members) != len(tys) {
		t.Fatalf("room has %d members, want %d (one per typist)", len(info.Members), len(tys))
	}
}

// waitVersion waits until a file's version in Redis reaches v.
func waitVersion(ctx context.Context, t *testing.T, cl *cluster, shardID, fileID string, v int64) {
	t.Helper()
	for {
		got, err := cl.rooms.Versions(ctx, shardID, []string{fileID})
		if err == nil && got[0] >= v {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("file never reached version %d", v)
		case <-time.After(5 * time.Millisecond):
		}
	}
}
