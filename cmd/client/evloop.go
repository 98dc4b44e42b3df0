package main

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// loop is one event loop: an OS thread with its own epoll instance and
// its own connections, idle ones first. Only its thread touches them;
// the coordinator hands it one phase at a time and reads its figures
// once it is done.
type loop struct {
	e       *evEngine
	epfd    int
	wakefd  int // an eventfd: the coordinator's way to wake the loop (SIGINT)
	ep      endpoints
	sys     sysOps
	conns   []conn
	nIdle   int
	dialCap int // connects in flight at once: this loop's share of -dialers
	events  []unix.EpollEvent
	scratch []byte // the loop's one receive buffer, for every connection
	ts      unix.Timespec
	cmds    chan phase

	dialing, inRound deadlineList
	pace             paceHeap
	ramp             rampState
	busy             int // connections still at work in this phase
	stopped          bool
	st               loopStats
}

// wakeTag marks the eventfd's epoll events; a connection's carry its index.
const wakeTag = -1

// Sizes of the loop's buffers, whatever its connections: one epoll_wait
// takes up to eventBatch events, one read up to scratchBytes.
const (
	eventBatch   = 512
	scratchBytes = 256 << 10
)

// sysOps are the socket calls whose rarer results the engine must cope
// with: partial writes, short reads, connects that do not complete at
// once. Tests put their own in loopSys.
type sysOps struct {
	read    func(fd int, p []byte) (int, error)
	write   func(fd int, p []byte) (int, error)
	connect func(fd int, sa unix.Sockaddr) error
}

var loopSys = func() sysOps { return sysOps{read: rawRead, write: rawWrite, connect: unix.Connect} }

// rawRead and rawWrite skip the scheduler's bookkeeping for a system
// call that may block: on a non-blocking socket they return at once.
func rawRead(fd int, p []byte) (int, error) { return rawIO(unix.SYS_READ, fd, p) }

func rawWrite(fd int, p []byte) (int, error) { return rawIO(unix.SYS_WRITE, fd, p) }

func rawIO(call uintptr, fd int, p []byte) (int, error) {
	var buf unsafe.Pointer
	if len(p) > 0 {
		buf = unsafe.Pointer(&p[0])
	}
	n, _, errno := unix.RawSyscall(call, uintptr(fd), uintptr(buf), uintptr(len(p)))
	if errno != 0 {
		return -1, errno
	}
	return int(n), nil
}

func newLoop(e *evEngine, i int) (*loop, error) {
	cfg := e.cfg
	l := &loop{
		e: e, epfd: -1, wakefd: -1, ep: newEndpoints(e.plan), sys: loopSys(),
		nIdle: share(cfg.Idle, e.nloops, i), dialCap: max(1, share(cfg.Dialers, e.nloops, i)),
		events: make([]unix.EpollEvent, eventBatch), scratch: make([]byte, min(scratchBytes, e.msgLen)),
		cmds:    make(chan phase),
		dialing: newDeadlineList(int64(cfg.ConnectTimeout)), inRound: newDeadlineList(int64(cfg.Timeout)),
		st: newLoopStats(),
	}
	active := share(cfg.N, e.nloops, i)
	l.conns = make([]conn, l.nIdle+active)
	for j := range l.conns {
		c := &l.conns[j]
		*c = conn{fd: -1, idx: int32(j), prev: -1, next: -1, id: int32(cfg.N + i + j*e.nloops)}
		if j < l.nIdle {
			c.flags = fIdle
		} else {
			c.id = int32(i + (j-l.nIdle)*e.nloops)
		}
	}
	if cfg.Rate > 0 {
		l.pace = make(paceHeap, 0, active)
	}
	var err error
	if l.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return l, fmt.Errorf("event loop: epoll_create1: %v", err)
	}
	if l.wakefd, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
		return l, fmt.Errorf("event loop: eventfd: %v", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: wakeTag}
	if err = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, l.wakefd, &ev); err != nil {
		return l, fmt.Errorf("event loop: epoll_ctl: %v", err)
	}
	return l, nil
}

// main is the loop's thread: it runs the phases the coordinator hands
// it, one at a time, until there are no more.
func (l *loop) main() {
	// Never unlocked: the thread ends with the loop, and its timer
	// slack with it.
	runtime.LockOSThread()
	// The default 50 µs slack of a thread's timers is larger than many
	// of the latencies measured; epoll_pwait2 honours this one.
	_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
	defer l.e.exited.Done()
	for ph := range l.cmds {
		l.runPhase(ph)
		l.e.done <- struct{}{}
	}
}

func (l *loop) runPhase(ph phase) {
	l.checkStop()
	switch ph {
	case phIdleRamp:
		l.startRamp(0, l.nIdle, false)
	case phRamp:
		l.startRamp(l.nIdle, len(l.conns), l.e.cfg.ConnectRate > 0)
	case phRounds:
		l.startRounds()
	case phVerifyIdle:
		l.startVerify()
	case phClose:
		for i := range l.conns {
			l.closeFd(&l.conns[i])
		}
		return
	}
	for l.busy > 0 {
		l.poll()
	}
	l.ramp.active = false
}

