package remote

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"tenkthreads/internal/testhosts"
	"tenkthreads/internal/testkit"
)

// The package's tests run against test hosts built once for all of them
// (internal/testhosts): a server, two clients, and ssh from the control
// host. Where they cannot be built the tests that need them skip, saying why.
var (
	lab       *testhosts.Lab
	labReason string // why there is no lab
)

func TestMain(m *testing.M) {
	if _, err := testhosts.Available(); err != nil {
		labReason = err.Error()
		os.Exit(m.Run())
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	l, err := testhosts.Build(ctx, testhosts.Config{Clients: 2, ConnectTimeout: 3 * time.Second, Log: os.Stderr})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	lab = l
	stop := testhosts.CloseOnInterrupt(lab, os.Stderr)
	code := m.Run()
	stop()
	if err := lab.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

// needLab skips a test without test hosts, saying why.
func needLab(t *testing.T) {
	t.Helper()
	if lab == nil {
		t.Skipf("no test hosts: %s", labReason)
	}
}

func labOptions() Options {
	return Options{ConfigFile: lab.SSHConfig, Wrap: lab.Wrap(), ConnectTimeout: 3 * time.Second}
}

// open opens a session on the named hosts, closed when the test ends.
func open(t *testing.T, names ...string) *Session {
	t.Helper()
	needLab(t)
	var ts []Target
	for _, n := range names {
		tg, err := ParseTarget(n)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, tg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, labOptions(), ts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// probeBinary builds cmd/hostprobe for the test.
func probeBinary(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), ProbeName)
	cmd := exec.Command("go", "build", "-o", p, "./cmd/hostprobe")
	cmd.Dir = testkit.RepoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/hostprobe: %v\n%s", err, out)
	}
	return p
}

// A host that cannot be reached fails Open up front, named with ssh's
// reason; the reachable ones do not hide it.
func TestOpenUnreachable(t *testing.T) {
	needLab(t)
	server := lab.Server().Addr
	ts, err := ParseTargets(fmt.Sprintf("server,198.18.0.99,client1:2222,nobody@%s", server))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(testCtx(t), labOptions(), ts)
	if err == nil {
		t.Fatal("Open succeeded")
	}
	msg := err.Error()
	for _, want := range []string{
		"remote: 3 of 4 hosts failed: ",
		"host 198.18.0.99: cannot reach it over ssh: ssh: connect to host 198.18.0.99 port 22: ",
		fmt.Sprintf("host client1:2222: cannot reach it over ssh: ssh: connect to host %s port 2222: Connection refused", lab.Clients()[0].Addr),
		fmt.Sprintf("host nobody@%s: cannot reach it over ssh: nobody@%s: Permission denied (publickey).", server, server),
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q\nwant %q", msg, want)
		}
	}
	if strings.Contains(msg, "\n") || strings.Contains(msg, "host server:") {
		t.Errorf("error %q: want one line, and nothing about the reachable server", msg)
	}
}

// A binary that does not fit a host is refused before anything is
// copied: one of another architecture, and a host whose probe says it
// has another architecture or an older C library.
func TestInstallRefusesMismatch(t *testing.T) {
	s := open(t, "server")
	h := s.Hosts()[0]
	if _, known := unameMachines[h.Facts.Arch]; !known || h.Facts.Libc == "" || !h.Facts.Setsid {
		t.Fatalf("probe of a test host (this machine): %+v", h.Facts)
	}
	ctx := testCtx(t)
	probe := probeBinary(t)
	err := h.Install(ctx, probe, foreignELF(t, elf.EM_AARCH64))
	if err == nil {
		t.Fatal("an aarch64 binary installed")
	}
	checkOneLine(t, err, "host server: not copying: ", "is built for EM_AARCH64, the host is "+h.Facts.Arch+": build the kit on such a host")
	if h.runDir() != "" {
		t.Errorf("a run directory %s was made for a refused install", h.runDir())
	}
	real := h.Facts
	for _, f := range []struct {
		facts Facts
		want  string
	}{
		{Facts{Arch: "aarch64", Libc: real.Libc, LibcVersion: real.LibcVersion, Setsid: true}, "the host is aarch64"},
		{Facts{Arch: real.Arch, Libc: "glibc", LibcVersion: "2.0", Setsid: true}, "or newer, the host has 2.0"},
	} {
		h.Facts = f.facts
		if err := h.Install(ctx, probe); err == nil {
			t.Errorf("installed on a host with %+v", f.facts)
		} else {
			checkOneLine(t, err, "host server: not copying: ", f.want)
		}
	}
	h.Facts = real
	if err := h.Install(ctx, probe); err != nil {
		t.Fatalf("install on a matching host: %v", err)
	}
}

