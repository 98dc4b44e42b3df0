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

// BenchSchema names the layout of bench.json (scripts/experiment/SCHEMAS.md).
const BenchSchema = "10kthreads-bench/1"

// BenchFigure is one measured figure of one server.
type BenchFigure struct {
	Key    string `json:"key"`
	Title  string `json:"title"`
	Unit   string `json:"unit"`
	Conns  int    `json:"conns"`
	Server string `json:"server"`
	Label  string `json:"label"`
	Median Num    `json:"median"`
	Min    Num    `json:"min"`
	Max    Num    `json:"max"`
	N      int    `json:"n"`    // runs in which it was measured
	Runs   int    `json:"runs"` // runs of the cell
	// Ratios of the medians to the C epoll model's and the Go reference's
	// figure (null when either is not measured).
	VsEpoll Num    `json:"vs_epoll"`
	VsRef   Num    `json:"vs_ref"`
	Note    string `json:"note,omitempty"`
}

// BenchTarget is one target of issue 8 with its verdict.
type BenchTarget struct {
	Key       string `json:"key"`
	Target    string `json:"target"`
	Measured  string `json:"measured"`
	Value     Num    `json:"value"`
	Unit      string `json:"unit"`
	Met       *bool  `json:"met"` // null: not measured
	StretchOK *bool  `json:"stretch_met,omitempty"`
	Detail    string `json:"detail,omitempty"`
}

// BenchReport is bench.json.
type BenchReport struct {
	Schema             string        `json:"schema"`
	Started            string        `json:"started"`
	Finished           string        `json:"finished"`
	Command            string        `json:"command"`
	Reps               int           `json:"reps"`
	Pinning            string        `json:"pinning"`
	KStackPerThreadKiB Num           `json:"kstack_per_thread_kib"`
	InterferenceMedPct Num           `json:"interference_median_pct"`
	InterferenceMaxPct Num           `json:"interference_max_pct"`
	LoadAvgStart       string        `json:"loadavg_start"`
	Figures            []BenchFigure `json:"figures"`
	Targets            []BenchTarget `json:"targets"`
	ScaleConns         int           `json:"scale_conns"`
	ScaleLimit         string        `json:"scale_limit"`
	Notes              []string      `json:"notes"`
	Environment        [][2]string   `json:"environment"`
}

type benchPlan struct {
	counts        []int
	reps          int
	hold, echo    time.Duration
	bulk          time.Duration
	bulkReps      int
	forkN         int
	forkReps      int
	scaleN        int
	scaleFit      int // what the fd limit allows, rounded down to 100
	scaleClientPs int
}

func planBench(o Options, sys System) benchPlan {
	p := benchPlan{counts: []int{100, 1000, 10000}, reps: 3, hold: time.Second, echo: time.Second,
		bulk: 3 * time.Second, bulkReps: 3, forkN: 10000, forkReps: 2}
	if o.Quick {
		p = benchPlan{counts: []int{100, 1000}, reps: 1, hold: time.Second, echo: 500 * time.Millisecond,
			bulk: time.Second, bulkReps: 1, forkN: 1000, forkReps: 1}
	}
	if o.countsSet {
		p.counts = o.Counts
		p.forkN = o.Counts[len(o.Counts)-1]
	}
	if o.repsSet {
		p.reps, p.bulkReps, p.forkReps = o.Reps, o.Reps, min(o.Reps, p.forkReps)
	}
	if o.holdSet {
		p.hold = o.Hold
	}
	if o.echoSet {
		p.echo, p.bulk = o.Echo, o.Echo
	}
	fit := sys.maxConnsForFD()
	p.scaleN = fit / 100 * 100
	p.scaleFit = p.scaleN
	if o.Quick || o.countsSet {
		p.scaleN = min(p.scaleN, 2*p.counts[len(p.counts)-1])
	}
	p.scaleClientPs = 1
	if p.scaleN+2*fdSlack > int(sys.FDHard) {
		p.scaleClientPs = 2
	}
	return p
}

