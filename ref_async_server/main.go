// Command ref_async_server is the kit's asynchronous reference: a TCP echo
// server with one goroutine per connection on the Go runtime's netpoller
// (epoll underneath), to set beside the C thread-per-connection server. It
// takes the same flags and prints the same report.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
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
	jsonPath string
	maxConns int64         // -c; 0 for no cap
	idle     time.Duration // -t; 0 for none
	delay    time.Duration // -d: each read waits that long before its echo
	work     time.Duration // -W: CPU each read uses before its echo
	procs    int           // -P
	memArg   int64         // -m; 0 if not given
	mem      *membudget.Budget
	c        *shared
	workers  *workerSet // nil unless -P > 1

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

func usageErr(format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "%s: %s\n%s\n", prog, fmt.Sprintf(format, args...), usage)
	return 2
}

type options struct {
	host, jsonPath string
	port           int
	maxConns       int64
	idle           time.Duration
	delay, work    time.Duration
	procs          int
	mem            int64
}

// parseFlags returns nil and the exit status when the server must not run.
func parseFlags(args []string) (*options, int) {
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	// The flag package's own messages are multi-line; we print one line.
	fs.SetOutput(io.Discard)
	addrFlag := fs.String("a", "127.0.0.1", "listen address")
	portFlag := fs.String("p", "1234", "port, 0 = kernel picks")
	jsonFlag := fs.String("j", "", "also write the report as JSON to this file")
	capFlag := fs.String("c", "", "cap on concurrent connections")
	idleFlag := fs.String("t", "", "idle timeout in seconds")
	procsFlag := fs.String("P", "1", "processes sharing the listening socket")
	memFlag := fs.String("m", "", "memory limit")
	delayFlag := fs.String("d", "0s", "wait before each echo")
	workFlag := fs.String("W", "0s", "CPU work before each echo")
	help := fs.Bool("h", false, "print usage and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp()
			return nil, 0
		}
		return nil, usageErr("%s", flagProblem(err))
	}
	if *help {
		printHelp()
		return nil, 0
	}
	if fs.NArg() > 0 {
		return nil, usageErr("unexpected argument %q", fs.Arg(0))
	}
	o := &options{jsonPath: *jsonFlag}
	port, err := strconv.Atoi(*portFlag)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, usageErr("-p %q: port must be a number 0..65535", *portFlag)
	}
	if err != nil || port < 0 || port > 65535 {
		return nil, usageErr("-p %s: port out of range 0..65535", *portFlag)
	}
	o.port = port
	if *capFlag != "" {
		v, problem := strtonum(*capFlag, 1, 1<<63-1)
		if problem != "" {
			return nil, usageErr("-c %s: connection cap is %s", *capFlag, problem)
		}
		o.maxConns = v
	}
	if *idleFlag != "" {
		v, problem := strtonum(*idleFlag, 1, maxIdleTimeout)
		if problem != "" {
			return nil, usageErr("-t %s: idle timeout is %s (1-%d seconds)", *idleFlag, problem, maxIdleTimeout)
		}
		o.idle = time.Duration(v) * time.Second
	}
	v, problem := strtonum(*procsFlag, 1, maxProcs)
	if problem != "" {
		return nil, usageErr("-P %s: processes is %s (1-%d)", *procsFlag, problem, maxProcs)
	}
	o.procs = int(v)
	mSet := false
	fs.Visit(func(f *flag.Flag) { mSet = mSet || f.Name == "m" })
	if mSet {
		if o.mem, problem = memLimit(*memFlag); problem != "" {
			return nil, usageErr("-m %s: %s", *memFlag, problem)
		}
	}
	if problem := o.setRequestCost(*delayFlag, *workFlag); problem != "" {
		return nil, usageErr("%s", problem)
	}
	o.host = strings.TrimSuffix(strings.TrimPrefix(*addrFlag, "["), "]")
	if o.host == "" {
		return nil, usageErr("-a: empty address")
	}
	if o.jsonPath != "" {
		if st, err := os.Stat(o.jsonPath); err == nil && st.IsDir() {
			return nil, usageErr("-j %s: is a directory", o.jsonPath)
		}
	}
	return o, 0
}

// strtonum parses a decimal integer in [lo, hi] and words a failure as
// OpenBSD's strtonum(3) does, which the C server uses.
func strtonum(s string, lo, hi int64) (int64, string) {
	v, err := strconv.ParseInt(s, 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange) && strings.HasPrefix(s, "-"):
		return 0, "too small"
	case errors.Is(err, strconv.ErrRange):
		return 0, "too large"
	case err != nil:
		return 0, "invalid"
	case v < lo:
		return 0, "too small"
	case v > hi:
		return 0, "too large"
	}
	return v, ""
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

func printHelp() {
	fmt.Println(usage)
	fmt.Printf(`  -a ADDR   listen address (default 127.0.0.1; IPv6 literals such as ::1 work)
  -c MAX    cap on concurrent connections; beyond it new ones are accepted
            and closed at once (default: no cap)
  -d DELAY  each read waits that long before its echo, like a call to a
            backend, using no CPU: 500us, 10ms, 1s (default 0)
  -j FILE   also write the report as JSON (schema 10kthreads-server/1) to FILE
  -m BYTES  memory limit, k/m/g suffixes, instead of the memory cgroup's;
            connections beyond its budget are accepted and closed at once
            (default: the cgroup's limit, if any)
  -P N      run N processes that share the listening socket, to hold more
            connections than one process's fd limit (1-%d, default 1)
  -p PORT   listen port (default 1234; 0 lets the kernel pick, see the start line)
  -t SECS   close connections idle that long: nothing read, or a write
            blocked because the peer does not read (1-%d; default: never)
  -W WORK   each read uses that much CPU first, then waits -d, then is
            echoed: 500us, 10ms, 1s (default 0)
  -h        print this help and exit
SIGINT/SIGTERM print the report and exit 0; SIGUSR1 prints it and keeps serving.
`, maxProcs, maxIdleTimeout)
}

