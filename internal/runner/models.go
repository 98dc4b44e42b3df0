package runner

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
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
		Help: "every server model: connection-per-request requests/s at concurrency 20 to 15,000, each request waiting 10 ms on a backend (DELAY=), and long-lived costs (make models)"}
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
	if o.Echo.Given {
		p.dur, p.long = o.Echo.V, o.Echo.V
	}
	if o.Hold.Given {
		p.longHold = o.Hold.V
	}
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

func (models) Run(o plan.Options, env Env, stdout, stderr io.Writer) int {
	kit, err := plan.LoadKit(o.Bin)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	sys := plan.ReadSystem()
	mp := planModels(o, env, sys)
	if len(mp.conc) == 0 {
		return fail(stderr, "precondition failed: %s", strings.Join(mp.dropped, "; "))
	}
	ps, pnotes := plan.CheckSystem(sys, slices.Max(append([]int{mp.longN}, mp.conc...)), true)
	if problems(stderr, ps) {
		return 1
	}
	var specs []results.ServerSpec
	for _, m := range order(kit.Models) {
		specs = append(specs, kit.Spec(m))
	}
	specs = append(specs, kit.GoRef())
	if env.Servers != nil {
		specs = env.Servers
	}
	var longSpecs map[string]results.ServerSpec
	return delayedRun{kind: "models", notes: append(pnotes, mp.dropped...), reps: 1, counts: mp.conc,
		run: func(c *campaign) { longSpecs = runModels(c, kit, mp, specs) },
		summary: func(dir string, res *results.Results) (string, error) {
			run := report.ModelsRun{Concurrency: mp.conc, Duration: mp.dur, Delay: mp.delay}
			return writeModels(dir, report.BuildModels(res, specs, longSpecs, run, kit.Models))
		}}.exec(o, env, kit, sys, stdout, stderr)
}

// runModels runs connection per request at every concurrency, then
// long-lived connections; it returns the flags each server ran with then.
func runModels(c *campaign, kit plan.Kit, mp modelsPlan, specs []results.ServerSpec) map[string]results.ServerSpec {
	// A collapsing model must not stall the run: every connect and round
	// trip has a 2 s deadline, all connects of the ramp are in flight at
	// once (so the ramp takes at most about one connect timeout), and the
	// cell is interrupted at its cap.
	const opTimeout = 2 * time.Second
	limit := 2*opTimeout + mp.dur + opTimeout + 6*time.Second
	total := len(specs)*len(mp.conc) + len(specs)
	k := 0
	run := func(rs runSpec) {
		k++
		rs.byThreads = kit.Facts(rs.spec).PerConnection != ""
		c.run(rs, c.progress(fmt.Sprintf("models %d/%d", k, total), rs))
	}
	fmt.Fprintf(c.stderr, "experiment: models: %d servers × concurrency %v, connection per request for %s each with -d %s, then long-lived at %d; writing %s\n",
		len(specs), mp.conc, mp.dur, delayArg(mp.delay), mp.longN, c.dir)
	for _, n := range mp.conc {
		for _, s := range specs {
			// The first half of each cell is left out of requests/s: a
			// client's first request finds its connection, and the
			// server's thread or process for it, made in the ramp.
			args := []string{"-reconnect", "-duration", mp.dur.String(), "-warmup", (mp.dur / 2).String(), "-size", "64",
				"-connect-timeout", opTimeout.String(), "-timeout", opTimeout.String(), "-dialers", strconv.Itoa(n), "-quiet"}
			run(runSpec{spec: withDelay(s, mp.delay), workload: "reconnect", n: n, rep: 1, clientArgs: args, timeout: limit})
		}
	}
	longArgs := []string{"-hold", mp.longHold.String(), "-duration", mp.long.String(), "-size", "64", "-quiet"}
	longSpecs := map[string]results.ServerSpec{}
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
		run(runSpec{spec: ls, workload: "echo", n: n, rep: 1, clientArgs: longArgs, probe: true, machine: true,
			timeout: time.Duration((30 + float64(n)/500) * float64(time.Second))})
	}
	c.meta.Workloads["echo"] = fmt.Sprintf("long-lived: `%s` (%s connections; pre-creating models with -w %d; %s)",
		strings.Join(longArgs, " "), results.Thousands(mp.longN), mp.longN, strings.Join(fewer, ", "))
	return longSpecs
}

// loadSummary reads a mode's summary file of dir into v, and the results
// of dir, for -report.
func loadSummary(dir, name string, v any) (*results.Results, error) {
	path := filepath.Join(dir, name)
	b, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return results.Load(dir)
}

// writeModels writes models.json, the plot and models.md, and returns
// the latter.
func writeModels(dir string, rep report.ModelsReport) (string, error) {
	return writeSummary(dir, "models", rep, []plots.LineFigure{report.ModelsFigure(rep)}, func(f []plots.File) string { return report.ModelsMarkdown(rep, f[0]) })
}

// Summary marks a models directory for -report.
func (models) Summary() string { return "models.json" }

// Rebuild rewrites models.json and models.md of a models directory from
// its raw data (bin/experiment -report DIR). A models.json written before
// it kept the model list takes the list from the server under -bin.
func (models) Rebuild(o plan.Options, stdout, stderr io.Writer) int {
	dir := o.Report
	var old report.ModelsReport
	res, err := loadSummary(dir, "models.json", &old)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	if len(old.ModelList.Models) == 0 {
		if old.ModelList, err = srvreport.ListModels(filepath.Join(o.Bin, "10kthreads")); err != nil {
			return fail(stderr, "%s has no model list and none could be had: %v", filepath.Join(dir, "models.json"), err)
		}
	}
	long := map[string]results.ServerSpec{}
	for _, l := range old.LongLived {
		long[l.Server] = results.ServerSpec{Key: l.Server, Args: l.Args}
	}
	run := report.ModelsRun{Concurrency: old.Concurrency, Duration: time.Duration(old.DurationS * float64(time.Second)),
		Delay: time.Duration(old.RequestDelayUS) * time.Microsecond}
	md, err := writeModels(dir, report.BuildModels(res, old.Servers, long, run, old.ModelList))
	return printed(stdout, stderr, md, err)
}
