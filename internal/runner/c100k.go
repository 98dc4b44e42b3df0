package runner

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// C100KSchema names the layout of c100k.json (scripts/experiment/SCHEMAS.md).
const C100KSchema = "10kthreads-c100k/1"

// Precond is one limit checked before a large run.
type Precond struct {
	Item   string `json:"item"`
	Have   string `json:"have"`
	Need   string `json:"need"`
	OK     bool   `json:"ok"`
	Sysctl string `json:"sysctl,omitempty"` // set: -tune can fix it by writing this sysctl
	Want   string `json:"want,omitempty"`   // the value -tune writes
	Fix    string `json:"fix,omitempty"`    // what to do by hand
}

// autoSources is how many 127.0.0.x source addresses the client binds for
// a loopback IPv4 target (its -source default, 127.0.0.2-127.0.0.33).
const autoSources = 32

// procsFor is how many server processes (-P) and client processes
// (-procs) n connections need under the per-process fd limit. SO_REUSEPORT
// spreads connections by a hash of the 4-tuple, not evenly, so each server
// process is planned at 90% of what it could hold.
func procsFor(n int, sys System) (srvP, cliP int) {
	fit := sys.maxConnsForFD()
	if fit < 1 {
		return 0, 0
	}
	srvP, cliP = 1, (n+fit-1)/fit
	if n > fit {
		per := max(1, fit*9/10)
		srvP = (n + per - 1) / per
	}
	return srvP, cliP
}

// c100kPreconds checks every limit a run of maxN connections, one thread
// each in srvP server processes and cliP client processes, runs into.
func c100kPreconds(sys System, maxN, srvP, cliP int) []Precond {
	var out []Precond
	fit := sys.maxConnsForFD()
	out = append(out, Precond{Item: "open files per process (hard limit)", Have: strconv.FormatUint(sys.FDHard, 10),
		Need: fmt.Sprintf("%d connections → %d server processes (-P) and %d client processes (-procs), ≤ %d each", maxN, srvP, cliP, fit),
		OK:   fit >= 100, Fix: "raise the hard limit (`ulimit -Hn`, limits.conf); below 100 descriptors per process the run is pointless"})
	threads := sys.Tasks + maxN + cliP*64 + srvP*8 + 1024
	pc := Precond{Item: "kernel.pid_max (one id per thread)", Have: strconv.Itoa(sys.PidMax),
		Need: fmt.Sprintf("> %d (%d threads already running + %d connection threads + runtime threads)", threads, sys.Tasks, maxN), OK: sys.PidMax == 0 || sys.PidMax > threads}
	if !pc.OK {
		pc.Sysctl, pc.Want = "kernel.pid_max", strconv.Itoa(min(4194304, roundUp(threads*2, 1024)))
	}
	out = append(out, pc)
	tm := Precond{Item: "kernel.threads-max", Have: strconv.Itoa(sys.ThreadsMax), Need: fmt.Sprintf("> %d", threads), OK: sys.ThreadsMax == 0 || sys.ThreadsMax > threads}
	if !tm.OK {
		tm.Sysctl, tm.Want = "kernel.threads-max", strconv.Itoa(roundUp(threads*2, 1024))
	}
	out = append(out, tm)
	// A thread's stack and its guard page are two mappings; the busiest
	// server process holds a 10% share above the average.
	per := (maxN + srvP - 1) / max(1, srvP)
	maps := 2*(per+per/10) + 4096
	mm := Precond{Item: "vm.max_map_count (per process, ≈ 2 per thread)", Have: strconv.Itoa(sys.MaxMapCount),
		Need: fmt.Sprintf("> %d (%d threads in the busiest server process)", maps, per+per/10), OK: sys.MaxMapCount == 0 || sys.MaxMapCount > maps}
	if !mm.OK {
		mm.Sysctl, mm.Want = "vm.max_map_count", strconv.Itoa(roundUp(maps*2, 1024))
	}
	out = append(out, mm)
	sm := Precond{Item: "net.core.somaxconn (listen backlog)", Have: strconv.Itoa(sys.Somaxconn), Need: "≥ 1024", OK: sys.Somaxconn == 0 || sys.Somaxconn >= 1024}
	if !sm.OK {
		sm.Sysctl, sm.Want = "net.core.somaxconn", "4096"
	}
	out = append(out, sm)
	files := sys.FilesOpen + 2*maxN + 10000
	fm := Precond{Item: "fs.file-max (system-wide open files)", Have: strconv.Itoa(sys.FileMax), Need: fmt.Sprintf("> %d (both ends of every connection)", files), OK: sys.FileMax == 0 || sys.FileMax > files}
	if !fm.OK {
		fm.Sysctl, fm.Want = "fs.file-max", strconv.Itoa(roundUp(files*2, 1024))
	}
	out = append(out, fm)
	if sys.ConntrackMax > 0 {
		ct := sys.ConntrackCount + maxN + 10000
		c := Precond{Item: "net.netfilter.nf_conntrack_max", Have: strconv.Itoa(sys.ConntrackMax), Need: fmt.Sprintf("> %d (if loopback is tracked)", ct), OK: sys.ConntrackMax > ct}
		if !c.OK {
			c.Sysctl, c.Want = "net.netfilter.nf_conntrack_max", strconv.Itoa(roundUp(ct*2, 1024))
		}
		out = append(out, c)
	}
	ports := sys.PortHi - sys.PortLo + 1
	pp := Precond{Item: "ephemeral ports × source addresses", Have: fmt.Sprintf("%d ports (%d-%d) × %d addresses (127.0.0.2-127.0.0.33) = %d", ports, sys.PortLo, sys.PortHi, autoSources, ports*autoSources),
		Need: fmt.Sprintf("≥ %d 4-tuples towards one server port", maxN), OK: sys.PortLo == 0 || ports*autoSources >= maxN,
		Fix: "widen net.ipv4.ip_local_port_range or give the client more addresses with -source"}
	out = append(out, pp)
	needKiB := float64(maxN)*64 + 1024*1024
	out = append(out, Precond{Item: "MemAvailable", Have: fmt.Sprintf("%.1f GiB", sys.MemAvailableKiB/1024/1024),
		Need: fmt.Sprintf("≥ %.1f GiB (≈ 64 KiB per connection: kernel stack, user stack, socket buffers both ends, the client's share)", needKiB/1024/1024),
		OK:   sys.MemAvailableKiB == 0 || sys.MemAvailableKiB >= needKiB, Fix: "free memory or use fewer connections (-counts)"})
	for i := range out {
		if !out[i].OK && out[i].Sysctl != "" {
			out[i].Fix = fmt.Sprintf("sysctl -w %s=%s", out[i].Sysctl, out[i].Want)
		}
	}
	return out
}

