package testkit

import (
	"strings"
	"testing"
)

// CheckUsageError asserts a usage error as the house rules define it:
// exit status 2, on stderr the usage line (and its continuation lines,
// indented) and exactly one other line, "prog: ..." naming what, and
// nothing on stdout.
func CheckUsageError(t testing.TB, res Result, prog, what string) {
	t.Helper()
	if res.Code != 2 {
		t.Fatalf("exit status %d, want 2\nstderr: %s", res.Code, res.Stderr)
	}
	var problems []string
	usage := false
	for _, l := range strings.Split(strings.TrimRight(res.Stderr, "\n"), "\n") {
		switch {
		case strings.HasPrefix(l, "usage: "):
			usage = true
		case usage && strings.HasPrefix(l, "       "): // usage continued
		default:
			problems = append(problems, l)
		}
	}
	if !usage {
		t.Errorf("no usage line on stderr:\n%s", res.Stderr)
	}
	if len(problems) != 1 {
		t.Fatalf("want exactly one error line besides usage, got %d:\n%s", len(problems), res.Stderr)
	}
	if !strings.HasPrefix(problems[0], prog+": ") || !strings.Contains(problems[0], what) {
		t.Errorf("error line %q: want the prefix %q and naming %q", problems[0], prog+": ", what)
	}
	if res.Stdout != "" {
		t.Errorf("nothing belongs on stdout, got %q", res.Stdout)
	}
}
