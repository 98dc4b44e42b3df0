package testkit

import (
	"testing"
)

func TestCheckUsageError(t *testing.T) {
	const usage = "usage: prog [-n N] [-p PORT]\n       prog merge FILE...\n"
	cases := []struct {
		name  string
		res   Result
		fatal bool
		says  []string // nil: the sample is a good usage error
	}{
		{"good", Result{Code: 2, Stderr: "prog: -n 0: too small\n" + usage}, false, nil},
		{"good, usage first", Result{Code: 2, Stderr: usage + "prog: -n 0: too small\n"}, false, nil},
		{"exit 1", Result{Code: 1, Stderr: "prog: -n 0: too small\n" + usage}, true, []string{"exit status 1, want 2"}},
		{"no usage line", Result{Code: 2, Stderr: "prog: -n 0: too small\n"}, false, []string{"no usage line"}},
		{"two error lines", Result{Code: 2, Stderr: "prog: -n 0: too small\nprog: and more\n" + usage}, true, []string{"exactly one error line", "got 2"}},
		{"no error line", Result{Code: 2, Stderr: usage}, true, []string{"got 0"}},
		{"other program", Result{Code: 2, Stderr: "other: -n 0: too small\n" + usage}, false, []string{`want the prefix "prog: "`}},
		{"names something else", Result{Code: 2, Stderr: "prog: -p 0: too small\n" + usage}, false, []string{`naming "-n"`}},
		{"output on stdout", Result{Code: 2, Stdout: "hello\n", Stderr: "prog: -n 0: too small\n" + usage}, false, []string{"nothing belongs on stdout"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := observe(func(tb testing.TB) { CheckUsageError(tb, c.res, "prog", "-n") })
			if c.says == nil {
				f.wantPass(t)
			} else {
				f.wantFail(t, c.fatal, c.says...)
			}
		})
	}
}
