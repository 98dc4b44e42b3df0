package tests

import (
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"tenkthreads/internal/testkit"
)

// The Go reference server's -c, -t and -P, which mirror the C server's.

var refServer = serverKind{name: "ref_async_server", model: "goroutine"}

// refClosedByServer reports whether the server has closed c: a read returns
// EOF or a reset within the wait.
func refClosedByServer(c *net.TCPConn, wait time.Duration) error {
	c.SetReadDeadline(time.Now().Add(wait))
	var b [1]byte
	n, err := c.Read(b[:])
	switch {
	case n > 0:
		return fmt.Errorf("read a byte the server never echoed")
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		return nil
	default:
		return fmt.Errorf("not closed: %v", err)
	}
}

// TestRefServerCap: with -c 10, ten connections are served and five more are
// accepted and closed at once, counted as closed over cap.
func TestRefServerCap(t *testing.T) {
	jsonPath := filepath.Join(t.TempDir(), "r.json")
	s := startServer(t, refServer, "-c", "10", "-j", jsonPath)
	var in []*net.TCPConn
	for i := 0; i < 10; i++ {
		c := dial(t, s.addr)
		echoSome(t, c, randomBytes(t, 10)) // served, so admitted
		in = append(in, c)
	}
	for i := 0; i < 5; i++ {
		c := dial(t, s.addr)
		if err := refClosedByServer(c, 10*time.Second); err != nil {
			t.Errorf("connection %d over the cap: %v", 11+i, err)
		}
	}
	for _, c := range in { // the ten are still served
		echoSome(t, c, randomBytes(t, 10))
	}
	r := s.usr1()
	checkReport(t, refServer, r, "REPORT", 10, 10, 10)
	if v := r.labels["closed over cap"]; v != "5 (cap 10)" {
		t.Errorf("closed over cap %q, want \"5 (cap 10)\"", v)
	}
	m := readJSONReport(t, jsonPath)
	checkJSON(t, refServer, m, s.addr, "report", map[string]float64{
		"max_conc": 10, "total": 10, "now": 10, "max_conns": 10, "over_cap": 5,
		"idle_timeout_s": 0, "idle_timeouts": 0, "bytes_echoed": 200,
	})
	// Below the cap again, a new connection is served.
	in[0].Close()
	if !testkit.Until(exitTimeout, 50*time.Millisecond, func() bool { return s.usr1().now == 9 }) {
		t.Fatal("Now never fell to 9 after a close")
	}
	echoOnce(t, s.addr, randomBytes(t, 100), false)
	for _, c := range in[1:] {
		c.Close()
	}
	s.waitIdle()
	r = s.stop()
	checkReport(t, refServer, r, "EXITING", 10, 11, 0)
	if v := r.labels["closed over cap"]; v != "5 (cap 10)" {
		t.Errorf("closed over cap %q at exit, want \"5 (cap 10)\"", v)
	}
}

