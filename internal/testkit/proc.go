package testkit

import (
	"errors"
	"os"
	"syscall"
	"testing"

	"github.com/prometheus/procfs"
)

// Proc is one process as /proc/PID/stat shows it.
type Proc struct {
	PID, PPID int
	State     string // R, S, D, Z (zombie), ...
	// Start is the start time in clock ticks after boot: it tells the
	// process from a later one that got the same pid.
	Start uint64
}

// ReadProc reads one process; false if it does not exist (any more).
func ReadProc(pid int) (Proc, bool) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return Proc{}, false
	}
	return statOf(p)
}

func statOf(p procfs.Proc) (Proc, bool) {
	s, err := p.Stat()
	if err != nil {
		return Proc{}, false
	}
	return Proc{PID: p.PID, PPID: s.PPID, State: s.State, Start: s.Starttime}, true
}

// byParent lists every process on the machine by its parent's pid.
// Processes that exit during the walk are left out.
func byParent(t testing.TB) map[int][]Proc {
	t.Helper()
	all, err := procfs.AllProcs()
	if err != nil {
		t.Fatalf("list processes: %v", err)
	}
	kids := map[int][]Proc{}
	for _, p := range all {
		if s, ok := statOf(p); ok {
			kids[s.PPID] = append(kids[s.PPID], s)
		}
	}
	return kids
}

// Children lists the processes whose parent is pid, zombies included.
func Children(t testing.TB, pid int) []Proc {
	t.Helper()
	return byParent(t)[pid]
}

// Descendants lists every process below pid, zombies included, nearest
// first.
func Descendants(t testing.TB, pid int) []Proc {
	t.Helper()
	kids := byParent(t)
	var out []Proc
	for next := []int{pid}; len(next) > 0; next = next[1:] {
		for _, c := range kids[next[0]] {
			out = append(out, c)
			next = append(next, c.PID)
		}
	}
	return out
}

// Gone reports whether pid no longer exists, not even as a zombie.
func Gone(pid int) bool {
	_, err := procfs.NewProc(pid)
	return errors.Is(err, os.ErrNotExist)
}

// OpenFDs counts the descriptors pid has open.
func OpenFDs(t testing.TB, pid int) int {
	t.Helper()
	p, err := procfs.NewProc(pid)
	if err == nil {
		var n int
		if n, err = p.FileDescriptorsLen(); err == nil {
			return n
		}
	}
	t.Fatalf("count descriptors of %d: %v", pid, err)
	return 0
}

// Status is /proc/PID/status; its sizes (VmRSS, VmSize, ...) are in bytes.
func Status(t testing.TB, pid int) procfs.ProcStatus {
	t.Helper()
	p, err := procfs.NewProc(pid)
	if err == nil {
		var st procfs.ProcStatus
		if st, err = p.NewStatus(); err == nil {
			return st
		}
	}
	t.Fatalf("/proc/%d/status: %v", pid, err)
	return procfs.ProcStatus{}
}

// FDHardLimit is the open-file hard limit: every process started from the
// test may raise its soft limit this far, and no further.
func FDHardLimit(t testing.TB) uint64 {
	t.Helper()
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	return rl.Max
}
