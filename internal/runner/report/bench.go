package report

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"tenkthreads/internal/clientreport"
	"tenkthreads/internal/confidence"
	"tenkthreads/internal/runner/results"
	"tenkthreads/internal/srvreport"
)

// BenchSchema names the layout of bench.json (cmd/experiment/SCHEMAS.md).
const BenchSchema = "10kthreads-bench/1"

// BenchFigure is one measured figure of one server.
type BenchFigure struct {
	Key    string      `json:"key"`
	Title  string      `json:"title"`
	Unit   string      `json:"unit"`
	Conns  int         `json:"conns"`
	Server string      `json:"server"`
	Label  string      `json:"label"`
	Median results.Num `json:"median"`
	Min    results.Num `json:"min"`
	Max    results.Num `json:"max"`
	N      int         `json:"n"`    // runs in which it was measured
	Runs   int         `json:"runs"` // runs of the cell
	// CI is the 95% confidence interval of the median; null with too few
	// runs.
	CI *confidence.Interval `json:"ci"`
	// Ratios of the medians to the C epoll model's and the Go reference's
	// figure (null when either is not measured), with their intervals.
	VsEpoll   results.Num          `json:"vs_epoll"`
	VsEpollCI *confidence.Interval `json:"vs_epoll_ci"`
	VsRef     results.Num          `json:"vs_ref"`
	VsRefCI   *confidence.Interval `json:"vs_ref_ci"`
	Note      string               `json:"note,omitempty"`
	// est, epoll and ref are the figure and its ratios as estimates, for
	// the targets.
	est, epoll, ref confidence.Estimate
}

// BenchTarget is one target with its verdict.
type BenchTarget struct {
	Key      string      `json:"key"`
	Target   string      `json:"target"`
	Measured string      `json:"measured"`
	Value    results.Num `json:"value"`
	Unit     string      `json:"unit"`
	// Verdict is met, not met or inconclusive, from the 95% interval of
	// the measured figure (inconclusive when it straddles the target or
	// there are too few runs for one), or not measured; Why says which.
	// Met is true or false with a verdict either way, null otherwise.
	Verdict   string `json:"verdict"`
	Why       string `json:"why,omitempty"`
	Met       *bool  `json:"met"`
	StretchOK *bool  `json:"stretch_met,omitempty"`
	Detail    string `json:"detail,omitempty"`
}

// BenchReport is bench.json.
type BenchReport struct {
	Header
	Reps               int           `json:"reps"`
	Pinning            string        `json:"pinning"`
	KStackPerThreadKiB results.Num   `json:"kstack_per_thread_kib"`
	InterferenceMedPct results.Num   `json:"interference_median_pct"`
	InterferenceMaxPct results.Num   `json:"interference_max_pct"`
	LoadAvgStart       string        `json:"loadavg_start"`
	Figures            []BenchFigure `json:"figures"`
	Targets            []BenchTarget `json:"targets"`
	ScaleConns         int           `json:"scale_conns"`
	ScaleLimit         string        `json:"scale_limit"`
	Notes              []string      `json:"notes"`
	Environment        [][2]string   `json:"environment"`
}

// BenchInput is what the bench ran, for its summary.
type BenchInput struct {
	Counts        []int
	Reps          int
	ForkN         int // connections of the fork model's hold run
	ScaleN        int // connections of the scale run
	ScaleFit      int // what the fd limit allows, rounded down to 100
	Compared      []results.ServerSpec
	Fork          *results.ServerSpec // nil when fork did not run
	NotApplicable []BenchFigure       // models where memory per idle connection does not exist
}

const epollKey, uringKey, goRefKey = "10kthreads:epoll", "10kthreads:uring", "ref_async_server"

// BuildBench makes bench.json from the runs.
func BuildBench(res *results.Results, in BenchInput) BenchReport {
	m := res.Meta
	rep := BenchReport{Header: header(BenchSchema, m), Reps: in.Reps,
		Pinning: m.Pinning, KStackPerThreadKiB: m.KStackPerThreadKiB, Notes: m.Notes, Environment: m.Env,
		Figures: []BenchFigure{}, Targets: []BenchTarget{}}
	for _, kv := range m.Env {
		if kv[0] == "load average at start" {
			rep.LoadAvgStart = kv[1]
		}
	}
	rep.InterferenceMedPct, rep.InterferenceMaxPct = results.InterferenceSummary(res.Runs)
	rep.Figures = benchFigures(res, in)
	rep.ScaleConns = in.ScaleN
	rep.Targets, rep.ScaleLimit = benchTargets(res, in, rep.Figures)
	return rep
}

