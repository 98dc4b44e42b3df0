package tests

// The io_uring model beyond the suite every model runs (models_test.go and
// the exhaustion, slow-peer and under-load tests): bulk echoes whose sends
// come back short, receives that find the buffer ring empty, load at 1,000
// and 10,000, its flags, and a machine where io_uring cannot be used.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"tenkthreads/internal/testkit"
)

// TestUringEcho: 1 B to 8 MiB, the largest with a reader that starts late
// so the server's sends come back short and it must carry on from the
// middle of a buffer, then half-close; with one loop and with two.
func TestUringEcho(t *testing.T) {
	for _, w := range []string{"1", "2"} {
		t.Run("w"+w, func(t *testing.T) {
			s := startServer(t, cServer, "-M", "uring", "-w", w)
			want := int64(0)
			for _, c := range []struct {
				size int
				late bool
			}{{1, false}, {1 << 10, false}, {1 << 20, false}, {8 << 20, true}, {8 << 20, false}} {
				want += int64(c.size)
				t.Run(fmt.Sprintf("%dB_late_%v", c.size, c.late), func(t *testing.T) {
					echoOnce(t, s.addr, randomBytes(t, c.size), c.late)
				})
			}
			half := randomBytes(t, 64<<10)
			want += int64(len(half))
			t.Run("half-close", func(t *testing.T) { halfClose(t, s.addr, half) })
			r := s.stop()
			if got := labelInt(t, r, "bytes echoed"); got != want {
				t.Errorf("bytes echoed %d, want %d", got, want)
			}
			if got := labelInt(t, r, "connections reset"); got != 0 {
				t.Errorf("connections reset %d, want 0", got)
			}
		})
	}
}

// TestUringStarvedReceives: the server is stopped while 500 peers each send
// a message, so on SIGCONT all 500 receives complete at once, far more than
// the 32 buffers its ring starts with. Those that find the ring empty must
// wait for a buffer and then echo; none may be lost or reset.
func TestUringStarvedReceives(t *testing.T) {
	const n = 500
	s := startServer(t, cServer, "-M", "uring")
	conns := make([]io.ReadWriter, n)
	for i := range conns {
		c := dial(t, s.addr)
		echoSome(t, c, []byte("warm"))
		conns[i] = c
	}
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i] = randomBytes(t, 1000+i)
	}
	echoWhileStopped(t, s, conns, msgs)
	r := s.usr1()
	if r.now != n || labelInt(t, r, "connections reset") != 0 {
		t.Errorf("Now %d, resets %s; want %d and 0", r.now, r.labels["connections reset"], n)
	}
}

// TestUringDelayHoldsNoBuffer: a request on its -d wait keeps its data in
// the connection's own memory and gives the ring buffer back, so more
// requests wait at once than the ring has buffers (1,024): all 1,500 here.
// The server is stopped while the peers send, so that all the receives
// complete together, long before the first 2 s wait is over; then every
// echo must come back exact.
func TestUringDelayHoldsNoBuffer(t *testing.T) {
	const n = 1500
	s := startServer(t, cServer, "-M", "uring", "-d", "2s")
	conns := make([]io.ReadWriter, n)
	for i := range conns {
		conns[i] = dial(t, s.addr)
	}
	// Every connection counted in, so every receive is armed.
	testkit.Eventually(t, ioTimeout, "all connections accepted", func() (bool, string) {
		r := s.usr1()
		return r.now == n, fmt.Sprintf("Now: %d", r.now)
	})
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i] = delayMsg(i, 0)
	}
	echoWhileStopped(t, s, conns, msgs)
	r := s.usr1()
	if got := labelInt(t, r, "peak waiting"); got != n {
		t.Errorf("peak waiting %d, want all %d at once", got, n)
	}
	if got := labelInt(t, r, "connections reset"); got != 0 {
		t.Errorf("connections reset %d, want 0", got)
	}
}

// echoWhileStopped stops the server, sends msgs[i] on conns[i] and lets
// the server go on, so that all its receives complete at once; then every
// echo must come back exact.
func echoWhileStopped(t *testing.T, s *server, conns []io.ReadWriter, msgs [][]byte) {
	t.Helper()
	s.signal(syscall.SIGSTOP)
	stopped := true
	defer func() {
		if stopped {
			s.Cmd.Process.Signal(syscall.SIGCONT)
		}
	}()
	for i, c := range conns {
		if _, err := c.Write(msgs[i]); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	s.signal(syscall.SIGCONT)
	stopped = false
	for i, c := range conns {
		got := make([]byte, len(msgs[i]))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatalf("connection %d: echo after SIGCONT: %v", i, err)
		}
		if string(got) != string(msgs[i]) {
			t.Fatalf("connection %d: echo differs", i)
		}
	}
}

