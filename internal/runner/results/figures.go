package results

import "strings"

// A Figure is one figure of a cell: the compiler checks its name, and
// its key (Key) is results.csv's column, stable for scripts. A new figure
// is a field of Metrics, filled by Derive, ProbeMetrics or
// MachineMetrics, a constant here and its line in figureDefs.
type Figure int

// The figures, in results.csv's column order.
const (
	Requested Figure = iota
	Established
	Verified
	Errors
	ServerMaxConc
	PeakRSSKiB
	KiBPerConn
	KStackKiB
	KStackKiBPerConn
	KStackSystemKiB
	ServerCPUS
	ClientCPUS
	ConnectAllS
	RTTP50
	RTTP99
	RoundTrips
	RoundTripsPerS
	WindowRoundTripsPerS
	ServerCPUPerRT
	ServerThreadsPeak
	ServerResets
	ClientCoresBusy
	OtherCPUS
	OtherCPUPct
	ServerMaxWaiting
	Starved
	RTPerConnMin
	RTPerConnMedian
	RTPerConnMax
	IdleConns
	IdleVerified
	// Probed runs only (bench, c100k, models); empty otherwise.
	HeldConns
	HoldKiBPerConn
	HoldKiBPerConnFromStart
	HoldKStackKiBPerConn
	HoldKStackAllKiBPerConn
	HoldCPUPerRT
	AcceptServerS
	GiBPerS
	// Runs with a machine record (the matrix's hold workload, the models'
	// long-lived connections, the ceiling's calibration); empty otherwise.
	ThreadObjectsKiBPerConn
	SocketKiBPerConn
	PageTablesKiBPerConn
	MachineKiBPerConn
	OtherKernelKiBPerConn
	ClientMachineKiBPerConn
	MemAvailableDropKiB
	PartsSumKiB
	AvailableMinusPartsKiB
	CountersGrowthKiB
	// Every run: the ramp and the machine's listen queues.
	RampConnsPerS
	ListenDrops
	ListenOverflows
	SyncookiesFailed
	// The client's own cost, so a reader sees which side was the
	// bottleneck: CPU per message (echo workloads) and user memory per
	// connection (runs with a machine record).
	ClientCPUPerMsg
	ClientUserKiBPerConn
	// Counted runs only (the counts workload): what the kernel counted
	// for the server's processes, per round trip (perf_event_open).
	CtxSwitchesPerRT
	SyscallsPerRT
	MigrationsPerRT
	PageFaultsPerRT
	CyclesPerRT
	InstructionsPerRT
	// The client's user-space CPU per message: its own code, without the
	// kernel's work for its system calls (last, to keep results.csv's
	// columns in place).
	ClientUserCPUPerMsg
	numFigures
)

// figureDef is a figure's key, its title and where a run's Metrics have it.
type figureDef struct {
	key, title string
	get        func(Metrics) Num
}

