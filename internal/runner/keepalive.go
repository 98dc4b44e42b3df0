package runner

import (
	"fmt"
	"io"
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
		Help: "the keep-alive question: pool -w 4 and dispatch -w 4, with thread, epoll and Go for scale, serving 100 active connections beside 100 and 1,000 idle keep-alive ones, with and without a 10 ms request delay (DELAY=): requests/s, p99, starved connections (make keepalive)"}
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
	if o.Counts.Given {
		p.idle = o.Counts.V
	}
	if o.Echo.Given {
		p.dur = o.Echo.V
	}
	if o.Reps.Given {
		p.reps = o.Reps.V
	}
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

func (keepalive) Run(o plan.Options, env Env, stdout, stderr io.Writer) int {
	kit, err := plan.LoadKit(o.Bin)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	kp := planKeepAlive(o, env)
	sys := plan.ReadSystem()
	top := 0
	for _, n := range kp.idle {
		top = max(top, kp.active+n)
	}
	ps, pnotes := plan.CheckSystem(sys, top, true)
	if problems(stderr, ps) {
		return 1
	}
	specs := keepaliveServers(kit)
	if env.Servers != nil {
		specs = env.Servers
	}
	return delayedRun{kind: "keepalive", notes: pnotes, reps: kp.reps, counts: kp.idle,
		run: func(c *campaign) { runKeepAlive(c, kp, specs) },
		summary: func(dir string, res *results.Results) (string, error) {
			rep := report.KeepAliveReport{Active: kp.active, Workers: keepaliveWorkers, Idle: kp.idle, DurationS: kp.dur.Seconds(), TimeoutS: kp.timeout.Seconds(), Servers: specs}
			for _, d := range kp.delays {
				rep.DelaysUS = append(rep.DelaysUS, d.Microseconds())
			}
			return writeKeepAlive(dir, report.BuildKeepAlive(res, rep))
		}}.exec(o, env, kit, sys, stdout, stderr)
}

// runKeepAlive runs every server with each number of idle connections,
// without and with the delay.
func runKeepAlive(c *campaign, kp keepalivePlan, specs []results.ServerSpec) {
	total := kp.reps * len(kp.delays) * len(kp.idle) * len(specs)
	fmt.Fprintf(c.stderr, "experiment: keepalive: %d runs: %d servers × idle %v × -d %v, %d active connections for %s each; writing %s\n",
		total, len(specs), kp.idle, kp.delays, kp.active, kp.dur, c.dir)
	k := 0
	for rep := 1; rep <= kp.reps; rep++ {
		for _, d := range kp.delays {
			for _, idle := range kp.idle {
				wl := report.KeepAliveWorkload(idle, d.Microseconds())
				tmo := kp.deadline(idle, d)
				args := []string{"-idle", strconv.Itoa(idle), "-duration", kp.dur.String(), "-size", "64",
					"-connect-timeout", kp.timeout.String(), "-timeout", tmo.String(), "-quiet"}
				c.meta.Workloads[wl] = fmt.Sprintf("`%s`: %d idle keep-alive connections opened first, beside %d active ones; servers with -d %s",
					strings.Join(args, " "), idle, kp.active, delayArg(d))
				for _, s := range specs {
					k++
					// Starved connections wait out their round trip's
					// deadline, and the idle ones that were never served
					// theirs again at the end.
					limit := kp.dur + kp.timeout + 2*tmo + 20*time.Second
					rs := runSpec{spec: withDelay(s, d), workload: wl, n: kp.active, rep: rep, clientArgs: args, timeout: limit}
					if c.run(rs, c.progress(fmt.Sprintf("keepalive %d/%d", k, total), rs)) == nil {
						return
					}
				}
			}
		}
	}
}

// writeKeepAlive writes keepalive.json, the plot and keepalive.md, and
// returns the latter.
func writeKeepAlive(dir string, rep report.KeepAliveReport) (string, error) {
	return writeSummary(dir, "keepalive", rep, report.KeepAliveFigures(rep), func(f []plots.File) string { return report.KeepAliveMarkdown(rep, f) })
}

// Summary marks a keepalive directory for -report.
func (keepalive) Summary() string { return "keepalive.json" }

// Rebuild rewrites keepalive.json, its plot and keepalive.md from the raw
// data of a keepalive directory (bin/experiment -report DIR).
func (keepalive) Rebuild(o plan.Options, stdout, stderr io.Writer) int {
	dir := o.Report
	var old report.KeepAliveReport
	res, err := loadSummary(dir, "keepalive.json", &old)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	md, err := writeKeepAlive(dir, report.BuildKeepAlive(res, old))
	return printed(stdout, stderr, md, err)
}
