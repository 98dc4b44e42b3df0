package runner

import (
	"time"

	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/proc"
	"tenkthreads/internal/runner/results"
)

// Setup is what a mode plans from: the command line, the environment,
// the kit under -bin and this machine's limits.
type Setup struct {
	O   plan.Options
	Env Env
	Kit plan.Kit
	Sys plan.System
}

// A Plan is what a mode declares: its runs and its report. The campaign
// (campaign.go) does the rest, the same for every mode.
type Plan struct {
	// Kind names the results directory, results/KIND-<date-time>/ (the
	// matrix's "" gives results/<date-time>/), and tags the progress line.
	Kind string
	// Intro says what is about to run, after "experiment: ".
	Intro string
	// Checks are the limits the largest run needs, checked before
	// anything runs.
	Checks Checks
	// Notes are printed before the first run and go first in meta.json.
	Notes []string
	// Runs is every run, when they are known up front. Steps instead
	// makes the runs one at a time with c.run, when later runs depend on
	// earlier ones (ceiling); Budget then bounds its time, for the ETA.
	Runs   []runSpec
	Steps  func(c *campaign) error
	Budget time.Duration
	// Interleave runs the Runs in rounds, one repetition of every cell
	// each, in a random order within each round (rounds.go); Retry makes
	// a run again, once, when other processes took more than their share
	// of the CPU while it ran.
	Interleave, Retry bool
	// Reps, Counts, Servers and Workloads (name: what it is) describe
	// the campaign in meta.json; a server or a workload that runs is
	// added if missing. Command reproduces the run ("": the command
	// line's).
	Reps      int
	Counts    []int
	Servers   []results.ServerSpec
	Workloads map[string]string
	Command   string
	// Report makes the mode's summary of what ran, interrupted or not.
	Report func(r Ran) (Summary, error)
	// Cleanup, when not nil, removes what planning made (a build), once
	// the campaign is over, whatever its end.
	Cleanup func()
}

// Checks are the limits a campaign's largest run (Conns connections)
// needs: plan.CheckSystem's or plan.C100KPreconds' rows.
type Checks struct {
	Conns int
	Rows  []results.Precond
}

// Ran is what a campaign ran, for its mode's report.
type Ran struct {
	Res     *results.Results
	Started time.Time
}

// A Summary is a mode's report of what ran, which the campaign writes
// and prints.
type Summary struct {
	// Text is printed on stdout.
	Text string
	// Markdown keeps the standard report (report.md and its plots) in
	// the directory, with Head on top of report.md; Brief keeps report.md
	// as Head and the run's setting only (report.WriteBrief). Without
	// either, File is the summary the closing line names.
	Markdown, Brief bool
	Head            string
	File            string
	// Verdict is a negative verdict: the campaign exits 1 with it, once
	// everything is written.
	Verdict error
}

// runSpec is one run's whole description.
type runSpec struct {
	spec       results.ServerSpec
	workload   string
	n, rep     int
	clientArgs []string
	// time is what the client spends, by part; the ETA and the run's
	// timeout both come from it (runtime.go).
	time runTime
	// phase names a generated run's step in the progress line
	// ("calibration").
	phase string
	// probe takes the SIGUSR1 reports (the client must run with -hold);
	// accept times the server's threads during the ramp; count counts
	// what the kernel does for the server (proc.Params.Count).
	probe, accept, count bool
	// machine keeps the run's machine record (hold workloads only).
	machine bool
	// srvProcs and cliProcs are the server's -P and the client's -procs
	// the fd limit needs (0: one process); run sizes both to the CPUs.
	srvProcs, cliProcs int
	// memFloorKiB stops the run when MemAvailable falls below it (0: never).
	memFloorKiB int64
	// linger runs the client with -linger (proc.Params.Linger): the
	// readings are taken while it holds every verified connection, and
	// the server is stopped, and its exit timed, before it closes them.
	// stopTimeout, when longer than -stop-timeout, is what the server
	// gets to exit.
	linger      bool
	stopTimeout time.Duration
	// exec runs it in place of a server and one client (the soak's
	// warm-up, churn and idle readings); nil for proc.Run.
	exec func(spec results.ServerSpec, workload string, n, rep int, p proc.Params) results.Run
}
