package report

import (
	"strings"
	"testing"

	"tenkthreads/internal/runner/results"
)

// Each model is judged on its goal (the thread model on its floor), on
// memory per connection within 5% of the reference count's, and the
// thread model on its exit with every connection open.
func TestC1MTargets(t *testing.T) {
	n := results.N
	row := func(server string, conns int, kib, stop float64) C1MRow {
		return C1MRow{Server: server, Label: server, Conns: conns, Status: results.StatusOK, Verified: n(float64(conns)), Errors: n(0),
			BothEndsKiBPerConn: n(kib), StopS: n(stop)}
	}
	rep := C1MReport{Rows: []C1MRow{
		row("epoll", 10000, 8, 0.1), row("epoll", 1000000, 8.3, 15),
		row("thread", 10000, 40, 0.3), row("thread", 400000, 41, 75),
	}}
	in := C1MInput{RefCount: 10000, ThreadKey: "thread", ThreadFloor: 500000}
	verdicts := map[string]bool{}
	for _, md := range []C1MModel{{Server: "epoll", Label: "epoll", Goal: 1000000, Held: 1000000},
		{Server: "thread", Label: "thread", Goal: 600000, Held: 400000, Stopped: "memory: 600,000 would need more"}} {
		for _, tg := range c1mTargets(rep, md, in) {
			if tg.Met == nil {
				t.Fatalf("%s not judged: %+v", tg.Key, tg)
			}
			verdicts[tg.Key] = *tg.Met
			if strings.HasPrefix(tg.Key, "held_thread") && !strings.Contains(tg.Measured, "memory: 600,000") {
				t.Errorf("held target does not say what stopped it: %q", tg.Measured)
			}
		}
	}
	want := map[string]bool{"held_epoll": true, "linear_epoll": true, "held_thread": false, "linear_thread": true, "exit_thread": false}
	for k, v := range want {
		if got, ok := verdicts[k]; !ok || got != v {
			t.Errorf("%s: met %v (judged %v), want %v", k, got, ok, v)
		}
	}
	// 8.3 against 8 is 3.75% more; 8.5 would be 6%.
	rep.Rows[1].BothEndsKiBPerConn = n(8.5)
	for _, tg := range c1mTargets(rep, C1MModel{Server: "epoll", Label: "epoll", Goal: 1000000, Held: 1000000}, in) {
		if tg.Key == "linear_epoll" && *tg.Met {
			t.Errorf("6%% more per connection judged linear: %+v", tg)
		}
	}
}
