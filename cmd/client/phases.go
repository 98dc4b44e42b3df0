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

// run drives one client process through its phases: ramp (every
// connection opened), hold (all idle), round trips, close.
func run(cfg *config, stderr io.Writer) (*clientreport.Result, error) {
	r, env, err := prepare(cfg)
	if err != nil {
		return nil, err
	}
	r.init()
	interrupted, stopSignals := r.watchSignals()
	defer stopSignals()
	if !cfg.startAt.IsZero() {
		if d := time.Until(cfg.startAt); d > 0 {
			select {
			case <-time.After(d):
			case <-interrupted:
			}
		}
	}
	phase := &atomic.Value{}
	phase.Store("connecting")
	var progDone chan struct{}
	if cfg.showProgress {
		progDone = make(chan struct{})
		go r.progress(stderr, phase, progDone)
	}
	var t phaseTimes
	t.ru0 = getRusage()
	r.rampStart = time.Now()
	r.rampIdle()
	r.rampUp()
	t.rampEnd = time.Now()
	if cfg.Hold > 0 && !r.stop.Load() {
		phase.Store("holding")
		select {
		case <-time.After(cfg.Hold):
		case <-interrupted:
		}
	}
	t.holdEnd, t.ru1 = time.Now(), getRusage()
	phase.Store("running")
	r.roundTrips(t.holdEnd)
	t.workEnd, t.ruW = time.Now(), getRusage()
	r.verifyIdle()
	if cfg.childBarrier {
		childBarrier(childWorkDoneFd, childCloseFd)
	}
	close(r.closeCh)
	r.wg.Wait()
	r.closeIdle()
	t.end, t.ru2 = time.Now(), getRusage()
	if progDone != nil {
		close(progDone)
	}
	return r.timedResult(env, t), nil
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

// watchSignals stops the run on SIGINT or SIGTERM; the channel closes then.
func (r *runner) watchSignals() (interrupted chan struct{}, stop func()) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	interrupted = make(chan struct{})
	go func() {
		if _, ok := <-sig; ok {
			r.stop.Store(true)
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
	if r.cfg.childBarrier {
		childBarrier(childReadyFd, childGoFd)
	}
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
	ru0, ru1, ruW, ru2             rusage
}

func (r *runner) timedResult(env *clientreport.Environment, t phaseTimes) *clientreport.Result {
	res := r.result(r.cfg, env)
	res.ElapsedS = t.end.Sub(r.rampStart).Seconds()
	res.ConnectAllS = t.rampEnd.Sub(r.rampStart).Seconds()
	res.HoldS = t.holdEnd.Sub(t.rampEnd).Seconds()
	res.SteadyS = t.workEnd.Sub(t.holdEnd).Seconds()
	res.UserCPUS = t.ru2.user - t.ru0.user
	res.SysCPUS = t.ru2.sys - t.ru0.sys
	res.SteadyCPUS = (t.ruW.user + t.ruW.sys) - (t.ru1.user + t.ru1.sys)
	res.Interrupted = r.stop.Load()
	res.Derive()
	return res
}

func (r *runner) progress(w io.Writer, phase *atomic.Value, done chan struct{}) {
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
			rt := r.received.Load()
			rate := float64(rt-lastRT) / now.Sub(last).Seconds()
			lastRT, last = rt, now
			line := fmt.Sprintf("client: %-10s open %d, connected %d/%d, %.0f round trips/s, errors %d",
				phase.Load(), r.open.Load(), r.established.Load(), r.cfg.N, rate, r.failed.Load())
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