// The keys of bench.json's figures, stable for scripts.
const (
	figMemUser    = "mem_user_kib_per_conn"
	figKStack     = "kstack_kib_per_conn"
	figCPUPerRT   = "cpu_us_per_rt"
	figConnectAll = "connect_all_s"
	figAccept     = "accept_server_s"
	figGiBPerS    = "gib_per_s"
	figHeld       = "held_conns"
)

// figureDef is a bench figure: which statistic of which workload's cells.
type figureDef struct {
	key, title, unit string
	stat             results.Figure
	workload         string
}

// figures is one figure per server at n connections, with each median's
// ratio to epoll's and to the Go reference's among them, and intervals.
func figures(res *results.Results, d figureDef, n int, servers []results.ServerSpec) []BenchFigure {
	var figs []BenchFigure
	cells := map[string]*results.Cell{}
	for _, s := range servers {
		f := BenchFigure{Key: d.key, Title: d.title, Unit: d.unit, Conns: n, Server: s.Key, Label: s.Label}
		if cell := results.FindCell(res.Cells, s.Key, d.workload, n); cell == nil {
			f.Note = "not run"
		} else {
			st := cell.Stat(d.stat)
			f.Median, f.Min, f.Max, f.N, f.Runs, f.CI, f.est = st.Med, st.Min, st.Max, st.N, len(cell.Runs), st.CI, st.Estimate()
			f.Note = figureNote(cell, d.stat)
			cells[s.Key] = cell
		}
		figs = append(figs, f)
	}
	for i := range figs {
		ratios(&figs[i], cells, d.stat)
	}
	return figs
}

// ratios sets f's ratios to epoll's and the Go reference's figure, with
// their intervals, from the cells each server ran.
func ratios(f *BenchFigure, cells map[string]*results.Cell, stat results.Figure) {
	c := cells[f.Server]
	if e, ok := results.RatioCI(c, cells[epollKey], stat); ok {
		f.VsEpoll, f.VsEpollCI, f.epoll = results.N(e.Value), e.CI, e
	}
	if e, ok := results.RatioCI(c, cells[goRefKey], stat); ok {
		f.VsRef, f.VsRefCI, f.ref = results.N(e.Value), e.CI, e
	}
}

// figureNote flags what weakens a figure: a status other than ok, hold
// reports taken late, client errors.
func figureNote(cell *results.Cell, stat results.Figure) string {
	var notes []string
	if stt := cell.Status(); stt != results.StatusOK {
		notes = append(notes, "status "+stt)
	}
	late := 0
	for _, r := range cell.Runs {
		if r.M.ProbeLate {
			late++
		}
	}
	if late > 0 && stat.FromHoldReport() {
		notes = append(notes, fmt.Sprintf("hold report late in %d run(s)", late))
	}
	if e := cell.Stat(results.Errors).Med; e.Set && e.V > 0 {
		notes = append(notes, fmt.Sprintf("%s client errors (median)", FmtInt(e)))
	}
	return strings.Join(notes, "; ")
}

func benchFigures(res *results.Results, in BenchInput) []BenchFigure {
	top := in.Counts[len(in.Counts)-1]
	var out []BenchFigure
	// The memory figures: fork ran its own hold workload.
	for _, d := range []figureDef{
		{figMemUser, "user-space resident memory per idle connection", "KiB", results.HoldKiBPerConn, "echo"},
		{figKStack, "kernel stack per idle connection (not in RSS)", "KiB", results.HoldKStackKiBPerConn, "echo"},
	} {
		grp := figures(res, d, top, in.Compared)
		if in.Fork != nil {
			fd := d
			fd.workload = "hold"
			fork := figures(res, fd, in.ForkN, []results.ServerSpec{*in.Fork})
			// fork held its own count in its own runs: its ratios are of
			// the medians, without an interval.
			for _, g := range grp {
				switch g.Server {
				case epollKey:
					fork[0].VsEpoll = results.Ratio(fork[0].Median, g.Median)
				case goRefKey:
					fork[0].VsRef = results.Ratio(fork[0].Median, g.Median)
				}
			}
			grp = append(grp, fork...)
		}
		out = append(out, grp...)
		if d.key == figMemUser {
			for _, na := range in.NotApplicable {
				na.Key, na.Title, na.Unit, na.Conns = d.key, d.title, d.unit, top
				out = append(out, na)
			}
		}
	}
	for _, n := range in.Counts {
		out = append(out, figures(res, figureDef{figCPUPerRT, "server CPU per round trip (64 B, closed loop)", "µs", results.HoldCPUPerRT, "echo"}, n, in.Compared)...)
	}
	thr := in.Compared[:1]
	out = append(out, figures(res, figureDef{figConnectAll, "client: time to connect all", "s", results.ConnectAllS, "echo"}, top, in.Compared)...)
	out = append(out, figures(res, figureDef{figAccept, "server: first to last connection thread", "s", results.AcceptServerS, "echo"}, top, thr)...)
	out = append(out, figures(res, figureDef{figGiBPerS, "one connection, 1 MiB messages, echoed each way", "GiB/s", results.GiBPerS, "bulk"}, 1, in.Compared)...)
	out = append(out, figures(res, figureDef{figHeld, "scale: connections held, every echo verified", "conns", results.Verified, "scale"}, in.ScaleN, thr)...)
	return append(out, engineFigures(res, EngineServer(in.Compared).Key, top)...)
}

