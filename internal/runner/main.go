package runner

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

const usageLine = "usage: experiment [-quick | -full] [-reps N] [-counts 100,1000,10000] [-servers 10kthreads,10kthreads:epoll,ref_async_server] [-workloads hold,echo,reconnect] [-out DIR] [-bin DIR] [-no-pin] | -report DIR | -bench [-quick] | -c100k [-tune] [-quick] | -models [-quick]"

// Options is the parsed command line; tests build it directly too.
type Options struct {
	Quick, Full  bool
	Reps         int
	Counts       []int
	countsSet    bool
	Servers      []string
	Workloads    []string
	Out          string
	Bin          string
	NoPin        bool
	Report       string
	Hold, Echo   time.Duration
	StopTimeout  time.Duration
	StartTimeout time.Duration
	// ServerOverride replaces the server list (tests use fake servers).
	ServerOverride []ServerSpec
	Command        string

	// Modes other than the experiment matrix (one at most).
	Bench, C100K, Models bool
	// Tune lets -c100k raise sysctls as root and restore them afterwards.
	Tune                      bool
	repsSet, holdSet, echoSet bool
	// SysctlRoot is /proc/sys; tests point it at a directory of fakes.
	SysctlRoot string
	// Concurrency overrides the -models concurrency list (tests).
	Concurrency []int
}

// Main runs the experiment; it returns the process exit status.
func Main(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	opt, code := parseFlags(args, getenv, stderr)
	if code >= 0 {
		return code
	}
	return Execute(opt, stdout, stderr)
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (Options, int) {
	var o Options
	fs := flag.NewFlagSet("experiment", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.BoolVar(&o.Quick, "quick", false, "smoke run: 1 repetition, tiny counts, short workloads (also QUICK=1)")
	fs.BoolVar(&o.Full, "full", false, "add counts up to what the fd limit allows (also FULL=1)")
	fs.IntVar(&o.Reps, "reps", 0, "repetitions per cell (default 3, quick 1)")
	counts := fs.String("counts", "", "comma-separated connection counts (default 100,1000,10000)")
	servers := fs.String("servers", "", "comma-separated servers: 10kthreads[:MODEL], ref_async_server (default: all available)")
	workloads := fs.String("workloads", "", "comma-separated workloads: hold, echo, reconnect (default: all the client supports)")
	fs.StringVar(&o.Out, "out", "results", "directory under which results/<date-time>/ is created")
	fs.StringVar(&o.Bin, "bin", "bin", "directory holding 10kthreads, ref_async_server and client")
	fs.BoolVar(&o.NoPin, "no-pin", false, "do not pin the server and the client to separate CPUs")
	fs.StringVar(&o.Report, "report", "", "rebuild the report of an existing results directory and exit")
	fs.DurationVar(&o.Hold, "hold", 0, "how long the hold workload keeps connections idle (default 1s, quick 200ms)")
	fs.DurationVar(&o.Echo, "duration", 0, "how long the echo and reconnect workloads run (default 2s, quick 500ms)")
	fs.DurationVar(&o.StopTimeout, "stop-timeout", 20*time.Second, "how long a server may take to exit after SIGINT before it is killed")
	fs.BoolVar(&o.Bench, "bench", false, "issue 8 benchmark: memory, CPU per round trip, accept rate, large transfers, scale (make bench)")
	fs.BoolVar(&o.C100K, "c100k", false, "25,000 to 100,000 connections with several server and client processes (make c100k)")
	fs.BoolVar(&o.Models, "models", false, "every server model: connection-per-request requests/s at concurrency 20 to 10,000, and long-lived costs (make models)")
	fs.BoolVar(&o.Tune, "tune", false, "with -c100k, as root: raise the sysctls the run needs and restore them afterwards")
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stderr, usageLine)
		fs.SetOutput(stderr)
		fs.PrintDefaults()
		return o, 0
	}
	usage := func(msg string) (Options, int) {
		fmt.Fprintf(stderr, "experiment: %s\n%s\n", msg, usageLine)
		return o, 2
	}
	if err != nil {
		return usage(err.Error())
	}
	if fs.NArg() > 0 {
		return usage("unexpected argument " + strconv.Quote(fs.Arg(0)))
	}
	if getenv("QUICK") == "1" {
		o.Quick = true
	}
	if getenv("FULL") == "1" {
		o.Full = true
	}
	if o.Quick && o.Full {
		return usage("-quick (QUICK=1) and -full (FULL=1) exclude each other")
	}
	if o.Reps < 0 {
		return usage("-reps must be at least 1")
	}
	modes := 0
	for _, m := range []bool{o.Bench, o.C100K, o.Models, o.Report != ""} {
		if m {
			modes++
		}
	}
	if modes > 1 {
		return usage("-bench, -c100k, -models and -report exclude each other")
	}
	if o.Tune && !o.C100K {
		return usage("-tune goes with -c100k")
	}
	if (o.Bench || o.C100K || o.Models) && o.Full {
		return usage("-full (FULL=1) applies to the experiment matrix only")
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "reps":
			o.repsSet = true
		case "hold":
			o.holdSet = true
		case "duration":
			o.echoSet = true
		}
	})
	if *counts != "" {
		o.countsSet = true
		for _, f := range strings.Split(*counts, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				return usage("bad connection count " + strconv.Quote(f))
			}
			o.Counts = append(o.Counts, n)
		}
		sort.Ints(o.Counts)
	}
	if *servers != "" {
		o.Servers = strings.Split(*servers, ",")
	}
	if *workloads != "" {
		for _, w := range strings.Split(*workloads, ",") {
			if _, ok := workloadOrder[w]; !ok {
				return usage("unknown workload " + strconv.Quote(w) + " (hold, echo, reconnect)")
			}
			o.Workloads = append(o.Workloads, w)
		}
	}
	if o.Reps == 0 {
		o.Reps = 3
		if o.Quick {
			o.Reps = 1
		}
	}
	if o.Hold == 0 {
		o.Hold = time.Second
		if o.Quick {
			o.Hold = 200 * time.Millisecond
		}
	}
	if o.Echo == 0 {
		o.Echo = 2 * time.Second
		if o.Quick {
			o.Echo = 500 * time.Millisecond
		}
	}
	o.StartTimeout = 10 * time.Second
	o.Command = reproCommand(args, getenv)
	return o, -1
}

