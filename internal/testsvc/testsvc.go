// Package testsvc starts the real services that integration tests run
// against: a redis-server child process and the embedded MongoDB-wire store.
// Only tests import it.
package testsvc

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/multitab/multitab/internal/mongostore"
	"github.com/multitab/multitab/internal/redisx"
)

// Redis starts a fresh redis-server for the test and stops it at cleanup.
func Redis(tb testing.TB) *redisx.Local {
	tb.Helper()
	l, err := redisx.StartLocal(context.Background(), "")
	if err != nil {
		tb.Fatalf("testsvc: %v", err)
	}
	tb.Cleanup(l.Stop)
	return l
}

// Manager connects a RedisManager to l and closes it at cleanup.
func Manager(tb testing.TB, l *redisx.Local) *redisx.Manager {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := redisx.NewManager(ctx, l.URL)
	if err != nil {
		tb.Fatalf("testsvc: %v", err)
	}
	tb.Cleanup(func() { _ = m.Close() })
	return m
}

// DevStore starts the embedded MongoDB-wire store in a temporary directory.
func DevStore(tb testing.TB) *mongostore.DevStore {
	tb.Helper()
	d, err := mongostore.StartDevStore(context.Background(), "127.0.0.1:0", tb.TempDir())
	if err != nil {
		tb.Fatalf("testsvc: %v", err)
	}
	tb.Cleanup(d.Stop)
	return d
}

var dbSeq atomic.Int64

// DBName returns a database name of its own for the test.
func DBName(tb testing.TB) string {
	name := strings.NewReplacer("/", "_", " ", "_").Replace(tb.Name())
	if len(name) > 40 {
		name = name[:40]
	}
	return fmt.Sprintf("t%d_%s", dbSeq.Add(1), name)
}

// Store opens a mongostore.Store on its own database of d.
func Store(tb testing.TB, d *mongostore.DevStore) *mongostore.Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := mongostore.Open(ctx, d.URI, DBName(tb))
	if err != nil {
		tb.Fatalf("testsvc: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}
