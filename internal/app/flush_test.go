package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/multitab/multitab/internal/app"
	"github.com/multitab/multitab/internal/changeset"
	"github.com/multitab/multitab/internal/jobs"
	"github.com/multitab/multitab/internal/mongostore"
	"github.com/multitab/multitab/internal/room"
	"github.com/multitab/multitab/internal/shard"
	"github.com/multitab/multitab/internal/testsvc"
	"github.com/multitab/multitab/internal/wsclient"
)

// store opens the cluster's database directly, as a reader of what the
// flushes wrote.
func (c *cluster) store(t testing.TB) *mongostore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := mongostore.Open(ctx, c.svc.Store.URI, c.svc.Env["MONGO_DB"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// appender is a client that appends markers to one file and waits for acks.
type appender struct {
	c    *wsclient.Client
	file string
}

func newAppender(ctx context.Context, t testing.TB, url, shardID string, fileIndex int) *appender {
	t.Helper()
	c, err := wsclient.Dial(ctx, "ws://"+url+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	j, err := c.Join(ctx, shardID, "appender", "#884400", "")
	if err != nil {
		t.Fatal(err)
	}
	a := &appender{c: c, file: j.Files[fileIndex].ID}
	if _, err := c.Open(ctx, a.file, fmt.Sprintf("ap-%p", a)); err != nil {
		t.Fatal(err)
	}
	return a
}

// appendText appends text at the end and waits until the server acked it.
func (a *appender) appendText(ctx context.Context, t testing.TB, text string) {
	t.Helper()
	err := a.c.Edit(a.file, func(doc []uint16) *changeset.ChangeSet {
		spec, _ := json.Marshal([]any{len(doc), []any{0, text}})
		cs, _ := changeset.Parse(spec)
		return cs
	})
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := a.c.Push(a.file); err != nil {
			t.Fatal(err)
		}
		pending := 0
		a.c.State(a.file, func(f *wsclient.File) { pending = len(f.Unconfirmed) })
		if pending == 0 {
			return
		}
		select {
		case <-a.c.Events:
		case <-time.After(10 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
}

func (a *appender) text() (string, int64) {
	var s string
	var v int64
	a.c.State(a.file, func(f *wsclient.File) { s, v = f.Text(), f.Version })
	return s, v
}

// waitStored waits until the store holds text at version for the file.
func waitStored(ctx context.Context, t testing.TB, store *mongostore.Store, shardID, fileID, text string, version int64, within time.Duration) *shard.Shard {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		sh, err := store.FindByID(ctx, shardID)
		if err == nil {
			for _, f := range sh.Files {
				if f.ID == fileID && f.Text == text && f.Version == version {
					return sh
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("store does not hold version %d of %s after %v (last: %v)", version, fileID, within, describe(sh, fileID))
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func describe(sh *shard.Shard, fileID string) string {
	if sh == nil {
		return "no shard"
	}
	for _, f := range sh.Files {
		if f.ID == fileID {
			return fmt.Sprintf("version %d, %d bytes", f.Version, len(f.Text))
		}
	}
	return "no such file"
}

func TestEditsReachMongoWithinTwoIntervals(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const interval = time.Second
	cl := newCluster(t, 1, app.Roles{Web: true, Jobs: true}, "FLUSH_INTERVAL", interval.String(), "ROOM_IDLE_TTL", "1h")
	store := cl.store(t)
	shardID, _, _ := createShard(t, cl.url(0), `{"title":"flush","template":"static"}`)
	a := newAppender(ctx, t, cl.nodes[0].Addr(), shardID, 0)
	for i := 0; i < 5; i++ {
		a.appendText(ctx, t, fmt.Sprintf("\n<!-- edit %d 😀 -->", i))
		text, version := a.text()
		acked := time.Now()
		sh := waitStored(ctx, t, store, shardID, a.file, text, version, 2*interval+500*time.Millisecond)
		if sh.LastSyncAt.Before(acked.Add(-time.Second)) || sh.LastSyncAt.After(time.Now()) {
			t.Fatalf("lastSyncAt %v, edit acked at %v", sh.LastSyncAt, acked)
		}
	}
	// The API shows the sync time too.
	if s := getShard(t, cl.url(0), shardID); s.LastSyncAt == nil || !s.Live {
		t.Fatalf("API: lastSyncAt %v, live %v", s.LastSyncAt, s.Live)
	}
}

func TestSlowFlushRacingEditsNeverGoesBack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl := newCluster(t, 1, app.Roles{Web: true, Jobs: true}, "FLUSH_INTERVAL", "1s", "ROOM_IDLE_TTL", "1h")
	store := cl.store(t)
	shardID, _, _ := createShard(t, cl.url(0), `{"title":"race","template":"static"}`)
	a := newAppender(ctx, t, cl.nodes[0].Addr(), shardID, 0)

	// The first flush stalls after reading the room until more edits landed.
	stalled, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	cl.nodes[0].Flusher().BeforeSave = func(ctx context.Context, id string) {
		once.Do(func() {
			close(stalled)
			<-release
		})
	}
	// Watch the store: its version of the file must never go down.
	stopWatch := make(chan struct{})
	watchErr := make(chan error, 1)
	go func() {
		var last int64 = -1
		for {
			select {
			case <-stopWatch:
				watchErr <- nil
				return
			default:
			}
			if sh, err := store.FindByID(ctx, shardID); err == nil {
				for _, f := range sh.Files {
					if f.ID == a.file {
						if f.Version < last {
							watchErr <- fmt.Errorf("stored version went back from %d to %d", last, f.Version)
							return
						}
						last = f.Version
					}
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()

	a.appendText(ctx, t, "\nfirst")
	<-stalled
	for i := 0; i < 20; i++ {
		a.appendText(ctx, t, fmt.Sprintf("\nwhile flushing %d", i))
	}
	close(release)
	text, version := a.text()
	waitStored(ctx, t, store, shardID, a.file, text, version, 10*time.Second)

	// A flush that read the room long ago and writes only now (its lock
	// lost, say) is fenced off: the store keeps the newer content.
	old := &shard.Shard{ID: shardID, Title: "race", Visibility: shard.Public, Rev: 1,
		Files: []shard.File{{ID: a.file, Name: "index.html", Text: "stale", Version: 1, Seq: 1}}}
	if err := store.Save(ctx, old); !errors.Is(err, shard.ErrStale) {
		t.Fatalf("stale save: %v, want ErrStale", err)
	}
	waitStored(ctx, t, store, shardID, a.file, text, version, time.Second)
	close(stopWatch)
	if err := <-watchErr; err != nil {
		t.Fatal(err)
	}
}

func TestMongoDownForAWhile(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl := newCluster(t, 1, app.Roles{Web: true, Jobs: true}, "FLUSH_INTERVAL", "1s", "ROOM_IDLE_TTL", "1h")
	shardID, _, _ := createShard(t, cl.url(0), `{"title":"outage","template":"static"}`)
	a := newAppender(ctx, t, cl.nodes[0].Addr(), shardID, 0)
	a.appendText(ctx, t, "\nbefore the outage")

	addr, dir := cl.svc.Store.Addr, cl.svc.Store.Dir
	cl.svc.Store.Stop()
	for i := 0; i < 10; i++ {
		a.appendText(ctx, t, fmt.Sprintf("\nduring the outage %d", i)) // acked: Redis holds them
	}
	// Wait until a flush has failed and is waiting to be retried.
	inspector := asynq.NewInspectorFromRedisClient(testsvc.Manager(t, cl.svc.Redis).Queue())
	for {
		retrying, err := inspector.ListRetryTasks(jobs.Queue)
		if err == nil && len(retrying) > 0 {
			t.Logf("flush failed while the store was down: %s", retrying[0].LastErr)
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("no flush failed while the store was down")
		case <-time.After(20 * time.Millisecond):
		}
	}
	restarted, err := mongostore.StartDevStore(ctx, addr, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(restarted.Stop)
	a.appendText(ctx, t, "\nafter the outage")
	text, version := a.text()
	store := cl.store(t)
	waitStored(ctx, t, store, shardID, a.file, text, version, time.Minute)
	live := getShard(t, cl.url(0), shardID)
	if live.Files[0].Text != text {
		t.Fatal("live state differs from what the client holds")
	}
}

func TestWorkerKilledMidFlush(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for asynq to recover the orphaned task (about a minute)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// Web only here; the flush workers come below.
	cl := newCluster(t, 1, app.Roles{Web: true}, "FLUSH_INTERVAL", "1s", "ROOM_IDLE_TTL", "1h")
	store := cl.store(t)
	shardID, _, _ := createShard(t, cl.url(0), `{"title":"killed worker","template":"static"}`)
	a := newAppender(ctx, t, cl.nodes[0].Addr(), shardID, 0)
	a.appendText(ctx, t, "\nto be flushed")

	// A worker process that hangs in the middle of its flush, then dies.
	env, _ := json.Marshal(cl.svc.Env.With("NODE_ID", "doomed"))
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), workerEnv+"="+string(env))
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	for lines.Scan() && !strings.HasPrefix(lines.Text(), "flushing "+shardID) {
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	killedAt := time.Now()

	// Edits go on; a healthy worker takes over once asynq sees the dead
	// worker's lease expire, and the task runs again.
	a.appendText(ctx, t, "\nafter the crash")
	testsvc.Node(t, cl.svc.Env.With("NODE_ID", "healthy"), app.Roles{Jobs: true})
	text, version := a.text()
	waitStored(ctx, t, store, shardID, a.file, text, version, 3*time.Minute)
	t.Logf("flushed %v after the worker was killed", time.Since(killedAt).Round(time.Second))
}

func TestEvictionRacingJoinsAndRestarts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Rooms are evicted as soon as they are empty and flushed.
	cl := newCluster(t, 2, app.Roles{Web: true}, "FLUSH_INTERVAL", "1h", "ROOM_IDLE_TTL", "0s")
	store := cl.store(t)
	shardID, _, _ := createShard(t, cl.url(0), `{"title":"evict","template":"static"}`)
	flusher := cl.nodes[0].Flusher()

	want := ""
	var lastVersion int64
	evictions := 0
	for i := 0; i < 25; i++ {
		a := newAppender(ctx, t, cl.nodes[i%2].Addr(), shardID, 0)
		text, version := a.text()
		if want != "" && text != want {
			t.Fatalf("round %d: joined to %q, want %q", i, text, want)
		}
		if version < lastVersion {
			t.Fatalf("round %d: version went back from %d to %d", i, lastVersion, version)
		}
		a.appendText(ctx, t, fmt.Sprintf("[%d]", i))
		want, lastVersion = a.text()
		a.c.Close()
		<-a.c.Closed()
		// Once the member left: in even rounds flush (which evicts) and
		// then join; in odd ones, join through the other node while the
		// flush and eviction run.
		waitMembers(ctx, t, cl, shardID, 0)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := flusher.Flush(ctx, shardID); err != nil {
				t.Errorf("flush: %v", err)
			}
		}()
		if i%2 == 0 {
			wg.Wait()
			if _, err := cl.rooms.ReadRoom(ctx, shardID); !errors.Is(err, room.ErrAbsent) {
				t.Fatalf("round %d: empty flushed room not evicted: %v", i, err)
			}
			evictions++
		}
		b := newAppender(ctx, t, cl.nodes[(i+1)%2].Addr(), shardID, 0)
		wg.Wait()
		if text, version := b.text(); text != want || version != lastVersion {
			t.Fatalf("round %d: a join racing eviction saw %q v%d, want %q v%d", i, text, version, want, lastVersion)
		}
		b.c.Close()
		<-b.c.Closed()
		waitMembers(ctx, t, cl, shardID, 0)
	}
	// Everyone left: flush and evict, then every node restarts, with Redis
	// emptied too. Content and versions come back from the store alone.
	if err := flusher.Flush(ctx, shardID); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.rooms.ReadRoom(ctx, shardID); !errors.Is(err, room.ErrAbsent) {
		t.Fatalf("room not evicted after everyone left: %v", err)
	}
	evictions++
	stored := waitStoredText(ctx, t, store, shardID, want)
	for i := range cl.nodes {
		shutdown(t, cl.nodes[i])
	}
	if err := testsvc.Manager(t, cl.svc.Redis).KV().FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	fresh := testsvc.Node(t, cl.svc.Env.With("NODE_ID", "fresh"), app.Roles{Web: true})
	c := newAppender(ctx, t, fresh.Addr(), shardID, 0)
	if text, version := c.text(); text != want || version != lastVersion || version != stored.Version {
		t.Fatalf("after restart: %q v%d, want %q v%d", text, version, want, lastVersion)
	}
	c.appendText(ctx, t, "[after restart]")
	if _, version := c.text(); version != lastVersion+1 {
		t.Fatalf("version after restart %d, want %d", version, lastVersion+1)
	}
	t.Logf("%d evictions and reloads, 12 joins racing an eviction", evictions)
}

func waitMembers(ctx context.Context, t testing.TB, cl *cluster, shardID string, n int) {
	t.Helper()
	for {
		info, err := cl.rooms.ReadRoom(ctx, shardID)
		if errors.Is(err, room.ErrAbsent) || err == nil && len(info.Members) == n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("room never had %d members", n)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func waitStoredText(ctx context.Context, t testing.TB, store *mongostore.Store, shardID, text string) shard.File {
	t.Helper()
	for {
		sh, err := store.FindByID(ctx, shardID)
		if err == nil && sh.Files[0].Text == text {
			return sh.Files[0]
		}
		select {
		case <-ctx.Done():
			t.Fatalf("store never held %q", text)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func shutdown(t testing.TB, node *app.App) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := node.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestGracefulShutdownFlushes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl := newCluster(t, 1, app.Roles{Web: true, Jobs: true}, "FLUSH_INTERVAL", "1h", "ROOM_IDLE_TTL", "1h")
	store := cl.store(t)
	shardID, _, _ := createShard(t, cl.url(0), `{"title":"shutdown","template":"static"}`)
	a := newAppender(ctx, t, cl.nodes[0].Addr(), shardID, 0)
	a.appendText(ctx, t, "\nunflushed when SIGTERM came")
	text, version := a.text()
	shutdown(t, cl.nodes[0])
	// The client was told, and closed.
	select {
	case <-a.c.Closed():
	case <-ctx.Done():
		t.Fatal("socket still open after shutdown")
	}
	if a.c.CloseCode != 1001 {
		t.Fatalf("closed with %d, want 1001 going away", a.c.CloseCode)
	}
	waitStored(ctx, t, store, shardID, a.file, text, version, time.Second)
}

func TestFileOperationsArePersisted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl := newCluster(t, 1, app.Roles{Web: true}, "ROOM_IDLE_TTL", "0s")
	store := cl.store(t)
	shardID, _, _ := createShard(t, cl.url(0), `{"title":"files","template":"vanilla"}`)
	a := newAppender(ctx, t, cl.nodes[0].Addr(), shardID, 0)
	start := getShard(t, cl.url(0), shardID)
	created, err := a.c.Request(ctx, map[string]any{"type": "file.create", "name": "src/util.js", "text": "export const x = '✓';\n"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.c.Request(ctx, map[string]any{"type": "file.rename", "file": start.Files[1].ID, "name": "src/app.js"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.c.Request(ctx, map[string]any{"type": "file.delete", "file": start.Files[2].ID}); err != nil {
		t.Fatal(err)
	}
	a.appendText(ctx, t, "<!-- edited -->")
	a.c.Close()
	<-a.c.Closed()
	waitMembers(ctx, t, cl, shardID, 0)
	if err := cl.nodes[0].Flusher().Flush(ctx, shardID); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.rooms.ReadRoom(ctx, shardID); !errors.Is(err, room.ErrAbsent) {
		t.Fatalf("room not evicted: %v", err)
	}
	stored, err := store.FindByID(ctx, shardID)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range stored.Files {
		names = append(names, f.Name)
	}
	want := []string{start.Files[0].Name, "src/app.js", "src/util.js"}
	if strings.Join(names, ",") != strings.Join(want, ",") || stored.Files[2].ID != created.File || stored.FileCount != 3 {
		t.Fatalf("stored files %v (count %d), want %v", names, stored.FileCount, want)
	}
	// Reloaded from the store, the room shows the same files, in order.
	b := newAppender(ctx, t, cl.nodes[0].Addr(), shardID, 2)
	if text, version := b.text(); text != "export const x = '✓';\n" || version != 0 {
		t.Fatalf("created file after reload: %q v%d", text, version)
	}
}

func TestCompactionKeepsRecentHistory(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl := newCluster(t, 1, app.Roles{Web: true}, "HISTORY_KEPT", "10")
	shardID, _, _ := createShard(t, cl.url(0), `{"title":"compact","template":"static"}`)
	a := newAppender(ctx, t, cl.nodes[0].Addr(), shardID, 0)
	for i := 0; i < 80; i++ {
		a.appendText(ctx, t, fmt.Sprintf("%d,", i))
	}
	text, version := a.text()
	if err := cl.nodes[0].Flusher().Flush(ctx, shardID); err != nil {
		t.Fatal(err)
	}
	// The last 10 updates are kept for pull; older ones give the whole doc.
	m, err := a.c.Request(ctx, map[string]any{"type": "pull", "file": a.file, "version": version - 10})
	if err != nil || m.Type != "updates" || len(m.Updates) != 10 {
		t.Fatalf("pull of kept history: %v %s", err, m.Raw)
	}
	m, err = a.c.Request(ctx, map[string]any{"type": "pull", "file": a.file, "version": version - 11})
	if err != nil || m.Type != "doc" || m.Text != text || m.Version != version {
		t.Fatalf("pull behind the kept history: %v %.200s", err, m.Raw)
	}
	// A new socket opening the file reads the snapshot plus the tail.
	b := newAppender(ctx, t, cl.nodes[0].Addr(), shardID, 0)
	if got, v := b.text(); got != text || v != version {
		t.Fatalf("open after compaction: v%d, want v%d", v, version)
	}
	entries, _, err := cl.rooms.ReadLog(ctx, shardID, a.file, version-10, -1)
	if err != nil || len(entries) != 10 {
		t.Fatalf("log after compaction: %d entries, %v", len(entries), err)
	}
}