func reproCommand(args []string, getenv func(string) string) string {
	var parts []string
	for _, v := range []string{"QUICK", "FULL"} {
		if getenv(v) == "1" {
			parts = append(parts, v+"=1")
		}
	}
	parts = append(parts, "bin/experiment")
	for _, a := range args {
		if strings.ContainsAny(a, " \t'\"$`\\") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// workloadPlan is how one workload maps onto the client's flags.
type workloadPlan struct {
	name     string
	args     []string
	desc     string
	maxConns int // 0 = any
	seconds  float64
}

// clientFlags lists the flags bin/client's -h output mentions, so the
// runner uses a richer client's workloads as soon as they exist.
func clientFlags(path string) map[string]bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, path, "-h").CombinedOutput()
	flags := map[string]bool{}
	// Both "  -hold duration" (flag.PrintDefaults) and "[-hold D]" (a
	// usage line) count.
	for _, m := range regexp.MustCompile(`(?:^|[\s\[|])-([A-Za-z][\w-]*)`).FindAllStringSubmatch(string(out), -1) {
		flags[m[1]] = true
	}
	return flags
}

// serverModels returns the -M models bin/10kthreads's usage mentions
// (always "thread"); ok is false when it has no -M at all.
func serverModels(path string) (models []string, hasM bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, path, "-h").CombinedOutput()
	text := string(out)
	hasM = regexp.MustCompile(`(^|[\s\[])-M\b`).MatchString(text)
	seen := map[string]bool{"thread": true}
	models = []string{"thread"}
	if !hasM {
		return models, false
	}
	known := []string{"epoll", "prethread", "prethread-nolock", "pool", "prefork", "prefork-nolock", "prefork-lock", "prefork-pass", "fork", "iterative"}
	for _, k := range known {
		if regexp.MustCompile(`(^|[^\w-])`+regexp.QuoteMeta(k)+`($|[^\w-])`).MatchString(text) && !seen[k] {
			seen[k] = true
			models = append(models, k)
		}
	}
	return models, true
}

