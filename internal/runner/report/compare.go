package report

import (
	"fmt"
	"strings"

	"tenkthreads/internal/confidence"
	"tenkthreads/internal/runner/results"
)

// CompareSchema names the layout of compare.json (cmd/experiment/SCHEMAS.md).
const CompareSchema = "10kthreads-compare/1"

// CompareRow is one figure of one cell, B against A.
type CompareRow struct {
	Figure     string                `json:"figure"` // its results.csv key
	Title      string                `json:"title"`
	Server     string                `json:"server"`
	Workload   string                `json:"workload"`
	Conns      int                   `json:"conns"`
	Comparison confidence.Comparison `json:"comparison"`
}

// CompareReport is compare.json: what A and B were, and every figure.
type CompareReport struct {
	Header
	Sides [2]string    `json:"sides"`
	Reps  int          `json:"reps"`
	Rows  []CompareRow `json:"rows"`
	Notes []string     `json:"notes"`
	// NoisyCalibration names the units whose calibration trials
	// disagreed: both sides' machine KiB/conn use the same calibration,
	// so B/A holds, but A's and B's own figures are less sure.
	NoisyCalibration []string `json:"noisy_calibration,omitempty"`
}

// comparedFigures are the figures -compare judges, by workload, and which
// way each improves.
var comparedFigures = map[string][]struct {
	f      results.Figure
	better confidence.Direction
}{
	"hold": {{results.KiBPerConn, confidence.LowerIsBetter}, {results.MachineKiBPerConn, confidence.LowerIsBetter}},
	"echo": {{results.ServerCPUPerRT, confidence.LowerIsBetter}, {results.RoundTripsPerS, confidence.HigherIsBetter}, {results.RTTP99, confidence.LowerIsBetter}},
}

// ComparePair is one server of A and the same server of B.
type ComparePair struct {
	Name string
	A, B string // their keys
}

// BuildCompare judges every figure of every cell B ran against A's, as
// one family: Holm's correction keeps the chance of any false "better"
// or "worse" among them at most 5%.
func BuildCompare(res *results.Results, pairs []ComparePair, sides [2]string) (CompareReport, error) {
	rep := CompareReport{Header: header(CompareSchema, res.Meta), Sides: sides, Reps: res.Meta.Reps, Rows: []CompareRow{}, Notes: res.Meta.Notes}
	var fam []confidence.Figure
	for _, p := range pairs {
		for _, a := range res.Cells {
			if a.Server != p.A {
				continue
			}
			b := results.FindCell(res.Cells, p.B, a.Workload, a.Conns)
			for _, cf := range comparedFigures[a.Workload] {
				av, bv := paired(a, b, cf.f)
				if len(av) == 0 {
					continue
				}
				fam = append(fam, confidence.Figure{Name: cf.f.Key(), A: av, B: bv, Better: cf.better, Paired: true})
				rep.Rows = append(rep.Rows, CompareRow{Figure: cf.f.Key(), Title: cf.f.Title(), Server: p.Name, Workload: a.Workload, Conns: a.Conns})
			}
		}
	}
	if len(fam) == 0 {
		return rep, nil
	}
	if cal := res.Meta.Calibration; cal != nil {
		rep.NoisyCalibration = noisy(cal)
	}
	cs, err := confidence.CompareFamily(fam, confidence.Options{})
	if err != nil {
		return rep, err
	}
	for i := range cs {
		rep.Rows[i].Comparison = cs[i]
	}
	return rep, nil
}

// paired is f of a's and b's runs from the same repetitions.
func paired(a, b *results.Cell, f results.Figure) (av, bv []float64) {
	if a == nil || b == nil {
		return nil, nil
	}
	bvals := b.Values(f)
	for _, r := range a.Runs {
		x := f.Of(r.M)
		if y, ok := bvals[r.Rep]; ok && x.Set {
			av, bv = append(av, x.V), append(bv, y)
		}
	}
	return av, bv
}

// compareRows is the table of a comparison, for text and Markdown.
func compareRows(rep CompareReport) (head []string, rows [][]string, right []bool) {
	head = []string{"figure", "server", "workload", "conns", "A median [95%]", "B median [95%]", "B/A [95%]", "verdict (B)"}
	right = []bool{false, false, false, true, true, true, true, false}
	for _, r := range rep.Rows {
		c := r.Comparison
		ratio := "–"
		if c.Ratio != nil {
			ratio = confidence.FormatRatio(*c.Ratio)
		}
		rows = append(rows, []string{r.Title, r.Server, r.Workload, results.Thousands(r.Conns),
			confidence.Format(c.A, ""), confidence.Format(c.B, ""), ratio, string(c.Verdict)})
	}
	return head, rows, right
}

// compareFooter says what the verdicts mean and what limited them.
func compareFooter(rep CompareReport) string {
	var b strings.Builder
	fmt.Fprintf(&b, "A is %s; B is %s. Each cell ran %d times a side, A's and B's runs in the same rounds in a random order. ", rep.Sides[0], rep.Sides[1], rep.Reps)
	b.WriteString("A verdict is B's against A at 95%: a two-sided Mann–Whitney test of the runs, with Holm's correction over every figure above, so that an A/A comparison reports a difference on any figure at most 5% of the time; \"no difference\" means the runs cannot tell the two apart, not that they are equal. The intervals are of the medians and of B/A (paired by round).\n")
	if n := rep.NoisyCalibration; len(n) > 0 {
		fmt.Fprintf(&b, "Note: the calibration's trials of the %s differ by more than a quarter of their median (other processes allocated or freed kernel objects meanwhile): machine KiB/conn uses the same calibration on both sides, so B/A and its verdict hold, but A's and B's own machine figures are less sure than their intervals say; rerun on a quiet machine for them.\n", strings.Join(n, ", "))
	}
	seen := map[string]bool{}
	for _, r := range rep.Rows {
		if n := r.Comparison.Note; n != "" && !seen[n] {
			seen[n] = true
			b.WriteString("Note: " + n + "\n")
		}
	}
	return b.String()
}

// CompareText is the terminal's comparison.
func CompareText(rep CompareReport) string {
	head, rows, right := compareRows(rep)
	if len(rows) == 0 {
		return "No figure was measured on both sides: nothing to compare.\n"
	}
	return Table(head, rows, right) + "\n" + compareFooter(rep)
}

// CompareMarkdown is compare.md.
func CompareMarkdown(rep CompareReport) string {
	head, rows, right := compareRows(rep)
	var b strings.Builder
	fmt.Fprintf(&b, "# A/B comparison — %s\n\n## Verdicts\n\n", rep.Started)
	if len(rows) == 0 {
		b.WriteString("No figure was measured on both sides: nothing to compare.\n")
	} else {
		b.WriteString(MDTable(head, rows, right) + "\n" + compareFooter(rep))
	}
	fmt.Fprintf(&b, "\nReproduce with `%s`.\n", rep.Command)
	return b.String()
}
