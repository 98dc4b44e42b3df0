package tests

// Per-request cost: -d (a wait, like a call to a backend) and -W (CPU
// work) on both servers and every design. -d is checked for concurrency,
// not for time: how many requests the server had in their wait at once
// ("peak waiting") is structural, and a slow machine cannot raise it.

import (
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tenkthreads/internal/testkit"
)

// TestRequestBadValues: -d and -W take a whole number and us, ms or s, up
// to 60s; anything else is a usage error, worded the same by both servers.
func TestRequestBadValues(t *testing.T) {
	const invalid = "is invalid (a whole number and us, ms or s, as in 10ms)"
	const large = "is too large (at most 60s)"
	cases := []struct{ flag, arg, what, problem string }{
		{"-d", "10", "delay", invalid}, {"-d", "10m", "delay", invalid},
		{"-d", "1.5ms", "delay", invalid}, {"-d", "-1ms", "delay", invalid},
		{"-d", "ms", "delay", invalid}, {"-d", "", "delay", invalid},
		{"-d", " 10ms", "delay", invalid}, {"-d", "10ms ", "delay", invalid},
		{"-d", "10MS", "delay", invalid}, {"-d", "0x10ms", "delay", invalid},
		{"-d", "61s", "delay", large}, {"-d", "60001ms", "delay", large},
		{"-d", "99999999999999999999us", "delay", large},
		{"-W", "5", "work", invalid}, {"-W", "1h", "work", invalid},
		{"-W", "+1ms", "work", invalid}, {"-W", "60000001us", "work", large},
	}
	for _, kind := range servers {
		for _, c := range cases {
			t.Run(kind.name+"/"+c.flag+"_"+c.arg, func(t *testing.T) {
				res := testkit.Run(t, exitTimeout, binary(t, kind.name), c.flag, c.arg)
				want := fmt.Sprintf("%s %s: %s %s", c.flag, c.arg, c.what, c.problem)
				testkit.CheckUsageError(t, res, kind.name, want)
			})
		}
	}
}

// TestRequestStartLineAndReport: -d and -W close the start line, which
// without them reads as before, and appear in the report and its JSON.
func TestRequestStartLineAndReport(t *testing.T) {
	for _, c := range []struct {
		kind serverKind
		args []string
	}{
		{cServer, nil}, {cServer, []string{"-M", "select"}}, {refServer, nil},
	} {
		t.Run(c.kind.name+"_"+strings.Join(c.args, "_"), func(t *testing.T) {
			js := filepath.Join(t.TempDir(), "report.json")
			s := startServer(t, c.kind, append([]string{"-d", "20ms", "-W", "500us", "-j", js}, c.args...)...)
			head, ok := strings.CutSuffix(s.start, ", request delay 20ms, request work 500us")
			if !ok || !startLineRE.MatchString(head) {
				t.Errorf("start line %q: want the usual line, then \", request delay 20ms, request work 500us\"", s.start)
			}
			echoOnce(t, s.addr, []byte("one request"), false)
			r := s.waitIdle()
			for label, want := range map[string]string{
				"request delay": "20000 us (-d: each read waits that long before its echo)",
				"request work":  "500 us (-W: CPU each read uses before its echo)",
				"peak waiting":  "1 (requests in their -d wait at once)",
			} {
				if got := r.labels[label]; got != want {
					t.Errorf("%s %q, want %q", label, got, want)
				}
			}
			m := readJSONReport(t, js)
			for k, v := range map[string]float64{"request_delay_us": 20000, "request_work_us": 500, "max_waiting": 1} {
				if m[k] != v {
					t.Errorf("JSON %s = %v, want %v", k, m[k], v)
				}
			}
		})
	}
}

// delayCase is a server design under -d, and how many of its requests may
// wait at once: more than one for every concurrent design, at most its
// threads or processes for the blocking ones with -w, exactly one for
// iterative.
type delayCase struct {
	kind             serverKind
	args             []string
	conns, rounds    int
	minPeak, maxPeak int64
}

