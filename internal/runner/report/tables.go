package report

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"tenkthreads/internal/runner/results"
)

// SummaryTable is the terminal's end-of-run table: medians of each cell.
func SummaryTable(cells []*results.Cell) string {
	head := []string{"server", "workload", "conns", "status", "errors", "peak RSS KiB", "KiB/conn", "kstack KiB", "machine KiB/conn", "CPU s", "connect all s", "rtt p99", "rt/s"}
	right := []bool{false, false, true, false, true, true, true, true, true, true, true, true, true}
	var rows [][]string
	for _, c := range cells {
		// The counted runs have a table of their own.
		if c.Workload == "counts" {
			continue
		}
		// A hold run's only round trip is the one verification echo per
		// connection: not a throughput.
		rtps := FmtInt(c.Stat(results.RoundTripsPerS).Med)
		if c.Workload == "hold" {
			rtps = "n/a"
		}
		rows = append(rows, []string{
			c.Label, c.Workload, strconv.Itoa(c.Conns), c.Status(),
			FmtInt(c.Stat(results.Errors).Med),
			FmtInt(c.Stat(results.PeakRSSKiB).Med),
			c.Stat(results.KiBPerConn).Med.String(),
			FmtInt(c.Stat(results.KStackKiB).Med),
			c.Stat(results.MachineKiBPerConn).Med.String(),
			c.Stat(results.ServerCPUS).Med.String(),
			c.Stat(results.ConnectAllS).Med.String(),
			FmtUs(c.Stat(results.RTTP99).Med),
			rtps,
		})
	}
	return Table(head, rows, right)
}

// HoldTable is the memory question: what holding N connections costs.
func HoldTable(cells []*results.Cell) string {
	head := []string{"server", "connections", "status", "client errors", "established / verified", "server peak conns", "peak resident KiB",
		"user-space KiB/conn", "kernel stack KiB/conn", "thread objects KiB/conn", "socket KiB/conn", "page tables KiB/conn", "**machine KiB/conn**",
		"other kernel KiB/conn (not in machine)", "server CPU s", "connect all s", "server threads (peak)", "others' CPU %"}
	right := []bool{false, true, false, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true}
	var rows [][]string
	for _, c := range cells {
		rows = append(rows, []string{
			c.Label, strconv.Itoa(c.Conns), c.Status(),
			Spread(c.Stat(results.Errors), FmtInt),
			FmtInt(c.Stat(results.Established).Med) + " / " + FmtInt(c.Stat(results.Verified).Med),
			Spread(c.Stat(results.ServerMaxConc), FmtInt),
			Spread(c.Stat(results.PeakRSSKiB), FmtInt),
			Spread(c.Stat(results.KiBPerConn), results.Num.String),
			Spread(c.Stat(results.KStackKiBPerConn), results.Num.String),
			Spread(c.Stat(results.ThreadObjectsKiBPerConn), results.Num.String),
			Spread(c.Stat(results.SocketKiBPerConn), results.Num.String),
			Spread(c.Stat(results.PageTablesKiBPerConn), results.Num.String),
			bold(Spread(c.Stat(results.MachineKiBPerConn), results.Num.String)),
			Spread(c.Stat(results.OtherKernelKiBPerConn), results.Num.String),
			Spread(c.Stat(results.ServerCPUS), results.Num.String),
			Spread(c.Stat(results.ConnectAllS), results.Num.String),
			Spread(c.Stat(results.ServerThreadsPeak), FmtInt),
			Spread(c.Stat(results.OtherCPUPct), FmtInt),
		})
	}
	return MDTable(head, rows, right)
}

// bold marks a measured figure as the one to read.
func bold(s string) string {
	if s == "–" {
		return s
	}
	return "**" + s + "**"
}