// PrecondTable renders the checks for the terminal.
func PrecondTable(ps []Precond) string {
	var rows [][]string
	for _, p := range ps {
		st := "ok"
		if !p.OK {
			st = "SHORT: " + p.Fix
		}
		rows = append(rows, []string{p.Item, p.Have, p.Need, st})
	}
	return table([]string{"precondition", "this machine", "needed", "status"}, rows, []bool{false, false, false, false})
}

// C100KRow is one (server, connections) row of the c100k table.
type C100KRow struct {
	Server         string `json:"server"`
	Label          string `json:"label"`
	Conns          int    `json:"conns"`
	ServerProcs    int    `json:"server_procs"`
	ClientProcs    int    `json:"client_procs"`
	Status         string `json:"status"`
	Errors         Num    `json:"errors"`
	Established    Num    `json:"established"`
	Verified       Num    `json:"verified"`
	ServerHeld     Num    `json:"server_held"` // at the hold report
	ConnectAllS    Num    `json:"connect_all_s"`
	UserKiBPerConn Num    `json:"user_kib_per_conn"`
	KStackPerConn  Num    `json:"kstack_kib_per_conn"`
	TotalPerConn   Num    `json:"total_kib_per_conn"`
	ServerCPUS     Num    `json:"server_cpu_s"`
	ClientCPUS     Num    `json:"client_cpu_s"`
	OtherCPUPct    Num    `json:"other_cpu_pct"`
	Note           string `json:"note,omitempty"`
}

