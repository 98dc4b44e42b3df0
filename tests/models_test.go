package tests

import (
	"bytes"
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

	"tenkthreads/internal/testkit"
)

// cServer is the C server; every model below is one of its -M designs.
var cServer = serverKind{name: "10kthreads", model: "thread"}

// modelCase is one design of the C server as the tests run it.
type modelCase struct {
	name    string   // subtest name
	model   string   // -M, and "model" in the report and the JSON
	args    []string // -M and the rest of its flags
	workers int      // "workers" in the JSON
	procs   int      // -P: "server_procs" in the JSON
	// bounded: at most workers connections are served at once; the
	// next ones wait (in the pool's queue, then in the listen backlog).
	bounded bool
	// forks: worker processes to look for (0: none, or one per
	// connection for fork).
	forks int
}

// loadConns is bin/client -n for every model. The bounded models get as
// many workers, given explicitly: the client holds all its connections
// open until every one has echoed, so fewer workers could never finish.
const loadConns = 200

func modelCases() []modelCase {
	w := strconv.Itoa(loadConns)
	return []modelCase{
		{name: "thread", model: "thread", args: []string{"-M", "thread"}, procs: 1},
		{name: "prethread", model: "prethread", args: []string{"-M", "prethread", "-w", w}, workers: loadConns, procs: 1, bounded: true},
		{name: "prethread-nolock", model: "prethread-nolock", args: []string{"-M", "prethread-nolock", "-w", w}, workers: loadConns, procs: 1, bounded: true},
		{name: "pool", model: "pool", args: []string{"-M", "pool", "-w", w}, workers: loadConns, procs: 1, bounded: true},
		{name: "prefork", model: "prefork", args: []string{"-M", "prefork", "-w", w}, workers: loadConns, procs: 1, bounded: true, forks: loadConns},
		{name: "prefork-nolock", model: "prefork-nolock", args: []string{"-M", "prefork-nolock", "-w", w}, workers: loadConns, procs: 1, bounded: true, forks: loadConns},
		{name: "prefork-lock", model: "prefork-lock", args: []string{"-M", "prefork-lock", "-w", w}, workers: loadConns, procs: 1, bounded: true, forks: loadConns},
		{name: "prefork-pass", model: "prefork-pass", args: []string{"-M", "prefork-pass", "-w", w}, workers: loadConns, procs: 1, bounded: true, forks: loadConns},
		{name: "fork", model: "fork", args: []string{"-M", "fork"}, procs: 1},
		{name: "iterative", model: "iterative", args: []string{"-M", "iterative"}, procs: 1, bounded: true},
		{name: "epoll", model: "epoll", args: []string{"-M", "epoll"}, workers: 1, procs: 1},
		{name: "epoll-w2", model: "epoll", args: []string{"-M", "epoll", "-w", "2"}, workers: 2, procs: 1},
		{name: "uring", model: "uring", args: []string{"-M", "uring"}, workers: 1, procs: 1},
		{name: "uring-w2", model: "uring", args: []string{"-M", "uring", "-w", "2"}, workers: 2, procs: 1},
		{name: "uring-P2", model: "uring", args: []string{"-M", "uring", "-P", "2"}, workers: 1, procs: 2, forks: 2},
		{name: "poll", model: "poll", args: []string{"-M", "poll"}, workers: 1, procs: 1},
		{name: "poll-w2", model: "poll", args: []string{"-M", "poll", "-w", "2"}, workers: 2, procs: 1},
		// 200 connections, well below FD_SETSIZE.
		{name: "select", model: "select", args: []string{"-M", "select"}, procs: 1},
		// Four workers serve all 200: a connection has one only while ready.
		{name: "dispatch-w4", model: "dispatch", args: []string{"-M", "dispatch", "-w", "4"}, workers: 4, procs: 1},
		{name: "thread-P2", model: "thread", args: []string{"-M", "thread", "-P", "2"}, procs: 2, forks: 2},
	}
}

// cLabels are the C server's labels beyond those every server has.
var cLabels = []string{
	"processes", "memory all processes", "resident all processes",
	"closed over cap", "closed idle",
}

