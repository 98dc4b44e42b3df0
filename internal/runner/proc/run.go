package proc

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"tenkthreads/internal/runner/results"
	"tenkthreads/internal/sysinfo"
)

// Params are the knobs of one run that do not belong in its record.
type Params struct {
	RawDir        string
	ClientPath    string
	ClientArgs    []string
	StartTimeout  time.Duration
	ClientTimeout time.Duration
	StopTimeout   time.Duration
	// ServerCPUs and ClientCPUs are the CPU lists each side is pinned
	// to ("0-3"), "" when not pinned.
	ServerCPUs, ClientCPUs string
	// Probe takes SIGUSR1 reports while idle and while the client holds
	// every connection (the client must run with -hold); AcceptTiming also
	// times the server's thread creation during the ramp.
	Probe        bool
	AcceptTiming bool
	// ByThreads: the server pays a thread or process per connection, so
	// the hold is detected from /proc instead of SIGUSR1 polling.
	ByThreads bool
	// Machine keeps the run's machine record (raw/BASE.machine.json): the
	// machine-wide memory counters and the server's and client's
	// footprints, idle and while the client holds every connection (the
	// client must run with -hold). ProcRoot is where the machine-wide
	// counters are read ("" for /proc; tests use a tree without slabinfo).
	Machine  bool
	ProcRoot string
	// MemFloorKiB stops the run (the server is killed) when MemAvailable
	// falls below it, so that no run drives the machine to its OOM
	// killer; 0 for no floor.
	MemFloorKiB int64
	// Linger runs the client with -linger and -notify: the probes wait
	// until every connection's round trips are done, take their readings
	// while the client still holds them all, then stop the server (its
	// exit time with every connection open is the run's StopS) and end
	// the client's linger with SIGUSR1.
	Linger bool
	// Count counts what the kernel does for the server's processes, from
	// the idle server to its exit (perf_event_open: context switches,
	// system calls, migrations, page faults, cycles and instructions).
	Count bool
	// Where puts the server and the client in network namespaces of
	// their own; nil runs both in this one, over loopback.
	Where *Placement
}

// ProcFS is the /proc tree of the machine-wide counters.
func (p Params) ProcFS() sysinfo.FS {
	if p.ProcRoot == "" {
		return sysinfo.Host
	}
	return sysinfo.Open(p.ProcRoot)
}

// Run runs spec against the client with n connections and returns the
// record of the run; its files go to p.RawDir.
func Run(spec results.ServerSpec, workload string, n, rep int, p Params) (r results.Run) {
	r, base := record(spec, workload, n, rep)
	m := startSpan(&r)
	defer m.stop(&r)
	kstack0 := kernelStackKiB()
	srv := startServer(&r, spec, p)
	if srv == nil {
		return r
	}
	defer srv.Close()
	pb := probe{pid: srv.Pid, jsonPath: filepath.Join(p.RawDir, r.ServerJSON), rawDir: p.RawDir, base: base}
	if p.Machine || p.Count {
		settleGroup(srv.Pid)
	}
	var cnt counter
	if p.Count {
		cnt = startCounts(srv.Pid)
	}
	w := startWatch(&r, &pb, p)
	var mw *machineWatch
	if p.Machine {
		mw = newMachineWatch(p.ProcFS(), srv.Pid)
	}
	sampler := startSampler(srv, kstack0, p.MemFloorKiB)
	cliArgs := append([]string{"-n", strconv.Itoa(n), "-host", srv.Addr, "-json", filepath.Join(p.RawDir, r.ClientJSON)}, p.ClientArgs...)
	note := filepath.Join(p.RawDir, base+".lingering")
	if p.Linger {
		cliArgs = append(cliArgs, "-linger", LingerMax.String(), "-notify", note)
	}
	r.ClientCmd = p.Where.client(pinned(p.ClientCPUs, nil, p.ClientPath, cliArgs))
	c := runClient(r.ClientCmd, filepath.Join(p.RawDir, r.ClientLog), p.ClientTimeout, srv, func(ctx context.Context, clientPid int) {
		pb.clientPid = clientPid
		if p.Linger {
			lingerProbes(ctx, &r, lingerRun{srv: srv, pb: pb, w: &w, mw: mw, note: note, n: n, p: p})
			return
		}
		var wg sync.WaitGroup
		if mw != nil {
			wg.Add(1)
			go func() { defer wg.Done(); mw.peak(ctx, n, clientPid) }()
		}
		w.run(ctx, pb, n, p)
		wg.Wait()
	})
	if mw != nil {
		r.MachineJSON = mw.write(p.RawDir, base)
	}
	if r.Probe != nil {
		// Children of the fork model exit as the client closes; give the
		// server a moment to reap them, so their CPU is in its cutime.
		time.Sleep(300 * time.Millisecond)
		r.Probe.EndGroupCPUS = groupCPU(srv.Pid)
	}
	r.ClientExit = c.exit
	r.Sample = sampler.stop()
	finish(&r, srv, c, p)
	if p.Count {
		r.Counts = cnt.stop()
	}
	if r.Sample.MemFloorHit {
		r.Status = results.StatusMemCap
		r.Detail = fmt.Sprintf("MemAvailable fell below %d MiB: the server was killed to keep the machine clear of its OOM killer", p.MemFloorKiB/1024)
	}
	return r
}

