package report

import (
	"fmt"
	"strconv"
	"strings"

	"tenkthreads/internal/runner/results"
)

// C1MSchema names the layout of c1m.json (cmd/experiment/SCHEMAS.md).
const C1MSchema = "10kthreads-c1m/1"

// C1MRow is one (server, connections) run of make c1m.
type C1MRow struct {
	Server       string      `json:"server"`
	Label        string      `json:"label"`
	Conns        int         `json:"conns"`
	ServerProcs  int         `json:"server_procs"`
	ClientProcs  int         `json:"client_procs"`
	Status       string      `json:"status"`
	Errors       results.Num `json:"errors"`
	Established  results.Num `json:"established"`
	Verified     results.Num `json:"verified"`
	ConnectAllS  results.Num `json:"connect_all_s"`
	ConnectsPerS results.Num `json:"connects_per_s"`
	// StopS is the server's exit time after SIGINT with every connection
	// still open.
	StopS results.Num `json:"server_exit_s"`
	// MachineKiBPerConn is the server's parts per connection, summed (as
	// machine KiB/conn is everywhere); ServerParts are those parts,
	// ClientKiBPerConn the client's whole, and BothEndsKiBPerConn the two
	// together: what a connection costs this machine with the load
	// generated on it.
	MachineKiBPerConn  results.Num   `json:"machine_kib_per_conn"`
	ServerParts        results.Costs `json:"server_parts_kib_per_conn"`
	ClientKiBPerConn   results.Num   `json:"client_kib_per_conn"`
	BothEndsKiBPerConn results.Num   `json:"both_ends_kib_per_conn"`
	// AvailDropKiBPerConn is MemAvailable's drop from the idle server to
	// the hold, per connection: the machine's own account.
	AvailDropKiBPerConn results.Num `json:"mem_available_drop_kib_per_conn"`
	Note                string      `json:"note,omitempty"`
}

// C1MModel is what make c1m asked of one server, how far it went, and
// what stopped it there ("" when it held its goal).
type C1MModel struct {
	Server  string `json:"server"`
	Label   string `json:"label"`
	Goal    int    `json:"goal"`
	Held    int    `json:"held"`
	Stopped string `json:"stopped"`
}

// C1MReport is c1m.json.
type C1MReport struct {
	Header
	WallS         float64                `json:"wall_s"`
	Preconditions []results.Precond      `json:"preconditions"`
	Tuned         []results.SysctlChange `json:"tuned"`
	Rows          []C1MRow               `json:"rows"`
	Models        []C1MModel             `json:"models"`
	Targets       []BenchTarget          `json:"targets"`
	Notes         []string               `json:"notes"`
	Environment   [][2]string            `json:"environment"`
	// Input is what the targets were judged against, kept so that
	// -report rebuilds the rows and targets from the runs.
	Input C1MInput `json:"input"`
}

// C1MInput is what the run planned and found as it went: each model's
// goal and what stopped it, the reference count, the thread model's key
// and the least it must hold.
type C1MInput struct {
	Models      []C1MModel `json:"-"`
	RefCount    int        `json:"ref_count"`
	ThreadKey   string     `json:"thread_server"`
	ThreadFloor int        `json:"thread_floor"`
}

// C1MWallLimitS is how long the whole make c1m may take.
const C1MWallLimitS = 15 * 60

// BuildC1M summarises a c1m run: a row per run, each model's reach, and
// the targets.
func BuildC1M(res *results.Results, in C1MInput, wallS float64) C1MReport {
	m := res.Meta
	rep := C1MReport{Header: header(C1MSchema, m), WallS: wallS, Preconditions: m.Preconditions, Tuned: m.Tuned,
		Notes: m.Notes, Environment: m.Env, Rows: []C1MRow{}, Models: in.Models, Targets: []BenchTarget{}, Input: in}
	if rep.Tuned == nil {
		rep.Tuned = []results.SysctlChange{}
	}
	if rep.Models == nil {
		rep.Models = []C1MModel{}
	}
	for _, c := range res.Cells {
		rep.Rows = append(rep.Rows, c1mRow(c))
	}
	for _, md := range rep.Models {
		rep.Targets = append(rep.Targets, c1mTargets(rep, md, in)...)
	}
	ok := wallS <= C1MWallLimitS
	rep.Targets = append(rep.Targets, BenchTarget{Key: "wall", Target: "the whole make c1m within 15 minutes", Unit: "s",
		Value: results.N(wallS), Met: &ok, Measured: fmt.Sprintf("%.0f s", wallS)})
	return rep
}