// TestModels runs the core echo suite against every model: exact echo of
// several sizes, half-close, bin/client with 200 connections, the SIGINT
// report with every label, and the JSON naming the model and its workers.
func TestModels(t *testing.T) {
	for _, mc := range modelCases() {
		t.Run(mc.name, func(t *testing.T) {
			jsonPath := filepath.Join(t.TempDir(), "report.json")
			s := startServer(t, cServer, append([]string{"-j", jsonPath}, mc.args...)...)
			if !strings.Contains(s.start, " model "+mc.model) {
				t.Errorf("start line %q does not name model %s", s.start, mc.model)
			}
			sizes := []int{1, 1 << 10, 1 << 20}
			bytesWant := 0
			for _, size := range sizes {
				bytesWant += size
				t.Run(fmt.Sprintf("%dB", size), func(t *testing.T) {
					echoOnce(t, s.addr, randomBytes(t, size), false)
				})
			}
			half := randomBytes(t, 64<<10)
			bytesWant += len(half)
			t.Run("half-close", func(t *testing.T) { halfClose(t, s.addr, half) })

			// The iterative server serves one connection at a time, so
			// its client makes the 200 connections one after another.
			// The prefork models fork their children after the start
			// line: slowly under a sanitizer, hence runLoad's deadline.
			args := []string{"-n", strconv.Itoa(loadConns), "-host", s.addr, "-quiet", "-timeout", "60s"}
			clientConc := loadConns
			if mc.model == "iterative" {
				args = []string{"-n", "1", "-rounds", strconv.Itoa(loadConns), "-reconnect", "-host", s.addr, "-quiet", "-timeout", "60s"}
				clientConc = 1
			}
			res := testkit.Run(t, clientTimeout, binary(t, "client"), args...)
			if res.Code != 0 {
				t.Fatalf("client %s: exit status %d, want 0\nstdout:\n%s\nstderr:\n%s",
					strings.Join(args, " "), res.Code, res.Stdout, res.Stderr)
			}
			for _, want := range []string{
				fmt.Sprintf("Max conc: %d", clientConc), fmt.Sprintf("total: %d", loadConns), "conc: 0",
			} {
				if !hasLine(res.Stdout, want) {
					t.Errorf("client output lacks the line %q:\n%s", want, res.Stdout)
				}
			}
			bytesWant += loadConns * len("Hello, 10kthreads!\n")
			total := int64(len(sizes) + 1 + loadConns)
			// Every model but iterative held all 200 at once: none may
			// queue them, as each model has room (workers) for them all.
			maxConc := int64(clientConc)

			r := s.waitIdle()
			checkReport(t, cServer, r, "REPORT", maxConc, total, 0)
			if mc.bounded && mc.workers > 0 && r.maxConc > int64(mc.workers) {
				t.Errorf("Max conc %d with %d workers", r.maxConc, mc.workers)
			}
			r = s.stop()
			checkReport(t, cServer, r, "EXITING", maxConc, total, 0)
			checkModelReport(t, mc, r, int64(bytesWant))

			m := readJSONReport(t, jsonPath)
			for k, v := range map[string]any{
				"schema": "10kthreads-server/1", "server": "10kthreads", "model": mc.model,
				"event": "exit", "address": s.addr,
				"workers": float64(mc.workers), "server_procs": float64(mc.procs),
				"max_conc": float64(maxConc), "total": float64(total), "now": 0.0,
				"bytes_echoed": float64(bytesWant), "resets": 0.0, "accept_errors": 0.0,
				"thread_create_failures": 0.0, "over_cap": 0.0, "idle_timeouts": 0.0,
			} {
				if m[k] != v {
					t.Errorf("JSON %s = %v, want %v", k, m[k], v)
				}
			}
			// The report is taken before the workers are stopped.
			if mc.forks > 0 && mc.model != "fork" {
				if want := float64(mc.forks + 1); m["processes"] != want {
					t.Errorf("JSON processes = %v, want %v (the server and its %d workers)", m["processes"], want, mc.forks)
				}
			}
		})
	}
}

