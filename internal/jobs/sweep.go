package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/multitab/multitab/internal/room"
)

// Enqueuer puts tasks on the queue (asynq.Client).
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Sweeper finds rooms to flush and enqueues their tasks.
type Sweeper struct {
	rooms    *room.Store
	queue    Enqueuer
	idle     time.Duration
	maxRetry int
	log      *slog.Logger
	now      func() time.Time
}

// NewSweeper returns a Sweeper.
func NewSweeper(rooms *room.Store, queue Enqueuer, idle time.Duration, maxRetry int, log *slog.Logger) *Sweeper {
	return &Sweeper{rooms: rooms, queue: queue, idle: idle, maxRetry: maxRetry, log: log, now: time.Now}
}

// Sweep enqueues a flush for every dirty room and every empty room idle
// for long enough to evict. It returns how many it enqueued.
func (s *Sweeper) Sweep(ctx context.Context) (int, error) {
	rooms, err := s.rooms.LiveRooms(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range rooms {
		idle := !r.EmptySince.IsZero() && s.now().Sub(r.EmptySince) >= s.idle
		if !r.Dirty && !idle {
			continue
		}
		_, err := s.queue.EnqueueContext(ctx, NewFlushTask(r.ID, s.maxRetry))
		switch {
		case errors.Is(err, asynq.ErrTaskIDConflict):
			// Already queued or running; the room stays dirty until a
			// flush covers it, so a later sweep comes back to it.
		case err != nil:
			return n, fmt.Errorf("jobs: enqueue flush of %q: %w", r.ID, err)
		default:
			n++
		}
	}
	return n, nil
}

// HandleSweep is the asynq handler of TypeSweep.
func (s *Sweeper) HandleSweep(ctx context.Context, _ *asynq.Task) error {
	n, err := s.Sweep(ctx)
	if n > 0 {
		s.log.Debug("sweep enqueued flushes", "count", n)
	}
	return err
}

// NewSweepTask is the periodic sweep. Unique for (most of) one interval,
// so that however many nodes run the scheduler, about one sweep runs per
// interval; asynq takes no uniqueness under a second.
func NewSweepTask(interval time.Duration) (*asynq.Task, []asynq.Option) {
	return asynq.NewTask(TypeSweep, nil), []asynq.Option{asynq.Queue(Queue), asynq.MaxRetry(0),
		asynq.Unique(max(interval-interval/10, time.Second)), asynq.Timeout(max(interval*4, 10*time.Second))}
}
