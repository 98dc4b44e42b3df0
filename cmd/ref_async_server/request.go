package main

// What a request costs beyond its echo, as in the C server's request.c:
// -W, CPU work, then -d, a wait such as a call to a backend, after each
// read and before its echo. The goroutine sleeps through the wait; the
// netpoller serves the other connections meanwhile.

import (
	"regexp"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

const maxDuration = 60 * time.Second

var durationRE = regexp.MustCompile(`^([0-9]+)(us|ms|s)$`)

var durationUnits = map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}

// parseDuration reads -d and -W as the C server does: a whole number and
// us, ms or s, from 0 to 60s. The problem is worded for "-d ARG: delay is
// ..." as the C server words it; time.ParseDuration would take "1.5ms"
// and "1m", which the C server refuses.
func parseDuration(s string) (time.Duration, string) {
	m := durationRE.FindStringSubmatch(s)
	if m == nil {
		return 0, "invalid (a whole number and us, ms or s, as in 10ms)"
	}
	unit := durationUnits[m[2]]
	v, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || v > int64(maxDuration/unit) {
		return 0, "too large (at most 60s)"
	}
	return time.Duration(v) * unit, ""
}

// setRequestCost sets -d and -W, or returns what is wrong with them.
func (o *options) setRequestCost(delay, work string) string {
	for _, f := range []struct {
		flag, what, arg string
		dst             *time.Duration
	}{{"-d", "delay", delay, &o.delay}, {"-W", "work", work, &o.work}} {
		d, problem := parseDuration(f.arg)
		if problem != "" {
			return f.flag + " " + f.arg + ": " + f.what + " is " + problem
		}
		*f.dst = d
	}
	return ""
}

// requestCost ends the start line: -d and -W, only when set, so that the
// line without them ends where it always did (as the C server's).
func (s *server) requestCost() string {
	var extra string
	if s.delay > 0 {
		extra += ", request delay " + formatDuration(s.delay)
	}
	if s.work > 0 {
		extra += ", request work " + formatDuration(s.work)
	}
	return extra
}

// formatDuration writes d in the largest unit that holds it exactly, as
// -d and -W take it.
func formatDuration(d time.Duration) string {
	for _, u := range []struct {
		name string
		d    time.Duration
	}{{"s", time.Second}, {"ms", time.Millisecond}} {
		if d%u.d == 0 {
			return strconv.FormatInt(int64(d/u.d), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(d/time.Microsecond), 10) + "us"
}

// spinChunk is the most work done between two looks at the clock.
const spinChunk = 20 * time.Microsecond

// spinsPerUS is how fast spin runs, measured once at start by
// calibrateWork; the clock, not this estimate, decides when work is done.
var spinsPerUS int64 = 1

//go:noinline
func spin(n int64) uint64 {
	x := uint64(1)
	for ; n > 0; n-- {
		x = x*31 + 7
	}
	return x
}

// spinSink takes spin's results, so that the compiler keeps the work.
var spinSink atomic.Uint64

// threadCPU is the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID).
func threadCPU() time.Duration {
	const clockThreadCPUTimeID = 3
	var ts syscall.Timespec
	syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}

func calibrateWork() {
	const n = 1 << 20
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	t := threadCPU()
	spinSink.Add(spin(n))
	if us := int64((threadCPU() - t) / time.Microsecond); us > 0 {
		spinsPerUS = max(n/us, 1)
	}
}

// work uses d of CPU time, measured on the thread's CPU clock as the C
// server does, so a request costs the same CPU whatever the load. The
// goroutine stays on its thread meanwhile, or that clock would count
// other goroutines' time.
func work(d time.Duration) {
	if d == 0 {
		return
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	chunk := spinsPerUS * int64(min(d, spinChunk)/time.Microsecond)
	end := threadCPU() + d
	var x uint64
	for {
		x += spin(chunk)
		if threadCPU() >= end {
			break
		}
	}
	spinSink.Add(x)
}

// request is what each read costs before its echo: -W, then -d, with the
// requests waiting at once counted for "peak waiting".
func (s *server) request() {
	work(s.work)
	if s.delay == 0 {
		return
	}
	n := s.c.waiting.Add(1)
	for {
		m := s.c.maxWaiting.Load()
		if n <= m || s.c.maxWaiting.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(s.delay)
	s.c.waiting.Add(-1)
}
