package report

import (
	"fmt"
	"strings"

	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/results"
)

// CeilingSchema names the layout of ceiling.json (cmd/experiment/SCHEMAS.md).
const CeilingSchema = "10kthreads-ceiling/1"

// What stopped a server's steps (CeilingServer.StoppedBy).
const (
	StopLimit       = "limit"
	StopFailure     = "failure"
	StopMargin      = "margin"
	StopStepMax     = "step max"
	StopBudget      = "budget"
	StopInterrupted = "interrupted"
)

// CeilingStep is one hold of a server's verification.
type CeilingStep struct {
	Conns int    `json:"conns"`
	Kind  string `json:"kind"` // "calibration" or "step"
	// Status is the run's; Held says every connection was verified with
	// no error.
	Status string `json:"status"`
	Held   bool   `json:"held"`
	// Failure is how a step that did not hold failed: its status, why,
	// and the client's errors by class.
	Failure  string      `json:"failure,omitempty"`
	Verified results.Num `json:"verified"`
	Errors   results.Num `json:"errors"`
	// MachineUsedKiB is how much MemAvailable fell from before the
	// server started to the hold: server, client and kernel together.
	MachineUsedKiB results.Num `json:"machine_used_kib"`
	ClientPSSKiB   results.Num `json:"client_pss_kib"`
	ServerUserKiB  results.Num `json:"server_user_kib_per_conn"`
	ServerKStack   results.Num `json:"server_kstack_kib_per_conn"`
	ConnectAllS    results.Num `json:"connect_all_s"`
	ListenDrops    results.Num `json:"listen_drops"`
	WallS          float64     `json:"wall_s"`
}

// CeilingServer is one server's prediction and verification.
type CeilingServer struct {
	Server string `json:"server"`
	Label  string `json:"label"`
	Model  string `json:"model"`
	// Cost is the measured cost per connection the prediction uses.
	Cost plan.ConnCost `json:"cost_kib_per_conn"`
	// Limits and Predicted are the machine as configured; TunedLimits and
	// PredictedTuned with the sysctls -tune raises at their largest.
	Limits         []plan.Limit `json:"limits"`
	TunedLimits    []plan.Limit `json:"tuned_limits"`
	Predicted      plan.Ceiling `json:"predicted"`
	PredictedTuned plan.Ceiling `json:"predicted_tuned"`
	// Cap is the most connections the verification would hold, and why.
	Cap    int64         `json:"cap"`
	CapWhy string        `json:"cap_why"`
	Steps  []CeilingStep `json:"steps"`
	// Held is the largest count held; Stopped why no larger step ran,
	// and StoppedBy its kind: the limit the prediction named (its
	// prediction held), a failure, the memory margin, the largest step
	// the runner takes, the -budget, or an interrupt.
	Held      int    `json:"held"`
	Stopped   string `json:"stopped"`
	StoppedBy string `json:"stopped_by"`
	// The line machine memory used = FixedKiB + KiBPerConn × connections
	// fitted over the held steps, and where it reaches MemAvailable.
	MachineKiBPerConn results.Num  `json:"machine_kib_per_conn"`
	MachineFixedKiB   results.Num  `json:"machine_fixed_kib"`
	Extrapolated      plan.Ceiling `json:"extrapolated"`
	WallS             float64      `json:"wall_s"`
}

// CeilingReport is ceiling.json.
type CeilingReport struct {
	Header
	WallS   float64 `json:"wall_s"`
	BudgetS float64 `json:"budget_s"`
	// MemAvailableKiB is the machine's at the start; no run was let use
	// more than MemCapShare of it.
	MemAvailableKiB float64                `json:"mem_available_kib"`
	MemCapShare     float64                `json:"mem_cap_share"`
	SafeFraction    float64                `json:"safe_fraction"`
	Tuned           []results.SysctlChange `json:"tuned"`
	// OOMKills is how many processes the kernel's OOM killer killed
	// during the run (machine-wide).
	OOMKills     results.Num     `json:"oom_kills"`
	Servers      []CeilingServer `json:"servers"`
	KStackPerThr results.Num     `json:"kstack_per_thread_kib"`
	Notes        []string        `json:"notes"`
	Environment  [][2]string     `json:"environment"`
}

