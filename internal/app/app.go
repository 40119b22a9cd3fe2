// Package app wires one multitab node from its configuration: the stores,
// the collaboration hub, the flush jobs and the HTTP server. main and the
// multi-node tests build nodes the same way, through New.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/hibiken/asynq"

	"github.com/multitab/multitab/internal/collab"
	"github.com/multitab/multitab/internal/config"
	"github.com/multitab/multitab/internal/jobs"
	"github.com/multitab/multitab/internal/mongostore"
	"github.com/multitab/multitab/internal/redisx"
	"github.com/multitab/multitab/internal/room"
	"github.com/multitab/multitab/internal/server"
	"github.com/multitab/multitab/internal/shard"
)

// flushMaxRetry is how often a failed flush is retried (backing off from 1 s
// to 1 min, that is about 25 minutes of a store being down) before asynq
// archives it; the next sweep enqueues the still-dirty room again anyway.
const flushMaxRetry = 25

// Roles says what a node runs.
type Roles struct {
	Web  bool // HTTP, websocket, collaboration
	Jobs bool // flush worker and sweep schedule
}

// App is one running node.
type App struct {
	cfg config.Config
	log *slog.Logger

	localRedis *redisx.Local
	devStore   *mongostore.DevStore
	redis      *redisx.Manager
	store      *mongostore.Store
	rooms      *room.Store
	hub        *collab.Hub
	queue      *asynq.Client
	runner     *jobs.Runner
	flusher    *jobs.Flusher
	http       *fiber.App
	ln         net.Listener
	served     chan error
	stopped    bool
}

// New starts the services the node depends on (a local redis-server and
// the embedded store when no URL is configured) and builds the node.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, roles Roles) (*App, error) {
	if cfg.NodeID == "" {
		cfg.NodeID = shard.NewID(5)
	}
	a := &App{cfg: cfg, log: log, served: make(chan error, 1)}
	if err := a.build(ctx, cfg, roles); err != nil {
		a.closeAll(context.Background())
		return nil, err
	}
	return a, nil
}

func (a *App) build(ctx context.Context, cfg config.Config, roles Roles) (err error) {
	log := a.log
	if cfg.RedisURL == "" {
		if a.localRedis, err = redisx.StartLocal(ctx, filepath.Join(cfg.DataDir, "redis")); err != nil {
			return err
		}
		cfg.RedisURL = a.localRedis.URL
		log.Info("started local redis-server", "addr", a.localRedis.Addr)
	}
	if cfg.MongoURI == "" {
		if a.devStore, err = mongostore.StartDevStore(ctx, "127.0.0.1:0", filepath.Join(cfg.DataDir, "ferretdb")); err != nil {
			return err
		}
		cfg.MongoURI = a.devStore.URI
		log.Info("started embedded MongoDB-wire store", "addr", a.devStore.Addr, "dir", filepath.Join(cfg.DataDir, "ferretdb"))
	}
	if a.redis, err = redisx.NewManager(ctx, cfg.RedisURL); err != nil {
		return err
	}
	if a.store, err = mongostore.Open(ctx, cfg.MongoURI, cfg.MongoDB); err != nil {
		return err
	}
	a.rooms = room.NewStore(a.redis.KV(), cfg.Limits.HistoryKept)
	a.queue = asynq.NewClientFromRedisClient(a.redis.Queue())
	a.flusher = jobs.NewFlusher(a.rooms, a.store, cfg.RoomIdleTTL, cfg.FlushRate, log.With("component", "flush"))
	if roles.Jobs {
		sweeper := jobs.NewSweeper(a.rooms, a.queue, cfg.RoomIdleTTL, flushMaxRetry, log.With("component", "sweep"))
		a.runner = jobs.NewRunner(a.redis.Queue(), a.flusher, sweeper, jobs.RunnerOptions{
			Interval: cfg.FlushInterval, Concurrency: cfg.FlushWorkers,
			RetryBase: time.Second, RetryMax: time.Minute, ShutdownTimeout: cfg.ShutdownGrace / 2,
		}, log)
	}
	if roles.Web {
		a.hub = collab.NewHub(collab.Options{NodeID: cfg.NodeID, HeartbeatTTL: cfg.HeartbeatTTL, Limits: collab.Limits{
			MaxFiles: cfg.Limits.MaxFiles, MaxFileBytes: cfg.Limits.MaxFileBytes, MaxMembers: cfg.Limits.MaxMembers,
			SendQueue: cfg.Limits.SendQueue, CursorsPerSec: cfg.Limits.CursorsPerSec,
		}}, a.rooms, a.store, a.redis.Subscriber(), a.redis.Publisher(), log)
		a.http = server.New(server.Deps{
			Shards: a.store, Rooms: a.rooms, Hub: a.hub, Log: log,
			MaxMessage: cfg.Limits.MaxMessageBytes, AllowedOrigins: cfg.AllowedOrigins,
			Checks: []server.Check{{Name: "redis", Fn: a.redis.Ping}, {Name: "mongo", Fn: a.store.Ping}},
		})
	}
	a.cfg = cfg
	return nil
}