var figureDefs = [numFigures]figureDef{
	Requested:            {"requested", "requested", func(m Metrics) Num { return m.Requested }},
	Established:          {"established", "established", func(m Metrics) Num { return m.Established }},
	Verified:             {"verified", "verified", func(m Metrics) Num { return m.Verified }},
	Errors:               {"errors", "client errors", func(m Metrics) Num { return m.Errors }},
	ServerMaxConc:        {"server_max_conc", "server peak connections", func(m Metrics) Num { return m.MaxConc }},
	PeakRSSKiB:           {"peak_rss_kib", "server peak resident (KiB, VmHWM)", func(m Metrics) Num { return m.PeakRSSKiB }},
	KiBPerConn:           {"kib_per_conn", "user-space KiB per connection", func(m Metrics) Num { return m.KiBPerConn }},
	KStackKiB:            {"kstack_kib", "kernel stack growth (KiB)", func(m Metrics) Num { return m.KStackKiB }},
	KStackKiBPerConn:     {"kstack_kib_per_conn", "kernel stack KiB per connection", func(m Metrics) Num { return m.KStackPerC }},
	KStackSystemKiB:      {"kstack_system_kib", "system-wide KernelStack growth at the peak (KiB)", func(m Metrics) Num { return m.KStackSysKiB }},
	ServerCPUS:           {"server_cpu_s", "server CPU (s)", func(m Metrics) Num { return m.CPUS }},
	ClientCPUS:           {"client_cpu_s", "client CPU (s)", func(m Metrics) Num { return m.ClientCPUS }},
	ConnectAllS:          {"connect_all_s", "time to connect all (s)", func(m Metrics) Num { return m.ConnectAllS }},
	RTTP50:               {"rtt_p50_us", "rtt p50 (µs)", func(m Metrics) Num { return m.RTTP50us }},
	RTTP99:               {"rtt_p99_us", "rtt p99 (µs)", func(m Metrics) Num { return m.RTTP99us }},
	RoundTrips:           {"round_trips", "round trips", func(m Metrics) Num { return m.RoundTrips }},
	RoundTripsPerS:       {"round_trips_per_s", "round trips/s", func(m Metrics) Num { return m.RTPerS }},
	WindowRoundTripsPerS: {"window_round_trips_per_s", "round trips completed within -duration, per second of it", func(m Metrics) Num { return m.WindowRTPerS }},
	ServerCPUPerRT:       {"server_cpu_us_per_rt", "server CPU per round trip (µs)", func(m Metrics) Num { return m.CPUPerRTus }},
	ServerThreadsPeak:    {"server_threads_peak", "server threads (peak)", func(m Metrics) Num { return m.Threads }},
	ServerResets:         {"server_resets", "server resets", func(m Metrics) Num { return m.Resets }},
	ClientCoresBusy:      {"client_cores_busy", "client cores busy", func(m Metrics) Num { return m.ClientBusy }},
	OtherCPUS:            {"other_cpu_s", "CPU used by other processes during the run (s)", func(m Metrics) Num { return m.OtherCPUS }},
	OtherCPUPct:          {"other_cpu_pct", "share of the machine's CPU other processes used during the run (%)", func(m Metrics) Num { return m.OtherShare }},
	ServerMaxWaiting:     {"server_max_waiting", "server: peak requests in their -d wait at once", func(m Metrics) Num { return m.MaxWaiting }},
	Starved:              {"starved", "active connections that completed no round trip", func(m Metrics) Num { return m.Starved }},
	RTPerConnMin:         {"rt_per_conn_min", "round trips of the connection with fewest", func(m Metrics) Num { return m.PerConnMin }},
	RTPerConnMedian:      {"rt_per_conn_median", "round trips per connection, median", func(m Metrics) Num { return m.PerConnMed }},
	RTPerConnMax:         {"rt_per_conn_max", "round trips of the connection with most", func(m Metrics) Num { return m.PerConnMax }},
	IdleConns:            {"idle_conns", "idle keep-alive connections beside the active ones (client -idle)", func(m Metrics) Num { return m.IdleConns }},
	IdleVerified:         {"idle_verified", "idle connections verified at the end", func(m Metrics) Num { return m.IdleVerified }},
	// Probed runs only (bench, c100k, models); empty otherwise.
	HeldConns:               {"held_conns", "server connections open at the hold report", func(m Metrics) Num { return m.HeldConns }},
	HoldKiBPerConn:          {"hold_kib_per_conn", "resident growth idle to hold per connection (KiB)", func(m Metrics) Num { return m.HoldKiBPerConn }},
	HoldKiBPerConnFromStart: {"hold_kib_per_conn_from_start", "resident growth start to hold per connection (KiB)", func(m Metrics) Num { return m.HoldKiBPerConnStart }},
	HoldKStackKiBPerConn:    {"hold_kstack_kib_per_conn", "kernel stack per connection at the hold (KiB)", func(m Metrics) Num { return m.HoldKStackPerC }},
	HoldKStackAllKiBPerConn: {"hold_kstack_all_kib_per_conn", "all the server's kernel stacks at the hold per connection (KiB)", func(m Metrics) Num { return m.HoldKStackAllPerC }},
	HoldCPUPerRT:            {"hold_cpu_us_per_rt", "server CPU from the hold report to exit per round trip (µs)", func(m Metrics) Num { return m.HoldCPUPerRTus }},
	AcceptServerS:           {"accept_server_s", "server: first to last connection thread (s)", func(m Metrics) Num { return m.AcceptServerS }},
	GiBPerS:                 {"gib_per_s", "echoed payload each direction (GiB/s)", func(m Metrics) Num { return m.GiBPerS }},
	// Runs with a machine record (the matrix's hold workload, the models'
	// long-lived connections, the ceiling's calibration); empty otherwise.
	ThreadObjectsKiBPerConn: {"thread_objects_kib_per_conn", "kernel objects of the server's threads and their mappings per connection (KiB)", func(m Metrics) Num { return m.ThreadObjPerC }},
	SocketKiBPerConn:        {"socket_kib_per_conn", "the server's socket end and epoll registration per connection (KiB)", func(m Metrics) Num { return m.SocketPerC }},
	PageTablesKiBPerConn:    {"page_tables_kib_per_conn", "growth of the server's page tables per connection (KiB)", func(m Metrics) Num { return m.PageTablesPerC }},
	MachineKiBPerConn:       {"machine_kib_per_conn", "machine memory per connection: user space + kernel stack + thread objects + socket + page tables (KiB)", func(m Metrics) Num { return m.MachinePerC }},
	OtherKernelKiBPerConn:   {"other_kernel_kib_per_conn", "slab growth the parts do not explain, per connection (KiB; not in machine_kib_per_conn)", func(m Metrics) Num { return m.OtherKernelPerC }},
	ClientMachineKiBPerConn: {"client_machine_kib_per_conn", "the client's machine memory per connection, every part (KiB)", func(m Metrics) Num { return m.ClientPerC }},
	MemAvailableDropKiB:     {"mem_available_drop_kib", "MemAvailable drop from idle to the peak (KiB)", func(m Metrics) Num { return m.AvailDropKiB }},
	PartsSumKiB:             {"parts_sum_kib", "the server's and the client's parts together (KiB)", func(m Metrics) Num { return m.PartsSumKiB }},
	AvailableMinusPartsKiB:  {"available_minus_parts_kib", "MemAvailable drop minus the parts (KiB)", func(m Metrics) Num { return m.CheckDiffKiB }},
	CountersGrowthKiB:       {"counters_growth_kib", "growth of AnonPages + KernelStack + Slab + PageTables from idle to the peak (KiB)", func(m Metrics) Num { return m.CountersKiB }},
	// Every run: the ramp and the machine's listen queues.
	RampConnsPerS:        {"ramp_conns_per_s", "connections established per second of the ramp", func(m Metrics) Num { return m.RampPerS }},
	ListenDrops:          {"listen_drops", "listen-queue drops during the run (TcpExtListenDrops, machine-wide)", func(m Metrics) Num { return m.ListenDrops }},
	ListenOverflows:      {"listen_overflows", "accept-queue overflows during the run (TcpExtListenOverflows, machine-wide)", func(m Metrics) Num { return m.ListenOverfl }},
	SyncookiesFailed:     {"syncookies_failed", "ACKs matching no handshake, answered with a reset (TcpExtSyncookiesFailed, machine-wide)", func(m Metrics) Num { return m.CookiesFail }},
	ClientCPUPerMsg:      {"client_cpu_us_per_msg", "client CPU per message sent and verified, over the steady phase (µs)", func(m Metrics) Num { return m.ClientCPUPerMsg }},
	ClientUserKiBPerConn: {"client_user_kib_per_conn", "the client's anonymous resident memory at the peak per connection (KiB)", func(m Metrics) Num { return m.ClientUserPerC }},
	CtxSwitchesPerRT:     {"ctx_switches_per_rt", "server context switches per round trip (counted runs)", func(m Metrics) Num { return m.CtxSwitchesPerRT }},
	SyscallsPerRT:        {"syscalls_per_rt", "server system calls per round trip (counted runs)", func(m Metrics) Num { return m.SyscallsPerRT }},
	MigrationsPerRT:      {"migrations_per_rt", "server CPU migrations per round trip (counted runs)", func(m Metrics) Num { return m.MigrationsPerRT }},
	PageFaultsPerRT:      {"page_faults_per_rt", "server page faults per round trip (counted runs)", func(m Metrics) Num { return m.PageFaultsPerRT }},
	CyclesPerRT:          {"cycles_per_rt", "server CPU cycles per round trip (counted runs, hardware counters)", func(m Metrics) Num { return m.CyclesPerRT }},
	InstructionsPerRT:    {"instructions_per_rt", "server instructions per round trip (counted runs, hardware counters)", func(m Metrics) Num { return m.InstructionsPerRT }},
	ClientUserCPUPerMsg:  {"client_user_cpu_us_per_msg", "client user-space CPU per message, over the steady phase (µs)", func(m Metrics) Num { return m.ClientUserCPUPerMsg }},
}

// Figures is every figure, in results.csv's column order.
func Figures() []Figure {
	out := make([]Figure, numFigures)
	for i := range out {
		out[i] = Figure(i)
	}
	return out
}

// Key is the figure's stable name: results.csv's column.
func (f Figure) Key() string { return figureDefs[f].key }

// Title is what the figure means, for people.
func (f Figure) Title() string { return figureDefs[f].title }

// Of is the figure of one run.
func (f Figure) Of(m Metrics) Num { return figureDefs[f].get(m) }

// FromHoldReport says the figure comes from the SIGUSR1 report a probed
// run takes while the client holds every connection.
func (f Figure) FromHoldReport() bool { return strings.HasPrefix(f.Key(), "hold_") }