// A process started on a host runs pinned, in its own process group,
// with its output captured; SIGINT reaches it (a shell's background job
// would ignore it), and Wait returns its own exit status.
func TestProcessSignalOutput(t *testing.T) {
	s := open(t, "client1")
	h := s.Hosts()[0]
	ctx := testCtx(t)
	script := `trap 'echo "got INT"; exit 3' INT
echo started; echo "to stderr" >&2
grep Cpus_allowed_list /proc/self/status
while :; do sleep 0.1; done`
	p, err := h.Start(ctx, Spec{Argv: []string{"sh", "-c", script}, CPUs: "0"})
	if err != nil {
		t.Fatal(err)
	}
	if pgid, err := syscall.Getpgid(p.PGID); err != nil || pgid != p.PGID {
		t.Errorf("remote process %d: process group %d (%v), want its own", p.PGID, pgid, err)
	}
	waitOutput(t, p, "Cpus_allowed_list")
	if _, err := p.Wait(ctx, 500*time.Millisecond); err == nil || !strings.Contains(err.Error(), "did not exit within 500ms") {
		t.Errorf("wait on a running process: %v", err)
	}
	if err := p.Signal(ctx, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	exit, err := p.Wait(ctx, 10*time.Second)
	if err != nil || exit.Code != 3 {
		t.Fatalf("after SIGINT: %v, %v; want exit status 3", exit, err)
	}
	stdout, stderr, err := p.Output(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := "started\nCpus_allowed_list:\t0\ngot INT\n"; string(stdout) != want || string(stderr) != "to stderr\n" {
		t.Errorf("output %q, stderr %q; want %q, %q", stdout, stderr, want, "to stderr\n")
	}
}

// waitOutput waits until the process's stdout holds want.
func waitOutput(t *testing.T, p *Process, want string) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, "remote stdout holds "+want, func() (bool, string) {
		out, _, err := p.Output(context.Background())
		return err == nil && strings.Contains(string(out), want), fmt.Sprintf("stdout %q, %v", out, err)
	})
}

func TestStartErrors(t *testing.T) {
	s := open(t, "server")
	h := s.Hosts()[0]
	ctx := testCtx(t)
	_, err := h.Start(ctx, Spec{Argv: []string{"/no/such/10kthreads"}})
	if err == nil {
		t.Fatal("started a program that is not there")
	}
	checkOneLine(t, err, "host server: start /no/such/10kthreads: exit status 127: ", "/no/such/10kthreads: no such program on the host")
	_, err = h.Start(ctx, Spec{Argv: []string{"true"}, CPUs: "0;reboot"})
	checkOneLine(t, err, `remote: CPU list "0;reboot"`, "want numbers and ranges")
	facts := h.Facts
	h.Facts.Taskset = false
	_, err = h.Start(ctx, Spec{Argv: []string{"true"}, CPUs: "1"})
	h.Facts = facts
	checkOneLine(t, err, "host server: cannot pin to CPUs 1", "no taskset there")
	_, err = h.ReadFile(ctx, "/no/such/report.json")
	if err == nil {
		t.Fatal("read a file that is not there")
	}
	checkOneLine(t, err, "host server: read /no/such/report.json: exit status ", "/no/such/report.json: No such file")
}

// If the connection that started a process is lost, the process runs
// on, and Wait asks the host for its exit status.
func TestWaitAfterLostConnection(t *testing.T) {
	s := open(t, "client2")
	h := s.Hosts()[0]
	ctx := testCtx(t)
	p, err := h.Start(ctx, Spec{Argv: []string{"sh", "-c", "sleep 1; echo done; exit 7"}})
	if err != nil {
		t.Fatal(err)
	}
	p.ssh.Process.Kill()
	exit, err := p.Wait(ctx, 20*time.Second)
	if err != nil || exit.Code != 7 {
		t.Fatalf("wait: %v, %v; want exit status 7", exit, err)
	}
	if out, _, err := p.Output(ctx); err != nil || string(out) != "done\n" {
		t.Errorf("output %q, %v", out, err)
	}
}