// benchTargets judges the targets from the figures, each by the 95%
// interval of the figure it concerns.
func benchTargets(res *results.Results, in BenchInput, figs []BenchFigure) ([]BenchTarget, string) {
	fig := func(key, server string, n int) BenchFigure {
		for _, f := range figs {
			if f.Key == key && f.Server == server && (n == 0 || f.Conns == n) {
				return f
			}
		}
		return BenchFigure{}
	}
	thr := in.Compared[0].Key
	top := in.Counts[len(in.Counts)-1]
	mem := fig(figMemUser, thr, top)
	t := BenchTarget{Key: "memory", Target: fmt.Sprintf("thread model: user-space memory per idle connection at %s ≤ 8 KiB (stretch 6 KiB)", results.Thousands(top)), Unit: "KiB", Value: mem.Median}
	if mem.Median.Set {
		judge(&t, mem.est, confidence.Target{Bound: confidence.AtMost, Limit: 8})
		if s, err := (confidence.Target{Bound: confidence.AtMost, Limit: 6}).Check(mem.est); err == nil && s.Verdict != confidence.Inconclusive {
			t.StretchOK = verdict(s.Verdict == confidence.Met)
		}
		t.Measured = fmt.Sprintf("%s; kernel stack %s KiB beside it", confidence.Format(mem.est, "KiB"), fig(figKStack, thr, top).Median)
	}
	targets := []BenchTarget{t}
	for _, n := range in.Counts {
		a, e, g := fig(figCPUPerRT, thr, n), fig(figCPUPerRT, epollKey, n), fig(figCPUPerRT, goRefKey, n)
		t := BenchTarget{Key: fmt.Sprintf("cpu_per_rt_%d", n), Target: fmt.Sprintf("thread model CPU per round trip at %s ≤ 2× epoll", results.Thousands(n)), Unit: "ratio", Value: a.VsEpoll}
		if a.VsEpoll.Set {
			judge(&t, a.epoll, confidence.Target{Bound: confidence.AtMost, Limit: 2})
			t.Measured = fmt.Sprintf("%s epoll's (thread %s, epoll %s, Go ref %s)", confidence.FormatRatio(a.epoll), confidence.FormatMicros(a.est), confidence.FormatMicros(e.est), confidence.FormatMicros(g.est))
		}
		targets = append(targets, t)
	}
	targets = append(targets, uringTargets(in, fig)...)
	targets = append(targets, acceptTarget(fig(figAccept, thr, top), fig(figConnectAll, thr, top), top))
	bw := fig(figGiBPerS, thr, 1)
	t = BenchTarget{Key: "large_transfer", Target: "thread model: one connection echoes ≥ 1 GiB/s", Unit: "GiB/s", Value: bw.Median}
	if bw.Median.Set {
		judge(&t, bw.est, confidence.Target{Bound: confidence.AtLeast, Limit: 1})
		t.Measured = confidence.Format(bw.est, "GiB/s")
	}
	targets = append(targets, t)
	targets = append(targets, engineTargets(figs)...)
	t = scaleTarget(res, in, thr)
	return append(targets, t), t.Detail
}

func verdict(ok bool) *bool { return &ok }

