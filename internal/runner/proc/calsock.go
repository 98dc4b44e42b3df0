package proc

import (
	"errors"
	"syscall"
)

// socketTrial's units are the ends of connected loopback TCP sockets,
// n/2 connections. They are plain descriptors, outside Go's netpoller, so
// no epoll registration is counted with them.
func socketTrial(n int, before, after func()) (int, error) {
	before()
	fds, err := tcpPairs(n / 2)
	defer closeAll(fds)
	if err != nil {
		return 0, err
	}
	after()
	return len(fds), nil
}

// epollTrial's units are registrations in an epoll instance of n socket
// ends made before the baseline.
func epollTrial(n int, before, after func()) (int, error) {
	fds, err := tcpPairs(n / 2)
	defer closeAll(fds)
	if err != nil {
		return 0, err
	}
	before()
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return 0, err
	}
	defer syscall.Close(ep)
	for _, fd := range fds {
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(fd)}
		if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
			return 0, err
		}
	}
	after()
	return len(fds), nil
}

// tcpPairs connects n loopback TCP connections with blocking system
// calls and returns both ends of each; on error, the ends made so far.
func tcpPairs(n int) (fds []int, err error) {
	ln, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer syscall.Close(ln)
	if err := syscall.Bind(ln, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return nil, err
	}
	if err := syscall.Listen(ln, 128); err != nil {
		return nil, err
	}
	addr, err := syscall.Getsockname(ln)
	if err != nil {
		return nil, err
	}
	for i := 0; i < n; i++ {
		c, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			return fds, err
		}
		fds = append(fds, c)
		if err := syscall.Connect(c, addr); err != nil {
			return fds, err
		}
		s, _, err := syscall.Accept4(ln, syscall.SOCK_CLOEXEC)
		if err != nil {
			return fds, err
		}
		fds = append(fds, s)
	}
	if len(fds) == 0 {
		return nil, errors.New("no connection")
	}
	return fds, nil
}

// closeAll closes with a reset (SO_LINGER 0), so the calibration leaves
// no TIME_WAIT sockets behind to shrink the slab during the runs.
func closeAll(fds []int) {
	for _, fd := range fds {
		_ = syscall.SetsockoptLinger(fd, syscall.SOL_SOCKET, syscall.SO_LINGER, &syscall.Linger{Onoff: 1, Linger: 0})
		syscall.Close(fd)
	}
}
