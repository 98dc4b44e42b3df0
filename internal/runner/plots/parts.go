package plots

import (
	"math"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"tenkthreads/internal/runner/results"
)

const partsCaption = "Each bar is one server at one connection count, its height the machine memory per held connection " +
	"(machine KiB/conn, the median run), stacked by part: the server's user-space memory, its threads' kernel stacks, " +
	"the other kernel objects of its threads and their mappings (task_struct, pid, vm_area_struct...), its end of each " +
	"connection's socket with its epoll registration, and the growth of its page tables. " +
	"The client's end of each connection is not in the bars."

// partsPlot draws the stacked bars of the hold cells that have every part.
func partsPlot(cells []*results.Cell) *plot.Plot {
	p := plot.New()
	p.Title.Text = "Machine memory per idle connection, by part (hold workload; " + medianNote(cells) + ")"
	p.Y.Label.Text = "KiB per connection"
	var bars []*results.Cell
	for _, c := range cells {
		if c.Stat(results.MachineKiBPerConn).Med.Set {
			bars = append(bars, c)
		}
	}
	if len(bars) == 0 {
		p.Title.Text += "\nnot measured in this run"
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
		return p
	}
	// By count, then servers in the cells' order.
	var ordered []*results.Cell
	for _, n := range countsOf(bars) {
		for _, c := range bars {
			if c.Conns == n {
				ordered = append(ordered, c)
			}
		}
	}
	width := vg.Points(math.Min(36, 420/float64(len(ordered))))
	var below *plotter.BarChart
	for i, part := range results.MachineParts {
		vals := make(plotter.Values, len(ordered))
		for j, c := range ordered {
			vals[j] = math.Max(0, c.Stat(part.Figure).Med.V)
		}
		b, err := plotter.NewBarChart(vals, width)
		if err != nil {
			continue
		}
		b.Color, b.LineStyle.Width = plotutil.Color(i), 0
		if below != nil {
			b.StackOn(below)
		}
		below = b
		p.Add(b)
		p.Legend.Add(part.Name, b)
	}
	names := make([]string, len(ordered))
	top := 0.0
	for j, c := range ordered {
		names[j] = shortLabel(c.Label) + "\n" + results.Thousands(c.Conns)
		top = math.Max(top, c.Stat(results.MachineKiBPerConn).Med.V)
	}
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.6, float64(len(ordered))-0.4
	p.Y.Min, p.Y.Max = 0, top*1.3
	p.Y.Tick.Marker = niceTicks{}
	totals(p, ordered)
	p.Legend.Top, p.Legend.Left = true, false
	return p
}

// totals writes each bar's machine KiB/conn above it.
func totals(p *plot.Plot, cells []*results.Cell) {
	xy := make(plotter.XYs, len(cells))
	lbls := make([]string, len(cells))
	for j, c := range cells {
		xy[j].X, xy[j].Y = float64(j), c.Stat(results.MachineKiBPerConn).Med.V
		lbls[j] = plotNum(xy[j].Y)
	}
	l, err := plotter.NewLabels(plotter.XYLabels{XYs: xy, Labels: lbls})
	if err != nil {
		return
	}
	for i := range l.TextStyle {
		l.TextStyle[i].XAlign, l.TextStyle[i].YAlign = draw.XCenter, draw.YBottom
	}
	l.Offset = vg.Point{Y: vg.Points(2)}
	p.Add(l)
}

// shortLabel is "thread" for "10kthreads (thread)": the model names the bar.
func shortLabel(label string) string {
	if i := strings.Index(label, "("); i >= 0 && strings.HasSuffix(label, ")") {
		return label[i+1 : len(label)-1]
	}
	return label
}

func countsOf(cells []*results.Cell) []int {
	seen := map[int]bool{}
	var out []int
	for _, c := range cells {
		if !seen[c.Conns] {
			seen[c.Conns] = true
			out = append(out, c.Conns)
		}
	}
	sort.Ints(out)
	return out
}
