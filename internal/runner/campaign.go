package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/proc"
	"tenkthreads/internal/runner/report"
	"tenkthreads/internal/runner/results"
)

// serverStartTimeout is how long a server may take to print its start line.
const serverStartTimeout = 10 * time.Second

// runCampaign is the one routine every mode runs through: load the kit,
// let the mode plan, check the machine, open the results directory,
// raise what -tune must, run the plan (stopping after the current run
// at SIGINT or SIGTERM), restore, write what ran and the mode's report,
// and say where it is. An interrupt exits 130 once all that is done.
func runCampaign(m Mode, o plan.Options, env Env, stdout, stderr io.Writer) error {
	kit, err := plan.LoadKit(o.Bin)
	if err != nil {
		return err
	}
	// Until the campaign listens for interrupts itself, one during the
	// topology's setup cancels it, and the deferred close still runs.
	setup, stopSetup := context.WithCancel(context.Background())
	if env.Interrupt == nil {
		setup, stopSetup = signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	}
	defer stopSetup()
	topo, err := openTopology(setup, o, kit, stderr)
	if err != nil {
		return err
	}
	// Every remote process and file, every namespace, on every way out.
	defer func() {
		if err := topo.close(); err != nil {
			fmt.Fprintf(stderr, "experiment: %v\n", err)
		}
	}()
	sys := plan.ReadSystem()
	if topo.sys != nil {
		sys = *topo.sys
	}
	p, err := m.Plan(Setup{O: o, Env: env, Kit: kit, Sys: sys})
	if err != nil {
		return err
	}
	topo.overVeth(p)
	if err := topo.checkClients(p.Checks.Conns); err != nil {
		return err
	}
	if p.Cleanup != nil {
		defer p.Cleanup()
	}
	short, err := check(p, o, stderr)
	if err != nil {
		return err
	}
	c, err := open(p, o, env, kit, sys, topo, stderr)
	if err != nil {
		return err
	}
	if setup.Err() != nil {
		c.stop.Store(true)
	}
	stopSetup()
	// Restores on every way out: the normal end, an error, a panic.
	defer c.close()
	if err := c.tune(short); err != nil {
		return fmt.Errorf("-tune: %v (nothing was run)", err)
	}
	if err := c.runPlan(); err != nil {
		return err
	}
	c.restore()
	res, err := c.finish()
	if err != nil {
		return err
	}
	sum, err := p.Report(Ran{Res: res, Started: c.started})
	if err != nil {
		return err
	}
	path, err := publish(res, sum, stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nfinished in %s; report: %s\n", fmtDuration(time.Since(c.started)), path)
	if c.interrupted() {
		return interrupted(len(c.runs), c.dir)
	}
	return sum.Verdict
}

// check prints the plan's checks and notes and says what -tune must
// raise, or why the campaign cannot run; -tune needs root either way.
func check(p *Plan, o plan.Options, stderr io.Writer) ([]results.Precond, error) {
	if rows := p.Checks.Rows; len(rows) > 0 {
		fmt.Fprintf(stderr, "experiment: preconditions for %s connections:\n%s", results.Thousands(p.Checks.Conns), report.PrecondTable(rows))
	}
	short, notes := sortChecks(p.Checks.Rows, o.Tune)
	p.Notes = append(p.Notes, notes...)
	if err := shortfalls(short, o.Tune); err != nil {
		return nil, err
	}
	for _, n := range p.Notes {
		fmt.Fprintln(stderr, "experiment: note: "+n)
	}
	return short, nil
}

// campaign is a campaign under way: its results directory, pinning, the
// kernel-stack calibration, interrupts, tuning and the record of every
// run (runs.json, meta.json), written so that results.Load and
// report.Write work on it.
type campaign struct {
	o       plan.Options
	env     Env
	plan    *Plan
	kit     plan.Kit
	dir     string
	rawDir  string
	meta    results.Meta
	runs    []*results.Run
	stderr  io.Writer
	started time.Time
	// cpus are the sides' CPU sets; empty when the run is not pinned.
	cpus   plan.CPUSets
	tuning Tuning
	// stop is set at an interrupt; stopped ends the goroutine that waits
	// for one.
	stop    atomic.Bool
	stopped chan struct{}
	sigc    chan os.Signal
	// progress is the run count and the ETA's account.
	progress progress
	// retries counts the runs made again for interference (rounds.go).
	retries int
	// topo is where the sides run, and how they are started there.
	topo *topology
}

// open creates results/KIND-<date-time>/ (results/<date-time>/ for the
// matrix), measures the kernel's costs, writes meta.json as it stands
// and starts listening for interrupts.
func open(p *Plan, o plan.Options, env Env, kit plan.Kit, sys plan.System, topo *topology, stderr io.Writer) (*campaign, error) {
	c := &campaign{o: o, env: env, plan: p, kit: kit, stderr: stderr, started: time.Now(),
		tuning: Tuning{Root: env.sysctlRoot()}, stopped: make(chan struct{}), progress: newProgress(p), topo: topo}
	if topo.tuning != nil {
		topo.tuning(&c.tuning)
	}
	pinning, notes := c.pin()
	if err := c.mkdir(); err != nil {
		return nil, err
	}
	c.meta = c.newMeta(sys, pinning, notes)
	c.meta.Topology = topo.rec
	if topo.envOf != nil {
		c.meta.Env = topo.envOf(c.meta.Env)
	}
	if line := topo.rec.Summary(); line != "" {
		c.meta.Notes = append(c.meta.Notes, line)
		for _, n := range topo.rec.Notes {
			c.note("%s", n)
			fmt.Fprintln(stderr, "experiment: note: "+n)
		}
	}
	if e := c.meta.Calibration.SlabInfoError; e != "" && slices.ContainsFunc(p.Runs, func(rs runSpec) bool { return rs.machine }) {
		fmt.Fprintf(stderr, "experiment: note: %s; slab costs come from the Slab total of /proc/meminfo, without a breakdown by cache\n", e)
	}
	c.writeMeta()
	fmt.Fprintf(stderr, "experiment: %s; %s; writing %s\n", p.Intro, c.meta.Pinning, c.dir)
	c.listen()
	return c, nil
}

// pin decides the CPU sets, and says how the run is pinned, with a note
// when it cannot be.
func (c *campaign) pin() (pinning string, notes []string) {
	if c.o.NoPin {
		return "not pinned (-no-pin)", nil
	}
	if hs := c.topo.remote(); hs != nil {
		c.cpus.Server, _ = plan.ParseCPUList(hs.ServerCPUs)
		c.cpus.Client, _ = plan.ParseCPUList(hs.ClientCPUs)
		return fmt.Sprintf("server on the server host's CPUs %s, each client on its host's CPUs %s", hs.ServerCPUs, hs.ClientCPUs), nil
	}
	var why string
	c.cpus, why = pinCPUs(c.o)
	if why == "" {
		return c.cpus.Describe(), nil
	}
	pinning = "not pinned: " + why
	fmt.Fprintln(c.stderr, "experiment: "+pinning)
	return pinning, []string{pinning + "; server and client share CPUs, so CPU and latency figures include their interference"}
}

// mkdir creates the results directory and its raw/.
func (c *campaign) mkdir() error {
	stamp := strings.TrimPrefix(c.plan.Kind+"-"+c.started.Format("20060102-150405"), "-")
	c.dir = filepath.Join(c.o.Out, stamp)
	// Two runs started in the same second must not mix their files.
	for i := 2; ; i++ {
		if _, err := os.Stat(c.dir); err != nil {
			break
		}
		c.dir = filepath.Join(c.o.Out, fmt.Sprintf("%s-%d", stamp, i))
	}
	c.rawDir = filepath.Join(c.dir, "raw")
	return os.MkdirAll(c.rawDir, 0o755)
}

// newMeta is meta.json before the first run.
func (c *campaign) newMeta(sys plan.System, pinning string, notes []string) results.Meta {
	p := c.plan
	kpt, cal := c.calibrate()
	cmd := p.Command
	if cmd == "" {
		cmd = c.o.Command
	}
	wl := map[string]string{}
	for k, v := range p.Workloads {
		wl[k] = v
	}
	return results.Meta{Calibration: cal, KStackPerThreadKiB: kpt, Started: c.started.Format("2006-01-02 15:04:05 MST"), Command: cmd,
		Reps: p.Reps, Counts: p.Counts, Servers: slices.Clone(p.Servers), Workloads: wl, Pinning: pinning,
		Env: plan.Environment(sys, pinning, kpt), CPUs: runtime.NumCPU(), Notes: append(slices.Clone(p.Notes), notes...),
		ServerCPUs: append([]int{}, c.cpus.Server...), ClientCPUs: append([]int{}, c.cpus.Client...),
		Preconditions: p.Checks.Rows, OrderSeed: orderSeed(p, c.env)}
}

// listen stops the campaign after the current run at SIGINT or SIGTERM
// (or when env.Interrupt is closed).
func (c *campaign) listen() {
	intr := c.env.Interrupt
	c.sigc = make(chan os.Signal, 1)
	if intr == nil {
		signal.Notify(c.sigc, os.Interrupt, syscall.SIGTERM)
	}
	go func() {
		select {
		case <-c.sigc:
		case <-intr:
		case <-c.stopped:
			return
		}
		c.stop.Store(true)
		fmt.Fprintln(c.stderr, "\nexperiment: interrupted; finishing the current run, then writing what ran")
	}()
}

// interrupted says the campaign was interrupted. env.Interrupt is read
// here too, not only by listen's goroutine, so that a test that closes it
// during a run knows the campaign stops after that run.
func (c *campaign) interrupted() bool {
	select {
	case <-c.env.Interrupt:
		c.stop.Store(true)
	default:
	}
	return c.stop.Load()
}

// close stops listening for interrupts and restores what -tune changed.
func (c *campaign) close() {
	signal.Stop(c.sigc)
	close(c.stopped)
	c.restore()
}

// pinCPUs is the CPU sets of the run, or why it cannot be pinned.
func pinCPUs(o plan.Options) (plan.CPUSets, string) {
	sets, err := o.Pinning()
	if err == nil {
		err = proc.CheckTaskset(plan.FormatCPUList(sets.Client))
	}
	switch {
	case errors.Is(err, plan.ErrOneCPU):
		return plan.CPUSets{}, fmt.Sprintf("only %d CPU available", runtime.NumCPU())
	case errors.Is(err, exec.ErrNotFound):
		return plan.CPUSets{}, "taskset not found (install util-linux)"
	case err != nil:
		return plan.CPUSets{}, "`taskset -c` failed: " + err.Error()
	}
	return sets, ""
}

func (c *campaign) note(format string, a ...any) {
	c.meta.Notes = append(c.meta.Notes, fmt.Sprintf(format, a...))
}

// writeMeta writes meta.json as it stands, so a run killed before the end
// still says what it was.
func (c *campaign) writeMeta() {
	_ = results.WriteJSON(filepath.Join(c.dir, "meta.json"), c.meta)
}

// runPlan runs the plan's runs in order until an interrupt, or lets its
// Steps make them.
func (c *campaign) runPlan() error {
	if c.plan.Steps != nil {
		return c.plan.Steps(c)
	}
	runs := c.plan.Runs
	if c.plan.Interleave {
		runs = interleave(runs, c.meta.OrderSeed)
	}
	for _, rs := range runs {
		if c.run(rs) == nil {
			break
		}
	}
	return nil
}

// run executes one run and records it, unless the campaign was
// interrupted; nil then.
func (c *campaign) run(rs runSpec) *results.Run {
	if c.interrupted() {
		return nil
	}
	fmt.Fprintln(c.stderr, c.progress.line(c.plan.Kind, rs, time.Since(c.started)))
	if _, ok := c.meta.Workloads[rs.workload]; !ok {
		c.meta.Workloads[rs.workload] = "`" + strings.Join(rs.clientArgs, " ") + "`"
	}
	if !slices.ContainsFunc(c.meta.Servers, func(s results.ServerSpec) bool { return s.Key == rs.spec.Key }) {
		c.meta.Servers = append(c.meta.Servers, rs.spec)
	}
	rs = c.sized(rs)
	r := c.execute(rs)
	r.ServerProcs, r.ClientProcs = rs.srvProcs, rs.cliProcs
	if why := c.interfered(&r); why != "" && !c.interrupted() {
		fmt.Fprintf(c.stderr, "  -> %s\n", why)
		old := r
		old.Superseded = why
		c.runs = append(c.runs, &old)
		r = c.execute(rs)
		r.ServerProcs, r.ClientProcs = rs.srvProcs, rs.cliProcs
	}
	if r.Status != results.StatusOK {
		fmt.Fprintf(c.stderr, "  -> %s: %s\n", r.Status, r.Detail)
	}
	if r.Probe != nil && r.Probe.Detail != "" {
		fmt.Fprintf(c.stderr, "  -> probe: %s\n", r.Probe.Detail)
	}
	c.runs = append(c.runs, &r)
	c.progress.done(rs)
	_ = results.WriteJSON(filepath.Join(c.dir, "runs.json"), c.runs)
	return &r
}

// execute runs rs's processes: its own exec, env.Exec in tests, else a
// server and a client.
func (c *campaign) execute(rs runSpec) results.Run {
	p := proc.Params{
		RawDir: c.rawDir, ClientPath: c.kit.Client, ClientArgs: rs.clientArgs,
		ServerCPUs: plan.FormatCPUList(c.cpus.Server), ClientCPUs: plan.FormatCPUList(c.cpus.Client),
		StartTimeout: serverStartTimeout, StopTimeout: max(c.o.StopTimeout, rs.stopTimeout), ClientTimeout: rs.time.timeout(rs.n),
		Linger: rs.linger,
		Probe:  rs.probe, AcceptTiming: rs.accept, ByThreads: rs.probe && c.kit.Facts(rs.spec).PerConnection != "",
		MemFloorKiB: rs.memFloorKiB, Machine: rs.machine, ProcRoot: c.env.ProcRoot, Count: rs.count,
	}
	run := c.topo.execute(rs.spec, &p)
	if rs.exec != nil {
		run = rs.exec
	}
	if c.env.Exec != nil {
		run = c.env.Exec
	}
	return run(rs.spec, rs.workload, rs.n, rs.rep, p)
}

// sized fits a run to the CPU sets: the server's -P and its size
// (plan.CPUSets.SizeServer), the client's -procs; unpinned runs get the
// processes the fd limit needs and nothing else.
func (c *campaign) sized(rs runSpec) runSpec {
	srvP, cliP := max(1, rs.srvProcs), max(1, rs.cliProcs)
	if len(c.cpus.Client) > 0 {
		rs.spec = c.cpus.SizeServer(rs.spec, c.kit.SizingFacts(rs.spec), srvP)
		cliP = c.cpus.ClientProcs(rs.n, cliP)
	}
	rs.spec.Args = slices.Clone(rs.spec.Args)
	if srvP > 1 {
		rs.spec.Args = append(rs.spec.Args, "-P", strconv.Itoa(srvP))
	}
	if cliP > 1 {
		rs.clientArgs = append([]string{"-procs", strconv.Itoa(cliP)}, rs.clientArgs...)
	}
	rs.srvProcs, rs.cliProcs = srvP, cliP
	return rs
}

// finish writes runs.json and meta.json and reads them back with every
// figure derived.
func (c *campaign) finish() (*results.Results, error) {
	if c.runs == nil {
		c.runs = []*results.Run{}
	}
	c.meta.Finished = time.Now().Format("2006-01-02 15:04:05 MST")
	if c.interrupted() {
		c.note("the run was interrupted; only the runs that finished are reported")
	}
	if err := results.WriteJSON(filepath.Join(c.dir, "runs.json"), c.runs); err != nil {
		return nil, err
	}
	if err := results.WriteJSON(filepath.Join(c.dir, "meta.json"), c.meta); err != nil {
		return nil, err
	}
	return results.Load(c.dir)
}

// orderSeed is the seed of an interleaved plan's run order, new for each
// campaign and kept in meta.json; 0 for a plan run in its own order.
func orderSeed(p *Plan, env Env) uint64 {
	switch {
	case !p.Interleave:
		return 0
	case env.OrderSeed != 0:
		return env.OrderSeed
	}
	return uint64(time.Now().UnixNano())
}
