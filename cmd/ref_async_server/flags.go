package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

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
