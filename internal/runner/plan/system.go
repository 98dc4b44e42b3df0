package plan

import (
	"fmt"
	"strconv"

	"tenkthreads/internal/runner/results"
	"tenkthreads/internal/sysinfo"
)

// FDSlack is what a server or client process needs besides one descriptor
// per connection (listener, stdio, JSON file, epoll, runtime).
const FDSlack = 64

// System holds the limits the experiment depends on.
type System struct {
	FDSoft, FDHard  uint64
	PortLo, PortHi  int
	Somaxconn       int
	PidMax          int
	ThreadsMax      int
	MaxMapCount     int
	Tasks           int // threads alive system-wide now
	MemAvailableKiB float64
	FileMax         int // fs.file-max
	FilesOpen       int // first field of fs.file-nr
	ConntrackMax    int // net.netfilter.nf_conntrack_max; 0 = no conntrack
	ConntrackCount  int
	SynBacklog      int   // net.ipv4.tcp_max_syn_backlog
	Syncookies      int   // net.ipv4.tcp_syncookies
	TCPMem          []int // net.ipv4.tcp_mem: low, pressure, max (pages)
	MaxOrphans      int   // net.ipv4.tcp_max_orphans
	// HighOrderAllocDisable is net.core.high_order_alloc_disable ("" when
	// it cannot be read).
	HighOrderAllocDisable string
	// Sources is how many source addresses the runs' client binds (0:
	// its default, AutoSources).
	Sources int
}

// SourcesOr is the client's source addresses: Sources, or AutoSources.
func (s System) SourcesOr() int {
	if s.Sources > 0 {
		return s.Sources
	}
	return AutoSources
}

// ReadSystem can be replaced by tests to simulate a machine that falls short.
var ReadSystem = func() System {
	var s System
	s.FDSoft, s.FDHard, _ = sysinfo.FDLimits()
	if v := sysctlInts("net.ipv4.ip_local_port_range"); len(v) == 2 {
		s.PortLo, s.PortHi = v[0], v[1]
	}
	s.Somaxconn = sysctlInt("net.core.somaxconn")
	s.PidMax = sysctlInt("kernel.pid_max")
	s.ThreadsMax = sysctlInt("kernel.threads-max")
	s.MaxMapCount = sysctlInt("vm.max_map_count")
	s.Tasks, _ = sysinfo.Host.Tasks()
	if v, err := sysinfo.Host.MemAvailableKiB(); err == nil {
		s.MemAvailableKiB = float64(v)
	}
	s.FileMax = sysctlInt("fs.file-max")
	s.FilesOpen = sysctlInt("fs.file-nr")
	s.ConntrackMax = sysctlInt("net.netfilter.nf_conntrack_max")
	s.ConntrackCount = sysctlInt("net.netfilter.nf_conntrack_count")
	s.SynBacklog = sysctlInt("net.ipv4.tcp_max_syn_backlog")
	s.Syncookies = sysctlInt("net.ipv4.tcp_syncookies")
	s.TCPMem = sysctlInts("net.ipv4.tcp_mem")
	s.MaxOrphans = sysctlInt("net.ipv4.tcp_max_orphans")
	s.HighOrderAllocDisable = Sysctl("net.core.high_order_alloc_disable")
	return s
}

// sysctlInts reads a sysctl of numbers; nil when it is not there (no
// conntrack module, say).
func sysctlInts(name string) []int {
	v, _ := sysinfo.Host.SysctlInts(name)
	return v
}

// sysctlInt is the first number of a sysctl, 0 when it is not there.
func sysctlInt(name string) int {
	if v := sysctlInts(name); len(v) > 0 {
		return v[0]
	}
	return 0
}

// SysctlInt is the first number of a sysctl, 0 when it is not there.
func SysctlInt(name string) int { return sysctlInt(name) }

// Sysctl is a sysctl's value as text, "" when it is not there.
func Sysctl(name string) string {
	v, _ := sysinfo.Host.Sysctl(name)
	return v
}

// MaxConnsForFD is the largest connection count both the server and the
// client process can hold under the fd hard limit.
func (s System) MaxConnsForFD() int {
	if s.FDHard == 0 || s.FDHard > 1<<30 {
		return 1 << 30
	}
	return int(s.FDHard) - FDSlack
}