// Counted gives t the verdict of a target judged by a count, which has
// no interval: every connection verified, or not.
func (t *BenchTarget) Counted(ok bool) {
	t.Met = verdict(ok)
	t.Verdict = map[bool]string{true: string(confidence.Met), false: string(confidence.NotMet)}[ok]
}

// VerdictText is t's verdict as the tables print it.
func (t BenchTarget) VerdictText() string {
	var v string
	switch {
	case t.Verdict == string(confidence.Inconclusive):
		return "inconclusive"
	case t.Met == nil:
		return "not measured"
	case *t.Met:
		v = "met"
	default:
		v = "NOT MET"
	}
	if t.StretchOK != nil {
		v += map[bool]string{true: " (stretch met)", false: " (stretch not met)"}[*t.StretchOK]
	}
	return v
}

// judge gives t the verdict of target on e, by its interval.
func judge(t *BenchTarget, e confidence.Estimate, target confidence.Target) {
	chk, err := target.Check(e)
	if err != nil {
		t.Verdict, t.Why = "not measured", err.Error()
		return
	}
	t.Verdict, t.Why = string(chk.Verdict), chk.Reason
	if chk.Verdict != confidence.Inconclusive {
		t.Met = verdict(chk.Verdict == confidence.Met)
	}
}

// uringTargets judges the io_uring model against epoll, side by side in
// the same run: memory per idle connection at the largest count, and CPU
// per round trip at 1,000 connections and more, where batching can pay.
// None when the bench did not run it.
func uringTargets(in BenchInput, fig func(key, server string, n int) BenchFigure) []BenchTarget {
	if !slices.ContainsFunc(in.Compared, func(s results.ServerSpec) bool { return s.Key == uringKey }) {
		return nil
	}
	top := in.Counts[len(in.Counts)-1]
	u, e := fig(figMemUser, uringKey, top), fig(figMemUser, epollKey, top)
	t := BenchTarget{Key: "uring_memory", Unit: "KiB",
		Target: fmt.Sprintf("uring model: user-space memory per idle connection at %s within 0.5 KiB of epoll's", results.Thousands(top))}
	if u.Median.Set && e.Median.Set {
		d := u.Median.V - e.Median.V
		t.Value = results.N(d)
		t.Verdict, t.Why = withinOf(u.est, e.est, 0.5)
		if t.Verdict != string(confidence.Inconclusive) {
			t.Met = verdict(t.Verdict == string(confidence.Met))
		}
		t.Measured = fmt.Sprintf("%+.3f KiB (uring %s, epoll %s)", d, confidence.Format(u.est, "KiB"), confidence.Format(e.est, "KiB"))
	}
	out := []BenchTarget{t}
	for _, n := range in.Counts {
		if n < 1000 {
			continue
		}
		u, e := fig(figCPUPerRT, uringKey, n), fig(figCPUPerRT, epollKey, n)
		t := BenchTarget{Key: fmt.Sprintf("uring_cpu_per_rt_%d", n), Unit: "ratio", Value: u.VsEpoll,
			Target: fmt.Sprintf("uring model CPU per round trip at %s ≤ epoll's", results.Thousands(n))}
		if u.VsEpoll.Set {
			judge(&t, u.epoll, confidence.Target{Bound: confidence.AtMost, Limit: 1})
			t.Measured = fmt.Sprintf("%s epoll's (uring %s, epoll %s)", confidence.FormatRatio(u.epoll), confidence.FormatMicros(u.est), confidence.FormatMicros(e.est))
		}
		out = append(out, t)
	}
	return out
}

// withinOf judges "a at most d above b" by both intervals: met when a's
// upper end is within d of b's lower end, not met when a's lower end is
// more than d above b's upper end, inconclusive otherwise.
func withinOf(a, b confidence.Estimate, d float64) (string, string) {
	if a.CI == nil || b.CI == nil {
		return string(confidence.Inconclusive), "no interval for one side (too few runs)"
	}
	switch {
	case a.CI.Hi-b.CI.Lo <= d:
		return string(confidence.Met), fmt.Sprintf("the intervals are at most %g apart", d)
	case a.CI.Lo-b.CI.Hi > d:
		return string(confidence.NotMet), fmt.Sprintf("the intervals are more than %g apart", d)
	}
	return string(confidence.Inconclusive), fmt.Sprintf("the intervals overlap the %g margin", d)
}

