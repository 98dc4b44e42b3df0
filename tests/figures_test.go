package tests

// One meaning per figure: the same events give the same counts in every C
// model and in the Go server, as the README's "How to read the figures"
// defines them. Each test makes the events from the peers' side, knows
// exactly what each figure must then say, and checks the text report and
// the JSON written with it.

import (
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"tenkthreads/internal/testkit"
)

type figureCase struct {
	name string
	kind serverKind
	args []string
}

// figureCases are C models, by their -M flags, and then the Go server
// with each of goArgs.
func figureCases(cModels [][]string, goArgs ...[]string) []figureCase {
	var cs []figureCase
	for _, m := range cModels {
		cs = append(cs, figureCase{strings.Join(m, "_"), cServer, append([]string{"-M"}, m...)})
	}
	for _, a := range goArgs {
		cs = append(cs, figureCase{strings.Join(append([]string{"go"}, a...), "_"), refServer, a})
	}
	return cs
}

// echoBack writes p on c while reading its echo, and checks every byte.
func echoBack(t *testing.T, c *net.TCPConn, p []byte) {
	t.Helper()
	werr := make(chan error, 1)
	go func() { _, err := c.Write(p); werr <- err }()
	got := make([]byte, len(p))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read the echo of %d bytes: %v", len(p), err)
	}
	if err := <-werr; err != nil {
		t.Fatalf("write %d bytes: %v", len(p), err)
	}
	if string(got) != string(p) {
		t.Fatalf("echo of %d bytes differs from what was sent", len(p))
	}
}

// reset closes c with SO_LINGER 0, so the peer sends RST rather than FIN.
func reset(t *testing.T, c *net.TCPConn) {
	t.Helper()
	if err := c.SetLinger(0); err != nil {
		t.Fatalf("SO_LINGER 0: %v", err)
	}
	c.Close()
}

// wantFigures checks the text report's figures and that the JSON written
// with it says the same.
func wantFigures(t *testing.T, r report, jsonPath string, want map[string]int64) {
	t.Helper()
	keys := map[string]string{
		"connections reset": "resets", "bytes echoed": "bytes_echoed",
		"connections accepted": "total", "accept errors": "accept_errors",
		"closed idle": "idle_timeouts", "closed over cap": "over_cap",
		"thread create failures": "thread_create_failures",
		"closed over FD_SETSIZE": "over_fd_setsize", "peak waiting": "max_waiting",
	}
	js := readJSONReport(t, jsonPath)
	for label, w := range want {
		if got := labelInt(t, r, label); got != w {
			t.Errorf("%s %d, want %d", label, got, w)
		}
		if got, ok := js[keys[label]].(float64); !ok || int64(got) != w {
			t.Errorf("JSON %s %v, want %d", keys[label], js[keys[label]], w)
		}
	}
}

// TestFiguresResetPeers: peers that get their whole echo and then reset
// (SO_LINGER 0) are each one connection reset, and bytes echoed is exactly
// what all the peers received back, in every model and in the Go server.
// The peers take turns, so the bounded models serve every one.
func TestFiguresResetPeers(t *testing.T) {
	sizes := []int{1, 100, 5000, 70000, 300000}
	const clean = 3
	cases := figureCases([][]string{
		{"thread"}, {"prethread", "-w", "4"}, {"pool", "-w", "4"}, {"epoll"},
		{"epoll", "-w", "2"}, {"uring"}, {"uring", "-w", "2"}, {"fork"}, {"prefork", "-w", "4"},
		{"prefork-pass", "-w", "4"}, {"iterative"}, {"thread", "-P", "2"},
		{"poll"}, {"poll", "-w", "2"}, {"select"}, {"dispatch", "-w", "4"},
	}, nil, []string{"-P", "2"})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			js := filepath.Join(t.TempDir(), "report.json")
			s := startServer(t, c.kind, append([]string{"-j", js}, c.args...)...)
			var echoed int64
			for i, n := range sizes {
				p := randomBytes(t, n)
				conn := dial(t, s.addr)
				echoBack(t, conn, p)
				echoed += int64(n)
				reset(t, conn)
				if i < clean {
					echoOnce(t, s.addr, p, false)
					echoed += int64(n)
				}
			}
			r := s.waitIdle()
			wantFigures(t, r, js, map[string]int64{
				"connections reset": int64(len(sizes)), "bytes echoed": echoed,
				"connections accepted": int64(len(sizes) + clean), "accept errors": 0,
				"closed idle": 0, "closed over cap": 0, "thread create failures": 0,
			})
		})
	}
}

