package tests

// Hostile conditions (issue 7): descriptor and thread exhaustion, the -c
// cap, idle and slow peers under -t, peers that reset or die, signals under
// load, and bad input. Each test injects one fault and checks what the
// server does about it through its report, /proc and the peers' view.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func prlimitPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("prlimit")
	if err != nil {
		t.Fatalf("prlimit (util-linux) is needed to inject resource limits: %v", err)
	}
	return p
}

// labelNum is the first number of a report line, e.g. "closed idle  2 (...)".
func labelNum(t *testing.T, r report, label string) float64 {
	t.Helper()
	v, ok := r.labels[label]
	if !ok {
		t.Fatalf("report has no %q line:\n%s", label, r.raw)
	}
	f, err := strconv.ParseFloat(firstField(v), 64)
	if err != nil {
		t.Fatalf("report line %q: %q is not a number", label, v)
	}
	return f
}

func labelInt(t *testing.T, r report, label string) int64 {
	t.Helper()
	return int64(labelNum(t, r, label))
}

func cpuSeconds(t *testing.T, r report) float64 {
	t.Helper()
	return labelNum(t, r, "user CPU") + labelNum(t, r, "system CPU")
}

func openFDs(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatalf("count descriptors of %d: %v", pid, err)
	}
	return len(ents)
}

func statusKiB(t *testing.T, pid int, key string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key+":"); ok {
			n, err := strconv.ParseInt(firstField(v), 10, 64)
			if err != nil {
				t.Fatalf("/proc/%d/status %s: %q", pid, key, l)
			}
			return n
		}
	}
	t.Fatalf("/proc/%d/status has no %s", pid, key)
	return 0
}

// children counts the live processes whose parent is pid, and the zombies
// among them.
func children(pid int) (live, zombies int) {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 || f[1] != strconv.Itoa(pid) {
			continue
		}
		live++
		if f[0] == "Z" {
			zombies++
		}
	}
	return live, zombies
}

// eventually polls cond until it holds, failing with its last word after
// timeout. Closing and exiting are asynchronous, so end states are awaited.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v (%s)", what, timeout, detail)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// expectClosed reads from a connection the server should close at once
// without serving it: EOF, or a reset if the server closed with our bytes
// unread.
func expectClosed(t *testing.T, c *net.TCPConn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(ioTimeout))
	n, err := c.Read(make([]byte, 64))
	if n != 0 || (!errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET)) {
		t.Fatalf("want the server to close the connection (EOF or reset), got %d bytes, err %v", n, err)
	}
}

// clientProc is bin/client running in the background.
type clientProc struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan struct{}
	err            error
}

func startClient(t *testing.T, args ...string) *clientProc {
	t.Helper()
	p := &clientProc{stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(binary(t, "client"), args...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start client: %v", err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("client stdout:\n%s\nclient stderr:\n%s", p.stdout, p.stderr)
		}
	})
	return p
}

func (p *clientProc) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("client did not finish within %v", timeout)
	}
	return exitCode(t, p.err)
}

// holdWithClient has bin/client open n connections and hold them idle,
// and returns once the server counts all n open.
func holdWithClient(t *testing.T, s *server, n int) *clientProc {
	t.Helper()
	p := startClient(t, "-n", strconv.Itoa(n), "-host", s.addr, "-hold", "120s", "-quiet")
	eventually(t, 90*time.Second, fmt.Sprintf("server holds %d connections", n), func() (bool, string) {
		select {
		case <-p.done:
			t.Fatalf("client exited while it should hold connections (%v)", p.err)
		default:
		}
		r := s.usr1()
		return r.now == int64(n), fmt.Sprintf("Now: %d", r.now)
	})
	return p
}

