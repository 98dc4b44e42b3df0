package clientreport

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"tenkthreads/internal/testkit"
)

// The real client's JSON, of one process and merged from two, decodes
// into Result with no key missing or extra: a key renamed in the client
// fails here.
func TestRealClientJSON(t *testing.T) {
	bin := filepath.Join(testkit.RepoRoot(t), "bin", "client")
	if _, err := os.Stat(bin); err != nil {
		t.Fatal("bin/client not found: run make first")
	}
	addr := testkit.Serve(t, testkit.Echo)
	for _, extra := range [][]string{{"-rounds", "3"}, {"-procs", "2", "-hold", "10ms"}, {"-rate", "1000", "-duration", "200ms"},
		{"-engine", "goroutine", "-rounds", "3"}, {"-engine", "eventloop", "-loops", "3", "-rounds", "3"}} {
		t.Run(strings.Join(extra, " "), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.json")
			args := append([]string{"-n", "4", "-host", addr, "-quiet", "-json", path}, extra...)
			out, err := exec.Command(bin, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("client %v: %v\n%s", args, err, out)
			}
			r, err := Read(path)
			if err != nil {
				t.Fatal(err)
			}
			if !r.OK() || r.Verified != 4 || r.Latency["connect"].Count < 4 || r.Hists["rtt"].TotalCount() != r.Latency["rtt"].Count {
				t.Errorf("implausible report: %+v", r)
			}
		})
	}
}

func TestDecodeStrict(t *testing.T) {
	good := seedReport(t)
	r, err := Decode(good)
	if err != nil {
		t.Fatal(err)
	}
	if r.Hists["rtt"].TotalCount() != r.Latency["rtt"].Count || r.Verified != 3 {
		t.Errorf("decoded %+v", r)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, good, "", " "); err != nil {
		t.Fatal(err)
	}
	doc := pretty.String()
	for name, bad := range map[string]string{
		"renamed key":          strings.Replace(doc, `"verified"`, `"verified_conns"`, 1),
		"missing nested key":   strings.Replace(doc, `"hold_s": 0,`, ``, 1),
		"extra key":            strings.Replace(doc, `{`, `{"extra": 1,`, 1),
		"unknown histogram":    strings.Replace(doc, `"service":`, `"queue":`, 1),
		"other schema":         strings.Replace(doc, Schema, "10kthreads-client/2", 1),
		"malformed histogram":  strings.Replace(doc, `"hdr": "`, `"hdr": "HISTF`, 1),
		"error class a string": strings.Replace(doc, `"refused": 0`, `"refused": "0"`, 1),
		"unknown engine":       strings.Replace(doc, `"engine": "eventloop"`, `"engine": "threads"`, 1),
		"negative loops":       strings.Replace(doc, `"loops": 2`, `"loops": -2`, 1),
		"loops without engine": strings.Replace(doc, `"engine": "eventloop",`, ``, 1),
	} {
		if bad == doc {
			t.Fatalf("%s: the test did not change the document", name)
		}
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// A report written before engine and loops existed is the goroutine
// engine's, with no event loops.
func TestDecodeOlderReport(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(seedReport(t), &doc); err != nil {
		t.Fatal(err)
	}
	delete(doc, "engine")
	delete(doc, "loops")
	old, _ := json.Marshal(doc)
	r, err := Decode(old)
	if err != nil {
		t.Fatal(err)
	}
	if r.Engine != EngineGoroutine || r.Loops != 0 || r.Verified != 3 {
		t.Errorf("older report decoded as engine %q, %d loops, %d verified", r.Engine, r.Loops, r.Verified)
	}
}

// An event loop's part adds into its process's report as a process's
// report into a merge, and the report stays one process's.
func TestAddPart(t *testing.T) {
	whole := New()
	whole.Loops = 2
	var samples int64
	for range 2 {
		p, _ := Decode(seedReport(t))
		p.Processes, p.Loops = 0, 0
		samples += p.Hists["rtt"].TotalCount()
		if err := whole.AddPart(p); err != nil {
			t.Fatal(err)
		}
	}
	if whole.Processes != 1 || whole.Loops != 2 || whole.Requested != 6 || whole.RoundTrips != 12 || whole.PerConn.Conns != 6 ||
		samples == 0 || whole.Hists["rtt"].TotalCount() != samples {
		t.Errorf("whole: %d processes, %d loops, %d requested, %d round trips, %d conns, %d of %d rtt samples",
			whole.Processes, whole.Loops, whole.Requested, whole.RoundTrips, whole.PerConn.Conns, whole.Hists["rtt"].TotalCount(), samples)
	}
}

// Merging adds counters and histograms exactly, and the merged report
// decodes like any other.
func TestMerge(t *testing.T) {
	a, err := Decode(seedReport(t))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Decode(seedReport(t))
	b.Environment.Hostname = "other"
	b.Engine, b.Loops = EngineGoroutine, 0
	m, err := Merge([]*Result{a, b}, []string{"a.json", "b.json"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Requested != 6 || m.Processes != 2 || m.Environment.Cores != 4 || m.Hists["rtt"].TotalCount() != 2*a.Hists["rtt"].TotalCount() ||
		m.RoundTripsPS != a.RoundTripsPS+b.RoundTripsPS || strings.Join(m.MergedFrom, ",") != "a.json,b.json" {
		t.Errorf("merged %+v", m)
	}
	if m.Engine != EngineMixed || m.Loops != 2 || len(m.Warnings) != 1 || !strings.Contains(m.Warnings[0], "mixes") {
		t.Errorf("merge of both engines: engine %q, %d loops, warnings %q", m.Engine, m.Loops, m.Warnings)
	}
	if same, _ := Merge([]*Result{a, a}, []string{"a.json", "a.json"}); same.Engine != EngineEventLoop || same.Loops != 4 || len(same.Warnings) != 0 {
		t.Errorf("merge of one engine: engine %q, %d loops, warnings %q", same.Engine, same.Loops, same.Warnings)
	}
	path := filepath.Join(t.TempDir(), "m.json")
	if err := m.Write(path); err != nil {
		t.Fatal(err)
	}
	if back, err := Read(path); err != nil || back.Latency["rtt"].Count != m.Latency["rtt"].Count {
		t.Errorf("merged report read back: %v", err)
	}
	if _, err := Merge(nil, nil); err == nil {
		t.Error("a merge of nothing succeeded")
	}
}
