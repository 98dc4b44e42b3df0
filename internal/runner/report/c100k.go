package report

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"tenkthreads/internal/runner/results"
)

// C100KSchema names the layout of c100k.json (cmd/experiment/SCHEMAS.md).
const C100KSchema = "10kthreads-c100k/1"

// PrecondTable renders the checks for the terminal.
func PrecondTable(ps []results.Precond) string {
	var rows [][]string
	for _, p := range ps {
		rows = append(rows, []string{p.Item, p.Have, p.Need, precondStatus(p)})
	}
	return Table([]string{"precondition", "this machine", "needed", "status"}, rows, []bool{false, false, false, false})
}

// precondStatus is a check's verdict: ok, or short and how to fix it.
func precondStatus(p results.Precond) string {
	if p.OK {
		return "ok"
	}
	return "SHORT: " + p.Fix
}

// C100KRow is one (server, connections) row of the c100k table.
type C100KRow struct {
	Server         string      `json:"server"`
	Label          string      `json:"label"`
	Conns          int         `json:"conns"`
	ServerProcs    int         `json:"server_procs"`
	ClientProcs    int         `json:"client_procs"`
	Status         string      `json:"status"`
	Errors         results.Num `json:"errors"`
	Established    results.Num `json:"established"`
	Verified       results.Num `json:"verified"`
	ServerHeld     results.Num `json:"server_held"` // at the hold report
	ConnectAllS    results.Num `json:"connect_all_s"`
	RampPerS       results.Num `json:"ramp_conns_per_s"`
	ListenDrops    results.Num `json:"listen_drops"`
	UserKiBPerConn results.Num `json:"user_kib_per_conn"`
	KStackPerConn  results.Num `json:"kstack_kib_per_conn"`
	TotalPerConn   results.Num `json:"total_kib_per_conn"`
	ServerCPUS     results.Num `json:"server_cpu_s"`
	ClientCPUS     results.Num `json:"client_cpu_s"`
	OtherCPUPct    results.Num `json:"other_cpu_pct"`
	// ClientUserKiBPerConn is the client's anonymous resident memory at
	// the hold over the connections: its user memory per idle
	// connection, an upper bound on its growth (it includes each
	// process's runtime).
	ClientUserKiBPerConn results.Num `json:"client_user_kib_per_conn"`
	Note                 string      `json:"note,omitempty"`
}

// C100KReport is c100k.json.
type C100KReport struct {
	Header
	WallS         float64                `json:"wall_s"`
	Preconditions []results.Precond      `json:"preconditions"`
	Tuned         []results.SysctlChange `json:"tuned"`
	Rows          []C100KRow             `json:"rows"`
	Targets       []BenchTarget          `json:"targets"`
	Notes         []string               `json:"notes"`
	Environment   [][2]string            `json:"environment"`
	KStackPerThr  results.Num            `json:"kstack_per_thread_kib"`
	Interference  map[string]results.Num `json:"interference_pct"`
	Skipped       []C100KSkipped         `json:"skipped"`
}

// C100KSkipped is a cell the build cannot run.
type C100KSkipped struct {
	Server string `json:"server"`
	Conns  int    `json:"conns"`
	Why    string `json:"why"`
}

// ChangesText lists sysctl changes for people.
func ChangesText(cs []results.SysctlChange) string {
	var f []string
	for _, c := range cs {
		f = append(f, fmt.Sprintf("%s (%s → %s)", c.Name, c.Old, c.New))
	}
	return strings.Join(f, ", ")
}

// WallTarget judges the whole run's time.
func WallTarget(wall float64) BenchTarget {
	ok := wall < 300
	return BenchTarget{Key: "wall", Target: "the whole make c100k under 5 minutes", Value: results.N(wall), Unit: "s", Met: &ok,
		Measured: fmt.Sprintf("%.0f s (including the kernel-stack calibration)", wall)}
}

// C100KInput is what a c100k run planned, for its summary: the larger
// counts it skipped, the thread model's reference count for memory per
// connection (0: none) and the counts the targets judge.
type C100KInput struct {
	Skipped  []C100KSkipped
	RefCount int
	Judged   []int
}