// TestFdExhaustion: with 64 descriptors the server cannot take all of 150
// connections. It must neither die nor spin on EMFILE, must keep echoing on
// the connections it has and must take the rest once descriptors free up.
func TestFdExhaustion(t *testing.T) {
	prl := prlimitPath(t)
	const early, flood = 20, 130
	for _, model := range []string{"thread", "epoll", "uring", "pool", "fork"} {
		t.Run(model, func(t *testing.T) {
			s := startWrapped(t, cServer, []string{prl, "--nofile=64:64", "--"}, "-M", model)
			if !strings.Contains(s.start, "fd limit 64 ") {
				t.Fatalf("start line %q: want fd limit 64 under prlimit", s.start)
			}
			var conns []*net.TCPConn
			for i := 0; i < early; i++ {
				c := dial(t, s.addr)
				echoSome(t, c, []byte("early"))
				conns = append(conns, c)
			}
			r0 := s.usr1()
			// The kernel completes these handshakes into the listen
			// backlog; the server runs out of descriptors taking them.
			var extra []*net.TCPConn
			for i := 0; i < flood; i++ {
				extra = append(extra, dial(t, s.addr))
			}
			time.Sleep(2 * time.Second) // the saturation; nothing is timed
			r1 := s.usr1()
			cpu := cpuSeconds(t, r1) - cpuSeconds(t, r0)
			errs := labelInt(t, r1, "accept errors")
			t.Logf("%s: %d connections open of %d made; %.3f s CPU during 2 s of saturation; %d accept errors",
				model, r1.now, early+flood, cpu, errs)
			if cpu >= 0.5 {
				t.Errorf("server used %.3f s of CPU in 2 s out of descriptors: it spins on EMFILE", cpu)
			}
			// fork keeps each connection in its own process: the parent
			// never holds more than one at a time, so never runs out.
			if model != "fork" {
				if errs == 0 {
					t.Errorf("no accept errors counted with %d connections and 64 descriptors", early+flood)
				}
				if r1.now >= early+flood {
					t.Errorf("Now: %d with 64 descriptors: the limit did not bite", r1.now)
				}
			}
			for _, c := range conns {
				echoSome(t, c, []byte("still echoing"))
			}
			for _, c := range extra {
				c.Close()
			}
			for _, c := range conns[early/4:] {
				c.Close()
			}
			echoOnce(t, s.addr, randomBytes(t, 10000), false)
			for _, c := range conns[:early/4] {
				echoSome(t, c, []byte("and after"))
				c.Close()
			}
			r := s.waitIdle()
			// Every connection made was taken in the end, none twice.
			if r.total != early+flood+1 {
				t.Errorf("Total: %d, want %d", r.total, early+flood+1)
			}
			if model == "fork" {
				eventually(t, exitTimeout, "fork children reaped", func() (bool, string) {
					live, z := children(s.cmd.Process.Pid)
					return live == 0, fmt.Sprintf("%d children, %d zombies", live, z)
				})
			}
		})
	}
}

// TestThreadExhaustion: pthread_create fails once the address space is
// used up. Root ignores RLIMIT_NPROC, so the fault is an address-space
// limit (set on the running server) that leaves room for three more 256
// MiB stacks.
func TestThreadExhaustion(t *testing.T) {
	if san := sanitizer(); san != "" {
		t.Skipf("server built with %s: its shadow memory makes an address-space limit meaningless", san)
	}
	prl := prlimitPath(t)
	const stack = 256 << 20
	s := startServer(t, cServer, "-s", "256m")
	pid := s.cmd.Process.Pid
	idle := s.usr1() // the report thread has allocated by now
	idleFDs := openFDs(t, pid)
	limit := statusKiB(t, pid, "VmSize")*1024 + 3*stack + stack/2
	if res := run(t, exitTimeout, prl, "--pid", strconv.Itoa(pid), fmt.Sprintf("--as=%d", limit)); res.code != 0 {
		t.Fatalf("prlimit --as: exit %d: %s", res.code, res.stderr)
	}
	var served []*net.TCPConn
	refused := 0
	for i := 0; i < 8; i++ {
		c := dial(t, s.addr)
		c.Write([]byte("x"))
		got := make([]byte, 1)
		if n, err := c.Read(got); n == 1 && err == nil {
			served = append(served, c)
			continue
		} else if n != 0 || (!errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET)) {
			t.Fatalf("connection %d: read %d bytes, %v: want the echo or a clean close", i+1, n, err)
		}
		refused++
		c.Close()
	}
	t.Logf("address-space limit %d MiB: %d connections served, %d closed at once", limit>>20, len(served), refused)
	if len(served) == 0 || refused == 0 {
		t.Fatalf("%d served, %d refused: the limit should allow some threads and not all", len(served), refused)
	}
	for _, c := range served {
		echoSome(t, c, []byte("still here"))
	}
	r := s.usr1()
	if got := labelInt(t, r, "thread create failures"); got != int64(refused) {
		t.Errorf("thread create failures %d, want %d", got, refused)
	}
	if r.now != int64(len(served)) {
		t.Errorf("Now: %d, want the %d served", r.now, len(served))
	}
	for _, c := range served {
		c.Close()
	}
	s.waitIdle()
	// Exited threads give their stacks back: new connections are served.
	echoOnce(t, s.addr, []byte("again"), false)
	eventually(t, exitTimeout, "threads and descriptors back to idle", func() (bool, string) {
		r := s.usr1()
		th, idleTh := labelInt(t, r, "threads"), labelInt(t, idle, "threads")
		fds := openFDs(t, pid)
		return r.now == 0 && th == idleTh && fds == idleFDs,
			fmt.Sprintf("Now %d, threads %d (idle %d), descriptors %d (idle %d)", r.now, th, idleTh, fds, idleFDs)
	})
	s.stop()
}

