package runner

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// PlotFile is one figure the report embeds.
type PlotFile struct {
	Name    string // file stem; .png and .svg exist
	Caption string
}

type series struct {
	label  string
	dashed bool
	color  int
	xs     []float64
	med    []float64
	lo, hi []float64
}

type plotSpec struct {
	name, title, ylabel, caption string
	workload                     string
	series                       func(cells []*Cell) []series
	logY                         bool
}

// seriesOf makes one line per server from one statistic; scale converts
// units (e.g. µs to ms).
func seriesOf(key string, scale float64) func([]*Cell) []series {
	return func(cells []*Cell) []series {
		return byServer(cells, func(c *Cell) (Stat, bool) { s := c.stat(key); return s, s.Med.Set }, scale, "", false)
	}
}

func byServer(cells []*Cell, get func(*Cell) (Stat, bool), scale float64, suffix string, dashed bool) []series {
	idx := map[string]int{}
	var out []series
	colorOf := serverColors(cells)
	for _, c := range cells {
		s, ok := get(c)
		if !ok {
			continue
		}
		i, seen := idx[c.Server]
		if !seen {
			i = len(out)
			idx[c.Server] = i
			out = append(out, series{label: c.Label + suffix, dashed: dashed, color: colorOf[c.Server]})
		}
		se := &out[i]
		se.xs = append(se.xs, float64(c.Conns))
		se.med = append(se.med, s.Med.V*scale)
		se.lo = append(se.lo, s.Min.V*scale)
		se.hi = append(se.hi, s.Max.V*scale)
	}
	return out
}

// serverColors keeps one colour per server across all figures.
func serverColors(cells []*Cell) map[string]int {
	m := map[string]int{}
	for _, c := range cells {
		if _, ok := m[c.Server]; !ok {
			m[c.Server] = len(m)
		}
	}
	return m
}

// memSeries draws user-space memory per connection, and for servers that
// ran a thread per connection a dashed line with the kernel stacks stacked
// on top, since RSS does not show them.
func memSeries(cells []*Cell) []series {
	out := byServer(cells, func(c *Cell) (Stat, bool) {
		s := c.stat("kib_per_conn")
		return s, s.Med.Set
	}, 1, " — user space", false)
	threaded := threadedServers(cells)
	stacked := byServer(cells, func(c *Cell) (Stat, bool) {
		u, k := c.stat("kib_per_conn"), c.stat("kstack_kib_per_conn")
		if !threaded[c.Server] || !u.Med.Set || !k.Med.Set {
			return Stat{}, false
		}
		return Stat{Med: num(u.Med.V + k.Med.V), Min: num(u.Min.V + k.Min.V), Max: num(u.Max.V + k.Max.V), N: u.N}, true
	}, 1, " — user space + kernel stacks", true)
	// Each stacked line right after its server's user-space line, so the
	// legend reads in pairs.
	var paired []series
	for _, u := range out {
		paired = append(paired, u)
		for _, st := range stacked {
			if st.color == u.color {
				paired = append(paired, st)
			}
		}
	}
	return paired
}

// threadedServers judges each server at its largest count, where a few
// runtime threads can no longer pass for one per connection.
func threadedServers(cells []*Cell) map[string]bool {
	largest := map[string]*Cell{}
	for _, c := range cells {
		if !c.stat("server_threads_peak").Med.Set || !c.stat("server_max_conc").Med.Set {
			continue
		}
		if l := largest[c.Server]; l == nil || c.Conns > l.Conns {
			largest[c.Server] = c
		}
	}
	out := map[string]bool{}
	for k, c := range largest {
		out[k] = c.threadPerConn()
	}
	return out
}

func medianNote(cells []*Cell) string {
	reps := 0
	for _, c := range cells {
		reps = max(reps, len(c.Runs))
	}
	if reps > 1 {
		return fmt.Sprintf("median of %d runs, bars show min–max", reps)
	}
	return "1 run per point"
}

