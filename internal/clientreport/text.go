package clientreport

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"
)

// FailureLines is the error summary for stderr: one headline, then one line
// per class with its errno names; the same for the idle connections.
func (r *Result) FailureLines() []string {
	var out []string
	if bad := r.Requested - r.Verified; bad > 0 || r.Failed > 0 || r.Interrupted {
		head := fmt.Sprintf("%d of %d connections failed", bad, r.Requested)
		if r.Interrupted {
			head += " (interrupted)"
		}
		out = append(out, failureLines(head, r.Errors, r.Errnos, r.Target, r.Established == 0)...)
	}
	if bad := r.Idle.Requested - r.Idle.Verified; bad > 0 || r.Idle.Failed > 0 {
		head := fmt.Sprintf("%d of %d idle connections failed", bad, r.Idle.Requested)
		out = append(out, failureLines(head, r.Idle.Errors, r.Idle.Errnos, r.Target, r.Idle.Established == 0)...)
	}
	return out
}

// failureLines is one headline naming the commonest error class, and a
// line per class; noneConnected adds a hint when it is a refusal.
func failureLines(head string, errs map[string]int64, errnos map[string]map[string]int64, target string, noneConnected bool) []string {
	classes := classesByCount(errs)
	if len(classes) > 0 {
		c := classes[0]
		head += fmt.Sprintf(": %s (%s) to %s", ClassText[c], errnoList(errnos[c]), target)
		if c == Refused && noneConnected {
			head += " — is the server running?"
		}
	}
	out := []string{head}
	for _, c := range classes {
		out = append(out, fmt.Sprintf("  %-12s %d (%s)", c, errs[c], errnoList(errnos[c])))
	}
	return out
}

func classesByCount(errs map[string]int64) []string {
	var cs []string
	for _, c := range Classes {
		if errs[c] > 0 {
			cs = append(cs, c)
		}
	}
	sort.SliceStable(cs, func(i, j int) bool { return errs[cs[i]] > errs[cs[j]] })
	return cs
}

func errnoList(m map[string]int64) string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if m[names[i]] != m[names[j]] {
			return m[names[i]] > m[names[j]]
		}
		return names[i] < names[j]
	})
	if len(names) == 1 {
		return names[0]
	}
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d", n, m[n])
	}
	return strings.Join(parts, ", ")
}

func (r *Result) workload() string {
	c := r.Config
	var parts []string
	switch {
	case c.DurationS > 0 && c.Rounds > 0:
		parts = append(parts, fmt.Sprintf("up to %d round trips per connection for at most %gs", c.Rounds, c.DurationS))
	case c.DurationS > 0:
		parts = append(parts, fmt.Sprintf("round trips for %gs", c.DurationS))
	default:
		parts = append(parts, fmt.Sprintf("%d round %s per connection", c.Rounds, plural(int64(c.Rounds), "trip", "trips")))
	}
	if c.Rate > 0 {
		parts = append(parts, fmt.Sprintf("open loop at %g msg/s", c.Rate))
	} else {
		parts = append(parts, "closed loop (lock-step)")
	}
	payload := "fixed payload"
	if c.RandomPayload {
		payload = "random payload"
	}
	parts = append(parts, fmt.Sprintf("%d B messages (%s)", c.MessageBytes, payload))
	if c.Reconnect {
		parts = append(parts, "new connection per round trip")
	}
	if c.HoldS > 0 {
		parts = append(parts, fmt.Sprintf("hold %gs", c.HoldS))
	}
	if c.Idle > 0 {
		parts = append(parts, fmt.Sprintf("%d idle connections besides", c.Idle))
	}
	return strings.Join(parts, ", ")
}

func (r *Result) engineText() string {
	switch r.Engine {
	case EngineEventLoop:
		if r.Processes > 1 {
			return fmt.Sprintf("event loops (epoll), %d over %d processes", r.Loops, r.Processes)
		}
		return fmt.Sprintf("event loops (epoll), %d %s", r.Loops, plural(int64(r.Loops), "loop", "loops"))
	case EngineGoroutine:
		return "a goroutine per connection (Go's net package)"
	}
	return fmt.Sprintf("mixed: processes with event loops (%d loops) and with a goroutine per connection", r.Loops)
}