// TestUringLoopsShare: with -w 2 both loops serve. The loops take turns
// at accepting (an accept armed again joins the end of the listening
// socket's queue of waiters), so of 200 connections, each echoing once,
// each ring completes a good share of the requests, as its fdinfo in /proc
// counts them. A multishot accept would stay first in that queue and
// give every connection to one loop.
func TestUringLoopsShare(t *testing.T) {
	const n = 200
	s := startServer(t, cServer, "-M", "uring", "-w", "2")
	for i := 0; i < n; i++ {
		c := dial(t, s.addr)
		echoSome(t, c, []byte(fmt.Sprintf("connection %d\n", i)))
	}
	// The last send reaches us before its loop has consumed the
	// completion: the count may lag by one for a moment.
	var done []int64
	var total int64
	testkit.Eventually(t, ioTimeout, "2 rings with an accept, a receive and a send per connection", func() (bool, string) {
		done, total = ringCompletions(t, s.Cmd.Process.Pid), 0
		for _, d := range done {
			total += d
		}
		return len(done) == 2 && total >= 3*n,
			fmt.Sprintf("completions per ring %v: want 2 rings, %d or more in all", done, 3*n)
	})
	t.Logf("completions per ring: %v", done)
	for _, d := range done {
		if d < total/5 {
			t.Errorf("completions per ring %v: one loop served almost nothing", done)
		}
	}
}

// ringCompletions reads, for each io_uring descriptor of pid, how many
// completions the process has consumed (CqHead in its fdinfo).
func ringCompletions(t *testing.T, pid int) []int64 {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, e := range ents {
		if l, err := os.Readlink(dir + "/" + e.Name()); err != nil || l != "anon_inode:[io_uring]" {
			continue
		}
		info, err := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%s", pid, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		_, rest, ok := strings.Cut(string(info), "\nCqHead:")
		head, _, _ := strings.Cut(rest, "\n")
		v, err := strconv.ParseInt(strings.TrimSpace(head), 10, 64)
		if !ok || err != nil {
			t.Fatalf("fdinfo of %s: no CqHead:\n%s", e.Name(), info)
		}
		out = append(out, v)
	}
	return out
}

// TestUringLoad: bin/client holds 1,000 and then 10,000 connections (fewer
// where connScale says this machine cannot) on the io_uring model.
func TestUringLoad(t *testing.T) {
	for _, n := range []int{1000, connScale(t, 10000)} {
		t.Run(strconv.Itoa(n), func(t *testing.T) { runLoad(t, cServer, n, "-M", "uring") })
	}
}

// TestUringBadFlags: its -w is checked like any model's, before io_uring is.
func TestUringBadFlags(t *testing.T) {
	for _, w := range []string{"0", "10001", "abc", "-1"} {
		t.Run(w, func(t *testing.T) {
			res := testkit.Run(t, exitTimeout, binary(t, "10kthreads"), "-M", "uring", "-w", w)
			testkit.CheckUsageError(t, res, "10kthreads", "-w "+w)
		})
	}
}

// seccompEnv asks this test binary, run as a command, to install a seccomp
// filter that fails one system call with one errno and then to exec the
// rest of its arguments: "NR:ERRNO".
const seccompEnv = "TENKTHREADS_TEST_SECCOMP"

// io_uring's system calls have the same numbers on every architecture:
// they came after the tables were unified (Linux 5.1).
const (
	sysIOUringSetup    = 425
	sysIOUringRegister = 427
)

func init() {
	if spec := os.Getenv(seccompEnv); spec != "" {
		os.Exit(seccompExec(spec, os.Args[1:]))
	}
}

// seccompExec installs the filter on this thread and execs argv there,
// so the program starts under it. It returns only on failure.
func seccompExec(spec string, argv []string) int {
	var nr, errno uint32
	if _, err := fmt.Sscanf(spec, "%d:%d", &nr, &errno); err != nil || len(argv) == 0 {
		fmt.Fprintf(os.Stderr, "%s=%q: want NR:ERRNO and a command\n", seccompEnv, spec)
		return 2
	}
	runtime.LockOSThread()
	const (
		prSetNoNewPrivs   = 38
		prSetSeccomp      = 22
		seccompModeFilter = 2
		retErrno          = 0x00050000
		retAllow          = 0x7fff0000
	)
	prog := []syscall.SockFilter{
		{Code: syscall.BPF_LD | syscall.BPF_W | syscall.BPF_ABS, K: 0}, // seccomp_data.nr
		{Code: syscall.BPF_JMP | syscall.BPF_JEQ | syscall.BPF_K, Jt: 0, Jf: 1, K: nr},
		{Code: syscall.BPF_RET | syscall.BPF_K, K: retErrno | errno&0xffff},
		{Code: syscall.BPF_RET | syscall.BPF_K, K: retAllow},
	}
	fprog := syscall.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetNoNewPrivs, 1, 0); e != 0 {
		fmt.Fprintf(os.Stderr, "prctl PR_SET_NO_NEW_PRIVS: %v\n", e)
		return 1
	}
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetSeccomp, seccompModeFilter,
		uintptr(unsafe.Pointer(&fprog))); e != 0 {
		fmt.Fprintf(os.Stderr, "prctl PR_SET_SECCOMP: %v\n", e)
		return 1
	}
	err := syscall.Exec(argv[0], argv, os.Environ())
	fmt.Fprintf(os.Stderr, "exec %s: %v\n", argv[0], err)
	return 1
}

