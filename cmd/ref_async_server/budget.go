package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/procfs"

	"tenkthreads/internal/membudget"
	"tenkthreads/internal/srvreport"
)

// memLimit parses -m, with the C server's wording of a problem.
func memLimit(arg string) (int64, string) {
	v, err := membudget.ParseSize(arg)
	switch {
	case err != nil:
		return 0, err.Error()
	case v == 0:
		return 0, "memory limit is zero"
	}
	return v, ""
}

// goCost is what a connection costs this server. Without /proc the
// object sizes are the defaults.
func goCost() membudget.Cost {
	fs, _ := procfs.NewDefaultFS()
	return membudget.GoroutineCost(fs)
}

// planBudget sets the memory budget before any worker exists, so that
// each -P worker takes it from the shared page, and gives the Go runtime
// its share of the limit as a soft memory limit.
func (s *server) planBudget() error {
	s.mem = membudget.Open(s.memArg, goCost(), s.c.now.Load)
	if err := s.mem.Plan(s.fixedCost()); err != nil {
		return err
	}
	s.c.memBudget.Store(s.mem.Connections)
	s.c.memSoft.Store(s.mem.SoftLimit(s.startRSS<<10, s.procs))
	if s.mem.Connections > 0 {
		debug.SetMemoryLimit(s.c.memSoft.Load())
	}
	return nil
}

// fixedCost is what the server adds after its start beyond its
// connections: the runtime's threads (one per P, and a few of its own)
// and, under -P, worker processes as large as this one is now.
func (s *server) fixedCost() int64 {
	c := s.mem.Cost
	threads := int64(runtime.GOMAXPROCS(0) + 3)
	fixed := threads * (c.ThreadKernel + c.ThreadUser)
	if s.procs > 1 {
		fixed += int64(s.procs) * (s.startRSS<<10 + threads*(c.ThreadKernel+c.ThreadUser))
	}
	return fixed
}

// workerBudget is a -P worker's: its parent's budget, with the re-check
// of usage against the same limits.
func (s *server) workerBudget() {
	s.mem = membudget.Open(s.memArg, goCost(), s.c.now.Load)
	s.mem.Connections = s.c.memBudget.Load()
	if s.mem.Connections > 0 {
		debug.SetMemoryLimit(s.c.memSoft.Load())
	}
}

// budgetWords is the budget for the start line, or "" without one.
func (s *server) budgetWords() string {
	b := s.mem
	if b.Connections == 0 {
		return ""
	}
	return fmt.Sprintf(", memory limit %s (%s; headroom %s), %.1f KiB per connection, budget %d connections",
		srvreport.Humanize(b.Limit), b.Source, srvreport.Humanize(b.Headroom),
		float64(b.Cost.Conn())/1024, b.Connections)
}

// budgetFigures puts the budget in a report.
func (s *server) budgetFigures(r *srvreport.Report) {
	b := s.mem
	r.MemLimitBytes, r.MemLimitSource, r.MemCgroup = b.Limit, b.Source, b.Cgroup
	r.MemHeadroomBytes, r.MemStartBytes, r.MemFixedBytes = b.Headroom, b.Start, b.Fixed
	r.MemConnBytes, r.MemConnUserBytes = b.Cost.Conn(), b.Cost.User
	r.MemConnKStackBytes, r.MemConnTaskBytes = b.Cost.KernelStack, b.Cost.Task
	r.MemConnSocketBytes, r.MemCostSource = b.Cost.Socket, b.Cost.Source
	r.MemBudget, r.MemUsageBytes = b.Connections, b.Usage()
	r.OverBudget = s.c.overBudget.Load()
}