// acceptTarget judges the server's accept time, or the client's connect
// time when the server's was not measured.
func acceptTarget(acc, cl BenchFigure, top int) BenchTarget {
	t := BenchTarget{Key: "accept", Target: fmt.Sprintf("thread server takes %s connections in < 1 s", results.Thousands(top)), Unit: "s", Value: acc.Median}
	under := confidence.Target{Bound: confidence.AtMost, Limit: 1}
	if acc.Median.Set {
		judge(&t, acc.est, under)
		t.Measured = fmt.Sprintf("server %s (first to last thread), client connect-all %s", confidence.Format(acc.est, "s"), confidence.Format(cl.est, "s"))
	} else if cl.Median.Set {
		t.Value = cl.Median
		judge(&t, cl.est, under)
		t.Measured = fmt.Sprintf("client connect-all %s (server-side timing not available)", confidence.Format(cl.est, "s"))
	}
	return t
}

// scaleTarget judges the scale run; its Detail says what limited it.
func scaleTarget(res *results.Results, in BenchInput, thr string) BenchTarget {
	t := BenchTarget{Key: "scale", Target: fmt.Sprintf("thread model holds the largest count the fd limit allows (%s) with 0 errors", results.Thousands(in.ScaleN)), Unit: "conns"}
	cell := results.FindCell(res.Cells, thr, "scale", in.ScaleN)
	if cell == nil {
		return t
	}
	v, e := cell.Stat(results.Verified).Med, cell.Stat(results.Errors).Med
	t.Value = v
	t.Counted(v.Set && int(v.V) == in.ScaleN && e.Set && e.V == 0 && cell.Status() == results.StatusOK)
	t.Measured = fmt.Sprintf("%s of %s verified, %s errors, status %s", FmtInt(v), results.Thousands(in.ScaleN), FmtInt(e), cell.Status())
	t.Detail = scaleLimit(res, cell)
	if in.ScaleN < in.ScaleFit {
		t.Detail = fmt.Sprintf("count capped at %s by -quick or -counts; the fd limit allows %s", results.Thousands(in.ScaleN), results.Thousands(in.ScaleFit))
	}
	return t
}

// scaleLimit says what bounded the scale run: the fd limit when it held
// everything, otherwise the errors the client and the server saw.
func scaleLimit(res *results.Results, cell *results.Cell) string {
	r := cell.Runs[0]
	var why []string
	if cli, err := clientreport.Read(filepath.Join(res.Dir, "raw", r.ClientJSON)); err == nil {
		for _, k := range slices.Sorted(maps.Keys(cli.Errors)) {
			if n := cli.Errors[k]; n > 0 {
				why = append(why, fmt.Sprintf("%s %d", k, n))
			}
		}
	}
	lim := "the per-process open-file limit"
	if srv, err := srvreport.Read(filepath.Join(res.Dir, "raw", r.ServerJSON)); err == nil {
		for _, f := range []struct {
			name string
			n    int64
		}{{"thread_create_failures", srv.ThreadCreateFailure}, {"accept_errors", srv.AcceptErrors}} {
			if f.n > 0 {
				why = append(why, fmt.Sprintf("server %s %d", f.name, f.n))
			}
		}
		lim += fmt.Sprintf(" (%s descriptors: one per connection plus the listener and stdio; the hard limit cannot be raised here)", results.Thousands(int(srv.FDLimit)))
	}
	if len(why) == 0 {
		return "limited by " + lim + "; more needs several processes (-P, see make c100k)"
	}
	return "errors: " + strings.Join(why, ", ") + "; the count was chosen by " + lim
}

func fmtVal(n results.Num, unit string) string {
	if !n.Set {
		return "–"
	}
	if unit == "conns" {
		return results.Thousands(int(n.V))
	}
	return n.String() + " " + unit
}

