package collab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"github.com/multitab/multitab/internal/apperr"
	"github.com/multitab/multitab/internal/changeset"
	"github.com/multitab/multitab/internal/room"
	"github.com/multitab/multitab/internal/shard"
)

// Close codes a session asks its transport to close with.
const (
	CloseGoingAway = 1001 // node shutting down, room closed
	CloseTooBig    = 1009
	CloseTryAgain  = 1013 // send queue overflow: reconnect and catch up
)

// maxRebaseRetries bounds how often a push is rebased when other commits
// keep winning the race; then the client gets stale and catches up.
const maxRebaseRetries = 8

// Kick asks the transport to close the socket with a code and reason, after
// writing what is already queued.
type Kick struct {
	Code   int
	Reason string
}

// Session is one socket's conversation with the node. The transport calls
// Handle for each frame from a single goroutine, writes what Outbox yields,
// closes the socket on Kicked, and calls End when the socket is gone.
type Session struct {
	hub     *Hub
	out     chan []byte
	kick    chan Kick
	kickOne sync.Once

	// Set once by join, read by the hub's dispatch: guarded by mu.
	mu     sync.Mutex
	member room.Member
	room   *localRoom
	role   shard.Role

	// Used only from the Handle goroutine.
	cursors *rate.Limiter
}

// NewSession starts a session. It returns nil when the node is shutting
// down (the transport should refuse the socket).
func (h *Hub) NewSession() *Session {
	s := &Session{
		hub:     h,
		out:     make(chan []byte, h.opts.Limits.SendQueue),
		kick:    make(chan Kick, 1),
		cursors: rate.NewLimiter(rate.Limit(h.opts.Limits.CursorsPerSec), h.opts.Limits.CursorsPerSec),
	}
	if !h.track(s) {
		return nil
	}
	return s
}

// Outbox yields the frames to write, in order.
func (s *Session) Outbox() <-chan []byte { return s.out }

// Kicked yields once when the socket must be closed.
func (s *Session) Kicked() <-chan Kick { return s.kick }

func (s *Session) memberID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.member.ID
}

// send queues a frame without ever blocking: a socket that does not keep up
// is closed (it reconnects and pulls what it missed).
func (s *Session) send(msg []byte) {
	select {
	case s.out <- msg:
	default:
		s.close(CloseTryAgain, "send queue full: reconnect and pull")
	}
}

func (s *Session) close(code int, reason string) {
	s.kickOne.Do(func() { s.kick <- Kick{Code: code, Reason: reason} })
}

// closeRoom tells the client the room is closed, then closes the socket.
func (s *Session) closeRoom(code int, reason string) {
	select {
	case s.out <- mustJSON(roomClosedMsg{Type: "room.closed", Reason: reason}):
	default:
	}
	s.close(code, reason)
}

// TooLarge closes the session for a frame over the size limit.
func (s *Session) TooLarge(limit int) {
	s.close(CloseTooBig, fmt.Sprintf("message larger than %d bytes", limit))
}

// BinaryFrame answers a binary frame: the protocol is JSON text only.
func (s *Session) BinaryFrame() {
	s.fail(nil, apperr.New(apperr.BadRequest, "send text frames with JSON"))
}

// End leaves the room (if joined) and forgets the session.
func (s *Session) End(ctx context.Context) {
	defer s.hub.untrack(s)
	s.mu.Lock()
	r, member := s.room, s.member
	s.mu.Unlock()
	if r == nil {
		return
	}
	if s.hub.ctx.Err() == nil {
		if _, err := s.hub.rooms.Leave(ctx, r.id, member.ID); err != nil {
			s.hub.log.Warn("leave failed", "shard", r.id, "member", member.ID, "err", err)
		}
	}
	s.hub.release(r, s)
}

