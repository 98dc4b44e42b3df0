package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"

	"tenkthreads/internal/clientreport"
)

// ipBindAddressNoPort is IP_BIND_ADDRESS_NO_PORT from linux/in.h; the
// syscall package does not export it. With it, bind() to a source address
// leaves port choice to connect(), which then only needs the 4-tuple to be
// unique, so source binding does not cap us at one port range in total.
const ipBindAddressNoPort = 24

// fdSlack covers stdio, the netpoller and the report file.
const fdSlack = 10

// raiseNofile lifts the soft fd limit to the hard one and returns both.
func raiseNofile() (soft, hard uint64, err error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, 0, err
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			return 0, 0, err
		}
	}
	return rl.Cur, rl.Max, nil
}

// portRange reads the kernel's ephemeral port range.
func portRange() (lo, hi int) {
	lo, hi = 32768, 60999
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return
	}
	f := strings.Fields(string(b))
	if len(f) == 2 {
		l, e1 := strconv.Atoi(f[0])
		h, e2 := strconv.Atoi(f[1])
		if e1 == nil && e2 == nil && l <= h {
			return l, h
		}
	}
	return
}

// autoSources is the default spread for loopback IPv4 targets: 32 addresses
// give ~900K source ports per destination, far beyond what the TIME_WAIT
// sockets of back-to-back 10K runs occupy.
const autoSourceFirst, autoSourceCount = "127.0.0.2", 32

// parseSources parses "A,B-C,..." where B-C is an inclusive IPv4 range.
func parseSources(s string) ([]net.IP, error) {
	var out []net.IP
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a := net.ParseIP(strings.TrimSpace(lo))
		if a == nil {
			return nil, fmt.Errorf("-source: %q is not an IP address", lo)
		}
		if !isRange {
			out = append(out, a)
			continue
		}
		b := net.ParseIP(strings.TrimSpace(hi))
		if b == nil {
			return nil, fmt.Errorf("-source: %q is not an IP address", hi)
		}
		a4, b4 := a.To4(), b.To4()
		if a4 == nil || b4 == nil {
			return nil, fmt.Errorf("-source: ranges are only supported for IPv4 (%q)", part)
		}
		x, y := binary.BigEndian.Uint32(a4), binary.BigEndian.Uint32(b4)
		if y < x {
			return nil, fmt.Errorf("-source: range %q ends before it starts", part)
		}
		if y-x >= 1<<16 {
			return nil, fmt.Errorf("-source: range %q has more than 65536 addresses", part)
		}
		for v := x; ; v++ {
			ip := make(net.IP, 4)
			binary.BigEndian.PutUint32(ip, v)
			out = append(out, ip)
			if v == y {
				break
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("-source: empty list")
	}
	return out, nil
}

// describeSources renders a source list compactly for the report.
func describeSources(src []net.IP) string {
	switch len(src) {
	case 0:
		return "kernel-chosen source address"
	case 1:
		return "source " + src[0].String()
	}
	return fmt.Sprintf("%d source addresses (%s-%s)", len(src), src[0], src[len(src)-1])
}

func noPortControl(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// Error classes, as the report names them.
const (
	clsRefused   = clientreport.Refused
	clsReset     = clientreport.Reset
	clsTimeout   = clientreport.Timeout
	clsMismatch  = clientreport.Mismatch
	clsFdLimit   = clientreport.FdLimit
	clsAddrInUse = clientreport.AddrInUse
	clsEOF       = clientreport.EOF
	clsOther     = clientreport.Other
)

var errnoNames = map[syscall.Errno]string{
	syscall.ECONNREFUSED:  "ECONNREFUSED",
	syscall.ECONNRESET:    "ECONNRESET",
	syscall.ECONNABORTED:  "ECONNABORTED",
	syscall.EPIPE:         "EPIPE",
	syscall.ETIMEDOUT:     "ETIMEDOUT",
	syscall.EMFILE:        "EMFILE",
	syscall.ENFILE:        "ENFILE",
	syscall.EADDRINUSE:    "EADDRINUSE",
	syscall.EADDRNOTAVAIL: "EADDRNOTAVAIL",
	syscall.ENETUNREACH:   "ENETUNREACH",
	syscall.EHOSTUNREACH:  "EHOSTUNREACH",
	syscall.ENOBUFS:       "ENOBUFS",
	syscall.ENOMEM:        "ENOMEM",
	syscall.EAGAIN:        "EAGAIN",
	syscall.EINVAL:        "EINVAL",
	syscall.EACCES:        "EACCES",
	syscall.EPERM:         "EPERM",
}

// mismatchError is an echo that differs from what was sent.
type mismatchError struct {
	offset, length int
	got, want      byte
}

func (e *mismatchError) Error() string {
	return fmt.Sprintf("echo mismatch at byte %d of %d (got 0x%02x, want 0x%02x)", e.offset, e.length, e.got, e.want)
}

// eofError is a server closing before the whole echo arrived.
type eofError struct{ got, length int }

func (e *eofError) Error() string {
	return fmt.Sprintf("server closed the connection after %d of %d echo bytes", e.got, e.length)
}

// classify maps an error to its class and a short name (an errno name
// where there is one) for the per-class breakdown.
func classify(phase string, err error) (class, name string) {
	var me *mismatchError
	var ee *eofError
	var en syscall.Errno
	switch {
	case errors.As(err, &me):
		return clsMismatch, "byte differs"
	case errors.As(err, &ee), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return clsEOF, "EOF during " + phase
	case errors.As(err, &en):
		n, ok := errnoNames[en]
		if !ok {
			n = fmt.Sprintf("errno %d", int(en))
		}
		switch en {
		case syscall.ECONNREFUSED:
			return clsRefused, n
		case syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE:
			return clsReset, n
		case syscall.ETIMEDOUT:
			return clsTimeout, n
		case syscall.EMFILE, syscall.ENFILE:
			return clsFdLimit, n
		case syscall.EADDRINUSE, syscall.EADDRNOTAVAIL:
			return clsAddrInUse, n
		}
		return clsOther, n
	case errors.Is(err, os.ErrDeadlineExceeded):
		return clsTimeout, phase + " deadline"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return clsTimeout, phase + " deadline"
	}
	return clsOther, err.Error()
}

// portCapacity is how many connections to one destination the source
// addresses allow: one ephemeral port range per source address.
func portCapacity(cfg *config) int64 {
	lo, hi := portRange()
	n := int64(1)
	if cfg.Source != "" && cfg.Source != "off" {
		if src, err := parseSources(cfg.Source); err == nil {
			n = int64(len(src))
		}
	} else if cfg.Source == "" {
		if ta, err := net.ResolveTCPAddr("tcp", cfg.Host); err == nil && ta.IP.To4() != nil && ta.IP.IsLoopback() {
			n = autoSourceCount
		}
	}
	return n * int64(hi-lo+1)
}