// BenchText is the terminal table: one row per figure and server, then
// the targets with their verdicts.
func BenchText(rep BenchReport) string {
	var b strings.Builder
	head := []string{"figure", "conns", "server", "median [95% interval]", "runs", "× epoll [95%]", "× Go ref [95%]", "note"}
	right := []bool{false, true, false, true, true, true, true, false}
	var rows [][]string
	last := ""
	for _, f := range rep.Figures {
		title := f.Title
		if title == last {
			title = ""
		}
		last = f.Title
		med := fmtVal(f.Median, f.Unit)
		if f.CI != nil {
			med += fmt.Sprintf(" [%s–%s]", results.N(f.CI.Lo), results.N(f.CI.Hi))
		}
		runs := "–"
		if f.Median.Set {
			runs = strconv.Itoa(f.N)
		}
		rows = append(rows, []string{title, results.Thousands(f.Conns), f.Label, med, runs,
			ratioCI(f.VsEpoll, f.VsEpollCI), ratioCI(f.VsRef, f.VsRefCI), f.Note})
	}
	b.WriteString(Table(head, rows, right))
	b.WriteString("\n")
	b.WriteString(TargetsText("target (performance)", rep.Targets))
	fmt.Fprintf(&b, "\nMedian of %d runs per figure, in rounds of every cell in a random order; [ ] is the 95%% confidence interval of the median or of the ratio, and a target is met or not only when its whole interval is on one side of it, else inconclusive; pinning: %s; kernel stack per thread %s KiB (measured).\n", rep.Reps, rep.Pinning, rep.KStackPerThreadKiB)
	if rep.InterferenceMedPct.Set {
		fmt.Fprintf(&b, "Interference: other processes used a median %.0f%% (worst run %.0f%%) of the machine's CPU during the runs; load average at start %s.\n",
			rep.InterferenceMedPct.V, rep.InterferenceMaxPct.V, rep.LoadAvgStart)
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(&b, "Note: %s\n", n)
	}
	return b.String()
}

// TargetsText is the targets' table: each target, its verdict and what
// was measured, with what limited it.
func TargetsText(title string, targets []BenchTarget) string {
	var rows [][]string
	for _, t := range targets {
		m := t.Measured
		if t.Detail != "" {
			m += "; " + t.Detail
		}
		rows = append(rows, []string{t.Target, t.VerdictText(), m})
	}
	return Table([]string{title, "verdict", "measured"}, rows, []bool{false, false, false})
}

// ratioCI shows a ratio with its interval: "2.1× [1.9–2.3]".
func ratioCI(n results.Num, ci *confidence.Interval) string {
	if !n.Set {
		return "–"
	}
	if ci == nil {
		return ratioStr(n)
	}
	return fmt.Sprintf("%s× [%s–%s]", n, results.N(ci.Lo), results.N(ci.Hi))
}

func ratioStr(n results.Num) string {
	if !n.Set {
		return "–"
	}
	return n.String() + "×"
}

// BenchMarkdown is bench.md: the targets with their verdicts, every
// figure with its interval, and the counts behind the CPU.
func BenchMarkdown(rep BenchReport, res *results.Results) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# make bench — %s\n\n", rep.Started)
	b.WriteString("## Targets\n\n")
	var rows [][]string
	for _, t := range rep.Targets {
		m := t.Measured
		if t.Detail != "" {
			m += "; " + t.Detail
		}
		rows = append(rows, []string{t.Target, t.VerdictText(), strings.ReplaceAll(m, "|", "/")})
	}
	b.WriteString(MDTable([]string{"target", "verdict", "measured"}, rows, []bool{false, false, false}))
	fmt.Fprintf(&b, "\nA target is met, or not met, only when the whole 95%% interval of its figure is on one side of it; inconclusive otherwise. %s\n\n", Repetitions(res.Meta, res.Runs))
	b.WriteString("## Figures\n\n")
	rows = nil
	for _, f := range rep.Figures {
		med := fmtVal(f.Median, f.Unit)
		if f.CI != nil {
			med += fmt.Sprintf(" [%s–%s]", results.N(f.CI.Lo), results.N(f.CI.Hi))
		}
		rows = append(rows, []string{f.Title, results.Thousands(f.Conns), f.Label, med, ratioCI(f.VsEpoll, f.VsEpollCI), ratioCI(f.VsRef, f.VsRefCI), f.Note})
	}
	b.WriteString(MDTable([]string{"figure", "conns", "server", "median [95% interval]", "× epoll [95%]", "× Go ref [95%]", "note"}, rows,
		[]bool{false, true, false, true, true, true, false}))
	b.WriteString("\n")
	writeCounts(&b, res.Cells)
	if it := Interference(res.Runs); it != "" {
		b.WriteString("**Interference.** " + it + "\n\n")
	}
	for _, n := range rep.Notes {
		b.WriteString("- " + n + "\n")
	}
	fmt.Fprintf(&b, "\nReproduce with `%s`.\n", rep.Command)
	return b.String()
}

// EngineServer is the server the client's engines are measured against:
// epoll, the cheapest C server per message, else the first compared.
func EngineServer(compared []results.ServerSpec) results.ServerSpec {
	for _, s := range compared {
		if s.Key == epollKey {
			return s
		}
	}
	return compared[0]
}