// refHasFlag tells whether ref_async_server's -h lists flag.
func refHasFlag(t *testing.T, flag string) bool {
	res := run(t, exitTimeout, binary(t, "ref_async_server"), "-h")
	for _, l := range strings.Split(res.stdout, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == flag {
			return true
		}
		if strings.Contains(l, "["+flag+" ") {
			return true
		}
	}
	return false
}

// TestConnCap: with -c MAX, connections beyond MAX are accepted and
// closed at once, counted, and the ones within keep being served.
func TestConnCap(t *testing.T) {
	const capN = 5
	type tc struct {
		kind  serverKind
		model string
	}
	cases := []tc{
		{cServer, "thread"}, {cServer, "epoll"}, {cServer, "uring"}, {cServer, "prethread"}, {cServer, "prefork-nolock"},
		{serverKind{name: "ref_async_server", model: "goroutine"}, ""},
	}
	for _, c := range cases {
		name := c.kind.name
		args := []string{"-c", strconv.Itoa(capN)}
		if c.model != "" {
			name += "/" + c.model
			args = append(args, "-M", c.model)
		}
		t.Run(name, func(t *testing.T) {
			if c.kind.name == "ref_async_server" && !refHasFlag(t, "-c") {
				t.Skip("ref_async_server -h lists no -c yet")
			}
			s := startServer(t, c.kind, args...)
			var in []*net.TCPConn
			for i := 0; i < capN; i++ {
				conn := dial(t, s.addr)
				echoSome(t, conn, []byte("within the cap"))
				in = append(in, conn)
			}
			for i := 0; i < 5; i++ {
				expectClosed(t, dial(t, s.addr))
			}
			for _, conn := range in {
				echoSome(t, conn, []byte("still served"))
			}
			r := s.usr1()
			if got := labelInt(t, r, "closed over cap"); got != 5 {
				t.Errorf("closed over cap %d, want 5", got)
			}
			if r.maxConc != capN || r.now != capN || r.total != capN {
				t.Errorf("Max conc %d, Now %d, Total %d; want %d each", r.maxConc, r.now, r.total, capN)
			}
			for _, conn := range in {
				conn.Close()
			}
			s.waitIdle()
			// Room again below the cap.
			echoOnce(t, s.addr, []byte("after"), false)
		})
	}
}

// TestIdleTimeout: under -t 1 an idle peer and a peer that sends but never
// reads are both closed, while a third connection echoes throughout, and
// the unread echo does not pile up in the server's memory.
func TestIdleTimeout(t *testing.T) {
	for _, model := range []string{"thread", "epoll", "uring"} {
		t.Run(model, func(t *testing.T) {
			s := startServer(t, cServer, "-t", "1", "-M", model)
			pid := s.cmd.Process.Pid
			rss0 := statusKiB(t, pid, "VmRSS")
			good, idle, hog := dial(t, s.addr), dial(t, s.addr), dial(t, s.addr)
			echoSome(t, good, []byte("hello"))

			idleDone := make(chan error, 1)
			go func() {
				idle.SetReadDeadline(time.Now().Add(ioTimeout))
				n, err := idle.Read(make([]byte, 1))
				if n == 0 && errors.Is(err, io.EOF) {
					err = nil
				} else if err == nil {
					err = fmt.Errorf("read %d bytes from an idle connection", n)
				}
				idleDone <- err
			}()
			// The hog writes until the server, blocked on an echo the hog
			// never reads, gives up and closes (a reset, as our bytes lie
			// unread on its side).
			hogDone := make(chan error, 1)
			var hogSent int64
			chunk := randomBytes(t, 64<<10)
			go func() {
				end := time.Now().Add(ioTimeout)
				for time.Now().Before(end) {
					hog.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
					n, err := hog.Write(chunk)
					hogSent += int64(n)
					if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
						hogDone <- nil
						return
					}
				}
				hogDone <- fmt.Errorf("still writing after %v", ioTimeout)
			}()
			var idleErr, hogErr error
			idleOpen, hogOpen := true, true
			rounds := 0
			for idleOpen || hogOpen {
				select {
				case idleErr = <-idleDone:
					idleOpen = false
				case hogErr = <-hogDone:
					hogOpen = false
				case <-time.After(100 * time.Millisecond):
					echoSome(t, good, []byte("busy"))
					rounds++
				}
			}
			if idleErr != nil {
				t.Errorf("idle connection: %v", idleErr)
			}
			if hogErr != nil {
				t.Errorf("connection that never reads: %v", hogErr)
			}
			echoSome(t, good, []byte("last"))
			r := s.usr1()
			rss1 := statusKiB(t, pid, "VmRSS")
			t.Logf("%s: idle and non-reading peers closed; the hog sent %d KiB; %d echoes meanwhile; VmRSS %d -> %d KiB",
				model, hogSent>>10, rounds, rss0, rss1)
			if got := labelInt(t, r, "closed idle"); got != 2 {
				t.Errorf("closed idle %d, want 2", got)
			}
			if r.now != 1 {
				t.Errorf("Now: %d, want 1 (the connection that kept echoing)", r.now)
			}
			if rss1-rss0 > 32<<10 {
				t.Errorf("VmRSS grew %d KiB while a peer did not read: the unread echo is buffered", rss1-rss0)
			}
			good.Close()
			s.waitIdle()
		})
	}
}

