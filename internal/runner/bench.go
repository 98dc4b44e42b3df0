package runner

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/report"
	"tenkthreads/internal/runner/results"
)

// bench is the fixed benchmark of the performance targets (make bench).
type bench struct{}

func (bench) Info() plan.ModeFlag {
	return plan.ModeFlag{Name: "bench", Usage: "-bench [-quick]",
		Help: "the performance targets: memory, CPU per round trip, accept rate, large transfers, scale (make bench)"}
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
	p := benchPlan{counts: []int{100, 1000, 10000}, reps: 3, hold: time.Second, echo: time.Second,
		bulk: 3 * time.Second, bulkReps: 3, forkN: 10000, forkReps: 2}
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
	if o.Hold.Given {
		p.hold = o.Hold.V
	}
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

func (bench) Run(o plan.Options, env Env, stdout, stderr io.Writer) int {
	kit, err := plan.LoadKit(o.Bin)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	sys := plan.ReadSystem()
	bp := planBench(o, sys)
	ps, pnotes := plan.CheckSystem(sys, max(bp.counts[len(bp.counts)-1], bp.scaleN, bp.forkN), true)
	if problems(stderr, ps) {
		return 1
	}
	compared := kit.Compared()
	var fork *results.ServerSpec
	if env.Servers != nil {
		compared = env.Servers
	} else if _, ok := kit.Models.Get("fork"); ok {
		f := kit.Spec("fork")
		fork = &f
	}
	c, err := newCampaign(o, env, "bench", kit, sys, nil, defaultText, stderr)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	defer c.close()
	c.meta.Notes = append(c.meta.Notes, pnotes...)
	c.meta.Reps, c.meta.Counts = bp.reps, bp.counts
	runBench(c, kit, bp, compared, fork)
	res, err := c.finish()
	if err != nil {
		return fail(stderr, "%v", err)
	}
	rep := report.BuildBench(res, report.BenchInput{Counts: bp.counts, Reps: bp.reps, ForkN: bp.forkN, ScaleN: bp.scaleN,
		ScaleFit: bp.scaleFit, Compared: compared, Fork: fork, NotApplicable: notApplicable(kit)})
	if err := results.WriteJSON(filepath.Join(c.dir, "bench.json"), rep); err != nil {
		return fail(stderr, "%v", err)
	}
	_ = report.WriteCSV(filepath.Join(c.dir, "results.csv"), res.Cells)
	text := report.BenchText(rep)
	_ = os.WriteFile(filepath.Join(c.dir, "bench.txt"), []byte(text), 0o644)
	fmt.Fprint(stdout, text)
	fmt.Fprintf(stdout, "\nfinished in %s; %s\n", fmtDuration(time.Since(c.started)), filepath.Join(c.dir, "bench.json"))
	return c.status()
}

// runBench runs the bench's runs. Repetitions are outermost, so a burst of
// interference from other processes hits one repetition of every server,
// not every repetition of one.
func runBench(c *campaign, kit plan.Kit, bp benchPlan, compared []results.ServerSpec, fork *results.ServerSpec) {
	echoArgs := []string{"-hold", bp.hold.String(), "-duration", bp.echo.String(), "-size", "64", "-quiet"}
	holdArgs := []string{"-hold", bp.hold.String(), "-quiet"}
	// A SIGUSR1 report of the fork model sums the smaps of every child,
	// seconds for ten thousand: the hold must outlast it.
	forkHold := max(bp.hold, time.Duration(bp.forkN/2500)*time.Second)
	forkArgs := []string{"-hold", forkHold.String(), "-quiet"}
	bulkArgs := []string{"-size", "1048576", "-duration", bp.bulk.String(), "-quiet"}
	tmo := func(n int, secs float64) time.Duration {
		return time.Duration((20 + secs*2 + float64(n)/1000) * float64(time.Second))
	}
	total := bp.reps*len(compared)*len(bp.counts) + bp.bulkReps*len(compared) + 1
	if fork != nil {
		total += bp.forkReps
	}
	k := 0
	run := func(rs runSpec) {
		k++
		f := kit.Facts(rs.spec)
		rs.byThreads = f.PerConnection != ""
		c.run(rs, c.progress(fmt.Sprintf("bench %d/%d", k, total), rs))
	}
	fmt.Fprintf(c.stderr, "experiment: bench: %d runs (counts %v × %d reps, large transfers, fork at %d, scale at %d); writing %s\n",
		total, bp.counts, bp.reps, bp.forkN, bp.scaleN, c.dir)
	for rep := 1; rep <= bp.reps; rep++ {
		for _, s := range compared {
			for _, n := range bp.counts {
				run(runSpec{spec: s, workload: "echo", n: n, rep: rep, clientArgs: echoArgs, probe: true,
					accept: kit.Facts(s).PerConnection == "thread", timeout: tmo(n, bp.hold.Seconds()+bp.echo.Seconds())})
			}
		}
		if fork != nil && rep <= bp.forkReps {
			run(runSpec{spec: *fork, workload: "hold", n: bp.forkN, rep: rep, clientArgs: forkArgs, probe: true,
				timeout: tmo(bp.forkN*3, forkHold.Seconds())})
		}
		if rep <= bp.bulkReps {
			for _, s := range compared {
				run(runSpec{spec: s, workload: "bulk", n: 1, rep: rep, clientArgs: bulkArgs, timeout: tmo(1, bp.bulk.Seconds())})
			}
		}
	}
	run(runSpec{spec: compared[0], workload: "scale", n: bp.scaleN, rep: 1, clientArgs: holdArgs, cliProcs: bp.scaleClientPs, probe: true,
		timeout: tmo(bp.scaleN, bp.hold.Seconds())})
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
