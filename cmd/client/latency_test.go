package main

import (
	"net"
	"testing"
	"time"

	"tenkthreads/internal/testkit"
)

func TestDelayedEchoP50(t *testing.T) {
	const delay = 20 * time.Millisecond
	addr := testkit.Serve(t, delayHandler(delay))
	forEngines(t, func(t *testing.T, eng string) { checkDelayedEchoP50(t, eng, addr, delay) })
}

func checkDelayedEchoP50(t *testing.T, eng, addr string, delay time.Duration) {
	o := runClient(t, eng, "-host", addr, "-n", "10", "-rounds", "5")
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
	forEngines(t, checkOpenLoopShowsStall)
}

func checkOpenLoopShowsStall(t *testing.T, eng string) {
	const stall = 400 * time.Millisecond
	run := func(h func(net.Conn), extra ...string) outcome {
		addr := testkit.Serve(t, h)
		o := runClient(t, eng, append([]string{"-host", addr, "-n", "10", "-duration", "1500ms"}, extra...)...)
		if o.code != 0 {
			t.Fatalf("exit %d: %s", o.code, o.stderr)
		}
		return o
	}
	base := run(testkit.Echo, "-rate", "200")
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