// TestResetMidTransfer: peers reset (SO_LINGER 0) while the server is in
// the middle of echoing megabytes to them.
func TestResetMidTransfer(t *testing.T) {
	const n = 10
	for _, model := range []string{"thread", "epoll", "uring"} {
		t.Run(model, func(t *testing.T) {
			s := startServer(t, cServer, "-M", model)
			payload := randomBytes(t, 4<<20)
			for i := 0; i < n; i++ {
				c := dial(t, s.addr)
				wdone := make(chan struct{})
				go func() { c.Write(payload); close(wdone) }()
				// A first echoed byte: the server is mid-transfer.
				if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
					t.Fatalf("first echo byte: %v", err)
				}
				c.SetLinger(0)
				c.Close()
				<-wdone
			}
			r := s.waitIdle()
			if got := labelInt(t, r, "connections reset"); got != n {
				t.Errorf("connections reset %d, want %d", got, n)
			}
			echoOnce(t, s.addr, []byte("after the resets"), false)
		})
	}
}

// TestClientKilled: a client holding thousands of connections dies by
// SIGKILL; the server notices every one, and its threads and descriptors
// return to their idle counts.
func TestClientKilled(t *testing.T) {
	n := connScale(t, 10000)
	for _, model := range []string{"thread", "epoll", "uring"} {
		t.Run(model, func(t *testing.T) {
			s := startServer(t, cServer, "-M", model)
			pid := s.cmd.Process.Pid
			idle := s.usr1()
			idleFDs := openFDs(t, pid)
			idleThreads := labelInt(t, idle, "threads")
			p := holdWithClient(t, s, n)
			held := s.usr1()
			heldFDs := openFDs(t, pid)
			if heldFDs < idleFDs+n {
				t.Errorf("%d descriptors open while %d connections are held", heldFDs, n)
			}
			if th := labelInt(t, held, "threads"); model == "thread" && th < idleThreads+int64(n) {
				t.Errorf("threads %d while %d connections are held, want one each", th, n)
			}
			if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-p.done
			var last report
			eventually(t, 60*time.Second, "threads and descriptors back to idle", func() (bool, string) {
				last = s.usr1()
				th, fds := labelInt(t, last, "threads"), openFDs(t, pid)
				return last.now == 0 && th == idleThreads && fds == idleFDs,
					fmt.Sprintf("Now %d, threads %d (idle %d), descriptors %d (idle %d)", last.now, th, idleThreads, fds, idleFDs)
			})
			if last.maxConc != int64(n) || last.total != int64(n) {
				t.Errorf("Max conc %d, Total %d; want %d each", last.maxConc, last.total, n)
			}
			t.Logf("%s, %d held then SIGKILL: held threads %d, descriptors %d; after: Max conc %d, Total %d, Now %d, threads %d (idle %d), descriptors %d (idle %d), resets %d, accept errors %d, resident %s",
				model, n, labelInt(t, held, "threads"), heldFDs, last.maxConc, last.total, last.now,
				labelInt(t, last, "threads"), idleThreads, openFDs(t, pid), idleFDs,
				labelInt(t, last, "connections reset"), labelInt(t, last, "accept errors"), last.labels["resident now"])
		})
	}
}