// NewCeilingReport opens the report of a ceiling run.
func NewCeilingReport(m results.Meta) CeilingReport {
	return CeilingReport{Header: header(CeilingSchema, m), Tuned: []results.SysctlChange{}, Servers: []CeilingServer{},
		KStackPerThr: m.KStackPerThreadKiB, Notes: m.Notes, Environment: m.Env}
}

func fmtConns(n int64) string {
	if n >= 1<<62 {
		return "no bound"
	}
	return results.Thousands(int(n))
}

func ceilingCell(c plan.Ceiling) string {
	if c.Binding == "" {
		return "–"
	}
	return fmt.Sprintf("%s (%s)", fmtConns(c.Conns), c.Binding)
}

// CeilingText is the terminal (and ceiling.txt) summary: the cost of a
// connection by part and the prediction, then the verification.
func CeilingText(rep CeilingReport) string {
	var b strings.Builder
	b.WriteString("Cost of a connection, KiB: the server's parts, then the client's (every part).\n\n")
	b.WriteString(Table(append(costHead, "predicted ceiling (binding limit)", "with -tune (binding limit)"), costRows(rep, func(s CeilingServer) []string {
		return []string{ceilingCell(s.Predicted), ceilingCell(s.PredictedTuned)}
	}), []bool{false, true, true, true, true, true, true, true, false, false}))
	b.WriteString("\n")
	head := []string{"server", "held (connections, every echo verified)", "predicted", "largest held", "of predicted", "stopped by", "why", "MemAvailable used KiB/conn (fitted)", "extrapolated ceiling (binding limit)"}
	var rows [][]string
	for _, s := range rep.Servers {
		var held []string
		for _, st := range s.Steps {
			if st.Held {
				held = append(held, results.Thousands(st.Conns))
			}
		}
		share := "–"
		if p := ceilingFor(s, rep); p > 0 && s.Held > 0 {
			share = fmt.Sprintf("%.0f%%", 100*float64(s.Held)/float64(p))
		}
		pred := "–"
		if p := ceilingFor(s, rep); p > 0 {
			pred = fmtConns(p)
		}
		by := s.StoppedBy
		if by == "" {
			by = "–"
		}
		rows = append(rows, []string{s.Label, strings.Join(held, " "), pred, results.Thousands(s.Held), share, by, s.Stopped,
			s.MachineKiBPerConn.String(), ceilingCell(s.Extrapolated)})
	}
	b.WriteString(Table(head, rows, []bool{false, false, true, true, true, false, false, true, false}))
	ceilingMethod(&b, rep)
	return b.String()
}

// costHead heads the columns of costRows.
var costHead = []string{"server", "user space", "kernel stack", "thread objects", "socket", "page tables", "client", "KiB/conn"}

// costRows is each server's cost of a connection by part, then more(s).
// On the user-space-and-kernel-stacks basis the kernel's parts were not
// measured, and the total is marked.
func costRows(rep CeilingReport, more func(CeilingServer) []string) [][]string {
	var rows [][]string
	for _, s := range rep.Servers {
		c := s.Cost
		kernel := []string{"–", "–", "–"}
		total := results.FmtFloat(c.KiB()) + " *"
		if c.Machine() {
			kernel = []string{results.FmtFloat(c.ServerThreadObjectsKiB), results.FmtFloat(c.ServerSocketKiB), results.FmtFloat(c.ServerPageTablesKiB)}
			total = results.FmtFloat(c.KiB())
		}
		row := append([]string{s.Label, results.FmtFloat(c.ServerUserKiB), results.FmtFloat(c.ServerKStackKiB)}, kernel...)
		rows = append(rows, append(append(row, results.FmtFloat(c.ClientKiB), total), more(s)...))
	}
	return rows
}

