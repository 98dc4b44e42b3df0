package runner

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ModelsSchema names the layout of models.json (scripts/experiment/SCHEMAS.md).
const ModelsSchema = "10kthreads-models/1"

// modelOrder follows the seed articles: processes, then threads, then
// event loops; "prefork" is an alias of prefork-nolock and not run twice.
var modelOrder = []string{"iterative", "fork", "prefork-nolock", "prefork-lock", "prefork-pass", "thread", "prethread", "prethread-nolock", "pool", "epoll"}

// preCreating models take -w: for long-lived connections they get one
// worker per connection, since with fewer the rest would only wait.
var preCreating = map[string]bool{"prethread": true, "prethread-nolock": true, "pool": true,
	"prefork-nolock": true, "prefork-lock": true, "prefork-pass": true}

// ModelsCell is one connection-per-request cell.
type ModelsCell struct {
	Server       string `json:"server"`
	Label        string `json:"label"`
	Concurrency  int    `json:"concurrency"`
	Status       string `json:"status"`
	RequestsPerS Num    `json:"requests_per_s"`
	Requests     Num    `json:"requests"`
	Errors       Num    `json:"errors"`
	ConnectAllS  Num    `json:"connect_all_s"`
	P99us        Num    `json:"rtt_p99_us"`
	ServerCPUS   Num    `json:"server_cpu_s"`
	OtherCPUPct  Num    `json:"other_cpu_pct"`
}

// ModelsLong is one long-lived-connections row.
type ModelsLong struct {
	Server          string   `json:"server"`
	Label           string   `json:"label"`
	Conns           int      `json:"conns"`
	Args            []string `json:"server_args"`
	Status          string   `json:"status"`
	Errors          Num      `json:"errors"`
	KiBPerConnIdle  Num      `json:"kib_per_conn_from_idle"`
	KiBPerConnStart Num      `json:"kib_per_conn_from_start"`
	KStackPerConn   Num      `json:"kstack_kib_per_conn"`
	KStackAllPerC   Num      `json:"kstack_all_kib_per_conn"`
	CPUPerRTus      Num      `json:"cpu_us_per_rt"`
	RoundTripsPerS  Num      `json:"round_trips_per_s"`
	Note            string   `json:"note,omitempty"`
}

// ModelsReport is models.json.
type ModelsReport struct {
	Schema       string         `json:"schema"`
	Started      string         `json:"started"`
	Finished     string         `json:"finished"`
	Command      string         `json:"command"`
	DurationS    float64        `json:"duration_s"`
	Concurrency  []int          `json:"concurrency"`
	Servers      []ServerSpec   `json:"servers"`
	Reconnect    []ModelsCell   `json:"reconnect"`
	LongLived    []ModelsLong   `json:"long_lived"`
	Interference map[string]Num `json:"interference_pct"`
	Pinning      string         `json:"pinning"`
	Notes        []string       `json:"notes"`
	Environment  [][2]string    `json:"environment"`
}

