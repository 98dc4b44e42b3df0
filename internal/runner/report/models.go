package report

import (
	"fmt"
	"strings"
	"time"

	"tenkthreads/internal/runner/results"
	"tenkthreads/internal/srvreport"
)

// ModelsSchema names the layout of models.json (scripts/experiment/SCHEMAS.md).
const ModelsSchema = "10kthreads-models/1"

// ModelsCell is one connection-per-request cell.
type ModelsCell struct {
	Server       string      `json:"server"`
	Label        string      `json:"label"`
	Concurrency  int         `json:"concurrency"`
	Status       string      `json:"status"`
	RequestsPerS results.Num `json:"requests_per_s"`
	Requests     results.Num `json:"requests"`
	Errors       results.Num `json:"errors"`
	ConnectAllS  results.Num `json:"connect_all_s"`
	P99us        results.Num `json:"rtt_p99_us"`
	ServerCPUS   results.Num `json:"server_cpu_s"`
	OtherCPUPct  results.Num `json:"other_cpu_pct"`
}

// ModelsLong is one long-lived-connections row.
type ModelsLong struct {
	Server          string      `json:"server"`
	Label           string      `json:"label"`
	Conns           int         `json:"conns"`
	Args            []string    `json:"server_args"`
	Status          string      `json:"status"`
	Errors          results.Num `json:"errors"`
	KiBPerConnIdle  results.Num `json:"kib_per_conn_from_idle"`
	KiBPerConnStart results.Num `json:"kib_per_conn_from_start"`
	KStackPerConn   results.Num `json:"kstack_kib_per_conn"`
	KStackAllPerC   results.Num `json:"kstack_all_kib_per_conn"`
	CPUPerRTus      results.Num `json:"cpu_us_per_rt"`
	RoundTripsPerS  results.Num `json:"round_trips_per_s"`
	Note            string      `json:"note,omitempty"`
}

// ModelsReport is models.json.
type ModelsReport struct {
	Header
	DurationS    float64                `json:"duration_s"`
	Concurrency  []int                  `json:"concurrency"`
	Servers      []results.ServerSpec   `json:"servers"`
	Reconnect    []ModelsCell           `json:"reconnect"`
	LongLived    []ModelsLong           `json:"long_lived"`
	Interference map[string]results.Num `json:"interference_pct"`
	Pinning      string                 `json:"pinning"`
	Notes        []string               `json:"notes"`
	Environment  [][2]string            `json:"environment"`
	// ModelList is what bin/10kthreads -M list said about its models.
	ModelList srvreport.ModelList `json:"model_list"`
}

