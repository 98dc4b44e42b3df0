package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"tenkthreads/internal/clientreport"
	"tenkthreads/internal/stats"
)

// Messages above this size are written from a second goroutine: a
// lock-step writer that does not read could otherwise deadlock with a
// server blocked writing the echo back into our full receive buffer.
const bigMessage = 32 << 10

// readChunk bounds the per-connection read buffer, so 10K connections with
// large messages do not need 10K message-sized buffers.
const readChunk = 16 << 10

// runner is the goroutine engine: a goroutine per connection, on Go's
// net package and its netpoller.
type runner struct {
	*plan
	dialers []net.Dialer

	rampWG  sync.WaitGroup
	workWG  sync.WaitGroup
	wg      sync.WaitGroup
	goCh    chan struct{}
	closeCh chan struct{}

	rampStart   time.Time
	steadyStart time.Time
	deadline    time.Time
	// windowStart is -warmup into the steady phase: the window figures
	// count the round trips completed from it to the deadline.
	windowStart time.Time

	connectH, rttH, svcH *stats.Sharded

	openCount
	established, verified        atomic.Int64
	sent, received, late, missed atomic.Int64
	inWindow                     atomic.Int64 // received from windowStart to the deadline
	dialsDone, failed            atomic.Int64
	stop, workersDone            atomic.Bool

	bells     []chan struct{}
	pacerDone chan struct{}

	errs *tally
	// counts is each active connection's round trips, each written by
	// its connection's goroutine only and read once all have ended.
	counts []int64
	idle   idleSet
}

func (r *runner) fail(phase string, err error) {
	r.failed.Add(1)
	r.errs.add(phase, err)
}

func (r *runner) dial(id int) (net.Conn, error) {
	d := &r.dialers[id%len(r.dialers)]
	t0 := time.Now()
	c, err := d.Dial("tcp", r.raddr)
	if err != nil {
		return nil, err
	}
	r.connectH.Record(id, int64(time.Since(t0)))
	r.opened()
	return c, nil
}

func (r *runner) closeConn(c net.Conn) {
	c.Close()
	r.open.Add(-1)
}

// dialer opens connections, each time the next id, until all N are
// taken; -dialers of them run at once. The ramp dials from these few
// long-lived goroutines, whose stacks have grown once to what a dial
// needs, rather than from each connection's own new goroutine: there
// the stack grew by copying during the first dial, which took about a
// fifth of the client's CPU while 100,000 connections ramped up.
func (r *runner) dialer(next *atomic.Int64) {
	for {
		id := int(next.Add(1) - 1)
		if id >= r.cfg.N {
			return
		}
		if r.cfg.ConnectRate > 0 {
			slot := r.rampStart.Add(time.Duration(float64(id) / r.cfg.ConnectRate * 1e9))
			if d := time.Until(slot); d > 0 {
				time.Sleep(d)
			}
		}
		var c net.Conn
		err := errInterrupted
		if !r.stop.Load() {
			c, err = r.dial(id)
		}
		r.dialsDone.Add(1)
		if err != nil {
			r.workWG.Done()
			r.wg.Done()
			r.fail("connect", err)
		} else {
			r.established.Add(1)
			go r.serve(id, c)
		}
		r.rampWG.Done()
	}
}

// serve is one connection's life after its connect: the round trips once
// every connection is open, then the close once every one has verified.
func (r *runner) serve(id int, c net.Conn) {
	defer r.wg.Done()
	<-r.goCh
	ok := r.work(id, &c)
	r.workWG.Done()
	if ok {
		r.verified.Add(1)
	}
	if c != nil {
		// A connection that accepted and echoed proves the server holds
		// it; keeping all open until every one has done so is what makes
		// the server's own peak reach N (the kernel completes connects
		// before the server accepts them). With -reconnect there is no
		// such N to hold, and a last connection kept open would block a
		// server that serves a bounded number at a time.
		if !r.cfg.Reconnect {
			<-r.closeCh
		}
		r.closeConn(c)
	}
}

var errInterrupted = fmt.Errorf("interrupted before connecting")

