package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startServer runs handle for every accepted connection on 127.0.0.1:0.
func startServer(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

func echoHandler(c net.Conn) { _, _ = io.Copy(c, c) }

// flipHandler echoes but corrupts the 4th byte of the stream.
func flipHandler(c net.Conn) {
	buf := make([]byte, 4096)
	pos := 0
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if pos <= 3 && pos+n > 3 {
				buf[3-pos] ^= 0x20
			}
			pos += n
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// delayHandler echoes every read after a fixed delay.
func delayHandler(d time.Duration) func(net.Conn) {
	return func(c net.Conn) {
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				time.Sleep(d)
				if _, werr := c.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
}

// stallHandler echoes, except that no echo leaves during [from, to).
func stallHandler(from, to time.Time) func(net.Conn) {
	return func(c net.Conn) {
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				if now := time.Now(); !now.Before(from) && now.Before(to) {
					time.Sleep(to.Sub(now))
				}
				if _, werr := c.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
}

// silentHandler accepts and reads but never answers.
func silentHandler(c net.Conn) { _, _ = io.Copy(io.Discard, c) }

// closingHandler hangs up as soon as the first bytes arrive.
func closingHandler(c net.Conn) {
	buf := make([]byte, 1)
	_, _ = c.Read(buf)
}

func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

type outcome struct {
	code           int
	stdout, stderr string
	res            map[string]any
	elapsed        time.Duration
}

// runClient runs the client in-process with a JSON report in a temp dir.
func runClient(t *testing.T, args ...string) outcome {
	t.Helper()
	jp := filepath.Join(t.TempDir(), "r.json")
	var so, se bytes.Buffer
	t0 := time.Now()
	code := mainArgs(append([]string{"-quiet", "-json", jp}, args...), &so, &se)
	o := outcome{code: code, stdout: so.String(), stderr: se.String(), elapsed: time.Since(t0)}
	if b, err := os.ReadFile(jp); err == nil {
		if err := json.Unmarshal(b, &o.res); err != nil {
			t.Fatalf("JSON report does not parse: %v", err)
		}
	}
	return o
}

func num(t *testing.T, m map[string]any, path string) float64 {
	t.Helper()
	var cur any = m
	for _, k := range strings.Split(path, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			t.Fatalf("%s: %v is not an object", path, cur)
		}
		if cur, ok = mm[k]; !ok {
			t.Fatalf("JSON has no %s", path)
		}
	}
	f, ok := cur.(float64)
	if !ok {
		t.Fatalf("%s = %v is not a number", path, cur)
	}
	return f
}

func TestExactEchoWorkloads(t *testing.T) {
	addr := startServer(t, echoHandler)
	cases := []struct {
		name  string
		args  []string
		n     float64
		check func(t *testing.T, o outcome)
	}{
		{"default payload", nil, 100, nil},
		{"1 byte", []string{"-size", "1"}, 20, nil},
		{"1 KiB", []string{"-size", "1024"}, 20, nil},
		{"1 MiB forces concurrent write and read", []string{"-size", "1048576", "-n", "4", "-rounds", "2"}, 4, nil},
		{"rounds", []string{"-n", "10", "-rounds", "7", "-size", "100"}, 10, func(t *testing.T, o outcome) {
			if rt := num(t, o.res, "round_trips"); rt != 70 {
				t.Errorf("round_trips = %v, want 70", rt)
			}
		}},
		{"reconnect", []string{"-n", "10", "-rounds", "5", "-reconnect"}, 10, func(t *testing.T, o outcome) {
			if tot := num(t, o.res, "total"); tot != 50 {
				t.Errorf("total connects = %v, want 50", tot)
			}
			if c := num(t, o.res, "latency.connect.count"); c != 50 {
				t.Errorf("connect samples = %v, want 50", c)
			}
		}},
		{"hold", []string{"-n", "10", "-hold", "300ms"}, 10, func(t *testing.T, o outcome) {
			if h := num(t, o.res, "hold_s"); h < 0.29 {
				t.Errorf("hold_s = %v, want >= 0.3", h)
			}
		}},
		{"connect-rate", []string{"-n", "40", "-connect-rate", "200"}, 40, func(t *testing.T, o outcome) {
			// The last of 40 slots at 200/s starts 0.195 s in.
			if c := num(t, o.res, "connect_all_s"); c < 0.19 {
				t.Errorf("connect_all_s = %v, want >= 0.19", c)
			}
		}},
		{"source range", []string{"-n", "9", "-source", "127.0.0.7-127.0.0.9"}, 9, func(t *testing.T, o outcome) {
			if s := o.res["config"].(map[string]any)["sources"].([]any); len(s) != 3 {
				t.Errorf("sources = %v, want 3", s)
			}
		}},
		{"source off", []string{"-n", "5", "-source", "off"}, 5, nil},
		{"duration", []string{"-n", "5", "-duration", "300ms"}, 5, func(t *testing.T, o outcome) {
			if rt := num(t, o.res, "round_trips"); rt <= 5 {
				t.Errorf("round_trips = %v, want many more than 5", rt)
			}
			if s := num(t, o.res, "steady_s"); s < 0.29 {
				t.Errorf("steady_s = %v, want >= 0.3", s)
			}
		}},
		{"rate", []string{"-n", "10", "-rate", "400", "-duration", "1s"}, 10, func(t *testing.T, o outcome) {
			sent := num(t, o.res, "sent") + num(t, o.res, "rate.missed_sends")
			if sent < 360 || sent > 440 {
				t.Errorf("sent+missed = %v, want 400 ±10%%", sent)
			}
		}},
		{"start-at", []string{"-n", "3", "-start-at", "NOW+1s"}, 3, func(t *testing.T, o outcome) {
			if o.elapsed < 500*time.Millisecond {
				t.Errorf("started after %v, want it to wait for -start-at", o.elapsed)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-host", addr, "-n", fmt.Sprint(tc.n)}, tc.args...)
			for i, a := range args {
				if a == "NOW+1s" {
					args[i] = fmt.Sprint(float64(time.Now().Add(time.Second).UnixNano()) / 1e9)
				}
			}
			o := runClient(t, args...)
			if o.code != 0 {
				t.Fatalf("exit %d, stderr:\n%s", o.code, o.stderr)
			}
			for _, k := range []string{"requested", "established", "verified", "max_conc"} {
				if v := num(t, o.res, k); v != tc.n {
					t.Errorf("%s = %v, want %v", k, v, tc.n)
				}
			}
			if v := num(t, o.res, "failed"); v != 0 {
				t.Errorf("failed = %v", v)
			}
			if !strings.HasPrefix(o.stdout, fmt.Sprintf("Max conc: %d\ntotal: ", int(tc.n))) {
				t.Errorf("stdout does not start with the original lines:\n%s", o.stdout)
			}
			if !strings.Contains(o.stdout, "\nconc: 0\n") {
				t.Errorf("stdout lacks 'conc: 0'")
			}
			if tc.check != nil {
				tc.check(t, o)
			}
		})
	}
}

func TestFailuresAreClassified(t *testing.T) {
	cases := []struct {
		name    string
		addr    string
		args    []string
		class   string
		stderrs []string
	}{
		{"closed port", closedPort(t), nil, clsRefused, []string{"20 of 20 connections failed", "ECONNREFUSED", "is the server running?"}},
		{"corrupting server", startServer(t, flipHandler), nil, clsMismatch, []string{"echo mismatch", "mismatch"}},
		{"silent server", startServer(t, silentHandler), []string{"-timeout", "300ms"}, clsTimeout, []string{"timed out", "read deadline"}},
		{"server hangs up", startServer(t, closingHandler), []string{"-size", "64"}, "", []string{"20 of 20 connections failed"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := runClient(t, append([]string{"-host", tc.addr, "-n", "20"}, tc.args...)...)
			if o.code != 1 {
				t.Fatalf("exit %d, want 1; stderr:\n%s", o.code, o.stderr)
			}
			if tc.class != "" {
				if v := num(t, o.res, "errors."+tc.class); v != 20 {
					t.Errorf("errors.%s = %v, want 20 (errors %v)", tc.class, v, o.res["errors"])
				}
			} else if e, r := num(t, o.res, "errors.eof"), num(t, o.res, "errors.reset"); e+r != 20 {
				t.Errorf("eof+reset = %v+%v, want 20", e, r)
			}
			if v := num(t, o.res, "verified"); v != 0 {
				t.Errorf("verified = %v, want 0", v)
			}
			for _, s := range tc.stderrs {
				if !strings.Contains(o.stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, o.stderr)
				}
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-n", "0"}, 2, "usage:"},
		{[]string{"-bogus"}, 2, "usage:"},
		{[]string{"-rounds", "0"}, 2, "needs -duration"},
		{[]string{"-rate", "-5"}, 2, "usage:"},
		{[]string{"-data", ""}, 2, "empty payload"},
		{[]string{"-start-at", "tomorrow"}, 2, "RFC3339"},
		{[]string{"-source", "1.2.3.x"}, 1, "not an IP"},
		{[]string{"-n", "1000000"}, 1, "open files"},
		{[]string{"-host", "nohostport"}, 1, "-host"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var so, se bytes.Buffer
			code := mainArgs(tc.args, &so, &se)
			if code != tc.code || !strings.Contains(se.String(), tc.want) {
				t.Errorf("exit %d stderr %q; want exit %d and %q", code, se.String(), tc.code, tc.want)
			}
			if lines := strings.Count(strings.TrimSpace(se.String()), "\n"); tc.code == 1 && lines != 0 {
				t.Errorf("want a one-line error, got:\n%s", se.String())
			}
		})
	}
}

func TestDelayedEchoP50(t *testing.T) {
	const delay = 20 * time.Millisecond
	addr := startServer(t, delayHandler(delay))
	o := runClient(t, "-host", addr, "-n", "10", "-rounds", "5")
	if o.code != 0 {
		t.Fatalf("exit %d: %s", o.code, o.stderr)
	}
	// Tolerance: the p50 may not undercut the delay and may exceed it by
	// at most 40 ms of scheduling noise on a loaded 2-core machine.
	p50 := num(t, o.res, "latency.rtt.p50")
	if p50 < float64(delay.Microseconds())*0.99 || p50 > float64((delay+40*time.Millisecond).Microseconds()) {
		t.Errorf("rtt p50 = %.0f µs, want %v .. %v", p50, delay, delay+40*time.Millisecond)
	}
	if c := num(t, o.res, "latency.rtt.count"); c != 50 {
		t.Errorf("rtt count = %v, want 50", c)
	}
}

func TestOpenLoopShowsStall(t *testing.T) {
	const stall = 400 * time.Millisecond
	run := func(h func(net.Conn), extra ...string) outcome {
		addr := startServer(t, h)
		o := runClient(t, append([]string{"-host", addr, "-n", "10", "-duration", "1500ms"}, extra...)...)
		if o.code != 0 {
			t.Fatalf("exit %d: %s", o.code, o.stderr)
		}
		return o
	}
	base := run(echoHandler, "-rate", "200")
	from := time.Now().Add(400 * time.Millisecond)
	open := run(stallHandler(from, from.Add(stall)), "-rate", "200")
	from = time.Now().Add(400 * time.Millisecond)
	closed := run(stallHandler(from, from.Add(stall)))

	bp99, op99, omax := num(t, base.res, "latency.rtt.p99"), num(t, open.res, "latency.rtt.p99"), num(t, open.res, "latency.rtt.max")
	if !(op99 > bp99) || op99 < 100e3 || omax < 300e3 {
		t.Errorf("open loop: p99 %.0f µs (no stall: %.0f µs), max %.0f µs; want the %v stall visible", op99, bp99, omax, stall)
	}
	// The stalled messages are counted, late, rather than silently skipped.
	if late := num(t, open.res, "rate.late_sends"); late == 0 {
		t.Errorf("open loop: no late sends reported across a %v stall", stall)
	}
	if s := num(t, open.res, "sent") + num(t, open.res, "rate.missed_sends"); s < 270 || s > 330 {
		t.Errorf("open loop: sent+missed = %v, want 300 ±10%%", s)
	}
	// Closed loop sees the stall as one slow sample per connection: max
	// grows, and the count reports exactly the round trips it did.
	if cm := num(t, closed.res, "latency.rtt.max"); cm < 300e3 {
		t.Errorf("closed loop max %.0f µs, want the stall visible", cm)
	}
	if c, rt := num(t, closed.res, "latency.rtt.count"), num(t, closed.res, "round_trips"); c != rt {
		t.Errorf("closed loop: %v samples for %v round trips", c, rt)
	}
}

func TestMergeEqualsSum(t *testing.T) {
	addr := startServer(t, echoHandler)
	dir := t.TempDir()
	var files []string
	var want struct{ req, rt, rtt float64 }
	for i, n := range []string{"20", "30"} {
		f := filepath.Join(dir, fmt.Sprintf("r%d.json", i))
		var so, se bytes.Buffer
		if code := mainArgs([]string{"-quiet", "-host", addr, "-n", n, "-rounds", "3", "-json", f}, &so, &se); code != 0 {
			t.Fatalf("run %d: exit %d: %s", i, code, se.String())
		}
		files = append(files, f)
		var m map[string]any
		b, _ := os.ReadFile(f)
		_ = json.Unmarshal(b, &m)
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
	b, _ := os.ReadFile(out)
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
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
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "client")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	addr := startServer(t, echoHandler)
	start := fmt.Sprint(time.Now().Add(time.Second).Format(time.RFC3339Nano))
	var cmds []*exec.Cmd
	var files []string
	for i := 0; i < 2; i++ {
		f := filepath.Join(dir, fmt.Sprintf("p%d.json", i))
		files = append(files, f)
		c := exec.Command(bin, "-quiet", "-host", addr, "-n", "50", "-duration", "300ms", "-start-at", start, "-json", f)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c)
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("client process: %v", err)
		}
	}
	out, err := exec.Command(bin, append([]string{"merge"}, files...)...).Output()
	if err != nil {
		t.Fatalf("merge: %v", err)
	}
	for _, want := range []string{"Max conc: 100\n", "total: 100\n", "verified              100\n", "merged                  2 client processes"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("merged report lacks %q:\n%s", want, out)
		}
	}
	// -h and a usage error through the real binary.
	if err := exec.Command(bin, "-n", "x").Run(); exitCode(err) != 2 {
		t.Errorf("-n x: exit %d, want 2", exitCode(err))
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// Every key documented in SCHEMA.md is present in a real report.
func TestJSONSchemaKeys(t *testing.T) {
	addr := startServer(t, echoHandler)
	o := runClient(t, "-host", addr, "-n", "5")
	if o.code != 0 {
		t.Fatalf("exit %d: %s", o.code, o.stderr)
	}
	doc, err := os.ReadFile("SCHEMA.md")
	if err != nil {
		t.Fatal(err)
	}
	keys := documentedKeys(string(doc))
	if len(keys) < 40 {
		t.Fatalf("found only %d documented keys in SCHEMA.md", len(keys))
	}
	for _, k := range keys {
		var cur any = o.res
		for _, part := range strings.Split(k, ".") {
			mm, ok := cur.(map[string]any)
			if !ok {
				t.Errorf("%s: parent is not an object", k)
				break
			}
			if cur, ok = mm[part]; !ok {
				t.Errorf("documented key %s missing from the JSON", k)
				break
			}
		}
	}
	if o.res["schema"] != Schema {
		t.Errorf("schema = %v", o.res["schema"])
	}
}

// documentedKeys takes the key column of the SCHEMA.md tables: rows that
// start with "| `key`".
func documentedKeys(doc string) []string {
	var keys []string
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(l, "| `") {
			continue
		}
		k := strings.TrimPrefix(l, "| `")
		k = k[:strings.Index(k, "`")]
		keys = append(keys, k)
	}
	return keys
}

func TestClassify(t *testing.T) {
	cases := []struct {
		err         error
		class, name string
	}{
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, clsRefused, "ECONNREFUSED"},
		{&net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, clsReset, "ECONNRESET"},
		{&net.OpError{Op: "write", Err: os.NewSyscallError("write", syscall.EPIPE)}, clsReset, "EPIPE"},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("socket", syscall.EMFILE)}, clsFdLimit, "EMFILE"},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.EADDRNOTAVAIL)}, clsAddrInUse, "EADDRNOTAVAIL"},
		{&net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, clsTimeout, "read deadline"},
		{&mismatchError{1, 2, 3, 4}, clsMismatch, "byte differs"},
		{&eofError{1, 2}, clsEOF, "EOF during read"},
		{io.ErrUnexpectedEOF, clsEOF, "EOF during read"},
		{errors.New("weird"), clsOther, "weird"},
	}
	for _, tc := range cases {
		c, n := classify("read", tc.err)
		if c != tc.class || n != tc.name {
			t.Errorf("classify(%v) = %s/%s, want %s/%s", tc.err, c, n, tc.class, tc.name)
		}
	}
}

