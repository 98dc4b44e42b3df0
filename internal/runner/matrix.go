package runner

import (
	"fmt"
	"io"
	"path/filepath"
	"time"

	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/report"
	"tenkthreads/internal/runner/results"
)

// matrix is the default mode (make experiment): every server against
// the client at several connection counts and workloads.
type matrix struct{}

func (matrix) Info() plan.ModeFlag {
	return plan.ModeFlag{Usage: "[-quick | -full] [-reps N] [-counts 100,1000,10000] [-servers 10kthreads,10kthreads:epoll,ref_async_server] [-workloads hold,echo,reconnect] [-out DIR] [-bin DIR] [-no-pin | -server-cpus LIST -client-cpus LIST]"}
}

// cell is one (server, workload, connections) point of the matrix.
type cell struct {
	spec results.ServerSpec
	wl   plan.Workload
	n    int
}

// cost is a rough model of a run's seconds, only for the ETA: start and
// stop, ramp, workload.
func (c cell) cost() float64 { return 0.6 + float64(c.n)/4000 + (c.wl.Hold + c.wl.Duration).Seconds() }

func (matrix) Run(o plan.Options, env Env, stdout, stderr io.Writer) int {
	kit, specs, wls, counts, notes, code := matrixPlan(o, env, stderr)
	if code >= 0 {
		return code
	}
	var cells []cell
	for _, s := range specs {
		for _, w := range wls {
			for _, n := range counts {
				if w.MaxConns == 0 || n <= w.MaxConns {
					cells = append(cells, cell{s, w, n})
				}
			}
		}
	}
	text := campaignText{line: "finishing the current run, then writing the report of what ran", note: "the run was interrupted; the report covers only the runs that finished"}
	c, err := newCampaign(o, env, "", kit, plan.ReadSystem(), notes, text, stderr)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	defer c.close()
	c.meta.Counts, c.meta.Servers = counts, specs
	for _, w := range wls {
		c.meta.Workloads[w.Name] = w.Desc
		if e := c.meta.Calibration.SlabInfoError; w.Name == "hold" && e != "" {
			fmt.Fprintf(stderr, "experiment: note: %s; slab costs come from the Slab total of /proc/meminfo, without a breakdown by cache\n", e)
		}
	}
	c.writeMeta()
	fmt.Fprintf(stderr, "experiment: %d cells × %d reps, %d servers, counts %v, workloads %s; %s; writing %s\n",
		len(cells), o.MatrixReps(), len(specs), counts, plan.PlanNames(wls), c.meta.Pinning, c.dir)
	runCells(c, cells)
	res, err := c.finish()
	if err != nil {
		return fail(stderr, "%v", err)
	}
	if err := report.Write(res); err != nil {
		return fail(stderr, "%v", err)
	}
	fmt.Fprintf(stdout, "\n%s\n", report.Answer(res.Cells))
	fmt.Fprintf(stdout, "\n%s", report.SummaryTable(res.Cells))
	if cl := report.CheckLines(res.Runs); cl != "" {
		fmt.Fprintf(stdout, "\n%s", cl)
	}
	if it := report.Interference(res.Runs); it != "" {
		fmt.Fprintf(stdout, "\n%s\n", it)
	}
	bad := 0
	for _, r := range res.Runs {
		if r.Status != results.StatusOK {
			bad++
		}
	}
	if bad > 0 {
		fmt.Fprintf(stdout, "\n%d of %d runs did not end cleanly (see \"Runs that did not end cleanly\" in the report)\n", bad, len(res.Runs))
	}
	fmt.Fprintf(stdout, "\nfinished in %s; report: %s\n", fmtDuration(time.Since(c.started)), filepath.Join(c.dir, "report.md"))
	return c.status()
}

// matrixPlan is the servers, workloads and counts to run, with the notes
// for the report; code is the exit status when nothing can run, else -1.
func matrixPlan(o plan.Options, env Env, stderr io.Writer) (kit plan.Kit, specs []results.ServerSpec, wls []plan.Workload, counts []int, notes []string, code int) {
	kit, err := plan.LoadKit(o.Bin)
	if err != nil {
		return kit, nil, nil, nil, nil, fail(stderr, "%v", err)
	}
	specs = env.Servers
	if specs == nil {
		specs, notes, err = kit.MatrixServers(o.Servers)
		if ue, ok := err.(plan.UsageError); ok {
			fmt.Fprintf(stderr, "experiment: %s\n%s\n", ue.Msg, plan.UsageLine(modeFlags()))
			return kit, nil, nil, nil, nil, 2
		}
	}
	wls = plan.Workloads(o)
	sys := plan.ReadSystem()
	counts, dropped := plan.MatrixCounts(o, sys)
	for _, msg := range dropped {
		fmt.Fprintln(stderr, "experiment: "+msg)
		notes = append(notes, msg)
	}
	if len(counts) == 0 {
		return kit, nil, nil, nil, nil, fail(stderr, "precondition failed: the open-file hard limit %d is too small for any connection count; raise it as root with `ulimit -Hn 20000`", sys.FDHard)
	}
	threaded := false
	for _, s := range specs {
		threaded = threaded || plan.Threaded(kit.Facts(s))
	}
	ps, pnotes := plan.CheckSystem(sys, counts[len(counts)-1], threaded)
	notes = append(notes, pnotes...)
	if problems(stderr, ps) {
		return kit, nil, nil, nil, nil, 1
	}
	for _, n := range pnotes {
		fmt.Fprintln(stderr, "experiment: note: "+n)
	}
	return kit, specs, wls, counts, notes, -1
}

// runCells runs every cell o.Reps times, with a progress line and an ETA.
func runCells(c *campaign, cells []cell) {
	var total, done float64
	for _, cl := range cells {
		total += cl.cost() * float64(c.o.MatrixReps())
	}
	for ci, cl := range cells {
		for rep := 1; rep <= c.o.MatrixReps(); rep++ {
			el := time.Since(c.started)
			eta := "~" + fmtDuration(time.Duration(total*float64(time.Second)))
			if done > 0 {
				eta = fmtDuration(time.Duration(float64(el) / done * (total - done)))
			}
			line := fmt.Sprintf("[cell %d/%d] %-28s %-9s %6d conns  rep %d/%d  elapsed %s  ETA %s",
				ci+1, len(cells), cl.spec.Label, cl.wl.Name, cl.n, rep, c.o.MatrixReps(), fmtDuration(el), eta)
			timeout := time.Duration((30 + (cl.wl.Hold+cl.wl.Duration).Seconds()*3 + float64(cl.n)/200) * float64(time.Second))
			rs := runSpec{spec: cl.spec, workload: cl.wl.Name, n: cl.n, rep: rep, clientArgs: cl.wl.Args, timeout: timeout, machine: cl.wl.Name == "hold"}
			if c.run(rs, line) == nil {
				return
			}
			done += cl.cost()
		}
	}
}
