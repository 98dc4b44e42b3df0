package results

// Run statuses, worst last so a cell shows the worst of its repetitions.
const (
	StatusOK            = "ok"
	StatusErrors        = "errors"
	StatusBadExit       = "bad-exit"
	StatusClientTimeout = "client-timeout"
	StatusNoStart       = "no-start"
	StatusHung          = "hung"
	StatusCrashed       = "crashed"
	// StatusMemCap: MemAvailable fell below the run's floor and the
	// runner killed the server before the OOM killer could act.
	StatusMemCap = "memory-cap"
)

var statusRank = map[string]int{
	StatusOK: 0, StatusErrors: 1, StatusBadExit: 2, StatusClientTimeout: 3,
	StatusNoStart: 4, StatusHung: 5, StatusCrashed: 6, StatusMemCap: 7,
}

// ServerSpec is one column of the comparison: a binary and the flags that
// select its model.
type ServerSpec struct {
	Key   string   `json:"key"`   // e.g. "10kthreads:thread"
	Label string   `json:"label"` // e.g. "10kthreads (thread)"
	Model string   `json:"model"`
	Path  string   `json:"path"`
	Args  []string `json:"args"`
	// Env is what the server's environment gets besides the runner's
	// (GOMAXPROCS=N for the Go server on N CPUs).
	Env []string `json:"env,omitempty"`
	// Netns: this column's runs put the server and the client in network
	// namespaces of their own (-topology both), the others ran on
	// loopback.
	Netns bool `json:"netns,omitempty"`
}

// Run is one execution of one cell: the record written to runs.json. The
// figures are derived from the raw JSON files when the report is built, so
// the report can be regenerated from the raw data alone.
type Run struct {
	Server         string   `json:"server"`
	Label          string   `json:"label"`
	Model          string   `json:"model"`
	Workload       string   `json:"workload"`
	Conns          int      `json:"conns"`
	Rep            int      `json:"rep"`
	Status         string   `json:"status"`
	Detail         string   `json:"detail,omitempty"`
	ServerCmd      []string `json:"server_cmd"`
	ClientCmd      []string `json:"client_cmd"`
	ServerJSON     string   `json:"server_json"`
	ClientJSON     string   `json:"client_json"`
	ServerLog      string   `json:"server_log"`
	ClientLog      string   `json:"client_log"`
	ClientExit     int      `json:"client_exit"`
	ServerExit     string   `json:"server_exit"`
	WallS          float64  `json:"wall_s"`
	TimeWaitBefore Num      `json:"time_wait_before"`
	LoadBefore     Num      `json:"loadavg1_before"`
	SystemBusyS    Num      `json:"system_busy_cpu_s"` // all CPUs, all processes, during the run
	Sample         Sample   `json:"sample"`
	Probe          *Probe   `json:"probe,omitempty"`
	// MachineJSON is the run's machine record in raw/ (Machine), for the
	// runs that keep one.
	MachineJSON string `json:"machine_json,omitempty"`
	// Listen is what the kernel's listen-queue counters (TcpExt, the
	// machine's network namespace) counted during the run.
	Listen ListenDelta `json:"listen"`
	// MemAvailableBefore is the machine's MemAvailable (KiB) before the
	// server started.
	MemAvailableBefore Num `json:"mem_available_before_kib"`
	// ServerProcs and ClientProcs are the server's -P and the client's
	// -procs the run was given (1: one process; 0 in records from before
	// they were kept).
	ServerProcs int `json:"server_procs,omitempty"`
	ClientProcs int `json:"client_procs,omitempty"`
	// StopS is how long the server took from SIGINT to its exit while
	// the client still held every connection (runs with a linger only).
	StopS Num `json:"stop_s"`
	// Soak is what a soak run read of its idle server (soak runs only).
	Soak *Soak `json:"soak,omitempty"`
	// Counts is what the kernel counted for the server's processes
	// (counted runs only).
	Counts *Counts `json:"counts,omitempty"`
	// Superseded says why the run was made again and left out of its
	// cell (other processes took more than their share of the CPU while
	// it ran); "" for a run that counts.
	Superseded string `json:"superseded,omitempty"`

	M Metrics `json:"-"`
	// Machine and Attribution are read and derived from MachineJSON.
	Machine     *Machine     `json:"-"`
	Attribution *Attribution `json:"-"`
}

