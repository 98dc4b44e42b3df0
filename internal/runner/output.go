package runner

import (
	"encoding/csv"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

func fmtUs(n Num) string {
	if !n.Set {
		return "–"
	}
	switch v := n.V; {
	case v >= 1e6:
		return fmtFloat(v/1e6) + " s"
	case v >= 1e3:
		return fmtFloat(v/1e3) + " ms"
	default:
		return fmtFloat(v) + " µs"
	}
}

func fmtInt(n Num) string {
	if !n.Set {
		return "–"
	}
	return strconv.FormatFloat(n.V, 'f', 0, 64)
}

// spread shows "median (min–max)" when repetitions differ.
func spread(s Stat, f func(Num) string) string {
	if !s.Med.Set {
		return "–"
	}
	if s.N < 2 || f(s.Min) == f(s.Max) {
		return f(s.Med)
	}
	return fmt.Sprintf("%s (%s–%s)", f(s.Med), f(s.Min), f(s.Max))
}

// table renders aligned text columns; numeric-looking columns go right.
func table(head []string, rows [][]string, right []bool) string {
	w := make([]int, len(head))
	for i, h := range head {
		w[i] = utf8.RuneCountInString(h)
	}
	for _, r := range rows {
		for i, c := range r {
			if n := utf8.RuneCountInString(c); n > w[i] {
				w[i] = n
			}
		}
	}
	var b strings.Builder
	line := func(cells []string) {
		for i, c := range cells {
			pad := strings.Repeat(" ", w[i]-utf8.RuneCountInString(c))
			if i > 0 {
				b.WriteString("  ")
			}
			if right[i] {
				b.WriteString(pad + c)
			} else if i == len(cells)-1 {
				b.WriteString(c)
			} else {
				b.WriteString(c + pad)
			}
		}
		b.WriteString("\n")
	}
	line(head)
	for _, r := range rows {
		line(r)
	}
	return b.String()
}

func mdTable(head []string, rows [][]string, right []bool) string {
	var b strings.Builder
	b.WriteString("| " + strings.Join(head, " | ") + " |\n|")
	for i := range head {
		if right[i] {
			b.WriteString("---:|")
		} else {
			b.WriteString("---|")
		}
	}
	b.WriteString("\n")
	for _, r := range rows {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	return b.String()
}

// SummaryTable is the terminal's end-of-run table: medians of each cell.
func SummaryTable(cells []*Cell) string {
	head := []string{"server", "workload", "conns", "status", "errors", "peak RSS KiB", "KiB/conn", "kstack KiB", "CPU s", "connect all s", "rtt p99", "rt/s"}
	right := []bool{false, false, true, false, true, true, true, true, true, true, true, true}
	var rows [][]string
	for _, c := range cells {
		// A hold run's only round trip is the one verification echo per
		// connection: not a throughput.
		rtps := fmtInt(c.stat("round_trips_per_s").Med)
		if c.Workload == "hold" {
			rtps = "n/a"
		}
		rows = append(rows, []string{
			c.Label, c.Workload, strconv.Itoa(c.Conns), c.Status(),
			fmtInt(c.stat("errors").Med),
			fmtInt(c.stat("peak_rss_kib").Med),
			c.stat("kib_per_conn").Med.String(),
			fmtInt(c.stat("kstack_kib").Med),
			c.stat("server_cpu_s").Med.String(),
			c.stat("connect_all_s").Med.String(),
			fmtUs(c.stat("rtt_p99_us").Med),
			rtps,
		})
	}
	return table(head, rows, right)
}

// WriteCSV writes one row per cell: median, min and max of every figure;
// an unmeasured figure is an empty field, never 0.
func WriteCSV(path string, cells []*Cell) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	head := []string{"server", "label", "model", "workload", "conns", "reps", "status"}
	for _, d := range metricDefs {
		head = append(head, d.key+"_median", d.key+"_min", d.key+"_max")
	}
	_ = w.Write(head)
	for _, c := range cells {
		row := []string{c.Server, c.Label, c.Model, c.Workload, strconv.Itoa(c.Conns), strconv.Itoa(len(c.Runs)), c.Status()}
		for _, d := range metricDefs {
			s := c.stat(d.key)
			for _, n := range []Num{s.Med, s.Min, s.Max} {
				if n.Set {
					row = append(row, strconv.FormatFloat(n.V, 'g', -1, 64))
				} else {
					row = append(row, "")
				}
			}
		}
		_ = w.Write(row)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func cellsOf(cells []*Cell, workload string) []*Cell {
	var out []*Cell
	for _, c := range cells {
		if c.Workload == workload {
			out = append(out, c)
		}
	}
	return out
}

// HoldTable is the memory question: what holding N connections costs.
func HoldTable(cells []*Cell) string {
	head := []string{"server", "connections", "status", "client errors", "established / verified", "server peak conns", "peak resident KiB", "user-space KiB/conn", "kernel stack KiB/conn", "total KiB/conn", "server CPU s", "connect all s", "server threads (peak)", "others' CPU %"}
	right := []bool{false, true, false, true, true, true, true, true, true, true, true, true, true, true}
	var rows [][]string
	for _, c := range cells {
		total := "–"
		u, k := c.stat("kib_per_conn").Med, c.stat("kstack_kib_per_conn").Med
		if u.Set && k.Set {
			total = fmtFloat(u.V + k.V)
		}
		rows = append(rows, []string{
			c.Label, strconv.Itoa(c.Conns), c.Status(),
			spread(c.stat("errors"), fmtInt),
			fmtInt(c.stat("established").Med) + " / " + fmtInt(c.stat("verified").Med),
			spread(c.stat("server_max_conc"), fmtInt),
			spread(c.stat("peak_rss_kib"), fmtInt),
			spread(c.stat("kib_per_conn"), Num.String),
			spread(c.stat("kstack_kib_per_conn"), Num.String),
			total,
			spread(c.stat("server_cpu_s"), Num.String),
			spread(c.stat("connect_all_s"), Num.String),
			spread(c.stat("server_threads_peak"), fmtInt),
			spread(c.stat("other_cpu_pct"), fmtInt),
		})
	}
	return mdTable(head, rows, right)
}

// RoundTripTable is the CPU and latency question.
func RoundTripTable(cells []*Cell) string {
	head := []string{"server", "connections", "status", "client errors", "round trips", "round trips/s", "server CPU µs/round trip", "rtt p50", "rtt p99", "server CPU s", "client CPU s", "client cores busy", "others' CPU %"}
	right := []bool{false, true, false, true, true, true, true, true, true, true, true, true, true}
	var rows [][]string
	for _, c := range cells {
		rows = append(rows, []string{
			c.Label, strconv.Itoa(c.Conns), c.Status(),
			spread(c.stat("errors"), fmtInt),
			spread(c.stat("round_trips"), fmtInt),
			spread(c.stat("round_trips_per_s"), fmtInt),
			spread(c.stat("server_cpu_us_per_rt"), Num.String),
			spread(c.stat("rtt_p50_us"), fmtUs),
			spread(c.stat("rtt_p99_us"), fmtUs),
			spread(c.stat("server_cpu_s"), Num.String),
			spread(c.stat("client_cpu_s"), Num.String),
			spread(c.stat("client_cores_busy"), Num.String),
			spread(c.stat("other_cpu_pct"), fmtInt),
		})
	}
	return mdTable(head, rows, right)
}

// Answer states the result in two sentences computed from the data: what
// holding the most connections cost each server, and what a round trip
// cost each server at the largest count.
func Answer(cells []*Cell) string {
	var s1, s2 string
	hold := cellsOf(cells, "hold")
	if n := largestCommon(hold); n > 0 {
		var parts []string
		for _, c := range hold {
			if c.Conns != n {
				continue
			}
			held := c.stat("server_max_conc").Med
			p := c.Label + " held "
			if held.Set {
				p += fmt.Sprintf("%s of %s", thousands(int(held.V)), thousands(n))
			} else {
				p += "an unknown number (no server report)"
			}
			if e := c.stat("errors").Med; e.Set {
				p += fmt.Sprintf(" with %s client errors", thousands(int(e.V)))
			}
			if st := c.Status(); st != StatusOK {
				p += " (" + st + ")"
			}
			u, k := c.stat("kib_per_conn").Med, c.stat("kstack_kib_per_conn").Med
			switch {
			case u.Set && c.threadPerConn() && k.Set:
				p += fmt.Sprintf(", at %s KiB of user-space memory plus %s KiB of kernel stack per connection", u, k)
			case u.Set:
				p += fmt.Sprintf(", at %s KiB per connection", u)
			}
			parts = append(parts, p)
		}
		s1 = fmt.Sprintf("Asked to hold %s connections open, %s.", thousands(n), joinAnd(parts))
	} else {
		s1 = "No hold run produced results."
	}
	echo := cellsOf(cells, "echo")
	if n := largestCommon(echo); n > 0 {
		var parts []string
		for _, c := range echo {
			if c.Conns != n {
				continue
			}
			var fig []string
			if v := c.stat("server_cpu_us_per_rt").Med; v.Set {
				fig = append(fig, fmt.Sprintf("%s µs of server CPU per round trip", v))
			}
			if v := c.stat("rtt_p99_us").Med; v.Set {
				fig = append(fig, "p99 latency "+fmtUs(v))
			}
			if v := c.stat("round_trips_per_s").Med; v.Set {
				fig = append(fig, thousands(int(v.V))+" round trips/s")
			}
			p := c.Label
			if len(fig) == 0 {
				p += " had no round-trip figures (not reported)"
			} else {
				p += " needed " + strings.Join(fig, ", ")
			}
			if st := c.Status(); st != StatusOK {
				p += " (" + st + ")"
			}
			parts = append(parts, p)
		}
		s2 = fmt.Sprintf("With %s connections doing closed-loop echo, %s.", thousands(n), joinAnd(parts))
	} else {
		s2 = "CPU per round trip and latency were not measured in this run (the client offers no -duration or -rounds workload yet, or the echo workload was not selected)."
	}
	return s1 + " " + s2 + saturation(echo)
}

// saturation warns when the client, not the server, may have set the pace.
func saturation(cells []*Cell) string {
	n := 0
	for _, c := range cells {
		if b := c.stat("client_cores_busy").Med; b.Set && b.V >= 0.9 {
			n++
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" Caution: in %d of %d echo cells the client kept at least 0.9 of its core busy, so round trips/s and latency there are bounded by the client as much as by the server.", n, len(cells))
}

var digitsRE = regexp.MustCompile(`[0-9]+(\.[0-9]+)?`)

// ClientWarnings lists the client's own warnings, once per distinct text,
// with the cells they came from.
func ClientWarnings(cells []*Cell) string {
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

// largestCommon is the largest connection count every server ran, so the
// sentence compares like with like; failing that, the largest any ran.
func largestCommon(cells []*Cell) int {
	per := map[string]map[int]bool{}
	all := map[int]bool{}
	for _, c := range cells {
		if per[c.Server] == nil {
			per[c.Server] = map[int]bool{}
		}
		per[c.Server][c.Conns] = true
		all[c.Conns] = true
	}
	var counts []int
	for n := range all {
		counts = append(counts, n)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(counts)))
	for _, n := range counts {
		ok := true
		for _, m := range per {
			if !m[n] {
				ok = false
			}
		}
		if ok {
			return n
		}
	}
	if len(counts) > 0 {
		return counts[0]
	}
	return 0
}

func joinAnd(parts []string) string {
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], "; ") + "; and " + parts[len(parts)-1]
}

// FailedRuns lists every run that did not end cleanly, with why.
func FailedRuns(runs []*Run) string {
	var rows [][]string
	for _, r := range runs {
		if r.Status == StatusOK {
			continue
		}
		rows = append(rows, []string{r.Label, r.Workload, strconv.Itoa(r.Conns), strconv.Itoa(r.Rep), r.Status, strings.ReplaceAll(r.Detail, "|", "/"), r.ServerLog, r.ClientLog})
	}
	if len(rows) == 0 {
		return "Every run ended cleanly: client exit 0, server exit 0 after SIGINT.\n"
	}
	return mdTable([]string{"server", "workload", "connections", "rep", "status", "detail", "server log", "client log"}, rows,
		[]bool{false, false, true, true, false, false, false, false})
}

// Interference says how much CPU other processes took while runs were
// live: on a shared machine that, not the server, can explain a slow cell.
func Interference(runs []*Run) string {
	n, measured := 0, 0
	worst, worstRun := 0.0, ""
	for _, r := range runs {
		if !r.M.OtherShare.Set {
			continue
		}
		measured++
		share := r.M.OtherShare.V / 100
		if share > 0.05 {
			n++
		}
		if share > worst {
			worst, worstRun = share, fmt.Sprintf("%s %s %d rep %d", r.Label, r.Workload, r.Conns, r.Rep)
		}
	}
	if measured == 0 {
		return ""
	}
	if n == 0 {
		return fmt.Sprintf("Other processes used at most %.0f%% of the machine's CPU during any run.", worst*100)
	}
	return fmt.Sprintf("Other processes used more than 5%% of the machine's CPU during %d of %d runs (at most %.0f%%, in %s); figures of those runs may be inflated by the interference (`other_cpu_s` in results.csv).", n, measured, worst*100, worstRun)
}
