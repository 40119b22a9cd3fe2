package server

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
)

func bindHealth(app *fiber.App, d Deps) {
	// healthz: the process is alive and serving.
	app.Get("/healthz", func(c *fiber.Ctx) error {
		return c.JSON(fiber.Map{"status": "ok"})
	})
	// readyz: the process can do its work (Redis and the store answer).
	app.Get("/readyz", func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
		defer cancel()
		checks, ready := fiber.Map{}, true
		for _, ch := range d.Checks {
			if err := ch.Fn(ctx); err != nil {
				checks[ch.Name], ready = err.Error(), false
			} else {
				checks[ch.Name] = "ok"
			}
		}
		if !ready {
			return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable", "checks": checks})
		}
		return c.JSON(fiber.Map{"status": "ok", "checks": checks})
	})
}
