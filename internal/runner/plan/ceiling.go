package plan

import (
	"fmt"
	"math"
	"strconv"

	"tenkthreads/internal/srvreport"
)

// MaxServerProcs is the most -P either server takes.
const MaxServerProcs = 256

// The largest values -tune could give the sysctls that bound threads:
// pid_max's hard limit on 64-bit kernels (PID_MAX_LIMIT), and far beyond
// any machine's memory for the others.
const (
	PidMaxLimit     = 4194304
	tunedThreadsMax = 1 << 30
	tunedMapCount   = 1 << 30
	tunedFileMax    = 1 << 40
)

// Bases of a ConnCost: what its parts were measured from.
const (
	// CostMachine: every part of server and client, from the machine
	// records of the calibration holds (results.Attribute).
	CostMachine = "machine"
	// CostUserKStack: the server's user space and kernel stacks and the
	// growth of the client's PSS only, when the calibration holds kept no
	// machine record; ceiling.json files from before the machine parts
	// have no basis and mean this.
	CostUserKStack = "user space and kernel stacks"
)

// ConnCost is what one held connection costs the machine, in KiB: the
// server's parts (as machine KiB/conn has them: user space, kernel
// stacks, its threads' kernel objects and their mappings, its socket end
// and epoll registration, page tables) and the client's, whose sum is
// ClientKiB. On the CostUserKStack basis only the server's user space and
// kernel stacks and ClientKiB are measured.
type ConnCost struct {
	ServerUserKiB          float64 `json:"server_user_kib"`
	ServerKStackKiB        float64 `json:"server_kstack_kib"`
	ServerThreadObjectsKiB float64 `json:"server_thread_objects_kib"`
	ServerSocketKiB        float64 `json:"server_socket_kib"`
	ServerPageTablesKiB    float64 `json:"server_page_tables_kib"`
	ClientKiB              float64 `json:"client_kib"`
	ClientUserKiB          float64 `json:"client_user_kib"`
	ClientKStackKiB        float64 `json:"client_kstack_kib"`
	ClientThreadObjectsKiB float64 `json:"client_thread_objects_kib"`
	ClientSocketKiB        float64 `json:"client_socket_kib"`
	ClientPageTablesKiB    float64 `json:"client_page_tables_kib"`
	Basis                  string  `json:"basis"`
}

// Machine says every part was measured (the CostMachine basis).
func (c ConnCost) Machine() bool { return c.Basis == CostMachine }

// ServerKiB is the server's parts together.
func (c ConnCost) ServerKiB() float64 {
	return c.ServerUserKiB + c.ServerKStackKiB + c.ServerThreadObjectsKiB + c.ServerSocketKiB + c.ServerPageTablesKiB
}

// KiB is the cost a connection takes from MemAvailable in the
// prediction: server and client, every part measured.
func (c ConnCost) KiB() float64 { return c.ServerKiB() + c.ClientKiB }

// What says what KiB counts.
func (c ConnCost) What() string {
	if c.Machine() {
		return "machine memory of server and client: user space, kernel stacks, thread objects, sockets, page tables"
	}
	return "user space and kernel stacks of server and client"
}

// Limit is one limit of the machine and the connections it allows.
type Limit struct {
	Name string `json:"name"`
	Have string `json:"have"` // its value here
	// Conns is the connections it allows; How says how that follows.
	Conns int64  `json:"conns"`
	How   string `json:"how"`
	// Sysctl is set when -tune raises this limit for a run.
	Sysctl string `json:"sysctl,omitempty"`
}

// Ceiling is the largest number of connections a server can hold and the
// limit that binds there.
type Ceiling struct {
	Conns   int64  `json:"conns"`
	Binding string `json:"binding"`
}

// CeilingOf is the lowest of limits.
func CeilingOf(limits []Limit) Ceiling {
	c := Ceiling{Conns: math.MaxInt64}
	for _, l := range limits {
		if l.Conns < c.Conns {
			c = Ceiling{Conns: max(0, l.Conns), Binding: l.Name}
		}
	}
	return c
}