// work runs the round trips of one connection; true if all verified.
// A failed connection is closed at once and *cp set to nil.
func (r *runner) work(id int, cp *net.Conn) bool {
	c := *cp
	defer func() { *cp = c }()
	fail := func(phase string, err error) bool {
		r.fail(phase, err)
		if c != nil {
			r.closeConn(c)
			c = nil
		}
		return false
	}
	buf := make([]byte, min(r.msgLen, readChunk))
	rounds := r.cfg.Rounds
	hasDeadline := r.cfg.Duration > 0
	openLoop := r.cfg.Rate > 0
	var interval time.Duration
	if openLoop {
		interval = time.Duration(float64(r.cfg.N) / r.cfg.Rate * 1e9)
	}
	for k := 0; rounds == 0 || k < rounds; k++ {
		var intended time.Time
		now := time.Now()
		if openLoop {
			intended = r.intendedAt(id, k)
			if hasDeadline && !intended.Before(r.deadline) {
				break
			}
			if hasDeadline && !now.Before(r.deadline) {
				// Behind schedule at the end: these sends never happened.
				r.missed.Add(int64(r.deadline.Sub(intended)/interval) + 1)
				break
			}
			if intended.Sub(now) > 0 {
				r.waitSlot(id, intended)
			} else if now.Sub(intended) > interval {
				r.late.Add(1)
			}
		} else if hasDeadline && !now.Before(r.deadline) {
			break
		}
		if r.stop.Load() {
			break
		}
		if r.cfg.Reconnect && k > 0 {
			r.closeConn(c)
			c = nil
			nc, err := r.dial(id)
			if err != nil {
				return fail("connect", err)
			}
			c = nc
		}
		m := r.msg(id, k)
		t0 := time.Now()
		if !openLoop || t0.Before(intended) {
			// Latency runs from the earlier of intended and actual send.
			intended = t0
		}
		if err := c.SetDeadline(t0.Add(r.cfg.Timeout)); err != nil {
			return fail("write", err)
		}
		r.sent.Add(1)
		if phase, err := roundTrip(c, m, buf); err != nil {
			return fail(phase, err)
		}
		done := time.Now()
		r.rttH.Record(id, int64(done.Sub(intended)))
		r.svcH.Record(id, int64(done.Sub(t0)))
		r.received.Add(1)
		r.counts[id]++
		if hasDeadline && done.Before(r.deadline) && !done.Before(r.windowStart) {
			r.inWindow.Add(1)
		}
	}
	return true
}

// roundTrip writes msg and reads the echo back, comparing as it reads.
func roundTrip(c net.Conn, msg, buf []byte) (phase string, err error) {
	var werr chan error
	if len(msg) > bigMessage {
		werr = make(chan error, 1)
		go func() {
			_, err := c.Write(msg)
			werr <- err
		}()
	} else if _, err := c.Write(msg); err != nil {
		return "write", err
	}
	got := 0
	for got < len(msg) {
		want := min(len(buf), len(msg)-got)
		n, err := c.Read(buf[:want])
		if n > 0 {
			if !bytes.Equal(buf[:n], msg[got:got+n]) {
				for i := 0; i < n; i++ {
					if buf[i] != msg[got+i] {
						return "read", &mismatchError{got + i, len(msg), buf[i], msg[got+i]}
					}
				}
			}
			got += n
		}
		if err != nil && got < len(msg) {
			eof := err == io.EOF
			if eof {
				err = &eofError{got, len(msg)}
			}
			if werr != nil {
				c.Close() // unblocks the writer
				// A reset is reported once: to the writer, when it
				// came first, and the reader then sees only EOF.
				if wErr := <-werr; eof && wErr != nil && !errors.Is(wErr, net.ErrClosed) {
					return "write", wErr
				}
			}
			return "read", err
		}
	}
	if werr != nil {
		if err := <-werr; err != nil {
			return "write", err
		}
	}
	return "", nil
}

// newRunner makes the goroutine engine's dialers: one per source address.
func newRunner(p *plan) *runner {
	r := &runner{plan: p}
	if len(p.sources) == 0 {
		r.dialers = []net.Dialer{{Timeout: p.cfg.ConnectTimeout, KeepAlive: -1}}
		return r
	}
	for _, ip := range p.sources {
		r.dialers = append(r.dialers, net.Dialer{
			Timeout:   p.cfg.ConnectTimeout,
			KeepAlive: -1,
			LocalAddr: &net.TCPAddr{IP: ip},
			Control:   noPortControl,
		})
	}
	return r
}

func (r *runner) result(env *clientreport.Environment, rampStart time.Time) (*clientreport.Result, error) {
	res := r.newResult(env, rampStart)
	res.Requested = int64(r.cfg.N)
	res.Established = r.established.Load()
	res.Verified = r.verified.Load()
	res.MaxConc = r.peak.Load()
	res.Total = r.total.Load()
	res.Now = r.open.Load()
	res.Failed = r.failed.Load()
	res.Sent = r.sent.Load()
	res.RoundTrips = r.received.Load()
	res.WindowRoundTrips = r.inWindow.Load()
	res.InFlightLost = res.Sent - res.RoundTrips
	res.BytesSent = res.Sent * int64(r.msgLen)
	res.BytesReceived = res.RoundTrips * int64(r.msgLen)
	res.Rate.LateSends = r.late.Load()
	res.Rate.MissedSends = r.missed.Load()
	for c, n := range r.errs.errs {
		res.Errors[c] = n
	}
	res.Errnos = r.errs.errns
	res.Examples = append(r.errs.examples(), r.idle.tally.examples()...)
	res.PerConn = clientreport.NewPerConn(r.counts)
	res.Idle = r.idle.report(r.cfg.Idle)
	res.Hists = map[string]*hdr.Histogram{
		"connect": r.connectH.Snapshot(),
		"rtt":     r.rttH.Snapshot(),
		"service": r.svcH.Snapshot(),
	}
	return res, nil
}
