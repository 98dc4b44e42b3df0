package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tenkthreads/internal/clientreport"
	"tenkthreads/internal/testkit"
)

// servePool is a server like a pool of k workers that keeps a worker per
// connection: the first k connections it accepts are echoed for as long
// as they stay open, the others are held unread until the test ends.
func servePool(t *testing.T, k int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var held []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 0; ; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
			if n < k {
				wg.Add(1)
				go func() { defer wg.Done(); _, _ = io.Copy(c, c) }()
			}
		}
	}()
	return ln.Addr().String()
}

// everyThirdSilent echoes, except on every third connection it takes,
// which it reads and never answers.
func everyThirdSilent() func(net.Conn) {
	var n atomic.Int64
	return func(c net.Conn) {
		if n.Add(1)%3 == 0 {
			silentHandler(c)
			return
		}
		testkit.Echo(c)
	}
}

// result decodes a run's JSON report through the report's own type.
func result(t *testing.T, o outcome) *clientreport.Result {
	t.Helper()
	b, err := json.Marshal(o.res)
	if err != nil {
		t.Fatal(err)
	}
	r, err := clientreport.Decode(b)
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	return r
}

// -idle against an exact echo server: every idle connection is held with
// the active ones and verified at the end, and counted apart.
func TestIdleVerified(t *testing.T) {
	addr := testkit.Serve(t, testkit.Echo)
	forEngines(t, func(t *testing.T, eng string) { checkIdleVerified(t, eng, addr) })
}

func checkIdleVerified(t *testing.T, eng, addr string) {
	o := runClient(t, eng, "-host", addr, "-n", "7", "-idle", "13", "-rounds", "4")
	if o.code != 0 {
		t.Fatalf("exit %d: %s", o.code, o.stderr)
	}
	r := result(t, o)
	if r.Idle.Requested != 13 || r.Idle.Established != 13 || r.Idle.Verified != 13 || r.Idle.Failed != 0 || r.Config.Idle != 13 {
		t.Errorf("idle %+v", r.Idle)
	}
	if r.Requested != 7 || r.Verified != 7 || r.RoundTrips != 28 || r.MaxConc != 20 || r.Total != 20 || r.Latency["connect"].Count != 20 {
		t.Errorf("requested %d verified %d round trips %d max conc %d total %d connects %d", r.Requested, r.Verified, r.RoundTrips, r.MaxConc, r.Total, r.Latency["connect"].Count)
	}
	if p := r.PerConn; p.Conns != 7 || p.Starved != 0 || p.Min != 4 || p.Median != 4 || p.Max != 4 {
		t.Errorf("fairness %+v", p)
	}
	for _, w := range []string{"Max conc: 20\n", "idle connections        13", "round trips per conn    min 4, median 4, max 4 (over 7 connections)"} {
		if !strings.Contains(o.stdout, w) {
			t.Errorf("report lacks %q:\n%s", w, o.stdout)
		}
	}
}

// A server that never answers every third connection starves exactly
// those: the fairness figures count them, whatever the timing.
func TestStarvedCountExact(t *testing.T) {
	forEngines(t, checkStarvedCountExact)
}

func checkStarvedCountExact(t *testing.T, eng string) {
	addr := testkit.Serve(t, everyThirdSilent())
	o := runClient(t, eng, "-host", addr, "-n", "30", "-rounds", "3", "-timeout", "300ms")
	if o.code != 1 {
		t.Fatalf("exit %d, want 1: %s", o.code, o.stderr)
	}
	r := result(t, o)
	want := [][2]int64{{0, 10}, {3, 20}}
	if p := r.PerConn; p.Conns != 30 || p.Starved != 10 || p.Min != 0 || p.Median != 3 || p.Max != 3 || !reflect.DeepEqual(p.Counts, want) {
		t.Errorf("fairness %+v, want counts %v", p, want)
	}
	if r.Failed != 10 || r.Errors[clientreport.Timeout] != 10 || r.RoundTrips != 60 {
		t.Errorf("failed %d, timeouts %d, round trips %d", r.Failed, r.Errors[clientreport.Timeout], r.RoundTrips)
	}
	if !strings.Contains(o.stdout, "  starved               10 (completed no round trip)") {
		t.Errorf("report lacks the starved line:\n%s", o.stdout)
	}
}

// The keep-alive question in small: a pool of 4 that keeps a worker per
// connection serves the first 4 idle connections and nothing else. The
// active connections all starve, 4 idle ones verify at the end.
func TestIdleHoldsThePool(t *testing.T) {
	forEngines(t, checkIdleHoldsThePool)
}

func checkIdleHoldsThePool(t *testing.T, eng string) {
	addr := servePool(t, 4)
	o := runClient(t, eng, "-host", addr, "-n", "5", "-idle", "10", "-timeout", "300ms")
	if o.code != 1 {
		t.Fatalf("exit %d, want 1: %s", o.code, o.stderr)
	}
	r := result(t, o)
	if r.PerConn.Starved != 5 || r.Failed != 5 || r.RoundTrips != 0 {
		t.Errorf("starved %d, failed %d, round trips %d; want all 5 active starved", r.PerConn.Starved, r.Failed, r.RoundTrips)
	}
	i := r.Idle
	if i.Established != 10 || i.Verified != 4 || i.Failed != 6 || i.Errors[clientreport.Timeout] != 6 {
		t.Errorf("idle %+v, want 4 of 10 verified and 6 timed out", i)
	}
	if !strings.Contains(o.stderr, "6 of 10 idle connections failed: timed out (idle read deadline)") {
		t.Errorf("stderr:\n%s", o.stderr)
	}
}

