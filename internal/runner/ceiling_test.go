package runner

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tenkthreads/internal/clientreport"
	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/report"
	"tenkthreads/internal/runner/results"
	"tenkthreads/internal/sysinfo"
)

func ceilingOptions(t *testing.T, budget time.Duration) (plan.Options, Env) {
	bin := realBin(t)
	o := plan.Options{Mode: "ceiling", Bin: bin, Out: t.TempDir(), NoPin: true, Reps: plan.Given(1), Counts: plan.Given([]int{50, 200}),
		Budget: budget, StopTimeout: 5 * time.Second, Command: "test"}
	return o, Env{Servers: []results.ServerSpec{{Key: "10kthreads:thread", Label: "10kthreads (thread)", Model: "thread", Path: filepath.Join(bin, "10kthreads")}}}
}

// A tiny ceiling run: calibration, a prediction bound by a named limit
// (a pid_max that leaves room for 700 threads), steps that double up to
// the prediction itself and hold it, and the report.
func TestCeilingTiny(t *testing.T) {
	sys := goodSystem()
	sys.PidMax = sys.Tasks + ceilClientThreads + 700
	withSystem(t, sys)
	o, env := ceilingOptions(t, 0)
	var rep report.CeilingReport
	dir := runMode(t, o, env, &rep).dir
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
	checkMachineCost(t, s.Cost)
	if s.Predicted.Conns != 700 || s.Predicted.Binding != "kernel.pid_max" || s.Cap != s.Predicted.Conns || !strings.Contains(s.CapWhy, "kernel.pid_max") {
		t.Errorf("cap %d (%s) for a prediction of %d (%s): want the prediction, 700, bound by kernel.pid_max", s.Cap, s.CapWhy, s.Predicted.Conns, s.Predicted.Binding)
	}
	if held := s.Steps[len(s.Steps)-1]; s.Held != 700 || !held.Held || held.Conns != 700 || s.StoppedBy != report.StopLimit {
		t.Errorf("held %d, last step %+v, stopped by %q (%s): want the prediction held and the limit named", s.Held, held, s.StoppedBy, s.Stopped)
	}
	for i, st := range s.Steps[2:] {
		if int64(st.Conns) > s.Cap || st.Conns > 2*s.Steps[i+1].Conns {
			t.Errorf("step %d holds %d connections: past the cap %d or more than twice the step before", i, st.Conns, s.Cap)
		}
		if st.MachineUsedKiB.Set && st.MachineUsedKiB.V > rep.MemCapShare*rep.MemAvailableKiB {
			t.Errorf("step %d used %v KiB, past %.0f%% of MemAvailable", st.Conns, st.MachineUsedKiB, 100*rep.MemCapShare)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	for _, w := range []string{"# make ceiling", "## Limits of each server", "kernel.pid_max", "ceiling.svg", "predicted ceiling (binding limit)", "thread objects", "Cost per connection: ", "stopped by", "no time budget"} {
		if !strings.Contains(string(md), w) {
			t.Errorf("report.md lacks %q", w)
		}
	}
	checkPNG(t, filepath.Join(dir, "ceiling.png"))
	// The report can be rebuilt from the directory.
	checkRebuild(t, dir, "extrapolated ceiling")
}

// checkMachineCost: the prediction prices every part of a thread per
// connection, both socket ends among them, and the parts add up.
func checkMachineCost(t *testing.T, c plan.ConnCost) {
	t.Helper()
	if !c.Machine() {
		t.Fatalf("cost %+v: want the machine basis, every part from the calibration holds' machine records", c)
	}
	if c.ServerThreadObjectsKiB <= 0 || c.ServerThreadObjectsKiB >= c.ServerKStackKiB+16 || c.ServerSocketKiB <= 0 || c.ClientSocketKiB <= 0 {
		t.Errorf("cost %+v: want a thread's kernel objects (more than 0, less than its kernel stack + 16) and a socket end on each side", c)
	}
	client := c.ClientUserKiB + c.ClientKStackKiB + c.ClientThreadObjectsKiB + c.ClientSocketKiB + c.ClientPageTablesKiB
	server := c.ServerUserKiB + c.ServerKStackKiB + c.ServerThreadObjectsKiB + c.ServerSocketKiB + c.ServerPageTablesKiB
	if math.Abs(c.ClientKiB-client) > 1e-9 || math.Abs(c.KiB()-server-client) > 1e-9 {
		t.Errorf("cost %+v: client %v KiB, the sum %v; the parts add up to %v and %v", c, c.ClientKiB, c.KiB(), client, server+client)
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
	o, env := ceilingOptions(t, 10*time.Second)
	var rep report.CeilingReport
	stderr := runMode(t, o, env, &rep).stderr
	sv := rep.Servers[0]
	if len(sv.Steps) != 1 || sv.Steps[0].Held || sv.Steps[0].Status != results.StatusMemCap || !strings.Contains(sv.Stopped, "memory-cap") {
		t.Errorf("steps %+v, stopped %q; want the first calibration stopped at the memory floor", sv.Steps, sv.Stopped)
	}
	if !strings.Contains(stderr, "MemAvailable fell below") {
		t.Errorf("stderr does not say why the run stopped:\n%s", stderr)
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

// The prediction's cost: the server's parts per connection at the larger
// calibration hold, the client's growth between the two; without a
// machine record, user space and kernel stacks.
func TestConnCost(t *testing.T) {
	n := results.N
	hold := func(conns float64, srv, cli results.Costs) *results.Run {
		return &results.Run{Machine: &results.Machine{}, Attribution: &results.Attribution{Server: srv, Client: cli, Conns: n(conns)}}
	}
	parts := func(v ...float64) results.Costs {
		return results.Costs{User: n(v[0]), KStack: n(v[1]), ThreadObjects: n(v[2]), Sockets: n(v[3]), PageTables: n(v[4])}
	}
	a := report.CeilingStep{Conns: 2000, ClientPSSKiB: n(10000)}
	b := report.CeilingStep{Conns: 10000, ServerUserKiB: n(8), ServerKStack: n(16), ClientPSSKiB: n(40000)}
	ra := hold(2000, parts(16000, 32000, 12000, 4600, 400), parts(9000, 64, 20, 4600, 300))
	// The client's runtime returned 1,000 KiB of user memory meanwhile:
	// its user-space growth is floored at zero.
	rb := hold(10000, parts(80000, 160000, 62000, 23000, 2000), parts(8000, 64, 20, 23000, 340))
	c, why := connCost(a, b, ra, rb)
	want := plan.ConnCost{ServerUserKiB: 8, ServerKStackKiB: 16, ServerThreadObjectsKiB: 6.2, ServerSocketKiB: 2.3, ServerPageTablesKiB: 0.2,
		ClientKiB: 2.305, ClientSocketKiB: 2.3, ClientPageTablesKiB: 0.005, Basis: plan.CostMachine}
	if why != "" || !closeCost(c, want) {
		t.Errorf("connCost = %+v (%q), want %+v", c, why, want)
	}
	late := hold(10000, results.Costs{}, results.Costs{})
	late.Attribution, late.Machine.Detail = nil, "the client ended before it could be taken"
	for _, rb := range []*results.Run{nil, {}, late} {
		c, why := connCost(a, b, ra, rb)
		if want := (plan.ConnCost{ServerUserKiB: 8, ServerKStackKiB: 16, ClientKiB: 3.75, Basis: plan.CostUserKStack}); c != want || why == "" {
			t.Errorf("without a machine record: %+v (%q), want %+v and why", c, why, want)
		}
		if rb == late && why != late.Machine.Detail {
			t.Errorf("why %q, want the record's own detail", why)
		}
	}
}

func closeCost(a, b plan.ConnCost) bool {
	x := []float64{a.ServerUserKiB, a.ServerKStackKiB, a.ServerThreadObjectsKiB, a.ServerSocketKiB, a.ServerPageTablesKiB,
		a.ClientKiB, a.ClientUserKiB, a.ClientKStackKiB, a.ClientThreadObjectsKiB, a.ClientSocketKiB, a.ClientPageTablesKiB}
	y := []float64{b.ServerUserKiB, b.ServerKStackKiB, b.ServerThreadObjectsKiB, b.ServerSocketKiB, b.ServerPageTablesKiB,
		b.ClientKiB, b.ClientUserKiB, b.ClientKStackKiB, b.ClientThreadObjectsKiB, b.ClientSocketKiB, b.ClientPageTablesKiB}
	for i := range x {
		if math.Abs(x[i]-y[i]) > 1e-9 {
			return false
		}
	}
	return a.Basis == b.Basis
}

// A failed step says how: its status and why, and the client's errors by
// class, the most first, without the classes that did not occur.
func TestFailureText(t *testing.T) {
	dir := t.TempDir()
	cli, err := clientreport.Read(filepath.Join("testdata", "fixture", "raw", "10kthreads-thread_hold_100_r1.client.json"))
	if err != nil {
		t.Fatal(err)
	}
	for k := range cli.Errors {
		cli.Errors[k] = 0
	}
	cli.Errors["reset"], cli.Errors["timeout"] = 93935, 676357
	if err := cli.Write(filepath.Join(dir, "c.json")); err != nil {
		t.Fatal(err)
	}
	r := &results.Run{Status: results.StatusErrors, Detail: "client: exit 1", ClientJSON: "c.json"}
	got := failureText(dir, r)
	if want := "errors (client: exit 1); client errors: timeout 676,357, reset 93,935"; got != want {
		t.Errorf("failureText = %q, want %q", got, want)
	}
	r.ClientJSON = "missing.json"
	if got := failureText(dir, r); got != "errors (client: exit 1)" {
		t.Errorf("without the client's report: %q", got)
	}
}
