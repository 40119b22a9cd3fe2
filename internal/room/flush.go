package room

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/multitab/multitab/internal/shard"
)

// Snapshot is what a flush must write, read from Redis in one step.
type Snapshot struct {
	// Shard carries the metadata, the rev covered, and in Files only the
	// files changed since the last flush (deleted ones marked Deleted).
	Shard *shard.Shard
	// LogLen is, per changed file id, how many log entries were applied
	// after its snapshot (a measure of how much a compaction would save).
	LogLen map[string]int
	// Empty reports whether the room had no members.
	Empty bool
	// Dirty reports whether the room changed since the last flush.
	Dirty bool
}

// Snapshot reads what changed since the last flush. Returns ErrAbsent when
// the room is not in Redis.
func (s *Store) Snapshot(ctx context.Context, id string) (*Snapshot, error) {
	k := keysOf(id)
	res, err := snapshotScript.Run(ctx, s.rdb, []string{k.room(), k.files(), k.gone()}, k.prefix()).Slice()
	if err != nil {
		return nil, fmt.Errorf("room: snapshot %q: %w", id, err)
	}
	if len(res) == 0 {
		return nil, ErrAbsent
	}
	h := pairs(res[0])
	info := infoFromHash(h)
	sh := &shard.Shard{ID: id, Title: info.Title, Template: info.Template, Visibility: info.Visibility,
		Dependencies: info.Dependencies, EditTokenHash: info.EditTokenHash, ViewTokenHash: info.ViewTokenHash,
		CreatedAt: info.CreatedAt, Rev: info.Rev, FileCount: int(res[3].(int64))}
	snap := &Snapshot{Shard: sh, LogLen: map[string]int{}, Empty: h["empty"] != "" && h["empty"] != "0", Dirty: h["rev"] != h["frev"]}
	changed, _ := res[1].([]any)
	for _, c := range changed {
		parts, _ := c.([]any)
		var listing fileListing
		if err := json.Unmarshal([]byte(parts[0].(string)), &listing); err != nil {
			return nil, fmt.Errorf("room: snapshot %q: %w", id, err)
		}
		entries := stringsOf(parts[4:])
		text, err := Materialize(parts[3].(string), entries)
		if err != nil {
			return nil, fmt.Errorf("room: snapshot %q/%q: %w", id, listing.ID, err)
		}
		sh.Files = append(sh.Files, shard.File{ID: listing.ID, Name: listing.Name, Seq: listing.Seq, Text: text, Version: parts[1].(int64)})
		snap.LogLen[listing.ID] = len(entries)
	}
	for _, raw := range stringsOf(res[2].([]any)) {
		var g struct {
			ID      string `json:"id"`
			Name    string `json:"name"`
			Seq     int64  `json:"seq"`
			Version int64  `json:"version"`
		}
		if err := json.Unmarshal([]byte(raw), &g); err != nil {
			return nil, fmt.Errorf("room: snapshot %q: %w", id, err)
		}
		sh.Files = append(sh.Files, shard.File{ID: g.ID, Name: g.Name, Seq: g.Seq, Version: g.Version, Deleted: true})
	}
	return snap, nil
}

// compactAfter is how many log entries after a snapshot make a flush store
// a new snapshot in Redis (writing the text back costs its size).
const compactAfter = 64

// MarkFlushed records that snap was written to the database at syncedAt:
// the rev and file versions it covered, a new snapshot for files with a
// long log tail, a trimmed log, and the deleted files it wrote. It returns
// the room's current rev: greater than the snapshot's when the room changed
// meanwhile.
func (s *Store) MarkFlushed(ctx context.Context, snap *Snapshot, syncedAt time.Time) (int64, error) {
	sh := snap.Shard
	k := keysOf(sh.ID)
	var live []any
	var gone []any
	for _, f := range sh.Files {
		if f.Deleted {
			gone = append(gone, f.ID)
			continue
		}
		text := ""
		if snap.LogLen[f.ID] >= compactAfter {
			text = f.Text
		}
		live = append(live, f.ID, f.Version, text)
	}
	args := append([]any{k.prefix(), sh.Rev, syncedAt.UnixMilli(), s.historyKept, len(live) / 3}, live...)
	args = append(args, gone...)
	rev, err := flushedScript.Run(ctx, s.rdb, []string{k.room(), k.gone()}, args...).Int64()
	if err != nil {
		return 0, fmt.Errorf("room: mark %q flushed: %w", sh.ID, err)
	}
	return rev, nil
}

