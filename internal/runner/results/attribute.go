package results

import (
	"math"
	"sort"

	"tenkthreads/internal/sysinfo"
)

// Attribution splits a run's machine-wide growth, from the idle snapshot
// to the peak one, between the server and the client, by part; all KiB.
type Attribution struct {
	Server, Client Costs
	// Conns is the connections the server's per-connection figures
	// divide by (set by MachineMetrics).
	Conns Num
	// Growth is each /proc/meminfo counter at the peak minus idle.
	Growth sysinfo.Meminfo
	// SlabGrowth is the slab's growth on Basis.
	SlabGrowth Num
	Basis      string
	// OtherKernel is the slab growth that the server's and the client's
	// thread objects and sockets do not explain: the model's own kernel
	// objects (io_uring requests, a process's mm and files), and what
	// other processes did meanwhile.
	OtherKernel Num
	// OtherCaches is OtherKernel by cache, the largest first (slabinfo
	// basis only).
	OtherCaches []CacheCost
}

// Attribute divides the growth of m by the calibration. srvUser and
// srvKStack are the server's user-space memory and kernel stacks as the
// tables show them (KiB): the parts must add up to what is shown. The
// rest of the server's parts come from the growth of its footprint (its
// threads, mappings, sockets, epoll registrations and VmPTE) and the
// client's from its whole footprint, since it did not exist at idle.
// ok is false without both snapshots.
func Attribute(m *Machine, cal *Calibration, kpt, srvUser, srvKStack Num) (a Attribution, ok bool) {
	if m == nil || m.Idle == nil || m.Peak == nil || m.Idle.Server == nil || m.Peak.Server == nil {
		return a, false
	}
	idle, peak := m.Idle, m.Peak
	su := unitsOf(peak.Server, idle.Server)
	a.Server = cal.Kernel(su, kpt)
	a.Server.User, a.Server.KStack = srvUser, srvKStack
	a.Server.PageTables = N(float64(max(0, peak.Server.PageTablesKiB-idle.Server.PageTablesKiB)))
	var cu Units
	if c := peak.Client; c != nil {
		cu = unitsOf(c, nil)
		a.Client = cal.Kernel(cu, kpt)
		a.Client.User = N(float64(c.AnonKiB))
		a.Client.PageTables = N(float64(c.PageTablesKiB))
	} else if m.ClientElsewhere {
		// Nothing to subtract: every part of the client is zero here.
		a.Client = cal.Kernel(Units{}, kpt)
		a.Client.User, a.Client.PageTables = N(0), N(0)
	}
	a.Growth = meminfoGrowth(idle.Meminfo, peak.Meminfo)
	a.Basis = BasisMeminfo
	a.SlabGrowth = N(float64(a.Growth.Slab))
	if idle.Slab != nil && peak.Slab != nil {
		a.Basis = BasisSlabinfo
		a.SlabGrowth = N(slabGrowth(idle.Slab, peak.Slab))
	}
	explained := 0.0
	for _, p := range []Num{a.Server.ThreadObjects, a.Server.Sockets, a.Client.ThreadObjects, a.Client.Sockets} {
		if !p.Set {
			return a, true
		}
		explained += p.V
	}
	a.OtherKernel = N(a.SlabGrowth.V - explained)
	if a.Basis == BasisSlabinfo && cal != nil && cal.Basis == BasisSlabinfo {
		a.OtherCaches = otherCaches(idle.Slab, peak.Slab, cal, addUnits(su, cu))
	}
	return a, true
}

func meminfoGrowth(a, b sysinfo.Meminfo) sysinfo.Meminfo {
	return sysinfo.Meminfo{
		MemAvailable: b.MemAvailable - a.MemAvailable, MemFree: b.MemFree - a.MemFree,
		AnonPages: b.AnonPages - a.AnonPages, KernelStack: b.KernelStack - a.KernelStack,
		Slab: b.Slab - a.Slab, SUnreclaim: b.SUnreclaim - a.SUnreclaim, PageTables: b.PageTables - a.PageTables,
	}
}

