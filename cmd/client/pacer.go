package main

import (
	"runtime"
	"syscall"
	"time"
)

// Go's timers wake up to ~1 ms late when the process is idle (the netpoller
// sleeps in whole milliseconds), which would swamp microsecond echo
// latencies measured from intended send times. So one goroutine on its own
// OS thread sleeps with nanosleep and rings a per-connection bell when each
// message is due.

// earlyOK is how far ahead of its slot a connection may send; the pacer
// rings slightly early to absorb its own wake-up jitter, and latency is then
// taken from the actual send, so early sends never shorten a latency.
const earlyOK = 100 * time.Microsecond

const prSetTimerslack = 29

// intendedAt is the one schedule both the pacer and the connections use:
// message k of connection id is global message k*N+id, every 1/rate s.
func (r *runner) intendedAt(id, k int) time.Time {
	j := float64(k)*float64(r.cfg.N) + float64(id)
	return r.steadyStart.Add(time.Duration(j * 1e9 / r.cfg.Rate))
}

func (r *runner) pace() {
	defer close(r.pacerDone)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// The default 50 µs slack of a normal thread is larger than many of
	// the latencies we measure.
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerslack, 1, 0)
	n := r.cfg.N
	hasDeadline := r.cfg.Duration > 0
	for j := 0; ; j++ {
		id, k := j%n, j/n
		if r.cfg.Rounds > 0 && k >= r.cfg.Rounds {
			return
		}
		t := r.intendedAt(id, k)
		if hasDeadline && !t.Before(r.deadline) {
			return
		}
		if r.stop.Load() || r.workersDone.Load() {
			return
		}
		if d := time.Until(t) - 20*time.Microsecond; d > 30*time.Microsecond {
			ts := syscall.NsecToTimespec(int64(d))
			_ = syscall.Nanosleep(&ts, nil)
		}
		select {
		case r.bells[id] <- struct{}{}:
		default: // still busy with an earlier message; it will see it is late
		}
	}
}

// waitSlot blocks connection id until message k is due.
func (r *runner) waitSlot(id int, intended time.Time) {
	for time.Until(intended) > earlyOK {
		select {
		case <-r.bells[id]:
		case <-r.pacerDone:
			if d := time.Until(intended); d > 0 {
				time.Sleep(d)
			}
			return
		}
	}
}
