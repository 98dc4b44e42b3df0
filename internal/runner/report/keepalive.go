package report

import (
	"fmt"
	"strings"

	"tenkthreads/internal/runner/plots"
	"tenkthreads/internal/runner/results"
)

// KeepAliveSchema names the layout of keepalive.json (cmd/experiment/SCHEMAS.md).
const KeepAliveSchema = "10kthreads-keepalive/1"

// KeepAliveRow is one server with one number of idle connections and one
// request delay.
type KeepAliveRow struct {
	Server       string      `json:"server"`
	Label        string      `json:"label"`
	Idle         int         `json:"idle"`
	DelayUS      int64       `json:"delay_us"`
	Workload     string      `json:"workload"`
	Status       string      `json:"status"`
	RequestsPerS results.Num `json:"requests_per_s"`
	P99us        results.Num `json:"rtt_p99_us"`
	Starved      results.Num `json:"starved"`
	PerConnMin   results.Num `json:"rt_per_conn_min"`
	PerConnMed   results.Num `json:"rt_per_conn_median"`
	PerConnMax   results.Num `json:"rt_per_conn_max"`
	IdleVerified results.Num `json:"idle_verified"`
	Errors       results.Num `json:"errors"`
	ServerCPUS   results.Num `json:"server_cpu_s"`
	PeakWaiting  results.Num `json:"peak_waiting"`
}

// KeepAliveReport is keepalive.json.
type KeepAliveReport struct {
	Header
	Active       int                    `json:"active"`
	Workers      int                    `json:"workers"`
	Idle         []int                  `json:"idle"`
	DelaysUS     []int64                `json:"delays_us"`
	DurationS    float64                `json:"duration_s"`
	TimeoutS     float64                `json:"timeout_s"`
	Servers      []results.ServerSpec   `json:"servers"`
	Rows         []KeepAliveRow         `json:"rows"`
	Interference map[string]results.Num `json:"interference_pct"`
	Pinning      string                 `json:"pinning"`
	Notes        []string               `json:"notes"`
	Environment  [][2]string            `json:"environment"`
}

// KeepAliveWorkload names the cells of one number of idle connections and
// one delay: "idle100-d10ms".
func KeepAliveWorkload(idle int, delayUS int64) string {
	return fmt.Sprintf("idle%d-d%s", idle, DelayArg(delayUS))
}

// BuildKeepAlive makes keepalive.json from the cells; rep has its plan
// (active, idle, delays, durations, servers) filled in already.
func BuildKeepAlive(res *results.Results, rep KeepAliveReport) KeepAliveReport {
	m := res.Meta
	rep.Header, rep.Pinning, rep.Notes, rep.Environment = header(KeepAliveSchema, m), m.Pinning, m.Notes, m.Env
	rep.Rows, rep.Interference = []KeepAliveRow{}, map[string]results.Num{}
	rep.Interference["median"], rep.Interference["worst_run"] = results.InterferenceSummary(res.Runs)
	for _, d := range rep.DelaysUS {
		for _, idle := range rep.Idle {
			wl := KeepAliveWorkload(idle, d)
			for _, s := range rep.Servers {
				c := results.FindCell(res.Cells, s.Key, wl, rep.Active)
				if c == nil {
					continue
				}
				st := func(f results.Figure) results.Num { return c.Stat(f).Med }
				rep.Rows = append(rep.Rows, KeepAliveRow{Server: s.Key, Label: s.Label, Idle: idle, DelayUS: d, Workload: wl,
					Status: c.Status(), RequestsPerS: st(results.WindowRoundTripsPerS), P99us: st(results.RTTP99), Starved: st(results.Starved),
					PerConnMin: st(results.RTPerConnMin), PerConnMed: st(results.RTPerConnMedian), PerConnMax: st(results.RTPerConnMax),
					IdleVerified: st(results.IdleVerified), Errors: st(results.Errors), ServerCPUS: st(results.ServerCPUS), PeakWaiting: st(results.ServerMaxWaiting)})
			}
		}
	}
	return rep
}

