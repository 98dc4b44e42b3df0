package runner

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/plots"
	"tenkthreads/internal/runner/report"
	"tenkthreads/internal/runner/results"
	"tenkthreads/internal/srvreport"
)

// models reproduces the seed article's table (make models): every
// server model, a new connection per request, each request waiting on a
// backend, at concurrency 20 to 15,000; then each model's costs with
// long-lived connections.
type models struct{ delayed }

func (models) Info() plan.ModeFlag {
	return plan.ModeFlag{Name: "models", Usage: "-models [-quick]",
		Help:  "every server model: connection-per-request requests/s at concurrency 20 to 15,000, each request waiting 10 ms on a backend (DELAY=), and long-lived costs (make models)",
		Flags: []string{"quick", "counts", "hold", "duration"}}
}

// modelsPlan is the run's sizes.
type modelsPlan struct {
	conc           []int
	dur            time.Duration // -duration of each connection-per-request cell
	delay          time.Duration // -d of every server in those cells
	longN          int
	longHold, long time.Duration
	dropped        []string // default concurrencies the fd limit leaves out
}

func planModels(o plan.Options, env Env, sys plan.System) modelsPlan {
	// The long-lived hold is 3 s: the machine record's peak snapshot
	// reads the footprint of every server process while the client holds
	// its connections, about 2 s for the 1,001 processes of a
	// pre-forking model with -w 1000.
	p := modelsPlan{conc: []int{20, 100, 200, 500, 1000, 2000, 5000, 10000, 15000}, dur: time.Second, longN: 1000,
		longHold: 3 * time.Second, long: time.Second}
	if o.Quick {
		p.conc, p.dur, p.longN = []int{20, 200, 2000}, 500*time.Millisecond, 100
	}
	p.delay, _ = delayOf(env)
	if env.Concurrency != nil {
		p.conc = env.Concurrency
	} else {
		var keep []int
		for _, n := range p.conc {
			if n <= sys.MaxConnsForFD() {
				keep = append(keep, n)
				continue
			}
			p.dropped = append(p.dropped, fmt.Sprintf("concurrency %s left out: the open-file hard limit %d leaves room for %s connections per process", results.Thousands(n), sys.FDHard, results.Thousands(sys.MaxConnsForFD())))
		}
		p.conc = keep
	}
	if o.Counts.Given {
		p.longN = o.Counts.V[len(o.Counts.V)-1]
	}
	p.dur, p.long, p.longHold = o.Echo.Or(p.dur), o.Echo.Or(p.long), o.Hold.Or(p.longHold)
	return p
}

// order sorts the models as the seed articles do, simplest design first:
// one connection at a time, then processes, then threads, then event
// loops, a unit per connection before pre-created ones. Other names for a
// model are not run twice.
func order(l srvreport.ModelList) []string {
	rank := func(m srvreport.Model) int {
		switch {
		case m.OneAtATime():
			return 0
		case m.Processes:
			return 1
		case m.Workers == "event loops", m.FDCeiling > 0:
			// select is an event loop too, one that takes no -w.
			return 3
		}
		return 2
	}
	var ms []srvreport.Model
	for _, m := range l.Models {
		if m.SameAs == "" {
			ms = append(ms, m)
		}
	}
	slices.SortStableFunc(ms, func(a, b srvreport.Model) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return btoi(a.PerConnection == "") - btoi(b.PerConnection == "")
	})
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Plan runs connection per request at every concurrency, then
// long-lived connections, with every server the kit has.
func (models) Plan(s Setup) (*Plan, error) {
	mp := planModels(s.O, s.Env, s.Sys)
	if len(mp.conc) == 0 {
		return nil, preconditionFailed(mp.dropped, "")
	}
	top := slices.Max(append([]int{mp.longN}, mp.conc...))
	rows, notes := plan.CheckSystem(s.Sys, top, true)
	var specs []results.ServerSpec
	for _, m := range order(s.Kit.Models) {
		specs = append(specs, s.Kit.Spec(m))
	}
	specs = append(specs, s.Kit.GoRef())
	if s.Env.Servers != nil {
		specs = s.Env.Servers
	}
	long, longSpecs, desc := longRuns(s.Kit, mp, specs)
	return &Plan{Kind: "models", Checks: Checks{Conns: top, Rows: rows}, Notes: append(notes, mp.dropped...),
		Intro: fmt.Sprintf("models: %d servers × concurrency %v, connection per request for %s each with -d %s, then long-lived at %d",
			len(specs), mp.conc, mp.dur, delayArg(mp.delay), mp.longN),
		Runs: append(reconnectRuns(mp, specs), long...), Reps: 1, Counts: mp.conc,
		Workloads: map[string]string{"echo": desc}, Command: reproWithDelay(s.O, s.Env),
		Report: func(r Ran) (Summary, error) {
			run := report.ModelsRun{Concurrency: mp.conc, Duration: mp.dur, Delay: mp.delay}
			return writeModels(r.Res.Dir, report.BuildModels(r.Res, specs, longSpecs, run, s.Kit.Models))
		}}, nil
}

