package results

import (
	"fmt"
	"sort"
)

// Stat is the median and spread of one figure over a cell's repetitions,
// counting only the repetitions where it was measured.
type Stat struct {
	Med, Min, Max Num
	N             int
}

// StatOf is the Stat of the measured values among vals.
func StatOf(vals []Num) Stat {
	var xs []float64
	for _, v := range vals {
		if v.Set {
			xs = append(xs, v.V)
		}
	}
	if len(xs) == 0 {
		return Stat{}
	}
	sort.Float64s(xs)
	med := xs[len(xs)/2]
	if len(xs)%2 == 0 {
		med = (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	return Stat{Med: N(med), Min: N(xs[0]), Max: N(xs[len(xs)-1]), N: len(xs)}
}

// Def is one figure of a cell: its stable key (results.csv's column, a
// Cell.Stat key), its title and where it comes from in a run's Metrics.
type Def struct {
	Key   string
	Title string
	Get   func(Metrics) Num
}

// Defs is every figure of a cell, in results.csv's column order; keys are
// stable for scripts. A new figure is a field of Metrics, filled by
// Derive or ProbeMetrics, and one line here.
var Defs = []Def{
	{"requested", "requested", func(m Metrics) Num { return m.Requested }},
	{"established", "established", func(m Metrics) Num { return m.Established }},
	{"verified", "verified", func(m Metrics) Num { return m.Verified }},
	{"errors", "client errors", func(m Metrics) Num { return m.Errors }},
	{"server_max_conc", "server peak connections", func(m Metrics) Num { return m.MaxConc }},
	{"peak_rss_kib", "server peak resident (KiB, VmHWM)", func(m Metrics) Num { return m.PeakRSSKiB }},
	{"kib_per_conn", "user-space KiB per connection", func(m Metrics) Num { return m.KiBPerConn }},
	{"kstack_kib", "kernel stack growth (KiB)", func(m Metrics) Num { return m.KStackKiB }},
	{"kstack_kib_per_conn", "kernel stack KiB per connection", func(m Metrics) Num { return m.KStackPerC }},
	{"kstack_system_kib", "system-wide KernelStack growth at the peak (KiB)", func(m Metrics) Num { return m.KStackSysKiB }},
	{"server_cpu_s", "server CPU (s)", func(m Metrics) Num { return m.CPUS }},
	{"client_cpu_s", "client CPU (s)", func(m Metrics) Num { return m.ClientCPUS }},
	{"connect_all_s", "time to connect all (s)", func(m Metrics) Num { return m.ConnectAllS }},
	{"rtt_p50_us", "rtt p50 (µs)", func(m Metrics) Num { return m.RTTP50us }},
	{"rtt_p99_us", "rtt p99 (µs)", func(m Metrics) Num { return m.RTTP99us }},
	{"round_trips", "round trips", func(m Metrics) Num { return m.RoundTrips }},
	{"round_trips_per_s", "round trips/s", func(m Metrics) Num { return m.RTPerS }},
	{"window_round_trips_per_s", "round trips completed within -duration, per second of it", func(m Metrics) Num { return m.WindowRTPerS }},
	{"server_cpu_us_per_rt", "server CPU per round trip (µs)", func(m Metrics) Num { return m.CPUPerRTus }},
	{"server_threads_peak", "server threads (peak)", func(m Metrics) Num { return m.Threads }},
	{"server_resets", "server resets", func(m Metrics) Num { return m.Resets }},
	{"client_cores_busy", "client cores busy", func(m Metrics) Num { return m.ClientBusy }},
	{"other_cpu_s", "CPU used by other processes during the run (s)", func(m Metrics) Num { return m.OtherCPUS }},
	{"other_cpu_pct", "share of the machine's CPU other processes used during the run (%)", func(m Metrics) Num { return m.OtherShare }},
	{"server_max_waiting", "server: peak requests in their -d wait at once", func(m Metrics) Num { return m.MaxWaiting }},
	{"starved", "active connections that completed no round trip", func(m Metrics) Num { return m.Starved }},
	{"rt_per_conn_min", "round trips of the connection with fewest", func(m Metrics) Num { return m.PerConnMin }},
	{"rt_per_conn_median", "round trips per connection, median", func(m Metrics) Num { return m.PerConnMed }},
	{"rt_per_conn_max", "round trips of the connection with most", func(m Metrics) Num { return m.PerConnMax }},
	{"idle_conns", "idle keep-alive connections beside the active ones (client -idle)", func(m Metrics) Num { return m.IdleConns }},
	{"idle_verified", "idle connections verified at the end", func(m Metrics) Num { return m.IdleVerified }},
	// Probed runs only (bench, c100k, models); empty otherwise.
	{"held_conns", "server connections open at the hold report", func(m Metrics) Num { return m.HeldConns }},
	{"hold_kib_per_conn", "resident growth idle to hold per connection (KiB)", func(m Metrics) Num { return m.HoldKiBPerConn }},
	{"hold_kib_per_conn_from_start", "resident growth start to hold per connection (KiB)", func(m Metrics) Num { return m.HoldKiBPerConnStart }},
	{"hold_kstack_kib_per_conn", "kernel stack per connection at the hold (KiB)", func(m Metrics) Num { return m.HoldKStackPerC }},
	{"hold_kstack_all_kib_per_conn", "all the server's kernel stacks at the hold per connection (KiB)", func(m Metrics) Num { return m.HoldKStackAllPerC }},
	{"hold_cpu_us_per_rt", "server CPU from the hold report to exit per round trip (µs)", func(m Metrics) Num { return m.HoldCPUPerRTus }},
	{"accept_server_s", "server: first to last connection thread (s)", func(m Metrics) Num { return m.AcceptServerS }},
	{"gib_per_s", "echoed payload each direction (GiB/s)", func(m Metrics) Num { return m.GiBPerS }},
	// Runs with a machine record (the matrix's hold workload, the models'
	// long-lived connections, the ceiling's calibration); empty otherwise.
	{"thread_objects_kib_per_conn", "kernel objects of the server's threads and their mappings per connection (KiB)", func(m Metrics) Num { return m.ThreadObjPerC }},
	{"socket_kib_per_conn", "the server's socket end and epoll registration per connection (KiB)", func(m Metrics) Num { return m.SocketPerC }},
	{"page_tables_kib_per_conn", "growth of the server's page tables per connection (KiB)", func(m Metrics) Num { return m.PageTablesPerC }},
	{"machine_kib_per_conn", "machine memory per connection: user space + kernel stack + thread objects + socket + page tables (KiB)", func(m Metrics) Num { return m.MachinePerC }},
	{"other_kernel_kib_per_conn", "slab growth the parts do not explain, per connection (KiB; not in machine_kib_per_conn)", func(m Metrics) Num { return m.OtherKernelPerC }},
	{"client_machine_kib_per_conn", "the client's machine memory per connection, every part (KiB)", func(m Metrics) Num { return m.ClientPerC }},
	{"mem_available_drop_kib", "MemAvailable drop from idle to the peak (KiB)", func(m Metrics) Num { return m.AvailDropKiB }},
	{"parts_sum_kib", "the server's and the client's parts together (KiB)", func(m Metrics) Num { return m.PartsSumKiB }},
	{"available_minus_parts_kib", "MemAvailable drop minus the parts (KiB)", func(m Metrics) Num { return m.CheckDiffKiB }},
	{"counters_growth_kib", "growth of AnonPages + KernelStack + Slab + PageTables from idle to the peak (KiB)", func(m Metrics) Num { return m.CountersKiB }},
	{"ramp_conns_per_s", "connections established per second of the ramp", func(m Metrics) Num { return m.RampPerS }},
	{"listen_drops", "listen-queue drops during the run (TcpExtListenDrops, machine-wide)", func(m Metrics) Num { return m.ListenDrops }},
	{"listen_overflows", "accept-queue overflows during the run (TcpExtListenOverflows, machine-wide)", func(m Metrics) Num { return m.ListenOverfl }},
	{"syncookies_failed", "ACKs matching no handshake, answered with a reset (TcpExtSyncookiesFailed, machine-wide)", func(m Metrics) Num { return m.CookiesFail }},
}

// Cell is one (server, workload, connections) point with all its runs.
type Cell struct {
	Server, Label, Model, Workload string
	Conns                          int
	Runs                           []*Run
	Stats                          map[string]Stat
}

// Status is the worst status of the cell's runs, with how many runs had it.
func (c *Cell) Status() string {
	worst, n := StatusOK, 0
	for _, r := range c.Runs {
		if statusRank[r.Status] > statusRank[worst] {
			worst, n = r.Status, 0
		}
		if r.Status == worst {
			n++
		}
	}
	if worst == StatusOK || len(c.Runs) == 1 {
		return worst
	}
	return fmt.Sprintf("%s %d/%d", worst, n, len(c.Runs))
}

// Stat is the figure of Defs with that key.
func (c *Cell) Stat(key string) Stat { return c.Stats[key] }

// ThreadPerConn says whether the server paid a kernel stack per
// connection (a thread or a process each), judged from the data, so the
// kernel stacks are charged to the models that really pay them.
func (c *Cell) ThreadPerConn() bool {
	k := c.Stat("kstack_kib_per_conn").Med
	return k.Set && k.V >= 1
}

// WorkloadOrder sorts the matrix's workloads.
var WorkloadOrder = map[string]int{"hold": 0, "echo": 1, "reconnect": 2}

// Aggregate groups runs into cells in a stable order: servers as first
// seen, then workload, then connections.
func Aggregate(runs []*Run) []*Cell {
	serverOrder := map[string]int{}
	cells := map[string]*Cell{}
	var list []*Cell
	for _, r := range runs {
		if _, ok := serverOrder[r.Server]; !ok {
			serverOrder[r.Server] = len(serverOrder)
		}
		k := fmt.Sprintf("%s|%s|%d", r.Server, r.Workload, r.Conns)
		c, ok := cells[k]
		if !ok {
			c = &Cell{Server: r.Server, Label: r.Label, Model: r.Model, Workload: r.Workload, Conns: r.Conns}
			cells[k] = c
			list = append(list, c)
		}
		c.Runs = append(c.Runs, r)
	}
	for _, c := range list {
		c.Stats = map[string]Stat{}
		for _, d := range Defs {
			vals := make([]Num, len(c.Runs))
			for i, r := range c.Runs {
				vals[i] = d.Get(r.M)
			}
			c.Stats[d.Key] = StatOf(vals)
		}
	}
	sort.SliceStable(list, func(i, j int) bool {
		a, b := list[i], list[j]
		if serverOrder[a.Server] != serverOrder[b.Server] {
			return serverOrder[a.Server] < serverOrder[b.Server]
		}
		if WorkloadOrder[a.Workload] != WorkloadOrder[b.Workload] {
			return WorkloadOrder[a.Workload] < WorkloadOrder[b.Workload]
		}
		return a.Conns < b.Conns
	})
	return list
}

// CellsOf is the cells of one workload.
func CellsOf(cells []*Cell, workload string) []*Cell {
	var out []*Cell
	for _, c := range cells {
		if c.Workload == workload {
			out = append(out, c)
		}
	}
	return out
}

// FindCell is the cell of (server, workload, n), or nil.
func FindCell(cells []*Cell, server, workload string, n int) *Cell {
	for _, c := range cells {
		if c.Server == server && c.Workload == workload && c.Conns == n {
			return c
		}
	}
	return nil
}