// Limits lists every limit on how many connections a server of model m
// can hold here at cost per connection, as the machine is (tuned false)
// or with the sysctls -tune raises at their largest (tuned true).
// clientThreads are the threads the client and the rest of the run add.
func Limits(sys System, m srvreport.Model, cost ConnCost, clientThreads int, tuned bool) []Limit {
	var out []Limit
	mem := sys.MemAvailableKiB
	out = append(out, Limit{Name: "MemAvailable", Have: fmt.Sprintf("%.1f GiB", mem/(1<<20)),
		Conns: int64(mem / max(cost.KiB(), 1e-3)), How: fmt.Sprintf("%.1f GiB / %.2f KiB per connection (%s)", mem/(1<<20), cost.KiB(), cost.What())})
	fit := int64(sys.MaxConnsForFD())
	out = append(out, Limit{Name: "open files per process × -P", Have: strconv.FormatUint(sys.FDHard, 10),
		Conns: fit * MaxServerProcs, How: fmt.Sprintf("%d connections per process × %d processes at most", fit, MaxServerProcs)})
	src := sys.SourcesOr()
	ports := int64(sys.PortHi-sys.PortLo+1) * int64(src)
	out = append(out, Limit{Name: "ephemeral ports × source addresses", Have: fmt.Sprintf("%d-%d", sys.PortLo, sys.PortHi),
		Conns: ports, How: fmt.Sprintf("%d ports × %d client addresses (%s) towards one server port", sys.PortHi-sys.PortLo+1, src, SourceRange(src))})
	out = append(out, sysctlLimit("fs.file-max", sys.FileMax, tunedFileMax, tuned, func(v int) (int64, string) {
		return int64(v-sys.FilesOpen) / 2, fmt.Sprintf("(%d - %d open) / 2 descriptors per connection", v, sys.FilesOpen)
	}))
	if sys.ConntrackMax > 0 {
		out = append(out, sysctlLimit("net.netfilter.nf_conntrack_max", sys.ConntrackMax, tunedFileMax, tuned, func(v int) (int64, string) {
			return int64(v - sys.ConntrackCount), fmt.Sprintf("%d - %d tracked now", v, sys.ConntrackCount)
		}))
	}
	if m.PerConnection == "" {
		return out
	}
	busy := sys.Tasks + clientThreads
	for _, c := range []struct {
		name      string
		have, top int
	}{{"kernel.pid_max", sys.PidMax, PidMaxLimit}, {"kernel.threads-max", sys.ThreadsMax, tunedThreadsMax}} {
		out = append(out, sysctlLimit(c.name, c.have, c.top, tuned, func(v int) (int64, string) {
			return int64(v - busy), fmt.Sprintf("%d - %d threads already running or run by the client: one %s per connection", v, busy, m.PerConnection)
		}))
	}
	if m.PerConnection == "thread" {
		out = append(out, sysctlLimit("vm.max_map_count", sys.MaxMapCount, tunedMapCount, tuned, func(v int) (int64, string) {
			per := int64(max(0, v-4096) / 2)
			return min(per, fit) * MaxServerProcs, fmt.Sprintf("(%d - 4096) / 2 mappings per thread stack, at most %d per process (open files) × %d processes", v, fit, MaxServerProcs)
		}))
	}
	return out
}

// sysctlLimit is the limit of a sysctl with value have (0: not there, no
// bound), at top when tuned; conns says what a value allows.
func sysctlLimit(name string, have, top int, tuned bool, conns func(int) (int64, string)) Limit {
	l := Limit{Name: name, Have: strconv.Itoa(have), Sysctl: name}
	if have <= 0 {
		l.Conns, l.How = math.MaxInt64, "not set here"
		return l
	}
	v := have
	if tuned && top > have {
		v = top
	}
	l.Conns, l.How = conns(v)
	if v != have {
		l.How = "raised to " + strconv.Itoa(v) + " by -tune: " + l.How
	}
	return l
}
