package main

import (
	"errors"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"syscall"
	"time"
)

// bufSize is the echo chunk. Buffers come from a pool and are held only
// while a connection has data to move, so idle connections cost none.
const bufSize = 16 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// Accept backoff: the C server's (net.c), so that both count accept errors
// at the same pace while they are short of descriptors.
const (
	acceptBackoffFirst = 10 * time.Millisecond
	acceptBackoffMax   = time.Second
)

// acceptLoop never gives up: on an error it backs off (10 ms doubling to
// 1 s) so that EMFILE/ENFILE, which leave the listener readable, cannot
// turn into a busy loop. Every error it sees is an accept error: Go's
// runtime has already retried EINTR, EAGAIN and ECONNABORTED, which the C
// server does not count either.
func (s *server) acceptLoop(ln net.Listener) {
	var delay time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.c.acceptErrors.Add(1)
			if delay == 0 {
				delay = acceptBackoffFirst
			} else if delay *= 2; delay > acceptBackoffMax {
				delay = acceptBackoffMax
			}
			time.Sleep(delay)
			continue
		}
		delay = 0
		if !s.admit() {
			conn.Close()
			continue
		}
		go s.echo(conn.(*net.TCPConn))
	}
}

// admit counts a connection in, or refuses it when the -c cap or the
// memory budget is reached; the smaller of the two refuses first.
// Counting first and checking after keeps both exact when several
// processes accept at once, as the C server's conn_admit does; memory in
// use is checked before the count, so that a refused connection never
// counts in.
func (s *server) admit() bool {
	c := s.c
	if s.mem.Full() && !s.reclaim() {
		c.overBudget.Add(1)
		return false
	}
	n := c.now.Add(1)
	if s.maxConns > 0 && n > s.maxConns {
		c.now.Add(-1)
		c.overCap.Add(1)
		return false
	}
	if s.mem.Over(n) {
		c.now.Add(-1)
		c.overBudget.Add(1)
		return false
	}
	c.total.Add(1)
	for {
		m := c.maxConc.Load()
		if n <= m || c.maxConc.CompareAndSwap(m, n) {
			return true
		}
	}
}

// echoConn is one connection being echoed. It waits for data through
// RawConn.Read with no buffer attached, and takes a buffer from the pool
// only when a read will return data: an idle connection then costs only
// its goroutine and socket, not a 16 KiB buffer each.
//
// With -t the connection is closed when a read has found nothing for that
// long, or a write has made no progress for that long (the peer does not
// read). Deadlines are armed lazily: the idle clock is a local timestamp
// taken when a wait begins, and a deadline that expires is moved to that
// timestamp plus the timeout unless the connection really was idle. A busy
// connection thus re-arms its runtime timer about once per timeout, not once
// per message, and costs one clock read per wait.
type echoConn struct {
	s    *server
	conn *net.TCPConn
	rc   syscall.RawConn
	idle time.Duration
	// readable and writable as func values, made once per connection.
	readFn, writeFn func(uintptr) bool

	bp          *[]byte
	n, off      int // bytes read into *bp, and written back so far
	rerr, werr  error
	waitSince   time.Time // when the current wait found nothing to do
	waitStarted bool      // waitSince is valid: no progress since
}

// echo copies every byte back until the peer's EOF, then closes.
func (s *server) echo(conn *net.TCPConn) {
	// Count the connection out before closing it: the peer sees EOF only
	// after, so a client that connects again sees an exact Now and Max conc.
	defer func() {
		s.c.now.Add(-1)
		conn.Close()
	}()
	rc, err := conn.SyscallConn()
	if err != nil {
		return
	}
	e := &echoConn{s: s, conn: conn, rc: rc, idle: s.idle}
	e.readFn, e.writeFn = e.readable, e.writable
	defer e.putBuf()
	if e.idle > 0 {
		conn.SetDeadline(time.Now().Add(e.idle))
	}
	for e.read() {
		s.request()
		if !e.write() {
			break
		}
	}
}

func (e *echoConn) putBuf() {
	if e.bp != nil {
		bufPool.Put(e.bp)
		e.bp = nil
	}
}