// ceilingMethod says how the tables' figures were made.
func ceilingMethod(b *strings.Builder, rep CeilingReport) {
	fmt.Fprintf(b, "\nPredicted: MemAvailable (%.1f GiB at the start) over what a connection cost the machine at the calibration holds, against every other limit; the lowest binds. "+
		"The server's parts are those of machine KiB/conn (user space, kernel stacks, its threads' kernel objects and mappings, its socket end and epoll registration, page tables, from the idle server); "+
		"the client's are their growth between the two holds, so its runtime is left out. Slab the parts do not explain (a process's mm_struct and descriptor table for fork) is not in them. ", rep.MemAvailableKiB/(1<<20))
	for _, s := range rep.Servers {
		if !s.Cost.Machine() {
			b.WriteString("* The calibration holds kept no machine record (see the notes): user space and kernel stacks of server and client only. ")
			break
		}
	}
	budget := "no time budget"
	if rep.BudgetS > 0 {
		budget = "within a budget of " + fmtSeconds(rep.BudgetS)
	}
	fmt.Fprintf(b, "Held: steps of doubling size up to %.0f%% of the prediction or the first failure, no run using more than %.0f%% of MemAvailable, %s (took %s); each client lingers after verifying every echo until the readings are taken. ",
		100*rep.SafeFraction, 100*rep.MemCapShare, budget, fmtSeconds(rep.WallS))
	b.WriteString("Extrapolated: the machine's MemAvailable used at each held step, fitted with a line (everything included) and carried to MemAvailable, against the other limits. " +
		"MemAvailable counts reclaimable slab as available, a socket's inode and dentry among it, though they cannot be freed while the socket is open; so the fitted line can lie below the parts.\n")
	if rep.OOMKills.Set {
		fmt.Fprintf(b, "OOM killer: %s processes killed during the run (machine-wide).\n", FmtInt(rep.OOMKills))
	}
	if len(rep.Tuned) > 0 {
		fmt.Fprintf(b, "Tuned for the run and restored afterwards: %s.\n", ChangesText(rep.Tuned))
	}
}

// ceilingFor is the prediction the steps aimed at: with -tune's sysctls
// when they were raised, else as configured.
func ceilingFor(s CeilingServer, rep CeilingReport) int64 {
	if len(rep.Tuned) > 0 {
		return s.PredictedTuned.Conns
	}
	return s.Predicted.Conns
}

func fmtSeconds(s float64) string {
	return fmt.Sprintf("%d:%02d", int(s+0.5)/60, int(s+0.5)%60)
}

// CeilingLimits is one Markdown table per server: every limit, what it
// allows and how.
func CeilingLimits(rep CeilingReport) string {
	var b strings.Builder
	for _, s := range rep.Servers {
		fmt.Fprintf(&b, "### %s\n\n", s.Label)
		var rows [][]string
		for i, l := range s.Limits {
			tuned := "–"
			if i < len(s.TunedLimits) && s.TunedLimits[i].Conns != l.Conns {
				tuned = fmtConns(s.TunedLimits[i].Conns)
			}
			rows = append(rows, []string{l.Name, l.Have, fmtConns(l.Conns), tuned, l.How})
		}
		b.WriteString(MDTable([]string{"limit", "here", "connections", "with -tune", "how"}, rows, []bool{false, true, true, true, false}))
		fmt.Fprintf(&b, "\n%s\n\nSteps stopped: %s. Cap %s (%s).\n\n", costText(s.Cost), s.Stopped, fmtConns(s.Cap), s.CapWhy)
	}
	return b.String()
}

// costText is a server's cost of a connection in a sentence, every part.
func costText(c plan.ConnCost) string {
	f := results.FmtFloat
	if !c.Machine() {
		return fmt.Sprintf("Cost per connection (%s only): %s KiB, the server's user space %s and kernel stacks %s, the client %s.",
			plan.CostUserKStack, f(c.KiB()), f(c.ServerUserKiB), f(c.ServerKStackKiB), f(c.ClientKiB))
	}
	return fmt.Sprintf("Cost per connection: %s KiB. The server %s: user space %s, kernel stack %s, thread objects %s, socket %s, page tables %s. "+
		"The client %s: user space %s, kernel stack %s, thread objects %s, socket %s, page tables %s.",
		f(c.KiB()), f(c.ServerKiB()), f(c.ServerUserKiB), f(c.ServerKStackKiB), f(c.ServerThreadObjectsKiB), f(c.ServerSocketKiB), f(c.ServerPageTablesKiB),
		f(c.ClientKiB), f(c.ClientUserKiB), f(c.ClientKStackKiB), f(c.ClientThreadObjectsKiB), f(c.ClientSocketKiB), f(c.ClientPageTablesKiB))
}
