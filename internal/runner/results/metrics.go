package results

import (
	"math"

	"tenkthreads/internal/clientreport"
	"tenkthreads/internal/srvreport"
)

// Metrics are the per-run figures the report shows. All come from the two
// JSON reports plus what the runner sampled itself while the run was live.
type Metrics struct {
	Requested    Num
	Established  Num
	Verified     Num
	Errors       Num // client errors, all classes
	MaxConc      Num // server's peak concurrent connections
	MaxWaiting   Num // server's peak requests in their -d wait at once
	PeakRSSKiB   Num // server VmHWM, or the PSS sum of a multi-process server
	KiBPerConn   Num // server: VmHWM growth / peak connections (user space)
	KStackKiB    Num // kernel stack growth, sampled at the peak by the runner (or the server's own figure)
	KStackPerC   Num
	KStackSysKiB Num // system-wide KernelStack growth at the peak (noisy on a shared machine)
	CPUS         Num // server user+sys
	ClientCPUS   Num
	ConnectAllS  Num
	RTTP50us     Num
	RTTP99us     Num
	RoundTrips   Num
	RTPerS       Num
	WindowRTPerS Num // round trips completed within -duration, per second of it
	CPUPerRTus   Num // server CPU per round trip
	Threads      Num // server's peak OS threads, sampled by the runner
	Resets       Num // server-side resets
	OtherCPUS    Num // machine-wide busy CPU during the run minus server and client
	OtherShare   Num // OtherCPUS as % of the machine's CPU time during the run
	ClientBusy   Num // cores the client kept busy; near 1 per core means the client is the bottleneck
	RampPerS     Num // connections established per second of the client's ramp
	ListenDrops  Num // listen-queue drops during the run (see ListenDelta)
	ListenOverfl Num
	CookiesFail  Num
	Warnings     []string
	// Fairness over the active connections, and the client's -idle ones.
	Starved                 Num // active connections that completed no round trip
	PerConnMin, PerConnMed  Num // round trips of one connection: fewest, nearest-rank median
	PerConnMax              Num
	IdleConns, IdleVerified Num // -idle connections asked for, and verified at the end

	// From the SIGUSR1 reports of a probed run (see Probe).
	HeldConns           Num  // server's open connections at the hold report
	HoldKiBPerConn      Num  // resident growth idle -> hold, per connection
	HoldKiBPerConnStart Num  // resident growth start -> hold (includes pre-created workers)
	HoldKStackPerC      Num  // server threads idle -> hold × kernel stack per thread, per connection
	HoldKStackAllPerC   Num  // all the server's threads at the hold × kernel stack per thread, per connection
	HoldCPUPerRTus      Num  // server CPU from the hold report to exit, per round trip
	AcceptServerS       Num  // first to last server thread while connections ramp up
	GiBPerS             Num  // echoed payload per second, each direction, GiB/s
	ProbeLate           bool // the hold report may have missed the hold
	// From the run's machine record (see Attribute); per connection, KiB.
	ThreadObjPerC   Num // the server's threads' kernel objects and their mappings
	SocketPerC      Num // the server's socket ends and epoll registrations
	PageTablesPerC  Num // growth of the server's page tables (VmPTE)
	MachinePerC     Num // KiBPerConn + KStackPerC + the three above
	OtherKernelPerC Num // slab growth the parts do not explain; not in MachinePerC
	ClientPerC      Num // every part of the client
	AvailDropKiB    Num // MemAvailable idle minus at the peak
	PartsSumKiB     Num // every part of the server and of the client, KiB
	CheckDiffKiB    Num // AvailDropKiB − PartsSumKiB
	CountersKiB     Num // growth of AnonPages + KernelStack + Slab + PageTables, where the parts live
	// The client's own cost.
	ClientCPUPerMsg Num // client CPU per round trip, µs
	// ClientUserCPUPerMsg is its user-space part alone.
	ClientUserCPUPerMsg Num
	ClientUserPerC      Num // the client's anonymous resident memory at the peak per connection
	// From a counted run's Counts, per round trip.
	CtxSwitchesPerRT, SyscallsPerRT, MigrationsPerRT Num
	PageFaultsPerRT, CyclesPerRT, InstructionsPerRT  Num
}

// Derive computes the figures of one run. srv or cli is nil when the
// program wrote no report (a crashed server, a killed client): their
// figures are then not measured.
func Derive(srv *srvreport.Report, cli *clientreport.Result, s Sample, kstackPerThread Num) Metrics {
	var m Metrics
	m.client(cli)
	m.server(srv)
	m.kernelStack(srv, s, kstackPerThread)
	if m.CPUS.Set && m.RoundTrips.Set && m.RoundTrips.V > 0 {
		m.CPUPerRTus = N(m.CPUS.V / m.RoundTrips.V * 1e6)
	}
	m.Threads = s.ThreadsPeak
	if !m.Threads.Set && srv != nil {
		m.Threads = N(float64(srv.Threads))
	}
	return m
}