func delayCases() []delayCase {
	c := func(conns, rounds int, minPeak, maxPeak int64, args ...string) delayCase {
		return delayCase{cServer, args, conns, rounds, minPeak, maxPeak}
	}
	return []delayCase{
		c(50, 5, 2, 50, "-M", "thread"),
		c(50, 5, 2, 50, "-M", "epoll"),
		c(50, 5, 2, 50, "-M", "epoll", "-w", "2"),
		c(50, 5, 2, 50, "-M", "uring"),
		c(50, 5, 2, 50, "-M", "uring", "-w", "2"),
		c(50, 5, 2, 50, "-M", "poll"),
		c(50, 5, 2, 50, "-M", "select"),
		c(50, 5, 2, 50, "-M", "dispatch"),
		c(20, 3, 2, 20, "-M", "fork"),
		c(20, 2, 2, 4, "-M", "dispatch", "-w", "4"),
		c(20, 2, 2, 4, "-M", "pool", "-w", "4"),
		c(20, 2, 2, 4, "-M", "prethread", "-w", "4"),
		c(20, 2, 2, 4, "-M", "prefork", "-w", "4"),
		c(5, 2, 1, 1, "-M", "iterative"),
		{refServer, nil, 50, 5, 2, 50},
	}
}

// TestDelayConcurrency: with -d 20ms, every connection's first message is
// sent before any echo is read, then each runs its rounds in lock step.
// Every echo must come back exact, and the server's peak of requests
// waiting at once tells how the design waits: many at once, at most one
// per thread or process, or one at a time.
func TestDelayConcurrency(t *testing.T) {
	for _, dc := range delayCases() {
		t.Run(dc.kind.name+"_"+strings.Join(dc.args, "_"), func(t *testing.T) {
			js := filepath.Join(t.TempDir(), "report.json")
			s := startServer(t, dc.kind, append([]string{"-d", "20ms", "-j", js}, dc.args...)...)
			sent := roundsInLockStep(t, s.addr, dc.conns, dc.rounds)
			r := s.waitIdle()
			peak := labelInt(t, r, "peak waiting")
			t.Logf("%d connections x %d rounds: peak waiting %d", dc.conns, dc.rounds, peak)
			if peak < dc.minPeak || peak > dc.maxPeak {
				t.Errorf("peak waiting %d, want %d to %d", peak, dc.minPeak, dc.maxPeak)
			}
			wantFigures(t, r, js, map[string]int64{
				"connections accepted": int64(dc.conns), "bytes echoed": sent,
				"connections reset": 0, "closed idle": 0, "peak waiting": peak,
			})
		})
	}
}

// roundsInLockStep opens conns connections, sends each its first message,
// then on each, concurrently, reads every echo and sends the next message
// until rounds are done, and closes. Returns the bytes echoed.
func roundsInLockStep(t *testing.T, addr string, conns, rounds int) int64 {
	t.Helper()
	cs := make([]*net.TCPConn, conns)
	for i := range cs {
		// The iterative server takes one connection at a time: the rest
		// wait in its listen backlog, connected all the same.
		cs[i] = dial(t, addr)
		if _, err := cs[i].Write(delayMsg(i, 0)); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
	}
	errs := make(chan error, conns)
	var wg sync.WaitGroup
	var sent int64
	var mu sync.Mutex
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			for r := 0; r < rounds; r++ {
				msg := delayMsg(i, r)
				if r > 0 {
					if _, err := c.Write(msg); err != nil {
						errs <- fmt.Errorf("connection %d round %d: %v", i, r, err)
						return
					}
				}
				got := make([]byte, len(msg))
				if _, err := io.ReadFull(c, got); err != nil || string(got) != string(msg) {
					errs <- fmt.Errorf("connection %d round %d: echo %q, %v; want %q", i, r, got, err, msg)
					return
				}
				mu.Lock()
				sent += int64(len(msg))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	return sent
}

func delayMsg(conn, round int) []byte {
	return []byte(fmt.Sprintf("connection %d round %d\n", conn, round))
}

// TestDelayEcho: under -d every byte still comes back in order, across
// many reads (each one waits), and a half-close still gets its full echo.
func TestDelayEcho(t *testing.T) {
	for _, c := range []struct {
		kind serverKind
		args []string
	}{
		{cServer, []string{"-M", "thread"}}, {cServer, []string{"-M", "epoll"}},
		{cServer, []string{"-M", "uring"}}, {cServer, []string{"-M", "poll"}}, {cServer, []string{"-M", "select"}},
		{cServer, []string{"-M", "dispatch", "-w", "2"}}, {refServer, nil},
	} {
		t.Run(c.kind.name+"_"+strings.Join(c.args, "_"), func(t *testing.T) {
			s := startServer(t, c.kind, append([]string{"-d", "2ms", "-W", "50us"}, c.args...)...)
			echoOnce(t, s.addr, randomBytes(t, 1<<20), false)
			echoOnce(t, s.addr, randomBytes(t, 2<<20), true)
			halfClose(t, s.addr, randomBytes(t, 256<<10))
			r := s.waitIdle()
			if got, want := labelInt(t, r, "bytes echoed"), int64(1<<20+2<<20+256<<10); got != want {
				t.Errorf("bytes echoed %d, want %d", got, want)
			}
		})
	}
}

// waitModels are the designs whose -d differs in kind: a blocked thread,
// timers in an event loop (three of them), io_uring timeouts, a blocked
// worker, a goroutine.
func waitModels() []figureCase {
	return figureCases([][]string{{"thread"}, {"epoll"}, {"poll"}, {"select"}, {"uring"}, {"dispatch", "-w", "2"}}, nil)
}

// TestDelayNotIdle: a connection in its -d wait is not idle, whatever -t
// says: the wait is the server's, not the peer's. With -d 2s and -t 1 the
// echo comes back after the wait; then the peer idles, and -t closes it.
func TestDelayNotIdle(t *testing.T) {
	for _, c := range waitModels() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			js := filepath.Join(t.TempDir(), "report.json")
			s := startServer(t, c.kind, append([]string{"-d", "2s", "-t", "1", "-j", js}, c.args...)...)
			conn := dial(t, s.addr)
			echoSome(t, conn, []byte("worth the wait"))
			n, err := conn.Read(make([]byte, 1))
			if n != 0 || err != io.EOF {
				t.Fatalf("after the echo, idle: read %d bytes, %v; want EOF from -t", n, err)
			}
			r := s.waitIdle()
			wantFigures(t, r, js, map[string]int64{
				"closed idle": 1, "bytes echoed": int64(len("worth the wait")),
				"connections reset": 0, "connections accepted": 1,
			})
		})
	}
}

