package main

import (
	"bytes"

	"golang.org/x/sys/unix"

	"tenkthreads/internal/stats"
)

// conn is one connection of an event loop: a record of a few dozen bytes
// in its loop's slice, with no goroutine and no buffer. Its messages are
// windows of the shared payload, and its echo is compared with them as it
// arrives, through the loop's one scratch buffer.
type conn struct {
	k        int64 // round trips completed: the index of the current one
	start    int64 // ns on the engine's clock: connect began, or the message was sent
	intended int64 // ns: when the message was due (open loop)
	fd       int32 // -1 when closed
	id       int32 // payload window and fairness slot; idle ones count on from -n
	idx      int32 // place in the loop's slice
	sent     int32 // bytes of the current message written
	got      int32 // bytes of its echo read and verified
	prev     int32 // neighbours in a deadline list
	next     int32
	state    uint8
	flags    uint8
}

const (
	stNew        uint8 = iota // not dialled yet
	stConnecting              // connect in flight, under the connect timeout
	stOpen                    // connected, nothing to do in this phase
	stPacing                  // open loop: waiting in the heap for its next send
	stRound                   // a message in flight, under the round-trip timeout
	stDone                    // its part of this phase is over
)

const (
	fIdle    uint8 = 1 << iota // an -idle connection
	fOpen                      // connected and counted open
	fFailed                    // ended with an error
	fPending                   // the socket signalled while no echo was due
	fRound                     // reconnecting for a round trip (-reconnect)
	fListed                    // in a deadline list
)

// msg is the current message of c.
func (l *loop) msg(c *conn) []byte { return l.e.msg(int(c.id), int(c.k)) }

// next is the head of the goroutine engine's loop of round trips: decide
// whether connection c sends again, when, and send or wait.
func (l *loop) next(c *conn, now int64) {
	e, cfg := l.e, l.e.cfg
	if cfg.Rounds > 0 && c.k >= int64(cfg.Rounds) {
		l.finish(c)
		return
	}
	var intended int64
	if cfg.Rate > 0 {
		intended = e.intendedAt(c.id, c.k)
		switch {
		case e.hasDeadline && intended >= e.deadline:
			l.finish(c)
			return
		case e.hasDeadline && now >= e.deadline:
			// Behind schedule at the end: these sends never happened.
			l.st.missed += (e.deadline-intended)/e.interval + 1
			l.finish(c)
			return
		case intended-now > int64(earlyOK):
			c.intended, c.state = intended, stPacing
			l.pace.push(intended, c.idx)
			return
		case now-intended > e.interval:
			l.st.late++
		}
	} else if e.hasDeadline && now >= e.deadline {
		l.finish(c)
		return
	}
	if l.stopped {
		l.finish(c)
		return
	}
	c.intended = intended
	l.begin(c)
}

// begin starts c's round trip, on a new connection with -reconnect.
func (l *loop) begin(c *conn) {
	if l.e.cfg.Reconnect && c.k > 0 {
		l.closeFd(c)
		c.flags |= fRound
		l.dial(c)
		return
	}
	l.send(c)
}

// send writes c's message as far as the socket takes it; EPOLLOUT
// resumes the rest while the echo is read.
func (l *loop) send(c *conn) {
	now := l.e.now()
	c.start = now
	if l.e.cfg.Rate == 0 || now < c.intended {
		// Latency runs from the earlier of intended and actual send.
		c.intended = now
	}
	c.sent, c.got, c.state = 0, 0, stRound
	l.inRound.push(l.conns, c)
	if c.flags&fIdle == 0 {
		l.st.sent++
	}
	l.writeSome(c)
	if c.state == stRound && c.flags&fPending != 0 {
		// Edge-triggered: what the socket said while c was idle (the
		// peer closed, or sent unasked) will not be said again.
		c.flags &^= fPending
		l.readSome(c, true)
	}
}

// onRound handles an event of a connection with a message in flight.
func (l *loop) onRound(c *conn, ev uint32) {
	if ev&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) != 0 && int(c.sent) < l.e.msgLen {
		l.writeSome(c)
		if c.state != stRound {
			return
		}
	}
	if ev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLERR|unix.EPOLLHUP) != 0 {
		l.readSome(c, ev&(unix.EPOLLRDHUP|unix.EPOLLERR|unix.EPOLLHUP) != 0)
	}
}

