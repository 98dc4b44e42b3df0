package perfcount

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// needRoot skips a test that counts kernel events where that is not
// allowed; the tests run as root on the kit's machines and in CI.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("counting kernel events needs root here (kernel.perf_event_paranoid is %s)", paranoid())
	}
}

// buildWorkload compiles testdata/workload.c.
func buildWorkload(t *testing.T) string {
	t.Helper()
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	if _, err := exec.LookPath(cc); err != nil {
		t.Skipf("no C compiler (%s) to build the workload: %v", cc, err)
	}
	bin := filepath.Join(t.TempDir(), "workload")
	out, err := exec.Command(cc, "-O2", "-Wall", "-Wextra", "-Werror", "-pthread", "-o", bin, "testdata/workload.c").CombinedOutput()
	if err != nil {
		t.Fatalf("build workload: %v\n%s", err, out)
	}
	return bin
}

type workload struct{ calls, threads, sleeps, pages int }

// run starts the workload, counts it from "ready" until it has exited,
// and returns the counts.
func (w workload) run(t *testing.T, bin string) Counts {
	t.Helper()
	cmd := exec.Command(bin, fmt.Sprint(w.calls), fmt.Sprint(w.threads), fmt.Sprint(w.sleeps), fmt.Sprint(w.pages))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("workload said %q, %v", line, err)
	}
	h, err := Start(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	// One byte each for the main thread, the early thread and the early
	// child.
	if _, err := io.WriteString(stdin, "ggg"); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("workload: %v", err)
	}
	c, err := h.Stop()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The workload's tree makes a known number of system calls, context
// switches and page faults, much of it in threads and a process created
// after counting started that exit before the counts are read.
func TestCountsProcessTree(t *testing.T) {
	needRoot(t)
	w := workload{calls: 20000, threads: 4, sleeps: 30, pages: 2000}
	c := w.run(t, buildWorkload(t))
	t.Logf("counts: %+v", c)
	// main, the early thread and the early child; the rest came later.
	if c.Tasks != 3 {
		t.Errorf("attached to %d tasks, want 3", c.Tasks)
	}
	if len(c.Notes) != 0 {
		t.Errorf("notes: %q", c.Notes)
	}
	// getppid in the main thread, the early thread, the early child, each
	// new thread and the new child; the slack is for thread and process
	// creation, sleeping, mmap and exit.
	calls := uint64(w.calls * (w.threads + 4))
	for _, k := range []struct {
		name     string
		c        Counter
		min, max uint64
	}{
		{"system calls", c.Syscalls, calls, calls + 1000},
		{"context switches", c.ContextSwitches, uint64(w.sleeps), uint64(w.sleeps) + 1000},
		{"page faults", c.PageFaults, uint64(w.pages), uint64(w.pages) + 1000},
	} {
		if !k.c.Set || k.c.Value < k.min || k.c.Value > k.max {
			t.Errorf("%s: %+v, want %d to %d", k.name, k.c, k.min, k.max)
		}
	}
	if !c.Migrations.Set {
		t.Errorf("CPU migrations not counted: %s", c.Migrations.Missing)
	}
	for name, k := range map[string]Counter{"cycles": c.Cycles, "instructions": c.Instructions} {
		switch {
		case k.Set && k.Value < calls:
			t.Errorf("%s: %d, fewer than the %d system calls", name, k.Value, calls)
		case !k.Set && !strings.HasPrefix(k.Missing, "not available: no hardware counters (perf_event_open: "):
			t.Errorf("%s missing for an unexpected reason: %q", name, k.Missing)
		}
	}
}

func TestStartErrors(t *testing.T) {
	if _, err := Start(); err == nil || err.Error() != "perfcount: no process to count" {
		t.Errorf("Start(): %v", err)
	}
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	pid := gone.Process.Pid
	if _, err := Start(pid); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("process %d is not running", pid)) {
		t.Errorf("Start(exited %d): %v", pid, err)
	}
}

func TestStopTwice(t *testing.T) {
	needRoot(t)
	h, err := Start(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Stop(); err == nil || !strings.Contains(err.Error(), "Stop called twice") {
		t.Errorf("second Stop: %v", err)
	}
}

func TestMissingList(t *testing.T) {
	c := Counts{ContextSwitches: Counter{Value: 5, Set: true}, Syscalls: Counter{Missing: "tracepoint raw_syscalls:sys_enter unavailable: x"},
		Migrations: Counter{Set: true}, PageFaults: Counter{Set: true},
		Cycles: Counter{Missing: "not available: no hardware counters (perf_event_open: no such file or directory)"}, Instructions: Counter{Missing: "m"}}
	want := []string{"system calls: tracepoint raw_syscalls:sys_enter unavailable: x",
		"cycles: not available: no hardware counters (perf_event_open: no such file or directory)", "instructions: m"}
	if got := c.Missing(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("Missing() = %q, want %q", got, want)
	}
}

// asUserEnv makes the test binary, run again as an unprivileged user, try
// to count itself and print what it got (see TestMain).
const asUserEnv = "PERFCOUNT_TEST_AS_USER"

func TestMain(m *testing.M) {
	if os.Getenv(asUserEnv) != "" {
		h, err := Start(os.Getpid())
		if err != nil {
			fmt.Println(err)
			os.Exit(0)
		}
		c, _ := h.Stop()
		json.NewEncoder(os.Stdout).Encode(c.Missing())
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// An unprivileged user is told what is missing and why: the paranoia
// level and how to get past it.
func TestNotPermitted(t *testing.T) {
	needRoot(t)
	if p := paranoid(); p != "2" && p != "3" && p != "4" {
		t.Skipf("kernel.perf_event_paranoid is %s: an unprivileged user may count kernel events here", p)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "perfcount.test")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), asUserEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("as uid 65534: %v\n%s", err, out)
	}
	got := string(out)
	for _, want := range []string{
		"perfcount: nothing can be counted: ",
		"context switches: not permitted (perf_event_open: permission denied): kernel.perf_event_paranoid is " + paranoid() + "; count as root or with CAP_PERFMON, or set it to 1 or lower",
		"system calls: tracepoint raw_syscalls:sys_enter unavailable: ",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("as uid 65534 got %q, want it to contain %q", got, want)
		}
	}
}
