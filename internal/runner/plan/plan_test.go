package plan

import (
	"strings"
	"testing"

	"tenkthreads/internal/runner/results"
	"tenkthreads/internal/srvreport"
)

func goodSystem() System {
	return System{FDSoft: 20000, FDHard: 20000, PortLo: 32768, PortHi: 60999, Somaxconn: 4096,
		PidMax: 4194304, ThreadsMax: 200000, MaxMapCount: 262144, Tasks: 200, MemAvailableKiB: 16 << 20}
}

func TestProcsFor(t *testing.T) {
	s := goodSystem() // fd hard limit 20000: 19936 per process
	for _, c := range []struct{ n, srv, cli int }{{10000, 1, 1}, {19936, 1, 1}, {25000, 2, 2}, {50000, 3, 3}, {100000, 6, 6}} {
		if sp, cp := ProcsFor(c.n, s); sp != c.srv || cp != c.cli {
			t.Errorf("%d connections: -P %d, -procs %d; want %d, %d", c.n, sp, cp, c.srv, c.cli)
		}
	}
}

func TestMatrixCounts(t *testing.T) {
	s := goodSystem()
	got, dropped := MatrixCounts(Options{Full: true}, s)
	want := []int{100, 1000, 5000, 10000, 15000, 19900}
	if len(dropped) != 0 || !equalInts(got, want) {
		t.Errorf("FULL with fd limit 20000: %v (dropped %v), want %v", got, dropped, want)
	}
	got, _ = MatrixCounts(Options{}, s)
	if !equalInts(got, []int{10000}) {
		t.Errorf("default: %v", got)
	}
	s.FDHard = 4096
	got, dropped = MatrixCounts(Options{}, s)
	if !equalInts(got, []int{1000}) || len(dropped) != 1 || !strings.Contains(dropped[0], "ulimit -Hn 11000") {
		t.Errorf("fd limit 4096: %v, dropped %v", got, dropped)
	}
	got, dropped = MatrixCounts(Options{Counts: Given([]int{50000})}, s)
	if !equalInts(got, []int{50000}) || dropped != nil {
		t.Errorf("explicit counts changed: %v %v", got, dropped)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// kit is a kit whose server says it has the models of the real list.
func kit() Kit {
	m := func(name string, bounded, procs bool, per, workers string, def int, same string) srvreport.Model {
		return srvreport.Model{Name: name, Bounded: bounded, Processes: procs, PerConnection: per, Workers: workers, DefaultWorkers: def, SameAs: same,
			Compared: name == "thread" || name == "epoll" || name == "uring"}
	}
	return Kit{Server: "bin/10kthreads", Ref: "bin/ref_async_server", Client: "bin/client", Models: srvreport.ModelList{
		Schema: srvreport.ModelsSchema, Models: []srvreport.Model{
			m("thread", false, false, "thread", "", 0, ""),
			m("prethread", true, false, "", "threads", 64, ""),
			m("prefork", true, true, "", "processes", 16, "prefork-nolock"),
			m("prefork-nolock", true, true, "", "processes", 16, ""),
			m("fork", false, true, "process", "", 0, ""),
			m("iterative", true, false, "", "", 0, ""),
			m("epoll", false, false, "", "event loops", 1, ""),
			m("uring", false, false, "", "event loops", 1, ""),
			m("poll", false, false, "", "event loops", 1, ""),
		}}}
}

func keys(specs []results.ServerSpec) string {
	var k []string
	for _, s := range specs {
		k = append(k, s.Key+" "+strings.Join(s.Args, " "))
	}
	return strings.Join(k, "; ")
}

func TestMatrixServers(t *testing.T) {
	k := kit()
	specs, notes, err := k.MatrixServers(nil)
	if err != nil || keys(specs) != "10kthreads:thread ; 10kthreads:epoll -M epoll; 10kthreads:uring -M uring; ref_async_server " {
		t.Errorf("default servers: %s, %v", keys(specs), err)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "models prethread, prefork, prefork-nolock, fork, iterative, poll of bin/10kthreads are not in the default matrix") {
		t.Errorf("notes: %q", notes)
	}
	specs, _, err = k.MatrixServers([]string{"10kthreads", "fork", "10kthreads:prefork", " goroutine"})
	if err != nil || keys(specs) != "10kthreads:thread ; 10kthreads:fork -M fork; 10kthreads:prefork -M prefork; ref_async_server " {
		t.Errorf("chosen servers: %s, %v", keys(specs), err)
	}
	for _, bad := range []string{"10kthreads:kqueue", "kqueue"} {
		if _, _, err := k.MatrixServers([]string{bad}); err == nil || !strings.Contains(err.Error(), "thread, prethread, prefork") {
			t.Errorf("%s: %v, want an error listing the models", bad, err)
		}
	}
}

// The facts the runner acts on come from the list, not from the names.
func TestFacts(t *testing.T) {
	k := kit()
	for _, c := range []struct {
		model                      string
		threaded, preCreates, inMx bool
	}{
		{"thread", true, false, true}, {"prethread", true, true, false}, {"prefork-nolock", true, true, false},
		{"fork", true, false, false}, {"iterative", false, false, false}, {"epoll", false, false, true},
		// Unbounded in one process, yet not one of the designs compared.
		{"poll", false, false, false},
	} {
		f := k.Facts(k.Spec(c.model))
		if Threaded(f) != c.threaded || PreCreates(f) != c.preCreates || InMatrix(f) != c.inMx {
			t.Errorf("%s: threaded %v, pre-creates %v, in the matrix %v", c.model, Threaded(f), PreCreates(f), InMatrix(f))
		}
	}
	if f := k.Facts(k.GoRef()); f != (srvreport.Model{}) {
		t.Errorf("the Go reference has facts %+v", f)
	}
	if got := keys(k.Compared()); got != "10kthreads:thread ; 10kthreads:epoll -M epoll; 10kthreads:uring -M uring; ref_async_server " {
		t.Errorf("compared: %s", got)
	}
}

func TestParse(t *testing.T) {
	modes := []ModeFlag{{Usage: "[-quick]", Flags: []string{"quick", "full", "reps", "counts", "servers", "workloads", "hold", "duration"}},
		{Name: "bench", Usage: "-bench", Flags: []string{"quick", "reps"}}, {Name: "soak", Usage: "-soak [MODEL]"}}
	env := func(k string) string { return map[string]string{"QUICK": "1"}[k] }
	o, err := Parse([]string{"-counts", "1000,10", "-hold", "3s", "-servers", "a,b"}, env, modes, nil)
	if err != nil || !o.Quick || !o.Counts.Given || o.Counts.V[0] != 10 || !o.Hold.Given || o.Hold.V.String() != "3s" ||
		o.Echo.Given || o.Reps.Given || o.MatrixReps() != 1 || o.Command != "QUICK=1 bin/experiment -counts 1000,10 -hold 3s -servers a,b" {
		t.Errorf("parsed %+v, %v", o, err)
	}
	if o, err := Parse([]string{"-docs", "a", "b"}, func(string) string { return "" }, modes, nil); err != nil || !o.Docs || len(o.Args) != 2 {
		t.Errorf("-docs a b: %+v, %v", o, err)
	}
	if o, err := Parse([]string{"-soak", "epoll"}, func(string) string { return "" }, modes, nil); err != nil || o.Mode != "soak" || o.Args[0] != "epoll" {
		t.Errorf("-soak epoll: %+v, %v", o, err)
	}
	for _, bad := range [][]string{{"-bench", "epoll"}, {"-bench", "-soak"}, {"-soak", "-report", "x"}, {"-tune"}, {"-bench", "-full"}, {"-reps", "-1"}, {"-reps", "0"}, {"-hold", "-1s"},
		{"-bench", "-hold", "1s"}, {"-soak", "-reps", "2"}, {"-report", "x", "-quick"}, {"-bench", "-budget", "1m"},
		{"-docs", "-bench"}, {"-docs", "-report", "x"}, {"-docs", "-quick", "x"}} {
		if _, err := Parse(bad, func(string) string { return "" }, modes, nil); err == nil {
			t.Errorf("%v accepted", bad)
		} else if _, ok := err.(UsageError); !ok {
			t.Errorf("%v: %v is not a usage error", bad, err)
		}
	}
	// A flag the mode does not read names the modes that do.
	if _, err := Parse([]string{"-soak", "-reps", "2"}, func(string) string { return "" }, modes, nil); err == nil ||
		err.Error() != "-reps does not apply to -soak; it goes with the experiment matrix, -bench" {
		t.Errorf("-soak -reps 2: %v", err)
	}
	if l := UsageLine(modes); l != "usage: experiment [-quick] | -report DIR | -docs [DIR ...] | -bench | -soak [MODEL]"+topologyUsage {
		t.Errorf("usage line %q", l)
	}
}