func c1mRow(c *results.Cell) C1MRow {
	row := C1MRow{Server: c.Server, Label: c.Label, Conns: c.Conns, Status: c.Status(),
		Errors: c.Stat(results.Errors).Med, Established: c.Stat(results.Established).Med, Verified: c.Stat(results.Verified).Med,
		ConnectAllS: c.Stat(results.ConnectAllS).Med, ConnectsPerS: c.Stat(results.RampConnsPerS).Med,
		ServerParts: c.MachinePerConn(), ClientKiBPerConn: c.Stat(results.ClientMachineKiBPerConn).Med}
	row.MachineKiBPerConn = row.ServerParts.Sum()
	if s, cl := row.MachineKiBPerConn, row.ClientKiBPerConn; s.Set && cl.Set {
		row.BothEndsKiBPerConn = results.N(s.V + cl.V)
	}
	if d := c.Stat(results.MemAvailableDropKiB).Med; d.Set && c.Conns > 0 {
		row.AvailDropKiBPerConn = results.N(d.V / float64(c.Conns))
	}
	for _, r := range c.Runs {
		row.ServerProcs, row.ClientProcs = max(row.ServerProcs, r.ServerProcs), max(row.ClientProcs, r.ClientProcs)
		if r.StopS.Set {
			row.StopS = r.StopS
		}
		switch {
		case r.Status != results.StatusOK && r.Detail != "":
			row.Note = r.Detail
		case r.Machine != nil && r.Attribution == nil && r.Machine.Detail != "":
			row.Note = "machine record: " + r.Machine.Detail
		case r.Probe != nil && r.Probe.Detail != "":
			row.Note = r.Probe.Detail
		}
	}
	return row
}

func c1mFind(rows []C1MRow, server string, n int) *C1MRow {
	for i := range rows {
		if rows[i].Server == server && rows[i].Conns == n {
			return &rows[i]
		}
	}
	return nil
}

// c1mTargets judges one model: its goal held (the thread model: at least
// its floor), memory per connection at its largest held count within 5%
// of the reference count's, and (thread model) its exit with every
// connection open within 60 s.
func c1mTargets(rep C1MReport, md C1MModel, in C1MInput) []BenchTarget {
	yes := func(b bool) *bool { return &b }
	thread := md.Server == in.ThreadKey
	held := BenchTarget{Key: "held_" + md.Server, Unit: "conns", Value: results.N(float64(md.Held)),
		Target: fmt.Sprintf("%s: %s connections, every echo verified, 0 errors", md.Label, results.Thousands(md.Goal))}
	ok := md.Held >= md.Goal
	if thread {
		held.Target = fmt.Sprintf("%s: at least %s connections with a thread each, every echo verified, 0 errors", md.Label, results.Thousands(in.ThreadFloor))
		ok = md.Held >= in.ThreadFloor
	}
	held.Met, held.Measured = yes(ok), fmt.Sprintf("%s held and verified", results.Thousands(md.Held))
	if md.Stopped != "" {
		held.Measured += "; stopped: " + md.Stopped
	}
	out := []BenchTarget{held}
	lin := BenchTarget{Key: "linear_" + md.Server, Unit: "ratio",
		Target: fmt.Sprintf("%s: machine KiB per connection, server and client ends together, at its largest count within 5%% of the figure at %s", md.Label, results.Thousands(in.RefCount))}
	base, top := c1mFind(rep.Rows, md.Server, in.RefCount), c1mFind(rep.Rows, md.Server, md.Held)
	if base != nil && top != nil && top != base && base.BothEndsKiBPerConn.Set && top.BothEndsKiBPerConn.Set && base.BothEndsKiBPerConn.V > 0 {
		r := top.BothEndsKiBPerConn.V / base.BothEndsKiBPerConn.V
		lin.Value, lin.Met = results.N(r), yes(r >= 0.95 && r <= 1.05)
		lin.Measured = fmt.Sprintf("%s KiB at %s vs %s KiB at %s = %.3f× (server alone: %s vs %s KiB)", top.BothEndsKiBPerConn, results.Thousands(top.Conns),
			base.BothEndsKiBPerConn, results.Thousands(base.Conns), r, top.MachineKiBPerConn, base.MachineKiBPerConn)
	} else {
		lin.Measured = "not measured: no machine figure at both counts"
	}
	out = append(out, lin)
	if thread {
		ex := BenchTarget{Key: "exit_" + md.Server, Unit: "s",
			Target: fmt.Sprintf("%s: the server prints its report and exits within 60 s of SIGINT with every connection open", md.Label)}
		if top != nil && top.StopS.Set {
			ex.Value, ex.Met = top.StopS, yes(top.StopS.V <= 60 && top.Status != results.StatusHung)
			ex.Measured = fmt.Sprintf("%s s at %s connections", top.StopS, results.Thousands(top.Conns))
		} else {
			ex.Measured = "not measured"
		}
		out = append(out, ex)
	}
	return out
}

