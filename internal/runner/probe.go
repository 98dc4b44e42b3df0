package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

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
	// thread to the last of n, /proc/PID/status sampled every 5 ms.
	AcceptFirstS Num `json:"accept_first_s"` // since the client started
	AcceptAllS   Num `json:"accept_all_s"`   // since the client started
	AcceptS      Num `json:"accept_s"`       // AcceptAllS - AcceptFirstS
	// CPU of the whole process group (every process's user+system time
	// plus that of the children it reaped) at the hold report and when the
	// client exited: a process model's own report cannot include workers
	// that are still alive.
	HoldGroupCPUS Num `json:"hold_group_cpu_s"`
	EndGroupCPUS  Num `json:"end_group_cpu_s"`
}

// reportTimeout bounds one SIGUSR1 report; a process model with thousands
// of children sums their smaps, which takes a while.
const reportTimeout = 15 * time.Second

// takeReport sends SIGUSR1 to the server and waits for a report newer
// than after (the server's uptime_s) in its -j file.
func takeReport(pid int, path string, after float64, timeout time.Duration) (doc, []byte, error) {
	if err := syscall.Kill(pid, syscall.SIGUSR1); err != nil {
		return nil, nil, fmt.Errorf("SIGUSR1: %v", err)
	}
	deadline := time.Now().Add(timeout)
	for {
		b, err := os.ReadFile(path)
		if err == nil {
			var d doc
			// A report caught half-written fails to parse; the next read
			// gets it whole.
			if json.Unmarshal(b, &d) == nil && d.str("event") == "report" {
				if u := d.num("uptime_s"); u.Set && u.V > after {
					return d, b, nil
				}
			}
		}
		if time.Now().After(deadline) {
			return nil, nil, fmt.Errorf("no SIGUSR1 report in %s within %s", filepath.Base(path), timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// idleReport is taken after the server started listening, before the
// client starts.
func idleReport(pid int, jsonPath, rawDir, base string, pr *Probe) float64 {
	time.Sleep(150 * time.Millisecond)
	d, b, err := takeReport(pid, jsonPath, 0, reportTimeout)
	if err != nil {
		pr.Detail = "idle report: " + err.Error()
		return 0
	}
	pr.IdleJSON = base + ".idle.json"
	_ = os.WriteFile(filepath.Join(rawDir, pr.IdleJSON), b, 0o644)
	return d.num("uptime_s").V
}

// groupThreads sums the threads of every process in process group pgid
// (the server and its workers: the runner starts each server as a group
// leader), and counts the processes.
func groupThreads(pgid int) (threads, procs int) {
	threads, procs, _ = groupScan(pgid)
	return threads, procs
}

// groupCPU is the user+system CPU of process group pgid so far: every live
// member's own time plus what it collected from children it reaped.
func groupCPU(pgid int) Num {
	_, procs, cpu := groupScan(pgid)
	if procs == 0 {
		return Num{}
	}
	return num(cpu)
}

func groupScan(pgid int) (threads, procs int, cpu float64) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, 0, 0
	}
	for _, e := range ents {
		name := e.Name()
		if name[0] < '0' || name[0] > '9' {
			continue
		}
		b, err := os.ReadFile("/proc/" + name + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 18 {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); g != pgid {
			continue
		}
		t, _ := strconv.Atoi(f[17])
		threads += t
		procs++
		own := 0.0
		// utime and stime are rounded down to clock ticks per process: a
		// hundred prefork workers each losing part of a tick lose most of
		// their CPU. A single-threaded process's exact run time is in
		// schedstat; reading it per thread of a thread-per-connection
		// server would cost too much, and rounding once per process is
		// harmless there.
		if t == 1 {
			if sb, err := os.ReadFile("/proc/" + name + "/schedstat"); err == nil {
				if sf := strings.Fields(string(sb)); len(sf) > 0 {
					if ns, err := strconv.ParseFloat(sf[0], 64); err == nil {
						own = ns / 1e9
					}
				}
			}
		}
		if own == 0 {
			for _, k := range []int{11, 12} { // utime stime
				v, _ := strconv.Atoi(f[k])
				own += float64(v) / 100 // USER_HZ is 100 on Linux
			}
		}
		cpu += own
		for _, k := range []int{13, 14} { // cutime cstime: reaped children
			v, _ := strconv.Atoi(f[k])
			cpu += float64(v) / 100
		}
	}
	return threads, procs, cpu
}

// holdReport waits until the server holds n connections, lets them
// settle, and keeps the next SIGUSR1 report. A server that pays a thread
// or a process per connection shows the count in /proc, which costs the
// server nothing to read; any other is polled with SIGUSR1 reports (a
// process model with thousands of children takes seconds per report, so
// it must not be polled that way). It gives up when ctx ends (the client
// exited).
func holdReport(ctx context.Context, pid int, jsonPath, rawDir, base string, n int, after float64, pr *Probe, byThreads bool, threads0 int) {
	poll := 200 * time.Millisecond
	if byThreads {
		for {
			if t, _ := groupThreads(pid); t >= threads0+n {
				break
			}
			select {
			case <-ctx.Done():
				pr.Detail = fmt.Sprintf("the server never had %d more threads while the client ran", n)
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
		d, ok := keepHoldReport(ctx, pid, jsonPath, rawDir, base, after, pr)
		if ok {
			if now := d.num("now"); !now.Set || now.V < float64(n) {
				pr.Detail = fmt.Sprintf("the hold report shows %s connections open, not %d", now, n)
			}
		}
		return
	}
	for ctx.Err() == nil {
		d, _, err := takeReport(pid, jsonPath, after, reportTimeout)
		if err != nil {
			pr.Detail = "hold report: " + err.Error()
			return
		}
		after = d.num("uptime_s").V
		if now := d.num("now"); now.Set && now.V >= float64(n) {
			keepHoldReport(ctx, pid, jsonPath, rawDir, base, after, pr)
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(poll):
		}
	}
	if pr.HoldJSON == "" && pr.Detail == "" {
		pr.Detail = fmt.Sprintf("the server never reported %d connections open while the client ran", n)
	}
}

// keepHoldReport lets the connections settle (threads created for the last
// ones may not have run yet and touched their stacks), then takes one
// SIGUSR1 report and keeps it as the hold report. It reports false when
// there is none to keep.
func keepHoldReport(ctx context.Context, pid int, jsonPath, rawDir, base string, after float64, pr *Probe) (doc, bool) {
	select {
	case <-ctx.Done():
		pr.HoldLate, pr.Detail = true, "client ended before the hold report"
		return doc{}, false
	case <-time.After(200 * time.Millisecond):
	}
	at := time.Now()
	d, b, err := takeReport(pid, jsonPath, after, reportTimeout)
	if err != nil {
		pr.Detail = "hold report: " + err.Error()
		return doc{}, false
	}
	pr.HoldGroupCPUS = groupCPU(pid)
	if ctx.Err() != nil {
		pr.HoldLate = true
		pr.Detail = "client ended while the hold report was taken"
	}
	pr.HoldJSON = base + ".hold.json"
	pr.HoldAt = at.Format(time.RFC3339Nano)
	_ = os.WriteFile(filepath.Join(rawDir, pr.HoldJSON), b, 0o644)
	return d, true
}

// acceptTimer samples the server's thread count every 5 ms: a thread per
// connection server has accepted a connection when its thread exists.
func acceptTimer(ctx context.Context, pid int, n int, t0 time.Time, base float64, pr *Probe) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		th, ok := procStatus(pid)["Threads"]
		if ok {
			if !pr.AcceptFirstS.Set && th > base {
				pr.AcceptFirstS = num(time.Since(t0).Seconds())
			}
			if th >= base+float64(n) {
				pr.AcceptAllS = num(time.Since(t0).Seconds())
				if pr.AcceptFirstS.Set {
					pr.AcceptS = num(pr.AcceptAllS.V - pr.AcceptFirstS.V)
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

// holdWindowCheck compares when the hold report was asked for with the
// client's own hold phase (started_at + connect_all_s, for hold_s).
func holdWindowCheck(pr *Probe, cli doc) {
	if pr == nil || pr.HoldAt == "" || cli == nil {
		return
	}
	at, err1 := time.Parse(time.RFC3339Nano, pr.HoldAt)
	st, err2 := time.Parse(time.RFC3339Nano, cli.str("started_at"))
	ca, hs := cli.num("connect_all_s"), cli.num("hold_s")
	if err1 != nil || err2 != nil || !ca.Set || !hs.Set {
		return
	}
	holdEnd := st.Add(time.Duration((ca.V + hs.V) * float64(time.Second)))
	if at.After(holdEnd) {
		pr.HoldLate = true
		pr.Detail = fmt.Sprintf("hold report asked for %.3f s after the client's hold ended", at.Sub(holdEnd).Seconds())
	}
}

// memOf is the resident memory a report stands for: the proportional set
// size summed over all processes for a multi-process server (shared pages
// counted once), VmRSS for a single process.
func memOf(d doc) Num {
	if p := d.num("processes"); p.Set && p.V > 1 {
		if v := d.num("pss_sum_kib"); v.Set {
			return v
		}
	}
	return d.num("vmrss_kib")
}

// startMemOf is the same at the server's start, before any worker or
// connection existed.
func startMemOf(d doc) Num {
	if p := d.num("processes"); p.Set && p.V > 1 {
		if v := d.num("start_pss_kib"); v.Set {
			return v
		}
	}
	return d.num("start_rss_kib")
}

func cpuOf(d doc) Num {
	u, s := d.num("user_cpu_s"), d.num("sys_cpu_s")
	if u.Set && s.Set {
		return num(u.V + s.V)
	}
	return Num{}
}

// probeMetrics fills the figures that come from the idle and hold reports.
// With them, the per-connection memory and kernel stacks of the standard
// tables are the idle-to-hold growth, not the exit report's high-water mark.
func probeMetrics(m *Metrics, idle, hold, srv, cli doc, pr *Probe, kpt Num) {
	m.AcceptServerS = pr.AcceptS
	if hold == nil {
		return
	}
	now := hold.num("now")
	if !now.Set || now.V <= 0 {
		return
	}
	m.HeldConns = now
	if a, b := memOf(idle), memOf(hold); a.Set && b.Set {
		m.HoldKiBPerConn = num((b.V - a.V) / now.V)
	}
	if a, b := startMemOf(hold), memOf(hold); a.Set && b.Set {
		m.HoldKiBPerConnStart = num((b.V - a.V) / now.V)
	}
	if a, b := idle.num("threads"), hold.num("threads"); a.Set && b.Set && kpt.Set {
		m.HoldKStackPerC = num(max(0, b.V-a.V) * kpt.V / now.V)
	}
	if b := hold.num("threads"); b.Set && kpt.Set {
		m.HoldKStackAllPerC = num(b.V * kpt.V / now.V)
	}
	if m.RoundTrips.Set && m.RoundTrips.V > 0 {
		if a, b := pr.HoldGroupCPUS, pr.EndGroupCPUS; a.Set && b.Set {
			m.HoldCPUPerRTus = num((b.V - a.V) / m.RoundTrips.V * 1e6)
		} else if a, b := cpuOf(hold), cpuOf(srv); a.Set && b.Set {
			m.HoldCPUPerRTus = num((b.V - a.V) / m.RoundTrips.V * 1e6)
		}
	}
	if !pr.HoldLate {
		if m.HoldKiBPerConn.Set {
			m.KiBPerConn = m.HoldKiBPerConn
		}
		if m.HoldKStackPerC.Set {
			m.KStackPerC = m.HoldKStackPerC
			m.KStackKiB = num(m.HoldKStackPerC.V * now.V)
		}
		if m.HoldCPUPerRTus.Set {
			m.CPUPerRTus = m.HoldCPUPerRTus
		}
	}
}