// Evict removes an empty, idle, fully flushed room from Redis; it reports
// whether it did.
func (s *Store) Evict(ctx context.Context, id string, idle time.Duration) (bool, error) {
	k := keysOf(id)
	n, err := evictScript.Run(ctx, s.rdb, []string{k.room(), k.files(), k.names(), k.members(), k.gone()},
		k.prefix(), s.nowMillis(), idle.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("room: evict %q: %w", id, err)
	}
	if n == 0 {
		return false, nil
	}
	// Unlist it, then look again: a join may have loaded it anew between
	// the eviction and the SREM, and must stay listed.
	if err := s.rdb.SRem(ctx, liveRoomsKey, id).Err(); err != nil {
		return n == 1, fmt.Errorf("room: unlist %q: %w", id, err)
	}
	exists, err := s.rdb.Exists(ctx, k.room()).Result()
	if err == nil && exists == 1 {
		err = s.rdb.SAdd(ctx, liveRoomsKey, id).Err()
	}
	if err != nil {
		return n == 1, fmt.Errorf("room: relist %q after eviction: %w", id, err)
	}
	return n == 1, nil
}

// Status is a live room's state as the flush sweep sees it.
type Status struct {
	ID         string
	Dirty      bool
	EmptySince time.Time // zero while the room has members
}

// LiveRooms returns the status of every room listed as live.
func (s *Store) LiveRooms(ctx context.Context) ([]Status, error) {
	ids, err := s.rdb.SMembers(ctx, liveRoomsKey).Result()
	if err != nil {
		return nil, fmt.Errorf("room: list live rooms: %w", err)
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]interface{ Val() []any }, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HMGet(ctx, keysOf(id).room(), "rev", "frev", "empty")
	}
	if _, err := pipe.Exec(ctx); err != nil && len(ids) > 0 {
		return nil, fmt.Errorf("room: read live rooms: %w", err)
	}
	out := make([]Status, 0, len(ids))
	for i, id := range ids {
		v := cmds[i].Val()
		if len(v) < 3 || v[0] == nil {
			// Listed but gone (evicted between the two reads): unlist.
			s.rdb.SRem(ctx, liveRoomsKey, id)
			continue
		}
		rev, frev := v[0].(string), ""
		if v[1] != nil {
			frev = v[1].(string)
		}
		st := Status{ID: id, Dirty: rev != frev}
		if e, _ := v[2].(string); e != "" {
			if ms, _ := strconv.ParseInt(e, 10, 64); ms > 0 {
				st.EmptySince = time.UnixMilli(ms)
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// releaseLockScript deletes a lock only if it still holds our token.
//
// KEYS[1] lock; ARGV[1] token. Returns 1 if released.
var releaseLockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// LockFlush takes the shard's flush lock for ttl, so that one writer at a
// time writes the shard to the database. It returns a release func, or
// ok=false when another flush holds the lock.
func (s *Store) LockFlush(ctx context.Context, id string, ttl time.Duration) (release func(), ok bool, err error) {
	key, token := keysOf(id).flushLock(), shard.NewToken()
	ok, err = s.rdb.SetNX(ctx, key, token, ttl).Result()
	if err != nil {
		return nil, false, fmt.Errorf("room: lock %q for flush: %w", id, err)
	}
	if !ok {
		return nil, false, nil
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = releaseLockScript.Run(ctx, s.rdb, []string{key}, token).Err()
	}, true, nil
}
