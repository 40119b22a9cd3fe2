package jobs

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// RunnerOptions configure the queue worker and the schedule.
type RunnerOptions struct {
	Interval        time.Duration // sweep period (FLUSH_INTERVAL)
	Concurrency     int           // flushes at once on this node
	RetryBase       time.Duration
	RetryMax        time.Duration
	ShutdownTimeout time.Duration
}

// Runner runs the flush worker and the periodic sweep on one node.
type Runner struct {
	opts    RunnerOptions
	srv     *asynq.Server
	sched   *asynq.Scheduler
	flusher *Flusher
	sweeper *Sweeper
	log     *slog.Logger
}

// NewRunner builds the worker and scheduler on the queue connection, which
// asynq shares and never closes.
func NewRunner(rdb *redis.Client, f *Flusher, s *Sweeper, opts RunnerOptions, log *slog.Logger) *Runner {
	alog := asynqLogger{log.With("component", "asynq")}
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency:    opts.Concurrency,
		Queues:         map[string]int{Queue: 1},
		RetryDelayFunc: RetryDelay(opts.RetryBase, opts.RetryMax),
		// Tasks are small and the sweep runs every few seconds: look often.
		TaskCheckInterval:        100 * time.Millisecond,
		DelayedTaskCheckInterval: min(time.Second, opts.Interval),
		ShutdownTimeout:          opts.ShutdownTimeout,
		Logger:                   alog,
		LogLevel:                 asynq.WarnLevel,
		IsFailure:                func(err error) bool { return !errors.Is(err, errBusy) },
	})
	sched := asynq.NewSchedulerFromRedisClient(rdb, &asynq.SchedulerOpts{Logger: alog, LogLevel: asynq.WarnLevel,
		EnqueueErrorHandler: func(t *asynq.Task, _ []asynq.Option, err error) {
			// Another node's scheduler enqueued this interval's sweep.
			if !errors.Is(err, asynq.ErrDuplicateTask) {
				log.Warn("schedule sweep failed", "task", t.Type(), "err", err)
			}
		}})
	return &Runner{opts: opts, srv: srv, sched: sched, flusher: f, sweeper: s, log: log}
}

// Start runs the worker and registers the periodic sweep.
func (r *Runner) Start() error {
	mux := asynq.NewServeMux()
	mux.HandleFunc(TypeFlush, r.flusher.HandleFlush)
	mux.HandleFunc(TypeSweep, r.sweeper.HandleSweep)
	if err := r.srv.Start(mux); err != nil {
		return fmt.Errorf("jobs: start worker: %w", err)
	}
	task, opts := NewSweepTask(r.opts.Interval)
	if _, err := r.sched.Register(fmt.Sprintf("@every %s", r.opts.Interval), task, opts...); err != nil {
		r.srv.Shutdown()
		return fmt.Errorf("jobs: schedule sweep: %w", err)
	}
	if err := r.sched.Start(); err != nil {
		r.srv.Shutdown()
		return fmt.Errorf("jobs: start scheduler: %w", err)
	}
	return nil
}

// Shutdown stops scheduling and waits (up to ShutdownTimeout) for running
// flushes to finish.
func (r *Runner) Shutdown() {
	r.sched.Shutdown()
	r.srv.Shutdown()
}

// asynqLogger routes asynq's logs to slog.
type asynqLogger struct{ log *slog.Logger }

func (l asynqLogger) Debug(args ...any) { l.log.Debug(fmt.Sprint(args...)) }
func (l asynqLogger) Info(args ...any)  { l.log.Info(fmt.Sprint(args...)) }
func (l asynqLogger) Warn(args ...any)  { l.log.Warn(fmt.Sprint(args...)) }
func (l asynqLogger) Error(args ...any) {
	msg := fmt.Sprint(args...)
	if strings.Contains(msg, "connection is shared") {
		return // asynq reports, at shutdown, that it leaves our connection open: as intended
	}
	l.log.Error(msg)
}
func (l asynqLogger) Fatal(args ...any) { l.log.Error(fmt.Sprint(args...)) }