// TestFiguresQueuedResets: with its descriptors used up, the server cannot
// accept; peers queue behind it, send, and reset before it can take them.
// Once descriptors free up it takes each one, reads what it sent and fails
// to write the echo: one connection reset each, and no byte echoed, as
// none reached the peer. The failed accepts are counted at one pace in
// every server (10 ms doubling to 1 s while short), so one accepting
// thread counts at most 8 in its first 1.27 s and one a second after.
func TestFiguresQueuedResets(t *testing.T) {
	prl := testkit.Prlimit(t)
	const nofile, extra, resets = 40, 3, 5
	cases := figureCases([][]string{{"thread"}, {"epoll"}, {"uring"}, {"pool", "-w", "64"},
		{"poll"}, {"select"}, {"dispatch", "-w", "4"}}, nil)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			js := filepath.Join(t.TempDir(), "report.json")
			s := startWrapped(t, c.kind, []string{prl, fmt.Sprintf("--nofile=%d:%d", nofile, nofile), "--"},
				append([]string{"-j", js}, c.args...)...)
			probe := []byte("probe")
			pc := dial(t, s.addr)
			echoBack(t, pc, probe)
			pc.Close()
			s.waitIdle()
			free := nofile - testkit.OpenFDs(t, s.Cmd.Process.Pid)
			if free < 10 {
				t.Fatalf("only %d descriptors free of %d", free, nofile)
			}
			t0 := time.Now()
			// More holders than descriptors: the last few queue, so the
			// resetting peers behind them cannot be taken early.
			holders := make([]*net.TCPConn, free+extra)
			for i := range holders {
				holders[i] = dial(t, s.addr)
				if _, err := holders[i].Write([]byte(strconv.Itoa(i))); err != nil {
					t.Fatalf("holder %d: %v", i, err)
				}
			}
			for i := 0; i < resets; i++ {
				conn := dial(t, s.addr)
				if _, err := conn.Write([]byte("never echoed")); err != nil {
					t.Fatalf("resetting peer %d: %v", i, err)
				}
				reset(t, conn)
			}
			time.Sleep(1500 * time.Millisecond) // the shortage lasts; nothing is timed
			echoed := int64(len(probe))
			for i, h := range holders {
				want := strconv.Itoa(i)
				got := make([]byte, len(want))
				if _, err := io.ReadFull(h, got); err != nil || string(got) != want {
					t.Fatalf("holder %d: echo %q, %v; want %q", i, got, err, want)
				}
				echoed += int64(len(want))
				h.Close()
			}
			// Now: 0 is not enough: the resetting peers are taken as
			// descriptors free up, and a thread-model server can be at
			// 0 between two of them.
			accepted := int64(1 + len(holders) + resets)
			var r report
			testkit.Eventually(t, exitTimeout, "every peer taken and closed", func() (bool, string) {
				r = s.usr1()
				return r.now == 0 && r.total == accepted,
					fmt.Sprintf("Now %d, Total %d (want 0 and %d)", r.now, r.total, accepted)
			})
			bound := 9 + int64(time.Since(t0)/time.Second)
			errs := labelInt(t, r, "accept errors")
			t.Logf("%d descriptors free: %d holders, %d resetting peers; %d accept errors (at most %d)",
				free, len(holders), resets, errs, bound)
			if errs < 1 || errs > bound {
				t.Errorf("accept errors %d, want 1 to %d while short of descriptors", errs, bound)
			}
			wantFigures(t, r, js, map[string]int64{
				"connections reset": resets, "bytes echoed": echoed,
				"connections accepted": accepted, "accept errors": errs,
				"closed idle": 0, "closed over cap": 0, "thread create failures": 0,
			})
		})
	}
}
