// Package wsclient is a multitab protocol client in Go, written only from
// PROTOCOL.md: it keeps each open file's text and its unconfirmed local
// updates exactly as @codemirror/collab does, so tests and the load
// generator behave like browsers.
package wsclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/fasthttp/websocket"

	"github.com/multitab/multitab/internal/changeset"
)

// Msg is any server message, decoded loosely.
type Msg struct {
	Type    string            `json:"type"`
	Ref     json.RawMessage   `json:"ref,omitempty"`
	Code    string            `json:"code,omitempty"`
	Message string            `json:"message,omitempty"`
	Reason  string            `json:"reason,omitempty"`
	Shard   string            `json:"shard,omitempty"`
	Title   string            `json:"title,omitempty"`
	Member  json.RawMessage   `json:"member,omitempty"`
	Role    string            `json:"role,omitempty"`
	File    string            `json:"file,omitempty"`
	Version int64             `json:"version"`
	Text    string            `json:"text"`
	Files   []FileInfo        `json:"files,omitempty"`
	Members []Member          `json:"members,omitempty"`
	Updates []json.RawMessage `json:"updates,omitempty"`
	Change  json.RawMessage   `json:"change,omitempty"`
	Ranges  json.RawMessage   `json:"ranges,omitempty"`
	Raw     []byte            `json:"-"`
}

// FileInfo is a file in joined and files messages.
type FileInfo struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Version int64  `json:"version"`
}

// Member is a member in joined and member events.
type Member struct {
	ID    string  `json:"member"`
	Name  string  `json:"name"`
	Color string  `json:"color"`
	File  *string `json:"file"`
	Node  string  `json:"node"`
}

// ErrorReply is an error message from the server.
type ErrorReply struct{ Code, Message string }

func (e *ErrorReply) Error() string { return e.Code + ": " + e.Message }

// Client is one socket.
type Client struct {
	conn   *websocket.Conn
	wmu    sync.Mutex
	nextID int

	mu      sync.Mutex
	pending map[string]chan *Msg
	files   map[string]*File
	member  string
	closed  chan struct{}
	closeMu sync.Mutex
	// CloseCode and CloseReason are set when the server closed the socket.
	CloseCode   int
	CloseReason string
	// Events receives every message that is not a reply (buffered; the
	// oldest are dropped when nobody reads).
	Events chan *Msg
}

// Dial connects to a node's /ws (url like ws://127.0.0.1:8080/ws).
func Dial(ctx context.Context, url string, header http.Header) (*Client, error) {
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, resp, err := d.DialContext(ctx, url, header)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("wsclient: dial %s: %w (HTTP %d)", url, err, resp.StatusCode)
		}
		return nil, fmt.Errorf("wsclient: dial %s: %w", url, err)
	}
	c := &Client{conn: conn, pending: map[string]chan *Msg{}, files: map[string]*File{}, closed: make(chan struct{}), Events: make(chan *Msg, 4096)}
	go c.read()
	return c, nil
}

// Closed is closed when the socket is gone.
func (c *Client) Closed() <-chan struct{} { return c.closed }

// Close closes the socket.
func (c *Client) Close() error { return c.conn.Close() }

// Member is the member id given at join.
func (c *Client) Member() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.member
}

// SendRaw writes a frame as it is.
func (c *Client) SendRaw(frame []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.conn.WriteMessage(websocket.TextMessage, frame)
}

// Send writes a message without waiting for a reply.
func (c *Client) Send(msg map[string]any) error {
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	return c.SendRaw(b)
}

// Request sends msg with a fresh ref and waits for the reply with that ref.
// An error reply is returned as *ErrorReply.
func (c *Client) Request(ctx context.Context, msg map[string]any) (*Msg, error) {
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	ref := strconv.Itoa(id)
	ch := make(chan *Msg, 1)
	c.pending[ref] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, ref)
		c.mu.Unlock()
	}()
	msg["ref"] = id
	if err := c.Send(msg); err != nil {
		return nil, err
	}
	select {
	case m := <-ch:
		if m.Type == "error" {
			return m, &ErrorReply{Code: m.Code, Message: m.Message}
		}
		return m, nil
	case <-c.closed:
		return nil, fmt.Errorf("wsclient: socket closed (%d %s)", c.CloseCode, c.CloseReason)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *Client) read() {
	defer close(c.closed)
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				c.closeMu.Lock()
				c.CloseCode, c.CloseReason = ce.Code, ce.Text
				c.closeMu.Unlock()
			}
			return
		}
		m := &Msg{Raw: data}
		if err := json.Unmarshal(data, m); err != nil {
			continue
		}
		c.handle(m)
	}
}

