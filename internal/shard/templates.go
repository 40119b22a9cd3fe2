package shard

import (
	"slices"
	"strings"
	"time"

	"github.com/multitab/multitab/internal/apperr"
)

// Template is a starter file set a shard is created from.
type Template struct {
	ID           string
	Name         string
	Description  string
	Files        []TemplateFile
	Dependencies map[string]string
}

// TemplateFile is one file of a template.
type TemplateFile struct {
	Name string
	Text string
}

// Templates returns the built-in templates in display order. The slice is
// new on every call, so callers may keep or change it.
func Templates() []Template {
	return []Template{
		{
			ID: "static", Name: "Static HTML", Description: "Plain HTML and CSS, no JavaScript.",
			Files: []TemplateFile{
				{"index.html", "<!doctype html>\n<html lang=\"en\">\n<head>\n  <meta charset=\"utf-8\">\n  <title>Hello</title>\n  <link rel=\"stylesheet\" href=\"style.css\">\n</head>\n<body>\n  <h1>Hello, multitab!</h1>\n</body>\n</html>\n"},
				{"style.css", "body {\n  font-family: system-ui, sans-serif;\n  margin: 2rem;\n}\n"},
			},
		},
		{
			ID: "vanilla", Name: "Vanilla JS", Description: "HTML, CSS and a JavaScript module.",
			Files: []TemplateFile{
				{"index.html", "<!doctype html>\n<html lang=\"en\">\n<head>\n  <meta charset=\"utf-8\">\n  <title>Vanilla</title>\n  <link rel=\"stylesheet\" href=\"src/style.css\">\n</head>\n<body>\n  <div id=\"app\"></div>\n  <script type=\"module\" src=\"src/main.js\"></script>\n</body>\n</html>\n"},
				{"src/main.js", "const app = document.querySelector('#app');\nlet count = 0;\nconst button = document.createElement('button');\nbutton.textContent = 'count is 0';\nbutton.onclick = () => { button.textContent = `count is ${++count}`; };\napp.append(button);\n"},
				{"src/style.css", "body {\n  font-family: system-ui, sans-serif;\n}\n"},
			},
			Dependencies: map[string]string{"vite": "^5.4.0"},
		},
		{
			ID: "react", Name: "React", Description: "React 18 with a counter component.",
			Files: []TemplateFile{
				{"index.html", "<!doctype html>\n<html lang=\"en\">\n<body>\n  <div id=\"root\"></div>\n  <script type=\"module\" src=\"src/main.jsx\"></script>\n</body>\n</html>\n"},
				{"src/main.jsx", "import { createRoot } from 'react-dom/client';\nimport App from './App.jsx';\n\ncreateRoot(document.getElementById('root')).render(<App />);\n"},
				{"src/App.jsx", "import { useState } from 'react';\n\nexport default function App() {\n  const [count, setCount] = useState(0);\n  return <button onClick={() => setCount(count + 1)}>count is {count}</button>;\n}\n"},
			},
			Dependencies: map[string]string{"react": "^18.3.1", "react-dom": "^18.3.1", "vite": "^5.4.0"},
		},
		{
			ID: "vue", Name: "Vue", Description: "Vue 3 with a single-file component.",
			Files: []TemplateFile{
				{"index.html", "<!doctype html>\n<html lang=\"en\">\n<body>\n  <div id=\"app\"></div>\n  <script type=\"module\" src=\"src/main.js\"></script>\n</body>\n</html>\n"},
				{"src/main.js", "import { createApp } from 'vue';\nimport App from './App.vue';\n\ncreateApp(App).mount('#app');\n"},
				{"src/App.vue", "<script setup>\nimport { ref } from 'vue';\nconst count = ref(0);\n</script>\n\n<template>\n  <button @click=\"count++\">count is {{ count }}</button>\n</template>\n"},
			},
			Dependencies: map[string]string{"vue": "^3.4.0", "vite": "^5.4.0"},
		},
		{
			ID: "svelte", Name: "Svelte", Description: "Svelte 4 with a counter component.",
			Files: []TemplateFile{
				{"index.html", "<!doctype html>\n<html lang=\"en\">\n<body>\n  <div id=\"app\"></div>\n  <script type=\"module\" src=\"src/main.js\"></script>\n</body>\n</html>\n"},
				{"src/main.js", "import App from './App.svelte';\n\nexport default new App({ target: document.getElementById('app') });\n"},
				{"src/App.svelte", "<script>\n  let count = 0;\n</script>\n\n<button on:click={() => count++}>count is {count}</button>\n"},
			},
			Dependencies: map[string]string{"svelte": "^4.2.0", "vite": "^5.4.0"},
		},
	}
}

// TemplateByID returns the template with the given id, or a bad_request
// error naming the known ones.
func TemplateByID(id string) (Template, error) {
	all := Templates()
	i := slices.IndexFunc(all, func(t Template) bool { return t.ID == id })
	if i < 0 {
		ids := make([]string, len(all))
		for j, t := range all {
			ids[j] = t.ID
		}
		return Template{}, apperr.Errorf(apperr.BadRequest, "unknown template %q (known: %v)", id, ids)
	}
	return all[i], nil
}

// NewParams are what a person chooses when creating a shard.
type NewParams struct {
	Title      string
	Template   string
	Visibility Visibility
}

// Tokens are a private shard's access tokens, returned once at creation.
type Tokens struct {
	Edit string
	View string
}

// New builds a shard from validated params and a template, with fresh ids
// and, for a private shard, fresh tokens (returned; only hashes are kept).
func New(p NewParams, now time.Time) (*Shard, Tokens, error) {
	if err := ValidateTitle(p.Title); err != nil {
		return nil, Tokens{}, err
	}
	if p.Visibility == "" {
		p.Visibility = Public
	}
	if !p.Visibility.Valid() {
		return nil, Tokens{}, apperr.Errorf(apperr.BadRequest, "visibility must be %q or %q", Public, Private)
	}
	tpl, err := TemplateByID(p.Template)
	if err != nil {
		return nil, Tokens{}, err
	}
	s := &Shard{
		ID:           NewID(8),
		Title:        strings.TrimSpace(p.Title),
		Template:     tpl.ID,
		Visibility:   p.Visibility,
		Dependencies: tpl.Dependencies,
		CreatedAt:    now,
		UpdatedAt:    now,
	}
	var tokens Tokens
	if p.Visibility == Private {
		tokens = Tokens{Edit: NewToken(), View: NewToken()}
		s.EditTokenHash, s.ViewTokenHash = HashToken(tokens.Edit), HashToken(tokens.View)
	}
	for i, f := range tpl.Files {
		s.Files = append(s.Files, File{ID: NewID(6), Name: f.Name, Text: f.Text, Seq: int64(i + 1)})
	}
	return s, tokens, nil
}
