// Package jobs persists live rooms to the database with asynq: a periodic
// sweep enqueues one flush task per dirty (or idle empty) room, and the
// flush handler writes it, fenced, then compacts or evicts the room.
package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"golang.org/x/time/rate"

	"github.com/multitab/multitab/internal/room"
	"github.com/multitab/multitab/internal/shard"
)

// Task types and the queue they run on.
const (
	TypeFlush = "shard:flush"
	TypeSweep = "rooms:sweep"
	Queue     = "flush"
)

// Saver writes a shard (shard.Repository.Save's contract).
type Saver interface {
	Save(ctx context.Context, s *shard.Shard) error
}

// Flusher writes rooms to the database.
type Flusher struct {
	rooms   *room.Store
	saver   Saver
	idle    time.Duration
	limiter *rate.Limiter
	log     *slog.Logger
	now     func() time.Time
	// BeforeSave, when set, runs between reading the room and writing it
	// (tests use it to make a flush slow while edits go on).
	BeforeSave func(ctx context.Context, id string)
}

// NewFlusher returns a Flusher. idle is how long an empty room stays in
// Redis before eviction; perSecond bounds flushes per second on this node.
func NewFlusher(rooms *room.Store, saver Saver, idle time.Duration, perSecond float64, log *slog.Logger) *Flusher {
	return &Flusher{rooms: rooms, saver: saver, idle: idle, limiter: rate.NewLimiter(rate.Limit(perSecond), max(1, int(perSecond))), log: log, now: time.Now}
}

// lockTTL bounds how long one flush may hold a shard; a flush that dies
// holding it blocks the shard's flushes for at most this long.
const lockTTL = time.Minute

// errBusy means another flush holds the shard; the task is retried.
var errBusy = errors.New("jobs: another flush is writing this shard")

// Flush writes what changed in room id since the last flush, records it,
// and evicts the room if it is empty, idle and unchanged. A room that is
// not in Redis has nothing to flush.
func (f *Flusher) Flush(ctx context.Context, id string) error {
	if err := f.limiter.Wait(ctx); err != nil {
		return err
	}
	release, ok, err := f.rooms.LockFlush(ctx, id, lockTTL)
	if err != nil {
		return err
	}
	if !ok {
		return errBusy
	}
	defer release()

	snap, err := f.rooms.Snapshot(ctx, id)
	if errors.Is(err, room.ErrAbsent) {
		return nil
	}
	if err != nil {
		return err
	}
	if snap.Dirty {
		if f.BeforeSave != nil {
			f.BeforeSave(ctx, id)
		}
		now := f.now().UTC().Truncate(time.Millisecond)
		snap.Shard.LastSyncAt, snap.Shard.UpdatedAt = now, now
		err := f.saver.Save(ctx, snap.Shard)
		switch {
		case errors.Is(err, shard.ErrStale):
			// The database holds newer content (a flush that lost its lock
			// finished after us): nothing older was written.
			f.log.Warn("flush found newer content stored", "shard", id, "rev", snap.Shard.Rev)
		case errors.Is(err, shard.ErrNotFound):
			f.log.Warn("flush of a shard deleted from the store: dropping", "shard", id)
			return fmt.Errorf("%w: %v", asynq.SkipRetry, err)
		case err != nil:
			return fmt.Errorf("jobs: flush %q: %w", id, err)
		}
		if _, err := f.rooms.MarkFlushed(ctx, snap, now); err != nil {
			return err
		}
		f.log.Debug("flushed", "shard", id, "rev", snap.Shard.Rev, "files", len(snap.Shard.Files))
	}
	if snap.Empty {
		evicted, err := f.rooms.Evict(ctx, id, f.idle)
		if err != nil {
			return err
		}
		if evicted {
			f.log.Info("evicted idle room", "shard", id)
		}
	}
	return nil
}

type flushPayload struct {
	Shard string `json:"shard"`
}

// NewFlushTask is the task that flushes one shard; its id makes a second
// enqueue for the same shard a no-op while the first exists.
func NewFlushTask(id string, maxRetry int) *asynq.Task {
	payload, _ := json.Marshal(flushPayload{Shard: id})
	return asynq.NewTask(TypeFlush, payload, asynq.TaskID("flush:"+id), asynq.Queue(Queue),
		asynq.MaxRetry(maxRetry), asynq.Timeout(lockTTL), asynq.Retention(0))
}

// HandleFlush is the asynq handler of TypeFlush.
func (f *Flusher) HandleFlush(ctx context.Context, t *asynq.Task) error {
	var p flushPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || !shard.ValidID(p.Shard) {
		return fmt.Errorf("%w: bad payload %q", asynq.SkipRetry, t.Payload())
	}
	return f.Flush(ctx, p.Shard)
}

// RetryDelay is exponential backoff, as BullMQ's {type: "exponential"}:
// base, 2·base, 4·base … capped at limit.
func RetryDelay(base, limit time.Duration) asynq.RetryDelayFunc {
	return func(n int, _ error, _ *asynq.Task) time.Duration {
		d := base
		for i := 0; i < n && d < limit; i++ {
			d *= 2
		}
		return min(d, limit)
	}
}
