package report

import (
	"fmt"
	"strings"
	"time"

	"tenkthreads/internal/runner/plots"
	"tenkthreads/internal/runner/results"
	"tenkthreads/internal/srvreport"
)

// ModelsSchema names the layout of models.json (cmd/experiment/SCHEMAS.md).
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
	// PeakWaiting is the server's peak of requests in their -d wait: 0
	// under -d means the model did not wait.
	PeakWaiting results.Num `json:"peak_waiting"`
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
	// Machine memory per connection (results.csv's machine figures): the
	// parts, their sum, the slab growth they do not explain (not in the
	// sum) and the client's every part.
	MachineParts  results.Costs `json:"machine_parts_kib_per_conn"`
	MachinePerC   results.Num   `json:"machine_kib_per_conn"`
	OtherKernel   results.Num   `json:"other_kernel_kib_per_conn"`
	ClientMachine results.Num   `json:"client_machine_kib_per_conn"`
	Note          string        `json:"note,omitempty"`
	// MachineNote says why the machine figures were not derived.
	MachineNote string `json:"machine_note,omitempty"`
}

// ModelsReport is models.json.
type ModelsReport struct {
	Header
	DurationS float64 `json:"duration_s"`
	// RequestDelayUS is the -d every server ran the connection-per-request
	// cells with, in µs (0: none).
	RequestDelayUS int64                `json:"request_delay_us"`
	Concurrency    []int                `json:"concurrency"`
	Servers        []results.ServerSpec `json:"servers"`
	Reconnect      []ModelsCell         `json:"reconnect"`
	LongLived      []ModelsLong         `json:"long_lived"`
	// LongLivedWorkload is the long-lived runs' client flags and counts,
	// as meta.json's workloads give them.
	LongLivedWorkload string                 `json:"long_lived_workload"`
	Interference      map[string]results.Num `json:"interference_pct"`
	Pinning           string                 `json:"pinning"`
	Notes             []string               `json:"notes"`
	Environment       [][2]string            `json:"environment"`
	// ModelList is what bin/10kthreads -M list said about its models.
	ModelList srvreport.ModelList `json:"model_list"`
	// Calibration and KStackPerThr price the long-lived rows' machine
	// parts (meta.json's); nil in results from before the parts.
	Calibration  *results.Calibration `json:"machine_calibration"`
	KStackPerThr results.Num          `json:"kstack_per_thread_kib"`
}

// ModelsRun is how the connection-per-request cells ran: at which
// concurrencies, for how long each, with which -d.
type ModelsRun struct {
	Concurrency     []int
	Duration, Delay time.Duration
}

// BuildModels makes models.json: the reconnect cells for each server and
// concurrency, and the long-lived row of each server (longSpecs: the
// flags it ran with).
func BuildModels(res *results.Results, specs []results.ServerSpec, longSpecs map[string]results.ServerSpec, run ModelsRun, list srvreport.ModelList) ModelsReport {
	m := res.Meta
	conc, dur := run.Concurrency, run.Duration
	rep := ModelsReport{Header: header(ModelsSchema, m), DurationS: dur.Seconds(), RequestDelayUS: run.Delay.Microseconds(),
		Concurrency: conc, Servers: specs, Reconnect: []ModelsCell{}, LongLived: []ModelsLong{}, Pinning: m.Pinning,
		Notes: m.Notes, Environment: m.Env, Interference: map[string]results.Num{}, ModelList: list,
		Calibration: m.Calibration, KStackPerThr: m.KStackPerThreadKiB, LongLivedWorkload: m.Workloads["echo"]}
	med, worst := results.InterferenceSummary(res.Runs)
	rep.Interference["median"], rep.Interference["worst_run"] = med, worst
	for _, n := range conc {
		for _, s := range specs {
			c := results.FindCell(res.Cells, s.Key, "reconnect", n)
			if c == nil {
				continue
			}
			// The requests completed in the second half of -duration, over
			// it (the client's window figures): against a model that
			// serves fewer connections than the client has, the client's
			// last connections wait out their timeout after -duration,
			// which would stretch its steady phase; the echoes still in
			// flight at its end, as many as the concurrency, would inflate
			// a count of every request divided by -duration; and in the
			// first half the clients' first requests find their
			// connections made in the ramp.
			rps := c.Stat(results.WindowRoundTripsPerS).Med
			rep.Reconnect = append(rep.Reconnect, ModelsCell{Server: s.Key, Label: s.Label, Concurrency: n, Status: c.Status(),
				RequestsPerS: rps, Requests: c.Stat(results.RoundTrips).Med, Errors: c.Stat(results.Errors).Med,
				ConnectAllS: c.Stat(results.ConnectAllS).Med, P99us: c.Stat(results.RTTP99).Med, ServerCPUS: c.Stat(results.ServerCPUS).Med,
				OtherCPUPct: c.Stat(results.OtherCPUPct).Med, PeakWaiting: c.Stat(results.ServerMaxWaiting).Med})
		}
	}
	for _, s := range specs {
		for _, c := range res.Cells {
			if c.Server == s.Key && c.Workload == "echo" {
				rep.LongLived = append(rep.LongLived, longRow(c, s, longSpecs[s.Key].Args))
			}
		}
	}
	return rep
}

