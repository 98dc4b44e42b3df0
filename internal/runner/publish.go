package runner

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/report"
	"tenkthreads/internal/runner/results"
)

// publish writes a mode's summary of res: results.csv, and with Markdown
// the standard report (its plots, and report.md with the summary's head
// on top), with Brief report.md with the head and the setting; it prints
// the summary's text and returns the file that holds the report.
func publish(res *results.Results, sum Summary, stdout io.Writer) (string, error) {
	path := filepath.Join(res.Dir, sum.File)
	var err error
	switch {
	case sum.Markdown:
		path, err = filepath.Join(res.Dir, "report.md"), report.Write(res, sum.Head)
	case sum.Brief:
		path, err = filepath.Join(res.Dir, "report.md"), report.WriteBrief(res, sum.Head)
	default:
		err = report.WriteCSV(filepath.Join(res.Dir, "results.csv"), res.Cells)
	}
	if err != nil {
		return "", err
	}
	fmt.Fprint(stdout, sum.Text)
	return path, nil
}

// Rebuilder is a mode whose results directory holds a summary of its
// own, which -report DIR rebuilds with the rest.
type Rebuilder interface {
	// SummaryFile is the file that marks the mode's directory.
	SummaryFile() string
	// Rebuild makes the summary again from res, the directory read back.
	Rebuild(res *results.Results, o plan.Options) (Summary, error)
}

// rebuildFrom reads a mode's summary NAME.json of res.Dir into a T and
// saves the summary again with save.
func rebuildFrom[T any](res *results.Results, name string, save func(dir string, old T) (Summary, error)) (Summary, error) {
	var old T
	if err := readJSON(filepath.Join(res.Dir, name+".json"), &old); err != nil {
		return Summary{}, err
	}
	return save(res.Dir, old)
}

// readJSON reads a summary file into v.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	return nil
}

// rebuild writes the report of the results directory o.Report again, as
// its mode wrote it: the matrix's standard report, or the summary of the
// mode whose summary file is there.
func rebuild(o plan.Options, stdout io.Writer) error {
	res, err := results.Load(o.Report)
	if err != nil {
		return err
	}
	sum := Summary{Text: report.SummaryTable(res.Cells), Markdown: true}
	if cl := report.CheckLines(res.Runs); cl != "" {
		sum.Text += "\n" + cl
	}
	for _, m := range modes {
		r, ok := m.(Rebuilder)
		if !ok {
			continue
		}
		if _, err := os.Stat(filepath.Join(o.Report, r.SummaryFile())); err == nil {
			if sum, err = r.Rebuild(res, o); err != nil {
				return err
			}
			break
		}
	}
	path, err := publish(res, sum, stdout)
	if err == nil {
		fmt.Fprintf(stdout, "\nreport: %s\n", path)
	}
	return err
}