// Close kills every process group a session started and removes its
// directories: nothing is left on the hosts. (The test hosts share this
// machine's processes and files, so that is checked from here.)
func TestCloseLeavesNothing(t *testing.T) {
	needLab(t)
	ts, _ := ParseTargets("server,client1")
	s, err := Open(testCtx(t), labOptions(), ts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	var procs []*Process
	var dirs []string
	for _, h := range s.Hosts() {
		for range 2 {
			p, err := h.Start(ctx, Spec{Argv: []string{"sh", "-c", "sleep 600 & sleep 600"}})
			if err != nil {
				t.Fatal(err)
			}
			procs = append(procs, p)
		}
		dirs = append(dirs, h.runDir())
	}
	// As if a start had been cut short before this side learnt the pid:
	// Close goes by what is on the host, so it still finds the process.
	h := s.Hosts()[1]
	h.procs = h.procs[:1]
	// One that ended by itself before Close: its group id may be reused.
	ended, err := s.Hosts()[0].Start(ctx, Spec{Argv: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ended.Wait(ctx, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		// Killed children of the group leader are reaped by init, soon.
		gone := testkit.Until(5*time.Second, 50*time.Millisecond, func() bool {
			return errors.Is(syscall.Kill(-p.PGID, 0), syscall.ESRCH)
		})
		if !gone {
			t.Errorf("process group %d on %s still there after Close", p.PGID, p.Host.Name)
		}
		if !testkit.Until(5*time.Second, 50*time.Millisecond, func() bool { return chanClosed(p.done) }) {
			t.Errorf("the local ssh of process %d on %s still runs after Close", p.PGID, p.Host.Name)
		}
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("run directory %s still there after Close (%v)", d, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Errorf("a second Close: %v", err)
	}
}

func chanClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// The environment is read on each host: a sysctl of the server host's
// own network namespace shows in its record and not in a client's.
func TestEnv(t *testing.T) {
	s := open(t, "server", "client1")
	ctx := testCtx(t)
	if out, err := lab.Command(ctx, lab.Server(), "sysctl", "-q", "-w", "net.core.somaxconn=777").CombinedOutput(); err != nil {
		t.Fatalf("sysctl in the server host: %v %s", err, out)
	}
	probe := probeBinary(t)
	envs := map[string]Env{}
	for _, h := range s.Hosts() {
		e, err := h.Env(ctx, probe)
		if err != nil {
			t.Fatal(err)
		}
		envs[h.Name] = e
		if e.Kernel == "" || e.CPUs < 1 || e.CPUsAllowed == "" || e.System.FDHard == 0 || e.System.MemAvailableKiB <= 0 {
			t.Errorf("%s: incomplete environment %+v", h.Name, e)
		}
		for _, name := range EnvSysctls {
			if e.Sysctls[name] == "" {
				t.Errorf("%s: sysctl %s missing", h.Name, name)
			}
		}
	}
	if got := envs["server"]; got.Sysctls["net.core.somaxconn"] != "777" || got.System.Somaxconn != 777 {
		t.Errorf("server: somaxconn %q / %d, want 777 (set in its namespace)", got.Sysctls["net.core.somaxconn"], got.System.Somaxconn)
	}
	if got := envs["client1"].System.Somaxconn; got == 777 {
		t.Errorf("client1 reads the server's somaxconn")
	}
	if _, err := s.Hosts()[0].Env(ctx, "bin/other"); err == nil {
		t.Error("a probe of another name accepted")
	}
}

// The test hosts share this machine's clock: the measured skew is zero
// within the bound it states.
func TestClockSkew(t *testing.T) {
	s := open(t, "server", "client1", "client2")
	for _, h := range s.Hosts() {
		sk, err := h.ClockSkew(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		if sk.RTT <= 0 || sk.Within <= 0 || sk.Within >= time.Second || sk.Offset.Abs() > sk.Within {
			t.Errorf("%s: skew %v (rtt %v): want |offset| within its bound, bound under 1s", h.Name, sk, sk.RTT)
		}
	}
}
