package main

import (
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// bufSize is the echo chunk. Buffers come from a pool and are held only
// while a connection has data to move, so idle connections cost none.
const bufSize = 16 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// acceptLoop never gives up: on an error it backs off (5 ms doubling to 1 s,
// as net/http does) so that EMFILE/ENFILE, which leave the listener readable,
// cannot turn into a busy loop.
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
				delay = 5 * time.Millisecond
			} else if delay *= 2; delay > time.Second {
				delay = time.Second
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

// admit counts a connection in, or refuses it when the -c cap is reached.
// Counting first and checking after keeps the cap exact when several
// processes accept at once, as the C server's conn_admit does.
func (s *server) admit() bool {
	c := s.c
	n := c.now.Add(1)
	if s.maxConns > 0 && n > s.maxConns {
		c.now.Add(-1)
		c.overCap.Add(1)
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

// echo copies every byte back until the peer's EOF, then closes. It waits for
// data through RawConn.Read with no buffer attached, and takes a buffer from
// the pool only when a read will return data: an idle connection then costs
// only its goroutine and socket, not a 16 KiB buffer each.
//
// With -t the connection is closed when a read has found nothing for that
// long, or a write has made no progress for that long (the peer does not
// read). Deadlines are armed lazily: the idle clock is a local timestamp
// taken when a wait begins, and a deadline that expires is moved to that
// timestamp plus the timeout unless the connection really was idle. A busy
// connection thus re-arms its runtime timer about once per timeout, not once
// per message, and costs one clock read per wait.
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
	idle := s.idle
	var (
		bp          *[]byte
		n, off      int
		rerr, werr  error
		waitSince   time.Time // when the current wait found nothing to do
		waitStarted bool      // waitSince is valid: no progress since
	)
	defer func() {
		if bp != nil {
			bufPool.Put(bp)
		}
	}()
	startWait := func() {
		if idle > 0 && !waitStarted {
			waitSince, waitStarted = time.Now(), true
		}
	}
	readable := func(fd uintptr) bool {
		if bp == nil {
			bp = bufPool.Get().(*[]byte)
		}
		for {
			n, rerr = syscall.Read(int(fd), *bp)
			if rerr != syscall.EINTR {
				break
			}
		}
		if rerr == syscall.EAGAIN {
			// Nothing to read: give the buffer back before we sleep.
			bufPool.Put(bp)
			bp = nil
			startWait()
			return false
		}
		waitStarted = false
		return true
	}
	writable := func(fd uintptr) bool {
		for off < n {
			k, err := syscall.Write(int(fd), (*bp)[off:n])
			switch err {
			case nil:
				off += k
				waitStarted = false
			case syscall.EINTR:
			case syscall.EAGAIN:
				startWait()
				return false
			default:
				werr = err
				return true
			}
		}
		return true
	}
	// expired decides, after a deadline error, whether the wait really
	// lasted the timeout; if not it moves the deadline and the wait goes on.
	expired := func(err error, set func(time.Time) error) bool {
		if idle == 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			s.countReset(err)
			return true
		}
		// A deadline can run out while the other direction is busy: the
		// wait in this one has not begun, so it begins now.
		startWait()
		d := waitSince.Add(idle)
		if !time.Now().Before(d) {
			s.c.timeouts.Add(1)
			return true
		}
		set(d)
		return false
	}
	if idle > 0 {
		conn.SetDeadline(time.Now().Add(idle))
	}
	for {
		if err := rc.Read(readable); err != nil {
			if expired(err, conn.SetReadDeadline) {
				return
			}
			continue
		}
		if rerr != nil {
			s.countReset(rerr)
			return
		}
		if n == 0 { // EOF: everything read so far has been written back
			return
		}
		// Counted before the write: a peer that has its echo must find
		// it in the next report. A write that fails takes it back.
		s.c.bytes.Add(int64(n))
		for off = 0; ; {
			err := rc.Write(writable)
			if err == nil {
				break
			}
			if expired(err, conn.SetWriteDeadline) {
				s.c.bytes.Add(-int64(n))
				return
			}
		}
		if werr != nil {
			s.c.bytes.Add(-int64(n))
			s.countReset(werr)
			return
		}
	}
}

func (s *server) countReset(err error) {
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		s.c.resets.Add(1)
	}
}
