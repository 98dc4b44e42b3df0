package runner

import (
	"bytes"
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/results"
	"tenkthreads/internal/testkit"
)

// holdThousand runs the thread model holding 1,000 connections, with the
// machine-wide counters read from procRoot ("" for /proc).
func holdThousand(t *testing.T, procRoot string) (dir, stdout, stderr string) {
	t.Helper()
	root := testkit.RepoRoot(t)
	o := plan.Options{
		Reps: plan.Given(1), Counts: plan.Given([]int{1000}), Servers: []string{"10kthreads"}, Workloads: []string{"hold"},
		Out: t.TempDir(), Bin: filepath.Join(root, "bin"), Hold: plan.Given(time.Second),
		StopTimeout: 10 * time.Second, Command: "test",
	}
	var out, errb bytes.Buffer
	if code := execute(o, Env{ProcRoot: procRoot}, &out, &errb); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	return onlyResultDir(t, o.Out), out.String(), errb.String()
}

// csvRow is the one cell of results.csv, by column.
func csvRow(t *testing.T, dir string) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "results.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("results.csv: %d rows, %v; want a header and one cell", len(rows), err)
	}
	row := map[string]string{}
	for i, h := range rows[0] {
		row[h] = rows[1][i]
	}
	return row
}

// checkParts: every part of machine KiB/conn is there, the per-thread
// kernel objects are more than nothing and less than a kernel stack more,
// and the parts add up to machine_kib_per_conn in results.csv.
func checkParts(t *testing.T, dir string) {
	t.Helper()
	row := csvRow(t, dir)
	num := func(key string) float64 {
		v, err := strconv.ParseFloat(row[key+"_median"], 64)
		if err != nil {
			t.Fatalf("results.csv %s = %q: not measured", key, row[key+"_median"])
		}
		return v
	}
	kstack, objs := num("kstack_kib_per_conn"), num("thread_objects_kib_per_conn")
	if objs <= 0 || objs >= kstack+16 {
		t.Errorf("thread objects %v KiB/conn; want more than 0 and less than the kernel stack %v + 16", objs, kstack)
	}
	sum := 0.0
	for _, p := range results.MachineParts {
		sum += num(p.Figure.Key())
	}
	if m := num("machine_kib_per_conn"); math.Abs(m-sum) > 1e-9*m {
		t.Errorf("machine_kib_per_conn %v, the parts add up to %v", m, sum)
	}
	if num("socket_kib_per_conn") <= 0 {
		t.Error("no socket cost")
	}
}

// TestMachineThreadModel holds 1,000 connections on the thread model and
// checks the machine figures, then does it again with /proc/slabinfo out
// of reach: the run still works, with the slab taken from /proc/meminfo,
// and says what it could not measure.
func TestMachineThreadModel(t *testing.T) {
	dir, stdout, _ := holdThousand(t, "")
	checkParts(t, dir)
	if !strings.Contains(stdout, "machine check  10kthreads (thread) 1,000 rep 1: parts ") {
		t.Errorf("no machine check on the terminal:\n%s", stdout)
	}
	raw, err := results.ReadMachine(filepath.Join(dir, "raw", "10kthreads-thread_hold_1000_r1.machine.json"))
	if err != nil || raw.Idle == nil || raw.Peak == nil || raw.Peak.Client == nil || raw.Peak.Server.Threads < 1000 {
		t.Fatalf("machine record: %+v, %v", raw, err)
	}

	// A /proc of one file, meminfo: no slabinfo, as for a user who may
	// not read it.
	proc := t.TempDir()
	if err := os.Symlink("/proc/meminfo", filepath.Join(proc, "meminfo")); err != nil {
		t.Fatal(err)
	}
	dir, _, stderr := holdThousand(t, proc)
	checkParts(t, dir)
	if !strings.Contains(stderr, "slabinfo") || !strings.Contains(stderr, "slab costs come from the Slab total of /proc/meminfo") {
		t.Errorf("stderr does not say slabinfo could not be read:\n%s", stderr)
	}
	rep, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	if !strings.Contains(string(rep), "**Not measured here:** /proc/slabinfo could not be read") || !strings.Contains(string(rep), "slab basis: meminfo") {
		t.Errorf("report.md does not say what was not measured")
	}
	raw, err = results.ReadMachine(filepath.Join(dir, "raw", "10kthreads-thread_hold_1000_r1.machine.json"))
	if err != nil || raw.SlabInfoError == "" || raw.Peak == nil || raw.Peak.Slab != nil {
		t.Errorf("machine record without slabinfo: error %q, %v", raw.SlabInfoError, err)
	}
}
