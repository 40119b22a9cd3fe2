package collab

import (
	"bytes"
	"encoding/json"

	"github.com/multitab/multitab/internal/apperr"
)

// inbound is any client message of PROTOCOL.md; fields unused by a type
// stay zero.
type inbound struct {
	Type    string            `json:"type"`
	Ref     json.RawMessage   `json:"ref"`
	Shard   string            `json:"shard"`
	Name    *string           `json:"name"`
	Color   string            `json:"color"`
	Token   string            `json:"token"`
	File    string            `json:"file"`
	Version *int64            `json:"version"`
	Updates []json.RawMessage `json:"updates"`
	Ranges  json.RawMessage   `json:"ranges"`
	Text    *string           `json:"text"`
}

// wireUpdate is one collab update as clients send it.
type wireUpdate struct {
	ClientID string          `json:"clientID"`
	Changes  json.RawMessage `json:"changes"`
}

type errorMsg struct {
	Type    string          `json:"type"`
	Ref     json.RawMessage `json:"ref,omitempty"`
	Code    apperr.Code     `json:"code"`
	Message string          `json:"message"`
}

type joinedMsg struct {
	Type    string          `json:"type"`
	Ref     json.RawMessage `json:"ref,omitempty"`
	Shard   string          `json:"shard"`
	Title   string          `json:"title"`
	Member  string          `json:"member"`
	Role    string          `json:"role"`
	Files   json.RawMessage `json:"files"`
	Members any             `json:"members"`
}

type docMsg struct {
	Type    string          `json:"type"`
	Ref     json.RawMessage `json:"ref,omitempty"`
	File    string          `json:"file"`
	Version int64           `json:"version"`
	Text    string          `json:"text"`
}

type updatesMsg struct {
	Type    string            `json:"type"`
	Ref     json.RawMessage   `json:"ref,omitempty"`
	File    string            `json:"file"`
	Version int64             `json:"version"`
	Updates []json.RawMessage `json:"updates"`
}

type ackMsg struct {
	Type    string          `json:"type"` // ack | stale
	Ref     json.RawMessage `json:"ref,omitempty"`
	File    string          `json:"file"`
	Version int64           `json:"version"`
}

type okMsg struct {
	Type string          `json:"type"`
	Ref  json.RawMessage `json:"ref,omitempty"`
	File string          `json:"file,omitempty"`
}

type cursorMsg struct {
	Type    string          `json:"type"`
	Member  string          `json:"member"`
	File    string          `json:"file"`
	Version int64           `json:"version"`
	Ranges  json.RawMessage `json:"ranges"`
}

type roomClosedMsg struct {
	Type   string `json:"type"`
	Reason string `json:"reason"`
}

// event is the header of a message published on a shard's channel; the
// payload is the client message itself, forwarded as it is.
type event struct {
	Type    string            `json:"type"`
	File    string            `json:"file"`
	Version int64             `json:"version"`
	Updates []json.RawMessage `json:"updates"`
	// Member is an id (member.left, cursor) or an object (member.joined,
	// member.updated).
	Member json.RawMessage `json:"member"`
}

// memberID returns the id an event is about or comes from.
func (e *event) memberID() string {
	m := bytes.TrimSpace(e.Member)
	if len(m) == 0 {
		return ""
	}
	if m[0] == '"' {
		var id string
		_ = json.Unmarshal(m, &id)
		return id
	}
	var obj struct {
		ID string `json:"member"`
	}
	_ = json.Unmarshal(m, &obj)
	return obj.ID
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own message types are encoded; failing is a bug.
		panic(err)
	}
	return b
}

// validRef reports whether ref is absent, a number or a string.
func validRef(ref json.RawMessage) bool {
	r := bytes.TrimSpace(ref)
	if len(r) == 0 {
		return true
	}
	switch {
	case r[0] == '"':
		var s string
		return json.Unmarshal(r, &s) == nil && len(s) <= 128
	case r[0] == '-' || r[0] >= '0' && r[0] <= '9':
		var f float64
		return json.Unmarshal(r, &f) == nil
	}
	return false
}
