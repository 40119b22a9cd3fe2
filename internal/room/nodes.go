package room

import (
	"context"
	"fmt"
	"time"
)

// Heartbeat announces node as alive for ttl and lists the rooms it has
// members in (again, so that a lost write heals within one beat).
func (s *Store) Heartbeat(ctx context.Context, node string, ttl time.Duration, rooms []string) error {
	pipe := s.rdb.TxPipeline()
	pipe.Set(ctx, nodeKey(node), s.nowMillis(), ttl)
	pipe.SAdd(ctx, nodesKey, node)
	if len(rooms) > 0 {
		args := make([]any, len(rooms))
		for i, r := range rooms {
			args[i] = r
		}
		pipe.SAdd(ctx, nodeRoomsKey(node), args...)
		pipe.SAdd(ctx, liveRoomsKey, args...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("room: heartbeat of %q: %w", node, err)
	}
	return nil
}

// NodeJoined records that node has members in room id.
func (s *Store) NodeJoined(ctx context.Context, node, id string) error {
	if err := s.rdb.SAdd(ctx, nodeRoomsKey(node), id).Err(); err != nil {
		return fmt.Errorf("room: record %q on node %q: %w", id, node, err)
	}
	return nil
}

// NodeLeft records that node has no more members in room id.
func (s *Store) NodeLeft(ctx context.Context, node, id string) error {
	if err := s.rdb.SRem(ctx, nodeRoomsKey(node), id).Err(); err != nil {
		return fmt.Errorf("room: forget %q on node %q: %w", id, node, err)
	}
	return nil
}

// Nodes returns the ids of the nodes that announced themselves and whether
// each is alive (its heartbeat has not expired).
func (s *Store) Nodes(ctx context.Context) (map[string]bool, error) {
	ids, err := s.rdb.SMembers(ctx, nodesKey).Result()
	if err != nil {
		return nil, fmt.Errorf("room: list nodes: %w", err)
	}
	pipe := s.rdb.Pipeline()
	for _, id := range ids {
		pipe.Exists(ctx, nodeKey(id))
	}
	cmds, err := pipe.Exec(ctx)
	if err != nil && len(ids) > 0 {
		return nil, fmt.Errorf("room: check nodes: %w", err)
	}
	out := make(map[string]bool, len(ids))
	for i, id := range ids {
		n, _ := cmds[i].(interface{ Val() int64 })
		out[id] = n != nil && n.Val() == 1
	}
	return out, nil
}

// ForgetNode removes a dead node: its members leave every room it served,
// and it is unlisted. It returns the rooms it touched. Safe to run on
// several nodes at once.
func (s *Store) ForgetNode(ctx context.Context, node string) ([]string, error) {
	rooms, err := s.rdb.SMembers(ctx, nodeRoomsKey(node)).Result()
	if err != nil {
		return nil, fmt.Errorf("room: rooms of node %q: %w", node, err)
	}
	for _, id := range rooms {
		if _, err := s.Reap(ctx, id, node); err != nil {
			return nil, err
		}
	}
	if err := s.rdb.Del(ctx, nodeRoomsKey(node)).Err(); err != nil {
		return nil, fmt.Errorf("room: forget node %q: %w", node, err)
	}
	if err := s.rdb.SRem(ctx, nodesKey, node).Err(); err != nil {
		return nil, fmt.Errorf("room: forget node %q: %w", node, err)
	}
	return rooms, nil
}

// Unregister removes a node that is shutting down cleanly.
func (s *Store) Unregister(ctx context.Context, node string) error {
	_, err := s.ForgetNode(ctx, node)
	if err == nil {
		err = s.rdb.Del(ctx, nodeKey(node)).Err()
	}
	return err
}
