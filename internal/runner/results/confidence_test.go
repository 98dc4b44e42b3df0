package results

import (
	"math"
	"testing"
)

// cellOf is a cell of runs whose server CPU per round trip is vals, one
// run per repetition from 1.
func cellOf(server string, vals ...float64) *Cell {
	var runs []*Run
	for i, v := range vals {
		r := &Run{Server: server, Workload: "echo", Conns: 10, Rep: i + 1}
		r.M.CPUPerRTus = N(v)
		runs = append(runs, r)
	}
	return Aggregate(runs)[0]
}

func TestCellIntervals(t *testing.T) {
	c := cellOf("a", 10, 11, 12, 10.5, 11.5, 11, 40)
	s := c.Stat(ServerCPUPerRT)
	if s.N != 7 || s.Med.V != 11 {
		t.Fatalf("stat %+v", s)
	}
	if s.CI == nil || s.CI.Lo > 11 || s.CI.Hi < 11 || s.Reason != "" {
		t.Errorf("7 runs: interval %+v (%s), want one around the median 11", s.CI, s.Reason)
	}
	if len(s.Outliers) != 1 || s.Outliers[0] != 7 {
		t.Errorf("outliers %v, want repetition 7 (40 among values near 11)", s.Outliers)
	}
	// A figure that is not compared gets no interval.
	if st := c.Stat(Errors); st.CI != nil || st.Outliers != nil {
		t.Errorf("errors: %+v", st)
	}
	few := cellOf("b", 10, 11, 12).Stat(ServerCPUPerRT)
	if few.CI != nil || few.Reason == "" {
		t.Errorf("3 runs: %+v, want no interval and the reason", few)
	}
	again := cellOf("a", 10, 11, 12, 10.5, 11.5, 11, 40).Stat(ServerCPUPerRT)
	if *again.CI != *s.CI {
		t.Errorf("the same runs gave %+v, then %+v: intervals must be reproducible", s.CI, again.CI)
	}
}

func TestRatioCI(t *testing.T) {
	thread := cellOf("thread", 20, 22, 21, 19, 23, 20)
	epoll := cellOf("epoll", 10, 11, 10.5, 9.5, 11.5, 10)
	e, ok := RatioCI(thread, epoll, ServerCPUPerRT)
	if !ok || math.Abs(e.Value-2) > 0.05 || e.CI == nil || e.CI.Lo > 2 || e.CI.Hi < 2 {
		t.Errorf("thread/epoll: %+v, %v; want about 2 inside its interval", e, ok)
	}
	if _, ok := RatioCI(thread, nil, ServerCPUPerRT); ok {
		t.Error("a ratio to a missing cell")
	}
	// Unpaired when the repetitions differ.
	short := cellOf("short", 10, 11, 10)
	if e, ok := RatioCI(thread, short, ServerCPUPerRT); !ok || e.Value < 1.9 || e.Value > 2.2 {
		t.Errorf("unpaired: %+v, %v", e, ok)
	}
}

func TestSupersededRunsLeaveTheirCell(t *testing.T) {
	runs := []*Run{{Server: "a", Workload: "echo", Conns: 10, Rep: 1}, {Server: "a", Workload: "echo", Conns: 10, Rep: 1, Superseded: "interference"}}
	runs[0].M.CPUPerRTus, runs[1].M.CPUPerRTus = N(10), N(99)
	c := Aggregate(runs)
	if len(c) != 1 || len(c[0].Runs) != 1 || c[0].Stat(ServerCPUPerRT).Med.V != 10 {
		t.Errorf("cells %+v", c)
	}
}

func TestCountsPerRT(t *testing.T) {
	m := Metrics{RoundTrips: N(1000)}
	m.countsPerRT(&Counts{ContextSwitches: N(2000), Syscalls: N(4000), Migrations: N(10), PageFaults: N(0), Missing: []string{"cycles: no hardware counters"}})
	if m.CtxSwitchesPerRT != N(2) || m.SyscallsPerRT != N(4) || m.MigrationsPerRT != N(0.01) || m.PageFaultsPerRT != N(0) || m.CyclesPerRT.Set {
		t.Errorf("%+v", m)
	}
	var none Metrics
	none.countsPerRT(&Counts{Syscalls: N(5)})
	if none.SyscallsPerRT.Set {
		t.Error("per round trip without round trips")
	}
}
