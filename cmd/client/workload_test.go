package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"tenkthreads/internal/testkit"
)

// echoWorkload is one run of the client against an exact echo server: it
// must verify every one of n connections, and check what is particular.
type echoWorkload struct {
	name  string
	args  []string
	n     float64
	check func(t *testing.T, o outcome)
}

func echoWorkloads() []echoWorkload {
	return []echoWorkload{
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
		{"rate reconnect", []string{"-n", "10", "-rate", "200", "-duration", "500ms", "-reconnect"}, 10, func(t *testing.T, o outcome) {
			// A connection per message: the first from the ramp.
			if tot, sent := num(t, o.res, "total"), num(t, o.res, "sent"); tot != sent || sent < 80 {
				t.Errorf("total connects = %v for %v messages sent, want one each (about 100)", tot, sent)
			}
		}},
		{"start-at", []string{"-n", "3", "-start-at", "NOW+1s"}, 3, func(t *testing.T, o outcome) {
			if o.elapsed < 500*time.Millisecond {
				t.Errorf("started after %v, want it to wait for -start-at", o.elapsed)
			}
		}},
	}
}

func TestExactEchoWorkloads(t *testing.T) {
	addr := testkit.Serve(t, testkit.Echo)
	forEngines(t, func(t *testing.T, eng string) {
		for _, tc := range echoWorkloads() {
			t.Run(tc.name, func(t *testing.T) { checkEchoWorkload(t, eng, addr, tc) })
		}
	})
}

func checkEchoWorkload(t *testing.T, eng, addr string, tc echoWorkload) {
	args := append([]string{"-host", addr, "-n", fmt.Sprint(tc.n)}, tc.args...)
	for i, a := range args {
		if a == "NOW+1s" {
			args[i] = fmt.Sprint(float64(time.Now().Add(time.Second).UnixNano()) / 1e9)
		}
	}
	o := runClient(t, eng, args...)
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
}

func TestFailuresAreClassified(t *testing.T) {
	cases := []struct {
		name    string
		addr    string
		args    []string
		class   string
		stderrs []string
	}{
		{"closed port", testkit.ClosedPort(t), nil, clsRefused, []string{"20 of 20 connections failed", "ECONNREFUSED", "is the server running?"}},
		{"corrupting server", testkit.Serve(t, flipHandler), nil, clsMismatch, []string{"echo mismatch", "mismatch"}},
		{"silent server", testkit.Serve(t, silentHandler), []string{"-timeout", "300ms"}, clsTimeout, []string{"timed out", "read deadline"}},
		{"server hangs up", testkit.Serve(t, closingHandler), []string{"-size", "64"}, "", []string{"20 of 20 connections failed"}},
	}
	forEngines(t, func(t *testing.T, eng string) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				o := runClient(t, eng, append([]string{"-host", tc.addr, "-n", "20"}, tc.args...)...)
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
	})
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
		{[]string{"-host", "[::1]:1", "-source", "127.0.0.2"}, 1, "-source 127.0.0.2: cannot reach [::1]:1"},
		{[]string{"-host", "127.0.0.1:1", "-source", "127.0.0.2,::1"}, 1, "-source ::1: cannot reach 127.0.0.1:1"},
		{[]string{"-engine", "threads"}, 2, "-engine \"threads\": want eventloop or goroutine"},
		{[]string{"-engine", ""}, 2, "-engine"},
		{[]string{"-loops", "-1"}, 2, "-loops -1"},
		{[]string{"-loops", "1025"}, 2, "-loops 1025"},
		{[]string{"-loops", "two"}, 2, "-loops"},
		{[]string{"-engine", "goroutine", "-loops", "2"}, 2, "-loops: only -engine eventloop"},
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
			if tc.code == 2 && !strings.HasSuffix(se.String(), usageLine+"\n") {
				t.Errorf("a usage error without the usage line:\n%s", se.String())
			}
		})
	}
}