// C100KReport is c100k.json.
type C100KReport struct {
	Schema        string         `json:"schema"`
	Started       string         `json:"started"`
	Finished      string         `json:"finished"`
	Command       string         `json:"command"`
	WallS         float64        `json:"wall_s"`
	Preconditions []Precond      `json:"preconditions"`
	Tuned         []sysctlChange `json:"tuned"`
	Rows          []C100KRow     `json:"rows"`
	Targets       []BenchTarget  `json:"targets"`
	Notes         []string       `json:"notes"`
	Environment   [][2]string    `json:"environment"`
	KStackPerThr  Num            `json:"kstack_per_thread_kib"`
	Interference  map[string]Num `json:"interference_pct"`
	Skipped       []C100KSkipped `json:"skipped"`
}

// C100KSkipped is a cell the build cannot run.
type C100KSkipped struct {
	Server string `json:"server"`
	Conns  int    `json:"conns"`
	Why    string `json:"why"`
}

func runC100K(o Options, stdout, stderr io.Writer) int {
	fail := failer(stderr)
	thr, ref, cl, err := kitBinaries(o)
	if err != nil {
		return fail("%v", err)
	}
	ch := helpText(cl)
	if !hasFlagIn(ch, "hold") || !hasFlagIn(ch, "procs") {
		return fail("bin/client has no -hold or -procs; -c100k needs both")
	}
	thrHelp := helpText(thr)
	thrP := hasFlagIn(thrHelp, "P")
	refP := hasFlagIn(helpText(ref), "P")
	models, _ := serverModels(thr)
	sys := readSystem()
	counts := []int{25000, 50000, 100000}
	refCount := 10000 // the thread model's reference point for memory per connection
	hold := 2 * time.Second
	if o.Quick {
		counts, refCount, hold = []int{10000, 25000}, 5000, time.Second
	}
	if o.countsSet {
		counts = o.Counts
		refCount = 0
	}
	if o.holdSet {
		hold = o.Hold
	}
	maxN := counts[len(counts)-1]
	srvMax, cliMax := procsFor(maxN, sys)
	pre := c100kPreconds(sys, maxN, srvMax, cliMax)
	fmt.Fprint(stderr, "experiment: c100k preconditions for ", thousands(maxN), " connections:\n", PrecondTable(pre))
	var short []Precond
	for _, p := range pre {
		if !p.OK {
			short = append(short, p)
		}
	}
	for _, p := range short {
		if p.Sysctl == "" {
			fmt.Fprintf(stderr, "experiment: precondition failed, nothing was run: %s: have %s, need %s: %s\n", p.Item, p.Have, p.Need, p.Fix)
			return 1
		}
	}
	if len(short) > 0 && !o.Tune {
		fmt.Fprintf(stderr, "experiment: precondition failed, nothing was run. Run as root:\n")
		for _, p := range short {
			fmt.Fprintf(stderr, "  %s\n", p.Fix)
		}
		fmt.Fprintf(stderr, "or rerun with -tune as root (the runner sets them and restores the old values afterwards)\n")
		return 1
	}
	if len(short) > 0 && !isRoot() {
		return fail("-tune needs root to write /proc/sys; run as root, or run by hand: %s", fixList(short))
	}

	c, err := newCampaign(o, "c100k", sys, stderr)
	if err != nil {
		return fail("%v", err)
	}
	defer c.close()
	root := o.SysctlRoot
	if root == "" {
		root = "/proc/sys"
	}
	tu := &tuning{root: root}
	var tuned []sysctlChange
	restore := func() {
		if len(tu.saved) == 0 {
			return
		}
		lines, bad := tu.restore()
		for _, l := range lines {
			fmt.Fprintln(stderr, "experiment: "+l)
		}
		if bad {
			c.note("some sysctls could not be restored; see sysctl-restore.sh")
		}
	}
	// Restores on every way out of this function: normal end, error
	// returns, an interrupt (the loop stops, then returns) and a panic.
	defer restore()
	if o.Tune {
		for _, p := range short {
			if err := tu.set(p.Sysctl, p.Want); err != nil {
				return fail("-tune: %v (nothing was run)", err)
			}
			fmt.Fprintf(stderr, "experiment: -tune: %s %s -> %s (restored at the end)\n", p.Sysctl, tu.saved[len(tu.saved)-1].Old, p.Want)
		}
		tuned = append(tuned, tu.saved...)
		if len(tuned) > 0 {
			_ = os.WriteFile(filepath.Join(c.dir, "sysctl-restore.sh"), []byte(tu.restoreScript()), 0o755)
			c.note("-tune changed %s for the run and restored them afterwards (sysctl-restore.sh has the commands, in case the runner was killed)", changesText(tuned))
		}
	}
	c.meta.Reps = 1
	c.meta.Counts = counts

	spec := func(m string) ServerSpec {
		s := ServerSpec{Key: "10kthreads:" + m, Label: "10kthreads (" + m + ")", Model: m, Path: thr}
		if m != "thread" {
			s.Args = []string{"-M", m}
		}
		return s
	}
	type cellPlan struct {
		spec ServerSpec
		n    int
	}
	servers := []ServerSpec{spec("thread")}
	if slices.Contains(models, "epoll") {
		servers = append(servers, spec("epoll"))
	}
	goref := ServerSpec{Key: "ref_async_server", Label: "ref_async_server (goroutine)", Model: "goroutine", Path: ref}
	servers = append(servers, goref)
	if o.ServerOverride != nil {
		servers = o.ServerOverride
	}
	var plans []cellPlan
	var skipped []C100KSkipped
	for _, s := range servers {
		multi := thrP
		if s.Key == goref.Key {
			multi = refP
		}
		ns := counts
		if s.Model == "thread" && refCount > 0 && !slices.Contains(counts, refCount) {
			ns = append([]int{refCount}, counts...)
		}
		for _, n := range ns {
			sp, _ := procsFor(n, sys)
			if sp > 1 && !multi {
				skipped = append(skipped, C100KSkipped{Server: s.Label, Conns: n, Why: fmt.Sprintf("needs -P %d, not supported by this build", sp)})
				continue
			}
			plans = append(plans, cellPlan{spec: s, n: n})
		}
	}
	for _, sk := range skipped {
		c.note("%s at %s connections: %s", sk.Server, thousands(sk.Conns), sk.Why)
	}
	quiet := []string{}
	if hasFlagIn(ch, "quiet") {
		quiet = []string{"-quiet"}
	}
	fmt.Fprintf(stderr, "experiment: c100k: %d runs, counts %v, hold %s; writing %s\n", len(plans), counts, hold, c.dir)
	procs := map[string][2]int{}
	for i, p := range plans {
		sp, cp := procsFor(p.n, sys)
		s := p.spec
		s.Args = append([]string{}, s.Args...)
		if sp > 1 {
			s.Args = append(s.Args, "-P", strconv.Itoa(sp))
		}
		args := append([]string{"-hold", hold.String()}, quiet...)
		if cp > 1 {
			args = append([]string{"-procs", strconv.Itoa(cp)}, args...)
		}
		procs[fmt.Sprintf("%s|%d", s.Key, p.n)] = [2]int{sp, cp}
		r := c.run(runSpec{spec: s, workload: "hold", n: p.n, rep: 1, clientArgs: args, probe: true,
			timeout: time.Duration((60 + float64(p.n)/1000 + hold.Seconds()) * float64(time.Second))},
			fmt.Sprintf("c100k %d/%d", i+1, len(plans)))
		if r == nil {
			break
		}
	}
	res, err := c.finish()
	if err != nil {
		return fail("%v", err)
	}
	if err := WriteReport(res); err != nil {
		return fail("%v", err)
	}
	rep := buildC100K(res, pre, tuned, skipped, procs, refCount, maxN)
	rep.WallS = time.Since(c.started).Seconds()
	rep.Targets = append(rep.Targets, c100kWallTarget(rep.WallS))
	if err := writeJSON(filepath.Join(c.dir, "c100k.json"), rep); err != nil {
		return fail("%v", err)
	}
	text := C100KText(rep)
	_ = os.WriteFile(filepath.Join(c.dir, "c100k.txt"), []byte(text), 0o644)
	// The c100k table goes on top of the standard report.
	if b, err := os.ReadFile(filepath.Join(c.dir, "report.md")); err == nil {
		md := "# make c100k\n\n```\n" + text + "```\n\n" + string(b)
		_ = os.WriteFile(filepath.Join(c.dir, "report.md"), []byte(md), 0o644)
	}
	fmt.Fprint(stdout, text)
	restore()
	fmt.Fprintf(stdout, "\nfinished in %s; report: %s\n", fmtDuration(time.Since(c.started)), filepath.Join(c.dir, "report.md"))
	if c.stop.Load() {
		return 130
	}
	return 0
}