// TestDelayPeerResets: a peer that resets while its request waits is one
// connection reset, and its echo, never sent, is not counted as echoed. A
// peer that resets before the server has read it counts the same, so only
// the first is made to wait for certain; the peers take turns.
func TestDelayPeerResets(t *testing.T) {
	const peers = 3
	for _, c := range waitModels() {
		t.Run(c.name, func(t *testing.T) {
			js := filepath.Join(t.TempDir(), "report.json")
			s := startServer(t, c.kind, append([]string{"-d", "300ms", "-j", js}, c.args...)...)
			for i := 0; i < peers; i++ {
				conn := dial(t, s.addr)
				if _, err := conn.Write([]byte("gone before the echo")); err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					testkit.Eventually(t, ioTimeout, "the first request waits", func() (bool, string) {
						r := s.usr1()
						return labelInt(t, r, "peak waiting") == 1, r.labels["peak waiting"]
					})
				} else {
					time.Sleep(50 * time.Millisecond) // a stimulus only; nothing is timed
				}
				reset(t, conn)
				testkit.Eventually(t, ioTimeout, "the reset counted", func() (bool, string) {
					r := s.usr1()
					return labelInt(t, r, "connections reset") == int64(i+1), r.labels["connections reset"]
				})
			}
			r := s.waitIdle()
			wantFigures(t, r, js, map[string]int64{
				"connections reset": peers, "bytes echoed": 0, "connections accepted": peers,
				"closed idle": 0, "peak waiting": 1,
			})
		})
	}
}

// TestWorkCPU: -W is CPU time, so the server's CPU over n requests is at
// least n times it, in every design and in the Go server. A loaded machine
// only makes the requests slower, never the CPU smaller.
func TestWorkCPU(t *testing.T) {
	const conns, rounds, work = 10, 5, 4 * time.Millisecond
	// As many prefork workers as connections: each holds one till it closes.
	cases := append(waitModels(), figureCases([][]string{{"prefork", "-w", "10"}})...)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := startServer(t, c.kind, append([]string{"-W", "4ms"}, c.args...)...)
			cs := make([]*net.TCPConn, conns)
			for i := range cs {
				cs[i] = dial(t, s.addr)
			}
			for r := 0; r < rounds; r++ {
				for i, conn := range cs {
					echoSome(t, conn, delayMsg(i, r))
				}
			}
			for _, conn := range cs {
				conn.Close()
			}
			s.waitIdle()
			rep := s.stop()
			cpu := cpuSeconds(t, rep)
			want := (conns * rounds * work).Seconds()
			t.Logf("%d requests with -W %v: %.3f s of CPU", conns*rounds, work, cpu)
			if cpu < want {
				t.Errorf("CPU %.3f s for %d requests of -W %v: want at least %.3f s", cpu, conns*rounds, work, want)
			}
			if got := labelInt(t, rep, "peak waiting"); got != 0 {
				t.Errorf("peak waiting %d without -d", got)
			}
		})
	}
}