// Handle processes one client frame.
func (s *Session) Handle(ctx context.Context, frame []byte) {
	var m inbound
	if err := json.Unmarshal(frame, &m); err != nil {
		s.fail(nil, apperr.Errorf(apperr.BadRequest, "malformed message: %v", jsonProblem(err)))
		return
	}
	if !validRef(m.Ref) {
		s.fail(nil, apperr.New(apperr.BadRequest, "ref must be a number or a string"))
		return
	}
	s.mu.Lock()
	joined := s.room != nil
	s.mu.Unlock()
	if m.Type != "join" && !joined {
		s.fail(m.Ref, apperr.New(apperr.BadRequest, "join a shard first"))
		return
	}
	var err error
	switch m.Type {
	case "join":
		err = s.handleJoin(ctx, &m)
	case "open":
		err = s.handleOpen(ctx, &m)
	case "close":
		s.room.close(s, m.File)
	case "push":
		err = s.handlePush(ctx, &m)
	case "pull":
		err = s.handlePull(ctx, &m)
	case "cursor":
		err = s.handleCursor(ctx, &m)
	case "file.create", "file.rename", "file.delete":
		err = s.handleFileOp(ctx, &m)
	case "":
		err = apperr.New(apperr.BadRequest, `message has no "type"`)
	default:
		err = apperr.Errorf(apperr.BadRequest, "unknown message type %q", m.Type)
	}
	if err != nil {
		s.fail(m.Ref, err)
	}
}

// fail replies with an error frame; unexpected errors are logged here, once.
func (s *Session) fail(ref json.RawMessage, err error) {
	code := apperr.CodeOf(err)
	if code == apperr.Internal {
		if errors.Is(err, context.Canceled) {
			return
		}
		s.hub.log.Error("request failed", "member", s.memberID(), "err", err)
	}
	s.send(mustJSON(errorMsg{Type: "error", Ref: ref, Code: code, Message: apperr.MessageOf(err)}))
}

func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q must be %s", te.Field, te.Type)
	}
	return "not a JSON object"
}

var colorRE = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

func (s *Session) handleJoin(ctx context.Context, m *inbound) error {
	if s.room != nil {
		return apperr.New(apperr.BadRequest, "already joined: one socket belongs to one shard")
	}
	if !shard.ValidID(m.Shard) {
		return apperr.New(apperr.NotFound, "shard not found")
	}
	name := "Anonymous"
	if m.Name != nil {
		name = strings.TrimSpace(*m.Name)
	}
	if name == "" || utf8.RuneCountInString(name) > 40 || !utf8.ValidString(name) {
		return apperr.New(apperr.BadRequest, "name must be 1 to 40 characters")
	}
	color := m.Color
	if color == "" {
		color = "#607d8b"
	}
	if !colorRE.MatchString(color) {
		return apperr.New(apperr.BadRequest, `color must look like "#e91e63"`)
	}
	r, err := s.hub.acquire(ctx, m.Shard, s)
	if err != nil {
		if errors.Is(err, errClosing) {
			return apperr.New(apperr.Unavailable, "this node is shutting down: connect to another")
		}
		return err
	}
	member := room.Member{ID: shard.NewID(6), Name: name, Color: color, Node: s.hub.opts.NodeID}
	info, role, err := s.enter(ctx, m.Shard, m.Token, member)
	if err != nil {
		s.hub.release(r, s)
		return err
	}
	s.mu.Lock()
	s.room, s.member, s.role = r, member, role
	s.mu.Unlock()
	members := append(info.Members, member)
	r.markJoined(s, mustJSON(joinedMsg{Type: "joined", Ref: m.Ref, Shard: m.Shard, Title: info.Title,
		Member: member.ID, Role: string(role), Files: info.FilesJSON, Members: members}))
	return nil
}

// enter checks access and adds the member, loading the shard into Redis
// first if its room is not there (again, if it was evicted meanwhile).
func (s *Session) enter(ctx context.Context, id, token string, member room.Member) (*room.Info, shard.Role, error) {
	for attempt := 0; attempt < 5; attempt++ {
		info, err := s.hub.rooms.ReadRoom(ctx, id)
		if errors.Is(err, room.ErrAbsent) {
			if err = s.load(ctx, id); err != nil {
				return nil, "", err
			}
			continue
		}
		if err != nil {
			return nil, "", err
		}
		role, err := shard.Access(info.Visibility, info.EditTokenHash, info.ViewTokenHash, token)
		if err != nil {
			return nil, "", err
		}
		err = s.hub.rooms.Join(ctx, id, member, s.hub.opts.Limits.MaxMembers)
		if errors.Is(err, room.ErrAbsent) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		return info, role, nil
	}
	return nil, "", apperr.New(apperr.Unavailable, "the room is being reloaded: try again")
}

