package plots

import (
	"math"

	"gonum.org/v1/plot/plotutil"

	"tenkthreads/internal/runner/results"
)

// Line is one line of a LineFigure. Lines are told apart by colour and
// marker, and past the seventh, whose colours repeat, by their dashes;
// Dashed draws a line dashed whatever its place (a variant of another).
type Line struct {
	Label  string
	Dashed bool
	X, Y   []float64
}

// LineFigure is a figure of lines against a logarithmic x axis, drawn
// from a mode's own table rather than from cells: the x of a point is
// whatever the mode varied.
type LineFigure struct {
	Name, Title, XLabel, YLabel, Caption string
	LogY                                 bool
	Lines                                []Line
}

// WriteLines writes f as dir/NAME.png and dir/NAME.svg.
func WriteLines(dir string, f LineFigure) (File, error) {
	var ss []series
	for i, l := range f.Lines {
		if f.LogY {
			l = positive(l)
		}
		s := series{label: l.Label, color: i, dashed: l.Dashed || i >= 7, xs: l.X, med: l.Y, lo: l.Y, hi: l.Y}
		if i >= 7 {
			s.dashes = plotutil.Dashes(1 + i/7)
		}
		ss = append(ss, s)
	}
	sp := plotSpec{name: f.Name, title: f.Title, ylabel: f.YLabel, caption: f.Caption, logY: f.LogY, noValues: len(f.Lines) > 6,
		series: func([]*results.Cell) []series { return ss }}
	p := newPlot(sp, nil)
	p.X.Label.Text = f.XLabel + " (log scale)"
	if len(ss) > 6 && p.X.Min > 0 {
		// A legend this long goes right of the data, which then takes
		// the left three quarters of the x axis.
		p.X.Max = p.X.Min * math.Pow(p.X.Max/p.X.Min, 4.0/3)
		p.Legend.Left = false
	}
	if err := save(p, dir, f.Name); err != nil {
		return File{}, err
	}
	return File{Name: f.Name, Caption: f.Caption}, nil
}

// positive is l without its points at or below 0, which a logarithmic
// axis cannot show.
func positive(l Line) Line {
	out := Line{Label: l.Label, Dashed: l.Dashed}
	for i, y := range l.Y {
		if y > 0 {
			out.X, out.Y = append(out.X, l.X[i]), append(out.Y, y)
		}
	}
	return out
}