// record is a run's record before it runs: what it is and the names of
// its files in the raw directory, which start with base.
func record(spec results.ServerSpec, workload string, n, rep int) (r results.Run, base string) {
	base = fmt.Sprintf("%s_%s_%d_r%d", sanitize(spec.Key), workload, n, rep)
	return results.Run{
		Server: spec.Key, Label: spec.Label, Model: spec.Model,
		Workload: workload, Conns: n, Rep: rep,
		ServerJSON: base + ".server.json", ClientJSON: base + ".client.json",
		ServerLog: base + ".server.log", ClientLog: base + ".client.log",
		ClientExit: -1,
	}, base
}

// startServer starts the run's server pinned to its CPUs, with its report
// in the raw directory; nil, with why in r, when it did not start.
func startServer(r *results.Run, spec results.ServerSpec, p Params) *Server {
	srvArgs := append(append([]string{}, spec.Args...), "-p", "0", "-j", filepath.Join(p.RawDir, r.ServerJSON))
	r.ServerCmd = p.Where.server(pinned(p.ServerCPUs, spec.Env, spec.Path, srvArgs))
	srv, exit, why := StartServer(r.ServerCmd, filepath.Join(p.RawDir, r.ServerLog), p.StartTimeout, p.StopTimeout)
	if srv == nil {
		r.ServerExit, r.Status, r.Detail = exit, results.StatusNoStart, why
	}
	return srv
}

// span is the machine's state when a run started: what the run's
// record compares the end with.
type span struct {
	start   time.Time
	busy0   results.Num
	listen0 sysinfo.ListenStats
	lerr0   error
}

// startSpan notes the machine's state before a run, and records in r
// what it looked like then: TIME_WAIT sockets, load and MemAvailable.
func startSpan(r *results.Run) span {
	m := span{start: time.Now(), busy0: busySeconds()}
	m.listen0, m.lerr0 = sysinfo.Host.ListenStats(os.Getpid())
	if tw, err := sysinfo.Host.TimeWait(); err == nil {
		r.TimeWaitBefore = results.N(float64(tw))
	}
	if l, err := sysinfo.Host.LoadAvg(); err == nil {
		r.LoadBefore = results.N(l.Load1)
	}
	r.MemAvailableBefore = memAvailableKiB()
	return m
}

// stop records in r how long the run took, and the machine's busy CPU
// and listen-queue counters over it.
func (m span) stop(r *results.Run) {
	r.WallS = time.Since(m.start).Seconds()
	if b := busySeconds(); b.Set && m.busy0.Set {
		r.SystemBusyS = results.N(b.V - m.busy0.V)
	}
	if l, err := sysinfo.Host.ListenStats(os.Getpid()); err == nil && m.lerr0 == nil {
		r.Listen = results.ListenDelta{Overflows: results.N(float64(l.Overflows - m.listen0.Overflows)),
			Drops: results.N(float64(l.Drops - m.listen0.Drops)), SyncookiesFailed: results.N(float64(l.SyncookiesFailed - m.listen0.SyncookiesFailed))}
	}
}

