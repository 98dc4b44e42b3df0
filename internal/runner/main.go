package runner

import (
	"errors"
	"flag"
	"io"

	"tenkthreads/internal/runner/plan"
)

// Main runs bin/experiment; it returns the process exit status (Exit).
func Main(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	o, err := plan.Parse(args, getenv, modeFlags(), stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	env := Env{Getenv: getenv}
	if err == nil {
		err = modeOf(o).Check(o, env)
	}
	if err == nil {
		err = Execute(o, env, stdout, stderr)
	}
	return Exit(err, stderr)
}

// Execute runs the mode o selects, or rebuilds the report of the
// directory o.Report; tests call it with options they built.
func Execute(o plan.Options, env Env, stdout, stderr io.Writer) error {
	if o.Report != "" {
		return rebuild(o, stdout)
	}
	if o.Docs {
		return writeDocs(o, stdout)
	}
	return runCampaign(modeOf(o), o, env, stdout, stderr)
}
