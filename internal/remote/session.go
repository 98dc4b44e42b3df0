// Package remote runs the kit on other hosts over the system's OpenSSH
// client: it reaches each host with ssh (BatchMode, a connect timeout,
// the user's own ssh configuration, keys and agent), checks that the
// local build can run there, copies the kit's binaries into a temporary
// directory of the run, starts and signals processes, fetches their
// reports, reads each host's environment and measures clock skew.
//
// Everything a Session starts or makes on a host is recorded, and Close
// removes it all: every process group it started and every directory.
// The caller calls Close when the run ends, fails or is interrupted. A
// remote process does not hang on its ssh connection (a ^C that kills
// the local ssh processes, or a lost link, leaves it running, its exit
// status still recorded), so Close, run after an interrupt with contexts
// of its own, is what ends it.
//
// Every remote command is a POSIX sh script given its arguments as $1...,
// so the login shell on the host only has to run one `sh -c` line;
// anything the login shell's startup files print on stdout would corrupt
// the replies (as it does scp's).
//
// A run goes:
//
//	s, err := remote.Open(ctx, opts, targets) // every host reached, or an error naming those that are not
//	defer s.Close()
//	h := s.Hosts()[0]
//	err = h.Install(ctx, "bin/10kthreads", "bin/hostprobe") // refused if the build does not fit the host
//	p, err := h.Start(ctx, remote.Spec{Argv: []string{h.Bin("10kthreads"), "-a", addr}, CPUs: "0"})
//	...
//	err = p.Signal(ctx, syscall.SIGINT)
//	exit, err := p.Wait(ctx, 30*time.Second)
//	stdout, stderr, err := p.Output(ctx)
package remote

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Session is a set of hosts reached over ssh for one run.
type Session struct {
	opts  Options
	hosts []*Host
}

// Host is one host of a session.
type Host struct {
	Target
	Name  string // as the user wrote it, for messages
	Facts Facts  // what it runs, probed when the session opened

	s     *Session
	mu    sync.Mutex
	dir   string     // the run's directory there, once made
	bins  []string   // the binaries installed there
	procs []*Process // every process started there
	seq   int
}

// Open reaches every target and probes what it runs, all at once. A host
// that cannot be reached fails the whole Open, naming every such host
// and ssh's reason.
func Open(ctx context.Context, opts Options, targets []Target) (*Session, error) {
	if len(targets) == 0 {
		return nil, errors.New("remote: no hosts")
	}
	s := &Session{opts: opts}
	for _, t := range targets {
		s.hosts = append(s.hosts, &Host{Target: t, Name: t.String(), s: s})
	}
	errs := make([]error, len(s.hosts))
	var wg sync.WaitGroup
	for i, h := range s.hosts {
		wg.Go(func() { h.Facts, errs[i] = h.probe(ctx) })
	}
	wg.Wait()
	var failed []string
	for _, err := range errs {
		if err != nil {
			failed = append(failed, err.Error())
		}
	}
	if len(failed) > 0 {
		return nil, fmt.Errorf("remote: %d of %d hosts failed: %s", len(failed), len(s.hosts), strings.Join(failed, "; "))
	}
	return s, nil
}

// Hosts are the session's hosts, in the order given.
func (s *Session) Hosts() []*Host { return s.hosts }

// Close kills every process group the session started that still runs,
// removes every directory it made, and stops the local ssh processes,
// on all hosts at once. It is bounded in time, works after the caller's
// context has ended, and may be called more than once.
func (s *Session) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*s.opts.timeout()+20*time.Second)
	defer cancel()
	errs := make([]error, len(s.hosts))
	var wg sync.WaitGroup
	for i, h := range s.hosts {
		wg.Go(func() { errs[i] = h.cleanup(ctx) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remote: cleanup: %w", err)
	}
	return nil
}

// cleanupScript kills the process group of every process started in the
// run's directory ($1) that has no status file yet (still runs), waits
// for their status to be written, and removes the directory. It goes by
// the pid files in the directory, not by what this side recorded, so a
// process whose start was cut short is found too.
const cleanupScript = `dir=$1
for f in "$dir"/*.pid; do
	[ -e "$f" ] || continue
	[ -e "${f%.pid}.status" ] || kill -s KILL -- "-$(cat "$f")" 2>/dev/null
done
for f in "$dir"/*.pid; do
	i=0
	while [ -e "$f" ] && [ ! -e "${f%.pid}.status" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
done
rm -rf -- "$dir"
! [ -e "$dir" ]`

// cleanup undoes what the session did on host h.
func (h *Host) cleanup(ctx context.Context) error {
	h.mu.Lock()
	dir, procs := h.dir, h.procs
	h.dir, h.procs, h.bins = "", nil, nil
	h.mu.Unlock()
	var errs []error
	if dir != "" {
		_, err := h.run(ctx, "cleanup", cleanupScript, nil, dir)
		errs = append(errs, err)
	}
	for _, p := range procs {
		errs = append(errs, p.stopLocal())
	}
	return errors.Join(errs...)
}

// Run runs argv on the host to completion (in the run's directory once
// there is one) and returns its stdout. A failure says what ssh or the
// command wrote last on stderr.
func (h *Host) Run(ctx context.Context, argv ...string) ([]byte, error) {
	if len(argv) == 0 {
		return nil, errors.New("remote: Run: no command")
	}
	script := `exec "$@"`
	if dir := h.runDir(); dir != "" {
		script = `cd "$1" && shift && exec "$@"`
		argv = append([]string{dir}, argv...)
	}
	return h.run(ctx, strings.Join(argv, " "), script, nil, argv...)
}

func (h *Host) runDir() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.dir
}
