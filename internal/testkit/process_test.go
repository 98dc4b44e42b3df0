package testkit

import (
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func sh(script string) []string { return []string{"/bin/sh", "-c", script} }

func TestRun(t *testing.T) {
	res := Run(t, time.Minute, "/bin/sh", "-c", "echo out; echo err >&2; exit 3")
	if res != (Result{Code: 3, Stdout: "out\n", Stderr: "err\n"}) {
		t.Errorf("Run = %+v", res)
	}
	f := observe(func(tb testing.TB) { Run(tb, 100*time.Millisecond, "/bin/sh", "-c", "echo started; exec sleep 60") })
	f.wantFail(t, true, "sh -c echo started; exec sleep 60 did not finish within 100ms", "stdout:\nstarted")
	f = observe(func(tb testing.TB) { Run(tb, time.Minute, "/bin/sh", "-c", "kill -9 $$") })
	f.wantFail(t, true, "process died: signal: killed")
	f = observe(func(tb testing.TB) { Run(tb, time.Minute, filepath.Join(t.TempDir(), "none")) })
	f.wantFail(t, true, "start ")
}

func TestExitCode(t *testing.T) {
	f := observe(func(tb testing.TB) {
		if c := ExitCode(tb, nil); c != 0 {
			tb.Errorf("ExitCode(nil) = %d", c)
		}
	})
	f.wantPass(t)
	f = observe(func(tb testing.TB) { ExitCode(tb, errors.New("no child processes")) })
	f.wantFail(t, true, "wait: no child processes")
}

func TestStart(t *testing.T) {
	checked := false
	f := observe(func(tb testing.TB) {
		// sleep, not cat: a process started without input reads
		// /dev/null, and cat would exit at once.
		p := Start(tb, "sleeper", []string{"/bin/sleep", "60"}, func(tb testing.TB, p *Process) { checked = p.Exited() })
		if p.Exited() {
			tb.Errorf("sleep exited before it was signalled")
		}
		p.Signal(tb, syscall.SIGTERM)
		if !Until(time.Minute, time.Millisecond, p.Exited) {
			tb.Errorf("sleep still runs after SIGTERM")
		}
	})
	f.wantPass(t)
	if !checked {
		t.Error("the check did not run on an exited process")
	}
	// Left running, the process is killed at the end of the test; a
	// failed test shows its output.
	var p *Process
	f = observe(func(tb testing.TB) {
		p = Start(tb, "talker", sh("echo said this; exec sleep 60"))
		Until(time.Minute, time.Millisecond, func() bool { return p.Stdout.String() != "" })
		tb.Errorf("fail")
	})
	if !p.Exited() || !strings.Contains(f.text(), "talker stdout:\nsaid this") {
		t.Errorf("exited %v; said:\n%s", p.Exited(), f.text())
	}
}

func TestWait(t *testing.T) {
	f := observe(func(tb testing.TB) {
		p := Start(tb, "five", sh("exit 5"))
		if c := p.Wait(tb, time.Minute); c != 5 {
			tb.Errorf("exit %d, want 5", c)
		}
	})
	f.wantPass(t)
	f = observe(func(tb testing.TB) {
		Start(tb, "sleeper", sh("exec sleep 60")).Wait(tb, 50*time.Millisecond)
	})
	f.wantFail(t, true, "sleeper did not exit within 50ms")
	f = observe(func(tb testing.TB) {
		p := Start(tb, "victim", sh("exec sleep 60"))
		p.Signal(tb, syscall.SIGKILL)
		p.Wait(tb, time.Minute)
	})
	f.wantFail(t, true, "process died: signal: killed")
}

func TestGoBuild(t *testing.T) {
	dir := t.TempDir()
	f := observe(func(tb testing.TB) { GoBuild(tb, filepath.Join(dir, "x"), "./no/such/package") })
	f.wantFail(t, true, "go build ./no/such/package")
}