func runModels(o Options, stdout, stderr io.Writer) int {
	fail := failer(stderr)
	thr, ref, cl, err := kitBinaries(o)
	if err != nil {
		return fail("%v", err)
	}
	ch := helpText(cl)
	for _, f := range []string{"reconnect", "duration", "hold", "size", "connect-timeout", "timeout", "dialers"} {
		if !hasFlagIn(ch, f) {
			return fail("bin/client has no -%s; -models needs -reconnect, -duration, -hold, -size, -connect-timeout, -timeout and -dialers", f)
		}
	}
	models, _ := serverModels(thr)
	conc := []int{20, 50, 100, 200, 500, 1000, 2000, 5000, 10000}
	dur, longN := 2*time.Second, 1000
	if o.Quick {
		conc, dur, longN = []int{20, 200, 2000}, 500*time.Millisecond, 100
	}
	if o.Concurrency != nil {
		conc = o.Concurrency
	}
	if o.countsSet {
		longN = o.Counts[len(o.Counts)-1]
	}
	if o.echoSet {
		dur = o.Echo
	}
	sys := readSystem()
	top := slices.Max(append([]int{longN}, conc...))
	problems, pnotes := checkSystem(sys, top, true)
	if len(problems) > 0 {
		fmt.Fprintf(stderr, "experiment: precondition failed, nothing was run:\n")
		for _, p := range problems {
			fmt.Fprintf(stderr, "  - %s\n", p)
		}
		return 1
	}
	var specs []ServerSpec
	for _, m := range modelOrder {
		if !slices.Contains(models, m) {
			continue
		}
		s := ServerSpec{Key: "10kthreads:" + m, Label: "10kthreads (" + m + ")", Model: m, Path: thr}
		if m != "thread" {
			s.Args = []string{"-M", m}
		}
		specs = append(specs, s)
	}
	specs = append(specs, ServerSpec{Key: "ref_async_server", Label: "ref_async_server (goroutine)", Model: "goroutine", Path: ref})
	if o.ServerOverride != nil {
		specs = o.ServerOverride
	}

	c, err := newCampaign(o, "models", sys, stderr)
	if err != nil {
		return fail("%v", err)
	}
	defer c.close()
	c.meta.Notes = append(c.meta.Notes, pnotes...)
	c.meta.Reps = 1
	c.meta.Counts = conc
	quiet := []string{}
	if hasFlagIn(ch, "quiet") {
		quiet = []string{"-quiet"}
	}
	// A collapsing model must not stall the run: every connect and round
	// trip has a 2 s deadline, all connects of the ramp are in flight at
	// once (so the ramp takes at most about one connect timeout), and the
	// cell is interrupted at its cap.
	const opTimeout = 2 * time.Second
	capOf := func() time.Duration { return 2*opTimeout + dur + opTimeout + 6*time.Second }
	total := len(specs)*len(conc) + len(specs)
	k := 0
	prog := func() string { k++; return fmt.Sprintf("models %d/%d", k, total) }
	fmt.Fprintf(stderr, "experiment: models: %d servers × concurrency %v, connection per request for %s each, then long-lived at %d; writing %s\n",
		len(specs), conc, dur, longN, c.dir)
	for _, n := range conc {
		for _, s := range specs {
			args := append([]string{"-reconnect", "-duration", dur.String(), "-size", "64",
				"-connect-timeout", opTimeout.String(), "-timeout", opTimeout.String(), "-dialers", strconv.Itoa(n)}, quiet...)
			c.run(runSpec{spec: s, workload: "reconnect", n: n, rep: 1, clientArgs: args, timeout: capOf()}, prog())
		}
	}
	longHold, longDur := time.Second, time.Second
	if o.holdSet {
		longHold = o.Hold
	}
	if o.echoSet {
		longDur = o.Echo
	}
	longArgs := append([]string{"-hold", longHold.String(), "-duration", longDur.String(), "-size", "64"}, quiet...)
	longSpecs := map[string]ServerSpec{}
	for _, s := range specs {
		n := longN
		ls := s
		ls.Args = append([]string{}, s.Args...)
		switch {
		case s.Model == "iterative":
			n = 1
		case preCreating[s.Model]:
			ls.Args = append(ls.Args, "-w", strconv.Itoa(n))
		}
		longSpecs[s.Key] = ls
		c.run(runSpec{spec: ls, workload: "echo", n: n, rep: 1, clientArgs: longArgs, probe: true,
			timeout: time.Duration((30 + float64(n)/500) * float64(time.Second))}, prog())
	}
	c.meta.Workloads["echo"] = fmt.Sprintf("long-lived: `%s` (%s connections; pre-creating models with -w %d; iterative with 1)", joinArgs(longArgs), thousands(longN), longN)
	res, err := c.finish()
	if err != nil {
		return fail("%v", err)
	}
	if err := WriteCSV(filepath.Join(c.dir, "results.csv"), res.Cells); err != nil {
		return fail("%v", err)
	}
	rep := buildModels(res, specs, longSpecs, conc, dur)
	if err := writeJSON(filepath.Join(c.dir, "models.json"), rep); err != nil {
		return fail("%v", err)
	}
	md := ModelsMarkdown(rep)
	if err := os.WriteFile(filepath.Join(c.dir, "models.md"), []byte(md), 0o644); err != nil {
		return fail("%v", err)
	}
	fmt.Fprint(stdout, md)
	fmt.Fprintf(stdout, "\nfinished in %s; %s\n", fmtDuration(time.Since(c.started)), filepath.Join(c.dir, "models.md"))
	if c.stop.Load() {
		return 130
	}
	return 0
}

