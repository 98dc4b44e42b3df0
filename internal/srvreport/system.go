package srvreport

import (
	"fmt"
	"os"
	"strings"
	"syscall"

	"tenkthreads/internal/sysinfo"
)

// ProcStatus is the part of /proc/self/status the report uses.
type ProcStatus struct {
	VmRSSKiB int64
	VmHWMKiB int64
	Threads  int64
}

// ReadProcStatus reads this process's resident memory and threads.
func ReadProcStatus() (ProcStatus, error) {
	m, err := sysinfo.Host.Mem(os.Getpid())
	if err != nil {
		return ProcStatus{}, err
	}
	return ProcStatus{VmRSSKiB: m.VmRSSKiB, VmHWMKiB: m.VmHWMKiB, Threads: int64(m.Threads)}, nil
}

// ReadKernelStack is the machine's KernelStack in /proc/meminfo, in KiB.
func ReadKernelStack() (int64, error) {
	return sysinfo.Host.KernelStackKiB()
}

// ReadMeminfo is the machine's memory counters (KernelStack, Slab,
// PageTables...), from one read of /proc/meminfo.
func ReadMeminfo() (sysinfo.Meminfo, error) {
	return sysinfo.Host.Meminfo()
}

// ReadPSS is the proportional set size of a process: its resident pages
// with each shared page divided among the processes that map it, so a sum
// over processes counts shared pages once.
func ReadPSS(pid int) (int64, error) {
	return sysinfo.Host.PSSKiB(pid)
}

// WorkerTotals adds up live worker processes, as the C server's
// procs_gather does for its descendants.
type WorkerTotals struct {
	Procs                   int64
	Threads, RSSKiB, PSSKiB int64
	UserS, SysS             float64
}

// GatherWorkers reads /proc for each pid. A pid that has gone is skipped:
// once reaped, its CPU time is in RUSAGE_CHILDREN instead.
func GatherWorkers(pids []int) WorkerTotals {
	var t WorkerTotals
	for _, pid := range pids {
		c, err := sysinfo.Host.CPU(pid)
		if err != nil {
			continue
		}
		t.Procs++
		t.Threads += int64(c.Threads)
		t.RSSKiB += c.RSSKiB
		t.UserS += c.UserS
		t.SysS += c.SysS
		if pss, err := ReadPSS(pid); err == nil {
			t.PSSKiB += pss
		}
	}
	return t
}

// FillSystem sets the process figures: rusage, /proc/self/status, PSS and
// the machine's KernelStack, Slab and PageTables now, with the given
// worker processes added in, then the derived figures. CPU is this process, its reaped children
// (RUSAGE_CHILDREN) and the live workers; memory sums are PSS and RSS over
// this process and the workers; threads are all of them. Page faults,
// context switches and the resident figures stay this process's own, as
// in the C server. The caller sets the counters, StartRSSKiB, StartPSSKiB,
// KernelStackStartKiB and KernelStackPeakDeltaKiB first, since the derived
// figures use them. Errors reading /proc leave the field at zero and are
// returned so the caller can say so once.
func (r *Report) FillSystem(workers []int) error {
	var errs []string
	var ru, ch syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		errs = append(errs, "getrusage: "+err.Error())
	} else {
		r.UserCPUS = tvSeconds(ru.Utime)
		r.SysCPUS = tvSeconds(ru.Stime)
		r.MaxRSSKiB = ru.Maxrss // KiB on Linux
		r.MinFlt = ru.Minflt
		r.MajFlt = ru.Majflt
		r.NVCSw = ru.Nvcsw
		r.NIVCSw = ru.Nivcsw
	}
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ch); err == nil {
		r.UserCPUS += tvSeconds(ch.Utime)
		r.SysCPUS += tvSeconds(ch.Stime)
	}
	if ps, err := ReadProcStatus(); err != nil {
		errs = append(errs, err.Error())
	} else {
		r.VmRSSKiB, r.VmHWMKiB, r.Threads = ps.VmRSSKiB, ps.VmHWMKiB, ps.Threads
	}
	if pss, err := ReadPSS(os.Getpid()); err != nil {
		errs = append(errs, err.Error())
	} else {
		r.PSSSumKiB = pss
	}
	if m, err := ReadMeminfo(); err != nil {
		errs = append(errs, err.Error())
	} else {
		r.KernelStackKiB = m.KernelStack
		r.SlabDeltaKiB = m.Slab - r.SlabStartKiB
		r.PageTablesDeltaKiB = m.PageTables - r.PageTablesStartKiB
	}
	w := GatherWorkers(workers)
	r.Processes = 1 + w.Procs
	r.UserCPUS += w.UserS
	r.SysCPUS += w.SysS
	r.PSSSumKiB += w.PSSKiB
	r.RSSSumKiB = r.VmRSSKiB + w.RSSKiB
	r.Threads += w.Threads
	r.Derive()
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

func tvSeconds(tv syscall.Timeval) float64 {
	return float64(tv.Sec) + float64(tv.Usec)/1e6
}
