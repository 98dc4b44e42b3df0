// Command testhosts (make testhosts) builds test hosts out of network
// namespaces on this machine (internal/testhosts), checks them over real
// ssh from the control host (internal/remote): every host answers, its
// environment and clock skew are read, bin/10kthreads on the server host
// echoes bin/client's messages from every client host, all verified, and
// the connections of a client whose link goes down for a while survive
// it. It prints what it built and how long each part took, and tears
// everything down, also on failure and on SIGINT. It needs root.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"tenkthreads/internal/remote"
	"tenkthreads/internal/testhosts"
)

const usage = "usage: testhosts [-clients N] [-conns N] [-rounds R] [-mbit RATE] [-htb] [-delay D] [-loss PCT] [-experiment=false] [-fault=false] [-bin DIR] [-out DIR]"

// config is the command line.
type config struct {
	clients, conns, rounds int
	shaping                testhosts.Shaping
	fault, experiment      bool
	bin, out               string
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// parse reads the command line; a bad one is an error to print with the
// usage line.
func parse(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("testhosts", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.IntVar(&c.clients, "clients", 2, "client hosts (2 to 200)")
	fs.IntVar(&c.conns, "conns", 100, "connections from each client host")
	fs.IntVar(&c.rounds, "rounds", 10, "round trips per connection")
	fs.Float64Var(&c.shaping.RateMbit, "mbit", 1000, "rate limit of each link, each way, in Mbit/s (tbf); 0 for none")
	fs.DurationVar(&c.shaping.Delay, "delay", time.Millisecond, "delay of each link, each way (netem, where the kernel has it)")
	fs.Float64Var(&c.shaping.LossPct, "loss", 0, "loss of each link, each way, in percent (netem)")
	fs.BoolVar(&c.shaping.HTB, "htb", false, "shape the rate with htb instead of tbf")
	fs.BoolVar(&c.fault, "fault", true, "also take a client's link down during a hold: a short outage its connections survive, and a long one that the server's idle sweep ends them in")
	fs.BoolVar(&c.experiment, "experiment", true, "also run a quick bin/experiment from the control host across the hosts over ssh and check its results")
	fs.StringVar(&c.bin, "bin", "bin", "directory of the kit's binaries")
	fs.StringVar(&c.out, "out", "results", "directory under which the experiment writes its results directory")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case fs.NArg() > 0:
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case c.clients < 2 || c.clients > 200:
		return c, fmt.Errorf("-clients %d: want 2 to 200", c.clients)
	case c.conns < 1 || c.conns > 10000:
		return c, fmt.Errorf("-conns %d: want 1 to 10000", c.conns)
	case c.rounds < 1:
		return c, fmt.Errorf("-rounds %d: want at least 1", c.rounds)
	case c.shaping.RateMbit < 0 || c.shaping.Delay < 0 || c.shaping.LossPct < 0 || c.shaping.LossPct > 100:
		return c, errors.New("-mbit, -delay and -loss cannot be negative, nor -loss over 100")
	}
	return c, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "testhosts: %v\n%s\n", err, usage)
		return 2
	}
	for _, b := range []string{"10kthreads", "client", "experiment", "ref_async_server", remote.ProbeName} {
		if _, err := os.Stat(cfg.bin + "/" + b); err != nil {
			fmt.Fprintf(stderr, "testhosts: %s/%s missing: run make first\n", cfg.bin, b)
			return 1
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r := &runner{cfg: cfg, out: stdout, start: time.Now()}
	err = r.all(ctx)
	if ctx.Err() != nil {
		if r.teardownErr != nil {
			fmt.Fprintf(stderr, "testhosts: interrupted; tearing down: %v\n", r.teardownErr)
		} else {
			fmt.Fprintln(stderr, "testhosts: interrupted; everything it made was torn down")
		}
		return 130
	}
	if err != nil {
		fmt.Fprintf(stderr, "testhosts: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "testhosts: all checks passed in %s (%s)\n", secs(time.Since(r.start)), strings.Join(r.times, ", "))
	return 0
}

// runner is one run: the hosts, the ssh session, and how long each part took.
type runner struct {
	cfg   config
	out   io.Writer
	lab   *testhosts.Lab
	ssh   *remote.Session
	start time.Time
	times []string // "build 0.9 s", ...

	teardownErr error

	mu           sync.Mutex
	conns, bytes int64 // what the clients made and sent, for the server's report
}

// timed runs one part and records how long it took.
func (r *runner) timed(name string, part func() error) error {
	t := time.Now()
	err := part()
	r.times = append(r.times, name+" "+secs(time.Since(t)))
	return err
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

// all builds, checks and tears down; teardown happens whatever else does.
func (r *runner) all(ctx context.Context) (err error) {
	defer func() {
		r.teardownErr = r.timed("teardown", r.teardown)
		err = errors.Join(err, r.teardownErr)
	}()
	if err := r.timed("build", func() error { return r.build(ctx) }); err != nil {
		return err
	}
	if err := r.timed("ssh", func() error { return r.sshCheck(ctx) }); err != nil {
		return err
	}
	server, err := r.startServer(ctx)
	if err != nil {
		return err
	}
	if err := r.timed("echo", func() error { return r.echoCheck(ctx, server) }); err != nil {
		return err
	}
	if r.cfg.fault {
		if err := r.timed("fault", func() error { return r.faultCheck(ctx) }); err != nil {
			return err
		}
	}
	if err := r.stopServer(ctx, server); err != nil {
		return err
	}
	if r.cfg.fault {
		if err := r.timed("loss", func() error { return r.lossCheck(ctx) }); err != nil {
			return err
		}
	}
	if r.cfg.experiment {
		return r.timed("experiment", func() error { return r.experimentCheck(ctx) })
	}
	return nil
}

func (r *runner) build(ctx context.Context) error {
	lab, err := testhosts.Build(ctx, testhosts.Config{Clients: r.cfg.clients, Shaping: r.cfg.shaping, Log: r.out})
	if err != nil {
		return err
	}
	r.lab = lab
	r.printHosts()
	return nil
}

// printHosts says what was built.
func (r *runner) printHosts() {
	l := r.lab
	fmt.Fprintf(r.out, "testhosts: %d hosts, run %s, files in %s\n", len(l.Hosts), l.ID, l.Dir)
	fmt.Fprintf(r.out, "  %-9s %-30s %-13s %-12s %s\n", "host", "namespace", "address", "link", "sshd")
	for _, h := range l.Hosts {
		sshd := "- (ssh runs from here)"
		if h != l.Control() {
			sshd = fmt.Sprintf("%s:22", h.Addr)
		}
		fmt.Fprintf(r.out, "  %-9s %-30s %-13s %-12s %s\n", h.Name, h.NS, h.Addr, h.Link(), sshd)
	}
	fmt.Fprintf(r.out, "  links     each host's eth0 to br0 in %s; shaping each way: %s\n", l.BridgeNS, l.Shaping)
	for _, n := range l.Notes {
		fmt.Fprintf(r.out, "  note      %s\n", n)
	}
}

func (r *runner) teardown() error {
	var errs []error
	if r.ssh != nil {
		errs = append(errs, r.ssh.Close())
	}
	if r.lab != nil {
		err := r.lab.Close()
		if err == nil && errors.Join(errs...) == nil {
			fmt.Fprintf(r.out, "testhosts: torn down: the processes and directories of the run on the hosts, every sshd, namespace, link and the bridge, and %s\n", r.lab.Dir)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
