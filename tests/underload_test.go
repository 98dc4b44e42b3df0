package tests

// Load that turns hostile: a client killed with thousands of connections
// open, SIGINT with 10,000 open, and a storm of SIGUSR1 during churn.

import (
	"fmt"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"tenkthreads/internal/testkit"
)

// startClient runs bin/client in the background.
func startClient(t *testing.T, args ...string) *testkit.Process {
	t.Helper()
	return testkit.Start(t, "client", append([]string{binary(t, "client")}, args...))
}

// holdWithClient has bin/client open n connections and hold them idle,
// and returns once the server counts all n open.
func holdWithClient(t *testing.T, s *server, n int) *testkit.Process {
	t.Helper()
	p := startClient(t, "-n", strconv.Itoa(n), "-host", s.addr, "-hold", "120s", "-quiet", "-timeout", "60s")
	testkit.Eventually(t, 90*time.Second, fmt.Sprintf("server holds %d connections", n), func() (bool, string) {
		if p.Exited() {
			t.Fatalf("client exited while it should hold connections (%v)", p.Err)
		}
		r := s.usr1()
		return r.now == int64(n), fmt.Sprintf("Now: %d", r.now)
	})
	return p
}

// TestClientKilled: a client holding thousands of connections dies by
// SIGKILL; the server notices every one, and its threads and descriptors
// return to their idle counts.
func TestClientKilled(t *testing.T) {
	n := connScale(t, 10000)
	for _, model := range []string{"thread", "epoll", "uring", "dispatch"} {
		t.Run(model, func(t *testing.T) {
			s := startServer(t, cServer, "-M", model)
			pid := s.Cmd.Process.Pid
			// The event loops create their epoll descriptor, ring or
			// workers after the start line, but before they serve a
			// first connection, and keep them. A thread's connection
			// is not served first: its thread may outlive Now: 0.
			first := 0
			if model != "thread" {
				echoOnce(t, s.addr, []byte("first"), false)
				first = 1
			}
			idle := s.waitIdle()
			idleFDs := testkit.OpenFDs(t, pid)
			idleThreads := labelInt(t, idle, "threads")
			p := holdWithClient(t, s, n)
			held := s.usr1()
			heldFDs := testkit.OpenFDs(t, pid)
			if heldFDs < idleFDs+n {
				t.Errorf("%d descriptors open while %d connections are held", heldFDs, n)
			}
			if th := labelInt(t, held, "threads"); model == "thread" && th < idleThreads+int64(n) {
				t.Errorf("threads %d while %d connections are held, want one each", th, n)
			}
			p.Signal(t, syscall.SIGKILL)
			<-p.Done
			var last report
			testkit.Eventually(t, 60*time.Second, "threads and descriptors back to idle", func() (bool, string) {
				last = s.usr1()
				th, fds := labelInt(t, last, "threads"), testkit.OpenFDs(t, pid)
				return last.now == 0 && th == idleThreads && fds == idleFDs,
					fmt.Sprintf("Now %d, threads %d (idle %d), descriptors %d (idle %d)", last.now, th, idleThreads, fds, idleFDs)
			})
			if last.maxConc != int64(n) || last.total != int64(n+first) {
				t.Errorf("Max conc %d, Total %d; want %d and %d", last.maxConc, last.total, n, n+first)
			}
			t.Logf("%s, %d held then SIGKILL: held threads %d, descriptors %d; after: Max conc %d, Total %d, Now %d, threads %d (idle %d), descriptors %d (idle %d), resets %d, accept errors %d, resident %s",
				model, n, labelInt(t, held, "threads"), heldFDs, last.maxConc, last.total, last.now,
				labelInt(t, last, "threads"), idleThreads, testkit.OpenFDs(t, pid), idleFDs,
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
	case <-s.Done:
	case <-time.After(bound):
		t.Fatalf("no exit within %v of SIGINT with %d connections open", bound, n)
	}
	took := time.Since(t0)
	if code := testkit.ExitCode(t, s.Err); code != 0 {
		t.Fatalf("exit status %d after SIGINT, want 0", code)
	}
	reps := parseReports(t, s.kind, s.Stdout.String())
	r := reps[len(reps)-1]
	checkReport(t, s.kind, r, "EXITING", int64(n), int64(n), int64(n))
	t.Logf("SIGINT with %d connections open: EXITING report and exit 0 after %v", n, took.Round(time.Millisecond))
	p.Cmd.Process.Kill()
}

// TestUSR1Storm: SIGUSR1 every 20 ms while a client opens and closes
// connections as fast as it can. The server keeps serving, every report
// is well formed and consistent, and the totals add up at the end.
func TestUSR1Storm(t *testing.T) {
	for _, model := range []string{"thread", "epoll", "uring", "poll", "dispatch"} {
		t.Run(model, func(t *testing.T) {
			s := startServer(t, cServer, "-M", model)
			js := filepath.Join(t.TempDir(), "client.json")
			p := startClient(t, "-n", "50", "-reconnect", "-duration", "2s", "-host", s.addr, "-json", js, "-quiet")
			sent := 0
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for running := true; running; {
				select {
				case <-p.Done:
					running = false
				case <-s.Done:
					t.Fatalf("server died under SIGUSR1: %v", s.Err)
				case <-tick.C:
					if sent < 1000 {
						s.signal(syscall.SIGUSR1)
						sent++
					}
				}
			}
			if code := testkit.ExitCode(t, p.Err); code != 0 {
				t.Fatalf("client exit %d, want 0", code)
			}
			var cres struct{ Total int64 }
			testkit.ReadJSON(t, js, &cres)
			r := s.waitIdle()
			if r.total != cres.Total {
				t.Errorf("server Total %d, client connected %d times", r.total, cres.Total)
			}
			reps := parseReports(t, s.kind, s.Stdout.String())
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