// WriteText prints the report people read.
func (r *Result) WriteText(w io.Writer) {
	b := bufio.NewWriter(w)
	defer b.Flush()
	// The original kit's lines come first, unchanged, for old scripts.
	fmt.Fprintf(b, "Max conc: %d\ntotal: %d\nconc: %d\n", r.MaxConc, r.Total, r.Now)
	line := func(label, format string, a ...any) {
		fmt.Fprintf(b, "%-24s%s\n", label, fmt.Sprintf(format, a...))
	}
	target := r.Target
	if r.SourceDesc != "" {
		target += " from " + r.SourceDesc
	}
	line("target", "%s", target)
	if r.Processes > 1 {
		if len(r.MergedFrom) > 0 {
			line("merged", "%d client processes (%s)", r.Processes, strings.Join(r.MergedFrom, ", "))
		} else {
			line("processes", "%d client processes started together (-procs), reports merged", r.Processes)
		}
	}
	line("engine", "%s", r.engineText())
	line("workload", "%s", r.workload())
	line("connections requested", "%d", r.Requested)
	line("  established", "%d%s", r.Established, shortfall(r.Established, r.Requested))
	line("  verified", "%d%s", r.Verified, shortfall(r.Verified, r.Requested))
	line("  peak open at once", "%d%s", r.MaxConc, shortfall(r.MaxConc, r.Requested))
	line("  connects in total", "%d", r.Total)
	line("elapsed", "%.3f s", r.ElapsedS)
	line("connect all (ramp)", "%.3f s (%.0f connections/s)", r.ConnectAllS, r.ConnectsPerS)
	if r.HoldS > 0.0005 {
		line("hold", "%.3f s (all open, idle)", r.HoldS)
	}
	line("steady phase", "%.3f s (after the ramp and hold)", r.SteadyS)
	line("round trips", "%d verified, %.0f /s", r.RoundTrips, r.RoundTripsPS)
	if r.LingerS > 0.0005 {
		line("linger", "%.3f s (all open after the round trips)", r.LingerS)
	}
	if r.Config.DurationS > 0 {
		line("  within -duration", "%d, %.0f /s (completed in the window: %gs from -warmup %gs on)", r.WindowRoundTrips, r.WindowRoundTripsPS, r.Config.DurationS-r.Config.WarmupS, r.Config.WarmupS)
	}
	line("throughput", "%.3f MB/s echoed (payload, each direction)", r.MBPerS)
	line("in flight lost", "%d (sent, echo never completed)", r.InFlightLost)
	if r.Rate.RequestedPerS > 0 {
		kept := "kept"
		if !r.Rate.Kept {
			kept = "NOT KEPT"
		}
		line("rate", "requested %.0f msg/s, achieved %.0f msg/s, %d late, %d never sent: %s",
			r.Rate.RequestedPerS, r.Rate.AchievedPerS, r.Rate.LateSends, r.Rate.MissedSends, kept)
	}
	line("client CPU", "%.3f s user, %.3f s system (%.2f of %d cores busy)", r.UserCPUS, r.SysCPUS, r.CoresBusy, r.Environment.Cores)
	if r.RoundTrips > 0 {
		line("CPU per round trip", "%.2f µs (client, steady phase)", r.CPUPerRTUs)
	}
	r.writeFairness(line)
	if r.Failed == 0 {
		line("errors", "none")
	} else {
		line("errors", "%d", r.Failed)
		for _, c := range classesByCount(r.Errors) {
			line("  "+c, "%d (%s)", r.Errors[c], errnoList(r.Errnos[c]))
		}
	}
	r.writeIdle(line)
	if r.Interrupted {
		line("interrupted", "yes (SIGINT/SIGTERM): partial figures")
	}
	r.writeLatency(b)
}

// writeFairness says how evenly the round trips were spread over the
// connections, and how many completed none.
func (r *Result) writeFairness(line func(label, format string, a ...any)) {
	p := r.PerConn
	if p.Conns == 0 {
		return
	}
	line("round trips per conn", "min %d, median %d, max %d (over %d connections)", p.Min, p.Median, p.Max, p.Conns)
	line("  starved", "%d (completed no round trip)", p.Starved)
}

// writeIdle reports the -idle connections apart from the active ones.
func (r *Result) writeIdle(line func(label, format string, a ...any)) {
	i := r.Idle
	if i.Requested == 0 {
		return
	}
	line("idle connections", "%d (-idle: opened first, idle for the whole run, one echo each at the end)", i.Requested)
	line("  established", "%d%s", i.Established, shortfall(i.Established, i.Requested))
	line("  verified", "%d%s", i.Verified, shortfall(i.Verified, i.Requested))
	if i.Failed == 0 {
		line("  errors", "none")
		return
	}
	line("  errors", "%d", i.Failed)
	for _, c := range classesByCount(i.Errors) {
		line("    "+c, "%d (%s)", i.Errors[c], errnoList(i.Errnos[c]))
	}
}

// writeLatency is the latency table: one row per histogram.
func (r *Result) writeLatency(b io.Writer) {
	fmt.Fprintf(b, "%-24s%8s %10s %10s %10s %10s %10s %10s %10s\n", "latency (µs)", "count", "min", "p50", "p90", "p99", "p99.9", "max", "mean")
	for _, name := range HistNames {
		if name == "service" && r.Rate.RequestedPerS == 0 {
			continue // identical to rtt in closed loop
		}
		s := r.Latency[name].Summary
		label := "  " + name
		if name == "rtt" {
			label = "  round trip"
			if r.Rate.RequestedPerS > 0 {
				label += " *"
			}
		}
		fmt.Fprintf(b, "%-24s%8d %10.1f %10.1f %10.1f %10.1f %10.1f %10.1f %10.1f\n", label, s.Count, s.Min, s.P50, s.P90, s.P99, s.P999, s.Max, s.Mean)
	}
	if r.Rate.RequestedPerS > 0 {
		fmt.Fprintf(b, "%-24s%s\n", "", "* from each message's intended send time (coordinated omission corrected);")
		fmt.Fprintf(b, "%-24s%s\n", "", "  service is from the actual send, as a closed-loop tool would report it")
	}
}

func shortfall(got, want int64) string {
	if got < want {
		return fmt.Sprintf("  (%d short of the %d requested)", want-got, want)
	}
	return ""
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
