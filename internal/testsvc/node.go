package testsvc

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/multitab/multitab/internal/app"
	"github.com/multitab/multitab/internal/config"
	"github.com/multitab/multitab/internal/mongostore"
	"github.com/multitab/multitab/internal/redisx"
)

// Env is a node's environment for config.Load.
type Env map[string]string

// Get is config.Load's getenv.
func (e Env) Get(k string) string { return e[k] }

// With returns a copy of e with more variables.
func (e Env) With(kv ...string) Env {
	out := Env{}
	for k, v := range e {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// Services are the shared Redis and store several nodes run on.
type Services struct {
	Redis *redisx.Local
	Store *mongostore.DevStore
	Env   Env
}

// Start starts a redis-server and the embedded store, and returns the
// environment that points nodes at them (own database per test).
func Start(tb testing.TB) *Services {
	tb.Helper()
	r := Redis(tb)
	d := DevStore(tb)
	return &Services{Redis: r, Store: d, Env: Env{
		"REDIS_URL": r.URL, "MONGO_URI": d.URI, "MONGO_DB": DBName(tb),
		"DATA_DIR": tb.TempDir(), "LOG_LEVEL": "error",
		"HEARTBEAT_TTL": "2s", "FLUSH_INTERVAL": "1s", "ROOM_IDLE_TTL": "1s",
	}}
}

// Logger is a logger for nodes under test: quiet unless MULTITAB_TEST_LOG is set.
func Logger() *slog.Logger {
	if os.Getenv("MULTITAB_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Node starts a node with env on a free loopback port. It is shut down
// gracefully at cleanup unless the test killed it.
func Node(tb testing.TB, env Env, roles app.Roles) *app.App {
	tb.Helper()
	cfg, err := config.Load(env.Get)
	if err != nil {
		tb.Fatalf("testsvc: config: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	node, err := app.New(ctx, cfg, Logger(), roles)
	if err != nil {
		tb.Fatalf("testsvc: node: %v", err)
	}
	var ln net.Listener
	if roles.Web {
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			tb.Fatal(err)
		}
	}
	if err := node.Start(ctx, ln); err != nil {
		tb.Fatalf("testsvc: start node: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = node.Shutdown(ctx)
	})
	return node
}
