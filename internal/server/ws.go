package server

import (
	"context"
	"io"
	"net/url"
	"slices"
	"time"

	"github.com/fasthttp/websocket"
	fws "github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"

	"github.com/multitab/multitab/internal/apperr"
	"github.com/multitab/multitab/internal/collab"
)

func bindSocket(app *fiber.App, d Deps) {
	app.Use("/ws", func(c *fiber.Ctx) error {
		if !fws.IsWebSocketUpgrade(c) {
			return fiber.NewError(fiber.StatusUpgradeRequired, "this endpoint speaks WebSocket only")
		}
		if !originAllowed(c.Get(fiber.HeaderOrigin), c.Hostname(), d.AllowedOrigins) {
			return apperr.New(apperr.Forbidden, "origin not allowed")
		}
		return c.Next()
	})
	app.Get("/ws", fws.New(func(conn *fws.Conn) { serveSocket(conn, d) }, fws.Config{
		// The upgrade check above already decided on the origin.
		Origins:         []string{"*"},
		ReadBufferSize:  16 << 10,
		WriteBufferSize: 16 << 10,
	}))
}

// originAllowed accepts clients that send no Origin (not a browser), the
// page's own origin, and the configured ones.
func originAllowed(origin, host string, allowed []string) bool {
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	return u.Host == host || slices.Contains(allowed, origin)
}

// serveSocket runs one websocket: this goroutine reads frames into the
// session; one writer goroutine owns every write (the Conn allows one
// writer at a time). It returns only after the writer has stopped, because
// Fiber reuses the Conn afterwards.
func serveSocket(conn *fws.Conn, d Deps) {
	sess := d.Hub.NewSession()
	if sess == nil {
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(collab.CloseTryAgain, "node shutting down"), time.Now().Add(time.Second))
		return
	}
	ctx, cancel := context.WithCancel(d.Hub.Context())
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		writeLoop(ctx, conn, sess)
		cancel()
		_ = conn.Close() // unblocks the reader
	}()

	_ = conn.SetReadDeadline(time.Now().Add(collab.PeerTimeout))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(collab.PeerTimeout)) })
	limit := int64(d.MaxMessage)
	for ctx.Err() == nil {
		kind, r, err := conn.NextReader()
		if err != nil {
			break
		}
		frame, err := io.ReadAll(io.LimitReader(r, limit+1))
		if err != nil {
			break
		}
		if int64(len(frame)) > limit {
			sess.TooLarge(d.MaxMessage)
			break
		}
		_ = conn.SetReadDeadline(time.Now().Add(collab.PeerTimeout))
		if kind != websocket.TextMessage {
			sess.BinaryFrame()
			continue
		}
		sess.Handle(ctx, frame)
	}
	endCtx, endCancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	sess.End(endCtx)
	endCancel()
	// Give the writer a moment to send a pending close frame, then stop it.
	select {
	case <-writerDone:
	case <-time.After(2 * time.Second):
		cancel()
		<-writerDone
	}
}

func writeLoop(ctx context.Context, conn *fws.Conn, sess *collab.Session) {
	ping := time.NewTicker(collab.PingEvery)
	defer ping.Stop()
	write := func(kind int, data []byte) error {
		_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		return conn.WriteMessage(kind, data)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case msg := <-sess.Outbox():
			if err := write(websocket.TextMessage, msg); err != nil {
				return
			}
		case k := <-sess.Kicked():
			// Flush what is queued (e.g. room.closed), then close.
			for drained := false; !drained; {
				select {
				case msg := <-sess.Outbox():
					if write(websocket.TextMessage, msg) != nil {
						return
					}
				default:
					drained = true
				}
			}
			_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(k.Code, k.Reason), time.Now().Add(time.Second))
			return
		case <-ping.C:
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(10*time.Second)); err != nil {
				return
			}
		}
	}
}
