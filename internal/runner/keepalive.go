package runner

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/plots"
	"tenkthreads/internal/runner/report"
	"tenkthreads/internal/runner/results"
)

// keepalive is the keep-alive question of the seeds (make keepalive): a
// pool of 4 workers that keeps a worker per connection, and an event loop
// that hands a worker only to a connection with a request, each serving
// active connections beside many idle keep-alive ones.
type keepalive struct{ delayed }

func (keepalive) Info() plan.ModeFlag {
	return plan.ModeFlag{Name: "keepalive", Usage: "-keepalive [-quick]",
		Help:  "the keep-alive question: pool -w 4 and dispatch -w 4, with thread, epoll and Go for scale, serving 100 active connections beside 100 and 1,000 idle keep-alive ones, with and without a 10 ms request delay (DELAY=): requests/s, p99, starved connections (make keepalive)",
		Flags: []string{"quick", "reps", "counts", "duration"}}
}

// keepaliveWorkers is the pools' -w: the question's four worker threads.
const keepaliveWorkers = 4

// keepalivePlan is the run's sizes.
type keepalivePlan struct {
	active int
	idle   []int
	delays []time.Duration
	dur    time.Duration
	// timeout is the deadline of a round trip without a delay; see
	// deadline.
	timeout time.Duration
	reps    int
}

// deadline is the deadline of a round trip with idle connections and a
// request delay d: the idle connections all send at the end, and 4
// workers that each wait d per request take idle × d / 4 to echo them
// all (2.5 s for 1,000 at 10 ms). A starved connection waits it out.
func (p keepalivePlan) deadline(idle int, d time.Duration) time.Duration {
	return p.timeout + time.Duration(idle)*d/keepaliveWorkers
}

func planKeepAlive(o plan.Options, env Env) keepalivePlan {
	p := keepalivePlan{active: 100, idle: []int{100, 1000}, dur: 2 * time.Second, timeout: 2 * time.Second, reps: 1}
	if o.Quick {
		p.dur, p.timeout = 500*time.Millisecond, time.Second
	}
	p.idle, p.dur, p.reps = o.Counts.Or(p.idle), o.Echo.Or(p.dur), o.Reps.Or(p.reps)
	p.delays = []time.Duration{0}
	if d, _ := delayOf(env); d > 0 {
		p.delays = append(p.delays, d)
	}
	return p
}

// keepaliveServers is the pool and dispatch models with -w 4, then the
// thread and epoll models and the Go reference for scale: those the kit
// has.
func keepaliveServers(kit plan.Kit) []results.ServerSpec {
	var out []results.ServerSpec
	w := strconv.Itoa(keepaliveWorkers)
	for _, m := range []string{"pool", "dispatch"} {
		if _, ok := kit.Models.Get(m); ok {
			s := kit.Spec(m)
			s.Key += "-w" + w
			s.Label = "10kthreads (" + m + " -w " + w + ")"
			s.Args = append(s.Args, "-w", w)
			out = append(out, s)
		}
	}
	for _, m := range []string{"thread", "epoll"} {
		if _, ok := kit.Models.Get(m); ok {
			out = append(out, kit.Spec(m))
		}
	}
	return append(out, kit.GoRef())
}

// Plan runs every server with each number of idle connections, without
// and with the delay.
func (keepalive) Plan(s Setup) (*Plan, error) {
	kp := planKeepAlive(s.O, s.Env)
	top := 0
	for _, n := range kp.idle {
		top = max(top, kp.active+n)
	}
	rows, notes := plan.CheckSystem(s.Sys, top, true)
	specs := keepaliveServers(s.Kit)
	if s.Env.Servers != nil {
		specs = s.Env.Servers
	}
	runs, descs := keepaliveRuns(kp, specs)
	return &Plan{Kind: "keepalive", Checks: Checks{Conns: top, Rows: rows}, Notes: notes,
		Intro: fmt.Sprintf("keepalive: %d runs: %d servers × idle %v × -d %v, %d active connections for %s each",
			len(runs), len(specs), kp.idle, kp.delays, kp.active, kp.dur),
		Runs: runs, Reps: kp.reps, Counts: kp.idle, Workloads: descs, Command: reproWithDelay(s.O, s.Env),
		Report: func(r Ran) (Summary, error) {
			rep := report.KeepAliveReport{Active: kp.active, Workers: keepaliveWorkers, Idle: kp.idle, DurationS: kp.dur.Seconds(), TimeoutS: kp.timeout.Seconds(), Servers: specs}
			for _, d := range kp.delays {
				rep.DelaysUS = append(rep.DelaysUS, d.Microseconds())
			}
			return writeKeepAlive(r.Res.Dir, report.BuildKeepAlive(r.Res, rep))
		}}, nil
}

// keepaliveRuns is every server with each number of idle connections,
// without and with the delay, and what each workload is.
func keepaliveRuns(kp keepalivePlan, specs []results.ServerSpec) ([]runSpec, map[string]string) {
	var runs []runSpec
	descs := map[string]string{}
	for rep := 1; rep <= kp.reps; rep++ {
		for _, d := range kp.delays {
			for _, idle := range kp.idle {
				wl := report.KeepAliveWorkload(idle, d.Microseconds())
				tmo := kp.deadline(idle, d)
				args := []string{"-idle", strconv.Itoa(idle), "-duration", kp.dur.String(), "-size", "64",
					"-connect-timeout", kp.timeout.String(), "-timeout", tmo.String(), "-quiet"}
				descs[wl] = fmt.Sprintf("`%s`: %d idle keep-alive connections opened first, beside %d active ones; servers with -d %s",
					strings.Join(args, " "), idle, kp.active, delayArg(d))
				for _, s := range specs {
					// Starved connections wait out their round trip's
					// deadline, and the idle ones that were never served
					// theirs again at the end.
					runs = append(runs, runSpec{spec: withDelay(s, d), workload: wl, n: kp.active, rep: rep, clientArgs: args,
						time: runTime{conns: kp.active + idle, duration: kp.dur, wait: kp.timeout + 2*tmo}})
				}
			}
		}
	}
	return runs, descs
}

// writeKeepAlive writes keepalive.json, the plots and keepalive.md, the
// summary.
func writeKeepAlive(dir string, rep report.KeepAliveReport) (Summary, error) {
	return writeSummary(dir, "keepalive", rep, report.KeepAliveFigures(rep), func(f []plots.File) string { return report.KeepAliveMarkdown(rep, f) })
}

// SummaryFile marks a keepalive directory for -report.
func (keepalive) SummaryFile() string { return "keepalive.json" }

// Rebuild rewrites keepalive.json, its plots and keepalive.md from the
// raw data of a keepalive directory (bin/experiment -report DIR).
func (keepalive) Rebuild(res *results.Results, _ plan.Options) (Summary, error) {
	return rebuildFrom(res, "keepalive", func(dir string, old report.KeepAliveReport) (Summary, error) {
		return writeKeepAlive(dir, report.BuildKeepAlive(res, old))
	})
}