// TestRefServerIdle: with -t 1 a connection that sends nothing and a peer
// that sends but never reads are both closed and counted; a connection that
// talks every 200 ms for three seconds is never disturbed.
func TestRefServerIdle(t *testing.T) {
	jsonPath := filepath.Join(t.TempDir(), "r.json")
	s := startServer(t, refServer, "-t", "1", "-j", jsonPath)
	start := time.Now()

	idle := dial(t, s.addr)

	// The never-reading peer writes until the server's close makes its
	// writes fail; both socket buffers fill first, then the server's write
	// blocks and its timeout runs.
	stuck := dial(t, s.addr)
	stuck.SetWriteBuffer(64 << 10)
	stuckErr := make(chan error, 1)
	go func() {
		buf := make([]byte, 64<<10)
		for {
			if _, err := stuck.Write(buf); err != nil {
				stuckErr <- err
				return
			}
		}
	}()

	active := dial(t, s.addr)
	activeErr := make(chan error, 1)
	go func() {
		p := []byte("still here\n")
		got := make([]byte, len(p))
		for i := 0; i < 15; i++ {
			time.Sleep(200 * time.Millisecond)
			if _, err := active.Write(p); err != nil {
				activeErr <- err
				return
			}
			if _, err := io.ReadFull(active, got); err != nil {
				activeErr <- fmt.Errorf("round trip %d: %v", i+1, err)
				return
			}
		}
		activeErr <- nil
	}()

	if err := refClosedByServer(idle, 15*time.Second); err != nil {
		t.Fatalf("idle connection: %v", err)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("idle connection closed after %v, before the 1 s timeout", d)
	}
	select {
	case err := <-stuckErr:
		if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
			t.Errorf("never-reading peer: write failed with %v, want a reset", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("never-reading peer still connected 15 s after a 1 s timeout")
	}
	if err := <-activeErr; err != nil {
		t.Fatalf("active connection disturbed: %v", err)
	}
	r := s.usr1()
	checkReport(t, refServer, r, "REPORT", 3, 3, 1)
	if v := r.labels["closed idle"]; v != "2 (after 1 s idle)" {
		t.Errorf("closed idle %q, want \"2 (after 1 s idle)\"", v)
	}
	if v := r.labels["connections reset"]; v != "0" {
		t.Errorf("connections reset %q: a timeout is not a reset", v)
	}
	m := readJSONReport(t, jsonPath)
	checkJSON(t, refServer, m, s.addr, "report", map[string]float64{
		"idle_timeout_s": 1, "idle_timeouts": 2, "max_conns": 0, "over_cap": 0, "now": 1,
	})
	active.Close()
	s.waitIdle()
	s.stop()
}

// refChildPids lists the processes whose parent is pid.
func refChildPids(t *testing.T, pid int) []int {
	t.Helper()
	var kids []int
	for _, p := range testkit.Children(t, pid) {
		kids = append(kids, p.PID)
	}
	return kids
}

// refGone waits until none of pids exists, not even as a zombie.
func refGone(t *testing.T, pids []int) {
	t.Helper()
	var left int
	if !testkit.Until(exitTimeout, 20*time.Millisecond, func() bool {
		for _, p := range pids {
			if !testkit.Gone(p) {
				left = p
				return false
			}
		}
		return true
	}) {
		st, _ := testkit.ReadProc(left)
		t.Fatalf("worker %d outlived the server: %+v", left, st)
	}
}

// TestRefServerProcs: -P 3 serves 3000 connections across three worker
// processes; the parent's report adds them up and says four processes;
// SIGINT leaves no worker behind.
func TestRefServerProcs(t *testing.T) {
	const n = 3000
	jsonPath := filepath.Join(t.TempDir(), "r.json")
	s := startServer(t, refServer, "-P", "3", "-j", jsonPath)
	if !strings.Contains(s.start, "model goroutine in 3 processes,") {
		t.Errorf("start line %q does not say 3 processes", s.start)
	}
	kids := refChildPids(t, s.Cmd.Process.Pid)
	if len(kids) != 3 {
		t.Fatalf("%d worker processes, want 3", len(kids))
	}
	res := testkit.Run(t, clientTimeout, binary(t, "client"), "-n", strconv.Itoa(n), "-host", s.addr, "-quiet")
	if res.Code != 0 {
		t.Fatalf("client -n %d: exit status %d\n%s\n%s", n, res.Code, res.Stdout, res.Stderr)
	}
	for _, want := range []string{fmt.Sprintf("Max conc: %d", n), fmt.Sprintf("total: %d", n)} {
		if !hasLine(res.Stdout, want) {
			t.Errorf("client output lacks %q:\n%s", want, res.Stdout)
		}
	}
	r := s.waitIdle()
	checkReport(t, refServer, r, "REPORT", n, n, 0)
	if v := r.labels["processes"]; !strings.HasPrefix(v, "4 (3 workers; -P 3, fd limit ") {
		t.Errorf("processes %q, want 4 (3 workers; -P 3, ...)", v)
	}
	if v := r.labels["memory per peak conn"]; !strings.Contains(v, "PSS sum peak growth") {
		t.Errorf("memory per peak conn %q: with workers it is the growth of the PSS sum's peak", v)
	}
	m := readJSONReport(t, jsonPath)
	checkJSON(t, refServer, m, s.addr, "report", map[string]float64{
		"processes": 4, "server_procs": 3, "max_conc": n, "total": n, "now": 0, "resets": 0,
	})
	if pss, rss := m["pss_sum_kib"].(float64), m["rss_sum_kib"].(float64); pss <= 0 || rss <= m["vmrss_kib"].(float64) {
		t.Errorf("pss_sum_kib %v, rss_sum_kib %v (vmrss_kib %v): want the workers added in", pss, rss, m["vmrss_kib"])
	}
	// The parent accepts nothing itself: the echo CPU is the workers'.
	if cpu := m["user_cpu_s"].(float64) + m["sys_cpu_s"].(float64); cpu <= 0 {
		t.Errorf("CPU %v s for %d connections: the workers' CPU is not added in", cpu, n)
	}
	s.stop()
	if strings.Contains(s.Stderr.String(), "ended") {
		t.Errorf("a worker died before the stop:\n%s", s.Stderr)
	}
	refGone(t, kids)
}

// refSetFDLimit sets another process's open-file limit (prlimit(2)).
func refSetFDLimit(t *testing.T, pid int, n uint64) {
	t.Helper()
	rl := syscall.Rlimit{Cur: n, Max: n}
	if _, _, e := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), syscall.RLIMIT_NOFILE,
		uintptr(unsafe.Pointer(&rl)), 0, 0, 0); e != 0 {
		t.Fatalf("prlimit %d NOFILE %d: %v", pid, n, e)
	}
}

