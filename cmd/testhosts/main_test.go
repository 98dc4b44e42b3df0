package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"tenkthreads/internal/testhosts"
	"tenkthreads/internal/testkit"
)

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		what string
	}{
		{[]string{"-clients", "1"}, "-clients 1: want 2 to 200"},
		{[]string{"-conns", "0"}, "-conns 0: want 1 to 10000"},
		{[]string{"-rounds", "0"}, "-rounds 0"},
		{[]string{"-loss", "101"}, "-loss over 100"},
		{[]string{"-mbit", "-1"}, "cannot be negative"},
		{[]string{"-delay", "soon"}, `invalid value "soon" for flag -delay`},
		{[]string{"-nope"}, "flag provided but not defined: -nope"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, &stdout, &stderr)
		testkit.CheckUsageError(t, testkit.Result{Code: code, Stdout: stdout.String(), Stderr: stderr.String()}, "testhosts", tc.what)
	}
}

// bins is the repository's bin/, skipping the test without test hosts
// or without a build.
func bins(t *testing.T) string {
	t.Helper()
	if _, err := testhosts.Available(); err != nil {
		t.Skipf("no test hosts: %v", err)
	}
	dir := filepath.Join(testkit.RepoRoot(t), "bin")
	for _, b := range []string{"10kthreads", "client", "hostprobe", "experiment", "ref_async_server"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			t.Skipf("bin/%s missing: run make first", b)
		}
	}
	return dir
}

// make testhosts, smaller: every check passes, and what it prints says
// what was built and checked.
func TestAllChecks(t *testing.T) {
	dir := bins(t)
	var stdout, stderr bytes.Buffer
	code := run([]string{"-bin", dir, "-clients", "3", "-conns", "20", "-rounds", "3", "-out", t.TempDir()}, &stdout, &stderr)
	out := stdout.String()
	if code != 0 || stderr.Len() > 0 {
		t.Fatalf("exit status %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr.String())
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^  server +10kt-\d+-[0-9a-f]+-server +198\.18\.0\.10 +v-server +198\.18\.0\.10:22$`),
		regexp.MustCompile(`(?m)^  client3 +10kt-\S+-client3 +198\.18\.0\.13 `),
		regexp.MustCompile(`shaping each way: rate 1000 Mbit/s \(tbf\)`),
		regexp.MustCompile(`(?m)^  client2 +Linux `),
		regexp.MustCompile(`clock skew [+-]\d+\.\d+ ms ± \d+\.\d+ ms`),
		regexp.MustCompile(`(?m)^  client3 +bin/client: 20 connections, 60 round trips of 19 B, every echo verified$`),
		regexp.MustCompile(`(?m)^  client1 +all 20 connections held through the outage and verified after it$`),
		regexp.MustCompile(`bin/10kthreads: exit status 0 on SIGINT, 80 connections accepted, 3800 bytes echoed`),
		// The loss check: every connection of both holds lost, each
		// failure classified, the sweep closed them, and new ones echo.
		regexp.MustCompile(`(?m)^  client3 +hold ending after the outage \(9\.0 s\): lost 20 of 20 connections \((eof|reset)[^)]*\), 0 verified$`),
		regexp.MustCompile(`(?m)^  client3 +hold ending during the outage \(2\.5 s\): lost 20 of 20 connections \(timeout 20\), 0 verified$`),
		regexp.MustCompile(`(?m)^  server +bin/10kthreads -t 2: idle sweep closed (4\d|[5-9]\d) connections, 60 accepted in all, \d+ reset, none left open at exit$`),
		regexp.MustCompile(`(?m)^  client3 +recovered: after the link came back, 20 new connections, 60 round trips, every echo verified; 40 of 40 lost in all$`),
		// The experiment across the hosts, checked from its results.
		regexp.MustCompile(`(?m)^experiment: from the control host: -quick .* -server-host server -client-hosts client1,client2,client3 -ssh-config /\S+$`),
		regexp.MustCompile(`(?m)^  10kthreads \(thread\) +hold +100 conns: 3 client hosts, merged = sum \(100 verified, 100 round trips\); server host's machine record: idle and peak \(\d+ server descriptors\)$`),
		regexp.MustCompile(`(?m)^  10kthreads \(epoll\) +echo +10 conns: 3 client hosts, merged = sum \(10 verified, \d+ round trips\)$`),
		regexp.MustCompile(`(?m)^testhosts: all checks passed in \d+\.\d s \(build \d+\.\d s, ssh \d+\.\d s, echo \d+\.\d s, fault \d+\.\d s, loss \d+\.\d s, experiment \d+\.\d s, teardown \d+\.\d s\)$`),
	} {
		if !want.MatchString(out) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
	checkTornDown(t, out, os.Getpid())
}

// checkTornDown fails if anything of the run by process pid is left:
// its namespaces, its directory, the run's directories on the hosts and
// the server it started.
func checkTornDown(t *testing.T, out string, pid int) {
	t.Helper()
	mine := fmt.Sprintf("%s%d-", testhosts.Prefix, pid)
	if ns, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(ns), mine) {
		t.Errorf("namespaces left:\n%s", ns)
	}
	if dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), mine+"*")); len(dirs) > 0 {
		t.Errorf("directories left: %v", dirs)
	}
	m := regexp.MustCompile(`pid (\d+) in (/\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no server pid and run directory in the output:\n%s", out)
	}
	if _, err := os.Stat(m[2]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the server host's run directory %s is left (%v)", m[2], err)
	}
	var server int
	fmt.Sscan(m[1], &server)
	if err := syscall.Kill(server, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("the server, pid %d, still runs (%v)", server, err)
	}
}

// SIGINT in the middle of a run, with a server running on a test host,
// ends it with status 130, and everything is torn down.
func TestInterrupt(t *testing.T) {
	dir := bins(t)
	exe := filepath.Join(t.TempDir(), "testhosts")
	build := exec.Command("go", "build", "-o", exe, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(exe, "-bin", dir, "-conns", "1000", "-rounds", "100000")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	started, eof := followLines(stdout, &out, "echo: bin/10kthreads on server")
	select {
	case <-started:
	case <-eof:
		cmd.Wait()
		t.Fatalf("testhosts ended before the server started:\n%s\n%s", out.String(), stderr.String())
	case <-time.After(3 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("the server never started")
	}
	time.Sleep(2 * time.Second) // the clients are at work
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-eof:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatal("testhosts did not exit within a minute of SIGINT")
	}
	err = cmd.Wait()
	if code := testkit.ExitCode(t, err); code != 130 || stderr.String() != "testhosts: interrupted; everything it made was torn down\n" {
		t.Errorf("exit status %d, stderr %q; want 130 and the interrupted line", code, stderr.String())
	}
	checkTornDown(t, out.String(), cmd.Process.Pid)
}

// followLines copies r into out line by line, closes seen at the first
// line that starts with prefix, and eof when r ends; read out after eof.
func followLines(r io.Reader, out *strings.Builder, prefix string) (seen, eof chan struct{}) {
	seen, eof = make(chan struct{}), make(chan struct{})
	go func(seen chan struct{}) {
		defer close(eof)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			if seen != nil && strings.HasPrefix(sc.Text(), prefix) {
				close(seen)
				seen = nil
			}
		}
	}(seen)
	return seen, eof
}