func (s *Session) load(ctx context.Context, id string) error {
	sh, err := s.hub.shards.FindByID(ctx, id)
	if err != nil {
		if errors.Is(err, shard.ErrNotFound) {
			return apperr.New(apperr.NotFound, "shard not found")
		}
		return apperr.Errorf(apperr.Unavailable, "the shard store is unavailable: %v", errors.Unwrap(err))
	}
	_, err = s.hub.rooms.Populate(ctx, sh)
	return err
}

func (s *Session) requireEditor() error {
	if s.role != shard.Editor {
		return apperr.New(apperr.Forbidden, "read-only: this token may view but not edit")
	}
	return nil
}

func (s *Session) handleOpen(ctx context.Context, m *inbound) error {
	if m.File == "" {
		return apperr.New(apperr.BadRequest, `"file" is required`)
	}
	if err := s.room.open(ctx, s, m.File, m.Ref); err != nil {
		return err
	}
	s.focus(ctx, m.File)
	return nil
}

// focus records the file a member works on, announced as member.updated.
func (s *Session) focus(ctx context.Context, fid string) {
	s.mu.Lock()
	if s.member.File != nil && *s.member.File == fid {
		s.mu.Unlock()
		return
	}
	s.member.File = &fid
	member := s.member
	s.mu.Unlock()
	if err := s.hub.rooms.UpdateMember(ctx, s.room.id, member); err != nil {
		s.hub.log.Warn("update member failed", "err", err)
	}
}

func (s *Session) handlePush(ctx context.Context, m *inbound) error {
	if err := s.requireEditor(); err != nil {
		return err
	}
	if m.File == "" || m.Version == nil {
		return apperr.New(apperr.BadRequest, `"file" and "version" are required`)
	}
	if len(m.Updates) == 0 {
		return apperr.New(apperr.BadRequest, `"updates" must not be empty`)
	}
	if len(m.Updates) > s.hub.opts.Limits.MaxUpdatesPerPush {
		return apperr.Errorf(apperr.TooLarge, "at most %d updates per push", s.hub.opts.Limits.MaxUpdatesPerPush)
	}
	updates, err := parseUpdates(m.Updates)
	if err != nil {
		return err
	}
	base := *m.Version
	if base < 0 {
		return apperr.New(apperr.BadRequest, "version must not be negative")
	}
	id := s.room.id
	for attempt := 0; attempt < maxRebaseRetries; attempt++ {
		first, last := updates[0].Changes, updates[len(updates)-1].Changes
		if s.tooBig(last.NewLen()) {
			return apperr.Errorf(apperr.TooLarge, "file would be larger than %d bytes", s.hub.opts.Limits.MaxFileBytes)
		}
		version, err := s.hub.rooms.Commit(ctx, id, m.File, base, first.Len(), last.NewLen(), encodeUpdates(updates))
		var mismatch *room.VersionMismatch
		var badLen *room.LengthMismatch
		switch {
		case err == nil:
			s.send(mustJSON(ackMsg{Type: "ack", Ref: m.Ref, File: m.File, Version: version}))
			return nil
		case errors.As(err, &badLen):
			return apperr.Errorf(apperr.BadRequest, "invalid change set: %v", badLen)
		case errors.As(err, &mismatch):
			if mismatch.Current < base {
				return apperr.Errorf(apperr.BadRequest, "version %d is ahead of the file (at %d)", base, mismatch.Current)
			}
			rebased, err := s.rebase(ctx, m.File, base, mismatch.Current, updates)
			var gone *room.ErrHistoryGone
			if errors.As(err, &gone) {
				s.send(mustJSON(ackMsg{Type: "stale", Ref: m.Ref, File: m.File, Version: mismatch.Current}))
				return nil
			}
			if err != nil {
				return err
			}
			if len(rebased) == 0 { // all of them were accepted before
				s.send(mustJSON(ackMsg{Type: "ack", Ref: m.Ref, File: m.File, Version: mismatch.Current}))
				return nil
			}
			updates, base = rebased, mismatch.Current
		case errors.Is(err, room.ErrAbsent):
			if err := s.load(ctx, id); err != nil {
				return err
			}
		default:
			return err
		}
	}
	// Lost the race too often (a very busy file): let the client catch up.
	s.send(mustJSON(ackMsg{Type: "stale", Ref: m.Ref, File: m.File, Version: base}))
	return nil
}