// startRounds sends the first message of every active connection that
// connected, or schedules it.
func (l *loop) startRounds() {
	l.busy = 0
	now := l.e.now()
	for i := l.nIdle; i < len(l.conns); i++ {
		c := &l.conns[i]
		if c.state == stOpen {
			l.busy++
			l.next(c, now)
		}
	}
}

// startVerify sends one message on every idle connection still open.
func (l *loop) startVerify() {
	l.busy = 0
	for i := range l.nIdle {
		c := &l.conns[i]
		if c.state == stOpen {
			l.busy++
			l.send(c)
		}
	}
}

// poll waits for events or the next timer and handles what is due.
func (l *loop) poll() {
	if l.checkStop(); l.busy == 0 {
		return
	}
	n, err := l.wait(l.timeout(l.e.now()))
	if err != nil && err != unix.EINTR {
		panic(fmt.Sprintf("event loop: epoll_pwait2: %v", err))
	}
	for i := range n {
		ev := &l.events[i]
		if ev.Fd == wakeTag {
			var b [8]byte
			_, _ = unix.Read(l.wakefd, b[:])
			continue
		}
		c := &l.conns[ev.Fd]
		if c.fd != ev.Pad {
			continue // closed since
		}
		switch c.state {
		case stConnecting:
			l.onConnect(c, ev.Events)
		case stRound:
			l.onRound(c, ev.Events)
		default:
			c.flags |= fPending
		}
	}
	l.expire(l.e.now())
}

// expire fails what timed out, sends what is due, dials what may be.
func (l *loop) expire(now int64) {
	for c, at := l.dialing.due(l.conns); c != nil && at <= now; c, at = l.dialing.due(l.conns) {
		l.fail(c, "connect", l.dialErr(c, "", errDeadline))
	}
	for c, at := l.inRound.due(l.conns); c != nil && at <= now; c, at = l.inRound.due(l.conns) {
		op := "read"
		if int(c.sent) < l.e.msgLen {
			op = "write"
		}
		l.fail(c, op, l.opErr(op, errDeadline))
	}
	// Sends due within earlyOK go out together, as a connection of the
	// goroutine engine sends when its slot is that close: one wake-up,
	// of the loop and of the server, for several messages.
	for len(l.pace) > 0 && l.pace[0].when-int64(earlyOK) <= now {
		c := &l.conns[l.pace.pop()]
		if l.stopped {
			l.finish(c)
			continue
		}
		l.begin(c)
	}
	if l.ramp.active {
		l.dialMore(now)
	}
}

// paceEarly is how long before its intended time a send is woken: about
// what waking takes. Its latency still runs from the intended time, or
// from the actual send when that is earlier.
const paceEarly = 20_000

// timeout is how long epoll may wait: until the earliest timer, or for
// ever (-1) when there is none.
func (l *loop) timeout(now int64) int64 {
	at, found := int64(0), false
	earliest := func(t int64) {
		if !found || t < at {
			at, found = t, true
		}
	}
	if c, t := l.dialing.due(l.conns); c != nil {
		earliest(t)
	}
	if c, t := l.inRound.due(l.conns); c != nil {
		earliest(t)
	}
	if len(l.pace) > 0 {
		earliest(l.pace[0].when - paceEarly)
	}
	if t, ok := l.rampDue(); ok {
		earliest(t)
	}
	if !found {
		return -1
	}
	return max(0, at-now)
}

// wait is epoll_pwait2, whose timeout is in nanoseconds where
// epoll_wait's whole milliseconds would blur the open loop's schedule.
// Kernels before 5.11 lack it; there the timeout rounds up to a ms.
func (l *loop) wait(timeout int64) (int, error) {
	var ts *unix.Timespec
	if timeout >= 0 {
		l.ts = unix.NsecToTimespec(timeout)
		ts = &l.ts
	}
	if !noPwait2.Load() {
		n, _, errno := unix.Syscall6(unix.SYS_EPOLL_PWAIT2, uintptr(l.epfd), uintptr(unsafe.Pointer(&l.events[0])),
			uintptr(len(l.events)), uintptr(unsafe.Pointer(ts)), 0, 0)
		if errno == 0 {
			return int(n), nil
		}
		if errno != unix.ENOSYS {
			return 0, errno
		}
		noPwait2.Store(true)
	}
	ms := -1
	if timeout >= 0 {
		ms = int((timeout + 999_999) / 1_000_000)
	}
	return unix.EpollWait(l.epfd, l.events, ms)
}

// checkStop notices SIGINT in the loop, once: connections not yet
// dialled fail as interrupted, those waiting for their next send stop
// there, none starts another; what is in flight finishes.
func (l *loop) checkStop() {
	if l.stopped || !l.e.stop.Load() {
		return
	}
	l.stopped = true
	l.interruptRamp()
	for len(l.pace) > 0 {
		l.finish(&l.conns[l.pace.pop()])
	}
}

// wake interrupts the loop's epoll_wait; any thread may call it.
func (l *loop) wake() {
	one := [8]byte{1}
	_, _ = unix.Write(l.wakefd, one[:])
}

// close releases the loop's descriptors once its thread has ended.
func (l *loop) close() {
	for i := range l.conns {
		l.closeFd(&l.conns[i])
	}
	for _, fd := range []int{l.epfd, l.wakefd} {
		if fd >= 0 {
			_ = unix.Close(fd)
		}
	}
}
