package collab

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/multitab/multitab/internal/apperr"
	"github.com/multitab/multitab/internal/room"
)

type cursorRange struct {
	Anchor *int `json:"anchor"`
	Head   *int `json:"head"`
}

func (s *Session) handleCursor(ctx context.Context, m *inbound) error {
	if !s.cursors.Allow() {
		return nil // presence is best effort: drop beyond the rate
	}
	var ranges []cursorRange
	if m.File == "" || m.Version == nil || json.Unmarshal(m.Ranges, &ranges) != nil || len(ranges) == 0 || len(ranges) > 100 {
		return apperr.New(apperr.BadRequest, `cursor needs "file", "version" and 1 to 100 "ranges"`)
	}
	for _, r := range ranges {
		if r.Anchor == nil || r.Head == nil || *r.Anchor < 0 || *r.Head < 0 {
			return apperr.New(apperr.BadRequest, "ranges must be {anchor, head} with positions of 0 or more")
		}
	}
	s.focus(ctx, m.File)
	msg := mustJSON(cursorMsg{Type: "cursor", Member: s.memberID(), File: m.File, Version: *m.Version, Ranges: mustJSON(ranges)})
	if err := s.hub.pub.Publish(ctx, room.Channel(s.room.id), msg).Err(); err != nil {
		return fmt.Errorf("collab: publish cursor: %w", err)
	}
	return nil
}