// writeSome writes until the message is out or the socket is full.
func (l *loop) writeSome(c *conn) {
	m := l.msg(c)
	for int(c.sent) < len(m) {
		n, err := l.sys.write(int(c.fd), m[c.sent:])
		if n > 0 {
			c.sent += int32(n)
		}
		switch {
		case err == nil && n > 0, err == unix.EINTR:
		case err == unix.EAGAIN, err == nil:
			return // EPOLLOUT says when there is room again
		default:
			l.fail(c, "write", l.opErr("write", err))
			return
		}
	}
}

// readSome reads what the socket holds of c's echo and compares it. A
// short read means the socket is empty, and new data will be a new
// edge-triggered event; unless the peer's end (FIN, RST) came before the
// read: then only reading on finds it, so with ended it reads to EAGAIN.
func (l *loop) readSome(c *conn, ended bool) {
	m := l.msg(c)
	for {
		want := min(len(l.scratch), len(m)-int(c.got))
		n, err := l.sys.read(int(c.fd), l.scratch[:want])
		if n > 0 {
			if !l.verify(c, m, l.scratch[:n]) {
				return
			}
			if int(c.got) == len(m) {
				if ended {
					c.flags |= fPending // for the next message to find
				}
				l.roundDone(c)
				return
			}
			if n < want && !ended {
				return
			}
			continue
		}
		switch {
		case err == nil:
			l.fail(c, "read", &eofError{int(c.got), len(m)})
			return
		case err == unix.EAGAIN:
			return
		case err == unix.EINTR:
			continue
		}
		l.fail(c, "read", l.opErr("read", err))
		return
	}
}

// verify compares the echo bytes got with the message; false (and c
// failed) at the first byte that differs.
func (l *loop) verify(c *conn, m, got []byte) bool {
	want := m[c.got : int(c.got)+len(got)]
	if !bytes.Equal(got, want) {
		for i := range got {
			if got[i] != want[i] {
				l.fail(c, "read", &mismatchError{int(c.got) + i, len(m), got[i], want[i]})
				return false
			}
		}
	}
	c.got += int32(len(got))
	return true
}

// roundDone records c's completed round trip and goes on.
func (l *loop) roundDone(c *conn) {
	now := l.e.now()
	l.inRound.remove(l.conns, c)
	c.state = stOpen
	if c.flags&fIdle != 0 {
		l.finish(c)
		return
	}
	e := l.e
	stats.Record(l.st.rttH, now-c.intended)
	stats.Record(l.st.svcH, now-c.start)
	l.st.received.Add(1)
	c.k++
	if e.hasDeadline && now < e.deadline && now >= e.windowStart {
		l.st.inWindow++
	}
	l.next(c, now)
}

// finish ends c's work in this phase, verified. With -reconnect nothing
// holds the connection open afterwards.
func (l *loop) finish(c *conn) {
	c.state = stDone
	l.busy--
	if c.flags&fIdle != 0 {
		l.st.idleVerified++
		return
	}
	l.st.verified++
	if l.e.cfg.Reconnect {
		l.closeFd(c)
	}
}

// fail ends c's work with err, which the report counts in op's phase.
func (l *loop) fail(c *conn, op string, err error) {
	switch c.state {
	case stConnecting:
		l.dialing.remove(l.conns, c)
		if c.flags&fRound == 0 {
			l.ramp.inflight--
		}
	case stRound:
		l.inRound.remove(l.conns, c)
	}
	l.closeFd(c)
	c.flags = c.flags&^fRound | fFailed
	c.state = stDone
	l.busy--
	if c.flags&fIdle != 0 {
		l.st.idleFailed++
		l.st.idleErrs.add("idle "+op, err)
		return
	}
	l.st.failed.Add(1)
	l.st.errs.add(op, err)
}

// closeFd closes c's socket, if open.
func (l *loop) closeFd(c *conn) {
	if c.fd < 0 {
		return
	}
	_ = unix.Close(int(c.fd))
	c.fd = -1
	if c.flags&fOpen != 0 {
		c.flags &^= fOpen
		l.e.open.Add(-1)
	}
}
