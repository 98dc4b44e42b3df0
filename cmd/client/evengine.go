package main

import (
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"tenkthreads/internal/clientreport"
)

// The event-loop engine: a few OS threads, one per CPU the client may run
// on, each with its own epoll instance and its own share of the
// connections, each connection a small record rather than a goroutine.
// The coordinator (this file) runs the phases of the goroutine engine,
// with the same flags, and merges the loops' figures at the end.

const (
	engineEventLoop = clientreport.EngineEventLoop
	engineGoroutine = clientreport.EngineGoroutine
	// maxLoops bounds -loops: far more threads than CPUs only add
	// switches between them.
	maxLoops = 1024
)

// errDeadline is a timeout in the event loop, as Go's net package has it.
var errDeadline = os.ErrDeadlineExceeded

// noPwait2 is set once epoll_pwait2 turns out to be missing.
var noPwait2 atomic.Bool

// phase is one step of the run that the coordinator hands every loop.
type phase uint8

const (
	phIdleRamp phase = iota
	phRamp
	phRounds
	phVerifyIdle
	phClose
)

type evEngine struct {
	*plan
	openCount
	nloops int
	loops  []*loop
	done   chan struct{} // a loop finished its phase
	exited sync.WaitGroup
	epoch  time.Time
	stop   atomic.Bool

	// The schedule, on the engine's clock (ns since epoch). The
	// coordinator sets it before it hands the loops a phase, so they
	// read it without locks.
	rampStart                          int64
	steadyStart, deadline, windowStart int64
	hasDeadline                        bool
	interval                           int64 // open loop: between one connection's sends
}

// now is the engine's clock: monotonic ns since epoch.
func (e *evEngine) now() int64 { return int64(time.Since(e.epoch)) }

func (e *evEngine) since(t time.Time) int64 { return int64(t.Sub(e.epoch)) }

// intendedAt is the open loop's schedule, the goroutine engine's: message
// k of connection id is global message k*N+id, every 1/rate s.
func (e *evEngine) intendedAt(id int32, k int64) int64 {
	j := float64(k)*float64(e.cfg.N) + float64(id)
	return e.steadyStart + int64(j*1e9/e.cfg.Rate)
}

// slot is when connection id may dial under -connect-rate.
func (e *evEngine) slot(id int32) int64 {
	return e.rampStart + int64(float64(id)/e.cfg.ConnectRate*1e9)
}

// loopCount is -loops, or one loop per CPU of the process's CPU set.
func loopCount(flag int) (int, error) {
	if flag > 0 {
		return flag, nil
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return 0, err
	}
	return max(1, set.Count()), nil
}

// newEngine makes the loops and starts their threads.
func newEngine(p *plan) (*evEngine, error) {
	e := &evEngine{plan: p, nloops: p.loops, done: make(chan struct{}), epoch: time.Now()}
	for i := range e.nloops {
		l, err := newLoop(e, i)
		if err != nil {
			l.close()
			e.shutdown()
			return nil, err
		}
		e.loops = append(e.loops, l)
	}
	e.exited.Add(len(e.loops))
	for _, l := range e.loops {
		go l.main()
	}
	return e, nil
}

// run hands every loop phase ph and waits until all have done it.
func (e *evEngine) run(ph phase) {
	for _, l := range e.loops {
		l.cmds <- ph
	}
	for range e.loops {
		<-e.done
	}
}

// shutdown ends the loops' threads and closes their descriptors.
func (e *evEngine) shutdown() {
	for _, l := range e.loops {
		close(l.cmds)
	}
	e.exited.Wait()
	for _, l := range e.loops {
		l.close()
	}
}

// interrupt is SIGINT: every loop stops at its next wake, woken now.
func (e *evEngine) interrupt() {
	e.stop.Store(true)
	for _, l := range e.loops {
		l.wake()
	}
}

// schedule fixes the round trips' timeline from their start.
func (e *evEngine) schedule(start time.Time) {
	cfg := e.cfg
	e.steadyStart = e.since(start)
	if cfg.Duration > 0 {
		e.hasDeadline = true
		e.deadline = e.steadyStart + int64(cfg.Duration)
		e.windowStart = e.steadyStart + int64(cfg.Warmup)
	}
	if cfg.Rate > 0 {
		e.interval = int64(float64(cfg.N) / cfg.Rate * 1e9)
	}
}

// runEventLoops is the event-loop engine's run.
func runEventLoops(cfg *config, stderr io.Writer) (*clientreport.Result, error) {
	p, env, err := prepare(cfg)
	if err != nil {
		return nil, err
	}
	e, err := newEngine(p)
	if err != nil {
		return nil, err
	}
	defer e.shutdown()
	interrupted, stopSignals := watchSignals(e.interrupt)
	defer stopSignals()
	return drive(cfg, stderr, e, env, interrupted)
}

func (e *evEngine) ramp(start time.Time) {
	e.rampStart = e.since(start)
	e.run(phIdleRamp)
	e.run(phRamp)
}

func (e *evEngine) steady(start time.Time) {
	e.schedule(start)
	e.run(phRounds)
}

func (e *evEngine) verifyIdle() { e.run(phVerifyIdle) }

func (e *evEngine) closeAll() { e.run(phClose) }

func (e *evEngine) stopped() bool { return e.stop.Load() }