// flagProblem turns the flag package's error into the contract's one-line form.
func flagProblem(err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		return "unknown flag " + name
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: "); ok {
		return "flag " + name + " needs an argument"
	}
	return msg
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

// sampleKernelStack keeps the peak of the system's KernelStack, which the
// figure at report time misses once short-lived threads have gone.
func (s *server) sampleKernelStack() {
	t := time.NewTicker(kernelStackTick)
	defer t.Stop()
	for range t.C {
		ks, err := srvreport.ReadKernelStack()
		if err != nil {
			continue
		}
		for {
			p := s.peakKS.Load()
			if ks <= p || s.peakKS.CompareAndSwap(p, ks) {
				break
			}
		}
	}
}

// samplePSS keeps the peak of the PSS sum of this process and its -P
// workers: no kernel counter keeps one for a group, and by the exit
// report the connections' memory is gone. Samples start pssSpacing times
// as far apart as the last one took, and at least kernelStackTick apart.
func (s *server) samplePSS() {
	for {
		t0 := time.Now()
		s.pssSample()
		every := max(kernelStackTick, pssSpacing*time.Since(t0))
		s.pssEveryMS.Store(every.Milliseconds())
		time.Sleep(time.Until(t0.Add(every)))
	}
}

// pssSample adds one sample to the peak.
func (s *server) pssSample() {
	sum, _ := srvreport.ReadPSS(os.Getpid())
	for _, pid := range s.workers.live() {
		if v, err := srvreport.ReadPSS(pid); err == nil {
			sum += v
		}
	}
	s.raisePSS(sum)
}

// raisePSS raises the peak to sum; a report's sum is a sample too.
func (s *server) raisePSS(sum int64) {
	for {
		p := s.peakPSS.Load()
		if sum <= p || s.peakPSS.CompareAndSwap(p, sum) {
			return
		}
	}
}

var reportMu sync.Mutex

// build gathers a report across all processes.
func (s *server) build(event string) srvreport.Report {
	goroutines := int64(runtime.NumGoroutine())
	for i := 0; i < s.procs && s.workers != nil; i++ {
		goroutines += s.c.goroutines[i].Load()
	}
	r := srvreport.Report{
		Server:                  prog,
		Model:                   "goroutine",
		ServerProcs:             int64(s.procs),
		Address:                 s.addr,
		Event:                   event,
		Backlog:                 s.backlog,
		FDLimit:                 s.fdLimit,
		UptimeS:                 time.Since(s.start).Seconds(),
		StartRSSKiB:             s.startRSS,
		StartPSSKiB:             s.startPSS,
		Goroutines:              goroutines,
		MaxConc:                 s.c.maxConc.Load(),
		Total:                   s.c.total.Load(),
		Now:                     s.c.now.Load(),
		BytesEchoed:             s.c.bytes.Load(),
		Resets:                  s.c.resets.Load(),
		AcceptErrors:            s.c.acceptErrors.Load(),
		MaxConns:                s.maxConns,
		OverCap:                 s.c.overCap.Load(),
		IdleTimeoutS:            int64(s.idle / time.Second),
		IdleTimeouts:            s.c.timeouts.Load(),
		RequestDelayUS:          int64(s.delay / time.Microsecond),
		RequestWorkUS:           int64(s.work / time.Microsecond),
		MaxWaiting:              s.c.maxWaiting.Load(),
		KernelStackStartKiB:     s.startKS,
		KernelStackPeakDeltaKiB: s.peakKS.Load() - s.startKS,
		SlabStartKiB:            s.startSlab,
		PageTablesStartKiB:      s.startPT,
		PSSSumPeakKiB:           s.peakPSS.Load(),
		PSSSampleMS:             s.pssEveryMS.Load(),
	}
	s.budgetFigures(&r)
	if err := r.FillSystem(s.workers.live()); err != nil {
		fmt.Fprintf(os.Stderr, "%s: report incomplete: %v\n", prog, err)
	}
	if s.workers != nil {
		s.raisePSS(r.PSSSumPeakKiB)
	}
	return r
}

// report prints the report to stdout and, with -j, rewrites the JSON file.
// It returns false if the JSON file could not be written.
func (s *server) report(event string) bool {
	reportMu.Lock()
	defer reportMu.Unlock()
	r := s.build(event)
	// JSON first: whoever has read the text must find this event's JSON,
	// not the previous one's.
	ok := s.writeJSON(r)
	os.Stdout.WriteString(r.Text())
	return ok
}

func (s *server) writeJSON(r srvreport.Report) bool {
	if s.jsonPath == "" {
		return true
	}
	if err := r.WriteJSONFile(s.jsonPath); err != nil {
		fmt.Fprintf(os.Stderr, "%s: writing JSON report: %v\n", prog, err)
		return false
	}
	return true
}