// usageError is bad input in a flag value found only after parsing.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// defaultModels are the ones that can hold every count of the matrix; the
// others (pool, iterative, prefork, ...) serve a bounded number at a time
// or a process each and are run only when asked for with -servers.
var defaultModels = map[string]bool{"thread": true, "epoll": true}

func serverSpecs(o Options, notes *[]string) ([]ServerSpec, error) {
	thr := filepath.Join(o.Bin, "10kthreads")
	ref := filepath.Join(o.Bin, "ref_async_server")
	for _, p := range []string{thr, ref} {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("%s not found: run make first", p)
		}
	}
	models, hasM := serverModels(thr)
	mk := func(model string) ServerSpec {
		s := ServerSpec{Key: "10kthreads:" + model, Label: "10kthreads (" + model + ")", Model: model, Path: thr}
		if hasM && model != "thread" {
			s.Args = []string{"-M", model}
		}
		return s
	}
	goref := ServerSpec{Key: "ref_async_server", Label: "ref_async_server (goroutine)", Model: "goroutine", Path: ref}
	if len(o.Servers) == 0 {
		var out []ServerSpec
		var skipped []string
		for _, m := range models {
			if defaultModels[m] {
				out = append(out, mk(m))
			} else {
				skipped = append(skipped, m)
			}
		}
		if len(skipped) > 0 {
			*notes = append(*notes, fmt.Sprintf("models %s of bin/10kthreads are not in the default matrix (they serve a bounded number of connections at a time or fork a process each); select them with -servers 10kthreads:MODEL", strings.Join(skipped, ", ")))
		}
		return append(out, goref), nil
	}
	var out []ServerSpec
	for _, s := range o.Servers {
		s = strings.TrimSpace(s)
		switch {
		case s == "ref_async_server" || s == "goroutine":
			out = append(out, goref)
		case s == "10kthreads" || s == "thread":
			out = append(out, mk("thread"))
		case strings.HasPrefix(s, "10kthreads:"):
			m := strings.TrimPrefix(s, "10kthreads:")
			if m != "thread" && !hasM {
				return nil, usageError{fmt.Sprintf("bin/10kthreads has no -M option yet, so model %q cannot be selected", m)}
			}
			if !slices.Contains(models, m) {
				return nil, usageError{fmt.Sprintf("bin/10kthreads -h does not list model %q (it lists %s)", m, strings.Join(models, ", "))}
			}
			out = append(out, mk(m))
		default:
			found := false
			for _, m := range models {
				if m == s {
					out = append(out, mk(m))
					found = true
				}
			}
			if !found {
				return nil, usageError{fmt.Sprintf("unknown server %q (known: 10kthreads, 10kthreads:MODEL with MODEL one of %s, ref_async_server)", s, strings.Join(models, ", "))}
			}
		}
	}
	return out, nil
}

