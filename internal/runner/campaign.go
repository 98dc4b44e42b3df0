package runner

import (
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
	"tenkthreads/internal/runner/results"
)

// serverStartTimeout is how long a server may take to print its start line.
const serverStartTimeout = 10 * time.Second

// notifySignals is replaced in tests to deliver a fake interrupt.
var notifySignals = func(c chan<- os.Signal) { signal.Notify(c, os.Interrupt, syscall.SIGTERM) }

var stopSignals = func(c chan<- os.Signal) { signal.Stop(c) }

// campaign is what every mode that runs the servers shares: a results
// directory, pinning, the kernel-stack calibration, interrupt handling
// and the record of every run (runs.json, meta.json), written so that
// results.Load and report.Write work on it.
type campaign struct {
	o          plan.Options
	env        Env
	dir        string
	rawDir     string
	clientPath string
	meta       results.Meta
	runs       []*results.Run
	stop       atomic.Bool
	stderr     io.Writer
	started    time.Time
	sigc       chan os.Signal
	// interrupted is the note meta.json gets when the run was interrupted.
	interrupted string

	kit plan.Kit
	// cpus are the sides' CPU sets; empty when the run is not pinned.
	cpus plan.CPUSets
}

// campaignText is what a mode's campaign says when interrupted: on
// stderr at once, and in the notes of what it writes.
type campaignText struct{ line, note string }

var defaultText = campaignText{
	line: "finishing the current run, then writing what ran",
	note: "the run was interrupted; only the runs that finished are reported",
}

