// Package views holds multitab's templ components: the layout, the pages
// and their props. Components only render what they are given.
package views

import "net/http"

func statusTitle(status int) string {
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "Error"
}
