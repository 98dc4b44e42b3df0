package main

import (
	"fmt"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"tenkthreads/internal/clientreport"
)

// tally counts failed connections by error class and errno name, and
// keeps the first message of each class as an example.
type tally struct {
	mu      sync.Mutex
	errs    map[string]int64
	errns   map[string]map[string]int64
	example map[string]string
}

func newTally() *tally {
	return &tally{errs: map[string]int64{}, errns: map[string]map[string]int64{}, example: map[string]string{}}
}

func (t *tally) add(phase string, err error) {
	cls, name := classify(phase, err)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.errs[cls]++
	if t.errns[cls] == nil {
		t.errns[cls] = map[string]int64{}
	}
	t.errns[cls][name]++
	if _, ok := t.example[cls]; !ok {
		t.example[cls] = fmt.Sprintf("%s: %v", phase, err)
	}
}

// merge adds o's counts into t, keeping t's examples where both have one.
func (t *tally) merge(o *tally) {
	o.mu.Lock()
	defer o.mu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	for c, n := range o.errs {
		t.errs[c] += n
	}
	for c, names := range o.errns {
		if t.errns[c] == nil {
			t.errns[c] = map[string]int64{}
		}
		for name, n := range names {
			t.errns[c][name] += n
		}
	}
	for c, ex := range o.example {
		if _, ok := t.example[c]; !ok {
			t.example[c] = ex
		}
	}
}

// examples is one "class: phase: message" line per class seen, sorted.
func (t *tally) examples() []string {
	classes := make([]string, 0, len(t.example))
	for c := range t.example {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	var out []string
	for _, c := range classes {
		out = append(out, c+": "+t.example[c])
	}
	return out
}

// idleSet is -idle: connections opened before the active ones, kept open
// and idle for the whole run (the keep-alive sockets of a real client),
// and each verified with one echo once the active ones are done, so the
// report shows whether the server still served them.
type idleSet struct {
	conns                 []net.Conn // nil where a connect or the echo failed
	established, verified atomic.Int64
	failed                atomic.Int64
	tally                 *tally
}

// idleID is the payload window of idle connection i: after the active
// connections' ids, so no two connections send the same bytes.
func (r *runner) idleID(i int) int { return r.cfg.N + i }

// rampIdle opens the idle connections, -dialers at a time, before any
// active one, and waits until each has connected or failed.
func (r *runner) rampIdle() {
	s := &r.idle
	s.conns = make([]net.Conn, r.cfg.Idle)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(r.cfg.Dialers, r.cfg.Idle) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < r.cfg.Idle; i = int(next.Add(1) - 1) {
				if r.stop.Load() {
					s.fail("idle connect", errInterrupted)
					continue
				}
				c, err := r.dial(r.idleID(i))
				if err != nil {
					s.fail("idle connect", err)
					continue
				}
				s.established.Add(1)
				s.conns[i] = c
			}
		}()
	}
	wg.Wait()
}

func (s *idleSet) fail(phase string, err error) {
	s.failed.Add(1)
	s.tally.add(phase, err)
}

// verifyIdle sends one message on every idle connection at once and
// checks its echo within -timeout; a connection that fails is closed.
func (r *runner) verifyIdle() {
	s := &r.idle
	if r.stop.Load() {
		return
	}
	var wg sync.WaitGroup
	for i, c := range s.conns {
		if c == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := r.msg(r.idleID(i), 0)
			phase, err := "write", c.SetDeadline(time.Now().Add(r.cfg.Timeout))
			if err == nil {
				phase, err = roundTrip(c, m, make([]byte, min(r.msgLen, readChunk)))
			}
			if err != nil {
				s.fail("idle "+phase, err)
				r.closeConn(c)
				s.conns[i] = nil
				return
			}
			s.verified.Add(1)
		}()
	}
	wg.Wait()
}

// closeIdle closes the idle connections still open.
func (r *runner) closeIdle() {
	for i, c := range r.idle.conns {
		if c != nil {
			r.closeConn(c)
			r.idle.conns[i] = nil
		}
	}
}

// report is the idle connections' part of the report.
func (s *idleSet) report(requested int) clientreport.Idle {
	out := clientreport.Idle{
		Requested: int64(requested), Established: s.established.Load(), Verified: s.verified.Load(),
		Failed: s.failed.Load(), Errors: map[string]int64{}, Errnos: s.tally.errns,
	}
	for _, c := range clientreport.Classes {
		out.Errors[c] = s.tally.errs[c]
	}
	return out
}
