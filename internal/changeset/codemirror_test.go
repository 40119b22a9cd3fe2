package changeset

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"unicode/utf16"
)

// casesPerOp is how many random cases each operation is checked on against
// @codemirror/state itself.
const casesPerOp = 10000

type cmCase struct {
	Op      string          `json:"op"`
	Doc     string          `json:"doc"`
	A       json.RawMessage `json:"a"`
	B       json.RawMessage `json:"b"`
	Before  bool            `json:"before"`
	Want    json.RawMessage `json:"want"`
	WantDoc string          `json:"wantDoc"`
	Updates []wireUpdate    `json:"updates"`
	Over    []wireUpdate    `json:"over"`
}

type wireUpdate struct {
	ClientID string          `json:"clientID"`
	Changes  json.RawMessage `json:"changes"`
}

// TestMatchesCodeMirror runs random cases through @codemirror/state (in
// Node) and through this package and requires identical results.
func TestMatchesCodeMirror(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "node_modules", "@codemirror", "state")); err != nil {
		t.Fatalf("node_modules missing (run npm ci first): %v", err)
	}
	cmd := exec.Command("node", "testdata/gen.mjs", "10000", "20261204")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node gen.mjs: %v\n%s", err, stderr.String())
	}
	counts := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for line := 1; sc.Scan(); line++ {
		var c cmCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("line %d: %v", line, err)
		}
		got, err := runCase(c)
		if err != nil {
			t.Fatalf("line %d (%s): %v\ncase: %s", line, c.Op, err, sc.Bytes())
		}
		if !jsonEqual(got, c.Want) {
			t.Fatalf("line %d (%s): got %s, want %s\ncase: %s", line, c.Op, got, c.Want, sc.Bytes())
		}
		counts[c.Op]++
	}
	for _, op := range []string{"apply", "compose", "composeDesc", "map", "mapDesc", "rebase"} {
		if counts[op] < casesPerOp {
			t.Errorf("%s: checked %d cases, want at least %d", op, counts[op], casesPerOp)
		}
	}
}

func runCase(c cmCase) (json.RawMessage, error) {
	switch c.Op {
	case "apply":
		a := mustParse(c.A)
		got, err := a.ApplyString(c.Doc)
		if err != nil {
			return nil, err
		}
		return json.Marshal(got)
	case "compose", "composeDesc", "map", "mapDesc":
		a, b := mustParse(c.A), mustParse(c.B)
		var r *ChangeSet
		var err error
		switch c.Op {
		case "compose":
			r, err = a.Compose(b)
		case "composeDesc":
			r, err = a.Desc().ComposeDesc(b.Desc())
		case "map":
			r, err = a.Map(b, c.Before)
		case "mapDesc":
			r, err = a.Desc().MapDesc(b.Desc(), c.Before)
		}
		if err != nil {
			return nil, err
		}
		return json.Marshal(r)
	case "rebase":
		rebased, err := Rebase(toUpdates(c.Updates), toUpdates(c.Over))
		if err != nil {
			return nil, err
		}
		// The rebased updates must also give the same document.
		doc := utf16.Encode([]rune(c.Doc))
		for _, u := range append(toUpdates(c.Over), rebased...) {
			if doc, err = u.Changes.Apply(doc); err != nil {
				return nil, err
			}
		}
		if got := string(utf16.Decode(doc)); got != c.WantDoc {
			return json.Marshal(map[string]string{"doc": got, "want": c.WantDoc})
		}
		w := make([]wireUpdate, len(rebased))
		for i, u := range rebased {
			ch, _ := json.Marshal(u.Changes)
			w[i] = wireUpdate{ClientID: u.ClientID, Changes: ch}
		}
		return json.Marshal(w)
	}
	return nil, nil
}

func toUpdates(ws []wireUpdate) []Update {
	us := make([]Update, len(ws))
	for i, w := range ws {
		us[i] = Update{ClientID: w.ClientID, Changes: mustParse(w.Changes)}
	}
	return us
}

func mustParse(raw json.RawMessage) *ChangeSet {
	c, err := Parse(raw)
	if err != nil {
		panic(err)
	}
	return c
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	ax, _ := json.Marshal(x)
	by, _ := json.Marshal(y)
	return bytes.Equal(ax, by)
}
