package runner

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// fdSlack is what a server or client process needs besides one descriptor
// per connection (listener, stdio, JSON file, epoll, runtime).
const fdSlack = 64

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
}

// readSystem can be replaced by tests to simulate a machine that falls short.
var readSystem = func() System {
	var s System
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil {
		s.FDSoft, s.FDHard = rl.Cur, rl.Max
	}
	if f := strings.Fields(sysctl("net/ipv4/ip_local_port_range")); len(f) == 2 {
		s.PortLo, _ = strconv.Atoi(f[0])
		s.PortHi, _ = strconv.Atoi(f[1])
	}
	s.Somaxconn, _ = strconv.Atoi(sysctl("net/core/somaxconn"))
	s.PidMax, _ = strconv.Atoi(sysctl("kernel/pid_max"))
	s.ThreadsMax, _ = strconv.Atoi(sysctl("kernel/threads-max"))
	s.MaxMapCount, _ = strconv.Atoi(sysctl("vm/max_map_count"))
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 4 {
			if _, tot, ok := strings.Cut(f[3], "/"); ok {
				s.Tasks, _ = strconv.Atoi(tot)
			}
		}
	}
	s.MemAvailableKiB = meminfo()["MemAvailable"]
	s.FileMax, _ = strconv.Atoi(sysctl("fs/file-max"))
	if f := strings.Fields(sysctl("fs/file-nr")); len(f) > 0 {
		s.FilesOpen, _ = strconv.Atoi(f[0])
	}
	s.ConntrackMax, _ = strconv.Atoi(sysctl("net/netfilter/nf_conntrack_max"))
	s.ConntrackCount, _ = strconv.Atoi(sysctl("net/netfilter/nf_conntrack_count"))
	return s
}

func sysctl(name string) string {
	b, err := os.ReadFile("/proc/sys/" + name)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// maxConnsForFD is the largest connection count both the server and the
// client process can hold under the fd hard limit.
func (s System) maxConnsForFD() int {
	if s.FDHard == 0 || s.FDHard > 1<<30 {
		return 1 << 30
	}
	return int(s.FDHard) - fdSlack
}

// checkSystem returns one line per shortfall, each saying exactly what to
// change, for a run whose largest cell has maxN connections and, if
// threaded, one thread per connection.
func checkSystem(s System, maxN int, threaded bool) (problems, notes []string) {
	if maxN > s.maxConnsForFD() {
		need := maxN + fdSlack
		problems = append(problems, fmt.Sprintf(
			"open-file hard limit is %d, %d connections need %d descriptors per process: raise it as root with `ulimit -Hn %d` in the shell that runs the experiment (or nofile in /etc/security/limits.conf), or use fewer connections",
			s.FDHard, maxN, need, roundUp(need, 1000)))
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
				s.PidMax, maxN, s.Tasks, need, roundUp(need*2, 1024)))
		}
		if s.ThreadsMax > 0 && need > s.ThreadsMax {
			problems = append(problems, fmt.Sprintf(
				"kernel.threads-max is %d but %d threads are needed: run `sysctl -w kernel.threads-max=%d`",
				s.ThreadsMax, need, roundUp(need*2, 1024)))
		}
		// A thread stack with its guard page is two mappings.
		maps := 2*maxN + 4096
		if s.MaxMapCount > 0 && maps > s.MaxMapCount {
			problems = append(problems, fmt.Sprintf(
				"vm.max_map_count is %d but %d threads with guard pages need about %d mappings: run `sysctl -w vm.max_map_count=%d`",
				s.MaxMapCount, maxN, maps, roundUp(maps*2, 1024)))
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

func roundUp(n, m int) int { return (n + m - 1) / m * m }

// pinCPUs picks two CPUs this process may run on (a container's cpuset
// need not include 0 and 1) and checks that taskset works; ok=false says
// why the run goes unpinned.
func pinCPUs() (cpus [2]int, ok bool, why string) {
	allowed := allowedCPUs()
	if len(allowed) < 2 {
		return cpus, false, fmt.Sprintf("not pinned: only %d CPU available", max(len(allowed), runtime.NumCPU()))
	}
	cpus = [2]int{allowed[0], allowed[1]}
	path, err := exec.LookPath("taskset")
	if err != nil {
		return cpus, false, "not pinned: taskset not found (install util-linux)"
	}
	if err := exec.Command(path, "-c", strconv.Itoa(cpus[1]), "true").Run(); err != nil {
		return cpus, false, "not pinned: `taskset -c` failed: " + err.Error()
	}
	return cpus, true, fmt.Sprintf("server on CPU %d, client on CPU %d (taskset -c)", cpus[0], cpus[1])
}

// allowedCPUs parses Cpus_allowed_list ("0-3,6") of this process.
func allowedCPUs() []int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil
	}
	var out []int
	for _, line := range strings.Split(string(b), "\n") {
		v, ok := strings.CutPrefix(line, "Cpus_allowed_list:")
		if !ok {
			continue
		}
		for _, part := range strings.Split(strings.TrimSpace(v), ",") {
			a, bs, isRange := strings.Cut(part, "-")
			lo, err1 := strconv.Atoi(a)
			hi := lo
			var err2 error
			if isRange {
				hi, err2 = strconv.Atoi(bs)
			}
			if err1 != nil || err2 != nil {
				continue
			}
			for c := lo; c <= hi; c++ {
				out = append(out, c)
			}
		}
	}
	return out
}
