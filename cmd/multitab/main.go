// Command multitab runs a multitab node.
//
//	multitab serve                         web, websocket and flush jobs
//	multitab worker                        flush jobs only
//	multitab devstore --addr H:P --dir D   only the embedded MongoDB-wire store
//	multitab loadgen [flags]               simulated typists against running nodes
//
// Configuration comes from the environment (see README.md).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/multitab/multitab/internal/app"
	"github.com/multitab/multitab/internal/config"
	"github.com/multitab/multitab/internal/loadgen"
	"github.com/multitab/multitab/internal/mongostore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "multitab:", err)
		os.Exit(1)
	}
}

const usage = `usage: multitab <command>

commands:
  serve      run a node: web pages, JSON API, websocket and flush jobs
  worker     run flush jobs only (no HTTP)
  devstore   run only the embedded MongoDB-wire store (--addr, --dir)
  loadgen    simulate people typing against running nodes (-h for flags)
`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return runNode(ctx, getenv, stderr, app.Roles{Web: true, Jobs: true})
	case "worker":
		return runNode(ctx, getenv, stderr, app.Roles{Jobs: true})
	case "devstore":
		return runDevStore(ctx, args[1:], stdout, stderr)
	case "loadgen":
		return loadgen.Main(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func runNode(ctx context.Context, getenv func(string) string, stderr io.Writer, roles app.Roles) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	node, err := app.New(ctx, cfg, log, roles)
	if err != nil {
		return err
	}
	if err := node.Start(ctx, nil); err != nil {
		_ = node.Shutdown(context.Background())
		return err
	}
	var served error
	select {
	case <-ctx.Done():
		log.Info("shutting down", "node", node.NodeID())
	case served = <-node.Served():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	return errors.Join(served, node.Shutdown(shutdownCtx))
}

func runDevStore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("devstore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:27017", "address to serve the MongoDB wire protocol on")
	dir := fs.String("dir", "./data/ferretdb", "directory for the SQLite files")
	if err := fs.Parse(args); err != nil {
		return err
	}
	d, err := mongostore.StartDevStore(ctx, *addr, *dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "devstore: serving %s (data in %s)\n", d.URI, *dir)
	<-ctx.Done()
	d.Stop()
	return nil
}
