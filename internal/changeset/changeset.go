// Package changeset is CodeMirror 6's ChangeSet in Go: the JSON form of
// @codemirror/state, applied to text in UTF-16 code units, and the map and
// compose operations that @codemirror/collab's rebaseUpdates and
// receiveUpdates are built on. The algorithms follow @codemirror/state 6.7
// step for step, so that results match it exactly (a test checks this
// against the real library on random cases).
package changeset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf16"
)

// ErrMismatch is returned when two change sets do not start from (or
// continue) documents of the same length.
var ErrMismatch = errors.New("changeset: mismatched change set lengths")

// ChangeSet is a set of changes to a document of a known length. Sections
// are pairs (len, ins): len units of the old document, and ins = -1 when
// they are kept or the length of their replacement. A description (Desc)
// has the same sections and no inserted text.
type ChangeSet struct {
	sections []int
	// inserted[i] is the text of section i (UTF-16); nil for a description.
	inserted [][]uint16
	desc     bool
}

// Len is the length of the document the changes apply to.
func (c *ChangeSet) Len() int {
	n := 0
	for i := 0; i < len(c.sections); i += 2 {
		n += c.sections[i]
	}
	return n
}

// NewLen is the length of the document the changes produce.
func (c *ChangeSet) NewLen() int {
	n := 0
	for i := 0; i < len(c.sections); i += 2 {
		if ins := c.sections[i+1]; ins < 0 {
			n += c.sections[i]
		} else {
			n += ins
		}
	}
	return n
}

// Empty reports whether the set changes nothing.
func (c *ChangeSet) Empty() bool {
	return len(c.sections) == 0 || len(c.sections) == 2 && c.sections[1] < 0
}

// Desc returns the description of c: its sections without inserted text.
func (c *ChangeSet) Desc() *ChangeSet { return &ChangeSet{sections: c.sections, desc: true} }

// Limits on what Parse accepts, so that a hostile frame cannot make the
// server allocate without bound.
const (
	maxSections = 1 << 16
	maxLength   = 1 << 30
)

// Parse reads the JSON form of ChangeSet.toJSON(): an array of numbers
// (kept lengths) and arrays [deletedLength, ...insertedLines].
func Parse(data []byte) (*ChangeSet, error) {
	var parts []json.RawMessage
	if err := json.Unmarshal(data, &parts); err != nil || parts == nil {
		return nil, errors.New("changes must be a JSON array")
	}
	if len(parts) > maxSections {
		return nil, fmt.Errorf("changes have more than %d parts", maxSections)
	}
	// Sections are added as @codemirror/state builds them (addSection,
	// addInsert), so that a set with empty or split sections, which
	// CodeMirror never makes but a client may send, is stored canonical.
	c := &ChangeSet{sections: make([]int, 0, 2*len(parts)), inserted: [][]uint16{}}
	total := 0
	for i, p := range parts {
		p = bytes.TrimSpace(p)
		if len(p) > 0 && p[0] == '[' {
			var elems []json.RawMessage
			if err := json.Unmarshal(p, &elems); err != nil || len(elems) == 0 {
				return nil, fmt.Errorf("changes[%d]: must be [length, ...lines]", i)
			}
			n, err := parseLength(elems[0])
			if err != nil {
				return nil, fmt.Errorf("changes[%d][0]: %w", i, err)
			}
			lines := make([]string, len(elems)-1)
			for j, e := range elems[1:] {
				if err := json.Unmarshal(e, &lines[j]); err != nil || len(e) == 0 || e[0] != '"' {
					return nil, fmt.Errorf("changes[%d][%d]: inserted lines must be strings", i, j+1)
				}
			}
			total += n
			text := utf16.Encode([]rune(strings.Join(lines, "\n")))
			c.sections = addSection(c.sections, n, len(text), false)
			c.inserted = addInsert(c.inserted, c.sections, text)
		} else {
			n, err := parseLength(p)
			if err != nil {
				return nil, fmt.Errorf("changes[%d]: %w", i, err)
			}
			total += n
			c.sections = addSection(c.sections, n, -1, false)
		}
		if total > maxLength {
			return nil, fmt.Errorf("changes cover more than %d units", maxLength)
		}
	}
	return c, nil
}

