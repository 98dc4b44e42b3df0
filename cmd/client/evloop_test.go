package main

// The event loop's own hazards, which the goroutine engine leaves to Go's
// netpoller: partial writes, connects that fail with EAGAIN or complete
// before connect returns, and 10,000 connections on one loop.

import (
	"fmt"
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"tenkthreads/internal/clientreport"
	"tenkthreads/internal/testkit"
)

// withSys gives the event loops made during the test the socket calls of
// mk (one set per loop, so each may keep state of its own).
func withSys(t *testing.T, mk func() sysOps) {
	old := loopSys
	loopSys = mk
	t.Cleanup(func() { loopSys = old })
}

func realSys() sysOps { return sysOps{read: unix.Read, write: unix.Write, connect: unix.Connect} }

// Writes that take at most 7 bytes, and after each such partial write a
// socket that says it is full: the message goes out as EPOLLOUT allows
// while its echo comes back.
func TestPartialWrites(t *testing.T) {
	var partial, full atomic.Int64
	withSys(t, func() sysOps {
		s, wasPartial := realSys(), map[int]bool{}
		s.write = func(fd int, p []byte) (int, error) {
			if wasPartial[fd] {
				wasPartial[fd] = false
				full.Add(1)
				return -1, unix.EAGAIN
			}
			n, err := unix.Write(fd, p[:min(len(p), 7)])
			if err == nil && n < len(p) {
				wasPartial[fd] = true
				partial.Add(1)
			}
			return n, err
		}
		return s
	})
	addr := testkit.Serve(t, testkit.Echo)
	o := runClient(t, engineEventLoop, "-host", addr, "-n", "4", "-rounds", "3", "-size", "100")
	r := result(t, o)
	if o.code != 0 || r.Verified != 4 || r.RoundTrips != 12 || r.BytesReceived != 1200 {
		t.Errorf("exit %d, %d verified, %d round trips, %d bytes back\n%s", o.code, r.Verified, r.RoundTrips, r.BytesReceived, o.stderr)
	}
	// 100 bytes 7 at a time: 14 partial writes per message, each
	// followed by a full socket.
	if p, f := partial.Load(), full.Load(); p != 12*14 || f != p {
		t.Errorf("%d partial writes, %d full sockets; want %d of each", p, f, 12*14)
	}
}

// Reads that return part of an echo are counted as they come: the echo
// arrives in 3-byte pieces.
func TestPartialReads(t *testing.T) {
	var partial atomic.Int64
	withSys(t, func() sysOps {
		s := realSys()
		s.read = func(fd int, p []byte) (int, error) {
			n, err := unix.Read(fd, p)
			if n > 0 && n < len(p) {
				partial.Add(1)
			}
			return n, err
		}
		return s
	})
	o := runClient(t, engineEventLoop, "-host", testkit.Serve(t, piecewiseEcho(-1)), "-n", "2", "-rounds", "2", "-size", "64")
	if o.code != 0 || num(t, o.res, "round_trips") != 4 {
		t.Errorf("exit %d, %v round trips\n%s", o.code, o.res["round_trips"], o.stderr)
	}
	if p := partial.Load(); p < 4 {
		t.Errorf("%d reads returned part of an echo; the pieces should give several per message", p)
	}
}

// A connect may fail with EAGAIN (no resources for it, on TCP), finish
// before connect returns, or report EINPROGRESS and finish with an event.
func TestConnectResults(t *testing.T) {
	addr := testkit.Serve(t, testkit.Echo)
	for _, tc := range []struct {
		name         string
		connect      func(calls int64, fd int, sa unix.Sockaddr) error
		fail, inProg int64
	}{
		{"EAGAIN on every second", func(calls int64, fd int, sa unix.Sockaddr) error {
			if calls%2 == 0 {
				return unix.EAGAIN
			}
			return unix.Connect(fd, sa)
		}, 3, 3},
		{"complete at once", connectAtOnce, 0, 0},
		{"EINPROGRESS", func(_ int64, fd int, sa unix.Sockaddr) error { return unix.Connect(fd, sa) }, 0, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls, inProg atomic.Int64
			withSys(t, func() sysOps {
				s := realSys()
				s.connect = func(fd int, sa unix.Sockaddr) error {
					err := tc.connect(calls.Add(1), fd, sa)
					if err == unix.EINPROGRESS {
						inProg.Add(1)
					}
					return err
				}
				return s
			})
			o := runClient(t, engineEventLoop, "-host", addr, "-n", "6", "-loops", "1")
			r := result(t, o)
			if r.Failed != tc.fail || r.Verified != 6-tc.fail || r.Errnos[clientreport.Other]["EAGAIN"] != tc.fail || r.Now != 0 || inProg.Load() != tc.inProg {
				t.Errorf("exit %d, %d failed (%v), %d verified, %d open at the end, %d EINPROGRESS; want %d failed with EAGAIN, %d EINPROGRESS",
					o.code, r.Failed, r.Errnos, r.Verified, r.Now, inProg.Load(), tc.fail, tc.inProg)
			}
		})
	}
}

