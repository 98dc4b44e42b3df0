package report

import (
	"encoding/csv"
	"os"
	"strconv"

	"tenkthreads/internal/runner/results"
)

// WriteCSV writes one row per cell: median, min and max of every figure;
// an unmeasured figure is an empty field, never 0.
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
	_ = w.Write(head)
	for _, c := range cells {
		row := []string{c.Server, c.Label, c.Model, c.Workload, strconv.Itoa(c.Conns), strconv.Itoa(len(c.Runs)), c.Status()}
		for _, f := range results.Figures() {
			s := c.Stat(f)
			for _, n := range []results.Num{s.Med, s.Min, s.Max} {
				if n.Set {
					row = append(row, strconv.FormatFloat(n.V, 'g', -1, 64))
				} else {
					row = append(row, "")
				}
			}
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
