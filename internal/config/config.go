// Package config reads multitab's configuration from the environment once,
// at start, and validates it with errors that name the variable.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Config is everything a node needs to run. Zero values are never used:
// Load fills defaults.
type Config struct {
	HTTPAddr       string        // HTTP_ADDR
	RedisURL       string        // REDIS_URL; empty: start a local redis-server
	MongoURI       string        // MONGO_URI; empty: start the embedded store
	MongoDB        string        // MONGO_DB
	NodeID         string        // NODE_ID; empty: generated at start
	DataDir        string        // DATA_DIR: local Redis and embedded store data
	AdminUser      string        // ADMIN_USER
	AdminPassHash  []byte        // bcrypt of ADMIN_PASSWORD, or ADMIN_PASSWORD_HASH
	AllowedOrigins []string      // ALLOWED_ORIGINS, comma-separated
	LogLevel       slog.Level    // LOG_LEVEL
	LogFormat      string        // LOG_FORMAT: text | json
	FlushInterval  time.Duration // FLUSH_INTERVAL
	HeartbeatTTL   time.Duration // HEARTBEAT_TTL
	RoomIdleTTL    time.Duration // ROOM_IDLE_TTL: empty room kept before eviction
	ShutdownGrace  time.Duration // SHUTDOWN_TIMEOUT
	FlushWorkers   int           // FLUSH_CONCURRENCY
	FlushRate      float64       // FLUSH_RATE: flushes per second, at most
	Limits         Limits
}

// Limits bound what one client can make the server hold.
type Limits struct {
	MaxMessageBytes int // MAX_MESSAGE_BYTES: one websocket frame
	MaxFiles        int // MAX_FILES: files in one shard
	MaxFileBytes    int // MAX_FILE_BYTES: one file's text (UTF-8 bytes)
	MaxMembers      int // MAX_MEMBERS: members of one room
	SendQueue       int // SEND_QUEUE: frames queued to one slow socket
	CursorsPerSec   int // CURSOR_RATE: cursor messages per member per second
	HistoryKept     int // HISTORY_KEPT: updates per file kept for pull after a flush
}