// longRow is the long-lived row of cell c, whose server ran with args.
func longRow(c *results.Cell, s results.ServerSpec, args []string) ModelsLong {
	l := ModelsLong{Server: s.Key, Label: s.Label, Conns: c.Conns, Args: args, Status: c.Status(),
		Errors: c.Stat(results.Errors).Med, KiBPerConnIdle: c.Stat(results.HoldKiBPerConn).Med,
		KiBPerConnStart: c.Stat(results.HoldKiBPerConnFromStart).Med, KStackPerConn: c.Stat(results.HoldKStackKiBPerConn).Med,
		KStackAllPerC: c.Stat(results.HoldKStackAllKiBPerConn).Med, CPUPerRTus: c.Stat(results.HoldCPUPerRT).Med, RoundTripsPerS: c.Stat(results.RoundTripsPerS).Med,
		MachineParts: c.MachinePerConn(), MachinePerC: c.Stat(results.MachineKiBPerConn).Med, OtherKernel: c.Stat(results.OtherKernelKiBPerConn).Med,
		ClientMachine: c.Stat(results.ClientMachineKiBPerConn).Med}
	if l.Args == nil {
		l.Args = []string{}
	}
	for _, r := range c.Runs {
		if r.M.ProbeLate || (r.Probe != nil && r.Probe.HoldJSON == "" && r.Probe.Detail != "") {
			l.Note = r.Probe.Detail
		}
		if r.Machine != nil && r.Attribution == nil {
			l.MachineNote = r.Machine.Detail
			if l.MachineNote == "" {
				l.MachineNote = "no peak snapshot"
			}
		}
	}
	return l
}

// shortName is a column header: the model without the binary's name.
func shortName(s results.ServerSpec) string {
	if s.Key == "ref_async_server" {
		return "Go ref"
	}
	return s.Model
}

// noWait says the server served requests under -d, yet none waited.
func noWait(c ModelsCell, delayUS int64) bool {
	return delayUS > 0 && c.PeakWaiting.Set && c.PeakWaiting.V == 0 && c.Requests.Set && c.Requests.V > 0
}

func rpsCell(c ModelsCell, delayUS int64) string {
	if !c.RequestsPerS.Set {
		return c.Status
	}
	v := results.Thousands(int(c.RequestsPerS.V + 0.5))
	if noWait(c, delayUS) {
		v += " †"
	}
	if c.Errors.Set && c.Errors.V > 0 {
		v += fmt.Sprintf(" (%s err)", results.Thousands(int(c.Errors.V)))
	}
	if c.Status != results.StatusOK && c.Status != results.StatusErrors {
		v += " " + c.Status
	}
	return v
}

