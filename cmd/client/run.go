package main

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
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

// payloadSlack lets connections and rounds use different windows of one
// shared random buffer, so cross-talk between connections is detected
// without a buffer per connection.
const payloadSlack = 4096

type runner struct {
	cfg     *config
	raddr   string
	sources []net.IP
	dialers []net.Dialer
	msgLen  int
	base    []byte // payload source, shared read-only

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

	established, verified, open, peak, total atomic.Int64
	sent, received, late, missed             atomic.Int64
	inWindow                                 atomic.Int64 // received from windowStart to the deadline
	dialsDone, failed                        atomic.Int64
	stop, workersDone                        atomic.Bool

	bells     []chan struct{}
	pacerDone chan struct{}

	errs *tally
	// counts is each active connection's round trips, each written by
	// its connection's goroutine only and read once all have ended.
	counts []int64
	idle   idleSet
}

// msg returns the payload of round k on connection id.
func (r *runner) msg(id, k int) []byte {
	if r.cfg.Size == 0 {
		return r.base
	}
	off := (id*7919 + k*131) % payloadSlack
	return r.base[off : off+r.msgLen]
}

func (r *runner) fail(phase string, err error) {
	r.failed.Add(1)
	r.errs.add(phase, err)
}

func (r *runner) opened() {
	n := r.open.Add(1)
	r.total.Add(1)
	for {
		p := r.peak.Load()
		if n <= p || r.peak.CompareAndSwap(p, n) {
			return
		}
	}
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
			if err == io.EOF {
				err = &eofError{got, len(msg)}
			}
			if werr != nil {
				c.Close() // unblocks the writer
				<-werr
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

// connsFlags names the connections asked for: "-n N", with "-idle I".
func connsFlags(cfg *config) string {
	if cfg.Idle > 0 {
		return fmt.Sprintf("-n %d with -idle %d", cfg.N, cfg.Idle)
	}
	return fmt.Sprintf("-n %d", cfg.N)
}

// prepare checks limits and resolves everything before the first dial, so
// that impossible runs fail with one clear line instead of half-way.
func prepare(cfg *config) (*runner, *clientreport.Environment, error) {
	env := &clientreport.Environment{}
	soft, hard, err := raiseNofile()
	if err != nil {
		return nil, nil, fmt.Errorf("raise the open-file limit: %v", err)
	}
	env.FdSoft, env.FdHard = soft, hard
	conns := uint64(cfg.N) + uint64(cfg.Idle)
	need := conns + fdSlack
	if need > soft {
		procs := (conns + soft - fdSlack - 1) / (soft - fdSlack)
		return nil, nil, fmt.Errorf("%s needs ~%d open files but the hard limit is %d; spread it with -procs %d, run several clients and `client merge` their JSON, or raise `ulimit -Hn`", connsFlags(cfg), need, hard, procs)
	}
	ta, err := net.ResolveTCPAddr("tcp", cfg.Host)
	if err != nil {
		return nil, nil, fmt.Errorf("-host %s: %v", cfg.Host, err)
	}
	r := &runner{cfg: cfg, raddr: ta.String()}
	switch {
	case cfg.Source == "off":
	case cfg.Source != "":
		if r.sources, err = parseSources(cfg.Source); err != nil {
			return nil, nil, err
		}
	case ta.IP.To4() != nil && ta.IP.IsLoopback():
		r.sources, _ = parseSources(fmt.Sprintf("%s-127.0.0.%d", autoSourceFirst, 1+autoSourceCount))
	}
	lo, hi := portRange()
	env.PortLo, env.PortHi = lo, hi
	ports := int64(hi - lo + 1)
	nsrc := int64(max(1, len(r.sources)))
	if int64(conns) > ports*nsrc {
		return nil, nil, fmt.Errorf("%s needs %d source ports towards %s but %d source address(es) x %d ephemeral ports (%d-%d) allow only %d; add addresses with -source", connsFlags(cfg), conns, r.raddr, nsrc, ports, lo, hi, ports*nsrc)
	}
	if len(r.sources) == 0 {
		r.dialers = []net.Dialer{{Timeout: cfg.ConnectTimeout, KeepAlive: -1}}
	} else {
		for _, ip := range r.sources {
			r.dialers = append(r.dialers, net.Dialer{
				Timeout:   cfg.ConnectTimeout,
				KeepAlive: -1,
				LocalAddr: &net.TCPAddr{IP: ip},
				Control:   noPortControl,
			})
		}
	}
	if cfg.Size > 0 {
		r.msgLen = cfg.Size
		r.base = make([]byte, cfg.Size+payloadSlack)
		rng := rand.New(rand.NewPCG(cfg.Seed, 0x10c))
		for i := range r.base {
			r.base[i] = byte(rng.Uint32())
		}
	} else {
		r.msgLen = len(cfg.Data)
		r.base = []byte(cfg.Data)
	}
	return r, env, nil
}

func (r *runner) result(cfg *config, env *clientreport.Environment) *clientreport.Result {
	fillEnv(env)
	res := clientreport.New()
	res.Target = r.raddr
	res.StartedAt = r.rampStart.UTC().Format(time.RFC3339Nano)
	res.Config = clientreport.Config{
		N: cfg.N, Host: cfg.Host, MessageBytes: r.msgLen, RandomPayload: cfg.Size > 0,
		Rounds: cfg.Rounds, DurationS: cfg.Duration.Seconds(), HoldS: cfg.Hold.Seconds(),
		Rate: cfg.Rate, Reconnect: cfg.Reconnect, ConnectRate: cfg.ConnectRate,
		ConnectTimeoutS: cfg.ConnectTimeout.Seconds(), TimeoutS: cfg.Timeout.Seconds(),
		Dialers: cfg.Dialers, StartAt: cfg.StartAt, Sources: []string{}, Procs: cfg.Procs, Idle: cfg.Idle,
		WarmupS: cfg.Warmup.Seconds(),
	}
	for _, s := range r.sources {
		res.Config.Sources = append(res.Config.Sources, s.String())
	}
	res.SourceDesc = describeSources(r.sources)
	res.Environment = *env
	res.Requested = int64(cfg.N)
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
	res.Rate.RequestedPerS = cfg.Rate
	res.Rate.LateSends = r.late.Load()
	res.Rate.MissedSends = r.missed.Load()
	for c, n := range r.errs.errs {
		res.Errors[c] = n
	}
	res.Errnos = r.errs.errns
	res.Examples = append(r.errs.examples(), r.idle.tally.examples()...)
	res.PerConn = clientreport.NewPerConn(r.counts)
	res.Idle = r.idle.report(cfg.Idle)
	res.Hists = map[string]*hdr.Histogram{
		"connect": r.connectH.Snapshot(),
		"rtt":     r.rttH.Snapshot(),
		"service": r.svcH.Snapshot(),
	}
	return res
}