// checkModelReport: the labels only the C server has, the model named,
// and the counters that must be zero after a clean run.
func checkModelReport(t *testing.T, mc modelCase, r report, bytesWant int64) {
	t.Helper()
	for _, l := range cLabels {
		if _, ok := r.labels[l]; !ok {
			t.Errorf("report lacks label %q", l)
		}
	}
	if v, want := r.labels["server"], "10kthreads (model "+mc.model+")"; v != want {
		t.Errorf("server line %q, want %q", v, want)
	}
	for label, want := range map[string]string{
		"bytes echoed":           strconv.FormatInt(bytesWant, 10),
		"connections reset":      "0",
		"thread create failures": "0",
		"accept errors":          "0",
		"closed over cap":        "0",
		"closed idle":            "0",
	} {
		if v := firstField(r.labels[label]); v != want {
			t.Errorf("%s %q, want %s", label, r.labels[label], want)
		}
	}
	if t.Failed() {
		t.Logf("report:\n%s", r.raw)
	}
}

// waitWindow is how long a connection that must wait is watched for an
// echo that must not come. A slow machine can only delay an echo, so it
// cannot make this pass wrongly or fail spuriously.
const waitWindow = 500 * time.Millisecond

// TestModelsBounded: a bounded model with W workers serves W connections at
// once; connection W+1 gets no echo while those are open, and gets it as
// soon as one of them closes. For iterative (W = 1) that is "one
// connection at a time"; for pool it is "connection N+1 after one
// finishes" (it may sit accepted in the queue, but it is not served).
func TestModelsBounded(t *testing.T) {
	cases := []struct {
		model string
		w     int
		queue int // accepted and counted while waiting: the pool's queue
	}{
		{"iterative", 1, 0},
		{"pool", 2, 2},
		{"prethread", 2, 0},
		{"prethread-nolock", 2, 0},
		{"prefork-nolock", 2, 0},
		{"prefork-lock", 2, 0},
		{"prefork-pass", 2, 0},
	}
	for _, tc := range cases {
		t.Run(tc.model, func(t *testing.T) {
			args := []string{"-M", tc.model}
			if tc.model != "iterative" {
				args = append(args, "-w", strconv.Itoa(tc.w))
			}
			s := startServer(t, cServer, args...)
			var busy []*net.TCPConn
			for i := 0; i < tc.w; i++ {
				c := dial(t, s.addr)
				echoSome(t, c, []byte(fmt.Sprintf("busy %d\n", i)))
				busy = append(busy, c)
			}

			waiting := dial(t, s.addr)
			msg := []byte("waiting\n")
			if _, err := waiting.Write(msg); err != nil {
				t.Fatalf("write: %v", err)
			}
			waiting.SetReadDeadline(time.Now().Add(waitWindow))
			buf := make([]byte, 64)
			n, err := waiting.Read(buf)
			var ne net.Error
			if n != 0 || !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("connection %d was served while %d others were open: read %q, %v; want a timeout",
					tc.w+1, tc.w, buf[:n], err)
			}
			r := s.usr1()
			if r.now > int64(tc.w+tc.queue) || r.maxConc > int64(tc.w+tc.queue) {
				t.Errorf("%d workers: Now %d, Max conc %d; want at most %d", tc.w, r.now, r.maxConc, tc.w+tc.queue)
			}

			busy[0].Close()
			waiting.SetReadDeadline(time.Now().Add(ioTimeout))
			got := 0
			for got < len(msg) {
				n, err := waiting.Read(buf[got:len(msg)])
				got += n
				if err != nil {
					t.Fatalf("after one of %d busy connections closed, connection %d got %d of %d echo bytes: %v",
						tc.w, tc.w+1, got, len(msg), err)
				}
			}
			if !bytes.Equal(buf[:got], msg) {
				t.Fatalf("echo %q, want %q", buf[:got], msg)
			}
			for _, c := range busy[1:] {
				echoSome(t, c, []byte("still served\n"))
				c.Close()
			}
			waiting.Close()
			r = s.waitIdle()
			if r.total != int64(tc.w+1) || r.maxConc > int64(tc.w+tc.queue) {
				t.Errorf("Total %d, Max conc %d; want %d and at most %d", r.total, r.maxConc, tc.w+1, tc.w+tc.queue)
			}
			s.stop()
		})
	}
}