func fixList(ps []Precond) string {
	var f []string
	for _, p := range ps {
		f = append(f, "`"+p.Fix+"`")
	}
	return strings.Join(f, "; ")
}

func changesText(cs []sysctlChange) string {
	var f []string
	for _, c := range cs {
		f = append(f, fmt.Sprintf("%s (%s → %s)", c.Name, c.Old, c.New))
	}
	return strings.Join(f, ", ")
}

func c100kWallTarget(wall float64) BenchTarget {
	ok := wall < 300
	return BenchTarget{Key: "wall", Target: "the whole make c100k under 5 minutes", Value: num(wall), Unit: "s", Met: &ok,
		Measured: fmt.Sprintf("%.0f s (including the kernel-stack calibration)", wall)}
}

func buildC100K(res *Results, pre []Precond, tuned []sysctlChange, skipped []C100KSkipped, procs map[string][2]int, refCount, maxN int) C100KReport {
	m := res.Meta
	rep := C100KReport{Schema: C100KSchema, Started: m.Started, Finished: m.Finished, Command: m.Command,
		Preconditions: pre, Tuned: tuned, Notes: m.Notes, Environment: m.Env, KStackPerThr: m.KStackPerThreadKiB,
		Rows: []C100KRow{}, Targets: []BenchTarget{}, Skipped: skipped, Interference: map[string]Num{}}
	if rep.Tuned == nil {
		rep.Tuned = []sysctlChange{}
	}
	if rep.Skipped == nil {
		rep.Skipped = []C100KSkipped{}
	}
	med, worst, _ := interferenceSummary(res.Runs)
	rep.Interference["median"], rep.Interference["worst_run"] = med, worst
	for _, c := range res.Cells {
		pc := procs[fmt.Sprintf("%s|%d", c.Server, c.Conns)]
		row := C100KRow{Server: c.Server, Label: c.Label, Conns: c.Conns, ServerProcs: pc[0], ClientProcs: pc[1],
			Status: c.Status(), Errors: c.stat("errors").Med, Established: c.stat("established").Med, Verified: c.stat("verified").Med,
			ServerHeld: c.stat("held_conns").Med, ConnectAllS: c.stat("connect_all_s").Med,
			UserKiBPerConn: c.stat("hold_kib_per_conn").Med, KStackPerConn: c.stat("hold_kstack_kib_per_conn").Med,
			ServerCPUS: c.stat("server_cpu_s").Med, ClientCPUS: c.stat("client_cpu_s").Med, OtherCPUPct: c.stat("other_cpu_pct").Med}
		if row.UserKiBPerConn.Set && row.KStackPerConn.Set {
			row.TotalPerConn = num(row.UserKiBPerConn.V + row.KStackPerConn.V)
		}
		for _, r := range c.Runs {
			if r.M.ProbeLate {
				row.Note = "hold report late: " + r.Probe.Detail
			} else if r.Probe != nil && r.Probe.HoldJSON == "" && r.Probe.Detail != "" {
				row.Note = r.Probe.Detail
			}
		}
		rep.Rows = append(rep.Rows, row)
	}
	find := func(server string, n int) *C100KRow {
		for i := range rep.Rows {
			if rep.Rows[i].Server == server && rep.Rows[i].Conns == n {
				return &rep.Rows[i]
			}
		}
		return nil
	}
	yes := func(b bool) *bool { return &b }
	thr := "10kthreads:thread"
	top := find(thr, maxN)
	t := BenchTarget{Key: "held", Target: fmt.Sprintf("thread model: %s connections, 0 errors, every connection verified", thousands(maxN)), Unit: "conns"}
	if top != nil {
		t.Value = top.Verified
		t.Met = yes(top.Verified.Set && int(top.Verified.V) == maxN && top.Errors.Set && top.Errors.V == 0 && top.Status == StatusOK)
		t.Measured = fmt.Sprintf("%s verified of %s, %s errors, status %s (-P %d, client -procs %d)", fmtInt(top.Verified), thousands(maxN), fmtInt(top.Errors), top.Status, top.ServerProcs, top.ClientProcs)
	}
	rep.Targets = append(rep.Targets, t)
	t = BenchTarget{Key: "connect_all", Target: fmt.Sprintf("thread model: all %s connected within 10 s", thousands(maxN)), Unit: "s"}
	if top != nil && top.ConnectAllS.Set {
		t.Value = top.ConnectAllS
		t.Met = yes(top.ConnectAllS.V <= 10)
		t.Measured = fmt.Sprintf("%s s (client connect-all)", top.ConnectAllS)
	}
	rep.Targets = append(rep.Targets, t)
	if refCount > 0 {
		base := find(thr, refCount)
		t = BenchTarget{Key: "linear_memory", Target: fmt.Sprintf("thread model: memory per connection at %s within 10%% of the figure at %s", thousands(maxN), thousands(refCount)), Unit: "ratio"}
		if top != nil && base != nil && top.TotalPerConn.Set && base.TotalPerConn.Set && base.TotalPerConn.V > 0 {
			r := top.TotalPerConn.V / base.TotalPerConn.V
			t.Value = num(r)
			t.Met = yes(r <= 1.10 && r >= 0.90)
			t.Measured = fmt.Sprintf("%s KiB at %s vs %s KiB at %s = %.2f× (user space %s vs %s KiB, kernel stack %s vs %s KiB)",
				top.TotalPerConn, thousands(maxN), base.TotalPerConn, thousands(refCount), r,
				top.UserKiBPerConn, base.UserKiBPerConn, top.KStackPerConn, base.KStackPerConn)
		}
		rep.Targets = append(rep.Targets, t)
	}
	return rep
}

