// Package static embeds the files the server serves under /static: the
// stylesheet and the front-end bundles esbuild writes to dist/.
package static

import "embed"

// FS holds app.css and dist/ (built by `make web`).
//
//go:embed app.css all:dist
var FS embed.FS