func workloadPlans(o Options, cf map[string]bool, notes *[]string) []workloadPlan {
	var extra []string
	if cf["quiet"] {
		extra = append(extra, "-quiet")
	}
	var plans []workloadPlan
	if cf["hold"] {
		plans = append(plans, workloadPlan{name: "hold", args: append([]string{"-hold", o.Hold.String()}, extra...),
			desc: fmt.Sprintf("`-hold %s` (all connections open, idle for %s, then verified)", o.Hold, o.Hold), seconds: o.Hold.Seconds()})
	} else {
		plans = append(plans, workloadPlan{name: "hold", args: extra,
			desc: "plain run (the client has no -hold yet: it opens all connections, keeps them open until all are connected, echoes once on each, closes)"})
	}
	msg := []string{}
	if cf["size"] {
		msg = []string{"-size", "64"}
	}
	switch {
	case cf["duration"]:
		plans = append(plans, workloadPlan{name: "echo", args: append(append([]string{"-duration", o.Echo.String()}, msg...), extra...),
			desc: fmt.Sprintf("`-duration %s %s` (closed-loop round trips on every connection)", o.Echo, strings.Join(msg, " ")), seconds: o.Echo.Seconds()})
	case cf["rounds"]:
		plans = append(plans, workloadPlan{name: "echo", args: append(append([]string{"-rounds", "ROUNDS"}, msg...), extra...),
			desc: "`-rounds R` with R = 100000/connections, between 5 and 1000 (closed-loop round trips on every connection)", seconds: 1})
	default:
		*notes = append(*notes, "echo workload skipped: bin/client has neither -duration nor -rounds yet")
	}
	if cf["reconnect"] && (cf["duration"] || cf["rounds"]) {
		wl := workloadPlan{name: "reconnect", maxConns: 1000,
			desc: fmt.Sprintf("`-reconnect -duration %s` (a new connection per round trip; run up to 1,000 concurrent clients, since more would churn tens of thousands of ports per second)", o.Echo), seconds: o.Echo.Seconds()}
		if cf["duration"] {
			wl.args = append([]string{"-reconnect", "-duration", o.Echo.String()}, extra...)
		} else {
			wl.args = append([]string{"-reconnect", "-rounds", "ROUNDS"}, extra...)
			wl.desc = "`-reconnect -rounds R` (a new connection per round trip)"
		}
		plans = append(plans, wl)
	} else {
		*notes = append(*notes, "connection-per-request workload skipped: bin/client has no -reconnect (with -duration or -rounds) yet")
	}
	if len(o.Workloads) > 0 {
		want := map[string]bool{}
		for _, w := range o.Workloads {
			want[w] = true
		}
		var keep []workloadPlan
		for _, p := range plans {
			if want[p.name] {
				keep = append(keep, p)
				delete(want, p.name)
			}
		}
		for w := range want {
			*notes = append(*notes, "workload "+w+" requested but bin/client does not support it; skipped")
		}
		plans = keep
	}
	return plans
}

func argsFor(p workloadPlan, n int) []string {
	out := make([]string, len(p.args))
	for i, a := range p.args {
		if a == "ROUNDS" {
			a = strconv.Itoa(min(1000, max(5, 100000/n)))
		}
		out[i] = a
	}
	return out
}

