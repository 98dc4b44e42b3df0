package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"tenkthreads/internal/confidence"
	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/report"
	"tenkthreads/internal/runner/results"
)

// compare is -compare A B: two builds, or two server command lines, run
// in the same rounds, each figure judged better, worse or no different.
type compare struct{}

func (compare) Info() plan.ModeFlag {
	return plan.ModeFlag{Name: "compare", Usage: "-compare [-quick] [-reps N] [-counts N,...] [-workloads hold,echo] [-servers ...] A B",
		Help:  "A/B comparison: A and B are each a git revision, a bin directory or a quoted server command line; every figure's medians with intervals, B/A with its interval, and a verdict, better, worse or no difference at 95% (Holm-corrected)",
		Flags: []string{"quick", "reps", "counts", "workloads", "servers", "hold", "duration"}}
}

// Check reads A and B; a revision is only built when the campaign plans.
func (compare) Check(o plan.Options, _ Env) error {
	if len(o.Args) != 2 {
		return plan.UsageError{Msg: fmt.Sprintf("-compare takes two things to compare, A and B; got %d", len(o.Args))}
	}
	for i, name := range []string{"A", "B"} {
		if _, err := parseSide(name, o.Args[i]); err != nil {
			return err
		}
	}
	for _, w := range o.Workloads {
		if w != "hold" && w != "echo" {
			return plan.UsageError{Msg: fmt.Sprintf("-compare compares the hold and echo workloads, not %q", w)}
		}
	}
	return nil
}

// comparePlan is a comparison's sizes: six rounds at least, since fewer
// cannot show a difference at 95%; -quick shortens the runs, not their
// number.
func comparePlan(o plan.Options) (counts []int, reps int, hold, echo time.Duration, workloads []string) {
	reps = max(o.Reps.Or(confidence.MinSamples(confidence.DefaultLevel)), 1)
	counts, hold, echo = []int{10000}, time.Second, time.Second
	if o.Quick {
		counts, echo = []int{1000}, 500*time.Millisecond
	}
	workloads = []string{"hold", "echo"}
	if len(o.Workloads) > 0 {
		workloads = o.Workloads
	}
	return o.Counts.Or(counts), reps, o.Hold.Or(hold), o.Echo.Or(echo), workloads
}

// Plan builds what must be built and declares both sides' runs.
func (compare) Plan(s Setup) (*Plan, error) {
	var sides [2]side
	for i, name := range []string{"A", "B"} {
		sd, err := parseSide(name, s.O.Args[i])
		if err == nil {
			err = sd.build(os.Stderr)
		}
		if err != nil {
			for _, b := range sides[:i+1] {
				if b.cleanup != nil {
					b.cleanup()
				}
			}
			return nil, err
		}
		sides[i] = sd
	}
	servers, err := compareServers(s)
	if err != nil {
		return nil, err
	}
	a, b := sides[0].specs(s.Kit, servers), sides[1].specs(s.Kit, servers)
	if len(a) != len(b) {
		return nil, plan.UsageError{Msg: "-compare: A is one server command line and B is a build, or the reverse: compare like with like"}
	}
	counts, reps, hold, echo, wls := comparePlan(s.O)
	p := &Plan{Kind: "compare", Interleave: true, Retry: true, Reps: reps, Counts: counts, Workloads: map[string]string{},
		Cleanup: func() { sides[0].cleanup(); sides[1].cleanup() }}
	var pairs []report.ComparePair
	for i := range a {
		p.Servers = append(p.Servers, a[i], b[i])
		pairs = append(pairs, report.ComparePair{Name: servers[min(i, len(servers)-1)].Label, A: a[i].Key, B: b[i].Key})
		if sides[0].cmd != nil {
			pairs[i].Name = "command line"
		}
		for _, n := range counts {
			for _, w := range wls {
				for rep := 1; rep <= reps; rep++ {
					for _, sp := range []results.ServerSpec{a[i], b[i]} {
						p.Runs = append(p.Runs, compareRun(sp, w, n, rep, hold, echo))
					}
				}
			}
		}
	}
	p.Checks.Conns = counts[len(counts)-1]
	p.Checks.Rows, p.Notes = plan.CheckSystem(s.Sys, p.Checks.Conns, true)
	what := [2]string{sides[0].what, sides[1].what}
	p.Intro = fmt.Sprintf("compare: A is %s, B is %s; %d runs (%d a side per cell)", what[0], what[1], len(p.Runs), reps)
	p.Report = func(r Ran) (Summary, error) { return compareReport(r.Res, pairs, what) }
	return p, nil
}

// compareServers is the servers a build side runs: -servers, else the
// thread model and epoll, the kit's question.
func compareServers(s Setup) ([]results.ServerSpec, error) {
	if s.Env.Servers != nil {
		return s.Env.Servers, nil
	}
	if len(s.O.Servers) == 0 {
		return []results.ServerSpec{s.Kit.Spec(plan.DefaultModel), s.Kit.Spec("epoll")}, nil
	}
	specs, _, err := s.Kit.MatrixServers(s.O.Servers)
	return specs, err
}

// compareRun is one side's run of one cell.
func compareRun(sp results.ServerSpec, w string, n, rep int, hold, echo time.Duration) runSpec {
	if w == "hold" {
		return runSpec{spec: sp, workload: w, n: n, rep: rep, clientArgs: []string{"-hold", hold.String(), "-quiet"},
			machine: true, time: runTime{hold: hold}}
	}
	return runSpec{spec: sp, workload: w, n: n, rep: rep, clientArgs: []string{"-duration", echo.String(), "-size", "64", "-quiet"},
		time: runTime{duration: echo}}
}

// compareReport writes compare.json, compare.txt and compare.md.
func compareReport(res *results.Results, pairs []report.ComparePair, sides [2]string) (Summary, error) {
	rep, err := report.BuildCompare(res, pairs, sides)
	if err != nil {
		return Summary{}, err
	}
	text := report.CompareText(rep)
	if err := os.WriteFile(filepath.Join(res.Dir, "compare.md"), []byte(report.CompareMarkdown(rep)), 0o644); err != nil {
		return Summary{}, err
	}
	return Summary{Text: text, File: "compare.md"}, saveText(res.Dir, "compare", rep, text)
}
