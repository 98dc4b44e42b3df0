// Command ref_async_server is the kit's asynchronous reference: a TCP echo
// server with one goroutine per connection on the Go runtime's netpoller
// (epoll underneath), to set beside the C thread-per-connection server. It
// takes the same flags and prints the same report.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"tenkthreads/internal/membudget"
	"tenkthreads/internal/srvreport"
	"tenkthreads/internal/sysinfo"
)

const (
	prog  = "ref_async_server"
	usage = "usage: ref_async_server [-h] [-a addr] [-c maxconns] [-d delay] [-j file] [-m bytes] [-P procs] [-p port] [-t seconds] [-W work]"

	// fdReserve is what the start line keeps back from the fd limit for
	// stdio, the listener, the epoll fd and the JSON report.
	fdReserve = 10

	// The C server's ranges, so both reject the same values.
	maxProcs       = 256
	maxIdleTimeout = 86400

	// kernelStackTick is how often KernelStack is sampled for its peak:
	// threads that have exited by the report no longer hold theirs.
	kernelStackTick = 100 * time.Millisecond

	// pssSpacing: under -P, samples of the PSS sum start this many times
	// as far apart as the last one took (and at least kernelStackTick),
	// as in the C server, so sampling costs at most 1/pssSpacing of a core.
	pssSpacing = 20
)

type server struct {
	addr     string
	backlog  int64
	fdLimit  int64
	start    time.Time
	startRSS int64
	startPSS int64
	startKS  int64
	peakKS   atomic.Int64
	// reclaimed is when this process last returned freed heap to the
	// kernel for a refused connection (unix ns).
	reclaimed atomic.Int64
	jsonPath  string
	maxConns  int64         // -c; 0 for no cap
	idle      time.Duration // -t; 0 for none
	delay     time.Duration // -d: each read waits that long before its echo
	work      time.Duration // -W: CPU each read uses before its echo
	procs     int           // -P
	memArg    int64         // -m; 0 if not given
	mem       *membudget.Budget
	c         *shared
	workers   *workerSet // nil unless -P > 1

	// Machine-wide Slab and PageTables at start, for their growth since.
	startSlab, startPT int64
	// peakPSS and pssEveryMS are the sampled peak of the PSS sum under -P
	// and the spacing of the samples.
	peakPSS, pssEveryMS atomic.Int64
}

func main() {
	if i, ok := os.LookupEnv(workerEnv); ok {
		os.Exit(runWorker(i, os.Args[1:]))
	}
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	o, code := parseFlags(args)
	if o == nil {
		return code
	}
	fdLimit := raiseFDLimit()
	calibrateWork()
	startMem, _ := srvreport.ReadMeminfo()
	ln, err := listen(o.host, o.port)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
		return 1
	}
	s := newServer(o, ln.Addr().String(), fdLimit, startMem)
	// Before the workers and the start line: whoever reads it may signal us
	// at once.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGUSR1)
	if err := s.startProcs(ln); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
		return 1
	}
	if !s.writeJSON(s.build(srvreport.EventStart)) {
		s.workers.stop()
		return 1
	}
	go s.sampleKernelStack()
	if s.workers != nil {
		go s.samplePSS()
	}
	s.printStartLine()
	if s.workers == nil {
		go s.acceptLoop(ln)
	}
	return s.serveSignals(sigs)
}

// listen binds host:port. Like the C server: TCP_NODELAY (Go's default) and
// no keepalive probes, so both servers put the same work on the kernel per
// connection.
func listen(host string, port int) (net.Listener, error) {
	bindAddr := net.JoinHostPort(host, strconv.Itoa(port))
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(context.Background(), "tcp", bindAddr)
	if err != nil {
		return nil, errors.New(listenProblem(bindAddr, err))
	}
	if ta, ok := ln.Addr().(*net.TCPAddr); ok && !ta.IP.IsLoopback() {
		fmt.Fprintf(os.Stderr, "%s: warning: %s (bound as %s) is not a loopback address: anyone who can reach it can connect and hold goroutines\n",
			prog, host, ln.Addr())
	}
	return ln, nil
}

