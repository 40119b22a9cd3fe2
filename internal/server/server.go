// Package server is multitab's HTTP face: the Fiber app with the pages, the
// JSON API, health checks and the websocket endpoint.
package server

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"

	"github.com/multitab/multitab/internal/apperr"
	"github.com/multitab/multitab/internal/collab"
	"github.com/multitab/multitab/internal/room"
	"github.com/multitab/multitab/internal/shard"
	"github.com/multitab/multitab/static"
	"github.com/multitab/multitab/views"
)

// Shards is the part of the shard repository the server uses.
type Shards interface {
	Create(ctx context.Context, s *shard.Shard) error
	FindByID(ctx context.Context, id string) (*shard.Shard, error)
	List(ctx context.Context, q shard.ListQuery) ([]shard.Summary, int, error)
}

// LiveRooms reads rooms that are in Redis.
type LiveRooms interface {
	// ReadRoom returns room.ErrAbsent when the shard has no live room.
	ReadRoom(ctx context.Context, id string) (*room.Info, error)
	ReadDoc(ctx context.Context, id, fid string) (room.Doc, error)
}

// Check is a named readiness check.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// Deps are what the server is built from.
type Deps struct {
	Shards         Shards
	Rooms          LiveRooms
	Hub            *collab.Hub
	Checks         []Check
	Log            *slog.Logger
	MaxMessage     int
	AllowedOrigins []string
	Now            func() time.Time
}

// New returns the Fiber app with every route bound.
func New(d Deps) *fiber.App {
	if d.Now == nil {
		d.Now = time.Now
	}
	app := fiber.New(fiber.Config{
		AppName:               "multitab",
		DisableStartupMessage: true,
		BodyLimit:             1 << 20,
		ReadTimeout:           30 * time.Second,
		IdleTimeout:           120 * time.Second,
		ErrorHandler:          errorHandler(d.Log),
	})
	app.Use(requestLog(d.Log))
	dist, _ := fs.Sub(static.FS, ".")
	app.Use("/static", filesystem.New(filesystem.Config{Root: http.FS(dist), MaxAge: 300}))
	bindHealth(app, d)
	bindAPI(app.Group("/api"), d)
	bindPages(app, d)
	bindSocket(app, d)
	return app
}

// errorHandler maps errors to statuses: JSON for the API, a page otherwise.
// Only unexpected errors are logged.
func errorHandler(log *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		status, code, msg := classify(err)
		if status >= 500 {
			log.Error("request failed", "method", c.Method(), "path", c.Path(), "err", err)
		}
		if strings.HasPrefix(c.Path(), "/api/") || strings.Contains(c.Get(fiber.HeaderAccept), "application/json") {
			return c.Status(status).JSON(fiber.Map{"error": fiber.Map{"code": code, "message": msg}})
		}
		return render(c.Status(status), views.Layout(http.StatusText(status), views.ErrorPage(status, msg)))
	}
}

func classify(err error) (int, apperr.Code, string) {
	var fe *fiber.Error
	if errors.As(err, &fe) {
		code := apperr.BadRequest
		switch fe.Code {
		case fiber.StatusNotFound:
			code = apperr.NotFound
		case fiber.StatusRequestEntityTooLarge:
			code = apperr.TooLarge
		case fiber.StatusMethodNotAllowed, fiber.StatusUpgradeRequired:
			code = apperr.BadRequest
		default:
			if fe.Code >= 500 {
				code = apperr.Internal
			}
		}
		return fe.Code, code, fe.Message
	}
	code := apperr.CodeOf(err)
	return statusOf(code), code, apperr.MessageOf(err)
}

func statusOf(code apperr.Code) int {
	switch code {
	case apperr.BadRequest:
		return fiber.StatusBadRequest
	case apperr.Unauthorized:
		return fiber.StatusUnauthorized
	case apperr.Forbidden:
		return fiber.StatusForbidden
	case apperr.NotFound:
		return fiber.StatusNotFound
	case apperr.Conflict:
		return fiber.StatusConflict
	case apperr.TooLarge:
		return fiber.StatusRequestEntityTooLarge
	case apperr.RateLimited:
		return fiber.StatusTooManyRequests
	case apperr.Unavailable:
		return fiber.StatusServiceUnavailable
	}
	return fiber.StatusInternalServerError
}

// requestLog logs one line per request with stable keys.
func requestLog(log *slog.Logger) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		err := c.Next()
		status := c.Response().StatusCode()
		if err != nil {
			status, _, _ = classify(err)
		}
		level := slog.LevelInfo
		if c.Path() == "/healthz" || c.Path() == "/readyz" || strings.HasPrefix(c.Path(), "/static/") {
			level = slog.LevelDebug
		}
		log.Log(c.UserContext(), level, "http request", "method", c.Method(), "path", c.Path(),
			"status", status, "duration_ms", time.Since(start).Milliseconds(), "remote", c.IP())
		return err
	}
}

func render(c *fiber.Ctx, comp templ.Component) error {
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return comp.Render(c.UserContext(), c.Response().BodyWriter())
}