// reconnectRuns is a connection per request at every concurrency, each
// server in turn.
func reconnectRuns(mp modelsPlan, specs []results.ServerSpec) []runSpec {
	// A collapsing model must not stall the run: every connect and round
	// trip has a 2 s deadline, and all connects of the ramp are in flight
	// at once.
	const opTimeout = 2 * time.Second
	var runs []runSpec
	for _, n := range mp.conc {
		for _, s := range specs {
			// The first half of each cell is left out of requests/s: a
			// client's first request finds its connection, and the
			// server's thread or process for it, made in the ramp.
			args := []string{"-reconnect", "-duration", mp.dur.String(), "-warmup", (mp.dur / 2).String(), "-size", "64",
				"-connect-timeout", opTimeout.String(), "-timeout", opTimeout.String(), "-dialers", strconv.Itoa(n), "-quiet"}
			runs = append(runs, runSpec{spec: withDelay(s, mp.delay), workload: "reconnect", n: n, rep: 1, clientArgs: args,
				time: runTime{duration: mp.dur, wait: opTimeout}})
		}
	}
	return runs
}

// longRuns is each server holding long-lived connections; it returns
// the flags each server runs with then, and what the workload is.
func longRuns(kit plan.Kit, mp modelsPlan, specs []results.ServerSpec) ([]runSpec, map[string]results.ServerSpec, string) {
	longArgs := []string{"-hold", mp.longHold.String(), "-duration", mp.long.String(), "-size", "64", "-quiet"}
	longSpecs := map[string]results.ServerSpec{}
	var runs []runSpec
	var fewer []string // the models held at fewer connections, and why
	for _, s := range specs {
		n := mp.longN
		ls := s
		ls.Args = append([]string{}, s.Args...)
		// Pre-creating models get one worker per connection, since with
		// fewer the rest would only wait; a model serving one connection
		// at a time gets one, select what its descriptor ceiling allows
		// beside the listener, stdio and its own descriptors.
		f := kit.Facts(s)
		switch {
		case f.OneAtATime():
			n = 1
			fewer = append(fewer, s.Model+" with 1")
		case f.FDCeiling > 0 && n > f.FDCeiling-24:
			n = f.FDCeiling - 24
			fewer = append(fewer, fmt.Sprintf("%s with %d", s.Model, n))
		case plan.PreCreates(f):
			ls.Args = append(ls.Args, "-w", strconv.Itoa(n))
		}
		longSpecs[s.Key] = ls
		// The machine record's snapshots fall in the hold, which the run
		// has anyway: the parts cost no more time than reading /proc.
		runs = append(runs, runSpec{spec: ls, workload: "echo", n: n, rep: 1, clientArgs: longArgs, probe: true, machine: true,
			time: runTime{hold: mp.longHold, duration: mp.long}})
	}
	desc := fmt.Sprintf("long-lived: `%s` (%s connections; pre-creating models with -w %d; %s)",
		strings.Join(longArgs, " "), results.Thousands(mp.longN), mp.longN, strings.Join(fewer, ", "))
	return runs, longSpecs, desc
}

// writeModels writes models.json, the plot and models.md, the summary.
func writeModels(dir string, rep report.ModelsReport) (Summary, error) {
	return writeSummary(dir, "models", rep, []plots.LineFigure{report.ModelsFigure(rep)}, func(f []plots.File) string { return report.ModelsMarkdown(rep, f[0]) })
}

// SummaryFile marks a models directory for -report.
func (models) SummaryFile() string { return "models.json" }

// Rebuild rewrites models.json and models.md of a models directory from
// its raw data (bin/experiment -report DIR). A models.json written before
// it kept the model list takes the list from the server under -bin.
func (models) Rebuild(res *results.Results, o plan.Options) (Summary, error) {
	var old report.ModelsReport
	path := filepath.Join(res.Dir, "models.json")
	if err := readJSON(path, &old); err != nil {
		return Summary{}, err
	}
	if len(old.ModelList.Models) == 0 {
		var err error
		if old.ModelList, err = srvreport.ListModels(filepath.Join(o.Bin, "10kthreads")); err != nil {
			return Summary{}, fmt.Errorf("%s has no model list and none could be had: %v", path, err)
		}
	}
	long := map[string]results.ServerSpec{}
	for _, l := range old.LongLived {
		long[l.Server] = results.ServerSpec{Key: l.Server, Args: l.Args}
	}
	run := report.ModelsRun{Concurrency: old.Concurrency, Duration: time.Duration(old.DurationS * float64(time.Second)),
		Delay: time.Duration(old.RequestDelayUS) * time.Microsecond}
	return writeModels(res.Dir, report.BuildModels(res, old.Servers, long, run, old.ModelList))
}