// TestModelsNoStrayProcesses: the process models reap their workers while
// they run (no zombies) and take all of them along when they exit on
// SIGINT (no zombies, no orphans).
func TestModelsNoStrayProcesses(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want int // worker processes at least, with the connections open
	}{
		{"prefork", []string{"-M", "prefork", "-w", "3"}, 3},
		{"prefork-nolock", []string{"-M", "prefork-nolock", "-w", "3"}, 3},
		{"prefork-lock", []string{"-M", "prefork-lock", "-w", "3"}, 3},
		{"prefork-pass", []string{"-M", "prefork-pass", "-w", "3"}, 3},
		{"fork", []string{"-M", "fork"}, 3},
		{"thread-P2", []string{"-P", "2"}, 2},
		{"fork-P2", []string{"-M", "fork", "-P", "2"}, 2 + 3},
	}
	const open = 3
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, cServer, tc.args...)
			pid := s.Cmd.Process.Pid
			// Churn first: under fork every one of these was a process.
			for i := 0; i < 5; i++ {
				echoOnce(t, s.addr, []byte("churn\n"), false)
			}
			var conns []*net.TCPConn
			for i := 0; i < open; i++ {
				c := dial(t, s.addr)
				echoSome(t, c, []byte("held\n"))
				conns = append(conns, c)
			}
			var seen []testkit.Proc
			if !testkit.Until(exitTimeout, 20*time.Millisecond, func() bool {
				seen = testkit.Descendants(t, pid)
				return len(seen) >= tc.want
			}) {
				t.Fatalf("%d worker processes below the server, want at least %d: %v", len(seen), tc.want, seen)
			}
			for _, c := range conns {
				c.Close()
			}
			s.waitIdle()
			// The churned and closed connections' processes (fork) must
			// be reaped, not left as zombies.
			var zombies []testkit.Proc
			if !testkit.Until(5*time.Second, 20*time.Millisecond, func() bool {
				zombies = zombies[:0]
				for _, p := range testkit.Descendants(t, pid) {
					if p.State == "Z" {
						zombies = append(zombies, p)
					}
				}
				return len(zombies) == 0
			}) {
				t.Errorf("zombies below the running server: %v", zombies)
			}
			seen = append(seen, testkit.Descendants(t, pid)...)

			s.stop()
			var left []string
			if !testkit.Until(5*time.Second, 20*time.Millisecond, func() bool {
				left = left[:0]
				for _, p := range seen {
					if q, ok := testkit.ReadProc(p.PID); ok && q.Start == p.Start {
						left = append(left, fmt.Sprintf("pid %d state %s ppid %d", q.PID, q.State, q.PPID))
					}
				}
				return len(left) == 0
			}) {
				t.Errorf("after the server exited, %d of its %d worker processes remain (Z = zombie, else orphan): %s",
					len(left), len(seen), strings.Join(left, "; "))
			}
		})
	}
}

// TestModelsBadFlags: model and worker flags out of range: one line naming
// the problem, the usage line, exit 2, nothing on stdout.
func TestModelsBadFlags(t *testing.T) {
	cases := []struct {
		args []string
		name string // what the error line must mention
	}{
		{[]string{"-M", "nosuchmodel"}, "nosuchmodel"},
		{[]string{"-M", ""}, "model"},
		{[]string{"-M", "prethread", "-w", "0"}, "-w 0"},
		{[]string{"-M", "pool", "-w", "99999"}, "-w 99999"},
		{[]string{"-M", "prefork", "-w", "-1"}, "-w -1"},
		{[]string{"-M", "epoll", "-w", "abc"}, "-w abc"},
		{[]string{"-M", "thread", "-w", "4"}, "thread"},
		{[]string{"-w", "4"}, "thread"},
		{[]string{"-M", "fork", "-w", "4"}, "fork"},
		{[]string{"-w", "4", "-M", "iterative"}, "iterative"},
		{[]string{"-M", "select", "-w", "2"}, "select"},
		{[]string{"-M", "dispatch", "-w", "0"}, "-w 0"},
		{[]string{"-M", "poll", "-w", "10001"}, "-w 10001"},
		{[]string{"-P", "0"}, "-P 0"},
		{[]string{"-P", "abc"}, "-P abc"},
		{[]string{"-P", "100000"}, "-P 100000"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, "_"), func(t *testing.T) {
			res := testkit.Run(t, exitTimeout, binary(t, "10kthreads"), c.args...)
			testkit.CheckUsageError(t, res, "10kthreads", c.name)
		})
	}
}

