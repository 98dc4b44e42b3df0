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

	"tenkthreads/internal/srvreport"
)

const (
	prog  = "ref_async_server"
	usage = "usage: ref_async_server [-h] [-a addr] [-p port] [-j file]"

	// bufSize is the echo chunk. Buffers come from a pool and are held only
	// while a connection has data to move, so idle connections cost none.
	bufSize = 16 << 10

	// fdReserve is what the start line keeps back from the fd limit for
	// stdio, the listener, the epoll fd and the JSON report.
	fdReserve = 10
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// counters are updated from every connection goroutine, hence atomics.
type counters struct {
	now, maxConc, total, bytes, resets, acceptErrors atomic.Int64
}

func (c *counters) open() {
	c.total.Add(1)
	n := c.now.Add(1)
	for {
		m := c.maxConc.Load()
		if n <= m || c.maxConc.CompareAndSwap(m, n) {
			return
		}
	}
}

type server struct {
	ln       net.Listener
	addr     string
	backlog  int64
	fdLimit  int64
	start    time.Time
	startRSS int64
	startKS  int64
	jsonPath string
	c        counters
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func usageErr(format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "%s: %s\n%s\n", prog, fmt.Sprintf(format, args...), usage)
	return 2
}

func run(args []string) int {
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	// The flag package's own messages are multi-line; we print one line.
	fs.SetOutput(io.Discard)
	addrFlag := fs.String("a", "127.0.0.1", "listen address")
	portFlag := fs.String("p", "1234", "port, 0 = kernel picks")
	jsonFlag := fs.String("j", "", "also write the report as JSON to this file")
	help := fs.Bool("h", false, "print usage and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp()
			return 0
		}
		return usageErr("%s", flagProblem(err))
	}
	if *help {
		printHelp()
		return 0
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	port, err := strconv.Atoi(*portFlag)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return usageErr("-p %q: port must be a number 0..65535", *portFlag)
	}
	if err != nil || port < 0 || port > 65535 {
		return usageErr("-p %s: port out of range 0..65535", *portFlag)
	}
	host := strings.TrimSuffix(strings.TrimPrefix(*addrFlag, "["), "]")
	if host == "" {
		return usageErr("-a: empty address")
	}
	if *jsonFlag != "" {
		if st, err := os.Stat(*jsonFlag); err == nil && st.IsDir() {
			return usageErr("-j %s: is a directory", *jsonFlag)
		}
	}

	fdLimit := raiseFDLimit()
	startKS, _ := srvreport.ReadKernelStack()

	bindAddr := net.JoinHostPort(host, strconv.Itoa(port))
	// Like the C server: TCP_NODELAY (Go's default) and no keepalive probes,
	// so both servers put the same work on the kernel per connection.
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(context.Background(), "tcp", bindAddr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %s\n", prog, listenProblem(bindAddr, err))
		return 1
	}
	s := &server{
		ln:       ln,
		addr:     ln.Addr().String(),
		backlog:  somaxconn(),
		fdLimit:  fdLimit,
		start:    time.Now(),
		startKS:  startKS,
		jsonPath: *jsonFlag,
	}
	if ps, err := srvreport.ReadProcStatus(); err == nil {
		s.startRSS = ps.VmRSSKiB
	}
	// Before the start line: whoever reads it may signal us at once.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGUSR1)
	room := fdLimit - fdReserve
	// os.Stdout is unbuffered, so the start line is out before we accept.
	fmt.Printf("%s: listening on %s model goroutine, fd limit %d (room for ~%d connections)\n",
		prog, s.addr, fdLimit, room)

	go s.acceptLoop()
	for sig := range sigs {
		if sig == syscall.SIGUSR1 {
			s.report(srvreport.EventReport)
			continue
		}
		// Exit without closing connections: the report is the figure at the
		// moment of the signal, and the kernel closes the sockets for us.
		if !s.report(srvreport.EventExit) {
			return 1
		}
		return 0
	}
	return 0
}

func printHelp() {
	fmt.Println(usage)
	fmt.Println(`  -a ADDR   listen address (default 127.0.0.1; IPv6 literals such as ::1 work)
  -p PORT   listen port (default 1234; 0 lets the kernel pick, see the start line)
  -j FILE   also write the report as JSON (schema 10kthreads-server/1) to FILE
  -h        print this help and exit
SIGINT/SIGTERM print the report and exit 0; SIGUSR1 prints it and keeps serving.`)
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

// acceptLoop never gives up: on an error it backs off (5 ms doubling to 1 s,
// as net/http does) so that EMFILE/ENFILE, which leave the listener readable,
// cannot turn into a busy loop.
func (s *server) acceptLoop() {
	var delay time.Duration
	for {
		conn, err := s.ln.Accept()
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
		s.c.open()
		go s.echo(conn.(*net.TCPConn))
	}
}

// echo copies every byte back until the peer's EOF, then closes. It waits for
// data through RawConn.Read with no buffer attached, and takes a buffer from
// the pool only when a read will return data: an idle connection then costs
// only its goroutine and socket, not a 16 KiB buffer each.
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
	var (
		bp   *[]byte
		n    int
		rerr error
	)
	defer func() {
		if bp != nil {
			bufPool.Put(bp)
		}
	}()
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
			return false
		}
		return true
	}
	for {
		if err := rc.Read(readable); err != nil {
			return
		}
		if rerr != nil {
			s.countReset(rerr)
			return
		}
		if n == 0 { // EOF: everything read so far has been written back
			return
		}
		// Write blocks (in the netpoller) until all n bytes are out, so
		// short writes are handled here.
		if _, err := conn.Write((*bp)[:n]); err != nil {
			s.countReset(err)
			return
		}
		s.c.bytes.Add(int64(n))
	}
}

func (s *server) countReset(err error) {
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		s.c.resets.Add(1)
	}
}

var reportMu sync.Mutex

// report prints the report to stdout and, with -j, rewrites the JSON file.
// It returns false if the JSON file could not be written.
func (s *server) report(event string) bool {
	reportMu.Lock()
	defer reportMu.Unlock()
	r := srvreport.Report{
		Server:              prog,
		Model:               "goroutine",
		Address:             s.addr,
		Event:               event,
		Backlog:             s.backlog,
		FDLimit:             s.fdLimit,
		UptimeS:             time.Since(s.start).Seconds(),
		StartRSSKiB:         s.startRSS,
		Goroutines:          int64(runtime.NumGoroutine()),
		MaxConc:             s.c.maxConc.Load(),
		Total:               s.c.total.Load(),
		Now:                 s.c.now.Load(),
		BytesEchoed:         s.c.bytes.Load(),
		Resets:              s.c.resets.Load(),
		AcceptErrors:        s.c.acceptErrors.Load(),
		KernelStackStartKiB: s.startKS,
	}
	if err := r.FillSystem(); err != nil {
		fmt.Fprintf(os.Stderr, "%s: report incomplete: %v\n", prog, err)
	}
	os.Stdout.WriteString(r.Text())
	if s.jsonPath == "" {
		return true
	}
	if err := r.WriteJSONFile(s.jsonPath); err != nil {
		fmt.Fprintf(os.Stderr, "%s: writing JSON report: %v\n", prog, err)
		return false
	}
	return true
}
