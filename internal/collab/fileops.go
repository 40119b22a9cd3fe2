package collab

import (
	"context"
	"errors"

	"github.com/multitab/multitab/internal/apperr"
	"github.com/multitab/multitab/internal/room"
	"github.com/multitab/multitab/internal/shard"
)

func (s *Session) handleFileOp(ctx context.Context, m *inbound) error {
	if err := s.requireEditor(); err != nil {
		return err
	}
	id, by := s.room.id, s.memberID()
	var fid string
	var err error
	switch m.Type {
	case "file.create":
		name, text := "", ""
		if m.Name != nil {
			name = *m.Name
		}
		if m.Text != nil {
			text = *m.Text
		}
		if err := shard.ValidateFileName(name); err != nil {
			return err
		}
		if len(text) > s.hub.opts.Limits.MaxFileBytes {
			return apperr.Errorf(apperr.TooLarge, "file text is larger than %d bytes", s.hub.opts.Limits.MaxFileBytes)
		}
		fid = shard.NewID(6)
		err = s.withRoom(ctx, func() error {
			return s.hub.rooms.CreateFile(ctx, id, fid, name, text, s.hub.opts.Limits.MaxFiles, by)
		})
	case "file.rename":
		if m.File == "" || m.Name == nil {
			return apperr.New(apperr.BadRequest, `"file" and "name" are required`)
		}
		if err := shard.ValidateFileName(*m.Name); err != nil {
			return err
		}
		fid = m.File
		err = s.withRoom(ctx, func() error { return s.hub.rooms.RenameFile(ctx, id, fid, *m.Name, by) })
	case "file.delete":
		if m.File == "" {
			return apperr.New(apperr.BadRequest, `"file" is required`)
		}
		fid = m.File
		err = s.withRoom(ctx, func() error { return s.hub.rooms.DeleteFile(ctx, id, fid, by) })
	}
	if err != nil {
		return err
	}
	s.send(mustJSON(okMsg{Type: "ok", Ref: m.Ref, File: fid}))
	return nil
}

// withRoom runs op, reloading the room once if it was evicted.
func (s *Session) withRoom(ctx context.Context, op func() error) error {
	err := op()
	if errors.Is(err, room.ErrAbsent) {
		if err = s.load(ctx, s.room.id); err == nil {
			err = op()
		}
	}
	return err
}
