package runner

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"tenkthreads/internal/runner/report"
	"tenkthreads/internal/runner/results"
	"tenkthreads/internal/testkit"
)

// A tiny soak of the real server and client: the same lines as make soak,
// the verdict ok, every connection made, and a results directory like
// every mode's.
func TestSoakTiny(t *testing.T) {
	bin := realBin(t)
	out := t.TempDir()
	env := map[string]string{"SOAK_CONNS": "20", "SOAK_TOTAL": "400", "SOAK_LIMIT": "30"}
	var stdout, stderr bytes.Buffer
	code := Main([]string{"-bin", bin, "-out", out, "-soak", "epoll"}, func(k string) string { return env[k] }, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	dir := onlyDir(t, out, "soak-")
	want := []string{
		`^soak: 10kthreads model epoll, 20 connections at a time, 400 connections in [0-9.]+ s \([0-9]+/s\)$`,
		`^start: read idle after [1-9][0-9]* warm-up churn\(s\) of [0-9]+ connections in all, once its size held still$`,
		`^ {22}start {8}end {5}growth$`,
		`^VmRSS \(KiB\) +[0-9]+ +[0-9]+ +[+-][0-9]+$`,
		`^open fds +[0-9]+ +[0-9]+ +[+-][0-9]+$`,
		`^threads +[0-9]+ +[0-9]+ +[+-][0-9]+$`,
		`^verdict: ok \(tolerated: VmRSS \+1024 KiB, fds \+0, threads \+0\)$`,
		`^$`,
		`^finished in 0:[0-9]{2}; report: ` + regexp.QuoteMeta(filepath.Join(dir, "report.md")) + `$`,
	}
	lines := strings.Split(strings.TrimRight(stdout.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), stdout.String())
	}
	for i, re := range want {
		if !regexp.MustCompile(re).MatchString(lines[i]) {
			t.Errorf("line %d %q does not match %s", i+1, lines[i], re)
		}
	}
	var rep report.SoakReport
	testkit.ReadJSON(t, filepath.Join(dir, "soak.json"), &rep)
	if rep.Schema != report.SoakSchema || rep.Verdict != report.SoakOK || rep.Connections != 400 || rep.Warmups < 2 || rep.WarmupConns != int64(rep.Warmups)*100 || rep.Start.FDs < 1 || rep.End.FDs != rep.Start.FDs {
		t.Errorf("soak.json: %+v", rep)
	}
	runs := readRuns(t, dir)
	if len(runs) != 1 || runs[0].Status != results.StatusOK || runs[0].Soak == nil || runs[0].Workload != "soak" {
		t.Fatalf("runs.json: %+v", runs)
	}
	for _, f := range []string{"meta.json", "report.md", "soak.txt", "results.csv", filepath.Join("raw", runs[0].ClientJSON), filepath.Join("raw", runs[0].ServerJSON)} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty: %v", f, err)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	if !strings.HasPrefix(string(md), "# make soak\n") || !strings.Contains(string(md), "## Preconditions") {
		t.Errorf("report.md lacks the soak table or the preconditions:\n%s", md)
	}
	os.Remove(filepath.Join(dir, "soak.txt"))
	checkRebuild(t, dir, "verdict: ok")
	if _, err := os.Stat(filepath.Join(dir, "soak.txt")); err != nil {
		t.Errorf("soak.txt not rewritten: %v", err)
	}
}

func TestSoakBadInput(t *testing.T) {
	bin := realBin(t)
	for _, c := range []struct {
		args []string
		env  map[string]string
		code int
		want string
	}{
		{[]string{"-soak"}, map[string]string{"SOAK_CONNS": "many"}, 2, "SOAK_CONNS=many: want a whole number of at least 1"},
		{[]string{"-soak"}, map[string]string{"SOAK_TOTAL": "0"}, 2, "SOAK_TOTAL=0"},
		{[]string{"-soak"}, map[string]string{"QUICK": "1"}, 2, "-quick (QUICK=1) does not apply to -soak"},
		{[]string{"-soak", "epoll", "thread"}, nil, 2, `unexpected argument "thread"`},
		{[]string{"-bin", bin, "-soak", "no-such-model"}, nil, 2, `experiment: bin/10kthreads has no model "no-such-model"`},
		{[]string{"-bin", t.TempDir(), "-soak"}, nil, 1, "not found: run make first"},
	} {
		var stdout, stderr bytes.Buffer
		code := Main(append([]string{"-out", t.TempDir()}, c.args...), func(k string) string { return c.env[k] }, &stdout, &stderr)
		usage := strings.Contains(stderr.String(), "usage: experiment")
		if code != c.code || !strings.Contains(stderr.String(), c.want) || usage != (code == 2) {
			t.Errorf("%v %v: exit %d, stderr %q; want %d and %q, with the usage line if 2", c.args, c.env, code, stderr.String(), c.code, c.want)
		}
	}
}
