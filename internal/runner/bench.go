package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"tenkthreads/internal/confidence"
	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/report"
	"tenkthreads/internal/runner/results"
)

// bench is the fixed benchmark of the performance targets (make bench).
type bench struct{ noCheck }

func (bench) Info() plan.ModeFlag {
	return plan.ModeFlag{Name: "bench", Usage: "-bench [-quick]",
		Help:  "the performance targets: memory, CPU per round trip, accept rate, large transfers, scale (make bench)",
		Flags: []string{"quick", "reps", "counts", "hold", "duration"}}
}

// benchPlan is the bench's sizes, from the options and the fd limit.
type benchPlan struct {
	counts        []int
	reps          int
	hold, echo    time.Duration
	bulk          time.Duration
	bulkReps      int
	forkN         int
	forkReps      int
	scaleN        int
	scaleFit      int // what the fd limit allows, rounded down to 100
	scaleClientPs int
}

func planBench(o plan.Options, sys plan.System) benchPlan {
	// Six repetitions give every compared figure a 95% interval; a
	// second of 1 MiB echoes is thousands of messages.
	reps := confidence.MinSamples(confidence.DefaultLevel)
	p := benchPlan{counts: []int{100, 1000, 10000}, reps: reps, hold: time.Second, echo: time.Second,
		bulk: time.Second, bulkReps: reps, forkN: 10000, forkReps: 2}
	if o.Quick {
		p = benchPlan{counts: []int{100, 1000}, reps: 1, hold: time.Second, echo: 500 * time.Millisecond,
			bulk: time.Second, bulkReps: 1, forkN: 1000, forkReps: 1}
	}
	if o.Counts.Given {
		p.counts = o.Counts.V
		p.forkN = o.Counts.V[len(o.Counts.V)-1]
	}
	if o.Reps.Given {
		p.reps, p.bulkReps, p.forkReps = o.Reps.V, o.Reps.V, min(o.Reps.V, p.forkReps)
	}
	p.hold = o.Hold.Or(p.hold)
	if o.Echo.Given {
		p.echo, p.bulk = o.Echo.V, o.Echo.V
	}
	p.scaleN = sys.MaxConnsForFD() / 100 * 100
	p.scaleFit = p.scaleN
	if o.Quick || o.Counts.Given {
		p.scaleN = min(p.scaleN, 2*p.counts[len(p.counts)-1])
	}
	p.scaleClientPs = 1
	if p.scaleN+2*plan.FDSlack > int(sys.FDHard) {
		p.scaleClientPs = 2
	}
	return p
}

// Plan runs the bench: the targets' figures at each count, fork, large
// transfers and the largest count the fd limit allows.
func (bench) Plan(s Setup) (*Plan, error) {
	bp := planBench(s.O, s.Sys)
	top := max(bp.counts[len(bp.counts)-1], bp.scaleN, bp.forkN)
	rows, notes := plan.CheckSystem(s.Sys, top, true)
	compared := s.Kit.Compared()
	var fork *results.ServerSpec
	if s.Env.Servers != nil {
		compared = s.Env.Servers
	} else if _, ok := s.Kit.Models.Get("fork"); ok {
		f := s.Kit.Spec("fork")
		fork = &f
	}
	runs := benchRuns(s.Kit, bp, compared, fork)
	in := report.BenchInput{Counts: bp.counts, Reps: bp.reps, ForkN: bp.forkN, ScaleN: bp.scaleN,
		ScaleFit: bp.scaleFit, Compared: compared, Fork: fork, NotApplicable: notApplicable(s.Kit)}
	return &Plan{Kind: "bench", Checks: Checks{Conns: top, Rows: rows}, Notes: notes, Interleave: true, Retry: true,
		Intro: fmt.Sprintf("bench: %d runs (counts %v × %d reps, large transfers, fork at %d, scale at %d)", len(runs), bp.counts, bp.reps, bp.forkN, bp.scaleN),
		Runs:  runs, Reps: bp.reps, Counts: bp.counts,
		Report: func(r Ran) (Summary, error) { return benchReport(r.Res, in) }}, nil
}

// benchReport writes bench.json, bench.txt and bench.md.
func benchReport(res *results.Results, in report.BenchInput) (Summary, error) {
	rep := report.BuildBench(res, in)
	text := report.BenchText(rep)
	if err := os.WriteFile(filepath.Join(res.Dir, "bench.md"), []byte(report.BenchMarkdown(rep, res)), 0o644); err != nil {
		return Summary{}, err
	}
	return Summary{Text: text, File: "bench.md"}, saveText(res.Dir, "bench", rep, text)
}