// RoundTripTable is the CPU and latency question.
func RoundTripTable(cells []*results.Cell) string {
	head := []string{"server", "connections", "status", "client errors", "round trips", "round trips/s", "server CPU µs/round trip", "rtt p50", "rtt p99", "server CPU s", "client CPU s", "client cores busy", "others' CPU %"}
	right := []bool{false, true, false, true, true, true, true, true, true, true, true, true, true}
	var rows [][]string
	for _, c := range cells {
		rows = append(rows, []string{
			c.Label, strconv.Itoa(c.Conns), c.Status(),
			Spread(c.Stat(results.Errors), FmtInt),
			Spread(c.Stat(results.RoundTrips), FmtInt),
			Spread(c.Stat(results.RoundTripsPerS), FmtInt),
			Spread(c.Stat(results.ServerCPUPerRT), results.Num.String),
			Spread(c.Stat(results.RTTP50), FmtUs),
			Spread(c.Stat(results.RTTP99), FmtUs),
			Spread(c.Stat(results.ServerCPUS), results.Num.String),
			Spread(c.Stat(results.ClientCPUS), results.Num.String),
			Spread(c.Stat(results.ClientCoresBusy), results.Num.String),
			Spread(c.Stat(results.OtherCPUPct), FmtInt),
		})
	}
	return MDTable(head, rows, right)
}

var digitsRE = regexp.MustCompile(`[0-9]+(\.[0-9]+)?`)

// ClientWarnings lists the client's own warnings, once per distinct text,
// with the cells they came from.
func ClientWarnings(cells []*results.Cell) string {
	where := map[string][]string{}
	example := map[string]string{}
	var order []string
	for _, c := range cells {
		seen := map[string]bool{}
		for _, r := range c.Runs {
			for _, w := range r.M.Warnings {
				// Figures inside a warning vary per run; group by its start.
				key := digitsRE.ReplaceAllString(w, "N")
				if seen[key] {
					continue
				}
				seen[key] = true
				if _, ok := where[key]; !ok {
					order = append(order, key)
					example[key] = w
				}
				where[key] = append(where[key], fmt.Sprintf("%s %s %d", c.Label, c.Workload, c.Conns))
			}
		}
	}
	var b strings.Builder
	for _, k := range order {
		fmt.Fprintf(&b, "- %d cells: \"%s\" (for example), in %s\n", len(where[k]), example[k], strings.Join(where[k], "; "))
	}
	return b.String()
}

// FailedRuns lists every run that did not end cleanly, with why.
func FailedRuns(runs []*results.Run) string {
	var rows [][]string
	for _, r := range runs {
		if r.Status == results.StatusOK {
			continue
		}
		rows = append(rows, []string{r.Label, r.Workload, strconv.Itoa(r.Conns), strconv.Itoa(r.Rep), r.Status, strings.ReplaceAll(r.Detail, "|", "/"), r.ServerLog, r.ClientLog})
	}
	if len(rows) == 0 {
		return "Every run ended cleanly: client exit 0, server exit 0 after SIGINT.\n"
	}
	return MDTable([]string{"server", "workload", "connections", "rep", "status", "detail", "server log", "client log"}, rows,
		[]bool{false, false, true, true, false, false, false, false})
}

// Interference says how much CPU other processes took while runs were
// live: on a shared machine that, not the server, can explain a slow cell.
func Interference(runs []*results.Run) string {
	n, measured := 0, 0
	worst, worstRun := 0.0, ""
	for _, r := range runs {
		if !r.M.OtherShare.Set || r.Superseded != "" {
			continue
		}
		measured++
		share := r.M.OtherShare.V
		if share > results.InterferenceLimit {
			n++
		}
		if share > worst {
			worst, worstRun = share, fmt.Sprintf("%s %s %d rep %d", r.Label, r.Workload, r.Conns, r.Rep)
		}
	}
	if measured == 0 {
		return ""
	}
	s := fmt.Sprintf("Other processes used at most %.0f%% of the machine's CPU during any run that counts.", worst)
	if n > 0 {
		s = fmt.Sprintf("Other processes used more than %.0f%% of the machine's CPU during %d of %d runs that count (at most %.0f%%, in %s); figures of those runs may be inflated by the interference (`other_cpu_pct` in results.csv).",
			results.InterferenceLimit, n, measured, worst, worstRun)
	}
	if k := superseded(runs); k > 0 {
		s += fmt.Sprintf(" %d run(s) that passed %.0f%% were made again once, and left out of the figures.", k, results.InterferenceLimit)
	}
	return s
}
