package strictjson

import (
	"encoding/json"
	"strings"
	"testing"
)

type inner struct {
	A int `json:"a"`
	B int `json:"b,omitempty"`
}

type base struct {
	Count int `json:"count"`
}

type summary struct {
	base
	Unit string `json:"unit"`
}

// num has its own decoding: only its presence is checked.
type num struct{ set bool }

func (n *num) UnmarshalJSON(b []byte) error { n.set = string(b) != "null"; return nil }

type doc struct {
	Schema  string             `json:"schema"`
	In      inner              `json:"in"`
	Ptr     *inner             `json:"ptr"`
	List    []inner            `json:"list"`
	ByName  map[string]summary `json:"by_name"`
	N       num                `json:"n"`
	Skipped int                `json:"-"`
	// hidden is never set: it shows that an unexported field is no key.
	//lint:ignore U1000 read by nothing on purpose
	hidden int
}

const good = `{"schema":"s","in":{"a":1},"ptr":{"a":2,"b":3},"list":[{"a":4}],
	"by_name":{"x":{"count":5,"unit":"us"}},"n":null}`

func TestUnmarshal(t *testing.T) {
	var d doc
	if err := Unmarshal([]byte(good), &d); err != nil {
		t.Fatal(err)
	}
	if d.In.A != 1 || d.Ptr.B != 3 || d.List[0].A != 4 || d.ByName["x"].Count != 5 || d.ByName["x"].Unit != "us" {
		t.Errorf("decoded %+v", d)
	}
}

func TestUnmarshalErrors(t *testing.T) {
	cases := []struct{ name, json, want string }{
		{"unknown top-level key", `{"extra":1,` + good[1:], `unknown field "extra"`},
		{"unknown nested key", strings.Replace(good, `"a":1}`, `"a":1,"z":2}`, 1), `unknown field "z"`},
		{"missing top-level key", strings.Replace(good, `"schema":"s",`, ``, 1), `missing key "schema"`},
		{"missing nested key", strings.Replace(good, `"in":{"a":1}`, `"in":{}`, 1), `missing key "in.a"`},
		{"missing key in a slice element", strings.Replace(good, `[{"a":4}]`, `[{"a":4},{}]`, 1), `missing key "list[1].a"`},
		{"missing key in a map value", strings.Replace(good, `"count":5,`, ``, 1), `missing key "by_name.x.count"`},
		{"missing key of an embedded struct", strings.Replace(good, `"unit":"us"`, `"count":5`, 1), `missing key "by_name.x.unit"`},
		{"missing custom-decoded key", strings.Replace(good, `,"n":null`, ``, 1), `missing key "n"`},
		{"key in the wrong case", strings.Replace(good, `"schema"`, `"Schema"`, 1), `missing key "schema"`},
		{"trailing data", good + `{}`, "trailing data"},
		{"not an object", `[1]`, "cannot unmarshal array"},
		{"truncated", good[:20], "unexpected EOF"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var d doc
			err := Unmarshal([]byte(tc.json), &d)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// An omitempty key may be absent; one the writer always sets may not.
func TestOptionalKeys(t *testing.T) {
	var in inner
	if err := Unmarshal([]byte(`{"a":1}`), &in); err != nil {
		t.Errorf("omitempty key absent: %v", err)
	}
}

func TestNeedsPointer(t *testing.T) {
	if err := Unmarshal([]byte(`{}`), inner{}); err == nil {
		t.Error("a non-pointer was accepted")
	}
	b, _ := json.Marshal(inner{A: 1})
	var in inner
	if err := Unmarshal(b, &in); err != nil || in.A != 1 {
		t.Errorf("round trip: %+v, %v", in, err)
	}
}