func newServer(o *options, addr string, fdLimit int64, startMem sysinfo.Meminfo) *server {
	s := &server{
		addr:      addr,
		backlog:   somaxconn(),
		fdLimit:   fdLimit,
		start:     time.Now(),
		startKS:   startMem.KernelStack,
		startSlab: startMem.Slab,
		startPT:   startMem.PageTables,
		jsonPath:  o.jsonPath,
		maxConns:  o.maxConns,
		idle:      o.idle,
		delay:     o.delay,
		work:      o.work,
		procs:     o.procs,
		memArg:    o.mem,
	}
	s.peakKS.Store(startMem.KernelStack)
	if ps, err := srvreport.ReadProcStatus(); err == nil {
		s.startRSS = ps.VmRSSKiB
	}
	s.startPSS, _ = srvreport.ReadPSS(os.Getpid())
	return s
}

// startProcs sets up the counters and, under -P, the worker processes that
// share them and the listening socket.
func (s *server) startProcs(ln net.Listener) error {
	if s.procs <= 1 {
		s.c = new(shared)
		return s.planBudget()
	}
	shm, err := newSharedFile()
	if err != nil {
		return err
	}
	defer shm.Close()
	if s.c, err = mapShared(shm); err != nil {
		return err
	}
	if err := s.planBudget(); err != nil {
		return err
	}
	if err := s.spawn(ln.(*net.TCPListener), shm); err != nil {
		return err
	}
	// The workers hold the socket now. Kept open here it would sit in
	// this process's netpoller and wake it on every new connection.
	ln.Close()
	return nil
}

func (s *server) printStartLine() {
	room := (s.fdLimit - fdReserve) * int64(s.procs)
	model := "goroutine"
	if s.procs > 1 {
		model += fmt.Sprintf(" in %d processes", s.procs)
	}
	// os.Stdout is unbuffered, so the start line is out before we accept.
	fmt.Printf("%s: listening on %s model %s%s, fd limit %d (room for ~%d connections)%s\n",
		prog, s.addr, model, s.budgetWords(), s.fdLimit, room, s.requestCost())
}

// serveSignals reports on SIGUSR1 and exits on SIGINT or SIGTERM, with the
// status to exit with.
func (s *server) serveSignals(sigs <-chan os.Signal) int {
	for sig := range sigs {
		if sig == syscall.SIGUSR1 {
			s.report(srvreport.EventReport)
			continue
		}
		// Exit without closing connections: the report is the figure at the
		// moment of the signal, and the kernel closes the sockets for us.
		ok := s.report(srvreport.EventExit)
		s.workers.stop()
		if !ok {
			return 1
		}
		return 0
	}
	return 0
}

// listenProblem words a listen failure like the C server's
// "bind 127.0.0.1:1234: Address already in use".
func listenProblem(addr string, err error) string {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return fmt.Sprintf("address %s: %s", dnsErr.Name, dnsErr.Err)
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		op := "listen"
		var oe *net.OpError
		if errors.As(err, &oe) {
			var se *os.SyscallError
			if errors.As(oe.Err, &se) {
				op = se.Syscall
			}
		}
		return fmt.Sprintf("%s %s: %s", op, addr, capitalize(errno.Error()))
	}
	return fmt.Sprintf("listen %s: %v", addr, err)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// raiseFDLimit lifts the soft RLIMIT_NOFILE to the hard limit, since every
// connection is a descriptor and the usual soft limit (1024) is far below 10K.
func raiseFDLimit() int64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		fmt.Fprintf(os.Stderr, "%s: getrlimit: %v\n", prog, err)
		return 0
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			fmt.Fprintf(os.Stderr, "%s: raising fd limit to %d: %v\n", prog, rl.Max, err)
			syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
		}
	}
	return int64(rl.Cur)
}

// somaxconn is the backlog Go's listen uses (it passes the system maximum).
func somaxconn() int64 {
	b, err := os.ReadFile("/proc/sys/net/core/somaxconn")
	if err != nil {
		return int64(syscall.SOMAXCONN)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n <= 0 {
		return int64(syscall.SOMAXCONN)
	}
	if n > 65535 { // the kernel truncates the backlog to 16 bits
		n = 65535
	}
	return n
}
