// Package collab runs the live side of multitab on one node: the sockets'
// sessions, the node's single Redis subscription (one channel per shard
// with local members), in-order delivery of each file's updates, presence,
// heartbeats and the reaping of dead nodes' members.
package collab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/multitab/multitab/internal/room"
	"github.com/multitab/multitab/internal/shard"
)

// ShardFinder loads a stored shard when its room is not in Redis.
type ShardFinder interface {
	// FindByID returns shard.ErrNotFound (wrapped) for an unknown id.
	FindByID(ctx context.Context, id string) (*shard.Shard, error)
}

// Limits bound what one client can make the node do.
type Limits struct {
	MaxFiles      int
	MaxFileBytes  int
	MaxMembers    int
	SendQueue     int
	CursorsPerSec int
	// MaxUpdatesPerPush bounds one push (and one Lua call's arguments).
	MaxUpdatesPerPush int
}

// Options configure a Hub.
type Options struct {
	NodeID       string
	HeartbeatTTL time.Duration
	Limits       Limits
}

// Hub is one node's live collaboration service.
type Hub struct {
	opts   Options
	rooms  *room.Store
	shards ShardFinder
	pub    *redis.Client
	log    *slog.Logger

	pubsub *redis.PubSub

	mu       sync.Mutex
	local    map[string]*localRoom // by shard id
	waiters  map[string][]chan struct{}
	sessions map[*Session]struct{}
	closing  bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewHub builds a hub; call Run to start it. sub is the connection the
// node's subscription runs on, pub the one presence messages go out on.
func NewHub(opts Options, rooms *room.Store, shards ShardFinder, sub, pub *redis.Client, log *slog.Logger) *Hub {
	if opts.Limits.MaxUpdatesPerPush <= 0 {
		opts.Limits.MaxUpdatesPerPush = 200
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &Hub{
		opts: opts, rooms: rooms, shards: shards, pub: pub, log: log.With("node", opts.NodeID),
		local: map[string]*localRoom{}, waiters: map[string][]chan struct{}{}, sessions: map[*Session]struct{}{},
		ctx: ctx, cancel: cancel,
	}
	// An empty subscription now, so that channels can be added and removed
	// on one connection for the life of the node.
	h.pubsub = sub.Subscribe(ctx)
	return h
}

// NodeID is the id this hub announces.
func (h *Hub) NodeID() string { return h.opts.NodeID }

// Context ends when the hub is stopped or killed; sockets live within it.
func (h *Hub) Context() context.Context { return h.ctx }

// Run starts receiving and the heartbeat. It returns at once.
func (h *Hub) Run(ctx context.Context) error {
	if err := h.rooms.Heartbeat(ctx, h.opts.NodeID, h.opts.HeartbeatTTL, nil); err != nil {
		return fmt.Errorf("collab: first heartbeat: %w", err)
	}
	h.wg.Add(2)
	go func() { defer h.wg.Done(); h.receive() }()
	go func() { defer h.wg.Done(); h.beat() }()
	return nil
}

// receive dispatches every message of the node's subscription.
func (h *Hub) receive() {
	ch := h.pubsub.ChannelWithSubscriptions(redis.WithChannelSize(4096))
	for {
		select {
		case <-h.ctx.Done():
			return
		case m, ok := <-ch:
			if !ok {
				return
			}
			switch m := m.(type) {
			case *redis.Subscription:
				if m.Kind == "subscribe" {
					h.subscribed(m.Channel)
				}
			case *redis.Message:
				id, ok := room.ShardOfChannel(m.Channel)
				if !ok {
					continue
				}
				h.mu.Lock()
				r := h.local[id]
				h.mu.Unlock()
				if r != nil {
					r.dispatch(h.ctx, []byte(m.Payload))
				}
			}
		}
	}
}

func (h *Hub) subscribed(channel string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, w := range h.waiters[channel] {
		close(w)
	}
	delete(h.waiters, channel)
}

// beat keeps the node's heartbeat, reaps dead nodes and catches up streams
// that missed a message (e.g. while the subscription reconnected).
func (h *Hub) beat() {
	t := time.NewTicker(h.opts.HeartbeatTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(h.ctx, h.opts.HeartbeatTTL/3)
		if err := h.rooms.Heartbeat(ctx, h.opts.NodeID, h.opts.HeartbeatTTL, h.localIDs()); err != nil {
			h.log.Warn("heartbeat failed", "err", err)
		}
		h.reapDead(ctx)
		h.catchUp(ctx)
		cancel()
	}
}

func (h *Hub) reapDead(ctx context.Context) {
	nodes, err := h.rooms.Nodes(ctx)
	if err != nil {
		h.log.Warn("list nodes failed", "err", err)
		return
	}
	for node, alive := range nodes {
		if alive || node == h.opts.NodeID {
			continue
		}
		rooms, err := h.rooms.ForgetNode(ctx, node)
		if err != nil {
			h.log.Warn("reap dead node failed", "dead", node, "err", err)
			continue
		}
		h.log.Info("reaped dead node", "dead", node, "rooms", len(rooms))
	}
}

func (h *Hub) catchUp(ctx context.Context) {
	h.mu.Lock()
	rooms := make([]*localRoom, 0, len(h.local))
	for _, r := range h.local {
		rooms = append(rooms, r)
	}
	h.mu.Unlock()
	for _, r := range rooms {
		r.catchUp(ctx)
	}
}

func (h *Hub) localIDs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	ids := make([]string, 0, len(h.local))
	for id := range h.local {
		ids = append(ids, id)
	}
	return ids
}

// errClosing is returned to joins while the node shuts down.
var errClosing = errors.New("collab: node is shutting down")

// acquire returns the local room of shard id with s registered in it
// (receiving events into its buffer until joined is sent), subscribing the
// node to the shard's channel if s is its first local session.
func (h *Hub) acquire(ctx context.Context, id string, s *Session) (*localRoom, error) {
	h.mu.Lock()
	if h.closing {
		h.mu.Unlock()
		return nil, errClosing
	}
	r := h.local[id]
	first := r == nil
	if first {
		r = newLocalRoom(h, id)
		h.local[id] = r
		w := make(chan struct{})
		ch := room.Channel(id)
		h.waiters[ch] = append(h.waiters[ch], w)
		// Under h.mu, so that SUBSCRIBE and UNSUBSCRIBE of one channel go
		// out in the order rooms are made and dropped.
		if err := h.pubsub.Subscribe(ctx, ch); err != nil {
			delete(h.local, id)
			h.mu.Unlock()
			r.setReady(fmt.Errorf("collab: subscribe %q: %w", id, err))
			return nil, r.readyErr
		}
		go func() {
			select {
			case <-w:
				r.setReady(nil)
			case <-time.After(10 * time.Second):
				r.setReady(errors.New("collab: subscription not confirmed"))
			case <-h.ctx.Done():
				r.setReady(h.ctx.Err())
			}
		}()
	}
	r.addSession(s)
	h.mu.Unlock()

	select {
	case <-r.ready:
	case <-ctx.Done():
		h.release(r, s)
		return nil, ctx.Err()
	}
	if r.readyErr != nil {
		h.release(r, s)
		return nil, r.readyErr
	}
	if first {
		if err := h.rooms.NodeJoined(ctx, h.opts.NodeID, id); err != nil {
			h.log.Warn("record room on node failed", "shard", id, "err", err)
		}
	}
	return r, nil
}

// release removes s from r, and r from the node after its last session.
func (h *Hub) release(r *localRoom, s *Session) {
	h.mu.Lock()
	empty := r.removeSession(s)
	if empty && h.local[r.id] == r {
		delete(h.local, r.id)
		if err := h.pubsub.Unsubscribe(h.ctx, room.Channel(r.id)); err != nil && h.ctx.Err() == nil {
			h.log.Warn("unsubscribe failed", "shard", r.id, "err", err)
		}
	}
	h.mu.Unlock()
	if empty && h.ctx.Err() == nil {
		ctx, cancel := context.WithTimeout(h.ctx, 5*time.Second)
		defer cancel()
		if err := h.rooms.NodeLeft(ctx, h.opts.NodeID, r.id); err != nil {
			h.log.Warn("forget room on node failed", "shard", r.id, "err", err)
		}
	}
}

func (h *Hub) track(s *Session) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return false
	}
	h.sessions[s] = struct{}{}
	return true
}