func (c *Client) handle(m *Msg) {
	switch m.Type {
	case "updates":
		c.receiveUpdates(m)
	case "doc":
		c.receiveDoc(m)
	case "ack", "stale":
		c.mu.Lock()
		if f := c.files[m.File]; f != nil {
			f.inFlight = false
		}
		c.mu.Unlock()
	}
	if len(m.Ref) > 0 {
		ref := string(m.Ref)
		c.mu.Lock()
		ch := c.pending[ref]
		c.mu.Unlock()
		if ch != nil {
			ch <- m
			return
		}
	}
	select {
	case c.Events <- m:
	default:
	}
}

// Join joins a shard.
func (c *Client) Join(ctx context.Context, shardID, name, color, token string) (*Msg, error) {
	m, err := c.Request(ctx, map[string]any{"type": "join", "shard": shardID, "name": name, "color": color, "token": token})
	if err != nil {
		return m, err
	}
	var id string
	_ = json.Unmarshal(m.Member, &id)
	c.mu.Lock()
	c.member = id
	c.mu.Unlock()
	return m, nil
}

// File is the client's state of one open file.
type File struct {
	ID       string
	ClientID string
	// Version is the last version received from the server.
	Version int64
	// Doc is the local text, unconfirmed updates included.
	Doc         []uint16
	Unconfirmed []changeset.Update
	inFlight    bool
	reopen      bool
	// Confirmed counts local updates the server accepted (seen back).
	Confirmed int
	// Created counts local updates made.
	Created int
	// Resets counts docs received that replaced the local state.
	Resets int
}

// Text is the local text.
func (f *File) Text() string { return string(utf16.Decode(f.Doc)) }

// Open opens a file (subscribing to its updates) with the given collab
// client id, or re-opens it after a reconnect keeping local state.
func (c *Client) Open(ctx context.Context, fileID, clientID string) (*File, error) {
	c.mu.Lock()
	f := c.files[fileID]
	if f == nil {
		f = &File{ID: fileID, ClientID: clientID, Version: -1}
		c.files[fileID] = f
	}
	f.reopen = f.Version >= 0
	c.mu.Unlock()
	if _, err := c.Request(ctx, map[string]any{"type": "open", "file": fileID}); err != nil {
		return nil, err
	}
	return f, nil
}

// Adopt takes over a file's state from a previous socket (reconnect); then
// Open subscribes the new socket and Pull catches up, keeping unsent edits.
func (c *Client) Adopt(f *File) {
	c.mu.Lock()
	f.inFlight = false
	c.files[f.ID] = f
	c.mu.Unlock()
}

// State runs fn with the file's state locked.
func (c *Client) State(fileID string, fn func(f *File)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.files[fileID]; f != nil {
		fn(f)
	}
}

func (c *Client) receiveDoc(m *Msg) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.files[m.File]
	switch {
	case f == nil:
	case f.reopen:
		// The open of a reconnect: it only subscribes; the local state
		// catches up by pull, keeping unsent edits.
		f.reopen = false
	case f.Version < 0:
		f.Version, f.Doc = m.Version, utf16.Encode([]rune(m.Text))
	case m.Version > f.Version:
		// The server no longer holds the history since our version.
		if len(f.Unconfirmed) > 0 {
			f.Resets++
		}
		f.Version, f.Doc, f.Unconfirmed = m.Version, utf16.Encode([]rune(m.Text)), nil
	}
}