// benchRuns is the bench's runs, in rounds of one repetition each, which
// the campaign runs in a random order within each round; one more echo
// run per server and count is counted (the counts behind the CPU).
func benchRuns(kit plan.Kit, bp benchPlan, compared []results.ServerSpec, fork *results.ServerSpec) []runSpec {
	echoArgs := []string{"-hold", bp.hold.String(), "-duration", bp.echo.String(), "-size", "64", "-quiet"}
	holdArgs := []string{"-hold", bp.hold.String(), "-quiet"}
	// A SIGUSR1 report of the fork model sums the smaps of every child,
	// seconds for ten thousand: the hold must outlast it.
	forkHold := max(bp.hold, time.Duration(bp.forkN/2500)*time.Second)
	forkArgs := []string{"-hold", forkHold.String(), "-quiet"}
	bulkArgs := []string{"-size", "1048576", "-duration", bp.bulk.String(), "-quiet"}
	var runs []runSpec
	for rep := 1; rep <= bp.reps; rep++ {
		for _, s := range compared {
			for _, n := range bp.counts {
				runs = append(runs, runSpec{spec: s, workload: "echo", n: n, rep: rep, clientArgs: echoArgs, probe: true,
					accept: kit.Facts(s).PerConnection == "thread", time: runTime{hold: bp.hold, duration: bp.echo}})
				if rep == 1 {
					runs = append(runs, runSpec{spec: s, workload: countsWorkload, n: n, rep: rep, clientArgs: echoArgs, count: true,
						time: runTime{hold: bp.hold, duration: bp.echo}})
				}
			}
		}
		if fork != nil && rep <= bp.forkReps {
			runs = append(runs, runSpec{spec: *fork, workload: "hold", n: bp.forkN, rep: rep, clientArgs: forkArgs, probe: true,
				time: runTime{hold: forkHold}})
		}
		if rep <= bp.bulkReps {
			for _, s := range compared {
				runs = append(runs, runSpec{spec: s, workload: "bulk", n: 1, rep: rep, clientArgs: bulkArgs, time: runTime{duration: bp.bulk}})
			}
		}
	}
	runs = append(runs, engineRuns(bp, compared, echoArgs)...)
	return append(runs, runSpec{spec: compared[0], workload: "scale", n: bp.scaleN, rep: 1, clientArgs: holdArgs, cliProcs: bp.scaleClientPs, probe: true,
		time: runTime{hold: bp.hold}})
}

// notApplicable is a figure row for each model that serves a bounded
// number of connections at a time: memory per idle connection at
// thousands of connections does not exist for it, the rest wait in the
// listen backlog.
func notApplicable(kit plan.Kit) []report.BenchFigure {
	var out []report.BenchFigure
	for _, m := range kit.Models.Models {
		if !m.Bounded {
			continue
		}
		why := "serves one connection at a time"
		switch {
		case m.FDCeiling > 0:
			why = fmt.Sprintf("watches descriptors below %d only", m.FDCeiling)
		case m.Workers != "":
			why = fmt.Sprintf("serves at most -w (%d) connections at a time", m.DefaultWorkers)
		}
		s := kit.Spec(m.Name)
		out = append(out, report.BenchFigure{Server: s.Key, Label: s.Label, Note: "n/a: " + why})
	}
	return out
}

// The client's engines side by side against the epoll server, so the
// bench can say whether the instrument costs less than the servers it
// measures: closed loop at the largest count (the echo runs give the
// event loop's; these give the goroutine engine's), and an open loop of
// report.OpenRate messages/s over report.OpenConns connections with
// each engine.
func engineRuns(bp benchPlan, compared []results.ServerSpec, echoArgs []string) []runSpec {
	srv := report.EngineServer(compared)
	top := bp.counts[len(bp.counts)-1]
	open := 2 * bp.echo
	openArgs := []string{"-rate", strconv.Itoa(report.OpenRate), "-duration", open.String(), "-size", "64", "-quiet"}
	goroutine := []string{"-engine", "goroutine"}
	var runs []runSpec
	for rep := 1; rep <= bp.reps; rep++ {
		runs = append(runs,
			runSpec{spec: srv, workload: report.EchoGoroutine, n: top, rep: rep, clientArgs: append(slices.Clone(goroutine), echoArgs...),
				time: runTime{hold: bp.hold, duration: bp.echo}},
			runSpec{spec: srv, workload: report.OpenLoop, n: report.OpenConns, rep: rep, clientArgs: openArgs, time: runTime{duration: open}},
			runSpec{spec: srv, workload: report.OpenGoroutine, n: report.OpenConns, rep: rep, clientArgs: append(slices.Clone(goroutine), openArgs...),
				time: runTime{duration: open}})
	}
	return runs
}
