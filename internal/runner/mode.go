// Package runner is bin/experiment: it parses the command line, picks a
// mode and runs it as a campaign. A mode is one kind of experiment (the
// default matrix, -bench, -c100k, -models, -keepalive, -soak, -ceiling);
// it declares what to run and what to report (a Plan), and the campaign
// (campaign.go) does the rest the same way for every mode: the system
// checks, the results directory (results/KIND-<date-time>/ with raw/,
// runs.json and meta.json), -tune and its restore, the progress line
// with counts and an ETA, the timeouts (runtime.go), interrupts (SIGINT
// or SIGTERM: finish the current run, write what ran, exit 130) and the
// closing line. Modes return errors; Main maps them to exit statuses
// (exit.go). The jobs they share live in the subpackages: plan (options,
// the kit, servers and workloads, the machine's limits), proc (one run's
// processes and probes), results (the record and the figures), report
// (tables, Markdown, CSV, summaries) and plots.
//
// A new mode is three lines of work:
//
//  1. a file with a type that has Info (its flag, usage and help), Check
//     (embed noCheck if it reads no input of its own) and Plan (its runs,
//     from a list or generated step by step, and its Report);
//  2. its entry in modes below;
//  3. its make target in the Makefile and its summary in
//     cmd/experiment/SCHEMAS.md.
//
// A new flag is a field of plan.Options and its line in plan's flagSet;
// a mode reads it from Setup.O.
package runner

import (
	"tenkthreads/internal/runner/plan"
)

// A Mode is one kind of experiment.
type Mode interface {
	// Info is the flag that selects the mode (Name "bench" for -bench; ""
	// for the default matrix), its part of the usage line and its help.
	Info() plan.ModeFlag
	// Check rejects bad input before anything runs or is read: a
	// plan.UsageError exits 2 with the usage line.
	Check(o plan.Options, env Env) error
	// Plan declares the campaign: its runs and its report. A
	// plan.UsageError is bad input (exit 2); any other error stops the
	// campaign before anything runs (exit 1).
	Plan(s Setup) (*Plan, error)
}

// noCheck is a mode without input of its own to check.
type noCheck struct{}

func (noCheck) Check(plan.Options, Env) error { return nil }

// modes are the kinds of experiment, the default matrix first.
var modes = []Mode{
	matrix{},
	bench{},
	c100k{},
	c1m{},
	models{},
	keepalive{},
	soak{},
	ceiling{},
	compare{},
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