// TestSIGINTUnderLoad: SIGINT with 10,000 connections open prints the
// report and exits 0 promptly.
func TestSIGINTUnderLoad(t *testing.T) {
	n := connScale(t, 10000)
	s := startServer(t, cServer)
	p := holdWithClient(t, s, n)
	// LeakSanitizer's check at exit walks every thread: seconds more.
	bound := 10 * time.Second
	if sanitizer() != "" {
		bound = 60 * time.Second
	}
	t0 := time.Now()
	s.signal(syscall.SIGINT)
	select {
	case <-s.done:
	case <-time.After(bound):
		t.Fatalf("no exit within %v of SIGINT with %d connections open", bound, n)
	}
	took := time.Since(t0)
	if code := exitCode(t, s.err); code != 0 {
		t.Fatalf("exit status %d after SIGINT, want 0", code)
	}
	reps := parseReports(t, s.kind, s.stdout.String())
	r := reps[len(reps)-1]
	checkReport(t, s.kind, r, "EXITING", int64(n), int64(n), int64(n))
	t.Logf("SIGINT with %d connections open: EXITING report and exit 0 after %v", n, took.Round(time.Millisecond))
	p.cmd.Process.Kill()
}

// TestUSR1Storm: SIGUSR1 every 20 ms while a client opens and closes
// connections as fast as it can. The server keeps serving, every report
// is well formed and consistent, and the totals add up at the end.
func TestUSR1Storm(t *testing.T) {
	for _, model := range []string{"thread", "epoll", "uring"} {
		t.Run(model, func(t *testing.T) {
			s := startServer(t, cServer, "-M", model)
			js := filepath.Join(t.TempDir(), "client.json")
			p := startClient(t, "-n", "50", "-reconnect", "-duration", "2s", "-host", s.addr, "-json", js, "-quiet")
			sent := 0
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for running := true; running; {
				select {
				case <-p.done:
					running = false
				case <-s.done:
					t.Fatalf("server died under SIGUSR1: %v", s.err)
				case <-tick.C:
					if sent < 1000 {
						s.signal(syscall.SIGUSR1)
						sent++
					}
				}
			}
			if code := exitCode(t, p.err); code != 0 {
				t.Fatalf("client exit %d, want 0", code)
			}
			var cres struct{ Total int64 }
			b, err := os.ReadFile(js)
			if err == nil {
				err = json.Unmarshal(b, &cres)
			}
			if err != nil {
				t.Fatalf("client JSON: %v", err)
			}
			r := s.waitIdle()
			if r.total != cres.Total {
				t.Errorf("server Total %d, client connected %d times", r.total, cres.Total)
			}
			reps := parseReports(t, s.kind, s.stdout.String())
			var prev int64
			for _, rep := range reps {
				// Max conc may pass 50: the client dials again before
				// the server has read the EOF of the connection it closed.
				if rep.total < prev || rep.now < 0 || rep.now > rep.maxConc {
					t.Errorf("inconsistent report: Max conc %d, Total %d (previous %d), Now %d", rep.maxConc, rep.total, prev, rep.now)
				}
				prev = rep.total
			}
			t.Logf("%s: %d SIGUSR1 sent, %d reports, %d connections made and counted", model, sent, len(reps), cres.Total)
		})
	}
}

