package runner

import (
	"bytes"
	"encoding/json"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/report"
	"tenkthreads/internal/runner/results"
	"tenkthreads/internal/testkit"
)

// fakeBin builds testdata/fake once per test binary and lays it out as a
// bin directory: client, 10kthreads and ref_async_server.
var fakeDir string

func fakeBin(t *testing.T) string {
	t.Helper()
	if fakeDir != "" {
		return fakeDir
	}
	dir, err := os.MkdirTemp("", "experiment-fake-")
	if err != nil {
		t.Fatal(err)
	}
	testkit.GoBuild(t, filepath.Join(dir, "client"), "./testdata/fake")
	for _, n := range []string{"10kthreads", "ref_async_server"} {
		if err := os.Symlink("client", filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	fakeDir = dir
	return dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fakeDir != "" {
		os.RemoveAll(fakeDir)
	}
	os.Exit(code)
}

// execute runs o's mode as Main does once it has parsed the command
// line: it returns the exit status, with Main's last line on stderr.
func execute(o plan.Options, env Env, stdout, stderr io.Writer) int {
	return Exit(Execute(o, env, stdout, stderr), stderr)
}

func fakeOptions(t *testing.T, mode string) (plan.Options, Env) {
	t.Helper()
	bin := fakeBin(t)
	t.Setenv("FAKE_MODE", mode)
	o := plan.Options{
		Reps: plan.Given(1), Counts: plan.Given([]int{5}), Out: t.TempDir(), Bin: bin, NoPin: true,
		Hold: plan.Given(100 * time.Millisecond), Echo: plan.Given(200 * time.Millisecond), Workloads: []string{"hold"},
		StopTimeout: 2 * time.Second, Command: "test",
	}
	return o, Env{Servers: []results.ServerSpec{{Key: "fake", Label: "fake (" + mode + ")", Model: "fake", Path: filepath.Join(bin, "10kthreads")}}}
}

// onlyResultDir returns the single results/<date-time> directory.
func onlyResultDir(t *testing.T, out string) string {
	t.Helper()
	ents, err := os.ReadDir(out)
	if err != nil || len(ents) != 1 {
		t.Fatalf("want one results directory in %s, got %v (%v)", out, ents, err)
	}
	return filepath.Join(out, ents[0].Name())
}

func readRuns(t *testing.T, dir string) []results.Run {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "runs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var runs []results.Run
	if err := json.Unmarshal(b, &runs); err != nil {
		t.Fatal(err)
	}
	return runs
}

func checkPNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b := img.Bounds()
	if b.Dx() < 200 || b.Dy() < 150 {
		t.Fatalf("%s: image only %dx%d", path, b.Dx(), b.Dy())
	}
	// Something must be drawn: more than one colour.
	first := img.At(b.Min.X, b.Min.Y)
	r0, g0, b0, _ := first.RGBA()
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bb, _ := img.At(x, y).RGBA()
			if r != r0 || g != g0 || bb != b0 {
				return
			}
		}
	}
	t.Fatalf("%s: blank image", path)
}

var plotNames = []string{"mem_per_conn", "cpu_per_rt", "rtt_p99", "rt_per_s", "mem_parts"}

// TestTinyMatrix drives the real binaries on a tiny matrix and checks that
// every output file exists and the report has its parts.
func TestTinyMatrix(t *testing.T) {
	root := testkit.RepoRoot(t)
	for _, b := range []string{"10kthreads", "ref_async_server", "client"} {
		if _, err := os.Stat(filepath.Join(root, "bin", b)); err != nil {
			t.Fatalf("bin/%s not found: run make first", b)
		}
	}
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := Main([]string{"-quick", "-counts", "3,20", "-reps", "1", "-out", out, "-bin", filepath.Join(root, "bin")},
		func(string) string { return "" }, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	dir := onlyResultDir(t, out)
	for _, f := range []string{"report.md", "results.csv", "runs.json", "meta.json"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty: %v", f, err)
		}
	}
	for _, p := range plotNames {
		checkPNG(t, filepath.Join(dir, p+".png"))
		if st, err := os.Stat(filepath.Join(dir, p+".svg")); err != nil || st.Size() == 0 {
			t.Errorf("%s.svg missing or empty", p)
		}
	}
	runs := readRuns(t, dir)
	if len(runs) == 0 {
		t.Fatal("no runs recorded")
	}
	servers := map[string]bool{}
	for _, r := range runs {
		servers[r.Server] = true
		if r.Status != results.StatusOK {
			t.Errorf("run %s %s n=%d: %s: %s", r.Server, r.Workload, r.Conns, r.Status, r.Detail)
		}
		for _, f := range []string{r.ServerJSON, r.ClientJSON} {
			if _, err := os.Stat(filepath.Join(dir, "raw", f)); err != nil {
				t.Errorf("raw JSON missing: %v", err)
			}
		}
	}
	if !servers["10kthreads:thread"] || !servers["ref_async_server"] {
		t.Errorf("servers run: %v, want the thread model and ref_async_server", servers)
	}
	rep, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	for _, want := range []string{"**Answer.**", "## Holding connections", "## Environment", "## Reproduce", "mem_per_conn.png", "kernel.pid_max"} {
		if !strings.Contains(string(rep), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	for _, want := range []string{"server", "KiB/conn", "report: "} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("terminal output lacks %q:\n%s", want, stdout.String())
		}
	}
	// The runs of the cells, and one counted run per echo cell, counted
	// from the first to the last.
	m := regexp.MustCompile(`\[run 1/([0-9]+)\] `).FindStringSubmatch(stderr.String())
	if m == nil || !strings.Contains(stderr.String(), "[run "+m[1]+"/"+m[1]+"] ") || !strings.Contains(stderr.String(), " counts ") {
		t.Errorf("no progress lines from the first run to the last, or no counted run, on stderr:\n%s", stderr.String())
	}
}

