package proc

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"tenkthreads/internal/runner/results"
	"tenkthreads/internal/sysinfo"
)

// Soak is one run of a soak: it starts spec's server once, warms it up
// with a short run of the client (warmup: its arguments besides -n and
// -host), reads the server idle, churns connections through it with
// p.ClientArgs (the client's report goes to the raw directory), reads it
// idle again, and stops it. The record is judged as Run's are; its Soak
// has the idle readings, nil when the server never settled idle, and
// then Detail says why.
func Soak(spec results.ServerSpec, workload string, n, rep int, p Params, warmup []string) (r results.Run) {
	r, _ = record(spec, workload, n, rep)
	m := startSpan(&r)
	defer m.stop(&r)
	srv := startServer(&r, spec, p)
	if srv == nil {
		return r
	}
	defer srv.Close()
	s := soaker{srv: srv, json: filepath.Join(p.RawDir, r.ServerJSON), p: p, n: n}
	c, why := s.churn(&r, warmup)
	r.ClientExit = c.exit
	finish(&r, srv, c, p)
	if r.Status == results.StatusOK && why != "" {
		r.Status, r.Detail = results.StatusErrors, why
	}
	return r
}

// soaker is a soak's server and what it has read of it.
type soaker struct {
	srv   *Server
	json  string
	after float64 // the uptime of the last report taken
	p     Params
	n     int
}

// churn warms the server up, reads it idle, churns the connections
// through it and reads it idle again, filling r's Soak; why says what
// cut it short, when the client's run does not.
func (s *soaker) churn(r *results.Run, warmup []string) (c clientRun, why string) {
	start, warmups, c, why := s.warm(r, warmup)
	if why != "" || c.err != nil || s.srv.Exited() {
		return c, why
	}
	t0 := time.Now()
	c = s.client(r, append([]string{"-json", filepath.Join(s.p.RawDir, r.ClientJSON)}, s.p.ClientArgs...))
	secs := time.Since(t0).Seconds()
	if c.err != nil || s.srv.Exited() {
		return c, ""
	}
	end, why := s.settle()
	if why != "" {
		return c, why
	}
	r.Soak = &results.Soak{Start: start, End: end, Connections: end.Accepted - start.Accepted, ChurnS: secs,
		Warmups: warmups, WarmupConns: start.Accepted}
	return c, ""
}

// The warm-up's bounds: short churns are repeated until the idle
// server's resident size grows by at most warmPlateauKiB from one to the
// next, at most maxWarmups times.
const (
	warmPlateauKiB = 128
	maxWarmups     = 20
)

// warm churns short warm-ups through the server until it reads idle at a
// steady size: the first tens of thousands of connections grow the
// thread stack cache and the malloc arenas (one per thread that ran on a
// new one, up to eight per CPU) to the size the churn keeps them at,
// which is not a leak; a start read before then would count that growth
// as one.
func (s *soaker) warm(r *results.Run, warmup []string) (start results.Idle, n int, c clientRun, why string) {
	for n = 1; n <= maxWarmups; n++ {
		if c = s.client(r, warmup); c.err != nil || s.srv.Exited() {
			return start, n, c, ""
		}
		prev := start
		if start, why = s.settle(); why != "" {
			return start, n, c, why
		}
		if n > 1 && start.RSSKiB-prev.RSSKiB <= warmPlateauKiB {
			break
		}
	}
	return start, min(n, maxWarmups), c, ""
}

// client runs the client against the server with args, pinned to its
// CPUs, its output in the run's client log.
func (s *soaker) client(r *results.Run, args []string) clientRun {
	argv := append([]string{"-n", strconv.Itoa(s.n), "-host", s.srv.Addr}, args...)
	r.ClientCmd = pinned(s.p.ClientCPUs, nil, s.p.ClientPath, argv)
	return runClient(r.ClientCmd, filepath.Join(s.p.RawDir, r.ClientLog), s.p.ClientTimeout, s.srv, func(ctx context.Context, _ int) {})
}

// idleReading is what settle compares from one report to the next.
type idleReading struct{ open, fds, threads int64 }

// settle asks for reports until the server is idle and its descriptors
// and threads have settled (threads exit just after counting out): two
// readings alike in a row, no connection open.
func (s *soaker) settle() (results.Idle, string) {
	var last, now idleReading
	pid := s.srv.Pid
	for i := range 150 {
		rep, _, err := TakeReport(pid, s.json, s.after, reportTimeout)
		if err != nil {
			return results.Idle{}, err.Error()
		}
		s.after = rep.UptimeS
		time.Sleep(200 * time.Millisecond)
		m, err1 := sysinfo.Host.Mem(pid)
		fds, err2 := sysinfo.Host.FDs(pid)
		if err := errors.Join(err1, err2); err != nil {
			return results.Idle{}, "reading the server's /proc: " + err.Error()
		}
		now = idleReading{open: rep.Now, fds: int64(fds), threads: int64(m.Threads)}
		if i > 0 && now.open == 0 && now == last {
			return results.Idle{RSSKiB: m.VmRSSKiB, FDs: now.fds, Threads: now.threads, Accepted: rep.Total}, ""
		}
		last = now
	}
	return results.Idle{}, fmt.Sprintf("the server did not settle idle within 30 s (%d connections open, %d descriptors, %d threads)", now.open, now.fds, now.threads)
}