func (e *echoConn) startWait() {
	if e.idle > 0 && !e.waitStarted {
		e.waitSince, e.waitStarted = time.Now(), true
	}
}

// readable is the RawConn.Read callback: false to wait for data.
func (e *echoConn) readable(fd uintptr) bool {
	if e.bp == nil {
		e.bp = bufPool.Get().(*[]byte)
	}
	for {
		e.n, e.rerr = syscall.Read(int(fd), *e.bp)
		if e.rerr != syscall.EINTR {
			break
		}
	}
	if e.rerr == syscall.EAGAIN {
		// Nothing to read: give the buffer back before we sleep.
		e.putBuf()
		e.startWait()
		return false
	}
	e.waitStarted = false
	return true
}

// writable is the RawConn.Write callback: false to wait for room.
func (e *echoConn) writable(fd uintptr) bool {
	for e.off < e.n {
		k, err := syscall.Write(int(fd), (*e.bp)[e.off:e.n])
		switch err {
		case nil:
			e.off += k
			e.waitStarted = false
		case syscall.EINTR:
		case syscall.EAGAIN:
			e.startWait()
			return false
		default:
			e.werr = err
			return true
		}
	}
	return true
}

// expired decides, after a wait ended in err, whether the connection ends:
// on an error, or on a deadline that has really lasted the timeout. If it
// has not, it moves the deadline and the wait goes on.
func (e *echoConn) expired(err error, set func(time.Time) error) bool {
	if e.idle == 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		e.s.connFailed(err)
		return true
	}
	// A deadline can run out while the other direction is busy: the
	// wait in this one has not begun, so it begins now.
	e.startWait()
	d := e.waitSince.Add(e.idle)
	if !time.Now().Before(d) {
		e.s.c.timeouts.Add(1)
		return true
	}
	set(d)
	return false
}

// read waits for data and reads it; false when the connection ends
// (EOF: everything read so far has been written back).
func (e *echoConn) read() bool {
	for {
		err := e.rc.Read(e.readFn)
		if err == nil {
			break
		}
		if e.expired(err, e.conn.SetReadDeadline) {
			return false
		}
	}
	if e.rerr != nil {
		e.s.connFailed(e.rerr)
		return false
	}
	return e.n > 0
}

// write echoes what read got; false when the connection ends. The bytes
// are counted before the write, so a peer that has its echo finds it in
// the next report, and what the write fails to send is taken back: the
// C server's bytes echoed.
func (e *echoConn) write() bool {
	e.s.c.bytes.Add(int64(e.n))
	for e.off = 0; ; {
		err := e.rc.Write(e.writeFn)
		if err == nil {
			break
		}
		if e.expired(err, e.conn.SetWriteDeadline) {
			e.s.c.bytes.Add(-int64(e.n - e.off))
			return false
		}
	}
	if e.werr != nil {
		e.s.c.bytes.Add(-int64(e.n - e.off))
		e.s.connFailed(e.werr)
		return false
	}
	return true
}

// connFailed counts a connection that ends because a read or write on it
// failed, as the C server's conn_failed does: whatever the errno
// (ECONNRESET, EPIPE, ETIMEDOUT, EHOSTUNREACH), the peer reset it or
// vanished. An expired -t deadline is a timeout, counted by expired, and
// an error that is not the socket's (the runtime's own) counts as neither.
func (s *server) connFailed(err error) {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		s.c.resets.Add(1)
	}
}

// reclaim returns the heap's freed pages to the kernel, at most every
// reclaimEvery, and says whether memory is then below the budget's line.
// The budget reads resident memory, and Go keeps freed pages for reuse:
// without this, a burst of connections could leave the server refusing
// new ones long after those closed.
func (s *server) reclaim() bool {
	now, last := time.Now().UnixNano(), s.reclaimed.Load()
	if now-last < int64(reclaimEvery) || !s.reclaimed.CompareAndSwap(last, now) {
		return false
	}
	debug.FreeOSMemory()
	return !s.mem.Full()
}

// reclaimEvery bounds what refused connections can cost in collections.
const reclaimEvery = 100 * time.Millisecond
