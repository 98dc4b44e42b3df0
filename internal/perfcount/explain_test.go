package perfcount

import (
	"strings"
	"testing"
)

func TestPerRoundTrips(t *testing.T) {
	c := Counts{
		ContextSwitches: Counter{Value: 200, Set: true}, Syscalls: Counter{Value: 400, Set: true},
		Migrations: Counter{Value: 0, Set: true}, PageFaults: Counter{Value: 50, Set: true},
		Cycles: Counter{Missing: "not available: no hardware counters (perf_event_open: no such file or directory)"},
	}
	p, err := PerRoundTrips(c, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := PerRoundTrip{
		ContextSwitches: Rate{Value: 2, Set: true}, Syscalls: Rate{Value: 4, Set: true},
		Migrations: Rate{Value: 0, Set: true}, PageFaults: Rate{Value: 0.5, Set: true},
		Cycles: Rate{Missing: c.Cycles.Missing},
	}
	if p != want {
		t.Errorf("got %+v\nwant %+v", p, want)
	}
	if _, err := PerRoundTrips(c, 0); err == nil || !strings.Contains(err.Error(), "0 round trips") {
		t.Errorf("0 round trips: %v", err)
	}
}

func TestExplain(t *testing.T) {
	rate := func(v float64) Rate { return Rate{Value: v, Set: true} }
	thread := PerRoundTrip{ContextSwitches: rate(2.04), Syscalls: rate(3.98)}
	epoll := PerRoundTrip{ContextSwitches: rate(0.1), Syscalls: rate(2.31)}
	noTrace := PerRoundTrip{ContextSwitches: rate(0.5), Syscalls: Rate{Missing: "tracepoint raw_syscalls:sys_enter unavailable: x"}}
	nothing := PerRoundTrip{ContextSwitches: Rate{Missing: "not permitted"}, Syscalls: Rate{Missing: "not permitted"}}
	cases := []struct {
		name    string
		servers []Server
		want    string
	}{
		{"two servers", []Server{{"thread", thread}, {"epoll", epoll}},
			"the thread server makes 2.0 context switches and 4.0 system calls per round trip, the epoll server 0.10 and 2.3"},
		{"three servers", []Server{{"thread", thread}, {"epoll", epoll}, {"Go reference", PerRoundTrip{ContextSwitches: rate(0), Syscalls: rate(1234)}}},
			"the thread server makes 2.0 context switches and 4.0 system calls per round trip, the epoll server 0.10 and 2.3, the Go reference server 0 and 1234"},
		{"one lacks system calls", []Server{{"thread", thread}, {"poll", noTrace}},
			"the thread server makes 2.0 context switches per round trip, the poll server 0.50 (system calls not counted: the poll server's tracepoint raw_syscalls:sys_enter unavailable: x)"},
		{"nothing counted", []Server{{"thread", nothing}},
			"no counts to explain the difference (context switches not counted: the thread server's not permitted; system calls not counted: the thread server's not permitted)"},
	}
	for _, c := range cases {
		got, err := Explain(c.servers...)
		if err != nil || got != c.want {
			t.Errorf("%s:\n got %q (%v)\nwant %q", c.name, got, err, c.want)
		}
	}
	if _, err := Explain(); err == nil {
		t.Error("Explain() with no server gave no error")
	}
}

func TestCount(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want string
	}{{0, "0"}, {0.1, "0.10"}, {0.0123, "0.012"}, {2, "2.0"}, {23.4, "23"}, {99.6, "100"}, {4100.4, "4100"}} {
		if got := count(c.v); got != c.want {
			t.Errorf("count(%v) = %q, want %q", c.v, got, c.want)
		}
	}
}