// KeepAliveTable is the table of every row, for the terminal and the
// Markdown file alike.
func KeepAliveTable(rep KeepAliveReport) string {
	head := []string{"server", "idle conns", "-d", "requests/s", "rtt p99", fmt.Sprintf("starved of %d", rep.Active),
		"round trips per conn min / median / max", "idle verified", "status"}
	right := []bool{false, true, true, true, true, true, true, true, false}
	var rows [][]string
	for _, r := range rep.Rows {
		rows = append(rows, []string{r.Label, results.Thousands(r.Idle), DelayArg(r.DelayUS), fmtCount(r.RequestsPerS), FmtUs(r.P99us), fmtCount(r.Starved),
			fmtCount(r.PerConnMin) + " / " + fmtCount(r.PerConnMed) + " / " + fmtCount(r.PerConnMax),
			fmtCount(r.IdleVerified) + " of " + results.Thousands(r.Idle), r.Status})
	}
	return MDTable(head, rows, right)
}

// fmtCount is a whole number with thousands separators, "–" when not
// measured.
func fmtCount(n results.Num) string {
	if !n.Set {
		return "–"
	}
	return results.Thousands(int(n.V + 0.5))
}

// KeepAliveFigures is requests/s against the idle connections, a line
// per server, one figure per request delay: the delay divides the rates
// by a hundred, which would flatten them on one axis.
func KeepAliveFigures(rep KeepAliveReport) []plots.LineFigure {
	var out []plots.LineFigure
	for _, d := range rep.DelaysUS {
		f := plots.LineFigure{Name: "keepalive_rps_d" + DelayArg(d),
			Title:  fmt.Sprintf("%d active connections beside idle keep-alive ones (%s): requests per second", rep.Active, delayTitle(d)),
			XLabel: "idle keep-alive connections", YLabel: "requests per second (active connections)",
			Caption: fmt.Sprintf("Requests per second of the active connections against the number of idle keep-alive connections open beside them, one line per server, %s. "+
				"A server whose active connections all starved sits at 0.", delayTitle(d))}
		for _, s := range rep.Servers {
			l := plots.Line{Label: s.Label}
			for _, r := range rep.Rows {
				if r.Server == s.Key && r.DelayUS == d && r.RequestsPerS.Set {
					l.X, l.Y = append(l.X, float64(r.Idle)), append(l.Y, r.RequestsPerS.V)
				}
			}
			f.Lines = append(f.Lines, l)
		}
		out = append(out, f)
	}
	return out
}

// KeepAliveMarkdown is keepalive.md.
func KeepAliveMarkdown(rep KeepAliveReport, figs []plots.File) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Keep-alive connections and worker pools — %s\n\n", rep.Started)
	b.WriteString("## Keep-alive: requests beside idle connections\n\n")
	fmt.Fprintf(&b, "Each run opens idle keep-alive connections first and keeps them open and idle for the whole run (`client -idle N`), then %d active connections that run 64-byte closed-loop round trips for %gs (`-n %d -duration %gs`); at the end every idle connection sends one message and must get its echo. Each connect has a %gs deadline, and each round trip %gs plus the time %d workers waiting `-d` per request take to serve every idle connection at once (idle × d / %d). Requests/s counts the round trips completed within the %gs window. A connection is **starved** when it completed no round trip. One run per cell. Pinning: %s.\n\n",
		rep.Active, rep.DurationS, rep.Active, rep.DurationS, rep.TimeoutS, rep.TimeoutS, rep.Workers, rep.Workers, rep.DurationS, rep.Pinning)
	b.WriteString(KeepAliveTable(rep))
	b.WriteString("\n" + keepAliveVerdict(rep))
	for _, f := range figs {
		fmt.Fprintf(&b, "\n![requests/s against idle connections](%s.svg)\n\n%s\n", f.Name, f.Caption)
	}
	footer(&b, rep.Interference, rep.Notes, rep.Command)
	return b.String()
}

// keepAliveVerdict says, for each server, how many active connections
// starved at most over the cells, from the rows themselves.
func keepAliveVerdict(rep KeepAliveReport) string {
	var parts []string
	for _, s := range rep.Servers {
		worst, cells := -1.0, 0
		for _, r := range rep.Rows {
			if r.Server == s.Key && r.Starved.Set {
				worst, cells = max(worst, r.Starved.V), cells+1
			}
		}
		if cells > 0 {
			parts = append(parts, fmt.Sprintf("%s %s", s.Label, results.Thousands(int(worst))))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return fmt.Sprintf("\nMost active connections starved in one run, of %d: %s.\n", rep.Active, strings.Join(parts, "; "))
}
