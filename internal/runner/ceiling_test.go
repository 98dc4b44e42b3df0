package runner

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/report"
	"tenkthreads/internal/runner/results"
	"tenkthreads/internal/sysinfo"
	"tenkthreads/internal/testkit"
)

func ceilingOptions(t *testing.T, budget time.Duration) plan.Options {
	bin := realBin(t)
	return plan.Options{Mode: "ceiling", Bin: bin, Out: t.TempDir(), NoPin: true, Reps: 1, Counts: []int{50, 200}, CountsSet: true,
		Budget: budget, StartTimeout: 5 * time.Second, StopTimeout: 5 * time.Second, Command: "test",
		ServerOverride: []results.ServerSpec{{Key: "10kthreads:thread", Label: "10kthreads (thread)", Model: "thread", Path: filepath.Join(bin, "10kthreads")}}}
}

// A tiny ceiling run: calibration, a prediction bound by a named limit,
// steps that double up to the cap or the budget, and the report.
func TestCeilingTiny(t *testing.T) {
	o := ceilingOptions(t, 12*time.Second)
	var stdout, stderr bytes.Buffer
	if code := Execute(o, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	dir := onlyDir(t, o.Out, "ceiling-")
	var rep report.CeilingReport
	testkit.ReadJSON(t, filepath.Join(dir, "ceiling.json"), &rep)
	if rep.Schema != report.CeilingSchema || len(rep.Servers) != 1 || !rep.OOMKills.Set {
		t.Fatalf("ceiling.json: schema %q, %d servers, OOM kills %v", rep.Schema, len(rep.Servers), rep.OOMKills)
	}
	s := rep.Servers[0]
	if len(s.Steps) < 2 || s.Steps[0].Conns != 50 || s.Steps[1].Conns != 200 || !s.Steps[0].Held || !s.Steps[1].Held {
		t.Fatalf("calibration steps: %+v", s.Steps)
	}
	if s.Predicted.Binding == "" || s.Predicted.Conns <= 200 || s.Cost.ServerKStackKiB < 4 || s.Cost.KiB() <= s.Cost.ServerKStackKiB {
		t.Errorf("prediction %+v from cost %+v: want a binding limit, and a thread's kernel stack and user memory in the cost", s.Predicted, s.Cost)
	}
	if s.Cap > s.Predicted.Conns/2 || s.Cap <= 0 || s.CapWhy == "" {
		t.Errorf("cap %d (%s) for a prediction of %d: want at most half of it", s.Cap, s.CapWhy, s.Predicted.Conns)
	}
	for i, st := range s.Steps[2:] {
		if int64(st.Conns) > s.Cap || st.Conns > 2*s.Steps[i+1].Conns {
			t.Errorf("step %d holds %d connections: past the cap %d or more than twice the step before", i, st.Conns, s.Cap)
		}
		if st.MachineUsedKiB.Set && st.MachineUsedKiB.V > rep.MemCapShare*rep.MemAvailableKiB {
			t.Errorf("step %d used %v KiB, past %.0f%% of MemAvailable", st.Conns, st.MachineUsedKiB, 100*rep.MemCapShare)
		}
	}
	stopped := strings.HasPrefix(s.Stopped, "reached the cap") || strings.HasPrefix(s.Stopped, "time budget") || strings.Contains(s.Stopped, "not held")
	if s.Held < 200 || !stopped {
		t.Errorf("held %d, stopped %q: want the cap, the budget or a failed step to have stopped the steps", s.Held, s.Stopped)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	for _, w := range []string{"# make ceiling", "## Limits of each server", "kernel.pid_max", "ceiling.svg", "predicted ceiling (binding limit)"} {
		if !strings.Contains(string(md), w) {
			t.Errorf("report.md lacks %q", w)
		}
	}
	checkPNG(t, filepath.Join(dir, "ceiling.png"))
	// The report can be rebuilt from the directory.
	stdout.Reset()
	if code := Main([]string{"-report", dir}, noEnv, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "extrapolated ceiling") {
		t.Errorf("-report on a ceiling directory: exit %d\n%s", code, stderr.String())
	}
}

// A run that takes MemAvailable below the floor is stopped, and says so:
// here the machine claims ten times the memory it has, so the floor (40%
// of that) is above what is really available from the start.
func TestCeilingMemoryFloor(t *testing.T) {
	avail, err := sysinfo.Host.MemAvailableKiB()
	if err != nil {
		t.Fatal(err)
	}
	s := goodSystem()
	s.MemAvailableKiB = 10 * float64(avail)
	withSystem(t, s)
	o := ceilingOptions(t, 10*time.Second)
	var stdout, stderr bytes.Buffer
	if code := Execute(o, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	var rep report.CeilingReport
	testkit.ReadJSON(t, filepath.Join(onlyDir(t, o.Out, "ceiling-"), "ceiling.json"), &rep)
	sv := rep.Servers[0]
	if len(sv.Steps) != 1 || sv.Steps[0].Held || sv.Steps[0].Status != results.StatusMemCap || !strings.Contains(sv.Stopped, "memory-cap") {
		t.Errorf("steps %+v, stopped %q; want the first calibration stopped at the memory floor", sv.Steps, sv.Stopped)
	}
	if !strings.Contains(stderr.String(), "MemAvailable fell below") {
		t.Errorf("stderr does not say why the run stopped:\n%s", stderr.String())
	}
}

func TestFitLine(t *testing.T) {
	for _, c := range []struct {
		xs, ys []float64
		a, b   float64
		ok     bool
	}{
		{[]float64{1000, 2000, 4000}, []float64{1500, 2500, 4500}, 500, 1, true},
		{[]float64{10, 20}, []float64{30, 30}, 0, 0, false},
		{[]float64{10}, []float64{30}, 0, 0, false},
		{[]float64{5, 5}, []float64{1, 2}, 0, 0, false},
	} {
		a, b, ok := fitLine(c.xs, c.ys)
		if ok != c.ok || ok && (a != c.a || b != c.b) {
			t.Errorf("fitLine(%v, %v) = %v, %v, %v; want %v, %v, %v", c.xs, c.ys, a, b, ok, c.a, c.b, c.ok)
		}
	}
}
