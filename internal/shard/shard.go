// Package shard holds multitab's domain: a shard is a stored code project of
// several files, created from a template. It declares the Repository that
// stores implement and the rules every layer shares (names, limits, tokens).
package shard

import (
	"context"
	"time"

	"github.com/multitab/multitab/internal/apperr"
)

// Visibility says who may open a shard without a token.
type Visibility string

// Visibilities.
const (
	Public  Visibility = "public"
	Private Visibility = "private"
)

// Valid reports whether v is a known visibility.
func (v Visibility) Valid() bool { return v == Public || v == Private }

// Shard is a code project: its metadata and its files.
type Shard struct {
	ID           string
	Title        string
	Template     string
	Visibility   Visibility
	Dependencies map[string]string
	// EditTokenHash and ViewTokenHash are SHA-256 hashes (hex) of the
	// private shard's tokens; the tokens themselves are never stored.
	EditTokenHash string
	ViewTokenHash string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	LastSyncAt    time.Time
	// Rev counts every change to the shard (edits and file operations). A
	// write carrying an older Rev than the stored one changes nothing.
	Rev int64
	// FileCount is the number of live files, shown in listings. FindByID
	// sets it; Save stores it, since Files may hold only changed files.
	FileCount int
	Files     []File
}

// File is one file of a shard. ID is stable across renames.
type File struct {
	ID      string
	Name    string
	Text    string
	Version int64
	// Seq orders files by creation.
	Seq int64
	// Deleted marks a file removed from the shard (kept so that an older
	// flush cannot bring it back).
	Deleted bool
}

// Summary is a shard without its files, for listings.
type Summary struct {
	ID         string
	Title      string
	Template   string
	Visibility Visibility
	CreatedAt  time.Time
	UpdatedAt  time.Time
	LastSyncAt time.Time
	FileCount  int
}

// ListQuery selects shards for a listing.
type ListQuery struct {
	// Search matches titles case-insensitively; empty matches all.
	Search string
	// Visibility filters by visibility; empty means any.
	Visibility Visibility
	Offset     int
	Limit      int
}

// Errors that repositories return (wrapped with context).
var (
	ErrNotFound = apperr.New(apperr.NotFound, "shard not found")
	ErrExists   = apperr.New(apperr.Conflict, "shard already exists")
	// ErrStale means the write carried older content than the store holds;
	// the newer stored content was kept.
	ErrStale = apperr.New(apperr.Conflict, "stale write: the store holds newer content")
)

// Repository stores shards. Implementations must be safe for concurrent use.
type Repository interface {
	// Create stores a new shard with its files. Returns ErrExists if the id
	// is taken.
	Create(ctx context.Context, s *Shard) error
	// FindByID returns the shard with its live (not deleted) files ordered
	// by Seq. Returns ErrNotFound if there is none.
	FindByID(ctx context.Context, id string) (*Shard, error)
	// Save writes the shard's metadata and the given files, each fenced by
	// (Version, Rev): a file whose stored (version, rev) is newer is left
	// as it is. Deleted files are marked deleted. Returns ErrNotFound if the
	// shard does not exist and ErrStale if any part was older than stored
	// (the rest is still written).
	Save(ctx context.Context, s *Shard) error
	// List returns one page of summaries, newest first, and the total count.
	List(ctx context.Context, q ListQuery) ([]Summary, int, error)
	// Delete removes a shard and its files. Returns ErrNotFound if absent.
	Delete(ctx context.Context, id string) error
	// Ping checks that the store is reachable.
	Ping(ctx context.Context) error
}
