// Command client is the kit's load generator and measurement instrument for
// TCP echo servers: it opens N concurrent connections, holds them all, and
// verifies every echoed byte while recording latency.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"tenkthreads/internal/clientreport"
)

const usageLine = "usage: client [-n N] [-host HOST:PORT] [-data STRING | -size BYTES] [-rounds R] [-duration D] [-warmup D] [-hold D] [-linger D [-notify FILE]] [-rate R] [-reconnect] [-idle N] [-connect-rate R] [-connect-timeout D] [-timeout D] [-source LIST] [-dialers N] [-procs P] [-engine eventloop|goroutine] [-loops N] [-start-at TIME] [-progress | -quiet] [-json FILE]\n       client merge [-json FILE] A.json B.json ..."

type config struct {
	N              int
	Host           string
	Data           string
	Size           int
	Rounds         int
	Duration       time.Duration
	Warmup         time.Duration
	Hold           time.Duration
	Linger         time.Duration
	Notify         string
	Rate           float64
	Reconnect      bool
	Idle           int
	ConnectRate    float64
	ConnectTimeout time.Duration
	Timeout        time.Duration
	Source         string
	Dialers        int
	StartAt        string
	Seed           uint64
	Progress       bool
	Quiet          bool
	JSON           string
	Procs          int
	Engine         string
	Loops          int
	childBarrier   bool

	startAt      time.Time
	showProgress bool
}

// flagHelp lists the flags for -h, one a line, without the internal ones
// (those have no usage text).
func flagHelp(fs *flag.FlagSet) string {
	var b strings.Builder
	fs.VisitAll(func(f *flag.Flag) {
		if f.Usage == "" {
			return
		}
		fmt.Fprintf(&b, "  -%-16s %s", f.Name, f.Usage)
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "0s" && f.DefValue != "false" {
			fmt.Fprintf(&b, " (default %q)", f.DefValue)
		}
		b.WriteString("\n")
	})
	return b.String()
}

// helpText is -h: the flags and their defaults, for stdout.
type helpText struct{ text string }

func (h *helpText) Error() string { return h.text }

// usageError is bad command-line input: exit 2 with the usage line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.IntVar(&c.N, "n", 100, "concurrent connections")
	fs.StringVar(&c.Host, "host", "localhost:1234", "server HOST:PORT")
	fs.StringVar(&c.Data, "data", "Hello, 10kthreads!\n", "payload sent on each round trip")
	fs.IntVar(&c.Size, "size", 0, "message size in bytes with a random payload (overrides -data)")
	fs.IntVar(&c.Rounds, "rounds", 1, "round trips per connection in lock-step (0 = unlimited, needs -duration)")
	fs.DurationVar(&c.Duration, "duration", 0, "run the round-trip phase for this long instead of a fixed -rounds")
	fs.DurationVar(&c.Warmup, "warmup", 0, "with -duration: leave the round trips completed in its first D out of the window figures, so they show the steady state")
	fs.DurationVar(&c.Hold, "hold", 0, "keep all connections open and idle this long before the round trips")
	fs.DurationVar(&c.Linger, "linger", 0, "after the round trips, keep every connection open up to this long; SIGUSR1 ends it at once (a runner takes its readings meanwhile)")
	fs.StringVar(&c.Notify, "notify", "", "with -linger: create FILE once every connection's round trips are done and the linger starts")
	fs.Float64Var(&c.Rate, "rate", 0, "open loop: messages per second in total over all connections (0 = closed loop)")
	fs.BoolVar(&c.Reconnect, "reconnect", false, "a new connection for every round trip")
	fs.IntVar(&c.Idle, "idle", 0, "extra connections opened first and kept open and idle for the whole run (keep-alive sockets), each verified with one echo at the end")
	fs.Float64Var(&c.ConnectRate, "connect-rate", 0, "connections per second during the ramp (0 = as fast as -dialers allow)")
	fs.DurationVar(&c.ConnectTimeout, "connect-timeout", 10*time.Second, "timeout of one connect")
	fs.DurationVar(&c.Timeout, "timeout", 10*time.Second, "timeout of one round trip (write and read of the echo)")
	fs.StringVar(&c.Source, "source", "", "source addresses: list of IPs or IPv4 ranges A-B; default for loopback IPv4 targets: 127.0.0.2-127.0.0.33; 'off' to let the kernel choose")
	fs.IntVar(&c.Dialers, "dialers", 256, "connects in flight at once during the ramp")
	fs.StringVar(&c.StartAt, "start-at", "", "wait until TIME (RFC3339 or unix seconds) before connecting")
	fs.Uint64Var(&c.Seed, "seed", 1, "seed of the random payload")
	fs.BoolVar(&c.Progress, "progress", false, "progress line on stderr every second (default when stderr is a terminal)")
	fs.BoolVar(&c.Quiet, "quiet", false, "no progress line")
	fs.StringVar(&c.JSON, "json", "", "also write the report as JSON to FILE")
	fs.IntVar(&c.Procs, "procs", 1, "spread -n over this many client processes (each with its own fd limit) and merge their reports")
	fs.StringVar(&c.Engine, "engine", engineEventLoop, "eventloop (epoll loops, each an OS thread with its own connections) or goroutine (a goroutine and net.Conn per connection)")
	fs.IntVar(&c.Loops, "loops", 0, "event loops per process with -engine eventloop (0 = one per CPU the process may run on)")
	// Internal: set on the child processes of -procs, which synchronise
	// their ramp with the parent over inherited pipes.
	fs.BoolVar(&c.childBarrier, "child-barrier", false, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, &helpText{flagHelp(fs)}
		}
		return nil, &usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return nil, &usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if c.Duration > 0 && !set["rounds"] {
		c.Rounds = 0
	}
	if set["loops"] && c.Engine == engineGoroutine {
		return nil, &usageError{"-loops: only -engine eventloop has event loops"}
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	c.showProgress = c.Progress || (!c.Quiet && isTerminal(os.Stderr))
	return c, nil
}

