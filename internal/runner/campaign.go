package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
)

// notifySignals is replaced in tests to deliver a fake interrupt.
var notifySignals = func(c chan<- os.Signal) { signal.Notify(c, os.Interrupt, syscall.SIGTERM) }

var stopSignals = func(c chan<- os.Signal) { signal.Stop(c) }

// campaign is the machinery the -bench, -c100k and -models modes share:
// a results directory, pinning, the kernel-stack calibration, interrupt
// handling and the record of every run, written so that LoadResults and
// WriteReport work on it as on a `make experiment` directory.
type campaign struct {
	o          Options
	kind       string
	dir        string
	rawDir     string
	clientPath string
	pin        bool
	cpus       [2]int
	meta       Meta
	runs       []*Run
	stop       atomic.Bool
	stderr     io.Writer
	started    time.Time
	sigc       chan os.Signal
}

func newCampaign(o Options, kind string, sys System, stderr io.Writer) (*campaign, error) {
	c := &campaign{o: o, kind: kind, stderr: stderr, started: time.Now(), clientPath: filepath.Join(o.Bin, "client")}
	pinning := "not pinned (-no-pin)"
	var notes []string
	if !o.NoPin {
		c.cpus, c.pin, pinning = pinCPUs()
		if !c.pin {
			fmt.Fprintln(stderr, "experiment: "+pinning)
			notes = append(notes, pinning+"; server and client share CPUs, so CPU and latency figures include their interference")
		}
	}
	stamp := c.started.Format("20060102-150405")
	c.dir = filepath.Join(o.Out, kind+"-"+stamp)
	for i := 2; ; i++ {
		if _, err := os.Stat(c.dir); err != nil {
			break
		}
		c.dir = filepath.Join(o.Out, fmt.Sprintf("%s-%s-%d", kind, stamp, i))
	}
	c.rawDir = filepath.Join(c.dir, "raw")
	if err := os.MkdirAll(c.rawDir, 0o755); err != nil {
		return nil, err
	}
	kpt := calibrateKernelStack()
	c.meta = Meta{
		KStackPerThreadKiB: kpt, Started: c.started.Format("2006-01-02 15:04:05 MST"), Command: o.Command,
		Reps: o.Reps, Workloads: map[string]string{}, Pinning: pinning, Env: environment(sys, pinning, kpt),
		CPUs: runtime.NumCPU(), Notes: notes,
	}
	c.sigc = make(chan os.Signal, 1)
	notifySignals(c.sigc)
	go func() {
		if _, ok := <-c.sigc; ok {
			c.stop.Store(true)
			fmt.Fprintln(stderr, "\nexperiment: interrupted; finishing the current run, then writing what ran")
		}
	}()
	return c, nil
}

func (c *campaign) close() {
	stopSignals(c.sigc)
}

func (c *campaign) note(format string, a ...any) {
	c.meta.Notes = append(c.meta.Notes, fmt.Sprintf(format, a...))
}

// runSpec is one run's whole description.
type runSpec struct {
	spec          ServerSpec
	workload      string
	n, rep        int
	clientArgs    []string
	probe, accept bool
	timeout       time.Duration
}

