package testkit

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Process is a program running in the background for one test.
type Process struct {
	Name           string // in messages: the binary's name, say
	Cmd            *exec.Cmd
	Stdout, Stderr *SyncBuffer
	Done           chan struct{} // closed once the process has exited
	Err            error         // from Cmd.Wait; read it only after Done
}

// launch starts argv with its output in SyncBuffers and reaps it in the
// background.
func launch(name string, argv []string) (*Process, error) {
	p := &Process{Name: name, Stdout: &SyncBuffer{}, Stderr: &SyncBuffer{}, Done: make(chan struct{})}
	p.Cmd = exec.Command(argv[0], argv[1:]...)
	p.Cmd.Stdout, p.Cmd.Stderr = p.Stdout, p.Stderr
	if err := p.Cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.Err = p.Cmd.Wait(); close(p.Done) }()
	return p, nil
}

// Start runs argv in the background. When the test ends the process is
// killed if it still runs, then each check runs on it (it has exited by
// then, its output complete), and if the test failed its output is logged.
func Start(t testing.TB, name string, argv []string, checks ...func(testing.TB, *Process)) *Process {
	t.Helper()
	p, err := launch(name, argv)
	if err != nil {
		t.Fatalf("start %s: %v", strings.Join(argv, " "), err)
	}
	t.Cleanup(func() {
		if !p.Exited() {
			p.Cmd.Process.Kill()
			<-p.Done
		}
		for _, check := range checks {
			check(t, p)
		}
		if t.Failed() {
			t.Logf("%s stdout:\n%s\n%s stderr:\n%s", p.Name, p.Stdout, p.Name, p.Stderr)
		}
	})
	return p
}

// Exited reports whether the process has exited (and Err is set).
func (p *Process) Exited() bool {
	select {
	case <-p.Done:
		return true
	default:
		return false
	}
}

// Signal sends sig to the process, failing the test if it cannot.
func (p *Process) Signal(t testing.TB, sig os.Signal) {
	t.Helper()
	if err := p.Cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%s: signal %v: %v", p.Name, sig, err)
	}
}

// Wait waits at most bound for the process to exit and returns its exit
// status, failing the test if it does not exit or dies of a signal.
func (p *Process) Wait(t testing.TB, bound time.Duration) int {
	t.Helper()
	select {
	case <-p.Done:
	case <-time.After(bound):
		t.Fatalf("%s did not exit within %v", p.Name, bound)
	}
	return ExitCode(t, p.Err)
}

// ExitCode maps an error from exec's Wait or Run to an exit status: 0 for
// nil, the status for an exit. A death by signal, or a process that could
// not be waited for, fails the test: neither has an exit status to check.
func ExitCode(t testing.TB, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ee.ExitCode() < 0 {
			t.Fatalf("process died: %v", err)
		}
		return ee.ExitCode()
	}
	t.Fatalf("wait: %v", err)
	return -1
}

// Result is what a program run to completion left.
type Result struct {
	Code           int // exit status
	Stdout, Stderr string
}

// Run runs bin to completion, failing the test (and killing bin) if it
// has not finished within bound, or if it dies of a signal.
func Run(t testing.TB, bound time.Duration, bin string, args ...string) Result {
	t.Helper()
	argv := append([]string{bin}, args...)
	p, err := launch(filepath.Base(bin), argv)
	if err != nil {
		t.Fatalf("start %s: %v", strings.Join(argv, " "), err)
	}
	select {
	case <-p.Done:
	case <-time.After(bound):
		p.Cmd.Process.Kill()
		<-p.Done
		t.Fatalf("%s %s did not finish within %v\nstdout:\n%s\nstderr:\n%s",
			p.Name, strings.Join(args, " "), bound, p.Stdout, p.Stderr)
	}
	return Result{Code: ExitCode(t, p.Err), Stdout: p.Stdout.String(), Stderr: p.Stderr.String()}
}

// GoBuild builds the package pkg (a path as go build takes it, relative
// to the test's directory) into the executable out.
func GoBuild(t testing.TB, out, pkg string) {
	t.Helper()
	if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
}

// Prlimit is the path of prlimit(1), which tests need to set a resource
// limit on a process; its absence fails the test rather than skipping it.
func Prlimit(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("prlimit")
	if err != nil {
		t.Fatalf("prlimit (util-linux) is needed to set resource limits: %v", err)
	}
	return p
}
