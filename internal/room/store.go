package room

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf16"

	"github.com/redis/go-redis/v9"

	"github.com/multitab/multitab/internal/apperr"
	"github.com/multitab/multitab/internal/changeset"
	"github.com/multitab/multitab/internal/shard"
)

// Errors of room operations.
var (
	// ErrAbsent means the shard has no room in Redis (never loaded, or
	// evicted): load it from the database and try again.
	ErrAbsent = errors.New("room: not in redis")
	// ErrUnknownFile means the file does not exist (or was deleted).
	ErrUnknownFile = apperr.New(apperr.NotFound, "file not found")
	// ErrRoomFull means the room has as many members as allowed.
	ErrRoomFull = apperr.New(apperr.RateLimited, "this room is full")
	// ErrNameTaken means another file of the shard has that name.
	ErrNameTaken = apperr.New(apperr.Conflict, "a file with that name exists")
	// ErrTooManyFiles means the shard has as many files as allowed.
	ErrTooManyFiles = apperr.New(apperr.TooLarge, "this shard has as many files as allowed")
)

// ErrHistoryGone is returned by ReadLog when the updates asked for were
// compacted away; Oldest is the oldest version still held.
type ErrHistoryGone struct{ Oldest int64 }

func (e *ErrHistoryGone) Error() string {
	return fmt.Sprintf("room: history before version %d is gone", e.Oldest)
}

// VersionMismatch is returned by Commit when the push was based on another
// version than the file's current one.
type VersionMismatch struct{ Current int64 }

func (e *VersionMismatch) Error() string {
	return fmt.Sprintf("room: file is at version %d", e.Current)
}

// LengthMismatch is returned by Commit when the changes do not cover the
// file's current length.
type LengthMismatch struct{ Want, Got int }

func (e *LengthMismatch) Error() string {
	return fmt.Sprintf("changes cover %d units but the file has %d", e.Got, e.Want)
}

// Member is one connected socket in a room, as the protocol shows it.
type Member struct {
	ID    string  `json:"member"`
	Name  string  `json:"name"`
	Color string  `json:"color"`
	File  *string `json:"file"`
	// Node is the id of the server node the socket is connected to.
	Node string `json:"node"`
}

// FileInfo is a file as listed in joined and files messages.
type FileInfo struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Version int64  `json:"version"`
}

// Info is a room's metadata, files and members read in one step.
type Info struct {
	Title         string
	Template      string
	Visibility    shard.Visibility
	Dependencies  map[string]string
	EditTokenHash string
	ViewTokenHash string
	CreatedAt     time.Time
	LastSyncAt    time.Time
	Rev           int64
	// FilesJSON is Files as the protocol's JSON array.
	FilesJSON json.RawMessage
	Files     []FileInfo
	Members   []Member
}

// fileListing is a file's entry in the files hash (the scripts read the
// same fields).
type fileListing struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Seq  int64  `json:"seq"`
}

// Doc is a file's text at a version.
type Doc struct {
	Version int64
	Text    string
}

// Store reads and writes rooms in Redis.
type Store struct {
	rdb         *redis.Client
	historyKept int
	now         func() time.Time
}

// NewStore returns a Store on the KV connection. historyKept is how many
// updates per file survive a compaction, for clients that pull.
func NewStore(rdb *redis.Client, historyKept int) *Store {
	return &Store{rdb: rdb, historyKept: historyKept, now: time.Now}
}

func (s *Store) nowMillis() string { return strconv.FormatInt(s.now().UnixMilli(), 10) }