// Execute runs the whole experiment described by o.
func Execute(o Options, stdout, stderr io.Writer) int {
	switch {
	case o.Bench:
		return runBench(o, stdout, stderr)
	case o.C100K:
		return runC100K(o, stdout, stderr)
	case o.Models:
		return runModels(o, stdout, stderr)
	}
	if o.Report != "" {
		if _, err := os.Stat(filepath.Join(o.Report, "models.json")); err == nil {
			return rebuildModels(o.Report, stdout, stderr)
		}
		res, err := LoadResults(o.Report)
		if err != nil {
			fmt.Fprintf(stderr, "experiment: %v\n", err)
			return 1
		}
		if err := WriteReport(res); err != nil {
			fmt.Fprintf(stderr, "experiment: %v\n", err)
			return 1
		}
		fmt.Fprint(stdout, SummaryTable(res.Cells))
		fmt.Fprintf(stdout, "\nreport: %s\n", filepath.Join(o.Report, "report.md"))
		return 0
	}
	fail := failer(stderr)
	var notes []string
	clientPath := filepath.Join(o.Bin, "client")
	if _, err := os.Stat(clientPath); err != nil {
		return fail("%s not found: run make first", clientPath)
	}
	specs := o.ServerOverride
	if specs == nil {
		var err error
		specs, err = serverSpecs(o, &notes)
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "experiment: %v\n%s\n", err, usageLine)
			return 2
		}
		if err != nil {
			return fail("%v", err)
		}
	}
	cf := clientFlags(clientPath)
	plans := workloadPlans(o, cf, &notes)
	if len(plans) == 0 {
		return fail("no workload left to run")
	}

	sys := readSystem()
	counts, dropped := matrixCounts(o, sys)
	for _, msg := range dropped {
		fmt.Fprintln(stderr, "experiment: "+msg)
		notes = append(notes, msg)
	}
	if len(counts) == 0 {
		return fail("precondition failed: the open-file hard limit %d is too small for any connection count; raise it as root with `ulimit -Hn 20000`", sys.FDHard)
	}
	// Every model but the event loops may run a thread (or process) per
	// connection, so the thread limits apply to it.
	threaded := false
	for _, s := range specs {
		switch s.Model {
		case "goroutine", "epoll", "iterative":
		default:
			threaded = true
		}
	}
	problems, pnotes := checkSystem(sys, counts[len(counts)-1], threaded)
	notes = append(notes, pnotes...)
	if len(problems) > 0 {
		fmt.Fprintf(stderr, "experiment: precondition failed, nothing was run:\n")
		for _, p := range problems {
			fmt.Fprintf(stderr, "  - %s\n", p)
		}
		return 1
	}
	for _, n := range pnotes {
		fmt.Fprintln(stderr, "experiment: note: "+n)
	}

	cpus, pin, pinning := [2]int{}, false, "not pinned (-no-pin)"
	if !o.NoPin {
		cpus, pin, pinning = pinCPUs()
		if !pin {
			fmt.Fprintln(stderr, "experiment: "+pinning)
			notes = append(notes, pinning+"; server and client share CPUs, so CPU and latency figures include their interference")
		}
	}

	started := time.Now()
	dir := filepath.Join(o.Out, started.Format("20060102-150405"))
	// Two experiments started in the same second must not mix their files.
	for i := 2; ; i++ {
		if _, err := os.Stat(dir); err != nil {
			break
		}
		dir = filepath.Join(o.Out, fmt.Sprintf("%s-%d", started.Format("20060102-150405"), i))
	}
	rawDir := filepath.Join(dir, "raw")
	if err := os.MkdirAll(rawDir, 0o755); err != nil {
		return fail("%v", err)
	}
	kpt := calibrateKernelStack()
	meta := Meta{
		KStackPerThreadKiB: kpt,
		Started:            started.Format("2006-01-02 15:04:05 MST"), Command: o.Command, Reps: o.Reps, Counts: counts,
		Servers: specs, Workloads: map[string]string{}, Pinning: pinning, Env: environment(sys, pinning, kpt), CPUs: runtime.NumCPU(),
	}
	for _, p := range plans {
		meta.Workloads[p.name] = p.desc
	}
	meta.Notes = notes
	_ = writeJSON(filepath.Join(dir, "meta.json"), meta)

	type job struct {
		spec ServerSpec
		plan workloadPlan
		n    int
	}
	var jobs []job
	for _, s := range specs {
		for _, p := range plans {
			for _, n := range counts {
				if p.maxConns > 0 && n > p.maxConns {
					continue
				}
				jobs = append(jobs, job{s, p, n})
			}
		}
	}
	// A rough cost model only for the ETA: start/stop, ramp, workload.
	cost := func(j job) float64 { return 0.6 + float64(j.n)/4000 + j.plan.seconds }
	var total float64
	for _, j := range jobs {
		total += cost(j) * float64(o.Reps)
	}
	fmt.Fprintf(stderr, "experiment: %d cells × %d reps, %d servers, counts %v, workloads %s; %s; writing %s\n",
		len(jobs), o.Reps, len(specs), counts, planNames(plans), pinning, dir)

	var stop atomic.Bool
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigc)
	go func() {
		if _, ok := <-sigc; ok {
			stop.Store(true)
			fmt.Fprintln(stderr, "\nexperiment: interrupted; finishing the current run, then writing the report of what ran")
		}
	}()

	var runs []*Run
	var done float64
	for ci, j := range jobs {
		for rep := 1; rep <= o.Reps && !stop.Load(); rep++ {
			el := time.Since(started)
			eta := "?"
			if done > 0 {
				eta = fmtDuration(time.Duration(float64(el) / done * (total - done)))
			} else {
				eta = "~" + fmtDuration(time.Duration(total*float64(time.Second)))
			}
			fmt.Fprintf(stderr, "[cell %d/%d] %-28s %-9s %6d conns  rep %d/%d  elapsed %s  ETA %s\n",
				ci+1, len(jobs), j.spec.Label, j.plan.name, j.n, rep, o.Reps, fmtDuration(el), eta)
			p := execParams{
				rawDir: rawDir, clientPath: clientPath, clientArgs: argsFor(j.plan, j.n), pin: pin, cpus: cpus,
				startTimeout: o.StartTimeout, stopTimeout: o.StopTimeout,
				clientTimeout: time.Duration((30 + j.plan.seconds*3 + float64(j.n)/200) * float64(time.Second)),
			}
			r := runOne(j.spec, j.plan.name, j.n, rep, p)
			if r.Status != StatusOK {
				fmt.Fprintf(stderr, "  -> %s: %s\n", r.Status, r.Detail)
			}
			runs = append(runs, &r)
			_ = writeJSON(filepath.Join(dir, "runs.json"), runs)
			done += cost(j)
		}
	}
	if len(runs) == 0 {
		_ = writeJSON(filepath.Join(dir, "runs.json"), []*Run{})
	}
	meta.Finished = time.Now().Format("2006-01-02 15:04:05 MST")
	if stop.Load() {
		meta.Notes = append(meta.Notes, "the run was interrupted; the report covers only the runs that finished")
	}
	_ = writeJSON(filepath.Join(dir, "meta.json"), meta)

	res, err := LoadResults(dir)
	if err != nil {
		return fail("%v", err)
	}
	if err := WriteReport(res); err != nil {
		return fail("%v", err)
	}
	fmt.Fprintf(stdout, "\n%s\n", Answer(res.Cells))
	fmt.Fprintf(stdout, "\n%s", SummaryTable(res.Cells))
	bad := 0
	for _, r := range runs {
		if r.Status != StatusOK {
			bad++
		}
	}
	if it := Interference(res.Runs); it != "" {
		fmt.Fprintf(stdout, "\n%s\n", it)
	}
	if bad > 0 {
		fmt.Fprintf(stdout, "\n%d of %d runs did not end cleanly (see \"Runs that did not end cleanly\" in the report)\n", bad, len(runs))
	}
	fmt.Fprintf(stdout, "\nfinished in %s; report: %s\n", fmtDuration(time.Since(started)), filepath.Join(dir, "report.md"))
	if stop.Load() {
		return 130
	}
	return 0
}

