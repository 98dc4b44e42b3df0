package results

import (
	"math"
	"testing"

	"tenkthreads/internal/sysinfo"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

// cal is a calibration in round numbers: a thread 6 KiB of task_struct, a
// mapping 0.5 KiB, a socket end 3 KiB, an epoll registration 0.25 KiB.
func cal() *Calibration {
	return &Calibration{
		Basis:   BasisSlabinfo,
		Thread:  UnitCost{SlabKiB: N(6), Caches: []CacheCost{{"task_struct", 6}}},
		Mapping: UnitCost{SlabKiB: N(0.5), Caches: []CacheCost{{"vm_area_struct", 0.5}}},
		Socket:  UnitCost{SlabKiB: N(3), Caches: []CacheCost{{"TCP", 2.5}, {"filp", 0.5}}},
		Epoll:   UnitCost{SlabKiB: N(0.25), Caches: []CacheCost{{"eventpoll_epi", 0.25}}},
	}
}

func caches(objs map[string]int64) map[string]sysinfo.SlabCache {
	size := map[string]float64{"task_struct": 6144, "vm_area_struct": 512, "TCP": 2560, "filp": 512, "eventpoll_epi": 256, "io_kiocb": 256}
	out := map[string]sysinfo.SlabCache{}
	for name, n := range objs {
		out[name] = sysinfo.SlabCache{Objects: n, ObjectBytes: size[name]}
	}
	return out
}

// holdRun is a thread server holding 1,000 connections from a Go client:
// 1,000 threads, 2,000 mappings and 1,000 sockets more in the server; a
// client of 6 threads, 60 mappings, 1,000 sockets, each registered with
// epoll (plus one more registration); and 100 KiB of io_kiocb that no
// unit explains.
func holdRun() *Machine {
	return &Machine{
		Idle: &Snapshot{
			Meminfo: sysinfo.Meminfo{MemAvailable: 1_000_000, Slab: 100_000, KernelStack: 1_000},
			Slab:    caches(map[string]int64{"task_struct": 100, "vm_area_struct": 1000, "TCP": 50, "filp": 200, "eventpoll_epi": 10, "io_kiocb": 0}),
			Server:  &sysinfo.Footprint{Procs: 1, Threads: 2, Mappings: 40, Sockets: 1, PageTablesKiB: 48},
		},
		Peak: &Snapshot{
			Meminfo: sysinfo.Meminfo{MemAvailable: 950_000, Slab: 113_500, KernelStack: 17_100},
			Slab:    caches(map[string]int64{"task_struct": 1106, "vm_area_struct": 3060, "TCP": 2050, "filp": 2200, "eventpoll_epi": 1011, "io_kiocb": 400}),
			Server:  &sysinfo.Footprint{Procs: 1, Threads: 1002, Mappings: 2040, Sockets: 1001, PageTablesKiB: 92},
			Client:  &sysinfo.Footprint{Procs: 1, Threads: 6, AnonKiB: 8000, Mappings: 60, Sockets: 1000, EpollWatches: 1001, PageTablesKiB: 172},
		},
	}
}

func TestAttribute(t *testing.T) {
	a, ok := Attribute(holdRun(), cal(), N(16), N(8400), N(16000))
	if !ok {
		t.Fatal("no attribution with both snapshots")
	}
	s, c := a.Server, a.Client
	for name, got := range map[string][2]float64{
		"server thread objects (1000 × 6 + 2000 × 0.5)": {s.ThreadObjects.V, 7000},
		"server sockets (1000 × 3)":                     {s.Sockets.V, 3000},
		"server page tables (92 − 48)":                  {s.PageTables.V, 44},
		"server sum":                                    {s.Sum().V, 8400 + 16000 + 7000 + 3000 + 44},
		"client kernel stacks (6 × 16)":                 {c.KStack.V, 96},
		"client thread objects (6 × 6 + 60 × 0.5)":      {c.ThreadObjects.V, 66},
		"client sockets (1000 × 3 + 1001 × 0.25)":       {c.Sockets.V, 3250.25},
		"client user space (RssAnon)":                   {c.User.V, 8000},
		"slab growth, cache by cache":                   {a.SlabGrowth.V, 6036 + 1030 + 5000 + 1000 + 250.25 + 100},
		"other kernel (the io_kiocb)":                   {a.OtherKernel.V, 100},
	} {
		if !near(got[0], got[1]) {
			t.Errorf("%s = %v, want %v", name, got[0], got[1])
		}
	}
	if a.Basis != BasisSlabinfo || len(a.OtherCaches) != 1 || a.OtherCaches[0].Name != "io_kiocb" || !near(a.OtherCaches[0].KiB, 100) {
		t.Errorf("basis %s, unexplained caches %+v; want only io_kiocb 100", a.Basis, a.OtherCaches)
	}
}

// Without /proc/slabinfo the slab growth is the Slab total's, and nothing
// is broken down by cache.
func TestAttributeMeminfoBasis(t *testing.T) {
	m := holdRun()
	m.Idle.Slab, m.Peak.Slab = nil, nil
	c := cal()
	c.Basis = BasisMeminfo
	a, _ := Attribute(m, c, N(16), N(8400), N(16000))
	if a.Basis != BasisMeminfo || a.SlabGrowth.V != 13_500 || !near(a.OtherKernel.V, 13_500-13_316.25) || a.OtherCaches != nil {
		t.Errorf("meminfo basis: %s, growth %v, other %v, caches %v", a.Basis, a.SlabGrowth, a.OtherKernel, a.OtherCaches)
	}
}

func TestMachineMetrics(t *testing.T) {
	m := Metrics{MaxConc: N(1000), KiBPerConn: N(8.4), KStackPerC: N(16)}
	a := MachineMetrics(&m, holdRun(), cal(), N(16))
	if a == nil {
		t.Fatal("no attribution")
	}
	parts := m.KiBPerConn.V + m.KStackPerC.V + m.ThreadObjPerC.V + m.SocketPerC.V + m.PageTablesPerC.V
	if !near(m.MachinePerC.V, parts) || !near(m.MachinePerC.V, 34.444) {
		t.Errorf("machine %v KiB/conn, parts add up to %v, want 34.444", m.MachinePerC, parts)
	}
	client := 8000 + 96 + 66 + 3250.25 + 172.0
	for name, got := range map[string][2]float64{
		"thread objects": {m.ThreadObjPerC.V, 7}, "socket": {m.SocketPerC.V, 3}, "page tables": {m.PageTablesPerC.V, 0.044},
		"other kernel": {m.OtherKernelPerC.V, 0.1}, "client per conn": {m.ClientPerC.V, client / 1000},
		"MemAvailable drop": {m.AvailDropKiB.V, 50_000}, "parts": {m.PartsSumKiB.V, 34_444 + client},
		"drop − parts": {m.CheckDiffKiB.V, 50_000 - 34_444 - client},
	} {
		if !near(got[0], got[1]) {
			t.Errorf("%s = %v, want %v", name, got[0], got[1])
		}
	}
	// A peak snapshot that may have missed the hold, or none: not measured.
	late := holdRun()
	late.PeakLate = true
	none := holdRun()
	none.Peak = nil
	for name, mach := range map[string]*Machine{"late": late, "no peak": none} {
		m := Metrics{MaxConc: N(1000), KiBPerConn: N(8.4), KStackPerC: N(16)}
		if MachineMetrics(&m, mach, cal(), N(16)) != nil || m.MachinePerC.Set || m.ThreadObjPerC.Set {
			t.Errorf("%s: machine figures measured: %+v", name, m)
		}
	}
	// Without a calibration the calibrated parts, and so the sum, are not
	// measured; page tables are, directly.
	m = Metrics{MaxConc: N(1000), KiBPerConn: N(8.4), KStackPerC: N(16)}
	MachineMetrics(&m, holdRun(), nil, N(16))
	if m.MachinePerC.Set || m.ThreadObjPerC.Set || !near(m.PageTablesPerC.V, 0.044) {
		t.Errorf("no calibration: machine %v, thread objects %v, page tables %v", m.MachinePerC, m.ThreadObjPerC, m.PageTablesPerC)
	}
}

// The estimate the ceiling uses: a connection of the thread model is a
// thread, its two mappings and a socket end.
func TestCalibrationKernel(t *testing.T) {
	c := cal().Kernel(Units{Threads: 1, Mappings: 2, Sockets: 1}, N(16))
	if c.KStack.V != 16 || c.ThreadObjects.V != 7 || c.Sockets.V != 3 || c.User.Set || c.PageTables.Set {
		t.Errorf("thread model estimate %+v", c)
	}
}

// A recorded run (10kthreads thread model, 1,000 connections, this
// repository's runner on a shared 2-core machine; slabinfo kept only for
// the caches whose objects changed, since the others add nothing): the
// parts are present and add up, and the unexplained slab is what is left
// of the growth.
func TestAttributeRecorded(t *testing.T) {
	mach, err := ReadMachine("testdata/thread_hold_1000.machine.json")
	if err != nil {
		t.Fatal(err)
	}
	m := Metrics{MaxConc: N(1000), KiBPerConn: N(8.4), KStackPerC: N(16)}
	a := MachineMetrics(&m, mach, cal(), N(16))
	if a == nil {
		t.Fatal("no attribution")
	}
	if m.ThreadObjPerC.V <= 0 || m.ThreadObjPerC.V >= 16+16 || m.SocketPerC.V <= 0 || m.PageTablesPerC.V < 0 {
		t.Errorf("parts: thread objects %v, socket %v, page tables %v", m.ThreadObjPerC, m.SocketPerC, m.PageTablesPerC)
	}
	if !near(m.MachinePerC.V, m.KiBPerConn.V+m.KStackPerC.V+m.ThreadObjPerC.V+m.SocketPerC.V+m.PageTablesPerC.V) {
		t.Errorf("machine %v is not the sum of its parts", m.MachinePerC)
	}
	explained := a.Server.ThreadObjects.V + a.Server.Sockets.V + a.Client.ThreadObjects.V + a.Client.Sockets.V
	if a.Basis != BasisSlabinfo || !near(a.OtherKernel.V, a.SlabGrowth.V-explained) || len(a.OtherCaches) == 0 {
		t.Errorf("basis %s, other %v, growth %v, explained %v, caches %d", a.Basis, a.OtherKernel, a.SlabGrowth, explained, len(a.OtherCaches))
	}
}

// A cell gives its parts per connection for a mode that plans by memory.
func TestCellMachinePerConn(t *testing.T) {
	r := &Run{Server: "s", Workload: "hold", Conns: 1000}
	r.M = Metrics{MaxConc: N(1000), KiBPerConn: N(8.4), KStackPerC: N(16)}
	MachineMetrics(&r.M, holdRun(), cal(), N(16))
	c := Aggregate([]*Run{r})[0].MachinePerConn()
	if c.User.V != 8.4 || c.KStack.V != 16 || c.ThreadObjects.V != 7 || c.Sockets.V != 3 || !near(c.PageTables.V, 0.044) || !near(c.Sum().V, 34.444) {
		t.Errorf("per connection %+v", c)
	}
}

// A run across hosts: the server host's record has no client, and none of
// its growth is the client's. Without ClientElsewhere the same record is a
// local one whose client could not be read, and what the parts leave
// unexplained is not measured.
func TestAttributeClientElsewhere(t *testing.T) {
	m := holdRun()
	m.Peak.Client = nil
	if a, ok := Attribute(m, cal(), N(16), N(8400), N(16000)); !ok || a.OtherKernel.Set || a.Client.Sum().Set {
		t.Errorf("client unread: other kernel %v, client %v; want both not measured", a.OtherKernel, a.Client.Sum())
	}
	m.ClientElsewhere = true
	a, ok := Attribute(m, cal(), N(16), N(8400), N(16000))
	if !ok || !a.Client.Sum().Set || a.Client.Sum().V != 0 {
		t.Fatalf("client elsewhere: client parts %+v, want all zero", a.Client)
	}
	// The caches grow by 13,416.25 KiB (task_struct 1,006 × 6, vm_area_struct
	// 2,060 × 0.5, TCP 2,000 × 2.5, filp 2,000 × 0.5, eventpoll_epi 1,001 ×
	// 0.25, io_kiocb 400 × 0.25); the server's 1,000 threads (6,000), 2,000
	// mappings (1,000) and 1,000 sockets (3,000) explain 10,000 of it, and
	// the client nothing.
	if !a.OtherKernel.Set || !near(a.OtherKernel.V, 13_416.25-10_000) {
		t.Errorf("other kernel %v, want 3416.25", a.OtherKernel)
	}
}