// boundedModels serve at most -w connections at a time (or one), so a
// memory per idle connection at thousands of connections does not exist
// for them: the rest wait in the listen backlog.
var boundedModels = map[string]string{
	"prethread":        "serves at most -w (64) connections at a time",
	"prethread-nolock": "serves at most -w (64) connections at a time",
	"pool":             "serves at most -w (64) connections at a time; the rest queue",
	"prefork":          "serves at most -w (16) connections at a time",
	"prefork-nolock":   "serves at most -w (16) connections at a time",
	"prefork-lock":     "serves at most -w (16) connections at a time",
	"prefork-pass":     "serves at most -w (16) connections at a time",
	"iterative":        "serves one connection at a time",
}

func runBench(o Options, stdout, stderr io.Writer) int {
	fail := failer(stderr)
	thr, ref, cl, err := kitBinaries(o)
	if err != nil {
		return fail("%v", err)
	}
	ch := helpText(cl)
	for _, f := range []string{"hold", "duration", "size"} {
		if !hasFlagIn(ch, f) {
			return fail("bin/client has no -%s; the bench needs -hold, -duration and -size", f)
		}
	}
	models, _ := serverModels(thr)
	sys := readSystem()
	plan := planBench(o, sys)
	top := plan.counts[len(plan.counts)-1]
	problems, pnotes := checkSystem(sys, max(top, plan.scaleN, plan.forkN), true)
	if len(problems) > 0 {
		fmt.Fprintf(stderr, "experiment: precondition failed, nothing was run:\n")
		for _, p := range problems {
			fmt.Fprintf(stderr, "  - %s\n", p)
		}
		return 1
	}
	spec := func(m string) ServerSpec {
		s := ServerSpec{Key: "10kthreads:" + m, Label: "10kthreads (" + m + ")", Model: m, Path: thr}
		if m != "thread" {
			s.Args = []string{"-M", m}
		}
		return s
	}
	goref := ServerSpec{Key: "ref_async_server", Label: "ref_async_server (goroutine)", Model: "goroutine", Path: ref}
	main := []ServerSpec{spec("thread")}
	if slices.Contains(models, "epoll") {
		main = append(main, spec("epoll"))
	}
	main = append(main, goref)
	if o.ServerOverride != nil {
		main = o.ServerOverride
	}
	hasFork := slices.Contains(models, "fork") && o.ServerOverride == nil

	c, err := newCampaign(o, "bench", sys, stderr)
	if err != nil {
		return fail("%v", err)
	}
	defer c.close()
	c.meta.Notes = append(c.meta.Notes, pnotes...)
	c.meta.Reps = plan.reps
	c.meta.Counts = plan.counts
	quiet := []string{}
	if hasFlagIn(ch, "quiet") {
		quiet = []string{"-quiet"}
	}
	echoArgs := append([]string{"-hold", plan.hold.String(), "-duration", plan.echo.String(), "-size", "64"}, quiet...)
	holdArgs := append([]string{"-hold", plan.hold.String()}, quiet...)
	// A SIGUSR1 report of the fork model sums the smaps of every child,
	// seconds for ten thousand: the hold must outlast it.
	forkHold := max(plan.hold, time.Duration(plan.forkN/2500)*time.Second)
	forkArgs := append([]string{"-hold", forkHold.String()}, quiet...)
	bulkArgs := append([]string{"-size", "1048576", "-duration", plan.bulk.String()}, quiet...)
	tmo := func(n int, secs float64) time.Duration {
		return time.Duration((20 + secs*2 + float64(n)/1000) * float64(time.Second))
	}
	total := plan.reps*len(main)*len(plan.counts) + plan.bulkReps*len(main) + 1
	if hasFork {
		total += plan.forkReps
	}
	k := 0
	prog := func() string { k++; return fmt.Sprintf("bench %d/%d", k, total) }
	fmt.Fprintf(stderr, "experiment: bench: %d runs (counts %v × %d reps, large transfers, fork at %d, scale at %d); writing %s\n",
		total, plan.counts, plan.reps, plan.forkN, plan.scaleN, c.dir)
	// Repetitions outermost, so a burst of interference from other
	// processes hits one repetition of every server, not every repetition
	// of one.
	for rep := 1; rep <= plan.reps; rep++ {
		for _, s := range main {
			for _, n := range plan.counts {
				c.run(runSpec{spec: s, workload: "echo", n: n, rep: rep, clientArgs: echoArgs, probe: true,
					accept: s.Model == "thread", timeout: tmo(n, plan.hold.Seconds()+plan.echo.Seconds())}, prog())
			}
		}
		if hasFork && rep <= plan.forkReps {
			c.run(runSpec{spec: spec("fork"), workload: "hold", n: plan.forkN, rep: rep, clientArgs: forkArgs, probe: true,
				timeout: tmo(plan.forkN*3, forkHold.Seconds())}, prog())
		}
		if rep <= plan.bulkReps {
			for _, s := range main {
				c.run(runSpec{spec: s, workload: "bulk", n: 1, rep: rep, clientArgs: bulkArgs,
					timeout: tmo(1, plan.bulk.Seconds())}, prog())
			}
		}
	}
	scaleArgs := holdArgs
	if plan.scaleClientPs > 1 {
		scaleArgs = append([]string{"-procs", strconv.Itoa(plan.scaleClientPs)}, holdArgs...)
	}
	c.run(runSpec{spec: main[0], workload: "scale", n: plan.scaleN, rep: 1, clientArgs: scaleArgs, probe: true,
		timeout: tmo(plan.scaleN, plan.hold.Seconds())}, prog())

	res, err := c.finish()
	if err != nil {
		return fail("%v", err)
	}
	rep := buildBench(res, plan, main, models, hasFork)
	if err := writeJSON(filepath.Join(c.dir, "bench.json"), rep); err != nil {
		return fail("%v", err)
	}
	_ = WriteCSV(filepath.Join(c.dir, "results.csv"), res.Cells)
	text := BenchText(rep)
	_ = os.WriteFile(filepath.Join(c.dir, "bench.txt"), []byte(text), 0o644)
	fmt.Fprint(stdout, text)
	fmt.Fprintf(stdout, "\nfinished in %s; %s\n", fmtDuration(time.Since(c.started)), filepath.Join(c.dir, "bench.json"))
	if c.stop.Load() {
		return 130
	}
	return 0
}

