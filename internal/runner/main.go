package runner

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/report"
	"tenkthreads/internal/runner/results"
)

// Main runs bin/experiment; it returns the process exit status.
func Main(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	o, err := plan.Parse(args, getenv, modeFlags(), stderr)
	env := Env{Getenv: getenv}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if c, ok := modeOf(o).(Checker); ok && err == nil {
		err = c.Check(&o, env)
	}
	var ue plan.UsageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "experiment: %s\n%s\n", ue.Msg, plan.UsageLine(modeFlags()))
		return 2
	}
	if o.Report != "" {
		return rebuild(o, stdout, stderr)
	}
	return Execute(o, env, stdout, stderr)
}

// Execute runs the mode o selects; tests call it with options they built.
func Execute(o plan.Options, env Env, stdout, stderr io.Writer) int {
	return modeOf(o).Run(o, env, stdout, stderr)
}

// Rebuilder is a mode whose results directory holds a summary that
// -report DIR rebuilds from the raw data.
type Rebuilder interface {
	// Summary is the file that marks the mode's directory.
	Summary() string
	// Rebuild rebuilds the directory o.Report.
	Rebuild(o plan.Options, stdout, stderr io.Writer) int
}

// rebuild writes the report of the results directory o.Report again.
func rebuild(o plan.Options, stdout, stderr io.Writer) int {
	dir := o.Report
	for _, m := range modes {
		if r, ok := m.(Rebuilder); ok {
			if _, err := os.Stat(filepath.Join(dir, r.Summary())); err == nil {
				return r.Rebuild(o, stdout, stderr)
			}
		}
	}
	res, err := results.Load(dir)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	if err := report.Write(res); err != nil {
		return fail(stderr, "%v", err)
	}
	fmt.Fprint(stdout, report.SummaryTable(res.Cells))
	if cl := report.CheckLines(res.Runs); cl != "" {
		fmt.Fprintf(stdout, "\n%s", cl)
	}
	fmt.Fprintf(stdout, "\nreport: %s\n", filepath.Join(dir, "report.md"))
	return 0
}
