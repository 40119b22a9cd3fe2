package server

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/multitab/multitab/internal/apperr"
	"github.com/multitab/multitab/internal/room"
	"github.com/multitab/multitab/internal/shard"
)

func bindAPI(api fiber.Router, d Deps) {
	api.Post("/shards", createShard(d))
	api.Get("/shards/:id", getShard(d))
	api.Get("/templates", listTemplates)
	api.Use(func(c *fiber.Ctx) error {
		return apperr.Errorf(apperr.NotFound, "no API route %s %s", c.Method(), c.Path())
	})
}

type createRequest struct {
	Title      string           `json:"title"`
	Template   string           `json:"template"`
	Visibility shard.Visibility `json:"visibility"`
}

func createShard(d Deps) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if !strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEApplicationJSON) {
			return apperr.New(apperr.BadRequest, "send JSON with Content-Type: application/json")
		}
		var req createRequest
		if err := json.Unmarshal(c.Body(), &req); err != nil {
			return apperr.New(apperr.BadRequest, "malformed JSON body")
		}
		sh, tokens, err := newShard(c.UserContext(), d, shard.NewParams{Title: req.Title, Template: req.Template, Visibility: req.Visibility})
		if err != nil {
			return err
		}
		resp := fiber.Map{"id": sh.ID, "url": "/s/" + sh.ID}
		if sh.Visibility == shard.Private {
			resp["editToken"], resp["viewToken"] = tokens.Edit, tokens.View
		}
		return c.Status(fiber.StatusCreated).JSON(resp)
	}
}

// newShard validates params, builds the shard and stores it.
func newShard(ctx context.Context, d Deps, p shard.NewParams) (*shard.Shard, shard.Tokens, error) {
	sh, tokens, err := shard.New(p, d.Now())
	if err != nil {
		return nil, shard.Tokens{}, err
	}
	if err := d.Shards.Create(ctx, sh); err != nil {
		return nil, shard.Tokens{}, err
	}
	return sh, tokens, nil
}

type fileJSON struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Text    string `json:"text"`
	Version int64  `json:"version"`
}

type shardJSON struct {
	ID         string           `json:"id"`
	Title      string           `json:"title"`
	Template   string           `json:"template"`
	Visibility shard.Visibility `json:"visibility"`
	LastSyncAt *time.Time       `json:"lastSyncAt"`
	Live       bool             `json:"live"`
	Files      []fileJSON       `json:"files"`
}

func getShard(d Deps) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id := c.Params("id")
		if !shard.ValidID(id) {
			return shard.ErrNotFound
		}
		out, err := currentShard(c.UserContext(), d, id, tokenOf(c))
		if err != nil {
			return err
		}
		return c.JSON(out)
	}
}

// currentShard is the live state while the room is in Redis, the stored
// state otherwise; access is checked either way.
func currentShard(ctx context.Context, d Deps, id, token string) (*shardJSON, error) {
	info, err := d.Rooms.ReadRoom(ctx, id)
	if err == nil {
		if _, err := shard.Access(info.Visibility, info.EditTokenHash, info.ViewTokenHash, token); err != nil {
			return nil, err
		}
		out := &shardJSON{ID: id, Title: info.Title, Template: info.Template, Visibility: info.Visibility,
			LastSyncAt: timeOrNil(info.LastSyncAt), Live: true, Files: []fileJSON{}}
		for _, f := range info.Files {
			doc, err := d.Rooms.ReadDoc(ctx, id, f.ID)
			if errors.Is(err, room.ErrUnknownFile) {
				continue // deleted since the listing was read
			}
			if err != nil {
				return nil, err
			}
			out.Files = append(out.Files, fileJSON{ID: f.ID, Name: f.Name, Text: doc.Text, Version: doc.Version})
		}
		return out, nil
	}
	if !errors.Is(err, room.ErrAbsent) {
		return nil, err
	}
	sh, err := d.Shards.FindByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if _, err := shard.Access(sh.Visibility, sh.EditTokenHash, sh.ViewTokenHash, token); err != nil {
		return nil, err
	}
	out := &shardJSON{ID: sh.ID, Title: sh.Title, Template: sh.Template, Visibility: sh.Visibility,
		LastSyncAt: timeOrNil(sh.LastSyncAt), Files: []fileJSON{}}
	for _, f := range sh.Files {
		out.Files = append(out.Files, fileJSON{ID: f.ID, Name: f.Name, Text: f.Text, Version: f.Version})
	}
	return out, nil
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() || t.Unix() <= 0 {
		return nil
	}
	return &t
}

func tokenOf(c *fiber.Ctx) string {
	if t := c.Query("token"); t != "" {
		return t
	}
	if a := c.Get(fiber.HeaderAuthorization); strings.HasPrefix(a, "Bearer ") {
		return strings.TrimSpace(a[len("Bearer "):])
	}
	return ""
}

type templateJSON struct {
	ID           string            `json:"id"`
	Name         string            `json:"name"`
	Description  string            `json:"description"`
	Files        []string          `json:"files"`
	Dependencies map[string]string `json:"dependencies,omitempty"`
}

func listTemplates(c *fiber.Ctx) error {
	all := shard.Templates()
	out := make([]templateJSON, len(all))
	for i, t := range all {
		names := make([]string, len(t.Files))
		for j, f := range t.Files {
			names[j] = f.Name
		}
		out[i] = templateJSON{ID: t.ID, Name: t.Name, Description: t.Description, Files: names, Dependencies: t.Dependencies}
	}
	return c.JSON(out)
}
