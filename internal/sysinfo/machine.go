package sysinfo

import (
	"fmt"

	"github.com/prometheus/procfs"
)

// meminfo reads one /proc/meminfo field, in KiB.
func (f FS) meminfo(name string, pick func(procfs.Meminfo) *uint64) (int64, error) {
	if f.err != nil {
		return 0, f.err
	}
	m, err := f.fs.Meminfo()
	if err != nil {
		return 0, err
	}
	v := pick(m)
	if v == nil {
		return 0, fmt.Errorf("/proc/meminfo: %s: %w", name, errNoField)
	}
	return int64(*v), nil
}

// KernelStackKiB is the machine's KernelStack: the kernel stacks of every
// thread, which no process's RSS shows.
func (f FS) KernelStackKiB() (int64, error) {
	return f.meminfo("KernelStack", func(m procfs.Meminfo) *uint64 { return m.KernelStack })
}

// MemAvailableKiB is the memory the kernel estimates it can give to new
// work without swapping.
func (f FS) MemAvailableKiB() (int64, error) {
	return f.meminfo("MemAvailable", func(m procfs.Meminfo) *uint64 { return m.MemAvailable })
}

// BusyCPUSeconds is the machine's non-idle CPU time since boot, all CPUs:
// idle and iowait are not busy, and guest time is already in user time.
func (f FS) BusyCPUSeconds() (float64, error) {
	if f.err != nil {
		return 0, f.err
	}
	st, err := f.fs.Stat()
	if err != nil {
		return 0, err
	}
	c := st.CPUTotal
	return c.User + c.Nice + c.System + c.IRQ + c.SoftIRQ + c.Steal, nil
}

// LoadAvg is /proc/loadavg's 1, 5 and 15 minute averages.
func (f FS) LoadAvg() (procfs.LoadAvg, error) {
	if f.err != nil {
		return procfs.LoadAvg{}, f.err
	}
	l, err := f.fs.LoadAvg()
	if err != nil {
		return procfs.LoadAvg{}, err
	}
	return *l, nil
}

// TimeWait is the machine's number of TCP sockets in TIME_WAIT.
func (f FS) TimeWait() (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	s, err := f.fs.NetSockstat()
	if err != nil {
		return 0, err
	}
	for _, p := range s.Protocols {
		if p.Protocol == "TCP" && p.TW != nil {
			return *p.TW, nil
		}
	}
	return 0, fmt.Errorf("/proc/net/sockstat: TCP tw: %w", errNoField)
}

// CPUModel is the model name of the first CPU.
func (f FS) CPUModel() (string, error) {
	if f.err != nil {
		return "", f.err
	}
	info, err := f.fs.CPUInfo()
	if err != nil {
		return "", err
	}
	if len(info) == 0 || info[0].ModelName == "" {
		return "", fmt.Errorf("/proc/cpuinfo: model name: %w", errNoField)
	}
	return info[0].ModelName, nil
}

// Group is what the processes of one process group use together.
type Group struct {
	Procs, Threads int
	// CPUS is every member's user+system time plus what each collected
	// from children it reaped.
	CPUS float64
}

// Group adds up the processes of process group pgid; a process that exits
// during the scan is left out.
func (f FS) Group(pgid int) (Group, error) {
	var g Group
	if f.err != nil {
		return g, f.err
	}
	procs, err := f.fs.AllProcs()
	if err != nil {
		return g, err
	}
	for _, p := range procs {
		st, err := p.Stat()
		if err != nil || st.PGRP != pgid {
			continue
		}
		g.Procs++
		g.Threads += st.NumThreads
		g.CPUS += ownCPU(p, st) + procfs.ProcStat{UTime: uint(max(0, st.CUTime)), STime: uint(max(0, st.CSTime))}.CPUTime()
	}
	return g, nil
}

// ownCPU is a process's user+system time. The kernel rounds utime and
// stime down to clock ticks per process: a hundred prefork workers each
// losing part of a tick lose most of their CPU. A single-threaded
// process's exact run time is in schedstat; reading it per thread of a
// thread-per-connection server would cost too much, and rounding once per
// process is harmless there.
func ownCPU(p procfs.Proc, st procfs.ProcStat) float64 {
	if st.NumThreads == 1 {
		if s, err := p.Schedstat(); err == nil && s.RunningNanoseconds > 0 {
			return float64(s.RunningNanoseconds) / 1e9
		}
	}
	return st.CPUTime()
}

// Tasks is the number of threads alive on the machine.
func (f FS) Tasks() (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	procs, err := f.fs.AllProcs()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range procs {
		if st, err := p.Stat(); err == nil {
			n += st.NumThreads
		}
	}
	return n, nil
}

// ListenStats are the listen-queue counters of TcpExt in the network
// namespace of process pid, as nstat names them. They count every
// listener of that namespace, not one server's.
type ListenStats struct {
	// Overflows: a SYN or a handshake's last ACK that found an accept
	// queue full (TcpExtListenOverflows); Drops: every SYN or ACK a
	// listener dropped, overflows included (TcpExtListenDrops).
	Overflows, Drops int64
	// SyncookiesFailed: ACKs that matched neither a pending handshake nor
	// a valid SYN cookie, which the kernel answers with a reset.
	SyncookiesFailed int64
}

// ListenStats reads /proc/PID/net/netstat.
func (f FS) ListenStats(pid int) (ListenStats, error) {
	p, err := f.proc(pid)
	if err != nil {
		return ListenStats{}, err
	}
	n, err := p.Netstat()
	if err != nil {
		return ListenStats{}, err
	}
	var s ListenStats
	for _, c := range []struct {
		name string
		v    *float64
		dst  *int64
	}{{"ListenOverflows", n.ListenOverflows, &s.Overflows}, {"ListenDrops", n.ListenDrops, &s.Drops}, {"SyncookiesFailed", n.SyncookiesFailed, &s.SyncookiesFailed}} {
		if c.v == nil {
			return ListenStats{}, fmt.Errorf("/proc/%d/net/netstat: TcpExt %s: %w", pid, c.name, errNoField)
		}
		*c.dst = int64(*c.v)
	}
	return s, nil
}
