package proc

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"tenkthreads/internal/clientreport"
	"tenkthreads/internal/remote"
	"tenkthreads/internal/runner/results"
	"tenkthreads/internal/srvreport"
	"tenkthreads/internal/strictjson"
)

// Hosts runs each run's server on one host and its clients on others,
// reached over ssh (internal/remote): the executor of bin/experiment
// -server-host and -client-hosts. The kit's binaries are installed on
// every host before the first run. The server host's /proc gives the
// machine record (cmd/hostprobe runs there), so the machine's cost per
// connection is the server host's alone; the clients start together at
// a shared -start-at, -n split between them, and their reports are
// merged exactly as bin/client merges its processes'.
type Hosts struct {
	Server  *remote.Host
	Clients []*remote.Host
	// ServerAddr is the address the server listens on and the clients
	// connect to: the server host's as the network between them knows it.
	ServerAddr string
	// ServerCPUs and ClientCPUs pin each side on its hosts ("" for all
	// the CPUs a process started there may use).
	ServerCPUs, ClientCPUs string
	// Lead is how far ahead of now the clients' -start-at is set: enough
	// for every client host to start its client, and for clock skew.
	Lead time.Duration
}

// remoteRun is one run across hosts under way.
type remoteRun struct {
	hs     *Hosts
	r      *results.Run
	p      Params
	base   string
	n      int
	ctx    context.Context
	server *remote.Process
	port   string
	rec    results.Machine
	// idleUptime is the server's uptime in its idle report (probed runs).
	idleUptime float64
	// clientsDone is closed when every client has ended.
	clientsDone chan struct{}
}

// Run is proc.Run across hosts: the same record, from the same files in
// p.RawDir, with each client host's report kept beside the merged one
// (BASE.client.HOST.json).
func (hs *Hosts) Run(spec results.ServerSpec, workload string, n, rep int, p Params) results.Run {
	r, base := record(spec, workload, n, rep)
	start := time.Now()
	defer func() { r.WallS = time.Since(start).Seconds() }()
	ctx, cancel := context.WithTimeout(context.Background(), p.StartTimeout+p.ClientTimeout+p.StopTimeout+hs.Lead+2*time.Minute)
	defer cancel()
	rr := &remoteRun{hs: hs, r: &r, p: p, base: base, n: n, ctx: ctx, clientsDone: make(chan struct{})}
	if why := rr.startServer(spec); why != "" {
		r.Status, r.Detail = results.StatusNoStart, why
		return r
	}
	c := rr.clients()
	rr.finish(c)
	return r
}

