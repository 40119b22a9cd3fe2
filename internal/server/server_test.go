package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/multitab/multitab/internal/app"
	"github.com/multitab/multitab/internal/testsvc"
)

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func do(t *testing.T, method, url, contentType, body string, header ...string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestAPI(t *testing.T) {
	svc := testsvc.Start(t)
	node := testsvc.Node(t, svc.Env, app.Roles{Web: true})
	base := "http://" + node.Addr()

	// A public and a private shard to read back.
	status, body := do(t, "POST", base+"/api/shards", "application/json", `{"title":"Public one","template":"vanilla","visibility":"public"}`)
	if status != 201 {
		t.Fatalf("create public: %d %s", status, body)
	}
	var pub struct{ ID, URL, EditToken, ViewToken string }
	_ = json.Unmarshal(body, &pub)
	if pub.URL != "/s/"+pub.ID || pub.EditToken != "" {
		t.Fatalf("create public: %s", body)
	}
	status, body = do(t, "POST", base+"/api/shards", "application/json", `{"title":"Secret","template":"svelte","visibility":"private"}`)
	var priv struct{ ID, EditToken, ViewToken string }
	_ = json.Unmarshal(body, &priv)
	if status != 201 || len(priv.EditToken) < 40 || len(priv.ViewToken) < 40 || priv.EditToken == priv.ViewToken {
		t.Fatalf("create private: %d %s", status, body)
	}

	for _, tc := range []struct {
		name, method, path, ctype, body string
		header                          []string
		status                          int
		code                            string // error code, or "" for success
		contains                        string
	}{
		{"templates", "GET", "/api/templates", "", "", nil, 200, "", `"id":"react"`},
		{"get public", "GET", "/api/shards/" + pub.ID, "", "", nil, 200, "", `"name":"src/main.js"`},
		{"get private without token", "GET", "/api/shards/" + priv.ID, "", "", nil, 403, "forbidden", "token"},
		{"get private with edit token", "GET", "/api/shards/" + priv.ID + "?token=" + priv.EditToken, "", "", nil, 200, "", `"title":"Secret"`},
		{"get private with bearer view token", "GET", "/api/shards/" + priv.ID, "", "", []string{"Authorization", "Bearer " + priv.ViewToken}, 200, "", `"visibility":"private"`},
		{"get private with wrong token", "GET", "/api/shards/" + priv.ID + "?token=nope", "", "", nil, 403, "forbidden", ""},
		{"unknown shard", "GET", "/api/shards/abcdefgh", "", "", nil, 404, "not_found", "shard not found"},
		{"junk shard id", "GET", "/api/shards/..%2Fetc", "", "", nil, 404, "not_found", ""},
		{"unknown template", "POST", "/api/shards", "application/json", `{"title":"x","template":"cobol"}`, nil, 400, "bad_request", "unknown template"},
		{"empty title", "POST", "/api/shards", "application/json", `{"title":"  ","template":"vanilla"}`, nil, 400, "bad_request", "title must not be empty"},
		{"oversize title", "POST", "/api/shards", "application/json", `{"title":"` + strings.Repeat("x", 201) + `","template":"vanilla"}`, nil, 400, "bad_request", "longer than 200"},
		{"bad visibility", "POST", "/api/shards", "application/json", `{"title":"x","template":"vanilla","visibility":"secret"}`, nil, 400, "bad_request", "visibility"},
		{"malformed JSON", "POST", "/api/shards", "application/json", `{"title":`, nil, 400, "bad_request", "malformed JSON"},
		{"not JSON", "POST", "/api/shards", "text/plain", `hello`, nil, 400, "bad_request", "Content-Type"},
		{"unknown API route", "GET", "/api/nothing", "", "", nil, 404, "not_found", ""},
		{"healthz", "GET", "/healthz", "", "", nil, 200, "", `"status":"ok"`},
		{"readyz", "GET", "/readyz", "", "", nil, 200, "", `"redis":"ok"`},
		{"ws without upgrade", "GET", "/ws", "", "", nil, 426, "", ""},
		{"stylesheet", "GET", "/static/app.css", "", "", nil, 200, "", ".editor-page"},
		{"editor bundle", "GET", "/static/dist/editor.js", "", "", nil, 200, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := do(t, tc.method, base+tc.path, tc.ctype, tc.body, tc.header...)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %.300s", status, tc.status, body)
			}
			if tc.code != "" {
				var e apiError
				if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != tc.code || e.Error.Message == "" {
					t.Fatalf("error body %s, want code %q and a message", body, tc.code)
				}
			}
			if !bytes.Contains(body, []byte(tc.contains)) {
				t.Fatalf("body %.300s does not contain %q", body, tc.contains)
			}
		})
	}

	t.Run("oversize body", func(t *testing.T) {
		// Headers only: the server refuses on Content-Length before reading
		// a body, and closes; a client still writing a real 2 MiB body may
		// see that close as a reset instead of the answer.
		conn, err := net.Dial("tcp", node.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /api/shards HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", node.Addr(), 2<<20)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e apiError
		if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || resp.StatusCode != 413 || e.Error.Code != "too_large" || e.Error.Message == "" {
			t.Fatalf("oversize body: %d %+v %v, want 413 too_large", resp.StatusCode, e, err)
		}
	})

	// Bad input stored nothing: only the two shards exist.
	status, body = do(t, "GET", base+"/", "", "")
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
	if status != 200 || err != nil {
		t.Fatalf("home: %d %v", status, err)
	}
	if n := doc.Find(`[data-testid=recent-shards] li`).Length(); n != 1 {
		t.Fatalf("home lists %d public shards, want 1 (the private one is not listed, bad input created none)", n)
	}
	if n := doc.Find(`[data-testid^=template-]`).Length(); n != 5 {
		t.Fatalf("home offers %d templates, want 5", n)
	}
}