// Two runs against servers that starve some connections, merged: the
// distributions and idle connections add up exactly.
func TestMergeFairnessExact(t *testing.T) {
	forEngines(t, checkMergeFairnessExact)
}

func checkMergeFairnessExact(t *testing.T, eng string) {
	dir := t.TempDir()
	var files []string
	var all []int64
	for i, run := range []struct {
		addr string
		args []string
	}{
		{testkit.Serve(t, everyThirdSilent()), []string{"-n", "9", "-rounds", "2", "-idle", "3"}},
		{servePool(t, 6), []string{"-n", "4", "-rounds", "5", "-idle", "3"}},
	} {
		f := filepath.Join(dir, string(rune('a'+i))+".json")
		files = append(files, f)
		var so, se bytes.Buffer
		mainArgs(append([]string{"-engine", eng, "-quiet", "-host", run.addr, "-timeout", "300ms", "-json", f}, run.args...), &so, &se)
		r, err := clientreport.Read(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range r.PerConn.Counts {
			for range c[1] {
				all = append(all, c[0])
			}
		}
	}
	out := filepath.Join(dir, "m.json")
	var so, se bytes.Buffer
	if code := mainArgs(append([]string{"merge", "-json", out}, files...), &so, &se); code != 1 {
		t.Fatalf("merge: exit %d, want 1 (starved connections): %s", code, se.String())
	}
	m, err := clientreport.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	// Run 1: 4 of the 12 connections silent (idle first, so which ones
	// is up to the order the handlers start); run 2: the 3 idle and 3
	// of 4 active served, one active starved.
	want := clientreport.NewPerConn(all)
	if !reflect.DeepEqual(m.PerConn, want) || m.PerConn.Conns != 13 {
		t.Errorf("merged %+v, want %+v", m.PerConn, want)
	}
	r1, _ := clientreport.Read(files[0])
	if m.Idle.Requested != 6 || m.Idle.Verified != r1.Idle.Verified+3 || m.PerConn.Starved != r1.PerConn.Starved+1 {
		t.Errorf("merged idle %+v, starved %d (run 1: idle %+v, starved %d)", m.Idle, m.PerConn.Starved, r1.Idle, r1.PerConn.Starved)
	}
}

// -idle spread over -procs: each process holds its share and the merged
// report has them all.
func TestIdleProcs(t *testing.T) {
	bin := buildClient(t)
	addr := testkit.Serve(t, testkit.Echo)
	forEngines(t, func(t *testing.T, eng string) { checkIdleProcs(t, eng, bin, addr) })
}

func checkIdleProcs(t *testing.T, eng, bin, addr string) {
	f := filepath.Join(t.TempDir(), "r.json")
	res := testkit.Run(t, runBound, bin, "-engine", eng, "-quiet", "-host", addr, "-n", "6", "-idle", "5", "-procs", "2", "-rounds", "2", "-json", f)
	if res.Code != 0 {
		t.Fatalf("exit %d: %s", res.Code, res.Stderr)
	}
	r, err := clientreport.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	if r.Engine != eng {
		t.Errorf("merged engine %q, want %q", r.Engine, eng)
	}
	if r.Idle.Requested != 5 || r.Idle.Verified != 5 || r.Config.Idle != 5 || r.Processes != 2 || r.MaxConc != 11 || r.PerConn.Conns != 6 || r.PerConn.Median != 2 {
		t.Errorf("idle %+v, config.idle %d, processes %d, max conc %d, fairness %+v", r.Idle, r.Config.Idle, r.Processes, r.MaxConc, r.PerConn)
	}
}

// The round trips in the window leave out those still in flight at the
// end of -duration, at most one per connection, and those of -warmup.
func TestWindowRoundTrips(t *testing.T) {
	addr := testkit.Serve(t, delayHandler(5*time.Millisecond))
	forEngines(t, func(t *testing.T, eng string) { checkWindowRoundTrips(t, eng, addr) })
}

func checkWindowRoundTrips(t *testing.T, eng, addr string) {
	for _, c := range []struct {
		args           []string
		window         float64 // seconds
		outMin, outMax int64   // round trips outside the window
	}{
		{[]string{"-duration", "300ms"}, 0.3, 0, 4},
		{[]string{"-duration", "300ms", "-reconnect"}, 0.3, 0, 4},
		// 150 ms of 5 ms echoes: each connection completes some.
		{[]string{"-duration", "300ms", "-warmup", "150ms", "-reconnect"}, 0.15, 4, 1 << 40},
		{[]string{"-rounds", "3"}, 0, 3 * 4, 3 * 4},
	} {
		o := runClient(t, eng, append([]string{"-host", addr, "-n", "4"}, c.args...)...)
		if o.code != 0 {
			t.Fatalf("%v: exit %d: %s", c.args, o.code, o.stderr)
		}
		r := result(t, o)
		w, out := r.WindowRoundTrips, r.RoundTrips-r.WindowRoundTrips
		if out < c.outMin || out > c.outMax || (c.window > 0 && (w < 1 || r.WindowRoundTripsPS != float64(w)/c.window)) || (c.window == 0 && r.WindowRoundTripsPS != 0) {
			t.Errorf("%v: %d of %d round trips in the window (%v/s); want %d to %d outside it", c.args, w, r.RoundTrips, r.WindowRoundTripsPS, c.outMin, c.outMax)
		}
	}
}
