package plots

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"tenkthreads/internal/runner/results"
)

// CeilingLine is one server in the ceiling figure: the machine memory its
// held steps used, and the line fitted to them.
type CeilingLine struct {
	Label          string
	Conns, UsedGiB []float64
	// FixedGiB + PerConnGiB × connections is the fitted line, drawn up to
	// Until (its extrapolated ceiling); PerConnGiB 0 draws no line.
	FixedGiB, PerConnGiB, Until float64
	// Predicted is the predicted ceiling, marked on the line (0: none).
	Predicted float64
}

// Ceiling draws ceiling.png and ceiling.svg: memory used against
// connections held, each server's fitted line carried to MemAvailable,
// with MemAvailable and the runs' cap as horizontal lines.
func Ceiling(dir string, lines []CeilingLine, memGiB, capShare float64) (File, error) {
	p := plot.New()
	p.Title.Text = "Connections held against machine memory used, carried to MemAvailable"
	p.X.Label.Text = "connections held (log scale)"
	p.Y.Label.Text = "MemAvailable used (GiB)"
	p.Add(plotter.NewGrid())
	xmin, xmax := math.Inf(1), 0.0
	for _, l := range lines {
		for _, x := range append(append([]float64{}, l.Conns...), l.Until, l.Predicted) {
			if x > 0 {
				xmin, xmax = math.Min(xmin, x), math.Max(xmax, x)
			}
		}
	}
	if xmax == 0 {
		p.Title.Text += "\nnothing was held"
		xmin, xmax = 1, 10
	}
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = thousandsLogTicks{}
	p.X.Min, p.X.Max = xmin/1.5, xmax*1.5
	// Room above MemAvailable for the legend.
	p.Y.Min, p.Y.Max = 0, memGiB*1.5
	for i, l := range lines {
		if err := addCeilingLine(p, l, i); err != nil {
			return File{}, err
		}
	}
	hline(p, memGiB, "MemAvailable at the start", color.RGBA{A: 255})
	hline(p, memGiB*capShare, fmt.Sprintf("%.0f%% of it: no run went past", 100*capShare), color.RGBA{R: 160, G: 160, B: 160, A: 255})
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.TextStyle.Color = color.Black
	f := File{Name: "ceiling", Caption: "Each point is a step where every connection was held and verified; lines are fitted to them and end where they reach MemAvailable or another limit binds; a cross marks the predicted ceiling."}
	for _, ext := range []string{"png", "svg"} {
		if err := p.Save(9*vg.Inch, 5.5*vg.Inch, filepath.Join(dir, f.Name+"."+ext)); err != nil {
			return File{}, fmt.Errorf("plot %s.%s: %v", f.Name, ext, err)
		}
	}
	return f, nil
}

func addCeilingLine(p *plot.Plot, l CeilingLine, i int) error {
	c := plotutil.Color(i)
	if len(l.Conns) > 0 {
		pts := make(plotter.XYs, len(l.Conns))
		for j := range l.Conns {
			pts[j] = plotter.XY{X: l.Conns[j], Y: l.UsedGiB[j]}
		}
		sc, err := plotter.NewScatter(pts)
		if err != nil {
			return err
		}
		sc.Color, sc.Shape, sc.Radius = c, draw.CircleGlyph{}, vg.Points(3)
		p.Add(sc)
		p.Legend.Add(l.Label, sc)
	}
	if l.PerConnGiB <= 0 || l.Until <= 0 {
		return nil
	}
	var pts plotter.XYs
	for x := l.Conns[0]; ; x *= 1.1 {
		x = math.Min(x, l.Until)
		pts = append(pts, plotter.XY{X: x, Y: l.FixedGiB + l.PerConnGiB*x})
		if x >= l.Until {
			break
		}
	}
	ln, err := plotter.NewLine(pts)
	if err != nil {
		return err
	}
	ln.Color, ln.Dashes = c, []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(ln)
	if l.Predicted > 0 {
		y := math.Min(l.FixedGiB+l.PerConnGiB*l.Predicted, p.Y.Max)
		mk, err := plotter.NewScatter(plotter.XYs{{X: l.Predicted, Y: y}})
		if err != nil {
			return err
		}
		mk.Color, mk.Shape, mk.Radius = c, draw.CrossGlyph{}, vg.Points(5)
		p.Add(mk)
	}
	return nil
}

func hline(p *plot.Plot, y float64, label string, c color.Color) {
	ln, err := plotter.NewLine(plotter.XYs{{X: p.X.Min, Y: y}, {X: p.X.Max, Y: y}})
	if err != nil {
		return
	}
	ln.Color, ln.Width = c, vg.Points(1)
	p.Add(ln)
	p.Legend.Add(label, ln)
}

// thousandsLogTicks are log ticks labelled as counts: 10,000, not 1e+04.
type thousandsLogTicks struct{}

func (thousandsLogTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.LogTicks{Prec: -1}.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = results.Thousands(int(math.Round(ts[i].Value)))
		}
	}
	return ts
}
