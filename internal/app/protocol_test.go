package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/multitab/multitab/internal/app"
	"github.com/multitab/multitab/internal/wsclient"
)

// TestProtocolErrors drives every error path of PROTOCOL.md over a real
// socket and shows that the document is unchanged after each.
func TestProtocolErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl := newCluster(t, 1, app.Roles{Web: true}, "MAX_FILES", "4", "MAX_FILE_BYTES", "2048", "MAX_MESSAGE_BYTES", "8192")
	base, wsURL := cl.url(0), "ws://"+cl.nodes[0].Addr()+"/ws"
	pubID, _, _ := createShard(t, base, `{"title":"errors","template":"vanilla"}`)
	privID, editTok, viewTok := createShard(t, base, `{"title":"private","template":"static","visibility":"private"}`)

	dial := func(t *testing.T) *wsclient.Client {
		t.Helper()
		c, err := wsclient.Dial(ctx, wsURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	wantCode := func(t *testing.T, err error, code string) {
		t.Helper()
		var er *wsclient.ErrorReply
		if !errors.As(err, &er) || er.Code != code || er.Message == "" {
			t.Fatalf("got %v, want error %s with a message", err, code)
		}
	}

	editor := dial(t)
	joined, err := editor.Join(ctx, pubID, "Ed", "#00aa00", "")
	if err != nil {
		t.Fatal(err)
	}
	fid := joined.Files[0].ID
	doc, err := editor.Request(ctx, map[string]any{"type": "open", "file": fid})
	if err != nil {
		t.Fatal(err)
	}
	before := getShard(t, base, pubID)
	unchanged := func(t *testing.T) {
		t.Helper()
		after := getShard(t, base, pubID)
		b, _ := json.Marshal(before.Files)
		a, _ := json.Marshal(after.Files)
		if string(a) != string(b) {
			t.Fatalf("the shard changed:\nbefore %s\nafter  %s", b, a)
		}
	}
	push := func(version int64, changes string) (*wsclient.Msg, error) {
		return editor.Request(ctx, map[string]any{"type": "push", "file": fid, "version": version,
			"updates": []json.RawMessage{json.RawMessage(`{"clientID":"x","changes":` + changes + `}`)}})
	}
	n := len([]rune(doc.Text)) // template text is ASCII

	t.Run("unknown shard", func(t *testing.T) {
		c := dial(t)
		_, err := c.Join(ctx, "nosuchshardid", "X", "#000000", "")
		wantCode(t, err, "not_found")
	})
	t.Run("private shard without token", func(t *testing.T) {
		c := dial(t)
		_, err := c.Join(ctx, privID, "X", "#000000", "")
		wantCode(t, err, "forbidden")
		_, err = c.Join(ctx, privID, "X", "#000000", "wrong")
		wantCode(t, err, "forbidden")
	})
	t.Run("view token is read-only", func(t *testing.T) {
		c := dial(t)
		j, err := c.Join(ctx, privID, "V", "#000000", viewTok)
		if err != nil || j.Role != "viewer" {
			t.Fatalf("join with view token: %v %+v", err, j)
		}
		if _, err := c.Request(ctx, map[string]any{"type": "open", "file": j.Files[0].ID}); err != nil {
			t.Fatalf("a viewer may open: %v", err)
		}
		_, err = c.Request(ctx, map[string]any{"type": "push", "file": j.Files[0].ID, "version": 0,
			"updates": []any{map[string]any{"clientID": "v", "changes": []any{[]any{0, "x"}, 1}}}})
		wantCode(t, err, "forbidden")
		_, err = c.Request(ctx, map[string]any{"type": "file.create", "name": "x.js", "text": ""})
		wantCode(t, err, "forbidden")
		e := dial(t)
		if j, err := e.Join(ctx, privID, "E", "#000000", editTok); err != nil || j.Role != "editor" {
			t.Fatalf("join with edit token: %v", err)
		}
	})
	t.Run("version from the future", func(t *testing.T) {
		_, err := push(before.Files[0].Version+5, `[[0,"x"],`+itoa(n)+`]`)
		wantCode(t, err, "bad_request")
		unchanged(t)
	})
	t.Run("change set of the wrong length", func(t *testing.T) {
		_, err := push(before.Files[0].Version, `[[0,"x"],`+itoa(n+3)+`]`)
		wantCode(t, err, "bad_request")
		_, err = push(before.Files[0].Version, `[[0,"x"],`+itoa(n-1)+`]`)
		wantCode(t, err, "bad_request")
		unchanged(t)
	})
	t.Run("invalid change set", func(t *testing.T) {
		for _, cs := range []string{`"oops"`, `[-1]`, `[[1,2]]`, `{"a":1}`, `[1.5]`} {
			_, err := push(before.Files[0].Version, cs)
			wantCode(t, err, "bad_request")
		}
		_, err := editor.Request(ctx, map[string]any{"type": "push", "file": fid, "version": 0, "updates": []any{}})
		wantCode(t, err, "bad_request")
		unchanged(t)
	})
	t.Run("malformed JSON keeps the socket usable", func(t *testing.T) {
		if err := editor.SendRaw([]byte(`{"type":"push",`)); err != nil {
			t.Fatal(err)
		}
		m := nextEvent(t, editor, "error")
		if m.Code != "bad_request" {
			t.Fatalf("malformed JSON: %+v", m)
		}
		_, err := editor.Request(ctx, map[string]any{"type": "nope"})
		wantCode(t, err, "bad_request")
		_, err = editor.Request(ctx, map[string]any{"type": "open", "file": fid})
		if err != nil {
			t.Fatalf("socket not usable after malformed JSON: %v", err)
		}
		unchanged(t)
	})
	t.Run("pull", func(t *testing.T) {
		if _, err := push(before.Files[0].Version, `[[0,"pulled "],`+itoa(n)+`]`); err != nil {
			t.Fatalf("push: %v", err)
		}
		m, err := editor.Request(ctx, map[string]any{"type": "pull", "file": fid, "version": before.Files[0].Version})
		if err != nil || m.Type != "updates" || len(m.Updates) != 1 || m.Version != before.Files[0].Version {
			t.Fatalf("pull: %v %+v", err, m)
		}
		_, err = editor.Request(ctx, map[string]any{"type": "pull", "file": fid, "version": before.Files[0].Version + 9})
		wantCode(t, err, "bad_request")
		_, err = editor.Request(ctx, map[string]any{"type": "pull", "file": fid, "version": -1})
		wantCode(t, err, "bad_request")
		before = getShard(t, base, pubID) // the push above is the new baseline
		n += len("pulled ")
	})
	t.Run("unknown file", func(t *testing.T) {
		_, err := editor.Request(ctx, map[string]any{"type": "open", "file": "nosuchfile"})
		wantCode(t, err, "not_found")
		_, err = editor.Request(ctx, map[string]any{"type": "push", "file": "nosuchfile", "version": 0,
			"updates": []any{map[string]any{"clientID": "x", "changes": []any{[]any{0, "x"}}}}})
		wantCode(t, err, "not_found")
		_, err = editor.Request(ctx, map[string]any{"type": "file.rename", "file": "nosuchfile", "name": "a.js"})
		wantCode(t, err, "not_found")
		unchanged(t)
	})
	t.Run("bad file names", func(t *testing.T) {
		for _, name := range []string{"", "../x.js", "a//b.js", "./a.js", "/abs.js", "sp ace.js", "ü.js", strings.Repeat("a", 256)} {
			_, err := editor.Request(ctx, map[string]any{"type": "file.create", "name": name, "text": ""})
			wantCode(t, err, "bad_request")
		}
		_, err := editor.Request(ctx, map[string]any{"type": "file.rename", "file": fid, "name": "a/../b"})
		wantCode(t, err, "bad_request")
		unchanged(t)
	})
	t.Run("name conflict", func(t *testing.T) {
		_, err := editor.Request(ctx, map[string]any{"type": "file.create", "name": before.Files[1].Name, "text": ""})
		wantCode(t, err, "conflict")
		_, err = editor.Request(ctx, map[string]any{"type": "file.rename", "file": fid, "name": before.Files[1].Name})
		wantCode(t, err, "conflict")
		unchanged(t)
	})
	t.Run("file limits", func(t *testing.T) {
		_, err := editor.Request(ctx, map[string]any{"type": "file.create", "name": "big.txt", "text": strings.Repeat("x", 2049)})
		wantCode(t, err, "too_large")
		_, err = push(before.Files[0].Version, `[[0,"`+strings.Repeat("y", 2049)+`"],`+itoa(n)+`]`)
		wantCode(t, err, "too_large")
		unchanged(t)
		if _, err := editor.Request(ctx, map[string]any{"type": "file.create", "name": "fourth.js", "text": ""}); err != nil {
			t.Fatalf("fourth file: %v", err)
		}
		_, err = editor.Request(ctx, map[string]any{"type": "file.create", "name": "fifth.js", "text": ""})
		wantCode(t, err, "too_large")
		if got := len(getShard(t, base, pubID).Files); got != 4 {
			t.Fatalf("%d files, want 4", got)
		}
	})
	t.Run("deleted file", func(t *testing.T) {
		del, err := editor.Request(ctx, map[string]any{"type": "file.delete", "file": before.Files[2].ID})
		if err != nil || del.File != before.Files[2].ID {
			t.Fatalf("delete: %v", err)
		}
		_, err = editor.Request(ctx, map[string]any{"type": "push", "file": before.Files[2].ID, "version": 0,
			"updates": []any{map[string]any{"clientID": "x", "changes": []any{[]any{0, "x"}}}}})
		wantCode(t, err, "not_found")
	})
	t.Run("request before join", func(t *testing.T) {
		c := dial(t)
		_, err := c.Request(ctx, map[string]any{"type": "open", "file": fid})
		wantCode(t, err, "bad_request")
	})
	t.Run("oversize frame closes with 1009", func(t *testing.T) {
		c := dial(t)
		if _, err := c.Join(ctx, pubID, "Big", "#000000", ""); err != nil {
			t.Fatal(err)
		}
		_ = c.SendRaw([]byte(`{"type":"cursor","pad":"` + strings.Repeat("z", 9000) + `"}`))
		select {
		case <-c.Closed():
		case <-ctx.Done():
			t.Fatal("socket not closed")
		}
		if c.CloseCode != 1009 || !strings.Contains(c.CloseReason, "larger than 8192") {
			t.Fatalf("closed with %d %q, want 1009 and a reason", c.CloseCode, c.CloseReason)
		}
	})
	t.Run("foreign origin is refused", func(t *testing.T) {
		_, err := wsclient.Dial(ctx, wsURL, http.Header{"Origin": []string{"https://evil.example"}})
		if err == nil || !strings.Contains(err.Error(), "403") {
			t.Fatalf("foreign origin: %v, want HTTP 403", err)
		}
	})
}

func nextEvent(t *testing.T, c *wsclient.Client, typ string) *wsclient.Msg {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m := <-c.Events:
			if m.Type == typ {
				return m
			}
		case <-timeout:
			t.Fatalf("no %s message", typ)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
