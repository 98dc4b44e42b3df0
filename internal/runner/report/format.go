// Package report turns results into what people and scripts read: the
// terminal tables, report.md, results.csv, and the summaries of the
// other modes (bench.json, c100k.json, models.json with their text).
package report

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"tenkthreads/internal/confidence"
	"tenkthreads/internal/runner/results"
)

// FmtUs shows microseconds in µs, ms or s.
func FmtUs(n results.Num) string {
	if !n.Set {
		return "–"
	}
	switch v := n.V; {
	case v >= 1e6:
		return results.FmtFloat(v/1e6) + " s"
	case v >= 1e3:
		return results.FmtFloat(v/1e3) + " ms"
	default:
		return results.FmtFloat(v) + " µs"
	}
}

// FmtInt shows a whole number, "–" when not measured.
func FmtInt(n results.Num) string {
	if !n.Set {
		return "–"
	}
	return strconv.FormatFloat(n.V, 'f', 0, 64)
}

// Spread shows a figure over its repetitions: "median [lo–hi]" with
// the 95% confidence interval of the median where the figure has one,
// else "median (min–max)" when repetitions differ; "*" marks a
// repetition flagged as an outlier (kept in the median).
func Spread(s results.Stat, f func(results.Num) string) string {
	if !s.Med.Set {
		return "–"
	}
	mark := ""
	if len(s.Outliers) > 0 {
		mark = "*"
	}
	switch {
	case s.CI != nil:
		return fmt.Sprintf("%s [%s–%s]%s", f(s.Med), f(results.N(s.CI.Lo)), f(results.N(s.CI.Hi)), mark)
	case s.N < 2 || f(s.Min) == f(s.Max):
		return f(s.Med) + mark
	}
	return fmt.Sprintf("%s (%s–%s)%s", f(s.Med), f(s.Min), f(s.Max), mark)
}

// SpreadLegend says how Spread shows a figure, for the tables' readers.
var SpreadLegend = "A figure shows the median of a cell's repetitions, with the 95% confidence interval of the median in brackets, [lo–hi], where the figure is compared between servers and there were enough repetitions (" +
	strconv.Itoa(confidence.MinSamples(confidence.DefaultLevel)) + " at least), else its range in parentheses, (min–max). " +
	"\"*\" marks a cell with a repetition more than 3.5 MADs from the median: an outlier, flagged and kept. \"–\" means not measured (the program did not report it, or the run failed before it could), never zero."

// Table renders aligned text columns; numeric-looking columns go right.
func Table(head []string, rows [][]string, right []bool) string {
	w := make([]int, len(head))
	for i, h := range head {
		w[i] = utf8.RuneCountInString(h)
	}
	for _, r := range rows {
		for i, c := range r {
			if n := utf8.RuneCountInString(c); n > w[i] {
				w[i] = n
			}
		}
	}
	var b strings.Builder
	line := func(cells []string) {
		for i, c := range cells {
			pad := strings.Repeat(" ", w[i]-utf8.RuneCountInString(c))
			if i > 0 {
				b.WriteString("  ")
			}
			if right[i] {
				b.WriteString(pad + c)
			} else if i == len(cells)-1 {
				b.WriteString(c)
			} else {
				b.WriteString(c + pad)
			}
		}
		b.WriteString("\n")
	}
	line(head)
	for _, r := range rows {
		line(r)
	}
	return b.String()
}

// MDTable renders a Markdown table; right marks right-aligned columns.
func MDTable(head []string, rows [][]string, right []bool) string {
	var b strings.Builder
	b.WriteString("| " + strings.Join(head, " | ") + " |\n|")
	for i := range head {
		if right[i] {
			b.WriteString("---:|")
		} else {
			b.WriteString("---|")
		}
	}
	b.WriteString("\n")
	for _, r := range rows {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	return b.String()
}

// Header opens every summary JSON: its schema, and when and how the run
// was made.
type Header struct {
	Schema   string `json:"schema"`
	Started  string `json:"started"`
	Finished string `json:"finished"`
	Command  string `json:"command"`
}

func header(schema string, m results.Meta) Header {
	return Header{Schema: schema, Started: m.Started, Finished: m.Finished, Command: m.Command}
}