// matrixCounts is the list of connection counts to run. Explicit -counts
// are kept as asked (the precondition check stops the run if one does not
// fit); default counts that do not fit the fd limit are dropped, with why.
func matrixCounts(o Options, sys System) (counts []int, dropped []string) {
	if o.countsSet {
		return o.Counts, nil
	}
	counts = []int{100, 1000, 10000}
	if o.Quick {
		counts = []int{10, 100}
	}
	fit := sys.maxConnsForFD()
	if o.Full {
		top := fit / 100 * 100
		var keep []int
		for _, c := range []int{100, 1000, 5000, 10000, 15000, 20000, 50000, 100000} {
			if c < top {
				keep = append(keep, c)
			}
		}
		counts = append(keep, top)
	}
	var keep []int
	for _, c := range counts {
		if c <= fit {
			keep = append(keep, c)
			continue
		}
		dropped = append(dropped, fmt.Sprintf("%d connections dropped from the matrix: the open-file hard limit %d leaves room for %d per process (raise it as root with `ulimit -Hn %d` to include it)", c, sys.FDHard, fit, roundUp(c+fdSlack, 1000)))
	}
	return keep, dropped
}

func planNames(ps []workloadPlan) string {
	var n []string
	for _, p := range ps {
		n = append(n, p.name)
	}
	return strings.Join(n, ",")
}

func fmtDuration(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