// Populate loads sh into Redis unless its room exists; it reports whether it
// did. The room is listed as live either way.
func (s *Store) Populate(ctx context.Context, sh *shard.Shard) (bool, error) {
	k := keysOf(sh.ID)
	deps, _ := json.Marshal(sh.Dependencies)
	var maxSeq int64
	for _, f := range sh.Files {
		maxSeq = max(maxSeq, f.Seq)
	}
	meta := []any{
		"title", sh.Title, "template", sh.Template, "visibility", string(sh.Visibility), "deps", string(deps),
		"eth", sh.EditTokenHash, "vth", sh.ViewTokenHash, "created", sh.CreatedAt.UnixMilli(),
		"lastsync", sh.LastSyncAt.UnixMilli(), "rev", sh.Rev, "frev", sh.Rev, "seq", maxSeq,
		// Stamped empty now, so that an idle room is never evicted before
		// the person who loaded it has joined.
		"empty", s.now().UnixMilli(),
	}
	args := append([]any{k.prefix(), len(meta) / 2}, meta...)
	for _, f := range sh.Files {
		listing, _ := json.Marshal(fileListing{f.ID, f.Name, f.Seq})
		args = append(args, f.ID, string(listing), f.Name, f.Version, changeset.Length(f.Text), f.Text)
	}
	n, err := populateScript.Run(ctx, s.rdb, []string{k.room(), k.files(), k.names()}, args...).Int()
	if err != nil {
		return false, fmt.Errorf("room: populate %q: %w", sh.ID, err)
	}
	if err := s.rdb.SAdd(ctx, liveRoomsKey, sh.ID).Err(); err != nil {
		return false, fmt.Errorf("room: list %q as live: %w", sh.ID, err)
	}
	return n == 1, nil
}

// Join adds m to the room and announces it. Returns ErrAbsent when the room
// is not in Redis and ErrRoomFull at the member limit.
func (s *Store) Join(ctx context.Context, id string, m Member, limit int) error {
	k := keysOf(id)
	mj, _ := json.Marshal(m)
	event := `{"type":"member.joined","member":` + string(mj) + `}`
	n, err := joinScript.Run(ctx, s.rdb, []string{k.room(), k.members()}, m.ID, string(mj), limit, k.channel(), event).Int()
	switch {
	case err != nil:
		return fmt.Errorf("room: join %q: %w", id, err)
	case n == -1:
		return ErrAbsent
	case n == -2:
		return ErrRoomFull
	}
	return nil
}

// Leave removes a member and announces it; it returns how many are left.
func (s *Store) Leave(ctx context.Context, id, memberID string) (int, error) {
	k := keysOf(id)
	mj, _ := json.Marshal(memberID)
	event := `{"type":"member.left","member":` + string(mj) + `}`
	n, err := leaveScript.Run(ctx, s.rdb, []string{k.room(), k.members()}, memberID, k.channel(), event, s.nowMillis()).Int()
	if err != nil {
		return 0, fmt.Errorf("room: leave %q: %w", id, err)
	}
	return max(n, 0), nil
}

// UpdateMember replaces a member's record (e.g. the file in focus) and
// announces it.
func (s *Store) UpdateMember(ctx context.Context, id string, m Member) error {
	k := keysOf(id)
	mj, _ := json.Marshal(m)
	event := `{"type":"member.updated","member":` + string(mj) + `}`
	if err := updateMemberScript.Run(ctx, s.rdb, []string{k.members()}, m.ID, string(mj), k.channel(), event).Err(); err != nil {
		return fmt.Errorf("room: update member in %q: %w", id, err)
	}
	return nil
}

// Reap removes the members of a dead node from a room.
func (s *Store) Reap(ctx context.Context, id, node string) (int, error) {
	k := keysOf(id)
	n, err := reapScript.Run(ctx, s.rdb, []string{k.room(), k.members()}, node, k.channel(), s.nowMillis()).Int()
	if err != nil {
		return 0, fmt.Errorf("room: reap node %q from %q: %w", node, id, err)
	}
	return n, nil
}