// CheckSystem is every limit a run whose largest cell has maxN
// connections runs into, one row each (threaded: a thread or process per
// connection, so the thread limits count too), and notes on what the run
// relies on. A row that is not OK stops the run; its Fix says exactly
// what to change.
func CheckSystem(s System, maxN int, threaded bool) (rows []results.Precond, notes []string) {
	need := maxN + FDSlack
	rows = append(rows, results.Precond{Item: "open-file hard limit", Have: strconv.FormatUint(s.FDHard, 10),
		Need: fmt.Sprintf("%d descriptors per process for %d connections", need, maxN), OK: maxN <= s.MaxConnsForFD(),
		Fix: fmt.Sprintf("raise it as root with `ulimit -Hn %d` in the shell that runs the experiment (or nofile in /etc/security/limits.conf), or use fewer connections", RoundUp(need, 1000))})
	if ports := s.PortHi - s.PortLo + 1; s.PortLo > 0 {
		rows = append(rows, results.Precond{Item: "ephemeral ports (net.ipv4.ip_local_port_range)", Have: fmt.Sprintf("%d-%d, %d ports", s.PortLo, s.PortHi, ports),
			Need: "at least 1000 ports", OK: ports >= 1000, Fix: "widen it with `sysctl -w net.ipv4.ip_local_port_range=\"32768 60999\"`"})
		if maxN > ports {
			notes = append(notes, fmt.Sprintf(
				"the ephemeral port range %d-%d has %d ports, fewer than %d connections: the run relies on the client spreading connections over several 127.0.0.x source addresses",
				s.PortLo, s.PortHi, ports, maxN))
		}
	}
	// A small accept queue drops SYNs during the ramp; each drop is a 1 s
	// retransmission that the time-to-connect figure would then measure.
	if s.Somaxconn > 0 {
		rows = append(rows, results.Precond{Item: "net.core.somaxconn (listen backlog)", Have: strconv.Itoa(s.Somaxconn),
			Need: fmt.Sprintf("at least 1024 for %d connections, or the servers' listen backlog drops SYNs while they ramp up", maxN),
			OK:   s.Somaxconn >= 1024 || maxN < 1000, Fix: "run `sysctl -w net.core.somaxconn=4096`"})
	}
	if threaded {
		rows = append(rows, threadLimits(s, maxN)...)
	}
	// Generous per-connection budget: a kernel stack, a touched user stack
	// page or two, socket buffers on both ends, the client's goroutine.
	needKiB := float64(maxN)*96 + 512*1024
	if s.MemAvailableKiB > 0 {
		rows = append(rows, results.Precond{Item: "MemAvailable", Have: fmt.Sprintf("%.0f MiB", s.MemAvailableKiB/1024),
			Need: fmt.Sprintf("about %.0f MiB for %d connections", needKiB/1024, maxN), OK: s.MemAvailableKiB >= needKiB,
			Fix: "free memory or use fewer connections"})
	}
	return rows, notes
}

// threadLimits are the limits a thread per connection runs into: ids,
// threads and mappings, for the connections' threads, the client's and
// servers' own, and what already runs.
func threadLimits(s System, maxN int) []results.Precond {
	var rows []results.Precond
	need := s.Tasks + maxN + 512
	why := fmt.Sprintf("%d: %d threads (one per connection) and %d already running", need, maxN, s.Tasks)
	if s.PidMax > 0 {
		rows = append(rows, results.Precond{Item: "kernel.pid_max", Have: strconv.Itoa(s.PidMax), Need: why, OK: need <= s.PidMax,
			Fix: fmt.Sprintf("run `sysctl -w kernel.pid_max=%d`", RoundUp(need*2, 1024))})
	}
	if s.ThreadsMax > 0 {
		rows = append(rows, results.Precond{Item: "kernel.threads-max", Have: strconv.Itoa(s.ThreadsMax), Need: why, OK: need <= s.ThreadsMax,
			Fix: fmt.Sprintf("run `sysctl -w kernel.threads-max=%d`", RoundUp(need*2, 1024))})
	}
	// A thread stack with its guard page is two mappings.
	maps := 2*maxN + 4096
	if s.MaxMapCount > 0 {
		rows = append(rows, results.Precond{Item: "vm.max_map_count", Have: strconv.Itoa(s.MaxMapCount),
			Need: fmt.Sprintf("about %d mappings for %d threads with guard pages", maps, maxN), OK: maps <= s.MaxMapCount,
			Fix: fmt.Sprintf("run `sysctl -w vm.max_map_count=%d`", RoundUp(maps*2, 1024))})
	}
	return rows
}

// RoundUp rounds n up to a multiple of m.
func RoundUp(n, m int) int { return (n + m - 1) / m * m }
