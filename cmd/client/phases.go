package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"

	"tenkthreads/internal/clientreport"
	"tenkthreads/internal/stats"
)

// run drives one client process through its phases with the engine
// -engine names.
func run(cfg *config, stderr io.Writer) (*clientreport.Result, error) {
	if cfg.Engine == engineGoroutine {
		return runGoroutines(cfg, stderr)
	}
	return runEventLoops(cfg, stderr)
}

// engine is what an engine does in each phase of a run.
type engine interface {
	// ramp opens the idle connections, then the active ones.
	ramp(start time.Time)
	// steady runs the round trips from start until all are done.
	steady(start time.Time)
	verifyIdle()
	closeAll()
	stopped() bool
	live() live
	result(env *clientreport.Environment, rampStart time.Time) (*clientreport.Result, error)
}

// drive runs one process's phases with e: ramp (every connection opened),
// hold (all idle), round trips, the idle connections' echo, close.
func drive(cfg *config, stderr io.Writer, e engine, env *clientreport.Environment, interrupted <-chan struct{}) (*clientreport.Result, error) {
	release := watchRelease(cfg)
	waitStart(cfg, interrupted)
	phase := &atomic.Value{}
	phase.Store("connecting")
	stopProgress := startProgress(cfg, stderr, phase, e.live)
	var t phaseTimes
	t.ru0 = getRusage()
	rampStart := time.Now()
	e.ramp(rampStart)
	if cfg.childBarrier {
		childBarrier(childReadyFd, childGoFd)
	}
	t.rampEnd = time.Now()
	if cfg.Hold > 0 && !e.stopped() {
		phase.Store("holding")
		hold(cfg.Hold, interrupted)
	}
	t.holdEnd, t.ru1 = time.Now(), getRusage()
	phase.Store("running")
	e.steady(t.holdEnd)
	t.workEnd, t.ruW = time.Now(), getRusage()
	if !e.stopped() {
		e.verifyIdle()
	}
	if cfg.childBarrier {
		childBarrier(childWorkDoneFd, childCloseFd)
	}
	t.lingerStart = time.Now()
	if cfg.Linger > 0 && !e.stopped() {
		phase.Store("lingering")
		if !cfg.childBarrier {
			// Under -procs the parent notifies, once every child is here.
			notify(cfg.Notify, stderr)
		}
		linger(cfg.Linger, interrupted, release)
	}
	t.lingerEnd = time.Now()
	e.closeAll()
	t.end, t.ru2 = time.Now(), getRusage()
	stopProgress()
	res, err := e.result(env, rampStart)
	if err != nil {
		return nil, err
	}
	t.fill(res, rampStart, e.stopped())
	return res, nil
}

// runGoroutines is the goroutine engine's run.
func runGoroutines(cfg *config, stderr io.Writer) (*clientreport.Result, error) {
	p, env, err := prepare(cfg)
	if err != nil {
		return nil, err
	}
	r := newRunner(p)
	r.init()
	interrupted, stopSignals := watchSignals(func() { r.stop.Store(true) })
	defer stopSignals()
	return drive(cfg, stderr, r, env, interrupted)
}

func (r *runner) ramp(start time.Time) {
	r.rampStart = start
	r.rampIdle()
	r.rampUp()
}

func (r *runner) steady(start time.Time) { r.roundTrips(start) }

// closeAll closes the active connections, which waited for it, then the
// idle ones.
func (r *runner) closeAll() {
	close(r.closeCh)
	r.wg.Wait()
	r.closeIdle()
}

func (r *runner) stopped() bool { return r.stop.Load() }

// waitStart waits for -start-at, if given, unless interrupted first.
func waitStart(cfg *config, interrupted <-chan struct{}) {
	if cfg.startAt.IsZero() {
		return
	}
	if d := time.Until(cfg.startAt); d > 0 {
		hold(d, interrupted)
	}
}

// watchRelease is closed at the first SIGUSR1 of a run with -linger,
// which ends the linger (or skips it, if it comes first); nil without.
// It is set up before the first connection, so that a SIGUSR1 never
// finds the process without a handler, which would end it.
func watchRelease(cfg *config) <-chan struct{} {
	if cfg.Linger <= 0 {
		return nil
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	release := make(chan struct{})
	go func() {
		<-sig
		close(release)
	}()
	return release
}

// linger keeps the connections open for d, or until SIGUSR1 or SIGINT.
func linger(d time.Duration, interrupted, release <-chan struct{}) {
	select {
	case <-time.After(d):
	case <-interrupted:
	case <-release:
	}
}

// notify creates -notify's file: every connection's round trips are done
// and the linger begins. A file that cannot be made leaves the linger to
// end by its time or SIGUSR1, and says why.
func notify(path string, stderr io.Writer) {
	if path == "" {
		return
	}
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		fmt.Fprintf(stderr, "client: -notify: %v\n", err)
	}
}

