package runner

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// A tiny soak of the real server and client: the same lines as make soak,
// the verdict ok, every connection made.
func TestSoakTiny(t *testing.T) {
	bin := realBin(t)
	env := map[string]string{"SOAK_CONNS": "20", "SOAK_TOTAL": "400", "SOAK_LIMIT": "30"}
	var stdout, stderr bytes.Buffer
	code := Main([]string{"-bin", bin, "-soak", "epoll"}, func(k string) string { return env[k] }, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	want := []string{
		`^soak: 10kthreads model epoll, 20 connections at a time, 400 connections in [0-9.]+ s \([0-9]+/s\)$`,
		`^ {22}start {8}end {5}growth$`,
		`^VmRSS \(KiB\) +[0-9]+ +[0-9]+ +[+-][0-9]+$`,
		`^open fds +[0-9]+ +[0-9]+ +[+-][0-9]+$`,
		`^threads +[0-9]+ +[0-9]+ +[+-][0-9]+$`,
		`^verdict: ok \(tolerated: VmRSS \+1024 KiB, fds \+0, threads \+0\)$`,
	}
	lines := strings.Split(strings.TrimRight(stdout.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), stdout.String())
	}
	for i, re := range want {
		if !regexp.MustCompile(re).MatchString(lines[i]) {
			t.Errorf("line %d %q does not match %s", i+1, lines[i], re)
		}
	}
}

func TestSoakBadInput(t *testing.T) {
	bin := realBin(t)
	for _, c := range []struct {
		args []string
		env  map[string]string
		code int
		want string
	}{
		{[]string{"-soak"}, map[string]string{"SOAK_CONNS": "many"}, 2, "SOAK_CONNS=many: want a whole number of at least 1"},
		{[]string{"-soak"}, map[string]string{"SOAK_TOTAL": "0"}, 2, "SOAK_TOTAL=0"},
		{[]string{"-soak"}, map[string]string{"QUICK": "1"}, 2, "-quick (QUICK=1) does not apply to -soak"},
		{[]string{"-soak", "epoll", "thread"}, nil, 2, `unexpected argument "thread"`},
		{[]string{"-bin", bin, "-soak", "no-such-model"}, nil, 2, `soak: bin/10kthreads has no model "no-such-model"`},
		{[]string{"-bin", t.TempDir(), "-soak"}, nil, 1, "missing: run make first"},
	} {
		var stdout, stderr bytes.Buffer
		code := Main(c.args, func(k string) string { return c.env[k] }, &stdout, &stderr)
		if code != c.code || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v %v: exit %d, stderr %q; want %d and %q", c.args, c.env, code, stderr.String(), c.code, c.want)
		}
	}
}