// TestModels10000: the event-driven models hold 10,000 connections at
// once too (fewer where connScale says this machine cannot): epoll, poll
// with its scan of all of them at every wake-up, and dispatch with four
// workers; TestClient10000 covers the default thread model.
func TestModels10000(t *testing.T) {
	n := connScale(t, 10000)
	for _, args := range [][]string{{"-M", "epoll"}, {"-M", "poll"}, {"-M", "dispatch", "-w", "4"}} {
		t.Run(args[1], func(t *testing.T) { runLoad(t, cServer, n, args...) })
	}
}

// TestPreforkPassWorkerKilled: a prefork-pass child killed while it
// serves takes its connection with it. The parent counts that connection
// closed (Now back to 0) and gives the slot a new child, which serves.
func TestPreforkPassWorkerKilled(t *testing.T) {
	s := startServer(t, cServer, "-M", "prefork-pass", "-w", "2")
	c := dial(t, s.addr)
	msg := []byte("held by a child")
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, len(msg))); err != nil {
		t.Fatalf("echo: %v", err)
	}
	if r := s.usr1(); r.now != 1 {
		t.Fatalf("Now %d with one connection open, want 1", r.now)
	}
	kids := testkit.Children(t, s.Cmd.Process.Pid)
	if len(kids) != 2 {
		t.Fatalf("%d worker processes, want 2: %v", len(kids), kids)
	}
	killed := map[int]bool{}
	for _, k := range kids {
		killed[k.PID] = true
		syscall.Kill(k.PID, syscall.SIGKILL)
	}
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatalf("read %d bytes from a connection whose worker was killed", n)
	}
	s.waitIdle()
	// Now: 0 says the busy child's death was seen, not the idle one's.
	testkit.Eventually(t, exitTimeout, "both slots given new children", func() (bool, string) {
		fresh := 0
		for _, k := range testkit.Children(t, s.Cmd.Process.Pid) {
			if !killed[k.PID] && k.State != "Z" {
				fresh++
			}
		}
		return fresh == 2, fmt.Sprintf("%d new children, want 2", fresh)
	})
	echoOnce(t, s.addr, []byte("served by a new child"), false)
	if r := s.stop(); r.total != 2 {
		t.Errorf("Total %d, want 2", r.total)
	}
}

// TestPreforkPassChildDescriptors: each prefork-pass child holds its own
// end of its socketpair and not the parent's ends of the others', which
// fork would hand it: every child has as many descriptors as the first.
func TestPreforkPassChildDescriptors(t *testing.T) {
	s := startServer(t, cServer, "-M", "prefork-pass", "-w", "8")
	// The start line comes before the children: under a sanitizer the
	// forks and each child's closing of what it inherited take a while.
	// A child holding others' ends holds them for good, so waiting for
	// the counts to agree cannot hide the leak.
	testkit.Eventually(t, exitTimeout, "8 children with one descriptor count", func() (bool, string) {
		kids := testkit.Children(t, s.Cmd.Process.Pid)
		counts := map[int]int{}
		for _, k := range kids {
			counts[testkit.OpenFDs(t, k.PID)]++
		}
		return len(kids) == 8 && len(counts) == 1,
			fmt.Sprintf("%d worker processes, descriptor counts (count: children) %v", len(kids), counts)
	})
	s.stop()
}