// ModelsMarkdown is models.md: the requests/s table shaped like the
// pre-threaded article's (concurrency down, designs across) and its
// plot, then the long-lived costs.
func ModelsMarkdown(rep ModelsReport, fig plots.File) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Server models side by side — %s\n\n", rep.Started)
	modelsRequests(&b, rep, fig)
	modelsArticle(&b, rep)
	if len(rep.LongLived) > 0 {
		modelsLong(&b, rep)
		modelsMachine(&b, rep)
	}
	footer(&b, rep.Interference, rep.Notes, rep.Command)
	return b.String()
}

// footer ends a mode's Markdown: what other processes took, the notes,
// and the command that reproduces the run.
func footer(b *strings.Builder, interference map[string]results.Num, notes []string, command string) {
	if v := interference["median"]; v.Set {
		fmt.Fprintf(b, "\n**Interference.** Other processes used a median %.0f%% (worst run %.0f%%) of the machine's CPU while the runs were live.\n", v.V, interference["worst_run"].V)
	}
	if len(notes) > 0 {
		b.WriteString("\nNotes:\n\n")
		for _, n := range notes {
			b.WriteString("- " + n + "\n")
		}
	}
	fmt.Fprintf(b, "\nReproduce with `%s`.\n", command)
}

// delayText says what each request waited: "each request waits 10ms (-d 10ms)".
func delayText(us int64) string {
	if us == 0 {
		return "no request waits (no -d): each costs only its loopback echo"
	}
	return fmt.Sprintf("each request waits %s on the server before its echo (`-d %s`), like a call to a backend, without using CPU", DelayArg(us), DelayArg(us))
}

// DelayArg is a delay of us µs as the servers' -d takes it: a whole
// number of s, ms or us.
func DelayArg(us int64) string {
	switch {
	case us%1e6 == 0:
		return fmt.Sprintf("%ds", us/1e6)
	case us%1e3 == 0:
		return fmt.Sprintf("%dms", us/1e3)
	}
	return fmt.Sprintf("%dus", us)
}

// modelsRequests is the connection-per-request table and its plot.
func modelsRequests(b *strings.Builder, rep ModelsReport, fig plots.File) {
	fmt.Fprintf(b, "## Connection per request: requests/s\n\n")
	fmt.Fprintf(b, "Each request is a new TCP connection: connect, send 64 bytes, read the echo, close (`client -reconnect -duration %gs -warmup %gs -size 64`), with that many client connections in a closed loop; %s. Every connect and round trip has a 2 s deadline; \"(N err)\" counts connections that failed (a failed connection stops). One run per cell. Pinning: %s.\n\n", rep.DurationS, rep.DurationS/2, delayText(rep.RequestDelayUS), rep.Pinning)
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
			if c := findModelsCell(rep, s.Key, n); c != nil {
				cell = rpsCell(*c, rep.RequestDelayUS)
			}
			row = append(row, cell)
		}
		rows = append(rows, row)
	}
	b.WriteString(MDTable(head, rows, right))
	for _, c := range rep.Reconnect {
		if noWait(c, rep.RequestDelayUS) {
			b.WriteString("\n† The server reported no request in its `-d` wait (peak waiting 0): this model does not wait on `-d` in this build, so its requests cost only the echo.\n")
			break
		}
	}
	b.WriteString("\nRequests/s is the requests completed in the second half of `-duration`, divided by its length: the first half is left out because each client's first request finds its connection (and the server's thread or process for it) made before, while the clients connected. Errors against models that serve W connections at a time (" + boundedText(rep) + ") are mostly connect and echo timeouts: their accept queue (the listen backlog, `net.core.somaxconn`, 4,096 here) fills, the kernel drops further SYNs, and a client whose connect or echo does not come within its 2 s deadline fails. Designs that accept at once (" + unboundedText(rep) + ") never fill the queue.\n")
	if fig.Name != "" {
		fmt.Fprintf(b, "\n![%s](%s.svg)\n\n%s\n", "requests/s against concurrency", fig.Name, fig.Caption)
	}
}

// findModelsCell is the reconnect cell of server at concurrency n, or nil.
func findModelsCell(rep ModelsReport, server string, n int) *ModelsCell {
	for i, c := range rep.Reconnect {
		if c.Server == server && c.Concurrency == n {
			return &rep.Reconnect[i]
		}
	}
	return nil
}

