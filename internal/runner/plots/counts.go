package plots

import (
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"tenkthreads/internal/runner/results"
)

const countsCaption = "What the kernel counted for each server's processes over a counted echo run " +
	"(perf_event_open: software events and the raw_syscalls:sys_enter tracepoint), per round trip the client completed, " +
	"at each connection count: a thread per connection blocks and is woken on every message, " +
	"where an event loop handles many ready connections per wake-up."

// countFigures are the counts drawn side by side per server.
var countFigures = []struct {
	name string
	f    results.Figure
}{
	{"context switches", results.CtxSwitchesPerRT},
	{"system calls", results.SyscallsPerRT},
	{"CPU migrations", results.MigrationsPerRT},
	{"page faults", results.PageFaultsPerRT},
}

// countsPlot draws the counted cells' counts per round trip as groups of
// bars, one group per server and count.
func countsPlot(cells []*results.Cell) *plot.Plot {
	p := plot.New()
	p.Title.Text = "The counts behind the CPU, per round trip (counted echo run, 1 run per bar)"
	p.Y.Label.Text = "per round trip"
	var ordered []*results.Cell
	for _, n := range countsOf(cells) {
		for _, c := range cells {
			if c.Conns == n && c.Stat(results.SyscallsPerRT).Med.Set {
				ordered = append(ordered, c)
			}
		}
	}
	if len(ordered) == 0 {
		p.Title.Text += "\nnot counted in this run"
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
		return p
	}
	width := vg.Points(math.Min(22, 400/float64(len(ordered)*len(countFigures))))
	top := 0.0
	for i, cf := range countFigures {
		vals := make(plotter.Values, len(ordered))
		for j, c := range ordered {
			vals[j] = math.Max(0, c.Stat(cf.f).Med.V)
			top = math.Max(top, vals[j])
		}
		b, err := plotter.NewBarChart(vals, width)
		if err != nil {
			continue
		}
		b.Color, b.LineStyle.Width = plotutil.Color(i), 0
		b.Offset = width * vg.Length(float64(i)-float64(len(countFigures)-1)/2)
		p.Add(b)
		p.Legend.Add(cf.name, b)
	}
	names := make([]string, len(ordered))
	for j, c := range ordered {
		names[j] = shortLabel(c.Label) + "\n" + results.Thousands(c.Conns)
	}
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.6, float64(len(ordered))-0.4
	p.Y.Min, p.Y.Max = 0, math.Max(top*1.25, 1)
	p.Y.Tick.Marker = niceTicks{}
	p.Legend.Top, p.Legend.Left = true, false
	return p
}
