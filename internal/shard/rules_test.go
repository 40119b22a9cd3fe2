package shard

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/multitab/multitab/internal/apperr"
)

func TestValidateFileName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"index.html", true}, {"src/app.js", true}, {"a/b/c-d_e.f.txt", true}, {".env", true},
		{"", false}, {"/abs", false}, {"trailing/", false}, {"a//b", false}, {"./a", false}, {"a/../b", false},
		{"..", false}, {"spa ce", false}, {"ümlaut.js", false}, {"a\\b", false}, {strings.Repeat("x", 256), false},
		{strings.Repeat("x", 255), true},
	} {
		err := ValidateFileName(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateFileName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && apperr.CodeOf(err) != apperr.BadRequest {
			t.Errorf("ValidateFileName(%q): code %s, want bad_request", tc.name, apperr.CodeOf(err))
		}
	}
}

func TestValidateTitle(t *testing.T) {
	for title, ok := range map[string]bool{"Hello": true, "  padded  ": true, "漢字 😀": true, "": false, "   ": false,
		"tab\there": false, strings.Repeat("x", 201): false, "\xff": false} {
		if err := ValidateTitle(title); (err == nil) != ok {
			t.Errorf("ValidateTitle(%q) = %v, want ok=%v", title, err, ok)
		}
	}
}

func TestNewAndAccess(t *testing.T) {
	s, tokens, err := New(NewParams{Title: " Private ", Template: "svelte", Visibility: Private}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if s.Title != "Private" || len(s.Files) != 3 || !ValidID(s.ID) || tokens.Edit == tokens.View {
		t.Fatalf("New: %+v %+v", s, tokens)
	}
	for token, want := range map[string]Role{tokens.Edit: Editor, tokens.View: Viewer} {
		if role, err := Access(s.Visibility, s.EditTokenHash, s.ViewTokenHash, token); err != nil || role != want {
			t.Errorf("Access with a token: %v %v, want %v", role, err, want)
		}
	}
	if _, err := Access(s.Visibility, s.EditTokenHash, s.ViewTokenHash, ""); apperr.CodeOf(err) != apperr.Forbidden {
		t.Errorf("Access without token: %v", err)
	}
	if role, err := Access(Public, "", "", ""); err != nil || role != Editor {
		t.Errorf("public Access: %v %v", role, err)
	}
	if _, _, err := New(NewParams{Title: "x", Template: "cobol"}, time.Now()); apperr.CodeOf(err) != apperr.BadRequest {
		t.Errorf("unknown template: %v", err)
	}
	if _, _, err := New(NewParams{Title: "x", Template: "vue", Visibility: "secret"}, time.Now()); !errors.As(err, new(*apperr.Error)) {
		t.Errorf("bad visibility: %v", err)
	}
}
