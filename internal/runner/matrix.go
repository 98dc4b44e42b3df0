package runner

import (
	"fmt"
	"strings"

	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/report"
	"tenkthreads/internal/runner/results"
)

// matrix is the default mode (make experiment): every server against
// the client at several connection counts and workloads.
type matrix struct{ noCheck }

func (matrix) Info() plan.ModeFlag {
	return plan.ModeFlag{Usage: "[-quick | -full] [-reps N] [-counts 100,1000,10000] [-servers 10kthreads,10kthreads:epoll,ref_async_server] [-workloads hold,echo,reconnect] [-out DIR] [-bin DIR] [-no-pin | -server-cpus LIST -client-cpus LIST]",
		Flags: []string{"quick", "full", "reps", "counts", "servers", "workloads", "hold", "duration"}}
}

// Plan runs every (server, workload, connections) cell -reps times, cell
// after cell.
func (matrix) Plan(s Setup) (*Plan, error) {
	o := s.O
	specs, notes, err := matrixServers(s)
	if err != nil {
		return nil, err
	}
	wls := plan.Workloads(o)
	counts, dropped := plan.MatrixCounts(o, s.Sys)
	notes = append(notes, dropped...)
	if len(counts) == 0 {
		return nil, preconditionFailed([]string{fmt.Sprintf("the open-file hard limit %d is too small for any connection count; raise it as root with `ulimit -Hn 20000`", s.Sys.FDHard)}, "")
	}
	threaded := false
	for _, sp := range specs {
		threaded = threaded || plan.Threaded(s.Kit.Facts(sp))
	}
	rows, cnotes := plan.CheckSystem(s.Sys, counts[len(counts)-1], threaded)
	reps, cells := o.MatrixReps(), 0
	p := &Plan{Checks: Checks{Conns: counts[len(counts)-1], Rows: rows}, Notes: append(notes, cnotes...), Reps: reps,
		Counts: counts, Servers: specs, Workloads: map[string]string{}, Report: matrixReport, Interleave: true, Retry: true}
	for _, sp := range specs {
		for _, w := range wls {
			p.Workloads[w.Name] = w.Desc
			for _, n := range w.Counts(counts) {
				cells++
				for rep := 1; rep <= reps; rep++ {
					p.Runs = append(p.Runs, runSpec{spec: sp, workload: w.Name, n: n, rep: rep, clientArgs: w.Args,
						time: runTime{hold: w.Hold, duration: w.Duration}, machine: w.Name == "hold"})
				}
				if w.Name == "echo" {
					p.Runs = append(p.Runs, countedRun(sp, w, n))
				}
			}
		}
	}
	if len(p.Runs) > cells*reps {
		p.Workloads[countsWorkload] = countsDesc
	}
	p.Intro = fmt.Sprintf("%d cells × %d reps, %d servers, counts %v, workloads %s", cells, reps, len(specs), counts, plan.PlanNames(wls))
	return p, nil
}

// countsWorkload is the echo workload run once more per cell with the
// kernel's counters on the server: the counts behind its CPU. A run of its
// own, so that the counters' own cost stays out of the timed runs.
const countsWorkload = "counts"

const countsDesc = "the echo workload once more, with perf_event_open counting the server's context switches, system calls, migrations and page faults (and cycles and instructions where the machine has hardware counters)"

// countedRun is echo workload w at n connections on sp, counted.
func countedRun(sp results.ServerSpec, w plan.Workload, n int) runSpec {
	return runSpec{spec: sp, workload: countsWorkload, n: n, rep: 1, clientArgs: w.Args, count: true,
		time: runTime{hold: w.Hold, duration: w.Duration}}
}

// matrixServers is the servers of -servers, or the default matrix's,
// with a note on the models it leaves out.
func matrixServers(s Setup) ([]results.ServerSpec, []string, error) {
	if s.Env.Servers != nil {
		return s.Env.Servers, nil, nil
	}
	return s.Kit.MatrixServers(s.O.Servers)
}

// matrixReport is the answer, the summary table and the machine checks
// on the terminal, over the standard report.
func matrixReport(r Ran) (Summary, error) {
	res := r.Res
	var b strings.Builder
	fmt.Fprintf(&b, "\n%s\n", report.Answer(res.Cells))
	fmt.Fprintf(&b, "\n%s", report.SummaryTable(res.Cells))
	if cl := report.CheckLines(res.Runs); cl != "" {
		fmt.Fprintf(&b, "\n%s", cl)
	}
	if it := report.Interference(res.Runs); it != "" {
		fmt.Fprintf(&b, "\n%s\n", it)
	}
	bad := 0
	for _, r := range res.Runs {
		if r.Status != results.StatusOK {
			bad++
		}
	}
	if bad > 0 {
		fmt.Fprintf(&b, "\n%d of %d runs did not end cleanly (see \"Runs that did not end cleanly\" in the report)\n", bad, len(res.Runs))
	}
	return Summary{Text: b.String(), Markdown: true}, nil
}