// BuildModels makes models.json: the reconnect cells for each server and
// concurrency, and the long-lived row of each server (longSpecs: the
// flags it ran with).
func BuildModels(res *results.Results, specs []results.ServerSpec, longSpecs map[string]results.ServerSpec, conc []int, dur time.Duration, list srvreport.ModelList) ModelsReport {
	m := res.Meta
	rep := ModelsReport{Header: header(ModelsSchema, m), DurationS: dur.Seconds(),
		Concurrency: conc, Servers: specs, Reconnect: []ModelsCell{}, LongLived: []ModelsLong{}, Pinning: m.Pinning,
		Notes: m.Notes, Environment: m.Env, Interference: map[string]results.Num{}, ModelList: list}
	med, worst := results.InterferenceSummary(res.Runs)
	rep.Interference["median"], rep.Interference["worst_run"] = med, worst
	for _, n := range conc {
		for _, s := range specs {
			c := results.FindCell(res.Cells, s.Key, "reconnect", n)
			if c == nil {
				continue
			}
			// Requests over the -duration window, not over the client's
			// steady phase: against a model that serves fewer connections
			// than the client has, the client's last connections wait out
			// their timeout after the window (see the note in models.md),
			// which would stretch the steady phase and deflate the rate.
			rps := results.Num{}
			if rt := c.Stat("round_trips").Med; rt.Set && dur > 0 {
				rps = results.N(rt.V / dur.Seconds())
			}
			rep.Reconnect = append(rep.Reconnect, ModelsCell{Server: s.Key, Label: s.Label, Concurrency: n, Status: c.Status(),
				RequestsPerS: rps, Requests: c.Stat("round_trips").Med, Errors: c.Stat("errors").Med,
				ConnectAllS: c.Stat("connect_all_s").Med, P99us: c.Stat("rtt_p99_us").Med, ServerCPUS: c.Stat("server_cpu_s").Med,
				OtherCPUPct: c.Stat("other_cpu_pct").Med})
		}
	}
	for _, s := range specs {
		for _, c := range res.Cells {
			if c.Server != s.Key || c.Workload != "echo" {
				continue
			}
			l := ModelsLong{Server: s.Key, Label: s.Label, Conns: c.Conns, Args: longSpecs[s.Key].Args, Status: c.Status(),
				Errors: c.Stat("errors").Med, KiBPerConnIdle: c.Stat("hold_kib_per_conn").Med,
				KiBPerConnStart: c.Stat("hold_kib_per_conn_from_start").Med, KStackPerConn: c.Stat("hold_kstack_kib_per_conn").Med,
				KStackAllPerC: c.Stat("hold_kstack_all_kib_per_conn").Med, CPUPerRTus: c.Stat("hold_cpu_us_per_rt").Med, RoundTripsPerS: c.Stat("round_trips_per_s").Med}
			if l.Args == nil {
				l.Args = []string{}
			}
			for _, r := range c.Runs {
				if r.M.ProbeLate || (r.Probe != nil && r.Probe.HoldJSON == "" && r.Probe.Detail != "") {
					l.Note = r.Probe.Detail
				}
			}
			rep.LongLived = append(rep.LongLived, l)
		}
	}
	return rep
}

// shortName is a column header: the model without the binary's name.
func shortName(s results.ServerSpec) string {
	if s.Key == "ref_async_server" {
		return "Go ref"
	}
	return s.Model
}

func rpsCell(c ModelsCell) string {
	if !c.RequestsPerS.Set {
		return c.Status
	}
	v := results.Thousands(int(c.RequestsPerS.V + 0.5))
	if c.Errors.Set && c.Errors.V > 0 {
		v += fmt.Sprintf(" (%s err)", results.Thousands(int(c.Errors.V)))
	}
	if c.Status != results.StatusOK && c.Status != results.StatusErrors {
		v += " " + c.Status
	}
	return v
}