// TestProcsFDLimit (issue 9 at small scale): three processes limited to
// 200 descriptors each hold 450 connections, more than one could, and the
// aggregated report matches what the client verified; for both servers.
func TestProcsFDLimit(t *testing.T) {
	const perProc, n = 200, 450
	for _, kind := range servers {
		t.Run(kind.name, func(t *testing.T) {
			s := startServer(t, kind, "-P", "3")
			kids := refChildPids(t, s.Cmd.Process.Pid)
			if len(kids) != 3 {
				t.Fatalf("%d worker processes, want 3", len(kids))
			}
			for _, k := range kids {
				refSetFDLimit(t, k, perProc)
			}
			res := testkit.Run(t, clientTimeout, binary(t, "client"), "-n", strconv.Itoa(n), "-host", s.addr, "-quiet", "-timeout", "60s")
			if res.Code != 0 {
				t.Fatalf("client -n %d against 3 x %d descriptors: exit status %d\n%s\n%s", n, perProc, res.Code, res.Stdout, res.Stderr)
			}
			if !hasLine(res.Stdout, fmt.Sprintf("Max conc: %d", n)) {
				t.Errorf("client did not hold %d connections at once:\n%s", n, res.Stdout)
			}
			r := s.waitIdle()
			checkReport(t, kind, r, "REPORT", n, n, 0)
			t.Logf("accept errors (EMFILE while a worker was full): %s", r.labels["accept errors"])
			s.stop()
			refGone(t, kids)
		})
	}
}

// TestRefServerProcsParentKilled: workers die with a parent killed outright.
func TestRefServerProcsParentKilled(t *testing.T) {
	s := startServer(t, refServer, "-P", "2")
	echoOnce(t, s.addr, randomBytes(t, 1000), false)
	kids := refChildPids(t, s.Cmd.Process.Pid)
	if len(kids) != 2 {
		t.Fatalf("%d worker processes, want 2", len(kids))
	}
	s.signal(syscall.SIGKILL)
	<-s.Done
	refGone(t, kids)
}

// TestRefServerBadValues: the C server's ranges and wording, exit 2.
func TestRefServerBadValues(t *testing.T) {
	for _, c := range []struct{ args, want string }{
		{"-c 0", "-c 0: connection cap is too small"},
		{"-c -5", "-c -5: connection cap is too small"},
		{"-c x", "-c x: connection cap is invalid"},
		{"-c 99999999999999999999", "-c 99999999999999999999: connection cap is too large"},
		{"-t 0", "-t 0: idle timeout is too small (1-86400 seconds)"},
		{"-t 86401", "-t 86401: idle timeout is too large (1-86400 seconds)"},
		{"-t 1.5", "-t 1.5: idle timeout is invalid (1-86400 seconds)"},
		{"-P 0", "-P 0: processes is too small (1-256)"},
		{"-P 257", "-P 257: processes is too large (1-256)"},
		{"-P many", "-P many: processes is invalid (1-256)"},
	} {
		t.Run(strings.ReplaceAll(c.args, " ", "_"), func(t *testing.T) {
			res := testkit.Run(t, exitTimeout, binary(t, refServer.name), strings.Fields(c.args)...)
			if res.Code != 2 {
				t.Fatalf("exit status %d, want 2\n%s", res.Code, res.Stderr)
			}
			lines := strings.Split(strings.TrimRight(res.Stderr, "\n"), "\n")
			if len(lines) != 2 || lines[0] != refServer.name+": "+c.want || !strings.HasPrefix(lines[1], "usage: ") {
				t.Errorf("stderr %q, want %q and the usage line", res.Stderr, refServer.name+": "+c.want)
			}
		})
	}
}
