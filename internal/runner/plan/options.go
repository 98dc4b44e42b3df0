// Package plan is what a run of bin/experiment is going to do: the
// options of its command line, the kit it drives (the binaries and the
// models bin/10kthreads says it has), the servers and workloads to run,
// and whether this machine can hold them.
package plan

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"tenkthreads/internal/runner/results"
)

// Options is the parsed command line; tests build it directly too.
type Options struct {
	// Mode is the flag of the selected mode ("bench" for -bench), "" for
	// the experiment matrix; Args are the arguments after the flags, which
	// only -soak takes (its model).
	Mode string
	Args []string

	Quick, Full  bool
	Reps         int
	Counts       []int
	Servers      []string
	Workloads    []string
	Out          string
	Bin          string
	NoPin        bool
	Report       string
	Hold, Echo   time.Duration
	StopTimeout  time.Duration
	StartTimeout time.Duration
	// ServerCPUs and ClientCPUs are -server-cpus and -client-cpus, CPU
	// lists in taskset's syntax; "" splits the CPUs this process may use.
	ServerCPUs, ClientCPUs string
	// Budget bounds the time -ceiling spends (0: its default).
	Budget time.Duration
	// Tune lets -c100k raise sysctls as root and restore them afterwards.
	Tune bool
	// Command is the command line that reproduces the run.
	Command string
	// RepsSet, CountsSet, HoldSet and EchoSet say the flag was given, so a
	// mode keeps its own default otherwise.
	RepsSet, CountsSet, HoldSet, EchoSet bool

	// Getenv reads the environment (the soak's SOAK_* variables).
	Getenv func(string) string
	// ServerOverride replaces the server list (tests use fake servers).
	ServerOverride []results.ServerSpec
	// SysctlRoot is /proc/sys; tests point it at a directory of fakes.
	SysctlRoot string
	// ProcRoot is the /proc of the machine-wide memory counters (meminfo,
	// slabinfo); "" for /proc. Tests point it at a tree without slabinfo.
	ProcRoot string
	// Concurrency overrides the -models concurrency list (tests).
	Concurrency []int
}

// ModeFlag is one mode's flag: -Name selects it.
type ModeFlag struct{ Name, Usage, Help string }

// UsageError is bad input on the command line: exit 2 with the usage line.
type UsageError struct{ Msg string }

func (e UsageError) Error() string { return e.Msg }

// UsageLine is the usage line for these modes; the first is the matrix.
func UsageLine(modes []ModeFlag) string {
	parts := []string{modes[0].Usage, "-report DIR"}
	for _, m := range modes[1:] {
		parts = append(parts, m.Usage)
	}
	return "usage: experiment " + strings.Join(parts, " | ")
}

// Parse reads the command line. -h gives flag.ErrHelp with the flags'
// help written to help; bad input gives a UsageError.
func Parse(args []string, getenv func(string) string, modes []ModeFlag, help io.Writer) (Options, error) {
	o := Options{Getenv: getenv}
	fs, selected, lists := flagSet(&o, modes)
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(help, UsageLine(modes))
		fs.SetOutput(help)
		fs.PrintDefaults()
		return o, err
	}
	if err != nil {
		return o, UsageError{err.Error()}
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "reps":
			o.RepsSet = true
		case "hold":
			o.HoldSet = true
		case "duration":
			o.EchoSet = true
		}
	})
	o.Args = fs.Args()
	if err := o.check(getenv, modes, selected); err != nil {
		return o, err
	}
	if err := o.lists(lists); err != nil {
		return o, err
	}
	o.defaults()
	o.Command = reproCommand(args, getenv)
	return o, nil
}

