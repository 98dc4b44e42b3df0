package main

// The client as several processes: reports merged in-process, real
// processes started together and merged, -procs, and SIGINT.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"tenkthreads/internal/testkit"
)

// runBound bounds each run of the built client; the runs take seconds.
const runBound = 2 * time.Minute

func TestMergeEqualsSum(t *testing.T) {
	addr := testkit.Serve(t, testkit.Echo)
	forEngines(t, func(t *testing.T, eng string) { checkMergeEqualsSum(t, eng, addr) })
}

func checkMergeEqualsSum(t *testing.T, eng, addr string) {
	dir := t.TempDir()
	var files []string
	var want struct{ req, rt, rtt float64 }
	for i, n := range []string{"20", "30"} {
		f := filepath.Join(dir, fmt.Sprintf("r%d.json", i))
		var so, se bytes.Buffer
		if code := mainArgs([]string{"-engine", eng, "-quiet", "-host", addr, "-n", n, "-rounds", "3", "-json", f}, &so, &se); code != 0 {
			t.Fatalf("run %d: exit %d: %s", i, code, se.String())
		}
		files = append(files, f)
		var m map[string]any
		testkit.ReadJSON(t, f, &m)
		want.req += num(t, m, "requested")
		want.rt += num(t, m, "round_trips")
		want.rtt += num(t, m, "latency.rtt.count")
	}
	out := filepath.Join(dir, "merged.json")
	var so, se bytes.Buffer
	if code := mainArgs(append([]string{"merge", "-json", out}, files...), &so, &se); code != 0 {
		t.Fatalf("merge: exit %d: %s", code, se.String())
	}
	var m map[string]any
	testkit.ReadJSON(t, out, &m)
	for _, c := range []struct {
		key  string
		want float64
	}{{"requested", want.req}, {"verified", want.req}, {"round_trips", want.rt}, {"latency.rtt.count", want.rtt}, {"processes", 2}} {
		if got := num(t, m, c.key); got != c.want {
			t.Errorf("merged %s = %v, want %v", c.key, got, c.want)
		}
	}
	if !strings.Contains(so.String(), "Max conc: 50\n") {
		t.Errorf("merged report lacks 'Max conc: 50':\n%s", so.String())
	}
	// Merging a merge is exact too.
	var so2, se2 bytes.Buffer
	if code := mainArgs([]string{"merge", out, files[0]}, &so2, &se2); code != 0 || !strings.Contains(so2.String(), "connections requested   70") {
		t.Errorf("merge of a merge: exit %d\n%s%s", code, so2.String(), se2.String())
	}
	if code := mainArgs([]string{"merge", filepath.Join(dir, "missing.json")}, &so, &se); code != 1 {
		t.Errorf("merge of a missing file: exit %d, want 1", code)
	}
}

// Two real client processes started together against one server, merged.
func TestTwoProcessesMerged(t *testing.T) {
	bin := buildClient(t)
	addr := testkit.Serve(t, testkit.Echo)
	forEngines(t, func(t *testing.T, eng string) { checkTwoProcessesMerged(t, eng, bin, addr) })
}

func checkTwoProcessesMerged(t *testing.T, eng, bin, addr string) {
	dir := t.TempDir()
	start := fmt.Sprint(time.Now().Add(time.Second).Format(time.RFC3339Nano))
	var procs []*testkit.Process
	var files []string
	for i := 0; i < 2; i++ {
		f := filepath.Join(dir, fmt.Sprintf("p%d.json", i))
		files = append(files, f)
		procs = append(procs, testkit.Start(t, "client", []string{bin, "-engine", eng, "-quiet", "-host", addr, "-n", "50", "-duration", "300ms", "-start-at", start, "-json", f}))
	}
	for _, p := range procs {
		if code := p.Wait(t, runBound); code != 0 {
			t.Fatalf("client process: exit %d", code)
		}
	}
	res := testkit.Run(t, runBound, bin, append([]string{"merge"}, files...)...)
	if res.Code != 0 {
		t.Fatalf("merge: exit %d\n%s", res.Code, res.Stderr)
	}
	for _, want := range []string{"Max conc: 100\n", "total: 100\n", "verified              100\n", "merged                  2 client processes"} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("merged report lacks %q:\n%s", want, res.Stdout)
		}
	}
	// -h and a usage error through the real binary.
	if res := testkit.Run(t, runBound, bin, "-n", "x"); res.Code != 2 {
		t.Errorf("-n x: exit %d, want 2", res.Code)
	}
}

// -procs: the processes hold their connections until all have connected,
// so the server sees every one at once, and the merged totals add up.
func TestProcsSpreadAndBarrier(t *testing.T) {
	bin := buildClient(t)
	forEngines(t, func(t *testing.T, eng string) { checkProcsSpreadAndBarrier(t, eng, bin) })
}