// C100KText is the terminal (and c100k.txt) table.
func C100KText(rep C100KReport) string {
	var b strings.Builder
	head := []string{"server", "conns", "-P", "client procs", "status", "errors", "established / verified", "connect all s", "user KiB/conn", "kstack KiB/conn", "total KiB/conn", "server CPU s", "others' CPU %"}
	right := []bool{false, true, true, true, false, true, true, true, true, true, true, true, true}
	var rows [][]string
	for _, r := range rep.Rows {
		rows = append(rows, []string{r.Label, thousands(r.Conns), strconv.Itoa(r.ServerProcs), strconv.Itoa(r.ClientProcs), r.Status,
			fmtInt(r.Errors), fmtInt(r.Established) + " / " + fmtInt(r.Verified), r.ConnectAllS.String(),
			r.UserKiBPerConn.String(), r.KStackPerConn.String(), r.TotalPerConn.String(), r.ServerCPUS.String(), fmtInt(r.OtherCPUPct)})
	}
	for _, s := range rep.Skipped {
		rows = append(rows, []string{s.Server, thousands(s.Conns), "–", "–", "not run: " + s.Why, "–", "–", "–", "–", "–", "–", "–", "–"})
	}
	b.WriteString(table(head, rows, right))
	var notes []string
	for _, r := range rep.Rows {
		if r.Note != "" {
			notes = append(notes, fmt.Sprintf("%s %s: %s", r.Label, thousands(r.Conns), r.Note))
		}
	}
	for _, n := range notes {
		b.WriteString("! " + n + "\n")
	}
	b.WriteString("\n")
	rows = nil
	for _, t := range rep.Targets {
		v := "not measured"
		if t.Met != nil {
			v = map[bool]string{true: "met", false: "NOT MET"}[*t.Met]
		}
		rows = append(rows, []string{t.Target, v, t.Measured})
	}
	b.WriteString(table([]string{"target (issue 9)", "verdict", "measured"}, rows, []bool{false, false, false}))
	fmt.Fprintf(&b, "\nMemory per connection: growth from the idle server to the hold, from SIGUSR1 reports (PSS summed over the processes with -P > 1, VmRSS otherwise), over the connections the server held; kernel stack: server threads added × %s KiB per thread (measured).\n", rep.KStackPerThr)
	if v := rep.Interference["median"]; v.Set {
		fmt.Fprintf(&b, "Interference: other processes used a median %.0f%% (worst run %.0f%%) of the machine's CPU during the runs.\n", v.V, rep.Interference["worst_run"].V)
	}
	if len(rep.Tuned) > 0 {
		fmt.Fprintf(&b, "Tuned for the run and restored afterwards: %s.\n", changesText(rep.Tuned))
	}
	return b.String()
}