// BuildC100K summarises a c100k run: its rows, with the processes each
// run had, the preconditions and tuning from meta.json, and the targets,
// which judge the thread model at each count of in.Judged (the first
// also against in.RefCount for memory).
func BuildC100K(res *results.Results, in C100KInput) C100KReport {
	m := res.Meta
	rep := C100KReport{Header: header(C100KSchema, m),
		Preconditions: m.Preconditions, Tuned: m.Tuned, Notes: m.Notes, Environment: m.Env, KStackPerThr: m.KStackPerThreadKiB,
		Rows: []C100KRow{}, Targets: []BenchTarget{}, Skipped: in.Skipped, Interference: map[string]results.Num{}}
	if rep.Tuned == nil {
		rep.Tuned = []results.SysctlChange{}
	}
	if rep.Skipped == nil {
		rep.Skipped = []C100KSkipped{}
	}
	med, worst := results.InterferenceSummary(res.Runs)
	rep.Interference["median"], rep.Interference["worst_run"] = med, worst
	for _, c := range res.Cells {
		rep.Rows = append(rep.Rows, c100kRow(c))
	}
	for i, n := range in.Judged {
		rep.Targets = append(rep.Targets, c100kTargets(rep, n, i > 0)...)
	}
	if in.RefCount > 0 && len(in.Judged) > 0 {
		rep.Targets = append(rep.Targets, linearTarget(rep, in.RefCount, in.Judged[0]))
	}
	if t, ok := uringHeld(rep.Rows); ok {
		rep.Targets = append(rep.Targets, t)
	}
	if len(in.Judged) > 0 {
		rep.Targets = append(rep.Targets, clientTargets(rep.Rows, in.Judged[0])...)
	}
	return rep
}

// c100kRow is a cell's row, with the processes its runs had (the most,
// should they differ).
func c100kRow(c *results.Cell) C100KRow {
	srvP, cliP := 0, 0
	for _, r := range c.Runs {
		srvP, cliP = max(srvP, r.ServerProcs), max(cliP, r.ClientProcs)
	}
	row := C100KRow{Server: c.Server, Label: c.Label, Conns: c.Conns, ServerProcs: srvP, ClientProcs: cliP,
		Status: c.Status(), Errors: c.Stat(results.Errors).Med, Established: c.Stat(results.Established).Med, Verified: c.Stat(results.Verified).Med,
		ServerHeld: c.Stat(results.HeldConns).Med, ConnectAllS: c.Stat(results.ConnectAllS).Med, RampPerS: c.Stat(results.RampConnsPerS).Med,
		ListenDrops:    c.Stat(results.ListenDrops).Med,
		UserKiBPerConn: c.Stat(results.HoldKiBPerConn).Med, KStackPerConn: c.Stat(results.HoldKStackKiBPerConn).Med,
		ServerCPUS: c.Stat(results.ServerCPUS).Med, ClientCPUS: c.Stat(results.ClientCPUS).Med, OtherCPUPct: c.Stat(results.OtherCPUPct).Med,
		ClientUserKiBPerConn: c.Stat(results.ClientUserKiBPerConn).Med}
	if row.UserKiBPerConn.Set && row.KStackPerConn.Set {
		row.TotalPerConn = results.N(row.UserKiBPerConn.V + row.KStackPerConn.V)
	}
	for _, r := range c.Runs {
		if r.M.ProbeLate {
			row.Note = "hold report late: " + r.Probe.Detail
		} else if r.Probe != nil && r.Probe.HoldJSON == "" && r.Probe.Detail != "" {
			row.Note = r.Probe.Detail
		}
	}
	return row
}

const threadKey = "10kthreads:thread"

func findRow(rep C100KReport, server string, n int) *C100KRow {
	for i := range rep.Rows {
		if rep.Rows[i].Server == server && rep.Rows[i].Conns == n {
			return &rep.Rows[i]
		}
	}
	return nil
}

// ConnectTargetS is how long the thread model may take to connect n:
// 8 s up to 100,000 connections, 20 s beyond.
func ConnectTargetS(n int) float64 {
	if n <= 100000 {
		return 8
	}
	return 20
}

