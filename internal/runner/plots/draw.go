package plots

import (
	"image/color"
	"math"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"tenkthreads/internal/runner/results"
)

type errXY struct {
	plotter.XYs
	plotter.YErrors
}

func newPlot(sp plotSpec, cells []*results.Cell) *plot.Plot {
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
	logY := setYAxis(p, sp.logY, ymin, ymax)
	var labels []valueLabel
	for _, s := range ss {
		labels = append(labels, addSeries(p, s)...)
	}
	if !sp.noValues {
		placeLabels(p, labels, logY)
	}
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

// setYAxis scales y from ymin to ymax, logarithmic when asked for and the
// values span more than 5×; it says whether it did.
func setYAxis(p *plot.Plot, wantLog bool, ymin, ymax float64) bool {
	if wantLog && ymin > 0 && ymax/ymin > 5 {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		p.Y.Min, p.Y.Max = ymin/1.5, ymax*4
		p.Y.Label.Text += ", log scale"
		return true
	}
	// Start at zero so ratios between lines read true; headroom for the legend.
	p.Y.Min, p.Y.Max = 0, ymax*1.45
	if ymax <= 0 {
		p.Y.Max = 1
	}
	p.Y.Tick.Marker = niceTicks{}
	return false
}

// addSeries draws one server's line with its error bars and legend entry,
// and returns the value labels of its points.
func addSeries(p *plot.Plot, s series) []valueLabel {
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
		return nil
	}
	l.Color, l.Width = col, vg.Points(1.6)
	sc.Color, sc.Shape, sc.Radius = col, plotutil.Shape(s.color), vg.Points(3.5)
	switch {
	case s.dashes != nil:
		l.Dashes = s.dashes
	case s.dashed:
		l.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
		sc.Shape = draw.BoxGlyph{}
	}
	p.Add(l, sc)
	if eb, err := plotter.NewYErrorBars(errXY{pts, errs}); err == nil {
		eb.Color = col
		p.Add(eb)
	}
	p.Legend.Add(s.label, l, sc)
	var labels []valueLabel
	for i := range pts {
		labels = append(labels, valueLabel{x: pts[i].X, y: pts[i].Y, col: col})
	}
	return labels
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
			ticks = append(ticks, plot.Tick{Value: x, Label: results.Thousands(int(x))})
		}
	}
	sort.Slice(ticks, func(i, j int) bool { return ticks[i].Value < ticks[j].Value })
	return ticks
}

// niceTicks labels 4-8 round values (1, 2 or 5 times a power of ten); the
// default ticker sometimes labels only two.
type niceTicks struct{}

func (niceTicks) Ticks(lo, hi float64) []plot.Tick {
	span := hi - lo
	if span <= 0 {
		return []plot.Tick{{Value: lo, Label: results.FmtFloat(lo)}}
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
			lbl = results.Thousands(int(v))
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
		return results.Thousands(int(math.Round(v)))
	}
	return results.FmtFloat(v)
}
