package main

import (
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"tenkthreads/internal/clientreport"
	"tenkthreads/internal/stats"
)

// loopStats are one loop's counters and histograms, written by its thread
// only; the progress line reads the atomic ones while it runs, the
// coordinator the rest once it has ended.
type loopStats struct {
	established, received, failed atomic.Int64

	verified, sent, late, missed, inWindow    int64
	idleEstablished, idleVerified, idleFailed int64
	connectH, rttH, svcH                      *hdr.Histogram
	errs, idleErrs                            *tally
}

func newLoopStats() loopStats {
	return loopStats{connectH: stats.New(), rttH: stats.New(), svcH: stats.New(), errs: newTally(), idleErrs: newTally()}
}

func (e *evEngine) live() live {
	c := live{open: e.open.Load()}
	for _, l := range e.loops {
		c.established += l.st.established.Load()
		c.received += l.st.received.Load()
		c.failed += l.st.failed.Load()
	}
	return c
}

// part is the loop's share of the report, as a process's is of a merge:
// its counts and its own histograms, with no times of its own.
func (l *loop) part() *clientreport.Result {
	st := &l.st
	p := &clientreport.Result{
		Requested:        int64(len(l.conns) - l.nIdle),
		Established:      st.established.Load(),
		Verified:         st.verified,
		Failed:           st.failed.Load(),
		Sent:             st.sent,
		RoundTrips:       st.received.Load(),
		WindowRoundTrips: st.inWindow,
		Errors:           st.errs.errs,
		Errnos:           st.errs.errns,
		Rate:             clientreport.Rate{LateSends: st.late, MissedSends: st.missed},
		Idle: clientreport.Idle{
			Requested: int64(l.nIdle), Established: st.idleEstablished, Verified: st.idleVerified,
			Failed: st.idleFailed, Errors: st.idleErrs.errs, Errnos: st.idleErrs.errns,
		},
		Hists: map[string]*hdr.Histogram{"connect": st.connectH, "rtt": st.rttH, "service": st.svcH},
	}
	p.InFlightLost = p.Sent - p.RoundTrips
	p.BytesSent = p.Sent * int64(l.e.msgLen)
	p.BytesReceived = p.RoundTrips * int64(l.e.msgLen)
	counts := make([]int64, 0, p.Requested)
	for _, c := range l.conns[l.nIdle:] {
		counts = append(counts, c.k)
	}
	p.PerConn = clientreport.NewPerConn(counts)
	return p
}

// result merges the loops' parts into this process's report: counters
// and histograms add up as -procs adds processes; connections open are
// counted across the loops as they opened.
func (e *evEngine) result(env *clientreport.Environment, rampStart time.Time) (*clientreport.Result, error) {
	res := e.newResult(env, rampStart)
	errs, idleErrs := newTally(), newTally()
	for _, l := range e.loops {
		if err := res.AddPart(l.part()); err != nil {
			return nil, err
		}
		errs.merge(l.st.errs)
		idleErrs.merge(l.st.idleErrs)
	}
	res.MaxConc, res.Total, res.Now = e.peak.Load(), e.total.Load(), e.open.Load()
	res.Examples = append(errs.examples(), idleErrs.examples()...)
	return res, nil
}
