package tests

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata/ from this run")

// The C server's reports, text and JSON, keep their layout byte for byte:
// every line, label, unit and word in its place, every JSON key in its
// order with its kind of value. Only the figures, which change from run
// to run, are masked. The golden files are the reports as they were: a
// change to the table that writes them shows here first. Run with
// -update to accept a change made on purpose.
func TestReportLayout(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
	}{
		// No memory limit, no cap, no idle timeout, one process.
		{"thread", nil},
		// Each figure with its "none" form set instead.
		{"thread-set", []string{"-c", "50", "-t", "60", "-m", "256m", "-d", "1ms", "-W", "10us"}},
		// Several processes: the PSS sum is sampled.
		{"prefork", []string{"-M", "prefork", "-w", "2"}},
		{"epoll", []string{"-M", "epoll", "-P", "2"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			text, keys := reportLayout(t, c.args)
			golden(t, c.name+".txt", text)
			golden(t, "keys.txt", keys)
		})
	}
}

// reportLayout runs the server with args over two echoing connections and
// returns its stdout (the start line, a SIGUSR1 report, the exit report)
// and its exit JSON's keys, each with the kind of its value, masked.
func reportLayout(t *testing.T, args []string) (string, string) {
	jsonPath := filepath.Join(t.TempDir(), "report.json")
	s := startServer(t, servers[0], append([]string{"-j", jsonPath}, args...)...)
	for i := 0; i < 2; i++ {
		echoOnce(t, s.addr, bytes.Repeat([]byte("x"), 1000), false)
	}
	s.usr1()
	s.stop()
	var raw map[string]any
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatalf("%s: %v", jsonPath, err)
	}
	if src := raw["mem_limit_source"]; len(args) == 0 && src != "none" {
		t.Skipf("this machine's memory cgroup sets a limit (%v): the report without one cannot be seen here", src)
	}
	return maskFigures(s.Stdout.String()), jsonKeyKinds(t, b)
}

var (
	// A figure: a number, with humanize_number's unit if it has one.
	figureRE = regexp.MustCompile(`-?\b\d+(?:\.\d+)?[BKMGTPE]?\b`)
	// Where the binding memory limit comes from, and the cgroup's path.
	limitSourceRE = regexp.MustCompile(`\((-m|cgroup v\d[^;]*);`)
	// Where the kernel's object sizes come from: /proc/slabinfo is root's.
	slabSourceRE = regexp.MustCompile(`object sizes from (/proc/slabinfo|defaults)`)
	addrRE       = regexp.MustCompile(`listening on \S+`)
)

// maskFigures masks what changes from run to run and machine to machine.
func maskFigures(s string) string {
	s = addrRE.ReplaceAllString(s, "listening on ADDR")
	s = limitSourceRE.ReplaceAllString(s, "(SOURCE;")
	s = slabSourceRE.ReplaceAllString(s, "object sizes from SOURCE")
	return figureRE.ReplaceAllString(s, "#")
}

// jsonKeyKinds lists the keys of the JSON object b in their order, each with
// the kind of its value: string, integer, or decimal with its places.
func jsonKeyKinds(t *testing.T, b []byte) string {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out strings.Builder
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("report JSON does not start with an object: %v %v", tok, err)
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "%s %s\n", key, jsonKind(v))
	}
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("report JSON: more after the object (%v)", err)
	}
	return out.String()
}

func jsonKind(v any) string {
	switch v := v.(type) {
	case json.Number:
		if i := strings.IndexByte(string(v), '.'); i >= 0 {
			return fmt.Sprintf("decimal(%d)", len(v)-i-1)
		}
		return "integer"
	case string:
		return "string"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// golden compares got with testdata/report/name, or writes it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "report", name)
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if got == string(want) {
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(gl) || i < len(wl); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Fatalf("%s: line %d differs (figures masked as #)\n got: %q\nwant: %q\nall of it:\n%s", path, i+1, g, w, got)
		}
	}
}