func findCell(cells []*Cell, server, workload string, n int) *Cell {
	for _, c := range cells {
		if c.Server == server && c.Workload == workload && c.Conns == n {
			return c
		}
	}
	return nil
}

func ratio(a, b Num) Num {
	if !a.Set || !b.Set || b.V == 0 {
		return Num{}
	}
	return num(a.V / b.V)
}

func buildBench(res *Results, plan benchPlan, main []ServerSpec, models []string, hasFork bool) BenchReport {
	m := res.Meta
	rep := BenchReport{Schema: BenchSchema, Started: m.Started, Finished: m.Finished, Command: m.Command, Reps: plan.reps,
		Pinning: m.Pinning, KStackPerThreadKiB: m.KStackPerThreadKiB, Notes: m.Notes, Environment: m.Env,
		Figures: []BenchFigure{}, Targets: []BenchTarget{}}
	for _, kv := range m.Env {
		if kv[0] == "load average at start" {
			rep.LoadAvgStart = kv[1]
		}
	}
	rep.InterferenceMedPct, rep.InterferenceMaxPct, _ = interferenceSummary(res.Runs)
	top := plan.counts[len(plan.counts)-1]
	const epollKey, refKey = "10kthreads:epoll", "ref_async_server"

	// add appends one figure per server from the cells' statistic key.
	add := func(key, title, unit, statKey, workload string, n int, servers []ServerSpec, cellN func(ServerSpec) int) {
		var figs []BenchFigure
		med := map[string]Num{}
		for _, s := range servers {
			cn := n
			if cellN != nil {
				cn = cellN(s)
			}
			f := BenchFigure{Key: key, Title: title, Unit: unit, Conns: cn, Server: s.Key, Label: s.Label}
			cell := findCell(res.Cells, s.Key, workload, cn)
			if cell == nil {
				f.Note = "not run"
			} else {
				st := cell.stat(statKey)
				f.Median, f.Min, f.Max, f.N, f.Runs = st.Med, st.Min, st.Max, st.N, len(cell.Runs)
				var notes []string
				if stt := cell.Status(); stt != StatusOK {
					notes = append(notes, "status "+stt)
				}
				late := 0
				for _, r := range cell.Runs {
					if r.M.ProbeLate {
						late++
					}
				}
				if late > 0 && strings.HasPrefix(statKey, "hold_") {
					notes = append(notes, fmt.Sprintf("hold report late in %d run(s)", late))
				}
				if e := cell.stat("errors").Med; e.Set && e.V > 0 {
					notes = append(notes, fmt.Sprintf("%s client errors (median)", fmtInt(e)))
				}
				f.Note = strings.Join(notes, "; ")
			}
			med[s.Key] = f.Median
			figs = append(figs, f)
		}
		for i := range figs {
			figs[i].VsEpoll = ratio(figs[i].Median, med[epollKey])
			figs[i].VsRef = ratio(figs[i].Median, med[refKey])
		}
		rep.Figures = append(rep.Figures, figs...)
	}
	memServers := append([]ServerSpec{}, main...)
	if hasFork {
		memServers = append(memServers, ServerSpec{Key: "10kthreads:fork", Label: "10kthreads (fork)", Model: "fork"})
	}
	wlOf := func(s ServerSpec) string {
		if s.Model == "fork" {
			return "hold"
		}
		return "echo"
	}
	// The memory figures: fork ran its own hold workload.
	for _, def := range []struct{ key, title, unit, stat string }{
		{"mem_user_kib_per_conn", "user-space resident memory per idle connection", "KiB", "hold_kib_per_conn"},
		{"kstack_kib_per_conn", "kernel stack per idle connection (not in RSS)", "KiB", "hold_kstack_kib_per_conn"},
	} {
		before := len(rep.Figures)
		for _, s := range memServers {
			n := top
			if s.Model == "fork" {
				n = plan.forkN
			}
			add(def.key, def.title, def.unit, def.stat, wlOf(s), n, []ServerSpec{s}, nil)
		}
		// Ratios across the group just added.
		grp := rep.Figures[before:]
		med := map[string]Num{}
		for _, f := range grp {
			med[f.Server] = f.Median
		}
		for i := range grp {
			grp[i].VsEpoll = ratio(grp[i].Median, med[epollKey])
			grp[i].VsRef = ratio(grp[i].Median, med[refKey])
		}
		for _, mdl := range models {
			if why, ok := boundedModels[mdl]; ok && def.key == "mem_user_kib_per_conn" {
				rep.Figures = append(rep.Figures, BenchFigure{Key: def.key, Title: def.title, Unit: def.unit, Conns: top,
					Server: "10kthreads:" + mdl, Label: "10kthreads (" + mdl + ")", Note: "n/a: " + why})
			}
		}
	}
	for _, n := range plan.counts {
		add("cpu_us_per_rt", "server CPU per round trip (64 B, closed loop)", "µs", "hold_cpu_us_per_rt", "echo", n, main, nil)
	}
	add("connect_all_s", "client: time to connect all", "s", "connect_all_s", "echo", top, main, nil)
	add("accept_server_s", "server: first to last connection thread", "s", "accept_server_s", "echo", top, main[:1], nil)
	add("gib_per_s", "one connection, 1 MiB messages, echoed each way", "GiB/s", "gib_per_s", "bulk", 1, main, nil)
	add("held_conns", "scale: connections held, every echo verified", "conns", "verified", "scale", plan.scaleN, main[:1], nil)

	fig := func(key, server string, n int) BenchFigure {
		for _, f := range rep.Figures {
			if f.Key == key && f.Server == server && (n == 0 || f.Conns == n) {
				return f
			}
		}
		return BenchFigure{}
	}
	thrKey := main[0].Key
	verdict := func(ok bool) *bool { return &ok }

	// Memory.
	mem := fig("mem_user_kib_per_conn", thrKey, top)
	t := BenchTarget{Key: "memory", Target: fmt.Sprintf("thread model: user-space memory per idle connection at %s ≤ 8 KiB (stretch 6 KiB)", thousands(top)), Unit: "KiB", Value: mem.Median}
	if mem.Median.Set {
		t.Met, t.StretchOK = verdict(mem.Median.V <= 8), verdict(mem.Median.V <= 6)
		t.Measured = fmt.Sprintf("%s KiB (%s); kernel stack %s KiB beside it", mem.Median, spreadOf(mem), fig("kstack_kib_per_conn", thrKey, top).Median)
	}
	rep.Targets = append(rep.Targets, t)
	// CPU per round trip, at every count.
	for _, n := range plan.counts {
		a, e, g := fig("cpu_us_per_rt", thrKey, n), fig("cpu_us_per_rt", epollKey, n), fig("cpu_us_per_rt", refKey, n)
		t := BenchTarget{Key: fmt.Sprintf("cpu_per_rt_%d", n), Target: fmt.Sprintf("thread model CPU per round trip at %s ≤ 2× epoll", thousands(n)), Unit: "ratio", Value: a.VsEpoll}
		if a.VsEpoll.Set {
			t.Met = verdict(a.VsEpoll.V <= 2)
			t.Measured = fmt.Sprintf("%s× epoll (thread %s µs, epoll %s µs, Go ref %s µs = %s× thread)", a.VsEpoll, a.Median, e.Median, g.Median, ratio(g.Median, a.Median))
		}
		rep.Targets = append(rep.Targets, t)
	}
	// Accept rate.
	acc, cl := fig("accept_server_s", thrKey, top), fig("connect_all_s", thrKey, top)
	t = BenchTarget{Key: "accept", Target: fmt.Sprintf("thread server takes %s connections in < 1 s", thousands(top)), Unit: "s", Value: acc.Median}
	if acc.Median.Set {
		t.Met = verdict(acc.Median.V < 1)
		t.Measured = fmt.Sprintf("server %s s (first to last thread; %s), client connect-all %s s", acc.Median, spreadOf(acc), cl.Median)
	} else if cl.Median.Set {
		t.Value = cl.Median
		t.Met = verdict(cl.Median.V < 1)
		t.Measured = fmt.Sprintf("client connect-all %s s (server-side timing not available)", cl.Median)
	}
	rep.Targets = append(rep.Targets, t)
	// Large transfers.
	bw := fig("gib_per_s", thrKey, 1)
	t = BenchTarget{Key: "large_transfer", Target: "thread model: one connection echoes ≥ 1 GiB/s", Unit: "GiB/s", Value: bw.Median}
	if bw.Median.Set {
		t.Met = verdict(bw.Median.V >= 1)
		t.Measured = fmt.Sprintf("%s GiB/s (%s)", bw.Median, spreadOf(bw))
	}
	rep.Targets = append(rep.Targets, t)
	// Scale.
	rep.ScaleConns = plan.scaleN
	t = BenchTarget{Key: "scale", Target: fmt.Sprintf("thread model holds the largest count the fd limit allows (%s) with 0 errors", thousands(plan.scaleN)), Unit: "conns"}
	if cell := findCell(res.Cells, thrKey, "scale", plan.scaleN); cell != nil {
		v, e := cell.stat("verified").Med, cell.stat("errors").Med
		t.Value = v
		t.Met = verdict(v.Set && int(v.V) == plan.scaleN && e.Set && e.V == 0 && cell.Status() == StatusOK)
		t.Measured = fmt.Sprintf("%s of %s verified, %s errors, status %s", fmtInt(v), thousands(plan.scaleN), fmtInt(e), cell.Status())
		rep.ScaleLimit = scaleLimit(res, cell)
		if plan.scaleN < plan.scaleFit {
			rep.ScaleLimit = fmt.Sprintf("count capped at %s by -quick or -counts; the fd limit allows %s", thousands(plan.scaleN), thousands(plan.scaleFit))
		}
		t.Detail = rep.ScaleLimit
	}
	rep.Targets = append(rep.Targets, t)
	return rep
}

