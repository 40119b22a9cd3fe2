// Package redisx owns multitab's Redis connections (the seed's
// RedisManager) and can start a local redis-server for development and tests.
package redisx

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Manager owns one Redis client per role. Build it once in main, pass it to
// whoever needs a connection, and Close it once at the end. Accessors are
// typed, so asking for a role that does not exist is a compile error.
type Manager struct {
	kv, publisher, subscriber, queue *redis.Client
	closeOnce                        sync.Once
	closeErr                         error
}

// NewManager connects the four roles to the Redis at url
// (redis://[:password@]host:port[/db]) and pings each.
func NewManager(ctx context.Context, url string) (*Manager, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redisx: parse REDIS_URL: %w", err)
	}
	client := func(name string, pool int) *redis.Client {
		o := *opts
		o.ClientName = "multitab-" + name
		if pool > 0 {
			o.PoolSize = pool
		}
		return redis.NewClient(&o)
	}
	m := &Manager{
		kv:         client("kv", 0),
		publisher:  client("pub", 4),
		subscriber: client("sub", 2),
		queue:      client("queue", 0),
	}
	if err := m.Ping(ctx); err != nil {
		_ = m.Close()
		return nil, err
	}
	return m, nil
}

// KV is the connection for room state, logs and scripts.
func (m *Manager) KV() *redis.Client { return m.kv }

// Publisher is the connection for PUBLISH outside scripts (presence).
func (m *Manager) Publisher() *redis.Client { return m.publisher }

// Subscriber is the connection the node's one subscription runs on.
func (m *Manager) Subscriber() *redis.Client { return m.subscriber }

// Queue is the connection asynq uses (shared, so asynq never closes it).
func (m *Manager) Queue() *redis.Client { return m.queue }

// Ping checks every connection.
func (m *Manager) Ping(ctx context.Context) error {
	for name, c := range m.clients() {
		if err := c.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("redisx: ping %s: %w", name, err)
		}
	}
	return nil
}

// Close closes every connection; later calls return the first result.
func (m *Manager) Close() error {
	m.closeOnce.Do(func() {
		var errs []error
		for name, c := range m.clients() {
			if err := c.Close(); err != nil {
				errs = append(errs, fmt.Errorf("redisx: close %s: %w", name, err))
			}
		}
		m.closeErr = errors.Join(errs...)
	})
	return m.closeErr
}

func (m *Manager) clients() map[string]*redis.Client {
	return map[string]*redis.Client{"kv": m.kv, "publisher": m.publisher, "subscriber": m.subscriber, "queue": m.queue}
}
