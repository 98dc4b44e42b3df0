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
	for _, extra := range [][]string{{"-rounds", "3"}, {"-procs", "2", "-hold", "10ms"}, {"-rate", "1000", "-duration", "200ms"}} {
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
	} {
		if bad == doc {
			t.Fatalf("%s: the test did not change the document", name)
		}
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
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
	m, err := Merge([]*Result{a, b}, []string{"a.json", "b.json"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Requested != 6 || m.Processes != 2 || m.Environment.Cores != 4 || m.Hists["rtt"].TotalCount() != 2*a.Hists["rtt"].TotalCount() ||
		m.RoundTripsPS != a.RoundTripsPS+b.RoundTripsPS || strings.Join(m.MergedFrom, ",") != "a.json,b.json" {
		t.Errorf("merged %+v", m)
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