func (h *Hub) untrack(s *Session) {
	h.mu.Lock()
	delete(h.sessions, s)
	h.mu.Unlock()
}

// Shutdown tells every socket room.closed, waits (up to ctx) for their
// sessions to leave, and unregisters the node.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.closing = true
	sessions := make([]*Session, 0, len(h.sessions))
	for s := range h.sessions {
		sessions = append(sessions, s)
	}
	h.mu.Unlock()
	for _, s := range sessions {
		s.closeRoom(CloseGoingAway, "server shutting down: reconnect to another node")
	}
	if n := h.waitSessions(ctx); n > 0 {
		h.log.Warn("shutdown: sessions still open", "count", n)
	}
	err := h.rooms.Unregister(ctx, h.opts.NodeID)
	h.stop()
	return err
}

// waitSessions waits until every session has ended or ctx is done; it
// returns how many are left.
func (h *Hub) waitSessions(ctx context.Context) int {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		h.mu.Lock()
		n := len(h.sessions)
		h.mu.Unlock()
		if n == 0 {
			return 0
		}
		select {
		case <-ctx.Done():
			return n
		case <-tick.C:
		}
	}
}

// Kill stops the hub without leaving rooms or unregistering: what a crash
// leaves behind, for the reaper on other nodes to clean up. Tests use it.
func (h *Hub) Kill() { h.stop() }

func (h *Hub) stop() {
	h.cancel()
	_ = h.pubsub.Close()
	h.wg.Wait()
}