func (c *Client) receiveUpdates(m *Msg) {
	c.mu.Lock()
	f := c.files[m.File]
	if f == nil || f.Version < 0 {
		c.mu.Unlock()
		return
	}
	ups := make([]changeset.Update, 0, len(m.Updates))
	for _, raw := range m.Updates {
		var w struct {
			ClientID string          `json:"clientID"`
			Changes  json.RawMessage `json:"changes"`
		}
		if err := json.Unmarshal(raw, &w); err != nil {
			c.mu.Unlock()
			return
		}
		cs, err := changeset.Parse(w.Changes)
		if err != nil {
			c.mu.Unlock()
			return
		}
		ups = append(ups, changeset.Update{ClientID: w.ClientID, Changes: cs})
	}
	end := m.Version + int64(len(ups))
	if end <= f.Version {
		c.mu.Unlock()
		return
	}
	if m.Version > f.Version {
		// A gap: ask for it (the reply covers this message too).
		from := f.Version
		c.mu.Unlock()
		_ = c.Send(map[string]any{"type": "pull", "file": m.File, "version": from})
		return
	}
	ups = ups[f.Version-m.Version:]
	err := f.receive(ups)
	c.mu.Unlock()
	if err != nil {
		panic(fmt.Sprintf("wsclient: file %s: %v\nmsg: %s\nstate: version %d, doc len %d, unconfirmed %d", m.File, err, m.Raw, f.Version, len(f.Doc), len(f.Unconfirmed)))
	}
}

// receive is receiveUpdates of @codemirror/collab applied to one update at
// a time (see changeset.RebaseEach for why never to a batch).
func (f *File) receive(ups []changeset.Update) error {
	for _, u := range ups {
		f.Version++
		if u.ClientID == f.ClientID {
			if len(f.Unconfirmed) > 0 {
				f.Unconfirmed = f.Unconfirmed[1:]
			}
			f.Confirmed++
			continue
		}
		changes := u.Changes
		unconfirmed := make([]changeset.Update, len(f.Unconfirmed))
		for i, local := range f.Unconfirmed {
			mapped, err := local.Changes.Map(changes, false)
			if err != nil {
				return err
			}
			if changes, err = changes.Map(local.Changes, true); err != nil {
				return err
			}
			unconfirmed[i] = changeset.Update{ClientID: local.ClientID, Changes: mapped}
		}
		doc, err := changes.Apply(f.Doc)
		if err != nil {
			return err
		}
		f.Doc, f.Unconfirmed = doc, unconfirmed
	}
	return nil
}

// Edit applies a local change, made by change from the current local text,
// and queues it for pushing. A nil change set edits nothing.
func (c *Client) Edit(fileID string, change func(doc []uint16) *changeset.ChangeSet) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.files[fileID]
	if f == nil {
		return fmt.Errorf("wsclient: file %s not open", fileID)
	}
	if f.Version < 0 {
		return nil
	}
	cs := change(f.Doc)
	if cs == nil {
		return nil
	}
	doc, err := cs.Apply(f.Doc)
	if err != nil {
		return err
	}
	f.Doc = doc
	f.Unconfirmed = append(f.Unconfirmed, changeset.Update{ClientID: f.ClientID, Changes: cs})
	f.Created++
	return nil
}

// Push sends the file's unconfirmed updates unless a push is in flight;
// the ack or stale reply arrives as an event. It reports whether it sent.
func (c *Client) Push(fileID string) (bool, error) {
	c.mu.Lock()
	f := c.files[fileID]
	if f == nil || f.inFlight || len(f.Unconfirmed) == 0 || f.Version < 0 {
		c.mu.Unlock()
		return false, nil
	}
	ups := make([]map[string]any, len(f.Unconfirmed))
	for i, u := range f.Unconfirmed {
		ups[i] = map[string]any{"clientID": u.ClientID, "changes": u.Changes}
	}
	f.inFlight = true
	msg := map[string]any{"type": "push", "file": fileID, "version": f.Version, "updates": ups}
	c.nextID++
	msg["ref"] = c.nextID
	c.mu.Unlock()
	return true, c.Send(msg)
}

// Pull asks for the updates since the file's version and waits for them.
func (c *Client) Pull(ctx context.Context, fileID string) error {
	c.mu.Lock()
	f := c.files[fileID]
	if f == nil {
		c.mu.Unlock()
		return fmt.Errorf("wsclient: file %s not open", fileID)
	}
	from := f.Version
	c.mu.Unlock()
	_, err := c.Request(ctx, map[string]any{"type": "pull", "file": fileID, "version": from})
	return err
}