// tooBig reports whether a text of n UTF-16 units may exceed the file size
// limit (a unit is at most 3 bytes of UTF-8; checked on units to stay cheap).
func (s *Session) tooBig(units int) bool {
	return units > s.hub.opts.Limits.MaxFileBytes
}

// rebase rewrites updates based on base to apply at current, over the
// updates accepted since (dropping those the client is re-sending).
func (s *Session) rebase(ctx context.Context, fid string, base, current int64, updates []changeset.Update) ([]changeset.Update, error) {
	entries, _, err := s.hub.rooms.ReadLog(ctx, s.room.id, fid, base, current)
	if err != nil {
		return nil, err
	}
	if int64(len(entries)) != current-base {
		return nil, fmt.Errorf("collab: log of %q has %d entries for %d..%d", fid, len(entries), base, current)
	}
	over, err := parseUpdates(entries)
	if err != nil {
		return nil, fmt.Errorf("collab: stored update: %w", err)
	}
	if over[0].Changes.Len() != updates[0].Changes.Len() {
		return nil, apperr.Errorf(apperr.BadRequest, "invalid change set: covers %d units but the file had %d at version %d",
			updates[0].Changes.Len(), over[0].Changes.Len(), base)
	}
	rebased, err := changeset.RebaseEach(updates, over)
	if err != nil {
		return nil, apperr.Errorf(apperr.BadRequest, "invalid change set: %v", err)
	}
	return rebased, nil
}

// parseUpdates validates collab updates: each has a clientID and a change
// set that continues the one before it.
func parseUpdates(raw []json.RawMessage) ([]changeset.Update, error) {
	out := make([]changeset.Update, len(raw))
	for i, r := range raw {
		var w wireUpdate
		if err := json.Unmarshal(r, &w); err != nil {
			return nil, apperr.Errorf(apperr.BadRequest, "updates[%d]: must be {clientID, changes}", i)
		}
		if w.ClientID == "" || len(w.ClientID) > 64 {
			return nil, apperr.Errorf(apperr.BadRequest, "updates[%d]: clientID must be 1 to 64 characters", i)
		}
		cs, err := changeset.Parse(w.Changes)
		if err != nil {
			return nil, apperr.Errorf(apperr.BadRequest, "updates[%d]: invalid change set: %v", i, err)
		}
		if i > 0 && cs.Len() != out[i-1].Changes.NewLen() {
			return nil, apperr.Errorf(apperr.BadRequest, "updates[%d]: covers %d units, the update before leaves %d", i, cs.Len(), out[i-1].Changes.NewLen())
		}
		out[i] = changeset.Update{ClientID: w.ClientID, Changes: cs}
	}
	return out, nil
}

func encodeUpdates(us []changeset.Update) []json.RawMessage {
	out := make([]json.RawMessage, len(us))
	for i, u := range us {
		out[i] = mustJSON(struct {
			ClientID string               `json:"clientID"`
			Changes  *changeset.ChangeSet `json:"changes"`
		}{u.ClientID, u.Changes})
	}
	return out
}

func (s *Session) handlePull(ctx context.Context, m *inbound) error {
	if m.File == "" || m.Version == nil || *m.Version < 0 {
		return apperr.New(apperr.BadRequest, `"file" and a "version" of 0 or more are required`)
	}
	entries, current, err := s.hub.rooms.ReadLog(ctx, s.room.id, m.File, *m.Version, -1)
	var gone *room.ErrHistoryGone
	switch {
	case errors.As(err, &gone):
		doc, err := s.hub.rooms.ReadDoc(ctx, s.room.id, m.File)
		if err != nil {
			return err
		}
		s.send(mustJSON(docMsg{Type: "doc", Ref: m.Ref, File: m.File, Version: doc.Version, Text: doc.Text}))
		return nil
	case err != nil:
		return err
	case *m.Version > current:
		return apperr.Errorf(apperr.BadRequest, "version %d is ahead of the file (at %d)", *m.Version, current)
	}
	s.send(mustJSON(updatesMsg{Type: "updates", Ref: m.Ref, File: m.File, Version: *m.Version, Updates: nonNil(entries)}))
	return nil
}

func nonNil(u []json.RawMessage) []json.RawMessage {
	if u == nil {
		return []json.RawMessage{}
	}
	return u
}

// PingEvery is how often the transport pings; a peer silent for
// PeerTimeout is dropped.
const (
	PingEvery   = 25 * time.Second
	PeerTimeout = 60 * time.Second
)
