package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"tenkthreads/internal/runner/plan"
	"tenkthreads/internal/runner/plots"
	"tenkthreads/internal/runner/report"
	"tenkthreads/internal/runner/results"
)

// backendDelay is the -d each request of -models and -keepalive waits,
// a call to a backend: long enough that a design serving W connections
// at a time stops at W / delay requests per second, below what the
// client's core can drive (about 12,000 new connections a second here),
// so the designs part: iterative 100/s, 16 processes 1,600/s, 64 threads
// 6,400/s, while the unbounded ones reach the client's ceiling from about
// 150 concurrent clients on. DELAY overrides it.
const backendDelay = 10 * time.Millisecond

// maxDelay is the servers' own bound on -d.
const maxDelay = 60 * time.Second

// delayed is a mode whose servers' -d comes from DELAY: it checks DELAY
// before anything runs.
type delayed struct{}

func (delayed) Check(_ plan.Options, env Env) error {
	_, err := delayOf(env)
	return err
}

// delayOf is the request delay of the run: DELAY from the environment
// (a Go duration: 10ms, 500us, 0), or backendDelay.
func delayOf(env Env) (time.Duration, error) {
	s := env.getenv("DELAY")
	if s == "" {
		return backendDelay, nil
	}
	d, err := time.ParseDuration(s)
	if s == "0" {
		d, err = 0, nil
	}
	switch {
	case err != nil:
		return 0, plan.UsageError{Msg: fmt.Sprintf("DELAY=%s: want a duration such as 10ms, 500us or 0", s)}
	case d < 0 || d > maxDelay:
		return 0, plan.UsageError{Msg: fmt.Sprintf("DELAY=%s: want 0 to %s", s, maxDelay)}
	case d%time.Microsecond != 0:
		return 0, plan.UsageError{Msg: fmt.Sprintf("DELAY=%s: the servers' -d counts whole microseconds", s)}
	}
	return d, nil
}

// delayArg is d as the servers' -d takes it.
func delayArg(d time.Duration) string { return report.DelayArg(d.Microseconds()) }

// withDelay is s with -d d added, if d is not 0.
func withDelay(s results.ServerSpec, d time.Duration) results.ServerSpec {
	if d == 0 {
		return s
	}
	s.Args = append(append([]string{}, s.Args...), "-d", delayArg(d))
	return s
}

// reproWithDelay is the command that reproduces a run, with its DELAY.
func reproWithDelay(o plan.Options, env Env) string {
	if d := env.getenv("DELAY"); d != "" {
		return "DELAY=" + d + " " + o.Command
	}
	return o.Command
}

// saveText writes a mode's summary as NAME.json (v) and NAME.txt (text,
// what the terminal shows).
func saveText(dir, name string, v any, text string) error {
	if err := results.WriteJSON(filepath.Join(dir, name+".json"), v); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name+".txt"), []byte(text), 0o644)
}

// writeSummary writes a delayed mode's summary: NAME.json (v), the
// figures, and NAME.md, which md makes from the figures' files and which
// the summary prints.
func writeSummary(dir, name string, v any, figs []plots.LineFigure, md func([]plots.File) string) (Summary, error) {
	if err := results.WriteJSON(filepath.Join(dir, name+".json"), v); err != nil {
		return Summary{}, err
	}
	var files []plots.File
	for _, lf := range figs {
		f, err := plots.WriteLines(dir, lf)
		if err != nil {
			return Summary{}, err
		}
		files = append(files, f)
	}
	text := md(files)
	return Summary{Text: text, File: name + ".md"}, os.WriteFile(filepath.Join(dir, name+".md"), []byte(text), 0o644)
}
