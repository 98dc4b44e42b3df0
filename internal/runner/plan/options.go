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
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"tenkthreads/internal/runner/results"
)

// Options is what the command line says; tests build it directly too.
// What a run takes from elsewhere (the environment, test seams) is the
// runner's Env.
type Options struct {
	// Mode is the flag of the selected mode ("bench" for -bench), "" for
	// the experiment matrix; Args are the arguments after the flags, which
	// only -soak takes (its model).
	Mode string
	Args []string

	Quick, Full bool
	// Reps, Counts, Hold and Echo (-duration) say whether they were
	// given, so that a mode keeps its own default otherwise.
	Reps       Opt[int]
	Counts     Opt[[]int]
	Hold, Echo Opt[time.Duration]
	Servers    []string
	Workloads  []string
	Out        string
	Bin        string
	NoPin      bool
	Report     string
	// Docs writes the pages of the results directories in Args and
	// rewrites the docs' quoted tables (-docs).
	Docs bool
	// StopTimeout is how long a server may take to exit after SIGINT.
	StopTimeout time.Duration
	// ServerCPUs and ClientCPUs are -server-cpus and -client-cpus, CPU
	// lists in taskset's syntax; "" splits the CPUs this process may use.
	ServerCPUs, ClientCPUs string
	// Budget bounds the time -ceiling spends (0: its default).
	Budget time.Duration
	// Tune lets -c100k and -ceiling raise sysctls as root and restore
	// them afterwards.
	Tune bool
	// Command is the command line that reproduces the run.
	Command string
	// Where the sides run: Topology "local" (this machine, loopback) or
	// "netns" (network namespaces of this machine); or ServerHost and
	// ClientHosts over ssh ([user@]host[:port] each, or from the file
	// HostsFile: the server on its first line), with SSHConfig as ssh's -F.
	Topology             string
	ServerHost           string
	ClientHosts          []string
	HostsFile, SSHConfig string
	Link                 LinkShaping
}

// LinkShaping is what each link of -topology netns does to what it
// carries, each way: a rate (tbf or htb), and netem's delay and loss
// where the kernel has netem.
type LinkShaping struct {
	RateMbit float64
	HTB      bool
	Delay    time.Duration
	LossPct  float64
}

// Remote says the sides run on other hosts, over ssh.
func (o Options) Remote() bool { return o.ServerHost != "" || o.HostsFile != "" }

// Opt is a flag's value and whether the command line gave it.
type Opt[T any] struct {
	V     T
	Given bool
}

// Given is the value v, as if the command line gave it.
func Given[T any](v T) Opt[T] { return Opt[T]{V: v, Given: true} }

// Or is the value given, else def.
func (o Opt[T]) Or(def T) T {
	if o.Given {
		return o.V
	}
	return def
}

// ModeFlag is one mode's flag: -Name selects it. Flags are the flags of
// its own the mode reads (quick, reps, counts and the like, as named in
// modeOnly); one of those given with a mode that does not read it is a
// usage error. The flags every mode reads (-out, -bin, -no-pin,
// -server-cpus, -client-cpus, -stop-timeout) are not listed.
type ModeFlag struct {
	Name, Usage, Help string
	Flags             []string
}

// modeOnly are the flags only some modes read.
var modeOnly = []string{"quick", "full", "reps", "counts", "servers", "workloads", "hold", "duration", "tune", "budget"}

// UsageError is bad input on the command line: exit 2 with the usage line.
type UsageError struct{ Msg string }

func (e UsageError) Error() string { return e.Msg }

// UsageLine is the usage line for these modes; the first is the matrix.
func UsageLine(modes []ModeFlag) string {
	parts := []string{modes[0].Usage, "-report DIR", "-docs [DIR ...]"}
	for _, m := range modes[1:] {
		parts = append(parts, m.Usage)
	}
	return "usage: experiment " + strings.Join(parts, " | ") + topologyUsage
}

// Parse reads the command line. -h gives flag.ErrHelp with the flags'
// help written to help; bad input gives a UsageError.
func Parse(args []string, getenv func(string) string, modes []ModeFlag, help io.Writer) (Options, error) {
	var o Options
	fs, selected, v := flagSet(&o, modes)
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
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	o.Reps = Opt[int]{*v.reps, given["reps"]}
	o.Hold = Opt[time.Duration]{*v.hold, given["hold"]}
	o.Echo = Opt[time.Duration]{*v.echo, given["duration"]}
	o.Args = fs.Args()
	if err := o.check(getenv, modes, selected); err != nil {
		return o, err
	}
	if err := o.flagsApply(modes, given); err != nil {
		return o, err
	}
	if err := o.lists(v); err != nil {
		return o, err
	}
	if err := o.checkTopology(*v.clientHosts, given); err != nil {
		return o, err
	}
	o.Command = reproCommand(args, getenv)
	return o, nil
}

// flagValues are the flags Parse turns into Opt values or parses itself.
type flagValues struct {
	reps                      *int
	hold, echo                *time.Duration
	counts, servers, workload *string
	clientHosts               *string
}