// checkUnavailable: exit 1, nothing on stdout (no start line), and one
// line on stderr naming the model and saying why.
func checkUnavailable(t *testing.T, res testkit.Result, why ...string) {
	t.Helper()
	msg := strings.TrimRight(res.Stderr, "\n")
	if res.Code != 1 || res.Stdout != "" || strings.Contains(msg, "\n") ||
		!strings.HasPrefix(msg, "10kthreads: -M uring: ") {
		t.Fatalf("exit %d, stdout %q, stderr %q: want exit 1, no start line, one line \"10kthreads: -M uring: ...\"",
			res.Code, res.Stdout, res.Stderr)
	}
	for _, w := range why {
		if !strings.Contains(msg, w) {
			t.Errorf("stderr %q does not say %q", msg, w)
		}
	}
}

// TestUringUnavailable: where io_uring cannot be set up (a seccomp filter
// forbids it, hides it, or makes the kernel look too old for buffer
// rings), -M uring exits 1 with one line saying why, with -P too, and
// epoll still serves under the very same filter.
func TestUringUnavailable(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		filter string
		why    []string
	}{
		{"setup-EPERM", fmt.Sprintf("%d:%d", sysIOUringSetup, syscall.EPERM),
			[]string{"io_uring", "Operation not permitted"}},
		{"setup-ENOSYS", fmt.Sprintf("%d:%d", sysIOUringSetup, syscall.ENOSYS),
			[]string{"io_uring is not available", "Function not implemented"}},
		{"register-EINVAL", fmt.Sprintf("%d:%d", sysIOUringRegister, syscall.EINVAL),
			[]string{"no provided-buffer rings", "5.19"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(seccompEnv, c.filter)
			srv := binary(t, "10kthreads")
			for _, args := range [][]string{{"-M", "uring"}, {"-M", "uring", "-P", "2"}, {"-M", "uring", "-w", "3"}} {
				res := testkit.Run(t, exitTimeout, self, append([]string{srv, "-p", "0"}, args...)...)
				checkUnavailable(t, res, c.why...)
			}
			s := startWrapped(t, cServer, []string{self}, "-M", "epoll")
			echoOnce(t, s.addr, randomBytes(t, 100<<10), false)
			s.stop()
		})
	}
}

// TestUringDisabledSysctl: kernel.io_uring_disabled = 2 is named in the
// message. The sysctl is machine-wide, so it is set only for the moment of
// the run and restored even if the test fails.
func TestUringDisabledSysctl(t *testing.T) {
	const path = "/proc/sys/kernel/io_uring_disabled"
	old, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("%s does not exist: this kernel (before 6.6) has no such switch", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		t.Skip("setting kernel.io_uring_disabled needs root")
	}
	if strings.TrimSpace(string(old)) != "0" {
		t.Skipf("kernel.io_uring_disabled is %s here already, not 0: not changing it", strings.TrimSpace(string(old)))
	}
	t.Cleanup(func() {
		if err := os.WriteFile(path, old, 0o644); err != nil {
			t.Errorf("restore %s to %s: %v", path, strings.TrimSpace(string(old)), err)
		}
	})
	if err := os.WriteFile(path, []byte("2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := testkit.Run(t, exitTimeout, binary(t, "10kthreads"), "-M", "uring", "-p", "0")
	checkUnavailable(t, res, "io_uring is disabled on this machine (kernel.io_uring_disabled = 2)")
	s := startServer(t, cServer, "-M", "epoll")
	echoOnce(t, s.addr, []byte("epoll needs no io_uring"), false)
	s.stop()
	if err := os.WriteFile(path, old, 0o644); err != nil {
		t.Fatal(err)
	}
	s = startServer(t, cServer, "-M", "uring")
	echoOnce(t, s.addr, []byte("io_uring again"), false)
	s.stop()
}