// finish stops the server and judges the run: a server that died while
// the client ran is a crash, whatever the client saw.
func finish(r *results.Run, srv *Server, c clientRun, p Params) {
	// A lingering run's server was stopped while the client held its
	// connections: its exit is no crash.
	crashed := srv.Exited() && !srv.Stopped()
	hung := srv.hung.Load()
	if !srv.Exited() {
		hung = srv.Stop(p.StopTimeout)
	} else {
		// Leftover children of process models must not outlive the run.
		srv.KillGroup()
	}
	r.ServerExit = ExitString(srv.ExitErr())
	switch {
	case crashed:
		r.Status = results.StatusCrashed
		r.Detail = "server exited during the run (" + r.ServerExit + ")"
	case hung:
		r.Status = results.StatusHung
		r.Detail = fmt.Sprintf("server did not exit within %s of SIGINT; killed", p.StopTimeout)
	case c.timedOut:
		r.Status = results.StatusClientTimeout
		r.Detail = fmt.Sprintf("client did not finish within %s; killed", p.ClientTimeout)
	case srv.ExitErr() != nil:
		r.Status = results.StatusBadExit
		r.Detail = "server exit after SIGINT: " + r.ServerExit
	case c.err != nil:
		r.Status = results.StatusErrors
		r.Detail = "client: " + ExitString(c.err) + ": " + lastLine(filepath.Join(p.RawDir, r.ClientLog))
	default:
		r.Status = results.StatusOK
	}
}

// watch is what the probes of a run start from.
type watch struct {
	after         float64     // uptime of the idle report
	threads0      results.Num // server threads after the idle report
	groupThreads0 int
}

// settleGroup waits, up to 10 s, until the server's group has as many
// processes and descriptors as 100 ms before: the pre-forking models
// start their workers after the start line, and the idle figures must
// have them all.
func settleGroup(pgid int) {
	last := groupCount(pgid)
	for i := 0; i < 100; i++ {
		time.Sleep(100 * time.Millisecond)
		now := groupCount(pgid)
		if now == last {
			return
		}
		last = now
	}
}

// startWatch takes the idle report of a probed run (p.Probe) and notes
// what the probes start from.
func startWatch(r *results.Run, pb *probe, p Params) watch {
	var w watch
	if !p.Probe {
		return w
	}
	r.Probe = &results.Probe{}
	pb.pr = r.Probe
	w.threads0 = threads(pb.pid)
	w.after = pb.idle()
	if t := threads(pb.pid); t.Set {
		w.threads0 = t
	}
	// After the idle report: workers of -P and the signal thread exist.
	w.groupThreads0 = groupThreads(pb.pid)
	return w
}

// run runs the probes while the client runs, until ctx ends and they
// have finished.
func (w *watch) run(ctx context.Context, pb probe, n int, p Params) {
	if !p.Probe {
		return
	}
	t0 := time.Now()
	var wg sync.WaitGroup
	if p.AcceptTiming {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pb.acceptTimer(ctx, n, t0, w.threads0.V)
		}()
	}
	pb.hold(ctx, n, w.after, p.ByThreads, w.groupThreads0)
	wg.Wait()
}

// clientRun is how the client ended.
type clientRun struct {
	err      error
	exit     int
	timedOut bool
}

// runClient runs the client with its output in logPath until it exits or
// timeout passes, with probes running beside it until it ends; if the
// server dies under the client, the client gets a moment to notice and
// write its report.
func runClient(argv []string, logPath string, timeout time.Duration, srv *Server, probes func(ctx context.Context, clientPid int)) (c clientRun) {
	c.exit = -1
	log, err := os.Create(logPath)
	if err == nil {
		defer log.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cli := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cli.Stdout, cli.Stderr = log, log
	// At the time limit the client is interrupted first, so it still
	// writes its report (marked interrupted); killed only if it lingers.
	cli.Cancel = func() error { return cli.Process.Signal(os.Interrupt) }
	cli.WaitDelay = 5 * time.Second
	if c.err = cli.Start(); c.err != nil {
		return c
	}
	probeCtx, probeStop := context.WithCancel(context.Background())
	var w sync.WaitGroup
	w.Add(1)
	go func() { defer w.Done(); probes(probeCtx, cli.Process.Pid) }()
	done := make(chan error, 1)
	go func() { done <- cli.Wait() }()
	select {
	case c.err = <-done:
	case <-srv.Done():
		if srv.Stopped() {
			// A lingering run's probes stopped it and end the
			// client's linger: the client closes and exits.
			c.err = <-done
			break
		}
		select {
		case c.err = <-done:
		case <-time.After(5 * time.Second):
			cancel()
			c.err = <-done
		}
	}
	c.timedOut = ctx.Err() == context.DeadlineExceeded
	probeStop()
	w.Wait()
	if cli.ProcessState != nil {
		c.exit = cli.ProcessState.ExitCode()
	}
	return c
}

func busySeconds() results.Num {
	if b, err := sysinfo.Host.BusyCPUSeconds(); err == nil {
		return results.N(b)
	}
	return results.Num{}
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-':
			return r
		}
		return '-'
	}, s)
}