func spreadOf(f BenchFigure) string {
	if !f.Median.Set {
		return "not measured"
	}
	if f.N < 2 {
		return "1 run"
	}
	return fmt.Sprintf("%s–%s over %d runs", f.Min, f.Max, f.N)
}

// scaleLimit says what bounded the scale run: the fd limit when it held
// everything, otherwise the errors the client and the server saw.
func scaleLimit(res *Results, cell *Cell) string {
	r := cell.Runs[0]
	srv, _ := loadDoc(filepath.Join(res.Dir, "raw", r.ServerJSON))
	cli, _ := loadDoc(filepath.Join(res.Dir, "raw", r.ClientJSON))
	fdl := srv.num("fd_limit")
	var why []string
	if cli != nil {
		if e, ok := cli.get("errors"); ok {
			if em, ok := e.(map[string]any); ok {
				for _, k := range sortedKeys(em) {
					if f, ok := em[k].(float64); ok && f > 0 {
						why = append(why, fmt.Sprintf("%s %.0f", k, f))
					}
				}
			}
		}
	}
	for _, k := range []string{"thread_create_failures", "accept_errors"} {
		if v := srv.num(k); v.Set && v.V > 0 {
			why = append(why, fmt.Sprintf("server %s %.0f", k, v.V))
		}
	}
	lim := "the per-process open-file limit"
	if fdl.Set {
		lim += fmt.Sprintf(" (%s descriptors: one per connection plus the listener and stdio; the hard limit cannot be raised here)", thousands(int(fdl.V)))
	}
	if len(why) == 0 {
		return "limited by " + lim + "; more needs several processes (-P, see make c100k)"
	}
	return "errors: " + strings.Join(why, ", ") + "; the count was chosen by " + lim
}

