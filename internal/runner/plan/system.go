package plan

import (
	"fmt"

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
	SynBacklog      int // net.ipv4.tcp_max_syn_backlog
	Syncookies      int // net.ipv4.tcp_syncookies
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

// CheckSystem returns one line per shortfall, each saying exactly what to
// change, for a run whose largest cell has maxN connections and, if
// threaded, one thread per connection.
func CheckSystem(s System, maxN int, threaded bool) (problems, notes []string) {
	if maxN > s.MaxConnsForFD() {
		need := maxN + FDSlack
		problems = append(problems, fmt.Sprintf(
			"open-file hard limit is %d, %d connections need %d descriptors per process: raise it as root with `ulimit -Hn %d` in the shell that runs the experiment (or nofile in /etc/security/limits.conf), or use fewer connections",
			s.FDHard, maxN, need, RoundUp(need, 1000)))
	}
	if ports := s.PortHi - s.PortLo + 1; s.PortLo > 0 && maxN > ports {
		notes = append(notes, fmt.Sprintf(
			"the ephemeral port range %d-%d has %d ports, fewer than %d connections: the run relies on the client spreading connections over several 127.0.0.x source addresses",
			s.PortLo, s.PortHi, ports, maxN))
	}
	if s.PortLo > 0 && s.PortHi-s.PortLo+1 < 1000 {
		problems = append(problems, fmt.Sprintf(
			"the ephemeral port range %d-%d is very small: widen it with `sysctl -w net.ipv4.ip_local_port_range=\"32768 60999\"`", s.PortLo, s.PortHi))
	}
	// A small accept queue drops SYNs during the ramp; each drop is a 1 s
	// retransmission that the time-to-connect figure would then measure.
	if s.Somaxconn > 0 && s.Somaxconn < 1024 && maxN >= 1000 {
		problems = append(problems, fmt.Sprintf(
			"net.core.somaxconn is %d, the servers' listen backlog would drop SYNs while %d connections ramp up: run `sysctl -w net.core.somaxconn=4096`",
			s.Somaxconn, maxN))
	}
	if threaded {
		// The client's and servers' own threads, plus what already runs.
		need := s.Tasks + maxN + 512
		if s.PidMax > 0 && need > s.PidMax {
			problems = append(problems, fmt.Sprintf(
				"kernel.pid_max is %d but %d threads (one per connection) plus %d already running need %d ids: run `sysctl -w kernel.pid_max=%d`",
				s.PidMax, maxN, s.Tasks, need, RoundUp(need*2, 1024)))
		}
		if s.ThreadsMax > 0 && need > s.ThreadsMax {
			problems = append(problems, fmt.Sprintf(
				"kernel.threads-max is %d but %d threads are needed: run `sysctl -w kernel.threads-max=%d`",
				s.ThreadsMax, need, RoundUp(need*2, 1024)))
		}
		// A thread stack with its guard page is two mappings.
		maps := 2*maxN + 4096
		if s.MaxMapCount > 0 && maps > s.MaxMapCount {
			problems = append(problems, fmt.Sprintf(
				"vm.max_map_count is %d but %d threads with guard pages need about %d mappings: run `sysctl -w vm.max_map_count=%d`",
				s.MaxMapCount, maxN, maps, RoundUp(maps*2, 1024)))
		}
	}
	// Generous per-connection budget: a kernel stack, a touched user stack
	// page or two, socket buffers on both ends, the client's goroutine.
	needKiB := float64(maxN)*96 + 512*1024
	if s.MemAvailableKiB > 0 && s.MemAvailableKiB < needKiB {
		problems = append(problems, fmt.Sprintf(
			"only %.0f MiB of memory is available (MemAvailable) and %d connections need about %.0f MiB: free memory or use fewer connections",
			s.MemAvailableKiB/1024, maxN, needKiB/1024))
	}
	return problems, notes
}

// RoundUp rounds n up to a multiple of m.
func RoundUp(n, m int) int { return (n + m - 1) / m * m }