// C1MText is the terminal (and c1m.txt) tables.
func C1MText(rep C1MReport) string {
	var b strings.Builder
	head := []string{"server", "conns", "-P", "client procs", "status", "errors", "established / verified", "connect all s", "conn/s", "server exit s",
		"machine KiB/conn", "user", "kstack", "thread objects", "socket", "page tables", "client KiB/conn", "both ends KiB/conn", "MemAvailable drop KiB/conn"}
	right := []bool{false, true, true, true, false, true, true, true, true, true, true, true, true, true, true, true, true, true, true}
	var rows [][]string
	for _, r := range rep.Rows {
		p := r.ServerParts
		rows = append(rows, []string{r.Label, results.Thousands(r.Conns), strconv.Itoa(r.ServerProcs), strconv.Itoa(r.ClientProcs), r.Status,
			FmtInt(r.Errors), FmtInt(r.Established) + " / " + FmtInt(r.Verified), r.ConnectAllS.String(), FmtInt(r.ConnectsPerS), r.StopS.String(),
			r.MachineKiBPerConn.String(), p.User.String(), p.KStack.String(), p.ThreadObjects.String(), p.Sockets.String(), p.PageTables.String(),
			r.ClientKiBPerConn.String(), r.BothEndsKiBPerConn.String(), r.AvailDropKiBPerConn.String()})
	}
	b.WriteString(Table(head, rows, right))
	for _, r := range rep.Rows {
		if r.Note != "" {
			fmt.Fprintf(&b, "! %s %s: %s\n", r.Label, results.Thousands(r.Conns), r.Note)
		}
	}
	b.WriteString("\n")
	var mrows [][]string
	for _, m := range rep.Models {
		stop := m.Stopped
		if stop == "" {
			stop = "held its goal"
		}
		mrows = append(mrows, []string{m.Label, results.Thousands(m.Goal), results.Thousands(m.Held), stop})
	}
	b.WriteString(Table([]string{"server", "goal", "held and verified", "what stopped it"}, mrows, []bool{false, true, true, false}))
	b.WriteString("\n")
	b.WriteString(TargetsText("target (c1m)", rep.Targets))
	b.WriteString("\nMachine KiB/conn: the sum of the server's parts (user space, kernel stack, thread objects, socket, page tables), per connection, as everywhere in the kit; client KiB/conn: every part of the client; both ends: the two together, what a connection costs this machine with its load generated here. All taken while the client held every connection after verifying its echo; MemAvailable drop: the machine's own account of both ends, from the idle server. Server exit: SIGINT to exit with every connection still open.\n")
	if len(rep.Tuned) > 0 {
		fmt.Fprintf(&b, "Tuned for the run and restored afterwards: %s.\n", ChangesText(rep.Tuned))
	}
	return b.String()
}
