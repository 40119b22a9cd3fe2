package changeset

import "testing"

func TestProtocolExample(t *testing.T) {
	c, err := Parse([]byte(`[[1,"J"],5,[0,"big","new "],2,[2],4]`))
	if err != nil {
		t.Fatal(err)
	}
	doc := "héllo 😀 wörld"
	if Length(doc) != 14 || c.Len() != 14 {
		t.Fatalf("lengths: doc %d, changes %d; want 14", Length(doc), c.Len())
	}
	got, err := c.ApplyString(doc)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Jéllo big\nnew 😀örld"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if c.NewLen() != Length(got) {
		t.Fatalf("NewLen %d, text length %d", c.NewLen(), Length(got))
	}
}

func TestParseRejects(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"not json", `[1,`},
		{"object", `{"a":1}`},
		{"null", `null`},
		{"negative", `[-1]`},
		{"fraction", `[1.5]`},
		{"string part", `["x"]`},
		{"empty inner", `[[]]`},
		{"inner non-number length", `[["a","b"]]`},
		{"inner non-string line", `[[1,2]]`},
		{"huge", `[2e30]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if c, err := Parse([]byte(tc.in)); err == nil {
				t.Fatalf("Parse(%s) = %v, want error", tc.in, c)
			}
		})
	}
}

func TestApplyWrongLength(t *testing.T) {
	c, _ := Parse([]byte(`[3,[0,"x"]]`))
	if _, err := c.ApplyString("ab"); err == nil {
		t.Fatal("applying to a document of the wrong length succeeded")
	}
	other, _ := Parse([]byte(`[2,[0,"y"],3]`))
	if _, err := c.Map(other, false); err == nil {
		t.Fatal("mapping over a set of another length succeeded")
	}
}

func TestParseCanonical(t *testing.T) {
	for in, want := range map[string]string{
		`[0,[0,"a"],3,0]`:     `[[0,"a"],3]`,
		`[2,1,[0],[1,"x"],0]`: `[3,[1,"x"]]`,
		`[[0,"a"],[0,"b"],2]`: `[[0,"ab"],2]`,
		`[[2],[0,"x"],1]`:     `[[2],[0,"x"],1]`,
		`[]`:                  `[]`,
	} {
		c, err := Parse([]byte(in))
		if err != nil {
			t.Fatalf("Parse(%s): %v", in, err)
		}
		got, _ := c.MarshalJSON()
		if string(got) != want {
			t.Errorf("Parse(%s) = %s, want %s", in, got, want)
		}
	}
}
