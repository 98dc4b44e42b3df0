package report

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"tenkthreads/internal/clientreport"
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
	// Ratios of the medians to the C epoll model's and the Go reference's
	// figure (null when either is not measured).
	VsEpoll results.Num `json:"vs_epoll"`
	VsRef   results.Num `json:"vs_ref"`
	Note    string      `json:"note,omitempty"`
}

// BenchTarget is one target with its verdict.
type BenchTarget struct {
	Key       string      `json:"key"`
	Target    string      `json:"target"`
	Measured  string      `json:"measured"`
	Value     results.Num `json:"value"`
	Unit      string      `json:"unit"`
	Met       *bool       `json:"met"` // null: not measured
	StretchOK *bool       `json:"stretch_met,omitempty"`
	Detail    string      `json:"detail,omitempty"`
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
// ratio to epoll's and to the Go reference's among them.
func figures(res *results.Results, d figureDef, n int, servers []results.ServerSpec) []BenchFigure {
	var figs []BenchFigure
	med := map[string]results.Num{}
	for _, s := range servers {
		f := BenchFigure{Key: d.key, Title: d.title, Unit: d.unit, Conns: n, Server: s.Key, Label: s.Label}
		if cell := results.FindCell(res.Cells, s.Key, d.workload, n); cell == nil {
			f.Note = "not run"
		} else {
			st := cell.Stat(d.stat)
			f.Median, f.Min, f.Max, f.N, f.Runs = st.Med, st.Min, st.Max, st.N, len(cell.Runs)
			f.Note = figureNote(cell, d.stat)
		}
		med[s.Key] = f.Median
		figs = append(figs, f)
	}
	for i := range figs {
		figs[i].VsEpoll = results.Ratio(figs[i].Median, med[epollKey])
		figs[i].VsRef = results.Ratio(figs[i].Median, med[goRefKey])
	}
	return figs
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
			grp = append(grp, figures(res, fd, in.ForkN, []results.ServerSpec{*in.Fork})...)
		}
		// Ratios across the group.
		med := map[string]results.Num{}
		for _, f := range grp {
			med[f.Server] = f.Median
		}
		for i := range grp {
			grp[i].VsEpoll = results.Ratio(grp[i].Median, med[epollKey])
			grp[i].VsRef = results.Ratio(grp[i].Median, med[goRefKey])
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
	return out
}

// benchTargets judges the targets from the figures.
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
		t.Met, t.StretchOK = verdict(mem.Median.V <= 8), verdict(mem.Median.V <= 6)
		t.Measured = fmt.Sprintf("%s KiB (%s); kernel stack %s KiB beside it", mem.Median, spreadOf(mem), fig(figKStack, thr, top).Median)
	}
	targets := []BenchTarget{t}
	for _, n := range in.Counts {
		a, e, g := fig(figCPUPerRT, thr, n), fig(figCPUPerRT, epollKey, n), fig(figCPUPerRT, goRefKey, n)
		t := BenchTarget{Key: fmt.Sprintf("cpu_per_rt_%d", n), Target: fmt.Sprintf("thread model CPU per round trip at %s ≤ 2× epoll", results.Thousands(n)), Unit: "ratio", Value: a.VsEpoll}
		if a.VsEpoll.Set {
			t.Met = verdict(a.VsEpoll.V <= 2)
			t.Measured = fmt.Sprintf("%s× epoll (thread %s µs, epoll %s µs, Go ref %s µs = %s× thread)", a.VsEpoll, a.Median, e.Median, g.Median, results.Ratio(g.Median, a.Median))
		}
		targets = append(targets, t)
	}
	targets = append(targets, uringTargets(in, fig)...)
	targets = append(targets, acceptTarget(fig(figAccept, thr, top), fig(figConnectAll, thr, top), top))
	bw := fig(figGiBPerS, thr, 1)
	t = BenchTarget{Key: "large_transfer", Target: "thread model: one connection echoes ≥ 1 GiB/s", Unit: "GiB/s", Value: bw.Median}
	if bw.Median.Set {
		t.Met = verdict(bw.Median.V >= 1)
		t.Measured = fmt.Sprintf("%s GiB/s (%s)", bw.Median, spreadOf(bw))
	}
	targets = append(targets, t)
	t = scaleTarget(res, in, thr)
	return append(targets, t), t.Detail
}

func verdict(ok bool) *bool { return &ok }

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
		t.Value, t.Met = results.N(d), verdict(d <= 0.5)
		t.Measured = fmt.Sprintf("%+.3f KiB (uring %s KiB, %s; epoll %s KiB)", d, u.Median, spreadOf(u), e.Median)
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
			t.Met = verdict(u.VsEpoll.V <= 1)
			t.Measured = fmt.Sprintf("%s× epoll (uring %s µs, %s; epoll %s µs, %s)", u.VsEpoll, u.Median, spreadOf(u), e.Median, spreadOf(e))
		}
		out = append(out, t)
	}
	return out
}

// acceptTarget judges the server's accept time, or the client's connect
// time when the server's was not measured.
func acceptTarget(acc, cl BenchFigure, top int) BenchTarget {
	t := BenchTarget{Key: "accept", Target: fmt.Sprintf("thread server takes %s connections in < 1 s", results.Thousands(top)), Unit: "s", Value: acc.Median}
	if acc.Median.Set {
		t.Met = verdict(acc.Median.V < 1)
		t.Measured = fmt.Sprintf("server %s s (first to last thread; %s), client connect-all %s s", acc.Median, spreadOf(acc), cl.Median)
	} else if cl.Median.Set {
		t.Value = cl.Median
		t.Met = verdict(cl.Median.V < 1)
		t.Measured = fmt.Sprintf("client connect-all %s s (server-side timing not available)", cl.Median)
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
	t.Met = verdict(v.Set && int(v.V) == in.ScaleN && e.Set && e.V == 0 && cell.Status() == results.StatusOK)
	t.Measured = fmt.Sprintf("%s of %s verified, %s errors, status %s", FmtInt(v), results.Thousands(in.ScaleN), FmtInt(e), cell.Status())
	t.Detail = scaleLimit(res, cell)
	if in.ScaleN < in.ScaleFit {
		t.Detail = fmt.Sprintf("count capped at %s by -quick or -counts; the fd limit allows %s", results.Thousands(in.ScaleN), results.Thousands(in.ScaleFit))
	}
	return t
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
		rows = append(rows, []string{title, results.Thousands(f.Conns), f.Label, fmtVal(f.Median, f.Unit), sp,
			ratioStr(f.VsEpoll), ratioStr(f.VsRef), f.Note})
	}
	b.WriteString(Table(head, rows, right))
	b.WriteString("\n")
	head = []string{"target (performance)", "verdict", "measured"}
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
	b.WriteString(Table(head, rows, []bool{false, false, false}))
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

func ratioStr(n results.Num) string {
	if !n.Set {
		return "–"
	}
	return n.String() + "×"
}