func TestParseSources(t *testing.T) {
	cases := []struct {
		in   string
		n    int
		last string
		bad  bool
	}{
		{"127.0.0.2", 1, "127.0.0.2", false},
		{"127.0.0.2-127.0.0.200", 199, "127.0.0.200", false},
		{"127.0.0.2-127.0.0.3, ::1", 3, "::1", false},
		{"127.0.0.255-127.0.1.1", 3, "127.0.1.1", false},
		{"127.0.0.5-127.0.0.4", 0, "", true},
		{"::1-::2", 0, "", true},
		{"x", 0, "", true},
		{"", 0, "", true},
	}
	for _, tc := range cases {
		got, err := parseSources(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("parseSources(%q) accepted", tc.in)
			}
			continue
		}
		if err != nil || len(got) != tc.n || got[len(got)-1].String() != tc.last {
			t.Errorf("parseSources(%q) = %v, %v", tc.in, got, err)
		}
	}
}

// countingEcho echoes and records the peak of connections open at once.
type countingEcho struct {
	mu         sync.Mutex
	open, peak int
}

func (s *countingEcho) handle(c net.Conn) {
	s.mu.Lock()
	s.open++
	s.peak = max(s.peak, s.open)
	s.mu.Unlock()
	_, _ = io.Copy(c, c)
	s.mu.Lock()
	s.open--
	s.mu.Unlock()
}