// run executes one run unless the campaign was interrupted; nil then.
func (c *campaign) run(rs runSpec, progress string) *Run {
	if c.stop.Load() {
		return nil
	}
	fmt.Fprintf(c.stderr, "[%s] %-30s %-9s %6d conns  rep %d  elapsed %s\n",
		progress, rs.spec.Label, rs.workload, rs.n, rs.rep, fmtDuration(time.Since(c.started)))
	if _, ok := c.meta.Workloads[rs.workload]; !ok {
		c.meta.Workloads[rs.workload] = "`" + joinArgs(rs.clientArgs) + "`"
	}
	if !containsSpec(c.meta.Servers, rs.spec.Key) {
		c.meta.Servers = append(c.meta.Servers, rs.spec)
	}
	p := execParams{
		rawDir: c.rawDir, clientPath: c.clientPath, clientArgs: rs.clientArgs, pin: c.pin, cpus: c.cpus,
		startTimeout: c.o.StartTimeout, stopTimeout: c.o.StopTimeout, clientTimeout: rs.timeout,
		probe: rs.probe, acceptTiming: rs.accept, byThreads: rs.spec.Model == "thread" || rs.spec.Model == "fork",
	}
	r := runOne(rs.spec, rs.workload, rs.n, rs.rep, p)
	if r.Status != StatusOK {
		fmt.Fprintf(c.stderr, "  -> %s: %s\n", r.Status, r.Detail)
	}
	if r.Probe != nil && r.Probe.Detail != "" {
		fmt.Fprintf(c.stderr, "  -> probe: %s\n", r.Probe.Detail)
	}
	c.runs = append(c.runs, &r)
	_ = writeJSON(filepath.Join(c.dir, "runs.json"), c.runs)
	return &r
}

// finish writes runs.json and meta.json and reads them back with every
// figure derived.
func (c *campaign) finish() (*Results, error) {
	if c.runs == nil {
		c.runs = []*Run{}
	}
	c.meta.Finished = time.Now().Format("2006-01-02 15:04:05 MST")
	if c.stop.Load() {
		c.note("the run was interrupted; only the runs that finished are reported")
	}
	if err := writeJSON(filepath.Join(c.dir, "runs.json"), c.runs); err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(c.dir, "meta.json"), c.meta); err != nil {
		return nil, err
	}
	return LoadResults(c.dir)
}

func containsSpec(specs []ServerSpec, key string) bool {
	for _, s := range specs {
		if s.Key == key {
			return true
		}
	}
	return false
}

func joinArgs(a []string) string {
	out := ""
	for i, s := range a {
		if i > 0 {
			out += " "
		}
		out += s
	}
	return out
}

// hasFlag says whether a program's -h output mentions -NAME.
func hasFlag(path, name string) bool {
	return hasFlagIn(helpText(path), name)
}

func hasFlagIn(help, name string) bool {
	return regexp.MustCompile(`(^|[\s\[|])-` + regexp.QuoteMeta(name) + `\b`).MatchString(help)
}

// interferenceSummary describes what other processes took from the machine
// over all runs: the median and the worst run.
func interferenceSummary(runs []*Run) (med, worst Num, line string) {
	var xs []Num
	for _, r := range runs {
		xs = append(xs, r.M.OtherShare)
	}
	st := statOf(xs)
	if !st.Med.Set {
		return Num{}, Num{}, "Interference by other processes: not measured."
	}
	return st.Med, st.Max, fmt.Sprintf("Interference: other processes used a median %.0f%% (worst run %.0f%%) of the machine's CPU while the runs were live (from /proc/stat, minus the server's and the client's own CPU).", st.Med.V, st.Max.V)
}

// helpText is a program's -h output (stdout and stderr).
func helpText(path string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, path, "-h").CombinedOutput()
	return string(out)
}

// kitBinaries returns the server, reference and client programs under
// o.Bin, or an error naming the first one missing.
func kitBinaries(o Options) (thr, ref, cl string, err error) {
	thr = filepath.Join(o.Bin, "10kthreads")
	ref = filepath.Join(o.Bin, "ref_async_server")
	cl = filepath.Join(o.Bin, "client")
	for _, p := range []string{thr, ref, cl} {
		if _, err := os.Stat(p); err != nil {
			return "", "", "", fmt.Errorf("%s not found: run make first", p)
		}
	}
	return thr, ref, cl, nil
}

// failer returns a function that prints one "experiment: ..." line and
// gives the exit status of a failed precondition.
func failer(stderr io.Writer) func(format string, a ...any) int {
	return func(format string, a ...any) int {
		fmt.Fprintf(stderr, "experiment: "+format+"\n", a...)
		return 1
	}
}
