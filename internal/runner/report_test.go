package runner

import (
	"encoding/csv"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tenkthreads/internal/runner/report"
	"tenkthreads/internal/runner/results"
)

var update = flag.Bool("update", false, "rewrite testdata/fixture.golden")

// loadFixture copies the checked-in results directory so that the report
// files are written to a temporary place.
func loadFixture(t *testing.T) *results.Results {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("testdata/fixture")); err != nil {
		t.Fatal(err)
	}
	res, err := results.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestFixtureTables turns fixture JSON into the tables and compares them
// with the expected text.
func TestFixtureTables(t *testing.T) {
	res := loadFixture(t)
	got := "ANSWER\n" + report.Answer(res.Cells) + "\n\nHOLD\n" + report.HoldTable(results.CellsOf(res.Cells, "hold")) +
		"\nECHO\n" + report.RoundTripTable(results.CellsOf(res.Cells, "echo")) + "\nSUMMARY\n" + report.SummaryTable(res.Cells) +
		"\nFAILED\n" + report.FailedRuns(res.Runs) + "\nMACHINE CHECK\n" + report.MachineCheck(res.Runs) + "\n" + report.CheckLines(res.Runs) +
		"\nCALIBRATION\n" + report.CalibrationTable(res.Meta.Calibration, res.Meta.KStackPerThreadKiB)
	golden := filepath.Join("testdata", "fixture.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("tables differ from %s (rerun with -update after checking):\n--- got\n%s\n--- want\n%s", golden, got, want)
	}
}

// TestFixtureSemantics checks the rules behind the tables independently of
// their layout.
func TestFixtureSemantics(t *testing.T) {
	res := loadFixture(t)
	find := func(server, wl string, n int) *results.Cell {
		for _, c := range res.Cells {
			if c.Server == server && c.Workload == wl && c.Conns == n {
				return c
			}
		}
		t.Fatalf("no cell %s %s %d", server, wl, n)
		return nil
	}
	thr := find("10kthreads:thread", "hold", 1000)
	if s := thr.Stat(results.KiBPerConn); s.Med.V != 8.2 || s.Min.V != 8.0 || s.Max.V != 8.4 || s.N != 2 {
		t.Errorf("median/spread of KiB per connection: %+v", s)
	}
	if !thr.ThreadPerConn() {
		t.Error("thread model not recognised as thread-per-connection")
	}
	// 1000 extra threads at the peak × 16 KiB measured per thread; the
	// noisier system-wide figure is kept beside it.
	if k := thr.Stat(results.KStackKiB).Med.V; k != 16000 {
		t.Errorf("kernel stack %v KiB, want 1000 threads × 16 KiB", k)
	}
	if k := thr.Stat(results.KStackSystemKiB).Med.V; k != 16100 {
		t.Errorf("system-wide kernel stack %v, want the sampled 16100", k)
	}
	gor := find("ref_async_server", "hold", 1000)
	if gor.Status() != "crashed 1/2" {
		t.Errorf("status %q, want crashed 1/2", gor.Status())
	}
	if gor.ThreadPerConn() {
		t.Error("goroutine server charged with kernel stacks")
	}
	// The crashed run has no server JSON: one measured value, not a zero.
	if s := gor.Stat(results.PeakRSSKiB); s.N != 1 || s.Med.V != 9000 {
		t.Errorf("peak RSS over the crashed cell: %+v", s)
	}
	echo := find("ref_async_server", "echo", 1000)
	if echo.Stat(results.RTTP99).Med.Set || echo.Stat(results.ServerCPUPerRT).Med.Set {
		t.Error("latency or CPU per round trip invented for a client that did not report them")
	}
	e := find("10kthreads:thread", "echo", 1000)
	if v := e.Stat(results.ServerCPUPerRT).Med.V; v != 20 {
		t.Errorf("CPU per round trip %v µs, want 2 s / 100000 = 20", v)
	}
	if !strings.Contains(report.Answer(res.Cells), "held 1,000 of 1,000 with 0 client errors") {
		t.Errorf("answer: %s", report.Answer(res.Cells))
	}
	checkMachineFixture(t, res, thr, gor)
}

// checkMachineFixture: each run's machine figure is the sum of its parts;
// a thread pays its kernel objects and a goroutine does not; the epoll
// registration of Go's netpoller is in its socket part; a run whose peak
// snapshot came too late has no machine figures, and says why.
func checkMachineFixture(t *testing.T, res *results.Results, thr, gor *results.Cell) {
	t.Helper()
	for _, r := range res.Runs {
		m := r.M
		if !m.MachinePerC.Set {
			continue
		}
		if sum := m.KiBPerConn.V + m.KStackPerC.V + m.ThreadObjPerC.V + m.SocketPerC.V + m.PageTablesPerC.V; math.Abs(sum-m.MachinePerC.V) > 1e-9 {
			t.Errorf("%s %d rep %d: machine %v KiB/conn, parts add up to %v", r.Label, r.Conns, r.Rep, m.MachinePerC, sum)
		}
	}
	// 1,000 threads × 6 KiB and 2,000 mappings × 0.5 KiB, over 1,000.
	if v := thr.Stat(results.ThreadObjectsKiBPerConn).Med; v.V != 7 {
		t.Errorf("thread model: thread objects %v KiB/conn, want 7", v)
	}
	// A socket end (3 KiB) and its epoll registration (0.25 KiB).
	if v := gor.Stat(results.SocketKiBPerConn).Med; v.V != 3.25 || thr.Stat(results.SocketKiBPerConn).Med.V != 3 {
		t.Errorf("socket KiB/conn: Go %v, thread %v; want 3.25 and 3", v, thr.Stat(results.SocketKiBPerConn).Med)
	}
	var late *results.Run
	for _, r := range res.Runs {
		if r.Workload == "hold" && r.Conns == 100 && r.Rep == 1 && r.Server == "10kthreads:thread" {
			late = r
		}
	}
	if late == nil || late.M.MachinePerC.Set || !strings.Contains(report.MachineCheck(res.Runs), "not measured: no peak snapshot") {
		t.Errorf("a run without a peak snapshot: %+v", late)
	}
}

func TestFixtureFiles(t *testing.T) {
	res := loadFixture(t)
	if err := report.Write(res, ""); err != nil {
		t.Fatal(err)
	}
	for _, p := range plotNames {
		checkPNG(t, filepath.Join(res.Dir, p+".png"))
		b, err := os.ReadFile(filepath.Join(res.Dir, p+".svg"))
		if err != nil || !strings.Contains(string(b), "<svg") {
			t.Errorf("%s.svg: not an SVG (%v)", p, err)
		}
	}
	f, err := os.Open(filepath.Join(res.Dir, "results.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+len(res.Cells) {
		t.Fatalf("%d CSV rows, want header + %d cells", len(rows), len(res.Cells))
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, r := range rows[1:] {
		if r[col["server"]] == "ref_async_server" && r[col["workload"]] == "echo" && r[col["rtt_p99_us_median"]] != "" {
			t.Errorf("unmeasured p99 written as %q", r[col["rtt_p99_us_median"]])
		}
	}
	rep, _ := os.ReadFile(filepath.Join(res.Dir, "report.md"))
	if !strings.HasPrefix(string(rep), "# 10kthreads experiment") || !strings.Contains(string(rep), "**Answer.**") {
		t.Errorf("report.md does not start with the title and the answer")
	}
}