// hold waits d, or less if interrupted.
func hold(d time.Duration, interrupted <-chan struct{}) {
	select {
	case <-time.After(d):
	case <-interrupted:
	}
}

// live is what the progress line shows, read while the run goes on.
type live struct{ open, established, received, failed int64 }

func (r *runner) live() live {
	return live{r.open.Load(), r.established.Load(), r.received.Load(), r.failed.Load()}
}

// startProgress starts the progress line if asked for; the function it
// returns stops it.
func startProgress(cfg *config, stderr io.Writer, phase *atomic.Value, counts func() live) (stop func()) {
	if !cfg.showProgress {
		return func() {}
	}
	done := make(chan struct{})
	go progress(stderr, cfg.N, phase, counts, done)
	return func() { close(done) }
}

// init makes what the connections share: channels and histograms.
func (r *runner) init() {
	r.goCh = make(chan struct{})
	r.closeCh = make(chan struct{})
	shards := 4 * runtime.GOMAXPROCS(0)
	r.connectH, r.rttH, r.svcH = stats.NewSharded(shards), stats.NewSharded(shards), stats.NewSharded(shards)
	r.errs = newTally()
	r.idle.tally = newTally()
	r.counts = make([]int64, r.cfg.N)
}

// watchSignals calls onStop on SIGINT or SIGTERM, and closes the channel.
func watchSignals(onStop func()) (interrupted chan struct{}, stop func()) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	interrupted = make(chan struct{})
	go func() {
		if _, ok := <-sig; ok {
			onStop()
			close(interrupted)
		}
	}()
	return interrupted, func() { signal.Stop(sig) }
}

// rampUp starts the dialers and waits until every connection has
// connected or failed (and, under -procs, every other process too).
func (r *runner) rampUp() {
	n := r.cfg.N
	r.rampWG.Add(n)
	r.workWG.Add(n)
	r.wg.Add(n)
	var next atomic.Int64
	for range min(r.cfg.Dialers, n) {
		go r.dialer(&next)
	}
	r.rampWG.Wait()
}

// roundTrips runs the steady phase from start until every worker is done.
func (r *runner) roundTrips(start time.Time) {
	r.steadyStart = start
	if r.cfg.Duration > 0 {
		r.deadline = start.Add(r.cfg.Duration)
		r.windowStart = start.Add(r.cfg.Warmup)
	}
	r.pacerDone = make(chan struct{})
	if r.cfg.Rate > 0 {
		r.bells = make([]chan struct{}, r.cfg.N)
		for i := range r.bells {
			r.bells[i] = make(chan struct{}, 1)
		}
		go r.pace()
	} else {
		close(r.pacerDone)
	}
	close(r.goCh)
	r.workWG.Wait()
	r.workersDone.Store(true)
	<-r.pacerDone
}

// phaseTimes are the ends of the run's phases and the CPU used so far.
type phaseTimes struct {
	rampEnd, holdEnd, workEnd, end time.Time
	lingerStart, lingerEnd         time.Time
	ru0, ru1, ruW, ru2             rusage
}

// fill puts the phases' times and CPU into res and derives the figures.
func (t phaseTimes) fill(res *clientreport.Result, rampStart time.Time, interrupted bool) {
	res.ElapsedS = t.end.Sub(rampStart).Seconds()
	res.ConnectAllS = t.rampEnd.Sub(rampStart).Seconds()
	res.HoldS = t.holdEnd.Sub(t.rampEnd).Seconds()
	res.SteadyS = t.workEnd.Sub(t.holdEnd).Seconds()
	res.LingerS = t.lingerEnd.Sub(t.lingerStart).Seconds()
	res.UserCPUS = t.ru2.user - t.ru0.user
	res.SysCPUS = t.ru2.sys - t.ru0.sys
	res.SteadyCPUS = (t.ruW.user + t.ruW.sys) - (t.ru1.user + t.ru1.sys)
	res.SteadyUserCPUS = t.ruW.user - t.ru1.user
	res.Interrupted = interrupted
	res.Derive()
}

func progress(w io.Writer, n int, phase *atomic.Value, counts func() live, done chan struct{}) {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = isTerminal(f)
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var lastRT int64
	last := time.Now()
	for {
		select {
		case <-done:
			if tty {
				fmt.Fprint(w, "\r\x1b[K")
			}
			return
		case now := <-t.C:
			c := counts()
			rate := float64(c.received-lastRT) / now.Sub(last).Seconds()
			lastRT, last = c.received, now
			line := fmt.Sprintf("client: %-10s open %d, connected %d/%d, %.0f round trips/s, errors %d",
				phase.Load(), c.open, c.established, n, rate, c.failed)
			if tty {
				fmt.Fprint(w, "\r\x1b[K"+line)
			} else {
				fmt.Fprintln(w, line)
			}
		}
	}
}

type rusage struct{ user, sys float64 }

func getRusage() rusage {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return rusage{tv(ru.Utime), tv(ru.Stime)}
}