func TestPages(t *testing.T) {
	svc := testsvc.Start(t)
	node := testsvc.Node(t, svc.Env, app.Roles{Web: true})
	base := "http://" + node.Addr()

	status, _ := do(t, "POST", base+"/new", "application/x-www-form-urlencoded", "title=Form+made&template=vue")
	if status != 303 {
		t.Fatalf("form create: %d", status)
	}
	req, _ := http.NewRequest("POST", base+"/new", strings.NewReader("title=Private+one&template=static&private=1"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != 303 || !strings.Contains(loc, "?token=") || !strings.Contains(loc, "#view=") {
		t.Fatalf("private form create: %d %q", resp.StatusCode, loc)
	}

	status, body := do(t, "GET", base+strings.Split(loc, "#")[0], "", "")
	doc, _ := goquery.NewDocumentFromReader(bytes.NewReader(body))
	if status != 200 || doc.Find(`[data-testid=shard-title]`).Text() != "Private one" || doc.Find(`[data-testid=file-item]`).Length() != 2 {
		t.Fatalf("editor page of private shard: %d %.500s", status, body)
	}
	status, body = do(t, "GET", base+strings.Split(loc, "?")[0], "", "")
	if status != 403 || !bytes.Contains(body, []byte("private")) {
		t.Fatalf("editor page without token: %d %.300s", status, body)
	}
	status, _ = do(t, "GET", base+"/s/nosuchshard", "", "")
	if status != 404 {
		t.Fatalf("unknown editor page: %d", status)
	}
	status, body = do(t, "POST", base+"/new", "application/x-www-form-urlencoded", "title=&template=vue")
	doc, _ = goquery.NewDocumentFromReader(bytes.NewReader(body))
	if status != 400 || !strings.Contains(doc.Find(`[data-testid=form-error]`).Text(), "title") {
		t.Fatalf("form with empty title: %d", status)
	}
}

func TestReadyzReportsRedisDown(t *testing.T) {
	svc := testsvc.Start(t)
	node := testsvc.Node(t, svc.Env, app.Roles{Web: true})
	base := "http://" + node.Addr()
	if status, body := do(t, "GET", base+"/readyz", "", ""); status != 200 {
		t.Fatalf("readyz before: %d %s", status, body)
	}
	svc.Redis.Stop()
	status, body := do(t, "GET", base+"/readyz", "", "")
	var r struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	_ = json.Unmarshal(body, &r)
	if status != 503 || r.Status != "unavailable" || r.Checks["redis"] == "ok" || r.Checks["redis"] == "" || r.Checks["mongo"] != "ok" {
		t.Fatalf("readyz with redis down: %d %s", status, body)
	}
	if status, _ := do(t, "GET", base+"/healthz", "", ""); status != 200 {
		t.Fatalf("healthz with redis down: %d, want 200", status)
	}
}
