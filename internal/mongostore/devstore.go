package mongostore

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// DevStore is the embedded MongoDB-wire server (FerretDB v1 on SQLite) that
// runs when no MONGO_URI is given, and in tests.
type DevStore struct {
	URI    string
	Addr   string
	Dir    string
	cancel context.CancelFunc
	done   chan struct{}
}

// StartDevStore serves the MongoDB wire protocol on addr (host:port; port 0
// picks a free one) with its data under dir, until Stop or ctx ends.
func StartDevStore(ctx context.Context, addr, dir string) (*DevStore, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("mongostore: devstore dir: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("mongostore: devstore dir: %w", err)
	}
	// FerretDB logs every error reply at WARN with a full dump; only its
	// errors are worth showing.
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: addr},
		Logger:    quiet,
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/",
	})
	if err != nil {
		return nil, fmt.Errorf("mongostore: start devstore: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d := &DevStore{URI: f.MongoDBURI(), Dir: abs, cancel: cancel, done: make(chan struct{})}
	d.Addr = hostPort(d.URI)
	go func() {
		defer close(d.done)
		_ = f.Run(runCtx)
	}()
	go func() {
		select {
		case <-ctx.Done():
			cancel()
		case <-d.done:
		}
	}()
	if err := waitTCP(ctx, d.Addr, 10*time.Second); err != nil {
		d.Stop()
		return nil, fmt.Errorf("mongostore: devstore on %s: %w", d.Addr, err)
	}
	return d, nil
}

// Stop closes the listener and the SQLite files and waits for both.
func (d *DevStore) Stop() {
	d.cancel()
	<-d.done
}

func hostPort(uri string) string {
	// mongodb://127.0.0.1:12345/
	const prefix = "mongodb://"
	h := uri[len(prefix):]
	for i := 0; i < len(h); i++ {
		if h[i] == '/' || h[i] == '?' {
			return h[:i]
		}
	}
	return h
}

func waitTCP(ctx context.Context, addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
