package results

import (
	"encoding/json"
	"os"

	"tenkthreads/internal/sysinfo"
)

// Slab bases: how slab growth is measured.
const (
	// BasisSlabinfo: objects in use × what each takes of its slab, cache
	// by cache, from /proc/slabinfo.
	BasisSlabinfo = "slabinfo"
	// BasisMeminfo: the Slab total of /proc/meminfo, in whole slab pages,
	// when /proc/slabinfo cannot be read.
	BasisMeminfo = "meminfo"
)

// CacheCost is one slab cache's part of a cost, KiB.
type CacheCost struct {
	Name string  `json:"name"`
	KiB  float64 `json:"kib"`
}

// UnitCost is what one unit (a thread, a mapping, a socket end, an epoll
// registration) costs the kernel's slab: measured by holding Units of
// them, Trials times, the median growth per unit.
type UnitCost struct {
	Units   int `json:"units"`
	Trials  int `json:"trials"`
	SlabKiB Num `json:"slab_kib"`
	// TrialKiB is each trial's whole growth per unit: their spread shows
	// how much other processes moved the machine's counters meanwhile.
	TrialKiB []float64 `json:"trial_kib"`
	// Caches is the per-unit median growth of each cache that grew, the
	// largest first; empty on the meminfo basis.
	Caches []CacheCost `json:"caches"`
}

// Calibration is the kernel's cost per unit on this machine, measured
// once at the start of a campaign (proc.Calibrate). The kernel
// stack per thread is Meta.KStackPerThreadKiB.
type Calibration struct {
	Basis string `json:"basis"`
	// SlabInfoError is why /proc/slabinfo could not be read; "" if it could.
	SlabInfoError string `json:"slabinfo_error"`
	// Thread: an idle thread (task_struct, pid, its kernel stack's
	// bookkeeping), without any mapping of its own.
	Thread UnitCost `json:"thread"`
	// Mapping: one more VMA of a process (vm_area_struct, its anon_vma
	// links, the maple tree's nodes): a pthread's stack and guard page
	// are two.
	Mapping UnitCost `json:"mapping"`
	// Socket: one end of a connected loopback TCP socket (the TCP sock,
	// its inode, file and dentry), registered nowhere.
	Socket UnitCost `json:"socket_end"`
	// Epoll: one descriptor registered in an epoll instance.
	Epoll UnitCost `json:"epoll_watch"`
	// ThreadTrialMappings is the mappings each thread of the thread
	// trials brought (Go's runtime maps a stack and a guard page per
	// thread, as glibc does); Thread is without their cost.
	ThreadTrialMappings float64 `json:"thread_trial_mappings"`
}

// Snapshot is the machine-wide counters and the processes' footprints at
// one moment of a run.
type Snapshot struct {
	At      string          `json:"at"` // RFC 3339, runner clock
	Meminfo sysinfo.Meminfo `json:"meminfo"`
	// Slab is /proc/slabinfo by cache; null when it could not be read.
	Slab   map[string]sysinfo.SlabCache `json:"slabinfo"`
	Server *sysinfo.Footprint           `json:"server"`
	// Client is null in the idle snapshot: it has not started yet.
	Client *sysinfo.Footprint `json:"client"`
}

// Machine is a run's machine-wide record (raw/BASE.machine.json): a
// snapshot of the idle server before the client starts, and one while
// the client holds every connection.
type Machine struct {
	Idle *Snapshot `json:"idle"`
	Peak *Snapshot `json:"peak"`
	// SlabInfoError is why /proc/slabinfo could not be read; "" if it could.
	SlabInfoError string `json:"slabinfo_error"`
	// PeakLate says the peak snapshot may have missed the client's hold.
	PeakLate bool   `json:"peak_late"`
	Detail   string `json:"detail"`
	// ClientElsewhere says the client ran on other hosts (a run across
	// hosts): the snapshots are the server host's, and none of the
	// machine's growth is the client's.
	ClientElsewhere bool `json:"client_elsewhere,omitempty"`
}

