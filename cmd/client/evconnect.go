package main

import (
	"net"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"tenkthreads/internal/stats"
)

// rampState is a loop's share of the ramp: its connections from next to
// end still to dial, at most limit of them in flight at once.
type rampState struct {
	active          bool
	rated           bool // -connect-rate slots apply
	next, end       int
	inflight, limit int
}

// endpoints are a loop's own socket addresses: unix.Sockaddr values
// keep a scratch copy inside, so loops must not share them.
type endpoints struct {
	family int
	target unix.Sockaddr
	srcs   []unix.Sockaddr
	srcIPs []net.IP
}

func newEndpoints(p *plan) endpoints {
	ep := endpoints{family: unix.AF_INET6, srcIPs: p.sources}
	if p.target.IP.To4() != nil {
		ep.family = unix.AF_INET
	}
	ep.target = sockaddr(p.target.IP, p.target.Port, p.target.Zone)
	for _, ip := range p.sources {
		ep.srcs = append(ep.srcs, sockaddr(ip, 0, ""))
	}
	return ep
}

func sockaddr(ip net.IP, port int, zone string) unix.Sockaddr {
	if ip4 := ip.To4(); ip4 != nil {
		sa := &unix.SockaddrInet4{Port: port}
		copy(sa.Addr[:], ip4)
		return sa
	}
	sa := &unix.SockaddrInet6{Port: port}
	copy(sa.Addr[:], ip.To16())
	if ifi, err := net.InterfaceByName(zone); zone != "" && err == nil {
		sa.ZoneId = uint32(ifi.Index)
	} else if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		sa.ZoneId = uint32(n)
	}
	return sa
}

// startRamp dials the loop's connections from..to, -dialers' share of
// them at a time, on -connect-rate's schedule if rated.
func (l *loop) startRamp(from, to int, rated bool) {
	l.ramp = rampState{active: true, rated: rated, next: from, end: to, limit: l.dialCap}
	l.busy = to - from
	l.dialMore(l.e.now())
}

// dialMore dials while the ramp has room and the next slot is due.
func (l *loop) dialMore(now int64) {
	r := &l.ramp
	if l.stopped {
		l.interruptRamp()
		return
	}
	for r.next < r.end && r.inflight < r.limit {
		c := &l.conns[r.next]
		if r.rated && l.e.slot(c.id) > now {
			return
		}
		r.next++
		r.inflight++
		l.dial(c)
	}
}

// interruptRamp fails the connections not yet dialled, as interrupted.
func (l *loop) interruptRamp() {
	for r := &l.ramp; r.active && r.next < r.end; r.next++ {
		l.fail(&l.conns[r.next], "connect", errInterrupted)
	}
}

// rampDue is when the ramp next wants to dial, if it waits for a slot.
func (l *loop) rampDue() (int64, bool) {
	r := &l.ramp
	if !r.active || !r.rated || r.next >= r.end || r.inflight >= r.limit {
		return 0, false
	}
	return l.e.slot(l.conns[r.next].id), true
}

// dial starts a non-blocking connect of c; the connection completes in
// connected, now or on its first event.
func (l *loop) dial(c *conn) {
	c.state = stConnecting
	c.start = l.e.now()
	fd, err := unix.Socket(l.ep.family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		l.fail(c, "connect", l.dialErr(c, "socket", err))
		return
	}
	c.fd = int32(fd)
	if call, err := l.prepareSocket(c); err != nil {
		l.fail(c, "connect", l.dialErr(c, call, err))
		return
	}
	cerr := l.sys.connect(fd, l.ep.target)
	switch cerr {
	case nil, unix.EINPROGRESS, unix.EINTR:
	default:
		l.fail(c, "connect", l.dialErr(c, "connect", cerr))
		return
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: c.idx, Pad: c.fd}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		l.fail(c, "connect", l.dialErr(c, "epoll_ctl", err))
		return
	}
	if cerr == nil {
		l.connected(c)
		return
	}
	l.dialing.push(l.conns, c)
}

// prepareSocket binds c's socket to its source address, leaving the port
// to connect, and turns Nagle off as Go's net package does; it names the
// call that failed.
func (l *loop) prepareSocket(c *conn) (string, error) {
	fd := int(c.fd)
	if len(l.ep.srcs) > 0 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1); err != nil {
			return "setsockopt", err
		}
		if err := unix.Bind(fd, l.ep.srcs[int(c.id)%len(l.ep.srcs)]); err != nil {
			return "bind", err
		}
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		return "setsockopt", err
	}
	return "", nil
}

// onConnect handles an event of a connection whose connect is in
// flight: an error or hang-up carries the connect's result in SO_ERROR,
// as Go's net package reads it; otherwise EPOLLOUT means connected.
func (l *loop) onConnect(c *conn, ev uint32) {
	if ev&(unix.EPOLLERR|unix.EPOLLHUP) != 0 {
		soerr, err := unix.GetsockoptInt(int(c.fd), unix.SOL_SOCKET, unix.SO_ERROR)
		if err == nil && soerr != 0 {
			err = unix.Errno(soerr)
		}
		if err == nil && ev&unix.EPOLLHUP != 0 {
			// A hang-up without an error: a socket that never
			// connected says so too; Go asks getpeername.
			_, err = unix.Getpeername(int(c.fd))
		}
		if err != nil {
			l.fail(c, "connect", l.dialErr(c, "connect", err))
			return
		}
	}
	if ev&unix.EPOLLOUT == 0 {
		return
	}
	if ev&(unix.EPOLLIN|unix.EPOLLRDHUP) != 0 {
		c.flags |= fPending
	}
	l.connected(c)
}

// connected counts c open and goes on: to its round trip when it
// reconnected for one, else it waits for the next phase.
func (l *loop) connected(c *conn) {
	l.dialing.remove(l.conns, c)
	stats.Record(l.st.connectH, l.e.now()-c.start)
	c.flags |= fOpen
	l.e.opened()
	if c.flags&fRound != 0 {
		c.flags &^= fRound
		l.send(c)
		return
	}
	l.ramp.inflight--
	c.state = stOpen
	l.busy--
	if c.flags&fIdle != 0 {
		l.st.idleEstablished++
	} else {
		l.st.established.Add(1)
	}
}

// dialErr is a failed connect as Go's net package words it.
func (l *loop) dialErr(c *conn, call string, err error) error {
	var src net.Addr
	if len(l.ep.srcIPs) > 0 {
		src = &net.TCPAddr{IP: l.ep.srcIPs[int(c.id)%len(l.ep.srcIPs)]}
	}
	if err != os.ErrDeadlineExceeded {
		err = os.NewSyscallError(call, err)
	}
	return &net.OpError{Op: "dial", Net: "tcp", Source: src, Addr: l.e.target, Err: err}
}

// opErr is a failed read or write as Go's net package words it.
func (l *loop) opErr(op string, err error) error {
	if err != os.ErrDeadlineExceeded {
		err = os.NewSyscallError(op, err)
	}
	return &net.OpError{Op: op, Net: "tcp", Addr: l.e.target, Err: err}
}