// Commit appends updates (each the JSON of one collab update) to a file at
// base, whose text must be lenBefore units long; lenAfter is its length
// after them. Returns the new version. Errors: *VersionMismatch,
// *LengthMismatch, ErrUnknownFile, ErrAbsent.
func (s *Store) Commit(ctx context.Context, id, fid string, base int64, lenBefore, lenAfter int, updates []json.RawMessage) (int64, error) {
	k := keysOf(id)
	args := make([]any, 0, 5+len(updates))
	args = append(args, k.channel(), fid, base, lenBefore, lenAfter)
	for _, u := range updates {
		args = append(args, string(u))
	}
	res, err := commitScript.Run(ctx, s.rdb, []string{k.room(), k.file(fid), k.log(fid)}, args...).Int64Slice()
	if err != nil {
		return 0, fmt.Errorf("room: commit to %q/%q: %w", id, fid, err)
	}
	switch res[0] {
	case 0:
		return res[1], nil
	case -1:
		return 0, &VersionMismatch{Current: res[1]}
	case -2:
		return 0, ErrUnknownFile
	case -3:
		return 0, ErrAbsent
	default:
		return 0, &LengthMismatch{Want: int(res[1]), Got: lenBefore}
	}
}

// CreateFile adds a file with the given text, announced to every member.
func (s *Store) CreateFile(ctx context.Context, id, fid, name, text string, fileLimit int, by string) error {
	k := keysOf(id)
	n, err := createFileScript.Run(ctx, s.rdb, []string{k.room(), k.files(), k.names()},
		k.prefix(), k.channel(), fid, name, text, changeset.Length(text), fileLimit, by).Int()
	if err != nil {
		return fmt.Errorf("room: create file in %q: %w", id, err)
	}
	return fileOpError(n)
}

// RenameFile renames a file, keeping its id.
func (s *Store) RenameFile(ctx context.Context, id, fid, name, by string) error {
	k := keysOf(id)
	n, err := renameFileScript.Run(ctx, s.rdb, []string{k.room(), k.files(), k.names()},
		k.prefix(), k.channel(), fid, name, by).Int()
	if err != nil {
		return fmt.Errorf("room: rename file in %q: %w", id, err)
	}
	return fileOpError(n)
}

// DeleteFile removes a file.
func (s *Store) DeleteFile(ctx context.Context, id, fid, by string) error {
	k := keysOf(id)
	n, err := deleteFileScript.Run(ctx, s.rdb, []string{k.room(), k.files(), k.names(), k.gone()},
		k.prefix(), k.channel(), fid, by).Int()
	if err != nil {
		return fmt.Errorf("room: delete file in %q: %w", id, err)
	}
	return fileOpError(n)
}

// fileOpError maps the return codes shared by the file scripts.
func fileOpError(n int) error {
	switch n {
	case 0:
		return nil
	case -1:
		return ErrNameTaken
	case -2:
		return ErrUnknownFile
	case -3:
		return ErrAbsent
	}
	return ErrTooManyFiles
}

// ReadDoc materialises a file's text at its current version.
func (s *Store) ReadDoc(ctx context.Context, id, fid string) (Doc, error) {
	k := keysOf(id)
	res, err := readDocScript.Run(ctx, s.rdb, []string{k.file(fid), k.log(fid)}).Slice()
	if err != nil {
		return Doc{}, fmt.Errorf("room: read %q/%q: %w", id, fid, err)
	}
	if len(res) == 0 {
		return Doc{}, ErrUnknownFile
	}
	version, snap := res[0].(int64), res[2].(string)
	text, err := Materialize(snap, stringsOf(res[3:]))
	if err != nil {
		return Doc{}, fmt.Errorf("room: read %q/%q: %w", id, fid, err)
	}
	return Doc{Version: version, Text: text}, nil
}