// ModelsMarkdown is models.md: the requests/s table shaped like the
// pre-threaded article's (concurrency down, designs across), then the
// long-lived costs.
func ModelsMarkdown(rep ModelsReport) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Server models side by side — %s\n\n", rep.Started)
	fmt.Fprintf(&b, "## Connection per request: requests/s\n\n")
	fmt.Fprintf(&b, "Each request is a new TCP connection: connect, send 64 bytes, read the echo, close (`client -reconnect -duration %gs -size 64`), with that many client connections in a closed loop. Every connect and round trip has a 2 s deadline; \"(N err)\" counts connections that failed (a failed connection stops). One run per cell. Pinning: %s.\n\n", rep.DurationS, rep.Pinning)
	head := []string{"concurrency"}
	right := []bool{true}
	for _, s := range rep.Servers {
		head = append(head, shortName(s))
		right = append(right, true)
	}
	var rows [][]string
	for _, n := range rep.Concurrency {
		row := []string{results.Thousands(n)}
		for _, s := range rep.Servers {
			cell := "–"
			for _, c := range rep.Reconnect {
				if c.Server == s.Key && c.Concurrency == n {
					cell = rpsCell(c)
				}
			}
			row = append(row, cell)
		}
		rows = append(rows, row)
	}
	b.WriteString(MDTable(head, rows, right))
	b.WriteString("\nRequests/s is the requests completed divided by the `-duration` window. Errors against models that serve W connections at a time (" + boundedText(rep) + ") are connect timeouts, about concurrency − W − the listen backlog (`net.core.somaxconn`, 4,096 here): the accepted-but-not-served connections fill the accept queue, the kernel drops further SYNs, and a client whose retried SYN is not taken within the 2 s connect deadline fails. Designs that accept at once (" + unboundedText(rep) + ") never fill the queue.\n")
	b.WriteString("\n## Long-lived connections: memory per connection and CPU per round trip\n\n")
	b.WriteString("All connections open and idle (`-hold 1s`; the server's SIGUSR1 report is taken then), then 64-byte closed-loop round trips for 1 s. Memory per connection: resident growth (PSS summed over processes for multi-process models) from the idle server, and from the server's start, before it created any worker; the second includes the threads or processes a pre-creating model sized with `-w N` keeps ready. Kernel stack: threads added from idle to hold, and all the server's threads (including pre-created workers), × the kernel stack per thread. CPU per round trip: server CPU from the hold report to exit over the round trips.\n\n")
	head = []string{"server", "server flags", "connections", "status", "errors", "KiB/conn from idle", "KiB/conn from start", "kernel stack KiB/conn from idle", "all kernel stacks KiB/conn", "CPU µs/round trip", "round trips/s"}
	right = []bool{false, false, true, false, true, true, true, true, true, true, true}
	rows = nil
	for _, l := range rep.LongLived {
		st := l.Status
		if l.Note != "" {
			st += " (" + l.Note + ")"
		}
		rows = append(rows, []string{l.Label, "`" + strings.Join(l.Args, " ") + "`", results.Thousands(l.Conns), st, FmtInt(l.Errors),
			l.KiBPerConnIdle.String(), l.KiBPerConnStart.String(), l.KStackPerConn.String(), l.KStackAllPerC.String(), l.CPUPerRTus.String(), FmtInt(l.RoundTripsPerS)})
	}
	b.WriteString(MDTable(head, rows, right))
	if v := rep.Interference["median"]; v.Set {
		fmt.Fprintf(&b, "\n**Interference.** Other processes used a median %.0f%% (worst run %.0f%%) of the machine's CPU while the runs were live.\n", v.V, rep.Interference["worst_run"].V)
	}
	if len(rep.Notes) > 0 {
		b.WriteString("\nNotes:\n\n")
		for _, n := range rep.Notes {
			b.WriteString("- " + n + "\n")
		}
	}
	return b.String()
}

// boundedText names the bounded models that ran with their W (their
// default -w, or 1): "iterative 1, prethread and pool 64".
func boundedText(rep ModelsReport) string {
	var order []int
	names := map[int][]string{}
	for _, s := range rep.Servers {
		m, ok := rep.ModelList.Get(s.Model)
		if !ok || !m.Bounded {
			continue
		}
		w := max(1, m.DefaultWorkers)
		if names[w] == nil {
			order = append(order, w)
		}
		names[w] = append(names[w], s.Model)
	}
	var parts []string
	for _, w := range order {
		parts = append(parts, joinWith(names[w], " and ")+" "+results.Thousands(w))
	}
	return strings.Join(parts, ", ")
}

// unboundedText names the servers that ran which accept every connection
// at once.
func unboundedText(rep ModelsReport) string {
	var names []string
	for _, s := range rep.Servers {
		if m, ok := rep.ModelList.Get(s.Model); !ok || !m.Bounded {
			if s.Key == goRefKey {
				names = append(names, "Go")
			} else {
				names = append(names, s.Model)
			}
		}
	}
	return strings.Join(names, ", ")
}

// joinWith joins with ", " and last before the final element.
func joinWith(xs []string, last string) string {
	if len(xs) < 2 {
		return strings.Join(xs, "")
	}
	return strings.Join(xs[:len(xs)-1], ", ") + last + xs[len(xs)-1]
}
