package proc

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"tenkthreads/internal/runner/results"
	"tenkthreads/internal/srvreport"
	"tenkthreads/internal/sysinfo"
)

// reportTimeout bounds one SIGUSR1 report; a process model with thousands
// of children sums their smaps, which takes a while.
const reportTimeout = 15 * time.Second

// TakeReport sends SIGUSR1 to the server and waits for a report newer
// than after (the server's uptime_s) in its -j file. It returns the
// report and the file's bytes.
func TakeReport(pid int, path string, after float64, timeout time.Duration) (*srvreport.Report, []byte, error) {
	if err := syscall.Kill(pid, syscall.SIGUSR1); err != nil {
		return nil, nil, fmt.Errorf("SIGUSR1: %v", err)
	}
	deadline := time.Now().Add(timeout)
	var last error
	for {
		b, err := os.ReadFile(path)
		if err == nil {
			// The server replaces the file whole, so a report that does
			// not decode breaks the contract; keep the reason to show it.
			d, err := srvreport.Decode(b)
			if err == nil && d.Event == srvreport.EventReport && d.UptimeS > after {
				return d, b, nil
			}
			last = err
		}
		if time.Now().After(deadline) {
			why := ""
			if last != nil {
				why = " (" + last.Error() + ")"
			}
			return nil, nil, fmt.Errorf("no SIGUSR1 report in %s within %s%s", filepath.Base(path), timeout, why)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// probe takes a probed run's SIGUSR1 reports into raw/BASE.idle.json and
// raw/BASE.hold.json.
type probe struct {
	pid       int
	clientPid int
	jsonPath  string
	rawDir    string
	base      string
	pr        *results.Probe
}

// idle takes the report after the server started listening, before the
// client starts, and returns its uptime.
func (p probe) idle() float64 {
	time.Sleep(150 * time.Millisecond)
	d, b, err := TakeReport(p.pid, p.jsonPath, 0, reportTimeout)
	if err != nil {
		p.pr.Detail = "idle report: " + err.Error()
		return 0
	}
	p.pr.IdleJSON = p.base + ".idle.json"
	_ = os.WriteFile(filepath.Join(p.rawDir, p.pr.IdleJSON), b, 0o644)
	return d.UptimeS
}

// hold waits until the server holds n connections, lets them settle, and
// keeps the next SIGUSR1 report. A server that pays a thread or a process
// per connection (byThreads) shows the count in /proc, which costs the
// server nothing to read; any other is polled with SIGUSR1 reports (a
// process model with thousands of children takes seconds per report, so
// it must not be polled that way). It gives up when ctx ends (the client
// exited).
func (p probe) hold(ctx context.Context, n int, after float64, byThreads bool, threads0 int) {
	if byThreads {
		p.holdByThreads(ctx, n, after, threads0)
		return
	}
	for ctx.Err() == nil {
		d, _, err := TakeReport(p.pid, p.jsonPath, after, reportTimeout)
		if err != nil {
			p.pr.Detail = "hold report: " + err.Error()
			return
		}
		after = d.UptimeS
		if d.Now >= int64(n) {
			p.keep(ctx, after)
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
	if p.pr.HoldJSON == "" && p.pr.Detail == "" {
		p.pr.Detail = fmt.Sprintf("the server never reported %d connections open while the client ran", n)
	}
}

func (p probe) holdByThreads(ctx context.Context, n int, after float64, threads0 int) {
	for groupThreads(p.pid) < threads0+n {
		select {
		case <-ctx.Done():
			p.pr.Detail = fmt.Sprintf("the server never had %d more threads while the client ran", n)
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
	if d := p.keep(ctx, after); d != nil && d.Now < int64(n) {
		p.pr.Detail = fmt.Sprintf("the hold report shows %d connections open, not %d", d.Now, n)
	}
}

// keep lets the connections settle (threads created for the last ones may
// not have run yet and touched their stacks), then takes one SIGUSR1
// report and keeps it as the hold report; nil when there is none.
func (p probe) keep(ctx context.Context, after float64) *srvreport.Report {
	select {
	case <-ctx.Done():
		p.pr.HoldLate, p.pr.Detail = true, "client ended before the hold report"
		return nil
	case <-time.After(200 * time.Millisecond):
	}
	at := time.Now()
	d, b, err := TakeReport(p.pid, p.jsonPath, after, reportTimeout)
	if err != nil {
		p.pr.Detail = "hold report: " + err.Error()
		return nil
	}
	p.pr.HoldGroupCPUS = groupCPU(p.pid)
	p.pr.HoldMemAvailableKiB = memAvailableKiB()
	if t, err := sysinfo.Host.Tree(p.clientPid); err == nil {
		p.pr.HoldClientPSSKiB = results.N(float64(t.PSSKiB))
	}
	if ctx.Err() != nil {
		p.pr.HoldLate = true
		p.pr.Detail = "client ended while the hold report was taken"
	}
	p.pr.HoldJSON = p.base + ".hold.json"
	p.pr.HoldAt = at.Format(time.RFC3339Nano)
	_ = os.WriteFile(filepath.Join(p.rawDir, p.pr.HoldJSON), b, 0o644)
	return d
}

// acceptTimer samples the server's thread count every 5 ms: a thread per
// connection server has accepted a connection when its thread exists.
func (p probe) acceptTimer(ctx context.Context, n int, t0 time.Time, base float64) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	pr := p.pr
	for {
		if th := threads(p.pid); th.Set {
			if !pr.AcceptFirstS.Set && th.V > base {
				pr.AcceptFirstS = results.N(time.Since(t0).Seconds())
			}
			if th.V >= base+float64(n) {
				pr.AcceptAllS = results.N(time.Since(t0).Seconds())
				if pr.AcceptFirstS.Set {
					pr.AcceptS = results.N(pr.AcceptAllS.V - pr.AcceptFirstS.V)
				}
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