func parseLength(raw json.RawMessage) (int, error) {
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return 0, errors.New("length must be a number")
	}
	if f < 0 || f > maxLength || f != math.Trunc(f) {
		return 0, fmt.Errorf("length %v must be a whole number from 0 to %d", f, maxLength)
	}
	return int(f), nil
}

// MarshalJSON writes the form of ChangeSet.toJSON() (or, for a
// description, ChangeDesc.toJSON(): the flat sections).
func (c *ChangeSet) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('[')
	if c.desc {
		for i, n := range c.sections {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprint(&b, n)
		}
		b.WriteByte(']')
		return b.Bytes(), nil
	}
	for i := 0; i < len(c.sections); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		n, ins := c.sections[i], c.sections[i+1]
		switch {
		case ins < 0:
			fmt.Fprint(&b, n)
		case ins == 0:
			fmt.Fprintf(&b, "[%d]", n)
		default:
			fmt.Fprintf(&b, "[%d", n)
			for _, line := range strings.Split(string(utf16.Decode(c.inserted[i>>1])), "\n") {
				b.WriteByte(',')
				enc, err := json.Marshal(line)
				if err != nil {
					return nil, err
				}
				b.Write(enc)
			}
			b.WriteByte(']')
		}
	}
	b.WriteByte(']')
	return b.Bytes(), nil
}

// Apply returns doc with the changes applied. doc is in UTF-16 code units.
func (c *ChangeSet) Apply(doc []uint16) ([]uint16, error) {
	if c.desc {
		return nil, errors.New("changeset: cannot apply a description")
	}
	if c.Len() != len(doc) {
		return nil, fmt.Errorf("changeset: covers %d units, the document has %d", c.Len(), len(doc))
	}
	out := make([]uint16, 0, c.NewLen())
	pos := 0
	for i := 0; i < len(c.sections); i += 2 {
		n, ins := c.sections[i], c.sections[i+1]
		if ins < 0 {
			out = append(out, doc[pos:pos+n]...)
		} else if ins > 0 {
			out = append(out, c.inserted[i>>1]...)
		}
		pos += n
	}
	return out, nil
}

// ApplyString is Apply for a Go string (UTF-8 in, UTF-8 out).
func (c *ChangeSet) ApplyString(doc string) (string, error) {
	out, err := c.Apply(utf16.Encode([]rune(doc)))
	if err != nil {
		return "", err
	}
	return string(utf16.Decode(out)), nil
}

// Length returns the length of s in UTF-16 code units.
func Length(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 && r <= utf8MaxRune {
			n += 2
		} else {
			n++
		}
	}
	return n
}

const utf8MaxRune = '\U0010FFFF'

// Compose returns the changes of c followed by other (ChangeSet.compose).
func (c *ChangeSet) Compose(other *ChangeSet) (*ChangeSet, error) {
	if c.Empty() {
		return other, nil
	}
	if other.Empty() {
		return c, nil
	}
	return composeSets(c, other, true)
}

// ComposeDesc is ChangeDesc.composeDesc: the composition as a description.
func (c *ChangeSet) ComposeDesc(other *ChangeSet) (*ChangeSet, error) {
	if c.Empty() {
		return other, nil
	}
	if other.Empty() {
		return c, nil
	}
	return composeSets(c, other, false)
}

// Map returns c rewritten to apply after other, both starting from the same
// document (ChangeSet.map). With before, c is ordered before other where
// they insert at the same place.
func (c *ChangeSet) Map(other *ChangeSet, before bool) (*ChangeSet, error) {
	if other.Empty() {
		return c, nil
	}
	return mapSet(c, other, before, !c.desc)
}

// MapDesc is mapDesc of @codemirror/state: on a set it maps keeping the
// inserted text (ChangeSet.mapDesc, which skips the emptiness shortcut), on
// a description it returns a description (ChangeDesc.mapDesc).
func (c *ChangeSet) MapDesc(other *ChangeSet, before bool) (*ChangeSet, error) {
	if c.desc {
		if other.Empty() {
			return c, nil
		}
		return mapSet(c, other, before, false)
	}
	return mapSet(c, other, before, true)
}
