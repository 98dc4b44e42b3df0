// Package strictjson decodes a program's JSON report into its Go type and
// insists that the two agree exactly: a key the type does not know is an
// error, and so is a key of the type that the document lacks. The kit's
// programs write every key of their schema, so either case means the
// writer and the reader have drifted apart, and a renamed key must fail
// a decode, not turn into a silent zero in a table.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// Unmarshal decodes data into v (a pointer) like json.Unmarshal, but fails
// on unknown keys, on keys of v's type that data lacks, and on trailing
// data. Fields tagged omitempty may be absent; types with their own
// UnmarshalJSON are checked only for presence.
func Unmarshal(data []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return errors.New("strictjson: Unmarshal needs a non-nil pointer")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	var tree any
	if err := json.Unmarshal(data, &tree); err != nil {
		return err
	}
	return missing(rv.Type().Elem(), tree, "")
}

var unmarshaler = reflect.TypeFor[json.Unmarshaler]()

// missing walks the decoded document along type t and names the first key
// of t that the document lacks.
func missing(t reflect.Type, doc any, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if doc == nil || reflect.PointerTo(t).Implements(unmarshaler) {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := doc.(map[string]any)
		if !ok {
			return nil // a type mismatch; the decoder has said so already
		}
		for _, f := range fields(t) {
			val, ok := obj[f.name]
			if !ok {
				if f.optional {
					continue
				}
				return fmt.Errorf("missing key %q", join(path, f.name))
			}
			if err := missing(f.typ, val, join(path, f.name)); err != nil {
				return err
			}
		}
	case reflect.Map:
		obj, _ := doc.(map[string]any)
		for k, val := range obj {
			if err := missing(t.Elem(), val, join(path, k)); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		arr, _ := doc.([]any)
		for i, val := range arr {
			if err := missing(t.Elem(), val, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

type field struct {
	name     string
	typ      reflect.Type
	optional bool
}

// fields lists the JSON keys of struct type t as encoding/json sees them:
// exported fields, renamed by their tag, embedded structs flattened.
func fields(t reflect.Type) []field {
	var out []field
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := sf.Type
		if sf.Anonymous && name == "" {
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				out = append(out, fields(ft)...)
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		out = append(out, field{name: name, typ: ft, optional: strings.Contains(","+opts+",", ",omitempty,")})
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