func TestCrashedServerIsReported(t *testing.T) {
	o, env := fakeOptions(t, "crash")
	var stdout, stderr bytes.Buffer
	if code := execute(o, env, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	dir := onlyResultDir(t, o.Out)
	runs := readRuns(t, dir)
	if len(runs) != 1 || runs[0].Status != results.StatusCrashed {
		t.Fatalf("runs: %+v, want one crashed run", runs)
	}
	if !strings.Contains(runs[0].Detail, "exit 3") {
		t.Errorf("detail %q does not name the exit status", runs[0].Detail)
	}
	if !strings.Contains(stdout.String(), "crashed") {
		t.Errorf("summary does not say crashed:\n%s", stdout.String())
	}
	rep, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	if !strings.Contains(string(rep), "| crashed |") {
		t.Errorf("report does not list the crashed run")
	}
}

func TestHungServerIsKilled(t *testing.T) {
	o, env := fakeOptions(t, "hang")
	o.StopTimeout = 500 * time.Millisecond
	var stdout, stderr bytes.Buffer
	if code := execute(o, env, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	runs := readRuns(t, onlyResultDir(t, o.Out))
	if len(runs) != 1 || runs[0].Status != results.StatusHung {
		t.Fatalf("runs: %+v, want one hung run", runs)
	}
	if !strings.Contains(stdout.String(), "hung") {
		t.Errorf("summary does not say hung:\n%s", stdout.String())
	}
}

func TestServerThatDoesNotStart(t *testing.T) {
	o, env := fakeOptions(t, "nostart")
	var stdout, stderr bytes.Buffer
	if code := execute(o, env, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	runs := readRuns(t, onlyResultDir(t, o.Out))
	if len(runs) != 1 || runs[0].Status != results.StatusNoStart || !strings.Contains(runs[0].Detail, "cannot start") {
		t.Fatalf("runs: %+v, want one no-start run naming the server's line", runs)
	}
}

func TestFakeOKRunHasFigures(t *testing.T) {
	o, env := fakeOptions(t, "ok")
	var stdout, stderr bytes.Buffer
	if code := execute(o, env, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	dir := onlyResultDir(t, o.Out)
	res, err := results.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Cells) != 1 {
		t.Fatalf("%d cells, want 1", len(res.Cells))
	}
	c := res.Cells[0]
	if c.Status() != results.StatusOK || c.Stat(results.ServerMaxConc).Med.V != 5 || c.Stat(results.Errors).Med.V != 0 {
		t.Errorf("cell status %s, max_conc %v, errors %v", c.Status(), c.Stat(results.ServerMaxConc).Med, c.Stat(results.Errors).Med)
	}
	// The fake client records no round trip: latency must read as not measured.
	if c.Stat(results.RTTP99).Med.Set || !strings.Contains(report.SummaryTable(res.Cells), "–") {
		t.Errorf("unmeasured latency shown as a number")
	}
}

func withSystem(t *testing.T, s plan.System) {
	t.Helper()
	old := plan.ReadSystem
	plan.ReadSystem = func() plan.System { return s }
	t.Cleanup(func() { plan.ReadSystem = old })
}

func goodSystem() plan.System {
	return plan.System{FDSoft: 20000, FDHard: 20000, PortLo: 32768, PortHi: 60999, Somaxconn: 65535, SynBacklog: 65535,
		PidMax: 4194304, ThreadsMax: 200000, MaxMapCount: 262144, Tasks: 200, MemAvailableKiB: 16 << 20}
}

func TestPreconditionStopsRun(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*plan.System)
		want string
	}{
		{"pid_max", func(s *plan.System) { s.PidMax = 4096 }, "sysctl -w kernel.pid_max="},
		{"threads-max", func(s *plan.System) { s.ThreadsMax = 4096 }, "sysctl -w kernel.threads-max="},
		{"max_map_count", func(s *plan.System) { s.MaxMapCount = 8000 }, "sysctl -w vm.max_map_count="},
		{"somaxconn", func(s *plan.System) { s.Somaxconn = 128 }, "sysctl -w net.core.somaxconn=4096"},
		{"memory", func(s *plan.System) { s.MemAvailableKiB = 100 << 10 }, "MemAvailable"},
		{"fd", func(s *plan.System) { s.FDHard = 1024 }, "ulimit -Hn 11000"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := goodSystem()
			tc.mod(&s)
			withSystem(t, s)
			o, env := fakeOptions(t, "ok")
			o.Counts = plan.Given([]int{10000})
			var stdout, stderr bytes.Buffer
			code := execute(o, env, &stdout, &stderr)
			if code == 0 {
				t.Fatalf("exit 0 despite %s shortfall", tc.name)
			}
			if !strings.Contains(stderr.String(), "precondition failed") || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, stderr.String())
			}
			if ents, _ := os.ReadDir(o.Out); len(ents) != 0 {
				t.Errorf("a results directory was created although nothing ran")
			}
		})
	}
}

