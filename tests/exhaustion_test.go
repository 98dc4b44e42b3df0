package tests

// Hostile conditions: descriptor and thread exhaustion and the -c cap
// here; idle and slow peers under -t in slowpeers_test.go, peers that die
// and signals under load in underload_test.go, bad input in
// badinput_test.go. Each test injects one fault and checks what the server
// does about it through its report, /proc and the peers' view.

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"tenkthreads/internal/testkit"
)

// TestFdExhaustion: with 64 descriptors the server cannot take all of 150
// connections. It must neither die nor spin on EMFILE, must keep echoing on
// the connections it has and must take the rest once descriptors free up.
func TestFdExhaustion(t *testing.T) {
	prl := testkit.Prlimit(t)
	const early, flood = 20, 130
	for _, model := range []string{"thread", "epoll", "uring", "pool", "fork", "poll", "select", "dispatch"} {
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
			// The kernel completes these handshakes into the listen
			// backlog; the server runs out of descriptors taking them
			// (fork, whose parent holds none, takes them all).
			var extra []*net.TCPConn
			for i := 0; i < flood; i++ {
				extra = append(extra, dial(t, s.addr))
			}
			// CPU is measured from there on: taking the flood is work
			// (a slow one under a sanitizer), spinning on EMFILE is not.
			waitSaturated(t, s, model == "fork", early+flood)
			r0 := s.usr1()
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
			if model != "fork" && r1.now >= early+flood {
				t.Errorf("Now: %d with 64 descriptors: the limit did not bite", r1.now)
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
				testkit.Eventually(t, exitTimeout, "fork children reaped", func() (bool, string) {
					kids := testkit.Children(t, s.Cmd.Process.Pid)
					z := 0
					for _, k := range kids {
						if k.State == "Z" {
							z++
						}
					}
					return len(kids) == 0, fmt.Sprintf("%d children, %d zombies", len(kids), z)
				})
			}
		})
	}
}

// waitSaturated waits until a server that n connections were made to is
// out of descriptors (an accept failed), or, when it hands each to a new
// process (fork) and so never runs out, until it has taken all n.
func waitSaturated(t *testing.T, s *server, takesAll bool, n int64) {
	t.Helper()
	testkit.Eventually(t, exitTimeout, "the server saturated", func() (bool, string) {
		r := s.usr1()
		if takesAll {
			return r.now == n, fmt.Sprintf("Now %d, want %d", r.now, n)
		}
		errs := labelInt(t, r, "accept errors")
		return errs > 0, fmt.Sprintf("%d accept errors with %d connections made", errs, n)
	})
}

// TestThreadExhaustion: pthread_create fails once the address space is
// used up. Root ignores RLIMIT_NPROC, so the fault is an address-space
// limit (set on the running server) that leaves room for three more 256
// MiB stacks.
func TestThreadExhaustion(t *testing.T) {
	if san := sanitizer(); san != "" {
		t.Skipf("server built with %s: its shadow memory makes an address-space limit meaningless", san)
	}
	prl := testkit.Prlimit(t)
	const stack = 256 << 20
	s := startServer(t, cServer, "-s", "256m")
	pid := s.Cmd.Process.Pid
	idle := s.usr1() // the report thread has allocated by now
	idleFDs := testkit.OpenFDs(t, pid)
	limit := int64(testkit.Status(t, pid).VmSize) + 3*stack + stack/2
	if res := testkit.Run(t, exitTimeout, prl, "--pid", strconv.Itoa(pid), fmt.Sprintf("--as=%d", limit)); res.Code != 0 {
		t.Fatalf("prlimit --as: exit %d: %s", res.Code, res.Stderr)
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
	testkit.Eventually(t, exitTimeout, "threads and descriptors back to idle", func() (bool, string) {
		r := s.usr1()
		th, idleTh := labelInt(t, r, "threads"), labelInt(t, idle, "threads")
		fds := testkit.OpenFDs(t, pid)
		return r.now == 0 && th == idleTh && fds == idleFDs,
			fmt.Sprintf("Now %d, threads %d (idle %d), descriptors %d (idle %d)", r.now, th, idleTh, fds, idleFDs)
	})
	s.stop()
}

// refHasFlag tells whether ref_async_server's -h lists flag.
func refHasFlag(t *testing.T, flag string) bool {
	res := testkit.Run(t, exitTimeout, binary(t, "ref_async_server"), "-h")
	for _, l := range strings.Split(res.Stdout, "\n") {
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
		{cServer, "poll"}, {cServer, "select"}, {cServer, "dispatch"},
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