// modelsLong is the long-lived connections' table.
func modelsLong(b *strings.Builder, rep ModelsReport) {
	b.WriteString("\n## Long-lived connections: memory per connection and CPU per round trip\n\n")
	b.WriteString("All connections open and idle for the client's `-hold` (the server's SIGUSR1 report is taken then), then 64-byte closed-loop round trips for its `-duration`, without `-d`; " + rep.LongLivedWorkload + ". Memory per connection: resident growth (PSS summed over processes for multi-process models) from the idle server, and from the server's start, before it created any worker; the second includes the threads or processes a pre-creating model sized with `-w N` keeps ready. Kernel stack: threads added from idle to hold, and all the server's threads (including pre-created workers), × the kernel stack per thread. CPU per round trip: server CPU from the hold report to exit over the round trips.\n\n")
	head := []string{"server", "server flags", "connections", "status", "errors", "KiB/conn from idle", "KiB/conn from start", "kernel stack KiB/conn from idle", "all kernel stacks KiB/conn", "CPU µs/round trip", "round trips/s"}
	right := []bool{false, false, true, false, true, true, true, true, true, true, true}
	var rows [][]string
	for _, l := range rep.LongLived {
		st := l.Status
		if l.Note != "" {
			st += " (" + l.Note + ")"
		}
		flags := "(none: the default)"
		if len(l.Args) > 0 {
			flags = "`" + strings.Join(l.Args, " ") + "`"
		}
		rows = append(rows, []string{l.Label, flags, results.Thousands(l.Conns), st, FmtInt(l.Errors),
			l.KiBPerConnIdle.String(), l.KiBPerConnStart.String(), l.KStackPerConn.String(), l.KStackAllPerC.String(), l.CPUPerRTus.String(), FmtInt(l.RoundTripsPerS)})
	}
	b.WriteString(MDTable(head, rows, right))
}

// ModelsFigure is requests/s against concurrency, one line per design.
func ModelsFigure(rep ModelsReport) plots.LineFigure {
	f := plots.LineFigure{Name: "models_rps", Title: "Connection per request: requests per second (" + delayTitle(rep.RequestDelayUS) + ")",
		XLabel: "concurrent clients", YLabel: "requests (connect, echo, close) per second", LogY: true,
		Caption: "Requests per second against the number of concurrent clients, one line per design, from the table above; " +
			"both axes logarithmic. A design that completed no request at a concurrency has no point there."}
	for _, s := range rep.Servers {
		l := plots.Line{Label: shortName(s)}
		for _, n := range rep.Concurrency {
			if c := findModelsCell(rep, s.Key, n); c != nil && c.RequestsPerS.Set {
				l.X, l.Y = append(l.X, float64(n)), append(l.Y, c.RequestsPerS.V)
			}
		}
		f.Lines = append(f.Lines, l)
	}
	return f
}

// delayTitle is the delay for a title: "-d 10ms" or "no -d".
func delayTitle(us int64) string {
	if us == 0 {
		return "no -d"
	}
	return "-d " + DelayArg(us)
}

// boundedText names the bounded models that ran with their W (their
// default -w, or 1, or the connections below a descriptor ceiling):
// "iterative 1, prethread and pool 64, select about 1,020".
func boundedText(rep ModelsReport) string {
	var order []string
	names := map[string][]string{}
	for _, s := range rep.Servers {
		m, ok := rep.ModelList.Get(s.Model)
		if !ok || !m.Bounded {
			continue
		}
		w := results.Thousands(max(1, m.DefaultWorkers))
		if m.FDCeiling > 0 {
			w = "about " + results.Thousands(m.FDCeiling-4) + " (descriptors below " + results.Thousands(m.FDCeiling) + ")"
		}
		if names[w] == nil {
			order = append(order, w)
		}
		names[w] = append(names[w], s.Model)
	}
	var parts []string
	for _, w := range order {
		parts = append(parts, joinWith(names[w], " and ")+" "+w)
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