func checkProcsSpreadAndBarrier(t *testing.T, eng, bin string) {
	srv := &countingEcho{}
	addr := testkit.Serve(t, srv.handle)
	jp := filepath.Join(t.TempDir(), "m.json")
	// The slow ramp of process 0 would let the others finish early without
	// the barrier.
	res := testkit.Run(t, runBound, bin, "-engine", eng, "-quiet", "-host", addr, "-n", "300", "-procs", "3", "-rounds", "2", "-connect-rate", "1500", "-json", jp)
	if res.Code != 0 {
		t.Fatalf("client -procs 3: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	var m map[string]any
	testkit.ReadJSON(t, jp, &m)
	for _, c := range []struct {
		key  string
		want float64
	}{{"requested", 300}, {"verified", 300}, {"round_trips", 600}, {"processes", 3}, {"config.procs", 3}, {"latency.rtt.count", 600}} {
		if got := num(t, m, c.key); got != c.want {
			t.Errorf("%s = %v, want %v", c.key, got, c.want)
		}
	}
	srv.mu.Lock()
	peak := srv.peak
	srv.mu.Unlock()
	if peak != 300 {
		t.Errorf("server saw at most %d connections at once, want 300", peak)
	}
}

// SIGINT ends a long run early with a partial report and exit 1.
func TestInterrupt(t *testing.T) {
	bin := buildClient(t)
	addr := testkit.Serve(t, testkit.Echo)
	forEngines(t, func(t *testing.T, eng string) { checkInterrupt(t, eng, bin, addr) })
}

func checkInterrupt(t *testing.T, eng, bin, addr string) {
	p := testkit.Start(t, "client", []string{bin, "-engine", eng, "-host", addr, "-n", "10", "-duration", "20s", "-progress"})
	// The first progress line comes after the run has begun, so after
	// the SIGINT handler is in place.
	testkit.Eventually(t, 10*time.Second, "a progress line", func() (bool, string) {
		return strings.Contains(p.Stderr.String(), "client: running"), "stderr: " + p.Stderr.String()
	})
	p.Signal(t, syscall.SIGINT)
	if code := p.Wait(t, 10*time.Second); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if so := p.Stdout.String(); !strings.Contains(so, "interrupted") || !strings.Contains(so, "Max conc: 10\n") {
		t.Errorf("no partial report on stdout:\n%s", so)
	}
}

// SIGINT during -hold ends the run there: no message is sent, and the
// report says it was interrupted.
func TestInterruptDuringHold(t *testing.T) {
	bin := buildClient(t)
	addr := testkit.Serve(t, testkit.Echo)
	forEngines(t, func(t *testing.T, eng string) {
		f := filepath.Join(t.TempDir(), "r.json")
		p := testkit.Start(t, "client", []string{bin, "-engine", eng, "-host", addr, "-n", "10", "-hold", "20s", "-progress", "-json", f})
		testkit.Eventually(t, 10*time.Second, "a progress line while holding", func() (bool, string) {
			return strings.Contains(p.Stderr.String(), "client: holding"), "stderr: " + p.Stderr.String()
		})
		p.Signal(t, syscall.SIGINT)
		if code := p.Wait(t, 10*time.Second); code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		var m map[string]any
		testkit.ReadJSON(t, f, &m)
		if m["interrupted"] != true || num(t, m, "sent") != 0 || num(t, m, "established") != 10 || num(t, m, "now") != 0 {
			t.Errorf("interrupted %v, sent %v, established %v, open at the end %v; want true, 0, 10, 0", m["interrupted"], m["sent"], m["established"], m["now"])
		}
	})
}

// -linger keeps every connection open after the round trips until
// SIGUSR1, single and -procs: -notify's file appears once all are
// verified, the server still sees them all open then, and SIGUSR1 ends
// the run with a clean report well before -linger would.
func TestLingerUntilSIGUSR1(t *testing.T) {
	bin := buildClient(t)
	for _, procs := range []string{"1", "3"} {
		t.Run("procs"+procs, func(t *testing.T) {
			srv := &countingEcho{}
			addr := testkit.Serve(t, srv.handle)
			dir := t.TempDir()
			note, jp := filepath.Join(dir, "lingering"), filepath.Join(dir, "r.json")
			p := testkit.Start(t, "client", []string{bin, "-quiet", "-host", addr, "-n", "90", "-procs", procs, "-linger", "10m", "-notify", note, "-json", jp})
			testkit.Eventually(t, 20*time.Second, "the -notify file", func() (bool, string) {
				_, err := os.Stat(note)
				return err == nil, fmt.Sprint(err)
			})
			srv.mu.Lock()
			open := srv.open
			srv.mu.Unlock()
			if open != 90 {
				t.Errorf("server has %d connections open during the linger, want 90", open)
			}
			p.Signal(t, syscall.SIGUSR1)
			if code := p.Wait(t, 20*time.Second); code != 0 {
				t.Fatalf("exit %d after SIGUSR1, want 0\n%s", code, p.Stderr.String())
			}
			var m map[string]any
			testkit.ReadJSON(t, jp, &m)
			if num(t, m, "verified") != 90 || num(t, m, "config.linger_s") != 600 || m["interrupted"] != false {
				t.Errorf("verified %v, config.linger_s %v, interrupted %v; want 90, 600, false", m["verified"], num(t, m, "config.linger_s"), m["interrupted"])
			}
		})
	}
}

// -notify without -linger has nothing to mark: a usage error.
func TestNotifyNeedsLinger(t *testing.T) {
	o := runClient(t, engineEventLoop, "-n", "1", "-notify", filepath.Join(t.TempDir(), "x"))
	if o.code != 2 || !strings.Contains(o.stderr, "-notify needs -linger") {
		t.Errorf("exit %d, stderr %q; want 2 and the reason", o.code, o.stderr)
	}
}