func buildModels(res *Results, specs []ServerSpec, longSpecs map[string]ServerSpec, conc []int, dur time.Duration) ModelsReport {
	m := res.Meta
	rep := ModelsReport{Schema: ModelsSchema, Started: m.Started, Finished: m.Finished, Command: m.Command, DurationS: dur.Seconds(),
		Concurrency: conc, Servers: specs, Reconnect: []ModelsCell{}, LongLived: []ModelsLong{}, Pinning: m.Pinning,
		Notes: m.Notes, Environment: m.Env, Interference: map[string]Num{}}
	med, worst, _ := interferenceSummary(res.Runs)
	rep.Interference["median"], rep.Interference["worst_run"] = med, worst
	for _, n := range conc {
		for _, s := range specs {
			c := findCell(res.Cells, s.Key, "reconnect", n)
			if c == nil {
				continue
			}
			// Requests over the -duration window, not over the client's
			// steady phase: against a model that serves fewer connections
			// than the client has, the client's last connections wait out
			// their timeout after the window (see the note in models.md),
			// which would stretch the steady phase and deflate the rate.
			rps := Num{}
			if rt := c.stat("round_trips").Med; rt.Set && dur > 0 {
				rps = num(rt.V / dur.Seconds())
			}
			rep.Reconnect = append(rep.Reconnect, ModelsCell{Server: s.Key, Label: s.Label, Concurrency: n, Status: c.Status(),
				RequestsPerS: rps, Requests: c.stat("round_trips").Med, Errors: c.stat("errors").Med,
				ConnectAllS: c.stat("connect_all_s").Med, P99us: c.stat("rtt_p99_us").Med, ServerCPUS: c.stat("server_cpu_s").Med,
				OtherCPUPct: c.stat("other_cpu_pct").Med})
		}
	}
	for _, s := range specs {
		for _, c := range res.Cells {
			if c.Server != s.Key || c.Workload != "echo" {
				continue
			}
			l := ModelsLong{Server: s.Key, Label: s.Label, Conns: c.Conns, Args: longSpecs[s.Key].Args, Status: c.Status(),
				Errors: c.stat("errors").Med, KiBPerConnIdle: c.stat("hold_kib_per_conn").Med,
				KiBPerConnStart: c.stat("hold_kib_per_conn_from_start").Med, KStackPerConn: c.stat("hold_kstack_kib_per_conn").Med,
				KStackAllPerC: c.stat("hold_kstack_all_kib_per_conn").Med, CPUPerRTus: c.stat("hold_cpu_us_per_rt").Med, RoundTripsPerS: c.stat("round_trips_per_s").Med}
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
func shortName(s ServerSpec) string {
	if s.Key == "ref_async_server" {
		return "Go ref"
	}
	return s.Model
}

func rpsCell(c ModelsCell) string {
	if !c.RequestsPerS.Set {
		return c.Status
	}
	v := thousands(int(c.RequestsPerS.V + 0.5))
	if c.Errors.Set && c.Errors.V > 0 {
		v += fmt.Sprintf(" (%s err)", thousands(int(c.Errors.V)))
	}
	if c.Status != StatusOK && c.Status != StatusErrors {
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
		row := []string{thousands(n)}
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
	b.WriteString(mdTable(head, rows, right))
	b.WriteString("\nRequests/s is the requests completed divided by the `-duration` window. Errors against models that serve W connections at a time (iterative 1, prefork 16, prethread and pool 64) are connect timeouts, about concurrency − W − the listen backlog (`net.core.somaxconn`, 4,096 here): the accepted-but-not-served connections fill the accept queue, the kernel drops further SYNs, and a client whose retried SYN is not taken within the 2 s connect deadline fails. Designs that accept at once (thread, fork, epoll, Go) never fill the queue.\n")
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
		rows = append(rows, []string{l.Label, "`" + strings.Join(l.Args, " ") + "`", thousands(l.Conns), st, fmtInt(l.Errors),
			l.KiBPerConnIdle.String(), l.KiBPerConnStart.String(), l.KStackPerConn.String(), l.KStackAllPerC.String(), l.CPUPerRTus.String(), fmtInt(l.RoundTripsPerS)})
	}
	b.WriteString(mdTable(head, rows, right))
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

// rebuildModels rewrites models.json and models.md of a models directory
// from its raw data (bin/experiment -report DIR).
func rebuildModels(dir string, stdout, stderr io.Writer) int {
	var old ModelsReport
	b, err := os.ReadFile(filepath.Join(dir, "models.json"))
	if err == nil {
		err = json.Unmarshal(b, &old)
	}
	if err != nil {
		fmt.Fprintf(stderr, "experiment: %s: %v\n", filepath.Join(dir, "models.json"), err)
		return 1
	}
	res, err := LoadResults(dir)
	if err != nil {
		fmt.Fprintf(stderr, "experiment: %v\n", err)
		return 1
	}
	long := map[string]ServerSpec{}
	for _, l := range old.LongLived {
		long[l.Server] = ServerSpec{Key: l.Server, Args: l.Args}
	}
	rep := buildModels(res, old.Servers, long, old.Concurrency, time.Duration(old.DurationS*float64(time.Second)))
	if err := writeJSON(filepath.Join(dir, "models.json"), rep); err != nil {
		fmt.Fprintf(stderr, "experiment: %v\n", err)
		return 1
	}
	md := ModelsMarkdown(rep)
	if err := os.WriteFile(filepath.Join(dir, "models.md"), []byte(md), 0o644); err != nil {
		fmt.Fprintf(stderr, "experiment: %v\n", err)
		return 1
	}
	fmt.Fprint(stdout, md)
	return 0
}
