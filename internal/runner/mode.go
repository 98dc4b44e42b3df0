// Package runner is bin/experiment: it parses the command line, picks a
// mode and runs it. A mode is one kind of experiment (the default matrix,
// -bench, -c100k, -models, -keepalive, -soak, -ceiling); the jobs they share live in the
// subpackages: plan (options, the kit, servers and workloads, the
// machine's limits), proc (one run's processes and probes), results (the
// record and the figures), report (tables, Markdown, CSV, summaries) and
// plots.
package runner

import (
	"fmt"
	"io"

	"tenkthreads/internal/runner/plan"
)

// A Mode is one kind of experiment.
type Mode interface {
	// Info is the flag that selects the mode (Name "bench" for -bench; ""
	// for the default matrix), its part of the usage line and its help.
	Info() plan.ModeFlag
	// Run runs the experiment and returns the exit status: 0, 1 when it
	// could not run or its verdict is negative, 130 when interrupted.
	Run(o plan.Options, env Env, stdout, stderr io.Writer) int
}

// A Checker is a mode with rules of its own for the options: a
// plan.UsageError exits 2 with the usage line.
type Checker interface {
	Check(o *plan.Options, env Env) error
}

// modes are the kinds of experiment, the default matrix first. A new mode
// is a file with a type that implements Mode, and one entry here.
var modes = []Mode{
	matrix{},
	bench{},
	c100k{},
	models{},
	keepalive{},
	soak{},
	ceiling{},
}

func modeFlags() []plan.ModeFlag {
	var out []plan.ModeFlag
	for _, m := range modes {
		out = append(out, m.Info())
	}
	return out
}

func modeOf(o plan.Options) Mode {
	for _, m := range modes {
		if m.Info().Name == o.Mode {
			return m
		}
	}
	return modes[0]
}

// fail prints one "experiment: ..." line and gives the exit status of a
// failed run or precondition.
func fail(stderr io.Writer, format string, a ...any) int {
	fmt.Fprintf(stderr, "experiment: "+format+"\n", a...)
	return 1
}

// problems prints the shortfalls that stop a run before it starts; it
// says whether there were any.
func problems(stderr io.Writer, ps []string) bool {
	if len(ps) == 0 {
		return false
	}
	fmt.Fprintf(stderr, "experiment: precondition failed, nothing was run:\n")
	for _, p := range ps {
		fmt.Fprintf(stderr, "  - %s\n", p)
	}
	return true
}
