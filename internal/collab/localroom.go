package collab

import (
	"context"
	"encoding/json"
	"errors"
	"sync"

	"github.com/multitab/multitab/internal/room"
)

// localRoom is a shard's room as seen from this node: its local sessions
// and, per open file, the stream that delivers updates in version order.
type localRoom struct {
	hub *Hub
	id  string

	ready    chan struct{}
	readyErr error
	once     sync.Once

	mu       sync.Mutex
	sessions map[*Session]*presence
	streams  map[string]*stream // by file id
}

// presence is a session's place in the room: events arriving before its
// joined reply is sent wait in pending.
type presence struct {
	joined  bool
	pending [][]byte
}

// stream delivers one file's updates. delivered is the version up to which
// updates were dispatched; next holds, per subscribed session, the version
// it needs next (its doc may be newer than the stream).
type stream struct {
	delivered int64
	next      map[*Session]int64
}

func newLocalRoom(h *Hub, id string) *localRoom {
	return &localRoom{hub: h, id: id, ready: make(chan struct{}), sessions: map[*Session]*presence{}, streams: map[string]*stream{}}
}

func (r *localRoom) setReady(err error) {
	r.once.Do(func() {
		r.readyErr = err
		close(r.ready)
	})
}

func (r *localRoom) addSession(s *Session) {
	r.mu.Lock()
	r.sessions[s] = &presence{}
	r.mu.Unlock()
}

// removeSession drops s and its streams; it reports whether r is now empty.
func (r *localRoom) removeSession(s *Session) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.sessions, s)
	for fid, st := range r.streams {
		delete(st.next, s)
		if len(st.next) == 0 {
			delete(r.streams, fid)
		}
	}
	return len(r.sessions) == 0
}

// markJoined sends s its joined reply, then the events that came meanwhile.
func (r *localRoom) markJoined(s *Session, joined []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.sessions[s]
	if p == nil {
		return
	}
	s.send(joined)
	for _, ev := range p.pending {
		s.send(ev)
	}
	p.pending, p.joined = nil, true
}

// open subscribes s to a file's updates and sends it the file's doc first.
// Under r.mu, so that no update of the file is dispatched between reading
// the doc and registering the subscription.
func (r *localRoom) open(ctx context.Context, s *Session, fid string, ref json.RawMessage) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	doc, err := r.hub.rooms.ReadDoc(ctx, r.id, fid)
	if err != nil {
		return err
	}
	st := r.streams[fid]
	if st == nil {
		st = &stream{delivered: doc.Version, next: map[*Session]int64{}}
		r.streams[fid] = st
	}
	// The stream is never ahead of the doc: the subscription was confirmed
	// before any doc was read, and every update is committed before it is
	// published. Updates of the stream older than the doc are skipped for s.
	s.send(mustJSON(docMsg{Type: "doc", Ref: ref, File: fid, Version: doc.Version, Text: doc.Text}))
	st.next[s] = doc.Version
	return nil
}

// close unsubscribes s from a file.
func (r *localRoom) close(s *Session, fid string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st := r.streams[fid]; st != nil {
		delete(st.next, s)
		if len(st.next) == 0 {
			delete(r.streams, fid)
		}
	}
}

// dispatch handles one message of the shard's channel.
func (r *localRoom) dispatch(ctx context.Context, payload []byte) {
	var ev event
	if err := json.Unmarshal(payload, &ev); err != nil {
		r.hub.log.Error("undecodable event", "shard", r.id, "err", err)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch ev.Type {
	case "updates":
		st := r.streams[ev.File]
		if st == nil {
			return
		}
		if ev.Version > st.delivered {
			r.fill(ctx, ev.File, st, st.delivered, ev.Version)
		}
		// The commit script published the wire message itself.
		r.deliver(ev.File, st, ev.Version, ev.Updates, payload)
	case "cursor", "member.joined", "member.left", "member.updated":
		// Presence goes to the other members only.
		from := ev.memberID()
		for s, p := range r.sessions {
			if s.memberID() != from {
				r.post(s, p, payload)
			}
		}
	default: // files and anything newer: to everyone
		for s, p := range r.sessions {
			r.post(s, p, payload)
		}
	}
}

func (r *localRoom) post(s *Session, p *presence, msg []byte) {
	if !p.joined {
		p.pending = append(p.pending, msg)
		return
	}
	s.send(msg)
}

// deliver sends updates starting at version to every subscriber that
// needs them, each exactly once, and advances the stream. whole is the
// encoded message of all of them, when the caller has it already.
func (r *localRoom) deliver(fid string, st *stream, version int64, updates []json.RawMessage, whole []byte) {
	end := version + int64(len(updates))
	if end <= st.delivered {
		return
	}
	for s, next := range st.next {
		if next >= end {
			continue
		}
		skip := max(next-version, 0)
		if skip == 0 {
			if whole == nil {
				whole = mustJSON(updatesMsg{Type: "updates", File: fid, Version: version, Updates: updates})
			}
			s.send(whole)
		} else {
			s.send(mustJSON(updatesMsg{Type: "updates", File: fid, Version: version + skip, Updates: updates[skip:]}))
		}
		st.next[s] = end
	}
	st.delivered = end
}

// fill delivers the updates from..to from the log, for a gap in the stream.
// If the log no longer holds them, each subscriber gets the whole doc.
func (r *localRoom) fill(ctx context.Context, fid string, st *stream, from, to int64) {
	entries, _, err := r.hub.rooms.ReadLog(ctx, r.id, fid, from, to)
	var gone *room.ErrHistoryGone
	switch {
	case errors.As(err, &gone):
		r.resync(ctx, fid, st)
	case err != nil:
		r.hub.log.Error("fill gap failed", "shard", r.id, "file", fid, "from", from, "to", to, "err", err)
	default:
		r.deliver(fid, st, from, entries, nil)
	}
}

// resync sends every subscriber of a file its current doc.
func (r *localRoom) resync(ctx context.Context, fid string, st *stream) {
	doc, err := r.hub.rooms.ReadDoc(ctx, r.id, fid)
	if err != nil {
		r.hub.log.Error("resync failed", "shard", r.id, "file", fid, "err", err)
		return
	}
	msg := mustJSON(docMsg{Type: "doc", File: fid, Version: doc.Version, Text: doc.Text})
	for s := range st.next {
		s.send(msg)
		st.next[s] = doc.Version
	}
	st.delivered = doc.Version
}

// catchUp fills streams that are behind the file's version in Redis, for
// messages the subscription lost.
func (r *localRoom) catchUp(ctx context.Context) {
	r.mu.Lock()
	fids := make([]string, 0, len(r.streams))
	for fid := range r.streams {
		fids = append(fids, fid)
	}
	r.mu.Unlock()
	if len(fids) == 0 {
		return
	}
	versions, err := r.hub.rooms.Versions(ctx, r.id, fids)
	if err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, fid := range fids {
		if st := r.streams[fid]; st != nil && versions[i] > st.delivered {
			r.fill(ctx, fid, st, st.delivered, versions[i])
		}
	}
}