// connectAtOnce connects and waits for the handshake, as if connect had
// completed before returning.
func connectAtOnce(_ int64, fd int, sa unix.Sockaddr) error {
	if err := unix.Connect(fd, sa); err != unix.EINPROGRESS {
		return err
	}
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	if _, err := unix.Poll(pfd, 5000); err != nil {
		return err
	}
	if soerr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil || soerr != 0 {
		return fmt.Errorf("connect: SO_ERROR %d, %v", soerr, err)
	}
	return nil
}

// 10,000 connections on a single loop, against an echo server that is
// one goroutine too (the race detector allows ~8,000 of them).
func Test10000OnOneLoop(t *testing.T) {
	const n = 10000
	if lim := testkit.FDHardLimit(t); lim < n+200 {
		t.Fatalf("the fd hard limit %d cannot hold %d server connections in the test", lim, n)
	}
	bin := buildClient(t)
	addr := serveEpollEcho(t)
	f := filepath.Join(t.TempDir(), "r.json")
	res := testkit.Run(t, runBound, bin, "-engine", "eventloop", "-loops", "1", "-quiet", "-host", addr,
		"-n", fmt.Sprint(n), "-rounds", "3", "-timeout", "60s", "-json", f)
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	r, err := clientreport.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	if r.Loops != 1 || r.Verified != n || r.MaxConc != n || r.RoundTrips != 3*n || r.PerConn.Min != 3 || r.Latency["connect"].Count != n {
		t.Errorf("%d loops, %d verified, %d at once, %d round trips, min %d per connection, %d connects",
			r.Loops, r.Verified, r.MaxConc, r.RoundTrips, r.PerConn.Min, r.Latency["connect"].Count)
	}
}

// serveEpollEcho is an echo server on 127.0.0.1 in one goroutine with an
// epoll instance of its own; it stops when the test ends.
func serveEpollEcho(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lf, err := ln.(*net.TCPListener).File()
	ln.Close()
	if err != nil {
		t.Fatal(err)
	}
	lfd := int(lf.Fd())
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	_ = unix.SetNonblock(lfd, true)
	_ = unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, lfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(lfd)})
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		echoLoop(ep, lfd, &stop)
	}()
	t.Cleanup(func() { stop.Store(true); <-done; unix.Close(ep); lf.Close() })
	return ln.Addr().String()
}

func echoLoop(ep, lfd int, stop *atomic.Bool) {
	events, buf := make([]unix.EpollEvent, 256), make([]byte, 4096)
	conns := map[int]bool{}
	defer func() {
		for fd := range conns {
			unix.Close(fd)
		}
	}()
	for !stop.Load() {
		n, _ := unix.EpollWait(ep, events, 50)
		for _, ev := range events[:max(n, 0)] {
			fd := int(ev.Fd)
			if fd == lfd {
				for {
					c, _, err := unix.Accept4(lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
					if err != nil {
						break
					}
					conns[c] = true
					_ = unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, c, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(c)})
				}
				continue
			}
			// The client's messages are small and lock-step: what is
			// read fits in the socket's send buffer at once.
			if m, err := unix.Read(fd, buf); m > 0 {
				_, _ = unix.Write(fd, buf[:m])
			} else if err != unix.EAGAIN {
				delete(conns, fd)
				unix.Close(fd)
			}
		}
	}
}