// slabGrowth is the growth of every cache: objects in use at the peak
// minus idle, times what one object takes.
func slabGrowth(idle, peak map[string]sysinfo.SlabCache) float64 {
	sum := 0.0
	for name, p := range peak {
		sum += cacheGrowth(idle[name], p)
	}
	return sum
}

func cacheGrowth(idle, peak sysinfo.SlabCache) float64 {
	return float64(peak.Objects-idle.Objects) * peak.ObjectBytes / 1024
}

func addUnits(a, b Units) Units {
	return Units{a.Threads + b.Threads, a.Mappings + b.Mappings, a.Sockets + b.Sockets, a.EpollWatches + b.EpollWatches}
}

// otherCaches is each cache's growth minus what the units held explain
// of it by the calibration's per-cache costs.
func otherCaches(idle, peak map[string]sysinfo.SlabCache, cal *Calibration, u Units) []CacheCost {
	predicted := map[string]float64{}
	for _, uc := range []struct {
		n    float64
		cost UnitCost
	}{{u.Threads, cal.Thread}, {u.Mappings, cal.Mapping}, {u.Sockets, cal.Socket}, {u.EpollWatches, cal.Epoll}} {
		for _, c := range uc.cost.Caches {
			predicted[c.Name] += uc.n * c.KiB
		}
	}
	var out []CacheCost
	for name, p := range peak {
		if r := cacheGrowth(idle[name], p) - predicted[name]; r != 0 {
			out = append(out, CacheCost{name, r})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if a, b := math.Abs(out[i].KiB), math.Abs(out[j].KiB); a != b {
			return a > b
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// MachineMetrics fills the machine figures of a run from its record and
// returns the attribution they come from; nil when the record lacks a
// snapshot, or its peak snapshot may have missed the hold.
func MachineMetrics(m *Metrics, mach *Machine, cal *Calibration, kpt Num) *Attribution {
	n := m.MaxConc
	if m.HeldConns.Set && !m.ProbeLate {
		n = m.HeldConns
	}
	if mach == nil || mach.PeakLate || !n.Set || n.V <= 0 {
		return nil
	}
	// The tables' per-connection figures, back to totals, so that the
	// parts add up to what the tables show.
	var user, kstack Num
	if m.KiBPerConn.Set {
		user = N(m.KiBPerConn.V * n.V)
	}
	if m.KStackPerC.Set {
		kstack = N(m.KStackPerC.V * n.V)
	}
	a, ok := Attribute(mach, cal, kpt, user, kstack)
	if !ok {
		return nil
	}
	a.Conns = n
	pc := a.Server.Per(n.V)
	m.ThreadObjPerC, m.SocketPerC, m.PageTablesPerC = pc.ThreadObjects, pc.Sockets, pc.PageTables
	m.MachinePerC = pc.Sum()
	if a.OtherKernel.Set {
		m.OtherKernelPerC = N(a.OtherKernel.V / n.V)
	}
	cs, ss := a.Client.Sum(), a.Server.Sum()
	// A client on other hosts costs this one nothing, and its own cost
	// is not measured.
	if cs.Set && !mach.ClientElsewhere {
		m.ClientPerC = N(cs.V / n.V)
	}
	if a.Client.User.Set && !mach.ClientElsewhere {
		m.ClientUserPerC = N(a.Client.User.V / n.V)
	}
	m.AvailDropKiB = N(float64(-a.Growth.MemAvailable))
	g := a.Growth
	m.CountersKiB = N(float64(g.AnonPages + g.KernelStack + g.Slab + g.PageTables))
	if cs.Set && ss.Set {
		m.PartsSumKiB = N(ss.V + cs.V)
		m.CheckDiffKiB = N(m.AvailDropKiB.V - m.PartsSumKiB.V)
	}
	return &a
}
