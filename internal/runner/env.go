package runner

import (
	"tenkthreads/internal/runner/proc"
	"tenkthreads/internal/runner/results"
)

// Env is what a run takes from outside its command line: the process's
// environment, and the seams tests fill to run fakes or to simulate a
// machine. The zero Env is a run with an empty environment on this
// machine.
type Env struct {
	// Getenv reads the environment (QUICK and FULL are read when parsing;
	// DELAY and the soak's SOAK_* here); nil reads nothing.
	Getenv func(string) string
	// Servers replaces a mode's servers (tests run fakes or a few models).
	Servers []results.ServerSpec
	// Concurrency replaces the -models concurrency list.
	Concurrency []int
	// SysctlRoot is where -tune writes the sysctls ("" for /proc/sys);
	// tests point it at a directory of fakes.
	SysctlRoot string
	// ProcRoot is the /proc of the machine-wide memory counters
	// (meminfo, slabinfo); "" for /proc. Tests point it at a tree without
	// slabinfo.
	ProcRoot string
	// Interrupt, when not nil, stands for SIGINT and SIGTERM, which the
	// campaign then leaves alone: closing it interrupts the campaign.
	Interrupt <-chan struct{}
	// OrderSeed, when not 0, is the seed of an interleaved campaign's run
	// order in place of a new one, so that a test can repeat an order.
	OrderSeed uint64
	// Exec, when not nil, runs every run in place of its server and
	// client, so that a test can follow a whole campaign in moments.
	Exec func(spec results.ServerSpec, workload string, n, rep int, p proc.Params) results.Run
}

// getenv is the environment variable k, "" when unset or when e reads no
// environment.
func (e Env) getenv(k string) string {
	if e.Getenv == nil {
		return ""
	}
	return e.Getenv(k)
}

// sysctlRoot is where -tune writes the sysctls.
func (e Env) sysctlRoot() string {
	if e.SysctlRoot == "" {
		return "/proc/sys"
	}
	return e.SysctlRoot
}