// TestNumericFlagRanges: every numeric flag of the server and the client
// rejects what is out of range.
func TestNumericFlagRanges(t *testing.T) {
	type bad struct {
		args    []string
		mention string
	}
	server := []bad{
		{[]string{"-b", "0"}, "-b"}, {[]string{"-b", "65536"}, "-b"}, {[]string{"-b", "-3"}, "-b"},
		{[]string{"-c", "0"}, "-c"}, {[]string{"-c", "-1"}, "-c"}, {[]string{"-c", "1x"}, "-c"},
		{[]string{"-c", "99999999999999999999"}, "-c"},
		{[]string{"-P", "0"}, "-P"}, {[]string{"-P", "257"}, "-P"}, {[]string{"-P", "two"}, "-P"},
		{[]string{"-p", "65536"}, "-p"}, {[]string{"-p", "0x50"}, "-p"},
		{[]string{"-s", "0"}, "-s"}, {[]string{"-s", "1k"}, "-s"}, {[]string{"-s", "2g"}, "-s"},
		{[]string{"-s", "-16k"}, "-s"}, {[]string{"-s", "16q"}, "-s"},
		{[]string{"-t", "0"}, "-t"}, {[]string{"-t", "86401"}, "-t"}, {[]string{"-t", "1.5"}, "-t"},
		{[]string{"-w", "0"}, "-w"}, {[]string{"-w", "10001"}, "-w"}, {[]string{"-M", "pool", "-w", "-1"}, "-w"},
		{[]string{"-w", "4"}, "-w"}, // thread takes no workers
	}
	client := []bad{
		{[]string{"-n", "0"}, "-n"}, {[]string{"-n", "-5"}, "-n"}, {[]string{"-n", "1e3"}, "-n"},
		{[]string{"-n", "99999999999999999999"}, "-n"},
		{[]string{"-size", "-1"}, "-size"}, {[]string{"-size", "x"}, "-size"},
		{[]string{"-size", "2147483648"}, "-size"}, {[]string{"-size", "9223372036854775807"}, "-size"},
		{[]string{"-rounds", "-1"}, "-rounds"}, {[]string{"-rounds", "0"}, "-rounds"},
		{[]string{"-duration", "-1s"}, "-duration"}, {[]string{"-duration", "5"}, "-duration"},
		{[]string{"-hold", "-1s"}, "-hold"}, {[]string{"-hold", "1y"}, "-hold"},
		{[]string{"-rate", "-1"}, "-rate"}, {[]string{"-rate", "NaN"}, "-rate"}, {[]string{"-rate", "+Inf"}, "-rate"},
		{[]string{"-n", "1", "-rate", "1e10"}, "-rate"}, {[]string{"-rate", "1e-12"}, "-rate"},
		{[]string{"-connect-rate", "-1"}, "-connect-rate"}, {[]string{"-connect-rate", "Inf"}, "-connect-rate"},
		{[]string{"-connect-timeout", "0s"}, "-connect-timeout"}, {[]string{"-timeout", "-1s"}, "-timeout"},
		{[]string{"-dialers", "0"}, "-dialers"},
		{[]string{"-procs", "0"}, "-procs"}, {[]string{"-n", "2", "-procs", "3"}, "-procs"},
		{[]string{"-seed", "-1"}, "-seed"},
		{[]string{"-start-at", "tomorrow"}, "-start-at"}, {[]string{"-start-at", "Inf"}, "-start-at"},
		{[]string{"-start-at", "1e300"}, "-start-at"},
	}
	for _, set := range []struct {
		prog  string
		cases []bad
	}{{"10kthreads", server}, {"client", client}} {
		for _, c := range set.cases {
			t.Run(set.prog+"/"+strings.Join(c.args, "_"), func(t *testing.T) {
				checkUsageError(t, run(t, exitTimeout, binary(t, set.prog), c.args...), set.prog, c.mention)
			})
		}
	}
}

// TestUnresolvableHost: a name that does not resolve is one line and exit
// 1. "a..b" has an empty label, so the resolvers reject it without asking
// any name server: the test sends nothing beyond loopback.
func TestUnresolvableHost(t *testing.T) {
	for _, c := range []struct {
		prog string
		args []string
	}{
		{"10kthreads", []string{"-a", "a..b", "-p", "0"}},
		{"client", []string{"-n", "1", "-host", "a..b:1234"}},
	} {
		t.Run(c.prog, func(t *testing.T) {
			res := run(t, exitTimeout, binary(t, c.prog), c.args...)
			msg := strings.TrimRight(res.stderr, "\n")
			if res.code != 1 || strings.Contains(msg, "\n") || !strings.HasPrefix(msg, c.prog+": ") || !strings.Contains(msg, "a..b") {
				t.Errorf("exit %d, stderr %q: want exit 1 and one line naming a..b", res.code, msg)
			}
		})
	}
}

// TestNonLoopbackWarning: listening on every address works, with a
// warning that names it. Nothing connects; the server stops on SIGINT.
func TestNonLoopbackWarning(t *testing.T) {
	for _, kind := range servers {
		t.Run(kind.name, func(t *testing.T) {
			s := startServer(t, kind, "-a", "0.0.0.0")
			s.stop()
			msg := strings.TrimRight(s.stderr.String(), "\n")
			if strings.Contains(msg, "\n") || !strings.Contains(msg, "0.0.0.0") || !strings.Contains(msg, "warning") {
				t.Errorf("stderr %q: want one warning line naming 0.0.0.0", msg)
			}
		})
	}
}
