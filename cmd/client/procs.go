package main

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"tenkthreads/internal/clientreport"
)

// Child processes get two barriers on inherited descriptors: each writes
// one byte on the first descriptor of a pair when it gets there and waits for
// EOF on the second, which the parent gives once every child has arrived.
// The first pair ends the ramp, the second the round trips, so no process
// starts sending, nor closing, before all N are connected and echoed.
const (
	childReadyFd, childGoFd       = 3, 4
	childWorkDoneFd, childCloseFd = 5, 6
)

func childBarrier(arriveFd, waitFd uintptr) {
	arrive := os.NewFile(arriveFd, "arrive")
	wait := os.NewFile(waitFd, "wait")
	_, _ = arrive.Write([]byte{1})
	arrive.Close()
	_, _ = io.Copy(io.Discard, wait)
	wait.Close()
}

// barrier is the parent's end of one cross-process barrier.
type barrier struct {
	arriveR, waitW []*os.File
}

// add makes the pipes of one child and returns the child's ends.
func (b *barrier) add() (arriveW, waitR *os.File, err error) {
	ar, aw, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	wr, ww, err := os.Pipe()
	if err != nil {
		ar.Close()
		aw.Close()
		return nil, nil, err
	}
	b.arriveR = append(b.arriveR, ar)
	b.waitW = append(b.waitW, ww)
	return aw, wr, nil
}

// await waits until every child arrived (or died: EOF) and releases all.
func (b *barrier) await() {
	for _, f := range b.arriveR {
		_, _ = f.Read(make([]byte, 1))
		f.Close()
	}
	b.arriveR = nil
	b.release()
}

func (b *barrier) release() {
	for _, f := range b.waitW {
		f.Close()
	}
	b.waitW = nil
}

// childArgs is the command line of child i: the parent's flags minus the
// ones the parent handles, with -n and the rates split by share.
func childArgs(args []string) []string {
	drop := map[string]bool{"procs": true, "json": true, "progress": true, "quiet": true, "n": true,
		"idle": true, "rate": true, "connect-rate": true, "start-at": true, "notify": true}
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name := strings.TrimLeft(a, "-")
		name, _, hasVal := strings.Cut(name, "=")
		if !strings.HasPrefix(a, "-") || !drop[name] {
			out = append(out, a)
			continue
		}
		if !hasVal && name != "progress" && name != "quiet" && i+1 < len(args) {
			i++ // the flag's value
		}
	}
	return out
}

// procChild is one client process of -procs and where it reports.
type procChild struct {
	cmd    *exec.Cmd
	json   string
	stderr bytes.Buffer
}

func runProcs(cfg *config, args []string, stderr io.Writer) (*clientreport.Result, error) {
	// Validate the whole run (ports, addresses) once, up front.
	if _, _, err := prepare(&config{N: 1, Host: cfg.Host, Source: cfg.Source, Size: 1, ConnectTimeout: time.Second}); err != nil {
		return nil, err
	}
	if room := portCapacity(cfg); int64(cfg.N+cfg.Idle) > room {
		return nil, fmt.Errorf("%s needs more source ports than the %d the source addresses allow; add addresses with -source", connsFlags(cfg), room)
	}
	// Children take terminal signals themselves and report what they
	// did; the parent stays alive to merge, forwarding a SIGTERM.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	if cfg.Linger > 0 {
		// SIGUSR1 ends the children's linger.
		signal.Notify(sig, syscall.SIGUSR1)
	}
	defer signal.Stop(sig)
	dir, err := os.MkdirTemp("", "client-procs-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	var ramp, work barrier
	defer ramp.release()
	defer work.release()
	children, err := startChildren(cfg, args, dir, &ramp, &work)
	if err != nil {
		return nil, err
	}
	if cfg.showProgress {
		fmt.Fprintf(stderr, "client: %d connections over %d processes, starting together\n", cfg.N, cfg.Procs)
	}
	go func() {
		for s := range sig {
			for _, c := range children {
				_ = c.cmd.Process.Signal(s)
			}
		}
	}()
	// A child that dies early gives EOF, so it cannot hold the others back.
	ramp.await()
	work.await()
	if cfg.Linger > 0 {
		notify(cfg.Notify, stderr)
	}
	return collect(cfg, children)
}

// startChildren starts the -procs client processes, each with its share
// of -n and of the rates, all starting their ramp at the same time.
func startChildren(cfg *config, args []string, dir string, ramp, work *barrier) ([]*procChild, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("-procs: cannot find my own executable: %v", err)
	}
	start := cfg.startAt
	if start.IsZero() {
		// Give every child time to start before the common start.
		start = time.Now().Add(300 * time.Millisecond)
	}
	var children []*procChild
	base := childArgs(args)
	for i := 0; i < cfg.Procs; i++ {
		n := share(cfg.N, cfg.Procs, i)
		part := float64(n) / float64(cfg.N)
		c := &procChild{json: filepath.Join(dir, fmt.Sprintf("p%d.json", i))}
		a := append([]string{}, base...)
		a = append(a, "-n", fmt.Sprint(n), "-quiet", "-json", c.json, "-child-barrier",
			"-start-at", fmt.Sprint(float64(start.UnixNano())/1e9))
		if idle := share(cfg.Idle, cfg.Procs, i); idle > 0 {
			a = append(a, "-idle", fmt.Sprint(idle))
		}
		if cfg.Rate > 0 {
			a = append(a, "-rate", fmt.Sprint(cfg.Rate*part))
		}
		if cfg.ConnectRate > 0 {
			a = append(a, "-connect-rate", fmt.Sprint(math.Max(cfg.ConnectRate*part, 1e-3)))
		}
		rw, rr, err := ramp.add()
		if err != nil {
			return children, err
		}
		ww, wr, err := work.add()
		if err != nil {
			return children, err
		}
		c.cmd = exec.Command(exe, a...)
		c.cmd.Stdout = io.Discard
		c.cmd.Stderr = &c.stderr
		c.cmd.ExtraFiles = []*os.File{rw, rr, ww, wr} // fds 3, 4, 5, 6
		err = c.cmd.Start()
		for _, f := range c.cmd.ExtraFiles {
			f.Close()
		}
		if err != nil {
			return children, fmt.Errorf("-procs: start child: %v", err)
		}
		children = append(children, c)
	}
	return children, nil
}

// share is process i's part of total spread over procs processes: the
// first total%procs processes take one more.
func share(total, procs, i int) int {
	n := total / procs
	if i < total%procs {
		n++
	}
	return n
}

// collect waits for every child and merges their reports.
func collect(cfg *config, children []*procChild) (*clientreport.Result, error) {
	var rs []*clientreport.Result
	var names []string
	for i, c := range children {
		err := c.cmd.Wait()
		r, rerr := clientreport.Read(c.json)
		if rerr != nil {
			return nil, fmt.Errorf("-procs: child %d failed (%v): %s", i, err, strings.TrimSpace(c.stderr.String()))
		}
		rs = append(rs, r)
		names = append(names, fmt.Sprintf("process %d", i))
	}
	m, err := clientreport.Merge(rs, names)
	if err != nil {
		return nil, err
	}
	m.MergedFrom = []string{}
	m.Config.Procs = cfg.Procs
	m.Config.Rate = cfg.Rate
	m.Config.ConnectRate = cfg.ConnectRate
	m.Config.StartAt = cfg.StartAt
	if len(rs[0].Config.Sources) > 0 {
		m.SourceDesc = fmt.Sprintf("%d source addresses", len(rs[0].Config.Sources))
	}
	return m, nil
}