func (m *Metrics) client(cli *clientreport.Result) {
	if cli == nil {
		return
	}
	m.Requested = N(float64(cli.Requested))
	m.Established = N(float64(cli.Established))
	m.Verified = N(float64(cli.Verified))
	sum := 0.0
	for _, n := range cli.Errors {
		sum += float64(n)
	}
	m.Errors = N(sum)
	m.ClientCPUS = N(cli.UserCPUS + cli.SysCPUS)
	m.ConnectAllS = N(cli.ConnectAllS)
	// A histogram without samples has no percentiles.
	if rtt := cli.Latency["rtt"]; rtt.Count > 0 {
		m.RTTP50us, m.RTTP99us = N(rtt.P50), N(rtt.P99)
	}
	m.RoundTrips = N(float64(cli.RoundTrips))
	m.RTPerS = N(cli.RoundTripsPS)
	if cli.Config.DurationS > 0 {
		m.WindowRTPerS = N(cli.WindowRoundTripsPS)
	}
	m.ClientBusy = N(cli.CoresBusy)
	// The steady phase only: the ramp's connects are not messages.
	if cli.CPUPerRTUs > 0 {
		m.ClientCPUPerMsg = N(cli.CPUPerRTUs)
		m.ClientUserCPUPerMsg = N(cli.UserCPUPerRTUs)
	}
	if cli.ConnectAllS > 0 {
		m.RampPerS = N(float64(cli.Established) / cli.ConnectAllS)
	}
	if cli.SteadyS > 0 {
		m.GiBPerS = N(float64(cli.BytesReceived) / cli.SteadyS / (1 << 30))
	}
	m.Warnings = cli.Warnings
	p := cli.PerConn
	m.Starved, m.PerConnMin, m.PerConnMed, m.PerConnMax = N(float64(p.Starved)), N(float64(p.Min)), N(float64(p.Median)), N(float64(p.Max))
	m.IdleConns, m.IdleVerified = N(float64(cli.Idle.Requested)), N(float64(cli.Idle.Verified))
}

// multiProc says the server ran several processes, whose memory is only
// in the sum of their proportional set sizes.
func multiProc(srv *srvreport.Report) bool { return srv != nil && srv.Processes > 1 }

func (m *Metrics) server(srv *srvreport.Report) {
	if srv == nil {
		return
	}
	m.MaxConc = N(float64(srv.MaxConc))
	m.MaxWaiting = N(float64(srv.MaxWaiting))
	// VmHWM, not ru_maxrss: after fork+exec Linux carries the parent's
	// high-water mark into ru_maxrss, so a small server started by a
	// larger process reports the parent's size. A process model's memory
	// is spread over its children; the server sums their proportional
	// set sizes, so shared pages count once, at the peak the server
	// sampled (at exit the connections' memory is gone).
	m.PeakRSSKiB = N(float64(srv.VmHWMKiB))
	if multiProc(srv) {
		m.PeakRSSKiB = N(float64(srv.PSSSumPeakKiB))
	}
	m.KiBPerConn = N(srv.KiBPerPeakConn)
	m.CPUS = N(srv.UserCPUS + srv.SysCPUS)
	m.Resets = N(float64(srv.Resets))
}

// kernelStack is the server's extra threads at the peak times the
// measured kernel stack per thread: the system-wide KernelStack growth
// also moves with every other process on the machine, and the server's
// own figure is taken at exit, after its threads have gone.
func (m *Metrics) kernelStack(srv *srvreport.Report, s Sample, kpt Num) {
	m.KStackSysKiB = s.KStackPeakDeltaKiB
	switch {
	case multiProc(srv):
		// The runner sees only the parent's threads; the children's kernel
		// stacks show only in the system-wide figure, preferably the
		// server's own peak sample.
		m.KStackKiB = N(float64(srv.KernelStackPeakDeltaKiB))
	case kpt.Set && s.ThreadsPeak.Set && s.ThreadsStart.Set:
		m.KStackKiB = N(math.Max(0, s.ThreadsPeak.V-s.ThreadsStart.V) * kpt.V)
	case s.KStackPeakDeltaKiB.Set:
		m.KStackKiB = s.KStackPeakDeltaKiB
	case srv != nil:
		m.KStackKiB = N(float64(srv.KernelStackDeltaKiB))
	}
	if m.KStackKiB.Set && m.MaxConc.Set && m.MaxConc.V > 0 {
		m.KStackPerC = N(m.KStackKiB.V / m.MaxConc.V)
	}
}

// countsPerRT divides a counted run's counts by its round trips.
func (m *Metrics) countsPerRT(c *Counts) {
	if c == nil || !m.RoundTrips.Set || m.RoundTrips.V <= 0 {
		return
	}
	per := func(n Num) Num {
		if !n.Set {
			return Num{}
		}
		return N(n.V / m.RoundTrips.V)
	}
	m.CtxSwitchesPerRT, m.SyscallsPerRT, m.MigrationsPerRT = per(c.ContextSwitches), per(c.Syscalls), per(c.Migrations)
	m.PageFaultsPerRT, m.CyclesPerRT, m.InstructionsPerRT = per(c.PageFaults), per(c.Cycles), per(c.Instructions)
}
