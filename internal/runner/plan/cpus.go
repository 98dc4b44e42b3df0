package plan

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"tenkthreads/internal/runner/results"
	"tenkthreads/internal/sysinfo"
)

// CPUSets are the disjoint CPUs the server and the client are pinned to.
// The client costs about as much CPU per round trip as the server, so
// each side gets half of what the runner may use; an odd CPU goes to the
// client, which otherwise caps every design first.
type CPUSets struct {
	Server []int `json:"server"`
	Client []int `json:"client"`
}

// AllowedCPUs is the CPUs this process may run on (its affinity, which a
// cpuset or taskset narrows), not every online CPU; tests replace it.
var AllowedCPUs = func() ([]int, error) { return sysinfo.Host.AllowedCPUs(os.Getpid()) }

// ErrOneCPU says there is no second CPU to pin the client to.
var ErrOneCPU = errors.New("only one CPU available")

// SplitCPUs gives the server and the client their CPUs: the lists of
// -server-cpus and -client-cpus when given (one alone leaves the rest of
// allowed to the other side), else the first half of allowed to the
// server and the rest to the client. A list that does not parse, names a
// CPU outside allowed or overlaps the other is a UsageError.
func SplitCPUs(allowed []int, server, client string) (CPUSets, error) {
	var s CPUSets
	var err error
	if server != "" {
		if s.Server, err = cpuFlag("-server-cpus", server, allowed); err != nil {
			return CPUSets{}, err
		}
	}
	if client != "" {
		if s.Client, err = cpuFlag("-client-cpus", client, allowed); err != nil {
			return CPUSets{}, err
		}
	}
	switch {
	case server == "" && client == "":
		if len(allowed) < 2 {
			return CPUSets{}, ErrOneCPU
		}
		half := len(allowed) / 2
		return CPUSets{Server: slices.Clone(allowed[:half]), Client: slices.Clone(allowed[half:])}, nil
	case client == "":
		s.Client = without(allowed, s.Server)
	case server == "":
		s.Server = without(allowed, s.Client)
	}
	if c := common(s.Server, s.Client); c >= 0 {
		return CPUSets{}, UsageError{fmt.Sprintf("-server-cpus and -client-cpus share CPU %d: the sets must be disjoint", c)}
	}
	if len(s.Server) == 0 || len(s.Client) == 0 {
		side := "-server-cpus"
		if len(s.Client) == 0 {
			side = "-client-cpus"
		}
		return CPUSets{}, UsageError{fmt.Sprintf("%s: no CPU is left for it among the CPUs this process may use (%s)", side, FormatCPUList(allowed))}
	}
	return s, nil
}

func cpuFlag(flag, list string, allowed []int) ([]int, error) {
	cpus, err := ParseCPUList(list)
	if err != nil {
		return nil, UsageError{fmt.Sprintf("%s %s: %v", flag, list, err)}
	}
	for _, c := range cpus {
		if !slices.Contains(allowed, c) {
			return nil, UsageError{fmt.Sprintf("%s %s: CPU %d is not one this process may use (%s)", flag, list, c, FormatCPUList(allowed))}
		}
	}
	return cpus, nil
}

// without is the CPUs of all not in some.
func without(all, some []int) []int {
	var out []int
	for _, c := range all {
		if !slices.Contains(some, c) {
			out = append(out, c)
		}
	}
	return out
}

// common is a CPU both sets hold, or -1.
func common(a, b []int) int {
	for _, c := range a {
		if slices.Contains(b, c) {
			return c
		}
	}
	return -1
}

// maxCPU bounds the numbers of a list (the kernel's NR_CPUS is at most
// 8192), so a typo cannot ask for a billion-entry set.
const maxCPU = 8191