func plotSpecs(cells []*Cell) []plotSpec {
	hold, echo := medianNote(cellsOf(cells, "hold")), medianNote(cellsOf(cells, "echo"))
	return []plotSpec{
		{
			name:     "mem_per_conn",
			title:    "Resident memory per idle connection (hold workload; " + hold + ")",
			ylabel:   "KiB per connection",
			workload: "hold",
			series:   memSeries,
			caption: "Solid: the server's user-space resident memory growth (VmHWM) divided by its peak connections. " +
				"Dashed (thread-per-connection servers only): the same plus the kernel stacks of the threads " +
				"(the server's extra threads at the peak × the kernel stack per thread), which RSS does not count. " +
				"Kernel socket buffers, which every server needs alike, are in neither line.",
		},
		{
			name:     "cpu_per_rt",
			title:    "Server CPU time per round trip (echo workload; " + echo + ")",
			ylabel:   "server CPU per round trip (µs, user + system)",
			workload: "echo",
			series:   seriesOf("server_cpu_us_per_rt", 1),
			caption:  "The server's user + system CPU time over the whole run divided by the round trips the client completed; lower is cheaper.",
		},
		{
			name:     "rtt_p99",
			title:    "99th percentile round-trip latency (echo workload; " + echo + ")",
			ylabel:   "p99 round-trip time (ms)",
			workload: "echo",
			series:   seriesOf("rtt_p99_us", 1e-3),
			logY:     true,
			caption:  "Measured by the client from sending a message to receiving the last byte of its echo, closed loop on every connection; the y axis turns logarithmic when the values span more than 5×.",
		},
		{
			name:     "rt_per_s",
			title:    "Round trips per second, all connections together (echo workload; " + echo + ")",
			ylabel:   "round trips per second",
			workload: "echo",
			series:   seriesOf("round_trips_per_s", 1),
			caption:  "Completed echo round trips per second over the whole client run; higher is better.",
		},
	}
}

// WritePlots writes every figure as PNG and SVG into dir. A figure with no
// data still exists and says so, so a report never links a missing file.
func WritePlots(dir string, cells []*Cell) ([]PlotFile, error) {
	var files []PlotFile
	specs := plotSpecs(cells)
	if rc := cellsOf(cells, "reconnect"); len(rc) > 0 {
		specs = append(specs, plotSpec{
			name:     "reconnect_rt_per_s",
			title:    "Connection per request: requests per second (" + medianNote(rc) + ")",
			ylabel:   "requests (connect, echo, close) per second",
			workload: "reconnect",
			series:   seriesOf("round_trips_per_s", 1),
			caption:  "Each request opens a new connection, does one echo and closes; x is the number of concurrent clients.",
		})
	}
	for _, sp := range specs {
		p := newPlot(sp, cellsOf(cells, sp.workload))
		for _, ext := range []string{"png", "svg"} {
			if err := p.Save(9*vg.Inch, 5.5*vg.Inch, filepath.Join(dir, sp.name+"."+ext)); err != nil {
				return nil, fmt.Errorf("plot %s.%s: %v", sp.name, ext, err)
			}
		}
		files = append(files, PlotFile{Name: sp.name, Caption: sp.caption})
	}
	return files, nil
}

type errXY struct {
	plotter.XYs
	plotter.YErrors
}

func newPlot(sp plotSpec, cells []*Cell) *plot.Plot {
	p := plot.New()
	p.Title.Text = sp.title
	p.X.Label.Text = "concurrent connections (log scale)"
	p.Y.Label.Text = sp.ylabel
	p.Add(plotter.NewGrid())
	ss := sp.series(cells)
	var xs []float64
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		xs = append(xs, s.xs...)
		for i := range s.med {
			ymin = math.Min(ymin, s.lo[i])
			ymax = math.Max(ymax, s.hi[i])
		}
	}
	if len(xs) == 0 {
		p.Title.Text += "\nnot measured in this run"
		p.X.Label.Text = "concurrent connections"
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
		return p
	}
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = countTicks(xs)
	lo, hi := minmax(xs)
	p.X.Min, p.X.Max = lo/1.6, hi*1.6

	logY := sp.logY && ymin > 0 && ymax/ymin > 5
	if logY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		p.Y.Min, p.Y.Max = ymin/1.5, ymax*4
		p.Y.Label.Text += ", log scale"
	} else {
		// Start at zero so ratios between lines read true; headroom for the legend.
		p.Y.Min, p.Y.Max = 0, ymax*1.45
		if ymax <= 0 {
			p.Y.Max = 1
		}
		p.Y.Tick.Marker = niceTicks{}
	}
	var labels []valueLabel
	for _, s := range ss {
		pts := make(plotter.XYs, len(s.xs))
		errs := make(plotter.YErrors, len(s.xs))
		for i := range s.xs {
			pts[i].X, pts[i].Y = s.xs[i], s.med[i]
			errs[i].Low, errs[i].High = s.med[i]-s.lo[i], s.hi[i]-s.med[i]
		}
		sortXY(pts, errs)
		col := plotutil.Color(s.color)
		l, sc, err := plotter.NewLinePoints(pts)
		if err != nil {
			continue
		}
		l.Color, l.Width = col, vg.Points(1.6)
		sc.Color, sc.Shape, sc.Radius = col, plotutil.Shape(s.color), vg.Points(3.5)
		if s.dashed {
			l.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
			sc.Shape = draw.BoxGlyph{}
		}
		p.Add(l, sc)
		if eb, err := plotter.NewYErrorBars(errXY{pts, errs}); err == nil {
			eb.Color = col
			p.Add(eb)
		}
		p.Legend.Add(s.label, l, sc)
		for i := range pts {
			labels = append(labels, valueLabel{x: pts[i].X, y: pts[i].Y, col: col})
		}
	}
	placeLabels(p, labels, logY)
	// A server without figures is named, so its absence is not mistaken
	// for a line hidden behind another.
	have := map[int]bool{}
	for _, s := range ss {
		have[s.color] = true
	}
	colors := serverColors(cells)
	for _, c := range cells {
		if i := colors[c.Server]; !have[i] {
			have[i] = true
			p.Legend.Add(c.Label + " — not measured")
		}
	}
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.Padding = vg.Points(3)
	p.Legend.TextStyle.Color = color.Black
	return p
}

