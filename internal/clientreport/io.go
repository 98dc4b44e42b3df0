package clientreport

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"

	"tenkthreads/internal/stats"
	"tenkthreads/internal/strictjson"
)

// Decode reads one report: every key of the schema and no other, each
// histogram of HistNames decodable.
func Decode(b []byte) (*Result, error) {
	r := New()
	if err := strictjson.Unmarshal(olderReport(b), r); err != nil {
		return nil, err
	}
	if r.Schema != Schema {
		return nil, fmt.Errorf("schema %q, want %q", r.Schema, Schema)
	}
	switch {
	case r.Engine != EngineEventLoop && r.Engine != EngineGoroutine && r.Engine != EngineMixed:
		return nil, fmt.Errorf("engine %q, want %q, %q or %q", r.Engine, EngineEventLoop, EngineGoroutine, EngineMixed)
	case r.Loops < 0:
		return nil, fmt.Errorf("loops %d is negative", r.Loops)
	}
	for name := range r.Latency {
		if !slices.Contains(HistNames, name) {
			return nil, fmt.Errorf("unknown key %q", "latency."+name)
		}
	}
	for _, name := range HistNames {
		l, ok := r.Latency[name]
		if !ok {
			return nil, fmt.Errorf("missing key %q", "latency."+name)
		}
		h, err := stats.Decode(l.Hdr)
		if err != nil {
			return nil, fmt.Errorf("latency.%s: %v", name, err)
		}
		r.Hists[name] = h
	}
	if err := r.PerConn.check(r); err != nil {
		return nil, err
	}
	return r, nil
}

// olderReport gives a report written before the keys engine and loops
// were added to the schema what it would have said: the goroutine
// engine, the only one then, and no event loops. Any other document is
// returned as it is, for the strict decoder to judge.
func olderReport(b []byte) []byte {
	var top map[string]json.RawMessage
	if json.Unmarshal(b, &top) != nil {
		return b
	}
	_, hasEngine := top["engine"]
	_, hasLoops := top["loops"]
	if hasEngine || hasLoops {
		return b
	}
	top["engine"], top["loops"] = json.RawMessage(`"`+EngineGoroutine+`"`), json.RawMessage("0")
	out, err := json.Marshal(top)
	if err != nil {
		return b
	}
	return out
}

// Read decodes the report in the file path (a client's -json file).
func Read(path string) (*Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return r, nil
}

// Write writes r as indented JSON to path.
func (r *Result) Write(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write JSON report: %v", err)
	}
	return nil
}