// TestPreconditionRealLimit runs the built command under a low fd hard
// limit, as a user would meet it.
func TestPreconditionRealLimit(t *testing.T) {
	exe := filepath.Join(t.TempDir(), "experiment")
	testkit.GoBuild(t, exe, "../../cmd/experiment")
	bin := fakeBin(t)
	res := testkit.Run(t, time.Minute, testkit.Prlimit(t), "--nofile=300:300", exe, "-bin", bin, "-counts", "1000", "-out", t.TempDir(), "-no-pin")
	out := res.Stdout + res.Stderr
	if res.Code == 0 {
		t.Fatalf("exit 0 under a 300-descriptor limit:\n%s", out)
	}
	if !strings.Contains(string(out), "ulimit -Hn") || !strings.Contains(string(out), "open-file hard limit: have 300") {
		t.Errorf("message does not say what to change:\n%s", out)
	}
}

func TestDefaultMatrixDropsCountsThatDoNotFit(t *testing.T) {
	s := goodSystem()
	s.FDHard = 150 // room for 86 connections per process
	withSystem(t, s)
	o, env := fakeOptions(t, "ok")
	o.Counts, o.Quick = plan.Opt[[]int]{}, true
	var stdout, stderr bytes.Buffer
	if code := execute(o, env, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "100 connections dropped from the matrix") {
		t.Errorf("no explanation for the dropped count:\n%s", stderr.String())
	}
	runs := readRuns(t, onlyResultDir(t, o.Out))
	for _, r := range runs {
		if r.Conns != 10 {
			t.Errorf("ran %d connections; only 10 fit", r.Conns)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"-bogus"}, {"-counts", "10,x"}, {"-workloads", "sleep"}, {"extra"}} {
		var stdout, stderr bytes.Buffer
		code := Main(args, func(string) string { return "" }, &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), "usage: experiment") {
			t.Errorf("%v: exit %d, stderr %q; want 2 with usage", args, code, stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"-bin", fakeBin(t), "-servers", "bogus"}, func(string) string { return "" }, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), `unknown server "bogus"`) {
		t.Errorf("-servers bogus: exit %d, stderr %q", code, stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	env := map[string]string{"QUICK": "1", "FULL": "1"}
	if code := Main(nil, func(k string) string { return env[k] }, &stdout, &stderr); code != 2 {
		t.Errorf("QUICK=1 FULL=1: exit %d, want 2", code)
	}
}

func TestMissingBinariesSayRunMake(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := Main([]string{"-bin", t.TempDir()}, func(string) string { return "" }, &stdout, &stderr)
	if code == 0 || !strings.Contains(stderr.String(), "run make first") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}

// bin/experiment -h names the modes and their targets, never an internal
// issue number.
func TestHelpNamesNoIssues(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"-h"}, func(string) string { return "" }, &stdout, &stderr); code != 0 {
		t.Fatalf("-h: exit %d", code)
	}
	help := stderr.String()
	for _, m := range modes[1:] {
		if f := m.Info(); !strings.Contains(help, "  -"+f.Name+"\n") || !strings.Contains(help, f.Usage) {
			t.Errorf("-h lacks the mode -%s:\n%s", f.Name, help)
		}
	}
	if regexp.MustCompile(`(?i)issue`).MatchString(help) {
		t.Errorf("-h names an issue:\n%s", help)
	}
}