// flagSet defines every flag into o; selected holds the modes' flags and
// lists the comma-separated ones.
func flagSet(o *Options, modes []ModeFlag) (*flag.FlagSet, map[string]*bool, [3]*string) {
	fs := flag.NewFlagSet("experiment", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.BoolVar(&o.Quick, "quick", false, "smoke run: 1 repetition, tiny counts, short workloads (also QUICK=1)")
	fs.BoolVar(&o.Full, "full", false, "add counts up to what the fd limit allows (also FULL=1)")
	fs.IntVar(&o.Reps, "reps", 0, "repetitions per cell (default 3, quick 1)")
	counts := fs.String("counts", "", "comma-separated connection counts (default 100,1000,10000)")
	servers := fs.String("servers", "", "comma-separated servers: 10kthreads[:MODEL], ref_async_server (default: all available)")
	workloads := fs.String("workloads", "", "comma-separated workloads: hold, echo, reconnect (default: all)")
	fs.StringVar(&o.Out, "out", "results", "directory under which results/<date-time>/ is created")
	fs.StringVar(&o.Bin, "bin", "bin", "directory holding 10kthreads, ref_async_server and client")
	fs.BoolVar(&o.NoPin, "no-pin", false, "do not pin the server and the client to separate CPUs")
	fs.StringVar(&o.ServerCPUs, "server-cpus", "", "CPUs to pin the server to, as taskset lists them (0-7,16); default: the first half of the CPUs the runner may use")
	fs.StringVar(&o.ClientCPUs, "client-cpus", "", "CPUs to pin the client to (default: the CPUs the server does not get)")
	fs.StringVar(&o.Report, "report", "", "rebuild the report of an existing results directory and exit")
	fs.DurationVar(&o.Hold, "hold", 0, "how long the hold workload keeps connections idle (default 1s, quick 200ms)")
	fs.DurationVar(&o.Echo, "duration", 0, "how long the echo and reconnect workloads run (default 1s, quick 500ms)")
	fs.DurationVar(&o.StopTimeout, "stop-timeout", 20*time.Second, "how long a server may take to exit after SIGINT before it is killed")
	fs.BoolVar(&o.Tune, "tune", false, "with -c100k or -ceiling, as root: raise the sysctls the run needs and restore them afterwards")
	fs.DurationVar(&o.Budget, "budget", 0, "with -ceiling: how long it may take (default 5m, quick 90s)")
	selected := map[string]*bool{}
	for _, m := range modes[1:] {
		selected[m.Name] = fs.Bool(m.Name, false, m.Help)
	}
	return fs, selected, [3]*string{counts, servers, workloads}
}

// check applies the rules that span flags and modes.
func (o *Options) check(getenv func(string) string, modes []ModeFlag, selected map[string]*bool) error {
	o.Quick = o.Quick || getenv("QUICK") == "1"
	o.Full = o.Full || getenv("FULL") == "1"
	var names []string
	chosen := 0
	for _, m := range modes[1:] {
		names = append(names, "-"+m.Name)
		if *selected[m.Name] {
			o.Mode = m.Name
			chosen++
		}
	}
	if o.Report != "" {
		chosen++
	}
	switch {
	case o.Quick && o.Full:
		return UsageError{"-quick (QUICK=1) and -full (FULL=1) exclude each other"}
	case o.Reps < 0:
		return UsageError{"-reps must be at least 1"}
	case chosen > 1:
		return UsageError{strings.Join(names, ", ") + " and -report exclude each other"}
	case o.Tune && o.Mode != "c100k" && o.Mode != "ceiling":
		return UsageError{"-tune goes with -c100k or -ceiling"}
	case o.Budget != 0 && o.Mode != "ceiling":
		return UsageError{"-budget goes with -ceiling"}
	case o.Budget < 0:
		return UsageError{"-budget must be positive"}
	case o.Mode != "" && o.Full:
		return UsageError{"-full (FULL=1) applies to the experiment matrix only"}
	case len(o.Args) > 1 || len(o.Args) == 1 && o.Mode != "soak":
		return UsageError{"unexpected argument " + strconv.Quote(o.Args[len(o.Args)-1])}
	case o.NoPin && (o.ServerCPUs != "" || o.ClientCPUs != ""):
		return UsageError{"-no-pin excludes -server-cpus and -client-cpus"}
	}
	if _, err := o.Pinning(); errors.As(err, new(UsageError)) {
		return err
	}
	return nil
}

// Pinning is the CPU sets of the run: from -server-cpus and -client-cpus,
// or half each of the CPUs this process may use. A bad list is a
// UsageError; ErrOneCPU or a failure to read the affinity means the run
// cannot be pinned.
func (o Options) Pinning() (CPUSets, error) {
	allowed, err := AllowedCPUs()
	if err != nil {
		return CPUSets{}, fmt.Errorf("cannot read the CPUs this process may use: %v", err)
	}
	return SplitCPUs(allowed, o.ServerCPUs, o.ClientCPUs)
}

// lists parses -counts, -servers and -workloads.
func (o *Options) lists(l [3]*string) error {
	counts, servers, workloads := *l[0], *l[1], *l[2]
	if counts != "" {
		o.CountsSet = true
		for _, f := range strings.Split(counts, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				return UsageError{"bad connection count " + strconv.Quote(f)}
			}
			o.Counts = append(o.Counts, n)
		}
		sort.Ints(o.Counts)
	}
	if servers != "" {
		o.Servers = strings.Split(servers, ",")
	}
	if workloads != "" {
		for _, w := range strings.Split(workloads, ",") {
			if _, ok := results.WorkloadOrder[w]; !ok {
				return UsageError{"unknown workload " + strconv.Quote(w) + " (hold, echo, reconnect)"}
			}
			o.Workloads = append(o.Workloads, w)
		}
	}
	return nil
}

func (o *Options) defaults() {
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
	// 1 s: the matrix compares four servers (thread, epoll, uring, Go) in
	// about 3 minutes; a second of closed-loop echo is tens of thousands
	// of round trips per cell.
	if o.Echo == 0 {
		o.Echo = time.Second
		if o.Quick {
			o.Echo = 500 * time.Millisecond
		}
	}
	o.StartTimeout = 10 * time.Second
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