// ReadLog returns the updates of a file from version from up to to
// (exclusive; to < 0 means up to the current version), and the current
// version. Errors: *ErrHistoryGone, ErrUnknownFile.
func (s *Store) ReadLog(ctx context.Context, id, fid string, from, to int64) ([]json.RawMessage, int64, error) {
	k := keysOf(id)
	res, err := readLogScript.Run(ctx, s.rdb, []string{k.file(fid), k.log(fid)}, from, to).Slice()
	if err != nil {
		return nil, 0, fmt.Errorf("room: read log of %q/%q: %w", id, fid, err)
	}
	switch res[0].(int64) {
	case -1:
		return nil, 0, &ErrHistoryGone{Oldest: res[1].(int64)}
	case -2:
		return nil, 0, ErrUnknownFile
	}
	entries := make([]json.RawMessage, 0, len(res)-2)
	for _, e := range stringsOf(res[2:]) {
		entries = append(entries, json.RawMessage(e))
	}
	return entries, res[1].(int64), nil
}

// ReadRoom reads a room's metadata, files and members in one step. Returns
// ErrAbsent when the room is not in Redis.
func (s *Store) ReadRoom(ctx context.Context, id string) (*Info, error) {
	k := keysOf(id)
	res, err := readRoomScript.Run(ctx, s.rdb, []string{k.room(), k.files(), k.members()}, k.prefix()).Slice()
	if err != nil {
		return nil, fmt.Errorf("room: read %q: %w", id, err)
	}
	if len(res) == 0 {
		return nil, ErrAbsent
	}
	info := infoFromHash(pairs(res[0]))
	info.FilesJSON = json.RawMessage(res[1].(string))
	if err := json.Unmarshal(info.FilesJSON, &info.Files); err != nil {
		return nil, fmt.Errorf("room: read %q files: %w", id, err)
	}
	for _, raw := range stringsOf(res[2:]) {
		var m Member
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			return nil, fmt.Errorf("room: read %q member: %w", id, err)
		}
		info.Members = append(info.Members, m)
	}
	return info, nil
}

func infoFromHash(h map[string]string) *Info {
	info := &Info{
		Title: h["title"], Template: h["template"], Visibility: shard.Visibility(h["visibility"]),
		EditTokenHash: h["eth"], ViewTokenHash: h["vth"],
		CreatedAt: millis(h["created"]), LastSyncAt: millis(h["lastsync"]),
	}
	info.Rev, _ = strconv.ParseInt(h["rev"], 10, 64)
	_ = json.Unmarshal([]byte(h["deps"]), &info.Dependencies)
	return info
}

func millis(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}

// Materialize applies log entries (collab update JSON) to a snapshot.
func Materialize(snapshot string, entries []string) (string, error) {
	if len(entries) == 0 {
		return snapshot, nil
	}
	doc := utf16.Encode([]rune(snapshot))
	for i, e := range entries {
		var u struct {
			Changes json.RawMessage `json:"changes"`
		}
		if err := json.Unmarshal([]byte(e), &u); err != nil {
			return "", fmt.Errorf("log entry %d: %w", i, err)
		}
		cs, err := changeset.Parse(u.Changes)
		if err != nil {
			return "", fmt.Errorf("log entry %d: %w", i, err)
		}
		if doc, err = cs.Apply(doc); err != nil {
			return "", fmt.Errorf("log entry %d: %w", i, err)
		}
	}
	return string(utf16.Decode(doc)), nil
}

func stringsOf(vals []any) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i], _ = v.(string)
	}
	return out
}

func pairs(v any) map[string]string {
	flat, _ := v.([]any)
	m := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		k, _ := flat[i].(string)
		val, _ := flat[i+1].(string)
		m[k] = val
	}
	return m
}

// Versions returns the current version of each file (-1 for unknown ones).
func (s *Store) Versions(ctx context.Context, id string, fids []string) ([]int64, error) {
	k := keysOf(id)
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(fids))
	for i, fid := range fids {
		cmds[i] = pipe.HGet(ctx, k.file(fid), "v")
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("room: versions in %q: %w", id, err)
	}
	out := make([]int64, len(fids))
	for i, c := range cmds {
		v, err := c.Int64()
		if err != nil {
			v = -1
		}
		out[i] = v
	}
	return out, nil
}