// -procs: the processes hold their connections until all have connected,
// so the server sees every one at once, and the merged totals add up.
func TestProcsSpreadAndBarrier(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "client")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	srv := &countingEcho{}
	addr := startServer(t, srv.handle)
	jp := filepath.Join(dir, "m.json")
	// The slow ramp of process 0 would let the others finish early without
	// the barrier.
	out, err := exec.Command(bin, "-quiet", "-host", addr, "-n", "300", "-procs", "3", "-rounds", "2", "-connect-rate", "1500", "-json", jp).CombinedOutput()
	if err != nil {
		t.Fatalf("client -procs 3: %v\n%s", err, out)
	}
	var m map[string]any
	b, _ := os.ReadFile(jp)
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
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
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "client")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	addr := startServer(t, echoHandler)
	var so, se bytes.Buffer
	c := exec.Command(bin, "-host", addr, "-n", "10", "-duration", "20s", "-progress")
	c.Stdout, c.Stderr = &so, &se
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	_ = c.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		if exitCode(err) != 1 {
			t.Errorf("exit %d, want 1", exitCode(err))
		}
	case <-time.After(10 * time.Second):
		_ = c.Process.Kill()
		t.Fatal("client did not stop after SIGINT")
	}
	if !strings.Contains(so.String(), "interrupted") || !strings.Contains(so.String(), "Max conc: 10\n") {
		t.Errorf("no partial report on stdout:\n%s", so.String())
	}
	if !strings.Contains(se.String(), "client: running") {
		t.Errorf("-progress printed no progress line on stderr:\n%s", se.String())
	}
}