// Load reads the configuration through getenv (os.Getenv in main, a map in
// tests) and validates it. The error lists every invalid variable.
func Load(getenv func(string) string) (Config, error) {
	r := reader{getenv: getenv}
	c := Config{
		HTTPAddr:      r.str("HTTP_ADDR", ":8080"),
		RedisURL:      r.str("REDIS_URL", ""),
		MongoURI:      r.str("MONGO_URI", ""),
		MongoDB:       r.str("MONGO_DB", "multitab"),
		NodeID:        r.str("NODE_ID", ""),
		DataDir:       r.str("DATA_DIR", "./data"),
		AdminUser:     r.str("ADMIN_USER", "admin"),
		LogFormat:     r.str("LOG_FORMAT", "text"),
		FlushInterval: r.duration("FLUSH_INTERVAL", 5*time.Second),
		HeartbeatTTL:  r.duration("HEARTBEAT_TTL", 15*time.Second),
		RoomIdleTTL:   r.duration("ROOM_IDLE_TTL", 30*time.Second),
		ShutdownGrace: r.duration("SHUTDOWN_TIMEOUT", 20*time.Second),
		FlushWorkers:  r.integer("FLUSH_CONCURRENCY", 3, 1, 1000),
		FlushRate:     r.float("FLUSH_RATE", 10),
		Limits: Limits{
			MaxMessageBytes: r.integer("MAX_MESSAGE_BYTES", 1<<20, 1024, 64<<20),
			MaxFiles:        r.integer("MAX_FILES", 200, 1, 10000),
			MaxFileBytes:    r.integer("MAX_FILE_BYTES", 1<<20, 1024, 16<<20),
			MaxMembers:      r.integer("MAX_MEMBERS", 100, 1, 100000),
			SendQueue:       r.integer("SEND_QUEUE", 1024, 16, 1<<20),
			CursorsPerSec:   r.integer("CURSOR_RATE", 20, 1, 1000),
			HistoryKept:     r.integer("HISTORY_KEPT", 1000, 10, 1<<20),
		},
	}
	if v := r.str("ALLOWED_ORIGINS", ""); v != "" {
		for _, o := range strings.Split(v, ",") {
			o = strings.TrimSpace(o)
			if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" {
				r.fail("ALLOWED_ORIGINS", fmt.Errorf("%q is not an origin like https://example.com", o))
				continue
			}
			c.AllowedOrigins = append(c.AllowedOrigins, strings.TrimRight(o, "/"))
		}
	}
	if err := c.LogLevel.UnmarshalText([]byte(r.str("LOG_LEVEL", "info"))); err != nil {
		r.fail("LOG_LEVEL", errors.New("must be debug, info, warn or error"))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		r.fail("LOG_FORMAT", errors.New("must be text or json"))
	}
	if c.FlushRate <= 0 {
		r.fail("FLUSH_RATE", errors.New("must be greater than 0"))
	}
	for name, d := range map[string]time.Duration{"FLUSH_INTERVAL": c.FlushInterval, "HEARTBEAT_TTL": c.HeartbeatTTL, "SHUTDOWN_TIMEOUT": c.ShutdownGrace} {
		if d <= 0 {
			r.fail(name, errors.New("must be a positive duration such as 5s"))
		}
	}
	if c.FlushInterval > 0 && c.FlushInterval < time.Second {
		r.fail("FLUSH_INTERVAL", errors.New("must be at least 1s (the schedule runs on whole seconds)"))
	}
	if c.RoomIdleTTL < 0 {
		r.fail("ROOM_IDLE_TTL", errors.New("must not be negative"))
	}
	c.AdminPassHash = r.adminHash()
	return c, errors.Join(r.errs...)
}

type reader struct {
	getenv func(string) string
	errs   []error
}

func (r *reader) fail(name string, err error) {
	r.errs = append(r.errs, fmt.Errorf("config: %s: %w", name, err))
}

func (r *reader) str(name, def string) string {
	if v := strings.TrimSpace(r.getenv(name)); v != "" {
		return v
	}
	return def
}

func (r *reader) duration(name string, def time.Duration) time.Duration {
	v := r.str(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		r.fail(name, fmt.Errorf("%q is not a Go duration such as 5s or 250ms", v))
		return def
	}
	return d
}

func (r *reader) integer(name string, def, lo, hi int) int {
	v := r.str(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		r.fail(name, fmt.Errorf("%q must be a whole number from %d to %d", v, lo, hi))
		return def
	}
	return n
}

func (r *reader) float(name string, def float64) float64 {
	v := r.str(name, "")
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		r.fail(name, fmt.Errorf("%q is not a number", v))
		return def
	}
	return f
}

// adminHash returns the bcrypt hash of the admin password: ADMIN_PASSWORD_HASH
// as given, or ADMIN_PASSWORD hashed now. Neither set: nil, and the admin
// area stays locked.
func (r *reader) adminHash() []byte {
	if h := r.str("ADMIN_PASSWORD_HASH", ""); h != "" {
		if _, err := bcrypt.Cost([]byte(h)); err != nil {
			r.fail("ADMIN_PASSWORD_HASH", errors.New("is not a bcrypt hash (make one with: htpasswd -bnBC 10 '' PASSWORD | tr -d ':')"))
			return nil
		}
		return []byte(h)
	}
	p := r.getenv("ADMIN_PASSWORD")
	if p == "" {
		return nil
	}
	if len(p) < 8 {
		r.fail("ADMIN_PASSWORD", errors.New("must be at least 8 characters"))
		return nil
	}
	h, err := bcrypt.GenerateFromPassword([]byte(p), bcrypt.DefaultCost)
	if err != nil {
		r.fail("ADMIN_PASSWORD", err)
		return nil
	}
	return h
}
