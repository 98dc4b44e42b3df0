package report

import (
	"strings"
	"testing"

	"tenkthreads/internal/runner/results"
)

// The client's engines are judged by the paired ratio of their CPU per
// message: the event loop at 0.5× the goroutine engine meets the 0.6×
// target in closed loop; at 0.8× in open loop it does not. The targets
// also give the user-space part's ratio where the runs measured it.
func TestEngineTargets(t *testing.T) {
	var runs []*results.Run
	add := func(workload string, n int, v float64) {
		for rep := 1; rep <= 6; rep++ {
			r := &results.Run{Server: epollKey, Workload: workload, Conns: n, Rep: rep, Status: results.StatusOK}
			r.M.ClientCPUPerMsg = results.N(v * (1 + 0.01*float64(rep)))
			if workload == OpenLoop || workload == OpenGoroutine {
				r.M.ClientUserCPUPerMsg = results.N(v / 10 * (1 + 0.01*float64(rep)))
			}
			runs = append(runs, r)
		}
	}
	add("echo", 10000, 5)
	add(EchoGoroutine, 10000, 10)
	add(OpenLoop, OpenConns, 8)
	add(OpenGoroutine, OpenConns, 10)
	figs := engineFigures(&results.Results{Cells: results.Aggregate(runs)}, epollKey, 10000)
	if len(figs) != 6 {
		t.Fatalf("%d figures, want both engines in both loops, and the user-space part in the open loop: %+v", len(figs), figs)
	}
	want := map[string]string{"client_cpu_per_msg_closed": "met", "client_cpu_per_msg_open": "not met"}
	got := engineTargets(figs)
	if len(got) != 2 {
		t.Fatalf("targets %+v", got)
	}
	for _, tg := range got {
		if tg.Verdict != want[tg.Key] {
			t.Errorf("%s: %s (%s), want %s", tg.Key, tg.Verdict, tg.Measured, want[tg.Key])
		}
		user := strings.Contains(tg.Measured, "its user-space part alone 0.8")
		if user != (tg.Key == "client_cpu_per_msg_open") {
			t.Errorf("%s: %q gives the user-space ratio: %v", tg.Key, tg.Measured, user)
		}
	}
}
