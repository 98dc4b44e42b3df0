package tests

import (
	"strconv"
	"strings"
	"testing"
)

// The servers' text report: parsing it and checking its shape.

// report is one parsed text report.
type report struct {
	event               string // EXITING or REPORT
	resident            int64
	maxConc, total, now int64
	labels              map[string]string // aligned block: label -> value
	raw                 string
	malformedBlockLines []string
}

// blockLabels are the labels every server's aligned block must carry.
var blockLabels = []string{
	"server", "uptime", "user CPU", "system CPU", "peak resident", "resident now",
	"resident high water", "resident at start", "memory per peak conn", "threads",
	"page faults", "context switches", "bytes echoed", "connections accepted",
	"connections reset", "thread create failures", "accept errors", "kernel stack (est.)",
	"kernel slab (machine)", "page tables (machine)",
	"PSS sum peak",
}

func wantLabels(kind serverKind) []string {
	if kind.model == "goroutine" {
		return append(append([]string{}, blockLabels...), "goroutines")
	}
	return blockLabels
}

func (r report) complete(kind serverKind) bool {
	for _, l := range wantLabels(kind) {
		if _, ok := r.labels[l]; !ok {
			return false
		}
	}
	return true
}

const labelWidth = 24

// parseReports splits stdout into reports. The six head lines are the
// original kit's format and are checked strictly; a report still being
// written comes back incomplete rather than failing.
func parseReports(t testing.TB, kind serverKind, out string) []report {
	t.Helper()
	lines := strings.Split(out, "\n")
	var reps []report
	for i := 0; i < len(lines); i++ {
		if lines[i] != "EXITING" && lines[i] != "REPORT" {
			continue
		}
		r := report{event: lines[i], labels: map[string]string{}}
		if i+6 >= len(lines) { // head not fully out yet
			reps = append(reps, r)
			break
		}
		head := lines[i+1 : i+6]
		var err error
		if head[0] != "resident" {
			t.Fatalf("%s: line after %s is %q, want \"resident\"", kind.name, r.event, head[0])
		}
		if r.resident, err = strconv.ParseInt(head[1], 10, 64); err != nil || r.resident <= 0 {
			t.Fatalf("%s: resident value %q is not a positive number", kind.name, head[1])
		}
		for j, f := range []struct {
			prefix string
			dst    *int64
		}{{"Max conc: ", &r.maxConc}, {"Total: ", &r.total}, {"Now: ", &r.now}} {
			v, ok := strings.CutPrefix(head[2+j], f.prefix)
			if !ok {
				t.Fatalf("%s: report line %d is %q, want %q<number>", kind.name, 4+j, head[2+j], f.prefix)
			}
			if *f.dst, err = strconv.ParseInt(v, 10, 64); err != nil {
				t.Fatalf("%s: %q: not a number", kind.name, head[2+j])
			}
		}
		j := i + 6
		for ; j < len(lines) && lines[j] != "" && lines[j] != "EXITING" && lines[j] != "REPORT"; j++ {
			l := lines[j]
			if len(l) <= labelWidth || l[labelWidth-1] != ' ' || l[labelWidth] == ' ' {
				r.malformedBlockLines = append(r.malformedBlockLines, l)
				continue
			}
			label := strings.TrimRight(l[:labelWidth], " ")
			r.labels[label] = l[labelWidth:]
		}
		r.raw = strings.Join(lines[i:j], "\n")
		reps = append(reps, r)
		i = j - 1
	}
	return reps
}

// checkReport asserts the full shape of a report and its three counters.
func checkReport(t testing.TB, kind serverKind, r report, event string, maxConc, total, now int64) {
	t.Helper()
	if r.event != event {
		t.Errorf("%s: report starts with %q, want %q", kind.name, r.event, event)
	}
	if r.maxConc != maxConc || r.total != total || r.now != now {
		t.Errorf("%s: Max conc %d, Total %d, Now %d; want %d, %d, %d",
			kind.name, r.maxConc, r.total, r.now, maxConc, total, now)
	}
	for _, l := range wantLabels(kind) {
		if _, ok := r.labels[l]; !ok {
			t.Errorf("%s: report lacks label %q (values must start at column %d)", kind.name, l, labelWidth+1)
		}
	}
	for _, l := range r.malformedBlockLines {
		t.Errorf("%s: report line not aligned at column %d: %q", kind.name, labelWidth+1, l)
	}
	if v := r.labels["connections accepted"]; v != "" && firstField(v) != strconv.FormatInt(total, 10) {
		t.Errorf("%s: connections accepted %q, want %d", kind.name, v, total)
	}
	if v := r.labels["server"]; v != "" && !strings.HasPrefix(v, kind.name+" ") {
		t.Errorf("%s: server line %q does not name %s", kind.name, v, kind.name)
	}
	if t.Failed() {
		t.Logf("report:\n%s", r.raw)
	}
}

func firstField(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

// labelNum is the first number of a report line, e.g. "closed idle  2 (...)".
func labelNum(t *testing.T, r report, label string) float64 {
	t.Helper()
	v, ok := r.labels[label]
	if !ok {
		t.Fatalf("report has no %q line:\n%s", label, r.raw)
	}
	f, err := strconv.ParseFloat(firstField(v), 64)
	if err != nil {
		t.Fatalf("report line %q: %q is not a number", label, v)
	}
	return f
}

func labelInt(t *testing.T, r report, label string) int64 {
	t.Helper()
	return int64(labelNum(t, r, label))
}

func cpuSeconds(t *testing.T, r report) float64 {
	t.Helper()
	return labelNum(t, r, "user CPU") + labelNum(t, r, "system CPU")
}
