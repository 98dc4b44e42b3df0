package proc

import (
	"time"

	"tenkthreads/internal/runner/results"
	"tenkthreads/internal/sysinfo"
)

// sampler watches the server from outside while the client runs: the
// server's own report comes at exit, after its threads (and their kernel
// stacks) are gone, so the peak must be observed live.
type sampler struct {
	done chan struct{}
	res  chan results.Sample
}

func kernelStackKiB() results.Num {
	if k, err := sysinfo.Host.KernelStackKiB(); err == nil {
		return results.N(float64(k))
	}
	return results.Num{}
}

// startSampler samples srv every 0.1 s; with a memory floor (KiB, 0 for
// none) it kills the server's group when MemAvailable falls below it.
func startSampler(srv *Server, kstack0 results.Num, floorKiB int64) *sampler {
	s := &sampler{done: make(chan struct{}), res: make(chan results.Sample, 1)}
	pid := srv.Pid
	go func() {
		var out results.Sample
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			take(&out, pid, kstack0)
			if m := memAvailableKiB(); floorKiB > 0 && m.Set && m.V < float64(floorKiB) && !out.MemFloorHit {
				out.MemFloorHit = true
				srv.KillGroup()
			}
			select {
			case <-s.done:
				take(&out, pid, kstack0)
				s.res <- out
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// take adds one observation: the peaks of the machine's KernelStack growth,
// of the server's threads and of its VmHWM.
func take(out *results.Sample, pid int, kstack0 results.Num) {
	if k := kernelStackKiB(); k.Set && kstack0.Set {
		if d := k.V - kstack0.V; !out.KStackPeakDeltaKiB.Set || d > out.KStackPeakDeltaKiB.V {
			out.KStackPeakDeltaKiB = results.N(d)
		}
	}
	m, err := sysinfo.Host.Mem(pid)
	if err != nil {
		return
	}
	t, h := float64(m.Threads), float64(m.VmHWMKiB)
	if !out.ThreadsStart.Set {
		out.ThreadsStart = results.N(t)
	}
	if !out.ThreadsPeak.Set || t > out.ThreadsPeak.V {
		out.ThreadsPeak = results.N(t)
	}
	if !out.VmHWMKiB.Set || h > out.VmHWMKiB.V {
		out.VmHWMKiB = results.N(h)
	}
}

func memAvailableKiB() results.Num {
	if m, err := sysinfo.Host.MemAvailableKiB(); err == nil {
		return results.N(float64(m))
	}
	return results.Num{}
}

func (s *sampler) stop() results.Sample {
	close(s.done)
	return <-s.res
}

// threads is the number of threads of process pid, not measured when it
// has gone.
func threads(pid int) results.Num {
	if t, err := sysinfo.Host.Threads(pid); err == nil {
		return results.N(float64(t))
	}
	return results.Num{}
}

// groupThreads sums the threads of every process in process group pgid
// (the server and its workers: the runner starts each server as a group
// leader).
func groupThreads(pgid int) int {
	g, _ := sysinfo.Host.Group(pgid)
	return g.Threads
}

// groupCPU is the user+system CPU of process group pgid so far: every live
// member's own time plus what it collected from children it reaped.
func groupCPU(pgid int) results.Num {
	g, err := sysinfo.Host.Group(pgid)
	if err != nil || g.Procs == 0 {
		return results.Num{}
	}
	return results.N(g.CPUS)
}