func sortXY(pts plotter.XYs, errs plotter.YErrors) {
	idx := make([]int, len(pts))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return pts[idx[a]].X < pts[idx[b]].X })
	p2 := append(plotter.XYs{}, pts...)
	e2 := append(plotter.YErrors{}, errs...)
	for i, j := range idx {
		pts[i], errs[i] = p2[j], e2[j]
	}
}

func minmax(xs []float64) (float64, float64) {
	lo, hi := xs[0], xs[0]
	for _, x := range xs {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return lo, hi
}

// countTicks labels exactly the connection counts that were run.
func countTicks(xs []float64) plot.Ticker {
	seen := map[float64]bool{}
	var ticks plot.ConstantTicks
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			ticks = append(ticks, plot.Tick{Value: x, Label: thousands(int(x))})
		}
	}
	sort.Slice(ticks, func(i, j int) bool { return ticks[i].Value < ticks[j].Value })
	return ticks
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// niceTicks labels 4-8 round values (1, 2 or 5 times a power of ten); the
// default ticker sometimes labels only two.
type niceTicks struct{}

func (niceTicks) Ticks(lo, hi float64) []plot.Tick {
	span := hi - lo
	if span <= 0 {
		return []plot.Tick{{Value: lo, Label: fmtFloat(lo)}}
	}
	step := math.Pow(10, math.Floor(math.Log10(span/5)))
	for _, m := range []float64{1, 2, 5, 10} {
		if span/(step*m) <= 8 {
			step *= m
			break
		}
	}
	prec := max(0, int(-math.Floor(math.Log10(step))))
	var ticks []plot.Tick
	for i := math.Ceil(lo / step); i*step <= hi+step*1e-9; i++ {
		v := i * step
		lbl := strconv.FormatFloat(v, 'f', prec, 64)
		if prec == 0 {
			lbl = thousands(int(v))
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: lbl})
		for k := 1; k < 5; k++ {
			if minor := v + step*float64(k)/5; minor <= hi {
				ticks = append(ticks, plot.Tick{Value: minor})
			}
		}
	}
	return ticks
}

type valueLabel struct {
	x, y float64
	col  color.Color
}

// placeLabels writes each point's value beside it, nudging labels at the
// same x apart so that close values stay readable.
func placeLabels(p *plot.Plot, labels []valueLabel, logY bool) {
	pos := func(y float64) float64 {
		if logY {
			return (math.Log(y) - math.Log(p.Y.Min)) / (math.Log(p.Y.Max) - math.Log(p.Y.Min))
		}
		return (y - p.Y.Min) / (p.Y.Max - p.Y.Min)
	}
	unpos := func(t float64) float64 {
		if logY {
			return math.Exp(math.Log(p.Y.Min) + t*(math.Log(p.Y.Max)-math.Log(p.Y.Min)))
		}
		return p.Y.Min + t*(p.Y.Max-p.Y.Min)
	}
	byX := map[float64][]valueLabel{}
	for _, l := range labels {
		byX[l.x] = append(byX[l.x], l)
	}
	const gap = 0.045 // of the plot height: about one line of text
	for _, group := range byX {
		sort.Slice(group, func(i, j int) bool { return group[i].y < group[j].y })
		last := math.Inf(-1)
		for _, l := range group {
			t := math.Max(pos(l.y), last+gap)
			last = t
			lbl, err := plotter.NewLabels(plotter.XYLabels{
				XYs:    plotter.XYs{{X: l.x, Y: unpos(t)}},
				Labels: []string{plotNum(l.y)},
			})
			if err != nil {
				continue
			}
			// Above and right of the marker: clear of its error bar, and of
			// a flat line through it.
			lbl.TextStyle[0].Color = l.col
			lbl.TextStyle[0].YAlign = draw.YBottom
			lbl.Offset = vg.Point{X: vg.Points(5), Y: vg.Points(3)}
			p.Add(lbl)
		}
	}
}

// plotNum is fmtFloat with thousands separators for large values.
func plotNum(v float64) string {
	if math.Abs(v) >= 1000 {
		return thousands(int(math.Round(v)))
	}
	return fmtFloat(v)
}
