package report

import (
	"fmt"
	"strings"

	"tenkthreads/internal/confidence"
	"tenkthreads/internal/perfcount"
	"tenkthreads/internal/runner/results"
)

// Headline is the table the README quotes: each server at the largest
// count every server held and echoed at, its memory from the hold
// workload and its CPU, latency and rate from the echo workload, and
// what the client's side cost, so that a reader sees which side set the
// pace. "" when the run has no such count.
func Headline(cells []*results.Cell) string {
	hold, echo := results.CellsOf(cells, "hold"), results.CellsOf(cells, "echo")
	n := largestCommon(append(append([]*results.Cell{}, hold...), echo...))
	if n == 0 {
		return ""
	}
	head := []string{"server", "held", "errors", "user KiB/conn", "machine KiB/conn", "CPU µs/round trip", "rtt p99", "round trips/s", "client CPU µs/msg", "client cores busy"}
	right := []bool{false, true, true, true, true, true, true, true, true, true}
	var rows [][]string
	for _, h := range hold {
		if h.Conns != n {
			continue
		}
		e := results.FindCell(echo, h.Server, "echo", n)
		errs := h.Stat(results.Errors).Med
		held := "–"
		if v := h.Stat(results.Verified).Med; v.Set {
			held = results.Thousands(int(v.V)) + " of " + results.Thousands(n)
		}
		row := []string{h.Label, held, FmtInt(errs), Spread(h.Stat(results.KiBPerConn), results.Num.String),
			Spread(h.Stat(results.MachineKiBPerConn), results.Num.String)}
		if e == nil {
			row = append(row, "–", "–", "–", "–", "–")
		} else {
			if ee := e.Stat(results.Errors).Med; ee.Set && errs.Set {
				row[2] = FmtInt(results.N(errs.V + ee.V))
			}
			row = append(row, Spread(e.Stat(results.ServerCPUPerRT), results.Num.String), Spread(e.Stat(results.RTTP99), FmtUs),
				Spread(e.Stat(results.RoundTripsPerS), FmtInt), Spread(e.Stat(results.ClientCPUPerMsg), results.Num.String),
				Spread(e.Stat(results.ClientCoresBusy), results.Num.String))
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return ""
	}
	return fmt.Sprintf("At %s connections: held and errors, and memory per connection from the hold workload; CPU, latency and rate from closed-loop echo. ", results.Thousands(n)) +
		"Brackets hold the 95% confidence interval of the median.\n\n" + MDTable(head, rows, right)
}

// Repetitions says how the cells' runs were made: how many, in what
// order, and which were made again because of interference.
func Repetitions(m results.Meta, runs []*results.Run) string {
	reps := max(m.Reps, 1)
	s := fmt.Sprintf("Each cell ran %d time(s)", reps)
	if m.OrderSeed != 0 {
		s += fmt.Sprintf(", in rounds of one run of every cell in a random order (seed %d, in meta.json; the order is in runs.json)", m.OrderSeed)
	}
	s += "."
	if n := superseded(runs); n > 0 {
		s += fmt.Sprintf(" %d run(s) were made again because other processes took more than their share of the CPU while they ran; the first attempts are in runs.json, marked superseded, and out of the figures.", n)
	}
	return s
}

func superseded(runs []*results.Run) int {
	n := 0
	for _, r := range runs {
		if r.Superseded != "" {
			n++
		}
	}
	return n
}

// RatioText is num's figure f over den's as "2.1× [1.9–2.3]", or "" when
// either is not measured.
func RatioText(num, den *results.Cell, f results.Figure) string {
	e, ok := results.RatioCI(num, den, f)
	if !ok {
		return ""
	}
	return confidence.FormatRatio(e)
}

// countsFigures are the counted runs' figures, in the order the table
// shows them.
var countsFigures = []struct {
	f    results.Figure
	name string
}{
	{results.CtxSwitchesPerRT, "context switches"}, {results.SyscallsPerRT, "system calls"},
	{results.MigrationsPerRT, "CPU migrations"}, {results.PageFaultsPerRT, "page faults"},
	{results.CyclesPerRT, "cycles"}, {results.InstructionsPerRT, "instructions"},
}

// writeCounts is the counts behind the CPU: what the kernel counted for
// each server per round trip in its counted run, what could not be
// counted and why, and the sentence that explains the CPU ratio with them.
func writeCounts(b *strings.Builder, cells []*results.Cell) {
	counted := results.CellsOf(cells, "counts")
	if len(counted) == 0 {
		return
	}
	b.WriteString("## The counts behind the CPU\n\n")
	b.WriteString("Each echo cell ran once more with the kernel counting, through `perf_event_open`, what every thread and process of the server did from the idle server to its exit, divided here by the round trips the client completed. A run of its own, so that the counters' cost stays out of the timed runs above.\n\n")
	head := []string{"server", "connections", "CPU µs/round trip"}
	right := []bool{false, true, true}
	for _, c := range countsFigures {
		head, right = append(head, c.name), append(right, true)
	}
	var rows [][]string
	for _, c := range counted {
		row := []string{c.Label, results.Thousands(c.Conns), c.Stat(results.ServerCPUPerRT).Med.String()}
		for _, cf := range countsFigures {
			row = append(row, c.Stat(cf.f).Med.String())
		}
		rows = append(rows, row)
	}
	b.WriteString(MDTable(head, rows, right) + "\n")
	if m := missingCounts(counted); m != "" {
		b.WriteString("Not counted: " + m + ".\n\n")
	}
	if e := ExplainCounts(cells); e != "" {
		b.WriteString(e + "\n\n")
	}
}

// missingCounts is each count some counted run could not make, once,
// with why.
func missingCounts(cells []*results.Cell) string {
	seen := map[string]bool{}
	var out []string
	for _, c := range cells {
		for _, r := range c.Runs {
			if r.Counts == nil {
				continue
			}
			for _, m := range r.Counts.Missing {
				if !seen[m] {
					seen[m] = true
					out = append(out, m)
				}
			}
		}
	}
	return strings.Join(out, "; ")
}

// ExplainCounts explains, at the largest count of the counted runs, how
// the servers' CPU per round trip differs and which counts go with it:
// "At 10,000 connections 10kthreads (thread) used 2.1× [1.9–2.3] the
// server CPU per round trip of 10kthreads (epoll). Per round trip, the
// 10kthreads (thread) server makes ...".
func ExplainCounts(cells []*results.Cell) string {
	counted := results.CellsOf(cells, "counts")
	n := largestCommon(counted)
	var servers []perfcount.Server
	var at []*results.Cell
	for _, c := range counted {
		if c.Conns != n {
			continue
		}
		rate := func(f results.Figure) perfcount.Rate {
			if v := c.Stat(f).Med; v.Set {
				return perfcount.Rate{Value: v.V, Set: true}
			}
			return perfcount.Rate{Missing: "not counted in this run"}
		}
		servers = append(servers, perfcount.Server{Name: cellName(c), Per: perfcount.PerRoundTrip{
			ContextSwitches: rate(results.CtxSwitchesPerRT), Syscalls: rate(results.SyscallsPerRT),
			Migrations: rate(results.MigrationsPerRT), PageFaults: rate(results.PageFaultsPerRT),
			Cycles: rate(results.CyclesPerRT), Instructions: rate(results.InstructionsPerRT)}})
		at = append(at, c)
	}
	if len(servers) < 2 {
		return ""
	}
	why, err := perfcount.Explain(servers...)
	if err != nil {
		return ""
	}
	s := fmt.Sprintf("At %s connections %s.", results.Thousands(n), why)
	first, last := results.FindCell(cells, at[0].Server, "echo", n), results.FindCell(cells, at[len(at)-1].Server, "echo", n)
	if r := RatioText(first, results.FindCell(cells, epollKey, "echo", n), results.ServerCPUPerRT); r != "" && at[0].Server != epollKey {
		s = fmt.Sprintf("At %s connections the %s server used %s the server CPU per round trip of the epoll server. %s", results.Thousands(n), cellName(at[0]), r, s)
	} else if r := RatioText(first, last, results.ServerCPUPerRT); r != "" {
		s = fmt.Sprintf("At %s connections the %s server used %s the server CPU per round trip of the %s server. %s", results.Thousands(n), cellName(at[0]), r, cellName(at[len(at)-1]), s)
	}
	return s
}

// cellName is a cell's server in a sentence: its model, or Go.
func cellName(c *results.Cell) string {
	if c.Server == goRefKey {
		return "Go"
	}
	return c.Model
}