// startServer starts the server and waits for its start line; why it
// did not start otherwise.
func (rr *remoteRun) startServer(spec results.ServerSpec) string {
	h := rr.hs.Server
	argv := append([]string{h.Bin(filepath.Base(spec.Path))}, spec.Args...)
	argv = append(argv, "-a", rr.hs.ServerAddr, "-p", "0", "-j", rr.r.ServerJSON)
	if len(spec.Env) > 0 {
		argv = append(append([]string{"env"}, spec.Env...), argv...)
	}
	rr.r.ServerCmd = append([]string{"ssh", h.Name}, pinned(rr.hs.ServerCPUs, nil, argv[0], argv[1:])...)
	p, err := h.Start(rr.ctx, remote.Spec{Argv: argv, CPUs: rr.hs.ServerCPUs})
	if err != nil {
		return err.Error()
	}
	rr.server = p
	deadline := time.Now().Add(rr.p.StartTimeout)
	for {
		out, _, err := p.Output(rr.ctx)
		line, _, _ := strings.Cut(string(out), "\n")
		if m := listenRE.FindStringSubmatch(line); m != nil {
			_, rr.port, _ = strings.Cut(m[1][strings.LastIndex(m[1], ":"):], ":")
			break
		}
		if p.Exited() || time.Now().After(deadline) {
			rr.stopServer()
			stdout, stderr, _ := p.Output(rr.ctx)
			_ = os.WriteFile(filepath.Join(rr.p.RawDir, rr.r.ServerLog), append(stdout, stderr...), 0o644)
			return fmt.Sprintf("no \"listening on ADDR\" line on %s within %s (%v): %s", h.Name, rr.p.StartTimeout, err, line)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if rr.p.Machine || rr.p.Probe {
		rr.machine("-idle", strconv.Itoa(p.PGID))
	}
	if rr.p.Probe {
		rr.idleReport()
	}
	return ""
}

// machine runs hostprobe on the server host and keeps what it recorded.
func (rr *remoteRun) machine(args ...string) {
	h := rr.hs.Server
	out, err := h.Run(rr.ctx, append([]string{h.Bin(remote.ProbeName)}, args...)...)
	rr.absorb(out, err)
}

// absorb adds a hostprobe record to the run's.
func (rr *remoteRun) absorb(out []byte, err error) {
	var m results.Machine
	if err == nil {
		err = strictjson.Unmarshal(out, &m)
	}
	if err != nil {
		rr.note("machine record on the server host: " + err.Error())
		return
	}
	if m.Idle != nil {
		rr.rec.Idle = m.Idle
	}
	if m.Peak != nil {
		rr.rec.Peak = m.Peak
	}
	rr.rec.PeakLate = rr.rec.PeakLate || m.PeakLate
	rr.rec.SlabInfoError = m.SlabInfoError
	rr.note(m.Detail)
}

func (rr *remoteRun) note(s string) {
	if rr.rec.Detail == "" {
		rr.rec.Detail = s
	}
}

// remoteClients is how the clients of a run ended.
type remoteClients struct {
	exit     int // the worst exit status of them
	timedOut bool
	why      string // the first failure's reason
}

// clients runs a client on every client host at a shared start time,
// with the peak snapshot taken meanwhile, and gathers their reports.
func (rr *remoteRun) clients() remoteClients {
	hs := rr.hs
	at := time.Now().Add(hs.Lead).UTC().Format(time.RFC3339Nano)
	var peak *remote.Process
	if (rr.p.Machine || rr.p.Probe) && rr.rec.Idle != nil && rr.rec.Idle.Server != nil {
		var err error
		peak, err = hs.Server.Start(rr.ctx, remote.Spec{Argv: []string{hs.Server.Bin(remote.ProbeName), "-peak",
			strconv.Itoa(rr.server.PGID), strconv.Itoa(rr.rec.Idle.Server.FDs), strconv.Itoa(rr.n)}})
		if err != nil {
			rr.note("peak snapshot: " + err.Error())
		}
	}
	procs := make([]*remote.Process, len(hs.Clients))
	var c remoteClients
	for i, h := range hs.Clients {
		n := share(rr.n, len(hs.Clients), i)
		if n == 0 {
			continue // fewer connections than client hosts
		}
		argv := append([]string{h.Bin("client"), "-n", strconv.Itoa(n),
			"-host", hostPort(hs.ServerAddr, rr.port), "-json", rr.r.ClientJSON, "-start-at", at}, rr.p.ClientArgs...)
		if i == 0 {
			rr.r.ClientCmd = append([]string{"ssh", h.Name}, pinned(hs.ClientCPUs, nil, argv[0], argv[1:])...)
		}
		p, err := h.Start(rr.ctx, remote.Spec{Argv: argv, CPUs: hs.ClientCPUs})
		if err != nil {
			c.exit, c.why = 1, err.Error()
			break
		}
		procs[i] = p
	}
	var watch sync.WaitGroup
	if peak != nil {
		watch.Go(func() { rr.watchPeak(peak) })
	}
	c.wait(rr, procs)
	close(rr.clientsDone)
	if peak != nil && !peak.Exited() {
		_ = peak.Signal(rr.ctx, syscall.SIGTERM)
	}
	watch.Wait()
	rr.gather(procs, &c)
	return c
}

// wait waits for every client, bounded by the run's client timeout
// after the shared start; a client still running then is interrupted
// (so it writes its report), and killed if that does not end it.
func (c *remoteClients) wait(rr *remoteRun, procs []*remote.Process) {
	deadline := time.Now().Add(rr.hs.Lead + rr.p.ClientTimeout)
	for _, p := range procs {
		if p == nil {
			continue
		}
		exit, err := p.Wait(rr.ctx, max(time.Until(deadline), time.Second))
		if err != nil {
			c.timedOut = true
			_ = p.Signal(rr.ctx, syscall.SIGINT)
			if exit, err = p.Wait(rr.ctx, 5*time.Second); err != nil {
				_ = p.Signal(rr.ctx, syscall.SIGKILL)
				exit, _ = p.Wait(rr.ctx, 5*time.Second)
			}
		}
		if exit.Code != 0 && c.exit == 0 {
			c.exit = exit.Code
			_, stderr, _ := p.Output(rr.ctx)
			c.why = fmt.Sprintf("%s: %v: %s", p.Host.Name, exit, lastOf(stderr))
		}
	}
}

// watchPeak waits for hostprobe -peak, which ends once the server holds
// every connection (or at SIGTERM, when the clients ended first), keeps
// its record, and then, in a probed run, takes the hold report.
func (rr *remoteRun) watchPeak(peak *remote.Process) {
	if _, err := peak.Wait(rr.ctx, rr.hs.Lead+rr.p.ClientTimeout+15*time.Second); err != nil {
		rr.note("peak snapshot: " + err.Error())
		return
	}
	out, _, err := peak.Output(rr.ctx)
	rr.absorb(out, err)
	if rr.p.Probe && rr.rec.Peak != nil && rr.r.Probe != nil && rr.r.Probe.IdleJSON != "" {
		rr.holdReport()
	}
}

// gather fetches each client's report and log, keeps the reports as
// BASE.client.HOST.json and merges them into the run's client report.
func (rr *remoteRun) gather(procs []*remote.Process, c *remoteClients) {
	var parts []*clientreport.Result
	var names []string
	var log strings.Builder
	want := min(rr.n, len(rr.hs.Clients))
	for i, p := range procs {
		if p == nil {
			continue
		}
		h := rr.hs.Clients[i]
		stdout, stderr, _ := p.Output(rr.ctx)
		fmt.Fprintf(&log, "== %s: %s\n%s%s", h.Name, strings.Join(p.Argv, " "), stdout, stderr)
		data, err := h.ReadFile(rr.ctx, rr.r.ClientJSON)
		if err != nil {
			fmt.Fprintf(&log, "== %s: no report: %v\n", h.Name, err)
			continue
		}
		rep, err := clientreport.Decode(data)
		if err != nil {
			fmt.Fprintf(&log, "== %s: report unreadable: %v\n", h.Name, err)
			continue
		}
		_ = os.WriteFile(filepath.Join(rr.p.RawDir, rr.base+".client."+sanitize(h.Name)+".json"), data, 0o644)
		parts, names = append(parts, rep), append(names, h.Name)
	}
	_ = os.WriteFile(filepath.Join(rr.p.RawDir, rr.r.ClientLog), []byte(log.String()), 0o644)
	if len(parts) != want {
		if c.why == "" {
			c.exit, c.why = 1, fmt.Sprintf("%d of %d client hosts wrote a report", len(parts), want)
		}
		if len(parts) == 0 {
			return
		}
	}
	m, err := clientreport.Merge(parts, names)
	if err == nil {
		err = m.Write(filepath.Join(rr.p.RawDir, rr.r.ClientJSON))
	}
	if err != nil && c.why == "" {
		c.exit, c.why = 1, "merging the client hosts' reports: "+err.Error()
	}
}

// finish stops the server, fetches its report and log and the machine
// record, and judges the run as a local one is judged.
func (rr *remoteRun) finish(c remoteClients) {
	r := rr.r
	crashed := rr.server.Exited()
	hung := rr.stopServer()
	exit, err := rr.server.Wait(rr.ctx, time.Second)
	r.ServerExit = exit.String()
	if err != nil {
		r.ServerExit = err.Error()
	}
	h := rr.hs.Server
	if data, err := h.ReadFile(rr.ctx, r.ServerJSON); err == nil {
		_ = os.WriteFile(filepath.Join(rr.p.RawDir, r.ServerJSON), data, 0o644)
	}
	stdout, stderr, _ := rr.server.Output(rr.ctx)
	_ = os.WriteFile(filepath.Join(rr.p.RawDir, r.ServerLog), append(stdout, stderr...), 0o644)
	if rr.p.Machine {
		// The server's threads, idle and at the peak, as the local
		// sampler would have them: its kernel stacks come from these,
		// not from the host's KernelStack, which every process moves.
		if i, p := rr.rec.Idle, rr.rec.Peak; i != nil && p != nil && i.Server != nil && p.Server != nil {
			r.Sample.ThreadsStart, r.Sample.ThreadsPeak = results.N(float64(i.Server.Threads)), results.N(float64(p.Server.Threads))
		}
		r.MachineJSON = rr.base + ".machine.json"
		rr.rec.ClientElsewhere = true
		if results.WriteJSON(filepath.Join(rr.p.RawDir, r.MachineJSON), rr.rec) != nil {
			r.MachineJSON = ""
		}
	}
	r.ClientExit = c.exit
	switch {
	case crashed:
		r.Status, r.Detail = results.StatusCrashed, "server exited during the run ("+r.ServerExit+")"
	case hung:
		r.Status, r.Detail = results.StatusHung, fmt.Sprintf("server did not exit within %s of SIGINT; killed", rr.p.StopTimeout)
	case c.timedOut:
		r.Status, r.Detail = results.StatusClientTimeout, fmt.Sprintf("a client did not finish within %s; interrupted", rr.p.ClientTimeout)
	case exit.Code != 0 || err != nil:
		r.Status, r.Detail = results.StatusBadExit, "server exit after SIGINT: "+r.ServerExit
	case c.exit != 0:
		r.Status, r.Detail = results.StatusErrors, "client: "+c.why
	default:
		r.Status = results.StatusOK
	}
}

// stopServer sends the server SIGINT and waits for its exit; one that
// lingers is hung, and killed with its whole group.
func (rr *remoteRun) stopServer() (hung bool) {
	p := rr.server
	if p.Exited() {
		return false
	}
	_ = p.Signal(rr.ctx, syscall.SIGINT)
	if _, err := p.Wait(rr.ctx, rr.p.StopTimeout); err == nil {
		return false
	}
	_, _ = rr.hs.Server.Run(rr.ctx, "kill", "-s", "KILL", "--", "-"+strconv.Itoa(p.PGID))
	return true
}

// idleReport takes the idle server's SIGUSR1 report, as a local probed
// run does, into raw/BASE.idle.json.
func (rr *remoteRun) idleReport() {
	pr := &results.Probe{}
	rr.r.Probe = pr
	d, b, err := rr.takeReport(0)
	if err != nil {
		pr.Detail = "idle report: " + err.Error()
		return
	}
	rr.idleUptime = d.UptimeS
	pr.IdleJSON = rr.base + ".idle.json"
	_ = os.WriteFile(filepath.Join(rr.p.RawDir, pr.IdleJSON), b, 0o644)
}

// holdReport takes the report while the clients hold every connection
// into raw/BASE.hold.json, with the server host's MemAvailable then.
func (rr *remoteRun) holdReport() {
	pr := rr.r.Probe
	at := time.Now()
	d, b, err := rr.takeReport(rr.idleUptime)
	if err != nil {
		pr.Detail = "hold report: " + err.Error()
		return
	}
	select {
	case <-rr.clientsDone:
		pr.HoldLate, pr.Detail = true, "the clients ended while the hold report was taken"
	default:
	}
	if d.Now < int64(rr.n) && pr.Detail == "" {
		pr.Detail = fmt.Sprintf("the hold report shows %d connections open, not %d", d.Now, rr.n)
	}
	pr.HoldJSON, pr.HoldAt = rr.base+".hold.json", at.Format(time.RFC3339Nano)
	pr.HoldMemAvailableKiB = results.N(float64(rr.rec.Peak.Meminfo.MemAvailable))
	_ = os.WriteFile(filepath.Join(rr.p.RawDir, pr.HoldJSON), b, 0o644)
}

// takeReport sends the server SIGUSR1 and waits for a report newer than
// after (its uptime_s) in its -j file on the server host.
func (rr *remoteRun) takeReport(after float64) (*srvreport.Report, []byte, error) {
	if err := rr.server.Signal(rr.ctx, syscall.SIGUSR1); err != nil {
		return nil, nil, err
	}
	deadline := time.Now().Add(reportTimeout)
	var last error
	for {
		b, err := rr.hs.Server.ReadFile(rr.ctx, rr.r.ServerJSON)
		if err == nil {
			d, err := srvreport.Decode(b)
			if err == nil && d.Event == srvreport.EventReport && d.UptimeS > after {
				return d, b, nil
			}
			last = err
		} else {
			last = err
		}
		if time.Now().After(deadline) || rr.ctx.Err() != nil {
			return nil, nil, fmt.Errorf("no SIGUSR1 report in %s on %s within %s (%v)", rr.r.ServerJSON, rr.hs.Server.Name, reportTimeout, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// share is client host i's part of n connections over k hosts.
func share(n, k, i int) int {
	s := n / k
	if i < n%k {
		s++
	}
	return s
}

// hostPort joins an address and a port, an IPv6 address in brackets.
func hostPort(addr, port string) string {
	if strings.Contains(addr, ":") {
		return "[" + addr + "]:" + port
	}
	return addr + ":" + port
}

func lastOf(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// HostCalibration is what hostprobe -calibrate prints: Calibrate's
// figures for the host it runs on.
type HostCalibration struct {
	KStackPerThreadKiB results.Num          `json:"kstack_per_thread_kib"`
	Calibration        *results.Calibration `json:"calibration"`
}

// Calibrate measures the kernel's costs on the server host, whose
// machine records the runs keep.
func (hs *Hosts) Calibrate() (results.Num, *results.Calibration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := hs.Server.Run(ctx, hs.Server.Bin(remote.ProbeName), "-calibrate")
	if err != nil {
		return results.Num{}, nil, err
	}
	var c HostCalibration
	if err := strictjson.Unmarshal(out, &c); err != nil {
		return results.Num{}, nil, fmt.Errorf("host %s: hostprobe -calibrate: %v", hs.Server.Name, err)
	}
	return c.KStackPerThreadKiB, c.Calibration, nil
}