// ReadMachine reads a run's machine record.
func ReadMachine(path string) (*Machine, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m Machine
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// MachineParts are the parts of machine_kib_per_conn, bottom to top: the
// figure of each and its name.
var MachineParts = []struct {
	Figure Figure
	Name   string
}{
	{KiBPerConn, "user space"},
	{KStackKiBPerConn, "kernel stack"},
	{ThreadObjectsKiBPerConn, "thread objects"},
	{SocketKiBPerConn, "socket"},
	{PageTablesKiBPerConn, "page tables"},
}

// Costs is what a server's or a client's connections cost the machine,
// KiB, by part (the parts of MachineParts, in its order).
type Costs struct {
	User          Num `json:"user_kib"`
	KStack        Num `json:"kstack_kib"`
	ThreadObjects Num `json:"thread_objects_kib"`
	Sockets       Num `json:"socket_kib"`
	PageTables    Num `json:"page_tables_kib"`
}

// Sum is the whole, not measured unless every part is.
func (c Costs) Sum() Num {
	s := 0.0
	for _, p := range []Num{c.User, c.KStack, c.ThreadObjects, c.Sockets, c.PageTables} {
		if !p.Set {
			return Num{}
		}
		s += p.V
	}
	return N(s)
}

// Per divides every part by n.
func (c Costs) Per(n float64) Costs {
	return c.each(Costs{}, func(x, _ Num) Num {
		if !x.Set || n <= 0 {
			return Num{}
		}
		return N(x.V / n)
	})
}

// Minus is c less o, part by part; not measured unless both are.
func (c Costs) Minus(o Costs) Costs {
	return c.each(o, func(x, y Num) Num {
		if !x.Set || !y.Set {
			return Num{}
		}
		return N(x.V - y.V)
	})
}

// Floor is c with every part below zero raised to it.
func (c Costs) Floor() Costs {
	return c.each(Costs{}, func(x, _ Num) Num {
		if x.Set && x.V < 0 {
			return N(0)
		}
		return x
	})
}

// each is f of c's and o's parts, part by part.
func (c Costs) each(o Costs, f func(x, y Num) Num) Costs {
	return Costs{f(c.User, o.User), f(c.KStack, o.KStack), f(c.ThreadObjects, o.ThreadObjects), f(c.Sockets, o.Sockets), f(c.PageTables, o.PageTables)}
}

// Units is what a process set holds that the calibration prices.
type Units struct {
	Threads, Mappings, Sockets, EpollWatches float64
}

// Kernel is the kernel parts the calibration gives for u: kernel stacks,
// thread objects (threads and their mappings) and sockets (socket ends
// and epoll registrations). User space and page tables are measured, not
// calibrated, so they are left unset. This is the API for estimates: the
// per-connection units of the thread model are {1, 2, 1, 0}.
func (cal *Calibration) Kernel(u Units, kstackPerThread Num) Costs {
	var c Costs
	if kstackPerThread.Set {
		c.KStack = N(u.Threads * kstackPerThread.V)
	}
	if cal == nil {
		return c
	}
	if t, m := cal.Thread.SlabKiB, cal.Mapping.SlabKiB; t.Set && m.Set {
		c.ThreadObjects = N(u.Threads*t.V + u.Mappings*m.V)
	}
	if s, e := cal.Socket.SlabKiB, cal.Epoll.SlabKiB; s.Set && e.Set {
		c.Sockets = N(u.Sockets*s.V + u.EpollWatches*e.V)
	}
	return c
}

// unitsOf is what a footprint holds; growth is peak minus idle, floored
// at zero.
func unitsOf(peak, idle *sysinfo.Footprint) Units {
	if peak == nil {
		return Units{}
	}
	var base sysinfo.Footprint
	if idle != nil {
		base = *idle
	}
	grow := func(a, b int) float64 { return float64(max(0, a-b)) }
	return Units{
		Threads:      grow(peak.Threads, base.Threads),
		Mappings:     grow(peak.Mappings, base.Mappings),
		Sockets:      grow(peak.Sockets, base.Sockets),
		EpollWatches: grow(peak.EpollWatches, base.EpollWatches),
	}
}

// MachinePerConn is a cell's machine memory per connection by part, KiB:
// the median of each part over the cell's runs. This is the API for a
// mode that plans by memory (how many connections fit): Sum() is what
// one more connection costs the server's side of the machine, and the
// cell's client_machine_kib_per_conn what it costs a client on the same
// machine. Before a run, Calibration.Kernel estimates the kernel parts.
func (c *Cell) MachinePerConn() Costs {
	med := make([]Num, len(MachineParts))
	for i, p := range MachineParts {
		med[i] = c.Stat(p.Figure).Med
	}
	return Costs{User: med[0], KStack: med[1], ThreadObjects: med[2], Sockets: med[3], PageTables: med[4]}
}