// newCampaign creates results/KIND-<date-time>/ (results/<date-time>/ for
// the matrix, whose kind is ""); notes go first in meta.json's notes.
func newCampaign(o plan.Options, env Env, kind string, kit plan.Kit, sys plan.System, notes []string, text campaignText, stderr io.Writer) (*campaign, error) {
	c := &campaign{o: o, env: env, kit: kit, stderr: stderr, started: time.Now(), clientPath: filepath.Join(o.Bin, "client"), interrupted: text.note}
	pinning := "not pinned (-no-pin)"
	if !o.NoPin {
		var why string
		c.cpus, why = pinCPUs(o)
		pinning = c.cpus.Describe()
		if why != "" {
			pinning = "not pinned: " + why
			fmt.Fprintln(stderr, "experiment: "+pinning)
			notes = append(notes, pinning+"; server and client share CPUs, so CPU and latency figures include their interference")
		}
	}
	stamp := strings.TrimPrefix(kind+"-"+c.started.Format("20060102-150405"), "-")
	c.dir = filepath.Join(o.Out, stamp)
	// Two runs started in the same second must not mix their files.
	for i := 2; ; i++ {
		if _, err := os.Stat(c.dir); err != nil {
			break
		}
		c.dir = filepath.Join(o.Out, fmt.Sprintf("%s-%d", stamp, i))
	}
	c.rawDir = filepath.Join(c.dir, "raw")
	if err := os.MkdirAll(c.rawDir, 0o755); err != nil {
		return nil, err
	}
	kpt, cal := proc.Calibrate(proc.Params{ProcRoot: env.ProcRoot}.ProcFS())
	c.meta = results.Meta{Calibration: cal,
		KStackPerThreadKiB: kpt, Started: c.started.Format("2006-01-02 15:04:05 MST"), Command: o.Command,
		Reps: o.MatrixReps(), Workloads: map[string]string{}, Pinning: pinning, Env: plan.Environment(sys, pinning, kpt),
		CPUs: runtime.NumCPU(), Notes: notes, ServerCPUs: append([]int{}, c.cpus.Server...), ClientCPUs: append([]int{}, c.cpus.Client...),
	}
	c.sigc = make(chan os.Signal, 1)
	notifySignals(c.sigc)
	go func() {
		if _, ok := <-c.sigc; ok {
			c.stop.Store(true)
			fmt.Fprintln(stderr, "\nexperiment: interrupted; "+text.line)
		}
	}()
	return c, nil
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

func (c *campaign) close() {
	stopSignals(c.sigc)
}

func (c *campaign) note(format string, a ...any) {
	c.meta.Notes = append(c.meta.Notes, fmt.Sprintf(format, a...))
}

// writeMeta writes meta.json as it stands, so a run killed before the end
// still says what it was.
func (c *campaign) writeMeta() {
	_ = results.WriteJSON(filepath.Join(c.dir, "meta.json"), c.meta)
}

// runSpec is one run's whole description.
type runSpec struct {
	spec          results.ServerSpec
	workload      string
	n, rep        int
	clientArgs    []string
	probe, accept bool
	byThreads     bool
	// machine keeps the run's machine record (hold workloads only).
	machine bool
	timeout time.Duration

	// srvProcs and cliProcs are the server's -P and the client's -procs
	// the fd limit needs (0: one process); run sizes both to the CPUs.
	srvProcs, cliProcs int
	// memFloorKiB stops the run when MemAvailable falls below it (0: never).
	memFloorKiB int64
}

// progress is the usual progress line of a mode's run: "[TAG] server ...".
func (c *campaign) progress(tag string, rs runSpec) string {
	return fmt.Sprintf("[%s] %-30s %-9s %6d conns  rep %d  elapsed %s",
		tag, rs.spec.Label, rs.workload, rs.n, rs.rep, fmtDuration(time.Since(c.started)))
}

// run prints line and executes one run, unless the campaign was
// interrupted; nil then.
func (c *campaign) run(rs runSpec, line string) *results.Run {
	if c.stop.Load() {
		return nil
	}
	fmt.Fprintln(c.stderr, line)
	if _, ok := c.meta.Workloads[rs.workload]; !ok {
		c.meta.Workloads[rs.workload] = "`" + strings.Join(rs.clientArgs, " ") + "`"
	}
	if !containsSpec(c.meta.Servers, rs.spec.Key) {
		c.meta.Servers = append(c.meta.Servers, rs.spec)
	}
	rs = c.sized(rs)
	p := proc.Params{
		RawDir: c.rawDir, ClientPath: c.clientPath, ClientArgs: rs.clientArgs,
		ServerCPUs: plan.FormatCPUList(c.cpus.Server), ClientCPUs: plan.FormatCPUList(c.cpus.Client),
		StartTimeout: serverStartTimeout, StopTimeout: c.o.StopTimeout, ClientTimeout: rs.timeout,
		Probe: rs.probe, AcceptTiming: rs.accept, ByThreads: rs.byThreads, MemFloorKiB: rs.memFloorKiB,
		Machine: rs.machine, ProcRoot: c.env.ProcRoot,
	}
	r := proc.Run(rs.spec, rs.workload, rs.n, rs.rep, p)
	if r.Status != results.StatusOK {
		fmt.Fprintf(c.stderr, "  -> %s: %s\n", r.Status, r.Detail)
	}
	if r.Probe != nil && r.Probe.Detail != "" {
		fmt.Fprintf(c.stderr, "  -> probe: %s\n", r.Probe.Detail)
	}
	c.runs = append(c.runs, &r)
	_ = results.WriteJSON(filepath.Join(c.dir, "runs.json"), c.runs)
	return &r
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
	if c.stop.Load() {
		c.note("%s", c.interrupted)
	}
	if err := results.WriteJSON(filepath.Join(c.dir, "runs.json"), c.runs); err != nil {
		return nil, err
	}
	if err := results.WriteJSON(filepath.Join(c.dir, "meta.json"), c.meta); err != nil {
		return nil, err
	}
	return results.Load(c.dir)
}

// status is the exit status of a finished campaign: 130 when interrupted.
func (c *campaign) status() int {
	if c.stop.Load() {
		return 130
	}
	return 0
}

func containsSpec(specs []results.ServerSpec, key string) bool {
	for _, s := range specs {
		if s.Key == key {
			return true
		}
	}
	return false
}

func fmtDuration(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