// flagSet defines every flag into o; selected holds the modes' flags and
// v the flags Parse reads itself.
func flagSet(o *Options, modes []ModeFlag) (*flag.FlagSet, map[string]*bool, flagValues) {
	fs := flag.NewFlagSet("experiment", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.BoolVar(&o.Quick, "quick", false, "smoke run: 1 repetition, tiny counts, short workloads (also QUICK=1)")
	fs.BoolVar(&o.Full, "full", false, "add counts up to what the fd limit allows (also FULL=1)")
	var v flagValues
	v.reps = fs.Int("reps", 0, "repetitions per cell (default 3, quick 1)")
	v.counts = fs.String("counts", "", "comma-separated connection counts (default 100,1000,10000)")
	v.servers = fs.String("servers", "", "comma-separated servers: 10kthreads[:MODEL], ref_async_server (default: all available)")
	v.workload = fs.String("workloads", "", "comma-separated workloads: hold, echo, reconnect (default: all)")
	fs.StringVar(&o.Out, "out", "results", "directory under which results/<date-time>/ is created")
	fs.StringVar(&o.Bin, "bin", "bin", "directory holding 10kthreads, ref_async_server and client")
	fs.BoolVar(&o.NoPin, "no-pin", false, "do not pin the server and the client to separate CPUs")
	fs.StringVar(&o.ServerCPUs, "server-cpus", "", "CPUs to pin the server to, as taskset lists them (0-7,16); default: the first half of the CPUs the runner may use")
	fs.StringVar(&o.ClientCPUs, "client-cpus", "", "CPUs to pin the client to (default: the CPUs the server does not get)")
	fs.StringVar(&o.Report, "report", "", "rebuild the report of an existing results directory and exit")
	fs.BoolVar(&o.Docs, "docs", false, "write each results directory named after the flags as its page under docs/results, then rewrite the quoted tables of README.md and docs/ (make docs)")
	v.hold = fs.Duration("hold", 0, "how long the hold workload keeps connections idle (default 1s, quick 200ms)")
	v.echo = fs.Duration("duration", 0, "how long the echo and reconnect workloads run (default 1s, quick 500ms)")
	fs.DurationVar(&o.StopTimeout, "stop-timeout", 20*time.Second, "how long a server may take to exit after SIGINT before it is killed")
	fs.BoolVar(&o.Tune, "tune", false, "with -c100k or -ceiling, as root: raise the sysctls the run needs and restore them afterwards")
	fs.DurationVar(&o.Budget, "budget", 0, "with -ceiling: how long its steps may take (default: no bound; they stop at the prediction or the first failure)")
	topologyFlags(fs, o, &v)
	selected := map[string]*bool{}
	for _, m := range modes[1:] {
		selected[m.Name] = fs.Bool(m.Name, false, m.Help)
	}
	return fs, selected, v
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
	if o.Docs {
		chosen++
	}
	switch {
	case o.Quick && o.Full:
		return UsageError{"-quick (QUICK=1) and -full (FULL=1) exclude each other"}
	case o.Reps.Given && o.Reps.V < 1:
		return UsageError{"-reps must be at least 1"}
	case o.Hold.V < 0 || o.Echo.V < 0:
		return UsageError{"-hold and -duration must not be negative"}
	case chosen > 1:
		return UsageError{strings.Join(names, ", ") + ", -report and -docs exclude each other"}
	case o.Budget < 0:
		return UsageError{"-budget must be positive"}
	case o.Mode != "" && o.Full:
		return UsageError{"-full (FULL=1) applies to the experiment matrix only"}
	case o.Mode == "compare" && len(o.Args) != 2:
		return UsageError{fmt.Sprintf("-compare takes two things to compare, A and B; got %d", len(o.Args))}
	case !o.Docs && o.Mode != "compare" && (len(o.Args) > 1 || len(o.Args) == 1 && o.Mode != "soak"):
		return UsageError{"unexpected argument " + strconv.Quote(o.Args[len(o.Args)-1])}
	case o.NoPin && (o.ServerCPUs != "" || o.ClientCPUs != ""):
		return UsageError{"-no-pin excludes -server-cpus and -client-cpus"}
	}
	if _, err := o.Pinning(); errors.As(err, new(UsageError)) {
		return err
	}
	return nil
}

// flagsApply says which flag given on the command line the selected mode
// (or -report) does not read, and which modes do.
func (o *Options) flagsApply(modes []ModeFlag, given map[string]bool) error {
	sel := modes[0]
	for _, m := range modes[1:] {
		if m.Name == o.Mode {
			sel = m
		}
	}
	name := modeName(sel)
	if o.Report != "" {
		sel, name = ModeFlag{}, "-report"
	}
	if o.Docs {
		sel, name = ModeFlag{}, "-docs"
	}
	for _, f := range modeOnly {
		if !given[f] || slices.Contains(sel.Flags, f) {
			continue
		}
		var takers []string
		for _, m := range modes {
			if slices.Contains(m.Flags, f) {
				takers = append(takers, modeName(m))
			}
		}
		return UsageError{fmt.Sprintf("-%s does not apply to %s; it goes with %s", f, name, strings.Join(takers, ", "))}
	}
	return nil
}

// modeName is how a usage error names a mode.
func modeName(m ModeFlag) string {
	if m.Name == "" {
		return "the experiment matrix"
	}
	return "-" + m.Name
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
func (o *Options) lists(v flagValues) error {
	counts, servers, workloads := *v.counts, *v.servers, *v.workload
	if counts != "" {
		o.Counts.Given = true
		for _, f := range strings.Split(counts, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				return UsageError{"bad connection count " + strconv.Quote(f)}
			}
			o.Counts.V = append(o.Counts.V, n)
		}
		sort.Ints(o.Counts.V)
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