// ParseCPUList reads a CPU list in taskset's syntax: numbers and ranges
// separated by commas, a range optionally with a stride ("0-7,16",
// "0-15:2"). It returns the CPUs sorted, each once.
func ParseCPUList(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("empty CPU list")
	}
	var out []int
	for _, part := range strings.Split(s, ",") {
		cpus, err := cpuRange(strings.TrimSpace(part))
		if err != nil {
			return nil, err
		}
		out = append(out, cpus...)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// cpuRange is one item of a list: N, N-M or N-M:STRIDE.
func cpuRange(part string) ([]int, error) {
	num := func(f string) (int, error) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 || n > maxCPU {
			return 0, fmt.Errorf("%q is not a CPU number (0-%d)", f, maxCPU)
		}
		return n, nil
	}
	rng, strideText, hasStride := strings.Cut(part, ":")
	loText, hiText, isRange := strings.Cut(rng, "-")
	lo, err := num(loText)
	if err != nil {
		return nil, err
	}
	hi, stride := lo, 1
	if isRange {
		if hi, err = num(hiText); err != nil {
			return nil, err
		}
		if hi < lo {
			return nil, fmt.Errorf("range %q runs backwards", rng)
		}
	}
	if hasStride {
		if stride, err = strconv.Atoi(strideText); err != nil || stride < 1 || !isRange {
			return nil, fmt.Errorf("%q: a stride is a positive number after a range (0-15:2)", part)
		}
	}
	var out []int
	for c := lo; c <= hi; c += stride {
		out = append(out, c)
	}
	return out, nil
}

// FormatCPUList writes CPUs the way the kernel's *_list files and taskset
// do: "0-3,6".
func FormatCPUList(cpus []int) string {
	var parts []string
	for i := 0; i < len(cpus); {
		j := i
		for j+1 < len(cpus) && cpus[j+1] == cpus[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, strconv.Itoa(cpus[i])+"-"+strconv.Itoa(cpus[j]))
		} else {
			parts = append(parts, strconv.Itoa(cpus[i]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// Describe says where each side runs, as the report's pinning line; with
// one CPU each it reads as it always did.
func (s CPUSets) Describe() string {
	side := func(cpus []int) string {
		if len(cpus) == 1 {
			return "CPU " + FormatCPUList(cpus)
		}
		return fmt.Sprintf("CPUs %s (%d)", FormatCPUList(cpus), len(cpus))
	}
	return fmt.Sprintf("server on %s, client on %s (taskset -c)", side(s.Server), side(s.Client))
}

// ClientProcs is the client's -procs for n connections that need at least
// needed processes (the fd limit): at least one per client CPU, since one
// Go process per CPU spreads the dials and round trips over the set, and
// never more than n.
func (s CPUSets) ClientProcs(n, needed int) int {
	return max(1, min(n, max(needed, len(s.Client))))
}

// SizeServer fits a server to its CPUs: an event-loop model runs one loop
// per server CPU, spread over its -P processes; the Go reference gets
// GOMAXPROCS = server CPUs (in each process); thread and process models
// are left as they are. A flag is added only where it differs from the
// program's own default, so on one server CPU nothing changes.
func (s CPUSets) SizeServer(spec results.ServerSpec, f Facts, procs int) results.ServerSpec {
	n := len(s.Server)
	out := spec
	out.Args = slices.Clone(spec.Args)
	switch {
	case n == 0:
	case f.EventLoops && !slices.Contains(spec.Args, "-w"):
		if w := (n + max(1, procs) - 1) / max(1, procs); w != f.DefaultWorkers {
			out.Args = append(out.Args, "-w", strconv.Itoa(w))
		}
	case f.GoRuntime && n > 1:
		out.Env = append(slices.Clone(spec.Env), "GOMAXPROCS="+strconv.Itoa(n))
	}
	return out
}

// Facts is what sizing needs to know of a server.
type Facts struct {
	EventLoops     bool // -w counts event loops
	DefaultWorkers int  // the model's -w default
	GoRuntime      bool // the Go reference server
}