// check rejects flag values the run cannot use, naming the flag.
func (c *config) check() error {
	switch {
	case c.N < 1:
		return &usageError{fmt.Sprintf("-n %d: need at least 1 connection", c.N)}
	case c.Idle < 0:
		return &usageError{fmt.Sprintf("-idle %d: must not be negative", c.Idle)}
	case c.Size < 0:
		return &usageError{fmt.Sprintf("-size %d: must not be negative", c.Size)}
	case c.Size > maxSize:
		return &usageError{fmt.Sprintf("-size %d: at most %d (1 GiB)", c.Size, maxSize)}
	case c.Size == 0 && len(c.Data) == 0:
		return &usageError{"-data: empty payload (use -size for random bytes)"}
	case c.Rounds < 0:
		return &usageError{fmt.Sprintf("-rounds %d: must not be negative", c.Rounds)}
	case c.Rounds == 0 && c.Duration <= 0:
		return &usageError{"-rounds 0 (unlimited) needs -duration"}
	case c.Duration < 0 || c.Hold < 0 || c.Linger < 0:
		return &usageError{"-duration, -hold and -linger must not be negative"}
	case c.Notify != "" && c.Linger == 0:
		return &usageError{"-notify needs -linger: it marks the start of the linger"}
	case c.Warmup < 0 || c.Warmup > 0 && c.Warmup >= c.Duration:
		return &usageError{fmt.Sprintf("-warmup %v: needs -duration, and must be shorter than it", c.Warmup)}
	case c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0):
		return &usageError{fmt.Sprintf("-rate %v: must be a positive number", c.Rate)}
	case c.Rate > 0 && (float64(c.N)/c.Rate*1e9 < 1 || float64(c.N)/c.Rate*1e9 >= math.MaxInt64):
		return &usageError{fmt.Sprintf("-rate %v: each connection's send interval (-n / -rate) must be 1 ns to 292 years", c.Rate)}
	case c.ConnectRate < 0 || math.IsNaN(c.ConnectRate) || math.IsInf(c.ConnectRate, 0):
		return &usageError{fmt.Sprintf("-connect-rate %v: must be a positive number", c.ConnectRate)}
	case c.ConnectTimeout <= 0 || c.Timeout <= 0:
		return &usageError{"-connect-timeout and -timeout must be positive"}
	case c.Dialers < 1:
		return &usageError{fmt.Sprintf("-dialers %d: need at least 1", c.Dialers)}
	case c.Procs < 1 || c.Procs > c.N:
		return &usageError{fmt.Sprintf("-procs %d: need 1 to -n (%d) processes", c.Procs, c.N)}
	case c.Engine != engineEventLoop && c.Engine != engineGoroutine:
		return &usageError{fmt.Sprintf("-engine %q: want eventloop or goroutine", c.Engine)}
	case c.Loops < 0 || c.Loops > maxLoops:
		return &usageError{fmt.Sprintf("-loops %d: need 0 (one per CPU) to %d", c.Loops, maxLoops)}
	case c.Progress && c.Quiet:
		return &usageError{"-progress and -quiet contradict each other"}
	}
	if c.StartAt != "" {
		t, err := parseStartAt(c.StartAt)
		if err != nil {
			return &usageError{err.Error()}
		}
		c.startAt = t
	}
	return nil
}

// maxSize keeps the payload buffer (-size plus payloadSlack) allocatable;
// maxUnix is the year 10000, where RFC3339 ends too.
const (
	maxSize = 1 << 30
	maxUnix = 253402300800
)

func parseStartAt(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f > 0 && f < maxUnix {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)), nil
	}
	return time.Time{}, fmt.Errorf("-start-at %q: want RFC3339 (2026-01-02T15:04:05Z) or unix seconds", s)
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func main() {
	os.Exit(mainArgs(os.Args[1:], os.Stdout, os.Stderr))
}

// mainArgs is main without the process exit, so tests can drive it.
func mainArgs(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "merge" {
		return mergeMain(args[1:], stdout, stderr)
	}
	cfg, err := parseFlags(args, stderr)
	var help *helpText
	if errors.As(err, &help) {
		fmt.Fprintf(stdout, "%s\n%s", usageLine, help.text)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "client: %v\n%s\n", err, usageLine)
		return 2
	}
	var res *clientreport.Result
	if cfg.Procs > 1 {
		res, err = runProcs(cfg, args, stderr)
	} else {
		res, err = run(cfg, stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "client: %v\n", err)
		return 1
	}
	return finish(res, cfg.JSON, stdout, stderr)
}

// finish prints the report, writes JSON and derives the exit status.
func finish(res *clientreport.Result, jsonPath string, stdout, stderr io.Writer) int {
	res.WriteText(stdout)
	for _, w := range res.Warnings {
		fmt.Fprintf(stderr, "client: warning: %s\n", w)
	}
	if jsonPath != "" {
		if err := res.Write(jsonPath); err != nil {
			fmt.Fprintf(stderr, "client: %v\n", err)
			return 1
		}
	}
	if res.OK() {
		return 0
	}
	for _, l := range res.FailureLines() {
		fmt.Fprintf(stderr, "client: %s\n", l)
	}
	return 1
}
