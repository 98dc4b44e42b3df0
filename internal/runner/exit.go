package runner

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"tenkthreads/internal/runner/plan"
)

// Exit statuses besides 0 (done) and 1 (failed: it could not run, or
// its verdict is negative); a plan.UsageError exits exitUsage.
const (
	exitFailed      = 1
	exitUsage       = 2
	exitInterrupted = 130
)

// An ExitError ends bin/experiment with Code, after its message.
type ExitError struct {
	Code int
	Msg  string
}

func (e *ExitError) Error() string { return e.Msg }

// preconditionFailed says the machine cannot run the campaign, and what
// to change: one problem a line, then a hint if any.
func preconditionFailed(problems []string, hint string) error {
	msg := "precondition failed, nothing was run:\n  - " + strings.Join(problems, "\n  - ")
	if hint != "" {
		msg += "\n" + hint
	}
	return &ExitError{Code: exitFailed, Msg: msg}
}

// negative is a negative verdict: everything was written, and the
// figures say no.
func negative(format string, a ...any) error {
	return &ExitError{Code: exitFailed, Msg: fmt.Sprintf(format, a...)}
}

// interrupted says the campaign stopped at a signal, and where what ran
// was written.
func interrupted(done int, dir string) error {
	return &ExitError{Code: exitInterrupted, Msg: fmt.Sprintf("interrupted after %d run(s); what ran is in %s", done, dir)}
}

// Exit prints err as bin/experiment's last line ("experiment: ...", with
// the usage line after a usage error) and gives the exit status: 0 for
// nil, 2 for a usage error, an ExitError's code, else 1.
func Exit(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ue plan.UsageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "experiment: %s\n%s\n", ue.Msg, plan.UsageLine(modeFlags()))
		return exitUsage
	}
	fmt.Fprintf(stderr, "experiment: %v\n", err)
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return exitFailed
}