// c100kTargets judges the thread model at n connections: all held and
// verified, and all connected in time; the keys of a larger count than
// the run always holds (stretch) end in the count. A count that was
// skipped is not measured, with why.
func c100kTargets(rep C100KReport, n int, stretch bool) []BenchTarget {
	yes := func(b bool) *bool { return &b }
	top := findRow(rep, threadKey, n)
	suffix := ""
	if stretch {
		suffix = fmt.Sprintf("_%d", n)
	}
	held := BenchTarget{Key: "held" + suffix, Target: fmt.Sprintf("thread model: %s connections, 0 errors, every connection verified", results.Thousands(n)), Unit: "conns"}
	limit := ConnectTargetS(n)
	conn := BenchTarget{Key: "connect_all" + suffix, Target: fmt.Sprintf("thread model: all %s connected within %g s", results.Thousands(n), limit), Unit: "s"}
	if top == nil {
		for _, s := range rep.Skipped {
			if s.Conns == n {
				held.Measured, conn.Measured = "not run: "+s.Why, "not run: "+s.Why
				break
			}
		}
		return []BenchTarget{held, conn}
	}
	held.Value = top.Verified
	held.Met = yes(top.Verified.Set && int(top.Verified.V) == n && top.Errors.Set && top.Errors.V == 0 && top.Status == results.StatusOK)
	held.Measured = fmt.Sprintf("%s verified of %s, %s errors, status %s (-P %d, client -procs %d)", FmtInt(top.Verified), results.Thousands(n), FmtInt(top.Errors), top.Status, top.ServerProcs, top.ClientProcs)
	if top.ConnectAllS.Set {
		conn.Value = top.ConnectAllS
		conn.Met = yes(top.ConnectAllS.V <= limit)
		conn.Measured = fmt.Sprintf("%s s (client connect-all, %s connections/s; %s listen-queue drops)", top.ConnectAllS, FmtInt(top.RampPerS), FmtInt(top.ListenDrops))
	}
	return []BenchTarget{held, conn}
}

// linearTarget compares memory per connection at n with refCount's.
func linearTarget(rep C100KReport, refCount, n int) BenchTarget {
	top, base := findRow(rep, threadKey, n), findRow(rep, threadKey, refCount)
	t := BenchTarget{Key: "linear_memory", Target: fmt.Sprintf("thread model: memory per connection at %s within 10%% of the figure at %s", results.Thousands(n), results.Thousands(refCount)), Unit: "ratio"}
	if top != nil && base != nil && top.TotalPerConn.Set && base.TotalPerConn.Set && base.TotalPerConn.V > 0 {
		r := top.TotalPerConn.V / base.TotalPerConn.V
		ok := r <= 1.10 && r >= 0.90
		t.Value, t.Met = results.N(r), &ok
		t.Measured = fmt.Sprintf("%s KiB at %s vs %s KiB at %s = %.2f× (user space %s vs %s KiB, kernel stack %s vs %s KiB)",
			top.TotalPerConn, results.Thousands(n), base.TotalPerConn, results.Thousands(refCount), r,
			top.UserKiBPerConn, base.UserKiBPerConn, top.KStackPerConn, base.KStackPerConn)
	}
	return t
}

// UringC100KCount is the one count make c100k runs the io_uring model at:
// 100,000 when it is among the counts, else the largest.
func UringC100KCount(counts []int) int {
	if slices.Contains(counts, 100000) {
		return 100000
	}
	return slices.Max(counts)
}

// uringHeld judges the io_uring model's run, if there was one: every
// connection held and verified, 0 errors, with as many processes (-P) as
// the fd limit needs.
func uringHeld(rows []C100KRow) (BenchTarget, bool) {
	i := slices.IndexFunc(rows, func(r C100KRow) bool { return r.Server == uringKey })
	if i < 0 {
		return BenchTarget{}, false
	}
	r := rows[i]
	ok := r.Verified.Set && int(r.Verified.V) == r.Conns && r.Errors.Set && r.Errors.V == 0 && r.Status == results.StatusOK
	return BenchTarget{Key: "uring_held", Unit: "conns", Value: r.Verified, Met: &ok,
		Target: fmt.Sprintf("uring model: %s connections, 0 errors, every connection verified", results.Thousands(r.Conns)),
		Measured: fmt.Sprintf("%s verified of %s, %s errors, status %s (-P %d, client -procs %d)",
			FmtInt(r.Verified), results.Thousands(r.Conns), FmtInt(r.Errors), r.Status, r.ServerProcs, r.ClientProcs)}, true
}

// Client targets: its user memory per idle connection, and its ramp.
const (
	ClientUserKiBTarget = 0.5
	ClientRampTarget    = 25000
)

