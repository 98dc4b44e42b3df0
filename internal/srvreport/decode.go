package srvreport

import (
	"fmt"
	"os"

	"tenkthreads/internal/strictjson"
)

// Decode reads one report, either server's. It fails on a key Report does
// not have, on a key of Report the document lacks, and on another schema.
func Decode(b []byte) (*Report, error) {
	var r Report
	if err := strictjson.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	if r.Schema != Schema {
		return nil, fmt.Errorf("schema %q, want %q", r.Schema, Schema)
	}
	return &r, nil
}

// Read decodes the report in the file path (a server's -j file).
func Read(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}