// Counts is what perf_event_open counted for every process and thread of
// the server over a run, from its idle start to its exit; a count the
// machine could not give is not measured, and Missing says why.
type Counts struct {
	ContextSwitches Num      `json:"context_switches"`
	Syscalls        Num      `json:"syscalls"`
	Migrations      Num      `json:"cpu_migrations"`
	PageFaults      Num      `json:"page_faults"`
	Cycles          Num      `json:"cycles"`
	Instructions    Num      `json:"instructions"`
	Missing         []string `json:"missing,omitempty"`
}

// Soak is what a soak run read of its server while it was idle, before
// and after churning connections through it.
type Soak struct {
	Start Idle `json:"start"`
	End   Idle `json:"end"`
	// Connections is how many connections the server accepted during
	// the churn, which took ChurnS seconds.
	Connections int64   `json:"connections"`
	ChurnS      float64 `json:"churn_s"`
	// Warmups is how many short churns ran before Start was read, until
	// the idle server's size held still; WarmupConns is the connections
	// they made.
	Warmups     int   `json:"warmups,omitempty"`
	WarmupConns int64 `json:"warmup_connections,omitempty"`
}

// Idle is an idle server's size: resident memory, open descriptors and
// threads, and how many connections it had accepted by then.
type Idle struct {
	RSSKiB   int64 `json:"vmrss_kib"`
	FDs      int64 `json:"fds"`
	Threads  int64 `json:"threads"`
	Accepted int64 `json:"accepted"`
}

// ListenDelta is the growth of TcpExt counters over a run: SYNs and
// handshakes dropped because an accept queue was full (overflows; drops
// count them and every other listener drop), and ACKs that matched no
// pending handshake, which the kernel answers with a reset. A dropped SYN
// costs its connection a 1 s retransmission; a dropped handshake can end
// in a reset. Other programs' listeners count too.
type ListenDelta struct {
	Overflows        Num `json:"overflows"`
	Drops            Num `json:"drops"`
	SyncookiesFailed Num `json:"syncookies_failed"`
}

// Sample is what the runner observed from outside while a run was live.
type Sample struct {
	KStackPeakDeltaKiB Num `json:"kstack_peak_delta_kib"`
	ThreadsPeak        Num `json:"threads_peak"`
	ThreadsStart       Num `json:"threads_start"`
	VmHWMKiB           Num `json:"vmhwm_kib"`
	// MemFloorHit: MemAvailable fell below the run's floor, and the
	// server was killed.
	MemFloorHit bool `json:"mem_floor_hit,omitempty"`
}

// Probe is what the runner took from a live server besides its exit
// report: a SIGUSR1 report while idle and one while the client held every
// connection open. The exit report comes after the threads have gone, and
// its high-water marks include the round trips, so memory per idle
// connection has to be read while the connections are idle.
type Probe struct {
	IdleJSON string `json:"idle_json,omitempty"` // copy of the server's JSON after the idle SIGUSR1
	HoldJSON string `json:"hold_json,omitempty"` // copy after the SIGUSR1 during the client's -hold
	// HoldAt is when the hold report was asked for (RFC 3339, runner clock);
	// HoldLate says it may have missed the client's hold window, so the
	// figures from it are suspect.
	HoldAt   string `json:"hold_at,omitempty"`
	HoldLate bool   `json:"hold_late"`
	Detail   string `json:"detail,omitempty"`
	// Server-side accept timing (thread models): from the first new server
	// thread to the last of n, /proc/PID/stat sampled every 5 ms.
	AcceptFirstS Num `json:"accept_first_s"` // since the client started
	AcceptAllS   Num `json:"accept_all_s"`   // since the client started
	AcceptS      Num `json:"accept_s"`       // AcceptAllS - AcceptFirstS
	// CPU of the whole process group (every process's user+system time
	// plus that of the children it reaped) at the hold report and when the
	// client exited: a process model's own report cannot include workers
	// that are still alive.
	HoldGroupCPUS Num `json:"hold_group_cpu_s"`
	EndGroupCPUS  Num `json:"end_group_cpu_s"`
	// The machine's MemAvailable (KiB) and the client's memory (PSS of
	// its processes, KiB) at the hold report.
	HoldMemAvailableKiB Num `json:"hold_mem_available_kib"`
	HoldClientPSSKiB    Num `json:"hold_client_pss_kib"`
}
