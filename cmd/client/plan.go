package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"time"

	"tenkthreads/internal/clientreport"
)

// payloadSlack lets connections and rounds use different windows of one
// shared random buffer, so cross-talk between connections is detected
// without a buffer per connection.
const payloadSlack = 4096

// openCount counts the connections open, at most at once, and in total.
type openCount struct{ open, peak, total atomic.Int64 }

func (o *openCount) opened() {
	n := o.open.Add(1)
	o.total.Add(1)
	for {
		p := o.peak.Load()
		if n <= p || o.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

// plan is what both engines share, resolved once before the first
// connect: the target, the source addresses, the payload.
type plan struct {
	cfg     *config
	raddr   string
	target  *net.TCPAddr
	sources []net.IP
	msgLen  int
	base    []byte // payload source, shared read-only
	// loops is the event loops of -engine eventloop (0 for goroutine).
	loops int
}

// msg returns the payload of round k on connection id.
func (p *plan) msg(id, k int) []byte {
	if p.cfg.Size == 0 {
		return p.base
	}
	off := (id*7919 + k*131) % payloadSlack
	return p.base[off : off+p.msgLen]
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
func prepare(cfg *config) (*plan, *clientreport.Environment, error) {
	env := &clientreport.Environment{}
	soft, hard, err := raiseNofile()
	if err != nil {
		return nil, nil, fmt.Errorf("raise the open-file limit: %v", err)
	}
	env.FdSoft, env.FdHard = soft, hard
	p := &plan{cfg: cfg}
	if cfg.Engine == engineEventLoop {
		if p.loops, err = loopCount(cfg.Loops); err != nil {
			return nil, nil, err
		}
	}
	conns := uint64(cfg.N) + uint64(cfg.Idle)
	// Each event loop holds an epoll instance and an eventfd.
	slack := uint64(fdSlack + 2*p.loops)
	if need := conns + slack; need > soft {
		procs := (conns + soft - slack - 1) / (soft - slack)
		return nil, nil, fmt.Errorf("%s needs ~%d open files but the hard limit is %d; spread it with -procs %d, run several clients and `client merge` their JSON, or raise `ulimit -Hn`", connsFlags(cfg), need, hard, procs)
	}
	ta, err := net.ResolveTCPAddr("tcp", cfg.Host)
	if err != nil {
		return nil, nil, fmt.Errorf("-host %s: %v", cfg.Host, err)
	}
	p.target, p.raddr = ta, ta.String()
	switch {
	case cfg.Source == "off":
	case cfg.Source != "":
		if p.sources, err = parseSources(cfg.Source); err != nil {
			return nil, nil, err
		}
	case ta.IP.To4() != nil && ta.IP.IsLoopback():
		p.sources, _ = parseSources(fmt.Sprintf("%s-127.0.0.%d", autoSourceFirst, 1+autoSourceCount))
	}
	for _, ip := range p.sources {
		if (ip.To4() == nil) != (ta.IP.To4() == nil) {
			return nil, nil, fmt.Errorf("-source %s: cannot reach %s, an address of the other IP version", ip, p.raddr)
		}
	}
	lo, hi := portRange()
	env.PortLo, env.PortHi = lo, hi
	ports := int64(hi - lo + 1)
	nsrc := int64(max(1, len(p.sources)))
	if int64(conns) > ports*nsrc {
		return nil, nil, fmt.Errorf("%s needs %d source ports towards %s but %d source address(es) x %d ephemeral ports (%d-%d) allow only %d; add addresses with -source", connsFlags(cfg), conns, p.raddr, nsrc, ports, lo, hi, ports*nsrc)
	}
	if cfg.Size > 0 {
		p.msgLen = cfg.Size
		p.base = make([]byte, cfg.Size+payloadSlack)
		rng := rand.New(rand.NewPCG(cfg.Seed, 0x10c))
		for i := range p.base {
			p.base[i] = byte(rng.Uint32())
		}
	} else {
		p.msgLen = len(cfg.Data)
		p.base = []byte(cfg.Data)
	}
	return p, env, nil
}

// newResult starts this process's report with what both engines fill
// the same way: the target, the configuration, the environment.
func (p *plan) newResult(env *clientreport.Environment, rampStart time.Time) *clientreport.Result {
	cfg := p.cfg
	fillEnv(env)
	res := clientreport.New()
	res.Target = p.raddr
	res.StartedAt = rampStart.UTC().Format(time.RFC3339Nano)
	res.Config = clientreport.Config{
		N: cfg.N, Host: cfg.Host, MessageBytes: p.msgLen, RandomPayload: cfg.Size > 0,
		Rounds: cfg.Rounds, DurationS: cfg.Duration.Seconds(), HoldS: cfg.Hold.Seconds(), LingerS: cfg.Linger.Seconds(),
		Rate: cfg.Rate, Reconnect: cfg.Reconnect, ConnectRate: cfg.ConnectRate,
		ConnectTimeoutS: cfg.ConnectTimeout.Seconds(), TimeoutS: cfg.Timeout.Seconds(),
		Dialers: cfg.Dialers, StartAt: cfg.StartAt, Sources: []string{}, Procs: cfg.Procs, Idle: cfg.Idle,
		WarmupS: cfg.Warmup.Seconds(),
	}
	for _, s := range p.sources {
		res.Config.Sources = append(res.Config.Sources, s.String())
	}
	res.SourceDesc = describeSources(p.sources)
	res.Environment = *env
	res.Rate.RequestedPerS = cfg.Rate
	res.Engine, res.Loops = cfg.Engine, p.loops
	return res
}