// clientTargets judges the client at n connections: its user memory per
// idle connection (at the thread model's run, the largest anonymous
// memory of any at n) and its ramp (the fastest server's at n: the
// client's pace where no server holds it back).
func clientTargets(rows []C100KRow, n int) []BenchTarget {
	mem := BenchTarget{Key: "client_user_kib_per_conn", Unit: "KiB",
		Target:   fmt.Sprintf("client: user memory per idle connection at %s ≤ %g KiB", results.Thousands(n), ClientUserKiBTarget),
		Measured: "not measured"}
	ramp := BenchTarget{Key: "client_ramp", Unit: "conns/s",
		Target:   fmt.Sprintf("client: connects %s at ≥ %s connections/s", results.Thousands(n), results.Thousands(ClientRampTarget)),
		Measured: "not measured"}
	var worst, fast *C100KRow
	var rates []string
	for i := range rows {
		r := &rows[i]
		if r.Conns != n {
			continue
		}
		if r.ClientUserKiBPerConn.Set && (worst == nil || r.ClientUserKiBPerConn.V > worst.ClientUserKiBPerConn.V) {
			worst = r
		}
		if r.RampPerS.Set && r.Status == results.StatusOK {
			rates = append(rates, fmt.Sprintf("%s %s/s", r.Label, FmtInt(r.RampPerS)))
			if fast == nil || r.RampPerS.V > fast.RampPerS.V {
				fast = r
			}
		}
	}
	if worst != nil {
		ok := worst.ClientUserKiBPerConn.V <= ClientUserKiBTarget
		mem.Value, mem.Met = worst.ClientUserKiBPerConn, &ok
		mem.Measured = fmt.Sprintf("%s KiB (anonymous resident memory of the client's %d processes over %s connections, with %s; it includes each process's runtime)",
			worst.ClientUserKiBPerConn, worst.ClientProcs, results.Thousands(n), worst.Label)
	}
	if fast != nil {
		ok := fast.RampPerS.V >= ClientRampTarget
		ramp.Value, ramp.Met = fast.RampPerS, &ok
		ramp.Measured = fmt.Sprintf("%s connections/s with %s (%s)", FmtInt(fast.RampPerS), fast.Label, strings.Join(rates, ", "))
	}
	return []BenchTarget{mem, ramp}
}

// C100KText is the terminal (and c100k.txt) table.
func C100KText(rep C100KReport) string {
	var b strings.Builder
	head := []string{"server", "conns", "-P", "client procs", "status", "errors", "established / verified", "connect all s", "conn/s", "listen drops", "user KiB/conn", "kstack KiB/conn", "total KiB/conn", "server CPU s", "others' CPU %"}
	right := []bool{false, true, true, true, false, true, true, true, true, true, true, true, true, true, true}
	var rows [][]string
	for _, r := range rep.Rows {
		rows = append(rows, []string{r.Label, results.Thousands(r.Conns), strconv.Itoa(r.ServerProcs), strconv.Itoa(r.ClientProcs), r.Status,
			FmtInt(r.Errors), FmtInt(r.Established) + " / " + FmtInt(r.Verified), r.ConnectAllS.String(), FmtInt(r.RampPerS), FmtInt(r.ListenDrops),
			r.UserKiBPerConn.String(), r.KStackPerConn.String(), r.TotalPerConn.String(), r.ServerCPUS.String(), FmtInt(r.OtherCPUPct)})
	}
	for _, s := range rep.Skipped {
		rows = append(rows, []string{s.Server, results.Thousands(s.Conns), "–", "–", "not run", "–", "–", "–", "–", "–", "–", "–", "–", "–", "–"})
	}
	b.WriteString(Table(head, rows, right))
	var notes []string
	for _, r := range rep.Rows {
		if r.Note != "" {
			notes = append(notes, fmt.Sprintf("%s %s: %s", r.Label, results.Thousands(r.Conns), r.Note))
		}
	}
	for _, s := range rep.Skipped {
		n := fmt.Sprintf("%s connections not run: %s", results.Thousands(s.Conns), s.Why)
		if !slices.Contains(notes, n) {
			notes = append(notes, n)
		}
	}
	for _, n := range notes {
		b.WriteString("! " + n + "\n")
	}
	b.WriteString("\n")
	b.WriteString(TargetsText("target (c100k)", rep.Targets))
	fmt.Fprintf(&b, "\nMemory per connection: growth from the idle server to the hold, from SIGUSR1 reports (PSS summed over the processes with -P > 1, VmRSS otherwise), over the connections the server held; kernel stack: server threads added × %s KiB per thread (measured).\n", rep.KStackPerThr)
	if v := rep.Interference["median"]; v.Set {
		fmt.Fprintf(&b, "Interference: other processes used a median %.0f%% (worst run %.0f%%) of the machine's CPU during the runs.\n", v.V, rep.Interference["worst_run"].V)
	}
	if len(rep.Tuned) > 0 {
		fmt.Fprintf(&b, "Tuned for the run and restored afterwards: %s.\n", ChangesText(rep.Tuned))
	}
	return b.String()
}
