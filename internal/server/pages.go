package server

import (
	"net/url"

	"github.com/gofiber/fiber/v2"

	"github.com/multitab/multitab/internal/apperr"
	"github.com/multitab/multitab/internal/shard"
	"github.com/multitab/multitab/views"
)

func bindPages(app *fiber.App, d Deps) {
	app.Get("/", home(d))
	app.Post("/new", newFromForm(d))
	app.Get("/s/:id", editor(d))
}

func homePage(c *fiber.Ctx, d Deps, formErr string) error {
	recent, _, err := d.Shards.List(c.UserContext(), shard.ListQuery{Visibility: shard.Public, Limit: 12})
	if err != nil {
		return err
	}
	return render(c, views.Layout("Start", views.Home(views.HomeProps{Templates: shard.Templates(), Recent: recent, Error: formErr})))
}

func home(d Deps) fiber.Handler {
	return func(c *fiber.Ctx) error { return homePage(c, d, "") }
}

// newFromForm creates a shard from the start page's form and opens it. A
// private shard's tokens travel in the URL: the edit token in the query
// (the editor joins with it) and the view token in the fragment (shown once
// for sharing, never sent to the server).
func newFromForm(d Deps) fiber.Handler {
	return func(c *fiber.Ctx) error {
		vis := shard.Public
		if c.FormValue("private") != "" {
			vis = shard.Private
		}
		sh, tokens, err := newShard(c.UserContext(), d, shard.NewParams{Title: c.FormValue("title"), Template: c.FormValue("template"), Visibility: vis})
		if apperr.CodeOf(err) == apperr.BadRequest {
			return homePage(c.Status(fiber.StatusBadRequest), d, apperr.MessageOf(err))
		}
		if err != nil {
			return err
		}
		target := "/s/" + sh.ID
		if vis == shard.Private {
			target += "?token=" + url.QueryEscape(tokens.Edit) + "#view=" + url.QueryEscape(tokens.View)
		}
		return c.Redirect(target, fiber.StatusSeeOther)
	}
}

func editor(d Deps) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id := c.Params("id")
		if !shard.ValidID(id) {
			return shard.ErrNotFound
		}
		sh, err := currentShard(c.UserContext(), d, id, tokenOf(c))
		if err != nil {
			return err
		}
		files := make([]shard.File, len(sh.Files))
		for i, f := range sh.Files {
			files[i] = shard.File{ID: f.ID, Name: f.Name}
		}
		return render(c, views.Layout(sh.Title, views.Editor(views.EditorProps{ID: sh.ID, Title: sh.Title,
			Template: sh.Template, Visibility: sh.Visibility, Files: files}), "/static/dist/editor.js"))
	}
}
