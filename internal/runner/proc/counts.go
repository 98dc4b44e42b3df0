package proc

import (
	"tenkthreads/internal/perfcount"
	"tenkthreads/internal/runner/results"
)

// counter counts what the kernel does for the server's processes over a
// counted run (Params.Count), from the idle server to its exit.
type counter struct {
	h   *perfcount.Handle
	why string // why nothing is counted, when h is nil
}

// startCounts attaches the counters to the idle server's processes.
func startCounts(pid int) counter {
	h, err := perfcount.Start(pid)
	if err != nil {
		return counter{why: err.Error()}
	}
	return counter{h: h}
}

// stop reads the counts once the server has exited.
func (c counter) stop() *results.Counts {
	if c.h == nil {
		return &results.Counts{Missing: []string{"every count: " + c.why}}
	}
	defer c.h.Close()
	pc, err := c.h.Stop()
	if err != nil {
		return &results.Counts{Missing: []string{"every count: " + err.Error()}}
	}
	n := func(k perfcount.Counter) results.Num {
		if !k.Set {
			return results.Num{}
		}
		return results.N(float64(k.Value))
	}
	return &results.Counts{ContextSwitches: n(pc.ContextSwitches), Syscalls: n(pc.Syscalls), Migrations: n(pc.Migrations),
		PageFaults: n(pc.PageFaults), Cycles: n(pc.Cycles), Instructions: n(pc.Instructions),
		Missing: append(pc.Missing(), pc.Notes...)}
}