// NodeID is the node's id.
func (a *App) NodeID() string { return a.cfg.NodeID }

// Flusher is the node's flusher (tests drive it directly).
func (a *App) Flusher() *jobs.Flusher { return a.flusher }

// Start runs the node's roles; with Web, it serves HTTP on ln (nil: listen
// on HTTP_ADDR).
func (a *App) Start(ctx context.Context, ln net.Listener) error {
	if a.runner != nil {
		if err := a.runner.Start(); err != nil {
			return err
		}
	}
	if a.http == nil {
		return nil
	}
	if err := a.hub.Run(ctx); err != nil {
		return err
	}
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", a.cfg.HTTPAddr); err != nil {
			return fmt.Errorf("app: listen on HTTP_ADDR %s: %w", a.cfg.HTTPAddr, err)
		}
	}
	a.ln = ln
	go func() { a.served <- a.http.Listener(ln) }()
	a.log.Info("serving", "addr", ln.Addr().String(), "node", a.cfg.NodeID)
	return nil
}

// Addr is the address HTTP is served on.
func (a *App) Addr() string { return a.ln.Addr().String() }

// Served yields the HTTP server's result if it stops on its own.
func (a *App) Served() <-chan error { return a.served }

// Shutdown stops the node gracefully: sockets are told room.closed and
// leave, HTTP stops, dirty rooms are flushed, the worker drains, and every
// connection is closed.
func (a *App) Shutdown(ctx context.Context) error {
	if a.stopped {
		return nil
	}
	a.stopped = true
	var errs []error
	if a.hub != nil {
		if err := a.hub.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("app: collab shutdown: %w", err))
		}
		if err := a.http.ShutdownWithContext(ctx); err != nil {
			errs = append(errs, fmt.Errorf("app: http shutdown: %w", err))
		}
	}
	if err := a.flushDirty(ctx); err != nil {
		errs = append(errs, err)
	}
	if a.runner != nil {
		a.runner.Shutdown()
	}
	a.closeAll(ctx)
	return errors.Join(errs...)
}

func (a *App) flushDirty(ctx context.Context) error {
	rooms, err := a.rooms.LiveRooms(ctx)
	if err != nil {
		return fmt.Errorf("app: flush at shutdown: %w", err)
	}
	var errs []error
	for _, st := range rooms {
		if st.Dirty {
			if err := a.flusher.Flush(ctx, st.ID); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("app: flush at shutdown: %w", errors.Join(errs...))
	}
	return nil
}

// Kill stops the node abruptly, as a crash would: no room.closed, no
// leaving, no flush. Its members stay in Redis until other nodes reap them.
func (a *App) Kill() {
	if a.stopped {
		return
	}
	a.stopped = true
	if a.ln != nil {
		_ = a.ln.Close()
	}
	if a.hub != nil {
		a.hub.Kill()
	}
	if a.runner != nil {
		a.runner.Shutdown()
	}
	a.closeAll(context.Background())
}

func (a *App) closeAll(ctx context.Context) {
	if a.queue != nil {
		_ = a.queue.Close()
	}
	if a.redis != nil {
		_ = a.redis.Close()
	}
	if a.store != nil {
		_ = a.store.Close(ctx)
	}
	if a.devStore != nil {
		a.devStore.Stop()
	}
	if a.localRedis != nil {
		a.localRedis.Stop()
	}
}
