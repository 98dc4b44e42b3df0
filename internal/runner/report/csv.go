package report

import (
	"encoding/csv"
	"os"
	"strconv"

	"tenkthreads/internal/runner/results"
)

// WriteCSV writes one row per cell: median, min and max of every figure,
// then the 95% interval of the median of each compared figure, after all
// the others so that no column moves; an unmeasured figure is an empty
// field, never 0.
func WriteCSV(path string, cells []*results.Cell) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	head := []string{"server", "label", "model", "workload", "conns", "reps", "status"}
	for _, f := range results.Figures() {
		head = append(head, f.Key()+"_median", f.Key()+"_min", f.Key()+"_max")
	}
	var compared []results.Figure
	for _, f := range results.Figures() {
		if f.Compared() {
			compared = append(compared, f)
			head = append(head, f.Key()+"_ci_lo", f.Key()+"_ci_hi")
		}
	}
	_ = w.Write(head)
	for _, c := range cells {
		row := []string{c.Server, c.Label, c.Model, c.Workload, strconv.Itoa(c.Conns), strconv.Itoa(len(c.Runs)), c.Status()}
		for _, f := range results.Figures() {
			s := c.Stat(f)
			for _, n := range []results.Num{s.Med, s.Min, s.Max} {
				row = append(row, csvNum(n))
			}
		}
		for _, f := range compared {
			var lo, hi results.Num
			if ci := c.Stat(f).CI; ci != nil {
				lo, hi = results.N(ci.Lo), results.N(ci.Hi)
			}
			row = append(row, csvNum(lo), csvNum(hi))
		}
		_ = w.Write(row)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func csvNum(n results.Num) string {
	if !n.Set {
		return ""
	}
	return strconv.FormatFloat(n.V, 'g', -1, 64)
}
