// Package sysinfo is what the kit reads from /proc, through
// github.com/prometheus/procfs: memory, CPU time, threads and limits of
// processes and of the machine. Sizes are KiB and times seconds, as the
// reports print them.
package sysinfo

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/prometheus/procfs"
)

// FS is one /proc tree; tests open a fake one.
type FS struct {
	fs   procfs.FS
	err  error  // why the tree could not be opened; every read returns it
	root string // where it is mounted, for the files procfs does not parse
}

// Host is this machine's /proc.
var Host = Open(procfs.DefaultMountPoint)

// Open returns the /proc tree mounted at root.
func Open(root string) FS {
	fs, err := procfs.NewFS(root)
	return FS{fs: fs, err: err, root: root}
}

func (f FS) proc(pid int) (procfs.Proc, error) {
	if f.err != nil {
		return procfs.Proc{}, f.err
	}
	return f.fs.Proc(pid)
}

// Mem is a process's resident memory and thread count.
type Mem struct {
	VmRSSKiB, VmHWMKiB int64
	Threads            int
}

// Mem reads /proc/PID/status and /proc/PID/stat.
func (f FS) Mem(pid int) (Mem, error) {
	_, st, err := f.status(pid)
	if err != nil {
		return Mem{}, err
	}
	th, err := f.Threads(pid)
	if err != nil {
		return Mem{}, err
	}
	return Mem{VmRSSKiB: kib(st.VmRSS), VmHWMKiB: kib(st.VmHWM), Threads: th}, nil
}

// status reads /proc/PID/status of a user process.
func (f FS) status(pid int) (procfs.Proc, procfs.ProcStatus, error) {
	p, err := f.proc(pid)
	if err != nil {
		return p, procfs.ProcStatus{}, err
	}
	st, err := p.NewStatus()
	if err != nil {
		return p, st, err
	}
	// A user process always has VmRSS; its absence means a kernel thread
	// or a zombie, whose figures would read as 0 KiB.
	if st.VmRSS == 0 {
		return p, st, fmt.Errorf("/proc/%d/status: no resident memory (a zombie?)", pid)
	}
	return p, st, nil
}

// Threads is the number of threads of process pid.
func (f FS) Threads(pid int) (int, error) {
	p, err := f.proc(pid)
	if err != nil {
		return 0, err
	}
	st, err := p.Stat()
	if err != nil {
		return 0, err
	}
	return st.NumThreads, nil
}

// CPU is a process's own user and system time and its resident size.
type CPU struct {
	UserS, SysS float64
	RSSKiB      int64
	Threads     int
}

// CPU reads /proc/PID/stat.
func (f FS) CPU(pid int) (CPU, error) {
	p, err := f.proc(pid)
	if err != nil {
		return CPU{}, err
	}
	st, err := p.Stat()
	if err != nil {
		return CPU{}, err
	}
	return CPU{
		UserS:   seconds(st.UTime),
		SysS:    seconds(st.STime),
		RSSKiB:  int64(st.ResidentMemory()) / 1024,
		Threads: st.NumThreads,
	}, nil
}

// seconds converts clock ticks with the library's USER_HZ.
func seconds(ticks uint) float64 {
	return procfs.ProcStat{UTime: ticks}.CPUTime()
}

// PSSKiB is the proportional set size of process pid: its resident pages
// with each shared page divided among the processes that map it, so a sum
// over processes counts shared pages once.
func (f FS) PSSKiB(pid int) (int64, error) {
	p, err := f.proc(pid)
	if err != nil {
		return 0, err
	}
	r, err := p.ProcSMapsRollup()
	if err != nil {
		return 0, err
	}
	return kib(r.Pss), nil
}

// FDs is the number of open descriptors of process pid: the entries of
// /proc/PID/fd. (FileDescriptorsLen's fast path, the directory's size,
// counts one more on this kernel.)
func (f FS) FDs(pid int) (int, error) {
	p, err := f.proc(pid)
	if err != nil {
		return 0, err
	}
	fds, err := p.FileDescriptors()
	return len(fds), err
}

// FDCount is the number of open descriptors of process pid as the size
// of /proc/PID/fd, which Linux 6.2 and later report without listing the
// directory; listing it, as FDs does, makes a /proc inode and dentry for
// every descriptor, kernel memory that a measurement of the kernel's
// memory must not add. Older kernels fall back to listing.
func (f FS) FDCount(pid int) (int, error) {
	p, err := f.proc(pid)
	if err != nil {
		return 0, err
	}
	return p.FileDescriptorsLen()
}

// AllowedCPUs lists the CPUs process pid may run on (Cpus_allowed_list).
func (f FS) AllowedCPUs(pid int) ([]int, error) {
	p, err := f.proc(pid)
	if err != nil {
		return nil, err
	}
	st, err := p.NewStatus()
	if err != nil {
		return nil, err
	}
	if len(st.CpusAllowedList) == 0 {
		return nil, fmt.Errorf("/proc/%d/status: no Cpus_allowed_list", pid)
	}
	out := make([]int, len(st.CpusAllowedList))
	for i, c := range st.CpusAllowedList {
		out[i] = int(c)
	}
	return out, nil
}

func kib(bytes uint64) int64 { return int64(bytes / 1024) }

// FDLimits is this process's open-file limit. procfs reads only the soft
// limits from /proc/self/limits, so it comes from getrlimit(2).
func FDLimits() (soft, hard uint64, err error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, 0, err
	}
	return rl.Cur, rl.Max, nil
}

// RaiseFDHard raises the process's open-file hard limit to hard (and its
// soft limit with it); it needs CAP_SYS_RESOURCE, and hard may be no more
// than fs.nr_open. Processes started afterwards inherit both.
func RaiseFDHard(hard uint64) error {
	rl := syscall.Rlimit{Cur: hard, Max: hard}
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
}

// Sysctl reads a sysctl by its dotted name (kernel.pid_max), with the
// fields of a multi-value one (ip_local_port_range) joined by one space.
func (f FS) Sysctl(name string) (string, error) {
	if f.err != nil {
		return "", f.err
	}
	v, err := f.fs.SysctlStrings(name)
	if err != nil {
		return "", err
	}
	return strings.Join(v, " "), nil
}

// SysctlInts reads a sysctl of whole numbers.
func (f FS) SysctlInts(name string) ([]int, error) {
	if f.err != nil {
		return nil, f.err
	}
	return f.fs.SysctlInts(name)
}

var errNoField = errors.New("field not present")