func sortedKeys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func fmtVal(n Num, unit string) string {
	if !n.Set {
		return "–"
	}
	if unit == "conns" {
		return thousands(int(n.V))
	}
	return n.String() + " " + unit
}

// BenchText is the terminal table: one row per figure and server.
func BenchText(rep BenchReport) string {
	var b strings.Builder
	head := []string{"figure", "conns", "server", "median", "min–max (runs)", "× epoll", "× Go ref", "note"}
	right := []bool{false, true, false, true, true, true, true, false}
	var rows [][]string
	last := ""
	for _, f := range rep.Figures {
		title := f.Title
		if title == last {
			title = ""
		}
		last = f.Title
		sp := "–"
		if f.Median.Set {
			sp = fmt.Sprintf("%s–%s (%d)", f.Min, f.Max, f.N)
		}
		rows = append(rows, []string{title, thousands(f.Conns), f.Label, fmtVal(f.Median, f.Unit), sp,
			ratioStr(f.VsEpoll), ratioStr(f.VsRef), f.Note})
	}
	b.WriteString(table(head, rows, right))
	b.WriteString("\n")
	head = []string{"target (issue 8)", "verdict", "measured"}
	rows = nil
	for _, t := range rep.Targets {
		v := "not measured"
		if t.Met != nil {
			v = map[bool]string{true: "met", false: "NOT MET"}[*t.Met]
			if t.StretchOK != nil {
				v += map[bool]string{true: " (stretch met)", false: " (stretch not met)"}[*t.StretchOK]
			}
		}
		m := t.Measured
		if t.Detail != "" {
			m += "; " + t.Detail
		}
		rows = append(rows, []string{t.Target, v, m})
	}
	b.WriteString(table(head, rows, []bool{false, false, false}))
	fmt.Fprintf(&b, "\nMedian of %d runs per figure (large transfers %s); pinning: %s; kernel stack per thread %s KiB (measured).\n", rep.Reps, "likewise", rep.Pinning, rep.KStackPerThreadKiB)
	if rep.InterferenceMedPct.Set {
		fmt.Fprintf(&b, "Interference: other processes used a median %.0f%% (worst run %.0f%%) of the machine's CPU during the runs; load average at start %s.\n",
			rep.InterferenceMedPct.V, rep.InterferenceMaxPct.V, rep.LoadAvgStart)
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(&b, "Note: %s\n", n)
	}
	return b.String()
}

func ratioStr(n Num) string {
	if !n.Set {
		return "–"
	}
	return n.String() + "×"
}
